//! `ksx-cache`: Fluid-style dataset cache planner and read-through block cache of ksx.
//!
//! This round holds the pure engines the data path and the planner will build on:
//! - [`policy`]: the [`EvictionPolicy`] trait and its engines, [`policy::Lru`], [`policy::Fifo`],
//!   [`policy::Clock`], [`policy::Sieve`], [`policy::S3Fifo`] (the data path's default), [`policy::Arc`],
//!   [`policy::WTinyLfu`], and the simulator-only bound [`policy::Belady`]. Every policy admits the requested
//!   object on a miss, keeps `used() <= capacity()` (bytes, or objects for unit sizes) and is deterministic.
//! - [`trace`]: the trace file format ([`trace::Trace::parse`], errors at `file:line`), seeded generators
//!   ([`trace::generate`]: Zipf, scan-mixed, loop, ML epochs) and the static hindsight optimum.
//! - [`sim`]: [`sim::simulate`], which replays one trace through each policy (what `ksx cache simulate` runs).
//! - [`model`]: the `cache.ksx.io/v1alpha1` specs, [`model::Dataset`] and [`model::CacheRuntime`] (serde,
//!   camelCase, unknown fields rejected), with Fluid's field names.
//! - [`resolve`]: checks of those specs: mount points by scheme ([`resolve::parse_mount_point`]), tiers sorted
//!   MEM < SSD < HDD with per-path quotas and watermarks ([`resolve::resolve_tiers`]), binding by name.
//! - [`placement`]: [`placement::plan`] places cache workers on nodes by readiness, node affinity, placement
//!   conflicts and capacity, with scores and reasons (what `ksx cache plan` runs).
//! - [`engine`]: Alluxio, Jindo and JuiceFS properties rendered from the checked tiers (`--engine`).
//! - [`status`]: the dataset status formulas (cached percentage, hit and throughput ratios from counter
//!   deltas, `capacity_used_rate`) and [`status::HitRatioTracker`].
//! - [`dataload`]: the DataLoad spec, its checks and phase machine, the block planner, the next `Cron` run and
//!   (feature `store`) `dataload::run_dataload`, which warms a `CachedStore`.
//! - [`affinity`]: [`affinity::mutate_pod`], cache-affinity node terms for pods that use datasets.
//! - [`error`]: the crate's error type; spec errors name the object and the field.
//!
//! No module above does I/O, reads a clock or uses unseeded randomness. The data path, `store` (feature `store`,
//! on by default), is the exception by design: `store::CachedStore` is a read-through block cache over any
//! `object_store::ObjectStore` (memory and disk tiers, checksums, single-flight, read-ahead, `ksx_cache_*`
//! metrics), and its tiers drive the same [`EvictionPolicy`] engines as the simulator.
//!
//! Replaying a trace through a policy and through the simulator:
//!
//! ```
//! use ksx_cache::policy::{EvictionPolicy, Lru};
//! use ksx_cache::sim::simulate;
//! use ksx_cache::trace::Trace;
//! use ksx_cache::PolicyKind;
//!
//! let mut lru = Lru::new(2);
//! assert!(!lru.access(&"a", 1).hit);
//! assert!(!lru.access(&"b", 1).hit);
//! assert!(lru.access(&"a", 1).hit);
//! assert_eq!(lru.access(&"c", 1).evicted, ["b"]);
//!
//! let trace = Trace::parse("t.trace", b"a\nb\nc\na\nb\nc\n")?;
//! let report = simulate(&trace, 2, &PolicyKind::parse_list("lru,belady")?)?;
//! assert_eq!((report.policies[0].hits, report.policies[1].hits), (0, 2));
//! # Ok::<(), ksx_cache::Error>(())
//! ```

pub mod affinity;
pub mod dataload;
pub mod engine;
pub mod error;
pub mod model;
pub mod placement;
pub mod policy;
pub mod resolve;
#[cfg(feature = "s3")]
#[cfg_attr(docsrs, doc(cfg(feature = "s3")))]
pub mod s3;
pub mod sim;
pub mod status;
#[cfg(feature = "store")]
#[cfg_attr(docsrs, doc(cfg(feature = "store")))]
pub mod store;
pub mod trace;

pub use error::{Error, Result};
pub use policy::{Access, EvictionPolicy, PolicyKind};
