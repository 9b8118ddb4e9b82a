//! Spec §4.0: "Live, controller-owned Pods are skipped by static checks (reported via their controller)." A live
//! Pod with an owner reference whose `controller` is `true` gets no static test; live checks still run on it; a
//! bare live Pod, a live Pod whose owner is not its controller, and every Pod read from manifests are checked.
#![allow(
    clippy::unwrap_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use std::time::Duration;

use ksx_core::cluster::memory::{InMemoryCluster, PodProfile};
use ksx_core::cluster::{Kind, Object};
use ksx_core::{Clock, ManualClock};
use ksx_inspect::bundle::InspectObject;
use ksx_inspect::checks::CATALOGUE;
use ksx_inspect::live::{
    NamespaceFilter, bundle_from_cluster, default_kinds, skipped_by_static_checks,
};
use ksx_inspect::model::Scope;
use ksx_inspect::{Bundle, Config, Engine, Report, RunOptions};
use serde_json::{Value, json};

/// 2026-01-01T00:00:00Z.
const T0: i64 = 1_767_225_600;

/// A static check on every long-running workload (livenessProbe absent) and a live one on Pods.
const CHECKS: [&str; 2] = ["rel-liveness-probe", "pod-crashloop"];

fn run(bundle: &Bundle) -> Report {
    let options = RunOptions {
        checks: Some(CHECKS.iter().map(|&c| c.to_owned()).collect()),
        ..RunOptions::default()
    };
    Engine::new(&Config::default(), &options)
        .unwrap()
        .inspect(bundle, &ManualClock::at_unix_secs(T0 + 3600))
}

/// `check Kind/name` of every finding, sorted.
fn found(r: &Report) -> Vec<String> {
    let mut v: Vec<String> = r
        .findings
        .iter()
        .map(|f| format!("{} {}/{}", f.check_id, f.resource.kind, f.resource.name))
        .collect();
    v.sort();
    v
}

fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "web:1"}]}
            }
        }
    })
}

/// A crash-looping Pod without a liveness probe, with `owners` as its `ownerReferences`.
fn pod(name: &str, owners: &Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "shop", "labels": {"app": "web"}, "ownerReferences": owners},
        "spec": {"containers": [{"name": "web", "image": "web:1"}]},
        "status": {"phase": "Running", "containerStatuses": [{
            "name": "web", "image": "web:1", "imageID": "", "ready": false, "restartCount": 9,
            "state": {"waiting": {"reason": "CrashLoopBackOff"}}
        }]}
    })
}

fn objects() -> Vec<Value> {
    vec![
        deployment(),
        pod(
            "web-6d4cf56db6-abcde",
            &json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-6d4cf56db6",
                     "uid": "u-1", "controller": true}]),
        ),
        pod("solo", &json!([])),
        pod(
            "adopted",
            &json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "keeper", "uid": "u-2"}]),
        ),
    ]
}

#[test]
fn a_live_owned_pod_is_reported_through_its_controller_only() {
    let bundle = Bundle::from_objects(
        objects()
            .into_iter()
            .map(|v| InspectObject::new(v, None, "default"))
            .collect(),
    );
    let r = run(&bundle);
    assert_eq!(
        found(&r),
        [
            // The live check still sees the owned Pod.
            "pod-crashloop Pod/adopted",
            "pod-crashloop Pod/solo",
            "pod-crashloop Pod/web-6d4cf56db6-abcde",
            // The static finding once, on the Deployment, and on the Pods no controller owns.
            "rel-liveness-probe Deployment/web",
            "rel-liveness-probe Pod/adopted",
            "rel-liveness-probe Pod/solo",
        ]
    );
    // No static test at all on the owned Pod: 3 static tests + 3 live ones.
    assert_eq!(r.summary.tests.total, 6);
}

#[test]
fn manifest_pods_with_owners_are_still_checked() {
    let yaml: Vec<String> = objects()
        .iter()
        .map(|v| serde_json::to_string(v).unwrap())
        .collect();
    let loaded = ksx_core::manifest::parse_str("all.yaml", &yaml.join("\n---\n"));
    let bundle = Bundle::from_loaded(&loaded, "default");
    assert_eq!(bundle.objects().len(), 4);
    assert!(
        bundle
            .objects()
            .iter()
            .all(|o| !skipped_by_static_checks(o))
    );
    let r = run(&bundle);
    // Live checks never act on manifests; the static one reports every Pod.
    assert_eq!(
        found(&r),
        [
            "rel-liveness-probe Deployment/web",
            "rel-liveness-probe Pod/adopted",
            "rel-liveness-probe Pod/solo",
            "rel-liveness-probe Pod/web-6d4cf56db6-abcde",
        ]
    );
}

#[test]
fn the_simulated_cluster_reports_static_findings_on_controllers_not_their_pods() {
    let clock = ManualClock::at_unix_secs(T0);
    let cluster = InMemoryCluster::new(clock.clone(), 3);
    cluster.add_node("n1", "8", "32Gi").unwrap();
    cluster
        .set_pod_profile(
            "shop",
            "app=web",
            PodProfile::crash_loop(Duration::from_secs(1)),
        )
        .unwrap();
    let mut web = deployment();
    web["spec"]["replicas"] = json!(2);
    cluster
        .apply(Object::from_json(&Kind::Deployment, web).unwrap())
        .unwrap();
    let mut solo = pod("solo", &json!([]));
    solo["metadata"]["labels"] = json!({"app": "solo"});
    solo.as_object_mut().unwrap().remove("status");
    cluster
        .apply(Object::from_json(&Kind::Pod, solo).unwrap())
        .unwrap();
    cluster.advance(Duration::from_secs(20 * 60));

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let bundle = rt
        .block_on(bundle_from_cluster(
            &cluster,
            &NamespaceFilter::default(),
            &default_kinds(),
        ))
        .unwrap();
    let owned: Vec<&str> = bundle
        .objects()
        .iter()
        .filter(|o| skipped_by_static_checks(o))
        .map(InspectObject::name)
        .collect();
    assert_eq!(owned.len(), 2, "the Deployment's two pods: {owned:?}");
    assert!(owned.iter().all(|n| n.starts_with("web-")), "{owned:?}");

    // The whole default catalogue: no static finding names an owned Pod; the bare Pod still gets them.
    let r = Engine::new(&Config::default(), &RunOptions::default())
        .unwrap()
        .inspect(&bundle, &ManualClock::at_unix_secs(clock.now().as_second()));
    let is_static = |id: &str| {
        CATALOGUE
            .iter()
            .find(|c| c.id == id)
            .is_some_and(|c| c.scope == Scope::Static)
    };
    let on = |name: &str, static_: bool| -> Vec<String> {
        let mut v: Vec<String> = r
            .findings
            .iter()
            .filter(|f| f.resource.kind == "Pod" && f.resource.name == name)
            .filter(|f| is_static(&f.check_id) == static_)
            .map(|f| f.check_id.clone())
            .collect();
        v.sort();
        v.dedup();
        v
    };
    for name in &owned {
        assert!(on(name, true).is_empty(), "{name}: {:?}", on(name, true));
        assert_eq!(on(name, false), ["pod-crashloop"], "{name}");
    }
    assert!(on("solo", true).contains(&"rel-liveness-probe".to_owned()));
    let deployment_static: Vec<&str> = r
        .findings
        .iter()
        .filter(|f| f.resource.kind == "Deployment" && is_static(&f.check_id))
        .map(|f| f.check_id.as_str())
        .collect();
    assert!(deployment_static.contains(&"rel-liveness-probe"));
}
