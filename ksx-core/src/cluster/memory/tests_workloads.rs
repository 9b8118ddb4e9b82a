//! Unit tests of the controllers: Deployments (rolling update, Recreate, conditions, history), StatefulSets,
//! DaemonSets, the scheduler and the simulated kubelet.

use std::time::Duration;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use serde_json::json;

use super::tests::{deployment, object, pods, ready_count};
use super::*;

fn get_deployment(cluster: &InMemoryCluster, ns: &str, name: &str) -> Deployment {
    match cluster.get_sync(&Kind::Deployment, Some(ns), name) {
        Some(Object::Deployment(d)) => d,
        other => panic!("deployment {ns}/{name}: {other:?}"),
    }
}

fn replica_sets(cluster: &InMemoryCluster, ns: &str) -> Vec<ReplicaSet> {
    cluster
        .list_sync(&Kind::ReplicaSet, Some(ns), &ListOptions::default())
        .unwrap()
        .into_iter()
        .filter_map(|o| match o {
            Object::ReplicaSet(r) => Some(r),
            _ => None,
        })
        .collect()
}

fn condition(d: &Deployment, type_: &str) -> (String, String) {
    let c = d
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == type_))
        .unwrap_or_else(|| panic!("no {type_} condition"));
    (c.status.clone(), c.reason.clone().unwrap_or_default())
}

fn reasons(cluster: &InMemoryCluster, ns: &str) -> Vec<String> {
    cluster
        .events(Some(ns))
        .into_iter()
        .filter_map(|e| e.reason)
        .collect()
}

fn cluster_with_nodes(n: usize) -> InMemoryCluster {
    let cluster = InMemoryCluster::new(ManualClock::at_unix_secs(1_700_000_000), 1);
    for i in 0..n {
        cluster.add_node(&format!("node-{i}"), "8", "32Gi").unwrap();
    }
    cluster
}

#[test]
fn deployment_creates_a_hashed_replica_set_and_ready_pods() {
    let cluster = cluster_with_nodes(2);
    cluster
        .apply(deployment("shop", "web", 3, "web:1", &json!({})))
        .unwrap();
    cluster.advance(Duration::from_secs(10));
    let rss = replica_sets(&cluster, "shop");
    assert_eq!(rss.len(), 1);
    let rs = &rss[0];
    let hash = rs.metadata.labels.as_ref().unwrap()["pod-template-hash"].clone();
    assert_eq!(
        rs.metadata.name.as_deref(),
        Some(format!("web-{hash}").as_str())
    );
    assert_eq!(
        rs.metadata.annotations.as_ref().unwrap()["deployment.kubernetes.io/revision"],
        "1"
    );
    let all = pods(&cluster, "shop", "app=web");
    assert_eq!(ready_count(&all), 3);
    for p in &all {
        let name = p.metadata.name.as_deref().unwrap();
        let suffix = name.strip_prefix(&format!("web-{hash}-")).unwrap();
        assert_eq!(suffix.len(), 5);
        assert!(
            suffix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        );
        assert_eq!(
            p.metadata.owner_references.as_ref().unwrap()[0].kind,
            "ReplicaSet"
        );
    }
    // Spread over both nodes: the most free CPU wins.
    let nodes: std::collections::BTreeSet<_> = all
        .iter()
        .filter_map(|p| pods::node_name(p).map(str::to_owned))
        .collect();
    assert_eq!(nodes.len(), 2);
    let d = get_deployment(&cluster, "shop", "web");
    let status = d.status.clone().unwrap();
    assert_eq!(
        (
            status.replicas,
            status.updated_replicas,
            status.ready_replicas,
            status.available_replicas
        ),
        (Some(3), Some(3), Some(3), Some(3))
    );
    assert_eq!(status.unavailable_replicas, Some(0));
    assert_eq!(status.observed_generation, Some(1));
    assert_eq!(
        condition(&d, "Available"),
        ("True".into(), "MinimumReplicasAvailable".into())
    );
    assert_eq!(
        condition(&d, "Progressing"),
        ("True".into(), "NewReplicaSetAvailable".into())
    );
    let reasons = reasons(&cluster, "shop");
    for expected in [
        "ScalingReplicaSet",
        "SuccessfulCreate",
        "Scheduled",
        "Started",
    ] {
        assert!(
            reasons.iter().any(|r| r == expected),
            "{expected} missing from {reasons:?}"
        );
    }
}

/// Rolls `web` from `web:1` to `web:2` and checks the bounds at every tick.
fn roll_and_check(
    surge: &serde_json::Value,
    unavailable: &serde_json::Value,
    replicas: i32,
    max_pods: usize,
    min_ready: usize,
) {
    let cluster = cluster_with_nodes(3);
    let strategy = json!({"spec": {"strategy": {"type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}}});
    cluster
        .apply(deployment("shop", "web", replicas, "web:1", &strategy))
        .unwrap();
    cluster.advance(Duration::from_secs(10));
    cluster
        .set_pod_profile(
            "shop",
            "app=web",
            PodProfile::healthy(Duration::from_secs(4)),
        )
        .unwrap();
    cluster
        .apply(deployment("shop", "web", replicas, "web:2", &strategy))
        .unwrap();
    let mut done = false;
    for _ in 0..200 {
        cluster.advance(Duration::from_secs(1));
        let all = pods(&cluster, "shop", "app=web");
        assert!(all.len() <= max_pods, "{} pods > {max_pods}", all.len());
        assert!(
            ready_count(&all) >= min_ready,
            "{} ready < {min_ready}",
            ready_count(&all)
        );
        let s = get_deployment(&cluster, "shop", "web").status.unwrap();
        if s.updated_replicas == Some(replicas)
            && s.available_replicas == Some(replicas)
            && s.replicas == Some(replicas)
        {
            done = true;
            break;
        }
    }
    assert!(done, "the rollout did not finish");
    let rss = replica_sets(&cluster, "shop");
    assert_eq!(rss.len(), 2);
    let old = rss
        .iter()
        .find(|r| {
            r.metadata.annotations.as_ref().unwrap()["deployment.kubernetes.io/revision"] == "1"
        })
        .unwrap();
    assert_eq!(old.spec.as_ref().unwrap().replicas, Some(0));
    let d = get_deployment(&cluster, "shop", "web");
    assert_eq!(
        d.metadata.annotations.as_ref().unwrap()["deployment.kubernetes.io/revision"],
        "2"
    );
    assert_eq!(condition(&d, "Progressing").1, "NewReplicaSetAvailable");
}

#[test]
fn rolling_update_respects_surge_and_unavailable() {
    roll_and_check(&json!(1), &json!(0), 4, 5, 4);
    roll_and_check(&json!(0), &json!(1), 4, 4, 3);
    roll_and_check(&json!("25%"), &json!("25%"), 10, 13, 8);
    roll_and_check(&json!("50%"), &json!(0), 3, 5, 3);
}

#[test]
fn scaling_a_deployment_scales_its_replica_set() {
    let cluster = cluster_with_nodes(1);
    cluster
        .apply(deployment("shop", "web", 2, "web:1", &json!({})))
        .unwrap();
    cluster.advance(Duration::from_secs(5));
    cluster
        .apply(deployment("shop", "web", 5, "web:1", &json!({})))
        .unwrap();
    cluster.advance(Duration::from_secs(5));
    assert_eq!(ready_count(&pods(&cluster, "shop", "app=web")), 5);
    cluster
        .apply(deployment("shop", "web", 1, "web:1", &json!({})))
        .unwrap();
    cluster.advance(Duration::from_secs(1));
    assert_eq!(pods(&cluster, "shop", "app=web").len(), 1);
    assert!(
        reasons(&cluster, "shop")
            .iter()
            .any(|r| r == "SuccessfulDelete")
    );
    assert!(reasons(&cluster, "shop").iter().any(|r| r == "Killing"));
}

#[test]
fn recreate_never_overlaps_versions() {
    let cluster = cluster_with_nodes(1);
    let strategy = json!({"spec": {"strategy": {"type": "Recreate"}}});
    cluster
        .apply(deployment("shop", "web", 3, "web:1", &strategy))
        .unwrap();
    cluster.advance(Duration::from_secs(5));
    cluster
        .apply(deployment("shop", "web", 3, "web:2", &strategy))
        .unwrap();
    let mut finished = false;
    for _ in 0..30 {
        cluster.advance(Duration::from_secs(1));
        let images: std::collections::BTreeSet<String> = pods(&cluster, "shop", "app=web")
            .iter()
            .filter_map(|p| p.spec.as_ref()?.containers.first()?.image.clone())
            .collect();
        assert!(images.len() <= 1, "old and new pods together: {images:?}");
        let s = get_deployment(&cluster, "shop", "web").status.unwrap();
        if s.updated_replicas == Some(3) && s.available_replicas == Some(3) {
            finished = true;
            break;
        }
    }
    assert!(finished);
}

#[test]
fn crash_looping_rollout_stalls_and_times_out() {
    let cluster = cluster_with_nodes(1);
    let spec = json!({"spec": {"progressDeadlineSeconds": 60,
        "strategy": {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}}});
    cluster
        .apply(deployment("shop", "web", 3, "web:1", &spec))
        .unwrap();
    cluster.advance(Duration::from_secs(5));
    let mut broken = spec;
    patch::merge_patch(
        &mut broken,
        &json!({"spec": {"template": {"metadata": {"annotations": {FAIL_ANNOTATION: "true"}}}}}),
    );
    cluster
        .apply(deployment("shop", "web", 3, "web:2", &broken))
        .unwrap();
    cluster.advance(Duration::from_secs(30));
    let all = pods(&cluster, "shop", "app=web");
    assert_eq!(all.len(), 4, "one surge pod, three old pods kept");
    assert_eq!(ready_count(&all), 3);
    let crashing = all.iter().find(|p| !pods::is_ready(p)).unwrap();
    let status = &crashing
        .status
        .as_ref()
        .unwrap()
        .container_statuses
        .as_ref()
        .unwrap()[0];
    assert!(status.restart_count >= 1);
    let waiting = status
        .state
        .as_ref()
        .and_then(|s| s.waiting.as_ref())
        .and_then(|w| w.reason.clone());
    let running = status
        .state
        .as_ref()
        .and_then(|s| s.running.as_ref())
        .is_some();
    assert!(
        waiting.as_deref() == Some("CrashLoopBackOff") || running,
        "{status:?}"
    );
    assert_eq!(
        condition(&get_deployment(&cluster, "shop", "web"), "Progressing").0,
        "True"
    );
    cluster.advance(Duration::from_secs(120));
    let d = get_deployment(&cluster, "shop", "web");
    assert_eq!(
        condition(&d, "Progressing"),
        ("False".into(), "ProgressDeadlineExceeded".into())
    );
    assert_eq!(condition(&d, "Available").0, "True");
    assert!(reasons(&cluster, "shop").iter().any(|r| r == "BackOff"));
    let restarts: i32 = pods(&cluster, "shop", "app=web")
        .iter()
        .map(pods::restarts)
        .sum();
    assert!(restarts >= 3, "restarts {restarts}");
}

#[test]
fn crash_looping_old_pods_do_not_block_a_fix() {
    let cluster = cluster_with_nodes(1);
    let spec =
        json!({"spec": {"strategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}}});
    let mut broken = spec.clone();
    patch::merge_patch(
        &mut broken,
        &json!({"spec": {"template": {"metadata": {"annotations": {FAIL_ANNOTATION: "crash-loop"}}}}}),
    );
    cluster
        .apply(deployment("shop", "web", 4, "web:1", &broken))
        .unwrap();
    cluster.advance(Duration::from_secs(20));
    assert_eq!(ready_count(&pods(&cluster, "shop", "app=web")), 0);
    cluster
        .apply(deployment("shop", "web", 4, "web:2", &spec))
        .unwrap();
    cluster.advance(Duration::from_secs(30));
    let all = pods(&cluster, "shop", "app=web");
    assert_eq!(all.len(), 4);
    assert_eq!(ready_count(&all), 4);
}

#[test]
fn rollback_reuses_the_old_replica_set_and_history_is_limited() {
    let cluster = cluster_with_nodes(1);
    let limit = json!({"spec": {"revisionHistoryLimit": 1}});
    for image in ["web:1", "web:2", "web:3"] {
        cluster
            .apply(deployment("shop", "web", 2, image, &limit))
            .unwrap();
        cluster.advance(Duration::from_secs(20));
    }
    assert_eq!(
        replica_sets(&cluster, "shop").len(),
        2,
        "current plus one old"
    );
    cluster
        .apply(deployment("shop", "web", 2, "web:2", &limit))
        .unwrap();
    cluster.advance(Duration::from_secs(20));
    let rss = replica_sets(&cluster, "shop");
    assert_eq!(rss.len(), 2);
    let d = get_deployment(&cluster, "shop", "web");
    assert_eq!(
        d.metadata.annotations.as_ref().unwrap()["deployment.kubernetes.io/revision"],
        "4"
    );
    assert_eq!(d.status.unwrap().available_replicas, Some(2));
}

#[test]
fn invalid_strategy_is_reported() {
    let cluster = cluster_with_nodes(1);
    let bad = json!({"spec": {"strategy": {"rollingUpdate": {"maxSurge": "oops", "maxUnavailable": "urg"}}}});
    cluster
        .apply(deployment("shop", "web", 2, "web:1", &bad))
        .unwrap();
    cluster.reconcile();
    let events = cluster.events(Some("shop"));
    let warning = events
        .iter()
        .find(|e| e.reason.as_deref() == Some("InvalidStrategy"))
        .unwrap();
    assert!(
        warning
            .message
            .as_deref()
            .unwrap()
            .contains("spec.strategy.rollingUpdate.maxSurge")
    );
}

fn statefulset(replicas: i32, image: &str, extra: &serde_json::Value) -> Object {
    let mut value = json!({
        "metadata": {"name": "db", "namespace": "data"},
        "spec": {
            "replicas": replicas,
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "db", "image": image}]}}
        }
    });
    patch::merge_patch(&mut value, extra);
    object(&Kind::StatefulSet, value)
}

fn get_sts(cluster: &InMemoryCluster) -> StatefulSet {
    match cluster.get_sync(&Kind::StatefulSet, Some("data"), "db") {
        Some(Object::StatefulSet(s)) => s,
        other => panic!("{other:?}"),
    }
}

fn pod_image(cluster: &InMemoryCluster, name: &str) -> Option<String> {
    match cluster.get_sync(&Kind::Pod, Some("data"), name) {
        Some(Object::Pod(p)) => p.spec?.containers.first()?.image.clone(),
        _ => None,
    }
}

#[test]
fn statefulset_creates_in_order_and_updates_from_the_top() {
    let cluster = cluster_with_nodes(1);
    cluster
        .set_pod_profile(
            "data",
            "app=db",
            PodProfile::healthy(Duration::from_secs(3)),
        )
        .unwrap();
    cluster.apply(statefulset(3, "db:1", &json!({}))).unwrap();
    cluster.advance(Duration::from_secs(1));
    assert!(cluster.get_sync(&Kind::Pod, Some("data"), "db-0").is_some());
    assert!(
        cluster.get_sync(&Kind::Pod, Some("data"), "db-1").is_none(),
        "db-1 waits for db-0"
    );
    cluster.advance(Duration::from_secs(20));
    assert_eq!(ready_count(&pods(&cluster, "data", "app=db")), 3);
    let s = get_sts(&cluster).status.unwrap();
    assert_eq!(s.current_revision, s.update_revision);
    let first_rev = s.update_revision.clone().unwrap();

    cluster
        .apply(statefulset(
            3,
            "db:2",
            &json!({"spec": {"updateStrategy": {"rollingUpdate": {"partition": 1}}}}),
        ))
        .unwrap();
    cluster.advance(Duration::from_secs(1));
    assert!(
        cluster.get_sync(&Kind::Pod, Some("data"), "db-2").is_none()
            || pod_image(&cluster, "db-2").as_deref() == Some("db:2")
    );
    assert_eq!(
        pod_image(&cluster, "db-1").as_deref(),
        Some("db:1"),
        "db-1 waits for db-2"
    );
    cluster.advance(Duration::from_secs(30));
    assert_eq!(pod_image(&cluster, "db-2").as_deref(), Some("db:2"));
    assert_eq!(pod_image(&cluster, "db-1").as_deref(), Some("db:2"));
    assert_eq!(
        pod_image(&cluster, "db-0").as_deref(),
        Some("db:1"),
        "below the partition"
    );
    let s = get_sts(&cluster).status.unwrap();
    assert_eq!(s.current_revision.as_deref(), Some(first_rev.as_str()));
    assert_ne!(s.update_revision, s.current_revision);
    assert_eq!((s.updated_replicas, s.current_replicas), (Some(2), Some(1)));

    cluster.apply(statefulset(3, "db:2", &json!({}))).unwrap();
    cluster.advance(Duration::from_secs(30));
    assert_eq!(pod_image(&cluster, "db-0").as_deref(), Some("db:2"));
    let s = get_sts(&cluster).status.unwrap();
    assert_eq!(s.current_revision, s.update_revision);
    let Some(Object::Pod(pod)) = cluster.get_sync(&Kind::Pod, Some("data"), "db-0") else {
        panic!()
    };
    assert_eq!(
        pod.metadata.labels.unwrap()["controller-revision-hash"],
        s.update_revision.unwrap()
    );

    cluster.apply(statefulset(1, "db:2", &json!({}))).unwrap();
    cluster.advance(Duration::from_secs(5));
    assert_eq!(pods(&cluster, "data", "app=db").len(), 1);
    assert!(cluster.get_sync(&Kind::Pod, Some("data"), "db-0").is_some());
}

fn daemonset(extra: &serde_json::Value) -> Object {
    let mut value = json!({
        "metadata": {"name": "agent", "namespace": "kube-system"},
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {"containers": [{"name": "agent", "image": "agent:1"}]}}
        }
    });
    patch::merge_patch(&mut value, extra);
    object(&Kind::DaemonSet, value)
}

#[test]
fn daemonset_runs_one_pod_per_eligible_node() {
    let cluster = cluster_with_nodes(3);
    let tainted = object(
        &Kind::Node,
        json!({"metadata": {"name": "gpu-0", "labels": {"pool": "gpu"}},
               "spec": {"taints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}]},
               "status": {"allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110"}}}),
    );
    cluster.apply(tainted).unwrap();
    cluster.apply(daemonset(&json!({}))).unwrap();
    cluster.advance(Duration::from_secs(5));
    let all = pods(&cluster, "kube-system", "app=agent");
    assert_eq!(all.len(), 3, "the tainted node is skipped");
    let Some(Object::DaemonSet(ds)) =
        cluster.get_sync(&Kind::DaemonSet, Some("kube-system"), "agent")
    else {
        panic!()
    };
    let status = ds.status.unwrap();
    assert_eq!(
        (status.desired_number_scheduled, status.number_ready),
        (3, 3)
    );

    let tolerant = json!({"spec": {"template": {"spec": {"tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}],
        "nodeSelector": {"pool": "gpu"}}}}});
    cluster.apply(daemonset(&tolerant)).unwrap();
    cluster.advance(Duration::from_secs(20));
    let all = pods(&cluster, "kube-system", "app=agent");
    assert_eq!(all.len(), 1);
    assert_eq!(pods::node_name(&all[0]), Some("gpu-0"));
    let ds: DaemonSet = match cluster.get_sync(&Kind::DaemonSet, Some("kube-system"), "agent") {
        Some(Object::DaemonSet(d)) => d,
        _ => panic!(),
    };
    assert_eq!(ds.status.unwrap().updated_number_scheduled, Some(1));
}

#[test]
fn scheduler_explains_what_does_not_fit() {
    let cluster = cluster_with_nodes(1);
    let cordoned = object(
        &Kind::Node,
        json!({"metadata": {"name": "old"}, "spec": {"unschedulable": true},
               "status": {"allocatable": {"cpu": "8", "memory": "32Gi"}}}),
    );
    cluster.apply(cordoned).unwrap();
    let huge = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "main", "image": "x", "resources": {"requests": {"cpu": "16", "memory": "64Gi"}}}]}}}});
    cluster
        .apply(deployment("shop", "huge", 1, "x", &huge))
        .unwrap();
    let picky = json!({"spec": {"template": {"spec": {"nodeSelector": {"zone": "mars"}}}}});
    cluster
        .apply(deployment("shop", "picky", 1, "x", &picky))
        .unwrap();
    cluster.advance(Duration::from_secs(2));
    let messages: Vec<String> = cluster
        .events(Some("shop"))
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some("FailedScheduling"))
        .filter_map(|e| e.message)
        .collect();
    assert!(messages.contains(&"0/2 nodes are available: 1 Insufficient cpu, 1 Insufficient memory, 1 node(s) were unschedulable.".to_owned()), "{messages:?}");
    assert!(messages.contains(&"0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) were unschedulable.".to_owned()), "{messages:?}");
    let pending = pods(&cluster, "shop", "app=huge");
    assert_eq!(pods::phase(&pending[0]), "Pending");
}

#[test]
fn never_ready_pods_warn_once() {
    let cluster = cluster_with_nodes(1);
    cluster
        .set_pod_profile("shop", "app=web", PodProfile::never_ready())
        .unwrap();
    cluster
        .apply(deployment("shop", "web", 1, "web:1", &json!({})))
        .unwrap();
    cluster.advance(Duration::from_secs(30));
    let all = pods(&cluster, "shop", "app=web");
    assert_eq!(pods::phase(&all[0]), "Running");
    assert_eq!(ready_count(&all), 0);
    let unhealthy = cluster
        .events(Some("shop"))
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some("Unhealthy"))
        .count();
    assert_eq!(unhealthy, 1);
    let d = get_deployment(&cluster, "shop", "web");
    assert_eq!(
        condition(&d, "Available"),
        ("False".into(), "MinimumReplicasUnavailable".into())
    );
}

#[test]
fn min_ready_seconds_delays_availability() {
    let cluster = cluster_with_nodes(1);
    let spec = json!({"spec": {"minReadySeconds": 10}});
    cluster
        .apply(deployment("shop", "web", 2, "web:1", &spec))
        .unwrap();
    cluster.advance(Duration::from_secs(5));
    let s = get_deployment(&cluster, "shop", "web").status.unwrap();
    assert_eq!((s.ready_replicas, s.available_replicas), (Some(2), Some(0)));
    assert_eq!(s.unavailable_replicas, Some(2));
    cluster.advance(Duration::from_secs(10));
    let s = get_deployment(&cluster, "shop", "web").status.unwrap();
    assert_eq!((s.ready_replicas, s.available_replicas), (Some(2), Some(2)));
}
