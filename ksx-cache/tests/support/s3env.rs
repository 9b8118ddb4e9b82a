//! Shared helpers of the real-S3 tests: endpoints from the environment (with the spec's defaults), unique
//! prefixes, SHA-256, cleanup, and a private s3s-fs the fault tests may stop and restart.

#![allow(dead_code, unreachable_pub)]
#![allow(
    clippy::disallowed_methods,
    reason = "unique names from the wall clock; waiting for a child server"
)]

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::TryStreamExt as _;
use ksx_cache::s3::S3Config;
use object_store::aws::AmazonS3;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt as _};
use sha2::{Digest as _, Sha256};

/// The bucket `scripts/s3.sh` creates on both servers.
pub const BUCKET: &str = "ksx-test";

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// The s3s-fs endpoint: `AWS_ENDPOINT`, default `http://127.0.0.1:8014`.
pub fn s3s_endpoint() -> String {
    env_or("AWS_ENDPOINT", "http://127.0.0.1:8014")
}

/// The moto endpoint: `KSX_MOTO_ENDPOINT`, default `http://127.0.0.1:5055`.
pub fn moto_endpoint() -> String {
    env_or("KSX_MOTO_ENDPOINT", "http://127.0.0.1:5055")
}

/// The static keys: `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`, default `AKTEST` / `SKTEST`.
pub fn keys() -> (String, String) {
    (
        env_or("AWS_ACCESS_KEY_ID", "AKTEST"),
        env_or("AWS_SECRET_ACCESS_KEY", "SKTEST"),
    )
}

/// `host:port` of an `http://host:port` endpoint.
pub fn socket_of(endpoint: &str) -> SocketAddr {
    let hostport = endpoint.trim_start_matches("http://").trim_end_matches('/');
    hostport
        .parse()
        .unwrap_or_else(|e| panic!("endpoint {endpoint:?} is not http://IP:PORT: {e}"))
}

/// Panics with a clear message unless something listens at `endpoint`.
pub fn require_server(endpoint: &str, what: &str) {
    let addr = socket_of(endpoint);
    if let Err(e) = TcpStream::connect_timeout(&addr, Duration::from_secs(3)) {
        panic!(
            "no {what} server at {endpoint} ({e}); start the local S3 servers with ./scripts/services.sh"
        );
    }
}

/// A test configuration for `endpoint`: the test keys, 1 retry within 5 s, 30 s requests.
pub fn config(endpoint: &str) -> S3Config {
    let (id, secret) = keys();
    S3Config::new(endpoint, BUCKET)
        .with_keys(id, secret)
        .with_retries(1, Duration::from_secs(5))
        .with_request_timeout(Duration::from_secs(30))
}

/// A client for the shared s3s-fs, after checking it answers.
pub fn s3s_store() -> AmazonS3 {
    let endpoint = s3s_endpoint();
    require_server(&endpoint, "s3s-fs");
    config(&endpoint).build().expect("S3 client for s3s-fs")
}

/// A client for the shared moto, after checking it answers.
pub fn moto_store() -> AmazonS3 {
    let endpoint = moto_endpoint();
    require_server(&endpoint, "moto");
    config(&endpoint).build().expect("S3 client for moto")
}

/// A prefix no other run uses: `ksx-test-<tag>-<pid>-<nanos>`.
pub fn unique_prefix(tag: &str) -> Path {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    Path::from(format!("ksx-test-{tag}-{}-{nanos}", std::process::id()))
}

/// `len` bytes that differ per `seed` and per position (an LCG, so no two blocks are alike).
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (x >> 56) as u8
        })
        .collect()
}

/// SHA-256 of `bytes`, as hex.
pub fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Deletes every object under `prefix` (best effort: the test has already asserted what it needed).
pub async fn cleanup(store: &dyn ObjectStore, prefix: &Path) {
    let paths: Vec<Path> = match store
        .list(Some(prefix))
        .map_ok(|m| m.location)
        .try_collect()
        .await
    {
        Ok(paths) => paths,
        Err(_) => return,
    };
    for path in paths {
        let _ = store.delete(&path).await;
    }
}

/// The s3s-fs binary: `KSX_S3S_FS_BIN`, else `<KSX_TOOLS_DIR or ~/.cache/ksx/tools>/bin/s3s-fs`.
pub fn s3s_fs_bin() -> PathBuf {
    if let Ok(bin) = std::env::var("KSX_S3S_FS_BIN") {
        return bin.into();
    }
    let tools = std::env::var("KSX_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            let cache = std::env::var("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|_| {
                    PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache")
                });
            cache.join("ksx/tools")
        });
    tools.join("bin/s3s-fs")
}

/// An s3s-fs of the test's own, on a free loopback port over a temporary data directory, that the test may stop
/// and start again on the same port and data.
#[derive(Debug)]
pub struct OwnS3sFs {
    /// `127.0.0.1:port`.
    pub addr: SocketAddr,
    data: tempfile::TempDir,
    child: Option<Child>,
}

impl OwnS3sFs {
    /// Starts one with bucket [`BUCKET`]; panics (naming the binary and `scripts/s3.sh`) if it cannot.
    pub fn start() -> Self {
        let data = tempfile::tempdir().expect("temporary s3s-fs data dir");
        std::fs::create_dir(data.path().join(BUCKET)).expect("bucket directory");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut this = Self {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            data,
            child: None,
        };
        this.restart();
        this
    }

    /// `http://127.0.0.1:port`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Kills the server (SIGKILL) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server (again) on the same port and data, and waits until it accepts connections.
    pub fn restart(&mut self) {
        self.stop();
        let bin = s3s_fs_bin();
        let (id, secret) = keys();
        let child = Command::new(&bin)
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &self.addr.port().to_string(),
            ])
            .args(["--access-key", &id, "--secret-key", &secret])
            .arg(self.data.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run s3s-fs at {} ({e}); install it with ./scripts/s3.sh",
                    bin.display()
                )
            });
        self.child = Some(child);
        for _ in 0..200 {
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(100)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "s3s-fs at {} did not accept connections within 10 s",
            self.addr
        );
    }

    /// A client for it.
    pub fn store(&self) -> Arc<AmazonS3> {
        Arc::new(
            config(&self.endpoint())
                .build()
                .expect("S3 client for the test's s3s-fs"),
        )
    }
}

impl Drop for OwnS3sFs {
    fn drop(&mut self) {
        self.stop();
    }
}
