//! Tests of the VPA updater: upstream's selection rules as pure cases, and the ksx apply path end to end on the
//! in-memory cluster (plan → patch → the simulated rolling update replaces every pod).

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use ksx_core::cluster::{CustomObject, Kind, ListOptions, Object};
use ksx_core::{InMemoryCluster, ManualClock};
use serde_json::{Value, json};

use super::crd::VerticalPodAutoscaler;
use super::updater::{
    Action, PlanInput, RateLimiter, Target, UpdaterConfig, apply, gather, plan, vpa_kind,
};

const NS: &str = "shop";
const T0: i64 = 1_700_000_000;
const SEC: i64 = 1_000_000_000;

fn deployment(name: &str, replicas: i32) -> Value {
    json!({
        "metadata": {"name": name, "namespace": NS, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name},
                    "annotations": {"sim.ksx.io/startup-delay-seconds": "5"}},
                "spec": {"containers": [
                    {"name": "app", "image": "registry.example.com/app:1",
                     "resources": {"requests": {"cpu": "100m", "memory": "64Mi"},
                                   "limits": {"cpu": "200m", "memory": "128Mi"}}},
                    {"name": "proxy", "image": "registry.example.com/proxy:1",
                     "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}}}
                ]}
            }
        }
    })
}

/// A VPA on Deployment `target` recommending 250m / 256Mi for `app` (range 200m–500m, 200Mi–512Mi).
fn vpa(name: &str, target: &str, mode: &str, extra_policy: &Value) -> Value {
    json!({
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
            "updatePolicy": {"updateMode": mode},
            "resourcePolicy": {"containerPolicies": [extra_policy]}
        },
        "status": {"recommendation": {"containerRecommendations": [
            {"containerName": "app",
             "target": {"cpu": "250m", "memory": "256Mi"},
             "lowerBound": {"cpu": "200m", "memory": "200Mi"},
             "upperBound": {"cpu": "500m", "memory": "512Mi"}}
        ]}}
    })
}

fn default_policy() -> Value {
    json!({"containerName": "*"})
}

async fn cluster_with(objects: &[(Kind, Value)]) -> InMemoryCluster {
    let cluster = InMemoryCluster::new(ManualClock::at_unix_secs(T0), 7);
    cluster.add_node("node-a", "16", "64Gi").unwrap();
    cluster.add_node("node-b", "16", "64Gi").unwrap();
    for (kind, value) in objects {
        let object = if *kind == Kind::Custom(vpa_kind()) {
            let mut custom: CustomObject = serde_json::from_value(value.clone()).unwrap();
            custom.kind = vpa_kind();
            Object::Custom(custom)
        } else {
            Object::from_json(kind, value.clone()).unwrap()
        };
        cluster.apply(object).unwrap();
    }
    cluster.advance(Duration::from_secs(30));
    cluster
}

fn now(cluster: &InMemoryCluster) -> i64 {
    use ksx_core::Clock as _;
    i64::try_from(cluster.clock().now().as_nanosecond()).unwrap()
}

fn pods(cluster: &InMemoryCluster, app: &str) -> Vec<Pod> {
    cluster
        .list_sync(
            &Kind::Pod,
            Some(NS),
            &ListOptions::labels(format!("app={app}")),
        )
        .unwrap()
        .into_iter()
        .filter_map(|o| match o {
            Object::Pod(p) => Some(p),
            _ => None,
        })
        .collect()
}

fn is_ready(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_none()
        && p.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn resources_of(p: &Pod, container: &str) -> Value {
    let c = p
        .spec
        .as_ref()
        .unwrap()
        .containers
        .iter()
        .find(|c| c.name == container)
        .unwrap();
    serde_json::to_value(c.resources.as_ref().unwrap()).unwrap()
}

fn vpa_obj() -> Kind {
    Kind::Custom(vpa_kind())
}

#[tokio::test]
async fn under_requested_deployment_rolls_to_the_recommendation() {
    let cluster = cluster_with(&[
        (Kind::Deployment, deployment("web", 4)),
        (vpa_obj(), vpa("web", "web", "Recreate", &default_policy())),
    ])
    .await;
    assert_eq!(
        pods(&cluster, "web").iter().filter(|p| is_ready(p)).count(),
        4
    );

    let input = gather(&cluster, Some(NS)).await.unwrap();
    let decided = plan(
        &input,
        &UpdaterConfig::default(),
        &mut RateLimiter::default(),
        now(&cluster),
    );
    let w = &decided.workloads[0];
    assert_eq!(w.action, Action::Update, "{}", w.reason);
    // 100m is below the 200m lower bound: outside the range, and a scale-up.
    let p = w.priority.unwrap();
    assert!(p.outside_recommended_range && p.scale_up);
    // resourceDiff by hand: |100m − 250m| / 100m + |64Mi − 256Mi| / 64Mi = 1.5 + 3 = 4.5.
    assert!((p.resource_diff - 4.5).abs() < 1e-9, "{}", p.resource_diff);
    assert_eq!(w.pods_to_update, 4);
    // `proxy` has no recommendation: untouched, and said so.
    let proxy = w.containers.iter().find(|c| c.name == "proxy").unwrap();
    assert!(proxy.changes.is_empty());
    assert_eq!(
        proxy.skipped[0].reason,
        "no recommendation for this container"
    );

    let applied = apply(&decided, &cluster).await;
    assert_eq!(applied.len(), 1);
    assert_eq!(applied[0].error, None);

    // Default strategy for 4 replicas: maxSurge 25 % → 1 (up), maxUnavailable 25 % → 1 (down).
    let mut min_ready = usize::MAX;
    let mut max_pods = 0;
    for _ in 0..180 {
        cluster.advance(Duration::from_secs(1));
        let all = pods(&cluster, "web");
        min_ready = min_ready.min(all.iter().filter(|p| is_ready(p)).count());
        max_pods = max_pods.max(
            all.iter()
                .filter(|p| p.metadata.deletion_timestamp.is_none())
                .count(),
        );
    }
    assert!(
        min_ready >= 3,
        "the rollout kept 4 − maxUnavailable 1 ready, saw {min_ready}"
    );
    assert!(
        max_pods <= 5,
        "never more than 4 + maxSurge 1 pods, saw {max_pods}"
    );
    let after = pods(&cluster, "web");
    assert_eq!(after.len(), 4);
    for pod in &after {
        assert!(is_ready(pod));
        // Requests = target; limits keep their ratio: cpu 200m × 250/100 = 500m, memory 128Mi × 256/64 = 512Mi.
        assert_eq!(
            resources_of(pod, "app"),
            json!({"requests": {"cpu": "250m", "memory": "256Mi"},
                   "limits": {"cpu": "500m", "memory": "512Mi"}})
        );
        assert_eq!(
            resources_of(pod, "proxy"),
            json!({"requests": {"cpu": "50m", "memory": "32Mi"}})
        );
    }

    // Once rolled out, the next plan has nothing left to do.
    let input = gather(&cluster, Some(NS)).await.unwrap();
    let again = plan(
        &input,
        &UpdaterConfig::default(),
        &mut RateLimiter::default(),
        now(&cluster),
    );
    assert_eq!(again.workloads[0].action, Action::Skip);
    assert_eq!(
        again.workloads[0].reason,
        "the pod template already carries the recommended requests"
    );
}

#[tokio::test]
async fn cpu_under_a_utilization_hpa_is_left_alone() {
    let hpa = json!({
        "metadata": {"name": "web", "namespace": NS},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 2, "maxReplicas": 10,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 60}}}]
        }
    });
    let cluster = cluster_with(&[
        (Kind::Deployment, deployment("web", 3)),
        (Kind::HorizontalPodAutoscaler, hpa),
        (vpa_obj(), vpa("web", "web", "Auto", &default_policy())),
    ])
    .await;
    let input = gather(&cluster, Some(NS)).await.unwrap();
    let decided = plan(
        &input,
        &UpdaterConfig::default(),
        &mut RateLimiter::default(),
        now(&cluster),
    );
    let w = &decided.workloads[0];
    assert_eq!(w.action, Action::Update, "{}", w.reason);
    let app = w.containers.iter().find(|c| c.name == "app").unwrap();
    assert!(
        app.changes.iter().all(|c| c.resource == "memory"),
        "{:?}",
        app.changes
    );
    assert_eq!(app.skipped.len(), 1);
    assert_eq!(app.skipped[0].resource, "cpu");
    assert!(
        app.skipped[0]
            .reason
            .contains("HorizontalPodAutoscaler shop/web scales on cpu Utilization"),
        "{}",
        app.skipped[0].reason
    );
    // Memory alone: |64Mi − 256Mi| / 64Mi = 3.
    assert!((w.priority.unwrap().resource_diff - 3.0).abs() < 1e-9);

    apply(&decided, &cluster).await;
    cluster.advance(Duration::from_secs(120));
    for pod in pods(&cluster, "web") {
        assert_eq!(
            resources_of(&pod, "app"),
            json!({"requests": {"cpu": "100m", "memory": "256Mi"},
                   "limits": {"cpu": "200m", "memory": "512Mi"}})
        );
    }
}

#[tokio::test]
async fn modes_off_and_initial_and_in_place_patch_nothing() {
    for (mode, reason) in [
        ("Off", "updateMode Off: the VPA only recommends"),
        (
            "Initial",
            "updateMode Initial: requests are set at pod creation only",
        ),
        (
            "InPlace",
            "updateMode InPlace: pods are never evicted, and ksx applies updates through the pod template only",
        ),
    ] {
        let cluster = cluster_with(&[
            (Kind::Deployment, deployment("web", 4)),
            (vpa_obj(), vpa("web", "web", mode, &default_policy())),
        ])
        .await;
        let input = gather(&cluster, Some(NS)).await.unwrap();
        let decided = plan(
            &input,
            &UpdaterConfig::default(),
            &mut RateLimiter::default(),
            now(&cluster),
        );
        assert_eq!(decided.workloads[0].action, Action::Skip, "{mode}");
        assert_eq!(decided.workloads[0].reason, reason);
        assert!(decided.workloads[0].patch.is_none());
        assert!(apply(&decided, &cluster).await.is_empty());
        cluster.advance(Duration::from_secs(60));
        for pod in pods(&cluster, "web") {
            assert_eq!(
                resources_of(&pod, "app")["requests"]["cpu"],
                "100m",
                "{mode}"
            );
        }
    }
}

#[tokio::test]
async fn container_policy_off_and_requests_only() {
    // `app` RequestsOnly: limits stay as they are.
    let cluster = cluster_with(&[
        (Kind::Deployment, deployment("web", 2)),
        (
            vpa_obj(),
            vpa(
                "web",
                "web",
                "Recreate",
                &json!({"containerName": "app", "controlledValues": "RequestsOnly",
                       "controlledResources": ["memory"]}),
            ),
        ),
    ])
    .await;
    let input = gather(&cluster, Some(NS)).await.unwrap();
    let decided = plan(
        &input,
        &UpdaterConfig::default(),
        &mut RateLimiter::default(),
        now(&cluster),
    );
    let w = &decided.workloads[0];
    assert_eq!(w.action, Action::Update, "{}", w.reason);
    let app = w.containers.iter().find(|c| c.name == "app").unwrap();
    assert_eq!(app.changes.len(), 1, "{:?}", app.changes);
    assert_eq!(
        (
            app.changes[0].resource.as_str(),
            app.changes[0].field.as_str()
        ),
        ("memory", "requests")
    );
    assert_eq!(app.skipped[0].reason, "not in controlledResources");

    // Mode Off on the container: nothing to apply.
    let cluster = cluster_with(&[
        (Kind::Deployment, deployment("web", 2)),
        (
            vpa_obj(),
            vpa(
                "web",
                "web",
                "Recreate",
                &json!({"containerName": "app", "mode": "Off"}),
            ),
        ),
    ])
    .await;
    let input = gather(&cluster, Some(NS)).await.unwrap();
    let decided = plan(
        &input,
        &UpdaterConfig::default(),
        &mut RateLimiter::default(),
        now(&cluster),
    );
    let w = &decided.workloads[0];
    assert_eq!(w.action, Action::Skip);
    assert!(w.reason.starts_with("nothing to apply"), "{}", w.reason);
    assert_eq!(
        w.containers[0].skipped[0].reason,
        "container policy mode Off"
    );
}

#[tokio::test]
async fn under_min_replicas_is_skipped_with_the_reason() {
    let cluster = cluster_with(&[
        (Kind::Deployment, deployment("web", 1)),
        (vpa_obj(), vpa("web", "web", "Recreate", &default_policy())),
    ])
    .await;
    let input = gather(&cluster, Some(NS)).await.unwrap();
    let decided = plan(
        &input,
        &UpdaterConfig::default(),
        &mut RateLimiter::default(),
        now(&cluster),
    );
    assert_eq!(decided.workloads[0].action, Action::Skip);
    assert_eq!(
        decided.workloads[0].reason,
        "too few replicas: 1 live pods, minReplicas 2"
    );
    // A per-VPA minReplicas of 1 lets it through.
    let mut input = input;
    input.targets[0]
        .vpa
        .spec
        .update_policy
        .as_mut()
        .unwrap()
        .min_replicas = Some(1);
    let decided = plan(
        &input,
        &UpdaterConfig::default(),
        &mut RateLimiter::default(),
        now(&cluster),
    );
    // One replica: tolerance trunc(0.5) = 0 with every pod running allows one disruption, but the default
    // strategy (25 % of 1 → surge 1, unavailable 0) takes no pod down at once.
    assert_eq!(
        decided.workloads[0].action,
        Action::Update,
        "{}",
        decided.workloads[0].reason
    );
}

#[tokio::test]
async fn rate_limit_holds_back_the_second_workload() {
    let mut small = deployment("b", 2);
    // `b` asks for less: requests 200m / 128Mi against the same recommendation → diff 0.25 + 1 = 1.25, inside
    // the range for cpu but below it for memory.
    small["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"] =
        json!({"cpu": "200m", "memory": "128Mi"});
    let cluster = cluster_with(&[
        (Kind::Deployment, small),
        (Kind::Deployment, deployment("a", 2)),
        (vpa_obj(), vpa("a", "a", "Recreate", &default_policy())),
        (vpa_obj(), vpa("b", "b", "Recreate", &default_policy())),
    ])
    .await;
    let input = gather(&cluster, Some(NS)).await.unwrap();
    let mut limiter = RateLimiter::new(0.1, 1);
    let t = now(&cluster);
    let decided = plan(&input, &UpdaterConfig::default(), &mut limiter, t);
    // Both are scale-ups; `a` has the larger diff (4.5 against 1.25), so it takes the only token.
    let by_name = |n: &str| {
        decided
            .workloads
            .iter()
            .find(|w| w.name == n)
            .unwrap()
            .clone()
    };
    assert_eq!(by_name("a").action, Action::Update);
    assert_eq!(by_name("b").action, Action::Skip);
    assert_eq!(
        by_name("b").reason,
        "rate limited: --eviction-rate-limit has no token left for this update"
    );
    assert!(by_name("b").patch.is_none());
    assert_eq!(apply(&decided, &cluster).await.len(), 1);
    // Ten seconds later at 0.1 per second the bucket holds a token again.
    let input = gather(&cluster, Some(NS)).await.unwrap();
    let decided = plan(
        &input,
        &UpdaterConfig::default(),
        &mut limiter,
        t + 10 * SEC,
    );
    let b = decided.workloads.iter().find(|w| w.name == "b").unwrap();
    assert_eq!(b.action, Action::Update, "{}", b.reason);
}

#[tokio::test]
async fn a_budget_the_rollout_would_break_stops_it() {
    let pdb = json!({
        "metadata": {"name": "web", "namespace": NS},
        "spec": {"minAvailable": 4, "selector": {"matchLabels": {"app": "web"}}}
    });
    let cluster = cluster_with(&[
        (Kind::Deployment, deployment("web", 4)),
        (Kind::PodDisruptionBudget, pdb),
        (vpa_obj(), vpa("web", "web", "Recreate", &default_policy())),
    ])
    .await;
    let input = gather(&cluster, Some(NS)).await.unwrap();
    let decided = plan(
        &input,
        &UpdaterConfig::default(),
        &mut RateLimiter::default(),
        now(&cluster),
    );
    assert_eq!(decided.workloads[0].action, Action::Skip);
    assert_eq!(
        decided.workloads[0].reason,
        "PodDisruptionBudget shop/web needs 4 pods available, and the rollout may leave 3 (1 of 4 unavailable at once)"
    );
}

// Pure cases of upstream's per-pod rules, without a cluster.

fn pure_input(mode: &str, pods: Vec<Value>) -> PlanInput {
    let workload = Object::from_json(&Kind::Deployment, {
        let mut d = deployment("web", i32::try_from(pods.len()).unwrap());
        d["metadata"]["generation"] = json!(1);
        d["status"] =
            json!({"observedGeneration": 1, "replicas": pods.len(), "updatedReplicas": pods.len()});
        d
    })
    .unwrap();
    let vpa: VerticalPodAutoscaler =
        serde_json::from_value(vpa("web", "web", mode, &default_policy())).unwrap();
    PlanInput {
        targets: vec![Target {
            vpa,
            workload: Some(workload),
            pods: pods
                .into_iter()
                .map(|p| serde_json::from_value(p).unwrap())
                .collect(),
        }],
        ..PlanInput::default()
    }
}

/// A running pod started `age_secs` before T0 with the given `app` requests, optionally OOM-killed after
/// `oom_after_secs` of life.
fn pod(name: &str, age_secs: i64, cpu: &str, memory: &str, oom_after_secs: Option<i64>) -> Value {
    let ts = |s: i64| jiff::Timestamp::from_second(s).unwrap().to_string();
    let mut status = json!({
        "phase": "Running",
        "startTime": ts(T0 - age_secs),
        "conditions": [{"type": "Ready", "status": "True"}]
    });
    if let Some(after) = oom_after_secs {
        status["containerStatuses"] = json!([{
            "name": "app", "ready": true, "restartCount": 1, "image": "x", "imageID": "",
            "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled",
                "startedAt": ts(T0 - 100), "finishedAt": ts(T0 - 100 + after)}}
        }]);
    }
    json!({
        "metadata": {"name": name, "namespace": NS, "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "app",
            "resources": {"requests": {"cpu": cpu, "memory": memory}}}]},
        "status": status
    })
}

fn decide(input: &PlanInput) -> super::updater::WorkloadPlan {
    plan(
        input,
        &UpdaterConfig::default(),
        &mut RateLimiter::default(),
        T0 * SEC,
    )
    .workloads
    .remove(0)
}

#[test]
fn within_range_young_pods_wait_and_old_ones_update() {
    // The template asks for 100m / 64Mi (so a change exists), but the pods already run 240m / 240Mi: inside
    // [200m, 500m] and [200Mi, 512Mi]. diff = 10/240 + 16/240 ≈ 0.108 ≥ 0.1.
    let young = pure_input(
        "Recreate",
        vec![
            pod("a", 3600, "240m", "240Mi", None),
            pod("b", 3600, "240m", "240Mi", None),
        ],
    );
    let w = decide(&young);
    assert_eq!(w.action, Action::Skip);
    assert!(
        w.reason.starts_with("no pod needs an update"),
        "{}",
        w.reason
    );

    let old = pure_input(
        "Recreate",
        vec![
            pod("a", 13 * 3600, "240m", "240Mi", None),
            pod("b", 3600, "240m", "240Mi", None),
        ],
    );
    let w = decide(&old);
    assert_eq!(w.action, Action::Update, "{}", w.reason);
    assert_eq!(w.pods_to_update, 1);
    let p = w.priority.unwrap();
    assert!(!p.outside_recommended_range && p.scale_up);
    assert!((p.resource_diff - 26.0 / 240.0).abs() < 1e-9);

    // An old pod whose diff stays below 0.1 waits: 245m / 250Mi → 5/245 + 6/250 ≈ 0.044.
    let small = pure_input(
        "Recreate",
        vec![
            pod("a", 13 * 3600, "245m", "250Mi", None),
            pod("b", 13 * 3600, "245m", "250Mi", None),
        ],
    );
    assert_eq!(decide(&small).action, Action::Skip);
}

#[test]
fn a_quick_oom_makes_a_young_pod_eligible() {
    // OOM-killed 60 s after its start, inside the 10-minute threshold.
    let quick = pure_input(
        "Auto",
        vec![
            pod("a", 600, "240m", "240Mi", Some(60)),
            pod("b", 600, "240m", "240Mi", None),
        ],
    );
    let w = decide(&quick);
    assert_eq!(w.action, Action::Update, "{}", w.reason);
    assert_eq!(w.pods_to_update, 1);
    // After 11 minutes of life it no longer counts.
    let slow = pure_input(
        "Auto",
        vec![
            pod("a", 600, "240m", "240Mi", Some(660)),
            pod("b", 600, "240m", "240Mi", None),
        ],
    );
    assert_eq!(decide(&slow).action, Action::Skip);
    // A per-VPA evictAfterOOMSeconds of 30 makes the 60 s kill too slow as well.
    let mut short = quick.clone();
    short.targets[0]
        .vpa
        .spec
        .update_policy
        .as_mut()
        .unwrap()
        .evict_after_oom_seconds = Some(30);
    assert_eq!(decide(&short).action, Action::Skip);
}

#[test]
fn the_eviction_tolerance_needs_enough_running_pods() {
    // Four configured, two running: tolerance trunc(4 × 0.5) = 2 and 2 > 4 − 2 fails.
    let mut pods = vec![
        pod("a", 60, "100m", "64Mi", None),
        pod("b", 60, "100m", "64Mi", None),
        pod("c", 60, "100m", "64Mi", None),
        pod("d", 60, "100m", "64Mi", None),
    ];
    pods[2]["status"]["phase"] = json!("Pending");
    pods[3]["status"]["phase"] = json!("Pending");
    let w = decide(&pure_input("Recreate", pods.clone()));
    assert_eq!(w.action, Action::Skip);
    assert_eq!(
        w.reason,
        "eviction tolerance: 2 of 4 pods running, at most 2 may be disrupted"
    );
    // Three running: 3 > 2 passes.
    pods[2]["status"]["phase"] = json!("Running");
    assert_eq!(decide(&pure_input("Recreate", pods)).action, Action::Update);
}

#[test]
fn a_missing_workload_or_recommendation_is_reported() {
    let mut input = pure_input("Recreate", vec![pod("a", 60, "100m", "64Mi", None)]);
    input.targets[0].workload = None;
    assert_eq!(
        decide(&input).reason,
        "targetRef Deployment shop/web not found"
    );
    let mut input = pure_input(
        "Recreate",
        vec![
            pod("a", 60, "100m", "64Mi", None),
            pod("b", 60, "100m", "64Mi", None),
        ],
    );
    input.targets[0].vpa.status = None;
    assert_eq!(decide(&input).reason, "no recommendation yet");
}

#[test]
fn the_token_bucket_refills_at_its_rate() {
    let mut limiter = RateLimiter::new(0.5, 1);
    assert!(limiter.allow(0));
    assert!(!limiter.allow(0));
    assert!(!limiter.allow(SEC), "half a token after one second");
    assert!(limiter.allow(2 * SEC));
    assert!(!limiter.allow(SEC), "time going backwards adds nothing");
    let mut off = RateLimiter::new(-1.0, 1);
    assert!(off.is_unlimited());
    assert!((0..100).all(|_| off.allow(0)));
    let mut burst = RateLimiter::new(1.0, 3);
    assert_eq!((0..5).filter(|_| burst.allow(0)).count(), 3);
}

proptest::proptest! {
    /// A bucket never grants more than `burst + rate × elapsed` tokens.
    #[test]
    fn the_bucket_never_overspends(rate in 0.01f64..10.0, burst in 1u32..5, steps in proptest::collection::vec(0i64..5_000_000_000, 1..50)) {
        let mut limiter = RateLimiter::new(rate, burst);
        let mut t = 0i64;
        let mut granted = 0u32;
        for step in steps {
            t += step;
            if limiter.allow(t) {
                granted += 1;
            }
        }
        let bound = f64::from(burst) + rate * t as f64 / SEC as f64;
        proptest::prop_assert!(f64::from(granted) <= bound + 1e-9);
    }
}

#[tokio::test]
async fn a_statefulset_rolls_one_pod_at_a_time() {
    let sts = json!({
        "metadata": {"name": "db", "namespace": NS, "labels": {"app": "db"}},
        "spec": {
            "replicas": 3,
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "template": deployment("db", 3)["spec"]["template"].clone()
        }
    });
    let mut v = vpa("db", "db", "Recreate", &default_policy());
    v["spec"]["targetRef"]["kind"] = json!("StatefulSet");
    let cluster = cluster_with(&[(Kind::StatefulSet, sts), (vpa_obj(), v)]).await;
    assert_eq!(
        pods(&cluster, "db").iter().filter(|p| is_ready(p)).count(),
        3
    );
    let input = gather(&cluster, Some(NS)).await.unwrap();
    let decided = plan(
        &input,
        &UpdaterConfig::default(),
        &mut RateLimiter::default(),
        now(&cluster),
    );
    let w = &decided.workloads[0];
    assert_eq!(
        (w.kind.as_str(), w.action),
        ("StatefulSet", Action::Update),
        "{}",
        w.reason
    );
    assert!(
        w.reason
            .ends_with("rolled out with at most 1 pod(s) unavailable at a time"),
        "{}",
        w.reason
    );
    assert_eq!(apply(&decided, &cluster).await[0].error, None);
    let mut min_ready = usize::MAX;
    for _ in 0..120 {
        cluster.advance(Duration::from_secs(1));
        min_ready = min_ready.min(pods(&cluster, "db").iter().filter(|p| is_ready(p)).count());
    }
    assert!(min_ready >= 2, "one pod at a time, saw {min_ready} ready");
    let after = pods(&cluster, "db");
    assert_eq!(after.len(), 3);
    for pod in &after {
        assert_eq!(
            resources_of(pod, "app")["requests"],
            json!({"cpu": "250m", "memory": "256Mi"})
        );
    }
}

#[test]
fn hpa_coverage_follows_the_metric_type_and_container() {
    let hpa = |metrics: Value| -> k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": NS},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                     "maxReplicas": 5, "metrics": metrics}
        }))
        .unwrap()
    };
    let pods = vec![
        pod("a", 60, "100m", "64Mi", None),
        pod("b", 60, "100m", "64Mi", None),
    ];
    let skipped = |input: &PlanInput| -> Vec<String> {
        let w = decide(input);
        let app = w.containers.iter().find(|c| c.name == "app").unwrap();
        app.skipped.iter().map(|s| s.resource.clone()).collect()
    };
    // No metrics: CPU Utilization 80 by default, so cpu is left alone.
    let mut input = pure_input("Recreate", pods.clone());
    input.hpas = vec![hpa(json!([]))];
    assert_eq!(skipped(&input), vec!["cpu"]);
    // A ContainerResource memory Utilization metric on another container does not cover `app`.
    input.hpas = vec![hpa(
        json!([{"type": "ContainerResource", "containerResource": {
        "name": "memory", "container": "proxy", "target": {"type": "Utilization", "averageUtilization": 70}}}]),
    )];
    assert!(skipped(&input).is_empty());
    // On `app` it does.
    input.hpas = vec![hpa(
        json!([{"type": "ContainerResource", "containerResource": {
        "name": "memory", "container": "app", "target": {"type": "Utilization", "averageUtilization": 70}}}]),
    )];
    assert_eq!(skipped(&input), vec!["memory"]);
    // AverageValue targets are allowed beside a VPA (§6).
    input.hpas = vec![hpa(json!([{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "AverageValue", "averageValue": "200m"}}}]))];
    assert!(skipped(&input).is_empty());
    // An HPA on another workload is not looked at.
    let mut other = hpa(json!([]));
    other.spec.as_mut().unwrap().scale_target_ref.name = "api".into();
    input.hpas = vec![other];
    assert!(skipped(&input).is_empty());
}

proptest::proptest! {
    /// Whatever the requests, the recommendation and the HPA beside it: the plan never panics, never changes a
    /// resource the HPA scales on with Utilization, sets every changed request to the target, and keeps each
    /// limit's ratio to its request (floored).
    #[test]
    fn plans_respect_the_hpa_and_the_target(
        cpu_m in 1i64..4000,
        mem_mi in 1i64..4000,
        target_cpu_m in 1i64..4000,
        target_mem_mi in 1i64..4000,
        age_h in 0i64..48,
        hpa_kind in 0usize..4,
    ) {
        let mut input = pure_input(
            "Recreate",
            vec![
                pod("a", age_h * 3600, &format!("{cpu_m}m"), &format!("{mem_mi}Mi"), None),
                pod("b", age_h * 3600, &format!("{cpu_m}m"), &format!("{mem_mi}Mi"), None),
            ],
        );
        // The template carries the pods' requests, with limits at twice the request.
        let Some(Object::Deployment(d)) = input.targets[0].workload.as_mut() else { unreachable!() };
        let container = &mut d.spec.as_mut().unwrap().template.spec.as_mut().unwrap().containers[0];
        container.resources = Some(serde_json::from_value(json!({
            "requests": {"cpu": format!("{cpu_m}m"), "memory": format!("{mem_mi}Mi")},
            "limits": {"cpu": format!("{}m", 2 * cpu_m), "memory": format!("{}Mi", 2 * mem_mi)}
        })).unwrap());
        let rec = &mut input.targets[0].vpa.status.as_mut().unwrap().recommendation.as_mut().unwrap()
            .container_recommendations[0];
        rec.target = serde_json::from_value(json!({"cpu": format!("{target_cpu_m}m"), "memory": format!("{target_mem_mi}Mi")})).unwrap();
        let metrics = match hpa_kind {
            0 => None,
            1 => Some(json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}])),
            2 => Some(json!([{"type": "Resource", "resource": {"name": "memory", "target": {"type": "Utilization", "averageUtilization": 50}}}])),
            _ => Some(json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "AverageValue", "averageValue": "100m"}}}])),
        };
        let blocked = match hpa_kind { 1 => Some("cpu"), 2 => Some("memory"), _ => None };
        if let Some(metrics) = metrics {
            input.hpas = vec![serde_json::from_value(json!({
                "metadata": {"name": "web", "namespace": NS},
                "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                         "maxReplicas": 5, "metrics": metrics}
            })).unwrap()];
        }
        let w = decide(&input);
        let app = w.containers.iter().find(|c| c.name == "app").unwrap();
        let target = |r: &str| if r == "cpu" { target_cpu_m } else { target_mem_mi * 1024 * 1024 * 1000 };
        let request = |r: &str| if r == "cpu" { cpu_m } else { mem_mi * 1024 * 1024 * 1000 };
        for change in &app.changes {
            proptest::prop_assert_ne!(Some(change.resource.as_str()), blocked);
            let r = change.resource.as_str();
            if change.field == "requests" {
                proptest::prop_assert_eq!(change.to.milli_value(), target(r));
            } else {
                // limit = 2 × request × target / request, floored (memory in whole bytes).
                let wide = |x: i64| i128::from(x);
                let expected = if r == "cpu" {
                    wide(2 * request(r)) * wide(target(r)) / wide(request(r))
                } else {
                    wide(2 * request(r) / 1000) * wide(target(r) / 1000) / wide(request(r) / 1000)
                        * 1000
                };
                proptest::prop_assert_eq!(i128::from(change.to.milli_value()), expected);
            }
        }
        if let Some(b) = blocked {
            proptest::prop_assert!(app.skipped.iter().any(|s| s.resource == b));
        }
        if w.action == Action::Update {
            proptest::prop_assert!(w.patch.is_some());
            proptest::prop_assert!(!app.changes.is_empty());
        }
    }
}
