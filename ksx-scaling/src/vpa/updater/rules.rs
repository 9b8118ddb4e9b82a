//! The per-container and per-pod rules of the updater: what a container's template becomes, upstream's pod
//! update priority, HPA coverage (§6) and PodDisruptionBudget checks, and small pod helpers.

use std::collections::BTreeMap;

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Container, Pod, PodTemplateSpec};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use ksx_core::cluster::selector::LabelSelector;
use ksx_core::quantity::Quantity;
use ksx_core::rolling;

use super::{
    ContainerPlan, NANOS_PER_SEC, ResourceChange, SkippedResource, UPDATED_BY_ANNOTATION,
    UpdatePriority, UpdaterConfig,
};
use crate::vpa::crd::{
    ContainerScalingMode, RecommendedContainerResources, ResourceList, VerticalPodAutoscaler,
};
use crate::vpa::estimate::limits_for;

/// Plans one container: the resources that change, those left alone with the reason, the recommendation
/// restricted to what may change (for the pod priorities) and the container with its new resources.
pub(super) fn plan_container(
    vpa: &VerticalPodAutoscaler,
    container: &Container,
    recommendations: &[RecommendedContainerResources],
    blocked: &BTreeMap<(String, String), String>,
) -> (
    ContainerPlan,
    Option<RecommendedContainerResources>,
    Container,
) {
    let mut plan = ContainerPlan {
        name: container.name.clone(),
        changes: Vec::new(),
        skipped: Vec::new(),
    };
    let whole = |plan: &mut ContainerPlan, reason: &str| {
        plan.skipped.push(SkippedResource {
            resource: "*".to_owned(),
            reason: reason.to_owned(),
        });
    };
    let Some(rec) = recommendations
        .iter()
        .find(|r| r.container_name == container.name)
    else {
        whole(&mut plan, "no recommendation for this container");
        return (plan, None, container.clone());
    };
    let policy = vpa.spec.container_policy(&container.name);
    if policy.and_then(|p| p.mode) == Some(ContainerScalingMode::Off) {
        whole(&mut plan, "container policy mode Off");
        return (plan, None, container.clone());
    }
    let values = policy.and_then(|p| p.controlled_values).unwrap_or_default();
    let resources = container.resources.clone().unwrap_or_default();
    let (requests_now, bad_requests) = to_list(resources.requests.as_ref());
    let (limits_now, bad_limits) = to_list(resources.limits.as_ref());
    let mut allowed = RecommendedContainerResources {
        container_name: container.name.clone(),
        ..RecommendedContainerResources::default()
    };
    for (resource, target) in &rec.target {
        let reason = if !vpa.spec.controls(&container.name, resource) {
            Some("not in controlledResources".to_owned())
        } else if let Some(hpa) = blocked
            .get(&(resource.clone(), container.name.clone()))
            .or_else(|| blocked.get(&(resource.clone(), "*".to_owned())))
        {
            Some(format!(
                "HorizontalPodAutoscaler {hpa} scales on {resource} Utilization covering this container; a VPA changing the request would fight it"
            ))
        } else if bad_requests.contains(resource) || bad_limits.contains(resource) {
            Some(format!(
                "the current {resource} request or limit is not a valid quantity"
            ))
        } else {
            None
        };
        if let Some(reason) = reason {
            plan.skipped.push(SkippedResource {
                resource: resource.clone(),
                reason,
            });
            continue;
        }
        allowed.target.insert(resource.clone(), *target);
        if let Some(q) = rec.lower_bound.get(resource) {
            allowed.lower_bound.insert(resource.clone(), *q);
        }
        if let Some(q) = rec.upper_bound.get(resource) {
            allowed.upper_bound.insert(resource.clone(), *q);
        }
    }
    let mut requests = requests_now.clone();
    for (resource, target) in &allowed.target {
        requests.insert(resource.clone(), *target);
    }
    let limits = limits_for(&requests_now, &limits_now, &allowed.target, values);
    for (field, before, after) in [
        ("requests", &requests_now, &requests),
        ("limits", &limits_now, &limits),
    ] {
        for (resource, to) in after {
            let from = before.get(resource).copied();
            if from.map(|f| f.milli_value()) != Some(to.milli_value()) {
                plan.changes.push(ResourceChange {
                    resource: resource.clone(),
                    field: field.to_owned(),
                    from,
                    to: *to,
                });
            }
        }
    }
    let mut updated = container.clone();
    if !plan.changes.is_empty() {
        let mut r = resources;
        r.requests = Some(to_k8s(&requests));
        if !limits.is_empty() {
            r.limits = Some(to_k8s(&limits));
        }
        updated.resources = Some(r);
    }
    (plan, Some(allowed), updated)
}

/// A pod's update priority when upstream's rules let it be updated, else `None`.
pub(super) fn pod_update_priority(
    pod: &Pod,
    applicable: &BTreeMap<String, RecommendedContainerResources>,
    config: &UpdaterConfig,
    evict_after_oom_secs: i64,
    now: i64,
) -> Option<UpdatePriority> {
    let mut total_request: BTreeMap<&str, i64> = BTreeMap::new();
    let mut total_recommended: BTreeMap<&str, i64> = BTreeMap::new();
    let mut outside = false;
    let mut scale_up = false;
    let containers = pod
        .spec
        .as_ref()
        .map(|s| s.containers.as_slice())
        .unwrap_or_default();
    for container in containers {
        let Some(rec) = applicable.get(&container.name) else {
            continue;
        };
        let (requests, _) = to_list(
            container
                .resources
                .as_ref()
                .and_then(|r| r.requests.as_ref()),
        );
        for (resource, target) in &rec.target {
            let recommended = target.milli_value();
            *total_recommended.entry(resource.as_str()).or_default() += recommended;
            match requests.get(resource) {
                Some(request) => {
                    let request = request.milli_value();
                    *total_request.entry(resource.as_str()).or_default() += request;
                    if recommended > request {
                        scale_up = true;
                    }
                    let below = rec
                        .lower_bound
                        .get(resource)
                        .is_some_and(|l| request < l.milli_value());
                    let above = rec
                        .upper_bound
                        .get(resource)
                        .is_some_and(|u| request > u.milli_value());
                    outside |= below || above;
                }
                None => {
                    scale_up = true;
                    outside = true;
                }
            }
        }
    }
    let mut resource_diff = 0.0;
    for (resource, recommended) in &total_recommended {
        let request = (total_request.get(resource).copied().unwrap_or(0) as f64).max(1.0);
        resource_diff += (request - *recommended as f64).abs() / request;
    }
    let priority = UpdatePriority {
        outside_recommended_range: outside,
        scale_up,
        resource_diff,
    };
    let quick_oom = quick_oom(pod, applicable, evict_after_oom_secs);
    if !outside && !quick_oom {
        let start = start_time(pod)?;
        if now < start.saturating_add(config.pod_lifetime_update_threshold_secs * NANOS_PER_SEC) {
            return None;
        }
        if resource_diff < config.min_change_priority {
            return None;
        }
    }
    if quick_oom && resource_diff == 0.0 {
        return None;
    }
    Some(priority)
}

/// A managed container's last termination was an OOM kill less than `threshold_secs` after it started.
pub(super) fn quick_oom(
    pod: &Pod,
    applicable: &BTreeMap<String, RecommendedContainerResources>,
    threshold_secs: i64,
) -> bool {
    let statuses = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or_default();
    statuses.iter().any(|s| {
        if !applicable.contains_key(&s.name) {
            return false;
        }
        let Some(t) = s.last_state.as_ref().and_then(|l| l.terminated.as_ref()) else {
            return false;
        };
        if t.reason.as_deref() != Some("OOMKilled") {
            return false;
        }
        match (&t.started_at, &t.finished_at) {
            (Some(start), Some(end)) => {
                let lived = end.0.as_nanosecond() - start.0.as_nanosecond();
                lived < i128::from(threshold_secs) * i128::from(NANOS_PER_SEC)
            }
            _ => false,
        }
    })
}

/// `(resource, container)` → the HPA, for every resource an HPA on the workload scales on with a Utilization
/// metric; container `*` for a Resource metric (all containers). An HPA without metrics scales on CPU
/// Utilization (80 %).
pub(super) fn hpa_blocked(
    namespace: &str,
    kind: &str,
    name: &str,
    hpas: &[HorizontalPodAutoscaler],
) -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    for hpa in hpas {
        if hpa.metadata.namespace.as_deref().unwrap_or_default() != namespace {
            continue;
        }
        let Some(spec) = &hpa.spec else { continue };
        let r = &spec.scale_target_ref;
        let group = r
            .api_version
            .as_deref()
            .map_or("apps", |v| v.rsplit_once('/').map_or("", |(g, _)| g));
        if r.kind != kind || r.name != name || group != "apps" {
            continue;
        }
        let key = format!(
            "{namespace}/{}",
            hpa.metadata.name.as_deref().unwrap_or_default()
        );
        let metrics = spec.metrics.as_deref().unwrap_or_default();
        if metrics.is_empty() {
            out.insert(("cpu".to_owned(), "*".to_owned()), key.clone());
        }
        for m in metrics {
            if let Some(res) = m.resource.as_ref().filter(|_| m.type_ == "Resource")
                && res.target.type_ == "Utilization"
            {
                out.insert((res.name.clone(), "*".to_owned()), key.clone());
            }
            if let Some(res) = m
                .container_resource
                .as_ref()
                .filter(|_| m.type_ == "ContainerResource")
                && res.target.type_ == "Utilization"
            {
                out.insert((res.name.clone(), res.container.clone()), key.clone());
            }
        }
    }
    out
}

/// Why a budget forbids the rollout, if one does: the rollout keeps `replicas − max_unavailable` pods
/// available, which must reach the budget's `minAvailable` (integers as they are, percentages of the replicas
/// rounded up), and takes at most its `maxUnavailable` (percentages rounded up, as the disruption controller).
pub(super) fn pdb_blocks(
    namespace: &str,
    template: &PodTemplateSpec,
    replicas: i32,
    max_unavailable: i32,
    pdbs: &[PodDisruptionBudget],
) -> Option<String> {
    let labels = template.metadata.as_ref().and_then(|m| m.labels.as_ref());
    for pdb in pdbs {
        if pdb.metadata.namespace.as_deref().unwrap_or_default() != namespace {
            continue;
        }
        let Some(spec) = &pdb.spec else { continue };
        let key = format!(
            "{namespace}/{}",
            pdb.metadata.name.as_deref().unwrap_or_default()
        );
        let matches = spec
            .selector
            .as_ref()
            .and_then(|s| LabelSelector::from_k8s(s).ok())
            .is_some_and(|s| !s.is_empty() && s.matches_opt(labels));
        if !matches {
            continue;
        }
        let resolve = |field: &str, v: &IntOrString| {
            rolling::scaled_value(&key, field, v, replicas, true).map_err(|e| e.to_string())
        };
        let available = replicas - max_unavailable;
        if let Some(min) = &spec.min_available {
            match resolve("spec.minAvailable", min) {
                Err(e) => return Some(format!("PodDisruptionBudget {key}: {e}")),
                Ok(min) if available < min => {
                    return Some(format!(
                        "PodDisruptionBudget {key} needs {min} pods available, and the rollout may leave {available} ({max_unavailable} of {replicas} unavailable at once)"
                    ));
                }
                Ok(_) => {}
            }
        }
        if let Some(max) = &spec.max_unavailable {
            match resolve("spec.maxUnavailable", max) {
                Err(e) => return Some(format!("PodDisruptionBudget {key}: {e}")),
                Ok(max) if max_unavailable > max => {
                    return Some(format!(
                        "PodDisruptionBudget {key} allows {max} pods unavailable, and the rollout may take {max_unavailable} at once"
                    ));
                }
                Ok(_) => {}
            }
        }
    }
    None
}

/// The merge patch that sets the template's containers. A merge patch replaces lists whole, so every container
/// is sent, changed or not.
pub(super) fn template_patch(vpa: &str, containers: &[Container]) -> serde_json::Value {
    serde_json::json!({
        "spec": {"template": {
            "metadata": {"annotations": {UPDATED_BY_ANNOTATION: vpa}},
            "spec": {"containers": containers}
        }}
    })
}

pub(super) fn vpa_key(vpa: &VerticalPodAutoscaler) -> String {
    format!(
        "{}/{}",
        vpa.metadata.namespace.as_deref().unwrap_or_default(),
        vpa.metadata.name.as_deref().unwrap_or_default()
    )
}

pub(super) fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending")
}

/// Not terminated and not being deleted.
pub(super) fn is_live(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none() && !matches!(phase(pod), "Succeeded" | "Failed")
}

pub(super) fn start_time(pod: &Pod) -> Option<i64> {
    let t = pod.status.as_ref()?.start_time.as_ref()?;
    i64::try_from(t.0.as_nanosecond()).ok()
}

/// k8s quantities as ksx ones; names that do not parse are returned apart so the plan never guesses.
pub(super) fn to_list(list: Option<&BTreeMap<String, K8sQuantity>>) -> (ResourceList, Vec<String>) {
    let mut out = ResourceList::new();
    let mut bad = Vec::new();
    for (name, q) in list.into_iter().flatten() {
        match Quantity::parse(&q.0) {
            Ok(v) => {
                out.insert(name.clone(), v);
            }
            Err(_) => bad.push(name.clone()),
        }
    }
    (out, bad)
}

pub(super) fn to_k8s(list: &ResourceList) -> BTreeMap<String, K8sQuantity> {
    list.iter()
        .map(|(k, v)| (k.clone(), K8sQuantity(v.to_string())))
        .collect()
}

#[allow(
    clippy::cast_possible_truncation,
    reason = "a replica count times a fraction fits an i32; the cast saturates anyway"
)]
pub(super) fn truncate(x: f64) -> i32 {
    x.trunc() as i32
}
