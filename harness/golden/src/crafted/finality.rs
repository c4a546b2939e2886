//! The crafted sets for finality votes and fork choice (`docs/finality-v1.md`): every finding code and
//! both verdicts, and fork choice by rank, by id, past invalid blocks and with none valid. Expectations
//! are written by hand from the specification (the number of valid distinct votes, the quorum, which
//! sibling the rule picks), never computed by the tally or the validator.

use dualrun_format::{keccak256, Hash32};
use dualrun_leader::finality::{sign_vote, Vote};

use super::leader::{
    block_id, id, key, prev_of, profile_toml, sign, signed_by, timestamps, Craft, ProfileSpec, NET_A, NET_B, RR, T,
};
use crate::vector::{
    Case, FinalityCase, FinalityRow, ForkChoiceCase, ForkChoiceExpected, MainBlock, Provenance, Vector, VectorContext,
    SCHEMA,
};

const FINALITY: &str = "dualrun-golden crafted finality-v1 set, v1";
const FORKS: &str = "dualrun-golden crafted fork-choice-v1 set, v1";
const H: u64 = 10;

fn vector(name: &str, description: &str, generator: &str, case: Case) -> Vector {
    Vector {
        schema: SCHEMA.into(),
        name: name.into(),
        description: description.into(),
        case,
        skip: None,
        provenance: Provenance { generator: generator.into(), source: "crafted".into(), height: None },
    }
}

/// The three-validator profile with `[leader.finality]`.
fn finality_profile(quorum: &str) -> String {
    profile_toml(&RR) + &format!("\n[leader.finality]\nquorum = \"{quorum}\"\nactivation_height = 1\n")
}

fn main_id() -> Hash32 {
    keccak256(b"golden finality main 10")
}

fn other_id() -> Hash32 {
    keccak256(b"golden finality other 10")
}

fn vote(v: usize, block: Hash32) -> Vote {
    sign_vote(&key(v), &id(v), &NET_A, H, block)
}

fn row(block: Hash32, votes: u64, required: u64, verdict: &str, reason: &str) -> FinalityRow {
    FinalityRow { height: H, block_id: block, votes, required, verdict: verdict.into(), reason: reason.into() }
}

fn finality(name: &str, description: &str, quorum: &str, votes: Vec<Vote>, expected: Vec<FinalityRow>) -> Vector {
    let case = FinalityCase {
        profile: finality_profile(quorum),
        main: vec![MainBlock { height: H, block_id: main_id() }],
        votes,
        expected,
    };
    vector(name, description, FINALITY, Case::Finality(case))
}

/// The finality set: three validators, 2/3 (two votes) unless said otherwise.
pub fn finality_v1_vectors() -> Vec<Vector> {
    let (m, o) = (main_id(), other_id());
    let mut flipped = vote(3, m);
    let last = if flipped.signature.ends_with('0') { "1" } else { "0" };
    flipped.signature.replace_range(127.., last);
    let mallory = ed25519_dalek::SigningKey::from_bytes(&keccak256(b"golden mallory").0);
    let mut foreign = sign_vote(&key(2), &id(2), &NET_B, H, m);
    foreign.validator = id(2);
    vec![
        finality(
            "finality-all-final",
            "three valid votes of three",
            "2/3",
            vec![vote(1, m), vote(2, m), vote(3, m)],
            vec![row(m, 3, 2, "final", "")],
        ),
        finality(
            "finality-exact-quorum",
            "two of three: 2 * 3 >= 2 * 3",
            "2/3",
            vec![vote(1, m), vote(3, m)],
            vec![row(m, 2, 2, "final", "")],
        ),
        finality(
            "finality-missing",
            "one vote of the two needed",
            "2/3",
            vec![vote(2, m)],
            vec![row(m, 1, 2, "not_final", "finality.missing")],
        ),
        finality(
            "finality-repeat-counts-once",
            "one validator voting twice is one voice",
            "2/3",
            vec![vote(1, m), vote(1, m)],
            vec![row(m, 1, 2, "not_final", "finality.missing")],
        ),
        finality(
            "finality-bad-signature",
            "leader-3's vote with one bit flipped: a finding; the other two still make it final",
            "2/3",
            vec![vote(1, m), vote(2, m), flipped],
            vec![row(m, 2, 2, "final", ""), row(m, 2, 2, "finding", "finality.bad_signature")],
        ),
        finality(
            "finality-other-network",
            "leader-2's vote signed for network B does not verify on network A",
            "2/3",
            vec![vote(1, m), foreign],
            vec![row(m, 1, 2, "not_final", "finality.missing"), row(m, 1, 2, "finding", "finality.bad_signature")],
        ),
        finality(
            "finality-unknown-validator",
            "a vote by an id not in the profile: a finding, never counted",
            "2/3",
            vec![vote(1, m), sign_vote(&mallory, "mallory", &NET_A, H, m)],
            vec![row(m, 1, 2, "not_final", "finality.missing"), row(m, 1, 2, "finding", "finality.unknown_validator")],
        ),
        finality(
            "finality-equivocation",
            "leader-3 votes for the main block and for another at the same height",
            "2/3",
            vec![vote(1, m), vote(2, m), vote(3, m), vote(3, o)],
            vec![row(m, 3, 2, "final", ""), row(o, 1, 2, "finding", "finality.equivocation")],
        ),
        finality(
            "finality-conflict",
            "a quorum for a block that is not the main chain's: a safety violation",
            "2/3",
            vec![vote(1, o), vote(2, o), vote(3, o)],
            vec![row(m, 0, 2, "not_final", "finality.missing"), row(o, 3, 2, "finding", "finality.conflict")],
        ),
        finality(
            "finality-unanimity",
            "quorum 1/1 of three needs all three",
            "1/1",
            vec![vote(1, m), vote(2, m)],
            vec![row(m, 2, 3, "not_final", "finality.missing")],
        ),
    ]
}

/// Failover after 60 s, round-robin: at height 10 leader-1 is scheduled (rank 0), leader-2 is rank 1,
/// leader-3 rank 2.
const FAILOVER: ProfileSpec = ProfileSpec { schedule: "round-robin", activation: 1, failover: 60, min_interval: 0 };

/// A block at height 10 signed by validator `v`, `delay` seconds after its parent (at T).
fn sibling(v: usize, delay: u64) -> Vec<u8> {
    signed_by(H, T + delay, v).0.blob()
}

/// A block by validator `v` whose signature does not verify.
fn badly_signed(v: usize, delay: u64) -> Vec<u8> {
    let mut c: Craft = signed_by(H, T + delay, v).0;
    let slot = c.nonces.len() - 1;
    let _ = sign(&mut c, slot, &id(v), &key(v), &NET_B);
    c.blob()
}

fn fork(
    name: &str,
    description: &str,
    blocks: Vec<Vec<u8>>,
    ranks: Vec<Option<usize>>,
    canonical: Option<usize>,
) -> Vector {
    let case = ForkChoiceCase {
        profile: profile_toml(&FAILOVER),
        height: H,
        context: VectorContext { prev_id: Some(prev_of(H)), timestamps: timestamps(10, T) },
        blocks: blocks.iter().map(hex::encode).collect(),
        expected: ForkChoiceExpected { ranks, canonical },
    };
    vector(name, description, FORKS, Case::ForkChoice(case))
}

/// The fork-choice set.
pub fn fork_choice_v1_vectors() -> Vec<Vector> {
    let (a, b) = (sibling(1, 60), sibling(1, 61));
    // Equal ranks: the lower id as 32 bytes wins (the rule, applied to ids from dualrun-format).
    let lower = usize::from(block_id(&b).0 < block_id(&a).0);
    vec![
        fork(
            "fork-rank-beats-id",
            "leader-2 (rank 1, in its failover window) and leader-1 (scheduled, rank 0): rank 0 wins",
            vec![sibling(2, 60), sibling(1, 60)],
            vec![Some(1), Some(0)],
            Some(1),
        ),
        fork(
            "fork-equal-rank-lowest-id",
            "two blocks by the scheduled leader: the lower id wins",
            vec![a, b],
            vec![Some(0), Some(0)],
            Some(lower),
        ),
        fork(
            "fork-three-ranks",
            "120 s after the parent all three may sign: ranks 2, 1, 0; rank 0 wins",
            vec![sibling(3, 120), sibling(2, 120), sibling(1, 120)],
            vec![Some(2), Some(1), Some(0)],
            Some(2),
        ),
        fork(
            "fork-invalid-never-wins",
            "the scheduled leader's block with a bad signature loses to a valid rank-1 block",
            vec![badly_signed(1, 60), sibling(2, 60)],
            vec![None, Some(1)],
            Some(1),
        ),
        fork(
            "fork-not-scheduled-never-wins",
            "leader-2 outside its failover window (30 s) is invalid; leader-1 wins",
            vec![sibling(2, 30), sibling(1, 30)],
            vec![None, Some(0)],
            Some(1),
        ),
        fork(
            "fork-none-valid",
            "no valid sibling: none is canonical",
            vec![badly_signed(1, 60), sibling(3, 30)],
            vec![None, None],
            None,
        ),
    ]
}
