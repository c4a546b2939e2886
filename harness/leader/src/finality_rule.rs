//! `[leader.finality]` as a profile states it: the quorum fraction and the first height that needs
//! votes. The fraction's arithmetic is exact for any fraction of 64-bit numbers.

use std::fmt;

/// A quorum that is not a fraction `num/den` with 0 < num ≤ den.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FractionError {
    /// No `/` between a numerator and a denominator.
    #[error("{0:?} is not a fraction num/den (e.g. \"2/3\")")]
    NoSlash(String),
    /// The numerator or the denominator is not a whole number that fits in 64 bits.
    #[error("{input:?} is not a fraction of whole numbers num/den")]
    NotWholeNumbers {
        /// The fraction given.
        input: String,
        /// Why the first part that is not a whole number does not parse.
        #[source]
        source: std::num::ParseIntError,
    },
    /// A zero numerator or denominator, or a numerator above the denominator.
    #[error("{0:?}: a quorum is a fraction with 0 < num <= den")]
    OutOfRange(String),
}

/// A quorum fraction `num/den` (0 < num ≤ den).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fraction {
    /// Numerator.
    pub num: u64,
    /// Denominator.
    pub den: u64,
}

impl Fraction {
    /// Parses `"num/den"`.
    pub fn parse(s: &str) -> Result<Fraction, FractionError> {
        let (a, b) = s.split_once('/').ok_or_else(|| FractionError::NoSlash(s.to_owned()))?;
        let whole = |part: &str| {
            part.trim().parse::<u64>().map_err(|source| FractionError::NotWholeNumbers { input: s.to_owned(), source })
        };
        let (num, den) = (whole(a)?, whole(b)?);
        if num == 0 || den == 0 || num > den {
            return Err(FractionError::OutOfRange(s.to_owned()));
        }
        Ok(Fraction { num, den })
    }

    /// The fewest votes of `n` validators that satisfy `v · den ≥ num · n`: exact for any fraction (the
    /// product is taken in 128 bits; the answer is at most `n`, since `num ≤ den`).
    pub fn required(self, n: u64) -> u64 {
        let votes = (u128::from(self.num) * u128::from(n)).div_ceil(u128::from(self.den));
        u64::try_from(votes).expect("num <= den, so at most n votes")
    }
}

impl fmt::Display for Fraction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.num, self.den)
    }
}

/// A profile's `[leader.finality]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FinalityRule {
    /// The share of validators whose votes make a block final.
    pub quorum: Fraction,
    /// The first height that needs votes (at least the leader activation height).
    pub activation_height: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked examples of docs/finality-v1.md.
    #[test]
    fn quorum_examples() {
        let two_thirds = Fraction::parse("2/3").unwrap();
        assert_eq!([1, 2, 3, 4, 5, 6, 7].map(|n| two_thirds.required(n)), [1, 2, 2, 3, 4, 4, 5]);
        assert_eq!(Fraction::parse("1/1").unwrap().required(4), 4);
        assert_eq!(Fraction::parse("1/2").unwrap().required(4), 2);
        for bad in ["0/3", "4/3", "2/0", "two/3", "2", "-1/3", "18446744073709551616/18446744073709551617"] {
            assert!(Fraction::parse(bad).is_err(), "{bad}");
        }
    }

    /// Fractions whose `num · n` overflows 64 bits are exact: a quorum of all is all, 0.67 of 3 is 3,
    /// never the 1 a wrapped product gave.
    #[test]
    fn quorum_arithmetic_is_exact_near_u64_max() {
        let max = u64::MAX;
        let all = Fraction::parse(&format!("{max}/{max}")).unwrap();
        assert_eq!([1, 3, 4, 100].map(|n| all.required(n)), [1, 3, 4, 100]);
        let point_67 = Fraction::parse("6700000000000000000/10000000000000000000").unwrap();
        assert_eq!([1, 3, 100].map(|n| point_67.required(n)), [1, 3, 67]);
        let just_under_all = Fraction { num: max - 1, den: max };
        assert_eq!(just_under_all.required(3), 3);
        assert_eq!(just_under_all.required(max), max - 1);
        let tiny = Fraction { num: 1, den: max };
        assert_eq!(tiny.required(3), 1);
        assert_eq!(all.required(max), max);
    }

    #[test]
    fn quorum_messages() {
        let message = |s: &str| Fraction::parse(s).unwrap_err().to_string();
        assert_eq!(message("2"), "\"2\" is not a fraction num/den (e.g. \"2/3\")");
        assert_eq!(message("two/3"), "\"two/3\" is not a fraction of whole numbers num/den");
        assert_eq!(message("2/x"), "\"2/x\" is not a fraction of whole numbers num/den");
        assert_eq!(message("4/3"), "\"4/3\": a quorum is a fraction with 0 < num <= den");
        let e = Fraction::parse("-1/3").unwrap_err();
        assert!(std::error::Error::source(&e).is_some(), "the integer error is the source");
    }
}
