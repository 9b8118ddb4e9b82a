//! GpuFit and GpuBinpack/GpuSpread inside the scheduling framework: node choice by GPU policy, reasons for pods
//! that fit nowhere, allocation records, and unbind giving devices back.

use k8s_openapi::api::core::v1::{Node, Pod};
use ksx_gpu::device::{GpuTable, Policy};
use ksx_gpu::framework::{Decision, Profile, Scheduler};
use ksx_gpu::snapshot::Snapshot;
use serde_json::{Value, json};

fn node(name: &str, gpus: u32, mem: i64) -> Node {
    let devices: Vec<Value> = (0..gpus)
        .map(|i| json!({"uuid": format!("GPU-{name}-{i}"), "index": i, "memoryMiB": mem}))
        .collect();
    serde_json::from_value(json!({
        "metadata": {"name": name, "annotations": {"gpu.ksx.io/devices": Value::Array(devices).to_string()}},
        "status": {"allocatable": {"cpu": "32", "memory": "128Gi", "pods": "110"}}
    }))
    .expect("valid node")
}

fn pod(name: &str, limits: &Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "ns"},
        "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": limits}}]}
    }))
    .expect("valid pod")
}

fn scheduler(policy: Policy) -> Scheduler {
    let nodes = vec![node("a", 2, 40960), node("b", 2, 40960)];
    let snapshot = Snapshot::new(&nodes, &[]).expect("snapshot");
    let table = GpuTable::new(&snapshot, &nodes, &[]).expect("devices");
    let profile = Profile {
        gpu_policy: policy,
        ..Profile::default()
    };
    Scheduler::new(snapshot, profile).with_gpus(table)
}

fn placed(d: &Decision) -> &str {
    match d {
        Decision::Scheduled { node, .. } => node,
        Decision::Unschedulable { .. } => "-",
    }
}

#[test]
fn binpack_stacks_gpu_pods_and_spread_spreads_them() {
    let share =
        json!({"ksx.io/vgpu": "1", "ksx.io/vgpu-memory": "8000", "ksx.io/vgpu-cores": "25"});
    let pods: Vec<Pod> = (0..3).map(|i| pod(&format!("p{i}"), &share)).collect();

    let mut s = scheduler(Policy::Binpack);
    let d = s.schedule_all(&pods).expect("schedules");
    // p0: a and b tie on every score → a (smallest name). p1: NodeResourcesFit a 95 (cpu 30/32 → 93, memory
    // 126/128 → 98) vs b 97, BalancedAllocation a 97 vs b 98; GpuBinpack after placing: a (device 0 shared
    // twice) 100 × (2/20 + 50/200 + 16000/81920) / 3 = 18 vs b 100 × (1/20 + 25/200 + 8000/81920) / 3 = 9.
    // Totals a 210 > b 204 → a; p2 likewise.
    let nodes: Vec<&str> = d.iter().map(|(_, d)| placed(d)).collect();
    assert_eq!(nodes, ["a", "a", "a"]);
    // Binpack inside the node: every share on device 0 (most used device first).
    for i in 0..3 {
        let a = s.allocation(&format!("ns/p{i}")).expect("allocated");
        assert_eq!(a.containers[0].devices[0].uuid, "GPU-a-0");
    }

    let mut s = scheduler(Policy::Spread);
    let d = s.schedule_all(&pods).expect("schedules");
    let nodes: Vec<&str> = d.iter().map(|(_, d)| placed(d)).collect();
    assert_eq!(nodes, ["a", "b", "a"]);
    // Spread inside node a: p0 on device 0, p2 on the idle device 1.
    assert_eq!(
        s.allocation("ns/p2").expect("allocated").containers[0].devices[0].uuid,
        "GPU-a-1"
    );
}

#[test]
fn gpu_fit_reasons_and_unbind() {
    let mut s = scheduler(Policy::Binpack);
    let big = pod("big", &json!({"ksx.io/vgpu-memory": "80000"}));
    let info = s.prepare(&big).expect("prepares");
    let d = s.schedule(&info);
    assert_eq!(
        d.message(2),
        "0/2 nodes are available: 1 no GPU with 80000 MiB free (largest 40960 MiB on node a), \
         1 no GPU with 80000 MiB free (largest 40960 MiB on node b)."
    );
    let ev = s.evaluate(&info);
    let r = ev[0].rejection.as_ref().expect("rejected");
    assert_eq!(
        (r.plugin, r.code),
        (
            "GpuFit",
            ksx_gpu::framework::Code::UnschedulableAndUnresolvable
        )
    );

    // Four whole GPUs exist; take them all, then a fifth fails, then unbinding one frees it.
    let whole = json!({"nvidia.com/gpu": "2"});
    for name in ["w1", "w2"] {
        let info = s.prepare(&pod(name, &whole)).expect("prepares");
        assert!(matches!(s.schedule(&info), Decision::Scheduled { .. }));
    }
    let info = s
        .prepare(&pod("w3", &json!({"nvidia.com/gpu": "1"})))
        .expect("prepares");
    let d = s.schedule(&info);
    assert!(matches!(d, Decision::Unschedulable { .. }), "{d:?}");
    let before = s.gpus().expect("gpus").clone();
    let node = s.unbind("ns/w1").expect("was bound");
    assert!(s.allocation("ns/w1").is_none());
    let d = s.schedule(&info);
    assert_eq!(placed(&d), s.snapshot().node(node).expect("node").name);
    // Unbinding w3 and re-binding w1 on its node restores the device state exactly.
    s.unbind("ns/w3");
    let w1 = s.prepare(&pod("w1", &whole)).expect("prepares");
    s.bind(&w1, node);
    assert_eq!(s.gpus().expect("gpus"), &before);

    // A pod without device requests is not touched by the GPU plugins.
    let plain = s.prepare(&pod("plain", &json!({}))).expect("prepares");
    assert!(matches!(s.schedule(&plain), Decision::Scheduled { .. }));
    assert!(s.allocation("ns/plain").is_none());
}

#[test]
fn mig_pods_schedule_without_registered_extended_resources() {
    // The node's allocatable lists no nvidia.com/mig-* resource: GpuFit, not NodeResourcesFit, decides.
    let devices = json!([{"uuid": "GPU-m0", "index": 0, "memoryMiB": 81920,
        "mig": [{"profile": "1g.10gb", "count": 2}]}]);
    let n: Node = serde_json::from_value(json!({
        "metadata": {"name": "m", "annotations": {"gpu.ksx.io/devices": devices.to_string()}},
        "status": {"allocatable": {"cpu": "32", "memory": "128Gi", "pods": "110"}}
    }))
    .expect("valid node");
    let snapshot = Snapshot::new(std::slice::from_ref(&n), &[]).expect("snapshot");
    let table = GpuTable::new(&snapshot, &[n], &[]).expect("devices");
    let mut s = Scheduler::new(snapshot, Profile::default()).with_gpus(table);
    let slice = json!({"nvidia.com/mig-1g.10gb": "1"});
    let pods: Vec<Pod> = (0..3).map(|i| pod(&format!("m{i}"), &slice)).collect();
    let d = s.schedule_all(&pods).expect("schedules");
    let nodes: Vec<&str> = d.iter().map(|(_, d)| placed(d)).collect();
    // Two slices exist: the third pod fits nowhere, with GpuFit's reason.
    assert_eq!(nodes, ["m", "m", "-"]);
    assert_eq!(
        d[2].1.message(1),
        "0/1 nodes are available: 1 1 MIG 1g.10gb slices requested, 0 free on node m."
    );
}
