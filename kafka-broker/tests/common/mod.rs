//! A minimal protocol client for broker tests: real TCP, the real codec.
#![allow(dead_code)]

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_broker::{Broker, BrokerHandle};
use kafka_proto::frame::{decode_response, encode_request, FrameDecoder};
use kafka_proto::record::{BatchMeta, BuilderOptions, RecordBatchBuilder, RecordBatches};
use kafka_proto::{Request, RequestBody, ResponseBody};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct Conn {
    pub stream: TcpStream,
    buf: BytesMut,
    frames: FrameDecoder,
    next_id: i32,
}

impl Conn {
    pub async fn connect(addr: &str) -> Conn {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).unwrap();
        Conn {
            stream,
            buf: BytesMut::new(),
            frames: FrameDecoder::default(),
            next_id: 1,
        }
    }

    pub async fn send_raw(&mut self, frame: &[u8]) {
        let mut out = (frame.len() as i32).to_be_bytes().to_vec();
        out.extend_from_slice(frame);
        self.stream.write_all(&out).await.expect("write");
    }

    /// Reads one response frame, or None if the broker closed the connection.
    pub async fn read_frame(&mut self) -> Option<Bytes> {
        loop {
            if let Some(f) = self.frames.decode(&mut self.buf).expect("frame") {
                return Some(f);
            }
            let n =
                tokio::time::timeout(Duration::from_secs(30), self.stream.read_buf(&mut self.buf))
                    .await
                    .expect("response within 30 s")
                    .ok()?;
            if n == 0 {
                return None;
            }
        }
    }

    /// Sends a request at `version` and decodes the response.
    pub async fn call<R: Request + Into<RequestBody>>(
        &mut self,
        req: R,
        version: i16,
    ) -> ResponseBody {
        self.try_call(req, version)
            .await
            .expect("connection closed")
    }

    pub async fn try_call<R: Request + Into<RequestBody>>(
        &mut self,
        req: R,
        version: i16,
    ) -> Option<ResponseBody> {
        let id = self.next_id;
        self.next_id += 1;
        let body: RequestBody = req.into();
        let key = body.api_key();
        let mut frame = BytesMut::new();
        encode_request(&mut frame, id, Some("broker-test"), &body, version).expect("encode");
        self.send_raw(&frame).await;
        let resp = self.read_frame().await?;
        let (header, body, trailing) =
            decode_response(&resp, key, version).expect("decode response");
        assert_eq!(header.correlation_id, id);
        assert_eq!(trailing, 0);
        Some(body)
    }
}

/// Logs to the test output when `RUST_LOG` is set.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

pub async fn memory_broker() -> BrokerHandle {
    init_tracing();
    Broker::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .in_memory()
        .start()
        .await
        .expect("broker starts")
}

/// A batch of `n` records `key-i` → `value-i` with timestamps `ts0 + i`.
pub fn batch(n: usize, ts0: i64) -> Bytes {
    let mut b = RecordBatchBuilder::new(BuilderOptions::default());
    for i in 0..n {
        let k = format!("key-{i}");
        let v = format!("value-{i}");
        assert!(b
            .try_append(ts0 + i as i64, Some(k.as_bytes()), Some(v.as_bytes()), &[])
            .unwrap());
    }
    b.finish(&BatchMeta::default()).unwrap()
}

/// (offset, key, value) of every record in `records`.
pub fn records_of(records: &Bytes) -> Vec<(i64, String, String)> {
    let mut out = Vec::new();
    for batch in RecordBatches::new(records.clone()) {
        let batch = batch.expect("valid batch");
        for r in batch.records().expect("records") {
            let r = r.expect("record");
            out.push((
                r.offset(),
                String::from_utf8_lossy(r.key().unwrap_or_default()).into_owned(),
                String::from_utf8_lossy(r.value().unwrap_or_default()).into_owned(),
            ));
        }
    }
    out
}
