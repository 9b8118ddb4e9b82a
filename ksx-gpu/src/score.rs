//! The `ksx sched score` contract (contracts/scheduler-cli.md): the filter step and the raw score of the named
//! plugins for one pod against a set of nodes.
//!
//! The NodeResourcesFit filter always runs (with the args of a listed `NodeResourcesFit` entry, else the v1
//! defaults); the filters of `NodeUnschedulable`, `TaintToleration`, `NodeAffinity` and `NodeGroupAffinity` run
//! when those plugins are listed, in upstream filter order, and a node reports the reasons of the first filter
//! that rejects it. Scores are raw: before NormalizeScore and weights (for `TaintToleration` the number of
//! untolerated `PreferNoSchedule` taints, for `NodeAffinity` the sum of matching preferred weights).
//!
//! Plugin args: `NodeResourcesFit` and `NodeResourcesBalancedAllocation` take the upstream v1 args
//! ([`NodeResourcesFitArgs`], [`BalancedAllocationArgs`]); `TaintToleration`, `NodeAffinity` and
//! `NodeUnschedulable` take none (`addedAffinity` is not supported yet); `NodeGroupAffinity` takes
//! [`NodeGroupAffinityArgs`]: `{"nodeGroups": [NodeGroup…], "workspaces": {"<namespace>": "<workspace>"},
//! "systemNamespaces": ["kube-system"]}`. Unknown fields in args are bad input.
//!
//! GPU plugins (scheduling.md §2.7, D7; no args): listing `GpuFit`, `GpuBinpack` or `GpuSpread` builds the
//! device state from the nodes' `gpu.ksx.io/devices` registrations and the bound pods' `gpu.ksx.io/allocated`
//! records, turns the `GpuFit` filter on (a GPU score is defined on the allocation GpuFit chooses) and leaves the
//! device resources to it instead of NodeResourcesFit. `GpuBinpack` scores `100 × (f_slot + f_core + f_mem) / 3`
//! of the node's device usage after placing the pod (truncated) and chooses devices most-used first; `GpuSpread`
//! scores `100 −` that and chooses least-used first; the two exclude each other. Both are `skipped` for a pod that
//! requests no device. Without any GPU plugin listed, the output is what it was before they existed.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{Node, Pod};
use ksx_core::manifest::from_value_at;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::device::{self, GpuRequest, GpuTable, Policy};
use crate::error::{Error, Result};
use crate::framework::{Filters, Profile, Scheduler, Weights};
use crate::nodegroup::{self, GroupContext, NodeGroup, NodeGroups};
use crate::plugins::balanced::{self, BalancedAllocationArgs};
use crate::plugins::fit::{self, FitConfig, NodeResourcesFitArgs};
use crate::plugins::{NODE_AFFINITY, NODE_UNSCHEDULABLE, TAINT_TOLERATION};
use crate::snapshot::Snapshot;

/// The plugin names `ksx sched score` accepts.
pub const SUPPORTED_PLUGINS: [&str; 9] = [
    fit::NAME,
    balanced::NAME,
    TAINT_TOLERATION,
    NODE_AFFINITY,
    NODE_UNSCHEDULABLE,
    nodegroup::NAME,
    device::GPU_FIT,
    device::GPU_BINPACK,
    device::GPU_SPREAD,
];

/// The input of `ksx sched score`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScoreRequest {
    /// The pod to place (core/v1 Pod; its `spec.nodeName` is ignored).
    #[schemars(with = "serde_json::Value")]
    pub pod: Pod,
    /// The candidate nodes (core/v1 Node).
    #[serde(default)]
    #[schemars(with = "Vec<serde_json::Value>")]
    pub nodes: Vec<Node>,
    /// Pods already bound (`spec.nodeName`); entries without a node name are ignored.
    #[serde(default)]
    #[schemars(with = "Vec<serde_json::Value>")]
    pub pods: Vec<Pod>,
    /// The plugins to run, with their upstream args.
    #[serde(default)]
    pub plugins: Vec<PluginSpec>,
}

/// A plugin and its args.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PluginSpec {
    /// The plugin name (one of [`SUPPORTED_PLUGINS`]).
    pub name: String,
    /// The plugin's args (`kubescheduler.config.k8s.io/v1` shape for upstream plugins).
    #[serde(default)]
    pub args: Option<serde_json::Value>,
}

/// Args of `NodeGroupAffinity` in `ksx sched score`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeGroupAffinityArgs {
    /// The node groups.
    #[serde(default)]
    pub node_groups: Vec<NodeGroup>,
    /// Namespace → workspace (projects).
    #[serde(default)]
    pub workspaces: BTreeMap<String, String>,
    /// Namespaces exempt from node-group rules; absent means `kube-system`.
    #[serde(default)]
    pub system_namespaces: Option<BTreeSet<String>>,
}

/// The output of `ksx sched score`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScoreResponse {
    /// Every node, in name order.
    pub filter: Vec<FilterResult>,
    /// Raw scores of feasible nodes per listed score plugin.
    pub scores: BTreeMap<String, Vec<NodeScore>>,
    /// Plugins that skipped themselves for this pod (PreScore Skip).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
}

/// One node's filter result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FilterResult {
    /// The node.
    pub node: String,
    /// Whether the pod fits.
    pub feasible: bool,
    /// Why not, in upstream wording.
    pub reasons: Vec<String>,
}

/// One node's raw score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeScore {
    /// The node.
    pub node: String,
    /// The raw score.
    pub score: i64,
}

fn args_at<T: serde::de::DeserializeOwned + Default>(spec: &PluginSpec, i: usize) -> Result<T> {
    match &spec.args {
        None | Some(serde_json::Value::Null) => Ok(T::default()),
        Some(v) => {
            from_value_at(v, &format!("plugins[{i}].args ({})", spec.name)).map_err(Error::from)
        }
    }
}

/// Runs the contract on a parsed request.
///
/// # Errors
/// Bad input, all naming the place: [`Error::UnknownPlugin`] for a name outside [`SUPPORTED_PLUGINS`] or listed
/// twice; [`Error::InvalidArgs`] or [`Error::Core`] (a parse error with the field path) for invalid args;
/// [`Error::InvalidQuantity`], [`Error::InvalidObject`] for bad nodes or pods; [`Error::InvalidNodeGroup`].
pub fn score(request: &ScoreRequest) -> Result<ScoreResponse> {
    let mut profile = Profile {
        filters: Filters {
            node_unschedulable: false,
            taint_toleration: false,
            node_affinity: false,
            node_group_affinity: false,
            gpu_fit: false,
        },
        weights: Weights {
            node_resources_fit: 0,
            balanced_allocation: 0,
            taint_toleration: 0,
            node_affinity: 0,
            node_group_affinity: 0,
            gpu: 0,
        },
        percentage_of_nodes_to_score: 100,
        ..Profile::default()
    };
    let mut listed: Vec<&str> = Vec::new();
    let mut groups = None;
    for (i, spec) in request.plugins.iter().enumerate() {
        let name = spec.name.as_str();
        if !SUPPORTED_PLUGINS.contains(&name) {
            return Err(Error::UnknownPlugin {
                name: spec.name.clone(),
                reason: format!("supported plugins are {}", SUPPORTED_PLUGINS.join(", ")),
            });
        }
        if listed.contains(&name) {
            return Err(Error::UnknownPlugin {
                name: spec.name.clone(),
                reason: format!("plugins[{i}]: listed twice"),
            });
        }
        let gpu_scores = [device::GPU_BINPACK, device::GPU_SPREAD];
        if gpu_scores.contains(&name) && listed.iter().any(|l| gpu_scores.contains(l)) {
            return Err(Error::UnknownPlugin {
                name: spec.name.clone(),
                reason: format!("plugins[{i}]: GpuBinpack and GpuSpread exclude each other"),
            });
        }
        listed.push(name);
        match name {
            fit::NAME => {
                profile.fit = FitConfig::from_args(&args_at::<NodeResourcesFitArgs>(spec, i)?)?;
                profile.weights.node_resources_fit = 1;
            }
            balanced::NAME => {
                profile.balanced =
                    balanced::config_from_args(&args_at::<BalancedAllocationArgs>(spec, i)?)?;
                profile.weights.balanced_allocation = 1;
            }
            TAINT_TOLERATION
            | NODE_AFFINITY
            | NODE_UNSCHEDULABLE
            | device::GPU_FIT
            | device::GPU_BINPACK
            | device::GPU_SPREAD => {
                let args: serde_json::Map<String, serde_json::Value> = args_at(spec, i)?;
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
                match name {
                    TAINT_TOLERATION => {
                        profile.filters.taint_toleration = true;
                        profile.weights.taint_toleration = 1;
                    }
                    NODE_AFFINITY => {
                        profile.filters.node_affinity = true;
                        profile.weights.node_affinity = 1;
                    }
                    device::GPU_FIT => profile.filters.gpu_fit = true,
                    device::GPU_BINPACK | device::GPU_SPREAD => {
                        profile.filters.gpu_fit = true;
                        profile.weights.gpu = 1;
                        profile.gpu_policy = if name == device::GPU_BINPACK {
                            Policy::Binpack
                        } else {
                            Policy::Spread
                        };
                    }
                    _ => profile.filters.node_unschedulable = true,
                }
            }
            _ => {
                let args: NodeGroupAffinityArgs = args_at(spec, i)?;
                let mut context = GroupContext {
                    workspaces: args.workspaces,
                    ..GroupContext::default()
                };
                if let Some(system) = args.system_namespaces {
                    context.system_namespaces = system;
                }
                groups = Some((NodeGroups::new(args.node_groups)?, context));
                profile.filters.node_group_affinity = true;
                profile.weights.node_group_affinity = 1;
            }
        }
    }

    let snapshot = Snapshot::new(&request.nodes, &request.pods)?;
    let gpus = profile
        .filters
        .gpu_fit
        .then(|| GpuTable::new(&snapshot, &request.nodes, &request.pods))
        .transpose()?;
    let mut scheduler = Scheduler::new(snapshot, profile);
    if let Some(table) = gpus {
        scheduler = scheduler.with_gpus(table);
    }
    if let Some((g, c)) = groups {
        scheduler = scheduler.with_node_groups(g, c)?;
    }
    let mut pod = request.pod.clone();
    if let Some(spec) = pod.spec.as_mut() {
        spec.node_name = None;
    }
    let info = scheduler.prepare(&pod)?;
    let evaluations = scheduler.evaluate(&info);

    let mut skipped = Vec::new();
    let mut scores: BTreeMap<String, Vec<NodeScore>> = BTreeMap::new();
    for name in &listed {
        let skips = match *name {
            balanced::NAME => skips_balanced(&scheduler, &info),
            NODE_AFFINITY => !info.affinity.has_preferences(),
            NODE_UNSCHEDULABLE | device::GPU_FIT => continue,
            device::GPU_BINPACK | device::GPU_SPREAD => GpuRequest::from_pod(&pod)?.is_empty(),
            _ => false,
        };
        if skips {
            skipped.push((*name).to_owned());
            continue;
        }
        let list = evaluations
            .iter()
            .filter_map(|e| {
                let s = e.scores?;
                let score = match *name {
                    device::GPU_BINPACK | device::GPU_SPREAD => s.gpu?,
                    fit::NAME => s.node_resources_fit,
                    balanced::NAME => s.balanced_allocation.unwrap_or(0),
                    TAINT_TOLERATION => s.taint_toleration,
                    NODE_AFFINITY => s.node_affinity,
                    _ => s.node_group_affinity,
                };
                Some(NodeScore {
                    node: e.node.clone(),
                    score,
                })
            })
            .collect();
        scores.insert((*name).to_owned(), list);
    }
    skipped.sort();
    Ok(ScoreResponse {
        filter: evaluations
            .iter()
            .map(|e| FilterResult {
                node: e.node.clone(),
                feasible: e.rejection.is_none(),
                reasons: e
                    .rejection
                    .as_ref()
                    .map(|r| r.reasons.clone())
                    .unwrap_or_default(),
            })
            .collect(),
        scores,
        skipped,
    })
}

fn skips_balanced(scheduler: &Scheduler, pod: &crate::snapshot::PodInfo) -> bool {
    balanced::BalancedScorer::new(pod, scheduler.snapshot(), &scheduler.profile().balanced).skips()
}

/// Parses a request from a JSON value, naming the field path of a shape error.
///
/// # Errors
/// [`Error::Core`] with a parse error naming `location` and the field path (an unknown top-level field too).
pub fn parse_request(value: &serde_json::Value, location: &str) -> Result<ScoreRequest> {
    Ok(from_value_at(value, location)?)
}

/// JSON Schemas of the inputs of `ksx sched`: the score request, a node group and the upstream plugin args.
pub fn schemas() -> BTreeMap<&'static str, serde_json::Value> {
    let mut out = BTreeMap::new();
    let mut put = |name, schema: schemars::Schema| {
        out.insert(name, schema.to_value());
    };
    put("scoreRequest", schemars::schema_for!(ScoreRequest));
    put("scoreResponse", schemars::schema_for!(ScoreResponse));
    put("nodeGroup", schemars::schema_for!(NodeGroup));
    put(
        "nodeResourcesFitArgs",
        schemars::schema_for!(NodeResourcesFitArgs),
    );
    put(
        "nodeResourcesBalancedAllocationArgs",
        schemars::schema_for!(BalancedAllocationArgs),
    );
    put(
        "nodeGroupAffinityArgs",
        schemars::schema_for!(NodeGroupAffinityArgs),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::needless_pass_by_value, reason = "tests pass literals")]
    fn run(plugins: serde_json::Value) -> Result<ScoreResponse> {
        let request = parse_request(
            &serde_json::json!({
                "pod": {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}},
                "nodes": [{"metadata": {"name": "n"}, "status": {"allocatable": {"cpu": "1", "pods": "1"}}}],
                "plugins": plugins
            }),
            "input.json",
        )?;
        score(&request)
    }

    fn err(plugins: serde_json::Value) -> String {
        run(plugins).unwrap_err().to_string()
    }

    #[test]
    fn invalid_args_are_bad_input_naming_the_field() {
        assert_eq!(
            err(
                serde_json::json!([{"name": "NodeResourcesFit", "args": {"scoringStrategy": {
                "type": "LeastAllocated", "resources": [{"name": "cpu", "weight": 0}]}}}])
            ),
            "plugin NodeResourcesFit: args: scoringStrategy.resources[0].weight: 0 is not in the range 1–100"
        );
        assert_eq!(
            err(
                serde_json::json!([{"name": "NodeResourcesFit", "args": {"scoringStrategy": {
                "type": "RequestedToCapacityRatio", "requestedToCapacityRatio": {"shape": [
                    {"utilization": 50, "score": 1}, {"utilization": 40, "score": 2}]}}}}])
            ),
            "plugin NodeResourcesFit: args: scoringStrategy.requestedToCapacityRatio.shape[1].utilization: \
             utilization values must be sorted in increasing order"
        );
        assert!(
            err(
                serde_json::json!([{"name": "NodeResourcesFit", "args": {"scoringStrategy": {
                "type": "RequestedToCapacityRatio", "requestedToCapacityRatio": {"shape": [
                    {"utilization": 50, "score": 11}]}}}}])
            )
            .ends_with("shape[0].score: 11 is not in the range 0–10")
        );
        assert!(
            err(serde_json::json!([{"name": "NodeResourcesFit", "args": {"scoringStrategy": {"type": "Spread"}}}]))
                .contains("unsupported value \"Spread\"")
        );
        assert!(
            err(serde_json::json!([{"name": "NodeResourcesFit", "args": {"scoringStrategy": {}}}]))
                .ends_with("scoringStrategy.type: required")
        );
        assert_eq!(
            err(
                serde_json::json!([{"name": "NodeResourcesBalancedAllocation", "args": {"resources": [
                {"name": "cpu", "weight": 2}]}}])
            ),
            "plugin NodeResourcesBalancedAllocation: args: resources[0].weight: must be 1, got 2"
        );
        assert!(
            err(
                serde_json::json!([{"name": "NodeResourcesFit", "args": {"scoringStrategy": {
                "type": "LeastAllocated", "bogus": 1}}}])
            )
            .contains("plugins[0].args (NodeResourcesFit): scoringStrategy")
        );
        assert!(
            err(serde_json::json!([{"name": "TaintToleration", "args": {"x": 1}}]))
                .contains("args: x: unknown")
        );
    }

    #[test]
    fn unknown_plugins_and_fields_are_bad_input() {
        assert!(
            err(serde_json::json!([{"name": "ImageLocality"}]))
                .starts_with("plugin \"ImageLocality\" is not supported")
        );
        assert!(
            err(serde_json::json!([{"name": "NodeAffinity"}, {"name": "NodeAffinity"}]))
                .contains("listed twice")
        );
        let e = parse_request(&serde_json::json!({"pod": {}, "extra": 1}), "in.json").unwrap_err();
        assert!(e.to_string().contains("unknown field `extra`"), "{e}");
    }

    #[test]
    fn no_plugins_still_filters_by_fit_and_defaults_apply() {
        let r = run(serde_json::json!([])).unwrap();
        assert_eq!(r.filter.len(), 1);
        assert!(r.filter[0].feasible);
        assert!(r.scores.is_empty());
        // Unset args take the v1 defaults: LeastAllocated on cpu and memory. Memory allocatable 0 leaves the sums.
        let r = run(serde_json::json!([{"name": "NodeResourcesFit", "args": {}}])).unwrap();
        assert_eq!(r.scores["NodeResourcesFit"][0].score, 90);
    }

    #[test]
    fn gpu_plugins_score_skip_and_exclude_each_other() {
        let devices = r#"[{"uuid": "GPU-0", "index": 0, "memoryMiB": 10000, "splitCount": 4}]"#;
        let input = |limits: serde_json::Value, plugin: &str| {
            parse_request(
                &serde_json::json!({
                    "pod": {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c",
                        "resources": {"limits": limits}}]}},
                    "nodes": [{"metadata": {"name": "g", "annotations": {"gpu.ksx.io/devices": devices}},
                        "status": {"allocatable": {"cpu": "4", "pods": "10"}}}],
                    "plugins": [{"name": plugin}]
                }),
                "in.json",
            )
            .unwrap()
        };
        let share = serde_json::json!({"ksx.io/vgpu": "1", "ksx.io/vgpu-memory": "5000", "ksx.io/vgpu-cores": "40"});
        // Binpack: 100 × (1/4 + 40/100 + 5000/10000) / 3 = 38.3 → 38; spread: 100 − 38 = 62.
        let r = score(&input(share.clone(), "GpuBinpack")).unwrap();
        assert_eq!(r.scores["GpuBinpack"][0].score, 38);
        let r = score(&input(share, "GpuSpread")).unwrap();
        assert_eq!(r.scores["GpuSpread"][0].score, 62);
        let r = score(&input(serde_json::json!({}), "GpuSpread")).unwrap();
        assert_eq!(r.skipped, vec!["GpuSpread".to_owned()]);
        assert!(
            err(serde_json::json!([{"name": "GpuBinpack"}, {"name": "GpuSpread"}]))
                .contains("exclude each other")
        );
        assert!(err(serde_json::json!([{"name": "GpuFit", "args": {"x": 1}}])).contains("args: x"));
    }

    #[test]
    fn schemas_are_objects() {
        let s = schemas();
        assert!(s["scoreRequest"]["properties"]["plugins"].is_object());
        assert!(s["nodeGroup"]["properties"]["exclusive"].is_object());
    }
}
