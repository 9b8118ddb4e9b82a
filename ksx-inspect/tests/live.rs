//! Live input (spec §4.6, §4.7, §4.4 `net-service-endpoints-empty`): a bundle read from the in-memory cluster
//! through the cluster seam, namespace include/exclude, live checks with time from the clock and thresholds
//! from the configuration.
#![allow(
    clippy::unwrap_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use std::time::Duration;

use ksx_core::ManualClock;
use ksx_core::cluster::memory::InMemoryCluster;
use ksx_core::cluster::{Kind, Object};
use ksx_inspect::live::{NamespaceFilter, bundle_from_cluster, default_kinds};
use ksx_inspect::{Bundle, Config, Engine, Report, RunOptions};
use serde_json::json;

/// 2026-01-01T00:00:00Z: every object is created then; the run is 20 minutes later.
const T0: i64 = 1_767_225_600;

fn apply(cluster: &InMemoryCluster, kind: &Kind, value: serde_json::Value) {
    cluster
        .apply(Object::from_json(kind, value).unwrap())
        .unwrap();
}

fn cluster() -> (InMemoryCluster, ManualClock) {
    let clock = ManualClock::at_unix_secs(T0);
    let cluster = InMemoryCluster::new(clock.clone(), 7);
    for ns in ["shop", "other"] {
        apply(
            &cluster,
            &Kind::Namespace,
            json!({"metadata": {"name": ns}}),
        );
    }
    // shop/api crash-loops; shop/web-1 runs but is not ready; other/img cannot pull its image.
    apply(
        &cluster,
        &Kind::Pod,
        json!({
            "metadata": {"name": "api", "namespace": "shop", "labels": {"app": "api"}},
            "spec": {"containers": [{"name": "app", "image": "api:1"}]},
            "status": {"phase": "Running", "containerStatuses": [{
                "name": "app", "image": "api:1", "imageID": "", "ready": false, "restartCount": 9,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}}
            }]}
        }),
    );
    apply(
        &cluster,
        &Kind::Pod,
        json!({
            "metadata": {"name": "web-1", "namespace": "shop", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "web:1"}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]}
        }),
    );
    apply(
        &cluster,
        &Kind::Pod,
        json!({
            "metadata": {"name": "img", "namespace": "other"},
            "spec": {"containers": [{"name": "c", "image": "nope:1"}]},
            "status": {"phase": "Pending", "containerStatuses": [{
                "name": "c", "image": "nope:1", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"waiting": {"reason": "ErrImagePull"}}
            }]}
        }),
    );
    apply(
        &cluster,
        &Kind::Service,
        json!({
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}
        }),
    );
    apply(
        &cluster,
        &Kind::Node,
        json!({
            "metadata": {"name": "worker-1"},
            "status": {"conditions": [
                {"type": "Ready", "status": "False", "reason": "KubeletNotReady"},
                {"type": "DiskPressure", "status": "True", "reason": "KubeletHasDiskPressure"}
            ], "nodeInfo": {
                "kubeletVersion": "v1.30.2", "architecture": "amd64", "bootID": "", "containerRuntimeVersion": "",
                "kernelVersion": "", "kubeProxyVersion": "", "machineID": "", "operatingSystem": "linux",
                "osImage": "", "systemUUID": ""
            }}
        }),
    );
    (cluster, clock)
}

fn read(cluster: &InMemoryCluster, filter: &NamespaceFilter) -> Bundle {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(bundle_from_cluster(cluster, filter, &default_kinds()))
        .unwrap()
}

fn run(bundle: &Bundle, config: &Config, now: i64) -> Report {
    Engine::new(config, &RunOptions::default())
        .unwrap()
        .inspect(bundle, &ManualClock::at_unix_secs(now))
}

fn found(r: &Report) -> Vec<String> {
    let mut v: Vec<String> = r
        .findings
        .iter()
        .filter(|f| f.suppressed.is_none())
        .filter(|f| {
            !f.check_id.starts_with("sec-")
                && !f.check_id.starts_with("rel-")
                && !f.check_id.starts_with("eff-")
                && !f.check_id.starts_with("net-network-policy")
        })
        .map(|f| {
            format!(
                "{} {}/{}/{}",
                f.check_id,
                f.resource.kind,
                f.resource.namespace.as_deref().unwrap_or("-"),
                f.resource.name
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn a_live_bundle_runs_the_live_checks_on_the_included_namespaces() {
    let (cluster, _clock) = cluster();
    let bundle = read(&cluster, &NamespaceFilter::from_list("shop"));
    assert!(bundle.objects().iter().all(|o| o.source.is_none()));
    let r = run(&bundle, &Config::default(), T0 + 20 * 60);
    assert_eq!(r.run.mode, "cluster");
    // The 1.30 kubelet is 3 minors behind the 1.33 API server: within the supported skew (3), so a warning.
    assert_eq!(
        found(&r),
        [
            "net-service-endpoints-empty Service/shop/web",
            "node-kubelet-version-skew Node/-/worker-1",
            "node-not-ready Node/-/worker-1",
            "node-pressure Node/-/worker-1",
            "pod-crashloop Pod/shop/api",
        ]
    );
    let skew = r
        .findings
        .iter()
        .find(|f| f.check_id == "node-kubelet-version-skew")
        .unwrap();
    assert_eq!(skew.severity.to_string(), "warning");
    assert!(r.findings.iter().all(|f| f.location.is_none()));
}

#[test]
fn namespaces_can_be_excluded_and_time_comes_from_the_clock() {
    let (cluster, _clock) = cluster();
    let filter = NamespaceFilter {
        include: Vec::new(),
        exclude: vec!["sh*".into()],
    };
    let bundle = read(&cluster, &filter);
    assert!(bundle.objects().iter().all(|o| o.namespace() != "shop"));
    let r = run(&bundle, &Config::default(), T0 + 20 * 60);
    assert!(found(&r).contains(&"pod-image-pull-error Pod/other/img".to_owned()));
    assert!(!found(&r).iter().any(|f| f.contains("/shop/")));

    // Three minutes after creation the Service is younger than the 5-minute grace: no finding yet.
    let all = read(&cluster, &NamespaceFilter::default());
    let early = run(&all, &Config::default(), T0 + 180);
    assert!(
        !found(&early)
            .iter()
            .any(|f| f.starts_with("net-service-endpoints-empty"))
    );
    let late = run(&all, &Config::default(), T0 + 20 * 60);
    assert!(
        found(&late)
            .iter()
            .any(|f| f.starts_with("net-service-endpoints-empty"))
    );
}

#[test]
fn thresholds_come_from_the_configuration() {
    let (cluster, clock) = cluster();
    // A Pending pod 20 minutes old: over the default 15 minutes, under a configured 30.
    apply(
        &cluster,
        &Kind::Pod,
        json!({
            "metadata": {"name": "batch", "namespace": "shop"},
            "spec": {"containers": [{"name": "w", "image": "w:1"}]},
            "status": {"phase": "Pending", "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}
            ]}
        }),
    );
    clock.advance(Duration::from_secs(0));
    let bundle = read(&cluster, &NamespaceFilter::from_list("shop"));
    let now = T0 + 20 * 60;
    let default = run(&bundle, &Config::default(), now);
    let pending: Vec<&str> = default
        .findings
        .iter()
        .filter(|f| f.check_id == "pod-pending-long")
        .map(|f| f.message.as_str())
        .collect();
    assert_eq!(pending, ["pod has been Pending for 20m (Unschedulable)"]);
    let config = Config::from_yaml(
        "cfg.yaml",
        "checks:\n  overrides:\n    pod-pending-long: {minutes: 30}\n",
    )
    .unwrap();
    let relaxed = run(&bundle, &config, now);
    assert!(
        !relaxed
            .findings
            .iter()
            .any(|f| f.check_id == "pod-pending-long")
    );
}

#[test]
fn live_checks_never_act_on_manifests() {
    let yaml = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/checks/pod-crashloop/fail.yaml"
    ))
    .unwrap();
    let bundle = Bundle::from_loaded(&ksx_core::manifest::parse_str("pod.yaml", &yaml), "default");
    let r = Engine::new(
        &Config::default(),
        &RunOptions {
            checks: Some(vec!["pod-crashloop".into()]),
            ..RunOptions::default()
        },
    )
    .unwrap()
    .inspect(&bundle, &ManualClock::at_unix_secs(1_893_456_000));
    assert_eq!(r.summary.tests.total, 0);
}
