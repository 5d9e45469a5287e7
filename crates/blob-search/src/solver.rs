//! An exhaustive perfect-information solver for small positions: every hand
//! is known, and the whole game tree below the position is searched.
//!
//! The search is max^n: at every node the seat to move picks the action that
//! maximizes its own final round score, ties broken by the lowest action id;
//! the value of a node is the full value vector of the line so chosen. There
//! is no pruning and no memoization, so the cost is the size of the game
//! tree: fine for endgames of a few cards per hand and for the bidding of
//! 1- and 2-card rounds at small tables, hopeless for anything bigger.

use blob_core::{MAX_PLAYERS, Round};

/// Value vector by absolute seat, scaled like [`Round::values_from`]`(0)`.
pub type Values = [f32; MAX_PLAYERS];

/// The max^n value of `round` by absolute seat (each score divided by
/// `10 + cards`); the values of a finished round are its scores.
pub fn solve(round: &Round) -> Values {
    solve_with_action(round).0
}

/// The max^n value and the action the seat to move chooses (None once the
/// round is over).
pub fn solve_with_action(round: &Round) -> (Values, Option<usize>) {
    let Some(seat) = round.current_player() else {
        return (round.values_from(0), None);
    };
    let legal = round.legal_actions();
    let mut best: Option<(Values, usize)> = None;
    for action in legal.iter() {
        let mut child = *round;
        child.apply_legal(action);
        let value = solve(&child);
        // Strictly better only: the lowest action id keeps ties.
        if best.is_none_or(|(b, _)| value[seat] > b[seat]) {
            best = Some((value, action));
        }
    }
    let (value, action) = best.expect("a round that is not over has a legal action");
    (value, Some(action))
}

/// The action max^n chooses for the seat to move (None once over).
pub fn best_action(round: &Round) -> Option<usize> {
    solve_with_action(round).1
}

/// The max^n value after each legal action of the seat to move, in
/// increasing action order (empty once the round is over).
pub fn action_values(round: &Round) -> Vec<(usize, Values)> {
    round
        .legal_actions()
        .iter()
        .map(|action| {
            let mut child = *round;
            child.apply_legal(action);
            (action, solve(&child))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use blob_core::{BID_OFFSET, Card, CardSet, Rng, Suit};

    fn set(names: &[&str]) -> CardSet {
        names.iter().map(|n| Card::parse(n).unwrap()).collect()
    }
    fn card(name: &str) -> usize {
        Card::parse(name).unwrap().index() as usize
    }
    fn round(hands: &[&[&str]], dealer: usize, trump: Option<Suit>) -> Round {
        let hands: Vec<CardSet> = hands.iter().map(|h| set(h)).collect();
        Round::from_hands(&hands, dealer, trump).unwrap()
    }

    #[test]
    fn one_card_bidding() {
        // Seat 0 holds the ace of trumps and bids first (seat 2 deals).
        // Seat 0 bids 1 and wins; seat 1 can never win and bids 0; the
        // dealer may not bid 0 (the bids would add up to 1), so must bid 1
        // and loses the lot.
        let r = round(&[&["AS"], &["2H"], &["3C"]], 2, Some(Suit::Spades));
        let v = solve(&r);
        assert_eq!(v[0], 11.0 / 11.0);
        assert_eq!(v[1], 10.0 / 11.0);
        assert_eq!(v[2], 0.0);
        assert_eq!(best_action(&r), Some(BID_OFFSET + 1));
        let values = action_values(&r);
        assert_eq!(values.len(), 2);
        assert_eq!(values[0].0, BID_OFFSET);
        assert_eq!(
            values[0].1[0], 0.0,
            "bidding 0 with the ace of trumps loses"
        );
    }

    #[test]
    fn the_dealer_takes_what_is_left() {
        // No trump; seat 0 (first to bid and to lead) holds the 2 of hearts,
        // seat 1 the king of clubs, seat 2 (the dealer) the ace of clubs. The
        // leader's heart wins: nobody can follow. Seat 0 bids 1 (11 points),
        // seat 1 bids 0 (10: bidding 1 would let the dealer bid 0); the
        // dealer may not bid 0 (the bids would add up to 1), must bid 1 and
        // scores 0.
        let r = round(&[&["2H"], &["KC"], &["AC"]], 2, None);
        let v = solve(&r);
        assert_eq!(v[..3], [1.0, 10.0 / 11.0, 0.0]);
    }

    #[test]
    fn endgame_needs_the_right_card() {
        // Trump hearts, 3 players, 2 cards each, bids made: seat 1 leads.
        // Seat 1 bid 1 and holds AH (trump) and 2C: leading AH makes the bid
        // at once, then 2C must lose.
        let mut r = round(
            &[&["KC", "3D"], &["AH", "2C"], &["QC", "5D"]],
            0,
            Some(Suit::Hearts),
        );
        // Bids: seat 1 -> 1, seat 2 -> 1, seat 0 (dealer) -> 1 (2 forbidden).
        r.apply_all(&[BID_OFFSET + 1, BID_OFFSET + 1, BID_OFFSET + 1])
            .unwrap();
        assert_eq!(r.current_player(), Some(1));
        let values = action_values(&r);
        let ah = values.iter().find(|(a, _)| *a == card("AH")).unwrap().1;
        let c2 = values.iter().find(|(a, _)| *a == card("2C")).unwrap().1;
        // After AH: seat 2 discards first. If it keeps QC, seat 0 keeps KC
        // (discarding 3D) and overtakes it on the 2C lead; if it keeps 5D,
        // seat 0 keeps KC anyway. Seats 0 and 1 make their bids, seat 2
        // takes nothing.
        assert_eq!(ah[..3], [11.0 / 12.0, 11.0 / 12.0, 0.0]);
        // After 2C: seat 2 plays QC, seat 0 KC wins trick 1 and leads 3D;
        // seat 1 must play AH (a trump, wins) -- still 1 trick each for
        // seats 0 and 1. Seat 2's best line cannot win a trick either way.
        assert_eq!(c2[1], 11.0 / 12.0);
        assert_eq!(solve(&r)[1], 11.0 / 12.0);
        // Both moves are worth the same to seat 1: the tie goes to the lowest
        // action id, AH (25) before 2C (26).
        assert_eq!(best_action(&r), Some(card("AH")));
    }

    #[test]
    fn solve_agrees_with_action_values() {
        let mut rng = Rng::new(9);
        for _ in 0..60 {
            let players = 3 + rng.below(3) as usize;
            let cards = 1 + rng.below(3) as usize;
            let trump = Suit::from_index(rng.below(5) as u8).ok();
            let mut r = Round::deal(
                players,
                cards,
                rng.below(players as u32) as usize,
                trump,
                &mut rng,
            )
            .unwrap();
            // Random bids, so the play phase is small.
            while r.phase() == blob_core::Phase::Bid {
                let legal = r.legal_actions();
                r.apply_legal(legal.nth(rng.below(legal.len())).unwrap());
            }
            let seat = r.current_player().unwrap();
            let values = action_values(&r);
            let best = values
                .iter()
                .map(|(_, v)| v[seat])
                .fold(f32::NEG_INFINITY, f32::max);
            let (v, a) = solve_with_action(&r);
            assert_eq!(v[seat], best);
            let first_best = values.iter().find(|(_, v)| v[seat] == best).unwrap();
            assert_eq!(a, Some(first_best.0));
            assert_eq!(v, first_best.1);
        }
    }
}
