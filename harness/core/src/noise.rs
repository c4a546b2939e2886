//! Noise: is each verifier deterministic? A run with a noise rate judges some blocks a second time, by
//! each verifier in a call of its own, and a verifier whose two answers differ is recorded (a
//! `legacy_noise` or `candidate_noise` record), counted apart from divergences. Both rules here are pure:
//!
//! - which blocks are judged twice ([`NoiseRate::picks`]): decided by the block's id alone — Keccak-256
//!   of `b"dualrun/noise/v1" ‖ block_id`, its first eight bytes little-endian, below the rate's share of
//!   2⁶⁴ — so a replay, a live run, each shard and the Python `DualRun` pick the same blocks of a chain
//!   and their records stay byte-identical to each other;
//! - whether two answers differ ([`differs`]): another verdict, another reason or other facts; an error
//!   and a verdict; errors of another kind (two errors of one kind are one answer: their messages carry
//!   timings).

use std::fmt;
use std::str::FromStr;

use dualrun_format::{keccak256, Hash32};
use serde::{Deserialize, Serialize};

use crate::verifier::VerifierOutcome;

/// The share of blocks judged twice, 0 < rate ≤ 1 (1: every block), as given (`--noise 0.01`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct NoiseRate(f64);

/// A noise rate that is not a number in (0, 1].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "noise rate {0:?}: expected a number above 0 and at most 1 (the share of blocks judged twice; 1 = every block)"
)]
pub struct NoiseRateError(pub String);

impl NoiseRate {
    /// Whether the block with id `block_id` is judged twice.
    pub fn picks(self, block_id: &Hash32) -> bool {
        if self.0 >= 1.0 {
            return true;
        }
        let mut input = [0u8; 16 + 32];
        input[..16].copy_from_slice(b"dualrun/noise/v1");
        input[16..].copy_from_slice(&block_id.0);
        let h = keccak256(&input);
        let draw = u64::from_le_bytes(h.0[..8].try_into().expect("eight bytes"));
        // The rate's share of 2^64, in f64: exact enough for a sampling rate.
        (draw as f64) < self.0 * 18_446_744_073_709_551_616.0
    }
}

impl TryFrom<f64> for NoiseRate {
    type Error = NoiseRateError;
    fn try_from(rate: f64) -> Result<NoiseRate, NoiseRateError> {
        if rate > 0.0 && rate <= 1.0 {
            Ok(NoiseRate(rate))
        } else {
            Err(NoiseRateError(rate.to_string()))
        }
    }
}

impl From<NoiseRate> for f64 {
    fn from(rate: NoiseRate) -> f64 {
        rate.0
    }
}

impl FromStr for NoiseRate {
    type Err = NoiseRateError;
    fn from_str(s: &str) -> Result<NoiseRate, NoiseRateError> {
        let rate: f64 = s.trim().parse().map_err(|_| NoiseRateError(s.to_owned()))?;
        NoiseRate::try_from(rate).map_err(|_| NoiseRateError(s.to_owned()))
    }
}

impl fmt::Display for NoiseRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Whether a verifier's second answer for a block is not its first (see the module docs).
pub fn differs(first: &VerifierOutcome, again: &VerifierOutcome) -> bool {
    use VerifierOutcome::{Error, Verdict};
    match (first, again) {
        (Verdict { verdict: a, facts: fa }, Verdict { verdict: b, facts: fb }) => {
            a.kind() != b.kind() || a.reason() != b.reason() || fa != fb
        }
        (Error(a), Error(b)) => a.kind != b.kind,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verifier::{ErrorKind, Facts, Verdict, VerifierError};

    #[test]
    fn a_rate_is_a_share_in_zero_to_one() {
        assert_eq!(f64::from("0.25".parse::<NoiseRate>().unwrap()), 0.25);
        assert_eq!(f64::from("1".parse::<NoiseRate>().unwrap()), 1.0);
        for bad in ["0", "-0.1", "1.5", "NaN", "inf", "x", ""] {
            let e = bad.parse::<NoiseRate>().unwrap_err();
            assert_eq!(e, NoiseRateError(bad.into()), "{bad}");
        }
        assert!(serde_json::from_str::<NoiseRate>("2").is_err());
        assert_eq!(serde_json::to_string(&"0.1".parse::<NoiseRate>().unwrap()).unwrap(), "0.1");
    }

    /// The first ids of `keccak256(u32le(i))`, i = 0, 1, …, a rate of 0.1 picks.
    const PINNED_FIRST_PICKS: [usize; 5] = [9, 20, 30, 35, 49];

    #[test]
    fn the_blocks_picked_depend_on_the_id_alone_and_follow_the_rate() {
        let ids: Vec<Hash32> = (0..4000u32).map(|i| keccak256(&i.to_le_bytes())).collect();
        let rate: NoiseRate = "0.1".parse().unwrap();
        let picked = ids.iter().filter(|id| rate.picks(id)).count();
        assert!((300..=500).contains(&picked), "{picked} of 4000 at 0.1");
        // Pinned: the rule is part of the record format (a changed rule picks other blocks).
        let first: Vec<usize> = (0..ids.len()).filter(|&i| rate.picks(&ids[i])).take(5).collect();
        assert_eq!(first, PINNED_FIRST_PICKS);
        assert_eq!(ids.iter().filter(|id| rate.picks(id)).count(), picked, "the same blocks each time");
        let every: NoiseRate = "1".parse().unwrap();
        assert!(ids.iter().all(|id| every.picks(id)));
        let smaller: NoiseRate = "0.05".parse().unwrap();
        assert!(ids.iter().filter(|id| smaller.picks(id)).all(|id| rate.picks(id)), "a lower rate picks a subset");
    }

    #[test]
    fn two_answers_differ_by_verdict_reason_facts_or_error_kind_not_detail_or_message() {
        let reject = |reason: &str, detail: &str| VerifierOutcome::Verdict {
            verdict: Verdict::Reject { reason: reason.into(), detail: detail.into() },
            facts: Facts::new(),
        };
        let accept = |id: &str| VerifierOutcome::Verdict {
            verdict: Verdict::Accept,
            facts: [("block_id".to_owned(), id.to_owned())].into(),
        };
        let error = |kind, m: &str| VerifierOutcome::Error(VerifierError::new(kind, m));
        assert!(!differs(&accept("a"), &accept("a")));
        assert!(differs(&accept("a"), &accept("b")));
        assert!(differs(&accept("a"), &reject("r", "")));
        assert!(differs(&reject("r", "x"), &reject("s", "x")));
        assert!(!differs(&reject("r", "x"), &reject("r", "y")), "the detail is for people");
        assert!(!differs(&error(ErrorKind::Timeout, "in 1.0 s"), &error(ErrorKind::Timeout, "in 1.2 s")));
        assert!(differs(&error(ErrorKind::Timeout, "t"), &error(ErrorKind::Crash, "t")));
        assert!(differs(&error(ErrorKind::Crash, "t"), &accept("a")));
    }
}
