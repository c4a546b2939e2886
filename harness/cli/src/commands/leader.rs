//! `dualrun leader …`: judge a chain under protocol v1, and produce leader-signed blocks on a daemon.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::{Args, Subcommand};
use dualrun_leader::testchain::FaultKind;
use dualrun_leader::Profile;
use dualrun_leader_tools::check::{self, CheckRequest};
use dualrun_leader_tools::finality::{self, FinalityRequest};
use dualrun_leader_tools::forks;
use dualrun_leader_tools::produce::{CompeteAt, Faults, ProduceFault, ProduceFiles};
use dualrun_monerod::{ProduceRequest, Producer};
use dualrun_pipeline::NowMode;
use dualrun_rpc::Daemon;
use indicatif::{ProgressBar, ProgressStyle};

use crate::chain_arg::{threads, ChainArg, RangeArgs};
use crate::format_arg::{renamed, RowsWasCsv};
use crate::Outcome;

#[derive(Subcommand)]
pub(crate) enum LeaderCommand {
    /// Judges every block of a chain under protocol v1: rows `height,block_id,verdict,reason,leader_id`.
    Check(CheckArgs),
    /// The leader block producer: signs and submits blocks to a daemon, confirming each became the tip.
    Produce(ProduceArgs),
    /// Judges every main-chain block against finality votes: rows
    /// `height,block_id,votes,required,finality,reason,finding`, each block's row followed by the findings
    /// at its height.
    Finality(FinalityArgs),
    /// The competing blocks the node keeps (`alt_blocks`) and fork choice among each height's siblings:
    /// rows `height,block_id,parent_id,main_chain,verdict,reason,rank,canonical,finding`.
    Forks(ForksArgs),
}

#[derive(Args)]
pub(crate) struct ForksArgs {
    #[command(flatten)]
    chain: ChainArg,
    /// The network profile (TOML). Default: the bundled sample's, when --chain is not given.
    #[arg(long, value_name = "FILE")]
    profile: Option<PathBuf>,
    #[command(flatten)]
    format: RowsWasCsv,
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
    #[command(flatten)]
    format: RowsWasCsv,
    /// Write each equivocation, with both votes, as JSON lines.
    #[arg(long, value_name = "FILE")]
    equivocations: Option<PathBuf>,
    /// Deprecated: use --equivocations.
    #[arg(long, value_name = "FILE", hide = true, conflicts_with = "equivocations")]
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
    #[command(flatten)]
    range: RangeArgs,
    /// `block` (each block's own timestamp) or `fixed:UNIX`.
    #[arg(long, default_value = "block")]
    now: NowMode,
    #[command(flatten)]
    format: RowsWasCsv,
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
    faults: Vec<ProduceFault>,
    /// Submit a competing block at HEIGHT: same-leader (a second block by the scheduled leader, submitted
    /// second) or failover (the rank-1 validator's block submitted first, then the scheduled leader's).
    #[arg(long = "compete", value_name = "HEIGHT:KIND")]
    competes: Vec<CompeteAt>,
    /// Write the committee's finality votes (every --key votes for every block it produces) as JSON lines.
    #[arg(long, value_name = "FILE")]
    votes_out: Option<PathBuf>,
    /// Deprecated: use --votes-out.
    #[arg(long, value_name = "FILE", hide = true, conflicts_with = "votes_out")]
    votes: Option<PathBuf>,
    /// Write each produced block's expected verdict as CSV (`height,block_id,verdict,reason,leader_id`).
    #[arg(long, value_name = "FILE")]
    expected: Option<PathBuf>,
    /// Deprecated: use --expected.
    #[arg(long, value_name = "FILE", hide = true, conflicts_with = "expected")]
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
    let format = a.format.get();
    let profile = Profile::load(&a.chain.profile(a.profile.as_deref())?)?;
    let (db, _) = a.chain.open()?;
    let rows = forks::forks(&db, &profile)?;
    forks::write(&rows, format, std::io::BufWriter::new(std::io::stdout().lock()))?;
    Ok(Outcome::clean_if(forks::no_findings(&rows)))
}

fn finality(a: FinalityArgs) -> Result<Outcome> {
    let format = a.format.get();
    let equivocations = renamed(a.equivocations, a.evidence, "--evidence", "--equivocations");
    let profile = Profile::load(&a.chain.profile(a.profile.as_deref())?)?;
    let rule = finality::rule(&profile)?;
    crate::chain_arg::check_range(a.from.unwrap_or(0), a.to)?;
    let (db, _) = a.chain.open()?;
    let req = FinalityRequest { from: a.from, to: a.to, votes: &a.votes, threads: threads(a.threads) };
    let tally = finality::tally_chain(&db, &profile, rule, &req)?;
    let out = std::io::BufWriter::new(std::io::stdout().lock());
    finality::write(&tally, format, out, |row| {
        eprintln!("dualrun: height {}: {}: {}", row.height, row.reason, row.detail)
    })?;
    if let Some(path) = &equivocations {
        finality::write_equivocations(path, &tally)?;
    }
    Ok(Outcome::clean_if(tally.clean()))
}

fn check(a: CheckArgs) -> Result<Outcome> {
    let format = a.format.get();
    let profile = Arc::new(Profile::load(&a.chain.profile(a.profile.as_deref())?)?);
    let (db, _) = a.chain.open()?;
    let range = a.range.checked()?;
    let req = CheckRequest { profile, from: range.from, to: range.to, now: a.now, threads: threads(a.threads) };
    let out = std::io::BufWriter::new(std::io::stdout().lock());
    let rejected = check::check(&db, &req, format, out)?;
    Ok(Outcome::clean_if(rejected == 0))
}

fn produce(a: ProduceArgs) -> Result<Outcome> {
    let votes = renamed(a.votes_out.as_deref(), a.votes.as_deref(), "--votes", "--votes-out");
    let expected = renamed(a.expected.as_deref(), a.record.as_deref(), "--record", "--expected");
    let profile = Profile::load(&a.profile)?;
    let keys = profile.signers(&a.keys)?;
    let faults = Faults::of(&a.faults)?;
    let competes = a.competes.iter().map(|c| (c.height, c.kind)).collect();
    // --wait-seconds bounds every wait, a single call to the daemon included.
    let daemon = Daemon::new(&a.daemon, Duration::from_secs(a.wait_seconds.clamp(1, 30)));
    let req = ProduceRequest {
        profile,
        keys,
        faults: faults.blocks,
        blocks: a.blocks,
        wallet_address: a.wallet_address.clone(),
        patience: Duration::from_secs(a.wait_seconds),
        vote_faults: faults.votes,
        competes,
    };
    let producer = Producer::start(&daemon, req)?;
    let mut files = ProduceFiles::create(votes, expected)?;
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
        files.write(&p)?;
        if let Some(id) = p.competitor {
            let kept =
                format!("height {}: kept {}, competing block {id} kept off the main chain", p.height, p.block_id);
            if bar.is_hidden() {
                eprintln!("dualrun: {kept}");
            } else {
                bar.println(kept);
            }
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
