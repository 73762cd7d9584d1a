//! Statistics: counters kept with atomics on the request path, read as a [`ClientStats`] snapshot.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Duration;

/// Latency histogram: log-linear buckets over microseconds, four per power of two, so a
/// percentile is exact to within 19 %. Lock-free to record.
pub(crate) struct Histogram {
    buckets: Box<[AtomicU64]>,
}

const SUB: u32 = 4; // buckets per octave (2 bits of mantissa)
const BUCKETS: usize = 64 * SUB as usize;

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram")
            .field("count", &self.count())
            .finish()
    }
}

fn bucket_of(us: u64) -> usize {
    if us < u64::from(SUB) {
        return us as usize;
    }
    let log = 63 - us.leading_zeros(); // >= 2
    let mantissa = (us >> (log - 2)) & 0b11;
    ((log - 1) * SUB + mantissa as u32) as usize
}

/// The largest value that falls into bucket `b`.
fn upper_of(b: usize) -> u64 {
    let b = b as u32;
    if b < SUB {
        return u64::from(b);
    }
    let log = b / SUB + 1;
    let mantissa = u64::from(b % SUB);
    ((4 + mantissa + 1) << (log - 2)) - 1
}

impl Histogram {
    pub(crate) fn record(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let b = bucket_of(us).min(BUCKETS - 1);
        if let Some(slot) = self.buckets.get(b) {
            slot.fetch_add(1, Relaxed);
        }
    }

    pub(crate) fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Relaxed)).sum()
    }

    /// The value below which `q` (0..=1) of the recorded values fall (bucket upper bound).
    pub(crate) fn quantile(&self, q: f64) -> Option<Duration> {
        let counts: Vec<u64> = self.buckets.iter().map(|b| b.load(Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(Duration::from_micros(upper_of(i)));
            }
        }
        None
    }
}

/// Counters of one broker (all its connections).
#[derive(Debug, Default)]
pub(crate) struct BrokerCounters {
    pub(crate) requests: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) bytes_out: AtomicU64,
    pub(crate) bytes_in: AtomicU64,
    pub(crate) in_flight: AtomicU64,
    pub(crate) connects: AtomicU64,
    pub(crate) disconnects: AtomicU64,
    pub(crate) latency: Histogram,
}

impl BrokerCounters {
    pub(crate) fn snapshot(&self, name: String) -> BrokerStats {
        BrokerStats {
            broker: name,
            requests: self.requests.load(Relaxed),
            errors: self.errors.load(Relaxed),
            bytes_out: self.bytes_out.load(Relaxed),
            bytes_in: self.bytes_in.load(Relaxed),
            in_flight: self.in_flight.load(Relaxed),
            connects: self.connects.load(Relaxed),
            disconnects: self.disconnects.load(Relaxed),
            latency_p50: self.latency.quantile(0.50),
            latency_p99: self.latency.quantile(0.99),
            latency_max: self.latency.quantile(1.0),
        }
    }
}

/// A snapshot of one broker's counters.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BrokerStats {
    /// `node <id> (<host:port>)`, or the bootstrap address.
    pub broker: String,
    /// Requests answered (or sent, for requests without a response).
    pub requests: u64,
    /// Requests that failed at the connection level (I/O, protocol, timeout).
    pub errors: u64,
    /// Request bytes written.
    pub bytes_out: u64,
    /// Response bytes read.
    pub bytes_in: u64,
    /// Requests currently waiting for a response.
    pub in_flight: u64,
    /// Connections opened.
    pub connects: u64,
    /// Connections closed or broken.
    pub disconnects: u64,
    /// Median round-trip time of a request, if any was made.
    pub latency_p50: Option<Duration>,
    /// 99th percentile round-trip time.
    pub latency_p99: Option<Duration>,
    /// Longest round-trip time (to within one histogram bucket).
    pub latency_max: Option<Duration>,
}

/// A snapshot of the whole client, from [`crate::Client::stats`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ClientStats {
    /// One entry per broker the client talked to, by name.
    pub brokers: Vec<BrokerStats>,
    /// Time since metadata was last refreshed, `None` before the first.
    pub metadata_age: Option<Duration>,
    /// Metadata refreshes done.
    pub metadata_refreshes: u64,
    /// Reconnects: connections opened to a broker after a previous one to it broke.
    pub reconnects: u64,
}

/// The registry of broker counters, keyed by broker name.
#[derive(Debug, Default)]
pub(crate) struct StatsRegistry {
    brokers: Mutex<BTreeMap<String, std::sync::Arc<BrokerCounters>>>,
    pub(crate) reconnects: AtomicU64,
    pub(crate) metadata_refreshes: AtomicU64,
}

impl StatsRegistry {
    pub(crate) fn broker(&self, name: &str) -> std::sync::Arc<BrokerCounters> {
        let mut m = self.brokers.lock().unwrap_or_else(|p| p.into_inner());
        m.entry(name.to_owned()).or_default().clone()
    }

    pub(crate) fn brokers(&self) -> Vec<BrokerStats> {
        let m = self.brokers.lock().unwrap_or_else(|p| p.into_inner());
        m.iter().map(|(k, v)| v.snapshot(k.clone())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_bound_their_values() {
        let mut last = 0;
        for us in 0..100_000u64 {
            let b = bucket_of(us);
            assert!(b >= last, "bucket order at {us}");
            last = b;
            assert!(
                upper_of(b) >= us,
                "{us} above bucket {b} bound {}",
                upper_of(b)
            );
            if b > 0 {
                assert!(upper_of(b - 1) < us, "{us} belongs below bucket {b}");
            }
        }
    }

    #[test]
    fn quantiles() {
        let h = Histogram::default();
        assert_eq!(h.quantile(0.5), None);
        for ms in 1..=100u64 {
            h.record(Duration::from_millis(ms));
        }
        let p50 = h.quantile(0.5).unwrap();
        let p99 = h.quantile(0.99).unwrap();
        assert!(
            p50 >= Duration::from_millis(50) && p50 < Duration::from_millis(60),
            "{p50:?}"
        );
        assert!(
            p99 >= Duration::from_millis(99) && p99 < Duration::from_millis(120),
            "{p99:?}"
        );
        assert_eq!(h.count(), 100);
    }
}
