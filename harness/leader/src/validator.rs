//! The protocol v1 validator: the rules in order, the first failing one decides the reason.
//!
//! | code | rule |
//! |---|---|
//! | `block.malformed` | the blob parses completely (no trailing bytes, canonical varints) |
//! | `block.height_mismatch` | the miner tx's gen height equals the block's height |
//! | `block.prev_mismatch` | prev_id equals the id of block h−1 |
//! | `block.timestamp_too_old` | timestamp ≥ median of the previous 60 timestamps (once 60 exist) |
//! | `block.timestamp_in_future` | timestamp ≤ env.now + 7200 |
//! | `leader.missing` | (h ≥ activation) a leader record exists |
//! | `leader.malformed` | it is well formed, and there is only one |
//! | `leader.unknown` | leader_id names a validator of the profile |
//! | `leader.not_scheduled` | that validator may sign height h (schedule + failover) |
//! | `leader.too_soon` | timestamp − prev timestamp ≥ min_interval_seconds |
//! | `leader.bad_signature` | the signature verifies with that validator's key (`verify_strict`) |
//!
//! The work is split for pipelines: [`prepare`] needs only the profile and the blob (parse, block id,
//! record, signing hash, signature check) and can run on any thread in any order; [`judge`] applies the
//! rules against the [`ChainContext`] in height order, and [`ChainContext::advance`] moves the context
//! along the chain. Nothing reads the clock: `now` is passed in.

use std::fmt;

use dualrun_core::{Facts, Verdict, VerifierOutcome};
use dualrun_format::{Block, BlockHashes, Hash32, HashError, ParseError};
use ed25519_dalek::Signature;
use serde::Serialize;

pub use dualrun_network::{ChainContext, TIMESTAMP_WINDOW};

/// How far ahead of `now` a timestamp may be (`CRYPTONOTE_BLOCK_FUTURE_TIME_LIMIT`).
pub const FUTURE_TIME_LIMIT: u64 = 7200;
use crate::profile::Profile;
use crate::record::{self, RecordSearch};
use crate::schedule;

/// The reason codes, in rule order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum ReasonCode {
    /// The blob does not parse completely, or cannot be hashed.
    #[serde(rename = "block.malformed")]
    BlockMalformed,
    /// The miner transaction's gen height is not the block's height.
    #[serde(rename = "block.height_mismatch")]
    BlockHeightMismatch,
    /// `prev_id` is not the id of block h − 1.
    #[serde(rename = "block.prev_mismatch")]
    BlockPrevMismatch,
    /// The timestamp is below the median of the previous 60 timestamps.
    #[serde(rename = "block.timestamp_too_old")]
    BlockTimestampTooOld,
    /// The timestamp is more than [`FUTURE_TIME_LIMIT`] seconds after `now`.
    #[serde(rename = "block.timestamp_in_future")]
    BlockTimestampInFuture,
    /// From the activation height on, the block has no leader record.
    #[serde(rename = "leader.missing")]
    LeaderMissing,
    /// The leader record is not well formed, or there is more than one.
    #[serde(rename = "leader.malformed")]
    LeaderMalformed,
    /// The record names an id that is not a validator of the profile.
    #[serde(rename = "leader.unknown")]
    LeaderUnknown,
    /// The validator may not sign this height (schedule and failover).
    #[serde(rename = "leader.not_scheduled")]
    LeaderNotScheduled,
    /// The block follows its parent by less than `min_interval_seconds`.
    #[serde(rename = "leader.too_soon")]
    LeaderTooSoon,
    /// The signature does not verify with the validator's key.
    #[serde(rename = "leader.bad_signature")]
    LeaderBadSignature,
}

impl ReasonCode {
    /// Every reason code, in rule order.
    pub const ALL: [ReasonCode; 11] = [
        ReasonCode::BlockMalformed,
        ReasonCode::BlockHeightMismatch,
        ReasonCode::BlockPrevMismatch,
        ReasonCode::BlockTimestampTooOld,
        ReasonCode::BlockTimestampInFuture,
        ReasonCode::LeaderMissing,
        ReasonCode::LeaderMalformed,
        ReasonCode::LeaderUnknown,
        ReasonCode::LeaderNotScheduled,
        ReasonCode::LeaderTooSoon,
        ReasonCode::LeaderBadSignature,
    ];

    /// The code as records spell it (`block.malformed`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::BlockMalformed => "block.malformed",
            ReasonCode::BlockHeightMismatch => "block.height_mismatch",
            ReasonCode::BlockPrevMismatch => "block.prev_mismatch",
            ReasonCode::BlockTimestampTooOld => "block.timestamp_too_old",
            ReasonCode::BlockTimestampInFuture => "block.timestamp_in_future",
            ReasonCode::LeaderMissing => "leader.missing",
            ReasonCode::LeaderMalformed => "leader.malformed",
            ReasonCode::LeaderUnknown => "leader.unknown",
            ReasonCode::LeaderNotScheduled => "leader.not_scheduled",
            ReasonCode::LeaderTooSoon => "leader.too_soon",
            ReasonCode::LeaderBadSignature => "leader.bad_signature",
        }
    }

    /// The reason code spelled `s`, if there is one.
    pub fn parse(s: &str) -> Option<ReasonCode> {
        ReasonCode::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The validator's verdict on a block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum LeaderVerdict {
    /// The block passes every rule.
    Accept,
    /// The block fails a rule.
    Reject {
        /// The first rule that fails.
        reason: ReasonCode,
        /// What exactly was wrong, for humans.
        detail: String,
    },
}

impl LeaderVerdict {
    /// The reason code, unless it accepts.
    pub fn reason(&self) -> Option<ReasonCode> {
        match self {
            LeaderVerdict::Accept => None,
            LeaderVerdict::Reject { reason, .. } => Some(*reason),
        }
    }

    /// Whether it accepts.
    pub fn is_accept(&self) -> bool {
        matches!(self, LeaderVerdict::Accept)
    }
}

/// What the validator learned about a block, whatever the verdict.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LeaderFacts {
    /// The block id, if the blob parses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block_id: Option<Hash32>,
    /// The signing hash of a block with a well-formed record, from the activation height on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_hash: Option<Hash32>,
    /// The leader id a well-formed record names, from the activation height on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leader_id: Option<String>,
}

/// A verdict and the facts learned along the way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Judgement {
    /// The verdict.
    #[serde(flatten)]
    pub verdict: LeaderVerdict,
    /// What the validator learned about the block.
    pub facts: LeaderFacts,
}

impl Judgement {
    /// The judgement as a verifier's outcome: the verdict with its reason code, and the facts learned
    /// (`block_id`, `signing_hash`, `leader_id`) as hex and text.
    pub fn into_outcome(self) -> VerifierOutcome {
        let verdict = match self.verdict {
            LeaderVerdict::Accept => Verdict::Accept,
            LeaderVerdict::Reject { reason, detail } => Verdict::Reject { reason: reason.as_str().into(), detail },
        };
        let mut facts = Facts::new();
        if let Some(id) = self.facts.block_id {
            facts.insert("block_id".into(), id.to_string());
        }
        if let Some(h) = self.facts.signing_hash {
            facts.insert("signing_hash".into(), h.to_string());
        }
        if let Some(l) = self.facts.leader_id {
            facts.insert("leader_id".into(), l);
        }
        VerifierOutcome::Verdict { verdict, facts }
    }
}

/// The leader record as [`prepare`] found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordCheck {
    /// No leader record.
    Missing,
    /// A malformed record, or more than one record: why.
    Malformed(String),
    /// A well-formed record naming an id that is not in the profile.
    Unknown {
        /// The id the record names.
        leader_id: String,
        /// The block's signing hash.
        signing_hash: Hash32,
    },
    /// A record naming validator `index`; `signature_ok` is the result of `verify_strict`.
    Known {
        /// The validator's id.
        leader_id: String,
        /// The validator's index in the profile.
        index: usize,
        /// The block's signing hash.
        signing_hash: Hash32,
        /// Whether the signature verifies with the validator's key.
        signature_ok: bool,
    },
}

/// The parsed facts of a block that [`judge`] needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedFacts {
    /// The block id.
    pub block_id: Hash32,
    /// The height of the miner transaction's single `txin_gen`, if that is what its inputs are.
    pub gen_height: Option<u64>,
    /// The previous block's id, as the header gives it.
    pub prev_id: Hash32,
    /// The header's timestamp.
    pub timestamp: u64,
    /// What the leader record check found.
    pub record: RecordCheck,
}

/// Why a blob yields no [`ParsedFacts`]: it does not parse, or the daemon would give it no id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrepareError {
    /// The blob does not parse as a block.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// The block (or its copy with the signature zeroed) has no id.
    #[error(transparent)]
    Hash(#[from] HashError),
}

/// The stateless half of validation, for one block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// The block's height.
    pub height: u64,
    /// `Err` holds why the blob does not parse (or hash).
    pub parsed: Result<ParsedFacts, PrepareError>,
}

impl Prepared {
    /// The block id, if the blob parses.
    pub fn block_id(&self) -> Option<Hash32> {
        self.parsed.as_ref().ok().map(|p| p.block_id)
    }

    /// The header's timestamp, if the blob parses.
    pub fn timestamp(&self) -> Option<u64> {
        self.parsed.as_ref().ok().map(|p| p.timestamp)
    }
}

/// Parses, hashes and checks the signature of one block. Pure: any thread, any order.
pub fn prepare(profile: &Profile, height: u64, blob: &[u8]) -> Prepared {
    Prepared { height, parsed: prepare_parsed(profile, blob) }
}

fn prepare_parsed(profile: &Profile, blob: &[u8]) -> Result<ParsedFacts, PrepareError> {
    let block = Block::parse(blob)?;
    let id_of = |ids: Result<BlockHashes, HashError>| ids.map(|h| h.block_id);
    let (block_id, record) = match record::find(&block) {
        RecordSearch::Missing => (id_of(block.hashes())?, RecordCheck::Missing),
        RecordSearch::Malformed(why) => (id_of(block.hashes())?, RecordCheck::Malformed(why.to_string())),
        RecordSearch::Several(n) => {
            (id_of(block.hashes())?, RecordCheck::Malformed(format!("{n} leader records; exactly one is allowed")))
        }
        RecordSearch::One(r) => {
            // The id and the signing hash are hashed together: the bytes before the signature once.
            let signature = r.signature_offset..r.signature_offset + record::SIGNATURE_LEN;
            let (ids, signing) = block
                .hashes_and_zeroed_id(signature)
                .unwrap_or_else(|| (block.hashes(), record::signing_hash(blob, r.signature_offset)));
            let block_id = id_of(ids)?;
            let signing_hash = signing?;
            let check = match profile.validator_index(&r.leader_id) {
                None => RecordCheck::Unknown { leader_id: r.leader_id, signing_hash },
                Some(index) => {
                    let message = record::message(&profile.network_id, &signing_hash);
                    let signature = Signature::from_bytes(&r.signature);
                    let signature_ok = profile.validators[index].public_key.verify_strict(&message, &signature).is_ok();
                    RecordCheck::Known { leader_id: r.leader_id, index, signing_hash, signature_ok }
                }
            };
            (block_id, check)
        }
    };
    Ok(ParsedFacts {
        block_id,
        gen_height: block.miner_tx.gen_height(),
        prev_id: block.header.prev_id,
        timestamp: block.header.timestamp,
        record,
    })
}

fn reject(reason: ReasonCode, detail: String, facts: LeaderFacts) -> Judgement {
    Judgement { verdict: LeaderVerdict::Reject { reason, detail }, facts }
}

/// Applies the rules, in order, to a prepared block against the chain context. `now` is the
/// environment's time (by default the block's own timestamp; never the wall clock).
///
/// Block 0 is accepted if it parses: whether it is the profile's genesis is a property of the whole
/// chain, checked once with [`Profile::check_genesis`].
pub fn judge(profile: &Profile, ctx: &ChainContext, prepared: &Prepared, now: u64) -> Judgement {
    let height = prepared.height;
    let p = match &prepared.parsed {
        Ok(p) => p,
        Err(why) => return reject(ReasonCode::BlockMalformed, why.to_string(), LeaderFacts::default()),
    };
    let mut facts = LeaderFacts { block_id: Some(p.block_id), ..LeaderFacts::default() };
    if let RecordCheck::Known { leader_id, signing_hash, .. } | RecordCheck::Unknown { leader_id, signing_hash } =
        &p.record
    {
        if height >= profile.activation_height {
            facts.leader_id = Some(leader_id.clone());
            facts.signing_hash = Some(*signing_hash);
        }
    }

    if p.gen_height != Some(height) {
        let got = p.gen_height.map_or("no single txin_gen input".to_owned(), |g| format!("gen height {g}"));
        return reject(ReasonCode::BlockHeightMismatch, format!("{got} in the miner tx of block {height}"), facts);
    }
    if height == 0 {
        return Judgement { verdict: LeaderVerdict::Accept, facts };
    }
    debug_assert_eq!(ctx.next_height(), height, "judging with the context of another height");
    match ctx.prev_id() {
        Some(prev) if ctx.next_height() == height && p.prev_id == prev => {}
        Some(prev) if ctx.next_height() == height => {
            return reject(
                ReasonCode::BlockPrevMismatch,
                format!("prev_id {} but block {} is {prev}", p.prev_id, height - 1),
                facts,
            )
        }
        _ => return reject(ReasonCode::BlockPrevMismatch, format!("block {} is not known", height - 1), facts),
    }
    if let Some(median) = ctx.median_timestamp() {
        if p.timestamp < median {
            return reject(
                ReasonCode::BlockTimestampTooOld,
                format!("timestamp {} is below the median {median} of the previous {TIMESTAMP_WINDOW}", p.timestamp),
                facts,
            );
        }
    }
    if p.timestamp > now.saturating_add(FUTURE_TIME_LIMIT) {
        return reject(
            ReasonCode::BlockTimestampInFuture,
            format!("timestamp {} is more than {FUTURE_TIME_LIMIT} s after now ({now})", p.timestamp),
            facts,
        );
    }
    if height < profile.activation_height {
        return Judgement { verdict: LeaderVerdict::Accept, facts };
    }

    let (leader_id, index, signature_ok) = match &p.record {
        RecordCheck::Missing => {
            return reject(ReasonCode::LeaderMissing, "no leader record in the miner extra".into(), facts)
        }
        RecordCheck::Malformed(why) => return reject(ReasonCode::LeaderMalformed, why.clone(), facts),
        RecordCheck::Unknown { leader_id, .. } => {
            return reject(ReasonCode::LeaderUnknown, format!("{leader_id:?} is not a validator of the profile"), facts)
        }
        RecordCheck::Known { leader_id, index, signature_ok, .. } => (leader_id, *index, *signature_ok),
    };
    let prev_timestamp = ctx.prev_timestamp().unwrap_or(p.timestamp);
    let allowed = schedule::allowed(profile, height, p.timestamp, prev_timestamp);
    if !allowed.contains(index) {
        let ids: Vec<&str> = allowed.indexes().map(|i| profile.validators[i].id.as_str()).collect();
        return reject(
            ReasonCode::LeaderNotScheduled,
            format!("{leader_id:?} may not sign height {height}; allowed: {}", ids.join(", ")),
            facts,
        );
    }
    if profile.min_interval_seconds > 0 {
        let gap = p.timestamp as i128 - prev_timestamp as i128;
        if gap < profile.min_interval_seconds as i128 {
            return reject(
                ReasonCode::LeaderTooSoon,
                format!("{gap} s after the previous block; the minimum is {}", profile.min_interval_seconds),
                facts,
            );
        }
    }
    if !signature_ok {
        return reject(
            ReasonCode::LeaderBadSignature,
            format!(
                "the signature does not verify with {leader_id:?}'s key on network {}",
                hex::encode(profile.network_id)
            ),
            facts,
        );
    }
    Judgement { verdict: LeaderVerdict::Accept, facts }
}
