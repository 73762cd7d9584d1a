//! `kafka produce` / `kafka consume` against kcat, the same records through the same bundled
//! broker in one run:
//!
//! ```text
//! cargo bench -p kafka-cli --bench cli_vs_kcat
//! BENCH_RECORDS=200000 BENCH_ROUNDS=1 cargo bench -p kafka-cli --bench cli_vs_kcat
//! ```
//!
//! Starts `kafka broker start --memory` on a free port, writes BENCH_RECORDS (default
//! 1,000,000) lines of 100 bytes to a file, then per round (BENCH_ROUNDS, default 3; the best
//! round counts):
//!
//! - produce: `kafka produce T --file F` vs `kcat -P -t T -l F` (each into its own new topic);
//! - consume: `kafka consume T -e -o beginning > /dev/null` vs
//!   `kcat -C -e -o beginning -t T > /dev/null` (the same topic).
//!
//! Prints records/s for each and our ratio over kcat (the target is 1.5x or more). Without
//! kcat on the PATH it says so and measures only ours.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const RECORD: usize = 100;

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local address").port()
}

fn have_kcat() -> bool {
    Command::new("kcat")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs a command with stdout to /dev/null; its wall time.
fn timed(mut c: Command) -> Duration {
    let t = Instant::now();
    let out = c
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("run the command");
    let took = t.elapsed();
    assert!(
        out.status.success(),
        "{c:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

/// Counts the lines a consumer prints (checks that both read everything).
fn count_lines(mut c: Command) -> usize {
    let mut child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let n = BufReader::new(child.stdout.take().expect("stdout"))
        .split(b'\n')
        .count();
    let _ = child.wait();
    n
}

fn write_input(path: &Path, n: usize) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("create the input"));
    let mut line = vec![b'x'; RECORD];
    line.push(b'\n');
    for i in 0..n {
        let id = format!("{i:010}");
        line[..10].copy_from_slice(id.as_bytes());
        f.write_all(&line).expect("write the input");
    }
    f.flush().expect("flush the input");
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is taken.
    let records = env_num("BENCH_RECORDS", 1_000_000);
    let rounds = env_num("BENCH_ROUNDS", 3).max(1);
    let kafka = env!("CARGO_BIN_EXE_kafka");
    let kcat = have_kcat();
    let port = free_port();
    let bootstrap = format!("127.0.0.1:{port}");
    let dir = tempfile::tempdir().expect("temporary directory");
    let input = dir.path().join("records.txt");
    write_input(&input, records);

    let mut broker = Command::new(kafka)
        .args(["broker", "start", "--memory", "--listen", &bootstrap])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the broker");
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(&bootstrap).is_err() {
        assert!(Instant::now() < deadline, "the broker did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    println!(
        "{records} records of {RECORD} bytes, best of {rounds} round(s), broker {bootstrap}{}",
        if kcat {
            ""
        } else {
            "; kcat not found (apt-get install -y kcat): measuring only ours"
        }
    );

    let ours = |args: &[&str]| {
        let mut c = Command::new(kafka);
        c.args(["-b", &bootstrap, "-q"]).args(args);
        c
    };
    let theirs = |args: &[&str]| {
        let mut c = Command::new("kcat");
        c.args(["-b", &bootstrap, "-q"]).args(args);
        c
    };
    let file = input.to_str().expect("utf-8 path");
    let (mut p_ours, mut p_kcat) = (Duration::MAX, Duration::MAX);
    let (mut c_ours, mut c_kcat) = (Duration::MAX, Duration::MAX);
    for round in 0..rounds {
        let t_ours = format!("bench-ours-{round}");
        let t_kcat = format!("bench-kcat-{round}");
        p_ours = p_ours.min(timed(ours(&["produce", &t_ours, "--file", file])));
        if kcat {
            p_kcat = p_kcat.min(timed(theirs(&["-P", "-t", &t_kcat, "-l", file])));
        }
        // Both consumers read the topic our producer wrote.
        c_ours = c_ours.min(timed(ours(&["consume", &t_ours, "-e", "-o", "beginning"])));
        if kcat {
            c_kcat = c_kcat.min(timed(theirs(&[
                "-C",
                "-e",
                "-o",
                "beginning",
                "-t",
                &t_ours,
            ])));
        }
    }
    // Both read every record.
    let n = count_lines(ours(&["consume", "bench-ours-0", "-e", "-o", "beginning"]));
    assert_eq!(n, records, "kafka consume read {n} records");
    if kcat {
        let n = count_lines(theirs(&[
            "-C",
            "-e",
            "-o",
            "beginning",
            "-t",
            "bench-kcat-0",
        ]));
        assert_eq!(n, records, "kcat wrote or read {n} records");
    }

    println!();
    println!("| test | kafka (records/s) | kcat (records/s) | ratio |");
    println!("| --- | ---: | ---: | ---: |");
    for (what, o, k) in [
        ("produce --file", p_ours, p_kcat),
        ("consume -e -o beginning", c_ours, c_kcat),
    ] {
        if kcat {
            println!(
                "| {what} | {:.0} | {:.0} | {:.2}x |",
                rate(records, o),
                rate(records, k),
                k.as_secs_f64() / o.as_secs_f64()
            );
        } else {
            println!("| {what} | {:.0} | - | - |", rate(records, o));
        }
    }
    let _ = broker.kill();
    let _ = broker.wait();
}
