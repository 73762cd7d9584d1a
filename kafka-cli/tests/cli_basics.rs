//! The binary's contract that every command shares: help renders, exit codes for usage errors
//! and unreachable brokers, one-line causes.

mod common;

use common::*;

#[test]
fn help_renders_and_lists_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let o = kafka_alone(dir.path()).arg("--help").output().unwrap();
    assert!(o.status.success());
    let out = stdout(&o);
    assert!(out.contains("Exit codes:"), "{out}");
    for cmd in [
        "topic",
        "produce",
        "consume",
        "group",
        "replay",
        "perf",
        "profile",
        "completions",
    ] {
        assert!(out.contains(cmd), "{cmd} missing from help");
    }
}

#[test]
fn clap_definition_is_consistent() {
    // The binary's own debug_assert runs in `kafka --help`; this checks every subcommand help.
    let dir = tempfile::tempdir().unwrap();
    for sub in [
        "broker start",
        "cluster",
        "topic",
        "produce",
        "consume",
        "tail",
        "offsets",
        "group",
        "replay",
        "perf",
        "profile",
        "completions",
    ] {
        let mut args: Vec<&str> = sub.split(' ').collect();
        args.push("--help");
        let o = kafka_alone(dir.path()).args(&args).output().unwrap();
        assert!(o.status.success(), "{sub}: {}", stderr(&o));
    }
}

#[test]
fn unreachable_broker_is_exit_4_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let o = kafka_alone(dir.path())
        .args(["-b", &format!("127.0.0.1:{port}"), "cluster", "info"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(err.contains("try: kafka broker start"), "{err}");
}

#[test]
fn bad_properties_are_usage_errors_before_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let o = kafka_alone(dir.path())
        .args([
            "-b",
            "127.0.0.1:1",
            "-X",
            "no.such.property=1",
            "cluster",
            "info",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("no.such.property"), "{}", stderr(&o));
    let o = kafka_alone(dir.path())
        .args(["topic", "--no-such-flag"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn completions_render() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let o = kafka_alone(dir.path())
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(o.status.success());
        assert!(stdout(&o).contains("kafka"), "{shell}");
    }
}
