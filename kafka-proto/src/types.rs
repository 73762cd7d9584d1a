//! Value types shared by the generated messages.

use std::fmt;

use bytes::Bytes;

/// A UTF-8 string backed by [`Bytes`]: decoding a string field slices the frame instead of
/// copying it. Build one from `&'static str` with `KStr::from_static`, or from `String`/`&str`
/// with `into()`.
pub type KStr = bytestring::ByteString;

/// An array of int32 (broker ids, partition indexes, replica lists): up to four stored inline,
/// so the replica and ISR lists of a Metadata response cost no allocation per partition. Derefs
/// to `[i32]`; build one with `I32s::from_slice`, `.into()` from a `Vec<i32>`, or `collect()`.
pub type I32s = smallvec::SmallVec<[i32; 4]>;

/// A 128-bit UUID as Kafka sends it (topic ids, directory ids, member ids of KIP-848).
///
/// The all-zero value is Kafka's `Uuid.ZERO_UUID`, the default.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Uuid(pub [u8; 16]);

impl Uuid {
    /// The all-zero UUID (Kafka's "no id").
    pub const ZERO: Uuid = Uuid([0; 16]);

    /// The 16 bytes, most significant first.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// The two halves as Kafka's Java `Uuid` holds them.
    pub const fn from_u64_pair(most: u64, least: u64) -> Uuid {
        let m = most.to_be_bytes();
        let l = least.to_be_bytes();
        Uuid([
            m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], l[0], l[1], l[2], l[3], l[4], l[5],
            l[6], l[7],
        ])
    }

    /// True for the all-zero UUID.
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 16]
    }
}

impl fmt::Display for Uuid {
    /// The usual 8-4-4-4-12 hexadecimal form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Uuid({self})")
    }
}

/// A tagged field this library does not know (KIP-482), kept so that decoding and re-encoding a
/// message preserves it byte for byte.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct TaggedField {
    /// The tag number.
    pub tag: u32,
    /// The raw field bytes, as they were on the wire.
    pub data: Bytes,
}

/// The unknown tagged fields of a struct. Almost always there are none, so they are kept as a
/// null pointer: a decoded struct then costs nothing extra to build or drop (an empty `Vec`'s
/// drop glue was a fifth of a ListOffsets decode). Reads like a slice.
#[derive(Clone, Default, Eq)]
// A thin (one-word, null when empty) pointer is the point here.
#[allow(clippy::box_collection)]
pub struct TaggedFields(Option<Box<Vec<TaggedField>>>);

impl Drop for TaggedFields {
    // Inlined, so dropping a decoded struct with no unknown tags is one compare, not a call.
    #[inline(always)]
    fn drop(&mut self) {
        if let Some(fields) = self.0.take() {
            drop_fields(fields);
        }
    }
}

#[cold]
#[inline(never)]
#[allow(clippy::box_collection)]
fn drop_fields(fields: Box<Vec<TaggedField>>) {
    drop(fields);
}

impl std::hash::Hash for TaggedFields {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

impl TaggedFields {
    /// No fields.
    pub const fn new() -> TaggedFields {
        TaggedFields(None)
    }

    /// Adds a field (fields are kept in the order received).
    pub fn push(&mut self, field: TaggedField) {
        self.0.get_or_insert_with(Default::default).push(field);
    }

    /// The fields.
    pub fn as_slice(&self) -> &[TaggedField] {
        self.0.as_deref().map_or(&[], Vec::as_slice)
    }
}

impl std::ops::Deref for TaggedFields {
    type Target = [TaggedField];
    fn deref(&self) -> &[TaggedField] {
        self.as_slice()
    }
}

impl PartialEq for TaggedFields {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl fmt::Debug for TaggedFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl From<Vec<TaggedField>> for TaggedFields {
    fn from(v: Vec<TaggedField>) -> Self {
        if v.is_empty() {
            TaggedFields(None)
        } else {
            TaggedFields(Some(Box::new(v)))
        }
    }
}

impl<'a> IntoIterator for &'a TaggedFields {
    type Item = &'a TaggedField;
    type IntoIter = std::slice::Iter<'a, TaggedField>;
    fn into_iter(self) -> Self::IntoIter {
        self.as_slice().iter()
    }
}

/// An inclusive range of versions; `min > max` means "no version".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct VersionRange {
    /// Lowest version in the range.
    pub min: i16,
    /// Highest version in the range.
    pub max: i16,
}

impl VersionRange {
    /// The empty range ("none" in the specs).
    pub const NONE: VersionRange = VersionRange { min: 0, max: -1 };

    /// A range from `min` to `max`, both included.
    pub const fn new(min: i16, max: i16) -> VersionRange {
        VersionRange { min, max }
    }

    /// Whether `version` lies in the range.
    pub const fn contains(&self, version: i16) -> bool {
        version >= self.min && version <= self.max
    }

    /// Whether the range holds no version.
    pub const fn is_empty(&self) -> bool {
        self.min > self.max
    }

    /// The overlap of two ranges (empty if they are disjoint).
    pub fn intersect(&self, other: &VersionRange) -> VersionRange {
        VersionRange {
            min: self.min.max(other.min),
            max: self.max.min(other.max),
        }
    }
}

impl fmt::Display for VersionRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            f.write_str("none")
        } else if self.min == self.max {
            write!(f, "{}", self.min)
        } else {
            write!(f, "{}-{}", self.min, self.max)
        }
    }
}
