//! Where a report goes, and writing it: the runs given, each once under any spelling ([`Runs`]); the
//! HTML file (by default `RUN_DIR/report.html` for a single run) and the Markdown summary, which inside a
//! run directory may only be the files its format defines ([`Runs::outputs`]); both rendered and written
//! atomically ([`write`]), and the report of a run just made ([`for_run`]).

use std::path::{Path, PathBuf};

use dualrun_format::FileError;
use dualrun_rundir::files;

use crate::render::{self, RenderError};
use crate::Report;

/// Why a report was not written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// Several runs and no file named for the report.
    #[error("several run directories: say where the report goes with --out FILE.html")]
    SeveralRuns,
    /// A report file inside a run directory under a name its format does not define for it.
    #[error(
        "{}: inside a run directory a report is written only as {allowed} (a run directory holds only the \
         files its format defines; its own files are never overwritten): write it elsewhere",
        file.display()
    )]
    InsideRun {
        /// The file asked for.
        file: PathBuf,
        /// The only name it may have there.
        allowed: &'static str,
    },
    /// A template did not render.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// A file could not be written.
    #[error("writing {}", file.display())]
    Write {
        /// The report file.
        file: PathBuf,
        /// Why.
        #[source]
        source: FileError,
    },
}

/// The run directories of a report, each once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runs {
    /// The runs, in the order first given, each as first spelled.
    pub dirs: Vec<PathBuf>,
    /// Each run given again: as given then, and the run it is (as first spelled).
    pub repeated: Vec<(PathBuf, PathBuf)>,
    /// The canonical path of each of `dirs` (the path as given where it has none).
    canonical: Vec<PathBuf>,
}

impl Runs {
    /// The runs `given`, the same directory given twice (under any spelling) counted once.
    pub fn distinct(given: &[PathBuf]) -> Runs {
        let mut runs = Runs { dirs: Vec::new(), repeated: Vec::new(), canonical: Vec::new() };
        for run in given {
            let canonical = std::fs::canonicalize(run).unwrap_or_else(|_| run.clone());
            match runs.canonical.iter().position(|c| *c == canonical) {
                Some(i) => runs.repeated.push((run.clone(), runs.dirs[i].clone())),
                None => {
                    runs.canonical.push(canonical);
                    runs.dirs.push(run.clone());
                }
            }
        }
        runs
    }

    /// The HTML file: `out`, or for a single run `RUN_DIR/report.html`. Refuses several runs without
    /// `out`, and a file inside one of the runs (HTML or `markdown`) under a name other than the format's
    /// (`report.html`, `report.md`).
    pub fn outputs(&self, out: Option<&Path>, markdown: Option<&Path>) -> Result<PathBuf, OutputError> {
        let html = match (out, self.dirs.as_slice()) {
            (Some(o), _) => o.to_path_buf(),
            (None, [one]) => one.join(files::REPORT_HTML),
            (None, _) => return Err(OutputError::SeveralRuns),
        };
        for (file, allowed) in [(Some(html.as_path()), files::REPORT_HTML), (markdown, files::REPORT_MD)] {
            let Some(file) = file else { continue };
            let parent = file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            let inside = std::fs::canonicalize(parent).ok().filter(|p| self.canonical.contains(p));
            if inside.is_some() && !file.file_name().is_some_and(|n| n == allowed) {
                return Err(OutputError::InsideRun { file: file.into(), allowed });
            }
        }
        Ok(html)
    }
}

/// Renders `report` and writes it to `html`, and its Markdown summary to `markdown` when given.
pub fn write(report: &Report, html: &Path, markdown: Option<&Path>) -> Result<(), OutputError> {
    write_file(html, &render::html(report)?)?;
    if let Some(md) = markdown {
        write_file(md, &render::markdown(report)?)?;
    }
    Ok(())
}

/// Writes `RUN_DIR/report.html` for the run just made in `run`; returns its path.
pub fn for_run(run: &Path) -> Result<PathBuf, OutputError> {
    let html = run.join(files::REPORT_HTML);
    write(&Report::gather(&[run.to_path_buf()], None), &html, None)?;
    Ok(html)
}

fn write_file(file: &Path, text: &str) -> Result<(), OutputError> {
    dualrun_rundir::write_atomic(file, text.as_bytes())
        .map_err(|source| OutputError::Write { file: file.into(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two directories, `a` and `b`, in a temporary directory.
    fn two_dirs() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        (tmp, a, b)
    }

    #[test]
    fn a_run_given_twice_counts_once() {
        let (tmp, a, b) = two_dirs();
        let again = tmp.path().join("b/../a/.");
        let runs = Runs::distinct(&[a.clone(), b.clone(), again.clone(), "gone".into(), "gone".into()]);
        assert_eq!(runs.dirs, vec![a.clone(), b, "gone".into()]);
        assert_eq!(runs.repeated, vec![(again, a), ("gone".into(), "gone".into())]);
    }

    #[test]
    fn the_report_goes_beside_one_run_and_never_under_another_name_inside_a_run() {
        let (tmp, a, b) = two_dirs();
        let one = Runs::distinct(std::slice::from_ref(&a));
        assert_eq!(one.outputs(None, None).unwrap(), a.join("report.html"));
        assert_eq!(one.outputs(None, Some(&a.join("report.md"))).unwrap(), a.join("report.html"));
        let elsewhere = tmp.path().join("r.html");
        assert_eq!(one.outputs(Some(&elsewhere), Some(&tmp.path().join("r.md"))).unwrap(), elsewhere);

        let e = one.outputs(Some(&a.join("summary.json")), None).unwrap_err();
        assert!(matches!(&e, OutputError::InsideRun { allowed: "report.html", .. }), "{e}");
        assert!(e.to_string().starts_with(&format!("{}: inside a run directory", a.join("summary.json").display())));
        let e = one.outputs(None, Some(&a.join("notes.md"))).unwrap_err();
        assert!(matches!(e, OutputError::InsideRun { allowed: "report.md", .. }), "{e}");

        let two = Runs::distinct(&[a, b]);
        assert!(matches!(two.outputs(None, None), Err(OutputError::SeveralRuns)));
    }

    #[test]
    fn a_run_just_made_gets_its_report_and_an_unwritable_file_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path().join("run");
        std::fs::create_dir_all(&run).unwrap();
        for entry in std::fs::read_dir(dualrun_testkit::sample_run::dir()).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), run.join(entry.file_name())).unwrap();
        }
        let html = for_run(&run).unwrap();
        assert_eq!(html, run.join("report.html"));
        let want = render::html(&Report::gather(std::slice::from_ref(&run), None)).unwrap();
        assert_eq!(std::fs::read_to_string(&html).unwrap(), want);

        let report = Report::gather(std::slice::from_ref(&run), None);
        let file = tmp.path().join("missing/r.html");
        let e = write(&report, &file, None).unwrap_err();
        assert!(matches!(&e, OutputError::Write { file: f, .. } if *f == file), "{e}");
        assert_eq!(e.to_string(), format!("writing {}", file.display()));
    }
}
