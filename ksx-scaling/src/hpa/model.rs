//! Serde types for the parts of autoscaling/v2 the HPA engine reads: behavior, scaling rules and policies, metric
//! specs and targets; their upstream defaults and validation.
//!
//! The types are CRD-shaped (camelCase, unknown fields refused). Validation errors name the JSON path of the
//! fault, relative to a prefix the caller gives (`behavior`, `metric`, `spec.metrics[2]`).

use std::collections::BTreeMap;

use ksx_core::quantity::Quantity;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Default of `--horizontal-pod-autoscaler-tolerance`.
pub const DEFAULT_TOLERANCE: f64 = 0.1;
/// Default of `--horizontal-pod-autoscaler-downscale-stabilization`, in seconds.
pub const DEFAULT_DOWNSCALE_STABILIZATION_SECS: i64 = 300;
/// Default of `--horizontal-pod-autoscaler-cpu-initialization-period`, in seconds.
pub const DEFAULT_CPU_INITIALIZATION_PERIOD_SECS: i64 = 300;
/// Default of `--horizontal-pod-autoscaler-initial-readiness-delay`, in seconds.
pub const DEFAULT_INITIAL_READINESS_DELAY_SECS: i64 = 30;
/// Default of `--horizontal-pod-autoscaler-sync-period`, in seconds.
pub const DEFAULT_SYNC_PERIOD_SECS: i64 = 15;
/// Largest stabilization window the API accepts, in seconds.
pub const MAX_STABILIZATION_WINDOW_SECS: i32 = 3600;
/// Largest policy period the API accepts, in seconds.
pub const MAX_PERIOD_SECS: i32 = 1800;
/// Nanoseconds per second: engine time is `i64` nanoseconds since the Unix epoch.
pub const NANOS_PER_SEC: i64 = 1_000_000_000;

/// autoscaling/v2 `HorizontalPodAutoscalerBehavior`: scale-up and scale-down rules.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HpaBehavior {
    /// Rules for scaling up; `None` takes the upstream scale-up defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_up: Option<HpaScalingRules>,
    /// Rules for scaling down; `None` takes the upstream scale-down defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down: Option<HpaScalingRules>,
}

/// autoscaling/v2 `HPAScalingRules`: one direction's window, policies and tolerance.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HpaScalingRules {
    /// Seconds of recommendation history considered; `None` takes the direction's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stabilization_window_seconds: Option<i32>,
    /// How the policies' limits combine; `None` is `Max`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub select_policy: Option<SelectPolicy>,
    /// Rate policies; `None` takes the direction's defaults, a set list replaces them whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policies: Option<Vec<HpaScalingPolicy>>,
    /// Per-direction tolerance (KEP-4951), a quantity such as `50m` for 5 %; `None` takes the controller flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<Quantity>,
}

/// autoscaling/v2 `HPAScalingPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HpaScalingPolicy {
    /// Pods or Percent.
    #[serde(rename = "type")]
    pub policy_type: PolicyType,
    /// Pods or percent allowed to change within one period; must be > 0.
    pub value: i32,
    /// The period in seconds, in (0, 1800].
    pub period_seconds: i32,
}

impl HpaScalingPolicy {
    /// A Pods policy.
    pub fn pods(value: i32, period_seconds: i32) -> Self {
        Self {
            policy_type: PolicyType::Pods,
            value,
            period_seconds,
        }
    }

    /// A Percent policy.
    pub fn percent(value: i32, period_seconds: i32) -> Self {
        Self {
            policy_type: PolicyType::Percent,
            value,
            period_seconds,
        }
    }
}

/// The kind of a scaling policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum PolicyType {
    /// An absolute number of pods per period.
    Pods,
    /// A percentage of the replicas at the start of the period.
    Percent,
}

/// How the limits of several policies combine.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub enum SelectPolicy {
    /// The policy that allows the biggest change.
    #[default]
    Max,
    /// The policy that allows the smallest change.
    Min,
    /// No scaling in this direction.
    Disabled,
}

/// One direction's rules with every default applied: what the normalization engine reads.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedRules {
    /// The stabilization window in seconds.
    pub window_secs: i64,
    /// How the policies combine.
    pub select_policy: SelectPolicy,
    /// The policies (never empty after validation).
    pub policies: Vec<HpaScalingPolicy>,
    /// The direction's tolerance, when set on the behavior.
    pub tolerance: Option<f64>,
}

impl ResolvedRules {
    /// The longest policy period in seconds (0 with no policy): events older than that are outdated.
    pub fn longest_period_secs(&self) -> i64 {
        self.policies
            .iter()
            .map(|p| i64::from(p.period_seconds))
            .max()
            .unwrap_or(0)
    }
}

/// A behavior with every default applied (`pkg/apis/autoscaling/v2/defaults.go`).
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedBehavior {
    /// Scale-up rules.
    pub scale_up: ResolvedRules,
    /// Scale-down rules.
    pub scale_down: ResolvedRules,
}

impl Default for ResolvedBehavior {
    /// The defaults of an empty `behavior: {}` with the default downscale flag.
    fn default() -> Self {
        HpaBehavior::default().resolve(DEFAULT_DOWNSCALE_STABILIZATION_SECS)
    }
}

impl HpaBehavior {
    /// Applies the upstream defaults: scale-up window 0, policies Pods 4 and Percent 100 per 15 s, Max; scale-down
    /// window `downscale_window_secs` (the controller flag) when unset, Percent 100 per 15 s, Max. A set field
    /// replaces its default whole.
    pub fn resolve(&self, downscale_window_secs: i64) -> ResolvedBehavior {
        ResolvedBehavior {
            scale_up: resolve_rules(
                self.scale_up.as_ref(),
                0,
                &[
                    HpaScalingPolicy::pods(4, 15),
                    HpaScalingPolicy::percent(100, 15),
                ],
            ),
            scale_down: resolve_rules(
                self.scale_down.as_ref(),
                downscale_window_secs,
                &[HpaScalingPolicy::percent(100, 15)],
            ),
        }
    }

    /// Checks the behavior as the API server does; `path` is the JSON path of the behavior itself.
    ///
    /// # Errors
    /// [`Error::InvalidField`] naming the first field at fault: a window outside [0, 3600], an empty policy
    /// list, a policy value ≤ 0, a period outside (0, 1800], a negative tolerance.
    pub fn validate(&self, path: &str) -> Result<()> {
        for (name, rules) in [("scaleUp", &self.scale_up), ("scaleDown", &self.scale_down)] {
            if let Some(rules) = rules {
                rules.validate(&format!("{path}.{name}"))?;
            }
        }
        Ok(())
    }
}

impl HpaScalingRules {
    /// Checks one direction's rules; `path` is their JSON path.
    ///
    /// # Errors
    /// [`Error::InvalidField`] naming the field at fault.
    pub fn validate(&self, path: &str) -> Result<()> {
        if let Some(w) = self.stabilization_window_seconds
            && !(0..=MAX_STABILIZATION_WINDOW_SECS).contains(&w)
        {
            return Err(Error::invalid(
                format!("{path}.stabilizationWindowSeconds"),
                format!("must be between 0 and {MAX_STABILIZATION_WINDOW_SECS} seconds, got {w}"),
            ));
        }
        if let Some(policies) = &self.policies {
            if policies.is_empty() {
                return Err(Error::invalid(
                    format!("{path}.policies"),
                    "must specify at least one policy",
                ));
            }
            for (i, p) in policies.iter().enumerate() {
                if p.value <= 0 {
                    return Err(Error::invalid(
                        format!("{path}.policies[{i}].value"),
                        format!("must be greater than zero, got {}", p.value),
                    ));
                }
                if p.period_seconds <= 0 || p.period_seconds > MAX_PERIOD_SECS {
                    return Err(Error::invalid(
                        format!("{path}.policies[{i}].periodSeconds"),
                        format!(
                            "must be greater than zero and at most {MAX_PERIOD_SECS} seconds, got {}",
                            p.period_seconds
                        ),
                    ));
                }
            }
        }
        if let Some(t) = &self.tolerance
            && t.milli_value() < 0
        {
            return Err(Error::invalid(
                format!("{path}.tolerance"),
                format!("must be greater than or equal to 0, got {t}"),
            ));
        }
        Ok(())
    }
}

fn resolve_rules(
    rules: Option<&HpaScalingRules>,
    default_window_secs: i64,
    default_policies: &[HpaScalingPolicy],
) -> ResolvedRules {
    let rules = rules.cloned().unwrap_or_default();
    ResolvedRules {
        window_secs: rules
            .stabilization_window_seconds
            .map_or(default_window_secs, i64::from),
        select_policy: rules.select_policy.unwrap_or_default(),
        policies: rules.policies.unwrap_or_else(|| default_policies.to_vec()),
        tolerance: rules.tolerance.map(|q| q.as_f64()),
    }
}

/// The metric source kinds of autoscaling/v2 `MetricSpec.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum MetricSourceType {
    /// A resource of the pods' containers (cpu, memory), summed per pod.
    Resource,
    /// A resource of one named container of the pods.
    ContainerResource,
    /// A custom metric per pod.
    Pods,
    /// A custom metric describing one Kubernetes object.
    Object,
    /// A metric from outside the cluster.
    External,
}

/// autoscaling/v2 `MetricSpec`: a type and the matching source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetricSpec {
    /// Which source is set.
    #[serde(rename = "type")]
    pub source_type: MetricSourceType,
    /// For `Resource`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<ResourceMetricSource>,
    /// For `ContainerResource`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_resource: Option<ContainerResourceMetricSource>,
    /// For `Pods`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pods: Option<PodsMetricSource>,
    /// For `Object`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectMetricSource>,
    /// For `External`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalMetricSource>,
}

/// autoscaling/v2 `ResourceMetricSource`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceMetricSource {
    /// The resource name (`cpu`, `memory`).
    pub name: String,
    /// The target.
    pub target: MetricTarget,
}

/// autoscaling/v2 `ContainerResourceMetricSource`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainerResourceMetricSource {
    /// The resource name (`cpu`, `memory`).
    pub name: String,
    /// The container whose usage counts.
    pub container: String,
    /// The target.
    pub target: MetricTarget,
}

/// autoscaling/v2 `PodsMetricSource`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PodsMetricSource {
    /// The metric.
    pub metric: MetricIdentifier,
    /// The target (AverageValue only).
    pub target: MetricTarget,
}

/// autoscaling/v2 `ObjectMetricSource`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjectMetricSource {
    /// The object the metric describes.
    pub described_object: CrossVersionObjectReference,
    /// The metric.
    pub metric: MetricIdentifier,
    /// The target (Value or AverageValue).
    pub target: MetricTarget,
}

/// autoscaling/v2 `ExternalMetricSource`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExternalMetricSource {
    /// The metric.
    pub metric: MetricIdentifier,
    /// The target (Value or AverageValue).
    pub target: MetricTarget,
}

/// autoscaling/v2 `MetricIdentifier`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetricIdentifier {
    /// The metric name.
    pub name: String,
    /// The label selector of the series.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelectorSpec>,
}

/// A meta/v1 `LabelSelector` as written in specs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelSelectorSpec {
    /// Exact label matches.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    /// Set-based requirements.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

/// A meta/v1 `LabelSelectorRequirement`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelSelectorRequirement {
    /// The label key.
    pub key: String,
    /// In, NotIn, Exists, DoesNotExist.
    pub operator: String,
    /// The values for In and NotIn.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// autoscaling/v2 `CrossVersionObjectReference`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CrossVersionObjectReference {
    /// The kind (`Deployment`, `Ingress`…).
    pub kind: String,
    /// The name.
    pub name: String,
    /// The API version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
}

/// The kinds of autoscaling/v2 `MetricTarget.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum MetricTargetType {
    /// A percentage of the pods' requests.
    Utilization,
    /// A total value.
    Value,
    /// A value per pod.
    AverageValue,
}

/// autoscaling/v2 `MetricTarget`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetricTarget {
    /// Which of the values is the target.
    #[serde(rename = "type")]
    pub target_type: MetricTargetType,
    /// For `Value`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Quantity>,
    /// For `AverageValue`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub average_value: Option<Quantity>,
    /// For `Utilization`, percent of the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub average_utilization: Option<i32>,
}

impl MetricTarget {
    /// A Utilization target of `percent`.
    pub fn utilization(percent: i32) -> Self {
        Self {
            target_type: MetricTargetType::Utilization,
            value: None,
            average_value: None,
            average_utilization: Some(percent),
        }
    }

    /// An AverageValue target.
    pub fn average_value(q: Quantity) -> Self {
        Self {
            target_type: MetricTargetType::AverageValue,
            value: None,
            average_value: Some(q),
            average_utilization: None,
        }
    }

    /// A Value target.
    pub fn value(q: Quantity) -> Self {
        Self {
            target_type: MetricTargetType::Value,
            value: Some(q),
            average_value: None,
            average_utilization: None,
        }
    }

    /// Checks the target as the API server does; `allowed` are the types the source accepts.
    fn validate(&self, path: &str, allowed: &[MetricTargetType]) -> Result<()> {
        if !allowed.contains(&self.target_type) {
            let names: Vec<String> = allowed.iter().map(|t| format!("{t:?}")).collect();
            return Err(Error::invalid(
                format!("{path}.type"),
                format!(
                    "{:?} is not supported here, must be one of {}",
                    self.target_type,
                    names.join(", ")
                ),
            ));
        }
        match self.target_type {
            MetricTargetType::Utilization if self.average_utilization.is_none() => {
                return Err(Error::invalid(
                    format!("{path}.averageUtilization"),
                    "must set averageUtilization when type is Utilization",
                ));
            }
            MetricTargetType::Value if self.value.is_none() => {
                return Err(Error::invalid(
                    format!("{path}.value"),
                    "must set value when type is Value",
                ));
            }
            MetricTargetType::AverageValue if self.average_value.is_none() => {
                return Err(Error::invalid(
                    format!("{path}.averageValue"),
                    "must set averageValue when type is AverageValue",
                ));
            }
            _ => {}
        }
        if let Some(v) = &self.value
            && v.milli_value() <= 0
        {
            return Err(Error::invalid(
                format!("{path}.value"),
                format!("must be positive, got {v}"),
            ));
        }
        if let Some(v) = &self.average_value
            && v.milli_value() <= 0
        {
            return Err(Error::invalid(
                format!("{path}.averageValue"),
                format!("must be positive, got {v}"),
            ));
        }
        if let Some(u) = self.average_utilization
            && u < 1
        {
            return Err(Error::invalid(
                format!("{path}.averageUtilization"),
                format!("must be greater than 0, got {u}"),
            ));
        }
        if self.average_utilization.is_some() && self.average_value.is_some() {
            return Err(Error::invalid(
                path,
                "may not set both a target raw value and a target utilization",
            ));
        }
        Ok(())
    }
}

impl MetricSpec {
    /// A Resource metric with this target.
    pub fn resource(name: &str, target: MetricTarget) -> Self {
        Self {
            source_type: MetricSourceType::Resource,
            resource: Some(ResourceMetricSource {
                name: name.to_owned(),
                target,
            }),
            container_resource: None,
            pods: None,
            object: None,
            external: None,
        }
    }

    /// The metric's name as the controller reports it in `ScalingActive` messages (`cpu resource utilization
    /// (percentage of request)`, `pods metric qps`, `Ingress metric rps`, `external metric queue`; the external
    /// selector upstream appends is left out).
    pub fn display_name(&self) -> String {
        let utilization = |t: &MetricTarget| t.target_type == MetricTargetType::Utilization;
        if let (MetricSourceType::Resource, Some(r)) = (self.source_type, &self.resource) {
            return if utilization(&r.target) {
                format!("{} resource utilization (percentage of request)", r.name)
            } else {
                format!("{} resource", r.name)
            };
        }
        if let (MetricSourceType::ContainerResource, Some(r)) =
            (self.source_type, &self.container_resource)
        {
            return if utilization(&r.target) {
                format!(
                    "{} container resource utilization (percentage of request)",
                    r.name
                )
            } else {
                format!("{} container resource", r.name)
            };
        }
        match (self.source_type, &self.pods, &self.object, &self.external) {
            (MetricSourceType::Pods, Some(p), _, _) => format!("pods metric {}", p.metric.name),
            (MetricSourceType::Object, _, Some(o), _) => {
                format!("{} metric {}", o.described_object.kind, o.metric.name)
            }
            (MetricSourceType::External, _, _, Some(e)) => {
                format!("external metric {}", e.metric.name)
            }
            (t, ..) => format!("{t:?} metric"),
        }
    }

    /// Checks the spec as the API server does; `path` is the JSON path of the metric itself.
    ///
    /// # Errors
    /// [`Error::InvalidField`] naming the field at fault: the source for `type` missing, a target of a type the
    /// source does not accept, a missing or non-positive target value, a utilization below 1.
    pub fn validate(&self, path: &str) -> Result<()> {
        use MetricTargetType::{AverageValue, Utilization, Value};
        let missing = |field: &str| {
            Error::invalid(
                format!("{path}.{field}"),
                format!(
                    "must populate information for the given metric source {:?}",
                    self.source_type
                ),
            )
        };
        match self.source_type {
            MetricSourceType::Resource => {
                let r = self.resource.as_ref().ok_or_else(|| missing("resource"))?;
                if r.name.is_empty() {
                    return Err(Error::invalid(
                        format!("{path}.resource.name"),
                        "must specify a resource name",
                    ));
                }
                r.target.validate(
                    &format!("{path}.resource.target"),
                    &[Utilization, AverageValue],
                )
            }
            MetricSourceType::ContainerResource => {
                let r = self
                    .container_resource
                    .as_ref()
                    .ok_or_else(|| missing("containerResource"))?;
                if r.name.is_empty() {
                    return Err(Error::invalid(
                        format!("{path}.containerResource.name"),
                        "must specify a resource name",
                    ));
                }
                if r.container.is_empty() {
                    return Err(Error::invalid(
                        format!("{path}.containerResource.container"),
                        "must specify a container",
                    ));
                }
                r.target.validate(
                    &format!("{path}.containerResource.target"),
                    &[Utilization, AverageValue],
                )
            }
            MetricSourceType::Pods => {
                let p = self.pods.as_ref().ok_or_else(|| missing("pods"))?;
                check_metric_name(&p.metric, &format!("{path}.pods.metric"))?;
                p.target
                    .validate(&format!("{path}.pods.target"), &[AverageValue])
            }
            MetricSourceType::Object => {
                let o = self.object.as_ref().ok_or_else(|| missing("object"))?;
                check_metric_name(&o.metric, &format!("{path}.object.metric"))?;
                o.target
                    .validate(&format!("{path}.object.target"), &[Value, AverageValue])
            }
            MetricSourceType::External => {
                let e = self.external.as_ref().ok_or_else(|| missing("external"))?;
                check_metric_name(&e.metric, &format!("{path}.external.metric"))?;
                e.target
                    .validate(&format!("{path}.external.target"), &[Value, AverageValue])
            }
        }
    }
}

fn check_metric_name(metric: &MetricIdentifier, path: &str) -> Result<()> {
    if metric.name.is_empty() {
        return Err(Error::invalid(
            format!("{path}.name"),
            "must specify a metric name",
        ));
    }
    Ok(())
}

/// Why the stabilization step moved (or would have moved) the proposal: upstream's `AbleToScale` reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum StabilizationReason {
    /// The proposal is at or above current: the lowest recent recommendation applies.
    ScaleUpStabilized,
    /// The proposal is below current: the highest recent recommendation applies.
    ScaleDownStabilized,
}

impl StabilizationReason {
    /// The upstream condition message.
    pub fn message(self) -> &'static str {
        match self {
            Self::ScaleUpStabilized => {
                "recent recommendations were lower than current one, applying the lowest recent recommendation"
            }
            Self::ScaleDownStabilized => {
                "recent recommendations were higher than current one, applying the highest recent recommendation"
            }
        }
    }
}

/// Upstream's `ScalingLimited` reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum LimitReason {
    /// The stabilized count passed unchanged.
    DesiredWithinRange,
    /// A scale-up rate limit bound.
    ScaleUpLimit,
    /// A scale-down rate limit bound.
    ScaleDownLimit,
    /// `maxReplicas` bound.
    TooManyReplicas,
    /// `minReplicas` bound.
    TooFewReplicas,
}

impl LimitReason {
    /// The upstream condition message.
    pub fn message(self) -> &'static str {
        match self {
            Self::DesiredWithinRange => "the desired count is within the acceptable range",
            Self::ScaleUpLimit => {
                "the desired replica count is increasing faster than the maximum scale rate"
            }
            Self::ScaleDownLimit => {
                "the desired replica count is decreasing faster than the maximum scale rate"
            }
            Self::TooManyReplicas => {
                "the desired replica count is more than the maximum replica count"
            }
            Self::TooFewReplicas => {
                "the desired replica count is less than the minimum replica count"
            }
        }
    }
}
