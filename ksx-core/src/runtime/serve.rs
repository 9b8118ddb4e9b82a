//! The health and metrics endpoints of a controller: `/healthz`, `/readyz` and `/metrics`.
//!
//! [`serve`] runs an axum server until its shutdown future resolves. `/healthz` answers 200 while the process
//! serves at all (liveness); `/readyz` answers 200 or 503 as the shared [`Health`] handle says (readiness);
//! `/metrics` renders a `prometheus_client` [`Registry`] in the OpenMetrics text format, which Prometheus scrapes
//! natively. [`ControllerMetrics`] registers the metrics every ksx controller reports.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
use tokio::net::TcpListener;

use crate::error::{Error, Result};

/// The content type of the OpenMetrics text format that `prometheus_client` writes.
pub const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Liveness and readiness of a controller, shared between the parts that know (caches synced, leader elected)
/// and the `/readyz` endpoint. Clones share one state; a new handle starts not ready.
///
/// ```
/// use ksx_core::runtime::Health;
///
/// let health = Health::default();
/// let for_server = health.clone();
/// assert!(!for_server.is_ready());
/// health.set_ready(true);
/// assert!(for_server.is_ready());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Health {
    ready: Arc<AtomicBool>,
}

impl Health {
    /// Marks the controller ready (`/readyz` answers 200) or not (503).
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }

    /// Whether the controller is ready.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }
}

/// How a reconcile ended, the `result` label of `ksx_reconcile_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReconcileResult {
    /// The reconcile finished (`success`).
    Success,
    /// The reconcile returned an error (`error`).
    Error,
}

impl ReconcileResult {
    /// The label value: `success` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Error => "error",
        }
    }
}

impl EncodeLabelValue for ReconcileResult {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> std::fmt::Result {
        std::fmt::Write::write_str(encoder, self.as_str())
    }
}

/// Labels of `ksx_reconcile_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ReconcileLabels {
    controller: String,
    result: ReconcileResult,
}

/// Labels of `ksx_reconcile_duration_seconds`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ControllerLabels {
    controller: String,
}

/// A histogram constructor that a [`Family`] can hold as a plain function pointer.
type HistogramFn = fn() -> Histogram;

/// The standard metrics of a ksx controller. Clones share the same series.
///
/// - `ksx_reconcile_total{controller,result}`: reconciles by outcome (counter).
/// - `ksx_reconcile_duration_seconds{controller}`: reconcile durations, 5 ms to about 10 s (histogram).
/// - `ksx_leader`: 1 while this replica holds the leader Lease, else 0 (gauge).
///
/// ```
/// use std::time::Duration;
/// use ksx_core::runtime::{ControllerMetrics, ReconcileResult};
/// use prometheus_client::registry::Registry;
///
/// let mut registry = Registry::default();
/// let metrics = ControllerMetrics::register(&mut registry);
/// metrics.record_reconcile("nodegroup", ReconcileResult::Success, Duration::from_millis(40));
/// metrics.set_leader(true);
/// let mut text = String::new();
/// prometheus_client::encoding::text::encode(&mut text, &registry)?;
/// assert!(text.contains(r#"ksx_reconcile_total{controller="nodegroup",result="success"} 1"#));
/// assert!(text.contains("ksx_leader 1"));
/// # Ok::<(), std::fmt::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ControllerMetrics {
    reconcile_total: Family<ReconcileLabels, Counter>,
    reconcile_duration: Family<ControllerLabels, Histogram, HistogramFn>,
    leader: Gauge,
}

impl ControllerMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            reconcile_total: Family::default(),
            reconcile_duration: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.005, 2.0, 12))
            }),
            leader: Gauge::default(),
        };
        registry.register(
            "ksx_reconcile",
            "Reconciles by controller and result",
            metrics.reconcile_total.clone(),
        );
        registry.register_with_unit(
            "ksx_reconcile_duration",
            "Time spent in one reconcile",
            Unit::Seconds,
            metrics.reconcile_duration.clone(),
        );
        registry.register(
            "ksx_leader",
            "1 while this replica holds the leader Lease, else 0",
            metrics.leader.clone(),
        );
        metrics
    }

    /// Records one reconcile of `controller`: its outcome and how long it took.
    pub fn record_reconcile(&self, controller: &str, result: ReconcileResult, duration: Duration) {
        self.reconcile_total
            .get_or_create(&ReconcileLabels {
                controller: controller.to_owned(),
                result,
            })
            .inc();
        self.reconcile_duration
            .get_or_create(&ControllerLabels {
                controller: controller.to_owned(),
            })
            .observe(duration.as_secs_f64());
    }

    /// Sets `ksx_leader`.
    pub fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }

    /// Whether `ksx_leader` is set.
    pub fn is_leader(&self) -> bool {
        self.leader.get() == 1
    }
}

/// State shared by the handlers.
#[derive(Debug, Clone)]
struct Shared {
    health: Health,
    registry: Arc<Registry>,
}

/// The router with `/healthz`, `/readyz` and `/metrics`, for binaries that merge further routes into it.
pub fn router(health: Health, registry: Arc<Registry>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(Shared { health, registry })
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(shared): State<Shared>) -> (StatusCode, &'static str) {
    if shared.health.is_ready() {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    }
}

async fn metrics(State(shared): State<Shared>) -> Response {
    let mut text = String::new();
    match prometheus_client::encoding::text::encode(&mut text, &shared.registry) {
        Ok(()) => ([(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)], text).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot encode metrics");
            (StatusCode::INTERNAL_SERVER_ERROR, "cannot encode metrics").into_response()
        }
    }
}

/// Serves `/healthz`, `/readyz` and `/metrics` on `addr` until `shutdown` resolves, then finishes the requests in
/// flight and returns.
///
/// # Errors
/// [`Error::Io`] (with the address as its path) when the address cannot be bound or the server fails.
pub async fn serve<S>(
    addr: SocketAddr,
    health: Health,
    registry: Arc<Registry>,
    shutdown: S,
) -> Result<()>
where
    S: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| io_error(addr, source))?;
    serve_on(listener, health, registry, shutdown).await
}

/// As [`serve`], on a listener the caller bound (port 0 in tests, or a socket handed over by the system).
///
/// # Errors
/// [`Error::Io`] when the server fails.
pub async fn serve_on<S>(
    listener: TcpListener,
    health: Health,
    registry: Arc<Registry>,
    shutdown: S,
) -> Result<()>
where
    S: Future<Output = ()> + Send + 'static,
{
    let addr = listener.local_addr().map_err(|source| Error::Io {
        path: PathBuf::from("tcp listener"),
        source,
    })?;
    tracing::info!(%addr, "serving /healthz, /readyz and /metrics");
    axum::serve(listener, router(health, registry))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|source| io_error(addr, source))
}

fn io_error(addr: SocketAddr, source: std::io::Error) -> Error {
    Error::Io {
        path: PathBuf::from(format!("tcp://{addr}")),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    use tokio::sync::oneshot;

    /// A plain HTTP/1.1 GET; returns the status code and the body.
    async fn http_get(addr: SocketAddr, path: &str) -> (u16, String, String) {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        (status, head.to_owned(), body.to_owned())
    }

    #[tokio::test]
    async fn endpoints_answer_over_http() {
        let mut registry = Registry::default();
        let metrics = ControllerMetrics::register(&mut registry);
        let health = Health::default();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(serve_on(
            listener,
            health.clone(),
            Arc::new(registry),
            async {
                let _ = stopped.await;
            },
        ));

        let (status, _, body) = http_get(addr, "/healthz").await;
        assert_eq!((status, body.as_str()), (200, "ok"));

        let (status, _, _) = http_get(addr, "/readyz").await;
        assert_eq!(status, 503);
        health.set_ready(true);
        let (status, _, _) = http_get(addr, "/readyz").await;
        assert_eq!(status, 200);

        metrics.record_reconcile(
            "nodegroup",
            ReconcileResult::Success,
            Duration::from_millis(20),
        );
        metrics.record_reconcile(
            "nodegroup",
            ReconcileResult::Error,
            Duration::from_millis(3),
        );
        metrics.set_leader(true);
        let (status, head, body) = http_get(addr, "/metrics").await;
        assert_eq!(status, 200);
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: application/openmetrics-text"),
            "{head}"
        );
        assert!(
            body.contains(r#"ksx_reconcile_total{controller="nodegroup",result="success"} 1"#),
            "{body}"
        );
        assert!(
            body.contains(r#"ksx_reconcile_total{controller="nodegroup",result="error"} 1"#),
            "{body}"
        );
        assert!(
            body.contains(r#"ksx_reconcile_duration_seconds_count{controller="nodegroup"} 2"#),
            "{body}"
        );
        assert!(body.contains("ksx_leader 1"), "{body}");
        assert!(body.ends_with("# EOF\n"), "{body}");

        let (status, _, _) = http_get(addr, "/nope").await;
        assert_eq!(status, 404);

        stop.send(()).unwrap();
        server.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn serve_reports_an_address_in_use() {
        let taken = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = taken.local_addr().unwrap();
        let err = serve(
            addr,
            Health::default(),
            Arc::new(Registry::default()),
            async {},
        )
        .await
        .unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err}");
        assert!(
            err.to_string().starts_with(&format!("tcp://{addr}: ")),
            "{err}"
        );
    }

    #[test]
    fn leader_gauge_follows_set_leader() {
        let metrics = ControllerMetrics::register(&mut Registry::default());
        assert!(!metrics.is_leader());
        metrics.set_leader(true);
        assert!(metrics.clone().is_leader());
        metrics.set_leader(false);
        assert!(!metrics.is_leader());
    }
}
