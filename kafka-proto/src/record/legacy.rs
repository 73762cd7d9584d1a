//! Legacy message sets, magic 0 and 1 (decode only), including compressed wrapper messages.
//!
//! ```text
//! offset: int64, messageSize: int32,
//! crc: uint32 (CRC-32 of magic .. end), magic: int8, attributes: int8,
//! timestamp: int64 (magic 1 only, KIP-32),
//! key: int32 length + bytes (-1 = null), value: int32 length + bytes (-1 = null)
//! ```
//!
//! A compressed message (codec in attributes bits 0–2) is a *wrapper*: its value is a compressed
//! message set of inner messages. With magic 1 (KIP-31) inner offsets are relative and the
//! wrapper carries the absolute offset of the last inner message; with magic 0 inner offsets are
//! absolute. With magic 1 and log-append time (attribute bit 3) on the wrapper, inner messages
//! take the wrapper's timestamp. Inner messages may not be compressed again.

use std::ops::Range;

use bytes::Bytes;

use super::batch::{Attributes, BatchHeader, Be, LEGACY_MIN_LENGTH, LOG_OVERHEAD};
use super::error::{RecordError, RecordErrorKind};
use super::Compression;

/// One decoded legacy message: ranges point into the batch's data buffer.
#[derive(Debug, Clone)]
pub(crate) struct LegacyEntry {
    pub(crate) offset: i64,
    pub(crate) timestamp: i64,
    pub(crate) attributes: i8,
    pub(crate) key: Option<Range<usize>>,
    pub(crate) value: Option<Range<usize>>,
}

/// A decoded top-level legacy message: header, the buffer its entries point into, the entries.
#[derive(Debug)]
pub(crate) struct LegacyBatch {
    pub(crate) header: BatchHeader,
    pub(crate) data: Bytes,
    pub(crate) entries: Vec<LegacyEntry>,
}

/// A message parsed in place.
struct Message {
    offset: i64,
    crc: u32,
    magic: i8,
    attributes: i8,
    timestamp: i64,
    key: Option<Range<usize>>,
    value: Option<Range<usize>>,
    /// Length of the message including offset and size fields.
    total: usize,
}

/// CRC-32 (IEEE), as legacy messages use.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = flate2::Crc::new();
    crc.update(bytes);
    crc.sum()
}

/// Parses the message at `data[at..]`, verifying its CRC when asked.
fn parse_message(data: &[u8], at: usize, verify_crc: bool) -> Result<Message, RecordErrorKind> {
    let invalid = |reason| RecordErrorKind::InvalidRecord { index: 0, reason };
    let msg = data.get(at..).ok_or(invalid("message past the end"))?;
    let mut r = Be(msg);
    let offset = r.i64().ok_or(invalid("truncated message offset"))?;
    let size = r.i32().ok_or(invalid("truncated message size"))?;
    let size_usize =
        usize::try_from(size).map_err(|_| RecordErrorKind::InvalidLength(size.into()))?;
    if size_usize < LEGACY_MIN_LENGTH {
        return Err(RecordErrorKind::InvalidLength(size.into()));
    }
    let body = r.0.get(..size_usize).ok_or(invalid("truncated message"))?;
    let total = LOG_OVERHEAD + size_usize;
    let mut r = Be(body);
    let crc = r.u32().ok_or(invalid("truncated crc"))?;
    let covered = r.0;
    let magic = r.i8().ok_or(invalid("truncated magic"))?;
    let attributes = r.i8().ok_or(invalid("truncated attributes"))?;
    let timestamp = match magic {
        0 => -1,
        1 => r.i64().ok_or(invalid("truncated timestamp"))?,
        m => return Err(RecordErrorKind::UnsupportedMagic(m)),
    };
    if verify_crc {
        let computed = crc32(covered);
        if computed != crc {
            return Err(RecordErrorKind::CrcMismatch {
                stored: crc,
                computed,
            });
        }
    }
    // Absolute position in `data` of what remains in the reader.
    let base = at + total;
    let field = |r: &mut Be<'_>| -> Result<Option<Range<usize>>, RecordErrorKind> {
        let len = r.i32().ok_or(invalid("truncated length"))?;
        if len < 0 {
            return Ok(None);
        }
        let len = len as usize;
        if len > r.0.len() {
            return Err(invalid("field length past the end of the message"));
        }
        let start = base - r.0.len();
        r.0 = r.0.get(len..).unwrap_or_default();
        Ok(Some(start..start + len))
    };
    let key = field(&mut r)?;
    let value = field(&mut r)?;
    if !r.0.is_empty() {
        return Err(invalid("message size does not match its fields"));
    }
    Ok(Message {
        offset,
        crc,
        magic,
        attributes,
        timestamp,
        key,
        value,
        total,
    })
}

/// Decodes the top-level legacy message `raw` (exactly one message: offset, size, body).
pub(crate) fn decode(
    raw: Bytes,
    position: usize,
    verify_crc: bool,
    limit: usize,
) -> Result<LegacyBatch, RecordError> {
    let wrapper_offset = Be(&raw).i64().unwrap_or(-1);
    let err = |kind| RecordError::new(wrapper_offset, position, kind);
    let wrapper = parse_message(&raw, 0, verify_crc).map_err(err)?;
    let attributes = Attributes(u16::from(wrapper.attributes as u8));
    let codec_id = attributes.compression_id();
    let codec =
        Compression::from_id(codec_id).ok_or(err(RecordErrorKind::UnknownCompression(codec_id)))?;
    let log_append = wrapper.magic == 1
        && attributes.timestamp_type() == super::batch::TimestampType::LogAppendTime;

    let (data, entries) = if codec == Compression::None {
        let entry = LegacyEntry {
            offset: wrapper.offset,
            timestamp: wrapper.timestamp,
            attributes: wrapper.attributes,
            key: wrapper.key.clone(),
            value: wrapper.value.clone(),
        };
        (raw, vec![entry])
    } else {
        let value = wrapper.value.clone().and_then(|r| raw.get(r)).ok_or(err(
            RecordErrorKind::InvalidRecord {
                index: 0,
                reason: "compressed wrapper message without a value",
            },
        ))?;
        let inner = Bytes::from(codec.decompress(value, limit).map_err(|e| err(e.into()))?);
        let mut entries = Vec::new();
        let mut at = 0;
        while at < inner.len() {
            let index = u32::try_from(entries.len()).unwrap_or(u32::MAX);
            let m = parse_message(&inner, at, verify_crc).map_err(|kind| {
                err(match kind {
                    RecordErrorKind::InvalidRecord { reason, .. } => {
                        RecordErrorKind::InvalidRecord { index, reason }
                    }
                    other => other,
                })
            })?;
            if m.attributes & 0x07 != 0 {
                return Err(err(RecordErrorKind::NestedCompression));
            }
            if m.magic != wrapper.magic {
                return Err(err(RecordErrorKind::InvalidRecord {
                    index,
                    reason: "inner message magic differs from the wrapper's",
                }));
            }
            at += m.total;
            entries.push(LegacyEntry {
                offset: m.offset,
                timestamp: if log_append {
                    wrapper.timestamp
                } else {
                    m.timestamp
                },
                attributes: m.attributes,
                key: m.key,
                value: m.value,
            });
        }
        if wrapper.magic == 1 {
            // KIP-31: inner offsets are relative; the wrapper holds the last absolute offset.
            let last = entries.last().map_or(0, |e| e.offset);
            let base = wrapper.offset.wrapping_sub(last);
            for e in &mut entries {
                e.offset = base.wrapping_add(e.offset);
            }
        }
        (inner, entries)
    };

    let first = entries.first().map_or(wrapper.offset, |e| e.offset);
    let last = entries.last().map_or(wrapper.offset, |e| e.offset);
    let max_timestamp = if log_append {
        wrapper.timestamp
    } else {
        entries.iter().map(|e| e.timestamp).max().unwrap_or(-1)
    };
    let clamp = |v: i64| i32::try_from(v).unwrap_or(if v < 0 { i32::MIN } else { i32::MAX });
    let header = BatchHeader {
        base_offset: first,
        batch_length: clamp((wrapper.total - LOG_OVERHEAD) as i64),
        partition_leader_epoch: -1,
        magic: wrapper.magic,
        crc: wrapper.crc,
        attributes,
        last_offset_delta: clamp(last.wrapping_sub(first)),
        base_timestamp: entries.first().map_or(-1, |e| e.timestamp),
        max_timestamp,
        producer_id: -1,
        producer_epoch: -1,
        base_sequence: -1,
        records_count: clamp(entries.len() as i64),
    };
    Ok(LegacyBatch {
        header,
        data,
        entries,
    })
}

/// Test and fixture support: encodes one legacy message (magic 0 or 1) with a correct CRC.
#[doc(hidden)]
pub fn encode_message(
    out: &mut Vec<u8>,
    offset: i64,
    magic: i8,
    attributes: i8,
    timestamp: i64,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
) {
    let field_len = |f: Option<&[u8]>| 4 + f.map_or(0, <[u8]>::len);
    let size = 4 + 1 + 1 + if magic == 1 { 8 } else { 0 } + field_len(key) + field_len(value);
    out.extend_from_slice(&offset.to_be_bytes());
    out.extend_from_slice(&(size as i32).to_be_bytes());
    let crc_at = out.len();
    out.extend_from_slice(&[0; 4]);
    out.push(magic as u8);
    out.push(attributes as u8);
    if magic == 1 {
        out.extend_from_slice(&timestamp.to_be_bytes());
    }
    for f in [key, value] {
        match f {
            Some(b) => {
                out.extend_from_slice(&(b.len() as i32).to_be_bytes());
                out.extend_from_slice(b);
            }
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }
    let crc = crc32(out.get(crc_at + 4..).unwrap_or_default());
    if let Some(slot) = out.get_mut(crc_at..crc_at + 4) {
        slot.copy_from_slice(&crc.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_known_vector() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn plain_v0_and_v1() {
        for magic in [0i8, 1] {
            let mut buf = Vec::new();
            encode_message(&mut buf, 7, magic, 0, 1234, Some(b"k"), None);
            let b = decode(Bytes::from(buf), 0, true, usize::MAX).unwrap();
            assert_eq!(b.header.base_offset, 7);
            assert_eq!(b.entries.len(), 1);
            assert_eq!(b.entries[0].timestamp, if magic == 1 { 1234 } else { -1 });
            assert!(b.entries[0].value.is_none());
            assert_eq!(&b.data[b.entries[0].key.clone().unwrap()], b"k");
        }
    }

    #[test]
    fn corrupt_crc_and_nested_compression() {
        let mut buf = Vec::new();
        encode_message(&mut buf, 7, 1, 0, 1, Some(b"k"), Some(b"v"));
        let last = buf.len() - 1;
        buf[last] ^= 1;
        let e = decode(Bytes::from(buf), 3, true, usize::MAX).unwrap_err();
        assert!(matches!(e.kind, RecordErrorKind::CrcMismatch { .. }), "{e}");
        assert_eq!((e.batch_offset, e.position), (7, 3));

        let mut inner = Vec::new();
        encode_message(&mut inner, 0, 1, 1, 1, None, Some(b"x"));
        let mut gz = Vec::new();
        Compression::Gzip.compress(&inner, None, &mut gz).unwrap();
        let mut outer = Vec::new();
        encode_message(&mut outer, 0, 1, 1, 1, None, Some(&gz));
        let e = decode(Bytes::from(outer), 0, true, usize::MAX).unwrap_err();
        assert_eq!(e.kind, RecordErrorKind::NestedCompression);
    }
}
