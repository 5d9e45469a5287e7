//! The Python agents' per-decision randomness, reproduced bit for bit so an
//! arena played in the engine makes the same choices as one played through
//! `blobmaster.agents`:
//!
//! - [`decision_seed`]: `agents.decision_seed`, a keyed BLAKE2b-64 of the
//!   mover's observation (float32 bytes) with the agent's seed as key;
//! - [`python_choice`]: `random.Random(seed).choice(items)` (CPython's
//!   MT19937, seeded by `init_by_array` of the seed's 32-bit words).

use blob_core::Round;
use blob_core::observation::{OBS_SIZE, encode_observation};

const IV: [u64; 8] = [
    0x6a09e667f3bcc908,
    0xbb67ae8584caa73b,
    0x3c6ef372fe94f82b,
    0xa54ff53a5f1d36f1,
    0x510e527fade682d1,
    0x9b05688c2b3e6c1f,
    0x1f83d9abfb41bd6b,
    0x5be0cd19137e2179,
];

const SIGMA: [[usize; 16]; 12] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
    [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
    [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
    [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
    [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
    [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
    [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
    [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
    [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
];

fn compress(h: &mut [u64; 8], block: &[u8; 128], counter: u128, last: bool) {
    let mut m = [0u64; 16];
    for (i, word) in m.iter_mut().enumerate() {
        *word = u64::from_le_bytes(block[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
    }
    let mut v = [0u64; 16];
    v[..8].copy_from_slice(h);
    v[8..].copy_from_slice(&IV);
    v[12] ^= counter as u64;
    v[13] ^= (counter >> 64) as u64;
    if last {
        v[14] = !v[14];
    }
    let g = |v: &mut [u64; 16], a: usize, b: usize, c: usize, d: usize, x: u64, y: u64| {
        v[a] = v[a].wrapping_add(v[b]).wrapping_add(x);
        v[d] = (v[d] ^ v[a]).rotate_right(32);
        v[c] = v[c].wrapping_add(v[d]);
        v[b] = (v[b] ^ v[c]).rotate_right(24);
        v[a] = v[a].wrapping_add(v[b]).wrapping_add(y);
        v[d] = (v[d] ^ v[a]).rotate_right(16);
        v[c] = v[c].wrapping_add(v[d]);
        v[b] = (v[b] ^ v[c]).rotate_right(63);
    };
    for s in &SIGMA {
        g(&mut v, 0, 4, 8, 12, m[s[0]], m[s[1]]);
        g(&mut v, 1, 5, 9, 13, m[s[2]], m[s[3]]);
        g(&mut v, 2, 6, 10, 14, m[s[4]], m[s[5]]);
        g(&mut v, 3, 7, 11, 15, m[s[6]], m[s[7]]);
        g(&mut v, 0, 5, 10, 15, m[s[8]], m[s[9]]);
        g(&mut v, 1, 6, 11, 12, m[s[10]], m[s[11]]);
        g(&mut v, 2, 7, 8, 13, m[s[12]], m[s[13]]);
        g(&mut v, 3, 4, 9, 14, m[s[14]], m[s[15]]);
    }
    for i in 0..8 {
        h[i] ^= v[i] ^ v[i + 8];
    }
}

/// `hashlib.blake2b(data, digest_size=8, key=key.to_bytes(8, "little"))`
/// as a little-endian u64.
pub fn blake2b_64_keyed(key: u64, data: &[u8]) -> u64 {
    let mut h = IV;
    h[0] ^= 0x0101_0000 ^ (8 << 8) ^ 8;
    let mut block = [0u8; 128];
    block[..8].copy_from_slice(&key.to_le_bytes());
    let mut counter: u128 = 128;
    if data.is_empty() {
        compress(&mut h, &block, counter, true);
        return h[0];
    }
    compress(&mut h, &block, counter, false);
    let mut chunks = data.chunks(128).peekable();
    while let Some(chunk) = chunks.next() {
        block = [0u8; 128];
        block[..chunk.len()].copy_from_slice(chunk);
        counter += chunk.len() as u128;
        compress(&mut h, &block, counter, chunks.peek().is_none());
    }
    h[0]
}

/// `blobmaster.agents.decision_seed(seed, round)`: the mover's observation
/// (no game context) hashed with the agent's seed.
pub fn decision_seed(seed: u64, round: &Round) -> u64 {
    let mut obs = [0.0f32; OBS_SIZE];
    let seat = round.current_player().unwrap_or(0);
    encode_observation(round, seat, None, &mut obs);
    let mut bytes = [0u8; OBS_SIZE * 4];
    for (chunk, x) in bytes.chunks_exact_mut(4).zip(obs) {
        chunk.copy_from_slice(&x.to_le_bytes());
    }
    blake2b_64_keyed(seed, &bytes)
}

/// CPython's Mersenne Twister, enough of it for `Random(int).choice`.
struct Mt19937 {
    state: [u32; 624],
    index: usize,
}

impl Mt19937 {
    fn init_genrand(s: u32) -> Mt19937 {
        let mut state = [0u32; 624];
        state[0] = s;
        for i in 1..624 {
            state[i] = 1812433253u32
                .wrapping_mul(state[i - 1] ^ (state[i - 1] >> 30))
                .wrapping_add(i as u32);
        }
        Mt19937 { state, index: 624 }
    }

    /// `random.Random(seed)` for a non-negative integer seed below 2^64.
    fn from_python_seed(seed: u64) -> Mt19937 {
        let key: Vec<u32> = if seed >> 32 != 0 {
            vec![seed as u32, (seed >> 32) as u32]
        } else {
            vec![seed as u32]
        };
        let mut mt = Mt19937::init_genrand(19650218);
        let mt_state = &mut mt.state;
        let (mut i, mut j) = (1usize, 0usize);
        for _ in 0..624.max(key.len()) {
            mt_state[i] = (mt_state[i]
                ^ (mt_state[i - 1] ^ (mt_state[i - 1] >> 30)).wrapping_mul(1664525))
            .wrapping_add(key[j])
            .wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= 624 {
                mt_state[0] = mt_state[623];
                i = 1;
            }
            if j >= key.len() {
                j = 0;
            }
        }
        for _ in 0..623 {
            mt_state[i] = (mt_state[i]
                ^ (mt_state[i - 1] ^ (mt_state[i - 1] >> 30)).wrapping_mul(1566083941))
            .wrapping_sub(i as u32);
            i += 1;
            if i >= 624 {
                mt_state[0] = mt_state[623];
                i = 1;
            }
        }
        mt_state[0] = 0x8000_0000;
        mt
    }

    fn next_u32(&mut self) -> u32 {
        if self.index >= 624 {
            for k in 0..624 {
                let y = (self.state[k] & 0x8000_0000) | (self.state[(k + 1) % 624] & 0x7fff_ffff);
                let mut next = self.state[(k + 397) % 624] ^ (y >> 1);
                if y & 1 != 0 {
                    next ^= 0x9908_b0df;
                }
                self.state[k] = next;
            }
            self.index = 0;
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }
}

/// `random.Random(seed).choice(range(n))` for 1 <= n < 2^32: CPython's
/// `_randbelow` (rejection sampling on `getrandbits(n.bit_length())`).
pub fn python_choice(seed: u64, n: u32) -> u32 {
    debug_assert!(n >= 1);
    let bits = 32 - n.leading_zeros();
    let mut mt = Mt19937::from_python_seed(seed);
    loop {
        let r = mt.next_u32() >> (32 - bits);
        if r < n {
            return r;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected values printed by CPython's hashlib and random.
    #[test]
    fn blake2b_matches_hashlib() {
        assert_eq!(blake2b_64_keyed(7, b"abc"), 10740954543381311794);
        let bytes: Vec<u8> = (0..300).map(|i| (i % 256) as u8).collect();
        assert_eq!(
            blake2b_64_keyed(123456789012345, &bytes),
            12255055973151429920
        );
        assert_eq!(blake2b_64_keyed(0, &[0u8; 1024]), 14227341342990957922);
    }

    #[test]
    fn choice_matches_cpython_random() {
        let cases: [(u64, [u32; 6]); 6] = [
            (0, [0, 1, 1, 6, 6, 49]),
            (1, [0, 0, 0, 1, 2, 17]),
            (5, [0, 1, 2, 4, 9, 32]),
            ((1 << 32) + 3, [0, 0, 0, 0, 1, 12]),
            (u64::MAX, [0, 0, 0, 0, 0, 2]),
            (12345678901234567, [0, 0, 0, 0, 1, 12]),
        ];
        for (seed, expected) in cases {
            let got: Vec<u32> = [1, 2, 3, 7, 13, 66]
                .iter()
                .map(|&n| python_choice(seed, n))
                .collect();
            assert_eq!(got, expected, "seed {seed}");
        }
    }
}
