//! The `cache-data` area: `ksx_cache::store::CachedStore` over a real S3 endpoint (the local s3s-fs of
//! `scripts/s3.sh` by default): cold versus warm whole-object throughput, and the share of a throttled store's
//! latency read-ahead hides on a sequential read (spec cache.md §8 goals: ≥ 10× and ≥ 80 %).
//!
//! Endpoint and keys come from `AWS_ENDPOINT` (default `http://127.0.0.1:8014`), `AWS_ACCESS_KEY_ID` and
//! `AWS_SECRET_ACCESS_KEY` (default `AKTEST` / `SKTEST`); the bucket is `ksx-test`. Objects go under a unique
//! prefix and are deleted at the end.
#![allow(
    clippy::disallowed_methods,
    reason = "a benchmark measures wall time on purpose; engines never do"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures::TryStreamExt as _;
use ksx_cache::s3::S3Config;
use ksx_cache::store::{CacheConfig, CachedStore};
use object_store::path::Path;
use object_store::throttle::{ThrottleConfig, ThrottledStore};
use object_store::{ObjectStore, ObjectStoreExt as _, PutPayload};

/// What one run measures.
#[derive(Debug, Clone)]
pub struct DataConfig {
    /// The S3 endpoint.
    pub endpoint: String,
    /// The bucket (must exist).
    pub bucket: String,
    /// Access key id and secret.
    pub keys: (String, String),
    /// Object size in bytes.
    pub size: u64,
    /// Cache block size in bytes.
    pub block_size: u64,
    /// Block size of the read-ahead runs.
    pub readahead_block_size: u64,
    /// Latency `ThrottledStore` adds to every GET in the read-ahead runs.
    pub latency: Duration,
    /// The reader's work per block in the read-ahead runs.
    pub work: Duration,
}

impl DataConfig {
    /// 64 MiB in 4 MiB blocks; read-ahead runs in 1 MiB blocks, 20 ms per GET and 30 ms of work per block (at
    /// least latency plus one block's transfer); endpoint and keys from the environment.
    pub fn from_env() -> Self {
        let env_or = |name: &str, default: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.to_owned())
        };
        Self {
            endpoint: env_or("AWS_ENDPOINT", "http://127.0.0.1:8014"),
            bucket: "ksx-test".to_owned(),
            keys: (
                env_or("AWS_ACCESS_KEY_ID", "AKTEST"),
                env_or("AWS_SECRET_ACCESS_KEY", "SKTEST"),
            ),
            size: 64 << 20,
            block_size: 4 << 20,
            readahead_block_size: 1 << 20,
            latency: Duration::from_millis(20),
            work: Duration::from_millis(30),
        }
    }
}

/// The figures of one run.
#[derive(Debug, Clone, Copy, Default)]
pub struct DataFigures {
    /// Cold whole-object read, MB/s (10⁶ bytes per second).
    pub cold_mb_per_sec: f64,
    /// Warm whole-object read, MB/s.
    pub warm_mb_per_sec: f64,
    /// Seconds the sequential reader waited for blocks without read-ahead.
    pub stall_without_secs: f64,
    /// The same with read-ahead (`maxReadahead` 8).
    pub stall_with_secs: f64,
}

impl DataFigures {
    /// `warm / cold` throughput.
    pub fn warm_cold_ratio(&self) -> f64 {
        if self.cold_mb_per_sec > 0.0 {
            self.warm_mb_per_sec / self.cold_mb_per_sec
        } else {
            0.0
        }
    }

    /// `1 − stall_with / stall_without`.
    pub fn readahead_hidden_ratio(&self) -> f64 {
        if self.stall_without_secs > 0.0 {
            1.0 - self.stall_with_secs / self.stall_without_secs
        } else {
            0.0
        }
    }
}

fn cache_config(config: &DataConfig, block_size: u64, max_readahead: u64) -> CacheConfig {
    CacheConfig {
        block_size,
        memory_bytes: config.size.saturating_add(block_size).max(64 << 20),
        max_readahead,
        ..CacheConfig::default()
    }
}

#[allow(clippy::cast_precision_loss, reason = "byte counts far below 2^52")]
async fn read_whole<S: ObjectStore>(store: &S, path: &Path, size: u64) -> anyhow::Result<f64> {
    // Every byte is copied once into the reader's buffer, warm or cold.
    let mut buffer = Vec::with_capacity(usize::try_from(size)?);
    let start = Instant::now();
    let mut stream = store.get(path).await?.into_stream();
    while let Some(chunk) = stream.try_next().await? {
        buffer.extend_from_slice(&chunk);
    }
    let secs = start.elapsed().as_secs_f64();
    let bytes = buffer.len() as u64;
    anyhow::ensure!(bytes == size, "read {bytes} of {size} bytes");
    Ok(bytes as f64 / secs.max(f64::MIN_POSITIVE) / 1e6)
}

async fn stall<S: ObjectStore>(
    cache: &CachedStore<S>,
    path: &Path,
    config: &DataConfig,
) -> anyhow::Result<f64> {
    let mut waited = 0.0;
    let mut offset = 0;
    while offset < config.size {
        let end = offset
            .saturating_add(config.readahead_block_size)
            .min(config.size);
        let start = Instant::now();
        let bytes = cache.get_range(path, offset..end).await?;
        waited += start.elapsed().as_secs_f64();
        anyhow::ensure!(bytes.len() as u64 == end - offset, "short read at {offset}");
        tokio::time::sleep(config.work).await;
        offset = end;
    }
    Ok(waited)
}

/// Uploads the object, measures, deletes it.
///
/// # Errors
/// No server at the endpoint, a missing bucket, a failed read.
pub async fn run(config: &DataConfig) -> anyhow::Result<DataFigures> {
    let s3 = S3Config::new(&config.endpoint, &config.bucket)
        .with_keys(&config.keys.0, &config.keys.1)
        .build()?;
    let s3: Arc<dyn ObjectStore> = Arc::new(s3);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let path = Path::from(format!(
        "ksx-bench-data-{}-{nanos}/object.bin",
        std::process::id()
    ));
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let data: Vec<u8> = (0..config.size)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            x.to_be_bytes()[0]
        })
        .collect();
    s3.put(&path, PutPayload::from(data))
        .await
        .with_context(|| format!("cannot upload to {} (run ./scripts/s3.sh)", config.endpoint))?;
    let result = measure(config, &s3, &path).await;
    let deleted = s3.delete(&path).await;
    let figures = result?;
    deleted.context("cannot delete the bench object")?;
    Ok(figures)
}

async fn measure(
    config: &DataConfig,
    s3: &Arc<dyn ObjectStore>,
    path: &Path,
) -> anyhow::Result<DataFigures> {
    let cache = CachedStore::new(Arc::clone(s3), cache_config(config, config.block_size, 0))?;
    let cold_mb_per_sec = read_whole(&cache, path, config.size).await?;
    let warm_mb_per_sec = read_whole(&cache, path, config.size).await?;
    let throttle = ThrottleConfig {
        wait_get_per_call: config.latency,
        ..ThrottleConfig::default()
    };
    let without = CachedStore::new(
        ThrottledStore::new(Arc::clone(s3), throttle),
        cache_config(config, config.readahead_block_size, 0),
    )?;
    let stall_without_secs = stall(&without, path, config).await?;
    let with = CachedStore::new(
        ThrottledStore::new(Arc::clone(s3), throttle),
        cache_config(config, config.readahead_block_size, 8),
    )?;
    let stall_with_secs = stall(&with, path, config).await?;
    Ok(DataFigures {
        cold_mb_per_sec,
        warm_mb_per_sec,
        stall_without_secs,
        stall_with_secs,
    })
}
