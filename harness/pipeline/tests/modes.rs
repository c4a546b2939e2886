//! The mode table through the whole pipeline, on the bundled sample chain: the candidate (the leader
//! protocol v1 validator) rejects exactly the ten blocks the sample's producer faulted; a legacy that
//! accepts everything stands for the legacy. Each mode runs the verifiers it names, lets the one it
//! names decide, and records a halt exactly where both ran and disagreed.
#![allow(unused_crate_dependencies)]

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use dualrun_chaindb::ChainDb;
use dualrun_core::{Mode, ReasonMap, RecordClass, Verifier};
use dualrun_leader::verifier::LeaderVerifier;
use dualrun_leader::Profile;
use dualrun_pipeline::{context_at, Judged, LmdbRange, NowMode, Pipeline, Sink, Verifiers};
use dualrun_testkit::verifiers::AcceptAll;

/// What a run judged: the heights whose authoritative verdict was a rejection, and every record.
#[derive(Default)]
struct Seen {
    blocks: u64,
    rejected: Vec<u64>,
    records: Vec<(u64, RecordClass)>,
    legacy_answers: u64,
    candidate_answers: u64,
}

impl Sink for Seen {
    type Error = std::convert::Infallible;
    fn judged(&mut self, j: Judged<'_>) -> Result<(), Self::Error> {
        let height = j.item.input.height;
        self.blocks += 1;
        if !j.decision.authoritative.is_accept() {
            self.rejected.push(height);
        }
        self.records.extend(j.decision.records.iter().map(|c| (height, *c)));
        self.legacy_answers += u64::from(j.legacy.is_some());
        self.candidate_answers += u64::from(j.candidate.is_some());
        Ok(())
    }
}

/// The heights the sample's producer faulted (`leader-expected.csv`: `height,…,reject,…`).
fn faulted() -> Vec<u64> {
    let expected = std::fs::read_to_string(dualrun_testkit::sample_dir().join("leader-expected.csv")).unwrap();
    expected
        .lines()
        .skip(1)
        .filter(|l| l.contains(",reject,"))
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect()
}

fn run(mode: Mode) -> Seen {
    let sample = dualrun_testkit::sample_dir();
    let db = ChainDb::open(&sample).unwrap();
    let profile = Arc::new(Profile::load(&sample.join("profile.toml")).unwrap());
    let legacy = mode.runs_legacy().then(|| Box::new(AcceptAll) as Box<dyn Verifier>);
    let candidate = mode.runs_candidate().then(|| Box::new(LeaderVerifier::new(profile.clone())) as Box<dyn Verifier>);
    let pipeline = Pipeline {
        network: profile.network(),
        activation_height: profile.activation_height,
        now: NowMode::Block,
        reasons: ReasonMap::default(),
        threads: 2,
        noise: None,
        interrupt: Arc::new(AtomicBool::new(false)),
    };
    let ctx = context_at(&db, &pipeline.network, 0).unwrap();
    let mut seen = Seen::default();
    let ended = pipeline
        .run(LmdbRange::new(&db, 0, 200), ctx, Verifiers::new(mode, legacy, candidate).unwrap(), &mut seen)
        .unwrap();
    assert_eq!((ended.next_height, ended.interrupted), (201, false), "{mode}: the whole sample is judged");
    assert!(ended.source_error.is_none() && ended.verifier_stop.is_none());
    seen
}

#[test]
fn each_mode_runs_decides_and_records_as_the_table_says() {
    let faulted = faulted();
    assert_eq!(faulted.len(), 10);
    let halts: Vec<(u64, RecordClass)> = faulted.iter().map(|h| (*h, RecordClass::Halt)).collect();
    for (mode, legacy_runs, candidate_runs, rejected, records) in [
        (Mode::Legacy, true, false, vec![], vec![]),
        (Mode::Shadow, true, true, vec![], halts.clone()),
        (Mode::Primary, true, true, faulted.clone(), halts.clone()),
        (Mode::Only, false, true, faulted.clone(), vec![]),
    ] {
        let seen = run(mode);
        assert_eq!(seen.blocks, 201, "{mode}");
        assert_eq!(seen.legacy_answers, if legacy_runs { 201 } else { 0 }, "{mode}: legacy answers");
        assert_eq!(seen.candidate_answers, if candidate_runs { 201 } else { 0 }, "{mode}: candidate answers");
        assert_eq!(seen.rejected, rejected, "{mode}: the authoritative rejections");
        assert_eq!(seen.records, records, "{mode}: the records");
    }
}

#[test]
fn verifiers_that_are_not_the_modes_are_refused() {
    let accept = || Some(Box::new(AcceptAll) as Box<dyn Verifier>);
    assert!(Verifiers::new(Mode::Shadow, accept(), None).is_err(), "shadow needs a candidate");
    assert!(Verifiers::new(Mode::Only, accept(), accept()).is_err(), "only runs no legacy");
    assert!(Verifiers::new(Mode::Legacy, accept(), None).is_ok());
}
