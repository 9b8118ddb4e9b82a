//! Manifest documents → [`AutoscalerObject`]s.
//!
//! HPAs are read after API defaulting and conversion (spec §1.1, §2): autoscaling/v1 through
//! [`crate::hpa::convert::v1_to_v2`] (CPU Utilization at `targetCPUUtilizationPercentage`, 80 when unset, plus
//! the annotated metrics), autoscaling/v2 without metrics as CPU Utilization 80. ScaledObject cpu/memory
//! triggers become the Resource (ContainerResource with `containerName`) metrics KEDA generates, with their
//! `metricType`; other triggers External metrics. Workloads are read for their pod templates; other kinds are
//! skipped. A malformed autoscaler is an [`InputError`] naming the file, line, document and field.

use std::collections::BTreeMap;
use std::fmt;

use ksx_core::manifest::{Document, Source, from_value_at};
use ksx_core::quantity::Quantity;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    AutoscalerObject, ContainerRequests, HPA_KIND, HpaObject, ObjectRef, SCALED_OBJECT_KIND,
    ScaledObjectInfo, ScalingMetric, VPA_KIND, VpaObject, WorkloadObject, WorkloadRef,
    reference_group,
};
use crate::event::model::{
    ANNOTATION_TRANSFER_HPA_OWNERSHIP, DEFAULT_MAX_REPLICA_COUNT, DEFAULT_MIN_REPLICA_COUNT,
    MetricTypeName, ScaledObject,
};
use crate::hpa::model::{MetricSourceType, MetricSpec, MetricTargetType};
use crate::vpa::crd::VerticalPodAutoscaler;

/// A malformed autoscaler: where it is, which field, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InputError {
    /// The file (`-` for standard input).
    pub file: String,
    /// 1-based line where the document starts.
    pub line: usize,
    /// 1-based document index in the file.
    pub document: usize,
    /// The object (`ScaledObject shop/web`).
    pub object: String,
    /// The JSON path of the field at fault (`spec.triggers[0].metricType`); empty for the whole object.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: document {}: {}: ",
            self.file, self.line, self.document, self.object
        )?;
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for InputError {}

/// Reads every autoscaler and workload of `documents`; other kinds are skipped. Each malformed autoscaler
/// becomes an [`InputError`] and the rest still load.
pub fn load_documents(documents: &[Document]) -> (Vec<AutoscalerObject>, Vec<InputError>) {
    let mut objects = Vec::new();
    let mut errors = Vec::new();
    for doc in documents {
        match AutoscalerObject::from_document(doc) {
            Ok(Some(o)) => objects.push(o),
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }
    (objects, errors)
}

impl AutoscalerObject {
    /// Reads one document: `Some` for an HPA (any autoscaling version), a VPA (`autoscaling.k8s.io`), a
    /// ScaledObject (`keda.sh`) or a workload with a pod template; `None` for other kinds.
    ///
    /// # Errors
    /// An [`InputError`] naming the document and field when an autoscaler is malformed: an unknown enum value,
    /// a missing target reference, an invalid metric or trigger, a v1 annotation that does not convert.
    pub fn from_document(doc: &Document) -> Result<Option<Self>, InputError> {
        let group = crate::hpa::conflict::api_group(doc.api_version());
        let at = Place::new(doc);
        match (group, doc.kind()) {
            ("autoscaling", HPA_KIND) => read_hpa(doc, &at).map(|h| Some(Self::Hpa(h))),
            ("autoscaling.k8s.io", VPA_KIND) => read_vpa(doc, &at).map(|v| Some(Self::Vpa(v))),
            ("keda.sh", SCALED_OBJECT_KIND) => {
                read_scaled_object(doc, &at).map(|s| Some(Self::ScaledObject(s)))
            }
            (_, kind) => Ok(read_workload(doc, kind).map(Self::Workload)),
        }
    }
}

/// Where a document is, to build errors.
struct Place {
    source: Source,
    object: String,
}

impl Place {
    fn new(doc: &Document) -> Self {
        Self {
            source: doc.source.clone(),
            object: format!("{} {}/{}", doc.kind(), namespace_of(doc), doc.name()),
        }
    }

    fn error(&self, field: impl Into<String>, message: impl Into<String>) -> InputError {
        InputError {
            file: self.source.file.clone(),
            line: self.source.line,
            document: self.source.document,
            object: self.object.clone(),
            field: field.into(),
            message: message.into(),
        }
    }

    /// Maps an error of this crate (an `InvalidField` names its path) or of the core (a parse error whose
    /// reason starts with the path) to an [`InputError`].
    fn of_error(&self, e: &crate::Error) -> InputError {
        match e {
            crate::Error::InvalidField { field, reason } => {
                self.error(field.clone(), reason.clone())
            }
            crate::Error::Core(ksx_core::Error::Parse { reason, .. }) => self.of_reason(reason),
            other => self.error("", other.to_string()),
        }
    }

    /// `spec.metrics[0].type: unknown variant …` → field and message.
    fn of_reason(&self, reason: &str) -> InputError {
        match reason.split_once(": ") {
            Some((path, message)) if path.starts_with("spec") || path.starts_with("metadata") => {
                self.error(path, message)
            }
            _ => self.error("", reason),
        }
    }
}

fn namespace_of(doc: &Document) -> &str {
    doc.namespace()
        .filter(|n| !n.is_empty())
        .unwrap_or("default")
}

fn object_ref(doc: &Document) -> ObjectRef {
    ObjectRef::new(doc.kind(), doc.api_version(), namespace_of(doc), doc.name())
}

/// A `scaleTargetRef`/`targetRef` as written.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TargetRef {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    name: String,
}

fn workload_ref(
    at: &Place,
    field: &str,
    namespace: &str,
    t: &TargetRef,
) -> Result<WorkloadRef, InputError> {
    if t.kind.is_empty() {
        return Err(at.error(format!("{field}.kind"), "must be set"));
    }
    if t.name.is_empty() {
        return Err(at.error(format!("{field}.name"), "must be set"));
    }
    Ok(WorkloadRef {
        namespace: namespace.to_owned(),
        group: reference_group(&t.api_version, &t.kind),
        kind: t.kind.clone(),
        name: t.name.clone(),
    })
}

#[derive(Debug, Deserialize)]
struct HpaDoc {
    spec: HpaSpec,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HpaSpec {
    scale_target_ref: TargetRef,
    #[serde(default)]
    min_replicas: Option<i32>,
    max_replicas: i32,
    #[serde(default)]
    metrics: Vec<MetricSpec>,
}

fn read_hpa(doc: &Document, at: &Place) -> Result<HpaObject, InputError> {
    let converted;
    let value = match doc.api_version() {
        "autoscaling/v1" => {
            converted = crate::hpa::convert::v1_to_v2(&doc.value).map_err(|e| at.of_error(&e))?;
            &converted.hpa
        }
        "autoscaling/v2" | "autoscaling/v2beta2" => &doc.value,
        other => {
            return Err(at.error(
                "apiVersion",
                format!(
                    "{other} is not read by the policy: autoscaling/v2beta1 was removed in Kubernetes 1.25; write \
                     autoscaling/v2 (or v1)"
                ),
            ));
        }
    };
    let parsed: HpaDoc = from_value_at(value, "").map_err(|e| match e {
        ksx_core::Error::Parse { reason, .. } => at.of_reason(&reason),
        other => at.error("", other.to_string()),
    })?;
    let spec = parsed.spec;
    let namespace = namespace_of(doc);
    let target = workload_ref(at, "spec.scaleTargetRef", namespace, &spec.scale_target_ref)?;
    let min_replicas = spec.min_replicas.unwrap_or(1);
    if spec.max_replicas < 1 {
        return Err(at.error(
            "spec.maxReplicas",
            format!(
                "must be greater than or equal to 1, got {}",
                spec.max_replicas
            ),
        ));
    }
    if min_replicas < 0 || min_replicas > spec.max_replicas {
        return Err(at.error(
            "spec.minReplicas",
            format!(
                "must be between 0 and maxReplicas ({}), got {min_replicas}",
                spec.max_replicas
            ),
        ));
    }
    let mut metrics = Vec::new();
    for (i, m) in spec.metrics.iter().enumerate() {
        m.validate(&format!("spec.metrics[{i}]"))
            .map_err(|e| at.of_error(&e))?;
        metrics.push(hpa_metric(m));
    }
    if metrics.is_empty() {
        // API defaulting: an autoscaling/v2 HPA without metrics scales on CPU Utilization 80.
        metrics.push(resource_metric(
            "cpu",
            None,
            MetricTargetType::Utilization,
            "80",
            None,
        ));
    }
    let owner_scaled_object = doc
        .value
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|r| {
            r.get("kind").and_then(Value::as_str) == Some(SCALED_OBJECT_KIND)
                && r.get("apiVersion")
                    .and_then(Value::as_str)
                    .is_some_and(|v| v.starts_with("keda.sh/"))
        })
        .and_then(|r| r.get("name").and_then(Value::as_str))
        .map(str::to_owned);
    Ok(HpaObject {
        object: object_ref(doc),
        target,
        min_replicas,
        max_replicas: spec.max_replicas,
        metrics,
        owner_scaled_object,
    })
}

fn resource_metric(
    resource: &str,
    container: Option<&str>,
    target_type: MetricTargetType,
    target: &str,
    trigger: Option<usize>,
) -> ScalingMetric {
    let (source, description) = match container {
        Some(c) => (
            MetricSourceType::ContainerResource,
            format!("{resource} of container {c} {target_type:?} {target}"),
        ),
        None => (
            MetricSourceType::Resource,
            format!("{resource} {target_type:?} {target}"),
        ),
    };
    ScalingMetric {
        source,
        resource: Some(resource.to_owned()),
        container: container.map(str::to_owned),
        target_type,
        target: target.to_owned(),
        trigger,
        description,
    }
}

fn target_text(t: &crate::hpa::model::MetricTarget) -> String {
    match (&t.average_utilization, &t.average_value, &t.value) {
        (Some(u), _, _) => u.to_string(),
        (None, Some(q), _) | (None, None, Some(q)) => q.to_string(),
        (None, None, None) => String::new(),
    }
}

fn hpa_metric(m: &MetricSpec) -> ScalingMetric {
    if let Some(r) = &m.resource {
        return resource_metric(
            &r.name,
            None,
            r.target.target_type,
            &target_text(&r.target),
            None,
        );
    }
    if let Some(r) = &m.container_resource {
        return resource_metric(
            &r.name,
            Some(&r.container),
            r.target.target_type,
            &target_text(&r.target),
            None,
        );
    }
    let target = [
        m.pods.as_ref().map(|p| &p.target),
        m.object.as_ref().map(|o| &o.target),
        m.external.as_ref().map(|e| &e.target),
    ]
    .into_iter()
    .flatten()
    .next();
    let (target_type, target) = target
        .map_or((MetricTargetType::AverageValue, String::new()), |t| {
            (t.target_type, target_text(t))
        });
    ScalingMetric {
        source: m.source_type,
        resource: None,
        container: None,
        target_type,
        description: format!("{} {target_type:?} {target}", m.display_name()),
        target,
        trigger: None,
    }
}

fn read_vpa(doc: &Document, at: &Place) -> Result<VpaObject, InputError> {
    if doc.value.pointer("/spec/targetRef").is_none() {
        return Err(at.error("spec.targetRef", "must be set"));
    }
    let vpa: VerticalPodAutoscaler = from_value_at(&doc.value, "").map_err(|e| match e {
        ksx_core::Error::Parse { reason, .. } => at.of_reason(&reason),
        other => at.error("", other.to_string()),
    })?;
    let t = &vpa.spec.target_ref;
    let target = workload_ref(
        at,
        "spec.targetRef",
        namespace_of(doc),
        &TargetRef {
            api_version: t.api_version.clone(),
            kind: t.kind.clone(),
            name: t.name.clone(),
        },
    )?;
    Ok(VpaObject {
        object: object_ref(doc),
        target,
        spec: vpa.spec,
    })
}

/// KEDA reads boolean annotations leniently: anything but a parsable `false` counts as true.
fn annotation_true(doc: &Document, key: &str) -> bool {
    doc.value
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
        .is_some_and(|v| !v.trim().eq_ignore_ascii_case("false") && v.trim() != "0")
}

fn read_scaled_object(doc: &Document, at: &Place) -> Result<ScaledObjectInfo, InputError> {
    let so: ScaledObject = from_value_at(&doc.value, "").map_err(|e| match e {
        ksx_core::Error::Parse { reason, .. } => at.of_reason(&reason),
        other => at.error("", other.to_string()),
    })?;
    let spec = &so.spec;
    let r = &spec.scale_target_ref;
    let target = workload_ref(
        at,
        "spec.scaleTargetRef",
        namespace_of(doc),
        &TargetRef {
            api_version: r.api_version().to_owned(),
            kind: r.kind().to_owned(),
            name: r.name.clone(),
        },
    )?;
    let min = spec.min_replica_count.unwrap_or(DEFAULT_MIN_REPLICA_COUNT);
    let max = spec.max_replica_count.unwrap_or(DEFAULT_MAX_REPLICA_COUNT);
    if min < 0 {
        return Err(at.error(
            "spec.minReplicaCount",
            format!("must not be negative, got {min}"),
        ));
    }
    if min > max {
        return Err(at.error(
            "spec.minReplicaCount",
            format!("{min} must be less than or equal to maxReplicaCount ({max})"),
        ));
    }
    if let Some(idle) = spec.idle_replica_count
        && (idle < 0 || idle >= min)
    {
        return Err(at.error(
            "spec.idleReplicaCount",
            format!("{idle} must be less than minReplicaCount ({min})"),
        ));
    }
    if spec.triggers.is_empty() {
        return Err(at.error("spec.triggers", "must list at least one trigger"));
    }
    let mut metrics = Vec::new();
    for (i, t) in spec.triggers.iter().enumerate() {
        let path = format!("spec.triggers[{i}]");
        metrics.push(trigger_metric(at, &path, i, t)?);
    }
    let configured_name = spec
        .advanced
        .as_ref()
        .and_then(|a| a.horizontal_pod_autoscaler_config.as_ref())
        .and_then(|c| c.name.clone())
        .filter(|n| !n.is_empty());
    let adopts_hpa =
        configured_name.is_some() && annotation_true(doc, ANNOTATION_TRANSFER_HPA_OWNERSHIP);
    Ok(ScaledObjectInfo {
        object: object_ref(doc),
        target,
        min_replica_count: min,
        max_replica_count: max,
        idle_replica_count: spec.idle_replica_count,
        hpa_name: configured_name.unwrap_or_else(|| format!("keda-hpa-{}", doc.name())),
        adopts_hpa,
        metrics,
    })
}

fn trigger_metric(
    at: &Place,
    path: &str,
    index: usize,
    t: &crate::event::model::ScaleTrigger,
) -> Result<ScalingMetric, InputError> {
    let kind = t.type_.as_str();
    if kind.is_empty() {
        return Err(at.error(format!("{path}.type"), "must be set"));
    }
    if kind == "cpu" || kind == "memory" {
        if t.metadata.contains_key("type") {
            return Err(at.error(
                format!("{path}.metadata.type"),
                "was removed in KEDA 2.18: set the trigger's metricType (Utilization or AverageValue)",
            ));
        }
        // Unset is AverageValue, as the trigger model and the cpu/memory scaler of this crate read it.
        let target_type = match t.metric_type {
            Some(MetricTypeName::Utilization) => MetricTargetType::Utilization,
            Some(MetricTypeName::AverageValue) | None => MetricTargetType::AverageValue,
            Some(MetricTypeName::Value) => {
                return Err(at.error(
                    format!("{path}.metricType"),
                    format!(
                        "a {kind} trigger takes metricType Utilization or AverageValue, not Value"
                    ),
                ));
            }
        };
        let value = t
            .metadata
            .get("value")
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| at.error(format!("{path}.metadata.value"), "must be set"))?;
        let valid = if target_type == MetricTargetType::Utilization {
            value.parse::<i32>().is_ok_and(|u| u >= 1)
        } else {
            Quantity::parse(value).is_ok_and(|q| q.milli_value() > 0)
        };
        if !valid {
            let expected = if target_type == MetricTargetType::Utilization {
                "a whole percentage of at least 1"
            } else {
                "a positive quantity"
            };
            return Err(at.error(
                format!("{path}.metadata.value"),
                format!("{value:?} is not {expected}"),
            ));
        }
        let container = t
            .metadata
            .get("containerName")
            .map(|c| c.trim())
            .filter(|c| !c.is_empty());
        return Ok(resource_metric(
            kind,
            container,
            target_type,
            value,
            Some(index),
        ));
    }
    let target_type = match t.metric_type {
        None | Some(MetricTypeName::AverageValue) => MetricTargetType::AverageValue,
        Some(MetricTypeName::Value) => MetricTargetType::Value,
        Some(MetricTypeName::Utilization) => {
            return Err(at.error(
                format!("{path}.metricType"),
                "Utilization is only for cpu and memory triggers",
            ));
        }
    };
    let name = format!("s{index}-{kind}");
    Ok(ScalingMetric {
        source: MetricSourceType::External,
        resource: None,
        container: None,
        target_type,
        target: String::new(),
        trigger: Some(index),
        description: format!("external metric {name} {target_type:?}"),
    })
}

/// Where the pod spec of a workload kind lives, and the group the kind belongs to.
fn pod_spec_pointer(group: &str, kind: &str) -> Option<&'static str> {
    match (group, kind) {
        ("apps" | "extensions", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet")
        | ("batch", "Job") => Some("/spec/template/spec"),
        ("batch", "CronJob") => Some("/spec/jobTemplate/spec/template/spec"),
        _ => None,
    }
}

fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| {
                    let text = match v {
                        Value::String(s) => s.clone(),
                        Value::Number(n) => n.to_string(),
                        _ => return None,
                    };
                    Some((k.clone(), text))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A workload with a readable pod template; `None` for other kinds or a template without containers.
fn read_workload(doc: &Document, kind: &str) -> Option<WorkloadObject> {
    let group = crate::hpa::conflict::api_group(doc.api_version());
    let pointer = pod_spec_pointer(group, kind)?;
    let spec = doc.value.pointer(pointer)?;
    let containers: Vec<ContainerRequests> = spec
        .get("containers")?
        .as_array()?
        .iter()
        .filter_map(|c| {
            Some(ContainerRequests {
                name: c.get("name")?.as_str()?.to_owned(),
                requests: string_map(c.pointer("/resources/requests")),
            })
        })
        .collect();
    if containers.is_empty() {
        return None;
    }
    let namespace = namespace_of(doc);
    Some(WorkloadObject {
        object: object_ref(doc),
        workload: WorkloadRef {
            namespace: namespace.to_owned(),
            group: group.to_owned(),
            kind: kind.to_owned(),
            name: doc.name().to_owned(),
        },
        replicas: doc.value.pointer("/spec/replicas").and_then(Value::as_i64),
        containers,
        pod_requests: string_map(spec.pointer("/resources/requests")),
    })
}
