//! `ksx cache bench`: cold and warm read throughput of `CachedStore` over a real S3 endpoint, and how much of the
//! store's latency read-ahead hides on a sequential read (spec cache.md §8: goals ≥ 10× and ≥ 80 %).
//!
//! The command uploads one object of `--size` bytes under a unique prefix, reads it whole through a fresh
//! `CachedStore` (cold: every block from the store), then again (warm: every block from memory), and reports
//! MB/s (10⁶ bytes per second) for both and their ratio; each read copies every byte into one buffer, as a
//! reader's `read` would. For read-ahead it reads the object in blocks of `--readahead-block-size`, with
//! `--work-ms` of "processing" per block, through `ThrottledStore` adding `--latency-ms` to every GET: once with
//! read-ahead off and once on, each through a cold cache. A reader's stall is the time spent waiting for a block;
//! the hidden share is `1 − stall_with / stall_without`. Every object it wrote is deleted at the end.

#![allow(
    clippy::disallowed_methods,
    reason = "a benchmark measures wall time on purpose, and names its objects by it"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use futures::TryStreamExt as _;
use ksx_cache::s3::S3Config;
use ksx_cache::store::{CacheConfig, CachedStore};
use object_store::path::Path;
use object_store::throttle::{ThrottleConfig, ThrottledStore};
use object_store::{ObjectStore, ObjectStoreExt as _, PutPayload};
use serde::Serialize;

use crate::Outcome;
use crate::cli::{OutputArgs, OutputFormat};
use crate::output::{Table, print_structured};

/// Flags of `ksx cache bench`.
#[derive(Debug, Clone, Args)]
pub(crate) struct BenchArgs {
    /// The S3 endpoint, e.g. http://127.0.0.1:8014 (path-style requests; http allowed).
    #[arg(long)]
    pub(crate) endpoint: String,
    /// The bucket to write the test object to (it must exist).
    #[arg(long, default_value = "ksx-test")]
    pub(crate) bucket: String,
    /// The size of the test object in bytes.
    #[arg(long, default_value_t = 64 << 20)]
    pub(crate) size: u64,
    /// The cache's block size in bytes (a power of two, 64 KiB to 64 MiB).
    #[arg(long, default_value_t = 4 << 20)]
    pub(crate) block_size: u64,
    /// The block size of the read-ahead runs (smaller blocks: more of them, and less transfer time per GET).
    #[arg(long, default_value_t = 1 << 20)]
    pub(crate) readahead_block_size: u64,
    /// Latency added to every GET for the read-ahead figure, in milliseconds.
    #[arg(long, default_value_t = 20)]
    pub(crate) latency_ms: u64,
    /// The reader's work per block for the read-ahead figure, in milliseconds (at least the latency plus one
    /// block's transfer, or no read-ahead can hide it all).
    #[arg(long, default_value_t = 30)]
    pub(crate) work_ms: u64,
    /// The access key id (none: unsigned requests).
    #[arg(
        long,
        env = "AWS_ACCESS_KEY_ID",
        default_value = "",
        hide_env_values = true
    )]
    pub(crate) access_key: String,
    /// The secret access key.
    #[arg(
        long,
        env = "AWS_SECRET_ACCESS_KEY",
        default_value = "",
        hide_env_values = true
    )]
    pub(crate) secret_key: String,
    /// The signing region.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub(crate) region: String,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
}

/// The figures of one run (`-o json` prints this object).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BenchReport {
    /// The endpoint measured.
    pub(crate) endpoint: String,
    /// The bucket used.
    pub(crate) bucket: String,
    /// Object size in bytes.
    pub(crate) size_bytes: u64,
    /// Cache block size in bytes.
    pub(crate) block_size: u64,
    /// Seconds of the cold whole-object read.
    pub(crate) cold_seconds: f64,
    /// Seconds of the warm whole-object read.
    pub(crate) warm_seconds: f64,
    /// Cold throughput in MB/s (10⁶ bytes per second).
    pub(crate) cold_mbps: f64,
    /// Warm throughput in MB/s.
    pub(crate) warm_mbps: f64,
    /// `warm_mbps / cold_mbps` (goal ≥ 10).
    pub(crate) warm_cold_ratio: f64,
    /// Bytes the warm read took from the store (0 when every block was cached).
    pub(crate) warm_store_bytes: u64,
    /// The read-ahead figure.
    pub(crate) readahead: ReadaheadReport,
}

/// How much latency read-ahead hides on a sequential read.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReadaheadReport {
    /// Latency added to every GET, in milliseconds.
    pub(crate) latency_ms: u64,
    /// Work per block, in milliseconds.
    pub(crate) work_ms: u64,
    /// Block size of the read-ahead runs.
    pub(crate) block_size: u64,
    /// Blocks read.
    pub(crate) blocks: u64,
    /// Seconds the reader waited for blocks without read-ahead.
    pub(crate) stall_without_seconds: f64,
    /// Seconds the reader waited for blocks with read-ahead (`maxReadahead` 8).
    pub(crate) stall_with_seconds: f64,
    /// `1 − stall_with / stall_without` (goal ≥ 0.8).
    pub(crate) hidden_ratio: f64,
    /// Prefetches issued during the read-ahead run.
    pub(crate) prefetch_issued: u64,
}

#[allow(
    clippy::cast_precision_loss,
    reason = "byte counts far below 2^52 in a throughput figure"
)]
fn mbps(bytes: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        bytes as f64 / seconds / 1e6
    } else {
        0.0
    }
}

/// Runs `ksx cache bench`.
pub(crate) async fn run(args: &BenchArgs) -> anyhow::Result<Outcome> {
    let s3 = S3Config::new(&args.endpoint, &args.bucket)
        .with_keys(&args.access_key, &args.secret_key)
        .with_region(&args.region)
        .build()
        .with_context(|| format!("cannot build an S3 client for {}", args.endpoint))?;
    let s3: Arc<dyn ObjectStore> = Arc::new(s3);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let prefix = Path::from(format!("ksx-bench-{}-{nanos}", std::process::id()));
    let path = prefix.clone().join("object.bin");
    let size = usize::try_from(args.size).context("--size does not fit in memory")?;
    let data = test_bytes(size);
    s3.put(&path, PutPayload::from(data))
        .await
        .with_context(|| {
            format!(
                "cannot upload s3://{}/{path} to {}",
                args.bucket, args.endpoint
            )
        })?;
    let result = measure(args, &s3, &path).await;
    // Delete what was written whatever happened; a failed delete is reported after the figures' error, if any.
    let deleted = s3.delete(&path).await;
    let report = result?;
    deleted.with_context(|| format!("cannot delete s3://{}/{path}", args.bucket))?;
    match args.output.output {
        OutputFormat::Table => out!("{}", render(&report)),
        other => print_structured(other, &report)?,
    }
    Ok(Outcome::Success)
}

/// Bytes that differ from block to block (an LCG), so no layer can shortcut repeated content.
fn test_bytes(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            x.to_be_bytes()[0]
        })
        .collect()
}

fn cache_config(args: &BenchArgs, block_size: u64, max_readahead: u64) -> CacheConfig {
    CacheConfig {
        block_size,
        // Room for the whole object, so the warm read is all memory.
        memory_bytes: args.size.saturating_add(block_size).max(64 << 20),
        max_readahead,
        ..CacheConfig::default()
    }
}

/// Reads the whole object into one buffer (as a reader's `read` would: every byte is copied once, warm or cold).
async fn read_whole<S: ObjectStore>(
    store: &S,
    path: &Path,
    size: usize,
) -> anyhow::Result<(u64, f64)> {
    let mut buffer = Vec::with_capacity(size);
    let start = Instant::now();
    let mut stream = store.get(path).await?.into_stream();
    while let Some(chunk) = stream.try_next().await? {
        buffer.extend_from_slice(&chunk);
    }
    Ok((buffer.len() as u64, start.elapsed().as_secs_f64()))
}

async fn measure(
    args: &BenchArgs,
    s3: &Arc<dyn ObjectStore>,
    path: &Path,
) -> anyhow::Result<BenchReport> {
    let size = usize::try_from(args.size).context("--size does not fit in memory")?;
    let cache = CachedStore::new(Arc::clone(s3), cache_config(args, args.block_size, 0))
        .context("invalid cache configuration (--block-size?)")?;
    let (cold_bytes, cold_seconds) = read_whole(&cache, path, size).await.context("cold read")?;
    let before = cache.stats().bytes.store;
    let (warm_bytes, warm_seconds) = read_whole(&cache, path, size).await.context("warm read")?;
    let warm_store_bytes = cache.stats().bytes.store.saturating_sub(before);
    anyhow::ensure!(
        cold_bytes == args.size && warm_bytes == args.size,
        "read {cold_bytes} and {warm_bytes} bytes of a {}-byte object",
        args.size
    );
    let cold_mbps = mbps(cold_bytes, cold_seconds);
    let warm_mbps = mbps(warm_bytes, warm_seconds);
    let readahead = readahead(args, s3, path).await?;
    Ok(BenchReport {
        endpoint: args.endpoint.clone(),
        bucket: args.bucket.clone(),
        size_bytes: args.size,
        block_size: args.block_size,
        cold_seconds,
        warm_seconds,
        cold_mbps,
        warm_mbps,
        warm_cold_ratio: if cold_mbps > 0.0 {
            warm_mbps / cold_mbps
        } else {
            0.0
        },
        warm_store_bytes,
        readahead,
    })
}

/// Reads the object block by block with `work` after each block; returns the time spent waiting for blocks.
async fn sequential_stall<S: ObjectStore>(
    cache: &CachedStore<S>,
    path: &Path,
    size: u64,
    block: u64,
    work: Duration,
) -> anyhow::Result<f64> {
    let mut stall = 0.0;
    let mut offset = 0;
    while offset < size {
        let end = offset.saturating_add(block).min(size);
        let start = Instant::now();
        let bytes = cache
            .get_range(path, offset..end)
            .await
            .with_context(|| format!("sequential read at {offset}"))?;
        stall += start.elapsed().as_secs_f64();
        anyhow::ensure!(bytes.len() as u64 == end - offset, "short read at {offset}");
        tokio::time::sleep(work).await;
        offset = end;
    }
    Ok(stall)
}

async fn readahead(
    args: &BenchArgs,
    s3: &Arc<dyn ObjectStore>,
    path: &Path,
) -> anyhow::Result<ReadaheadReport> {
    let throttle = ThrottleConfig {
        wait_get_per_call: Duration::from_millis(args.latency_ms),
        ..ThrottleConfig::default()
    };
    let work = Duration::from_millis(args.work_ms);
    let without = CachedStore::new(
        ThrottledStore::new(Arc::clone(s3), throttle),
        cache_config(args, args.readahead_block_size, 0),
    )?;
    let stall_without =
        sequential_stall(&without, path, args.size, args.readahead_block_size, work)
            .await
            .context("sequential read without read-ahead")?;
    let with = CachedStore::new(
        ThrottledStore::new(Arc::clone(s3), throttle),
        cache_config(args, args.readahead_block_size, 8),
    )?;
    let stall_with = sequential_stall(&with, path, args.size, args.readahead_block_size, work)
        .await
        .context("sequential read with read-ahead")?;
    Ok(ReadaheadReport {
        latency_ms: args.latency_ms,
        work_ms: args.work_ms,
        block_size: args.readahead_block_size,
        blocks: args.size.div_ceil(args.readahead_block_size.max(1)),
        stall_without_seconds: stall_without,
        stall_with_seconds: stall_with,
        hidden_ratio: if stall_without > 0.0 {
            1.0 - stall_with / stall_without
        } else {
            0.0
        },
        prefetch_issued: with.stats().prefetch_issued,
    })
}

fn render(r: &BenchReport) -> String {
    let mut table = Table::new(["READ", "SECONDS", "MB/S"]);
    table.row([
        "cold".to_owned(),
        format!("{:.3}", r.cold_seconds),
        format!("{:.1}", r.cold_mbps),
    ]);
    table.row([
        "warm".to_owned(),
        format!("{:.3}", r.warm_seconds),
        format!("{:.1}", r.warm_mbps),
    ]);
    let ra = &r.readahead;
    format!(
        "{} bytes in blocks of {} at {} (bucket {})\n\n{}\nwarm/cold: {:.1}x (goal >= 10x)\n\
         read-ahead: stall {:.3}s without, {:.3}s with over {} blocks of {} ({} ms per GET, {} ms work per block): \
         {:.1}% hidden (goal >= 80%)\n",
        r.size_bytes,
        r.block_size,
        r.endpoint,
        r.bucket,
        table.render(),
        r.warm_cold_ratio,
        ra.stall_without_seconds,
        ra.stall_with_seconds,
        ra.blocks,
        ra.block_size,
        ra.latency_ms,
        ra.work_ms,
        ra.hidden_ratio * 100.0,
    )
}
