//! Zigzag varints (`varint`, 32-bit) and varlongs (64-bit) as used inside record batches.
//!
//! Kafka encodes record fields with the protobuf scheme: zigzag-mapped signed integers in
//! little-endian base-128 groups, at most 5 bytes for a varint and 10 for a varlong.

/// Reads an unsigned base-128 integer of at most `max_bytes` bytes, advancing `input`.
///
/// Returns `None` when the input ends inside the integer or the integer is longer than allowed.
#[inline(always)]
fn read_unsigned(input: &mut &[u8], max_bytes: usize) -> Option<u64> {
    let bytes = *input;
    // Fast path: one byte (the common case for small deltas and lengths).
    let (&first, rest) = bytes.split_first()?;
    if first < 0x80 {
        *input = rest;
        return Some(u64::from(first));
    }
    let mut value = u64::from(first & 0x7f);
    let mut shift = 7u32;
    for (i, &b) in rest.iter().enumerate() {
        value |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            *input = rest.get(i + 1..)?;
            return Some(value);
        }
        shift += 7;
        if i + 2 >= max_bytes {
            return None;
        }
    }
    None
}

/// Reads a zigzag varint (i32), advancing `input`; `None` on truncation or over-long encoding.
#[inline(always)]
pub(crate) fn read_varint(input: &mut &[u8]) -> Option<i32> {
    let raw = read_unsigned(input, 5)? as u32;
    Some(((raw >> 1) as i32) ^ -((raw & 1) as i32))
}

/// Reads a zigzag varlong (i64), advancing `input`; `None` on truncation or over-long encoding.
#[inline(always)]
pub(crate) fn read_varlong(input: &mut &[u8]) -> Option<i64> {
    let raw = read_unsigned(input, 10)?;
    Some(((raw >> 1) as i64) ^ -((raw & 1) as i64))
}

/// Reads a zigzag integer of at most `max_bytes` bytes (5 for a varint, 10 for a varlong) at
/// `at` in `buf`, returning it and its encoded length; `None` on truncation or an over-long
/// encoding.
///
/// Where three bytes remain it decodes integers of one to three bytes (magnitudes below 2^20:
/// lengths and deltas inside a batch) from them without further checks; anything else takes
/// the general reader, out of line.
#[inline(always)]
pub(crate) fn read_zigzag_at(buf: &[u8], at: usize, max_bytes: usize) -> Option<(i64, usize)> {
    match short_zigzag_at(buf, at) {
        Some((v, len)) => Some((i64::from(v), len)),
        None => long_zigzag_at(buf, at, max_bytes),
    }
}

/// A zigzag integer of one to three bytes at `at`, and its length; `None` if fewer than three
/// bytes remain there or the integer is longer (the record reader's fast path, which has no
/// fallback and must not call anything).
#[inline(always)]
pub(crate) fn short_zigzag_at(buf: &[u8], at: usize) -> Option<(i32, usize)> {
    let &[b0, b1, b2] = buf.get(at..)?.first_chunk::<3>()?;
    let (raw, len) = if b0 < 0x80 {
        (u32::from(b0), 1)
    } else if b1 < 0x80 {
        (u32::from(b0 & 0x7f) | (u32::from(b1) << 7), 2)
    } else if b2 < 0x80 {
        let raw = u32::from(b0 & 0x7f) | (u32::from(b1 & 0x7f) << 7) | (u32::from(b2) << 14);
        (raw, 3)
    } else {
        return None;
    };
    Some(((raw >> 1) as i32 ^ -((raw & 1) as i32), len))
}

/// [`read_zigzag_at_long`] as an `Option`, inlined so that the call itself returns two
/// registers rather than an `Option` through memory.
#[inline(always)]
fn long_zigzag_at(buf: &[u8], at: usize, max_bytes: usize) -> Option<(i64, usize)> {
    match read_zigzag_at_long(buf, at, max_bytes) {
        (_, 0) => None,
        found => Some(found),
    }
}

/// The general case of [`read_zigzag_at`]: the integer and its length, length 0 if there is
/// none (truncated or over-long).
#[inline(never)]
fn read_zigzag_at_long(buf: &[u8], at: usize, max_bytes: usize) -> (i64, usize) {
    let Some(mut input) = buf.get(at..) else {
        return (0, 0);
    };
    let before = input.len();
    let value = if max_bytes <= 5 {
        read_varint(&mut input).map(i64::from)
    } else {
        read_varlong(&mut input)
    };
    match value {
        Some(v) => (v, before - input.len()),
        None => (0, 0),
    }
}

/// Appends an unsigned base-128 integer.
#[inline(always)]
fn write_unsigned(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends a zigzag varint.
#[inline(always)]
pub(crate) fn write_varint(out: &mut Vec<u8>, v: i32) {
    write_unsigned(out, u64::from(((v << 1) ^ (v >> 31)) as u32));
}

/// Appends a zigzag varlong.
#[inline(always)]
pub(crate) fn write_varlong(out: &mut Vec<u8>, v: i64) {
    write_unsigned(out, ((v << 1) ^ (v >> 63)) as u64);
}

/// Encoded size of a zigzag varint.
#[inline(always)]
pub(crate) fn varint_size(v: i32) -> usize {
    unsigned_size(u64::from(((v << 1) ^ (v >> 31)) as u32))
}

/// Encoded size of a zigzag varlong.
#[inline(always)]
pub(crate) fn varlong_size(v: i64) -> usize {
    unsigned_size(((v << 1) ^ (v >> 63)) as u64)
}

#[inline(always)]
fn unsigned_size(v: u64) -> usize {
    // 1 + floor(bits / 7), with bits = 64 - leading_zeros (at least 1 byte for 0).
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_varints() {
        let values = [
            0,
            1,
            -1,
            63,
            -64,
            64,
            -65,
            8191,
            -8192,
            i32::MAX,
            i32::MIN,
            123_456,
        ];
        for v in values {
            let mut out = Vec::new();
            write_varint(&mut out, v);
            assert_eq!(out.len(), varint_size(v), "{v}");
            let mut input = out.as_slice();
            assert_eq!(read_varint(&mut input), Some(v));
            assert!(input.is_empty());
        }
        let longs = [0, 1, -1, i64::MAX, i64::MIN, 1 << 40, -(1 << 40), 300];
        for v in longs {
            let mut out = Vec::new();
            write_varlong(&mut out, v);
            assert_eq!(out.len(), varlong_size(v), "{v}");
            let mut input = out.as_slice();
            assert_eq!(read_varlong(&mut input), Some(v));
            assert!(input.is_empty());
        }
    }

    #[test]
    fn positional_reader_matches_the_general_reader() {
        let ints = [
            0,
            1,
            -1,
            63,
            -64,
            64,
            -65,
            8191,
            -8192,
            8192,
            -8193,
            1 << 19,
            -(1 << 20) + 1,
        ];
        let longs = [1 << 20, -(1 << 20) - 1, i32::MAX, i32::MIN];
        for v in ints.into_iter().chain(longs) {
            let mut out = vec![0x55];
            write_varint(&mut out, v);
            let len = out.len() - 1;
            // With slack after the integer (fast path) and without (general path).
            for slack in [0usize, 2] {
                let mut buf = out.clone();
                buf.resize(out.len() + slack, 0);
                assert_eq!(read_zigzag_at(&buf, 1, 5), Some((i64::from(v), len)), "{v}");
            }
        }
        for v in [i64::MAX, i64::MIN, 1 << 40, 300] {
            let mut out = Vec::new();
            write_varlong(&mut out, v);
            out.extend_from_slice(&[0, 0, 0]);
            assert_eq!(
                read_zigzag_at(&out, 0, 10),
                Some((v, varlong_size(v))),
                "{v}"
            );
        }
        // Truncated, over-long and out-of-range positions.
        assert_eq!(read_zigzag_at(&[0x80, 0x80], 0, 5), None);
        assert_eq!(read_zigzag_at(&[0x80, 0x80, 0x80, 0x80], 0, 5), None);
        assert_eq!(
            read_zigzag_at(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01], 0, 5),
            None
        );
        assert_eq!(read_zigzag_at(&[1, 2, 3], 7, 5), None);
        assert_eq!(read_zigzag_at(&[1, 2, 3], 3, 5), None);
    }

    #[test]
    fn known_encodings() {
        // Kafka ByteUtils test values: zigzag(-1) = 1, zigzag(1) = 2, 300 -> 0xd8 0x04.
        let mut out = Vec::new();
        write_varint(&mut out, -1);
        write_varint(&mut out, 1);
        write_varint(&mut out, 300);
        assert_eq!(out, [0x01, 0x02, 0xd8, 0x04]);
    }

    #[test]
    fn rejects_truncated_and_overlong() {
        assert_eq!(read_varint(&mut &[0x80u8][..]), None);
        assert_eq!(read_varint(&mut &[][..]), None);
        assert_eq!(
            read_varint(&mut &[0xff, 0xff, 0xff, 0xff, 0xff, 0x01][..]),
            None
        );
        assert!(read_varint(&mut &[0xff, 0xff, 0xff, 0xff, 0x0f][..]).is_some());
        assert_eq!(read_varlong(&mut &[0xffu8; 11][..]), None);
        assert!(read_varlong(
            &mut &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01][..]
        )
        .is_some());
    }
}
