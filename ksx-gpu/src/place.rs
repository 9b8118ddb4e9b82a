//! The `ksx sched place` contract (contracts/scheduler-cli.md): schedule a batch of pending pods onto a cluster
//! with node groups, GPU devices and queues, and return the bindings.
//!
//! **Steps.** (1) Node groups are validated and written onto the nodes (label `scheduling.ksx.io/nodegroup`,
//! `NoSchedule` taint for exclusive groups); a node claimed by two groups is bad input. (2) A snapshot is built
//! from the nodes and the bound `pods`, and the device state from the nodes' registrations (`gpu.ksx.io/devices`,
//! or HAMi's register annotation) and the bound pods' `gpu.ksx.io/allocated` records. `GpuFit` and the GPU score
//! plugin are always on and own the device resources (`nvidia.com/gpu`, `nvidia.com/mig-*`, `ksx.io/vgpu*`),
//! which leave NodeResourcesFit: a node without a registration has no devices, whatever its allocatable says
//! (reading plain device-plugin resources and GFD labels as devices is not implemented). (3) Each
//! pending pod of a bound workspace is mutated by [`mutate_pod`] (a pod whose own selector contradicts its binding
//! is unschedulable with the mutation's message). (4) Pending pods are decided one by one in the order below, each
//! binding (requests, devices, queue usage) visible to the next.
//!
//! **Order** of pending pods: higher `spec.priority` first; then, when `queues` are given, the position of the
//! pod's queue in `queues` (pods without a queue after those with one); then earlier `metadata.creationTimestamp`
//! (pods without one last); then the key `namespace/name`. The result never depends on the input order of nodes or
//! pending pods. Two pending pods with one key are bad input.
//!
//! **Queues** (a Volcano-like subset, scheduling.md §4.1): `{name, weight, capability, state}`. A pod names its
//! queue by the annotation `scheduling.volcano.sh/queue-name` (else the annotation or label
//! `volcano.sh/queue-name`); a pod naming none uses the queue `default` when one is listed, else no queue. What is
//! enforced: a queue name not in `queues` → unschedulable (`queue "x" does not exist`); a queue whose `state` is not
//! `Open` → unschedulable; `capability` is a hard bound: for every resource the pod requests (> 0) that the
//! capability lists, `allocated + request ≤ capability`, where allocated is the sum of the requests of bound
//! `pods` and of pods bound earlier in this run that use the queue. Not enforced (and not claimed): `weight`
//! (validated, 1–65535, and otherwise unused), proportion/deserved shares, guarantee, gangs, reclaim, preemption.
//!
//! **Profile** ([`PlaceProfile`]): `plugins` lists the score plugins with their upstream args and a `weight`
//! (default 1); absent, the kube-scheduler defaults apply (NodeResourcesFit LeastAllocated 1, BalancedAllocation 1,
//! TaintToleration 3, NodeAffinity 2, NodeGroupAffinity 2, the GPU score 1). Filters always run:
//! NodeResourcesFit, NodeUnschedulable, TaintToleration, NodeAffinity, NodeGroupAffinity (with node groups) and
//! GpuFit (with devices). `GpuBinpack` or `GpuSpread` choose the GPU policy (device order and score); `GpuFit`
//! takes no args and no weight. `workspaces` maps namespaces to workspaces and `systemNamespaces` lists the
//! namespaces exempt from node-group rules (default `kube-system`).
//!
//! **Stats**: `nodesEvaluated` is the number of Filter evaluations (pod × node) made to decide; pods refused by
//! their queue or by the mutation evaluate no node. `podsPerSecond` is pending pods decided per second of engine
//! time (mutation, preparation, queue checks, filter, score, bind), parsing and snapshot building excluded; it is
//! the only wall-clock read of this crate.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use ksx_core::manifest::from_value_at;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::device::{self, GpuTable, GrantKind, Policy};
use crate::error::{Error, Result};
use crate::framework::{Decision, Profile, Scheduler, Weights};
use crate::nodegroup::{self, GroupContext, NodeGroup, NodeGroups, mutate_pod};
use crate::plugins::balanced::{self, BalancedAllocationArgs};
use crate::plugins::fit::{self, FitConfig, NodeResourcesFitArgs};
use crate::plugins::{NODE_AFFINITY, TAINT_TOLERATION};
use crate::resources::{parse_quantity, to_units};
use crate::snapshot::{PodInfo, Snapshot, pod_key};

/// The pod annotation naming its queue (Volcano's).
pub const QUEUE_ANNOTATION: &str = "scheduling.volcano.sh/queue-name";
/// The older annotation or label naming a pod's queue.
pub const QUEUE_LABEL: &str = "volcano.sh/queue-name";
/// The queue a pod naming none uses, when it is listed.
pub const DEFAULT_QUEUE: &str = "default";

/// The score plugin names a place profile accepts (`GpuFit` too, which only filters).
pub const PLACE_PLUGINS: [&str; 8] = [
    fit::NAME,
    balanced::NAME,
    TAINT_TOLERATION,
    NODE_AFFINITY,
    nodegroup::NAME,
    device::GPU_FIT,
    device::GPU_BINPACK,
    device::GPU_SPREAD,
];

/// The input of `ksx sched place`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlaceRequest {
    /// The nodes (core/v1 Node).
    #[serde(default)]
    #[schemars(with = "Vec<serde_json::Value>")]
    pub nodes: Vec<Node>,
    /// Pods already bound (`spec.nodeName`); entries without a node name are ignored.
    #[serde(default)]
    #[schemars(with = "Vec<serde_json::Value>")]
    pub pods: Vec<Pod>,
    /// The pods to schedule (their `spec.nodeName` is ignored).
    #[serde(default)]
    #[schemars(with = "Vec<serde_json::Value>")]
    pub pending: Vec<Pod>,
    /// Node groups (`ksx sched schema` → `nodeGroup`).
    #[serde(default)]
    pub node_groups: Vec<NodeGroup>,
    /// Queues (a Volcano-like subset).
    #[serde(default)]
    pub queues: Vec<QueueSpec>,
    /// The scheduling profile.
    #[serde(default)]
    pub profile: PlaceProfile,
}

/// The state of a queue; only `Open` queues admit pods.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum QueueState {
    /// Admits pods.
    #[default]
    Open,
    /// Admits nothing.
    Closed,
    /// Being closed: admits nothing.
    Closing,
}

/// A queue (the subset of Volcano's `Queue` that `place` honours).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QueueSpec {
    /// The queue name.
    pub name: String,
    /// The weight (1–65535, default 1); validated, not used by `place`.
    #[serde(default)]
    pub weight: Option<i64>,
    /// The hard bound on what the queue's pods request (missing resources are unbounded).
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub capability: BTreeMap<String, K8sQuantity>,
    /// `Open` (default), `Closed` or `Closing`.
    #[serde(default)]
    pub state: QueueState,
}

/// A score plugin of a place profile.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlacePlugin {
    /// The plugin name (one of [`PLACE_PLUGINS`]).
    pub name: String,
    /// The weight (1–100, default 1; not for `GpuFit`).
    #[serde(default)]
    pub weight: Option<i64>,
    /// The plugin's args (upstream v1 args for `NodeResourcesFit`, `NodeResourcesBalancedAllocation`; none for
    /// the others).
    #[serde(default)]
    pub args: Option<serde_json::Value>,
}

/// The scheduling profile of `ksx sched place`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlaceProfile {
    /// Score plugins; absent = the kube-scheduler defaults (plus the ksx plugins).
    #[serde(default)]
    pub plugins: Option<Vec<PlacePlugin>>,
    /// `percentageOfNodesToScore` (0–100; 0 = adaptive, the default).
    #[serde(default)]
    pub percentage_of_nodes_to_score: Option<i64>,
    /// Namespace → workspace (projects), for node-group bindings.
    #[serde(default)]
    pub workspaces: BTreeMap<String, String>,
    /// Namespaces exempt from node-group rules; absent means `kube-system`.
    #[serde(default)]
    pub system_namespaces: Option<BTreeSet<String>>,
}

/// The output of `ksx sched place`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlaceResponse {
    /// Bound pods, in decision order.
    pub bindings: Vec<Binding>,
    /// Pods that fit nowhere, in decision order.
    pub unschedulable: Vec<Unschedulable>,
    /// Throughput and work.
    pub stats: Stats,
}

/// One binding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Binding {
    /// The pod key `namespace/name`.
    pub pod: String,
    /// The node.
    pub node: String,
    /// The devices allocated (empty without GPU requests).
    pub devices: Vec<DeviceBinding>,
}

/// One device (or share, or MIG slice) given to a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeviceBinding {
    /// The container.
    pub container: String,
    /// The device UUID.
    pub uuid: String,
    /// How it is held: `whole`, `shared` or `mig`.
    pub kind: GrantKind,
    /// Memory taken, MiB (0 for MIG).
    #[serde(rename = "memoryMiB")]
    pub memory_mib: i64,
    /// Cores taken, percent (0 for MIG).
    pub cores: i64,
    /// The MIG profile (MIG only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mig_profile: Option<String>,
}

/// A pod that was not bound.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Unschedulable {
    /// The pod key.
    pub pod: String,
    /// Why: `<count> <reason>` per node reason (sorted), or one queue or admission reason.
    pub reasons: Vec<String>,
}

/// Work and throughput.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Pending pods decided per second of engine time (wall-clock dependent).
    pub pods_per_second: f64,
    /// Filter evaluations (pod × node).
    pub nodes_evaluated: u64,
}

fn args_map(spec: &PlacePlugin, i: usize) -> Result<()> {
    let args: serde_json::Map<String, serde_json::Value> = match &spec.args {
        None | Some(serde_json::Value::Null) => serde_json::Map::new(),
        Some(v) => from_value_at(v, &format!("profile.plugins[{i}].args ({})", spec.name))?,
    };
    if let Some(key) = args
        .keys()
        .find(|k| !matches!(k.as_str(), "apiVersion" | "kind"))
    {
        return Err(Error::InvalidArgs {
            plugin: spec.name.clone(),
            field: key.clone(),
            reason: "unknown or unsupported field".into(),
        });
    }
    Ok(())
}

fn typed_args<T: serde::de::DeserializeOwned + Default>(spec: &PlacePlugin, i: usize) -> Result<T> {
    match &spec.args {
        None | Some(serde_json::Value::Null) => Ok(T::default()),
        Some(v) => Ok(from_value_at(
            v,
            &format!("profile.plugins[{i}].args ({})", spec.name),
        )?),
    }
}

/// Builds the framework profile from a place profile.
fn build_profile(p: &PlaceProfile) -> Result<Profile> {
    let mut profile = Profile::default();
    if let Some(pct) = p.percentage_of_nodes_to_score {
        profile.percentage_of_nodes_to_score = u8::try_from(pct)
            .ok()
            .filter(|v| *v <= 100)
            .ok_or_else(|| Error::InvalidObject {
                object: "profile".into(),
                reason: format!("percentageOfNodesToScore: {pct} is not in the range 0–100"),
            })?;
    }
    let Some(plugins) = &p.plugins else {
        return Ok(profile);
    };
    profile.weights = Weights {
        node_resources_fit: 0,
        balanced_allocation: 0,
        taint_toleration: 0,
        node_affinity: 0,
        node_group_affinity: 0,
        gpu: 0,
    };
    let mut listed: Vec<&str> = Vec::new();
    for (i, spec) in plugins.iter().enumerate() {
        let name = spec.name.as_str();
        if !PLACE_PLUGINS.contains(&name) {
            return Err(Error::UnknownPlugin {
                name: spec.name.clone(),
                reason: format!(
                    "profile.plugins[{i}]: supported plugins are {}",
                    PLACE_PLUGINS.join(", ")
                ),
            });
        }
        if listed.contains(&name) {
            return Err(Error::UnknownPlugin {
                name: spec.name.clone(),
                reason: format!("profile.plugins[{i}]: listed twice"),
            });
        }
        let gpu_score = [device::GPU_BINPACK, device::GPU_SPREAD];
        if gpu_score.contains(&name) && listed.iter().any(|l| gpu_score.contains(l)) {
            return Err(Error::UnknownPlugin {
                name: spec.name.clone(),
                reason: format!(
                    "profile.plugins[{i}]: GpuBinpack and GpuSpread exclude each other"
                ),
            });
        }
        listed.push(name);
        let weight = match (name, spec.weight) {
            (device::GPU_FIT, Some(_)) => {
                return Err(Error::InvalidArgs {
                    plugin: spec.name.clone(),
                    field: "weight".into(),
                    reason: "GpuFit is a filter and takes no weight".into(),
                });
            }
            (_, Some(w)) if !(1..=100).contains(&w) => {
                return Err(Error::InvalidArgs {
                    plugin: spec.name.clone(),
                    field: "weight".into(),
                    reason: format!("{w} is not in the range 1–100"),
                });
            }
            (_, w) => w.unwrap_or(1),
        };
        match name {
            fit::NAME => {
                profile.fit = FitConfig::from_args(&typed_args::<NodeResourcesFitArgs>(spec, i)?)?;
                profile.weights.node_resources_fit = weight;
            }
            balanced::NAME => {
                profile.balanced =
                    balanced::config_from_args(&typed_args::<BalancedAllocationArgs>(spec, i)?)?;
                profile.weights.balanced_allocation = weight;
            }
            _ => {
                args_map(spec, i)?;
                match name {
                    TAINT_TOLERATION => profile.weights.taint_toleration = weight,
                    NODE_AFFINITY => profile.weights.node_affinity = weight,
                    nodegroup::NAME => profile.weights.node_group_affinity = weight,
                    device::GPU_BINPACK => {
                        profile.gpu_policy = Policy::Binpack;
                        profile.weights.gpu = weight;
                    }
                    device::GPU_SPREAD => {
                        profile.gpu_policy = Policy::Spread;
                        profile.weights.gpu = weight;
                    }
                    _ => {}
                }
            }
        }
    }
    Ok(profile)
}

/// A validated queue: capability in scheduler units by resource name.
struct Queue {
    name: String,
    state: QueueState,
    capability: BTreeMap<String, i64>,
    allocated: BTreeMap<String, i64>,
}

fn build_queues(specs: &[QueueSpec]) -> Result<Vec<Queue>> {
    let mut out: Vec<Queue> = Vec::with_capacity(specs.len());
    for (i, q) in specs.iter().enumerate() {
        let object = format!("queues[{i}] ({})", q.name);
        if q.name.is_empty() {
            return Err(Error::InvalidObject {
                object,
                reason: "name: required".into(),
            });
        }
        if out.iter().any(|o| o.name == q.name) {
            return Err(Error::InvalidObject {
                object,
                reason: "two queues have this name".into(),
            });
        }
        if let Some(w) = q.weight
            && !(1..=65_535).contains(&w)
        {
            return Err(Error::InvalidObject {
                object,
                reason: format!("weight: {w} is not in the range 1–65535"),
            });
        }
        let mut capability = BTreeMap::new();
        for (name, quantity) in &q.capability {
            let parsed = parse_quantity(quantity, &object, &format!("capability.{name}"))?;
            capability.insert(name.clone(), to_units(name, &parsed));
        }
        out.push(Queue {
            name: q.name.clone(),
            state: q.state,
            capability,
            allocated: BTreeMap::new(),
        });
    }
    Ok(out)
}

/// The queue a pod names: the Volcano annotation, then the older annotation or label.
fn queue_name(pod: &Pod) -> Option<&str> {
    let meta = &pod.metadata;
    let annotations = meta.annotations.as_ref();
    annotations
        .and_then(|a| a.get(QUEUE_ANNOTATION))
        .or_else(|| annotations.and_then(|a| a.get(QUEUE_LABEL)))
        .or_else(|| meta.labels.as_ref().and_then(|l| l.get(QUEUE_LABEL)))
        .map(String::as_str)
}

/// The queue index of a pod: `Ok(None)` for no queue, `Err(name)` for a queue not listed.
fn queue_of<'a>(pod: &'a Pod, queues: &[Queue]) -> std::result::Result<Option<usize>, &'a str> {
    match queue_name(pod) {
        Some(name) => queues
            .iter()
            .position(|q| q.name == name)
            .map(Some)
            .ok_or(name),
        None => Ok(queues.iter().position(|q| q.name == DEFAULT_QUEUE)),
    }
}

/// A pod's requests by resource name, in scheduler units.
fn named_requests(info: &PodInfo, snapshot: &Snapshot) -> Vec<(String, i64)> {
    info.requests
        .iter()
        .map(|(id, v)| (snapshot.resources().name(*id).to_owned(), *v))
        .collect()
}

/// Why a queue refuses a pod, if it does.
fn queue_refusal(queue: &Queue, requests: &[(String, i64)]) -> Option<String> {
    if queue.state != QueueState::Open {
        return Some(format!(
            "queue {:?} is {:?}: only Open queues admit pods",
            queue.name, queue.state
        ));
    }
    for (name, req) in requests {
        if *req <= 0 {
            continue;
        }
        if let Some(cap) = queue.capability.get(name) {
            let used = queue.allocated.get(name).copied().unwrap_or(0);
            if used + req > *cap {
                let unit = if name == "cpu" { "m" } else { "" };
                return Some(format!(
                    "queue {:?}: capability exceeded on {name}: allocated {used}{unit} + requested {req}{unit} > \
                     capability {cap}{unit}",
                    queue.name
                ));
            }
        }
    }
    None
}

fn charge(queue: &mut Queue, requests: &[(String, i64)]) {
    for (name, v) in requests {
        *queue.allocated.entry(name.clone()).or_insert(0) += v;
    }
}

struct PendingPod {
    pod: Pod,
    key: String,
    priority: i32,
    queue: std::result::Result<Option<usize>, String>,
    created: Option<meta::Time>,
}

/// Runs the contract on a parsed request.
///
/// # Errors
/// Bad input, naming the place: [`Error::UnknownPlugin`], [`Error::InvalidArgs`], [`Error::Core`] (a field path)
/// for the profile; [`Error::InvalidQuantity`], [`Error::InvalidObject`] for nodes, pods and queues (two pending
/// pods with one key, a bad queue); [`Error::InvalidNodeGroup`] (a node claimed by two groups).
pub fn place(request: &PlaceRequest) -> Result<PlaceResponse> {
    let profile = build_profile(&request.profile)?;
    let groups = NodeGroups::new(request.node_groups.clone())?;
    let mut context = GroupContext {
        workspaces: request.profile.workspaces.clone(),
        ..GroupContext::default()
    };
    if let Some(system) = &request.profile.system_namespaces {
        context.system_namespaces = system.clone();
    }
    let mut nodes = request.nodes.clone();
    let has_groups = !groups.groups().is_empty();
    if has_groups {
        groups.label_nodes(&mut nodes)?;
    }
    let mut queues = build_queues(&request.queues)?;
    let snapshot = Snapshot::new(&nodes, &request.pods)?;
    let table = GpuTable::new(&snapshot, &nodes, &request.pods)?;
    let mut scheduler = Scheduler::new(snapshot, profile);
    if has_groups {
        scheduler = scheduler.with_node_groups(groups.clone(), context.clone())?;
    }
    scheduler = scheduler.with_gpus(table);
    // Queue usage of the bound pods.
    if !queues.is_empty() {
        let mut probe = scheduler.snapshot().clone();
        for pod in &request.pods {
            if pod
                .spec
                .as_ref()
                .and_then(|s| s.node_name.as_ref())
                .is_none()
            {
                continue;
            }
            if let Ok(Some(q)) = queue_of(pod, &queues) {
                let info = probe.pod_info(pod)?;
                let requests = named_requests(&info, &probe);
                if let Some(queue) = queues.get_mut(q) {
                    charge(queue, &requests);
                }
            }
        }
    }

    // Pending pods, validated and ordered.
    let mut pending = Vec::with_capacity(request.pending.len());
    let mut keys = BTreeSet::new();
    for (i, pod) in request.pending.iter().enumerate() {
        let mut pod = pod.clone();
        if let Some(spec) = pod.spec.as_mut() {
            spec.node_name = None;
        }
        let key = pod_key(&pod);
        if pod.metadata.name.as_deref().is_none_or(str::is_empty) {
            return Err(Error::InvalidObject {
                object: format!("pending[{i}]"),
                reason: "metadata.name: required".into(),
            });
        }
        if !keys.insert(key.clone()) {
            return Err(Error::InvalidObject {
                object: format!("pending[{i}] ({key})"),
                reason: "two pending pods have this namespace/name".into(),
            });
        }
        let queue = queue_of(&pod, &queues).map_err(str::to_owned);
        pending.push(PendingPod {
            priority: pod.spec.as_ref().and_then(|s| s.priority).unwrap_or(0),
            created: pod.metadata.creation_timestamp.clone(),
            queue,
            key,
            pod,
        });
    }
    let queue_rank = |p: &PendingPod| match &p.queue {
        Ok(Some(q)) => *q,
        _ => usize::MAX,
    };
    pending.sort_by(|a, b| {
        b.priority
            .cmp(&a.priority)
            .then_with(|| queue_rank(a).cmp(&queue_rank(b)))
            .then_with(|| match (&a.created, &b.created) {
                (Some(x), Some(y)) => x.0.cmp(&y.0),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            })
            .then_with(|| a.key.cmp(&b.key))
    });

    #[allow(
        clippy::disallowed_methods,
        reason = "podsPerSecond is wall-clock throughput by contract; the engine never reads the clock"
    )]
    let started = std::time::Instant::now();
    let mut bindings = Vec::new();
    let mut unschedulable = Vec::new();
    let mut evaluated: u64 = 0;
    let total_nodes = scheduler.snapshot().len();
    for mut p in pending {
        let refuse = |reason: String| Unschedulable {
            pod: p.key.clone(),
            reasons: vec![reason],
        };
        if has_groups && let Err(e) = mutate_pod(&mut p.pod, &groups, &context) {
            unschedulable.push(refuse(format!("node-group admission: {e}")));
            continue;
        }
        let info = scheduler.prepare(&p.pod)?;
        let requests = named_requests(&info, scheduler.snapshot());
        let queue = match &p.queue {
            Err(name) => {
                unschedulable.push(refuse(format!("queue {name:?} does not exist")));
                continue;
            }
            Ok(q) => *q,
        };
        if let Some(q) = queue.and_then(|q| queues.get(q))
            && let Some(reason) = queue_refusal(q, &requests)
        {
            unschedulable.push(refuse(reason));
            continue;
        }
        let decision = scheduler.decide(&info);
        match decision {
            Decision::Scheduled {
                node,
                node_id,
                evaluated: e,
                ..
            } => {
                evaluated += e as u64;
                scheduler.bind(&info, node_id);
                if let Some(q) = queue.and_then(|q| queues.get_mut(q)) {
                    charge(q, &requests);
                }
                let devices = scheduler
                    .allocation(&info.key)
                    .map(|a| {
                        a.containers
                            .iter()
                            .flat_map(|c| {
                                c.devices.iter().map(|g| DeviceBinding {
                                    container: c.name.clone(),
                                    uuid: g.uuid.clone(),
                                    kind: g.kind,
                                    memory_mib: g.memory_mib,
                                    cores: g.cores,
                                    mig_profile: g.mig_profile.clone(),
                                })
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                bindings.push(Binding {
                    pod: info.key.clone(),
                    node,
                    devices,
                });
            }
            Decision::Unschedulable {
                reasons,
                evaluated: e,
            } => {
                evaluated += e as u64;
                let mut list: Vec<String> =
                    reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
                list.sort();
                if list.is_empty() {
                    list.push(format!("0/{total_nodes} nodes are available"));
                }
                unschedulable.push(Unschedulable {
                    pod: info.key.clone(),
                    reasons: list,
                });
            }
        }
    }
    let decided = bindings.len() + unschedulable.len();
    let nanos = started.elapsed().as_nanos().max(1);
    #[allow(
        clippy::cast_precision_loss,
        reason = "a throughput figure; counts and nanoseconds far below 2^52 in practice"
    )]
    let pods_per_second = if decided == 0 {
        0.0
    } else {
        (decided as f64 * 1e9 / nanos as f64).round()
    };
    Ok(PlaceResponse {
        bindings,
        unschedulable,
        stats: Stats {
            pods_per_second,
            nodes_evaluated: evaluated,
        },
    })
}

/// Parses a request from a JSON value, naming the field path of a shape error.
///
/// # Errors
/// [`Error::Core`] with a parse error naming `location` and the field path (an unknown top-level field too).
pub fn parse_request(value: &serde_json::Value, location: &str) -> Result<PlaceRequest> {
    Ok(from_value_at(value, location)?)
}

/// JSON Schemas of the place request and response, and of a queue and the place profile.
pub fn schemas() -> BTreeMap<&'static str, serde_json::Value> {
    let mut out = BTreeMap::new();
    let mut put = |name, schema: schemars::Schema| {
        out.insert(name, schema.to_value());
    };
    put("placeRequest", schemars::schema_for!(PlaceRequest));
    put("placeResponse", schemars::schema_for!(PlaceResponse));
    put("placeProfile", schemars::schema_for!(PlaceProfile));
    put("queue", schemars::schema_for!(QueueSpec));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    struct GenNode {
        cpu: i64,
        mem_gi: i64,
        pods: i64,
        cards: Vec<(i64, u32)>,
    }

    #[derive(Debug, Clone)]
    struct GenPod {
        cpu_m: i64,
        mem_mi: i64,
        gpu: u8,
        share: Option<(i64, i64)>,
        priority: i32,
    }

    fn gen_node() -> impl Strategy<Value = GenNode> {
        (
            1i64..8,
            1i64..16,
            1i64..5,
            prop::collection::vec((4_000i64..24_000, 1u32..4), 0..3),
        )
            .prop_map(|(cpu, mem_gi, pods, cards)| GenNode {
                cpu,
                mem_gi,
                pods,
                cards,
            })
    }

    fn gen_pod() -> impl Strategy<Value = GenPod> {
        (
            0i64..3_000,
            0i64..4_096,
            0u8..3,
            prop::option::of((1_000i64..12_000, 0i64..70)),
            -1i32..2,
        )
            .prop_map(|(cpu_m, mem_mi, gpu, share, priority)| GenPod {
                cpu_m,
                mem_mi,
                gpu,
                share,
                priority,
            })
    }

    fn node_json(i: usize, n: &GenNode) -> serde_json::Value {
        let devices: Vec<serde_json::Value> = n
            .cards
            .iter()
            .enumerate()
            .map(|(j, (mem, split))| {
                serde_json::json!({"uuid": format!("GPU-{i}-{j}"), "index": j, "memoryMiB": mem,
                    "splitCount": split, "numa": j % 2})
            })
            .collect();
        let mut node = serde_json::json!({"metadata": {"name": format!("n{i}")},
            "status": {"allocatable": {"cpu": n.cpu.to_string(), "memory": format!("{}Gi", n.mem_gi),
                "pods": n.pods.to_string()}}});
        if !devices.is_empty() {
            node["metadata"]["annotations"] = serde_json::json!({
                "gpu.ksx.io/devices": serde_json::Value::Array(devices).to_string()});
        }
        node
    }

    fn pod_json(i: usize, p: &GenPod) -> serde_json::Value {
        let mut limits = serde_json::Map::new();
        if let Some((mem, cores)) = p.share {
            limits.insert("ksx.io/vgpu".into(), "1".into());
            limits.insert("ksx.io/vgpu-memory".into(), mem.to_string().into());
            limits.insert("ksx.io/vgpu-cores".into(), cores.to_string().into());
        } else if p.gpu > 0 {
            limits.insert("nvidia.com/gpu".into(), p.gpu.to_string().into());
        }
        serde_json::json!({"metadata": {"name": format!("p{i}"), "namespace": "ns"},
            "spec": {"priority": p.priority, "containers": [{"name": "c", "resources": {
                "requests": {"cpu": format!("{}m", p.cpu_m), "memory": format!("{}Mi", p.mem_mi)},
                "limits": limits}}]}})
    }

    fn run(nodes: &[serde_json::Value], pods: &[serde_json::Value]) -> PlaceResponse {
        let request = parse_request(
            &serde_json::json!({"nodes": nodes, "pending": pods}),
            "input",
        )
        .unwrap();
        place(&request).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn no_overcommit_every_pod_decided_input_order_independent(
            nodes in prop::collection::vec(gen_node(), 1..5),
            pods in prop::collection::vec(gen_pod(), 0..10),
        ) {
            let node_values: Vec<_> = nodes.iter().enumerate().map(|(i, n)| node_json(i, n)).collect();
            let pod_values: Vec<_> = pods.iter().enumerate().map(|(i, p)| pod_json(i, p)).collect();
            let out = run(&node_values, &pod_values);

            // Every pending pod exactly once, bound or with a reason.
            let mut seen = BTreeSet::new();
            for b in &out.bindings {
                prop_assert!(seen.insert(b.pod.clone()));
            }
            for u in &out.unschedulable {
                prop_assert!(seen.insert(u.pod.clone()));
                prop_assert!(!u.reasons.is_empty());
            }
            prop_assert_eq!(seen.len(), pods.len());

            // No node over its cpu, memory or pod count; no device over its memory, cores or slots.
            let mut used: BTreeMap<&str, (i64, i64, i64)> = BTreeMap::new();
            let mut dev: BTreeMap<&str, (i64, i64, i64)> = BTreeMap::new();
            for b in &out.bindings {
                let i: usize = b.pod.trim_start_matches("ns/p").parse().unwrap();
                let p = &pods[i];
                let e = used.entry(b.node.as_str()).or_default();
                e.0 += p.cpu_m;
                e.1 += p.mem_mi;
                e.2 += 1;
                let requested = if p.share.is_some() { 1 } else { usize::from(p.gpu) };
                prop_assert_eq!(b.devices.len(), requested, "{:?}", b);
                for d in &b.devices {
                    let e = dev.entry(d.uuid.as_str()).or_default();
                    e.0 += d.memory_mib;
                    e.1 += d.cores;
                    e.2 += 1;
                }
            }
            for (name, (cpu, mem, count)) in &used {
                let i: usize = name.trim_start_matches('n').parse().unwrap();
                let n = &nodes[i];
                prop_assert!(*cpu <= n.cpu * 1000, "cpu on {}", name);
                prop_assert!(*mem <= n.mem_gi * 1024, "memory on {}", name);
                prop_assert!(*count <= n.pods, "pods on {}", name);
            }
            for (uuid, (mem, cores, slots)) in &dev {
                let mut parts = uuid.trim_start_matches("GPU-").split('-');
                let i: usize = parts.next().unwrap().parse().unwrap();
                let j: usize = parts.next().unwrap().parse().unwrap();
                let (total, split) = nodes[i].cards[j];
                prop_assert!(*mem <= total, "GPU memory on {}", uuid);
                prop_assert!(*cores <= 100, "cores on {}", uuid);
                prop_assert!(*slots <= i64::from(split), "slots on {}", uuid);
            }

            // Node input order does not matter.
            let mut reversed = node_values.clone();
            reversed.reverse();
            let again = run(&reversed, &pod_values);
            prop_assert_eq!(&again.bindings, &out.bindings);
            prop_assert_eq!(&again.unschedulable, &out.unschedulable);
            prop_assert_eq!(again.stats.nodes_evaluated, out.stats.nodes_evaluated);

            // Nor does the input order of the pending pods (the order is priority, then key here).
            let mut shuffled = pod_values.clone();
            shuffled.reverse();
            let again = run(&node_values, &shuffled);
            prop_assert_eq!(&again.bindings, &out.bindings);
            prop_assert_eq!(&again.unschedulable, &out.unschedulable);
        }
    }

    proptest! {
        #[test]
        fn garbage_quantities_and_names_never_panic(
            cpu in "\\PC{0,8}",
            cap in "\\PC{0,8}",
            queue in "\\PC{0,6}",
            plugin in "[A-Za-z]{0,12}",
        ) {
            let value = serde_json::json!({
                "nodes": [{"metadata": {"name": "n"}, "status": {"allocatable": {"cpu": cpu, "pods": "3"}}}],
                "pending": [{"metadata": {"name": "p", "annotations": {QUEUE_ANNOTATION: queue}},
                    "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}]}}],
                "queues": [{"name": "q", "capability": {"cpu": cap}}],
                "profile": {"plugins": [{"name": plugin}]}
            });
            if let Ok(request) = parse_request(&value, "input") {
                // Ok or a named error, never a panic.
                let _ = place(&request);
            }
        }
    }

    #[test]
    fn garbage_profiles_are_errors_not_panics() {
        for profile in [
            serde_json::json!({"plugins": [{"name": "GpuFit", "weight": 2}]}),
            serde_json::json!({"plugins": [{"name": "TaintToleration", "weight": 0}]}),
            serde_json::json!({"plugins": [{"name": "NodeAffinity", "args": {"x": 1}}]}),
            serde_json::json!({"percentageOfNodesToScore": 101}),
        ] {
            let request = parse_request(&serde_json::json!({"profile": profile}), "input").unwrap();
            assert!(place(&request).is_err(), "{profile}");
        }
        let request = parse_request(
            &serde_json::json!({"queues": [{"name": "q", "weight": 0}]}),
            "input",
        )
        .unwrap();
        assert!(place(&request).unwrap_err().to_string().contains("weight"));
    }
}
