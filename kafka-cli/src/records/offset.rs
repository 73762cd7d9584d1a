//! The `-o` grammar: where each partition starts and where it stops.
//!
//! | form | start | stop |
//! | --- | --- | --- |
//! | `start`, `beginning`, `oldest` | the log start | follow |
//! | `end`, `newest` | the log end (new records only) | follow |
//! | `N` | offset N (clamped to the log) | follow |
//! | `+N` | N after the log start | follow |
//! | `-N` | N before the log end (per partition) | follow |
//! | `@TIME`, `s@TIME` | the first offset with a timestamp at or after TIME | follow |
//! | `e@TIME` | the log start | before the first offset at or after TIME |
//! | `:end` | the log start | the log end when the command started |
//! | `A:B` | A (`start`, `N`, `+N`, `-N`, or empty for the start) | B: offset B (exclusive) or `end` |
//! | `@T1:T2` | the first offset at or after T1 | before the first offset at or after T2 (or `end`) |
//!
//! TIME is epoch milliseconds, a date-time (`2024-01-02T03:04:05Z`, see `timespec`), `now`,
//! or `-DURATION` for that long ago (`@-1h`). A time after every record resolves to the log
//! end. `-o` may be given twice to pair a start with a stop (`-o s@T1 -o e@T2`, `-o 10 -o
//! e@T`). `-e` adds a stop at the log end (when the command started) to forms that follow.

use crate::timespec::parse_time;

/// Where a partition starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    Beginning,
    End,
    Offset(i64),
    FromBeginning(i64),
    BeforeEnd(i64),
    Time(i64),
}

/// Where a partition stops (exclusive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    Follow,
    /// The log end when the command started.
    EndSnapshot,
    Offset(i64),
    Time(i64),
}

/// A parsed `-o`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OffsetRange {
    pub start: Start,
    pub stop: Stop,
}

/// Accepted forms, for error messages.
pub const FORMS: &str = "start, end, N, +N, -N, :end, N1:N2, @TIME, @T1:T2, @-1h, s@TIME, e@TIME";

impl OffsetRange {
    /// Parses one or two `-o` values (two: a start and a stop).
    pub fn parse_all(values: &[String]) -> Result<OffsetRange, String> {
        match values {
            [] => Ok(OffsetRange {
                start: Start::Beginning,
                stop: Stop::Follow,
            }),
            [one] => parse(one),
            [a, b] => {
                let (a, b) = (parse(a)?, parse(b)?);
                let stop_only =
                    |r: &OffsetRange, raw: &str| raw.starts_with("e@") && r.stop != Stop::Follow;
                if stop_only(&b, &values[1]) && a.stop == Stop::Follow {
                    Ok(OffsetRange {
                        start: a.start,
                        stop: b.stop,
                    })
                } else if stop_only(&a, &values[0]) && b.stop == Stop::Follow {
                    Ok(OffsetRange {
                        start: b.start,
                        stop: a.stop,
                    })
                } else {
                    Err(format!(
                        "-o given twice must be a start and an e@TIME stop, got `{}` and `{}`",
                        values[0], values[1]
                    ))
                }
            }
            _ => Err("-o may be given at most twice (a start and an e@TIME stop)".into()),
        }
    }

    /// Resolves against a partition's log start and end and the time lookups (`None`: no
    /// record at or after the time, i.e. the log end). Returns the start offset and the stop
    /// (exclusive; `None` follows). With `cap_at_end` (`-e`) every stop is at most `latest`.
    pub fn resolve(
        &self,
        earliest: i64,
        latest: i64,
        start_time: Option<i64>,
        stop_time: Option<i64>,
        cap_at_end: bool,
    ) -> (i64, Option<i64>) {
        let clamp = |o: i64| o.clamp(earliest, latest.max(earliest));
        let start = match self.start {
            Start::Beginning => earliest,
            Start::End => latest,
            Start::Offset(n) => clamp(n),
            Start::FromBeginning(n) => clamp(earliest.saturating_add(n)),
            Start::BeforeEnd(n) => clamp(latest.saturating_sub(n)),
            Start::Time(_) => clamp(start_time.unwrap_or(latest)),
        };
        let stop = match self.stop {
            Stop::Follow => None,
            Stop::EndSnapshot => Some(latest),
            Stop::Offset(n) => Some(n),
            Stop::Time(_) => Some(stop_time.unwrap_or(latest)),
        };
        let stop = match (stop, cap_at_end) {
            (None, true) => Some(latest),
            (Some(s), true) => Some(s.min(latest)),
            (s, false) => s,
        };
        (start, stop)
    }
}

/// Parses one `-o` value.
pub fn parse(raw: &str) -> Result<OffsetRange, String> {
    let s = raw.trim();
    let bad = |why: &str| format!("invalid offset `{raw}`: {why} (forms: {FORMS})");
    if let Some(t) = s.strip_prefix("s@") {
        return Ok(OffsetRange {
            start: Start::Time(time(t).map_err(|e| bad(&e))?),
            stop: Stop::Follow,
        });
    }
    if let Some(t) = s.strip_prefix("e@") {
        return Ok(OffsetRange {
            start: Start::Beginning,
            stop: Stop::Time(time(t).map_err(|e| bad(&e))?),
        });
    }
    if let Some(t) = s.strip_prefix('@') {
        if let Ok(t) = time(t) {
            return Ok(OffsetRange {
                start: Start::Time(t),
                stop: Stop::Follow,
            });
        }
        // A range: date-times contain colons, so try each split.
        for (i, _) in t.match_indices(':') {
            let (a, b) = (&t[..i], &t[i + 1..]);
            let Ok(a) = time(a) else { continue };
            let stop = if b == "end" {
                Stop::EndSnapshot
            } else {
                match time(b) {
                    Ok(b) if b < a => return Err(bad("the end time is before the start time")),
                    Ok(b) => Stop::Time(b),
                    Err(_) => continue,
                }
            };
            return Ok(OffsetRange {
                start: Start::Time(a),
                stop,
            });
        }
        return Err(bad(&match time(t) {
            Err(e) => e,
            Ok(_) => "not a time or time range".into(),
        }));
    }
    if let Some((a, b)) = s.split_once(':') {
        let start = if a.is_empty() {
            Start::Beginning
        } else {
            single_start(a).ok_or_else(|| bad("the part before `:` must be start, N, +N or -N"))?
        };
        let stop = if b == "end" {
            Stop::EndSnapshot
        } else {
            let n = plain_offset(b)
                .ok_or_else(|| bad("the part after `:` must be end or an offset"))?;
            if let Start::Offset(a) = start {
                if n < a {
                    return Err(bad("the end offset is before the start offset"));
                }
            }
            Stop::Offset(n)
        };
        return Ok(OffsetRange { start, stop });
    }
    if matches!(s, "end" | "newest" | "latest") {
        return Ok(OffsetRange {
            start: Start::End,
            stop: Stop::Follow,
        });
    }
    let start = single_start(s).ok_or_else(|| bad("unknown form"))?;
    Ok(OffsetRange {
        start,
        stop: Stop::Follow,
    })
}

fn single_start(s: &str) -> Option<Start> {
    Some(match s {
        "start" | "beginning" | "oldest" | "earliest" => Start::Beginning,
        _ => {
            if let Some(n) = s.strip_prefix('+') {
                Start::FromBeginning(plain_offset(n)?)
            } else if let Some(n) = s.strip_prefix('-') {
                Start::BeforeEnd(plain_offset(n)?)
            } else {
                Start::Offset(plain_offset(s)?)
            }
        }
    })
}

fn plain_offset(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn time(s: &str) -> Result<i64, String> {
    if s.is_empty() {
        return Err("a time is missing after `@`".into());
    }
    parse_time(s).map_err(|e| e.to_string())
}

/// `--from` of replay: a start form of the grammar.
pub fn parse_start(raw: &str) -> Result<Start, String> {
    let r = parse(raw)?;
    if r.stop != Stop::Follow {
        return Err(format!(
            "invalid --from `{raw}`: a start is one of start, end, N, +N, -N, @TIME"
        ));
    }
    Ok(r.start)
}

/// `--to` of replay: `end`, an offset (exclusive), or `@TIME`.
pub fn parse_stop(raw: &str) -> Result<Stop, String> {
    let s = raw.trim();
    if s == "end" {
        return Ok(Stop::EndSnapshot);
    }
    if let Some(t) = s.strip_prefix('@').or_else(|| s.strip_prefix("e@")) {
        return time(t)
            .map(Stop::Time)
            .map_err(|e| format!("invalid --to `{raw}`: {e}"));
    }
    plain_offset(s).map(Stop::Offset).ok_or_else(|| {
        format!("invalid --to `{raw}`: expected end, an offset (exclusive) or @TIME")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> OffsetRange {
        parse(s).unwrap()
    }

    #[test]
    fn forms() {
        use Start::{BeforeEnd, Beginning, End, FromBeginning};
        use Stop::{EndSnapshot, Follow};
        let r = |start, stop| OffsetRange { start, stop };
        assert_eq!(p("start"), r(Beginning, Follow));
        assert_eq!(p("beginning"), r(Beginning, Follow));
        assert_eq!(p("end"), r(End, Follow));
        assert_eq!(p("42"), r(Start::Offset(42), Follow));
        assert_eq!(p("+3"), r(FromBeginning(3), Follow));
        assert_eq!(p("-3"), r(BeforeEnd(3), Follow));
        assert_eq!(p(":end"), r(Beginning, EndSnapshot));
        assert_eq!(p("5:9"), r(Start::Offset(5), Stop::Offset(9)));
        assert_eq!(p(":9"), r(Beginning, Stop::Offset(9)));
        assert_eq!(p("+2:end"), r(FromBeginning(2), EndSnapshot));
        assert_eq!(p("@1000"), r(Start::Time(1000), Follow));
        assert_eq!(p("s@1000"), r(Start::Time(1000), Follow));
        assert_eq!(p("e@1000"), r(Beginning, Stop::Time(1000)));
        assert_eq!(p("@1000:2000"), r(Start::Time(1000), Stop::Time(2000)));
        assert_eq!(p("@1000:end"), r(Start::Time(1000), EndSnapshot));
        assert_eq!(
            p("@2024-01-02T03:04:05Z:2024-01-02T03:04:06Z"),
            r(
                Start::Time(1_704_164_645_000),
                Stop::Time(1_704_164_646_000)
            )
        );
        assert_eq!(
            p("@2024-01-02T03:04:05Z"),
            r(Start::Time(1_704_164_645_000), Follow)
        );
        assert!(matches!(p("@-1h").start, Start::Time(_)));
        let two = OffsetRange::parse_all(&["s@1000".into(), "e@2000".into()]).unwrap();
        assert_eq!(two, r(Start::Time(1000), Stop::Time(2000)));
    }

    #[test]
    fn bad_forms() {
        for bad in [
            "",
            "x",
            "1x",
            "+",
            "-",
            "9:5",
            "@",
            "@yesterday",
            "@2000:1000",
            "s@",
            "e@nope",
            "a:b",
            "1:",
            "++1",
        ] {
            let e = parse(bad);
            assert!(e.is_err(), "{bad:?} parsed as {e:?}");
            assert!(!e.unwrap_err().contains('\n'));
        }
        assert!(OffsetRange::parse_all(&["1".into(), "2".into()]).is_err());
    }

    #[test]
    fn resolving() {
        let r = p("-3");
        assert_eq!(r.resolve(10, 20, None, None, false), (17, None));
        assert_eq!(r.resolve(10, 11, None, None, true), (10, Some(11)));
        assert_eq!(p("+3").resolve(10, 20, None, None, false), (13, None));
        assert_eq!(p("100").resolve(10, 20, None, None, false), (20, None));
        assert_eq!(p("5:50").resolve(0, 20, None, None, true), (5, Some(20)));
        assert_eq!(p("5:50").resolve(0, 20, None, None, false), (5, Some(50)));
        assert_eq!(
            p("@1:2").resolve(0, 20, Some(4), None, false),
            (4, Some(20))
        );
        assert_eq!(p(":end").resolve(0, 0, None, None, false), (0, Some(0)));
    }
}
