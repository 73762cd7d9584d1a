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
use super::varint::{read_varint, read_varlong};

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
#[derive(Debug)]
pub struct Records<'a> {
    source: &'a Bytes,
    inner: Inner<'a>,
    control: bool,
    batch_offset: i64,
    position: usize,
}

#[derive(Debug)]
enum Inner<'a> {
    V2 {
        rest: &'a [u8],
        index: u32,
        count: u32,
        base_offset: i64,
        base_timestamp: i64,
        log_append_time: Option<i64>,
    },
    Legacy(std::slice::Iter<'a, LegacyEntry>),
    Done,
}

impl<'a> Records<'a> {
    #[allow(clippy::too_many_arguments)]
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
            inner: Inner::V2 {
                rest: records,
                index: 0,
                count,
                base_offset,
                base_timestamp,
                log_append_time,
            },
            control,
            batch_offset: base_offset,
            position,
        }
    }

    pub(crate) fn legacy(
        source: &'a Bytes,
        entries: &'a [LegacyEntry],
        batch_offset: i64,
        position: usize,
    ) -> Self {
        Self {
            source,
            inner: Inner::Legacy(entries.iter()),
            control: false,
            batch_offset,
            position,
        }
    }

    fn fail(&mut self, kind: RecordErrorKind) -> Option<Result<Record<'a>, RecordError>> {
        self.inner = Inner::Done;
        Some(Err(RecordError::new(
            self.batch_offset,
            self.position,
            kind,
        )))
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, RecordError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.inner {
            Inner::V2 {
                rest,
                index,
                count,
                base_offset,
                base_timestamp,
                log_append_time,
            } => {
                if *index >= *count {
                    let left = rest.len();
                    self.inner = Inner::Done;
                    if left > 0 {
                        return self.fail(RecordErrorKind::TrailingBytes(left));
                    }
                    return None;
                }
                if rest.is_empty() {
                    let (declared, found) = (*count, *index);
                    return self.fail(RecordErrorKind::RecordCountMismatch {
                        declared: declared as i32,
                        found,
                    });
                }
                let i = *index;
                match parse_v2_record(rest) {
                    Ok(raw) => {
                        *index += 1;
                        let timestamp = match log_append_time {
                            Some(t) => *t,
                            None => base_timestamp.wrapping_add(raw.timestamp_delta),
                        };
                        Some(Ok(Record {
                            source: self.source,
                            offset: base_offset.wrapping_add(i64::from(raw.offset_delta)),
                            timestamp,
                            key: raw.key,
                            value: raw.value,
                            headers: raw.headers,
                            header_count: raw.header_count,
                            attributes: raw.attributes,
                            control: self.control,
                        }))
                    }
                    Err(reason) => self.fail(RecordErrorKind::InvalidRecord { index: i, reason }),
                }
            }
            Inner::Legacy(entries) => {
                let e = entries.next()?;
                let data = self.source.as_ref();
                Some(Ok(Record {
                    source: self.source,
                    offset: e.offset,
                    timestamp: e.timestamp,
                    key: e.key.as_ref().and_then(|r| data.get(r.clone())),
                    value: e.value.as_ref().and_then(|r| data.get(r.clone())),
                    headers: &[],
                    header_count: 0,
                    attributes: e.attributes,
                    control: false,
                }))
            }
            Inner::Done => None,
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.inner {
            Inner::V2 { index, count, .. } => (0, Some(count.saturating_sub(*index) as usize)),
            Inner::Legacy(it) => it.size_hint(),
            Inner::Done => (0, Some(0)),
        }
    }
}

struct RawRecord<'a> {
    attributes: i8,
    timestamp_delta: i64,
    offset_delta: i32,
    key: Option<&'a [u8]>,
    value: Option<&'a [u8]>,
    headers: &'a [u8],
    header_count: u32,
}

/// Parses one record from the front of `input`, advancing it past the record.
#[inline(always)]
fn parse_v2_record<'a>(input: &mut &'a [u8]) -> Result<RawRecord<'a>, &'static str> {
    let len = read_varint(input).ok_or("truncated record length")?;
    let len = usize::try_from(len).map_err(|_| "negative record length")?;
    let mut body = take(input, len).ok_or("record length past the end of the batch")?;
    let (&attributes, rest) = body.split_first().ok_or("record too short")?;
    body = rest;
    let timestamp_delta = read_varlong(&mut body).ok_or("truncated timestamp delta")?;
    let offset_delta = read_varint(&mut body).ok_or("truncated offset delta")?;
    let key = nullable_bytes(&mut body)?;
    let value = nullable_bytes(&mut body)?;
    let header_count = read_varint(&mut body).ok_or("truncated header count")?;
    let header_count = u32::try_from(header_count).map_err(|_| "negative header count")?;
    let headers = body;
    if header_count > 0 {
        // Validate once, so that iterating headers later cannot fail.
        let mut h = headers;
        for _ in 0..header_count {
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
    } else if !headers.is_empty() {
        return Err("record length does not match its fields");
    }
    Ok(RawRecord {
        attributes: attributes as i8,
        timestamp_delta,
        offset_delta,
        key,
        value,
        headers,
        header_count,
    })
}
