//! Decoding primitives over a complete frame.
//!
//! A [`Decoder`] walks a [`Bytes`] frame that is already complete (framing, and "need more bytes",
//! is the job of [`crate::frame`]). Fixed-width numbers are parsed with `nom::number::complete`;
//! strings, byte fields and records are zero-copy slices of the frame. Every length prefix is
//! checked against the bytes that remain before anything is allocated, and arrays may not claim
//! more elements than there are bytes left (every element of every array in the specs takes at
//! least one byte, which the generator verifies).
//!
//! Errors are [`DecodeError`]s: a [`DecodeErrorKind`], the byte offset where decoding stopped, and
//! the field path (`MetadataResponse.topics[3].partitions`) added as the error travels up through
//! the generated code. Building the path costs nothing on the success path.

use std::fmt;

use bytes::Bytes;

use crate::types::{I32s, KStr, TaggedField, TaggedFields, Uuid};

/// What went wrong while decoding.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The input ended inside a value.
    UnexpectedEof {
        /// Bytes the value needed.
        needed: usize,
        /// Bytes that were left.
        remaining: usize,
    },
    /// A length prefix claims more bytes or elements than the input holds.
    LengthExceedsInput {
        /// The claimed length.
        length: u64,
        /// Bytes that were left.
        remaining: usize,
    },
    /// A length prefix is negative (other than the `-1` of a null where null is allowed).
    InvalidLength(i64),
    /// A null where the field is not nullable at this version.
    UnexpectedNull,
    /// A string is not valid UTF-8.
    InvalidUtf8,
    /// A varint runs past its maximum width.
    VarintTooLong,
    /// The version is not one the message defines.
    UnsupportedVersion {
        /// Message name.
        message: &'static str,
        /// The version asked for.
        version: i16,
    },
    /// The API key is not one this codec knows.
    UnknownApiKey(i16),
    /// Bytes are left after a complete message.
    TrailingBytes(usize),
    /// A frame's length prefix exceeds the configured maximum.
    FrameTooLarge {
        /// The size the frame claims.
        size: i64,
        /// The maximum accepted.
        max: usize,
    },
    /// A tagged field's value did not fill exactly its declared size.
    TaggedFieldSize {
        /// The tag.
        tag: u32,
        /// Declared size.
        declared: usize,
        /// Bytes actually decoded.
        used: usize,
    },
}

impl fmt::Display for DecodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnexpectedEof { needed, remaining } => {
                write!(
                    f,
                    "input ends early: needed {needed} bytes, {remaining} left"
                )
            }
            Self::LengthExceedsInput { length, remaining } => {
                write!(f, "length {length} exceeds the {remaining} bytes left")
            }
            Self::InvalidLength(n) => write!(f, "invalid length {n}"),
            Self::UnexpectedNull => f.write_str("null is not allowed here at this version"),
            Self::InvalidUtf8 => f.write_str("string is not valid UTF-8"),
            Self::VarintTooLong => f.write_str("varint is too long"),
            Self::UnsupportedVersion { message, version } => {
                write!(f, "{message} has no version {version}")
            }
            Self::UnknownApiKey(k) => write!(f, "unknown API key {k}"),
            Self::TrailingBytes(n) => write!(f, "{n} bytes left after the message"),
            Self::FrameTooLarge { size, max } => {
                write!(f, "frame of {size} bytes exceeds the maximum of {max}")
            }
            Self::TaggedFieldSize {
                tag,
                declared,
                used,
            } => {
                write!(
                    f,
                    "tagged field {tag} declared {declared} bytes but its value used {used}"
                )
            }
        }
    }
}

/// One step of a field path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathSegment {
    /// The message (or struct) name at the root.
    Root(&'static str),
    /// A field name.
    Field(&'static str),
    /// An array index.
    Index(usize),
    /// A tagged field by number.
    Tag(u32),
}

/// A field path, innermost segment first while it is being built.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct FieldPath(Vec<PathSegment>);

impl FieldPath {
    pub(crate) fn push(&mut self, s: PathSegment) {
        self.0.push(s);
    }

    /// The segments, outermost first.
    pub fn segments(&self) -> impl Iterator<Item = &PathSegment> {
        self.0.iter().rev()
    }

    /// Whether the path has no segment.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for s in self.segments() {
            match s {
                PathSegment::Root(n) => f.write_str(n)?,
                PathSegment::Field(n) if first => f.write_str(n)?,
                PathSegment::Field(n) => write!(f, ".{n}")?,
                PathSegment::Index(i) => write!(f, "[{i}]")?,
                PathSegment::Tag(t) => write!(f, "<tag {t}>")?,
            }
            first = false;
        }
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Inner {
    kind: DecodeErrorKind,
    offset: usize,
    path: FieldPath,
}

/// A decoding failure: what, where (byte offset from the start of the input) and in which field.
#[derive(Clone, PartialEq, Eq)]
pub struct DecodeError(Box<Inner>);

impl DecodeError {
    /// A new error at `offset` with an empty path.
    #[cold]
    pub fn new(kind: DecodeErrorKind, offset: usize) -> DecodeError {
        DecodeError(Box::new(Inner {
            kind,
            offset,
            path: FieldPath::default(),
        }))
    }

    /// What went wrong.
    pub fn kind(&self) -> &DecodeErrorKind {
        &self.0.kind
    }

    /// Byte offset from the start of the decoded input.
    pub fn offset(&self) -> usize {
        self.0.offset
    }

    /// The field path, e.g. `MetadataResponse.topics[3].partitions`.
    pub fn path(&self) -> &FieldPath {
        &self.0.path
    }

    /// Adds a field name to the path (called while the error travels outwards).
    #[cold]
    #[must_use]
    pub fn field(mut self, name: &'static str) -> DecodeError {
        self.0.path.push(PathSegment::Field(name));
        self
    }

    /// Adds an array index to the path.
    #[cold]
    #[must_use]
    pub fn index(mut self, i: usize) -> DecodeError {
        self.0.path.push(PathSegment::Index(i));
        self
    }

    /// Adds a tag number to the path.
    #[cold]
    #[must_use]
    pub fn tag(mut self, t: u32) -> DecodeError {
        self.0.path.push(PathSegment::Tag(t));
        self
    }

    /// Adds the message name at the root of the path.
    #[cold]
    #[must_use]
    pub fn root(mut self, name: &'static str) -> DecodeError {
        self.0.path.push(PathSegment::Root(name));
        self
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.0.path.is_empty() {
            write!(f, "{}: ", self.0.path)?;
        }
        write!(f, "{} (at byte {})", self.0.kind, self.0.offset)
    }
}

impl fmt::Debug for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DecodeError({self})")
    }
}

impl std::error::Error for DecodeError {}

type NomErr<'a> = nom::error::Error<&'a [u8]>;

/// The fixed-width number parsers, as nom parsers over complete input (the contract of
/// `nom::number::complete`: `Err::Error` with `ErrorKind::Eof` when the input is short, never
/// `Incomplete`). They are built on `from_be_bytes` because nom 8's own `be_*` parsers assemble
/// the integer byte by byte and are not inlined; callgrind counted them at a third of the
/// instructions of a ListOffsets decode. A test checks they agree with `nom::number::complete`
/// on every input.
pub mod num {
    use nom::error::{ErrorKind, ParseError};
    use nom::IResult;

    macro_rules! be {
        ($name:ident, $t:ty, $n:expr) => {
            #[doc = concat!("A big-endian `", stringify!($t), "`.")]
            #[inline(always)]
            pub fn $name<'a, E: ParseError<&'a [u8]>>(input: &'a [u8]) -> IResult<&'a [u8], $t, E> {
                match input.split_first_chunk::<$n>() {
                    Some((b, rest)) => Ok((rest, <$t>::from_be_bytes(*b))),
                    None => Err(nom::Err::Error(E::from_error_kind(input, ErrorKind::Eof))),
                }
            }
        };
    }

    be!(be_i8, i8, 1);
    be!(be_u8, u8, 1);
    be!(be_i16, i16, 2);
    be!(be_u16, u16, 2);
    be!(be_i32, i32, 4);
    be!(be_u32, u32, 4);
    be!(be_i64, i64, 8);
    be!(be_f64, f64, 8);
}

/// The most an array reserves before its elements have decoded (1 MiB); beyond that it grows as
/// elements arrive, so a length prefix cannot make the decoder reserve memory out of proportion
/// to the input.
const MAX_PREALLOC: usize = 1 << 20;

macro_rules! fixed {
    ($(#[$m:meta])* $name:ident, $t:ty, $parser:ident, $n:expr) => {
        $(#[$m])*
        #[inline]
        pub fn $name(&mut self) -> Result<$t, DecodeError> {
            match num::$parser::<NomErr<'_>>(self.rest) {
                Ok((rest, v)) => {
                    self.rest = rest;
                    Ok(v)
                }
                Err(_) => Err(self.eof($n)),
            }
        }
    };
}

/// Up to four int32s (`len` of them, `bytes` holding exactly `4 * len`), stored inline.
#[inline(always)]
fn small_i32s(bytes: &[u8], len: usize) -> I32s {
    let mut buf = [0i32; 4];
    let (chunks, _) = bytes.as_chunks::<4>();
    for (slot, c) in buf.iter_mut().zip(chunks) {
        *slot = i32::from_be_bytes(*c);
    }
    // `len` is at most 4 (the inline capacity), checked by both callers.
    I32s::from_buf_and_len(buf, len.min(4))
}

/// A cursor over a complete frame (or any complete slice of one).
#[derive(Debug, Clone)]
pub struct Decoder<'a> {
    src: &'a Bytes,
    /// The undecoded tail of `src`.
    rest: &'a [u8],
    base: usize,
}

impl<'a> Decoder<'a> {
    /// A decoder at the start of `src`.
    pub fn new(src: &'a Bytes) -> Decoder<'a> {
        Decoder {
            src,
            rest: src,
            base: 0,
        }
    }

    /// A decoder over `src` whose error offsets start at `base` (for nested sections).
    pub fn with_base(src: &'a Bytes, base: usize) -> Decoder<'a> {
        Decoder {
            src,
            rest: src,
            base,
        }
    }

    /// Offset from the start of the outermost input.
    #[inline]
    pub fn offset(&self) -> usize {
        self.base + self.pos()
    }

    /// Bytes decoded so far.
    #[inline(always)]
    fn pos(&self) -> usize {
        self.src.len() - self.rest.len()
    }

    /// Bytes not decoded yet.
    #[inline]
    pub fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// The undecoded bytes.
    #[inline]
    pub fn rest(&self) -> &'a [u8] {
        self.rest
    }

    #[cold]
    fn eof(&self, needed: usize) -> DecodeError {
        self.err(DecodeErrorKind::UnexpectedEof {
            needed,
            remaining: self.remaining(),
        })
    }

    /// An error of `kind` at the current offset.
    #[cold]
    pub fn err(&self, kind: DecodeErrorKind) -> DecodeError {
        DecodeError::new(kind, self.offset())
    }

    fixed!(/// An int8.
        i8, i8, be_i8, 1);
    fixed!(/// A uint8.
        u8, u8, be_u8, 1);
    fixed!(/// An int16, big-endian.
        i16, i16, be_i16, 2);
    fixed!(/// A uint16, big-endian.
        u16, u16, be_u16, 2);
    fixed!(/// An int32, big-endian.
        i32, i32, be_i32, 4);
    fixed!(/// A uint32, big-endian.
        u32, u32, be_u32, 4);
    fixed!(/// An int64, big-endian.
        i64, i64, be_i64, 8);
    fixed!(/// A float64, IEEE 754 big-endian.
        f64, f64, be_f64, 8);

    /// A boolean (any non-zero byte is true, as in Kafka's Java reader).
    #[inline]
    pub fn bool(&mut self) -> Result<bool, DecodeError> {
        Ok(self.u8()? != 0)
    }

    /// An unsigned varint of at most 32 bits (5 bytes).
    #[inline]
    pub fn uvarint(&mut self) -> Result<u32, DecodeError> {
        // Most varints (lengths, counts, tag sections) fit in one byte.
        if let Some((&b, tail)) = self.rest.split_first() {
            if b < 0x80 {
                self.rest = tail;
                return Ok(u32::from(b));
            }
        }
        self.uvarint_long()
    }

    #[inline(never)]
    fn uvarint_long(&mut self) -> Result<u32, DecodeError> {
        let rest = self.rest;
        let mut value: u32 = 0;
        for i in 0..5 {
            let Some(&b) = rest.get(i) else {
                return Err(self.eof(i + 1));
            };
            if i == 4 && b > 0x0f {
                return Err(self.err(DecodeErrorKind::VarintTooLong));
            }
            value |= u32::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                self.rest = rest.get(i + 1..).unwrap_or_default();
                return Ok(value);
            }
        }
        Err(self.err(DecodeErrorKind::VarintTooLong))
    }

    /// An unsigned varlong of at most 64 bits (10 bytes).
    #[inline]
    pub fn uvarlong(&mut self) -> Result<u64, DecodeError> {
        let rest = self.rest;
        let mut value: u64 = 0;
        for i in 0..10 {
            let Some(&b) = rest.get(i) else {
                return Err(self.eof(i + 1));
            };
            if i == 9 && b > 0x01 {
                return Err(self.err(DecodeErrorKind::VarintTooLong));
            }
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                self.rest = rest.get(i + 1..).unwrap_or_default();
                return Ok(value);
            }
        }
        Err(self.err(DecodeErrorKind::VarintTooLong))
    }

    /// A zigzag-encoded signed varint (32 bits).
    #[inline]
    pub fn varint(&mut self) -> Result<i32, DecodeError> {
        let u = self.uvarint()?;
        Ok(((u >> 1) as i32) ^ -((u & 1) as i32))
    }

    /// A zigzag-encoded signed varlong (64 bits).
    #[inline]
    pub fn varlong(&mut self) -> Result<i64, DecodeError> {
        let u = self.uvarlong()?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }

    /// A UUID (16 bytes).
    #[inline]
    pub fn uuid(&mut self) -> Result<Uuid, DecodeError> {
        let Some((b, tail)) = self.rest.split_first_chunk::<16>() else {
            return Err(self.eof(16));
        };
        self.rest = tail;
        Ok(Uuid(*b))
    }

    /// The next `len` bytes as a slice of the frame (no copy).
    #[inline]
    pub fn take(&mut self, len: usize) -> Result<Bytes, DecodeError> {
        if len > self.remaining() {
            return Err(self.err(DecodeErrorKind::LengthExceedsInput {
                length: len as u64,
                remaining: self.remaining(),
            }));
        }
        let pos = self.pos();
        let out = self.src.slice(pos..pos + len);
        self.rest = self.rest.get(len..).unwrap_or_default();
        Ok(out)
    }

    /// Skips `len` bytes.
    pub fn skip(&mut self, len: usize) -> Result<(), DecodeError> {
        if len > self.remaining() {
            return Err(self.err(DecodeErrorKind::LengthExceedsInput {
                length: len as u64,
                remaining: self.remaining(),
            }));
        }
        self.rest = self.rest.get(len..).unwrap_or_default();
        Ok(())
    }

    /// A length prefix: `i16`/`i32` classic or unsigned varint (`n + 1`) compact. `None` is null.
    #[inline(always)]
    fn length(&mut self, compact: bool, wide: bool) -> Result<Option<usize>, DecodeError> {
        let n: i64 = if compact {
            i64::from(self.uvarint()?) - 1
        } else if wide {
            i64::from(self.i32()?)
        } else {
            i64::from(self.i16()?)
        };
        if n == -1 {
            return Ok(None);
        }
        if n < 0 {
            return Err(self.err(DecodeErrorKind::InvalidLength(n)));
        }
        let n = n as u64;
        if n > self.remaining() as u64 {
            return Err(self.err(DecodeErrorKind::LengthExceedsInput {
                length: n,
                remaining: self.remaining(),
            }));
        }
        Ok(Some(n as usize))
    }

    #[inline]
    fn non_null(&self, len: Option<usize>) -> Result<usize, DecodeError> {
        len.ok_or_else(|| self.err(DecodeErrorKind::UnexpectedNull))
    }

    #[inline(always)]
    fn str_of(&mut self, len: usize) -> Result<KStr, DecodeError> {
        if len == 0 {
            return Ok(KStr::new());
        }
        let at = self.offset();
        let b = self.take(len)?;
        KStr::try_from(b).map_err(|_| DecodeError::new(DecodeErrorKind::InvalidUtf8, at))
    }

    /// A string (classic `i16` or compact length).
    #[inline]
    pub fn string(&mut self, compact: bool) -> Result<KStr, DecodeError> {
        let len = self.length(compact, false)?;
        let len = self.non_null(len)?;
        self.str_of(len)
    }

    /// A nullable string.
    #[inline]
    pub fn nullable_string(&mut self, compact: bool) -> Result<Option<KStr>, DecodeError> {
        match self.length(compact, false)? {
            None => Ok(None),
            Some(len) => self.str_of(len).map(Some),
        }
    }

    /// A byte field (classic `i32` or compact length), sliced from the frame.
    #[inline]
    pub fn bytes(&mut self, compact: bool) -> Result<Bytes, DecodeError> {
        let len = self.length(compact, true)?;
        let len = self.non_null(len)?;
        self.take(len)
    }

    /// A nullable byte field (also the `records` type).
    #[inline]
    pub fn nullable_bytes(&mut self, compact: bool) -> Result<Option<Bytes>, DecodeError> {
        match self.length(compact, true)? {
            None => Ok(None),
            Some(len) => self.take(len).map(Some),
        }
    }

    /// An array whose elements are decoded by `f`; the index is added to an element's error path.
    #[inline]
    pub fn array<T>(
        &mut self,
        compact: bool,
        mut f: impl FnMut(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<Vec<T>, DecodeError> {
        let len = self.length(compact, true)?;
        let len = self.non_null(len)?;
        // `len` is at most the bytes left (every element takes at least one byte), but an element
        // can be far larger in memory than on the wire: cap what is reserved up front.
        let mut out = Vec::with_capacity(len.min(MAX_PREALLOC / std::mem::size_of::<T>().max(1)));
        for i in 0..len {
            out.push(f(self).map_err(|e| e.index(i))?);
        }
        Ok(out)
    }

    /// An int32 array (inline up to four elements).
    #[inline(always)]
    pub fn i32_array(&mut self, compact: bool) -> Result<I32s, DecodeError> {
        // The common case (replica lists, ISRs): a compact length of at most four elements in
        // one byte, and the elements present. Built in place, without `SmallVec::extend`'s
        // per-element capacity checks; anything else takes the general path.
        if compact {
            if let Some((&b, tail)) = self.rest.split_first() {
                if (1..=5).contains(&b) {
                    let len = usize::from(b - 1);
                    if let Some((bytes, tail)) = tail.split_at_checked(len * 4) {
                        self.rest = tail;
                        return Ok(small_i32s(bytes, len));
                    }
                }
            }
        }
        self.i32_array_general(compact)
    }

    #[inline(never)]
    fn i32_array_general(&mut self, compact: bool) -> Result<I32s, DecodeError> {
        let len = self.length(compact, true)?;
        let len = self.non_null(len)?;
        self.i32_elements(len)
    }

    /// A nullable int32 array.
    #[inline]
    pub fn nullable_i32_array(&mut self, compact: bool) -> Result<Option<I32s>, DecodeError> {
        match self.length(compact, true)? {
            None => Ok(None),
            Some(len) => self.i32_elements(len).map(Some),
        }
    }

    #[inline]
    fn i32_elements(&mut self, len: usize) -> Result<I32s, DecodeError> {
        let Some((bytes, tail)) = self.rest.split_at_checked(len.saturating_mul(4)) else {
            return Err(self.err(DecodeErrorKind::LengthExceedsInput {
                length: (len as u64).saturating_mul(4),
                remaining: self.remaining(),
            }));
        };
        self.rest = tail;
        if len <= 4 {
            return Ok(small_i32s(bytes, len));
        }
        let (chunks, _) = bytes.as_chunks::<4>();
        Ok(I32s::from_vec(
            chunks.iter().map(|c| i32::from_be_bytes(*c)).collect(),
        ))
    }

    /// A nullable array.
    #[inline]
    pub fn nullable_array<T>(
        &mut self,
        compact: bool,
        f: impl FnMut(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<Option<Vec<T>>, DecodeError> {
        let start = self.rest;
        match self.length(compact, true)? {
            None => Ok(None),
            Some(_) => {
                self.rest = start;
                self.array(compact, f).map(Some)
            }
        }
    }

    /// Reads a tagged-field section: `known(tag, decoder)` decodes a known tag from a decoder
    /// limited to the field's bytes and returns `false` for a tag it does not know, which is then
    /// kept in `unknown`.
    #[inline]
    pub fn tagged_fields(
        &mut self,
        unknown: &mut TaggedFields,
        known: impl FnMut(u32, &mut Decoder<'_>) -> Result<bool, DecodeError>,
    ) -> Result<(), DecodeError> {
        // The common case: an empty section (a single 0 byte).
        if let Some((&0, tail)) = self.rest.split_first() {
            self.rest = tail;
            return Ok(());
        }
        self.tagged_fields_present(unknown, known)
    }

    #[inline(never)]
    fn tagged_fields_present(
        &mut self,
        unknown: &mut TaggedFields,
        mut known: impl FnMut(u32, &mut Decoder<'_>) -> Result<bool, DecodeError>,
    ) -> Result<(), DecodeError> {
        let count = self.uvarint()?;
        if count as usize > self.remaining() {
            return Err(self.err(DecodeErrorKind::LengthExceedsInput {
                length: u64::from(count),
                remaining: self.remaining(),
            }));
        }
        for _ in 0..count {
            let tag = self.uvarint()?;
            let size = self.uvarint()? as usize;
            let at = self.offset();
            let data = self.take(size).map_err(|e| e.tag(tag))?;
            let mut sub = Decoder::with_base(&data, at);
            if known(tag, &mut sub).map_err(|e| e.tag(tag))? {
                if sub.remaining() != 0 {
                    return Err(DecodeError::new(
                        DecodeErrorKind::TaggedFieldSize {
                            tag,
                            declared: size,
                            used: sub.pos(),
                        },
                        at,
                    ));
                }
            } else {
                unknown.push(TaggedField { tag, data });
            }
        }
        Ok(())
    }

    /// Fails with [`DecodeErrorKind::TrailingBytes`] unless the input is used up.
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(self.err(DecodeErrorKind::TrailingBytes(n))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_parsers_agree_with_nom_complete() {
        use nom::number::complete as nc;
        type E<'a> = nom::error::Error<&'a [u8]>;
        let data: Vec<u8> = (0u8..12)
            .map(|i| i.wrapping_mul(37).wrapping_add(0xf1))
            .collect();
        for len in 0..=data.len() {
            let inp = &data[..len];
            assert_eq!(num::be_i8::<E<'_>>(inp), nc::be_i8::<_, E<'_>>(inp));
            assert_eq!(num::be_u8::<E<'_>>(inp), nc::be_u8::<_, E<'_>>(inp));
            assert_eq!(num::be_i16::<E<'_>>(inp), nc::be_i16::<_, E<'_>>(inp));
            assert_eq!(num::be_u16::<E<'_>>(inp), nc::be_u16::<_, E<'_>>(inp));
            assert_eq!(num::be_i32::<E<'_>>(inp), nc::be_i32::<_, E<'_>>(inp));
            assert_eq!(num::be_u32::<E<'_>>(inp), nc::be_u32::<_, E<'_>>(inp));
            assert_eq!(num::be_i64::<E<'_>>(inp), nc::be_i64::<_, E<'_>>(inp));
            let ours = num::be_f64::<E<'_>>(inp).map(|(r, v)| (r, v.to_bits()));
            let theirs = nc::be_f64::<_, E<'_>>(inp).map(|(r, v)| (r, v.to_bits()));
            assert_eq!(ours, theirs);
        }
    }

    fn dec(b: &'static [u8]) -> Bytes {
        Bytes::from_static(b)
    }

    #[test]
    fn fixed_width_and_eof() {
        let b = dec(&[0x00, 0x01, 0xff, 0xff, 0xff, 0xfe, 0x7f]);
        let mut d = Decoder::new(&b);
        assert_eq!(d.i16().unwrap(), 1);
        assert_eq!(d.i32().unwrap(), -2);
        let e = d.i16().unwrap_err();
        assert_eq!(
            e.kind(),
            &DecodeErrorKind::UnexpectedEof {
                needed: 2,
                remaining: 1
            }
        );
        assert_eq!(e.offset(), 6);
        assert_eq!(d.i8().unwrap(), 0x7f);
    }

    #[test]
    fn varints_match_known_encodings() {
        // Zigzag: 0 -> 0, -1 -> 1, 1 -> 2, -2 -> 3, 150 -> 300 = [0xac, 0x02].
        let b = dec(&[0x00, 0x01, 0x02, 0x03, 0xac, 0x02]);
        let mut d = Decoder::new(&b);
        let got: Vec<i32> = (0..5).map(|_| d.varint().unwrap()).collect();
        assert_eq!(got, vec![0, -1, 1, -2, 150]);
        let b = dec(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert_eq!(Decoder::new(&b).uvarint().unwrap(), u32::MAX);
        let b = dec(&[0xff, 0xff, 0xff, 0xff, 0x1f]);
        assert_eq!(
            *Decoder::new(&b).uvarint().unwrap_err().kind(),
            DecodeErrorKind::VarintTooLong
        );
        let b = dec(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
        assert_eq!(Decoder::new(&b).uvarlong().unwrap(), u64::MAX);
        assert_eq!(Decoder::new(&b).varlong().unwrap(), i64::MIN);
        let b = dec(&[0x80]);
        assert!(Decoder::new(&b).uvarint().is_err());
    }

    #[test]
    fn strings_and_nulls() {
        let b = dec(&[0x00, 0x02, b'h', b'i', 0xff, 0xff, 0x03, b'o', b'k', 0x00]);
        let mut d = Decoder::new(&b);
        assert_eq!(&*d.string(false).unwrap(), "hi");
        assert_eq!(d.nullable_string(false).unwrap(), None);
        assert_eq!(d.nullable_string(true).unwrap().as_deref(), Some("ok"));
        let e = d.string(true).unwrap_err();
        assert_eq!(e.kind(), &DecodeErrorKind::UnexpectedNull);
    }

    #[test]
    fn huge_lengths_fail_before_allocating() {
        // An array claiming 2^31-1 elements in a 10-byte input.
        let b = dec(&[0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0]);
        let e = Decoder::new(&b).array(false, |d| d.i8()).unwrap_err();
        assert!(matches!(
            e.kind(),
            DecodeErrorKind::LengthExceedsInput {
                length: 2147483647,
                ..
            }
        ));
        let b = dec(&[0xff, 0xff, 0xff, 0xfe]);
        let e = Decoder::new(&b).bytes(false).unwrap_err();
        assert_eq!(e.kind(), &DecodeErrorKind::InvalidLength(-2));
        let b = dec(&[0x00, 0x02, 0xc3, 0x28]);
        let e = Decoder::new(&b).string(false).unwrap_err();
        assert_eq!(e.kind(), &DecodeErrorKind::InvalidUtf8);
    }

    #[test]
    fn i32_arrays_of_every_small_length() {
        for n in 0..=6usize {
            let vals: Vec<i32> = (0..n as i32).map(|i| i * 1_000_003 - 7).collect();
            let body: Vec<u8> = vals.iter().flat_map(|v| v.to_be_bytes()).collect();
            let mut compact = vec![n as u8 + 1];
            compact.extend_from_slice(&body);
            let mut classic = (n as i32).to_be_bytes().to_vec();
            classic.extend_from_slice(&body);
            for (input, is_compact) in [(compact, true), (classic, false)] {
                let b = Bytes::from(input.clone());
                let mut d = Decoder::new(&b);
                assert_eq!(d.i32_array(is_compact).unwrap().as_slice(), &vals[..]);
                d.finish().unwrap();
                let mut d = Decoder::new(&b);
                let got = d.nullable_i32_array(is_compact).unwrap().unwrap();
                assert_eq!(got.as_slice(), &vals[..]);
                // Every truncation is an error, never a short array.
                for cut in 0..input.len() {
                    let b = Bytes::from(input[..cut].to_vec());
                    assert!(Decoder::new(&b).i32_array(is_compact).is_err());
                }
            }
        }
        let b = dec(&[0x00]);
        let e = Decoder::new(&b).i32_array(true).unwrap_err();
        assert_eq!(e.kind(), &DecodeErrorKind::UnexpectedNull);
        assert_eq!(Decoder::new(&b).nullable_i32_array(true).unwrap(), None);
    }

    #[test]
    fn error_paths_render_outermost_first() {
        let e = DecodeError::new(DecodeErrorKind::InvalidUtf8, 9)
            .field("partitions")
            .index(3)
            .field("topics")
            .root("MetadataResponse");
        assert_eq!(
            e.to_string(),
            "MetadataResponse.topics[3].partitions: string is not valid UTF-8 (at byte 9)"
        );
    }

    #[test]
    fn tagged_fields_keep_unknown_and_check_sizes() {
        // Two fields: tag 0 (known, i16 = 7), tag 5 (unknown, 3 bytes).
        let b = dec(&[0x02, 0x00, 0x02, 0x00, 0x07, 0x05, 0x03, 1, 2, 3]);
        let mut d = Decoder::new(&b);
        let mut unknown = TaggedFields::new();
        let mut seen = 0;
        d.tagged_fields(&mut unknown, |tag, sub| {
            if tag == 0 {
                seen = sub.i16()?;
                Ok(true)
            } else {
                Ok(false)
            }
        })
        .unwrap();
        assert_eq!(seen, 7);
        assert_eq!(
            unknown,
            TaggedFields::from(vec![TaggedField {
                tag: 5,
                data: Bytes::from_static(&[1, 2, 3])
            }])
        );
        d.finish().unwrap();
        // A known field whose value is shorter than its declared size.
        let b = dec(&[0x01, 0x00, 0x03, 0x00, 0x07, 0x00]);
        let e = Decoder::new(&b)
            .tagged_fields(&mut TaggedFields::new(), |_, sub| sub.i16().map(|_| true))
            .unwrap_err();
        assert!(matches!(
            e.kind(),
            DecodeErrorKind::TaggedFieldSize {
                tag: 0,
                declared: 3,
                used: 2
            }
        ));
    }
}
