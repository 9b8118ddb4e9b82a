//! The kube-scheduler extender server (feature `server`): `POST /filter`, `POST /prioritize`, `POST /bind` and
//! `GET /healthz`, speaking `k8s.io/kube-scheduler/extender/v1` (scheduling.md §1.11).
//!
//! The Go types carry no JSON tags, so the wire keys are the capitalized Go field names (`Pod`, `NodeNames`,
//! `FailedAndUnresolvableNodes`, `Host`, `Score`, `PodUID` …); the server writes them exactly and reads them
//! case-insensitively, as Go's decoder does. Pods and nodes inside are ordinary core/v1 JSON.
//!
//! The server holds a [`Scheduler`] (snapshot, profile, node groups, GPU devices) in [`ExtenderState`]:
//! - `/filter` runs the profile's filters, GpuFit included, for the pod on each candidate node and answers the
//!   feasible ones (as `NodeNames` when given names, as `Nodes` when given a NodeList), the others in
//!   `FailedNodes` or, when preemption cannot help, `FailedAndUnresolvableNodes`, with the reasons joined by
//!   `, `. Candidates are looked up by name in the server's snapshot (`nodeCacheCapable: true` is recommended);
//!   a name it does not know is failed as unresolvable.
//! - `/prioritize` answers `[{Host, Score}]`: the weighted mean of the raw NodeResourcesFit,
//!   NodeResourcesBalancedAllocation and GPU scores (0–100, profile weights) divided by 10 (truncated), so 0–10
//!   (`MaxExtenderPriority`); infeasible candidates score 0.
//! - `/bind` checks the pod still fits the node, binds it in the snapshot (requests and devices), then binds it
//!   in the cluster through the [`ClusterWriter`] seam: when it holds GPUs, first the `gpu.ksx.io/allocated`
//!   record with a metadata-only merge patch (the device plugin reads it as soon as the pod is bound), then the
//!   `pods/binding` subresource ([`ClusterWriter::bind`], as kube-scheduler does: `spec.nodeName` cannot be
//!   patched on a real API server). A refused binding (a pod already bound is a conflict) takes the record back
//!   and restores the snapshot's earlier state. The pod comes
//!   from an earlier `/filter` or `/prioritize` call, else from the [`ClusterReader`] given. Failures are
//!   answered in `Error` with HTTP 200, as the protocol expects.
//!
//! Malformed bodies get HTTP 400 with a message naming the problem and field (`ExtenderArgs: Pod.spec…`); bodies
//! above the limit (default 64 MiB, [`DEFAULT_BODY_LIMIT`]) get 413. [`load`] (a request count) and [`load_for`]
//! (a fixed duration) are a small load generator for `/filter` and `/prioritize`.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use k8s_openapi::api::core::v1::{Node, Pod};
use ksx_core::cluster::{ClusterReader, ClusterWriter, Kind, ListOptions, Patch, TypedExt};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::device::{ALLOCATED_ANNOTATION, Allocation, GpuTable};
use crate::error::Result;
use crate::framework::{Code, Profile, Scheduler};
use crate::snapshot::Snapshot;

/// The default request body limit: 64 MiB (scheduling.md §1.11).
pub const DEFAULT_BODY_LIMIT: usize = 64 << 20;

/// Pods seen by `/filter` and `/prioritize` are kept for `/bind` up to this many (then forgotten at once; `/bind`
/// falls back to the cluster reader).
pub const MAX_CACHED_PODS: usize = 10_000;

/// `MaxExtenderPriority`.
pub const MAX_EXTENDER_PRIORITY: i64 = crate::plugins::MAX_EXTENDER_PRIORITY;

/// A core/v1 NodeList as the extender protocol carries it (`metadata`, `items`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeList {
    /// List metadata (kept as given).
    #[serde(default)]
    pub metadata: serde_json::Value,
    /// The nodes.
    #[serde(default)]
    pub items: Vec<Node>,
}

/// `ExtenderArgs`: the body of `/filter` and `/prioritize`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExtenderArgs {
    /// The pod being scheduled.
    #[serde(rename = "Pod")]
    pub pod: Option<Pod>,
    /// Candidate nodes (`nodeCacheCapable: false`).
    #[serde(rename = "Nodes", default)]
    pub nodes: Option<NodeList>,
    /// Candidate node names (`nodeCacheCapable: true`).
    #[serde(rename = "NodeNames", default)]
    pub node_names: Option<Vec<String>>,
}

/// `ExtenderFilterResult`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExtenderFilterResult {
    /// Feasible nodes, when the request carried `Nodes`.
    #[serde(rename = "Nodes")]
    pub nodes: Option<NodeList>,
    /// Feasible node names, when the request carried `NodeNames`.
    #[serde(rename = "NodeNames")]
    pub node_names: Option<Vec<String>>,
    /// Infeasible nodes where preemption might help: node → message.
    #[serde(rename = "FailedNodes")]
    pub failed_nodes: BTreeMap<String, String>,
    /// Infeasible nodes where preemption cannot help.
    #[serde(rename = "FailedAndUnresolvableNodes")]
    pub failed_and_unresolvable_nodes: BTreeMap<String, String>,
    /// An error for the whole call (empty on success).
    #[serde(rename = "Error")]
    pub error: String,
}

/// `HostPriority`: one entry of `/prioritize`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostPriority {
    /// The node.
    #[serde(rename = "Host")]
    pub host: String,
    /// 0–10.
    #[serde(rename = "Score")]
    pub score: i64,
}

/// `ExtenderBindingArgs`: the body of `/bind`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtenderBindingArgs {
    /// The pod's name.
    #[serde(rename = "PodName")]
    pub pod_name: String,
    /// The pod's namespace.
    #[serde(rename = "PodNamespace")]
    pub pod_namespace: String,
    /// The pod's UID (checked when both it and the known pod have one).
    #[serde(rename = "PodUID", default)]
    pub pod_uid: String,
    /// The node.
    #[serde(rename = "Node")]
    pub node: String,
}

/// `ExtenderBindingResult`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtenderBindingResult {
    /// Why binding failed (empty on success).
    #[serde(rename = "Error")]
    pub error: String,
}

struct Inner {
    scheduler: Scheduler,
    pods: HashMap<String, Pod>,
}

/// What the server serves from: the scheduler and its snapshot, the seams to the cluster, the body limit.
#[derive(Clone)]
pub struct ExtenderState {
    inner: Arc<Mutex<Inner>>,
    reader: Option<Arc<dyn ClusterReader>>,
    writer: Option<Arc<dyn ClusterWriter>>,
    body_limit: usize,
}

impl std::fmt::Debug for ExtenderState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExtenderState")
            .field("reader", &self.reader.is_some())
            .field("writer", &self.writer.is_some())
            .field("body_limit", &self.body_limit)
            .finish_non_exhaustive()
    }
}

impl ExtenderState {
    /// Serves from a scheduler (binds only in memory until [`Self::with_writer`]).
    pub fn new(scheduler: Scheduler) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                scheduler,
                pods: HashMap::new(),
            })),
            reader: None,
            writer: None,
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }

    /// A scheduler over nodes and bound pods, with the GPU devices of their annotations.
    ///
    /// # Errors
    /// As [`Snapshot::new`] and [`GpuTable::new`].
    pub fn from_objects(nodes: &[Node], pods: &[Pod], profile: Profile) -> Result<Self> {
        let snapshot = Snapshot::new(nodes, pods)?;
        let table = GpuTable::new(&snapshot, nodes, pods)?;
        Ok(Self::new(
            Scheduler::new(snapshot, profile).with_gpus(table),
        ))
    }

    /// Lists nodes and pods through the cluster seam and serves from them; the reader also finds pods that
    /// `/bind` names before any `/filter` call showed them.
    ///
    /// # Errors
    /// A failing list, and as [`Self::from_objects`].
    pub async fn from_cluster(reader: Arc<dyn ClusterReader>, profile: Profile) -> Result<Self> {
        let nodes: Vec<Node> = reader.list_typed(None, &ListOptions::default()).await?;
        let pods: Vec<Pod> = reader.list_typed(None, &ListOptions::default()).await?;
        let mut state = Self::from_objects(&nodes, &pods, profile)?;
        state.reader = Some(reader);
        Ok(state)
    }

    /// Binds through a cluster writer (merge patch of `spec.nodeName` and the allocation record).
    #[must_use]
    pub fn with_writer(mut self, writer: Arc<dyn ClusterWriter>) -> Self {
        self.writer = Some(writer);
        self
    }

    /// Sets the request body limit in bytes.
    #[must_use]
    pub fn with_body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing panics while holding the lock, so a poisoned state is still consistent.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The node a pod (`namespace/name`) is bound to in the server's snapshot.
    pub fn bound_node(&self, pod_key: &str) -> Option<String> {
        let inner = self.lock();
        let id = inner.scheduler.snapshot().bound_node(pod_key)?;
        inner.scheduler.snapshot().node(id).map(|n| n.name.clone())
    }

    /// The devices of a bound pod.
    pub fn allocation(&self, pod_key: &str) -> Option<Allocation> {
        self.lock().scheduler.allocation(pod_key).cloned()
    }

    /// Removes a pod that left its node (deleted, evicted): gives back its requests and devices.
    pub fn unbind(&self, pod_key: &str) -> bool {
        self.lock().scheduler.unbind(pod_key).is_some()
    }

    /// A read of the scheduler (for inspection and tests).
    pub fn with_scheduler<T>(&self, f: impl FnOnce(&Scheduler) -> T) -> T {
        f(&self.lock().scheduler)
    }
}

/// The extender's routes over a state, with the body limit applied.
pub fn router(state: ExtenderState) -> Router {
    let limit = state.body_limit;
    Router::new()
        .route("/filter", post(filter))
        .route("/prioritize", post(prioritize))
        .route("/bind", post(bind))
        .route("/healthz", get(|| async { "ok" }))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// Serves the extender on a bound listener until the task is dropped.
///
/// # Errors
/// An I/O error of the listener.
pub async fn serve(listener: tokio::net::TcpListener, state: ExtenderState) -> std::io::Result<()> {
    axum::serve(listener, router(state)).await
}

/// Decodes a protocol body: JSON syntax, then the top-level keys matched case-insensitively to `keys`, then the
/// typed shape, naming the field on failure.
fn decode<T: DeserializeOwned>(
    body: &[u8],
    what: &str,
    keys: &[&str],
) -> std::result::Result<T, String> {
    let mut value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("{what}: invalid JSON: {e}"))?;
    let serde_json::Value::Object(map) = &mut value else {
        return Err(format!("{what}: expected a JSON object"));
    };
    let entries: Vec<(String, serde_json::Value)> = std::mem::take(map).into_iter().collect();
    for (k, v) in entries {
        let key = keys
            .iter()
            .find(|c| c.eq_ignore_ascii_case(&k))
            .map_or(k, |c| (*c).to_owned());
        map.insert(key, v);
    }
    ksx_core::manifest::from_value_at(&value, what).map_err(|e| e.to_string())
}

fn bad_request<T: Serialize>(body: &T) -> Response {
    (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
}

const ARGS_KEYS: [&str; 3] = ["Pod", "Nodes", "NodeNames"];

/// The candidate names of a request, or the 400 message.
fn candidates(args: &ExtenderArgs) -> std::result::Result<Vec<String>, String> {
    if let Some(names) = &args.node_names {
        return Ok(names.clone());
    }
    if let Some(list) = &args.nodes {
        return Ok(list
            .items
            .iter()
            .map(|n| n.metadata.name.clone().unwrap_or_default())
            .collect());
    }
    Err("ExtenderArgs: one of Nodes or NodeNames is required".to_owned())
}

/// One candidate's verdict: `Ok(score 0–100)` or `Err((unresolvable, message))`.
type Verdict = std::result::Result<i64, (bool, String)>;

/// Runs filter and raw scores for a pod on the candidates; caches the pod for `/bind`.
fn evaluate(
    state: &ExtenderState,
    pod: &Pod,
    names: &[String],
) -> std::result::Result<Vec<Verdict>, String> {
    let mut inner = state.lock();
    let info = inner
        .scheduler
        .prepare(pod)
        .map_err(|e| format!("ExtenderArgs: Pod: {e}"))?;
    if inner.pods.len() >= MAX_CACHED_PODS {
        inner.pods.clear();
    }
    inner.pods.insert(info.key.clone(), pod.clone());
    let evaluations = inner.scheduler.evaluate(&info);
    let w = inner.scheduler.profile().weights;
    let by_name: HashMap<&str, usize> = evaluations
        .iter()
        .enumerate()
        .map(|(i, e)| (e.node.as_str(), i))
        .collect();
    Ok(names
        .iter()
        .map(|name| {
            let Some(e) = by_name.get(name.as_str()).and_then(|&i| evaluations.get(i)) else {
                return Err((true, format!("node {name} is not known to the extender")));
            };
            if let Some(r) = &e.rejection {
                return Err((
                    r.code == Code::UnschedulableAndUnresolvable,
                    r.reasons.join(", "),
                ));
            }
            let s = e.scores.unwrap_or_default();
            let parts = [
                Some((s.node_resources_fit, w.node_resources_fit)),
                s.balanced_allocation.map(|b| (b, w.balanced_allocation)),
                s.gpu.map(|g| (g, w.gpu)),
            ];
            let (sum, weight) = parts
                .into_iter()
                .flatten()
                .fold((0i64, 0i64), |(s, t), (v, w)| (s + v * w, t + w));
            Ok(if weight > 0 { sum / weight } else { 0 })
        })
        .collect())
}

async fn filter(State(state): State<ExtenderState>, body: Bytes) -> Response {
    let fail = |error: String| {
        bad_request(&ExtenderFilterResult {
            error,
            ..ExtenderFilterResult::default()
        })
    };
    let args: ExtenderArgs = match decode(&body, "ExtenderArgs", &ARGS_KEYS) {
        Ok(a) => a,
        Err(e) => return fail(e),
    };
    let Some(pod) = &args.pod else {
        return fail("ExtenderArgs: Pod is required".to_owned());
    };
    let names = match candidates(&args) {
        Ok(n) => n,
        Err(e) => return fail(e),
    };
    let verdicts = match evaluate(&state, pod, &names) {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    let mut out = ExtenderFilterResult::default();
    let mut feasible = Vec::new();
    for (i, (name, verdict)) in names.iter().zip(verdicts).enumerate() {
        match verdict {
            Ok(_) => feasible.push(i),
            Err((true, msg)) => {
                out.failed_and_unresolvable_nodes.insert(name.clone(), msg);
            }
            Err((false, msg)) => {
                out.failed_nodes.insert(name.clone(), msg);
            }
        }
    }
    if let Some(list) = args.nodes.filter(|_| args.node_names.is_none()) {
        out.nodes = Some(NodeList {
            metadata: list.metadata,
            items: list
                .items
                .into_iter()
                .enumerate()
                .filter(|(i, _)| feasible.contains(i))
                .map(|(_, n)| n)
                .collect(),
        });
    } else {
        out.node_names = Some(
            feasible
                .iter()
                .filter_map(|&i| names.get(i).cloned())
                .collect(),
        );
    }
    axum::Json(out).into_response()
}

async fn prioritize(State(state): State<ExtenderState>, body: Bytes) -> Response {
    let fail = |error: String| bad_request(&ExtenderBindingResult { error });
    let args: ExtenderArgs = match decode(&body, "ExtenderArgs", &ARGS_KEYS) {
        Ok(a) => a,
        Err(e) => return fail(e),
    };
    let Some(pod) = &args.pod else {
        return fail("ExtenderArgs: Pod is required".to_owned());
    };
    let names = match candidates(&args) {
        Ok(n) => n,
        Err(e) => return fail(e),
    };
    let verdicts = match evaluate(&state, pod, &names) {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    let list: Vec<HostPriority> = names
        .into_iter()
        .zip(verdicts)
        .map(|(host, v)| HostPriority {
            host,
            score: v.map_or(0, |s| (s / 10).clamp(0, MAX_EXTENDER_PRIORITY)),
        })
        .collect();
    axum::Json(list).into_response()
}

async fn bind(State(state): State<ExtenderState>, body: Bytes) -> Response {
    let args: ExtenderBindingArgs = match decode(
        &body,
        "ExtenderBindingArgs",
        &["PodName", "PodNamespace", "PodUID", "Node"],
    ) {
        Ok(a) => a,
        Err(error) => return bad_request(&ExtenderBindingResult { error }),
    };
    let error = match bind_pod(&state, &args).await {
        Ok(()) => String::new(),
        Err(e) => e,
    };
    axum::Json(ExtenderBindingResult { error }).into_response()
}

async fn bind_pod(
    state: &ExtenderState,
    args: &ExtenderBindingArgs,
) -> std::result::Result<(), String> {
    let key = if args.pod_namespace.is_empty() {
        args.pod_name.clone()
    } else {
        format!("{}/{}", args.pod_namespace, args.pod_name)
    };
    let cached = state.lock().pods.get(&key).cloned();
    let pod = match (cached, &state.reader) {
        (Some(p), _) => p,
        (None, Some(reader)) => reader
            .get_typed::<Pod>(Some(&args.pod_namespace), &args.pod_name)
            .await
            .map_err(|e| format!("pod {key}: {e}"))?
            .ok_or_else(|| format!("pod {key} not found"))?,
        (None, None) => return Err(format!("pod {key} is unknown: no filter call showed it")),
    };
    if let Some(uid) = pod.metadata.uid.as_deref()
        && !args.pod_uid.is_empty()
        && uid != args.pod_uid
    {
        return Err(format!("pod {key} has uid {uid}, not {}", args.pod_uid));
    }
    let (allocation, info, previous, cached) = {
        let mut inner = state.lock();
        let scheduler = &mut inner.scheduler;
        let Some(id) = scheduler.snapshot().node_id(&args.node) else {
            return Err(format!("node {} is not known to the extender", args.node));
        };
        if scheduler.snapshot().bound_node(&key) == Some(id) {
            return Ok(());
        }
        let info = scheduler.prepare(&pod).map_err(|e| e.to_string())?;
        // Bind re-checks the node as if the pod were not bound anywhere; a refusal leaves any earlier binding.
        let previous = scheduler.snapshot().bound_node(&key);
        scheduler.unbind(&key);
        let evaluation = scheduler
            .evaluate(&info)
            .into_iter()
            .nth(id.index())
            .and_then(|e| e.rejection);
        if let Some(r) = evaluation {
            if let Some(previous) = previous {
                scheduler.bind(&info, previous);
            }
            return Err(format!(
                "pod {key} does not fit node {}: {}",
                args.node,
                r.reasons.join(", ")
            ));
        }
        scheduler.bind(&info, id);
        let allocation = scheduler.allocation(&key).cloned();
        let cached = inner.pods.remove(&key);
        (allocation, info, previous, cached)
    };
    let Some(writer) = &state.writer else {
        return Ok(());
    };
    let uid = Some(args.pod_uid.as_str())
        .filter(|u| !u.is_empty())
        .or(pod.metadata.uid.as_deref());
    // The device record goes first (metadata only, which a real API server accepts on a pending pod): the
    // kubelet's device plugin reads it as soon as the pod is bound, and a pod bound without it fails admission
    // (scheduling.md §7 P2). Then the binding subresource, as kube-scheduler binds.
    let record = |a: Option<&Allocation>| {
        serde_json::json!({"metadata": {"annotations": {
            ALLOCATED_ANNOTATION: a.map(Allocation::to_annotation)
        }}})
    };
    let mut result = Ok(());
    if let Some(a) = &allocation {
        result = writer
            .patch(
                &Kind::Pod,
                Some(&args.pod_namespace),
                &args.pod_name,
                &Patch::Merge(record(Some(a))),
            )
            .await
            .map(|_| ())
            .map_err(|e| format!("writing {ALLOCATED_ANNOTATION} of pod {key}: {e}"));
    }
    if result.is_ok() {
        result = writer
            .bind(&args.pod_namespace, &args.pod_name, uid, &args.node)
            .await
            .map_err(|e| match e {
                ksx_core::Error::Conflict { reason, .. } => format!(
                    "pod {key} cannot be bound to node {}: conflict in the cluster: {reason}",
                    args.node
                ),
                e => format!("binding pod {key} to node {}: {e}", args.node),
            });
        if result.is_err() && allocation.is_some() {
            // Best effort: take back the record of a binding that did not happen (the error already says why).
            let _ = writer
                .patch(
                    &Kind::Pod,
                    Some(&args.pod_namespace),
                    &args.pod_name,
                    &Patch::Merge(record(None)),
                )
                .await;
        }
    }
    if let Err(e) = result {
        // Give the snapshot back its state before this call: the earlier binding, and the pod for a retry.
        let mut inner = state.lock();
        inner.scheduler.unbind(&key);
        if let Some(previous) = previous {
            inner.scheduler.bind(&info, previous);
        }
        if let Some(cached) = cached {
            inner.pods.insert(key.clone(), cached);
        }
        return Err(e);
    }
    Ok(())
}

/// Nodes for load and tests: `n` nodes `node-00000…` with 64 CPUs, 256 GiB and 8 GPUs of 81,920 MiB (four per
/// NUMA node) registered in `gpu.ksx.io/devices`.
pub fn synthetic_nodes(n: usize) -> Vec<Node> {
    (0..n)
        .filter_map(|i| {
            let devices: Vec<serde_json::Value> = (0..8)
                .map(|d| {
                    serde_json::json!({"uuid": format!("GPU-{i}-{d}"), "index": d, "model": "NVIDIA-A100-SXM4-80GB",
                        "memoryMiB": 81920, "numa": d / 4})
                })
                .collect();
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": format!("node-{i:05}"),
                    "annotations": {crate::device::DEVICES_ANNOTATION: serde_json::Value::Array(devices).to_string()}},
                "status": {"allocatable": {"cpu": "64", "memory": "256Gi", "pods": "110"}}
            }))
            .ok()
        })
        .collect()
}

/// What [`load`] measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadReport {
    /// Requests answered with HTTP 200.
    pub requests: usize,
    /// Requests that failed (I/O or a status other than 200).
    pub errors: usize,
    /// Wall time, seconds.
    pub seconds: f64,
    /// `requests / seconds`.
    pub requests_per_second: f64,
    /// Median latency, microseconds.
    pub p50_micros: u64,
    /// 99th-percentile latency, microseconds.
    pub p99_micros: u64,
}

/// Sends `total` requests over `connections` keep-alive HTTP/1.1 connections to `addr`, cycling through
/// `requests` (`(path, JSON body)`), and reports throughput and latency. Use it with [`synthetic_nodes`] and
/// `/filter` + `/prioritize` bodies.
///
/// # Errors
/// A connection that cannot be opened.
pub async fn load(
    addr: SocketAddr,
    requests: Arc<Vec<(String, Vec<u8>)>>,
    total: usize,
    connections: usize,
) -> std::io::Result<LoadReport> {
    drive(addr, requests, total, None, connections).await
}

/// Like [`load`], but for a fixed wall time: `connections` keep-alive clients send requests back to back until
/// `duration` has passed (a request in flight then still counts).
///
/// # Errors
/// A connection that cannot be opened.
pub async fn load_for(
    addr: SocketAddr,
    requests: Arc<Vec<(String, Vec<u8>)>>,
    duration: std::time::Duration,
    connections: usize,
) -> std::io::Result<LoadReport> {
    drive(addr, requests, usize::MAX, Some(duration), connections).await
}

async fn drive(
    addr: SocketAddr,
    requests: Arc<Vec<(String, Vec<u8>)>>,
    total: usize,
    duration: Option<std::time::Duration>,
    connections: usize,
) -> std::io::Result<LoadReport> {
    let next = Arc::new(AtomicUsize::new(0));
    let start = tokio::time::Instant::now();
    let deadline = duration.map(|d| start + d);
    let mut tasks = Vec::new();
    for _ in 0..connections.max(1) {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (next, requests) = (Arc::clone(&next), Arc::clone(&requests));
        tasks.push(tokio::spawn(async move {
            let mut stream = stream;
            let mut latencies = Vec::new();
            let mut errors = 0usize;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total
                    || requests.is_empty()
                    || deadline.is_some_and(|d| tokio::time::Instant::now() >= d)
                {
                    break;
                }
                let Some((path, body)) = requests.get(i % requests.len()) else {
                    break;
                };
                let t = tokio::time::Instant::now();
                match round_trip(&mut stream, path, body).await {
                    Ok(200) => {
                        latencies.push(u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX));
                    }
                    Ok(_) => errors += 1,
                    Err(_) => {
                        errors += 1;
                        match tokio::net::TcpStream::connect(addr).await {
                            Ok(s) => {
                                // Latency without Nagle; a failure here only costs speed.
                                let _ = s.set_nodelay(true);
                                stream = s;
                            }
                            Err(_) => break,
                        }
                    }
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for t in tasks {
        if let Ok((l, e)) = t.await {
            latencies.extend(l);
            errors += e;
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let pct = |p: usize| -> u64 {
        if latencies.is_empty() {
            return 0;
        }
        let i = (latencies.len() * p).div_ceil(100).saturating_sub(1);
        latencies.get(i).copied().unwrap_or(0)
    };
    #[allow(
        clippy::cast_precision_loss,
        reason = "a request count as f64 for a rate"
    )]
    let rate = if seconds > 0.0 {
        latencies.len() as f64 / seconds
    } else {
        0.0
    };
    Ok(LoadReport {
        requests: latencies.len(),
        errors,
        seconds,
        requests_per_second: rate,
        p50_micros: pct(50),
        p99_micros: pct(99),
    })
}

/// One HTTP/1.1 request on a keep-alive connection; returns the status. Reads a `Content-Length` body.
async fn round_trip(
    stream: &mut tokio::net::TcpStream,
    path: &str,
    body: &[u8],
) -> std::io::Result<u16> {
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: extender\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    // One write per request: a separate body write would meet Nagle's algorithm and delayed ACKs (~40 ms).
    let mut request = head.into_bytes();
    request.extend_from_slice(body);
    stream.write_all(&request).await?;
    let mut buf = Vec::with_capacity(8192);
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
    };
    let head =
        String::from_utf8_lossy(buf.get(..header_end).unwrap_or_default()).to_ascii_lowercase();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or(std::io::ErrorKind::InvalidData)?;
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .ok_or(std::io::ErrorKind::InvalidData)?;
    while buf.len() < header_end + length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
    Ok(status)
}

/// The `ExtenderArgs` body for a pod and candidate node names.
pub fn args_body(pod: &Pod, node_names: &[String]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({"Pod": pod, "NodeNames": node_names}))
        .unwrap_or_default()
}
