//! The demo's scheduling section: the platform's `gpu` pool registers its GPUs (8 × A100 80 GB per node over two
//! NUMA nodes, UUIDs drawn from the seed) in `gpu.ksx.io/devices`, is split into two node groups (an exclusive
//! `gpu-training` group bound to workspace `research`, a shared `inference` group bound to `retail`), and the ksx
//! scheduler places a training job (whole GPUs, one NUMA node per worker), a batch of vGPU inference pods
//! (binpack) and one pod of an unbound workspace that asks for the exclusive group and is refused.
//!
//! Every decision, device choice and refusal reason comes from [`ksx_gpu`] (admission mutation, NodeGroupAffinity,
//! GpuFit, GpuBinpack); nothing here decides a placement itself. The section plans on the platform's nodes as
//! they are, with their GPUs idle: the platform's own pods carry no allocation records.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, Pod};
use ksx_core::Object;
use ksx_gpu::device::{
    DEVICES_ANNOTATION, GpuDevice, GpuTable, NUMA_BIND_ANNOTATION, POLICY_ANNOTATION, Policy,
    register_node,
};
use ksx_gpu::framework::{Decision, Profile, Scheduler};
use ksx_gpu::nodegroup::{GroupContext, NODE_GROUP_LABEL, NodeGroups, mutate_pod};
use ksx_gpu::snapshot::Snapshot;
use rand::{RngExt as _, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::generate::POOL_LABEL;
use super::report::{bars, esc, table};

/// The exclusive group for training.
const TRAINING_GROUP: &str = "gpu-training";
/// The shared group for inference.
const INFERENCE_GROUP: &str = "inference";
/// The workspace bound to the training group, and the project its job runs in.
const TRAINING_WORKSPACE: &str = "research";
/// See [`TRAINING_WORKSPACE`].
const TRAINING_NS: &str = "ml-training";
/// The workspace bound to the inference group, and the project its pods run in.
const INFERENCE_WORKSPACE: &str = "retail";
/// See [`INFERENCE_WORKSPACE`].
const INFERENCE_NS: &str = "search";
/// A workspace bound to no group, and the project of its pod.
const UNBOUND_WORKSPACE: &str = "finance";
/// See [`UNBOUND_WORKSPACE`].
const UNBOUND_NS: &str = "payments";

/// GPUs per node, NUMA nodes per node, memory per GPU (MiB).
const GPUS_PER_NODE: u32 = 8;
/// See [`GPUS_PER_NODE`].
const NUMA_NODES: u32 = 2;
/// See [`GPUS_PER_NODE`].
const GPU_MEMORY_MIB: i64 = 81_920;
/// The registered product.
const GPU_MODEL: &str = "NVIDIA-A100-SXM4-80GB";

/// Training workers, and whole GPUs per worker (one NUMA node's worth).
const TRAINING_WORKERS: usize = 2;
/// See [`TRAINING_WORKERS`].
const GPUS_PER_WORKER: u32 = 4;
/// Inference pods, and the vGPU share each asks for.
const INFERENCE_PODS: usize = 20;
/// See [`INFERENCE_PODS`].
const INFERENCE_MEMORY_MIB: i64 = 10_240;
/// See [`INFERENCE_PODS`].
const INFERENCE_CORES: i64 = 30;

/// One pod the scheduler bound.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Placement {
    /// `namespace/name`.
    pub(crate) pod: String,
    /// The node it was bound to.
    pub(crate) node: String,
    /// The device indices it was given, in choice order.
    pub(crate) gpus: Vec<u32>,
    /// The NUMA nodes of those devices.
    pub(crate) numa: Vec<u32>,
}

/// One pod the scheduler refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Refusal {
    /// `namespace/name`.
    pub(crate) pod: String,
    /// The pod's workspace, if any.
    pub(crate) workspace: Option<String>,
    /// Upstream's `0/N nodes are available: …` message.
    pub(crate) reason: String,
}

/// One device of a group, after placement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeviceRow {
    /// The node.
    pub(crate) node: String,
    /// The device index.
    pub(crate) index: u32,
    /// The NUMA node.
    pub(crate) numa: u32,
    /// Held whole by one pod.
    pub(crate) whole: bool,
    /// vGPU shares on it (a whole grant counts one).
    pub(crate) shares: u32,
    /// Memory in use and on the device, MiB.
    #[serde(rename = "memoryUsedMiB")]
    pub(crate) memory_used_mib: i64,
    /// See [`DeviceRow::memory_used_mib`].
    #[serde(rename = "memoryMiB")]
    pub(crate) memory_mib: i64,
    /// Cores in use and on the device, percent.
    pub(crate) cores_used: i64,
    /// See [`DeviceRow::cores_used`].
    pub(crate) cores: i64,
}

/// GPU utilisation of one node group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GroupUsage {
    /// The group.
    pub(crate) group: String,
    /// Only bound workspaces may use it.
    pub(crate) exclusive: bool,
    /// Bound workspaces.
    pub(crate) workspaces: Vec<String>,
    /// Its nodes.
    pub(crate) nodes: Vec<String>,
    /// GPUs in the group, and those held whole.
    pub(crate) gpus: usize,
    /// See [`GroupUsage::gpus`].
    pub(crate) whole_gpus_used: usize,
    /// vGPU shares placed.
    pub(crate) vgpu_shares: u32,
    /// Memory in use over all devices, and in total, MiB.
    #[serde(rename = "memoryUsedMiB")]
    pub(crate) memory_used_mib: i64,
    /// See [`GroupUsage::memory_used_mib`].
    #[serde(rename = "memoryMiB")]
    pub(crate) memory_mib: i64,
    /// Cores in use over all devices, and in total, percent-of-a-card units.
    pub(crate) cores_used: i64,
    /// See [`GroupUsage::cores_used`].
    pub(crate) cores: i64,
    /// Per device, for the report.
    #[serde(skip)]
    pub(crate) devices: Vec<DeviceRow>,
}

impl GroupUsage {
    fn memory_ratio(&self) -> f64 {
        ratio(self.memory_used_mib, self.memory_mib)
    }

    fn cores_ratio(&self) -> f64 {
        ratio(self.cores_used, self.cores)
    }
}

fn ratio(used: i64, total: i64) -> f64 {
    if total > 0 {
        used as f64 / total as f64
    } else {
        0.0
    }
}

/// What the scheduling section did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SchedTrace {
    /// Nodes in the scheduler's snapshot (the whole platform).
    pub(crate) nodes: usize,
    /// Nodes with registered GPUs.
    pub(crate) gpu_nodes: usize,
    /// True when the platform had fewer than two GPU nodes and the section added one shaped like the pool.
    pub(crate) added_gpu_node: bool,
    /// Pods bound, in scheduling order.
    pub(crate) placements: Vec<Placement>,
    /// Pods refused.
    pub(crate) refusals: Vec<Refusal>,
    /// Utilisation per node group, by group name.
    pub(crate) groups: Vec<GroupUsage>,
}

/// The devices of one GPU node: [`GPUS_PER_NODE`] cards over [`NUMA_NODES`] NUMA nodes, UUIDs from `rng`.
fn devices(rng: &mut ChaCha8Rng) -> Vec<GpuDevice> {
    (0..GPUS_PER_NODE)
        .map(|index| GpuDevice {
            uuid: format!(
                "GPU-{:08x}-{:04x}-{:04x}",
                rng.random::<u32>(),
                rng.random::<u16>(),
                rng.random::<u16>()
            ),
            index,
            model: GPU_MODEL.to_owned(),
            memory_mib: GPU_MEMORY_MIB,
            cores: 100,
            numa: index / (GPUS_PER_NODE / NUMA_NODES),
            split_count: 10,
            healthy: true,
            mig: Vec::new(),
        })
        .collect()
}

fn is_gpu_node(node: &Node) -> bool {
    node.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(POOL_LABEL))
        .is_some_and(|p| p == "gpu")
}

/// The node groups: the first half of the GPU nodes (rounded up, leaving at least one) train, the rest infer.
fn node_groups(gpu_nodes: &[String]) -> anyhow::Result<NodeGroups> {
    let training = gpu_nodes.len().div_ceil(2).min(gpu_nodes.len() - 1).max(1);
    let (train, infer) = gpu_nodes.split_at(training);
    let groups = serde_json::from_value(serde_json::json!([
        {"name": TRAINING_GROUP, "alias": "GPU training", "exclusive": true, "pool": "private",
         "members": {"nodes": train}, "workspaces": [{"name": TRAINING_WORKSPACE}]},
        {"name": INFERENCE_GROUP, "alias": "Inference", "exclusive": false,
         "members": {"nodes": infer}, "workspaces": [{"name": INFERENCE_WORKSPACE}]}
    ]))?;
    Ok(NodeGroups::new(groups)?)
}

/// A pod with one container; `limits` are the device resources (requests of extended resources equal them).
fn pod(
    namespace: &str,
    name: &str,
    annotations: &serde_json::Value,
    requests: &serde_json::Value,
    limits: &serde_json::Value,
    extra_spec: &serde_json::Value,
) -> anyhow::Result<Pod> {
    let mut spec = serde_json::json!({
        "containers": [{"name": "main", "image": "registry.example.com/ai/runtime:1.0",
                        "resources": {"requests": requests, "limits": limits}}],
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    });
    if let (Some(s), Some(extra)) = (spec.as_object_mut(), extra_spec.as_object()) {
        for (k, v) in extra {
            s.insert(k.clone(), v.clone());
        }
    }
    Ok(serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "namespace": namespace, "annotations": annotations},
        "spec": spec
    }))?)
}

/// The pending pods: the training workers, the inference batch, the intruder.
fn pending() -> anyhow::Result<Vec<Pod>> {
    let mut pods = Vec::new();
    for w in 0..TRAINING_WORKERS {
        pods.push(pod(
            TRAINING_NS,
            &format!("llm-finetune-worker-{w}"),
            &serde_json::json!({NUMA_BIND_ANNOTATION: "true", POLICY_ANNOTATION: "binpack"}),
            &serde_json::json!({"cpu": "16", "memory": "128Gi"}),
            &serde_json::json!({"nvidia.com/gpu": GPUS_PER_WORKER.to_string()}),
            &serde_json::json!({}),
        )?);
    }
    for i in 0..INFERENCE_PODS {
        pods.push(pod(
            INFERENCE_NS,
            &format!("ranker-{i:02}"),
            &serde_json::json!({POLICY_ANNOTATION: "binpack"}),
            &serde_json::json!({"cpu": "1", "memory": "4Gi"}),
            &serde_json::json!({
                "ksx.io/vgpu": "1",
                "ksx.io/vgpu-memory": INFERENCE_MEMORY_MIB.to_string(),
                "ksx.io/vgpu-cores": INFERENCE_CORES.to_string()
            }),
            &serde_json::json!({}),
        )?);
    }
    // Asks for the exclusive group by name and even tolerates its taint: the NodeGroupAffinity filter still
    // keeps it off, since its workspace is not bound to the group.
    pods.push(pod(
        UNBOUND_NS,
        "fraud-model-train",
        &serde_json::json!({}),
        &serde_json::json!({"cpu": "8", "memory": "32Gi"}),
        &serde_json::json!({"nvidia.com/gpu": "2"}),
        &serde_json::json!({
            "nodeSelector": {NODE_GROUP_LABEL: TRAINING_GROUP},
            "tolerations": [
                {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
                {"key": NODE_GROUP_LABEL, "operator": "Equal", "value": TRAINING_GROUP, "effect": "NoSchedule"}
            ]
        }),
    )?);
    Ok(pods)
}

/// Runs the section on the platform's nodes (taken from `objects`), with devices drawn from `seed`.
///
/// # Errors
/// An engine rejecting the node groups, a node or a pod (an internal inconsistency of the demo).
pub(crate) fn run(
    objects: &[Object],
    tenancy: &ksx_core::tenancy::Tenancy,
    seed: u64,
) -> anyhow::Result<SchedTrace> {
    let mut nodes: Vec<Node> = objects
        .iter()
        .filter_map(|o| match o {
            Object::Node(n) => Some(n.clone()),
            _ => None,
        })
        .collect();
    nodes.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let mut gpu_names: Vec<String> = nodes
        .iter()
        .filter(|n| is_gpu_node(n))
        .filter_map(|n| n.metadata.name.clone())
        .collect();
    let mut added_gpu_node = false;
    while gpu_names.len() < 2 {
        let Some(mut extra) = nodes.iter().find(|n| is_gpu_node(n)).cloned() else {
            anyhow::bail!("the demo platform has no node in the gpu pool");
        };
        let name = format!("gpu-{:02}", gpu_names.len());
        extra.metadata.name = Some(name.clone());
        if let Some(l) = extra.metadata.labels.as_mut() {
            l.insert("kubernetes.io/hostname".into(), name.clone());
        }
        nodes.push(extra);
        gpu_names.push(name);
        added_gpu_node = true;
    }
    gpu_names.sort();

    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5c4e_d000);
    for node in nodes.iter_mut().filter(|n| is_gpu_node(n)) {
        let text = serde_json::to_string(&devices(&mut rng))?;
        node.metadata
            .annotations
            .get_or_insert_default()
            .insert(DEVICES_ANNOTATION.to_owned(), text);
        register_node(node)?;
    }
    let groups = node_groups(&gpu_names)?;
    groups.label_nodes(&mut nodes)?;
    let context = GroupContext::from_tenancy(tenancy);

    let mut pods = pending()?;
    for p in &mut pods {
        mutate_pod(p, &groups, &context)?;
    }
    let snapshot = Snapshot::new(&nodes, &[])?;
    let table = GpuTable::new(&snapshot, &nodes, &[])?;
    let node_count = snapshot.len();
    let profile = Profile {
        gpu_policy: Policy::Binpack,
        ..Profile::default()
    };
    let mut scheduler = Scheduler::new(snapshot, profile)
        .with_node_groups(groups.clone(), context.clone())?
        .with_gpus(table);
    let decisions = scheduler.schedule_all(&pods)?;

    let mut placements = Vec::new();
    let mut refusals = Vec::new();
    for (key, decision) in &decisions {
        match decision {
            Decision::Scheduled { node, node_id, .. } => {
                let devices = scheduler
                    .gpus()
                    .and_then(|t| t.node(node_id.index()))
                    .map(|n| n.devices.as_slice())
                    .unwrap_or_default();
                let grants: Vec<u32> = scheduler
                    .allocation(key)
                    .map(|a| a.grants().map(|g| g.index).collect())
                    .unwrap_or_default();
                let mut numa: Vec<u32> = grants
                    .iter()
                    .filter_map(|i| devices.iter().find(|d| d.index == *i).map(|d| d.numa))
                    .collect();
                numa.sort_unstable();
                numa.dedup();
                placements.push(Placement {
                    pod: key.clone(),
                    node: node.clone(),
                    gpus: grants,
                    numa,
                });
            }
            Decision::Unschedulable { .. } => {
                let namespace = key.split('/').next().unwrap_or_default();
                refusals.push(Refusal {
                    pod: key.clone(),
                    workspace: context.workspaces.get(namespace).cloned(),
                    reason: decision.message(node_count),
                });
            }
        }
    }

    let mut usage = Vec::new();
    for g in groups.groups() {
        let members: Vec<String> = gpu_names
            .iter()
            .filter(|n| g.members.nodes.contains(n))
            .cloned()
            .collect();
        let mut rows = Vec::new();
        for name in &members {
            let Some(state) = scheduler
                .snapshot()
                .node_id(name)
                .and_then(|id| scheduler.gpus().and_then(|t| t.node(id.index())))
            else {
                continue;
            };
            for (d, u) in state.devices.iter().zip(&state.usage) {
                rows.push(DeviceRow {
                    node: name.clone(),
                    index: d.index,
                    numa: d.numa,
                    whole: u.whole,
                    shares: u.slots,
                    memory_used_mib: u.memory_mib,
                    memory_mib: d.memory_mib,
                    cores_used: u.cores,
                    cores: d.cores,
                });
            }
        }
        usage.push(GroupUsage {
            group: g.name.clone(),
            exclusive: g.exclusive,
            workspaces: g.workspaces.iter().map(|w| w.name.clone()).collect(),
            nodes: members,
            gpus: rows.len(),
            whole_gpus_used: rows.iter().filter(|r| r.whole).count(),
            vgpu_shares: rows.iter().filter(|r| !r.whole).map(|r| r.shares).sum(),
            memory_used_mib: rows.iter().map(|r| r.memory_used_mib).sum(),
            memory_mib: rows.iter().map(|r| r.memory_mib).sum(),
            cores_used: rows.iter().map(|r| r.cores_used).sum(),
            cores: rows.iter().map(|r| r.cores).sum(),
            devices: rows,
        });
    }
    Ok(SchedTrace {
        nodes: node_count,
        gpu_nodes: gpu_names.len(),
        added_gpu_node,
        placements,
        refusals,
        groups: usage,
    })
}

fn gib(mib: i64) -> String {
    format!("{:.0} GiB", mib as f64 / 1024.0)
}

fn percent(r: f64) -> String {
    format!("{:.0}%", r * 100.0)
}

/// Placements per node, for the summary: `gpu-00 ×2, gpu-01 ×20`.
fn per_node(placements: &[&Placement]) -> String {
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for p in placements {
        *count.entry(p.node.as_str()).or_default() += 1;
    }
    count
        .iter()
        .map(|(n, c)| format!("{n} ×{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn placed_in<'a>(s: &'a SchedTrace, namespace: &str) -> Vec<&'a Placement> {
    s.placements
        .iter()
        .filter(|p| p.pod.split('/').next() == Some(namespace))
        .collect()
}

/// The summary lines for the terminal.
pub(crate) fn print_summary(s: &SchedTrace) {
    let training = placed_in(s, TRAINING_NS);
    let workers: Vec<String> = training
        .iter()
        .map(|p| {
            let numa: Vec<String> = p.numa.iter().map(u32::to_string).collect();
            format!("{} GPUs {:?} NUMA {}", p.node, p.gpus, numa.join("+"))
        })
        .collect();
    outln!(
        "sched: {} nodes, {} with GPUs; training job {}/{} workers × {} whole GPUs placed ({})",
        s.nodes,
        s.gpu_nodes,
        training.len(),
        TRAINING_WORKERS,
        GPUS_PER_WORKER,
        workers.join("; ")
    );
    let inference = placed_in(s, INFERENCE_NS);
    outln!(
        "sched: inference {}/{} vGPU pods × {} MiB / {}% cores placed, binpack ({})",
        inference.len(),
        INFERENCE_PODS,
        INFERENCE_MEMORY_MIB,
        INFERENCE_CORES,
        per_node(&inference)
    );
    for r in &s.refusals {
        outln!(
            "sched: refused {} (workspace {}): {}",
            r.pod,
            r.workspace.as_deref().unwrap_or("none"),
            r.reason
        );
    }
    for g in &s.groups {
        outln!(
            "sched: group {}{}: {}/{} whole GPUs, {} vGPU shares, memory {}/{} ({}), cores {}",
            g.group,
            if g.exclusive { " (exclusive)" } else { "" },
            g.whole_gpus_used,
            g.gpus,
            g.vgpu_shares,
            gib(g.memory_used_mib),
            gib(g.memory_mib),
            percent(g.memory_ratio()),
            percent(g.cores_ratio())
        );
    }
}

/// The HTML body of the report's scheduling section.
pub(crate) fn section(s: &SchedTrace) -> String {
    let mut body = format!(
        "<p>The ksx scheduler over the platform's {} nodes. The {} nodes of the <b>gpu</b> pool register {} × \
         {} ({} MiB, two NUMA nodes) each in the <code>{}</code> annotation{}, with their GPUs idle. Node group \
         <b>{}</b> is exclusive and bound to workspace <b>{}</b>: its nodes get a <code>NoSchedule</code> taint \
         and only that workspace's pods may use them. Group <b>{}</b> is shared and bound to workspace <b>{}</b>. \
         Pods get their group's node affinity and toleration at admission; NodeGroupAffinity, GpuFit and \
         GpuBinpack then decide.</p>",
        s.nodes,
        s.gpu_nodes,
        GPUS_PER_NODE,
        esc(GPU_MODEL),
        GPU_MEMORY_MIB,
        DEVICES_ANNOTATION,
        if s.added_gpu_node {
            " (the platform was too small for two groups, so one node shaped like the pool was added)"
        } else {
            ""
        },
        TRAINING_GROUP,
        TRAINING_WORKSPACE,
        INFERENCE_GROUP,
        INFERENCE_WORKSPACE,
    );
    let rows: Vec<Vec<String>> = s
        .placements
        .iter()
        .filter(|p| p.pod.starts_with(TRAINING_NS))
        .chain(
            s.placements
                .iter()
                .filter(|p| !p.pod.starts_with(TRAINING_NS)),
        )
        .map(|p| {
            vec![
                p.pod.clone(),
                p.node.clone(),
                p.gpus
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                p.numa
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            ]
        })
        .collect();
    body.push_str(&format!(
        "<h3>Placements</h3><p>{TRAINING_WORKERS} training workers with {GPUS_PER_WORKER} whole GPUs each \
         (<code>{NUMA_BIND_ANNOTATION}: \"true\"</code>: one NUMA node per worker) from workspace \
         {TRAINING_WORKSPACE}; {INFERENCE_PODS} inference pods with one vGPU share of {INFERENCE_MEMORY_MIB} MiB \
         and {INFERENCE_CORES} % cores each (binpack) from workspace {INFERENCE_WORKSPACE}.</p>"
    ));
    body.push_str(&table(&["pod", "node", "GPUs", "NUMA"], &rows));
    if !s.refusals.is_empty() {
        let rows: Vec<Vec<String>> = s
            .refusals
            .iter()
            .map(|r| {
                vec![
                    r.pod.clone(),
                    r.workspace.clone().unwrap_or_else(|| "none".to_owned()),
                    r.reason.clone(),
                ]
            })
            .collect();
        body.push_str(&format!(
            "<h3>Refused</h3><p>A pod of workspace {UNBOUND_WORKSPACE}, bound to no group, selects group \
             {TRAINING_GROUP} by its label and tolerates its taint; the scheduler still refuses it.</p>"
        ));
        body.push_str(&table(&["pod", "workspace", "reason"], &rows));
    }
    for g in &s.groups {
        body.push_str(&format!(
            "<h3>Node group {}{}</h3><p>Workspaces {}; nodes {}. {} of {} GPUs held whole, {} vGPU shares, \
             memory {} of {} ({}), cores {}.</p>",
            esc(&g.group),
            if g.exclusive { " (exclusive)" } else { "" },
            esc(&g.workspaces.join(", ")),
            esc(&g.nodes.join(", ")),
            g.whole_gpus_used,
            g.gpus,
            g.vgpu_shares,
            gib(g.memory_used_mib),
            gib(g.memory_mib),
            percent(g.memory_ratio()),
            percent(g.cores_ratio())
        ));
        let rows: Vec<Vec<String>> = g
            .devices
            .iter()
            .map(|d| {
                vec![
                    d.node.clone(),
                    d.index.to_string(),
                    d.numa.to_string(),
                    if d.whole {
                        "whole".to_owned()
                    } else if d.shares > 0 {
                        format!("{} shares", d.shares)
                    } else {
                        "idle".to_owned()
                    },
                    format!("{}/{}", d.memory_used_mib, d.memory_mib),
                    format!("{}/{}", d.cores_used, d.cores),
                ]
            })
            .collect();
        body.push_str(&table(
            &[
                "node",
                "GPU",
                "NUMA",
                "held",
                "memory MiB used/total",
                "cores % used/total",
            ],
            &rows,
        ));
        body.push_str(&bars(
            &g.devices
                .iter()
                .map(|d| {
                    let r = ratio(d.memory_used_mib, d.memory_mib);
                    (
                        format!("{} GPU {}", d.node, d.index),
                        r,
                        format!("{} / {} MiB", d.memory_used_mib, d.memory_mib),
                    )
                })
                .collect::<Vec<_>>(),
        ));
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(seed: u64, nodes: usize) -> SchedTrace {
        let platform = super::super::generate::generate(seed, nodes, 5).unwrap();
        run(&platform.objects, &platform.tenancy, seed).unwrap()
    }

    #[test]
    fn the_demo_floor_still_gets_two_groups() {
        // 4 nodes give one gpu node (15 % rounded up): the section adds a second so both groups have a member.
        let t = trace(7, 4);
        assert!(t.added_gpu_node);
        assert_eq!(t.gpu_nodes, 2);
        assert_eq!(t.nodes, 5);
        assert!(t.groups.iter().all(|g| g.nodes.len() == 1), "{t:?}");
        assert_eq!(t.placements.len(), TRAINING_WORKERS + INFERENCE_PODS);
        assert_eq!(t.refusals.len(), 1);
    }

    #[test]
    fn no_device_is_over_committed_and_the_groups_hold_their_pods() {
        let t = trace(3, 60);
        assert!(!t.added_gpu_node);
        for g in &t.groups {
            for d in &g.devices {
                assert!(d.memory_used_mib <= d.memory_mib, "{d:?}");
                assert!(d.cores_used <= d.cores, "{d:?}");
            }
        }
        let members = |group: &str| {
            t.groups
                .iter()
                .find(|g| g.group == group)
                .map(|g| g.nodes.clone())
                .unwrap()
        };
        let (training, inference) = (members(TRAINING_GROUP), members(INFERENCE_GROUP));
        for p in &t.placements {
            let own = if p.pod.starts_with(TRAINING_NS) {
                &training
            } else {
                &inference
            };
            assert!(own.contains(&p.node), "{p:?} outside its group");
        }
        // Binpack keeps the inference batch on as few cards as cores allow: 3 shares of 30 % per card.
        let used_cards = t
            .groups
            .iter()
            .flat_map(|g| &g.devices)
            .filter(|d| !d.whole && d.shares > 0)
            .count();
        assert_eq!(used_cards, INFERENCE_PODS.div_ceil(3));
    }

    #[test]
    fn same_seed_same_section() {
        assert_eq!(trace(11, 20), trace(11, 20));
        assert_eq!(section(&trace(11, 20)), section(&trace(11, 20)));
    }
}
