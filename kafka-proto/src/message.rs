//! The traits every generated message implements.

use bytes::{Bytes, BytesMut};

use crate::decode::{DecodeError, Decoder};
use crate::encode::{EncodeError, Sink};
use crate::{ApiKey, VersionRange};

/// A top-level message of the specs: a request, a response, a header or a data structure.
pub trait Message: Sized {
    /// The spec name (`MetadataRequest`).
    const NAME: &'static str;
    /// Versions the spec defines.
    const VERSIONS: VersionRange;
    /// Versions that use the flexible encoding.
    const FLEXIBLE_VERSIONS: VersionRange;

    /// Encodes the message at `version` into `s`.
    ///
    /// # Errors
    /// [`EncodeError`] when `version` is not defined, when a field holds a non-default value but
    /// does not exist at `version` (and is not ignorable), when a null is not allowed, or when a
    /// string or array is too long for its length prefix. Bytes may have been written before the
    /// error: encode into a scratch buffer when that matters.
    fn encode<S: Sink + ?Sized>(&self, s: &mut S, version: i16) -> Result<(), EncodeError>;

    /// Decodes the message at `version`, leaving any trailing bytes in `d`.
    ///
    /// # Errors
    /// [`DecodeError`] for a version the spec does not define or malformed input.
    fn decode(d: &mut Decoder<'_>, version: i16) -> Result<Self, DecodeError>;

    /// Bytes [`Message::encode`] writes at `version` (for a valid message).
    fn encoded_size(&self, version: i16) -> usize;

    /// Decodes a message that must fill `bytes` exactly.
    ///
    /// # Errors
    /// As [`Message::decode`], plus [`crate::DecodeErrorKind::TrailingBytes`].
    fn decode_all(bytes: &Bytes, version: i16) -> Result<Self, DecodeError> {
        let mut d = Decoder::new(bytes);
        let m = Self::decode(&mut d, version)?;
        d.finish().map_err(|e| e.root(Self::NAME))?;
        Ok(m)
    }

    /// Encodes into a new buffer of exactly the right size.
    ///
    /// # Errors
    /// As [`Message::encode`].
    fn to_bytes(&self, version: i16) -> Result<Bytes, EncodeError> {
        let mut b = BytesMut::with_capacity(self.encoded_size(version));
        self.encode(&mut b, version)?;
        Ok(b.freeze())
    }
}

/// A request message, tied to its API and its response type.
pub trait Request: Message {
    /// The API this request belongs to.
    const KEY: ApiKey;
    /// The matching response message.
    type Response: Message;
}
