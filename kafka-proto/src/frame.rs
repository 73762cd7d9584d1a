//! Framing: every Kafka request and response travels as an `i32` big-endian length followed by
//! that many bytes. [`FrameDecoder`] cuts complete frames out of a read buffer ("need more bytes"
//! is `Ok(None)`) and rejects a length over its maximum before reserving any memory for it.
//! [`decode_request`] / [`encode_request`] and their response twins handle the header of the right
//! version around a body (see [`ApiKey::request_header_version`]).

use bytes::{Buf, Bytes, BytesMut};

use crate::decode::{DecodeError, DecodeErrorKind, Decoder};
use crate::encode::{EncodeError, Sink};
use crate::messages::{RequestHeader, ResponseHeader};
use crate::{ApiKey, Message, RequestBody, ResponseBody};

/// Kafka's default `socket.request.max.bytes` (100 MiB).
pub const DEFAULT_MAX_FRAME: usize = 100 * 1024 * 1024;

/// Splits a byte stream into frames.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    max: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        FrameDecoder {
            max: DEFAULT_MAX_FRAME,
        }
    }
}

impl FrameDecoder {
    /// A decoder accepting frames of at most `max` bytes (length prefix excluded).
    pub fn new(max: usize) -> FrameDecoder {
        FrameDecoder { max }
    }

    /// The maximum frame size.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Takes one complete frame off the front of `buf`, if there is one.
    ///
    /// When the frame is incomplete, reserves room for more of it (at most 256 KiB at a time, so
    /// a peer that announces a large frame and stalls does not make the caller reserve it all)
    /// and returns `Ok(None)`.
    ///
    /// # Errors
    /// [`DecodeErrorKind::FrameTooLarge`] for a negative length or one over the maximum; the
    /// stream cannot be resynchronised after that and the connection should be closed.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, DecodeError> {
        let Some(prefix) = buf.first_chunk::<4>() else {
            return Ok(None);
        };
        let size = i32::from_be_bytes(*prefix);
        if size < 0 || size as usize > self.max {
            return Err(DecodeError::new(
                DecodeErrorKind::FrameTooLarge {
                    size: i64::from(size),
                    max: self.max,
                },
                0,
            ));
        }
        let size = size as usize;
        if buf.len() < 4 + size {
            buf.reserve((4 + size - buf.len()).min(256 * 1024));
            return Ok(None);
        }
        buf.advance(4);
        Ok(Some(buf.split_to(size).freeze()))
    }
}

/// Writes `frame` with its length prefix.
///
/// # Errors
/// [`crate::EncodeErrorKind::TooLong`] if the frame exceeds `i32::MAX` bytes.
pub fn put_frame<S: Sink + ?Sized>(s: &mut S, frame: &[u8]) -> Result<(), EncodeError> {
    let len = i32::try_from(frame.len()).map_err(|_| {
        EncodeError::new(crate::EncodeErrorKind::TooLong {
            len: frame.len(),
            max: i32::MAX as usize,
        })
    })?;
    s.put_i32(len);
    s.put_slice(frame);
    Ok(())
}

/// A decoded request frame.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestFrame {
    /// The header (its version follows from the API and version).
    pub header: RequestHeader,
    /// The API, from the header.
    pub api_key: ApiKey,
    /// The body.
    pub body: RequestBody,
    /// Bytes left after the body. Kafka brokers ignore them (librdkafka sends three stray bytes
    /// in its all-topics Metadata v9+ request); a strict peer may refuse them.
    pub trailing: usize,
}

/// Reads the API key and version at the start of a request frame without decoding the rest.
///
/// # Errors
/// [`DecodeErrorKind::UnexpectedEof`] if the frame is shorter than four bytes.
pub fn peek_request_key(frame: &Bytes) -> Result<(i16, i16), DecodeError> {
    let mut d = Decoder::new(frame);
    Ok((d.i16()?, d.i16()?))
}

/// Decodes a request frame (without its length prefix): header, then body by key and version.
///
/// # Errors
/// [`DecodeErrorKind::UnknownApiKey`], [`DecodeErrorKind::UnsupportedVersion`] or any malformed
/// input. Trailing bytes are not an error here: see [`RequestFrame::trailing`].
pub fn decode_request(frame: &Bytes) -> Result<RequestFrame, DecodeError> {
    let (key, version) = peek_request_key(frame)?;
    let api_key = ApiKey::from_i16(key)
        .ok_or_else(|| DecodeError::new(DecodeErrorKind::UnknownApiKey(key), 0))?;
    if !api_key.valid_versions().contains(version) {
        return Err(DecodeError::new(
            DecodeErrorKind::UnsupportedVersion {
                message: api_key.name(),
                version,
            },
            2,
        ));
    }
    let mut d = Decoder::new(frame);
    let header = RequestHeader::decode(&mut d, api_key.request_header_version(version))?;
    let body = RequestBody::decode(&mut d, api_key, version)?;
    Ok(RequestFrame {
        header,
        api_key,
        body,
        trailing: d.remaining(),
    })
}

/// Encodes a request (header and body, without the length prefix). The header's key and version
/// are set from `body` and `version`.
///
/// # Errors
/// As [`Message::encode`].
pub fn encode_request<S: Sink + ?Sized>(
    s: &mut S,
    correlation_id: i32,
    client_id: Option<&str>,
    body: &RequestBody,
    version: i16,
) -> Result<(), EncodeError> {
    let key = body.api_key();
    let header = RequestHeader {
        request_api_key: key.key(),
        request_api_version: version,
        correlation_id,
        client_id: client_id.map(Into::into),
        ..Default::default()
    };
    header.encode(s, key.request_header_version(version))?;
    body.encode(s, version)
}

/// Decodes a response frame (without its length prefix) to a request of `api_key` at `version`.
/// Returns the header, the body and the count of trailing bytes.
///
/// # Errors
/// As [`Message::decode`].
pub fn decode_response(
    frame: &Bytes,
    api_key: ApiKey,
    version: i16,
) -> Result<(ResponseHeader, ResponseBody, usize), DecodeError> {
    let mut d = Decoder::new(frame);
    let header = ResponseHeader::decode(&mut d, api_key.response_header_version(version))?;
    let body = ResponseBody::decode(&mut d, api_key, version)?;
    Ok((header, body, d.remaining()))
}

/// Encodes a response (header and body, without the length prefix).
///
/// # Errors
/// As [`Message::encode`].
pub fn encode_response<S: Sink + ?Sized>(
    s: &mut S,
    correlation_id: i32,
    body: &ResponseBody,
    version: i16,
) -> Result<(), EncodeError> {
    let key = body.api_key();
    let header = ResponseHeader {
        correlation_id,
        ..Default::default()
    };
    header.encode(s, key.response_header_version(version))?;
    body.encode(s, version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_and_wait_for_more() {
        let mut buf = BytesMut::from(&[0, 0, 0, 3, 1, 2][..]);
        let mut fd = FrameDecoder::new(16);
        assert_eq!(fd.decode(&mut buf).unwrap(), None);
        buf.extend_from_slice(&[3, 0, 0]);
        assert_eq!(&fd.decode(&mut buf).unwrap().unwrap()[..], &[1, 2, 3]);
        assert_eq!(fd.decode(&mut buf).unwrap(), None);
        assert_eq!(buf.len(), 2);
    }

    #[test]
    fn oversized_frame_is_rejected_before_reserving() {
        let mut buf = BytesMut::from(&[0x7f, 0xff, 0xff, 0xff, 0][..]);
        let cap = buf.capacity();
        let e = FrameDecoder::new(1024).decode(&mut buf).unwrap_err();
        assert!(matches!(
            e.kind(),
            DecodeErrorKind::FrameTooLarge {
                size: 2147483647,
                max: 1024
            }
        ));
        assert_eq!(buf.capacity(), cap);
        let mut buf = BytesMut::from(&[0xff, 0xff, 0xff, 0xff][..]);
        assert!(FrameDecoder::default().decode(&mut buf).is_err());
    }
}
