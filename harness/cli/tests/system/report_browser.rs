//! Reports opened in a real browser: Debian's Chromium, headless and offline, runs each page's script
//! and dumps the DOM it made, which is checked against the run's own files — a clean run, the sample's
//! halts (and the URL hash filters), thousands of splits, and several runs with a ledger. Any console
//! error of a page fails its test, and a screenshot of each case is kept in
//! `target/report-screenshots/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::common::*;

const CHROMIUM: &str = "/usr/bin/chromium";
/// Longest a Chromium call may take (its virtual time budget is 5 s; a slow CI machine needs more).
const CHROMIUM_DEADLINE: Duration = Duration::from_secs(180);

fn chromium() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .and_then(|p| std::env::split_paths(&p).map(|d| d.join("chromium")).find(|c| c.is_file()));
    on_path.or_else(|| Some(PathBuf::from(CHROMIUM)).filter(|p| p.is_file())).unwrap_or_else(|| {
        panic!("chromium is not installed (not on PATH, no {CHROMIUM}): apt-get install chromium (ci/test.sh does)")
    })
}

/// A network namespace of its own takes every network away from Chromium (we are root in CI).
fn unshare_works() -> bool {
    static WORKS: OnceLock<bool> = OnceLock::new();
    *WORKS.get_or_init(|| {
        Command::new("unshare")
            .args(["-n", "true"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

struct Chromium {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs headless Chromium on `page` (with `fragment` as the URL's hash) and `extra` flags, with a
/// profile of its own, offline, within [`CHROMIUM_DEADLINE`].
fn run_chromium(page: &Path, fragment: &str, extra: &[String]) -> Chromium {
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = if unshare_works() {
        let mut c = Command::new("unshare");
        c.arg("-n").arg(chromium());
        c
    } else {
        // No network namespace (not root): every request, loopback included, goes to a closed port.
        let mut c = Command::new(chromium());
        c.args(["--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>"]);
        c
    };
    let url = format!("file://{}{fragment}", page.canonicalize().unwrap().display());
    let (out, err) = (tmp.path().join("stdout"), tmp.path().join("stderr"));
    let mut child = cmd
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,2000"])
        .args(["--virtual-time-budget=5000", "--enable-logging=stderr", "--v=0"])
        .arg(format!("--user-data-dir={}", tmp.path().join("profile").display()))
        .args(extra)
        .arg(&url)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("start chromium");
    let deadline = Instant::now() + CHROMIUM_DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish with {url} within {CHROMIUM_DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let read = |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned();
    Chromium { status, stdout: read(&out), stderr: read(&err) }
}

/// The lines of Chromium's log that are the page's own console messages or errors. Chromium logs
/// every console message of a page, whatever its level, as
/// `[pid:tid:time:INFO:CONSOLE:LINE] "Uncaught ReferenceError: …", source: file:///…/report.html (LINE)`
/// (older versions: `ERROR:CONSOLE(LINE)`); a resource blocked by the page's Content-Security-Policy as
/// `"Loading the script '…' violates the following Content Security Policy directive …"` (older:
/// `Refused to load …`). The report's script never writes to the console, so each such line is a
/// failure. Chromium's own pages log too (`source: chrome://…`), and its D-Bus and GPU complaints are
/// not console lines: both are ignored.
fn page_errors(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| {
            let console = l.contains(":CONSOLE") || l.contains("CONSOLE(");
            let own = l.contains("source: chrome://") || l.contains("source: devtools://");
            let alarming = ["Uncaught", "Refused to", "violates the following Content Security Policy"]
                .iter()
                .any(|w| l.contains(w));
            (console && l.contains("source: file://")) || (alarming && !own)
        })
        .collect()
}

/// The DOM of `page` once its script ran, asserting Chromium succeeded and the page logged nothing.
fn browse(page: &Path, fragment: &str) -> Dom {
    let c = run_chromium(page, fragment, &["--dump-dom".to_owned()]);
    assert!(c.status.success(), "chromium on {}{fragment}: {}\n{}", page.display(), c.status, c.stderr);
    let errors = page_errors(&c.stderr);
    assert!(errors.is_empty(), "{}{fragment} logged in the browser:\n{}", page.display(), errors.join("\n"));
    assert!(c.stdout.contains("</html>"), "no DOM dumped for {}{fragment}:\n{}", page.display(), c.stderr);
    let dom = Dom(c.stdout);
    let body = dom.tag("body").expect("a body");
    assert_eq!(attr(body, "data-ready"), Some("1"), "the page's script ran to its end ({fragment})");
    assert_eq!(attr(body, "data-errors"), Some(""), "no window error ({fragment})");
    dom
}

/// A screenshot of `page`, kept as `target/report-screenshots/<case>.png`.
fn screenshot(page: &Path, case: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/report-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = dir.join(format!("{case}.png"));
    let _ = std::fs::remove_file(&png);
    let c = run_chromium(page, "", &[format!("--screenshot={}", png.display())]);
    assert!(c.status.success(), "chromium screenshot of {}: {}\n{}", page.display(), c.status, c.stderr);
    let errors = page_errors(&c.stderr);
    assert!(errors.is_empty(), "{} logged in the browser:\n{}", page.display(), errors.join("\n"));
    let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("{}: {e}\n{}", png.display(), c.stderr));
    assert!(bytes.len() > 10_000, "{}: {} bytes, a blank page?", png.display(), bytes.len());
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{}", png.display());
    let size = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    assert_eq!((size(16), size(20)), (1280, 2000), "{}: the window's size", png.display());
}

/// A dumped DOM, searched as text: Chromium serializes every start tag as `<name attr="value" …>`.
struct Dom(String);

/// An element: its start tag and what is between it and its end tag.
struct Element<'a> {
    tag: &'a str,
    inner: &'a str,
}

impl Dom {
    /// Every start tag `<name …>`, with its offset.
    fn tags<'a>(&'a self, name: &str) -> Vec<(usize, &'a str)> {
        tags_in(&self.0, name)
    }

    fn tag(&self, name: &str) -> Option<&str> {
        self.tags(name).first().map(|t| t.1)
    }

    /// The element `<name id="id">`.
    fn by_id(&self, name: &str, id: &str) -> Option<Element<'_>> {
        elements_in(&self.0, name, |t| attr(t, "id") == Some(id)).into_iter().next()
    }

    /// The elements `<name class="… class …">` (none nested in another of the same name).
    fn by_class(&self, name: &str, class: &str) -> Vec<Element<'_>> {
        elements_in(&self.0, name, |t| has_class(t, class))
    }

    /// `section.run` elements, in order.
    fn runs(&self) -> Vec<Element<'_>> {
        self.by_class("section", "run")
    }

    fn banner(&self) -> String {
        let banner = self.by_id("section", "banner").expect("#banner");
        attr(banner.tag, "data-level").expect("#banner[data-level]").to_owned()
    }
}

fn tags_in<'a>(html: &'a str, name: &str) -> Vec<(usize, &'a str)> {
    let open = format!("<{name}");
    html.match_indices(&open)
        .filter_map(|(i, _)| {
            let rest = &html[i..];
            matches!(rest.as_bytes().get(open.len()), Some(b' ' | b'>')).then_some(())?;
            Some((i, &rest[..=rest.find('>')?]))
        })
        .collect()
}

fn elements_in<'a>(html: &'a str, name: &str, pick: impl Fn(&str) -> bool) -> Vec<Element<'a>> {
    let close = format!("</{name}>");
    tags_in(html, name)
        .into_iter()
        .filter(|(_, t)| pick(t))
        .map(|(i, tag)| {
            let from = i + tag.len();
            let to = html[from..].find(&close).map_or(html.len(), |e| from + e);
            Element { tag, inner: &html[from..to] }
        })
        .collect()
}

fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    Some(&tag[start..start + tag[start..].find('"')?])
}

fn has_class(tag: &str, class: &str) -> bool {
    attr(tag, "class").is_some_and(|c| c.split_whitespace().any(|x| x == class))
}

/// The text of each `<td>` of `html`, tags removed.
fn cells(html: &str) -> Vec<String> {
    elements_in(html, "td", |_| true)
        .iter()
        .map(|td| {
            let mut text = String::new();
            let mut in_tag = false;
            for ch in td.inner.chars() {
                match ch {
                    '<' => in_tag = true,
                    '>' => in_tag = false,
                    c if !in_tag => text.push(c),
                    _ => {}
                }
            }
            text
        })
        .collect()
}

/// What a run's section shows.
struct RunView {
    /// The class chips: class → count.
    chips: BTreeMap<String, u64>,
    /// `data-level` of the run's own banner.
    level: String,
    /// The record table's box: `data-filtered` and `data-classes-shown`.
    filtered: u64,
    classes_shown: String,
    /// (class, height) of each row of the table's page.
    rows: Vec<(String, u64)>,
    page_info: String,
    /// Each `figure.chart`: (its `data-chart`, whether it holds an `<svg>` with a `<rect>`).
    charts: Vec<(String, bool)>,
}

fn run_view(section: &Element<'_>) -> RunView {
    let html = section.inner;
    let chips = tags_in(html, "span")
        .into_iter()
        .filter(|(_, t)| has_class(t, "count"))
        .map(|(_, t)| (attr(t, "data-class").unwrap().to_owned(), attr(t, "data-count").unwrap().parse().unwrap()))
        .collect();
    let level = tags_in(html, "div").into_iter().find(|(_, t)| has_class(t, "banner")).expect("a run banner").1;
    let records = tags_in(html, "div").into_iter().find(|(_, t)| has_class(t, "records")).expect("div.records").1;
    assert_eq!(attr(records, "data-run"), attr(section.tag, "data-run"));
    let rows = tags_in(html, "tr")
        .into_iter()
        .filter(|(_, t)| has_class(t, "row"))
        .map(|(_, t)| (attr(t, "data-class").unwrap().to_owned(), attr(t, "data-height").unwrap().parse().unwrap()))
        .collect();
    RunView {
        chips,
        level: attr(level, "data-level").unwrap().to_owned(),
        filtered: attr(records, "data-filtered").expect("data-filtered: the table was rendered").parse().unwrap(),
        classes_shown: attr(records, "data-classes-shown").expect("data-classes-shown").to_owned(),
        rows,
        page_info: elements_in(html, "span", |t| has_class(t, "page-info")).first().unwrap().inner.to_owned(),
        charts: elements_in(html, "figure", |t| has_class(t, "chart"))
            .iter()
            .map(|f| {
                (attr(f.tag, "data-chart").unwrap().to_owned(), f.inner.contains("<svg") && f.inner.contains("<rect"))
            })
            .collect(),
    }
}

/// The only run of a one-run report.
fn only_run(dom: &Dom) -> RunView {
    let runs = dom.runs();
    assert_eq!(runs.len(), 1);
    assert!(dom.by_id("section", "overview").is_none(), "no overview for one run");
    run_view(&runs[0])
}

/// Record counts by class, as `summary.json` has them.
fn summary_counts(run: &Path) -> BTreeMap<String, u64> {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    let mut counts = BTreeMap::new();
    for group in ["divergences", "errors", "noise", "inputs"] {
        // `noise.checked` counts blocks judged twice, not records.
        for (class, n) in v[group].as_object().unwrap().iter().filter(|(k, _)| *k != "checked") {
            counts.insert(class.clone(), n.as_u64().unwrap());
        }
    }
    counts
}

/// (class, height) of each record, as `divergences.csv` has them.
fn csv_records(run: &Path) -> Vec<(String, u64)> {
    std::fs::read_to_string(run.join("divergences.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[2].to_owned(), f[0].parse().unwrap())
        })
        .collect()
}

const CHARTS: [&str; 6] = [
    "records along the chain",
    "records by class",
    "legacy latency",
    "candidate latency",
    "throughput",
    "latency along the chain",
];

fn assert_charts_drawn(run: &RunView) {
    let titles: Vec<&str> = run.charts.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(titles, CHARTS);
    for (title, drawn) in &run.charts {
        assert!(drawn, "chart {title:?} has no <svg> with bars");
    }
}

/// `dualrun replay` of the bundled sample into `dir/name` (its report written at its end).
fn replay_sample(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let mut all = vec!["replay", "--out", s(&out)];
    all.extend_from_slice(args);
    let r = dualrun(&all);
    assert!(r.code == 0 || r.code == 1, "{}{}", r.stdout, r.stderr);
    assert!(out.join("report.html").is_file(), "replay writes its report: {}", r.stdout);
    out
}

#[test]
fn the_console_check_sees_a_broken_page() {
    let tmp = tempfile::tempdir().unwrap();
    let page = tmp.path().join("broken.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><html><head><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         script-src 'unsafe-inline'\"></head><body><script>noSuchFunction();</script>\
         <img src=\"http://192.0.2.1/x.png\"></body></html>",
    )
    .unwrap();
    let c = run_chromium(&page, "", &["--dump-dom".to_owned()]);
    assert!(c.status.success(), "{}", c.stderr);
    let errors = page_errors(&c.stderr);
    assert!(errors.iter().any(|l| l.contains("Uncaught ReferenceError")), "{}", c.stderr);
    assert!(errors.iter().any(|l| l.contains("http://192.0.2.1/x.png")), "the CSP block is seen: {}", c.stderr);
}

#[test]
fn a_clean_run_shows_clean_zero_counts_and_its_charts() {
    let tmp = tempfile::tempdir().unwrap();
    let run = replay_sample(tmp.path(), "clean", &["--to", "20"]);
    let page = run.join("report.html");
    let dom = browse(&page, "");
    assert_eq!(dom.banner(), "clean");
    let view = only_run(&dom);
    assert_eq!(view.level, "clean");
    assert_eq!(view.chips.len(), 10, "a chip per class: {:?}", view.chips);
    assert!(view.chips.values().all(|n| *n == 0), "{:?}", view.chips);
    assert_eq!(view.chips, summary_counts(&run));
    assert_charts_drawn(&view);
    assert_eq!((view.filtered, view.classes_shown.as_str(), view.rows.len()), (0, "", 0));
    assert_eq!(view.page_info, "0 record(s) · page 1 of 1");
    screenshot(&page, "clean");
}

#[test]
fn the_sample_run_shows_its_halts_and_the_hash_filters_them() {
    let tmp = tempfile::tempdir().unwrap();
    let run = replay_sample(tmp.path(), "sample", &[]);
    let page = run.join("report.html");
    let records = csv_records(&run);
    assert_eq!(records.len(), 10);
    let counts = summary_counts(&run);
    assert_eq!(counts["halt"], 10);

    let dom = browse(&page, "");
    assert_eq!(dom.banner(), "findings");
    let view = only_run(&dom);
    assert_eq!(view.level, "findings");
    assert_eq!(view.chips, counts, "the chips are summary.json's counts");
    assert_charts_drawn(&view);
    assert_eq!(view.rows, records, "the table: every record, by height");
    assert_eq!((view.filtered, view.classes_shown.as_str()), (10, "halt"));

    let view = only_run(&browse(&page, "#class=halt"));
    assert_eq!((view.filtered, view.classes_shown.as_str(), view.rows.len()), (10, "halt", 10));
    // A class the run has no record of shows none (not every record).
    let view = only_run(&browse(&page, "#class=split"));
    assert_eq!((view.filtered, view.classes_shown.as_str(), view.rows.len()), (0, "", 0));
    let view = only_run(&browse(&page, "#run=0&height=100-150"));
    let want: Vec<(String, u64)> = records.iter().filter(|r| (100..=150).contains(&r.1)).cloned().collect();
    assert!(!want.is_empty());
    assert_eq!((view.filtered, &view.rows), (want.len() as u64, &want));
    let view = only_run(&browse(&page, "#reason=leader.missing"));
    let missing = std::fs::read_to_string(run.join("divergences.csv")).unwrap().matches(",leader.missing,").count();
    assert_eq!((view.filtered, view.rows.len()), (missing as u64, missing));
    assert!(missing > 0);
    // A hash for another run leaves this one's table whole.
    let view = only_run(&browse(&page, "#run=1&class=split"));
    assert_eq!(view.filtered, 10);
    screenshot(&page, "sample");
}

/// A legacy that rejects every block: each block the candidate accepts is a split.
const SAYS_NO: &str = "def verify_block(block, env):\n    return {\"verdict\": \"reject\", \"reason\": \"legacy.says_no\", \"detail\": \"\"}\n";

/// A signed chain of `blocks` for the sample's profile, with two faulty blocks.
fn signed_chain(dir: &Path, blocks: u64) -> PathBuf {
    let chain = dir.join("chain");
    let profile = sample_dir().join("profile.toml");
    let mut args = vec!["chain".to_owned(), "synth".into(), "--out".into(), s(&chain).into()];
    args.extend(["--blocks".into(), blocks.to_string(), "--profile".into(), s(&profile).into()]);
    for i in 1..=3 {
        args.extend(["--key".into(), s(&sample_dir().join(format!("keys/throwaway-test-leader-{i}.key"))).into()]);
    }
    args.extend([
        "--fault".into(),
        format!("{}:missing", blocks / 3),
        "--fault".into(),
        format!("{}:unknown", blocks / 2),
    ]);
    let r = dualrun(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(r.code, 0, "{}", r.stderr);
    chain
}

#[test]
fn thousands_of_records_render_one_page_at_a_time() {
    let tmp = tempfile::tempdir().unwrap();
    let chain = signed_chain(tmp.path(), 5000);
    let py = tmp.path().join("py");
    std::fs::create_dir_all(&py).unwrap();
    std::fs::write(py.join("says_no.py"), SAYS_NO).unwrap();
    let run = tmp.path().join("splits");
    let profile = sample_dir().join("profile.toml");
    let r = dualrun(&[
        "replay",
        "--chain",
        s(&chain),
        "--profile",
        s(&profile),
        "--legacy",
        "python:says_no",
        "--python-path",
        s(&py),
        "--out",
        s(&run),
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let counts = summary_counts(&run);
    let total: u64 = counts.values().sum();
    assert_eq!(total, 5000, "{counts:?}");
    assert_eq!((counts["split"], counts["reason"]), (4998, 2), "the two faulty blocks both sides reject");
    let page = run.join("report.html");
    let bytes = std::fs::metadata(&page).unwrap().len();
    assert!(bytes < 30 << 20, "report.html is {bytes} bytes");

    let dom = browse(&page, "");
    assert_eq!(dom.banner(), "findings");
    let view = only_run(&dom);
    assert_eq!(view.chips, counts);
    assert_charts_drawn(&view);
    assert_eq!(view.filtered, total, "every record is in the table's data");
    assert_eq!(view.rows.len(), 100, "one page of rows");
    let heights: Vec<u64> = view.rows.iter().map(|r| r.1).collect();
    assert_eq!(heights, (0..100).collect::<Vec<u64>>(), "the first page: the lowest heights");
    assert_eq!(view.classes_shown, "split");
    assert_eq!(view.page_info, "5000 record(s) · page 1 of 50");

    let view = only_run(&browse(&page, "#class=reason"));
    assert_eq!((view.filtered, view.classes_shown.as_str()), (2, "reason"));
    let reasons: Vec<u64> = view.rows.iter().map(|r| r.1).collect();
    assert_eq!(reasons, [5000 / 3, 5000 / 2]);
    screenshot(&page, "thousands");
}

#[test]
fn several_runs_with_a_ledger_show_the_overview_and_the_timeline() {
    let tmp = tempfile::tempdir().unwrap();
    let clean = replay_sample(tmp.path(), "clean", &["--to", "20"]);
    let sample = replay_sample(tmp.path(), "sample", &[]);
    let (key, ledger) = (tmp.path().join("ops.key"), tmp.path().join("ledger.jsonl"));
    assert_eq!(dualrun(&["keygen", "--id", "ops", "--out", s(&key)]).code, 0);
    let r = dualrun(&["gate", "init", "--ledger", s(&ledger), "--key", s(&key), "--operator", "alice"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let page = tmp.path().join("both.html");
    let r = dualrun(&["report", s(&clean), s(&sample), "--ledger", s(&ledger), "--out", s(&page)]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);

    let dom = browse(&page, "");
    assert_eq!(dom.banner(), "findings", "one run's halts");
    let overview = dom.by_id("section", "overview").expect("#overview for several runs");
    // The body's rows (the head's row has no <td>).
    let rows: Vec<Vec<String>> = elements_in(overview.inner, "tr", |_| true)
        .iter()
        .map(|tr| cells(tr.inner))
        .filter(|cells| !cells.is_empty())
        .collect();
    let names: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(names, ["clean", "sample", "all runs"]);
    let states: Vec<&str> = rows.iter().map(|r| r[1].as_str()).collect();
    assert_eq!(states, ["clean", "findings", "findings"]);
    let records: Vec<&str> = rows.iter().map(|r| r.last().unwrap().as_str()).collect();
    assert_eq!(records, ["0", "10", "10"]);

    let runs = dom.runs();
    assert_eq!(runs.len(), 2);
    let (a, b) = (run_view(&runs[0]), run_view(&runs[1]));
    assert_eq!((a.level.as_str(), b.level.as_str()), ("clean", "findings"));
    assert_eq!((a.chips, b.chips), (summary_counts(&clean), summary_counts(&sample)));
    assert_eq!((a.filtered, b.filtered), (0, 10));

    let verify = dom.by_id("span", "ledger-verify").expect("#ledger-verify");
    assert_eq!(attr(verify.tag, "data-ok"), Some("1"), "{}", verify.inner);
    let ledger_section = dom.by_id("section", "ledger").expect("#ledger");
    let entries: Vec<Vec<String>> =
        elements_in(ledger_section.inner, "tr", |t| has_class(t, "entry")).iter().map(|tr| cells(tr.inner)).collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(&entries[0][..4], ["0", "init", "→ legacy", "alice"]);

    // The hash names the second run: only its table is filtered.
    let dom = dom_runs(&page, "#run=1&class=halt");
    assert_eq!((dom[0].filtered, dom[1].filtered, dom[1].classes_shown.as_str()), (0, 10, "halt"));
    let dom = dom_runs(&page, "#run=1&class=split");
    assert_eq!((dom[0].filtered, dom[1].filtered), (0, 0));
    screenshot(&page, "multi-ledger");
}

fn dom_runs(page: &Path, fragment: &str) -> Vec<RunView> {
    browse(page, fragment).runs().iter().map(run_view).collect()
}
