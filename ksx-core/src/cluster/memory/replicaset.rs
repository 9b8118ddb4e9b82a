//! The ReplicaSet controller: keeps `spec.replicas` pods, named `<rs>-<5 random characters>`, deleting the least
//! useful pods first (unscheduled, then pending, then not Ready, then Ready for the shortest time), and reports
//! replicas / ready / available in the status.

use std::cmp::Reverse;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::ReplicaSetStatus;

use super::controllers::{
    controller_ref, create_pod, delete_pod, is_controlled_by, pod_from_template, workload_selector,
};
use super::pods::{is_active, is_available, is_ready, node_name, phase, ready_since, restarts};
use super::state::{Involved, State};
use super::store::Key;
use crate::cluster::{Kind, Object};

const COMPONENT: &str = "replicaset-controller";

/// Runs the controller over every ReplicaSet.
pub(super) fn sync_all(st: &mut State) {
    for key in st.store.keys(&Kind::ReplicaSet) {
        sync(st, &key);
    }
}

/// The order in which surplus pods go: smaller first.
type DeletionRank = (
    bool,
    u8,
    bool,
    Reverse<Option<Timestamp>>,
    Reverse<i32>,
    Reverse<Option<Timestamp>>,
    String,
);

fn sync(st: &mut State, key: &Key) {
    let Some(Object::ReplicaSet(rs)) = st.store.get(&Kind::ReplicaSet, &key.0, &key.1) else {
        return;
    };
    let Some(uid) = rs.metadata.uid.clone() else {
        return;
    };
    let Some(spec) = rs.spec.clone() else { return };
    let owner = Involved::new(Kind::ReplicaSet, &rs.metadata);
    let owner_ref = controller_ref(&Kind::ReplicaSet, &rs.metadata);
    let desired = usize::try_from(spec.replicas.unwrap_or(1)).unwrap_or(0);
    let mut ranked: Vec<DeletionRank> = st
        .store
        .dependents_of_kind(&uid, &Kind::Pod)
        .filter_map(|o| match o {
            Object::Pod(p) if is_controlled_by(&p.metadata, &uid) && is_active(p) => Some(p),
            _ => None,
        })
        .map(|p| {
            let phase_rank = match phase(p) {
                "Pending" => 0,
                "Running" => 2,
                _ => 1,
            };
            (
                node_name(p).is_some(),
                phase_rank,
                is_ready(p),
                Reverse(ready_since(p)),
                Reverse(restarts(p)),
                Reverse(p.metadata.creation_timestamp.as_ref().map(|t| t.0)),
                p.metadata.name.clone().unwrap_or_default(),
            )
        })
        .collect();
    if workload_selector(st, &owner, &spec.selector, COMPONENT).is_none() {
        return;
    }
    let Some(template) = spec.template else {
        return;
    };
    if ranked.len() < desired {
        for _ in ranked.len()..desired {
            let name = st.unique_name(&Kind::Pod, &key.0, &format!("{}-", key.1));
            let pod = pod_from_template(&template, &key.0, &name, owner_ref.clone(), &[]);
            create_pod(st, pod, &owner, format!("Created pod: {name}"), COMPONENT);
        }
    } else if ranked.len() > desired {
        let surplus = ranked.len() - desired;
        ranked.sort();
        for rank in ranked.into_iter().take(surplus) {
            let name = rank.6;
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
}

/// Recomputes every ReplicaSet's status from its pods.
pub(super) fn update_statuses(st: &mut State, now: Timestamp) {
    for key in st.store.keys(&Kind::ReplicaSet) {
        let Some(Object::ReplicaSet(rs)) = st.store.get(&Kind::ReplicaSet, &key.0, &key.1) else {
            continue;
        };
        let Some(uid) = rs.metadata.uid.as_deref() else {
            continue;
        };
        let min_ready = rs
            .spec
            .as_ref()
            .and_then(|s| s.min_ready_seconds)
            .unwrap_or(0);
        let (mut replicas, mut ready, mut available) = (0, 0, 0);
        for object in st.store.dependents_of_kind(uid, &Kind::Pod) {
            let Object::Pod(p) = object else { continue };
            if !is_controlled_by(&p.metadata, uid) || !is_active(p) {
                continue;
            }
            replicas += 1;
            ready += i32::from(is_ready(p));
            available += i32::from(is_available(p, min_ready, now));
        }
        let status = ReplicaSetStatus {
            replicas,
            fully_labeled_replicas: Some(replicas),
            ready_replicas: Some(ready),
            available_replicas: Some(available),
            observed_generation: rs.metadata.generation,
            conditions: rs.status.as_ref().and_then(|s| s.conditions.clone()),
            terminating_replicas: None,
        };
        if rs.status.as_ref() != Some(&status) {
            st.store.update(&Kind::ReplicaSet, &key.0, &key.1, |o| {
                if let Object::ReplicaSet(rs) = o {
                    rs.status = Some(status);
                }
            });
        }
    }
}
