//! NVML discovery (feature `nvml`): with `KSX_GPU_TESTS=1`, the local GPUs are read and form a valid inventory;
//! without it, on a machine without the NVIDIA library, `discover()` fails with an error that says so.
#![cfg(feature = "nvml")]
#![allow(clippy::print_stderr, reason = "skipped tests say why")]

use ksx_gpu::Error;
use ksx_gpu::device::nvml::{NvmlDiscovery, discover};
use ksx_gpu::device::{DeviceDiscovery, validate};

fn gpu_tests() -> bool {
    std::env::var("KSX_GPU_TESTS").is_ok_and(|v| v == "1")
}

#[test]
fn discovers_the_local_gpus() {
    if !gpu_tests() {
        eprintln!("skipped: set KSX_GPU_TESTS=1 on a machine with an NVIDIA GPU and driver");
        return;
    }
    let devices = discover().expect("NVML discovery on a GPU machine");
    assert!(!devices.is_empty(), "at least one GPU");
    validate(&devices).expect("a valid inventory");
    for d in &devices {
        assert!(
            d.uuid.starts_with("GPU-"),
            "NVML UUIDs start with GPU-: {}",
            d.uuid
        );
        assert!(d.memory_mib > 1024, "{}: {} MiB", d.uuid, d.memory_mib);
        assert!(
            !d.model.contains(' '),
            "product names use - for spaces: {}",
            d.model
        );
        for slot in &d.mig {
            assert!(slot.count >= 1, "{}: {slot:?}", d.uuid);
        }
    }
    let mut indexes: Vec<u32> = devices.iter().map(|d| d.index).collect();
    indexes.sort_unstable();
    indexes.dedup();
    assert_eq!(indexes.len(), devices.len(), "indexes are unique");
    assert_eq!(NvmlDiscovery.discover().expect("the seam agrees"), devices);
}

#[test]
fn without_the_library_discovery_says_so() {
    if gpu_tests() {
        eprintln!("skipped: KSX_GPU_TESTS=1 means the library is expected to be there");
        return;
    }
    match discover() {
        Err(Error::Discovery {
            source_name,
            reason,
        }) => {
            assert_eq!(source_name, "NVML");
            assert!(
                reason.contains("libnvidia-ml.so could not be loaded")
                    || reason.contains("driver is not loaded"),
                "the error names the cause: {reason}"
            );
            let seam = NvmlDiscovery.discover().expect_err("the seam fails too");
            assert!(
                seam.starts_with("device discovery (NVML): initialization failed"),
                "{seam}"
            );
        }
        Err(other) => panic!("expected Error::Discovery, got {other}"),
        Ok(devices) => eprintln!(
            "skipped: NVML is present here ({} devices); set KSX_GPU_TESTS=1 to test it",
            devices.len()
        ),
    }
}
