//! Evidence moved since a ledger recorded it. An entry names each run and file by the absolute path it
//! had when the promotion relied on it; an auditor given a copy elsewhere says where each recorded
//! directory is now (`gate verify --moved FROM=TO`), and the audit reads the copy, never the original.

use std::path::{Path, PathBuf};

/// Where recorded directories are now: each pair maps a recorded directory (and everything under it) to
/// its new place. Empty: the evidence is where it was recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Moved(Vec<(PathBuf, PathBuf)>);

/// A `FROM=TO` that cannot be a move.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MovedError {
    /// Not of the form `FROM=TO`.
    #[error("{0:?}: expected FROM=TO (the directory the ledger names, then where it is now)")]
    Form(String),
    /// FROM is not absolute: the ledger records absolute paths only.
    #[error("{0:?}: FROM must be an absolute path, as the ledger records them")]
    Relative(String),
}

impl Moved {
    /// The moves given, each `FROM=TO`; the first whose FROM holds a path applies to it.
    pub fn parse<S: AsRef<str>>(specs: &[S]) -> Result<Moved, MovedError> {
        let pair = |spec: &str| {
            let (from, to) = spec.split_once('=').ok_or_else(|| MovedError::Form(spec.into()))?;
            if from.is_empty() || to.is_empty() {
                return Err(MovedError::Form(spec.into()));
            }
            if !Path::new(from).is_absolute() {
                return Err(MovedError::Relative(spec.into()));
            }
            Ok((PathBuf::from(from), PathBuf::from(to)))
        };
        specs.iter().map(|s| pair(s.as_ref())).collect::<Result<_, _>>().map(Moved)
    }

    /// Where the recorded `path` is now: under the first move whose FROM holds it (compared component by
    /// component, so `/a/run` does not hold `/a/run2`), else where it was.
    pub fn locate(&self, recorded: &Path) -> PathBuf {
        self.0
            .iter()
            .find_map(|(from, to)| recorded.strip_prefix(from).ok().map(|rest| to.join(rest)))
            .unwrap_or_else(|| recorded.to_path_buf())
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
        assert_eq!(Moved::default().locate(Path::new("/srv/drill/run")), PathBuf::from("/srv/drill/run"));
    }

    #[test]
    fn a_move_that_is_not_from_an_absolute_path_to_a_path_is_refused() {
        assert_eq!(Moved::parse(&["/a"]), Err(MovedError::Form("/a".into())));
        assert_eq!(Moved::parse(&["=/b"]), Err(MovedError::Form("=/b".into())));
        assert_eq!(Moved::parse(&["/a="]), Err(MovedError::Form("/a=".into())));
        assert_eq!(Moved::parse(&["runs=/b"]), Err(MovedError::Relative("runs=/b".into())));
    }
}
