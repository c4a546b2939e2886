//! [`FileError`]: the one error type for a file that could not be read or written, shared by every
//! dualrun crate so that each message names the file the same way; the bounded readers every input
//! goes through ([`read_capped`], [`BoundedLines`]) and the one atomic writer ([`write_atomic`]).

use std::io;
use std::path::{Path, PathBuf};

/// An I/O error on a named file. Its message is whole (`FILE: what the system said`), so the I/O error is
/// not also reported as its source: a chain of causes printed with `{:#}` says it once.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {io}")]
pub struct FileError {
    /// The file (or directory) the operation was on.
    pub file: PathBuf,
    /// What the operating system said.
    pub io: io::Error,
}

impl FileError {
    /// An error on `file`.
    pub fn new(file: impl Into<PathBuf>, io: io::Error) -> FileError {
        FileError { file: file.into(), io }
    }

    /// A `map_err` adapter: `std::fs::read(p).map_err(FileError::at(p))`.
    pub fn at(file: &Path) -> impl FnOnce(io::Error) -> FileError + '_ {
        move |source| FileError::new(file, source)
    }
}

/// `std::fs::read`, naming the file on error.
pub fn read(path: &Path) -> Result<Vec<u8>, FileError> {
    std::fs::read(path).map_err(FileError::at(path))
}

/// `std::fs::read_to_string`, naming the file on error.
pub fn read_to_string(path: &Path) -> Result<String, FileError> {
    std::fs::read_to_string(path).map_err(FileError::at(path))
}

/// Whether a symbolic link at the path itself may be followed when opening it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// Follow it (a path the user named).
    Follow,
    /// Refuse it (a file inside a directory whose contents are evidence: a link there could point
    /// anywhere).
    Refuse,
}

/// What kind of thing a non-regular file is, in words.
fn kind_of(t: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_dir() {
        "a directory"
    } else if t.is_symlink() {
        "a symbolic link"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else {
        "not a regular file"
    }
}

/// The kind of a directory entry or file in words (`a regular file`, `a symbolic link`, `a FIFO`…).
pub fn describe_kind(t: std::fs::FileType) -> &'static str {
    if t.is_file() {
        "a regular file"
    } else {
        kind_of(t)
    }
}

/// Opens `path` for reading, and only if it is a regular file: a directory, FIFO, socket or device is
/// refused (opened without blocking, so a FIFO nobody writes cannot hang the caller), and with
/// [`Links::Refuse`] so is a symbolic link at `path`. Returns the file and its length.
pub fn open_regular(path: &Path, links: Links) -> Result<(std::fs::File, u64), FileError> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut flags = libc::O_NONBLOCK | libc::O_CLOEXEC;
    if links == Links::Refuse {
        flags |= libc::O_NOFOLLOW;
    }
    let file = std::fs::OpenOptions::new().read(true).custom_flags(flags).open(path).map_err(|e| {
        if links == Links::Refuse && e.raw_os_error() == Some(libc::ELOOP) {
            FileError::new(path, io::Error::other("a symbolic link, which is never followed here"))
        } else {
            FileError::new(path, e)
        }
    })?;
    let meta = file.metadata().map_err(FileError::at(path))?;
    if !meta.file_type().is_file() {
        let kind = kind_of(meta.file_type());
        return Err(FileError::new(path, io::Error::other(format!("{kind}, not a regular file"))));
    }
    Ok((file, meta.len()))
}

/// The whole of a regular file of at most `cap` bytes (see [`open_regular`]); `what` names what the file
/// should be in the error (`a golden vector`). The size is checked before reading and while reading (a
/// file that grows meanwhile is refused too), so memory never exceeds the cap.
pub fn read_capped(path: &Path, links: Links, cap: u64, what: &str) -> Result<Vec<u8>, FileError> {
    use std::io::Read;
    let too_big =
        |bytes: String| FileError::new(path, io::Error::other(format!("{bytes} bytes; {what} is at most {cap} bytes")));
    let (file, len) = open_regular(path, links)?;
    if len > cap {
        return Err(too_big(len.to_string()));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(cap + 1).read_to_end(&mut bytes).map_err(FileError::at(path))?;
    if bytes.len() as u64 > cap {
        return Err(too_big(format!("more than {cap}")));
    }
    Ok(bytes)
}

/// One line of a [`BoundedLines`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// The line, without its newline.
    Text(Vec<u8>),
    /// A line longer than the cap: skipped to its end, never held; its length.
    TooLong {
        /// The line's length in bytes.
        bytes: u64,
    },
}

/// The lines of a reader, each at most `cap` bytes held, numbered from 1; a final line without a
/// newline is a line. A longer line is read past without being kept and reported as [`Line::TooLong`],
/// so memory stays within the cap whatever the input.
pub struct BoundedLines<R> {
    reader: R,
    cap: usize,
    number: usize,
    done: bool,
}

impl<R: io::BufRead> BoundedLines<R> {
    /// Lines of `reader`, at most `cap` bytes each.
    pub fn new(reader: R, cap: usize) -> Self {
        BoundedLines { reader, cap, number: 0, done: false }
    }
}

impl<R: io::BufRead> Iterator for BoundedLines<R> {
    type Item = io::Result<(usize, Line)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let (mut text, mut bytes, mut too_long) = (Vec::new(), 0u64, false);
        loop {
            let available = match self.reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            };
            if available.is_empty() {
                self.done = true;
                if bytes == 0 && text.is_empty() {
                    return None;
                }
                break;
            }
            let newline = available.iter().position(|b| *b == b'\n');
            let chunk = &available[..newline.unwrap_or(available.len())];
            bytes += chunk.len() as u64;
            if !too_long && text.len() + chunk.len() > self.cap {
                too_long = true;
                text = Vec::new();
            } else if !too_long {
                text.extend_from_slice(chunk);
            }
            let used = chunk.len() + usize::from(newline.is_some());
            self.reader.consume(used);
            if newline.is_some() {
                break;
            }
        }
        self.number += 1;
        Some(Ok((self.number, if too_long { Line::TooLong { bytes } } else { Line::Text(text) })))
    }
}

/// A short, escaped excerpt of `bytes` for an error message, quoted: at most `max` characters, control
/// and non-UTF-8 bytes escaped, with the whole length when it was cut (`"abc…" (500000000 bytes)`).
/// Nothing a file holds is echoed beyond it.
pub fn excerpt(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(max * 4)]);
    let cut = text.chars().count() > max || bytes.len() > max * 4;
    let shown: String = text.chars().take(max).flat_map(char::escape_debug).collect();
    if cut {
        format!("\"{shown}…\" ({} bytes)", bytes.len())
    } else {
        format!("\"{shown}\"")
    }
}

/// A message (a parser's, which may quote the input) cut to `max` characters and escaped, unquoted,
/// with its whole length when it was cut (`expected … (500000123 bytes)`).
pub fn clip(message: &str, max: usize) -> String {
    let mut out: String = message.chars().take(max).flat_map(char::escape_debug).collect();
    if message.chars().nth(max).is_some() {
        out.push_str(&format!("… ({} bytes)", message.len()));
    }
    out
}

/// Writes `bytes` to `path` atomically: a temp file beside it, synced, renamed over it.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).map_err(FileError::at(&tmp))?;
    std::io::Write::write_all(&mut f, bytes).map_err(FileError::at(&tmp))?;
    f.sync_all().map_err(FileError::at(&tmp))?;
    std::fs::rename(&tmp, path).map_err(FileError::at(path))?;
    if let Some(parent) = path.parent() {
        if let Ok(d) = std::fs::File::open(parent) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], cap: usize) -> Vec<(usize, Line)> {
        BoundedLines::new(io::BufReader::with_capacity(4, input), cap).map(Result::unwrap).collect()
    }

    #[test]
    fn bounded_lines_number_every_line_and_skip_long_ones_whole() {
        let text = |s: &str| Line::Text(s.as_bytes().to_vec());
        assert_eq!(lines(b"", 8), vec![]);
        assert_eq!(lines(b"a\n\nbc", 8), vec![(1, text("a")), (2, text("")), (3, text("bc"))]);
        assert_eq!(
            lines(b"12345678\n123456789\nok\n", 8),
            vec![(1, text("12345678")), (2, Line::TooLong { bytes: 9 }), (3, text("ok"))]
        );
        assert_eq!(lines(b"1234567890123", 8), vec![(1, Line::TooLong { bytes: 13 })]);
    }

    #[test]
    fn a_non_regular_file_or_a_refused_link_is_not_opened() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("f");
        std::fs::write(&file, b"0123456789").unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert_eq!(read_capped(&file, Links::Refuse, 10, "x").unwrap(), b"0123456789");
        assert_eq!(read_capped(&link, Links::Follow, 10, "x").unwrap(), b"0123456789");
        let e = read_capped(&link, Links::Refuse, 10, "x").unwrap_err().to_string();
        assert!(e.contains("a symbolic link, which is never followed"), "{e}");
        let e = read_capped(&file, Links::Follow, 9, "a thing").unwrap_err().to_string();
        assert!(e.ends_with("10 bytes; a thing is at most 9 bytes"), "{e}");
        let e = read_capped(tmp.path(), Links::Follow, 9, "x").unwrap_err().to_string();
        assert!(e.contains("a directory, not a regular file"), "{e}");
        let e = read_capped(Path::new("/dev/zero"), Links::Follow, 9, "x").unwrap_err().to_string();
        assert!(e.contains("a character device, not a regular file"), "{e}");
        let fifo = tmp.path().join("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        // Nobody writes to it: opening must not wait for a writer.
        let e = read_capped(&fifo, Links::Follow, 9, "x").unwrap_err().to_string();
        assert!(e.contains("a FIFO, not a regular file"), "{e}");
    }

    #[test]
    fn an_excerpt_is_short_and_escaped() {
        assert_eq!(clip("unknown variant `\u{1b}[2J`", 100), "unknown variant `\\u{1b}[2J`");
        assert_eq!(clip(&"y".repeat(500), 3), "yyy… (500 bytes)");
        assert_eq!(excerpt(b"ab\x1b[31m", 40), "\"ab\\u{1b}[31m\"");
        let long = vec![b'x'; 1000];
        assert_eq!(excerpt(&long, 4), "\"xxxx…\" (1000 bytes)");
    }
}
