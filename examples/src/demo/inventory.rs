//! The cluster inventory section of the demo: nodes per pool, capacity and requests, workloads per workspace,
//! pod states and events, all read back from the cluster through the seam.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use ksx_core::cluster::{ClusterReader, ListOptions, TypedExt};
use ksx_core::quantity::Quantity;
use ksx_core::tenancy::Tenancy;
use serde::Serialize;

use super::generate::POOL_LABEL;

/// Capacity and use of one node pool.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PoolSummary {
    pub(crate) pool: String,
    pub(crate) nodes: usize,
    pub(crate) cpu_allocatable_millis: i64,
    pub(crate) cpu_requested_millis: i64,
    pub(crate) memory_allocatable_bytes: i64,
    pub(crate) memory_requested_bytes: i64,
    pub(crate) gpus_allocatable: i64,
    pub(crate) gpus_requested: i64,
    pub(crate) pods: usize,
}

impl PoolSummary {
    /// Requested CPU as a share of allocatable.
    pub(crate) fn cpu_ratio(&self) -> f64 {
        ratio(self.cpu_requested_millis, self.cpu_allocatable_millis)
    }

    /// Requested memory as a share of allocatable.
    pub(crate) fn memory_ratio(&self) -> f64 {
        ratio(self.memory_requested_bytes, self.memory_allocatable_bytes)
    }
}

/// Workloads and pods of one workspace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WorkspaceSummary {
    pub(crate) workspace: String,
    pub(crate) projects: usize,
    pub(crate) deployments: usize,
    pub(crate) stateful_sets: usize,
    pub(crate) pods: usize,
    pub(crate) ready_pods: usize,
}

/// The whole inventory.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Inventory {
    pub(crate) nodes: usize,
    pub(crate) workloads: usize,
    pub(crate) pods: usize,
    pub(crate) ready_pods: usize,
    /// Pods by state: Running, Pending, CrashLoopBackOff…
    pub(crate) pod_states: BTreeMap<String, usize>,
    pub(crate) pools: Vec<PoolSummary>,
    pub(crate) workspaces: Vec<WorkspaceSummary>,
    /// Events by `type/reason`.
    pub(crate) events: BTreeMap<String, i64>,
}

pub(crate) fn ratio(part: i64, whole: i64) -> f64 {
    if whole <= 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

fn resource(
    map: Option<&BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>,
    name: &str,
) -> Quantity {
    map.and_then(|m| m.get(name))
        .and_then(|q| q.0.parse::<Quantity>().ok())
        .unwrap_or_default()
}

/// Sums the requests of a pod's containers.
fn pod_requests(pod: &Pod, name: &str) -> Quantity {
    pod.spec
        .iter()
        .flat_map(|s| &s.containers)
        .map(|c| resource(c.resources.as_ref().and_then(|r| r.requests.as_ref()), name))
        .fold(Quantity::default(), |acc, q| {
            acc.checked_add(&q).unwrap_or(acc)
        })
}

/// The state a person would name for a pod: the waiting reason of a container if any, else its phase.
pub(crate) fn pod_state(pod: &Pod) -> String {
    let status = pod.status.as_ref();
    let waiting = status
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
        .find_map(|c| c.state.as_ref()?.waiting.as_ref()?.reason.clone());
    waiting.unwrap_or_else(|| {
        status
            .and_then(|s| s.phase.clone())
            .unwrap_or_else(|| "Unknown".into())
    })
}

pub(crate) fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == "True")
}

/// Reads the inventory back from a cluster.
///
/// # Errors
/// A failing cluster read.
pub(crate) async fn collect(
    cluster: &dyn ClusterReader,
    tenancy: &Tenancy,
) -> anyhow::Result<Inventory> {
    let all = ListOptions::default();
    let nodes: Vec<Node> = cluster.list_typed(None, &all).await?;
    let pods: Vec<Pod> = cluster.list_typed(None, &all).await?;
    let deployments: Vec<Deployment> = cluster.list_typed(None, &all).await?;
    let stateful_sets: Vec<StatefulSet> = cluster.list_typed(None, &all).await?;
    let events: Vec<Event> = cluster.list_typed(None, &all).await?;

    let mut pools: BTreeMap<String, PoolSummary> = BTreeMap::new();
    let mut node_pool: BTreeMap<&str, String> = BTreeMap::new();
    for node in &nodes {
        let pool = node
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(POOL_LABEL))
            .cloned()
            .unwrap_or_else(|| "(none)".into());
        let alloc = node.status.as_ref().and_then(|s| s.allocatable.as_ref());
        let entry = pools.entry(pool.clone()).or_insert_with(|| PoolSummary {
            pool: pool.clone(),
            ..PoolSummary::default()
        });
        entry.nodes += 1;
        entry.cpu_allocatable_millis += resource(alloc, "cpu").milli_value();
        entry.memory_allocatable_bytes += resource(alloc, "memory").value();
        entry.gpus_allocatable += resource(alloc, "nvidia.com/gpu").value();
        node_pool.insert(node.metadata.name.as_deref().unwrap_or(""), pool);
    }

    let mut workspaces: BTreeMap<String, WorkspaceSummary> = tenancy
        .workspaces
        .values()
        .map(|w| {
            (
                w.name.clone(),
                WorkspaceSummary {
                    workspace: w.name.clone(),
                    projects: w.projects.len(),
                    ..WorkspaceSummary::default()
                },
            )
        })
        .collect();
    let ws_of = |ns: Option<&str>| ns.and_then(|n| tenancy.workspace_of(n)).map(str::to_owned);

    let mut pod_states: BTreeMap<String, usize> = BTreeMap::new();
    let mut ready_pods = 0;
    for pod in &pods {
        *pod_states.entry(pod_state(pod)).or_default() += 1;
        let ready = is_ready(pod);
        ready_pods += usize::from(ready);
        if let Some(pool) = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .and_then(|n| node_pool.get(n))
            .and_then(|p| pools.get_mut(p))
        {
            pool.pods += 1;
            pool.cpu_requested_millis += pod_requests(pod, "cpu").milli_value();
            pool.memory_requested_bytes += pod_requests(pod, "memory").value();
            pool.gpus_requested += pod_requests(pod, "nvidia.com/gpu").value();
        }
        if let Some(ws) =
            ws_of(pod.metadata.namespace.as_deref()).and_then(|w| workspaces.get_mut(&w))
        {
            ws.pods += 1;
            ws.ready_pods += usize::from(ready);
        }
    }
    for d in &deployments {
        if let Some(ws) =
            ws_of(d.metadata.namespace.as_deref()).and_then(|w| workspaces.get_mut(&w))
        {
            ws.deployments += 1;
        }
    }
    for s in &stateful_sets {
        if let Some(ws) =
            ws_of(s.metadata.namespace.as_deref()).and_then(|w| workspaces.get_mut(&w))
        {
            ws.stateful_sets += 1;
        }
    }
    let mut event_counts: BTreeMap<String, i64> = BTreeMap::new();
    for e in &events {
        let key = format!(
            "{}/{}",
            e.type_.as_deref().unwrap_or("Normal"),
            e.reason.as_deref().unwrap_or("")
        );
        *event_counts.entry(key).or_default() += i64::from(e.count.unwrap_or(1).max(1));
    }

    Ok(Inventory {
        nodes: nodes.len(),
        workloads: deployments.len() + stateful_sets.len(),
        pods: pods.len(),
        ready_pods,
        pod_states,
        pools: pools.into_values().collect(),
        workspaces: workspaces.into_values().collect(),
        events: event_counts,
    })
}
