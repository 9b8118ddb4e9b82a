//! Shared workloads of the ksx benches: inputs built from fixed seeds, used by the criterion benches and by
//! `ksx-bench` so both measure the same thing.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod};
use ksx_core::cluster::{ClusterReader, ClusterWriter, Kind, ListOptions, Object, Patch, TypedExt};
use ksx_core::{InMemoryCluster, ManualClock};
use rand::{RngExt as _, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A fixed start time for every simulated cluster of the benches.
pub const START_UNIX_SECS: i64 = 1_767_225_600;

/// Quantity strings as they appear in real manifests, in a seeded random mix.
pub fn quantity_inputs(n: usize, seed: u64) -> Vec<String> {
    const FORMS: [&str; 16] = [
        "100m", "250m", "1", "2", "1500m", "0.5", "128Mi", "1Gi", "4Gi", "512Mi", "1G", "500M",
        "1e3", "12e6", "1.5Gi", "100Ki",
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| FORMS[rng.random_range(0..FORMS.len())].to_owned())
        .collect()
}

fn node(name: &str, cpu: &str, memory: &str) -> Node {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {
            "capacity": {"cpu": cpu, "memory": memory, "pods": "500"},
            "allocatable": {"cpu": cpu, "memory": memory, "pods": "500"},
            "conditions": [{"type": "Ready", "status": "True"}]
        }
    }))
    .unwrap_or_default()
}

/// An in-memory cluster holding `n` bare pods (no controllers involved), spread over 10 namespaces.
///
/// # Errors
/// A failing in-memory create, which would be a bug.
pub async fn cluster_with_pods(n: usize) -> Result<InMemoryCluster, ksx_core::Error> {
    let cluster = InMemoryCluster::new(ManualClock::at_unix_secs(START_UNIX_SECS), 1);
    for i in 0..n {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": format!("pod-{i:05}"), "namespace": format!("ns-{}", i % 10),
                         "labels": {"app": format!("app-{}", i % 50)}},
            "spec": {"containers": [{"name": "main", "image": "busybox"}]}
        }))
        .unwrap_or_default();
        cluster.create(Object::Pod(pod)).await?;
    }
    Ok(cluster)
}

/// Lists every pod of the cluster and returns how many there were.
///
/// # Errors
/// A failing in-memory list, which would be a bug.
pub async fn list_all_pods(cluster: &InMemoryCluster) -> Result<usize, ksx_core::Error> {
    Ok(cluster
        .list(&Kind::Pod, None, &ListOptions::default())
        .await?
        .len())
}

/// A cluster with enough nodes for `replicas` pods and a ready Deployment `bench/web` of that size.
///
/// # Errors
/// A failing in-memory call, which would be a bug.
pub async fn cluster_with_deployment(replicas: i32) -> Result<InMemoryCluster, ksx_core::Error> {
    let cluster = InMemoryCluster::new(ManualClock::at_unix_secs(START_UNIX_SECS), 1);
    let nodes = (replicas / 100).max(1) + 2;
    for i in 0..nodes {
        cluster
            .create(Object::Node(node(&format!("node-{i:03}"), "128", "512Gi")))
            .await?;
    }
    let d: Deployment = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web", "namespace": "bench"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "web"}, "annotations": {"sim.ksx.io/startup-delay-seconds": "2"}},
                "spec": {"containers": [{"name": "web", "image": "web:1",
                          "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]}
            }
        }
    }))
    .unwrap_or_default();
    cluster.create(Object::Deployment(d)).await?;
    run_until_rolled_out(&cluster, replicas).await?;
    Ok(cluster)
}

/// Changes the Deployment's image and advances the simulation one second at a time until the rollout is
/// complete. Returns the simulated seconds it took (capped at one hour).
///
/// # Errors
/// A failing in-memory call, which would be a bug.
pub async fn rolling_update(
    cluster: &InMemoryCluster,
    replicas: i32,
    image: &str,
) -> Result<u64, ksx_core::Error> {
    let patch = Patch::Merge(
        serde_json::json!({"spec": {"template": {"spec": {"containers": [
            {"name": "web", "image": image, "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}
        ]}}}}),
    );
    cluster
        .patch(&Kind::Deployment, Some("bench"), "web", &patch)
        .await?;
    run_until_rolled_out(cluster, replicas).await
}

async fn run_until_rolled_out(
    cluster: &InMemoryCluster,
    replicas: i32,
) -> Result<u64, ksx_core::Error> {
    for second in 1..=3600 {
        cluster.advance(Duration::from_secs(1));
        let status = cluster
            .get_typed::<Deployment>(Some("bench"), "web")
            .await?
            .and_then(|d| d.status)
            .unwrap_or_default();
        if status.updated_replicas == Some(replicas)
            && status.available_replicas == Some(replicas)
            && status.replicas == Some(replicas)
        {
            return Ok(second);
        }
    }
    Ok(3600)
}
