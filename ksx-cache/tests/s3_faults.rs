//! Faults between `CachedStore` and a real s3s-fs: a TCP proxy that cuts bodies, lies in `Content-Length` or
//! resets, and the test's own s3s-fs stopped mid-read and restarted. A read returns the source bytes or an error,
//! never wrong bytes, and nothing corrupt is cached.
#![cfg(feature = "s3")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cast_possible_truncation
)]

#[path = "support/proxy.rs"]
mod proxy;
#[path = "support/s3env.rs"]
mod s3env;

use std::sync::Arc;

use futures::StreamExt as _;
use ksx_cache::store::{CacheConfig, CachedStore};
use object_store::{GetOptions, ObjectStore, ObjectStoreExt as _, PutPayload};
use proxy::{Fault, Proxy};
use s3env::{
    OwnS3sFs, cleanup, config, pattern, s3s_endpoint, s3s_store, sha256, socket_of, unique_prefix,
};

const BLOCK: u64 = 64 * 1024;
/// Three whole blocks and a partial fourth.
const SIZE: usize = 3 * 64 * 1024 + 999;

fn cache_config() -> CacheConfig {
    CacheConfig {
        block_size: BLOCK,
        max_readahead: 0,
        ..CacheConfig::default()
    }
}

/// Reads the whole object through `cache`; `Ok` only with every byte.
async fn read_all<S: ObjectStore>(
    cache: &CachedStore<S>,
    path: &object_store::path::Path,
) -> object_store::Result<Vec<u8>> {
    let result = cache.get_opts(path, GetOptions::default()).await?;
    let mut out = Vec::new();
    let mut stream = result.into_stream();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

async fn check_fault(fault: Fault, retries: usize) {
    let direct = Arc::new(s3s_store());
    let proxy = Proxy::start(socket_of(&s3s_endpoint()))
        .await
        .expect("proxy");
    let proxied = config(&proxy.endpoint())
        .with_retries(retries, std::time::Duration::from_secs(5))
        .with_pool_max_idle_per_host(0)
        .build()
        .expect("client through the proxy");
    let prefix = unique_prefix(&format!("fault-{fault:?}-{retries}").to_lowercase());
    let path = prefix.clone().join("object.bin");
    let source = pattern(SIZE, 7);
    direct
        .put(&path, PutPayload::from(source.clone()))
        .await
        .expect("put");
    let cache = CachedStore::new(proxied, cache_config()).expect("cache");

    // Every GET faulty: no block arrives intact, so every read that needs the store must fail.
    proxy.arm(fault, usize::MAX);
    let whole = read_all(&cache, &path).await;
    assert!(
        whole.is_err(),
        "{fault:?}: a read with every GET faulty must fail, got {} bytes",
        whole.map_or(0, |b| b.len())
    );
    assert!(proxy.applied() > 0, "{fault:?}: the proxy saw block GETs");
    for range in [0..10, BLOCK - 5..BLOCK + 5, SIZE as u64 - 100..SIZE as u64] {
        let got = cache.get_range(&path, range.clone()).await;
        assert!(
            got.is_err(),
            "{fault:?}: range {range:?} with every GET faulty must fail, got {got:?}"
        );
    }

    // One faulty GET, then healthy: with a retry the read may succeed, and then only with the source bytes.
    proxy.arm(fault, 1);
    if let Ok(got) = read_all(&cache, &path).await {
        assert_eq!(
            sha256(&got),
            sha256(&source),
            "{fault:?}: a successful read returns the source"
        );
    }

    // Healthy again: every byte matches, so nothing short or wrong was cached along the way.
    proxy.disarm();
    let got = read_all(&cache, &path).await.expect("read after the fault");
    assert_eq!(
        sha256(&got),
        sha256(&source),
        "{fault:?}: after the fault the source bytes"
    );
    let again = read_all(&cache, &path)
        .await
        .expect("warm read after the fault");
    assert_eq!(
        sha256(&again),
        sha256(&source),
        "{fault:?}: warm read after the fault"
    );

    cleanup(direct.as_ref(), &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_body_is_an_error_or_the_source_bytes() {
    check_fault(Fault::CutBody, 0).await;
    check_fault(Fault::CutBody, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_content_length_is_an_error_or_the_source_bytes() {
    check_fault(Fault::ShortLength, 0).await;
    check_fault(Fault::ShortLength, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_content_length_is_an_error_or_the_source_bytes() {
    check_fault(Fault::LongLength, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_is_an_error_or_the_source_bytes() {
    check_fault(Fault::Reset, 0).await;
    check_fault(Fault::Reset, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_stopped_mid_read_and_restarted_serves_the_source_bytes() {
    let mut server = OwnS3sFs::start();
    let s3 = server.store();
    let prefix = unique_prefix("restart");
    let path = prefix.clone().join("object.bin");
    let source = pattern(SIZE, 9);
    s3.put(&path, PutPayload::from(source.clone()))
        .await
        .expect("put");
    let cache = CachedStore::new(Arc::clone(&s3), cache_config()).expect("cache");

    // Take the first block of a whole-object read, then stop the server and drain the rest.
    let result = cache
        .get_opts(&path, GetOptions::default())
        .await
        .expect("get_opts before the stop");
    let mut stream = result.into_stream();
    let mut got = Vec::new();
    let first = stream
        .next()
        .await
        .expect("a first chunk")
        .expect("the first block");
    got.extend_from_slice(&first);
    server.stop();
    let mut failed = false;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(bytes) => got.extend_from_slice(&bytes),
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    assert!(got.len() <= SIZE, "never more bytes than the object has");
    assert_eq!(
        sha256(&got),
        sha256(&source[..got.len()]),
        "what arrived is a prefix of the source"
    );
    assert!(
        failed || got.len() == SIZE,
        "the read either failed or completed"
    );

    // Reads while the server is down: cached blocks or an error, never wrong bytes.
    if let Ok(bytes) = cache.get_range(&path, 0..100).await {
        assert_eq!(
            sha256(&bytes),
            sha256(&source[..100]),
            "the cached first block while the server is down"
        );
    }

    server.restart();
    let after = read_all(&cache, &path)
        .await
        .expect("read after the restart");
    assert_eq!(
        sha256(&after),
        sha256(&source),
        "after the restart the whole object matches"
    );
    let direct = s3
        .get(&path)
        .await
        .expect("direct get")
        .bytes()
        .await
        .expect("direct body");
    assert_eq!(
        sha256(&direct),
        sha256(&source),
        "s3s-fs kept the object across the restart"
    );

    cleanup(s3.as_ref(), &prefix).await;
}
