//! The TLS flags end to end: the real binary through a TLS-terminating proxy (rustls, rcgen
//! certificates) that the broker advertises, so every connection is TLS. Also the exit codes of
//! interrupted commands.

mod common;

use std::process::{Command as StdCommand, Stdio};
use std::time::Duration;

use common::*;
use kafka_testkit::{TlsProxy, TlsProxyOptions};

struct TlsSetup {
    _rt: tokio::runtime::Runtime,
    proxy: TlsProxy,
    broker: TestBroker,
}

fn tls_setup(opts: TlsProxyOptions) -> TlsSetup {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let proxy = rt.block_on(TlsProxy::bind(opts)).unwrap();
    let addr = proxy.addr().to_string();
    let broker = TestBroker::start_with(|b| b.in_memory().advertise(addr));
    proxy.set_upstream(broker.handle.as_ref().unwrap().local_addr());
    TlsSetup {
        _rt: rt,
        proxy,
        broker,
    }
}

fn path(p: &std::path::Path) -> String {
    p.display().to_string()
}

#[test]
fn tls_flags_verify_the_broker() {
    let s = tls_setup(TlsProxyOptions::default());
    let b = &s.proxy.addr().to_string();
    let ca = path(s.proxy.ca_pem_path());
    let o = s
        .broker
        .kafka()
        .args(["-b", b, "--tls-ca", &ca, "cluster", "info"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains(b.as_str()), "{}", stdout(&o));

    // Records over TLS.
    let topic = name("tls");
    let o = s
        .broker
        .kafka()
        .args(["-b", b, "--tls-ca", &ca, "produce", &topic])
        .write_stdin("over tls\n")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let o = s
        .broker
        .kafka()
        .args([
            "-b",
            b,
            "--tls-ca",
            &ca,
            "consume",
            &topic,
            "-e",
            "-o",
            "beginning",
        ])
        .output()
        .unwrap();
    assert_eq!(stdout(&o), "over tls\n", "{}", stderr(&o));

    // The wrong CA: unreachable (4), with rustls' reason on one line.
    let wrong = path(s.proxy.wrong_ca_pem_path());
    let o = s
        .broker
        .kafka()
        .args(["-b", b, "--tls-ca", &wrong, "cluster", "info"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stderr(&o).contains("UnknownIssuer"), "{}", stderr(&o));
    assert_eq!(stderr(&o).lines().count(), 1);
    // Verification off: works with any certificate.
    let o = s
        .broker
        .kafka()
        .args(["-b", b, "--tls-insecure", "cluster", "info"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    // Plaintext against the TLS port fails.
    let o = s
        .broker
        .kafka()
        .args(["-b", b, "cluster", "info"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
}

#[test]
fn mutual_tls_flags() {
    let s = tls_setup(TlsProxyOptions::default().require_client_cert(true));
    let b = &s.proxy.addr().to_string();
    let ca = path(s.proxy.ca_pem_path());
    let o = s
        .broker
        .kafka()
        .args(["-b", b, "--tls-ca", &ca, "cluster", "info"])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(4),
        "no client certificate: {}",
        stderr(&o)
    );
    let (cert, key) = (
        path(s.proxy.client_cert_path()),
        path(s.proxy.client_key_path()),
    );
    let o = s
        .broker
        .kafka()
        .args([
            "-b",
            b,
            "--tls-ca",
            &ca,
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "cluster",
            "info",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    // A certificate without its key is a usage error, before connecting.
    let o = s
        .broker
        .kafka()
        .args(["-b", b, "--tls-cert", &cert, "cluster", "info"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

fn interrupt_after(mut child: std::process::Child, wait: Duration) -> Option<i32> {
    std::thread::sleep(wait);
    let _ = StdCommand::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn ctrl_c_is_130_mid_work_and_0_for_follow_mode() {
    let broker = TestBroker::start(1);
    let bin = assert_cmd::cargo::cargo_bin("kafka");
    let topic = name("int");
    // Follow-mode consume: Ctrl-C is the normal way to stop.
    let follow = StdCommand::new(&bin)
        .env("KAFKA_BROKERS", &broker.bootstrap)
        .env("KAFKA_CONFIG_DIR", broker.config_dir.path())
        .args(["consume", &topic])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The topic must exist for consume; create it first through produce.
    let o = broker
        .kafka()
        .args(["produce", &topic])
        .write_stdin("x\n")
        .output()
        .unwrap();
    assert!(o.status.success());
    let code = interrupt_after(follow, Duration::from_millis(1500));
    assert!(
        matches!(code, Some(0) | Some(3)),
        "follow-mode consume: {code:?}"
    );
    let follow = StdCommand::new(&bin)
        .env("KAFKA_BROKERS", &broker.bootstrap)
        .env("KAFKA_CONFIG_DIR", broker.config_dir.path())
        .args(["consume", &topic, "-o", "beginning"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert_eq!(
        interrupt_after(follow, Duration::from_millis(1500)),
        Some(0)
    );
    // A long perf run interrupted mid-work: 130.
    let perf = StdCommand::new(&bin)
        .env("KAFKA_BROKERS", &broker.bootstrap)
        .env("KAFKA_CONFIG_DIR", broker.config_dir.path())
        .args([
            "perf",
            "produce",
            &name("perf"),
            "--num-records",
            "1000000000",
            "--record-size",
            "100",
            "--throughput",
            "1000",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert_eq!(
        interrupt_after(perf, Duration::from_millis(1500)),
        Some(130)
    );
}
