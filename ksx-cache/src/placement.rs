//! Placement of cache workers on nodes (spec §1.5): filter by readiness, node affinity, placement conflicts and
//! capacity, then score. Pure: the caller gathers the node views from the cluster seam or an inventory file.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm,
    PodAffinityTerm, PodAntiAffinity, PreferredSchedulingTerm, WeightedPodAffinityTerm,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use ksx_core::quantity::{Format, Quantity};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{CacheRuntime, Dataset, Medium, Placement};
use crate::resolve::{Tier, resolve_tiers};

/// The label on cache workers naming their dataset, `{namespace}-{name}`.
pub const DATASET_LABEL: &str = "cache.ksx.io/dataset";
/// The label on cache workers with their dataset's placement.
pub const PLACEMENT_LABEL: &str = "cache.ksx.io/dataset-placement";

/// Score for a node that already holds the dataset's cache.
pub const SCORE_HOLDS_DATASET: i64 = 100;
/// Score for a node without another dataset's worker.
pub const SCORE_NO_OTHER_DATASET: i64 = 50;

/// A cache worker already running on a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerOnNode {
    /// Its dataset, `{namespace}-{name}`.
    pub dataset: String,
    /// Its dataset's placement.
    pub placement: Placement,
}

/// What placement needs to know about a node.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NodeView {
    /// The node's name.
    pub name: String,
    /// Whether its `Ready` condition is `True`.
    pub ready: bool,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Allocatable memory in bytes.
    pub allocatable_memory_bytes: u64,
    /// Memory requested by the pods already there, in bytes.
    pub requested_memory_bytes: u64,
    /// Cache disk capacity per medium (SSD, HDD) in bytes, from the inventory.
    pub disk_bytes: BTreeMap<Medium, u64>,
    /// Cache workers already on the node.
    pub workers: Vec<WorkerOnNode>,
}

impl NodeView {
    /// The name, labels, readiness and allocatable memory of a Kubernetes node; requests, disks and workers are
    /// left for the caller.
    #[must_use]
    pub fn from_node(node: &Node) -> Self {
        let status = node.status.as_ref();
        let ready = status
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        let allocatable_memory_bytes = status
            .and_then(|s| s.allocatable.as_ref())
            .and_then(|a| a.get("memory"))
            .and_then(|q| q.0.parse::<Quantity>().ok())
            .and_then(|q| u64::try_from(q.value()).ok())
            .unwrap_or(0);
        Self {
            name: node.metadata.name.clone().unwrap_or_default(),
            ready,
            labels: node.metadata.labels.clone().unwrap_or_default(),
            allocatable_memory_bytes,
            ..Self::default()
        }
    }

    /// Free capacity of a medium: memory minus requests for MEM, the inventory for disks.
    #[must_use]
    pub fn free_bytes(&self, medium: Medium) -> u64 {
        match medium {
            Medium::Mem => self
                .allocatable_memory_bytes
                .saturating_sub(self.requested_memory_bytes),
            disk => self.disk_bytes.get(&disk).copied().unwrap_or(0),
        }
    }
}

/// One node of an inventory file (`ksx cache plan --nodes FILE`): what [`NodeView`] holds, with quantities as
/// strings.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeInventory {
    /// The node's name.
    pub name: String,
    /// Whether the node is Ready (default true).
    #[serde(default = "ready_default")]
    pub ready: bool,
    /// Its labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Allocatable memory.
    #[serde(default)]
    pub memory: Option<Quantity>,
    /// Memory already requested by pods.
    #[serde(default)]
    pub memory_requested: Option<Quantity>,
    /// Cache disk capacity per medium (`SSD`, `HDD`).
    #[serde(default)]
    pub disks: BTreeMap<Medium, Quantity>,
    /// Cache workers already there.
    #[serde(default)]
    pub workers: Vec<InventoryWorker>,
}

fn ready_default() -> bool {
    true
}

/// A cache worker in an inventory file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InventoryWorker {
    /// Its dataset, `{namespace}-{name}`.
    pub dataset: String,
    /// Its dataset's placement (default `Exclusive`).
    #[serde(default)]
    pub placement: Placement,
}

/// An inventory file: `{nodes: [...]}`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Inventory {
    /// The nodes.
    #[serde(default)]
    pub nodes: Vec<NodeInventory>,
}

fn quantity_bytes(q: Option<&Quantity>) -> u64 {
    q.and_then(|q| u64::try_from(q.value()).ok()).unwrap_or(0)
}

impl NodeInventory {
    /// The view placement works on; negative quantities count as 0.
    #[must_use]
    pub fn to_view(&self) -> NodeView {
        NodeView {
            name: self.name.clone(),
            ready: self.ready,
            labels: self.labels.clone(),
            allocatable_memory_bytes: quantity_bytes(self.memory.as_ref()),
            requested_memory_bytes: quantity_bytes(self.memory_requested.as_ref()),
            disk_bytes: self
                .disks
                .iter()
                .map(|(m, q)| (*m, quantity_bytes(Some(q))))
                .collect(),
            workers: self
                .workers
                .iter()
                .map(|w| WorkerOnNode {
                    dataset: w.dataset.clone(),
                    placement: w.placement,
                })
                .collect(),
        }
    }
}

/// One worker placed on a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerPlacement {
    /// The node.
    pub node: String,
    /// Its score: +100 holds the dataset, +50 no other dataset.
    pub score: i64,
    /// Why it scored so.
    pub reasons: Vec<String>,
}

/// Why a node cannot host a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum RejectionKind {
    /// The node is not Ready.
    NotReady,
    /// The node is outside the dataset's node affinity or the runtime's node selector.
    NodeAffinity,
    /// Another dataset's worker forbids sharing the node.
    PlacementConflict,
    /// A tier's quota does not fit.
    InsufficientCapacity,
}

/// A node that was filtered out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rejection {
    /// The node.
    pub node: String,
    /// The class of reason.
    pub kind: RejectionKind,
    /// The details.
    pub reason: String,
}

/// Where the workers of one runtime go.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CachePlan {
    /// The dataset, `{namespace}-{name}`.
    pub dataset: String,
    /// Workers asked for.
    pub replicas: u32,
    /// The tiers of each worker, fastest first.
    pub tiers: Vec<Tier>,
    /// The chosen nodes, best first.
    pub placements: Vec<WorkerPlacement>,
    /// Workers that found no node.
    pub unplaced: u32,
    /// Filtered nodes, sorted by node name.
    pub rejected: Vec<Rejection>,
    /// Non-fatal findings from the specs.
    pub diagnostics: Vec<String>,
    /// The labels of every worker pod.
    pub worker_labels: BTreeMap<String, String>,
    /// The affinity of every worker pod.
    pub worker_affinity: Affinity,
    /// Engine properties (filled by the caller with [`crate::engine::engine_properties`]; empty for ksx).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub engine_properties: BTreeMap<String, String>,
}

/// The node label marking nodes that hold a dataset's cache: `cache.ksx.io/s-{namespace}-{name}`.
///
/// Label name parts are limited to 63 characters; longer ones are not shortened yet (spec: first 54, `-`, 8 hex
/// digits of their SHA-256).
#[must_use]
pub fn cache_node_label(dataset: &Dataset) -> String {
    format!("cache.ksx.io/s-{}", dataset_key(dataset))
}

/// The labels of a dataset's worker pods: its key and its placement.
#[must_use]
pub fn worker_labels(dataset: &Dataset) -> BTreeMap<String, String> {
    let placement = match dataset.spec.placement {
        Placement::Exclusive => "Exclusive",
        Placement::Shared => "Shared",
    };
    [
        (DATASET_LABEL.to_owned(), dataset_key(dataset)),
        (PLACEMENT_LABEL.to_owned(), placement.to_owned()),
    ]
    .into()
}

fn anti_term(key: &str, operator: &str, values: Option<Vec<String>>) -> PodAffinityTerm {
    PodAffinityTerm {
        label_selector: Some(LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: key.to_owned(),
                operator: operator.to_owned(),
                values,
            }]),
            match_labels: None,
        }),
        topology_key: "kubernetes.io/hostname".to_owned(),
        ..PodAffinityTerm::default()
    }
}

/// The affinity of a dataset's worker pods (spec §1.5). Exclusive: required anti-affinity to any cache worker
/// on the node. Shared: required anti-affinity to exclusive workers and to the dataset's own (one per node),
/// preferred (weight 50) to other datasets' workers. Always: preferred node affinity (weight 100) to nodes
/// holding the dataset, and the dataset's `nodeAffinity.required` as required node affinity.
#[must_use]
pub fn worker_affinity(dataset: &Dataset) -> Affinity {
    let key = dataset_key(dataset);
    let pod_anti_affinity = match dataset.spec.placement {
        Placement::Exclusive => PodAntiAffinity {
            required_during_scheduling_ignored_during_execution: Some(vec![anti_term(
                DATASET_LABEL,
                "Exists",
                None,
            )]),
            ..PodAntiAffinity::default()
        },
        Placement::Shared => PodAntiAffinity {
            required_during_scheduling_ignored_during_execution: Some(vec![
                anti_term(PLACEMENT_LABEL, "In", Some(vec!["Exclusive".to_owned()])),
                anti_term(DATASET_LABEL, "In", Some(vec![key.clone()])),
            ]),
            preferred_during_scheduling_ignored_during_execution: Some(vec![
                WeightedPodAffinityTerm {
                    weight: 50,
                    pod_affinity_term: anti_term(DATASET_LABEL, "NotIn", Some(vec![key])),
                },
            ]),
        },
    };
    let holding = PreferredSchedulingTerm {
        weight: 100,
        preference: NodeSelectorTerm {
            match_expressions: Some(vec![NodeSelectorRequirement {
                key: cache_node_label(dataset),
                operator: "In".to_owned(),
                values: Some(vec!["true".to_owned()]),
            }]),
            match_fields: None,
        },
    };
    Affinity {
        node_affinity: Some(NodeAffinity {
            required_during_scheduling_ignored_during_execution: dataset
                .spec
                .node_affinity
                .as_ref()
                .and_then(|a| a.required.clone()),
            preferred_during_scheduling_ignored_during_execution: Some(vec![holding]),
        }),
        pod_anti_affinity: Some(pod_anti_affinity),
        pod_affinity: None,
    }
}

/// Bytes as a Kubernetes quantity in binary units (`2Gi`, `1536Mi`), or plain bytes above `i64::MAX`.
#[must_use]
pub fn format_bytes(bytes: u64) -> String {
    i64::try_from(bytes).map_or_else(
        |_| format!("{bytes}"),
        |b| Quantity::from_int(b, Format::BinarySi).to_string(),
    )
}

fn requirement_matches(req: &NodeSelectorRequirement, labels: &BTreeMap<String, String>) -> bool {
    let value = labels.get(&req.key);
    let values = req.values.as_deref().unwrap_or_default();
    let number = |v: Option<&String>| v.and_then(|v| v.parse::<i64>().ok());
    match req.operator.as_str() {
        "In" => value.is_some_and(|v| values.contains(v)),
        "NotIn" => value.is_none_or(|v| !values.contains(v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" => matches!((number(value), number(values.first())), (Some(a), Some(b)) if a > b),
        "Lt" => matches!((number(value), number(values.first())), (Some(a), Some(b)) if a < b),
        _ => false,
    }
}

/// Whether a node's labels satisfy a node selector: terms are ORed, a term's expressions ANDed, an empty term
/// matches nothing (as in Kubernetes). `matchFields` are not supported and never match.
#[must_use]
pub fn selector_matches(selector: &NodeSelector, labels: &BTreeMap<String, String>) -> bool {
    selector.node_selector_terms.iter().any(|term| {
        let exprs = term.match_expressions.as_deref().unwrap_or_default();
        let has_fields = term.match_fields.as_ref().is_some_and(|f| !f.is_empty());
        !exprs.is_empty() && !has_fields && exprs.iter().all(|r| requirement_matches(r, labels))
    })
}

/// The dataset key used in worker labels: `{namespace}-{name}`.
#[must_use]
pub fn dataset_key(dataset: &Dataset) -> String {
    format!(
        "{}-{}",
        dataset.metadata.namespace.as_deref().unwrap_or("default"),
        dataset.metadata.name.as_deref().unwrap_or("")
    )
}

/// Places the runtime's workers (one per node at most) on Ready nodes inside the dataset's node affinity and the
/// runtime's node selector, without placement conflicts and with room for every tier's quota; scores +100 for
/// a node holding the dataset and +50 for a node without another dataset, ties by free capacity of the first
/// tier, then by name.
///
/// # Errors
/// [`Error::Invalid`] for an invalid runtime ([`resolve_tiers`]), and when no node can host a single worker:
/// `runtime "imagenet": spec.tieredstore: SSD quota 500Gi exceeds the largest node capacity 200Gi (node-3)`.
pub fn plan(dataset: &Dataset, runtime: &CacheRuntime, nodes: &[NodeView]) -> Result<CachePlan> {
    let resolved = resolve_tiers(runtime)?;
    let key = dataset_key(dataset);
    let exclusive = dataset.spec.placement == Placement::Exclusive;
    let required = dataset
        .spec
        .node_affinity
        .as_ref()
        .and_then(|a| a.required.as_ref());
    let mut sorted: Vec<&NodeView> = nodes.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));

    let mut rejected = Vec::new();
    let mut candidates: Vec<(i64, u64, &NodeView, Vec<String>)> = Vec::new();
    // The largest free capacity per medium among nodes that passed every other filter.
    let mut largest: BTreeMap<Medium, (u64, String)> = BTreeMap::new();
    for node in sorted {
        let reject = |kind, reason: String| Rejection {
            node: node.name.clone(),
            kind,
            reason,
        };
        if !node.ready {
            rejected.push(reject(RejectionKind::NotReady, "node is not Ready".into()));
            continue;
        }
        if required.is_some_and(|sel| !selector_matches(sel, &node.labels)) {
            rejected.push(reject(
                RejectionKind::NodeAffinity,
                "outside the dataset's nodeAffinity.required".into(),
            ));
            continue;
        }
        if let Some((k, v)) = runtime
            .spec
            .node_selector
            .iter()
            .find(|(k, v)| node.labels.get(*k) != Some(*v))
        {
            rejected.push(reject(
                RejectionKind::NodeAffinity,
                format!("node selector {k}={v} does not match"),
            ));
            continue;
        }
        let others: Vec<&WorkerOnNode> = node.workers.iter().filter(|w| w.dataset != key).collect();
        let holds = node.workers.iter().any(|w| w.dataset == key);
        let conflict = if exclusive {
            others.first().map(|w| {
                format!(
                    "exclusive placement, but dataset {} has a worker here",
                    w.dataset
                )
            })
        } else {
            others
                .iter()
                .find(|w| w.placement == Placement::Exclusive)
                .map(|w| format!("dataset {} holds this node exclusively", w.dataset))
        };
        if let Some(reason) = conflict {
            rejected.push(reject(RejectionKind::PlacementConflict, reason));
            continue;
        }
        let mut short = None;
        for tier in &resolved.tiers {
            let free = node.free_bytes(tier.medium);
            let entry = largest.entry(tier.medium).or_insert((0, String::new()));
            if free > entry.0 || entry.1.is_empty() {
                *entry = (free, node.name.clone());
            }
            if short.is_none() && tier.quota_bytes > free {
                short = Some(format!(
                    "{} quota {} exceeds free capacity {}",
                    tier.medium.name(),
                    format_bytes(tier.quota_bytes),
                    format_bytes(free)
                ));
            }
        }
        if let Some(reason) = short {
            rejected.push(reject(RejectionKind::InsufficientCapacity, reason));
            continue;
        }
        let mut score = 0;
        let mut reasons = Vec::new();
        if holds {
            score += SCORE_HOLDS_DATASET;
            reasons.push(format!("holds dataset {key} (+{SCORE_HOLDS_DATASET})"));
        }
        if others.is_empty() {
            score += SCORE_NO_OTHER_DATASET;
            reasons.push(format!("no other dataset (+{SCORE_NO_OTHER_DATASET})"));
        }
        let free = resolved.tiers.first().map_or(0, |t| {
            node.free_bytes(t.medium).saturating_sub(t.quota_bytes)
        });
        reasons.push(format!("{} left after the quotas", format_bytes(free)));
        candidates.push((score, free, node, reasons));
    }
    // Best score, then most free capacity, then name (the input is already sorted by name, the sort is stable).
    candidates.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
    let replicas = u32::try_from(runtime.spec.replicas).unwrap_or(0);
    let placements: Vec<WorkerPlacement> = candidates
        .into_iter()
        .take(usize::try_from(replicas).unwrap_or(usize::MAX))
        .map(|(score, _, node, reasons)| WorkerPlacement {
            node: node.name.clone(),
            score,
            reasons,
        })
        .collect();
    let object = format!(
        "runtime {:?}",
        runtime.metadata.name.as_deref().unwrap_or("")
    );
    if placements.is_empty() && replicas > 0 {
        let message = resolved
            .tiers
            .iter()
            .find_map(|t| {
                let (free, node) = largest.get(&t.medium)?;
                (t.quota_bytes > *free).then(|| {
                    format!(
                        "{} quota {} exceeds the largest node capacity {} ({node})",
                        t.medium.name(),
                        format_bytes(t.quota_bytes),
                        format_bytes(*free)
                    )
                })
            })
            .unwrap_or_else(|| {
                let mut counts: BTreeMap<RejectionKind, usize> = BTreeMap::new();
                for r in &rejected {
                    *counts.entry(r.kind).or_default() += 1;
                }
                let parts: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k:?}")).collect();
                format!(
                    "no node can host a worker ({} nodes: {})",
                    nodes.len(),
                    if parts.is_empty() {
                        "none given".into()
                    } else {
                        parts.join(", ")
                    }
                )
            });
        return Err(Error::Invalid {
            object,
            field: "spec.tieredstore".into(),
            message,
        });
    }
    let unplaced = replicas.saturating_sub(u32::try_from(placements.len()).unwrap_or(u32::MAX));
    Ok(CachePlan {
        dataset: key,
        replicas,
        tiers: resolved.tiers,
        placements,
        unplaced,
        rejected,
        diagnostics: resolved.diagnostics,
        worker_labels: worker_labels(dataset),
        worker_affinity: worker_affinity(dataset),
        engine_properties: BTreeMap::new(),
    })
}

#[cfg(test)]
mod tests;
