//! Evidence moved since it was recorded. A ledger entry names each run and file, and a manifest each
//! input (chain, profile, Python path, legacy source), by the absolute path it had when it was written;
//! an auditor given a copy elsewhere says where each recorded directory is now (`--moved FROM=TO`), and
//! the audit reads the copy, never the original. A re-run of a moved run is compared with its records
//! read as if written at the new place ([`Moved::same_record_line`]).

use std::path::{Path, PathBuf};

/// Where recorded directories are now: each pair maps a recorded directory (and everything under it) to
/// its new place. Empty: the evidence is where it was recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Moved(Vec<(PathBuf, PathBuf)>);

/// A `FROM=TO` that cannot be a move.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MovedError {
    /// Not of the form `FROM=TO`.
    #[error("{0:?}: expected FROM=TO (the directory the evidence names, then where it is now)")]
    Form(String),
    /// FROM is not absolute: evidence records absolute paths only.
    #[error("{0:?}: FROM must be an absolute path, as the evidence records them")]
    Relative(String),
}

impl Moved {
    /// The moves given, each `FROM=TO` (TO relative to the current directory, or absolute); the first
    /// whose FROM holds a path applies to it.
    pub fn parse<S: AsRef<str>>(specs: &[S]) -> Result<Moved, MovedError> {
        let pair = |spec: &str| {
            let (from, to) = spec.split_once('=').ok_or_else(|| MovedError::Form(spec.into()))?;
            if from.is_empty() || to.is_empty() {
                return Err(MovedError::Form(spec.into()));
            }
            if !Path::new(from).is_absolute() {
                return Err(MovedError::Relative(spec.into()));
            }
            // `/srv/drill/` names what `/srv/drill` does; a relative TO is where it is from here (a
            // re-run's paths are absolute, as the run's were).
            let trim = |p: &str| PathBuf::from(if p.len() > 1 { p.trim_end_matches('/') } else { p });
            let to = std::path::absolute(trim(to)).map_err(|_| MovedError::Form(spec.into()))?;
            Ok((trim(from), to))
        };
        specs.iter().map(|s| pair(s.as_ref())).collect::<Result<_, _>>().map(Moved)
    }

    /// No move: the evidence is where it was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Where the recorded `path` is now: under the first move whose FROM holds it (compared component by
    /// component, so `/a/run` does not hold `/a/run2`), else where it was.
    pub fn locate(&self, recorded: &Path) -> PathBuf {
        self.0
            .iter()
            .find_map(|(from, to)| recorded.strip_prefix(from).ok().map(|rest| to.join(rest)))
            .unwrap_or_else(|| recorded.to_path_buf())
    }

    /// [`Moved::locate`] for a path recorded as text.
    pub fn locate_str(&self, recorded: &str) -> String {
        self.locate(Path::new(recorded)).to_string_lossy().into_owned()
    }

    /// `text` (a record line, a reproduce line, a traceback) as it would read had it been written with
    /// the evidence where it is now: each recorded path under a move's FROM written under its TO. A FROM
    /// counts where it stands as a whole path — not preceded by a character of a file name, and followed
    /// by `/` or by a character no file name goes on with (so `/a/run` is not found in `/a/run2` or
    /// `/x/a/run`).
    pub fn relocate_text(&self, text: &str) -> String {
        if self.is_empty() {
            return text.to_owned();
        }
        let continues = |c: char| c.is_alphanumeric() || "._-~+@%=".contains(c);
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        'scan: while let Some(at) = rest.find('/') {
            out.push_str(&rest[..at]);
            let before = out.chars().last();
            rest = &rest[at..];
            if !before.is_some_and(continues) {
                for (from, to) in &self.0 {
                    let from = from.to_string_lossy();
                    if let Some(after) = rest.strip_prefix(from.as_ref()) {
                        if !after.chars().next().is_some_and(continues) {
                            out.push_str(&to.to_string_lossy());
                            rest = after;
                            continue 'scan;
                        }
                    }
                }
            }
            out.push('/');
            rest = &rest[1..];
        }
        out.push_str(rest);
        out
    }

    /// Whether `recorded`, a line of the record file `file` written with the evidence where it was
    /// recorded, says what `again`, written where it is now, says. A JSON record is compared as values,
    /// each string [`Moved::relocate_text`]ed and its reproduce line word by word (a path with a space
    /// needs quoting another did not); a CSV line field by field (a field's quoting may change too).
    pub fn same_record_line(&self, file: &str, recorded: &str, again: &str) -> bool {
        if recorded == again || self.is_empty() {
            return recorded == again;
        }
        if file == crate::files::CSV {
            let fields = |line: &str| -> Option<Vec<String>> {
                let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(line.as_bytes());
                let record = reader.records().next()?.ok()?;
                Some(record.iter().map(str::to_owned).collect())
            };
            let relocated = fields(recorded).map(|f| f.iter().map(|x| self.relocate_text(x)).collect::<Vec<_>>());
            return relocated.is_some() && relocated == fields(again);
        }
        let (Ok(a), Ok(b)) = (serde_json::from_str(recorded), serde_json::from_str::<serde_json::Value>(again)) else {
            return false;
        };
        self.relocate_value(a, false) == b
    }

    /// A JSON value with every string relocated; `reproduce` (a shell line) word by word.
    fn relocate_value(&self, v: serde_json::Value, shell: bool) -> serde_json::Value {
        use serde_json::Value;
        match v {
            Value::String(text) if shell => match crate::shell_words(&text) {
                Some(words) => {
                    let words: Vec<String> = words.iter().map(|w| self.relocate_text(w)).collect();
                    Value::String(crate::shell_line(&words))
                }
                None => Value::String(self.relocate_text(&text)),
            },
            Value::String(text) => Value::String(self.relocate_text(&text)),
            Value::Array(items) => Value::Array(items.into_iter().map(|i| self.relocate_value(i, false)).collect()),
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(k, v)| {
                        let shell = k == "reproduce";
                        (k, self.relocate_value(v, shell))
                    })
                    .collect(),
            ),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_move_applies_to_what_is_under_its_from_only() {
        let moved = Moved::parse(&["/srv/drill=/home/auditor/drill", "/srv/other=/x"]).unwrap();
        assert_eq!(moved.locate(Path::new("/srv/drill/runs/a")), PathBuf::from("/home/auditor/drill/runs/a"));
        assert_eq!(moved.locate(Path::new("/srv/drill")), PathBuf::from("/home/auditor/drill"));
        assert_eq!(moved.locate(Path::new("/srv/drill2/runs/a")), PathBuf::from("/srv/drill2/runs/a"));
        assert_eq!(moved.locate(Path::new("/elsewhere/run")), PathBuf::from("/elsewhere/run"));
        assert_eq!(moved.locate_str("/srv/other/p.toml"), "/x/p.toml");
        assert_eq!(Moved::default().locate(Path::new("/srv/drill/run")), PathBuf::from("/srv/drill/run"));
        let trailing = Moved::parse(&["/srv/drill/=/copy/"]).unwrap();
        assert_eq!(trailing.locate(Path::new("/srv/drill/runs")), PathBuf::from("/copy/runs"));
        let relative = Moved::parse(&["/srv/drill=copy"]).unwrap();
        let here = std::env::current_dir().unwrap();
        assert_eq!(relative.locate(Path::new("/srv/drill/runs")), here.join("copy/runs"));
    }

    #[test]
    fn a_move_that_is_not_from_an_absolute_path_to_a_path_is_refused() {
        assert_eq!(Moved::parse(&["/a"]), Err(MovedError::Form("/a".into())));
        assert_eq!(Moved::parse(&["=/b"]), Err(MovedError::Form("=/b".into())));
        assert_eq!(Moved::parse(&["/a="]), Err(MovedError::Form("/a=".into())));
        assert_eq!(Moved::parse(&["runs=/b"]), Err(MovedError::Relative("runs=/b".into())));
    }

    #[test]
    fn text_is_relocated_where_a_from_stands_as_a_whole_path() {
        let moved = Moved::parse(&["/srv/drill=/home/a b/drill"]).unwrap();
        let line =
            r#"{"reproduce":"dualrun replay --chain /srv/drill/chains/n2 --out '/srv/drill/runs/x'","p":"/srv/drill"}"#;
        assert_eq!(
            moved.relocate_text(line),
            r#"{"reproduce":"dualrun replay --chain /home/a b/drill/chains/n2 --out '/home/a b/drill/runs/x'","p":"/home/a b/drill"}"#
        );
        for untouched in ["/srv/drill2/x", "/x/srv/drill/y", "a/srv/drill", "no path at all", "", "/", "//srv"] {
            assert_eq!(moved.relocate_text(untouched), untouched);
        }
        assert_eq!(moved.relocate_text("1,/srv/drill,/srv/drill/"), "1,/home/a b/drill,/home/a b/drill/");
        assert_eq!(Moved::default().relocate_text("/srv/drill"), "/srv/drill");
    }

    #[test]
    fn record_lines_are_compared_where_the_evidence_is_now() {
        let moved = Moved::parse(&["/srv/drill=/home/a b/drill"]).unwrap();
        let (jsonl, csv) = (crate::files::JSONL, crate::files::CSV);
        let recorded = r#"{"height":5,"detail":"at /srv/drill/legacy/m.py","reproduce":"dualrun replay --chain /srv/drill/chain --out /srv/drill/runs/r"}"#;
        let again = r#"{"height":5,"detail":"at /home/a b/drill/legacy/m.py","reproduce":"dualrun replay --chain '/home/a b/drill/chain' --out '/home/a b/drill/runs/r'"}"#;
        assert!(moved.same_record_line(jsonl, recorded, again));
        assert!(!moved.same_record_line(jsonl, recorded, &again.replace("height\":5", "height\":6")));
        assert!(!moved.same_record_line(jsonl, recorded, &again.replace("m.py", "n.py")));
        assert!(!Moved::default().same_record_line(jsonl, recorded, again), "no move: the bytes");
        assert!(!moved.same_record_line(jsonl, recorded, "not json"));
        let recorded = "5,0a,halt,accept,,reject,leader.missing,accept,shadow,/srv/drill/legacy/m.py: line 3";
        let again = "5,0a,halt,accept,,reject,leader.missing,accept,shadow,/home/a b/drill/legacy/m.py: line 3";
        assert!(moved.same_record_line(csv, recorded, again));
        assert!(!moved.same_record_line(csv, recorded, &again.replace("line 3", "line 4")));
        let quoted = Moved::parse(&["/srv/drill=/a \"b\" \\c"]).unwrap();
        let again = r#"{"height":5,"detail":"at /a \"b\" \\c/legacy/m.py","reproduce":"dualrun replay --chain '/a \"b\" \\c/chain' --out '/a \"b\" \\c/runs/r'"}"#;
        let recorded = r#"{"height":5,"detail":"at /srv/drill/legacy/m.py","reproduce":"dualrun replay --chain /srv/drill/chain --out /srv/drill/runs/r"}"#;
        assert!(
            quoted.same_record_line(jsonl, recorded, again),
            "a quote or a backslash in a path is compared as written"
        );
        let comma = Moved::parse(&["/srv/drill=/a,b"]).unwrap();
        assert!(comma.same_record_line(
            csv,
            recorded,
            &recorded.replace(",/srv/drill/", ",\"/a,b/").replace("line 3", "line 3\"")
        ));
    }
}
