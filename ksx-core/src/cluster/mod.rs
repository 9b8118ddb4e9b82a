//! Cluster access seams.
//!
//! The engines of ksx see a cluster through narrow traits: [`ClusterReader`] (list, get, watch),
//! [`ClusterWriter`] (create, patch, scale, delete, bind), [`Evictor`] (the Eviction API, which honours
//! PodDisruptionBudgets) and [`LogReader`]. Objects cross the seam as [`Object`], an enum over the `k8s-openapi`
//! types ksx works with plus [`CustomObject`] for CRD-shaped specs, so the traits stay object-safe and can be
//! stored as `Arc<dyn ClusterReader>`. [`TypedExt`] adds typed helpers (`list_typed::<Pod>()`) on top.
//!
//! Two implementations pass the same conformance checks ([`conformance`]):
//! [`InMemoryCluster`](crate::cluster::memory::InMemoryCluster), the deterministic embedded default and simulator,
//! and `KubeCluster` (feature `kube`), a kube-rs client.

use std::fmt;

use async_trait::async_trait;
use futures::stream::BoxStream;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub mod conformance;
#[cfg(feature = "kube")]
#[cfg_attr(docsrs, doc(cfg(feature = "kube")))]
pub mod kube;
pub mod memory;
mod object;
pub mod selector;

pub use object::{CustomKind, CustomObject, Kind, Object, ScaleView, Typed};

/// Options of a list or watch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// A label selector in the Kubernetes string form (`app=web,tier in (front,back),!canary`).
    pub label_selector: Option<String>,
    /// A field selector (`metadata.name=x`, `spec.nodeName=n1`, `status.phase!=Running`).
    pub field_selector: Option<String>,
}

impl ListOptions {
    /// Options that select by labels.
    pub fn labels(selector: impl Into<String>) -> Self {
        Self {
            label_selector: Some(selector.into()),
            field_selector: None,
        }
    }

    /// Options that select by fields.
    pub fn fields(selector: impl Into<String>) -> Self {
        Self {
            label_selector: None,
            field_selector: Some(selector.into()),
        }
    }
}

/// One change seen by a watch.
#[derive(Debug, Clone, PartialEq)]
pub enum WatchEvent {
    /// The object was created, or existed when the watch started.
    Added(Object),
    /// The object changed.
    Modified(Object),
    /// The object was deleted; this is its last state.
    Deleted(Object),
}

impl WatchEvent {
    /// The object the event is about.
    pub fn object(&self) -> &Object {
        match self {
            Self::Added(o) | Self::Modified(o) | Self::Deleted(o) => o,
        }
    }
}

/// A stream of watch events. It ends when the cluster closes it; callers re-list and watch again.
pub type WatchStream = BoxStream<'static, Result<WatchEvent>>;

/// A change to an existing object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Patch {
    /// A JSON merge patch (RFC 7386): objects merge, `null` deletes, everything else replaces.
    Merge(serde_json::Value),
}

/// Options for reading container logs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// Only the last N lines.
    pub tail_lines: Option<u32>,
    /// The previous (terminated) instance of the container.
    pub previous: bool,
}

/// Reads objects: list, get, watch.
#[async_trait]
pub trait ClusterReader: Send + Sync {
    /// Lists objects of a kind, in one namespace or all (`None`), ordered by namespace then name.
    ///
    /// # Errors
    /// A selector that does not parse, or a failing backend.
    async fn list(
        &self,
        kind: &Kind,
        namespace: Option<&str>,
        options: &ListOptions,
    ) -> Result<Vec<Object>>;

    /// Gets one object, or `None` when it does not exist.
    ///
    /// # Errors
    /// A failing backend.
    async fn get(&self, kind: &Kind, namespace: Option<&str>, name: &str)
    -> Result<Option<Object>>;

    /// Watches objects of a kind: first an `Added` for each existing object, then changes as they happen.
    ///
    /// # Errors
    /// A selector that does not parse, or a failing backend.
    async fn watch(
        &self,
        kind: &Kind,
        namespace: Option<&str>,
        options: &ListOptions,
    ) -> Result<WatchStream>;
}

/// Changes objects: create, patch, scale, delete, bind.
#[async_trait]
pub trait ClusterWriter: Send + Sync {
    /// Creates an object and returns it as stored (with uid, resourceVersion, creationTimestamp).
    ///
    /// # Errors
    /// [`Error::AlreadyExists`], an object without a name, or a failing backend.
    async fn create(&self, object: Object) -> Result<Object>;

    /// Applies a patch to an object's spec and metadata and returns the result.
    ///
    /// # Errors
    /// [`Error::NotFound`], a patch that does not yield a valid object, or a failing backend.
    async fn patch(
        &self,
        kind: &Kind,
        namespace: Option<&str>,
        name: &str,
        patch: &Patch,
    ) -> Result<Object>;

    /// Applies a patch to an object's status subresource and returns the result.
    ///
    /// # Errors
    /// As [`ClusterWriter::patch`].
    async fn patch_status(
        &self,
        kind: &Kind,
        namespace: Option<&str>,
        name: &str,
        patch: &Patch,
    ) -> Result<Object>;

    /// Sets `spec.replicas` through the scale subresource (Deployments, StatefulSets, ReplicaSets).
    ///
    /// # Errors
    /// [`Error::NotFound`], a kind without a scale subresource, a negative count, or a failing backend.
    async fn scale(&self, kind: &Kind, namespace: &str, name: &str, replicas: i32) -> Result<()>;

    /// Deletes an object. Deleting one that does not exist is an [`Error::NotFound`].
    ///
    /// # Errors
    /// [`Error::NotFound`] or a failing backend.
    async fn delete(&self, kind: &Kind, namespace: Option<&str>, name: &str) -> Result<()>;

    /// Binds a pending pod to a node through the `pods/binding` subresource, as kube-scheduler does
    /// (`spec.nodeName` cannot be changed by a patch on a real API server). With `uid`, the binding applies only
    /// to the pod of that uid (a pod deleted and created again under the same name is refused).
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown pod, [`Error::Conflict`] when the pod is already bound (or its uid
    /// differs from `uid`), or a failing backend.
    async fn bind(&self, namespace: &str, pod: &str, uid: Option<&str>, node: &str) -> Result<()>;
}

/// Evicts pods through the Eviction API, which refuses evictions that would break a PodDisruptionBudget.
#[async_trait]
pub trait Evictor: Send + Sync {
    /// Evicts one pod.
    ///
    /// # Errors
    /// [`Error::DisruptionBudget`] when a budget forbids it (retry later), [`Error::NotFound`], or a failing
    /// backend.
    async fn evict(&self, namespace: &str, pod: &str) -> Result<()>;
}

/// Reads container logs.
#[async_trait]
pub trait LogReader: Send + Sync {
    /// Returns the log text of a container (`None`: the pod's only or first container).
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown pod or container, or a failing backend.
    async fn logs(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        options: &LogOptions,
    ) -> Result<String>;
}

/// Everything a controller needs from a cluster.
pub trait Cluster: ClusterReader + ClusterWriter + Evictor + LogReader {}

impl<T: ClusterReader + ClusterWriter + Evictor + LogReader> Cluster for T {}

/// Typed helpers over [`ClusterReader`] and [`ClusterWriter`].
///
/// ```
/// use k8s_openapi::api::core::v1::Namespace;
/// use ksx_core::cluster::{memory::InMemoryCluster, ClusterWriter, Object, TypedExt};
///
/// # tokio_test_block(async {
/// let cluster = InMemoryCluster::default();
/// let mut ns = Namespace::default();
/// ns.metadata.name = Some("team-a".into());
/// cluster.create(Object::Namespace(ns)).await?;
/// let all: Vec<Namespace> = cluster.list_typed(None, &Default::default()).await?;
/// assert_eq!(all.len(), 1);
/// # Ok::<(), ksx_core::Error>(())
/// # });
/// # fn tokio_test_block<F: std::future::Future<Output = Result<(), ksx_core::Error>>>(f: F) {
/// #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f).unwrap();
/// # }
/// ```
#[async_trait]
pub trait TypedExt: ClusterReader {
    /// Lists objects of type `T`.
    ///
    /// # Errors
    /// As [`ClusterReader::list`].
    async fn list_typed<T: Typed>(
        &self,
        namespace: Option<&str>,
        options: &ListOptions,
    ) -> Result<Vec<T>> {
        let objects = self.list(&T::kind(), namespace, options).await?;
        Ok(objects.into_iter().filter_map(T::from_object).collect())
    }

    /// Gets one object of type `T`.
    ///
    /// # Errors
    /// As [`ClusterReader::get`].
    async fn get_typed<T: Typed>(&self, namespace: Option<&str>, name: &str) -> Result<Option<T>> {
        Ok(self
            .get(&T::kind(), namespace, name)
            .await?
            .and_then(T::from_object))
    }
}

impl<R: ClusterReader + ?Sized> TypedExt for R {}

/// `namespace/name` (or `name`) of an object's metadata, for messages.
pub fn meta_key(meta: &ObjectMeta) -> String {
    crate::error::object_key(
        meta.namespace.as_deref(),
        meta.name.as_deref().unwrap_or(""),
    )
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Builds the error for a kind that does not support a verb.
pub(crate) fn unsupported(kind: &Kind, namespace: Option<&str>, name: &str, verb: &str) -> Error {
    Error::Invalid {
        kind: kind.to_string(),
        object: crate::error::object_key(namespace, name),
        reason: format!("{kind} does not support {verb}"),
    }
}
