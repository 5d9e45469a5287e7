//! A full game: the hand-size schedule, trump and dealer rotation, totals.

use crate::action::ActionSet;
use crate::cards::Suit;
use crate::error::{CoreError, CoreResult};
use crate::rng::{Rng, mix_seed};
use crate::round::{MAX_PLAYERS, Round, validate_table};

/// Hand sizes round by round: C, C-1, ..., 2, then P rounds of 1, then
/// 2, ..., C.
pub fn hand_schedule(players: usize, start_cards: usize) -> CoreResult<Vec<usize>> {
    validate_table(players, start_cards)?;
    let mut schedule: Vec<usize> = (2..=start_cards).rev().collect();
    schedule.extend(std::iter::repeat_n(1, players));
    schedule.extend(2..=start_cards);
    Ok(schedule)
}

/// Trump of round `r` (0-based): spades, hearts, clubs, diamonds, no-trump,
/// repeating.
pub fn trump_for_round(r: usize) -> Option<Suit> {
    Suit::from_index((r % 5) as u8).ok()
}

/// What a seat knows about the game beyond the current round; the
/// observation encoder uses it in full-game mode.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GameContext {
    /// Running totals by absolute seat, before the current round.
    pub totals: [u32; MAX_PLAYERS],
    /// Rounds still to play after the current one.
    pub rounds_left: usize,
    /// Rounds in the whole game.
    pub total_rounds: usize,
}

/// A full game of Blob.
#[derive(Clone, Debug)]
pub struct Game {
    players: usize,
    first_dealer: usize,
    schedule: Vec<usize>,
    round_index: usize,
    round: Round,
    totals: [u32; MAX_PLAYERS],
    round_scores: Vec<Vec<u32>>,
    seed: u64,
}

impl Game {
    /// A new game; each round's deal is drawn from `seed` and the round
    /// number, so a game is reproducible from its seed.
    pub fn new(
        players: usize,
        start_cards: usize,
        first_dealer: usize,
        seed: u64,
    ) -> CoreResult<Game> {
        let schedule = hand_schedule(players, start_cards)?;
        if first_dealer >= players {
            return Err(CoreError::InvalidSeat {
                seat: first_dealer,
                players,
            });
        }
        let round = Self::deal_round(players, &schedule, first_dealer, 0, seed)?;
        Ok(Game {
            players,
            first_dealer,
            schedule,
            round_index: 0,
            round,
            totals: [0; MAX_PLAYERS],
            round_scores: Vec::new(),
            seed,
        })
    }

    fn deal_round(
        players: usize,
        schedule: &[usize],
        first_dealer: usize,
        r: usize,
        seed: u64,
    ) -> CoreResult<Round> {
        let mut rng = Rng::new(mix_seed(&[seed, r as u64]));
        Round::deal(
            players,
            schedule[r],
            (first_dealer + r) % players,
            trump_for_round(r),
            &mut rng,
        )
    }

    pub fn num_players(&self) -> usize {
        self.players
    }
    pub fn first_dealer(&self) -> usize {
        self.first_dealer
    }
    pub fn schedule(&self) -> &[usize] {
        &self.schedule
    }
    /// Index of the current round (equals the number of rounds once over).
    pub fn round_index(&self) -> usize {
        self.round_index
    }
    /// The current round; once the game is over, the last round played.
    pub fn round(&self) -> &Round {
        &self.round
    }
    /// Running totals per seat.
    pub fn totals(&self) -> &[u32] {
        &self.totals[..self.players]
    }
    /// Scores of every finished round, per seat.
    pub fn round_scores(&self) -> &[Vec<u32>] {
        &self.round_scores
    }
    pub fn is_over(&self) -> bool {
        self.round_index >= self.schedule.len()
    }
    pub fn legal_actions(&self) -> ActionSet {
        if self.is_over() {
            ActionSet::EMPTY
        } else {
            self.round.legal_actions()
        }
    }
    /// The context the current round's observations carry.
    pub fn context(&self) -> GameContext {
        GameContext {
            totals: self.totals,
            rounds_left: self.schedule.len().saturating_sub(self.round_index + 1),
            total_rounds: self.schedule.len(),
        }
    }

    /// Applies an action to the current round; when the round ends its scores
    /// are added to the totals and the next round is dealt.
    pub fn apply(&mut self, action: usize) -> CoreResult<()> {
        if self.is_over() {
            return Err(CoreError::GameOver);
        }
        self.round.apply(action)?;
        if self.round.is_over() {
            let scores: Vec<u32> = (0..self.players).map(|s| self.round.score(s)).collect();
            for (total, s) in self.totals.iter_mut().zip(&scores) {
                *total += s;
            }
            self.round_scores.push(scores);
            self.round_index += 1;
            if !self.is_over() {
                self.round = Self::deal_round(
                    self.players,
                    &self.schedule,
                    self.first_dealer,
                    self.round_index,
                    self.seed,
                )?;
            }
        }
        Ok(())
    }

    /// Seats with the highest total (several on a tie); empty before the end.
    pub fn winners(&self) -> Vec<usize> {
        if !self.is_over() {
            return Vec::new();
        }
        let best = self.totals().iter().copied().max().unwrap_or(0);
        (0..self.players)
            .filter(|&s| self.totals[s] == best)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_matches_the_rules_example() {
        assert_eq!(
            hand_schedule(4, 5).unwrap(),
            vec![5, 4, 3, 2, 1, 1, 1, 1, 2, 3, 4, 5]
        );
        assert_eq!(hand_schedule(3, 1).unwrap(), vec![1, 1, 1]);
        assert!(hand_schedule(5, 11).is_err());
    }

    #[test]
    fn trump_and_dealer_rotate() {
        let mut game = Game::new(4, 3, 2, 9).unwrap();
        let mut rng = Rng::new(1);
        let mut seen = Vec::new();
        while !game.is_over() {
            let r = game.round_index();
            if seen.last() != Some(&r) {
                seen.push(r);
                assert_eq!(game.round().dealer(), (2 + r) % 4);
                assert_eq!(game.round().trump(), trump_for_round(r));
                assert_eq!(game.round().cards(), game.schedule()[r]);
            }
            let legal = game.legal_actions();
            game.apply(legal.nth(rng.below(legal.len())).unwrap())
                .unwrap();
        }
        assert_eq!(seen.len(), game.schedule().len());
        let sums: Vec<u32> = (0..4)
            .map(|s| game.round_scores().iter().map(|r| r[s]).sum())
            .collect();
        assert_eq!(sums, game.totals());
        assert!(!game.winners().is_empty());
        assert_eq!(game.apply(52), Err(CoreError::GameOver));
    }
}
