//! Evaluators answer leaves with a policy (66 logits, for the seat to move)
//! and a value vector (8 entries, entry 0 = the leaf's observer, then
//! clockwise). The network is one, reached through the leaf queue; the
//! pure-Rust ones here serve tests, benchmarks and baseline players.
//!
//! The observer of a leaf is the seat whose decision is being searched (the
//! root's mover), not the leaf's mover: a leaf is judged with what the
//! searching seat knows. Judged from the leaf mover's observation instead,
//! the children of a bid would be valued by the next bidder, who cannot see
//! the bidder's hand, and the search could not tell a good bid from a bad
//! one.

use blob_core::observation::OBS_SIZE;
use blob_core::{MAX_PLAYERS, NUM_ACTIONS, Rng, Round};

/// A batch of leaves to evaluate. Row i of each slice belongs to leaf i.
#[derive(Clone, Copy, Debug)]
pub struct LeafBatch<'a> {
    /// The (determinized) state at each leaf, its acting player to move.
    pub states: &'a [Round],
    /// The observer of each leaf: the seat whose observation `obs` holds
    /// and whose point of view the value vector takes.
    pub observers: &'a [u8],
    /// Observations of the observers, `OBS_SIZE` floats per leaf.
    pub obs: &'a [f32],
    /// Legal-action masks, `NUM_ACTIONS` per leaf.
    pub masks: &'a [bool],
}

impl LeafBatch<'_> {
    pub fn len(&self) -> usize {
        self.states.len()
    }
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }
    pub fn obs_row(&self, i: usize) -> &[f32] {
        &self.obs[i * OBS_SIZE..(i + 1) * OBS_SIZE]
    }
}

/// Answers batches of leaves. `policy` has `NUM_ACTIONS` logits per leaf
/// (illegal entries are ignored), `values` `MAX_PLAYERS` entries per leaf
/// relative to the leaf's observer, each in [0, 1].
pub trait Evaluator: Send {
    fn evaluate(&mut self, batch: &LeafBatch<'_>, policy: &mut [f32], values: &mut [f32]);
}

/// Uniform policy over the legal moves and a neutral value of 0.5 for every
/// present seat: the cheapest possible answer, for benchmarks of the search
/// machinery itself.
#[derive(Clone, Debug, Default)]
pub struct UniformEvaluator;

impl Evaluator for UniformEvaluator {
    fn evaluate(&mut self, batch: &LeafBatch<'_>, policy: &mut [f32], values: &mut [f32]) {
        policy[..batch.len() * NUM_ACTIONS].fill(0.0);
        for (i, state) in batch.states.iter().enumerate() {
            let row = &mut values[i * MAX_PLAYERS..(i + 1) * MAX_PLAYERS];
            row.fill(0.0);
            row[..state.num_players()].fill(0.5);
        }
    }
}

/// Uniform policy and the exact scores of one random playout to the end of
/// the round: an unbiased, noisy value with no learning involved.
#[derive(Clone, Debug)]
pub struct RolloutEvaluator {
    rng: Rng,
    rollouts: u32,
}

impl RolloutEvaluator {
    pub fn new(seed: u64) -> RolloutEvaluator {
        Self::with_rollouts(seed, 1)
    }
    /// Averages `rollouts` playouts per leaf.
    pub fn with_rollouts(seed: u64, rollouts: u32) -> RolloutEvaluator {
        RolloutEvaluator {
            rng: Rng::new(seed),
            rollouts: rollouts.max(1),
        }
    }
}

impl Evaluator for RolloutEvaluator {
    fn evaluate(&mut self, batch: &LeafBatch<'_>, policy: &mut [f32], values: &mut [f32]) {
        policy[..batch.len() * NUM_ACTIONS].fill(0.0);
        let inv = 1.0 / self.rollouts as f32;
        for (i, state) in batch.states.iter().enumerate() {
            let seat = batch.observers[i] as usize;
            let row = &mut values[i * MAX_PLAYERS..(i + 1) * MAX_PLAYERS];
            row.fill(0.0);
            for _ in 0..self.rollouts {
                let mut s = *state;
                s.play_out_randomly(&mut self.rng);
                for (acc, v) in row.iter_mut().zip(s.values_from(seat)) {
                    *acc += v * inv;
                }
            }
        }
    }
}
