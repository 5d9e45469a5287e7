//! Players and a duplicate arena to measure them against each other.
//!
//! A [`Player`] picks the move of the seat to move. It is handed the full
//! [`Round`] (hidden hands included, since that is what the rules engine
//! holds) but must only use what that seat may know: its own hand, the
//! trump, the bids, the cards played, the current trick, the tricks won.
//! [`RandomPlayer`] and [`HeuristicPlayer`] keep to that by construction;
//! [`MctsPlayer`] searches with [`Information::Imperfect`], so every tree
//! searches a fresh determinization of the other hands.
//!
//! [`play_duplicate`] plays seat-rotated duplicate deals: every deal is
//! replayed once per rotation of the agents around the table, so every agent
//! plays every seat of every deal and the luck of the cards cancels out.

use blob_core::rng::mix_seed;
use blob_core::{MAX_PLAYERS, Rng, Round, Suit};

use crate::evaluator::Evaluator;
use crate::heuristic::heuristic_action;
use crate::params::SearchParams;
use crate::search::{Information, Searcher, choose_action};

/// Picks moves for whichever seat is to move.
pub trait Player {
    /// The action (a bid `52 + b` or a card index) of the player to move in
    /// `round`, which is not over. Must be legal, and must depend only on
    /// what the player to move may know.
    fn act(&mut self, round: &Round) -> usize;
    /// A short name for reports.
    fn name(&self) -> String;
    /// (searches run, leaves evaluated) so far, for players that search.
    fn search_stats(&self) -> Option<(u64, u64)> {
        None
    }
}

/// Uniformly random legal moves from its own seeded generator.
#[derive(Clone, Debug)]
pub struct RandomPlayer {
    rng: Rng,
}

impl RandomPlayer {
    pub fn new(seed: u64) -> RandomPlayer {
        RandomPlayer {
            rng: Rng::new(seed),
        }
    }
}

impl Player for RandomPlayer {
    fn act(&mut self, round: &Round) -> usize {
        let legal = round.legal_actions();
        legal
            .nth(self.rng.below(legal.len()))
            .expect("a round that is not over has a legal action")
    }
    fn name(&self) -> String {
        "random".into()
    }
}

/// The rule-based player of [`crate::heuristic`]. Deterministic.
#[derive(Clone, Copy, Debug, Default)]
pub struct HeuristicPlayer;

impl Player for HeuristicPlayer {
    fn act(&mut self, round: &Round) -> usize {
        heuristic_action(round)
    }
    fn name(&self) -> String {
        "heuristic".into()
    }
}

/// Determinized MCTS: [`Searcher::search`] with [`Information::Imperfect`]
/// and the most visited root action (or a temperature draw for the first
/// `params.temperature_moves` moves of a round, if the params ask for it;
/// [`SearchParams::for_play`] turns that off). A move with a single legal
/// action is played without search.
pub struct MctsPlayer {
    pub params: SearchParams,
    pub evaluator: Box<dyn Evaluator>,
    pub rng: Rng,
    /// Searches run and leaves evaluated so far, to check that two players
    /// compared at "equal compute" really spent the same.
    pub searches: u64,
    pub evaluations: u64,
    searcher: Searcher,
    label: String,
}

impl MctsPlayer {
    pub fn new(params: SearchParams, evaluator: Box<dyn Evaluator>, seed: u64) -> MctsPlayer {
        let label = format!("mcts({}x{})", params.determinizations, params.simulations);
        MctsPlayer {
            params,
            evaluator,
            rng: Rng::new(seed),
            searches: 0,
            evaluations: 0,
            searcher: Searcher::new(),
            label,
        }
    }
    /// Renames the player in reports.
    pub fn with_name(mut self, name: impl Into<String>) -> MctsPlayer {
        self.label = name.into();
        self
    }
}

impl Player for MctsPlayer {
    fn act(&mut self, round: &Round) -> usize {
        let legal = round.legal_actions();
        if legal.len() == 1 {
            return legal.0.trailing_zeros() as usize;
        }
        let outcome = self.searcher.search(
            round,
            &self.params,
            Information::Imperfect,
            None,
            self.evaluator.as_mut(),
            &mut self.rng,
        );
        self.searches += 1;
        self.evaluations += outcome.evaluations as u64;
        let move_number = (round.bids_made() + round.played().len() as usize) as u32;
        let action = if move_number < self.params.temperature_moves {
            choose_action(
                &outcome.visits,
                &outcome.root_prior,
                self.params.temperature,
                &mut self.rng,
            )
        } else {
            outcome.best_action()
        };
        if legal.contains(action) {
            action
        } else {
            // No root child was visited (a budget of one simulation per
            // tree): fall back to the heuristic.
            heuristic_action(round)
        }
    }
    fn name(&self) -> String {
        self.label.clone()
    }
    fn search_stats(&self) -> Option<(u64, u64)> {
        Some((self.searches, self.evaluations))
    }
}

/// One agent's results in an arena.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentStats {
    pub name: String,
    /// Mean round score (points, `10 + bid` or 0) over every seat the agent
    /// played.
    pub mean: f64,
    /// Half-width of the 95% confidence interval of `mean`: 1.96 standard
    /// errors, the samples being the agent's mean score per deal (a deal's
    /// rotations share the cards, so they are not independent). Infinite
    /// with fewer than two deals.
    pub ci95: f64,
    /// Seat-rounds played: one per seat the agent held in each round.
    pub seat_rounds: u64,
    /// Rounds in which the agent held at least one seat.
    pub rounds: u64,
    /// Seat-rounds in which the agent made its bid exactly.
    pub bids_made: u64,
}

impl AgentStats {
    pub fn low(&self) -> f64 {
        self.mean - self.ci95
    }
    pub fn high(&self) -> f64 {
        self.mean + self.ci95
    }
}

/// The outcome of [`play_duplicate`].
#[derive(Clone, Debug, PartialEq)]
pub struct ArenaReport {
    pub num_players: usize,
    pub cards: usize,
    pub deals: usize,
    /// Rounds played: `deals * num_players` (one per deal and rotation).
    pub rounds: u64,
    pub agents: Vec<AgentStats>,
    /// `wins[i][j]`: rounds in which agent i's score (its mean over the
    /// seats it held) was strictly above agent j's.
    pub wins: Vec<Vec<u64>>,
    /// `ties[i][j]`: rounds in which the two scored the same.
    pub ties: Vec<Vec<u64>>,
    /// `per_deal[d][k]`: agent k's mean score over its seats of deal d, the
    /// samples behind the confidence intervals.
    pub per_deal: Vec<Vec<f64>>,
}

impl ArenaReport {
    /// Whether agent `i` is ahead of agent `j` with non-overlapping 95%
    /// intervals.
    pub fn clearly_ahead(&self, i: usize, j: usize) -> bool {
        self.agents[i].low() > self.agents[j].high()
    }

    /// Mean and 95% half-width of agent i's score minus agent j's, paired
    /// by deal (both played the same cards from the same seats): a much
    /// tighter test than comparing the two intervals.
    pub fn paired_difference(&self, i: usize, j: usize) -> (f64, f64) {
        mean_ci(self.per_deal.iter().map(|row| row[i] - row[j]))
    }
}

/// Mean and 1.96 standard errors of the samples (infinite below two).
fn mean_ci(samples: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let n = samples.clone().count() as f64;
    if n == 0.0 {
        return (0.0, f64::INFINITY);
    }
    let mean = samples.clone().sum::<f64>() / n;
    if n < 2.0 {
        return (mean, f64::INFINITY);
    }
    let var = samples.map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, 1.96 * (var / n).sqrt())
}

impl std::fmt::Display for ArenaReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} players, {} cards, {} deals x {} rotations = {} rounds",
            self.num_players, self.cards, self.deals, self.num_players, self.rounds
        )?;
        for (i, a) in self.agents.iter().enumerate() {
            writeln!(
                f,
                "  [{i}] {:<16} mean {:6.3} +- {:5.3}  (95% CI {:6.3} .. {:6.3}), {} seat-rounds, bids made {:.1}%",
                a.name,
                a.mean,
                a.ci95,
                a.low(),
                a.high(),
                a.seat_rounds,
                100.0 * a.bids_made as f64 / a.seat_rounds.max(1) as f64
            )?;
        }
        for i in 0..self.agents.len() {
            for j in i + 1..self.agents.len() {
                let (diff, ci) = self.paired_difference(i, j);
                writeln!(
                    f,
                    "  [{i}] vs [{j}]: {} wins, {} losses, {} ties; paired difference {diff:+.3} +- {ci:.3}",
                    self.wins[i][j], self.wins[j][i], self.ties[i][j]
                )?;
            }
        }
        Ok(())
    }
}

/// The agent sitting at `seat` in rotation `rotation` of a table of
/// `num_players` seats with `num_agents` agents: slot `(seat + rotation) %
/// num_players` belongs to agent `slot % num_agents`.
///
/// The agents fill the slots cyclically (agent k holds the slots k, k + n,
/// k + 2n, ... for n agents), and each rotation turns the slots one more
/// seat around the table, so over the `num_players` rotations of a deal every
/// slot, hence every agent, plays every seat equally often. When `num_agents`
/// divides `num_players` this is simply `(seat + rotation) % num_agents`.
pub fn seat_agent(seat: usize, rotation: usize, num_players: usize, num_agents: usize) -> usize {
    ((seat + rotation) % num_players) % num_agents
}

/// The deal number `deal` of an arena seeded with `seed`: a random dealer,
/// a random trump (each suit or no-trump with probability 1/5) and a random
/// deal, all drawn from `mix_seed([seed, deal])`.
pub fn arena_deal(num_players: usize, cards: usize, deal: usize, seed: u64) -> Round {
    let mut rng = Rng::new(mix_seed(&[seed, deal as u64]));
    let dealer = rng.below(num_players as u32) as usize;
    let trump = Suit::from_index(rng.below(5) as u8).ok();
    Round::deal(num_players, cards, dealer, trump, &mut rng).expect("a valid table")
}

/// Plays `round` to the end, seat `s` moved by `players[seating[s]]`.
/// Panics if a player returns an illegal action.
pub fn play_round(players: &mut [Box<dyn Player>], seating: &[usize], mut round: Round) -> Round {
    while let Some(seat) = round.current_player() {
        let agent = seating[seat];
        let action = players[agent].act(&round);
        if let Err(e) = round.apply(action) {
            panic!(
                "agent {agent} ({}) at seat {seat} chose an illegal action: {e}",
                players[agent].name()
            );
        }
    }
    round
}

/// Seat-rotated duplicate play of `deals` deals of `cards` cards at a table
/// of `num_players` seats. Deal d is [`arena_deal`]`(num_players, cards, d,
/// seed)`; it is played `num_players` times, rotation r seating
/// [`seat_agent`]`(seat, r, ...)` at each seat, so every agent plays every
/// seat of every deal. `players` holds 1..=num_players agents (fewer agents
/// than seats fill the seats cyclically, see [`seat_agent`]).
///
/// Panics on an invalid table, on zero or too many agents, or if a player
/// returns an illegal action.
pub fn play_duplicate(
    players: &mut [Box<dyn Player>],
    num_players: usize,
    cards: usize,
    deals: usize,
    seed: u64,
) -> ArenaReport {
    blob_core::round::validate_table(num_players, cards).expect("a valid table");
    let n = players.len();
    assert!(
        (1..=num_players).contains(&n),
        "need 1..={num_players} agents, got {n}"
    );
    let mut per_deal: Vec<Vec<f64>> = Vec::with_capacity(deals);
    let mut totals = vec![0.0f64; n];
    let mut seat_rounds = vec![0u64; n];
    let mut rounds_in = vec![0u64; n];
    let mut made = vec![0u64; n];
    let mut wins = vec![vec![0u64; n]; n];
    let mut ties = vec![vec![0u64; n]; n];
    for deal in 0..deals {
        let start = arena_deal(num_players, cards, deal, seed);
        let mut deal_sum = vec![0.0f64; n];
        let mut deal_count = vec![0u64; n];
        for rotation in 0..num_players {
            let seating: Vec<usize> = (0..num_players)
                .map(|s| seat_agent(s, rotation, num_players, n))
                .collect();
            let end = play_round(players, &seating, start);
            let mut sum = [0.0f64; MAX_PLAYERS];
            let mut count = [0u64; MAX_PLAYERS];
            let mut bids_made = [0u64; MAX_PLAYERS];
            for (seat, &agent) in seating.iter().enumerate() {
                let score = end.score(seat) as f64;
                sum[agent] += score;
                count[agent] += 1;
                bids_made[agent] += u64::from(end.bid(seat) == Some(end.tricks_won(seat)));
            }
            let mut mean = [0.0f64; MAX_PLAYERS];
            for k in 0..n {
                if count[k] == 0 {
                    continue;
                }
                mean[k] = sum[k] / count[k] as f64;
                deal_sum[k] += sum[k];
                deal_count[k] += count[k];
                totals[k] += sum[k];
                seat_rounds[k] += count[k];
                rounds_in[k] += 1;
                made[k] += bids_made[k];
            }
            for i in 0..n {
                for j in 0..n {
                    if i == j || count[i] == 0 || count[j] == 0 {
                        continue;
                    }
                    if mean[i] > mean[j] {
                        wins[i][j] += 1;
                    } else if mean[i] == mean[j] {
                        ties[i][j] += 1;
                    }
                }
            }
        }
        // Every agent holds at least one slot, hence seats in every round.
        per_deal.push(
            (0..n)
                .map(|k| deal_sum[k] / deal_count[k].max(1) as f64)
                .collect(),
        );
    }
    let agents = (0..n)
        .map(|k| {
            let (mean, ci95) = mean_ci(per_deal.iter().map(|row| row[k]));
            debug_assert!(
                seat_rounds[k] == 0 || (mean - totals[k] / seat_rounds[k] as f64).abs() < 1e-6
            );
            AgentStats {
                name: players[k].name(),
                mean,
                ci95,
                seat_rounds: seat_rounds[k],
                rounds: rounds_in[k],
                bids_made: made[k],
            }
        })
        .collect();
    ArenaReport {
        num_players,
        cards,
        deals,
        rounds: (deals * num_players) as u64,
        agents,
        wins,
        ties,
        per_deal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluator::RolloutEvaluator;

    #[test]
    fn every_agent_plays_every_seat_equally_often() {
        for players in 3..=8 {
            for agents in 1..=players {
                let mut count = vec![vec![0usize; players]; agents];
                for r in 0..players {
                    for s in 0..players {
                        count[seat_agent(s, r, players, agents)][s] += 1;
                    }
                }
                for (k, row) in count.iter().enumerate() {
                    let slots = (0..players).filter(|j| j % agents == k).count();
                    assert!(
                        row.iter().all(|&c| c == slots),
                        "{players}/{agents}: {count:?}"
                    );
                }
                if players % agents == 0 {
                    for r in 0..players {
                        for s in 0..players {
                            assert_eq!(seat_agent(s, r, players, agents), (s + r) % agents);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn identical_agents_score_alike_and_the_report_adds_up() {
        let mut players: Vec<Box<dyn Player>> =
            vec![Box::new(HeuristicPlayer), Box::new(HeuristicPlayer)];
        let report = play_duplicate(&mut players, 4, 3, 30, 7);
        assert_eq!(report.rounds, 120);
        for a in &report.agents {
            assert_eq!(a.seat_rounds, 240);
            assert_eq!(a.rounds, 120);
        }
        // The same deterministic player in every seat: each deal's rotations
        // give both agents the same seats over the deal.
        assert!((report.agents[0].mean - report.agents[1].mean).abs() < 1e-9);
        assert_eq!(report.wins[0][1], report.wins[1][0]);
        assert_eq!(report.wins[0][1] * 2 + report.ties[0][1], 120);
    }

    #[test]
    fn same_seed_same_report() {
        let run = || {
            let mut players: Vec<Box<dyn Player>> = vec![
                Box::new(RandomPlayer::new(1)),
                Box::new(HeuristicPlayer),
                Box::new(MctsPlayer::new(
                    SearchParams::light().for_play(),
                    Box::new(RolloutEvaluator::new(3)),
                    4,
                )),
            ];
            play_duplicate(&mut players, 3, 2, 4, 99)
        };
        let a = run();
        assert_eq!(a, run());
        assert_eq!(a.rounds, 12);
        println!("{a}");
    }
}
