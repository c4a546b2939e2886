//! The report of the pinned sample run (`dualrun_testkit::sample_run`) is byte for byte the pinned
//! report, HTML and Markdown: a change to what an auditor reads is seen here, and made on purpose (by
//! rendering the fixture again and reviewing the difference).

#![allow(unused_crate_dependencies)]

use dualrun_report::{render, Report};
use dualrun_testkit::{fixture, sample_run};

/// How the report spells a path in HTML (every `/` escaped).
fn html_escaped(path: &str) -> String {
    path.replace('/', "&#x2f;")
}

fn assert_same(got: &str, want: &str, what: &str) {
    for (n, (g, w)) in got.lines().zip(want.lines()).enumerate() {
        assert_eq!(g, w, "{what}, line {}: the report changed from the pinned one", n + 1);
    }
    assert_eq!(got, want, "{what}: the report changed from the pinned one");
}

#[test]
fn the_sample_runs_report_is_the_pinned_one() {
    let dir = sample_run::dir();
    let report = Report::gather(&[dir.clone()], None);
    let html = render::html(&report).unwrap().replace(&html_escaped(dir.to_str().unwrap()), "{RUN}");
    let want = std::fs::read_to_string(fixture("sample-run.report.html")).unwrap();
    assert_same(&html, &want, "report.html");
    let markdown = render::markdown(&report).unwrap();
    let want = std::fs::read_to_string(fixture("sample-run.report.md")).unwrap();
    assert_same(&markdown, &want, "report.md");
}
