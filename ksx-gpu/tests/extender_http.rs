//! The extender server over real HTTP: `/filter`, `/prioritize`, `/bind` with exact upstream wire keys, 400 and
//! 413 answers, `/healthz`, and the load generator on 500 nodes.
#![cfg(feature = "server")]

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod};
use ksx_core::clock::ManualClock;
use ksx_core::cluster::memory::InMemoryCluster;
use ksx_core::cluster::{Object, TypedExt};
use ksx_gpu::framework::Profile;
use ksx_gpu::server::{self, ExtenderState};
use serde_json::{Value, json};

fn node(name: &str, devices: Option<Value>) -> Node {
    let mut v = json!({"metadata": {"name": name},
        "status": {"allocatable": {"cpu": "64", "memory": "256Gi", "pods": "110"}}});
    if let Some(d) = devices {
        v["metadata"]["annotations"] = json!({"gpu.ksx.io/devices": d.to_string()});
    }
    serde_json::from_value(v).expect("test step")
}

fn gpus(node: &str, n: u32, mem: i64) -> Value {
    Value::Array(
        (0..n)
            .map(|i| json!({"uuid": format!("GPU-{node}-{i}"), "index": i, "memoryMiB": mem, "numa": i / 4}))
            .collect(),
    )
}

/// A bound pod holding `grants` on `node` (an allocation record as the server writes it).
#[allow(
    clippy::needless_pass_by_value,
    reason = "call sites pass json! literals"
)]
fn bound(name: &str, node: &str, grants: Value) -> Pod {
    let record = json!({"node": node, "containers": [{"name": "c", "devices": grants}]});
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "ns", "annotations": {"gpu.ksx.io/allocated": record.to_string()}},
        "spec": {"nodeName": node, "containers": [{"name": "c"}]}
    }))
    .expect("test step")
}

fn gpu_pod(name: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "ns", "uid": format!("uid-{name}")},
        "spec": {"containers": [{"name": "c", "resources": {
            "requests": {"cpu": "1", "memory": "4Gi"},
            "limits": {"ksx.io/vgpu": "1", "ksx.io/vgpu-memory": "10000", "ksx.io/vgpu-cores": "20"}}}]}
    }))
    .expect("test step")
}

/// n1: 8 idle GPUs; n2: no GPUs; n3: one GPU with 40,000 of 81,920 MiB used; n4: 8 GPUs, 0–5 held whole.
fn cluster() -> (Vec<Node>, Vec<Pod>) {
    let nodes = vec![
        node("n1", Some(gpus("n1", 8, 81920))),
        node("n2", None),
        node("n3", Some(gpus("n3", 1, 81920))),
        node("n4", Some(gpus("n4", 8, 81920))),
    ];
    let whole: Vec<Value> = (0..6)
        .map(|i| json!({"uuid": format!("GPU-n4-{i}"), "index": i, "kind": "whole", "memoryMiB": 81920, "cores": 100}))
        .collect();
    let pods = vec![
        bound(
            "share",
            "n3",
            json!([{"uuid": "GPU-n3-0", "index": 0, "kind": "shared", "memoryMiB": 40000, "cores": 10}]),
        ),
        bound("whole", "n4", Value::Array(whole)),
    ];
    (nodes, pods)
}

async fn start(state: ExtenderState) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("test step");
    let addr = listener.local_addr().expect("test step");
    tokio::spawn(server::serve(listener, state));
    format!("http://{addr}")
}

async fn post(base: &str, path: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("test step");
    let status = r.status().as_u16();
    let text = r.text().await.expect("test step");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filter_answers_upstream_keys_and_sorts_failures() {
    let (nodes, pods) = cluster();
    let base =
        start(ExtenderState::from_objects(&nodes, &pods, Profile::default()).expect("test step"))
            .await;
    let mut pod = gpu_pod("p");
    // 50,000 MiB: n1 and n4 (idle devices 6, 7) have it; n3 only 41,920 free; n2 has no GPU.
    pod.spec.as_mut().expect("test step").containers[0]
        .resources
        .as_mut()
        .expect("test step")
        .limits
        .as_mut()
        .expect("test step")
        .insert(
            "ksx.io/vgpu-memory".into(),
            k8s_openapi::apimachinery::pkg::api::resource::Quantity("50000".into()),
        );
    let body = json!({"Pod": pod, "NodeNames": ["n1", "n2", "n3", "n4", "zz"]});
    let (status, got) = post(&base, "/filter", body.to_string()).await;
    assert_eq!(status, 200);
    assert_eq!(
        got,
        json!({
            "Nodes": null,
            "NodeNames": ["n1", "n4"],
            "FailedNodes": {"n3": "no GPU with 50000 MiB free (largest 41920 MiB on node n3)"},
            "FailedAndUnresolvableNodes": {
                "n2": "node n2 has no GPU devices",
                "zz": "node zz is not known to the extender"
            },
            "Error": ""
        })
    );
    // Keys are read case-insensitively (as Go does) and a NodeList is answered with a NodeList.
    let body = json!({"pod": pod, "nodes": {"metadata": {}, "items": [nodes[0], nodes[1]]}});
    let (status, got) = post(&base, "/filter", body.to_string()).await;
    assert_eq!(status, 200);
    assert_eq!(got["NodeNames"], Value::Null);
    let items = got["Nodes"]["items"].as_array().expect("test step");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["metadata"]["name"], "n1");
    assert_eq!(
        got["FailedAndUnresolvableNodes"]["n2"],
        "node n2 has no GPU devices"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prioritize_scales_framework_scores_to_ten() {
    let (nodes, pods) = cluster();
    let base =
        start(ExtenderState::from_objects(&nodes, &pods, Profile::default()).expect("test step"))
            .await;
    let body = json!({"Pod": gpu_pod("p"), "NodeNames": ["n1", "n2", "n4"]});
    let (status, got) = post(&base, "/prioritize", body.to_string()).await;
    assert_eq!(status, 200);
    // Both: NodeResourcesFit LeastAllocated (63/64 cpu → 98, 252/256 Gi → 98) = 98; BalancedAllocation 100.
    // GpuBinpack n1: slots 1/80 + cores 20/800 + memory 10000/655360 → 100 × 0.0528 / 3 = 1 → (98+100+1)/3 = 66 → 6.
    // n4: slots 7/80 + cores 620/800 + memory 501520/655360 → 100 × 1.6278 / 3 = 54 → (98+100+54)/3 = 84 → 8.
    // n2 fails GpuFit → 0.
    assert_eq!(
        got,
        json!([{"Host": "n1", "Score": 6}, {"Host": "n2", "Score": 0}, {"Host": "n4", "Score": 8}])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bind_updates_the_snapshot_and_writes_through_the_seam() {
    let (nodes, pods) = cluster();
    let cluster = Arc::new(InMemoryCluster::new(
        ManualClock::at_unix_secs(1_767_225_600),
        7,
    ));
    for n in &nodes {
        cluster.apply(Object::Node(n.clone())).expect("test step");
    }
    for p in pods.iter().cloned().chain([gpu_pod("p"), gpu_pod("q")]) {
        cluster.apply(Object::Pod(p)).expect("test step");
    }
    let state = ExtenderState::from_cluster(cluster.clone(), Profile::default())
        .await
        .expect("test step")
        .with_writer(cluster.clone());
    let base = start(state.clone()).await;
    // The cluster assigns UIDs on create.
    let uid = |name: &'static str| {
        let cluster = cluster.clone();
        async move {
            let p: Pod = cluster
                .get_typed(Some("ns"), name)
                .await
                .expect("test step")
                .expect("test step");
            p.metadata.uid.expect("test step")
        }
    };
    let (uid_p, uid_q) = (uid("p").await, uid("q").await);
    // p was never shown by /filter: the server reads it through the cluster seam.
    let bind = json!({"PodName": "p", "PodNamespace": "ns", "PodUID": uid_p, "Node": "n4"});
    let (status, got) = post(&base, "/bind", bind.to_string()).await;
    assert_eq!((status, got), (200, json!({"Error": ""})));
    assert_eq!(state.bound_node("ns/p").as_deref(), Some("n4"));
    // binpack on n4: devices 6 and 7 are idle and tie → index 6.
    let a = state.allocation("ns/p").expect("test step");
    assert_eq!(a.containers[0].devices[0].uuid, "GPU-n4-6");
    let stored: Pod = cluster
        .get_typed(Some("ns"), "p")
        .await
        .expect("test step")
        .expect("test step");
    assert_eq!(
        stored
            .spec
            .as_ref()
            .expect("test step")
            .node_name
            .as_deref(),
        Some("n4")
    );
    let record = &stored.metadata.annotations.as_ref().expect("test step")["gpu.ksx.io/allocated"];
    assert_eq!(
        serde_json::from_str::<Value>(record).expect("test step")["containers"][0]["devices"][0]["uuid"],
        "GPU-n4-6"
    );
    // Binding again to the same node is a no-op success.
    let (_, got) = post(&base, "/bind", bind.to_string()).await;
    assert_eq!(got, json!({"Error": ""}));
    // Binding p to another node: it fits n1, but the cluster's pods/binding refuses a pod already bound (409
    // Conflict), and the snapshot keeps p on n4 with its device.
    let again = json!({"PodName": "p", "PodNamespace": "ns", "PodUID": uid_p, "Node": "n1"});
    let (status, got) = post(&base, "/bind", again.to_string()).await;
    assert_eq!(status, 200);
    assert_eq!(
        got["Error"],
        "pod ns/p cannot be bound to node n1: conflict in the cluster: pod p is already assigned to node \"n4\""
    );
    assert_eq!(state.bound_node("ns/p").as_deref(), Some("n4"));
    assert_eq!(
        state.allocation("ns/p").expect("test step").containers[0].devices[0].uuid,
        "GPU-n4-6"
    );
    // n2 has no GPU: refused with the reason, nothing bound.
    let bind_q = json!({"PodName": "q", "PodNamespace": "ns", "PodUID": uid_q, "Node": "n2"});
    let (status, got) = post(&base, "/bind", bind_q.to_string()).await;
    assert_eq!(status, 200);
    assert_eq!(
        got["Error"],
        "pod ns/q does not fit node n2: node n2 has no GPU devices"
    );
    assert_eq!(state.bound_node("ns/q"), None);
    // A wrong UID is refused.
    let wrong = json!({"PodName": "q", "PodNamespace": "ns", "PodUID": "other", "Node": "n1"});
    let (_, got) = post(&base, "/bind", wrong.to_string()).await;
    assert_eq!(got["Error"], format!("pod ns/q has uid {uid_q}, not other"));
    // Unbinding gives the device back: the next pod gets device 6 again.
    assert!(state.unbind("ns/p"));
    let bind_q = json!({"PodName": "q", "PodNamespace": "ns", "Node": "n4"});
    let (_, got) = post(&base, "/bind", bind_q.to_string()).await;
    assert_eq!(got, json!({"Error": ""}));
    assert_eq!(
        state.allocation("ns/q").expect("test step").containers[0].devices[0].uuid,
        "GPU-n4-6"
    );
    // p is gone from the snapshot but still bound in the cluster: binding it again is the cluster's conflict,
    // and the snapshot does not keep the refused binding.
    let (_, got) = post(&base, "/bind", bind.to_string()).await;
    assert_eq!(
        got["Error"],
        "pod ns/p cannot be bound to node n4: conflict in the cluster: pod p is already assigned to node \"n4\""
    );
    assert_eq!(state.bound_node("ns/p"), None);
    let stored: Pod = cluster
        .get_typed(Some("ns"), "q")
        .await
        .expect("test step")
        .expect("test step");
    assert_eq!(
        stored.spec.expect("test step").node_name.as_deref(),
        Some("n4")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_oversized_bodies() {
    let (nodes, pods) = cluster();
    let state = ExtenderState::from_objects(&nodes, &pods, Profile::default())
        .expect("test step")
        .with_body_limit(4096);
    let base = start(state).await;
    let (status, got) = post(&base, "/filter", "{\"Pod\": ").await;
    assert_eq!(status, 400);
    assert!(
        got["Error"]
            .as_str()
            .expect("test step")
            .starts_with("ExtenderArgs: invalid JSON: EOF"),
        "{got}"
    );
    let (status, got) = post(&base, "/filter", json!({"NodeNames": ["n1"]}).to_string()).await;
    assert_eq!(
        (status, got["Error"].clone()),
        (400, json!("ExtenderArgs: Pod is required"))
    );
    let (status, got) = post(
        &base,
        "/prioritize",
        json!({"Pod": {"metadata": {"name": "p"}}}).to_string(),
    )
    .await;
    assert_eq!(
        (status, got["Error"].clone()),
        (
            400,
            json!("ExtenderArgs: one of Nodes or NodeNames is required")
        )
    );
    let (status, got) = post(
        &base,
        "/filter",
        json!({"Pod": {"spec": {"containers": 5}}, "NodeNames": []}).to_string(),
    )
    .await;
    assert_eq!(status, 400);
    let msg = got["Error"].as_str().expect("test step");
    assert!(
        msg.starts_with("ExtenderArgs: Pod.spec.containers: invalid type"),
        "{msg}"
    );
    let (status, got) = post(&base, "/bind", json!({"PodName": 3}).to_string()).await;
    assert_eq!(status, 400);
    assert!(
        got["Error"]
            .as_str()
            .expect("test step")
            .starts_with("ExtenderBindingArgs: PodName: invalid type"),
        "{got}"
    );
    // A pod whose quantity does not parse names the field.
    let bad = json!({"Pod": {"metadata": {"name": "b", "namespace": "ns"}, "spec": {"containers": [{"name": "c",
        "resources": {"requests": {"cpu": "lots"}}}]}}, "NodeNames": ["n1"]});
    let (status, got) = post(&base, "/filter", bad.to_string()).await;
    assert_eq!(status, 400);
    assert!(
        got["Error"]
            .as_str()
            .expect("test step")
            .contains("spec.containers[0].resources.requests.cpu"),
        "{got}"
    );
    let big = format!(
        "{{\"Pod\": {{}}, \"NodeNames\": [\"{}\"]}}",
        "x".repeat(5000)
    );
    let (status, _) = post(&base, "/filter", big).await;
    assert_eq!(status, 413);
    let health = reqwest::get(format!("{base}/healthz"))
        .await
        .expect("test step");
    assert_eq!(health.status().as_u16(), 200);
    assert_eq!(health.text().await.expect("test step"), "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_generator_on_500_nodes() {
    let nodes = server::synthetic_nodes(500);
    let names: Vec<String> = nodes
        .iter()
        .map(|n| n.metadata.name.clone().expect("test step"))
        .collect();
    let state = ExtenderState::from_objects(&nodes, &[], Profile::default()).expect("test step");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("test step");
    let addr = listener.local_addr().expect("test step");
    tokio::spawn(server::serve(listener, state));
    let body = server::args_body(&gpu_pod("load"), &names);
    let requests = Arc::new(vec![
        ("/filter".to_owned(), body.clone()),
        ("/prioritize".to_owned(), body),
    ]);
    // KSX_EXTENDER_LOAD=<requests> measures longer (run with --release --nocapture for a figure).
    let total: usize = std::env::var("KSX_EXTENDER_LOAD")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let report = server::load(addr, requests, total, 2)
        .await
        .expect("test step");
    eprintln!("extender load, 500 nodes: {report:?}");
    assert_eq!((report.requests, report.errors), (total, 0));
    assert!(report.p99_micros >= report.p50_micros);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_for_a_fixed_time_answers_every_request() {
    let nodes = server::synthetic_nodes(20);
    let names: Vec<String> = nodes
        .iter()
        .map(|n| n.metadata.name.clone().expect("test step"))
        .collect();
    let state = ExtenderState::from_objects(&nodes, &[], Profile::default()).expect("test step");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("test step");
    let addr = listener.local_addr().expect("test step");
    tokio::spawn(server::serve(listener, state));
    let body = server::args_body(&gpu_pod("timed"), &names);
    let requests = Arc::new(vec![
        ("/filter".to_owned(), body.clone()),
        ("/prioritize".to_owned(), body),
    ]);
    let report = server::load_for(addr, requests, std::time::Duration::from_secs(1), 3)
        .await
        .expect("test step");
    // Some requests complete within a second even on a busy machine; none fails.
    assert!(report.requests > 0, "{report:?}");
    assert_eq!(report.errors, 0, "{report:?}");
    assert!(report.p99_micros >= report.p50_micros);
}
