//! Arbitrary bytes through the frame splitter and the request decoder: no panic, no hang, and a
//! frame over the maximum is refused before its memory is reserved.
#![no_main]

use bytes::BytesMut;
use kafka_proto::frame::{decode_request, FrameDecoder};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut fd = FrameDecoder::new(1 << 16);
    let mut buf = BytesMut::from(data);
    while let Ok(Some(frame)) = fd.decode(&mut buf) {
        let _ = decode_request(&frame);
    }
    assert!(buf.capacity() <= data.len().max(4 + (1 << 16)) + 64);
});
