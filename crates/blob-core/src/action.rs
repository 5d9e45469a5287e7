//! The action numbering shared by the whole project: playing card i is
//! action i (0..51), bidding b is action 52 + b (b in 0..13).

use crate::cards::Card;

/// First bid action: bidding b is `BID_OFFSET + b`.
pub const BID_OFFSET: usize = 52;
/// Size of the action space.
pub const NUM_ACTIONS: usize = 66;

/// A set of action ids as a 128-bit mask (bit a = action a).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ActionSet(pub u128);

impl ActionSet {
    pub const EMPTY: ActionSet = ActionSet(0);

    #[inline]
    pub fn len(self) -> u32 {
        self.0.count_ones()
    }
    #[inline]
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    #[inline]
    pub fn contains(self, action: usize) -> bool {
        action < NUM_ACTIONS && self.0 >> action & 1 == 1
    }
    /// The `n`-th action in increasing order (0-based), if any.
    #[inline]
    pub fn nth(self, n: u32) -> Option<usize> {
        let low = self.0 as u64;
        let low_count = low.count_ones();
        if n < low_count {
            let mut bits = low;
            for _ in 0..n {
                bits &= bits - 1;
            }
            return Some(bits.trailing_zeros() as usize);
        }
        let mut bits = (self.0 >> 64) as u64;
        for _ in 0..n - low_count {
            if bits == 0 {
                return None;
            }
            bits &= bits - 1;
        }
        (bits != 0).then(|| 64 + bits.trailing_zeros() as usize)
    }
    pub fn iter(self) -> ActionIter {
        ActionIter(self.0)
    }
    pub fn to_vec(self) -> Vec<usize> {
        self.iter().collect()
    }
    /// The mask as 66 booleans, for network input.
    pub fn to_mask(self) -> [bool; NUM_ACTIONS] {
        let mut out = [false; NUM_ACTIONS];
        for a in self.iter() {
            out[a] = true;
        }
        out
    }
}

/// Iterates the actions of a set in increasing order.
#[derive(Clone, Debug)]
pub struct ActionIter(u128);

impl Iterator for ActionIter {
    type Item = usize;
    #[inline]
    fn next(&mut self) -> Option<usize> {
        if self.0 == 0 {
            return None;
        }
        let i = self.0.trailing_zeros() as usize;
        self.0 &= self.0 - 1;
        Some(i)
    }
}

/// Whether an action id is a bid.
#[inline]
pub fn is_bid(action: usize) -> bool {
    (BID_OFFSET..NUM_ACTIONS).contains(&action)
}

/// A readable name: "bid 2", "AS", or "action 99" for an unknown id.
pub fn describe(action: usize) -> String {
    if is_bid(action) {
        format!("bid {}", action - BID_OFFSET)
    } else if action < BID_OFFSET {
        Card::from_index_unchecked(action as u8).name()
    } else {
        format!("action {action}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nth_crosses_the_64_bit_boundary() {
        let set = ActionSet((1 << 3) | (1 << 51) | (1 << 52) | (1 << 65));
        assert_eq!(set.to_vec(), vec![3, 51, 52, 65]);
        for (n, a) in set.iter().enumerate() {
            assert_eq!(set.nth(n as u32), Some(a));
        }
        assert_eq!(set.nth(4), None);
        assert_eq!(describe(53), "bid 1");
        assert_eq!(describe(12), "AS");
    }
}
