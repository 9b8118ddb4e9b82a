//! One workload, several autoscalers (spec `scaling.md` §6): the unified view of who owns a workload's replica
//! count and each container's requests, and the conflict rules between HorizontalPodAutoscalers (any
//! autoscaling version), VerticalPodAutoscalers and KEDA ScaledObjects.
//!
//! - [`load`]: manifest documents → [`AutoscalerObject`]s. HPAs are read after API defaulting and v1 → v2
//!   conversion, ScaledObject cpu/memory triggers as the Resource/ContainerResource metrics KEDA generates, and
//!   workloads (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob) for their pod templates. A
//!   malformed autoscaler is an [`InputError`] naming file, line, document and field.
//! - [`rules`]: every rule of the §6 table ([`check_all`]) and the admission-style [`validate`].
//! - [`view`]: the per-workload [`WorkloadView`] ([`workload_views`]).
//!
//! Pure: no I/O, no clock. Results are sorted, so the order of the input never changes them.
//!
//! ```
//! use ksx_core::manifest::parse_str;
//! use ksx_scaling::policy::{Severity, check_all, load_documents};
//!
//! let text = "
//! apiVersion: autoscaling/v2
//! kind: HorizontalPodAutoscaler
//! metadata: {name: web, namespace: shop}
//! spec:
//!   scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
//!   maxReplicas: 10
//! ---
//! apiVersion: autoscaling.k8s.io/v1
//! kind: VerticalPodAutoscaler
//! metadata: {name: web, namespace: shop}
//! spec:
//!   targetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
//! ";
//! let loaded = parse_str("web.yaml", text);
//! let (objects, errors) = load_documents(&loaded.documents);
//! assert!(errors.is_empty());
//! // The HPA has no metrics, so it scales on CPU Utilization 80; the VPA controls cpu and memory.
//! let conflicts = check_all(&objects);
//! assert_eq!(conflicts.len(), 1);
//! assert_eq!(conflicts[0].rule, "vpa-hpa-same-resource");
//! assert_eq!(conflicts[0].severity, Severity::Deny);
//! assert!(conflicts[0].alternative.contains("VPA controlledResources: [memory]"));
//! ```

pub mod load;
pub mod rules;
pub mod view;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_props;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

pub use crate::hpa::conflict::{Severity, WorkloadRef};
use crate::hpa::model::{MetricSourceType, MetricTargetType};
use crate::vpa::crd::VpaSpec;
pub use load::{InputError, load_documents};
pub use rules::{Conflict, check_all, validate};
pub use view::{Owner, WorkloadView, workload_views};

/// Rule names, as conflicts carry them.
pub mod rule {
    /// Two HPAs of any autoscaling version target one workload.
    pub const HPA_MULTIPLE: &str = "hpa-multiple";
    /// A ScaledObject and an HPA it does not own share a target.
    pub const SO_FOREIGN_HPA: &str = "so-foreign-hpa";
    /// Two ScaledObjects share a target or an HPA name.
    pub const SO_MULTIPLE: &str = "so-multiple";
    /// Only cpu/memory triggers with minReplicaCount 0.
    pub const SO_RESOURCE_ONLY_ZERO: &str = "so-resource-only-zero";
    /// Two VPAs target one workload.
    pub const VPA_MULTIPLE: &str = "vpa-multiple";
    /// A VPA controls R in c and an HPA or ScaledObject scales on R with Utilization covering c.
    pub const VPA_HPA_SAME_RESOURCE: &str = "vpa-hpa-same-resource";
    /// The same overlap with AverageValue (allowed, a warning).
    pub const VPA_HPA_AVERAGE_VALUE: &str = "vpa-hpa-average-value";
    /// An updating VPA on a workload that can reach zero replicas.
    pub const VPA_SCALE_TO_ZERO: &str = "vpa-scale-to-zero";
    /// A Utilization metric on R over a container without an R request.
    pub const RESOURCE_METRIC_NO_REQUEST: &str = "resource-metric-no-request";
    /// Every rule, in the order of the spec's table.
    pub const ALL: [&str; 9] = [
        HPA_MULTIPLE,
        SO_FOREIGN_HPA,
        SO_MULTIPLE,
        SO_RESOURCE_ONLY_ZERO,
        VPA_MULTIPLE,
        VPA_HPA_SAME_RESOURCE,
        VPA_HPA_AVERAGE_VALUE,
        VPA_SCALE_TO_ZERO,
        RESOURCE_METRIC_NO_REQUEST,
    ];
}

/// Kind of an HorizontalPodAutoscaler.
pub const HPA_KIND: &str = "HorizontalPodAutoscaler";
/// Kind of a VerticalPodAutoscaler.
pub const VPA_KIND: &str = "VerticalPodAutoscaler";
/// Kind of a KEDA ScaledObject.
pub const SCALED_OBJECT_KIND: &str = "ScaledObject";

/// The identity of one object: kind, API version, namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    /// The kind (`HorizontalPodAutoscaler`, `VerticalPodAutoscaler`, `ScaledObject`, `Deployment`…).
    pub kind: String,
    /// The API version (`autoscaling/v1`…).
    pub api_version: String,
    /// The namespace (`default` when unset).
    pub namespace: String,
    /// The name.
    pub name: String,
}

impl ObjectRef {
    /// An object reference.
    pub fn new(kind: &str, api_version: &str, namespace: &str, name: &str) -> Self {
        Self {
            kind: kind.to_owned(),
            api_version: api_version.to_owned(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }
    }
}

impl fmt::Display for ObjectRef {
    /// `HorizontalPodAutoscaler autoscaling/v1 shop/web` for HPAs (the version matters for `hpa-multiple`),
    /// `VerticalPodAutoscaler shop/web` for the others.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kind == HPA_KIND {
            write!(
                f,
                "{} {} {}/{}",
                self.kind, self.api_version, self.namespace, self.name
            )
        } else {
            write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// One metric an HPA or ScaledObject scales on, after defaulting and conversion.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScalingMetric {
    /// The metric source (`Resource`, `ContainerResource`, `Pods`, `Object`, `External`).
    pub source: MetricSourceType,
    /// The resource (`cpu`, `memory`) of a Resource or ContainerResource metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// The container of a ContainerResource metric; `None` covers every container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// The target type (`Utilization`, `AverageValue`, `Value`).
    pub target_type: MetricTargetType,
    /// The target as written (`80`, `500m`…).
    pub target: String,
    /// For a ScaledObject: the index of the trigger the metric comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<usize>,
    /// A short description (`cpu Utilization 80`, `external metric s0-redis AverageValue 5`).
    pub description: String,
}

impl ScalingMetric {
    /// True for a Resource or ContainerResource metric on `resource` with this target type.
    pub fn is_resource(&self, resource: &str, target_type: MetricTargetType) -> bool {
        matches!(
            self.source,
            MetricSourceType::Resource | MetricSourceType::ContainerResource
        ) && self.resource.as_deref() == Some(resource)
            && self.target_type == target_type
    }

    /// True when the metric covers `container` (a Resource metric covers every container).
    pub fn covers(&self, container: &str) -> bool {
        self.container.as_deref().is_none_or(|c| c == container)
    }
}

/// An HorizontalPodAutoscaler of any autoscaling version, as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HpaObject {
    /// Its identity (the API version as written: `autoscaling/v1`, `autoscaling/v2`).
    pub object: ObjectRef,
    /// What it scales.
    pub target: WorkloadRef,
    /// `minReplicas` (default 1).
    pub min_replicas: i32,
    /// `maxReplicas`.
    pub max_replicas: i32,
    /// The metrics after API defaulting and v1 → v2 conversion.
    pub metrics: Vec<ScalingMetric>,
    /// The ScaledObject named by an `ownerReferences` entry of kind ScaledObject in `keda.sh`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_scaled_object: Option<String>,
}

/// A VerticalPodAutoscaler, as the rules see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VpaObject {
    /// Its identity.
    pub object: ObjectRef,
    /// What it sizes.
    pub target: WorkloadRef,
    /// The spec, with its accessors for update mode and controlled resources.
    pub spec: VpaSpec,
}

/// A KEDA ScaledObject, as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaledObjectInfo {
    /// Its identity.
    pub object: ObjectRef,
    /// What it scales (`apps/v1 Deployment` when the reference names neither).
    pub target: WorkloadRef,
    /// `minReplicaCount` (default 0).
    pub min_replica_count: i32,
    /// `maxReplicaCount` (default 100).
    pub max_replica_count: i32,
    /// `idleReplicaCount`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_replica_count: Option<i32>,
    /// The HPA it generates: `advanced.horizontalPodAutoscalerConfig.name`, else `keda-hpa-<name>`.
    pub hpa_name: String,
    /// `scaledobject.keda.sh/transfer-hpa-ownership: "true"` with an explicit HPA name: it adopts that HPA.
    pub adopts_hpa: bool,
    /// One metric per trigger: cpu/memory triggers as Resource/ContainerResource metrics, the others External.
    pub metrics: Vec<ScalingMetric>,
}

impl ScaledObjectInfo {
    /// True when every trigger is a cpu or memory trigger (they are always active).
    pub fn only_resource_triggers(&self) -> bool {
        !self.metrics.is_empty() && self.metrics.iter().all(|m| m.resource.is_some())
    }

    /// True when the object can take the workload to zero replicas: minReplicaCount or idleReplicaCount 0 and
    /// a trigger that can go inactive (cpu/memory triggers never do).
    pub fn can_reach_zero(&self) -> bool {
        (self.min_replica_count == 0 || self.idle_replica_count == Some(0))
            && !self.only_resource_triggers()
    }

    /// True when this ScaledObject owns `hpa`: same namespace and target, and an owner reference to it or an
    /// adoption through `transfer-hpa-ownership`.
    pub fn owns(&self, hpa: &HpaObject) -> bool {
        hpa.object.namespace == self.object.namespace
            && hpa.target == self.target
            && (hpa.owner_scaled_object.as_deref() == Some(self.object.name.as_str())
                || (self.adopts_hpa && hpa.object.name == self.hpa_name))
    }
}

/// One container of a pod template and its requests.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerRequests {
    /// The container name.
    pub name: String,
    /// `resources.requests` as written (`cpu` → `250m`).
    pub requests: BTreeMap<String, String>,
}

/// A workload object found among the manifests, read for its pod template.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadObject {
    /// Its identity.
    pub object: ObjectRef,
    /// The workload key autoscalers resolve to.
    pub workload: WorkloadRef,
    /// `spec.replicas`, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i64>,
    /// The containers of the pod template (`spec.containers`; init containers do not count for the HPA).
    pub containers: Vec<ContainerRequests>,
    /// Pod-level `spec.resources.requests` of the template.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pod_requests: BTreeMap<String, String>,
}

impl WorkloadObject {
    /// True when container `name` (or the pod as a whole) requests `resource`.
    pub fn has_request(&self, name: &str, resource: &str) -> bool {
        self.pod_requests.contains_key(resource)
            || self
                .containers
                .iter()
                .any(|c| c.name == name && c.requests.contains_key(resource))
    }
}

/// Anything the policy reads: an autoscaler, or a workload read for its pod template.
#[derive(Debug, Clone, PartialEq)]
pub enum AutoscalerObject {
    /// An HPA of any autoscaling version.
    Hpa(HpaObject),
    /// A VPA.
    Vpa(VpaObject),
    /// A KEDA ScaledObject.
    ScaledObject(ScaledObjectInfo),
    /// A workload itself (its pod template's containers and requests).
    Workload(WorkloadObject),
}

impl AutoscalerObject {
    /// The object's identity.
    pub fn object(&self) -> &ObjectRef {
        match self {
            Self::Hpa(h) => &h.object,
            Self::Vpa(v) => &v.object,
            Self::ScaledObject(s) => &s.object,
            Self::Workload(w) => &w.object,
        }
    }

    /// The workload it scales, sizes or is.
    pub fn workload(&self) -> &WorkloadRef {
        match self {
            Self::Hpa(h) => &h.target,
            Self::Vpa(v) => &v.target,
            Self::ScaledObject(s) => &s.target,
            Self::Workload(w) => &w.workload,
        }
    }
}

/// The API group of a reference: the group of `apiVersion`, or, when it is empty, the group the kind lives in
/// (`apps` for Deployment, StatefulSet, DaemonSet, ReplicaSet; `batch` for Job, CronJob), so a reference with
/// and one without `apiVersion` name the same workload.
pub fn reference_group(api_version: &str, kind: &str) -> String {
    if api_version.is_empty() {
        match kind {
            "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" => "apps",
            "Job" | "CronJob" => "batch",
            _ => "",
        }
        .to_owned()
    } else {
        crate::hpa::conflict::api_group(api_version).to_owned()
    }
}
