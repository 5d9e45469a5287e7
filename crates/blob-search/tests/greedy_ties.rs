//! The greedy choice after a search breaks ties in the visit counts by the
//! root prior. At small budgets virtual loss sends a tree's first pending
//! leaves to different children, one visit each; the lowest id on ties
//! then meant bid 0 at every bid of the round (measured: a network at 8
//! determinizations x 5 simulations lost 2.5 points per round to the same
//! network at 2 x 20).

use blob_core::{BID_OFFSET, MAX_PLAYERS, NUM_ACTIONS, Rng, Round};
use blob_search::{
    Evaluator, Information, LeafBatch, SearchParams, Searcher, choose_action, most_visited,
};

/// Priors peaked on one bid (logit 3 against 0), every value 0.5: the
/// search has nothing but the prior to tell the children apart.
struct PeakedPrior {
    bid: usize,
}

impl Evaluator for PeakedPrior {
    fn evaluate(&mut self, batch: &LeafBatch<'_>, policy: &mut [f32], values: &mut [f32]) {
        policy[..batch.len() * NUM_ACTIONS].fill(0.0);
        values[..batch.len() * MAX_PLAYERS].fill(0.5);
        for i in 0..batch.len() {
            policy[i * NUM_ACTIONS + BID_OFFSET + self.bid] = 3.0;
        }
    }
}

/// The first bidder's decision at 4 players x 5 cards: six legal bids.
fn first_bid(seed: u64) -> Round {
    Round::deal(4, 5, 3, None, &mut Rng::new(seed)).unwrap()
}

#[test]
fn ties_go_to_the_higher_prior_then_the_lowest_id() {
    let mut visits = [0.0; NUM_ACTIONS];
    let mut prior = [0.0; NUM_ACTIONS];
    visits[3] = 2.0;
    visits[7] = 2.0;
    visits[9] = 1.0;
    prior[3] = 0.1;
    prior[7] = 0.3;
    prior[9] = 0.6;
    assert_eq!(most_visited(&visits, &prior), 7, "visits first, then prior");
    prior[3] = 0.3;
    assert_eq!(most_visited(&visits, &prior), 3, "full tie: lowest id");
    let mut rng = Rng::new(1);
    assert_eq!(
        choose_action(&visits, &[0.3; NUM_ACTIONS], 0.0, &mut rng),
        3
    );
    prior[3] = 0.0;
    assert_eq!(choose_action(&visits, &prior, 0.0, &mut rng), 7);
}

#[test]
fn a_small_budget_plays_the_prior_not_the_lowest_bid() {
    for bid in [2, 4] {
        let mut searcher = Searcher::new();
        let mut evaluator = PeakedPrior { bid };
        for seed in 0..20 {
            // The Light knobs at 3 x 5: the root, then four leaves in flight
            // at once, and virtual loss spreads them one per child.
            let params = SearchParams {
                determinizations: 3,
                simulations: 5,
                ..SearchParams::light()
            }
            .for_play();
            let out = searcher.search(
                &first_bid(seed),
                &params,
                Information::Imperfect,
                None,
                &mut evaluator,
                &mut Rng::new(seed),
            );
            let top = out.visits.iter().cloned().fold(0.0, f32::max);
            let tied = out.visits.iter().filter(|&&v| v == top).count();
            assert!(
                tied > 1,
                "the budget must leave ties: {:?}",
                &out.visits[BID_OFFSET..BID_OFFSET + 6]
            );
            assert_eq!(out.best_action(), BID_OFFSET + bid, "seed {seed}");
            let prior_sum: f32 = out.root_prior.iter().sum();
            assert!((prior_sum - 3.0).abs() < 1e-4, "priors summed over 3 trees");
        }
    }
}
