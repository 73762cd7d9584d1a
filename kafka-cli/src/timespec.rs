//! Times and durations on the command line, parsed before anything connects.
//!
//! - [`parse_datetime`]: an ISO-8601 date-time as Kafka's tools take it (`--to-datetime`):
//!   `2024-01-02T03:04:05`, with optional fractional seconds (`.123`; digits past milliseconds
//!   are dropped) and an optional zone (`Z`, `+02:00`, `+0200`, `+02`). Without a zone the time
//!   is local, as in Kafka's `kafka-consumer-groups`. A space may replace the `T`, and a bare date
//!   (`2024-01-02`) means its local midnight. A plain integer is milliseconds since the epoch.
//! - [`parse_duration`]: `500ms`, `30s`, `15m`, `1h`, `2d`, `1w` and sums like `1h30m`, or
//!   ISO-8601 (`PT1H`, `P1DT2H`, `PT0.5S`) as Kafka's `--by-duration` takes it.
//! - [`parse_time`]: either of the above as a point in time: a date-time, epoch milliseconds, or
//!   `-DURATION` for that long ago (`-1h`), or `now`.
//! - [`format_rfc3339_ms`]: milliseconds since the epoch as `2024-01-02T03:04:05.123Z`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};

/// The hint printed with every date-time error.
const DATETIME_FORMS: &str =
    "expected e.g. 2024-01-02T03:04:05, 2024-01-02T03:04:05.123, 2024-01-02T03:04:05Z, \
     2024-01-02T03:04:05+02:00 or epoch milliseconds";

/// The hint printed with every duration error.
const DURATION_FORMS: &str = "expected e.g. 500ms, 30s, 15m, 1h, 2d, 1h30m, PT1H or P1DT2H";

/// Milliseconds since the epoch of a date-time (see the module docs for the forms). The error
/// is one line naming the value and the accepted forms.
pub fn parse_datetime(s: &str) -> anyhow::Result<i64> {
    let t = s.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t
            .parse::<i64>()
            .map_err(|_| anyhow::anyhow!("`{s}` is out of range as epoch milliseconds"));
    }
    datetime_ms(t).ok_or_else(|| anyhow::anyhow!("invalid date-time `{s}`: {DATETIME_FORMS}"))
}

fn datetime_ms(t: &str) -> Option<i64> {
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return local_ms(d.and_time(NaiveTime::MIN));
    }
    // The date, then the time; the zone is whatever follows the seconds and their fraction.
    let (date, rest) = t.split_at_checked(10)?;
    let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    let (hms, rest) = rest.split_at_checked(8)?;
    let time = NaiveTime::parse_from_str(hms, "%H:%M:%S").ok()?;
    let (millis, zone) = match rest.strip_prefix(['.', ',']) {
        Some(frac) => {
            let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return None;
            }
            let (d, zone) = frac.split_at(digits);
            let mut ms: i64 = 0;
            for (i, b) in d.bytes().take(3).enumerate() {
                ms += i64::from(b - b'0') * [100, 10, 1][i];
            }
            (ms, zone)
        }
        None => (0, rest),
    };
    let naive = date.and_time(time);
    let base = if zone.is_empty() {
        local_ms(naive)?
    } else {
        let offset = parse_zone(zone)?;
        offset
            .from_local_datetime(&naive)
            .single()?
            .timestamp_millis()
    };
    base.checked_add(millis)
}

/// A zone suffix: `Z`, `+HH:MM`, `+HHMM` or `+HH` (or `-`).
fn parse_zone(z: &str) -> Option<FixedOffset> {
    if z == "Z" || z == "z" {
        return FixedOffset::east_opt(0);
    }
    let (sign, rest) = match z.as_bytes().first()? {
        b'+' => (1, &z[1..]),
        b'-' => (-1, &z[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    let colons = rest.len() - digits.len();
    let ok_shape = match digits.len() {
        2 => colons == 0,
        4 => colons == 0 || (colons == 1 && rest.as_bytes().get(2) == Some(&b':')),
        _ => false,
    };
    if !ok_shape || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i32 = digits.get(0..2)?.parse().ok()?;
    let minutes: i32 = digits
        .get(2..)
        .filter(|m| !m.is_empty())
        .map_or(Some(0), |m| m.parse().ok())?;
    if hours > 23 || minutes > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

/// A local wall-clock time in epoch milliseconds. In a daylight-saving gap there is no such
/// time (an error); in an overlap the earlier instant is taken.
fn local_ms(naive: NaiveDateTime) -> Option<i64> {
    match chrono::Local.from_local_datetime(&naive) {
        LocalResult::Single(t) => Some(t.timestamp_millis()),
        LocalResult::Ambiguous(a, _) => Some(a.timestamp_millis()),
        LocalResult::None => None,
    }
}

/// A duration (see the module docs for the forms). The error is one line naming the value and
/// the accepted forms.
pub fn parse_duration(s: &str) -> anyhow::Result<Duration> {
    let t = s.trim();
    let parsed = if t.starts_with(['P', 'p']) {
        iso_duration(&t[1..])
    } else {
        compact_duration(t)
    };
    parsed.ok_or_else(|| anyhow::anyhow!("invalid duration `{s}`: {DURATION_FORMS}"))
}

/// `1h30m`, `500ms`, ... : one or more `<integer><unit>`, units ms s m h d w.
fn compact_duration(t: &str) -> Option<Duration> {
    if t.is_empty() {
        return None;
    }
    let mut total = Duration::ZERO;
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let part = match unit {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.checked_mul(60)?),
            "h" => Duration::from_secs(n.checked_mul(3600)?),
            "d" => Duration::from_secs(n.checked_mul(86_400)?),
            "w" => Duration::from_secs(n.checked_mul(7 * 86_400)?),
            _ => return None,
        };
        total = total.checked_add(part)?;
    }
    Some(total)
}

/// The part after `P` of `PnDTnHnMnS` (Java's `Duration.parse`, without signs; the seconds may
/// have a fraction).
fn iso_duration(t: &str) -> Option<Duration> {
    let (days, time) = match t.find(['T', 't']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let mut total = Duration::ZERO;
    let mut any = false;
    if !days.is_empty() {
        let n: u64 = days.strip_suffix(['D', 'd'])?.parse().ok()?;
        total = Duration::from_secs(n.checked_mul(86_400)?);
        any = true;
    }
    if let Some(mut rest) = time {
        if rest.is_empty() {
            return None;
        }
        let mut last_rank = 0;
        while !rest.is_empty() {
            let num_len = rest
                .bytes()
                .take_while(|b| b.is_ascii_digit() || *b == b'.')
                .count();
            let num = &rest[..num_len];
            let unit = rest[num_len..].chars().next()?.to_ascii_uppercase();
            rest = &rest[num_len + 1..];
            let rank = match unit {
                'H' => 1,
                'M' => 2,
                'S' => 3,
                _ => return None,
            };
            if rank <= last_rank || num.is_empty() {
                return None;
            }
            last_rank = rank;
            let part = if unit == 'S' {
                Duration::try_from_secs_f64(num.parse::<f64>().ok()?).ok()?
            } else {
                let n: u64 = num.parse().ok()?;
                Duration::from_secs(n.checked_mul(if unit == 'H' { 3600 } else { 60 })?)
            };
            total = total.checked_add(part)?;
            any = true;
        }
    }
    any.then_some(total)
}

/// A point in time: a date-time or epoch milliseconds ([`parse_datetime`]), `now`, or
/// `-DURATION` for that long before now (`-1h`, `-PT30M`).
pub fn parse_time(s: &str) -> anyhow::Result<i64> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("now") {
        return Ok(now_ms());
    }
    if let Some(ago) = t.strip_prefix('-') {
        let d = parse_duration(ago).map_err(|_| {
            anyhow::anyhow!("invalid time `{s}`: after `-` comes a duration ({DURATION_FORMS})")
        })?;
        return Ok(now_ms().saturating_sub(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)));
    }
    parse_datetime(t).map_err(|_| {
        anyhow::anyhow!("invalid time `{s}`: {DATETIME_FORMS}, `now`, or -DURATION such as -1h")
    })
}

/// Now, in milliseconds since the epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// `2024-01-02T03:04:05.123Z` (UTC, always three fraction digits); the number itself when it is
/// outside chrono's range.
pub fn format_rfc3339_ms(ms: i64) -> String {
    match DateTime::from_timestamp_millis(ms) {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => ms.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> i64 {
        chrono::Local
            .with_ymd_and_hms(y, mo, d, h, mi, s)
            .earliest()
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn datetimes_with_zones() {
        let utc = 1_704_164_645_000; // 2024-01-02T03:04:05Z
        assert_eq!(parse_datetime("2024-01-02T03:04:05Z").unwrap(), utc);
        assert_eq!(parse_datetime("2024-01-02T03:04:05z").unwrap(), utc);
        assert_eq!(
            parse_datetime("2024-01-02T03:04:05.123Z").unwrap(),
            utc + 123
        );
        assert_eq!(parse_datetime("2024-01-02T03:04:05.1Z").unwrap(), utc + 100);
        assert_eq!(
            parse_datetime("2024-01-02T03:04:05.123456Z").unwrap(),
            utc + 123
        );
        assert_eq!(
            parse_datetime("2024-01-02T05:04:05+02:00").unwrap(),
            utc,
            "+02:00"
        );
        assert_eq!(parse_datetime("2024-01-02T05:04:05+0200").unwrap(), utc);
        assert_eq!(parse_datetime("2024-01-02T05:04:05+02").unwrap(), utc);
        assert_eq!(
            parse_datetime("2024-01-02T01:04:05.5-02:00").unwrap(),
            utc + 500
        );
        assert_eq!(parse_datetime("2024-01-02 03:04:05Z").unwrap(), utc);
    }

    #[test]
    fn datetimes_without_zone_are_local() {
        let l = local(2024, 1, 2, 3, 4, 5);
        assert_eq!(parse_datetime("2024-01-02T03:04:05").unwrap(), l);
        assert_eq!(parse_datetime("2024-01-02T03:04:05.123").unwrap(), l + 123);
        assert_eq!(
            parse_datetime("2024-01-02").unwrap(),
            local(2024, 1, 2, 0, 0, 0)
        );
    }

    #[test]
    fn epoch_millis() {
        assert_eq!(parse_datetime("1704164645000").unwrap(), 1_704_164_645_000);
        assert_eq!(parse_datetime("0").unwrap(), 0);
    }

    #[test]
    fn bad_datetimes() {
        for bad in [
            "",
            "yesterday",
            "2024-13-02T03:04:05",
            "2024-01-02T25:04:05",
            "2024-01-02T03:04",
            "2024-01-02T03:04:05.",
            "2024-01-02T03:04:05+2",
            "2024-01-02T03:04:05+24:00",
            "2024-01-02T03:04:05 UTC",
            "2024-01-02X03:04:05",
            "-5",
            "99999999999999999999",
        ] {
            let e = parse_datetime(bad);
            assert!(e.is_err(), "{bad:?} parsed as {e:?}");
            let msg = e.unwrap_err().to_string();
            assert!(!msg.contains('\n'), "{msg}");
        }
        let msg = parse_datetime("nope").unwrap_err().to_string();
        assert!(
            msg.contains("`nope`") && msg.contains("2024-01-02T03:04:05"),
            "{msg}"
        );
    }

    #[test]
    fn compact_durations() {
        let d = |s| parse_duration(s).unwrap();
        assert_eq!(d("500ms"), Duration::from_millis(500));
        assert_eq!(d("30s"), Duration::from_secs(30));
        assert_eq!(d("15m"), Duration::from_secs(900));
        assert_eq!(d("1h"), Duration::from_secs(3600));
        assert_eq!(d("2d"), Duration::from_secs(2 * 86_400));
        assert_eq!(d("1w"), Duration::from_secs(7 * 86_400));
        assert_eq!(d("1h30m"), Duration::from_secs(5400));
        assert_eq!(d("1m30s250ms"), Duration::from_millis(90_250));
        assert_eq!(d("0s"), Duration::ZERO);
    }

    #[test]
    fn iso_durations() {
        let d = |s| parse_duration(s).unwrap();
        assert_eq!(d("PT1H"), Duration::from_secs(3600));
        assert_eq!(d("P1DT2H"), Duration::from_secs(86_400 + 7200));
        assert_eq!(d("P2D"), Duration::from_secs(2 * 86_400));
        assert_eq!(d("PT15M"), Duration::from_secs(900));
        assert_eq!(d("PT1H2M3S"), Duration::from_secs(3723));
        assert_eq!(d("PT0.5S"), Duration::from_millis(500));
        assert_eq!(d("pt1h"), Duration::from_secs(3600));
    }

    #[test]
    fn bad_durations() {
        for bad in [
            "", "1", "h", "1x", "1h-", "-1h", "1.5h", "P", "PT", "PT1", "P1H", "PT1S1M", "PT1H1H",
            "P1DT", "PTxS",
        ] {
            let e = parse_duration(bad);
            assert!(e.is_err(), "{bad:?} parsed as {e:?}");
        }
        let msg = parse_duration("soon").unwrap_err().to_string();
        assert!(msg.contains("`soon`") && msg.contains("PT1H"), "{msg}");
    }

    #[test]
    fn times_relative_to_now() {
        let before = now_ms();
        let t = parse_time("-1h").unwrap();
        let after = now_ms();
        assert!(t >= before - 3_600_000 && t <= after - 3_600_000);
        let n = parse_time("now").unwrap();
        assert!(n >= before);
        assert_eq!(
            parse_time("2024-01-02T03:04:05Z").unwrap(),
            1_704_164_645_000
        );
        assert_eq!(parse_time("42").unwrap(), 42);
        assert!(parse_time("-soon").is_err());
        assert!(parse_time("later").is_err());
    }

    #[test]
    fn formats_rfc3339_with_millis() {
        assert_eq!(
            format_rfc3339_ms(1_704_164_645_123),
            "2024-01-02T03:04:05.123Z"
        );
        assert_eq!(format_rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        let ms = 1_704_164_645_007;
        assert_eq!(parse_datetime(&format_rfc3339_ms(ms)).unwrap(), ms);
    }
}
