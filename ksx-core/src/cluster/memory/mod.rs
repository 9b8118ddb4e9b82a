//! The in-memory cluster: the embedded default cluster, the simulator behind the demo and the test double of
//! every engine.
//!
//! [`InMemoryCluster`] stores objects in ordered maps and implements the cluster seams ([`ClusterReader`],
//! [`ClusterWriter`], [`Evictor`], [`LogReader`]). Time comes from a [`ManualClock`] and randomness (uids, pod name
//! suffixes, start-up jitter) from a RNG seeded by the caller, so the same seed and the same calls give the same
//! cluster, byte for byte.
//!
//! It also simulates the control plane. [`InMemoryCluster::advance`] moves the clock in steps of
//! [`InMemoryCluster::tick`] and runs the controllers after each step ([`InMemoryCluster::reconcile`] runs them
//! once): Deployments (rolling update with the arithmetic of [`crate::rolling`], or Recreate), ReplicaSets,
//! StatefulSets, DaemonSets, a scheduler that binds pods to the node with the most free CPU, a kubelet that
//! starts containers and makes them Ready after a start-up delay, or never Ready, or crash-looping, as
//! [`PodProfile`]s or pod annotations ([`STARTUP_DELAY_ANNOTATION`], [`FAIL_ANNOTATION`], [`JITTER_ANNOTATION`])
//! say, and an EndpointSlice controller that keeps the `discovery.k8s.io/v1` EndpointSlices of Services with a
//! selector (labelled [`SERVICE_NAME_LABEL`], one slice per [`MAX_ENDPOINTS`] pods, endpoint `ready` following
//! the pods' Ready condition). Controllers leave Kubernetes events ([`InMemoryCluster::events`]) and containers leave log lines.
//!
//! ```
//! use std::time::Duration;
//! use k8s_openapi::api::core::v1::Pod;
//! use ksx_core::cluster::{Kind, ListOptions, Object};
//! use ksx_core::{InMemoryCluster, ManualClock};
//!
//! let cluster = InMemoryCluster::new(ManualClock::at_unix_secs(1_700_000_000), 42);
//! cluster.add_node("node-a", "4", "8Gi")?;
//! cluster.add_node("node-b", "4", "8Gi")?;
//! let deployment = serde_json::json!({
//!     "apiVersion": "apps/v1",
//!     "kind": "Deployment",
//!     "metadata": {"name": "web", "namespace": "shop"},
//!     "spec": {
//!         "replicas": 3,
//!         "selector": {"matchLabels": {"app": "web"}},
//!         "template": {
//!             "metadata": {"labels": {"app": "web"}, "annotations": {"sim.ksx.io/startup-delay-seconds": "5"}},
//!             "spec": {"containers": [{"name": "web", "image": "nginx:1.27",
//!                 "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}}}]}
//!         }
//!     }
//! });
//! cluster.apply(Object::from_json(&Kind::Deployment, deployment)?)?;
//! cluster.advance(Duration::from_secs(30));
//!
//! let pods = cluster.list_sync(&Kind::Pod, Some("shop"), &ListOptions::labels("app=web"))?;
//! let ready = pods
//!     .into_iter()
//!     .filter_map(|o| match o {
//!         Object::Pod(p) => Some(p),
//!         _ => None,
//!     })
//!     .filter(|p: &Pod| {
//!         let conditions = p.status.as_ref().and_then(|s| s.conditions.as_ref());
//!         conditions.is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
//!     })
//!     .count();
//! assert_eq!(ready, 3);
//! # Ok::<(), ksx_core::Error>(())
//! ```

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Event, Node, NodeCondition, NodeStatus};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use tokio::sync::broadcast::error::RecvError;

use self::state::State;
use self::store::{Change, namespace_key};
use super::selector::{FieldSelector, LabelSelector};
use super::{
    ClusterReader, ClusterWriter, Evictor, Kind, ListOptions, LogOptions, LogReader, Object, Patch,
    WatchEvent, WatchStream,
};
use crate::clock::ManualClock;
use crate::error::{Error, Result};

mod controllers;
mod daemonset;
mod deployment;
mod endpointslice;
mod eviction;
mod patch;
mod pods;
mod replicaset;
mod scheduler;
mod sim;
mod state;
mod statefulset;
mod store;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_endpointslice;
#[cfg(test)]
mod tests_workloads;

pub use endpointslice::{MANAGED_BY, MANAGED_BY_LABEL, MAX_ENDPOINTS, SERVICE_NAME_LABEL};
pub use sim::{
    FAIL_ANNOTATION, JITTER_ANNOTATION, PodFailure, PodProfile, STARTUP_DELAY_ANNOTATION,
};

/// A deterministic simulated cluster: the embedded default implementation of the cluster seams.
///
/// All methods take `&self`; the state sits behind one mutex that is never held across an `await`.
#[derive(Debug)]
pub struct InMemoryCluster {
    state: Mutex<State>,
    clock: ManualClock,
}

impl Default for InMemoryCluster {
    /// A cluster at the Unix epoch with seed 0.
    fn default() -> Self {
        Self::new(ManualClock::default(), 0)
    }
}

/// Label and field selectors of a list or watch, parsed once.
#[derive(Debug, Clone)]
struct Filter {
    kind: Kind,
    namespace: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
}

impl Filter {
    fn new(kind: &Kind, namespace: Option<&str>, options: &ListOptions) -> Result<Self> {
        let labels = LabelSelector::parse(options.label_selector.as_deref().unwrap_or(""))?;
        let fields = FieldSelector::parse(options.field_selector.as_deref().unwrap_or(""))?;
        fields.check_kind(kind)?;
        Ok(Self {
            kind: kind.clone(),
            namespace: namespace
                .filter(|_| kind.is_namespaced())
                .map(str::to_owned),
            labels,
            fields,
        })
    }

    fn matches(&self, object: &Object) -> bool {
        object.kind() == self.kind
            && self
                .namespace
                .as_deref()
                .is_none_or(|ns| object.namespace() == Some(ns))
            && self.labels.matches_opt(object.metadata().labels.as_ref())
            && self.fields.matches(object)
    }

    /// The event a watcher with this filter sees for a change, if any: an object that starts matching is
    /// `Added`, one that stops matching is `Deleted`, as the API server does for selector watches.
    fn translate(&self, change: &Change) -> Option<WatchEvent> {
        match &change.event {
            WatchEvent::Modified(new) => {
                let was = change.old.as_ref().is_some_and(|o| self.matches(o));
                match (was, self.matches(new)) {
                    (true, true) => Some(WatchEvent::Modified(new.clone())),
                    (false, true) => Some(WatchEvent::Added(new.clone())),
                    (true, false) => Some(WatchEvent::Deleted(new.clone())),
                    (false, false) => None,
                }
            }
            other => self.matches(other.object()).then(|| other.clone()),
        }
    }
}

impl InMemoryCluster {
    /// An empty cluster whose time is `clock` and whose randomness is seeded with `seed`.
    pub fn new(clock: ManualClock, seed: u64) -> Self {
        Self {
            state: Mutex::new(State::new(clock.clone(), seed)),
            clock,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The cluster's clock (clones share its time).
    pub fn clock(&self) -> &ManualClock {
        &self.clock
    }

    /// The simulation step of [`InMemoryCluster::advance`] (1 s unless changed).
    pub fn tick(&self) -> Duration {
        self.lock().tick
    }

    /// Sets the simulation step of [`InMemoryCluster::advance`]; a zero step is taken as 1 ms.
    pub fn set_tick(&self, tick: Duration) {
        self.lock().tick = tick.max(Duration::from_millis(1));
    }

    /// Creates an object, or replaces the stored one of the same kind, namespace and name (keeping its uid and
    /// creation time, and its status when the new object has none). Returns the object as stored.
    ///
    /// # Errors
    /// An object without a name or `generateName`, or one that does not round-trip through JSON.
    pub fn apply(&self, object: Object) -> Result<Object> {
        let mut st = self.lock();
        let kind = object.kind();
        let namespace = namespace_key(
            &kind,
            object
                .namespace()
                .filter(|n| !n.is_empty())
                .or(Some("default")),
        );
        if !object.name().is_empty() && st.store.contains(&kind, &namespace, object.name()) {
            let mut object = object;
            if kind.is_namespaced() {
                object.metadata_mut().namespace = Some(namespace);
            }
            st.replace(&object)
        } else {
            st.create(object)
        }
    }

    /// One object, or `None`.
    pub fn get_sync(&self, kind: &Kind, namespace: Option<&str>, name: &str) -> Option<Object> {
        let st = self.lock();
        st.store
            .get(kind, &namespace_key(kind, namespace), name)
            .cloned()
    }

    /// Objects of a kind in one namespace (or all), ordered by namespace then name.
    ///
    /// # Errors
    /// [`Error::InvalidSelector`] for a selector that does not parse or a field the kind does not have.
    pub fn list_sync(
        &self,
        kind: &Kind,
        namespace: Option<&str>,
        options: &ListOptions,
    ) -> Result<Vec<Object>> {
        let filter = Filter::new(kind, namespace, options)?;
        let st = self.lock();
        Ok(st
            .store
            .iter_in(kind, filter.namespace.as_deref())
            .filter(|o| filter.matches(o))
            .cloned()
            .collect())
    }

    /// How many objects of a kind exist (cheaper than listing them).
    pub fn count(&self, kind: &Kind) -> usize {
        self.lock().store.count(kind)
    }

    /// Deletes an object and everything it owns.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn delete_sync(&self, kind: &Kind, namespace: Option<&str>, name: &str) -> Result<()> {
        self.lock().delete(kind, namespace, name)
    }

    /// Binds a pending pod to a node as the `pods/binding` subresource does (see [`ClusterWriter::bind`]); the
    /// simulated kubelet then starts it.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown pod, [`Error::Conflict`] for a pod already bound or a uid that differs,
    /// [`Error::InvalidField`] for an empty node name.
    pub fn bind_sync(
        &self,
        namespace: &str,
        pod: &str,
        uid: Option<&str>,
        node: &str,
    ) -> Result<()> {
        let namespace = namespace_key(&Kind::Pod, Some(namespace));
        scheduler::bind(&mut self.lock(), &namespace, pod, uid, node)
    }

    /// Evicts a pod through the simulated Eviction API (see [`Evictor::evict`]).
    ///
    /// # Errors
    /// [`Error::DisruptionBudget`] when a PodDisruptionBudget forbids it, [`Error::NotFound`] for an unknown pod.
    pub fn evict_sync(&self, namespace: &str, pod: &str) -> Result<()> {
        eviction::evict(&mut self.lock(), namespace, pod)
    }

    /// Moves the clock forward by `by`, in steps of [`InMemoryCluster::tick`], running the controllers after each
    /// step.
    pub fn advance(&self, by: Duration) {
        let mut st = self.lock();
        let mut left = by;
        while !left.is_zero() {
            let step = left.min(st.tick);
            self.clock.advance(step);
            controllers::reconcile(&mut st);
            left -= step;
        }
    }

    /// Runs every controller once at the current time.
    pub fn reconcile(&self) {
        controllers::reconcile(&mut self.lock());
    }

    /// Sets how pods created from now on in `namespace` whose labels match `selector` behave. Later calls win over
    /// earlier ones; pod annotations win over both.
    ///
    /// # Errors
    /// [`Error::InvalidSelector`] for a selector that does not parse.
    pub fn set_pod_profile(
        &self,
        namespace: &str,
        selector: &str,
        profile: PodProfile,
    ) -> Result<()> {
        let selector = LabelSelector::parse(selector)?;
        self.lock().profiles.push(sim::ProfileRule {
            namespace: namespace.to_owned(),
            selector,
            profile,
        });
        Ok(())
    }

    /// Sets how pods behave when no profile set by [`InMemoryCluster::set_pod_profile`] matches them.
    pub fn set_default_pod_profile(&self, profile: PodProfile) {
        self.lock().default_profile = profile;
    }

    /// Events in one namespace (or all), in the order they were first recorded.
    pub fn events(&self, namespace: Option<&str>) -> Vec<Event> {
        self.lock().events(namespace)
    }

    /// Adds (or replaces) a Ready node with `cpu` and `memory` allocatable (quantity strings such as `"4"` and
    /// `"16Gi"`), room for 110 pods, and the `kubernetes.io/hostname` label.
    ///
    /// # Errors
    /// As [`InMemoryCluster::apply`].
    pub fn add_node(&self, name: &str, cpu: &str, memory: &str) -> Result<Object> {
        let resources: BTreeMap<String, K8sQuantity> =
            [("cpu", cpu), ("memory", memory), ("pods", "110")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), K8sQuantity(v.to_owned())))
                .collect();
        let node = Node {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                labels: Some(BTreeMap::from([(
                    "kubernetes.io/hostname".to_owned(),
                    name.to_owned(),
                )])),
                ..ObjectMeta::default()
            },
            spec: None,
            status: Some(NodeStatus {
                allocatable: Some(resources.clone()),
                capacity: Some(resources),
                conditions: Some(vec![NodeCondition {
                    type_: "Ready".to_owned(),
                    status: "True".to_owned(),
                    reason: Some("KubeletReady".to_owned()),
                    ..NodeCondition::default()
                }]),
                ..NodeStatus::default()
            }),
        };
        self.apply(Object::Node(node))
    }
}

#[async_trait]
impl ClusterReader for InMemoryCluster {
    async fn list(
        &self,
        kind: &Kind,
        namespace: Option<&str>,
        options: &ListOptions,
    ) -> Result<Vec<Object>> {
        self.list_sync(kind, namespace, options)
    }

    async fn get(
        &self,
        kind: &Kind,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<Object>> {
        Ok(self.get_sync(kind, namespace, name))
    }

    async fn watch(
        &self,
        kind: &Kind,
        namespace: Option<&str>,
        options: &ListOptions,
    ) -> Result<WatchStream> {
        let filter = Filter::new(kind, namespace, options)?;
        let (initial, receiver) = {
            let st = self.lock();
            let initial: Vec<Object> = st
                .store
                .iter_in(kind, filter.namespace.as_deref())
                .filter(|o| filter.matches(o))
                .cloned()
                .collect();
            // Subscribing under the same lock as the snapshot means no change falls between the two.
            (initial, st.store.subscribe())
        };
        let initial = futures::stream::iter(initial.into_iter().map(|o| Ok(WatchEvent::Added(o))));
        let live =
            futures::stream::unfold((receiver, filter), |(mut receiver, filter)| async move {
                loop {
                    match receiver.recv().await {
                        Ok(change) => {
                            if let Some(event) = filter.translate(&change) {
                                return Some((Ok(event), (receiver, filter)));
                            }
                        }
                        // A watcher that fell behind, or a cluster that is gone, ends the stream: callers re-list.
                        Err(RecvError::Lagged(_) | RecvError::Closed) => return None,
                    }
                }
            });
        Ok(initial.chain(live).boxed())
    }
}

#[async_trait]
impl ClusterWriter for InMemoryCluster {
    async fn create(&self, object: Object) -> Result<Object> {
        self.lock().create(object)
    }

    async fn patch(
        &self,
        kind: &Kind,
        namespace: Option<&str>,
        name: &str,
        patch: &Patch,
    ) -> Result<Object> {
        patch::patch(&mut self.lock(), kind, namespace, name, patch, false)
    }

    async fn patch_status(
        &self,
        kind: &Kind,
        namespace: Option<&str>,
        name: &str,
        patch: &Patch,
    ) -> Result<Object> {
        patch::patch(&mut self.lock(), kind, namespace, name, patch, true)
    }

    async fn scale(&self, kind: &Kind, namespace: &str, name: &str, replicas: i32) -> Result<()> {
        patch::scale(&mut self.lock(), kind, namespace, name, replicas)
    }

    async fn delete(&self, kind: &Kind, namespace: Option<&str>, name: &str) -> Result<()> {
        self.delete_sync(kind, namespace, name)
    }

    async fn bind(&self, namespace: &str, pod: &str, uid: Option<&str>, node: &str) -> Result<()> {
        self.bind_sync(namespace, pod, uid, node)
    }
}

#[async_trait]
impl Evictor for InMemoryCluster {
    async fn evict(&self, namespace: &str, pod: &str) -> Result<()> {
        self.evict_sync(namespace, pod)
    }
}

#[async_trait]
impl LogReader for InMemoryCluster {
    async fn logs(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        options: &LogOptions,
    ) -> Result<String> {
        let st = self.lock();
        let Some(Object::Pod(p)) = st.store.get(&Kind::Pod, namespace, pod) else {
            return Err(Error::not_found("Pod", Some(namespace), pod));
        };
        let names = pods::container_names(p);
        let container = match container {
            Some(c) if names.iter().any(|n| n == c) => c.to_owned(),
            Some(c) => {
                return Err(Error::not_found(
                    "container",
                    Some(namespace),
                    &format!("{pod}/{c}"),
                ));
            }
            None => names.first().cloned().ok_or_else(|| {
                Error::not_found("container", Some(namespace), &format!("{pod}/<none>"))
            })?,
        };
        let log = st
            .logs
            .get(&(namespace.to_owned(), pod.to_owned()))
            .and_then(|l| l.get(&container));
        let lines: &[String] = match (log, options.previous) {
            (Some(l), true) => l.previous.as_deref().ok_or_else(|| Error::Invalid {
                kind: "Pod".to_owned(),
                object: crate::error::object_key(Some(namespace), pod),
                reason: format!("previous terminated container {container:?} not found"),
            })?,
            (None, true) => {
                return Err(Error::Invalid {
                    kind: "Pod".to_owned(),
                    object: crate::error::object_key(Some(namespace), pod),
                    reason: format!("previous terminated container {container:?} not found"),
                });
            }
            (Some(l), false) => &l.current,
            (None, false) => &[],
        };
        let skip = options.tail_lines.map_or(0, |n| {
            lines
                .len()
                .saturating_sub(usize::try_from(n).unwrap_or(usize::MAX))
        });
        let mut text = String::new();
        for line in lines.iter().skip(skip) {
            text.push_str(line);
            text.push('\n');
        }
        Ok(text)
    }
}
