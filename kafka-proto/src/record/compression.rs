//! Compression codecs used by record batches: gzip, snappy, lz4 and zstd.
//!
//! | codec  | id | compress                                  | decompress                                   |
//! |--------|----|-------------------------------------------|----------------------------------------------|
//! | gzip   | 1  | `flate2` (pure-Rust `miniz_oxide`)         | multi-member gzip                            |
//! | snappy | 2  | xerial framing, 32 KiB blocks (as Java)    | raw snappy or xerial framing                 |
//! | lz4    | 3  | LZ4 frame, 64 KiB independent blocks       | LZ4 frame; header checksum not verified (KIP-57) |
//! | zstd   | 4  | `zstd` (KIP-110)                           | one or more zstd frames                      |
//!
//! Decompression is always bounded: output past the caller's limit is a
//! [`CompressionError::LimitExceeded`], never an unbounded allocation.

mod lz4;
mod snappy;

use std::io::Read;

use super::error::CompressionError;

/// Default bound on the decompressed size of one batch: 256 MiB.
///
/// Kafka's `max.message.bytes` limits the *compressed* batch; a legal 1 MiB zstd batch can inflate to
/// tens of MiB, so this is deliberately generous and separate from it.
pub const DEFAULT_DECOMPRESSION_LIMIT: usize = 256 * 1024 * 1024;

/// A compression codec, as encoded in the low three bits of the batch attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// No compression (id 0).
    #[default]
    None,
    /// gzip (id 1).
    Gzip,
    /// snappy (id 2).
    Snappy,
    /// lz4 frame format (id 3).
    Lz4,
    /// zstd (id 4, KIP-110).
    Zstd,
}

impl Compression {
    /// All codecs, in id order.
    pub const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    /// The codec with the given id (the low three bits of the attributes), if known.
    pub fn from_id(id: u8) -> Option<Self> {
        match id {
            0 => Some(Self::None),
            1 => Some(Self::Gzip),
            2 => Some(Self::Snappy),
            3 => Some(Self::Lz4),
            4 => Some(Self::Zstd),
            _ => None,
        }
    }

    /// The codec's id as written in batch attributes.
    pub fn id(self) -> u8 {
        match self {
            Self::None => 0,
            Self::Gzip => 1,
            Self::Snappy => 2,
            Self::Lz4 => 3,
            Self::Zstd => 4,
        }
    }

    /// Compresses `input`, appending the result to `out`.
    ///
    /// `level` applies to gzip (0–9, default 6) and zstd (1–22, default 3, negative for the fast
    /// levels); snappy and lz4 have a single level and ignore it. Kafka's default levels are the
    /// defaults here.
    ///
    /// # Errors
    /// [`CompressionError::Compress`] if the codec library fails (zstd context creation or an
    /// invalid zstd level).
    pub fn compress(
        self,
        input: &[u8],
        level: Option<i32>,
        out: &mut Vec<u8>,
    ) -> Result<(), CompressionError> {
        match self {
            Self::None => {
                out.extend_from_slice(input);
                Ok(())
            }
            Self::Gzip => {
                // One gzip member in one call (zlib-rs; faster than flate2's miniz backend).
                let level = level.unwrap_or(6).clamp(0, 9);
                let start = out.len();
                // compress_bound covers zlib's 6 bytes of framing; gzip's is 18.
                out.resize(start + zlib_rs::compress_bound(input.len()) + 18, 0);
                let dst = out.get_mut(start..).unwrap_or_default();
                let mut deflate = zlib_rs::Deflate::new(level, true, 31);
                match deflate.compress(input, dst, zlib_rs::DeflateFlush::Finish) {
                    Ok(zlib_rs::Status::StreamEnd) => {
                        out.truncate(start + deflate.total_out() as usize);
                        Ok(())
                    }
                    Ok(status) => {
                        out.truncate(start);
                        Err(self.compress_err(format!("gzip did not finish: {status:?}")))
                    }
                    Err(e) => {
                        out.truncate(start);
                        Err(self.compress_err(e.as_str()))
                    }
                }
            }
            Self::Snappy => snappy::compress_xerial(input, out),
            Self::Lz4 => lz4::compress_frame(input, out),
            Self::Zstd => {
                let level = level.unwrap_or(3);
                let start = out.len();
                let bound = zstd::zstd_safe::compress_bound(input.len());
                out.resize(start + bound, 0);
                let dst = out.get_mut(start..).unwrap_or_default();
                let written = zstd::bulk::compress_to_buffer(input, dst, level)
                    .map_err(|e| self.compress_err(e))?;
                out.truncate(start + written);
                Ok(())
            }
        }
    }

    /// Decompresses `input` into a new buffer of at most `limit` bytes.
    ///
    /// For [`Compression::None`] this is a bounded copy.
    ///
    /// # Errors
    /// [`CompressionError::LimitExceeded`] when the output would pass `limit`;
    /// [`CompressionError::Corrupt`] when the input is malformed or truncated.
    pub fn decompress(self, input: &[u8], limit: usize) -> Result<Vec<u8>, CompressionError> {
        match self {
            Self::None => {
                if input.len() > limit {
                    return Err(CompressionError::LimitExceeded { codec: self, limit });
                }
                Ok(input.to_vec())
            }
            Self::Gzip => match gunzip_one_member(input, limit) {
                Some(out) => Ok(out),
                None => {
                    let dec = flate2::bufread::MultiGzDecoder::new(input);
                    read_bounded(self, dec, input.len().saturating_mul(4), limit)
                }
            },
            Self::Snappy => {
                let mut out = Vec::new();
                let n = snappy::decompress_into(input, limit, &mut out)?;
                out.truncate(n);
                Ok(out)
            }
            Self::Lz4 => lz4::decompress_frames(input, limit),
            Self::Zstd => decompress_zstd(input, limit),
        }
    }

    /// Decompresses `input` (at most `limit` bytes) into `out[..n]`, returning `n`: like
    /// [`Compression::decompress`], but for snappy reusing `out` and the bytes it already holds
    /// (overwritten rather than zero-filled first); other codecs replace `out`. On return
    /// `out.len() >= n`; bytes past `n` are left over from before.
    ///
    /// # Errors
    /// As [`Compression::decompress`].
    pub fn decompress_into(
        self,
        input: &[u8],
        limit: usize,
        out: &mut Vec<u8>,
    ) -> Result<usize, CompressionError> {
        if self == Self::Snappy {
            return snappy::decompress_into(input, limit, out);
        }
        *out = self.decompress(input, limit)?;
        Ok(out.len())
    }

    pub(crate) fn corrupt(self, message: impl ToString) -> CompressionError {
        CompressionError::Corrupt {
            codec: self,
            message: message.to_string(),
        }
    }

    fn compress_err(self, message: impl ToString) -> CompressionError {
        CompressionError::Compress {
            codec: self,
            message: message.to_string(),
        }
    }
}

/// The common case: one gzip member whose trailer states the size. Inflated in one call into a
/// buffer of exactly that size. Anything else (several members, a size that deflate cannot reach
/// from this input, a size over the limit, a corrupt stream) returns `None` and takes the general
/// streaming path, which also produces the proper error.
fn gunzip_one_member(input: &[u8], limit: usize) -> Option<Vec<u8>> {
    // Deflate expands at most ~1032:1; a trailer claiming more is not trusted with an allocation.
    const MAX_RATIO: usize = 1032;
    let size = u32::from_le_bytes(*input.last_chunk::<4>()?) as usize;
    if size == 0 || size > limit || size > input.len().saturating_mul(MAX_RATIO) {
        return None;
    }
    let mut out = vec![0u8; size];
    let mut inflate = zlib_rs::Inflate::new(true, 31);
    match inflate.decompress(input, &mut out, zlib_rs::InflateFlush::Finish) {
        Ok(zlib_rs::Status::StreamEnd)
            if inflate.total_in() == input.len() as u64 && inflate.total_out() == size as u64 =>
        {
            Some(out)
        }
        _ => None,
    }
}

/// Reads `reader` to the end into a new buffer, failing once more than `limit` bytes come out.
fn read_bounded(
    codec: Compression,
    reader: impl Read,
    hint: usize,
    limit: usize,
) -> Result<Vec<u8>, CompressionError> {
    let mut out = Vec::with_capacity(hint.clamp(256, 1 << 20).min(limit.saturating_add(1)));
    let mut bounded = reader.take((limit as u64).saturating_add(1));
    bounded
        .read_to_end(&mut out)
        .map_err(|e| codec.corrupt(e))?;
    if out.len() > limit {
        return Err(CompressionError::LimitExceeded { codec, limit });
    }
    Ok(out)
}

/// zstd: one or more frames (Java's zstd-jni stream writes frames without a content size).
///
/// A decompression context is kept per thread and reused: creating one (and its window buffers)
/// per batch costs more than decompressing a 16 KiB batch.
fn decompress_zstd(input: &[u8], limit: usize) -> Result<Vec<u8>, CompressionError> {
    use std::cell::RefCell;
    use zstd::zstd_safe::{DCtx, InBuffer, OutBuffer, ResetDirective};

    thread_local! {
        static DCTX: RefCell<Option<DCtx<'static>>> = const { RefCell::new(None) };
    }
    let codec = Compression::Zstd;
    let err = |code: usize| codec.corrupt(zstd::zstd_safe::get_error_name(code));
    let limit_err = CompressionError::LimitExceeded { codec, limit };

    let run = |dctx: &mut DCtx<'static>| -> Result<Vec<u8>, CompressionError> {
        dctx.reset(ResetDirective::SessionOnly).map_err(err)?;
        // A single frame that states its size is decompressed in one call into an exact buffer.
        if let (Ok(Some(size)), Ok(frame_len)) = (
            zstd::zstd_safe::get_frame_content_size(input),
            zstd::zstd_safe::find_frame_compressed_size(input),
        ) {
            if frame_len == input.len() {
                let size = usize::try_from(size).unwrap_or(usize::MAX);
                if size > limit {
                    return Err(limit_err.clone());
                }
                let mut out = Vec::with_capacity(size);
                dctx.decompress(&mut out, input).map_err(err)?;
                return Ok(out);
            }
        }
        let mut out: Vec<u8> = Vec::with_capacity(
            input
                .len()
                .saturating_mul(4)
                .clamp(1024, 1 << 20)
                .min(limit),
        );
        let mut inb = InBuffer::around(input);
        let mut finished = false;
        loop {
            if out.len() == out.capacity() {
                if out.len() >= limit {
                    // Full at the limit: any further output is past it.
                    if finished && inb.pos() == input.len() {
                        return Ok(out);
                    }
                    let mut probe = [0u8; 1];
                    let mut pb = OutBuffer::around(&mut probe[..]);
                    let before = inb.pos();
                    let hint = dctx.decompress_stream(&mut pb, &mut inb).map_err(err)?;
                    if pb.pos() > 0 {
                        return Err(limit_err.clone());
                    }
                    finished = hint == 0;
                    if finished && inb.pos() == input.len() {
                        return Ok(out);
                    }
                    if inb.pos() == before {
                        return Err(codec.corrupt("truncated zstd frame"));
                    }
                    continue;
                }
                let grow = out.len().max(64 * 1024).min(limit - out.len());
                out.reserve_exact(grow);
            }
            let (in_before, out_before) = (inb.pos(), out.len());
            let hint = {
                let len = out.len();
                let mut ob = OutBuffer::around_pos(&mut out, len);
                dctx.decompress_stream(&mut ob, &mut inb).map_err(err)?
            };
            finished = hint == 0;
            if finished && inb.pos() == input.len() {
                return Ok(out);
            }
            let full = out.len() == out.capacity();
            if inb.pos() == in_before && out.len() == out_before && !full {
                return Err(codec.corrupt("truncated zstd frame"));
            }
            if inb.pos() == input.len() && !full && !finished {
                return Err(codec.corrupt("truncated zstd frame"));
            }
        }
    };

    DCTX.with(|cell| match cell.try_borrow_mut() {
        Ok(mut slot) => run(slot.get_or_insert_with(DCtx::create)),
        Err(_) => run(&mut DCtx::create()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        Compression::Gzip.compress(data, None, &mut out).unwrap();
        out
    }

    #[test]
    fn gzip_fast_path_and_fallbacks_agree() {
        let a: Vec<u8> = (0..50_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let one = gzip(&a);
        assert_eq!(gunzip_one_member(&one, usize::MAX).as_deref(), Some(&a[..]));
        assert_eq!(Compression::Gzip.decompress(&one, usize::MAX).unwrap(), a);
        // Two members: the trailer names only the last one, so the general path runs.
        let mut two = one.clone();
        two.extend_from_slice(&gzip(b"tail"));
        assert_eq!(gunzip_one_member(&two, usize::MAX), None);
        let mut both = a.clone();
        both.extend_from_slice(b"tail");
        assert_eq!(
            Compression::Gzip.decompress(&two, usize::MAX).unwrap(),
            both
        );
        // A trailer that lies about the size is not trusted.
        let mut lying = one.clone();
        let n = lying.len();
        lying[n - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(gunzip_one_member(&lying, usize::MAX), None);
        assert!(Compression::Gzip.decompress(&lying, usize::MAX).is_err());
        // The limit still applies.
        assert!(matches!(
            Compression::Gzip.decompress(&one, 1000),
            Err(CompressionError::LimitExceeded { .. })
        ));
    }

    fn sample(n: usize) -> Vec<u8> {
        (0..n)
            .map(|i| (i % 251) as u8 ^ ((i / 1000) as u8))
            .collect()
    }

    #[test]
    fn every_codec_round_trips() {
        for codec in Compression::ALL {
            for n in [0, 1, 100, 65_535, 65_536, 65_537, 300_000] {
                let data = sample(n);
                let mut out = Vec::new();
                codec.compress(&data, None, &mut out).unwrap();
                let back = codec.decompress(&out, 1 << 30).unwrap();
                assert_eq!(back, data, "{codec:?} {n}");
            }
        }
    }

    #[test]
    fn limit_is_enforced() {
        let data = vec![0u8; 1 << 20];
        for codec in Compression::ALL {
            let mut out = Vec::new();
            codec.compress(&data, None, &mut out).unwrap();
            let err = codec.decompress(&out, 1000).unwrap_err();
            assert!(
                matches!(err, CompressionError::LimitExceeded { limit: 1000, .. }),
                "{codec:?}: {err}"
            );
            assert_eq!(codec.decompress(&out, 1 << 20).unwrap().len(), 1 << 20);
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let junk: Vec<u8> = (0..2000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for codec in Compression::ALL {
            for len in [0, 1, 5, 17, 100, 2000] {
                let _ = codec.decompress(&junk[..len], 1 << 20);
            }
        }
    }

    #[test]
    fn zstd_streams_without_content_size() {
        // As zstd-jni's stream (the Java client) writes: no content size, possibly several frames.
        let data: Vec<u8> = (0..3_000_000u32)
            .map(|i| (i % 7) as u8 + (i / 50_000) as u8)
            .collect();
        let mut framed = Vec::new();
        for chunk in data.chunks(1_000_000) {
            let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
            enc.include_contentsize(false).unwrap();
            std::io::Write::write_all(&mut enc, chunk).unwrap();
            framed.extend_from_slice(&enc.finish().unwrap());
        }
        assert_eq!(
            Compression::Zstd.decompress(&framed, usize::MAX).unwrap(),
            data
        );
        assert_eq!(
            Compression::Zstd.decompress(&framed, data.len()).unwrap(),
            data
        );
        let e = Compression::Zstd
            .decompress(&framed, data.len() - 1)
            .unwrap_err();
        assert!(matches!(e, CompressionError::LimitExceeded { .. }), "{e}");
        assert!(Compression::Zstd
            .decompress(&framed[..framed.len() - 3], usize::MAX)
            .is_err());
    }

    #[test]
    fn ids_round_trip() {
        for codec in Compression::ALL {
            assert_eq!(Compression::from_id(codec.id()), Some(codec));
        }
        assert_eq!(Compression::from_id(5), None);
    }
}
