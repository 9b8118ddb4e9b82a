//! `CachedStore` over real S3 servers (s3s-fs, and moto for revalidation): ranged reads equal the source bytes,
//! warm reads come from memory, rewrites give a new ETag and a miss, `If-None-Match` answers `NotModified`.
#![cfg(feature = "s3")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cast_possible_truncation
)]

#[path = "support/s3env.rs"]
mod s3env;

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt as _;
use ksx_cache::store::{CacheConfig, CachedStore};
use ksx_core::clock::ManualClock;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt as _, PutPayload};
use s3env::{cleanup, moto_store, pattern, s3s_store, sha256, unique_prefix};

const BLOCK: u64 = 256 * 1024;
/// Four whole blocks and a partial fifth.
const SIZE: usize = 4 * 256 * 1024 + 12_345;

fn config() -> CacheConfig {
    CacheConfig {
        block_size: BLOCK,
        max_readahead: 0,
        ..CacheConfig::default()
    }
}

async fn read_opts<S: ObjectStore>(store: &S, path: &Path, options: GetOptions) -> Vec<u8> {
    let result = store.get_opts(path, options).await.expect("get_opts");
    let chunks: Vec<bytes::Bytes> = result.into_stream().try_collect().await.expect("body");
    chunks.concat()
}

fn slice(source: &[u8], range: Range<u64>) -> &[u8] {
    &source[range.start as usize..range.end as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_through_the_cache_equal_the_source_and_warm_reads_hit_memory() {
    let s3 = Arc::new(s3s_store());
    let prefix = unique_prefix("data-path");
    let path = prefix.clone().join("object.bin");
    let source = pattern(SIZE, 1);
    let cache = CachedStore::new(Arc::clone(&s3), config()).expect("cache");
    cache
        .put(&path, PutPayload::from(source.clone()))
        .await
        .expect("put through the cache");

    // Cold: the whole object, from the store.
    let whole = read_opts(&cache, &path, GetOptions::default()).await;
    assert_eq!(sha256(&whole), sha256(&source), "cold whole-object read");
    let cold = cache.stats();
    assert_eq!(
        cold.bytes.store, SIZE as u64,
        "a cold read fetches every block once, whole: {cold:?}"
    );
    assert_eq!(cold.bytes.memory, 0, "nothing was cached before: {cold:?}");

    // Warm: the same bytes again, none from the store.
    let again = read_opts(&cache, &path, GetOptions::default()).await;
    assert_eq!(sha256(&again), sha256(&source), "warm whole-object read");
    let warm = cache.stats();
    assert_eq!(
        warm.bytes.store, cold.bytes.store,
        "a warm read fetches nothing: {warm:?}"
    );
    assert_eq!(
        warm.bytes.memory, SIZE as u64,
        "a warm read is served from memory: {warm:?}"
    );

    // Ranges across block edges, a suffix and an offset, all from memory and equal to the source.
    let size = SIZE as u64;
    for range in [
        0..1,
        100..300_000,
        BLOCK - 1..BLOCK + 1,
        3 * BLOCK..size,
        size - 1..size,
    ] {
        let got = cache
            .get_range(&path, range.clone())
            .await
            .expect("get_range");
        assert_eq!(
            sha256(&got),
            sha256(slice(&source, range.clone())),
            "range {range:?}"
        );
    }
    let ranges = [5..10, 2 * BLOCK - 7..2 * BLOCK + 70_000, size - 5000..size];
    let parts = cache.get_ranges(&path, &ranges).await.expect("get_ranges");
    for (range, got) in ranges.iter().zip(&parts) {
        assert_eq!(
            sha256(got),
            sha256(slice(&source, range.clone())),
            "get_ranges {range:?}"
        );
    }
    let suffix = read_opts(
        &cache,
        &path,
        GetOptions {
            range: Some(GetRange::Suffix(5000)),
            ..GetOptions::default()
        },
    )
    .await;
    assert_eq!(
        sha256(&suffix),
        sha256(slice(&source, size - 5000..size)),
        "suffix range"
    );
    let offset = read_opts(
        &cache,
        &path,
        GetOptions {
            range: Some(GetRange::Offset(BLOCK + 3)),
            ..GetOptions::default()
        },
    )
    .await;
    assert_eq!(
        sha256(&offset),
        sha256(slice(&source, BLOCK + 3..size)),
        "offset range"
    );
    assert_eq!(
        cache.stats().bytes.store,
        cold.bytes.store,
        "ranges after a full read are all warm"
    );

    // The same ranges straight from the server agree, so the comparison above is with what S3 holds.
    let direct = s3
        .get_range(&path, 100..300_000)
        .await
        .expect("direct range");
    assert_eq!(
        sha256(&direct),
        sha256(slice(&source, 100..300_000)),
        "direct range"
    );

    cleanup(s3.as_ref(), &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rewrite_gives_a_new_etag_and_a_miss() {
    let s3 = Arc::new(s3s_store());
    let prefix = unique_prefix("rewrite");
    let path = prefix.clone().join("object.bin");
    let v1 = pattern(SIZE, 2);
    let v2 = pattern(SIZE, 3);
    let clock = Arc::new(ManualClock::at_unix_secs(1_800_000_000));
    let cache = CachedStore::with_clock(Arc::clone(&s3), config(), clock.clone()).expect("cache");

    s3.put(&path, PutPayload::from(v1.clone()))
        .await
        .expect("put v1");
    let etag1 = s3.head(&path).await.expect("head v1").e_tag;
    assert_eq!(
        sha256(
            &cache
                .get(&path)
                .await
                .expect("get v1")
                .bytes()
                .await
                .expect("v1")
        ),
        sha256(&v1)
    );
    let after_v1 = cache.stats().bytes.store;

    // Another writer replaces the object behind the cache's back (same size, new content).
    s3.put(&path, PutPayload::from(v2.clone()))
        .await
        .expect("put v2");
    let etag2 = s3.head(&path).await.expect("head v2").e_tag;
    assert!(etag1.is_some() && etag2.is_some(), "s3s-fs returns ETags");
    assert_ne!(etag1, etag2, "different content, different ETag (MD5)");

    // Once the metadata is older than its TTL (60 s), the next read sees the new ETag and misses every block.
    clock.advance(Duration::from_secs(61));
    let got = cache
        .get(&path)
        .await
        .expect("get v2")
        .bytes()
        .await
        .expect("v2");
    assert_eq!(
        sha256(&got),
        sha256(&v2),
        "after the TTL the new version is read"
    );
    assert_eq!(
        cache.stats().bytes.store,
        after_v1 + SIZE as u64,
        "every block of v2 is a miss"
    );

    // A rewrite through the cache invalidates at once, without waiting for the TTL.
    cache
        .put(&path, PutPayload::from(v1.clone()))
        .await
        .expect("put v1 again through the cache");
    let got = cache
        .get(&path)
        .await
        .expect("get v1 again")
        .bytes()
        .await
        .expect("v1 again");
    assert_eq!(
        sha256(&got),
        sha256(&v1),
        "a write through the cache is seen by the next read"
    );
    assert_eq!(
        cache.stats().bytes.store,
        after_v1 + 2 * SIZE as u64,
        "and is a miss"
    );

    cleanup(s3.as_ref(), &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_revalidation_answers_not_modified_for_the_current_etag() {
    let s3 = Arc::new(moto_store());
    let prefix = unique_prefix("revalidate");
    let path = prefix.clone().join("object.bin");
    let v1 = pattern(100_000, 4);
    let v2 = pattern(100_000, 5);
    s3.put(&path, PutPayload::from(v1.clone()))
        .await
        .expect("put v1 on moto");
    let etag1 = s3
        .head(&path)
        .await
        .expect("head")
        .e_tag
        .expect("moto returns an ETag");

    // moto itself answers a GET with If-None-Match: <current etag> with 304.
    let current = GetOptions {
        if_none_match: Some(etag1.clone()),
        ..GetOptions::default()
    };
    let direct = s3.get_opts(&path, current.clone()).await;
    assert!(
        matches!(direct, Err(object_store::Error::NotModified { .. })),
        "moto: 304 for the current ETag, got {:?}",
        direct.map(|r| r.meta)
    );

    // Through the cache: the same answer, warm or cold.
    let cache = CachedStore::new(Arc::clone(&s3), config()).expect("cache");
    let cold = cache.get_opts(&path, current.clone()).await;
    assert!(
        matches!(cold, Err(object_store::Error::NotModified { .. })),
        "cache, cold: {:?}",
        cold.map(|r| r.meta)
    );
    let got = read_opts(&cache, &path, GetOptions::default()).await;
    assert_eq!(sha256(&got), sha256(&v1));
    let warm = cache.get_opts(&path, current.clone()).await;
    assert!(
        matches!(warm, Err(object_store::Error::NotModified { .. })),
        "cache, warm: {:?}",
        warm.map(|r| r.meta)
    );

    // After a rewrite the old ETag no longer matches: the new bytes come back, from the server and the cache.
    cache
        .put(&path, PutPayload::from(v2.clone()))
        .await
        .expect("put v2 through the cache");
    let direct = read_opts(s3.as_ref(), &path, current.clone()).await;
    assert_eq!(
        sha256(&direct),
        sha256(&v2),
        "moto: 200 with v2 for a stale ETag"
    );
    let through = read_opts(&cache, &path, current).await;
    assert_eq!(sha256(&through), sha256(&v2), "cache: v2 for a stale ETag");

    cleanup(s3.as_ref(), &prefix).await;
}
