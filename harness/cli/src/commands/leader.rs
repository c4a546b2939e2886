//! `dualrun leader …`: judge a chain under protocol v1, and produce leader-signed blocks on a daemon.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};
use dualrun_chaindb::RawBlock;
use dualrun_format::{Block, Hash32};
use dualrun_leader::keys::KeyFile;
use dualrun_leader::testchain::{self, FaultKind};
use dualrun_leader::validator::{self, Judgement, Prepared, Verdict};
use dualrun_replay::NowMode;
use dualrun_leader::{schedule, Profile};
use dualrun_monerod::{retry_transient, Daemon, RpcError};
use indicatif::{ProgressBar, ProgressStyle};

use crate::commands::chain::ChainArg;
use crate::Outcome;

/// `HEIGHT:KIND` on the command line.
#[derive(Debug, Clone, Copy)]
pub struct Fault {
    height: u64,
    kind: FaultKind,
}

impl FromStr for Fault {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (height, kind) = testchain::parse_fault(s)?;
        Ok(Fault { height, kind })
    }
}

#[derive(Subcommand)]
pub enum LeaderCommand {
    /// Judges every block of a chain under protocol v1: CSV `height,block_id,verdict,reason,leader_id`.
    Check(CheckArgs),
    /// The leader block producer: signs and submits blocks to a daemon, confirming each became the tip.
    Produce(ProduceArgs),
}

#[derive(Args)]
pub struct CheckArgs {
    #[command(flatten)]
    chain: ChainArg,
    /// The network profile (TOML). Default: the bundled sample's, when --chain is not given.
    #[arg(long, value_name = "FILE")]
    profile: Option<PathBuf>,
    #[arg(long, value_name = "H", default_value_t = 0)]
    from: u64,
    #[arg(long, value_name = "H")]
    to: Option<u64>,
    /// `block` (each block's own timestamp) or `fixed:UNIX`.
    #[arg(long, default_value = "block")]
    now: NowMode,
    /// CSV output (the only format).
    #[arg(long)]
    csv: bool,
    /// Worker threads for parsing, hashing and signature checks (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
}

#[derive(Args)]
pub struct ProduceArgs {
    /// The daemon's RPC base URL, e.g. http://127.0.0.1:18081.
    #[arg(long, value_name = "URL")]
    daemon: String,
    #[arg(long, value_name = "FILE")]
    profile: PathBuf,
    /// A leader key file; repeat for several validators.
    #[arg(long = "key", value_name = "FILE", required = true)]
    keys: Vec<PathBuf>,
    /// Number of blocks to produce.
    #[arg(long)]
    blocks: u64,
    /// Pause between blocks.
    #[arg(long, default_value_t = 0.0)]
    interval_seconds: f64,
    /// Address the coinbase pays (any address the daemon's network accepts).
    #[arg(long, default_value = REGTEST_ADDRESS)]
    wallet_address: String,
    /// Build a faulty block at HEIGHT on purpose: missing, unknown, not-scheduled, bad-signature, malformed.
    #[arg(long = "fault", value_name = "HEIGHT:KIND")]
    faults: Vec<Fault>,
    /// Write each produced block's expected verdict as CSV (`height,block_id,verdict,reason,leader_id`).
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
    /// How long to wait for the daemon to answer at start.
    #[arg(long, default_value_t = 60)]
    wait_seconds: u64,
}

/// A mainnet-format address; regtest daemons accept it.
const REGTEST_ADDRESS: &str =
    "42ey1afDFnn4886T7196doS9GPMzexD9gXpsZJDwVjeRVdFCSoHnv7KPbBeGpzJBzHRCAs9UxqeoyFQMYbqSWYTfJJQAWDm";
/// Bytes reserved in the template's extra nonce for the leader record.
const RESERVE: usize = 100;

pub fn run(cmd: LeaderCommand) -> Result<Outcome> {
    match cmd {
        LeaderCommand::Check(a) => check(a),
        LeaderCommand::Produce(a) => produce(a),
    }
}

/// One `leader check` row.
#[derive(serde::Serialize)]
struct CheckRow<'a> {
    height: u64,
    block_id: Hash32,
    verdict: &'static str,
    reason: &'a str,
    leader_id: &'a str,
}

/// Blocks judged per batch: prepared in parallel, then judged in height order.
const BATCH: usize = 1024;

fn prepare_batch(profile: &Profile, batch: &[RawBlock<'_>], threads: usize) -> Vec<Prepared> {
    let chunk = batch.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = batch
            .chunks(chunk)
            .map(|c| s.spawn(move || c.iter().map(|b| validator::prepare(profile, b.height, b.blob)).collect::<Vec<_>>()))
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("prepare does not panic")).collect()
    })
}

fn check(a: CheckArgs) -> Result<Outcome> {
    let profile = Profile::load(&a.chain.profile(a.profile.as_deref())?)?;
    let (db, _) = a.chain.open()?;
    let mut ctx = dualrun_replay::context_at(&db, &profile, a.from)?;
    let threads = a.threads.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)).max(1);
    let txn = db.read_txn()?;
    let mut out = csv::Writer::from_writer(std::io::BufWriter::new(std::io::stdout().lock()));
    let mut rejected = 0u64;
    let mut blocks = db.blocks(&txn, a.from, a.to.unwrap_or(u64::MAX))?;
    loop {
        let batch: Vec<RawBlock> = blocks.by_ref().take(BATCH).collect::<Result<_, _>>()?;
        if batch.is_empty() {
            break;
        }
        let prepared = prepare_batch(&profile, &batch, threads);
        db.release_mapped_pages();
        for (raw, prepared) in batch.iter().zip(prepared) {
            let now = a.now.at(prepared.timestamp());
            let Judgement { verdict, facts } = validator::judge(&profile, &ctx, &prepared, now);
            let (verdict_str, reason) = match &verdict {
                Verdict::Accept => ("accept", ""),
                Verdict::Reject { reason, .. } => ("reject", reason.as_str()),
            };
            rejected += u64::from(!verdict.is_accept());
            out.serialize(CheckRow {
                height: raw.height,
                block_id: facts.block_id.unwrap_or(raw.info.hash),
                verdict: verdict_str,
                reason,
                leader_id: facts.leader_id.as_deref().unwrap_or(""),
            })?;
            match (prepared.block_id(), prepared.timestamp()) {
                (Some(id), Some(ts)) => ctx.advance(id, ts),
                _ => ctx.advance_unparsed(raw.info.hash),
            }
        }
    }
    out.flush()?;
    Ok(if rejected == 0 { Outcome::Clean } else { Outcome::Finding })
}

/// Calls `op`, retrying transient RPC errors with backoff (0.2 s doubling to 5 s) within `deadline`.
fn retry<T>(what: &str, deadline: Duration, op: impl FnMut() -> Result<T, RpcError>) -> Result<T> {
    let start = Instant::now();
    retry_transient(deadline, Duration::from_millis(200), Duration::from_secs(5), op)
        .map_err(|e| anyhow!(e).context(format!("{what} (gave up after {:.1} s)", start.elapsed().as_secs_f64())))
}

/// One expected-verdict row of `--record`.
#[derive(serde::Serialize)]
struct ProducedRow {
    height: u64,
    block_id: Hash32,
    verdict: &'static str,
    reason: &'static str,
    leader_id: String,
}

fn produce(a: ProduceArgs) -> Result<Outcome> {
    let profile = Profile::load(&a.profile)?;
    let mut keys: Vec<(usize, KeyFile)> = Vec::new();
    for path in &a.keys {
        let key = KeyFile::read(path)?;
        let index = profile.validator_index(&key.id).ok_or_else(|| {
            anyhow!("{}: key id {:?} is not a validator of profile {}", path.display(), key.id, a.profile.display())
        })?;
        if profile.validators[index].public_key != key.verifying_key() {
            bail!("{}: the public key of {:?} differs from the one in profile {}", path.display(), key.id, a.profile.display());
        }
        keys.push((index, key));
    }
    let mut faults = std::collections::BTreeMap::new();
    for f in &a.faults {
        if faults.insert(f.height, f.kind).is_some() {
            bail!("--fault: two faults for height {}", f.height);
        }
    }

    let daemon = Daemon::new(&a.daemon, Duration::from_secs(30));
    let patience = Duration::from_secs(a.wait_seconds);
    let info = retry(&format!("waiting for the daemon at {}", a.daemon), patience, || daemon.get_info())?;
    let genesis = retry("reading block 0", patience, || daemon.block_header_by_height(0))?;
    profile.check_genesis(&genesis.hash)?;
    let first = info.height;
    if let Some((&h, _)) = faults.iter().find(|(&h, _)| h < first.max(profile.activation_height) || h >= first + a.blocks) {
        bail!("--fault at height {h}: this run produces heights {first}..{} with leaders from {}", first + a.blocks - 1, profile.activation_height);
    }

    let mut record = match &a.record {
        Some(p) => Some(csv::Writer::from_path(p).with_context(|| format!("creating {}", p.display()))?),
        None => None,
    };
    let bar = ProgressBar::new(a.blocks).with_style(
        ProgressStyle::with_template("{spinner} {pos}/{len} blocks [{elapsed_precise}] {per_sec} {msg}")
            .expect("valid template"),
    );
    let started = Instant::now();
    for i in 0..a.blocks {
        let (height, block_id, fault, leader) = produce_one(&a, &daemon, &profile, &keys, &faults, patience)?;
        bar.inc(1);
        bar.set_message(format!("height {height} {}", fault.map_or("ok", FaultKind::expected_reason)));
        if bar.is_hidden() && (i + 1) % 10 == 0 {
            eprintln!("dualrun: produced {}/{} blocks, tip height {height}", i + 1, a.blocks);
        }
        if let Some(w) = record.as_mut() {
            w.serialize(ProducedRow {
                height,
                block_id,
                verdict: if fault.is_some() { "reject" } else { "accept" },
                reason: fault.map_or("", FaultKind::expected_reason),
                leader_id: leader.unwrap_or_default(),
            })?;
            w.flush()?;
        }
        if a.interval_seconds > 0.0 && i + 1 < a.blocks {
            std::thread::sleep(Duration::from_secs_f64(a.interval_seconds));
        }
    }
    bar.finish_and_clear();
    let tip = daemon.last_block_header()?;
    println!(
        "produced {} blocks on {} in {:.1} s; tip height {} id {}",
        a.blocks,
        a.daemon,
        started.elapsed().as_secs_f64(),
        tip.height,
        tip.hash
    );
    Ok(Outcome::Clean)
}

/// Produces and submits one block; returns its height, id, fault and the leader id it carries.
fn produce_one(
    a: &ProduceArgs,
    daemon: &Daemon,
    profile: &Profile,
    keys: &[(usize, KeyFile)],
    faults: &std::collections::BTreeMap<u64, FaultKind>,
    patience: Duration,
) -> Result<(u64, Hash32, Option<FaultKind>, Option<String>)> {
    loop {
        let template = retry("get_block_template", patience, || daemon.get_block_template(&a.wallet_address, RESERVE))?;
        let height = template.height;
        let parent = retry("get_last_block_header", patience, || daemon.last_block_header())?;
        if parent.hash != template.prev_hash {
            continue; // the tip moved under us; take a fresh template
        }
        let mut blob = template.blob.clone();
        let off = template.reserved_offset;
        if off < 2 || off + RESERVE > blob.len() || blob[off - 2] != 0x02 || blob[off - 1] as usize != RESERVE {
            bail!("height {height}: the template's reserved bytes are not a {RESERVE}-byte extra nonce at offset {off}");
        }
        let timestamp = Block::parse(&blob).with_context(|| format!("height {height}: template does not parse"))?.header.timestamp;
        let fault = faults.get(&height).copied();

        let mut leader: Option<String> = None;
        if height >= profile.activation_height {
            let allowed = schedule::allowed(profile, height, timestamp, parent.timestamp);
            let gap = timestamp.saturating_sub(parent.timestamp);
            let signer = match fault {
                Some(FaultKind::NotScheduled) => {
                    let k = keys.iter().find(|(i, _)| !allowed.contains(*i)).ok_or_else(|| {
                        anyhow!("--fault {height}:not-scheduled needs a --key of a validator not allowed at height {height}")
                    })?;
                    Some(k)
                }
                Some(FaultKind::Missing | FaultKind::Malformed) => None,
                Some(FaultKind::Unknown) => keys.first(),
                _ => {
                    let k = allowed.indexes().find_map(|i| keys.iter().find(|(j, _)| *j == i));
                    match k {
                        Some(k) if gap >= profile.min_interval_seconds => Some(k),
                        // Failover or the minimum interval will allow one of our keys later: wait.
                        _ if profile.failover_seconds > 0 || (k.is_some() && profile.min_interval_seconds > 0) => {
                            std::thread::sleep(Duration::from_millis(500));
                            continue;
                        }
                        _ => {
                            let id = &profile.validators[allowed.first].id;
                            bail!("height {height} is scheduled for {id:?}, and no --key for it was given (failover is off)");
                        }
                    }
                }
            };
            leader = testchain::fill_record(
                &mut blob,
                off,
                RESERVE,
                &profile.network_id,
                fault,
                signer.map(|(i, k)| (profile.validators[*i].id.as_str(), &k.signing_key)),
            )
            .map_err(|e| anyhow!("height {height}: {e}"))?;
        }

        let block_id = Block::parse(&blob)?.hashes()?.block_id;
        daemon
            .submit_block(&blob)
            .with_context(|| format!("the daemon rejected the block for height {height}"))?;
        let tip = retry("get_last_block_header", patience, || daemon.last_block_header())?;
        if tip.hash != block_id {
            bail!(
                "height {height}: the daemon accepted block {block_id} but kept it off its main chain (its tip is {} at height {})",
                tip.hash,
                tip.height
            );
        }
        return Ok((height, block_id, fault, leader));
    }
}
