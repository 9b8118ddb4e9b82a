//! Sequential read-ahead (spec §4.4): per (path, reader), block `i` right after `i - 1` doubles a window from 1 to
//! `maxReadahead` blocks, loaded in the background through single-flight, at most `prefetchConcurrency` at once.

use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};

use object_store::ObjectStore;
use object_store::path::Path;

use super::{Core, MetaEntry};

impl<S: ObjectStore> Core<S> {
    /// Read-ahead bookkeeping: block `index` right after `index - 1` doubles the window (1 → max) and loads the
    /// next `window` blocks in the background; a jump resets it.
    pub(super) fn note_read(
        self: &Arc<Self>,
        path: &Path,
        m: &Arc<MetaEntry>,
        index: u64,
        epoch: u64,
        reader: u64,
    ) {
        let max = self.config.max_readahead;
        if max == 0 {
            return;
        }
        let window = {
            let mut ra = self
                .readahead
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if ra.len() > 65_536 {
                ra.clear();
            }
            let st = ra
                .entry((path.as_ref().to_owned(), reader))
                .or_insert((u64::MAX, 0));
            let (last, window) = *st;
            if last == index {
                return;
            }
            let next = if index > 0 && last == index - 1 {
                (window * 2).clamp(1, max)
            } else {
                0
            };
            *st = (index, next);
            next
        };
        let blocks = m.meta.size.div_ceil(self.config.block_size);
        let last = index.saturating_add(window).min(blocks.saturating_sub(1));
        for j in index + 1..=last {
            let key = self.key(path, m, j);
            if self.memory.as_ref().is_some_and(|mem| mem.contains(&key))
                || self.flights.contains(&key)
                || self
                    .disks
                    .iter()
                    .any(|t| t.dirs.iter().any(|d| d.contains(&key)))
            {
                continue;
            }
            {
                let mut pre = self
                    .prefetched
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                if pre.len() > 65_536 {
                    pre.clear();
                }
                if !pre.insert(key.clone()) {
                    continue;
                }
            }
            self.stats.prefetch_issued.fetch_add(1, Ordering::Relaxed);
            let core = Arc::clone(self);
            let (path, m) = (path.clone(), Arc::clone(m));
            let permits = Arc::clone(&self.prefetch_permits);
            tokio::spawn(async move {
                let Ok(_permit) = permits.acquire_owned().await else {
                    return;
                };
                if core.block(&path, &m, j, epoch, false).await.is_err() {
                    core.prefetched
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .remove(&key);
                }
            });
        }
    }
}
