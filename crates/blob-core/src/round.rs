//! One round of Blob: deal, bidding with the dealer rule, trick play, scores.
//!
//! `Round` is a small `Copy` value (a few hundred bytes, no heap) so search
//! can copy it freely; legal moves, trick winners and scores are bit
//! operations on [`CardSet`]s.

use crate::action::{ActionSet, BID_OFFSET};
use crate::cards::{Card, CardSet, DECK_SIZE, Suit};
use crate::error::{CoreError, CoreResult};
use crate::rng::Rng;

/// Smallest table.
pub const MIN_PLAYERS: usize = 3;
/// Largest table; also the length of per-seat arrays and value vectors.
pub const MAX_PLAYERS: usize = 8;
/// Largest hand (keeps bids inside one action range for every table size).
pub const MAX_CARDS: usize = 13;

const NO_BID: u8 = u8::MAX;

/// What the round is waiting for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    Bid,
    Play,
    Over,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Bid => "bid",
            Phase::Play => "play",
            Phase::Over => "over",
        }
    }
}

/// Checks a table size and hand size against the rules.
pub fn validate_table(players: usize, cards: usize) -> CoreResult<()> {
    if !(MIN_PLAYERS..=MAX_PLAYERS).contains(&players) {
        return Err(CoreError::InvalidPlayerCount(players));
    }
    if cards == 0 || cards > MAX_CARDS || cards * players > DECK_SIZE {
        return Err(CoreError::InvalidCardCount { players, cards });
    }
    Ok(())
}

/// The complete state of one round, hidden cards included.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Round {
    /// Cards still held, per seat.
    hands: [CardSet; MAX_PLAYERS],
    /// Every card played this round, including the current trick.
    played: CardSet,
    /// Cards in the current (unfinished) trick.
    trick_set: CardSet,
    /// Cards of the current trick in play order; seat of entry i is
    /// `(trick_leader + i) % players`.
    trick_cards: [u8; MAX_PLAYERS],
    /// Every card played this round in play order (leaders follow from
    /// `trick_winners`).
    plays: [u8; DECK_SIZE],
    bids: [u8; MAX_PLAYERS],
    tricks_won: [u8; MAX_PLAYERS],
    /// Winner seat of every finished trick.
    trick_winners: [u8; MAX_CARDS],
    /// Publicly known voids: bit s set when the seat failed to follow suit s.
    voids: [u8; MAX_PLAYERS],
    players: u8,
    cards: u8,
    dealer: u8,
    /// 0..3 for a trump suit, 4 for no-trump.
    trump: u8,
    phase: Phase,
    to_move: u8,
    trick_leader: u8,
    trick_len: u8,
    tricks_done: u8,
    num_plays: u8,
    bids_made: u8,
    bid_sum: u8,
}

/// Encodes an optional trump for storage.
fn trump_code(trump: Option<Suit>) -> u8 {
    trump.map_or(4, Suit::index)
}

impl Round {
    /// Deals `cards` cards to each of `players` seats from a deck shuffled by
    /// `rng`.
    pub fn deal(
        players: usize,
        cards: usize,
        dealer: usize,
        trump: Option<Suit>,
        rng: &mut Rng,
    ) -> CoreResult<Round> {
        validate_table(players, cards)?;
        check_seat(dealer, players)?;
        let mut hands = [CardSet::EMPTY; MAX_PLAYERS];
        let mut remaining = CardSet::FULL_DECK.bits();
        for hand in hands.iter_mut().take(players) {
            let picked = rng.pick_bits(remaining, cards as u32);
            remaining &= !picked;
            *hand = CardSet(picked);
        }
        Ok(Round::with_hands_unchecked(
            hands, players, cards, dealer, trump,
        ))
    }

    /// A round with the given hands (one per seat, all the same size,
    /// disjoint).
    pub fn from_hands(hands: &[CardSet], dealer: usize, trump: Option<Suit>) -> CoreResult<Round> {
        let players = hands.len();
        if !(MIN_PLAYERS..=MAX_PLAYERS).contains(&players) {
            return Err(CoreError::InvalidPlayerCount(players));
        }
        let sizes: Vec<usize> = hands.iter().map(|h| h.len() as usize).collect();
        if sizes.iter().any(|&s| s != sizes[0]) {
            return Err(CoreError::UnevenHands(sizes));
        }
        let cards = sizes[0];
        validate_table(players, cards)?;
        check_seat(dealer, players)?;
        let mut seen = CardSet::EMPTY;
        for hand in hands {
            // A raw bit set may hold bits 52..63, which are not cards.
            if let Some(bad) = hand.minus(CardSet::FULL_DECK).lowest() {
                return Err(CoreError::InvalidCard(bad.index() as i64));
            }
            if let Some(dup) = seen.intersect(*hand).lowest() {
                return Err(CoreError::DuplicateCard(dup.index()));
            }
            seen = seen.union(*hand);
        }
        let mut all = [CardSet::EMPTY; MAX_PLAYERS];
        all[..players].copy_from_slice(hands);
        Ok(Round::with_hands_unchecked(
            all, players, cards, dealer, trump,
        ))
    }

    fn with_hands_unchecked(
        hands: [CardSet; MAX_PLAYERS],
        players: usize,
        cards: usize,
        dealer: usize,
        trump: Option<Suit>,
    ) -> Round {
        let first = ((dealer + 1) % players) as u8;
        Round {
            hands,
            played: CardSet::EMPTY,
            trick_set: CardSet::EMPTY,
            trick_cards: [0; MAX_PLAYERS],
            plays: [0; DECK_SIZE],
            bids: [NO_BID; MAX_PLAYERS],
            tricks_won: [0; MAX_PLAYERS],
            trick_winners: [0; MAX_CARDS],
            voids: [0; MAX_PLAYERS],
            players: players as u8,
            cards: cards as u8,
            dealer: dealer as u8,
            trump: trump_code(trump),
            phase: Phase::Bid,
            to_move: first,
            trick_leader: first,
            trick_len: 0,
            tricks_done: 0,
            num_plays: 0,
            bids_made: 0,
            bid_sum: 0,
        }
    }

    // ---- read access -------------------------------------------------

    #[inline]
    pub fn num_players(&self) -> usize {
        self.players as usize
    }
    /// Cards dealt to each player this round.
    #[inline]
    pub fn cards(&self) -> usize {
        self.cards as usize
    }
    #[inline]
    pub fn dealer(&self) -> usize {
        self.dealer as usize
    }
    #[inline]
    pub fn trump(&self) -> Option<Suit> {
        Suit::from_index(self.trump).ok()
    }
    #[inline]
    pub fn phase(&self) -> Phase {
        self.phase
    }
    #[inline]
    pub fn is_over(&self) -> bool {
        self.phase == Phase::Over
    }
    /// The seat to act, or None once the round is over.
    #[inline]
    pub fn current_player(&self) -> Option<usize> {
        (self.phase != Phase::Over).then_some(self.to_move as usize)
    }
    /// The cards a seat still holds.
    #[inline]
    pub fn hand(&self, seat: usize) -> CardSet {
        self.hands[seat]
    }
    pub fn hands(&self) -> &[CardSet] {
        &self.hands[..self.num_players()]
    }
    /// A seat's bid, or None before it has bid.
    #[inline]
    pub fn bid(&self, seat: usize) -> Option<usize> {
        let b = self.bids[seat];
        (b != NO_BID).then_some(b as usize)
    }
    pub fn bids(&self) -> Vec<Option<usize>> {
        (0..self.num_players()).map(|s| self.bid(s)).collect()
    }
    #[inline]
    pub fn tricks_won(&self, seat: usize) -> usize {
        self.tricks_won[seat] as usize
    }
    /// Number of bids made so far.
    #[inline]
    pub fn bids_made(&self) -> usize {
        self.bids_made as usize
    }
    /// Sum of the bids made so far.
    #[inline]
    pub fn bid_sum(&self) -> usize {
        self.bid_sum as usize
    }
    /// Winner seat of each finished trick, in order.
    pub fn trick_winners(&self) -> &[u8] {
        &self.trick_winners[..self.tricks_done as usize]
    }
    #[inline]
    pub fn tricks_done(&self) -> usize {
        self.tricks_done as usize
    }
    /// The seat that led (or will lead) the current trick.
    #[inline]
    pub fn trick_leader(&self) -> usize {
        self.trick_leader as usize
    }
    /// The current trick as (seat, card) in play order.
    pub fn current_trick(&self) -> impl ExactSizeIterator<Item = (usize, Card)> + '_ {
        let p = self.num_players();
        let leader = self.trick_leader();
        self.trick_cards[..self.trick_len as usize]
            .iter()
            .enumerate()
            .map(move |(i, &c)| ((leader + i) % p, Card::from_index_unchecked(c)))
    }
    #[inline]
    pub fn trick_len(&self) -> usize {
        self.trick_len as usize
    }
    /// The cards of the current trick.
    #[inline]
    pub fn trick_cards(&self) -> CardSet {
        self.trick_set
    }
    /// The suit led in the current trick, if a card has been led.
    #[inline]
    pub fn led_suit(&self) -> Option<Suit> {
        (self.trick_len > 0).then(|| Card::from_index_unchecked(self.trick_cards[0]).suit())
    }
    /// Every card played so far this round (current trick included).
    #[inline]
    pub fn played(&self) -> CardSet {
        self.played
    }
    /// Cards played in finished tricks.
    #[inline]
    pub fn played_in_finished_tricks(&self) -> CardSet {
        self.played.minus(self.trick_set)
    }
    /// Bit mask of the suits `seat` is publicly known to lack.
    #[inline]
    pub fn voids(&self, seat: usize) -> u8 {
        self.voids[seat]
    }
    /// Every play of the round as (seat, card), in order.
    pub fn plays(&self) -> Vec<(usize, Card)> {
        let p = self.num_players();
        let mut out = Vec::with_capacity(self.num_plays as usize);
        let mut leader = (self.dealer() + 1) % p;
        for (i, &c) in self.plays[..self.num_plays as usize].iter().enumerate() {
            let trick = i / p;
            if i % p == 0 && trick > 0 {
                leader = self.trick_winners[trick - 1] as usize;
            }
            out.push(((leader + i % p) % p, Card::from_index_unchecked(c)));
        }
        out
    }
    /// Number of cards a seat has played this round.
    #[inline]
    pub fn cards_played_by(&self, seat: usize) -> usize {
        self.cards() - self.hands[seat].len() as usize
    }

    /// The bid the dealer may not make now, when the dealer is to bid and
    /// that value lies in 0..cards.
    pub fn forbidden_bid(&self) -> Option<usize> {
        if self.phase != Phase::Bid || self.to_move != self.dealer {
            return None;
        }
        let sum = self.bid_sum as usize;
        (sum <= self.cards()).then(|| self.cards() - sum)
    }

    /// The legal actions now, as a bit set over the 66 action ids.
    #[inline]
    pub fn legal_actions(&self) -> ActionSet {
        match self.phase {
            Phase::Over => ActionSet::EMPTY,
            Phase::Bid => {
                let all_bids = ((1u128 << (self.cards as u32 + 1)) - 1) << BID_OFFSET;
                let forbidden = match self.forbidden_bid() {
                    Some(b) => 1u128 << (BID_OFFSET + b),
                    None => 0,
                };
                ActionSet(all_bids & !forbidden)
            }
            Phase::Play => ActionSet(self.playable_cards().bits() as u128),
        }
    }

    /// Cards the player to move may play (empty outside the play phase).
    #[inline]
    pub fn playable_cards(&self) -> CardSet {
        if self.phase != Phase::Play {
            return CardSet::EMPTY;
        }
        let hand = self.hands[self.to_move as usize];
        match self.led_suit() {
            Some(led) => {
                let follow = hand.of_suit(led);
                if follow.is_empty() { hand } else { follow }
            }
            None => hand,
        }
    }

    // ---- moves -----------------------------------------------------------

    /// Applies an action (a bid `52 + b` or a card index). On error the
    /// round is unchanged and the reason is in the error.
    pub fn apply(&mut self, action: usize) -> CoreResult<()> {
        match self.phase {
            Phase::Over => Err(CoreError::RoundOver),
            Phase::Bid => {
                let Some(bid) = action.checked_sub(BID_OFFSET) else {
                    return Err(self.illegal(
                        action,
                        "the round is in the bidding phase: bid with 52 + bid".into(),
                    ));
                };
                if bid > self.cards() {
                    return Err(self.illegal(
                        action,
                        format!("a bid of {bid} exceeds the {} cards in hand", self.cards),
                    ));
                }
                if self.forbidden_bid() == Some(bid) {
                    return Err(self.illegal(
                        action,
                        format!(
                            "the dealer may not bid {bid}: the bids would add up to the {} cards dealt",
                            self.cards
                        ),
                    ));
                }
                self.apply_bid(bid);
                Ok(())
            }
            Phase::Play => {
                if action >= DECK_SIZE {
                    return Err(self.illegal(
                        action,
                        "the round is in the play phase: play a card index 0..51".into(),
                    ));
                }
                let card = Card::from_index_unchecked(action as u8);
                let hand = self.hands[self.to_move as usize];
                if !hand.contains(card) {
                    return Err(self.illegal(
                        action,
                        format!("seat {} does not hold {card}", self.to_move),
                    ));
                }
                if !self.playable_cards().contains(card) {
                    let led = self.led_suit().map_or('?', Suit::symbol);
                    return Err(self.illegal(
                        action,
                        format!(
                            "seat {} must follow the led suit {led} with {card}",
                            self.to_move
                        ),
                    ));
                }
                self.apply_card(card);
                Ok(())
            }
        }
    }

    fn illegal(&self, action: usize, reason: String) -> CoreError {
        CoreError::IllegalAction {
            action: action as i64,
            reason,
        }
    }

    /// Applies an action known to be legal (from [`Round::legal_actions`]).
    /// Search uses this to skip re-validation; a debug build still checks.
    #[inline]
    pub fn apply_legal(&mut self, action: usize) {
        debug_assert!(
            self.legal_actions().contains(action),
            "illegal action {action}"
        );
        if self.phase == Phase::Bid {
            self.apply_bid(action - BID_OFFSET);
        } else {
            self.apply_card(Card::from_index_unchecked(action as u8));
        }
    }

    fn apply_bid(&mut self, bid: usize) {
        let seat = self.to_move as usize;
        self.bids[seat] = bid as u8;
        self.bids_made += 1;
        self.bid_sum += bid as u8;
        if seat == self.dealer() {
            self.phase = Phase::Play;
            self.to_move = self.trick_leader;
        } else {
            self.to_move = ((seat + 1) % self.num_players()) as u8;
        }
    }

    fn apply_card(&mut self, card: Card) {
        let seat = self.to_move as usize;
        if let Some(led) = self.led_suit()
            && card.suit() != led
        {
            self.voids[seat] |= 1 << led.index();
        }
        self.hands[seat].remove(card);
        self.played.insert(card);
        self.trick_set.insert(card);
        self.trick_cards[self.trick_len as usize] = card.index();
        self.trick_len += 1;
        self.plays[self.num_plays as usize] = card.index();
        self.num_plays += 1;
        if (self.trick_len as usize) < self.num_players() {
            self.to_move = ((seat + 1) % self.num_players()) as u8;
            return;
        }
        let winner = self.current_trick_winner();
        self.tricks_won[winner] += 1;
        self.trick_winners[self.tricks_done as usize] = winner as u8;
        self.tricks_done += 1;
        self.trick_len = 0;
        self.trick_set = CardSet::EMPTY;
        self.trick_leader = winner as u8;
        self.to_move = winner as u8;
        if self.tricks_done == self.cards {
            self.phase = Phase::Over;
        }
    }

    /// The seat currently winning the trick in progress (the leader if
    /// nothing is played yet).
    pub fn current_trick_winner(&self) -> usize {
        let Some(led) = self.led_suit() else {
            return self.trick_leader();
        };
        let trumps = match self.trump() {
            Some(t) => self.trick_set.of_suit(t),
            None => CardSet::EMPTY,
        };
        let deciding = if trumps.is_empty() {
            self.trick_set.of_suit(led)
        } else {
            trumps
        };
        // The led card is in the trick, so `deciding` is never empty.
        let best = deciding.highest().map_or(self.trick_cards[0], Card::index);
        let position = self.trick_cards[..self.trick_len as usize]
            .iter()
            .position(|&c| c == best)
            .unwrap_or(0);
        (self.trick_leader() + position) % self.num_players()
    }

    // ---- scores ------------------------------------------------------------

    /// The round score of a seat: `10 + bid` for an exact bid, else 0. Only
    /// meaningful once the round is over.
    #[inline]
    pub fn score(&self, seat: usize) -> u32 {
        match self.bid(seat) {
            Some(b) if b == self.tricks_won(seat) => 10 + b as u32,
            _ => 0,
        }
    }

    /// Round scores of every seat once over, else None.
    pub fn scores(&self) -> Option<Vec<u32>> {
        self.is_over()
            .then(|| (0..self.num_players()).map(|s| self.score(s)).collect())
    }

    /// Per-seat values in [0, 1]: score divided by `10 + cards`, entry `k`
    /// for the seat `k` places after `first`, absent seats 0. Only
    /// meaningful once the round is over.
    pub fn values_from(&self, first: usize) -> [f32; MAX_PLAYERS] {
        let p = self.num_players();
        let scale = 1.0 / (10.0 + self.cards as f32);
        let mut out = [0.0; MAX_PLAYERS];
        for (k, v) in out.iter_mut().enumerate().take(p) {
            *v = self.score((first + k) % p) as f32 * scale;
        }
        out
    }

    // ---- search support ---------------------------------------------------

    /// Replaces the hidden hands: used by determinization, which guarantees
    /// the new hands are consistent with everything public.
    pub(crate) fn set_hands(&mut self, hands: [CardSet; MAX_PLAYERS]) {
        self.hands = hands;
    }

    /// Plays the rest of the round with uniformly random legal moves.
    pub fn play_out_randomly(&mut self, rng: &mut Rng) {
        while !self.is_over() {
            let legal = self.legal_actions();
            let pick = legal.nth(rng.below(legal.len())).unwrap_or(0);
            self.apply_legal(pick);
        }
    }

    /// Convenience for tests and tools: apply a list of actions, stopping at
    /// the first error.
    pub fn apply_all(&mut self, actions: &[usize]) -> CoreResult<()> {
        actions.iter().try_for_each(|&a| self.apply(a))
    }
}

fn check_seat(seat: usize, players: usize) -> CoreResult<()> {
    if seat < players {
        Ok(())
    } else {
        Err(CoreError::InvalidSeat { seat, players })
    }
}
