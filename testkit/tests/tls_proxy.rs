//! The TLS proxy in front of the bundled broker, driven through `kafka_client::tls`.

mod common;

use std::time::Duration;

use common::*;
use kafka_client::tls::{TlsConfig, TlsError, TlsStream};
use kafka_testkit::{TlsProxy, TlsProxyOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn tls_connect(
    proxy: &TlsProxy,
    config: &TlsConfig,
    host: &str,
) -> Result<TlsStream<TcpStream>, TlsError> {
    let connector = config.connector().expect("connector");
    let tcp = TcpStream::connect(proxy.addr()).await.expect("tcp connect");
    connector.connect(host, tcp).await
}

/// Sends ApiVersions over `tls` and reads the answer; `Err` with the text of whatever failed.
async fn round_trip(tls: &mut TlsStream<TcpStream>, id: i32) -> Result<(), String> {
    tls.write_all(&api_versions_request(id))
        .await
        .map_err(|e| e.to_string())?;
    tls.flush().await.map_err(|e| e.to_string())?;
    match tokio::time::timeout(PATIENCE, read_frame(tls)).await {
        Err(_) => Err("no response in time".into()),
        Ok(Err(e)) => Err(e.to_string()),
        Ok(Ok(None)) => Err("end of stream".into()),
        Ok(Ok(Some(frame))) => {
            assert_api_versions(&frame, id);
            Ok(())
        }
    }
}

async fn wait_for_handshake_failures(proxy: &TlsProxy, n: usize) {
    tokio::time::timeout(PATIENCE, async {
        while proxy.handshake_failures() < n {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the proxy counts the failed handshake");
}

#[tokio::test]
async fn round_trip_with_the_test_ca_by_name_and_by_ip() {
    let broker = broker().await;
    let proxy = TlsProxy::start(broker.local_addr(), TlsProxyOptions::default())
        .await
        .unwrap();
    let config = TlsConfig::new().ca_file(proxy.ca_pem_path());
    for (i, host) in ["localhost", "127.0.0.1"].into_iter().enumerate() {
        let mut tls = tls_connect(&proxy, &config, host).await.expect(host);
        round_trip(&mut tls, 10 + i as i32).await.expect(host);
        round_trip(&mut tls, 20 + i as i32).await.expect(host);
    }
    assert_eq!(proxy.connections(), 2);
    assert_eq!(proxy.handshake_failures(), 0);
    drop(proxy);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_wrong_ca_fails_with_unknown_issuer() {
    let broker = broker().await;
    let proxy = TlsProxy::start(broker.local_addr(), TlsProxyOptions::default())
        .await
        .unwrap();
    let config = TlsConfig::new().ca_file(proxy.wrong_ca_pem_path());
    let err = tls_connect(&proxy, &config, "localhost")
        .await
        .expect_err("an unrelated CA must not verify the server");
    assert!(matches!(err, TlsError::Handshake { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("UnknownIssuer"), "{text}");
    assert!(text.contains("localhost"), "{text}");
    wait_for_handshake_failures(&proxy, 1).await;
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_certificate_must_name_the_host_unless_overridden() {
    let broker = broker().await;
    let proxy = TlsProxy::start(broker.local_addr(), TlsProxyOptions::default())
        .await
        .unwrap();
    let wrong_name = TlsConfig::new()
        .ca_file(proxy.ca_pem_path())
        .server_name("broker.example");
    let err = tls_connect(&proxy, &wrong_name, "127.0.0.1")
        .await
        .expect_err("the certificate does not name broker.example");
    assert!(err.to_string().contains("not valid for name"), "{err}");

    // Dialled by an address the certificate does not carry, verified as "localhost".
    let overridden = TlsConfig::new()
        .ca_file(proxy.ca_pem_path())
        .server_name("localhost");
    let mut tls = tls_connect(&proxy, &overridden, "127.0.0.2")
        .await
        .expect("verified as localhost");
    round_trip(&mut tls, 1).await.unwrap();
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn danger_accept_invalid_certs_skips_verification() {
    let broker = broker().await;
    let proxy = TlsProxy::start(broker.local_addr(), TlsProxyOptions::default())
        .await
        .unwrap();
    let config = TlsConfig::new()
        .ca_file(proxy.wrong_ca_pem_path())
        .danger_accept_invalid_certs(true);
    let mut tls = tls_connect(&proxy, &config, "not-the-name.example")
        .await
        .expect("no verification");
    round_trip(&mut tls, 5).await.unwrap();
    broker.shutdown().await.unwrap();
}

async fn mutual_tls(opts: TlsProxyOptions) {
    let broker = broker().await;
    let proxy = TlsProxy::start(broker.local_addr(), opts).await.unwrap();
    let ca = TlsConfig::new().ca_file(proxy.ca_pem_path());

    // No client certificate: under TLS 1.3 the client's handshake completes and the server's
    // rejection arrives on the first read; under TLS 1.2 the handshake itself fails.
    let failure = match tls_connect(&proxy, &ca, "localhost").await {
        Err(e) => e.to_string(),
        Ok(mut tls) => round_trip(&mut tls, 1)
            .await
            .expect_err("the proxy requires a client certificate"),
    };
    assert!(!failure.is_empty());
    wait_for_handshake_failures(&proxy, 1).await;

    // A client certificate from the unrelated CA is rejected too.
    let wrong = ca.clone().client_auth(
        proxy.wrong_client_cert_path(),
        proxy.wrong_client_key_path(),
    );
    if let Ok(mut tls) = tls_connect(&proxy, &wrong, "localhost").await {
        round_trip(&mut tls, 2)
            .await
            .expect_err("a client certificate from another CA is refused");
    }
    wait_for_handshake_failures(&proxy, 2).await;

    // The test CA's client certificate works.
    let right = ca.client_auth(proxy.client_cert_path(), proxy.client_key_path());
    let mut tls = tls_connect(&proxy, &right, "localhost")
        .await
        .expect("handshake with a client certificate");
    round_trip(&mut tls, 3).await.unwrap();
    assert_eq!(proxy.handshake_failures(), 2);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn require_client_cert_tls13() {
    mutual_tls(TlsProxyOptions::default().require_client_cert(true)).await;
}

#[tokio::test]
async fn require_client_cert_tls12() {
    mutual_tls(
        TlsProxyOptions::default()
            .require_client_cert(true)
            .tls12_only(true),
    )
    .await;
}

#[tokio::test]
async fn tls12_handshake_fails_without_a_client_certificate() {
    let broker = broker().await;
    let proxy = TlsProxy::start(
        broker.local_addr(),
        TlsProxyOptions::default()
            .require_client_cert(true)
            .tls12_only(true),
    )
    .await
    .unwrap();
    let ca = TlsConfig::new().ca_file(proxy.ca_pem_path());
    let err = tls_connect(&proxy, &ca, "localhost")
        .await
        .expect_err("TLS 1.2 reports the missing certificate in the handshake");
    assert!(matches!(err, TlsError::Handshake { .. }), "{err:?}");
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn bind_before_the_broker_then_advertise_the_proxy() {
    let proxy = TlsProxy::bind(TlsProxyOptions::default()).await.unwrap();
    let broker = broker_advertising(Some(proxy.addr().to_string())).await;
    let config = TlsConfig::new().ca_file(proxy.ca_pem_path());
    let mut tls = tls_connect(&proxy, &config, "localhost").await.unwrap();
    // Sent before the upstream is known: it waits, then goes through.
    tls.write_all(&metadata_request(9)).await.unwrap();
    tls.flush().await.unwrap();
    proxy.set_upstream(broker.local_addr());
    let frame = expect_frame(&mut tls).await;
    let (header, body, _) =
        kafka_proto::frame::decode_response(&frame, kafka_proto::ApiKey::Metadata, 12).unwrap();
    assert_eq!(header.correlation_id, 9);
    let kafka_proto::ResponseBody::Metadata(m) = body else {
        panic!("not Metadata")
    };
    let advertised: Vec<_> = m
        .brokers
        .iter()
        .map(|b| format!("{}:{}", &*b.host, b.port))
        .collect();
    assert_eq!(advertised, vec![proxy.addr().to_string()]);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn dropping_the_proxy_closes_connections_and_the_listener() {
    let broker = broker().await;
    let proxy = TlsProxy::start(broker.local_addr(), TlsProxyOptions::default())
        .await
        .unwrap();
    let addr = proxy.addr();
    let ca_path = proxy.ca_pem_path().to_owned();
    let config = TlsConfig::new().ca_file(proxy.ca_pem_path());
    let mut tls = tls_connect(&proxy, &config, "localhost").await.unwrap();
    round_trip(&mut tls, 1).await.unwrap();
    drop(proxy);
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(PATIENCE, tls.read(&mut byte))
        .await
        .expect("the connection closes");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    tokio::time::timeout(PATIENCE, async {
        while TcpStream::connect(addr).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the listener closes");
    assert!(!ca_path.exists(), "the certificate files are removed");
    broker.shutdown().await.unwrap();
}
