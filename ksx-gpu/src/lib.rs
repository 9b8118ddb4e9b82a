//! `ksx-gpu`: node groups and the ksx scheduler, with kube-scheduler semantics.
//!
//! The scheduler is a pure engine: a [`Snapshot`] of nodes and bound pods, a [`Profile`] of plugins and weights,
//! pending pods in, decisions with reasons out. No I/O, no clock, no randomness; nodes are kept in name order so
//! input order never changes a result, and equal totals go to the smallest node name.
//!
//! - [`resources`]: resource names and pod requests (init containers, sidecars, pod-level requests, overhead,
//!   the 100m/200Mi scoring defaults), summed exactly as [`ksx_core::quantity::Quantity`] values.
//! - [`snapshot`]: [`Snapshot`], nodes with dense `i64` resource vectors and interned resource names,
//!   [`PodInfo`](snapshot::PodInfo) with precomputed requests, incremental `bind`/`unbind`.
//! - [`plugins`]: NodeResourcesFit (filter; LeastAllocated, MostAllocated, RequestedToCapacityRatio),
//!   NodeResourcesBalancedAllocation, TaintToleration, NodeUnschedulable, NodeAffinity with `nodeSelector`, and
//!   the default score normalizer.
//! - [`nodegroup`]: [`NodeGroup`](nodegroup::NodeGroup) specs bound to workspaces, validation, membership, the
//!   admission-style [`mutate_pod`](nodegroup::mutate_pod) and the `NodeGroupAffinity` plugin.
//! - [`device`]: GPU/vGPU devices: the `gpu.ksx.io/devices` node registration (HAMi's
//!   `hami.io/node-nvidia-register` JSON also read) and the extended resources it yields (`nvidia.com/gpu`,
//!   `ksx.io/vgpu`, `ksx.io/vgpu-memory`, `ksx.io/vgpu-cores`, `nvidia.com/mig-<profile>`); pod requests (whole
//!   GPUs, vGPU shares with memory and cores, MIG slices); the pure allocation function (binpack or spread,
//!   NUMA-aware, never over-committing memory, cores, slots or slices) with its `gpu.ksx.io/allocated` record
//!   and exact release; [`GpuTable`](device::GpuTable), the device state of a snapshot; the `GpuFit` filter and
//!   `GpuBinpack` / `GpuSpread` scores that [`Scheduler::with_gpus`] turns on.
//! - [`framework`]: [`Scheduler`]: filter from a rotating index, `percentageOfNodesToScore`, score, normalize,
//!   weigh, bind (and bind to a given node, unbind). `decide` runs a fast path (static filters and scores cached
//!   per pod class, changing numbers read from the snapshot's [`NodeColumns`](snapshot::NodeColumns), one fused
//!   division-free fit/score/pick loop in the default profile, each pod's candidates split over a rayon pool per
//!   `schedule_all` batch when `parallelism > 1`); `decide_reference` keeps the straightforward path it is tested
//!   against.
//! - [`score`]: the `ksx sched score` contract.
//! - [`place`]: the `ksx sched place` contract: a batch of pending pods placed with node groups, GPU devices and
//!   a Volcano-like queue subset (closed queues, capability), with `podsPerSecond` and `nodesEvaluated`.
//! - [`error`]: the crate's error type.
//! - `server` (feature `server`): the kube-scheduler extender HTTP server (axum): `/filter`, `/prioritize`,
//!   `/bind` with the upstream `k8s.io/kube-scheduler/extender/v1` wire keys, `/healthz`, served from a
//!   scheduler held in `ExtenderState` and binding through the `ksx-core` `ClusterWriter` seam; plus a small load
//!   generator.
//!
//! Features: `server` (axum, tokio); `nvml` (`nvml-wrapper`): `device::nvml::discover` reads the local GPUs
//! through NVML, loaded at run time so that builds need no NVIDIA driver, behind the
//! [`DeviceDiscovery`](device::DeviceDiscovery) seam whose in-memory implementation is
//! [`StaticDiscovery`](device::StaticDiscovery).
//!
//! ```
//! use k8s_openapi::api::core::v1::{Node, Pod};
//! use ksx_gpu::framework::{Decision, Profile, Scheduler};
//! use ksx_gpu::nodegroup::{GroupContext, NodeGroups, mutate_pod};
//! use ksx_gpu::snapshot::Snapshot;
//!
//! let node = |name: &str, pool: &str| -> Node {
//!     serde_json::from_value(serde_json::json!({
//!         "metadata": {"name": name, "labels": {"pool": pool}},
//!         "status": {"allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110"}}
//!     })).unwrap()
//! };
//! let mut nodes = vec![node("gpu-1", "gpu"), node("cpu-1", "cpu"), node("cpu-2", "cpu")];
//!
//! // One exclusive group for the `ai` workspace; its nodes get the label and the NoSchedule taint.
//! let groups = NodeGroups::new(serde_json::from_value(serde_json::json!([
//!     {"name": "gpu", "exclusive": true, "members": {"nodeSelector": {"matchLabels": {"pool": "gpu"}}},
//!      "workspaces": [{"name": "ai"}]}
//! ]))?)?;
//! groups.label_nodes(&mut nodes)?;
//! let mut context = GroupContext::default();
//! context.workspaces.insert("training".into(), "ai".into());
//!
//! // A pod of the bound workspace gets the group's affinity and toleration at admission.
//! let mut pod: Pod = serde_json::from_value(serde_json::json!({
//!     "metadata": {"name": "trainer", "namespace": "training"},
//!     "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "2", "memory": "4Gi"}}}]}
//! }))?;
//! mutate_pod(&mut pod, &groups, &context)?;
//!
//! let snapshot = Snapshot::new(&nodes, &[])?;
//! let mut scheduler = Scheduler::new(snapshot, Profile::default()).with_node_groups(groups, context)?;
//! let decisions = scheduler.schedule_all(&[pod])?;
//! assert!(matches!(&decisions[0].1, Decision::Scheduled { node, .. } if node == "gpu-1"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod device;
pub mod error;
pub mod framework;
pub mod nodegroup;
pub mod place;
pub mod plugins;
pub mod resources;
pub mod score;
#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub mod server;
pub mod snapshot;

pub use error::{Error, Result};
pub use framework::{Decision, Profile, Scheduler};
pub use snapshot::Snapshot;
