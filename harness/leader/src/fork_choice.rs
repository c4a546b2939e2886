//! Fork choice (protocol v1, `docs/finality-v1.md`): among blocks with the same parent at one height that
//! are valid under leader protocol v1 (record, schedule, signature), the canonical block has the lowest
//! failover rank k; among equal ranks, the lowest block id compared as 32 bytes. A block invalid under v1
//! never wins.

use dualrun_format::Hash32;

use crate::profile::Profile;
use crate::schedule::scheduled_index;
use crate::validator::{Judgement, Prepared, RecordCheck};

/// A proposal at a height, as fork choice sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proposal {
    /// Its block id.
    pub block_id: Hash32,
    /// Its failover rank, when it is valid under protocol v1 (`None`: invalid; it never wins).
    pub rank: Option<usize>,
}

/// The failover rank of validator `index` at `height`: 0 for the scheduled leader, 1 for the next, …
pub fn rank(profile: &Profile, height: u64, index: usize) -> usize {
    let n = profile.validators.len();
    (index + n - scheduled_index(profile, height)) % n
}

/// A judged block as a proposal: valid (accepted, from the activation height on) with its signer's rank.
pub fn proposal(profile: &Profile, prepared: &Prepared, judgement: &Judgement) -> Option<Proposal> {
    let parsed = prepared.parsed.as_ref().ok()?;
    let rank = match (&parsed.record, judgement.verdict.is_accept()) {
        (RecordCheck::Known { index, .. }, true) if prepared.height >= profile.activation_height => {
            Some(rank(profile, prepared.height, *index))
        }
        _ => None,
    };
    Some(Proposal { block_id: parsed.block_id, rank })
}

/// The index of the canonical proposal: the lowest rank among the valid ones, then the lowest id.
/// `None` when none is valid.
pub fn canonical(proposals: &[Proposal]) -> Option<usize> {
    proposals.iter().enumerate().filter_map(|(i, p)| p.rank.map(|r| (r, p.block_id.0, i))).min().map(|(_, _, i)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(id: u8, rank: Option<usize>) -> Proposal {
        Proposal { block_id: Hash32([id; 32]), rank }
    }

    #[test]
    fn lowest_rank_then_lowest_id_and_invalid_never_wins() {
        assert_eq!(canonical(&[p(9, Some(0)), p(1, Some(1))]), Some(0), "rank before id");
        assert_eq!(canonical(&[p(9, Some(0)), p(1, Some(0))]), Some(1), "then the lower id");
        assert_eq!(canonical(&[p(0, None), p(5, Some(2))]), Some(1), "an invalid block never wins");
        assert_eq!(canonical(&[p(0, None), p(1, None)]), None);
        assert_eq!(canonical(&[]), None);
    }
}
