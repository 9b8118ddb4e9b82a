//! NVML device discovery (feature `nvml`): the devices of the local machine, read through the NVIDIA Management
//! Library and mapped to [`GpuDevice`] records.
//!
//! `nvml-wrapper` loads `libnvidia-ml.so` with `dlopen` when [`discover`] runs, so the crate builds and links
//! without the NVIDIA driver; on a machine without it, [`discover`] returns [`Error::Discovery`] saying that the
//! library could not be loaded. Per device: the index, the UUID, the product name (spaces replaced by `-`, as GPU
//! Feature Discovery writes `nvidia.com/gpu.product`), the total memory in MiB, the NUMA node where the driver
//! reports one (0 otherwise), and in MIG mode the applied layout, counted per profile from the names of the MIG
//! devices (`… MIG 1g.10gb`). Cores are 100 and the split count 10, the registration defaults.

use std::collections::BTreeMap;

use nvml_wrapper::Nvml;
use nvml_wrapper::error::NvmlError;

use super::{DeviceDiscovery, GpuDevice, MigSlot, is_mig_profile, validate};
use crate::error::{Error, Result};

/// `nvmlDeviceGetMigMode`'s value for MIG enabled (`NVML_DEVICE_MIG_ENABLE`).
const MIG_ENABLED: u32 = 1;

/// Bytes per MiB.
const MIB: u64 = 1 << 20;

fn nvml_error(source_name: &str, what: &str, e: &NvmlError) -> Error {
    let hint = match e {
        NvmlError::LibloadingError(_) | NvmlError::LibraryNotFound => {
            " (the NVIDIA Management Library libnvidia-ml.so could not be loaded: is the NVIDIA driver installed?)"
        }
        NvmlError::DriverNotLoaded => " (the NVIDIA kernel driver is not loaded)",
        NvmlError::NoPermission => " (no permission to talk to the NVIDIA driver)",
        _ => "",
    };
    Error::Discovery {
        source_name: source_name.to_owned(),
        reason: format!("{what}: {e}{hint}"),
    }
}

/// The product name as GPU Feature Discovery labels it: spaces become `-`.
pub fn product_name(name: &str) -> String {
    name.trim().replace(' ', "-")
}

/// The MIG profile at the end of a MIG device name (`NVIDIA A100-SXM4-80GB MIG 1g.10gb` → `1g.10gb`).
pub fn mig_profile(name: &str) -> Option<&str> {
    let (_, profile) = name.rsplit_once("MIG ")?;
    let profile = profile.trim();
    is_mig_profile(profile).then_some(profile)
}

/// The devices of this machine, read through NVML.
///
/// # Errors
/// [`Error::Discovery`] when the NVML library cannot be loaded or initialized (naming the likely cause), when a
/// device cannot be read (naming its index), or when the devices it reports do not form a valid inventory.
pub fn discover() -> Result<Vec<GpuDevice>> {
    let nvml = Nvml::init().map_err(|e| nvml_error("NVML", "initialization failed", &e))?;
    let count = nvml
        .device_count()
        .map_err(|e| nvml_error("NVML", "counting devices", &e))?;
    let mut devices = Vec::new();
    for i in 0..count {
        let at = format!("NVML device {i}");
        let device = nvml
            .device_by_index(i)
            .map_err(|e| nvml_error(&at, "opening", &e))?;
        let uuid = device
            .uuid()
            .map_err(|e| nvml_error(&at, "reading the UUID", &e))?;
        let name = device
            .name()
            .map_err(|e| nvml_error(&at, "reading the name", &e))?;
        let memory = device
            .memory_info()
            .map_err(|e| nvml_error(&at, "reading memory", &e))?;
        let index = device.index().unwrap_or(i);
        // Older drivers lack the NUMA query, and single-socket machines report none: both mean node 0.
        let numa = device.numa_node_id().unwrap_or(0);
        // MIG is optional: a device that does not support it reports NotSupported.
        let mig_on = device.mig_mode().is_ok_and(|m| m.current == MIG_ENABLED);
        let mut layout: BTreeMap<String, u32> = BTreeMap::new();
        if mig_on {
            let slots = device.mig_device_count().unwrap_or(0);
            for m in 0..slots {
                // Slots without an instance answer NotFound; only existing instances count.
                if let Some(profile) = device
                    .mig_device_by_index(m)
                    .and_then(|d| d.name())
                    .ok()
                    .as_deref()
                    .and_then(mig_profile)
                {
                    *layout.entry(profile.to_owned()).or_default() += 1;
                }
            }
        }
        devices.push(GpuDevice {
            uuid,
            index,
            model: product_name(&name),
            memory_mib: i64::try_from(memory.total / MIB).unwrap_or(i64::MAX),
            cores: 100,
            numa,
            split_count: 10,
            healthy: true,
            mig: layout
                .into_iter()
                .map(|(profile, count)| MigSlot { profile, count })
                .collect(),
        });
    }
    validate(&devices).map_err(|reason| Error::Discovery {
        source_name: "NVML".to_owned(),
        reason,
    })?;
    Ok(devices)
}

/// The NVML [`DeviceDiscovery`]: [`discover`] on every call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NvmlDiscovery;

impl DeviceDiscovery for NvmlDiscovery {
    fn discover(&self) -> std::result::Result<Vec<GpuDevice>, String> {
        discover().map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_as_gpu_feature_discovery_writes_them() {
        assert_eq!(
            product_name("NVIDIA A100-SXM4-80GB"),
            "NVIDIA-A100-SXM4-80GB"
        );
        assert_eq!(product_name(" Tesla T4 "), "Tesla-T4");
        assert_eq!(
            mig_profile("NVIDIA A100-SXM4-80GB MIG 1g.10gb"),
            Some("1g.10gb")
        );
        assert_eq!(
            mig_profile("NVIDIA H100 80GB HBM3 MIG 1g.10gb+me"),
            Some("1g.10gb+me")
        );
        assert_eq!(mig_profile("NVIDIA A100-SXM4-80GB"), None);
        assert_eq!(mig_profile("NVIDIA X MIG weird"), None);
    }
}
