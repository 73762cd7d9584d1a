//! The accumulator: per-partition queues of batches built directly in wire format.
//!
//! Each partition has at most one open batch (a [`RecordBatchBuilder`]), closed when full, when
//! `linger.ms` passed, or on flush; closed batches wait in `ready` (and failed ones in `retry`,
//! in sequence order) until the sender drains them.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use kafka_proto::record::{BatchMeta, BuilderOptions, RecordBatchBuilder};

use super::{RecordMetadata, Waiter};
use crate::error::{Error, Result};

/// Where producer id, epoch and base sequence sit in a magic-2 batch, and the CRC that covers
/// them (from the attributes to the end).
const PRODUCER_ID_OFFSET: usize = 43;
const PRODUCER_EPOCH_OFFSET: usize = 51;
const BASE_SEQUENCE_OFFSET: usize = 53;
const CRC_OFFSET: usize = 17;
const ATTRIBUTES_OFFSET: usize = 21;

/// Writes producer id, epoch and base sequence into a closed batch and recomputes its CRC.
pub(crate) fn set_producer_fields(batch: Bytes, pid: i64, epoch: i16, seq: i32) -> Bytes {
    let mut m = match batch.try_into_mut() {
        Ok(m) => m,
        Err(shared) => BytesMut::from(&shared[..]),
    };
    if m.len() < 61 {
        return m.freeze();
    }
    m[PRODUCER_ID_OFFSET..PRODUCER_ID_OFFSET + 8].copy_from_slice(&pid.to_be_bytes());
    m[PRODUCER_EPOCH_OFFSET..PRODUCER_EPOCH_OFFSET + 2].copy_from_slice(&epoch.to_be_bytes());
    m[BASE_SEQUENCE_OFFSET..BASE_SEQUENCE_OFFSET + 4].copy_from_slice(&seq.to_be_bytes());
    let crc = kafka_proto::record::crc32c(&m[ATTRIBUTES_OFFSET..]);
    m[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    m.freeze()
}

/// A batch still taking records.
pub(crate) struct OpenBatch {
    pub(crate) id: u64,
    pub(crate) builder: RecordBatchBuilder,
    pub(crate) created: Instant,
    pub(crate) waiters: Vec<Waiter>,
    pub(crate) timestamps: Vec<i64>,
    pub(crate) memory: usize,
}

/// A closed batch, waiting to be sent or in flight.
pub(crate) struct ClosedBatch {
    pub(crate) id: u64,
    pub(crate) data: Bytes,
    pub(crate) waiters: Vec<Waiter>,
    pub(crate) timestamps: Vec<i64>,
    pub(crate) memory: usize,
    pub(crate) created: Instant,
    pub(crate) attempts: u32,
    /// Base sequence, once assigned (at first drain, idempotent producers only).
    pub(crate) sequence: Option<i32>,
    /// A send of this batch failed without a broker answer (timeout, broken connection): it
    /// may have been written, so it must be retried with the same sequence before any epoch
    /// bump.
    pub(crate) unknown_outcome: bool,
    /// Not to be resent before this (retry backoff).
    pub(crate) not_before: Option<Instant>,
}

impl ClosedBatch {
    pub(crate) fn records(&self) -> i32 {
        self.waiters.len() as i32
    }

    /// Resolves every record of the batch.
    pub(crate) fn complete(
        self,
        topic: &Arc<str>,
        partition: i32,
        result: std::result::Result<(i64, i64), Error>,
    ) {
        match result {
            Ok((base_offset, log_append_time)) => {
                for (i, (w, ts)) in self.waiters.into_iter().zip(self.timestamps).enumerate() {
                    w.resolve(Ok(RecordMetadata {
                        topic: topic.clone(),
                        partition,
                        offset: if base_offset >= 0 {
                            base_offset + i as i64
                        } else {
                            -1
                        },
                        timestamp: if log_append_time >= 0 {
                            log_append_time
                        } else {
                            ts
                        },
                    }));
                }
            }
            Err(e) => {
                for w in self.waiters {
                    w.resolve(Err(e.clone()));
                }
            }
        }
    }
}

impl OpenBatch {
    /// A new batch whose per-record vectors start at `records_hint` slots: the record count
    /// of the partition's previous batch, so a steady stream fills them without the doubling
    /// that would leave up to half of each unused (and copy them on every growth).
    pub(crate) fn new(id: u64, options: BuilderOptions, records_hint: usize) -> OpenBatch {
        OpenBatch {
            id,
            builder: RecordBatchBuilder::new(options),
            created: Instant::now(),
            waiters: Vec::with_capacity(records_hint),
            timestamps: Vec::with_capacity(records_hint),
            memory: 0,
        }
    }

    /// Compresses and closes the batch (producer fields are written at drain).
    pub(crate) fn close(
        self,
    ) -> std::result::Result<ClosedBatch, Box<(Error, Vec<Waiter>, usize)>> {
        match self.builder.finish(&BatchMeta::default()) {
            Ok(data) => Ok(ClosedBatch {
                id: self.id,
                data,
                waiters: self.waiters,
                timestamps: self.timestamps,
                memory: self.memory,
                created: self.created,
                attempts: 0,
                sequence: None,
                unknown_outcome: false,
                not_before: None,
            }),
            Err(e) => Err(Box::new((
                Error::InvalidArgument(format!("cannot build record batch: {e}")),
                self.waiters,
                self.memory,
            ))),
        }
    }
}

/// One partition's queue.
#[derive(Default)]
pub(crate) struct PartitionQueue {
    pub(crate) open: Option<OpenBatch>,
    pub(crate) ready: VecDeque<ClosedBatch>,
    /// Batches to resend, in sequence order; drained before `ready`.
    pub(crate) retry: VecDeque<ClosedBatch>,
    pub(crate) in_flight: usize,
    /// Next base sequence (idempotence).
    pub(crate) next_sequence: i32,
    /// Bytes queued (open + ready + retry), for the adaptive partitioner.
    pub(crate) queued_bytes: usize,
    /// Records in the last batch closed here: the capacity the next batch reserves.
    pub(crate) last_records: usize,
}

impl PartitionQueue {
    /// Closes the open batch into `ready`. Returns the waiters of a batch that failed to close.
    pub(crate) fn close_open(&mut self) -> Option<(Error, Vec<Waiter>, usize, u64)> {
        let open = self.open.take()?;
        let id = open.id;
        self.last_records = open.waiters.len();
        match open.close() {
            Ok(b) => {
                self.ready.push_back(b);
                None
            }
            Err(failed) => {
                let (e, w, m) = *failed;
                Some((e, w, m, id))
            }
        }
    }

    /// Appends a record, opening (and closing) batches as needed. Returns whether a batch was
    /// closed or opened (the sender should look), and the failed close if any.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn append(
        &mut self,
        next_id: impl FnOnce() -> u64,
        options: BuilderOptions,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[kafka_proto::record::Header<'_>],
        waiter: Waiter,
        memory: usize,
    ) -> Result<AppendOutcome> {
        let mut outcome = AppendOutcome::default();
        if let Some(open) = &mut self.open {
            let fits = open
                .builder
                .try_append(timestamp, key, value, headers)
                .map_err(|e| Error::InvalidArgument(format!("record cannot be encoded: {e}")))?;
            if fits {
                open.waiters.push(waiter);
                open.timestamps.push(timestamp);
                open.memory += memory;
                self.queued_bytes += memory;
                return Ok(outcome);
            }
            outcome.closed = true;
            outcome.failed_close = self.close_open();
        }
        // A little over the last count, so a batch one record longer does not double.
        let hint = self.last_records + self.last_records / 32;
        let mut open = OpenBatch::new(next_id(), options, hint);
        open.builder
            .try_append(timestamp, key, value, headers)
            .map_err(|e| Error::InvalidArgument(format!("record cannot be encoded: {e}")))?;
        open.waiters.push(waiter);
        open.timestamps.push(timestamp);
        open.memory = memory;
        self.queued_bytes += memory;
        outcome.opened = Some(open.id);
        self.open = Some(open);
        Ok(outcome)
    }
}

#[derive(Default)]
pub(crate) struct AppendOutcome {
    pub(crate) closed: bool,
    pub(crate) opened: Option<u64>,
    pub(crate) failed_close: Option<(Error, Vec<Waiter>, usize, u64)>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_proto::record::RecordBatches;

    #[test]
    fn producer_fields_are_patched_with_a_valid_crc() {
        let mut b = RecordBatchBuilder::new(BuilderOptions::default());
        b.try_append(1, Some(b"k"), Some(b"v"), &[]).unwrap();
        b.try_append(2, None, Some(b"w"), &[]).unwrap();
        let data = b.finish(&BatchMeta::default()).unwrap();
        let patched = set_producer_fields(data, 77, 3, 1000);
        let mut it = RecordBatches::new(patched);
        let batch = it.next().unwrap().unwrap();
        let h = batch.header();
        assert_eq!(h.producer_id, 77);
        assert_eq!(h.producer_epoch, 3);
        assert_eq!(h.base_sequence, 1000);
        assert_eq!(
            batch.records().unwrap().count(),
            2,
            "CRC verified by the reader"
        );
    }
}
