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

/// Decompresses raw snappy or an xerial stream of at most `limit` bytes into `out[..n]`,
/// returning `n`.
///
/// `out` may come in holding bytes (a buffer being reused): they are overwritten, and `out` is
/// only grown, never zero-filled again where it already holds bytes. On return `out.len() >= n`.
pub(super) fn decompress_into(
    input: &[u8],
    limit: usize,
    out: &mut Vec<u8>,
) -> Result<usize, CompressionError> {
    let mut decoder = snap::raw::Decoder::new();
    if !input.starts_with(&XERIAL_MAGIC) {
        let n = raw_len(input, limit)?;
        return decompress_block(&mut decoder, input, n, 0, out);
    }
    // Each block states its decompressed length up front: summing them (and checking the
    // limit) costs a varint per block and sizes the output once.
    let total = xerial_len(input)?;
    if total > limit {
        return Err(CompressionError::LimitExceeded {
            codec: CODEC,
            limit,
        });
    }
    let mut at = 0;
    for block in xerial_blocks(input) {
        let block = block?;
        let n = raw_len(block, limit - at)?;
        at += decompress_block(&mut decoder, block, n, at, out)?;
    }
    Ok(at)
}

/// One xerial block: its big-endian i32 length and that many bytes, and what follows.
fn split_block(rest: &[u8]) -> Result<(&[u8], &[u8]), CompressionError> {
    let (len, tail) = rest
        .split_first_chunk::<4>()
        .ok_or_else(|| CODEC.corrupt("truncated xerial block length"))?;
    let len = usize::try_from(i32::from_be_bytes(*len))
        .map_err(|_| CODEC.corrupt("negative xerial block length"))?;
    tail.split_at_checked(len)
        .ok_or_else(|| CODEC.corrupt("truncated xerial block"))
}

/// The decompressed length a raw snappy block states, if within `limit`.
fn raw_len(block: &[u8], limit: usize) -> Result<usize, CompressionError> {
    let n = snap::raw::decompress_len(block).map_err(|e| CODEC.corrupt(e))?;
    if n > limit {
        return Err(CompressionError::LimitExceeded {
            codec: CODEC,
            limit,
        });
    }
    Ok(n)
}

/// Decompresses a raw snappy block of decompressed length `n` into `out[at..at + n]`, growing
/// `out` if it is shorter; returns `n`.
fn decompress_block(
    decoder: &mut snap::raw::Decoder,
    block: &[u8],
    n: usize,
    at: usize,
    out: &mut Vec<u8>,
) -> Result<usize, CompressionError> {
    let end = at + n;
    if out.len() < end {
        out.resize(end, 0);
    }
    let dst = out.get_mut(at..end).unwrap_or_default();
    let written = decoder
        .decompress(block, dst)
        .map_err(|e| CODEC.corrupt(e))?;
    if written != n {
        return Err(CODEC.corrupt("block shorter than its stated length"));
    }
    Ok(n)
}

/// Total decompressed length of a xerial stream (block lengths as the blocks state them).
fn xerial_len(input: &[u8]) -> Result<usize, CompressionError> {
    xerial_blocks(input).try_fold(0usize, |total, block| {
        let n = snap::raw::decompress_len(block?).map_err(|e| CODEC.corrupt(e))?;
        Ok(total.saturating_add(n))
    })
}

/// The raw snappy blocks of a xerial stream, skipping repeated stream headers; stops after the
/// first error.
fn xerial_blocks(input: &[u8]) -> impl Iterator<Item = Result<&[u8], CompressionError>> {
    let mut rest = input;
    std::iter::from_fn(move || {
        while rest.starts_with(&XERIAL_MAGIC) {
            match rest.get(XERIAL_HEADER_LEN..) {
                Some(tail) => rest = tail,
                None => {
                    rest = &[];
                    return Some(Err(CODEC.corrupt("truncated xerial header")));
                }
            }
        }
        if rest.is_empty() {
            return None;
        }
        match split_block(rest) {
            Ok((block, tail)) => {
                rest = tail;
                Some(Ok(block))
            }
            Err(e) => {
                rest = &[];
                Some(Err(e))
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decompress(input: &[u8], limit: usize) -> Result<Vec<u8>, CompressionError> {
        let mut out = Vec::new();
        let n = decompress_into(input, limit, &mut out)?;
        out.truncate(n);
        Ok(out)
    }

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
