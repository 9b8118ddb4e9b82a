//! `KubeCluster` against a scripted fake API server (`tower_test::mock`): each test checks the requests the
//! adapter sends (method, path, query, content type, body) and how it maps the answers.

use ::kube::client::Body;
use futures::TryStreamExt;
use http::{Method, Request, Response};
use serde_json::{Value, json};
use tower_test::mock::{Handle, SendResponse};

use super::*;
use crate::cluster::CustomObject;

type ApiServer = Handle<Request<Body>, Response<Body>>;

/// Runs `op` against a cluster whose API server is `script`, then checks that the script saw every request it
/// expected. The script drops its handle when it ends, so a request it did not expect fails in `op` (the mock
/// service reports itself closed) instead of waiting for an answer.
async fn exchange<T, Fut>(
    script: impl FnOnce(ApiServer) -> Fut,
    op: impl AsyncFnOnce(&KubeCluster) -> T,
) -> T
where
    Fut: Future<Output = ()> + Send + 'static,
{
    let (service, server) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let cluster = KubeCluster::new(Client::new(service, "default"));
    let script = tokio::spawn(script(server));
    let output = op(&cluster).await;
    drop(cluster);
    script.await.expect("the API server script failed");
    output
}

/// A request as the fake API server saw it.
#[derive(Debug)]
struct Seen {
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    content_type: String,
    body: Vec<u8>,
}

impl Seen {
    fn param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

async fn next(server: &mut ApiServer) -> (Seen, SendResponse<Response<Body>>) {
    let (request, send) = server
        .next_request()
        .await
        .expect("the adapter sent no request");
    let (parts, body) = request.into_parts();
    let seen = Seen {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(query_pairs).unwrap_or_default(),
        content_type: parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default(),
        body: body.collect_bytes().await.unwrap().to_vec(),
    };
    (seen, send)
}

fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// Percent-decoding of a query component.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

fn reply(code: u16, value: &Value) -> Response<Body> {
    Response::builder()
        .status(code)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Body::from(serde_json::to_vec(value).unwrap()))
        .unwrap()
}

fn failure(code: u16, reason: &str, message: &str, details: Value) -> Response<Body> {
    let mut status = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    });
    status["details"] = details;
    reply(code, &status)
}

fn pod(namespace: &str, name: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": { "namespace": namespace, "name": name, "resourceVersion": "5" },
        "spec": { "containers": [{ "name": "app", "image": "web:1" }] },
    })
}

fn deployment(namespace: &str, name: &str, replicas: i32) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "namespace": namespace, "name": name, "resourceVersion": "8" },
        "spec": {
            "replicas": replicas,
            "selector": { "matchLabels": { "app": name } },
            "template": { "metadata": { "labels": { "app": name } }, "spec": { "containers": [] } },
        },
    })
}

fn node_groups() -> CustomKind {
    CustomKind {
        group: "ksx.io".into(),
        version: "v1alpha1".into(),
        kind: "NodeGroup".into(),
        plural: "nodegroups".into(),
        namespaced: true,
    }
}

fn keys(objects: &[Object]) -> Vec<String> {
    objects.iter().map(Object::key).collect()
}

#[tokio::test]
async fn list_pages_through_continue_tokens_and_sorts() {
    let options = ListOptions {
        label_selector: Some("app=web,tier in (front)".into()),
        field_selector: Some("status.phase=Running".into()),
    };
    let pods = exchange(
        |mut server| async move {
            let (seen, send) = next(&mut server).await;
            assert_eq!(seen.method, Method::GET);
            assert_eq!(seen.path, "/api/v1/namespaces/shop/pods");
            assert_eq!(seen.param("labelSelector"), Some("app=web,tier in (front)"));
            assert_eq!(seen.param("fieldSelector"), Some("status.phase=Running"));
            assert_eq!(seen.param("limit"), Some("500"));
            assert_eq!(seen.param("continue"), None);
            send.send_response(reply(
                200,
                &json!({
                    "apiVersion": "v1", "kind": "PodList",
                    "metadata": { "continue": "page-2", "resourceVersion": "40" },
                    "items": [pod("shop", "web-c"), pod("shop", "web-b")],
                }),
            ));

            let (seen, send) = next(&mut server).await;
            assert_eq!(seen.path, "/api/v1/namespaces/shop/pods");
            assert_eq!(seen.param("continue"), Some("page-2"));
            assert_eq!(seen.param("labelSelector"), Some("app=web,tier in (front)"));
            send.send_response(reply(
                200,
                &json!({
                    "apiVersion": "v1", "kind": "PodList",
                    "metadata": { "resourceVersion": "40" },
                    "items": [pod("shop", "web-a")],
                }),
            ));
        },
        async |cluster| cluster.list(&Kind::Pod, Some("shop"), &options).await,
    )
    .await
    .unwrap();
    assert_eq!(keys(&pods), ["shop/web-a", "shop/web-b", "shop/web-c"]);
    assert!(
        matches!(&pods[0], Object::Pod(p) if p.spec.as_ref().unwrap().containers[0].image.as_deref() == Some("web:1"))
    );
}

#[tokio::test]
async fn list_across_namespaces_strips_secret_data() {
    let secrets = exchange(
        |mut server| async move {
            let (seen, send) = next(&mut server).await;
            assert_eq!(seen.path, "/api/v1/secrets");
            assert_eq!(seen.param("labelSelector"), None);
            send.send_response(reply(
                200,
                &json!({
                    "apiVersion": "v1", "kind": "SecretList", "metadata": {},
                    "items": [
                        { "metadata": { "namespace": "b", "name": "tls" }, "type": "kubernetes.io/tls",
                          "data": { "tls.key": "c2VjcmV0" } },
                        { "metadata": { "namespace": "a", "name": "token" }, "stringData": { "t": "secret" } },
                    ],
                }),
            ));
        },
        async |cluster| {
            cluster
                .list(&Kind::Secret, None, &ListOptions::default())
                .await
        },
    )
    .await
    .unwrap();
    assert_eq!(keys(&secrets), ["a/token", "b/tls"]);
    for secret in &secrets {
        let Object::Secret(secret) = secret else {
            panic!("not a secret: {secret}")
        };
        assert_eq!(secret.data, None);
        assert_eq!(secret.string_data, None);
    }
    assert!(
        matches!(&secrets[1], Object::Secret(s) if s.type_.as_deref() == Some("kubernetes.io/tls"))
    );
}

fn endpoint_slice(namespace: &str, name: &str, service: &str, ready: &[bool]) -> Value {
    let endpoints: Vec<Value> = ready
        .iter()
        .enumerate()
        .map(|(i, r)| json!({ "addresses": [format!("10.0.0.{}", i + 1)], "conditions": { "ready": r } }))
        .collect();
    json!({
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "namespace": namespace, "name": name, "resourceVersion": "3",
            "labels": { "kubernetes.io/service-name": service },
        },
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": [{ "name": "", "port": 8080, "protocol": "TCP" }],
    })
}

#[tokio::test]
async fn endpoint_slices_list_by_namespace_in_pages_and_across_namespaces() {
    let (shop, all) = exchange(
        |mut server| async move {
            let (seen, send) = next(&mut server).await;
            assert_eq!(seen.method, Method::GET);
            assert_eq!(
                seen.path,
                "/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices"
            );
            assert_eq!(
                seen.param("labelSelector"),
                Some("kubernetes.io/service-name=web")
            );
            assert_eq!(seen.param("limit"), Some("500"));
            assert_eq!(seen.param("continue"), None);
            send.send_response(reply(
                200,
                &json!({
                    "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSliceList",
                    "metadata": { "continue": "next", "resourceVersion": "9" },
                    "items": [endpoint_slice("shop", "web-z", "web", &[true, false])],
                }),
            ));
            let (seen, send) = next(&mut server).await;
            assert_eq!(
                seen.path,
                "/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices"
            );
            assert_eq!(seen.param("continue"), Some("next"));
            assert_eq!(
                seen.param("labelSelector"),
                Some("kubernetes.io/service-name=web")
            );
            send.send_response(reply(
                200,
                &json!({
                    "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSliceList",
                    "metadata": { "resourceVersion": "9" },
                    "items": [endpoint_slice("shop", "web-a", "web", &[])],
                }),
            ));

            let (seen, send) = next(&mut server).await;
            assert_eq!(seen.path, "/apis/discovery.k8s.io/v1/endpointslices");
            assert_eq!(seen.param("labelSelector"), None);
            send.send_response(reply(
                200,
                &json!({
                    "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSliceList", "metadata": {},
                    "items": [
                        endpoint_slice("shop", "web-a", "web", &[true]),
                        endpoint_slice("other", "api-b", "api", &[false]),
                    ],
                }),
            ));
        },
        async |cluster| {
            let shop = cluster
                .list(
                    &Kind::EndpointSlice,
                    Some("shop"),
                    &ListOptions::labels("kubernetes.io/service-name=web"),
                )
                .await
                .unwrap();
            let all = cluster
                .list(&Kind::EndpointSlice, None, &ListOptions::default())
                .await
                .unwrap();
            (shop, all)
        },
    )
    .await;
    assert_eq!(keys(&shop), ["shop/web-a", "shop/web-z"]);
    assert_eq!(keys(&all), ["other/api-b", "shop/web-a"]);
    let Object::EndpointSlice(slice) = &shop[1] else {
        panic!("not an EndpointSlice: {}", shop[1])
    };
    let ready: Vec<Option<bool>> = slice
        .endpoints
        .iter()
        .map(|e| e.conditions.as_ref().and_then(|c| c.ready))
        .collect();
    assert_eq!(ready, [Some(true), Some(false)]);
    assert_eq!(slice.address_type, "IPv4");
    assert_eq!(
        shop[1].to_json().unwrap()["apiVersion"],
        "discovery.k8s.io/v1"
    );
}

#[tokio::test]
async fn get_maps_404_to_none() {
    let missing = exchange(
        |mut server| async move {
            let (seen, send) = next(&mut server).await;
            assert_eq!(seen.method, Method::GET);
            assert_eq!(seen.path, "/apis/apps/v1/namespaces/shop/deployments/web");
            send.send_response(failure(
                404,
                "NotFound",
                "deployments.apps \"web\" not found",
                json!({ "name": "web", "group": "apps", "kind": "deployments" }),
            ));
        },
        async |cluster| cluster.get(&Kind::Deployment, Some("shop"), "web").await,
    )
    .await
    .unwrap();
    assert_eq!(missing, None);
}

#[tokio::test]
async fn get_uses_the_default_namespace_and_cluster_paths() {
    let (pod, node) = exchange(
        |mut server| async move {
            let (seen, send) = next(&mut server).await;
            assert_eq!(seen.path, "/api/v1/namespaces/default/pods/web-0");
            send.send_response(reply(200, &pod("default", "web-0")));
            let (seen, send) = next(&mut server).await;
            assert_eq!(seen.path, "/api/v1/nodes/n1");
            send.send_response(reply(
                200,
                &json!({ "apiVersion": "v1", "kind": "Node", "metadata": { "name": "n1" } }),
            ));
        },
        async |cluster| {
            let pod = cluster.get(&Kind::Pod, None, "web-0").await.unwrap();
            let node = cluster
                .get(&Kind::Node, Some("ignored"), "n1")
                .await
                .unwrap();
            (pod, node)
        },
    )
    .await;
    assert_eq!(pod.unwrap().key(), "default/web-0");
    assert!(matches!(node, Some(Object::Node(n)) if n.metadata.name.as_deref() == Some("n1")));
}

#[tokio::test]
async fn create_maps_409_to_already_exists() {
    let mut config = ConfigMap::default();
    config.metadata.name = Some("settings".into());
    config.metadata.namespace = Some("shop".into());
    let err = exchange(
        |mut server| async move {
            let (seen, send) = next(&mut server).await;
            assert_eq!(seen.method, Method::POST);
            assert_eq!(seen.path, "/api/v1/namespaces/shop/configmaps");
            assert_eq!(seen.json()["metadata"]["name"], "settings");
            send.send_response(failure(
                409,
                "AlreadyExists",
                "configmaps \"settings\" already exists",
                json!({ "name": "settings", "kind": "configmaps" }),
            ));
        },
        async |cluster| cluster.create(Object::ConfigMap(config)).await,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, Error::AlreadyExists { kind, object } if kind == "ConfigMap" && object == "shop/settings"),
        "{err:?}"
    );
}

#[tokio::test]
async fn create_returns_the_stored_object_and_needs_a_name() {
    let mut object = CustomObject {
        kind: node_groups(),
        metadata: Default::default(),
        spec: json!({ "minSize": 1, "maxSize": 5 }),
        status: Value::Null,
    };
    object.metadata.name = Some("gpu".into());
    object.metadata.namespace = Some("shop".into());
    let nameless = Object::Custom(CustomObject {
        metadata: Default::default(),
        ..object.clone()
    });
    let (created, refused) = exchange(
        |mut server| async move {
            let (seen, send) = next(&mut server).await;
            assert_eq!(seen.method, Method::POST);
            assert_eq!(
                seen.path,
                "/apis/ksx.io/v1alpha1/namespaces/shop/nodegroups"
            );
            let mut body = seen.json();
            assert_eq!(body["apiVersion"], "ksx.io/v1alpha1");
            assert_eq!(body["kind"], "NodeGroup");
            assert_eq!(body["spec"]["maxSize"], 5);
            body["metadata"]["uid"] = json!("u-1");
            send.send_response(reply(201, &body));
        },
        async |cluster| {
            (
                cluster.create(Object::Custom(object)).await,
                cluster.create(nameless).await,
            )
        },
    )
    .await;
    let created = created.unwrap();
    assert_eq!(created.metadata().uid.as_deref(), Some("u-1"));
    assert!(
        matches!(&created, Object::Custom(c) if c.kind == node_groups() && c.spec["minSize"] == 1)
    );
    assert!(
        matches!(&refused, Err(Error::InvalidField { field, .. }) if field == "metadata.name"),
        "{refused:?}"
    );
}

#[tokio::test]
async fn patch_sends_a_merge_patch() {
    let patch = Patch::Merge(json!({ "metadata": { "labels": { "tier": "front" } } }));
    let patched = exchange(
        |mut server| async move {
            let (seen, send) = next(&mut server).await;
            assert_eq!(seen.method, Method::PATCH);
            assert_eq!(seen.path, "/apis/apps/v1/namespaces/shop/deployments/web");
            assert_eq!(seen.content_type, "application/merge-patch+json");
            assert_eq!(
                seen.json(),
                json!({ "metadata": { "labels": { "tier": "front" } } })
            );
            send.send_response(reply(200, &deployment("shop", "web", 2)));

            let (seen, send) = next(&mut server).await;
            assert_eq!(seen.method, Method::PATCH);
            assert_eq!(
                seen.path,
                "/apis/apps/v1/namespaces/shop/deployments/web/status"
            );
            assert_eq!(seen.content_type, "application/merge-patch+json");
            send.send_response(reply(200, &deployment("shop", "web", 2)));

            let (_, send) = next(&mut server).await;
            send.send_response(failure(
                404,
                "NotFound",
                "deployments.apps \"gone\" not found",
                json!({ "name": "gone", "group": "apps", "kind": "deployments" }),
            ));
        },
        async |cluster| {
            let spec = cluster
                .patch(&Kind::Deployment, Some("shop"), "web", &patch)
                .await;
            let status = cluster
                .patch_status(&Kind::Deployment, Some("shop"), "web", &patch)
                .await;
            let gone = cluster
                .patch(&Kind::Deployment, Some("shop"), "gone", &patch)
                .await;
            (spec, status, gone)
        },
    )
    .await;
    let (spec, status, gone) = patched;
    assert!(
        matches!(spec, Ok(Object::Deployment(d)) if d.spec.as_ref().and_then(|s| s.replicas) == Some(2))
    );
    assert!(status.is_ok(), "{status:?}");
    assert!(
        matches!(&gone, Err(Error::NotFound { kind, object }) if kind == "Deployment" && object == "shop/gone"),
        "{gone:?}"
    );
}

#[tokio::test]
async fn scale_patches_the_scale_subresource() {
    let results = exchange(
        |mut server| async move {
            let (seen, send) = next(&mut server).await;
            assert_eq!(seen.method, Method::PATCH);
            assert_eq!(
                seen.path,
                "/apis/apps/v1/namespaces/shop/statefulsets/db/scale"
            );
            assert_eq!(seen.content_type, "application/merge-patch+json");
            assert_eq!(seen.json(), json!({ "spec": { "replicas": 3 } }));
            send.send_response(reply(
                200,
                &json!({
                    "apiVersion": "autoscaling/v1", "kind": "Scale",
                    "metadata": { "namespace": "shop", "name": "db" },
                    "spec": { "replicas": 3 }, "status": { "replicas": 1 },
                }),
            ));
        },
        async |cluster| {
            (
                cluster.scale(&Kind::StatefulSet, "shop", "db", 3).await,
                cluster.scale(&Kind::StatefulSet, "shop", "db", -1).await,
                cluster.scale(&Kind::Pod, "shop", "db", 1).await,
            )
        },
    )
    .await;
    results.0.unwrap();
    assert!(
        matches!(&results.1, Err(Error::InvalidField { field, .. }) if field == "spec.replicas"),
        "{:?}",
        results.1
    );
    assert!(
        matches!(&results.2, Err(Error::Invalid { kind, .. }) if kind == "Pod"),
        "{:?}",
        results.2
    );
}

#[tokio::test]
async fn delete_maps_404_to_not_found() {
    let err = exchange(
        |mut server| async move {
            let (seen, send) = next(&mut server).await;
            assert_eq!(seen.method, Method::DELETE);
            assert_eq!(seen.path, "/api/v1/namespaces/shop/services/web");
            send.send_response(failure(
                404,
                "NotFound",
                "services \"web\" not found",
                json!({ "name": "web", "kind": "services" }),
            ));
        },
        async |cluster| cluster.delete(&Kind::Service, Some("shop"), "web").await,
    )
    .await
    .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert_eq!(err.to_string(), "Service shop/web not found");
}

#[tokio::test]
async fn bind_posts_a_binding_and_maps_409_to_conflict() {
    let results = exchange(
        |mut server| async move {
            let (seen, send) = next(&mut server).await;
            assert_eq!(seen.method, Method::POST);
            assert_eq!(seen.path, "/api/v1/namespaces/shop/pods/web-1/binding");
            assert_eq!(seen.content_type, "application/json");
            let body = seen.json();
            assert_eq!(body["kind"], "Binding");
            assert_eq!(body["apiVersion"], "v1");
            assert_eq!(body["metadata"]["name"], "web-1");
            assert_eq!(body["metadata"]["namespace"], "shop");
            assert_eq!(body["metadata"]["uid"], "uid-1");
            assert_eq!(body["target"]["kind"], "Node");
            assert_eq!(body["target"]["name"], "n1");
            send.send_response(reply(
                201,
                &json!({ "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201 }),
            ));

            let (seen, send) = next(&mut server).await;
            assert_eq!(seen.method, Method::POST);
            assert_eq!(seen.path, "/api/v1/namespaces/shop/pods/web-1/binding");
            let body = seen.json();
            assert_eq!(body["metadata"].get("uid"), None);
            assert_eq!(body["target"]["name"], "n2");
            send.send_response(failure(
                409,
                "Conflict",
                "Operation cannot be fulfilled on pods/binding \"web-1\": pod web-1 is already assigned to node \"n1\"",
                json!({ "name": "web-1", "kind": "pods/binding" }),
            ));

            let (seen, send) = next(&mut server).await;
            assert_eq!(seen.path, "/api/v1/namespaces/shop/pods/gone/binding");
            send.send_response(failure(
                404,
                "NotFound",
                "pods \"gone\" not found",
                json!({ "name": "gone", "kind": "pods" }),
            ));
        },
        async |cluster| {
            (
                cluster.bind("shop", "web-1", Some("uid-1"), "n1").await,
                cluster.bind("shop", "web-1", None, "n2").await,
                cluster.bind("shop", "gone", None, "n1").await,
            )
        },
    )
    .await;
    results.0.unwrap();
    let err = results.1.unwrap_err();
    assert!(err.is_conflict(), "{err:?}");
    assert_eq!(
        err.to_string(),
        "Pod shop/web-1: conflict: Operation cannot be fulfilled on pods/binding \"web-1\": pod web-1 is \
         already assigned to node \"n1\""
    );
    let err = results.2.unwrap_err();
    assert!(
        matches!(&err, Error::NotFound { kind, object } if kind == "Pod" && object == "shop/gone"),
        "{err:?}"
    );
}

#[tokio::test]
async fn eviction_429_is_a_disruption_budget_error() {
    let results = exchange(
        |mut server| async move {
            let (seen, send) = next(&mut server).await;
            assert_eq!(seen.method, Method::POST);
            assert_eq!(seen.path, "/api/v1/namespaces/shop/pods/web-1/eviction");
            assert_eq!(seen.json()["metadata"]["name"], "web-1");
            send.send_response(failure(
                429,
                "TooManyRequests",
                "Cannot evict pod as it would violate the pod's disruption budget.",
                json!({ "causes": [{
                    "reason": "DisruptionBudget",
                    "message": "The disruption budget web-pdb needs 2 healthy pods and has 2 currently",
                }] }),
            ));

            let (seen, send) = next(&mut server).await;
            assert_eq!(seen.path, "/api/v1/namespaces/shop/pods/web-2/eviction");
            send.send_response(reply(
                201,
                &json!({ "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201 }),
            ));
        },
        async |cluster| {
            (
                cluster.evict("shop", "web-1").await,
                cluster.evict("shop", "web-2").await,
            )
        },
    )
    .await;
    let err = results.0.unwrap_err();
    match &err {
        Error::DisruptionBudget {
            pod,
            budget,
            reason,
        } => {
            assert_eq!(pod, "shop/web-1");
            assert_eq!(budget, "shop/web-pdb");
            assert_eq!(reason, "needs 2 healthy pods and has 2 currently");
        }
        other => panic!("expected a disruption budget error, got {other:?}"),
    }
    results.1.unwrap();
}

#[tokio::test]
async fn logs_pass_container_tail_lines_and_previous() {
    let options = LogOptions {
        tail_lines: Some(10),
        previous: true,
    };
    let (text, unknown) = exchange(
        |mut server| async move {
            let (seen, send) = next(&mut server).await;
            assert_eq!(seen.method, Method::GET);
            assert_eq!(seen.path, "/api/v1/namespaces/shop/pods/web-1/log");
            assert_eq!(seen.param("container"), Some("app"));
            assert_eq!(seen.param("tailLines"), Some("10"));
            assert_eq!(seen.param("previous"), Some("true"));
            send.send_response(
                Response::builder()
                    .status(200)
                    .body(Body::from(b"started\nready\n".to_vec()))
                    .unwrap(),
            );

            let (_, send) = next(&mut server).await;
            send.send_response(failure(
                400,
                "BadRequest",
                "container sidecar is not valid for pod web-1",
                Value::Null,
            ));
        },
        async |cluster| {
            (
                cluster.logs("shop", "web-1", Some("app"), &options).await,
                cluster
                    .logs("shop", "web-1", Some("sidecar"), &LogOptions::default())
                    .await,
            )
        },
    )
    .await;
    assert_eq!(text.unwrap(), "started\nready\n");
    assert!(
        matches!(&unknown, Err(Error::NotFound { object, .. }) if object == "shop/web-1/sidecar"),
        "{unknown:?}"
    );
}

#[tokio::test]
async fn logs_without_a_container_read_the_default_one() {
    let text = exchange(
        |mut server| async move {
            let (seen, send) = next(&mut server).await;
            assert_eq!(seen.path, "/api/v1/namespaces/shop/pods/web-1/log");
            assert_eq!(seen.param("container"), None);
            send.send_response(failure(
                400,
                "BadRequest",
                "a container name must be specified for pod web-1, choose one of: [proxy app]",
                Value::Null,
            ));

            let (seen, send) = next(&mut server).await;
            assert_eq!(seen.method, Method::GET);
            assert_eq!(seen.path, "/api/v1/namespaces/shop/pods/web-1");
            let mut two = pod("shop", "web-1");
            two["metadata"]["annotations"] =
                json!({ "kubectl.kubernetes.io/default-container": "app" });
            two["spec"]["containers"] = json!([
                { "name": "proxy", "image": "proxy:1" },
                { "name": "app", "image": "web:1" },
            ]);
            send.send_response(reply(200, &two));

            let (seen, send) = next(&mut server).await;
            assert_eq!(seen.path, "/api/v1/namespaces/shop/pods/web-1/log");
            assert_eq!(seen.param("container"), Some("app"));
            assert_eq!(seen.param("tailLines"), Some("1"));
            send.send_response(
                Response::builder()
                    .status(200)
                    .body(Body::from(b"ready\n".to_vec()))
                    .unwrap(),
            );
        },
        async |cluster| {
            let options = LogOptions {
                tail_lines: Some(1),
                previous: false,
            };
            cluster.logs("shop", "web-1", None, &options).await
        },
    )
    .await;
    assert_eq!(text.unwrap(), "ready\n");
}

/// A watch response body: one JSON event per line.
fn events(lines: &[Value]) -> Response<Body> {
    let mut body = Vec::new();
    for line in lines {
        body.extend(serde_json::to_vec(line).unwrap());
        body.push(b'\n');
    }
    Response::builder()
        .status(200)
        .body(Body::from(body))
        .unwrap()
}

#[tokio::test]
async fn watch_lists_then_streams_changes() {
    let seen = exchange(
        |mut server| async move {
            let (seen, send) = next(&mut server).await;
            assert_eq!(seen.path, "/api/v1/namespaces/shop/pods");
            assert_eq!(seen.param("watch"), None);
            assert_eq!(seen.param("labelSelector"), Some("app=web"));
            send.send_response(reply(
                200,
                &json!({
                    "apiVersion": "v1", "kind": "PodList",
                    "metadata": { "resourceVersion": "7" },
                    "items": [pod("shop", "web-b"), pod("shop", "web-a")],
                }),
            ));

            let (seen, send) = next(&mut server).await;
            assert_eq!(seen.path, "/api/v1/namespaces/shop/pods");
            assert_eq!(seen.param("watch"), Some("true"));
            assert_eq!(seen.param("resourceVersion"), Some("7"));
            assert_eq!(seen.param("labelSelector"), Some("app=web"));
            send.send_response(events(&[
                json!({ "type": "MODIFIED", "object": pod("shop", "web-a") }),
                json!({ "type": "BOOKMARK", "object": {
                    "apiVersion": "v1", "kind": "Pod", "metadata": { "resourceVersion": "9" } } }),
                json!({ "type": "DELETED", "object": pod("shop", "web-b") }),
            ]));
        },
        async |cluster| {
            let stream = cluster
                .watch(&Kind::Pod, Some("shop"), &ListOptions::labels("app=web"))
                .await
                .unwrap();
            stream.try_collect::<Vec<_>>().await
        },
    )
    .await
    .unwrap();
    let summary: Vec<(&str, String)> = seen
        .iter()
        .map(|event| {
            let verb = match event {
                WatchEvent::Added(_) => "added",
                WatchEvent::Modified(_) => "modified",
                WatchEvent::Deleted(_) => "deleted",
            };
            (verb, event.object().key())
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("added", "shop/web-a".to_owned()),
            ("added", "shop/web-b".to_owned()),
            ("modified", "shop/web-a".to_owned()),
            ("deleted", "shop/web-b".to_owned()),
        ]
    );
}

#[tokio::test]
async fn watch_error_event_is_an_err_item() {
    let items = exchange(
        |mut server| async move {
            let (_, send) = next(&mut server).await;
            send.send_response(reply(
                200,
                &json!({
                    "apiVersion": "ksx.io/v1alpha1", "kind": "NodeGroupList",
                    "metadata": { "resourceVersion": "3" }, "items": [],
                }),
            ));
            let (seen, send) = next(&mut server).await;
            assert_eq!(seen.path, "/apis/ksx.io/v1alpha1/nodegroups");
            assert_eq!(seen.param("watch"), Some("true"));
            send.send_response(events(&[json!({ "type": "ERROR", "object": {
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "too old resource version: 3 (10)", "reason": "Expired", "code": 410 } })]));
        },
        async |cluster| {
            let kind = Kind::Custom(node_groups());
            let stream = cluster
                .watch(&kind, None, &ListOptions::default())
                .await
                .unwrap();
            stream.collect::<Vec<_>>().await
        },
    )
    .await;
    assert_eq!(items.len(), 1);
    let err = items.into_iter().next().unwrap().unwrap_err();
    assert!(
        matches!(&err, Error::Kube { action: "watch", kind, .. } if kind == "NodeGroup"),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("too old resource version"),
        "{err}"
    );
}

#[test]
fn budget_messages_parse() {
    let target = Target::one(&Kind::Pod, Some("shop"), "web-1");
    let status = |message: &str| Status {
        details: Some(::kube::core::response::StatusDetails {
            causes: vec![::kube::core::response::StatusCause {
                reason: DISRUPTION_BUDGET_CAUSE.into(),
                message: message.into(),
                field: String::new(),
            }],
            ..serde_json::from_value(json!({})).unwrap()
        }),
        ..Status::failure(
            "Cannot evict pod as it would violate the pod's disruption budget.",
            "TooManyRequests",
        )
        .with_code(429)
    };
    let check = |message: &str, budget: &str, reason: &str| match disruption_budget(
        &target,
        &status(message),
    ) {
        Error::DisruptionBudget {
            budget: b,
            reason: r,
            ..
        } => assert_eq!((b.as_str(), r.as_str()), (budget, reason)),
        other => panic!("{other:?}"),
    };
    check(
        "The disruption budget db is still being processed by the server.",
        "shop/db",
        "is still being processed by the server",
    );
    check(
        "The disruption budget db does not allow evicting pods currently",
        "shop/db",
        "does not allow evicting pods currently",
    );
    let bare = Status::failure("Cannot evict pod", "TooManyRequests").with_code(429);
    match disruption_budget(&target, &bare) {
        Error::DisruptionBudget { budget, reason, .. } => {
            assert_eq!(budget, "shop/?");
            assert_eq!(reason, "Cannot evict pod");
        }
        other => panic!("{other:?}"),
    }
}
