//! The codec's rules on version-dependent fields, nulls, tagged fields, headers and bad input.

use bytes::{Bytes, BytesMut};
use kafka_proto::frame::decode_request;
use kafka_proto::messages::api_versions_response::ApiVersion;
use kafka_proto::messages::metadata_request::MetadataRequestTopic;
use kafka_proto::messages::metadata_response::{MetadataResponsePartition, MetadataResponseTopic};
use kafka_proto::messages::{
    ApiVersionsRequest, ApiVersionsResponse, MetadataRequest, MetadataResponse, ProduceRequest,
    RequestHeader,
};
use kafka_proto::{
    ApiKey, DecodeErrorKind, Decoder, EncodeErrorKind, I32s, KStr, Message, TaggedField, Uuid,
};

#[test]
fn non_default_field_missing_at_version_is_an_encode_error() {
    let req = MetadataRequest {
        include_cluster_authorized_operations: true,
        ..Default::default()
    };
    // The field exists in v8-10 only and is not ignorable.
    assert!(req.to_bytes(9).is_ok());
    let err = req.to_bytes(7).unwrap_err();
    assert_eq!(
        err.kind(),
        &EncodeErrorKind::FieldNotSupported { version: 7 }
    );
    assert_eq!(
        err.path().to_string(),
        "MetadataRequest.include_cluster_authorized_operations"
    );
    let err = req.to_bytes(11).unwrap_err();
    assert_eq!(
        err.kind(),
        &EncodeErrorKind::FieldNotSupported { version: 11 }
    );
}

#[test]
fn ignorable_field_is_dropped_silently() {
    // MetadataRequestTopic.topic_id exists from v10 and is ignorable.
    let req = MetadataRequest {
        topics: Some(vec![MetadataRequestTopic {
            topic_id: Uuid([7; 16]),
            name: Some("t".into()),
            ..Default::default()
        }]),
        ..Default::default()
    };
    let b = req.to_bytes(9).unwrap();
    let back = MetadataRequest::decode_all(&b, 9).unwrap();
    assert_eq!(back.topics.unwrap()[0].topic_id, Uuid::ZERO);
    let b = req.to_bytes(10).unwrap();
    assert_eq!(
        MetadataRequest::decode_all(&b, 10).unwrap().topics.unwrap()[0].topic_id,
        Uuid([7; 16])
    );
}

#[test]
fn null_where_not_nullable_is_an_encode_error() {
    // Topics is nullable from v1; v0 used an empty array for "all topics".
    let req = MetadataRequest {
        topics: None,
        ..Default::default()
    };
    let err = req.to_bytes(0).unwrap_err();
    assert_eq!(err.kind(), &EncodeErrorKind::NullNotAllowed { version: 0 });
    assert_eq!(err.path().to_string(), "MetadataRequest.topics");
    let b = req.to_bytes(1).unwrap();
    assert_eq!(&b[..], &[0xff, 0xff, 0xff, 0xff]);
}

#[test]
fn tagged_fields_are_written_only_when_not_default() {
    // ApiVersions v3: error_code, api_keys (compact, empty), throttle_time_ms, tag section.
    let resp = ApiVersionsResponse::default();
    assert_eq!(&resp.to_bytes(3).unwrap()[..], &[0, 0, 1, 0, 0, 0, 0, 0]);
    // zk_migration_ready is tag 3; finalized_features_epoch (tag 1) defaults to -1.
    let resp = ApiVersionsResponse {
        zk_migration_ready: true,
        ..Default::default()
    };
    assert_eq!(
        &resp.to_bytes(3).unwrap()[..],
        &[0, 0, 1, 0, 0, 0, 0, 1, 3, 1, 1]
    );
    let resp = ApiVersionsResponse {
        finalized_features_epoch: 5,
        zk_migration_ready: true,
        ..Default::default()
    };
    let b = resp.to_bytes(3).unwrap();
    assert_eq!(
        &b[7..],
        &[2, 1, 8, 0, 0, 0, 0, 0, 0, 0, 5, 3, 1, 1],
        "tags in ascending order"
    );
    assert_eq!(ApiVersionsResponse::decode_all(&b, 3).unwrap(), resp);
}

#[test]
fn unknown_tagged_fields_survive_a_round_trip() {
    // ApiVersions v3 request: two compact strings, then a tag section with an unknown tag 9.
    let wire = Bytes::from_static(&[2, b'k', 2, b'1', 1, 9, 3, 0xaa, 0xbb, 0xcc]);
    let req = ApiVersionsRequest::decode_all(&wire, 3).unwrap();
    assert_eq!(&*req.client_software_name, "k");
    assert_eq!(
        req.unknown_tagged_fields.as_slice(),
        [TaggedField {
            tag: 9,
            data: Bytes::from_static(&[0xaa, 0xbb, 0xcc])
        }]
    );
    assert_eq!(req.to_bytes(3).unwrap(), wire);
    // Unknown tags are written with the known ones in ascending tag order (ApiVersionsResponse
    // knows tags 0-3).
    let resp = ApiVersionsResponse {
        finalized_features_epoch: 1,
        zk_migration_ready: true,
        unknown_tagged_fields: vec![TaggedField {
            tag: 4,
            data: Bytes::from_static(&[9]),
        }]
        .into(),
        ..Default::default()
    };
    let b = resp.to_bytes(3).unwrap();
    assert_eq!(
        &b[7..],
        &[3, 1, 8, 0, 0, 0, 0, 0, 0, 0, 1, 3, 1, 1, 4, 1, 9]
    );
    assert_eq!(ApiVersionsResponse::decode_all(&b, 3).unwrap(), resp);
}

fn metadata_with_topics(n: usize) -> MetadataResponse {
    MetadataResponse {
        topics: (0..n)
            .map(|i| MetadataResponseTopic {
                name: Some(KStr::from(format!("topic-{i}"))),
                partitions: vec![MetadataResponsePartition {
                    partition_index: 0,
                    replica_nodes: I32s::from_slice(&[1, 2, 3]),
                    isr_nodes: I32s::from_slice(&[1, 2]),
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

#[test]
fn decode_errors_name_the_field_path_and_offset() {
    let resp = metadata_with_topics(4);
    let b = resp.to_bytes(12).unwrap();
    // Cut inside the last topic's partitions (after it come the topic's authorized operations
    // (4 bytes), its tag section (1), and the response's tag section (1)).
    let short = b.slice(..b.len() - 9);
    let err = MetadataResponse::decode_all(&short, 12).unwrap_err();
    let path = err.path().to_string();
    assert!(
        path.starts_with("MetadataResponse.topics[3].partitions[0]."),
        "{path}"
    );
    assert!(
        matches!(
            err.kind(),
            DecodeErrorKind::UnexpectedEof { .. } | DecodeErrorKind::LengthExceedsInput { .. }
        ),
        "{err}"
    );
    assert!(
        err.offset() <= short.len() && err.offset() > short.len() - 16,
        "{err}"
    );
    assert!(err
        .to_string()
        .contains("MetadataResponse.topics[3].partitions"));
}

#[test]
fn huge_length_claims_fail_before_allocating() {
    // A 10-byte Metadata v1 request frame whose topics array claims 2^31-1 elements.
    let frame = Bytes::from_static(&[0, 3, 0, 1, 0, 0, 0, 1, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff]);
    let err = decode_request(&frame).unwrap_err();
    assert_eq!(err.path().to_string(), "MetadataRequest.topics");
    assert_eq!(
        err.kind(),
        &DecodeErrorKind::LengthExceedsInput {
            length: 0x7fff_ffff,
            remaining: 0
        }
    );
    // A compact string claiming 2^32-2 bytes.
    let wire = Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
    let err = ApiVersionsRequest::decode_all(&wire, 3).unwrap_err();
    assert!(
        matches!(err.kind(), DecodeErrorKind::LengthExceedsInput { .. }),
        "{err}"
    );
}

#[test]
fn unknown_keys_and_versions_are_typed_errors() {
    let frame = Bytes::from_static(&[0x7f, 0x00, 0, 0, 0, 0, 0, 1, 0xff, 0xff]);
    assert_eq!(
        decode_request(&frame).unwrap_err().kind(),
        &DecodeErrorKind::UnknownApiKey(0x7f00)
    );
    let frame = Bytes::from_static(&[0, 3, 0, 99, 0, 0, 0, 1, 0xff, 0xff]);
    assert!(matches!(
        decode_request(&frame).unwrap_err().kind(),
        DecodeErrorKind::UnsupportedVersion {
            message: "Metadata",
            version: 99
        }
    ));
    let err = MetadataRequest::default().to_bytes(13).unwrap_err();
    assert!(matches!(
        err.kind(),
        EncodeErrorKind::UnsupportedVersion { version: 13, .. }
    ));
    let b = Bytes::new();
    assert!(MetadataRequest::decode(&mut Decoder::new(&b), -1).is_err());
}

#[test]
fn header_versions_follow_kafka_rules() {
    assert_eq!(ApiKey::Produce.request_header_version(8), 1);
    assert_eq!(ApiKey::Produce.request_header_version(9), 2);
    assert_eq!(ApiKey::Produce.response_header_version(8), 0);
    assert_eq!(ApiKey::Produce.response_header_version(9), 1);
    assert_eq!(ApiKey::ControlledShutdown.request_header_version(0), 0);
    assert_eq!(ApiKey::ControlledShutdown.request_header_version(1), 1);
    // ApiVersions responses always use header v0, even when the body is flexible.
    assert_eq!(ApiKey::ApiVersions.request_header_version(3), 2);
    assert_eq!(ApiKey::ApiVersions.response_header_version(3), 0);
    // The client id stays a classic (i16-length) string in header v2.
    let h = RequestHeader {
        request_api_key: 18,
        request_api_version: 3,
        correlation_id: 1,
        client_id: Some("ab".into()),
        ..Default::default()
    };
    assert_eq!(
        &h.to_bytes(2).unwrap()[..],
        &[0, 18, 0, 3, 0, 0, 0, 1, 0, 2, b'a', b'b', 0]
    );
}

#[test]
fn api_index_matches_the_specs() {
    assert_eq!(ApiKey::ALL.len(), 88);
    assert_eq!(ApiKey::from_i16(3), Some(ApiKey::Metadata));
    assert_eq!(ApiKey::from_i16(-1), None);
    assert_eq!(ApiKey::Metadata.valid_versions().max, 12);
    assert_eq!(ApiKey::Metadata.deprecated_versions().max, 3);
    assert_eq!(ApiKey::Metadata.flexible_versions().min, 9);
    // ConsumerGroupHeartbeat's latest version (1) is marked unstable.
    assert!(ApiKey::ConsumerGroupHeartbeat.latest_version_unstable());
    assert_eq!(ApiKey::ConsumerGroupHeartbeat.stable_versions().max, 0);
    assert!(ApiKey::Fetch.listeners().contains(&"broker"));
    for k in ApiKey::ALL {
        assert_eq!(ApiKey::from_i16(k.key()), Some(*k));
    }
}

#[test]
fn classic_string_too_long_is_an_encode_error() {
    let long: KStr = "x".repeat(40_000).into();
    let req = ProduceRequest {
        transactional_id: Some(long),
        ..Default::default()
    };
    let err = req.to_bytes(8).unwrap_err();
    assert!(
        matches!(err.kind(), EncodeErrorKind::TooLong { len: 40_000, .. }),
        "{err}"
    );
    assert!(
        req.to_bytes(9).is_ok(),
        "compact strings take longer values"
    );
}

#[test]
fn bytes_fields_slice_the_input() {
    let resp = ApiVersionsResponse {
        api_keys: vec![ApiVersion {
            api_key: 0,
            min_version: 0,
            max_version: 11,
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut buf = BytesMut::new();
    resp.encode(&mut buf, 3).unwrap();
    assert_eq!(
        ApiVersionsResponse::decode_all(&buf.freeze(), 3).unwrap(),
        resp
    );
    let req = ProduceRequest::sample(9, 0);
    let b = req.to_bytes(9).unwrap();
    let back = ProduceRequest::decode_all(&b, 9).unwrap();
    let rec = back.topic_data[0].partition_data[0]
        .records
        .clone()
        .unwrap();
    let range = b.as_ptr() as usize..b.as_ptr() as usize + b.len();
    assert!(
        range.contains(&(rec.as_ptr() as usize)),
        "records point into the frame"
    );
}
