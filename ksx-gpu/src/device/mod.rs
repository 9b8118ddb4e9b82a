//! GPU and vGPU devices: registration, pod requests, allocation and the `GpuFit` / `GpuBinpack` / `GpuSpread`
//! plugins (scheduling.md §2, design decisions D3 and D7).
//!
//! **Registration.** A node lists its GPUs in the annotation `gpu.ksx.io/devices`, a JSON array modelled on
//! HAMi's `hami.io/node-nvidia-register` (which is read, JSON form, when the ksx annotation is absent):
//!
//! ```json
//! [{"uuid": "GPU-0", "index": 0, "model": "NVIDIA-A100-SXM4-80GB", "memoryMiB": 81920, "cores": 100,
//!   "numa": 0, "splitCount": 10, "healthy": true},
//!  {"uuid": "GPU-1", "index": 1, "model": "NVIDIA-A100-SXM4-80GB", "memoryMiB": 81920, "numa": 1,
//!   "mig": [{"profile": "1g.10gb", "count": 2}, {"profile": "2g.20gb", "count": 1}, {"profile": "3g.40gb", "count": 1}]}]
//! ```
//!
//! `cores` defaults to 100, `numa` to 0, `splitCount` to 10, `healthy` to true; a non-empty `mig` (the applied
//! layout) puts the device in MIG mode. [`register_node`] turns the list into extended resources:
//! `nvidia.com/gpu`, `ksx.io/vgpu`, `ksx.io/vgpu-memory`, `ksx.io/vgpu-cores` and `nvidia.com/mig-<profile>`.
//!
//! **Requests** ([`GpuRequest`], per app container): `nvidia.com/gpu: N` for whole GPUs; `ksx.io/vgpu: N` with
//! `ksx.io/vgpu-memory` (MiB per share) or `ksx.io/vgpu-memory-percentage`, and `ksx.io/vgpu-cores` (percent)
//! for shares (HAMi's `nvidia.com/gpumem`, `gpumem-percentage`, `gpucores` under ksx names; no memory means the
//! whole card, as in HAMi); `nvidia.com/mig-<profile>: N` for MIG slices. Pod annotations
//! `gpu.ksx.io/policy: binpack|spread` and `gpu.ksx.io/numa-bind: "true"`.
//!
//! **Allocation** ([`NodeDevices::allocate`]) is a pure function of a node's device state; the result, an
//! [`Allocation`], is written to the pod as `gpu.ksx.io/allocated` and is the truth for usage: bound pods with
//! it add their usage when a [`GpuTable`] is built, and [`GpuTable::release`] gives it back exactly.
//!
//! **Plugins**: `GpuFit` (filter: the node has devices for every container), `GpuBinpack` (score D7:
//! `100 × (f_slot + f_core + f_mem) / 3` of the node's device usage after placing the pod, truncated) and
//! `GpuSpread` (`100 −` that). All skip pods that request no device.
//!
//! **Discovery**: the [`DeviceDiscovery`] seam, with [`StaticDiscovery`] in memory and, with the feature `nvml`,
//! `nvml::NvmlDiscovery` / `nvml::discover`, which read the local devices through NVML (loaded at run time).
//!
//! ```
//! use k8s_openapi::api::core::v1::{Node, Pod};
//! use ksx_gpu::device::{ALLOCATED_ANNOTATION, GpuTable, Policy};
//! use ksx_gpu::framework::{Decision, Profile, Scheduler};
//! use ksx_gpu::snapshot::Snapshot;
//!
//! let devices = r#"[{"uuid": "GPU-0", "index": 0, "memoryMiB": 24576}, {"uuid": "GPU-1", "index": 1, "memoryMiB": 24576}]"#;
//! let node: Node = serde_json::from_value(serde_json::json!({
//!     "metadata": {"name": "gpu-1", "annotations": {"gpu.ksx.io/devices": devices}},
//!     "status": {"allocatable": {"cpu": "16", "memory": "64Gi", "pods": "110"}}
//! }))?;
//! let pod: Pod = serde_json::from_value(serde_json::json!({
//!     "metadata": {"name": "infer", "namespace": "ai"},
//!     "spec": {"containers": [{"name": "c", "resources": {"limits": {
//!         "ksx.io/vgpu": "1", "ksx.io/vgpu-memory": "8000", "ksx.io/vgpu-cores": "30"}}}]}
//! }))?;
//! let snapshot = Snapshot::new(std::slice::from_ref(&node), &[])?;
//! let table = GpuTable::new(&snapshot, &[node], &[])?;
//! let mut scheduler = Scheduler::new(snapshot, Profile { gpu_policy: Policy::Binpack, ..Profile::default() })
//!     .with_gpus(table);
//! let decisions = scheduler.schedule_all(&[pod])?;
//! assert!(matches!(&decisions[0].1, Decision::Scheduled { node, .. } if node == "gpu-1"));
//! // The record to write to the pod as `gpu.ksx.io/allocated`.
//! let allocation = scheduler.allocation("ai/infer").expect("allocated");
//! assert_eq!(ALLOCATED_ANNOTATION, "gpu.ksx.io/allocated");
//! assert_eq!((allocation.containers[0].devices[0].uuid.as_str(), allocation.containers[0].devices[0].memory_mib),
//!            ("GPU-0", 8000));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod alloc;
mod model;
#[cfg(feature = "nvml")]
#[cfg_attr(docsrs, doc(cfg(feature = "nvml")))]
pub mod nvml;
mod request;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, Pod};

pub use alloc::{
    ALLOCATED_ANNOTATION, Allocation, ContainerGrant, DeviceUsage, Grant, GrantKind, NodeDevices,
    Unfit,
};
pub use model::{
    DEVICES_ANNOTATION, GpuDevice, HAMI_REGISTER_ANNOTATION, MIG_RESOURCE_PREFIX, MigSlot,
    RESOURCE_GPU, RESOURCE_VGPU, RESOURCE_VGPU_CORES, RESOURCE_VGPU_MEMORY,
    RESOURCE_VGPU_MEMORY_PERCENTAGE, extended_resources, is_device_resource, is_mig_profile,
    node_devices, register_node, validate,
};
pub use request::{
    ContainerRequest, DeviceRequest, GpuRequest, Memory, NUMA_BIND_ANNOTATION, POLICY_ANNOTATION,
    Policy,
};

use crate::error::{Error, Result};
use crate::snapshot::{Snapshot, pod_key};

/// The filter plugin name.
pub const GPU_FIT: &str = "GpuFit";
/// The binpack score plugin name.
pub const GPU_BINPACK: &str = "GpuBinpack";
/// The spread score plugin name.
pub const GPU_SPREAD: &str = "GpuSpread";

/// Finds the devices of the local node (the node daemon publishes them as [`DEVICES_ANNOTATION`]).
pub trait DeviceDiscovery: Send + Sync {
    /// The devices.
    ///
    /// # Errors
    /// A message when the devices cannot be read.
    fn discover(&self) -> std::result::Result<Vec<GpuDevice>, String>;
}

/// A fixed inventory: the in-memory [`DeviceDiscovery`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaticDiscovery(pub Vec<GpuDevice>);

impl DeviceDiscovery for StaticDiscovery {
    fn discover(&self) -> std::result::Result<Vec<GpuDevice>, String> {
        validate(&self.0)?;
        Ok(self.0.clone())
    }
}

/// The device state of every node of a [`Snapshot`], by node id, with the allocations of bound pods.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GpuTable {
    nodes: Vec<Option<NodeDevices>>,
    bound: BTreeMap<String, usize>,
}

impl GpuTable {
    /// Reads the devices of `nodes` (matched to the snapshot by name) and the allocation records of bound
    /// `pods` (`spec.nodeName` and [`ALLOCATED_ANNOTATION`]; bound pods without a record use no device).
    ///
    /// # Errors
    /// [`Error::InvalidObject`] for a bad device annotation (naming node and annotation) or an allocation
    /// record that does not parse or does not fit its node (naming the pod).
    pub fn new(snapshot: &Snapshot, nodes: &[Node], pods: &[Pod]) -> Result<Self> {
        let mut table = Self {
            nodes: vec![None; snapshot.len()],
            bound: BTreeMap::new(),
        };
        for node in nodes {
            let Some(name) = node.metadata.name.as_deref() else {
                continue;
            };
            let Some(id) = snapshot.node_id(name) else {
                continue;
            };
            if let Some(devices) = node_devices(node)?
                && let Some(slot) = table.nodes.get_mut(id.index())
            {
                *slot = Some(NodeDevices::new(name, devices));
            }
        }
        for pod in pods {
            let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) else {
                continue;
            };
            let Some(text) = pod
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(ALLOCATED_ANNOTATION))
            else {
                continue;
            };
            let key = pod_key(pod);
            let bad = |reason: String| Error::InvalidObject {
                object: format!("pod {key}"),
                reason: format!("annotation {ALLOCATED_ANNOTATION}: {reason}"),
            };
            let allocation: Allocation =
                serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
            let Some(id) = snapshot.node_id(node) else {
                continue;
            };
            table.commit(id.index(), &key, allocation).map_err(bad)?;
        }
        Ok(table)
    }

    /// The device state of a node (by snapshot node index); `None` without devices.
    pub fn node(&self, id: usize) -> Option<&NodeDevices> {
        self.nodes.get(id).and_then(Option::as_ref)
    }

    /// Records a pod's allocation on a node (replacing one it had anywhere).
    ///
    /// # Errors
    /// A message when the node has no devices, or the allocation names devices it lacks or over-commits one.
    pub fn commit(
        &mut self,
        id: usize,
        pod_key: &str,
        allocation: Allocation,
    ) -> std::result::Result<(), String> {
        self.release(pod_key);
        let Some(node) = self.nodes.get_mut(id).and_then(Option::as_mut) else {
            return Err(format!("node #{id} has no GPU devices"));
        };
        node.commit(pod_key, allocation)?;
        self.bound.insert(pod_key.to_owned(), id);
        Ok(())
    }

    /// Gives a pod's devices back (on unbind); returns its allocation.
    pub fn release(&mut self, pod_key: &str) -> Option<Allocation> {
        let id = self.bound.remove(pod_key)?;
        self.nodes
            .get_mut(id)
            .and_then(Option::as_mut)
            .and_then(|n| n.release(pod_key))
    }

    /// `GpuFit` for one node: the allocation, or why not. A node without devices fails every GPU request.
    ///
    /// # Errors
    /// [`Unfit`] with a reason naming the node.
    pub fn fit(
        &self,
        id: usize,
        node_name: &str,
        request: &GpuRequest,
        policy: Policy,
    ) -> std::result::Result<Allocation, Unfit> {
        match self.node(id) {
            Some(n) => n.allocate(request, policy),
            None => Err(Unfit {
                reason: format!("node {node_name} has no GPU devices"),
                unresolvable: true,
            }),
        }
    }

    /// The `GpuBinpack` raw score (0–100) of placing `allocation` on node `id`; `GpuSpread` is `100 −` it.
    pub fn binpack_score(&self, id: usize, allocation: &Allocation) -> i64 {
        self.node(id).map_or(0, |n| {
            let [s, c, m] = n.fractions(Some(allocation));
            #[allow(
                clippy::cast_possible_truncation,
                reason = "a mean of fractions in 0..=1 times 100 fits i64; truncation is the rule (D7)"
            )]
            let score = (100.0 * (s + c + m) / 3.0) as i64;
            score.clamp(0, 100)
        })
    }
}

/// A score plugin's raw score for a placement: `GpuBinpack` as is, `GpuSpread` reversed.
pub fn policy_score(binpack: i64, policy: Policy) -> i64 {
    match policy {
        Policy::Binpack => binpack,
        Policy::Spread => 100 - binpack,
    }
}
