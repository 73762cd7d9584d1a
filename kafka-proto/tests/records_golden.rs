//! Golden batches written by real clients (kcat/librdkafka, kafka-python; every codec), captured
//! from their Produce requests into `tests/fixtures/records/*.bin`, each described by the `.json`
//! beside it. Every fixture must decode exactly as described; uncompressed ones must also
//! re-encode byte for byte.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use kafka_proto::record::{
    BatchMeta, BuilderOptions, Compression, Header, RecordBatchBuilder, RecordBatches,
    TimestampType,
};
use serde_json::Value;

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/records");
    let mut bins: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("fixture directory {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "bin"))
        .collect();
    bins.sort();
    assert!(!bins.is_empty(), "no .bin fixture in {}", dir.display());
    bins
}

/// A key, value or header value from the JSON: a UTF-8 string, null, or `{"base64": ...}`.
fn bytes_of(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.as_bytes().to_vec()),
        Value::Object(o) => match o.get("base64") {
            Some(Value::String(b)) => Some(base64(b)),
            _ => panic!("unsupported bytes form {v}"),
        },
        other => panic!("unsupported bytes form {other}"),
    }
}

fn base64(s: &str) -> Vec<u8> {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter(|&c| c != b'=') {
        let v = A.iter().position(|&a| a == c).expect("base64 digit") as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

fn codec_of(name: &str) -> Compression {
    match name {
        "none" => Compression::None,
        "gzip" => Compression::Gzip,
        "snappy" => Compression::Snappy,
        "lz4" => Compression::Lz4,
        "zstd" => Compression::Zstd,
        other => panic!("unknown codec {other}"),
    }
}

fn int(v: &Value, field: &str) -> i64 {
    v.get(field)
        .and_then(Value::as_i64)
        .unwrap_or_else(|| panic!("missing integer field {field}"))
}

#[test]
fn every_fixture_decodes_exactly() {
    let mut checked_batches = 0;
    let mut checked_records = 0;
    for bin in fixtures() {
        let name = bin.file_name().unwrap().to_string_lossy().into_owned();
        let raw = std::fs::read(&bin).unwrap();
        let json: Value =
            serde_json::from_str(&std::fs::read_to_string(bin.with_extension("json")).unwrap())
                .unwrap_or_else(|e| panic!("{name}.json: {e}"));
        if let Some(size) = json.get("size").and_then(Value::as_u64) {
            assert_eq!(raw.len() as u64, size, "{name}: size");
        }
        let want_batches = json["batches"].as_array().expect("batches");
        let input = Bytes::from(raw);
        let mut it = RecordBatches::new(input.clone());
        let got: Vec<_> = (&mut it)
            .map(|b| b.unwrap_or_else(|e| panic!("{name}: {e}")))
            .collect();
        assert!(it.incomplete_tail().is_none(), "{name}: incomplete tail");
        assert_eq!(got.len(), want_batches.len(), "{name}: batch count");

        for (i, (batch, want)) in got.iter().zip(want_batches).enumerate() {
            let ctx = format!("{name} batch {i}");
            let h = batch.header();
            assert_eq!(
                h.base_offset,
                int(want, "base_offset"),
                "{ctx}: base_offset"
            );
            assert_eq!(i64::from(h.magic), int(want, "magic"), "{ctx}: magic");
            assert_eq!(
                i64::from(h.records_count),
                int(want, "records_count"),
                "{ctx}: count"
            );
            let codec = codec_of(want["codec"].as_str().expect("codec"));
            assert_eq!(h.compression(), Some(codec), "{ctx}: codec");
            for (field, value) in [
                ("batch_length", i64::from(h.batch_length)),
                (
                    "partition_leader_epoch",
                    i64::from(h.partition_leader_epoch),
                ),
                ("crc", i64::from(h.crc)),
                ("attributes", i64::from(h.attributes.0)),
                ("last_offset_delta", i64::from(h.last_offset_delta)),
                ("base_timestamp", h.base_timestamp),
                ("max_timestamp", h.max_timestamp),
                ("producer_id", h.producer_id),
                ("producer_epoch", i64::from(h.producer_epoch)),
                ("base_sequence", i64::from(h.base_sequence)),
            ] {
                if want.get(field).is_some() {
                    assert_eq!(value, int(want, field), "{ctx}: {field}");
                }
            }
            if let Some(b) = want.get("is_transactional").and_then(Value::as_bool) {
                assert_eq!(h.is_transactional(), b, "{ctx}: transactional");
            }
            if let Some(b) = want.get("is_control").and_then(Value::as_bool) {
                assert_eq!(h.is_control(), b, "{ctx}: control");
            }
            if let Some(t) = want.get("timestamp_type").and_then(Value::as_str) {
                let expected = match t {
                    "CreateTime" => TimestampType::CreateTime,
                    "LogAppendTime" => TimestampType::LogAppendTime,
                    _ => TimestampType::NoTimestamp,
                };
                assert_eq!(h.timestamp_type(), expected, "{ctx}: timestamp type");
            }
            let section = &batch.as_bytes().expect("magic 2")[61..];
            if let Some(n) = want.get("compressed_size").and_then(Value::as_u64) {
                assert_eq!(section.len() as u64, n, "{ctx}: compressed size");
            }
            if let Some(n) = want
                .get("uncompressed_records_size")
                .and_then(Value::as_u64)
            {
                let inflated = codec.decompress(section, 1 << 30).unwrap();
                assert_eq!(inflated.len() as u64, n, "{ctx}: uncompressed size");
            }

            let want_records = want["records"].as_array().expect("records");
            let records: Vec<_> = batch
                .records()
                .unwrap_or_else(|e| panic!("{ctx}: {e}"))
                .map(|r| r.unwrap_or_else(|e| panic!("{ctx}: {e}")))
                .collect();
            assert_eq!(records.len(), want_records.len(), "{ctx}: record count");
            for (j, (r, w)) in records.iter().zip(want_records).enumerate() {
                let ctx = format!("{ctx} record {j}");
                if w.get("offset").is_some() {
                    assert_eq!(r.offset(), int(w, "offset"), "{ctx}: offset");
                }
                assert_eq!(
                    r.offset() - h.base_offset,
                    int(w, "offset_delta"),
                    "{ctx}: delta"
                );
                if w.get("timestamp").is_some() {
                    assert_eq!(r.timestamp(), int(w, "timestamp"), "{ctx}: timestamp");
                }
                if w.get("timestamp_delta").is_some() {
                    assert_eq!(
                        r.timestamp() - h.base_timestamp,
                        int(w, "timestamp_delta"),
                        "{ctx}: timestamp delta"
                    );
                }
                if w.get("attributes").is_some() {
                    assert_eq!(i64::from(r.attributes()), int(w, "attributes"), "{ctx}");
                }
                assert_eq!(
                    r.key().map(<[u8]>::to_vec),
                    bytes_of(&w["key"]),
                    "{ctx}: key"
                );
                assert_eq!(
                    r.value().map(<[u8]>::to_vec),
                    bytes_of(&w["value"]),
                    "{ctx}: value"
                );
                let want_headers: Vec<(Vec<u8>, Option<Vec<u8>>)> = w["headers"]
                    .as_array()
                    .expect("headers")
                    .iter()
                    .map(|pair| {
                        let pair = pair.as_array().expect("header pair");
                        (bytes_of(&pair[0]).expect("header key"), bytes_of(&pair[1]))
                    })
                    .collect();
                let got_headers: Vec<(Vec<u8>, Option<Vec<u8>>)> = r
                    .headers()
                    .map(|h| (h.key.to_vec(), h.value.map(<[u8]>::to_vec)))
                    .collect();
                assert_eq!(got_headers, want_headers, "{ctx}: headers");
                checked_records += 1;
            }

            // Uncompressed batches re-encode byte for byte with our builder.
            if codec == Compression::None && h.magic == 2 && !h.is_control() {
                let mut b = RecordBatchBuilder::new(
                    BuilderOptions::default()
                        .max_bytes(usize::MAX)
                        .transactional(h.is_transactional())
                        .timestamp_type(h.timestamp_type()),
                );
                for r in &records {
                    let headers: Vec<Header<'_>> = r.headers().collect();
                    assert!(b
                        .try_append(r.timestamp(), r.key(), r.value(), &headers)
                        .unwrap());
                }
                let again = b
                    .finish(&BatchMeta {
                        base_offset: h.base_offset,
                        partition_leader_epoch: h.partition_leader_epoch,
                        producer_id: h.producer_id,
                        producer_epoch: h.producer_epoch,
                        base_sequence: h.base_sequence,
                    })
                    .unwrap();
                assert_eq!(
                    &again[..],
                    &batch.as_bytes().unwrap()[..],
                    "{ctx}: re-encode"
                );
            }
            checked_batches += 1;
        }
    }
    assert!(checked_batches > 0 && checked_records > 0);
}
