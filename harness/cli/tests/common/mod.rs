#![allow(unreachable_pub)] // shared by several test crates, each using some of it
//! Helpers shared by the command-line tests: run the real `dualrun` binary and find the repo's files.
#![allow(dead_code)]

pub mod fake_daemon;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

pub fn sample_dir() -> PathBuf {
    repo().join("harness/sample")
}

pub fn shared_vectors() -> PathBuf {
    repo().join("../shared/vectors/mainnet")
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

fn finish(out: Output) -> Run {
    Run {
        code: out.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("utf-8 stderr"),
    }
}

pub fn dualrun(args: &[&str]) -> Run {
    finish(Command::new(env!("CARGO_BIN_EXE_dualrun")).args(args).output().expect("run dualrun"))
}

pub fn dualrun_stdin(args: &[&str], input: &[u8]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dualrun"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run dualrun");
    child.stdin.take().unwrap().write_all(input).unwrap();
    finish(child.wait_with_output().unwrap())
}

/// A private copy of the bundled sample chain.
pub fn sample_copy() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(sample_dir().join("data.mdb"), tmp.path().join("data.mdb")).unwrap();
    tmp
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Waits for `child` to exit and returns its exit code; kills it and fails the test past `within`.
pub fn wait_exit(child: &mut std::process::Child, within: std::time::Duration, what: &str) -> i32 {
    let deadline = std::time::Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what} did not end within {within:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The words Python's `shlex.split` reads from a shell line (what a user copying a reproduce line gets).
pub fn shell_words(line: &str) -> Vec<String> {
    let out = Command::new("/usr/bin/python3.11")
        .args(["-c", "import json, shlex, sys; print(json.dumps(shlex.split(sys.stdin.read())))"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child.stdin.take().unwrap().write_all(line.as_bytes())?;
            child.wait_with_output()
        })
        .expect("run python3.11");
    assert!(out.status.success(), "shlex.split failed on {line:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A real monerod (Debian's 0.18) in regtest, offline, on loopback ports of its own, in a fresh data
/// dir. Killed when dropped unless stopped cleanly first.
pub struct Monerod {
    pub child: std::process::Child,
    pub rpc_url: String,
    pub data_dir: PathBuf,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Monerod {
    pub fn start(data_dir: &Path) -> Monerod {
        Monerod::start_at(data_dir, free_port(), false)
    }

    /// A daemon on RPC port `rpc`; `keep` starts it on the chain already in `data_dir` (a restart).
    pub fn start_at(data_dir: &Path, rpc: u16, keep: bool) -> Monerod {
        let extra: Vec<String> = if keep { vec!["--keep-fakechain".into()] } else { vec![] };
        Monerod::start_with(data_dir, rpc, &extra)
    }

    /// A daemon publishing new blocks on ZMQ; returns it and the publisher's endpoint.
    pub fn start_publishing(data_dir: &Path) -> (Monerod, String) {
        let endpoint = format!("tcp://127.0.0.1:{}", free_port());
        (Monerod::start_with(data_dir, free_port(), &["--zmq-pub".to_owned(), endpoint.clone()]), endpoint)
    }

    fn start_with(data_dir: &Path, rpc: u16, extra: &[String]) -> Monerod {
        let monerod = "/usr/bin/monerod";
        assert!(Path::new(monerod).exists(), "{monerod} missing: install Debian's monero (ci/test.sh does)");
        let child = Command::new(monerod)
            .args(extra)
            .args(["--regtest", "--offline", "--fixed-difficulty", "1", "--non-interactive", "--no-igd"])
            .args(["--disable-dns-checkpoints", "--check-updates", "disabled", "--hide-my-port"])
            .args(["--out-peers", "0", "--in-peers", "0", "--rpc-ssl", "disabled"])
            .args(["--p2p-bind-ip", "127.0.0.1", "--rpc-bind-ip", "127.0.0.1", "--zmq-rpc-bind-ip", "127.0.0.1"])
            .args(["--p2p-bind-port", &free_port().to_string()])
            .args(["--rpc-bind-port", &rpc.to_string()])
            .args(["--zmq-rpc-bind-port", &free_port().to_string()])
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--log-file")
            .arg(data_dir.join("monerod.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start monerod");
        Monerod { child, rpc_url: format!("http://127.0.0.1:{rpc}"), data_dir: data_dir.to_path_buf() }
    }

    pub fn rpc(&self) -> dualrun_monerod::Daemon {
        dualrun_monerod::Daemon::new(&self.rpc_url, std::time::Duration::from_secs(30))
    }

    /// Waits until the RPC answers (at most 90 s).
    pub fn wait_ready(&mut self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
        while self.rpc().get_info().is_err() {
            assert!(self.child.try_wait().unwrap().is_none(), "monerod exited during start-up");
            assert!(std::time::Instant::now() < deadline, "monerod did not answer within 90 s");
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
    }

    /// Stops the daemon through its RPC and waits for it to exit, so its database is complete.
    pub fn stop(&mut self) {
        self.rpc().stop_daemon().expect("stop_daemon");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while self.child.try_wait().unwrap().is_none() {
            assert!(std::time::Instant::now() < deadline, "monerod did not exit after stop_daemon");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// The LMDB directory of a regtest daemon.
    pub fn lmdb(&self) -> PathBuf {
        self.data_dir.join("fake/lmdb")
    }
}

impl Drop for Monerod {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Three validators with fresh keys (made by `dualrun keygen`) and a profile for a regtest chain.
pub struct Network {
    pub profile: PathBuf,
    pub keys: Vec<PathBuf>,
}

pub fn network(dir: &Path, schedule: &str, activation: u64, failover: u64) -> Network {
    let mut keys = Vec::new();
    let mut validators = String::new();
    for i in 1..=3 {
        let key = dir.join(format!("leader-{i}.key"));
        let r = dualrun(&["keygen", "--id", &format!("leader-{i}"), "--out", s(&key)]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let (id, pk) = r.stdout.trim_end().split_once(' ').unwrap();
        validators.push_str(&format!("\n[[leader.validators]]\nid = \"{id}\"\npublic_key = \"{pk}\"\n"));
        keys.push(key);
    }
    let profile = dir.join("profile.toml");
    std::fs::write(
        &profile,
        format!(
            "[network]\nname = \"test\"\nnetwork_id = \"00112233445566778899aabbccddeeff\"\n\
             genesis_id = \"418015bb9ae982a1975da7d79277c2705727a56894ba0fb246adaabb1f4632e3\"\n\n\
             [leader]\nactivation_height = {activation}\nschedule = \"{schedule}\"\nfailover_seconds = {failover}\n\
             min_interval_seconds = 0\n{validators}"
        ),
    )
    .unwrap();
    Network { profile, keys }
}
