//! `chain synth`: a synthetic chain written, with its expected verdicts when signed.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::{bail, Result};
use dualrun_chaindb::Schema;
use dualrun_leader::testchain::ExpectedVerdictWriter;
use dualrun_synth::LeaderSpec;

use super::SchemaArg;
use crate::Outcome;

pub(super) fn synth(
    out: &Path,
    blocks: u64,
    schema: SchemaArg,
    seed: u64,
    leader: Option<LeaderSpec>,
    expected: Option<&Path>,
) -> Result<Outcome> {
    if blocks == 0 {
        bail!("--blocks must be at least 1 (the genesis block)");
    }
    let schema = match schema {
        SchemaArg::V5 => Schema::MoneroV5,
        SchemaArg::V3 => Schema::XcashV3,
    };
    let start = std::time::Instant::now();
    // On a terminal one line rewritten in place; in a log or CI output, whole lines, one every 10 s.
    let terminal = std::io::stderr().is_terminal();
    let mut last_line = start;
    let report = dualrun_synth::generate(out, dualrun_synth::SynthSpec { blocks, schema, seed, leader }, |n| {
        if terminal {
            eprint!("\rdualrun: {n}/{blocks} blocks written");
        } else if last_line.elapsed() >= std::time::Duration::from_secs(10) {
            last_line = std::time::Instant::now();
            eprintln!("dualrun: {n}/{blocks} blocks written");
        }
    })?;
    if terminal {
        eprintln!();
    }
    if let Some(path) = expected {
        let mut w = ExpectedVerdictWriter::create(path)?;
        report.expected.iter().try_for_each(|e| w.write(e))?;
        w.flush()?;
    }
    outln!(
        "wrote {}: {} blocks (schema {}), tip {}, chain digest {}, {} blob bytes, {:.1} s",
        out.display(),
        report.blocks,
        schema.version(),
        report.tip_id,
        report.chain_digest,
        report.blob_bytes,
        start.elapsed().as_secs_f64()
    )?;
    Ok(Outcome::Clean)
}
