//! Store faults (spec §7) through `FaultyStore`: a body cut after k bytes, short or long bodies, `NotFound` and
//! `Precondition` mid-object. Property: every read returns the source bytes or an error, never wrong bytes, and
//! once the faults are spent every read succeeds.
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

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use ksx_cache::store::{CacheConfig, CachedStore};
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};
use proptest::prelude::*;
use support::faulty::{Fault, FaultyStore};

const BS: u64 = 64 * 1024;
const SIZE: u64 = 5 * BS + 321;

fn source() -> Bytes {
    (0..SIZE as usize)
        .map(|i| ((i * 7 + i / 251) % 256) as u8)
        .collect::<Vec<u8>>()
        .into()
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        Just(Fault::Pass),
        (0..BS as usize).prop_map(Fault::ErrorAfter),
        (1..100usize).prop_map(Fault::Short),
        (1..100usize).prop_map(Fault::Long),
        Just(Fault::NotFound),
        Just(Fault::Precondition),
    ]
}

fn range() -> impl Strategy<Value = Range<u64>> {
    (0..SIZE, 1..3 * BS).prop_map(|(start, len)| start..(start + len).min(SIZE))
}

async fn run(script: Vec<Fault>, ranges: Vec<Range<u64>>, readahead: u64) {
    let src = source();
    let inner = Arc::new(FaultyStore::new(InMemory::new(), script));
    let path = Path::from("obj");
    inner
        .inner
        .put(&path, PutPayload::from_bytes(src.clone()))
        .await
        .unwrap();
    let config = CacheConfig {
        block_size: BS,
        memory_bytes: 3 * BS,
        max_readahead: readahead,
        ..CacheConfig::default()
    };
    let store = CachedStore::new(Arc::clone(&inner), config).unwrap();
    for r in &ranges {
        if let Ok(got) = store.get_range(&path, r.clone()).await {
            assert_eq!(
                got,
                src.slice(r.start as usize..r.end as usize),
                "range {r:?}"
            );
        }
    }
    // Scripts hold at most 11 faults and every failed read spends at least one: 12 tries are enough.
    let mut whole = None;
    for _ in 0..12 {
        if let Ok(r) = store.get(&path).await
            && let Ok(all) = r.bytes().await
        {
            whole = Some(all);
            break;
        }
    }
    assert_eq!(
        whole,
        Some(src),
        "a full read succeeds once the faults are spent"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn never_wrong_bytes(
        script in proptest::collection::vec(fault(), 0..12),
        ranges in proptest::collection::vec(range(), 1..8),
        readahead in prop_oneof![Just(0u64), Just(8u64)],
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(run(script, ranges, readahead));
    }
}

#[tokio::test]
async fn short_and_long_bodies_are_errors_and_not_cached() {
    let src = source();
    let inner = Arc::new(FaultyStore::new(
        InMemory::new(),
        [Fault::Short(1), Fault::Long(1), Fault::ErrorAfter(100)],
    ));
    let path = Path::from("obj");
    inner
        .inner
        .put(&path, PutPayload::from_bytes(src.clone()))
        .await
        .unwrap();
    let config = CacheConfig {
        block_size: BS,
        max_readahead: 0,
        ..CacheConfig::default()
    };
    let store = CachedStore::new(Arc::clone(&inner), config).unwrap();
    for _ in 0..3 {
        let err = store
            .get_range(&path, 0..10)
            .await
            .expect_err("faulty body");
        assert!(
            !matches!(err, object_store::Error::NotFound { .. }),
            "{err}"
        );
    }
    let s = store.stats();
    assert_eq!((s.store_errors, s.tiers[0].used_bytes), (3, 0));
    assert_eq!(
        store.get_range(&path, 0..10).await.unwrap(),
        src.slice(0..10)
    );
}
