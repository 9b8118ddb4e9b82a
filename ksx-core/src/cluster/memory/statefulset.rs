//! The StatefulSet controller: pods `<sts>-<ordinal>` created in order (each waits for the one before to be Running
//! and Ready, unless `podManagementPolicy: Parallel`), removed from the highest ordinal, and rolled from the highest
//! ordinal down to `partition` with [`crate::rolling::statefulset_pods_to_update`]. Pods carry the
//! `controller-revision-hash` label; the status reports `currentRevision` and `updateRevision`.

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec, StatefulSetStatus};
use k8s_openapi::api::core::v1::Pod;

use super::controllers::{
    controlled_pods, controller_ref, create_pod, delete_pod, pod_from_template, template_hash,
    workload_selector,
};
use super::pods::{is_active, is_available, is_ready, is_running_and_ready};
use super::state::{EventType, Involved, State};
use super::store::Key;
use crate::cluster::{Kind, Object};
use crate::error::object_key;
use crate::rolling::{self, OrdinalState};

const COMPONENT: &str = "statefulset-controller";
/// The label holding the revision a pod was created from.
pub(super) const REVISION_LABEL: &str = "controller-revision-hash";

/// The update revision of a StatefulSet: `<name>-<hash of the template>`.
fn update_revision(name: &str, spec: &StatefulSetSpec) -> String {
    format!("{name}-{}", template_hash(&spec.template, 0))
}

fn revision_of(pod: &Pod) -> Option<&str> {
    pod.metadata
        .labels
        .as_ref()?
        .get(REVISION_LABEL)
        .map(String::as_str)
}

/// The StatefulSet's pods by ordinal.
fn pods_by_ordinal(st: &State, uid: &str, name: &str) -> BTreeMap<i32, Pod> {
    let prefix = format!("{name}-");
    controlled_pods(st, uid)
        .into_iter()
        .filter(is_active)
        .filter_map(|p| {
            let ordinal = p
                .metadata
                .name
                .as_deref()?
                .strip_prefix(&prefix)?
                .parse()
                .ok()?;
            Some((ordinal, p))
        })
        .collect()
}

fn is_rolling(spec: &StatefulSetSpec) -> bool {
    spec.update_strategy
        .as_ref()
        .and_then(|s| s.type_.as_deref())
        != Some("OnDelete")
}

/// Runs the controller over every StatefulSet.
pub(super) fn sync_all(st: &mut State) {
    for key in st.store.keys(&Kind::StatefulSet) {
        sync(st, &key);
    }
}

fn sync(st: &mut State, key: &Key) {
    let Some(Object::StatefulSet(sts)) = st.store.get(&Kind::StatefulSet, &key.0, &key.1).cloned()
    else {
        return;
    };
    let Some(uid) = sts.metadata.uid.clone() else {
        return;
    };
    let spec = sts.spec.clone().unwrap_or_default();
    let owner = Involved::new(Kind::StatefulSet, &sts.metadata);
    if workload_selector(st, &owner, &spec.selector, COMPONENT).is_none() {
        return;
    }
    let replicas = spec.replicas.unwrap_or(1).max(0);
    let update_rev = update_revision(&key.1, &spec);
    let current_rev = sts
        .status
        .as_ref()
        .and_then(|s| s.current_revision.clone())
        .unwrap_or_else(|| update_rev.clone());
    let revisions = st.sts_revisions.entry(key.clone()).or_default();
    revisions.insert(update_rev.clone(), spec.template.clone());
    revisions.retain(|rev, _| *rev == update_rev || *rev == current_rev);
    let rolling_update = spec
        .update_strategy
        .as_ref()
        .and_then(|s| s.rolling_update.as_ref());
    let partition = rolling_update
        .and_then(|r| r.partition)
        .unwrap_or(0)
        .clamp(0, replicas);
    let parallel = spec.pod_management_policy.as_deref() == Some("Parallel");
    let pods = pods_by_ordinal(st, &uid, &key.1);

    let mut missing = false;
    for ordinal in 0..replicas {
        match pods.get(&ordinal) {
            None => {
                missing = true;
                let revision = if is_rolling(&spec) && ordinal < partition {
                    &current_rev
                } else {
                    &update_rev
                };
                create(st, key, &sts, ordinal, revision);
                if !parallel {
                    return;
                }
            }
            Some(pod) if !parallel && !is_running_and_ready(pod) => return,
            Some(_) => {}
        }
    }

    let all_healthy = (0..replicas).all(|o| pods.get(&o).is_some_and(is_running_and_ready));
    for pod in pods.range(replicas..).rev().map(|(_, pod)| pod) {
        if !parallel && !all_healthy {
            return;
        }
        let name = pod.metadata.name.clone().unwrap_or_default();
        let message = format!("delete Pod {name} in StatefulSet {} successful", key.1);
        delete_pod(st, &key.0, &name, &owner, message, COMPONENT);
        if !parallel {
            return;
        }
    }

    if !is_rolling(&spec) || missing {
        return;
    }
    let object = object_key(Some(&key.0), &key.1);
    let max_unavailable = match rolling::statefulset_max_unavailable(
        &object,
        rolling_update.and_then(|r| r.max_unavailable.as_ref()),
        replicas,
    ) {
        Ok(n) => n,
        Err(e) => {
            st.record_event(
                &owner,
                EventType::Warning,
                "InvalidStrategy",
                e.to_string(),
                COMPONENT,
            );
            return;
        }
    };
    let states: Vec<OrdinalState> = (0..replicas)
        .map(|o| {
            let pod = pods.get(&o);
            OrdinalState {
                updated: pod.and_then(revision_of) == Some(update_rev.as_str()),
                healthy: pod.is_some_and(is_running_and_ready),
            }
        })
        .collect();
    for ordinal in rolling::statefulset_pods_to_update(&states, partition, max_unavailable) {
        let name = format!("{}-{ordinal}", key.1);
        let message = format!("delete Pod {name} in StatefulSet {} successful", key.1);
        delete_pod(st, &key.0, &name, &owner, message, COMPONENT);
    }
}

/// Creates the pod of one ordinal from the template of `revision`.
fn create(st: &mut State, key: &Key, sts: &StatefulSet, ordinal: i32, revision: &str) {
    let spec = sts.spec.clone().unwrap_or_default();
    let template = st
        .sts_revisions
        .get(key)
        .and_then(|r| r.get(revision))
        .cloned()
        .unwrap_or_else(|| spec.template.clone());
    let name = format!("{}-{ordinal}", key.1);
    if st.store.contains(&Kind::Pod, &key.0, &name) {
        // A pod of that name that this StatefulSet does not control (or one being replaced) blocks the ordinal.
        return;
    }
    let ordinal_text = ordinal.to_string();
    let extra = [
        (REVISION_LABEL, revision),
        ("statefulset.kubernetes.io/pod-name", name.as_str()),
        ("apps.kubernetes.io/pod-index", ordinal_text.as_str()),
    ];
    let mut pod = pod_from_template(
        &template,
        &key.0,
        &name,
        controller_ref(&Kind::StatefulSet, &sts.metadata),
        &extra,
    );
    if let Some(pod_spec) = pod.spec.as_mut() {
        pod_spec.hostname = Some(name.clone());
        pod_spec.subdomain = spec.service_name.clone();
    }
    let owner = Involved::new(Kind::StatefulSet, &sts.metadata);
    let message = format!("create Pod {name} in StatefulSet {} successful", key.1);
    create_pod(st, pod, &owner, message, COMPONENT);
}

/// Recomputes every StatefulSet's status from its pods.
pub(super) fn update_statuses(st: &mut State, now: Timestamp) {
    for key in st.store.keys(&Kind::StatefulSet) {
        let Some(Object::StatefulSet(sts)) = st.store.get(&Kind::StatefulSet, &key.0, &key.1)
        else {
            continue;
        };
        let Some(uid) = sts.metadata.uid.clone() else {
            continue;
        };
        let spec = sts.spec.clone().unwrap_or_default();
        let desired = spec.replicas.unwrap_or(1).max(0);
        let update_rev = update_revision(&key.1, &spec);
        let old = sts.status.clone().unwrap_or_default();
        let mut current_rev = old
            .current_revision
            .clone()
            .unwrap_or_else(|| update_rev.clone());
        let min_ready = spec.min_ready_seconds.unwrap_or(0);
        let pods = pods_by_ordinal(st, &uid, &key.1);
        let count = |f: &dyn Fn(&Pod) -> bool| {
            i32::try_from(pods.values().filter(|p| f(p)).count()).unwrap_or(i32::MAX)
        };
        let replicas = count(&|_| true);
        let ready = count(&is_ready);
        let available = count(&|p| is_available(p, min_ready, now));
        let updated = count(&|p| revision_of(p) == Some(update_rev.as_str()));
        let mut current = count(&|p| revision_of(p) == Some(current_rev.as_str()));
        if updated == desired && ready == desired && replicas == desired {
            current_rev.clone_from(&update_rev);
            current = updated;
        }
        let status = StatefulSetStatus {
            replicas,
            ready_replicas: Some(ready),
            available_replicas: Some(available),
            current_replicas: Some(current),
            updated_replicas: Some(updated),
            current_revision: Some(current_rev),
            update_revision: Some(update_rev),
            observed_generation: sts.metadata.generation,
            collision_count: old.collision_count,
            conditions: old.conditions.clone(),
        };
        if sts.status.as_ref() != Some(&status) {
            st.store.update(&Kind::StatefulSet, &key.0, &key.1, |o| {
                if let Object::StatefulSet(s) = o {
                    s.status = Some(status);
                }
            });
        }
    }
}
