//! An index-based doubly linked list over a shared arena: the O(1) queue under every online policy.
//!
//! Several lists (S3-FIFO's small, main and ghost queues, W-TinyLFU's window and segments) share one arena, so an
//! entry moves between queues by relinking, never by copying. Indices are internal and always valid for linked
//! nodes; freed slots are reused.

/// The "no node" index.
pub(crate) const NIL: usize = usize::MAX;

/// One entry: the key, its size and the per-policy bits.
#[derive(Debug, Clone)]
pub(crate) struct Node<K> {
    pub(crate) key: K,
    pub(crate) size: u64,
    /// A small counter: CLOCK's and SIEVE's reference bit, S3-FIFO's frequency.
    pub(crate) freq: u8,
    /// Which queue of the policy holds the node.
    pub(crate) queue: u8,
    prev: usize,
    next: usize,
}

/// Storage for the nodes of every list of one policy.
#[derive(Debug, Clone)]
pub(crate) struct Arena<K> {
    nodes: Vec<Node<K>>,
    free: Vec<usize>,
}

impl<K> Default for Arena<K> {
    fn default() -> Self {
        Self {
            nodes: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<K> Arena<K> {
    /// Stores a new unlinked node and returns its index.
    pub(crate) fn alloc(&mut self, key: K, size: u64, queue: u8) -> usize {
        let node = Node {
            key,
            size,
            freq: 0,
            queue,
            prev: NIL,
            next: NIL,
        };
        if let Some(idx) = self.free.pop() {
            self.nodes[idx] = node;
            idx
        } else {
            self.nodes.push(node);
            self.nodes.len() - 1
        }
    }

    /// Returns an unlinked node's slot for reuse.
    pub(crate) fn release(&mut self, idx: usize) {
        self.free.push(idx);
    }

    pub(crate) fn get(&self, idx: usize) -> &Node<K> {
        &self.nodes[idx]
    }

    pub(crate) fn get_mut(&mut self, idx: usize) -> &mut Node<K> {
        &mut self.nodes[idx]
    }

    /// The neighbour toward the head (newer end), or `NIL`.
    pub(crate) fn prev(&self, idx: usize) -> usize {
        self.nodes[idx].prev
    }
}

/// One list: head is the newest (MRU) end, tail the oldest (LRU) end.
#[derive(Debug, Clone, Copy)]
pub(crate) struct List {
    head: usize,
    tail: usize,
    len: usize,
    bytes: u64,
}

impl Default for List {
    fn default() -> Self {
        Self {
            head: NIL,
            tail: NIL,
            len: 0,
            bytes: 0,
        }
    }
}

impl List {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The oldest node.
    pub(crate) fn back(&self) -> Option<usize> {
        (self.tail != NIL).then_some(self.tail)
    }

    /// Links an unlinked node at the head.
    pub(crate) fn push_front<K>(&mut self, arena: &mut Arena<K>, idx: usize) {
        let old_head = self.head;
        {
            let node = arena.get_mut(idx);
            node.prev = NIL;
            node.next = old_head;
        }
        if old_head == NIL {
            self.tail = idx;
        } else {
            arena.get_mut(old_head).prev = idx;
        }
        self.head = idx;
        self.len += 1;
        self.bytes += arena.get(idx).size;
    }

    /// Unlinks a node of this list.
    pub(crate) fn unlink<K>(&mut self, arena: &mut Arena<K>, idx: usize) {
        let (prev, next, size) = {
            let node = arena.get(idx);
            (node.prev, node.next, node.size)
        };
        if prev == NIL {
            self.head = next;
        } else {
            arena.get_mut(prev).next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            arena.get_mut(next).prev = prev;
        }
        let node = arena.get_mut(idx);
        node.prev = NIL;
        node.next = NIL;
        self.len -= 1;
        self.bytes -= size;
    }

    /// Moves a node of this list to the head.
    pub(crate) fn move_to_front<K>(&mut self, arena: &mut Arena<K>, idx: usize) {
        if self.head != idx {
            self.unlink(arena, idx);
            self.push_front(arena, idx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(list: &List, arena: &Arena<u32>) -> Vec<u32> {
        let mut out = Vec::new();
        let mut cur = list.back();
        while let Some(idx) = cur {
            out.push(arena.get(idx).key);
            let p = arena.prev(idx);
            cur = (p != NIL).then_some(p);
        }
        out
    }

    #[test]
    fn push_unlink_move_and_reuse() {
        let mut arena = Arena::default();
        let mut list = List::default();
        let a = arena.alloc(1, 10, 0);
        let b = arena.alloc(2, 20, 0);
        let c = arena.alloc(3, 30, 0);
        for i in [a, b, c] {
            list.push_front(&mut arena, i);
        }
        assert_eq!(keys(&list, &arena), [1, 2, 3]);
        assert_eq!(list.bytes(), 60);
        list.move_to_front(&mut arena, a);
        assert_eq!(keys(&list, &arena), [2, 3, 1]);
        list.unlink(&mut arena, c);
        arena.release(c);
        assert_eq!(keys(&list, &arena), [2, 1]);
        assert_eq!((list.len(), list.bytes()), (2, 30));
        let d = arena.alloc(4, 1, 0);
        assert_eq!(d, c, "freed slots are reused");
        list.unlink(&mut arena, b);
        list.unlink(&mut arena, a);
        assert!(list.is_empty());
        assert_eq!(list.back(), None);
    }
}
