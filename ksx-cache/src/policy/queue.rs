//! The single-queue policies: LRU, FIFO and CLOCK.

use std::collections::HashMap;
use std::hash::Hash;

use super::list::{Arena, List};
use super::{Access, EvictionPolicy};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Discipline {
    Lru,
    Fifo,
    Clock,
}

/// One queue: head = newest, tail = next victim.
#[derive(Debug, Clone)]
struct Queue<K> {
    discipline: Discipline,
    capacity: u64,
    map: HashMap<K, usize>,
    arena: Arena<K>,
    list: List,
}

impl<K: Hash + Eq + Clone> Queue<K> {
    fn new(discipline: Discipline, capacity: u64) -> Self {
        Self {
            discipline,
            capacity,
            map: HashMap::new(),
            arena: Arena::default(),
            list: List::default(),
        }
    }

    fn access(&mut self, key: &K, size: u64) -> Access<K> {
        if let Some(&idx) = self.map.get(key)
            && self.arena.get(idx).size == size
        {
            match self.discipline {
                Discipline::Lru => self.list.move_to_front(&mut self.arena, idx),
                Discipline::Fifo => {}
                Discipline::Clock => self.arena.get_mut(idx).freq = 1,
            }
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

    fn evict(&mut self) -> Option<K> {
        loop {
            let idx = self.list.back()?;
            if self.discipline == Discipline::Clock && self.arena.get(idx).freq > 0 {
                // The hand clears the reference bit and passes on: a second chance.
                self.arena.get_mut(idx).freq = 0;
                self.list.move_to_front(&mut self.arena, idx);
                continue;
            }
            self.list.unlink(&mut self.arena, idx);
            self.arena.release(idx);
            let key = self.arena.get(idx).key.clone();
            self.map.remove(&key);
            return Some(key);
        }
    }

    fn remove(&mut self, key: &K) -> Option<u64> {
        let idx = self.map.remove(key)?;
        self.list.unlink(&mut self.arena, idx);
        self.arena.release(idx);
        Some(self.arena.get(idx).size)
    }
}

macro_rules! queue_policy {
    ($(#[$doc:meta])* $name:ident, $discipline:ident, $label:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name<K> {
            queue: Queue<K>,
        }

        impl<K: Hash + Eq + Clone> $name<K> {
            /// An empty cache of `capacity` (bytes, or objects for unit sizes).
            #[must_use]
            pub fn new(capacity: u64) -> Self {
                Self {
                    queue: Queue::new(Discipline::$discipline, capacity),
                }
            }
        }

        impl<K: Hash + Eq + Clone> EvictionPolicy<K> for $name<K> {
            fn name(&self) -> &'static str {
                $label
            }

            fn access(&mut self, key: &K, size: u64) -> Access<K> {
                self.queue.access(key, size)
            }

            fn remove(&mut self, key: &K) -> Option<u64> {
                self.queue.remove(key)
            }

            fn contains(&self, key: &K) -> bool {
                self.queue.map.contains_key(key)
            }

            fn used(&self) -> u64 {
                self.queue.list.bytes()
            }

            fn capacity(&self) -> u64 {
                self.queue.capacity
            }

            fn len(&self) -> usize {
                self.queue.list.len()
            }
        }
    };
}

queue_policy!(
    /// Least recently used: a hit moves the object to the head; the tail is evicted.
    Lru,
    Lru,
    "lru"
);
queue_policy!(
    /// First in, first out: hits change nothing; the oldest object is evicted.
    Fifo,
    Fifo,
    "fifo"
);
queue_policy!(
    /// CLOCK: a FIFO ring with one reference bit (0 at insert, set by a hit); the hand clears set bits and
    /// evicts the first object whose bit is clear (libCacheSim's `n_bit_counter` 1, `init_freq` 0).
    Clock,
    Clock,
    "clock"
);
