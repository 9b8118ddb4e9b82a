//! Node groups bound to workspaces (scheduling.md §3.3): the spec, its validation, membership, the admission-style
//! mutation and the `NodeGroupAffinity` plugin.
//!
//! A node belongs to at most one group; nodes no group claims form the reserved, non-exclusive group `ungrouped`.
//! Membership is written as the label [`NODE_GROUP_LABEL`]; exclusive groups also taint their nodes
//! `scheduling.ksx.io/nodegroup=<group>:NoSchedule`. Pods of a bound workspace's namespaces get, by
//! [`mutate_pod`], the node affinity of their `required` groups, a preferred term for their `preferred` groups and
//! the toleration of every exclusive group bound to them. The plugin holds even when the mutation was bypassed:
//! its filter keeps pods off exclusive groups not bound to their workspace and inside their workspace's required
//! groups.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{
    Affinity, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod,
    PreferredSchedulingTerm, Taint, Toleration,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use ksx_core::cluster::selector::LabelSelector;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::snapshot::Snapshot;

/// The plugin name.
pub const NAME: &str = "NodeGroupAffinity";
/// The membership label and taint key.
pub const NODE_GROUP_LABEL: &str = "scheduling.ksx.io/nodegroup";
/// The reserved group of nodes no group claims.
pub const UNGROUPED: &str = "ungrouped";
/// Namespaces exempt from node-group rules unless configured otherwise.
pub const DEFAULT_SYSTEM_NAMESPACES: [&str; 1] = ["kube-system"];

/// The kind of pool a group is.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum PoolType {
    /// Shared public-cloud capacity.
    #[default]
    Public,
    /// Private (on-premises) capacity.
    Private,
    /// Edge nodes.
    Edge,
}

/// How a workspace is bound to a group.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum BindingMode {
    /// Pods of the workspace must run in its required groups.
    #[default]
    Required,
    /// Pods of the workspace prefer the group (a preferred term of weight 100).
    Preferred,
}

/// A workspace bound to a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkspaceBinding {
    /// The workspace name.
    pub name: String,
    /// `required` (default) or `preferred`.
    #[serde(default)]
    pub mode: BindingMode,
}

/// A label selector requirement (`matchExpressions` entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SelectorRequirement {
    /// The label key.
    pub key: String,
    /// `In`, `NotIn`, `Exists` or `DoesNotExist`.
    pub operator: String,
    /// Values for `In` and `NotIn`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// A Kubernetes label selector.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MemberSelector {
    /// Labels that must be equal.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    /// Requirements that must all hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<SelectorRequirement>,
}

/// Which nodes a group holds: a label selector or a list of names (exactly one of them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Members {
    /// Nodes whose labels match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<MemberSelector>,
    /// Nodes by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<String>,
}

/// A node group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeGroup {
    /// The name (a DNS label, not `ungrouped`).
    pub name: String,
    /// A display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// A description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The user who manages the group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager: Option<String>,
    /// The pool type.
    #[serde(default)]
    pub pool: PoolType,
    /// The members.
    pub members: Members,
    /// Only bound workspaces may use the group's nodes.
    #[serde(default)]
    pub exclusive: bool,
    /// Bound workspaces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workspaces: Vec<WorkspaceBinding>,
}

#[derive(Debug, Clone)]
enum Matcher {
    Selector(LabelSelector),
    Names(BTreeSet<String>),
}

/// Validated node groups, ready to assign nodes.
#[derive(Debug, Clone, Default)]
pub struct NodeGroups {
    groups: Vec<NodeGroup>,
    matchers: Vec<Matcher>,
}

fn invalid(group: &str, reason: impl Into<String>) -> Error {
    Error::InvalidNodeGroup {
        group: group.to_owned(),
        reason: reason.into(),
    }
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

impl NodeGroups {
    /// Validates groups: names are DNS labels, unique and not `ungrouped`; members are a selector or a list (not
    /// both, not neither); a workspace is bound at most once per group. Groups are kept sorted by name.
    ///
    /// # Errors
    /// [`Error::InvalidNodeGroup`] naming the group and what is wrong.
    pub fn new(mut groups: Vec<NodeGroup>) -> Result<Self> {
        groups.sort_by(|a, b| a.name.cmp(&b.name));
        let mut matchers = Vec::with_capacity(groups.len());
        for (i, g) in groups.iter().enumerate() {
            if !is_dns_label(&g.name) {
                return Err(invalid(
                    &g.name,
                    "name must be a DNS label (lowercase letters, digits, '-')",
                ));
            }
            if g.name == UNGROUPED {
                return Err(invalid(
                    &g.name,
                    "the name is reserved for nodes outside every group",
                ));
            }
            if i > 0 && groups.get(i - 1).is_some_and(|p| p.name == g.name) {
                return Err(invalid(&g.name, "two node groups have this name"));
            }
            let mut seen = BTreeSet::new();
            for (j, w) in g.workspaces.iter().enumerate() {
                if !seen.insert(w.name.as_str()) {
                    return Err(invalid(
                        &g.name,
                        format!("workspaces[{j}]: workspace {} is bound twice", w.name),
                    ));
                }
            }
            let matcher = match (&g.members.node_selector, g.members.nodes.is_empty()) {
                (Some(_), false) => {
                    return Err(invalid(
                        &g.name,
                        "members: give either nodeSelector or nodes, not both",
                    ));
                }
                (None, true) => {
                    return Err(invalid(&g.name, "members: give nodeSelector or nodes"));
                }
                (Some(sel), true) => Matcher::Selector(compile_selector(&g.name, sel)?),
                (None, false) => Matcher::Names(g.members.nodes.iter().cloned().collect()),
            };
            matchers.push(matcher);
        }
        Ok(Self { groups, matchers })
    }

    /// The groups, sorted by name.
    pub fn groups(&self) -> &[NodeGroup] {
        &self.groups
    }

    /// The index of a group by name.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.groups
            .binary_search_by(|g| g.name.as_str().cmp(name))
            .ok()
    }

    fn matches(&self, i: usize, name: &str, labels: &BTreeMap<String, String>) -> bool {
        match self.matchers.get(i) {
            Some(Matcher::Selector(s)) => s.matches(labels),
            Some(Matcher::Names(n)) => n.contains(name),
            None => false,
        }
    }

    /// The group of one node, by its name and labels.
    ///
    /// # Errors
    /// [`Error::InvalidNodeGroup`] when two groups claim the node, naming both.
    pub fn group_of(&self, name: &str, labels: &BTreeMap<String, String>) -> Result<Option<usize>> {
        let mut found: Option<usize> = None;
        for i in 0..self.groups.len() {
            if self.matches(i, name, labels) {
                if let Some(first) = found {
                    let a = self.groups.get(first).map_or("", |g| g.name.as_str());
                    let b = self.groups.get(i).map_or("", |g| g.name.as_str());
                    return Err(invalid(
                        a,
                        format!("node {name} is also a member of node group {b}"),
                    ));
                }
                found = Some(i);
            }
        }
        Ok(found)
    }

    /// Assigns every node of a snapshot to its group.
    ///
    /// # Errors
    /// [`Error::InvalidNodeGroup`] when two groups claim one node.
    pub fn assign(&self, snapshot: &Snapshot) -> Result<Membership> {
        let of_node = snapshot
            .nodes()
            .iter()
            .map(|n| self.group_of(&n.name, &n.labels))
            .collect::<Result<Vec<_>>>()?;
        Ok(Membership { of_node })
    }

    /// Writes membership onto node objects, as the node-group controller does: the label [`NODE_GROUP_LABEL`]
    /// (`ungrouped` for nodes outside every group) and, for exclusive groups, the `NoSchedule` taint.
    ///
    /// # Errors
    /// [`Error::InvalidNodeGroup`] when two groups claim one node.
    pub fn label_nodes(&self, nodes: &mut [k8s_openapi::api::core::v1::Node]) -> Result<()> {
        for node in nodes.iter_mut() {
            let name = node.metadata.name.clone().unwrap_or_default();
            let labels = node.metadata.labels.get_or_insert_with(BTreeMap::new);
            labels.remove(NODE_GROUP_LABEL);
            let group = self
                .group_of(&name, labels)?
                .and_then(|i| self.groups.get(i));
            labels.insert(
                NODE_GROUP_LABEL.to_owned(),
                group.map_or(UNGROUPED, |g| g.name.as_str()).to_owned(),
            );
            let spec = node.spec.get_or_insert_with(Default::default);
            let taints = spec.taints.get_or_insert_with(Vec::new);
            taints.retain(|t| t.key != NODE_GROUP_LABEL);
            if let Some(g) = group.filter(|g| g.exclusive) {
                taints.push(Taint {
                    key: NODE_GROUP_LABEL.to_owned(),
                    value: Some(g.name.clone()),
                    effect: "NoSchedule".to_owned(),
                    time_added: None,
                });
            }
            if taints.is_empty() {
                spec.taints = None;
            }
        }
        Ok(())
    }

    fn bound<'a>(
        &'a self,
        workspace: &'a str,
    ) -> impl Iterator<Item = (usize, &'a NodeGroup, BindingMode)> + 'a {
        self.groups.iter().enumerate().filter_map(move |(i, g)| {
            g.workspaces
                .iter()
                .find(|w| w.name == workspace)
                .map(|w| (i, g, w.mode))
        })
    }

    /// The per-pod view of the plugin: which groups a pod of this namespace may use and which it prefers.
    pub fn policy(&self, context: &GroupContext, namespace: &str) -> GroupPolicy {
        let n = self.groups.len();
        if context.system_namespaces.contains(namespace) {
            return GroupPolicy {
                exempt: true,
                ..GroupPolicy::default()
            };
        }
        let workspace = context.workspaces.get(namespace).map(String::as_str);
        let mut bound = vec![false; n + 1];
        let mut required = Vec::new();
        for (i, _, mode) in workspace.into_iter().flat_map(|w| self.bound(w)) {
            if let Some(b) = bound.get_mut(i) {
                *b = true;
            }
            if mode == BindingMode::Required {
                required.push(i);
            }
        }
        let allowed = (0..=n)
            .map(|i| {
                let group = self.groups.get(i);
                let inside_required = required.is_empty() || required.contains(&i);
                let exclusive_ok =
                    !group.is_some_and(|g| g.exclusive) || bound.get(i).copied().unwrap_or(false);
                inside_required && exclusive_ok
            })
            .collect();
        GroupPolicy {
            exempt: false,
            workspace: workspace.map(str::to_owned),
            allowed,
            bound,
        }
    }
}

fn compile_selector(group: &str, sel: &MemberSelector) -> Result<LabelSelector> {
    let k8s = meta::LabelSelector {
        match_labels: (!sel.match_labels.is_empty()).then(|| sel.match_labels.clone()),
        match_expressions: (!sel.match_expressions.is_empty()).then(|| {
            sel.match_expressions
                .iter()
                .map(|r| meta::LabelSelectorRequirement {
                    key: r.key.clone(),
                    operator: r.operator.clone(),
                    values: (!r.values.is_empty()).then(|| r.values.clone()),
                })
                .collect()
        }),
    };
    LabelSelector::from_k8s(&k8s).map_err(|e| invalid(group, format!("members.nodeSelector: {e}")))
}

/// Node-group membership of the nodes of one snapshot (by node id); `None` is `ungrouped`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Membership {
    /// The group index of each node.
    pub of_node: Vec<Option<usize>>,
}

/// Where pods come from: namespace → workspace, and namespaces exempt from node-group rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupContext {
    /// The workspace of each namespace (projects); namespaces not listed belong to no workspace (unbound).
    pub workspaces: BTreeMap<String, String>,
    /// Namespaces exempt from the rules (`kube-system` by default).
    pub system_namespaces: BTreeSet<String>,
}

impl Default for GroupContext {
    fn default() -> Self {
        Self {
            workspaces: BTreeMap::new(),
            system_namespaces: DEFAULT_SYSTEM_NAMESPACES
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
        }
    }
}

impl GroupContext {
    /// The context of a tenancy: every project of every workspace.
    pub fn from_tenancy(tenancy: &ksx_core::tenancy::Tenancy) -> Self {
        Self {
            workspaces: tenancy.projects.clone(),
            ..Self::default()
        }
    }
}

/// The NodeGroupAffinity plugin prepared for one pod: a lookup per group (index `groups.len()` is `ungrouped`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct GroupPolicy {
    exempt: bool,
    workspace: Option<String>,
    allowed: Vec<bool>,
    bound: Vec<bool>,
}

impl GroupPolicy {
    fn slot(&self, group: Option<usize>) -> usize {
        group.unwrap_or(self.allowed.len().saturating_sub(1))
    }

    /// The filter (hot path).
    pub fn allows(&self, group: Option<usize>) -> bool {
        self.exempt || self.allowed.get(self.slot(group)).copied().unwrap_or(true)
    }

    /// The raw score: 100 when the node's group is bound to the pod's workspace, else 0.
    pub fn score(&self, group: Option<usize>) -> i64 {
        if !self.exempt
            && group.is_some()
            && self.bound.get(self.slot(group)).copied().unwrap_or(false)
        {
            100
        } else {
            0
        }
    }

    /// The filter's reason for a rejected node.
    pub fn reason(&self, groups: &NodeGroups, group: Option<usize>) -> String {
        let name = group
            .and_then(|i| groups.groups().get(i))
            .map_or(UNGROUPED, |g| g.name.as_str());
        let exclusive = group
            .and_then(|i| groups.groups().get(i))
            .is_some_and(|g| g.exclusive);
        let bound = self.bound.get(self.slot(group)).copied().unwrap_or(false);
        match (&self.workspace, exclusive && !bound) {
            (Some(w), true) => {
                format!("node(s) in exclusive node group {name} not bound to workspace {w}")
            }
            (None, true) => {
                format!("node(s) in exclusive node group {name}, pod's namespace has no workspace")
            }
            (Some(w), false) => format!(
                "node(s) in node group {name}, outside the required node groups of workspace {w}"
            ),
            (None, false) => format!("node(s) in node group {name} not allowed"),
        }
    }
}

/// What the admission mutation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mutation {
    /// Required groups added to every required term.
    pub required: Vec<String>,
    /// Preferred groups added as a weight-100 term.
    pub preferred: Vec<String>,
    /// Exclusive groups whose toleration was added.
    pub tolerations: Vec<String>,
}

/// The admission-style mutation for a pod of a bound workspace (scheduling.md §3.3): `required` bindings add
/// `scheduling.ksx.io/nodegroup In [groups]` to every required node-affinity term (a term is created when there is
/// none), `preferred` bindings add a preferred term of weight 100, exclusive bindings add the `Equal` toleration of
/// the group's taint. Pods of unbound workspaces and of exempt namespaces are left as they are (the taint of
/// exclusive groups and the plugin keep them off).
///
/// # Errors
/// [`Error::InvalidObject`] when the pod's own `nodeSelector` names a node group outside its workspace's required
/// groups (as PodNodeSelector rejects conflicts).
pub fn mutate_pod(pod: &mut Pod, groups: &NodeGroups, context: &GroupContext) -> Result<Mutation> {
    let namespace = pod
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".to_owned());
    let mut out = Mutation::default();
    if context.system_namespaces.contains(&namespace) {
        return Ok(out);
    }
    let Some(workspace) = context.workspaces.get(&namespace) else {
        return Ok(out);
    };
    for (_, g, mode) in groups.bound(workspace) {
        match mode {
            BindingMode::Required => out.required.push(g.name.clone()),
            BindingMode::Preferred => out.preferred.push(g.name.clone()),
        }
        if g.exclusive {
            out.tolerations.push(g.name.clone());
        }
    }
    let key = crate::snapshot::pod_key(pod);
    let spec = pod.spec.get_or_insert_with(Default::default);
    if let Some(own) = spec
        .node_selector
        .as_ref()
        .and_then(|s| s.get(NODE_GROUP_LABEL))
        && !out.required.is_empty()
        && !out.required.contains(own)
    {
        return Err(Error::InvalidObject {
            object: format!("pod {key}"),
            reason: format!(
                "nodeSelector {NODE_GROUP_LABEL}={own} contradicts workspace {workspace}, bound to node groups [{}]",
                out.required.join(", ")
            ),
        });
    }
    let requirement = |values: &[String]| NodeSelectorRequirement {
        key: NODE_GROUP_LABEL.to_owned(),
        operator: "In".to_owned(),
        values: Some(values.to_vec()),
    };
    if !out.required.is_empty() || !out.preferred.is_empty() {
        let node_affinity = spec
            .affinity
            .get_or_insert_with(Affinity::default)
            .node_affinity
            .get_or_insert_with(NodeAffinity::default);
        if !out.required.is_empty() {
            let selector = node_affinity
                .required_during_scheduling_ignored_during_execution
                .get_or_insert_with(NodeSelector::default);
            if selector.node_selector_terms.is_empty() {
                selector
                    .node_selector_terms
                    .push(NodeSelectorTerm::default());
            }
            for term in &mut selector.node_selector_terms {
                term.match_expressions
                    .get_or_insert_with(Vec::new)
                    .push(requirement(&out.required));
            }
        }
        if !out.preferred.is_empty() {
            node_affinity
                .preferred_during_scheduling_ignored_during_execution
                .get_or_insert_with(Vec::new)
                .push(PreferredSchedulingTerm {
                    weight: 100,
                    preference: NodeSelectorTerm {
                        match_expressions: Some(vec![requirement(&out.preferred)]),
                        match_fields: None,
                    },
                });
        }
    }
    let tolerations = spec.tolerations.get_or_insert_with(Vec::new);
    for g in &out.tolerations {
        let t = Toleration {
            key: Some(NODE_GROUP_LABEL.to_owned()),
            operator: Some("Equal".to_owned()),
            value: Some(g.clone()),
            effect: Some("NoSchedule".to_owned()),
            toleration_seconds: None,
        };
        if !tolerations.contains(&t) {
            tolerations.push(t);
        }
    }
    if tolerations.is_empty() {
        spec.tolerations = None;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(v: serde_json::Value) -> NodeGroup {
        serde_json::from_value(v).unwrap()
    }

    fn groups() -> NodeGroups {
        NodeGroups::new(vec![
            group(
                serde_json::json!({"name": "gpu", "exclusive": true, "pool": "private",
                "members": {"nodeSelector": {"matchLabels": {"pool": "gpu"}}},
                "workspaces": [{"name": "ai"}]}),
            ),
            group(
                serde_json::json!({"name": "edge", "pool": "edge", "members": {"nodes": ["e1"]},
                "workspaces": [{"name": "iot", "mode": "preferred"}]}),
            ),
        ])
        .unwrap()
    }

    fn context() -> GroupContext {
        let mut c = GroupContext::default();
        c.workspaces.insert("train".into(), "ai".into());
        c.workspaces.insert("sensors".into(), "iot".into());
        c.workspaces.insert("web".into(), "shop".into());
        c
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    #[test]
    fn membership_and_overlap() {
        let g = groups();
        assert_eq!(
            g.group_of("n1", &labels(&[("pool", "gpu")])).unwrap(),
            g.index_of("gpu")
        );
        assert_eq!(g.group_of("e1", &labels(&[])).unwrap(), g.index_of("edge"));
        assert_eq!(g.group_of("n2", &labels(&[])).unwrap(), None);
        let e = g.group_of("e1", &labels(&[("pool", "gpu")])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "node group edge: node e1 is also a member of node group gpu"
        );
    }

    #[test]
    fn validation_names_the_group() {
        let bad = |v: serde_json::Value| NodeGroups::new(vec![group(v)]).unwrap_err().to_string();
        assert_eq!(
            bad(serde_json::json!({"name": "a", "members": {}})),
            "node group a: members: give nodeSelector or nodes"
        );
        assert_eq!(
            bad(serde_json::json!({"name": "ungrouped", "members": {"nodes": ["x"]}})),
            "node group ungrouped: the name is reserved for nodes outside every group"
        );
        assert!(
            bad(
                serde_json::json!({"name": "a", "members": {"nodeSelector": {"matchExpressions": [
            {"key": "k", "operator": "Bogus"}]}}})
            )
            .starts_with("node group a: members.nodeSelector:")
        );
        let e = NodeGroups::new(vec![
            group(serde_json::json!({"name": "a", "members": {"nodes": ["x"]}})),
            group(serde_json::json!({"name": "a", "members": {"nodes": ["y"]}})),
        ])
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "node group a: two node groups have this name"
        );
        assert!(
            serde_json::from_value::<NodeGroup>(
                serde_json::json!({"name": "a", "members": {}, "x": 1})
            )
            .is_err()
        );
    }

    #[test]
    fn policy_filters_and_scores() {
        let g = groups();
        let c = context();
        let gpu = g.index_of("gpu");
        let edge = g.index_of("edge");
        let ai = g.policy(&c, "train");
        assert!(
            ai.allows(gpu) && !ai.allows(edge) && !ai.allows(None),
            "required keeps ai inside gpu"
        );
        assert_eq!(ai.score(gpu), 100);
        let shop = g.policy(&c, "web");
        assert!(!shop.allows(gpu) && shop.allows(edge) && shop.allows(None));
        assert_eq!(
            shop.reason(&g, gpu),
            "node(s) in exclusive node group gpu not bound to workspace shop"
        );
        let iot = g.policy(&c, "sensors");
        assert!(iot.allows(edge) && iot.allows(None) && !iot.allows(gpu));
        assert_eq!((iot.score(edge), iot.score(None)), (100, 0));
        assert!(
            !g.policy(&c, "nowhere").allows(gpu),
            "no workspace counts as unbound"
        );
        assert!(
            g.policy(&c, "kube-system").allows(gpu),
            "system namespaces are exempt"
        );
    }

    #[test]
    fn mutation_adds_affinity_and_toleration() {
        let g = groups();
        let mut pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "train"},
            "spec": {"containers": [], "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
                {"nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]},
                                       {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]}]}}}}
        }))
        .unwrap();
        let m = mutate_pod(&mut pod, &g, &context()).unwrap();
        assert_eq!(m.required, ["gpu"]);
        assert_eq!(m.tolerations, ["gpu"]);
        let spec = pod.spec.as_ref().unwrap();
        let terms = &spec
            .affinity
            .as_ref()
            .unwrap()
            .node_affinity
            .as_ref()
            .unwrap()
            .required_during_scheduling_ignored_during_execution
            .as_ref()
            .unwrap()
            .node_selector_terms;
        assert!(
            terms
                .iter()
                .all(|t| t.match_expressions.as_ref().unwrap().len() == 2)
        );
        assert_eq!(
            spec.tolerations.as_ref().unwrap()[0].value.as_deref(),
            Some("gpu")
        );
        // Idempotent toleration, and the pod now matches only gpu nodes.
        mutate_pod(&mut pod, &g, &context()).unwrap();
        assert_eq!(
            pod.spec
                .as_ref()
                .unwrap()
                .tolerations
                .as_ref()
                .unwrap()
                .len(),
            1
        );

        let mut conflicting: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "q", "namespace": "train"},
            "spec": {"containers": [], "nodeSelector": {NODE_GROUP_LABEL: "edge"}}
        }))
        .unwrap();
        let e = mutate_pod(&mut conflicting, &g, &context()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "pod train/q: nodeSelector scheduling.ksx.io/nodegroup=edge contradicts workspace ai, bound to node groups [gpu]"
        );

        let mut unbound: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "u", "namespace": "web"}, "spec": {"containers": []}}))
        .unwrap();
        let before = unbound.clone();
        assert_eq!(
            mutate_pod(&mut unbound, &g, &context()).unwrap(),
            Mutation::default()
        );
        assert_eq!(unbound, before);
    }

    #[test]
    fn label_nodes_writes_label_and_taint() {
        let g = groups();
        let mut nodes: Vec<k8s_openapi::api::core::v1::Node> = ["g1", "e1", "x"]
            .iter()
            .map(|n| {
                serde_json::from_value(serde_json::json!({"metadata": {"name": n,
                    "labels": {"pool": if *n == "g1" { "gpu" } else { "cpu" }}}}))
                .unwrap()
            })
            .collect();
        g.label_nodes(&mut nodes).unwrap();
        let label = |i: usize| nodes[i].metadata.labels.as_ref().unwrap()[NODE_GROUP_LABEL].clone();
        assert_eq!(
            (label(0), label(1), label(2)),
            ("gpu".into(), "edge".into(), "ungrouped".into())
        );
        let taints = nodes[0].spec.as_ref().unwrap().taints.as_ref().unwrap();
        assert_eq!(taints[0].value.as_deref(), Some("gpu"));
        assert!(nodes[1].spec.as_ref().unwrap().taints.is_none());
    }
}
