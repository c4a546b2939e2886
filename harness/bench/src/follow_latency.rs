//! `follow-latency`: the time from a block becoming a real monerod's tip to its records being durable in
//! a live run (the checkpoint after its batch), for blocks made at the daemon's full rate, with polling
//! and with ZMQ notices. The producer and `follow` run in this process, so both instants come from one
//! clock; the lag left when production stops, and how long follow takes to judge it, say whether it
//! keeps up.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use dualrun_core::{Mode, ReasonMap};
use dualrun_follow::FollowConfig;
use dualrun_keys::KeyFile;
use dualrun_leader::Profile;
use dualrun_monerod::{ProduceRequest, Producer};
use dualrun_pipeline::{NowMode, Verifiers};
use dualrun_replay::ReplayConfig;
use dualrun_rpc::Daemon;
use dualrun_rundir::{Observer, RunEvent};

/// When each height was judged (its checkpoint written).
#[derive(Default)]
struct Judged {
    at: Vec<(u64, Instant)>,
    next: u64,
}

struct Recorder(Arc<Mutex<Judged>>);

impl Observer for Recorder {
    fn observe(&mut self, event: &RunEvent<'_>) {
        match event {
            RunEvent::Started { first, .. } => self.0.lock().expect("not poisoned").next = *first,
            // A live run checkpoints every batch: its blocks are judged and durable.
            RunEvent::Checkpointed { next_height, .. } => {
                let now = Instant::now();
                let mut j = self.0.lock().expect("not poisoned");
                while j.next < *next_height {
                    let h = j.next;
                    j.at.push((h, now));
                    j.next += 1;
                }
            }
            _ => {}
        }
    }
}

/// One scenario: `blocks` produced as fast as the daemon takes them while follow runs.
fn scenario(work: &Path, blocks: u64, zmq: bool, poll: Duration) -> Result<()> {
    let node = work.join(if zmq { "node-zmq" } else { "node-poll" });
    let _ = std::fs::remove_dir_all(&node);
    // The test kit's daemon: regtest, offline, loopback ports of its own, publishing on ZMQ.
    let (monerod, endpoint) = dualrun_testkit::Monerod::start_publishing(&node);
    let url = monerod.rpc_url.clone();
    let daemon = Daemon::new(&url, Duration::from_secs(30));
    dualrun_follow::daemon_height(&daemon, Duration::from_secs(90)).context("monerod did not answer")?;

    let (text, keys) = crate::bench_profile();
    let profile_file = work.join("follow-profile.toml");
    std::fs::write(&profile_file, text)?;
    let profile = Profile::load(&profile_file)?;
    let key_files: Vec<(usize, KeyFile)> = keys
        .into_iter()
        .enumerate()
        .map(|(i, signing_key)| (i, KeyFile { id: format!("leader-{}", i + 1), signing_key }))
        .collect();

    let out = work.join(if zmq { "live-zmq" } else { "live-poll" });
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out)?;
    let interrupt = Arc::new(AtomicBool::new(false));
    let judged = Arc::new(Mutex::new(Judged::default()));
    let profile = Arc::new(profile);
    let cfg = ReplayConfig {
        profile: profile.clone(),
        from: 1,
        to: Some(blocks),
        now: NowMode::Block,
        reasons: ReasonMap::default(),
        settings: dualrun_rundir::RunSettings::Command(dualrun_rundir::CommandSettings::default()),
        out: out.canonicalize()?,
        resume: false,
        threads: 2,
        interrupt: interrupt.clone(),
        shard: None,
    };
    let follow = FollowConfig {
        url: url.clone(),
        rpc_timeout: Duration::from_secs(30),
        poll,
        connect_wait: Duration::from_secs(30),
        zmq: zmq.then(|| endpoint.clone()),
        inconsistent_give_up: dualrun_follow::INCONSISTENT_GIVE_UP,
        metrics: None,
    };
    let recorder = judged.clone();
    let follower = std::thread::spawn(move || {
        let mut make = || {
            let v = |p: &Arc<Profile>| Box::new(dualrun_adapters::builtin::LeaderVerifier::new(p.clone())) as _;
            Verifiers::new(Mode::Shadow, Some(v(&profile)), Some(v(&profile)))
                .map_err(|e| dualrun_replay::ReplayError::Input(e.to_string()))
        };
        dualrun_follow::run(follow, cfg, &mut make, &mut Recorder(recorder))
    });
    std::thread::sleep(Duration::from_millis(500));

    let req = ProduceRequest {
        profile: Profile::load(&profile_file)?,
        keys: key_files,
        faults: Default::default(),
        blocks,
        wallet_address: dualrun_monerod::REGTEST_ADDRESS.into(),
        patience: Duration::from_secs(30),
        vote_faults: Default::default(),
        competes: Default::default(),
    };
    let producer = Producer::start(&daemon, req)?;
    let started = Instant::now();
    let mut produced = Vec::with_capacity(blocks as usize);
    for _ in 0..blocks {
        let p = producer.produce_one()?;
        produced.push((p.height, Instant::now()));
    }
    let production_s = started.elapsed().as_secs_f64();
    let done_producing = Instant::now();
    let lag_at_end = blocks - judged.lock().expect("not poisoned").at.len().min(blocks as usize) as u64;
    let result = follower.join().map_err(|_| anyhow::anyhow!("follow panicked"))?;
    let catch_up_ms = done_producing.elapsed().as_secs_f64() * 1000.0;
    let result = result?;
    if result.summary.blocks != blocks {
        bail!("follow judged {} blocks, not {blocks}", result.summary.blocks);
    }
    let at = judged.lock().expect("not poisoned").at.clone();
    let mut latencies: Vec<f64> = produced
        .iter()
        .filter_map(|(h, made)| at.iter().find(|(j, _)| j == h).map(|(_, t)| t.saturating_duration_since(*made)))
        .map(|d| d.as_secs_f64() * 1000.0)
        .collect();
    latencies.sort_by(f64::total_cmp);
    let q = |p: f64| latencies[((p * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len()) - 1];
    println!(
        "  {:<22} {:>6} {:>8.0} {:>9.1} {:>9.1} {:>9.1} {:>10} {:>12.0}",
        if zmq { format!("ZMQ (poll {} ms)", poll.as_millis()) } else { format!("polling {} ms", poll.as_millis()) },
        blocks,
        blocks as f64 / production_s,
        q(0.5),
        q(0.99),
        latencies.last().copied().unwrap_or(0.0),
        lag_at_end,
        catch_up_ms
    );
    Ok(())
}

/// Runs both scenarios and prints one line each.
pub(crate) fn follow_latency(blocks: u64, poll_ms: u64) -> Result<()> {
    let work = crate::workspace_target().join("bench-follow");
    std::fs::create_dir_all(&work)?;
    println!(
        "follow latency: a block becoming monerod's tip -> its records durable in the live run (same process, \
         same clock); goal p99 <= 1 s polling, <= 100 ms with ZMQ, lag back to 0"
    );
    println!(
        "  {:<22} {:>6} {:>8} {:>9} {:>9} {:>9} {:>10} {:>12}",
        "notice", "blocks", "made/s", "p50 ms", "p99 ms", "max ms", "lag at end", "caught up ms"
    );
    scenario(&work, blocks, false, Duration::from_millis(poll_ms))?;
    scenario(&work, blocks, true, Duration::from_millis(poll_ms))?;
    Ok(())
}
