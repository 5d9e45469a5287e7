//! Conformance of `Round` to the rules on random tables and random playouts.
//!
//! Every step of every playout is checked against invariants that follow
//! from the rules (`docs/rules.md`) and against an independent, deliberately
//! naive re-implementation of legal moves and trick winners.

use blob_core::action::is_bid;
use blob_core::{
    ActionSet, BID_OFFSET, Card, CardSet, CoreError, MAX_CARDS, MAX_PLAYERS, MIN_PLAYERS,
    NUM_ACTIONS, Phase, Rng, Round, Suit,
};
use proptest::prelude::*;

/// A random table: players, cards, dealer, trump (4 = none), seed.
fn table() -> impl Strategy<Value = (usize, usize, usize, u8, u64)> {
    (MIN_PLAYERS..=MAX_PLAYERS).prop_flat_map(|players| {
        let max_cards = (52 / players).min(MAX_CARDS);
        (
            Just(players),
            1..=max_cards,
            0..players,
            0u8..=4,
            any::<u64>(),
        )
    })
}

fn trump_of(code: u8) -> Option<Suit> {
    Suit::from_index(code).ok()
}

/// Naive legal actions from the rules, without bit tricks.
fn reference_legal(r: &Round) -> Vec<usize> {
    match r.phase() {
        Phase::Over => vec![],
        Phase::Bid => {
            let seat = r.current_player().unwrap();
            let sum: usize = r.bids().iter().flatten().sum();
            (0..=r.cards())
                .filter(|&b| !(seat == r.dealer() && sum + b == r.cards()))
                .map(|b| BID_OFFSET + b)
                .collect()
        }
        Phase::Play => {
            let seat = r.current_player().unwrap();
            let hand = r.hand(seat).to_vec();
            let led = r.current_trick().next().map(|(_, c)| c.suit());
            let can_follow = led.is_some_and(|s| hand.iter().any(|c| c.suit() == s));
            hand.iter()
                .filter(|c| !can_follow || Some(c.suit()) == led)
                .map(|c| c.index() as usize)
                .collect()
        }
    }
}

/// Naive trick winner: the highest trump if any, else the highest card of
/// the led suit.
fn reference_winner(trick: &[(usize, Card)], trump: Option<Suit>) -> usize {
    let led = trick[0].1.suit();
    let beats = |a: Card, b: Card| -> bool {
        // Does a beat b (b currently winning)?
        let a_trump = Some(a.suit()) == trump;
        let b_trump = Some(b.suit()) == trump;
        match (a_trump, b_trump) {
            (true, false) => true,
            (false, true) => false,
            (true, true) => a.rank() > b.rank(),
            (false, false) => a.suit() == led && b.suit() == led && a.rank() > b.rank(),
        }
    };
    let mut best = trick[0];
    for &(seat, card) in &trick[1..] {
        if beats(card, best.1) {
            best = (seat, card);
        }
    }
    best.0
}

/// Checks every invariant of a round state. `log` is the sequence of
/// (seat, action) applied so far.
fn check_state(r: &Round, dealt: &[CardSet], log: &[(usize, usize)]) {
    let p = r.num_players();
    let c = r.cards();

    // Every card accounted for: hands and played are pairwise disjoint and
    // together are exactly the dealt cards.
    let mut union = CardSet::EMPTY;
    for (seat, &dealt_hand) in dealt.iter().enumerate().take(p) {
        let hand = r.hand(seat);
        assert!(union.intersect(hand).is_empty(), "hands overlap");
        assert!(
            hand.intersect(r.played()).is_empty(),
            "hand holds a played card"
        );
        assert!(hand.minus(dealt_hand).is_empty(), "hand gained a card");
        union = union.union(hand);
        assert_eq!(hand.len() as usize + r.cards_played_by(seat), c);
    }
    let all_dealt = dealt.iter().fold(CardSet::EMPTY, |a, &h| a.union(h));
    assert_eq!(union.union(r.played()), all_dealt);
    assert_eq!(union.len() as usize + r.played().len() as usize, p * c);
    assert_eq!(all_dealt.len() as usize, p * c);

    // Current player and legal actions exist exactly while not over.
    assert_eq!(r.current_player().is_some(), !r.is_over());
    assert_eq!(r.legal_actions().is_empty(), r.is_over());
    assert_eq!(r.phase() == Phase::Over, r.is_over());
    let legal = r.legal_actions();
    assert_eq!(legal.to_vec(), reference_legal(r));
    assert_eq!(legal.len() as usize, legal.to_vec().len());
    assert!(legal.iter().all(|a| a < NUM_ACTIONS));
    match r.phase() {
        Phase::Bid => assert!(legal.iter().all(is_bid)),
        Phase::Play => {
            assert!(legal.iter().all(|a| a < BID_OFFSET));
            assert_eq!(ActionSet(r.playable_cards().bits() as u128), legal);
        }
        Phase::Over => {}
    }

    // Tricks.
    assert_eq!(r.trick_winners().len(), r.tricks_done());
    assert!(r.tricks_done() <= c);
    let won: usize = (0..p).map(|s| r.tricks_won(s)).sum();
    assert_eq!(won, r.tricks_done());
    for s in 0..p {
        let count = r
            .trick_winners()
            .iter()
            .filter(|&&w| w as usize == s)
            .count();
        assert_eq!(count, r.tricks_won(s));
    }
    assert_eq!(
        r.played().len() as usize,
        r.tricks_done() * p + r.trick_len()
    );
    assert_eq!(r.trick_cards().len() as usize, r.trick_len());
    assert_eq!(
        r.played_in_finished_tricks().len() as usize,
        r.tricks_done() * p
    );
    assert!(r.trick_len() < p);
    let expected_leader = match r.trick_winners().last() {
        Some(&w) => w as usize,
        None => (r.dealer() + 1) % p,
    };
    assert_eq!(r.trick_leader(), expected_leader);
    if r.phase() == Phase::Play {
        assert_eq!(
            r.current_player(),
            Some((r.trick_leader() + r.trick_len()) % p)
        );
    }

    // Bids.
    let bids = r.bids();
    assert_eq!(bids.iter().flatten().count(), r.bids_made());
    assert_eq!(bids.iter().flatten().sum::<usize>(), r.bid_sum());
    assert!(bids.iter().flatten().all(|&b| b <= c));
    match r.phase() {
        Phase::Bid => {
            let seat = r.current_player().unwrap();
            assert_eq!(seat, (r.dealer() + 1 + r.bids_made()) % p);
            assert_eq!(
                r.forbidden_bid().is_some(),
                seat == r.dealer() && r.bid_sum() <= c
            );
        }
        _ => {
            assert_eq!(r.bids_made(), p);
            assert_ne!(r.bid_sum(), c, "bids add up to the cards dealt");
            assert_eq!(r.forbidden_bid(), None);
        }
    }

    // Voids are public deductions and must be true.
    for s in 0..p {
        for suit in Suit::ALL {
            if r.voids(s) >> suit.index() & 1 == 1 {
                assert!(r.hand(s).of_suit(suit).is_empty());
            }
        }
        assert!(r.voids(s) < 16);
    }

    // plays() is the applied cards with the seats that played them.
    let cards_log: Vec<(usize, Card)> = log
        .iter()
        .filter(|&&(_, a)| a < BID_OFFSET)
        .map(|&(s, a)| (s, Card::new(a as u8).unwrap()))
        .collect();
    assert_eq!(r.plays(), cards_log);
    let current: Vec<(usize, Card)> = r.current_trick().collect();
    assert_eq!(&current[..], &cards_log[cards_log.len() - r.trick_len()..]);

    // Scores once over.
    if r.is_over() {
        assert_eq!(r.tricks_done(), c);
        assert_eq!(won, c);
        let scores = r.scores().unwrap();
        assert_eq!(scores.len(), p);
        for (s, &sc) in scores.iter().enumerate() {
            assert!(sc == 0 || (10..=10 + c as u32).contains(&sc), "score {sc}");
            let exact = r.bid(s) == Some(r.tricks_won(s));
            assert_eq!(sc != 0, exact);
            if exact {
                assert_eq!(sc as usize, 10 + r.tricks_won(s));
            }
            assert!(r.hand(s).is_empty());
        }
        let values = r.values_from(0);
        for s in 0..MAX_PLAYERS {
            let expected = if s < p {
                scores[s] as f32 / (10.0 + c as f32)
            } else {
                0.0
            };
            assert!(
                (values[s] - expected).abs() < 1e-6,
                "{} vs {expected}",
                values[s]
            );
            assert!((0.0..=1.0).contains(&values[s]));
        }
    } else {
        assert_eq!(r.scores(), None);
    }
}

/// Plays a random round to the end, checking everything at every step.
fn random_playout(players: usize, cards: usize, dealer: usize, trump: Option<Suit>, seed: u64) {
    let mut rng = Rng::new(seed);
    let mut r = Round::deal(players, cards, dealer, trump, &mut rng).unwrap();
    assert_eq!(
        (r.num_players(), r.cards(), r.dealer(), r.trump()),
        (players, cards, dealer, trump)
    );
    let dealt: Vec<CardSet> = r.hands().to_vec();
    // A round rebuilt from the same hands is the same round.
    assert_eq!(Round::from_hands(&dealt, dealer, trump).unwrap(), r);
    let mut log: Vec<(usize, usize)> = Vec::new();
    let mut steps = 0;
    loop {
        check_state(&r, &dealt, &log);
        if r.is_over() {
            break;
        }
        let legal = r.legal_actions();
        let seat = r.current_player().unwrap();

        // Every legal action applies, through both entry points alike.
        for a in legal.iter() {
            let mut copy = r;
            copy.apply(a)
                .unwrap_or_else(|e| panic!("legal action {a} failed: {e}"));
            let mut fast = r;
            fast.apply_legal(a);
            assert_eq!(copy, fast);
        }

        // A sampled illegal action fails and leaves the round unchanged.
        let illegal: Vec<usize> = (0..NUM_ACTIONS + 2)
            .filter(|&a| !legal.contains(a))
            .collect();
        let a = illegal[rng.below(illegal.len() as u32) as usize];
        let mut copy = r;
        let err = copy.apply(a).unwrap_err();
        assert!(matches!(err, CoreError::IllegalAction { .. }), "{err:?}");
        assert_eq!(copy, r);

        // Move on with a random legal action; check the trick winner when a
        // trick completes.
        let a = legal.nth(rng.below(legal.len())).unwrap();
        let trick_before: Vec<(usize, Card)> = r.current_trick().collect();
        let done_before = r.tricks_done();
        r.apply(a).unwrap();
        log.push((seat, a));
        if r.tricks_done() > done_before {
            let mut full = trick_before;
            full.push((seat, Card::new(a as u8).unwrap()));
            assert_eq!(full.len(), players);
            let w = reference_winner(&full, trump);
            assert_eq!(*r.trick_winners().last().unwrap() as usize, w);
            assert_eq!(r.trick_leader(), w);
        } else if r.phase() == Phase::Play && r.trick_len() > 0 {
            let so_far: Vec<(usize, Card)> = r.current_trick().collect();
            assert_eq!(r.current_trick_winner(), reference_winner(&so_far, trump));
        }
        steps += 1;
    }
    assert_eq!(steps, players + players * cards);
    let after = r;
    for a in [0, 51, 52, 65, 66] {
        assert_eq!(r.apply(a), Err(CoreError::RoundOver));
        assert_eq!(r, after);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn random_playouts_conform((players, cards, dealer, trump, seed) in table()) {
        random_playout(players, cards, dealer, trump_of(trump), seed);
    }

    #[test]
    fn play_out_randomly_ends_in_a_valid_state((players, cards, dealer, trump, seed) in table()) {
        let mut rng = Rng::new(seed);
        let mut r = Round::deal(players, cards, dealer, trump_of(trump), &mut rng).unwrap();
        let dealt = r.hands().to_vec();
        r.play_out_randomly(&mut rng);
        prop_assert!(r.is_over());
        let log: Vec<(usize, usize)> = r
            .plays()
            .iter()
            .map(|&(s, c)| (s, c.index() as usize))
            .collect();
        check_state(&r, &dealt, &log);
    }

    #[test]
    fn deals_are_valid_and_reproducible((players, cards, dealer, trump, seed) in table()) {
        let a = Round::deal(players, cards, dealer, trump_of(trump), &mut Rng::new(seed)).unwrap();
        let b = Round::deal(players, cards, dealer, trump_of(trump), &mut Rng::new(seed)).unwrap();
        prop_assert_eq!(a, b);
        let mut all = CardSet::EMPTY;
        for h in a.hands() {
            prop_assert_eq!(h.len() as usize, cards);
            prop_assert!(all.intersect(*h).is_empty());
            all = all.union(*h);
        }
        prop_assert!(all.minus(CardSet::FULL_DECK).is_empty());
        prop_assert_eq!(a.phase(), Phase::Bid);
        prop_assert_eq!(a.current_player(), Some((dealer + 1) % players));
    }
}

/// Every table size, every card count, every dealer, every trump: one
/// playout each, so no combination is left to chance.
#[test]
fn every_table_card_count_dealer_and_trump() {
    let mut seeds = Rng::new(2024);
    for players in MIN_PLAYERS..=MAX_PLAYERS {
        for cards in 1..=(52 / players).min(MAX_CARDS) {
            for dealer in 0..players {
                for trump in 0..=4u8 {
                    random_playout(players, cards, dealer, trump_of(trump), seeds.next_u64());
                }
            }
        }
    }
}
