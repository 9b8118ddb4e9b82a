//! A naive scheduler: binds each pending pod to the feasible node with the most free CPU (ties broken by name).
//! A node is feasible when it is schedulable, its taints are tolerated, the pod's nodeSelector matches its labels
//! and its allocatable CPU, memory, pod count and extended resources (GPUs…) fit the pod's requests. Pods that fit nowhere stay Pending with a
//! `FailedScheduling` event in the upstream wording.

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Node, Pod, Taint, Toleration};

use super::pods::{
    extended_requests, is_active, is_extended, milli, node_name, requests, set_condition,
};
use super::state::{EventType, Involved, State};
use super::store::Key;
use crate::cluster::{Kind, Object};
use crate::error::{Error, Result, object_key};

/// Whether one toleration tolerates a taint.
fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    if toleration
        .effect
        .as_deref()
        .is_some_and(|e| !e.is_empty() && e != taint.effect)
    {
        return false;
    }
    let key = toleration.key.as_deref().unwrap_or("");
    match toleration.operator.as_deref().unwrap_or("Equal") {
        "Exists" => key.is_empty() || key == taint.key,
        _ => {
            key == taint.key
                && toleration.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or("")
        }
    }
}

/// The first `NoSchedule`/`NoExecute` taint of the list no toleration tolerates.
pub(super) fn untolerated<'a>(
    taints: &'a [Taint],
    tolerations: &[Toleration],
) -> Option<&'a Taint> {
    taints
        .iter()
        .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
        .find(|t| !tolerations.iter().any(|tol| tolerates(tol, t)))
}

/// The node's taints, plus `node.kubernetes.io/not-ready:NoSchedule` when its Ready condition is not `True`.
pub(super) fn effective_taints(node: &Node) -> Vec<Taint> {
    let mut taints: Vec<Taint> = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    let not_ready = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .is_some_and(|c| c.status != "True");
    if not_ready {
        taints.push(Taint {
            key: "node.kubernetes.io/not-ready".to_owned(),
            effect: "NoSchedule".to_owned(),
            ..Taint::default()
        });
    }
    taints
}

/// Whether a nodeSelector matches a node's labels.
pub(super) fn selector_matches(selector: Option<&BTreeMap<String, String>>, node: &Node) -> bool {
    let labels = node.metadata.labels.as_ref();
    selector
        .into_iter()
        .flatten()
        .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}

/// `spec.unschedulable` is set (the node is cordoned).
pub(super) fn is_cordoned(node: &Node) -> bool {
    node.spec
        .as_ref()
        .and_then(|s| s.unschedulable)
        .unwrap_or(false)
}

fn allocatable(node: &Node, name: &str) -> Option<i64> {
    let status = node.status.as_ref()?;
    status
        .allocatable
        .as_ref()
        .and_then(|a| a.get(name))
        .or_else(|| status.capacity.as_ref().and_then(|c| c.get(name)))
        .map(|q| milli(&q.0))
}

/// A node's allocatable extended resources, in millis (capacity when allocatable is unset).
fn extended_allocatable(node: &Node) -> BTreeMap<String, i64> {
    let Some(status) = node.status.as_ref() else {
        return BTreeMap::new();
    };
    status
        .allocatable
        .as_ref()
        .or(status.capacity.as_ref())
        .into_iter()
        .flatten()
        .filter(|(name, _)| is_extended(name))
        .map(|(name, q)| (name.clone(), milli(&q.0)))
        .collect()
}

/// What the scheduler knows about one node.
struct NodeInfo {
    name: String,
    node: Node,
    taints: Vec<Taint>,
    /// Allocatable CPU, memory (millis) and pods (milli-pods); `None` is unlimited.
    cpu: Option<i64>,
    memory: Option<i64>,
    pods: Option<i64>,
    used_cpu: i64,
    used_memory: i64,
    used_pods: i64,
    /// Allocatable extended resources (millis); a resource the node does not list has none.
    extended: BTreeMap<String, i64>,
    used_extended: BTreeMap<String, i64>,
}

impl NodeInfo {
    /// Accounts a pod bound to this node.
    fn add_pod(&mut self, pod: &Pod) {
        let (cpu, memory) = requests(pod);
        self.used_cpu = self.used_cpu.saturating_add(cpu);
        self.used_memory = self.used_memory.saturating_add(memory);
        self.used_pods = self.used_pods.saturating_add(1000);
        for (name, amount) in extended_requests(pod) {
            let used = self.used_extended.entry(name).or_default();
            *used = used.saturating_add(amount);
        }
    }

    fn free_cpu(&self) -> i64 {
        self.cpu
            .map_or(i64::MAX, |c| c.saturating_sub(self.used_cpu))
    }
}

/// Binds every pending pod it can, in namespace-then-name order.
pub(super) fn schedule(st: &mut State, now: Timestamp) {
    let pending = st.unscheduled_pods();
    if pending.is_empty() {
        return;
    }
    let mut nodes: Vec<NodeInfo> = st
        .store
        .iter(&Kind::Node)
        .filter_map(|o| match o {
            Object::Node(n) => Some(NodeInfo {
                name: n.metadata.name.clone().unwrap_or_default(),
                taints: effective_taints(n),
                cpu: allocatable(n, "cpu"),
                memory: allocatable(n, "memory"),
                pods: allocatable(n, "pods"),
                node: n.clone(),
                used_cpu: 0,
                used_memory: 0,
                used_pods: 0,
                extended: extended_allocatable(n),
                used_extended: BTreeMap::new(),
            }),
            _ => None,
        })
        .collect();
    let index: BTreeMap<String, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.clone(), i))
        .collect();
    for object in st.store.iter(&Kind::Pod) {
        let Object::Pod(pod) = object else { continue };
        if let Some(node) = node_name(pod)
            .and_then(|n| index.get(n))
            .and_then(|&i| nodes.get_mut(i))
            && is_active(pod)
        {
            node.add_pod(pod);
        }
    }

    for key in pending {
        let Some(Object::Pod(pod)) = st.store.get(&Kind::Pod, &key.0, &key.1) else {
            continue;
        };
        let involved = Involved::new(Kind::Pod, &pod.metadata);
        match pick_node(pod, &nodes) {
            Ok(i) => {
                let Some(node) = nodes.get_mut(i) else {
                    continue;
                };
                node.add_pod(pod);
                let node_name = node.name.clone();
                assign(st, &key, &node_name, now);
                let message = format!("Successfully assigned {}/{} to {node_name}", key.0, key.1);
                st.record_event(
                    &involved,
                    EventType::Normal,
                    "Scheduled",
                    message,
                    "default-scheduler",
                );
            }
            Err(message) => {
                let already = pod
                    .status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .and_then(|c| c.iter().find(|c| c.type_ == "PodScheduled"))
                    .is_some_and(|c| {
                        c.status == "False" && c.message.as_deref() == Some(message.as_str())
                    });
                if !already {
                    st.store.update(&Kind::Pod, &key.0, &key.1, |object| {
                        if let Object::Pod(pod) = object {
                            let status = pod.status.get_or_insert_default();
                            status.phase.get_or_insert_with(|| "Pending".to_owned());
                            set_condition(
                                status,
                                "PodScheduled",
                                false,
                                Some("Unschedulable"),
                                Some(&message),
                                now,
                            );
                        }
                    });
                }
                st.record_event(
                    &involved,
                    EventType::Warning,
                    "FailedScheduling",
                    message,
                    "default-scheduler",
                );
            }
        }
    }
}

/// Sets a pod's `spec.nodeName` and `PodScheduled` condition and lets the kubelet simulation start it.
fn assign(st: &mut State, key: &Key, node_name: &str, now: Timestamp) {
    st.store.update(&Kind::Pod, &key.0, &key.1, |object| {
        if let Object::Pod(pod) = object {
            pod.spec.get_or_insert_default().node_name = Some(node_name.to_owned());
            let status = pod.status.get_or_insert_default();
            status.phase.get_or_insert_with(|| "Pending".to_owned());
            set_condition(status, "PodScheduled", true, None, None, now);
        }
    });
    st.pod_bound(key);
}

/// Binds a pending pod to a node as the `pods/binding` subresource does: no feasibility check (the caller
/// scheduled it), but a pod already bound, or one whose uid differs from `uid`, is refused with
/// [`Error::Conflict`], in the API server's wording.
pub(super) fn bind(
    st: &mut State,
    namespace: &str,
    name: &str,
    uid: Option<&str>,
    node: &str,
) -> Result<()> {
    let Some(Object::Pod(pod)) = st.store.get(&Kind::Pod, namespace, name) else {
        return Err(Error::not_found("Pod", Some(namespace), name));
    };
    let conflict = |reason: String| Error::Conflict {
        kind: "Pod".to_owned(),
        object: object_key(Some(namespace), name),
        reason,
    };
    let stored_uid = pod.metadata.uid.as_deref().unwrap_or_default();
    if let Some(uid) = uid.filter(|u| !u.is_empty())
        && uid != stored_uid
    {
        return Err(conflict(format!(
            "precondition failed: uid in precondition {uid}, uid of the pod {stored_uid}"
        )));
    }
    if node.is_empty() {
        return Err(Error::InvalidField {
            object: format!("Pod {}", object_key(Some(namespace), name)),
            field: "target.name".to_owned(),
            reason: "a node name is required".to_owned(),
        });
    }
    if let Some(bound) = node_name(pod) {
        return Err(conflict(format!(
            "pod {name} is already assigned to node {bound:?}"
        )));
    }
    let now = st.now();
    assign(st, &(namespace.to_owned(), name.to_owned()), node, now);
    Ok(())
}

/// The index of the best feasible node, or the `FailedScheduling` message.
fn pick_node(pod: &Pod, nodes: &[NodeInfo]) -> Result<usize, String> {
    let spec = pod.spec.as_ref();
    let tolerations: &[Toleration] = spec.and_then(|s| s.tolerations.as_deref()).unwrap_or(&[]);
    let node_selector = spec.and_then(|s| s.node_selector.as_ref());
    let (cpu, memory) = requests(pod);
    let extended = extended_requests(pod);
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut best: Option<usize> = None;
    for (i, info) in nodes.iter().enumerate() {
        let mut failed = Vec::new();
        let unschedulable_taint = Taint {
            key: "node.kubernetes.io/unschedulable".to_owned(),
            effect: "NoSchedule".to_owned(),
            ..Taint::default()
        };
        if is_cordoned(&info.node)
            && !tolerations
                .iter()
                .any(|t| tolerates(t, &unschedulable_taint))
        {
            failed.push("node(s) were unschedulable".to_owned());
        } else if let Some(taint) = untolerated(&info.taints, tolerations) {
            failed.push(format!(
                "node(s) had untolerated taint {{{}: {}}}",
                taint.key,
                taint.value.as_deref().unwrap_or("")
            ));
        } else if !selector_matches(node_selector, &info.node) {
            failed.push("node(s) didn't match Pod's node affinity/selector".to_owned());
        } else {
            if info
                .pods
                .is_some_and(|p| info.used_pods.saturating_add(1000) > p)
            {
                failed.push("Too many pods".to_owned());
            }
            if info
                .cpu
                .is_some_and(|c| info.used_cpu.saturating_add(cpu) > c)
            {
                failed.push("Insufficient cpu".to_owned());
            }
            if info
                .memory
                .is_some_and(|m| info.used_memory.saturating_add(memory) > m)
            {
                failed.push("Insufficient memory".to_owned());
            }
            for (name, amount) in extended.iter().filter(|(_, a)| **a > 0) {
                let have = info.extended.get(name).copied().unwrap_or(0);
                let used = info.used_extended.get(name).copied().unwrap_or(0);
                if used.saturating_add(*amount) > have {
                    failed.push(format!("Insufficient {name}"));
                }
            }
        }
        if failed.is_empty() {
            if best
                .and_then(|b| nodes.get(b))
                .is_none_or(|b| info.free_cpu() > b.free_cpu())
            {
                best = Some(i);
            }
        } else {
            for reason in failed {
                *reasons.entry(reason).or_default() += 1;
            }
        }
    }
    best.ok_or_else(|| {
        let detail: Vec<String> = reasons
            .iter()
            .map(|(reason, n)| format!("{n} {reason}"))
            .collect();
        if detail.is_empty() {
            format!("0/{} nodes are available.", nodes.len())
        } else {
            format!(
                "0/{} nodes are available: {}.",
                nodes.len(),
                detail.join(", ")
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taint(key: &str, value: &str, effect: &str) -> Taint {
        Taint {
            key: key.into(),
            value: Some(value.into()),
            effect: effect.into(),
            ..Taint::default()
        }
    }

    fn toleration(
        key: Option<&str>,
        operator: &str,
        value: Option<&str>,
        effect: Option<&str>,
    ) -> Toleration {
        Toleration {
            key: key.map(Into::into),
            operator: Some(operator.into()),
            value: value.map(Into::into),
            effect: effect.map(Into::into),
            ..Toleration::default()
        }
    }

    #[test]
    fn tolerations_follow_kubernetes_rules() {
        let gpu = taint("gpu", "true", "NoSchedule");
        assert!(tolerates(
            &toleration(Some("gpu"), "Equal", Some("true"), None),
            &gpu
        ));
        assert!(!tolerates(
            &toleration(Some("gpu"), "Equal", Some("false"), None),
            &gpu
        ));
        assert!(tolerates(
            &toleration(Some("gpu"), "Exists", None, Some("NoSchedule")),
            &gpu
        ));
        assert!(!tolerates(
            &toleration(Some("gpu"), "Exists", None, Some("NoExecute")),
            &gpu
        ));
        assert!(tolerates(&toleration(None, "Exists", None, None), &gpu));
        let soft = taint("x", "y", "PreferNoSchedule");
        assert!(untolerated(&[soft, gpu.clone()], &[]).is_some_and(|t| t.key == "gpu"));
    }
}
