//! `report verify --rerun`, as logic: a finished run's inputs checked present and unchanged
//! ([`check_inputs`]), replayed again by a `dualrun` executable into a temporary directory beside the run
//! ([`rerun`]; the arguments from [`crate::command::rerun_args`]), and the re-run's records compared with
//! the recorded ones ([`compare`]): identical, or where they first differ. A run copied elsewhere is
//! re-run from the copy's inputs ([`Moved`]) and compared with its records read as if written there.
//! The command line prints.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

use dualrun_format::{FileError, Hash32};
use dualrun_rundir::{files, Inputs, Moved, Orphans, RunDir, RunDirError};

/// A run that cannot be re-run, or whose re-run cannot be compared.
#[derive(Debug, thiserror::Error)]
pub enum RerunError {
    /// An input of the run is gone or changed (named).
    #[error("{0}")]
    Input(String),
    /// The run was not made by a command.
    #[error(transparent)]
    NotACommand(#[from] crate::command::NotACommand),
    /// A file could not be read.
    #[error(transparent)]
    File(#[from] FileError),
    /// A run directory could not be read.
    #[error(transparent)]
    RunDir(#[from] RunDirError),
    /// The run to re-run is not a finished, untouched run.
    #[error("{}: cannot re-run it", run.display())]
    NotFinished {
        /// The run directory as given.
        run: PathBuf,
        /// Why.
        #[source]
        source: RunDirError,
    },
    /// The executable could not be started.
    #[error("running the replay again")]
    Start(#[source] std::io::Error),
    /// The re-run ended with an exit code other than 0 or 1.
    #[error("the re-run did not complete ({status}):\n{stderr}")]
    Incomplete {
        /// How it ended.
        status: ExitStatus,
        /// Its standard error, trimmed.
        stderr: String,
    },
    /// The re-run's run directory could not be read.
    #[error("reading the re-run in {}", out.display())]
    Unreadable {
        /// Its directory.
        out: PathBuf,
        /// Why.
        #[source]
        source: RunDirError,
    },
    /// The re-run was made from other inputs than the run (which differ, and how).
    #[error("the re-run's inputs are not the run's: {0}")]
    OtherInputs(String),
}

/// The record files a re-run compares, in order.
pub const RECORD_FILES: [&str; 2] = [files::JSONL, files::CSV];

/// The chain, the profile and every file a verifier was made of must still be there and the same.
pub fn check_inputs(i: &Inputs) -> Result<(), RerunError> {
    crate::command::words(i)?;
    // A live run's chain is its daemon, asked again by the re-run itself.
    if !i.chain.live && !Path::new(&i.chain.path).exists() {
        return Err(RerunError::Input(format!("the chain {} is gone; a re-run needs the same chain", i.chain.path)));
    }
    let profile = dualrun_format::file::read(&i.profile.path)
        .map_err(|e| RerunError::Input(format!("the profile {}: {}", i.profile.path.display(), e.io)))?;
    let digest = dualrun_format::keccak256(&profile);
    if digest != i.profile.digest {
        return Err(RerunError::Input(format!(
            "profile {}: digest was {}, now {digest}",
            i.profile.path.display(),
            i.profile.digest
        )));
    }
    for v in [&i.legacy, &i.candidate].into_iter().flatten() {
        for (file, want) in &v.files {
            let got = std::fs::read(file)
                .map(|b| dualrun_format::keccak256(&b).to_string())
                .map_err(|e| RerunError::Input(format!("{}: its file {file} is gone ({e})", v.spec)))?;
            if &got != want {
                return Err(RerunError::Input(format!("{}: {file}: digest was {want}, now {got}", v.spec)));
            }
        }
    }
    Ok(())
}

/// A finished run replayed again, and how its records compare.
#[derive(Debug)]
pub struct Rerun {
    /// The run, as read before the re-run.
    pub original: RunDir,
    /// How the re-run's records compare with its records.
    pub comparison: Comparison,
}

/// Replays the finished run in `run` again with `exe` (a `dualrun`), with the manifest's inputs, and
/// compares the records. The re-run goes beside the run — records name the run directory's parent in
/// their reproduce lines, so only a re-run there can give the same bytes — and is removed afterwards.
/// Evidence copied elsewhere (`moved`) is re-run from the copy's inputs, and its records are compared
/// as they would read had they been written there.
pub fn rerun(exe: &Path, run: &Path, moved: &Moved) -> Result<Rerun, RerunError> {
    // A finished, untouched run: a re-run needs its records as recorded.
    let original = RunDir::open(run).map_err(|source| RerunError::NotFinished { run: run.into(), source })?;
    let inputs = original.manifest.inputs.relocated(moved);
    check_inputs(&inputs)?;
    let out = scratch_dir(&original.path);
    let _ = std::fs::remove_dir_all(&out);
    let result = run_again(exe, &inputs, &out).and_then(|again| compare(&original, &again, moved));
    let _ = std::fs::remove_dir_all(&out);
    Ok(Rerun { comparison: result?, original })
}

/// Where the re-run of the run in `dir` (canonical) goes: a hidden directory beside it, named by this
/// process.
fn scratch_dir(dir: &Path) -> PathBuf {
    let parent = dir.parent().unwrap_or(Path::new("/"));
    let name = dir.file_name().unwrap_or_default().to_string_lossy();
    parent.join(format!(".{name}.rerun-{}", std::process::id()))
}

/// Runs `exe` with `inputs` (the original's, where they are now) into `out` and reads the run it made,
/// which must have exactly these inputs.
fn run_again(exe: &Path, inputs: &Inputs, out: &Path) -> Result<RunDir, RerunError> {
    let args = crate::command::rerun_args(inputs, out)?;
    let output = Command::new(exe).args(args).output().map_err(RerunError::Start)?;
    if !matches!(output.status.code(), Some(0 | 1)) {
        let stderr = String::from_utf8_lossy(&output.stderr).trim_end().to_owned();
        return Err(RerunError::Incomplete { status: output.status, stderr });
    }
    let again = RunDir::open(out).map_err(|source| RerunError::Unreadable { out: out.into(), source })?;
    if again.manifest.inputs_digest != inputs.digest() {
        return Err(RerunError::OtherInputs(again.manifest.inputs.changes_from(inputs)));
    }
    Ok(again)
}

/// How a re-run's records compare with the recorded ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Comparison {
    /// Both record files byte for byte (orphaned records of a live run aside).
    Identical {
        /// The records.
        records: u64,
    },
    /// The first difference.
    Differs {
        /// The record file.
        file: &'static str,
        /// The line, from 1.
        line: usize,
        /// What differs: the record's height and class and each field, or both lines.
        description: String,
    },
}

/// Both record files byte for byte (a live run's orphaned records aside: the re-run follows only the
/// final chain; a moved run's recorded paths read where they are now); the first differing line is
/// described.
pub fn compare(original: &RunDir, again: &RunDir, moved: &Moved) -> Result<Comparison, RerunError> {
    let orphans = Orphans::of(&original.path)?;
    for name in RECORD_FILES {
        let (a, b) = (read(&original.path, name)?, read(&again.path, name)?);
        let a = if orphans.is_empty() { a } else { without_orphans(&a, name, &orphans) };
        if a == b {
            continue;
        }
        let (la, lb): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
        let same = |(x, y): (&&str, &&str)| moved.same_record_line(name, x, y);
        let at = la.iter().zip(&lb).position(|pair| !same(pair)).unwrap_or(la.len().min(lb.len()));
        if at == la.len() && at == lb.len() {
            continue;
        }
        let relocated = la.get(at).map(|l| moved.relocate_text(l));
        let description = describe(relocated.as_deref(), lb.get(at).copied());
        return Ok(Comparison::Differs { file: name, line: at + 1, description });
    }
    Ok(Comparison::Identical { records: original.summary.records })
}

/// A record file of a run directory, opened as every reader opens one (no link followed).
fn read(dir: &Path, name: &str) -> Result<String, RerunError> {
    use std::io::Read;
    let path = dir.join(name);
    let missing = || FileError::new(&path, std::io::Error::from(std::io::ErrorKind::NotFound));
    let (mut file, _) = files::open(dir, name)?.ok_or_else(missing)?;
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(FileError::at(&path))?;
    Ok(text)
}

/// The record file's text without the orphaned records' lines (the CSV keeps its header).
fn without_orphans(text: &str, name: &str, orphans: &Orphans) -> String {
    let header = usize::from(name == files::CSV);
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.lines().enumerate() {
        let orphaned =
            i >= header && record_key(line, name).is_some_and(|(h, id)| orphans.contains((i - header) as u64, h, &id));
        if !orphaned {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The height and block id of a record line (JSON or CSV).
fn record_key(line: &str, name: &str) -> Option<(u64, Hash32)> {
    if name == files::CSV {
        let mut cols = line.split(',');
        return Some((cols.next()?.parse().ok()?, cols.next()?.parse().ok()?));
    }
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    Some((v["height"].as_u64()?, v["block_id"].as_str()?.parse().ok()?))
}

/// What differs between a recorded line and the re-run's: for records, the height, class and each
/// field that differs; otherwise both lines.
fn describe(recorded: Option<&str>, again: Option<&str>) -> String {
    let (Some(a), Some(b)) = (recorded, again) else {
        return format!("{} has no line there", if recorded.is_none() { "the recorded file" } else { "the re-run" });
    };
    let parse = |l: &str| serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(l).ok();
    let clip = |v: &serde_json::Value| v.to_string().chars().take(200).collect::<String>();
    if let (Some(x), Some(y)) = (parse(a), parse(b)) {
        let fields: Vec<String> = x
            .keys()
            .chain(y.keys().filter(|k| !x.contains_key(*k)))
            .filter(|k| x.get(*k) != y.get(*k))
            .map(|k| {
                // Long strings are shown from a little before where they first differ.
                let from = match (x.get(k), y.get(k)) {
                    (Some(serde_json::Value::String(p)), Some(serde_json::Value::String(q))) => {
                        p.chars().zip(q.chars()).take_while(|(c, d)| c == d).count().saturating_sub(40)
                    }
                    _ => 0,
                };
                let show = |m: &serde_json::Map<String, serde_json::Value>| match m.get(k) {
                    Some(serde_json::Value::String(t)) if from > 0 => {
                        format!("\"…{}", t.chars().skip(from).take(160).collect::<String>())
                    }
                    Some(v) => clip(v),
                    None => "absent".into(),
                };
                format!("\n  {k}: recorded {}\n  {:width$}  re-run   {}", show(&x), "", show(&y), width = k.len())
            })
            .collect();
        let at = |k: &str| x.get(k).map_or("?".into(), |v| v.to_string());
        return format!("the record at height {}, class {}:{}", at("height"), at("class"), fields.concat());
    }
    format!(
        "\n  recorded: {}\n  re-run:   {}",
        a.chars().take(200).collect::<String>(),
        b.chars().take(200).collect::<String>()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use dualrun_core::Mode;
    use dualrun_rundir::{Manifest, RunWriter, Stats, Summary};

    fn finished(dir: &Path, lines: &[&str]) -> RunDir {
        let manifest = Manifest::new(
            crate::command::tests::inputs(false, crate::command::tests::settings(2.5)),
            "/chains/a b/data.mdb".into(),
            1,
        );
        let mut w = RunWriter::create(dir, &manifest).unwrap();
        let mut stats = Stats::default();
        let record: dualrun_rundir::Record = serde_json::from_str(RECORD).unwrap();
        for reason in lines {
            let mut r = record.clone();
            r.reproduce = (*reason).into();
            stats.add(r.class);
            w.write(&r).unwrap();
        }
        let summary = Summary::from_stats(Mode::Shadow, 3, 9, &stats, true, 10);
        w.finish(&summary, Manifest { complete: true, ..manifest }).unwrap();
        RunDir::open(dir).unwrap()
    }

    const RECORD: &str = r#"{"height":5,"block_id":"0505050505050505050505050505050505050505050505050505050505050505","class":"halt","mode":"shadow","legacy":{"verdict":"accept","reason":"","detail":"","facts":{}},"candidate":{"verdict":"reject","reason":"leader.missing","detail":"","facts":{}},"authoritative":{"verdict":"accept","reason":"","source":"legacy"},"env":{"now":7,"network_name":"net","network_id":"00000000000000000000000000000000","genesis_id":"0101010101010101010101010101010101010101010101010101010101010101","activation_height":1,"prev_id":null,"timestamps":[]},"blob":"0a0b","reproduce":"x"}"#;

    /// An executable for [`run_again`]: a shell script doing `body` (`$out` is its `--out`).
    fn script(dir: &Path, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join("dualrun-stand-in");
        std::fs::write(&path, format!("#!/bin/sh\nfor a; do out=$a; done\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn a_rerun_is_read_back_and_its_end_and_inputs_checked() {
        let tmp = tempfile::tempdir().unwrap();
        let a = finished(&tmp.path().join("a"), &["one"]);
        let out = scratch_dir(&a.path);
        assert_eq!(out, tmp.path().canonicalize().unwrap().join(format!(".a.rerun-{}", std::process::id())));

        // The replay made again, exit 1 (records): read back and compared.
        let copy = script(tmp.path(), &format!("cp -r '{}' \"$out\"; exit 1", a.path.display()));
        let again = run_again(&copy, &a.manifest.inputs, &out).unwrap();
        assert_eq!(compare(&a, &again, &Moved::default()).unwrap(), Comparison::Identical { records: 1 });
        std::fs::remove_dir_all(&out).unwrap();

        let failing = script(tmp.path(), "echo 'no chain' >&2; exit 2");
        let e = run_again(&failing, &a.manifest.inputs, &out).unwrap_err();
        assert!(matches!(&e, RerunError::Incomplete { stderr, .. } if stderr == "no chain"), "{e}");
        assert_eq!(e.to_string(), "the re-run did not complete (exit status: 2):\nno chain");

        let e = run_again(&script(tmp.path(), "exit 0"), &a.manifest.inputs, &out).unwrap_err();
        assert!(matches!(e, RerunError::Unreadable { .. }), "{e}");

        let e = run_again(&tmp.path().join("missing"), &a.manifest.inputs, &out).unwrap_err();
        assert!(matches!(e, RerunError::Start(_)), "{e}");

        // A run that is not finished is not re-run.
        std::fs::write(a.path.join(files::CSV), "edited").unwrap();
        let e = rerun(&copy, &a.path, &Moved::default()).unwrap_err();
        assert!(matches!(e, RerunError::NotFinished { .. }), "{e}");
    }

    #[test]
    fn records_compare_identical_or_name_the_first_difference() {
        let tmp = tempfile::tempdir().unwrap();
        let a = finished(&tmp.path().join("a"), &["one", "two"]);
        let b = finished(&tmp.path().join("b"), &["one", "two"]);
        let c = finished(&tmp.path().join("c"), &["one", "three"]);
        assert_eq!(compare(&a, &b, &Moved::default()).unwrap(), Comparison::Identical { records: 2 });
        match compare(&a, &c, &Moved::default()).unwrap() {
            Comparison::Differs { file, line, description } => {
                assert_eq!((file, line), (files::JSONL, 2));
                assert!(
                    description.contains("reproduce: recorded \"two\"") && description.contains("\"three\""),
                    "{description}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    /// A copy's re-run names the copy's paths: its records are read as if written there, and only there.
    #[test]
    fn a_moved_runs_records_are_compared_where_it_is_now() {
        let tmp = tempfile::tempdir().unwrap();
        let recorded =
            finished(&tmp.path().join("a"), &["dualrun replay --chain /srv/drill/chains/n2 --out /srv/drill/r"]);
        let again = finished(&tmp.path().join("b"), &["dualrun replay --chain /copy/chains/n2 --out /copy/r"]);
        let moved = Moved::parse(&["/srv/drill=/copy"]).unwrap();
        assert_eq!(compare(&recorded, &again, &moved).unwrap(), Comparison::Identical { records: 1 });
        assert!(matches!(compare(&recorded, &again, &Moved::default()).unwrap(), Comparison::Differs { line: 1, .. }));
        let elsewhere = Moved::parse(&["/srv/drill=/other"]).unwrap();
        assert!(matches!(compare(&recorded, &again, &elsewhere).unwrap(), Comparison::Differs { .. }));
    }
}
