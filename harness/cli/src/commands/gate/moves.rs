//! The operators' moves on the ledger — promote, rollback, approve, rotate: their arguments, the call
//! to `dualrun_gate::operate`, and what is said of the entry appended or the refusal.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;
use dualrun_core::Mode;
use dualrun_gate::operate::{self, Approval, Operator, Refusal};
use dualrun_gate::GateOutcome;
use dualrun_keys::KeyFile;

use super::{print, EvalArgs};
use crate::Outcome;

#[derive(Args)]
pub(crate) struct PromoteArgs {
    #[command(flatten)]
    eval: EvalArgs,
    /// The operator's key file, which signs the entry.
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// Why, recorded in the entry.
    #[arg(long)]
    reason: String,
    /// Promote even if the evaluation does not pass; recorded as an override.
    #[arg(long)]
    force: bool,
    /// The operator's name (default: the key's id).
    #[arg(long)]
    operator: Option<String>,
}

#[derive(Args)]
pub(crate) struct ApproveArgs {
    /// The ledger file.
    #[arg(long, value_name = "FILE")]
    ledger: PathBuf,
    /// The operator's key file, which signs the approval.
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The mode the approved promotion moves to (the next one).
    #[arg(long, requires = "evaluation_digest", conflicts_with = "rotation")]
    to: Option<Mode>,
    /// The `evaluation_digest` of the evaluation approved (`gate evaluate --format json`).
    #[arg(long, value_name = "HASH", requires = "to")]
    evaluation_digest: Option<String>,
    /// A key rotation approved instead: the old and the new public key, hex.
    #[arg(long, value_name = "OLD_HEX:NEW_HEX")]
    rotation: Option<String>,
    /// Why, recorded in the entry (default: "approved").
    #[arg(long, default_value = "approved")]
    reason: String,
    /// The operator's name (default: the key's id).
    #[arg(long)]
    operator: Option<String>,
}

#[derive(Args)]
pub(crate) struct RotateArgs {
    /// The ledger file.
    #[arg(long, value_name = "FILE")]
    ledger: PathBuf,
    /// The key being replaced (its key file), which signs the entry.
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The new key file (from `dualrun keygen`), which proves it holds the new key.
    #[arg(long, value_name = "FILE")]
    new_key: PathBuf,
    /// The policy whose `[quorum]` applies (default: the ledger's own quorum).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Why, recorded in the entry.
    #[arg(long)]
    reason: String,
    /// The operator's name (default: the new key's id).
    #[arg(long)]
    operator: Option<String>,
}

#[derive(Args)]
pub(crate) struct RollbackArgs {
    /// The ledger file.
    #[arg(long, value_name = "FILE")]
    ledger: PathBuf,
    /// The mode to return to: legacy, shadow or primary (any earlier than the current one).
    #[arg(long)]
    to: Mode,
    /// The operator's key file, which signs the entry.
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// Why, recorded in the entry.
    #[arg(long)]
    reason: String,
    /// The operator's name (default: the key's id).
    #[arg(long)]
    operator: Option<String>,
}

pub(super) fn promote(a: &PromoteArgs) -> Result<Outcome> {
    let json = a.eval.format.json();
    let key = KeyFile::read(&a.key)?;
    let by = Operator { key: &key, name: a.operator.as_deref(), reason: &a.reason };
    let promotion = operate::promote(&a.eval.request(), &by, a.force)?;
    let verdict = print::evaluation(&promotion.evaluation, json)?;
    let eval = &promotion.evaluation;
    match promotion.moved {
        Ok(e) => {
            let promoted = format!(
                "{}: promoted {} -> {}{} (entry #{})",
                a.eval.ledger.display(),
                eval.from,
                eval.to,
                if eval.outcome != GateOutcome::Pass { " as a FORCED OVERRIDE" } else { "" },
                e.seq
            );
            // With --format json, standard output is the evaluation's JSON alone.
            if json {
                eprintln!("dualrun: {promoted}");
            } else {
                outln!("{promoted}")?;
            }
            Ok(Outcome::Clean)
        }
        // Refused on the evaluation itself: the evaluation's exit code.
        Err(refusal @ Refusal::NotPassed { .. }) => {
            eprintln!("dualrun: {refusal}");
            Ok(verdict)
        }
        Err(refusal) => refused(&refusal),
    }
}

pub(super) fn rollback(a: &RollbackArgs) -> Result<Outcome> {
    let key = KeyFile::read(&a.key)?;
    let by = Operator { key: &key, name: a.operator.as_deref(), reason: &a.reason };
    let e = operate::rollback(&a.ledger, a.to, &by)?;
    let from = e.from.map_or_else(|| "-".to_owned(), |m| m.to_string());
    outln!("{}: rolled back {from} -> {} (entry #{})", a.ledger.display(), a.to, e.seq)?;
    Ok(Outcome::Clean)
}

pub(super) fn approve(a: ApproveArgs) -> Result<Outcome> {
    let subject = match (a.to.zip(a.evaluation_digest), a.rotation) {
        (Some((to, digest)), None) => Approval::Promotion { to, digest },
        (None, Some(r)) => Approval::Rotation(r),
        _ => bail!("give --to MODE --evaluation-digest HASH, or --rotation OLD_HEX:NEW_HEX"),
    };
    let key = KeyFile::read(&a.key)?;
    let by = Operator { key: &key, name: a.operator.as_deref(), reason: &a.reason };
    match operate::approve(&a.ledger, subject, &by)? {
        Ok(approved) => {
            let name = a.operator.unwrap_or_else(|| key.id.clone());
            let (what, digest, seq) = (&approved.what, &approved.digest, approved.entry.seq);
            outln!(
                "{}: {name} ({}) approved {what}, digest {digest} (entry #{seq})",
                a.ledger.display(),
                key.public_key_hex()
            )?;
            Ok(Outcome::Clean)
        }
        Err(refusal) => refused(&refusal),
    }
}

pub(super) fn rotate(a: &RotateArgs) -> Result<Outcome> {
    let (key, new_key) = (KeyFile::read(&a.key)?, KeyFile::read(&a.new_key)?);
    let by = Operator { key: &key, name: a.operator.as_deref(), reason: &a.reason };
    match operate::rotate(&a.ledger, &new_key, a.policy.as_deref(), &by)? {
        Ok(e) => {
            let (old, new) = (key.public_key_hex(), new_key.public_key_hex());
            outln!("{}: rotated {old} -> {new} (entry #{})", a.ledger.display(), e.seq)?;
            Ok(Outcome::Clean)
        }
        Err(refusal) => refused(&refusal),
    }
}

/// A move refused on its merits: said on stderr, exit 1.
fn refused(refusal: &Refusal) -> Result<Outcome> {
    eprintln!("dualrun: {refusal}");
    Ok(Outcome::Finding)
}
