//! Searching one position with an evaluator called directly (no queue):
//! D determinized trees x S simulations, visit counts summed over trees.
//! Used for play, evaluation, tests and benchmarks; self-play at scale goes
//! through the driver and the leaf queue instead.

use blob_core::game::GameContext;
use blob_core::observation::{OBS_SIZE, encode_observation};
use blob_core::rng::mix_seed;
use blob_core::{MAX_PLAYERS, NUM_ACTIONS, Rng, Round};

use crate::evaluator::{Evaluator, LeafBatch};
use crate::inference::sample_worlds;
use crate::params::SearchParams;
use crate::tree::{Selection, Tree, Values};

/// How the hidden hands are treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Information {
    /// The searching seat knows only its own hand: every tree searches a
    /// fresh determinization (PIMC). The normal mode.
    Imperfect,
    /// Every hand is known (endgame tests): all trees search the true state.
    Perfect,
}

/// The result of searching one position.
#[derive(Clone, Debug)]
pub struct SearchOutcome {
    /// Root visit counts summed over trees, indexed by action.
    pub visits: [f32; NUM_ACTIONS],
    /// Root priors summed over trees, indexed by action: how a greedy
    /// choice breaks ties in `visits`.
    pub root_prior: [f32; NUM_ACTIONS],
    /// Mean root value by absolute seat, averaged over trees.
    pub root_value: Values,
    /// Simulations run (sum of root visits over trees).
    pub simulations: u32,
    /// Leaves sent to the evaluator.
    pub evaluations: u32,
    /// Gumbel search only: the completed-Q improved policy (mean over
    /// trees), the policy target to record instead of the visit counts.
    pub improved_policy: Option<[f32; NUM_ACTIONS]>,
    /// Gumbel search only: the action the search chose (see
    /// [`crate::gumbel`]), played instead of the most visited one.
    pub gumbel_action: Option<usize>,
}

impl SearchOutcome {
    /// The policy target: visit counts normalized to a distribution over
    /// the actions, or Gumbel search's improved policy.
    pub fn policy(&self) -> [f32; NUM_ACTIONS] {
        match &self.improved_policy {
            Some(p) => *p,
            None => normalized(&self.visits),
        }
    }
    /// The action to play greedily: the most visited one (the higher
    /// prior on ties), or Gumbel search's choice.
    pub fn best_action(&self) -> usize {
        self.gumbel_action
            .unwrap_or_else(|| most_visited(&self.visits, &self.root_prior))
    }
}

pub(crate) fn normalized(visits: &[f32; NUM_ACTIONS]) -> [f32; NUM_ACTIONS] {
    let sum: f32 = visits.iter().sum();
    let mut out = [0.0; NUM_ACTIONS];
    if sum > 0.0 {
        for (o, v) in out.iter_mut().zip(visits) {
            *o = v / sum;
        }
    }
    out
}

pub(crate) fn argmax(visits: &[f32; NUM_ACTIONS]) -> usize {
    most_visited(visits, &[0.0; NUM_ACTIONS])
}

/// The most visited action; ties go to the higher `tiebreak` (the root
/// prior), then to the lowest id. Without the prior, a small budget spread
/// one visit per child (virtual loss sends a tree's first pending leaves to
/// different children) would always pick the lowest id: bid 0, or the
/// lowest card.
pub fn most_visited(visits: &[f32; NUM_ACTIONS], tiebreak: &[f32; NUM_ACTIONS]) -> usize {
    let mut best = 0;
    for a in 1..NUM_ACTIONS {
        if (visits[a], tiebreak[a]) > (visits[best], tiebreak[best]) {
            best = a;
        }
    }
    best
}

/// Picks a move from visit counts: proportional to visits^(1/temperature),
/// or greedily ([`most_visited`], ties by `tiebreak`) when temperature is 0.
pub fn choose_action(
    visits: &[f32; NUM_ACTIONS],
    tiebreak: &[f32; NUM_ACTIONS],
    temperature: f32,
    rng: &mut Rng,
) -> usize {
    if temperature <= 0.0 {
        return most_visited(visits, tiebreak);
    }
    let max = visits.iter().cloned().fold(0.0f32, f32::max);
    if max <= 0.0 {
        return most_visited(visits, tiebreak);
    }
    let mut weights = [0.0f64; NUM_ACTIONS];
    let mut total = 0.0;
    for (w, &v) in weights.iter_mut().zip(visits) {
        if v > 0.0 {
            *w = ((v / max) as f64).powf(1.0 / temperature as f64);
            total += *w;
        }
    }
    let mut pick = rng.unit_f64() * total;
    for (a, &w) in weights.iter().enumerate() {
        if w > 0.0 {
            if pick < w {
                return a;
            }
            pick -= w;
        }
    }
    most_visited(visits, tiebreak)
}

/// Reusable search state: trees and batch buffers keep their memory from
/// one search to the next.
#[derive(Debug, Default)]
pub struct Searcher {
    trees: Vec<Tree>,
    /// The decision's sampled worlds, one per tree.
    roots: Vec<Round>,
    leaves: Vec<(usize, u32)>,
    states: Vec<Round>,
    observers: Vec<u8>,
    obs: Vec<f32>,
    masks: Vec<bool>,
    policy: Vec<f32>,
    values: Vec<f32>,
}

impl Searcher {
    pub fn new() -> Searcher {
        Searcher::default()
    }

    /// Searches the decision of the player to move in `round`, which must
    /// not be over. Root noise is added when `params.dirichlet_fraction > 0`.
    /// Panics on a hand-built round that no deal is consistent with (see
    /// [`blob_core::determinize::determinize`]); rounds reached by legal play always have one.
    pub fn search(
        &mut self,
        round: &Round,
        params: &SearchParams,
        info: Information,
        context: Option<&GameContext>,
        evaluator: &mut dyn Evaluator,
        rng: &mut Rng,
    ) -> SearchOutcome {
        let observer = round.current_player().unwrap_or(0);
        let legal = round.legal_actions();
        if legal.len() <= 1 {
            // A forced move (or a finished round) needs no search; searching
            // would skip ahead to the next real decision.
            let mut visits = [0.0; NUM_ACTIONS];
            if let Some(a) = legal.iter().next() {
                visits[a] = 1.0;
            }
            return SearchOutcome {
                visits,
                root_prior: visits,
                root_value: [0.0; MAX_PLAYERS],
                simulations: 0,
                evaluations: 0,
                improved_policy: None,
                gumbel_action: None,
            };
        }
        let d = params.determinizations as usize;
        self.trees.truncate(d);
        self.roots.clear();
        match info {
            // A round reached by legal play always has a consistent deal
            // (its own); only a hand-built inconsistent one fails.
            Information::Imperfect => {
                sample_worlds(round, observer, &params.inference, d, rng, &mut self.roots)
                    .expect("the round to search is consistent with its own deal")
            }
            Information::Perfect => self.roots.resize(d, *round),
        }
        for (t, &root) in self.roots.iter().enumerate() {
            match self.trees.get_mut(t) {
                Some(tree) => tree.reset(root),
                None => self.trees.push(Tree::new(root)),
            }
        }
        // Gumbel search: one noise vector for the decision, shared by the
        // trees; it replaces the Dirichlet noise.
        let gumbel_noise = params
            .gumbel
            .map(|g| crate::gumbel::sample_gumbel(rng, legal, g.gumbel_scale));
        if let Some(noise) = &gumbel_noise {
            self.trees.iter_mut().for_each(|t| t.set_root_gumbel(noise));
        }
        let mut noised = vec![gumbel_noise.is_some(); d];
        let mut evaluations = 0;
        loop {
            self.leaves.clear();
            for (t, tree) in self.trees.iter_mut().enumerate() {
                while tree.pending() < params.max_pending_per_tree
                    && tree.root_visits() + tree.pending() < params.simulations
                {
                    match tree.select(params) {
                        Selection::Leaf { node, state } => {
                            self.leaves.push((t, node));
                            self.states.push(state);
                            self.observers.push(observer as u8);
                        }
                        Selection::Terminal => {}
                        Selection::Collision => break,
                    }
                }
            }
            if self.leaves.is_empty() {
                break;
            }
            self.evaluate(context, evaluator);
            evaluations += self.leaves.len() as u32;
            for (i, &(t, node)) in self.leaves.iter().enumerate() {
                let tree = &mut self.trees[t];
                tree.expand(
                    node,
                    &self.policy[i * NUM_ACTIONS..(i + 1) * NUM_ACTIONS],
                    &self.values[i * MAX_PLAYERS..(i + 1) * MAX_PLAYERS],
                );
                if node == crate::tree::ROOT && !noised[t] {
                    noised[t] = true;
                    tree.add_root_noise(rng, params.dirichlet_alpha, params.dirichlet_fraction);
                }
            }
        }
        let mut outcome = SearchOutcome {
            visits: [0.0; NUM_ACTIONS],
            root_prior: [0.0; NUM_ACTIONS],
            root_value: [0.0; MAX_PLAYERS],
            simulations: 0,
            evaluations,
            improved_policy: None,
            gumbel_action: None,
        };
        if let (Some(g), Some(noise)) = (&params.gumbel, &gumbel_noise)
            && let Some((action, policy)) = crate::gumbel::decide(&self.trees, noise, g)
        {
            outcome.gumbel_action = Some(action);
            outcome.improved_policy = Some(policy);
        }
        for tree in &self.trees {
            tree.add_root_visits(&mut outcome.visits);
            tree.add_root_priors(&mut outcome.root_prior);
            outcome.simulations += tree.root_visits();
            for (acc, v) in outcome.root_value.iter_mut().zip(tree.root_value()) {
                *acc += v / d as f32;
            }
        }
        outcome
    }

    /// Encodes the collected leaves and runs the evaluator on them.
    fn evaluate(&mut self, context: Option<&GameContext>, evaluator: &mut dyn Evaluator) {
        let n = self.leaves.len();
        self.obs.resize(n * OBS_SIZE, 0.0);
        self.masks.resize(n * NUM_ACTIONS, false);
        self.policy.resize(n * NUM_ACTIONS, 0.0);
        self.values.resize(n * MAX_PLAYERS, 0.0);
        for (i, state) in self.states.iter().enumerate() {
            let seat = self.observers[i] as usize;
            let row: &mut [f32; OBS_SIZE] = (&mut self.obs[i * OBS_SIZE..(i + 1) * OBS_SIZE])
                .try_into()
                .expect("row has OBS_SIZE entries");
            encode_observation(state, seat, context, row);
            let legal = state.legal_actions();
            for (a, m) in self.masks[i * NUM_ACTIONS..(i + 1) * NUM_ACTIONS]
                .iter_mut()
                .enumerate()
            {
                *m = legal.contains(a);
            }
        }
        let batch = LeafBatch {
            states: &self.states,
            observers: &self.observers,
            obs: &self.obs,
            masks: &self.masks,
        };
        evaluator.evaluate(&batch, &mut self.policy, &mut self.values);
        self.states.clear();
        self.observers.clear();
    }
}

/// Searches one position with `threads` threads: the determinizations are
/// split across a rayon pool, each part with its own evaluator from
/// `make_evaluator` and its own seed, and the visit counts are summed.
/// Gumbel search: each part draws its own Gumbel noise; the improved
/// policies are averaged (weighted by determinizations) and the action is,
/// among the parts' choices, the one the averaged policy ranks highest.
pub fn search_parallel<E, F>(
    round: &Round,
    params: &SearchParams,
    context: Option<&GameContext>,
    make_evaluator: F,
    seed: u64,
    pool: &rayon::ThreadPool,
) -> SearchOutcome
where
    E: Evaluator,
    F: Fn(u64) -> E + Sync,
{
    let d = params.determinizations;
    let parts = (pool.current_num_threads() as u32).clamp(1, d);
    let outcomes: Vec<SearchOutcome> = pool.install(|| {
        use rayon::prelude::*;
        (0..parts)
            .into_par_iter()
            .map(|part| {
                let mut sub = params.clone();
                sub.determinizations = d / parts + u32::from(part < d % parts);
                let part_seed = mix_seed(&[seed, part as u64]);
                let mut evaluator = make_evaluator(part_seed);
                let mut rng = Rng::new(part_seed);
                Searcher::new().search(
                    round,
                    &sub,
                    Information::Imperfect,
                    context,
                    &mut evaluator,
                    &mut rng,
                )
            })
            .collect()
    });
    let mut total = SearchOutcome {
        visits: [0.0; NUM_ACTIONS],
        root_prior: [0.0; NUM_ACTIONS],
        root_value: [0.0; MAX_PLAYERS],
        simulations: 0,
        evaluations: 0,
        improved_policy: None,
        gumbel_action: None,
    };
    for o in &outcomes {
        for (acc, v) in total.visits.iter_mut().zip(o.visits) {
            *acc += v;
        }
        for (acc, p) in total.root_prior.iter_mut().zip(o.root_prior) {
            *acc += p;
        }
        let weight = o.simulations as f32 / params.simulations as f32 / d as f32;
        for (acc, v) in total.root_value.iter_mut().zip(o.root_value) {
            *acc += v * weight;
        }
        total.simulations += o.simulations;
        total.evaluations += o.evaluations;
        if let Some(p) = &o.improved_policy {
            let share = o.simulations as f32 / params.simulations as f32 / d as f32;
            let acc = total.improved_policy.get_or_insert([0.0; NUM_ACTIONS]);
            for (a, v) in acc.iter_mut().zip(p) {
                *a += v * share;
            }
        }
    }
    if let Some(policy) = &total.improved_policy {
        total.gumbel_action = outcomes
            .iter()
            .filter_map(|o| o.gumbel_action)
            .max_by(|&a, &b| policy[a].total_cmp(&policy[b]).then(b.cmp(&a)));
    }
    total
}
