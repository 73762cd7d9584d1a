//! Measurement helpers for the whole-program comparisons (`src/bin/produce_compare.rs`): the
//! same payloads, latency histogram and `/proc` readers as `kafka-client/benches/produce_load.rs`
//! (kept in step by hand: the main workspace cannot depend on this one).
//!
//! Linux only: CPU time and peak RSS come from `/proc/self/stat` and `/proc/self/status`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

/// 64 distinct text-like payloads of `size` bytes (so lz4 has realistic work, not one repeated
/// record). The same generator as the main workspace's `produce_load` bench.
pub fn payloads(size: usize) -> Vec<Vec<u8>> {
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

const SUB_BITS: u32 = 6;
const SUB: usize = 1 << SUB_BITS;
const BUCKETS: usize = (64 - SUB_BITS as usize) * SUB + SUB;

/// Delivery latencies: log-linear buckets over microseconds (exact below 128 us, then 64
/// buckets per power of two, so within 1.6%), lock-free so a delivery callback stays cheap.
#[derive(Debug)]
pub struct Histogram {
    buckets: Vec<AtomicU64>,
    errors: AtomicU64,
}

/// The process's histogram (a static, so callbacks need capture nothing but their start time).
pub fn histogram() -> &'static Histogram {
    static H: OnceLock<Histogram> = OnceLock::new();
    H.get_or_init(|| Histogram {
        buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        errors: AtomicU64::new(0),
    })
}

impl Histogram {
    fn index(us: u64) -> usize {
        if us < 2 * SUB as u64 {
            return us as usize;
        }
        let msb = 63 - us.leading_zeros();
        let shift = msb - SUB_BITS;
        let top = (us >> shift) as usize; // SUB..2*SUB
        (shift as usize + 1) * SUB + (top - SUB)
    }

    /// The middle of bucket `i`, in microseconds.
    fn value(i: usize) -> u64 {
        if i < 2 * SUB {
            return i as u64;
        }
        let shift = (i / SUB - 1) as u32;
        let top = (i % SUB + SUB) as u64;
        (top << shift) + (1u64 << shift) / 2
    }

    /// Counts one delivered record.
    pub fn record(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        if let Some(b) = self.buckets.get(Self::index(us)) {
            b.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts one failed record.
    pub fn error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Failed records so far.
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// Records counted so far.
    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).sum()
    }

    /// The `q` quantile (0..=1) in microseconds.
    pub fn quantile(&self, q: f64) -> u64 {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return 0;
        }
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Self::value(i);
            }
        }
        0
    }
}

/// utime and stime, in clock ticks, from a `/proc/<pid>/stat` file ((0, 0) if unreadable).
pub fn cpu_ticks(path: &str) -> (u64, u64) {
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

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`), read from the `AT_CLKTCK` entry of the
/// process's auxiliary vector; 100 (Linux's USER_HZ) if that cannot be read.
pub fn clock_ticks_per_second() -> f64 {
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

/// Peak resident set size (`VmHWM`) of this process in KiB.
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// A CPU stopwatch over this process (all threads, including ones that exited).
#[derive(Debug, Clone, Copy)]
pub struct CpuClock {
    user: u64,
    sys: u64,
}

impl CpuClock {
    /// Starts now.
    pub fn start() -> CpuClock {
        let (user, sys) = cpu_ticks("/proc/self/stat");
        CpuClock { user, sys }
    }

    /// User and system seconds since `start`.
    pub fn elapsed(&self) -> (f64, f64) {
        let (user, sys) = cpu_ticks("/proc/self/stat");
        let tick = clock_ticks_per_second();
        (
            user.saturating_sub(self.user) as f64 / tick,
            sys.saturating_sub(self.sys) as f64 / tick,
        )
    }
}

/// A numeric environment variable (`_` separators allowed), or `default`.
pub fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// A comma-separated environment variable as a list (empty entries dropped), or `default`.
pub fn env_list(name: &str, default: &str) -> Vec<String> {
    std::env::var(name)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The median (NaN for no values; the mean of the middle two for an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match (v.get(n.wrapping_sub(1) / 2), v.get(n / 2)) {
        (Some(a), Some(b)) => (a + b) / 2.0,
        _ => f64::NAN,
    }
}

/// The `key=value` pairs of a child's `result ...` line, as numbers (NaN if absent or not a
/// number).
#[derive(Debug, Clone, Default)]
pub struct Fields(pub Vec<(String, f64)>);

impl Fields {
    /// Parses `result k=v k=v ...` (the first word is skipped if it has no `=`).
    pub fn parse(line: &str) -> Fields {
        Fields(
            line.split_whitespace()
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.parse().unwrap_or(f64::NAN)))
                .collect(),
        )
    }

    /// The value of `key`, NaN if absent.
    pub fn get(&self, key: &str) -> f64 {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map_or(f64::NAN, |(_, v)| *v)
    }
}
