//! Training examples in columnar form, ready to become numpy arrays and a
//! Parquet shard without per-example objects.

use blob_core::observation::OBS_SIZE;
use blob_core::{MAX_PLAYERS, NUM_ACTIONS};

/// One decision's record, kept until its round ends and the value target is
/// known.
#[derive(Clone, Debug)]
pub struct DecisionRecord {
    pub obs: [f32; OBS_SIZE],
    pub mask: [bool; NUM_ACTIONS],
    pub policy: [f32; NUM_ACTIONS],
    pub seat: u8,
    pub move_number: u16,
}

/// Finished examples, one row per decision, columns side by side.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExampleColumns {
    /// Observation of the seat that moved (rows x 256).
    pub state: Vec<f32>,
    /// Legal actions (rows x 66).
    pub mask: Vec<bool>,
    /// Search policy: normalized visit counts, 0 on illegal actions (rows x 66).
    pub policy: Vec<f32>,
    /// Round score of the seat k places after `seat`, divided by 10 + cards;
    /// 0 for absent seats (rows x 8).
    pub value: Vec<f32>,
    pub seat: Vec<u8>,
    pub num_players: Vec<u8>,
    pub cards: Vec<u8>,
    pub round_id: Vec<u64>,
    /// Index of the move within its round (bids and cards, from 0).
    pub move_number: Vec<u16>,
}

impl ExampleColumns {
    pub fn len(&self) -> usize {
        self.seat.len()
    }
    pub fn is_empty(&self) -> bool {
        self.seat.is_empty()
    }

    /// Adds one record with its value target.
    pub fn push(
        &mut self,
        r: &DecisionRecord,
        value: &[f32; MAX_PLAYERS],
        players: u8,
        cards: u8,
        round_id: u64,
    ) {
        self.state.extend_from_slice(&r.obs);
        self.mask.extend_from_slice(&r.mask);
        self.policy.extend_from_slice(&r.policy);
        self.value.extend_from_slice(value);
        self.seat.push(r.seat);
        self.num_players.push(players);
        self.cards.push(cards);
        self.round_id.push(round_id);
        self.move_number.push(r.move_number);
    }

    /// Moves every row of `other` to the end of `self`.
    pub fn append(&mut self, other: &mut ExampleColumns) {
        self.state.append(&mut other.state);
        self.mask.append(&mut other.mask);
        self.policy.append(&mut other.policy);
        self.value.append(&mut other.value);
        self.seat.append(&mut other.seat);
        self.num_players.append(&mut other.num_players);
        self.cards.append(&mut other.cards);
        self.round_id.append(&mut other.round_id);
        self.move_number.append(&mut other.move_number);
    }

    /// Row `i` as (state, mask, policy, value) slices, for tests and tools.
    pub fn row(&self, i: usize) -> (&[f32], &[bool], &[f32], &[f32]) {
        (
            &self.state[i * OBS_SIZE..(i + 1) * OBS_SIZE],
            &self.mask[i * NUM_ACTIONS..(i + 1) * NUM_ACTIONS],
            &self.policy[i * NUM_ACTIONS..(i + 1) * NUM_ACTIONS],
            &self.value[i * MAX_PLAYERS..(i + 1) * MAX_PLAYERS],
        )
    }
}
