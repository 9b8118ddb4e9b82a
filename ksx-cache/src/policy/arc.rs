//! ARC (Megiddo and Modha, FAST'03): recency and frequency lists with ghosts and an adaptive target.

use std::collections::HashMap;
use std::hash::Hash;

use super::list::{Arena, List};
use super::{Access, EvictionPolicy};

const T1: u8 = 0;
const T2: u8 = 1;
const B1: u8 = 2;
const B2: u8 = 3;

/// ARC: new keys enter T1, hits move to T2; evicted keys are remembered in ghosts B1 / B2, whose hits move the
/// target `p` of T1 (up by `max(1, |B2|/|B1|)` objects on a B1 hit, down by `max(1, |B1|/|B2|)` on a B2 hit)
/// and enter T2. Replacement demotes T1's LRU when T1 exceeds `p` (or equals it on a B2 hit), else T2's.
///
/// Sizes: `p` and every bound are in capacity units; the adaptation step is the object count ratio times the
/// requested object's size, which is the textbook rule for unit sizes. Ghosts are bounded as in the paper:
/// `T1 + B1 ≤ c` and `T1 + T2 + B1 + B2 ≤ 2c`.
#[derive(Debug, Clone)]
pub struct Arc<K> {
    capacity: u64,
    target: u64,
    map: HashMap<K, usize>,
    arena: Arena<K>,
    lists: [List; 4],
}

impl<K: Hash + Eq + Clone> Arc<K> {
    /// An empty cache of `capacity` (bytes, or objects for unit sizes).
    #[must_use]
    pub fn new(capacity: u64) -> Self {
        Self {
            capacity,
            target: 0,
            map: HashMap::new(),
            arena: Arena::default(),
            lists: [List::default(); 4],
        }
    }

    fn list(&mut self, queue: u8) -> &mut List {
        &mut self.lists[usize::from(queue)]
    }

    fn relink(&mut self, idx: usize, to: u8) {
        let from = self.arena.get(idx).queue;
        self.lists[usize::from(from)].unlink(&mut self.arena, idx);
        self.arena.get_mut(idx).queue = to;
        self.lists[usize::from(to)].push_front(&mut self.arena, idx);
    }

    fn drop_node(&mut self, idx: usize) -> K {
        let queue = self.arena.get(idx).queue;
        self.lists[usize::from(queue)].unlink(&mut self.arena, idx);
        self.arena.release(idx);
        let key = self.arena.get(idx).key.clone();
        self.map.remove(&key);
        key
    }

    /// Demotes one cached object to its ghost list and returns its key.
    fn replace(&mut self, hit_in_b2: bool) -> Option<K> {
        let t1 = self.lists[usize::from(T1)];
        let t2 = self.lists[usize::from(T2)];
        let from_t1 = !t1.is_empty()
            && (t1.bytes() > self.target
                || (hit_in_b2 && t1.bytes() == self.target)
                || t2.is_empty());
        let (from, to) = if from_t1 { (T1, B1) } else { (T2, B2) };
        let idx = self.list(from).back()?;
        self.relink(idx, to);
        Some(self.arena.get(idx).key.clone())
    }

    fn trim_ghosts(&mut self) {
        let bytes = |s: &Self, q: u8| s.lists[usize::from(q)].bytes();
        while bytes(self, T1) + bytes(self, B1) > self.capacity {
            let Some(idx) = self.list(B1).back() else {
                break;
            };
            self.drop_node(idx);
        }
        while bytes(self, T1) + bytes(self, T2) + bytes(self, B1) + bytes(self, B2)
            > self.capacity.saturating_mul(2)
        {
            let Some(idx) = self.list(B2).back().or_else(|| self.list(B1).back()) else {
                break;
            };
            self.drop_node(idx);
        }
    }

    fn used_bytes(&self) -> u64 {
        self.lists[usize::from(T1)].bytes() + self.lists[usize::from(T2)].bytes()
    }
}

impl<K: Hash + Eq + Clone> EvictionPolicy<K> for Arc<K> {
    fn name(&self) -> &'static str {
        "arc"
    }

    fn access(&mut self, key: &K, size: u64) -> Access<K> {
        let mut ghost = None;
        if let Some(&idx) = self.map.get(key) {
            let node = self.arena.get(idx);
            match node.queue {
                T1 | T2 if node.size == size => {
                    self.relink(idx, T2);
                    return Access::hit();
                }
                B1 | B2 => ghost = Some(node.queue),
                _ => {}
            }
        }
        let mut access = Access::miss();
        if size > self.capacity {
            return access;
        }
        let len = |s: &Self, q: u8| s.lists[usize::from(q)].len() as u64;
        match ghost {
            Some(B1) => {
                let step = (len(self, B2) / len(self, B1).max(1)).max(1);
                self.target = self
                    .target
                    .saturating_add(step.saturating_mul(size))
                    .min(self.capacity);
            }
            Some(_) => {
                let step = (len(self, B1) / len(self, B2).max(1)).max(1);
                self.target = self.target.saturating_sub(step.saturating_mul(size));
            }
            None => {}
        }
        if let Some(&idx) = self.map.get(key) {
            self.drop_node(idx);
        }
        while self.used_bytes() + size > self.capacity {
            match self.replace(ghost == Some(B2)) {
                Some(victim) => access.evicted.push(victim),
                None => break,
            }
        }
        let queue = if ghost.is_some() { T2 } else { T1 };
        let idx = self.arena.alloc(key.clone(), size, queue);
        self.lists[usize::from(queue)].push_front(&mut self.arena, idx);
        self.map.insert(key.clone(), idx);
        self.trim_ghosts();
        access
    }

    fn remove(&mut self, key: &K) -> Option<u64> {
        let idx = *self.map.get(key)?;
        let node = self.arena.get(idx);
        let size = matches!(node.queue, T1 | T2).then_some(node.size);
        self.drop_node(idx);
        size
    }

    fn contains(&self, key: &K) -> bool {
        self.map
            .get(key)
            .is_some_and(|&idx| matches!(self.arena.get(idx).queue, T1 | T2))
    }

    fn used(&self) -> u64 {
        self.used_bytes()
    }

    fn capacity(&self) -> u64 {
        self.capacity
    }

    fn len(&self) -> usize {
        self.lists[usize::from(T1)].len() + self.lists[usize::from(T2)].len()
    }
}
