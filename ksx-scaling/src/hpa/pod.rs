//! The engine's view of a pod and of a pod's metric sample, and the serde shapes of core/v1 `Pod` that fill it.
//!
//! Only the fields the replica calculator reads are modelled; unknown fields of the Pod objects are ignored, as
//! the API server's non-strict decoding does.

use std::collections::BTreeMap;

use ksx_core::quantity::Quantity;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A pod's phase.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub enum PodPhase {
    /// Accepted, not yet running.
    Pending,
    /// Running.
    Running,
    /// Terminated with success.
    Succeeded,
    /// Terminated with failure.
    Failed,
    /// Unknown (also an unset phase).
    #[default]
    #[serde(other)]
    Unknown,
}

/// A condition status.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub enum ConditionStatus {
    /// True.
    True,
    /// False.
    False,
    /// Unknown (also any other text).
    #[default]
    #[serde(other)]
    Unknown,
}

/// A pod's `Ready` condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadyCondition {
    /// Its status.
    pub status: ConditionStatus,
    /// `lastTransitionTime` in nanoseconds since the Unix epoch (`i64::MIN` when unset, as Go's zero time lies
    /// before any real time).
    pub last_transition: i64,
}

/// The requests of one container, in milli-units per resource name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerRequests {
    /// The container name.
    pub name: String,
    /// `resources.requests`, milli-values rounded up.
    pub requests: BTreeMap<String, i64>,
}

/// What the replica calculator knows of a pod.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodInfo {
    /// `metadata.name`.
    pub name: String,
    /// `status.phase`.
    pub phase: PodPhase,
    /// `metadata.deletionTimestamp` is set.
    pub deleted: bool,
    /// `status.startTime` in nanoseconds since the Unix epoch.
    pub start_time: Option<i64>,
    /// The `Ready` condition.
    pub ready: Option<ReadyCondition>,
    /// Regular containers, then init containers with `restartPolicy: Always` (sidecars), whose requests count
    /// like containers'.
    pub containers: Vec<ContainerRequests>,
}

/// A pod's metric sample (resource or custom), values in milli-units.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodSample {
    /// The pod's name.
    pub pod: String,
    /// When the sample was taken, nanoseconds since the Unix epoch.
    pub timestamp: i64,
    /// The sample window, nanoseconds.
    pub window: i64,
    /// The pod's value (Resource total, or the Pods metric).
    pub value: i64,
    /// Per-container values, for ContainerResource metrics.
    pub containers: BTreeMap<String, i64>,
}

/// core/v1 `Pod`, reduced to what the calculator reads.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pod {
    /// Metadata.
    #[serde(default)]
    pub metadata: PodMetadata,
    /// Spec.
    #[serde(default)]
    pub spec: PodSpec,
    /// Status.
    #[serde(default)]
    pub status: PodStatus,
}

/// The read part of `ObjectMeta`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodMetadata {
    /// The name.
    #[serde(default)]
    pub name: String,
    /// The namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Set while the pod is being deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_timestamp: Option<String>,
}

/// The read part of `PodSpec`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    /// Containers.
    #[serde(default)]
    pub containers: Vec<Container>,
    /// Init containers; those with `restartPolicy: Always` count.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub init_containers: Vec<Container>,
}

/// The read part of `Container`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    /// The name.
    #[serde(default)]
    pub name: String,
    /// Resources.
    #[serde(default)]
    pub resources: Resources,
    /// `Always` marks a sidecar init container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<String>,
}

/// `ResourceRequirements` (requests only).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resources {
    /// Requests by resource name.
    #[serde(default)]
    pub requests: BTreeMap<String, Quantity>,
}

/// The read part of `PodStatus`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodStatus {
    /// The phase.
    #[serde(default)]
    pub phase: PodPhase,
    /// RFC3339 start time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// Conditions.
    #[serde(default)]
    pub conditions: Vec<PodCondition>,
}

/// A `PodCondition`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodCondition {
    /// The condition type (`Ready`…).
    #[serde(rename = "type")]
    pub condition_type: String,
    /// Its status.
    #[serde(default)]
    pub status: ConditionStatus,
    /// RFC3339 time of the last change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
}

/// Parses an RFC3339 time to nanoseconds since the Unix epoch.
///
/// # Errors
/// [`Error::InvalidField`] at `path` when the text is not RFC3339.
pub fn parse_time(text: &str, path: &str) -> Result<i64> {
    let ts: jiff::Timestamp = text
        .parse()
        .map_err(|e| Error::invalid(path, format!("invalid RFC3339 time {text:?}: {e}")))?;
    i64::try_from(ts.as_nanosecond())
        .map_err(|_| Error::invalid(path, format!("time {text:?} is out of range")))
}

impl Pod {
    /// The engine's view of this pod; `path` is the pod's JSON path, for errors.
    ///
    /// # Errors
    /// [`Error::InvalidField`] for a time that is not RFC3339.
    pub fn to_info(&self, path: &str) -> Result<PodInfo> {
        let start_time = self
            .status
            .start_time
            .as_deref()
            .map(|t| parse_time(t, &format!("{path}.status.startTime")))
            .transpose()?;
        let mut ready = None;
        for (i, c) in self.status.conditions.iter().enumerate() {
            if c.condition_type == "Ready" {
                let last_transition = match c.last_transition_time.as_deref() {
                    Some(t) => parse_time(
                        t,
                        &format!("{path}.status.conditions[{i}].lastTransitionTime"),
                    )?,
                    None => i64::MIN,
                };
                ready = Some(ReadyCondition {
                    status: c.status,
                    last_transition,
                });
                break;
            }
        }
        let sidecars = self
            .spec
            .init_containers
            .iter()
            .filter(|c| c.restart_policy.as_deref() == Some("Always"));
        let containers = self
            .spec
            .containers
            .iter()
            .chain(sidecars)
            .map(|c| ContainerRequests {
                name: c.name.clone(),
                requests: c
                    .resources
                    .requests
                    .iter()
                    .map(|(k, v)| (k.clone(), v.milli_value()))
                    .collect(),
            })
            .collect();
        Ok(PodInfo {
            name: self.metadata.name.clone(),
            phase: self.status.phase,
            deleted: self.metadata.deletion_timestamp.is_some(),
            start_time,
            ready,
            containers,
        })
    }
}
