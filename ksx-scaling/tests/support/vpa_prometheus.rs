//! Shared by `ksx-scaling/tests/vpa_history.rs` and `examples/tests/vpa_report.rs` (through `#[path]`): a synthetic
//! cluster history with hand-computed VPA answers, and a private Prometheus backfilled with it by `promtool`
//! (the approach of `ksx-core/tests/prometheus.rs`; install both with `scripts/prometheus.sh`, override the binaries
//! with `KSX_PROMETHEUS_BIN` and `KSX_PROMTOOL_BIN`).
//!
//! The history (three days, a scrape every 60 s, ending at [`NOW`]):
//!
//! | namespace/pod | container | CPU | working set | requests | limits | other |
//! |---|---|---|---|---|---|---|
//! | shop/web-5d8f6c7b9d-x2x7q, shop/web-5d8f6c7b9d-kq4zt | app | 0.25 cores | 500 MB | 1 core, 1 GiB | 2 cores, 1 GiB | 10 CFS periods/s, none throttled |
//! | shop/db-0 | postgres | 0.5 cores | 2 GB | 250m, 1 GB | 1 core, 2 GiB | OOMKilled from day 2; half the CFS periods throttled |
//! | shop/db-0 | `POD`, `""` | 1 core | 1 GB | | | skipped: sandbox and pod cgroup |
//! | other/lonely | c | 0.1 cores | 100 MB | | | another namespace |
//!
//! kube-state-metrics' `kube_pod_labels` gives the web pods `app=web` and db-0 `app=db`.
#![allow(dead_code, reason = "each test file uses a part of the support module")]
#![allow(
    clippy::unwrap_used,
    reason = "test support: a failed unwrap is a failed test"
)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use ksx_core::metrics::conformance::{Family, FamilyKind, Fixture};
use ksx_core::metrics::{Sample, Series};

/// The first scrape: 2025-01-01T00:00:00Z.
pub(crate) const T0_SECS: i64 = 1_735_689_600;
/// The last scrape and the report's "now": three days later.
pub(crate) const NOW_SECS: i64 = T0_SECS + 3 * 86_400;
/// [`NOW_SECS`] in engine nanoseconds.
pub(crate) const NOW: i64 = NOW_SECS * 1_000_000_000;
/// Seconds between scrapes.
const SCRAPE_SECS: i64 = 60;
/// The cAdvisor job label.
pub(crate) const JOB: &str = "kubernetes-cadvisor";
const GIB: f64 = 1_073_741_824.0;

pub(crate) const WEB_PODS: [&str; 2] = ["web-5d8f6c7b9d-x2x7q", "web-5d8f6c7b9d-kq4zt"];

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(secs).unwrap()
}

/// One series from T0 to NOW every scrape, `value(seconds since T0)`; `from` skips earlier scrapes.
fn series(name: &str, pairs: &[(&str, &str)], from: i64, value: impl Fn(i64) -> f64) -> Series {
    let mut l = labels(pairs);
    l.insert("__name__".to_owned(), name.to_owned());
    Series {
        labels: l,
        samples: (0..=(NOW_SECS - T0_SECS) / SCRAPE_SECS)
            .map(|k| k * SCRAPE_SECS)
            .filter(|&s| s >= from)
            .map(|s| Sample {
                timestamp: at(T0_SECS + s),
                value: value(s),
            })
            .collect(),
    }
}

struct Pod {
    namespace: &'static str,
    pod: &'static str,
    container: &'static str,
    cores: f64,
    memory: f64,
    /// (cpu cores, memory bytes) requests and limits.
    requests: Option<(f64, f64)>,
    limits: Option<(f64, f64)>,
    /// CFS periods per second and throttled share.
    cfs: Option<(f64, f64)>,
    /// Seconds after T0 from which the last termination reads OOMKilled.
    oom_from: Option<i64>,
}

fn pods() -> Vec<Pod> {
    let web = |pod| Pod {
        namespace: "shop",
        pod,
        container: "app",
        cores: 0.25,
        memory: 500e6,
        requests: Some((1.0, GIB)),
        limits: Some((2.0, GIB)),
        cfs: Some((10.0, 0.0)),
        oom_from: None,
    };
    let sandbox = |container| Pod {
        namespace: "shop",
        pod: "db-0",
        container,
        cores: 1.0,
        memory: 1e9,
        requests: None,
        limits: None,
        cfs: None,
        oom_from: None,
    };
    vec![
        web(WEB_PODS[0]),
        web(WEB_PODS[1]),
        Pod {
            namespace: "shop",
            pod: "db-0",
            container: "postgres",
            cores: 0.5,
            memory: 2e9,
            requests: Some((0.25, 1e9)),
            limits: Some((1.0, 2.0 * GIB)),
            cfs: Some((10.0, 0.5)),
            oom_from: Some(2 * 86_400),
        },
        sandbox("POD"),
        sandbox(""),
        Pod {
            namespace: "other",
            pod: "lonely",
            container: "c",
            cores: 0.1,
            memory: 100e6,
            requests: None,
            limits: None,
            cfs: None,
            oom_from: None,
        },
    ]
}

/// The synthetic history as a conformance [`Fixture`] (only its families are filled), which renders itself
/// as OpenMetrics for promtool and loads into `InMemoryMetrics`.
pub(crate) fn fixture() -> Fixture {
    let mut cpu = Vec::new();
    let mut memory = Vec::new();
    let mut requests = Vec::new();
    let mut limits = Vec::new();
    let mut periods = Vec::new();
    let mut throttled = Vec::new();
    let mut terminated = Vec::new();
    let mut pod_labels = Vec::new();
    for (pod, app) in [(WEB_PODS[0], "web"), (WEB_PODS[1], "web"), ("db-0", "db")] {
        pod_labels.push(series(
            "kube_pod_labels",
            &[
                ("namespace", "shop"),
                ("pod", pod),
                ("job", "kube-state-metrics"),
                ("label_app", app),
            ],
            0,
            |_| 1.0,
        ));
    }
    for p in pods() {
        let c = [
            ("namespace", p.namespace),
            ("pod", p.pod),
            ("container", p.container),
            ("job", JOB),
        ];
        // Counters start at 0 at T0 and grow linearly.
        cpu.push(series("container_cpu_usage_seconds_total", &c, 0, |s| {
            p.cores * s as f64
        }));
        memory.push(series("container_memory_working_set_bytes", &c, 0, |_| {
            p.memory
        }));
        if let Some((per_sec, share)) = p.cfs {
            periods.push(series("container_cpu_cfs_periods_total", &c, 0, |s| {
                per_sec * s as f64
            }));
            throttled.push(series(
                "container_cpu_cfs_throttled_periods_total",
                &c,
                0,
                |s| per_sec * share * s as f64,
            ));
        }
        let ksm = |resource: &'static str, unit: &'static str| {
            [
                ("namespace", p.namespace),
                ("pod", p.pod),
                ("container", p.container),
                ("job", "kube-state-metrics"),
                ("resource", resource),
                ("unit", unit),
            ]
        };
        for (list, values, name) in [
            (
                &mut requests,
                p.requests,
                "kube_pod_container_resource_requests",
            ),
            (&mut limits, p.limits, "kube_pod_container_resource_limits"),
        ] {
            if let Some((cores, bytes)) = values {
                list.push(series(name, &ksm("cpu", "core"), 0, |_| cores));
                list.push(series(name, &ksm("memory", "byte"), 0, |_| bytes));
            }
        }
        if let Some(from) = p.oom_from {
            terminated.push(series(
                "kube_pod_container_status_last_terminated_reason",
                &[
                    ("namespace", p.namespace),
                    ("pod", p.pod),
                    ("container", p.container),
                    ("job", "kube-state-metrics"),
                    ("reason", "OOMKilled"),
                ],
                from,
                |_| 1.0,
            ));
        }
    }
    let family = |name: &str, kind, series| Family {
        name: name.to_owned(),
        kind,
        series,
    };
    Fixture {
        start: at(T0_SECS),
        end: at(NOW_SECS),
        now: at(NOW_SECS),
        namespace: "shop".to_owned(),
        other_namespace: "other".to_owned(),
        pods: Vec::new(),
        families: vec![
            family(
                "container_cpu_usage_seconds_total",
                FamilyKind::Counter,
                cpu,
            ),
            family(
                "container_memory_working_set_bytes",
                FamilyKind::Gauge,
                memory,
            ),
            family(
                "container_cpu_cfs_periods_total",
                FamilyKind::Counter,
                periods,
            ),
            family(
                "container_cpu_cfs_throttled_periods_total",
                FamilyKind::Counter,
                throttled,
            ),
            family(
                "kube_pod_container_resource_requests",
                FamilyKind::Gauge,
                requests,
            ),
            family(
                "kube_pod_container_resource_limits",
                FamilyKind::Gauge,
                limits,
            ),
            family(
                "kube_pod_container_status_last_terminated_reason",
                FamilyKind::Gauge,
                terminated,
            ),
            family("kube_pod_labels", FamilyKind::Gauge, pod_labels),
        ],
    }
}

/// How long Prometheus may take to open the backfilled blocks and report ready.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// The line Prometheus logs once the TSDB is open and the API answers.
const READY_LINE: &str = "Server is ready to receive web requests";

fn binary(env: &str, default: &str) -> PathBuf {
    std::env::var_os(env).map_or_else(|| PathBuf::from(default), PathBuf::from)
}

/// A Prometheus child process serving the backfilled history, killed (and its directory removed) when dropped.
pub(crate) struct Server {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub(crate) url: String,
    log: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl Server {
    /// The last lines Prometheus logged.
    pub(crate) fn log_tail(&self) -> String {
        let log = self.log.lock().unwrap();
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

/// Backfills `fixture` into a fresh TSDB and serves it on a free 127.0.0.1 port. Retries on another port when
/// the one picked was taken in the meantime.
pub(crate) fn serve(fixture: &Fixture) -> Server {
    let mut failures = Vec::new();
    for _ in 0..5 {
        match try_serve(fixture) {
            Ok(server) => return server,
            Err(tail) => failures.push(tail),
        }
    }
    panic!(
        "prometheus could not bind a port:\n{}",
        failures.join("\n---\n")
    );
}

/// One attempt; `Err` with the log when the port was taken.
fn try_serve(fixture: &Fixture) -> Result<Server, String> {
    let dir = tempfile::Builder::new()
        .prefix("ksx-vpa-prometheus-")
        .tempdir()
        .unwrap();
    let data = dir.path().join("data");
    let promtool = binary("KSX_PROMTOOL_BIN", "promtool");
    let input = dir.path().join("history.om");
    std::fs::write(&input, fixture.to_openmetrics()).unwrap();
    let output = Command::new(&promtool)
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&input)
        .arg(&data)
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
    let prometheus = binary("KSX_PROMETHEUS_BIN", "prometheus");
    let config = dir.path().join("prometheus.yml");
    // No scrape jobs: the server holds the backfilled history and nothing else.
    std::fs::write(&config, "global:\n  scrape_interval: 15s\n").unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let mut child = Command::new(&prometheus)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--storage.tsdb.retention.time=100y")
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
    let stderr = child.stderr.take().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let thread_log = Arc::clone(&log);
    // Drain stderr for the whole life of the process (a full pipe would block Prometheus) and report readiness.
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if line.contains(READY_LINE) {
                let _ = ready_tx.send(());
            }
            thread_log.lock().unwrap().push(line);
        }
    });
    let server = Server {
        child,
        url: format!("http://127.0.0.1:{port}"),
        log,
        _dir: dir,
    };
    match ready_rx.recv_timeout(READY_TIMEOUT) {
        Ok(()) => Ok(server),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            let tail = server.log_tail();
            if tail.contains("address already in use") {
                return Err(tail);
            }
            panic!("prometheus exited before becoming ready:\n{tail}");
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!(
            "prometheus was not ready within {READY_TIMEOUT:?}:\n{}",
            server.log_tail()
        ),
    }
}

/// A base URL nothing listens on.
pub(crate) fn dead_url() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}")
}
