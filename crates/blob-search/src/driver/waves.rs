//! A decision's search, as both engines' workers run it: the hidden cards
//! dealt once per tree, then waves of leaves sent for evaluation, each tree
//! starting its next wave only when the current one is fully answered.

use blob_core::game::GameContext;
use blob_core::{Rng, Round};

use super::counters::WorkerCounts;
use super::requests::{Requests, Waiter};
use crate::error::SearchResult;
use crate::inference::{Inference, sample_worlds};
use crate::params::SearchParams;
use crate::queue::LeafQueue;
use crate::tree::{Selection, Tree};

/// Deals `determinizations` trees for `seat` to move in `round`, as that
/// seat sees it (sampled as `inference` says), reusing the trees already allocated. A round with no
/// consistent deal is an error, never a silent search of the real cards.
pub(super) fn deal_trees(
    trees: &mut Vec<Tree>,
    round: &Round,
    seat: usize,
    determinizations: usize,
    inference: &Inference,
    rng: &mut Rng,
) -> SearchResult<()> {
    trees.truncate(determinizations);
    let mut roots = Vec::with_capacity(determinizations);
    sample_worlds(round, seat, inference, determinizations, rng, &mut roots)?;
    for (t, root) in roots.into_iter().enumerate() {
        match trees.get_mut(t) {
            Some(tree) => tree.reset(root),
            None => trees.push(Tree::new(root)),
        }
    }
    Ok(())
}

/// Whether every tree has its `simulations` visits and no leaf out.
pub(super) fn waves_done(trees: &[Tree], simulations: u32) -> bool {
    trees
        .iter()
        .all(|t| t.pending() == 0 && t.root_visits() >= simulations)
}

/// Starts a wave on every tree of game slot `game` with no leaf
/// outstanding, sending its leaves through `requests` to `queue`, until
/// each tree has `simulations` visits. Returns whether anything happened.
#[allow(clippy::too_many_arguments)] // one decision's whole search state
pub(super) fn start_waves(
    requests: &mut Requests,
    queue: &LeafQueue,
    game: usize,
    trees: &mut [Tree],
    params: &SearchParams,
    simulations: u32,
    context: (Option<GameContext>, u64),
    counts: &mut WorkerCounts,
) -> bool {
    let (s, max_pending) = (simulations, params.max_pending_per_tree);
    let mut progressed = false;
    for (t, tree) in trees.iter_mut().enumerate() {
        if tree.pending() > 0 || tree.root_visits() >= s {
            continue;
        }
        while tree.pending() < max_pending && tree.root_visits() + tree.pending() < s {
            let observer = tree.observer();
            match tree.select(params) {
                Selection::Leaf { node, state } => {
                    let waiter = Waiter {
                        game: game as u32,
                        tree: t as u32,
                        node,
                    };
                    requests.request(queue, waiter, state, observer, context, counts);
                }
                Selection::Terminal => {
                    counts.terminal_leaves += 1;
                    counts.simulations += 1;
                }
                Selection::Collision => break,
            }
            progressed = true;
        }
    }
    progressed
}
