//! LZ4 frame format (the only lz4 layout Kafka uses), decoded block by block straight into the
//! output buffer with `lz4_flex`'s block decoder.
//!
//! Frame: magic `0x184D2204` (LE), FLG, BD, optional 8-byte content size, optional 4-byte
//! dictionary id, one header-checksum byte; then blocks (LE u32 size, high bit = stored
//! uncompressed; optional 4-byte block checksum), an end mark of 0, an optional content checksum.
//!
//! Kafka before KIP-57 computed the header checksum over the magic too, so magic-0 message sets
//! carry a "wrong" checksum byte. The checksum byte (and the optional xxhash checksums) are not
//! verified here: the batch CRC already protects the compressed bytes, and this tolerates both.

use lz4_flex::block::{
    compress_into_with_table, decompress_into, decompress_into_with_dict, get_maximum_output_size,
    CompressTable,
};

use super::{Compression, CompressionError};

const CODEC: Compression = Compression::Lz4;
const MAGIC: u32 = 0x184D_2204;
/// FLG: version 01, independent blocks, no checksums, no content size.
const FLG: u8 = 0x60;
/// BD: 64 KiB maximum block size (Kafka's Java producer uses the same).
const BD: u8 = 0x40;
/// xxh32(FLG, BD) >> 8 & 0xff: the header checksum for the two bytes above.
const HC: u8 = 0x82;
const BLOCK: usize = 64 * 1024;
/// Bytes of history a linked block may refer back to.
const WINDOW: usize = 64 * 1024;

/// Appends `input` as one LZ4 frame with independent 64 KiB blocks.
pub(super) fn compress_frame(input: &[u8], out: &mut Vec<u8>) -> Result<(), CompressionError> {
    out.reserve(7 + get_maximum_output_size(input.len()) + 4 * (input.len() / BLOCK + 2));
    out.extend_from_slice(&MAGIC.to_le_bytes());
    out.extend_from_slice(&[FLG, BD, HC]);
    let mut table = CompressTable::large();
    for chunk in input.chunks(BLOCK) {
        let at = out.len();
        out.resize(at + 4 + get_maximum_output_size(chunk.len()), 0);
        let dst = out.get_mut(at + 4..).unwrap_or_default();
        let written = compress_into_with_table(chunk, dst, &mut table).map_err(|e| {
            CompressionError::Compress {
                codec: CODEC,
                message: e.to_string(),
            }
        })?;
        // Store incompressible blocks as they are (high bit of the size set), as lz4 tools do.
        let size = if written >= chunk.len() {
            out.truncate(at + 4);
            out.extend_from_slice(chunk);
            chunk.len() as u32 | 0x8000_0000
        } else {
            out.truncate(at + 4 + written);
            written as u32
        };
        if let Some(prefix) = out.get_mut(at..at + 4) {
            prefix.copy_from_slice(&size.to_le_bytes());
        }
    }
    out.extend_from_slice(&0u32.to_le_bytes());
    Ok(())
}

fn take<'a>(
    input: &mut &'a [u8],
    n: usize,
    what: &'static str,
) -> Result<&'a [u8], CompressionError> {
    let (head, tail) = input
        .split_at_checked(n)
        .ok_or_else(|| CODEC.corrupt(what))?;
    *input = tail;
    Ok(head)
}

fn take_u32(input: &mut &[u8], what: &'static str) -> Result<u32, CompressionError> {
    let (head, tail) = input
        .split_first_chunk::<4>()
        .ok_or_else(|| CODEC.corrupt(what))?;
    *input = tail;
    Ok(u32::from_le_bytes(*head))
}

/// Decodes one or more concatenated LZ4 frames into at most `limit` bytes.
pub(super) fn decompress_frames(input: &[u8], limit: usize) -> Result<Vec<u8>, CompressionError> {
    let mut out = Vec::with_capacity(input.len().saturating_mul(3).clamp(256, 1 << 20).min(limit));
    let mut rest = input;
    loop {
        decompress_frame(&mut rest, limit, &mut out)?;
        if rest.is_empty() {
            return Ok(out);
        }
    }
}

fn decompress_frame(
    input: &mut &[u8],
    limit: usize,
    out: &mut Vec<u8>,
) -> Result<(), CompressionError> {
    if take_u32(input, "truncated frame magic")? != MAGIC {
        return Err(CODEC.corrupt("bad frame magic"));
    }
    let descriptor = take(input, 2, "truncated frame descriptor")?;
    let (flg, bd) = match descriptor {
        [flg, bd] => (*flg, *bd),
        _ => return Err(CODEC.corrupt("truncated frame descriptor")),
    };
    if flg >> 6 != 1 {
        return Err(CODEC.corrupt("unsupported frame version"));
    }
    if flg & 0x01 != 0 {
        return Err(CODEC.corrupt("dictionary frames are not supported"));
    }
    let independent = flg & 0x20 != 0;
    let block_checksums = flg & 0x10 != 0;
    let content_size = flg & 0x08 != 0;
    let content_checksum = flg & 0x04 != 0;
    let max_block = match (bd >> 4) & 0x07 {
        4 => 64 * 1024,
        5 => 256 * 1024,
        6 => 1024 * 1024,
        7 => 4 * 1024 * 1024,
        _ => return Err(CODEC.corrupt("invalid block maximum size")),
    };
    if content_size {
        take(input, 8, "truncated content size")?;
    }
    // Header checksum byte: not verified (see the module docs, KIP-57).
    take(input, 1, "truncated header checksum")?;
    let frame_start = out.len();
    loop {
        let size = take_u32(input, "truncated block size")?;
        if size == 0 {
            break;
        }
        let stored = size & 0x8000_0000 != 0;
        let len = (size & 0x7fff_ffff) as usize;
        if len > max_block {
            return Err(CODEC.corrupt("block larger than the frame's maximum"));
        }
        let block = take(input, len, "truncated block")?;
        if block_checksums {
            take(input, 4, "truncated block checksum")?;
        }
        let start = out.len();
        if stored {
            if len > limit.saturating_sub(start) {
                return Err(CompressionError::LimitExceeded {
                    codec: CODEC,
                    limit,
                });
            }
            out.extend_from_slice(block);
            continue;
        }
        let room = max_block.min(limit.saturating_sub(start));
        out.resize(start + room, 0);
        let (before, dst) = out.split_at_mut(start);
        let result = if independent || start == frame_start {
            decompress_into(block, dst)
        } else {
            let history = before.get(frame_start..).unwrap_or_default();
            let dict = history
                .get(history.len().saturating_sub(WINDOW)..)
                .unwrap_or_default();
            decompress_into_with_dict(block, dst, dict)
        };
        match result {
            Ok(written) => out.truncate(start + written),
            Err(e) => {
                out.truncate(start);
                if room < max_block {
                    return Err(CompressionError::LimitExceeded {
                        codec: CODEC,
                        limit,
                    });
                }
                return Err(CODEC.corrupt(e));
            }
        }
    }
    if content_checksum {
        take(input, 4, "truncated content checksum")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn sample() -> Vec<u8> {
        (0..200_000u32)
            .map(|i| (i % 13) as u8 + if i % 1000 < 500 { b'a' } else { b'A' })
            .collect()
    }

    #[test]
    fn header_checksum_constant_matches_lz4_flex() {
        let info = lz4_flex::frame::FrameInfo::new()
            .block_size(lz4_flex::frame::BlockSize::Max64KB)
            .block_mode(lz4_flex::frame::BlockMode::Independent);
        let mut enc = lz4_flex::frame::FrameEncoder::with_frame_info(info, Vec::new());
        enc.write_all(b"x").unwrap();
        let framed = enc.finish().unwrap();
        assert_eq!(&framed[..7], &[0x04, 0x22, 0x4d, 0x18, FLG, BD, HC]);
    }

    #[test]
    fn interoperates_with_lz4_flex_frames() {
        let data = sample();
        let mut ours = Vec::new();
        compress_frame(&data, &mut ours).unwrap();
        let mut back = Vec::new();
        lz4_flex::frame::FrameDecoder::new(&ours[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
        for mode in [
            lz4_flex::frame::BlockMode::Independent,
            lz4_flex::frame::BlockMode::Linked,
        ] {
            let info = lz4_flex::frame::FrameInfo::new()
                .block_mode(mode)
                .block_checksums(true)
                .content_checksum(true)
                .content_size(Some(data.len() as u64));
            let mut enc = lz4_flex::frame::FrameEncoder::with_frame_info(info, Vec::new());
            enc.write_all(&data).unwrap();
            let framed = enc.finish().unwrap();
            assert_eq!(
                decompress_frames(&framed, usize::MAX).unwrap(),
                data,
                "{mode:?}"
            );
        }
    }

    #[test]
    fn tolerates_pre_kip57_header_checksum() {
        let data = sample();
        let mut framed = Vec::new();
        compress_frame(&data, &mut framed).unwrap();
        framed[6] ^= 0x5a; // what a magic-0 producer wrote is not the standard checksum
        assert_eq!(decompress_frames(&framed, usize::MAX).unwrap(), data);
    }

    #[test]
    fn incompressible_blocks_are_stored() {
        let data: Vec<u8> = (0..100_000u64)
            .map(|i| (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as u8)
            .collect();
        let mut framed = Vec::new();
        compress_frame(&data, &mut framed).unwrap();
        assert_eq!(decompress_frames(&framed, usize::MAX).unwrap(), data);
    }
}
