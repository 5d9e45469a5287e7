//! The 256-float observation of one seat: only what that seat may know.
//!
//! Seats are relative to the observer (block 0 is the observer, then
//! clockwise), so the network need not learn each absolute seat. The layout,
//! field by field, is documented in `docs/observation.md`; the offsets below
//! are the single source of truth for it.

use crate::cards::{CardSet, DECK_SIZE, RANKS, Suit};
use crate::error::{CoreError, CoreResult};
use crate::game::GameContext;
use crate::round::{MAX_CARDS, MAX_PLAYERS, Phase, Round};

/// Length of an observation.
pub const OBS_SIZE: usize = 256;

/// Own hand, one entry per card.
pub const HAND: usize = 0;
/// Cards played in finished tricks this round, one entry per card.
pub const PLAYED: usize = HAND + DECK_SIZE;
/// Current trick, one block per relative seat: suit one-hot (4), rank / 12.
pub const TRICK: usize = PLAYED + DECK_SIZE;
pub const TRICK_BLOCK: usize = 5;
/// Per relative seat, one block each (see the `SEAT_*` offsets).
pub const SEATS: usize = TRICK + MAX_PLAYERS * TRICK_BLOCK;
pub const SEAT_BLOCK: usize = 12;
pub const SEAT_PRESENT: usize = 0;
pub const SEAT_DEALER: usize = 1;
pub const SEAT_LEADER: usize = 2;
pub const SEAT_HAS_BID: usize = 3;
pub const SEAT_BID: usize = 4;
pub const SEAT_WON: usize = 5;
pub const SEAT_NEEDED: usize = 6;
pub const SEAT_VOIDS: usize = 7;
pub const SEAT_TOTAL: usize = 11;
/// Global fields.
pub const GLOBAL: usize = SEATS + MAX_PLAYERS * SEAT_BLOCK;
pub const TRUMP: usize = GLOBAL; // 5 entries: S, H, C, D, no-trump
pub const PHASE_BID: usize = GLOBAL + 5;
pub const PHASE_PLAY: usize = GLOBAL + 6;
pub const CARDS: usize = GLOBAL + 7;
pub const PLAYERS: usize = GLOBAL + 8;
pub const TRICKS_DONE: usize = GLOBAL + 9;
pub const FORBIDDEN_APPLIES: usize = GLOBAL + 10;
pub const FORBIDDEN_BID: usize = GLOBAL + 11;
pub const FULL_GAME: usize = GLOBAL + 12;
pub const ROUNDS_LEFT: usize = GLOBAL + 13;
pub const BID_SUM: usize = GLOBAL + 14;
pub const TO_MOVE: usize = GLOBAL + 15;

/// Game totals are divided by this so that typical totals stay near 0..1.
pub const TOTAL_SCALE: f32 = 100.0;

const _: () = assert!(TO_MOVE + 1 == OBS_SIZE);

#[inline]
fn set_cards(out: &mut [f32; OBS_SIZE], offset: usize, cards: CardSet) {
    for card in cards {
        out[offset + card.index() as usize] = 1.0;
    }
}

/// Writes the observation of `seat` into `out`. `seat` must be a seat of
/// the round (see [`observation`] for the checked form). `game` adds the
/// running totals and rounds left in full-game mode.
pub fn encode_observation(
    round: &Round,
    seat: usize,
    game: Option<&GameContext>,
    out: &mut [f32; OBS_SIZE],
) {
    out.fill(0.0);
    let p = round.num_players();
    let cards = round.cards() as f32;
    let inv_cards = 1.0 / cards;
    debug_assert!(seat < p);

    set_cards(out, HAND, round.hand(seat));
    set_cards(out, PLAYED, round.played_in_finished_tricks());

    for (trick_seat, card) in round.current_trick() {
        let rel = (trick_seat + p - seat) % p;
        let block = TRICK + rel * TRICK_BLOCK;
        out[block + card.suit().index() as usize] = 1.0;
        out[block + 4] = card.rank() as f32 / (RANKS - 1) as f32;
    }

    let leader = round.trick_leader();
    for rel in 0..p {
        let abs = (seat + rel) % p;
        let block = SEATS + rel * SEAT_BLOCK;
        out[block + SEAT_PRESENT] = 1.0;
        out[block + SEAT_DEALER] = (abs == round.dealer()) as u8 as f32;
        out[block + SEAT_LEADER] = (abs == leader && !round.is_over()) as u8 as f32;
        let won = round.tricks_won(abs) as f32;
        out[block + SEAT_WON] = won * inv_cards;
        if let Some(bid) = round.bid(abs) {
            out[block + SEAT_HAS_BID] = 1.0;
            out[block + SEAT_BID] = bid as f32 * inv_cards;
            out[block + SEAT_NEEDED] = (bid as f32 - won) * inv_cards;
        }
        let voids = round.voids(abs);
        for s in 0..4 {
            out[block + SEAT_VOIDS + s] = (voids >> s & 1) as f32;
        }
        if let Some(ctx) = game {
            out[block + SEAT_TOTAL] = ctx.totals[abs] as f32 / TOTAL_SCALE;
        }
    }

    out[TRUMP + round.trump().map_or(4, Suit::index) as usize] = 1.0;
    match round.phase() {
        Phase::Bid => out[PHASE_BID] = 1.0,
        Phase::Play => out[PHASE_PLAY] = 1.0,
        Phase::Over => {}
    }
    out[CARDS] = cards / MAX_CARDS as f32;
    out[PLAYERS] = p as f32 / MAX_PLAYERS as f32;
    out[TRICKS_DONE] = round.tricks_done() as f32 * inv_cards;
    if round.current_player() == Some(seat) {
        out[TO_MOVE] = 1.0;
        if let Some(forbidden) = round.forbidden_bid() {
            out[FORBIDDEN_APPLIES] = 1.0;
            out[FORBIDDEN_BID] = forbidden as f32 * inv_cards;
        }
    }
    if let Some(ctx) = game {
        out[FULL_GAME] = 1.0;
        out[ROUNDS_LEFT] = ctx.rounds_left as f32 / ctx.total_rounds.max(1) as f32;
    }
    out[BID_SUM] = round.bid_sum() as f32 * inv_cards;
}

/// The observation of `seat`, or an error if the seat does not exist.
pub fn observation(
    round: &Round,
    seat: usize,
    game: Option<&GameContext>,
) -> CoreResult<[f32; OBS_SIZE]> {
    if seat >= round.num_players() {
        return Err(CoreError::InvalidSeat {
            seat,
            players: round.num_players(),
        });
    }
    let mut out = [0.0; OBS_SIZE];
    encode_observation(round, seat, game, &mut out);
    Ok(out)
}
