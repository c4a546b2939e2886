//! `dualrun-bench`: benchmarks that print figures (never pass/fail). Each measures the real `dualrun`
//! binary as a child process (wall time, peak RSS from `wait4`) next to ceilings measured in the same
//! run on the same machine, so the figures can be judged without knowing the hardware.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use dualrun_chaindb::Schema;
use dualrun_format::{keccak256, Block};
use heed::byteorder::NativeEndian;
use heed::types::{Bytes, U64};

#[derive(Parser)]
#[command(name = "dualrun-bench")]
struct Cli {
    #[command(subcommand)]
    command: Bench,
}

#[derive(Subcommand)]
enum Bench {
    /// `dualrun chain scan` blocks/s and peak RSS on a synthetic chain, next to a raw heed iteration
    /// and the Keccak hashing ceiling.
    Scan {
        /// Blocks in the synthetic chain.
        #[arg(long, default_value_t = 1_000_000)]
        blocks: u64,
        /// Where the chain is kept between runs (made if missing).
        #[arg(long)]
        chain_dir: Option<PathBuf>,
        /// Smaller scan for the flat-memory comparison.
        #[arg(long, default_value_t = 10_000)]
        small: u64,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Bench::Scan { blocks, chain_dir, small } => scan(blocks, chain_dir, small),
    }
}

fn workspace_target() -> PathBuf {
    std::env::current_exe().ok().and_then(|p| p.parent().map(Path::to_path_buf)).unwrap_or_else(|| PathBuf::from("."))
}

/// A synthetic chain of `blocks`, made once and kept.
fn synthetic_chain(blocks: u64, dir: Option<PathBuf>) -> Result<PathBuf> {
    let dir = dir.unwrap_or_else(|| workspace_target().join(format!("bench-chains/synth-v5-{blocks}")));
    if dir.join("data.mdb").exists() {
        return Ok(dir);
    }
    let start = Instant::now();
    let spec = dualrun_synth::SynthSpec { blocks, schema: Schema::MoneroV5, seed: 1, leader: None };
    let r = dualrun_synth::generate(&dir, spec, |_| {})?;
    println!(
        "generated {} ({} blocks, {:.1} MB of blobs) in {:.1} s",
        dir.display(),
        r.blocks,
        r.blob_bytes as f64 / 1e6,
        start.elapsed().as_secs_f64()
    );
    Ok(dir)
}

/// Keccak-256 calls per second on one core, on 96-byte inputs (every input of the block-id rules is
/// under Keccak's 136-byte rate, so each call is one permutation).
fn keccak_rate() -> f64 {
    let mut buf = [7u8; 96];
    let mut calls = 0u64;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(2) {
        for _ in 0..10_000 {
            let h = keccak256(&buf);
            buf[..8].copy_from_slice(&h.0[..8]);
        }
        calls += 10_000;
    }
    std::hint::black_box(buf);
    calls as f64 / start.elapsed().as_secs_f64()
}

/// Keccak calls the daemon's rules make per block, averaged over the chain: miner tx hash (v2: prefix,
/// RingCT base, the three-hash; v1: one), the tree over n = tx count + 1 leaves (n − 1), the id (one).
fn keccak_calls_per_block(dir: &Path) -> Result<f64> {
    let db = dualrun_chaindb::ChainDb::open(dir)?;
    let txn = db.read_txn()?;
    let (mut calls, mut blocks) = (0u64, 0u64);
    for raw in db.blocks(&txn, 0, u64::MAX)? {
        let raw = raw?;
        let b = Block::parse(raw.blob)?;
        let tx = if b.miner_tx.version == 1 { 1 } else { 3 };
        calls += tx + b.tx_count() as u64 + 1;
        blocks += 1;
    }
    Ok(calls as f64 / blocks as f64)
}

/// Blocks/s of a bare heed cursor walk over `blocks`, touching every blob.
fn raw_heed_rate(dir: &Path) -> Result<(f64, u64)> {
    let mut options = heed::EnvOpenOptions::new().read_txn_without_tls();
    options.max_dbs(32);
    let env = unsafe {
        options.flags(heed::EnvFlags::READ_ONLY | heed::EnvFlags::NO_LOCK);
        options.open(dir)
    }?;
    let txn = env.read_txn()?;
    let db: heed::Database<U64<NativeEndian>, Bytes> =
        env.open_database(&txn, Some("blocks"))?.context("blocks table")?;
    let start = Instant::now();
    let (mut n, mut sum) = (0u64, 0u64);
    for item in db.iter(&txn)? {
        let (_, blob) = item?;
        sum = sum.wrapping_add(blob.len() as u64 + u64::from(blob[blob.len() - 1]));
        n += 1;
    }
    std::hint::black_box(sum);
    Ok((n as f64 / start.elapsed().as_secs_f64(), n))
}

struct ChildRun {
    seconds: f64,
    max_rss_kb: i64,
}

/// Runs the dualrun binary with stdout to /dev/null and reports wall time and peak RSS.
fn run_dualrun(args: &[&str]) -> Result<ChildRun> {
    let exe = workspace_target().join("dualrun");
    if !exe.exists() {
        bail!("{} not found: build it first (cargo build --release)", exe.display());
    }
    let start = Instant::now();
    let child = Command::new(&exe).args(args).stdout(Stdio::null()).spawn()?;
    let mut status = 0;
    // SAFETY: zeroed rusage is valid; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let seconds = start.elapsed().as_secs_f64();
    if pid < 0 || !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        bail!("dualrun {args:?} failed (status {status})");
    }
    Ok(ChildRun { seconds, max_rss_kb: usage.ru_maxrss })
}

fn scan(blocks: u64, chain_dir: Option<PathBuf>, small: u64) -> Result<()> {
    let dir = synthetic_chain(blocks, chain_dir)?;
    let chain = dir.to_str().context("chain path is not UTF-8")?;
    let cores_used = 1.0; // `chain scan` is one thread.

    // The children run first: a child's peak RSS counts what it inherited at fork, so this process
    // must not have the database mapped yet.
    let small_to = (small - 1).to_string();
    let small_run = run_dualrun(&["chain", "scan", "--chain", chain, "--to", &small_to, "--csv"])?;
    let full = run_dualrun(&["chain", "scan", "--chain", chain, "--csv"])?;
    let rate = keccak_rate();
    let calls = keccak_calls_per_block(&dir)?;
    let ceiling = rate / calls;
    let (raw_rate, n) = raw_heed_rate(&dir)?;
    let full_rate = n as f64 / full.seconds;

    println!("chain scan benchmark: {n} blocks (synthetic, schema 5), {} core(s) available", std::thread::available_parallelism().map(|p| p.get()).unwrap_or(1));
    println!("  keccak-256, 96-byte inputs      {:>12.0} calls/s (one core)", rate);
    println!("  keccak calls per block (rules)  {:>12.2}", calls);
    println!("  hashing ceiling                 {:>12.0} blocks/s per core", ceiling);
    println!("  raw heed iteration of `blocks`  {:>12.0} blocks/s", raw_rate);
    println!("  dualrun chain scan, {small:>8} blocks {:>9.0} blocks/s   peak RSS {:>7.1} MB", small as f64 / small_run.seconds, small_run.max_rss_kb as f64 / 1024.0);
    println!("  dualrun chain scan, {n:>8} blocks {:>9.0} blocks/s   peak RSS {:>7.1} MB", full_rate, full.max_rss_kb as f64 / 1024.0);
    println!("  scan / hashing ceiling per core used: {:.2} (goal >= 0.5; cores used {cores_used})", full_rate / (ceiling * cores_used));
    println!("  peak RSS {n} / {small} blocks: {:.2}x", full.max_rss_kb as f64 / small_run.max_rss_kb as f64);
    Ok(())
}
