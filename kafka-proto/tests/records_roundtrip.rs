//! Round trips: every codec × (with/without keys, headers, null values, transactional, control).

use bytes::Bytes;
use kafka_proto::record::{
    BatchMeta, BatchView, BuilderOptions, Compression, ControlRecord, ControlType, Header,
    RecordBatchBuilder, RecordBatches, TimestampType,
};

#[derive(Debug, Clone, PartialEq)]
struct Rec {
    offset: i64,
    timestamp: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

fn decode_all(bytes: Bytes) -> Vec<(kafka_proto::record::BatchHeader, Vec<Rec>)> {
    let mut batches = RecordBatches::new(bytes);
    let mut out = Vec::new();
    for batch in &mut batches {
        let batch = batch.unwrap();
        let recs = batch
            .records()
            .unwrap()
            .map(|r| {
                let r = r.unwrap();
                Rec {
                    offset: r.offset(),
                    timestamp: r.timestamp(),
                    key: r.key().map(<[u8]>::to_vec),
                    value: r.value().map(<[u8]>::to_vec),
                    headers: r
                        .headers()
                        .map(|h| (h.key.to_vec(), h.value.map(<[u8]>::to_vec)))
                        .collect(),
                }
            })
            .collect();
        out.push((*batch.header(), recs));
    }
    assert!(batches.incomplete_tail().is_none());
    out
}

fn sample_records(n: usize, keys: bool, headers: bool, nulls: bool) -> Vec<Rec> {
    (0..n)
        .map(|i| Rec {
            offset: i as i64,
            // Out of order on purpose: max timestamp must be the max, not the last.
            timestamp: 1_700_000_000_000 + ((i * 7919) % 1000) as i64 - 500,
            key: (keys && !(nulls && i % 3 == 0)).then(|| format!("key-{i:05}").into_bytes()),
            value: (!(nulls && i % 2 == 0)).then(|| vec![(i % 251) as u8; i % 300]),
            headers: if headers {
                (0..i % 4)
                    .map(|h| {
                        let v = (!(nulls && h == 1)).then(|| format!("v{h}-{i}").into_bytes());
                        (format!("h{h}").into_bytes(), v)
                    })
                    .collect()
            } else {
                Vec::new()
            },
        })
        .collect()
}

fn build(recs: &[Rec], options: BuilderOptions, meta: &BatchMeta) -> Bytes {
    let mut b = RecordBatchBuilder::new(options.max_bytes(usize::MAX));
    for r in recs {
        let headers: Vec<Header<'_>> = r
            .headers
            .iter()
            .map(|(k, v)| Header {
                key: k,
                value: v.as_deref(),
            })
            .collect();
        assert!(b
            .try_append(r.timestamp, r.key.as_deref(), r.value.as_deref(), &headers)
            .unwrap());
    }
    assert_eq!(b.len(), recs.len());
    b.finish(meta).unwrap()
}

#[test]
fn every_codec_and_shape_round_trips() {
    let mut cases = 0;
    for codec in Compression::ALL {
        for keys in [false, true] {
            for headers in [false, true] {
                for nulls in [false, true] {
                    for transactional in [false, true] {
                        let recs = sample_records(200, keys, headers, nulls);
                        let meta = BatchMeta {
                            base_offset: 1000,
                            partition_leader_epoch: 4,
                            producer_id: if transactional { 77 } else { -1 },
                            producer_epoch: if transactional { 2 } else { -1 },
                            base_sequence: if transactional { 10 } else { -1 },
                        };
                        let options = BuilderOptions::default()
                            .compression(codec)
                            .transactional(transactional);
                        let bytes = build(&recs, options, &meta);
                        let decoded = decode_all(bytes);
                        assert_eq!(decoded.len(), 1);
                        let (h, got) = &decoded[0];
                        assert_eq!(h.compression(), Some(codec));
                        assert_eq!(h.is_transactional(), transactional);
                        assert!(!h.is_control());
                        assert_eq!(h.magic, 2);
                        assert_eq!(h.base_offset, 1000);
                        assert_eq!(h.partition_leader_epoch, 4);
                        assert_eq!(
                            (h.producer_id, h.producer_epoch, h.base_sequence),
                            (meta.producer_id, meta.producer_epoch, meta.base_sequence)
                        );
                        assert_eq!(h.records_count, 200);
                        assert_eq!(h.last_offset_delta, 199);
                        assert_eq!(h.base_timestamp, recs[0].timestamp);
                        assert_eq!(
                            h.max_timestamp,
                            recs.iter().map(|r| r.timestamp).max().unwrap()
                        );
                        let want: Vec<Rec> = recs
                            .iter()
                            .map(|r| Rec {
                                offset: r.offset + 1000,
                                ..r.clone()
                            })
                            .collect();
                        assert_eq!(
                            got, &want,
                            "{codec:?} keys={keys} headers={headers} nulls={nulls}"
                        );
                        cases += 1;
                    }
                }
            }
        }
    }
    assert_eq!(cases, 5 * 16);
}

#[test]
fn control_batches_round_trip_for_every_codec() {
    for codec in Compression::ALL {
        for commit in [true, false] {
            let marker = ControlRecord::marker(commit, 9);
            // Through the helper (uncompressed, as brokers write markers) ...
            let meta = BatchMeta {
                base_offset: 55,
                producer_id: 3,
                producer_epoch: 1,
                ..Default::default()
            };
            let helper = RecordBatchBuilder::control_batch(marker, 123, &meta).unwrap();
            // ... and through the builder with a codec.
            let mut b = RecordBatchBuilder::new(
                BuilderOptions::default()
                    .compression(codec)
                    .transactional(true)
                    .control(true),
            );
            let value = marker.encode_value().unwrap();
            b.try_append(123, Some(&marker.encode_key()), Some(&value), &[])
                .unwrap();
            let built = b.finish(&meta).unwrap();
            for bytes in [helper, built] {
                let batch = RecordBatches::new(bytes).next().unwrap().unwrap();
                assert!(batch.is_control() && batch.header().is_transactional());
                let recs: Vec<_> = batch.records().unwrap().collect();
                assert_eq!(recs.len(), 1);
                let r = recs[0].as_ref().unwrap();
                assert!(r.is_control());
                let c = r.control().unwrap().unwrap();
                assert_eq!(
                    c.kind,
                    if commit {
                        ControlType::Commit
                    } else {
                        ControlType::Abort
                    }
                );
                assert_eq!(c.coordinator_epoch, Some(9));
                assert_eq!(r.offset(), 55);
            }
        }
    }
}

#[test]
fn many_batches_in_one_buffer_and_view_rewrites() {
    let mut all = Vec::new();
    let mut expected = Vec::new();
    for (i, codec) in Compression::ALL.iter().enumerate() {
        let recs = sample_records(50, true, true, true);
        let bytes = build(
            &recs,
            BuilderOptions::default().compression(*codec),
            &BatchMeta::default(),
        );
        let mut owned = bytes.to_vec();
        let mut view = BatchView::parse(&mut owned).unwrap();
        view.set_base_offset(i as i64 * 50);
        view.set_partition_leader_epoch(i as i32);
        view.set_log_append_time(42_000 + i as i64);
        assert_eq!(view.header().base_offset, i as i64 * 50);
        assert_eq!(view.len(), owned.len());
        all.extend_from_slice(&owned);
        expected.push(recs);
    }
    let decoded = decode_all(Bytes::from(all));
    assert_eq!(decoded.len(), 5);
    for (i, (h, recs)) in decoded.iter().enumerate() {
        assert_eq!(h.partition_leader_epoch, i as i32);
        assert_eq!(h.timestamp_type(), TimestampType::LogAppendTime);
        assert_eq!(recs.len(), 50);
        for (j, r) in recs.iter().enumerate() {
            assert_eq!(r.offset, (i * 50 + j) as i64);
            assert_eq!(
                r.timestamp,
                42_000 + i as i64,
                "log-append time applies to every record"
            );
            assert_eq!(r.key, expected[i][j].key);
            assert_eq!(r.value, expected[i][j].value);
        }
    }
}

#[test]
fn builder_respects_byte_budget() {
    for codec in Compression::ALL {
        let mut b = RecordBatchBuilder::new(
            BuilderOptions::default()
                .compression(codec)
                .max_bytes(16 * 1024),
        );
        let value = [7u8; 84];
        let mut n = 0;
        while b
            .try_append(n, Some(&[1u8; 16]), Some(&value), &[])
            .unwrap()
        {
            n += 1;
        }
        assert!(b.estimated_size() <= 16 * 1024);
        assert!(n > 100);
        let bytes = b.finish(&BatchMeta::default()).unwrap();
        if codec == Compression::None {
            assert!(bytes.len() <= 16 * 1024);
        }
        let batch = RecordBatches::new(bytes).next().unwrap().unwrap();
        assert_eq!(batch.records().unwrap().count() as i64, n);
    }
    // The first record is accepted even when larger than the budget.
    let mut b = RecordBatchBuilder::new(BuilderOptions::default().max_bytes(10));
    assert!(b.try_append(0, None, Some(&[0u8; 100]), &[]).unwrap());
    assert!(!b.try_append(0, None, Some(b"x"), &[]).unwrap());
    assert_eq!(b.len(), 1);
}

#[test]
fn record_bytes_share_the_buffer() {
    let recs = sample_records(10, true, false, false);
    let bytes = build(&recs, BuilderOptions::default(), &BatchMeta::default());
    let range = bytes.as_ptr_range();
    let batch = RecordBatches::new(bytes.clone()).next().unwrap().unwrap();
    for r in batch.records().unwrap() {
        let r = r.unwrap();
        let v = r.value_bytes().unwrap();
        if !v.is_empty() {
            assert!(range.contains(&v.as_ptr()), "value_bytes must not copy");
        }
        assert_eq!(&v[..], r.value().unwrap());
        assert_eq!(r.key_bytes().as_deref(), r.key());
    }
}

#[test]
fn empty_batch_is_valid() {
    let b = RecordBatchBuilder::new(BuilderOptions::default().compression(Compression::Gzip));
    assert!(b.is_empty());
    let bytes = b.finish(&BatchMeta::default()).unwrap();
    let batch = RecordBatches::new(bytes).next().unwrap().unwrap();
    assert_eq!(batch.header().records_count, 0);
    assert_eq!(batch.records().unwrap().count(), 0);
}

/// Record `i`'s 300-byte value in batch `seed`: pseudo-random, so that batches of them do not
/// shrink below the size under which a batch gets a fresh buffer instead of a reused one.
fn noisy_value(seed: u8, i: usize) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ (u64::from(seed) << 32) ^ i as u64;
    (0..300)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// A snappy batch of `n` records, values `noisy_value(seed, i)`.
fn snappy_batch(n: usize, seed: u8) -> Bytes {
    let options = BuilderOptions::default()
        .compression(Compression::Snappy)
        .max_bytes(1 << 20);
    let mut b = RecordBatchBuilder::new(options);
    for i in 0..n {
        let value = noisy_value(seed, i);
        assert!(b
            .try_append(
                i as i64,
                Some(format!("k{i}").as_bytes()),
                Some(&value),
                &[]
            )
            .unwrap());
    }
    b.finish(&BatchMeta::default()).unwrap()
}

/// The first record's value of the only batch in `input`, as a handle sharing its buffer.
fn first_value(input: Bytes) -> Bytes {
    let batch = RecordBatches::new(input).next().unwrap().unwrap();
    let first = batch.records().unwrap().next().unwrap().unwrap();
    first.value_bytes().unwrap()
}

/// Decompression buffers are reused across batches once nothing holds them, and never while
/// something does: a later (smaller) batch decoded into a reused buffer reads correctly, and
/// data an application kept from an earlier batch is never overwritten.
#[test]
fn decompression_buffers_are_reused_only_when_free() {
    // Held: the second batch must not land in the first one's buffer.
    let held = first_value(snappy_batch(200, 1));
    let second = first_value(snappy_batch(50, 2));
    assert_eq!(held, noisy_value(1, 0));
    assert_eq!(second, noisy_value(2, 0));
    assert_ne!(held.as_ptr(), second.as_ptr());

    // Freed: the next batch reuses the buffer (same address) and decodes exactly.
    let address = second.as_ptr();
    drop(second);
    let batch = RecordBatches::new(snappy_batch(20, 3))
        .next()
        .unwrap()
        .unwrap();
    let records: Vec<_> = batch.records().unwrap().map(Result::unwrap).collect();
    assert_eq!(records.len(), 20);
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r.value(), Some(&noisy_value(3, i)[..]));
    }
    assert_eq!(records[0].value().unwrap().as_ptr(), address);
    assert_eq!(records[19].key(), Some(&b"k19"[..]));
    assert_eq!(held, noisy_value(1, 0));
}
