//! Scheduler invariants under proptest: no node is over-committed, an exclusive node group never hosts a pod of an
//! unbound workspace, and results do not depend on the order nodes are given in (ties go to the smallest name).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, Pod};
use ksx_gpu::framework::{Decision, Profile, Scheduler};
use ksx_gpu::nodegroup::{GroupContext, NODE_GROUP_LABEL, NodeGroup, NodeGroups, mutate_pod};
use ksx_gpu::resources::ResourceId;
use ksx_gpu::snapshot::Snapshot;
use proptest::prelude::*;

const POOLS: [&str; 3] = ["gpu", "cpu", "edge"];
const NAMESPACES: [&str; 5] = ["train", "web", "sensors", "kube-system", "other"];

fn node(i: usize, cpu: u32, mem_gi: u32, pods: u32, pool: usize, soft_taint: bool) -> Node {
    let mut v = serde_json::json!({
        "metadata": {"name": format!("n{i:02}"), "labels": {"pool": POOLS[pool % 3]}},
        "status": {"allocatable": {"cpu": cpu.to_string(), "memory": format!("{mem_gi}Gi"), "pods": pods.to_string()}}
    });
    if soft_taint {
        v["spec"] = serde_json::json!({"taints": [{"key": "soft", "effect": "PreferNoSchedule"}]});
    }
    serde_json::from_value(v).expect("valid test input")
}

fn pod(i: usize, cpu_m: u32, mem_mi: u32, ns: usize, priority: i32) -> Pod {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": format!("p{i:03}"), "namespace": NAMESPACES[ns % 5]},
        "spec": {"priority": priority, "containers": [{"name": "c", "resources": {"requests":
            {"cpu": format!("{cpu_m}m"), "memory": format!("{mem_mi}Mi")}}}]}
    }))
    .expect("valid test input")
}

fn groups() -> NodeGroups {
    let g: Vec<NodeGroup> = serde_json::from_value(serde_json::json!([
        {"name": "gpu", "exclusive": true, "members": {"nodeSelector": {"matchLabels": {"pool": "gpu"}}},
         "workspaces": [{"name": "ai"}]},
        {"name": "edge", "pool": "edge", "members": {"nodeSelector": {"matchLabels": {"pool": "edge"}}},
         "workspaces": [{"name": "iot", "mode": "preferred"}]}
    ]))
    .expect("valid test input");
    NodeGroups::new(g).expect("valid test input")
}

fn context() -> GroupContext {
    let mut c = GroupContext::default();
    c.workspaces.insert("train".into(), "ai".into());
    c.workspaces.insert("sensors".into(), "iot".into());
    c.workspaces.insert("web".into(), "shop".into());
    c
}

fn arb_nodes() -> impl Strategy<Value = Vec<Node>> {
    prop::collection::vec(
        (1u32..16, 1u32..64, 1u32..8, 0usize..3, any::<bool>()),
        1..24,
    )
    .prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (c, m, p, pool, t))| node(i, c, m, p, pool, t))
            .collect()
    })
}

fn arb_pods() -> impl Strategy<Value = Vec<Pod>> {
    prop::collection::vec((0u32..6000, 0u32..16_384, 0usize..5, 0i32..3), 0..60).prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (c, m, ns, pr))| pod(i, c, m, ns, pr))
            .collect()
    })
}

fn run(
    nodes: &mut [Node],
    pods: &[Pod],
    pct: u8,
    mutate: bool,
) -> (Scheduler, Vec<(String, Decision)>) {
    let g = groups();
    g.label_nodes(nodes).expect("valid test input");
    let mut pods = pods.to_vec();
    if mutate {
        for p in &mut pods {
            mutate_pod(p, &g, &context()).expect("valid test input");
        }
    }
    let snapshot = Snapshot::new(nodes, &[]).expect("valid test input");
    let profile = Profile {
        percentage_of_nodes_to_score: pct,
        ..Profile::default()
    };
    let mut s = Scheduler::new(snapshot, profile)
        .with_node_groups(g, context())
        .expect("valid test input");
    let d = s.schedule_all(&pods).expect("valid test input");
    (s, d)
}

fn bindings(d: &[(String, Decision)]) -> BTreeMap<String, Option<String>> {
    d.iter()
        .map(|(k, d)| {
            let node = match d {
                Decision::Scheduled { node, .. } => Some(node.clone()),
                Decision::Unschedulable { .. } => None,
            };
            (k.clone(), node)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn no_node_is_over_committed(mut nodes in arb_nodes(), pods in arb_pods(), pct in 0u8..=100, mutate in any::<bool>()) {
        let (s, _) = run(&mut nodes, &pods, pct, mutate);
        for n in s.snapshot().nodes() {
            prop_assert!(n.pod_count <= n.allowed_pods, "{}: {} pods", n.name, n.pod_count);
            for id in [ResourceId::CPU, ResourceId::MEMORY] {
                prop_assert!(n.requested(id) <= n.allocatable(id), "{}: {:?}", n.name, id);
            }
        }
    }

    #[test]
    fn exclusive_group_never_hosts_unbound_workspaces(mut nodes in arb_nodes(), pods in arb_pods(), mutate in any::<bool>()) {
        let (s, d) = run(&mut nodes, &pods, 0, mutate);
        for (key, decision) in &d {
            if let Decision::Scheduled { node, .. } = decision {
                let info = s.snapshot().node(s.snapshot().node_id(node).expect("valid test input")).expect("valid test input");
                let ns = key.split('/').next().expect("valid test input");
                if info.labels.get(NODE_GROUP_LABEL).map(String::as_str) == Some("gpu") {
                    prop_assert!(ns == "train" || ns == "kube-system", "{key} on exclusive {node}");
                }
                if ns == "train" {
                    prop_assert_eq!(info.labels.get(NODE_GROUP_LABEL).map(String::as_str), Some("gpu"), "required binding");
                }
            }
        }
    }

    #[test]
    fn node_order_does_not_matter(mut nodes in arb_nodes(), pods in arb_pods(), seed in any::<usize>(), mutate in any::<bool>()) {
        // Every node is searched (100 %), so the rotating start index cannot depend on order either.
        let (_, a) = run(&mut nodes.clone(), &pods, 100, mutate);
        let len = nodes.len();
        for i in 0..len {
            let j = seed.wrapping_add(i * 7919) % len;
            nodes.swap(i, j);
        }
        let (_, b) = run(&mut nodes, &pods, 100, mutate);
        prop_assert_eq!(bindings(&a), bindings(&b));
    }
}

#[test]
fn incremental_binding_matches_a_rebuilt_snapshot() {
    let mut nodes: Vec<Node> = (0..6).map(|i| node(i, 4, 8, 5, i, i % 2 == 0)).collect();
    let pods: Vec<Pod> = (0..20).map(|i| pod(i, 700, 900, i % 5, 0)).collect();
    let (s, d) = run(&mut nodes, &pods, 0, true);
    let mut bound = Vec::new();
    for (key, decision) in &d {
        if let Decision::Scheduled { node, .. } = decision {
            let mut p = pods
                .iter()
                .find(|p| key.ends_with(p.metadata.name.as_deref().expect("valid test input")))
                .expect("valid test input")
                .clone();
            p.spec.as_mut().expect("valid test input").node_name = Some(node.clone());
            bound.push(p);
        }
    }
    let rebuilt = Snapshot::new(&nodes, &bound).expect("valid test input");
    for (a, b) in s.snapshot().nodes().iter().zip(rebuilt.nodes()) {
        assert_eq!(a.requested, b.requested, "{}", a.name);
        assert_eq!(a.non_zero_requested, b.non_zero_requested);
        assert_eq!(a.pod_count, b.pod_count);
    }
}

#[test]
fn parallel_filtering_gives_the_same_decisions() {
    let small = |i: usize| u32::try_from(i).expect("small");
    let mut nodes: Vec<Node> = (0..1_200)
        .map(|i| node(i, 4 + small(i % 5), 8 + small(i % 7), 6, i, i % 10 == 0))
        .collect();
    groups().label_nodes(&mut nodes).expect("labels");
    let pods: Vec<Pod> = (0..300)
        .map(|i| {
            pod(
                i,
                100 + small(i % 9) * 300,
                256 + small(i % 4) * 700,
                i % 5,
                0,
            )
        })
        .collect();
    let decide = |parallelism: usize| {
        let profile = Profile {
            percentage_of_nodes_to_score: 100,
            parallelism,
            ..Profile::default()
        };
        let snapshot = Snapshot::new(&nodes, &[]).expect("snapshot");
        let mut s = Scheduler::new(snapshot, profile)
            .with_node_groups(groups(), context())
            .expect("groups");
        s.schedule_all(&pods).expect("schedule")
    };
    assert_eq!(decide(1), decide(3));
}
