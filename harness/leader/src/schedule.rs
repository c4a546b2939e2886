//! Who may sign height h.
//!
//! With n validators in profile order and h ≥ activation height, the scheduled index i(h) is
//! - `fixed`: 0;
//! - `round-robin`: (h − activation_height) mod n;
//! - `hash`: the first 8 bytes of Keccak-256(u64le(h) ‖ for each validator: u8(len(id)) ‖ id), read as a
//!   little-endian u64, mod n.
//!
//! Failover (F = failover_seconds > 0): with Δ = timestamp(h) − timestamp(h−1) (0 if negative),
//! k = min(⌊Δ / F⌋, n − 1), and validators i(h), i(h)+1, …, i(h)+k (mod n) may sign. Without failover k = 0.

use crate::profile::{Profile, ScheduleKind};

/// The scheduled validator index for `height` (which must be ≥ the activation height).
pub fn scheduled_index(profile: &Profile, height: u64) -> usize {
    let n = profile.validators.len() as u64;
    match profile.schedule {
        ScheduleKind::Fixed => 0,
        ScheduleKind::RoundRobin => ((height - profile.activation_height) % n) as usize,
        ScheduleKind::Hash => {
            let height = height.to_le_bytes();
            let lengths: Vec<[u8; 1]> = profile.validators.iter().map(|v| [v.id.len() as u8]).collect();
            let mut parts: Vec<&[u8]> = vec![&height];
            for (v, len) in profile.validators.iter().zip(&lengths) {
                parts.extend([&len[..], v.id.as_bytes()]);
            }
            let digest = dualrun_format::hash::keccak256_concat(&parts);
            (u64::from_le_bytes(digest.0[..8].try_into().expect("eight bytes")) % n) as usize
        }
    }
}

/// The validators allowed to sign a height: `first` and the `extra` ones after it, cyclically.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowed {
    /// The scheduled validator's index.
    pub first: usize,
    /// How many validators after it may also sign (failover).
    pub extra: usize,
    /// The number of validators.
    pub n: usize,
}

impl Allowed {
    /// Whether the validator at `index` may sign.
    pub fn contains(&self, index: usize) -> bool {
        (index + self.n - self.first) % self.n <= self.extra
    }

    /// The allowed indexes, scheduled one first.
    pub fn indexes(&self) -> impl Iterator<Item = usize> + '_ {
        (0..=self.extra).map(move |j| (self.first + j) % self.n)
    }
}

/// Who may sign `height`, whose timestamp is `timestamp`, after a block with `prev_timestamp`.
pub fn allowed(profile: &Profile, height: u64, timestamp: u64, prev_timestamp: u64) -> Allowed {
    let n = profile.validators.len();
    // Failover off (0 seconds): no extra validators.
    let delta = timestamp.saturating_sub(prev_timestamp);
    let extra =
        delta.checked_div(profile.failover_seconds).map_or(0, |k| usize::try_from(k).unwrap_or(usize::MAX).min(n - 1));
    Allowed { first: scheduled_index(profile, height), extra, n }
}
