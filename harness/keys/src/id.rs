//! Key ids: what the id a key signs as (a validator's or an operator's) may be, wherever one is read (a
//! key file, a profile, a leader record).

/// Longest validator id, in bytes.
pub const MAX_ID_LEN: usize = 32;

/// Why a leader id is not acceptable, if it is not: 1..=32 bytes of ASCII `[A-Za-z0-9._-]`.
pub fn id_problem(id: &[u8]) -> Option<String> {
    if id.is_empty() || id.len() > MAX_ID_LEN {
        return Some(format!("id is {} bytes; it must be 1..={MAX_ID_LEN}", id.len()));
    }
    if let Some(b) = id.iter().find(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))) {
        return Some(format!("id contains byte 0x{b:02x}; allowed are A-Z a-z 0-9 . _ -"));
    }
    None
}
