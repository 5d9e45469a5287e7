//! Arena rounds recorded as training examples: the engine arena as a
//! teacher. A search agent that needs the network at its leaves (ISMCTS
//! with network leaves and policy inference, say) cannot run in the
//! network-free teacher engine; the arena already batches its leaves, so
//! with [`Recording`] set the arena keeps every searched decision as the
//! teacher engine does ([`crate::teacher`]): the mover's normalized root
//! visits as the policy target, one row per seat with the round's scores as
//! value targets, forced moves unrecorded, and the first `temperature_moves`
//! moves of a round drawn from the visits for variety.

use std::collections::BTreeMap;

use blob_core::rng::mix_seed;
use blob_core::{NUM_ACTIONS, Rng, Round};

use crate::error::{SearchError, SearchResult};
use crate::examples::{DecisionRecord, ExampleColumns};
use crate::search::choose_action;

/// How an arena run records its rounds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Recording {
    /// Seeds the temperature draws (with the round id and move number).
    pub seed: u64,
    /// The round id of schedule round 0 (round `i` gets `first_round_id + i`,
    /// so a resumed run continues the ids of the run before).
    pub first_round_id: u64,
    /// Moves of a round (from 0, forced ones included) whose move is drawn
    /// with probability proportional to visits^(1/temperature).
    pub temperature_moves: u32,
    /// 0 plays the agent's own choice throughout.
    pub temperature: f32,
}

impl Recording {
    pub fn validate(&self) -> SearchResult<()> {
        if !self.temperature.is_finite() || self.temperature < 0.0 {
            return Err(SearchError::InvalidParam(format!(
                "temperature must be a finite number >= 0, got {}",
                self.temperature
            )));
        }
        Ok(())
    }
}

/// Finished rounds' examples handed out in schedule order: a round that
/// finishes before an earlier one waits for it, so what has been handed out
/// is always the examples of rounds `0..next` (a run's shards are then a
/// prefix of its rounds, and a resumed run starts after the last one).
#[derive(Debug, Default)]
pub struct InOrder {
    next: u64,
    waiting: BTreeMap<u64, ExampleColumns>,
}

impl InOrder {
    /// Takes the examples of schedule round `index`.
    pub fn add(&mut self, index: u64, examples: ExampleColumns) {
        self.waiting.insert(index, examples);
    }

    /// The examples of every round from the next one due up to the first
    /// gap, in schedule order.
    pub fn take_ready(&mut self) -> ExampleColumns {
        let mut out = ExampleColumns::default();
        while let Some(mut examples) = self.waiting.remove(&self.next) {
            out.append(&mut examples);
            self.next += 1;
        }
        out
    }

    /// Rounds handed out so far.
    pub fn handed_out(&self) -> u64 {
        self.next
    }
}

/// The decisions of one round in flight, kept until its scores are known.
#[derive(Debug, Default)]
pub(super) struct RoundRecord {
    records: Vec<DecisionRecord>,
    /// Moves played so far in the round, forced ones included.
    moves: u32,
}

impl RoundRecord {
    pub(super) fn clear(&mut self) {
        self.records.clear();
        self.moves = 0;
    }

    /// Counts a move played without a search (forced, or a rule agent's).
    pub(super) fn played(&mut self) {
        self.moves += 1;
    }

    /// The move of a search with root `visits` at `round`: `chosen` (the
    /// agent's own choice) unless this move is drawn with the temperature.
    /// Records the decision when its search visited something, and counts
    /// the move.
    pub(super) fn searched(
        &mut self,
        recording: &Recording,
        schedule_index: u64,
        round: &Round,
        visits: &[f32; NUM_ACTIONS],
        tiebreak: &[f32; NUM_ACTIONS],
        chosen: usize,
    ) -> usize {
        let legal = round.legal_actions();
        let total: f32 = legal.iter().map(|a| visits[a]).sum();
        let mut action = chosen;
        if total > 0.0 {
            if self.moves < recording.temperature_moves && recording.temperature > 0.0 {
                // By round id, not schedule index: a resumed run draws as
                // the uninterrupted one did.
                let round_id = recording.first_round_id + schedule_index;
                let seed = mix_seed(&[recording.seed, round_id, self.moves as u64]);
                let drawn =
                    choose_action(visits, tiebreak, recording.temperature, &mut Rng::new(seed));
                if legal.contains(drawn) {
                    action = drawn;
                }
            }
            let mut policy = [0.0f32; NUM_ACTIONS];
            for a in legal.iter() {
                policy[a] = visits[a] / total;
            }
            self.records.push(DecisionRecord {
                state: *round,
                mask: legal.to_mask(),
                policy,
                move_number: self.moves as u16,
            });
        }
        self.moves += 1;
        action
    }

    /// The examples of the finished round `end`, schedule round
    /// `schedule_index`.
    pub(super) fn examples(
        &self,
        recording: &Recording,
        schedule_index: u64,
        end: &Round,
    ) -> ExampleColumns {
        let mut out = ExampleColumns::default();
        let round_id = recording.first_round_id + schedule_index;
        for r in &self.records {
            out.push_decision(r, end, None, round_id);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blob_core::Suit;

    fn deal() -> Round {
        Round::deal(
            4,
            3,
            0,
            Some(Suit::from_index(1).unwrap()),
            &mut Rng::new(5),
        )
        .unwrap()
    }

    fn recording(temperature_moves: u32) -> Recording {
        Recording {
            seed: 3,
            first_round_id: 100,
            temperature_moves,
            temperature: 1.0,
        }
    }

    fn visits_on(round: &Round, weights: &[f32]) -> [f32; NUM_ACTIONS] {
        let mut visits = [0.0; NUM_ACTIONS];
        for (a, w) in round.legal_actions().iter().zip(weights) {
            visits[a] = *w;
        }
        visits
    }

    #[test]
    fn records_normalized_visits_on_legal_actions_and_counts_moves() {
        let round = deal();
        let visits = visits_on(&round, &[1.0, 3.0]);
        let chosen = round.legal_actions().iter().nth(1).unwrap();
        let mut record = RoundRecord::default();
        record.played();
        let action = record.searched(&recording(0), 7, &round, &visits, &visits, chosen);
        assert_eq!(action, chosen, "no temperature: the agent's choice");
        assert_eq!(record.records.len(), 1);
        let r = &record.records[0];
        assert_eq!(r.move_number, 1, "the forced move before it counts");
        let first = round.legal_actions().iter().next().unwrap();
        assert!((r.policy[first] - 0.25).abs() < 1e-6);
        assert!((r.policy[chosen] - 0.75).abs() < 1e-6);
        assert_eq!(r.policy.iter().sum::<f32>(), 1.0);
    }

    #[test]
    fn a_search_with_no_visits_is_not_recorded() {
        let round = deal();
        let mut record = RoundRecord::default();
        let chosen = round.legal_actions().iter().next().unwrap();
        let none = [0.0; NUM_ACTIONS];
        assert_eq!(
            record.searched(&recording(4), 0, &round, &none, &none, chosen),
            chosen
        );
        assert!(record.records.is_empty());
        assert_eq!(record.moves, 1);
    }

    #[test]
    fn temperature_draws_follow_the_visits_and_the_seed() {
        let round = deal();
        let legal: Vec<usize> = round.legal_actions().iter().collect();
        let visits = visits_on(&round, &[1.0, 3.0]);
        let draw = |index: u64| {
            let mut record = RoundRecord::default();
            record.searched(&recording(1), index, &round, &visits, &visits, legal[1])
        };
        let draws: Vec<usize> = (0..2000).map(draw).collect();
        assert_eq!(draws, (0..2000).map(draw).collect::<Vec<_>>(), "seeded");
        let first = draws.iter().filter(|&&a| a == legal[0]).count() as f64 / 2000.0;
        // Binomial(2000, 0.25): sd about 0.0097, so 0.05 is five of them.
        assert!((first - 0.25).abs() < 0.05, "drawn {first}");
        assert!(draws.iter().all(|a| legal[..2].contains(a)));
    }

    #[test]
    fn rounds_are_handed_out_in_schedule_order() {
        let rows = |id: u64| ExampleColumns {
            round_id: vec![id; 2],
            seat: vec![0, 1],
            ..ExampleColumns::default()
        };
        let mut order = InOrder::default();
        order.add(1, rows(1));
        order.add(2, ExampleColumns::default()); // a round with no searched decision
        assert!(order.take_ready().is_empty(), "round 0 is not finished");
        order.add(0, rows(0));
        order.add(4, rows(4));
        assert_eq!(order.take_ready().round_id, vec![0, 0, 1, 1]);
        assert_eq!(order.handed_out(), 3);
        order.add(3, rows(3));
        assert_eq!(order.take_ready().round_id, vec![3, 3, 4, 4]);
    }

    #[test]
    fn examples_carry_one_row_per_seat_and_the_round_id() {
        let mut round = deal();
        let mut record = RoundRecord::default();
        while round.current_player().is_some() {
            let legal: Vec<usize> = round.legal_actions().iter().collect();
            let action = if legal.len() == 1 {
                record.played();
                legal[0]
            } else {
                let visits = visits_on(&round, &vec![1.0; legal.len()]);
                record.searched(&recording(0), 9, &round, &visits, &visits, legal[0])
            };
            round.apply(action).unwrap();
        }
        let examples = record.examples(&recording(0), 9, &round);
        assert_eq!(examples.len(), record.records.len() * 4);
        assert!(examples.round_id.iter().all(|&id| id == 109));
        assert_eq!(&examples.seat[..4], &[0, 1, 2, 3]);
        assert_eq!(examples.value[..8], round.values_from(0)[..]);
    }
}
