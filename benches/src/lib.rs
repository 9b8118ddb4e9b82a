//! Shared workloads of the ksx benches: inputs built from fixed seeds, used by the criterion benches and by
//! `ksx-bench` so both measure the same thing.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod};
use ksx_core::cluster::{ClusterReader, ClusterWriter, Kind, ListOptions, Object, Patch, TypedExt};
use ksx_core::{InMemoryCluster, ManualClock};
use rand::{RngExt as _, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A fixed start time for every simulated cluster of the benches.
pub const START_UNIX_SECS: i64 = 1_767_225_600;

/// Quantity strings as they appear in real manifests, in a seeded random mix.
pub fn quantity_inputs(n: usize, seed: u64) -> Vec<String> {
    const FORMS: [&str; 16] = [
        "100m", "250m", "1", "2", "1500m", "0.5", "128Mi", "1Gi", "4Gi", "512Mi", "1G", "500M",
        "1e3", "12e6", "1.5Gi", "100Ki",
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| FORMS[rng.random_range(0..FORMS.len())].to_owned())
        .collect()
}

fn node(name: &str, cpu: &str, memory: &str) -> Node {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {
            "capacity": {"cpu": cpu, "memory": memory, "pods": "500"},
            "allocatable": {"cpu": cpu, "memory": memory, "pods": "500"},
            "conditions": [{"type": "Ready", "status": "True"}]
        }
    }))
    .unwrap_or_default()
}

/// An in-memory cluster holding `n` bare pods (no controllers involved), spread over 10 namespaces.
///
/// # Errors
/// A failing in-memory create, which would be a bug.
pub async fn cluster_with_pods(n: usize) -> Result<InMemoryCluster, ksx_core::Error> {
    let cluster = InMemoryCluster::new(ManualClock::at_unix_secs(START_UNIX_SECS), 1);
    for i in 0..n {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": format!("pod-{i:05}"), "namespace": format!("ns-{}", i % 10),
                         "labels": {"app": format!("app-{}", i % 50)}},
            "spec": {"containers": [{"name": "main", "image": "busybox"}]}
        }))
        .unwrap_or_default();
        cluster.create(Object::Pod(pod)).await?;
    }
    Ok(cluster)
}

/// Lists every pod of the cluster and returns how many there were.
///
/// # Errors
/// A failing in-memory list, which would be a bug.
pub async fn list_all_pods(cluster: &InMemoryCluster) -> Result<usize, ksx_core::Error> {
    Ok(cluster
        .list(&Kind::Pod, None, &ListOptions::default())
        .await?
        .len())
}

/// A cluster with enough nodes for `replicas` pods and a ready Deployment `bench/web` of that size.
///
/// # Errors
/// A failing in-memory call, which would be a bug.
pub async fn cluster_with_deployment(replicas: i32) -> Result<InMemoryCluster, ksx_core::Error> {
    let cluster = InMemoryCluster::new(ManualClock::at_unix_secs(START_UNIX_SECS), 1);
    let nodes = (replicas / 100).max(1) + 2;
    for i in 0..nodes {
        cluster
            .create(Object::Node(node(&format!("node-{i:03}"), "128", "512Gi")))
            .await?;
    }
    let d: Deployment = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web", "namespace": "bench"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "web"}, "annotations": {"sim.ksx.io/startup-delay-seconds": "2"}},
                "spec": {"containers": [{"name": "web", "image": "web:1",
                          "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]}
            }
        }
    }))
    .unwrap_or_default();
    cluster.create(Object::Deployment(d)).await?;
    run_until_rolled_out(&cluster, replicas).await?;
    Ok(cluster)
}

/// Changes the Deployment's image and advances the simulation one second at a time until the rollout is
/// complete. Returns the simulated seconds it took (capped at one hour).
///
/// # Errors
/// A failing in-memory call, which would be a bug.
pub async fn rolling_update(
    cluster: &InMemoryCluster,
    replicas: i32,
    image: &str,
) -> Result<u64, ksx_core::Error> {
    let patch = Patch::Merge(
        serde_json::json!({"spec": {"template": {"spec": {"containers": [
            {"name": "web", "image": image, "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}
        ]}}}}),
    );
    cluster
        .patch(&Kind::Deployment, Some("bench"), "web", &patch)
        .await?;
    run_until_rolled_out(cluster, replicas).await
}

async fn run_until_rolled_out(
    cluster: &InMemoryCluster,
    replicas: i32,
) -> Result<u64, ksx_core::Error> {
    for second in 1..=3600 {
        cluster.advance(Duration::from_secs(1));
        let status = cluster
            .get_typed::<Deployment>(Some("bench"), "web")
            .await?
            .and_then(|d| d.status)
            .unwrap_or_default();
        if status.updated_replicas == Some(replicas)
            && status.available_replicas == Some(replicas)
            && status.replicas == Some(replicas)
        {
            return Ok(second);
        }
    }
    Ok(3600)
}

/// The cache area's traces: 10,000 keys, 100,000 requests, seed 1 (`ksx cache trace` defaults).
pub const CACHE_TRACE: ksx_cache::trace::GeneratorConfig = ksx_cache::trace::GeneratorConfig {
    keys: 10_000,
    requests: 100_000,
    seed: 1,
    zipf_s: 0.9,
    scan_every: 5_000,
    scan_length: 2_000,
    epochs: 5,
};

/// The cache area's capacity in objects: 10 % of the keys.
pub const CACHE_CAPACITY: u64 = 1_000;

/// A cache-area trace of this kind, built from [`CACHE_TRACE`].
///
/// # Errors
/// A generator error, which would be a bug in the fixed configuration.
pub fn cache_trace(
    kind: ksx_cache::trace::TraceKind,
) -> Result<ksx_cache::trace::Trace, ksx_cache::Error> {
    ksx_cache::trace::generate(kind, &CACHE_TRACE)
}

/// The sched area's workload: nodes (CPU, GPU and edge pools, some soft taints), node groups bound to
/// workspaces, and pending pods (mixed CPU and GPU, already through the node-group admission mutation).
#[derive(Debug, Clone)]
pub struct SchedWorkload {
    /// Nodes, labelled and tainted by their node groups.
    pub nodes: Vec<Node>,
    /// Pending pods.
    pub pending: Vec<Pod>,
    /// The node groups: `gpu` (exclusive, workspace `ai`), `edge` (preferred by `iot`).
    pub groups: ksx_gpu::nodegroup::NodeGroups,
    /// Namespace → workspace.
    pub context: ksx_gpu::nodegroup::GroupContext,
}

/// Builds the sched workload from a fixed seed: `nodes` nodes (a fifth GPU nodes with 8 `nvidia.com/gpu`, a tenth
/// edge nodes, a tenth with a `PreferNoSchedule` taint) and `pods` pending pods (a fifth GPU pods of workspace `ai`,
/// the rest CPU pods of workspaces `shop`, `iot` or none).
///
/// # Errors
/// A node group or mutation error, which would be a bug in the generator.
pub fn sched_workload(
    nodes: usize,
    pods: usize,
    seed: u64,
) -> Result<SchedWorkload, ksx_gpu::Error> {
    use ksx_gpu::nodegroup::{GroupContext, NodeGroups, mutate_pod};
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut node_list = Vec::with_capacity(nodes);
    for i in 0..nodes {
        let pool = match i % 10 {
            0 | 5 => "gpu",
            3 => "edge",
            _ => "cpu",
        };
        let cpu = [32, 64, 96][rng.random_range(0..3usize)];
        let mut alloc = serde_json::json!({"cpu": cpu.to_string(), "memory": format!("{}Gi", cpu * 4), "pods": "110"});
        if pool == "gpu" {
            alloc["nvidia.com/gpu"] = "8".into();
        }
        let mut v = serde_json::json!({
            "metadata": {"name": format!("node-{i:05}"), "labels": {"pool": pool, "zone": format!("z{}", i % 3)}},
            "status": {"allocatable": alloc}
        });
        if i % 10 == 7 {
            v["spec"] = serde_json::json!({"taints": [{"key": "maintenance", "effect": "PreferNoSchedule"}]});
        }
        node_list.push(serde_json::from_value::<Node>(v).unwrap_or_default());
    }
    let groups = NodeGroups::new(
        serde_json::from_value(serde_json::json!([
            {"name": "gpu", "exclusive": true, "pool": "private",
             "members": {"nodeSelector": {"matchLabels": {"pool": "gpu"}}}, "workspaces": [{"name": "ai"}]},
            {"name": "edge", "pool": "edge",
             "members": {"nodeSelector": {"matchLabels": {"pool": "edge"}}},
             "workspaces": [{"name": "iot", "mode": "preferred"}]}
        ]))
        .unwrap_or_default(),
    )?;
    groups.label_nodes(&mut node_list)?;
    let mut context = GroupContext::default();
    for (ns, ws) in [("train", "ai"), ("web", "shop"), ("sensors", "iot")] {
        context.workspaces.insert(ns.to_owned(), ws.to_owned());
    }
    let mut pending = Vec::with_capacity(pods);
    for i in 0..pods {
        let gpu = i % 5 == 0;
        let (ns, requests) = if gpu {
            let n = rng.random_range(1..=4u32);
            (
                "train",
                serde_json::json!({"cpu": format!("{}", 2 * n), "memory": format!("{}Gi", 16 * n), "nvidia.com/gpu": n.to_string()}),
            )
        } else {
            let ns = ["web", "sensors", "batch"][rng.random_range(0..3usize)];
            let cpu = rng.random_range(1..=20u32) * 100;
            let mem = rng.random_range(1..=32u32) * 128;
            (
                ns,
                serde_json::json!({"cpu": format!("{cpu}m"), "memory": format!("{mem}Mi")}),
            )
        };
        let mut pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": format!("pod-{i:05}"), "namespace": ns},
            "spec": {"containers": [{"name": "main", "resources": {"requests": requests}}]}
        }))
        .unwrap_or_default();
        mutate_pod(&mut pod, &groups, &context)?;
        pending.push(pod);
    }
    Ok(SchedWorkload {
        nodes: node_list,
        pending,
        groups,
        context,
    })
}

/// Schedules every pending pod of the workload (filter and score on `percentage` of the nodes, 100 = all, with
/// `parallelism` threads when every node is searched) and returns (scheduled, unschedulable, filter evaluations).
///
/// # Errors
/// A snapshot or node-group error, which would be a bug in the generator.
pub fn sched_run(
    w: &SchedWorkload,
    percentage: u8,
    parallelism: usize,
) -> Result<(usize, usize, usize), ksx_gpu::Error> {
    sched_run_with(w, percentage, parallelism, false)
}

/// [`sched_run`] through the fast path (`reference: false`, `Scheduler::schedule_all`) or the straightforward
/// reference path (`true`: `Scheduler::schedule_reference` pod by pod, in input order, which is QueueSort order
/// here since the pods have no priority and no creation time).
///
/// # Errors
/// A snapshot or node-group error, which would be a bug in the generator.
pub fn sched_run_with(
    w: &SchedWorkload,
    percentage: u8,
    parallelism: usize,
    reference: bool,
) -> Result<(usize, usize, usize), ksx_gpu::Error> {
    use ksx_gpu::framework::{Decision, Profile, Scheduler};
    let snapshot = ksx_gpu::Snapshot::new(&w.nodes, &[])?;
    let profile = Profile {
        percentage_of_nodes_to_score: percentage,
        parallelism,
        ..Profile::default()
    };
    let mut scheduler =
        Scheduler::new(snapshot, profile).with_node_groups(w.groups.clone(), w.context.clone())?;
    let (mut ok, mut failed, mut evaluated) = (0, 0, 0);
    let decisions = if reference {
        let mut out = Vec::with_capacity(w.pending.len());
        for pod in &w.pending {
            let info = scheduler.prepare(pod)?;
            let d = scheduler.schedule_reference(&info);
            out.push((info.key, d));
        }
        out
    } else {
        scheduler.schedule_all(&w.pending)?
    };
    for (_, d) in decisions {
        match d {
            Decision::Scheduled { evaluated: e, .. } => {
                ok += 1;
                evaluated += e;
            }
            Decision::Unschedulable { evaluated: e, .. } => {
                failed += 1;
                evaluated += e;
            }
        }
    }
    Ok((ok, failed, evaluated))
}

pub mod cache_data;
pub mod scale;
pub mod vpa;

/// The HPA area's workload: HPAs with three metrics each (cpu Utilization, memory AverageValue, a Pods
/// metric) over pods with samples, built from a fixed seed. HPAs share [`HPA_POD_SETS`] pod sets so the
/// workload stays small in memory; every calculation still walks all its pods.
pub mod hpa {
    use std::collections::BTreeMap;

    use ksx_core::quantity::Quantity;
    use ksx_scaling::hpa::model::{MetricIdentifier, MetricSourceType, PodsMetricSource};
    use ksx_scaling::hpa::pod::{
        ConditionStatus, ContainerRequests, PodInfo, PodPhase, PodSample, ReadyCondition,
    };
    use ksx_scaling::hpa::{
        CalculatorConfig, History, HpaBehavior, MetricData, MetricSpec, MetricTarget,
        NormalizeArgs, ResolvedBehavior, combine, compute_replicas, normalize,
    };
    use rand::{RngExt as _, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Distinct pod sets shared by the HPAs.
    pub const HPA_POD_SETS: usize = 64;
    /// Nanoseconds per second.
    const S: i64 = 1_000_000_000;
    /// Engine time of the first sync.
    pub const HPA_START: i64 = super::START_UNIX_SECS * S;

    /// Pods of one set and their samples per metric.
    #[derive(Debug, Clone)]
    pub struct PodSet {
        /// The pods.
        pub pods: Vec<PodInfo>,
        /// Samples per metric of an HPA, in metric order.
        pub samples: [Vec<PodSample>; 3],
    }

    /// One HPA of the workload.
    #[derive(Debug, Clone)]
    pub struct HpaCase {
        /// Its three metrics.
        pub metrics: [MetricSpec; 3],
        /// Its pod set.
        pub pod_set: usize,
        /// Its behavior, resolved.
        pub behavior: ResolvedBehavior,
        /// `minReplicas`, `maxReplicas`.
        pub min_max: (i32, i32),
    }

    /// The whole workload.
    #[derive(Debug, Clone)]
    pub struct HpaWorkload {
        /// The HPAs.
        pub hpas: Vec<HpaCase>,
        /// The shared pod sets.
        pub pod_sets: Vec<PodSet>,
    }

    fn pod(i: usize, rng: &mut ChaCha8Rng) -> PodInfo {
        // A few pods are young, pending or never ready, so every grouping branch runs.
        let roll = rng.random_range(0..100);
        let start = if roll < 5 {
            HPA_START - 60 * S
        } else {
            HPA_START - 3600 * S
        };
        PodInfo {
            name: format!("pod-{i:03}"),
            phase: if roll == 99 {
                PodPhase::Pending
            } else {
                PodPhase::Running
            },
            deleted: false,
            start_time: Some(start),
            ready: Some(ReadyCondition {
                status: if roll == 98 {
                    ConditionStatus::False
                } else {
                    ConditionStatus::True
                },
                last_transition: start + 10 * S,
            }),
            containers: vec![ContainerRequests {
                name: "app".to_owned(),
                requests: BTreeMap::from([
                    ("cpu".to_owned(), 500),
                    ("memory".to_owned(), 512 * 1024 * 1024 * 1000),
                ]),
            }],
        }
    }

    fn samples(pods: &[PodInfo], rng: &mut ChaCha8Rng, low: i64, high: i64) -> Vec<PodSample> {
        let mut out = Vec::with_capacity(pods.len());
        for p in pods {
            // About one pod in fifty has no sample (missing).
            if rng.random_range(0..50) == 0 {
                continue;
            }
            out.push(PodSample {
                pod: p.name.clone(),
                timestamp: HPA_START - 10 * S,
                window: 30 * S,
                value: rng.random_range(low..high),
                containers: BTreeMap::new(),
            });
        }
        out
    }

    /// `n` HPAs with `pods` pods each, from `seed`.
    pub fn hpa_workload(n: usize, pods: usize, seed: u64) -> HpaWorkload {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let pod_sets = (0..HPA_POD_SETS)
            .map(|_| {
                let list: Vec<PodInfo> = (0..pods).map(|i| pod(i, &mut rng)).collect();
                let mib = 1024 * 1024 * 1000;
                let samples = [
                    samples(&list, &mut rng, 100, 900),
                    samples(&list, &mut rng, 100 * mib, 900 * mib),
                    samples(&list, &mut rng, 1_000, 40_000),
                ];
                PodSet {
                    pods: list,
                    samples,
                }
            })
            .collect();
        let hpas = (0..n)
            .map(|_| {
                let qps = MetricSpec {
                    source_type: MetricSourceType::Pods,
                    resource: None,
                    container_resource: None,
                    pods: Some(PodsMetricSource {
                        metric: MetricIdentifier {
                            name: "qps".to_owned(),
                            selector: None,
                        },
                        target: MetricTarget::average_value(Quantity::from_int(
                            rng.random_range(5..30),
                            ksx_core::quantity::Format::DecimalSi,
                        )),
                    }),
                    object: None,
                    external: None,
                };
                let memory = MetricTarget::average_value(Quantity::from_int(
                    rng.random_range(200..600) * 1024 * 1024,
                    ksx_core::quantity::Format::BinarySi,
                ));
                HpaCase {
                    metrics: [
                        MetricSpec::resource(
                            "cpu",
                            MetricTarget::utilization(rng.random_range(30..90)),
                        ),
                        MetricSpec::resource("memory", memory),
                        qps,
                    ],
                    pod_set: rng.random_range(0..HPA_POD_SETS),
                    behavior: HpaBehavior::default().resolve(300),
                    min_max: (1, rng.random_range(60..200)),
                }
            })
            .collect();
        HpaWorkload { hpas, pod_sets }
    }

    /// One metric's calculation of one HPA; returns the proposal (0 on an evaluation error).
    pub fn replica_calc(
        w: &HpaWorkload,
        hpa: &HpaCase,
        metric: usize,
        now: i64,
        current: i32,
    ) -> i32 {
        let (Some(set), Some(spec)) = (w.pod_sets.get(hpa.pod_set), hpa.metrics.get(metric)) else {
            return 0;
        };
        let samples = set.samples.get(metric).map_or(&[][..], Vec::as_slice);
        let data = MetricData {
            now,
            current_replicas: current,
            status_replicas: current,
            pods: &set.pods,
            pod_samples: samples,
            object_value: None,
            external_values: &[],
        };
        compute_replicas(spec, &data, &CalculatorConfig::default()).map_or(0, |p| p.replicas)
    }

    /// A full reconcile decision of one HPA: three calculations, the maximum, then normalization. Returns the
    /// new replica count.
    pub fn decide(
        w: &HpaWorkload,
        hpa: &HpaCase,
        history: &mut History,
        now: i64,
        current: i32,
    ) -> i32 {
        let Some(set) = w.pod_sets.get(hpa.pod_set) else {
            return current;
        };
        let config = CalculatorConfig::default();
        let results: Vec<_> = hpa
            .metrics
            .iter()
            .zip(&set.samples)
            .map(|(spec, samples)| {
                let data = MetricData {
                    now,
                    current_replicas: current,
                    status_replicas: current,
                    pods: &set.pods,
                    pod_samples: samples,
                    object_value: None,
                    external_values: &[],
                };
                compute_replicas(spec, &data, &config)
            })
            .collect();
        let Ok(best) = combine(&results, current) else {
            return current;
        };
        normalize_one(hpa, history, now, current, best.replicas)
    }

    /// One normalization of one HPA with the default behavior.
    pub fn normalize_one(
        hpa: &HpaCase,
        history: &mut History,
        now: i64,
        current: i32,
        desired: i32,
    ) -> i32 {
        normalize(
            history,
            &NormalizeArgs {
                now,
                current_replicas: current,
                desired_replicas: desired,
                min_replicas: hpa.min_max.0,
                max_replicas: hpa.min_max.1,
                behavior: Some(&hpa.behavior),
                downscale_window_secs: 300,
            },
        )
        .desired_replicas
    }
}
