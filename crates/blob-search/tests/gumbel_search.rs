//! Gumbel search through [`Searcher`]: it finds the action an oracle values
//! highest at tiny budgets, its improved policy is a distribution over the
//! legal actions only, its bookkeeping matches PUCT's (root visits = S per
//! tree), and a seed fixes everything.

use blob_core::{BID_OFFSET, MAX_PLAYERS, NUM_ACTIONS, Rng, Round};
use blob_search::params::GumbelParams;
use blob_search::{Evaluator, Information, LeafBatch, RolloutEvaluator, SearchParams, Searcher};

/// Uniform priors; the observer's value is `high` when the observer has bid
/// `target`, 0.5 otherwise (every other seat 0.5): Q favours one bid by a
/// small margin, as score shares do.
struct BidOracle {
    target: usize,
    high: f32,
}

impl Evaluator for BidOracle {
    fn evaluate(&mut self, batch: &LeafBatch<'_>, policy: &mut [f32], values: &mut [f32]) {
        policy[..batch.len() * NUM_ACTIONS].fill(0.0);
        for (i, state) in batch.states.iter().enumerate() {
            let seat = batch.observers[i] as usize;
            let row = &mut values[i * MAX_PLAYERS..(i + 1) * MAX_PLAYERS];
            row.fill(0.0);
            row[..state.num_players()].fill(0.5);
            if state.bid(seat) == Some(self.target) {
                row[0] = self.high;
            }
        }
    }
}

/// Gumbel search with one leaf in flight per tree, as in the paper: with
/// several, a tiny budget's last simulations are chosen before the values
/// of the first ones are back.
fn gumbel_params(d: u32, s: u32) -> SearchParams {
    SearchParams {
        gumbel: Some(GumbelParams::default()),
        max_pending_per_tree: 1,
        ..SearchParams::preset(d, s)
    }
}

/// The first bidder's decision (dealer 3, so seat 0 bids first and every
/// bid 0..=cards is legal).
fn first_bid(cards: usize, seed: u64) -> Round {
    let mut rng = Rng::new(seed);
    Round::deal(4, cards, 3, None, &mut rng).unwrap()
}

/// How often in `trials` searches Gumbel picks the oracle's bid.
fn hit_rate(cards: usize, params: &SearchParams, target: usize, trials: u64) -> f64 {
    let mut oracle = BidOracle { target, high: 0.53 };
    let mut searcher = Searcher::new();
    let mut hits = 0;
    for seed in 0..trials {
        let round = first_bid(cards, seed);
        let mut rng = Rng::new(1000 + seed);
        let out = searcher.search(
            &round,
            params,
            Information::Perfect,
            None,
            &mut oracle,
            &mut rng,
        );
        hits += u64::from(out.best_action() == BID_OFFSET + target);
    }
    hits as f64 / trials as f64
}

#[test]
fn finds_the_oracle_action_at_tiny_budgets() {
    // Three bids, four simulations: each bid is visited once, and the
    // completed Q outweighs the Gumbel noise.
    let rate = hit_rate(2, &gumbel_params(1, 4), 2, 300);
    assert!(rate >= 0.95, "3 bids, 1x4: {rate}");
    // Six bids, 8 and 16 simulations (7 and 15 after the root).
    for s in [8, 16] {
        for target in [0, 4] {
            let rate = hit_rate(5, &gumbel_params(1, s), target, 300);
            assert!(rate >= 0.95, "6 bids, 1x{s}, bid {target}: {rate}");
        }
    }
    // Two trees sharing the noise.
    let rate = hit_rate(5, &gumbel_params(2, 8), 3, 300);
    assert!(rate >= 0.95, "6 bids, 2x8: {rate}");
}

#[test]
fn without_enough_simulations_to_try_every_action_it_cannot_know() {
    // Six bids, four simulations: only three bids are tried (the Gumbel
    // top-3 under uniform priors), so the target is found about half the
    // time: the oracle test above is not passing by accident.
    let rate = hit_rate(5, &gumbel_params(1, 4), 4, 400);
    assert!((0.35..=0.65).contains(&rate), "{rate}");
}

#[test]
fn improved_policy_is_a_distribution_over_the_legal_actions() {
    let mut searcher = Searcher::new();
    let mut deal_rng = Rng::new(5);
    for trial in 0..40u64 {
        let mut round = Round::deal(4, 5, (trial % 4) as usize, None, &mut deal_rng).unwrap();
        // Walk a few random moves in so that card play is covered too.
        for _ in 0..(trial % 12) {
            let legal = round.legal_actions();
            round
                .apply(legal.nth(deal_rng.below(legal.len())).unwrap())
                .unwrap();
        }
        let legal = round.legal_actions();
        if legal.len() < 2 {
            continue;
        }
        let params = SearchParams {
            max_pending_per_tree: 1 + (trial % 4) as u32,
            ..gumbel_params(1 + (trial % 3) as u32, 10)
        };
        let mut evaluator = RolloutEvaluator::new(trial);
        let mut rng = Rng::new(trial);
        let out = searcher.search(
            &round,
            &params,
            Information::Imperfect,
            None,
            &mut evaluator,
            &mut rng,
        );
        let policy = out.improved_policy.expect("Gumbel search gives a policy");
        assert_eq!(out.policy(), policy);
        let sum: f32 = policy.iter().sum();
        assert!((sum - 1.0).abs() < 1e-5, "sum {sum}");
        for (a, &p) in policy.iter().enumerate() {
            if legal.contains(a) {
                assert!(p > 0.0 && p.is_finite(), "legal {a}: {p}");
            } else {
                assert_eq!(p, 0.0, "illegal {a}");
            }
        }
        assert!(legal.contains(out.best_action()));
        assert_eq!(
            out.simulations,
            params.determinizations * params.simulations
        );
    }
}

#[test]
fn a_seed_fixes_the_search() {
    let round = first_bid(5, 9);
    let params = gumbel_params(3, 12);
    let run = |seed: u64| {
        let mut evaluator = RolloutEvaluator::new(seed);
        let mut rng = Rng::new(seed);
        Searcher::new().search(
            &round,
            &params,
            Information::Imperfect,
            None,
            &mut evaluator,
            &mut rng,
        )
    };
    let (a, b) = (run(4), run(4));
    assert_eq!(a.visits, b.visits);
    assert_eq!(a.improved_policy, b.improved_policy);
    assert_eq!(a.gumbel_action, b.gumbel_action);
    // Another seed draws other noise and determinizations.
    let c = run(5);
    assert!(a.visits != c.visits || a.improved_policy != c.improved_policy);
}

#[test]
fn without_noise_the_choice_is_the_best_completed_q() {
    // for_play zeroes the Gumbel noise: the oracle's bid every time, and
    // the same answer for every seed of the searcher.
    let params = gumbel_params(1, 16).for_play();
    assert_eq!(params.gumbel.unwrap().gumbel_scale, 0.0);
    assert_eq!(hit_rate(5, &params, 1, 50), 1.0);
}

#[test]
fn puct_outcomes_carry_no_gumbel_fields() {
    let round = first_bid(5, 1);
    let mut evaluator = RolloutEvaluator::new(1);
    let mut rng = Rng::new(1);
    let out = Searcher::new().search(
        &round,
        &SearchParams::light(),
        Information::Imperfect,
        None,
        &mut evaluator,
        &mut rng,
    );
    assert!(out.improved_policy.is_none() && out.gumbel_action.is_none());
}
