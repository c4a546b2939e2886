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
    /// `now` for a block with this timestamp (0 for a block whose timestamp cannot be read).
    pub fn at(self, block_timestamp: Option<u64>) -> u64 {
        match self {
            NowMode::Block => block_timestamp.unwrap_or(0),
            NowMode::Fixed(t) => t,
        }
    }

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
    /// The first record of this session (height, class, reproduce command), for the closing message.
    pub first_record: Option<(u64, RecordClass, String)>,
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

/// The chain digest of `from..=last` (computed ids). Ids are computed window by window (64 Ki blocks,
/// so memory stays flat), each window split over `threads` threads with their own read transactions,
/// and pushed in height order.
fn chain_digest(db: &ChainDb, from: u64, last: u64, threads: usize) -> Result<ChainDigest, ReplayError> {
    const WINDOW: u64 = 1 << 16;
    let mut digest = ChainDigest::new();
    let mut window_start = from;
    while window_start <= last {
        let window_end = (window_start + WINDOW - 1).min(last);
        let span = (window_end - window_start + 1).div_ceil(threads as u64);
        let parts: Vec<Result<Vec<Hash32>, ReplayError>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads as u64)
                .map(|i| (window_start + i * span, (window_start + (i + 1) * span - 1).min(window_end)))
                .filter(|(a, b)| a <= b)
                .map(|(a, b)| {
                    s.spawn(move || -> Result<Vec<Hash32>, ReplayError> {
                        let txn = db.read_txn()?;
                        let ids = db.blocks(&txn, a, b)?.map(|raw| Ok(block_id_of(&raw?))).collect();
                        ids
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("digest thread does not panic")).collect()
        });
        for part in parts {
            for id in part? {
                digest.push(&id);
            }
        }
        window_start = window_end + 1;
    }
    Ok(digest)
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
    // The id of block from − 1, and the last 60 timestamps that parse (a malformed block adds none,
    // exactly as when the pipeline passes it): walk back until 60 are found or block 0 is reached.
    let prev = db.blocks(&txn, from - 1, from - 1)?.next().expect("from − 1 exists")?;
    let prev_id = block_id_of(&prev);
    let mut timestamps: Vec<u64> = Vec::new();
    let mut end = from; // exclusive
    while timestamps.len() < TIMESTAMP_WINDOW && end > 0 {
        let start = end.saturating_sub(TIMESTAMP_WINDOW as u64);
        let mut chunk = Vec::new();
        for raw in db.blocks(&txn, start, end - 1)? {
            if let Ok(b) = Block::parse(raw?.blob) {
                chunk.push(b.header.timestamp);
            }
        }
        chunk.extend(timestamps);
        timestamps = chunk;
        end = start;
    }
    let keep = timestamps.len().saturating_sub(TIMESTAMP_WINDOW);
    Ok(ChainContext::resume(from, prev_id, timestamps.into_iter().skip(keep)))
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
        now: now.at(timestamp),
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
    let digest = chain_digest(db, cfg.from, last, cfg.threads.max(1))?;
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
        let want_fields = legacy.iter().chain(candidate.iter()).any(|v| v.wants_fields());
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

            // The reader copies blocks out of LMDB in batches and hands them to the workers; the workers
            // parse and prepare on all cores; the assembler puts the batches back in height order, gives
            // each block its env and feeds the verifiers and the comparator.
            type Raw = (u64, Arc<[u8]>, Hash32);
            type Prepared = (BlockInput, Hash32, Option<u64>, Option<Box<dyn Any + Send>>, Option<Box<dyn Any + Send>>);
            let (work_tx, work_rx) = sync_channel::<(u64, Vec<Raw>)>(threads * 2);
            let work_rx = Arc::new(std::sync::Mutex::new(work_rx));
            let (done_tx, done_rx) = sync_channel::<(u64, Vec<Prepared>)>(threads * 2);
            let reader = std::thread::Builder::new()
                .name("dualrun-reader".into())
                .spawn_scoped(s, move || -> Result<bool, ReplayError> {
                    let txn = db.read_txn()?;
                    let mut blocks = db.blocks(&txn, start, last)?;
                    for index in 0u64.. {
                        if interrupt.load(Ordering::Relaxed) {
                            return Ok(true);
                        }
                        let mut raws: Vec<Raw> = Vec::with_capacity(BATCH);
                        for raw in blocks.by_ref().take(BATCH) {
                            let raw = raw?;
                            raws.push((raw.height, Arc::from(raw.blob), raw.info.hash));
                        }
                        db.release_mapped_pages();
                        if raws.is_empty() || work_tx.send((index, raws)).is_err() {
                            return Ok(false);
                        }
                    }
                    unreachable!("u64 batches")
                })
                .expect("spawn reader");
            for w in 0..threads {
                let (rx, tx) = (work_rx.clone(), done_tx.clone());
                let (lp, cp) = (legacy_prep.clone(), cand_prep.clone());
                std::thread::Builder::new()
                    .name(format!("dualrun-prepare-{w}"))
                    .spawn_scoped(s, move || loop {
                        let next = rx.lock().expect("work queue lock").recv();
                        let Ok((index, raws)) = next else { return };
                        let prepared: Vec<Prepared> = raws
                            .into_iter()
                            .map(|(height, blob, stored_id)| {
                                let parsed = Block::parse(&blob).ok();
                                let fields = parsed.as_ref().filter(|_| want_fields).map(BlockFields::from_block);
                                let timestamp = parsed.as_ref().map(|b| b.header.timestamp);
                                let block_id = parsed.as_ref().and_then(|b| b.hashes().ok()).map_or(stored_id, |h| h.block_id);
                                drop(parsed);
                                let input = BlockInput { height, blob, fields };
                                let l = lp.as_ref().map(|p| p.prepare(&input));
                                let c = cp.as_ref().map(|p| p.prepare(&input));
                                (input, block_id, timestamp, l, c)
                            })
                            .collect();
                        if tx.send((index, prepared)).is_err() {
                            return;
                        }
                    })
                    .expect("spawn worker");
            }
            drop(done_tx);
            std::thread::Builder::new()
                .name("dualrun-assembler".into())
                .spawn_scoped(s, move || {
                    let mut pending = std::collections::BTreeMap::new();
                    let mut next = 0u64;
                    for (index, prepared) in done_rx {
                        pending.insert(index, prepared);
                        while let Some(prepared) = pending.remove(&next) {
                            next += 1;
                            let mut items = Vec::with_capacity(prepared.len());
                            let mut lpreps: Preps = Vec::with_capacity(prepared.len());
                            let mut cpreps: Preps = Vec::with_capacity(prepared.len());
                            for (input, block_id, timestamp, l, c) in prepared {
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
                            let sent = legacy_in.as_ref().is_none_or(|tx| tx.send((batch.clone(), lpreps)).is_ok())
                                && cand_in.as_ref().is_none_or(|tx| tx.send((batch.clone(), cpreps)).is_ok())
                                && cmp_tx.send(batch).is_ok();
                            if !sent {
                                return;
                            }
                        }
                    }
                })
                .expect("spawn assembler");

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
                        first_record.get_or_insert_with(|| (record.height, record.class, record.reproduce.clone()));
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
    // Records durable first; then the summary and the manifest's digests; only then is the checkpoint
    // marked complete. A kill anywhere in between leaves a checkpoint that a resume finishes.
    run_dir.checkpoint(&inputs_digest, next_height, &stats, false)?;
    progress.end();
    if let Some(e) = reader_error {
        return Err(e);
    }
    let summary = summary_json(mode, cfg.from, last, &stats, complete, next_height);
    manifest["complete"] = json!(complete);
    run_dir.finish(&summary, manifest)?;
    if complete {
        run_dir.checkpoint(&inputs_digest, next_height, &stats, true)?;
    }
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
