//! Helpers for the test-kit tests: a broker on 127.0.0.1:0 and raw ApiVersions frames.
#![allow(dead_code)]

use std::time::Duration;

use bytes::Bytes;
use kafka_broker::{Broker, BrokerHandle};
use kafka_proto::frame::{decode_response, encode_request, put_frame};
use kafka_proto::messages::{ApiVersionsRequest, ApiVersionsResponse, MetadataRequest};
use kafka_proto::{ApiKey, RequestBody, ResponseBody};
use tokio::io::{AsyncRead, AsyncReadExt};

/// Long enough for a loaded machine; only reached when something is broken.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// How long "nothing arrives" is watched for.
pub const QUIET: Duration = Duration::from_millis(300);

pub const API_VERSIONS_VERSION: i16 = 3;

pub async fn broker() -> BrokerHandle {
    broker_advertising(None).await
}

pub async fn broker_advertising(advertise: Option<String>) -> BrokerHandle {
    let mut b = Broker::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .in_memory();
    if let Some(a) = advertise {
        b = b.advertise(a);
    }
    b.start().await.expect("broker starts")
}

fn frame(body: RequestBody, version: i16, correlation_id: i32, trailing: usize) -> Vec<u8> {
    let mut inner = Vec::new();
    encode_request(&mut inner, correlation_id, Some("testkit"), &body, version).unwrap();
    inner.resize(inner.len() + trailing, 0);
    let mut out = Vec::new();
    put_frame(&mut out, &inner).unwrap();
    out
}

/// An ApiVersions v3 request frame, length prefix included.
pub fn api_versions_request(correlation_id: i32) -> Vec<u8> {
    api_versions_request_padded(correlation_id, 0)
}

/// The same with `trailing` zero bytes after the body (the broker ignores them), to make a
/// request as large as a test needs.
pub fn api_versions_request_padded(correlation_id: i32, trailing: usize) -> Vec<u8> {
    let body = ApiVersionsRequest {
        client_software_name: "kafka-testkit".into(),
        client_software_version: "1".into(),
        ..Default::default()
    };
    frame(body.into(), API_VERSIONS_VERSION, correlation_id, trailing)
}

/// A Metadata v12 request for no topics (brokers only).
pub fn metadata_request(correlation_id: i32) -> Vec<u8> {
    let body = MetadataRequest {
        topics: Some(Vec::new()),
        ..Default::default()
    };
    frame(body.into(), 12, correlation_id, 0)
}

/// Reads one frame; `Ok(None)` on a clean end of stream before its first byte.
pub async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> std::io::Result<Option<Bytes>> {
    let mut prefix = [0u8; 4];
    match r.read_exact(&mut prefix).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut body = vec![0u8; u32::from_be_bytes(prefix) as usize];
    r.read_exact(&mut body).await?;
    Ok(Some(Bytes::from(body)))
}

/// Reads one frame within [`PATIENCE`], panicking if none comes.
pub async fn expect_frame<R: AsyncRead + Unpin>(r: &mut R) -> Bytes {
    tokio::time::timeout(PATIENCE, read_frame(r))
        .await
        .expect("a response in time")
        .expect("read")
        .expect("a frame before end of stream")
}

/// Decodes an ApiVersions response and checks it is a real, successful one for `id`.
pub fn assert_api_versions(frame: &Bytes, correlation_id: i32) -> ApiVersionsResponse {
    let (header, body, trailing) =
        decode_response(frame, ApiKey::ApiVersions, API_VERSIONS_VERSION).expect("decodes");
    assert_eq!(header.correlation_id, correlation_id);
    assert_eq!(trailing, 0);
    let ResponseBody::ApiVersions(r) = body else {
        panic!("not an ApiVersions response")
    };
    assert_eq!(r.error_code, 0);
    assert!(
        r.api_keys
            .iter()
            .any(|k| k.api_key == ApiKey::Metadata.key()),
        "the broker's API list"
    );
    r
}
