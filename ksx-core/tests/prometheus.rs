//! `PrometheusMetrics` against a real Prometheus: the conformance fixture is backfilled with `promtool`, served by a
//! `prometheus` child process on a free 127.0.0.1 port, and checked exactly (install both with
//! `scripts/prometheus.sh`; override the binaries with `KSX_PROMETHEUS_BIN` and `KSX_PROMTOOL_BIN`).
#![cfg(feature = "prometheus")]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use ksx_core::Error;
use ksx_core::clock::ManualClock;
use ksx_core::metrics::conformance::{self, Fixture, approx_eq};
use ksx_core::metrics::prometheus::PrometheusMetrics;
use ksx_core::metrics::{Sample, Series};

/// How long Prometheus may take to open the backfilled blocks and report ready.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The line Prometheus logs once the TSDB is open and the API answers.
const READY_LINE: &str = "Server is ready to receive web requests";

fn binary(env: &str, default: &str) -> PathBuf {
    std::env::var_os(env).map_or_else(|| PathBuf::from(default), PathBuf::from)
}

/// A Prometheus child process, killed when dropped.
struct Server {
    child: Child,
    url: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn log_tail(&self) -> String {
        let log = self.log.lock().expect("log lock");
        log.iter()
            .rev()
            .take(40)
            .rev()
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes the fixture as OpenMetrics and turns it into TSDB blocks under `data`.
fn backfill(fixture: &Fixture, dir: &Path, data: &Path) {
    let promtool = binary("KSX_PROMTOOL_BIN", "promtool");
    let input = dir.join("fixture.om");
    std::fs::write(&input, fixture.to_openmetrics()).expect("write the OpenMetrics file");
    let output = Command::new(&promtool)
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&input)
        .arg(data)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {}: {e}\nInstall Prometheus with scripts/prometheus.sh or point KSX_PROMTOOL_BIN at promtool",
                promtool.display()
            )
        });
    assert!(
        output.status.success(),
        "promtool failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free port on 127.0.0.1")
        .port()
}

/// Starts Prometheus on `data` and waits until it logs that it is ready. Retries on another port when the one
/// picked was taken in the meantime.
async fn start(dir: &Path, data: &Path) -> Server {
    let prometheus = binary("KSX_PROMETHEUS_BIN", "prometheus");
    let config = dir.join("prometheus.yml");
    // No scrape jobs: the server holds the backfilled history and nothing else.
    std::fs::write(&config, "global:\n  scrape_interval: 15s\n").expect("write prometheus.yml");
    let mut failures = Vec::new();
    for _ in 0..5 {
        let port = free_port();
        let mut child = Command::new(&prometheus)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            // The fixture lies in the past; retention is measured from the newest block, but be generous.
            .arg("--storage.tsdb.retention.time=100y")
            .arg("--log.level=info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run {}: {e}\nInstall Prometheus with scripts/prometheus.sh or point KSX_PROMETHEUS_BIN at it",
                    prometheus.display()
                )
            });
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let thread_log = Arc::clone(&log);
        // Drain stderr for the whole life of the process (a full pipe would block Prometheus) and report readiness.
        std::thread::spawn(move || {
            let mut ready = Some(ready_tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if line.contains(READY_LINE)
                    && let Some(tx) = ready.take()
                {
                    let _ = tx.send(());
                }
                thread_log.lock().expect("log lock").push(line);
            }
        });
        let server = Server {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
        };
        match tokio::time::timeout(READY_TIMEOUT, ready_rx).await {
            Ok(Ok(())) => return server,
            Ok(Err(_)) => {
                // Stderr closed: the process exited. Try another port if that was the reason.
                let tail = server.log_tail();
                if tail.contains("address already in use") {
                    failures.push(tail);
                    continue;
                }
                panic!("prometheus exited before becoming ready:\n{tail}");
            }
            Err(_) => panic!(
                "prometheus was not ready within {READY_TIMEOUT:?}:\n{}",
                server.log_tail()
            ),
        }
    }
    panic!(
        "prometheus could not bind a port:\n{}",
        failures.join("\n---\n")
    );
}

fn at(fixture: &Fixture, secs: i64) -> Timestamp {
    fixture
        .start
        .checked_add(jiff::SignedDuration::from_secs(secs))
        .expect("fixture times are in range")
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[track_caller]
fn assert_series(got: &[Series], expected: &[Series]) {
    let same = got.len() == expected.len()
        && got.iter().zip(expected).all(|(g, e)| {
            g.labels == e.labels
                && g.samples.len() == e.samples.len()
                && g.samples
                    .iter()
                    .zip(&e.samples)
                    .all(|(a, b)| a.timestamp == b.timestamp && approx_eq(a.value, b.value))
        });
    assert!(same, "got {got:#?}\nexpected {expected:#?}");
}

fn series(labels: BTreeMap<String, String>, points: &[(Timestamp, f64)]) -> Series {
    Series {
        labels,
        samples: points
            .iter()
            .map(|&(timestamp, value)| Sample { timestamp, value })
            .collect(),
    }
}

#[tokio::test]
async fn prometheus_passes_the_conformance_check() {
    // A fixed start keeps every run identical; the server evaluates at the fixture's clock, not the wall clock.
    let fixture = conformance::fixture(Timestamp::from_second(1_735_689_600).unwrap());
    let dir = tempfile::Builder::new()
        .prefix("ksx-prometheus-")
        .tempdir()
        .unwrap();
    let data = dir.path().join("data");
    backfill(&fixture, dir.path(), &data);
    let server = start(dir.path(), &data).await;

    let prom = PrometheusMetrics::new(&server.url)
        .unwrap()
        .with_bearer_token("ignored-by-prometheus")
        .with_clock(Arc::new(ManualClock::new(fixture.now)));
    if let Err(failures) = conformance::check_metrics_source(&prom, &fixture).await {
        panic!(
            "conformance failures:\n{failures}\n\nprometheus log:\n{}",
            server.log_tail()
        );
    }

    let ns = fixture.namespace.as_str();
    // A vector with one element and no labels, at the clock's time.
    let got = prom
        .instant_query(&format!("sum(queue_depth{{namespace=\"{ns}\"}})"))
        .await
        .unwrap();
    assert_series(&got, &[series(BTreeMap::new(), &[(fixture.now, 132.0)])]);
    // A scalar.
    let got = prom
        .instant_query(&format!(
            "scalar(queue_depth{{namespace=\"{ns}\",queue=\"jobs\"}})"
        ))
        .await
        .unwrap();
    assert_series(&got, &[series(BTreeMap::new(), &[(fixture.now, 129.0)])]);
    // At another instant, with the metric name kept.
    let jobs = labels(&[
        ("__name__", "queue_depth"),
        ("namespace", ns),
        ("queue", "jobs"),
    ]);
    let got = prom
        .instant_query_at(
            &format!("queue_depth{{namespace=\"{ns}\",queue=\"jobs\"}}"),
            at(&fixture, 60),
        )
        .await
        .unwrap();
    assert_series(
        &got,
        std::slice::from_ref(&series(jobs.clone(), &[(at(&fixture, 60), 14.0)])),
    );
    // A matrix from an instant query of a range selector: the raw samples.
    let got = prom
        .instant_query_at(
            &format!("queue_depth{{namespace=\"{ns}\",queue=\"jobs\"}}[31s]"),
            at(&fixture, 60),
        )
        .await
        .unwrap();
    assert_series(
        &got,
        &[series(
            jobs,
            &[
                (at(&fixture, 30), 12.0),
                (at(&fixture, 45), 13.0),
                (at(&fixture, 60), 14.0),
            ],
        )],
    );
    // A range query of an aggregation, across web-1's counter reset at 1200 s.
    let got = prom
        .range_query(
            &format!("sum by (pod) (rate(http_requests_total{{namespace=\"{ns}\"}}[1m]))"),
            at(&fixture, 337),
            at(&fixture, 1237),
            Duration::from_secs(450),
        )
        .await
        .unwrap();
    let steps = |v: f64| {
        [
            (at(&fixture, 337), v),
            (at(&fixture, 787), v),
            (at(&fixture, 1237), v),
        ]
    };
    assert_series(
        &got,
        &[
            series(labels(&[("pod", "web-0")]), &steps(10.0)),
            series(labels(&[("pod", "web-1")]), &steps(20.0)),
        ],
    );
    // An API error names the server, the query and Prometheus' error type.
    match prom.instant_query("sum(").await {
        Err(e @ Error::Prometheus { .. }) => {
            let text = e.to_string();
            assert!(
                text.contains(&server.url) && text.contains("sum(") && text.contains("bad_data"),
                "{text}"
            );
        }
        other => panic!("expected a Prometheus error, got {other:?}"),
    }

    drop(server);
    dir.close().unwrap();
}
