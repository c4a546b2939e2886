//! Divergence and error records: one per divergence or error, with both answers, the env and the blob,
//! enough to reproduce it. `divergences.jsonl` has everything; `divergences.csv` one line per record.
//! A [`Record`] is written and read back with the same type, so every reader sees the fields the writer
//! wrote.

use dualrun_core::mode::Source;
use dualrun_core::{
    Decision, Facts, Mode, RecordClass, ReplayEnv, Verdict, VerdictKind, VerifierError, VerifierOutcome,
};
use dualrun_format::Hash32;
use serde::{Deserialize, Serialize};

/// One verifier's side of a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Side {
    /// A verdict, with its reason and detail (empty for accept) and facts.
    Verdict {
        /// accept or reject.
        verdict: VerdictKind,
        /// The reason (a code, or the adapter's words).
        reason: String,
        /// More about the reason.
        detail: String,
        /// What the verifier reported.
        facts: Facts,
    },
    /// The verifier could not answer.
    Error {
        /// Kind and message.
        error: VerifierError,
    },
    /// The mode did not run this verifier.
    NotRun {
        /// Always true.
        not_run: bool,
    },
}

impl Side {
    /// The side of a verifier's outcome (`None`: not run).
    pub fn from_outcome(o: Option<&VerifierOutcome>) -> Side {
        match o {
            None => Side::NotRun { not_run: true },
            Some(VerifierOutcome::Error(e)) => Side::Error { error: e.clone() },
            Some(VerifierOutcome::Verdict { verdict, facts }) => {
                let (reason, detail) = match verdict {
                    Verdict::Accept => (String::new(), String::new()),
                    Verdict::Reject { reason, detail } => (reason.clone(), detail.clone()),
                };
                Side::Verdict { verdict: verdict.kind(), reason, detail, facts: facts.clone() }
            }
        }
    }

    /// The verdict, if this side gave one.
    pub fn verdict(&self) -> Option<VerdictKind> {
        match self {
            Side::Verdict { verdict, .. } => Some(*verdict),
            _ => None,
        }
    }

    /// The reason, empty unless this side rejected.
    pub fn reason(&self) -> &str {
        match self {
            Side::Verdict { reason, .. } => reason,
            _ => "",
        }
    }

    /// (verdict column, reason column) of the CSV.
    fn columns(&self) -> (&str, String) {
        match self {
            Side::Verdict { verdict, reason, .. } => (verdict.as_str(), reason.clone()),
            Side::Error { error } => ("error", error.kind.to_string()),
            Side::NotRun { .. } => ("", String::new()),
        }
    }
}

/// The verdict that stood, and whose it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authoritative {
    /// accept or reject.
    pub verdict: VerdictKind,
    /// The reason of a rejection (empty for accept).
    pub reason: String,
    /// Whose verdict it is.
    pub source: Source,
}

/// One divergence or error. The field order is the on-disk order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The block's height.
    pub height: u64,
    /// The block's id (computed; the stored one if the blob does not parse).
    pub block_id: Hash32,
    /// What the record is about.
    pub class: RecordClass,
    /// The mode of the run.
    pub mode: Mode,
    /// The legacy's answer.
    pub legacy: Side,
    /// The candidate's answer.
    pub candidate: Side,
    /// The verdict that stood.
    pub authoritative: Authoritative,
    /// For `fact` divergences: the facts that differ.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub differing_facts: Vec<String>,
    /// For `stored_id_mismatch`: the id the database stores for the block (`block_id` is the computed one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stored_id: Option<Hash32>,
    /// For `legacy_noise` and `candidate_noise`: that verifier's second answer for the block (its first
    /// is its side above).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second_answer: Option<Side>,
    /// Every ambient input both verifiers got.
    pub env: ReplayEnv,
    /// The raw block blob, lowercase hex.
    pub blob: String,
    /// A command that replays just this block.
    pub reproduce: String,
}

/// A block after the mode table: what every record about it is made from.
#[derive(Debug, Clone, Copy)]
pub struct JudgedBlock<'a> {
    /// Its height.
    pub height: u64,
    /// Its computed id (the stored one if the blob does not parse).
    pub block_id: Hash32,
    /// The id its source stores for it.
    pub stored_id: Hash32,
    /// The raw blob.
    pub blob: &'a [u8],
    /// The env both verifiers got.
    pub env: &'a ReplayEnv,
    /// The legacy's outcome (none if the mode does not run it).
    pub legacy: Option<&'a VerifierOutcome>,
    /// The candidate's outcome (none if the mode does not run it).
    pub candidate: Option<&'a VerifierOutcome>,
    /// The mode table's decision.
    pub decision: &'a Decision,
    /// The legacy's second answer, when the block was judged twice (a noise run).
    pub legacy_again: Option<&'a VerifierOutcome>,
    /// The candidate's second answer, when the block was judged twice.
    pub candidate_again: Option<&'a VerifierOutcome>,
}

impl JudgedBlock<'_> {
    /// The records to write for it, in order: the decision's, then noise (each verifier judged twice
    /// whose answers differ), then an input finding when the source's id is not the blob's.
    pub fn classes(&self) -> Vec<RecordClass> {
        let noisy = |first: Option<&VerifierOutcome>, again: Option<&VerifierOutcome>, class| match (first, again) {
            (Some(first), Some(again)) if dualrun_core::noise::differs(first, again) => Some(class),
            _ => None,
        };
        let noise = [
            noisy(self.legacy, self.legacy_again, RecordClass::LegacyNoise),
            noisy(self.candidate, self.candidate_again, RecordClass::CandidateNoise),
        ];
        let mismatch = (self.stored_id != self.block_id).then_some(RecordClass::StoredIdMismatch);
        self.decision.records.iter().copied().chain(noise.into_iter().flatten()).chain(mismatch).collect()
    }

    /// Whether it was judged twice (a noise run picked it).
    pub fn judged_twice(&self) -> bool {
        self.legacy_again.is_some() || self.candidate_again.is_some()
    }
}

impl Record {
    /// The record of `class` about a judged block of a run in `mode`, with its reproduce line.
    pub fn of_judged(j: &JudgedBlock<'_>, class: RecordClass, mode: Mode, reproduce: String) -> Record {
        let d = j.decision;
        Record {
            height: j.height,
            block_id: j.block_id,
            class,
            mode,
            legacy: Side::from_outcome(j.legacy),
            candidate: Side::from_outcome(j.candidate),
            authoritative: Authoritative {
                verdict: d.authoritative.kind(),
                reason: d.authoritative.reason().to_owned(),
                source: d.source,
            },
            differing_facts: if class == RecordClass::Fact { d.differing_facts.clone() } else { vec![] },
            stored_id: (class == RecordClass::StoredIdMismatch).then_some(j.stored_id),
            second_answer: match class {
                RecordClass::LegacyNoise => Some(Side::from_outcome(j.legacy_again)),
                RecordClass::CandidateNoise => Some(Side::from_outcome(j.candidate_again)),
                _ => None,
            },
            env: j.env.clone(),
            blob: hex::encode(j.blob),
            reproduce,
        }
    }
}

/// `argv` as one line a POSIX shell (and Python's `shlex.split`) reads back as exactly these words: a
/// word of only `A-Za-z0-9` and `+-./:@_=,` is left as it is, every other word is single-quoted, a `'`
/// in it written `'"'"'`. (Single quotes only: a double-quoted word with backslash escapes, which some
/// quoting libraries emit, is read differently by `shlex.split` than by a shell.)
pub fn shell_line<S: AsRef<str>>(argv: &[S]) -> String {
    let word = |w: &str| -> String {
        let plain = !w.is_empty()
            && w.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.' | b'/' | b':' | b'@' | b'_' | b'=' | b',')
            });
        if plain {
            w.to_owned()
        } else {
            format!("'{}'", w.replace('\'', "'\"'\"'"))
        }
    };
    argv.iter().map(|w| word(w.as_ref())).collect::<Vec<_>>().join(" ")
}

/// The words of a line [`shell_line`] wrote (plain, single- or double-quoted parts, words apart by
/// spaces; no backslash escapes, which it never writes); `None` when a quote is left open.
pub fn shell_words(line: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut chars = line.chars();
    let mut word: Option<String> = None;
    while let Some(c) = chars.next() {
        match c {
            ' ' => words.extend(word.take()),
            '\'' | '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next()? {
                        q if q == c => break,
                        other => w.push(other),
                    }
                }
            }
            other => word.get_or_insert_with(String::new).push(other),
        }
    }
    words.extend(word);
    Some(words)
}

/// The header line of `divergences.csv`.
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
            (RecordClass::LegacyNoise | RecordClass::CandidateNoise, _, _) => match &self.second_answer {
                Some(second) => {
                    let (verdict, reason) = second.columns();
                    let why = if reason.is_empty() { String::new() } else { format!(" ({reason})") };
                    format!("asked again: {}{why}", if verdict.is_empty() { "no answer" } else { verdict })
                }
                None => String::new(),
            },
            (RecordClass::StoredIdMismatch, _, _) => format!(
                "the database stores id {} for this block",
                self.stored_id.map_or_else(|| "(none)".to_owned(), |h| h.to_string())
            ),
            _ => String::new(),
        };
        let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(Vec::new());
        w.write_record([
            &self.height.to_string(),
            &self.block_id.to_string(),
            self.class.as_str(),
            lv,
            &lr,
            cv,
            &cr,
            self.authoritative.verdict.as_str(),
            self.mode.as_str(),
            &note,
        ])
        .expect("writing to memory");
        let mut line = String::from_utf8(w.into_inner().expect("flush to memory")).expect("utf-8");
        line.truncate(line.trim_end_matches(['\n', '\r']).len());
        line
    }

    /// The JSON line (without newline).
    pub fn json_line(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("records serialize")
    }
}

#[cfg(test)]
mod tests {
    use super::{shell_line, shell_words};

    #[test]
    fn a_shell_line_quotes_every_word_that_needs_it() {
        assert_eq!(shell_line(&["dualrun", "replay", "--from", "7"]), "dualrun replay --from 7");
        assert_eq!(shell_line(&["--out", "a b;c"]), "--out 'a b;c'");
        assert_eq!(shell_line(&["q'; touch X", ""]), "'q'\"'\"'; touch X' ''");
        assert_eq!(shell_line(&["$(id)", "`id`", "a\nb"]), "'$(id)' '`id`' 'a\nb'");
    }

    #[test]
    fn a_shell_line_reads_back_as_its_words() {
        let argvs: [&[&str]; 4] = [
            &["dualrun", "replay", "--from", "7"],
            &["--out", "a b;c", ""],
            &["q'; touch X", "'", "\"", "x\"'y"],
            &["$(id)", "`id`", "a\nb", "/tmp/auditor copy/chain"],
        ];
        for argv in argvs {
            assert_eq!(
                shell_words(&shell_line(argv)).as_deref(),
                Some(&argv.iter().map(|w| w.to_string()).collect::<Vec<_>>()[..])
            );
        }
        assert_eq!(shell_words("a 'b"), None);
        assert_eq!(shell_words(""), Some(vec![]));
    }
}
