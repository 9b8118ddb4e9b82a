//! The fast filter-and-score path against the straightforward reference path: the same feasible nodes, the same
//! normalized and weighted totals, and the same decisions and bindings, over random nodes (labels, taints,
//! `spec.unschedulable`, node groups, an extended resource) and random pods (requests, tolerations, selectors,
//! required and preferred affinity, `matchFields`), for every `percentageOfNodesToScore` and parallelism.

use k8s_openapi::api::core::v1::{Node, Pod};
use ksx_gpu::framework::{Decision, Profile, Scheduler, Weights};
use ksx_gpu::nodegroup::{GroupContext, NodeGroup, NodeGroups, mutate_pod};
use ksx_gpu::snapshot::Snapshot;
use proptest::prelude::*;

const POOLS: [&str; 3] = ["gpu", "cpu", "edge"];
const ZONES: [&str; 3] = ["z0", "z1", "z2"];
const NAMESPACES: [&str; 5] = ["train", "web", "sensors", "kube-system", "other"];

#[derive(Debug, Clone)]
struct NodeSpec {
    cpu: u32,
    mem_gi: u32,
    pods: u32,
    pool: usize,
    zone: usize,
    taint: u8,
    unschedulable: bool,
    extended: u32,
}

fn node(i: usize, s: &NodeSpec) -> Node {
    let mut v = serde_json::json!({
        "metadata": {"name": format!("n{i:03}"),
                     "labels": {"pool": POOLS[s.pool % 3], "zone": ZONES[s.zone % 3], "rank": (i % 7).to_string()}},
        "spec": {"unschedulable": s.unschedulable},
        "status": {"allocatable": {"cpu": s.cpu.to_string(), "memory": format!("{}Gi", s.mem_gi),
                                   "pods": s.pods.to_string(), "example.com/foo": s.extended.to_string()}}
    });
    let taints = match s.taint % 5 {
        1 => serde_json::json!([{"key": "soft", "effect": "PreferNoSchedule"}]),
        2 => serde_json::json!([{"key": "soft", "effect": "PreferNoSchedule"},
                                {"key": "soft2", "value": "x", "effect": "PreferNoSchedule"}]),
        3 => serde_json::json!([{"key": "hard", "value": "yes", "effect": "NoSchedule"}]),
        4 => serde_json::json!([{"key": "evict", "effect": "NoExecute"}]),
        _ => serde_json::json!([]),
    };
    v["spec"]["taints"] = taints;
    serde_json::from_value(v).expect("valid test input")
}

#[derive(Debug, Clone)]
struct PodSpec {
    cpu_m: u32,
    mem_mi: u32,
    extended: u32,
    ns: usize,
    priority: i32,
    tolerations: u8,
    selector: u8,
    preferred: u8,
    required: u8,
}

fn pod(i: usize, s: &PodSpec) -> Pod {
    let mut requests = serde_json::Map::new();
    if s.cpu_m > 0 {
        requests.insert("cpu".into(), format!("{}m", s.cpu_m).into());
    }
    if s.mem_mi > 0 {
        requests.insert("memory".into(), format!("{}Mi", s.mem_mi).into());
    }
    if s.extended > 0 {
        requests.insert("example.com/foo".into(), s.extended.to_string().into());
    }
    let mut v = serde_json::json!({
        "metadata": {"name": format!("p{i:03}"), "namespace": NAMESPACES[s.ns % 5]},
        "spec": {"priority": s.priority,
                 "containers": [{"name": "c", "resources": {"requests": requests}}]}
    });
    let tolerations = match s.tolerations % 5 {
        1 => serde_json::json!([{"key": "soft", "operator": "Exists"}]),
        2 => serde_json::json!([{"key": "hard", "value": "yes", "effect": "NoSchedule"}]),
        3 => serde_json::json!([{"operator": "Exists"}]),
        4 => serde_json::json!([{"key": "node.kubernetes.io/unschedulable", "operator": "Exists",
                                 "effect": "NoSchedule"}, {"key": "evict", "operator": "Exists"}]),
        _ => serde_json::json!([]),
    };
    v["spec"]["tolerations"] = tolerations;
    match s.selector % 3 {
        1 => {
            v["spec"]["nodeSelector"] =
                serde_json::json!({"zone": ZONES[usize::from(s.selector) % 3]});
        }
        2 => v["spec"]["nodeSelector"] = serde_json::json!({"pool": "cpu"}),
        _ => {}
    }
    let mut affinity = serde_json::Map::new();
    match s.required % 4 {
        1 => {
            affinity.insert("requiredDuringSchedulingIgnoredDuringExecution".into(), serde_json::json!(
                {"nodeSelectorTerms": [{"matchExpressions": [{"key": "rank", "operator": "Gt", "values": ["2"]}]},
                                       {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["z0"]}]}]}));
        }
        2 => {
            affinity.insert("requiredDuringSchedulingIgnoredDuringExecution".into(), serde_json::json!(
                {"nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "NotIn",
                                                         "values": ["n000", "n003"]}]}]}));
        }
        3 => {
            affinity.insert("requiredDuringSchedulingIgnoredDuringExecution".into(), serde_json::json!(
                {"nodeSelectorTerms": [{"matchExpressions": [{"key": "pool", "operator": "NotIn", "values": ["edge"]},
                                                             {"key": "missing", "operator": "DoesNotExist"}]}]}));
        }
        _ => {}
    }
    match s.preferred % 4 {
        1 => {
            affinity.insert("preferredDuringSchedulingIgnoredDuringExecution".into(), serde_json::json!(
                [{"weight": 10, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["z1"]}]}}]));
        }
        2 => {
            affinity.insert("preferredDuringSchedulingIgnoredDuringExecution".into(), serde_json::json!(
                [{"weight": 7, "preference": {"matchExpressions": [{"key": "rank", "operator": "Lt", "values": ["4"]}]}},
                 {"weight": 40, "preference": {"matchFields": [{"key": "metadata.name", "operator": "In",
                                                                "values": ["n001", "n002", "n010"]}]}}]));
        }
        3 => {
            affinity.insert("preferredDuringSchedulingIgnoredDuringExecution".into(), serde_json::json!(
                [{"weight": 100, "preference": {"matchExpressions": [{"key": "pool", "operator": "Exists"}]}}]));
        }
        _ => {}
    }
    if !affinity.is_empty() {
        v["spec"]["affinity"] = serde_json::json!({"nodeAffinity": affinity});
    }
    serde_json::from_value(v).expect("valid test input")
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
        (
            (1u32..16, 1u32..64, 1u32..8, 0usize..3, 0usize..3),
            (0u8..5, prop::bool::weighted(0.1), 0u32..3),
        ),
        1..40,
    )
    .prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(
                |(i, ((cpu, mem_gi, pods, pool, zone), (taint, unschedulable, extended)))| {
                    node(
                        i,
                        &NodeSpec {
                            cpu,
                            mem_gi,
                            pods,
                            pool,
                            zone,
                            taint,
                            unschedulable,
                            extended,
                        },
                    )
                },
            )
            .collect()
    })
}

fn arb_pods() -> impl Strategy<Value = Vec<Pod>> {
    prop::collection::vec(
        (
            (0u32..6000, 0u32..16_384, 0u32..2, 0usize..5, 0i32..3),
            (0u8..5, 0u8..6, 0u8..4, 0u8..4),
        ),
        0..50,
    )
    .prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(
                |(
                    i,
                    (
                        (cpu_m, mem_mi, extended, ns, priority),
                        (tolerations, selector, preferred, required),
                    ),
                )| {
                    pod(
                        i,
                        &PodSpec {
                            cpu_m,
                            mem_mi,
                            extended,
                            ns,
                            priority,
                            tolerations,
                            selector,
                            preferred,
                            required,
                        },
                    )
                },
            )
            .collect()
    })
}

fn arb_weights() -> impl Strategy<Value = Weights> {
    prop_oneof![
        Just(Weights::default()),
        (0i64..4, 0i64..4, 0i64..4, 0i64..4, 0i64..4).prop_map(|(f, b, t, a, g)| Weights {
            node_resources_fit: f,
            balanced_allocation: b,
            taint_toleration: t,
            node_affinity: a,
            node_group_affinity: g,
            gpu: 1,
        }),
    ]
}

fn scheduler(
    nodes: &[Node],
    pct: u8,
    parallelism: usize,
    weights: Weights,
    with_groups: bool,
) -> Scheduler {
    let profile = Profile {
        percentage_of_nodes_to_score: pct,
        parallelism,
        weights,
        ..Profile::default()
    };
    let s = Scheduler::new(
        Snapshot::new(nodes, &[]).expect("valid test input"),
        profile,
    );
    if with_groups {
        s.with_node_groups(groups(), context())
            .expect("valid test input")
    } else {
        s
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Pod by pod, both paths see the same feasible nodes with the same totals, make the same decision (node,
    /// score, nodes evaluated, reasons) and leave the same snapshot behind.
    #[test]
    fn fast_path_matches_the_reference(
        mut nodes in arb_nodes(),
        pods in arb_pods(),
        pct in prop_oneof![Just(0u8), Just(100u8), 1u8..=100],
        weights in arb_weights(),
        mutate in any::<bool>(),
        with_groups in any::<bool>(),
    ) {
        let g = groups();
        g.label_nodes(&mut nodes).expect("valid test input");
        let mut fast = scheduler(&nodes, pct, 1, weights, with_groups);
        let mut reference = scheduler(&nodes, pct, 1, weights, with_groups);
        for mut p in pods {
            if mutate {
                mutate_pod(&mut p, &g, &context()).expect("valid test input");
            }
            let a = fast.prepare(&p).expect("valid test input");
            let b = reference.prepare(&p).expect("valid test input");
            prop_assert_eq!(fast.feasible_totals(&a, false), reference.feasible_totals(&b, true));
            let da = fast.schedule(&a);
            let db = reference.schedule_reference(&b);
            prop_assert_eq!(&da, &db);
        }
        for (x, y) in fast.snapshot().nodes().iter().zip(reference.snapshot().nodes()) {
            prop_assert_eq!(&x.requested, &y.requested);
            prop_assert_eq!(x.pod_count, y.pod_count);
        }
    }

    /// The batch driver (with a worker pool when `parallelism > 1`) gives the reference's decisions.
    #[test]
    fn batches_match_the_reference(
        mut nodes in arb_nodes(),
        pods in arb_pods(),
        pct in prop_oneof![Just(0u8), Just(100u8)],
        parallelism in 1usize..4,
    ) {
        let g = groups();
        g.label_nodes(&mut nodes).expect("valid test input");
        let mut fast = scheduler(&nodes, pct, parallelism, Weights::default(), true);
        let decisions = fast.schedule_all(&pods).expect("valid test input");
        let mut reference = scheduler(&nodes, pct, 1, Weights::default(), true);
        for (key, d) in decisions {
            let p = pods.iter().find(|p| key.ends_with(p.metadata.name.as_deref().unwrap_or("?"))).expect("pod");
            let info = reference.prepare(p).expect("valid test input");
            prop_assert_eq!(d, reference.schedule_reference(&info), "{}", key);
        }
    }
}

/// Many nodes, so that the pool really splits the candidates: the same decisions with 1, 2 and 3 threads and
/// through the reference path.
#[test]
fn pooled_batches_match_the_reference_on_many_nodes() {
    let specs = |i: usize| NodeSpec {
        cpu: 4 + u32::try_from(i % 5).expect("small"),
        mem_gi: 8 + u32::try_from(i % 7).expect("small"),
        pods: 6,
        pool: i % 3,
        zone: i % 3,
        taint: u8::try_from(i % 5).expect("small"),
        unschedulable: i.is_multiple_of(97),
        extended: u32::try_from(i % 3).expect("small"),
    };
    let mut nodes: Vec<Node> = (0..1_500).map(|i| node(i, &specs(i))).collect();
    groups().label_nodes(&mut nodes).expect("labels");
    let pods: Vec<Pod> = (0..400)
        .map(|i| {
            let small = |m: usize| u8::try_from(i % m).expect("small");
            pod(
                i,
                &PodSpec {
                    cpu_m: 100 + u32::try_from(i % 9).expect("small") * 300,
                    mem_mi: 256 + u32::try_from(i % 4).expect("small") * 700,
                    extended: u32::try_from(i % 2).expect("small"),
                    ns: i % 5,
                    priority: 0,
                    tolerations: small(5),
                    selector: small(6),
                    preferred: small(4),
                    required: small(4),
                },
            )
        })
        .collect();
    let run = |parallelism: usize| {
        scheduler(&nodes, 100, parallelism, Weights::default(), true)
            .schedule_all(&pods)
            .expect("schedule")
    };
    let one = run(1);
    assert!(
        one.iter()
            .any(|(_, d)| matches!(d, Decision::Scheduled { .. })),
        "the workload schedules something"
    );
    assert_eq!(one, run(2));
    assert_eq!(one, run(3));
    let mut reference = scheduler(&nodes, 100, 1, Weights::default(), true);
    for (key, d) in &one {
        let p = pods
            .iter()
            .find(|p| key.ends_with(p.metadata.name.as_deref().unwrap_or("?")))
            .expect("pod");
        let info = reference.prepare(p).expect("valid test input");
        assert_eq!(d, &reference.schedule_reference(&info), "{key}");
    }
}
