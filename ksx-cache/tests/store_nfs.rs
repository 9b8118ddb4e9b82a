//! `CachedStore` over `LocalFileSystem` on a test directory, which is what a mounted NFS export is (spec §7):
//! a rewrite by another writer is a miss, a rename over a cached path is seen, a deletion mid-read fails the
//! read without wrong bytes.
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
use futures::StreamExt;
use ksx_cache::store::{CacheConfig, CachedStore};
use ksx_core::clock::ManualClock;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};
use support::faulty::FaultyStore;

const BS: u64 = 64 * 1024;

fn data(len: usize, seed: u8) -> Bytes {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed))
        .collect::<Vec<u8>>()
        .into()
}

struct Nfs {
    dir: tempfile::TempDir,
    inner: Arc<FaultyStore<LocalFileSystem>>,
    clock: ManualClock,
    store: CachedStore<Arc<FaultyStore<LocalFileSystem>>>,
}

fn mount() -> Nfs {
    let dir = tempfile::tempdir().expect("temp dir");
    let fs = LocalFileSystem::new_with_prefix(dir.path()).expect("local fs");
    let inner = Arc::new(FaultyStore::new(fs, []));
    let clock = ManualClock::at_unix_secs(1_700_000_000);
    let config = CacheConfig {
        block_size: BS,
        memory_bytes: 64 * BS,
        max_readahead: 0,
        ..CacheConfig::default()
    };
    let store = CachedStore::with_clock(Arc::clone(&inner), config, Arc::new(clock.clone()))
        .expect("config");
    Nfs {
        dir,
        inner,
        clock,
        store,
    }
}

#[tokio::test]
async fn a_rewrite_by_another_writer_is_a_miss_once_metadata_expires() {
    let nfs = mount();
    let path = Path::from("train/shard-0");
    let file = nfs.dir.path().join("train/shard-0");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, data(3 * BS as usize, 1)).unwrap();
    let read = || async { nfs.store.get(&path).await.unwrap().bytes().await.unwrap() };
    assert_eq!(read().await, data(3 * BS as usize, 1));
    // Another client rewrites the file (new inode, size: a new ETag).
    let tmp = nfs.dir.path().join("train/.shard-0.new");
    std::fs::write(&tmp, data(2 * BS as usize, 2)).unwrap();
    std::fs::rename(&tmp, &file).unwrap();
    // Within metadataTtl the cached version is served, whole and unmixed.
    assert_eq!(read().await, data(3 * BS as usize, 1));
    assert_eq!(nfs.inner.gets(), 3);
    nfs.clock.advance(Duration::from_secs(61));
    assert_eq!(read().await, data(2 * BS as usize, 2));
    assert_eq!(
        nfs.inner.gets(),
        5,
        "the new version's two blocks are misses"
    );
}

#[tokio::test]
async fn a_rename_over_a_cached_path_is_seen() {
    let nfs = mount();
    let (a, b) = (Path::from("a.bin"), Path::from("b.bin"));
    nfs.store
        .put(&a, PutPayload::from_bytes(data(2 * BS as usize, 3)))
        .await
        .unwrap();
    nfs.store
        .put(&b, PutPayload::from_bytes(data(2 * BS as usize, 4)))
        .await
        .unwrap();
    // Through the store: invalidated at once.
    assert_eq!(
        nfs.store.get_range(&a, 0..10).await.unwrap(),
        data(2 * BS as usize, 3).slice(0..10)
    );
    nfs.store.rename(&b, &a).await.unwrap();
    assert_eq!(
        nfs.store.get_range(&a, 0..10).await.unwrap(),
        data(2 * BS as usize, 4).slice(0..10)
    );

    // Behind the store: block 0 and metadata are cached; block 1's read carries If-Match with the old ETag,
    // the file system answers Precondition, and the read retries with fresh metadata.
    std::fs::write(nfs.dir.path().join("c.bin"), data(2 * BS as usize, 5)).unwrap();
    std::fs::rename(nfs.dir.path().join("c.bin"), nfs.dir.path().join("a.bin")).unwrap();
    let got = nfs.store.get_range(&a, BS..BS + 10).await.unwrap();
    let new = data(2 * BS as usize, 5);
    assert_eq!(got, new.slice(BS as usize..BS as usize + 10));
    assert_eq!(nfs.store.stats().precondition_retries, 1);
    assert_eq!(
        nfs.store.get_range(&a, 0..10).await.unwrap(),
        new.slice(0..10)
    );
}

#[tokio::test]
async fn a_deletion_mid_read_fails_the_read_without_wrong_bytes() {
    let nfs = mount();
    let path = Path::from("big.bin");
    let src = data(4 * BS as usize, 6);
    std::fs::write(nfs.dir.path().join("big.bin"), &src).unwrap();
    let r = nfs.store.get(&path).await.unwrap();
    let mut body = r.into_stream();
    // The first block was read before `get` answered.
    let first = body.next().await.unwrap().unwrap();
    assert_eq!(first, src.slice(0..BS as usize));
    std::fs::remove_file(nfs.dir.path().join("big.bin")).unwrap();
    let mut got = first.to_vec();
    let mut failed = false;
    while let Some(part) = body.next().await {
        match part {
            Ok(b) => got.extend_from_slice(&b),
            Err(e) => {
                assert!(matches!(e, object_store::Error::NotFound { .. }), "{e}");
                failed = true;
                break;
            }
        }
    }
    assert!(failed, "the read cannot complete");
    assert_eq!(
        &got[..],
        &src[..got.len()],
        "what came is a prefix of the object"
    );
    assert!(matches!(
        nfs.store.head(&path).await,
        Err(object_store::Error::NotFound { .. })
    ));
}
