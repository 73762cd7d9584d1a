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
