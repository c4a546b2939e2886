//! `report verify --rerun`, as logic: a finished run's inputs checked present and unchanged
//! ([`check_inputs`]), the arguments that replay them again ([`command_line`]), and the re-run's records
//! compared with the recorded ones ([`compare`]): identical, or where they first differ. The command line
//! runs the process and prints.

use std::ffi::OsString;
use std::path::Path;

use dualrun_format::{FileError, Hash32};
use dualrun_rundir::{files, Inputs, Manifest, Orphans, RunDir, RunDirError};

/// A run that cannot be re-run, or whose re-run cannot be compared.
#[derive(Debug, thiserror::Error)]
pub enum RerunError {
    /// An input of the run is gone or changed (named).
    #[error("{0}")]
    Input(String),
    /// A file could not be read.
    #[error(transparent)]
    File(#[from] FileError),
    /// A run directory could not be read.
    #[error(transparent)]
    RunDir(#[from] RunDirError),
}

/// The record files a re-run compares, in order.
pub const RECORD_FILES: [&str; 2] = [files::JSONL, files::CSV];

/// The chain, the profile and every file a verifier was made of must still be there and the same.
pub fn check_inputs(m: &Manifest) -> Result<(), RerunError> {
    let i = &m.inputs;
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

/// The `dualrun` arguments that replay `inputs` again into `out`: `follow` from the daemon for a live
/// run, `replay` of the chain otherwise, with the profile, mode, `now`, range, verifiers and settings.
pub fn command_line(inputs: &Inputs, out: &Path) -> Vec<OsString> {
    let i = inputs;
    let mut args: Vec<OsString> = Vec::new();
    let mut push = |words: &[&str]| args.extend(words.iter().map(OsString::from));
    if i.chain.live {
        push(&["follow", "--daemon", &i.chain.path]);
    } else {
        push(&["replay", "--chain", &i.chain.path]);
    }
    push(&["--profile"]);
    args.push(i.profile.path.clone().into_os_string());
    let mut push = |words: &[&str]| args.extend(words.iter().map(OsString::from));
    push(&["--mode", &i.mode.to_string(), "--now", &i.env.now]);
    push(&["--from", &i.chain.from.to_string(), "--to", &i.chain.to.to_string()]);
    if let Some(l) = &i.legacy {
        push(&["--legacy", &l.spec]);
    }
    if let Some(c) = &i.candidate {
        push(&["--candidate", &c.spec]);
    }
    let s = &i.settings;
    if let Some(t) = s.get("timeout_seconds").and_then(serde_json::Value::as_f64) {
        push(&["--timeout", &t.to_string()]);
    }
    if let Some(p) = s.get("reason_map").and_then(|r| r.get("path")).and_then(serde_json::Value::as_str) {
        push(&["--reason-map", p]);
    }
    for p in s.get("python_path").and_then(serde_json::Value::as_array).into_iter().flatten() {
        if let Some(p) = p.as_str() {
            push(&["--python-path", p]);
        }
    }
    args.push("--out".into());
    args.push(out.as_os_str().to_owned());
    args
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
/// final chain); the first differing line is described.
pub fn compare(original: &RunDir, again: &RunDir) -> Result<Comparison, RerunError> {
    let orphans = Orphans::of(&original.path)?;
    for name in RECORD_FILES {
        let (a, b) = (read(&original.path, name)?, read(&again.path, name)?);
        let a = if orphans.is_empty() { a } else { without_orphans(&a, name, &orphans) };
        if a == b {
            continue;
        }
        let (la, lb): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
        let at = la.iter().zip(&lb).position(|(x, y)| x != y).unwrap_or(la.len().min(lb.len()));
        let description = describe(la.get(at).copied(), lb.get(at).copied());
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
    use dualrun_core::{Mode, VerifierIdentity};
    use dualrun_rundir::{ChainInputs, EnvInputs, ProfileInputs, RunWriter, Stats, Summary};

    fn inputs(live: bool) -> Inputs {
        Inputs {
            chain: ChainInputs {
                path: if live { "http://127.0.0.1:18081".into() } else { "/chains/a b".into() },
                schema_version: 5,
                genesis_id: Hash32([1; 32]),
                from: 3,
                to: 9,
                blocks: 7,
                chain_digest: Hash32([2; 32]),
                live,
            },
            profile: ProfileInputs { path: "/p.toml".into(), digest: Hash32([3; 32]), network: "net".into() },
            mode: Mode::Shadow,
            legacy: Some(VerifierIdentity {
                spec: "python:m".into(),
                description: String::new(),
                files: Default::default(),
            }),
            candidate: None,
            env: EnvInputs { now: "block".into() },
            settings: serde_json::json!({ "timeout_seconds": 2.5, "python_path": ["/x y"], "reason_map": { "path": "/r.toml" } }),
            shard: None,
        }
    }

    #[test]
    fn the_command_line_replays_the_manifests_inputs() {
        let words = |i: &Inputs| -> Vec<String> {
            command_line(i, Path::new("/out")).into_iter().map(|w| w.into_string().unwrap()).collect()
        };
        assert_eq!(
            words(&inputs(false)),
            [
                "replay",
                "--chain",
                "/chains/a b",
                "--profile",
                "/p.toml",
                "--mode",
                "shadow",
                "--now",
                "block",
                "--from",
                "3",
                "--to",
                "9",
                "--legacy",
                "python:m",
                "--timeout",
                "2.5",
                "--reason-map",
                "/r.toml",
                "--python-path",
                "/x y",
                "--out",
                "/out",
            ]
        );
        assert_eq!(words(&inputs(true))[..3], ["follow", "--daemon", "http://127.0.0.1:18081"]);
    }

    fn finished(dir: &Path, lines: &[&str]) -> RunDir {
        let manifest = Manifest::new(inputs(false), "/chains/a b/data.mdb".into(), 1);
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

    #[test]
    fn records_compare_identical_or_name_the_first_difference() {
        let tmp = tempfile::tempdir().unwrap();
        let a = finished(&tmp.path().join("a"), &["one", "two"]);
        let b = finished(&tmp.path().join("b"), &["one", "two"]);
        let c = finished(&tmp.path().join("c"), &["one", "three"]);
        assert_eq!(compare(&a, &b).unwrap(), Comparison::Identical { records: 2 });
        match compare(&a, &c).unwrap() {
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
}
