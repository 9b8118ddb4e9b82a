//! The controller loop of the in-memory cluster and what its controllers share: template hashes, owner
//! references, pods from templates, pod deletion with events.
//!
//! One [`reconcile`] pass runs, in order: ReplicaSet status (so the Deployment controller sees pods as they are),
//! the Deployment, ReplicaSet, StatefulSet and DaemonSet controllers, the scheduler, the kubelet, the
//! EndpointSlice controller, and finally the status of every workload and PodDisruptionBudget.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Pod, PodStatus, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector as K8sSelector, ObjectMeta, OwnerReference,
};
use serde::Serialize;

use super::pods::node_name;
use super::state::{EventType, Involved, State};
use super::{
    daemonset, deployment, endpointslice, eviction, replicaset, scheduler, sim, statefulset,
};
use crate::cluster::selector::LabelSelector;
use crate::cluster::{Kind, Object};

/// Runs every controller once at the current simulated time.
pub(super) fn reconcile(st: &mut State) {
    let now = st.now();
    replicaset::update_statuses(st, now);
    deployment::sync_all(st, now);
    replicaset::sync_all(st);
    statefulset::sync_all(st);
    daemonset::sync_all(st, now);
    scheduler::schedule(st, now);
    sim::run_kubelet(st, now);
    endpointslice::sync_all(st);
    replicaset::update_statuses(st, now);
    deployment::update_statuses(st, now);
    statefulset::update_statuses(st, now);
    daemonset::update_statuses(st, now);
    eviction::update_statuses(st, now);
}

/// The characters Kubernetes uses for hashes in names (no vowels, so no words).
const SAFE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// A short, stable hash of a value (FNV-1a over its JSON, plus a collision count), spelled with the safe
/// alphabet as Kubernetes spells `pod-template-hash`.
pub(super) fn template_hash(value: &impl Serialize, collision_count: u32) -> String {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    let mut hash: u32 = 0x811c_9dc5;
    for b in bytes.iter().chain(collision_count.to_le_bytes().iter()) {
        hash ^= u32::from(*b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash.to_string()
        .bytes()
        .map(|digit| {
            let i = usize::from(digit) % SAFE_ALPHABET.len();
            char::from(SAFE_ALPHABET.get(i).copied().unwrap_or(b'x'))
        })
        .collect()
}

/// A controller owner reference to the object of `kind` with metadata `meta`.
pub(super) fn controller_ref(kind: &Kind, meta: &ObjectMeta) -> OwnerReference {
    OwnerReference {
        api_version: kind.api_version(),
        kind: kind.name().to_owned(),
        name: meta.name.clone().unwrap_or_default(),
        uid: meta.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// Whether `meta` names `uid` as its controller.
pub(super) fn is_controlled_by(meta: &ObjectMeta, uid: &str) -> bool {
    meta.owner_references
        .iter()
        .flatten()
        .any(|r| r.controller == Some(true) && r.uid == uid)
}

/// The labels of a pod template.
pub(super) fn template_labels(template: &PodTemplateSpec) -> BTreeMap<String, String> {
    template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default()
}

/// A new pod from a template: labels and annotations copied (plus `extra_labels`), controlled by `owner`, Pending.
pub(super) fn pod_from_template(
    template: &PodTemplateSpec,
    namespace: &str,
    name: &str,
    owner: OwnerReference,
    extra_labels: &[(&str, &str)],
) -> Pod {
    let mut labels = template_labels(template);
    for (k, v) in extra_labels {
        labels.insert((*k).to_owned(), (*v).to_owned());
    }
    let annotations = template
        .metadata
        .as_ref()
        .and_then(|m| m.annotations.clone());
    Pod {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(namespace.to_owned()),
            labels: (!labels.is_empty()).then_some(labels),
            annotations,
            owner_references: Some(vec![owner]),
            ..ObjectMeta::default()
        },
        spec: template.spec.clone(),
        status: Some(PodStatus {
            phase: Some("Pending".to_owned()),
            ..PodStatus::default()
        }),
    }
}

/// Creates a pod (its name must be free) and records `SuccessfulCreate` on its owner.
pub(super) fn create_pod(
    st: &mut State,
    pod: Pod,
    owner: &Involved,
    message: String,
    component: &str,
) {
    st.insert_new(Object::Pod(pod));
    st.record_event(
        owner,
        EventType::Normal,
        "SuccessfulCreate",
        message,
        component,
    );
}

/// Deletes a pod: `Killing` events for its containers if it ran, `SuccessfulDelete` on its owner.
pub(super) fn delete_pod(
    st: &mut State,
    namespace: &str,
    name: &str,
    owner: &Involved,
    message: String,
    component: &str,
) {
    if kill_pod(st, namespace, name) {
        st.record_event(
            owner,
            EventType::Normal,
            "SuccessfulDelete",
            message,
            component,
        );
    }
}

/// Removes a pod, with `Killing` events for its containers if it ran. Returns whether it existed.
pub(super) fn kill_pod(st: &mut State, namespace: &str, name: &str) -> bool {
    let Some(Object::Pod(pod)) = st.store.get(&Kind::Pod, namespace, name) else {
        return false;
    };
    let started = node_name(pod).is_some();
    let involved = Involved::new(Kind::Pod, &pod.metadata);
    let containers = super::pods::container_names(pod);
    if started {
        for c in containers {
            st.record_event(
                &involved,
                EventType::Normal,
                "Killing",
                format!("Stopping container {c}"),
                "kubelet",
            );
        }
    }
    st.remove(&Kind::Pod, namespace, name).is_some()
}

/// Converts a workload's selector; a selector that does not convert (or is empty, which would select every pod)
/// is reported as a Warning event on the workload and the workload is skipped.
pub(super) fn workload_selector(
    st: &mut State,
    owner: &Involved,
    selector: &K8sSelector,
    component: &str,
) -> Option<LabelSelector> {
    match LabelSelector::from_k8s(selector) {
        Ok(s) if !s.is_empty() => Some(s),
        Ok(_) => {
            let message = "spec.selector is empty: it would select every pod".to_owned();
            st.record_event(
                owner,
                EventType::Warning,
                "InvalidSelector",
                message,
                component,
            );
            None
        }
        Err(e) => {
            st.record_event(
                owner,
                EventType::Warning,
                "InvalidSelector",
                e.to_string(),
                component,
            );
            None
        }
    }
}

/// The pods a workload controls, as `(name, pod)` clones, ordered by name.
pub(super) fn controlled_pods(st: &State, uid: &str) -> Vec<Pod> {
    st.store
        .dependents_of_kind(uid, &Kind::Pod)
        .filter_map(|o| match o {
            Object::Pod(p) if is_controlled_by(&p.metadata, uid) => Some(p.clone()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_hash_is_stable_and_safe() {
        let t = PodTemplateSpec::default();
        let a = template_hash(&t, 0);
        assert_eq!(a, template_hash(&t, 0));
        assert_ne!(a, template_hash(&t, 1));
        assert!(a.bytes().all(|b| SAFE_ALPHABET.contains(&b)));
        assert!(!a.is_empty());
    }
}
