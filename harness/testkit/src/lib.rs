//! What dualrun's tests share, so no test crate keeps its own copy: the repository's paths and fixtures
//! (the bundled sample chain, the pinned sample run), running a program and reading its output, a real
//! monerod in regtest ([`monerod`]), a fake misbehaving daemon ([`fake_daemon`]), a node of a private
//! P2P network ([`p2p_node`]), a legacy that accepts
//! everything ([`verifiers`]), and the system tools a test needs, named when missing ([`tool`]).

pub mod fake_daemon;
pub mod monerod;
pub mod p2p_node;
pub mod tool;
pub mod verifiers;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub use monerod::{Config as MonerodConfig, Monerod, Net, Peers};

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the repository")
}

/// The bundled sample chain's directory (`harness/sample`: data.mdb, profile.toml, keys, fixture).
pub fn sample_dir() -> PathBuf {
    repo().join("harness/sample")
}

/// The real mainnet block blobs beside the repository (`../shared/vectors/mainnet`); CI has them.
pub fn shared_vectors() -> PathBuf {
    repo().join("../shared/vectors/mainnet")
}

/// A fixture of `harness/testkit/fixtures`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
}

/// A private copy of the bundled sample chain.
pub fn sample_copy() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(sample_dir().join("data.mdb"), tmp.path().join("data.mdb")).unwrap();
    tmp
}

/// A path as a `&str` (test paths are UTF-8).
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A program's exit code and output.
pub struct Run {
    /// The exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

fn finish(out: Output) -> Run {
    Run {
        code: out.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("utf-8 stderr"),
    }
}

/// Runs `program` with `args` and waits for it.
pub fn run(program: &Path, args: &[&str]) -> Run {
    finish(Command::new(program).args(args).output().unwrap_or_else(|e| panic!("run {}: {e}", program.display())))
}

/// Runs `program` with `args`, `input` on its standard input.
pub fn run_with_stdin(program: &Path, args: &[&str], input: &[u8]) -> Run {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {}: {e}", program.display()));
    child.stdin.take().unwrap().write_all(input).unwrap();
    finish(child.wait_with_output().unwrap())
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
    let python = tool::require(tool::PYTHON311);
    let out = Command::new(python)
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

/// The pinned run of the bundled sample chain (`fixtures/sample-run`): what `dualrun replay` wrote for
/// it, kept so that any change of the records, or of the report made from them, is seen. Record files
/// name the directories a run was made in; they are compared with placeholders in their place.
pub mod sample_run {
    use std::path::{Path, PathBuf};

    /// The pinned run directory.
    pub fn dir() -> PathBuf {
        super::fixture("sample-run")
    }

    /// The directory the pinned run was written to.
    pub const MADE_IN: &str = "/tmp/pinrun";

    /// A copy of the pinned run in `dest` (created) whose manifest names run-directory format version
    /// `version`: 1 is what it names (a run of the oldest format still read); past the version this
    /// dualrun writes (2), a run every reader must refuse.
    pub fn copy_with_format_version(dest: &Path, version: u32) -> PathBuf {
        std::fs::create_dir_all(dest).unwrap();
        for entry in std::fs::read_dir(dir()).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dest.join(entry.file_name())).unwrap();
        }
        let manifest = dest.join("manifest.json");
        let text = std::fs::read_to_string(&manifest).unwrap();
        let edited = text.replace("\"format_version\": 1,", &format!("\"format_version\": {version},"));
        assert!(edited != text || version == 1, "the pinned manifest names format_version 1");
        std::fs::write(&manifest, edited).unwrap();
        dest.to_path_buf()
    }

    /// The chain directory a run's manifest names.
    pub fn chain_of(run: &Path) -> String {
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(run.join("manifest.json")).unwrap()).unwrap();
        manifest["inputs"]["chain"]["path"].as_str().unwrap().to_owned()
    }

    /// `text` of a file of the run written to `run` from the chain in `chain`, with those directories
    /// (and `run`'s parent, which reproduce lines name) as `{RUN}`, `{CHAIN}` and `{PARENT}`.
    pub fn normalized(text: &str, run: &str, chain: &str) -> String {
        let parent = Path::new(run).parent().map_or(String::new(), |p| p.display().to_string());
        text.replace(run, "{RUN}").replace(chain, "{CHAIN}").replace(&format!("{parent}/"), "{PARENT}/")
    }

    /// Fails, naming the first differing line, unless the record files of the run in `run` are the
    /// pinned run's, directories aside.
    pub fn assert_same_records(run: &Path) {
        let (pinned, run_chain) = (dir(), chain_of(run));
        let pinned_chain = chain_of(&pinned);
        for file in ["divergences.jsonl", "divergences.csv"] {
            let read = |dir: &Path| String::from_utf8(std::fs::read(dir.join(file)).unwrap()).unwrap();
            let want = normalized(&read(&pinned), MADE_IN, &pinned_chain);
            let got = normalized(&read(run), run.to_str().unwrap(), &run_chain);
            for (n, (w, g)) in want.lines().zip(got.lines()).enumerate() {
                assert_eq!(g, w, "{file} line {}: the sample run's records changed from the pinned ones", n + 1);
            }
            assert_eq!(got.lines().count(), want.lines().count(), "{file}: the number of records changed");
            assert_eq!(got, want, "{file}: the sample run's records changed from the pinned ones");
        }
    }
}

/// Reading a run directory's files in a test: whole, as JSON, or its records without their reproduce
/// lines (which name the adapter and the directories).
pub mod run_files {
    use std::path::Path;

    /// A file's text; fails naming the file.
    pub fn read(p: &Path) -> String {
        std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    /// A JSON file.
    pub fn json(p: &Path) -> serde_json::Value {
        serde_json::from_str(&read(p)).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    /// The records of the run in `dir` without their `reproduce` field.
    pub fn jsonl_without_reproduce(dir: &Path) -> Vec<serde_json::Value> {
        read(&dir.join("divergences.jsonl"))
            .lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                v.as_object_mut().unwrap().remove("reproduce");
                v
            })
            .collect()
    }
}

/// The peak resident memory of a running child, watched from outside: its `VmHWM` (the high-water mark
/// of the memory it has had since its exec), read every 5 ms until it exits. Not `wait4`'s `ru_maxrss`,
/// which also counts the memory the test process had when it started the child (Linux records the
/// parent's resident set at exec), so a busy test binary makes every child look big.
pub struct PeakRss {
    watcher: std::thread::JoinHandle<u64>,
}

impl PeakRss {
    /// Starts watching process `pid` (before it is reaped).
    pub fn watch(pid: u32) -> PeakRss {
        let watcher = std::thread::spawn(move || {
            let mut peak_kb = 0;
            while let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
                let Some(kb) = status
                    .lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                else {
                    break; // a zombie: it has exited
                };
                peak_kb = peak_kb.max(kb);
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            peak_kb
        });
        PeakRss { watcher }
    }

    /// The peak in MB, once the process has exited (call before reaping it, or right after).
    pub fn peak_mb(self) -> i64 {
        (self.watcher.join().unwrap_or(0) / 1024) as i64
    }
}
