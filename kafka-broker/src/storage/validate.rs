//! Validation of a Produce request's records before they are appended: every batch parsed
//! with [`BatchViewsMut`] (length, magic 2, CRC-32C, codec), then Kafka's client-batch rules
//! (`LogValidator.validateBatch`): size within `max.message.bytes`, base offset 0, a record
//! count matching the offset delta, no control batches, a sequence with every producer id.

use kafka_proto::record::{BatchViewsMut, RecordError, RecordErrorKind};

use super::scan::RawHeader;
use super::StorageError;

/// Position and header of each batch in `buf`, or why the records are rejected.
pub(crate) fn validate_batches(
    buf: &mut [u8],
    max_message_bytes: usize,
) -> Result<Vec<(usize, RawHeader)>, StorageError> {
    if buf.is_empty() {
        return Err(StorageError::InvalidRecord(
            "the records hold no record batch".into(),
        ));
    }
    let mut out = Vec::with_capacity(1);
    let failure: Option<RecordError>;
    let tail;
    {
        let mut views = BatchViewsMut::new(buf);
        let mut position = 0usize;
        let mut fail = None;
        for view in &mut views {
            let view = match view {
                Ok(v) => v,
                Err(e) => {
                    fail = Some(e);
                    break;
                }
            };
            let size = view.len();
            let header = RawHeader::parse(view.as_bytes()).ok_or_else(|| {
                StorageError::InvalidRecord(format!("unreadable batch header at byte {position}"))
            })?;
            if size > max_message_bytes {
                return Err(StorageError::MessageTooLarge {
                    size,
                    max: max_message_bytes,
                });
            }
            check_client_batch(&header, position)?;
            out.push((position, header));
            position += size;
        }
        failure = fail;
        tail = views.incomplete_tail();
    }
    if let Some(e) = failure {
        // Kafka 4 serves only Produce v3+, which must carry magic-2 batches (INVALID_RECORD).
        let magic = buf.get(e.position + 16).map(|&m| m as i8);
        if matches!(e.kind, RecordErrorKind::UnsupportedMagic(0 | 1))
            || matches!(magic, Some(0 | 1))
        {
            return Err(StorageError::InvalidRecord(format!(
                "legacy message format (magic {}) at byte {}; only magic 2 record batches are accepted",
                magic.unwrap_or(-1),
                e.position
            )));
        }
        return Err(StorageError::Corrupt(e));
    }
    if let Some(tail) = tail {
        if let Some(&m @ (0 | 1)) = buf.get(tail.position + 16) {
            return Err(StorageError::InvalidRecord(format!(
                "legacy message format (magic {m}) at byte {}",
                tail.position
            )));
        }
        return Err(StorageError::Truncated {
            position: tail.position,
            available: tail.available,
            needed: tail.needed,
        });
    }
    Ok(out)
}

fn check_client_batch(h: &RawHeader, position: usize) -> Result<(), StorageError> {
    let invalid = |why: String| {
        Err(StorageError::InvalidRecord(format!(
            "batch at byte {position}: {why}"
        )))
    };
    if h.base_offset != 0 {
        return invalid(format!("base offset must be 0, not {}", h.base_offset));
    }
    if h.records_count <= 0 {
        return invalid(format!("record count {}", h.records_count));
    }
    if i64::from(h.last_offset_delta) + 1 != i64::from(h.records_count) {
        return invalid(format!(
            "last offset delta {} does not match {} records",
            h.last_offset_delta, h.records_count
        ));
    }
    if h.is_control() {
        return invalid("clients may not write control batches".into());
    }
    if h.producer_id >= 0 && h.base_sequence < 0 {
        return invalid(format!(
            "producer id {} with sequence {}",
            h.producer_id, h.base_sequence
        ));
    }
    Ok(())
}
