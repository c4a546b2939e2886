//! `exec:COMMAND`: a verifier in any language, as a long-lived child process speaking JSON lines on
//! stdin/stdout (protocol `dualrun-exec/v1`, specified in docs/exec-protocol.md).
//!
//! The command runs under `sh -c`. Its first line must be a hello; then each block is one request
//! line and one response line, in order. Every answer must come within `--timeout`. A child that times
//! out, dies, or breaks the protocol (a line that is not JSON, a wrong id) gets an error for that block
//! and is killed; the next block starts a fresh one, up to a bounded number of restarts, after which
//! every block gets an error at once. The child's stderr goes to the run log (`run.log`), line by line.
//! Both are bounded ([`bounded`]): a response line over 16 MiB is a protocol error for that block, and
//! stderr is capped per block and per run.

pub mod bounded;
pub mod family;

use std::any::Any;
use std::collections::BTreeMap;
use std::io::{BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use dualrun_core::{
    BlockInput, ErrorKind, Facts, ReplayEnv, Verdict, Verifier, VerifierError, VerifierIdentity, VerifierOutcome,
    VerifierState,
};
use serde_json::{json, Value};

/// The protocol a child's hello line must name.
pub const PROTOCOL: &str = "dualrun-exec/v1";

/// Why an `exec:` verifier could not be started.
#[derive(Debug)]
pub struct ExecError(pub String);

impl std::fmt::Display for ExecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ExecError {}

/// One running child, in a process group of its own: a terminal's Ctrl-C (which dualrun handles by
/// finishing the blocks in flight) does not reach it; and a kill reaches everything `sh -c` started,
/// whether it stayed in the group or not (its [`family`]).
struct Running {
    child: Child,
    /// The child's family name ([`family::VAR`]).
    family: String,
    /// Request lines go to a writer thread, so a child that stops reading cannot block the replay: its
    /// answer then times out and the child is killed. Dropped (closing stdin) to ask it to exit.
    stdin: Option<Sender<String>>,
    /// Lines from its stdout; closed when it exits.
    lines: Receiver<std::io::Result<String>>,
}

impl Running {
    fn kill(mut self) -> String {
        // SAFETY: signalling our own child's process group.
        unsafe {
            libc::kill(-(self.child.id() as i32), libc::SIGKILL);
        }
        let _ = self.child.kill();
        let status = match self.child.wait() {
            Ok(status) => status.to_string(),
            Err(e) => format!("unknown status ({e})"),
        };
        family::end(&self.family);
        status
    }
}

/// The `exec:COMMAND` verifier.
pub struct ExecVerifier {
    spec: String,
    command: String,
    timeout: Duration,
    /// Where the children's stderr lines are appended.
    log: PathBuf,
    /// What of the children's stderr the log may still take (shared by every child of the run).
    stderr_budget: std::sync::Arc<bounded::StderrBudget>,
    max_restarts: u32,
    restarts: u32,
    running: Option<Running>,
    /// The child that judges a block a second time (a noise run), started at the first such block: a
    /// second opinion from a process that has not seen the block (`verify_again`).
    second: Option<Running>,
    hello: Value,
    seq: u64,
}

impl ExecVerifier {
    /// Starts `command` and reads its hello line.
    pub fn start(command: &str, timeout: Duration, log: PathBuf, max_restarts: u32) -> Result<ExecVerifier, ExecError> {
        if command.trim().is_empty() {
            return Err(ExecError("exec: needs a command, e.g. exec:python3 -m my_verifier".into()));
        }
        let mut v = ExecVerifier {
            spec: format!("exec:{command}"),
            command: command.to_owned(),
            timeout,
            log,
            stderr_budget: Default::default(),
            max_restarts,
            restarts: 0,
            running: None,
            second: None,
            hello: Value::Null,
            seq: 0,
        };
        let (running, hello) = v.spawn()?;
        v.running = Some(running);
        v.hello = hello;
        Ok(v)
    }

    fn spawn(&self) -> Result<(Running, Value), ExecError> {
        let family = family::new_family();
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(&self.command)
            .env(family::VAR, &family)
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| ExecError(format!("{}: cannot start `sh -c {}`: {e}", self.spec, self.command)))?;
        let pid = child.id();
        let mut stdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        let (tx, lines) = channel();
        std::thread::Builder::new()
            .name("dualrun-exec-stdout".into())
            .spawn(move || {
                let mut reader = BufReader::new(stdout);
                loop {
                    let line = match bounded::read_line(&mut reader, bounded::MAX_LINE_BYTES) {
                        Ok(None) => return,
                        Ok(Some(line)) => Ok(line),
                        Err(e) => Err(e),
                    };
                    let failed = line.is_err();
                    if tx.send(line).is_err() || failed {
                        return;
                    }
                }
            })
            .map_err(|e| ExecError(format!("cannot start a reader thread: {e}")))?;
        let log = self.log.clone();
        let prefix = format!("[{} pid {pid} stderr]", self.spec);
        let budget = self.stderr_budget.clone();
        let _ = std::thread::Builder::new()
            .name("dualrun-exec-stderr".into())
            .spawn(move || bounded::copy_stderr(stderr, &log, &prefix, budget));
        let (req_tx, req_rx) = channel::<String>();
        std::thread::Builder::new()
            .name("dualrun-exec-stdin".into())
            .spawn(move || {
                for line in req_rx {
                    if writeln!(stdin, "{line}").and_then(|_| stdin.flush()).is_err() {
                        return;
                    }
                }
            })
            .map_err(|e| ExecError(format!("cannot start a writer thread: {e}")))?;
        let running = Running { child, family, stdin: Some(req_tx), lines };
        let hello = match running.lines.recv_timeout(self.timeout) {
            Ok(Ok(line)) => line,
            Ok(Err(e)) => return Err(ExecError(format!("{}: reading its hello line: {e}", self.spec))),
            Err(RecvTimeoutError::Timeout) => {
                let status = running.kill();
                return Err(ExecError(format!(
                    "{}: no hello line within {:.1} s (killed: {status})",
                    self.spec,
                    self.timeout.as_secs_f64()
                )));
            }
            Err(RecvTimeoutError::Disconnected) => {
                let status = running.kill();
                return Err(ExecError(format!(
                    "{}: exited before its hello line ({status}); see run.log for its stderr",
                    self.spec
                )));
            }
        };
        let hello: Value = match serde_json::from_str(&hello) {
            Ok(v) => v,
            Err(_) => {
                let status = running.kill();
                return Err(ExecError(format!(
                    "{}: the hello line is not JSON: {} (killed: {status})",
                    self.spec,
                    dualrun_format::file::excerpt(hello.as_bytes(), 200)
                )));
            }
        };
        if hello.get("protocol").and_then(Value::as_str) != Some(PROTOCOL) {
            running.kill();
            return Err(ExecError(format!(
                "{}: the hello line does not say \"protocol\": \"{PROTOCOL}\": {}",
                self.spec,
                dualrun_format::file::excerpt(hello.to_string().as_bytes(), 200)
            )));
        }
        Ok((running, hello))
    }

    fn error(&self, kind: ErrorKind, msg: String) -> VerifierOutcome {
        VerifierOutcome::Error(VerifierError::new(kind, format!("{}: {msg}", self.spec)))
    }

    /// Kills the child after a failure; the next block starts a new one.
    fn discard(&mut self) -> String {
        self.running.take().map(Running::kill).unwrap_or_default()
    }

    fn request(&self, seq: u64, block: &BlockInput, env: &ReplayEnv) -> String {
        let mut b = json!({ "height": block.height, "blob": hex::encode(&block.blob) });
        match &block.fields {
            Some(f) => {
                let fv = serde_json::to_value(f).expect("fields serialize");
                for (k, v) in fv.as_object().expect("object") {
                    b[k] = v.clone();
                }
            }
            None => {
                for k in ["major_version", "minor_version", "timestamp", "prev_id", "nonce", "miner_tx", "tx_hashes"] {
                    b[k] = Value::Null;
                }
            }
        }
        json!({ "id": seq, "block": b, "env": env }).to_string()
    }
}

/// An answer line that breaks the protocol: the error kind and message it gives the block, and whether
/// the child must be killed (a line that is not JSON, is over-long or not UTF-8, or answers another id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadAnswer {
    /// The kind of error the block gets.
    pub kind: ErrorKind,
    /// What is wrong with the line.
    pub message: String,
    /// Whether the child is killed (the next block starts a fresh one).
    pub kill: bool,
}

/// What one answer line, as [`bounded::read_line`] read it, means for request `seq`: the verifier's
/// outcome, or why the line breaks the protocol. A read error is the line's own fault when it is
/// `InvalidData` (over the length limit, or not UTF-8: a protocol error), else a crash.
pub fn parse_answer(line: std::io::Result<String>, seq: u64) -> Result<VerifierOutcome, BadAnswer> {
    let bad = |kind, message| BadAnswer { kind, message, kill: true };
    let text = match line {
        Ok(text) => text,
        Err(e) => {
            let kind = if e.kind() == std::io::ErrorKind::InvalidData { ErrorKind::Protocol } else { ErrorKind::Crash };
            return Err(bad(kind, format!("reading its answer: {e}")));
        }
    };
    let v: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(_) => {
            let shown: String = text.chars().take(200).collect();
            return Err(bad(ErrorKind::Protocol, format!("answered a line that is not JSON: {shown:?}")));
        }
    };
    if v.get("id").and_then(Value::as_u64) != Some(seq) {
        let got = v.get("id").unwrap_or(&Value::Null);
        return Err(bad(ErrorKind::Protocol, format!("answered for id {got} instead of {seq}")));
    }
    interpret(&v).map_err(|(kind, message)| BadAnswer { kind, message, kill: false })
}

/// Interprets a response object (its id already checked).
fn interpret(v: &Value) -> Result<VerifierOutcome, (ErrorKind, String)> {
    if let Some(e) = v.get("error") {
        let msg = e.as_str().map(str::to_owned).unwrap_or_else(|| e.to_string());
        return Ok(VerifierOutcome::Error(VerifierError::new(ErrorKind::Crash, msg)));
    }
    let s = |k: &str| -> Result<String, (ErrorKind, String)> {
        match v.get(k) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other) => Err((ErrorKind::Protocol, format!("\"{k}\" is not a string: {other}"))),
        }
    };
    let verdict = match v.get("verdict").and_then(Value::as_str) {
        Some("accept") => Verdict::Accept,
        Some("reject") => Verdict::Reject { reason: s("reason")?, detail: s("detail")? },
        _ => return Err((ErrorKind::Protocol, format!("no \"verdict\" of \"accept\" or \"reject\" in {v}"))),
    };
    let mut facts = Facts::new();
    match v.get("facts") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (k, val) in m {
                let Some(val) = val.as_str() else {
                    return Err((ErrorKind::Protocol, format!("fact {k:?} is not a string")));
                };
                facts.insert(k.clone(), val.to_owned());
            }
        }
        Some(other) => return Err((ErrorKind::Protocol, format!("\"facts\" is not an object: {other}"))),
    }
    Ok(VerifierOutcome::Verdict { verdict, facts })
}

impl Verifier for ExecVerifier {
    /// The restarts used so far, and whether the child is down (killed after a failure, to be started
    /// again — or not — at the next block): a resumed run gets the budget that was left and the same
    /// next step, not a fresh child and a fresh budget.
    fn state(&self) -> VerifierState {
        let mut state = VerifierState::new();
        if self.restarts > 0 {
            state.insert("restarts".into(), u64::from(self.restarts));
        }
        if self.running.is_none() {
            state.insert("down".into(), 1);
        }
        state
    }

    fn restore(&mut self, state: &VerifierState) {
        if let Some(&n) = state.get("restarts") {
            self.restarts = u32::try_from(n).unwrap_or(u32::MAX);
        }
        if state.get("down") == Some(&1) {
            self.discard();
        }
    }

    fn identity(&self) -> VerifierIdentity {
        let mut files = BTreeMap::new();
        // The program (found on PATH if need be) and every argument that names a file (a script), so a
        // resume with an edited verifier is refused.
        let mut words = self.command.split_whitespace();
        if let Some(first) = words.next() {
            let program = if first.contains('/') {
                Some(PathBuf::from(first))
            } else {
                std::env::var_os("PATH")
                    .and_then(|p| std::env::split_paths(&p).map(|d| d.join(first)).find(|c| c.is_file()))
            };
            let scripts = words.map(PathBuf::from).filter(|p| p.is_file());
            for path in program.into_iter().chain(scripts) {
                if let Ok(bytes) = std::fs::read(&path) {
                    files.insert(path.display().to_string(), dualrun_format::keccak256(&bytes).to_string());
                }
            }
        }
        VerifierIdentity { spec: self.spec.clone(), description: self.hello.to_string(), files }
    }

    fn verify(
        &mut self,
        block: &BlockInput,
        _prepared: Option<Box<dyn Any + Send>>,
        env: &ReplayEnv,
    ) -> VerifierOutcome {
        if self.running.is_none() {
            if self.restarts >= self.max_restarts {
                return self
                    .error(ErrorKind::Crash, format!("not started again: gave up after {} restarts", self.restarts));
            }
            self.restarts += 1;
            match self.spawn() {
                Ok((r, hello)) => {
                    tracing::warn!(spec = %self.spec, restart = self.restarts, "restarted the verifier process");
                    self.running = Some(r);
                    self.hello = hello;
                }
                Err(e) => return VerifierOutcome::Error(VerifierError::new(ErrorKind::Crash, e.0)),
            }
        }
        self.ask(block, env)
    }

    /// A noise run's second judgement, by a second child (`second`, started at the first such block and
    /// again after it fails; its starts use no restart of the budget, which is the first child's).
    fn verify_again(&mut self, block: &BlockInput, env: &ReplayEnv) -> VerifierOutcome {
        if self.second.is_none() {
            match self.spawn() {
                Ok((r, _)) => self.second = Some(r),
                Err(e) => return VerifierOutcome::Error(VerifierError::new(ErrorKind::Crash, e.0)),
            }
        }
        std::mem::swap(&mut self.running, &mut self.second);
        let outcome = self.ask(block, env);
        std::mem::swap(&mut self.running, &mut self.second);
        outcome
    }
}

impl ExecVerifier {
    /// Sends `block` to the running child and reads its answer; a failure kills the child (the next
    /// block starts another).
    fn ask(&mut self, block: &BlockInput, env: &ReplayEnv) -> VerifierOutcome {
        self.seq += 1;
        let seq = self.seq;
        self.stderr_budget.seq.store(seq, std::sync::atomic::Ordering::Relaxed);
        let line = self.request(seq, block, env);
        let running = self.running.as_mut().expect("started above");
        if running.stdin.as_ref().expect("open while running").send(line).is_err() {
            let status = self.discard();
            return self.error(ErrorKind::Crash, format!("cannot write the request; the process ended: {status}"));
        }
        let started = Instant::now();
        let answer = await_answer(running, started + self.timeout);
        match answer {
            Ok(line) => match parse_answer(line, seq) {
                Ok(outcome) => outcome,
                Err(BadAnswer { kind, message, kill: true }) => {
                    let status = self.discard();
                    self.error(kind, format!("{message} (killed: {status})"))
                }
                Err(BadAnswer { kind, message, kill: false }) => self.error(kind, message),
            },
            Err(RecvTimeoutError::Timeout) => {
                let status = self.discard();
                self.error(
                    ErrorKind::Timeout,
                    format!("no answer within {:.1} s (killed: {status})", started.elapsed().as_secs_f64()),
                )
            }
            Err(RecvTimeoutError::Disconnected) => {
                let status = self.discard();
                self.error(ErrorKind::Crash, format!("the process exited ({status}); its stderr is in run.log"))
            }
        }
    }
}

/// The next answer line, waiting until `deadline`. A child that exits without answering is a crash at
/// once (`Disconnected`), even when a process it started still holds its stdout open (which would
/// otherwise keep the line reader waiting into a timeout).
fn await_answer(running: &mut Running, deadline: Instant) -> Result<std::io::Result<String>, RecvTimeoutError> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match running.lines.recv_timeout(left.min(Duration::from_millis(100))) {
            Err(RecvTimeoutError::Timeout) if !left.is_zero() => {
                if matches!(running.child.try_wait(), Ok(Some(_))) {
                    // An answer written just before exiting still counts.
                    return running
                        .lines
                        .recv_timeout(Duration::from_millis(50))
                        .map_err(|_| RecvTimeoutError::Disconnected);
                }
            }
            other => return other,
        }
    }
}

impl Drop for ExecVerifier {
    fn drop(&mut self) {
        for mut r in [self.running.take(), self.second.take()].into_iter().flatten() {
            // Closing stdin asks it to exit; if it does not, it is killed.
            drop(r.stdin.take());
            let deadline = Instant::now() + Duration::from_secs(2);
            let mut exited = false;
            while !exited && Instant::now() < deadline {
                exited = matches!(r.child.try_wait(), Ok(Some(_)));
                if !exited {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            if exited {
                // What it started and left behind goes with it.
                family::end(&r.family);
            } else {
                r.kill();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_line(bytes: &[u8], cap: usize) -> std::io::Result<String> {
        bounded::read_line(&mut std::io::BufReader::with_capacity(4, bytes), cap).map(|l| l.expect("a line"))
    }

    #[test]
    fn over_long_and_non_utf8_lines_are_protocol_errors_that_kill() {
        for bytes in [&b"{\"id\":1,\"verdict\":\"accept\"}\n"[..], b"{\"id\":1,\"verdict\":\"\xff\"}\n"] {
            let bad = parse_answer(first_line(bytes, 16), 1).unwrap_err();
            assert_eq!((bad.kind, bad.kill), (ErrorKind::Protocol, true), "{bad:?}");
            assert!(bad.message.starts_with("reading its answer: "), "{}", bad.message);
        }
    }

    #[test]
    fn answers_are_checked_for_json_and_id() {
        let ok = parse_answer(first_line(b"{\"id\":7,\"verdict\":\"accept\",\"facts\":{\"a\":\"b\"}}\n", 1 << 10), 7);
        let facts = Facts::from([("a".to_owned(), "b".to_owned())]);
        assert_eq!(ok.unwrap(), VerifierOutcome::Verdict { verdict: Verdict::Accept, facts });
        let wrong_id = parse_answer(Ok("{\"id\":6,\"verdict\":\"accept\"}".into()), 7).unwrap_err();
        assert_eq!((wrong_id.kind, wrong_id.kill), (ErrorKind::Protocol, true));
        assert_eq!(wrong_id.message, "answered for id 6 instead of 7");
        let not_json = parse_answer(Ok("accept".into()), 7).unwrap_err();
        assert_eq!((not_json.kind, not_json.kill), (ErrorKind::Protocol, true));
        // A well-formed line with a bad field is the block's error; the child keeps running.
        let bad_reason = parse_answer(Ok("{\"id\":7,\"verdict\":\"reject\",\"reason\":1}".into()), 7).unwrap_err();
        assert_eq!((bad_reason.kind, bad_reason.kill), (ErrorKind::Protocol, false));
        let error = parse_answer(Ok("{\"id\":7,\"error\":\"boom\"}".into()), 7).unwrap();
        assert!(matches!(error, VerifierOutcome::Error(VerifierError { kind: ErrorKind::Crash, .. })));
    }
}
