//! Belady's optimal (MIN): evict the cached object whose next request is furthest in the future.

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;

use super::{Access, EvictionPolicy};

/// "Never requested again": the furthest possible next use.
const NEVER: usize = usize::MAX;

/// Belady's MIN as a simulator policy: built from the whole trace (next uses from one backward pass) and then
/// driven with the same requests in the same order.
///
/// On a miss the requested object is admitted (no bypass) and the victims are the *cached* objects whose next
/// request is furthest, never again counting as furthest; ties (only possible among never-again objects) go to
/// the largest size, then the smallest key. Optimal among demand-paging policies for unit sizes; with sizes it is
/// a strong heuristic, since size-aware OPT is NP-hard.
///
/// A request that does not match the trace at its position is served as if the key were never requested again,
/// so a misuse degrades the bound instead of panicking.
#[derive(Debug, Clone)]
pub struct Belady<K> {
    capacity: u64,
    trace: Vec<K>,
    next_use: Vec<usize>,
    cursor: usize,
    cached: HashMap<K, (u64, usize)>,
    order: BTreeSet<(usize, u64, Reverse<K>)>,
    used: u64,
}

impl<K: Ord + Hash + Clone> Belady<K> {
    /// An empty cache of `capacity` that will be driven with exactly the keys of `trace`, in order.
    #[must_use]
    pub fn new(capacity: u64, trace: &[K]) -> Self {
        let mut next_use = vec![NEVER; trace.len()];
        let mut seen: HashMap<&K, usize> = HashMap::new();
        for (i, key) in trace.iter().enumerate().rev() {
            if let Some(&next) = seen.get(key) {
                next_use[i] = next;
            }
            seen.insert(key, i);
        }
        Self {
            capacity,
            trace: trace.to_vec(),
            next_use,
            cursor: 0,
            cached: HashMap::new(),
            order: BTreeSet::new(),
            used: 0,
        }
    }

    fn evict(&mut self) -> Option<K> {
        let (_, size, Reverse(key)) = self.order.pop_last()?;
        self.cached.remove(&key);
        self.used -= size;
        Some(key)
    }
}

impl<K: Ord + Hash + Clone> EvictionPolicy<K> for Belady<K> {
    fn name(&self) -> &'static str {
        "belady"
    }

    fn access(&mut self, key: &K, size: u64) -> Access<K> {
        let next = match (self.trace.get(self.cursor), self.next_use.get(self.cursor)) {
            (Some(expected), Some(&next)) if expected == key => next,
            _ => NEVER,
        };
        self.cursor = self.cursor.saturating_add(1);
        if let Some(&(cached_size, old_next)) = self.cached.get(key)
            && cached_size == size
        {
            self.order
                .remove(&(old_next, cached_size, Reverse(key.clone())));
            self.order.insert((next, size, Reverse(key.clone())));
            self.cached.insert(key.clone(), (size, next));
            return Access::hit();
        }
        let mut access = Access::miss();
        if size > self.capacity {
            return access;
        }
        self.remove(key);
        while self.used + size > self.capacity {
            match self.evict() {
                Some(victim) => access.evicted.push(victim),
                None => break,
            }
        }
        self.order.insert((next, size, Reverse(key.clone())));
        self.cached.insert(key.clone(), (size, next));
        self.used += size;
        access
    }

    fn remove(&mut self, key: &K) -> Option<u64> {
        let (size, next) = self.cached.remove(key)?;
        self.order.remove(&(next, size, Reverse(key.clone())));
        self.used -= size;
        Some(size)
    }

    fn contains(&self, key: &K) -> bool {
        self.cached.contains_key(key)
    }

    fn used(&self) -> u64 {
        self.used
    }

    fn capacity(&self) -> u64 {
        self.capacity
    }

    fn len(&self) -> usize {
        self.cached.len()
    }
}
