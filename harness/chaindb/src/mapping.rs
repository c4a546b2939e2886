//! Keeping a long read from filling our resident set with the database file.
//!
//! LMDB reads through a shared, read-only memory map of `data.mdb`; every page a scan touches stays
//! counted in the process's RSS until the kernel needs it back, so a full scan of a large chain would
//! look like a memory leak of the file's size. After a stretch of blocks the reader drops its mapped
//! pages with `madvise(MADV_DONTNEED)`: for a read-only shared file mapping this only unmaps them from
//! this process (they stay in the page cache, nothing is written), and the next access faults them back
//! in with the same contents, so slices still borrowed from the map remain valid.

use std::path::Path;

/// The address ranges where `file` is mapped into this process (Linux: from `/proc/self/maps`).
pub(crate) fn ranges_of(file: &Path) -> Vec<(usize, usize)> {
    let Ok(canonical) = std::fs::canonicalize(file) else { return Vec::new() };
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else { return Vec::new() };
    let target = canonical.to_string_lossy();
    maps.lines()
        .filter_map(|line| {
            // "start-end perms offset dev inode   path"
            let mut parts = line.splitn(6, ' ');
            let range = parts.next()?;
            let path = parts.nth(4)?.trim_start();
            if path != target {
                return None;
            }
            let (a, b) = range.split_once('-')?;
            Some((usize::from_str_radix(a, 16).ok()?, usize::from_str_radix(b, 16).ok()?))
        })
        .collect()
}

/// Asks the kernel to map the file with small pages: with 2 MiB folios a scan's resident set rises in
/// 2 MiB steps between releases instead of staying at a few pages.
pub(crate) fn prefer_small_pages(ranges: &[(usize, usize)]) {
    for &(start, end) in ranges {
        // SAFETY: advice only; it changes no contents.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_NOHUGEPAGE);
        }
    }
}

/// Drops this process's resident pages of the given read-only file mappings.
pub(crate) fn release(ranges: &[(usize, usize)]) {
    for &(start, end) in ranges {
        // SAFETY: the range is a read-only shared mapping of a file nobody writes (see module docs);
        // MADV_DONTNEED on it never loses data, and later reads fault the same bytes back in.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
        }
    }
}
