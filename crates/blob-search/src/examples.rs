//! Training examples in columnar form, ready to become numpy arrays and a
//! Parquet shard without per-example objects.

use blob_core::game::GameContext;
use blob_core::observation::{OBS_SIZE, encode_observation};
use blob_core::{MAX_PLAYERS, NUM_ACTIONS, Round};

/// One decision's record, kept until its round ends and the value target is
/// known.
#[derive(Clone, Debug)]
pub struct DecisionRecord {
    /// The position at the decision (the real one, not a determinization).
    pub state: Round,
    /// The mover's legal actions.
    pub mask: [bool; NUM_ACTIONS],
    pub policy: [f32; NUM_ACTIONS],
    pub move_number: u16,
}

/// Finished examples, one row per decision, columns side by side.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExampleColumns {
    /// Observation of seat `seat` (rows x 256). Every decision gives one row
    /// per seat at the table: the mover's own, and each other seat's view of
    /// the same position, which is what the search evaluates its leaves
    /// from (see `evaluator`).
    pub state: Vec<f32>,
    /// The mover's legal actions (rows x 66).
    pub mask: Vec<bool>,
    /// The mover's search policy: normalized visit counts, 0 on illegal
    /// actions (rows x 66).
    pub policy: Vec<f32>,
    /// Round score of the seat k places after `seat`, divided by 10 + cards;
    /// 0 for absent seats (rows x 8).
    pub value: Vec<f32>,
    /// The observing seat of the row (the mover is the seat whose to-move
    /// flag is set in its observation).
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

    /// Adds the rows of one decision of a finished round `end`: one per seat
    /// at the table, in seat order, each with that seat's observation of the
    /// decision's position and its value target.
    pub fn push_decision(
        &mut self,
        r: &DecisionRecord,
        end: &Round,
        context: Option<&GameContext>,
        round_id: u64,
    ) {
        let players = r.state.num_players();
        let mut obs = [0.0f32; OBS_SIZE];
        for observer in 0..players {
            encode_observation(&r.state, observer, context, &mut obs);
            self.state.extend_from_slice(&obs);
            self.mask.extend_from_slice(&r.mask);
            self.policy.extend_from_slice(&r.policy);
            self.value.extend_from_slice(&end.values_from(observer));
            self.seat.push(observer as u8);
            self.num_players.push(players as u8);
            self.cards.push(r.state.cards() as u8);
            self.round_id.push(round_id);
            self.move_number.push(r.move_number);
        }
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
