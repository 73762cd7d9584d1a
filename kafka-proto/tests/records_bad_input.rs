//! Bad input: typed errors naming the batch offset, incomplete tails, bounded decompression, and
//! no panics on mutilated batches.

use bytes::Bytes;
use kafka_proto::record::{
    crc32c, BatchMeta, BatchView, BatchViewsMut, BuilderOptions, Compression, CompressionError,
    Header, ReadOptions, RecordBatchBuilder, RecordBatches, RecordError, RecordErrorKind,
};

fn batch(codec: Compression, base_offset: i64, n: usize) -> Vec<u8> {
    let mut b = RecordBatchBuilder::new(
        BuilderOptions::default()
            .compression(codec)
            .max_bytes(usize::MAX),
    );
    for i in 0..n {
        let h = [Header::new("h", Some(b"v"))];
        b.try_append(
            i as i64,
            Some(format!("k{i}").as_bytes()),
            Some(&[i as u8; 40]),
            &h,
        )
        .unwrap();
    }
    b.finish(&BatchMeta {
        base_offset,
        ..Default::default()
    })
    .unwrap()
    .to_vec()
}

fn fix_crc(b: &mut [u8]) {
    let crc = crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
}

/// Reads everything; returns the first error, if any.
fn first_error(bytes: Vec<u8>, options: ReadOptions) -> Option<RecordError> {
    for batch in RecordBatches::with_options(Bytes::from(bytes), options) {
        match batch {
            Err(e) => return Some(e),
            Ok(batch) => match batch.records() {
                Err(e) => return Some(e),
                Ok(records) => {
                    for r in records {
                        if let Err(e) = r {
                            return Some(e);
                        }
                    }
                }
            },
        }
    }
    None
}

#[test]
fn crc_mismatch_names_the_batch() {
    let mut bytes = batch(Compression::None, 0, 3);
    bytes.extend(batch(Compression::None, 3, 3));
    let second = bytes.len() / 2;
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    let e = first_error(bytes, ReadOptions::default()).unwrap();
    assert!(matches!(e.kind, RecordErrorKind::CrcMismatch { .. }), "{e}");
    assert_eq!(e.batch_offset, 3);
    assert_eq!(e.position, second);
    assert!(e.to_string().contains("offset 3"), "{e}");
}

#[test]
fn bad_magic_and_lengths() {
    let mut bytes = batch(Compression::None, 9, 1);
    bytes[16] = 3;
    let e = first_error(bytes, ReadOptions::default()).unwrap();
    assert_eq!(
        (e.batch_offset, e.kind.clone()),
        (9, RecordErrorKind::UnsupportedMagic(3))
    );

    for length in [-1i32, 0, 13, i32::MIN] {
        let mut bytes = batch(Compression::None, 9, 1);
        bytes[8..12].copy_from_slice(&length.to_be_bytes());
        let e = first_error(bytes, ReadOptions::default()).unwrap();
        assert_eq!(e.kind, RecordErrorKind::InvalidLength(length.into()));
    }
    // A v2 batch shorter than its fixed header.
    let mut bytes = batch(Compression::None, 9, 1);
    bytes[8..12].copy_from_slice(&30i32.to_be_bytes());
    let e = first_error(bytes, ReadOptions::default()).unwrap();
    assert_eq!(e.kind, RecordErrorKind::InvalidLength(30));
}

#[test]
fn truncated_records_and_count_mismatch() {
    // Declares one more record than it holds.
    let mut bytes = batch(Compression::None, 5, 3);
    bytes[57..61].copy_from_slice(&4i32.to_be_bytes());
    fix_crc(&mut bytes);
    let e = first_error(bytes, ReadOptions::default()).unwrap();
    assert_eq!(
        e.kind,
        RecordErrorKind::RecordCountMismatch {
            declared: 4,
            found: 3
        }
    );
    assert_eq!(e.batch_offset, 5);

    // Declares fewer: bytes remain.
    let mut bytes = batch(Compression::None, 5, 3);
    bytes[57..61].copy_from_slice(&2i32.to_be_bytes());
    fix_crc(&mut bytes);
    let e = first_error(bytes, ReadOptions::default()).unwrap();
    assert!(matches!(e.kind, RecordErrorKind::TrailingBytes(_)), "{e}");

    // A record whose length runs past the batch.
    let mut bytes = batch(Compression::None, 5, 1);
    bytes[61] = 0x7e; // length varint 63 > what follows
    fix_crc(&mut bytes);
    let e = first_error(bytes, ReadOptions::default()).unwrap();
    assert!(
        matches!(e.kind, RecordErrorKind::InvalidRecord { index: 0, .. }),
        "{e}"
    );

    // Negative record count.
    let mut bytes = batch(Compression::None, 5, 1);
    bytes[57..61].copy_from_slice(&(-1i32).to_be_bytes());
    fix_crc(&mut bytes);
    let e = first_error(bytes, ReadOptions::default()).unwrap();
    assert!(matches!(e.kind, RecordErrorKind::InvalidHeader(_)), "{e}");

    // Unknown codec id.
    let mut bytes = batch(Compression::None, 5, 1);
    bytes[22] |= 0x07;
    fix_crc(&mut bytes);
    let e = first_error(bytes, ReadOptions::default()).unwrap();
    assert_eq!(e.kind, RecordErrorKind::UnknownCompression(7));
}

#[test]
fn partial_last_batch_is_an_incomplete_tail() {
    for codec in Compression::ALL {
        let mut bytes = batch(codec, 0, 10);
        let first_len = bytes.len();
        bytes.extend(batch(codec, 10, 10));
        for cut in first_len..bytes.len() {
            let mut it = RecordBatches::new(Bytes::copy_from_slice(&bytes[..cut]));
            let batches: Vec<_> = (&mut it).collect();
            assert_eq!(batches.len(), 1, "{codec:?} cut at {cut}");
            let b = batches.into_iter().next().unwrap().unwrap();
            assert_eq!(b.records().unwrap().count(), 10);
            if cut == first_len {
                assert_eq!(it.incomplete_tail(), None);
            } else {
                let tail = it.incomplete_tail().unwrap();
                assert_eq!(tail.position, first_len);
                assert_eq!(tail.available, cut - first_len);
                if cut - first_len >= 17 {
                    assert_eq!(tail.needed, Some(bytes.len() - first_len));
                }
            }
            assert_eq!(it.position(), first_len);
        }
    }
}

#[test]
fn decompression_is_bounded() {
    for codec in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let bytes = batch(codec, 77, 1000); // ~60 KB of records
        let e = first_error(
            bytes.clone(),
            ReadOptions::default().decompression_limit(10_000),
        )
        .unwrap();
        assert_eq!(e.batch_offset, 77);
        assert!(
            matches!(
                e.kind,
                RecordErrorKind::Compression(CompressionError::LimitExceeded { limit: 10_000, .. })
            ),
            "{codec:?}: {e}"
        );
        assert!(first_error(bytes, ReadOptions::default()).is_none());
    }
}

#[test]
fn corrupt_compressed_payload_is_a_compression_error() {
    for codec in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let mut bytes = batch(codec, 1, 50);
        let n = bytes.len();
        for b in &mut bytes[61 + 8..n] {
            *b = b.wrapping_mul(31).wrapping_add(7);
        }
        fix_crc(&mut bytes);
        // Either decompression fails or the inflated records fail to parse; never a panic.
        assert!(
            first_error(bytes, ReadOptions::default()).is_some(),
            "{codec:?}"
        );
    }
}

#[test]
fn mutilated_batches_never_panic() {
    // Every single-byte corruption and every truncation of a small batch, for each codec, with
    // the CRC check off so that the record parsers see the damage.
    let options = ReadOptions::default()
        .verify_crc(false)
        .decompression_limit(1 << 20);
    for codec in Compression::ALL {
        let clean = batch(codec, 0, 4);
        for i in 0..clean.len() {
            for x in [0x01u8, 0x80, 0xff] {
                let mut bytes = clean.clone();
                bytes[i] ^= x;
                let _ = first_error(bytes, options);
            }
            let _ = first_error(clean[..i].to_vec(), options);
        }
    }
}

#[test]
fn view_validates_and_walks_produce_records() {
    let mut bytes = batch(Compression::Snappy, 0, 5);
    bytes.extend(batch(Compression::None, 0, 5));
    let total = bytes.len();
    let mut offsets = Vec::new();
    let mut next = 100;
    for view in BatchViewsMut::new(&mut bytes) {
        let mut view = view.unwrap();
        view.set_base_offset(next);
        next += i64::from(view.header().records_count);
        offsets.push(view.header().base_offset);
    }
    assert_eq!(offsets, [100, 105]);
    let read: Vec<i64> = RecordBatches::new(Bytes::from(bytes.clone()))
        .flat_map(|b| {
            let b = b.unwrap();
            b.records()
                .unwrap()
                .map(|r| r.unwrap().offset())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(read, (100..110).collect::<Vec<_>>());

    // A partial batch is reported as such.
    let mut cut = bytes[..total - 3].to_vec();
    let mut views = BatchViewsMut::new(&mut cut);
    assert!(views.next().unwrap().is_ok());
    assert!(views.next().is_none());
    assert!(views.incomplete_tail().is_some());

    // CRC and magic are checked.
    let mut bad = batch(Compression::None, 4, 2);
    let n = bad.len();
    bad[n - 1] ^= 1;
    let e = BatchView::parse(&mut bad).unwrap_err();
    assert!(matches!(e.kind, RecordErrorKind::CrcMismatch { .. }));
    assert_eq!(e.batch_offset, 4);
    let mut legacy = Vec::new();
    kafka_proto::record::encode_legacy_message(&mut legacy, 0, 1, 0, 0, None, Some(&[0u8; 64]));
    let e = BatchView::parse(&mut legacy).unwrap_err();
    assert_eq!(e.kind, RecordErrorKind::UnsupportedMagic(1));
    let mut short = batch(Compression::None, 4, 2);
    let e = BatchView::parse(&mut short[..40]).unwrap_err();
    assert!(matches!(e.kind, RecordErrorKind::InvalidLength(_)));
}
