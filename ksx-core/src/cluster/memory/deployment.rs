//! The Deployment controller: one ReplicaSet per pod template (`<deployment>-<pod-template-hash>`), rolled with
//! the arithmetic of [`crate::rolling`] (RollingUpdate) or all at once (Recreate), with status, conditions
//! (Available, Progressing with its deadline) and revision history cleanup.

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentCondition, DeploymentSpec, DeploymentStatus, ReplicaSet, ReplicaSetSpec,
};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

use super::controllers::{controller_ref, is_controlled_by, template_hash, workload_selector};
use super::pods::after_secs;
use super::state::{EventType, Involved, State};
use super::store::Key;
use crate::cluster::{Kind, Object};
use crate::error::object_key;
use crate::rolling::{self, Fenceposts, ReplicaSetCounts};

const COMPONENT: &str = "deployment-controller";
/// The annotation holding a ReplicaSet's (and its Deployment's) revision.
pub(super) const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";
/// The label that ties a ReplicaSet's pods to its template.
pub(super) const HASH_LABEL: &str = "pod-template-hash";

/// What the controller needs to know about one ReplicaSet of a Deployment.
#[derive(Debug, Clone)]
struct RsInfo {
    name: String,
    revision: i64,
    /// `spec.replicas`.
    replicas: i32,
    /// `status.replicas` (pods that exist).
    pods: i32,
    ready: i32,
    available: i32,
    min_ready_seconds: Option<i32>,
    template: PodTemplateSpec,
}

impl RsInfo {
    fn counts(&self) -> ReplicaSetCounts {
        ReplicaSetCounts {
            replicas: self.replicas,
            available: self.available,
        }
    }
}

/// The template without the hash label, to compare with the Deployment's.
fn without_hash(template: &PodTemplateSpec) -> PodTemplateSpec {
    let mut t = template.clone();
    if let Some(labels) = t.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        labels.remove(HASH_LABEL);
    }
    t
}

/// The Deployment's ReplicaSets, oldest first, and the index of the one running its current template.
fn replica_sets(st: &State, uid: &str, template: &PodTemplateSpec) -> (Vec<RsInfo>, Option<usize>) {
    let mut list: Vec<(Option<Timestamp>, RsInfo)> = st
        .store
        .dependents_of_kind(uid, &Kind::ReplicaSet)
        .filter_map(|o| match o {
            Object::ReplicaSet(rs) if is_controlled_by(&rs.metadata, uid) => Some(rs),
            _ => None,
        })
        .map(|rs| {
            let spec = rs.spec.as_ref();
            let status = rs.status.as_ref();
            let info = RsInfo {
                name: rs.metadata.name.clone().unwrap_or_default(),
                revision: revision(&rs.metadata),
                replicas: spec.and_then(|s| s.replicas).unwrap_or(0),
                pods: status.map_or(0, |s| s.replicas),
                ready: status.and_then(|s| s.ready_replicas).unwrap_or(0),
                available: status.and_then(|s| s.available_replicas).unwrap_or(0),
                min_ready_seconds: spec.and_then(|s| s.min_ready_seconds),
                template: spec.and_then(|s| s.template.clone()).unwrap_or_default(),
            };
            (rs.metadata.creation_timestamp.as_ref().map(|t| t.0), info)
        })
        .collect();
    list.sort_by(|a, b| (a.0, &a.1.name).cmp(&(b.0, &b.1.name)));
    let list: Vec<RsInfo> = list.into_iter().map(|(_, info)| info).collect();
    let new = list
        .iter()
        .position(|rs| without_hash(&rs.template) == *template);
    (list, new)
}

fn revision(meta: &ObjectMeta) -> i64 {
    meta.annotations
        .as_ref()
        .and_then(|a| a.get(REVISION_ANNOTATION))
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

/// The fenceposts of a RollingUpdate Deployment, with the API-server defaults (25 %) for missing values.
fn fenceposts(object: &str, spec: &DeploymentSpec, desired: i32) -> crate::Result<Fenceposts> {
    let rolling = spec
        .strategy
        .as_ref()
        .and_then(|s| s.rolling_update.as_ref());
    let default = rolling::default_deployment_fencepost();
    let surge = rolling
        .and_then(|r| r.max_surge.as_ref())
        .unwrap_or(&default);
    let unavailable = rolling
        .and_then(|r| r.max_unavailable.as_ref())
        .unwrap_or(&default);
    rolling::resolve_fenceposts(object, Some(surge), Some(unavailable), desired)
}

fn is_recreate(spec: &DeploymentSpec) -> bool {
    spec.strategy.as_ref().and_then(|s| s.type_.as_deref()) == Some("Recreate")
}

/// Runs the controller over every Deployment.
pub(super) fn sync_all(st: &mut State, now: Timestamp) {
    for key in st.store.keys(&Kind::Deployment) {
        sync(st, &key, now);
    }
}

fn sync(st: &mut State, key: &Key, now: Timestamp) {
    let Some(Object::Deployment(d)) = st.store.get(&Kind::Deployment, &key.0, &key.1).cloned()
    else {
        return;
    };
    let Some(uid) = d.metadata.uid.clone() else {
        return;
    };
    let spec = d.spec.clone().unwrap_or_default();
    let owner = Involved::new(Kind::Deployment, &d.metadata);
    if workload_selector(st, &owner, &spec.selector, COMPONENT).is_none()
        || spec.paused == Some(true)
    {
        return;
    }
    let object = object_key(Some(&key.0), &key.1);
    let desired = spec.replicas.unwrap_or(1).max(0);
    let (rss, new_index) = replica_sets(st, &uid, &spec.template);
    let max_old_revision = rss
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != new_index)
        .map(|(_, rs)| rs.revision)
        .max()
        .unwrap_or(0);

    // A template that matches an older ReplicaSet (a rollback) makes that ReplicaSet the newest revision.
    if let Some(rs) = new_index.and_then(|i| rss.get(i))
        && rs.revision <= max_old_revision
    {
        let next = (max_old_revision + 1).to_string();
        st.store.update(&Kind::ReplicaSet, &key.0, &rs.name, |o| {
            o.metadata_mut()
                .annotations
                .get_or_insert_with(BTreeMap::new)
                .insert(REVISION_ANNOTATION.to_owned(), next);
        });
        let message = format!("Found new replica set \"{}\"", rs.name);
        set_progressing(st, key, "FoundNewReplicaSet", &message, now);
    }

    // minReadySeconds follows the Deployment onto its ReplicaSets, which count availability with it.
    for rs in &rss {
        if rs.min_ready_seconds != spec.min_ready_seconds {
            st.store.update(&Kind::ReplicaSet, &key.0, &rs.name, |o| {
                if let Object::ReplicaSet(r) = o {
                    r.spec.get_or_insert_default().min_ready_seconds = spec.min_ready_seconds;
                }
            });
        }
    }

    if is_recreate(&spec) {
        recreate(st, key, &d, &rss, new_index, desired, max_old_revision, now);
    } else {
        let fence = match fenceposts(&object, &spec, desired) {
            Ok(f) => f,
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
        roll(
            st,
            key,
            &d,
            &rss,
            new_index,
            desired,
            fence,
            max_old_revision,
            now,
        );
    }
    cleanup_history(st, key, &spec, &rss, new_index);
}

#[allow(
    clippy::too_many_arguments,
    reason = "one step of the sync loop, split out for readability"
)]
fn roll(
    st: &mut State,
    key: &Key,
    d: &Deployment,
    rss: &[RsInfo],
    new_index: Option<usize>,
    desired: i32,
    fence: Fenceposts,
    max_old_revision: i64,
    now: Timestamp,
) {
    let owner = Involved::new(Kind::Deployment, &d.metadata);
    let all: i32 = rss.iter().map(|rs| rs.replicas).sum();
    let Some(new) = new_index.and_then(|i| rss.get(i)) else {
        let replicas = rolling::new_replica_set_replicas(desired, fence.surge, all, 0);
        create_replica_set(st, key, d, replicas, max_old_revision + 1, now);
        return;
    };
    let target = rolling::new_replica_set_replicas(desired, fence.surge, all, new.replicas);
    if target != new.replicas {
        scale(st, &owner, &key.0, &new.name, new.replicas, target);
        return;
    }
    let old: Vec<&RsInfo> = rss
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != new_index)
        .map(|(_, rs)| rs)
        .collect();
    let counts: Vec<ReplicaSetCounts> = old.iter().map(|rs| rs.counts()).collect();
    let max_unavailable = rolling::max_unavailable(desired, fence);
    let plan =
        rolling::scale_down_old_replica_sets(desired, max_unavailable, new.counts(), &counts);
    for (rs, target) in old.iter().zip(&plan.replicas) {
        if *target != rs.replicas {
            scale(st, &owner, &key.0, &rs.name, rs.replicas, *target);
        }
    }
}

#[allow(
    clippy::too_many_arguments,
    reason = "one step of the sync loop, split out for readability"
)]
fn recreate(
    st: &mut State,
    key: &Key,
    d: &Deployment,
    rss: &[RsInfo],
    new_index: Option<usize>,
    desired: i32,
    max_old_revision: i64,
    now: Timestamp,
) {
    let owner = Involved::new(Kind::Deployment, &d.metadata);
    let old = rss
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != new_index)
        .map(|(_, rs)| rs);
    let mut waiting = false;
    for rs in old {
        if rs.replicas > 0 {
            scale(st, &owner, &key.0, &rs.name, rs.replicas, 0);
            waiting = true;
        }
        waiting |= rs.pods > 0;
    }
    if waiting {
        return;
    }
    match new_index.and_then(|i| rss.get(i)) {
        None => create_replica_set(st, key, d, desired, max_old_revision + 1, now),
        Some(new) if new.replicas != desired => {
            scale(st, &owner, &key.0, &new.name, new.replicas, desired);
        }
        Some(_) => {}
    }
}

/// Sets a ReplicaSet's `spec.replicas` and records `ScalingReplicaSet` on the Deployment.
fn scale(st: &mut State, owner: &Involved, namespace: &str, rs: &str, from: i32, to: i32) {
    st.store.update(&Kind::ReplicaSet, namespace, rs, |o| {
        if let Object::ReplicaSet(rs) = o {
            rs.spec.get_or_insert_default().replicas = Some(to);
            rs.metadata.generation = Some(rs.metadata.generation.unwrap_or(1) + 1);
        }
    });
    let direction = if to > from { "up" } else { "down" };
    let message = format!("Scaled {direction} replica set {rs} from {from} to {to}");
    st.record_event(
        owner,
        EventType::Normal,
        "ScalingReplicaSet",
        message,
        COMPONENT,
    );
}

/// Creates the ReplicaSet of the Deployment's current template.
fn create_replica_set(
    st: &mut State,
    key: &Key,
    d: &Deployment,
    replicas: i32,
    revision: i64,
    now: Timestamp,
) {
    let spec = d.spec.clone().unwrap_or_default();
    let owner = Involved::new(Kind::Deployment, &d.metadata);
    let mut collision_count = d
        .status
        .as_ref()
        .and_then(|s| s.collision_count)
        .unwrap_or(0);
    let (name, hash) = loop {
        let hash = template_hash(&spec.template, u32::try_from(collision_count).unwrap_or(0));
        let name = format!("{}-{hash}", key.1);
        if !st.store.contains(&Kind::ReplicaSet, &key.0, &name) {
            break (name, hash);
        }
        collision_count += 1;
    };
    let mut template = spec.template.clone();
    template
        .metadata
        .get_or_insert_default()
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert(HASH_LABEL.to_owned(), hash.clone());
    let mut selector = spec.selector.clone();
    selector
        .match_labels
        .get_or_insert_with(BTreeMap::new)
        .insert(HASH_LABEL.to_owned(), hash);
    let labels = template.metadata.as_ref().and_then(|m| m.labels.clone());
    let rs = ReplicaSet {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(key.0.clone()),
            labels,
            annotations: Some(BTreeMap::from([
                (REVISION_ANNOTATION.to_owned(), revision.to_string()),
                (
                    "deployment.kubernetes.io/desired-replicas".to_owned(),
                    spec.replicas.unwrap_or(1).to_string(),
                ),
            ])),
            owner_references: Some(vec![controller_ref(&Kind::Deployment, &d.metadata)]),
            ..ObjectMeta::default()
        },
        spec: Some(ReplicaSetSpec {
            replicas: Some(replicas),
            min_ready_seconds: spec.min_ready_seconds,
            selector,
            template: Some(template),
        }),
        status: None,
    };
    st.insert_new(Object::ReplicaSet(rs));
    if collision_count > 0 {
        st.store.update(&Kind::Deployment, &key.0, &key.1, |o| {
            if let Object::Deployment(d) = o {
                d.status.get_or_insert_default().collision_count = Some(collision_count);
            }
        });
    }
    if replicas > 0 {
        let message = format!("Scaled up replica set {name} from 0 to {replicas}");
        st.record_event(
            &owner,
            EventType::Normal,
            "ScalingReplicaSet",
            message,
            COMPONENT,
        );
    }
    set_progressing(
        st,
        key,
        "NewReplicaSetCreated",
        &format!("Created new replica set \"{name}\""),
        now,
    );
}

/// Deletes old ReplicaSets without replicas or pods beyond `revisionHistoryLimit`, lowest revision first.
fn cleanup_history(
    st: &mut State,
    key: &Key,
    spec: &DeploymentSpec,
    rss: &[RsInfo],
    new_index: Option<usize>,
) {
    let limit = usize::try_from(spec.revision_history_limit.unwrap_or(10)).unwrap_or(0);
    let mut history: Vec<&RsInfo> = rss
        .iter()
        .enumerate()
        .filter(|(i, rs)| Some(*i) != new_index && rs.replicas == 0 && rs.pods == 0)
        .map(|(_, rs)| rs)
        .collect();
    if history.len() <= limit {
        return;
    }
    history.sort_by_key(|rs| rs.revision);
    let surplus = history.len() - limit;
    for rs in history.into_iter().take(surplus) {
        // The ReplicaSet may have been scaled this pass; only a ReplicaSet still at zero goes.
        let still_empty = matches!(
            st.store.get(&Kind::ReplicaSet, &key.0, &rs.name),
            Some(Object::ReplicaSet(r)) if r.spec.as_ref().and_then(|s| s.replicas) == Some(0)
        );
        if still_empty {
            st.remove(&Kind::ReplicaSet, &key.0, &rs.name);
        }
    }
}

/// Sets `Progressing=True` with `reason` (keeping the transition time when it was already True).
fn set_progressing(st: &mut State, key: &Key, reason: &str, message: &str, now: Timestamp) {
    st.store.update(&Kind::Deployment, &key.0, &key.1, |o| {
        if let Object::Deployment(d) = o {
            let conditions = d
                .status
                .get_or_insert_default()
                .conditions
                .get_or_insert_with(Vec::new);
            put_condition(
                conditions,
                "Progressing",
                "True",
                reason,
                message,
                now,
                true,
            );
        }
    });
}

/// Puts a condition; `touch` refreshes `lastUpdateTime` even when nothing else changed.
fn put_condition(
    conditions: &mut Vec<DeploymentCondition>,
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: Timestamp,
    touch: bool,
) {
    let position = conditions.iter().position(|c| c.type_ == type_);
    if let Some(c) = position.and_then(|i| conditions.get_mut(i)) {
        let same = c.status == status
            && c.reason.as_deref() == Some(reason)
            && c.message.as_deref() == Some(message);
        if same && !touch {
            return;
        }
        if c.status != status {
            c.last_transition_time = Some(Time(now));
        }
        c.status = status.to_owned();
        c.reason = Some(reason.to_owned());
        c.message = Some(message.to_owned());
        c.last_update_time = Some(Time(now));
        return;
    }
    conditions.push(DeploymentCondition {
        type_: type_.to_owned(),
        status: status.to_owned(),
        reason: Some(reason.to_owned()),
        message: Some(message.to_owned()),
        last_transition_time: Some(Time(now)),
        last_update_time: Some(Time(now)),
    });
    // Available first, then Progressing, as kubectl shows them.
    conditions.sort_by_key(|c| c.type_ != "Available");
}

/// Recomputes every Deployment's status from its ReplicaSets.
pub(super) fn update_statuses(st: &mut State, now: Timestamp) {
    for key in st.store.keys(&Kind::Deployment) {
        update_status(st, &key, now);
    }
}

fn update_status(st: &mut State, key: &Key, now: Timestamp) {
    let Some(Object::Deployment(d)) = st.store.get(&Kind::Deployment, &key.0, &key.1) else {
        return;
    };
    let Some(uid) = d.metadata.uid.as_deref() else {
        return;
    };
    let spec = d.spec.clone().unwrap_or_default();
    let desired = spec.replicas.unwrap_or(1).max(0);
    let (rss, new_index) = replica_sets(st, uid, &spec.template);
    let new = new_index.and_then(|i| rss.get(i));
    let old = d.status.clone().unwrap_or_default();
    let mut status = DeploymentStatus {
        replicas: Some(rss.iter().map(|rs| rs.pods).sum()),
        updated_replicas: Some(new.map_or(0, |rs| rs.pods)),
        ready_replicas: Some(rss.iter().map(|rs| rs.ready).sum()),
        available_replicas: Some(rss.iter().map(|rs| rs.available).sum()),
        observed_generation: d.metadata.generation,
        collision_count: old.collision_count,
        conditions: old.conditions.clone(),
        ..DeploymentStatus::default()
    };
    let (replicas, updated, ready, available) = (
        status.replicas.unwrap_or(0),
        status.updated_replicas.unwrap_or(0),
        status.ready_replicas.unwrap_or(0),
        status.available_replicas.unwrap_or(0),
    );
    status.unavailable_replicas = Some((desired - available).max(0));

    let object = object_key(Some(&key.0), &key.1);
    let min_available = if is_recreate(&spec) {
        desired
    } else {
        fenceposts(&object, &spec, desired).map_or(desired, |f| rolling::min_available(desired, f))
    };
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    if available >= min_available {
        put_condition(
            conditions,
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
            now,
            false,
        );
    } else {
        put_condition(
            conditions,
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
            now,
            false,
        );
    }
    let new_name = new.map_or_else(String::new, |rs| rs.name.clone());
    let previous = conditions
        .iter()
        .find(|c| c.type_ == "Progressing")
        .cloned();
    let complete =
        updated == desired && replicas == desired && available == desired && new.is_some();
    let progressed = updated > old.updated_replicas.unwrap_or(0)
        || ready > old.ready_replicas.unwrap_or(0)
        || available > old.available_replicas.unwrap_or(0)
        || old.replicas.unwrap_or(0) - old.updated_replicas.unwrap_or(0) > replicas - updated;
    let deadline = spec.progress_deadline_seconds.unwrap_or(600);
    if spec.paused == Some(true) {
        put_condition(
            conditions,
            "Progressing",
            "Unknown",
            "DeploymentPaused",
            "Deployment is paused",
            now,
            false,
        );
    } else if complete {
        let message = format!("ReplicaSet \"{new_name}\" has successfully progressed.");
        put_condition(
            conditions,
            "Progressing",
            "True",
            "NewReplicaSetAvailable",
            &message,
            now,
            false,
        );
    } else if progressed || previous.is_none() {
        let message = format!("ReplicaSet \"{new_name}\" is progressing.");
        put_condition(
            conditions,
            "Progressing",
            "True",
            "ReplicaSetUpdated",
            &message,
            now,
            true,
        );
    } else if let Some(p) = previous
        && p.status == "True"
        && p.reason.as_deref() != Some("NewReplicaSetAvailable")
        && p.last_update_time
            .as_ref()
            .is_some_and(|t| after_secs(t.0, deadline) < now)
    {
        let message = format!("ReplicaSet \"{new_name}\" has timed out progressing.");
        put_condition(
            conditions,
            "Progressing",
            "False",
            "ProgressDeadlineExceeded",
            &message,
            now,
            false,
        );
    }
    let revision = new.map(|rs| rs.revision.to_string());
    let current_revision = d
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(REVISION_ANNOTATION))
        .cloned();
    let revision_changed = revision.is_some() && revision != current_revision;
    if d.status.as_ref() == Some(&status) && !revision_changed {
        return;
    }
    st.store.update(&Kind::Deployment, &key.0, &key.1, |o| {
        if let Object::Deployment(d) = o {
            d.status = Some(status);
            if let Some(revision) = revision {
                d.metadata
                    .annotations
                    .get_or_insert_with(BTreeMap::new)
                    .insert(REVISION_ANNOTATION.to_owned(), revision);
            }
        }
    });
}
