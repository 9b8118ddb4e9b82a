//! Controller runtime helpers for the ksx controller binaries.
//!
//! ksx controllers are built on kube-rs' runtime (`kube::runtime`): a `Controller` drives reconciles from a
//! `watcher` stream into a `reflector` cache, retries with the error policy, and requeues. This module adds what
//! every ksx controller binary needs around it:
//! - [`LeaderElector`] ([`leader`]): Lease-based leader election, so only one replica reconciles at a time;
//! - [`serve()`] ([`mod@serve`]): `/healthz`, `/readyz` (flipped through a shared [`Health`]) and `/metrics`;
//! - [`ControllerMetrics`]: `ksx_reconcile_total`, `ksx_reconcile_duration_seconds` and `ksx_leader`;
//! - [`shutdown_signal`]: a future that resolves on ctrl-c or SIGTERM.
//!
//! A binary assembles them like this: the server runs from the start (so probes answer while the replica waits
//! for the Lease), readiness turns on once the process is set up, and the `Controller` runs only while this
//! replica leads. Every part stops on the same shutdown signal; `FutureExt::shared` lets one signal feed them all.
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! use futures::{FutureExt, StreamExt};
//! use k8s_openapi::api::apps::v1::Deployment;
//! use kube::runtime::controller::{Action, Controller};
//! use kube::runtime::watcher;
//! use kube::{Api, Client};
//! use ksx_core::runtime::{ControllerMetrics, Health, LeaderElector, ReconcileResult, serve, shutdown_signal};
//! use prometheus_client::registry::Registry;
//!
//! async fn reconcile(deployment: Arc<Deployment>, metrics: Arc<ControllerMetrics>) -> ksx_core::Result<Action> {
//!     // Decide with a pure engine, then write through the cluster seams.
//!     let _ = deployment;
//!     metrics.record_reconcile("example", ReconcileResult::Success, Duration::ZERO);
//!     Ok(Action::requeue(Duration::from_secs(300)))
//! }
//!
//! fn error_policy(_: Arc<Deployment>, _: &ksx_core::Error, metrics: Arc<ControllerMetrics>) -> Action {
//!     metrics.record_reconcile("example", ReconcileResult::Error, Duration::ZERO);
//!     Action::requeue(Duration::from_secs(30))
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let client = Client::try_default().await?;
//!     let shutdown = shutdown_signal().shared();
//!
//!     let mut registry = Registry::default();
//!     let metrics = ControllerMetrics::register(&mut registry);
//!     let health = Health::default();
//!     let server = tokio::spawn(serve(
//!         "0.0.0.0:8080".parse()?,
//!         health.clone(),
//!         Arc::new(registry),
//!         shutdown.clone(),
//!     ));
//!     health.set_ready(true);
//!
//!     let context = Arc::new(metrics.clone());
//!     LeaderElector::new("example-controller", "ksx-system")
//!         .with_metrics(metrics)
//!         .run_as_leader(client.clone(), shutdown, || {
//!             Controller::new(Api::<Deployment>::all(client.clone()), watcher::Config::default())
//!                 .run(reconcile, error_policy, context.clone())
//!                 .for_each(|_| async {})
//!         })
//!         .await?;
//!     server.await??;
//!     Ok(())
//! }
//! ```

pub mod leader;
pub mod serve;

pub use leader::{LeaderElector, default_identity};
pub use serve::{ControllerMetrics, Health, ReconcileResult, router, serve, serve_on};

/// A future that resolves when the process is asked to stop: ctrl-c (SIGINT) or, on Unix, SIGTERM (what the
/// kubelet sends). The handlers are installed when the future is first polled, so poll it early (hand it to
/// [`serve()`] or `tokio::spawn`, or `FutureExt::shared` it). If a handler cannot be installed, that signal is
/// logged and ignored; the other still works.
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %error, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(error = %error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!(signal = "SIGINT", "shutting down"),
        () = terminate => tracing::info!(signal = "SIGTERM", "shutting down"),
    }
}
