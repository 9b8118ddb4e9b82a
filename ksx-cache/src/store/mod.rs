//! The data path (spec §4): [`CachedStore`], a read-through block cache that wraps any
//! [`object_store::ObjectStore`] and is one.
//!
//! - **Blocks**: objects are cut into blocks of [`CacheConfig::block_size`] (default 4 MiB); block `i` covers
//!   `[i·bs, min((i+1)·bs, size))`; store reads are whole blocks sent with `If-Match: <etag>`. A block's key is
//!   (store id, path, identity, block size, index), the identity being the ETag, else the version, else
//!   (size, last modified) — see [`BlockKey`].
//! - **Metadata**: HEAD results live in a `moka` cache for `metadataTtl` (60 s, or for ever when immutable),
//!   also checked against the [`ksx_core::clock::Clock`] so tests can expire them. `Precondition` from a block
//!   read means the object changed: its metadata and blocks go and the read retries once, before it has
//!   returned any byte (if the object changed yet again, that read passes through to the store uncached);
//!   once bytes have been returned it fails rather than mix versions.
//! - **Tiers**: memory (a byte budget), then disk tiers of directories with quotas (`disk` module: block files
//!   with a CRC-32C per 32 KiB checked on every read, `*.tmp` + rename, a `LOCK` per directory, an index rebuilt
//!   by scanning). Each tier keeps its blocks with one [`crate::EvictionPolicy`] from [`crate::policy`], the
//!   engines `ksx cache simulate` runs.
//! - **Single-flight**: concurrent misses on a block share one store read run as its own task; its error reaches
//!   every waiter and nothing is cached. **Read-ahead**: per (path, [`ReaderId`]), sequential block reads double
//!   a window up to `maxReadahead` blocks, loaded in the background at most `prefetchConcurrency` at once.
//! - **Writes** (`put_*`, `copy_opts`, `rename_opts`, `delete_stream`) forward, then invalidate the paths they
//!   touch; a per-path generation bumped before the write keeps an older read from caching stale blocks.
//! - **Pass-through**: a read never fails because of the cache: a directory that cannot be used (not writable,
//!   `ENOTDIR`, I/O errors, full, locked by another process) turns its tier off, visible as
//!   `ksx_cache_tier_degraded`. Store errors reach the caller.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime").block_on(async {
//! use object_store::memory::InMemory;
//! use object_store::path::Path;
//! use object_store::{ObjectStoreExt, PutPayload};
//! use ksx_cache::store::{CacheConfig, CachedStore};
//!
//! let store = CachedStore::new(InMemory::new(), CacheConfig::default())?;
//! let path = Path::from("data/a.bin");
//! store.put(&path, PutPayload::from_static(b"hello, blocks")).await?;
//! let first = store.get_range(&path, 7..13).await?;
//! let again = store.get_range(&path, 0..5).await?;
//! assert_eq!((&first[..], &again[..]), (&b"blocks"[..], &b"hello"[..]));
//! let stats = store.stats();
//! assert_eq!((stats.requests.store, stats.requests.memory), (1, 1));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).expect("doctest");
//! ```

mod config;
mod disk;
mod flight;
mod forward;
mod key;
mod memory;
mod readahead;
mod stats;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::ops::Range;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use futures::future::FutureExt;
use futures::stream::{self, BoxStream, StreamExt};
use jiff::Timestamp;
use ksx_core::clock::{Clock, SystemClock};
use object_store::path::Path;
use object_store::{
    Attributes, Error, GetOptions, GetRange, GetResult, GetResultPayload, ObjectMeta, ObjectStore,
    Result,
};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

pub use config::{
    CacheConfig, DEFAULT_BLOCK_SIZE, DiskDir, DiskTierConfig, DiskWriteMode, MAX_BLOCK_SIZE,
    MIN_BLOCK_SIZE, MetadataTtl,
};
pub use key::{BlockKey, Identity};
pub use stats::{
    CacheStatsSnapshot, LATENCY_BUCKETS_MICROS, LatencySnapshot, SourceCounts, TierSnapshot,
    WorkerSummary, format_bytes,
};

use disk::ReadOutcome;
use flight::{Flights, Joined, clone_error};
use forward::checked_body;
use key::{block_range, blocks_of};
use memory::MemoryTier;
use stats::{CacheStats, Source, TierStats};

/// Tells readers of one path apart for read-ahead: put it in [`GetOptions::extensions`]. Reads without it share
/// reader 0 of their path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ReaderId(pub u64);

/// A read-through block cache over `S`, itself an [`ObjectStore`]. See the [module docs](self).
pub struct CachedStore<S> {
    core: Arc<Core<S>>,
}

struct DiskTier {
    dirs: Vec<Arc<disk::DiskDir>>,
}

/// What HEAD said about an object, and when.
#[derive(Debug)]
struct MetaEntry {
    meta: ObjectMeta,
    attributes: Attributes,
    identity: Arc<Identity>,
    at: Timestamp,
}

struct Core<S> {
    inner: S,
    config: CacheConfig,
    store_id: Arc<str>,
    memory: Option<MemoryTier>,
    disks: Vec<DiskTier>,
    problems: Vec<String>,
    meta: moka::future::Cache<String, Arc<MetaEntry>>,
    generations: Mutex<HashMap<String, u64>>,
    flights: Arc<Flights>,
    readahead: Mutex<HashMap<(String, u64), (u64, u64)>>,
    prefetched: Mutex<HashSet<BlockKey>>,
    prefetch_permits: Arc<Semaphore>,
    disk_queue: Arc<Semaphore>,
    stats: CacheStats,
    clock: Arc<dyn Clock>,
}

impl<S: ObjectStore> CachedStore<S> {
    /// Wraps `inner` with the wall clock.
    ///
    /// # Errors
    /// [`crate::Error::InvalidParameter`] for a configuration [`CacheConfig::validate`] rejects. A disk
    /// directory that cannot be used is no error: its tier starts degraded ([`Self::problems`] says why).
    pub fn new(inner: S, config: CacheConfig) -> crate::Result<Self> {
        Self::with_clock(inner, config, Arc::new(SystemClock))
    }

    /// Wraps `inner`, timing reads and metadata age with `clock`.
    ///
    /// # Errors
    /// As [`Self::new`].
    pub fn with_clock(inner: S, config: CacheConfig, clock: Arc<dyn Clock>) -> crate::Result<Self> {
        let policies = config.validate()?;
        let store_id: Arc<str> = match &config.store_id {
            Some(id) => id.as_str().into(),
            None => {
                let digest = Sha256::digest(inner.to_string().as_bytes());
                digest
                    .iter()
                    .take(8)
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
                    .into()
            }
        };
        let mut tier_stats = vec![TierStats::new("memory", config.memory_bytes)];
        let memory = match policies.first() {
            Some(kind) if config.memory_bytes > 0 => {
                MemoryTier::new(*kind, config.memory_bytes, config.block_size)
            }
            _ => None,
        };
        let mut disks = Vec::new();
        let mut problems = Vec::new();
        for (tier, kind) in config.disk_tiers.iter().zip(policies.iter().skip(1)) {
            let capacity = tier.dirs.iter().map(|d| d.quota_bytes).sum();
            let ts = TierStats::new(&tier.name, capacity);
            let mut dirs = Vec::new();
            for d in &tier.dirs {
                let (dir, err, _) = disk::DiskDir::open(
                    &d.path,
                    &store_id,
                    d.quota_bytes,
                    *kind,
                    config.block_size,
                    config.min_free_ratio,
                );
                if let Some(e) = err {
                    problems.push(format!(
                        "tier {} directory {}: {e}; running without it",
                        tier.name,
                        d.path.display()
                    ));
                    ts.degraded.store(true, Ordering::Relaxed);
                }
                ts.used.fetch_add(dir.used(), Ordering::Relaxed);
                dirs.push(Arc::new(dir));
            }
            tier_stats.push(ts);
            disks.push(DiskTier { dirs });
        }
        let mut meta = moka::future::Cache::builder().max_capacity(config.metadata_capacity);
        if let MetadataTtl::Ttl(ttl) = config.metadata_ttl {
            meta = meta.time_to_live(ttl);
        }
        let core = Core {
            inner,
            store_id,
            memory,
            disks,
            problems,
            meta: meta.build(),
            generations: Mutex::new(HashMap::new()),
            flights: Arc::new(Flights::default()),
            readahead: Mutex::new(HashMap::new()),
            prefetched: Mutex::new(HashSet::new()),
            prefetch_permits: Arc::new(Semaphore::new(config.prefetch_concurrency)),
            disk_queue: Arc::new(Semaphore::new(config.disk_write_queue.max(1))),
            stats: CacheStats::new(tier_stats),
            clock,
            config,
        };
        Ok(Self {
            core: Arc::new(core),
        })
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.core.inner
    }

    /// The configuration in force.
    pub fn config(&self) -> &CacheConfig {
        &self.core.config
    }

    /// The store id used in block keys and on disk.
    pub fn store_id(&self) -> &str {
        &self.core.store_id
    }

    /// Why tiers started degraded (one line per directory), empty when all is well.
    pub fn problems(&self) -> &[String] {
        &self.core.problems
    }

    /// A copy of the statistics now.
    pub fn stats(&self) -> CacheStatsSnapshot {
        self.core.refresh_gauges();
        self.core.stats.snapshot()
    }

    /// Fluid's worker summary; `ufs_total_bytes` is the dataset's size when known.
    pub fn worker_summary(&self, ufs_total_bytes: Option<u64>) -> WorkerSummary {
        self.stats().worker_summary(ufs_total_bytes)
    }

    /// The statistics as Prometheus text (`ksx_cache_*`).
    pub fn prometheus_text(&self) -> String {
        self.stats().to_prometheus()
    }

    /// Waits until the disk writes queued so far are done (tests and orderly shutdown use it).
    pub async fn flush(&self) {
        let n = u32::try_from(self.core.config.disk_write_queue.max(1)).unwrap_or(u32::MAX);
        if let Ok(all) = self.core.disk_queue.acquire_many(n).await {
            drop(all);
        }
    }

    /// Drops the cached metadata and blocks of `path` (what a write through this store does afterwards).
    pub async fn invalidate(&self, path: &Path) {
        self.core.invalidate(path).await;
    }
}

impl<S: fmt::Display> fmt::Display for CachedStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CachedStore({})", self.core.inner)
    }
}

impl<S: fmt::Debug> fmt::Debug for CachedStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedStore")
            .field("inner", &self.core.inner)
            .field("store_id", &self.core.store_id)
            .field("block_size", &self.core.config.block_size)
            .field("memory", &self.core.memory)
            .field("flights", &self.core.flights)
            .finish_non_exhaustive()
    }
}

fn generic(msg: String) -> Error {
    Error::Generic {
        store: "CachedStore",
        source: msg.into(),
    }
}

fn micros_between(from: Timestamp, to: Timestamp) -> u64 {
    u64::try_from(to.duration_since(from).as_micros()).unwrap_or(0)
}

impl<S: ObjectStore> Core<S> {
    fn generation(&self, path: &str) -> u64 {
        self.generations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    fn bump(&self, path: &str) {
        *self
            .generations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(path.to_owned())
            .or_default() += 1;
    }

    async fn invalidate(&self, path: &Path) {
        self.bump(path.as_ref());
        self.meta.invalidate(path.as_ref()).await;
        if let Some(m) = &self.memory {
            m.remove_path(path.as_ref());
        }
        for t in &self.disks {
            for d in &t.dirs {
                d.remove_path(path.as_ref());
            }
        }
        self.stats.invalidations.fetch_add(1, Ordering::Relaxed);
    }

    fn refresh_gauges(&self) {
        if let (Some(m), Some(t)) = (&self.memory, self.stats.tier(0)) {
            t.used.store(m.used(), Ordering::Relaxed);
        }
        for (i, tier) in self.disks.iter().enumerate() {
            if let Some(t) = self.stats.tier(i + 1) {
                t.used
                    .store(tier.dirs.iter().map(|d| d.used()).sum(), Ordering::Relaxed);
                if tier.dirs.iter().any(|d| d.is_degraded()) {
                    t.degraded.store(true, Ordering::Relaxed);
                }
            }
        }
    }

    fn is_fresh(&self, e: &MetaEntry) -> bool {
        match self.config.metadata_ttl {
            MetadataTtl::Immutable => true,
            MetadataTtl::Ttl(ttl) => {
                let age = self.clock.now().duration_since(e.at);
                age.as_micros() < i128::try_from(ttl.as_micros()).unwrap_or(i128::MAX)
            }
        }
    }

    /// The object's metadata: from the cache while fresh, else a HEAD; concurrent misses on one path share one
    /// HEAD (moka's `try_get_with`).
    async fn metadata(&self, path: &Path) -> Result<Arc<MetaEntry>> {
        if let Some(e) = self.meta.get(path.as_ref()).await {
            if self.is_fresh(&e) {
                self.stats.metadata_hits.fetch_add(1, Ordering::Relaxed);
                return Ok(e);
            }
            // Expired by the clock (moka's own TTL runs on the wall clock): load it again.
            self.meta.invalidate(path.as_ref()).await;
        }
        let epoch = self.generation(path.as_ref());
        let load = async {
            self.stats.metadata_misses.fetch_add(1, Ordering::Relaxed);
            let r = self
                .inner
                .get_opts(path, GetOptions::new().with_head(true))
                .await?;
            Ok::<_, Error>(Arc::new(MetaEntry {
                identity: Arc::new(Identity::of(&r.meta)),
                meta: r.meta,
                attributes: r.attributes,
                at: self.clock.now(),
            }))
        };
        let entry = self
            .meta
            .try_get_with(path.as_ref().to_owned(), load)
            .await
            .map_err(|e| clone_error(&e))?;
        // A write since this read began may have raced the load: drop what it cached. The read itself goes on
        // with this entry; `If-Match` (or the identity check) catches a change.
        if self.generation(path.as_ref()) != epoch {
            self.meta.invalidate(path.as_ref()).await;
        }
        Ok(entry)
    }

    fn key(&self, path: &Path, m: &MetaEntry, index: u64) -> BlockKey {
        BlockKey {
            store: Arc::clone(&self.store_id),
            path: path.as_ref().into(),
            identity: Arc::clone(&m.identity),
            block_size: self.config.block_size,
            index,
        }
    }

    /// Puts a block read from below into memory (if the path's generation still is `epoch`), then queues its
    /// disk write; `to_disk` is false for blocks that came from disk.
    fn insert(self: &Arc<Self>, key: &BlockKey, bytes: &Bytes, epoch: u64, to_disk: bool) {
        let evicted = {
            let g = self
                .generations
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if g.get(key.path.as_ref()).copied().unwrap_or(0) != epoch {
                return;
            }
            self.memory
                .as_ref()
                .map(|m| m.insert(key, bytes.clone()).evicted)
        };
        let write_now = match (&evicted, self.config.disk_write_mode) {
            (None, _) | (_, DiskWriteMode::OnInsert) => to_disk,
            (Some(_), DiskWriteMode::OnEviction) => false,
        };
        if let Some(evicted) = evicted {
            if let Some(t) = self.stats.tier(0) {
                t.evictions
                    .fetch_add(evicted.len() as u64, Ordering::Relaxed);
            }
            let mut pre = self
                .prefetched
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            for (k, _) in &evicted {
                if pre.remove(k) {
                    self.stats.prefetch_wasted.fetch_add(1, Ordering::Relaxed);
                }
            }
            drop(pre);
            if self.config.disk_write_mode == DiskWriteMode::OnEviction {
                for (k, b) in evicted {
                    let g = self.generation(k.path.as_ref());
                    self.write_disk(k, b, g);
                }
            }
        }
        if write_now {
            self.write_disk(key.clone(), bytes.clone(), epoch);
        }
    }

    /// Writes a block to the first disk tier in the background; dropped when the queue is full.
    fn write_disk(self: &Arc<Self>, key: BlockKey, bytes: Bytes, epoch: u64) {
        let Some(tier) = self.disks.first() else {
            return;
        };
        let hex = key.digest_hex();
        let Some(i) = disk::pick_dir(&tier.dirs, &hex) else {
            return;
        };
        let Some(dir) = tier.dirs.get(i).cloned() else {
            return;
        };
        let Ok(permit) = Arc::clone(&self.disk_queue).try_acquire_owned() else {
            self.stats
                .disk_writes_dropped
                .fetch_add(1, Ordering::Relaxed);
            return;
        };
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let core = Arc::clone(self);
        handle.spawn_blocking(move || {
            let written = dir.write(&key, &bytes, || core.generation(&key.path) == epoch);
            if let (Some(gone), Some(t)) = (written, core.stats.tier(1)) {
                core.stats.disk_writes.fetch_add(1, Ordering::Relaxed);
                t.evictions.fetch_add(gone.len() as u64, Ordering::Relaxed);
            }
            if dir.is_degraded()
                && let Some(t) = core.stats.tier(1)
            {
                t.degraded.store(true, Ordering::Relaxed);
            }
            // The store (and its LOCK) must be free to go before `flush` sees this write done.
            drop(dir);
            drop(core);
            drop(permit);
        });
    }

    /// Looks a block up in the disk tiers; a hit is promoted to memory.
    async fn from_disk(self: &Arc<Self>, key: &BlockKey, len: u64, epoch: u64) -> Option<Bytes> {
        for (t, tier) in self.disks.iter().enumerate() {
            let Some(dir) = tier
                .dirs
                .iter()
                .find(|d| !d.is_degraded() && d.contains(key))
                .cloned()
            else {
                if let Some(s) = self.stats.tier(t + 1) {
                    s.misses.fetch_add(1, Ordering::Relaxed);
                }
                continue;
            };
            let k = key.clone();
            let outcome = tokio::task::spawn_blocking(move || dir.read(&k, 0..len))
                .await
                .unwrap_or(ReadOutcome::Unavailable);
            let tier_stats = self.stats.tier(t + 1);
            match outcome {
                ReadOutcome::Hit(b) => {
                    if let Some(s) = tier_stats {
                        s.hits.fetch_add(1, Ordering::Relaxed);
                    }
                    self.insert(key, &b, epoch, false);
                    return Some(b);
                }
                ReadOutcome::Corrupt => {
                    self.stats.checksum_failures.fetch_add(1, Ordering::Relaxed);
                }
                ReadOutcome::Unavailable => {
                    if let Some(s) = tier_stats {
                        s.degraded.store(true, Ordering::Relaxed);
                    }
                }
                ReadOutcome::Miss => {}
            }
            if let Some(s) = tier_stats {
                s.misses.fetch_add(1, Ordering::Relaxed);
            }
        }
        None
    }

    /// Reads one whole block from the store (the body of a flight) and caches it.
    async fn fetch(
        self: Arc<Self>,
        path: Path,
        m: Arc<MetaEntry>,
        index: u64,
        epoch: u64,
    ) -> Result<Bytes> {
        let range = block_range(index, self.config.block_size, m.meta.size);
        let mut opts = GetOptions::new().with_range(Some(GetRange::Bounded(range.clone())));
        if let Identity::ETag(etag) = m.identity.as_ref() {
            opts = opts.with_if_match(Some(etag.clone()));
        }
        let result = async {
            let r = self.inner.get_opts(&path, opts).await?;
            if Identity::of(&r.meta) != *m.identity {
                return Err(Error::Precondition {
                    path: path.to_string(),
                    source: "the object changed since its metadata was read".into(),
                });
            }
            if r.range != range {
                return Err(generic(format!(
                    "store answered range {:?} for block {index} of {path} ({:?} asked)",
                    r.range, range
                )));
            }
            let bytes = r.bytes().await?;
            if bytes.len() as u64 != range.end - range.start {
                return Err(generic(format!(
                    "store returned {} bytes for block {index} of {path}, expected {}",
                    bytes.len(),
                    range.end - range.start
                )));
            }
            Ok(bytes)
        }
        .await;
        match result {
            Ok(bytes) => {
                let key = self.key(&path, &m, index);
                self.insert(&key, &bytes, epoch, true);
                Ok(bytes)
            }
            Err(e) => {
                self.stats.store_errors.fetch_add(1, Ordering::Relaxed);
                if matches!(e, Error::Precondition { .. } | Error::NotFound { .. }) {
                    self.invalidate(&path).await;
                }
                Err(e)
            }
        }
    }

    /// A block from memory, disk or the store (single-flight); `foreground` reads count in the stats.
    async fn block(
        self: &Arc<Self>,
        path: &Path,
        m: &Arc<MetaEntry>,
        index: u64,
        epoch: u64,
        foreground: bool,
    ) -> Result<(Bytes, Source)> {
        let key = self.key(path, m, index);
        if let Some(b) = self.memory.as_ref().and_then(|mem| mem.get(&key)) {
            if let Some(t) = self.stats.tier(0) {
                t.hits.fetch_add(1, Ordering::Relaxed);
            }
            return Ok((b, Source::Memory));
        }
        if let Some(t) = self.stats.tier(0)
            && foreground
        {
            t.misses.fetch_add(1, Ordering::Relaxed);
        }
        let len = {
            let r = block_range(index, self.config.block_size, m.meta.size);
            r.end - r.start
        };
        if let Some(b) = self.from_disk(&key, len, epoch).await {
            return Ok((b, Source::Disk));
        }
        let core = Arc::clone(self);
        let joined = self.flights.join_or_start(
            &key,
            || core.memory.as_ref().and_then(|mem| mem.get(&key)),
            |done| {
                let core = Arc::clone(self);
                let (path, m) = (path.clone(), Arc::clone(m));
                async move {
                    let r = core.fetch(path, m, index, epoch).await.map_err(Arc::new);
                    done();
                    r
                }
                .boxed()
            },
        );
        match joined {
            Joined::Cached(b) => Ok((b, Source::Memory)),
            Joined::Flight(f, joined) => {
                if joined && foreground {
                    self.stats
                        .single_flight_joins
                        .fetch_add(1, Ordering::Relaxed);
                }
                f.await
                    .map(|b| (b, Source::Store))
                    .map_err(|e| clone_error(&e))
            }
        }
    }

    /// A block for a caller: counted, timed, read-ahead noted.
    async fn read_block(
        self: &Arc<Self>,
        path: &Path,
        m: &Arc<MetaEntry>,
        index: u64,
        epoch: u64,
        reader: u64,
    ) -> Result<Bytes> {
        let t0 = self.clock.now();
        self.note_read(path, m, index, epoch, reader);
        let (b, source) = self.block(path, m, index, epoch, true).await?;
        let key = self.key(path, m, index);
        if self
            .prefetched
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&key)
        {
            self.stats.prefetch_used.fetch_add(1, Ordering::Relaxed);
        }
        self.stats
            .served(source, b.len() as u64, micros_between(t0, self.clock.now()));
        Ok(b)
    }

    /// `get_opts` without `head` or `version`: metadata, preconditions, blocks.
    async fn read(self: &Arc<Self>, path: &Path, options: GetOptions) -> Result<GetResult> {
        let reader = options.extensions.get::<ReaderId>().map_or(0, |r| r.0);
        let mut attempt = 0;
        loop {
            let epoch = self.generation(path.as_ref());
            let m = self.metadata(path).await?;
            options.check_preconditions(&m.meta)?;
            let size = m.meta.size;
            let range = match &options.range {
                Some(r) => r
                    .as_range(size)
                    .map_err(|e| generic(format!("{path}: {e}")))?,
                None => 0..size,
            };
            let blocks = blocks_of(&range, self.config.block_size);
            if blocks.is_empty() {
                return Ok(result(&m, range, stream::empty().boxed()));
            }
            // The first block is read before answering, so a changed object can still be retried whole.
            let first = match self.read_block(path, &m, blocks.start, epoch, reader).await {
                Ok(b) => b,
                Err(Error::Precondition { .. }) if attempt == 0 => {
                    attempt += 1;
                    self.stats
                        .precondition_retries
                        .fetch_add(1, Ordering::Relaxed);
                    self.invalidate(path).await;
                    continue;
                }
                Err(Error::Precondition { .. }) => {
                    // The object changed again under the retry (a writer racing the reader): read this one
                    // through, uncached. The store's answer is one consistent version, and the read does not
                    // fail because of the cache.
                    self.stats
                        .precondition_retries
                        .fetch_add(1, Ordering::Relaxed);
                    self.invalidate(path).await;
                    self.stats.served(Source::Store, 0, 0);
                    let r = self.inner.get_opts(path, options).await?;
                    return Ok(checked_body(r));
                }
                Err(e) => return Err(e),
            };
            let bs = self.config.block_size;
            let head = slice(&first, blocks.start, bs, &range);
            let rest = BlockStream {
                core: Arc::clone(self),
                path: path.clone(),
                meta: Arc::clone(&m),
                next: blocks.start + 1,
                end: blocks.end,
                range: range.clone(),
                epoch,
                reader,
            };
            let body = stream::once(async move { Ok(head) })
                .chain(stream::try_unfold(rest, BlockStream::step))
                .boxed();
            return Ok(result(&m, range, body));
        }
    }
}

/// The part of block `index` that `range` covers.
fn slice(block: &Bytes, index: u64, bs: u64, range: &Range<u64>) -> Bytes {
    let start = index * bs;
    let from = range.start.max(start) - start;
    let to = range.end.min(start + block.len() as u64) - start;
    let (from, to) = (
        usize::try_from(from).unwrap_or(usize::MAX),
        usize::try_from(to).unwrap_or(usize::MAX),
    );
    if from <= to && to <= block.len() {
        block.slice(from..to)
    } else {
        Bytes::new()
    }
}

fn result(m: &MetaEntry, range: Range<u64>, body: BoxStream<'static, Result<Bytes>>) -> GetResult {
    GetResult {
        payload: GetResultPayload::Stream(body),
        meta: m.meta.clone(),
        range,
        attributes: m.attributes.clone(),
        extensions: Default::default(),
    }
}

/// The blocks after the first, read lazily as the caller consumes the stream.
struct BlockStream<S> {
    core: Arc<Core<S>>,
    path: Path,
    meta: Arc<MetaEntry>,
    next: u64,
    end: u64,
    range: Range<u64>,
    epoch: u64,
    reader: u64,
}

impl<S: ObjectStore> BlockStream<S> {
    async fn step(mut self) -> Result<Option<(Bytes, Self)>> {
        if self.next >= self.end {
            return Ok(None);
        }
        let i = self.next;
        let b = self
            .core
            .read_block(&self.path, &self.meta, i, self.epoch, self.reader)
            .await?;
        let part = slice(&b, i, self.core.config.block_size, &self.range);
        self.next += 1;
        Ok(Some((part, self)))
    }
}
