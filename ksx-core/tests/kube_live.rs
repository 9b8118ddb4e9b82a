//! `KubeCluster` and Lease leader election against a live cluster; opt-in: they run only when `KUBECONFIG` is set.
#![cfg(feature = "kube")]

use std::hash::{BuildHasher, RandomState};

use k8s_openapi::api::core::v1::Namespace;
use ksx_core::cluster::kube::KubeCluster;
use ksx_core::cluster::{ClusterWriter, Kind, Object, conformance};

/// The live cluster, or `None` (after saying so) when `KUBECONFIG` is unset.
#[allow(
    clippy::print_stderr,
    reason = "a skipped live test says why on the test output"
)]
async fn live_cluster(test: &str) -> Option<KubeCluster> {
    if std::env::var_os("KUBECONFIG").is_none() {
        eprintln!("{test}: skipped because KUBECONFIG is unset");
        return None;
    }
    Some(
        KubeCluster::try_default()
            .await
            .expect("KUBECONFIG is set but names no usable cluster"),
    )
}

/// A namespace name unique to this run.
fn unique_namespace(test: &str) -> String {
    let id = RandomState::new().hash_one((test, std::process::id()));
    format!("ksx-live-{id:016x}")
}

/// Creates a unique namespace, runs `body` in it, deletes the namespace (also when `body` failed), then reports
/// `body`'s result.
async fn in_namespace<F>(cluster: &KubeCluster, test: &str, body: F)
where
    F: AsyncFnOnce(&str) -> Result<(), String>,
{
    let name = unique_namespace(test);
    let mut namespace = Namespace::default();
    namespace.metadata.name = Some(name.clone());
    cluster
        .create(Object::Namespace(namespace))
        .await
        .unwrap_or_else(|e| panic!("create namespace {name}: {e}"));
    let result = body(&name).await;
    let deleted = cluster.delete(&Kind::Namespace, None, &name).await;
    result.unwrap_or_else(|e| panic!("{test} in namespace {name}: {e}"));
    deleted.unwrap_or_else(|e| panic!("delete namespace {name}: {e}"));
}

#[tokio::test]
async fn reader_writer_conformance() {
    let Some(cluster) = live_cluster("reader_writer_conformance").await else {
        return;
    };
    Box::pin(in_namespace(
        &cluster,
        "reader_writer_conformance",
        async |ns| Box::pin(conformance::check_reader_writer(&cluster, ns)).await,
    ))
    .await;
}

#[tokio::test]
async fn watch_conformance() {
    let Some(cluster) = live_cluster("watch_conformance").await else {
        return;
    };
    Box::pin(in_namespace(&cluster, "watch_conformance", async |ns| {
        Box::pin(conformance::check_watch(&cluster, ns)).await
    }))
    .await;
}

#[cfg(feature = "runtime")]
#[tokio::test]
async fn leader_election_hands_over_on_release() {
    use std::time::Duration;

    use ksx_core::cluster::ClusterReader;
    use ksx_core::runtime::LeaderElector;

    let Some(cluster) = live_cluster("leader_election_hands_over_on_release").await else {
        return;
    };
    let client = cluster.client().clone();
    in_namespace(&cluster, "leader_election", async |ns| {
        let elector = |identity: &str| {
            LeaderElector::new("ksx-live-leader", ns)
                .with_identity(identity)
                .with_lease_duration(Duration::from_secs(6))
                .with_renew_interval(Duration::from_secs(2))
        };
        // The first replica leads, its work finishes, and it releases the Lease on the way out.
        let first = elector("replica-a")
            .run_as_leader(client.clone(), std::future::pending(), || async { "a" })
            .await
            .map_err(|e| format!("replica-a: {e}"))?;
        if first != Some("a") {
            return Err(format!(
                "replica-a: expected to run its work, got {first:?}"
            ));
        }
        // The second gets the Lease without waiting for it to expire.
        let lease = cluster
            .get(&Kind::Lease, Some(ns), "ksx-live-leader")
            .await
            .map_err(|e| format!("get Lease: {e}"))?;
        let holder = match &lease {
            Some(Object::Lease(lease)) => lease
                .spec
                .as_ref()
                .and_then(|spec| spec.holder_identity.clone()),
            other => return Err(format!("expected the Lease to exist, got {other:?}")),
        };
        if holder.as_deref().is_some_and(|h| !h.is_empty()) {
            return Err(format!("released Lease still held by {holder:?}"));
        }
        let second = tokio::time::timeout(
            Duration::from_secs(30),
            elector("replica-b")
                .run_as_leader(client.clone(), std::future::pending(), || async { "b" }),
        )
        .await
        .map_err(|_| "replica-b did not get the released Lease within 30s".to_owned())?
        .map_err(|e| format!("replica-b: {e}"))?;
        if second != Some("b") {
            return Err(format!(
                "replica-b: expected to run its work, got {second:?}"
            ));
        }
        Ok(())
    })
    .await;
}
