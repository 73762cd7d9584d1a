//! `-f` format strings, kcat's tokens:
//!
//! | token | meaning |
//! | --- | --- |
//! | `%t` | topic |
//! | `%p` | partition |
//! | `%o` | offset |
//! | `%k` | key (empty when null) |
//! | `%K` | key length in bytes (-1 when null) |
//! | `%s` | value (empty when null) |
//! | `%S` | value length in bytes (-1 when null) |
//! | `%T` | timestamp (ms, or RFC 3339 with `--time-format rfc3339`) |
//! | `%h` | headers as `k1=v1,k2=v2` (a null value prints as just the key) |
//! | `%%` | a percent sign |
//!
//! `%k`, `%s` and `%h` take a modifier: `%k{hex}`, `%s{base64}` (`{raw}` is the default).
//! Escapes: `\n`, `\t`, `\r`, `\0` and `\\`.

use kafka_client::consumer::ConsumerRecord;

use super::{push_base64, push_hex, push_int};

/// How bytes are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enc {
    Raw,
    Hex,
    Base64,
}

impl Enc {
    pub fn push(self, out: &mut Vec<u8>, b: &[u8]) {
        match self {
            Enc::Raw => out.extend_from_slice(b),
            Enc::Hex => push_hex(out, b),
            Enc::Base64 => push_base64(out, b),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    Lit(Vec<u8>),
    Topic,
    Partition,
    Offset,
    Key(Enc),
    KeyLen,
    Value(Enc),
    ValueLen,
    Timestamp,
    Headers(Enc),
}

/// How `%T` prints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum TimeFormat {
    /// Milliseconds since the epoch.
    #[default]
    Ms,
    /// RFC 3339 in UTC with milliseconds (2024-01-02T03:04:05.123Z).
    Rfc3339,
}

/// A compiled `-f` format.
#[derive(Clone, Debug)]
pub struct RecordFormat {
    toks: Vec<Tok>,
    time: TimeFormat,
}

const TOKENS: &str = "%t %p %o %k %K %s %S %T %h %%, modifiers {hex} {base64} on %k %s %h";

impl RecordFormat {
    /// The default output: the value and a newline.
    pub fn value_only() -> RecordFormat {
        RecordFormat {
            toks: vec![Tok::Value(Enc::Raw), Tok::Lit(b"\n".to_vec())],
            time: TimeFormat::Ms,
        }
    }

    /// Compiles a format string; the error names the bad part and the accepted tokens.
    pub fn parse(f: &str, time: TimeFormat) -> Result<RecordFormat, String> {
        let mut toks = Vec::new();
        let mut lit = Vec::new();
        let b = f.as_bytes();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'\\' => {
                    let c = b.get(i + 1).copied();
                    lit.push(match c {
                        Some(b'n') => b'\n',
                        Some(b't') => b'\t',
                        Some(b'r') => b'\r',
                        Some(b'0') => 0,
                        Some(b'\\') => b'\\',
                        _ => {
                            return Err(format!(
                                "invalid -f `{f}`: unknown escape at byte {i} (escapes: \\n \\t \\r \\0 \\\\)"
                            ))
                        }
                    });
                    i += 2;
                }
                b'%' => {
                    let Some(&c) = b.get(i + 1) else {
                        return Err(format!(
                            "invalid -f `{f}`: `%` at the end (tokens: {TOKENS})"
                        ));
                    };
                    i += 2;
                    if c == b'%' {
                        lit.push(b'%');
                        continue;
                    }
                    // An optional {modifier}.
                    let mut enc = None;
                    if b.get(i) == Some(&b'{') {
                        let end = f[i..].find('}').map(|e| i + e).ok_or_else(|| {
                            format!(
                                "invalid -f `{f}`: unclosed `{{` (modifiers: {{hex}} {{base64}})"
                            )
                        })?;
                        enc = Some(match &f[i + 1..end] {
                            "hex" => Enc::Hex,
                            "base64" => Enc::Base64,
                            "raw" => Enc::Raw,
                            m => {
                                return Err(format!(
                                    "invalid -f `{f}`: unknown modifier {{{m}}} (modifiers: {{hex}} {{base64}} {{raw}})"
                                ))
                            }
                        });
                        i = end + 1;
                    }
                    let tok = match (c, enc) {
                        (b'k', e) => Tok::Key(e.unwrap_or(Enc::Raw)),
                        (b's', e) => Tok::Value(e.unwrap_or(Enc::Raw)),
                        (b'h', e) => Tok::Headers(e.unwrap_or(Enc::Raw)),
                        (b't', None) => Tok::Topic,
                        (b'p', None) => Tok::Partition,
                        (b'o', None) => Tok::Offset,
                        (b'K', None) => Tok::KeyLen,
                        (b'S', None) => Tok::ValueLen,
                        (b'T', None) => Tok::Timestamp,
                        (b't' | b'p' | b'o' | b'K' | b'S' | b'T', Some(_)) => {
                            return Err(format!(
                                "invalid -f `{f}`: %{} takes no modifier (only %k %s %h do)",
                                c as char
                            ))
                        }
                        _ => {
                            return Err(format!(
                                "invalid -f `{f}`: unknown token %{} (tokens: {TOKENS})",
                                String::from_utf8_lossy(&[c])
                            ))
                        }
                    };
                    if !lit.is_empty() {
                        toks.push(Tok::Lit(std::mem::take(&mut lit)));
                    }
                    toks.push(tok);
                }
                x => {
                    lit.push(x);
                    i += 1;
                }
            }
        }
        if !lit.is_empty() {
            toks.push(Tok::Lit(lit));
        }
        Ok(RecordFormat { toks, time })
    }

    /// Appends one record.
    pub fn write(&self, out: &mut Vec<u8>, r: &ConsumerRecord) {
        for t in &self.toks {
            match t {
                Tok::Lit(l) => out.extend_from_slice(l),
                Tok::Topic => out.extend_from_slice(r.topic.as_bytes()),
                Tok::Partition => push_int(out, i64::from(r.partition)),
                Tok::Offset => push_int(out, r.offset),
                Tok::Key(e) => {
                    if let Some(k) = &r.key {
                        e.push(out, k);
                    }
                }
                Tok::KeyLen => push_int(out, r.key.as_ref().map_or(-1, |k| k.len() as i64)),
                Tok::Value(e) => {
                    if let Some(v) = &r.value {
                        e.push(out, v);
                    }
                }
                Tok::ValueLen => push_int(out, r.value.as_ref().map_or(-1, |v| v.len() as i64)),
                Tok::Timestamp => match self.time {
                    TimeFormat::Ms => push_int(out, r.timestamp),
                    TimeFormat::Rfc3339 => out.extend_from_slice(
                        crate::timespec::format_rfc3339_ms(r.timestamp).as_bytes(),
                    ),
                },
                Tok::Headers(e) => {
                    for (i, h) in r.headers.iter().enumerate() {
                        if i > 0 {
                            out.push(b',');
                        }
                        out.extend_from_slice(h.key.as_bytes());
                        if let Some(v) = &h.value {
                            out.push(b'=');
                            e.push(out, v);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use kafka_client::consumer::RecordHeader;

    fn rec() -> ConsumerRecord {
        ConsumerRecord {
            topic: "t".into(),
            partition: 2,
            offset: 7,
            timestamp: 1_704_164_645_123,
            timestamp_type: Default::default(),
            key: Some(Bytes::from_static(b"k\x01")),
            value: None,
            headers: vec![
                RecordHeader {
                    key: "a".into(),
                    value: Some(Bytes::from_static(b"1")),
                },
                RecordHeader {
                    key: "n".into(),
                    value: None,
                },
            ],
            leader_epoch: None,
        }
    }

    fn fmt(f: &str, t: TimeFormat) -> Vec<u8> {
        let mut o = Vec::new();
        RecordFormat::parse(f, t).unwrap().write(&mut o, &rec());
        o
    }

    #[test]
    fn tokens() {
        assert_eq!(
            fmt("%t/%p/%o %K:%S [%s] %h %T%%\\n", TimeFormat::Ms),
            b"t/2/7 2:-1 [] a=1,n 1704164645123%\n"
        );
        assert_eq!(fmt("%k{hex}|%k{base64}", TimeFormat::Ms), b"6b01|awE=");
        assert_eq!(fmt("%T", TimeFormat::Rfc3339), b"2024-01-02T03:04:05.123Z");
        assert_eq!(fmt("%h{hex}\\t", TimeFormat::Ms), b"a=31,n\t");
    }

    #[test]
    fn errors() {
        for bad in ["%x", "%", "%k{nope}", "%k{hex", "%p{hex}", "\\q"] {
            let e = RecordFormat::parse(bad, TimeFormat::Ms).unwrap_err();
            assert!(e.contains("-f"), "{e}");
        }
    }
}
