//! The demo's dataset-cache section: a training job's dataset (seeded shards in an object store) is read through
//! [`ksx_cache::store::CachedStore`], the read-through block cache. First a `DataLoad` prefetches it (planned over
//! the dataset's listing, run through the cache by [`ksx_cache::dataload::run_dataload`]) and the job's epochs then read it in a new shuffled order each time, all from the cache;
//! then the same epochs run without prefetch on a cache half the dataset's size, once per eviction policy, to show
//! what the policy choice costs when the dataset does not fit.
//!
//! Every figure comes from the cache's own counters; read-ahead is off so the counts do not depend on task timing.

use std::collections::BTreeSet;
use std::time::Duration;

use ksx_cache::dataload::{
    DataLoad, DataLoadStatus, Event, ListedObject, plan, run_dataload, transition,
};
use ksx_cache::model::Dataset;
use ksx_cache::store::{CacheConfig, CachedStore};
use ksx_core::{Clock as _, ManualClock};
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt as _, PutPayload};
use rand::{RngExt as _, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::report::{bars, esc, table};

/// The dataset: shards of 2 MiB, read in blocks of 1 MiB.
const SHARDS: usize = 48;
/// See [`SHARDS`].
const SHARD_BYTES: usize = 2 << 20;
/// See [`SHARDS`].
const BLOCK_BYTES: u64 = 1 << 20;
/// Epochs the training job runs.
const EPOCHS: usize = 3;
/// Policies compared on the undersized cache.
const POLICIES: [&str; 4] = ["lru", "fifo", "sieve", "s3fifo"];
/// Where the dataset lives, for the report.
const DATASET: &str = "s3://datasets/imagenet-mini";

/// One epoch of the prefetched run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct EpochLine {
    epoch: usize,
    /// Bytes served from the cache's memory tier.
    cache_bytes: u64,
    /// Bytes read from the object store.
    store_bytes: u64,
}

/// Three epochs on a cache half the dataset's size, without prefetch.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PolicyLine {
    policy: String,
    capacity_bytes: u64,
    /// Block hits over block requests, all epochs.
    hit_ratio: f64,
    store_bytes: u64,
}

/// What the section measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CacheTrace {
    dataset: String,
    shards: usize,
    dataset_bytes: u64,
    block_bytes: u64,
    /// Bytes the prefetch read from the store.
    prefetch_store_bytes: u64,
    /// The DataLoad's phase and duration when it ended (`Complete`, simulated time).
    data_load_phase: String,
    /// See [`CacheTrace::data_load_phase`].
    data_load_duration: String,
    /// Fluid's worker summary after the prefetch (`cached`, `cachedPercentage`…).
    cached: String,
    /// See [`CacheTrace::cached`].
    cached_percentage: String,
    epochs: Vec<EpochLine>,
    policies: Vec<PolicyLine>,
}

/// Builds the dataset from the seed, prefetches it and runs the epochs, then compares policies.
pub(super) async fn run(seed: u64, clock: &ManualClock) -> anyhow::Result<CacheTrace> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xCAC4E);
    let source = InMemory::new();
    let paths: Vec<Path> = (0..SHARDS)
        .map(|i| Path::from(format!("imagenet-mini/train-{i:03}.tar")))
        .collect();
    for path in &paths {
        let data: Vec<u8> = (0..SHARD_BYTES).map(|_| rng.random::<u8>()).collect();
        source.put(path, PutPayload::from(data)).await?;
    }
    let dataset_bytes = (SHARDS * SHARD_BYTES) as u64;
    let orders: Vec<Vec<usize>> = (0..EPOCHS).map(|_| shuffled(&mut rng)).collect();

    // Prefetched: the cache holds the whole dataset with room to spare.
    let cache = CachedStore::new(
        source.clone(),
        config(dataset_bytes + dataset_bytes / 2, "s3fifo"),
    )?;
    let (load_phase, load_duration) = prefetch(&cache, &paths, clock).await?;
    let after_prefetch = cache.stats();
    let summary = cache.worker_summary(Some(dataset_bytes));
    let mut epochs = Vec::new();
    let mut before = after_prefetch.clone();
    for (epoch, order) in orders.iter().enumerate() {
        for &i in order {
            read_whole(&cache, &paths[i]).await?;
        }
        let now = cache.stats();
        epochs.push(EpochLine {
            epoch: epoch + 1,
            cache_bytes: (now.bytes.memory + now.bytes.disk)
                - (before.bytes.memory + before.bytes.disk),
            store_bytes: now.bytes.store - before.bytes.store,
        });
        before = now;
    }

    // Undersized: half the dataset, no prefetch, each policy on the same epochs.
    let mut policies = Vec::new();
    for policy in POLICIES {
        let capacity = dataset_bytes / 2;
        let cache = CachedStore::new(source.clone(), config(capacity, policy))?;
        for order in &orders {
            for &i in order {
                read_whole(&cache, &paths[i]).await?;
            }
        }
        let s = cache.stats();
        let (hits, misses) = s
            .tiers
            .iter()
            .find(|t| t.tier == "memory")
            .map_or((0, 0), |t| (t.hits, t.misses));
        policies.push(PolicyLine {
            policy: policy.to_owned(),
            capacity_bytes: capacity,
            hit_ratio: ratio(hits, hits + misses),
            store_bytes: s.bytes.store,
        });
    }

    Ok(CacheTrace {
        dataset: DATASET.to_owned(),
        shards: SHARDS,
        dataset_bytes,
        block_bytes: BLOCK_BYTES,
        prefetch_store_bytes: after_prefetch.bytes.store,
        data_load_phase: load_phase,
        data_load_duration: load_duration,
        cached: summary.cached,
        cached_percentage: summary.cached_percentage,
        epochs,
        policies,
    })
}

/// Prefetches the whole dataset with a `DataLoad` (spec `cache.md` §2): validated, planned over the listing in
/// cache blocks, admitted and started, then run through the cache; the simulated clock moves one second per block.
async fn prefetch(
    cache: &CachedStore<InMemory>,
    paths: &[Path],
    clock: &ManualClock,
) -> anyhow::Result<(String, String)> {
    let dataset: Dataset = serde_json::from_value(serde_json::json!({
        "apiVersion": "cache.ksx.io/v1alpha1",
        "kind": "Dataset",
        "metadata": {"name": "imagenet-mini", "namespace": "ml-training"},
        "spec": {"mounts": [{"mountPoint": DATASET, "name": "imagenet-mini"}]}
    }))?;
    let load: DataLoad = serde_json::from_value(serde_json::json!({
        "apiVersion": "cache.ksx.io/v1alpha1",
        "kind": "DataLoad",
        "metadata": {"name": "imagenet-mini-warmup", "namespace": "ml-training"},
        "spec": {"dataset": {"name": "imagenet-mini"}, "target": [{"path": "/imagenet-mini"}]}
    }))?;
    let listing: Vec<ListedObject> = paths
        .iter()
        .map(|p| ListedObject {
            path: p.to_string(),
            size: SHARD_BYTES as u64,
        })
        .collect();
    let plan = plan(&load, &dataset, &listing, BLOCK_BYTES, &BTreeSet::new())?;
    let admitted = transition(
        &load,
        &DataLoadStatus::default(),
        Event::Admitted,
        clock.now(),
    )?;
    let started = transition(&load, &admitted, Event::Started, clock.now())?;
    clock.advance(Duration::from_secs(plan.blocks.len() as u64));
    let (status, report) = run_dataload(cache, &load, &plan, &started, clock).await;
    anyhow::ensure!(
        report.failed_objects.is_empty() && report.loaded_bytes == plan.load_bytes,
        "the demo DataLoad failed: {:?}",
        report.failed_objects
    );
    Ok((format!("{:?}", status.phase), status.duration))
}

fn config(memory_bytes: u64, policy: &str) -> CacheConfig {
    CacheConfig {
        block_size: BLOCK_BYTES,
        memory_bytes,
        memory_policy: policy.to_owned(),
        // Off so block counts do not depend on when background prefetches finish.
        max_readahead: 0,
        ..CacheConfig::default()
    }
}

async fn read_whole<S: ObjectStore>(cache: &CachedStore<S>, path: &Path) -> anyhow::Result<()> {
    let bytes = cache.get(path).await?.bytes().await?;
    anyhow::ensure!(
        bytes.len() == SHARD_BYTES,
        "{path}: read {} bytes through the cache, the shard has {SHARD_BYTES}",
        bytes.len()
    );
    Ok(())
}

/// A seeded Fisher–Yates shuffle of the shard indices.
fn shuffled(rng: &mut ChaCha8Rng) -> Vec<usize> {
    let mut order: Vec<usize> = (0..SHARDS).collect();
    for i in (1..order.len()).rev() {
        let j = rng.random_range(0..=i);
        order.swap(i, j);
    }
    order
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

fn mib(bytes: u64) -> String {
    format!("{} MiB", bytes >> 20)
}

/// The section's lines of the terminal summary.
pub(super) fn print_summary(t: &CacheTrace) {
    let store_after: u64 = t.epochs.iter().map(|e| e.store_bytes).sum();
    outln!(
        "cache {} ({} shards, {}): DataLoad {} in {}, read {} from the store, cached {} ({}); {} epochs then read {} from the store",
        t.dataset,
        t.shards,
        mib(t.dataset_bytes),
        t.data_load_phase,
        t.data_load_duration,
        mib(t.prefetch_store_bytes),
        t.cached,
        t.cached_percentage,
        t.epochs.len(),
        mib(store_after)
    );
    let policies: Vec<String> = t
        .policies
        .iter()
        .map(|p| format!("{} {:.0}%", p.policy, p.hit_ratio * 100.0))
        .collect();
    outln!(
        "cache at half the dataset, no prefetch, {} shuffled epochs: block hit ratio {}",
        t.epochs.len(),
        policies.join(", ")
    );
}

/// The section of the HTML report.
pub(super) fn section(t: &CacheTrace) -> String {
    let mut body = format!(
        "<p>Dataset <code>{}</code>: {} shards, {} in blocks of {}, read through <code>CachedStore</code>, the \
         read-through block cache that wraps any <code>object_store</code> store. A DataLoad prefetched it \
         ({} after {} simulated) and read {} from the store; the cache then held {} ({}). Each epoch reads the shards in a new shuffled \
         order.</p>",
        esc(&t.dataset),
        t.shards,
        mib(t.dataset_bytes),
        mib(t.block_bytes),
        esc(&t.data_load_phase),
        esc(&t.data_load_duration),
        mib(t.prefetch_store_bytes),
        esc(&t.cached),
        esc(&t.cached_percentage)
    );
    let rows: Vec<Vec<String>> = t
        .epochs
        .iter()
        .map(|e| vec![e.epoch.to_string(), mib(e.cache_bytes), mib(e.store_bytes)])
        .collect();
    body.push_str(&table(
        &["epoch", "from the cache", "from the store"],
        &rows,
    ));
    body.push_str(
        "<h3>Without prefetch, on a cache half the dataset's size: block hit ratio per eviction policy</h3>",
    );
    body.push_str(&bars(
        &t.policies
            .iter()
            .map(|p| {
                (
                    p.policy.clone(),
                    p.hit_ratio,
                    format!(
                        "{:.0}% ({} from the store)",
                        p.hit_ratio * 100.0,
                        mib(p.store_bytes)
                    ),
                )
            })
            .collect::<Vec<_>>(),
    ));
    body
}
