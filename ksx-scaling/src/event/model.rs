//! ScaledObject and ScaledJob in the `keda.sh/v1alpha1` CRD shape (camelCase, JSON Schema), with the upstream
//! defaults as accessors and the annotations that pause or force scaling.
//!
//! Unknown fields inside the objects are ignored (non-strict decoding, as the API server); the trigger
//! `metadata` map is kept as strings, as KEDA keeps it.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::event::scaler::MetricType;
use crate::hpa::HpaBehavior;

/// API version of both kinds.
pub const API_VERSION: &str = "keda.sh/v1alpha1";
/// Kind of a ScaledObject.
pub const SCALED_OBJECT_KIND: &str = "ScaledObject";
/// Kind of a ScaledJob.
pub const SCALED_JOB_KIND: &str = "ScaledJob";

/// Default `pollingInterval`, seconds.
pub const DEFAULT_POLLING_INTERVAL_SECS: i32 = 30;
/// Default `cooldownPeriod`, seconds.
pub const DEFAULT_COOLDOWN_PERIOD_SECS: i32 = 300;
/// Default `initialCooldownPeriod`, seconds.
pub const DEFAULT_INITIAL_COOLDOWN_PERIOD_SECS: i32 = 0;
/// Default `minReplicaCount`.
pub const DEFAULT_MIN_REPLICA_COUNT: i32 = 0;
/// Default `maxReplicaCount`.
pub const DEFAULT_MAX_REPLICA_COUNT: i32 = 100;
/// Default ScaledJob history limits (successful and failed).
pub const DEFAULT_JOBS_HISTORY_LIMIT: i32 = 100;

/// `autoscaling.keda.sh/paused`: stops the loop and deletes the HPA.
pub const ANNOTATION_PAUSED: &str = "autoscaling.keda.sh/paused";
/// `autoscaling.keda.sh/paused-replicas`: as paused, scaling the target to N first.
pub const ANNOTATION_PAUSED_REPLICAS: &str = "autoscaling.keda.sh/paused-replicas";
/// `autoscaling.keda.sh/paused-scale-in`.
pub const ANNOTATION_PAUSED_SCALE_IN: &str = "autoscaling.keda.sh/paused-scale-in";
/// `autoscaling.keda.sh/paused-scale-out`.
pub const ANNOTATION_PAUSED_SCALE_OUT: &str = "autoscaling.keda.sh/paused-scale-out";
/// `autoscaling.keda.sh/force-activation`.
pub const ANNOTATION_FORCE_ACTIVATION: &str = "autoscaling.keda.sh/force-activation";
/// `scaledobject.keda.sh/transfer-hpa-ownership`.
pub const ANNOTATION_TRANSFER_HPA_OWNERSHIP: &str = "scaledobject.keda.sh/transfer-hpa-ownership";
/// `validations.keda.sh/hpa-ownership`.
pub const ANNOTATION_VALIDATE_HPA_OWNERSHIP: &str = "validations.keda.sh/hpa-ownership";

/// A whole ScaledObject.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScaledObject {
    /// `keda.sh/v1alpha1`.
    #[serde(default)]
    pub api_version: String,
    /// `ScaledObject`.
    #[serde(default)]
    pub kind: String,
    /// Object metadata.
    #[serde(default)]
    #[schemars(skip)]
    pub metadata: ObjectMeta,
    /// The desired scaling.
    pub spec: ScaledObjectSpec,
    /// What the operator observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ScaledObjectStatus>,
}

/// `ScaledObjectSpec`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScaledObjectSpec {
    /// The scaled workload.
    pub scale_target_ref: ScaleTarget,
    /// Seconds between polls; unset is 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub polling_interval: Option<i32>,
    /// Seconds after the last activity before scaling to zero (or idle); unset is 300.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown_period: Option<i32>,
    /// Seconds after creation before the first scale to zero; unset is 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_cooldown_period: Option<i32>,
    /// Replicas while inactive, below `minReplicaCount` (in practice 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_replica_count: Option<i32>,
    /// Fewest replicas; unset is 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_replica_count: Option<i32>,
    /// Most replicas; unset is 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_replica_count: Option<i32>,
    /// HPA configuration and scaling modifiers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advanced: Option<AdvancedConfig>,
    /// The triggers (at least one).
    #[serde(default)]
    pub triggers: Vec<ScaleTrigger>,
    /// Replicas to serve when triggers keep failing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<Fallback>,
}

/// `scaleTargetRef`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScaleTarget {
    /// Name of the workload (required).
    pub name: String,
    /// API version; unset is `apps/v1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Kind; unset is `Deployment`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Container whose environment resolves `…FromEnv` metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_source_container_name: Option<String>,
}

impl ScaleTarget {
    /// The API version with its default, `apps/v1`.
    pub fn api_version(&self) -> &str {
        self.api_version.as_deref().unwrap_or("apps/v1")
    }

    /// The kind with its default, `Deployment`.
    pub fn kind(&self) -> &str {
        self.kind.as_deref().unwrap_or("Deployment")
    }
}

/// `advanced`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdvancedConfig {
    /// The generated HPA's name and behavior.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub horizontal_pod_autoscaler_config: Option<HorizontalPodAutoscalerConfig>,
    /// Restore `status.originalReplicaCount` when the object is deleted.
    #[serde(default)]
    pub restore_to_original_replica_count: bool,
    /// A composite metric over the named triggers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaling_modifiers: Option<ScalingModifiers>,
}

/// `advanced.horizontalPodAutoscalerConfig`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HorizontalPodAutoscalerConfig {
    /// HPA name; unset is `keda-hpa-<scaledObjectName>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// autoscaling/v2 behavior copied to the HPA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<serde_json::Value>")]
    pub behavior: Option<HpaBehavior>,
}

/// `advanced.scalingModifiers`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScalingModifiers {
    /// Expression over trigger names yielding a number.
    #[serde(default)]
    pub formula: String,
    /// Target of the composite metric (a number as a string, > 0).
    #[serde(default)]
    pub target: String,
    /// Activation target of the composite metric; unset is 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation_target: Option<String>,
    /// AverageValue (default) or Value; Utilization is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_type: Option<MetricTypeName>,
}

/// A metric type as written in a manifest (kept apart from the engine's [`MetricType`] so JSON Schema and serde
/// agree on the spelling).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum MetricTypeName {
    /// Per-pod average.
    AverageValue,
    /// Whole value.
    Value,
    /// Utilization (cpu/memory triggers only).
    Utilization,
}

impl From<MetricTypeName> for MetricType {
    fn from(m: MetricTypeName) -> Self {
        match m {
            MetricTypeName::AverageValue => Self::AverageValue,
            MetricTypeName::Value => Self::Value,
            MetricTypeName::Utilization => Self::Utilization,
        }
    }
}

/// One entry of `triggers`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScaleTrigger {
    /// Scaler type: `redis`, `postgresql`, `cron`…
    #[serde(rename = "type")]
    pub type_: String,
    /// Trigger name (needed by scalingModifiers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Scaler settings, as strings.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// TriggerAuthentication reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication_ref: Option<AuthenticationRef>,
    /// AverageValue (default), Value, or Utilization for cpu/memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_type: Option<MetricTypeName>,
    /// Serve the HPA from the value cached at the last poll.
    #[serde(default)]
    pub use_cached_metrics: bool,
}

/// `authenticationRef`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationRef {
    /// Name of the (Cluster)TriggerAuthentication.
    pub name: String,
    /// `TriggerAuthentication` (default) or `ClusterTriggerAuthentication`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// `fallback`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Fallback {
    /// Consecutive failures tolerated before the fallback serves (≥ 0).
    pub failure_threshold: i32,
    /// Replicas to land on (≥ 0).
    pub replicas: i32,
    /// How `replicas` combines with the current count; unset is `static`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub behavior: Option<FallbackBehavior>,
}

/// `fallback.behavior`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum FallbackBehavior {
    /// Exactly `fallback.replicas`.
    #[default]
    Static,
    /// The current replica count.
    CurrentReplicas,
    /// max(current, fallback.replicas).
    CurrentReplicasIfHigher,
    /// min(current, fallback.replicas).
    CurrentReplicasIfLower,
    /// The failing trigger enters the scaling-modifiers formula as nil.
    ScalingModifiers,
}

/// `ScaledObjectStatus` (the parts the executor keeps).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScaledObjectStatus {
    /// Replica count before the object took over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_replica_count: Option<i32>,
    /// Last time any trigger was active, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_active_time: Option<String>,
    /// Replica count the object is paused at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_replica_count: Option<i32>,
    /// The generated HPA's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hpa_name: Option<String>,
    /// External metric names served to the HPA.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub external_metric_names: Vec<String>,
    /// Per metric: consecutive failures and Happy/Failing.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub health: BTreeMap<String, HealthStatus>,
    /// Ready, Active, Fallback, Paused conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<crate::vpa::crd::VpaCondition>,
}

/// `status.health[metric]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthStatus {
    /// Consecutive failures.
    pub number_of_failures: i32,
    /// `Happy` or `Failing`.
    pub status: String,
}

/// A whole ScaledJob.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScaledJob {
    /// `keda.sh/v1alpha1`.
    #[serde(default)]
    pub api_version: String,
    /// `ScaledJob`.
    #[serde(default)]
    pub kind: String,
    /// Object metadata.
    #[serde(default)]
    #[schemars(skip)]
    pub metadata: ObjectMeta,
    /// The desired job scaling.
    pub spec: ScaledJobSpec,
}

/// `ScaledJobSpec`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScaledJobSpec {
    /// The batch/v1 JobSpec each created job gets.
    #[serde(default)]
    pub job_target_ref: serde_json::Value,
    /// Seconds between polls; unset is 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub polling_interval: Option<i32>,
    /// Successful jobs kept; unset is 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub successful_jobs_history_limit: Option<i32>,
    /// Failed jobs kept; unset is 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_jobs_history_limit: Option<i32>,
    /// Jobs kept running at least; unset is 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_replica_count: Option<i32>,
    /// Jobs at most; unset is 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_replica_count: Option<i32>,
    /// How many jobs to create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaling_strategy: Option<ScalingStrategy>,
    /// The triggers (at least one).
    #[serde(default)]
    pub triggers: Vec<ScaleTrigger>,
}

/// `scalingStrategy` of a ScaledJob.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScalingStrategy {
    /// `default`, `custom`, `accurate` or `eager`; unset is `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    /// `custom`: subtracted from the queue length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_scaling_queue_length_deduction: Option<i32>,
    /// `custom`: fraction of running jobs subtracted, a number as a string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_scaling_running_job_percentage: Option<String>,
    /// Pod conditions that must all hold before a job stops counting as pending.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_pod_conditions: Vec<String>,
    /// `max` (default), `min`, `avg` or `sum` over active triggers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiple_scalers_calculation: Option<String>,
}

/// Trigger types served to the HPA as Resource (or ContainerResource) metrics, never polled by KEDA.
pub const RESOURCE_TRIGGER_TYPES: [&str; 2] = ["cpu", "memory"];
/// Name of the one External metric a ScaledObject with scalingModifiers serves.
pub const COMPOSITE_METRIC_NAME: &str = "composite-metric";
/// Label KEDA puts on the External metric selector: `scaledobject.keda.sh/name=<so>`.
pub const SCALED_OBJECT_NAME_LABEL: &str = "scaledobject.keda.sh/name";

/// A boolean annotation as KEDA reads it: absent is `false`, a value that `strconv.ParseBool` accepts is that
/// value, anything else (a typo, `"yes"`) counts as `true`, so a mistyped pause still pauses.
pub fn annotation_bool(meta: &ObjectMeta, key: &str) -> bool {
    meta.annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .is_some_and(|v| parse_go_bool(v).unwrap_or(true))
}

/// Go's `strconv.ParseBool`: `1 t T TRUE true True` and `0 f F FALSE false False`.
pub fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Whether a trigger type is served as a Resource metric (`cpu`, `memory`).
pub fn is_resource_trigger(type_: &str) -> bool {
    RESOURCE_TRIGGER_TYPES.contains(&type_)
}

impl ScaleTrigger {
    /// True for `cpu` and `memory` triggers: plain HPA Resource metrics, always active, never polled.
    pub fn is_resource(&self) -> bool {
        is_resource_trigger(&self.type_)
    }

    /// The metric type with its default, AverageValue.
    pub fn metric_type(&self) -> MetricTypeName {
        self.metric_type.unwrap_or(MetricTypeName::AverageValue)
    }
}

impl ScaledObject {
    /// `metadata.name`, empty when unset.
    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or("")
    }

    /// Whether `autoscaling.keda.sh/paused` (bool rule of [`annotation_bool`]) or a paused-replicas annotation
    /// pauses the object.
    pub fn is_paused(&self) -> bool {
        annotation_bool(&self.metadata, ANNOTATION_PAUSED)
            || self.has_annotation(ANNOTATION_PAUSED_REPLICAS)
    }

    /// `autoscaling.keda.sh/paused-replicas`: `Ok(None)` when absent, the count when it parses as an integer.
    ///
    /// # Errors
    /// [`crate::Error::InvalidField`] naming the annotation when its value is not an integer ≥ 0.
    pub fn paused_replicas(&self) -> crate::Result<Option<i32>> {
        let Some(v) = self.annotation(ANNOTATION_PAUSED_REPLICAS) else {
            return Ok(None);
        };
        match v.trim().parse::<i32>() {
            Ok(n) if n >= 0 => Ok(Some(n)),
            _ => Err(crate::Error::InvalidField {
                field: format!("metadata.annotations[{ANNOTATION_PAUSED_REPLICAS}]"),
                reason: format!("must be a replica count (an integer >= 0), got {v:?}"),
            }),
        }
    }

    /// `autoscaling.keda.sh/paused-scale-in`: KEDA skips its own N→0 and the HPA's scale-down is disabled.
    pub fn is_scale_in_paused(&self) -> bool {
        annotation_bool(&self.metadata, ANNOTATION_PAUSED_SCALE_IN)
    }

    /// `autoscaling.keda.sh/paused-scale-out`: KEDA skips its own 0→1 and the HPA's scale-up is disabled.
    pub fn is_scale_out_paused(&self) -> bool {
        annotation_bool(&self.metadata, ANNOTATION_PAUSED_SCALE_OUT)
    }

    /// `autoscaling.keda.sh/force-activation` **(new)**: the object counts as active whatever its triggers say.
    pub fn is_force_activated(&self) -> bool {
        annotation_bool(&self.metadata, ANNOTATION_FORCE_ACTIVATION)
    }

    fn annotation(&self, key: &str) -> Option<&str> {
        self.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(key))
            .map(String::as_str)
    }

    fn has_annotation(&self, key: &str) -> bool {
        self.annotation(key).is_some()
    }

    /// Every fault of the object with its JSON path ([`crate::event::validate::validate_scaled_object`]).
    pub fn validate(&self) -> Vec<crate::event::validate::FieldError> {
        crate::event::validate::validate_scaled_object(self)
    }

    /// `pollingInterval` in seconds, default 30.
    pub fn polling_interval_secs(&self) -> i32 {
        self.spec
            .polling_interval
            .unwrap_or(DEFAULT_POLLING_INTERVAL_SECS)
    }

    /// `cooldownPeriod` in seconds, default 300.
    pub fn cooldown_period_secs(&self) -> i32 {
        self.spec
            .cooldown_period
            .unwrap_or(DEFAULT_COOLDOWN_PERIOD_SECS)
    }

    /// `initialCooldownPeriod` in seconds, default 0.
    pub fn initial_cooldown_period_secs(&self) -> i32 {
        self.spec
            .initial_cooldown_period
            .unwrap_or(DEFAULT_INITIAL_COOLDOWN_PERIOD_SECS)
    }

    /// `minReplicaCount`, default 0.
    pub fn min_replica_count(&self) -> i32 {
        self.spec
            .min_replica_count
            .unwrap_or(DEFAULT_MIN_REPLICA_COUNT)
    }

    /// `maxReplicaCount`, default 100.
    pub fn max_replica_count(&self) -> i32 {
        self.spec
            .max_replica_count
            .unwrap_or(DEFAULT_MAX_REPLICA_COUNT)
    }

    /// The generated HPA's `minReplicas`: `max(minReplicaCount, 1)` (the HPA never owns 0↔1).
    pub fn hpa_min_replicas(&self) -> i32 {
        self.min_replica_count().max(1)
    }

    /// The generated HPA's name: `advanced.horizontalPodAutoscalerConfig.name`, else `keda-hpa-<name>`.
    pub fn hpa_name(&self) -> String {
        self.spec
            .advanced
            .as_ref()
            .and_then(|a| a.horizontal_pod_autoscaler_config.as_ref())
            .and_then(|c| c.name.clone())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| format!("keda-hpa-{}", self.name()))
    }

    /// The HPA behavior copied from `advanced.horizontalPodAutoscalerConfig.behavior`.
    pub fn hpa_behavior(&self) -> Option<&HpaBehavior> {
        self.spec
            .advanced
            .as_ref()
            .and_then(|a| a.horizontal_pod_autoscaler_config.as_ref())
            .and_then(|c| c.behavior.as_ref())
    }

    /// `advanced.scalingModifiers`, when set.
    pub fn scaling_modifiers(&self) -> Option<&ScalingModifiers> {
        self.spec
            .advanced
            .as_ref()
            .and_then(|a| a.scaling_modifiers.as_ref())
    }

    /// `fallback.behavior` with its default, `static`.
    pub fn fallback_behavior(&self) -> Option<FallbackBehavior> {
        self.spec
            .fallback
            .as_ref()
            .map(|f| f.behavior.unwrap_or_default())
    }

    /// `metadata.creationTimestamp` in nanoseconds since the Unix epoch; `None` when unset (Go's zero time).
    pub fn creation_nanos(&self) -> Option<i64> {
        self.metadata
            .creation_timestamp
            .as_ref()
            .and_then(|t| i64::try_from(t.0.as_nanosecond()).ok())
    }
}

impl ScalingModifiers {
    /// `target` as a number.
    ///
    /// # Errors
    /// [`crate::Error::InvalidField`] at `spec.advanced.scalingModifiers.target` when it is not a number.
    pub fn target_value(&self) -> crate::Result<f64> {
        parse_number(&self.target, "spec.advanced.scalingModifiers.target")
    }

    /// `activationTarget` as a number, 0 when unset or empty.
    ///
    /// # Errors
    /// [`crate::Error::InvalidField`] at `spec.advanced.scalingModifiers.activationTarget` when it is not a
    /// number.
    pub fn activation_target_value(&self) -> crate::Result<f64> {
        match self.activation_target.as_deref() {
            None | Some("") => Ok(0.0),
            Some(s) => parse_number(s, "spec.advanced.scalingModifiers.activationTarget"),
        }
    }

    /// The metric type with its default, AverageValue.
    pub fn metric_type(&self) -> MetricTypeName {
        self.metric_type.unwrap_or(MetricTypeName::AverageValue)
    }
}

/// A finite number as `strconv.ParseFloat` reads it (surrounding spaces refused).
fn parse_number(s: &str, field: &str) -> crate::Result<f64> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(crate::Error::InvalidField {
            field: field.to_owned(),
            reason: format!("must be a number, got {s:?}"),
        }),
    }
}

impl ScaledJob {
    /// `metadata.name`, empty when unset.
    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or("")
    }

    /// Every fault of the object with its JSON path ([`crate::event::validate::validate_scaled_job`]).
    pub fn validate(&self) -> Vec<crate::event::validate::FieldError> {
        crate::event::validate::validate_scaled_job(self)
    }

    /// `pollingInterval` in seconds, default 30.
    pub fn polling_interval_secs(&self) -> i32 {
        self.spec
            .polling_interval
            .unwrap_or(DEFAULT_POLLING_INTERVAL_SECS)
    }

    /// `minReplicaCount`, default 0.
    pub fn min_replica_count(&self) -> i32 {
        self.spec
            .min_replica_count
            .unwrap_or(DEFAULT_MIN_REPLICA_COUNT)
    }

    /// `maxReplicaCount`, default 100.
    pub fn max_replica_count(&self) -> i32 {
        self.spec
            .max_replica_count
            .unwrap_or(DEFAULT_MAX_REPLICA_COUNT)
    }

    /// `successfulJobsHistoryLimit`, default 100.
    pub fn successful_jobs_history_limit(&self) -> i32 {
        self.spec
            .successful_jobs_history_limit
            .unwrap_or(DEFAULT_JOBS_HISTORY_LIMIT)
    }

    /// `failedJobsHistoryLimit`, default 100.
    pub fn failed_jobs_history_limit(&self) -> i32 {
        self.spec
            .failed_jobs_history_limit
            .unwrap_or(DEFAULT_JOBS_HISTORY_LIMIT)
    }
}

/// The JSON Schema of a ScaledObject (draft 2020-12, from the serde model; `metadata` is left open).
pub fn scaled_object_schema() -> serde_json::Value {
    schemars::schema_for!(ScaledObject).to_value()
}

/// The JSON Schema of a ScaledJob (draft 2020-12, from the serde model; `metadata` is left open).
pub fn scaled_job_schema() -> serde_json::Value {
    schemars::schema_for!(ScaledJob).to_value()
}
