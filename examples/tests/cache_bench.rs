//! Runs the real `ksx cache bench -o json` against the local s3s-fs (`./scripts/services.sh` starts it) and checks
//! its keys, that the warm read beat the cold one without touching the store, and that it deleted its object.
#![cfg(feature = "cache-s3")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use futures::TryStreamExt as _;
use ksx_cache::s3::S3Config;
use object_store::ObjectStore as _;
use serde_json::Value;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_reports_cold_and_warm_figures_and_cleans_up() {
    let endpoint = env_or("AWS_ENDPOINT", "http://127.0.0.1:8014");
    let (key, secret) = (
        env_or("AWS_ACCESS_KEY_ID", "AKTEST"),
        env_or("AWS_SECRET_ACCESS_KEY", "SKTEST"),
    );
    let addr: SocketAddr = endpoint
        .trim_start_matches("http://")
        .parse()
        .expect("AWS_ENDPOINT is http://IP:PORT");
    if let Err(e) = TcpStream::connect_timeout(&addr, Duration::from_secs(3)) {
        panic!("no S3 server at {endpoint} ({e}); start it with ./scripts/services.sh");
    }

    // 8 blocks of 1 MiB.
    let child = Command::new(env!("CARGO_BIN_EXE_ksx"))
        .args([
            "cache",
            "bench",
            "--endpoint",
            &endpoint,
            "--bucket",
            "ksx-test",
        ])
        .args([
            "--size",
            "8388608",
            "--block-size",
            "1048576",
            "--readahead-block-size",
            "1048576",
            "--latency-ms",
            "20",
            "--work-ms",
            "30",
            "-o",
            "json",
        ])
        .env("AWS_ACCESS_KEY_ID", &key)
        .env("AWS_SECRET_ACCESS_KEY", &secret)
        .env_remove("KSX_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ksx");
    let pid = child.id();
    let out = child.wait_with_output().expect("ksx output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ksx cache bench failed: {stderr}");
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");

    for key in [
        "endpoint",
        "bucket",
        "sizeBytes",
        "blockSize",
        "coldSeconds",
        "warmSeconds",
        "coldMbps",
        "warmMbps",
    ] {
        assert!(v.get(key).is_some(), "key {key} missing in {v}");
    }
    assert_eq!(v["sizeBytes"], 8_388_608);
    assert_eq!(v["blockSize"], 1_048_576);
    assert_eq!(v["warmStoreBytes"], 0, "the warm read is all cache: {v}");
    let cold = v["coldMbps"].as_f64().expect("coldMbps");
    let warm = v["warmMbps"].as_f64().expect("warmMbps");
    assert!(
        cold > 0.0 && warm > cold,
        "warm ({warm} MB/s) beats cold ({cold} MB/s): {v}"
    );
    let ratio = v["warmColdRatio"].as_f64().expect("warmColdRatio");
    assert!(
        (ratio - warm / cold).abs() < 1e-6 * ratio,
        "ratio is warm / cold: {v}"
    );
    let ra = &v["readahead"];
    assert_eq!(ra["blocks"], 8, "8 MiB in 1 MiB blocks: {v}");
    assert_eq!(
        (ra["latencyMs"].as_u64(), ra["workMs"].as_u64()),
        (Some(20), Some(30))
    );
    let (without, with) = (
        ra["stallWithoutSeconds"]
            .as_f64()
            .expect("stallWithoutSeconds"),
        ra["stallWithSeconds"].as_f64().expect("stallWithSeconds"),
    );
    // Without read-ahead every one of the 8 block GETs waits out its 20 ms of added latency.
    assert!(
        without >= 8.0 * 0.020,
        "stall without read-ahead {without}s covers 8 × 20 ms: {v}"
    );
    let hidden = ra["hiddenRatio"].as_f64().expect("hiddenRatio");
    assert!(
        (hidden - (1.0 - with / without)).abs() < 1e-9,
        "hiddenRatio = 1 - with/without: {v}"
    );
    assert!(
        ra["prefetchIssued"].as_u64().expect("prefetchIssued") > 0,
        "read-ahead prefetched: {v}"
    );

    // Nothing of this run is left in the bucket.
    let s3 = S3Config::new(&endpoint, "ksx-test")
        .with_keys(&key, &secret)
        .build()
        .expect("client");
    let mine = format!("ksx-bench-{pid}-");
    let left: Vec<String> = s3
        .list(None)
        .map_ok(|m| m.location.to_string())
        .try_filter(|p| futures::future::ready(p.starts_with(&mine)))
        .try_collect()
        .await
        .expect("list the bucket");
    assert!(
        left.is_empty(),
        "the bench deleted its objects, left: {left:?}"
    );
}
