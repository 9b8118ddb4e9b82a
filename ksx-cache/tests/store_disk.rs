//! The disk tier: on-disk layout and footer, restart from the index scan, and the disk faults of spec §7
//! (flipped or truncated block, file deleted behind the index, stale `*.tmp`, a second process, a cache
//! directory under a regular file) — the tier degrades or re-reads, and reads always succeed.
#![cfg(all(feature = "store", unix))]
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

use std::os::unix::fs::PermissionsExt;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use ksx_cache::store::{
    BlockKey, CacheConfig, CachedStore, DiskDir, DiskTierConfig, DiskWriteMode, Identity,
};
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};
use support::faulty::FaultyStore;

const BS: u64 = 64 * 1024;

fn config(dirs: &[&FsPath]) -> CacheConfig {
    CacheConfig {
        block_size: BS,
        // No memory tier: every hit below comes from disk.
        memory_bytes: 0,
        max_readahead: 0,
        min_free_ratio: 0.0,
        store_id: Some("test-store".into()),
        disk_tiers: vec![DiskTierConfig {
            name: "ssd".into(),
            dirs: dirs
                .iter()
                .map(|d| DiskDir {
                    path: d.to_path_buf(),
                    quota_bytes: 64 * BS,
                })
                .collect(),
            policy: "lru".into(),
        }],
        ..CacheConfig::default()
    }
}

fn data(len: usize, seed: u8) -> Bytes {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(13).wrapping_add(seed))
        .collect::<Vec<u8>>()
        .into()
}

async fn source(src: &Bytes) -> (Arc<FaultyStore<InMemory>>, Path) {
    let inner = Arc::new(FaultyStore::new(InMemory::new(), []));
    let path = Path::from("ds/obj");
    inner
        .inner
        .put(&path, PutPayload::from_bytes(src.clone()))
        .await
        .expect("put");
    (inner, path)
}

async fn block_file(
    store: &CachedStore<Arc<FaultyStore<InMemory>>>,
    dir: &FsPath,
    path: &Path,
    index: u64,
) -> PathBuf {
    let meta = store.head(path).await.expect("head");
    let key = BlockKey {
        store: store.store_id().into(),
        path: path.as_ref().into(),
        identity: Arc::new(Identity::of(&meta)),
        block_size: BS,
        index,
    };
    let hex = key.digest_hex();
    dir.join("ksx-cache/v1/test-store")
        .join(&hex[0..2])
        .join(&hex[2..4])
        .join(&hex)
}

#[tokio::test]
async fn blocks_land_on_disk_in_the_layout_and_survive_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = data(2 * BS as usize + 100, 1);
    let (inner, path) = source(&src).await;
    {
        let store = CachedStore::new(Arc::clone(&inner), config(&[dir.path()])).expect("config");
        assert_eq!(store.get(&path).await.unwrap().bytes().await.unwrap(), src);
        store.flush().await;
        assert_eq!(store.stats().disk_writes, 3);
        let f = block_file(&store, dir.path(), &path, 2).await;
        let meta = std::fs::metadata(&f).expect("block 2 file");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        // Block 2 holds 100 bytes: one CRC (4 B), the key, the 32-byte trailer.
        let key_len = std::fs::read(&f).unwrap().len() as u64 - 100 - 4 - 32;
        assert!(key_len > 20, "the footer carries the key");
        // Reads now come from disk.
        assert_eq!(store.get(&path).await.unwrap().bytes().await.unwrap(), src);
        assert_eq!(inner.gets(), 3);
        assert_eq!(store.stats().requests.disk, 3);
    }
    // A new process: the index is rebuilt by scanning, no store read.
    let store = CachedStore::new(Arc::clone(&inner), config(&[dir.path()])).expect("config");
    assert_eq!(store.stats().tiers[1].used_bytes, src.len() as u64);
    assert_eq!(store.get(&path).await.unwrap().bytes().await.unwrap(), src);
    assert_eq!(inner.gets(), 3);
}

#[tokio::test]
async fn flipped_and_truncated_blocks_are_detected_and_re_read() {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = data(2 * BS as usize, 2);
    let (inner, path) = source(&src).await;
    let store = CachedStore::new(Arc::clone(&inner), config(&[dir.path()])).expect("config");
    store.get(&path).await.unwrap().bytes().await.unwrap();
    store.flush().await;

    // Flip one data byte of block 0.
    let f0 = block_file(&store, dir.path(), &path, 0).await;
    let mut raw = std::fs::read(&f0).unwrap();
    raw[40_000] ^= 0x80;
    std::fs::write(&f0, &raw).unwrap();
    // Truncate block 1.
    let f1 = block_file(&store, dir.path(), &path, 1).await;
    let raw = std::fs::read(&f1).unwrap();
    std::fs::write(&f1, &raw[..raw.len() - 10]).unwrap();

    assert_eq!(store.get(&path).await.unwrap().bytes().await.unwrap(), src);
    let s = store.stats();
    assert_eq!(s.checksum_failures, 2);
    assert_eq!(inner.gets(), 4, "both blocks re-read from the store");
    assert!(!s.tiers[1].degraded, "corruption is not an I/O failure");
    // The re-read blocks are written again, good this time.
    store.flush().await;
    assert_eq!(store.get(&path).await.unwrap().bytes().await.unwrap(), src);
    assert_eq!(inner.gets(), 4);
}

#[tokio::test]
async fn a_file_deleted_behind_the_index_is_a_miss() {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = data(BS as usize, 3);
    let (inner, path) = source(&src).await;
    let store = CachedStore::new(Arc::clone(&inner), config(&[dir.path()])).expect("config");
    store.get(&path).await.unwrap().bytes().await.unwrap();
    store.flush().await;
    std::fs::remove_file(block_file(&store, dir.path(), &path, 0).await).unwrap();
    assert_eq!(store.get(&path).await.unwrap().bytes().await.unwrap(), src);
    let s = store.stats();
    assert_eq!((inner.gets(), s.checksum_failures), (2, 0));
    assert!(!s.tiers[1].degraded);
}

#[tokio::test]
async fn stale_tmp_files_and_strangers_are_removed_at_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let shard = dir.path().join("ksx-cache/v1/test-store/ab/cd");
    std::fs::create_dir_all(&shard).unwrap();
    std::fs::write(shard.join("abcd0000.tmp"), b"half a block").unwrap();
    std::fs::write(shard.join("abcd1111"), b"not a block file").unwrap();
    let src = data(100, 4);
    let (inner, path) = source(&src).await;
    let store = CachedStore::new(Arc::clone(&inner), config(&[dir.path()])).expect("config");
    assert!(!shard.join("abcd0000.tmp").exists());
    assert!(!shard.join("abcd1111").exists());
    assert_eq!(store.get(&path).await.unwrap().bytes().await.unwrap(), src);
}

#[tokio::test]
async fn a_second_process_runs_without_the_locked_tier() {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = data(BS as usize, 5);
    let (inner, path) = source(&src).await;
    let first = CachedStore::new(Arc::clone(&inner), config(&[dir.path()])).expect("config");
    let second = CachedStore::new(Arc::clone(&inner), config(&[dir.path()])).expect("config");
    assert!(first.problems().is_empty());
    assert_eq!(second.problems().len(), 1);
    assert!(
        second.problems()[0].contains("LOCK"),
        "{:?}",
        second.problems()
    );
    assert!(second.stats().tiers[1].degraded);
    assert_eq!(second.get(&path).await.unwrap().bytes().await.unwrap(), src);
    second.flush().await;
    assert_eq!(second.stats().disk_writes, 0);
    assert!(
        second
            .prometheus_text()
            .contains("ksx_cache_tier_degraded{tier=\"ssd\"} 1\n")
    );
    drop(first);
}

#[tokio::test]
async fn a_cache_dir_under_a_regular_file_degrades_the_tier() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    let under = file.join("cache");
    let src = data(3 * BS as usize, 6);
    let (inner, path) = source(&src).await;
    let store = CachedStore::new(Arc::clone(&inner), config(&[&under])).expect("config");
    assert_eq!(store.problems().len(), 1);
    assert!(store.stats().tiers[1].degraded);
    for _ in 0..2 {
        assert_eq!(store.get(&path).await.unwrap().bytes().await.unwrap(), src);
    }
    assert_eq!(inner.gets(), 6, "no tier: every read goes to the store");
}

#[tokio::test]
async fn blocks_spread_over_dirs_and_evictions_delete_files() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut cfg = config(&[a.path(), b.path()]);
    for d in &mut cfg.disk_tiers[0].dirs {
        d.quota_bytes = 4 * BS;
    }
    let src = data(16 * BS as usize, 7);
    let (inner, path) = source(&src).await;
    let store = CachedStore::new(Arc::clone(&inner), cfg).expect("config");
    assert_eq!(store.get(&path).await.unwrap().bytes().await.unwrap(), src);
    store.flush().await;
    let count = |d: &FsPath| {
        walk(&d.join("ksx-cache/v1/test-store"))
            .iter()
            .filter(|p| p.file_name().is_some_and(|n| n.len() == 64))
            .count()
    };
    let (na, nb) = (count(a.path()), count(b.path()));
    assert!(na <= 4 && nb <= 4, "quotas hold: {na} + {nb}");
    assert!(na > 0 && nb > 0, "both directories used: {na} + {nb}");
    let s = store.stats();
    assert_eq!(s.tiers[1].used_bytes, (na + nb) as u64 * BS);
    assert_eq!(s.tiers[1].evictions, 16 - (na + nb) as u64);
}

#[tokio::test]
async fn on_eviction_mode_writes_blocks_the_memory_tier_drops() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = CacheConfig {
        memory_bytes: 2 * BS,
        memory_policy: "lru".into(),
        disk_write_mode: DiskWriteMode::OnEviction,
        ..config(&[dir.path()])
    };
    let src = data(4 * BS as usize, 8);
    let (inner, path) = source(&src).await;
    let store = CachedStore::new(Arc::clone(&inner), cfg).expect("config");
    assert_eq!(store.get(&path).await.unwrap().bytes().await.unwrap(), src);
    store.flush().await;
    // Four blocks through a two-block memory tier: two evicted, two written.
    assert_eq!(store.stats().disk_writes, 2);
    // Blocks 0 and 1 were evicted from memory: they come back from disk.
    assert_eq!(
        store.get_range(&path, 0..2 * BS).await.unwrap(),
        src.slice(0..2 * BS as usize)
    );
    assert_eq!(inner.gets(), 4);
    assert_eq!(store.stats().requests.disk, 2);
}

fn walk(d: &FsPath) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(d) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}
