//! Perfect-information Monte Carlo (PIMC): sample worlds consistent with
//! what the seat to move knows, solve each world exactly with a max^n
//! solver that sees every hand, and play the action with the best mean
//! value for the mover over the worlds (Ginsberg's GIB for bridge; Long,
//! Sturtevant, Buro and Furtak 2010 on why it works in trick-taking games).
//!
//! Worlds come from [`sample_worlds`], so PIMC never reads a hidden hand and
//! uses the same inference (uniform or weighted by the opponents' bids) as
//! ISMCTS. A bid is chosen in one of two ways ([`PimcBidding`]): by solving
//! every legal bid in every world (later seats bid as the rule-based bidder
//! would with their world hands, then the play is solved), or by an ISMCTS
//! search, so PIMC's card play can be tested behind a known bidder.
//!
//! The solver ([`MaxnSolver`]) is [`crate::solver`]'s max^n, made fast
//! enough for whole 5-card rounds: positions at trick boundaries are
//! memoized per world, and of two cards in one hand that no live card
//! separates (equivalent cards) only one is searched.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use blob_core::{MAX_PLAYERS, NUM_ACTIONS, Phase, Rng, Round};

use crate::error::{SearchError, SearchResult};
use crate::heuristic::heuristic_action;
use crate::inference::{Inference, sample_worlds};
use crate::ismcts::{Ismcts, IsmctsParams};
use crate::search::Information;
use crate::solver::Values;

/// Most worlds one decision may solve.
pub const MAX_WORLDS: u32 = 100_000;

/// How a PIMC player bids.
#[derive(Clone, Debug, PartialEq)]
pub enum PimcBidding {
    /// Every legal bid is solved in every world: the seats after the mover
    /// bid as the rule-based bidder would with their world hands, then the
    /// play is solved exactly.
    Solve,
    /// An ISMCTS search chooses the bid; PIMC plays the cards.
    Ismcts(IsmctsParams),
}

/// The knobs of a PIMC search.
#[derive(Clone, Debug, PartialEq)]
pub struct PimcParams {
    /// Worlds sampled and solved per decision, 1..=[`MAX_WORLDS`].
    pub worlds: u32,
    /// How the worlds' hidden hands are sampled (not `Policy`: it needs a
    /// network).
    pub inference: Inference,
    pub bidding: PimcBidding,
    /// [`Information::Imperfect`] (the real player) samples worlds;
    /// [`Information::Perfect`] solves the true deal (a cheat, kept as an
    /// upper bound for experiments).
    pub information: Information,
}

impl PimcParams {
    /// `worlds` uniform worlds per decision, bids solved.
    pub fn new(worlds: u32) -> PimcParams {
        PimcParams {
            worlds,
            inference: Inference::Uniform,
            bidding: PimcBidding::Solve,
            information: Information::Imperfect,
        }
    }

    pub fn with_information(mut self, information: Information) -> PimcParams {
        self.information = information;
        self
    }

    pub fn with_inference(mut self, inference: Inference) -> PimcParams {
        self.inference = inference;
        self
    }

    pub fn with_bidding(mut self, bidding: PimcBidding) -> PimcParams {
        self.bidding = bidding;
        self
    }

    /// Checks every knob against its range.
    pub fn validate(&self) -> SearchResult<()> {
        if !(1..=MAX_WORLDS).contains(&self.worlds) {
            return Err(SearchError::InvalidParam(format!(
                "PIMC worlds must be in 1..={MAX_WORLDS}, got {}",
                self.worlds
            )));
        }
        self.inference.validate()?;
        if matches!(self.inference, Inference::Policy { .. }) {
            return Err(SearchError::InvalidParam(
                "PIMC samples worlds without a network: use \"uniform\" or \"bids\" inference"
                    .into(),
            ));
        }
        if let PimcBidding::Ismcts(params) = &self.bidding {
            params.validate()?;
            if params.rollout == crate::ismcts::Rollout::Network {
                return Err(SearchError::InvalidParam(
                    "PIMC's bid search plays out without a network: use random or heuristic \
                     playouts"
                        .into(),
                ));
            }
        }
        Ok(())
    }
}

/// What one PIMC decision found.
#[derive(Clone, Debug)]
pub struct PimcOutcome {
    /// Each legal action with the mover's mean value over the worlds (the
    /// same scale as [`Round::values_from`]), in increasing action order.
    pub action_values: Vec<(usize, f32)>,
    /// The action played: the best mean value, ties to the lowest id.
    pub best_action: usize,
    /// What a recorded decision learns from: the bid search's visit
    /// shares for an ISMCTS bid, else all weight on `best_action`.
    pub policy: [f32; NUM_ACTIONS],
    /// Solver nodes visited (0 for a forced move or an ISMCTS bid).
    pub nodes: u64,
}

/// A 64-bit multiply-rotate hasher for the memo's keys (the keys are
/// already well-mixed card bitsets; SipHash would dominate the solve).
#[derive(Default)]
struct FoldHasher(u64);

impl Hasher for FoldHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u8(&mut self, n: u8) {
        self.write_u64(n as u64);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// A position at a trick boundary of one world: the hands left, who leads
/// and the tricks each seat has taken (bids are fixed within a world).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct TrickKey {
    hands: [u64; MAX_PLAYERS],
    tricks: u64,
    leader: u8,
}

impl TrickKey {
    fn of(round: &Round, leader: usize) -> TrickKey {
        let mut hands = [0u64; MAX_PLAYERS];
        let mut tricks = 0u64;
        for (seat, hand) in hands.iter_mut().enumerate().take(round.num_players()) {
            *hand = round.hand(seat).bits();
            tricks |= (round.tricks_won(seat) as u64) << (4 * seat);
        }
        TrickKey {
            hands,
            tricks,
            leader: leader as u8,
        }
    }
}

/// Exact max^n for the play of one fully known world, memoized at trick
/// boundaries. Every seat picks the card that maximizes its own final
/// score; ties go to the lowest card. Agrees with
/// [`crate::solver::solve`] on every play-phase position (tested).
#[derive(Debug, Default)]
pub struct MaxnSolver {
    memo: HashMap<TrickKey, Values, BuildHasherDefault<FoldHasher>>,
    nodes: u64,
}

impl MaxnSolver {
    pub fn new() -> MaxnSolver {
        MaxnSolver::default()
    }

    /// Forgets every memoized position: needed before a different world
    /// (or different bids) is solved.
    pub fn clear(&mut self) {
        self.memo.clear();
    }

    /// Nodes visited since the solver was made.
    pub fn nodes(&self) -> u64 {
        self.nodes
    }

    /// The max^n value by absolute seat of a play-phase (or finished)
    /// position.
    pub fn solve(&mut self, round: &Round) -> Values {
        self.nodes += 1;
        let Some(seat) = round.current_player() else {
            return round.values_from(0);
        };
        debug_assert_eq!(round.phase(), Phase::Play, "the solver plays cards only");
        let boundary = round.trick_len() == 0;
        let key = boundary.then(|| TrickKey::of(round, seat));
        if let Some(key) = &key
            && let Some(values) = self.memo.get(key)
        {
            return *values;
        }
        let mut best: Option<Values> = None;
        for card in distinct_cards(round, seat) {
            let mut child = *round;
            child.apply_legal(card);
            let value = self.solve(&child);
            if best.is_none_or(|b| value[seat] > b[seat]) {
                best = Some(value);
            }
        }
        let best = best.expect("a seat to move has a legal card");
        if let Some(key) = key {
            self.memo.insert(key, best);
        }
        best
    }

    /// The value after each legal card of the seat to move, in increasing
    /// card order; equivalent cards share their value.
    pub fn card_values(&mut self, round: &Round) -> Vec<(usize, Values)> {
        let Some(seat) = round.current_player() else {
            return Vec::new();
        };
        let distinct = distinct_cards(round, seat);
        let mut solved: Vec<(usize, Values)> = Vec::new();
        for card in distinct {
            let mut child = *round;
            child.apply_legal(card);
            solved.push((card, self.solve(&child)));
        }
        round
            .legal_actions()
            .iter()
            .map(|card| {
                let representative = representative(round, seat, card);
                let value = solved
                    .iter()
                    .find(|(c, _)| *c == representative)
                    .map(|(_, v)| *v)
                    .expect("every legal card has a searched representative");
                (card, value)
            })
            .collect()
    }
}

/// The cards still in play: every hand and the current trick.
fn live_cards(round: &Round) -> u64 {
    let mut live = round.trick_cards().bits();
    for seat in 0..round.num_players() {
        live |= round.hand(seat).bits();
    }
    live
}

/// The lowest card of `card`'s run in `seat`'s hand: the run is the cards
/// of the hand in one suit with no live card of another hand between them.
/// Cards of one run win and lose exactly the same tricks.
fn representative(round: &Round, seat: usize, card: usize) -> usize {
    let hand = round.hand(seat).bits();
    let live = live_cards(round);
    let mut c = card;
    while let Some(next) = live_below(live, c).filter(|&n| hand & (1u64 << n) != 0) {
        c = next;
    }
    c
}

/// The highest live card of `card`'s suit below it, if any.
fn live_below(live: u64, card: usize) -> Option<usize> {
    let suit_base = card / 13 * 13;
    let below = live & ((1u64 << card) - 1) & !((1u64 << suit_base) - 1);
    (below != 0).then(|| 63 - below.leading_zeros() as usize)
}

/// The legal cards of `seat` with only the lowest of each run kept.
fn distinct_cards(round: &Round, seat: usize) -> Vec<usize> {
    let hand = round.hand(seat).bits();
    let live = live_cards(round);
    round
        .legal_actions()
        .iter()
        .filter(|&card| live_below(live, card).is_none_or(|next| hand & (1u64 << next) == 0))
        .collect()
}

fn one_hot(action: usize) -> [f32; NUM_ACTIONS] {
    let mut policy = [0.0; NUM_ACTIONS];
    policy[action] = 1.0;
    policy
}

/// A reusable PIMC searcher (it keeps its solver's and worlds' memory).
#[derive(Default)]
pub struct Pimc {
    solver: MaxnSolver,
    worlds: Vec<Round>,
    ismcts: Ismcts,
}

impl Pimc {
    pub fn new() -> Pimc {
        Pimc::default()
    }

    /// One decision for `observer`, the seat to move in `round`.
    ///
    /// # Errors
    /// Invalid parameters; a round that is over or where `observer` is not
    /// to move; a state no deal matches.
    pub fn search(
        &mut self,
        round: &Round,
        observer: usize,
        params: &PimcParams,
        rng: &mut Rng,
    ) -> SearchResult<PimcOutcome> {
        params.validate()?;
        if round.current_player() != Some(observer) {
            return Err(SearchError::InvalidParam(format!(
                "seat {observer} is not to move"
            )));
        }
        let legal = round.legal_actions();
        if legal.len() == 1 {
            let only = legal.iter().next().expect("one legal action");
            return Ok(PimcOutcome {
                action_values: vec![(only, 0.0)],
                best_action: only,
                policy: one_hot(only),
                nodes: 0,
            });
        }
        if round.phase() == Phase::Bid
            && let PimcBidding::Ismcts(ismcts) = &params.bidding
        {
            let outcome = self.ismcts.search(round, observer, ismcts, rng)?;
            let policy = outcome.policy();
            return Ok(PimcOutcome {
                action_values: legal.iter().map(|a| (a, policy[a])).collect(),
                best_action: outcome.best_action(),
                policy,
                nodes: 0,
            });
        }
        self.worlds.clear();
        match params.information {
            Information::Imperfect => sample_worlds(
                round,
                observer,
                &params.inference,
                params.worlds as usize,
                rng,
                &mut self.worlds,
            )?,
            Information::Perfect => self.worlds.extend((0..params.worlds).map(|_| *round)),
        }
        let start_nodes = self.solver.nodes();
        let mut sums = [0.0f64; NUM_ACTIONS];
        let worlds = std::mem::take(&mut self.worlds);
        for world in &worlds {
            match world.phase() {
                Phase::Play => {
                    self.solver.clear();
                    for (card, values) in self.solver.card_values(world) {
                        sums[card] += values[observer] as f64;
                    }
                }
                _ => {
                    for bid in legal.iter() {
                        let mut line = *world;
                        line.apply_legal(bid);
                        while line.phase() == Phase::Bid {
                            line.apply_legal(heuristic_action(&line));
                        }
                        self.solver.clear();
                        sums[bid] += self.solver.solve(&line)[observer] as f64;
                    }
                }
            }
        }
        self.worlds = worlds;
        let n = params.worlds as f64;
        let action_values: Vec<(usize, f32)> =
            legal.iter().map(|a| (a, (sums[a] / n) as f32)).collect();
        let mut best = action_values[0];
        for &(a, v) in &action_values[1..] {
            if v > best.1 {
                best = (a, v);
            }
        }
        Ok(PimcOutcome {
            action_values,
            best_action: best.0,
            policy: one_hot(best.0),
            nodes: self.solver.nodes() - start_nodes,
        })
    }
}

/// An arena player: PIMC for the seat to move. Its generator runs on from
/// one decision to the next.
pub struct PimcPlayer {
    pub params: PimcParams,
    pub rng: Rng,
    search: Pimc,
    label: String,
}

impl PimcPlayer {
    /// Panics on invalid `params` (see [`PimcParams::validate`]).
    pub fn new(params: PimcParams, seed: u64) -> PimcPlayer {
        params.validate().expect("valid PIMC parameters");
        let label = format!("pimc-{}", params.worlds);
        PimcPlayer {
            params,
            rng: Rng::new(seed),
            search: Pimc::new(),
            label,
        }
    }

    pub fn with_name(mut self, name: impl Into<String>) -> PimcPlayer {
        self.label = name.into();
        self
    }
}

impl crate::arena::Player for PimcPlayer {
    fn act(&mut self, round: &Round) -> usize {
        let observer = round.current_player().unwrap_or(0);
        match self
            .search
            .search(round, observer, &self.params, &mut self.rng)
        {
            Ok(outcome) => outcome.best_action,
            // Cannot happen for a round that is not over; keep a legal move.
            Err(_) => heuristic_action(round),
        }
    }
    fn name(&self) -> String {
        self.label.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arena::arena_deal;
    use crate::solver;
    use blob_core::BID_OFFSET;
    use blob_core::determinize::determinize;

    /// A deal of `cards` cards at 4 seats with bids from the rule-based
    /// bidder and `plays` cards already played by it.
    fn position(deal: usize, cards: usize, plays: usize) -> Round {
        let mut round = arena_deal(4, cards, deal, 7);
        while round.phase() == Phase::Bid {
            round.apply_legal(heuristic_action(&round));
        }
        for _ in 0..plays {
            round.apply_legal(heuristic_action(&round));
        }
        round
    }

    /// The memoized solver with equivalent cards merged finds exactly the
    /// plain max^n values, at trick boundaries and mid-trick.
    #[test]
    fn memoized_solver_matches_plain_maxn() {
        let mut fast = MaxnSolver::new();
        for deal in 0..60 {
            for plays in [0, 1, 2, 3, 5] {
                let round = position(deal, 3, plays);
                if round.is_over() {
                    continue;
                }
                fast.clear();
                let got = fast.card_values(&round);
                let want = solver::action_values(&round);
                assert_eq!(got.len(), want.len());
                for ((a, va), (b, vb)) in got.iter().zip(&want) {
                    assert_eq!(a, b);
                    assert_eq!(va, vb, "deal {deal} plays {plays} card {a}");
                }
                fast.clear();
                assert_eq!(fast.solve(&round), solver::solve(&round));
            }
        }
    }

    /// Cards of one run are merged; a live card of another hand between
    /// two cards splits them.
    #[test]
    fn runs_of_equivalent_cards() {
        use blob_core::{Card, CardSet, Suit};
        let set =
            |names: &[&str]| -> CardSet { names.iter().map(|n| Card::parse(n).unwrap()).collect() };
        let card = |name: &str| Card::parse(name).unwrap().index() as usize;
        let hands = [
            set(&["2S", "3S", "5S", "AH"]),
            set(&["4S", "KH", "2D", "3D"]),
            set(&["QH", "4D", "5D", "6D"]),
            set(&["JH", "7D", "8D", "9D"]),
        ];
        let mut round = Round::from_hands(&hands, 3, Some(Suit::Clubs)).unwrap();
        for _ in 0..4 {
            round.apply_legal(BID_OFFSET);
        }
        assert_eq!(round.current_player(), Some(0));
        // 2S and 3S are one run; 4S (seat 1) splits 3S from 5S.
        assert_eq!(representative(&round, 0, card("3S")), card("2S"));
        assert_eq!(representative(&round, 0, card("5S")), card("5S"));
        assert_eq!(
            distinct_cards(&round, 0),
            vec![card("2S"), card("5S"), card("AH")]
        );
    }

    /// The worlds come from the observer's information only: hiding a
    /// different deal of the unseen cards changes nothing for a fixed seed.
    #[test]
    fn pimc_never_peeks() {
        let params = PimcParams::new(8);
        for deal in 0..10 {
            let round = position(deal, 4, 1);
            let observer = round.current_player().unwrap();
            // Any world consistent with the observer's view stands in for
            // the real hands.
            let other = determinize(&round, observer, &mut Rng::new(deal as u64)).unwrap();
            assert_ne!(other, round);
            let a = Pimc::new()
                .search(&round, observer, &params, &mut Rng::new(5))
                .unwrap();
            let b = Pimc::new()
                .search(&other, observer, &params, &mut Rng::new(5))
                .unwrap();
            assert_eq!(a.action_values, b.action_values);
        }
    }

    #[test]
    fn bad_parameters_are_errors() {
        assert!(PimcParams::new(0).validate().is_err());
        let network_bids = PimcParams::new(4).with_bidding(PimcBidding::Ismcts(
            IsmctsParams::new(10).with_rollout(crate::ismcts::Rollout::Network),
        ));
        assert!(network_bids.validate().is_err());
        let policy = PimcParams::new(4).with_inference(Inference::Policy {
            candidates: 8,
            temperature: 1.0,
        });
        assert!(policy.validate().is_err());
        let round = position(0, 3, 0);
        let wrong_seat = (round.current_player().unwrap() + 1) % 4;
        assert!(
            Pimc::new()
                .search(&round, wrong_seat, &PimcParams::new(4), &mut Rng::new(1))
                .is_err()
        );
    }
}
