//! The Eviction API and the PodDisruptionBudget status, as the disruption controller computes them.
//!
//! A budget looks at the active pods its selector matches and the healthy ones among them (Running and Ready,
//! `currentHealthy`). With an integer `minAvailable`, `desiredHealthy` is that integer and `expectedPods` the number
//! of matching pods. Otherwise `expectedPods` is the scale of the pods' controllers (a Deployment's or
//! StatefulSet's `spec.replicas`, a bare ReplicaSet's; a pod without such a controller counts as one), and
//! `desiredHealthy` is a percentage `minAvailable` of it rounded up, or `expectedPods − maxUnavailable` (a
//! percentage rounded up). An eviction of a healthy pod is refused when `currentHealthy − desiredHealthy`
//! (`disruptionsAllowed`) is below 1; evicting a pod that is not healthy is allowed while the budget holds
//! (`currentHealthy ≥ desiredHealthy`) or with `unhealthyPodEvictionPolicy: AlwaysAllow`.

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, ObjectMeta, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::controllers::kill_pod;
use super::pods::{is_active, is_running_and_ready, phase};
use super::state::State;
use crate::cluster::selector::LabelSelector;
use crate::cluster::{Kind, Object};
use crate::error::{Error, Result, object_key};
use crate::rolling;

/// The arithmetic of one budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Budget {
    expected: i32,
    healthy: i32,
    desired_healthy: i32,
    allowed: i32,
}

/// A budget's selector. A budget without one (or with one that does not convert) selects nothing.
fn selector(pdb: &PodDisruptionBudget) -> Option<LabelSelector> {
    LabelSelector::from_k8s(pdb.spec.as_ref()?.selector.as_ref()?).ok()
}

/// The uid and `spec.replicas` of the workload that scales a pod: its StatefulSet, its ReplicaSet's Deployment, or
/// a bare ReplicaSet.
fn controller_scale(st: &State, namespace: &str, meta: &ObjectMeta) -> Option<(String, i32)> {
    let owner = meta
        .owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true))?;
    match (
        owner.kind.as_str(),
        st.store.get(
            &Kind::from_type(&owner.api_version, &owner.kind)?,
            namespace,
            &owner.name,
        )?,
    ) {
        ("StatefulSet", Object::StatefulSet(s)) => {
            Some((owner.uid.clone(), s.spec.as_ref()?.replicas.unwrap_or(1)))
        }
        ("ReplicaSet", Object::ReplicaSet(rs)) => controller_scale(st, namespace, &rs.metadata)
            .or_else(|| Some((owner.uid.clone(), rs.spec.as_ref()?.replicas.unwrap_or(1)))),
        ("Deployment", Object::Deployment(d)) => {
            Some((owner.uid.clone(), d.spec.as_ref()?.replicas.unwrap_or(1)))
        }
        _ => None,
    }
}

/// Computes a budget against the pods of its namespace.
///
/// # Errors
/// [`Error::InvalidField`] for a `minAvailable`/`maxUnavailable` that does not parse.
fn budget(st: &State, pdb: &PodDisruptionBudget) -> Result<Budget> {
    let namespace = pdb.metadata.namespace.as_deref().unwrap_or("");
    let object = object_key(Some(namespace), pdb.metadata.name.as_deref().unwrap_or(""));
    let (mut pods, mut healthy) = (0_i32, 0_i32);
    let mut scales: BTreeMap<String, i32> = BTreeMap::new();
    let selector = selector(pdb);
    for o in st.store.iter_in(&Kind::Pod, Some(namespace)) {
        let Object::Pod(pod) = o else { continue };
        if is_active(pod)
            && selector
                .as_ref()
                .is_some_and(|s| s.matches_opt(pod.metadata.labels.as_ref()))
        {
            pods += 1;
            healthy += i32::from(is_running_and_ready(pod));
            match controller_scale(st, namespace, &pod.metadata) {
                Some((uid, scale)) => {
                    scales.insert(uid, scale);
                }
                None => {
                    scales.insert(
                        format!("pod/{}", pod.metadata.name.as_deref().unwrap_or("")),
                        1,
                    );
                }
            }
        }
    }
    let scale: i32 = scales.values().sum();
    let spec = pdb.spec.clone().unwrap_or_default();
    let (expected, desired_healthy) = match (&spec.min_available, &spec.max_unavailable) {
        (Some(IntOrString::Int(n)), _) => (pods, *n),
        (Some(min), _) => (
            scale,
            rolling::scaled_value(&object, "spec.minAvailable", min, scale, true)?,
        ),
        (None, Some(max)) => (
            scale,
            scale - rolling::scaled_value(&object, "spec.maxUnavailable", max, scale, true)?,
        ),
        (None, None) => (pods, 0),
    };
    let desired_healthy = desired_healthy.max(0);
    Ok(Budget {
        expected,
        healthy,
        desired_healthy,
        allowed: (healthy - desired_healthy).max(0),
    })
}

/// Evicts a pod, unless a budget forbids it.
pub(super) fn evict(st: &mut State, namespace: &str, name: &str) -> Result<()> {
    let Some(Object::Pod(pod)) = st.store.get(&Kind::Pod, namespace, name) else {
        return Err(Error::not_found("Pod", Some(namespace), name));
    };
    let pod_key = object_key(Some(namespace), name);
    // Pods that do not run (pending or finished) cannot disrupt anything: upstream evicts them without a budget.
    let runs = !matches!(phase(pod), "Pending" | "Succeeded" | "Failed");
    let healthy = is_running_and_ready(pod);
    let labels = pod.metadata.labels.clone();
    if runs {
        let budgets: Vec<PodDisruptionBudget> = st
            .store
            .iter_in(&Kind::PodDisruptionBudget, Some(namespace))
            .filter_map(|o| match o {
                Object::PodDisruptionBudget(p)
                    if selector(p).is_some_and(|s| s.matches_opt(labels.as_ref())) =>
                {
                    Some(p.clone())
                }
                _ => None,
            })
            .collect();
        if budgets.len() > 1 {
            let names: Vec<String> = budgets
                .iter()
                .filter_map(|b| b.metadata.name.clone())
                .collect();
            return Err(Error::DisruptionBudget {
                pod: pod_key,
                budget: object_key(Some(namespace), &names.join(",")),
                reason: "the pod has more than one PodDisruptionBudget, which the eviction subresource does not support"
                    .to_owned(),
            });
        }
        if let Some(pdb) = budgets.first() {
            let b = budget(st, pdb)?;
            let always = pdb
                .spec
                .as_ref()
                .and_then(|s| s.unhealthy_pod_eviction_policy.as_deref())
                == Some("AlwaysAllow");
            let allowed = if healthy {
                b.allowed >= 1
            } else {
                always || b.healthy >= b.desired_healthy
            };
            if !allowed {
                return Err(Error::DisruptionBudget {
                    pod: pod_key,
                    budget: object_key(Some(namespace), pdb.metadata.name.as_deref().unwrap_or("")),
                    reason: format!(
                        "needs {} healthy pods and has {} (disruptions allowed: {})",
                        b.desired_healthy, b.healthy, b.allowed
                    ),
                });
            }
        }
    }
    kill_pod(st, namespace, name);
    Ok(())
}

/// Recomputes every budget's status.
pub(super) fn update_statuses(st: &mut State, now: Timestamp) {
    for key in st.store.keys(&Kind::PodDisruptionBudget) {
        let Some(Object::PodDisruptionBudget(pdb)) =
            st.store.get(&Kind::PodDisruptionBudget, &key.0, &key.1)
        else {
            continue;
        };
        let Ok(b) = budget(st, pdb) else { continue };
        let old = pdb.status.clone().unwrap_or_default();
        let allowed = b.allowed > 0;
        let (status_text, reason) = if allowed {
            ("True", "SufficientPods")
        } else {
            ("False", "InsufficientPods")
        };
        let old_condition = old
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == "DisruptionAllowed");
        let condition = Condition {
            type_: "DisruptionAllowed".to_owned(),
            status: status_text.to_owned(),
            reason: reason.to_owned(),
            message: String::new(),
            observed_generation: pdb.metadata.generation,
            last_transition_time: match old_condition {
                Some(c) if c.status == status_text => c.last_transition_time.clone(),
                _ => Time(now),
            },
        };
        let status = PodDisruptionBudgetStatus {
            current_healthy: b.healthy,
            desired_healthy: b.desired_healthy,
            disruptions_allowed: b.allowed,
            expected_pods: b.expected,
            observed_generation: pdb.metadata.generation,
            conditions: Some(vec![condition]),
            disrupted_pods: None,
        };
        if pdb.status.as_ref() != Some(&status) {
            st.store
                .update(&Kind::PodDisruptionBudget, &key.0, &key.1, |o| {
                    if let Object::PodDisruptionBudget(p) = o {
                        p.status = Some(status);
                    }
                });
        }
    }
}
