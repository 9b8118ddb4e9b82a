//! NodeResourcesFit: the filter (scheduling.md §1.5) and the scoring strategies LeastAllocated, MostAllocated and
//! RequestedToCapacityRatio (§1.6), with `kubescheduler.config.k8s.io/v1` args, defaults and validation.

use std::collections::HashSet;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::plugins::MAX_NODE_SCORE;
use crate::resources::{ResourceId, is_extended_resource};
use crate::snapshot::{NodeInfo, PodInfo, Snapshot};

/// The plugin name.
pub const NAME: &str = "NodeResourcesFit";

/// `NodeResourcesFitArgs` (v1).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeResourcesFitArgs {
    /// Accepted for symmetry with scheduler configuration files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Accepted for symmetry with scheduler configuration files (`NodeResourcesFitArgs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// How nodes are scored; absent means LeastAllocated on cpu and memory, weight 1 each.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scoring_strategy: Option<ScoringStrategyArgs>,
    /// Extended resources the filter does not check.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignored_resources: Vec<String>,
    /// Extended-resource groups (the prefix before `/`) the filter does not check.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignored_resource_groups: Vec<String>,
}

/// `scoringStrategy`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScoringStrategyArgs {
    /// `LeastAllocated`, `MostAllocated` or `RequestedToCapacityRatio`; required.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub strategy_type: Option<String>,
    /// Resources and weights; empty means cpu and memory with weight 1.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ResourceSpecArgs>,
    /// The shape for RequestedToCapacityRatio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_to_capacity_ratio: Option<RequestedToCapacityRatioArgs>,
}

/// A resource and its weight.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceSpecArgs {
    /// The resource name.
    pub name: String,
    /// The weight, 1–100; absent means 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i64>,
}

/// `requestedToCapacityRatio`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestedToCapacityRatioArgs {
    /// Points of the broken linear function, utilization strictly increasing.
    #[serde(default)]
    pub shape: Vec<UtilizationShapePoint>,
}

/// One point of the shape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UtilizationShapePoint {
    /// Utilization, 0–100.
    pub utilization: i64,
    /// Score, 0–10.
    pub score: i64,
}

/// The scoring strategy, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Strategy {
    /// `(cap − req) × 100 / cap`.
    LeastAllocated,
    /// `min(req, cap) × 100 / cap`.
    MostAllocated,
    /// A broken linear function of utilization; points already scaled to 0–100.
    RequestedToCapacityRatio(Vec<(i64, i64)>),
}

/// Validated NodeResourcesFit configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FitConfig {
    /// The strategy.
    pub strategy: Strategy,
    /// Scored resources and weights.
    pub resources: Vec<(String, i64)>,
    /// Ignored extended resources.
    pub ignored_resources: HashSet<String>,
    /// Ignored extended-resource groups.
    pub ignored_groups: HashSet<String>,
}

impl Default for FitConfig {
    fn default() -> Self {
        Self {
            strategy: Strategy::LeastAllocated,
            resources: default_resources(),
            ignored_resources: HashSet::new(),
            ignored_groups: HashSet::new(),
        }
    }
}

/// cpu and memory, weight 1 each.
pub fn default_resources() -> Vec<(String, i64)> {
    vec![("cpu".to_owned(), 1), ("memory".to_owned(), 1)]
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Error {
    Error::InvalidArgs {
        plugin: NAME.to_owned(),
        field: field.into(),
        reason: reason.into(),
    }
}

/// Checks weights (1–100, absent = 1) of a resource list and applies the default list when empty.
pub(crate) fn resolve_resources(
    resources: &[ResourceSpecArgs],
    field: &str,
    plugin: &str,
) -> Result<Vec<(String, i64)>> {
    if resources.is_empty() {
        return Ok(default_resources());
    }
    resources
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let weight = r.weight.unwrap_or(1);
            if !(1..=100).contains(&weight) {
                return Err(Error::InvalidArgs {
                    plugin: plugin.to_owned(),
                    field: format!("{field}[{i}].weight"),
                    reason: format!("{weight} is not in the range 1–100"),
                });
            }
            if r.name.is_empty() {
                return Err(Error::InvalidArgs {
                    plugin: plugin.to_owned(),
                    field: format!("{field}[{i}].name"),
                    reason: "must not be empty".into(),
                });
            }
            Ok((r.name.clone(), weight))
        })
        .collect()
}

impl FitConfig {
    /// Applies v1 defaults and validation to the args.
    ///
    /// # Errors
    /// [`Error::InvalidArgs`] naming the field: a missing or unknown `type`, a weight outside 1–100, a missing or
    /// invalid shape (no points, utilization outside 0–100 or not strictly increasing, score outside 0–10).
    pub fn from_args(args: &NodeResourcesFitArgs) -> Result<Self> {
        let mut config = Self {
            ignored_resources: args.ignored_resources.iter().cloned().collect(),
            ignored_groups: args.ignored_resource_groups.iter().cloned().collect(),
            ..Self::default()
        };
        let Some(s) = &args.scoring_strategy else {
            return Ok(config);
        };
        config.resources = resolve_resources(&s.resources, "scoringStrategy.resources", NAME)?;
        config.strategy = match s.strategy_type.as_deref() {
            Some("LeastAllocated") => Strategy::LeastAllocated,
            Some("MostAllocated") => Strategy::MostAllocated,
            Some("RequestedToCapacityRatio") => {
                let shape = s.requested_to_capacity_ratio.as_ref().ok_or_else(|| {
                    invalid("scoringStrategy.requestedToCapacityRatio", "required")
                })?;
                Strategy::RequestedToCapacityRatio(validate_shape(&shape.shape)?)
            }
            None => return Err(invalid("scoringStrategy.type", "required")),
            Some(other) => {
                return Err(invalid(
                    "scoringStrategy.type",
                    format!(
                        "unsupported value {other:?}: supported values are LeastAllocated, MostAllocated, \
                         RequestedToCapacityRatio"
                    ),
                ));
            }
        };
        Ok(config)
    }
}

fn validate_shape(shape: &[UtilizationShapePoint]) -> Result<Vec<(i64, i64)>> {
    let field = "scoringStrategy.requestedToCapacityRatio.shape";
    if shape.is_empty() {
        return Err(invalid(field, "at least one point is required"));
    }
    let mut previous = None;
    let mut out = Vec::with_capacity(shape.len());
    for (i, p) in shape.iter().enumerate() {
        if !(0..=100).contains(&p.utilization) {
            return Err(invalid(
                format!("{field}[{i}].utilization"),
                format!("{} is not in the range 0–100", p.utilization),
            ));
        }
        if previous.is_some_and(|u| p.utilization <= u) {
            return Err(invalid(
                format!("{field}[{i}].utilization"),
                "utilization values must be sorted in increasing order",
            ));
        }
        if !(0..=10).contains(&p.score) {
            return Err(invalid(
                format!("{field}[{i}].score"),
                format!("{} is not in the range 0–10", p.score),
            ));
        }
        previous = Some(p.utilization);
        // MaxNodeScore / MaxCustomPriorityScore = 100 / 10.
        out.push((p.utilization, p.score * 10));
    }
    Ok(out)
}

/// The fit checks of one pod, in reporting order: `cpu`, `memory`, `ephemeral-storage`, then scalar resources
/// sorted by name; zero requests and ignored extended resources left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FitChecks {
    checks: Vec<(ResourceId, i64)>,
    requests_nothing: bool,
}

impl FitChecks {
    /// Prepares the checks of a pod.
    pub fn new(pod: &PodInfo, snapshot: &Snapshot, config: &FitConfig) -> Self {
        let table = snapshot.resources();
        let mut checks: Vec<(ResourceId, i64)> = pod
            .requests
            .iter()
            .copied()
            .filter(|(id, v)| {
                if *v == 0 {
                    return false;
                }
                let name = table.name(*id);
                if id.index() > 2 && is_extended_resource(name) {
                    let group = name.split('/').next().unwrap_or("");
                    return !config.ignored_resources.contains(name)
                        && !config.ignored_groups.contains(group);
                }
                true
            })
            .collect();
        checks.sort_by(|a, b| {
            let key = |id: ResourceId| {
                (
                    id.index() > 2,
                    if id.index() > 2 { table.name(id) } else { "" },
                    id,
                )
            };
            key(a.0).cmp(&key(b.0))
        });
        Self {
            checks,
            requests_nothing: pod.requests.is_empty(),
        }
    }

    /// The checked `(resource, request)` pairs, in reporting order.
    pub(crate) fn checks(&self) -> &[(ResourceId, i64)] {
        &self.checks
    }

    /// True when the pod requests nothing (only the pod count is checked).
    pub(crate) fn requests_nothing(&self) -> bool {
        self.requests_nothing
    }

    /// True when the pod fits the node (the hot path: no allocation).
    pub fn fits(&self, node: &NodeInfo) -> bool {
        self.fits_with(node.pod_count, node.allowed_pods, |id| {
            (node.allocatable(id), node.requested(id))
        })
    }

    /// [`Self::fits`] over numbers read through `amounts(resource) = (allocatable, requested)`: the one
    /// definition behind the record view and the column view of a node.
    #[inline]
    pub(crate) fn fits_with(
        &self,
        pod_count: i64,
        allowed_pods: i64,
        amounts: impl Fn(ResourceId) -> (i64, i64),
    ) -> bool {
        if pod_count.saturating_add(1) > allowed_pods {
            return false;
        }
        if self.requests_nothing {
            return true;
        }
        self.checks.iter().all(|&(id, v)| {
            let (alloc, requested) = amounts(id);
            v <= alloc.saturating_sub(requested)
        })
    }

    /// The failures in upstream wording and order (`Too many pods`, `Insufficient cpu`, …), and whether one of
    /// them can never be resolved (a request above the node's total allocatable, kubernetes#131345).
    pub fn reasons(&self, node: &NodeInfo, snapshot: &Snapshot) -> (Vec<String>, bool) {
        let mut reasons = Vec::new();
        let mut unresolvable = false;
        if node.pod_count.saturating_add(1) > node.allowed_pods {
            reasons.push("Too many pods".to_owned());
        }
        if self.requests_nothing {
            return (reasons, unresolvable);
        }
        for &(id, v) in &self.checks {
            let alloc = node.allocatable(id);
            if v > alloc.saturating_sub(node.requested(id)) {
                reasons.push(format!("Insufficient {}", snapshot.resources().name(id)));
                unresolvable |= v > alloc;
            }
        }
        (reasons, unresolvable)
    }
}

/// The NodeResourcesFit scorer for one pod: per configured resource, its id, weight, whether it is scalar, and the
/// pod's request (with the scoring defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FitScorer {
    strategy: Strategy,
    resources: Vec<ScoredResource>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ScoredResource {
    pub(crate) id: ResourceId,
    pub(crate) weight: i64,
    pub(crate) pod_request: i64,
    /// A scalar resource the pod does not request: left out of the sums.
    pub(crate) skip: bool,
}

impl FitScorer {
    /// Prepares the scorer for a pod. Resource names must already be interned in the snapshot (the framework
    /// interns the names of the profile when it is built).
    pub fn new(pod: &PodInfo, snapshot: &Snapshot, config: &FitConfig) -> Self {
        let resources = config
            .resources
            .iter()
            .map(|(name, weight)| {
                let id = snapshot.resources().get(name);
                let pod_request = id.map_or(0, |id| pod.scoring_request(id));
                ScoredResource {
                    id: id.unwrap_or(ResourceId(u16::MAX)),
                    weight: *weight,
                    pod_request,
                    skip: id.is_none()
                        || (pod_request == 0 && id.is_some_and(|id| snapshot.is_scalar(id))),
                }
            })
            .collect();
        Self {
            strategy: config.strategy.clone(),
            resources,
        }
    }

    /// The strategy.
    pub(crate) fn strategy(&self) -> &Strategy {
        &self.strategy
    }

    /// The scored resources.
    pub(crate) fn resources(&self) -> &[ScoredResource] {
        &self.resources
    }

    /// The raw score of a node, 0–100.
    pub fn score(&self, node: &NodeInfo) -> i64 {
        self.score_with(|id| {
            let on_node = match id {
                ResourceId::CPU => node.non_zero_requested[0],
                ResourceId::MEMORY => node.non_zero_requested[1],
                other => node.requested(other),
            };
            (node.allocatable(id), on_node)
        })
    }

    /// [`Self::score`] over numbers read through `amounts(resource) = (allocatable, requested on the node)`,
    /// the requested CPU and memory with the scoring defaults: the one definition behind the record view and the
    /// column view of a node.
    #[inline]
    pub(crate) fn score_with(&self, amounts: impl Fn(ResourceId) -> (i64, i64)) -> i64 {
        let mut node_score: i64 = 0;
        let mut weight_sum: i64 = 0;
        for r in &self.resources {
            if r.skip {
                continue;
            }
            let (cap, on_node) = amounts(r.id);
            if cap <= 0 {
                continue;
            }
            let req = on_node.saturating_add(r.pod_request).max(0);
            let s = match &self.strategy {
                Strategy::LeastAllocated => {
                    if req > cap {
                        0
                    } else {
                        percent(cap - req, cap)
                    }
                }
                Strategy::MostAllocated => percent(req.min(cap), cap),
                Strategy::RequestedToCapacityRatio(shape) => {
                    let u = if req > cap { 100 } else { percent(req, cap) };
                    let s = broken_linear(shape, u);
                    if s <= 0 {
                        continue;
                    }
                    s
                }
            };
            node_score += s * r.weight;
            weight_sum += r.weight;
        }
        if weight_sum == 0 {
            return 0;
        }
        let score = match self.strategy {
            Strategy::RequestedToCapacityRatio(_) => {
                #[allow(
                    clippy::cast_precision_loss,
                    clippy::cast_possible_truncation,
                    reason = "both sums are at most 100 × 100 per resource; upstream rounds in f64"
                )]
                let rounded = (node_score as f64 / weight_sum as f64).round() as i64;
                rounded
            }
            _ => node_score / weight_sum,
        };
        score.clamp(0, MAX_NODE_SCORE)
    }
}

/// `part × 100 / whole` in integers for `0 ≤ part ≤ whole`, `whole > 0`; falls back to 128 bits only when
/// `part × 100` would overflow (above about 92 PB of memory).
pub(crate) fn percent(part: i64, whole: i64) -> i64 {
    match part.checked_mul(MAX_NODE_SCORE) {
        Some(x) => x / whole,
        None => i64::try_from(i128::from(part) * 100 / i128::from(whole)).unwrap_or(MAX_NODE_SCORE),
    }
}

/// Upstream `BuildBrokenLinearFunction` on scaled points.
pub fn broken_linear(shape: &[(i64, i64)], p: i64) -> i64 {
    let mut previous: Option<(i64, i64)> = None;
    for &(u, s) in shape {
        if p <= u {
            return match previous {
                None => s,
                Some((u0, s0)) => s0 + (s - s0) * (p - u0) / (u - u0),
            };
        }
        previous = Some((u, s));
    }
    previous.map_or(0, |(_, s)| s)
}
