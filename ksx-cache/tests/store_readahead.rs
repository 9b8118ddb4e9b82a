//! Read-ahead under object_store's `ThrottledStore` and paused tokio time (spec §4.4, §7): a reader that spends
//! 100 ms on each block of a sequential read, over a store that takes 100 ms per GET, needs about N × 100 ms of
//! virtual time with read-ahead and N × 200 ms without.
#![cfg(feature = "store")]
#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::string_slice,
    missing_docs
)]

use std::time::Duration;

use bytes::Bytes;
use ksx_cache::store::{CacheConfig, CachedStore};
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::throttle::{ThrottleConfig, ThrottledStore};
use object_store::{ObjectStoreExt, PutPayload};
use tokio::time::Instant;

const BS: u64 = 64 * 1024;
const N: u64 = 32;
const STEP: Duration = Duration::from_millis(100);

/// Virtual time of a sequential read of N blocks with 100 ms of work per block, and the cache's stats.
async fn sequential_read(max_readahead: u64) -> (Duration, ksx_cache::store::CacheStatsSnapshot) {
    let mem = InMemory::new();
    let path = Path::from("epoch/shard");
    let src: Bytes = (0..(N * BS) as usize)
        .map(|i| (i % 253) as u8)
        .collect::<Vec<_>>()
        .into();
    mem.put(&path, PutPayload::from_bytes(src.clone()))
        .await
        .unwrap();
    let throttled = ThrottledStore::new(
        mem,
        ThrottleConfig {
            wait_get_per_call: STEP,
            ..ThrottleConfig::default()
        },
    );
    let config = CacheConfig {
        block_size: BS,
        memory_bytes: 2 * N * BS,
        max_readahead,
        ..CacheConfig::default()
    };
    let store = CachedStore::new(throttled, config).unwrap();
    // The HEAD is not part of the measurement.
    store.head(&path).await.unwrap();
    let start = Instant::now();
    for i in 0..N {
        let got = store.get_range(&path, i * BS..(i + 1) * BS).await.unwrap();
        assert_eq!(got, src.slice((i * BS) as usize..((i + 1) * BS) as usize));
        // The training step that consumes the block.
        tokio::time::sleep(STEP).await;
    }
    (start.elapsed(), store.stats())
}

#[tokio::test(start_paused = true)]
async fn read_ahead_hides_store_latency() {
    let (without, _) = sequential_read(0).await;
    let (with, stats) = sequential_read(8).await;
    let work = STEP * N as u32;
    // Without read-ahead every block costs a GET and a step: N × 200 ms of virtual time (the timer may round
    // each sleep up to its next millisecond).
    let slack = Duration::from_millis(2 * N);
    assert!(
        without >= work * 2 && without <= work * 2 + slack,
        "{without:?}"
    );
    // With it only the first blocks stall (block 0 has no history, block 1 starts the window at 1, block 2 is
    // loaded during block 1's step...): at most N × 100 ms plus three GETs.
    assert!(with >= work, "{with:?}");
    assert!(with <= work + STEP * 3 + slack, "{with:?}");
    let stall_with = (with - work).as_secs_f64();
    let stall_without = (without - work).as_secs_f64();
    let hidden = 1.0 - stall_with / stall_without;
    println!(
        "N = {N}: virtual time with read-ahead {with:?}, without {without:?}, hidden {hidden:.4}"
    );
    assert!(
        hidden >= 0.8,
        "read-ahead hides {hidden:.3} of the read latency"
    );
    // Every block was read once from the store; all but the first two were prefetched and used.
    assert_eq!(stats.bytes.store + stats.bytes.memory, N * BS);
    assert_eq!(stats.prefetch_used, N - 2);
    assert_eq!(stats.prefetch_wasted, 0);
    assert!(stats.prefetch_issued >= N - 2);
}

#[tokio::test(start_paused = true)]
async fn a_jump_resets_the_window() {
    let mem = InMemory::new();
    let path = Path::from("f");
    mem.put(
        &path,
        PutPayload::from_bytes(Bytes::from(vec![1u8; (16 * BS) as usize])),
    )
    .await
    .unwrap();
    let config = CacheConfig {
        block_size: BS,
        max_readahead: 8,
        ..CacheConfig::default()
    };
    let store = CachedStore::new(mem, config).unwrap();
    // 0 then 1: window 1 (block 2); 2: window 2 (blocks 3, 4).
    for i in 0..3 {
        store.get_range(&path, i * BS..i * BS + 1).await.unwrap();
    }
    assert_eq!(store.stats().prefetch_issued, 3);
    // A jump to block 10: no read-ahead.
    store.get_range(&path, 10 * BS..10 * BS + 1).await.unwrap();
    assert_eq!(store.stats().prefetch_issued, 3);
    // 11 after 10: window 1 again (block 12).
    store.get_range(&path, 11 * BS..11 * BS + 1).await.unwrap();
    assert_eq!(store.stats().prefetch_issued, 4);
}
