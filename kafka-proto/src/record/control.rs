//! Control records (KIP-98): transaction commit/abort markers and the other control types.
//!
//! A control record lives in a batch with the control attribute set. Its key is
//! `version: int16, type: int16`; for transaction markers (types 0 and 1) the value is
//! `version: int16, coordinatorEpoch: int32` (newer marker versions may append fields, which
//! are ignored). Other control types (leader change, KRaft snapshot header/footer, ...) keep
//! their value opaque here.

use super::error::RecordErrorKind;

/// The type of a control record (from its key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ControlType {
    /// Transaction abort marker (type 0).
    Abort,
    /// Transaction commit marker (type 1).
    Commit,
    /// Any other control type (leader change = 2, snapshot header = 3, ...).
    Other(i16),
}

impl ControlType {
    /// The type's code in the control key.
    pub fn code(self) -> i16 {
        match self {
            Self::Abort => 0,
            Self::Commit => 1,
            Self::Other(c) => c,
        }
    }

    fn from_code(code: i16) -> Self {
        match code {
            0 => Self::Abort,
            1 => Self::Commit,
            c => Self::Other(c),
        }
    }
}

/// A decoded control record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ControlRecord {
    /// Version of the control key (0).
    pub version: i16,
    /// What kind of control record this is.
    pub kind: ControlType,
    /// For transaction markers: the coordinator epoch from the value (`None` for other types).
    pub coordinator_epoch: Option<i32>,
}

impl ControlRecord {
    /// A transaction marker (commit or abort) with version-0 key and value.
    pub fn marker(commit: bool, coordinator_epoch: i32) -> Self {
        Self {
            version: 0,
            kind: if commit {
                ControlType::Commit
            } else {
                ControlType::Abort
            },
            coordinator_epoch: Some(coordinator_epoch),
        }
    }

    /// The encoded key: version and type.
    pub fn encode_key(&self) -> [u8; 4] {
        let [a, b] = self.version.to_be_bytes();
        let [c, d] = self.kind.code().to_be_bytes();
        [a, b, c, d]
    }

    /// The encoded value of a transaction marker (version 0, coordinator epoch), if this is one.
    pub fn encode_value(&self) -> Option<[u8; 6]> {
        let epoch = self.coordinator_epoch?;
        let [a, b, c, d] = epoch.to_be_bytes();
        Some([0, 0, a, b, c, d])
    }

    /// Parses a control record's key and value.
    ///
    /// # Errors
    /// [`RecordErrorKind::InvalidControlRecord`] if the key is null or shorter than 4 bytes, or
    /// a transaction marker's value is null or shorter than 6 bytes.
    pub fn parse(key: Option<&[u8]>, value: Option<&[u8]>) -> Result<Self, RecordErrorKind> {
        let key = key.ok_or(RecordErrorKind::InvalidControlRecord("null key"))?;
        let (&[a, b, c, d], _) =
            key.split_first_chunk::<4>()
                .ok_or(RecordErrorKind::InvalidControlRecord(
                    "key shorter than 4 bytes",
                ))?;
        let version = i16::from_be_bytes([a, b]);
        let kind = ControlType::from_code(i16::from_be_bytes([c, d]));
        let coordinator_epoch =
            match kind {
                ControlType::Abort | ControlType::Commit => {
                    let value =
                        value.ok_or(RecordErrorKind::InvalidControlRecord("null marker value"))?;
                    let (&[_, _, e0, e1, e2, e3], _) = value.split_first_chunk::<6>().ok_or(
                        RecordErrorKind::InvalidControlRecord("marker value shorter than 6 bytes"),
                    )?;
                    Some(i32::from_be_bytes([e0, e1, e2, e3]))
                }
                ControlType::Other(_) => None,
            };
        Ok(Self {
            version,
            kind,
            coordinator_epoch,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_round_trip() {
        for commit in [true, false] {
            let m = ControlRecord::marker(commit, 17);
            let key = m.encode_key();
            let value = m.encode_value().unwrap();
            assert_eq!(ControlRecord::parse(Some(&key), Some(&value)).unwrap(), m);
        }
        assert_eq!(ControlRecord::marker(true, 5).encode_key(), [0, 0, 0, 1]);
    }

    #[test]
    fn rejects_bad_keys() {
        assert!(ControlRecord::parse(None, None).is_err());
        assert!(ControlRecord::parse(Some(&[0, 0, 0]), None).is_err());
        assert!(ControlRecord::parse(Some(&[0, 0, 0, 1]), Some(&[0, 0])).is_err());
        let other = ControlRecord::parse(Some(&[0, 0, 0, 3]), None).unwrap();
        assert_eq!(other.kind, ControlType::Other(3));
    }
}
