//! Record batches (magic 2, KIP-98), legacy message sets (magic 0/1, KIP-31/32) and compression
//! (gzip, snappy, lz4 with the KIP-57 quirk, zstd per KIP-110).
//!
//! References: the "Record Batch" section of Apache Kafka's protocol documentation
//! (`DefaultRecordBatch` / `DefaultRecord`), KIP-98 (transactions: producer id/epoch/sequence,
//! control batches), KIP-32/31 (legacy timestamps and relative offsets), KIP-57 (lz4 header
//! checksum), KIP-110 (zstd), KIP-534 (delete horizon).
//!
//! # Reading (consumers, the broker's log)
//! * [`RecordBatches`] iterates the batches of a [`Bytes`](bytes::Bytes) buffer, yielding
//!   `Result<`[`Batch`]`>` with the header parsed and the CRC verified once per batch. A partial
//!   last batch (fetch responses are cut at a byte limit) ends iteration quietly and is reported
//!   by [`RecordBatches::incomplete_tail`]. Legacy messages are yielded as batches too.
//! * [`Batch::header`] gives the [`BatchHeader`] without touching the records;
//!   [`Batch::records`] returns a lazy [`Records`] iterator of [`Record`]s whose key, value and
//!   [`Header`]s borrow from the buffer (no allocation per record; a compressed batch is inflated
//!   once into one buffer, bounded by [`ReadOptions::decompression_limit`]).
//! * Errors are [`RecordError`]s naming the batch's base offset and byte position.
//!
//! # Writing (producers)
//! [`RecordBatchBuilder::new`]`(`[`BuilderOptions`]`)`, then
//! [`try_append`](RecordBatchBuilder::try_append)`(timestamp, key, value, headers)` until it
//! returns `false` (byte budget reached), then [`finish`](RecordBatchBuilder::finish)`(&`[`BatchMeta`]`)`
//! for the encoded batch. [`RecordBatchBuilder::control_batch`] writes a transaction marker.
//!
//! # The broker
//! [`BatchView::parse`] validates a batch in a `&mut [u8]` (header and CRC, records untouched) and
//! rewrites the base offset and partition leader epoch in place; [`BatchViewsMut`] walks a
//! Produce request's records that way.
//!
//! # Compression
//! [`Compression`] has [`compress`](Compression::compress) and bounded
//! [`decompress`](Compression::decompress), usable on their own.
//!
//! ```
//! use kafka_proto::record::*;
//!
//! let mut builder = RecordBatchBuilder::new(BuilderOptions::default().compression(Compression::Zstd));
//! for i in 0..3u8 {
//!     builder.try_append(1_000 + i64::from(i), Some(&[i]), Some(b"payload"), &[])?;
//! }
//! let mut bytes = builder.finish(&BatchMeta::default())?.to_vec();
//!
//! // Broker side: assign offsets without decoding.
//! let mut view = BatchView::parse(&mut bytes)?;
//! view.set_base_offset(500);
//! view.set_partition_leader_epoch(3);
//!
//! // Consumer side.
//! let batch = RecordBatches::new(bytes.into()).next().unwrap()?;
//! assert_eq!(batch.header().partition_leader_epoch, 3);
//! let offsets: Vec<i64> = batch.records()?.map(|r| r.map(|r| r.offset())).collect::<Result<_, _>>()?;
//! assert_eq!(offsets, [500, 501, 502]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod batch;
mod builder;
mod compression;
mod control;
mod error;
mod legacy;
mod reader;
mod records;
mod varint;
mod view;

pub use batch::{
    crc32c, Attributes, BatchHeader, TimestampType, BATCH_HEADER_SIZE, HEADER_SIZE_UP_TO_MAGIC,
    LOG_OVERHEAD,
};
pub use builder::{BatchMeta, BuilderOptions, RecordBatchBuilder};
pub use compression::{Compression, DEFAULT_DECOMPRESSION_LIMIT};
pub use control::{ControlRecord, ControlType};
pub use error::{BuildError, CompressionError, RecordError, RecordErrorKind};
#[doc(hidden)]
pub use legacy::encode_message as encode_legacy_message;
pub use reader::{Batch, IncompleteTail, ReadOptions, RecordBatches};
pub use records::{Header, Headers, Record, Records};
pub use view::{BatchView, BatchViewsMut};
