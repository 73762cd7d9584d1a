//! TLS end to end: the bundled broker behind a TLS-terminating proxy (rustls server with rcgen
//! certificates) that the broker advertises, so every connection of the client is TLS.

use std::time::Duration;

use kafka_broker::{Broker, BrokerHandle};
use kafka_client::kafka_proto::messages::metadata_request::MetadataRequest;
use kafka_client::tls::TlsConfig;
use kafka_client::{Client, ClientConfig, Error, Node, Purpose};
use kafka_testkit::{TlsProxy, TlsProxyOptions};

async fn tls_cluster(opts: TlsProxyOptions) -> (BrokerHandle, TlsProxy) {
    let proxy = TlsProxy::bind(opts).await.unwrap();
    let b = Broker::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .advertise(proxy.addr().to_string())
        .in_memory()
        .start()
        .await
        .unwrap();
    proxy.set_upstream(b.local_addr());
    (b, proxy)
}

fn config(p: &TlsProxy, tls: TlsConfig) -> ClientConfig {
    ClientConfig::new(p.addr().to_string())
        .tls(tls)
        .request_timeout(Duration::from_secs(5))
        .default_api_timeout(Duration::from_secs(5))
        .connection_setup_timeout(Duration::from_secs(3))
}

/// Metadata from the broker's own node (not only the bootstrap connection).
async fn works(c: &Client) {
    let node = Node::Id(c.metadata().controller);
    let (_, md) = c
        .send_to(node, Purpose::Admin, &MetadataRequest::default(), None)
        .await
        .unwrap();
    assert_eq!(md.brokers.len(), 1);
}

#[tokio::test]
async fn verified_tls_through_the_proxy() {
    let (_b, p) = tls_cluster(TlsProxyOptions::default()).await;
    let c = Client::connect(config(&p, TlsConfig::new().ca_file(p.ca_pem_path())))
        .await
        .unwrap();
    works(&c).await;
    assert!(
        p.connections() >= 2,
        "bootstrap and node connections both went through TLS"
    );
    assert_eq!(p.handshake_failures(), 0);

    // The same through properties, as the CLI's -X would set them.
    let props = [
        ("bootstrap.servers", p.addr().to_string()),
        ("security.protocol", "SSL".to_owned()),
        ("ssl.ca.location", p.ca_pem_path().display().to_string()),
    ];
    let c = Client::connect(ClientConfig::from_properties(props).unwrap())
        .await
        .unwrap();
    works(&c).await;
}

#[tokio::test]
async fn wrong_ca_is_refused_unless_verification_is_off() {
    let (_b, p) = tls_cluster(TlsProxyOptions::default()).await;
    let e = Client::connect(config(&p, TlsConfig::new().ca_file(p.wrong_ca_pem_path())))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Unreachable { .. }), "{e:?}");
    assert!(e.to_string().contains("UnknownIssuer"), "{e}");
    // The proxy sees the aborted handshake (asynchronously).
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while p.handshake_failures() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "proxy saw no failed handshake"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let c = Client::connect(config(
        &p,
        TlsConfig::new()
            .ca_file(p.wrong_ca_pem_path())
            .danger_accept_invalid_certs(true),
    ))
    .await
    .unwrap();
    works(&c).await;

    // Plaintext against a TLS port fails too (and does not hang).
    let e = Client::connect(
        ClientConfig::new(p.addr().to_string()).connection_setup_timeout(Duration::from_secs(2)),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, Error::Unreachable { .. }), "{e:?}");
}

#[tokio::test]
async fn mutual_tls_needs_the_right_client_certificate() {
    let (_b, p) = tls_cluster(TlsProxyOptions::default().require_client_cert(true)).await;
    let ca = || TlsConfig::new().ca_file(p.ca_pem_path());

    let e = Client::connect(config(&p, ca())).await.unwrap_err();
    assert!(matches!(e, Error::Unreachable { .. }), "{e:?}");

    let e = Client::connect(config(
        &p,
        ca().client_auth(p.wrong_client_cert_path(), p.wrong_client_key_path()),
    ))
    .await
    .unwrap_err();
    assert!(matches!(e, Error::Unreachable { .. }), "{e:?}");

    let c = Client::connect(config(
        &p,
        ca().client_auth(p.client_cert_path(), p.client_key_path()),
    ))
    .await
    .unwrap();
    works(&c).await;
}

#[tokio::test]
async fn unreadable_tls_files_fail_before_connecting() {
    let (_b, p) = tls_cluster(TlsProxyOptions::default()).await;
    let e = Client::connect(config(&p, TlsConfig::new().ca_file("no/such/ca.pem")))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Tls { .. }), "{e:?}");
    assert!(e.to_string().contains("no/such/ca.pem"), "{e}");
    assert_eq!(p.connections(), 0);
}
