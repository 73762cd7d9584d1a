//! Legacy message sets (magic 0/1) with wrapper compression, the KIP-57 lz4 quirk, and
//! Java-style xerial snappy built by hand from the documented layout.

use bytes::Bytes;
use kafka_proto::record::{
    crc32c, encode_legacy_message, Compression, RecordBatches, RecordErrorKind, TimestampType,
};

/// (offset, timestamp, key, value) of every record.
type Flat = (i64, i64, Option<Vec<u8>>, Option<Vec<u8>>);

fn read(bytes: Vec<u8>) -> Vec<Flat> {
    let mut out = Vec::new();
    let mut it = RecordBatches::new(Bytes::from(bytes));
    for b in &mut it {
        let b = b.unwrap();
        for r in b.records().unwrap() {
            let r = r.unwrap();
            out.push((
                r.offset(),
                r.timestamp(),
                r.key().map(<[u8]>::to_vec),
                r.value().map(<[u8]>::to_vec),
            ));
        }
    }
    assert!(it.incomplete_tail().is_none());
    out
}

/// The Java client's snappy framing (snappy-java `SnappyOutputStream`): magic `\x82SNAPPY\x00`,
/// version 1 and compatible version 1 as big-endian i32s, then big-endian i32 length-prefixed raw
/// snappy blocks of up to 32 KiB of input.
fn java_xerial_snappy(payload: &[u8]) -> Vec<u8> {
    let mut out = b"\x82SNAPPY\x00".to_vec();
    out.extend_from_slice(&1i32.to_be_bytes());
    out.extend_from_slice(&1i32.to_be_bytes());
    for chunk in payload.chunks(32 * 1024) {
        let block = snap::raw::Encoder::new().compress_vec(chunk).unwrap();
        out.extend_from_slice(&(block.len() as i32).to_be_bytes());
        out.extend_from_slice(&block);
    }
    out
}

/// An LZ4 frame as pre-KIP-57 Kafka wrote it for magic 0: the header checksum byte is computed
/// over the magic number too, so it differs from the standard one.
fn lz4_with_broken_header_checksum(payload: &[u8]) -> Vec<u8> {
    let mut framed = Vec::new();
    Compression::Lz4
        .compress(payload, None, &mut framed)
        .unwrap();
    assert_eq!(framed[6], 0x82, "standard checksum for FLG 0x60, BD 0x40");
    framed[6] = 0x26; // anything but the standard value
    framed
}

fn inner_set(magic: i8, n: i64, relative: bool) -> Vec<u8> {
    let mut inner = Vec::new();
    for i in 0..n {
        let offset = if relative { i } else { 1000 + i };
        encode_legacy_message(
            &mut inner,
            offset,
            magic,
            0,
            5000 + i,
            Some(format!("k{i}").as_bytes()),
            Some(format!("value {i}").as_bytes()),
        );
    }
    inner
}

#[test]
fn uncompressed_v0_and_v1_sets() {
    let mut set = Vec::new();
    encode_legacy_message(&mut set, 0, 0, 0, 0, Some(b"a"), Some(b"1"));
    encode_legacy_message(&mut set, 1, 0, 0, 0, None, None);
    encode_legacy_message(&mut set, 2, 1, 0, 77, Some(b"c"), Some(b"3"));
    let got = read(set);
    assert_eq!(
        got,
        vec![
            (0, -1, Some(b"a".to_vec()), Some(b"1".to_vec())),
            (1, -1, None, None),
            (2, 77, Some(b"c".to_vec()), Some(b"3".to_vec())),
        ]
    );
}

#[test]
fn compressed_wrappers_every_codec_both_magics() {
    for magic in [0i8, 1] {
        for codec in [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let inner = inner_set(magic, 20, magic == 1);
            let compressed = match (codec, magic) {
                (Compression::Snappy, _) => java_xerial_snappy(&inner),
                (Compression::Lz4, 0) => lz4_with_broken_header_checksum(&inner),
                _ => {
                    let mut c = Vec::new();
                    codec.compress(&inner, None, &mut c).unwrap();
                    c
                }
            };
            let mut set = Vec::new();
            // magic 1: wrapper offset = absolute offset of the last inner message.
            encode_legacy_message(
                &mut set,
                1019,
                magic,
                codec.id() as i8,
                9999,
                None,
                Some(&compressed),
            );
            let mut batches = RecordBatches::new(Bytes::from(set));
            let b = batches.next().unwrap().unwrap();
            let h = *b.header();
            assert_eq!(
                (h.magic, h.compression(), h.records_count),
                (magic, Some(codec), 20)
            );
            assert_eq!(
                (h.base_offset, h.last_offset()),
                (1000, 1019),
                "{codec:?} magic {magic}"
            );
            let recs: Vec<_> = b.records().unwrap().map(Result::unwrap).collect();
            assert_eq!(recs.len(), 20);
            for (i, r) in recs.iter().enumerate() {
                assert_eq!(r.offset(), 1000 + i as i64);
                assert_eq!(r.timestamp(), if magic == 1 { 5000 + i as i64 } else { -1 });
                assert_eq!(r.key(), Some(format!("k{i}").as_bytes()));
                assert_eq!(r.value(), Some(format!("value {i}").as_bytes()));
                assert_eq!(r.header_count(), 0);
            }
        }
    }
}

#[test]
fn v1_log_append_time_applies_to_inner_messages() {
    let inner = inner_set(1, 3, true);
    let mut gz = Vec::new();
    Compression::Gzip.compress(&inner, None, &mut gz).unwrap();
    let mut set = Vec::new();
    encode_legacy_message(&mut set, 2, 1, 0x08 | 1, 31_337, None, Some(&gz));
    let b = RecordBatches::new(Bytes::from(set))
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(b.header().timestamp_type(), TimestampType::LogAppendTime);
    assert_eq!(b.header().max_timestamp, 31_337);
    assert!(b
        .records()
        .unwrap()
        .all(|r| r.unwrap().timestamp() == 31_337));
}

#[test]
fn legacy_and_v2_mixed_in_one_log() {
    let mut log = Vec::new();
    encode_legacy_message(&mut log, 0, 0, 0, 0, Some(b"old"), Some(b"v0"));
    encode_legacy_message(&mut log, 1, 1, 0, 10, Some(b"old"), Some(b"v1"));
    let mut b = kafka_proto::record::RecordBatchBuilder::new(Default::default());
    b.try_append(20, Some(b"new"), Some(b"v2"), &[]).unwrap();
    log.extend_from_slice(
        &b.finish(&kafka_proto::record::BatchMeta {
            base_offset: 2,
            ..Default::default()
        })
        .unwrap(),
    );
    let got = read(log);
    let values: Vec<_> = got.iter().map(|r| (r.0, r.3.clone().unwrap())).collect();
    assert_eq!(
        values,
        vec![
            (0, b"v0".to_vec()),
            (1, b"v1".to_vec()),
            (2, b"v2".to_vec())
        ]
    );
}

#[test]
fn legacy_crc_is_checked() {
    let mut set = Vec::new();
    encode_legacy_message(&mut set, 42, 1, 0, 0, Some(b"k"), Some(b"v"));
    let n = set.len();
    set[n - 1] ^= 0x20;
    let e = RecordBatches::new(Bytes::from(set))
        .next()
        .unwrap()
        .unwrap_err();
    assert_eq!(e.batch_offset, 42);
    assert!(matches!(e.kind, RecordErrorKind::CrcMismatch { .. }));
}

#[test]
fn java_xerial_snappy_v2_batch_decodes() {
    // A magic-2 batch whose records are snappy-compressed with the Java client's xerial framing,
    // assembled byte by byte from the documented layouts.
    let mut records = Vec::new();
    let n = 3000; // > 32 KiB of records: several xerial blocks
    for i in 0..n {
        let key = format!("key-{i}");
        let value = format!("java-value-{i:08}-{}", "x".repeat(i % 17));
        let mut body = vec![0u8]; // attributes
        body.push((i as u8 % 64) * 2); // timestamp delta varlong (zigzag, < 64)
        push_varint(&mut body, i as i64); // offset delta
        push_varint(&mut body, key.len() as i64);
        body.extend_from_slice(key.as_bytes());
        push_varint(&mut body, value.len() as i64);
        body.extend_from_slice(value.as_bytes());
        body.push(0); // no headers
        push_varint(&mut records, body.len() as i64);
        records.extend_from_slice(&body);
    }
    let compressed = java_xerial_snappy(&records);
    let mut batch = Vec::new();
    batch.extend_from_slice(&500i64.to_be_bytes());
    batch.extend_from_slice(&((49 + compressed.len()) as i32).to_be_bytes());
    batch.extend_from_slice(&0i32.to_be_bytes()); // leader epoch
    batch.push(2);
    batch.extend_from_slice(&[0; 4]); // crc, below
    batch.extend_from_slice(&2i16.to_be_bytes()); // attributes: snappy
    batch.extend_from_slice(&((n - 1) as i32).to_be_bytes());
    batch.extend_from_slice(&1_000i64.to_be_bytes());
    batch.extend_from_slice(&1_126i64.to_be_bytes());
    batch.extend_from_slice(&(-1i64).to_be_bytes());
    batch.extend_from_slice(&(-1i16).to_be_bytes());
    batch.extend_from_slice(&(-1i32).to_be_bytes());
    batch.extend_from_slice(&(n as i32).to_be_bytes());
    batch.extend_from_slice(&compressed);
    let crc = crc32c(&batch[21..]);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());

    let b = RecordBatches::new(Bytes::from(batch))
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(b.header().compression(), Some(Compression::Snappy));
    let recs: Vec<_> = b.records().unwrap().map(Result::unwrap).collect();
    assert_eq!(recs.len(), n);
    for (i, r) in recs.iter().enumerate() {
        assert_eq!(r.offset(), 500 + i as i64);
        assert_eq!(r.timestamp(), 1_000 + (i as i64 % 64));
        assert_eq!(r.key(), Some(format!("key-{i}").as_bytes()));
        assert_eq!(
            r.value().unwrap(),
            format!("java-value-{i:08}-{}", "x".repeat(i % 17)).as_bytes()
        );
    }
}

fn push_varint(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push(z as u8 | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}
