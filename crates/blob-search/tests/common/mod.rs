//! Helpers shared by the integration tests (each test file that needs them
//! declares `mod common;`, so not every file uses every helper).
#![allow(dead_code)]

use blob_core::rng::mix_seed;
use blob_core::{Rng, Round, Suit};
use blob_search::{Evaluator, LeafBatch};

/// A stand-in network: logits and values are a fixed hash of the
/// observation, so, like a real network, it answers from what the observer
/// sees only (the engine's answer cache and request sharing are then exact),
/// and different determinizations lead to different searches.
pub struct ObservationNet;

impl Evaluator for ObservationNet {
    fn evaluate(&mut self, batch: &LeafBatch<'_>, policy: &mut [f32], values: &mut [f32]) {
        use blob_core::{MAX_PLAYERS, NUM_ACTIONS};
        for i in 0..batch.len() {
            let bits: Vec<u64> = batch
                .obs_row(i)
                .iter()
                .map(|x| x.to_bits() as u64)
                .collect();
            let h = mix_seed(&bits);
            policy[i * NUM_ACTIONS..(i + 1) * NUM_ACTIONS].copy_from_slice(&logits_of(h));
            for (k, v) in values[i * MAX_PLAYERS..(i + 1) * MAX_PLAYERS]
                .iter_mut()
                .enumerate()
            {
                *v = (mix_seed(&[h, 100 + k as u64]) % 1000) as f32 / 1000.0;
            }
        }
    }
}

/// The stand-in network's logits for an observation hashed to `h`.
pub fn logits_of(h: u64) -> [f32; blob_core::NUM_ACTIONS] {
    std::array::from_fn(|a| (mix_seed(&[h, a as u64]) % 1000) as f32 / 400.0)
}

/// A random position with the seat to move holding at least two legal
/// actions: random table, random bids and a random prefix of play.
pub fn position(rng: &mut Rng) -> Round {
    loop {
        let players = 3 + rng.below(4) as usize;
        let cards = 1 + rng.below(7) as usize;
        let trump = Suit::from_index(rng.below(5) as u8).ok();
        let dealer = rng.below(players as u32) as usize;
        let mut r = Round::deal(players, cards, dealer, trump, rng).unwrap();
        let moves = rng.below((players * (cards + 1)) as u32);
        for _ in 0..moves {
            if r.is_over() {
                break;
            }
            let legal = r.legal_actions();
            r.apply_legal(legal.nth(rng.below(legal.len())).unwrap());
        }
        if !r.is_over() && r.legal_actions().len() >= 2 {
            return r;
        }
    }
}
