//! `leader check`: every block of a chain judged under leader protocol v1 — the built-in verifier
//! through the pipeline in ONLY mode — one row per block: `height,block_id,verdict,reason,leader_id`
//! ([`COLUMNS`]), as CSV or JSON lines.

use std::io::Write;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use dualrun_chaindb::rows::{RowFormat, RowWriter};
use dualrun_chaindb::{ChainDb, ChainDbError};
use dualrun_core::{Mode, ReasonMap, VerdictKind};
use dualrun_format::Hash32;
use dualrun_leader::verifier::LeaderVerifier;
use dualrun_leader::Profile;
use dualrun_pipeline::{context_at, ContextError, Judged, LmdbRange, NowMode, Pipeline, Sink, Verifiers};

/// Why a chain could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The chain could not be read.
    #[error(transparent)]
    Chain(#[from] ChainDbError),
    /// Another chain than the profile's, or its context could not be read.
    #[error(transparent)]
    Context(#[from] ContextError),
    /// The rows could not be written.
    #[error("writing the rows: {0}")]
    Output(#[from] csv::Error),
}

/// What to check.
pub struct CheckRequest {
    /// The network profile.
    pub profile: Arc<Profile>,
    /// First height.
    pub from: u64,
    /// Last height (default: the tip).
    pub to: Option<u64>,
    /// Where `now` comes from.
    pub now: NowMode,
    /// Threads for the signature checks.
    pub threads: usize,
}

/// The columns of `leader check`: [`Row`]'s fields.
pub const COLUMNS: [&str; 5] = ["height", "block_id", "verdict", "reason", "leader_id"];

/// One row of the output.
#[derive(serde::Serialize)]
struct Row<'a> {
    height: u64,
    block_id: Hash32,
    verdict: VerdictKind,
    reason: &'a str,
    leader_id: &'a str,
}

struct RowSink<W: Write> {
    out: RowWriter<W>,
    rejected: u64,
}

impl<W: Write> Sink for RowSink<W> {
    type Error = csv::Error;

    fn judged(&mut self, j: Judged<'_>) -> Result<(), csv::Error> {
        let verdict = &j.decision.authoritative;
        self.rejected += u64::from(!verdict.is_accept());
        let leader_id = j.candidate.and_then(|a| a.outcome.facts()).and_then(|f| f.get("leader_id"));
        self.out.write(&Row {
            height: j.item.input.height,
            block_id: j.item.block_id,
            verdict: verdict.kind(),
            reason: verdict.reason(),
            leader_id: leader_id.map_or("", String::as_str),
        })
    }
}

/// Checks `req.from..=to` of `db`, writing the rows to `out` in `format` (in CSV the header first, before
/// any block is judged); returns how many blocks were rejected.
pub fn check(db: &ChainDb, req: &CheckRequest, format: RowFormat, out: impl Write) -> Result<u64, CheckError> {
    let tip = db.read_txn().and_then(|t| db.tip_height(&t))?;
    if req.from > tip {
        return Err(ChainDbError::BeyondTip { file: db.data_file().into(), height: req.from, tip }.into());
    }
    let last = req.to.unwrap_or(tip).min(tip);
    let network = req.profile.network();
    let ctx = context_at(db, &network, req.from)?;
    let candidate = Box::new(LeaderVerifier::new(req.profile.clone()));
    let verifiers = Verifiers::new(Mode::Only, None, Some(candidate)).expect("ONLY runs just the candidate");
    let pipeline = Pipeline {
        network,
        activation_height: req.profile.activation_height,
        now: req.now,
        reasons: ReasonMap::default(),
        threads: req.threads,
        noise: None,
        interrupt: Arc::new(AtomicBool::new(false)),
    };
    let mut sink = RowSink { out: RowWriter::new(format, &COLUMNS, out)?, rejected: 0 };
    let ended = pipeline.run(LmdbRange::new(db, req.from, last), ctx, verifiers, &mut sink)?;
    if let Some(e) = ended.source_error {
        return Err(e.into());
    }
    sink.out.flush()?;
    Ok(sink.rejected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (&'static ChainDb, Arc<Profile>) {
        let (db, profile) = crate::sample();
        (db, Arc::new(profile))
    }

    /// The sample chain judged gives the verdicts its producer expected, byte for byte, and counts the
    /// rejected blocks.
    #[test]
    fn the_sample_gets_its_expected_verdicts() {
        let (db, profile) = sample();
        let req = CheckRequest { profile, from: 0, to: None, now: NowMode::Block, threads: 2 };
        let mut out = Vec::new();
        let rejected = check(db, &req, RowFormat::Csv, &mut out).unwrap();
        let expected = std::fs::read_to_string(dualrun_testkit::sample_dir().join("leader-expected.csv")).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), expected);
        assert_eq!(rejected, expected.lines().filter(|l| l.contains(",reject,")).count() as u64);
        assert!(rejected > 0);
    }

    /// A range past the tip is refused naming it; a range is cut at the tip.
    #[test]
    fn ranges_end_at_the_tip() {
        let (db, profile) = sample();
        let req = |from, to| CheckRequest { profile: profile.clone(), from, to, now: NowMode::Block, threads: 1 };
        let e = check(db, &req(1000, None), RowFormat::Csv, Vec::new()).unwrap_err().to_string();
        assert!(e.ends_with("height 1000 is beyond the tip (the chain has heights 0..=200)"), "{e}");
        let mut out = Vec::new();
        check(db, &req(199, Some(1000)), RowFormat::Csv, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let heights: Vec<&str> = text.lines().skip(1).map(|l| l.split(',').next().unwrap()).collect();
        assert_eq!(heights, ["199", "200"]);
    }

    /// JSON lines: the CSV's rows, keyed by its columns.
    #[test]
    fn json_rows_are_the_csv_rows() {
        let (db, profile) = sample();
        let req = CheckRequest { profile, from: 60, to: Some(80), now: NowMode::Block, threads: 1 };
        let (mut csv, mut json) = (Vec::new(), Vec::new());
        check(db, &req, RowFormat::Csv, &mut csv).unwrap();
        check(db, &req, RowFormat::Json, &mut json).unwrap();
        let (csv, json) = (String::from_utf8(csv).unwrap(), String::from_utf8(json).unwrap());
        assert_eq!(csv.lines().next(), Some(COLUMNS.join(",").as_str()));
        assert_eq!(json.lines().count(), 21);
        for (c, j) in csv.lines().skip(1).zip(json.lines()) {
            let row: serde_json::Map<String, serde_json::Value> = serde_json::from_str(j).unwrap();
            assert_eq!(row.keys().map(String::as_str).collect::<Vec<_>>(), COLUMNS);
            let fields: Vec<String> =
                row.values().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned)).collect();
            assert_eq!(fields.join(","), c);
        }
    }
}
