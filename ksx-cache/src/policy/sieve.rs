//! SIEVE (Zhang et al., NSDI'24): FIFO order, a visited bit and a hand that stays where it stopped.

use std::collections::HashMap;
use std::hash::Hash;

use super::list::{Arena, List, NIL};
use super::{Access, EvictionPolicy};

/// SIEVE: insert at the head; a hit sets `visited` without moving; eviction walks the hand from its position
/// (the tail when unset) toward the head, clearing bits and wrapping to the tail, and evicts the first unvisited
/// object. The hand then rests on that object's newer neighbour (it is not reset).
#[derive(Debug, Clone)]
pub struct Sieve<K> {
    capacity: u64,
    map: HashMap<K, usize>,
    arena: Arena<K>,
    list: List,
    hand: usize,
}

impl<K: Hash + Eq + Clone> Sieve<K> {
    /// An empty cache of `capacity` (bytes, or objects for unit sizes).
    #[must_use]
    pub fn new(capacity: u64) -> Self {
        Self {
            capacity,
            map: HashMap::new(),
            arena: Arena::default(),
            list: List::default(),
            hand: NIL,
        }
    }

    fn evict(&mut self) -> Option<K> {
        let tail = self.list.back()?;
        let mut idx = if self.hand == NIL { tail } else { self.hand };
        // Each visited object is cleared once, so the walk ends within two rounds.
        while self.arena.get(idx).freq > 0 {
            self.arena.get_mut(idx).freq = 0;
            idx = match self.arena.prev(idx) {
                NIL => tail,
                prev => prev,
            };
        }
        // The hand stops on the victim; unlinking moves it to the victim's newer neighbour.
        self.hand = idx;
        Some(self.unlink(idx))
    }

    /// Unlinks a cached node, moving the hand off it first.
    fn unlink(&mut self, idx: usize) -> K {
        if self.hand == idx {
            self.hand = self.arena.prev(idx);
        }
        self.list.unlink(&mut self.arena, idx);
        self.arena.release(idx);
        let key = self.arena.get(idx).key.clone();
        self.map.remove(&key);
        key
    }
}

impl<K: Hash + Eq + Clone> EvictionPolicy<K> for Sieve<K> {
    fn name(&self) -> &'static str {
        "sieve"
    }

    fn access(&mut self, key: &K, size: u64) -> Access<K> {
        if let Some(&idx) = self.map.get(key)
            && self.arena.get(idx).size == size
        {
            self.arena.get_mut(idx).freq = 1;
            return Access::hit();
        }
        let mut access = Access::miss();
        if size > self.capacity {
            return access;
        }
        self.remove(key);
        while self.list.bytes() + size > self.capacity {
            match self.evict() {
                Some(victim) => access.evicted.push(victim),
                None => break,
            }
        }
        let idx = self.arena.alloc(key.clone(), size, 0);
        self.list.push_front(&mut self.arena, idx);
        self.map.insert(key.clone(), idx);
        access
    }

    fn remove(&mut self, key: &K) -> Option<u64> {
        let idx = *self.map.get(key)?;
        let size = self.arena.get(idx).size;
        self.unlink(idx);
        Some(size)
    }

    fn contains(&self, key: &K) -> bool {
        self.map.contains_key(key)
    }

    fn used(&self) -> u64 {
        self.list.bytes()
    }

    fn capacity(&self) -> u64 {
        self.capacity
    }

    fn len(&self) -> usize {
        self.list.len()
    }
}
