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
