//! `net-service-endpoints-empty` (spec §4.4: "selector Service with no ready endpoint in its EndpointSlices, older
//! than 5 min") on live input: EndpointSlices read through the cluster seam from the in-memory cluster, whose
//! simulator keeps them for Services with a selector; hand-built live bundles for the rules the check follows
//! (an endpoint counts unless `conditions.ready` is `false`; a Service without a slice in a cluster that serves
//! slices has no endpoint; the ready-Pods fallback only when the cluster offers no slice at all).
#![allow(
    clippy::unwrap_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use std::time::Duration;

use ksx_core::cluster::memory::{InMemoryCluster, PodProfile, SERVICE_NAME_LABEL};
use ksx_core::cluster::{Kind, Object};
use ksx_core::{Clock, ManualClock};
use ksx_inspect::bundle::InspectObject;
use ksx_inspect::live::{NamespaceFilter, bundle_from_cluster, default_kinds};
use ksx_inspect::{Bundle, Config, Engine, Report, RunOptions};
use serde_json::{Value, json};

const CHECK: &str = "net-service-endpoints-empty";
/// 2026-01-01T00:00:00Z.
const T0: i64 = 1_767_225_600;

fn apply(cluster: &InMemoryCluster, kind: &Kind, value: Value) {
    cluster
        .apply(Object::from_json(kind, value).unwrap())
        .unwrap();
}

fn deployment(name: &str, replicas: i32) -> Value {
    json!({
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": format!("{name}:1"),
                    "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}
            }
        }
    })
}

fn service(name: &str, selector: &Value) -> Value {
    json!({
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {"selector": selector, "ports": [{"port": 80, "targetPort": 8080}]}
    })
}

fn only_this_check(bundle: &Bundle, now: i64) -> Report {
    let options = RunOptions {
        checks: Some(vec![CHECK.to_owned()]),
        ..RunOptions::default()
    };
    Engine::new(&Config::default(), &options)
        .unwrap()
        .inspect(bundle, &ManualClock::at_unix_secs(now))
}

/// `Service/name: message` of every finding, sorted.
fn findings(r: &Report) -> Vec<String> {
    let mut v: Vec<String> = r
        .findings
        .iter()
        .filter(|f| f.check_id == CHECK)
        .map(|f| format!("{}: {}", f.resource.name, f.message))
        .collect();
    v.sort();
    v
}

#[test]
fn the_simulated_cluster_serves_slices_and_the_check_reads_them() {
    let clock = ManualClock::at_unix_secs(T0);
    let cluster = InMemoryCluster::new(clock.clone(), 11);
    cluster.add_node("n1", "8", "32Gi").unwrap();
    cluster
        .set_pod_profile("shop", "app=api", PodProfile::never_ready())
        .unwrap();
    // web: two healthy pods; api: one pod that never gets Ready; ghost: selects nothing; external: no selector,
    // with a slice its owner maintains by hand (no ready endpoint, but the check skips selector-less Services).
    apply(&cluster, &Kind::Deployment, deployment("web", 2));
    apply(&cluster, &Kind::Deployment, deployment("api", 1));
    for (name, selector) in [
        ("web", json!({"app": "web"})),
        ("api", json!({"app": "api"})),
        ("ghost", json!({"app": "ghost"})),
        ("external", json!({})),
    ] {
        apply(&cluster, &Kind::Service, service(name, &selector));
    }
    apply(
        &cluster,
        &Kind::EndpointSlice,
        json!({
            "metadata": {"name": "external-1", "namespace": "shop", "labels": {SERVICE_NAME_LABEL: "external"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["192.0.2.1"], "conditions": {"ready": false}}]
        }),
    );
    cluster.advance(Duration::from_secs(10 * 60));

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
    let mut slices: Vec<String> = bundle
        .objects()
        .iter()
        .filter(|o| o.kind() == "EndpointSlice")
        .map(|o| {
            o.value["metadata"]["labels"][SERVICE_NAME_LABEL]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    slices.sort();
    assert_eq!(slices, ["api", "external", "ghost", "web"]);
    assert!(
        bundle
            .objects()
            .iter()
            .filter(|o| o.kind() == "EndpointSlice")
            .all(|o| o.resource.api_version == "discovery.k8s.io/v1")
    );

    let now = clock.now().as_second();
    let r = only_this_check(&bundle, now);
    assert_eq!(
        findings(&r),
        [
            "api: service api has no ready endpoint (EndpointSlices checked) for more than 5m",
            "ghost: service ghost has no ready endpoint (EndpointSlices checked) for more than 5m",
        ]
    );
    // web passed: one test per selector Service (external has no selector: no test).
    assert_eq!(r.summary.tests.total, 3);

    // The whole catalogue: the slices themselves are no subject of any finding.
    let all = Engine::new(&Config::default(), &RunOptions::default())
        .unwrap()
        .inspect(&bundle, &ManualClock::at_unix_secs(now));
    let on_slices: Vec<&str> = all
        .findings
        .iter()
        .filter(|f| f.resource.kind == "EndpointSlice")
        .map(|f| f.check_id.as_str())
        .collect();
    assert!(on_slices.is_empty(), "{on_slices:?}");
}

fn live(value: Value) -> InspectObject {
    InspectObject::new(value, None, "default")
}

fn live_service(name: &str) -> InspectObject {
    live(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": "shop", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"selector": {"app": name}, "ports": [{"port": 80}]}
    }))
}

fn live_slice(name: &str, service: &str, endpoints: &Value) -> InspectObject {
    live(json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": name, "namespace": "shop", "labels": {"kubernetes.io/service-name": service}},
        "addressType": "IPv4",
        "endpoints": endpoints
    }))
}

fn live_pod(name: &str, app: &str, ready: &str) -> InspectObject {
    live(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "shop", "labels": {"app": app}},
        "spec": {"containers": [{"name": "c", "image": "c:1"}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": ready}]}
    }))
}

#[test]
fn endpoints_count_unless_ready_is_false_and_a_missing_slice_means_none() {
    let bundle = Bundle::from_objects(vec![
        // a: every endpoint explicitly not ready, though a Ready pod matches: finding.
        live_service("a"),
        live_slice(
            "a-1",
            "a",
            &json!([{"addresses": ["10.0.0.1"], "conditions": {"ready": false}}]),
        ),
        live_pod("a-pod", "a", "True"),
        // b: `ready` unset counts as ready, across two slices: no finding, though its pod is not Ready.
        live_service("b"),
        live_slice(
            "b-1",
            "b",
            &json!([{"addresses": ["10.0.0.2"], "conditions": {"ready": false}}]),
        ),
        live_slice("b-2", "b", &json!([{"addresses": ["10.0.0.3"]}])),
        live_pod("b-pod", "b", "False"),
        // c: no slice while the cluster serves slices: no endpoint, even with a Ready pod.
        live_service("c"),
        live_pod("c-pod", "c", "True"),
        // d: an empty slice.
        live_service("d"),
        live_slice("d-1", "d", &json!([])),
    ]);
    let r = only_this_check(&bundle, T0 + 20 * 60);
    assert_eq!(
        findings(&r),
        [
            "a: service a has no ready endpoint (EndpointSlices checked) for more than 5m",
            "c: service c has no ready endpoint (EndpointSlices checked) for more than 5m",
            "d: service d has no ready endpoint (EndpointSlices checked) for more than 5m",
        ]
    );
    // Younger than 5 minutes: a test, no finding.
    let early = only_this_check(&bundle, T0 + 4 * 60);
    assert!(findings(&early).is_empty());
    assert_eq!(early.summary.tests.total, 4);
}

#[test]
fn without_any_slice_the_check_falls_back_to_ready_pods() {
    let bundle = Bundle::from_objects(vec![
        live_service("a"),
        live_pod("a-pod", "a", "False"),
        live_service("b"),
        live_pod("b-pod", "b", "True"),
    ]);
    let r = only_this_check(&bundle, T0 + 20 * 60);
    assert_eq!(
        findings(&r),
        ["a: service a has no ready endpoint (ready Pods checked) for more than 5m"]
    );
}
