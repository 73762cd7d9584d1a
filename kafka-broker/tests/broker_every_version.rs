//! Every served (API, version) answers the codec's sample request with a response that encodes
//! and decodes at that version — the codec refuses to send fields a version lacks, so this finds
//! handlers that set version-specific fields at the wrong versions.

mod common;

use bytes::BytesMut;
use common::{memory_broker, Conn};
use kafka_proto::frame::{decode_response, encode_request};
use kafka_proto::messages::samples;
use kafka_proto::{ApiKey, RequestBody};

#[tokio::test]
async fn every_served_version_answers_its_sample_request() {
    let b = memory_broker().await;
    let mut c = Conn::connect(&b.bootstrap()).await;
    let served = match c
        .call(kafka_proto::messages::ApiVersionsRequest::default(), 0)
        .await
    {
        kafka_proto::ResponseBody::ApiVersions(r) => r.api_keys,
        _ => unreachable!(),
    };
    let mut answered = 0;
    for a in &served {
        let key = ApiKey::from_i16(a.api_key).unwrap();
        // Produce is advertised from v0 for librdkafka's sake but served from v3.
        let min = if key == ApiKey::Produce {
            3
        } else {
            a.min_version
        };
        for v in min..=a.max_version {
            for variant in 0..2 {
                let body: RequestBody = samples::request(key, v, variant);
                if let RequestBody::Produce(p) = &body {
                    assert_ne!(p.acks, 0, "sample produce must expect an answer");
                }
                let mut frame = BytesMut::new();
                encode_request(&mut frame, 42, Some("sample"), &body, v).unwrap();
                c.send_raw(&frame).await;
                let Some(resp) = c.read_frame().await else {
                    panic!("{key} v{v} variant {variant}: the broker closed the connection");
                };
                let (h, _, trailing) = decode_response(&resp, key, v)
                    .unwrap_or_else(|e| panic!("{key} v{v}: undecodable response: {e}"));
                assert_eq!((h.correlation_id, trailing), (42, 0), "{key} v{v}");
                answered += 1;
            }
        }
    }
    assert!(answered > 300, "{answered} sample requests answered");
    b.shutdown().await.unwrap();
}
