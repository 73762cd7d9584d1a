//! Partitioners: which partition a record goes to.
//!
//! - [`DefaultPartitioner`]: Java's. Keyed records go to `toPositive(murmur2(key)) % n` (the same
//!   partition as the Java client and librdkafka's `murmur2_random`); records without a key use
//!   uniform sticky partitioning (KIP-794): they stick to one partition until about `batch.size`
//!   bytes went there, then move to another, preferring partitions with less data queued
//!   (partitions without a leader are skipped).
//! - [`RoundRobinPartitioner`]: every record to the next available partition.
//! - [`ConsistentRandomPartitioner`]: librdkafka's default, `consistent_random`: CRC-32 of the
//!   key modulo `n`, a random partition for records without a key. For users migrating from
//!   librdkafka who need the same placement.
//! - [`Partitioner`]: implement it for anything else; an explicit partition on the record
//!   bypasses the partitioner.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

/// What a partitioner knows about the topic when it picks.
#[derive(Debug, Clone, Copy)]
pub struct PartitionInput<'a> {
    /// The topic.
    pub topic: &'a str,
    /// Its partition count (at least 1).
    pub partitions: i32,
    /// Partitions that have a leader now (may be empty while leaders move).
    pub available: &'a [i32],
    /// Bytes queued in the producer per partition (index = partition), for adaptive choice.
    pub queued_bytes: &'a [usize],
}

/// Picks the partition of a record that names none.
pub trait Partitioner: Send + Sync + fmt::Debug {
    /// The partition for a record with this key and this many bytes (key + value + headers);
    /// must be in `0..input.partitions` (anything else fails the record).
    fn partition(&self, key: Option<&[u8]>, record_bytes: usize, input: &PartitionInput<'_>)
        -> i32;
}

/// Kafka's murmur2 (the 32-bit MurmurHash2 variant of `org.apache.kafka.common.utils.Utils`).
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let len = data.len();
    let mut h = SEED ^ (len as u32);
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        if let Some(b) = tail.get(2) {
            h ^= u32::from(*b) << 16;
        }
        if let Some(b) = tail.get(1) {
            h ^= u32::from(*b) << 8;
        }
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Kafka's `toPositive`: clears the sign bit (not `abs`, so `i32::MIN` maps to 0).
pub fn to_positive(n: i32) -> i32 {
    n & 0x7fff_ffff
}

/// The partition Java's default partitioner gives a key.
pub fn murmur2_partition(key: &[u8], partitions: i32) -> i32 {
    to_positive(murmur2(key)) % partitions.max(1)
}

fn random_available(input: &PartitionInput<'_>) -> i32 {
    if input.available.is_empty() {
        fastrand::i32(0..input.partitions.max(1))
    } else {
        input.available[fastrand::usize(..input.available.len())]
    }
}

/// Java's default partitioner: murmur2 for keys, uniform sticky (KIP-794) without.
#[derive(Debug)]
pub struct DefaultPartitioner {
    batch_size: usize,
    sticky: Mutex<HashMap<String, Sticky>>,
}

#[derive(Debug, Clone, Copy)]
struct Sticky {
    partition: i32,
    bytes: usize,
}

impl DefaultPartitioner {
    /// A partitioner that switches keyless partitions after `batch_size` bytes.
    pub fn new(batch_size: usize) -> DefaultPartitioner {
        DefaultPartitioner {
            batch_size: batch_size.max(1),
            sticky: Mutex::new(HashMap::new()),
        }
    }

    /// The next sticky partition: among available partitions other than `current`, weighted
    /// towards those with less queued (KIP-794's adaptive choice: a partition whose leader is
    /// slow accumulates data and gets picked less).
    fn next_sticky(input: &PartitionInput<'_>, current: Option<i32>) -> i32 {
        let candidates: Vec<i32> = if input.available.is_empty() {
            (0..input.partitions).collect()
        } else {
            input.available.to_vec()
        };
        if candidates.len() <= 1 {
            return candidates.first().copied().unwrap_or(0);
        }
        let queued = |p: i32| {
            usize::try_from(p)
                .ok()
                .and_then(|i| input.queued_bytes.get(i))
                .copied()
                .unwrap_or(0)
        };
        let max_q = candidates.iter().map(|p| queued(*p)).max().unwrap_or(0);
        // Weight = (max queue - queue + 1): an idle partition weighs most.
        let weights: Vec<u64> = candidates
            .iter()
            .map(|p| {
                if Some(*p) == current {
                    0
                } else {
                    (max_q - queued(*p)) as u64 + 1
                }
            })
            .collect();
        let total: u64 = weights.iter().sum();
        if total == 0 {
            return candidates[fastrand::usize(..candidates.len())];
        }
        let mut pick = fastrand::u64(..total);
        for (p, w) in candidates.iter().zip(&weights) {
            if pick < *w {
                return *p;
            }
            pick -= w;
        }
        candidates[0]
    }
}

impl Partitioner for DefaultPartitioner {
    fn partition(
        &self,
        key: Option<&[u8]>,
        record_bytes: usize,
        input: &PartitionInput<'_>,
    ) -> i32 {
        if input.partitions <= 1 {
            return 0;
        }
        if let Some(k) = key {
            return murmur2_partition(k, input.partitions);
        }
        let mut map = self.sticky.lock().unwrap_or_else(|p| p.into_inner());
        let entry = map.get(input.topic).copied();
        let usable = |p: i32| {
            p < input.partitions && (input.available.is_empty() || input.available.contains(&p))
        };
        let s = match entry {
            Some(s) if s.bytes < self.batch_size && usable(s.partition) => s,
            Some(s) => Sticky {
                partition: Self::next_sticky(input, Some(s.partition)),
                bytes: 0,
            },
            None => Sticky {
                partition: Self::next_sticky(input, None),
                bytes: 0,
            },
        };
        let next = Sticky {
            partition: s.partition,
            bytes: s.bytes + record_bytes,
        };
        match map.get_mut(input.topic) {
            Some(e) => *e = next,
            None => {
                map.insert(input.topic.to_owned(), next);
            }
        }
        s.partition
    }
}

/// Every record to the next available partition in turn (keys ignored).
#[derive(Debug, Default)]
pub struct RoundRobinPartitioner {
    next: AtomicU32,
}

impl Partitioner for RoundRobinPartitioner {
    fn partition(&self, _key: Option<&[u8]>, _bytes: usize, input: &PartitionInput<'_>) -> i32 {
        let n = self.next.fetch_add(1, Ordering::Relaxed) as usize;
        if input.available.is_empty() {
            (n % input.partitions.max(1) as usize) as i32
        } else {
            input.available[n % input.available.len()]
        }
    }
}

/// librdkafka's `consistent_random`: CRC-32 (IEEE) of the key modulo the partition count;
/// random for records without a key.
#[derive(Debug, Default)]
pub struct ConsistentRandomPartitioner;

impl Partitioner for ConsistentRandomPartitioner {
    fn partition(&self, key: Option<&[u8]>, _bytes: usize, input: &PartitionInput<'_>) -> i32 {
        match key {
            Some(k) => (crc32fast::hash(k) % input.partitions.max(1) as u32) as i32,
            None => random_available(input),
        }
    }
}

/// librdkafka's `murmur2_random` (the Java-compatible hash; random without a key).
#[derive(Debug, Default)]
pub struct Murmur2RandomPartitioner;

impl Partitioner for Murmur2RandomPartitioner {
    fn partition(&self, key: Option<&[u8]>, _bytes: usize, input: &PartitionInput<'_>) -> i32 {
        match key {
            Some(k) => murmur2_partition(k, input.partitions),
            None => random_available(input),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_kafka_vectors() {
        // Kafka's UtilsTest.testMurmur2.
        let cases: [(&[u8], i32); 6] = [
            (b"21", -973932308),
            (b"foobar", -790332482),
            (b"a-little-bit-long-string", -985981536),
            (b"a-little-bit-longer-string", -1486304829),
            (
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58897971,
            ),
            (b"abc", 479470107),
        ];
        for (k, want) in cases {
            assert_eq!(murmur2(k), want, "{}", String::from_utf8_lossy(k));
        }
        assert_eq!(to_positive(i32::MIN), 0);
        assert_eq!(to_positive(-1), i32::MAX);
        // toPositive, not abs: -973932308 & 0x7fffffff = 1173551340.
        assert_eq!(murmur2_partition(b"21", 1000), 1173551340 % 1000);
    }

    #[test]
    fn consistent_random_is_crc32() {
        let input = PartitionInput {
            topic: "t",
            partitions: 7,
            available: &[],
            queued_bytes: &[],
        };
        // CRC-32 of "123456789" is 0xCBF43926.
        let p = ConsistentRandomPartitioner.partition(Some(b"123456789"), 9, &input);
        assert_eq!(p as u32, 0xCBF4_3926 % 7);
    }

    #[test]
    fn sticky_switches_after_a_batch_worth_and_skips_unavailable() {
        let part = DefaultPartitioner::new(1000);
        let available = [0, 2, 3];
        let input = PartitionInput {
            topic: "t",
            partitions: 4,
            available: &available,
            queued_bytes: &[0, 0, 0, 0],
        };
        let first = part.partition(None, 100, &input);
        assert!(available.contains(&first));
        for _ in 0..9 {
            assert_eq!(
                part.partition(None, 100, &input),
                first,
                "sticks for a batch"
            );
        }
        let next = part.partition(None, 100, &input);
        assert_ne!(next, first, "switches after batch.size bytes");
        assert!(available.contains(&next));
        // Keys are hashed, not sticky.
        assert_eq!(
            part.partition(Some(b"21"), 1, &input),
            murmur2_partition(b"21", 4)
        );
        // Over many switches every available partition is used and 1 never is.
        let mut seen = [0usize; 4];
        for _ in 0..2000 {
            seen[part.partition(None, 500, &input) as usize] += 1;
        }
        assert_eq!(seen[1], 0);
        assert!(seen[0] > 0 && seen[2] > 0 && seen[3] > 0, "{seen:?}");
    }

    #[test]
    fn sticky_prefers_partitions_with_less_queued() {
        let input = PartitionInput {
            topic: "t",
            partitions: 3,
            available: &[0, 1, 2],
            queued_bytes: &[0, 0, 1_000_000],
        };
        // Moving away from 0: 1 has nothing queued, 2 has a megabyte waiting (a slow leader).
        let mut seen = [0usize; 3];
        for _ in 0..1000 {
            seen[DefaultPartitioner::next_sticky(&input, Some(0)) as usize] += 1;
        }
        assert_eq!(seen[0], 0, "never the partition it leaves");
        assert!(seen[1] > 990, "{seen:?}");
    }

    #[test]
    fn round_robin_cycles_available() {
        let rr = RoundRobinPartitioner::default();
        let input = PartitionInput {
            topic: "t",
            partitions: 5,
            available: &[1, 3],
            queued_bytes: &[],
        };
        let got: Vec<i32> = (0..4)
            .map(|_| rr.partition(Some(b"k"), 1, &input))
            .collect();
        assert_eq!(got, vec![1, 3, 1, 3]);
    }
}
