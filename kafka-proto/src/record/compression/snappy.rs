//! Snappy: raw blocks and the xerial (snappy-java) framing the Java client writes.
//!
//! Xerial layout: the 8-byte magic `\x82SNAPPY\x00`, a big-endian i32 version (1) and a
//! big-endian i32 minimum compatible version (1), then blocks, each a big-endian i32 length
//! followed by that many bytes of raw snappy. snappy-java also tolerates a repeated header
//! between blocks (concatenated streams), and so do we. Input without the magic is raw snappy.

use super::{Compression, CompressionError};

/// The xerial stream magic.
pub(crate) const XERIAL_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
/// Length of the xerial stream header (magic, version, compatible version).
const XERIAL_HEADER_LEN: usize = 16;
/// Block size snappy-java uses by default (and so Kafka's Java producer).
const XERIAL_BLOCK: usize = 32 * 1024;

const CODEC: Compression = Compression::Snappy;

/// Appends `input` as an xerial-framed snappy stream.
pub(super) fn compress_xerial(input: &[u8], out: &mut Vec<u8>) -> Result<(), CompressionError> {
    out.reserve(XERIAL_HEADER_LEN + snap::raw::max_compress_len(input.len()) + input.len() / 4096);
    out.extend_from_slice(&XERIAL_MAGIC);
    out.extend_from_slice(&1i32.to_be_bytes());
    out.extend_from_slice(&1i32.to_be_bytes());
    let mut encoder = snap::raw::Encoder::new();
    for chunk in input.chunks(XERIAL_BLOCK) {
        let len_at = out.len();
        let max = snap::raw::max_compress_len(chunk.len());
        out.resize(len_at + 4 + max, 0);
        let dst = out.get_mut(len_at + 4..).unwrap_or_default();
        let written = encoder
            .compress(chunk, dst)
            .map_err(|e| CompressionError::Compress {
                codec: CODEC,
                message: e.to_string(),
            })?;
        let len = i32::try_from(written).map_err(|_| CompressionError::Compress {
            codec: CODEC,
            message: "block too large".into(),
        })?;
        if let Some(prefix) = out.get_mut(len_at..len_at + 4) {
            prefix.copy_from_slice(&len.to_be_bytes());
        }
        out.truncate(len_at + 4 + written);
    }
    Ok(())
}

/// Decompresses raw snappy or an xerial stream into at most `limit` bytes.
pub(super) fn decompress(input: &[u8], limit: usize) -> Result<Vec<u8>, CompressionError> {
    let mut out = Vec::new();
    let mut decoder = snap::raw::Decoder::new();
    if input.starts_with(&XERIAL_MAGIC) {
        // Size the output once: each block states its decompressed length up front, so summing
        // them (and checking the limit) costs a varint per block and saves every regrowth copy.
        out.reserve_exact(xerial_len(input)?.min(limit));
        let mut rest = input;
        while !rest.is_empty() {
            if rest.starts_with(&XERIAL_MAGIC) {
                rest = rest
                    .get(XERIAL_HEADER_LEN..)
                    .ok_or_else(|| CODEC.corrupt("truncated xerial header"))?;
                continue;
            }
            let (len, tail) = rest
                .split_first_chunk::<4>()
                .ok_or_else(|| CODEC.corrupt("truncated xerial block length"))?;
            let len = usize::try_from(i32::from_be_bytes(*len))
                .map_err(|_| CODEC.corrupt("negative xerial block length"))?;
            let (block, tail) = tail
                .split_at_checked(len)
                .ok_or_else(|| CODEC.corrupt("truncated xerial block"))?;
            append_raw(&mut decoder, block, limit, &mut out)?;
            rest = tail;
        }
    } else {
        append_raw(&mut decoder, input, limit, &mut out)?;
    }
    Ok(out)
}

/// Decompresses one raw snappy block onto the end of `out`, keeping `out` within `limit`.
/// Total decompressed length of a xerial stream (block lengths as the blocks state them).
fn xerial_len(input: &[u8]) -> Result<usize, CompressionError> {
    let mut rest = input;
    let mut total = 0usize;
    while !rest.is_empty() {
        if rest.starts_with(&XERIAL_MAGIC) {
            rest = rest
                .get(XERIAL_HEADER_LEN..)
                .ok_or_else(|| CODEC.corrupt("truncated xerial header"))?;
            continue;
        }
        let (len, tail) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| CODEC.corrupt("truncated xerial block length"))?;
        let len = usize::try_from(i32::from_be_bytes(*len))
            .map_err(|_| CODEC.corrupt("negative xerial block length"))?;
        let (block, tail) = tail
            .split_at_checked(len)
            .ok_or_else(|| CODEC.corrupt("truncated xerial block"))?;
        total =
            total.saturating_add(snap::raw::decompress_len(block).map_err(|e| CODEC.corrupt(e))?);
        rest = tail;
    }
    Ok(total)
}

fn append_raw(
    decoder: &mut snap::raw::Decoder,
    block: &[u8],
    limit: usize,
    out: &mut Vec<u8>,
) -> Result<(), CompressionError> {
    let n = snap::raw::decompress_len(block).map_err(|e| CODEC.corrupt(e))?;
    let start = out.len();
    if n > limit.saturating_sub(start) {
        return Err(CompressionError::LimitExceeded {
            codec: CODEC,
            limit,
        });
    }
    out.resize(start + n, 0);
    let dst = out.get_mut(start..).unwrap_or_default();
    let written = decoder
        .decompress(block, dst)
        .map_err(|e| CODEC.corrupt(e))?;
    out.truncate(start + written);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream laid out as snappy-java writes it, built by hand from the documented layout.
    fn java_style_xerial(payload: &[u8], block: usize) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(b"\x82SNAPPY\x00");
        out.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1]);
        for chunk in payload.chunks(block) {
            let c = snap::raw::Encoder::new().compress_vec(chunk).unwrap();
            out.extend_from_slice(&(c.len() as i32).to_be_bytes());
            out.extend_from_slice(&c);
        }
        out
    }

    #[test]
    fn decodes_java_layout_and_raw() {
        let payload: Vec<u8> = (0..100_000u32)
            .flat_map(|i| (i % 97).to_le_bytes())
            .collect();
        let xerial = java_style_xerial(&payload, 32 * 1024);
        assert_eq!(decompress(&xerial, usize::MAX).unwrap(), payload);
        let raw = snap::raw::Encoder::new().compress_vec(&payload).unwrap();
        assert_eq!(decompress(&raw, usize::MAX).unwrap(), payload);
        // Concatenated xerial streams (header repeated) decode as one.
        let mut twice = xerial.clone();
        twice.extend_from_slice(&xerial);
        assert_eq!(
            decompress(&twice, usize::MAX).unwrap().len(),
            payload.len() * 2
        );
        // Our encoder writes the same layout.
        let mut ours = Vec::new();
        compress_xerial(&payload, &mut ours).unwrap();
        assert_eq!(ours, xerial);
    }

    #[test]
    fn rejects_bad_xerial() {
        let mut s = java_style_xerial(b"hello hello hello", 32);
        s.truncate(s.len() - 1);
        assert!(decompress(&s, usize::MAX).is_err());
        let mut neg = XERIAL_MAGIC.to_vec();
        neg.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff]);
        assert!(decompress(&neg, usize::MAX).is_err());
    }
}
