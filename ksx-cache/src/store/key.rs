//! Block keys: (store id, path, identity, block size, index), the identity taken from the object's metadata.

use std::fmt::Write as _;
use std::ops::Range;
use std::sync::Arc;

use object_store::ObjectMeta;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What tells one version of an object from another: the ETag, else the version, else (size, last modified).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Identity {
    /// The ETag, compared exactly.
    ETag(String),
    /// The store's version id.
    Version(String),
    /// Size and last-modified time in nanoseconds since the epoch.
    SizeModified(u64, i64),
}

impl Identity {
    /// The identity of an object as HEAD described it.
    pub fn of(meta: &ObjectMeta) -> Self {
        if let Some(e) = &meta.e_tag {
            Self::ETag(e.clone())
        } else if let Some(v) = &meta.version {
            Self::Version(v.clone())
        } else {
            let nanos = meta
                .last_modified
                .timestamp_nanos_opt()
                .unwrap_or_else(|| meta.last_modified.timestamp().saturating_mul(1_000_000_000));
            Self::SizeModified(meta.size, nanos)
        }
    }
}

/// The key of one cached block.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BlockKey {
    /// The store's identity.
    pub store: Arc<str>,
    /// The object's path in the store.
    pub path: Arc<str>,
    /// The object's version identity.
    pub identity: Arc<Identity>,
    /// The block size the object was cut with.
    pub block_size: u64,
    /// The block's index: it covers `[index·bs, min((index+1)·bs, size))`.
    pub index: u64,
}

impl BlockKey {
    /// The SHA-256 of the key's canonical JSON, as 64 lowercase hex digits: the block's file name on disk.
    pub fn digest_hex(&self) -> String {
        let digest = Sha256::digest(self.encode());
        let mut out = String::with_capacity(64);
        for b in digest {
            let _ = write!(out, "{b:02x}");
        }
        out
    }

    /// The canonical encoding stored in the block file's footer (compact JSON).
    pub fn encode(&self) -> Vec<u8> {
        let repr = KeyRepr {
            store: self.store.to_string(),
            path: self.path.to_string(),
            identity: self.identity.as_ref().clone(),
            block_size: self.block_size,
            index: self.index,
        };
        serde_json::to_vec(&repr).unwrap_or_default()
    }

    /// Decodes a footer's key.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let r: KeyRepr = serde_json::from_slice(bytes).ok()?;
        Some(Self {
            store: r.store.into(),
            path: r.path.into(),
            identity: Arc::new(r.identity),
            block_size: r.block_size,
            index: r.index,
        })
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct KeyRepr {
    store: String,
    path: String,
    identity: Identity,
    block_size: u64,
    index: u64,
}

/// The byte range of block `index` of an object of `size` bytes.
pub(crate) fn block_range(index: u64, block_size: u64, size: u64) -> Range<u64> {
    let start = index.saturating_mul(block_size).min(size);
    let end = index.saturating_add(1).saturating_mul(block_size).min(size);
    start..end
}

/// The blocks that cover `range` (empty for an empty range).
pub(crate) fn blocks_of(range: &Range<u64>, block_size: u64) -> Range<u64> {
    if range.start >= range.end {
        return 0..0;
    }
    range.start / block_size..(range.end - 1) / block_size + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_cover_ranges() {
        assert_eq!(block_range(0, 4, 10), 0..4);
        assert_eq!(block_range(2, 4, 10), 8..10);
        assert_eq!(blocks_of(&(0..10), 4), 0..3);
        assert_eq!(blocks_of(&(4..8), 4), 1..2);
        assert_eq!(blocks_of(&(3..5), 4), 0..2);
        assert_eq!(blocks_of(&(5..5), 4), 0..0);
    }

    #[test]
    fn keys_round_trip_and_hash_to_hex() {
        let k = BlockKey {
            store: "s".into(),
            path: "a/b".into(),
            identity: Arc::new(Identity::ETag("\"x\"".into())),
            block_size: 65536,
            index: 3,
        };
        assert_eq!(BlockKey::decode(&k.encode()), Some(k.clone()));
        let hex = k.digest_hex();
        assert_eq!(hex.len(), 64);
        assert!(
            hex.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }
}
