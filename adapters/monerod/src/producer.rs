//! The leader block producer (`leader produce`): takes block templates from a monerod, signs each for
//! the validator the schedule (and failover) allows, or builds it faulty on purpose, submits it, and
//! confirms it became the daemon's tip — `submit_block` answers OK for blocks kept off the main chain.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use dualrun_format::{Block, Hash32};
use dualrun_keys::KeyFile;
use dualrun_leader::finality::{committee_votes, Vote, VoteFault};
use dualrun_leader::record::RESERVE;
use dualrun_leader::record::{self, RecordSearch};
use dualrun_leader::testchain::{self, FaultKind};
use dualrun_leader::{schedule, Profile, ProfileError};
use dualrun_rpc::{retry_transient, Daemon, RpcError};

/// Why production stopped.
#[derive(Debug, thiserror::Error)]
pub enum ProduceError {
    /// The daemon did not answer within the patience given.
    #[error("{what} (gave up after {seconds:.1} s): {source}")]
    Rpc {
        /// What was asked.
        what: String,
        /// How long it was tried.
        seconds: f64,
        /// The last error.
        source: RpcError,
    },
    /// The daemon's chain is not the profile's.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// A request that cannot be met, or a daemon that did not do what was asked.
    #[error("{0}")]
    Refused(String),
}

/// What to produce.
pub struct ProduceRequest {
    /// The network profile.
    pub profile: Profile,
    /// The keys to sign with, with their validator index (see [`Profile::signer_index`]).
    pub keys: Vec<(usize, KeyFile)>,
    /// Blocks built faulty on purpose, by height.
    pub faults: BTreeMap<u64, FaultKind>,
    /// How many blocks.
    pub blocks: u64,
    /// The address the coinbase pays.
    pub wallet_address: String,
    /// How long to retry the daemon.
    pub patience: Duration,
    /// Faults in the committee's votes, by height.
    pub vote_faults: BTreeMap<u64, VoteFault>,
    /// Heights where a second block competes with the one the daemon keeps.
    pub competes: BTreeMap<u64, Compete>,
}

/// A competing block at a height (`--compete H:KIND`): the daemon keeps the block submitted first on
/// its main chain and the other in `alt_blocks`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compete {
    /// A second block by the scheduled leader (another nonce), submitted second.
    SameLeader,
    /// A block by the rank-1 validator (its timestamp moved to the failover window) submitted first, then
    /// the scheduled leader's: the daemon's main chain holds the one fork choice does not pick.
    Failover,
}

/// A `--compete` kind that names no competing block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompeteParseError {
    /// The kind given, which is neither `same-leader` nor `failover`.
    #[error("unknown competing block {0:?} (same-leader, failover)")]
    Unknown(String),
}

impl std::str::FromStr for Compete {
    type Err = CompeteParseError;
    fn from_str(s: &str) -> Result<Self, CompeteParseError> {
        match s {
            "same-leader" => Ok(Compete::SameLeader),
            "failover" => Ok(Compete::Failover),
            _ => Err(CompeteParseError::Unknown(s.to_owned())),
        }
    }
}

/// A mainnet-format address; regtest daemons accept it.
pub const REGTEST_ADDRESS: &str =
    "42ey1afDFnn4886T7196doS9GPMzexD9gXpsZJDwVjeRVdFCSoHnv7KPbBeGpzJBzHRCAs9UxqeoyFQMYbqSWYTfJJQAWDm";

/// One block produced.
#[derive(Debug, Clone)]
pub struct Produced {
    /// Its height.
    pub height: u64,
    /// Its id (now the daemon's tip).
    pub block_id: Hash32,
    /// The fault built into it.
    pub fault: Option<FaultKind>,
    /// The leader id its record names.
    pub leader: Option<String>,
    /// The votes the committee (every key given) cast for it, with the height's vote fault.
    pub votes: Vec<Vote>,
    /// The competing block submitted at the same height and kept off the main chain.
    pub competitor: Option<Hash32>,
}

impl Produced {
    /// The verdict protocol v1 should give the block (what `leader produce --expected` writes).
    pub fn expected(&self) -> testchain::ExpectedVerdict {
        testchain::ExpectedVerdict::of(self.height, self.block_id, self.fault, self.leader.clone())
    }
}

/// A producer connected to a daemon whose chain is the profile's.
pub struct Producer<'d> {
    daemon: &'d Daemon,
    req: ProduceRequest,
    /// The first height this run produces.
    pub first: u64,
}

/// The longest one call to the daemon may take.
const MAX_CALL: Duration = Duration::from_secs(30);

/// `op` on `daemon`, retried while the daemon is unreachable or busy, all within `patience`: a hard bound
/// (each attempt's timeout is the time left, so a daemon that never answers costs `patience`, not a
/// call timeout more).
fn retry<T>(
    daemon: &Daemon,
    what: &str,
    patience: Duration,
    op: impl Fn(&Daemon) -> Result<T, RpcError>,
) -> Result<T, ProduceError> {
    let start = Instant::now();
    let deadline = start + patience;
    retry_transient(patience, Duration::from_millis(200), Duration::from_secs(5), || {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(RpcError::Timeout { url: daemon.url().into(), method: what.into() });
        }
        op(&daemon.with_timeout(left.min(MAX_CALL)))
    })
    .map_err(|source| ProduceError::Rpc { what: what.into(), seconds: start.elapsed().as_secs_f64(), source })
}

/// Asking the daemon again for something it does not give yet: backoff from 200 ms doubling to 2 s, the
/// difference said once, an error once `patience` has passed.
struct Waiting {
    since: Instant,
    patience: Duration,
    pause: Duration,
    said: bool,
}

impl Waiting {
    fn new(patience: Duration) -> Waiting {
        Waiting { since: Instant::now(), patience, pause: Duration::from_millis(200), said: false }
    }

    /// Waits before the next try, or gives up naming `differs`.
    fn again(&mut self, differs: &str) -> Result<(), ProduceError> {
        if !self.said {
            tracing::warn!("{differs}; asking again");
            self.said = true;
        }
        let waited = self.since.elapsed();
        if waited + self.pause > self.patience {
            return Err(ProduceError::Refused(format!(
                "{differs}, still after {:.1} s (--wait-seconds {}); nothing was signed",
                waited.as_secs_f64(),
                self.patience.as_secs()
            )));
        }
        std::thread::sleep(self.pause);
        self.pause = (self.pause * 2).min(Duration::from_secs(2));
        Ok(())
    }
}

impl<'d> Producer<'d> {
    /// Waits for the daemon, checks its genesis against the profile and the faults against the heights
    /// this run produces.
    pub fn start(daemon: &'d Daemon, req: ProduceRequest) -> Result<Producer<'d>, ProduceError> {
        let info =
            retry(daemon, &format!("waiting for the daemon at {}", daemon.url()), req.patience, |d| d.get_info())?;
        let genesis = retry(daemon, "reading block 0", req.patience, |d| d.block_header_by_height(0))?;
        req.profile.check_genesis(&genesis.hash)?;
        let first = info.height;
        let activation = req.profile.activation_height;
        if let Some((&h, _)) = req.faults.iter().find(|(&h, _)| h < first.max(activation) || h >= first + req.blocks) {
            return Err(ProduceError::Refused(format!(
                "--fault at height {h}: this run produces heights {first}..{} with leaders from {activation}",
                first + req.blocks - 1
            )));
        }
        let last = first + req.blocks - 1;
        let outside = |h: u64| h < first.max(activation) || h > last;
        if let Some(&h) = req.competes.keys().chain(req.vote_faults.keys()).find(|&&h| outside(h)) {
            return Err(ProduceError::Refused(format!(
                "--compete or vote fault at height {h}: this run produces heights {first}..{last} with leaders from {activation}"
            )));
        }
        if let Some(h) = req.competes.keys().find(|h| req.faults.contains_key(h)) {
            return Err(ProduceError::Refused(format!("height {h}: a competing block and a faulty block at once")));
        }
        Ok(Producer { daemon, req, first })
    }

    /// Produces and submits the next block. A template that does not build on the daemon's tip (the tip
    /// moved between the two calls, or a daemon that disagrees with itself) is asked for again with
    /// backoff, said once, and given up after `--wait-seconds` (exit 2 naming both); nothing is signed
    /// before the template's parent and height are the tip's id and height + 1.
    pub fn produce_one(&self) -> Result<Produced, ProduceError> {
        let (daemon, patience) = (self.daemon, self.req.patience);
        let wallet = self.req.wallet_address.as_str();
        let mut waiting = Waiting::new(patience);
        loop {
            let template = retry(daemon, "get_block_template", patience, |d| d.get_block_template(wallet, RESERVE))?;
            let height = template.height;
            let parent = retry(daemon, "get_last_block_header", patience, |d| d.last_block_header())?;
            if parent.hash != template.prev_hash || Some(height) != parent.height.checked_add(1) {
                let differs = format!(
                    "the daemon's block template (height {height}, prev_hash {}) does not build on its tip (height {}, \
                     id {})",
                    template.prev_hash, parent.height, parent.hash
                );
                waiting.again(&differs)?;
                continue;
            }
            let mut blob = template.blob.clone();
            let off = template.reserved_offset;
            let nonce = off.checked_sub(2).and_then(|start| blob.get(start..off.checked_add(RESERVE)?));
            if !nonce.is_some_and(|n| n[0] == 0x02 && usize::from(n[1]) == RESERVE) {
                return Err(ProduceError::Refused(format!(
                    "height {height}: the template's reserved_offset {off} does not point at a {RESERVE}-byte extra \
                     nonce inside its {}-byte blob",
                    blob.len()
                )));
            }
            let timestamp = Block::parse(&blob)
                .map_err(|e| ProduceError::Refused(format!("height {height}: the template does not parse: {e}")))?
                .header
                .timestamp;
            let fault = self.req.faults.get(&height).copied();
            if let Some(&kind) = self.req.competes.get(&height) {
                return self.compete(height, blob, off, parent.timestamp, kind);
            }
            let mut leader = None;
            if height >= self.req.profile.activation_height {
                let Some(signer) = self.signer(height, timestamp, parent.timestamp, fault)? else {
                    // Failover or the minimum interval will allow one of our keys later: a wait for time
                    // to pass, not for the daemon.
                    std::thread::sleep(Duration::from_millis(500));
                    waiting = Waiting::new(patience);
                    continue;
                };
                let p = &self.req.profile;
                leader = testchain::fill_record(
                    &mut blob,
                    off,
                    RESERVE,
                    &p.network_id,
                    fault,
                    signer.map(|(i, k)| (p.validators[*i].id.as_str(), &k.signing_key)),
                )
                .map_err(|e| ProduceError::Refused(format!("height {height}: {e}")))?;
            }
            return self.submit(height, &blob, fault, leader);
        }
    }

    /// Two blocks for `height` on the same parent: see [`Compete`]. Returns the one the daemon keeps.
    fn compete(
        &self,
        height: u64,
        template: Vec<u8>,
        off: usize,
        prev_timestamp: u64,
        kind: Compete,
    ) -> Result<Produced, ProduceError> {
        let p = &self.req.profile;
        let refused = |why: String| ProduceError::Refused(format!("--compete {height}: {why}"));
        let scheduled = schedule::scheduled_index(p, height);
        let key_of = |index: usize| {
            self.req
                .keys
                .iter()
                .find(|(i, _)| *i == index)
                .map(|(_, k)| k)
                .ok_or_else(|| refused(format!("needs the key of {:?} (--key)", p.validators[index].id)))
        };
        let sign = |mut blob: Vec<u8>, index: usize| -> Result<Vec<u8>, ProduceError> {
            let key = key_of(index)?;
            testchain::fill_record(
                &mut blob,
                off,
                RESERVE,
                &p.network_id,
                None,
                Some((&p.validators[index].id, &key.signing_key)),
            )
            .map_err(|e| refused(e.to_string()))?;
            Ok(blob)
        };
        let leader = sign(template.clone(), scheduled)?;
        let (first, second) = match kind {
            Compete::SameLeader => {
                let mut other = leader.clone();
                let prev = Block::parse(&other).map_err(|e| refused(e.to_string()))?.header.prev_id;
                let nonce_at = other.windows(32).position(|w| w == prev.0).expect("the header holds its parent") + 32;
                other[nonce_at] ^= 0x5a;
                let block = Block::parse(&other).map_err(|e| refused(e.to_string()))?;
                let RecordSearch::One(r) = record::find(&block) else { return Err(refused("no leader record".into())) };
                record::sign_in_place(&mut other, r.signature_offset, &p.network_id, &key_of(scheduled)?.signing_key)
                    .map_err(|e| refused(e.to_string()))?;
                (leader, other)
            }
            Compete::Failover => {
                if p.failover_seconds == 0 || p.validators.len() < 2 {
                    return Err(refused(
                        "failover needs failover_seconds > 0 and two validators in the profile".into(),
                    ));
                }
                let moved = with_timestamp(&template, prev_timestamp + p.failover_seconds)
                    .map_err(|e| refused(e.to_string()))?;
                (sign(moved, (scheduled + 1) % p.validators.len())?, leader)
            }
        };
        let kept = self.submit(height, &first, None, None)?;
        let competitor = Block::parse(&second)
            .map_err(|e| refused(e.to_string()))?
            .hashes()
            .map_err(|e| refused(e.to_string()))?
            .block_id;
        self.daemon
            .submit_block(&second)
            .map_err(|e| refused(format!("the daemon rejected the competing block: {e}")))?;
        let tip = retry(self.daemon, "get_last_block_header", self.req.patience, |d| d.last_block_header())?;
        if tip.hash != kept.block_id {
            return Err(refused(format!("the daemon switched to the competing block {competitor}")));
        }
        let leader = Block::parse(&first).ok().and_then(|b| match record::find(&b) {
            RecordSearch::One(r) => Some(r.leader_id),
            _ => None,
        });
        Ok(Produced { leader, competitor: Some(competitor), ..kept })
    }

    /// Who signs `height`: `Some(None)` for a fault without a signer, `None` to wait and try again.
    #[allow(clippy::type_complexity)]
    fn signer(
        &self,
        height: u64,
        timestamp: u64,
        prev_timestamp: u64,
        fault: Option<FaultKind>,
    ) -> Result<Option<Option<&(usize, KeyFile)>>, ProduceError> {
        let (p, keys) = (&self.req.profile, &self.req.keys);
        let allowed = schedule::allowed(p, height, timestamp, prev_timestamp);
        match fault {
            Some(FaultKind::NotScheduled) => {
                let k = keys.iter().find(|(i, _)| !allowed.contains(*i)).ok_or_else(|| {
                    ProduceError::Refused(format!(
                        "--fault {height}:not-scheduled needs a --key of a validator not allowed at height {height}"
                    ))
                })?;
                Ok(Some(Some(k)))
            }
            Some(FaultKind::Missing | FaultKind::Malformed) => Ok(Some(None)),
            Some(FaultKind::Unknown) => Ok(Some(keys.first())),
            _ => {
                let gap = timestamp.saturating_sub(prev_timestamp);
                let k = allowed.indexes().find_map(|i| keys.iter().find(|(j, _)| *j == i));
                match k {
                    Some(k) if gap >= p.min_interval_seconds => Ok(Some(Some(k))),
                    _ if p.failover_seconds > 0 || (k.is_some() && p.min_interval_seconds > 0) => Ok(None),
                    _ => Err(ProduceError::Refused(format!(
                        "height {height} is scheduled for {:?}, and no --key for it was given (failover is off)",
                        p.validators[allowed.first].id
                    ))),
                }
            }
        }
    }

    fn submit(
        &self,
        height: u64,
        blob: &[u8],
        fault: Option<FaultKind>,
        leader: Option<String>,
    ) -> Result<Produced, ProduceError> {
        let refused =
            |e: &dyn std::fmt::Display| ProduceError::Refused(format!("height {height}: the signed block: {e}"));
        let block_id = Block::parse(blob).map_err(|e| refused(&e))?.hashes().map_err(|e| refused(&e))?.block_id;
        self.daemon
            .submit_block(blob)
            .map_err(|e| ProduceError::Refused(format!("the daemon rejected the block for height {height}: {e}")))?;
        let tip = retry(self.daemon, "get_last_block_header", self.req.patience, |d| d.last_block_header())?;
        if tip.hash != block_id {
            return Err(ProduceError::Refused(format!(
                "height {height}: the daemon accepted block {block_id} but kept it off its main chain (its tip is {} at height {})",
                tip.hash, tip.height
            )));
        }
        let p = &self.req.profile;
        let keys: Vec<(&str, _)> =
            self.req.keys.iter().map(|(i, k)| (p.validators[*i].id.as_str(), &k.signing_key)).collect();
        let votes = if height >= p.finality.map_or(p.activation_height, |f| f.activation_height) {
            committee_votes(&keys, &p.network_id, height, block_id, self.req.vote_faults.get(&height).copied())
        } else {
            Vec::new()
        };
        Ok(Produced { height, block_id, fault, leader, votes, competitor: None })
    }
}

/// Why a template's timestamp cannot be changed in place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum RetimeError {
    /// The template does not parse.
    #[error(transparent)]
    Parse(#[from] dualrun_format::ParseError),
    /// The new timestamp does not encode to as many bytes as the old one (or a version is not one byte).
    #[error("timestamp {new} does not fit where {old} was")]
    DoesNotFit {
        /// The timestamp asked for.
        new: u64,
        /// The template's timestamp.
        old: u64,
    },
}

/// `blob` with its header timestamp set to `timestamp`, which must encode to as many bytes as the old
/// one (so every offset in the blob stays where the template put it).
fn with_timestamp(blob: &[u8], timestamp: u64) -> Result<Vec<u8>, RetimeError> {
    let varint_len = dualrun_format::varint::encoded_len;
    let old = Block::parse(blob)?.header.timestamp;
    // The header is two one-byte versions, then the timestamp varint.
    if blob[0] >= 0x80 || blob[1] >= 0x80 || varint_len(old) != varint_len(timestamp) {
        return Err(RetimeError::DoesNotFit { new: timestamp, old });
    }
    let mut out = blob[..2].to_vec();
    dualrun_format::varint::write(&mut out, timestamp);
    out.extend_from_slice(&blob[2 + varint_len(old)..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compete_messages() {
        assert_eq!(
            "sideways".parse::<Compete>().unwrap_err().to_string(),
            "unknown competing block \"sideways\" (same-leader, failover)"
        );
        assert_eq!("failover".parse::<Compete>(), Ok(Compete::Failover));
        assert_eq!("same-leader".parse::<Compete>(), Ok(Compete::SameLeader));
    }

    /// A faulty block is expected rejected with its fault's reason, an honest one accepted.
    #[test]
    fn a_produced_blocks_expected_verdict() {
        let produced = |fault| Produced {
            height: 70,
            block_id: Hash32([7; 32]),
            fault,
            leader: Some("leader-1".into()),
            votes: vec![],
            competitor: None,
        };
        let honest = produced(None).expected();
        assert_eq!((honest.height, honest.block_id, honest.reason), (70, Hash32([7; 32]), None));
        assert_eq!(honest.leader_id.as_deref(), Some("leader-1"));
        assert_eq!(produced(Some(FaultKind::NotScheduled)).expected().reason, Some("leader.not_scheduled"));
    }

    #[test]
    fn retime_messages() {
        let genesis = dualrun_format::encode::genesis_blob(10000);
        assert_eq!(Block::parse(&genesis).unwrap().header.timestamp, 0);
        assert_eq!(with_timestamp(&genesis, 200).unwrap_err().to_string(), "timestamp 200 does not fit where 0 was");
        let moved = with_timestamp(&genesis, 100).unwrap();
        assert_eq!(Block::parse(&moved).unwrap().header.timestamp, 100);
        let cut = &genesis[..genesis.len() - 1];
        assert_eq!(with_timestamp(cut, 100).unwrap_err().to_string(), Block::parse(cut).unwrap_err().to_string());
    }
}
