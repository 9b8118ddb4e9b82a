//! Small pure helpers about pods shared by the controllers: readiness, availability, conditions, requests.

use std::collections::BTreeMap;

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::{Pod, PodCondition, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::quantity::Quantity;

/// `at + by`, saturating at the largest instant.
pub(super) fn after(at: Timestamp, by: Duration) -> Timestamp {
    let span = SignedDuration::try_from(by).unwrap_or(SignedDuration::MAX);
    at.checked_add(span).unwrap_or(Timestamp::MAX)
}

/// `at + secs` seconds (negative counts as 0).
pub(super) fn after_secs(at: Timestamp, secs: i32) -> Timestamp {
    after(at, Duration::from_secs(u64::try_from(secs).unwrap_or(0)))
}

/// The pod's phase (`Pending` when unset).
pub(super) fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending")
}

/// Not finished (`Succeeded`/`Failed`) and not being deleted: the pod counts towards its controller's replicas.
pub(super) fn is_active(pod: &Pod) -> bool {
    !matches!(phase(pod), "Succeeded" | "Failed") && pod.metadata.deletion_timestamp.is_none()
}

fn condition<'a>(pod: &'a Pod, type_: &str) -> Option<&'a PodCondition> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
}

/// The pod's `Ready` condition is `True`.
pub(super) fn is_ready(pod: &Pod) -> bool {
    condition(pod, "Ready").is_some_and(|c| c.status == "True")
}

/// Running and Ready: what StatefulSets and PodDisruptionBudgets call healthy.
pub(super) fn is_running_and_ready(pod: &Pod) -> bool {
    phase(pod) == "Running" && is_ready(pod)
}

/// When the pod became Ready, if it is.
pub(super) fn ready_since(pod: &Pod) -> Option<Timestamp> {
    condition(pod, "Ready")
        .filter(|c| c.status == "True")
        .map(|c| {
            c.last_transition_time
                .as_ref()
                .map_or(Timestamp::UNIX_EPOCH, |t| t.0)
        })
}

/// Ready for at least `min_ready_seconds` at `now`.
pub(super) fn is_available(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> bool {
    ready_since(pod)
        .is_some_and(|since| min_ready_seconds <= 0 || after_secs(since, min_ready_seconds) <= now)
}

/// Sets a pod condition; the transition time moves only when the status changes.
pub(super) fn set_condition(
    status: &mut PodStatus,
    type_: &str,
    value: bool,
    reason: Option<&str>,
    message: Option<&str>,
    now: Timestamp,
) {
    let text = if value { "True" } else { "False" };
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(c) => {
            if c.status != text {
                c.status = text.to_owned();
                c.last_transition_time = Some(Time(now));
            }
            c.reason = reason.map(str::to_owned);
            c.message = message.map(str::to_owned);
        }
        None => conditions.push(PodCondition {
            type_: type_.to_owned(),
            status: text.to_owned(),
            last_transition_time: Some(Time(now)),
            reason: reason.map(str::to_owned),
            message: message.map(str::to_owned),
            ..PodCondition::default()
        }),
    }
}

/// Millis of a quantity string (millicores for CPU, milli-bytes for memory, milli-pods); 0 when it does not
/// parse, so a bad request never blocks scheduling.
pub(super) fn milli(text: &str) -> i64 {
    text.parse::<Quantity>().map_or(0, |q| q.milli_value())
}

/// The CPU and memory a pod requests, in millis: the sum over its containers, a limit standing in for a missing
/// request as the API server defaults it.
pub(super) fn requests(pod: &Pod) -> (i64, i64) {
    let mut cpu = 0_i64;
    let mut memory = 0_i64;
    for container in pod.spec.iter().flat_map(|s| &s.containers) {
        let Some(resources) = &container.resources else {
            continue;
        };
        let get = |name: &str| {
            resources
                .requests
                .as_ref()
                .and_then(|r| r.get(name))
                .or_else(|| resources.limits.as_ref().and_then(|l| l.get(name)))
                .map_or(0, |q| milli(&q.0))
        };
        cpu = cpu.saturating_add(get("cpu"));
        memory = memory.saturating_add(get("memory"));
    }
    (cpu, memory)
}

/// Resources that are not CPU, memory, pods or ephemeral storage (`nvidia.com/gpu`, `hugepages-2Mi`…).
pub(super) fn is_extended(name: &str) -> bool {
    !matches!(name, "cpu" | "memory" | "pods" | "ephemeral-storage")
}

/// The extended resources a pod requests, in millis: the sum over its containers, a limit standing in for a
/// missing request as the API server defaults it.
pub(super) fn extended_requests(pod: &Pod) -> BTreeMap<String, i64> {
    let mut out: BTreeMap<String, i64> = BTreeMap::new();
    for resources in pod
        .spec
        .iter()
        .flat_map(|s| &s.containers)
        .filter_map(|c| c.resources.as_ref())
    {
        let requests = resources.requests.iter().flatten();
        let limits = resources.limits.iter().flatten().filter(|(name, _)| {
            resources
                .requests
                .as_ref()
                .is_none_or(|r| !r.contains_key(*name))
        });
        for (name, q) in requests.chain(limits).filter(|(n, _)| is_extended(n)) {
            let total = out.entry(name.clone()).or_default();
            *total = total.saturating_add(milli(&q.0));
        }
    }
    out
}

/// The container names of a pod, in spec order.
pub(super) fn container_names(pod: &Pod) -> Vec<String> {
    pod.spec
        .iter()
        .flat_map(|s| &s.containers)
        .map(|c| c.name.clone())
        .collect()
}

/// The node a pod is bound to.
pub(super) fn node_name(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()?
        .node_name
        .as_deref()
        .filter(|n| !n.is_empty())
}

/// The restart count summed over containers.
pub(super) fn restarts(pod: &Pod) -> i32 {
    pod.status
        .iter()
        .flat_map(|s| s.container_statuses.iter().flatten())
        .map(|c| c.restart_count)
        .sum()
}
