//! `dualrun`: the command line. A thin layer over the library crates: it parses arguments, resolves the
//! chain to read (the bundled sample by default), runs a command and maps its outcome to the exit code
//! every command shares: 0 success, 1 a negative finding, 2 the command could not run; and the gate's 3,
//! the evidence inconclusive (see `outcome`).

/// `println!` that returns a write error (a full disk; a closed pipe ends quietly in `main`) instead of
/// panicking.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
            .map_err(|e| anyhow::Error::new(e).context("writing to standard output"))
    }};
}

mod chain_arg;
mod commands;
mod format_arg;
mod outcome;

use outcome::Outcome;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "dualrun", version, about = "Shadow-mode dual-run verification harness for a consensus migration")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read a chain database: summary, block list, one block, checkpoints, comparisons.
    #[command(subcommand)]
    Chain(commands::chain::ChainCommand),
    /// Work on a single raw block blob.
    #[command(subcommand)]
    Block(commands::block::BlockCommand),
    /// Leader consensus v1: check a chain, produce leader-signed blocks.
    #[command(subcommand)]
    Leader(commands::leader::LeaderCommand),
    /// The mode gate: a signed, hash-chained ledger of LEGACY -> SHADOW -> PRIMARY -> ONLY.
    #[command(subcommand)]
    Gate(commands::gate::GateCommand),
    /// Golden vectors: the CI gate, and vectors from divergences.
    #[command(subcommand)]
    Golden(commands::golden::GoldenCommand),
    /// Make an Ed25519 key file (for leaders and gate operators); prints `ID <public-key-hex>`.
    Keygen(commands::keygen::KeygenArgs),
    /// Follow a running daemon: judge each block as it arrives, into a live run directory (a live
    /// shadow), with Prometheus metrics.
    Follow(commands::follow::FollowArgs),
    /// Watch a fleet of nodes together: every node's main chain, splits between nodes (with their heights
    /// and nodes), nodes behind or unreachable, reorganizations; into a fleet run directory the gate and
    /// the report take, with Prometheus metrics. Exit 0 when the fleet agreed throughout, 1 when not.
    Fleet(commands::fleet::FleetArgs),
    /// Merge the shard runs of one range (`replay --shard I/N`) into the single run's directory.
    Merge(commands::merge::MergeArgs),
    /// The migration network's P2P checks: a handshake as a peer of a network, accepted or refused; a
    /// network's isolation proven against every node.
    #[command(subcommand)]
    Net(commands::net::NetCommand),
    /// Reports for auditors: a self-contained HTML report of runs (and a ledger), a signed attestation
    /// of a run directory, and its verification (optionally by replaying the run again).
    Report(commands::report::ReportArgs),
    /// Replay a chain through the legacy verifier and the candidate and record every divergence.
    /// With no arguments: the bundled sample chain, in SHADOW mode, into reports/<run-id>/.
    Replay(commands::replay::ReplayArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match dualrun_watch::take_child_end() {
        Ok(_) => report(run(cli)),
        Err(e) => report(Err(e.into())),
    };
    // A watched child's last act: the parent then knows the run ended on its own terms.
    dualrun_watch::returned(code);
    ExitCode::from(code)
}

fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Chain(c) => commands::chain::run(c),
        Command::Block(c) => commands::block::run(c),
        Command::Leader(c) => commands::leader::run(c),
        Command::Keygen(a) => commands::keygen::run(a),
        Command::Golden(c) => commands::golden::run(c),
        Command::Gate(c) => commands::gate::run(c),
        Command::Replay(a) => commands::replay::run(a),
        Command::Report(a) => commands::report::run(a),
        Command::Follow(a) => commands::follow::run(a),
        Command::Merge(a) => commands::merge::run(a),
        Command::Fleet(a) => commands::fleet::run(a),
        Command::Net(c) => commands::net::run(c),
    }
}

/// The exit code of a command's result, its error printed.
fn report(result: anyhow::Result<Outcome>) -> u8 {
    match result {
        Ok(outcome) => outcome.exit_code(),
        // A reader that went away (`dualrun chain scan | head`) is not an error of ours.
        Err(e) if is_broken_pipe(&e) => 0,
        Err(e) => {
            eprintln!("dualrun: error: {e:#}");
            2
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<csv::Error>().is_some_and(
                |c| matches!(c.kind(), csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::BrokenPipe),
            )
    })
}

#[cfg(test)]
mod tests {
    /// Every option of every command has a line of help (and so does every value of a value enum).
    #[test]
    fn every_option_and_value_has_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if ["help", "version"].contains(&id) {
                    continue;
                }
                if arg.get_help().is_none() {
                    missing.push(format!("{path} --{id}"));
                }
                let values = if arg.get_action().takes_values() { arg.get_possible_values() } else { vec![] };
                for value in values {
                    if value.get_help().is_none() {
                        missing.push(format!("{path} --{id} {}", value.get_name()));
                    }
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&<super::Cli as clap::CommandFactory>::command(), "dualrun", &mut missing);
        assert!(missing.is_empty(), "options without help:\n{}", missing.join("\n"));
    }
}
