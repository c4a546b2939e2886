//! `golden check --junit FILE`: the results of a golden run as JUnit XML, one `<testcase>` per vector
//! (its kind the class name), a failure typed `mismatch` with the runner's message, a skip with its
//! written reason — what CI systems read.

use std::path::{Path, PathBuf};

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::runner::{GoldenReport, Status};

/// The JUnit XML could not be made or written.
#[derive(Debug, thiserror::Error)]
pub enum JunitError {
    /// The XML could not be serialized.
    #[error("writing JUnit XML")]
    Xml(#[source] quick_junit::SerializeError),
    /// The file could not be written.
    #[error("writing {}", file.display())]
    Write {
        /// The file.
        file: PathBuf,
        /// What the operating system said.
        #[source]
        io: std::io::Error,
    },
}

/// The report as JUnit: one suite, one `<testcase>` per vector.
pub fn report(golden: &GoldenReport) -> Report {
    let mut suite = TestSuite::new(format!("dualrun golden {}", golden.dir.display()));
    for r in &golden.results {
        let status = match &r.status {
            Status::Pass => TestCaseStatus::success(),
            Status::Fail(msg) => {
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                st.set_message(msg.clone());
                st.set_type("mismatch");
                st
            }
            Status::Skipped(why) => {
                let mut st = TestCaseStatus::skipped();
                st.set_message(why.clone());
                st
            }
        };
        let mut case = TestCase::new(r.name.clone(), status);
        case.set_classname(r.kind);
        suite.add_test_case(case);
    }
    let mut report = Report::new("dualrun golden check");
    report.add_test_suite(suite);
    report
}

/// Writes the report as JUnit XML to `file`.
pub fn write(golden: &GoldenReport, file: &Path) -> Result<(), JunitError> {
    let xml = report(golden).to_string().map_err(JunitError::Xml)?;
    std::fs::write(file, xml).map_err(|io| JunitError::Write { file: file.into(), io })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::VectorResult;

    fn result(name: &str, kind: &'static str, status: Status) -> VectorResult {
        VectorResult {
            path: format!("/v/{name}.json").into(),
            rel: format!("{name}.json"),
            name: name.into(),
            kind,
            status,
        }
    }

    #[test]
    fn one_testcase_per_vector_with_failures_and_skips_explained() {
        let golden = GoldenReport {
            dir: "/v".into(),
            digest: Default::default(),
            results: vec![
                result("ok", "leader-v1", Status::Pass),
                result("bad", "mode-v1", Status::Fail("bad.json: verdict: expected accept, got reject".into())),
                result("later", "finality-v1", Status::Skipped("needs a second validator".into())),
            ],
        };
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("golden.xml");
        write(&golden, &file).unwrap();
        let xml = std::fs::read_to_string(&file).unwrap();
        let want = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="dualrun golden check" tests="3" skipped="1" failures="1" errors="0">
    <testsuite name="dualrun golden /v" tests="3" skipped="1" errors="0" failures="1">
        <testcase name="ok" classname="leader-v1"/>
        <testcase name="bad" classname="mode-v1">
            <failure message="bad.json: verdict: expected accept, got reject" type="mismatch"/>
        </testcase>
        <testcase name="later" classname="finality-v1">
            <skipped message="needs a second validator"/>
        </testcase>
    </testsuite>
</testsuites>
"#;
        assert_eq!(xml, want);
        let e = write(&golden, &tmp.path().join("missing/golden.xml")).unwrap_err();
        assert!(matches!(e, JunitError::Write { .. }), "{e}");
        assert_eq!(e.to_string(), format!("writing {}", tmp.path().join("missing/golden.xml").display()));
    }
}
