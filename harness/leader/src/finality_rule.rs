//! `[leader.finality]` as a profile states it: the quorum fraction and the first height that needs
//! votes. The fraction's arithmetic is exact for any fraction of 64-bit numbers.

use std::fmt;

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
    pub fn parse(s: &str) -> Result<Fraction, String> {
        let (a, b) = s.split_once('/').ok_or_else(|| format!("{s:?} is not a fraction num/den (e.g. \"2/3\")"))?;
        let (num, den): (u64, u64) = match (a.trim().parse(), b.trim().parse()) {
            (Ok(n), Ok(d)) => (n, d),
            _ => return Err(format!("{s:?} is not a fraction of whole numbers num/den")),
        };
        if num == 0 || den == 0 || num > den {
            return Err(format!("{s:?}: a quorum is a fraction with 0 < num <= den"));
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
}
