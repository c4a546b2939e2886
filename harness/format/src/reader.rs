//! A cursor over a blob that knows its offset, so every error names the byte where it happened.

use crate::error::{ParseError, ParseErrorKind};
use crate::varint::{self, VarintError};

pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn error(&self, offset: usize, kind: ParseErrorKind) -> ParseError {
        ParseError { offset, kind }
    }

    pub(crate) fn bytes(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], ParseError> {
        if self.remaining() < n {
            return Err(self.error(self.pos, ParseErrorKind::Truncated { field }));
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    pub(crate) fn array32(&mut self, field: &'static str) -> Result<[u8; 32], ParseError> {
        Ok(self.bytes(32, field)?.try_into().expect("32 bytes"))
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, ParseError> {
        Ok(self.bytes(1, field)?[0])
    }

    pub(crate) fn u32_le(&mut self, field: &'static str) -> Result<u32, ParseError> {
        Ok(u32::from_le_bytes(self.bytes(4, field)?.try_into().expect("4 bytes")))
    }

    pub(crate) fn varint(&mut self, bits: u32, field: &'static str) -> Result<u64, ParseError> {
        match varint::read(&self.buf[self.pos..], bits) {
            Ok((v, n)) => {
                self.pos += n;
                Ok(v)
            }
            Err(e) => {
                let kind = match e {
                    VarintError::Truncated => ParseErrorKind::Truncated { field },
                    VarintError::Overflow => ParseErrorKind::VarintOverflow { field, bits },
                    VarintError::NonCanonical => ParseErrorKind::NonCanonicalVarint { field },
                };
                Err(self.error(self.pos, kind))
            }
        }
    }

    pub(crate) fn u64v(&mut self, field: &'static str) -> Result<u64, ParseError> {
        self.varint(64, field)
    }

    /// A vector length, checked against the bytes left (each element takes at least `min_elem` bytes),
    /// so a hostile count cannot make us allocate.
    pub(crate) fn count(&mut self, min_elem: usize, field: &'static str) -> Result<usize, ParseError> {
        let at = self.pos;
        let n = self.u64v(field)?;
        if n.saturating_mul(min_elem as u64) > self.remaining() as u64 {
            return Err(self.error(at, ParseErrorKind::CountTooLarge { field, count: n }));
        }
        Ok(n as usize)
    }
}
