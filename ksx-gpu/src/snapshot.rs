//! The scheduling snapshot: nodes with dense resource vectors, precomputed pod requests and incremental
//! bind/unbind.
//!
//! Nodes are kept sorted by name (design decision D2: input order never matters) and addressed by [`NodeId`], their
//! position in that order. Each node holds its allocatable and requested amounts as `i64` vectors indexed by
//! [`ResourceId`], plus the requested CPU and memory with the scoring defaults (100m / 200Mi per container without
//! a request) that NodeResourcesFit scoring uses. A pod's requests are computed once, in a [`PodInfo`], and binding
//! adds them to a node in a few integer additions; unbinding subtracts the same numbers.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::{Node, Pod};

use crate::error::{Error, Result};
use crate::plugins::affinity::{PodAffinity, ResolvedAffinity, Symbols};
use crate::plugins::taints::{NodeTaint, PodToleration};
use crate::resources::{
    self, PODS, RequestOptions, ResourceId, ResourceTable, is_scalar_resource,
    is_schedulable_resource, parse_quantity,
};

/// The index of a node in a [`Snapshot`] (its position in name order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub u32);

impl NodeId {
    /// The slot in the snapshot's node vector.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// How many resources a [`ResourceVec`] holds inline (cpu, memory, ephemeral-storage and the first scalars).
pub const INLINE_RESOURCES: usize = 6;

/// Amounts by [`ResourceId`]: the first [`INLINE_RESOURCES`] inline, so that the per-node loop reads one
/// contiguous node record instead of chasing heap pointers; rarer resources spill into a vector.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceVec {
    inline: [i64; INLINE_RESOURCES],
    spill: Vec<i64>,
}

impl ResourceVec {
    /// The amount of a resource (0 when never set).
    #[inline]
    pub fn get(&self, id: ResourceId) -> i64 {
        let i = id.index();
        match self.inline.get(i) {
            Some(v) => *v,
            None => self.spill.get(i - INLINE_RESOURCES).copied().unwrap_or(0),
        }
    }

    fn slot(&mut self, id: ResourceId) -> &mut i64 {
        let i = id.index();
        if i < INLINE_RESOURCES {
            return &mut self.inline[i];
        }
        let j = i - INLINE_RESOURCES;
        if self.spill.len() <= j {
            self.spill.resize(j + 1, 0);
        }
        &mut self.spill[j]
    }

    /// Sets an amount.
    pub fn set(&mut self, id: ResourceId, v: i64) {
        *self.slot(id) = v;
    }

    /// Adds to an amount, saturating.
    pub fn add(&mut self, id: ResourceId, v: i64) {
        let slot = self.slot(id);
        *slot = slot.saturating_add(v);
    }

    /// The non-zero entries, by id.
    pub fn entries(&self) -> Vec<(ResourceId, i64)> {
        self.inline
            .iter()
            .chain(&self.spill)
            .enumerate()
            .filter(|(_, v)| **v != 0)
            .map(|(i, v)| (ResourceId(u16::try_from(i).unwrap_or(u16::MAX)), *v))
            .collect()
    }
}

/// One node as the scheduler sees it. The fields the per-node loop reads come first.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    /// Pods bound here.
    pub pod_count: i64,
    /// Allocatable `pods`.
    pub allowed_pods: i64,
    /// Allocatable amounts by [`ResourceId`] (CPU in millicores, the rest in units).
    pub allocatable: ResourceVec,
    /// Real requests of the pods bound here, by [`ResourceId`].
    pub requested: ResourceVec,
    /// Requested CPU (millicores) and memory (bytes) with the scoring defaults for missing requests.
    pub non_zero_requested: [i64; 2],
    /// `spec.unschedulable`.
    pub unschedulable: bool,
    /// Its taints.
    pub taints: Vec<NodeTaint>,
    /// Its labels as interned `(key, value)` symbols, sorted by key.
    pub label_symbols: Vec<(u32, u32)>,
    /// True when a taint has effect `NoSchedule` or `NoExecute` (the TaintToleration filter has work to do).
    pub has_hard_taints: bool,
    /// The node's name.
    pub name: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
}

impl NodeInfo {
    /// Allocatable amount of a resource (0 when the node does not have it).
    #[inline]
    pub fn allocatable(&self, id: ResourceId) -> i64 {
        self.allocatable.get(id)
    }

    /// Requested amount of a resource on the node (0 when nothing requests it).
    #[inline]
    pub fn requested(&self, id: ResourceId) -> i64 {
        self.requested.get(id)
    }

    fn add(&mut self, usage: &PodUsage, sign: i64) {
        for &(id, v) in &usage.requests {
            self.requested.add(id, v.saturating_mul(sign));
        }
        for (slot, v) in self.non_zero_requested.iter_mut().zip(usage.non_zero) {
            *slot = slot.saturating_add(v.saturating_mul(sign));
        }
        self.pod_count = self.pod_count.saturating_add(sign);
    }
}

/// What a bound pod adds to its node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodUsage {
    /// Real, non-zero requests sorted by resource id.
    pub requests: Vec<(ResourceId, i64)>,
    /// CPU and memory with the scoring defaults.
    pub non_zero: [i64; 2],
}

/// A pod prepared for scheduling: requests resolved to resource ids, tolerations and affinity compiled.
#[derive(Debug, Clone)]
pub struct PodInfo {
    /// `namespace/name` (or `name` without a namespace).
    pub key: String,
    /// The namespace (`default` when unset, as the API server fills it).
    pub namespace: String,
    /// `spec.priority` (0 when unset).
    pub priority: i32,
    /// Real, non-zero requests sorted by resource id (`cpu`, `memory`, `ephemeral-storage`, then scalars).
    pub requests: Vec<(ResourceId, i64)>,
    /// CPU and memory with the scoring defaults (NodeResourcesFit scoring).
    pub non_zero: [i64; 2],
    /// Compiled tolerations.
    pub tolerations: Vec<PodToleration>,
    /// Compiled `nodeSelector` and node affinity.
    pub affinity: PodAffinity,
    /// The same, resolved against the snapshot's label symbols.
    pub resolved_affinity: ResolvedAffinity,
}

impl PodInfo {
    /// The real request for a resource (0 when not requested).
    pub fn request(&self, id: ResourceId) -> i64 {
        self.requests
            .iter()
            .find(|(r, _)| *r == id)
            .map_or(0, |(_, v)| *v)
    }

    /// The request NodeResourcesFit scoring uses for a resource: the defaulted value for CPU and memory, the
    /// real one otherwise.
    pub fn scoring_request(&self, id: ResourceId) -> i64 {
        match id {
            ResourceId::CPU => self.non_zero[0],
            ResourceId::MEMORY => self.non_zero[1],
            other => self.request(other),
        }
    }

    /// What binding this pod adds to a node.
    pub fn usage(&self) -> PodUsage {
        PodUsage {
            requests: self.requests.clone(),
            non_zero: self.non_zero,
        }
    }
}

/// The key `namespace/name` of a pod.
pub fn pod_key(pod: &Pod) -> String {
    let name = pod.metadata.name.as_deref().unwrap_or("");
    match pod.metadata.namespace.as_deref() {
        Some(ns) if !ns.is_empty() => format!("{ns}/{name}"),
        _ => name.to_owned(),
    }
}

/// The changing state of every node as structure-of-arrays columns, indexed by node id: pod counts, the
/// defaulted CPU and memory requests, and per resource the allocatable and requested amounts. The scheduler's
/// per-node loop reads these contiguous slices instead of whole [`NodeInfo`] records. The columns are a copy of
/// the [`NodeInfo`] numbers, refreshed for a node whenever a pod is bound to it or unbound from it, so the two
/// views always agree.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeColumns {
    /// Pods bound per node.
    pub pod_count: Vec<i64>,
    /// Allocatable `pods` per node.
    pub allowed_pods: Vec<i64>,
    /// Requested CPU (millicores) with the scoring defaults, per node.
    pub non_zero_cpu: Vec<i64>,
    /// Requested memory (bytes) with the scoring defaults, per node.
    pub non_zero_memory: Vec<i64>,
    allocatable: Vec<Vec<i64>>,
    requested: Vec<Vec<i64>>,
    /// `1 / allocatable cpu` per node as an f64 (0 where allocatable cpu is not positive): lets the scorers
    /// replace a division by a multiplication and an exact integer correction.
    pub inv_cpu: Vec<f64>,
    /// `1 / allocatable memory` per node, as [`Self::inv_cpu`].
    pub inv_memory: Vec<f64>,
    /// The same numbers for cpu and memory per node, side by side: what the scheduler's fused loop reads.
    pub(crate) hot: Vec<HotNode>,
}

/// Allocatable amounts below this (2^45: 35 T millicores, 32 TiB) take the reciprocal path of the scorers.
const HOT_LIMIT: i64 = 1 << 45;
/// Requested amounts and pod counts below this (2^50) let the fused loop add without overflow checks.
pub(crate) const HOT_SUM_LIMIT: i64 = 1 << 50;

/// One node's cpu and memory numbers as the scheduler's fused loop reads them, in one place (two cache lines)
/// instead of ten columns.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct HotNode {
    /// Pods bound.
    pub(crate) pod_count: i64,
    /// Allocatable `pods`.
    pub(crate) allowed_pods: i64,
    /// Allocatable cpu (millicores) and memory (bytes).
    pub(crate) allocatable: [i64; 2],
    /// Requested cpu and memory.
    pub(crate) requested: [i64; 2],
    /// Requested cpu and memory with the scoring defaults.
    pub(crate) non_zero: [i64; 2],
    /// `1 / allocatable` for cpu and memory.
    pub(crate) inv: [f64; 2],
    /// Both allocatable amounts lie in `1..HOT_LIMIT` and the requested amounts and pod counts in
    /// `0..HOT_SUM_LIMIT`: the scorers' reciprocal path applies and sums of these numbers with pod requests below
    /// [`HOT_SUM_LIMIT`] cannot overflow (else the general arithmetic runs).
    pub(crate) simple: bool,
}

/// `1 / v` as an f64, or 0 when `v` is not positive.
#[inline]
fn reciprocal(v: i64) -> f64 {
    #[allow(
        clippy::cast_precision_loss,
        reason = "a hint for the scorers, which correct the quotient exactly"
    )]
    let r = if v > 0 { 1.0 / v as f64 } else { 0.0 };
    r
}

impl NodeColumns {
    /// Allocatable amounts of a resource by node (empty when no node has it: read missing entries as 0).
    #[inline]
    pub fn allocatable(&self, id: ResourceId) -> &[i64] {
        self.allocatable.get(id.index()).map_or(&[], Vec::as_slice)
    }

    /// Requested amounts of a resource by node (empty when nothing requests it: read missing entries as 0).
    #[inline]
    pub fn requested(&self, id: ResourceId) -> &[i64] {
        self.requested.get(id.index()).map_or(&[], Vec::as_slice)
    }

    /// How many nodes the columns hold.
    pub fn len(&self) -> usize {
        self.pod_count.len()
    }

    /// True without nodes.
    pub fn is_empty(&self) -> bool {
        self.pod_count.is_empty()
    }

    /// Recomputes one node's reciprocals from its allocatable cpu and memory.
    fn sync_reciprocals(&mut self, i: usize) {
        let cpu = reciprocal(
            self.allocatable(ResourceId::CPU)
                .get(i)
                .copied()
                .unwrap_or(0),
        );
        let memory = reciprocal(
            self.allocatable(ResourceId::MEMORY)
                .get(i)
                .copied()
                .unwrap_or(0),
        );
        if let (Some(c), Some(m)) = (self.inv_cpu.get_mut(i), self.inv_memory.get_mut(i)) {
            *c = cpu;
            *m = memory;
        }
    }

    fn push_empty(&mut self) {
        self.pod_count.push(0);
        self.allowed_pods.push(0);
        self.non_zero_cpu.push(0);
        self.non_zero_memory.push(0);
        self.inv_cpu.push(0.0);
        self.inv_memory.push(0.0);
        self.hot.push(HotNode::default());
        for c in self.allocatable.iter_mut().chain(self.requested.iter_mut()) {
            c.push(0);
        }
    }

    fn column(columns: &mut Vec<Vec<i64>>, id: usize, nodes: usize) -> &mut Vec<i64> {
        if columns.len() <= id {
            columns.resize_with(id + 1, || vec![0; nodes]);
        }
        &mut columns[id]
    }

    /// Copies one node's numbers from its record.
    fn sync(&mut self, i: usize, node: &NodeInfo, resources: usize) {
        let nodes = self.len();
        let (Some(pc), Some(ap), Some(cpu), Some(mem)) = (
            self.pod_count.get_mut(i),
            self.allowed_pods.get_mut(i),
            self.non_zero_cpu.get_mut(i),
            self.non_zero_memory.get_mut(i),
        ) else {
            return;
        };
        *pc = node.pod_count;
        *ap = node.allowed_pods;
        *cpu = node.non_zero_requested[0];
        *mem = node.non_zero_requested[1];
        for r in 0..resources {
            let id = ResourceId(u16::try_from(r).unwrap_or(u16::MAX));
            let (a, q) = (node.allocatable(id), node.requested(id));
            // Every known resource gets full-length columns, so that the fast path can slice them once per pod.
            if let Some(slot) = Self::column(&mut self.allocatable, r, nodes).get_mut(i) {
                *slot = a;
            }
            if let Some(slot) = Self::column(&mut self.requested, r, nodes).get_mut(i) {
                *slot = q;
            }
        }
        self.sync_reciprocals(i);
        let alloc = [
            node.allocatable(ResourceId::CPU),
            node.allocatable(ResourceId::MEMORY),
        ];
        let hot = HotNode {
            pod_count: node.pod_count,
            allowed_pods: node.allowed_pods,
            allocatable: alloc,
            requested: [
                node.requested(ResourceId::CPU),
                node.requested(ResourceId::MEMORY),
            ],
            non_zero: node.non_zero_requested,
            inv: alloc.map(reciprocal),
            simple: alloc.iter().all(|a| (1..HOT_LIMIT).contains(a))
                && [
                    node.pod_count,
                    node.allowed_pods,
                    node.requested(ResourceId::CPU),
                    node.requested(ResourceId::MEMORY),
                    node.non_zero_requested[0],
                    node.non_zero_requested[1],
                ]
                .iter()
                .all(|v| (0..HOT_SUM_LIMIT).contains(v)),
        };
        if let Some(slot) = self.hot.get_mut(i) {
            *slot = hot;
        }
    }
}

/// Nodes and bound pods, indexed for filtering and scoring.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    resources: ResourceTable,
    symbols: Symbols,
    nodes: Vec<NodeInfo>,
    columns: NodeColumns,
    by_name: HashMap<String, NodeId>,
    bound: HashMap<String, (NodeId, PodUsage)>,
}

impl Snapshot {
    /// Builds a snapshot from nodes and the pods bound to them (`spec.nodeName`). Pods without a node name, or
    /// bound to a node that is not in `nodes`, are ignored.
    ///
    /// # Errors
    /// [`Error::InvalidObject`] for a node without a name or two nodes of the same name;
    /// [`Error::InvalidQuantity`] for a quantity that does not parse (naming node or pod and field).
    pub fn new(nodes: &[Node], pods: &[Pod]) -> Result<Self> {
        let mut named = Vec::with_capacity(nodes.len());
        for (i, node) in nodes.iter().enumerate() {
            match node.metadata.name.as_deref() {
                Some(name) if !name.is_empty() => named.push((name, node)),
                _ => {
                    return Err(Error::InvalidObject {
                        object: format!("nodes[{i}]"),
                        reason: "metadata.name is required".into(),
                    });
                }
            }
        }
        named.sort_by(|a, b| a.0.cmp(b.0));
        if let Some(w) = named.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(Error::InvalidObject {
                object: format!("node {}", w[0].0),
                reason: "two nodes have this name".into(),
            });
        }
        let mut snapshot = Self::default();
        for (name, node) in named {
            let info = snapshot.node_info(name, node)?;
            let id = NodeId(u32::try_from(snapshot.nodes.len()).unwrap_or(u32::MAX));
            snapshot.by_name.insert(name.to_owned(), id);
            snapshot.nodes.push(info);
            snapshot.columns.push_empty();
            snapshot.sync_columns(id);
        }
        for pod in pods {
            let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) else {
                continue;
            };
            let Some(id) = snapshot.node_id(node) else {
                continue;
            };
            let info = snapshot.pod_info(pod)?;
            snapshot.bind(id, &info);
        }
        Ok(snapshot)
    }

    fn node_info(&mut self, name: &str, node: &Node) -> Result<NodeInfo> {
        let object = format!("node {name}");
        let mut allocatable = ResourceVec::default();
        let mut allowed_pods = 0;
        let alloc = node.status.as_ref().and_then(|s| s.allocatable.as_ref());
        for (res, q) in alloc.into_iter().flatten() {
            if res != PODS && !is_schedulable_resource(res) {
                continue;
            }
            let q = parse_quantity(q, &object, &format!("status.allocatable.{res}"))?;
            if res == PODS {
                allowed_pods = q.value();
                continue;
            }
            let id = self.resources.intern(res);
            allocatable.set(id, resources::to_units(res, &q));
        }
        let spec = node.spec.as_ref();
        let labels = node.metadata.labels.clone().unwrap_or_default();
        let taints: Vec<NodeTaint> = spec
            .and_then(|s| s.taints.as_ref())
            .map(|t| t.iter().map(NodeTaint::from_k8s).collect())
            .unwrap_or_default();
        Ok(NodeInfo {
            label_symbols: self.symbols.intern_labels(&labels),
            has_hard_taints: taints.iter().any(|t| {
                matches!(
                    t.effect,
                    crate::plugins::taints::Effect::NoSchedule
                        | crate::plugins::taints::Effect::NoExecute
                )
            }),
            labels,
            taints,
            name: name.to_owned(),
            unschedulable: spec.and_then(|s| s.unschedulable).unwrap_or(false),
            requested: ResourceVec::default(),
            allocatable,
            non_zero_requested: [0; 2],
            pod_count: 0,
            allowed_pods,
        })
    }

    /// Prepares a pod: requests (real and with scoring defaults), tolerations, affinity. New scalar resource names
    /// are interned (no node has them, so any non-zero request for them fails the fit filter).
    ///
    /// # Errors
    /// [`Error::InvalidQuantity`] naming the pod and field of a quantity that does not parse.
    pub fn pod_info(&mut self, pod: &Pod) -> Result<PodInfo> {
        let key = pod_key(pod);
        let object = format!("pod {key}");
        let real = resources::pod_requests(pod, &object, RequestOptions::default())?;
        let scoring = resources::pod_requests(
            pod,
            &object,
            RequestOptions {
                non_missing_defaults: true,
            },
        )?;
        let mut requests: Vec<(ResourceId, i64)> = real
            .iter()
            .filter(|(_, v)| **v != 0)
            .map(|(name, v)| (self.resources.intern(name), *v))
            .collect();
        requests.sort_unstable();
        let spec = pod.spec.as_ref();
        let affinity = PodAffinity::from_pod(pod);
        Ok(PodInfo {
            namespace: pod
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| "default".to_owned()),
            key,
            priority: spec.and_then(|s| s.priority).unwrap_or(0),
            requests,
            non_zero: [
                scoring.get(resources::CPU).copied().unwrap_or(0),
                scoring.get(resources::MEMORY).copied().unwrap_or(0),
            ],
            tolerations: spec
                .and_then(|s| s.tolerations.as_ref())
                .map(|t| t.iter().map(PodToleration::from_k8s).collect())
                .unwrap_or_default(),
            resolved_affinity: affinity.resolve(&self.symbols),
            affinity,
        })
    }

    /// The interned label symbols of the nodes.
    pub fn symbols(&self) -> &Symbols {
        &self.symbols
    }

    /// The resource names known to this snapshot.
    pub fn resources(&self) -> &ResourceTable {
        &self.resources
    }

    /// Interns a resource name (for plugin args that name resources).
    pub fn intern_resource(&mut self, name: &str) -> ResourceId {
        self.resources.intern(name)
    }

    /// True when a resource id names a scalar resource.
    pub fn is_scalar(&self, id: ResourceId) -> bool {
        is_scalar_resource(self.resources.name(id))
    }

    /// The nodes, sorted by name.
    pub fn nodes(&self) -> &[NodeInfo] {
        &self.nodes
    }

    /// The changing numbers of every node as columns indexed by node id (the scheduler's fast path).
    pub fn columns(&self) -> &NodeColumns {
        &self.columns
    }

    fn sync_columns(&mut self, id: NodeId) {
        if let Some(node) = self.nodes.get(id.index()) {
            self.columns.sync(id.index(), node, self.resources.len());
        }
    }

    /// One node.
    pub fn node(&self, id: NodeId) -> Option<&NodeInfo> {
        self.nodes.get(id.index())
    }

    /// The id of a node name.
    pub fn node_id(&self, name: &str) -> Option<NodeId> {
        self.by_name.get(name).copied()
    }

    /// How many nodes there are.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True without nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The node a pod (by key) is bound to.
    pub fn bound_node(&self, pod_key: &str) -> Option<NodeId> {
        self.bound.get(pod_key).map(|(id, _)| *id)
    }

    /// Adds a pod to a node: its requests and its pod slot. A pod already bound elsewhere is moved.
    pub fn bind(&mut self, id: NodeId, pod: &PodInfo) {
        self.unbind(&pod.key);
        let usage = pod.usage();
        if let Some(node) = self.nodes.get_mut(id.index()) {
            node.add(&usage, 1);
            self.bound.insert(pod.key.clone(), (id, usage));
            self.sync_columns(id);
        }
    }

    /// Removes a bound pod (by key) and gives its requests back; returns the node it was on.
    pub fn unbind(&mut self, pod_key: &str) -> Option<NodeId> {
        let (id, usage) = self.bound.remove(pod_key)?;
        if let Some(node) = self.nodes.get_mut(id.index()) {
            node.add(&usage, -1);
        }
        self.sync_columns(id);
        Some(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn node(name: &str, cpu: &str, mem: &str) -> Node {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name},
            "status": {"allocatable": {"cpu": cpu, "memory": mem, "pods": "10", "example.com/foo": "2"}}
        }))
        .unwrap()
    }

    fn pod(name: &str, node: Option<&str>, cpu: &str) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "namespace": "ns"},
            "spec": {"nodeName": node, "containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}]}
        }))
        .unwrap()
    }

    #[test]
    fn sorts_nodes_and_accounts_bound_pods() {
        let s = Snapshot::new(
            &[node("b", "4", "8Gi"), node("a", "2", "4Gi")],
            &[
                pod("p1", Some("b"), "1"),
                pod("p2", None, "1"),
                pod("p3", Some("zz"), "1"),
            ],
        )
        .unwrap();
        assert_eq!(s.nodes()[0].name, "a");
        let b = s.node(s.node_id("b").unwrap()).unwrap();
        assert_eq!(b.requested(ResourceId::CPU), 1000);
        assert_eq!(b.non_zero_requested, [1000, 200 * 1024 * 1024]);
        assert_eq!(b.pod_count, 1);
        assert_eq!(b.allowed_pods, 10);
        assert_eq!(b.allocatable(ResourceId::MEMORY), 8 << 30);
        let foo = s.resources().get("example.com/foo").unwrap();
        assert_eq!(b.allocatable(foo), 2);
    }

    #[test]
    fn bind_and_unbind_are_inverse() {
        let mut s = Snapshot::new(&[node("a", "2", "4Gi")], &[]).unwrap();
        let before = s.nodes()[0].clone();
        let p = s.pod_info(&pod("p", None, "500m")).unwrap();
        s.bind(NodeId(0), &p);
        assert_eq!(s.nodes()[0].requested(ResourceId::CPU), 500);
        assert_eq!(s.bound_node("ns/p"), Some(NodeId(0)));
        assert_eq!(s.unbind("ns/p"), Some(NodeId(0)));
        assert_eq!(s.nodes()[0].requested, before.requested);
        assert_eq!(s.nodes()[0].non_zero_requested, before.non_zero_requested);
        assert_eq!(s.nodes()[0].pod_count, 0);
        assert_eq!(s.unbind("ns/p"), None);
    }

    #[test]
    fn duplicate_and_nameless_nodes_are_errors() {
        let e = Snapshot::new(&[node("a", "1", "1Gi"), node("a", "1", "1Gi")], &[]).unwrap_err();
        assert_eq!(e.to_string(), "node a: two nodes have this name");
        let e = Snapshot::new(&[Node::default()], &[]).unwrap_err();
        assert_eq!(e.to_string(), "nodes[0]: metadata.name is required");
    }

    #[test]
    fn bad_allocatable_names_node_and_field() {
        let mut n = node("a", "1", "1Gi");
        n.status
            .as_mut()
            .unwrap()
            .allocatable
            .as_mut()
            .unwrap()
            .insert(
                "cpu".into(),
                k8s_openapi::apimachinery::pkg::api::resource::Quantity("x".into()),
            );
        let e = Snapshot::new(&[n], &[]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("node a: field status.allocatable.cpu: invalid quantity \"x\""),
            "{e}"
        );
    }
}
