//! Tests of the 256-float observation (`docs/observation.md`).
//!
//! Two kinds: (1) the observation of a seat never changes when only cards
//! hidden from that seat change; (2) hand-worked states pin the fields, using
//! the named offsets of `blob_core::observation`.

use blob_core::game::GameContext;
use blob_core::observation::*;
use blob_core::{
    BID_OFFSET, Card, CardSet, CoreError, Game, MAX_CARDS, MAX_PLAYERS, MIN_PLAYERS, Rng, Round,
    Suit,
};
use proptest::prelude::*;

// ---- helpers -----------------------------------------------------------------

fn c(name: &str) -> Card {
    Card::parse(name).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn h(names: &[&str]) -> CardSet {
    names.iter().map(|n| c(n)).collect()
}

fn play(name: &str) -> usize {
    c(name).index() as usize
}

fn bid(b: usize) -> usize {
    BID_OFFSET + b
}

fn obs(r: &Round, seat: usize) -> [f32; OBS_SIZE] {
    observation(r, seat, None).unwrap()
}

fn obs_ctx(r: &Round, seat: usize, ctx: &GameContext) -> [f32; OBS_SIZE] {
    observation(r, seat, Some(ctx)).unwrap()
}

/// The observation as raw bit patterns, for bit-identical comparison.
fn bits(o: &[f32; OBS_SIZE]) -> Vec<u32> {
    o.iter().map(|x| x.to_bits()).collect()
}

fn seat_field(rel: usize, field: usize) -> usize {
    SEATS + rel * SEAT_BLOCK + field
}

fn trick_field(rel: usize, field: usize) -> usize {
    TRICK + rel * TRICK_BLOCK + field
}

/// Compares with a hand-built expected vector, naming the first index that
/// differs. Values are compared to 1e-6 (the encoder multiplies by 1 / c).
fn assert_obs(got: &[f32; OBS_SIZE], want: &[f32; OBS_SIZE]) {
    for i in 0..OBS_SIZE {
        assert!(
            (got[i] - want[i]).abs() < 1e-6,
            "index {i} ({}): got {}, want {}",
            field_name(i),
            got[i],
            want[i]
        );
    }
}

fn field_name(i: usize) -> String {
    if i < PLAYED {
        format!("HAND {}", Card::new((i - HAND) as u8).unwrap())
    } else if i < TRICK {
        format!("PLAYED {}", Card::new((i - PLAYED) as u8).unwrap())
    } else if i < SEATS {
        format!(
            "TRICK rel {} +{}",
            (i - TRICK) / TRICK_BLOCK,
            (i - TRICK) % TRICK_BLOCK
        )
    } else if i < GLOBAL {
        format!(
            "SEATS rel {} +{}",
            (i - SEATS) / SEAT_BLOCK,
            (i - SEATS) % SEAT_BLOCK
        )
    } else {
        format!("GLOBAL +{}", i - GLOBAL)
    }
}

fn set_cards(v: &mut [f32; OBS_SIZE], offset: usize, names: &[&str]) {
    for n in names {
        v[offset + c(n).index() as usize] = 1.0;
    }
}

// ---- the layout ------------------------------------------------------------------

#[test]
fn layout_constants_tile_the_vector() {
    assert_eq!(OBS_SIZE, 256);
    assert_eq!(HAND, 0);
    assert_eq!(PLAYED, 52);
    assert_eq!(TRICK, 104);
    assert_eq!(TRICK_BLOCK, 5);
    assert_eq!(SEATS, 144);
    assert_eq!(SEAT_BLOCK, 12);
    assert_eq!(GLOBAL, 240);
    let seat_fields = [
        SEAT_PRESENT,
        SEAT_DEALER,
        SEAT_LEADER,
        SEAT_HAS_BID,
        SEAT_BID,
        SEAT_WON,
        SEAT_NEEDED,
        SEAT_VOIDS,
        SEAT_TOTAL,
    ];
    assert_eq!(seat_fields, [0, 1, 2, 3, 4, 5, 6, 7, 11]);
    let globals = [
        TRUMP,
        PHASE_BID,
        PHASE_PLAY,
        CARDS,
        PLAYERS,
        TRICKS_DONE,
        FORBIDDEN_APPLIES,
        FORBIDDEN_BID,
        FULL_GAME,
        ROUNDS_LEFT,
        BID_SUM,
        TO_MOVE,
    ];
    assert_eq!(
        globals,
        [240, 245, 246, 247, 248, 249, 250, 251, 252, 253, 254, 255]
    );
}

// ---- the scripted 4-player round ----------------------------------------------------
//
// 4 players, 3 cards, trump spades, dealer seat 1 (seat 2 bids and leads first).
//   seat 0: AS KH 2C    seat 1: 3S QH AD    seat 2: 10S 4H 5C    seat 3: 5S 9H KC
// Bids in order: seat 2: 0, seat 3: 1, seat 0: 2, seat 1 (dealer): 1.
// Trick 1: 4H 9H KH QH -> seat 0. Trick 2: AS 3S 10S 5S -> seat 0.
// Trick 3: 2C AD(seat 1 void in clubs) 5C KC -> seat 3.

fn scripted() -> Round {
    Round::from_hands(
        &[
            h(&["AS", "KH", "2C"]),
            h(&["3S", "QH", "AD"]),
            h(&["10S", "4H", "5C"]),
            h(&["5S", "9H", "KC"]),
        ],
        1,
        Some(Suit::Spades),
    )
    .unwrap()
}

fn scripted_actions() -> Vec<usize> {
    let mut v = vec![bid(0), bid(1), bid(2), bid(1)];
    for n in [
        "4H", "9H", "KH", "QH", "AS", "3S", "10S", "5S", "2C", "AD", "5C", "KC",
    ] {
        v.push(play(n));
    }
    v
}

fn scripted_after(n: usize) -> Round {
    let mut r = scripted();
    r.apply_all(&scripted_actions()[..n]).unwrap();
    r
}

/// Worked example (also in docs/observation.md): bids done, trick 1 won by
/// seat 0, trick 2 under way with AS (seat 0) and 3S (seat 1); seat 2 to
/// play. Observer: seat 3. Relative seats: 0 = seat 3, 1 = seat 0,
/// 2 = seat 1, 3 = seat 2.
#[test]
fn worked_example_mid_trick() {
    let r = scripted_after(4 + 4 + 2);
    assert_eq!(r.current_player(), Some(2));
    let mut want = [0.0f32; OBS_SIZE];
    // Own hand: 5S KC (9H went in trick 1).
    set_cards(&mut want, HAND, &["5S", "KC"]);
    // Finished trick 1 only; AS and 3S are in the current trick.
    set_cards(&mut want, PLAYED, &["4H", "9H", "KH", "QH"]);
    // Current trick: seat 0 (rel 1) AS, seat 1 (rel 2) 3S.
    want[trick_field(1, 0)] = 1.0; // spades
    want[trick_field(1, 4)] = 12.0 / 12.0; // ace
    want[trick_field(2, 0)] = 1.0;
    want[trick_field(2, 4)] = 1.0 / 12.0; // three
    // Seats: (rel, dealer, leader, bid, won).
    for (rel, dealer, leader, b, won) in [
        (0, 0.0, 0.0, 1.0, 0.0), // seat 3
        (1, 0.0, 1.0, 2.0, 1.0), // seat 0 won trick 1 and leads trick 2
        (2, 1.0, 0.0, 1.0, 0.0), // seat 1 is the dealer
        (3, 0.0, 0.0, 0.0, 0.0), // seat 2 bid 0
    ] {
        want[seat_field(rel, SEAT_PRESENT)] = 1.0;
        want[seat_field(rel, SEAT_DEALER)] = dealer;
        want[seat_field(rel, SEAT_LEADER)] = leader;
        want[seat_field(rel, SEAT_HAS_BID)] = 1.0;
        want[seat_field(rel, SEAT_BID)] = b / 3.0;
        want[seat_field(rel, SEAT_WON)] = won / 3.0;
        want[seat_field(rel, SEAT_NEEDED)] = (b - won) / 3.0;
    }
    want[TRUMP] = 1.0; // spades
    want[PHASE_PLAY] = 1.0;
    want[CARDS] = 3.0 / 13.0;
    want[PLAYERS] = 4.0 / 8.0;
    want[TRICKS_DONE] = 1.0 / 3.0;
    want[BID_SUM] = 4.0 / 3.0;
    // Not seat 3's turn: TO_MOVE and the forbidden-bid fields stay 0; no
    // GameContext: the full-game fields stay 0.
    assert_obs(&obs(&r, 3), &want);

    // Seat 2, to move, sees TO_MOVE and its own view of the same table.
    let o2 = obs(&r, 2);
    assert_eq!(o2[TO_MOVE], 1.0);
    assert_eq!(o2[HAND + play("10S")], 1.0);
    assert_eq!(o2[HAND + play("5C")], 1.0);
    assert_eq!(o2[trick_field(2, 0)], 1.0); // seat 0 is two seats left of seat 2
    assert_eq!(o2[trick_field(3, 0)], 1.0); // seat 1
    assert_eq!(o2[trick_field(3, 4)], 1.0 / 12.0);
    assert_eq!(o2[seat_field(3, SEAT_DEALER)], 1.0);
}

#[test]
fn bidding_distinguishes_not_yet_bid_from_bid_zero() {
    // Seats 2 and 3 have bid 0 and 1; seat 0 to bid; observer seat 0.
    let r = scripted_after(2);
    let o = obs(&r, 0);
    let mut want = [0.0f32; OBS_SIZE];
    set_cards(&mut want, HAND, &["AS", "KH", "2C"]);
    for rel in 0..4 {
        want[seat_field(rel, SEAT_PRESENT)] = 1.0;
    }
    want[seat_field(1, SEAT_DEALER)] = 1.0; // seat 1
    want[seat_field(2, SEAT_LEADER)] = 1.0; // seat 2 leads the first trick
    want[seat_field(2, SEAT_HAS_BID)] = 1.0; // seat 2 bid 0: has-bid 1, bid 0
    want[seat_field(3, SEAT_HAS_BID)] = 1.0; // seat 3 bid 1
    want[seat_field(3, SEAT_BID)] = 1.0 / 3.0;
    want[seat_field(3, SEAT_NEEDED)] = 1.0 / 3.0;
    want[TRUMP] = 1.0;
    want[PHASE_BID] = 1.0;
    want[CARDS] = 3.0 / 13.0;
    want[PLAYERS] = 0.5;
    want[BID_SUM] = 1.0 / 3.0;
    want[TO_MOVE] = 1.0;
    // Seat 0 is not the dealer: no forbidden bid.
    assert_obs(&o, &want);
    // Seat 0 (rel 0) not yet bid vs seat 2 (rel 2) bid 0: same SEAT_BID,
    // different SEAT_HAS_BID.
    assert_eq!(o[seat_field(0, SEAT_BID)], o[seat_field(2, SEAT_BID)]);
    assert_ne!(
        o[seat_field(0, SEAT_HAS_BID)],
        o[seat_field(2, SEAT_HAS_BID)]
    );
}

#[test]
fn forbidden_bid_is_shown_only_to_the_dealer_on_turn() {
    // Sum 3 = c: the dealer (seat 1) may not bid 0. The flag tells a
    // forbidden 0 apart from "no forbidden bid".
    let r = scripted_after(3);
    assert_eq!(r.forbidden_bid(), Some(0));
    let o = obs(&r, 1);
    assert_eq!(o[TO_MOVE], 1.0);
    assert_eq!(o[FORBIDDEN_APPLIES], 1.0);
    assert_eq!(o[FORBIDDEN_BID], 0.0);
    assert!((o[BID_SUM] - 1.0).abs() < 1e-6);
    for seat in [0, 2, 3] {
        let o = obs(&r, seat);
        assert_eq!(o[TO_MOVE], 0.0);
        assert_eq!(o[FORBIDDEN_APPLIES], 0.0);
        assert_eq!(o[FORBIDDEN_BID], 0.0);
    }

    // Bids 0, 0, 1 (sum 1): the dealer may not bid 2 -> 2 / 3.
    let mut r = scripted();
    r.apply_all(&[bid(0), bid(0), bid(1)]).unwrap();
    assert_eq!(r.forbidden_bid(), Some(2));
    let o = obs(&r, 1);
    assert_eq!(o[FORBIDDEN_APPLIES], 1.0);
    assert!((o[FORBIDDEN_BID] - 2.0 / 3.0).abs() < 1e-6);

    // Bids 2, 2, 2 (sum 6 > 3): nothing forbidden, the dealer sees no flag.
    let mut r = scripted();
    r.apply_all(&[bid(2), bid(2), bid(2)]).unwrap();
    assert_eq!(r.forbidden_bid(), None);
    let o = obs(&r, 1);
    assert_eq!(o[TO_MOVE], 1.0);
    assert_eq!(o[FORBIDDEN_APPLIES], 0.0);
    assert_eq!(o[FORBIDDEN_BID], 0.0);
    assert!((o[BID_SUM] - 2.0).abs() < 1e-6);

    // Once play starts nobody sees the fields.
    let r = scripted_after(4);
    for seat in 0..4 {
        assert_eq!(obs(&r, seat)[FORBIDDEN_APPLIES], 0.0);
    }
}

#[test]
fn voids_are_public_and_placed_by_relative_seat() {
    // After 2C and AD in trick 3, seat 1 is known void in clubs.
    let r = scripted_after(4 + 8 + 2);
    assert_eq!(r.voids(1), 1 << Suit::Clubs.index());
    for observer in 0..4 {
        let o = obs(&r, observer);
        let rel = (1 + 4 - observer) % 4;
        for rel_seat in 0..MAX_PLAYERS {
            for s in 0..4 {
                let want = if rel_seat == rel && s == Suit::Clubs.index() as usize {
                    1.0
                } else {
                    0.0
                };
                assert_eq!(o[seat_field(rel_seat, SEAT_VOIDS + s)], want);
            }
        }
    }
    // Seat 1 sees it in its own block.
    assert_eq!(obs(&r, 1)[seat_field(0, SEAT_VOIDS + 2)], 1.0);
}

#[test]
fn finished_round_fields() {
    let r = scripted_after(16);
    assert!(r.is_over());
    let o = obs(&r, 0);
    let mut want = [0.0f32; OBS_SIZE];
    set_cards(
        &mut want,
        PLAYED,
        &[
            "AS", "KH", "2C", "3S", "QH", "AD", "10S", "4H", "5C", "5S", "9H", "KC",
        ],
    );
    // Observer seat 0: rel 0 = seat 0 (bid 2, won 2), rel 1 = seat 1
    // (dealer, bid 1, won 0), rel 2 = seat 2 (bid 0), rel 3 = seat 3 (bid 1,
    // won 1). No leader once the round is over.
    for (rel, b, won) in [(0, 2.0, 2.0), (1, 1.0, 0.0), (2, 0.0, 0.0), (3, 1.0, 1.0)] {
        want[seat_field(rel, SEAT_PRESENT)] = 1.0;
        want[seat_field(rel, SEAT_HAS_BID)] = 1.0;
        want[seat_field(rel, SEAT_BID)] = b / 3.0;
        want[seat_field(rel, SEAT_WON)] = won / 3.0;
        want[seat_field(rel, SEAT_NEEDED)] = (b - won) / 3.0;
    }
    want[seat_field(1, SEAT_DEALER)] = 1.0;
    want[seat_field(1, SEAT_VOIDS + 2)] = 1.0;
    want[TRUMP] = 1.0;
    // Neither phase flag once over.
    want[CARDS] = 3.0 / 13.0;
    want[PLAYERS] = 0.5;
    want[TRICKS_DONE] = 1.0;
    want[BID_SUM] = 4.0 / 3.0;
    assert_obs(&o, &want);
}

#[test]
fn seat_needed_goes_negative_when_a_seat_takes_too_many() {
    // 3 players, 1 card, no trump, dealer 0: everybody bids 0 and seat 2
    // takes the only trick with AS, so it needs (0 - 1) / 1 = -1.
    let mut r = Round::from_hands(&[h(&["2S"]), h(&["3S"]), h(&["AS"])], 0, None).unwrap();
    r.apply_all(&[bid(0), bid(0), bid(0)]).unwrap();
    r.apply_all(&[play("3S"), play("AS"), play("2S")]).unwrap();
    assert_eq!(r.trick_winners(), &[2]);
    let o = obs(&r, 2);
    assert_eq!(o[seat_field(0, SEAT_WON)], 1.0);
    assert_eq!(o[seat_field(0, SEAT_NEEDED)], -1.0);
}

#[test]
fn trump_one_hot_including_no_trump() {
    let hands = [h(&["2S"]), h(&["3H"]), h(&["4C"])];
    for (trump, index) in [
        (Some(Suit::Spades), 0),
        (Some(Suit::Hearts), 1),
        (Some(Suit::Clubs), 2),
        (Some(Suit::Diamonds), 3),
        (None, 4),
    ] {
        let r = Round::from_hands(&hands, 0, trump).unwrap();
        let o = obs(&r, 0);
        for k in 0..5 {
            assert_eq!(o[TRUMP + k], (k == index) as u8 as f32, "{trump:?}");
        }
    }
}

#[test]
fn phase_flags_follow_the_round() {
    let mut r = scripted();
    for (i, a) in scripted_actions().into_iter().enumerate() {
        let o = obs(&r, 0);
        let in_bid = i < 4;
        assert_eq!(o[PHASE_BID], in_bid as u8 as f32);
        assert_eq!(o[PHASE_PLAY], (!in_bid) as u8 as f32);
        r.apply(a).unwrap();
    }
    let o = obs(&r, 0);
    assert_eq!((o[PHASE_BID], o[PHASE_PLAY]), (0.0, 0.0));
}

#[test]
fn relative_seat_order_is_observer_first_then_clockwise() {
    // 5 players, 2 cards, clubs trump, dealer 4: seat 0 leads.
    //   seat 0: 7D 2S   seat 1: JD 3C   seat 2: 4H AS   seat 3: 2C 9S
    //   seat 4: QD KS
    let mut r = Round::from_hands(
        &[
            h(&["7D", "2S"]),
            h(&["JD", "3C"]),
            h(&["4H", "AS"]),
            h(&["2C", "9S"]),
            h(&["QD", "KS"]),
        ],
        4,
        Some(Suit::Clubs),
    )
    .unwrap();
    // Bids 0..4: 1, 2, 0, 0, then the dealer 2: each seat has a distinct
    // bid/position signature.
    r.apply_all(&[bid(1), bid(2), bid(0), bid(0), bid(2)])
        .unwrap();
    r.apply_all(&[play("7D"), play("JD"), play("AS"), play("2C")])
        .unwrap();
    // Observer seat 3: rel 0 = seat 3, 1 = seat 4, 2 = seat 0, 3 = seat 1,
    // 4 = seat 2.
    let o = obs(&r, 3);
    let rel_of = |seat: usize| (seat + 5 - 3) % 5;
    assert_eq!(rel_of(4), 1);
    assert_eq!(o[seat_field(rel_of(4), SEAT_DEALER)], 1.0);
    assert_eq!(o[seat_field(rel_of(0), SEAT_LEADER)], 1.0);
    for (seat, b) in [(0, 1.0), (1, 2.0), (2, 0.0), (3, 0.0), (4, 2.0)] {
        assert_eq!(o[seat_field(rel_of(seat), SEAT_HAS_BID)], 1.0);
        assert_eq!(o[seat_field(rel_of(seat), SEAT_BID)], b / 2.0);
    }
    // Trick blocks: seat 0 7D, seat 1 JD, seat 2 AS, seat 3 (observer) 2C.
    for (seat, card) in [(0, "7D"), (1, "JD"), (2, "AS"), (3, "2C")] {
        let card = c(card);
        let rel = rel_of(seat);
        for s in 0..4 {
            let want = (s == card.suit().index() as usize) as u8 as f32;
            assert_eq!(o[trick_field(rel, s)], want, "seat {seat}");
        }
        assert_eq!(o[trick_field(rel, 4)], card.rank() as f32 / 12.0);
    }
    // Seat 4 (rel 1) has not played yet.
    assert!((0..TRICK_BLOCK).all(|k| o[trick_field(1, k)] == 0.0));
    // Voids: seat 2 failed to follow diamonds (AS), seat 3 too (2C).
    assert_eq!(o[seat_field(rel_of(2), SEAT_VOIDS + 3)], 1.0);
    assert_eq!(o[seat_field(rel_of(3), SEAT_VOIDS + 3)], 1.0);
    // Absent seats 5..7 are all zero.
    for rel in 5..MAX_PLAYERS {
        assert!((0..SEAT_BLOCK).all(|k| o[seat_field(rel, k)] == 0.0));
        assert!((0..TRICK_BLOCK).all(|k| o[trick_field(rel, k)] == 0.0));
    }
    assert_eq!(o[PLAYERS], 5.0 / 8.0);
    assert_eq!(o[CARDS], 2.0 / 13.0);
    assert_eq!(o[TRUMP + 2], 1.0);
}

#[test]
fn full_game_fields_come_from_the_context() {
    let r = scripted_after(10);
    let mut totals = [0u32; MAX_PLAYERS];
    totals[..4].copy_from_slice(&[5, 20, 0, 33]);
    let ctx = GameContext {
        totals,
        rounds_left: 3,
        total_rounds: 12,
    };
    let with = obs_ctx(&r, 3, &ctx);
    let without = obs(&r, 3);
    // Observer seat 3: rel 0 = seat 3 (33), rel 1 = seat 0 (5), rel 2 =
    // seat 1 (20), rel 3 = seat 2 (0); divided by TOTAL_SCALE.
    assert_eq!(TOTAL_SCALE, 100.0);
    for (rel, total) in [(0, 33.0), (1, 5.0), (2, 20.0), (3, 0.0)] {
        assert!((with[seat_field(rel, SEAT_TOTAL)] - total / 100.0).abs() < 1e-6);
        assert_eq!(without[seat_field(rel, SEAT_TOTAL)], 0.0);
    }
    assert_eq!(with[FULL_GAME], 1.0);
    assert_eq!(with[ROUNDS_LEFT], 0.25);
    assert_eq!(without[FULL_GAME], 0.0);
    assert_eq!(without[ROUNDS_LEFT], 0.0);
    // Nothing else changes.
    let mut fields = vec![FULL_GAME, ROUNDS_LEFT];
    fields.extend((0..MAX_PLAYERS).map(|rel| seat_field(rel, SEAT_TOTAL)));
    for i in 0..OBS_SIZE {
        if !fields.contains(&i) {
            assert_eq!(with[i].to_bits(), without[i].to_bits(), "{}", field_name(i));
        }
    }
}

#[test]
fn full_game_observations_track_the_game() {
    let mut game = Game::new(4, 3, 2, 5).unwrap();
    let mut rng = Rng::new(8);
    while !game.is_over() {
        let ctx = game.context();
        let r = *game.round();
        let seat = r.current_player().unwrap();
        let o = observation(&r, seat, Some(&ctx)).unwrap();
        assert_eq!(o[FULL_GAME], 1.0);
        let rounds = game.schedule().len() as f32;
        let left = (game.schedule().len() - game.round_index() - 1) as f32;
        assert!((o[ROUNDS_LEFT] - left / rounds).abs() < 1e-6);
        for rel in 0..4 {
            let abs = (seat + rel) % 4;
            let want = game.totals()[abs] as f32 / TOTAL_SCALE;
            assert!((o[seat_field(rel, SEAT_TOTAL)] - want).abs() < 1e-6);
        }
        let legal = game.legal_actions();
        game.apply(legal.nth(rng.below(legal.len())).unwrap())
            .unwrap();
    }
}

#[test]
fn bad_seat_is_an_error_and_encode_overwrites_the_buffer() {
    let r = scripted();
    assert_eq!(
        observation(&r, 4, None).err(),
        Some(CoreError::InvalidSeat {
            seat: 4,
            players: 4
        })
    );
    let mut buf = [7.5f32; OBS_SIZE];
    encode_observation(&r, 2, None, &mut buf);
    assert_eq!(bits(&buf), bits(&obs(&r, 2)));
}

// ---- hidden cards do not matter: hand-worked -------------------------------------

#[test]
fn swapping_unplayed_cards_of_other_seats_changes_nothing_hand_worked() {
    // After trick 1 seat 2 holds 10S 5C and seat 3 holds 5S KC. Swapping 5C
    // and KC between them (and replacing seat 1's AD by the undealt 7D) keeps
    // tricks 1 and 2 legal: seat 2 and 3 never fail to follow before trick 3.
    let a = scripted();
    let b = Round::from_hands(
        &[
            h(&["AS", "KH", "2C"]),
            h(&["3S", "QH", "7D"]),
            h(&["10S", "4H", "KC"]),
            h(&["5S", "9H", "5C"]),
        ],
        1,
        Some(Suit::Spades),
    )
    .unwrap();
    let ctx = GameContext {
        totals: [12, 0, 31, 7, 0, 0, 0, 0],
        rounds_left: 5,
        total_rounds: 9,
    };
    let actions = scripted_actions();
    let (mut a, mut b) = (a, b);
    // Through the end of trick 2 (4 bids + 8 cards) plus the lead of trick 3.
    for (step, &action) in actions[..13].iter().enumerate() {
        assert_eq!(bits(&obs(&a, 0)), bits(&obs(&b, 0)), "step {step}");
        assert_eq!(
            bits(&obs_ctx(&a, 0, &ctx)),
            bits(&obs_ctx(&b, 0, &ctx)),
            "step {step}"
        );
        // The seats whose hands differ do see a difference (the test is not
        // vacuous).
        for seat in 1..4 {
            assert_ne!(bits(&obs(&a, seat)), bits(&obs(&b, seat)), "step {step}");
        }
        a.apply(action).unwrap();
        b.apply(action).unwrap();
    }
    assert_eq!(bits(&obs(&a, 0)), bits(&obs(&b, 0)));
    // In trick 3 seat 1 plays AD in a; in b it must play 7D instead, and the
    // round diverges publicly from there.
    assert!(b.apply(play("AD")).is_err());
}

// ---- hidden cards do not matter: random -----------------------------------------

/// New hidden hands for every seat but `observer`, consistent with the
/// public history of `now`: each seat keeps the cards it has played, and
/// gets as many cards as it still holds, drawn from the cards the observer
/// cannot see (other seats' unplayed cards and the undealt ones), avoiding
/// the suits it is publicly void in.
fn resample_hidden(
    now: &Round,
    dealt: &[CardSet],
    observer: usize,
    rng: &mut Rng,
) -> Option<Vec<CardSet>> {
    let p = now.num_players();
    let unseen = CardSet::FULL_DECK
        .minus(now.played())
        .minus(now.hand(observer));
    'attempt: for _ in 0..50 {
        let mut pool = unseen;
        let mut out = dealt.to_vec();
        let mut seats: Vec<usize> = (0..p).filter(|&s| s != observer).collect();
        for i in (1..seats.len()).rev() {
            seats.swap(i, rng.below(i as u32 + 1) as usize);
        }
        for s in seats {
            let mut allowed = pool;
            for suit in Suit::ALL {
                if now.voids(s) >> suit.index() & 1 == 1 {
                    allowed = allowed.minus(suit.cards());
                }
            }
            let need = now.hand(s).len();
            if allowed.len() < need {
                continue 'attempt;
            }
            let picked = CardSet(rng.pick_bits(allowed.bits(), need));
            pool = pool.minus(picked);
            out[s] = dealt[s].minus(now.hand(s)).union(picked);
        }
        return Some(out);
    }
    None
}

/// Plays a random round; at a few random steps, re-deals the hidden cards
/// for a random observer, replays the public history on the new deal and
/// checks the observer's view is bit-identical at every step. Returns how
/// many re-deals actually changed somebody's hidden cards.
fn check_hidden_invariance(
    players: usize,
    cards: usize,
    dealer: usize,
    trump: Option<Suit>,
    seed: u64,
    probes: usize,
) -> usize {
    let mut rng = Rng::new(seed);
    let mut a = Round::deal(players, cards, dealer, trump, &mut rng).unwrap();
    let dealt = a.hands().to_vec();
    let mut states = vec![a];
    let mut actions = Vec::new();
    while !a.is_over() {
        let legal = a.legal_actions();
        let action = legal.nth(rng.below(legal.len())).unwrap();
        a.apply(action).unwrap();
        actions.push(action);
        states.push(a);
    }
    let mut totals = [0u32; MAX_PLAYERS];
    for t in totals.iter_mut().take(players) {
        *t = rng.below(200);
    }
    let ctx = GameContext {
        totals,
        rounds_left: rng.below(10) as usize,
        total_rounds: 10,
    };
    let mut changed = 0;
    for _ in 0..probes {
        let k = rng.below(states.len() as u32) as usize;
        let observer = rng.below(players as u32) as usize;
        let Some(new_dealt) = resample_hidden(&states[k], &dealt, observer, &mut rng) else {
            continue;
        };
        assert_eq!(new_dealt[observer], dealt[observer]);
        let mut b = Round::from_hands(&new_dealt, dealer, trump).unwrap();
        for j in 0..=k {
            let a_j = &states[j];
            assert_eq!(
                bits(&obs(a_j, observer)),
                bits(&obs(&b, observer)),
                "step {j} of {k}"
            );
            assert_eq!(
                bits(&obs_ctx(a_j, observer, &ctx)),
                bits(&obs_ctx(&b, observer, &ctx)),
                "step {j} of {k}"
            );
            if j < k {
                b.apply(actions[j])
                    .unwrap_or_else(|e| panic!("public history not legal on the re-deal: {e}"));
            }
        }
        let a_k = &states[k];
        assert_eq!(b.played(), a_k.played());
        assert_eq!(b.bids(), a_k.bids());
        assert_eq!(b.hand(observer), a_k.hand(observer));
        if (0..players).any(|s| b.hand(s) != a_k.hand(s)) {
            changed += 1;
            // Sanity: a seat whose hand changed sees the change.
            for s in 0..players {
                if b.hand(s) != a_k.hand(s) {
                    assert_ne!(bits(&obs(a_k, s)), bits(&obs(&b, s)));
                }
            }
        }
    }
    changed
}

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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn observation_ignores_hidden_cards((players, cards, dealer, trump, seed) in table()) {
        check_hidden_invariance(players, cards, dealer, Suit::from_index(trump).ok(), seed, 4);
    }
}

#[test]
fn observation_ignores_hidden_cards_on_every_table() {
    let mut seeds = Rng::new(99);
    let mut probes = 0;
    let mut changed = 0;
    for players in MIN_PLAYERS..=MAX_PLAYERS {
        for cards in 1..=(52 / players).min(MAX_CARDS) {
            let dealer = seeds.below(players as u32) as usize;
            let trump = Suit::from_index(seeds.below(5) as u8).ok();
            changed += check_hidden_invariance(players, cards, dealer, trump, seeds.next_u64(), 6);
            probes += 6;
        }
    }
    // Most re-deals must really move hidden cards, or the test proves little.
    assert!(changed * 2 > probes, "{changed} of {probes}");
}

// ---- structure on random playouts ------------------------------------------------

/// Decodes the card-level and per-seat fields of every observer at every
/// step of random rounds and compares them with the round's accessors.
#[test]
fn fields_match_the_round_on_random_playouts() {
    let mut seeds = Rng::new(7);
    for players in MIN_PLAYERS..=MAX_PLAYERS {
        for cards in [1, (52 / players).min(MAX_CARDS)] {
            let mut rng = Rng::new(seeds.next_u64());
            let dealer = rng.below(players as u32) as usize;
            let trump = Suit::from_index(rng.below(5) as u8).ok();
            let mut r = Round::deal(players, cards, dealer, trump, &mut rng).unwrap();
            loop {
                for seat in 0..players {
                    check_fields(&r, seat);
                }
                if r.is_over() {
                    break;
                }
                let legal = r.legal_actions();
                r.apply(legal.nth(rng.below(legal.len())).unwrap()).unwrap();
            }
        }
    }
}

fn check_fields(r: &Round, seat: usize) {
    let o = obs(r, seat);
    let p = r.num_players();
    let cf = r.cards() as f32;
    assert!(o.iter().all(|x| x.is_finite()));
    for i in 0..52 {
        let card = Card::new(i as u8).unwrap();
        assert_eq!(o[HAND + i] == 1.0, r.hand(seat).contains(card));
        assert_eq!(
            o[PLAYED + i] == 1.0,
            r.played_in_finished_tricks().contains(card)
        );
        assert!(o[HAND + i] == 0.0 || o[HAND + i] == 1.0);
    }
    let mut trick_rel = [None; MAX_PLAYERS];
    for (s, card) in r.current_trick() {
        trick_rel[(s + p - seat) % p] = Some(card);
    }
    for (rel, card) in trick_rel.iter().enumerate() {
        let block = &o[trick_field(rel, 0)..trick_field(rel, TRICK_BLOCK)];
        match card {
            None => assert!(block.iter().all(|&x| x == 0.0)),
            Some(card) => {
                for (s, &x) in block[..4].iter().enumerate() {
                    assert_eq!(x, (s == card.suit().index() as usize) as u8 as f32);
                }
                assert_eq!(block[4], card.rank() as f32 / 12.0);
            }
        }
    }
    for rel in 0..MAX_PLAYERS {
        let f = |k| o[seat_field(rel, k)];
        if rel >= p {
            assert!((0..SEAT_BLOCK).all(|k| f(k) == 0.0));
            continue;
        }
        let abs = (seat + rel) % p;
        assert_eq!(f(SEAT_PRESENT), 1.0);
        assert_eq!(f(SEAT_DEALER) == 1.0, abs == r.dealer());
        assert_eq!(
            f(SEAT_LEADER) == 1.0,
            !r.is_over() && abs == r.trick_leader()
        );
        assert_eq!(f(SEAT_HAS_BID) == 1.0, r.bid(abs).is_some());
        let b = r.bid(abs).unwrap_or(0) as f32;
        let won = r.tricks_won(abs) as f32;
        assert!((f(SEAT_BID) - b / cf).abs() < 1e-6);
        assert!((f(SEAT_WON) - won / cf).abs() < 1e-6);
        let needed = if r.bid(abs).is_some() {
            (b - won) / cf
        } else {
            0.0
        };
        assert!((f(SEAT_NEEDED) - needed).abs() < 1e-6);
        for s in 0..4 {
            assert_eq!(f(SEAT_VOIDS + s) == 1.0, r.voids(abs) >> s & 1 == 1);
        }
        assert_eq!(f(SEAT_TOTAL), 0.0);
    }
    let trump = r.trump().map_or(4, |s| s.index() as usize);
    for k in 0..5 {
        assert_eq!(o[TRUMP + k], (k == trump) as u8 as f32);
    }
    assert!((o[TRICKS_DONE] - r.tricks_done() as f32 / cf).abs() < 1e-6);
    assert!((o[BID_SUM] - r.bid_sum() as f32 / cf).abs() < 1e-6);
    assert_eq!(o[TO_MOVE] == 1.0, r.current_player() == Some(seat));
    let dealer_to_bid = r.current_player() == Some(seat) && r.forbidden_bid().is_some();
    assert_eq!(o[FORBIDDEN_APPLIES] == 1.0, dealer_to_bid);
    assert_eq!((o[FULL_GAME], o[ROUNDS_LEFT]), (0.0, 0.0));
}
