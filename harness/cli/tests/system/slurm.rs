//! A real single-node Slurm cluster (Debian's slurm-wlm and munge, started by
//! `deploy/slurm/local-cluster.sh`) replays a 100,000-block synthetic chain with faults as a 4-task array
//! (`deploy/slurm/submit.sh`), the merge a job depending on the array: the merged records equal a single
//! run's byte for byte. A task stopped mid-shard fails the array, the merge is cancelled and a merge by
//! hand is refused; the shard resumed, a new merge is the single run again. Needs root (slurmd); set
//! DUALRUN_SKIP_ROOT_TESTS=1 to skip elsewhere.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::*;

/// The cluster, stopped when dropped.
struct Cluster {
    dir: PathBuf,
    conf: String,
}

impl Cluster {
    fn start(dir: &Path) -> Cluster {
        dualrun_testkit::tool::require(dualrun_testkit::tool::SBATCH);
        let script = repo().join("deploy/slurm/local-cluster.sh");
        let out = Command::new(&script).args(["start", s(dir)]).output().expect("run local-cluster.sh");
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "the Slurm cluster did not start (apt-get install -y slurm-wlm munge):\n{said}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let conf = said.trim().strip_prefix("export SLURM_CONF=").expect("SLURM_CONF").to_owned();
        Cluster { dir: dir.to_path_buf(), conf }
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("SLURM_CONF", &self.conf);
        c
    }

    /// Waits until the job (all its array tasks) left the queue.
    fn wait(&self, job: &str) {
        let deadline = Instant::now() + Duration::from_secs(900);
        loop {
            let out = self.command("squeue").args(["-h", "-j", job]).output().unwrap();
            if String::from_utf8_lossy(&out.stdout).trim().is_empty() {
                return;
            }
            assert!(Instant::now() < deadline, "job {job} still queued after 15 minutes");
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Submits the sharded replay; returns (array job, merge job).
    fn submit(&self, shards: u32, chain: &Path, runs: &Path) -> (String, String) {
        let profile = sample_dir().join("profile.toml");
        let out = self
            .command(s(&repo().join("deploy/slurm/submit.sh")))
            .args([&shards.to_string(), env!("CARGO_BIN_EXE_dualrun"), s(chain), s(&profile), s(runs)])
            .output()
            .unwrap();
        assert!(out.status.success(), "submit: {}", String::from_utf8_lossy(&out.stderr));
        let ids = String::from_utf8(out.stdout).unwrap();
        let mut ids = ids.split_whitespace().map(str::to_owned);
        (ids.next().unwrap(), ids.next().unwrap())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(repo().join("deploy/slurm/local-cluster.sh")).args(["stop", s(&self.dir)]).status();
    }
}

fn chain_with_faults(dir: &Path, blocks: u64) -> PathBuf {
    let chain = dir.join("chain");
    let n = blocks.to_string();
    let profile = sample_dir().join("profile.toml");
    let mut args = vec!["chain", "synth", "--out", s(&chain), "--blocks", &n, "--profile", s(&profile)];
    let keys: Vec<PathBuf> =
        (1..=3).map(|i| sample_dir().join(format!("keys/throwaway-test-leader-{i}.key"))).collect();
    for k in &keys {
        args.extend(["--key", s(k)]);
    }
    let faults: Vec<String> = (1..=8u64).map(|i| format!("{}:missing", i * blocks / 9)).collect();
    for f in &faults {
        args.extend(["--fault", f]);
    }
    let r = dualrun(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    chain
}

fn merge(runs: &Path) -> Run {
    let mut args = vec!["merge".to_owned()];
    for i in 0..4 {
        args.push(s(&runs.join(format!("shard-{i}"))).to_owned());
    }
    args.extend(["--out".into(), s(&runs.join("merged")).into()]);
    dualrun(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

#[test]
fn a_slurm_array_replays_in_shards_and_the_merge_is_the_single_run() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        assert!(std::env::var_os("DUALRUN_SKIP_ROOT_TESTS").is_some(), "needs root (or DUALRUN_SKIP_ROOT_TESTS=1)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let chain = chain_with_faults(tmp.path(), 100_000);
    let cluster = Cluster::start(&tmp.path().join("slurm"));
    let profile = sample_dir().join("profile.toml");

    // The single run, beside the shards (records name the run directory's parent).
    let runs = tmp.path().join("runs");
    let single = runs.join("single");
    let r = dualrun(&["replay", "--chain", s(&chain), "--profile", s(&profile), "--out", s(&single)]);
    assert_eq!(r.code, 1, "{}", r.stderr);

    let (array, merge_job) = cluster.submit(4, &chain, &runs);
    cluster.wait(&array);
    cluster.wait(&merge_job);
    let log = std::fs::read_to_string(runs.join("logs/merge.log")).unwrap_or_default();
    assert!(log.contains("merged 4 shards: 100000 blocks"), "the merge job ran:\n{log}");
    for f in ["divergences.jsonl", "divergences.csv"] {
        assert!(std::fs::read(single.join(f)).unwrap() == std::fs::read(runs.join("merged").join(f)).unwrap(), "{f}");
    }
    let digest = |d: &Path| -> serde_json::Value {
        serde_json::from_slice::<serde_json::Value>(&std::fs::read(d.join("manifest.json")).unwrap()).unwrap()
            ["inputs_digest"]
            .clone()
    };
    assert_eq!(digest(&single), digest(&runs.join("merged")));

    // A task stopped mid-shard: the array fails, the merge job is cancelled, a merge by hand is refused.
    let runs2 = tmp.path().join("runs2");
    std::fs::create_dir_all(&runs2).unwrap();
    let (array, merge_job) = cluster.submit(4, &chain, &runs2);
    let shard1 = runs2.join("shard-1");
    let deadline = Instant::now() + Duration::from_secs(300);
    while !shard1.join("checkpoint.json").exists() {
        assert!(Instant::now() < deadline, "shard 1 did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = cluster.command("scancel").arg(format!("{array}_1")).output().unwrap();
    assert!(out.status.success(), "scancel: {}", String::from_utf8_lossy(&out.stderr));
    cluster.wait(&array);
    cluster.wait(&merge_job);
    assert!(!runs2.join("merged").exists(), "the merge job did not run");
    let r = merge(&runs2);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stderr.contains("shard-1"), "the stopped shard is named: {}", r.stderr);

    // The shard resumed, a new merge is the single run.
    let r = dualrun(&[
        "replay",
        "--chain",
        s(&chain),
        "--profile",
        s(&profile),
        "--shard",
        "1/4",
        "--out",
        s(&shard1),
        "--resume",
    ]);
    assert!(r.code < 2, "{}", r.stderr);
    let _ = std::fs::remove_dir_all(runs2.join("merged"));
    let r = merge(&runs2);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        std::fs::read(single.join("divergences.csv")).unwrap()
            == std::fs::read(runs2.join("merged/divergences.csv")).unwrap()
    );
}
