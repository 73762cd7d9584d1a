//! The fault proxy in front of the bundled broker, driven with raw frames.

mod common;

use std::time::Duration;

use common::*;
use kafka_proto::frame::decode_response;
use kafka_proto::ApiKey;
use kafka_testkit::fault_proxy::CORRELATION_SHIFT;
use kafka_testkit::FaultProxy;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn connect(proxy: &FaultProxy) -> TcpStream {
    let s = TcpStream::connect(proxy.addr()).await.unwrap();
    s.set_nodelay(true).unwrap();
    s
}

async fn call(s: &mut TcpStream, id: i32) -> bytes::Bytes {
    s.write_all(&api_versions_request(id)).await.unwrap();
    expect_frame(s).await
}

/// Reads until end of stream (or a reset); returns what arrived.
async fn read_to_close(s: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(PATIENCE, s.read(&mut buf))
            .await
            .expect("the connection closes");
        match n {
            Ok(0) | Err(_) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test]
async fn forwards_requests_and_responses_unchanged() {
    let broker = broker().await;
    let proxy = FaultProxy::start(broker.local_addr()).await.unwrap();
    let mut a = connect(&proxy).await;
    let mut b = connect(&proxy).await;
    for id in 1..4 {
        assert_api_versions(&call(&mut a, id).await, id);
        assert_api_versions(&call(&mut b, id + 100).await, id + 100);
    }
    // Pipelined requests come back in order, each in one piece.
    let mut two = api_versions_request(7);
    two.extend(api_versions_request(8));
    a.write_all(&two).await.unwrap();
    assert_api_versions(&expect_frame(&mut a).await, 7);
    assert_api_versions(&expect_frame(&mut a).await, 8);
    assert_eq!(proxy.connections(), 2);
    assert_eq!(proxy.faults_fired(), 0);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn garbage_keeps_length_and_correlation_id_but_not_the_body() {
    let broker = broker().await;
    let proxy = FaultProxy::start(broker.local_addr()).await.unwrap();
    let mut s = connect(&proxy).await;
    let clean = call(&mut s, 1).await;
    assert_api_versions(&clean, 1);

    proxy.garbage_next_response();
    let garbled = call(&mut s, 2).await;
    assert_eq!(
        garbled.len(),
        clean.len(),
        "the length prefix is consistent"
    );
    assert_eq!(
        &garbled[..4],
        &2i32.to_be_bytes(),
        "the correlation id is kept"
    );
    assert_ne!(&garbled[4..], &clean[4..], "the body is replaced");
    match decode_response(&garbled, ApiKey::ApiVersions, API_VERSIONS_VERSION) {
        Err(_) => {}
        Ok((_, _, trailing)) => assert_ne!(trailing, 0, "random bytes do not decode cleanly"),
    }
    assert_eq!(proxy.faults_fired(), 1);

    // Once only: the stream is still framed and the next response is clean.
    assert_api_versions(&call(&mut s, 3).await, 3);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn close_mid_frame_sends_half_a_frame_then_closes() {
    let broker = broker().await;
    let proxy = FaultProxy::start(broker.local_addr()).await.unwrap();
    let mut s = connect(&proxy).await;
    let clean_len = call(&mut s, 1).await.len();

    proxy.close_mid_frame_next_response();
    s.write_all(&api_versions_request(2)).await.unwrap();
    let got = read_to_close(&mut s).await;
    assert!(got.len() >= 4, "the length prefix arrives: {got:?}");
    let announced = u32::from_be_bytes(got[..4].try_into().unwrap()) as usize;
    assert_eq!(announced, clean_len);
    assert_eq!(
        got.len() - 4,
        announced / 2,
        "half the frame, then end of stream"
    );

    // The proxy still serves new connections, without the fault.
    let mut again = connect(&proxy).await;
    assert_api_versions(&call(&mut again, 3).await, 3);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn oversize_sends_only_the_length_prefix() {
    let broker = broker().await;
    let proxy = FaultProxy::start(broker.local_addr()).await.unwrap();
    let mut s = connect(&proxy).await;
    let huge = 0x7fff_fff0u32;
    proxy.oversize_next_response(huge);
    s.write_all(&api_versions_request(1)).await.unwrap();
    let mut prefix = [0u8; 4];
    tokio::time::timeout(PATIENCE, s.read_exact(&mut prefix))
        .await
        .expect("the prefix in time")
        .unwrap();
    assert_eq!(u32::from_be_bytes(prefix), huge);
    let mut more = [0u8; 1];
    assert!(
        tokio::time::timeout(QUIET, s.read(&mut more))
            .await
            .is_err(),
        "nothing follows the prefix"
    );
    let mut other = connect(&proxy).await;
    assert_api_versions(&call(&mut other, 2).await, 2);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn wrong_correlation_rewrites_only_the_id() {
    let broker = broker().await;
    let proxy = FaultProxy::start(broker.local_addr()).await.unwrap();
    let mut s = connect(&proxy).await;
    proxy.wrong_correlation_next_response();
    let frame = call(&mut s, 41).await;
    let (header, _, trailing) =
        decode_response(&frame, ApiKey::ApiVersions, API_VERSIONS_VERSION).unwrap();
    assert_eq!(header.correlation_id, 41 + CORRELATION_SHIFT);
    assert_eq!(trailing, 0);
    assert_api_versions(&call(&mut s, 42).await, 42);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn faults_fire_once_on_the_first_connection_to_answer() {
    let broker = broker().await;
    let proxy = FaultProxy::start(broker.local_addr()).await.unwrap();
    let mut a = connect(&proxy).await;
    let mut b = connect(&proxy).await;
    proxy.wrong_correlation_next_response();
    let first = call(&mut b, 1).await;
    assert_eq!(&first[..4], &(1 + CORRELATION_SHIFT).to_be_bytes());
    assert_api_versions(&call(&mut a, 2).await, 2);
    assert_api_versions(&call(&mut b, 3).await, 3);
    assert_eq!(proxy.faults_fired(), 1);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn paused_client_reads_hold_requests_until_resumed() {
    let broker = broker().await;
    let proxy = FaultProxy::start(broker.local_addr()).await.unwrap();
    let s = connect(&proxy).await;
    let (mut rd, mut wr) = s.into_split();
    proxy.pause_client_reads(true);

    // A small request is held: the broker never sees it, so nothing comes back.
    wr.write_all(&api_versions_request(1)).await.unwrap();
    assert!(
        tokio::time::timeout(QUIET, read_frame(&mut rd))
            .await
            .is_err(),
        "nothing is forwarded while paused"
    );

    // A large one cannot be written in full: the socket buffers fill and the write blocks.
    let big = api_versions_request_padded(2, 64 << 20);
    let writer = tokio::spawn(async move {
        wr.write_all(&big).await.unwrap();
        wr
    });
    tokio::time::sleep(QUIET).await;
    assert!(
        !writer.is_finished(),
        "a large write blocks part-way while paused"
    );

    proxy.pause_client_reads(false);
    let _wr = tokio::time::timeout(PATIENCE, writer)
        .await
        .expect("the write completes after resuming")
        .unwrap();
    assert_api_versions(&expect_frame(&mut rd).await, 1);
    assert_api_versions(&expect_frame(&mut rd).await, 2);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn kill_all_closes_current_connections_only() {
    let broker = broker().await;
    let proxy = FaultProxy::start(broker.local_addr()).await.unwrap();
    let mut a = connect(&proxy).await;
    let mut b = connect(&proxy).await;
    assert_api_versions(&call(&mut a, 1).await, 1);
    assert_api_versions(&call(&mut b, 2).await, 2);
    proxy.kill_all();
    assert!(read_to_close(&mut a).await.is_empty());
    assert!(read_to_close(&mut b).await.is_empty());
    let mut c = connect(&proxy).await;
    assert_api_versions(&call(&mut c, 3).await, 3);
    assert_eq!(proxy.connections(), 3);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn bind_first_lets_the_broker_advertise_the_proxy() {
    let proxy = FaultProxy::bind().await.unwrap();
    let broker = broker_advertising(Some(proxy.addr().to_string())).await;
    let mut s = connect(&proxy).await;
    s.write_all(&metadata_request(5)).await.unwrap();
    proxy.set_upstream(broker.local_addr());
    let frame = expect_frame(&mut s).await;
    let (header, body, _) = decode_response(&frame, ApiKey::Metadata, 12).unwrap();
    assert_eq!(header.correlation_id, 5);
    let kafka_proto::ResponseBody::Metadata(m) = body else {
        panic!("not Metadata")
    };
    assert_eq!(m.brokers.len(), 1);
    assert_eq!(&*m.brokers[0].host, "127.0.0.1");
    assert_eq!(m.brokers[0].port, i32::from(proxy.addr().port()));
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn dropping_the_proxy_closes_everything() {
    let broker = broker().await;
    let proxy = FaultProxy::start(broker.local_addr()).await.unwrap();
    let addr = proxy.addr();
    let mut s = connect(&proxy).await;
    assert_api_versions(&call(&mut s, 1).await, 1);
    drop(proxy);
    assert!(read_to_close(&mut s).await.is_empty());
    tokio::time::timeout(PATIENCE, async {
        while TcpStream::connect(addr).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the listener closes");
    broker.shutdown().await.unwrap();
}
