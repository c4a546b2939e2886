//! The replay pipeline.
//!
//! ```text
//!   reader ──batches──▶ prepare (all cores: parse, ids, stateless verifier work)
//!      │                      │ in height order, with each block's env
//!      ├──────────────▶ legacy thread    (verify, one block after another)  ─┐
//!      ├──────────────▶ candidate thread (verify, one block after another)  ─┤
//!      └──────────────▶ comparator (height order: mode table, records, checkpoints, progress)
//! ```
//! Channels are bounded (a few batches), so memory does not grow with the chain. The legacy and the
//! candidate each see the blocks in height order on one thread (a legacy may hold state); the candidate's
//! stateless work runs ahead on all cores. The reader stops at an interrupt; everything read is finished,
//! checkpointed and the run ends resumable.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dualrun_chaindb::{ChainDb, ChainDbError, ChainDigest, RawBlock};
use dualrun_core::{
    decide, BlockFields, BlockInput, ErrorKind, Mode, ReasonMap, RecordClass, ReplayEnv, Stateless, Verdict, Verifier,
    VerifierError, VerifierOutcome,
};
use dualrun_format::{keccak256, Block, Hash32};
use dualrun_leader::validator::{ChainContext, TIMESTAMP_WINDOW};
use dualrun_leader::{Profile, ProfileError};
use serde_json::json;

use crate::record::{Authoritative, Record, Side};
use crate::rundir::{RunDir, RunDirError};
use crate::stats::Stats;

/// Where `now` comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NowMode {
    /// Each block's own timestamp.
    Block,
    Fixed(u64),
}

impl NowMode {
    pub fn describe(self) -> String {
        match self {
            NowMode::Block => "block".into(),
            NowMode::Fixed(t) => format!("fixed:{t}"),
        }
    }
}

impl std::str::FromStr for NowMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "block" => Ok(NowMode::Block),
            _ => s
                .strip_prefix("fixed:")
                .and_then(|t| t.parse().ok())
                .map(NowMode::Fixed)
                .ok_or_else(|| format!("expected `block` or `fixed:UNIX_SECONDS`, got {s:?}")),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Chain(#[from] ChainDbError),
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error(transparent)]
    RunDir(#[from] RunDirError),
    #[error("{0}")]
    Input(String),
}

/// What to replay and how.
pub struct ReplayConfig {
    /// The chain as the user named it (for the manifest and reproduce lines).
    pub chain_label: String,
    pub profile: Arc<Profile>,
    pub mode: Mode,
    pub from: u64,
    pub to: Option<u64>,
    pub now: NowMode,
    pub reasons: ReasonMap,
    /// Anything else that must match for a resume (timeouts, reason map digest…).
    pub settings: serde_json::Value,
    pub out: PathBuf,
    pub resume: bool,
    pub threads: usize,
    /// The start of a command that replays one block (`--from H --to H --out DIR` is appended).
    pub reproduce_prefix: String,
    pub interrupt: Arc<AtomicBool>,
}

/// The two verifiers; a mode that does not run one leaves it `None`.
pub struct Verifiers {
    pub legacy: Option<Box<dyn Verifier>>,
    pub candidate: Option<Box<dyn Verifier>>,
}

/// Observes a run (the CLI draws a progress bar or logs lines).
pub trait Progress {
    fn begin(&mut self, first: u64, last: u64, resumed_at: Option<u64>);
    fn advance(&mut self, next_height: u64, stats: &Stats);
    fn end(&mut self);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    Complete,
    /// Stopped early; `--resume` continues at `next_height`.
    Interrupted { next_height: u64 },
}

#[derive(Debug, Clone)]
pub struct RunResult {
    pub end: RunEnd,
    pub dir: PathBuf,
    pub stats: Stats,
    pub summary: serde_json::Value,
    /// The first record of the run, for the closing message.
    pub first_record: Option<(u64, RecordClass)>,
    /// A resume found the run already complete and did nothing.
    pub already_complete: bool,
}

const BATCH: usize = 256;
const CHECKPOINT_EVERY_BLOCKS: u64 = 8192;
const CHECKPOINT_EVERY: Duration = Duration::from_secs(2);

/// The id of a stored block: computed, or the stored one if the blob does not parse.
fn block_id_of(raw: &RawBlock) -> Hash32 {
    Block::parse(raw.blob).ok().and_then(|b| b.hashes().ok()).map_or(raw.info.hash, |h| h.block_id)
}

/// The chain context for judging `from`: the id of block `from − 1` and the timestamps of up to 60
/// blocks before it. Checks that block 0 is the profile's genesis.
pub fn context_at(db: &ChainDb, profile: &Profile, from: u64) -> Result<ChainContext, ReplayError> {
    let txn = db.read_txn()?;
    let genesis = db.blocks(&txn, 0, 0)?.next().expect("block 0 exists")?;
    profile.check_genesis(&block_id_of(&genesis))?;
    if from == 0 {
        return Ok(ChainContext::new());
    }
    let mut timestamps = Vec::new();
    let mut prev_id = Hash32::ZERO;
    for raw in db.blocks(&txn, from.saturating_sub(TIMESTAMP_WINDOW as u64), from - 1)? {
        let raw = raw?;
        if let Ok(b) = Block::parse(raw.blob) {
            timestamps.push(b.header.timestamp);
        }
        prev_id = block_id_of(&raw);
    }
    Ok(ChainContext::resume(from, prev_id, timestamps))
}

/// One block on its way through the pipeline.
struct Item {
    input: BlockInput,
    block_id: Hash32,
    env: ReplayEnv,
}

struct Batch {
    items: Vec<Item>,
}

/// Prepared work for one verifier, one entry per item.
type Preps = Vec<Option<Box<dyn Any + Send>>>;
type Results = Vec<(VerifierOutcome, Duration)>;

fn env_for(profile: &Profile, ctx: &ChainContext, now: NowMode, timestamp: Option<u64>) -> ReplayEnv {
    ReplayEnv {
        now: match now {
            NowMode::Block => timestamp.unwrap_or(0),
            NowMode::Fixed(t) => t,
        },
        network_name: profile.name.clone(),
        network_id: hex::encode(profile.network_id),
        genesis_id: profile.genesis_id,
        activation_height: profile.activation_height,
        prev_id: ctx.prev_id(),
        timestamps: ctx.timestamps().collect(),
    }
}

/// Runs `verify` and turns a panic into an error outcome.
fn verify_guarded(v: &mut dyn Verifier, input: &BlockInput, prep: Option<Box<dyn Any + Send>>, env: &ReplayEnv) -> (VerifierOutcome, Duration) {
    let t = Instant::now();
    let out = std::panic::catch_unwind(AssertUnwindSafe(|| v.verify(input, prep, env))).unwrap_or_else(|p| {
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".into());
        VerifierOutcome::Error(VerifierError::new(ErrorKind::Panic, msg))
    });
    (out, t.elapsed())
}

fn verifier_stage(mut v: Box<dyn Verifier>, rx: Receiver<(Arc<Batch>, Preps)>, tx: SyncSender<Results>) {
    for (batch, preps) in rx {
        let results: Results = batch
            .items
            .iter()
            .zip(preps)
            .map(|(item, prep)| verify_guarded(v.as_mut(), &item.input, prep, &item.env))
            .collect();
        if tx.send(results).is_err() {
            return;
        }
    }
}

/// Replays the range, writing the run directory. See the module docs for the pipeline.
pub fn run(db: &ChainDb, cfg: ReplayConfig, verifiers: Verifiers, progress: &mut dyn Progress) -> Result<RunResult, ReplayError> {
    let mode = cfg.mode;
    if mode.runs_legacy() != verifiers.legacy.is_some() || mode.runs_candidate() != verifiers.candidate.is_some() {
        return Err(ReplayError::Input(format!("mode {mode} needs {}", match mode {
            Mode::Legacy => "a legacy verifier and no candidate",
            Mode::Only => "a candidate and no legacy verifier",
            _ => "both verifiers",
        })));
    }
    let txn = db.read_txn()?;
    let tip = db.tip_height(&txn)?;
    if cfg.from > tip {
        return Err(ChainDbError::BeyondTip { file: db.data_file().into(), height: cfg.from, tip }.into());
    }
    let last = cfg.to.unwrap_or(tip).min(tip);
    if last < cfg.from {
        return Err(ReplayError::Input(format!("--to {last} is below --from {}", cfg.from)));
    }
    // Genesis check first: a profile for another chain refuses the whole run.
    context_at(db, &cfg.profile, 0)?;

    // What is replayed, named independently of page layout.
    let mut digest = ChainDigest::new();
    for raw in db.blocks(&txn, cfg.from, last)? {
        digest.push(&block_id_of(&raw?));
    }
    let genesis_id = cfg.profile.genesis_id;
    let identity = |v: &Option<Box<dyn Verifier>>| v.as_ref().map(|v| serde_json::to_value(v.identity()).expect("serializes"));
    let inputs = json!({
        "chain": {
            "path": cfg.chain_label,
            "schema_version": db.schema().version(),
            "genesis_id": genesis_id,
            "from": cfg.from,
            "to": last,
            "blocks": last - cfg.from + 1,
            "chain_digest": digest.current(),
        },
        "profile": {
            "path": cfg.profile.source,
            "digest": cfg.profile.digest,
            "network": cfg.profile.name,
        },
        "mode": mode,
        "legacy": identity(&verifiers.legacy),
        "candidate": identity(&verifiers.candidate),
        "env": { "now": cfg.now.describe() },
        "settings": cfg.settings,
    });
    let inputs_digest = keccak256(&serde_json::to_vec(&inputs).expect("serializes"));
    let started_unix = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut manifest = json!({
        "format": "dualrun-run/v1",
        "tool": { "name": "dualrun", "version": env!("CARGO_PKG_VERSION") },
        "inputs": inputs,
        "inputs_digest": inputs_digest,
        "data_file": db.data_file(),
        "started_unix": started_unix,
        "complete": false,
    });

    let (mut run_dir, checkpoint) = if cfg.resume {
        let (d, cp) = RunDir::resume(&cfg.out, &inputs_digest, &manifest["inputs"])?;
        if let Ok(old) = crate::rundir::read_json(&cfg.out.join(crate::rundir::MANIFEST)) {
            manifest["started_unix"] = old["started_unix"].clone();
        }
        (d, cp)
    } else {
        (RunDir::create(&cfg.out, &manifest)?, None)
    };
    let mut stats = checkpoint.as_ref().map(|c| c.stats.clone()).unwrap_or_default();
    if checkpoint.as_ref().is_some_and(|c| c.complete) {
        let summary = crate::rundir::read_json(&cfg.out.join(crate::rundir::SUMMARY))?;
        return Ok(RunResult { end: RunEnd::Complete, dir: cfg.out, stats, summary, first_record: None, already_complete: true });
    }
    let start = checkpoint.as_ref().map_or(cfg.from, |c| c.next_height);
    let resumed_at = checkpoint.as_ref().map(|c| c.next_height);
    tracing::info!(dir = %cfg.out.display(), first = cfg.from, last, start, mode = %mode, "replay starting");
    progress.begin(cfg.from, last, resumed_at);

    let session = Instant::now();
    let mut next_height = start;
    let mut first_record = None;
    let mut reader_error: Option<ReplayError> = None;
    let mut interrupted = false;

    if start <= last {
        let mut ctx = context_at(db, &cfg.profile, start)?;
        let Verifiers { legacy, candidate } = verifiers;
        let legacy_prep: Option<Arc<dyn Stateless>> = legacy.as_ref().and_then(|v| v.stateless());
        let cand_prep: Option<Arc<dyn Stateless>> = candidate.as_ref().and_then(|v| v.stateless());
        let threads = cfg.threads.max(1);
        let profile = cfg.profile.clone();
        let now = cfg.now;
        let interrupt = cfg.interrupt.clone();

        std::thread::scope(|s| -> Result<(), ReplayError> {
            let (cmp_tx, cmp_rx) = sync_channel::<Arc<Batch>>(4);
            let stage = |v: Option<Box<dyn Verifier>>, name: &str| {
                v.map(|v| {
                    let (in_tx, in_rx) = sync_channel::<(Arc<Batch>, Preps)>(2);
                    let (out_tx, out_rx) = sync_channel::<Results>(2);
                    std::thread::Builder::new()
                        .name(format!("dualrun-{name}"))
                        .spawn_scoped(s, move || verifier_stage(v, in_rx, out_tx))
                        .expect("spawn verifier thread");
                    (in_tx, out_rx)
                })
            };
            let legacy_stage = stage(legacy, "legacy");
            let cand_stage = stage(candidate, "candidate");
            let (legacy_in, legacy_out) = legacy_stage.map_or((None, None), |(a, b)| (Some(a), Some(b)));
            let (cand_in, cand_out) = cand_stage.map_or((None, None), |(a, b)| (Some(a), Some(b)));

            // The reader: runs in this scope's own thread and feeds everything.
            let reader = std::thread::Builder::new()
                .name("dualrun-reader".into())
                .spawn_scoped(s, move || -> Result<bool, ReplayError> {
                    let txn = db.read_txn()?;
                    let mut blocks = db.blocks(&txn, start, last)?;
                    loop {
                        if interrupt.load(Ordering::Relaxed) {
                            return Ok(true);
                        }
                        let raws: Vec<RawBlock> = blocks.by_ref().take(BATCH).collect::<Result<_, _>>()?;
                        if raws.is_empty() {
                            return Ok(false);
                        }
                        let chunk = raws.len().div_ceil(threads);
                        type Prepared = (BlockInput, Hash32, Option<Box<dyn Any + Send>>, Option<Box<dyn Any + Send>>);
                        let prepared: Vec<Prepared> = std::thread::scope(|ps| {
                            let handles: Vec<_> = raws
                                .chunks(chunk)
                                .map(|c| {
                                    let (lp, cp) = (legacy_prep.clone(), cand_prep.clone());
                                    ps.spawn(move || {
                                        c.iter()
                                            .map(|raw| {
                                                let parsed = Block::parse(raw.blob).ok();
                                                let fields = parsed.as_ref().map(BlockFields::from_block);
                                                let block_id = parsed
                                                    .as_ref()
                                                    .and_then(|b| b.hashes().ok())
                                                    .map_or(raw.info.hash, |h| h.block_id);
                                                let input = BlockInput { height: raw.height, blob: Arc::from(raw.blob), fields };
                                                let l = lp.as_ref().map(|p| p.prepare(&input));
                                                let c = cp.as_ref().map(|p| p.prepare(&input));
                                                (input, block_id, l, c)
                                            })
                                            .collect::<Vec<_>>()
                                    })
                                })
                                .collect();
                            handles.into_iter().flat_map(|h| h.join().expect("prepare does not panic")).collect()
                        });
                        db.release_mapped_pages();
                        let mut items = Vec::with_capacity(prepared.len());
                        let mut lpreps: Preps = Vec::with_capacity(prepared.len());
                        let mut cpreps: Preps = Vec::with_capacity(prepared.len());
                        for (input, block_id, l, c) in prepared {
                            let timestamp = input.fields.as_ref().map(|f| f.timestamp);
                            let env = env_for(&profile, &ctx, now, timestamp);
                            match timestamp {
                                Some(ts) => ctx.advance(block_id, ts),
                                None => ctx.advance_unparsed(block_id),
                            }
                            items.push(Item { input, block_id, env });
                            lpreps.push(l);
                            cpreps.push(c);
                        }
                        let batch = Arc::new(Batch { items });
                        if let Some(tx) = &legacy_in {
                            if tx.send((batch.clone(), lpreps)).is_err() {
                                return Ok(false);
                            }
                        }
                        if let Some(tx) = &cand_in {
                            if tx.send((batch.clone(), cpreps)).is_err() {
                                return Ok(false);
                            }
                        }
                        if cmp_tx.send(batch).is_err() {
                            return Ok(false);
                        }
                    }
                })
                .expect("spawn reader");

            // The comparator: this thread.
            let mut since_checkpoint = (0u64, Instant::now());
            for batch in cmp_rx {
                let lres = legacy_out.as_ref().map(|rx| rx.recv().expect("legacy thread answers every batch"));
                let cres = cand_out.as_ref().map(|rx| rx.recv().expect("candidate thread answers every batch"));
                for (i, item) in batch.items.iter().enumerate() {
                    let l = lres.as_ref().map(|r| &r[i]);
                    let c = cres.as_ref().map(|r| &r[i]);
                    if let Some((_, d)) = l {
                        stats.legacy_latency.record(*d);
                    }
                    if let Some((_, d)) = c {
                        stats.candidate_latency.record(*d);
                    }
                    let decision = decide(mode, l.map(|x| &x.0), c.map(|x| &x.0), &cfg.reasons);
                    stats.blocks += 1;
                    if decision.authoritative.is_accept() {
                        stats.authoritative_accept += 1;
                    } else {
                        stats.authoritative_reject += 1;
                    }
                    for class in &decision.records {
                        stats.add(*class);
                        first_record.get_or_insert((item.input.height, *class));
                        let record = Record {
                            height: item.input.height,
                            block_id: item.block_id,
                            class: *class,
                            mode,
                            legacy: Side::from_outcome(l.map(|x| &x.0)),
                            candidate: Side::from_outcome(c.map(|x| &x.0)),
                            authoritative: Authoritative {
                                verdict: decision.authoritative.name(),
                                reason: match &decision.authoritative {
                                    Verdict::Accept => String::new(),
                                    Verdict::Reject { reason, .. } => reason.clone(),
                                },
                                source: decision.source,
                            },
                            differing_facts: decision.differing_facts.clone(),
                            env: item.env.clone(),
                            blob: hex::encode(&item.input.blob),
                            reproduce: {
                                let h = item.input.height;
                                let out = cfg.out.with_file_name(format!("reproduce-{h}"));
                                format!("{} --from {h} --to {h} --out {}", cfg.reproduce_prefix, out.display())
                            },
                        };
                        run_dir.write(&record)?;
                    }
                    next_height = item.input.height + 1;
                }
                progress.advance(next_height, &stats);
                since_checkpoint.0 += batch.items.len() as u64;
                if since_checkpoint.0 >= CHECKPOINT_EVERY_BLOCKS || since_checkpoint.1.elapsed() >= CHECKPOINT_EVERY {
                    let mut s2 = stats.clone();
                    s2.elapsed_ms += session.elapsed().as_millis() as u64;
                    run_dir.checkpoint(&inputs_digest, next_height, &s2, false)?;
                    since_checkpoint = (0, Instant::now());
                }
            }
            match reader.join().expect("reader does not panic") {
                Ok(stopped) => interrupted = stopped,
                Err(e) => reader_error = Some(e),
            }
            Ok(())
        })?;
    }

    stats.elapsed_ms += session.elapsed().as_millis() as u64;
    stats.sessions += 1;
    let complete = reader_error.is_none() && !interrupted && next_height > last;
    run_dir.checkpoint(&inputs_digest, next_height, &stats, complete)?;
    progress.end();
    if let Some(e) = reader_error {
        return Err(e);
    }
    let summary = summary_json(mode, cfg.from, last, &stats, complete, next_height);
    manifest["complete"] = json!(complete);
    run_dir.finish(&summary, manifest)?;
    let end = if complete { RunEnd::Complete } else { RunEnd::Interrupted { next_height } };
    tracing::info!(blocks = stats.blocks, records = stats.total_records(), complete, "replay finished");
    Ok(RunResult { end, dir: cfg.out, stats, summary, first_record, already_complete: false })
}

fn latency(h: &crate::stats::Histogram) -> serde_json::Value {
    if h.count() == 0 {
        return serde_json::Value::Null;
    }
    json!({
        "count": h.count(),
        "p50_us": h.quantile_us(0.5),
        "p99_us": h.quantile_us(0.99),
        "max_us": h.max_us(),
    })
}

fn summary_json(mode: Mode, from: u64, to: u64, s: &Stats, complete: bool, next_height: u64) -> serde_json::Value {
    let secs = s.elapsed_ms as f64 / 1000.0;
    json!({
        "complete": complete,
        "mode": mode,
        "range": { "from": from, "to": to, "next_height": next_height },
        "blocks": s.blocks,
        "verifiers_run": { "legacy": mode.runs_legacy(), "candidate": mode.runs_candidate() },
        "divergences": {
            "split": s.count(RecordClass::Split),
            "halt": s.count(RecordClass::Halt),
            "fact": s.count(RecordClass::Fact),
            "reason": s.count(RecordClass::Reason),
        },
        "errors": {
            "legacy_error": s.count(RecordClass::LegacyError),
            "candidate_error": s.count(RecordClass::CandidateError),
            "fallback": s.count(RecordClass::Fallback),
        },
        "records": s.total_records(),
        "authoritative": { "accept": s.authoritative_accept, "reject": s.authoritative_reject },
        "blocks_per_second": if secs > 0.0 { s.blocks as f64 / secs } else { 0.0 },
        "elapsed_seconds": secs,
        "sessions": s.sessions,
        "latency": {
            "legacy": latency(&s.legacy_latency),
            "candidate": latency(&s.candidate_latency),
        },
    })
}
