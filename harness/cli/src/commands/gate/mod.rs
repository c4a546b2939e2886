//! `dualrun gate …`: the mode gate over a signed, hash-chained ledger. The commands and the calls are
//! here; the operators' moves (promote, rollback, approve, rotate) in `moves`; what is printed of an
//! evaluation, a status and an audit in `print`.

mod moves;
mod print;

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use dualrun_core::Mode;
use dualrun_gate::audit;
use dualrun_gate::ledger::{self, Ledger};
use dualrun_gate::operate::{self, EvaluationRequest};
use dualrun_keys::KeyFile;
use dualrun_rundir::Moved;

use crate::format_arg::Object;
use crate::Outcome;
use moves::{ApproveArgs, PromoteArgs, RollbackArgs, RotateArgs};

#[derive(Subcommand)]
pub(crate) enum GateCommand {
    /// Starts a ledger in `legacy` mode.
    Init {
        /// The ledger file to create (it must not exist).
        #[arg(long, value_name = "FILE")]
        ledger: PathBuf,
        /// The operator's key file (from `dualrun keygen`), which signs the first entry.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The operator's name, recorded in the entry.
        #[arg(long)]
        operator: String,
    },
    /// The current mode and the last entry.
    Status {
        /// The ledger file.
        #[arg(long, value_name = "FILE")]
        ledger: PathBuf,
        #[command(flatten)]
        format: Object,
    },
    /// Evaluates the next forward move on evidence: each criterion with value, threshold and outcome;
    /// exit 0 pass, 1 fail, 3 inconclusive.
    Evaluate(EvalArgs),
    /// Moves one step forward if the evaluation passes (else writes nothing and exits 1 or 3);
    /// `--force` records an override.
    Promote(PromoteArgs),
    /// Records an operator's signed approval of a promotion (the evaluation digest `gate evaluate`
    /// prints) or of a key rotation; a policy's `[quorum]` counts them. Moves nothing.
    Approve(ApproveArgs),
    /// Replaces an operator's key: signed by the old key, proven by the new one, approved by the
    /// quorum (`gate approve --rotation OLD:NEW`). Moves nothing.
    Rotate(RotateArgs),
    /// Moves back to any earlier mode, at once; always allowed, always recorded.
    Rollback(RollbackArgs),
    /// Removes an unterminated final line (a write cut short by a crash or power loss) and nothing else;
    /// records nothing. `verify` names the ledger that needs it.
    Repair {
        /// The ledger file.
        #[arg(long, value_name = "FILE")]
        ledger: PathBuf,
    },
    /// Audits the ledger: canonical form, hash chain, signatures, legal modes, evidence digests.
    Verify {
        /// The ledger file.
        #[arg(long, value_name = "FILE")]
        ledger: PathBuf,
        /// Only these operator keys (hex) may have signed entries.
        #[arg(long = "trusted-key", value_name = "HEX")]
        trusted_keys: Vec<String>,
        /// Do not re-check the evidence runs (for an auditor who has only the ledger).
        #[arg(long)]
        skip_evidence: bool,
        /// The head hash an earlier audit printed: the ledger must still contain that entry (entries
        /// removed from the end are caught).
        #[arg(long, value_name = "HASH")]
        expect_head: Option<String>,
        /// Evidence the ledger names under the absolute directory FROM is now under TO (a copy given to
        /// an auditor); the copy is checked, never FROM. Repeatable.
        #[arg(long, value_name = "FROM=TO")]
        moved: Vec<String>,
    },
}

#[derive(Args)]
pub(crate) struct EvalArgs {
    /// The ledger file.
    #[arg(long, value_name = "FILE")]
    ledger: PathBuf,
    /// The policy (default: the built-in one).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Golden vectors to run as part of the evidence.
    #[arg(long, value_name = "DIR")]
    golden: Option<PathBuf>,
    /// Replay run directories.
    #[arg(long, value_name = "RUN_DIR", num_args = 1..)]
    evidence: Vec<PathBuf>,
    /// Isolation evidence files (`dualrun net isolation --out`).
    #[arg(long, value_name = "FILE", num_args = 1..)]
    isolation: Vec<PathBuf>,
    /// Fleet run directories (`dualrun fleet --out`).
    #[arg(long, value_name = "DIR", num_args = 1..)]
    fleet: Vec<PathBuf>,
    /// The target mode (default: the next one).
    #[arg(long)]
    to: Option<Mode>,
    /// Known divergences excused (TOML).
    #[arg(long, value_name = "FILE")]
    allowlist: Option<PathBuf>,
    /// Expired or never-matched allowlist entries fail the evaluation.
    #[arg(long)]
    strict: bool,
    #[command(flatten)]
    format: Object,
}

impl EvalArgs {
    fn request(&self) -> EvaluationRequest {
        EvaluationRequest {
            ledger: self.ledger.clone(),
            policy: self.policy.clone(),
            golden: self.golden.clone(),
            evidence: self.evidence.clone(),
            isolation: self.isolation.clone(),
            fleet: self.fleet.clone(),
            to: self.to,
            allowlist: self.allowlist.clone(),
            strict: self.strict,
        }
    }
}

pub(crate) fn run(cmd: GateCommand) -> Result<Outcome> {
    match cmd {
        GateCommand::Init { ledger, key, operator } => {
            let key = KeyFile::read(&key)?;
            Ledger::init(&ledger, &key, &operator)?;
            outln!("{}: started in legacy mode by {operator} ({})", ledger.display(), key.public_key_hex())?;
            Ok(Outcome::Clean)
        }
        GateCommand::Status { ledger, format } => {
            let json = format.json();
            print::status(&audit::status(&ledger)?, json)
        }
        GateCommand::Evaluate(a) => {
            let json = a.format.json();
            print::evaluation(&operate::evaluate_request(&a.request())?.evaluation, json)
        }
        GateCommand::Promote(a) => moves::promote(&a),
        GateCommand::Rollback(a) => moves::rollback(&a),
        GateCommand::Approve(a) => moves::approve(a),
        GateCommand::Rotate(a) => moves::rotate(&a),
        GateCommand::Repair { ledger } => {
            match ledger::repair(&ledger)? {
                ledger::Repair::NothingToDo => {
                    outln!("{}: ends with a complete entry; nothing to repair", ledger.display())?
                }
                ledger::Repair::RemovedIncompleteEntry(n) => {
                    outln!("{}: removed an incomplete last entry ({n} bytes); nothing else changed", ledger.display())?
                }
            }
            Ok(Outcome::Clean)
        }
        GateCommand::Verify { ledger, trusted_keys, skip_evidence, expect_head, moved } => {
            let keys = super::trusted_keys(&trusted_keys)?;
            let moved = Moved::parse(&moved).context("--moved")?;
            let found = audit::audit(&ledger, &keys, !skip_evidence, &moved, expect_head.as_deref())?;
            print::audit(&ledger, &found, expect_head.as_deref())
        }
    }
}
