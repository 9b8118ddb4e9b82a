//! The kube-rs adapter of the cluster seams: [`KubeCluster`].
//!
//! [`KubeCluster`] implements [`ClusterReader`], [`ClusterWriter`], [`Evictor`] and [`LogReader`] over a
//! [`kube::Client`]. Each built-in [`Kind`] maps to a typed `kube::Api<K>` of its `k8s-openapi`
//! type; a [`Kind::Custom`] maps to `kube::Api<DynamicObject>` with an `ApiResource` built from its
//! [`CustomKind`]. Only this module speaks kube-rs types: everything that leaves it is an [`Object`], a
//! [`WatchEvent`] or an [`Error`].
//!
//! Behaviour worth knowing:
//! - Lists are read in pages of [`LIST_PAGE_SIZE`] (`limit`/`continue`) and returned ordered by namespace, then
//!   name, as the trait promises.
//! - A verb on one object of a namespaced kind with no namespace uses the client's default namespace, as
//!   `kubectl` does; lists and watches with no namespace span all namespaces.
//! - Watches list first (emitting `Added` for every existing object), then watch from the list's
//!   `resourceVersion`. Bookmarks are skipped; an error event becomes an `Err` item, after which the API server
//!   closes the stream. The stream also ends when the server's watch timeout passes; callers list and watch
//!   again.
//! - ksx never reads secret data: `data` and `stringData` are removed from every Secret this adapter returns.
//! - Status codes become ksx errors: 404 on one object is [`Error::NotFound`] (and `None` from `get`), 409
//!   `AlreadyExists` on create is [`Error::AlreadyExists`], 409 on a binding (pod already bound, uid precondition)
//!   is [`Error::Conflict`], and the 429 the Eviction API answers when a
//!   PodDisruptionBudget blocks is [`Error::DisruptionBudget`]. Everything else is [`Error::Kube`].

use std::fmt::Debug;

use ::kube::Client;
use ::kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, EvictParams, ListParams, LogParams, PatchParams,
    PostParams, WatchParams,
};
use ::kube::core::{NamespaceResourceScope, Resource, Status, WatchEvent as KubeWatchEvent};
use async_trait::async_trait;
use futures::{StreamExt, future, stream};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Event, Namespace, Node, Pod, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{
    ClusterReader, ClusterWriter, CustomKind, Evictor, Kind, ListOptions, LogOptions, LogReader,
    Object, Patch, Typed, WatchEvent, WatchStream, unsupported,
};
use crate::error::{Error, Result, object_key};

#[cfg(test)]
mod tests;

/// How many objects one list request asks for; longer lists are read page by page with `continue` tokens.
pub const LIST_PAGE_SIZE: u32 = 500;

/// The reason the Eviction API gives, in a status cause, when a PodDisruptionBudget blocks an eviction.
const DISRUPTION_BUDGET_CAUSE: &str = "DisruptionBudget";

/// The annotation that names the container `kubectl logs` reads by default.
const DEFAULT_CONTAINER_ANNOTATION: &str = "kubectl.kubernetes.io/default-container";

/// The prefix of the eviction refusal messages the API server writes, followed by the budget's name.
const DISRUPTION_BUDGET_PREFIX: &str = "The disruption budget ";

/// A cluster reached through the Kubernetes API with a kube-rs client.
///
/// ```no_run
/// use ksx_core::cluster::kube::KubeCluster;
/// use ksx_core::cluster::{ClusterReader, Kind, ListOptions};
///
/// # async fn run() -> ksx_core::Result<()> {
/// let cluster = KubeCluster::try_default().await?;
/// let pods = cluster.list(&Kind::Pod, Some("default"), &ListOptions::labels("app=web")).await?;
/// for pod in &pods {
///     println!("{}", pod.key());
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct KubeCluster {
    client: Client,
}

impl Debug for KubeCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeCluster")
            .field("default_namespace", &self.client.default_namespace())
            .finish_non_exhaustive()
    }
}

impl KubeCluster {
    /// Wraps a kube-rs client.
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// Connects with the configuration kube-rs infers: the kubeconfig (`KUBECONFIG` or `~/.kube/config`), or the
    /// in-cluster service account.
    ///
    /// # Errors
    /// [`Error::Kube`] when no configuration is found or the client cannot be built from it.
    pub async fn try_default() -> Result<Self> {
        let client = Client::try_default().await.map_err(|source| Error::Kube {
            action: "load",
            kind: "config".into(),
            object: "(kubeconfig or in-cluster)".into(),
            source: Box::new(source),
        })?;
        Ok(Self::new(client))
    }

    /// The kube-rs client, for callers that need kube-rs directly (controllers, leader election).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The namespace a verb on one object uses: the given one, or the client's default for a namespaced kind, and
    /// none for a cluster-scoped kind.
    fn object_namespace<'a>(&'a self, kind: &Kind, namespace: Option<&'a str>) -> Option<&'a str> {
        if !kind.is_namespaced() {
            return None;
        }
        match namespace {
            Some(ns) if !ns.is_empty() => Some(ns),
            _ => Some(self.client.default_namespace()),
        }
    }
}

/// Runs `$body` with `$api` bound to the `kube::Api` of `$kind`, scoped to `$ns` (`Option<&str>`) when the kind
/// is namespaced. Every arm instantiates the same generic body with that kind's type.
macro_rules! with_api {
    ($kind:expr, $client:expr, $ns:expr, |$api:ident| $body:expr) => {{
        let client: &Client = $client;
        let ns: Option<&str> = $ns;
        match $kind {
            Kind::Pod => {
                let $api: Api<Pod> = namespaced_api(client, ns);
                $body
            }
            Kind::Node => {
                let $api: Api<Node> = Api::all(client.clone());
                $body
            }
            Kind::Namespace => {
                let $api: Api<Namespace> = Api::all(client.clone());
                $body
            }
            Kind::Service => {
                let $api: Api<Service> = namespaced_api(client, ns);
                $body
            }
            Kind::Event => {
                let $api: Api<Event> = namespaced_api(client, ns);
                $body
            }
            Kind::ConfigMap => {
                let $api: Api<ConfigMap> = namespaced_api(client, ns);
                $body
            }
            Kind::Secret => {
                let $api: Api<Secret> = namespaced_api(client, ns);
                $body
            }
            Kind::Deployment => {
                let $api: Api<Deployment> = namespaced_api(client, ns);
                $body
            }
            Kind::StatefulSet => {
                let $api: Api<StatefulSet> = namespaced_api(client, ns);
                $body
            }
            Kind::DaemonSet => {
                let $api: Api<DaemonSet> = namespaced_api(client, ns);
                $body
            }
            Kind::ReplicaSet => {
                let $api: Api<ReplicaSet> = namespaced_api(client, ns);
                $body
            }
            Kind::Ingress => {
                let $api: Api<Ingress> = namespaced_api(client, ns);
                $body
            }
            Kind::HorizontalPodAutoscaler => {
                let $api: Api<HorizontalPodAutoscaler> = namespaced_api(client, ns);
                $body
            }
            Kind::PodDisruptionBudget => {
                let $api: Api<PodDisruptionBudget> = namespaced_api(client, ns);
                $body
            }
            Kind::Lease => {
                let $api: Api<Lease> = namespaced_api(client, ns);
                $body
            }
            Kind::EndpointSlice => {
                let $api: Api<EndpointSlice> = namespaced_api(client, ns);
                $body
            }
            Kind::Custom(custom) => {
                let $api: Api<DynamicObject> = custom_api(client, custom, ns);
                $body
            }
        }
    }};
}

/// The API of a namespaced built-in kind: one namespace, or all of them.
fn namespaced_api<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(ns) if !ns.is_empty() => Api::namespaced(client.clone(), ns),
        _ => Api::all(client.clone()),
    }
}

/// The dynamic API of a custom kind.
fn custom_api(client: &Client, kind: &CustomKind, namespace: Option<&str>) -> Api<DynamicObject> {
    let resource = ApiResource {
        group: kind.group.clone(),
        version: kind.version.clone(),
        api_version: kind.api_version(),
        kind: kind.kind.clone(),
        plural: kind.plural.clone(),
    };
    match namespace {
        Some(ns) if kind.namespaced && !ns.is_empty() => {
            Api::namespaced_with(client.clone(), ns, &resource)
        }
        _ => Api::all_with(client.clone(), &resource),
    }
}

/// A type that crosses between kube-rs and the seam: the typed built-ins and `DynamicObject` for custom kinds.
trait Carry: Clone + Debug + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Converts a value read from the API into an [`Object`] of `kind`.
    fn into_object(self, kind: &Kind) -> Result<Object>;

    /// Converts an [`Object`] of this type's kind into the value sent to the API.
    fn from_object(object: Object) -> Result<Self>;
}

impl<T> Carry for T
where
    T: Typed + Clone + Debug + Serialize + DeserializeOwned + Sync,
{
    fn into_object(self, _kind: &Kind) -> Result<Object> {
        Ok(redact(Typed::into_object(self)))
    }

    fn from_object(object: Object) -> Result<Self> {
        let kind = object.kind();
        let key = object.key();
        <T as Typed>::from_object(object).ok_or_else(|| Error::Invalid {
            kind: kind.to_string(),
            object: key,
            reason: format!("expected a {}", T::kind()),
        })
    }
}

impl Carry for DynamicObject {
    fn into_object(self, kind: &Kind) -> Result<Object> {
        let location = format!(
            "{kind} {}",
            object_key(
                self.metadata.namespace.as_deref(),
                self.metadata.name.as_deref().unwrap_or("")
            )
        );
        let value = serde_json::to_value(self).map_err(|e| Error::Parse {
            location,
            reason: e.to_string(),
        })?;
        Object::from_json(kind, value)
    }

    fn from_object(object: Object) -> Result<Self> {
        let value = object.to_json()?;
        serde_json::from_value(value).map_err(|e| Error::Parse {
            location: object.to_string(),
            reason: e.to_string(),
        })
    }
}

/// Removes secret data: ksx reads Secrets for their metadata only.
fn redact(mut object: Object) -> Object {
    if let Object::Secret(secret) = &mut object {
        secret.data = None;
        secret.string_data = None;
    }
    object
}

/// Orders objects by namespace, then name.
fn sort_objects(objects: &mut [Object]) {
    objects.sort_by(|a, b| {
        (a.namespace().unwrap_or(""), a.name()).cmp(&(b.namespace().unwrap_or(""), b.name()))
    });
}

/// The object (or collection, when `name` is empty) a request is about, for error messages.
#[derive(Debug, Clone, Copy)]
struct Target<'a> {
    kind: &'a Kind,
    namespace: Option<&'a str>,
    name: &'a str,
}

impl<'a> Target<'a> {
    fn one(kind: &'a Kind, namespace: Option<&'a str>, name: &'a str) -> Self {
        Self {
            kind,
            namespace,
            name,
        }
    }

    fn all(kind: &'a Kind, namespace: Option<&'a str>) -> Self {
        Self {
            kind,
            namespace,
            name: "",
        }
    }

    /// `namespace/name`, `name`, or `namespace/*` and `*` for collections.
    fn key(&self) -> String {
        object_key(
            self.namespace,
            if self.name.is_empty() { "*" } else { self.name },
        )
    }

    /// Maps a kube-rs error of `action` on this target to a ksx error.
    fn fail(&self, action: &'static str, error: ::kube::Error) -> Error {
        if let ::kube::Error::Api(status) = &error {
            if !self.name.is_empty() && status.is_not_found() {
                return not_found(self, status);
            }
            if action == "create" && status.is_already_exists() {
                return Error::AlreadyExists {
                    kind: self.kind.to_string(),
                    object: self.key(),
                };
            }
        }
        Error::Kube {
            action,
            kind: self.kind.to_string(),
            object: self.key(),
            source: Box::new(error),
        }
    }
}

/// The not-found error for a 404. On create the missing thing is the namespace, which the status names.
fn not_found(target: &Target<'_>, status: &Status) -> Error {
    if let Some(details) = &status.details
        && !details.name.is_empty()
        && details.name != target.name
    {
        let kind = if details.kind == "namespaces" {
            "Namespace"
        } else {
            details.kind.as_str()
        };
        return Error::not_found(kind, None, &details.name);
    }
    Error::not_found(target.kind.to_string(), target.namespace, target.name)
}

/// Reads every page of a list; returns the objects (unsorted) and the list's `resourceVersion`.
async fn list_all<K: Carry>(
    api: &Api<K>,
    kind: &Kind,
    options: &ListOptions,
    target: Target<'_>,
) -> Result<(Vec<Object>, String)> {
    let mut params = ListParams::default().limit(LIST_PAGE_SIZE);
    if let Some(labels) = &options.label_selector {
        params = params.labels(labels);
    }
    if let Some(fields) = &options.field_selector {
        params = params.fields(fields);
    }
    let mut objects = Vec::new();
    loop {
        let page = api
            .list(&params)
            .await
            .map_err(|e| target.fail("list", e))?;
        for item in page.items {
            objects.push(item.into_object(kind)?);
        }
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => return Ok((objects, page.metadata.resource_version.unwrap_or_default())),
        }
    }
}

async fn get_one<K: Carry>(
    api: &Api<K>,
    kind: &Kind,
    target: Target<'_>,
) -> Result<Option<Object>> {
    match api
        .get_opt(target.name)
        .await
        .map_err(|e| target.fail("get", e))?
    {
        Some(item) => Ok(Some(item.into_object(kind)?)),
        None => Ok(None),
    }
}

async fn watch_all<K: Carry>(
    api: &Api<K>,
    kind: &Kind,
    options: &ListOptions,
    target: Target<'_>,
) -> Result<WatchStream> {
    let (mut existing, version) = list_all(api, kind, options, target).await?;
    sort_objects(&mut existing);
    let mut params = WatchParams::default();
    if let Some(labels) = &options.label_selector {
        params = params.labels(labels);
    }
    if let Some(fields) = &options.field_selector {
        params = params.fields(fields);
    }
    let events = api
        .watch(&params, &version)
        .await
        .map_err(|e| target.fail("watch", e))?;
    let kind = kind.clone();
    let key = target.key();
    let changes = events.filter_map(move |event| future::ready(convert_event(event, &kind, &key)));
    let initial = stream::iter(
        existing
            .into_iter()
            .map(|object| Ok(WatchEvent::Added(object))),
    );
    Ok(initial.chain(changes).boxed())
}

/// Maps one kube-rs watch event; bookmarks give `None`.
fn convert_event<K: Carry>(
    event: ::kube::Result<KubeWatchEvent<K>>,
    kind: &Kind,
    key: &str,
) -> Option<Result<WatchEvent>> {
    let fail = |source: ::kube::Error| Error::Kube {
        action: "watch",
        kind: kind.to_string(),
        object: key.to_owned(),
        source: Box::new(source),
    };
    match event {
        Ok(KubeWatchEvent::Added(item)) => Some(item.into_object(kind).map(WatchEvent::Added)),
        Ok(KubeWatchEvent::Modified(item)) => {
            Some(item.into_object(kind).map(WatchEvent::Modified))
        }
        Ok(KubeWatchEvent::Deleted(item)) => Some(item.into_object(kind).map(WatchEvent::Deleted)),
        Ok(KubeWatchEvent::Bookmark(_)) => None,
        Ok(KubeWatchEvent::Error(status)) => Some(Err(fail(::kube::Error::Api(status)))),
        Err(e) => Some(Err(fail(e))),
    }
}

async fn create_one<K: Carry>(
    api: &Api<K>,
    kind: &Kind,
    object: Object,
    target: Target<'_>,
) -> Result<Object> {
    let value = K::from_object(object)?;
    let created = api
        .create(&PostParams::default(), &value)
        .await
        .map_err(|e| target.fail("create", e))?;
    created.into_object(kind)
}

/// The kube-rs form of a seam patch.
fn kube_patch(patch: &Patch) -> ::kube::api::Patch<&serde_json::Value> {
    match patch {
        Patch::Merge(value) => ::kube::api::Patch::Merge(value),
    }
}

async fn patch_one<K: Carry>(
    api: &Api<K>,
    kind: &Kind,
    patch: &Patch,
    target: Target<'_>,
) -> Result<Object> {
    let patched = api
        .patch(target.name, &PatchParams::default(), &kube_patch(patch))
        .await
        .map_err(|e| target.fail("patch", e))?;
    patched.into_object(kind)
}

async fn patch_status_one<K: Carry>(
    api: &Api<K>,
    kind: &Kind,
    patch: &Patch,
    target: Target<'_>,
) -> Result<Object> {
    let patched = api
        .patch_status(target.name, &PatchParams::default(), &kube_patch(patch))
        .await
        .map_err(|e| target.fail("patch status", e))?;
    patched.into_object(kind)
}

async fn scale_one<K: Carry>(api: &Api<K>, replicas: i32, target: Target<'_>) -> Result<()> {
    let patch = serde_json::json!({ "spec": { "replicas": replicas } });
    api.patch_scale(
        target.name,
        &PatchParams::default(),
        &::kube::api::Patch::Merge(&patch),
    )
    .await
    .map_err(|e| target.fail("scale", e))?;
    Ok(())
}

async fn delete_one<K: Carry>(api: &Api<K>, target: Target<'_>) -> Result<()> {
    api.delete(target.name, &DeleteParams::default())
        .await
        .map_err(|e| target.fail("delete", e))?;
    Ok(())
}

#[async_trait]
impl ClusterReader for KubeCluster {
    async fn list(
        &self,
        kind: &Kind,
        namespace: Option<&str>,
        options: &ListOptions,
    ) -> Result<Vec<Object>> {
        let namespace = namespace.filter(|ns| kind.is_namespaced() && !ns.is_empty());
        let target = Target::all(kind, namespace);
        let (mut objects, _) = with_api!(kind, &self.client, namespace, |api| {
            list_all(&api, kind, options, target).await
        })?;
        sort_objects(&mut objects);
        Ok(objects)
    }

    async fn get(
        &self,
        kind: &Kind,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<Object>> {
        let namespace = self.object_namespace(kind, namespace);
        let target = Target::one(kind, namespace, name);
        with_api!(kind, &self.client, namespace, |api| get_one(
            &api, kind, target
        )
        .await)
    }

    async fn watch(
        &self,
        kind: &Kind,
        namespace: Option<&str>,
        options: &ListOptions,
    ) -> Result<WatchStream> {
        let namespace = namespace.filter(|ns| kind.is_namespaced() && !ns.is_empty());
        let target = Target::all(kind, namespace);
        with_api!(kind, &self.client, namespace, |api| {
            watch_all(&api, kind, options, target).await
        })
    }
}

#[async_trait]
impl ClusterWriter for KubeCluster {
    async fn create(&self, object: Object) -> Result<Object> {
        let kind = object.kind();
        let name = object.name().to_owned();
        let namespace = self
            .object_namespace(&kind, object.namespace())
            .map(str::to_owned);
        if name.is_empty()
            && object
                .metadata()
                .generate_name
                .as_deref()
                .is_none_or(str::is_empty)
        {
            return Err(Error::InvalidField {
                object: format!("{kind} {}", object_key(namespace.as_deref(), "")),
                field: "metadata.name".into(),
                reason: "a name (or generateName) is required".into(),
            });
        }
        let target = Target::one(&kind, namespace.as_deref(), &name);
        with_api!(&kind, &self.client, namespace.as_deref(), |api| {
            create_one(&api, &kind, object, target).await
        })
    }

    async fn patch(
        &self,
        kind: &Kind,
        namespace: Option<&str>,
        name: &str,
        patch: &Patch,
    ) -> Result<Object> {
        let namespace = self.object_namespace(kind, namespace);
        let target = Target::one(kind, namespace, name);
        with_api!(kind, &self.client, namespace, |api| {
            patch_one(&api, kind, patch, target).await
        })
    }

    async fn patch_status(
        &self,
        kind: &Kind,
        namespace: Option<&str>,
        name: &str,
        patch: &Patch,
    ) -> Result<Object> {
        let namespace = self.object_namespace(kind, namespace);
        let target = Target::one(kind, namespace, name);
        with_api!(kind, &self.client, namespace, |api| {
            patch_status_one(&api, kind, patch, target).await
        })
    }

    async fn scale(&self, kind: &Kind, namespace: &str, name: &str, replicas: i32) -> Result<()> {
        let namespace = self.object_namespace(kind, Some(namespace));
        if !kind.has_scale() {
            return Err(unsupported(kind, namespace, name, "scale"));
        }
        if replicas < 0 {
            return Err(Error::InvalidField {
                object: format!("{kind} {}", object_key(namespace, name)),
                field: "spec.replicas".into(),
                reason: format!("must not be negative, got {replicas}"),
            });
        }
        let target = Target::one(kind, namespace, name);
        with_api!(kind, &self.client, namespace, |api| {
            scale_one(&api, replicas, target).await
        })
    }

    async fn delete(&self, kind: &Kind, namespace: Option<&str>, name: &str) -> Result<()> {
        let namespace = self.object_namespace(kind, namespace);
        let target = Target::one(kind, namespace, name);
        with_api!(kind, &self.client, namespace, |api| delete_one(
            &api, target
        )
        .await)
    }

    async fn bind(&self, namespace: &str, pod: &str, uid: Option<&str>, node: &str) -> Result<()> {
        let namespace = self.object_namespace(&Kind::Pod, Some(namespace));
        let target = Target::one(&Kind::Pod, namespace, pod);
        let mut metadata = serde_json::json!({ "name": pod });
        if let Some(ns) = namespace {
            metadata["namespace"] = ns.into();
        }
        if let Some(uid) = uid.filter(|u| !u.is_empty()) {
            metadata["uid"] = uid.into();
        }
        let binding = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": metadata,
            "target": { "apiVersion": "v1", "kind": "Node", "name": node },
        });
        let api: Api<Pod> = namespaced_api(&self.client, namespace);
        match api
            .create_subresource::<_, serde_json::Value>(
                "binding",
                pod,
                &PostParams::default(),
                &binding,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(::kube::Error::Api(status)) if status.is_conflict() => Err(Error::Conflict {
                kind: Kind::Pod.to_string(),
                object: target.key(),
                reason: if status.message.is_empty() {
                    format!("cannot bind to node {node}")
                } else {
                    status.message.clone()
                },
            }),
            Err(e) => Err(target.fail("bind", e)),
        }
    }
}

#[async_trait]
impl Evictor for KubeCluster {
    async fn evict(&self, namespace: &str, pod: &str) -> Result<()> {
        let namespace = self.object_namespace(&Kind::Pod, Some(namespace));
        let target = Target::one(&Kind::Pod, namespace, pod);
        let api: Api<Pod> = namespaced_api(&self.client, namespace);
        match api.evict(pod, &EvictParams::default()).await {
            Ok(_) => Ok(()),
            Err(::kube::Error::Api(status))
                if status.code == 429 || status.reason == "TooManyRequests" =>
            {
                Err(disruption_budget(&target, &status))
            }
            Err(e) => Err(target.fail("evict", e)),
        }
    }
}

/// Builds [`Error::DisruptionBudget`] from the Eviction API's 429. The API server names the budget in a status
/// cause: "The disruption budget web-pdb needs 2 healthy pods and has 2 currently".
fn disruption_budget(target: &Target<'_>, status: &Status) -> Error {
    let cause = status
        .details
        .iter()
        .flat_map(|details| details.causes.iter())
        .find(|cause| cause.reason == DISRUPTION_BUDGET_CAUSE)
        .map(|cause| cause.message.as_str());
    let parsed = cause
        .and_then(|message| message.strip_prefix(DISRUPTION_BUDGET_PREFIX))
        .map(|rest| match rest.split_once(' ') {
            Some((name, reason)) => (name, reason.trim_end_matches('.')),
            None => (rest, ""),
        });
    let (budget, reason) = match parsed {
        Some((name, reason)) if !reason.is_empty() => {
            (object_key(target.namespace, name), reason.to_owned())
        }
        Some((name, _)) => (object_key(target.namespace, name), status.message.clone()),
        None => (
            object_key(target.namespace, "?"),
            cause.unwrap_or(&status.message).to_owned(),
        ),
    };
    Error::DisruptionBudget {
        pod: target.key(),
        budget,
        reason,
    }
}

#[async_trait]
impl LogReader for KubeCluster {
    async fn logs(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        options: &LogOptions,
    ) -> Result<String> {
        let namespace = self.object_namespace(&Kind::Pod, Some(namespace));
        let target = Target::one(&Kind::Pod, namespace, pod);
        let api: Api<Pod> = namespaced_api(&self.client, namespace);
        let mut params = LogParams {
            container: container.map(str::to_owned),
            tail_lines: options.tail_lines.map(i64::from),
            previous: options.previous,
            ..LogParams::default()
        };
        let status = match api.logs(pod, &params).await {
            Ok(text) => return Ok(text),
            Err(::kube::Error::Api(status))
                if status.code == 400 || status.reason == "BadRequest" =>
            {
                status
            }
            Err(e) => return Err(target.fail("logs", e)),
        };
        match container {
            // The API server answers 400 "container c is not valid for pod p" for an unknown container.
            Some(container) if status.message.contains("is not valid for pod") => {
                Err(Error::NotFound {
                    kind: "Container".into(),
                    object: format!("{}/{container}", target.key()),
                })
            }
            // A pod with several containers needs one named; the trait promises the default one, as kubectl
            // picks it.
            None if status
                .message
                .contains("a container name must be specified") =>
            {
                params.container = Some(default_container(&api, target).await?);
                api.logs(pod, &params)
                    .await
                    .map_err(|e| target.fail("logs", e))
            }
            _ => Err(target.fail("logs", ::kube::Error::Api(status))),
        }
    }
}

/// The container `kubectl logs` reads when none is named: the one the `kubectl.kubernetes.io/default-container`
/// annotation names, else the first.
async fn default_container(api: &Api<Pod>, target: Target<'_>) -> Result<String> {
    let pod = api
        .get_opt(target.name)
        .await
        .map_err(|e| target.fail("get", e))?
        .ok_or_else(|| Error::not_found("Pod", target.namespace, target.name))?;
    let containers = pod.spec.map(|spec| spec.containers).unwrap_or_default();
    let annotated = pod
        .metadata
        .annotations
        .as_ref()
        .and_then(|annotations| annotations.get(DEFAULT_CONTAINER_ANNOTATION))
        .filter(|name| containers.iter().any(|c| &c.name == *name))
        .cloned();
    annotated
        .or_else(|| containers.into_iter().next().map(|c| c.name))
        .ok_or_else(|| Error::NotFound {
            kind: "Container".into(),
            object: format!("{}/*", target.key()),
        })
}
