//! Reading a child's output with bounds, so a misbehaving verifier cannot exhaust memory or disk: a
//! response line is at most [`MAX_LINE_BYTES`] (longer is an error for that block, and the child is
//! killed), and what its stderr puts in `run.log` is capped per block and per run, with a note of how
//! much was dropped.

use std::io::{BufRead, ErrorKind, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The longest response line accepted (a verdict with its facts is a few hundred bytes).
pub const MAX_LINE_BYTES: usize = 16 << 20;
/// Stderr kept in `run.log` for one block.
pub const STDERR_PER_BLOCK: u64 = 1 << 20;
/// Stderr kept in `run.log` for a whole run.
pub const STDERR_PER_RUN: u64 = 64 << 20;

/// The next line (without its newline), `None` at the end; a line over `cap` bytes is an
/// `InvalidData` error, read no further than the cap, and so is a line that is not UTF-8.
pub fn read_line(r: &mut impl BufRead, cap: usize) -> std::io::Result<Option<String>> {
    let mut line = Vec::new();
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return if line.is_empty() { Ok(None) } else { utf8(line).map(Some) };
        }
        let (take, done) = match buf.iter().position(|b| *b == b'\n') {
            Some(i) => (i, true),
            None => (buf.len(), false),
        };
        if line.len() + take > cap {
            return Err(std::io::Error::new(
                ErrorKind::InvalidData,
                format!("a response line longer than {cap} bytes (the limit; no newline within it)"),
            ));
        }
        line.extend_from_slice(&buf[..take]);
        r.consume(take + usize::from(done));
        if done {
            return utf8(line).map(Some);
        }
    }
}

fn utf8(bytes: Vec<u8>) -> std::io::Result<String> {
    String::from_utf8(bytes).map_err(|e| std::io::Error::new(ErrorKind::InvalidData, e))
}

/// Budget for stderr kept in the log: per block (`seq` names the block being judged) and per run.
#[derive(Debug, Default)]
pub(crate) struct StderrBudget {
    /// The request the child is answering.
    pub(crate) seq: AtomicU64,
    /// Bytes kept so far in the run.
    kept_run: AtomicU64,
}

/// Copies a child's stderr into `log`, each line prefixed with `prefix`, within the budget; notes in the
/// log when output starts being dropped and, at the end, how much was.
pub(crate) fn copy_stderr(stderr: impl Read, log: &Path, prefix: &str, budget: Arc<StderrBudget>) {
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(log).ok();
    let mut write = |text: &str| {
        if let Some(f) = file.as_mut() {
            let _ = writeln!(f, "{prefix} {text}");
        }
    };
    let mut reader = std::io::BufReader::with_capacity(1 << 16, stderr);
    let (mut block, mut kept_block, mut dropped, mut noted) = (u64::MAX, 0u64, 0u64, false);
    loop {
        // Lines are read with a cap too: a line is kept in pieces of at most 64 KiB.
        let mut piece = Vec::new();
        match (&mut reader).take(1 << 16).read_until(b'\n', &mut piece) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let seq = budget.seq.load(Ordering::Relaxed);
        if seq != block {
            (block, kept_block, noted) = (seq, 0, false);
        }
        let n = piece.len() as u64;
        let run_total = budget.kept_run.load(Ordering::Relaxed);
        if kept_block + n > STDERR_PER_BLOCK || run_total + n > STDERR_PER_RUN {
            dropped += n;
            if !noted {
                noted = true;
                write(&format!(
                    "(stderr over its cap — {STDERR_PER_BLOCK} bytes a block, {STDERR_PER_RUN} a run: the rest of request {seq}'s is dropped)"
                ));
            }
            continue;
        }
        kept_block += n;
        budget.kept_run.fetch_add(n, Ordering::Relaxed);
        write(String::from_utf8_lossy(&piece).trim_end_matches(['\n', '\r']));
    }
    if dropped > 0 {
        write(&format!("({dropped} bytes of stderr dropped over the caps)"));
    }
}

#[cfg(test)]
mod tests {
    use super::read_line;

    #[test]
    fn lines_are_read_up_to_the_cap() {
        let mut r = std::io::BufReader::with_capacity(4, &b"abc\ndefgh\nlast"[..]);
        assert_eq!(read_line(&mut r, 8).unwrap().as_deref(), Some("abc"));
        assert_eq!(read_line(&mut r, 8).unwrap().as_deref(), Some("defgh"));
        assert_eq!(read_line(&mut r, 8).unwrap().as_deref(), Some("last"));
        assert_eq!(read_line(&mut r, 8).unwrap(), None);
        let mut long = std::io::BufReader::with_capacity(4, &b"0123456789\n"[..]);
        let e = read_line(&mut long, 8).unwrap_err();
        assert!(e.to_string().contains("longer than 8 bytes"), "{e}");
    }
}
