//! A response body by (key, version): the first three bytes pick the API and version, the rest is
//! the body. Whatever decodes must re-encode, and that encoding must decode and re-encode to the
//! same bytes.
#![no_main]

use bytes::{Bytes, BytesMut};
use kafka_proto::{ApiKey, Decoder, ResponseBody};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [k, v, rest @ ..] = data else { return };
    let key = ApiKey::ALL[*k as usize % ApiKey::ALL.len()];
    let range = key.valid_versions();
    let version = range.min + (*v as i16) % (range.max - range.min + 1);
    let input = Bytes::copy_from_slice(rest);
    let mut d = Decoder::new(&input);
    if let Ok(body) = ResponseBody::decode(&mut d, key, version) {
        let mut out = BytesMut::new();
        if body.encode(&mut out, version).is_ok() {
            assert_eq!(out.len(), body.encoded_size(version));
            let out = out.freeze();
            let again = ResponseBody::decode(&mut Decoder::new(&out), key, version)
                .expect("re-encoded response decodes");
            // Compare bytes, not values: NaN floats are not equal to themselves.
            let mut out2 = BytesMut::new();
            again.encode(&mut out2, version).expect("decoded response re-encodes");
            assert_eq!(out2.freeze(), out);
        }
    }
});
