//! GPU allocation: golden cases (binpack vs spread, NUMA, MIG, vGPU memory and core limits, oversize requests),
//! registration from node annotations, and properties (no over-commit, release restores state exactly).

use k8s_openapi::api::core::v1::{Node, Pod};
use ksx_gpu::device::{
    Allocation, GpuDevice, GpuRequest, GrantKind, MigSlot, NodeDevices, Policy, extended_resources,
    node_devices, register_node,
};
use proptest::prelude::*;

fn dev(index: u32, memory_mib: i64, numa: u32) -> GpuDevice {
    GpuDevice {
        uuid: format!("GPU-{index}"),
        index,
        model: "NVIDIA-A100-PCIE-40GB".into(),
        memory_mib,
        cores: 100,
        numa,
        split_count: 10,
        healthy: true,
        mig: Vec::new(),
    }
}

fn mig(index: u32, slots: &[(&str, u32)]) -> GpuDevice {
    GpuDevice {
        mig: slots
            .iter()
            .map(|(p, c)| MigSlot {
                profile: (*p).into(),
                count: *c,
            })
            .collect(),
        ..dev(index, 81920, 0)
    }
}

fn pod(resources: &serde_json::Value, annotations: &serde_json::Value) -> Pod {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": "p", "namespace": "ns", "annotations": annotations},
        "spec": {"containers": [{"name": "c", "resources": {"limits": resources}}]}
    }))
    .expect("test step")
}

#[allow(
    clippy::needless_pass_by_value,
    reason = "call sites pass json! literals"
)]
fn request(resources: serde_json::Value) -> GpuRequest {
    GpuRequest::from_pod(&pod(&resources, &serde_json::json!({}))).expect("test step")
}

/// Commits a request as pod `key` (it must fit).
#[allow(
    clippy::needless_pass_by_value,
    reason = "call sites pass json! literals"
)]
fn place(n: &mut NodeDevices, key: &str, resources: serde_json::Value) {
    let a = n
        .allocate(&request(resources), Policy::Binpack)
        .expect("test step");
    n.commit(key, a).expect("test step");
}

fn indexes(a: &Allocation) -> Vec<Vec<u32>> {
    a.containers
        .iter()
        .map(|c| c.devices.iter().map(|g| g.index).collect())
        .collect()
}

#[test]
fn binpack_fills_the_most_used_device_and_spread_the_least_used() {
    let mut n = NodeDevices::new(
        "n1",
        vec![dev(0, 40960, 0), dev(1, 40960, 0), dev(2, 40960, 0)],
    );
    // Device 2 (highest index, so index order alone would never pick it first) will hold a share.
    let a = n
        .allocate(
            &request(serde_json::json!({"ksx.io/vgpu": "1", "ksx.io/vgpu-memory": "10000", "ksx.io/vgpu-cores": "20"})),
            Policy::Spread,
        )
        .expect("test step");
    // Spread on idle devices: equal usage, same NUMA node → lowest index.
    assert_eq!(indexes(&a), vec![vec![0]]);
    // Put the seed share on device 2 by hand.
    let mut seed = a;
    seed.containers[0].devices[0].uuid = "GPU-2".into();
    seed.containers[0].devices[0].index = 2;
    n.commit("ns/seed", seed).expect("test step");
    let r = request(
        serde_json::json!({"ksx.io/vgpu": "1", "ksx.io/vgpu-memory": "8000", "ksx.io/vgpu-cores": "10"}),
    );
    // binpack: device 2 is the only used one → most used first.
    assert_eq!(
        indexes(&n.allocate(&r, Policy::Binpack).expect("test step")),
        vec![vec![2]]
    );
    // spread: devices 0 and 1 are idle (usage 0) → lower index 0.
    assert_eq!(
        indexes(&n.allocate(&r, Policy::Spread).expect("test step")),
        vec![vec![0]]
    );
    // The pod annotation overrides the profile's policy.
    let annotated = GpuRequest::from_pod(&pod(
        &serde_json::json!({"ksx.io/vgpu": "1", "ksx.io/vgpu-memory": "8000"}),
        &serde_json::json!({"gpu.ksx.io/policy": "spread"}),
    ))
    .expect("test step");
    assert_eq!(
        indexes(&n.allocate(&annotated, Policy::Binpack).expect("test step")),
        vec![vec![0]]
    );
    let g = &n
        .allocate(&r, Policy::Binpack)
        .expect("test step")
        .containers[0]
        .devices[0];
    assert_eq!(
        (g.kind, g.memory_mib, g.cores),
        (GrantKind::Shared, 8000, 10)
    );
}

#[test]
fn multi_gpu_requests_stay_on_one_numa_node_when_one_can_take_them() {
    // NUMA 0: devices 0, 1; NUMA 1: devices 2, 3. A share on device 0 leaves NUMA 0 one idle device.
    let mut n = NodeDevices::new(
        "n1",
        vec![
            dev(0, 40960, 0),
            dev(1, 40960, 0),
            dev(2, 40960, 1),
            dev(3, 40960, 1),
        ],
    );
    place(
        &mut n,
        "ns/a",
        serde_json::json!({"ksx.io/vgpu": "1", "ksx.io/vgpu-memory": "20000"}),
    );
    assert_eq!(indexes(&n.pods["ns/a"]), vec![vec![0]]);
    let two = request(serde_json::json!({"nvidia.com/gpu": "2"}));
    // Idle devices rank 1, 2, 3 (equal usage; NUMA then index). Device 1's NUMA node cannot take 2, so the
    // NUMA node of the next device (2) is used: [2, 3], not the index-order [1, 2].
    for policy in [Policy::Binpack, Policy::Spread] {
        assert_eq!(
            indexes(&n.allocate(&two, policy).expect("test step")),
            vec![vec![2, 3]],
            "{policy:?}"
        );
    }
}

#[test]
fn numa_bind_refuses_to_span_numa_nodes() {
    let mut n = NodeDevices::new(
        "n1",
        vec![
            dev(0, 40960, 0),
            dev(1, 40960, 1),
            dev(2, 40960, 0),
            dev(3, 40960, 1),
        ],
    );
    place(&mut n, "ns/a", serde_json::json!({"nvidia.com/gpu": "1"}));
    assert_eq!(indexes(&n.pods["ns/a"]), vec![vec![0]]);
    let mut b = n
        .allocate(
            &request(serde_json::json!({"nvidia.com/gpu": "1"})),
            Policy::Binpack,
        )
        .expect("test step");
    b.containers[0].devices[0].uuid = "GPU-3".into();
    b.containers[0].devices[0].index = 3;
    n.commit("ns/b", b).expect("test step");
    // Idle: 1 (NUMA 1) and 2 (NUMA 0): no NUMA node holds two.
    let free = request(serde_json::json!({"nvidia.com/gpu": "2"}));
    // Without numa-bind the request spans NUMA nodes, in rank order: NUMA 0 first (device 2), then device 1.
    assert_eq!(
        indexes(&n.allocate(&free, Policy::Binpack).expect("test step")),
        vec![vec![2, 1]]
    );
    let bound = GpuRequest::from_pod(&pod(
        &serde_json::json!({"nvidia.com/gpu": "2"}),
        &serde_json::json!({"gpu.ksx.io/numa-bind": "true"}),
    ))
    .expect("test step");
    let e = n.allocate(&bound, Policy::Binpack).expect_err("must fail");
    assert_eq!(
        e.reason,
        "2 GPUs requested with numa-bind, at most 1 fit on one NUMA node of node n1"
    );
    assert!(!e.unresolvable, "idle, each NUMA node holds two devices");
}

#[test]
fn mig_slices_come_from_the_applied_layout() {
    let mut n = NodeDevices::new(
        "n1",
        vec![
            dev(0, 81920, 0),
            mig(1, &[("1g.10gb", 2), ("3g.40gb", 1)]),
            mig(2, &[("1g.10gb", 2)]),
        ],
    );
    let one = request(serde_json::json!({"nvidia.com/mig-1g.10gb": "1"}));
    let mut a = n.allocate(&one, Policy::Binpack).expect("test step");
    // Idle MIG devices tie on usage → lower index.
    assert_eq!(indexes(&a), vec![vec![1]]);
    a.containers[0].devices[0].uuid = "GPU-2".into();
    a.containers[0].devices[0].index = 2;
    n.commit("ns/a", a).expect("test step");
    // Device 2 uses 1/2 slices, device 1 0/3.
    let two = request(serde_json::json!({"nvidia.com/mig-1g.10gb": "2"}));
    // binpack: device 2's last slice first, then device 1.
    assert_eq!(
        indexes(&n.allocate(&two, Policy::Binpack).expect("test step")),
        vec![vec![2, 1]]
    );
    // spread: least used device 1 first, one slice per device per round → [1, 2].
    assert_eq!(
        indexes(&n.allocate(&two, Policy::Spread).expect("test step")),
        vec![vec![1, 2]]
    );
    let g = &n
        .allocate(&one, Policy::Binpack)
        .expect("test step")
        .containers[0]
        .devices[0];
    assert_eq!(
        (g.kind, g.mig_profile.as_deref()),
        (GrantKind::Mig, Some("1g.10gb"))
    );
    // 1 + 2 + 1 = 4 slices of 1g.10gb wanted, 3 free: refused, but resolvable (4 exist when idle).
    let four = request(serde_json::json!({"nvidia.com/mig-1g.10gb": "4"}));
    let e = n.allocate(&four, Policy::Binpack).expect_err("must fail");
    assert_eq!(
        e.reason,
        "4 MIG 1g.10gb slices requested, 3 free on node n1"
    );
    assert!(!e.unresolvable);
    let e = n
        .allocate(
            &request(serde_json::json!({"nvidia.com/mig-2g.20gb": "1"})),
            Policy::Binpack,
        )
        .expect_err("must fail");
    assert_eq!(
        e.reason,
        "1 MIG 2g.20gb slices requested, 0 free on node n1"
    );
    assert!(e.unresolvable);
    // A whole-GPU request never takes a MIG device: device 0 only.
    let whole = request(serde_json::json!({"nvidia.com/gpu": "2"}));
    let e = n.allocate(&whole, Policy::Binpack).expect_err("must fail");
    assert_eq!(e.reason, "2 whole GPUs requested, 1 idle on node n1");
}

#[test]
fn vgpu_memory_and_core_limits() {
    let mut n = NodeDevices::new("n1", vec![dev(0, 24576, 0)]);
    place(
        &mut n,
        "ns/a",
        serde_json::json!({"ksx.io/vgpu": "1", "ksx.io/vgpu-memory": "20000", "ksx.io/vgpu-cores": "70"}),
    );
    // 24576 − 20000 = 4576 MiB free.
    let e = n
        .allocate(
            &request(serde_json::json!({"ksx.io/vgpu-memory": "8000"})),
            Policy::Binpack,
        )
        .expect_err("must fail");
    assert_eq!(
        e.reason,
        "no GPU with 8000 MiB free (largest 4576 MiB on node n1)"
    );
    assert!(!e.unresolvable);
    // 100 − 70 = 30 % cores free.
    let e = n
        .allocate(
            &request(serde_json::json!({"ksx.io/vgpu-memory": "1000", "ksx.io/vgpu-cores": "40"})),
            Policy::Binpack,
        )
        .expect_err("must fail");
    assert_eq!(
        e.reason,
        "no GPU with 40% cores free (largest 30% on node n1)"
    );
    // 30 % fits exactly; then all 100 % are used and even a 0 % share is refused (HAMi's rule).
    place(
        &mut n,
        "ns/b",
        serde_json::json!({"ksx.io/vgpu-memory": "1000", "ksx.io/vgpu-cores": "30"}),
    );
    let e = n
        .allocate(
            &request(serde_json::json!({"ksx.io/vgpu-memory": "10"})),
            Policy::Binpack,
        )
        .expect_err("must fail");
    assert_eq!(
        e.reason,
        "no GPU with cores left (all cores in use on node n1)"
    );
    // Memory as a percentage: 25 % of 40960 = 10240 MiB.
    let m = NodeDevices::new("n2", vec![dev(0, 40960, 0)]);
    let a = m
        .allocate(
            &request(
                serde_json::json!({"ksx.io/vgpu": "1", "ksx.io/vgpu-memory-percentage": "25"}),
            ),
            Policy::Binpack,
        )
        .expect("test step");
    assert_eq!(a.containers[0].devices[0].memory_mib, 10240);
    // No memory at all: the whole card, as in HAMi; a second such share does not fit.
    let whole_mem = request(serde_json::json!({"ksx.io/vgpu": "1"}));
    let a = m.allocate(&whole_mem, Policy::Binpack).expect("test step");
    assert_eq!(a.containers[0].devices[0].memory_mib, 40960);
}

#[test]
fn oversize_requests_are_unresolvable_with_the_largest_device() {
    let n = NodeDevices::new("x", vec![dev(0, 40960, 0), dev(1, 40960, 0)]);
    let e = n
        .allocate(
            &request(serde_json::json!({"ksx.io/vgpu-memory": "80000"})),
            Policy::Binpack,
        )
        .expect_err("must fail");
    assert_eq!(
        e.reason,
        "no GPU with 80000 MiB free (largest 40960 MiB on node x)"
    );
    assert!(e.unresolvable);
    let e = n
        .allocate(
            &request(serde_json::json!({"nvidia.com/gpu": "3"})),
            Policy::Binpack,
        )
        .expect_err("must fail");
    assert_eq!(e.reason, "3 whole GPUs requested, 2 idle on node x");
    assert!(e.unresolvable);
    let empty = NodeDevices::new("y", vec![mig(0, &[("1g.10gb", 7)])]);
    let e = empty
        .allocate(
            &request(serde_json::json!({"nvidia.com/gpu": "1"})),
            Policy::Binpack,
        )
        .expect_err("must fail");
    assert_eq!(e.reason, "no usable GPU on node y");
}

#[test]
fn whole_and_shared_never_mix_on_one_device() {
    let mut n = NodeDevices::new("n1", vec![dev(0, 40960, 0), dev(1, 40960, 0)]);
    place(
        &mut n,
        "ns/share",
        serde_json::json!({"ksx.io/vgpu-memory": "1000"}),
    );
    // binpack on idle devices → device 0 took the share.
    assert_eq!(indexes(&n.pods["ns/share"]), vec![vec![0]]);
    place(
        &mut n,
        "ns/whole",
        serde_json::json!({"nvidia.com/gpu": "1"}),
    );
    assert_eq!(indexes(&n.pods["ns/whole"]), vec![vec![1]]);
    let e = n
        .allocate(
            &request(serde_json::json!({"nvidia.com/gpu": "1"})),
            Policy::Binpack,
        )
        .expect_err("must fail");
    assert_eq!(e.reason, "1 whole GPUs requested, 0 idle on node n1");
    // Two shares must sit on distinct devices; device 1 is held whole.
    let e = n
        .allocate(
            &request(serde_json::json!({"ksx.io/vgpu": "2", "ksx.io/vgpu-memory": "1000"})),
            Policy::Binpack,
        )
        .expect_err("must fail");
    assert_eq!(e.reason, "2 GPUs requested, 1 fit on node n1");
    // Releasing the whole GPU makes it shareable again.
    n.release("ns/whole").expect("test step");
    let a = n
        .allocate(
            &request(serde_json::json!({"ksx.io/vgpu": "2", "ksx.io/vgpu-memory": "1000"})),
            Policy::Binpack,
        )
        .expect("test step");
    assert_eq!(indexes(&a), vec![vec![0, 1]]);
    // A hand-made record that over-commits is refused.
    let mut bad = n.pods["ns/share"].clone();
    bad.containers[0].devices[0].kind = GrantKind::Whole;
    assert!(
        n.commit("ns/bad", bad)
            .expect_err("must fail")
            .contains("over-commits")
    );
}

#[test]
fn bad_requests_and_policies_name_the_place() {
    let e = GpuRequest::from_pod(&pod(
        &serde_json::json!({"nvidia.com/gpu": "1", "ksx.io/vgpu-memory": "10"}),
        &serde_json::json!({}),
    ))
    .expect_err("must fail");
    assert_eq!(
        e.to_string(),
        "pod ns/p: spec.containers[0].resources.limits.nvidia.com/gpu: a container asks for whole GPUs or vGPU shares (ksx.io/vgpu*), not both"
    );
    let e = GpuRequest::from_pod(&pod(
        &serde_json::json!({"ksx.io/vgpu-cores": "150"}),
        &serde_json::json!({}),
    ))
    .expect_err("must fail");
    assert!(
        e.to_string()
            .ends_with("ksx.io/vgpu-cores: must be 0–100, got 150"),
        "{e}"
    );
    let e = GpuRequest::from_pod(&pod(
        &serde_json::json!({"nvidia.com/gpu": "500m"}),
        &serde_json::json!({}),
    ))
    .expect_err("must fail");
    assert!(e.to_string().contains("must be a whole number"), "{e}");
    let e = GpuRequest::from_pod(&pod(
        &serde_json::json!({"nvidia.com/mig-big": "1"}),
        &serde_json::json!({}),
    ))
    .expect_err("must fail");
    assert!(
        e.to_string().contains("\"big\" is not a MIG profile"),
        "{e}"
    );
    let r = GpuRequest::from_pod(&pod(
        &serde_json::json!({"nvidia.com/gpu": "1"}),
        &serde_json::json!({"gpu.ksx.io/policy": "pack"}),
    ))
    .expect("test step");
    let n = NodeDevices::new("n1", vec![dev(0, 40960, 0)]);
    let e = n.allocate(&r, Policy::Binpack).expect_err("must fail");
    assert_eq!(
        e.reason,
        "annotation gpu.ksx.io/policy: unknown GPU policy \"pack\": valid values are binpack, spread"
    );
}

#[test]
fn registration_reads_the_annotation_and_sets_extended_resources() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/device/node-a100.json"
    ))
    .expect("test step");
    let mut node: Node = serde_json::from_str(&text).expect("test step");
    let devices = node_devices(&node).expect("test step").expect("test step");
    assert_eq!(devices.len(), 4);
    assert_eq!(
        (
            devices[1].split_count,
            devices[0].split_count,
            devices[0].cores
        ),
        (4, 10, 100)
    );
    let res = extended_resources(&devices);
    // Healthy non-MIG: devices 0 and 1 (3 is unhealthy, 2 is MIG).
    let expect: Vec<(&str, i64)> = vec![
        ("ksx.io/vgpu", 14),
        ("ksx.io/vgpu-cores", 200),
        ("ksx.io/vgpu-memory", 163_840),
        ("nvidia.com/gpu", 2),
        ("nvidia.com/mig-1g.10gb", 2),
        ("nvidia.com/mig-2g.20gb", 1),
        ("nvidia.com/mig-3g.40gb", 1),
    ];
    assert_eq!(
        res.iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect::<Vec<_>>(),
        expect
    );
    assert!(register_node(&mut node).expect("test step"));
    let alloc = node
        .status
        .as_ref()
        .expect("test step")
        .allocatable
        .as_ref()
        .expect("test step");
    assert_eq!(alloc["nvidia.com/gpu"].0, "2");
    assert_eq!(alloc["cpu"].0, "64", "other resources are kept");

    // HAMi's JSON registration is read when the ksx annotation is absent.
    let hami: Node = serde_json::from_value(serde_json::json!({"metadata": {"name": "h", "annotations": {
        "hami.io/node-nvidia-register": "[{\"id\":\"GPU-h0\",\"index\":0,\"count\":10,\"devmem\":24576,\"devcore\":100,\"type\":\"NVIDIA-L4\",\"numa\":1,\"health\":true}]"
    }}})).expect("test step");
    let d = node_devices(&hami).expect("test step").expect("test step");
    assert_eq!(
        (d[0].uuid.as_str(), d[0].memory_mib, d[0].numa),
        ("GPU-h0", 24576, 1)
    );

    // Bad registrations name the node, the annotation and the entry.
    let bad: Node = serde_json::from_value(
        serde_json::json!({"metadata": {"name": "b", "annotations": {
            "gpu.ksx.io/devices": "[{\"uuid\":\"GPU-0\",\"index\":0,\"memoryMiB\":0}]"
        }}}),
    )
    .expect("test step");
    assert_eq!(
        node_devices(&bad).expect_err("must fail").to_string(),
        "node b: annotation gpu.ksx.io/devices: [0] (GPU-0): memoryMiB must be > 0, got 0"
    );
    let garbage: Node = serde_json::from_value(
        serde_json::json!({"metadata": {"name": "g", "annotations": {
            "gpu.ksx.io/devices": "[{\"uuid\":"
        }}}),
    )
    .expect("test step");
    assert!(
        node_devices(&garbage)
            .expect_err("must fail")
            .to_string()
            .starts_with("node g: annotation gpu.ksx.io/devices: EOF")
    );
    let none: Node =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "c"}})).expect("test step");
    assert_eq!(node_devices(&none).expect("test step"), None);
}

fn arb_request() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        (1u32..4).prop_map(|n| serde_json::json!({"nvidia.com/gpu": n.to_string()})),
        (1u32..3, 0i64..30000, 0i64..=100).prop_map(|(n, m, c)| serde_json::json!({
            "ksx.io/vgpu": n.to_string(), "ksx.io/vgpu-memory": m.to_string(), "ksx.io/vgpu-cores": c.to_string()
        })),
        (1u32..3, 1i64..=100).prop_map(|(n, p)| serde_json::json!({
            "ksx.io/vgpu": n.to_string(), "ksx.io/vgpu-memory-percentage": p.to_string()
        })),
        (1u32..3, prop_oneof![Just("1g.10gb"), Just("3g.40gb")])
            .prop_map(|(n, p)| serde_json::json!({format!("nvidia.com/mig-{p}"): n.to_string()})),
    ]
}

fn check_no_overcommit(n: &NodeDevices) {
    for (d, u) in n.devices.iter().zip(&n.usage) {
        assert!(
            u.memory_mib >= 0 && u.memory_mib <= d.memory_mib,
            "{d:?} {u:?}"
        );
        assert!(u.cores >= 0 && u.cores <= d.cores, "{d:?} {u:?}");
        assert!(u.slots <= d.split_count, "{d:?} {u:?}");
        if u.whole {
            assert_eq!(u.slots, 1, "a whole GPU is not shared: {d:?} {u:?}");
        }
        for (m, used) in d.mig.iter().zip(&u.mig_used) {
            assert!(*used <= m.count, "{d:?} {u:?}");
        }
        if d.is_mig() {
            assert_eq!((u.slots, u.memory_mib, u.cores), (0, 0, 0));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_sequences_never_over_commit_and_release_restores(
        steps in prop::collection::vec((arb_request(), any::<bool>(), any::<bool>(), 0usize..8), 1..40),
        mems in prop::collection::vec(8000i64..50000, 3),
    ) {
        let mut devices: Vec<GpuDevice> = mems.iter().enumerate().map(|(i, m)| {
            dev(u32::try_from(i).expect("test step"), *m, u32::try_from(i % 2).expect("test step"))
        }).collect();
        devices[0].split_count = 3;
        devices.push(mig(3, &[("1g.10gb", 3), ("3g.40gb", 1)]));
        let mut n = NodeDevices::new("n", devices);
        let idle = n.clone();
        let mut live: Vec<String> = Vec::new();
        for (i, (resources, spread, release, which)) in steps.into_iter().enumerate() {
            if release && !live.is_empty() {
                let key = live.remove(which % live.len());
                let before = n.clone();
                let a = n.release(&key).expect("test step");
                // Re-committing the released allocation gives back exactly the state before release.
                let mut again = n.clone();
                again.commit(&key, a).expect("test step");
                prop_assert_eq!(&again.usage, &before.usage);
                continue;
            }
            let policy = if spread { Policy::Spread } else { Policy::Binpack };
            let before = n.clone();
            match n.allocate(&request(resources), policy) {
                Ok(a) => {
                    // Distinct devices within a non-MIG request of one container.
                    let plain: Vec<u32> = a.grants().filter(|g| g.kind != GrantKind::Mig).map(|g| g.index).collect();
                    let mut dedup = plain.clone();
                    dedup.sort_unstable();
                    dedup.dedup();
                    prop_assert_eq!(dedup.len(), plain.len());
                    let key = format!("ns/p{i}");
                    n.commit(&key, a).expect("test step");
                    live.push(key);
                }
                Err(_) => prop_assert_eq!(&n, &before, "a refused request changes nothing"),
            }
            check_no_overcommit(&n);
        }
        for key in live {
            n.release(&key).expect("test step");
        }
        prop_assert_eq!(n, idle, "releasing everything restores the idle state");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Registration text and request quantities that are garbage give errors (or nothing), never a panic.
    #[test]
    fn garbage_registrations_and_requests_never_panic(
        text in prop_oneof![
            ".{0,60}",
            r#"\[\{"uuid":"[A-Z-]{0,4}","index":[0-9]{1,2},"memoryMiB":-?[0-9]{1,6}(,"mig":\[\{"profile":"[0-9a-z.+]{0,8}","count":[0-9]\}\])?\}\]"#,
        ],
        quantity in prop_oneof!["-?[0-9]{1,4}(m|Ki|k|e3)?", ".{0,6}"],
        name in prop_oneof![
            Just("nvidia.com/gpu".to_owned()),
            Just("ksx.io/vgpu-memory".to_owned()),
            Just("ksx.io/vgpu-cores".to_owned()),
            "nvidia.com/mig-[0-9a-z.]{0,8}",
        ],
    ) {
        let node: Node = serde_json::from_value(serde_json::json!({"metadata": {"name": "g",
            "annotations": {"gpu.ksx.io/devices": text}}})).expect("node");
        if let Ok(Some(devices)) = node_devices(&node) {
            // Whatever was accepted is valid.
            prop_assert!(ksx_gpu::device::validate(&devices).is_ok());
        }
        let p = pod(&serde_json::json!({name: quantity}), &serde_json::json!({}));
        if let Ok(r) = GpuRequest::from_pod(&p) {
            let n = NodeDevices::new("n", vec![dev(0, 40960, 0), mig(1, &[("1g.10gb", 2)])]);
            let _ = n.allocate(&r, Policy::Binpack);
        }
    }
}
