//! `--filter FIELD OP PATTERN`, repeatable (every filter must match):
//!
//! - FIELD: `key`, `value`, or `header.NAME` (any header named NAME matches).
//! - OP: `:` contains PATTERN, `=` equals PATTERN, `~` matches the regular expression PATTERN
//!   (Rust regex syntax on bytes, unanchored; `(?i)` for case-insensitive); `!:`, `!=`, `!~`
//!   negate.
//!
//! A null key, value or header value matches no positive filter (and every negated one); a
//! missing header likewise.

use kafka_client::consumer::ConsumerRecord;
use regex::bytes::Regex;

/// The grammar, for `--help` and errors.
pub const HELP: &str = "FIELD OP PATTERN: FIELD is key, value or header.NAME; OP is : (contains), = (equals), ~ (regex); prefix ! negates (e.g. value!:debug)";

#[derive(Clone, Debug)]
enum Field {
    Key,
    Value,
    Header(String),
}

/// One compiled filter.
#[derive(Clone, Debug)]
pub struct Filter {
    field: Field,
    re: Regex,
    negate: bool,
}

impl Filter {
    /// Parses `--filter`; the error names the problem and the grammar.
    pub fn parse(s: &str) -> Result<Filter, String> {
        let Some(op_at) = s.find([':', '=', '~']) else {
            return Err(format!("invalid --filter `{s}`: no operator ({HELP})"));
        };
        let (mut field, rest) = s.split_at(op_at);
        let negate = field.ends_with('!');
        if negate {
            field = &field[..field.len() - 1];
        }
        let op = &rest[..1];
        let pat = &rest[1..];
        let field = match field {
            "key" => Field::Key,
            "value" => Field::Value,
            f => match f.strip_prefix("header.") {
                Some(n) if !n.is_empty() => Field::Header(n.to_owned()),
                _ => {
                    return Err(format!(
                        "invalid --filter `{s}`: unknown field `{f}` ({HELP})"
                    ))
                }
            },
        };
        let re = match op {
            ":" => regex::escape(pat),
            "=" => format!(r"\A(?:{})\z", regex::escape(pat)),
            _ => pat.to_owned(),
        };
        let re = Regex::new(&re).map_err(|e| {
            let e = e.to_string().replace('\n', " ");
            format!("invalid --filter `{s}`: bad regex ({e})")
        })?;
        Ok(Filter { field, re, negate })
    }

    /// Whether the record passes.
    pub fn matches(&self, r: &ConsumerRecord) -> bool {
        let hit = match &self.field {
            Field::Key => r.key.as_ref().is_some_and(|k| self.re.is_match(k)),
            Field::Value => r.value.as_ref().is_some_and(|v| self.re.is_match(v)),
            Field::Header(n) => r
                .headers
                .iter()
                .any(|h| h.key == *n && h.value.as_ref().is_some_and(|v| self.re.is_match(v))),
        };
        hit != self.negate
    }
}

/// Whether every filter passes.
pub fn all_match(filters: &[Filter], r: &ConsumerRecord) -> bool {
    filters.iter().all(|f| f.matches(r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use kafka_client::consumer::RecordHeader;

    fn rec(key: Option<&'static str>, value: &'static str) -> ConsumerRecord {
        ConsumerRecord {
            topic: "t".into(),
            partition: 0,
            offset: 0,
            timestamp: 0,
            timestamp_type: Default::default(),
            key: key.map(|k| Bytes::from_static(k.as_bytes())),
            value: Some(Bytes::from_static(value.as_bytes())),
            headers: vec![RecordHeader {
                key: "env".into(),
                value: Some(Bytes::from_static(b"prod-eu")),
            }],
            leader_epoch: None,
        }
    }

    #[test]
    fn filters() {
        let f = |s| Filter::parse(s).unwrap();
        let r = rec(Some("user-42"), "an ERROR here");
        assert!(f("value:ERROR").matches(&r));
        assert!(!f("value:error").matches(&r));
        assert!(f("value~(?i)error").matches(&r));
        assert!(f("key~^user-\\d+$").matches(&r));
        assert!(f("key=user-42").matches(&r));
        assert!(!f("key=user-4").matches(&r));
        assert!(f("key!=user-4").matches(&r));
        assert!(f("header.env:prod").matches(&r));
        assert!(!f("header.other:prod").matches(&r));
        assert!(f("header.other!:prod").matches(&r));
        assert!(!f("key:u").matches(&rec(None, "x")));
        assert!(f("value:a:b").matches(&rec(None, "xa:by")));
    }

    #[test]
    fn errors() {
        for bad in ["value", "nope:x", "header.:x", "value~(", "!:x"] {
            assert!(Filter::parse(bad).is_err(), "{bad}");
        }
    }
}
