//! Encoding primitives.
//!
//! Generated `encode` functions write to any [`Sink`]: `BytesMut` and `Vec<u8>` directly, any other
//! [`bytes::BufMut`] through [`BufSink`], and [`ChunkedSink`], which does not copy large `records` / `bytes`
//! fields: it keeps them as separate [`Bytes`] chunks for a vectored write, so a 1 MiB Produce
//! request costs a header-sized copy, not a megabyte.

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

use crate::decode::{FieldPath, PathSegment};
use crate::types::TaggedField;
use crate::VersionRange;

/// Where encoded bytes go: `BytesMut`, `Vec<u8>`, [`ChunkedSink`], or any [`BufMut`] wrapped in
/// [`BufSink`].
pub trait Sink {
    /// Appends raw bytes.
    fn put_slice(&mut self, b: &[u8]);
    /// Appends a byte.
    fn put_u8(&mut self, v: u8) {
        self.put_slice(&[v]);
    }
    /// Appends an int8.
    fn put_i8(&mut self, v: i8) {
        self.put_slice(&v.to_be_bytes());
    }
    /// Appends an int16, big-endian.
    fn put_i16(&mut self, v: i16) {
        self.put_slice(&v.to_be_bytes());
    }
    /// Appends a uint16, big-endian.
    fn put_u16(&mut self, v: u16) {
        self.put_slice(&v.to_be_bytes());
    }
    /// Appends an int32, big-endian.
    fn put_i32(&mut self, v: i32) {
        self.put_slice(&v.to_be_bytes());
    }
    /// Appends a uint32, big-endian.
    fn put_u32(&mut self, v: u32) {
        self.put_slice(&v.to_be_bytes());
    }
    /// Appends an int64, big-endian.
    fn put_i64(&mut self, v: i64) {
        self.put_slice(&v.to_be_bytes());
    }
    /// Appends a float64, big-endian.
    fn put_f64(&mut self, v: f64) {
        self.put_slice(&v.to_be_bytes());
    }
    /// Appends bytes the sink may keep by reference instead of copying.
    fn put_shared(&mut self, b: &Bytes) {
        self.put_slice(b);
    }
}

// `BytesMut` and `Vec<u8>` get direct impls over their inherent, inlinable `extend_from_slice`:
// going through `BufMut::put_slice` costs a call and a variable-length copy per integer.
macro_rules! direct_sink {
    ($t:ty) => {
        impl Sink for $t {
            #[inline(always)]
            fn put_slice(&mut self, b: &[u8]) {
                self.extend_from_slice(b);
            }
            #[inline(always)]
            fn put_u8(&mut self, v: u8) {
                self.extend_from_slice(&[v]);
            }
            #[inline(always)]
            fn put_i8(&mut self, v: i8) {
                self.extend_from_slice(&v.to_be_bytes());
            }
            #[inline(always)]
            fn put_i16(&mut self, v: i16) {
                self.extend_from_slice(&v.to_be_bytes());
            }
            #[inline(always)]
            fn put_u16(&mut self, v: u16) {
                self.extend_from_slice(&v.to_be_bytes());
            }
            #[inline(always)]
            fn put_i32(&mut self, v: i32) {
                self.extend_from_slice(&v.to_be_bytes());
            }
            #[inline(always)]
            fn put_u32(&mut self, v: u32) {
                self.extend_from_slice(&v.to_be_bytes());
            }
            #[inline(always)]
            fn put_i64(&mut self, v: i64) {
                self.extend_from_slice(&v.to_be_bytes());
            }
            #[inline(always)]
            fn put_f64(&mut self, v: f64) {
                self.extend_from_slice(&v.to_be_bytes());
            }
        }
    };
}

direct_sink!(BytesMut);
direct_sink!(Vec<u8>);

impl<S: Sink + ?Sized> Sink for &mut S {
    #[inline(always)]
    fn put_slice(&mut self, b: &[u8]) {
        (**self).put_slice(b);
    }
    #[inline(always)]
    fn put_u8(&mut self, v: u8) {
        (**self).put_u8(v);
    }
    #[inline(always)]
    fn put_i8(&mut self, v: i8) {
        (**self).put_i8(v);
    }
    #[inline(always)]
    fn put_i16(&mut self, v: i16) {
        (**self).put_i16(v);
    }
    #[inline(always)]
    fn put_u16(&mut self, v: u16) {
        (**self).put_u16(v);
    }
    #[inline(always)]
    fn put_i32(&mut self, v: i32) {
        (**self).put_i32(v);
    }
    #[inline(always)]
    fn put_u32(&mut self, v: u32) {
        (**self).put_u32(v);
    }
    #[inline(always)]
    fn put_i64(&mut self, v: i64) {
        (**self).put_i64(v);
    }
    #[inline(always)]
    fn put_f64(&mut self, v: f64) {
        (**self).put_f64(v);
    }
    #[inline(always)]
    fn put_shared(&mut self, b: &Bytes) {
        (**self).put_shared(b);
    }
}

/// Any other [`BufMut`] as a [`Sink`] (`BytesMut` and `Vec<u8>` are sinks themselves).
#[derive(Debug)]
pub struct BufSink<B>(pub B);

impl<B: BufMut> Sink for BufSink<B> {
    #[inline]
    fn put_slice(&mut self, b: &[u8]) {
        self.0.put_slice(b);
    }
}

/// A sink that keeps shared byte fields of at least `threshold` bytes as their own chunks instead of
/// copying them; [`ChunkedSink::finish`] returns the chunks in order, ready for a vectored write.
#[derive(Debug)]
pub struct ChunkedSink {
    chunks: Vec<Bytes>,
    cur: BytesMut,
    threshold: usize,
}

impl ChunkedSink {
    /// A sink that shares fields of 4 KiB or more.
    pub fn new() -> ChunkedSink {
        ChunkedSink::with_threshold(4096)
    }

    /// A sink that shares fields of `threshold` bytes or more.
    pub fn with_threshold(threshold: usize) -> ChunkedSink {
        ChunkedSink {
            chunks: Vec::new(),
            cur: BytesMut::new(),
            threshold,
        }
    }

    /// Total bytes written so far.
    pub fn len(&self) -> usize {
        self.chunks.iter().map(Bytes::len).sum::<usize>() + self.cur.len()
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The chunks, in order.
    pub fn finish(mut self) -> Vec<Bytes> {
        if !self.cur.is_empty() {
            self.chunks.push(self.cur.freeze());
        }
        self.chunks
    }
}

impl Default for ChunkedSink {
    fn default() -> Self {
        ChunkedSink::new()
    }
}

impl Sink for ChunkedSink {
    #[inline]
    fn put_slice(&mut self, b: &[u8]) {
        self.cur.extend_from_slice(b);
    }

    fn put_shared(&mut self, b: &Bytes) {
        if b.len() < self.threshold {
            self.cur.extend_from_slice(b);
            return;
        }
        if !self.cur.is_empty() {
            self.chunks.push(self.cur.split().freeze());
        }
        self.chunks.push(b.clone());
    }
}

/// What went wrong while encoding.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeErrorKind {
    /// The message does not exist at this version.
    UnsupportedVersion {
        /// Message name.
        message: &'static str,
        /// The version asked for.
        version: i16,
        /// The versions that exist.
        valid: VersionRange,
    },
    /// A field holds a non-default value but does not exist at this version (and is not ignorable).
    FieldNotSupported {
        /// The version asked for.
        version: i16,
    },
    /// A field is null but is not nullable at this version.
    NullNotAllowed {
        /// The version asked for.
        version: i16,
    },
    /// A string or array is longer than its length prefix can say.
    TooLong {
        /// The length.
        len: usize,
        /// The largest allowed.
        max: usize,
    },
    /// The API key is not one this codec knows.
    UnknownApiKey(i16),
}

impl fmt::Display for EncodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnsupportedVersion {
                message,
                version,
                valid,
            } => {
                write!(f, "{message} has no version {version} (valid: {valid})")
            }
            Self::FieldNotSupported { version } => {
                write!(
                    f,
                    "field has a non-default value but does not exist at version {version}"
                )
            }
            Self::NullNotAllowed { version } => {
                write!(f, "field is null but is not nullable at version {version}")
            }
            Self::TooLong { len, max } => write!(f, "length {len} exceeds the maximum {max}"),
            Self::UnknownApiKey(k) => write!(f, "unknown API key {k}"),
        }
    }
}

/// An encoding failure with the field path it happened in.
#[derive(Clone, PartialEq, Eq)]
pub struct EncodeError(Box<(EncodeErrorKind, FieldPath)>);

impl EncodeError {
    /// A new error with an empty path.
    #[cold]
    pub fn new(kind: EncodeErrorKind) -> EncodeError {
        EncodeError(Box::new((kind, FieldPath::default())))
    }

    /// What went wrong.
    pub fn kind(&self) -> &EncodeErrorKind {
        &self.0 .0
    }

    /// The field path.
    pub fn path(&self) -> &FieldPath {
        &self.0 .1
    }

    /// Adds a field name to the path.
    #[cold]
    #[must_use]
    pub fn field(mut self, name: &'static str) -> EncodeError {
        self.0 .1.push(PathSegment::Field(name));
        self
    }

    /// Adds an array index to the path.
    #[cold]
    #[must_use]
    pub fn index(mut self, i: usize) -> EncodeError {
        self.0 .1.push(PathSegment::Index(i));
        self
    }

    /// Adds the message name at the root of the path.
    #[cold]
    #[must_use]
    pub fn root(mut self, name: &'static str) -> EncodeError {
        self.0 .1.push(PathSegment::Root(name));
        self
    }

    /// [`EncodeErrorKind::FieldNotSupported`] for field `name`.
    #[cold]
    pub fn not_supported(name: &'static str, version: i16) -> EncodeError {
        EncodeError::new(EncodeErrorKind::FieldNotSupported { version }).field(name)
    }

    /// [`EncodeErrorKind::NullNotAllowed`] for field `name`.
    #[cold]
    pub fn null_not_allowed(name: &'static str, version: i16) -> EncodeError {
        EncodeError::new(EncodeErrorKind::NullNotAllowed { version }).field(name)
    }
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.path().is_empty() {
            write!(f, "{}: ", self.path())?;
        }
        write!(f, "{}", self.kind())
    }
}

impl fmt::Debug for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EncodeError({self})")
    }
}

impl std::error::Error for EncodeError {}

/// Bytes an unsigned varint takes.
#[inline]
pub const fn uvarint_len(v: u32) -> usize {
    match v {
        0..=0x7f => 1,
        0x80..=0x3fff => 2,
        0x4000..=0x1f_ffff => 3,
        0x20_0000..=0xfff_ffff => 4,
        _ => 5,
    }
}

/// Writes an unsigned varint.
#[inline]
pub fn put_uvarint<S: Sink + ?Sized>(s: &mut S, mut v: u32) {
    if v < 0x80 {
        s.put_u8(v as u8);
        return;
    }
    let mut buf = [0u8; 5];
    let mut n = 0;
    while v >= 0x80 {
        if let Some(slot) = buf.get_mut(n) {
            *slot = (v as u8) | 0x80;
        }
        v >>= 7;
        n += 1;
    }
    if let Some(slot) = buf.get_mut(n) {
        *slot = v as u8;
    }
    s.put_slice(buf.get(..=n).unwrap_or(&[]));
}

/// Writes a zigzag varint.
#[inline]
pub fn put_varint<S: Sink + ?Sized>(s: &mut S, v: i32) {
    put_uvarint(s, ((v << 1) ^ (v >> 31)) as u32);
}

/// Writes an unsigned varlong.
pub fn put_uvarlong<S: Sink + ?Sized>(s: &mut S, mut v: u64) {
    let mut buf = [0u8; 10];
    let mut n = 0;
    while v >= 0x80 {
        if let Some(slot) = buf.get_mut(n) {
            *slot = (v as u8) | 0x80;
        }
        v >>= 7;
        n += 1;
    }
    if let Some(slot) = buf.get_mut(n) {
        *slot = v as u8;
    }
    s.put_slice(buf.get(..=n).unwrap_or(&[]));
}

/// Writes a zigzag varlong.
pub fn put_varlong<S: Sink + ?Sized>(s: &mut S, v: i64) {
    put_uvarlong(s, ((v << 1) ^ (v >> 63)) as u64);
}

/// Writes a length prefix: compact (`n + 1` as unsigned varint, 0 for null), or classic `i16`/`i32`.
#[inline]
fn put_len<S: Sink + ?Sized>(
    s: &mut S,
    len: Option<usize>,
    compact: bool,
    wide: bool,
) -> Result<(), EncodeError> {
    let max = if compact {
        u32::MAX as usize - 1
    } else if wide {
        i32::MAX as usize
    } else {
        i16::MAX as usize
    };
    match len {
        Some(n) if n > max => Err(EncodeError::new(EncodeErrorKind::TooLong { len: n, max })),
        Some(n) if compact => {
            put_uvarint(s, n as u32 + 1);
            Ok(())
        }
        None if compact => {
            put_uvarint(s, 0);
            Ok(())
        }
        Some(n) if wide => {
            s.put_i32(n as i32);
            Ok(())
        }
        None if wide => {
            s.put_i32(-1);
            Ok(())
        }
        Some(n) => {
            s.put_i16(n as i16);
            Ok(())
        }
        None => {
            s.put_i16(-1);
            Ok(())
        }
    }
}

/// Bytes a length prefix takes.
#[inline]
pub const fn len_size(len: Option<usize>, compact: bool, wide: bool) -> usize {
    if compact {
        match len {
            Some(n) => uvarint_len((n as u32).wrapping_add(1)),
            None => 1,
        }
    } else if wide {
        4
    } else {
        2
    }
}

/// Writes a string.
#[inline]
pub fn put_string<S: Sink + ?Sized>(s: &mut S, v: &str, compact: bool) -> Result<(), EncodeError> {
    put_len(s, Some(v.len()), compact, false)?;
    s.put_slice(v.as_bytes());
    Ok(())
}

/// Writes a nullable string.
#[inline]
pub fn put_nullable_string<S: Sink + ?Sized>(
    s: &mut S,
    v: Option<&str>,
    compact: bool,
) -> Result<(), EncodeError> {
    put_len(s, v.map(str::len), compact, false)?;
    if let Some(v) = v {
        s.put_slice(v.as_bytes());
    }
    Ok(())
}

/// Bytes a (nullable) string takes.
#[inline]
pub fn string_size(v: Option<&str>, compact: bool) -> usize {
    len_size(v.map(str::len), compact, false) + v.map_or(0, str::len)
}

/// Writes a byte field; fields are handed to [`Sink::put_shared`] so a chunked sink need not copy.
#[inline]
pub fn put_bytes<S: Sink + ?Sized>(s: &mut S, v: &Bytes, compact: bool) -> Result<(), EncodeError> {
    put_len(s, Some(v.len()), compact, true)?;
    s.put_shared(v);
    Ok(())
}

/// Writes a nullable byte field (also the `records` type).
#[inline]
pub fn put_nullable_bytes<S: Sink + ?Sized>(
    s: &mut S,
    v: Option<&Bytes>,
    compact: bool,
) -> Result<(), EncodeError> {
    put_len(s, v.map(Bytes::len), compact, true)?;
    if let Some(v) = v {
        s.put_shared(v);
    }
    Ok(())
}

/// Bytes a (nullable) byte field takes.
#[inline]
pub fn bytes_size(v: Option<&Bytes>, compact: bool) -> usize {
    len_size(v.map(Bytes::len), compact, true) + v.map_or(0, Bytes::len)
}

/// Writes an array length (`None` for a null array).
#[inline]
pub fn put_array_len<S: Sink + ?Sized>(
    s: &mut S,
    len: Option<usize>,
    compact: bool,
) -> Result<(), EncodeError> {
    put_len(s, len, compact, true)
}

/// Bytes an array length takes.
#[inline]
pub const fn array_len_size(len: Option<usize>, compact: bool) -> usize {
    len_size(len, compact, true)
}

/// Writes an unknown tagged field as it was received.
#[inline]
pub fn put_raw_tagged<S: Sink + ?Sized>(s: &mut S, f: &TaggedField) {
    put_uvarint(s, f.tag);
    put_uvarint(s, f.data.len() as u32);
    s.put_slice(&f.data);
}

/// Bytes an unknown tagged field takes.
#[inline]
pub fn raw_tagged_size(f: &TaggedField) -> usize {
    uvarint_len(f.tag) + uvarint_len(f.data.len() as u32) + f.data.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Decoder;

    #[test]
    fn varints_round_trip_at_the_edges() {
        for v in [
            0u32,
            1,
            127,
            128,
            16383,
            16384,
            2_097_151,
            2_097_152,
            268_435_455,
            u32::MAX,
        ] {
            let mut b = Vec::new();
            put_uvarint(&mut b, v);
            assert_eq!(b.len(), uvarint_len(v), "{v}");
            let bytes = Bytes::from(b);
            assert_eq!(Decoder::new(&bytes).uvarint().unwrap(), v);
        }
        for v in [0i64, -1, 1, i64::MIN, i64::MAX, 300, -300] {
            let mut b = Vec::new();
            put_varlong(&mut b, v);
            let bytes = Bytes::from(b);
            assert_eq!(Decoder::new(&bytes).varlong().unwrap(), v);
        }
        let mut b = Vec::new();
        put_varint(&mut b, 150);
        assert_eq!(b, vec![0xac, 0x02]);
    }

    #[test]
    fn classic_string_longer_than_i16_is_an_error() {
        let long = "x".repeat(40_000);
        let mut b = Vec::new();
        let e = put_string(&mut b, &long, false).unwrap_err();
        assert_eq!(
            e.kind(),
            &EncodeErrorKind::TooLong {
                len: 40_000,
                max: 32767
            }
        );
        put_string(&mut b, &long, true).unwrap();
        assert_eq!(b.len(), string_size(Some(&long), true));
    }

    #[test]
    fn chunked_sink_shares_large_fields() {
        let big = Bytes::from(vec![7u8; 10_000]);
        let mut s = ChunkedSink::new();
        s.put_i32(1);
        put_bytes(&mut s, &big, false).unwrap();
        s.put_i16(2);
        let chunks = s.finish();
        assert_eq!(chunks.len(), 3);
        // The middle chunk is the caller's allocation, not a copy.
        assert_eq!(chunks[1].as_ptr(), big.as_ptr());
        assert_eq!(&chunks[0][..], &[0, 0, 0, 1, 0, 0, 0x27, 0x10]);
    }
}
