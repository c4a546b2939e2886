//! `dualrun leader …`: judge a chain under protocol v1, and produce leader-signed blocks on a daemon.

use std::io::Write;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use clap::{Args, Subcommand};
use dualrun_adapters::leader_check::{self, CheckRequest};
use dualrun_format::Hash32;
use dualrun_leader::finality::VoteFault;
use dualrun_leader::keys::KeyFile;
use dualrun_leader::testchain::{self, FaultKind};
use dualrun_leader::Profile;
use dualrun_monerod::{Compete, Daemon, ProduceRequest, Producer};
use dualrun_pipeline::NowMode;
use indicatif::{ProgressBar, ProgressStyle};

use crate::chain_arg::{threads, ChainArg};
use crate::Outcome;

/// `HEIGHT:KIND` on the command line: a faulty block, or a fault in the committee's votes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fault {
    height: u64,
    kind: AnyFault,
}

#[derive(Debug, Clone, Copy)]
enum AnyFault {
    Block(FaultKind),
    Votes(VoteFault),
}

impl FromStr for Fault {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (h, k) = s.split_once(':').ok_or_else(|| format!("expected HEIGHT:KIND, got {s:?}"))?;
        let height = h.parse().map_err(|_| format!("bad height {h:?} in {s:?}"))?;
        let kind = match k.parse::<VoteFault>() {
            Ok(v) => AnyFault::Votes(v),
            Err(_) => AnyFault::Block(testchain::parse_fault(s).map_err(|e| e.to_string())?.1),
        };
        Ok(Fault { height, kind })
    }
}

/// `HEIGHT:KIND` for `--compete`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CompeteArg {
    height: u64,
    kind: Compete,
}

impl FromStr for CompeteArg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (h, k) = s.split_once(':').ok_or_else(|| format!("expected HEIGHT:KIND, got {s:?}"))?;
        let height = h.parse().map_err(|_| format!("bad height {h:?} in {s:?}"))?;
        Ok(CompeteArg { height, kind: k.parse::<Compete>().map_err(|e| e.to_string())? })
    }
}

#[derive(Subcommand)]
pub(crate) enum LeaderCommand {
    /// Judges every block of a chain under protocol v1: CSV `height,block_id,verdict,reason,leader_id`.
    Check(CheckArgs),
    /// The leader block producer: signs and submits blocks to a daemon, confirming each became the tip.
    Produce(ProduceArgs),
    /// Judges every main-chain block against finality votes: CSV `height,block_id,votes,required,verdict,reason`,
    /// each block's row followed by the findings at its height.
    Finality(FinalityArgs),
    /// The competing blocks the node keeps (`alt_blocks`) and fork choice among each height's siblings:
    /// CSV `height,block_id,parent_id,main_chain,verdict,reason,rank,canonical`.
    Forks(ForksArgs),
}

#[derive(Args)]
pub(crate) struct ForksArgs {
    #[command(flatten)]
    chain: ChainArg,
    /// The network profile (TOML). Default: the bundled sample's, when --chain is not given.
    #[arg(long, value_name = "FILE")]
    profile: Option<PathBuf>,
    /// CSV output (the only format; accepted for scripts that say so).
    #[arg(long)]
    csv: bool,
}

#[derive(Args)]
pub(crate) struct FinalityArgs {
    #[command(flatten)]
    chain: ChainArg,
    /// The network profile (TOML), with `[leader.finality]`.
    #[arg(long, value_name = "FILE")]
    profile: Option<PathBuf>,
    /// A votes file (JSON lines); repeat for several.
    #[arg(long = "votes", value_name = "FILE", required = true, num_args = 1..)]
    votes: Vec<PathBuf>,
    /// First height (default: the finality activation height).
    #[arg(long, value_name = "H")]
    from: Option<u64>,
    /// Last height (inclusive; default: the tip).
    #[arg(long, value_name = "H")]
    to: Option<u64>,
    /// CSV output (the only format; accepted for scripts that say so).
    #[arg(long)]
    csv: bool,
    /// Write each equivocation, with both votes, as JSON lines.
    #[arg(long, value_name = "FILE")]
    evidence: Option<PathBuf>,
    /// Worker threads for the signature checks (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
}

#[derive(Args)]
pub(crate) struct CheckArgs {
    #[command(flatten)]
    chain: ChainArg,
    /// The network profile (TOML). Default: the bundled sample's, when --chain is not given.
    #[arg(long, value_name = "FILE")]
    profile: Option<PathBuf>,
    /// First height.
    #[arg(long, value_name = "H", default_value_t = 0)]
    from: u64,
    /// Last height (inclusive; default: the tip).
    #[arg(long, value_name = "H")]
    to: Option<u64>,
    /// `block` (each block's own timestamp) or `fixed:UNIX`.
    #[arg(long, default_value = "block")]
    now: NowMode,
    /// CSV output (the only format; accepted for scripts that say so).
    #[arg(long)]
    csv: bool,
    /// Worker threads for parsing, hashing and signature checks (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
}

#[derive(Args)]
pub(crate) struct ProduceArgs {
    /// The daemon's RPC base URL, e.g. http://127.0.0.1:18081.
    #[arg(long, value_name = "URL")]
    daemon: String,
    /// The network profile (TOML).
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
    #[arg(long, default_value = dualrun_monerod::REGTEST_ADDRESS)]
    wallet_address: String,
    /// Build a faulty block at HEIGHT on purpose: missing, unknown, not-scheduled, bad-signature, malformed;
    /// or fault the committee's votes for it: vote-missing, vote-bad-sig, equivocation.
    #[arg(long = "fault", value_name = "HEIGHT:KIND")]
    faults: Vec<Fault>,
    /// Submit a competing block at HEIGHT: same-leader (a second block by the scheduled leader, submitted
    /// second) or failover (the rank-1 validator's block submitted first, then the scheduled leader's).
    #[arg(long = "compete", value_name = "HEIGHT:KIND")]
    competes: Vec<CompeteArg>,
    /// Write the committee's finality votes (every --key votes for every block it produces) as JSON lines.
    #[arg(long, value_name = "FILE")]
    votes: Option<PathBuf>,
    /// Write each produced block's expected verdict as CSV (`height,block_id,verdict,reason,leader_id`).
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
    /// How long to wait for the daemon to answer at start.
    #[arg(long, default_value_t = 60)]
    wait_seconds: u64,
}

pub(crate) fn run(cmd: LeaderCommand) -> Result<Outcome> {
    match cmd {
        LeaderCommand::Check(a) => check(a),
        LeaderCommand::Produce(a) => produce(a),
        LeaderCommand::Finality(a) => finality(a),
        LeaderCommand::Forks(a) => forks(a),
    }
}

fn forks(a: ForksArgs) -> Result<Outcome> {
    let profile = Profile::load(&a.chain.profile(a.profile.as_deref())?)?;
    let (db, _) = a.chain.open()?;
    let rows = dualrun_adapters::leader_forks::forks(&db, &profile)?;
    let out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(out);
    // The header even when there is no row: a script reads an empty table, not nothing.
    w.write_record(["height", "block_id", "parent_id", "main_chain", "verdict", "reason", "rank", "canonical"])?;
    for row in &rows {
        w.serialize(row)?;
    }
    w.flush()?;
    Ok(Outcome::clean_if(rows.iter().all(|r| r.verdict != "finding")))
}

fn finality(a: FinalityArgs) -> Result<Outcome> {
    let profile = Profile::load(&a.chain.profile(a.profile.as_deref())?)?;
    let Some(rule) = profile.finality else {
        anyhow::bail!(
            "{}: no [leader.finality] table: the profile does not say what makes a block final",
            profile.source.display()
        );
    };
    crate::chain_arg::check_range(a.from.unwrap_or(0), a.to)?;
    let (db, _) = a.chain.open()?;
    let from = a.from.unwrap_or(rule.activation_height).max(rule.activation_height);
    let to = a.to.unwrap_or(u64::MAX);
    let mut votes = Vec::new();
    for path in &a.votes {
        dualrun_leader::finality::read_votes(path, from..=to, &mut votes)?;
    }
    // The genesis check every chain command makes (a profile for another chain is refused).
    dualrun_pipeline::context_at(&db, &profile, 0)?;
    let mut main = Vec::new();
    dualrun_chaindb::compare::walk(
        &db,
        from,
        to,
        |_| {},
        |b| {
            main.push((b.height, b.block_id));
            Ok::<(), std::convert::Infallible>(())
        },
    )?;
    let tally = dualrun_leader::finality::tally(&profile, rule, &main, &votes, threads(a.threads));
    let mut w = csv::Writer::from_writer(std::io::BufWriter::new(std::io::stdout().lock()));
    for row in &tally.rows {
        w.serialize(row)?;
        if !row.detail.is_empty() {
            eprintln!("dualrun: height {}: {}: {}", row.height, row.reason, row.detail);
        }
    }
    w.flush()?;
    if let Some(path) = &a.evidence {
        let mut text = String::new();
        for e in &tally.equivocations {
            text.push_str(&serde_json::to_string(e)?);
            text.push('\n');
        }
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(Outcome::clean_if(tally.clean()))
}

fn check(a: CheckArgs) -> Result<Outcome> {
    let profile = Arc::new(Profile::load(&a.chain.profile(a.profile.as_deref())?)?);
    let (db, _) = a.chain.open()?;
    crate::chain_arg::check_range(a.from, a.to)?;
    let req = CheckRequest { profile, from: a.from, to: a.to, now: a.now, threads: threads(a.threads) };
    let out = std::io::BufWriter::new(std::io::stdout().lock());
    let rejected = leader_check::check(&db, &req, out)?;
    Ok(Outcome::clean_if(rejected == 0))
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
    let mut keys = Vec::new();
    for path in &a.keys {
        let key = KeyFile::read(path)?;
        let index = profile.signer_index(&key).map_err(|e| anyhow!("{}: {e}", path.display()))?;
        keys.push((index, key));
    }
    let block_faults = a.faults.iter().filter_map(|f| match f.kind {
        AnyFault::Block(k) => Some((f.height, k)),
        AnyFault::Votes(_) => None,
    });
    let faults = testchain::fault_map(block_faults).map_err(anyhow::Error::msg)?;
    let vote_faults = a
        .faults
        .iter()
        .filter_map(|f| match f.kind {
            AnyFault::Votes(v) => Some((f.height, v)),
            AnyFault::Block(_) => None,
        })
        .collect();
    let competes = a.competes.iter().map(|c| (c.height, c.kind)).collect();
    // --wait-seconds bounds every wait, a single call to the daemon included.
    let daemon = Daemon::new(&a.daemon, Duration::from_secs(a.wait_seconds.clamp(1, 30)));
    let req = ProduceRequest {
        profile,
        keys,
        faults,
        blocks: a.blocks,
        wallet_address: a.wallet_address.clone(),
        patience: Duration::from_secs(a.wait_seconds),
        vote_faults,
        competes,
    };
    let producer = Producer::start(&daemon, req)?;
    let mut votes = match &a.votes {
        Some(p) => Some(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => None,
    };
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
        let p = producer.produce_one()?;
        bar.inc(1);
        bar.set_message(format!("height {} {}", p.height, p.fault.map_or("ok", FaultKind::expected_reason)));
        if bar.is_hidden() && (i + 1) % 10 == 0 {
            eprintln!("dualrun: produced {}/{} blocks, tip height {}", i + 1, a.blocks, p.height);
        }
        if let Some(w) = votes.as_mut() {
            for v in &p.votes {
                serde_json::to_writer(&mut *w, v)?;
                w.write_all(b"\n")?;
            }
            w.flush()?;
        }
        if let (Some(id), false) = (p.competitor, bar.is_hidden()) {
            bar.println(format!(
                "height {}: kept {}, competing block {id} kept off the main chain",
                p.height, p.block_id
            ));
        } else if let Some(id) = p.competitor {
            eprintln!(
                "dualrun: height {}: kept {}, competing block {id} kept off the main chain",
                p.height, p.block_id
            );
        }
        if let Some(w) = record.as_mut() {
            w.serialize(ProducedRow {
                height: p.height,
                block_id: p.block_id,
                verdict: if p.fault.is_some() { "reject" } else { "accept" },
                reason: p.fault.map_or("", FaultKind::expected_reason),
                leader_id: p.leader.unwrap_or_default(),
            })?;
            w.flush()?;
        }
        if a.interval_seconds > 0.0 && i + 1 < a.blocks {
            std::thread::sleep(Duration::from_secs_f64(a.interval_seconds));
        }
    }
    bar.finish_and_clear();
    let tip = daemon.last_block_header()?;
    outln!(
        "produced {} blocks on {} in {:.1} s; tip height {} id {}",
        a.blocks,
        a.daemon,
        started.elapsed().as_secs_f64(),
        tip.height,
        tip.hash
    )?;
    Ok(Outcome::Clean)
}
