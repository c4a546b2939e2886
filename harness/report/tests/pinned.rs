//! The report of the pinned sample run (`dualrun_testkit::sample_run`) is byte for byte the pinned
//! report, HTML and Markdown: a change to what an auditor reads is seen here, and made on purpose (by
//! rendering the fixture again — `DUALRUN_REPIN=1 cargo test -p dualrun-report --test pinned` writes
//! it — and reviewing the difference).

#![allow(unused_crate_dependencies)]

use dualrun_report::{render, Report};
use dualrun_testkit::{fixture, sample_run};

/// How the report spells a path in HTML (every `/` escaped).
fn html_escaped(path: &str) -> String {
    path.replace('/', "&#x2f;")
}

/// Compares `got` with the pinned fixture `name` (or, with `DUALRUN_REPIN=1`, writes it).
fn assert_same(got: &str, name: &str, what: &str) {
    let path = fixture(name);
    if std::env::var_os("DUALRUN_REPIN").is_some() {
        std::fs::write(&path, got).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap();
    for (n, (g, w)) in got.lines().zip(want.lines()).enumerate() {
        assert_eq!(g, w, "{what}, line {}: the report changed from the pinned one", n + 1);
    }
    assert_eq!(got, want, "{what}: the report changed from the pinned one");
}

#[test]
fn the_sample_runs_report_is_the_pinned_one() {
    let dir = sample_run::dir();
    let report = Report::gather(std::slice::from_ref(&dir), None);
    let html = render::html(&report).unwrap().replace(&html_escaped(dir.to_str().unwrap()), "{RUN}");
    assert_same(&html, "sample-run.report.html", "report.html");
    let markdown = render::markdown(&report).unwrap();
    assert_same(&markdown, "sample-run.report.md", "report.md");
}
