//! Epee portable storage, the body of every P2P message: its header, sections of named typed values
//! (integers, double, strings, bools, nested sections and arrays of those) and epee's varint (whose low
//! two bits give its width). Encoding, and decoding bounded in depth, entry count and size.

/// The first signature (`PORTABLE_STORAGE_SIGNATUREA`).
pub const SIGNATURE_A: u32 = 0x0101_1101;
/// The second signature (`PORTABLE_STORAGE_SIGNATUREB`).
pub const SIGNATURE_B: u32 = 0x0102_0101;
/// The format version (`PORTABLE_STORAGE_FORMAT_VER`).
pub const FORMAT_VERSION: u8 = 1;
/// The largest value epee's varint holds (62 bits).
pub const MAX_VARINT: u64 = (1 << 62) - 1;

const HEADER_LEN: usize = 9;
const ARRAY_FLAG: u8 = 0x80;

/// Type codes (`SERIALIZE_TYPE_*`).
mod code {
    pub(super) const I64: u8 = 1;
    pub(super) const I32: u8 = 2;
    pub(super) const I16: u8 = 3;
    pub(super) const I8: u8 = 4;
    pub(super) const U64: u8 = 5;
    pub(super) const U32: u8 = 6;
    pub(super) const U16: u8 = 7;
    pub(super) const U8: u8 = 8;
    pub(super) const F64: u8 = 9;
    pub(super) const STRING: u8 = 10;
    pub(super) const BOOL: u8 = 11;
    pub(super) const SECTION: u8 = 12;
    pub(super) const ARRAY: u8 = 13;
}

/// A value in a section.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `int64`.
    I64(i64),
    /// `int32`.
    I32(i32),
    /// `int16`.
    I16(i16),
    /// `int8`.
    I8(i8),
    /// `uint64`.
    U64(u64),
    /// `uint32`.
    U32(u32),
    /// `uint16`.
    U16(u16),
    /// `uint8`.
    U8(u8),
    /// `double`.
    F64(f64),
    /// A string: any bytes (hashes and ids are sent as strings).
    String(Vec<u8>),
    /// `bool`.
    Bool(bool),
    /// A nested section.
    Section(Section),
    /// An array of values of one type.
    Array(Array),
}

/// An array: values all of one type.
#[derive(Debug, Clone, PartialEq)]
pub enum Array {
    /// Of `int64`.
    I64(Vec<i64>),
    /// Of `int32`.
    I32(Vec<i32>),
    /// Of `int16`.
    I16(Vec<i16>),
    /// Of `int8`.
    I8(Vec<i8>),
    /// Of `uint64`.
    U64(Vec<u64>),
    /// Of `uint32`.
    U32(Vec<u32>),
    /// Of `uint16`.
    U16(Vec<u16>),
    /// Of `uint8`.
    U8(Vec<u8>),
    /// Of `double`.
    F64(Vec<f64>),
    /// Of strings.
    String(Vec<Vec<u8>>),
    /// Of `bool`.
    Bool(Vec<bool>),
    /// Of sections.
    Section(Vec<Section>),
}

/// A section: named values, in order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Section {
    /// The entries, in the order they are encoded.
    pub entries: Vec<(String, Value)>,
}

impl Section {
    /// An empty section.
    pub fn new() -> Section {
        Section::default()
    }

    /// This section with `name` = `value` appended.
    pub fn with(mut self, name: &str, value: Value) -> Section {
        self.entries.push((name.to_owned(), value));
        self
    }

    /// The first value named `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The nested section named `name`.
    pub fn section(&self, name: &str) -> Option<&Section> {
        match self.get(name)? {
            Value::Section(s) => Some(s),
            _ => None,
        }
    }

    /// The string named `name`.
    pub fn bytes(&self, name: &str) -> Option<&[u8]> {
        match self.get(name)? {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The unsigned integer named `name`, whatever its width (epee converts between them too).
    pub fn uint(&self, name: &str) -> Option<u64> {
        match *self.get(name)? {
            Value::U64(v) => Some(v),
            Value::U32(v) => Some(v.into()),
            Value::U16(v) => Some(v.into()),
            Value::U8(v) => Some(v.into()),
            Value::I64(v) => u64::try_from(v).ok(),
            Value::I32(v) => u64::try_from(v).ok(),
            Value::I16(v) => u64::try_from(v).ok(),
            Value::I8(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }
}

/// The bounds of a decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The deepest nesting of sections and arrays (the root section is depth 1).
    pub max_depth: usize,
    /// The most values (entries and array elements) in all.
    pub max_entries: usize,
    /// The largest input, in bytes.
    pub max_size: usize,
}

impl Default for Limits {
    /// Epee's recursion limit (100), 65 536 values and the 256 KiB of a packet before a handshake.
    fn default() -> Limits {
        Limits { max_depth: 100, max_entries: 65_536, max_size: 256 * 1024 }
    }
}

/// What is wrong with portable-storage bytes (or a section to encode).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The input ends inside something.
    #[error("truncated: {0} needs more bytes")]
    Truncated(&'static str),
    /// The header's signatures or version are wrong.
    #[error("bad header: signatures {a:#010x} {b:#010x}, version {version}")]
    BadHeader {
        /// The first signature found.
        a: u32,
        /// The second signature found.
        b: u32,
        /// The version found.
        version: u8,
    },
    /// A varint is truncated.
    #[error("bad varint: {width}-byte varint with {got} bytes left")]
    BadVarint {
        /// The width its low bits announce.
        width: usize,
        /// The bytes left.
        got: usize,
    },
    /// A type byte names no known type.
    #[error("unknown type {0:#04x}")]
    UnknownType(u8),
    /// Sections or arrays nest deeper than allowed.
    #[error("nested deeper than {0}")]
    TooDeep(usize),
    /// More values than allowed.
    #[error("more than {0} entries")]
    TooManyEntries(usize),
    /// The input is larger than allowed.
    #[error("{size} bytes, over the limit of {limit}")]
    Oversized {
        /// The input's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A count or length is larger than the bytes left could hold.
    #[error("count {count} exceeds the {left} bytes left")]
    CountTooLarge {
        /// The count read.
        count: u64,
        /// The bytes left.
        left: usize,
    },
    /// A bool byte is neither 0 nor 1.
    #[error("bool byte is {0}, not 0 or 1")]
    BadBool(u8),
    /// An entry name is not UTF-8.
    #[error("entry name is not UTF-8")]
    BadName,
    /// Bytes follow the root section.
    #[error("{0} bytes follow the root section")]
    TrailingBytes(usize),
    /// An entry name is longer than 255 bytes (encoding).
    #[error("entry name {0:?} is longer than 255 bytes")]
    NameTooLong(String),
    /// A count or length is larger than a varint holds (encoding).
    #[error("{0} is larger than a varint holds")]
    VarintTooLarge(u64),
}

/// What is wrong, and at which byte offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("portable storage at byte offset {offset}: {problem}")]
pub struct StorageError {
    /// The byte offset (in the encoding, when encoding).
    pub offset: usize,
    /// What was wrong.
    pub problem: Problem,
}

/// Appends `v` as an epee varint.
pub fn write_varint(out: &mut Vec<u8>, v: u64) -> Result<(), StorageError> {
    if v > MAX_VARINT {
        return Err(StorageError { offset: out.len(), problem: Problem::VarintTooLarge(v) });
    }
    let raw = v << 2;
    if v < 1 << 6 {
        out.push(raw as u8);
    } else if v < 1 << 14 {
        out.extend_from_slice(&(raw as u16 | 1).to_le_bytes());
    } else if v < 1 << 30 {
        out.extend_from_slice(&(raw as u32 | 2).to_le_bytes());
    } else {
        out.extend_from_slice(&(raw | 3).to_le_bytes());
    }
    Ok(())
}

/// `section` with the portable-storage header, as bytes.
pub fn encode(section: &Section) -> Result<Vec<u8>, StorageError> {
    let mut out = Vec::new();
    out.extend_from_slice(&SIGNATURE_A.to_le_bytes());
    out.extend_from_slice(&SIGNATURE_B.to_le_bytes());
    out.push(FORMAT_VERSION);
    write_section(&mut out, section)?;
    Ok(out)
}

fn write_section(out: &mut Vec<u8>, s: &Section) -> Result<(), StorageError> {
    write_varint(out, s.entries.len() as u64)?;
    for (name, value) in &s.entries {
        let len = u8::try_from(name.len())
            .map_err(|_| StorageError { offset: out.len(), problem: Problem::NameTooLong(name.clone()) })?;
        out.push(len);
        out.extend_from_slice(name.as_bytes());
        write_value(out, value)?;
    }
    Ok(())
}

fn write_value(out: &mut Vec<u8>, v: &Value) -> Result<(), StorageError> {
    macro_rules! fixed {
        ($code:expr, $x:expr) => {{
            out.push($code);
            out.extend_from_slice(&$x.to_le_bytes());
        }};
    }
    match v {
        Value::I64(x) => fixed!(code::I64, x),
        Value::I32(x) => fixed!(code::I32, x),
        Value::I16(x) => fixed!(code::I16, x),
        Value::I8(x) => fixed!(code::I8, x),
        Value::U64(x) => fixed!(code::U64, x),
        Value::U32(x) => fixed!(code::U32, x),
        Value::U16(x) => fixed!(code::U16, x),
        Value::U8(x) => fixed!(code::U8, x),
        Value::F64(x) => fixed!(code::F64, x),
        Value::Bool(x) => fixed!(code::BOOL, u8::from(*x)),
        Value::String(x) => {
            out.push(code::STRING);
            write_string(out, x)?;
        }
        Value::Section(x) => {
            out.push(code::SECTION);
            write_section(out, x)?;
        }
        Value::Array(a) => write_array(out, a)?,
    }
    Ok(())
}

fn write_string(out: &mut Vec<u8>, s: &[u8]) -> Result<(), StorageError> {
    write_varint(out, s.len() as u64)?;
    out.extend_from_slice(s);
    Ok(())
}

fn write_array(out: &mut Vec<u8>, a: &Array) -> Result<(), StorageError> {
    macro_rules! fixed {
        ($code:expr, $items:expr) => {{
            out.push($code | ARRAY_FLAG);
            write_varint(out, $items.len() as u64)?;
            for x in $items {
                out.extend_from_slice(&x.to_le_bytes());
            }
        }};
    }
    match a {
        Array::I64(v) => fixed!(code::I64, v),
        Array::I32(v) => fixed!(code::I32, v),
        Array::I16(v) => fixed!(code::I16, v),
        Array::I8(v) => fixed!(code::I8, v),
        Array::U64(v) => fixed!(code::U64, v),
        Array::U32(v) => fixed!(code::U32, v),
        Array::U16(v) => fixed!(code::U16, v),
        Array::U8(v) => fixed!(code::U8, v),
        Array::F64(v) => fixed!(code::F64, v),
        Array::Bool(v) => fixed!(code::BOOL, v.iter().map(|b| u8::from(*b)).collect::<Vec<_>>()),
        Array::String(v) => {
            out.push(code::STRING | ARRAY_FLAG);
            write_varint(out, v.len() as u64)?;
            for s in v {
                write_string(out, s)?;
            }
        }
        Array::Section(v) => {
            out.push(code::SECTION | ARRAY_FLAG);
            write_varint(out, v.len() as u64)?;
            for s in v {
                write_section(out, s)?;
            }
        }
    }
    Ok(())
}

/// The root section of portable-storage `bytes`, decoded within `limits`.
pub fn decode(bytes: &[u8], limits: Limits) -> Result<Section, StorageError> {
    if bytes.len() > limits.max_size {
        return Err(StorageError {
            offset: limits.max_size,
            problem: Problem::Oversized { size: bytes.len(), limit: limits.max_size },
        });
    }
    let mut r = Reader { bytes, pos: 0, limits, entries: 0 };
    let a = u32::from_le_bytes(r.array::<4>("header")?);
    let b = u32::from_le_bytes(r.array::<4>("header")?);
    let [version] = r.array::<1>("header")?;
    if a != SIGNATURE_A || b != SIGNATURE_B || version != FORMAT_VERSION {
        return Err(StorageError { offset: 0, problem: Problem::BadHeader { a, b, version } });
    }
    debug_assert_eq!(r.pos, HEADER_LEN);
    let root = r.section(1)?;
    if r.pos != bytes.len() {
        return Err(r.err(Problem::TrailingBytes(bytes.len() - r.pos)));
    }
    Ok(root)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    limits: Limits,
    entries: usize,
}

impl Reader<'_> {
    fn err(&self, problem: Problem) -> StorageError {
        StorageError { offset: self.pos, problem }
    }

    fn left(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&[u8], StorageError> {
        if self.left() < n {
            return Err(self.err(Problem::Truncated(what)));
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], StorageError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    fn varint(&mut self) -> Result<u64, StorageError> {
        let first = *self.bytes.get(self.pos).ok_or_else(|| self.err(Problem::BadVarint { width: 1, got: 0 }))?;
        let width = 1usize << (first & 3);
        if self.left() < width {
            return Err(self.err(Problem::BadVarint { width, got: self.left() }));
        }
        let mut raw = [0u8; 8];
        raw[..width].copy_from_slice(&self.bytes[self.pos..self.pos + width]);
        self.pos += width;
        Ok(u64::from_le_bytes(raw) >> 2)
    }

    /// A count of items each at least `min_item` bytes long, checked against the bytes left.
    fn count(&mut self, min_item: usize) -> Result<usize, StorageError> {
        let at = self.pos;
        let count = self.varint()?;
        let left = self.left();
        match usize::try_from(count) {
            Ok(n) if n.saturating_mul(min_item) <= left => Ok(n),
            _ => Err(StorageError { offset: at, problem: Problem::CountTooLarge { count, left } }),
        }
    }

    fn tick(&mut self) -> Result<(), StorageError> {
        self.entries += 1;
        if self.entries > self.limits.max_entries {
            return Err(self.err(Problem::TooManyEntries(self.limits.max_entries)));
        }
        Ok(())
    }

    fn deeper(&self, depth: usize) -> Result<(), StorageError> {
        if depth > self.limits.max_depth {
            return Err(self.err(Problem::TooDeep(self.limits.max_depth)));
        }
        Ok(())
    }

    fn section(&mut self, depth: usize) -> Result<Section, StorageError> {
        self.deeper(depth)?;
        // Each entry takes at least a name length, a type byte and one byte of value.
        let n = self.count(3)?;
        let mut entries = Vec::with_capacity(n);
        for _ in 0..n {
            self.tick()?;
            let [len] = self.array::<1>("entry name length")?;
            let at = self.pos;
            let name = std::str::from_utf8(self.take(len.into(), "entry name")?)
                .map_err(|_| StorageError { offset: at, problem: Problem::BadName })?
                .to_owned();
            let [ty] = self.array::<1>("type byte")?;
            let value = self.value(ty, depth)?;
            entries.push((name, value));
        }
        Ok(Section { entries })
    }

    fn string(&mut self) -> Result<Vec<u8>, StorageError> {
        let n = self.count(1)?;
        Ok(self.take(n, "string")?.to_vec())
    }

    fn bool(&mut self) -> Result<bool, StorageError> {
        match self.array::<1>("bool")? {
            [0] => Ok(false),
            [1] => Ok(true),
            [b] => {
                self.pos -= 1;
                Err(self.err(Problem::BadBool(b)))
            }
        }
    }

    fn value(&mut self, ty: u8, depth: usize) -> Result<Value, StorageError> {
        if ty & ARRAY_FLAG != 0 {
            return Ok(Value::Array(self.array_of(ty & !ARRAY_FLAG, depth + 1)?));
        }
        Ok(match ty {
            code::I64 => Value::I64(i64::from_le_bytes(self.array("int64")?)),
            code::I32 => Value::I32(i32::from_le_bytes(self.array("int32")?)),
            code::I16 => Value::I16(i16::from_le_bytes(self.array("int16")?)),
            code::I8 => Value::I8(i8::from_le_bytes(self.array("int8")?)),
            code::U64 => Value::U64(u64::from_le_bytes(self.array("uint64")?)),
            code::U32 => Value::U32(u32::from_le_bytes(self.array("uint32")?)),
            code::U16 => Value::U16(u16::from_le_bytes(self.array("uint16")?)),
            code::U8 => Value::U8(u8::from_le_bytes(self.array("uint8")?)),
            code::F64 => Value::F64(f64::from_le_bytes(self.array("double")?)),
            code::STRING => Value::String(self.string()?),
            code::BOOL => Value::Bool(self.bool()?),
            code::SECTION => Value::Section(self.section(depth + 1)?),
            // A bare array type is followed by the array's own (flagged) type byte.
            code::ARRAY => {
                let [inner] = self.array::<1>("array type byte")?;
                if inner & ARRAY_FLAG == 0 {
                    self.pos -= 1;
                    return Err(self.err(Problem::UnknownType(inner)));
                }
                Value::Array(self.array_of(inner & !ARRAY_FLAG, depth + 1)?)
            }
            other => {
                self.pos -= 1;
                return Err(self.err(Problem::UnknownType(other)));
            }
        })
    }

    fn array_of(&mut self, ty: u8, depth: usize) -> Result<Array, StorageError> {
        self.deeper(depth)?;
        let type_at = self.pos - 1;
        macro_rules! fixed {
            ($variant:ident, $t:ty, $what:expr) => {{
                let n = self.count(std::mem::size_of::<$t>())?;
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    self.tick()?;
                    v.push(<$t>::from_le_bytes(self.array($what)?));
                }
                Array::$variant(v)
            }};
        }
        macro_rules! each {
            ($variant:ident, $min:expr, $read:expr) => {{
                let n = self.count($min)?;
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    self.tick()?;
                    v.push($read(&mut *self)?);
                }
                Array::$variant(v)
            }};
        }
        Ok(match ty {
            code::I64 => fixed!(I64, i64, "int64"),
            code::I32 => fixed!(I32, i32, "int32"),
            code::I16 => fixed!(I16, i16, "int16"),
            code::I8 => fixed!(I8, i8, "int8"),
            code::U64 => fixed!(U64, u64, "uint64"),
            code::U32 => fixed!(U32, u32, "uint32"),
            code::U16 => fixed!(U16, u16, "uint16"),
            code::U8 => fixed!(U8, u8, "uint8"),
            code::F64 => fixed!(F64, f64, "double"),
            code::BOOL => each!(Bool, 1, |r: &mut Self| r.bool()),
            code::STRING => each!(String, 1, |r: &mut Self| r.string()),
            code::SECTION => each!(Section, 1, |r: &mut Self| r.section(depth + 1)),
            other => return Err(StorageError { offset: type_at, problem: Problem::UnknownType(other | ARRAY_FLAG) }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rich() -> Section {
        let inner = Section::new().with("x", Value::U8(7)).with("s", Value::String(b"hi".to_vec()));
        Section::new()
            .with("i64", Value::I64(-5))
            .with("i32", Value::I32(-70_000))
            .with("i16", Value::I16(-300))
            .with("i8", Value::I8(-1))
            .with("u64", Value::U64(u64::MAX))
            .with("u32", Value::U32(4_000_000_000))
            .with("u16", Value::U16(65_000))
            .with("u8", Value::U8(255))
            .with("f64", Value::F64(1.5))
            .with("str", Value::String(vec![0u8; 300]))
            .with("yes", Value::Bool(true))
            .with("inner", Value::Section(inner.clone()))
            .with("a_u64", Value::Array(Array::U64(vec![1, 2, 3])))
            .with("a_i8", Value::Array(Array::I8(vec![-1, 1])))
            .with("a_bool", Value::Array(Array::Bool(vec![true, false])))
            .with("a_str", Value::Array(Array::String(vec![b"a".to_vec(), vec![]])))
            .with("a_sec", Value::Array(Array::Section(vec![inner, Section::new()])))
            .with("empty", Value::Array(Array::U32(vec![])))
    }

    #[test]
    fn round_trip() {
        let s = rich();
        let bytes = encode(&s).unwrap();
        assert_eq!(decode(&bytes, Limits::default()).unwrap(), s);
    }

    #[test]
    fn known_bytes() {
        let bytes = encode(&Section::new().with("a", Value::U8(1))).unwrap();
        assert_eq!(bytes, [0x01, 0x11, 0x01, 0x01, 0x01, 0x01, 0x02, 0x01, 0x01, 0x04, 0x01, b'a', 0x08, 0x01]);
    }

    #[test]
    fn varint_widths() {
        for (v, width) in
            [(0, 1), (63, 1), (64, 2), (16_383, 2), (16_384, 4), ((1 << 30) - 1, 4), (1 << 30, 8), (MAX_VARINT, 8)]
        {
            let mut out = Vec::new();
            write_varint(&mut out, v).unwrap();
            assert_eq!(out.len(), width, "{v}");
            assert_eq!(out[0] & 3, width.trailing_zeros() as u8);
            let mut r = Reader { bytes: &out, pos: 0, limits: Limits::default(), entries: 0 };
            assert_eq!(r.varint().unwrap(), v);
        }
        let mut out = Vec::new();
        assert_eq!(
            write_varint(&mut out, MAX_VARINT + 1).unwrap_err().problem,
            Problem::VarintTooLarge(MAX_VARINT + 1)
        );
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = encode(&rich()).unwrap();
        for n in 0..bytes.len() {
            assert!(decode(&bytes[..n], Limits::default()).is_err(), "prefix of {n} bytes");
        }
    }

    #[test]
    fn bad_varint() {
        // The root count's first byte announces a 4-byte varint; only 2 bytes follow.
        let bytes = [0x01, 0x11, 0x01, 0x01, 0x01, 0x01, 0x02, 0x01, 0x01, 0x02, 0x00];
        let e = decode(&bytes, Limits::default()).unwrap_err();
        assert_eq!(e, StorageError { offset: 9, problem: Problem::BadVarint { width: 4, got: 2 } });
    }

    #[test]
    fn huge_count() {
        // An 8-byte varint count of 2^61 entries.
        let mut bytes = vec![0x01, 0x11, 0x01, 0x01, 0x01, 0x01, 0x02, 0x01, 0x01];
        bytes.extend_from_slice(&((1u64 << 61) << 2 | 3).to_le_bytes());
        assert!(matches!(decode(&bytes, Limits::default()).unwrap_err().problem, Problem::CountTooLarge { .. }));
    }

    #[test]
    fn unknown_type() {
        let mut bytes = encode(&Section::new().with("a", Value::U8(1))).unwrap();
        bytes[12] = 0x2a;
        assert_eq!(
            decode(&bytes, Limits::default()).unwrap_err(),
            StorageError { offset: 12, problem: Problem::UnknownType(0x2a) }
        );
        bytes[12] = 0x2a | ARRAY_FLAG;
        assert!(matches!(decode(&bytes, Limits::default()).unwrap_err().problem, Problem::UnknownType(_)));
    }

    #[test]
    fn bad_header() {
        let mut bytes = encode(&Section::new()).unwrap();
        bytes[8] = 2;
        assert!(matches!(
            decode(&bytes, Limits::default()).unwrap_err().problem,
            Problem::BadHeader { version: 2, .. }
        ));
    }

    #[test]
    fn too_deep() {
        let mut s = Section::new();
        for _ in 0..10 {
            s = Section::new().with("n", Value::Section(s));
        }
        let bytes = encode(&s).unwrap();
        assert!(decode(&bytes, Limits { max_depth: 11, ..Limits::default() }).is_ok());
        let e = decode(&bytes, Limits { max_depth: 10, ..Limits::default() }).unwrap_err();
        assert_eq!(e.problem, Problem::TooDeep(10));
        // Hand-made nesting far deeper than the default limit: an error, not a stack overflow.
        let mut deep = vec![0x01, 0x11, 0x01, 0x01, 0x01, 0x01, 0x02, 0x01, 0x01];
        for _ in 0..100_000 {
            deep.extend_from_slice(&[0x04, 0x01, b'n', code::SECTION]);
        }
        deep.push(0);
        let e = decode(&deep, Limits { max_size: usize::MAX, ..Limits::default() }).unwrap_err();
        assert_eq!(e.problem, Problem::TooDeep(100));
    }

    #[test]
    fn too_many_entries() {
        let s = Section::new().with("a", Value::Array(Array::U8(vec![0; 100])));
        let bytes = encode(&s).unwrap();
        let e = decode(&bytes, Limits { max_entries: 50, ..Limits::default() }).unwrap_err();
        assert_eq!(e.problem, Problem::TooManyEntries(50));
    }

    #[test]
    fn oversized() {
        let bytes = encode(&Section::new().with("s", Value::String(vec![0; 1000]))).unwrap();
        let e = decode(&bytes, Limits { max_size: 100, ..Limits::default() }).unwrap_err();
        assert_eq!(e.problem, Problem::Oversized { size: bytes.len(), limit: 100 });
    }

    #[test]
    fn bad_bool_and_trailing() {
        let mut bytes = encode(&Section::new().with("b", Value::Bool(true))).unwrap();
        bytes[13] = 2;
        assert_eq!(decode(&bytes, Limits::default()).unwrap_err().problem, Problem::BadBool(2));
        bytes[13] = 1;
        bytes.push(0);
        assert_eq!(decode(&bytes, Limits::default()).unwrap_err().problem, Problem::TrailingBytes(1));
    }

    #[test]
    fn name_too_long() {
        let s = Section::new().with(&"n".repeat(256), Value::U8(0));
        assert!(matches!(encode(&s).unwrap_err().problem, Problem::NameTooLong(_)));
    }

    #[test]
    fn garbage_never_panics() {
        // A cheap deterministic fuzz: mutate a valid encoding byte by byte.
        let bytes = encode(&rich()).unwrap();
        for i in 0..bytes.len() {
            for x in [0x00, 0x01, 0x03, 0x7f, 0x80, 0x8c, 0xff] {
                let mut m = bytes.clone();
                m[i] = x;
                let _ = decode(&m, Limits::default());
            }
        }
    }
}
