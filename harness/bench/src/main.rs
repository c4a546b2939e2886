//! `dualrun-bench`: benchmarks that print figures (never pass/fail). Each measures the real `dualrun`
//! binary as a child process (wall time, peak RSS from `wait4`) next to ceilings measured in the same
//! run on the same machine, so the figures can be judged without knowing the hardware.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
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
    /// `dualrun replay` on a signed synthetic chain: candidate only, legacy only (the reference Python
    /// legacy) and SHADOW, at `--small` blocks and at the whole chain, with peak RSS.
    Replay {
        #[arg(long, default_value_t = 1_000_000)]
        blocks: u64,
        #[arg(long)]
        chain_dir: Option<PathBuf>,
        /// The shorter replay (heights 0..small).
        #[arg(long, default_value_t = 200_000)]
        small: u64,
        /// Skip the legacy-only and SHADOW runs over the whole chain (they take minutes).
        #[arg(long)]
        quick: bool,
    },
    /// `dualrun leader check` blocks/s and peak RSS on a signed synthetic chain, next to the machine's
    /// Ed25519 `verify_strict` ceiling.
    Leader {
        #[arg(long, default_value_t = 1_000_000)]
        blocks: u64,
        #[arg(long)]
        chain_dir: Option<PathBuf>,
        #[arg(long, default_value_t = 10_000)]
        small: u64,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Bench::Scan { blocks, chain_dir, small } => scan(blocks, chain_dir, small),
        Bench::Leader { blocks, chain_dir, small } => leader(blocks, chain_dir, small),
        Bench::Replay { blocks, chain_dir, small, quick } => replay(blocks, chain_dir, small, quick),
    }
}

fn workspace_target() -> PathBuf {
    std::env::current_exe().ok().and_then(|p| p.parent().map(Path::to_path_buf)).unwrap_or_else(|| PathBuf::from("."))
}

/// A synthetic chain of `blocks`, made once and kept (by a `dualrun chain synth` child, so that this
/// process stays small: children inherit its memory at fork, and their peak RSS would count it).
fn synthetic_chain(blocks: u64, dir: Option<PathBuf>) -> Result<PathBuf> {
    let dir = dir.unwrap_or_else(|| workspace_target().join(format!("bench-chains/synth-v5-{blocks}")));
    if !dir.join("data.mdb").exists() {
        let out = dir.to_str().context("UTF-8 path")?;
        let r = run_dualrun(&["chain", "synth", "--out", out, "--blocks", &blocks.to_string()])?;
        println!("generated {} ({blocks} blocks) in {:.1} s", dir.display(), r.seconds);
    }
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
    /// Peak resident set (wait4's ru_maxrss).
    max_rss_kb: i64,
    /// Peaks of its anonymous and file-backed parts, sampled from /proc every 5 ms: the process's own
    /// memory, and the database (and binary) pages mapped at the time.
    max_anon_kb: u64,
    max_file_kb: u64,
}

impl ChildRun {
    fn memory(&self) -> String {
        format!(
            "peak RSS {:>6.1} MB (anon {:>5.1} MB, file-backed {:>5.1} MB)",
            self.max_rss_kb as f64 / 1024.0,
            self.max_anon_kb as f64 / 1024.0,
            self.max_file_kb as f64 / 1024.0
        )
    }
}

/// Samples RssAnon and RssFile of `pid` until `done`; returns the peaks in kB.
fn sample_memory(pid: u32, done: &std::sync::atomic::AtomicBool) -> (u64, u64) {
    let field = |status: &str, name: &str| -> u64 {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let (mut anon, mut file) = (0, 0);
    while !done.load(std::sync::atomic::Ordering::Relaxed) {
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            anon = anon.max(field(&status, "RssAnon:"));
            file = file.max(field(&status, "RssFile:"));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    (anon, file)
}

/// Runs the dualrun binary with stdout to /dev/null and reports wall time and peak RSS.
fn run_dualrun(args: &[&str]) -> Result<ChildRun> {
    run_dualrun_allowing(args, &[0])
}

fn run_dualrun_allowing(args: &[&str], ok_codes: &[i32]) -> Result<ChildRun> {
    let exe = workspace_target().join("dualrun");
    if !exe.exists() {
        bail!("{} not found: build it first (cargo build --release)", exe.display());
    }
    let start = Instant::now();
    let child = Command::new(&exe).args(args).stdout(Stdio::null()).spawn()?;
    let done = std::sync::atomic::AtomicBool::new(false);
    let mut status = 0;
    // SAFETY: zeroed rusage is valid; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let (pid, seconds, (max_anon_kb, max_file_kb)) = std::thread::scope(|s| {
        let sampler = s.spawn(|| sample_memory(child.id(), &done));
        let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
        let seconds = start.elapsed().as_secs_f64();
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        (pid, seconds, sampler.join().expect("sampler"))
    });
    if pid < 0 || !libc::WIFEXITED(status) || !ok_codes.contains(&libc::WEXITSTATUS(status)) {
        bail!("dualrun {args:?} failed (status {status})");
    }
    Ok(ChildRun { seconds, max_rss_kb: usage.ru_maxrss, max_anon_kb, max_file_kb })
}

fn scan(blocks: u64, chain_dir: Option<PathBuf>, small: u64) -> Result<()> {
    let dir = synthetic_chain(blocks, chain_dir)?;
    let chain = dir.to_str().context("chain path is not UTF-8")?;
    let cores_used = 1.0; // `chain scan` is one thread.

    // The children run first: a child's peak RSS counts what it inherited at fork, so this process
    // must not have the database mapped yet.
    let small_to = (small - 1).to_string();
    let small_run = run_dualrun(&["chain", "scan", "--chain", chain, "--to", &small_to])?;
    let full = run_dualrun(&["chain", "scan", "--chain", chain])?;
    let rate = keccak_rate();
    let calls = keccak_calls_per_block(&dir)?;
    let ceiling = rate / calls;
    let (raw_rate, n) = raw_heed_rate(&dir)?;
    let full_rate = n as f64 / full.seconds;

    println!(
        "chain scan benchmark: {n} blocks (synthetic, schema 5), {} core(s) available",
        std::thread::available_parallelism().map(|p| p.get()).unwrap_or(1)
    );
    println!("  keccak-256, 96-byte inputs      {:>12.0} calls/s (one core)", rate);
    println!("  keccak calls per block (rules)  {:>12.2}", calls);
    println!("  hashing ceiling                 {:>12.0} blocks/s per core", ceiling);
    println!("  raw heed iteration of `blocks`  {:>12.0} blocks/s", raw_rate);
    println!(
        "  dualrun chain scan, {small:>8} blocks {:>9.0} blocks/s   {}",
        small as f64 / small_run.seconds,
        small_run.memory()
    );
    println!("  dualrun chain scan, {n:>8} blocks {:>9.0} blocks/s   {}", full_rate, full.memory());
    println!(
        "  scan / hashing ceiling per core used: {:.2} (goal >= 0.5; cores used {cores_used})",
        full_rate / (ceiling * cores_used)
    );
    println!("  peak RSS {n} / {small} blocks: {:.2}x", full.max_rss_kb as f64 / small_run.max_rss_kb as f64);
    Ok(())
}

/// The bench network: three validators with keys from fixed seeds, round-robin from height 1.
fn bench_profile() -> (String, Vec<ed25519_dalek::SigningKey>) {
    let keys: Vec<ed25519_dalek::SigningKey> = (1..=3)
        .map(|i| ed25519_dalek::SigningKey::from_bytes(&keccak256(format!("dualrun bench leader-{i}").as_bytes()).0))
        .collect();
    let mut text = String::from(
        "[network]\nname = \"bench\"\nnetwork_id = \"62656e63682d6e6574776f726b2d3031\"\n\
         genesis_id = \"418015bb9ae982a1975da7d79277c2705727a56894ba0fb246adaabb1f4632e3\"\n\n\
         [leader]\nactivation_height = 1\nschedule = \"round-robin\"\n",
    );
    for (i, k) in keys.iter().enumerate() {
        text.push_str(&format!(
            "\n[[leader.validators]]\nid = \"leader-{}\"\npublic_key = \"{}\"\n",
            i + 1,
            dualrun_format::Hash32(k.verifying_key().to_bytes())
        ));
    }
    (text, keys)
}

/// A signed synthetic chain of `blocks` (made once and kept, by a child as in [`synthetic_chain`]),
/// and its profile file.
fn signed_chain(blocks: u64, dir: Option<PathBuf>) -> Result<(PathBuf, PathBuf)> {
    let dir = dir.unwrap_or_else(|| workspace_target().join(format!("bench-chains/signed-v5-{blocks}")));
    let profile_path = dir.with_extension("profile.toml");
    let (text, keys) = bench_profile();
    std::fs::create_dir_all(dir.parent().unwrap_or(Path::new(".")))?;
    std::fs::write(&profile_path, &text)?;
    if dir.join("data.mdb").exists() {
        return Ok((dir, profile_path));
    }
    let mut args: Vec<String> =
        ["chain", "synth", "--out", dir.to_str().context("UTF-8 path")?, "--blocks", &blocks.to_string()]
            .map(String::from)
            .to_vec();
    args.extend(["--profile".into(), profile_path.to_str().context("UTF-8 path")?.into()]);
    for (i, k) in keys.into_iter().enumerate() {
        let path = dir.with_extension(format!("leader-{}.key", i + 1));
        if !path.exists() {
            dualrun_leader::keys::KeyFile { id: format!("leader-{}", i + 1), signing_key: k }.write_new(&path)?;
        }
        args.extend(["--key".into(), path.to_str().context("UTF-8 path")?.into()]);
    }
    for (i, kind) in ["missing", "unknown", "not-scheduled", "bad-signature", "malformed"].iter().enumerate() {
        args.extend(["--fault".into(), format!("{}:{kind}", (i as u64 + 1) * blocks / 6)]);
    }
    let r = run_dualrun(&args.iter().map(String::as_str).collect::<Vec<_>>())?;
    println!("generated {} ({blocks} signed blocks) in {:.1} s", dir.display(), r.seconds);
    Ok((dir, profile_path))
}

/// `verify_strict` calls per second on one core, on 65-byte protocol-v1 messages.
fn ed25519_rate() -> f64 {
    use ed25519_dalek::Signer;
    let (_, keys) = bench_profile();
    let sigs: Vec<([u8; 65], ed25519_dalek::Signature)> = (0..64u8)
        .map(|i| {
            let mut m = [i; 65];
            m[..17].copy_from_slice(b"dualrun/leader/v1");
            (m, keys[0].sign(&m))
        })
        .collect();
    let vk = keys[0].verifying_key();
    let mut calls = 0u64;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        for (m, s) in &sigs {
            assert!(vk.verify_strict(m, s).is_ok());
        }
        calls += sigs.len() as u64;
    }
    calls as f64 / start.elapsed().as_secs_f64()
}

fn leader(blocks: u64, chain_dir: Option<PathBuf>, small: u64) -> Result<()> {
    let (dir, profile) = signed_chain(blocks, chain_dir)?;
    let (chain, profile) = (dir.to_str().context("UTF-8 path")?, profile.to_str().context("UTF-8 path")?);
    let cores = std::thread::available_parallelism().map(|p| p.get()).unwrap_or(1);
    let small_to = (small - 1).to_string();
    // Children first (see `scan`); exit 1 is expected: the chain has five faulty blocks.
    let small_run = run_dualrun_allowing(
        &["leader", "check", "--chain", chain, "--profile", profile, "--to", &small_to, "--csv"],
        &[0, 1],
    )?;
    let full = run_dualrun_allowing(&["leader", "check", "--chain", chain, "--profile", profile, "--csv"], &[1])?;
    let rate = ed25519_rate();
    let ceiling = rate * cores as f64;
    let full_rate = blocks as f64 / full.seconds;
    println!("leader check benchmark: {blocks} signed blocks (synthetic, schema 5), {cores} core(s) used");
    println!("  ed25519 verify_strict, one core   {rate:>12.0} verifications/s");
    println!("  ceiling (x {cores} cores)             {ceiling:>12.0} blocks/s");
    println!(
        "  dualrun leader check, {small:>8} blocks {:>9.0} blocks/s   {}",
        small as f64 / small_run.seconds,
        small_run.memory()
    );
    println!("  dualrun leader check, {blocks:>8} blocks {full_rate:>9.0} blocks/s   {}", full.memory());
    println!("  leader check / ceiling: {:.2} (goal >= 0.8)", full_rate / ceiling);
    println!("  peak RSS {blocks} / {small} blocks: {:.2}x", full.max_rss_kb as f64 / small_run.max_rss_kb as f64);
    Ok(())
}

fn replay(blocks: u64, chain_dir: Option<PathBuf>, small: u64, quick: bool) -> Result<()> {
    let (dir, profile) = signed_chain(blocks, chain_dir)?;
    let (chain, profile) = (dir.to_str().context("UTF-8 path")?, profile.to_str().context("UTF-8 path")?);
    let runs_dir = tempfile_dir()?;
    let small_to = (small - 1).to_string();
    let mut rows = Vec::new();
    let mut plan: Vec<(&str, u64)> = vec![("only", small), ("legacy", small), ("shadow", small), ("only", blocks)];
    if !quick {
        plan.extend([("legacy", blocks), ("shadow", blocks)]);
    }
    for (i, (mode, n)) in plan.into_iter().enumerate() {
        let out = runs_dir.join(format!("run-{i}-{mode}-{n}"));
        let out_s = out.to_str().context("UTF-8 path")?.to_owned();
        let mut args = vec!["replay", "--chain", chain, "--profile", profile, "--mode", mode, "--out", &out_s];
        if mode == "only" {
            args.extend(["--candidate", "builtin:leader-v1"]);
        }
        let to_s;
        if n < blocks {
            to_s = small_to.clone();
            args.extend(["--to", &to_s]);
        }
        // The candidate rejects the chain's five faulty blocks: records (exit 1) are expected, except
        // in LEGACY mode, which compares nothing.
        let r = run_dualrun_allowing(&args, &[0, 1])?;
        rows.push((mode, n, n as f64 / r.seconds, r));
        let _ = std::fs::remove_dir_all(&out);
    }
    let cores = std::thread::available_parallelism().map(|p| p.get()).unwrap_or(1);
    let rate = ed25519_rate();
    println!("replay benchmark: signed synthetic chain (schema 5), {cores} core(s); legacy = reference Python legacy (embedded)");
    println!("  ed25519 ceiling: {:.0} verifications/s per core, {:.0} on {cores} cores", rate, rate * cores as f64);
    for (mode, n, bps, r) in &rows {
        println!("  {mode:<7} {n:>8} blocks {bps:>9.0} blocks/s   {}", r.memory());
    }
    let find = |m: &str, n: u64| rows.iter().find(|(mode, k, _, _)| *mode == m && *k == n).map(|r| r.2);
    if let (Some(shadow), Some(legacy)) = (find("shadow", small), find("legacy", small)) {
        println!("  SHADOW / legacy-only at {small}: {:.2} (goal >= 0.9)", shadow / legacy);
    }
    if let Some(only) = find("only", blocks) {
        println!("  candidate-only / Ed25519 ceiling at {blocks}: {:.2}", only / (rate * cores as f64));
    }
    Ok(())
}

fn tempfile_dir() -> Result<PathBuf> {
    let dir = workspace_target().join("bench-runs");
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
