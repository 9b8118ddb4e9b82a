//! What a pod asks for: whole GPUs, vGPU shares or MIG slices per container, and the pod's placement options.

use k8s_openapi::api::core::v1::{Container, Pod};

use super::model::{
    MIG_RESOURCE_PREFIX, RESOURCE_GPU, RESOURCE_VGPU, RESOURCE_VGPU_CORES, RESOURCE_VGPU_MEMORY,
    RESOURCE_VGPU_MEMORY_PERCENTAGE, is_mig_profile,
};
use crate::error::{Error, Result};
use crate::resources::parse_quantity;
use crate::snapshot::pod_key;

/// Pod annotation choosing the device order: `binpack` or `spread` (overrides the profile).
pub const POLICY_ANNOTATION: &str = "gpu.ksx.io/policy";
/// Pod annotation `"true"`: all devices of one container must share a NUMA node.
pub const NUMA_BIND_ANNOTATION: &str = "gpu.ksx.io/numa-bind";

/// How devices are ordered when several fit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Policy {
    /// Fill the most used device that fits (fewer partly used cards, less fragmentation).
    #[default]
    Binpack,
    /// Take the least used device.
    Spread,
}

impl Policy {
    /// Parses `binpack` or `spread`.
    ///
    /// # Errors
    /// The message listing the valid values.
    pub fn parse(s: &str) -> std::result::Result<Self, String> {
        match s {
            "binpack" => Ok(Self::Binpack),
            "spread" => Ok(Self::Spread),
            other => Err(format!(
                "unknown GPU policy {other:?}: valid values are binpack, spread"
            )),
        }
    }

    /// The name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Binpack => "binpack",
            Self::Spread => "spread",
        }
    }
}

/// Memory per vGPU share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Memory {
    /// The whole card (no memory or percentage requested, as HAMi's default).
    Whole,
    /// MiB.
    MiB(i64),
    /// Percent of the card (1–100).
    Percent(i64),
}

impl Memory {
    /// The MiB this asks of a card of `total` MiB.
    pub fn of(self, total: i64) -> i64 {
        match self {
            Self::Whole => total,
            Self::MiB(m) => m,
            Self::Percent(p) => total.saturating_mul(p) / 100,
        }
    }
}

/// One kind of device request of a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceRequest {
    /// `count` whole, exclusive GPUs.
    Whole {
        /// Devices.
        count: u32,
    },
    /// `count` shares, each on a distinct device.
    Shared {
        /// Devices.
        count: u32,
        /// Memory per share.
        memory: Memory,
        /// Cores per share, percent of a card (0–100; 100 = exclusive compute).
        cores: i64,
    },
    /// `count` MIG slices of one profile.
    Mig {
        /// The profile (`1g.10gb`).
        profile: String,
        /// Slices.
        count: u32,
    },
}

/// The device requests of one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerRequest {
    /// The container name.
    pub name: String,
    /// Its requests (at most one whole or shared entry, then MIG entries sorted by profile).
    pub requests: Vec<DeviceRequest>,
}

/// A pod's device requests and options.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GpuRequest {
    /// Containers that request devices, in spec order.
    pub containers: Vec<ContainerRequest>,
    /// The policy from [`POLICY_ANNOTATION`], when set.
    pub policy: Option<Policy>,
    /// An invalid [`POLICY_ANNOTATION`] value: the pod is unschedulable with this reason (design decision D8).
    pub policy_error: Option<String>,
    /// [`NUMA_BIND_ANNOTATION`] is `"true"`.
    pub numa_bind: bool,
}

impl GpuRequest {
    /// True when no container requests a device (GPU plugins skip the pod).
    pub fn is_empty(&self) -> bool {
        self.containers.is_empty()
    }

    /// Reads a pod's device requests from its app containers (`requests`, else `limits`, as extended resources
    /// must have them equal); init containers are not given devices.
    ///
    /// # Errors
    /// [`Error::InvalidQuantity`] for a quantity that does not parse, [`Error::InvalidObject`] naming the pod,
    /// container and resource for a negative or fractional count, a percentage outside 0–100, a bad MIG profile,
    /// or both `nvidia.com/gpu` and `ksx.io/vgpu*` in one container.
    pub fn from_pod(pod: &Pod) -> Result<Self> {
        let key = pod_key(pod);
        let mut out = Self::default();
        let annotations = pod.metadata.annotations.as_ref();
        if let Some(p) = annotations.and_then(|a| a.get(POLICY_ANNOTATION)) {
            match Policy::parse(p) {
                Ok(p) => out.policy = Some(p),
                Err(e) => out.policy_error = Some(format!("annotation {POLICY_ANNOTATION}: {e}")),
            }
        }
        out.numa_bind = annotations
            .and_then(|a| a.get(NUMA_BIND_ANNOTATION))
            .is_some_and(|v| v == "true");
        let containers = pod
            .spec
            .as_ref()
            .map(|s| s.containers.as_slice())
            .unwrap_or_default();
        for (i, c) in containers.iter().enumerate() {
            let requests = container_requests(c, &key, i)?;
            if !requests.is_empty() {
                out.containers.push(ContainerRequest {
                    name: c.name.clone(),
                    requests,
                });
            }
        }
        Ok(out)
    }
}

fn container_requests(c: &Container, key: &str, i: usize) -> Result<Vec<DeviceRequest>> {
    let object = format!("pod {key}");
    let res = c.resources.as_ref();
    let (map, section) = match res.and_then(|r| r.requests.as_ref()) {
        Some(m) if m.keys().any(|k| super::is_device_resource(k)) => (Some(m), "requests"),
        _ => (res.and_then(|r| r.limits.as_ref()), "limits"),
    };
    let Some(map) = map else {
        return Ok(Vec::new());
    };
    let bad = |name: &str, reason: String| Error::InvalidObject {
        object: object.clone(),
        reason: format!("spec.containers[{i}].resources.{section}.{name}: {reason}"),
    };
    let int = |name: &str| -> Result<Option<i64>> {
        let Some(q) = map.get(name) else {
            return Ok(None);
        };
        let field = format!("spec.containers[{i}].resources.{section}.{name}");
        let v = parse_quantity(q, &object, &field)?;
        if v.milli_value() % 1000 != 0 {
            return Err(bad(name, format!("must be a whole number, got {:?}", q.0)));
        }
        let v = v.value();
        if v < 0 {
            return Err(bad(name, format!("must not be negative, got {v}")));
        }
        Ok(Some(v))
    };
    let count = |name: &str, v: i64| {
        u32::try_from(v).map_err(|_| bad(name, format!("count {v} is too large")))
    };
    let mut out = Vec::new();
    let gpu = int(RESOURCE_GPU)?;
    let vgpu = int(RESOURCE_VGPU)?;
    let memory = int(RESOURCE_VGPU_MEMORY)?;
    let percent = int(RESOURCE_VGPU_MEMORY_PERCENTAGE)?;
    let cores = int(RESOURCE_VGPU_CORES)?;
    let shared = vgpu.is_some() || memory.is_some() || percent.is_some() || cores.is_some();
    if shared && gpu.is_some_and(|g| g > 0) {
        return Err(bad(
            RESOURCE_GPU,
            format!("a container asks for whole GPUs or vGPU shares ({RESOURCE_VGPU}*), not both"),
        ));
    }
    if let Some(p) = percent
        && p > 100
    {
        return Err(bad(
            RESOURCE_VGPU_MEMORY_PERCENTAGE,
            format!("must be 0–100, got {p}"),
        ));
    }
    if let Some(c) = cores
        && c > 100
    {
        return Err(bad(RESOURCE_VGPU_CORES, format!("must be 0–100, got {c}")));
    }
    if shared {
        let n = vgpu.unwrap_or(1);
        if n > 0 {
            let memory = match (memory, percent) {
                (Some(m), _) if m > 0 => Memory::MiB(m),
                (_, Some(p)) if p > 0 => Memory::Percent(p),
                _ => Memory::Whole,
            };
            out.push(DeviceRequest::Shared {
                count: count(RESOURCE_VGPU, n)?,
                memory,
                cores: cores.unwrap_or(0),
            });
        }
    } else if let Some(g) = gpu
        && g > 0
    {
        out.push(DeviceRequest::Whole {
            count: count(RESOURCE_GPU, g)?,
        });
    }
    let mut migs: Vec<&String> = map
        .keys()
        .filter(|k| k.starts_with(MIG_RESOURCE_PREFIX))
        .collect();
    migs.sort();
    for name in migs {
        let profile = name.trim_start_matches(MIG_RESOURCE_PREFIX);
        if !is_mig_profile(profile) {
            return Err(bad(
                name,
                format!("{profile:?} is not a MIG profile <G>g.<M>gb[+me]"),
            ));
        }
        if let Some(n) = int(name)?
            && n > 0
        {
            out.push(DeviceRequest::Mig {
                profile: profile.to_owned(),
                count: count(name, n)?,
            });
        }
    }
    Ok(out)
}
