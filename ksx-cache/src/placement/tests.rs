//! Placement by hand: filters, scores, tie-breaks and the error when no node fits.

use ksx_core::manifest::from_yaml_str;

use super::*;
use crate::model::{CacheRuntime, Dataset};

const GI: u64 = 1 << 30;

fn dataset(placement: &str, affinity: bool) -> Dataset {
    let affinity = if affinity {
        "  nodeAffinity:\n    required:\n      nodeSelectorTerms:\n        - matchExpressions:\n            - {key: zone, operator: In, values: [a, b]}\n"
    } else {
        ""
    };
    let text = format!(
        "apiVersion: cache.ksx.io/v1alpha1\nkind: Dataset\nmetadata: {{name: imagenet, namespace: ml}}\nspec:\n  mounts:\n    - {{mountPoint: 's3://bucket/imagenet', name: train}}\n  placement: {placement}\n{affinity}"
    );
    from_yaml_str("dataset.yaml", &text).unwrap()
}

fn runtime(replicas: u32, ssd: &str) -> CacheRuntime {
    let text = format!(
        "apiVersion: cache.ksx.io/v1alpha1\nkind: CacheRuntime\nmetadata: {{name: imagenet, namespace: ml}}\nspec:\n  replicas: {replicas}\n  tieredstore:\n    levels:\n      - {{mediumtype: SSD, path: /mnt/ssd, quota: {ssd}}}\n      - {{mediumtype: MEM, path: /dev/shm, quota: 2Gi}}\n"
    );
    from_yaml_str("runtime.yaml", &text).unwrap()
}

fn node(
    name: &str,
    zone: &str,
    mem_gi: u64,
    ssd_gi: u64,
    workers: &[(&str, Placement)],
) -> NodeView {
    NodeView {
        name: name.into(),
        ready: true,
        labels: [("zone".to_owned(), zone.to_owned())].into(),
        allocatable_memory_bytes: mem_gi * GI,
        requested_memory_bytes: GI,
        disk_bytes: [(Medium::Ssd, ssd_gi * GI)].into(),
        workers: workers
            .iter()
            .map(|(d, p)| WorkerOnNode {
                dataset: (*d).into(),
                placement: *p,
            })
            .collect(),
    }
}

fn nodes() -> Vec<NodeView> {
    vec![
        node("node-5", "c", 64, 500, &[]),
        node("node-1", "a", 64, 200, &[]),
        node(
            "node-2",
            "a",
            32,
            100,
            &[("ml-imagenet", Placement::Exclusive)],
        ),
        node("node-3", "b", 64, 300, &[("ml-coco", Placement::Exclusive)]),
        NodeView {
            ready: false,
            ..node("node-4", "a", 64, 300, &[])
        },
        node("node-6", "b", 2, 300, &[]),
    ]
}

#[test]
fn exclusive_plan_by_hand() {
    let plan = plan(&dataset("Exclusive", true), &runtime(3, "80Gi"), &nodes()).unwrap();
    let chosen: Vec<(&str, i64)> = plan
        .placements
        .iter()
        .map(|p| (p.node.as_str(), p.score))
        .collect();
    assert_eq!(chosen, [("node-2", 150), ("node-1", 50)]);
    assert_eq!(plan.unplaced, 1);
    assert_eq!(plan.dataset, "ml-imagenet");
    assert_eq!(
        plan.placements[0].reasons[0],
        "holds dataset ml-imagenet (+100)"
    );
    let rejected: Vec<(&str, RejectionKind)> = plan
        .rejected
        .iter()
        .map(|r| (r.node.as_str(), r.kind))
        .collect();
    assert_eq!(
        rejected,
        [
            ("node-3", RejectionKind::PlacementConflict),
            ("node-4", RejectionKind::NotReady),
            ("node-5", RejectionKind::NodeAffinity),
            ("node-6", RejectionKind::InsufficientCapacity),
        ]
    );
    assert_eq!(
        plan.rejected[3].reason,
        "MEM quota 2Gi exceeds free capacity 1Gi"
    );
    assert_eq!(plan.tiers[0].medium, Medium::Mem, "tiers fastest first");
}

#[test]
fn shared_placement_only_avoids_exclusive_workers() {
    let mut all = nodes();
    all.push(node(
        "node-7",
        "a",
        64,
        300,
        &[("ml-other", Placement::Shared)],
    ));
    let plan = plan(&dataset("Shared", false), &runtime(10, "80Gi"), &all).unwrap();
    let chosen: Vec<(&str, i64)> = plan
        .placements
        .iter()
        .map(|p| (p.node.as_str(), p.score))
        .collect();
    // node-2 holds the dataset (150); node-5, node-1 free (50; ties by free MEM then name); node-7 shares (0).
    assert_eq!(
        chosen,
        [
            ("node-2", 150),
            ("node-1", 50),
            ("node-5", 50),
            ("node-7", 0)
        ]
    );
    assert!(
        plan.rejected.iter().any(
            |r| r.node == "node-3" && r.reason == "dataset ml-coco holds this node exclusively"
        )
    );
}

#[test]
fn no_node_for_one_worker_fails_with_the_largest_capacity() {
    let err = plan(&dataset("Exclusive", true), &runtime(2, "500Gi"), &nodes()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "runtime \"imagenet\": spec.tieredstore: SSD quota 500Gi exceeds the largest node capacity 300Gi (node-6)"
    );
    let err = plan(&dataset("Exclusive", true), &runtime(1, "1Gi"), &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "runtime \"imagenet\": spec.tieredstore: no node can host a worker (0 nodes: none given)"
    );
    let zero = plan(&dataset("Exclusive", true), &runtime(0, "1Gi"), &[]).unwrap();
    assert!(zero.placements.is_empty() && zero.unplaced == 0);
}

#[test]
fn node_selector_operators() {
    let labels: BTreeMap<String, String> = [
        ("zone".to_owned(), "a".to_owned()),
        ("gpus".to_owned(), "4".to_owned()),
    ]
    .into();
    let sel = |exprs: &str| -> NodeSelector {
        serde_json::from_str(&format!("{{\"nodeSelectorTerms\": [{exprs}]}}")).unwrap()
    };
    assert!(selector_matches(
        &sel(r#"{"matchExpressions": [{"key": "gpus", "operator": "Gt", "values": ["2"]}]}"#),
        &labels
    ));
    assert!(!selector_matches(
        &sel(r#"{"matchExpressions": [{"key": "gpus", "operator": "Lt", "values": ["2"]}]}"#),
        &labels
    ));
    assert!(selector_matches(
        &sel(
            r#"{"matchExpressions": [{"key": "ssd", "operator": "DoesNotExist"}, {"key": "zone", "operator": "NotIn", "values": ["b"]}]}"#
        ),
        &labels
    ));
    assert!(
        !selector_matches(&sel(r#"{"matchExpressions": []}"#), &labels),
        "an empty term matches nothing"
    );
    assert!(
        selector_matches(
            &sel(r#"{}, {"matchExpressions": [{"key": "zone", "operator": "Exists"}]}"#),
            &labels
        ),
        "terms are ORed"
    );
    assert!(!selector_matches(
        &sel(r#"{"matchExpressions": [{"key": "zone", "operator": "Near"}]}"#),
        &labels
    ));
}

#[test]
fn node_view_from_a_kubernetes_node() {
    let node: Node = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "n1", "labels": {"zone": "a"}},
        "status": {"allocatable": {"memory": "16Gi"}, "conditions": [{"type": "Ready", "status": "True"}]}
    }))
    .unwrap();
    let view = NodeView::from_node(&node);
    assert!(view.ready);
    assert_eq!(view.allocatable_memory_bytes, 16 * GI);
    assert_eq!(view.free_bytes(Medium::Ssd), 0);
    assert!(!NodeView::from_node(&Node::default()).ready);
}

mod props {
    use proptest::prelude::*;

    use super::*;

    fn arb_node(i: usize) -> impl Strategy<Value = NodeView> {
        (
            any::<bool>(),
            prop::sample::select(vec!["a", "b", "c"]),
            0_u64..8,
            0_u64..400,
            prop::sample::select(vec![
                None,
                Some(("ml-imagenet", Placement::Exclusive)),
                Some(("ml-coco", Placement::Shared)),
                Some(("ml-x", Placement::Exclusive)),
            ]),
        )
            .prop_map(move |(ready, zone, mem, ssd, worker)| {
                let workers: Vec<(&str, Placement)> = worker.into_iter().collect();
                NodeView {
                    ready,
                    ..node(&format!("node-{i}"), zone, mem, ssd, &workers)
                }
            })
    }

    proptest! {
        #[test]
        fn plans_respect_replicas_filters_and_one_worker_per_node(
            nodes in (0_usize..8).prop_flat_map(|n| (0..n).map(arb_node).collect::<Vec<_>>()),
            replicas in 0_u32..6,
            shared in any::<bool>(),
            ssd in prop::sample::select(vec!["10Gi", "100Gi", "300Gi"]),
        ) {
            let d = dataset(if shared { "Shared" } else { "Exclusive" }, true);
            let r = runtime(replicas, ssd);
            let Ok(p) = plan(&d, &r, &nodes) else {
                // Only allowed when nothing fits at all.
                prop_assert!(replicas > 0);
                return Ok(());
            };
            prop_assert!(p.placements.len() <= replicas as usize);
            prop_assert_eq!(p.placements.len() + p.unplaced as usize, replicas as usize);
            let mut names: Vec<&str> = p.placements.iter().map(|w| w.node.as_str()).collect();
            names.sort_unstable();
            names.dedup();
            prop_assert_eq!(names.len(), p.placements.len(), "one worker per node");
            for w in &p.placements {
                prop_assert!(!p.rejected.iter().any(|r| r.node == w.node));
                let n = nodes.iter().find(|n| n.name == w.node).unwrap();
                prop_assert!(n.ready);
                for t in &p.tiers {
                    prop_assert!(t.quota_bytes <= n.free_bytes(t.medium));
                }
            }
            prop_assert!(p.placements.windows(2).all(|w| w[0].score >= w[1].score), "best first");
            prop_assert_eq!(plan(&d, &r, &nodes).ok(), Some(p), "deterministic");
        }
    }
}

#[test]
fn worker_affinity_and_labels() {
    let exclusive = dataset("Exclusive", true);
    let labels = worker_labels(&exclusive);
    assert_eq!(labels["cache.ksx.io/dataset"], "ml-imagenet");
    assert_eq!(labels["cache.ksx.io/dataset-placement"], "Exclusive");
    let a = serde_json::to_value(worker_affinity(&exclusive)).unwrap();
    assert_eq!(
        a["podAntiAffinity"],
        serde_json::json!({"requiredDuringSchedulingIgnoredDuringExecution": [{
            "labelSelector": {"matchExpressions": [{"key": "cache.ksx.io/dataset", "operator": "Exists"}]},
            "topologyKey": "kubernetes.io/hostname"
        }]})
    );
    assert_eq!(
        a["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0],
        serde_json::json!({"weight": 100, "preference": {"matchExpressions": [
            {"key": "cache.ksx.io/s-ml-imagenet", "operator": "In", "values": ["true"]}
        ]}})
    );
    assert_eq!(
        a["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]
            ["matchExpressions"][0]["key"],
        "zone"
    );
    let shared = serde_json::to_value(worker_affinity(&dataset("Shared", false))).unwrap();
    let anti = &shared["podAntiAffinity"];
    assert_eq!(
        anti["preferredDuringSchedulingIgnoredDuringExecution"][0]["weight"],
        50
    );
    assert_eq!(
        anti["requiredDuringSchedulingIgnoredDuringExecution"][0]["labelSelector"]["matchExpressions"]
            [0],
        serde_json::json!({"key": "cache.ksx.io/dataset-placement", "operator": "In", "values": ["Exclusive"]})
    );
    assert!(
        shared["nodeAffinity"]
            .get("requiredDuringSchedulingIgnoredDuringExecution")
            .is_none()
    );
}
