//! The `autoscaling.k8s.io/v1` VerticalPodAutoscaler object: spec (target, update policy, resource policy,
//! recommenders) and status (recommendation, conditions), CRD-shaped (camelCase) with JSON Schema.
//!
//! Unknown fields inside the object are ignored as the API server's non-strict decoding does; enums refuse
//! unknown values with the accepted list.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use ksx_core::quantity::Quantity;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// API version of the object.
pub const API_VERSION: &str = "autoscaling.k8s.io/v1";
/// Kind of the object.
pub const KIND: &str = "VerticalPodAutoscaler";

/// A resource list: resource name (`cpu`, `memory`) → quantity.
pub type ResourceList = BTreeMap<String, Quantity>;

/// A whole VerticalPodAutoscaler object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerticalPodAutoscaler {
    /// `autoscaling.k8s.io/v1`.
    #[serde(default)]
    pub api_version: String,
    /// `VerticalPodAutoscaler`.
    #[serde(default)]
    pub kind: String,
    /// Object metadata.
    #[serde(default)]
    #[schemars(skip)]
    pub metadata: ObjectMeta,
    /// The desired behavior.
    pub spec: VpaSpec,
    /// The last observed recommendation and conditions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<VpaStatus>,
}

/// `VerticalPodAutoscalerSpec`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VpaSpec {
    /// The controller whose pods the VPA manages (`scale` subresource owner: Deployment, StatefulSet…).
    pub target_ref: CrossVersionObjectReference,
    /// How recommendations are applied; unset is `Recreate` mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_policy: Option<PodUpdatePolicy>,
    /// Per-container policies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_policy: Option<PodResourcePolicy>,
    /// Named recommenders; empty means the default one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recommenders: Vec<RecommenderName>,
}

/// `autoscaling/v1` `CrossVersionObjectReference`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CrossVersionObjectReference {
    /// `apps/v1`…; empty is read as `apps/v1`'s group for the conflict rules only when the kind says so.
    #[serde(default)]
    pub api_version: String,
    /// Kind of the referent.
    pub kind: String,
    /// Name of the referent.
    pub name: String,
}

/// One entry of `spec.recommenders`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecommenderName {
    /// Recommender name.
    pub name: String,
}

/// `updatePolicy.updateMode`.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    JsonSchema,
)]
pub enum UpdateMode {
    /// Recommend only.
    Off,
    /// Apply at pod creation only.
    Initial,
    /// Apply at creation and by evicting (ksx: by patching the pod template) — the default.
    #[default]
    Recreate,
    /// Deprecated alias of `Recreate`.
    Auto,
    /// Resize in place when possible, else evict.
    InPlaceOrRecreate,
    /// Resize in place only, never evict.
    InPlace,
}

impl UpdateMode {
    /// True for every mode that changes requests of running or new pods (all but `Off`).
    pub fn controls(self) -> bool {
        self != Self::Off
    }

    /// True for the modes that update running pods (not `Off`, not `Initial`).
    pub fn updates_running_pods(self) -> bool {
        !matches!(self, Self::Off | Self::Initial)
    }
}

/// `PodUpdatePolicy`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodUpdatePolicy {
    /// The mode; unset is `Recreate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_mode: Option<UpdateMode>,
    /// Fewest live replicas for the updater to act; unset takes `--min-replicas` (2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_replicas: Option<i32>,
    /// Per-VPA `EvictAfterOOMThreshold` in seconds (new upstream field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evict_after_oom_seconds: Option<i64>,
}

impl VpaSpec {
    /// The effective update mode.
    pub fn update_mode(&self) -> UpdateMode {
        self.update_policy
            .as_ref()
            .and_then(|p| p.update_mode)
            .unwrap_or_default()
    }

    /// The container policy that applies to `container`: its own entry, else the `*` entry.
    pub fn container_policy(&self, container: &str) -> Option<&ContainerResourcePolicy> {
        let policies = &self.resource_policy.as_ref()?.container_policies;
        policies
            .iter()
            .find(|p| p.container_name == container)
            .or_else(|| policies.iter().find(|p| p.container_name == "*"))
    }

    /// True when this VPA controls `resource` (`cpu`, `memory`) of `container`: the VPA and the container policy
    /// are not `Off`, and `controlledResources` (default both) lists it.
    pub fn controls(&self, container: &str, resource: &str) -> bool {
        if !self.update_mode().controls() {
            return false;
        }
        match self.container_policy(container) {
            None => resource == "cpu" || resource == "memory",
            Some(p) => {
                p.mode != Some(ContainerScalingMode::Off)
                    && p.controlled_resources()
                        .iter()
                        .any(|r| r.as_str() == resource)
            }
        }
    }
}

/// `PodResourcePolicy`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodResourcePolicy {
    /// Per-container policies; `containerName: "*"` is the default entry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub container_policies: Vec<ContainerResourcePolicy>,
}

/// `ContainerScalingMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ContainerScalingMode {
    /// Scaled (default).
    Auto,
    /// Left alone.
    Off,
}

/// `ContainerControlledValues`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ControlledValues {
    /// Requests, with limits keeping their ratio to requests (default).
    #[default]
    RequestsAndLimits,
    /// Requests only; limits untouched.
    RequestsOnly,
}

/// `ContainerResourcePolicy`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContainerResourcePolicy {
    /// Container name, or `*` for every container without its own entry.
    pub container_name: String,
    /// Auto (default) or Off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<ContainerScalingMode>,
    /// Floor of the recommendation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_allowed: Option<ResourceList>,
    /// Cap of the recommendation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_allowed: Option<ResourceList>,
    /// Resources recommended and applied; unset is `[cpu, memory]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controlled_resources: Option<Vec<String>>,
    /// Which values are applied; unset is `RequestsAndLimits`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controlled_values: Option<ControlledValues>,
}

impl ContainerResourcePolicy {
    /// `controlledResources` with its default.
    pub fn controlled_resources(&self) -> Vec<String> {
        self.controlled_resources
            .clone()
            .unwrap_or_else(|| vec!["cpu".to_owned(), "memory".to_owned()])
    }
}

/// `VerticalPodAutoscalerStatus`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VpaStatus {
    /// The most recent recommendation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recommendation: Option<RecommendedPodResources>,
    /// Conditions (`RecommendationProvided`, `LowConfidence`, `NoPodsMatched`, `FetchingHistory`,
    /// `ConfigUnsupported`, `ConfigDeprecated`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<VpaCondition>,
}

/// `RecommendedPodResources`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecommendedPodResources {
    /// One entry per container.
    #[serde(default)]
    pub container_recommendations: Vec<RecommendedContainerResources>,
}

/// `RecommendedContainerResources`: the shape `ksx vpa recommend` prints.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecommendedContainerResources {
    /// Container name.
    pub container_name: String,
    /// Recommended requests.
    pub target: ResourceList,
    /// Lowest requests still fine.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub lower_bound: ResourceList,
    /// Highest requests still fine.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub upper_bound: ResourceList,
    /// Target before the container policy's min/max capping.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub uncapped_target: ResourceList,
}

/// A VPA status condition.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VpaCondition {
    /// Condition type.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// RFC 3339 time of the last transition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
    /// Machine-readable reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}
