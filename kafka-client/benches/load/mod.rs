//! Shared by the `produce_load` and `consume_load` load generators: the broker child process,
//! the parent's line protocol with its children, payloads, and `/proc` readers for CPU time and
//! peak RSS (Linux).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::process::Child;

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub(crate) fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

pub(crate) fn read_line(child: &mut Child) -> Result<String, BoxError> {
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let line = line.trim().to_owned();
    if line.is_empty() {
        return Err("the broker process did not start".into());
    }
    Ok(line)
}

/// The `key=value` pairs of a client's `result` line.
pub(crate) struct Fields(Vec<(String, String)>);

impl Fields {
    pub(crate) fn parse(line: &str) -> Fields {
        Fields(
            line.split_whitespace()
                .skip(1)
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        )
    }

    pub(crate) fn get(&self, key: &str) -> f64 {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(f64::NAN)
    }

    pub(crate) fn json_fields(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("\"{k}\":{v}"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

pub(crate) fn run_broker() -> Result<(), BoxError> {
    let dir = tempfile::tempdir()?;
    let partitions = i32::try_from(env_num("PARTITIONS", 1))?;
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let broker = kafka_broker::Broker::builder()
            .listen("127.0.0.1:0".parse()?)
            .data_dir(dir.path())
            .default_partitions(partitions)
            .start()
            .await?;
        let mut out = std::io::stdout();
        writeln!(out, "{}", broker.bootstrap())?;
        out.flush()?;
        // Serve until the parent closes our stdin (or exits).
        tokio::task::spawn_blocking(|| std::io::copy(&mut std::io::stdin(), &mut std::io::sink()))
            .await??;
        broker.shutdown().await?;
        Ok::<(), BoxError>(())
    })
}

/// 64 distinct text-like payloads (so lz4 has realistic work, not one repeated record).
pub(crate) fn payloads(size: usize) -> Vec<Vec<u8>> {
    const WORDS: [&str; 16] = [
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
        "juliet", "kilo", "lima", "mike", "november", "oscar", "papa",
    ];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..64)
        .map(|i| {
            let mut text = format!("{{\"seq\":{i},\"event\":\"");
            while text.len() < size {
                text.push_str(WORDS[(next() % 16) as usize]);
                text.push(' ');
            }
            text.truncate(size);
            text.into_bytes()
        })
        .collect()
}

pub(crate) fn cpu_split(path: &str) -> (u64, u64) {
    let Ok(stat) = std::fs::read_to_string(path) else {
        return (0, 0);
    };
    // The command name is in parentheses and may contain spaces: fields count from after it.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of proc(5) (utime, stime); field 3 (state) is fields[0] here.
    let num = |i: usize| fields.get(i).and_then(|v| v.parse().ok()).unwrap_or(0);
    (num(11), num(12))
}

/// utime + stime, in clock ticks, from a `/proc/<pid>/stat` file (0 if unreadable).
pub(crate) fn cpu_ticks_of(path: &str) -> u64 {
    let (u, s) = cpu_split(path);
    u + s
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`), read from the `AT_CLKTCK` entry of the
/// process's auxiliary vector; 100 (Linux's USER_HZ) if that cannot be read.
pub(crate) fn clock_ticks_per_second() -> f64 {
    const AT_CLKTCK: u64 = 17;
    let Ok(auxv) = std::fs::read("/proc/self/auxv") else {
        return 100.0;
    };
    for pair in auxv.chunks_exact(16) {
        let word = |b: &[u8]| b.try_into().map(u64::from_ne_bytes).unwrap_or_default();
        let (key, value) = pair.split_at(8);
        if word(key) == AT_CLKTCK && word(value) > 0 {
            return word(value) as f64;
        }
    }
    100.0
}

/// Peak resident set size (`VmHWM`) in KiB.
pub(crate) fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
