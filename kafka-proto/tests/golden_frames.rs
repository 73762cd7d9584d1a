//! Request frames captured from real clients (kcat on librdkafka 2.0.2, kafka-python 2.3.3 and
//! 3.0.12; see `kafka-proto/tools/capture/README.md`) decode, match the capture index, and
//! re-encode to the identical bytes.

use std::path::Path;

use bytes::{Bytes, BytesMut};
use kafka_proto::frame::{decode_request, encode_request};
use kafka_proto::messages::{ApiVersionsRequest, MetadataRequest, ProduceRequest};
use kafka_proto::{ApiKey, Message, RequestBody};

struct Entry {
    file: String,
    api_key: i16,
    version: i16,
    header_version: i16,
    correlation_id: i32,
    client_id: String,
}

fn index(dir: &Path) -> Vec<Entry> {
    let text = std::fs::read_to_string(dir.join("INDEX.tsv")).expect("INDEX.tsv");
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            Entry {
                file: c[0].to_owned(),
                api_key: c[1].parse().unwrap(),
                version: c[2].parse().unwrap(),
                header_version: c[3].parse().unwrap(),
                correlation_id: c[4].parse().unwrap(),
                client_id: c[5].to_owned(),
            }
        })
        .collect()
}

#[test]
fn captured_frames_decode_and_reencode_identically() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/frames");
    let entries = index(&dir);
    let mut seen = std::collections::BTreeMap::<(String, i16), usize>::new();
    for e in &entries {
        let frame = Bytes::from(std::fs::read(dir.join(&e.file)).unwrap());
        let f = decode_request(&frame).unwrap_or_else(|err| panic!("{}: {err}", e.file));
        assert_eq!(f.api_key.key(), e.api_key, "{}", e.file);
        assert_eq!(f.header.request_api_version, e.version, "{}", e.file);
        assert_eq!(
            f.api_key.request_header_version(e.version),
            e.header_version,
            "{}",
            e.file
        );
        assert_eq!(f.header.correlation_id, e.correlation_id, "{}", e.file);
        assert_eq!(
            f.header.client_id.as_deref().unwrap_or(""),
            e.client_id,
            "{}",
            e.file
        );
        assert_eq!(f.trailing, 0, "{}", e.file);

        let mut out = BytesMut::new();
        encode_request(
            &mut out,
            f.header.correlation_id,
            f.header.client_id.as_deref(),
            &f.body,
            e.version,
        )
        .unwrap();
        assert_eq!(&out[..], &frame[..], "{}: re-encoding differs", e.file);
        let client = e.file.split('-').take(2).collect::<Vec<_>>().join("-");
        *seen.entry((client, e.api_key)).or_default() += 1;
    }
    // Each client's ApiVersions, Metadata and Produce requests are covered.
    for client in [
        "kcat-librdkafka2.0.2",
        "kafka-python2.3.3",
        "kafka-python3.0.12",
    ] {
        for key in [ApiKey::ApiVersions, ApiKey::Metadata, ApiKey::Produce] {
            assert!(
                seen.get(&(client.to_owned(), key.key()))
                    .copied()
                    .unwrap_or(0)
                    > 0,
                "no {key} frame from {client}"
            );
        }
    }
}

#[test]
fn captured_contents_are_what_the_clients_sent() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/frames");
    let read = |name: &str| Bytes::from(std::fs::read(dir.join(name)).unwrap());

    let f = decode_request(&read("kcat-librdkafka2.0.2-001-ApiVersions-v3.bin")).unwrap();
    let RequestBody::ApiVersions(ApiVersionsRequest {
        client_software_name,
        client_software_version,
        ..
    }) = f.body
    else {
        panic!("not ApiVersions")
    };
    assert_eq!(&*client_software_name, "librdkafka");
    assert_eq!(&*client_software_version, "2.0.2");

    // librdkafka asks for all topics with a null array at v4.
    let f = decode_request(&read("kcat-librdkafka2.0.2-003-Metadata-v4.bin")).unwrap();
    let RequestBody::Metadata(MetadataRequest {
        topics,
        allow_auto_topic_creation,
        ..
    }) = f.body
    else {
        panic!("not Metadata")
    };
    assert_eq!(topics, None);
    assert!(allow_auto_topic_creation);

    // The flexible Produce v9 of kafka-python 3 carries one partition of topic "golden".
    let name = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .find(|n| n.starts_with("kafka-python3.0.12") && n.ends_with("Produce-v9.bin"))
        .expect("a Produce v9 frame");
    let f = decode_request(&read(&name)).unwrap();
    let RequestBody::Produce(ProduceRequest {
        topic_data, acks, ..
    }) = f.body
    else {
        panic!("not Produce")
    };
    assert_eq!(acks, 1);
    assert_eq!(&*topic_data[0].name, "golden");
    let records = topic_data[0].partition_data[0].records.clone().unwrap();
    // The records field is a slice of the frame, and starts a magic-2 batch.
    assert_eq!(records[16], 2, "magic byte");
}

/// librdkafka 2.x sends three stray bytes after its all-topics Metadata v9+ request; a broker must
/// accept it (as Kafka does) while a strict decode reports them.
#[test]
fn trailing_bytes_are_reported_not_fatal() {
    let req = MetadataRequest {
        topics: None,
        ..Default::default()
    };
    let mut buf = BytesMut::new();
    encode_request(&mut buf, 7, Some("rdkafka"), &req.clone().into(), 12).unwrap();
    buf.extend_from_slice(&[0, 0, 0]);
    let frame = buf.freeze();
    let f = decode_request(&frame).unwrap();
    assert_eq!(f.trailing, 3);
    assert_eq!(f.body, RequestBody::Metadata(req));

    let body = MetadataRequest::default().to_bytes(12).unwrap();
    let mut with_tail = BytesMut::from(&body[..]);
    with_tail.extend_from_slice(&[1, 2]);
    let err = MetadataRequest::decode_all(&with_tail.freeze(), 12).unwrap_err();
    assert_eq!(err.kind(), &kafka_proto::DecodeErrorKind::TrailingBytes(2));
}
