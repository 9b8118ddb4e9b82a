//! Unit tests of the EndpointSlice controller and of EndpointSlices in the store: slices follow the selected pods
//! and their readiness, placeholder and split slices, user slices are left alone, no RNG is drawn, and slices are
//! written only when they change.

use std::time::Duration;

use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde_json::json;

use super::tests::{deployment, object, pods};
use super::*;

fn cluster() -> InMemoryCluster {
    let cluster = InMemoryCluster::new(ManualClock::at_unix_secs(1_700_000_000), 5);
    cluster.add_node("n1", "64", "256Gi").unwrap();
    cluster
}

fn service(namespace: &str, name: &str, selector: &serde_json::Value) -> Object {
    object(
        &Kind::Service,
        json!({
            "metadata": {"name": name, "namespace": namespace, "labels": {"team": "shop"}},
            "spec": {"selector": selector, "ports": [
                {"port": 80, "targetPort": 8080},
                {"name": "metrics", "port": 9090, "targetPort": "metrics"}
            ]}
        }),
    )
}

fn slices(cluster: &InMemoryCluster, namespace: &str, service: &str) -> Vec<EndpointSlice> {
    cluster
        .list_sync(
            &Kind::EndpointSlice,
            Some(namespace),
            &ListOptions::labels(format!("{SERVICE_NAME_LABEL}={service}")),
        )
        .unwrap()
        .into_iter()
        .filter_map(|o| match o {
            Object::EndpointSlice(s) => Some(s),
            _ => None,
        })
        .collect()
}

/// `(pod name, ready)` of every endpoint of the slices, ordered by pod name.
fn endpoints(slices: &[EndpointSlice]) -> Vec<(String, bool)> {
    let mut out: Vec<(String, bool)> = slices
        .iter()
        .flat_map(|s| &s.endpoints)
        .map(|e| {
            (
                e.target_ref.as_ref().unwrap().name.clone().unwrap(),
                e.conditions.as_ref().unwrap().ready.unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

fn names(pods: &[k8s_openapi::api::core::v1::Pod]) -> Vec<String> {
    let mut v: Vec<String> = pods
        .iter()
        .map(|p| p.metadata.name.clone().unwrap())
        .collect();
    v.sort();
    v
}

#[test]
fn a_selector_service_gets_a_slice_that_follows_pod_readiness() {
    let cluster = cluster();
    cluster
        .apply(service("shop", "web", &json!({"app": "web"})))
        .unwrap();
    cluster
        .apply(deployment("shop", "web", 2, "web:1", &json!({})))
        .unwrap();
    // Nothing reconciled yet: the Service has no slice.
    assert!(slices(&cluster, "shop", "web").is_empty());

    // One step: the pods are bound and started, not yet Ready (the default start-up delay is 2 s).
    cluster.advance(Duration::from_secs(1));
    let pod_names = names(&pods(&cluster, "shop", "app=web"));
    assert_eq!(pod_names.len(), 2);
    let early = slices(&cluster, "shop", "web");
    assert_eq!(early.len(), 1);
    assert_eq!(
        endpoints(&early),
        pod_names
            .iter()
            .map(|n| (n.clone(), false))
            .collect::<Vec<_>>()
    );

    cluster.advance(Duration::from_secs(5));
    let ready = slices(&cluster, "shop", "web");
    assert_eq!(ready.len(), 1);
    assert_eq!(
        endpoints(&ready),
        pod_names
            .iter()
            .map(|n| (n.clone(), true))
            .collect::<Vec<_>>()
    );
    let slice = &ready[0];
    let name = slice.metadata.name.as_deref().unwrap();
    assert!(name.starts_with("web-") && name.len() > 4, "{name}");
    assert_eq!(slice.address_type, "IPv4");
    let labels = slice.metadata.labels.as_ref().unwrap();
    assert_eq!(labels[SERVICE_NAME_LABEL], "web");
    assert_eq!(labels[MANAGED_BY_LABEL], MANAGED_BY);
    assert_eq!(labels["team"], "shop", "the Service's labels are copied");
    let owner = &slice.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("Service", "web")
    );
    assert_eq!(owner.controller, Some(true));
    assert!(slice.metadata.uid.is_some() && slice.metadata.creation_timestamp.is_some());
    // The numeric target port resolves; the named one is declared by no container and is left out.
    let ports = slice.ports.as_ref().unwrap();
    assert_eq!(ports.len(), 1);
    assert_eq!(
        (
            ports[0].name.as_deref(),
            ports[0].port,
            ports[0].protocol.as_deref()
        ),
        (Some(""), Some(8080), Some("TCP"))
    );
    for e in &slice.endpoints {
        assert_eq!(e.node_name.as_deref(), Some("n1"));
        assert_eq!(e.addresses.len(), 1);
        assert!(e.addresses[0].starts_with("10."), "{:?}", e.addresses);
        let c = e.conditions.as_ref().unwrap();
        assert_eq!((c.serving, c.terminating), (Some(true), Some(false)));
    }
}

#[test]
fn never_ready_pods_are_endpoints_that_are_not_ready() {
    let cluster = cluster();
    cluster
        .set_pod_profile("shop", "app=api", PodProfile::never_ready())
        .unwrap();
    cluster
        .apply(service("shop", "api", &json!({"app": "api"})))
        .unwrap();
    cluster
        .apply(deployment("shop", "api", 1, "api:1", &json!({})))
        .unwrap();
    cluster.advance(Duration::from_secs(30));
    let s = slices(&cluster, "shop", "api");
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].endpoints.len(), 1);
    let c = s[0].endpoints[0].conditions.as_ref().unwrap();
    assert_eq!((c.ready, c.serving), (Some(false), Some(false)));
}

#[test]
fn a_service_selecting_nothing_gets_one_empty_slice_and_a_selectorless_one_none() {
    let cluster = cluster();
    cluster
        .apply(service("shop", "lonely", &json!({"app": "nobody"})))
        .unwrap();
    cluster
        .apply(service("shop", "external", &json!({})))
        .unwrap();
    cluster.reconcile();
    let lonely = slices(&cluster, "shop", "lonely");
    assert_eq!(lonely.len(), 1);
    assert!(lonely[0].endpoints.is_empty());
    assert_eq!(lonely[0].ports, None);
    assert!(slices(&cluster, "shop", "external").is_empty());
}

#[test]
fn slices_change_with_scale_and_selector_and_go_with_the_service() {
    let cluster = cluster();
    cluster
        .apply(service("shop", "web", &json!({"app": "web"})))
        .unwrap();
    cluster
        .apply(deployment("shop", "web", 3, "web:1", &json!({})))
        .unwrap();
    cluster.advance(Duration::from_secs(10));
    assert_eq!(endpoints(&slices(&cluster, "shop", "web")).len(), 3);

    cluster
        .apply(deployment("shop", "web", 1, "web:1", &json!({})))
        .unwrap();
    cluster.advance(Duration::from_secs(10));
    assert_eq!(endpoints(&slices(&cluster, "shop", "web")).len(), 1);

    // The selector is removed: the managed slice goes.
    cluster
        .apply(object(
            &Kind::Service,
            json!({"metadata": {"name": "web", "namespace": "shop"}, "spec": {"ports": [{"port": 80}]}}),
        ))
        .unwrap();
    cluster.reconcile();
    assert!(slices(&cluster, "shop", "web").is_empty());

    // Back with a selector, then the Service is deleted: its slices are deleted with it.
    cluster
        .apply(service("shop", "web", &json!({"app": "web"})))
        .unwrap();
    cluster.reconcile();
    assert_eq!(slices(&cluster, "shop", "web").len(), 1);
    cluster
        .delete_sync(&Kind::Service, Some("shop"), "web")
        .unwrap();
    assert_eq!(cluster.count(&Kind::EndpointSlice), 0);
}

#[test]
fn more_than_a_hundred_endpoints_split_into_slices() {
    let cluster = cluster();
    cluster
        .apply(service("shop", "big", &json!({"app": "big"})))
        .unwrap();
    cluster
        .apply(deployment("shop", "big", 101, "big:1", &json!({})))
        .unwrap();
    cluster.advance(Duration::from_secs(10));
    let s = slices(&cluster, "shop", "big");
    let mut sizes: Vec<usize> = s.iter().map(|s| s.endpoints.len()).collect();
    sizes.sort_unstable();
    assert_eq!(sizes, [1, MAX_ENDPOINTS]);
    assert_eq!(
        endpoints(&s).iter().filter(|(_, ready)| *ready).count(),
        101
    );
    assert_ne!(s[0].metadata.name, s[1].metadata.name);
}

#[test]
fn unchanged_slices_are_not_rewritten() {
    let cluster = cluster();
    cluster
        .apply(service("shop", "web", &json!({"app": "web"})))
        .unwrap();
    cluster
        .apply(deployment("shop", "web", 2, "web:1", &json!({})))
        .unwrap();
    cluster.advance(Duration::from_secs(10));
    let before = slices(&cluster, "shop", "web");
    cluster.advance(Duration::from_secs(10));
    let after = slices(&cluster, "shop", "web");
    assert_eq!(before, after, "resourceVersion and content unchanged");
}

#[tokio::test]
async fn a_hand_edited_slice_is_put_back_and_node_zones_follow() {
    let cluster = cluster();
    cluster
        .apply(service("shop", "web", &json!({"app": "web"})))
        .unwrap();
    cluster
        .apply(deployment("shop", "web", 1, "web:1", &json!({})))
        .unwrap();
    cluster.advance(Duration::from_secs(10));
    let slice = slices(&cluster, "shop", "web").remove(0);
    let name = slice.metadata.name.clone().unwrap();
    assert_eq!(slice.endpoints[0].zone, None);
    cluster
        .patch(
            &Kind::EndpointSlice,
            Some("shop"),
            &name,
            &Patch::Merge(json!({"endpoints": []})),
        )
        .await
        .unwrap();
    assert!(slices(&cluster, "shop", "web")[0].endpoints.is_empty());
    // The node gains a zone: the next pass restores the endpoint, with the zone.
    cluster
        .patch(
            &Kind::Node,
            None,
            "n1",
            &Patch::Merge(json!({"metadata": {"labels": {"topology.kubernetes.io/zone": "z-a"}}})),
        )
        .await
        .unwrap();
    cluster.reconcile();
    let restored = slices(&cluster, "shop", "web").remove(0);
    assert_eq!(restored.metadata.name.as_deref(), Some(name.as_str()));
    assert_eq!(restored.endpoints.len(), 1);
    assert_eq!(restored.endpoints[0].zone.as_deref(), Some("z-a"));
}

#[test]
fn the_controller_draws_no_randomness() {
    // The same seed and calls, with a Service that selects the pods (slices are written) or one without a
    // selector (no slice): the pods get the same names.
    let run = |selector: serde_json::Value| {
        let cluster = cluster();
        cluster.apply(service("shop", "web", &selector)).unwrap();
        cluster
            .apply(deployment("shop", "web", 2, "web:1", &json!({})))
            .unwrap();
        cluster.advance(Duration::from_secs(5));
        cluster
            .apply(deployment("shop", "web", 4, "web:2", &json!({})))
            .unwrap();
        cluster.advance(Duration::from_secs(20));
        (
            names(&pods(&cluster, "shop", "app=web")),
            cluster.count(&Kind::EndpointSlice),
        )
    };
    let (with_slices, slices) = run(json!({"app": "web"}));
    let (without, none) = run(json!({}));
    assert_eq!((slices, none), (1, 0));
    assert_eq!(with_slices, without);
}

#[tokio::test]
async fn user_slices_are_stored_listed_and_deleted_and_left_alone() {
    let cluster = cluster();
    cluster
        .apply(service("shop", "external", &json!({})))
        .unwrap();
    let slice = object(
        &Kind::EndpointSlice,
        json!({
            "metadata": {"name": "external-1", "namespace": "shop",
                "labels": {SERVICE_NAME_LABEL: "external"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["192.0.2.7"], "conditions": {"ready": true}}],
            "ports": [{"port": 443}]
        }),
    );
    let created = cluster.create(slice).await.unwrap();
    assert!(created.metadata().uid.is_some());
    cluster.advance(Duration::from_secs(3));
    let listed = cluster
        .list(&Kind::EndpointSlice, None, &ListOptions::default())
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    let Object::EndpointSlice(s) = &listed[0] else {
        panic!("{listed:?}")
    };
    assert_eq!(s.endpoints[0].addresses, ["192.0.2.7"]);
    assert_eq!(
        s.metadata.resource_version,
        created.metadata().resource_version
    );
    let json = listed[0].to_json().unwrap();
    assert_eq!(json["apiVersion"], "discovery.k8s.io/v1");
    assert_eq!(json["kind"], "EndpointSlice");
    assert_eq!(
        Kind::from_type("discovery.k8s.io/v1", "EndpointSlice"),
        Some(Kind::EndpointSlice)
    );
    // EndpointSlices have no status subresource.
    assert!(
        cluster
            .patch_status(
                &Kind::EndpointSlice,
                Some("shop"),
                "external-1",
                &Patch::Merge(json!({}))
            )
            .await
            .is_err()
    );
    cluster
        .delete(&Kind::EndpointSlice, Some("shop"), "external-1")
        .await
        .unwrap();
    assert!(
        cluster
            .list(&Kind::EndpointSlice, Some("shop"), &ListOptions::default())
            .await
            .unwrap()
            .is_empty()
    );
}
