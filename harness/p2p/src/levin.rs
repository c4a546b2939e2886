//! The Levin header: the 33 packed little-endian bytes before every P2P message (signature, body size,
//! whether a response is expected, command, return code, flags, protocol version), encoded and decoded
//! with the body size bounded by the caller.

use std::io::Read;

/// The signature every Levin header starts with (`LEVIN_SIGNATURE`).
pub const SIGNATURE: u64 = 0x0101_0101_0101_2101;
/// The header's size in bytes.
pub const HEADER_LEN: usize = 33;
/// The largest body a node accepts before a handshake completes (`LEVIN_INITIAL_MAX_PACKET_SIZE`,
/// 256 KiB).
pub const INITIAL_MAX_BODY: u64 = 256 * 1024;
/// The largest body a node accepts after a handshake (`LEVIN_DEFAULT_MAX_PACKET_SIZE`, 100 MB).
pub const MAX_BODY: u64 = 100_000_000;
/// The flag of a request.
pub const FLAG_REQUEST: u32 = 1;
/// The flag of a response.
pub const FLAG_RESPONSE: u32 = 2;
/// The protocol version this crate speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// A Levin header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The number of bytes that follow the header.
    pub body_size: u64,
    /// Whether the sender expects a response.
    pub have_to_return_data: bool,
    /// The command (1001 = `COMMAND_HANDSHAKE`).
    pub command: u32,
    /// 0 in a request; the handler's code in a response (negative = an error).
    pub return_code: i32,
    /// [`FLAG_REQUEST`], [`FLAG_RESPONSE`] (or the fragment flags 4 and 8).
    pub flags: u32,
    /// The protocol version ([`PROTOCOL_VERSION`]).
    pub protocol_version: u32,
}

/// Why bytes are not an acceptable Levin header (or could not be read).
#[derive(Debug, thiserror::Error)]
pub enum LevinError {
    /// Fewer than [`HEADER_LEN`] bytes.
    #[error("Levin header truncated: {got} of {HEADER_LEN} bytes (at byte offset {got})")]
    Truncated {
        /// The bytes there were.
        got: usize,
    },
    /// The signature (offset 0) is not [`SIGNATURE`].
    #[error("Levin signature at byte offset 0 is {found:#018x}, not {SIGNATURE:#018x}")]
    BadSignature {
        /// The signature found.
        found: u64,
    },
    /// The body size (offset 8) is larger than the caller allows.
    #[error("Levin body size at byte offset 8 is {size} bytes, over the limit of {limit}")]
    BodyTooLarge {
        /// The announced size.
        size: u64,
        /// The caller's limit.
        limit: u64,
    },
    /// The have_to_return_data byte (offset 16) is neither 0 nor 1.
    #[error("Levin have_to_return_data at byte offset 16 is {0}, not 0 or 1")]
    BadBool(u8),
    /// Reading from the stream failed.
    #[error("reading a Levin packet: {0}")]
    Io(#[from] std::io::Error),
}

impl Header {
    /// A request header for `command` with a body of `body_size` bytes.
    pub fn request(command: u32, body_size: u64, expects_response: bool) -> Header {
        Header {
            body_size,
            have_to_return_data: expects_response,
            command,
            return_code: 0,
            flags: FLAG_REQUEST,
            protocol_version: PROTOCOL_VERSION,
        }
    }

    /// Whether this header is of a response.
    pub fn is_response(&self) -> bool {
        self.flags & FLAG_RESPONSE != 0
    }

    /// The header's 33 bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0..8].copy_from_slice(&SIGNATURE.to_le_bytes());
        out[8..16].copy_from_slice(&self.body_size.to_le_bytes());
        out[16] = u8::from(self.have_to_return_data);
        out[17..21].copy_from_slice(&self.command.to_le_bytes());
        out[21..25].copy_from_slice(&self.return_code.to_le_bytes());
        out[25..29].copy_from_slice(&self.flags.to_le_bytes());
        out[29..33].copy_from_slice(&self.protocol_version.to_le_bytes());
        out
    }

    /// The header at the start of `bytes`, whose body may be at most `max_body` bytes.
    pub fn decode(bytes: &[u8], max_body: u64) -> Result<Header, LevinError> {
        let b: &[u8; HEADER_LEN] = bytes
            .get(..HEADER_LEN)
            .and_then(|b| b.try_into().ok())
            .ok_or(LevinError::Truncated { got: bytes.len() })?;
        let u64_at =
            |i: usize| u64::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3], b[i + 4], b[i + 5], b[i + 6], b[i + 7]]);
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let signature = u64_at(0);
        if signature != SIGNATURE {
            return Err(LevinError::BadSignature { found: signature });
        }
        let body_size = u64_at(8);
        if body_size > max_body {
            return Err(LevinError::BodyTooLarge { size: body_size, limit: max_body });
        }
        let have_to_return_data = match b[16] {
            0 => false,
            1 => true,
            other => return Err(LevinError::BadBool(other)),
        };
        Ok(Header {
            body_size,
            have_to_return_data,
            command: u32_at(17),
            return_code: u32_at(21) as i32,
            flags: u32_at(25),
            protocol_version: u32_at(29),
        })
    }
}

/// One Levin packet: its header and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// The header.
    pub header: Header,
    /// The body (`header.body_size` bytes).
    pub body: Vec<u8>,
}

impl Packet {
    /// The packet's bytes: the header then the body.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.body.len());
        out.extend_from_slice(&self.header.encode());
        out.extend_from_slice(&self.body);
        out
    }
}

/// Reads one packet from `r`, its body at most `max_body` bytes (checked before reading it).
pub fn read_packet(r: &mut impl Read, max_body: u64) -> Result<Packet, LevinError> {
    let mut head = [0u8; HEADER_LEN];
    let mut got = 0;
    while got < HEADER_LEN {
        match r.read(&mut head[got..]) {
            Ok(0) => return Err(LevinError::Truncated { got }),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    let header = Header::decode(&head, max_body)?;
    let mut body = Vec::new();
    // Bounded by `max_body` above; `take` stops at the announced size.
    r.take(header.body_size).read_to_end(&mut body)?;
    if (body.len() as u64) < header.body_size {
        return Err(LevinError::Io(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("body truncated: {} of {} bytes", body.len(), header.body_size),
        )));
    }
    Ok(Packet { header, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Header {
        Header::request(1001, 10, true)
    }

    #[test]
    fn round_trip() {
        let h = Header { return_code: -3, flags: FLAG_RESPONSE, ..sample() };
        assert_eq!(Header::decode(&h.encode(), 10).unwrap(), h);
    }

    #[test]
    fn known_bytes() {
        let b = sample().encode();
        assert_eq!(&b[0..8], &[0x01, 0x21, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01]);
        assert_eq!(&b[17..21], &1001u32.to_le_bytes());
        assert_eq!(b[16], 1);
    }

    #[test]
    fn wrong_signature() {
        let mut b = sample().encode();
        b[0] = 0x02;
        assert!(matches!(Header::decode(&b, 10), Err(LevinError::BadSignature { .. })));
    }

    #[test]
    fn body_too_large() {
        let b = Header::request(1001, INITIAL_MAX_BODY + 1, true).encode();
        let e = Header::decode(&b, INITIAL_MAX_BODY).unwrap_err();
        assert!(
            matches!(e, LevinError::BodyTooLarge { size, limit } if size == INITIAL_MAX_BODY + 1 && limit == INITIAL_MAX_BODY)
        );
        assert!(e.to_string().contains("offset 8"));
    }

    #[test]
    fn truncated() {
        let b = sample().encode();
        assert!(matches!(Header::decode(&b[..20], 10), Err(LevinError::Truncated { got: 20 })));
        assert!(matches!(read_packet(&mut &b[..5], 10), Err(LevinError::Truncated { got: 5 })));
        // A header announcing 10 body bytes, followed by 3.
        let mut p = b.to_vec();
        p.extend_from_slice(&[1, 2, 3]);
        assert!(matches!(read_packet(&mut p.as_slice(), 10), Err(LevinError::Io(_))));
    }

    #[test]
    fn bad_bool() {
        let mut b = sample().encode();
        b[16] = 7;
        assert!(matches!(Header::decode(&b, 10), Err(LevinError::BadBool(7))));
    }

    #[test]
    fn packet_round_trip() {
        let p = Packet { header: Header::request(1001, 3, true), body: vec![9, 8, 7] };
        assert_eq!(read_packet(&mut p.encode().as_slice(), 3).unwrap(), p);
    }
}
