//! `prometheus` against a private Prometheus (empty TSDB, queries on constant expressions; install it with
//! `scripts/prometheus.sh`, override the binary with `KSX_PROMETHEUS_BIN`) and `metrics-api` against an
//! in-process HTTP server.
#![cfg(feature = "scalers")]

mod scalers_support;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU16, Ordering};
use std::time::Duration;

use scalers_support::{build_error, dead_address, read, read_err, scaler, unique};
use serde_json::json;

/// A Prometheus child process on a free port, killed and its directory removed when dropped.
struct Prometheus {
    child: Child,
    dir: PathBuf,
    url: String,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn prometheus() -> Prometheus {
    let bin = std::env::var_os("KSX_PROMETHEUS_BIN")
        .map_or_else(|| PathBuf::from("prometheus"), PathBuf::from);
    let dir = std::env::temp_dir().join(unique("prometheus"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = dir.join("prometheus.yml");
    std::fs::write(&config, "global:\n  scrape_interval: 15s\n").expect("write config");
    let port = dead_address()
        .rsplit_once(':')
        .map(|(_, p)| p.to_owned())
        .expect("port");
    let child = Command::new(&bin)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {}: {e}; install Prometheus with scripts/prometheus.sh",
                bin.display()
            )
        });
    let p = Prometheus {
        child,
        dir,
        url: format!("http://127.0.0.1:{port}"),
    };
    let http = reqwest::Client::new();
    for _ in 0..300 {
        if let Ok(Ok(r)) = tokio::time::timeout(
            Duration::from_secs(1),
            http.get(format!("{}/-/ready", p.url)).send(),
        )
        .await
            && r.status().is_success()
        {
            return p;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("Prometheus at {} did not become ready within 30 s", p.url);
}

#[tokio::test]
async fn prometheus_values_activation_and_errors() {
    let p = prometheus().await;
    let url = p.url.as_str();
    let s = scaler(
        "prometheus",
        &[
            ("serverAddress", url),
            ("query", "vector(7)"),
            ("threshold", "5"),
            ("activationThreshold", "7"),
        ],
    );
    assert_eq!(s.metric_spec().metric_name, "s0-prometheus");
    let r = read(s.as_ref()).await;
    assert!((r.value - 7.0).abs() < f64::EPSILON && !r.active, "{r:?}");
    let s = scaler(
        "prometheus",
        &[
            ("serverAddress", url),
            ("query", "vector(7.5)"),
            ("threshold", "5"),
            ("activationThreshold", "7"),
        ],
    );
    let r = read(s.as_ref()).await;
    assert!((r.value - 7.5).abs() < f64::EPSILON && r.active, "{r:?}");
    // A scalar result.
    let s = scaler(
        "prometheus",
        &[
            ("serverAddress", url),
            ("query", "scalar(vector(3))"),
            ("threshold", "5"),
        ],
    );
    assert!((read(s.as_ref()).await.value - 3.0).abs() < f64::EPSILON);

    // Empty and NaN: 0 with ignoreNullValues (the default), errors without.
    for q in ["absent(vector(1))", "vector(NaN)"] {
        let s = scaler(
            "prometheus",
            &[("serverAddress", url), ("query", q), ("threshold", "5")],
        );
        let r = read(s.as_ref()).await;
        assert!(r.value.abs() < f64::EPSILON && !r.active, "{q}: {r:?}");
        let s = scaler(
            "prometheus",
            &[
                ("serverAddress", url),
                ("query", q),
                ("threshold", "5"),
                ("ignoreNullValues", "false"),
            ],
        );
        assert!(
            read_err(s.as_ref())
                .await
                .contains("ignoreNullValues is false"),
            "{q}"
        );
    }
    let two = r#"label_replace(vector(1), "a", "x", "", "") or label_replace(vector(2), "a", "y", "", "")"#;
    let s = scaler(
        "prometheus",
        &[("serverAddress", url), ("query", two), ("threshold", "5")],
    );
    assert!(read_err(s.as_ref()).await.contains("2 series"));
    let s = scaler(
        "prometheus",
        &[
            ("serverAddress", url),
            ("query", "sum(("),
            ("threshold", "5"),
        ],
    );
    let e = read_err(s.as_ref()).await;
    assert!(
        e.starts_with(&format!(
            "prometheus at {url}: query answered 400 Bad Request: bad_data"
        )),
        "{e}"
    );
    drop(p);

    let dead = format!("http://{}", dead_address());
    let s = scaler(
        "prometheus",
        &[
            ("serverAddress", &dead),
            ("query", "vector(1)"),
            ("threshold", "5"),
        ],
    );
    assert!(
        read_err(s.as_ref())
            .await
            .starts_with(&format!("prometheus at {dead}: query failed"))
    );
    assert_eq!(
        build_error(
            "prometheus",
            &[("serverAddress", "http://x"), ("query", "up")]
        ),
        "triggers[0] (prometheus): metadata.threshold is required"
    );
}

/// An in-process metrics API: `/metrics` serves the current depth, `/broken` answers 500.
async fn metrics_api(
    depth: Arc<AtomicI64>,
    hits: Arc<AtomicU16>,
) -> (String, tokio::task::JoinHandle<()>) {
    let app = axum::Router::new()
        .route(
            "/metrics",
            axum::routing::get(move || {
                let depth = depth.load(Ordering::Relaxed);
                hits.fetch_add(1, Ordering::Relaxed);
                async move {
                    axum::Json(json!({"data": {"queue": {"length": depth}}, "items": [{"value": "1500m"}, {"value": format!("{depth}")}]}))
                }
            }),
        )
        .route(
            "/broken",
            axum::routing::get(|| async { (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let handle = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), handle)
}

#[tokio::test]
async fn metrics_api_values_activation_and_errors() {
    let depth = Arc::new(AtomicI64::new(4));
    let hits = Arc::new(AtomicU16::new(0));
    let (base, server) = metrics_api(Arc::clone(&depth), Arc::clone(&hits)).await;
    let url = format!("{base}/metrics");
    let s = scaler(
        "metrics-api",
        &[
            ("url", &url),
            ("valueLocation", "data.queue.length"),
            ("targetValue", "2"),
            ("activationTargetValue", "4"),
        ],
    );
    assert_eq!(
        s.metric_spec().metric_name,
        "s0-metric-api-data-queue-length"
    );
    let r = read(s.as_ref()).await;
    assert!((r.value - 4.0).abs() < f64::EPSILON && !r.active, "{r:?}");
    depth.store(9, Ordering::Relaxed);
    let r = read(s.as_ref()).await;
    assert!((r.value - 9.0).abs() < f64::EPSILON && r.active, "{r:?}");
    assert_eq!(hits.load(Ordering::Relaxed), 2);
    // A quantity string and a numeric string.
    let s = scaler(
        "metrics-api",
        &[
            ("url", &url),
            ("valueLocation", "items.0.value"),
            ("targetValue", "1"),
        ],
    );
    assert!((read(s.as_ref()).await.value - 1.5).abs() < f64::EPSILON);
    let s = scaler(
        "metrics-api",
        &[
            ("url", &url),
            ("valueLocation", "items.1.value"),
            ("targetValue", "1"),
        ],
    );
    assert!((read(s.as_ref()).await.value - 9.0).abs() < f64::EPSILON);

    let s = scaler(
        "metrics-api",
        &[
            ("url", &url),
            ("valueLocation", "data.queue.size"),
            ("targetValue", "1"),
        ],
    );
    let e = read_err(s.as_ref()).await;
    assert!(
        e.starts_with(&format!(
            "metrics-api {url}: valueLocation \"data.queue.size\": nothing at"
        )),
        "{e}"
    );
    let broken = format!("{base}/broken");
    let s = scaler(
        "metrics-api",
        &[
            ("url", &broken),
            ("valueLocation", "a"),
            ("targetValue", "1"),
        ],
    );
    assert_eq!(
        read_err(s.as_ref()).await,
        format!("metrics-api {broken}: GET answered 500 Internal Server Error")
    );
    server.abort();

    let dead = format!("http://{}/metrics", dead_address());
    let s = scaler(
        "metrics-api",
        &[("url", &dead), ("valueLocation", "a"), ("targetValue", "1")],
    );
    assert!(
        read_err(s.as_ref())
            .await
            .starts_with(&format!("metrics-api {dead}: GET failed"))
    );
    assert!(
        build_error(
            "metrics-api",
            &[
                ("url", &url),
                ("valueLocation", "a"),
                ("targetValue", "1"),
                ("format", "xml")
            ]
        )
        .contains("json only")
    );
}
