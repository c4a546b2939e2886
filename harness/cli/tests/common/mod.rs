//! Helpers shared by the command-line tests: run the real `dualrun` binary and find the repo's files.
#![allow(dead_code)]

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
