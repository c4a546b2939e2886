//! `follow` as a library against a fake daemon serving the bundled sample chain: a followed range gives
//! the records and the chain digest a cold replay of the same blocks gives (live == cold), and a daemon
//! whose chain does not link stops the run at the first block it cannot place, resumable, naming it; a
//! noise run picks and records the same blocks followed and replayed.
#![allow(unused_crate_dependencies)]

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use dualrun_core::{Mode, ReasonMap, Verifier};
use dualrun_follow::{FollowConfig, FollowError};
use dualrun_leader::verifier::LeaderVerifier;
use dualrun_leader::Profile;
use dualrun_pipeline::{NowMode, Verifiers};
use dualrun_replay::{ReplayConfig, ReplayError, RunEnd};
use dualrun_rundir::{CommandSettings, RunDir, RunSettings};
use dualrun_testkit::fake_daemon::{sample_blocks, FakeDaemon};
use dualrun_testkit::run_files::jsonl_without_reproduce;
use dualrun_testkit::verifiers::AcceptAll;

fn profile() -> Arc<Profile> {
    Arc::new(Profile::load(&dualrun_testkit::sample_dir().join("profile.toml")).unwrap())
}

fn config(out: &Path, from: u64, to: u64) -> ReplayConfig {
    ReplayConfig {
        profile: profile(),
        from,
        to: Some(to),
        now: NowMode::Block,
        reasons: ReasonMap::default(),
        settings: RunSettings::Command(CommandSettings::default()),
        out: out.to_path_buf(),
        resume: false,
        threads: 2,
        interrupt: Arc::new(AtomicBool::new(false)),
        shard: None,
    }
}

fn verifiers() -> Verifiers {
    let candidate = Box::new(LeaderVerifier::new(profile())) as Box<dyn Verifier>;
    Verifiers::new(Mode::Shadow, Some(Box::new(AcceptAll)), Some(candidate)).unwrap()
}

fn follow_config(url: &str) -> FollowConfig {
    FollowConfig {
        url: url.into(),
        rpc_timeout: Duration::from_secs(10),
        poll: Duration::from_millis(20),
        connect_wait: Duration::from_secs(10),
        zmq: None,
        inconsistent_give_up: Duration::from_secs(2),
        metrics: None,
    }
}

fn follow(url: &str, out: &Path, from: u64, to: u64) -> Result<dualrun_replay::RunResult, ReplayError> {
    dualrun_follow::run(follow_config(url), config(out, from, to), &mut || Ok(verifiers()), &mut ())
}

#[test]
fn a_followed_range_is_what_a_cold_replay_of_it_records() {
    let tmp = tempfile::tempdir().unwrap();
    let daemon = FakeDaemon::start(sample_blocks(120), None);
    let live: PathBuf = tmp.path().join("live");
    let followed = follow(&daemon.url, &live, 62, 100).unwrap();
    assert!(matches!(followed.end, RunEnd::Complete));

    let cold = tmp.path().join("cold");
    let chain = dualrun_testkit::sample_copy();
    let db = dualrun_chaindb::ChainDb::open(chain.path()).unwrap();
    let replayed = dualrun_replay::run(&db, config(&cold, 62, 100), verifiers(), &mut ()).unwrap();

    assert_eq!(followed.summary.blocks, 39);
    assert_eq!(followed.summary.records, replayed.summary.records);
    assert!(followed.summary.records > 0, "the sample's faults between 62 and 100 are recorded");
    assert_eq!(jsonl_without_reproduce(&live), jsonl_without_reproduce(&cold), "the same records");
    let (live, cold) = (RunDir::load(&live).unwrap(), RunDir::load(&cold).unwrap());
    assert_eq!(live.manifest.inputs.chain.chain_digest, cold.manifest.inputs.chain.chain_digest);
    assert!(live.manifest.inputs.chain.live && !cold.manifest.inputs.chain.live);
}

#[test]
fn a_chain_that_does_not_link_stops_at_the_block_it_cannot_place() {
    let tmp = tempfile::tempdir().unwrap();
    let mut chain = sample_blocks(71);
    let unlinked = chain.pop().unwrap(); // block 71 served as block 70: its parent is 70, not 69
    chain[70] = unlinked;
    chain[70].header["height"] = 70.into();
    let daemon = FakeDaemon::start(chain, None);
    let out = tmp.path().join("live");
    let err = follow(&daemon.url, &out, 62, 75).unwrap_err();
    let ReplayError::Source(source) = err else { panic!("a source error, not {err}") };
    let inconsistent = source.downcast::<FollowError>().expect("a follow error");
    let said = inconsistent.to_string();
    assert!(matches!(*inconsistent, FollowError::Inconsistent { .. }), "{said}");
    assert!(said.contains("its block at height 70 names parent"), "{said}");
    let checkpoint: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("checkpoint.json")).unwrap()).unwrap();
    assert_eq!(checkpoint["next_height"], 70, "judged up to 69, resumable");
}

#[test]
fn a_live_run_of_an_unknown_format_version_is_not_resumed() {
    let tmp = tempfile::tempdir().unwrap();
    let daemon = FakeDaemon::start(sample_blocks(80), None);
    let out = tmp.path().join("live");
    follow(&daemon.url, &out, 62, 70).unwrap();
    let manifest = out.join("manifest.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, text.replace("\"format_version\": 2,", "\"format_version\": 3,")).unwrap();
    let checkpoint = std::fs::read(out.join("checkpoint.json")).unwrap();

    // Refused before anything else: the daemon, gone now, is not even asked.
    let url = daemon.url.clone();
    drop(daemon);
    let resume = ReplayConfig { resume: true, ..config(&out, 62, 75) };
    let err = dualrun_follow::run(follow_config(&url), resume, &mut || Ok(verifiers()), &mut ()).unwrap_err();
    assert!(matches!(err, ReplayError::RunDir(dualrun_rundir::RunDirError::UnknownFormat { .. })), "{err}");
    assert_eq!(std::fs::read(out.join("checkpoint.json")).unwrap(), checkpoint, "nothing of the run was touched");
}

/// The built-in candidate, except that asked a second time for a block at heights 70..=80 it rejects
/// it: a candidate that is not deterministic there.
struct SecondThoughts(LeaderVerifier);

impl Verifier for SecondThoughts {
    fn identity(&self) -> dualrun_core::VerifierIdentity {
        self.0.identity()
    }
    fn verify(
        &mut self,
        block: &dualrun_core::BlockInput,
        prepared: Option<Box<dyn std::any::Any + Send>>,
        env: &dualrun_core::ReplayEnv,
    ) -> dualrun_core::VerifierOutcome {
        self.0.verify(block, prepared, env)
    }
    fn verify_again(
        &mut self,
        block: &dualrun_core::BlockInput,
        env: &dualrun_core::ReplayEnv,
    ) -> dualrun_core::VerifierOutcome {
        if (70..=80).contains(&block.height) {
            let verdict = dualrun_core::Verdict::Reject { reason: "second.thoughts".into(), detail: String::new() };
            return dualrun_core::VerifierOutcome::Verdict { verdict, facts: Default::default() };
        }
        self.0.verify(block, None, env)
    }
}

/// A noise run picks blocks by their ids: followed live and replayed cold, the same blocks are judged
/// twice and the same noise records written — live == cold holds for noise runs too.
#[test]
fn a_followed_noise_run_picks_and_records_what_a_cold_one_does() {
    let noisy = || {
        let candidate = Box::new(SecondThoughts(LeaderVerifier::new(profile()))) as Box<dyn Verifier>;
        Verifiers::new(Mode::Shadow, Some(Box::new(AcceptAll)), Some(candidate)).unwrap()
    };
    let with_noise = |out: &Path| {
        let settings = CommandSettings { noise: Some("0.5".parse().unwrap()), ..CommandSettings::default() };
        ReplayConfig { settings: RunSettings::Command(settings), ..config(out, 62, 100) }
    };
    let tmp = tempfile::tempdir().unwrap();
    let daemon = FakeDaemon::start(sample_blocks(120), None);
    let live = tmp.path().join("live");
    let followed =
        dualrun_follow::run(follow_config(&daemon.url), with_noise(&live), &mut || Ok(noisy()), &mut ()).unwrap();
    let cold = tmp.path().join("cold");
    let chain = dualrun_testkit::sample_copy();
    let db = dualrun_chaindb::ChainDb::open(chain.path()).unwrap();
    let replayed = dualrun_replay::run(&db, with_noise(&cold), noisy(), &mut ()).unwrap();

    let noise = followed.summary.noise;
    assert_eq!(noise, replayed.summary.noise);
    assert!(noise.checked > 5 && noise.checked < 34, "about half of 39 blocks judged twice: {noise:?}");
    assert!(noise.candidate_noise > 0 && noise.candidate_noise < 11, "some of 70..=80: {noise:?}");
    assert_eq!(noise.legacy_noise, 0);
    assert_eq!(jsonl_without_reproduce(&live), jsonl_without_reproduce(&cold), "the same records");
}
