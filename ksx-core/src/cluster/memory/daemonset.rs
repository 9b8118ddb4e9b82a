//! The DaemonSet controller (simple): one pod per node that matches the template's nodeSelector and whose
//! `NoSchedule`/`NoExecute` taints the template tolerates (DaemonSet pods also tolerate cordoned and not-ready
//! nodes, as upstream adds those tolerations). Pods are bound straight to their node. Template changes roll out
//! under `maxUnavailable` (default 1), unavailable outdated pods first.

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetSpec, DaemonSetStatus};
use k8s_openapi::api::core::v1::{Pod, Toleration};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::controllers::{
    controlled_pods, controller_ref, create_pod, delete_pod, pod_from_template, template_hash,
    workload_selector,
};
use super::pods::{is_active, is_available, is_ready, node_name};
use super::scheduler::{effective_taints, selector_matches, untolerated};
use super::state::{EventType, Involved, State};
use super::statefulset::REVISION_LABEL;
use super::store::Key;
use crate::cluster::{Kind, Object};
use crate::error::object_key;
use crate::rolling;

const COMPONENT: &str = "daemonset-controller";

/// The tolerations upstream adds to every DaemonSet pod.
fn daemon_tolerations(spec: &DaemonSetSpec) -> Vec<Toleration> {
    let mut tolerations = spec
        .template
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.clone())
        .unwrap_or_default();
    for (key, effect) in [
        ("node.kubernetes.io/not-ready", "NoExecute"),
        ("node.kubernetes.io/not-ready", "NoSchedule"),
        ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/unschedulable", "NoSchedule"),
        ("node.kubernetes.io/disk-pressure", "NoSchedule"),
        ("node.kubernetes.io/memory-pressure", "NoSchedule"),
        ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ] {
        tolerations.push(Toleration {
            key: Some(key.to_owned()),
            operator: Some("Exists".to_owned()),
            effect: Some(effect.to_owned()),
            ..Toleration::default()
        });
    }
    tolerations
}

/// The nodes that should run a pod of this DaemonSet, ordered by name.
fn eligible_nodes(st: &State, spec: &DaemonSetSpec) -> Vec<String> {
    let tolerations = daemon_tolerations(spec);
    let node_selector = spec
        .template
        .spec
        .as_ref()
        .and_then(|s| s.node_selector.as_ref());
    st.store
        .iter(&Kind::Node)
        .filter_map(|o| match o {
            Object::Node(n) => Some(n),
            _ => None,
        })
        .filter(|n| {
            selector_matches(node_selector, n)
                && untolerated(&effective_taints(n), &tolerations).is_none()
        })
        .map(|n| n.metadata.name.clone().unwrap_or_default())
        .collect()
}

fn hash_of(pod: &Pod) -> Option<&str> {
    pod.metadata
        .labels
        .as_ref()?
        .get(REVISION_LABEL)
        .map(String::as_str)
}

/// Runs the controller over every DaemonSet.
pub(super) fn sync_all(st: &mut State, now: Timestamp) {
    for key in st.store.keys(&Kind::DaemonSet) {
        sync(st, &key, now);
    }
}

fn sync(st: &mut State, key: &Key, now: Timestamp) {
    let Some(Object::DaemonSet(ds)) = st.store.get(&Kind::DaemonSet, &key.0, &key.1).cloned()
    else {
        return;
    };
    let Some(uid) = ds.metadata.uid.clone() else {
        return;
    };
    let spec = ds.spec.clone().unwrap_or_default();
    let owner = Involved::new(Kind::DaemonSet, &ds.metadata);
    if workload_selector(st, &owner, &spec.selector, COMPONENT).is_none() {
        return;
    }
    let hash = template_hash(&spec.template, 0);
    let eligible = eligible_nodes(st, &spec);
    let mut by_node: BTreeMap<String, Vec<Pod>> = BTreeMap::new();
    let mut stray = Vec::new();
    for pod in controlled_pods(st, &uid).into_iter().filter(is_active) {
        match node_name(&pod).map(str::to_owned) {
            Some(node) if eligible.contains(&node) => by_node.entry(node).or_default().push(pod),
            _ => stray.push(pod),
        }
    }
    for pod in stray
        .iter()
        .chain(by_node.values().flat_map(|pods| pods.iter().skip(1)))
    {
        let name = pod.metadata.name.clone().unwrap_or_default();
        delete_pod(
            st,
            &key.0,
            &name,
            &owner,
            format!("Deleted pod: {name}"),
            COMPONENT,
        );
    }
    for node in &eligible {
        if !by_node.contains_key(node) {
            create(st, key, &ds, node, &hash);
        }
    }

    if spec
        .update_strategy
        .as_ref()
        .and_then(|s| s.type_.as_deref())
        == Some("OnDelete")
    {
        return;
    }
    let object = object_key(Some(&key.0), &key.1);
    let one = IntOrString::Int(1);
    let value = spec
        .update_strategy
        .as_ref()
        .and_then(|s| s.rolling_update.as_ref())
        .and_then(|r| r.max_unavailable.as_ref())
        .unwrap_or(&one);
    let desired = i32::try_from(eligible.len()).unwrap_or(i32::MAX);
    let field = "spec.updateStrategy.rollingUpdate.maxUnavailable";
    let max_unavailable = match rolling::scaled_value(&object, field, value, desired, true) {
        Ok(n) => n.max(1),
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
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    let current: Vec<&Pod> = by_node.values().filter_map(|pods| pods.first()).collect();
    let unavailable = current
        .iter()
        .filter(|p| !is_available(p, min_ready, now))
        .count();
    let mut budget = usize::try_from(max_unavailable)
        .unwrap_or(1)
        .saturating_sub(unavailable);
    let mut outdated: Vec<(bool, String)> = current
        .iter()
        .filter(|p| hash_of(p) != Some(hash.as_str()))
        .map(|p| {
            (
                is_available(p, min_ready, now),
                p.metadata.name.clone().unwrap_or_default(),
            )
        })
        .collect();
    outdated.sort();
    for (available, name) in outdated {
        if available {
            if budget == 0 {
                break;
            }
            budget -= 1;
        }
        delete_pod(
            st,
            &key.0,
            &name,
            &owner,
            format!("Deleted pod: {name}"),
            COMPONENT,
        );
    }
}

/// Creates the DaemonSet's pod on `node`.
fn create(st: &mut State, key: &Key, ds: &DaemonSet, node: &str, hash: &str) {
    let spec = ds.spec.clone().unwrap_or_default();
    let name = st.unique_name(&Kind::Pod, &key.0, &format!("{}-", key.1));
    let mut pod = pod_from_template(
        &spec.template,
        &key.0,
        &name,
        controller_ref(&Kind::DaemonSet, &ds.metadata),
        &[(REVISION_LABEL, hash)],
    );
    let pod_spec = pod.spec.get_or_insert_default();
    pod_spec.node_name = Some(node.to_owned());
    pod_spec.tolerations = Some(daemon_tolerations(&spec));
    let owner = Involved::new(Kind::DaemonSet, &ds.metadata);
    let pod_ref = Involved::new(Kind::Pod, &pod.metadata);
    create_pod(st, pod, &owner, format!("Created pod: {name}"), COMPONENT);
    let message = format!("Successfully assigned {}/{name} to {node}", key.0);
    st.record_event(
        &pod_ref,
        EventType::Normal,
        "Scheduled",
        message,
        "default-scheduler",
    );
}

/// Recomputes every DaemonSet's status from its pods and the nodes.
pub(super) fn update_statuses(st: &mut State, now: Timestamp) {
    for key in st.store.keys(&Kind::DaemonSet) {
        let Some(Object::DaemonSet(ds)) = st.store.get(&Kind::DaemonSet, &key.0, &key.1) else {
            continue;
        };
        let Some(uid) = ds.metadata.uid.clone() else {
            continue;
        };
        let spec = ds.spec.clone().unwrap_or_default();
        let old = ds.status.clone().unwrap_or_default();
        let generation = ds.metadata.generation;
        let hash = template_hash(&spec.template, 0);
        let eligible = eligible_nodes(st, &spec);
        let min_ready = spec.min_ready_seconds.unwrap_or(0);
        let pods: Vec<Pod> = controlled_pods(st, &uid)
            .into_iter()
            .filter(is_active)
            .collect();
        let on_eligible = |p: &&Pod| node_name(p).is_some_and(|n| eligible.iter().any(|e| e == n));
        let count = |f: &dyn Fn(&Pod) -> bool| {
            i32::try_from(pods.iter().filter(on_eligible).filter(|p| f(p)).count())
                .unwrap_or(i32::MAX)
        };
        let desired = i32::try_from(eligible.len()).unwrap_or(i32::MAX);
        let scheduled = count(&|_| true);
        let available = count(&|p| is_available(p, min_ready, now));
        let status = DaemonSetStatus {
            desired_number_scheduled: desired,
            current_number_scheduled: scheduled,
            number_misscheduled: i32::try_from(pods.len()).unwrap_or(i32::MAX) - scheduled,
            number_ready: count(&is_ready),
            number_available: Some(available),
            number_unavailable: Some((desired - available).max(0)),
            updated_number_scheduled: Some(count(&|p| hash_of(p) == Some(hash.as_str()))),
            observed_generation: generation,
            collision_count: old.collision_count,
            conditions: old.conditions.clone(),
        };
        if ds.status.as_ref() != Some(&status) {
            st.store.update(&Kind::DaemonSet, &key.0, &key.1, |o| {
                if let Object::DaemonSet(d) = o {
                    d.status = Some(status);
                }
            });
        }
    }
}
