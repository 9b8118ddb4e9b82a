//! S3-FIFO (Yang et al., SOSP'23): a small FIFO for new objects, a main FIFO, and a ghost FIFO of keys.

use std::collections::HashMap;
use std::hash::Hash;

use super::list::{Arena, List};
use super::{Access, EvictionPolicy, fraction};

const SMALL: u8 = 0;
const MAIN: u8 = 1;
const GHOST: u8 = 2;

/// Settings of [`S3Fifo`]; the defaults are libCacheSim's (spec §5).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct S3FifoConfig {
    /// Share of the capacity for the small queue S (default 0.1).
    pub small_ratio: f64,
    /// Size of the ghost queue relative to the capacity (default 0.9; foyer uses 1.0).
    pub ghost_ratio: f64,
    /// Frequency at which an object leaving S goes to M instead of the ghost (default 2; foyer uses 1).
    pub small_to_main_threshold: u8,
}

impl Default for S3FifoConfig {
    fn default() -> Self {
        Self {
            small_ratio: 0.1,
            ghost_ratio: 0.9,
            small_to_main_threshold: 2,
        }
    }
}

/// The largest value of the per-object frequency counter.
const MAX_FREQ: u8 = 3;

/// S3-FIFO: a miss whose key is in the ghost queue G enters the main queue M, any other miss the small queue S;
/// hits raise a counter (max 3) without moving. When S holds its share, S's tail moves to M if its counter reached
/// the threshold, else its key goes to G; otherwise M's tail is reinserted with its counter minus one while the
/// counter is positive, else evicted. The data path's default policy.
#[derive(Debug, Clone)]
pub struct S3Fifo<K> {
    capacity: u64,
    small_capacity: u64,
    ghost_capacity: u64,
    threshold: u8,
    map: HashMap<K, usize>,
    arena: Arena<K>,
    small: List,
    main: List,
    ghost: List,
}

impl<K: Hash + Eq + Clone> S3Fifo<K> {
    /// An empty cache of `capacity` (bytes, or objects for unit sizes) with the default settings.
    #[must_use]
    pub fn new(capacity: u64) -> Self {
        Self::with_config(capacity, S3FifoConfig::default())
    }

    /// An empty cache with explicit settings; ratios are clamped to `0..=1`.
    #[must_use]
    pub fn with_config(capacity: u64, config: S3FifoConfig) -> Self {
        Self {
            capacity,
            small_capacity: fraction(capacity, config.small_ratio),
            ghost_capacity: fraction(capacity, config.ghost_ratio),
            threshold: config.small_to_main_threshold,
            map: HashMap::new(),
            arena: Arena::default(),
            small: List::default(),
            main: List::default(),
            ghost: List::default(),
        }
    }

    fn used_bytes(&self) -> u64 {
        self.small.bytes() + self.main.bytes()
    }

    fn evict(&mut self) -> Option<K> {
        if (!self.small.is_empty() && self.small.bytes() >= self.small_capacity)
            || self.main.is_empty()
        {
            self.evict_small()
        } else {
            self.evict_main()
        }
    }

    fn evict_small(&mut self) -> Option<K> {
        while let Some(idx) = self.small.back() {
            self.small.unlink(&mut self.arena, idx);
            if self.arena.get(idx).freq >= self.threshold {
                // Seen often enough while in S: promote, keeping the counter (the paper's pseudocode).
                self.arena.get_mut(idx).queue = MAIN;
                self.main.push_front(&mut self.arena, idx);
                continue;
            }
            let node = self.arena.get_mut(idx);
            node.queue = GHOST;
            node.freq = 0;
            let key = node.key.clone();
            self.ghost.push_front(&mut self.arena, idx);
            self.trim_ghost();
            return Some(key);
        }
        self.evict_main()
    }

    fn evict_main(&mut self) -> Option<K> {
        loop {
            let idx = self.main.back()?;
            let node = self.arena.get_mut(idx);
            if node.freq > 0 {
                node.freq -= 1;
                self.main.move_to_front(&mut self.arena, idx);
                continue;
            }
            self.main.unlink(&mut self.arena, idx);
            self.arena.release(idx);
            let key = self.arena.get(idx).key.clone();
            self.map.remove(&key);
            return Some(key);
        }
    }

    fn trim_ghost(&mut self) {
        while self.ghost.bytes() > self.ghost_capacity {
            let Some(idx) = self.ghost.back() else { break };
            self.ghost.unlink(&mut self.arena, idx);
            self.arena.release(idx);
            let key = self.arena.get(idx).key.clone();
            self.map.remove(&key);
        }
    }

    /// Unlinks `idx` from whichever queue holds it and frees it.
    fn drop_node(&mut self, idx: usize) {
        match self.arena.get(idx).queue {
            SMALL => self.small.unlink(&mut self.arena, idx),
            MAIN => self.main.unlink(&mut self.arena, idx),
            _ => self.ghost.unlink(&mut self.arena, idx),
        }
        self.arena.release(idx);
    }
}

impl<K: Hash + Eq + Clone> EvictionPolicy<K> for S3Fifo<K> {
    fn name(&self) -> &'static str {
        "s3fifo"
    }

    fn access(&mut self, key: &K, size: u64) -> Access<K> {
        let mut from_ghost = false;
        if let Some(&idx) = self.map.get(key) {
            let node = self.arena.get_mut(idx);
            if node.queue == GHOST {
                from_ghost = true;
            } else if node.size == size {
                node.freq = (node.freq + 1).min(MAX_FREQ);
                return Access::hit();
            }
        }
        let mut access = Access::miss();
        if size > self.capacity {
            return access;
        }
        if let Some(idx) = self.map.remove(key) {
            self.drop_node(idx);
        }
        while self.used_bytes() + size > self.capacity {
            match self.evict() {
                Some(victim) => access.evicted.push(victim),
                None => break,
            }
        }
        let queue = if from_ghost { MAIN } else { SMALL };
        let idx = self.arena.alloc(key.clone(), size, queue);
        if from_ghost {
            self.main.push_front(&mut self.arena, idx);
        } else {
            self.small.push_front(&mut self.arena, idx);
        }
        self.map.insert(key.clone(), idx);
        access
    }

    fn remove(&mut self, key: &K) -> Option<u64> {
        let idx = self.map.remove(key)?;
        let node = self.arena.get(idx);
        let size = (node.queue != GHOST).then_some(node.size);
        self.drop_node(idx);
        size
    }

    fn contains(&self, key: &K) -> bool {
        self.map
            .get(key)
            .is_some_and(|&idx| self.arena.get(idx).queue != GHOST)
    }

    fn used(&self) -> u64 {
        self.used_bytes()
    }

    fn capacity(&self) -> u64 {
        self.capacity
    }

    fn len(&self) -> usize {
        self.small.len() + self.main.len()
    }
}
