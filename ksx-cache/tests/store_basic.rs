//! `CachedStore` over `InMemory`: object_store's conformance suite, block mapping, hits, invalidation, metadata
//! TTL, `If-Match` retries, single-flight, and a trace replay matching the simulator.
#![cfg(feature = "store")]
#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::string_slice,
    missing_docs
)]

#[allow(
    dead_code,
    unreachable_pub,
    reason = "each test file uses a part of the support module"
)]
mod support {
    pub mod faulty;
}

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ksx_cache::PolicyKind;
use ksx_cache::sim::simulate;
use ksx_cache::store::{CacheConfig, CachedStore, MetadataTtl};
use ksx_cache::trace::Trace;
use ksx_core::clock::ManualClock;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload};
use support::faulty::{Fault, FaultyStore};

const BS: u64 = 64 * 1024;

fn small_blocks() -> CacheConfig {
    CacheConfig {
        block_size: BS,
        memory_bytes: 64 * BS,
        max_readahead: 0,
        ..CacheConfig::default()
    }
}

fn data(len: usize, seed: u8) -> Bytes {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect::<Vec<u8>>()
        .into()
}

async fn put(store: &dyn ObjectStore, path: &Path, bytes: &Bytes) {
    store
        .put(path, PutPayload::from_bytes(bytes.clone()))
        .await
        .expect("put");
}

async fn conformance(store: &dyn ObjectStore) {
    use object_store::integration::*;
    put_get_delete_list(store).await;
    list_with_offset_exclusivity(store).await;
    get_opts(store).await;
    list_uses_directories_correctly(store).await;
    list_with_delimiter(store).await;
    rename_and_copy(store).await;
    copy_if_not_exists(store).await;
    stream_get(store).await;
    put_opts(store, true).await;
    put_get_attributes(store).await;
}

#[tokio::test]
async fn passes_object_store_conformance_suite() {
    let store = CachedStore::new(InMemory::new(), CacheConfig::default()).expect("config");
    conformance(&store).await;
    // Again with 64 KiB blocks, so multi-block objects and ranges across blocks are exercised.
    let store = CachedStore::new(InMemory::new(), small_blocks()).expect("config");
    conformance(&store).await;
}

#[tokio::test]
async fn ranges_map_to_whole_blocks_and_hit_memory() {
    // 3.5 blocks: blocks 0..=2 full, block 3 half.
    let src = data(3 * BS as usize + BS as usize / 2, 7);
    let inner = Arc::new(FaultyStore::new(InMemory::new(), []));
    let path = Path::from("a/obj");
    put(&inner.inner, &path, &src).await;
    let store = CachedStore::new(Arc::clone(&inner), small_blocks()).expect("config");

    // A range inside block 1 reads block 1 whole.
    let got = store
        .get_range(&path, BS + 10..BS + 20)
        .await
        .expect("range");
    assert_eq!(got, src.slice(BS as usize + 10..BS as usize + 20));
    assert_eq!(*inner.get_ranges.lock().unwrap(), vec![BS..2 * BS]);
    // A range across blocks 1..=3 reads only 2 and 3 from the store.
    let got = store
        .get_range(&path, BS + 5..src.len() as u64)
        .await
        .expect("range");
    assert_eq!(got, src.slice(BS as usize + 5..));
    assert_eq!(
        *inner.get_ranges.lock().unwrap(),
        vec![BS..2 * BS, 2 * BS..3 * BS, 3 * BS..src.len() as u64]
    );
    // Everything again: block 0 is the only store read.
    let all = store
        .get(&path)
        .await
        .expect("get")
        .bytes()
        .await
        .expect("body");
    assert_eq!(all, src);
    assert_eq!(inner.gets(), 4);
    assert_eq!(inner.heads(), 1, "metadata is cached");
    let s = store.stats();
    assert_eq!(s.requests.store, 4);
    // Memory: block 1 (2nd read), block 1..=3 (3rd read) → 1 + 3 hits.
    assert_eq!(s.requests.memory, 4);
    assert_eq!(s.tiers[0].hits, 4);
    assert_eq!(s.tiers[0].used_bytes, src.len() as u64);
    // Suffix and offset ranges follow object_store's rules.
    let opts = GetOptions::new().with_range(Some(GetRange::Suffix(10)));
    let r = store.get_opts(&path, opts).await.expect("suffix");
    assert_eq!(r.range, src.len() as u64 - 10..src.len() as u64);
    assert_eq!(r.bytes().await.expect("body"), src.slice(src.len() - 10..));
    assert!(
        store
            .get_opts(
                &path,
                GetOptions::new().with_range(Some(GetRange::Offset(src.len() as u64)))
            )
            .await
            .is_err()
    );
    let ranges = store
        .get_ranges(&path, &[0..3, BS * 3..BS * 3 + 2])
        .await
        .expect("ranges");
    assert_eq!(
        ranges,
        vec![
            src.slice(0..3),
            src.slice(BS as usize * 3..BS as usize * 3 + 2)
        ]
    );
    let text = store.prometheus_text();
    assert!(
        text.contains("ksx_cache_requests_total{source=\"store\"} 4\n"),
        "{text}"
    );
}

#[tokio::test]
async fn writes_through_the_store_invalidate() {
    let inner = Arc::new(FaultyStore::new(InMemory::new(), []));
    let store = CachedStore::new(Arc::clone(&inner), small_blocks()).expect("config");
    let (a, b) = (Path::from("a"), Path::from("b"));
    put(&store, &a, &data(100, 1)).await;
    assert_eq!(
        store.get(&a).await.unwrap().bytes().await.unwrap(),
        data(100, 1)
    );
    put(&store, &a, &data(100, 2)).await;
    assert_eq!(
        store.get(&a).await.unwrap().bytes().await.unwrap(),
        data(100, 2)
    );
    store.copy(&a, &b).await.expect("copy");
    assert_eq!(
        store.get(&b).await.unwrap().bytes().await.unwrap(),
        data(100, 2)
    );
    put(&store, &a, &data(100, 3)).await;
    store.rename(&a, &b).await.expect("rename");
    assert_eq!(
        store.get(&b).await.unwrap().bytes().await.unwrap(),
        data(100, 3)
    );
    assert!(matches!(
        store.head(&a).await,
        Err(object_store::Error::NotFound { .. })
    ));
    store.delete(&b).await.expect("delete");
    assert!(matches!(
        store.get(&b).await,
        Err(object_store::Error::NotFound { .. })
    ));
    assert_eq!(
        store.stats().tiers[0].used_bytes,
        0,
        "nothing of deleted objects stays"
    );
}

#[tokio::test]
async fn metadata_expires_by_the_clock_and_changes_miss() {
    let clock = ManualClock::at_unix_secs(1_700_000_000);
    let inner = Arc::new(FaultyStore::new(InMemory::new(), []));
    let path = Path::from("x");
    put(&inner.inner, &path, &data(10, 1)).await;
    let store =
        CachedStore::with_clock(Arc::clone(&inner), small_blocks(), Arc::new(clock.clone()))
            .expect("config");
    assert_eq!(
        store.get(&path).await.unwrap().bytes().await.unwrap(),
        data(10, 1)
    );
    // Another writer replaces the object behind the cache: within the TTL the old version is served.
    put(&inner.inner, &path, &data(10, 2)).await;
    clock.advance(Duration::from_secs(59));
    assert_eq!(
        store.get(&path).await.unwrap().bytes().await.unwrap(),
        data(10, 1)
    );
    assert_eq!(inner.heads(), 1);
    // After 60 s a HEAD sees the new ETag: a new key, a miss, the new bytes.
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        store.get(&path).await.unwrap().bytes().await.unwrap(),
        data(10, 2)
    );
    assert_eq!((inner.heads(), inner.gets()), (2, 2));

    // Immutable datasets keep metadata for ever.
    let immutable = CacheConfig {
        metadata_ttl: MetadataTtl::Immutable,
        ..small_blocks()
    };
    let store = CachedStore::with_clock(Arc::clone(&inner), immutable, Arc::new(clock.clone()))
        .expect("config");
    store.head(&path).await.expect("head");
    clock.advance(Duration::from_secs(86_400));
    store.head(&path).await.expect("head");
    assert_eq!(inner.heads(), 3);
}

#[tokio::test]
async fn precondition_on_a_block_read_retries_once_with_fresh_metadata() {
    let inner = Arc::new(FaultyStore::new(InMemory::new(), []));
    let path = Path::from("p");
    let old = data(2 * BS as usize, 1);
    put(&inner.inner, &path, &old).await;
    let store = CachedStore::new(Arc::clone(&inner), small_blocks()).expect("config");
    // Cache block 0 and the metadata.
    assert_eq!(
        store.get_range(&path, 0..10).await.unwrap(),
        old.slice(0..10)
    );
    // Replace the object behind the cache; block 1's read carries If-Match with the old ETag.
    let new = data(2 * BS as usize, 2);
    put(&inner.inner, &path, &new).await;
    let got = store.get_range(&path, BS..BS + 10).await.expect("retried");
    assert_eq!(got, new.slice(BS as usize..BS as usize + 10));
    assert_eq!(store.stats().precondition_retries, 1);
    // Block 0 of the old version is gone: the next read of it is the new version.
    assert_eq!(
        store.get_range(&path, 0..10).await.unwrap(),
        new.slice(0..10)
    );

    // Changed again under the retry (a racing writer): the read passes through to the store, uncached.
    inner.push(Fault::Precondition);
    inner.push(Fault::Precondition);
    store.invalidate(&path).await;
    let gets = inner.gets();
    let got = store.get_range(&path, 0..10).await.expect("passed through");
    assert_eq!(got, new.slice(0..10));
    assert_eq!(inner.gets(), gets + 3);
    assert_eq!(store.stats().precondition_retries, 3);
    assert_eq!(
        store.get_range(&path, 0..10).await.unwrap(),
        new.slice(0..10)
    );
    assert_eq!(
        inner.gets(),
        gets + 4,
        "the passed-through block was not cached"
    );
}

#[tokio::test(start_paused = true)]
async fn one_hundred_cold_readers_share_one_get() {
    let inner = Arc::new(FaultyStore::new(
        InMemory::new(),
        [Fault::Delayed(
            Duration::from_millis(100),
            Box::new(Fault::Pass),
        )],
    ));
    let path = Path::from("hot");
    let src = data(BS as usize, 9);
    put(&inner.inner, &path, &src).await;
    let store = Arc::new(CachedStore::new(Arc::clone(&inner), small_blocks()).expect("config"));
    // Truly cold: neither metadata nor blocks are cached.
    let readers: Vec<_> = (0..100)
        .map(|i| {
            let (store, path) = (Arc::clone(&store), path.clone());
            tokio::spawn(async move { store.get_range(&path, i..i + 100).await })
        })
        .collect();
    for (i, r) in readers.into_iter().enumerate() {
        let got = r.await.expect("task").expect("read");
        assert_eq!(got, src.slice(i..i + 100));
    }
    assert_eq!(inner.gets(), 1, "one store GET for 100 readers");
    assert_eq!(inner.heads(), 1, "and one HEAD");
    let s = store.stats();
    assert_eq!(s.single_flight_joins, 99);
    assert_eq!(s.requests.store, 100);
}

#[tokio::test(start_paused = true)]
async fn a_failed_flight_reaches_every_waiter_and_caches_nothing() {
    let inner = Arc::new(FaultyStore::new(
        InMemory::new(),
        [Fault::Delayed(
            Duration::from_millis(100),
            Box::new(Fault::ErrorAfter(10)),
        )],
    ));
    let path = Path::from("flaky");
    let src = data(BS as usize, 3);
    put(&inner.inner, &path, &src).await;
    let store = Arc::new(CachedStore::new(Arc::clone(&inner), small_blocks()).expect("config"));
    let readers: Vec<_> = (0..10)
        .map(|_| {
            let (store, path) = (Arc::clone(&store), path.clone());
            tokio::spawn(async move { store.get_range(&path, 0..50).await })
        })
        .collect();
    for r in readers {
        assert!(
            r.await.expect("task").is_err(),
            "every waiter sees the error"
        );
    }
    assert_eq!(inner.gets(), 1);
    assert_eq!(store.stats().tiers[0].used_bytes, 0);
    // The next request retries and succeeds.
    assert_eq!(
        store.get_range(&path, 0..50).await.unwrap(),
        src.slice(0..50)
    );
    assert_eq!(inner.gets(), 2);
}

#[tokio::test]
async fn a_trace_replayed_through_the_store_matches_the_simulator() {
    // One single-block object of one block (64 KiB) per key; capacity 5 objects.
    let mut text = String::new();
    let mut x: u64 = 42;
    for _ in 0..600 {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let k = ((x >> 33) % 1000) as f64 / 1000.0;
        // Skewed keys: rank ~ 1/u, capped at 20 distinct keys.
        let rank = ((1.0 / (k + 0.05)) as u64).min(19);
        text.push_str(&format!("k{rank} {BS}\n"));
    }
    let trace = Trace::parse("gen.trace", text.as_bytes()).expect("trace");
    for policy in ["lru", "fifo", "clock", "sieve", "s3fifo", "arc", "wtinylfu"] {
        let kind: PolicyKind = policy.parse().expect("policy");
        let sim = simulate(&trace, 5 * BS, &[kind]).expect("simulate");
        let inner = InMemory::new();
        for key in trace.keys() {
            put(&inner, &Path::from(key.as_str()), &data(BS as usize, 1)).await;
        }
        let config = CacheConfig {
            memory_bytes: 5 * BS,
            memory_policy: policy.into(),
            ..small_blocks()
        };
        let store = CachedStore::new(inner, config).expect("config");
        for r in trace.requests() {
            let key = &trace.keys()[r.key];
            store
                .get(&Path::from(key.as_str()))
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
        }
        let s = store.stats();
        assert_eq!(s.tiers[0].hits, sim.policies[0].hits, "{policy}");
        assert_eq!(s.requests.store, sim.policies[0].misses, "{policy}");
    }
}

#[tokio::test]
async fn bad_configs_are_clear_errors() {
    let err = CachedStore::new(
        InMemory::new(),
        CacheConfig {
            block_size: 3 << 20,
            ..CacheConfig::default()
        },
    )
    .expect_err("not a power of two");
    assert_eq!(
        err.to_string(),
        "invalid blockSize: 3145728 is not a power of two from 65536 (64 KiB) to 67108864 (64 MiB)"
    );
}
