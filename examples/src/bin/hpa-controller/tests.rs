//! The controller's writes through the seam: the status it leaves on the HPA objects, the short cuts on a
//! bad selector or a missing target, and a reconcile without metrics.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use ksx_core::cluster::{Kind, TypedExt as _};
use serde_json::{Value, json};

use crate::Settings;
use crate::controller::{Controller, DecisionLine, now_nanos};
use crate::scenario::{NAMESPACE, World};

fn settings() -> Settings {
    Settings {
        downscale_window_secs: 300,
        tolerance: 0.1,
    }
}

fn hpa_on(name: &str, target: &str) -> (Kind, Value) {
    (
        Kind::HorizontalPodAutoscaler,
        json!({
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
                "minReplicas": 1, "maxReplicas": 5
            }
        }),
    )
}

async fn sync(world: &World, controller: &Arc<Controller<InMemory>>) -> Vec<DecisionLine> {
    let now = now_nanos(&world.clock);
    controller.sync(now, now, 3).await.unwrap()
}

type InMemory = ksx_core::InMemoryCluster;

fn controller(world: &World) -> Arc<Controller<InMemory>> {
    Arc::new(Controller::new(
        Arc::clone(&world.cluster),
        world.metrics.clone(),
        settings(),
    ))
}

async fn status(world: &World, name: &str) -> Value {
    let hpa: HorizontalPodAutoscaler = world
        .cluster
        .get_typed(Some(NAMESPACE), name)
        .await
        .unwrap()
        .unwrap();
    serde_json::to_value(hpa.status).unwrap()
}

fn reasons(status: &Value) -> Vec<(String, String, String)> {
    status["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["type"].as_str().unwrap().to_owned(),
                c["status"].as_str().unwrap().to_owned(),
                c["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn triple(t: &str, s: &str, r: &str) -> (String, String, String) {
    (t.to_owned(), s.to_owned(), r.to_owned())
}

#[tokio::test]
async fn status_is_written_back_through_the_seam() {
    let world = World::build(1, &[]).unwrap();
    let c = controller(&world);
    sync(&world, &c).await;
    let now = jiff::Timestamp::from_second(1_700_000_060)
        .unwrap()
        .to_string();

    // `api`: 250 requests/s over 2 pods is 125 each against 100 → ceil(1.25 × 2) = 3, a rescale.
    let api = status(&world, "api").await;
    assert_eq!(api["currentReplicas"], 2);
    assert_eq!(api["desiredReplicas"], 3);
    assert_eq!(api["lastScaleTime"], now);
    assert_eq!(
        api["currentMetrics"],
        json!([{"type": "Pods", "pods": {"metric": {"name": "http_requests_per_second"},
                "current": {"averageValue": "125"}}}])
    );
    assert_eq!(
        reasons(&api),
        vec![
            triple("AbleToScale", "True", "SucceededRescale"),
            triple("ScalingActive", "True", "ValidMetricFound"),
            triple("ScalingLimited", "False", "DesiredWithinRange"),
        ]
    );
    assert!(
        api["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["lastTransitionTime"] == now)
    );
    let deployment: Deployment = world
        .cluster
        .get_typed(Some(NAMESPACE), "api")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(deployment.spec.unwrap().replicas, Some(3));

    // `web` holds at 2 and has never scaled.
    let web = status(&world, "web").await;
    assert_eq!(
        (
            web["currentReplicas"].clone(),
            web["desiredReplicas"].clone()
        ),
        (json!(2), json!(2))
    );
    assert!(web.get("lastScaleTime").is_none());
    assert_eq!(
        reasons(&web)[0],
        triple("AbleToScale", "True", "ReadyForNewScale")
    );
    assert_eq!(
        web["currentMetrics"][0]["resource"]["current"]["averageUtilization"],
        42
    );

    // The same answer again is not written again.
    let version = |h: HorizontalPodAutoscaler| h.metadata.resource_version;
    let before = version(
        world
            .cluster
            .get_typed(Some(NAMESPACE), "web")
            .await
            .unwrap()
            .unwrap(),
    );
    sync(&world, &c).await;
    let after = version(
        world
            .cluster
            .get_typed(Some(NAMESPACE), "web")
            .await
            .unwrap()
            .unwrap(),
    );
    assert_eq!(before, after);
}

#[tokio::test]
async fn two_hpas_on_one_workload_are_ambiguous() {
    let world = World::build(1, &[hpa_on("web-twin", "web")]).unwrap();
    let lines = sync(&world, &controller(&world)).await;
    for name in ["web", "web-twin"] {
        let status = status(&world, name).await;
        assert_eq!(
            reasons(&status)[1],
            triple("ScalingActive", "False", "AmbiguousSelector")
        );
        assert_eq!(
            status["conditions"][1]["message"],
            "pods by selector app=web are controlled by multiple HPAs: [shop/web shop/web-twin]"
        );
        let line = lines.iter().find(|l| l.name == name).unwrap();
        assert!(!line.rescaled);
    }
    let deployment: Deployment = world
        .cluster
        .get_typed(Some(NAMESPACE), "web")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(deployment.spec.unwrap().replicas, Some(2));
}

#[tokio::test]
async fn a_missing_target_fails_to_get_the_scale() {
    let world = World::build(1, &[hpa_on("ghost", "ghost")]).unwrap();
    sync(&world, &controller(&world)).await;
    let status = status(&world, "ghost").await;
    assert_eq!(
        reasons(&status),
        vec![triple("AbleToScale", "False", "FailedGetScale")]
    );
    assert_eq!(
        status["conditions"][0]["message"],
        "the HPA controller was unable to get the target's current scale: Deployment shop/ghost not found"
    );
}

#[tokio::test]
async fn stale_metrics_stop_scaling_and_keep_the_desired_count() {
    let world = World::build(1, &[]).unwrap();
    let c = controller(&world);
    sync(&world, &c).await;
    // Ten quiet minutes: every usage sample and custom metric is past the lookback.
    world.cluster.advance(Duration::from_secs(600));
    let lines = sync(&world, &c).await;
    let web = status(&world, "web").await;
    assert_eq!(
        reasons(&web)[1],
        triple("ScalingActive", "False", "FailedGetResourceMetric")
    );
    assert_eq!(web["desiredReplicas"], 2);
    let api = status(&world, "api").await;
    assert_eq!(
        reasons(&api)[1],
        triple("ScalingActive", "False", "FailedGetPodsMetric")
    );
    assert_eq!(api["desiredReplicas"], 3, "the last desired count stays");
    assert!(lines.iter().all(|l| l.error.is_some() && !l.rescaled));
}

#[tokio::test]
async fn metric_selectors_use_match_expressions_and_failing_metrics_keep_an_empty_slot() {
    use ksx_core::Clock as _;
    use ksx_core::metrics::MetricId;

    let deployment = json!({
        "metadata": {"name": "worker", "namespace": NAMESPACE, "labels": {"app": "worker"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "worker"}},
            "template": {
                "metadata": {"labels": {"app": "worker"}},
                "spec": {"containers": [{"name": "worker", "image": "registry.example.com/shop/worker:1.0",
                    "resources": {"requests": {"cpu": "100m"}}}]}
            }
        }
    });
    let external = |name: &str, selector: Value| {
        json!({"type": "External", "external": {
            "metric": {"name": name, "selector": selector},
            "target": {"type": "AverageValue", "averageValue": "10"}}})
    };
    let hpa = json!({
        "metadata": {"name": "worker", "namespace": NAMESPACE},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "worker"},
            "minReplicas": 1, "maxReplicas": 8,
            "metrics": [
                external("queue_depth", json!({
                    "matchLabels": {"queue": "orders"},
                    "matchExpressions": [
                        {"key": "env", "operator": "NotIn", "values": ["dev"]},
                        {"key": "shard", "operator": "Exists"}
                    ]
                })),
                external("no_such_metric", json!({}))
            ]
        }
    });
    let world = World::build(
        1,
        &[
            (Kind::Deployment, deployment),
            (Kind::HorizontalPodAutoscaler, hpa),
        ],
    )
    .unwrap();
    let now = world.clock.now();
    // Only the first series satisfies matchLabels and both expressions: 40 in all.
    for (env, shard, queue, value) in [
        ("prod", Some("1"), "orders", 40.0),
        ("dev", Some("2"), "orders", 1000.0),
        ("prod", None, "orders", 500.0),
        ("prod", Some("3"), "billing", 700.0),
    ] {
        let mut id = MetricId::named("queue_depth")
            .with_label("namespace", NAMESPACE)
            .with_label("env", env)
            .with_label("queue", queue);
        if let Some(shard) = shard {
            id = id.with_label("shard", shard);
        }
        world.metrics.push_sample(&id, now, value);
    }
    sync(&world, &controller(&world)).await;
    let worker = status(&world, "worker").await;
    // External AverageValue: ceil(40 / 10) = 4 replicas; one invalid metric does not block a scale up.
    assert_eq!(worker["desiredReplicas"], 4, "{worker}");
    assert_eq!(
        worker["currentMetrics"],
        json!([
            {"type": "External", "external": {"metric": {"name": "queue_depth"},
                "current": {"averageValue": "20"}}},
            {"type": ""}
        ])
    );
    assert_eq!(
        reasons(&worker)[1],
        triple("ScalingActive", "True", "ValidMetricFound")
    );
}
