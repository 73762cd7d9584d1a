//! The fixed RecordBatch (magic 2) header, its attributes, and CRC-32C.
//!
//! ```text
//! offset  size  field
//!      0     8  baseOffset
//!      8     4  batchLength            (bytes after this field)
//!     12     4  partitionLeaderEpoch   (not covered by the CRC)
//!     16     1  magic (2)
//!     17     4  crc                    (CRC-32C of attributes .. end)
//!     21     2  attributes
//!     23     4  lastOffsetDelta
//!     27     8  baseTimestamp
//!     35     8  maxTimestamp
//!     43     8  producerId
//!     51     2  producerEpoch
//!     53     4  baseSequence
//!     57     4  recordsCount
//!     61        records
//! ```

use super::Compression;

/// Bytes before the batch length field ends: base offset (8) + batch length (4).
pub const LOG_OVERHEAD: usize = 12;
/// Bytes of a batch up to and including the magic byte (enough to tell the format apart).
pub const HEADER_SIZE_UP_TO_MAGIC: usize = 17;
/// Size of the fixed magic-2 batch header.
pub const BATCH_HEADER_SIZE: usize = 61;
/// Offset of the partition leader epoch field.
pub(crate) const PARTITION_LEADER_EPOCH_OFFSET: usize = 12;
/// Offset of the magic byte (the same for all three formats).
pub(crate) const MAGIC_OFFSET: usize = 16;
/// Offset of the CRC field.
pub(crate) const CRC_OFFSET: usize = 17;
/// Offset of the attributes field: the CRC covers from here to the end of the batch.
pub(crate) const ATTRIBUTES_OFFSET: usize = 21;
/// Offset of the max timestamp field.
pub(crate) const MAX_TIMESTAMP_OFFSET: usize = 35;
/// Smallest legal value of the length field of a legacy message (magic 0 with no key or value).
pub(crate) const LEGACY_MIN_LENGTH: usize = 14;

const COMPRESSION_MASK: u16 = 0x07;
const TIMESTAMP_TYPE_BIT: u16 = 0x08;
const TRANSACTIONAL_BIT: u16 = 0x10;
const CONTROL_BIT: u16 = 0x20;
const DELETE_HORIZON_BIT: u16 = 0x40;

/// CRC-32C (Castagnoli) of `bytes`, hardware accelerated where the CPU offers it (carry-less
/// multiply folding, VPCLMULQDQ/AVX-512 where present; about twice the SSE4.2 `crc32`
/// instruction loop on the batch sizes Kafka uses).
///
/// ```
/// assert_eq!(kafka_proto::record::crc32c(b"123456789"), 0xE306_9283);
/// ```
pub fn crc32c(bytes: &[u8]) -> u32 {
    // CRC-32/ISCSI is CRC-32C; the 32-bit result is returned widened.
    crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32Iscsi, bytes) as u32
}

/// How record timestamps in a batch are to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TimestampType {
    /// Set by the producer (attribute bit 3 clear).
    #[default]
    CreateTime,
    /// Set by the broker on append (attribute bit 3 set); every record takes the batch's max timestamp.
    LogAppendTime,
    /// Magic 0 messages carry no timestamp.
    NoTimestamp,
}

/// The attributes of a batch (for legacy messages: of the top-level message, widened).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Attributes(pub u16);

impl Attributes {
    /// Builds attributes from their parts.
    pub fn new(
        compression: Compression,
        timestamp_type: TimestampType,
        transactional: bool,
        control: bool,
    ) -> Self {
        let mut bits = u16::from(compression.id());
        if timestamp_type == TimestampType::LogAppendTime {
            bits |= TIMESTAMP_TYPE_BIT;
        }
        if transactional {
            bits |= TRANSACTIONAL_BIT;
        }
        if control {
            bits |= CONTROL_BIT;
        }
        Self(bits)
    }

    /// The raw codec id (bits 0–2).
    pub fn compression_id(self) -> u8 {
        (self.0 & COMPRESSION_MASK) as u8
    }

    /// The codec, or `None` for the unassigned ids 5–7.
    pub fn compression(self) -> Option<Compression> {
        Compression::from_id(self.compression_id())
    }

    /// Bit 3: the timestamp type (for magic 2 and 1).
    pub fn timestamp_type(self) -> TimestampType {
        if self.0 & TIMESTAMP_TYPE_BIT != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }

    /// Bit 4: the batch belongs to a transaction (KIP-98).
    pub fn is_transactional(self) -> bool {
        self.0 & TRANSACTIONAL_BIT != 0
    }

    /// Bit 5: the batch holds control records (transaction markers and other control records).
    pub fn is_control(self) -> bool {
        self.0 & CONTROL_BIT != 0
    }

    /// Bit 6: the base timestamp holds the delete horizon of a compacted batch (KIP-534).
    pub fn has_delete_horizon(self) -> bool {
        self.0 & DELETE_HORIZON_BIT != 0
    }
}

/// Batch-level metadata, readable without touching the records.
///
/// For legacy (magic 0/1) entries the fields are derived: the producer fields are -1, the
/// partition leader epoch is -1, and for a compressed wrapper `base_offset`, `last_offset_delta`
/// and `records_count` describe the inner messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct BatchHeader {
    /// Offset of the first record.
    pub base_offset: i64,
    /// The length field: bytes following it.
    pub batch_length: i32,
    /// Leader epoch stamped by the broker (-1 when unknown or legacy).
    pub partition_leader_epoch: i32,
    /// Format: 0, 1 or 2.
    pub magic: i8,
    /// The CRC as stored (CRC-32C for magic 2, CRC-32 for legacy messages).
    pub crc: u32,
    /// Codec, timestamp type, transactional, control and delete-horizon bits.
    pub attributes: Attributes,
    /// Offset of the last record minus `base_offset`.
    pub last_offset_delta: i32,
    /// Timestamp of the first record (or the delete horizon, see [`Attributes::has_delete_horizon`]).
    pub base_timestamp: i64,
    /// Largest record timestamp (or the log-append time).
    pub max_timestamp: i64,
    /// Idempotent / transactional producer id, -1 if none.
    pub producer_id: i64,
    /// Producer epoch, -1 if none.
    pub producer_epoch: i16,
    /// Sequence number of the first record, -1 if none.
    pub base_sequence: i32,
    /// Number of records the batch declares.
    pub records_count: i32,
}

impl BatchHeader {
    /// Offset of the last record in the batch.
    pub fn last_offset(&self) -> i64 {
        self.base_offset
            .wrapping_add(i64::from(self.last_offset_delta))
    }

    /// The offset after the batch (`last_offset() + 1`).
    pub fn next_offset(&self) -> i64 {
        self.last_offset().wrapping_add(1)
    }

    /// Total size of the batch in bytes, including the offset and length fields.
    pub fn size_in_bytes(&self) -> usize {
        LOG_OVERHEAD + usize::try_from(self.batch_length).unwrap_or(0)
    }

    /// The codec, or `None` for the unassigned ids 5–7.
    pub fn compression(&self) -> Option<Compression> {
        self.attributes.compression()
    }

    /// How record timestamps are to be read ([`TimestampType::NoTimestamp`] for magic 0).
    pub fn timestamp_type(&self) -> TimestampType {
        if self.magic == 0 {
            TimestampType::NoTimestamp
        } else {
            self.attributes.timestamp_type()
        }
    }

    /// Whether the batch belongs to a transaction.
    pub fn is_transactional(&self) -> bool {
        self.attributes.is_transactional()
    }

    /// Whether the batch holds control records.
    pub fn is_control(&self) -> bool {
        self.attributes.is_control()
    }

    /// Parses the fixed 61-byte magic-2 header at the start of `bytes` (no validation).
    pub(crate) fn parse_v2(bytes: &[u8]) -> Option<Self> {
        let mut r = Be(bytes);
        Some(Self {
            base_offset: r.i64()?,
            batch_length: r.i32()?,
            partition_leader_epoch: r.i32()?,
            magic: r.i8()?,
            crc: r.u32()?,
            attributes: Attributes(r.u16()?),
            last_offset_delta: r.i32()?,
            base_timestamp: r.i64()?,
            max_timestamp: r.i64()?,
            producer_id: r.i64()?,
            producer_epoch: r.i16()?,
            base_sequence: r.i32()?,
            records_count: r.i32()?,
        })
    }

    /// Writes the fixed header into the first 61 bytes of `out` (the CRC as stored in `self`).
    pub(crate) fn write_v2(&self, out: &mut [u8; BATCH_HEADER_SIZE]) {
        let mut w = out.as_mut_slice();
        put(&mut w, &self.base_offset.to_be_bytes());
        put(&mut w, &self.batch_length.to_be_bytes());
        put(&mut w, &self.partition_leader_epoch.to_be_bytes());
        put(&mut w, &self.magic.to_be_bytes());
        put(&mut w, &self.crc.to_be_bytes());
        put(&mut w, &self.attributes.0.to_be_bytes());
        put(&mut w, &self.last_offset_delta.to_be_bytes());
        put(&mut w, &self.base_timestamp.to_be_bytes());
        put(&mut w, &self.max_timestamp.to_be_bytes());
        put(&mut w, &self.producer_id.to_be_bytes());
        put(&mut w, &self.producer_epoch.to_be_bytes());
        put(&mut w, &self.base_sequence.to_be_bytes());
        put(&mut w, &self.records_count.to_be_bytes());
    }
}

fn put(w: &mut &mut [u8], bytes: &[u8]) {
    let taken = std::mem::take(w);
    if let Some((head, tail)) = taken.split_at_mut_checked(bytes.len()) {
        head.copy_from_slice(bytes);
        *w = tail;
    }
}

/// A big-endian reader over a slice for fixed-size header fields.
pub(crate) struct Be<'a>(pub(crate) &'a [u8]);

macro_rules! be_read {
    ($($name:ident: $ty:ty),*) => {$(
        #[inline]
        pub(crate) fn $name(&mut self) -> Option<$ty> {
            let (head, tail) = self.0.split_first_chunk::<{ std::mem::size_of::<$ty>() }>()?;
            self.0 = tail;
            Some(<$ty>::from_be_bytes(*head))
        }
    )*};
}

impl Be<'_> {
    be_read!(i8: i8, i16: i16, u16: u16, i32: i32, u32: u32, i64: i64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_known_vectors() {
        // RFC 3720 (iSCSI) appendix B.4 and the common check value.
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
        assert_eq!(crc32c(&[0xffu8; 32]), 0x62A8_AB43);
        let ascending: Vec<u8> = (0u8..32).collect();
        assert_eq!(crc32c(&ascending), 0x46DD_794E);
        let descending: Vec<u8> = (0u8..32).rev().collect();
        assert_eq!(crc32c(&descending), 0x113F_DB5C);
        assert_eq!(crc32c(b""), 0);
    }

    /// The accelerated paths (folding blocks, tails, alignment) against a bit-at-a-time
    /// reference, at every length up to 2 KiB and a few large ones, at odd offsets.
    #[test]
    fn crc32c_matches_a_bitwise_reference_at_every_length() {
        fn reference(bytes: &[u8]) -> u32 {
            let mut crc = !0u32;
            for &b in bytes {
                crc ^= u32::from(b);
                for _ in 0..8 {
                    crc = if crc & 1 == 1 {
                        (crc >> 1) ^ 0x82F6_3B78
                    } else {
                        crc >> 1
                    };
                }
            }
            !crc
        }
        let data: Vec<u8> = (0..70_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
            .collect();
        for len in (0..2048).chain([4095, 4096, 16_383, 65_537]) {
            for start in [0, 1, 7] {
                let s = &data[start..start + len];
                assert_eq!(crc32c(s), reference(s), "length {len} at {start}");
            }
        }
    }

    #[test]
    fn header_round_trip() {
        let h = BatchHeader {
            base_offset: 42,
            batch_length: 100,
            partition_leader_epoch: 7,
            magic: 2,
            crc: 0xdead_beef,
            attributes: Attributes::new(
                Compression::Zstd,
                TimestampType::LogAppendTime,
                true,
                true,
            ),
            last_offset_delta: 3,
            base_timestamp: 1,
            max_timestamp: 2,
            producer_id: 99,
            producer_epoch: 5,
            base_sequence: 11,
            records_count: 4,
        };
        let mut buf = [0u8; BATCH_HEADER_SIZE];
        h.write_v2(&mut buf);
        assert_eq!(BatchHeader::parse_v2(&buf), Some(h));
        assert_eq!(h.compression(), Some(Compression::Zstd));
        assert!(h.is_transactional() && h.is_control());
        assert_eq!(h.timestamp_type(), TimestampType::LogAppendTime);
        assert_eq!(h.last_offset(), 45);
        assert_eq!(h.size_in_bytes(), 112);
    }
}
