//! `report verify --rerun`: replays a finished run's inputs again, as the manifest states them, into a
//! temporary directory beside the run, and checks that the records follow from the inputs: both record files
//! byte-identical. An input that is gone or changed is named (exit 2); a record that differs is named
//! (exit 1).

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};
use dualrun_format::Hash32;
use dualrun_rundir::{files, Manifest, Orphans, RunDir};

use crate::commands::report::{finished_run, RECORD_FILES};
use crate::Outcome;

pub(crate) fn check(run: &Path) -> Result<Outcome> {
    let original = finished_run(run)?;
    let m = &original.manifest;
    check_inputs_present(m)?;
    // Beside the run: records name the run directory's parent in their reproduce lines, so only a
    // re-run there can give the same bytes. Removed afterwards.
    let parent = original.path.parent().unwrap_or(Path::new("/"));
    let name = original.path.file_name().unwrap_or_default().to_string_lossy();
    let out = parent.join(format!(".{name}.rerun-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let result = rerun_into(&original, &out);
    let outcome = result.and_then(|again| compare(&original, &again));
    let _ = std::fs::remove_dir_all(&out);
    outcome
}

/// The chain, the profile and every file a verifier was made of must still be there and the same.
fn check_inputs_present(m: &Manifest) -> Result<()> {
    let i = &m.inputs;
    // A live run's chain is its daemon, asked again by the re-run itself.
    if !i.chain.live && !Path::new(&i.chain.path).exists() {
        bail!("the chain {} is gone; a re-run needs the same chain", i.chain.path);
    }
    let profile =
        std::fs::read(&i.profile.path).with_context(|| format!("the profile {}", i.profile.path.display()))?;
    let digest = dualrun_format::keccak256(&profile);
    if digest != i.profile.digest {
        bail!("profile {}: digest was {}, now {digest}", i.profile.path.display(), i.profile.digest);
    }
    for v in [&i.legacy, &i.candidate].into_iter().flatten() {
        for (file, want) in &v.files {
            let got = std::fs::read(file)
                .map(|b| dualrun_format::keccak256(&b).to_string())
                .with_context(|| format!("{}: its file {file} is gone", v.spec))?;
            if &got != want {
                bail!("{}: {file}: digest was {want}, now {got}", v.spec);
            }
        }
    }
    Ok(())
}

/// Runs `dualrun replay` again with the manifest's inputs.
fn rerun_into(original: &RunDir, out: &Path) -> Result<RunDir> {
    let i = &original.manifest.inputs;
    let mut cmd = Command::new(std::env::current_exe().context("finding this executable")?);
    // A live run is followed again over its range, from its daemon; any other is replayed.
    if i.chain.live {
        cmd.arg("follow").args(["--daemon", &i.chain.path]);
    } else {
        cmd.arg("replay").args(["--chain", &i.chain.path]);
    }
    cmd.arg("--profile").arg(&i.profile.path);
    cmd.args(["--mode", &i.mode.to_string(), "--now", &i.env.now]);
    cmd.args(["--from", &i.chain.from.to_string(), "--to", &i.chain.to.to_string()]);
    if let Some(l) = &i.legacy {
        cmd.args(["--legacy", &l.spec]);
    }
    if let Some(c) = &i.candidate {
        cmd.args(["--candidate", &c.spec]);
    }
    let s = &i.settings;
    if let Some(t) = s.get("timeout_seconds").and_then(serde_json::Value::as_f64) {
        cmd.args(["--timeout", &t.to_string()]);
    }
    if let Some(p) = s.get("reason_map").and_then(|r| r.get("path")).and_then(serde_json::Value::as_str) {
        cmd.args(["--reason-map", p]);
    }
    for p in s.get("python_path").and_then(serde_json::Value::as_array).into_iter().flatten() {
        if let Some(p) = p.as_str() {
            cmd.args(["--python-path", p]);
        }
    }
    cmd.arg("--out").arg(out);
    let output = cmd.output().context("running the replay again")?;
    if !matches!(output.status.code(), Some(0 | 1)) {
        bail!(
            "the re-run did not complete ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim_end()
        );
    }
    let again = RunDir::open(out).with_context(|| format!("reading the re-run in {}", out.display()))?;
    if again.manifest.inputs_digest != original.manifest.inputs_digest {
        bail!(
            "the re-run's inputs are not the run's: {}",
            again.manifest.inputs.changes_from(&original.manifest.inputs)
        );
    }
    Ok(again)
}

/// Both record files byte for byte (a live run's orphaned records aside: the re-run follows only the
/// final chain); the first differing record is named.
fn compare(original: &RunDir, again: &RunDir) -> Result<Outcome> {
    let orphans = Orphans::of(&original.path)?;
    for name in RECORD_FILES {
        let (a, b) = (read(&original.path, name)?, read(&again.path, name)?);
        let a = if orphans.is_empty() { a } else { without_orphans(&a, name, &orphans) };
        if a == b {
            continue;
        }
        let (la, lb): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
        let at = la.iter().zip(&lb).position(|(x, y)| x != y).unwrap_or(la.len().min(lb.len()));
        outln!(
            "{}: the re-run's {name} differs from the recorded one at line {}: {}",
            original.path.display(),
            at + 1,
            describe(la.get(at).copied(), lb.get(at).copied())
        )?;
        return Ok(Outcome::Finding);
    }
    let n = original.summary.records;
    outln!(
        "{}: re-run: the {n} records follow from the inputs (both record files byte-identical)",
        original.path.display()
    )?;
    Ok(Outcome::Clean)
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

/// A record file of a run directory, opened as every reader opens one (no link followed).
fn read(dir: &Path, name: &str) -> Result<String> {
    use std::io::Read;
    let path = dir.join(name);
    let (mut file, _) = files::open(dir, name)?.with_context(|| format!("{}: missing", path.display()))?;
    let mut text = String::new();
    file.read_to_string(&mut text).with_context(|| format!("reading {}", path.display()))?;
    Ok(text)
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
