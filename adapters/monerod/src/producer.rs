//! The leader block producer (`leader produce`): takes block templates from a monerod, signs each for
//! the validator the schedule (and failover) allows, or builds it faulty on purpose, submits it, and
//! confirms it became the daemon's tip — `submit_block` answers OK for blocks kept off the main chain.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use dualrun_format::{Block, Hash32};
use dualrun_leader::keys::KeyFile;
use dualrun_leader::record::RESERVE;
use dualrun_leader::testchain::{self, FaultKind};
use dualrun_leader::{schedule, Profile, ProfileError};

use crate::rpc::{retry_transient, Daemon, RpcError};

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
}

/// A producer connected to a daemon whose chain is the profile's.
pub struct Producer<'d> {
    daemon: &'d Daemon,
    req: ProduceRequest,
    /// The first height this run produces.
    pub first: u64,
}

fn retry<T>(what: &str, patience: Duration, op: impl FnMut() -> Result<T, RpcError>) -> Result<T, ProduceError> {
    let start = Instant::now();
    retry_transient(patience, Duration::from_millis(200), Duration::from_secs(5), op)
        .map_err(|source| ProduceError::Rpc { what: what.into(), seconds: start.elapsed().as_secs_f64(), source })
}

impl<'d> Producer<'d> {
    /// Waits for the daemon, checks its genesis against the profile and the faults against the heights
    /// this run produces.
    pub fn start(daemon: &'d Daemon, req: ProduceRequest) -> Result<Producer<'d>, ProduceError> {
        let info = retry(&format!("waiting for the daemon at {}", daemon.url()), req.patience, || daemon.get_info())?;
        let genesis = retry("reading block 0", req.patience, || daemon.block_header_by_height(0))?;
        req.profile.check_genesis(&genesis.hash)?;
        let first = info.height;
        let activation = req.profile.activation_height;
        if let Some((&h, _)) = req.faults.iter().find(|(&h, _)| h < first.max(activation) || h >= first + req.blocks) {
            return Err(ProduceError::Refused(format!(
                "--fault at height {h}: this run produces heights {first}..{} with leaders from {activation}",
                first + req.blocks - 1
            )));
        }
        Ok(Producer { daemon, req, first })
    }

    /// Produces and submits the next block.
    pub fn produce_one(&self) -> Result<Produced, ProduceError> {
        let (daemon, patience) = (self.daemon, self.req.patience);
        loop {
            let template =
                retry("get_block_template", patience, || daemon.get_block_template(&self.req.wallet_address, RESERVE))?;
            let height = template.height;
            let parent = retry("get_last_block_header", patience, || daemon.last_block_header())?;
            if parent.hash != template.prev_hash {
                continue; // the tip moved under us; take a fresh template
            }
            let mut blob = template.blob.clone();
            let off = template.reserved_offset;
            if off < 2 || off + RESERVE > blob.len() || blob[off - 2] != 0x02 || blob[off - 1] as usize != RESERVE {
                return Err(ProduceError::Refused(format!(
                    "height {height}: the template's reserved bytes are not a {RESERVE}-byte extra nonce at offset {off}"
                )));
            }
            let timestamp = Block::parse(&blob)
                .map_err(|e| ProduceError::Refused(format!("height {height}: the template does not parse: {e}")))?
                .header
                .timestamp;
            let fault = self.req.faults.get(&height).copied();
            let mut leader = None;
            if height >= self.req.profile.activation_height {
                let Some(signer) = self.signer(height, timestamp, parent.timestamp, fault)? else {
                    // Failover or the minimum interval will allow one of our keys later: wait.
                    std::thread::sleep(Duration::from_millis(500));
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
        let tip = retry("get_last_block_header", self.req.patience, || self.daemon.last_block_header())?;
        if tip.hash != block_id {
            return Err(ProduceError::Refused(format!(
                "height {height}: the daemon accepted block {block_id} but kept it off its main chain (its tip is {} at height {})",
                tip.hash, tip.height
            )));
        }
        Ok(Produced { height, block_id, fault, leader })
    }
}
