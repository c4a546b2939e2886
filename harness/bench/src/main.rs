//! `dualrun-bench`: benchmarks that print figures (never pass/fail). The chain benchmarks measure the
//! real `dualrun` binary as a child process (wall time, peak RSS from `wait4`) next to ceilings measured
//! in the same run on the same machine, so the figures can be judged without knowing the hardware; the
//! report benchmark times the report library's two steps in this process; the follow benchmark runs a
//! real monerod, the producer and `follow` in this process; the fleet benchmark watches simulated daemons
//! with a real `dualrun fleet` child.

mod finality;
mod fleet;
mod follow_latency;
mod legacy_loop;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use dualrun_core::mode::Source;
use dualrun_core::{ErrorKind, Facts, Mode, RecordClass, ReplayEnv, VerdictKind, VerifierError};
use dualrun_format::{keccak256, Block};
use dualrun_rundir::{Authoritative, Inputs, Manifest, Record, RunWriter, Side, Stats, Summary};
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
    /// `dualrun leader finality` on a signed synthetic chain with four validators voting for every block,
    /// next to the Ed25519 `verify_strict` ceiling.
    Finality {
        #[arg(long, default_value_t = 100_000)]
        blocks: u64,
        #[arg(long)]
        chain_dir: Option<PathBuf>,
    },
    /// `dualrun report`'s HTML page of synthetic SHADOW runs (written through the run directory's own
    /// writer: mixed classes, real-sized blobs and envs): the time to gather a run (read it, check its
    /// digests, parse its records) and to render the page, and the page's size.
    Report {
        /// Records of each run (comma-separated).
        #[arg(long, value_delimiter = ',', default_value = "10,10000,100000")]
        records: Vec<u64>,
        /// Where the run directories are made (replaced at each run of the benchmark).
        #[arg(long)]
        runs_dir: Option<PathBuf>,
    },
    /// `dualrun follow` against a real monerod while blocks are made at its full rate: the time from a
    /// block becoming the tip to its records being durable, p50/p99, with polling and with ZMQ notices,
    /// and whether follow keeps up.
    FollowLatency {
        /// Blocks made in each scenario.
        #[arg(long, default_value_t = 200)]
        blocks: u64,
        /// follow's poll interval, in milliseconds.
        #[arg(long, default_value_t = 250)]
        poll_ms: u64,
    },
    /// `dualrun fleet` watching simulated daemons: its CPU share while idle (per node) and the time from
    /// a split appearing to its record.
    Fleet {
        /// Simulated daemons.
        #[arg(long, default_value_t = 50)]
        nodes: usize,
        /// fleet's poll interval, in milliseconds.
        #[arg(long, default_value_t = 1000)]
        poll_ms: u64,
        /// How long the idle stretch measured lasts.
        #[arg(long, default_value_t = 30)]
        idle_seconds: u64,
        /// Splits made (and healed) for the latency.
        #[arg(long, default_value_t = 10)]
        splits: usize,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Bench::Scan { blocks, chain_dir, small } => scan(blocks, chain_dir, small),
        Bench::Leader { blocks, chain_dir, small } => leader(blocks, chain_dir, small),
        Bench::Replay { blocks, chain_dir, small, quick } => replay(blocks, chain_dir, small, quick),
        Bench::Report { records, runs_dir } => report(&records, runs_dir),
        Bench::Finality { blocks, chain_dir } => finality::finality(blocks, chain_dir),
        Bench::FollowLatency { blocks, poll_ms } => follow_latency::follow_latency(blocks, poll_ms),
        Bench::Fleet { nodes, poll_ms, idle_seconds, splits } => fleet::fleet(nodes, poll_ms, idle_seconds, splits),
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

/// Keccak-256 calls per second on one core through dualrun's one hashing function
/// ([`dualrun_format::keccak256`]), on 96-byte inputs: one Keccak-f permutation each (an input under
/// Keccak's 136-byte rate).
fn keccak_rate() -> f64 {
    hash_rate(|b| keccak256(b).0)
}

/// The same through RustCrypto's `sha3` (portable Rust), for comparison.
fn sha3_rate() -> f64 {
    use sha3::Digest;
    hash_rate(|b| sha3::Keccak256::digest(b).into())
}

/// Calls per second of `hash` on one core, on 96-byte inputs, each input made from the last output.
fn hash_rate(hash: impl Fn(&[u8]) -> [u8; 32]) -> f64 {
    let mut buf = [7u8; 96];
    let mut calls = 0u64;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(2) {
        for _ in 0..10_000 {
            let h = hash(&buf);
            buf[..8].copy_from_slice(&h[..8]);
        }
        calls += 10_000;
    }
    std::hint::black_box(buf);
    calls as f64 / start.elapsed().as_secs_f64()
}

/// A per-core rate measured on every core at once, summed: what the machine's cores really deliver
/// together. On a virtual machine two vCPUs may share one physical core (`openssl speed -multi 2`
/// shows it), so cores × one core's rate is a ceiling no program reaches there.
fn all_cores(rate: fn() -> f64) -> f64 {
    let cores = std::thread::available_parallelism().map_or(1, |p| p.get());
    std::thread::scope(|s| {
        let runs: Vec<_> = (0..cores).map(|_| s.spawn(rate)).collect();
        runs.into_iter().map(|r| r.join().expect("a rate loop does not panic")).sum()
    })
}

/// Keccak-f[1600] permutations a block's id needs, averaged over the chain: one per 136-byte rate block
/// of each input (`len / 136 + 1`, the padding included) — the miner tx's first hash (v2: its prefix; v1:
/// the whole transaction), v2's hash of the three hashes (96 bytes; a null RingCT base's hash is a
/// constant), the tree over n = tx count + 1 leaves (n − 1 hashes of 64 bytes), and the hashing blob.
/// A 96-byte Keccak call (the rate measured) is one permutation.
fn keccak_permutations_per_block(dir: &Path) -> Result<f64> {
    let db = dualrun_chaindb::ChainDb::open(dir)?;
    let txn = db.read_txn()?;
    let permutations = |len: usize| (len / 136 + 1) as u64;
    let (mut total, mut blocks) = (0u64, 0u64);
    for raw in db.blocks(&txn, 0, u64::MAX)? {
        let raw = raw?;
        let b = Block::parse(raw.blob)?;
        let tx = &b.miner_tx;
        total += if tx.version == 1 {
            permutations(tx.range.len())
        } else {
            let base = &raw.blob[tx.prefix_range.end..tx.range.end];
            permutations(tx.prefix_range.len()) + 1 + u64::from(base != [0u8]) * permutations(base.len())
        };
        total += b.tx_count() as u64 + permutations(b.header_bytes().len() + 32 + 10);
        blocks += 1;
    }
    Ok(total as f64 / blocks as f64)
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

/// Samples RssAnon and RssFile of `pid` and its descendants (summed) until `done`; returns the peaks in
/// kB.
fn sample_memory(pid: u32, done: &std::sync::atomic::AtomicBool) -> (u64, u64) {
    let field = |status: &str, name: &str| -> u64 {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    // The process and its children: a replay with a `python:` legacy runs in a watched child.
    let tree = |pid: u32| -> Vec<u32> {
        let mut pids = vec![pid];
        let mut i = 0;
        while i < pids.len() {
            let children = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", pids[i])).unwrap_or_default();
            pids.extend(children.split_whitespace().filter_map(|c| c.parse::<u32>().ok()));
            i += 1;
        }
        pids
    };
    let (mut anon, mut file) = (0, 0);
    while !done.load(std::sync::atomic::Ordering::Relaxed) {
        let (mut tree_anon, mut tree_file) = (0, 0);
        for p in tree(pid) {
            if let Ok(status) = std::fs::read_to_string(format!("/proc/{p}/status")) {
                tree_anon += field(&status, "RssAnon:");
                tree_file += field(&status, "RssFile:");
            }
        }
        (anon, file) = (anon.max(tree_anon), file.max(tree_file));
        std::thread::sleep(Duration::from_millis(5));
    }
    (anon, file)
}

/// The fastest of `n` runs.
fn fastest(n: usize, mut run: impl FnMut() -> Result<ChildRun>) -> Result<ChildRun> {
    let mut best: Option<ChildRun> = None;
    for _ in 0..n {
        let r = run()?;
        if best.as_ref().is_none_or(|b| r.seconds < b.seconds) {
            best = Some(r);
        }
    }
    best.context("no run")
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
    // `chain scan` hashes on every core (the calling thread reads and writes the rows).
    let cores_used = std::thread::available_parallelism().map_or(1, |p| p.get()) as f64;

    // The children run first: a child's peak RSS counts what it inherited at fork, so this process
    // must not have the database mapped yet.
    let small_to = (small - 1).to_string();
    let small_run = fastest(3, || run_dualrun(&["chain", "scan", "--chain", chain, "--to", &small_to]))?;
    // This VM's speed drifts by tens of percent over minutes: the scan and the ceilings it is compared
    // with are measured in alternation, three rounds, best of each.
    let (mut full, mut rate, mut together, mut portable) = (None::<ChildRun>, 0f64, 0f64, 0f64);
    for _ in 0..3 {
        let run = run_dualrun(&["chain", "scan", "--chain", chain])?;
        if full.as_ref().is_none_or(|f| run.seconds < f.seconds) {
            full = Some(run);
        }
        rate = rate.max(keccak_rate());
        together = together.max(all_cores(keccak_rate));
        portable = portable.max(sha3_rate());
    }
    let full = full.context("three rounds ran")?;
    let permutations = keccak_permutations_per_block(&dir)?;
    let ceiling = rate / permutations;
    let (raw_rate, n) = raw_heed_rate(&dir)?;
    let full_rate = n as f64 / full.seconds;

    println!(
        "chain scan benchmark: {n} blocks (synthetic, schema 5), {} core(s) available",
        std::thread::available_parallelism().map(|p| p.get()).unwrap_or(1)
    );
    println!("  keccak-256, 96-byte inputs      {:>12.0} calls/s (one core; one permutation each)", rate);
    println!(
        "  the same through sha3 (portable) {:>11.0} calls/s ({:.2} x; dualrun's is {})",
        portable,
        portable / rate,
        dualrun_format::KECCAK_IMPLEMENTATION
    );
    println!("  keccak permutations per block   {:>12.2}", permutations);
    println!("  hashing ceiling                 {:>12.0} blocks/s per core", ceiling);
    println!(
        "  hashing ceiling, every core     {:>12.0} blocks/s (measured together: {:.2} x one core)",
        together / permutations,
        together / rate
    );
    println!("  raw heed iteration of `blocks`  {:>12.0} blocks/s", raw_rate);
    println!(
        "  dualrun chain scan, {small:>8} blocks {:>9.0} blocks/s   {}",
        small as f64 / small_run.seconds,
        small_run.memory()
    );
    println!(
        "  dualrun chain scan, {n:>8} blocks {:>9.0} blocks/s   {} (best of 3 rounds, alternating with the ceilings)",
        full_rate,
        full.memory()
    );
    println!("  scan / nominal ceiling (one core x {cores_used} cores): {:.2}", full_rate / (ceiling * cores_used));
    println!(
        "  scan / ceiling of every core measured together: {:.2} (goal >= 0.8)",
        full_rate / (together / permutations)
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
            dualrun_keys::KeyFile { id: format!("leader-{}", i + 1), signing_key: k }.write_new(&path)?;
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
    let small_run =
        run_dualrun_allowing(&["leader", "check", "--chain", chain, "--profile", profile, "--to", &small_to], &[0, 1])?;
    let full = run_dualrun_allowing(&["leader", "check", "--chain", chain, "--profile", profile], &[1])?;
    let full_rate = blocks as f64 / full.seconds;
    // This VM's speed drifts by tens of percent over minutes: the ratios compare `leader check` and a
    // candidate-only replay (the same judging, into a run directory) of the first `ratio_blocks` with the
    // ceilings, all measured in alternation, three rounds, best of each.
    let ratio_blocks = blocks.min(200_000);
    let ratio_to = (ratio_blocks - 1).to_string();
    let runs_dir = tempfile_dir()?;
    let (mut checked, mut replayed, mut rate, mut together) = (0f64, 0f64, 0f64, 0f64);
    for round in 0..3 {
        let args = ["leader", "check", "--chain", chain, "--profile", profile, "--to", &ratio_to];
        checked = checked.max(ratio_blocks as f64 / run_dualrun_allowing(&args, &[0, 1])?.seconds);
        let out = runs_dir.join(format!("only-{round}"));
        let out_s = out.to_str().context("UTF-8 path")?;
        let args = ["replay", "--chain", chain, "--profile", profile, "--mode", "only", "--candidate"];
        let args = [&args[..], &["builtin:leader-v1", "--to", &ratio_to, "--out", out_s]].concat();
        replayed = replayed.max(ratio_blocks as f64 / run_dualrun_allowing(&args, &[0, 1])?.seconds);
        let _ = std::fs::remove_dir_all(&out);
        rate = rate.max(ed25519_rate());
        together = together.max(all_cores(ed25519_rate));
    }
    let ceiling = rate * cores as f64;
    println!("leader check benchmark: {blocks} signed blocks (synthetic, schema 5), {cores} core(s) used");
    println!("  ed25519 verify_strict, one core   {rate:>12.0} verifications/s");
    println!("  ceiling (x {cores} cores)             {ceiling:>12.0} blocks/s");
    println!(
        "  dualrun leader check, {small:>8} blocks {:>9.0} blocks/s   {}",
        small as f64 / small_run.seconds,
        small_run.memory()
    );
    println!("  dualrun leader check, {blocks:>8} blocks {full_rate:>9.0} blocks/s   {}", full.memory());
    println!(
        "  every core, measured together     {together:>12.0} verifications/s ({:.2} x one core)",
        together / rate
    );
    println!("  dualrun leader check, {ratio_blocks:>8} blocks {checked:>9.0} blocks/s   (best of 3 rounds, alternating with the ceilings)");
    println!("  candidate-only replay, {ratio_blocks:>7} blocks {replayed:>9.0} blocks/s   (the same rounds)");
    println!("  leader check / nominal ceiling (one core x {cores}): {:.2}", checked / ceiling);
    println!("  leader check / every core measured together: {:.2} (goal >= 0.9)", checked / together);
    println!("  candidate-only replay / nominal ceiling: {:.2}", replayed / ceiling);
    println!("  candidate-only replay / every core measured together: {:.2} (goal >= 0.9)", replayed / together);
    println!("  peak RSS {blocks} / {small} blocks: {:.2}x", full.max_rss_kb as f64 / small_run.max_rss_kb as f64);
    Ok(())
}

fn replay(blocks: u64, chain_dir: Option<PathBuf>, small: u64, quick: bool) -> Result<()> {
    let (dir, profile) = signed_chain(blocks, chain_dir)?;
    let (chain, profile) = (dir.to_str().context("UTF-8 path")?, profile.to_str().context("UTF-8 path")?);
    let runs_dir = tempfile_dir()?;
    let small_to = (small - 1).to_string();
    let mut rows = Vec::new();
    // Candidate-only at `small` is measured below, in the rounds that set its ratio.
    let mut plan: Vec<(&str, u64)> = vec![("legacy", small), ("shadow", small), ("only", blocks)];
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
    // The candidate-only ratio: replays of `small` blocks and the ceilings measured in alternation, three
    // rounds, best of each (this VM's speed drifts by tens of percent over minutes).
    let (mut only_runs, mut rate, mut together) = (Vec::new(), 0f64, 0f64);
    for round in 0..3 {
        let out = runs_dir.join(format!("only-round-{round}"));
        let out_s = out.to_str().context("UTF-8 path")?.to_owned();
        let args =
            ["replay", "--chain", chain, "--profile", profile, "--mode", "only", "--candidate", "builtin:leader-v1"];
        let args = [&args[..], &["--to", &small_to, "--out", &out_s]].concat();
        only_runs.push(run_dualrun_allowing(&args, &[0, 1])?);
        let _ = std::fs::remove_dir_all(&out);
        rate = rate.max(ed25519_rate());
        together = together.max(all_cores(ed25519_rate));
    }
    let fastest_only =
        only_runs.into_iter().min_by(|a, b| a.seconds.total_cmp(&b.seconds)).context("three rounds ran")?;
    let only = small as f64 / fastest_only.seconds;
    rows.insert(0, ("only", small, only, fastest_only));
    println!("replay benchmark: signed synthetic chain (schema 5), {cores} core(s); legacy = reference Python legacy (embedded)");
    println!(
        "  ed25519 ceiling: {:.0} verifications/s per core, {:.0} x {cores} cores, {together:.0} measured on every core together",
        rate,
        rate * cores as f64
    );
    for (mode, n, bps, r) in &rows {
        println!("  {mode:<7} {n:>8} blocks {bps:>9.0} blocks/s   {}", r.memory());
    }
    let find = |m: &str, n: u64| rows.iter().find(|(mode, k, _, _)| *mode == m && *k == n).map(|r| r.2);
    if let (Some(shadow), Some(legacy)) = (find("shadow", small), find("legacy", small)) {
        println!("  SHADOW / legacy-only at {small}: {:.2} (goal >= 0.9)", shadow / legacy);
    }
    println!("  candidate-only, {small} blocks, best of 3 rounds alternating with the ceilings: {only:.0} blocks/s");
    println!("  candidate-only / nominal Ed25519 ceiling (one core x {cores}): {:.2}", only / (rate * cores as f64));
    println!("  candidate-only / every core measured together: {:.2} (goal >= 0.9)", only / together);
    // This VM's speed drifts by tens of percent over minutes: the legacy-only replay and the bare loops it
    // is compared with are measured in alternation, three rounds, best of each.
    let n = small.min(100_000);
    let bare_loop = legacy_loop::BareLoop::prepare(&dir, n, &runs_dir)?;
    let (mut legacy, mut bare, mut embedded) = (0f64, 0f64, 0f64);
    for round in 0..3 {
        let out = runs_dir.join(format!("legacy-round-{round}"));
        let (out_s, to) = (out.to_str().context("UTF-8 path")?.to_owned(), (n - 1).to_string());
        let args = ["replay", "--chain", chain, "--profile", profile, "--mode", "legacy", "--to", &to, "--out", &out_s];
        let r = run_dualrun_allowing(&args, &[0])?;
        let _ = std::fs::remove_dir_all(&out);
        legacy = legacy.max(n as f64 / r.seconds);
        bare = bare.max(bare_loop.executable_rate()?);
        embedded = embedded.max(bare_loop.embedded_rate()?);
    }
    println!("  legacy-only replay, {n} blocks, best of 3 rounds: {legacy:.0} blocks/s");
    println!("  bare Python loop calling the reference legacy:   {bare:.0} blocks/s (/usr/bin/python3.11, one core)");
    println!("  the same loop in the embedded interpreter:       {embedded:.0} blocks/s (libpython3.11.so, one core)");
    println!("  legacy-only / bare loop: {:.2} (goal >= 0.9)", legacy / bare);
    println!(
        "  legacy-only / the same loop embedded: {:.2} (what is left is the adapter's own cost)",
        legacy / embedded
    );
    Ok(())
}

fn tempfile_dir() -> Result<PathBuf> {
    let dir = workspace_target().join("bench-runs");
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// A small deterministic generator (xorshift64*): the synthetic runs are the same at every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// In `lo..hi`.
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.next() as usize % items.len()]
    }
}

/// Record classes of the synthetic runs and their weights (a SHADOW run has no fallback).
const REPORT_CLASSES: [(RecordClass, u64); 7] = [
    (RecordClass::Halt, 35),
    (RecordClass::Split, 20),
    (RecordClass::Reason, 15),
    (RecordClass::Fact, 10),
    (RecordClass::LegacyError, 8),
    (RecordClass::CandidateError, 7),
    (RecordClass::StoredIdMismatch, 5),
];
const LEGACY_REASONS: [&str; 4] =
    ["block.timestamp_too_old", "block.prev_mismatch", "tx.bad_miner_tx", "block.too_big"];
const CANDIDATE_REASONS: [&str; 5] =
    ["leader.missing", "leader.unknown", "leader.not_scheduled", "leader.bad_signature", "leader.malformed"];
/// Blocks of a synthetic run per record.
const BLOCKS_PER_RECORD: u64 = 3;

/// A class drawn with [`REPORT_CLASSES`]' weights.
fn class_of(rng: &mut Rng) -> RecordClass {
    let mut w = rng.between(0, REPORT_CLASSES.iter().map(|c| c.1).sum());
    for (class, weight) in REPORT_CLASSES {
        if w < weight {
            return class;
        }
        w -= weight;
    }
    RecordClass::Halt
}

/// The sides and the verdict that stood for a record of `class` in SHADOW, as the pipeline decides them.
fn synthetic_sides(class: RecordClass, rng: &mut Rng, id: &str, height: u64) -> (Side, Side, Authoritative) {
    let facts = |extra: &[(&str, String)]| -> Facts {
        let mut f: Facts = [("block_id".to_owned(), id.to_owned())].into();
        f.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        f
    };
    let accept = |facts: Facts| Side::Verdict {
        verdict: VerdictKind::Accept,
        reason: String::new(),
        detail: String::new(),
        facts,
    };
    let reject = |reason: &str, detail: String, facts: Facts| Side::Verdict {
        verdict: VerdictKind::Reject,
        reason: reason.to_owned(),
        detail,
        facts,
    };
    let legacy_reason = rng.pick(&LEGACY_REASONS);
    let candidate_reason = rng.pick(&CANDIDATE_REASONS);
    let signer = [
        ("leader_id", format!("leader-{}", height % 3 + 1)),
        ("signing_hash", hex::encode(keccak256(id.as_bytes()).0)),
    ];
    let stood = |verdict: VerdictKind, reason: &str, source: Source| Authoritative {
        verdict,
        reason: reason.to_owned(),
        source,
    };
    let legacy_stood = |legacy: &Side| match legacy {
        Side::Verdict { verdict, reason, .. } => stood(*verdict, reason, Source::Legacy),
        _ => stood(VerdictKind::Reject, "", Source::FailClosed),
    };
    let (legacy, candidate) = match class {
        RecordClass::Halt => (
            accept(facts(&[])),
            reject(candidate_reason, format!("{candidate_reason} at height {height}"), facts(&signer)),
        ),
        RecordClass::Split => (reject(legacy_reason, String::new(), facts(&[])), accept(facts(&signer))),
        RecordClass::Reason => (
            reject(legacy_reason, String::new(), facts(&[])),
            reject(candidate_reason, format!("{candidate_reason} at height {height}"), facts(&signer)),
        ),
        RecordClass::Fact => (
            accept(facts(&[("miner_tx_hash", hex::encode(keccak256(&height.to_le_bytes()).0))])),
            accept(facts(&[("miner_tx_hash", hex::encode(keccak256(&rng.next().to_le_bytes()).0))])),
        ),
        RecordClass::LegacyError => {
            let message = format!(
                "Traceback (most recent call last):\n  File \"/opt/legacy/verify.py\", line 212, in verify_block\n    \
                 check_outputs(block)\nValueError: output amount overflow at height {height}"
            );
            (Side::Error { error: VerifierError::new(ErrorKind::Crash, message) }, accept(facts(&signer)))
        }
        RecordClass::CandidateError => (
            accept(facts(&[])),
            Side::Error { error: VerifierError::new(ErrorKind::Timeout, "no answer within 10000 ms") },
        ),
        _ => (accept(facts(&[])), accept(facts(&signer))),
    };
    let authoritative = legacy_stood(&legacy);
    (legacy, candidate, authoritative)
}

/// One record at `height`, looking like a real one: a ~300-byte blob, an env with 60 timestamps, a
/// reproduce line.
fn synthetic_record(height: u64, class: RecordClass, rng: &mut Rng, reproduce_prefix: &str, out: &Path) -> Record {
    let mut blob = Vec::with_capacity(320);
    blob.extend_from_slice(&[0x10, 0x10]);
    while blob.len() < 300 + (height % 17) as usize {
        blob.extend_from_slice(&rng.next().to_le_bytes());
    }
    let block_id = keccak256(&blob);
    let now = 1_795_000_000 + height * 120;
    let before = height.min(60);
    let env = ReplayEnv {
        now,
        network_name: "dualrun-bench-report".into(),
        network_id: "62656e63682d7265706f72742d303031".into(),
        genesis_id: keccak256(b"dualrun bench genesis"),
        activation_height: 61,
        prev_id: (height > 0).then(|| keccak256(&(height - 1).to_le_bytes())),
        timestamps: (0..before).map(|i| now - (before - i) * 120 + rng.between(0, 30)).collect(),
    };
    let id = block_id.to_string();
    let (legacy, candidate, authoritative) = synthetic_sides(class, rng, &id, height);
    Record {
        height,
        block_id,
        class,
        mode: Mode::Shadow,
        legacy,
        candidate,
        authoritative,
        differing_facts: if class == RecordClass::Fact { vec!["miner_tx_hash".into()] } else { vec![] },
        stored_id: (class == RecordClass::StoredIdMismatch).then(|| keccak256(&rng.next().to_le_bytes())),
        second_answer: None,
        env,
        blob: hex::encode(&blob),
        reproduce: format!(
            "{reproduce_prefix} --from {height} --to {height} --out {}",
            out.with_file_name(format!("reproduce-{height}")).display()
        ),
    }
}

/// A finished SHADOW run of `records` records over `BLOCKS_PER_RECORD` times as many blocks, written in
/// `dir` as a replay writes it: records appended, a checkpoint every 8192 blocks, then the summary and
/// the manifest with its digests. Returns the size of `divergences.jsonl`.
fn synthetic_run(dir: &Path, records: u64) -> Result<u64> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    let blocks = (records * BLOCKS_PER_RECORD).max(100);
    let chain = dir.with_file_name("report-chain");
    let profile = chain.join("profile.toml");
    // From JSON, so that inputs a replay of a fixed range leaves out keep their defaults.
    let inputs: Inputs = serde_json::from_value(serde_json::json!({
        "chain": { "path": chain, "schema_version": 5, "genesis_id": keccak256(b"dualrun bench genesis"),
                   "from": 0, "to": blocks - 1, "blocks": blocks, "chain_digest": keccak256(&blocks.to_le_bytes()) },
        "profile": { "path": profile, "digest": keccak256(b"profile"), "network": "dualrun-bench-report" },
        "mode": "shadow",
        "legacy": { "spec": "python:dualrun_legacy", "description": "dualrun reference legacy 1.0",
                    "files": { "dualrun_legacy.py": keccak256(b"legacy").to_string() } },
        "candidate": { "spec": "builtin:leader-v1", "description": "dualrun built-in leader-v1", "files": {} },
        "env": { "now": "block" },
        "settings": { "python_path": [], "reason_map": null, "timeout_seconds": 30.0 },
    }))?;
    let mut manifest = Manifest::new(inputs, chain.join("data.mdb"), 1_795_000_000);
    let mut writer = RunWriter::create(dir, &manifest)?;
    let reproduce_prefix = format!(
        "dualrun replay --chain {} --profile {} --legacy 'python:dualrun_legacy' --candidate 'builtin:leader-v1' \
         --mode shadow --now block",
        chain.display(),
        profile.display()
    );
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ records);
    let mut stats = Stats { sessions: 1, elapsed_ms: blocks / 3, ..Stats::default() };
    for height in 0..blocks {
        stats.blocks += 1;
        let mut accepted = true;
        let (legacy_us, candidate_us) = (rng.between(80, 520), rng.between(5, 36));
        if height % BLOCKS_PER_RECORD == 1 && height / BLOCKS_PER_RECORD < records {
            let class = class_of(&mut rng);
            let record = synthetic_record(height, class, &mut rng, &reproduce_prefix, dir);
            accepted = record.authoritative.verdict == VerdictKind::Accept;
            writer.write(&record)?;
            stats.add(class);
        }
        let (legacy, candidate) = (Duration::from_micros(legacy_us), Duration::from_micros(candidate_us));
        stats.legacy_latency.record(legacy);
        stats.candidate_latency.record(candidate);
        let verdict = if accepted { VerdictKind::Accept } else { VerdictKind::Reject };
        writer.timing(&dualrun_rundir::Timing::of(height, Some(legacy), Some(candidate), verdict))?;
        if accepted {
            stats.authoritative_accept += 1;
        } else {
            stats.authoritative_reject += 1;
        }
        if (height + 1) % 8192 == 0 {
            writer.checkpoint(height + 1, &stats, false)?;
        }
    }
    writer.checkpoint(blocks, &stats, false)?;
    let summary = Summary::from_stats(Mode::Shadow, 0, blocks - 1, &stats, true, blocks);
    manifest.complete = true;
    writer.finish(&summary, manifest)?;
    writer.checkpoint(blocks, &stats, true)?;
    Ok(std::fs::metadata(dir.join(dualrun_rundir::files::JSONL))?.len())
}

fn report(sizes: &[u64], runs_dir: Option<PathBuf>) -> Result<()> {
    let base = match runs_dir {
        Some(d) => d,
        None => tempfile_dir()?,
    };
    std::fs::create_dir_all(&base)?;
    println!(
        "report benchmark: synthetic SHADOW runs (mixed classes, ~300-byte blobs, 60-timestamp envs, a timings.csv \
         line per block), one thread; goal at 100000 records: <= 3 s and <= 15 MB"
    );
    println!("   records  gather ms  render ms  total s  HTML MB   (jsonl MB, made in)");
    for &n in sizes {
        let dir = base.join(format!("report-{n}"));
        let made = Instant::now();
        let jsonl = synthetic_run(&dir, n)?;
        let made = made.elapsed().as_secs_f64();
        let start = Instant::now();
        let report = dualrun_report::Report::gather(std::slice::from_ref(&dir), None);
        let gathered = start.elapsed();
        let html = dualrun_report::render::html(&report)?;
        let total = start.elapsed();
        if !report.banner.problems.is_empty() || report.runs[0].records_total as u64 != n {
            bail!("{}: the report does not read the run as written: {:?}", dir.display(), report.banner.problems);
        }
        std::fs::write(dir.join("report.html"), &html)?;
        println!(
            "  {n:>8} {:>10.0} {:>10.0} {:>8.2} {:>8.2}   ({:.1} MB, {made:.1} s)",
            gathered.as_secs_f64() * 1e3,
            (total - gathered).as_secs_f64() * 1e3,
            total.as_secs_f64(),
            html.len() as f64 / 1e6,
            jsonl as f64 / 1e6,
        );
    }
    Ok(())
}
