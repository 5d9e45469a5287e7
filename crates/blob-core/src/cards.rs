//! Cards, suits and card sets.
//!
//! A card is its index `suit * 13 + rank` (two of spades = 0, ace of
//! diamonds = 51), the one numbering used by every file and API of the
//! project. Because ranks grow with the index inside a suit, the highest card
//! of a suit in a set is simply its highest set bit.

use crate::error::{CoreError, CoreResult};

/// Number of cards in the deck.
pub const DECK_SIZE: usize = 52;
/// Number of ranks per suit.
pub const RANKS: u8 = 13;
/// Number of suits.
pub const SUITS: u8 = 4;

/// A suit, in the order of the rules: spades, hearts, clubs, diamonds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Suit {
    Spades = 0,
    Hearts = 1,
    Clubs = 2,
    Diamonds = 3,
}

impl Suit {
    pub const ALL: [Suit; 4] = [Suit::Spades, Suit::Hearts, Suit::Clubs, Suit::Diamonds];

    /// The suit with index `i` (0..3).
    pub fn from_index(i: u8) -> CoreResult<Suit> {
        Suit::ALL
            .get(i as usize)
            .copied()
            .ok_or(CoreError::InvalidSuit(i))
    }

    #[inline]
    pub fn index(self) -> u8 {
        self as u8
    }

    /// The one-letter symbol used in card names: S, H, C, D.
    pub fn symbol(self) -> char {
        ['S', 'H', 'C', 'D'][self as usize]
    }

    /// All 13 cards of this suit.
    #[inline]
    pub fn cards(self) -> CardSet {
        CardSet(SUIT_MASK << (13 * self as u32))
    }
}

const SUIT_MASK: u64 = (1 << 13) - 1;
const RANK_NAMES: [&str; 13] = [
    "2", "3", "4", "5", "6", "7", "8", "9", "10", "J", "Q", "K", "A",
];

/// One card, stored as its index 0..51.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Card(u8);

impl Card {
    /// The card with index `i`, or an error if `i` is not in 0..51.
    pub fn new(i: u8) -> CoreResult<Card> {
        if (i as usize) < DECK_SIZE {
            Ok(Card(i))
        } else {
            Err(CoreError::InvalidCard(i as i64))
        }
    }

    /// The card with index `i`, which the caller guarantees is below 52.
    #[inline]
    pub(crate) const fn from_index_unchecked(i: u8) -> Card {
        Card(i)
    }

    pub fn from_suit_rank(suit: Suit, rank: u8) -> CoreResult<Card> {
        if rank < RANKS {
            Ok(Card(suit as u8 * RANKS + rank))
        } else {
            Err(CoreError::InvalidRank(rank))
        }
    }

    #[inline]
    pub fn index(self) -> u8 {
        self.0
    }

    #[inline]
    pub fn suit(self) -> Suit {
        Suit::ALL[(self.0 / RANKS) as usize]
    }

    /// Rank 0..12, two to ace.
    #[inline]
    pub fn rank(self) -> u8 {
        self.0 % RANKS
    }

    /// The name of the card: rank then suit letter, as "AS", "10H", "2D".
    pub fn name(self) -> String {
        format!(
            "{}{}",
            RANK_NAMES[self.rank() as usize],
            self.suit().symbol()
        )
    }

    /// Parses a name as written by [`Card::name`]; case-insensitive, "T" is
    /// accepted for ten.
    pub fn parse(name: &str) -> CoreResult<Card> {
        let bad = || CoreError::InvalidCardName(name.to_string());
        let upper = name.trim().to_ascii_uppercase();
        if upper.len() < 2 || !upper.is_ascii() {
            return Err(bad());
        }
        let (rank_part, suit_part) = upper.split_at(upper.len() - 1);
        let suit = match suit_part {
            "S" => Suit::Spades,
            "H" => Suit::Hearts,
            "C" => Suit::Clubs,
            "D" => Suit::Diamonds,
            _ => return Err(bad()),
        };
        let rank_part = if rank_part == "T" { "10" } else { rank_part };
        let rank = RANK_NAMES
            .iter()
            .position(|r| *r == rank_part)
            .ok_or_else(bad)?;
        Card::from_suit_rank(suit, rank as u8)
    }
}

impl std::fmt::Display for Card {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

/// A set of cards as a 64-bit mask (bit i = card i).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CardSet(pub u64);

impl CardSet {
    pub const EMPTY: CardSet = CardSet(0);
    pub const FULL_DECK: CardSet = CardSet((1 << DECK_SIZE) - 1);

    #[inline]
    pub fn single(card: Card) -> CardSet {
        CardSet(1 << card.0)
    }

    /// Builds a set from card indices, rejecting indices above 51 and
    /// duplicates.
    pub fn from_indices(indices: &[u8]) -> CoreResult<CardSet> {
        let mut set = CardSet::EMPTY;
        for &i in indices {
            let card = Card::new(i)?;
            if set.contains(card) {
                return Err(CoreError::DuplicateCard(i));
            }
            set.insert(card);
        }
        Ok(set)
    }

    #[inline]
    pub fn bits(self) -> u64 {
        self.0
    }
    #[inline]
    pub fn len(self) -> u32 {
        self.0.count_ones()
    }
    #[inline]
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    #[inline]
    pub fn contains(self, card: Card) -> bool {
        self.0 >> card.0 & 1 == 1
    }
    #[inline]
    pub fn insert(&mut self, card: Card) {
        self.0 |= 1 << card.0;
    }
    #[inline]
    pub fn remove(&mut self, card: Card) {
        self.0 &= !(1 << card.0);
    }
    #[inline]
    pub fn union(self, other: CardSet) -> CardSet {
        CardSet(self.0 | other.0)
    }
    #[inline]
    pub fn intersect(self, other: CardSet) -> CardSet {
        CardSet(self.0 & other.0)
    }
    #[inline]
    pub fn minus(self, other: CardSet) -> CardSet {
        CardSet(self.0 & !other.0)
    }
    #[inline]
    pub fn of_suit(self, suit: Suit) -> CardSet {
        self.intersect(suit.cards())
    }
    /// The highest card of the set (highest rank of the highest suit index).
    #[inline]
    pub fn highest(self) -> Option<Card> {
        if self.0 == 0 {
            None
        } else {
            Some(Card(63 - self.0.leading_zeros() as u8))
        }
    }
    #[inline]
    pub fn lowest(self) -> Option<Card> {
        if self.0 == 0 {
            None
        } else {
            Some(Card(self.0.trailing_zeros() as u8))
        }
    }
    /// The `n`-th card of the set in index order (0-based), if any.
    #[inline]
    pub fn nth(self, n: u32) -> Option<Card> {
        let mut bits = self.0;
        for _ in 0..n {
            if bits == 0 {
                return None;
            }
            bits &= bits - 1;
        }
        CardSet(bits).lowest()
    }
    /// Bit mask of the suits present in the set (bit s = suit s).
    #[inline]
    pub fn suits_present(self) -> u8 {
        let mut mask = 0;
        for s in Suit::ALL {
            if !self.of_suit(s).is_empty() {
                mask |= 1 << s as u8;
            }
        }
        mask
    }
    pub fn iter(self) -> CardIter {
        CardIter(self.0)
    }
    pub fn to_vec(self) -> Vec<Card> {
        self.iter().collect()
    }
}

impl FromIterator<Card> for CardSet {
    fn from_iter<I: IntoIterator<Item = Card>>(iter: I) -> CardSet {
        let mut set = CardSet::EMPTY;
        for card in iter {
            set.insert(card);
        }
        set
    }
}

/// Iterates the cards of a set in increasing index order.
#[derive(Clone, Debug)]
pub struct CardIter(u64);

impl Iterator for CardIter {
    type Item = Card;
    #[inline]
    fn next(&mut self) -> Option<Card> {
        if self.0 == 0 {
            return None;
        }
        let i = self.0.trailing_zeros() as u8;
        self.0 &= self.0 - 1;
        Some(Card(i))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.0.count_ones() as usize;
        (n, Some(n))
    }
}

impl ExactSizeIterator for CardIter {}

impl IntoIterator for CardSet {
    type Item = Card;
    type IntoIter = CardIter;
    fn into_iter(self) -> CardIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbering_matches_the_rules() {
        assert_eq!(Card::parse("2S").unwrap().index(), 0);
        assert_eq!(Card::parse("AD").unwrap().index(), 51);
        assert_eq!(Card::parse("10h").unwrap().index(), 13 + 8);
        assert_eq!(Card::parse("TH").unwrap().index(), 13 + 8);
        assert_eq!(Card::new(12).unwrap().name(), "AS");
        assert_eq!(Card::new(13).unwrap().name(), "2H");
        assert_eq!(Card::new(26).unwrap().suit(), Suit::Clubs);
        for i in 0..52u8 {
            let c = Card::new(i).unwrap();
            assert_eq!(Card::parse(&c.name()).unwrap(), c);
        }
    }

    #[test]
    fn bad_cards_are_errors() {
        assert!(Card::new(52).is_err());
        for name in ["", "1S", "11H", "AX", "A", "SA", "ÄS"] {
            assert!(Card::parse(name).is_err(), "{name}");
        }
        assert_eq!(
            CardSet::from_indices(&[3, 3]),
            Err(CoreError::DuplicateCard(3))
        );
    }

    #[test]
    fn set_operations() {
        let set = CardSet::from_indices(&[0, 5, 13, 51]).unwrap();
        assert_eq!(set.len(), 4);
        assert_eq!(set.highest().unwrap().index(), 51);
        assert_eq!(set.lowest().unwrap().index(), 0);
        assert_eq!(set.of_suit(Suit::Spades).len(), 2);
        assert_eq!(set.suits_present(), 0b1011);
        assert_eq!(set.nth(2).unwrap().index(), 13);
        assert_eq!(set.nth(4), None);
        let v: Vec<u8> = set.iter().map(Card::index).collect();
        assert_eq!(v, vec![0, 5, 13, 51]);
    }
}
