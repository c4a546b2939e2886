//! What a report shows, gathered from run directories (and a ledger) without judging them away: a run
//! that is incomplete, edited or unreadable still gets its section, with its problems in plain words.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use dualrun_core::RecordClass;
use dualrun_rundir::{
    files, Manifest, Orphans, Problem, Record, RecordsRead, ReorgEvent, RunDir, Side, Slowest, Summary, Timings,
};
use serde::Serialize;
use serde_json::{json, Value};

use crate::charts;

/// Records shown with everything (both sides' details and facts, the env, the blob); the rest of a run's
/// records are rows with their reproduce command, their detail one file away.
pub const DETAILED_RECORDS: usize = 1000;
/// Rows per run in the page; beyond it the page says how many more the CSV has.
pub const MAX_ROWS: usize = 200_000;

/// The whole report.
#[derive(Debug, Serialize)]
pub struct Report {
    /// One section per run, in the order given.
    pub runs: Vec<RunView>,
    /// The mode timeline, when a ledger was given.
    pub ledger: Option<LedgerView>,
    /// The banner over everything.
    pub banner: Banner,
}

/// The verdict banner: how the report reads at a glance.
#[derive(Debug, Serialize)]
pub struct Banner {
    /// `clean`, `findings` or `problems` (a problem outranks a finding).
    pub level: &'static str,
    /// One line.
    pub headline: String,
    /// Each problem, in plain words.
    pub problems: Vec<String>,
}

/// One run directory.
#[derive(Debug, Serialize)]
pub struct RunView {
    /// Its position in the report (0-based), the anchor of its section.
    pub index: usize,
    /// The directory's name.
    pub name: String,
    /// The directory as given.
    pub path: String,
    /// The run's banner.
    pub banner: Banner,
    /// The inputs as the manifest states them, as label/value rows.
    pub inputs: Vec<(String, String)>,
    /// Every file of the directory and its digest check.
    pub files: Vec<FileRow>,
    /// Record counts by class (every class), with its colour.
    pub counts: Vec<ClassCount>,
    /// Blocks judged, range, mode, complete, sessions, rate.
    pub facts: Vec<(String, String)>,
    /// Inline SVG charts: (title, svg).
    pub charts: Vec<(String, String)>,
    /// What `timings.csv` says: the slowest blocks, or why it is not shown.
    pub timings: TimingsView,
    /// The records, compact, for the page's table (see `report.js`).
    pub table: Value,
    /// Records in the run (every line of divergences.jsonl).
    pub records_total: usize,
    /// Records in the table.
    pub records_shown: usize,
}

/// The per-block timings of a run, as the page shows them.
#[derive(Debug, Default, Serialize)]
pub struct TimingsView {
    /// Why the timings are not shown (a version 1 run has none; an edited file is not drawn from).
    pub note: Option<String>,
    /// The slowest blocks of each verifier, slowest first.
    pub slowest: Vec<SlowBlock>,
}

/// One of the slowest blocks of a verifier.
#[derive(Debug, Serialize)]
pub struct SlowBlock {
    /// `legacy` or `candidate`.
    pub verifier: &'static str,
    /// The block's height.
    pub height: u64,
    /// Its time, microseconds.
    pub us: u64,
    /// The authoritative verdict of its block.
    pub verdict: &'static str,
}

/// The slowest blocks named per verifier.
pub const SLOWEST_BLOCKS: usize = 10;
/// Stretches of heights the latency-along-the-chain chart draws at most.
const HEIGHT_BINS: u64 = 200;

/// A record class and its count.
#[derive(Debug, Serialize)]
pub struct ClassCount {
    /// The class.
    pub class: &'static str,
    /// Its records.
    pub count: u64,
    /// `#rrggbb`.
    pub colour: String,
    /// A divergence (not an error or an input finding).
    pub divergence: bool,
}

/// A file of a run directory.
#[derive(Debug, Serialize)]
pub struct FileRow {
    /// Its name.
    pub name: String,
    /// Its size in bytes (none if missing).
    pub bytes: Option<u64>,
    /// Keccak-256 now (none if missing).
    pub keccak256: Option<String>,
    /// `ok`, `changed`, `missing`, `not digested` (run.log, checkpoint.json…).
    pub check: &'static str,
}

/// The ledger's timeline.
#[derive(Debug, Serialize)]
pub struct LedgerView {
    /// The file as given.
    pub path: String,
    /// `gate verify` on it: `None` when it passes, else why not.
    pub verify_error: Option<String>,
    /// The mode it is in, if it could be read.
    pub mode: Option<String>,
    /// Each entry, oldest first.
    pub entries: Vec<LedgerRow>,
}

/// One ledger entry, as the timeline shows it.
#[derive(Debug, Serialize)]
pub struct LedgerRow {
    /// Sequence number.
    pub seq: String,
    /// `init`, `promote`, `rollback`.
    pub action: String,
    /// `from → to`.
    pub transition: String,
    /// The operator's name.
    pub operator: String,
    /// The signing key (hex).
    pub public_key: String,
    /// Why.
    pub reason: String,
    /// Forced past an evaluation that did not pass.
    pub override_: bool,
    /// The evidence relied on: run directories and their manifest digests.
    pub evidence: Vec<String>,
    /// The evaluation's outcome, if there was one.
    pub evaluation: String,
    /// When, as the ledger records it (unix seconds).
    pub time_unix: String,
}

impl Report {
    /// Reads every run and the ledger. Never fails: what cannot be read is a problem in the banner.
    pub fn gather(runs: &[PathBuf], ledger: Option<&Path>) -> Report {
        let runs: Vec<RunView> = runs.iter().enumerate().map(|(i, p)| RunView::gather(i, p)).collect();
        let ledger = ledger.map(LedgerView::gather);
        let mut problems = Vec::new();
        for r in &runs {
            problems.extend(r.banner.problems.iter().map(|p| format!("{}: {p}", r.name)));
        }
        if let Some(l) = &ledger {
            if let Some(e) = &l.verify_error {
                problems.push(format!("ledger {}: does not verify: {e}", l.path));
            }
        }
        let records_of = |r: &RunView| r.counts.iter().map(|c| c.count).sum::<u64>();
        let findings: u64 = runs.iter().map(records_of).sum();
        let runs_with_records = runs.iter().filter(|r| records_of(r) > 0).count();
        let banner = Banner::of(problems, findings, runs.len(), runs_with_records);
        Report { runs, ledger, banner }
    }
}

impl Banner {
    /// The banner of `runs` runs (`runs_with_records` of them with a record) holding `records` records.
    fn of(problems: Vec<String>, records: u64, runs: usize, runs_with_records: usize) -> Banner {
        let what = if runs == 1 { "the run".to_owned() } else { format!("{runs} runs") };
        let (level, headline) = match (problems.is_empty(), records) {
            (true, 0) => {
                ("clean", format!("clean: {what}, complete and untouched, recorded no divergence and no error"))
            }
            (true, n) if runs == 1 => ("findings", format!("{n} record(s): the run found divergences or errors")),
            (true, n) => (
                "findings",
                format!("{n} record(s): {runs_with_records} of the {runs} runs found divergences or errors"),
            ),
            (false, n) => ("problems", format!("{} problem(s) with the evidence; {n} record(s)", problems.len())),
        };
        Banner { level, headline, problems }
    }
}

impl RunView {
    fn gather(index: usize, path: &Path) -> RunView {
        let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
        let mut problems = Vec::new();
        // The files whose digest is not the manifest's (the only ones hashed again below).
        let mut unverified = BTreeSet::new();
        // The records are read once: for the run's problems and for the page.
        let mut read_result = None;
        let run = match RunDir::load(path) {
            Ok(run) => {
                let read = run.read_records();
                let found = match &read {
                    Ok(read) => run.problems_with(read),
                    Err(_) => run.problems(),
                };
                read_result = Some(read);
                for p in found {
                    if let Problem::Changed(f) | Problem::Missing(f) = &p {
                        unverified.insert(f.clone());
                    }
                    problems.push(p.to_string());
                }
                Some(run)
            }
            Err(e) => {
                problems.push(e.to_string());
                None
            }
        };
        // Reorganizations mark records orphaned: read only when the manifest digests them (one added
        // after the run is a problem above, and marks nothing).
        let digested =
            |name: &str| run.as_ref().and_then(|r| r.manifest.files.as_ref()).is_some_and(|f| f.contains_key(name));
        let reorgs = if digested(files::REORGS) {
            ReorgEvent::read_all(path).unwrap_or_else(|e| {
                problems.push(e.to_string());
                Vec::new()
            })
        } else {
            Vec::new()
        };
        // Without a summary the manifest may still say what was run (read as every reader reads it: a
        // format this dualrun does not know says nothing).
        let manifest = run.as_ref().map(|r| r.manifest.clone()).or_else(|| Manifest::load(path).ok());
        let summary = run.as_ref().map(|r| r.summary.clone());
        // Every readable record is shown and counted; each line that is not one is named. The summary's
        // counts are shown only as a problem when they are not the records'.
        let read = match read_result {
            Some(Ok(read)) => read,
            Some(Err(e)) => {
                problems.push(e.to_string());
                RecordsRead::default()
            }
            None => RecordsRead::default(),
        };
        let mut found = read.problems();
        // A killed session's summary is older than its records: counts are compared for finished runs.
        if let Some(s) = summary.as_ref().filter(|s| s.complete) {
            found.extend(dualrun_rundir::count_problems(s, &read));
        }
        for p in found.iter().map(ToString::to_string) {
            if !problems.contains(&p) {
                problems.push(p);
            }
        }
        let counted = read.counts();
        let counts = RecordClass::ALL
            .iter()
            .map(|c| ClassCount {
                class: c.as_str(),
                count: counted.get(c).copied().unwrap_or(0),
                colour: charts::class_css(*c),
                divergence: c.is_divergence(),
            })
            .collect::<Vec<_>>();
        let records = &read.records;
        let records_total: u64 = counts.iter().map(|c| c.count).sum();
        let mut banner = Banner::of(problems, records_total, 1, usize::from(records_total > 0));
        if summary.as_ref().is_some_and(|s| !s.complete) {
            banner.headline = format!("incomplete run: {}", banner.headline);
        }
        let mut charts = summary.as_ref().map(|s| chart_list(s, records, &counted)).unwrap_or_default();
        let timings = match (&run, &summary) {
            (Some(run), Some(s)) => {
                let (view, chart) = timings_view(run, s, &unverified);
                charts.extend(chart.map(|c| ("latency along the chain".to_owned(), c)));
                view
            }
            _ => TimingsView::default(),
        };
        RunView {
            index,
            path: path.display().to_string(),
            inputs: manifest.as_ref().map(input_rows).unwrap_or_default(),
            files: file_rows(path, manifest.as_ref(), run.is_some(), &unverified),
            facts: summary.as_ref().map(|s| fact_rows(s, records.len(), &reorgs)).unwrap_or_default(),
            charts,
            timings,
            records_shown: records.len().min(MAX_ROWS),
            records_total: records.len(),
            table: table(records, &Orphans::from_events(&reorgs)),
            counts,
            banner,
            name,
        }
    }
}

/// Reads `timings.csv` once, as a stream: the latency along the heights (a chart) and each verifier's
/// slowest blocks. Nothing is drawn from a file whose digest is not the manifest's.
fn timings_view(run: &RunDir, s: &Summary, unverified: &BTreeSet<String>) -> (TimingsView, Option<String>) {
    let note = |note: String| (TimingsView { note: Some(note), slowest: Vec::new() }, None);
    let digested = run.manifest.files.as_ref().is_some_and(|f| f.contains_key(files::TIMINGS));
    if !digested {
        return note(format!("no {} in this run (format version {})", files::TIMINGS, run.manifest.format_version));
    }
    if unverified.contains(files::TIMINGS) {
        return note(format!("{} is not the file the run wrote; nothing is drawn from it", files::TIMINGS));
    }
    let stream = match Timings::open(&run.path) {
        Ok(Some(stream)) => stream,
        Ok(None) => return note(format!("{} is missing", files::TIMINGS)),
        Err(e) => return note(e.to_string()),
    };
    let from = s.range.from;
    let last = s.range.next_height.saturating_sub(1).max(from);
    let span = last - from + 1;
    let width = span.div_ceil(span.clamp(1, HEIGHT_BINS));
    let bins = span.div_ceil(width) as usize;
    // Per bin and verifier: (sum, count, max) of µs.
    let mut sums = vec![[(0u128, 0u64, 0u64); 2]; bins];
    let mut slowest = [Slowest::new(SLOWEST_BLOCKS), Slowest::new(SLOWEST_BLOCKS)];
    for t in stream {
        let t = match t {
            Ok(t) => t,
            Err(e) => return note(e.to_string()),
        };
        let bin = (t.height.saturating_sub(from) / width).min(bins as u64 - 1) as usize;
        for (role, us) in [t.legacy_us, t.candidate_us].into_iter().enumerate() {
            let Some(us) = us else { continue };
            let (sum, count, max) = &mut sums[bin][role];
            (*sum, *count, *max) = (*sum + u128::from(us), *count + 1, (*max).max(us));
            slowest[role].push(t.height, us, t.verdict);
        }
    }
    let drawn: Vec<charts::HeightBin> = sums
        .iter()
        .map(|b| charts::HeightBin {
            mean_max_us: b.map(|(sum, n, max)| (n > 0).then(|| (sum as f64 / n as f64, max as f64))),
        })
        .collect();
    let mut rows = Vec::new();
    for (verifier, kept) in ["legacy", "candidate"].into_iter().zip(slowest) {
        for (height, us, verdict) in kept.into_sorted() {
            rows.push(SlowBlock { verifier, height, us, verdict: verdict.as_str() });
        }
    }
    (TimingsView { note: None, slowest: rows }, Some(charts::latency_along_height(from, width, &drawn)))
}

fn input_rows(m: &Manifest) -> Vec<(String, String)> {
    let i = &m.inputs;
    let mut rows = vec![
        ("chain".to_owned(), i.chain.path.clone()),
        ("data file".into(), m.data_file.display().to_string()),
        ("schema".into(), i.chain.schema_version.to_string()),
        ("genesis id".into(), i.chain.genesis_id.to_string()),
        ("heights".into(), format!("{}..={} ({} blocks)", i.chain.from, i.chain.to, i.chain.blocks)),
        ("chain digest".into(), i.chain.chain_digest.to_string()),
        ("profile".into(), format!("{} ({})", i.profile.path.display(), i.profile.network)),
        ("profile digest".into(), i.profile.digest.to_string()),
        ("mode".into(), i.mode.to_string()),
        ("now".into(), i.env.now.clone()),
    ];
    for (role, v) in [("legacy", &i.legacy), ("candidate", &i.candidate)] {
        match v {
            None => rows.push((role.into(), "not run".into())),
            Some(v) => {
                rows.push((role.into(), format!("{} — {}", v.spec, v.description)));
                for (file, digest) in &v.files {
                    rows.push((format!("{role} file"), format!("{file}  keccak256 {digest}")));
                }
            }
        }
    }
    rows.push(("settings".into(), serde_json::to_string(&i.settings).unwrap_or_default()));
    if let Some(shards) = &m.shards {
        for (i, shard) in shards.iter().enumerate() {
            rows.push((
                format!("shard {i}"),
                format!("{}..={}  {}  manifest {}", shard.from, shard.to, shard.dir.display(), shard.manifest_digest),
            ));
        }
    }
    if let Some(shard) = &m.inputs.shard {
        rows.push((
            "shard".into(),
            format!("{} of {} of heights {}..={}", shard.index, shard.count, shard.from, shard.to),
        ));
    }
    rows.push(("inputs digest".into(), m.inputs_digest.to_string()));
    rows.push(("tool".into(), format!("{} {}", m.tool.name, m.tool.version)));
    rows
}

fn fact_rows(s: &Summary, records: usize, reorgs: &[ReorgEvent]) -> Vec<(String, String)> {
    let mut rows = vec![
        ("mode".to_owned(), s.mode.to_string()),
        ("heights".into(), format!("{}..={}", s.range.from, s.range.to)),
        ("blocks judged".into(), s.blocks.to_string()),
        ("complete".into(), if s.complete { "yes".into() } else { format!("no: next height {}", s.range.next_height) }),
        ("records".into(), records.to_string()),
        ("authoritative".into(), format!("{} accept, {} reject", s.authoritative.accept, s.authoritative.reject)),
        ("sessions".into(), s.sessions.to_string()),
        ("rate".into(), format!("{:.0} blocks/s over {:.2} s", s.blocks_per_second, s.elapsed_seconds)),
    ];
    if !reorgs.is_empty() {
        let orphaned: usize = reorgs.iter().map(|e| e.orphaned.len()).sum();
        let forks: Vec<String> = reorgs.iter().map(|e| e.fork_height.to_string()).collect();
        rows.push((
            "reorganizations".into(),
            format!(
                "{} (forks at {}); {orphaned} judged block(s) orphaned, their records kept and marked",
                reorgs.len(),
                forks.join(", ")
            ),
        ));
    }
    rows
}

fn chart_list(s: &Summary, records: &[(usize, Record)], counted: &BTreeMap<RecordClass, u64>) -> Vec<(String, String)> {
    let at: Vec<(u64, RecordClass)> = records.iter().map(|(_, r)| (r.height, r.class)).collect();
    let mut charts = vec![
        ("records along the chain".to_owned(), charts::along_height(s.range.from, s.range.to, &at)),
        ("records by class".into(), charts::classes(counted)),
    ];
    for (role, l) in [("legacy", &s.latency.legacy), ("candidate", &s.latency.candidate)] {
        if let Some(l) = l {
            charts.push((format!("{role} latency"), charts::latency(role, l)));
        }
    }
    charts.push(("throughput".into(), charts::throughput(s)));
    charts
}

/// Every entry of the run directory with its digest. A digested file the run's check found as the
/// manifest lists it is not hashed a second time (`checked`: the check ran; `unverified`: what it found
/// changed or missing). An entry a run directory may not hold is listed, never read.
fn file_rows(dir: &Path, manifest: Option<&Manifest>, checked: bool, unverified: &BTreeSet<String>) -> Vec<FileRow> {
    let listed: BTreeMap<String, String> = manifest
        .and_then(|m| m.files.as_ref())
        .map(|f| f.iter().map(|(k, v)| (k.clone(), v.to_string())).collect())
        .unwrap_or_default();
    let strays: BTreeMap<String, files::Stray> =
        files::strays(dir).unwrap_or_default().into_iter().map(|s| (s.name.clone(), s)).collect();
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !files::DERIVED.contains(&n.as_str()))
                .collect()
        })
        .unwrap_or_default();
    names.extend(listed.keys().cloned());
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|name| {
            if let Some(stray) = strays.get(&name) {
                let check = if stray.defined { "not a regular file" } else { "not part of a run" };
                return FileRow { bytes: None, keccak256: None, check, name };
            }
            if let (true, false, Some(want)) = (checked, unverified.contains(&name), listed.get(&name)) {
                let bytes = std::fs::symlink_metadata(dir.join(&name)).ok().map(|m| m.len());
                return FileRow { bytes, keccak256: Some(want.clone()), check: "ok", name };
            }
            let opened = files::open(dir, &name).ok().flatten();
            let bytes = opened.as_ref().map(|(_, len)| *len);
            let keccak256 = opened.and_then(|(f, _)| dualrun_format::keccak256_reader(f).ok()).map(|h| h.to_string());
            let check = match (listed.get(&name), &keccak256) {
                (Some(_), None) => "missing",
                (Some(want), Some(got)) if want == got => "ok",
                (Some(_), Some(_)) => "changed",
                (None, _) => "not digested",
            };
            FileRow { bytes, keccak256, check, name }
        })
        .collect()
}

/// The records as the page's script reads them (`report.js` expands them): one row per record,
/// `[height, class, block id, legacy verdict, legacy reason, candidate verdict, candidate reason,
/// authoritative verdict, reproduce prefix, reproduce suffix, line, orphaned]`, every repeated string —
/// class, verdict, reason, the reproduce line's command (its prefix) and its `--from H --to H --out DIR`
/// (its suffix, with the height written as `\u{1}`) — an index into `strings`; and the full detail of the
/// first [`DETAILED_RECORDS`]. At 100,000 records that is about a third of the page spelled out.
fn table(records: &[(usize, Record)], orphans: &Orphans) -> Value {
    let mut strings = Interned::default();
    let mut rows = Vec::with_capacity(records.len().min(MAX_ROWS));
    let mut details = Vec::new();
    for (shown, (line, r)) in records.iter().enumerate().take(MAX_ROWS) {
        let (prefix, suffix) = match r.reproduce.rfind(" --from ") {
            Some(i) => r.reproduce.split_at(i),
            None => ("", r.reproduce.as_str()),
        };
        // The suffix names the height (twice, and in the directory): one template serves every record.
        let suffix = if suffix.contains('\u{1}') {
            json!(suffix)
        } else {
            json!(strings.index(&suffix.replace(&r.height.to_string(), "\u{1}")))
        };
        let (lv, lr) = side_columns(&r.legacy);
        let (cv, cr) = side_columns(&r.candidate);
        rows.push(json!([
            r.height,
            strings.index(r.class.as_str()),
            r.block_id.to_string(),
            strings.index(&lv),
            strings.index(&lr),
            strings.index(&cv),
            strings.index(&cr),
            strings.index(r.authoritative.verdict.as_str()),
            strings.index(prefix),
            suffix,
            line,
            u8::from(orphans.contains(*line as u64 - 1, r.height, &r.block_id))
        ]));
        if shown < DETAILED_RECORDS {
            details.push(json!({
                "legacy": r.legacy, "candidate": r.candidate, "authoritative": r.authoritative,
                "differing_facts": r.differing_facts, "stored_id": r.stored_id,
                "second_answer": r.second_answer, "env": r.env, "blob": r.blob,
            }));
        }
    }
    json!({ "strings": strings.all, "rows": rows, "details": details, "more": records.len().saturating_sub(MAX_ROWS) })
}

/// Strings written once, referred to by index.
#[derive(Default)]
struct Interned {
    all: Vec<String>,
    at: std::collections::HashMap<String, usize>,
}

impl Interned {
    fn index(&mut self, s: &str) -> usize {
        if let Some(&i) = self.at.get(s) {
            return i;
        }
        self.all.push(s.to_owned());
        self.at.insert(s.to_owned(), self.all.len() - 1);
        self.all.len() - 1
    }
}

fn side_columns(s: &Side) -> (String, String) {
    match s {
        Side::Verdict { verdict, reason, .. } => (verdict.as_str().into(), reason.clone()),
        Side::Error { error } => ("error".into(), format!("{}: {}", error.kind, error.message)),
        Side::NotRun { .. } => ("not run".into(), String::new()),
    }
}

impl LedgerView {
    fn gather(path: &Path) -> LedgerView {
        let verify = dualrun_gate::ledger::verify(path, &[], true);
        let verify_error = verify.as_ref().err().map(ToString::to_string);
        let opened = dualrun_gate::ledger::Ledger::open(path);
        let (mode, entries) = match &opened {
            Ok(l) => (Some(l.mode().to_string()), l.entries.iter().map(ledger_row).collect()),
            Err(_) => (None, Vec::new()),
        };
        LedgerView { path: path.display().to_string(), verify_error, mode, entries }
    }
}

fn ledger_row(e: &dualrun_gate::Entry) -> LedgerRow {
    let evidence = e
        .evidence
        .iter()
        .map(|ev| {
            let get = |k: &str| ev.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
            format!("{} (manifest {})", get("run"), get("manifest_digest"))
        })
        .collect();
    let evaluation = match &e.evaluation {
        Value::Object(o) => o
            .get("outcome")
            .map_or_else(|| "evaluated".to_owned(), |v| v.as_str().map_or_else(|| v.to_string(), str::to_owned)),
        _ => "none".into(),
    };
    LedgerRow {
        seq: e.seq.to_string(),
        action: e.action.to_string(),
        transition: match e.from {
            None => format!("→ {}", e.to),
            Some(from) => format!("{from} → {}", e.to),
        },
        operator: e.operator.clone(),
        public_key: e.public_key.clone(),
        reason: e.reason.clone(),
        override_: e.override_,
        evidence,
        evaluation,
        time_unix: e.time_unix.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Over several runs the banner says how many of them found something, not that all of them did.
    #[test]
    fn the_banner_over_several_runs_counts_the_runs_with_records() {
        let b = Banner::of(Vec::new(), 12, 15, 8);
        assert_eq!(
            (b.level, b.headline.as_str()),
            ("findings", "12 record(s): 8 of the 15 runs found divergences or errors")
        );
        let b = Banner::of(Vec::new(), 10, 1, 1);
        assert_eq!(b.headline, "10 record(s): the run found divergences or errors");
        let b = Banner::of(Vec::new(), 0, 3, 0);
        assert_eq!(
            (b.level, b.headline.as_str()),
            ("clean", "clean: 3 runs, complete and untouched, recorded no divergence and no error")
        );
    }

    /// A run directory of a format this dualrun does not read is refused as every reader refuses it: the
    /// banner names the format, and nothing of its manifest is shown as the run's inputs.
    #[test]
    fn a_run_of_an_unknown_format_version_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let run = dualrun_testkit::sample_run::copy_with_format_version(&tmp.path().join("run"), 3);
        let refused = RunDir::load(&run).unwrap_err();
        assert!(matches!(refused, dualrun_rundir::RunDirError::UnknownFormat { .. }), "{refused}");
        let report = Report::gather(std::slice::from_ref(&run), None);
        let view = &report.runs[0];
        assert_eq!(view.banner.level, "problems");
        assert!(view.banner.problems.contains(&refused.to_string()), "{:?}", view.banner.problems);
        assert!(view.inputs.is_empty(), "a manifest of an unknown format is not shown: {:?}", view.inputs);
    }

    /// A run with `timings.csv` gets the latency-along-the-chain chart and its slowest blocks named per
    /// verifier; an edited `timings.csv` is not drawn from.
    #[test]
    fn the_slowest_blocks_and_the_latency_along_heights_come_from_the_timings() {
        use dualrun_rundir::{Timing, TIMINGS_HEADER};
        let tmp = tempfile::tempdir().unwrap();
        let run = dualrun_testkit::sample_run::copy_with_format_version(&tmp.path().join("run"), 2);
        let mut text = format!("{TIMINGS_HEADER}\n");
        for h in 0..200u64 {
            let legacy = std::time::Duration::from_micros(100 + h % 7);
            let candidate = std::time::Duration::from_micros(if h == 150 { 9000 } else { 20 + h });
            let verdict =
                if h % 20 == 0 { dualrun_core::VerdictKind::Reject } else { dualrun_core::VerdictKind::Accept };
            text += &Timing::of(h, Some(legacy), Some(candidate), verdict).csv_line();
        }
        std::fs::write(run.join(files::TIMINGS), &text).unwrap();
        let manifest_path = run.join(files::MANIFEST);
        let mut manifest: Value = serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
        manifest["files"][files::TIMINGS] = json!(files::digest(&run, files::TIMINGS).unwrap().to_string());
        std::fs::write(&manifest_path, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();

        let report = Report::gather(std::slice::from_ref(&run), None);
        let view = &report.runs[0];
        assert_eq!(view.banner.level, "findings", "{:?}", view.banner.problems);
        assert_eq!(view.timings.note, None);
        let candidate: Vec<(u64, u64, &str)> = view
            .timings
            .slowest
            .iter()
            .filter(|b| b.verifier == "candidate")
            .map(|b| (b.height, b.us, b.verdict))
            .collect();
        assert_eq!(candidate.len(), SLOWEST_BLOCKS);
        assert_eq!(candidate[..3], [(150, 9000, "accept"), (199, 219, "accept"), (198, 218, "accept")]);
        let legacy: Vec<u64> =
            view.timings.slowest.iter().filter(|b| b.verifier == "legacy").map(|b| b.height).collect();
        assert_eq!(legacy[..3], [6, 13, 20], "106 µs each, lowest heights first");
        let chart = &view.charts.iter().find(|(t, _)| t == "latency along the chain").expect("drawn").1;
        assert!(chart.starts_with("<svg") && chart.contains("<polyline"), "{chart}");
        let html = crate::render::html(&report).unwrap();
        assert!(html.contains(
            "<tr data-verifier=\"candidate\"><td>candidate</td><td class=\"num\">150</td><td class=\"num\">9000</td>"
        ));
        let markdown = crate::render::markdown(&report).unwrap();
        assert!(markdown.contains("Slowest candidate blocks: 150 (9000 µs), 199 (219 µs), 198 (218 µs)"), "{markdown}");

        std::fs::write(run.join(files::TIMINGS), text.replace("150,103,9000", "150,103,1")).unwrap();
        let view = &Report::gather(std::slice::from_ref(&run), None).runs[0];
        assert!(view.timings.slowest.is_empty());
        assert_eq!(
            view.timings.note.as_deref(),
            Some("timings.csv is not the file the run wrote; nothing is drawn from it")
        );
        assert!(view.charts.iter().all(|(t, _)| t != "latency along the chain"));
    }

    /// The page's rows carry every repeated string once: expanded as `report.js` expands them, each row
    /// gives back its record's class, sides and reproduce line exactly.
    #[test]
    fn compact_rows_expand_to_the_records() {
        let run = dualrun_testkit::sample_run::dir();
        let report = Report::gather(std::slice::from_ref(&run), None);
        let table = &report.runs[0].table;
        let strings: Vec<&str> = table["strings"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
        let records = RunDir::open(&run).unwrap().records().unwrap();
        let rows = table["rows"].as_array().unwrap();
        assert_eq!(rows.len(), records.len());
        for (row, record) in rows.iter().zip(&records) {
            let text = |i: usize| strings[row[i].as_u64().unwrap() as usize];
            let suffix = text(9).replace('\u{1}', &record.height.to_string());
            assert_eq!(format!("{}{suffix}", text(8)), record.reproduce);
            assert_eq!((row[0].as_u64().unwrap(), text(1)), (record.height, record.class.as_str()));
            assert_eq!((text(3), text(5), text(7)), ("accept", "reject", "accept"));
            assert_eq!(text(6), record.candidate.reason());
        }
        // One template serves every record's suffix.
        let templates: std::collections::BTreeSet<u64> = rows.iter().map(|r| r[9].as_u64().unwrap()).collect();
        assert_eq!(templates.len(), 1);
    }
}
