//! A rule-based Blob player: a deterministic baseline opponent and a cheap,
//! informed evaluator for tests.
//!
//! It uses only what the seat to move may know: its own hand, the trump, the
//! bids, the cards played (and the publicly known voids they reveal), the
//! current trick and the tricks won. It never reads another seat's hand, so
//! its move is the same in every determinization of the position (a test
//! checks this).
//!
//! - Bidding: a sum of per-card winning chances (aces, protected honours,
//!   trumps with a length bonus, ruffing chances of short side suits), where
//!   the chance that a higher card is out against us and the risk of being
//!   ruffed depend on the number of players and the hand size; rounded,
//!   clamped to `0..=cards`, and moved to the nearest legal bid when the
//!   dealer rule forbids it.
//! - Play: while the seat still needs tricks it wins the current trick as
//!   cheaply as it can (the lowest card that wins now and is likely to hold;
//!   on lead, a sure winner if it has one), otherwise it ducks (the highest
//!   card that does not win the trick; on lead, its most beatable card).

use blob_core::{BID_OFFSET, Card, CardSet, MAX_PLAYERS, NUM_ACTIONS, Phase, Round, Suit};

use crate::evaluator::{Evaluator, LeafBatch};

/// The heuristic's move for the player to move in `round`: a bid
/// (`52 + b`) in the bidding phase, a card index in the play phase. Always a
/// legal action. The round must not be over (returns 0 if it is).
pub fn heuristic_action(round: &Round) -> usize {
    match round.phase() {
        Phase::Bid => BID_OFFSET + heuristic_bid(round),
        Phase::Play => heuristic_card(round).index() as usize,
        Phase::Over => 0,
    }
}

/// Plays the rest of the round with the heuristic for every seat.
pub fn play_out_heuristic(round: &mut Round) {
    while !round.is_over() {
        round.apply_legal(heuristic_action(round));
    }
}

// ---- bidding ------------------------------------------------------------

/// `P(X <= k)` for `X ~ Binomial(n, q)`.
fn binomial_cdf(n: usize, q: f32, k: usize) -> f32 {
    let q = q.clamp(0.0, 1.0);
    let mut term = (1.0 - q).powi(n as i32); // P(X = 0)
    let mut sum = term;
    for i in 0..k.min(n) {
        // P(X = i + 1) = P(X = i) * (n - i) / (i + 1) * q / (1 - q)
        if q >= 1.0 {
            return if k >= n { 1.0 } else { 0.0 };
        }
        term *= (n - i) as f32 / (i + 1) as f32 * q / (1.0 - q);
        sum += term;
    }
    sum.min(1.0)
}

/// The expected number of tricks the hand of `seat` takes, by the
/// heuristic's rules of thumb. Uses only the seat's own hand, the trump and
/// the table size.
pub fn estimate_tricks(round: &Round, seat: usize) -> f32 {
    let hand = round.hand(seat);
    let players = round.num_players() as f32;
    let cards = round.cards();
    let trump = round.trump();
    // Cards the seat cannot see, and the chance that one of them sits in an
    // opponent's hand rather than in the undealt rest of the deck.
    let unseen = (52 - cards) as f32;
    let dealt_out = ((players - 1.0) * cards as f32 / unseen).min(1.0);
    let my_trumps = trump.map_or(0, |t| hand.of_suit(t).len() as usize);
    // The chance that one opponent holds at least one trump.
    let opp_has_trump = match trump {
        Some(_) => 1.0 - (1.0 - (13 - my_trumps) as f32 / unseen).powi(cards as i32),
        None => 0.0,
    };
    let mut total = 0.0;
    let mut low_trumps = 0usize;
    let mut ruff_chances = 0.0f32;
    for suit in Suit::ALL {
        let mut mine: Vec<Card> = hand.of_suit(suit).to_vec();
        mine.reverse(); // high to low
        let len = mine.len();
        let is_trump = trump == Some(suit);
        // The chance that one card of an opponent is of this suit.
        let share = (13 - len) as f32 / unseen;
        for (k, card) in mine.iter().enumerate() {
            // Higher cards of the suit not in this hand (the k above are ours).
            let higher = 12 - card.rank() as usize - k;
            let mut win = (1.0 - dealt_out).powi(higher as i32);
            let below = len - k - 1;
            if higher > 0 && below >= higher {
                // Protected: it can wait for the higher cards to fall.
                win = win.max(if is_trump { 0.6 } else { 0.4 });
            }
            if is_trump {
                if k >= 3 {
                    // Long trumps win once the others are drawn.
                    win = win.max(0.75);
                }
                if win < 0.5 {
                    low_trumps += 1;
                }
            } else {
                if higher > 0 {
                    // A non-top card also needs the lead or luck.
                    win *= 0.7;
                }
                if trump.is_some() {
                    // The suit goes round k times before this card can win;
                    // any opponent short of it by then may ruff.
                    let short = binomial_cdf(cards, share, k);
                    let ruff = 0.7 * short * opp_has_trump;
                    win *= (1.0 - ruff).powf(players - 1.0);
                }
            }
            total += win;
        }
        if !is_trump && trump.is_some() && cards >= 2 {
            match len {
                0 => ruff_chances += 0.5,
                1 if cards >= 3 => ruff_chances += 0.25,
                _ => {}
            }
        }
    }
    // Low trumps win tricks by ruffing suits we are short in.
    total + ruff_chances.min(low_trumps as f32) * 0.8
}

/// The heuristic's bid (0..=cards) for the player to move.
fn heuristic_bid(round: &Round) -> usize {
    let seat = round.current_player().unwrap_or(0);
    let cards = round.cards();
    let estimate = estimate_tricks(round, seat);
    let bid = ((estimate + 0.45).floor().max(0.0) as usize).min(cards);
    match round.forbidden_bid() {
        Some(f) if f == bid => {
            let up = (bid < cards).then_some(bid + 1);
            let down = bid.checked_sub(1);
            match (down, up) {
                (Some(d), Some(u)) => {
                    if estimate >= bid as f32 {
                        u
                    } else {
                        d
                    }
                }
                (Some(d), None) => d,
                (None, Some(u)) => u,
                // cards >= 1, so one side always exists.
                (None, None) => bid,
            }
        }
        _ => bid,
    }
}

// ---- play -----------------------------------------------------------------

#[inline]
fn is_trump(card: Card, trump: Option<Suit>) -> bool {
    trump == Some(card.suit())
}

/// Whether `card` beats `best`, the card currently winning a trick.
#[inline]
fn beats(card: Card, best: Card, trump: Option<Suit>) -> bool {
    if card.suit() == best.suit() {
        card.rank() > best.rank()
    } else {
        is_trump(card, trump)
    }
}

/// Cards of `card`'s suit ranked above it.
#[inline]
fn above(card: Card) -> CardSet {
    let suit = card.suit().cards().bits();
    let upto = (1u64 << (card.index() + 1)) - 1;
    CardSet(suit & !upto)
}

/// How strong a card is to hold: trumps above every plain card, then rank.
#[inline]
fn strength(card: Card, trump: Option<Suit>) -> u8 {
    card.rank() + if is_trump(card, trump) { 13 } else { 0 }
}

/// What the seat to move knows about the play, gathered once.
struct View {
    me: usize,
    players: usize,
    trump: Option<Suit>,
    /// Cards the seat cannot see: neither in its hand nor played.
    unseen: CardSet,
    /// Seats still to play in the current trick after the mover.
    after: Vec<usize>,
    /// Publicly known voids per seat.
    voids: [u8; MAX_PLAYERS],
}

impl View {
    fn new(round: &Round) -> View {
        let me = round.current_player().unwrap_or(0);
        let players = round.num_players();
        let unseen = CardSet::FULL_DECK
            .minus(round.hand(me))
            .minus(round.played());
        let after = (round.trick_len() + 1..players)
            .map(|i| (round.trick_leader() + i) % players)
            .collect();
        let mut voids = [0u8; MAX_PLAYERS];
        for (s, v) in voids.iter_mut().enumerate().take(players) {
            *v = round.voids(s);
        }
        View {
            me,
            players,
            trump: round.trump(),
            unseen,
            after,
            voids,
        }
    }

    fn known_void(&self, seat: usize, suit: Suit) -> bool {
        self.voids[seat] >> suit.index() & 1 == 1
    }

    /// Unseen cards that would beat `card` if it were winning the trick.
    fn beaters(&self, card: Card) -> u32 {
        let mut n = self.unseen.intersect(above(card)).len();
        if let Some(t) = self.trump
            && card.suit() != t
        {
            n += self.unseen.of_suit(t).len();
        }
        n
    }

    /// Whether `card`, winning the trick after the mover plays it, may still
    /// be beaten by one of `seats` (who play after it), as far as the mover
    /// can tell: a higher unseen card of its suit held by a seat not known
    /// void there, or a ruff by a seat known void in `card`'s suit that may
    /// hold a trump. Unknown voids are not guessed.
    fn at_risk(&self, card: Card, seats: &[usize]) -> bool {
        let suit = card.suit();
        let higher = !self.unseen.intersect(above(card)).is_empty();
        seats.iter().any(|&s| {
            let overtake = higher && !self.known_void(s, suit);
            let ruff = match self.trump {
                Some(t) if t != suit => {
                    self.known_void(s, suit)
                        && !self.known_void(s, t)
                        && !self.unseen.of_suit(t).is_empty()
                }
                _ => false,
            };
            overtake || ruff
        })
    }
}

/// The card the heuristic plays for the player to move.
fn heuristic_card(round: &Round) -> Card {
    let view = View::new(round);
    let legal = round.playable_cards();
    let cards = legal.to_vec();
    debug_assert!(!cards.is_empty());
    let trump = view.trump;
    let need_more = round
        .bid(view.me)
        .is_some_and(|b| round.tricks_won(view.me) < b);

    // Leading.
    let Some(best_now) = current_best(round) else {
        let others: Vec<usize> = (1..view.players)
            .map(|i| (view.me + i) % view.players)
            .collect();
        return if need_more {
            // A sure winner if there is one (trumps first: they cannot be
            // ruffed), else the card with the fewest beaters out.
            let sure = cards
                .iter()
                .copied()
                .filter(|&c| !view.at_risk(c, &others))
                .min_by_key(|&c| (!is_trump(c, trump), view.beaters(c), c.rank(), c.index()));
            sure.unwrap_or_else(|| {
                *cards
                    .iter()
                    .min_by_key(|&&c| (view.beaters(c), is_trump(c, trump), c.rank(), c.index()))
                    .expect("a legal card")
            })
        } else {
            // The card most likely to be beaten: most unseen cards above it
            // in its suit, no trump unless nothing else.
            *cards
                .iter()
                .min_by_key(|&&c| {
                    (
                        is_trump(c, trump),
                        std::cmp::Reverse(view.unseen.intersect(above(c)).len()),
                        c.rank(),
                        c.index(),
                    )
                })
                .expect("a legal card")
        };
    };

    let winners: Vec<Card> = cards
        .iter()
        .copied()
        .filter(|&c| beats(c, best_now, trump))
        .collect();
    let losers: Vec<Card> = cards
        .iter()
        .copied()
        .filter(|&c| !beats(c, best_now, trump))
        .collect();
    let last = view.after.is_empty();
    let cheapest = |set: &[Card]| {
        set.iter()
            .copied()
            .min_by_key(|&c| (strength(c, trump), c.index()))
    };
    let dearest = |set: &[Card]| {
        set.iter()
            .copied()
            .max_by_key(|&c| (strength(c, trump), std::cmp::Reverse(c.index())))
    };
    if need_more {
        if winners.is_empty() {
            // Cannot win: throw the least useful card.
            return cheapest(&losers).expect("a legal card");
        }
        if last {
            return cheapest(&winners).expect("a winner");
        }
        let safe: Vec<Card> = winners
            .iter()
            .copied()
            .filter(|&c| !view.at_risk(c, &view.after))
            .collect();
        if let Some(c) = cheapest(&safe) {
            return c;
        }
        // Nothing sure: the winner with the fewest cards out that beat it.
        winners
            .iter()
            .copied()
            .min_by_key(|&c| (view.beaters(c), strength(c, trump), c.index()))
            .expect("a winner")
    } else {
        if let Some(c) = dearest(&losers) {
            // A card that does not beat the current winner never wins the
            // trick: get rid of the most dangerous one.
            return c;
        }
        if last {
            // The trick is ours anyway: spend the strongest card on it.
            return dearest(&winners).expect("a legal card");
        }
        // Everything wins for now: the card most likely to be overtaken.
        winners
            .iter()
            .copied()
            .max_by_key(|&c| {
                (
                    view.beaters(c),
                    std::cmp::Reverse(strength(c, trump)),
                    c.index(),
                )
            })
            .expect("a legal card")
    }
}

/// The card currently winning the trick, or None before the lead.
fn current_best(round: &Round) -> Option<Card> {
    let trump = round.trump();
    round.current_trick().map(|(_, c)| c).reduce(
        |best, c| {
            if beats(c, best, trump) { c } else { best }
        },
    )
}

// ---- evaluator -----------------------------------------------------------

/// An evaluator built on the heuristic: policy logits peaked on the
/// heuristic's move (`peak` on it, 0 elsewhere) and the exact values of one
/// playout of the round with the heuristic in every seat. Deterministic.
#[derive(Clone, Debug)]
pub struct HeuristicEvaluator {
    /// Logit of the heuristic's move (others get 0).
    pub peak: f32,
}

impl HeuristicEvaluator {
    pub fn new() -> HeuristicEvaluator {
        HeuristicEvaluator { peak: 2.0 }
    }
}

impl Default for HeuristicEvaluator {
    fn default() -> Self {
        Self::new()
    }
}

impl Evaluator for HeuristicEvaluator {
    fn evaluate(&mut self, batch: &LeafBatch<'_>, policy: &mut [f32], values: &mut [f32]) {
        for (i, state) in batch.states.iter().enumerate() {
            let logits = &mut policy[i * NUM_ACTIONS..(i + 1) * NUM_ACTIONS];
            logits.fill(0.0);
            let row = &mut values[i * MAX_PLAYERS..(i + 1) * MAX_PLAYERS];
            let seat = batch.observers[i] as usize;
            if !state.is_over() {
                logits[heuristic_action(state)] = self.peak;
            }
            let mut end = *state;
            play_out_heuristic(&mut end);
            row.copy_from_slice(&end.values_from(seat));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blob_core::determinize::determinize;
    use blob_core::{Rng, action::describe};

    fn set(names: &[&str]) -> CardSet {
        names.iter().map(|n| Card::parse(n).unwrap()).collect()
    }

    fn card(name: &str) -> usize {
        Card::parse(name).unwrap().index() as usize
    }

    /// Four hands of five cards: seat 0's given, the rest filled from the
    /// deck in order.
    fn table4(first: &[&str], dealer: usize, trump: Option<Suit>) -> Round {
        let mine = set(first);
        let mut rest = CardSet::FULL_DECK.minus(mine).to_vec().into_iter();
        let mut hands = vec![mine];
        for _ in 0..3 {
            hands.push(rest.by_ref().take(5).collect());
        }
        Round::from_hands(&hands, dealer, trump).unwrap()
    }

    #[test]
    fn bids_high_on_a_strong_hand_and_zero_on_a_weak_one() {
        // Dealer 3: seat 0 bids first.
        let strong = table4(&["AS", "KS", "QS", "AH", "AC"], 3, Some(Suit::Spades));
        let est = estimate_tricks(&strong, 0);
        let bid = heuristic_action(&strong) - BID_OFFSET;
        assert!(bid >= 4, "strong hand bid {bid} (estimate {est})");

        let weak = table4(&["2H", "3H", "4C", "5D", "6D"], 3, Some(Suit::Spades));
        assert_eq!(heuristic_action(&weak), BID_OFFSET, "weak hand bids 0");

        // A middling hand: one sure trump winner, one side ace.
        let mid = table4(&["AS", "4S", "AH", "7C", "3D"], 3, Some(Suit::Spades));
        let bid = heuristic_action(&mid) - BID_OFFSET;
        assert!((1..=3).contains(&bid), "middling hand bid {bid}");
    }

    #[test]
    fn more_players_lower_the_value_of_kings() {
        // A bare-ish king of a side suit is worth less at a bigger table.
        let hand = ["KH", "7H", "2C", "3C", "4D"];
        let r4 = table4(&hand, 3, None);
        let mine = set(&hand);
        let mut rest = CardSet::FULL_DECK.minus(mine).to_vec().into_iter();
        let mut hands = vec![mine];
        for _ in 0..7 {
            hands.push(rest.by_ref().take(5).collect());
        }
        let r8 = Round::from_hands(&hands, 7, None).unwrap();
        assert!(estimate_tricks(&r8, 0) < estimate_tricks(&r4, 0));
    }

    #[test]
    fn dealer_avoids_the_forbidden_bid() {
        // Seat 0 is the dealer and bids last; others bid 1, 1, 1 of 5 cards,
        // so 2 is forbidden. A hand worth about two tricks must move.
        let mut r = table4(&["AS", "KS", "2H", "3C", "4D"], 0, Some(Suit::Spades));
        r.apply_all(&[BID_OFFSET + 1, BID_OFFSET + 1, BID_OFFSET + 1])
            .unwrap();
        assert_eq!(r.current_player(), Some(0));
        assert_eq!(r.forbidden_bid(), Some(2));
        let est = estimate_tricks(&r, 0);
        assert!((1.5..2.5).contains(&est), "estimate {est}");
        let a = heuristic_action(&r);
        assert!(r.legal_actions().contains(a), "{}", describe(a));
        assert!(
            a == BID_OFFSET + 1 || a == BID_OFFSET + 3,
            "{}",
            describe(a)
        );
    }

    /// Three players with given hands; seat 0 deals, seat 1 leads.
    fn table3(hands: [&[&str]; 3], trump: Option<Suit>, bids: [usize; 3]) -> Round {
        let hands: Vec<CardSet> = hands.iter().map(|h| set(h)).collect();
        let mut r = Round::from_hands(&hands, 0, trump).unwrap();
        // Bidding order: 1, 2, 0 (dealer).
        r.apply_all(&[
            BID_OFFSET + bids[1],
            BID_OFFSET + bids[2],
            BID_OFFSET + bids[0],
        ])
        .unwrap();
        r
    }

    #[test]
    fn follows_suit() {
        let mut r = table3(
            [
                &["2H", "9S", "AD"],
                &["KH", "3C", "4C"],
                &["5H", "6C", "7D"],
            ],
            Some(Suit::Spades),
            [1, 0, 1],
        );
        r.apply(card("KH")).unwrap(); // seat 1 leads hearts
        r.apply(card("5H")).unwrap(); // seat 2 follows
        assert_eq!(heuristic_action(&r), card("2H"), "must follow hearts");
    }

    #[test]
    fn ducks_once_the_bid_is_made() {
        // Seat 2 bid 0 and must not win: on a low club lead it plays the
        // highest club that still loses, not the ace.
        let mut r = table3(
            [
                &["2H", "9S", "AD"],
                &["8C", "3D", "4H"],
                &["AC", "7C", "5C"],
            ],
            Some(Suit::Spades),
            [1, 1, 0],
        );
        r.apply(card("8C")).unwrap();
        assert_eq!(heuristic_action(&r), card("7C"));
        // When leading with the bid made, it leads its most beatable card.
        let r = table3(
            [
                &["2H", "9S", "AD"],
                &["AC", "KH", "3D"],
                &["5C", "7C", "QH"],
            ],
            Some(Suit::Spades),
            [1, 0, 1],
        );
        assert_eq!(heuristic_action(&r), card("3D"));
    }

    #[test]
    fn takes_a_trick_it_needs() {
        // Seat 2 bid 1 and has none: on a king of clubs it wins with the
        // ace, the cheapest winning club.
        let mut r = table3(
            [
                &["2H", "9S", "AD"],
                &["KC", "3D", "4H"],
                &["AC", "7C", "5H"],
            ],
            Some(Suit::Spades),
            [1, 0, 1],
        );
        r.apply(card("KC")).unwrap();
        assert_eq!(heuristic_action(&r), card("AC"));
        // Void in the led suit and last to play: ruff with the lowest trump.
        let mut r = table3(
            [
                &["3S", "QS", "2D"],
                &["KH", "3D", "4C"],
                &["5H", "6C", "7D"],
            ],
            Some(Suit::Spades),
            [1, 0, 1],
        );
        r.apply(card("KH")).unwrap();
        r.apply(card("5H")).unwrap();
        assert_eq!(heuristic_action(&r), card("3S"));
        // Leading while needing a trick: the ace of trumps is a sure winner.
        let r = table3(
            [
                &["2H", "9S", "AD"],
                &["AS", "3D", "4H"],
                &["KC", "7C", "5H"],
            ],
            Some(Suit::Spades),
            [1, 1, 0],
        );
        assert_eq!(heuristic_action(&r), card("AS"));
    }

    #[test]
    fn legal_and_blind_to_hidden_hands() {
        // On random positions the move is legal and does not change when
        // the other hands are redealt consistently with the mover's view.
        let mut rng = Rng::new(11);
        for _ in 0..400 {
            let players = 3 + rng.below(6) as usize;
            let cards = 1 + rng.below((52 / players).min(13) as u32) as usize;
            let trump = Suit::from_index(rng.below(5) as u8).ok();
            let dealer = rng.below(players as u32) as usize;
            let mut r = Round::deal(players, cards, dealer, trump, &mut rng).unwrap();
            let steps = rng.below((players * (cards + 1)) as u32);
            for _ in 0..steps {
                if r.is_over() {
                    break;
                }
                let a = heuristic_action(&r);
                assert!(r.legal_actions().contains(a), "illegal {}", describe(a));
                let seat = r.current_player().unwrap();
                let other = determinize(&r, seat, &mut rng).unwrap();
                assert_eq!(heuristic_action(&other), a);
                r.apply_legal(a);
            }
        }
    }

    #[test]
    fn evaluator_peaks_on_the_heuristic_move_and_scores_the_playout() {
        let mut rng = Rng::new(5);
        let r = Round::deal(4, 5, 0, Some(Suit::Hearts), &mut rng).unwrap();
        let states = [r];
        let batch = LeafBatch {
            states: &states,
            observers: &[2],
            obs: &[],
            masks: &[],
        };
        let mut policy = vec![0.0; NUM_ACTIONS];
        let mut values = vec![0.0; MAX_PLAYERS];
        HeuristicEvaluator::new().evaluate(&batch, &mut policy, &mut values);
        let a = heuristic_action(&r);
        assert_eq!(policy[a], 2.0);
        assert_eq!(policy.iter().filter(|&&p| p != 0.0).count(), 1);
        let mut end = r;
        play_out_heuristic(&mut end);
        // Values take the observer's point of view (seat 2), not the mover's (seat 1).
        assert_eq!(values, end.values_from(2).to_vec());
    }
}
