//! `ksx-core`: the shared model and seams of ksx.
//!
//! Every other ksx crate builds on this one. It holds:
//! - [`quantity`]: Kubernetes resource quantities, parsed and printed exactly as Kubernetes does.
//! - [`clock`]: time as a seam ([`Clock`], [`SystemClock`], [`ManualClock`]).
//! - [`cluster`]: cluster access traits ([`ClusterReader`], [`ClusterWriter`], [`Evictor`], [`LogReader`]), the
//!   deterministic [`InMemoryCluster`] (the embedded default and simulator) and, with feature `kube`, a kube-rs
//!   adapter.
//! - [`metrics`]: the [`MetricsSource`] trait with [`InMemoryMetrics`] and, with feature `prometheus`, a
//!   Prometheus HTTP API adapter.
//! - [`rolling`]: the pure Deployment and StatefulSet rolling-update arithmetic (surge rounded up, unavailable
//!   rounded down), shared by the simulator and later rollout engines.
//! - [`tenancy`]: workspaces, projects, roles and the scope check.
//! - [`manifest`]: reading YAML/JSON manifests into objects, with errors that name file, document and field.
//! - [`error`]: the crate's error type.
//!
//! Features: `kube` (kube-rs adapter), `prometheus` (Prometheus adapter), `runtime` (controller helpers: kube-rs
//! runtime, Lease leader election, health and metrics endpoints). The default build has none of them.
//!
//! Quantities parse and print as Kubernetes does:
//!
//! ```
//! use ksx_core::quantity::Quantity;
//!
//! let q: Quantity = "1500m".parse()?;
//! assert_eq!(q.to_string(), "1500m");
//! assert_eq!(q.milli_value(), 1500);
//! assert_eq!("0.5Gi".parse::<Quantity>()?.to_string(), "512Mi");
//! # Ok::<(), ksx_core::Error>(())
//! ```
//!
//! The in-memory cluster runs real controllers; engines see it only through the seam traits:
//!
//! ```
//! use std::time::Duration;
//! use k8s_openapi::api::apps::v1::Deployment;
//! use ksx_core::cluster::{ClusterWriter, Object, TypedExt};
//! use ksx_core::{InMemoryCluster, ManualClock};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let cluster = InMemoryCluster::new(ManualClock::at_unix_secs(1_767_225_600), 7);
//! cluster.add_node("node-a", "8", "32Gi")?;
//! let web: Deployment = serde_json::from_value(serde_json::json!({
//!     "metadata": {"name": "web", "namespace": "shop"},
//!     "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
//!              "template": {"metadata": {"labels": {"app": "web"}},
//!                           "spec": {"containers": [{"name": "web", "image": "web:1"}]}}}
//! })).unwrap();
//! cluster.create(Object::Deployment(web)).await?;
//! cluster.advance(Duration::from_secs(30));
//! let web: Deployment = cluster.get_typed(Some("shop"), "web").await?.unwrap();
//! assert_eq!(web.status.unwrap().ready_replicas, Some(3));
//! # Ok::<(), ksx_core::Error>(())
//! # }).unwrap();
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod clock;
pub mod cluster;
pub mod error;
pub mod manifest;
pub mod metrics;
pub mod persist;
pub mod quantity;
pub mod rolling;
#[cfg(feature = "runtime")]
#[cfg_attr(docsrs, doc(cfg(feature = "runtime")))]
pub mod runtime;
pub mod tenancy;

pub use clock::{Clock, ManualClock, SystemClock};
pub use cluster::memory::InMemoryCluster;
pub use cluster::{ClusterReader, ClusterWriter, Evictor, Kind, LogReader, Object};
pub use error::{Error, Result};
pub use metrics::MetricsSource;
pub use metrics::memory::InMemoryMetrics;
