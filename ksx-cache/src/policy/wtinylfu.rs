//! W-TinyLFU (Einziger, Friedman and Manes; Caffeine's policy): a small window LRU in front of a segmented LRU,
//! with a frequency sketch deciding which of two objects the main space keeps.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use super::list::{Arena, List};
use super::sketch::{CountMinSketch, mix64};
use super::{Access, EvictionPolicy, fraction};

const WINDOW: u8 = 0;
const PROBATION: u8 = 1;
const PROTECTED: u8 = 2;

/// Settings of [`WTinyLfu`] (spec §5 defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WTinyLfuConfig {
    /// Share of the capacity for the window LRU (default 0.01, at least one unit).
    pub window_ratio: f64,
    /// Share of the main space for the protected segment (default 0.8; probation gets the rest).
    pub protected_ratio: f64,
    /// Distinct keys the sketch is sized for; it halves its counters after ten times as many increments.
    pub expected_entries: usize,
}

impl Default for WTinyLfuConfig {
    fn default() -> Self {
        Self {
            window_ratio: 0.01,
            protected_ratio: 0.8,
            expected_entries: 1024,
        }
    }
}

/// W-TinyLFU: every new object enters the window LRU; the window's LRU object becomes a candidate for the main
/// space, a segmented LRU (probation, then protected after a hit). When the main space is full the candidate
/// replaces the probation LRU only with a **strictly greater** sketch estimate, otherwise it is evicted.
#[derive(Debug, Clone)]
pub struct WTinyLfu<K> {
    capacity: u64,
    window_capacity: u64,
    main_capacity: u64,
    protected_capacity: u64,
    sketch: CountMinSketch,
    map: HashMap<K, usize>,
    arena: Arena<K>,
    lists: [List; 3],
}

fn hash_of<K: Hash>(key: &K) -> u64 {
    // `DefaultHasher::new` uses fixed keys, so the estimate (and every decision) is deterministic.
    let mut hasher = DefaultHasher::new();
    key.hash(&mut hasher);
    mix64(hasher.finish())
}

impl<K: Hash + Eq + Clone> WTinyLfu<K> {
    /// An empty cache of `capacity` objects (unit sizes) with a sketch sized for `capacity` keys; for byte
    /// capacities use [`WTinyLfu::with_config`] with `expected_entries` = capacity / typical object size.
    #[must_use]
    pub fn new(capacity: u64) -> Self {
        Self::with_config(
            capacity,
            WTinyLfuConfig {
                expected_entries: usize::try_from(capacity).unwrap_or(usize::MAX),
                ..WTinyLfuConfig::default()
            },
        )
    }

    /// An empty cache with explicit settings; ratios are clamped to `0..=1`.
    #[must_use]
    pub fn with_config(capacity: u64, config: WTinyLfuConfig) -> Self {
        let window_capacity = fraction(capacity, config.window_ratio).max(1).min(capacity);
        let main_capacity = capacity - window_capacity;
        Self {
            capacity,
            window_capacity,
            main_capacity,
            protected_capacity: fraction(main_capacity, config.protected_ratio),
            sketch: CountMinSketch::new(config.expected_entries),
            map: HashMap::new(),
            arena: Arena::default(),
            lists: [List::default(); 3],
        }
    }

    fn bytes(&self, queue: u8) -> u64 {
        self.lists[usize::from(queue)].bytes()
    }

    fn relink(&mut self, idx: usize, to: u8) {
        let from = self.arena.get(idx).queue;
        self.lists[usize::from(from)].unlink(&mut self.arena, idx);
        self.arena.get_mut(idx).queue = to;
        self.lists[usize::from(to)].push_front(&mut self.arena, idx);
    }

    /// Unlinks, frees and forgets a cached node; returns its key.
    fn evict_node(&mut self, idx: usize) -> K {
        let queue = self.arena.get(idx).queue;
        self.lists[usize::from(queue)].unlink(&mut self.arena, idx);
        self.arena.release(idx);
        let key = self.arena.get(idx).key.clone();
        self.map.remove(&key);
        key
    }

    fn main_victim(&self) -> Option<usize> {
        self.lists[usize::from(PROBATION)]
            .back()
            .or_else(|| self.lists[usize::from(PROTECTED)].back())
    }

    /// Offers a candidate that just left the window (unlinked) to the main space.
    fn admit(&mut self, cand: usize, evicted: &mut Vec<K>) {
        let size = self.arena.get(cand).size;
        let cand_freq = self.sketch.estimate(hash_of(&self.arena.get(cand).key));
        loop {
            let main = self.bytes(PROBATION) + self.bytes(PROTECTED);
            if main + size <= self.main_capacity {
                self.arena.get_mut(cand).queue = PROBATION;
                self.lists[usize::from(PROBATION)].push_front(&mut self.arena, cand);
                return;
            }
            let victim = match self.main_victim() {
                Some(victim) if size <= self.main_capacity => victim,
                _ => break,
            };
            let victim_freq = self.sketch.estimate(hash_of(&self.arena.get(victim).key));
            if cand_freq > victim_freq {
                evicted.push(self.evict_node(victim));
            } else {
                break;
            }
        }
        // Rejected: the candidate leaves the cache.
        self.arena.release(cand);
        let key = self.arena.get(cand).key.clone();
        self.map.remove(&key);
        evicted.push(key);
    }
}

impl<K: Hash + Eq + Clone> EvictionPolicy<K> for WTinyLfu<K> {
    fn name(&self) -> &'static str {
        "wtinylfu"
    }

    fn access(&mut self, key: &K, size: u64) -> Access<K> {
        self.sketch.increment(hash_of(key));
        if let Some(&idx) = self.map.get(key)
            && self.arena.get(idx).size == size
        {
            match self.arena.get(idx).queue {
                PROBATION => {
                    self.relink(idx, PROTECTED);
                    while self.bytes(PROTECTED) > self.protected_capacity {
                        let Some(tail) = self.lists[usize::from(PROTECTED)].back() else {
                            break;
                        };
                        self.relink(tail, PROBATION);
                    }
                }
                queue => self.lists[usize::from(queue)].move_to_front(&mut self.arena, idx),
            }
            return Access::hit();
        }
        let mut access = Access::miss();
        if size > self.capacity {
            return access;
        }
        self.remove(key);
        let new = self.arena.alloc(key.clone(), size, WINDOW);
        self.lists[usize::from(WINDOW)].push_front(&mut self.arena, new);
        self.map.insert(key.clone(), new);
        // The new object always stays in the window; older window objects become candidates.
        while self.bytes(WINDOW) > self.window_capacity {
            match self.lists[usize::from(WINDOW)].back() {
                Some(tail) if tail != new => {
                    self.lists[usize::from(WINDOW)].unlink(&mut self.arena, tail);
                    self.admit(tail, &mut access.evicted);
                }
                _ => break,
            }
        }
        // Large objects can leave the total above capacity: shrink the main space, then the window.
        while self.used() > self.capacity {
            let victim = self.main_victim().or_else(|| {
                self.lists[usize::from(WINDOW)]
                    .back()
                    .filter(|&tail| tail != new)
            });
            let Some(victim) = victim else { break };
            access.evicted.push(self.evict_node(victim));
        }
        access
    }

    fn remove(&mut self, key: &K) -> Option<u64> {
        let idx = *self.map.get(key)?;
        let size = self.arena.get(idx).size;
        self.evict_node(idx);
        Some(size)
    }

    fn contains(&self, key: &K) -> bool {
        self.map.contains_key(key)
    }

    fn used(&self) -> u64 {
        self.lists.iter().map(List::bytes).sum()
    }

    fn capacity(&self) -> u64 {
        self.capacity
    }

    fn len(&self) -> usize {
        self.lists.iter().map(List::len).sum()
    }
}
