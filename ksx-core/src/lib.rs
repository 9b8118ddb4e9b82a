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
//! - [`tenancy`]: workspaces, projects, roles and the scope check.
//! - [`manifest`]: reading YAML/JSON manifests into objects, with errors that name file, document and field.
//! - [`error`]: the crate's error type.
//!
//! Features: `kube` (kube-rs adapter), `prometheus` (Prometheus adapter), `runtime` (controller helpers: kube-rs
//! runtime, Lease leader election, health and metrics endpoints). The default build has none of them.
//!
//! ```
//! use ksx_core::quantity::Quantity;
//!
//! let q: Quantity = "1500m".parse()?;
//! assert_eq!(q.to_string(), "1500m");
//! assert_eq!(q.milli_value(), 1500);
//! # Ok::<(), ksx_core::Error>(())
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod clock;
pub mod cluster;
pub mod error;
pub mod manifest;
pub mod metrics;
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
