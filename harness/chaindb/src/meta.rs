//! LMDB's meta pages, read before the file is mapped: a `data.mdb` shorter than the last page its meta
//! page says is in use (a half-finished copy, a full disk) would otherwise be mapped and fault with
//! SIGBUS when a read reaches past the end of the file.
//!
//! Layout (LMDB 0.9, 64-bit): pages 0 and 1 each hold a meta record after the 16-byte page header:
//! `mm_magic` u32 at 0, `mm_version` u32 at 4, `mm_address` at 8, `mm_mapsize` at 16, two 48-byte
//! `MDB_db` records at 24 (the first one's `md_pad` is the page size), `mm_last_pg` at 120 and
//! `mm_txnid` at 128. LMDB uses the valid meta with the higher transaction id.

use std::io::Read;
use std::path::Path;

use dualrun_format::FileError;

use crate::ChainDbError;

const PAGE_HEADER: usize = 16;
const MAGIC: u32 = 0xBEEF_C0DE;
/// Bytes of a meta record this check reads.
const META_BYTES: usize = 136;
/// The page size assumed when the file is too short to say (LMDB's default on x86-64).
const DEFAULT_PAGE: u64 = 4096;

/// What one meta page says.
struct Meta {
    page_size: u64,
    last_page: u64,
    txnid: u64,
}

fn meta_at(bytes: &[u8], page_offset: usize) -> Option<Meta> {
    let m = bytes.get(page_offset + PAGE_HEADER..page_offset + PAGE_HEADER + META_BYTES)?;
    let u32_at = |o: usize| u32::from_le_bytes(m[o..o + 4].try_into().expect("4 bytes"));
    let u64_at = |o: usize| u64::from_le_bytes(m[o..o + 8].try_into().expect("8 bytes"));
    (u32_at(0) == MAGIC).then(|| Meta { page_size: u64::from(u32_at(24)), last_page: u64_at(120), txnid: u64_at(128) })
}

/// Refuses a `data.mdb` shorter than its meta pages say it is. A file that is not LMDB at all is left to
/// LMDB to refuse.
pub(crate) fn check_length(data_file: &Path) -> Result<(), ChainDbError> {
    let mut f = std::fs::File::open(data_file).map_err(FileError::at(data_file))?;
    let length = f.metadata().map_err(FileError::at(data_file))?.len();
    let truncated = |needed: u64| ChainDbError::Truncated { file: data_file.into(), length, needed };
    let mut first = vec![0u8; (DEFAULT_PAGE as usize) + PAGE_HEADER + META_BYTES];
    let got = read_up_to(&mut f, &mut first).map_err(FileError::at(data_file))?;
    first.truncate(got);
    let Some(meta0) = meta_at(&first, 0) else {
        // Too short to hold the first meta record: truncated if what is there is the start of one (or
        // nothing); otherwise not LMDB, which LMDB says when it opens it.
        let short = got < PAGE_HEADER + META_BYTES;
        return if short && is_meta_prefix(&first) { Err(truncated(2 * DEFAULT_PAGE)) } else { Ok(()) };
    };
    let page_size = meta0.page_size;
    if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
        return Ok(()); // not a page size LMDB writes: let LMDB refuse it
    }
    if length < 2 * page_size {
        return Err(truncated(2 * page_size));
    }
    let mut second = vec![0u8; PAGE_HEADER + META_BYTES];
    use std::io::{Seek, SeekFrom};
    f.seek(SeekFrom::Start(page_size)).map_err(FileError::at(data_file))?;
    let got = read_up_to(&mut f, &mut second).map_err(FileError::at(data_file))?;
    second.truncate(got);
    let meta = match meta_at(&second, 0) {
        Some(meta1) if meta1.txnid > meta0.txnid => meta1,
        _ => meta0,
    };
    let needed = meta.last_page.saturating_add(1).saturating_mul(page_size);
    if length < needed {
        return Err(truncated(needed));
    }
    Ok(())
}

/// Whether `bytes` (fewer than a meta record's) agree with the start of LMDB's first meta page: page
/// number 0, the meta flag, the magic — as far as they go.
fn is_meta_prefix(bytes: &[u8]) -> bool {
    const P_META: u16 = 0x08;
    let partial = |range: std::ops::Range<usize>, want: &[u8]| {
        let have = &bytes[range.start.min(bytes.len())..range.end.min(bytes.len())];
        have == &want[..have.len()]
    };
    partial(0..8, &[0; 8]) && partial(10..12, &P_META.to_le_bytes()) && partial(16..20, &MAGIC.to_le_bytes())
}

/// Reads until `buf` is full or the file ends; returns the bytes read.
fn read_up_to(f: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}
