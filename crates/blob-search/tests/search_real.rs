//! The search is real: with an informative evaluator the tree grows below
//! the root, the root policy moves away from the (uniform) prior, and more
//! simulations put more visits on a clearly best move. Its bookkeeping holds
//! on random positions: no virtual loss left behind, root visits equal to
//! the simulations (also when every path ends in a terminal before the
//! budget is spent), one evaluation per expanded leaf.
//!
//! Some tests drive a [`Tree`] directly with the same loop as
//! [`Searcher::search`] so that they can look inside it; the others go
//! through [`Searcher`] itself.

use blob_core::observation::{OBS_SIZE, encode_observation};
use blob_core::{BID_OFFSET, MAX_PLAYERS, NUM_ACTIONS, Phase, Rng, Round, Suit};
use blob_search::heuristic::{HeuristicEvaluator, heuristic_action};
use blob_search::solver::action_values;
use blob_search::tree::{NodeStatus, Selection, advance_forced};
use blob_search::{
    Evaluator, Information, LeafBatch, RolloutEvaluator, SearchParams, Searcher, Tree,
};
use proptest::prelude::*;

// ---- helpers ---------------------------------------------------------------

/// Wraps an evaluator: counts the leaves it is asked about and checks each
/// one (a real decision of the seat to move, a mask matching the legal
/// actions).
struct Counting<E> {
    inner: E,
    rows: u64,
}

impl<E> Counting<E> {
    fn new(inner: E) -> Counting<E> {
        Counting { inner, rows: 0 }
    }
}

impl<E: Evaluator> Evaluator for Counting<E> {
    fn evaluate(&mut self, batch: &LeafBatch<'_>, policy: &mut [f32], values: &mut [f32]) {
        for (i, state) in batch.states.iter().enumerate() {
            assert!(!state.is_over(), "a finished round was sent for evaluation");
            let legal = state.legal_actions();
            assert!(legal.len() >= 2, "tree nodes stand only at real choices");
            let mask = &batch.masks[i * NUM_ACTIONS..(i + 1) * NUM_ACTIONS];
            for (a, &m) in mask.iter().enumerate() {
                assert_eq!(m, legal.contains(a), "mask of action {a}");
            }
        }
        self.rows += batch.len() as u64;
        self.inner.evaluate(batch, policy, values);
        for v in &values[..batch.len() * MAX_PLAYERS] {
            assert!((0.0..=1.0).contains(v), "value {v} out of range");
        }
    }
}

/// Runs an evaluator on states the way the searcher does (observations and
/// masks filled in).
fn evaluate_states(evaluator: &mut dyn Evaluator, states: &[Round]) -> (Vec<f32>, Vec<f32>) {
    let n = states.len();
    let mut obs = vec![0.0; n * OBS_SIZE];
    let mut masks = vec![false; n * NUM_ACTIONS];
    let observers: Vec<u8> = states
        .iter()
        .map(|s| s.current_player().expect("not over") as u8)
        .collect();
    for (i, s) in states.iter().enumerate() {
        let seat = observers[i] as usize;
        let row: &mut [f32; OBS_SIZE] = (&mut obs[i * OBS_SIZE..(i + 1) * OBS_SIZE])
            .try_into()
            .unwrap();
        encode_observation(s, seat, None, row);
        for a in s.legal_actions().iter() {
            masks[i * NUM_ACTIONS + a] = true;
        }
    }
    let mut policy = vec![0.0; n * NUM_ACTIONS];
    let mut values = vec![0.0; n * MAX_PLAYERS];
    let batch = LeafBatch {
        states,
        observers: &observers,
        obs: &obs,
        masks: &masks,
    };
    evaluator.evaluate(&batch, &mut policy, &mut values);
    (policy, values)
}

/// Every action of a round so far, in order: the bids from the left of the
/// dealer, then the cards.
fn history(r: &Round) -> Vec<usize> {
    let p = r.num_players();
    let mut out: Vec<usize> = (0..r.bids_made())
        .map(|i| BID_OFFSET + r.bid((r.dealer() + 1 + i) % p).unwrap())
        .collect();
    out.extend(r.plays().iter().map(|(_, c)| c.index() as usize));
    out
}

/// The depth of a leaf in its tree: the number of real choices (positions
/// with two or more legal actions) on the way from the root state to it.
fn choice_depth(root: &Round, leaf: &Round) -> usize {
    let from = history(root).len();
    let mut state = *root;
    let mut depth = 0;
    for &a in &history(leaf)[from..] {
        depth += usize::from(state.legal_actions().len() >= 2);
        state.apply(a).expect("the leaf descends from the root");
    }
    depth
}

/// What driving one tree produced.
struct TreeRun {
    evaluations: u64,
    /// Depth of every leaf sent to the evaluator.
    leaf_depths: Vec<usize>,
}

/// Runs `params.simulations` simulations in one tree with the loop of
/// [`Searcher::search`]: select up to `max_pending_per_tree` leaves (stopping
/// on a collision), evaluate them as one batch, expand them, repeat.
fn run_tree(tree: &mut Tree, params: &SearchParams, evaluator: &mut dyn Evaluator) -> TreeRun {
    let mut run = TreeRun {
        evaluations: 0,
        leaf_depths: Vec::new(),
    };
    loop {
        let mut leaves = Vec::new();
        let mut states = Vec::new();
        while tree.pending() < params.max_pending_per_tree
            && tree.root_visits() + tree.pending() < params.simulations
        {
            match tree.select(params) {
                Selection::Leaf { node, state } => {
                    leaves.push(node);
                    states.push(state);
                }
                Selection::Terminal => {}
                Selection::Collision => break,
            }
        }
        if leaves.is_empty() {
            return run;
        }
        let (policy, values) = evaluate_states(evaluator, &states);
        for (i, (&node, state)) in leaves.iter().zip(&states).enumerate() {
            run.leaf_depths.push(choice_depth(tree.root_state(), state));
            tree.expand(
                node,
                &policy[i * NUM_ACTIONS..(i + 1) * NUM_ACTIONS],
                &values[i * MAX_PLAYERS..(i + 1) * MAX_PLAYERS],
            );
        }
        run.evaluations += leaves.len() as u64;
    }
}

/// The invariants of a finished search tree.
fn check_tree(tree: &Tree, run: &TreeRun, simulations: u32) {
    assert_eq!(tree.total_pending(), 0, "virtual loss left behind");
    assert_eq!(tree.pending(), 0);
    assert_eq!(
        tree.root_visits(),
        simulations,
        "root visits != simulations"
    );
    let mut expanded = 0;
    for node in 0..tree.num_nodes() as u32 {
        let visits = tree.visits(node);
        match tree.status(node) {
            NodeStatus::Fresh | NodeStatus::Pending => {
                panic!("node {node} is {:?} after the search", tree.status(node))
            }
            NodeStatus::Expanded => {
                expanded += 1;
                // One visit for its own evaluation, the rest passed on.
                let below: u32 = tree.children(node).map(|(_, _, v)| v).sum();
                assert_eq!(visits, 1 + below, "node {node}");
                let prior: f32 = tree.children(node).map(|(_, p, _)| p).sum();
                assert!((prior - 1.0).abs() < 1e-4, "priors sum to {prior}");
            }
            NodeStatus::Terminal => assert!(visits >= 1, "terminal {node} never backed up"),
        }
        for v in tree.mean_value(node) {
            assert!((-1e-5..=1.0 + 1e-5).contains(&v), "mean value {v}");
        }
    }
    assert_eq!(expanded, run.evaluations, "evaluations != expanded leaves");
    assert_eq!(run.leaf_depths.len() as u64, run.evaluations);
}

/// A round with random bids and a random prefix of `moves` further moves
/// (stopping before the end).
fn random_position(players: usize, cards: usize, moves: usize, rng: &mut Rng) -> Round {
    let trump = Suit::from_index(rng.below(5) as u8).ok();
    let dealer = rng.below(players as u32) as usize;
    let mut r = Round::deal(players, cards, dealer, trump, rng).unwrap();
    for _ in 0..moves {
        let legal = r.legal_actions();
        let mut next = r;
        next.apply_legal(legal.nth(rng.below(legal.len())).unwrap());
        if next.is_over() {
            break;
        }
        r = next;
    }
    r
}

/// A 4-player, 5-card round at the start of play, bids by the heuristic.
fn start_of_play(seed: u64) -> Round {
    let mut rng = Rng::new(seed);
    let mut r = Round::deal(
        4,
        5,
        (seed % 4) as usize,
        Suit::from_index((seed % 5) as u8).ok(),
        &mut rng,
    )
    .unwrap();
    while r.phase() == Phase::Bid {
        r.apply_legal(heuristic_action(&r));
    }
    r
}

// ---- the search is real ---------------------------------------------------

#[test]
fn the_tree_grows_below_the_root() {
    let params = SearchParams::preset(1, 400).for_play();
    let evaluators: Vec<(&str, Box<dyn Evaluator>)> = vec![
        ("rollouts", Box::new(RolloutEvaluator::with_rollouts(1, 4))),
        ("heuristic", Box::new(HeuristicEvaluator::new())),
    ];
    for (name, mut evaluator) in evaluators {
        for seed in 0..4 {
            let mut tree = Tree::new(start_of_play(seed));
            let run = run_tree(&mut tree, &params, evaluator.as_mut());
            check_tree(&tree, &run, params.simulations);
            let deep = run.leaf_depths.iter().filter(|&&d| d >= 2).count();
            let deepest = run.leaf_depths.iter().copied().max().unwrap_or(0);
            println!(
                "{name}, deal {seed}: {} leaves, {deep} at depth >= 2, deepest {deepest}",
                run.evaluations
            );
            // Every evaluated leaf carries at least its own visit, so leaves
            // at depth >= 2 are visited nodes below the root's children.
            assert!(deep >= 100, "{name}: only {deep} leaves at depth >= 2");
            assert!(deepest >= 4, "{name}: deepest leaf at depth {deepest}");
            // Some root child got well beyond its first visit.
            let max_child = tree.children(0).map(|(_, _, v)| v).max().unwrap();
            assert!(
                max_child >= 50,
                "{name}: busiest root child has {max_child} visits"
            );
        }
    }
}

#[test]
fn the_root_policy_moves_away_from_a_uniform_prior() {
    let params = SearchParams::preset(3, 200).for_play();
    let mut searcher = Searcher::new();
    let mut evaluator = RolloutEvaluator::with_rollouts(2, 4);
    let mut rng = Rng::new(3);
    let mut distances = Vec::new();
    let mut seed = 0;
    while distances.len() < 20 {
        seed += 1;
        let mut r = start_of_play(seed);
        // A few heuristic moves into the play, for variety.
        for _ in 0..(seed % 6) {
            r.apply_legal(heuristic_action(&r));
        }
        let legal = r.legal_actions();
        if legal.len() < 3 {
            continue;
        }
        let outcome = searcher.search(
            &r,
            &params,
            Information::Imperfect,
            None,
            &mut evaluator,
            &mut rng,
        );
        let policy = outcome.policy();
        let uniform = 1.0 / legal.len() as f32;
        let tv: f32 = legal
            .iter()
            .map(|a| (policy[a] - uniform).abs())
            .sum::<f32>()
            / 2.0;
        assert!(
            (0..NUM_ACTIONS).all(|a| legal.contains(a) || policy[a] == 0.0),
            "visits on an illegal action"
        );
        distances.push(tv);
    }
    let mean = distances.iter().sum::<f32>() / distances.len() as f32;
    println!("total variation from the prior: mean {mean:.3}, all {distances:.2?}");
    // Some positions offer near-equivalent moves, so individual distances
    // can be small, but never zero, and large on average.
    assert!(distances.iter().all(|&d| d > 0.02), "{distances:?}");
    assert!(mean > 0.15, "mean distance {mean}");
}

/// The value for `me` when every other seat plays to hurt `me` (`paranoid`)
/// or to help `me` (not `paranoid`), `me` always playing its best.
fn bounded_value(r: &Round, me: usize, paranoid: bool) -> f32 {
    let Some(seat) = r.current_player() else {
        return r.values_from(0)[me];
    };
    let children = r.legal_actions().iter().map(|a| {
        let mut c = *r;
        c.apply_legal(a);
        bounded_value(&c, me, paranoid)
    });
    if seat == me || !paranoid {
        children.fold(f32::NEG_INFINITY, f32::max)
    } else {
        children.fold(f32::INFINITY, f32::min)
    }
}

/// A perfect-information position (4 players, 3 cards left each, at least
/// three legal moves) with a clearly best move: it makes the mover's bid
/// whatever the others do, while after any other move the bid cannot be
/// made even if the others help. (Positions whose best move depends on how
/// indifferent seats break ties are not clear: max^n breaks them by action
/// id, a search by chance.)
fn clear_best_move(rng: &mut Rng) -> (Round, usize) {
    loop {
        let r = random_position(4, 3, 4 + rng.below(3) as usize, rng);
        if r.phase() != Phase::Play || r.legal_actions().len() < 3 {
            continue;
        }
        let me = r.current_player().unwrap();
        let mut good = Vec::new();
        let mut others_hopeless = true;
        for a in r.legal_actions().iter() {
            let mut c = r;
            c.apply_legal(a);
            if bounded_value(&c, me, true) > 0.0 {
                good.push(a);
            } else if bounded_value(&c, me, false) > 0.0 {
                others_hopeless = false;
            }
        }
        if good.len() == 1 && others_hopeless {
            let best = good[0];
            // The exact solver agrees.
            let values = action_values(&r);
            let top = values
                .iter()
                .map(|(_, v)| v[me])
                .fold(f32::NEG_INFINITY, f32::max);
            assert!(values.iter().all(|(a, v)| (v[me] == top) == (*a == best)));
            return (r, best);
        }
    }
}

#[test]
fn more_simulations_put_more_visits_on_the_best_move() {
    let mut rng = Rng::new(2024);
    let positions: Vec<(Round, usize)> = (0..4).map(|_| clear_best_move(&mut rng)).collect();
    let mut evaluator = RolloutEvaluator::with_rollouts(5, 4);
    let mut searcher = Searcher::new();
    let seeds = 10;
    let mut shares = Vec::new();
    for simulations in [20, 200, 1000] {
        let params = SearchParams::preset(1, simulations).for_play();
        let mut total = 0.0;
        for (round, best) in &positions {
            for seed in 0..seeds {
                let mut rng = Rng::new(seed);
                let outcome = searcher.search(
                    round,
                    &params,
                    Information::Perfect,
                    None,
                    &mut evaluator,
                    &mut rng,
                );
                assert_eq!(outcome.simulations, simulations);
                total += outcome.policy()[*best];
            }
        }
        shares.push(total / (seeds as usize * positions.len()) as f32);
    }
    let legal: Vec<u32> = positions
        .iter()
        .map(|(r, _)| r.legal_actions().len())
        .collect();
    println!(
        "legal moves {legal:?}; mean share of visits on the best move at 20 / 200 / 1000 simulations: {shares:.3?}"
    );
    assert!(shares[0] < shares[1] && shares[1] < shares[2], "{shares:?}");
    assert!(shares[2] > 0.8, "{shares:?}");
}

// ---- bookkeeping ------------------------------------------------------------

#[test]
fn an_exhausted_tree_still_counts_every_simulation() {
    // 3 players, 2 cards, play just started: a few dozen positions in all,
    // so the tree is complete long before 3000 simulations and selection
    // keeps ending in terminals, each of which counts as a simulation.
    let mut rng = Rng::new(8);
    let mut r = Round::deal(3, 2, 0, Some(Suit::Hearts), &mut rng).unwrap();
    while r.phase() == Phase::Bid {
        r.apply_legal(heuristic_action(&r));
    }
    let params = SearchParams::preset(2, 3000).for_play();
    let mut tree = Tree::new(r);
    let mut evaluator = Counting::new(RolloutEvaluator::new(1));
    let run = run_tree(&mut tree, &params, &mut evaluator);
    check_tree(&tree, &run, 3000);
    assert!(run.evaluations < 100, "{} evaluations", run.evaluations);
    assert_eq!(evaluator.rows, run.evaluations);

    let mut searcher = Searcher::new();
    let mut evaluator = Counting::new(RolloutEvaluator::new(1));
    for info in [Information::Perfect, Information::Imperfect] {
        evaluator.rows = 0;
        let outcome = searcher.search(&r, &params, info, None, &mut evaluator, &mut rng);
        assert_eq!(outcome.simulations, 6000);
        assert_eq!(outcome.evaluations as u64, evaluator.rows);
        assert!(outcome.evaluations < 200);
        assert_eq!(outcome.visits.iter().sum::<f32>(), 2.0 * 2999.0);
    }
}

/// A random table (3-8 players, any hand size) at a random point of a
/// random round, and a small random search budget.
fn case() -> impl Strategy<Value = (usize, usize, u64, f64, u32, u32, u32, f32, bool, bool)> {
    (3usize..=8).prop_flat_map(|players| {
        let max_cards = (52 / players).min(13);
        (
            Just(players),
            1..=max_cards,
            any::<u64>(),
            0.0..1.0f64,
            1u32..=3,
            1u32..=40,
            1u32..=8,
            prop_oneof![Just(0.0f32), Just(1.0), Just(3.0)],
            any::<bool>(),
            any::<bool>(),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn search_bookkeeping_holds(
        (players, cards, seed, depth, d, s, pending, vl, perfect, noise) in case()
    ) {
        let mut rng = Rng::new(seed);
        let total_moves = players * (cards + 1);
        let r = random_position(players, cards, (depth * total_moves as f64) as usize, &mut rng);
        let mut params = SearchParams::preset(d, s);
        params.max_pending_per_tree = pending;
        params.virtual_loss = vl;
        params.dirichlet_fraction = if noise { 0.25 } else { 0.0 };
        let info = if perfect { Information::Perfect } else { Information::Imperfect };

        // Through the searcher.
        let mut evaluator = Counting::new(RolloutEvaluator::new(seed ^ 1));
        let outcome = Searcher::new().search(&r, &params, info, None, &mut evaluator, &mut rng);
        let legal = r.legal_actions();
        if legal.len() < 2 {
            // A forced move is returned without searching.
            prop_assert_eq!(outcome.simulations, 0);
            prop_assert_eq!(evaluator.rows, 0);
            prop_assert!(legal.iter().all(|a| outcome.visits[a] == 1.0));
            return Ok(());
        }
        prop_assert_eq!(outcome.simulations, d * s);
        prop_assert_eq!(outcome.evaluations as u64, evaluator.rows);
        prop_assert!(outcome.evaluations <= outcome.simulations);
        let visited: f32 = outcome.visits.iter().sum();
        if legal.len() >= 2 {
            // The root is the decision itself: its own evaluation is the
            // one visit per tree not passed to a child.
            prop_assert_eq!(visited, (d * (s - 1)) as f32);
            prop_assert!((0..NUM_ACTIONS).all(|a| legal.contains(a) || outcome.visits[a] == 0.0));
            if s > 1 {
                prop_assert!(legal.contains(outcome.best_action()));
            }
        } else {
            prop_assert!(visited <= (d * (s - 1)) as f32);
        }
        for v in outcome.root_value {
            prop_assert!((-1e-5..=1.0 + 1e-5).contains(&v));
        }

        // One tree driven by hand, to look inside.
        let root = if perfect { r } else { blob_core::determinize::determinize(&r, r.current_player().unwrap(), &mut rng).unwrap() };
        let mut tree = Tree::new(root);
        let mut evaluator = Counting::new(RolloutEvaluator::new(seed ^ 2));
        let run = run_tree(&mut tree, &params, &mut evaluator);
        check_tree(&tree, &run, s);
        prop_assert_eq!(evaluator.rows, run.evaluations);
        let mut forced = root;
        advance_forced(&mut forced);
        if forced.is_over() {
            prop_assert_eq!(run.evaluations, 0);
        }
    }
}
