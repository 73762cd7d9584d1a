//! Records inside a batch: the lazy [`Records`] iterator and the borrowed [`Record`] / [`Header`].
//!
//! A magic-2 record:
//!
//! ```text
//! length: varint            (bytes after this field)
//! attributes: int8          (unused, 0)
//! timestampDelta: varlong
//! offsetDelta: varint
//! keyLength: varint, key    (-1 = null)
//! valueLength: varint, value (-1 = null)
//! headerCount: varint
//! headers: [keyLength: varint, key (UTF-8, not null), valueLength: varint, value (-1 = null)]
//! ```

use bytes::Bytes;

use super::control::ControlRecord;
use super::error::{RecordError, RecordErrorKind};
use super::legacy::LegacyEntry;
use super::varint::{read_varint, read_zigzag_at, short_zigzag_at};

/// A record header: a key (UTF-8 by convention, kept as bytes) and a nullable value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header<'a> {
    /// The header key bytes.
    pub key: &'a [u8],
    /// The header value, `None` for null.
    pub value: Option<&'a [u8]>,
}

impl<'a> Header<'a> {
    /// A header with a string key.
    pub fn new(key: &'a str, value: Option<&'a [u8]>) -> Self {
        Self {
            key: key.as_bytes(),
            value,
        }
    }

    /// The key as UTF-8, or `None` if it is not valid UTF-8.
    pub fn key_str(&self) -> Option<&'a str> {
        std::str::from_utf8(self.key).ok()
    }
}

/// One record, borrowing its key, value and headers from the batch's buffer.
///
/// [`Record::key_bytes`] / [`Record::value_bytes`] give owned [`Bytes`] handles that share the
/// buffer (a reference-count bump, no copy) for keeping a payload past the batch's lifetime.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    source: &'a Bytes,
    offset: i64,
    timestamp: i64,
    key: Option<&'a [u8]>,
    value: Option<&'a [u8]>,
    headers: &'a [u8],
    header_count: u32,
    attributes: i8,
    control: bool,
}

impl<'a> Record<'a> {
    /// Absolute offset of the record.
    pub fn offset(&self) -> i64 {
        self.offset
    }

    /// Timestamp (ms since the epoch); the batch's max timestamp under log-append time; -1 when
    /// the format has none (magic 0).
    pub fn timestamp(&self) -> i64 {
        self.timestamp
    }

    /// The key, `None` for null.
    pub fn key(&self) -> Option<&'a [u8]> {
        self.key
    }

    /// The value, `None` for null (a tombstone).
    pub fn value(&self) -> Option<&'a [u8]> {
        self.value
    }

    /// The key as a [`Bytes`] sharing the batch buffer.
    pub fn key_bytes(&self) -> Option<Bytes> {
        self.key.map(|k| self.source.slice_ref(k))
    }

    /// The value as a [`Bytes`] sharing the batch buffer.
    pub fn value_bytes(&self) -> Option<Bytes> {
        self.value.map(|v| self.source.slice_ref(v))
    }

    /// A [`Bytes`] sharing the batch buffer for a slice of this record, such as a header
    /// value; `None` if the slice does not lie in the buffer.
    pub fn share(&self, part: &[u8]) -> Option<Bytes> {
        if part.is_empty() {
            return Some(Bytes::new());
        }
        let base = self.source.as_ptr() as usize;
        let start = part.as_ptr() as usize;
        let inside = start >= base
            && start
                .checked_add(part.len())
                .is_some_and(|end| end <= base + self.source.len());
        inside.then(|| self.source.slice_ref(part))
    }

    /// The record attributes byte (unused by Kafka so far; 0). For legacy messages, the message's
    /// attributes.
    pub fn attributes(&self) -> i8 {
        self.attributes
    }

    /// Number of headers.
    pub fn header_count(&self) -> usize {
        self.header_count as usize
    }

    /// The headers, in order (already validated when the record was read).
    pub fn headers(&self) -> Headers<'a> {
        Headers {
            rest: self.headers,
            remaining: self.header_count,
        }
    }

    /// Whether the record comes from a control batch.
    pub fn is_control(&self) -> bool {
        self.control
    }

    /// The control record this is (transaction marker, ...), or `None` outside control batches.
    ///
    /// # Errors
    /// [`RecordErrorKind::InvalidControlRecord`] if the key is not a control record key.
    pub fn control(&self) -> Result<Option<ControlRecord>, RecordErrorKind> {
        if !self.control {
            return Ok(None);
        }
        ControlRecord::parse(self.key, self.value).map(Some)
    }
}

/// Iterator over a record's headers.
#[derive(Debug, Clone)]
pub struct Headers<'a> {
    rest: &'a [u8],
    remaining: u32,
}

impl<'a> Iterator for Headers<'a> {
    type Item = Header<'a>;

    fn next(&mut self) -> Option<Header<'a>> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let header = parse_header(&mut self.rest);
        if header.is_none() {
            self.remaining = 0;
        }
        header
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining as usize, Some(self.remaining as usize))
    }
}

#[inline]
fn take<'a>(input: &mut &'a [u8], len: usize) -> Option<&'a [u8]> {
    let (head, tail) = input.split_at_checked(len)?;
    *input = tail;
    Some(head)
}

/// Reads a varint length and that many bytes; `Ok(None)` for a negative length (null).
#[inline(always)]
fn nullable_bytes<'a>(input: &mut &'a [u8]) -> Result<Option<&'a [u8]>, &'static str> {
    let len = read_varint(input).ok_or("truncated length")?;
    if len < 0 {
        return Ok(None);
    }
    take(input, len as usize)
        .map(Some)
        .ok_or("length past the end of the record")
}

fn parse_header<'a>(input: &mut &'a [u8]) -> Option<Header<'a>> {
    let key = nullable_bytes(input).ok()??;
    let value = nullable_bytes(input).ok()?;
    Some(Header { key, value })
}

/// Lazy iterator over the records of one batch. Stops after the first error.
///
/// [`Iterator::next`] is small enough to inline into the caller's loop, and every rare case
/// (errors, the end of the batch, legacy entries) runs in a function that takes the state it
/// needs by value. Nothing takes the iterator's address, so the compiler keeps its state in
/// registers; an iterator that lives in memory costs about twice as much per record.
#[derive(Debug)]
pub struct Records<'a> {
    source: &'a Bytes,
    cursor: Cursor<'a>,
    base_offset: i64,
    base_timestamp: i64,
    log_append_time: Option<i64>,
    /// Legacy entries still to yield (empty for magic 2).
    legacy: &'a [LegacyEntry],
    control: bool,
    position: usize,
}

/// Where a magic-2 batch's iteration stands: the bytes left and the records read of those
/// declared. `index == count` and `rest` empty once it ended or failed (a legacy batch starts
/// there).
#[derive(Debug, Clone, Copy)]
struct Cursor<'a> {
    rest: &'a [u8],
    index: u32,
    count: u32,
}

impl Cursor<'_> {
    const ENDED: Self = Self {
        rest: &[],
        index: 0,
        count: 0,
    };
}

/// The error for a record that could not be read.
fn record_error(left: usize, index: u32, count: u32, reason: &'static str) -> RecordErrorKind {
    if left == 0 {
        RecordErrorKind::RecordCountMismatch {
            declared: count as i32,
            found: index,
        }
    } else {
        RecordErrorKind::InvalidRecord { index, reason }
    }
}

/// A legacy entry as a record.
#[inline(never)]
fn legacy_record<'a>(e: &'a LegacyEntry, source: &'a Bytes) -> Record<'a> {
    let data = source.as_ref();
    Record {
        source,
        offset: e.offset,
        timestamp: e.timestamp,
        key: e.key.as_ref().and_then(|r| data.get(r.clone())),
        value: e.value.as_ref().and_then(|r| data.get(r.clone())),
        headers: &[],
        header_count: 0,
        attributes: e.attributes,
        control: false,
    }
}

/// What the slow path found: the cursor after it, and the record or error (`None`: the batch
/// ended cleanly).
type SlowStep<'a> = (Cursor<'a>, Option<Result<RawRecord<'a>, RecordErrorKind>>);

/// Everything [`Records::next`]'s fast path leaves: records with integers longer than three
/// bytes, the batch's last record, malformed records and the end of the batch. Takes and returns the
/// cursor by value so that the iterator's address is never taken.
#[inline(never)]
fn next_slow(cursor: Cursor<'_>) -> SlowStep<'_> {
    let Cursor { rest, index, count } = cursor;
    if index >= count {
        // All declared records were read: anything left over is an error.
        let left = (!rest.is_empty()).then_some(Err(RecordErrorKind::TrailingBytes(rest.len())));
        return (Cursor::ENDED, left);
    }
    match parse_v2_record(rest) {
        Ok((raw, used)) => {
            let next = Cursor {
                rest: rest.get(used..).unwrap_or_default(),
                index: index + 1,
                count,
            };
            (next, Some(Ok(raw)))
        }
        Err(reason) => {
            let kind = record_error(rest.len(), index, count, reason);
            (Cursor::ENDED, Some(Err(kind)))
        }
    }
}

impl<'a> Records<'a> {
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub(crate) fn v2(
        source: &'a Bytes,
        records: &'a [u8],
        count: u32,
        base_offset: i64,
        base_timestamp: i64,
        log_append_time: Option<i64>,
        control: bool,
        position: usize,
    ) -> Self {
        Self {
            source,
            cursor: Cursor {
                rest: records,
                index: 0,
                count,
            },
            base_offset,
            base_timestamp,
            log_append_time,
            legacy: &[],
            control,
            position,
        }
    }

    #[inline]
    pub(crate) fn legacy(
        source: &'a Bytes,
        entries: &'a [LegacyEntry],
        batch_offset: i64,
        position: usize,
    ) -> Self {
        Self {
            source,
            cursor: Cursor::ENDED,
            base_offset: batch_offset,
            base_timestamp: 0,
            log_append_time: None,
            legacy: entries,
            control: false,
            position,
        }
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, RecordError>;

    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        // Fields one by one: copying the cursor as a whole makes a vector load and store whose
        // halves are then read back separately, which stalls store forwarding.
        let (rest, index, count) = (self.cursor.rest, self.cursor.index, self.cursor.count);
        let raw = match parse_v2_record_fast(rest) {
            Some((raw, used)) if index < count => {
                self.cursor.rest = rest.get(used..).unwrap_or_default();
                self.cursor.index = index + 1;
                raw
            }
            _ => {
                if index >= count && rest.is_empty() {
                    let (e, tail) = self.legacy.split_first()?;
                    self.legacy = tail;
                    return Some(Ok(legacy_record(e, self.source)));
                }
                let (cursor, step) = next_slow(Cursor { rest, index, count });
                self.cursor = cursor;
                match step? {
                    Ok(raw) => raw,
                    Err(kind) => {
                        return Some(Err(RecordError::new(self.base_offset, self.position, kind)))
                    }
                }
            }
        };
        Some(Ok(Record {
            source: self.source,
            offset: self.base_offset.wrapping_add(i64::from(raw.offset_delta)),
            timestamp: match self.log_append_time {
                Some(t) => t,
                None => self.base_timestamp.wrapping_add(raw.timestamp_delta),
            },
            key: raw.key,
            value: raw.value,
            headers: raw.headers,
            header_count: raw.header_count,
            attributes: raw.attributes,
            control: self.control,
        }))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let v2 = self.cursor.count.saturating_sub(self.cursor.index) as usize;
        let legacy = self.legacy.len();
        (legacy, Some(v2 + legacy))
    }
}

#[derive(Debug, PartialEq, Eq)]
struct RawRecord<'a> {
    attributes: i8,
    timestamp_delta: i64,
    offset_delta: i32,
    key: Option<&'a [u8]>,
    value: Option<&'a [u8]>,
    headers: &'a [u8],
    header_count: u32,
}

/// A nullable byte string at `*at` in `rest`: a zigzag length (-1 = null) and that many bytes.
#[inline(always)]
fn nullable_at<'a>(
    rest: &'a [u8],
    at: &mut usize,
    truncated: &'static str,
    past_end: &'static str,
) -> Result<Option<&'a [u8]>, &'static str> {
    let (len, n) = read_zigzag_at(rest, *at, 5).ok_or(truncated)?;
    *at += n;
    if len < 0 {
        return Ok(None);
    }
    let start = *at;
    let end = start.checked_add(len as usize).ok_or(past_end)?;
    let bytes = rest.get(start..end).ok_or(past_end)?;
    *at = end;
    Ok(Some(bytes))
}

/// A nullable byte string at `*at` for [`parse_v2_record_fast`], advancing `*at`.
#[inline(always)]
fn short_nullable_at<'a>(rest: &'a [u8], at: &mut usize) -> Option<Option<&'a [u8]>> {
    let (len, n) = short_zigzag_at(rest, *at)?;
    *at += n;
    if len < 0 {
        return Some(None);
    }
    let start = *at;
    *at = start.checked_add(len as usize)?;
    rest.get(start..*at).map(Some)
}

/// The common case of [`parse_v2_record`], with no calls in it so that it inlines into the
/// caller's loop without spilling: a record whose integers take at most three bytes, with three
/// bytes after each (everywhere but at the very end of a batch). `None` for anything else,
/// valid or not; [`parse_v2_record`] then decides.
#[inline(always)]
fn parse_v2_record_fast(rest: &[u8]) -> Option<(RawRecord<'_>, usize)> {
    let (len, mut at) = short_zigzag_at(rest, 0)?;
    let end = at.checked_add(usize::try_from(len).ok()?)?;
    let attributes = *rest.get(at)?;
    at += 1;
    let (timestamp_delta, n) = short_zigzag_at(rest, at)?;
    at += n;
    let (offset_delta, n) = short_zigzag_at(rest, at)?;
    at += n;
    let key = short_nullable_at(rest, &mut at)?;
    let value = short_nullable_at(rest, &mut at)?;
    let (header_count, n) = short_zigzag_at(rest, at)?;
    at += n;
    let headers_at = at;
    for _ in 0..header_count {
        let (key_len, n) = short_zigzag_at(rest, at)?;
        at = at.checked_add(n + usize::try_from(key_len).ok()?)?;
        let (value_len, n) = short_zigzag_at(rest, at)?;
        at += n;
        if value_len > 0 {
            at = at.checked_add(value_len as usize)?;
        }
    }
    // Fields only move forward, so ending exactly at the record's end means they all lay in it.
    if at != end {
        return None;
    }
    Some((
        RawRecord {
            attributes: attributes as i8,
            timestamp_delta: i64::from(timestamp_delta),
            offset_delta,
            key,
            value,
            headers: rest.get(headers_at..end)?,
            header_count: u32::try_from(header_count).ok()?,
        },
        end,
    ))
}

/// Parses the record at the front of `rest` (the rest of the batch), returning it and its
/// encoded length.
///
/// Fields are read at growing positions in `rest` rather than by narrowing a slice per field,
/// and integers are read three bytes at a time where three bytes remain (everywhere but at the
/// very end of the batch). Since the position only grows, ending exactly at the record's end
/// proves that every field lay inside the record; a record whose fields run past its length is
/// rejected by that last check.
#[inline(always)]
fn parse_v2_record(rest: &[u8]) -> Result<(RawRecord<'_>, usize), &'static str> {
    let (len, mut at) = read_zigzag_at(rest, 0, 5).ok_or("truncated record length")?;
    let len = usize::try_from(len).map_err(|_| "negative record length")?;
    let end = at
        .checked_add(len)
        .filter(|&end| end <= rest.len())
        .ok_or("record length past the end of the batch")?;
    if len == 0 {
        return Err("record too short");
    }
    let attributes = rest.get(at).copied().ok_or("record too short")?;
    at += 1;
    let (timestamp_delta, n) = read_zigzag_at(rest, at, 10).ok_or("truncated timestamp delta")?;
    at += n;
    let (offset_delta, n) = read_zigzag_at(rest, at, 5).ok_or("truncated offset delta")?;
    at += n;
    let key = nullable_at(
        rest,
        &mut at,
        "truncated length",
        "length past the end of the record",
    )?;
    let value = nullable_at(
        rest,
        &mut at,
        "truncated length",
        "length past the end of the record",
    )?;
    let (header_count, n) = read_zigzag_at(rest, at, 5).ok_or("truncated header count")?;
    at += n;
    let header_count = u32::try_from(header_count).map_err(|_| "negative header count")?;
    let headers = rest
        .get(at..end)
        .ok_or("record length does not match its fields")?;
    if header_count > 0 {
        validate_headers(headers, header_count)?;
    } else if at != end {
        return Err("record length does not match its fields");
    }
    Ok((
        RawRecord {
            attributes: attributes as i8,
            timestamp_delta,
            offset_delta: offset_delta as i32,
            key,
            value,
            headers,
            header_count,
        },
        end,
    ))
}

/// Checks that `headers` holds exactly `count` well-formed headers, so that iterating them
/// later cannot fail.
#[inline(never)]
fn validate_headers(mut h: &[u8], count: u32) -> Result<(), &'static str> {
    for _ in 0..count {
        let key_len = read_varint(&mut h).ok_or("truncated header key length")?;
        if key_len < 0 {
            return Err("null header key");
        }
        take(&mut h, key_len as usize).ok_or("header key past the end of the record")?;
        nullable_bytes(&mut h).map_err(|_| "invalid header value")?;
    }
    if !h.is_empty() {
        return Err("record length does not match its fields");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::varint::{write_varint, write_varlong};

    /// xorshift64: a fixed pseudo-random sequence.
    fn rng(mut state: u64) -> impl FnMut() -> u64 {
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    /// An encoded record with field sizes drawn from `next`: short and long integers, null
    /// and empty keys and values, headers.
    fn record(next: &mut impl FnMut() -> u64) -> Vec<u8> {
        let pick = |r: u64| -> i64 {
            match r % 6 {
                0 => 0,
                1 => (r >> 8) as i64 % 64,
                2 => (r >> 8) as i64 % 8192,
                3 => (r >> 8) as i64 % (1 << 20),
                4 => (r >> 8) as i64 % (1 << 30),
                _ => -((r >> 8) as i64 % (1 << 21)),
            }
        };
        let bytes = |next: &mut dyn FnMut() -> u64, out: &mut Vec<u8>| match next() % 5 {
            0 => write_varint(out, -1),
            n => {
                let len = [0usize, 3, 150, 20_000][n as usize - 1];
                write_varint(out, len as i32);
                out.extend((0..len).map(|i| i as u8));
            }
        };
        let mut body = vec![0u8];
        write_varlong(&mut body, pick(next()));
        write_varint(&mut body, pick(next()) as i32);
        bytes(next, &mut body);
        bytes(next, &mut body);
        let headers = next() % 3;
        write_varint(&mut body, headers as i32);
        for _ in 0..headers {
            write_varint(&mut body, 4);
            body.extend_from_slice(b"h-id");
            bytes(next, &mut body);
        }
        let mut out = Vec::new();
        write_varint(&mut out, body.len() as i32);
        out.extend_from_slice(&body);
        out
    }

    /// The fast path either declines or agrees with the full parser, on valid records and on
    /// every single-byte corruption of them.
    #[test]
    fn fast_path_agrees_with_the_full_parser() {
        let mut next = rng(0x9e37_79b9_7f4a_7c15);
        let (mut fast_taken, mut checked) = (0, 0);
        for _ in 0..300 {
            let mut input = record(&mut next);
            // What follows the record in a batch: sometimes nothing, sometimes another record.
            let len = input.len();
            if next().is_multiple_of(2) {
                input.extend_from_slice(&record(&mut next));
            }
            let mut check = |input: &[u8]| {
                checked += 1;
                if let Some(fast) = parse_v2_record_fast(input) {
                    fast_taken += 1;
                    assert_eq!(Ok(fast), parse_v2_record(input), "{input:?}");
                }
            };
            check(&input);
            for at in 0..len.min(64) {
                for flip in [0x01u8, 0x40, 0x80, 0xff] {
                    let mut bad = input.clone();
                    bad[at] ^= flip;
                    check(&bad);
                }
            }
            let full = parse_v2_record(&input).map(|(_, used)| used);
            assert_eq!(full, Ok(len));
        }
        // Both paths were exercised.
        assert!(
            fast_taken > 1000 && fast_taken < checked,
            "{fast_taken} of {checked}"
        );
    }
}
