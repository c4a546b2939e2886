//! Divergence and error records: one per divergence or error, with both answers, the env and the blob,
//! enough to reproduce it. `divergences.jsonl` has everything; `divergences.csv` one line per record.

use dualrun_core::{Facts, Mode, RecordClass, ReplayEnv, Verdict, VerifierError, VerifierOutcome};
use dualrun_format::Hash32;
use serde::Serialize;

/// One verifier's side of a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Side {
    Verdict {
        verdict: &'static str,
        reason: String,
        detail: String,
        facts: Facts,
    },
    Error {
        error: VerifierError,
    },
    NotRun {
        not_run: bool,
    },
}

impl Side {
    pub fn from_outcome(o: Option<&VerifierOutcome>) -> Side {
        match o {
            None => Side::NotRun { not_run: true },
            Some(VerifierOutcome::Error(e)) => Side::Error { error: e.clone() },
            Some(VerifierOutcome::Verdict { verdict, facts }) => {
                let (reason, detail) = match verdict {
                    Verdict::Accept => (String::new(), String::new()),
                    Verdict::Reject { reason, detail } => (reason.clone(), detail.clone()),
                };
                Side::Verdict { verdict: verdict.name(), reason, detail, facts: facts.clone() }
            }
        }
    }

    /// (verdict column, reason column) of the CSV.
    fn columns(&self) -> (&str, String) {
        match self {
            Side::Verdict { verdict, reason, .. } => (verdict, reason.clone()),
            Side::Error { error } => ("error", error.kind.to_string()),
            Side::NotRun { .. } => ("", String::new()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Authoritative {
    pub verdict: &'static str,
    pub reason: String,
    pub source: dualrun_core::mode::Source,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Record {
    pub height: u64,
    pub block_id: Hash32,
    pub class: RecordClass,
    pub mode: Mode,
    pub legacy: Side,
    pub candidate: Side,
    pub authoritative: Authoritative,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub differing_facts: Vec<String>,
    pub env: ReplayEnv,
    /// The raw block blob, lowercase hex.
    pub blob: String,
    /// A command that replays just this block.
    pub reproduce: String,
}

pub const CSV_HEADER: &str =
    "height,block_id,class,legacy_verdict,legacy_reason,candidate_verdict,candidate_reason,authoritative_verdict,mode,note";

impl Record {
    /// The CSV line (without newline). `note` says what differs: the facts, or the error message.
    pub fn csv_line(&self) -> String {
        let (lv, lr) = self.legacy.columns();
        let (cv, cr) = self.candidate.columns();
        // One line: the last line of an error message (a traceback's exception), at most 200 characters.
        let one_line = |m: &str| -> String {
            m.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim().chars().take(200).collect()
        };
        let note = match (&self.class, &self.legacy, &self.candidate) {
            (RecordClass::Fact, _, _) => format!("facts differ: {}", self.differing_facts.join(" ")),
            (RecordClass::LegacyError, Side::Error { error }, _) => one_line(&error.message),
            (RecordClass::CandidateError | RecordClass::Fallback, _, Side::Error { error }) => one_line(&error.message),
            _ => String::new(),
        };
        let mut w = csv_writer();
        w.write_record([
            &self.height.to_string(),
            &self.block_id.to_string(),
            self.class.as_str(),
            lv,
            &lr,
            cv,
            &cr,
            self.authoritative.verdict,
            self.mode.as_str(),
            &note,
        ])
        .expect("writing to memory");
        let mut line = String::from_utf8(w.into_inner().expect("flush to memory")).expect("utf-8");
        line.truncate(line.trim_end_matches(['\n', '\r']).len());
        line
    }
}

fn csv_writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(Vec::new())
}
