//! A run directory written through `RunWriter` reads back through `RunDir` as written; every reader's
//! refusals (unknown format, incomplete run, edited file, cut record) are typed and name the file.

use std::path::Path;

use dualrun_core::mode::Source;
use dualrun_core::{ErrorKind, Facts, Mode, RecordClass, ReplayEnv, VerdictKind, VerifierError};
use dualrun_format::Hash32;
use dualrun_rundir::{
    files, Authoritative, ChainInputs, EnvInputs, Inputs, Manifest, Problem, ProfileInputs, Record, RunDir,
    RunDirError, RunWriter, Side, Stats, Summary, FORMAT_VERSION,
};

fn hash(byte: u8) -> Hash32 {
    Hash32([byte; 32])
}

fn inputs() -> Inputs {
    Inputs {
        chain: ChainInputs {
            path: "/chains/a".into(),
            schema_version: 5,
            genesis_id: hash(1),
            from: 0,
            to: 9,
            blocks: 10,
            chain_digest: hash(2),
            live: false,
        },
        profile: ProfileInputs { path: "/p.toml".into(), digest: hash(3), network: "net".into() },
        mode: Mode::Shadow,
        legacy: None,
        candidate: None,
        env: EnvInputs { now: "block".into() },
        settings: dualrun_rundir::RunSettings::Command(dualrun_rundir::CommandSettings::default()),
        shard: None,
    }
}

fn manifest() -> Manifest {
    Manifest::new(inputs(), "/chains/a/data.mdb".into(), 1)
}

fn records() -> Vec<Record> {
    let env = ReplayEnv {
        now: 7,
        network_name: "net".into(),
        network_id: "00".repeat(16),
        genesis_id: hash(1),
        activation_height: 1,
        prev_id: Some(hash(4)),
        timestamps: vec![5, 6],
    };
    let mut facts = Facts::new();
    facts.insert("block_id".into(), hash(5).to_string());
    let halt = Record {
        height: 3,
        block_id: hash(5),
        class: RecordClass::Halt,
        mode: Mode::Shadow,
        legacy: Side::Verdict { verdict: VerdictKind::Accept, reason: String::new(), detail: String::new(), facts },
        candidate: Side::Verdict {
            verdict: VerdictKind::Reject,
            reason: "leader.missing".into(),
            detail: "no record".into(),
            facts: Facts::new(),
        },
        authoritative: Authoritative { verdict: VerdictKind::Accept, reason: String::new(), source: Source::Legacy },
        differing_facts: vec![],
        stored_id: None,
        second_answer: None,
        env: env.clone(),
        blob: "0a0b".into(),
        reproduce: "dualrun replay --from 3 --to 3".into(),
    };
    let error = Record {
        height: 4,
        class: RecordClass::CandidateError,
        candidate: Side::Error { error: VerifierError::new(ErrorKind::Timeout, "line one\nno answer in 30 s") },
        ..halt.clone()
    };
    vec![halt, error]
}

/// Writes a complete run into `dir`.
fn finished_run(dir: &Path) {
    let mut w = RunWriter::create(dir, &manifest()).unwrap();
    let mut stats = Stats { blocks: 10, authoritative_accept: 10, sessions: 1, ..Stats::default() };
    for r in records() {
        stats.add(r.class);
        w.write(&r).unwrap();
    }
    w.checkpoint(10, &stats, false).unwrap();
    let summary = Summary::from_stats(Mode::Shadow, 0, 9, &stats, true, 10);
    w.finish(&summary, Manifest { complete: true, ..manifest() }).unwrap();
    w.checkpoint(10, &stats, true).unwrap();
}

#[test]
fn a_finished_run_reads_back_as_written() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    finished_run(&dir);
    let run = RunDir::open(&dir).unwrap();
    assert_eq!(run.records().unwrap(), records());
    assert_eq!(run.manifest.inputs, inputs());
    assert_eq!(run.manifest.format_version, FORMAT_VERSION);
    assert_eq!((run.summary.divergences.halt, run.summary.errors.candidate_error, run.summary.records), (1, 1, 2));
    assert!(run.compared());
    // The CSV carries the last line of an error message as its note.
    let csv = std::fs::read_to_string(dir.join(files::CSV)).unwrap();
    assert!(csv.lines().nth(2).unwrap().ends_with(",no answer in 30 s"), "{csv}");
}

#[test]
fn unknown_formats_incomplete_runs_and_edited_files_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    finished_run(&dir);
    let manifest_file = dir.join(files::MANIFEST);
    let original = std::fs::read_to_string(&manifest_file).unwrap();

    std::fs::write(&manifest_file, original.replace("\"format_version\": 2", "\"format_version\": 3")).unwrap();
    let e = RunDir::load(&dir).unwrap_err();
    assert!(matches!(e, RunDirError::UnknownFormat { .. }), "{e}");
    assert!(e.to_string().contains("manifest.json") && e.to_string().contains("version 3"), "{e}");

    // A manifest from before the field existed reads as version 1.
    std::fs::write(&manifest_file, original.replace("  \"format_version\": 2,\n", "")).unwrap();
    assert_eq!(RunDir::load(&dir).unwrap().manifest.format_version, 1);

    std::fs::write(&manifest_file, original.replace("\"complete\": true", "\"complete\": false")).unwrap();
    assert_eq!(RunDir::load(&dir).unwrap().problems(), vec![Problem::ManifestIncomplete]);

    std::fs::write(&manifest_file, &original).unwrap();
    let csv = dir.join(files::CSV);
    let text = std::fs::read_to_string(&csv).unwrap();
    std::fs::write(&csv, text.replace("halt", "fact")).unwrap();
    let e = RunDir::open(&dir).unwrap_err();
    assert!(e.to_string().contains("divergences.csv was changed after the run"), "{e}");
    std::fs::write(&csv, text).unwrap();

    // A record cut short is an error naming the file and line, never a skipped record.
    let jsonl = dir.join(files::JSONL);
    let lines = std::fs::read_to_string(&jsonl).unwrap();
    std::fs::write(&jsonl, &lines[..lines.len() - 20]).unwrap();
    let e = RunDir::load(&dir).unwrap().records().unwrap_err();
    assert!(e.to_string().contains("divergences.jsonl") && e.to_string().contains("line 2"), "{e}");
}

#[test]
fn a_resume_truncates_to_the_checkpoint_and_refuses_other_inputs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let mut w = RunWriter::create(&dir, &manifest()).unwrap();
    let [first, second]: [Record; 2] = records().try_into().unwrap();
    w.write(&first).unwrap();
    let mut stats = Stats::default();
    stats.add(first.class);
    w.checkpoint(4, &stats, false).unwrap();
    w.write(&second).unwrap(); // after the checkpoint: dropped by the resume
    drop(w);

    let mut other = inputs();
    other.chain.to = 8;
    let e = RunWriter::resume(&dir, &other).err().unwrap();
    assert!(e.to_string().contains("chain.to: was 9, now 8"), "{e}");

    let (_, old, cp) = RunWriter::resume(&dir, &inputs()).unwrap();
    assert_eq!((old.started_unix, cp.unwrap().next_height), (1, 4));
    let jsonl = std::fs::read_to_string(dir.join(files::JSONL)).unwrap();
    assert_eq!(jsonl, format!("{}\n", String::from_utf8(first.json_line()).unwrap()));
}

/// A live run taken back to a fork: the checkpoint moves to the fork with the event pending, the event is
/// appended once, records stay and are read as orphaned; a kill between the steps is finished by the
/// next resume, which also cuts `ids.bin` to the fork.
#[test]
fn a_rewind_to_a_fork_is_one_step_a_kill_cannot_split() {
    use dualrun_rundir::{rewind_live, Checkpoint, OrphanedBlock, Orphans, ReorgEvent};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("live");
    let mut live = inputs();
    (live.chain.live, live.chain.to, live.chain.blocks, live.chain.chain_digest) = (true, 0, 0, Hash32::default());
    let manifest = Manifest::new(live.clone(), "http://127.0.0.1:1".into(), 1);
    let mut w = RunWriter::create(&dir, &manifest).unwrap();
    let mut stats = Stats::default();
    for h in 0..6u8 {
        w.judged_id(&hash(100 + h)).unwrap();
    }
    for r in records() {
        stats.add(r.class);
        w.write(&r).unwrap();
    }
    w.checkpoint(6, &stats, false).unwrap();
    drop(w);
    let event = ReorgEvent {
        fork_height: 3,
        daemon_height: 8,
        orphaned: (3..6u8).map(|h| OrphanedBlock { height: u64::from(h), block_id: hash(100 + h) }).collect(),
        records_before: 0,
    };

    // A kill right after the first step: the checkpoint holds the event, reorgs.jsonl does not yet.
    let cp_path = dir.join(files::CHECKPOINT);
    let mut cp = Checkpoint::load(&dir).unwrap();
    (cp.next_height, cp.ids_bytes) = (3, 3 * 32);
    cp.pending_reorg = Some(ReorgEvent { records_before: 2, ..event.clone() });
    std::fs::write(&cp_path, serde_json::to_vec_pretty(&cp).unwrap()).unwrap();
    let (_, _, resumed) = RunWriter::resume(&dir, &live).unwrap();
    let resumed = resumed.unwrap();
    assert_eq!((resumed.next_height, resumed.pending_reorg.is_none()), (3, true));
    assert_eq!(ReorgEvent::read_all(&dir).unwrap().len(), 1, "the resume recorded the event");
    assert_eq!(std::fs::metadata(dir.join(files::IDS)).unwrap().len(), 3 * 32, "ids.bin cut to the fork");
    RunWriter::resume(&dir, &live).unwrap();
    assert_eq!(ReorgEvent::read_all(&dir).unwrap().len(), 1, "and only once");

    // The records stay; records 0 and 1 (heights 3 and 4) were written before the event: orphaned if
    // their block was. Block 3's id is hash(103); the records name hash(9).
    let orphans = Orphans::of(&dir).unwrap();
    assert!(orphans.contains(0, 3, &hash(103)) && !orphans.contains(2, 3, &hash(103)), "only records written before");
    assert!(!orphans.contains(0, 3, &hash(9)));

    // rewind_live on the resumed run (checkpoint at 3): orphaned blocks it never judged are dropped, so
    // nothing changes.
    rewind_live(&dir, event).unwrap();
    assert_eq!(ReorgEvent::read_all(&dir).unwrap().len(), 1);
}

/// A run directory is a closed set of regular files: an added file, a link (even under a name the format
/// defines), a subdirectory or a FIFO each make it unusable, named; a linked file is never read.
#[test]
fn a_run_directory_is_a_closed_set_of_regular_files() {
    use dualrun_rundir::files::Stray;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    finished_run(&dir);
    assert_eq!(RunDir::open(&dir).unwrap().problems(), vec![]);

    let secret = tmp.path().join("secret.txt");
    std::fs::write(&secret, "TOP-SECRET-CONTENT\n").unwrap();
    std::os::unix::fs::symlink(&secret, dir.join(files::REORGS)).unwrap();
    std::fs::write(dir.join("notes.txt"), "mine").unwrap();
    std::fs::create_dir(dir.join("sub")).unwrap();
    let fifo = std::ffi::CString::new(dir.join("pipe").into_os_string().into_encoded_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);

    let problems = RunDir::load(&dir).unwrap().problems();
    let stray =
        |name: &str, kind: &'static str, defined: bool| Problem::Stray(Stray { name: name.into(), kind, defined });
    assert_eq!(
        problems,
        vec![
            stray("notes.txt", "a regular file", false),
            stray("pipe", "a FIFO", false),
            stray(files::REORGS, "a symbolic link", true),
            stray("sub", "a directory", false),
            Problem::Undigested(files::REORGS),
        ]
    );
    let e = RunDir::open(&dir).unwrap_err().to_string();
    assert!(e.contains("notes.txt (a regular file) is not part of a run directory"), "{e}");
    let link = problems[2].to_string();
    assert!(link.contains("reorgs.jsonl is a symbolic link, not a regular file"), "{link}");

    // A record file replaced by a link to another file: refused by every read, its target never echoed.
    std::fs::rename(dir.join(files::JSONL), tmp.path().join("moved.jsonl")).unwrap();
    std::os::unix::fs::symlink(&secret, dir.join(files::JSONL)).unwrap();
    let run = RunDir::load(&dir).unwrap();
    let e = run.records().unwrap_err().to_string();
    assert!(e.contains("a symbolic link, which is never followed") && !e.contains("TOP-SECRET"), "{e}");
    let all: Vec<String> = run.problems().iter().map(ToString::to_string).collect();
    assert!(all.iter().all(|p| !p.contains("TOP-SECRET")), "{all:?}");
    assert!(dualrun_rundir::ReorgEvent::read_all(&dir).is_err(), "a linked reorgs.jsonl is not read");
}

/// A summary's counts are believed only when the records say the same: an edit of summary.json whose
/// digest was fixed up too is a problem naming the field.
#[test]
fn a_summary_count_the_records_do_not_back_is_a_problem_naming_the_field() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    finished_run(&dir);
    let summary_file = dir.join(files::SUMMARY);
    let mut summary: serde_json::Value = serde_json::from_slice(&std::fs::read(&summary_file).unwrap()).unwrap();
    summary["divergences"]["halt"] = 0.into();
    summary["records"] = 1.into();
    std::fs::write(&summary_file, serde_json::to_vec_pretty(&summary).unwrap()).unwrap();
    let manifest_file = dir.join(files::MANIFEST);
    let mut manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(&manifest_file).unwrap()).unwrap();
    manifest["files"][files::SUMMARY] =
        dualrun_format::keccak256(&std::fs::read(&summary_file).unwrap()).to_string().into();
    std::fs::write(&manifest_file, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();

    let problems = RunDir::load(&dir).unwrap().problems();
    assert_eq!(
        problems,
        vec![
            Problem::CountDisagrees { field: "divergences.halt".into(), summary: 0, records: 1 },
            Problem::CountDisagrees { field: "records".into(), summary: 1, records: 2 },
        ]
    );
    let e = RunDir::open(&dir).unwrap_err().to_string();
    assert!(e.contains("summary.json says divergences.halt = 0, but divergences.jsonl holds 1"), "{e}");
}

/// Every readable record is read; each line that is not one is named by number; a line past the cap is
/// reported without being held.
#[test]
fn unreadable_lines_are_named_and_the_rest_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    finished_run(&dir);
    let jsonl = dir.join(files::JSONL);
    let text = std::fs::read_to_string(&jsonl).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(&jsonl, format!("{{\"height\": \"\x1b[31m{}\n{}\n", "x".repeat(5000), lines[1])).unwrap();
    let read = RunDir::load(&dir).unwrap().read_records().unwrap();
    assert_eq!(read.records.len(), 1);
    assert_eq!(read.records[0].0, 2, "the record's line number");
    assert_eq!(read.unreadable.len(), 1);
    let (line, why) = &read.unreadable[0];
    assert_eq!(*line, 1);
    assert!(why.starts_with("not a record:") && why.len() < 400 && !why.contains('\x1b'), "{why}");
    let e = RunDir::load(&dir).unwrap().records().unwrap_err().to_string();
    assert!(e.contains("line 1: not a record"), "{e}");
}

/// A resume continues from the checkpoint's counts only when the records it keeps agree.
#[test]
fn a_resume_refuses_a_checkpoint_whose_counts_the_records_do_not_back() {
    use dualrun_rundir::Checkpoint;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let mut w = RunWriter::create(&dir, &manifest()).unwrap();
    let mut stats = Stats::default();
    for r in records() {
        stats.add(r.class);
        w.write(&r).unwrap();
    }
    w.checkpoint(5, &stats, false).unwrap();
    drop(w);
    let mut cp = Checkpoint::load(&dir).unwrap();
    cp.stats.records.clear();
    std::fs::write(dir.join(files::CHECKPOINT), serde_json::to_vec_pretty(&cp).unwrap()).unwrap();
    let e = RunWriter::resume(&dir, &inputs()).err().unwrap().to_string();
    assert!(e.contains("stats.records.halt = 0, but the records it keeps in divergences.jsonl hold 1"), "{e}");
}

/// The record stage tells each step as an event, in order: a block judged, then each of its records as
/// written; a checkpoint when one is made — and what it writes is what the events said.
#[test]
fn the_recorder_tells_each_step_as_it_writes_it() {
    use dualrun_core::{decide, ReasonMap};
    use dualrun_rundir::{Elapsed, JudgedBlock, Observer, Recorder, RunEvent};

    #[derive(Default)]
    struct Told(Vec<String>);
    impl Observer for Told {
        fn observe(&mut self, event: &RunEvent<'_>) {
            self.0.push(match event {
                RunEvent::Judged { block, elapsed } => format!("judged {} {:?}", block.height, elapsed.legacy),
                RunEvent::Recorded { record } => format!("recorded {} {}", record.height, record.class),
                RunEvent::Checkpointed { next_height, stats } => format!("checkpoint {next_height} {}", stats.blocks),
                other => format!("{other:?}"),
            });
        }
    }

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let writer = RunWriter::create(&dir, &manifest()).unwrap();
    let mut recorder = Recorder::new(writer, Stats::default(), Mode::Shadow);
    use dualrun_testkit::verifiers::{accept, env, reject};
    let (env, accept, reject) = (env(), accept(), reject("leader.missing"));
    let decision = decide(Mode::Shadow, Some(&accept), Some(&reject), &ReasonMap::default());
    // A halt, and the stored id is not the blob's: two records for one block.
    let block = JudgedBlock {
        height: 3,
        block_id: hash(5),
        stored_id: hash(6),
        blob: &[1, 2, 3],
        env: &env,
        legacy: Some(&accept),
        candidate: Some(&reject),
        decision: &decision,
        legacy_again: None,
        candidate_again: None,
    };
    let elapsed = Elapsed { legacy: Some(std::time::Duration::from_millis(2)), candidate: None };
    let mut told = Told::default();
    recorder.judged(&block, elapsed, |h| format!("again {h}"), &mut told).unwrap();
    recorder.checkpoint(4, &mut told).unwrap();
    assert_eq!(told.0, ["judged 3 Some(2ms)", "recorded 3 halt", "recorded 3 stored_id_mismatch", "checkpoint 4 1"]);
    assert_eq!(recorder.first_record().map(|r| (r.height, r.reproduce.as_str())), Some((3, "again 3")));
    let stats = recorder.stats_now();
    assert_eq!((stats.blocks, stats.total_records()), (1, 2));
    let checkpoint: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(files::CHECKPOINT)).unwrap()).unwrap();
    assert_eq!(checkpoint["next_height"], 4);
    let written = std::fs::read_to_string(dir.join(files::JSONL)).unwrap();
    assert_eq!(written.lines().count(), 2, "both records are in the file the events named");
}

/// `timings.csv`: a line per judged block, cut back to the checkpoint by a resume like the records,
/// digested (an edit, a removal or an undigested copy in a version 1 run is a problem naming the file),
/// and read back as a stream.
#[test]
fn timings_are_written_per_block_cut_back_by_a_resume_and_digested() {
    use dualrun_rundir::{Timing, Timings, TIMINGS_HEADER};
    use std::time::Duration;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let line = |h: u64| {
        Timing::of(h, Some(Duration::from_micros(10 + h)), Some(Duration::from_micros(h)), VerdictKind::Accept)
    };
    let mut w = RunWriter::create(&dir, &manifest()).unwrap();
    for h in 0..4 {
        w.timing(&line(h)).unwrap();
    }
    w.checkpoint(4, &Stats::default(), false).unwrap();
    w.timing(&line(4)).unwrap(); // after the checkpoint: dropped by the resume
    drop(w);

    let (mut w, _, cp) = RunWriter::resume(&dir, &inputs()).unwrap();
    assert_eq!(
        cp.unwrap().timings_bytes,
        (TIMINGS_HEADER.len() + 1 + (0..4).map(|h| line(h).csv_line().len()).sum::<usize>()) as u64
    );
    for h in 4..10 {
        w.timing(&line(h)).unwrap();
    }
    let stats = Stats { blocks: 10, authoritative_accept: 10, sessions: 2, ..Stats::default() };
    w.checkpoint(10, &stats, false).unwrap();
    w.finish(&Summary::from_stats(Mode::Shadow, 0, 9, &stats, true, 10), Manifest { complete: true, ..manifest() })
        .unwrap();
    drop(w);

    let text = std::fs::read_to_string(dir.join(files::TIMINGS)).unwrap();
    assert_eq!(text.lines().next(), Some(TIMINGS_HEADER));
    assert_eq!(text.lines().nth(5), Some("4,14,4,accept"), "{text}");
    let read: Vec<Timing> = Timings::open(&dir).unwrap().unwrap().map(Result::unwrap).collect();
    assert_eq!(read, (0..10).map(line).collect::<Vec<_>>());
    let run = RunDir::open(&dir).unwrap();
    assert!(run.manifest.files.as_ref().unwrap().contains_key(files::TIMINGS));

    std::fs::write(dir.join(files::TIMINGS), text.replace("4,14,4", "4,14,9")).unwrap();
    assert_eq!(RunDir::load(&dir).unwrap().problems(), vec![Problem::Changed(files::TIMINGS.into())]);
    std::fs::remove_file(dir.join(files::TIMINGS)).unwrap();
    assert_eq!(RunDir::load(&dir).unwrap().problems(), vec![Problem::Missing(files::TIMINGS.into())]);

    // A version 1 run is read without timings; one found beside it was added after the run.
    let v1 = dualrun_testkit::sample_run::copy_with_format_version(&tmp.path().join("v1"), 1);
    assert_eq!(RunDir::open(&v1).unwrap().manifest.format_version, 1);
    assert!(Timings::open(&v1).unwrap().is_none());
    std::fs::write(v1.join(files::TIMINGS), &text).unwrap();
    assert_eq!(RunDir::load(&v1).unwrap().problems(), vec![Problem::Undigested(files::TIMINGS)]);
    let e = RunWriter::resume(&v1, &RunDir::load(&v1).unwrap().manifest.inputs).err().unwrap();
    assert!(e.to_string().contains("format version 1"), "{e}");
}
