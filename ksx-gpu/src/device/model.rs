//! The device model: physical GPUs as a node registers them, read from the `gpu.ksx.io/devices` node annotation
//! (or HAMi's `hami.io/node-nvidia-register` JSON), validated, and turned into extended resources.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The node annotation holding the ksx device registration (a JSON array of [`GpuDevice`]).
pub const DEVICES_ANNOTATION: &str = "gpu.ksx.io/devices";
/// HAMi's registration annotation; read (JSON form) when [`DEVICES_ANNOTATION`] is absent.
pub const HAMI_REGISTER_ANNOTATION: &str = "hami.io/node-nvidia-register";

/// Whole GPUs (NVIDIA device plugin, MIG strategy `none`).
pub const RESOURCE_GPU: &str = "nvidia.com/gpu";
/// vGPU shares: how many devices a container gets a share of.
pub const RESOURCE_VGPU: &str = "ksx.io/vgpu";
/// Memory per vGPU share, MiB.
pub const RESOURCE_VGPU_MEMORY: &str = "ksx.io/vgpu-memory";
/// Memory per vGPU share as a percentage of the card (used when `ksx.io/vgpu-memory` is absent).
pub const RESOURCE_VGPU_MEMORY_PERCENTAGE: &str = "ksx.io/vgpu-memory-percentage";
/// Compute per vGPU share, percent of the card's cores (100 = the whole card).
pub const RESOURCE_VGPU_CORES: &str = "ksx.io/vgpu-cores";
/// The prefix of MIG slice resources (`nvidia.com/mig-1g.10gb`, MIG strategy `mixed`).
pub const MIG_RESOURCE_PREFIX: &str = "nvidia.com/mig-";

fn default_cores() -> i64 {
    100
}
fn default_split() -> u32 {
    10
}
fn default_true() -> bool {
    true
}

/// A configured MIG layout entry: `count` instances of one profile on a device in MIG mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MigSlot {
    /// The profile, `<G>g.<M>gb` with an optional `+me` (`1g.10gb`, `3g.40gb`).
    pub profile: String,
    /// Instances of it in the applied layout (≥ 1).
    pub count: u32,
}

/// One physical GPU as registered on a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GpuDevice {
    /// The device UUID (`GPU-…`), unique on the node.
    pub uuid: String,
    /// The device index on the node, unique on the node.
    pub index: u32,
    /// The product (`NVIDIA-A100-SXM4-80GB`).
    #[serde(default)]
    pub model: String,
    /// Device memory, MiB (> 0).
    #[serde(rename = "memoryMiB")]
    pub memory_mib: i64,
    /// Compute, percent of the card (100 × core scaling; default 100).
    #[serde(default = "default_cores")]
    pub cores: i64,
    /// The NUMA node (default 0).
    #[serde(default)]
    pub numa: u32,
    /// How many vGPU shares the device takes at most (default 10, HAMi's `deviceSplitCount`).
    #[serde(default = "default_split")]
    pub split_count: u32,
    /// Healthy devices only are allocated (default true).
    #[serde(default = "default_true")]
    pub healthy: bool,
    /// The applied MIG layout; non-empty puts the device in MIG mode (only MIG slices are allocated from it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mig: Vec<MigSlot>,
}

impl GpuDevice {
    /// True when the device is in MIG mode.
    pub fn is_mig(&self) -> bool {
        !self.mig.is_empty()
    }
}

/// HAMi's JSON registration entry (`hami.io/node-nvidia-register`), the fields ksx reads.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HamiDevice {
    id: String,
    #[serde(default)]
    index: Option<u32>,
    count: u32,
    devmem: i64,
    devcore: i64,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    numa: u32,
    #[serde(default = "default_true")]
    health: bool,
    #[serde(default)]
    mode: String,
}

/// True for a MIG profile name `<G>g.<M>gb` with an optional `+me`.
pub fn is_mig_profile(profile: &str) -> bool {
    let base = profile.strip_suffix("+me").unwrap_or(profile);
    let Some((g, m)) = base.split_once("g.") else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(g) && m.strip_suffix("gb").is_some_and(digits)
}

/// Reads and validates the devices a node registers: [`DEVICES_ANNOTATION`], else the JSON form of
/// [`HAMI_REGISTER_ANNOTATION`]; `None` when the node has neither. Devices come back sorted by index.
///
/// # Errors
/// [`Error::InvalidObject`] naming the node, the annotation and the problem: JSON that does not parse (with
/// line and column), a duplicate UUID or index, a non-positive memory, cores or split count, a bad MIG profile.
pub fn node_devices(node: &Node) -> Result<Option<Vec<GpuDevice>>> {
    let name = node.metadata.name.as_deref().unwrap_or("");
    let annotations = node.metadata.annotations.as_ref();
    let object = format!("node {name}");
    let bad = |key: &str, reason: String| Error::InvalidObject {
        object: object.clone(),
        reason: format!("annotation {key}: {reason}"),
    };
    let mut devices: Vec<GpuDevice> =
        if let Some(text) = annotations.and_then(|a| a.get(DEVICES_ANNOTATION)) {
            serde_json::from_str(text).map_err(|e| bad(DEVICES_ANNOTATION, e.to_string()))?
        } else if let Some(text) = annotations.and_then(|a| a.get(HAMI_REGISTER_ANNOTATION)) {
            let hami: Vec<HamiDevice> = serde_json::from_str(text).map_err(|e| {
                bad(
                    HAMI_REGISTER_ANNOTATION,
                    format!("{e} (only the JSON form is read)"),
                )
            })?;
            hami.into_iter()
                .enumerate()
                .map(|(i, d)| GpuDevice {
                    uuid: d.id,
                    index: d.index.unwrap_or(u32::try_from(i).unwrap_or(u32::MAX)),
                    model: d.kind,
                    memory_mib: d.devmem,
                    cores: d.devcore,
                    numa: d.numa,
                    split_count: d.count,
                    healthy: d.health && d.mode != "mig",
                    mig: Vec::new(),
                })
                .collect()
        } else {
            return Ok(None);
        };
    let key = if annotations.is_some_and(|a| a.contains_key(DEVICES_ANNOTATION)) {
        DEVICES_ANNOTATION
    } else {
        HAMI_REGISTER_ANNOTATION
    };
    validate(&devices).map_err(|reason| bad(key, reason))?;
    devices.sort_by_key(|d| d.index);
    Ok(Some(devices))
}

/// Checks a device list: unique UUIDs and indexes, positive memory, cores and split count, valid MIG layouts.
///
/// # Errors
/// The problem, naming the entry (`[2] (GPU-x): memoryMiB must be > 0, got 0`).
pub fn validate(devices: &[GpuDevice]) -> std::result::Result<(), String> {
    let mut uuids = BTreeSet::new();
    let mut indexes = BTreeSet::new();
    for (i, d) in devices.iter().enumerate() {
        let at = format!("[{i}] ({})", d.uuid);
        if d.uuid.is_empty() {
            return Err(format!("[{i}]: uuid is required"));
        }
        if !uuids.insert(d.uuid.as_str()) {
            return Err(format!("{at}: duplicate uuid"));
        }
        if !indexes.insert(d.index) {
            return Err(format!("{at}: duplicate index {}", d.index));
        }
        if d.memory_mib <= 0 {
            return Err(format!("{at}: memoryMiB must be > 0, got {}", d.memory_mib));
        }
        if d.cores <= 0 {
            return Err(format!("{at}: cores must be > 0, got {}", d.cores));
        }
        if d.split_count == 0 {
            return Err(format!("{at}: splitCount must be > 0"));
        }
        let mut profiles = BTreeSet::new();
        for (j, m) in d.mig.iter().enumerate() {
            if !is_mig_profile(&m.profile) {
                return Err(format!(
                    "{at}: mig[{j}].profile {:?} is not <G>g.<M>gb[+me]",
                    m.profile
                ));
            }
            if m.count == 0 {
                return Err(format!("{at}: mig[{j}].count must be > 0"));
            }
            if !profiles.insert(m.profile.as_str()) {
                return Err(format!(
                    "{at}: mig[{j}]: profile {} listed twice",
                    m.profile
                ));
            }
        }
    }
    Ok(())
}

/// The extended resources a node advertises for its devices: `nvidia.com/gpu` (healthy non-MIG devices),
/// `ksx.io/vgpu` (Σ split counts), `ksx.io/vgpu-memory` (Σ MiB), `ksx.io/vgpu-cores` (Σ cores) over the same
/// devices, and `nvidia.com/mig-<profile>` (Σ instances on healthy MIG devices). Zero entries are left out.
pub fn extended_resources(devices: &[GpuDevice]) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for d in devices.iter().filter(|d| d.healthy) {
        if d.is_mig() {
            for m in &d.mig {
                *out.entry(format!("{MIG_RESOURCE_PREFIX}{}", m.profile))
                    .or_insert(0) += i64::from(m.count);
            }
            continue;
        }
        *out.entry(RESOURCE_GPU.to_owned()).or_insert(0) += 1;
        *out.entry(RESOURCE_VGPU.to_owned()).or_insert(0) += i64::from(d.split_count);
        *out.entry(RESOURCE_VGPU_MEMORY.to_owned()).or_insert(0) += d.memory_mib;
        *out.entry(RESOURCE_VGPU_CORES.to_owned()).or_insert(0) += d.cores;
    }
    out.retain(|_, v| *v > 0);
    out
}

/// Registers a node's devices: writes [`extended_resources`] into `status.capacity` and `status.allocatable`
/// (replacing earlier values of those names, keeping every other resource). Returns whether the node has devices.
///
/// # Errors
/// As [`node_devices`].
pub fn register_node(node: &mut Node) -> Result<bool> {
    let Some(devices) = node_devices(node)? else {
        return Ok(false);
    };
    let resources = extended_resources(&devices);
    let status = node.status.get_or_insert_with(Default::default);
    for map in [&mut status.capacity, &mut status.allocatable] {
        let map = map.get_or_insert_with(Default::default);
        map.retain(|k, _| !is_device_resource(k));
        for (k, v) in &resources {
            map.insert(k.clone(), Quantity(v.to_string()));
        }
    }
    Ok(true)
}

/// True for a resource name that the device plugins own (`nvidia.com/gpu`, `ksx.io/vgpu*`,
/// `nvidia.com/mig-*`): the ones `GpuFit` checks, which NodeResourcesFit leaves alone.
pub fn is_device_resource(name: &str) -> bool {
    name == RESOURCE_GPU || name.starts_with(MIG_RESOURCE_PREFIX) || name.starts_with("ksx.io/vgpu")
}
