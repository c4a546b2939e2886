//! Is a live process using an LMDB environment? LMDB's writer-side processes hold a POSIX record lock
//! on byte 0 of `lock.mdb` for as long as the environment is open; `F_GETLK` asks who holds it without
//! taking it and without writing anything.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;

/// The pid holding the environment lock of `lock_file`, if any. A missing lock file means no holder.
pub(crate) fn holder(lock_file: &Path) -> std::io::Result<Option<i32>> {
    let file = match File::open(lock_file) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    // SAFETY: a zeroed flock is a valid value; fcntl reads and writes only that struct.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = libc::F_WRLCK as _;
    fl.l_whence = libc::SEEK_SET as _;
    fl.l_start = 0;
    fl.l_len = 1;
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETLK, &mut fl) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((fl.l_type != libc::F_UNLCK as libc::c_short).then_some(fl.l_pid))
}
