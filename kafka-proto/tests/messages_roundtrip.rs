//! Every request and response of every API at every version: sample values with non-default
//! fields are encoded, decoded, re-encoded and decoded again, and must come back identical.
//! Truncated encodings must fail cleanly.

use bytes::{Bytes, BytesMut};
use kafka_proto::messages::{
    samples, ApiKey, ConsumerProtocolAssignment, ConsumerProtocolSubscription,
    DefaultPrincipalData, KRaftVersionRecord, LeaderChangeMessage, RequestHeader, ResponseHeader,
    SnapshotFooterRecord, SnapshotHeaderRecord, VotersRecord, API_VERSION_PAIRS,
};
use kafka_proto::{Decoder, Message, RequestBody, ResponseBody};

fn enc_req(b: &RequestBody, v: i16) -> Bytes {
    let mut buf = BytesMut::new();
    b.encode(&mut buf, v)
        .unwrap_or_else(|e| panic!("{} v{v}: {e}", b.api_key()));
    assert_eq!(
        buf.len(),
        b.encoded_size(v),
        "{} v{v}: encoded_size",
        b.api_key()
    );
    buf.freeze()
}

fn enc_resp(b: &ResponseBody, v: i16) -> Bytes {
    let mut buf = BytesMut::new();
    b.encode(&mut buf, v)
        .unwrap_or_else(|e| panic!("{} v{v}: {e}", b.api_key()));
    assert_eq!(
        buf.len(),
        b.encoded_size(v),
        "{} v{v}: encoded_size",
        b.api_key()
    );
    buf.freeze()
}

fn dec_req(bytes: &Bytes, key: ApiKey, v: i16) -> RequestBody {
    let mut d = Decoder::new(bytes);
    let out = RequestBody::decode(&mut d, key, v).unwrap_or_else(|e| panic!("{key} v{v}: {e}"));
    assert_eq!(d.remaining(), 0, "{key} v{v}: bytes left");
    out
}

fn dec_resp(bytes: &Bytes, key: ApiKey, v: i16) -> ResponseBody {
    let mut d = Decoder::new(bytes);
    let out = ResponseBody::decode(&mut d, key, v).unwrap_or_else(|e| panic!("{key} v{v}: {e}"));
    assert_eq!(d.remaining(), 0, "{key} v{v}: bytes left");
    out
}

/// Cut points: every prefix for short encodings, a spread of them for long ones.
fn cuts(len: usize) -> Vec<usize> {
    if len <= 256 {
        (0..len).collect()
    } else {
        (0..len).step_by(len / 97 + 1).chain([len - 1]).collect()
    }
}

#[test]
fn every_api_version_round_trips() {
    let mut pairs = 0;
    let mut truncated = 0usize;
    for &key in ApiKey::ALL {
        let range = key.valid_versions();
        for v in range.min..=range.max {
            pairs += 1;
            for variant in 0..2 {
                let req = samples::request(key, v, variant);
                let bytes = enc_req(&req, v);
                let back = dec_req(&bytes, key, v);
                assert_eq!(back, req, "{key} request v{v} variant {variant}");
                let again = enc_req(&back, v);
                assert_eq!(again, bytes, "{key} request v{v} re-encoding");
                assert_eq!(dec_req(&again, key, v), req);
                for cut in cuts(bytes.len()) {
                    truncated += 1;
                    let short = bytes.slice(..cut);
                    assert!(
                        RequestBody::decode(&mut Decoder::new(&short), key, v).is_err(),
                        "{key} request v{v} decoded from {cut} of {} bytes",
                        bytes.len()
                    );
                }

                let resp = samples::response(key, v, variant);
                let bytes = enc_resp(&resp, v);
                let back = dec_resp(&bytes, key, v);
                assert_eq!(back, resp, "{key} response v{v} variant {variant}");
                let again = enc_resp(&back, v);
                assert_eq!(again, bytes, "{key} response v{v} re-encoding");
                assert_eq!(dec_resp(&again, key, v), resp);
                for cut in cuts(bytes.len()) {
                    let short = bytes.slice(..cut);
                    assert!(
                        ResponseBody::decode(&mut Decoder::new(&short), key, v).is_err(),
                        "{key} response v{v} decoded from {cut} of {} bytes",
                        bytes.len()
                    );
                }
            }
        }
    }
    assert_eq!(
        pairs, API_VERSION_PAIRS,
        "every (API, version) pair covered"
    );
    assert!(truncated > 30_000, "{truncated} truncated requests tried");
    assert_eq!(ApiKey::ALL.len(), 88);
}

/// Samples set every field, so a sample must differ from the default wherever the message has a
/// field at that version (guards against a sample generator that sets nothing).
#[test]
fn samples_are_not_defaults() {
    let mut checked = 0;
    for &key in ApiKey::ALL {
        let v = key.valid_versions().max;
        let sample = samples::request(key, v, 0);
        let default = samples::default_request(key);
        if enc_req(&default, v).len() <= 1 {
            // A message without fields (only the tagged-field count).
            assert_eq!(sample, default);
            continue;
        }
        assert_ne!(sample, default, "{key} request");
        assert_ne!(enc_req(&sample, v), enc_req(&default, v), "{key}");
        assert_ne!(
            samples::response(key, v, 0),
            samples::default_response(key),
            "{key}"
        );
        checked += 1;
    }
    assert!(checked > 80, "{checked}");
}

macro_rules! round_trip_plain {
    ($($t:ty),*) => {$(
        for v in <$t>::VERSIONS.min..=<$t>::VERSIONS.max {
            for variant in 0..2 {
                let m = <$t>::sample(v, variant);
                let b = m.to_bytes(v).unwrap();
                assert_eq!(b.len(), m.encoded_size(v));
                let back = <$t>::decode_all(&b, v).unwrap_or_else(|e| panic!("{} v{v}: {e}", <$t>::NAME));
                assert_eq!(back, m, "{} v{v}", <$t>::NAME);
                assert_eq!(back.to_bytes(v).unwrap(), b);
            }
        }
    )*};
}

#[test]
fn headers_and_data_specs_round_trip() {
    round_trip_plain!(
        RequestHeader,
        ResponseHeader,
        ConsumerProtocolAssignment,
        ConsumerProtocolSubscription,
        DefaultPrincipalData,
        KRaftVersionRecord,
        LeaderChangeMessage,
        SnapshotFooterRecord,
        SnapshotHeaderRecord,
        VotersRecord
    );
}
