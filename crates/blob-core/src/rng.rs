//! A small, fast, seedable random number generator (xoshiro256++).
//!
//! The project promises that every random choice flows from a seed and that a
//! one-thread run is reproducible across versions and platforms, so the
//! generator is defined here rather than borrowed from a crate whose stream
//! may change between releases.

/// xoshiro256++ (Blackman and Vigna), seeded through SplitMix64.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rng {
    s: [u64; 4],
}

#[inline]
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Mixes several integers into one well-spread seed, for deriving the seed of
/// a sub-task (a game, a worker, a determinization) from a base seed.
pub fn mix_seed(parts: &[u64]) -> u64 {
    let mut state = 0x5EED_B10B_u64;
    let mut out = 0;
    for &p in parts {
        state ^= p;
        out = splitmix64(&mut state);
    }
    out
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut sm = seed;
        let s = [
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
        ];
        Rng { s }
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[0]
            .wrapping_add(self.s[3])
            .rotate_left(23)
            .wrapping_add(self.s[0]);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// A uniform integer in `0..n` (Lemire's nearly divisionless method).
    /// `n` must be positive.
    #[inline]
    pub fn below(&mut self, n: u32) -> u32 {
        debug_assert!(n > 0);
        let mut m = (self.next_u64() >> 32) * n as u64;
        let mut low = m as u32;
        if low < n {
            let threshold = n.wrapping_neg() % n;
            while low < threshold {
                m = (self.next_u64() >> 32) * n as u64;
                low = m as u32;
            }
        }
        (m >> 32) as u32
    }

    /// A uniform float in [0, 1).
    #[inline]
    pub fn unit_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A standard normal sample (Box-Muller; one of the pair is dropped).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.unit_f64();
        let u2 = self.unit_f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// A Gamma(shape, 1) sample (Marsaglia and Tsang, with the usual boost
    /// for shape < 1). Used for Dirichlet root noise.
    pub fn gamma(&mut self, shape: f64) -> f64 {
        if shape <= 0.0 || !shape.is_finite() {
            return 0.0;
        }
        if shape < 1.0 {
            let u = 1.0 - self.unit_f64();
            return self.gamma(shape + 1.0) * u.powf(1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = 1.0 + c * x;
            if v <= 0.0 {
                continue;
            }
            let v = v * v * v;
            let u = 1.0 - self.unit_f64();
            if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
                return d * v;
            }
        }
    }

    /// A uniformly random subset of `k` cards of the bit set `from` (which must
    /// hold at least `k` cards), by sequential selection without rejection.
    #[inline]
    pub fn pick_bits(&mut self, from: u64, k: u32) -> u64 {
        let mut remaining = from;
        let mut picked = 0;
        for _ in 0..k {
            let n = remaining.count_ones();
            let mut bits = remaining;
            for _ in 0..self.below(n) {
                bits &= bits - 1;
            }
            let bit = bits & bits.wrapping_neg();
            picked |= bit;
            remaining &= !bit;
        }
        picked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        assert_ne!(Rng::new(7).next_u64(), Rng::new(8).next_u64());
    }

    #[test]
    fn below_is_uniform_enough() {
        let mut rng = Rng::new(1);
        let mut counts = [0u32; 6];
        let n = 60_000;
        for _ in 0..n {
            counts[rng.below(6) as usize] += 1;
        }
        // Chi-square with 5 degrees of freedom; 20.5 is the 0.999 quantile.
        let expected = n as f64 / 6.0;
        let chi2: f64 = counts
            .iter()
            .map(|&c| (c as f64 - expected).powi(2) / expected)
            .sum();
        assert!(chi2 < 20.5, "chi2 = {chi2}, counts {counts:?}");
    }

    #[test]
    fn gamma_has_the_right_mean() {
        let mut rng = Rng::new(3);
        for shape in [0.3, 1.0, 2.5] {
            let n = 40_000;
            let mean: f64 = (0..n).map(|_| rng.gamma(shape)).sum::<f64>() / n as f64;
            // Standard error of the mean is sqrt(shape / n) <= 0.008.
            assert!((mean - shape).abs() < 0.04, "shape {shape}: mean {mean}");
        }
    }

    #[test]
    fn pick_bits_picks_exactly_k_from_the_set() {
        let mut rng = Rng::new(5);
        let from = 0b1011_0110_1100u64;
        for k in 0..=from.count_ones() {
            let p = rng.pick_bits(from, k);
            assert_eq!(p.count_ones(), k);
            assert_eq!(p & !from, 0);
        }
    }
}
