//! Records on the command line: how they are selected and how they look.
//!
//! - [`offset`]: the `-o` grammar (rpk's, plus kcat's `s@`/`e@`), parsed before connecting and
//!   resolved per partition against the log's start, end and time lookups.
//! - [`format`](mod@format): `-f` format strings (kcat's tokens with `{hex}`/`{base64}` modifiers).
//! - [`json`]: records as JSON lines (`consume -J`), and reading them back (`produce --input
//!   jsonl`): lossless, binary as `{"base64": ...}`.
//! - [`filter`]: `--filter` on key, value and headers.

pub mod filter;
pub mod format;
pub mod json;
pub mod offset;

/// Bytes as hex (lowercase), appended to `out`.
pub fn push_hex(out: &mut Vec<u8>, b: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(b.len() * 2);
    for &x in b {
        out.push(HEX[usize::from(x >> 4)]);
        out.push(HEX[usize::from(x & 15)]);
    }
}

/// Bytes as standard base64 (with padding), appended to `out`.
pub fn push_base64(out: &mut Vec<u8>, b: &[u8]) {
    use base64::Engine as _;
    let start = out.len();
    out.resize(start + base64::encoded_len(b.len(), true).unwrap_or(0), 0);
    let n = base64::engine::general_purpose::STANDARD
        .encode_slice(b, &mut out[start..])
        .unwrap_or(0);
    out.truncate(start + n);
}

/// Appends a decimal integer.
pub fn push_int(out: &mut Vec<u8>, n: i64) {
    let mut buf = [0u8; 20];
    let neg = n < 0;
    let mut v = n.unsigned_abs();
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if neg {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        let mut o = Vec::new();
        push_hex(&mut o, &[0, 0xab, 0x10]);
        assert_eq!(o, b"00ab10");
        o.clear();
        push_base64(&mut o, b"hello");
        assert_eq!(o, b"aGVsbG8=");
        for n in [0i64, 7, -1, 1234567890, i64::MIN, i64::MAX] {
            o.clear();
            push_int(&mut o, n);
            assert_eq!(o, n.to_string().as_bytes());
        }
    }
}
