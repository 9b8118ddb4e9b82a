//! Unit tests of the store and the seams: conformance, create/patch/scale/delete semantics, watch, logs,
//! eviction, determinism.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use serde_json::json;

use super::*;
use crate::cluster::conformance;

pub(super) fn object(kind: &Kind, value: serde_json::Value) -> Object {
    Object::from_json(kind, value).unwrap()
}

pub(super) fn config_map(namespace: &str, name: &str, labels: &serde_json::Value) -> Object {
    object(
        &Kind::ConfigMap,
        json!({"metadata": {"name": name, "namespace": namespace, "labels": labels}, "data": {"k": "v"}}),
    )
}

pub(super) fn deployment(
    namespace: &str,
    name: &str,
    replicas: i32,
    image: &str,
    extra: &serde_json::Value,
) -> Object {
    let mut value = json!({
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": image,
                    "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}
            }
        }
    });
    patch::merge_patch(&mut value, extra);
    object(&Kind::Deployment, value)
}

pub(super) fn pods(cluster: &InMemoryCluster, namespace: &str, selector: &str) -> Vec<Pod> {
    cluster
        .list_sync(&Kind::Pod, Some(namespace), &ListOptions::labels(selector))
        .unwrap()
        .into_iter()
        .filter_map(|o| match o {
            Object::Pod(p) => Some(p),
            _ => None,
        })
        .collect()
}

pub(super) fn ready_count(pods: &[Pod]) -> usize {
    pods.iter().filter(|p| pods::is_ready(p)).count()
}

#[tokio::test]
async fn passes_reader_writer_conformance() {
    let cluster = InMemoryCluster::default();
    conformance::check_reader_writer(&cluster, "conformance")
        .await
        .unwrap();
    // It cleans up after itself.
    assert!(
        cluster
            .list_sync(&Kind::ConfigMap, None, &ListOptions::default())
            .unwrap()
            .is_empty()
    );
    assert!(
        cluster
            .list_sync(&Kind::Service, None, &ListOptions::default())
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn passes_watch_conformance() {
    let cluster = InMemoryCluster::default();
    conformance::check_watch(&cluster, "conformance")
        .await
        .unwrap();
    assert!(
        cluster
            .list_sync(&Kind::ConfigMap, None, &ListOptions::default())
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn create_fills_metadata_and_refuses_duplicates() {
    let cluster = InMemoryCluster::new(ManualClock::at_unix_secs(1_000), 7);
    let created = cluster
        .create(object(&Kind::ConfigMap, json!({"metadata": {"name": "a"}})))
        .await
        .unwrap();
    assert_eq!(created.namespace(), Some("default"));
    assert_eq!(
        created
            .metadata()
            .creation_timestamp
            .as_ref()
            .unwrap()
            .0
            .as_second(),
        1_000
    );
    assert_eq!(created.metadata().uid.as_ref().unwrap().len(), 36);
    let again = cluster
        .create(object(&Kind::ConfigMap, json!({"metadata": {"name": "a"}})))
        .await;
    assert!(
        matches!(again, Err(Error::AlreadyExists { .. })),
        "{again:?}"
    );
    let nameless = cluster
        .create(object(&Kind::ConfigMap, json!({"metadata": {}})))
        .await
        .unwrap_err();
    assert!(nameless.to_string().contains("metadata.name"), "{nameless}");
    let generated = cluster
        .create(object(
            &Kind::ConfigMap,
            json!({"metadata": {"generateName": "gen-"}}),
        ))
        .await
        .unwrap();
    assert!(
        generated.name().starts_with("gen-") && generated.name().len() == 9,
        "{}",
        generated.name()
    );
    // Cluster-scoped kinds lose a namespace given by mistake.
    let ns = cluster
        .create(object(
            &Kind::Namespace,
            json!({"metadata": {"name": "team", "namespace": "x"}}),
        ))
        .await
        .unwrap();
    assert_eq!(ns.namespace(), None);
    assert!(
        cluster
            .get(&Kind::Namespace, None, "team")
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn patch_keeps_status_and_server_fields() {
    let cluster = InMemoryCluster::default();
    let d = cluster
        .create(deployment("shop", "web", 2, "web:1", &json!({})))
        .await
        .unwrap();
    assert_eq!(d.metadata().generation, Some(1));
    let status = Patch::Merge(json!({"status": {"replicas": 5}}));
    let after_status = cluster
        .patch_status(&Kind::Deployment, Some("shop"), "web", &status)
        .await
        .unwrap();
    let Object::Deployment(dep) = &after_status else {
        panic!()
    };
    assert_eq!(dep.status.as_ref().unwrap().replicas, Some(5));
    assert_eq!(
        dep.metadata.generation,
        Some(1),
        "a status patch is no spec change"
    );
    // A spec patch cannot touch status, and bumps the generation.
    let spec = Patch::Merge(
        json!({"spec": {"replicas": 3}, "status": {"replicas": 9}, "metadata": {"uid": "forged"}}),
    );
    let after = cluster
        .patch(&Kind::Deployment, Some("shop"), "web", &spec)
        .await
        .unwrap();
    let Object::Deployment(dep) = &after else {
        panic!()
    };
    assert_eq!(dep.spec.as_ref().unwrap().replicas, Some(3));
    assert_eq!(dep.status.as_ref().unwrap().replicas, Some(5));
    assert_eq!(dep.metadata.generation, Some(2));
    assert_eq!(dep.metadata.uid, d.metadata().uid);
    // Moving to another namespace is refused; so is a patch that breaks the schema.
    let moved = Patch::Merge(json!({"metadata": {"namespace": "other"}}));
    let err = cluster
        .patch(&Kind::Deployment, Some("shop"), "web", &moved)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("metadata.namespace cannot be changed"),
        "{err}"
    );
    let broken = Patch::Merge(json!({"spec": {"replicas": "many"}}));
    assert!(
        cluster
            .patch(&Kind::Deployment, Some("shop"), "web", &broken)
            .await
            .is_err()
    );
    // ConfigMaps have no status subresource.
    cluster
        .create(config_map("shop", "cm", &json!({})))
        .await
        .unwrap();
    assert!(
        cluster
            .patch_status(&Kind::ConfigMap, Some("shop"), "cm", &status)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn scale_view_reads_replicas_and_selector() {
    let cluster = InMemoryCluster::default();
    cluster
        .create(deployment("shop", "web", 3, "web:1", &json!({})))
        .await
        .unwrap();
    let object = cluster
        .get_sync(&Kind::Deployment, Some("shop"), "web")
        .unwrap();
    let view = object.scale_view().unwrap().unwrap();
    assert_eq!(view.spec_replicas, 3);
    assert_eq!(view.status_replicas, 0, "no controller has run yet");
    assert!(!view.selector.is_empty(), "{view:?}");
    cluster.advance(std::time::Duration::from_secs(60));
    let object = cluster
        .get_sync(&Kind::Deployment, Some("shop"), "web")
        .unwrap();
    assert_eq!(object.scale_view().unwrap().unwrap().status_replicas, 3);
    cluster
        .create(config_map("shop", "cm", &json!({})))
        .await
        .unwrap();
    let cm = cluster
        .get_sync(&Kind::ConfigMap, Some("shop"), "cm")
        .unwrap();
    assert_eq!(cm.scale_view().unwrap(), None);
}

#[tokio::test]
async fn scale_checks_kind_count_and_existence() {
    let cluster = InMemoryCluster::default();
    cluster
        .create(deployment("shop", "web", 2, "web:1", &json!({})))
        .await
        .unwrap();
    cluster
        .scale(&Kind::Deployment, "shop", "web", 4)
        .await
        .unwrap();
    let Some(Object::Deployment(d)) = cluster.get_sync(&Kind::Deployment, Some("shop"), "web")
    else {
        panic!()
    };
    assert_eq!(d.spec.unwrap().replicas, Some(4));
    assert_eq!(d.metadata.generation, Some(2));
    assert!(
        cluster
            .scale(&Kind::Deployment, "shop", "web", -1)
            .await
            .is_err()
    );
    assert!(
        cluster
            .scale(&Kind::Deployment, "shop", "nope", 1)
            .await
            .unwrap_err()
            .is_not_found()
    );
    cluster
        .create(config_map("shop", "cm", &json!({})))
        .await
        .unwrap();
    assert!(
        cluster
            .scale(&Kind::ConfigMap, "shop", "cm", 1)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn apply_creates_then_replaces() {
    let cluster = InMemoryCluster::default();
    let first = cluster
        .apply(config_map("a", "cm", &json!({"v": "1"})))
        .unwrap();
    let second = cluster
        .apply(config_map("a", "cm", &json!({"v": "2"})))
        .unwrap();
    assert_eq!(first.metadata().uid, second.metadata().uid);
    assert_ne!(
        first.metadata().resource_version,
        second.metadata().resource_version
    );
    assert_eq!(second.metadata().labels.as_ref().unwrap()["v"], "2");
    assert_eq!(cluster.count(&Kind::ConfigMap), 1);
}

#[tokio::test]
async fn list_orders_by_namespace_then_name_and_filters_fields() {
    let cluster = InMemoryCluster::default();
    for (ns, name) in [("b", "x"), ("a", "y"), ("a", "x"), ("c", "a")] {
        cluster.apply(config_map(ns, name, &json!({}))).unwrap();
    }
    let all = cluster
        .list(&Kind::ConfigMap, None, &ListOptions::default())
        .await
        .unwrap();
    let keys: Vec<String> = all.iter().map(Object::key).collect();
    assert_eq!(keys, ["a/x", "a/y", "b/x", "c/a"]);
    let in_a = cluster
        .list(&Kind::ConfigMap, Some("a"), &ListOptions::default())
        .await
        .unwrap();
    assert_eq!(in_a.len(), 2);
    let by_ns = cluster
        .list(
            &Kind::ConfigMap,
            None,
            &ListOptions::fields("metadata.namespace!=a"),
        )
        .await
        .unwrap();
    assert_eq!(by_ns.len(), 2);
    let wrong_field = cluster
        .list(
            &Kind::ConfigMap,
            None,
            &ListOptions::fields("spec.nodeName=n"),
        )
        .await;
    assert!(matches!(wrong_field, Err(Error::InvalidSelector { .. })));
}

#[tokio::test]
async fn watch_turns_selector_transitions_into_added_and_deleted() {
    let cluster = InMemoryCluster::default();
    let mut stream = cluster
        .watch(
            &Kind::ConfigMap,
            Some("a"),
            &ListOptions::labels("tier=front"),
        )
        .await
        .unwrap();
    cluster
        .apply(config_map("a", "cm", &json!({"tier": "back"})))
        .unwrap();
    cluster
        .apply(config_map("b", "cm", &json!({"tier": "front"})))
        .unwrap();
    cluster
        .apply(config_map("a", "cm", &json!({"tier": "front"})))
        .unwrap();
    cluster
        .apply(config_map("a", "cm", &json!({"tier": "back"})))
        .unwrap();
    let first = stream.next().await.unwrap().unwrap();
    assert!(
        matches!(&first, WatchEvent::Added(o) if o.key() == "a/cm"),
        "{first:?}"
    );
    let second = stream.next().await.unwrap().unwrap();
    assert!(
        matches!(&second, WatchEvent::Deleted(o) if o.key() == "a/cm"),
        "{second:?}"
    );
    drop(cluster);
    assert!(
        stream.next().await.is_none(),
        "the stream ends with the cluster"
    );
}

#[tokio::test]
async fn delete_cascades_to_dependents() {
    let cluster = InMemoryCluster::default();
    cluster.add_node("n1", "8", "16Gi").unwrap();
    cluster
        .apply(deployment("shop", "web", 2, "web:1", &json!({})))
        .unwrap();
    cluster.advance(Duration::from_secs(5));
    assert_eq!(cluster.count(&Kind::ReplicaSet), 1);
    assert_eq!(pods(&cluster, "shop", "app=web").len(), 2);
    cluster
        .delete(&Kind::Deployment, Some("shop"), "web")
        .await
        .unwrap();
    assert_eq!(cluster.count(&Kind::ReplicaSet), 0);
    assert_eq!(cluster.count(&Kind::Pod), 0);
    assert!(
        cluster
            .delete(&Kind::Deployment, Some("shop"), "web")
            .await
            .unwrap_err()
            .is_not_found()
    );
}

#[tokio::test]
async fn logs_honour_tail_previous_and_container() {
    let cluster = InMemoryCluster::default();
    cluster.add_node("n1", "8", "16Gi").unwrap();
    cluster
        .set_pod_profile(
            "shop",
            "app=bad",
            PodProfile::crash_loop(Duration::from_secs(2)),
        )
        .unwrap();
    cluster
        .apply(deployment("shop", "bad", 1, "bad:1", &json!({})))
        .unwrap();
    cluster.advance(Duration::from_secs(30));
    let pod = pods(&cluster, "shop", "app=bad").remove(0);
    let name = pod.metadata.name.clone().unwrap();
    let all = cluster
        .logs("shop", &name, None, &LogOptions::default())
        .await
        .unwrap();
    assert!(all.contains("container main started"), "{all}");
    let previous = LogOptions {
        previous: true,
        ..LogOptions::default()
    };
    let before = cluster
        .logs("shop", &name, Some("main"), &previous)
        .await
        .unwrap();
    assert!(before.contains("exiting with code 1"), "{before}");
    let tail = LogOptions {
        tail_lines: Some(1),
        ..LogOptions::default()
    };
    assert_eq!(
        cluster
            .logs("shop", &name, None, &tail)
            .await
            .unwrap()
            .lines()
            .count(),
        1
    );
    assert!(
        cluster
            .logs("shop", &name, Some("sidecar"), &tail)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        cluster
            .logs("shop", "ghost", None, &tail)
            .await
            .unwrap_err()
            .is_not_found()
    );
}

fn pdb(namespace: &str, name: &str, app: &str, spec: &serde_json::Value) -> Object {
    let mut value = json!({
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"selector": {"matchLabels": {"app": app}}}
    });
    patch::merge_patch(&mut value, &json!({ "spec": spec }));
    object(&Kind::PodDisruptionBudget, value)
}

#[tokio::test]
async fn eviction_honours_budgets() {
    let cluster = InMemoryCluster::default();
    cluster.add_node("n1", "8", "16Gi").unwrap();
    cluster
        .apply(deployment("shop", "web", 4, "web:1", &json!({})))
        .unwrap();
    cluster
        .apply(pdb(
            "shop",
            "web-pdb",
            "web",
            &json!({"minAvailable": "50%"}),
        ))
        .unwrap();
    cluster.advance(Duration::from_secs(10));
    let names: Vec<String> = pods(&cluster, "shop", "app=web")
        .iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    assert_eq!(names.len(), 4);
    let Some(Object::PodDisruptionBudget(b)) =
        cluster.get_sync(&Kind::PodDisruptionBudget, Some("shop"), "web-pdb")
    else {
        panic!()
    };
    assert_eq!(b.status.as_ref().unwrap().disruptions_allowed, 2);
    cluster.evict("shop", &names[0]).await.unwrap();
    cluster.evict("shop", &names[1]).await.unwrap();
    // The replacements are pending, so the budget is spent.
    cluster.reconcile();
    let err = cluster.evict("shop", &names[2]).await.unwrap_err();
    assert!(matches!(err, Error::DisruptionBudget { .. }), "{err}");
    assert!(
        err.to_string().contains("needs 2 healthy pods and has 2"),
        "{err}"
    );
    assert!(
        cluster
            .evict("shop", "ghost")
            .await
            .unwrap_err()
            .is_not_found()
    );
    // Pending pods are evicted without consulting the budget.
    let pending: Vec<String> = pods(&cluster, "shop", "app=web")
        .iter()
        .filter(|p| !pods::is_ready(p))
        .filter(|p| pods::phase(p) == "Pending")
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    for name in pending {
        cluster.evict("shop", &name).await.unwrap();
    }
    // Once the replacements are Ready, evictions are allowed again.
    cluster.advance(Duration::from_secs(10));
    cluster.evict("shop", &names[2]).await.unwrap();
    // A pod under two budgets cannot be evicted.
    cluster
        .apply(pdb("shop", "second", "web", &json!({"maxUnavailable": 1})))
        .unwrap();
    let err = cluster.evict("shop", &names[3]).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("more than one PodDisruptionBudget"),
        "{err}"
    );
}

fn snapshot(cluster: &InMemoryCluster) -> Vec<serde_json::Value> {
    Kind::BUILT_IN
        .iter()
        .flat_map(|k| cluster.list_sync(k, None, &ListOptions::default()).unwrap())
        .map(|o| o.to_json().unwrap())
        .collect()
}

#[test]
fn same_seed_same_calls_same_cluster() {
    let run = |seed: u64| {
        let cluster = InMemoryCluster::new(ManualClock::at_unix_secs(1_700_000_000), seed);
        cluster.add_node("n1", "4", "8Gi").unwrap();
        cluster.add_node("n2", "4", "8Gi").unwrap();
        cluster
            .set_pod_profile(
                "shop",
                "app=web",
                PodProfile::healthy(Duration::from_secs(3)).with_jitter(Duration::from_secs(5)),
            )
            .unwrap();
        cluster
            .apply(deployment("shop", "web", 5, "web:1", &json!({})))
            .unwrap();
        cluster.advance(Duration::from_secs(20));
        cluster
            .apply(deployment("shop", "web", 5, "web:2", &json!({})))
            .unwrap();
        cluster.advance(Duration::from_secs(40));
        snapshot(&cluster)
    };
    let a = run(3);
    assert_eq!(a, run(3));
    assert_ne!(a, run(4));
}

#[test]
fn events_aggregate_repeats() {
    let cluster = InMemoryCluster::default();
    cluster.add_node("small", "100m", "1Gi").unwrap();
    cluster
        .apply(deployment(
            "shop",
            "big",
            1,
            "big:1",
            &json!({"spec": {"template": {"spec": {"containers": [
                {"name": "main", "image": "big:1", "resources": {"requests": {"cpu": "2"}}}
            ]}}}}),
        ))
        .unwrap();
    cluster.advance(Duration::from_secs(5));
    let failed: Vec<_> = cluster
        .events(Some("shop"))
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some("FailedScheduling"))
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(
        failed[0].message.as_deref(),
        Some("0/1 nodes are available: 1 Insufficient cpu.")
    );
    assert_eq!(failed[0].count, Some(5));
    assert_eq!(failed[0].type_.as_deref(), Some("Warning"));
    assert_eq!(failed[0].involved_object.kind.as_deref(), Some("Pod"));
}

#[test]
fn configmaps_round_trip_typed() {
    let cluster = InMemoryCluster::default();
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("typed".into());
    cm.data = Some(BTreeMap::from([("a".to_owned(), "b".to_owned())]));
    cluster.apply(Object::ConfigMap(cm)).unwrap();
    let Some(Object::ConfigMap(back)) =
        cluster.get_sync(&Kind::ConfigMap, Some("default"), "typed")
    else {
        panic!()
    };
    assert_eq!(back.data.unwrap()["a"], "b");
}

#[test]
fn extended_resources_limit_placement() {
    let cluster = InMemoryCluster::default();
    let gpu_node = json!({
        "metadata": {"name": "gpu-0"},
        "status": {
            "allocatable": {"cpu": "32", "memory": "128Gi", "pods": "110", "nvidia.com/gpu": "4"},
            "conditions": [{"type": "Ready", "status": "True"}]
        }
    });
    cluster.apply(object(&Kind::Node, gpu_node)).unwrap();
    cluster.add_node("cpu-0", "32", "128Gi").unwrap();
    // Three pods of two GPUs each: only two fit on the four-GPU node, none on the CPU node.
    cluster
        .apply(deployment(
            "ml",
            "train",
            3,
            "train:1",
            &json!({"spec": {"template": {"spec": {"containers": [
                {"name": "main", "image": "train:1", "resources": {"limits": {"nvidia.com/gpu": "2"}}}
            ]}}}}),
        ))
        .unwrap();
    cluster.advance(Duration::from_secs(5));
    let all = pods(&cluster, "ml", "app=train");
    assert_eq!(all.len(), 3);
    let on_gpu = all
        .iter()
        .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some("gpu-0"))
        .count();
    assert_eq!(on_gpu, 2);
    let pending = all
        .iter()
        .filter(|p| {
            p.spec
                .as_ref()
                .and_then(|s| s.node_name.as_deref())
                .is_none()
        })
        .count();
    assert_eq!(pending, 1);
    let message = cluster
        .events(Some("ml"))
        .into_iter()
        .find(|e| e.reason.as_deref() == Some("FailedScheduling"))
        .and_then(|e| e.message)
        .unwrap();
    assert_eq!(
        message,
        "0/2 nodes are available: 2 Insufficient nvidia.com/gpu."
    );
}

#[tokio::test]
async fn bind_sets_node_name_once_as_the_binding_subresource_does() {
    let cluster = InMemoryCluster::default();
    let created = cluster
        .create(object(
            &Kind::Pod,
            json!({"metadata": {"name": "p", "namespace": "ns"},
                "spec": {"containers": [{"name": "c", "image": "app:1"}]}}),
        ))
        .await
        .unwrap();
    let uid = created.metadata().uid.clone().unwrap();

    let err = cluster
        .bind("ns", "p", Some("other-uid"), "n1")
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "Pod ns/p: conflict: precondition failed: uid in precondition other-uid, uid of the pod {uid}"
        )
    );
    let err = cluster.bind("ns", "p", None, "").await.unwrap_err();
    assert!(
        matches!(&err, Error::InvalidField { field, .. } if field == "target.name"),
        "{err:?}"
    );

    cluster.bind("ns", "p", Some(&uid), "n1").await.unwrap();
    let Some(Object::Pod(pod)) = cluster.get_sync(&Kind::Pod, Some("ns"), "p") else {
        panic!("pod p is gone");
    };
    assert_eq!(pod.spec.as_ref().unwrap().node_name.as_deref(), Some("n1"));
    let scheduled = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "PodScheduled"))
        .map(|c| c.status.clone());
    assert_eq!(scheduled.as_deref(), Some("True"));

    let err = cluster.bind("ns", "p", None, "n2").await.unwrap_err();
    assert!(err.is_conflict(), "{err:?}");
    assert_eq!(
        err.to_string(),
        "Pod ns/p: conflict: pod p is already assigned to node \"n1\""
    );
    let err = cluster.bind("ns", "missing", None, "n1").await.unwrap_err();
    assert_eq!(err.to_string(), "Pod ns/missing not found");
}
