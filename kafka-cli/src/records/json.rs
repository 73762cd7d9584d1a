//! Records as JSON lines, lossless both ways:
//!
//! ```text
//! {"topic":"t","partition":0,"offset":5,"timestamp":1704164645123,"timestamp_type":"CreateTime",
//!  "key":"k","value":{"base64":"AAE="},"headers":[{"key":"h","value":null}]}
//! ```
//!
//! key, value and header values are `null`, a string (when the bytes are valid UTF-8), or
//! `{"base64": "..."}`. `timestamp_type` is `CreateTime` or `LogAppendTime` (`NoTimestamp`
//! for pre-0.10 messages, with timestamp -1). `produce --input jsonl` reads the same objects:
//! key, value, headers, partition and timestamp are used; topic, offset and timestamp_type are
//! ignored; every field is optional.

use bytes::Bytes;
use kafka_client::consumer::ConsumerRecord;
use kafka_client::kafka_proto::record::TimestampType;
use serde_json::Value;

use super::{push_base64, push_int};

/// Appends a JSON string literal (with escapes) for valid UTF-8 text.
fn push_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let b = s.as_bytes();
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        let esc: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&b[start..i]);
        if esc.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(c >> 4)]);
            out.push(HEX[usize::from(c & 15)]);
        } else {
            out.extend_from_slice(esc);
        }
        start = i + 1;
    }
    out.extend_from_slice(&b[start..]);
    out.push(b'"');
}

/// Appends `null`, a string, or `{"base64": ...}`.
fn push_bytes(out: &mut Vec<u8>, b: Option<&Bytes>) {
    match b {
        None => out.extend_from_slice(b"null"),
        Some(b) => match std::str::from_utf8(b) {
            Ok(s) => push_str(out, s),
            Err(_) => {
                out.extend_from_slice(b"{\"base64\":\"");
                push_base64(out, b);
                out.extend_from_slice(b"\"}");
            }
        },
    }
}

/// Appends one record as a JSON object and a newline.
pub fn write_record(out: &mut Vec<u8>, r: &ConsumerRecord) {
    out.extend_from_slice(b"{\"topic\":");
    push_str(out, &r.topic);
    out.extend_from_slice(b",\"partition\":");
    push_int(out, i64::from(r.partition));
    out.extend_from_slice(b",\"offset\":");
    push_int(out, r.offset);
    out.extend_from_slice(b",\"timestamp\":");
    push_int(out, r.timestamp);
    out.extend_from_slice(match r.timestamp_type {
        TimestampType::LogAppendTime => b",\"timestamp_type\":\"LogAppendTime\"".as_slice(),
        TimestampType::NoTimestamp => b",\"timestamp_type\":\"NoTimestamp\"".as_slice(),
        _ => b",\"timestamp_type\":\"CreateTime\"".as_slice(),
    });
    out.extend_from_slice(b",\"key\":");
    push_bytes(out, r.key.as_ref());
    out.extend_from_slice(b",\"value\":");
    push_bytes(out, r.value.as_ref());
    out.extend_from_slice(b",\"headers\":[");
    for (i, h) in r.headers.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"key\":");
        push_str(out, &h.key);
        out.extend_from_slice(b",\"value\":");
        push_bytes(out, h.value.as_ref());
        out.push(b'}');
    }
    out.extend_from_slice(b"]}\n");
}

/// A record read from a JSON line.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct JsonRecord {
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<(String, Option<Bytes>)>,
    pub partition: Option<i32>,
    pub timestamp: Option<i64>,
}

const SHAPE: &str = "expected an object as `kafka consume -J` prints: {\"key\":..,\"value\":..,\"headers\":[{\"key\":..,\"value\":..}],\"partition\":N,\"timestamp\":MS}";

fn bytes_field(v: Option<&Value>, what: &str) -> Result<Option<Bytes>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(Bytes::from(s.clone().into_bytes()))),
        Some(Value::Object(o)) if o.len() == 1 => match o.get("base64") {
            Some(Value::String(b)) => {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD
                    .decode(b)
                    .map(|d| Some(Bytes::from(d)))
                    .map_err(|e| format!("{what}: invalid base64 ({e})"))
            }
            _ => Err(format!(
                "{what} must be null, a string or {{\"base64\": \"...\"}}"
            )),
        },
        Some(_) => Err(format!(
            "{what} must be null, a string or {{\"base64\": \"...\"}}"
        )),
    }
}

/// Parses one JSON line. The error is one line (without the line number).
pub fn parse_record(line: &[u8]) -> Result<JsonRecord, String> {
    let v: Value =
        serde_json::from_slice(line).map_err(|e| format!("invalid JSON ({e}); {SHAPE}"))?;
    let Value::Object(o) = v else {
        return Err(format!("not an object; {SHAPE}"));
    };
    let mut r = JsonRecord {
        key: bytes_field(o.get("key"), "`key`")?,
        value: bytes_field(o.get("value"), "`value`")?,
        ..JsonRecord::default()
    };
    match o.get("partition") {
        None | Some(Value::Null) => {}
        Some(p) => {
            r.partition = Some(
                p.as_i64()
                    .and_then(|p| i32::try_from(p).ok())
                    .filter(|p| *p >= 0)
                    .ok_or("`partition` must be a non-negative integer")?,
            )
        }
    }
    match o.get("timestamp") {
        None | Some(Value::Null) => {}
        Some(t) => r.timestamp = Some(t.as_i64().ok_or("`timestamp` must be an integer (ms)")?),
    }
    match o.get("headers") {
        None | Some(Value::Null) => {}
        Some(Value::Array(hs)) => {
            for (i, h) in hs.iter().enumerate() {
                let Value::Object(h) = h else {
                    return Err(format!(
                        "`headers[{i}]` must be {{\"key\": ..., \"value\": ...}}"
                    ));
                };
                let Some(Value::String(k)) = h.get("key") else {
                    return Err(format!("`headers[{i}].key` must be a string"));
                };
                let v = bytes_field(h.get("value"), &format!("`headers[{i}].value`"))?;
                r.headers.push((k.clone(), v));
            }
        }
        Some(_) => return Err("`headers` must be an array of {\"key\", \"value\"}".into()),
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_client::consumer::RecordHeader;

    #[test]
    fn round_trip() {
        let rec = ConsumerRecord {
            topic: "t\"x".into(),
            partition: 1,
            offset: 9,
            timestamp: 1234,
            timestamp_type: TimestampType::CreateTime,
            key: None,
            value: Some(Bytes::from_static(b"\xff\x00bin")),
            headers: vec![
                RecordHeader {
                    key: "a".into(),
                    value: Some(Bytes::from_static(b"line\n\x01\"")),
                },
                RecordHeader {
                    key: "a".into(),
                    value: None,
                },
            ],
            leader_epoch: None,
        };
        let mut o = Vec::new();
        write_record(&mut o, &rec);
        let v: Value = serde_json::from_slice(&o).unwrap();
        assert_eq!(v["topic"], "t\"x");
        assert_eq!(v["headers"][0]["value"], "line\n\x01\"");
        let back = parse_record(&o).unwrap();
        assert_eq!(back.key, None);
        assert_eq!(back.value.as_deref(), Some(&b"\xff\x00bin"[..]));
        assert_eq!(back.partition, Some(1));
        assert_eq!(back.timestamp, Some(1234));
        assert_eq!(
            back.headers,
            vec![
                ("a".to_string(), Some(Bytes::from_static(b"line\n\x01\""))),
                ("a".to_string(), None)
            ]
        );
    }

    #[test]
    fn bad_lines() {
        for bad in [
            &b"nope"[..],
            b"[1]",
            b"{\"value\":1}",
            b"{\"value\":{\"base64\":\"!!\"}}",
            b"{\"partition\":-1}",
            b"{\"headers\":[1]}",
            b"{\"headers\":[{\"value\":\"x\"}]}",
        ] {
            assert!(
                parse_record(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(parse_record(b"{}").unwrap(), JsonRecord::default());
    }
}
