//! The memory tier: whole blocks in a byte budget, kept by one [`EvictionPolicy`] behind a mutex.
//!
//! A lookup that finds the block records a hit in the policy; a miss records nothing until the block is inserted
//! (one `access` per request, as the simulator does), so a trace replayed through the tier gives the simulator's
//! hit counts.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;

use super::key::BlockKey;
use crate::policy::{EvictionPolicy, PolicyKind};

/// Blocks in memory.
pub(crate) struct MemoryTier {
    inner: Mutex<Inner>,
}

struct Inner {
    policy: Box<dyn EvictionPolicy<BlockKey> + Send>,
    blocks: HashMap<BlockKey, Bytes>,
    by_path: HashMap<Arc<str>, HashSet<BlockKey>>,
}

impl std::fmt::Debug for MemoryTier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let g = self.lock();
        f.debug_struct("MemoryTier")
            .field("policy", &g.policy.name())
            .field("blocks", &g.blocks.len())
            .field("used", &g.policy.used())
            .finish()
    }
}

/// What an insert did.
#[derive(Debug, Default)]
pub(crate) struct Inserted {
    /// The policy kept the block.
    pub(crate) admitted: bool,
    /// Blocks evicted to make room, with their bytes.
    pub(crate) evicted: Vec<(BlockKey, Bytes)>,
}

impl MemoryTier {
    /// A tier of `capacity` bytes under `kind`; `expected_entries` sizes W-TinyLFU's sketch.
    pub(crate) fn new(kind: PolicyKind, capacity: u64, block_size: u64) -> Option<Self> {
        let expected = usize::try_from(capacity / block_size.max(1)).unwrap_or(usize::MAX);
        let policy = kind.build(capacity, expected.max(1))?;
        Some(Self {
            inner: Mutex::new(Inner {
                policy,
                blocks: HashMap::new(),
                by_path: HashMap::new(),
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The block, recording a hit; `None` (nothing recorded) on a miss.
    pub(crate) fn get(&self, key: &BlockKey) -> Option<Bytes> {
        let mut g = self.lock();
        let b = g.blocks.get(key)?.clone();
        g.policy.access(key, b.len() as u64);
        Some(b)
    }

    /// Whether the block is held (no policy effect).
    pub(crate) fn contains(&self, key: &BlockKey) -> bool {
        self.lock().blocks.contains_key(key)
    }

    /// Admits a block read from below; evicted blocks come back with their bytes.
    pub(crate) fn insert(&self, key: &BlockKey, bytes: Bytes) -> Inserted {
        let mut g = self.lock();
        let access = g.policy.access(key, bytes.len() as u64);
        let mut out = Inserted::default();
        for k in access.evicted {
            if let Some(b) = g.remove_entry(&k) {
                out.evicted.push((k, b));
            }
        }
        if g.policy.contains(key) {
            g.by_path
                .entry(Arc::clone(&key.path))
                .or_default()
                .insert(key.clone());
            g.blocks.insert(key.clone(), bytes);
            out.admitted = true;
        } else {
            g.remove_entry(key);
        }
        out
    }

    /// Drops every block of `path`; returns how many.
    pub(crate) fn remove_path(&self, path: &str) -> usize {
        let mut g = self.lock();
        let keys = g.by_path.remove(path).unwrap_or_default();
        for k in &keys {
            g.policy.remove(k);
            g.blocks.remove(k);
        }
        keys.len()
    }

    /// Bytes held.
    pub(crate) fn used(&self) -> u64 {
        self.lock().policy.used()
    }
}

impl Inner {
    fn remove_entry(&mut self, key: &BlockKey) -> Option<Bytes> {
        let b = self.blocks.remove(key)?;
        if let Some(set) = self.by_path.get_mut(&key.path) {
            set.remove(key);
            if set.is_empty() {
                self.by_path.remove(&key.path);
            }
        }
        Some(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::key::Identity;

    fn key(path: &str, index: u64) -> BlockKey {
        BlockKey {
            store: "s".into(),
            path: path.into(),
            identity: Arc::new(Identity::ETag("e".into())),
            block_size: 4,
            index,
        }
    }

    #[test]
    fn evicts_by_policy_and_drops_paths() {
        let m = MemoryTier::new(PolicyKind::Lru, 8, 4).expect("online policy");
        assert!(m.insert(&key("a", 0), Bytes::from_static(b"aaaa")).admitted);
        assert!(m.insert(&key("b", 0), Bytes::from_static(b"bbbb")).admitted);
        assert!(m.get(&key("a", 0)).is_some());
        let ins = m.insert(&key("c", 0), Bytes::from_static(b"cccc"));
        assert_eq!(ins.evicted.len(), 1);
        assert_eq!(ins.evicted[0].0, key("b", 0));
        assert_eq!(m.used(), 8);
        assert_eq!(m.remove_path("a"), 1);
        assert!(!m.contains(&key("a", 0)));
        assert_eq!(m.used(), 4);
        // Larger than the whole budget: not admitted, nothing evicted.
        let big = m.insert(&key("d", 0), Bytes::from(vec![0; 9]));
        assert!(!big.admitted && big.evicted.is_empty());
    }
}
