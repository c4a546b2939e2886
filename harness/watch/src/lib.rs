//! The watch over a run that hosts foreign code in its process (a `python:` legacy): [`run_child`] in
//! the parent, [`take_child_end`], [`legacy`] and [`returned`] in the child.
//!
//! Such a legacy can end the process in ways no exception reaches: `_exit` from C, a segfault in an
//! extension, `os.exec*`. An exit status of 0 or 1 from a process that never finished its run would read as
//! a clean run or a finding. So `dualrun replay` (and `golden check --legacy python:…`) runs in a child
//! `dualrun` and waits for it.
//! The child marks, in an anonymous file the two share, the height the legacy is verifying and, as its
//! last act, that it returned normally. The legacy marks its calls itself, on the thread that runs them
//! ([`dualrun_core::CallWatch`]), so calls queued ahead of the replay are marked when they run; a mark is
//! one store into the file's shared mapping (no system call per block). A child that ended without that mark is reported by the parent:
//! "the legacy terminated the process at height H", exit 2. The run directory is as the child's last
//! checkpoint left it, and `--resume` continues from there.
//!
//! The child runs in its own process group; the parent forwards Ctrl-C (and SIGTERM, SIGHUP) to it as
//! one SIGINT each, so the child's own handling (first: stop at a checkpoint; second: stop now) is
//! unchanged. The child dies with the parent (`PR_SET_PDEATHSIG`): `kill -9` of `dualrun replay` stops
//! the replay at once, as it did unwatched.

use std::any::Any;
use std::ffi::OsString;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use dualrun_adapters::AdapterSpec;
use dualrun_core::{BlockInput, CallWatch, ReplayEnv, Stateless, Verifier, VerifierIdentity, VerifierOutcome};

/// Why a watched run could not be started, or how it ended without finishing.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// A system call of the watch failed (the watch file, starting or waiting for the child).
    #[error("{what}: {source}")]
    System {
        /// What was being done.
        what: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// The watch file this process was handed is not one (`DUALRUN_WATCH_FD` set by someone else).
    #[error("{0}")]
    NotAWatchFile(String),
    /// The child ended without finishing: how, where the legacy was, and what to do.
    #[error("{0}")]
    Unfinished(String),
}

fn system(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> WatchError {
    let what = what.into();
    move |source| WatchError::System { what, source }
}

/// The environment variable naming the watch file's descriptor in the child.
const WATCH_FD: &str = "DUALRUN_WATCH_FD";

/// What the watch file says: its first 8 bytes, little-endian, hold the state in the top two bits and a
/// height or an exit code below them, so a mark is one aligned 8-byte store that a process dying
/// anywhere leaves whole.
const STARTED: u64 = 0;
const VERIFYING: u64 = 1;
const VERIFIED: u64 = 2;
const RETURNED: u64 = 3;
const STATE_SHIFT: u32 = 62;

/// The child's end: the watch file's first word, mapped shared; set once at start when the parent passed
/// a watch file.
static CHILD: OnceLock<Arc<Marks>> = OnceLock::new();

/// The watch file's mapped word.
struct Marks(&'static AtomicU64);

impl Marks {
    fn mark(&self, state: u64, value: u64) {
        self.0.store(state << STATE_SHIFT | value.min((1 << STATE_SHIFT) - 1), Ordering::SeqCst);
    }
}

impl CallWatch for Marks {
    fn calling(&self, height: u64) {
        self.mark(VERIFYING, height);
    }
    fn returned(&self, height: u64) {
        self.mark(VERIFIED, height);
    }
}

/// Whether a replay with this legacy must run watched: the legacy runs in this process.
pub fn needed(legacy: &AdapterSpec) -> bool {
    matches!(legacy, AdapterSpec::Python { .. })
}

/// In the child: takes the watch file the parent passed (and removes the variable, so nothing the
/// legacy starts inherits it). `true` when this process is a watched child.
pub fn take_child_end() -> Result<bool, WatchError> {
    let Some(value) = std::env::var_os(WATCH_FD) else { return Ok(false) };
    std::env::remove_var(WATCH_FD);
    let not_it = |why: String| WatchError::NotAWatchFile(format!("{why} (it is set by dualrun for itself)"));
    let fd: i32 = value
        .to_str()
        .and_then(|v| v.parse().ok())
        .filter(|fd| *fd > 2)
        .ok_or_else(|| not_it(format!("{WATCH_FD}={value:?}: not a file descriptor")))?;
    // SAFETY: fcntl on any integer is defined; F_GETFD fails on a descriptor that is not open.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } != 0 {
        return Err(not_it(format!("{WATCH_FD}={fd}: not an open file descriptor")));
    }
    // SAFETY: the descriptor is open, and this is its only owner in this process.
    let file = unsafe { File::from_raw_fd(fd) };
    if !file.metadata().is_ok_and(|m| m.is_file() && m.len() >= WATCH_LEN) {
        return Err(not_it(format!("{WATCH_FD}={fd}: not the watch file")));
    }
    // SAFETY: a shared, writable mapping of the file's first bytes (it is at least WATCH_LEN long), never
    // unmapped: it lives as long as the process, like the `&'static` made from it. A page-aligned address
    // is aligned for an AtomicU64, and only this process writes the word.
    let word = unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            WATCH_LEN as usize,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            file.as_raw_fd(),
            0,
        );
        if p == libc::MAP_FAILED {
            return Err(system(format!("{WATCH_FD}={fd}: mapping the watch file"))(std::io::Error::last_os_error()));
        }
        &*(p as *const AtomicU64)
    };
    let marks = Marks(word);
    marks.mark(STARTED, 0);
    let _ = CHILD.set(Arc::new(marks));
    Ok(true)
}

/// The watch file's length: one word is used.
const WATCH_LEN: u64 = 8;

/// In the child: the process is about to exit with `code` on its own terms.
pub fn returned(code: u8) {
    if let Some(m) = CHILD.get() {
        m.mark(RETURNED, u64::from(code));
    }
}

/// Whether this process is a watched child.
pub fn is_child() -> bool {
    CHILD.get().is_some()
}

/// In the child: has each call of the legacy marked in the watch file — by the legacy itself where its
/// calls run, or around each `verify` (unwrapped when unwatched).
pub fn legacy(mut v: Box<dyn Verifier>) -> Box<dyn Verifier> {
    match CHILD.get() {
        Some(marks) => {
            let itself = v.watch_calls(marks.clone());
            Box::new(Watched { inner: v, marks: (!itself).then(|| marks.clone()) })
        }
        None => v,
    }
}

/// The legacy, watched: `marks` is where each `verify` is marked when the legacy does not mark its calls
/// itself.
struct Watched {
    inner: Box<dyn Verifier>,
    marks: Option<Arc<Marks>>,
}

impl Verifier for Watched {
    fn identity(&self) -> VerifierIdentity {
        self.inner.identity()
    }
    fn stateless(&self) -> Option<Arc<dyn Stateless>> {
        self.inner.stateless()
    }
    fn wants_fields(&self) -> bool {
        self.inner.wants_fields()
    }
    fn upcoming(&mut self, blocks: &[(&BlockInput, &ReplayEnv)]) {
        // Calls may run ahead of `verify` only when they mark themselves.
        if self.marks.is_none() {
            self.inner.upcoming(blocks)
        }
    }
    fn took(&self) -> Option<std::time::Duration> {
        self.inner.took()
    }
    fn verify(
        &mut self,
        block: &BlockInput,
        prepared: Option<Box<dyn Any + Send>>,
        env: &ReplayEnv,
    ) -> VerifierOutcome {
        if let Some(m) = &self.marks {
            m.calling(block.height);
        }
        let outcome = self.inner.verify(block, prepared, env);
        if let Some(m) = &self.marks {
            m.returned(block.height);
        }
        outcome
    }
    fn verify_again(&mut self, block: &BlockInput, env: &ReplayEnv) -> VerifierOutcome {
        if let Some(m) = &self.marks {
            m.calling(block.height);
        }
        let outcome = self.inner.verify_again(block, env);
        if let Some(m) = &self.marks {
            m.returned(block.height);
        }
        outcome
    }
    fn stop_reason(&mut self) -> Option<String> {
        self.inner.stop_reason()
    }
    fn state(&self) -> dualrun_core::VerifierState {
        self.inner.state()
    }
    fn restore(&mut self, state: &dualrun_core::VerifierState) {
        self.inner.restore(state);
    }
}

/// In the parent: runs this executable again with `args` as a watched child and returns the exit code
/// it chose, or how it ended without finishing. `run_dir` is the replay's run directory, for the
/// `--resume` advice (none for `golden check`).
pub fn run_child(args: Vec<OsString>, run_dir: Option<&Path>) -> Result<u8, WatchError> {
    let file = anonymous_file()?;
    file.set_len(WATCH_LEN).map_err(system("sizing the replay's watch file"))?;
    let fd = file.as_raw_fd();
    let exe = std::env::current_exe().map_err(system("finding this executable to run the replay in a child"))?;
    let mut cmd = Command::new(&exe);
    cmd.args(args).env(WATCH_FD, fd.to_string()).process_group(0);
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    // SAFETY: only async-signal-safe system calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            // The child dies with this process (`kill -9` of `dualrun replay` still stops the replay at
            // once), even if this process died before the request was made.
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 || libc::getppid() != parent {
                return Err(std::io::Error::other("the watching dualrun is gone"));
            }
            if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    // The child is in its own process group: the terminal's Ctrl-C reaches only this process, which
    // passes it on (a signal before the child exists is dropped: the child checks nothing yet).
    static CHILD_PID: AtomicI32 = AtomicI32::new(0);
    let _ = ctrlc::set_handler(|| {
        let pid = CHILD_PID.load(Ordering::SeqCst);
        if pid > 0 {
            // SAFETY: kill has no memory preconditions; the child is reaped only after it exits.
            unsafe {
                libc::kill(pid, libc::SIGINT);
            }
        }
    });
    let mut child = cmd.spawn().map_err(system(format!("starting {}", exe.display())))?;
    CHILD_PID.store(child.id() as i32, Ordering::SeqCst);
    let status = child.wait().map_err(system("waiting for the replay child"))?;
    let mut buf = [0u8; 8];
    let word = file.read_exact_at(&mut buf, 0).map_or(0, |()| u64::from_le_bytes(buf));
    let (state, value) = (word >> STATE_SHIFT, word & ((1 << STATE_SHIFT) - 1));
    if state == RETURNED {
        if let Some(code) = status.code().filter(|c| u64::try_from(*c) == Ok(value)) {
            return Ok(code as u8);
        }
    }
    let how = match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => format!("signal {sig} ({})", signal_name(sig)),
        _ => format!("{status}"),
    };
    let resume = match run_dir {
        Some(dir) => format!(
            "the run in {} keeps its last checkpoint: fix it, then continue with the same command and --out {0} --resume",
            dir.display()
        ),
        None => "nothing was decided: fix it and run the command again".into(),
    };
    Err(WatchError::Unfinished(match state {
        VERIFYING => {
            format!("the legacy terminated the process at height {value} ({how}), without finishing; {resume}")
        }
        VERIFIED => {
            format!("the process ended ({how}) after the legacy verified height {value}, without finishing; {resume}")
        }
        _ => format!("the process ended ({how}) before the legacy verified a block, without finishing; {resume}"),
    }))
}

/// A file with no name (`O_TMPFILE`, or unlinked at once), so nothing is left on disk whatever happens.
fn anonymous_file() -> Result<File, WatchError> {
    let dir = std::env::temp_dir();
    let unnamed =
        std::fs::OpenOptions::new().read(true).write(true).mode(0o600).custom_flags(libc::O_TMPFILE).open(&dir);
    if let Ok(file) = unnamed {
        return Ok(file);
    }
    let path = dir.join(format!("dualrun-watch-{}-{:x}", std::process::id(), rand_suffix()));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(system(format!("creating the replay's watch file {}", path.display())))?;
    std::fs::remove_file(&path).map_err(system(format!("removing {}", path.display())))?;
    Ok(file)
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

fn signal_name(sig: i32) -> String {
    // SAFETY: strsignal returns a pointer to a static or thread-local string, valid until the next call.
    let s = unsafe { libc::strsignal(sig) };
    if s.is_null() {
        return "unknown signal".into();
    }
    // SAFETY: a non-null strsignal result is a NUL-terminated string.
    unsafe { std::ffi::CStr::from_ptr(s) }.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_python_legacy_needs_the_watch() {
        let needed = |spec: &str| needed(&spec.parse().unwrap());
        assert!(needed("python:dualrun_legacy") && needed("python:m:f"));
        assert!(!needed("exec:python3 -m v") && !needed("builtin:leader-v1") && !needed("monerod:http://x"));
    }

    /// A `DUALRUN_WATCH_FD` this dualrun did not set is refused, naming it, and never mapped.
    #[test]
    fn a_watch_variable_that_is_not_a_watch_file_is_refused() {
        for value in ["stdin", "1", "987654"] {
            std::env::set_var(WATCH_FD, value);
            let e = take_child_end().unwrap_err().to_string();
            assert!(e.contains(WATCH_FD) && e.contains("it is set by dualrun for itself"), "{value}: {e}");
            assert!(std::env::var_os(WATCH_FD).is_none(), "the variable is taken, not left for children");
        }
        assert!(!is_child());
    }
}
