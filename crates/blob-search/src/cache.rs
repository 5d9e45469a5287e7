//! A per-worker cache of network answers keyed by the observer's
//! information state and the leaf's legal actions.
//!
//! The network sees only the observer's observation, so two leaves with the
//! same information state get the same logits and values. That happens a
//! lot: the D determinizations of one decision share their root, and early
//! in a round most leaves of the different trees coincide. The key hashes
//! every field the observation is computed from (not the 1 KB observation
//! itself). The priors are the logits normalized over the mover's legal
//! actions, which the observer's information does not fix when the mover is
//! another seat (its hand is sampled), so the legal set is part of the key.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use blob_core::{MAX_CARDS, MAX_PLAYERS, Round};

/// Most legal actions a position can have (bids 0..=13).
pub const MAX_LEGAL: usize = MAX_CARDS + 1;

#[inline]
fn mix(h: u64, x: u64) -> u64 {
    // One round of a multiply-xorshift mixer (as in splitmix64 / wyhash).
    let v = (h ^ x).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    v ^ (v >> 29)
}

/// A 64-bit key of everything the observation of `seat` depends on.
/// `context_key` distinguishes full-game contexts (0 in round mode).
pub fn info_key(round: &Round, seat: usize, context_key: u64) -> u64 {
    let legal = round.legal_actions().0;
    let h = info_state_key(round, seat, context_key);
    mix(mix(h, legal as u64), (legal >> 64) as u64)
}

/// The part of [`info_key`] that depends on the observation alone.
fn info_state_key(round: &Round, seat: usize, context_key: u64) -> u64 {
    let p = round.num_players();
    let mut h = mix(0x243F_6A88_85A3_08D3, context_key);
    h = mix(h, round.hand(seat).bits());
    h = mix(h, round.played_in_finished_tricks().bits());
    let header = seat as u64
        | (p as u64) << 4
        | (round.cards() as u64) << 8
        | (round.dealer() as u64) << 12
        | (round.trump().map_or(4, |t| t.index()) as u64) << 16
        | (round.trick_leader() as u64) << 20
        | (round.tricks_done() as u64) << 24
        | (round.phase() as u64) << 28
        | (round.current_player().map_or(15, |s| s as u64)) << 32;
    h = mix(h, header);
    let mut trick = 0u64;
    for (i, (_, card)) in round.current_trick().enumerate() {
        trick |= (card.index() as u64 + 1) << (6 * i);
    }
    h = mix(h, trick);
    let mut seats = 0u64;
    for s in 0..p {
        let bid = round.bid(s).map_or(15, |b| b as u64);
        let fields = bid | (round.tricks_won(s) as u64) << 4 | (round.voids(s) as u64) << 8;
        seats ^= fields.rotate_left((s * 13) as u32);
        h = mix(h, fields | (s as u64) << 16);
    }
    mix(h, seats)
}

/// An answer in compact form: priors over the legal actions (in increasing
/// action order) and the value vector relative to the observer.
#[derive(Clone, Copy, Debug)]
pub struct CachedAnswer {
    pub priors: [f32; MAX_LEGAL],
    pub values: [f32; MAX_PLAYERS],
}

/// Keys are already hashes: pass them through.
#[derive(Default)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = mix(self.0, b as u64);
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = x;
    }
}

pub type KeyMap<V> = HashMap<u64, V, BuildHasherDefault<KeyHasher>>;

/// A bounded map from info keys to answers; cleared whole when full, which
/// is cheap and keeps the newest positions (the ones still being searched).
pub struct AnswerCache {
    map: KeyMap<CachedAnswer>,
    capacity: usize,
    pub hits: u64,
    pub misses: u64,
}

impl AnswerCache {
    pub fn new(capacity: usize) -> AnswerCache {
        AnswerCache {
            map: KeyMap::default(),
            capacity,
            hits: 0,
            misses: 0,
        }
    }
    pub fn enabled(&self) -> bool {
        self.capacity > 0
    }
    pub fn get(&mut self, key: u64) -> Option<&CachedAnswer> {
        if !self.enabled() {
            return None;
        }
        let found = self.map.get(&key);
        if found.is_some() {
            self.hits += 1;
        } else {
            self.misses += 1;
        }
        found
    }
    pub fn insert(&mut self, key: u64, answer: CachedAnswer) {
        if !self.enabled() {
            return;
        }
        if self.map.len() >= self.capacity {
            self.map.clear();
        }
        self.map.insert(key, answer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blob_core::observation::observation;
    use blob_core::{CardSet, Rng};

    #[test]
    fn equal_keys_mean_equal_observations_and_legal_moves_on_random_playouts() {
        let mut rng = Rng::new(11);
        let mut seen: HashMap<u64, ([f32; 256], u128)> = HashMap::new();
        for _ in 0..300 {
            let players = 3 + rng.below(6) as usize;
            let cards = 1 + rng.below((52 / players).min(13) as u32) as usize;
            let mut round = Round::deal(players, cards, 0, None, &mut rng).unwrap();
            while !round.is_over() {
                // Any seat may observe a leaf (the searching seat).
                let seat = rng.below(players as u32) as usize;
                let key = info_key(&round, seat, 0);
                let obs = observation(&round, seat, None).unwrap();
                let legal = round.legal_actions();
                if let Some(prev) = seen.insert(key, (obs, legal.0)) {
                    assert_eq!(prev, (obs, legal.0), "key collision");
                }
                round.apply_legal(legal.nth(rng.below(legal.len())).unwrap());
            }
        }
        assert!(seen.len() > 1000);
    }

    #[test]
    fn hidden_cards_do_not_change_the_key() {
        let hands = |a: &[&str], b: &[&str], c: &[&str]| {
            [a, b, c].map(|h| {
                h.iter()
                    .map(|n| blob_core::Card::parse(n).unwrap())
                    .collect::<CardSet>()
            })
        };
        let r1 = Round::from_hands(&hands(&["AS", "2H"], &["KS", "3H"], &["QS", "4H"]), 0, None)
            .unwrap();
        let r2 = Round::from_hands(&hands(&["AS", "2H"], &["QS", "4H"], &["KS", "3H"]), 0, None)
            .unwrap();
        assert_eq!(info_key(&r1, 0, 0), info_key(&r2, 0, 0));
        assert_ne!(info_key(&r1, 1, 0), info_key(&r2, 1, 0));
    }

    #[test]
    fn the_movers_legal_moves_are_part_of_the_key() {
        let hands = |b: &[&str], c: &[&str]| {
            [&["AS", "2H"][..], b, c].map(|h| {
                h.iter()
                    .map(|n| blob_core::Card::parse(n).unwrap())
                    .collect::<CardSet>()
            })
        };
        // Seat 0 leads a spade to seat 1, whose hidden hand decides its
        // legal cards: seat 0's observation is the same in all three.
        let play = |b: &[&str], c: &[&str]| {
            let mut r = Round::from_hands(&hands(b, c), 2, None).unwrap();
            for bid in [52, 52, 52] {
                r.apply_legal(bid);
            }
            r.apply_legal(blob_core::Card::parse("AS").unwrap().index() as usize);
            r
        };
        let follows = play(&["KS", "3H"], &["QS", "4H"]);
        let follows_too = play(&["KS", "4H"], &["QS", "3H"]);
        let void = play(&["3H", "4H"], &["KS", "QS"]);
        assert_eq!(info_key(&follows, 0, 0), info_key(&follows_too, 0, 0));
        assert_ne!(info_key(&follows, 0, 0), info_key(&void, 0, 0));
    }
}
