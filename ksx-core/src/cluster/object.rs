//! The objects that cross the cluster seam.

use std::fmt;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Event, Namespace, Node, Pod, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The API group, version, kind and plural of a custom resource (our CRD-shaped specs, or any other CRD).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomKind {
    /// API group, for example `ksx.io`.
    pub group: String,
    /// API version, for example `v1alpha1`.
    pub version: String,
    /// Kind, for example `NodeGroup`.
    pub kind: String,
    /// Plural resource name, for example `nodegroups`.
    pub plural: String,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
}

impl CustomKind {
    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// The kinds of object the seam carries.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// `v1/Pod`.
    Pod,
    /// `v1/Node`.
    Node,
    /// `v1/Namespace`.
    Namespace,
    /// `v1/Service`.
    Service,
    /// `v1/Event`.
    Event,
    /// `v1/ConfigMap`.
    ConfigMap,
    /// `v1/Secret` (metadata only: ksx never reads secret data).
    Secret,
    /// `apps/v1/Deployment`.
    Deployment,
    /// `apps/v1/StatefulSet`.
    StatefulSet,
    /// `apps/v1/DaemonSet`.
    DaemonSet,
    /// `apps/v1/ReplicaSet`.
    ReplicaSet,
    /// `networking.k8s.io/v1/Ingress`.
    Ingress,
    /// `autoscaling/v2/HorizontalPodAutoscaler`.
    HorizontalPodAutoscaler,
    /// `policy/v1/PodDisruptionBudget`.
    PodDisruptionBudget,
    /// `coordination.k8s.io/v1/Lease`.
    Lease,
    /// `discovery.k8s.io/v1/EndpointSlice`.
    EndpointSlice,
    /// A custom resource.
    Custom(CustomKind),
}

impl Kind {
    /// All built-in kinds, in a fixed order.
    pub const BUILT_IN: [Kind; 16] = [
        Kind::Namespace,
        Kind::Node,
        Kind::Pod,
        Kind::Service,
        Kind::Event,
        Kind::ConfigMap,
        Kind::Secret,
        Kind::Deployment,
        Kind::StatefulSet,
        Kind::DaemonSet,
        Kind::ReplicaSet,
        Kind::Ingress,
        Kind::HorizontalPodAutoscaler,
        Kind::PodDisruptionBudget,
        Kind::Lease,
        Kind::EndpointSlice,
    ];

    /// The Kubernetes `kind` name (`Deployment`).
    pub fn name(&self) -> &str {
        match self {
            Self::Pod => "Pod",
            Self::Node => "Node",
            Self::Namespace => "Namespace",
            Self::Service => "Service",
            Self::Event => "Event",
            Self::ConfigMap => "ConfigMap",
            Self::Secret => "Secret",
            Self::Deployment => "Deployment",
            Self::StatefulSet => "StatefulSet",
            Self::DaemonSet => "DaemonSet",
            Self::ReplicaSet => "ReplicaSet",
            Self::Ingress => "Ingress",
            Self::HorizontalPodAutoscaler => "HorizontalPodAutoscaler",
            Self::PodDisruptionBudget => "PodDisruptionBudget",
            Self::Lease => "Lease",
            Self::EndpointSlice => "EndpointSlice",
            Self::Custom(c) => &c.kind,
        }
    }

    /// The `apiVersion` objects of this kind are carried in.
    pub fn api_version(&self) -> String {
        match self {
            Self::Pod
            | Self::Node
            | Self::Namespace
            | Self::Service
            | Self::Event
            | Self::ConfigMap
            | Self::Secret => "v1".into(),
            Self::Deployment | Self::StatefulSet | Self::DaemonSet | Self::ReplicaSet => {
                "apps/v1".into()
            }
            Self::Ingress => "networking.k8s.io/v1".into(),
            Self::HorizontalPodAutoscaler => "autoscaling/v2".into(),
            Self::PodDisruptionBudget => "policy/v1".into(),
            Self::Lease => "coordination.k8s.io/v1".into(),
            Self::EndpointSlice => "discovery.k8s.io/v1".into(),
            Self::Custom(c) => c.api_version(),
        }
    }

    /// Whether objects of this kind live in a namespace.
    pub fn is_namespaced(&self) -> bool {
        match self {
            Self::Node | Self::Namespace => false,
            Self::Custom(c) => c.namespaced,
            _ => true,
        }
    }

    /// Whether the kind has a scale subresource the cluster seam can drive.
    pub fn has_scale(&self) -> bool {
        matches!(
            self,
            Self::Deployment | Self::StatefulSet | Self::ReplicaSet
        )
    }

    /// Finds a built-in kind from `apiVersion` and `kind`. Unknown pairs give `None`; the caller decides whether
    /// they are custom resources.
    pub fn from_type(api_version: &str, kind: &str) -> Option<Kind> {
        Self::BUILT_IN
            .into_iter()
            .find(|k| k.name() == kind && k.api_version() == api_version)
    }
}

/// A custom resource: typed metadata, free-form spec and status. Engines turn `spec` into their own serde types
/// (with `deny_unknown_fields`) at the edge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomObject {
    /// Which custom resource this is (carried beside the JSON, not in it).
    #[serde(skip)]
    pub kind: CustomKind,
    /// Object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The spec, as JSON.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub spec: serde_json::Value,
    /// The status, as JSON.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub status: serde_json::Value,
}

/// One object of any kind the seam carries.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
#[allow(
    clippy::large_enum_variant,
    reason = "objects are moved whole; boxing every variant costs more than it saves"
)]
pub enum Object {
    /// A Pod.
    Pod(Pod),
    /// A Node.
    Node(Node),
    /// A Namespace.
    Namespace(Namespace),
    /// A Service.
    Service(Service),
    /// An Event.
    Event(Event),
    /// A ConfigMap.
    ConfigMap(ConfigMap),
    /// A Secret, metadata only.
    Secret(Secret),
    /// A Deployment.
    Deployment(Deployment),
    /// A StatefulSet.
    StatefulSet(StatefulSet),
    /// A DaemonSet.
    DaemonSet(DaemonSet),
    /// A ReplicaSet.
    ReplicaSet(ReplicaSet),
    /// An Ingress.
    Ingress(Ingress),
    /// An autoscaling/v2 HorizontalPodAutoscaler.
    HorizontalPodAutoscaler(HorizontalPodAutoscaler),
    /// A PodDisruptionBudget.
    PodDisruptionBudget(PodDisruptionBudget),
    /// A Lease.
    Lease(Lease),
    /// A `discovery.k8s.io/v1` EndpointSlice.
    EndpointSlice(EndpointSlice),
    /// A custom resource.
    Custom(CustomObject),
}

macro_rules! for_each_builtin {
    ($self:expr, $v:ident => $body:expr, $custom:ident => $cbody:expr) => {
        match $self {
            Object::Pod($v) => $body,
            Object::Node($v) => $body,
            Object::Namespace($v) => $body,
            Object::Service($v) => $body,
            Object::Event($v) => $body,
            Object::ConfigMap($v) => $body,
            Object::Secret($v) => $body,
            Object::Deployment($v) => $body,
            Object::StatefulSet($v) => $body,
            Object::DaemonSet($v) => $body,
            Object::ReplicaSet($v) => $body,
            Object::Ingress($v) => $body,
            Object::HorizontalPodAutoscaler($v) => $body,
            Object::PodDisruptionBudget($v) => $body,
            Object::Lease($v) => $body,
            Object::EndpointSlice($v) => $body,
            Object::Custom($custom) => $cbody,
        }
    };
}

/// What a `scale` subresource reports for a workload: the desired and the current replica count and the pod
/// selector.
#[derive(Debug, Clone, PartialEq)]
pub struct ScaleView {
    /// `spec.replicas`, 1 when unset (the API default).
    pub spec_replicas: i32,
    /// `status.replicas`, 0 when there is no status yet.
    pub status_replicas: i32,
    /// The workload's pod selector in its string form (`app=web,tier in (a,b)`); empty when unset.
    pub selector: String,
}

impl Object {
    /// The scale subresource view of a Deployment, StatefulSet or ReplicaSet; `Ok(None)` for kinds without one
    /// ([`Kind::has_scale`]).
    ///
    /// # Errors
    /// A pod selector that is not a valid label selector.
    pub fn scale_view(&self) -> Result<Option<ScaleView>> {
        let (spec_replicas, status_replicas, selector) = match self {
            Self::Deployment(Deployment { spec, status, .. }) => (
                spec.as_ref().and_then(|s| s.replicas),
                status.as_ref().and_then(|s| s.replicas),
                spec.as_ref().map(|s| &s.selector),
            ),
            Self::StatefulSet(StatefulSet { spec, status, .. }) => (
                spec.as_ref().and_then(|s| s.replicas),
                status.as_ref().map(|s| s.replicas),
                spec.as_ref().map(|s| &s.selector),
            ),
            Self::ReplicaSet(ReplicaSet { spec, status, .. }) => (
                spec.as_ref().and_then(|s| s.replicas),
                status.as_ref().map(|s| s.replicas),
                spec.as_ref().map(|s| &s.selector),
            ),
            _ => return Ok(None),
        };
        let selector = match selector {
            None => String::new(),
            Some(s) => crate::cluster::selector::LabelSelector::from_k8s(s)?.to_string(),
        };
        Ok(Some(ScaleView {
            spec_replicas: spec_replicas.unwrap_or(1),
            status_replicas: status_replicas.unwrap_or(0),
            selector,
        }))
    }
}

impl Object {
    /// The object's kind.
    pub fn kind(&self) -> Kind {
        match self {
            Self::Pod(_) => Kind::Pod,
            Self::Node(_) => Kind::Node,
            Self::Namespace(_) => Kind::Namespace,
            Self::Service(_) => Kind::Service,
            Self::Event(_) => Kind::Event,
            Self::ConfigMap(_) => Kind::ConfigMap,
            Self::Secret(_) => Kind::Secret,
            Self::Deployment(_) => Kind::Deployment,
            Self::StatefulSet(_) => Kind::StatefulSet,
            Self::DaemonSet(_) => Kind::DaemonSet,
            Self::ReplicaSet(_) => Kind::ReplicaSet,
            Self::Ingress(_) => Kind::Ingress,
            Self::HorizontalPodAutoscaler(_) => Kind::HorizontalPodAutoscaler,
            Self::PodDisruptionBudget(_) => Kind::PodDisruptionBudget,
            Self::Lease(_) => Kind::Lease,
            Self::EndpointSlice(_) => Kind::EndpointSlice,
            Self::Custom(c) => Kind::Custom(c.kind.clone()),
        }
    }

    /// The object's metadata.
    pub fn metadata(&self) -> &ObjectMeta {
        for_each_builtin!(self, o => &o.metadata, c => &c.metadata)
    }

    /// The object's metadata, mutable.
    pub fn metadata_mut(&mut self) -> &mut ObjectMeta {
        for_each_builtin!(self, o => &mut o.metadata, c => &mut c.metadata)
    }

    /// The object's name (empty when unset).
    pub fn name(&self) -> &str {
        self.metadata().name.as_deref().unwrap_or("")
    }

    /// The object's namespace, if it has one.
    pub fn namespace(&self) -> Option<&str> {
        self.metadata().namespace.as_deref()
    }

    /// `namespace/name` or `name`, for messages.
    pub fn key(&self) -> String {
        super::meta_key(self.metadata())
    }

    /// The object as JSON, with `apiVersion` and `kind` set.
    ///
    /// # Errors
    /// Only if serde cannot represent the object, which does not happen for well-formed objects.
    pub fn to_json(&self) -> Result<serde_json::Value> {
        let kind = self.kind();
        let mut value =
            for_each_builtin!(self, o => serde_json::to_value(o), c => serde_json::to_value(c))
                .map_err(|e| Error::Parse {
                    location: format!("{kind} {}", self.key()),
                    reason: e.to_string(),
                })?;
        if let Some(map) = value.as_object_mut() {
            map.insert("apiVersion".into(), kind.api_version().into());
            map.insert("kind".into(), kind.name().into());
        }
        Ok(value)
    }

    /// Builds an object of a known kind from JSON (`apiVersion` and `kind` may be present or absent).
    ///
    /// # Errors
    /// [`Error::Parse`] naming the field when the JSON does not match the kind's schema.
    pub fn from_json(kind: &Kind, value: serde_json::Value) -> Result<Object> {
        fn de<T: serde::de::DeserializeOwned>(kind: &Kind, value: serde_json::Value) -> Result<T> {
            serde_path_to_error::deserialize(value).map_err(|e| {
                let path = e.path().to_string();
                let inner = e.into_inner();
                Error::Parse {
                    location: kind.to_string(),
                    reason: if path.is_empty() || path == "." {
                        inner.to_string()
                    } else {
                        format!("{path}: {inner}")
                    },
                }
            })
        }
        Ok(match kind {
            Kind::Pod => Object::Pod(de(kind, value)?),
            Kind::Node => Object::Node(de(kind, value)?),
            Kind::Namespace => Object::Namespace(de(kind, value)?),
            Kind::Service => Object::Service(de(kind, value)?),
            Kind::Event => Object::Event(de(kind, value)?),
            Kind::ConfigMap => Object::ConfigMap(de(kind, value)?),
            Kind::Secret => Object::Secret(de(kind, value)?),
            Kind::Deployment => Object::Deployment(de(kind, value)?),
            Kind::StatefulSet => Object::StatefulSet(de(kind, value)?),
            Kind::DaemonSet => Object::DaemonSet(de(kind, value)?),
            Kind::ReplicaSet => Object::ReplicaSet(de(kind, value)?),
            Kind::Ingress => Object::Ingress(de(kind, value)?),
            Kind::HorizontalPodAutoscaler => Object::HorizontalPodAutoscaler(de(kind, value)?),
            Kind::PodDisruptionBudget => Object::PodDisruptionBudget(de(kind, value)?),
            Kind::Lease => Object::Lease(de(kind, value)?),
            Kind::EndpointSlice => Object::EndpointSlice(de(kind, value)?),
            Kind::Custom(c) => {
                let mut obj: CustomObject = de(kind, value)?;
                obj.kind = c.clone();
                Object::Custom(obj)
            }
        })
    }
}

impl fmt::Display for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind(), self.key())
    }
}

/// A type that travels through the seam as one variant of [`Object`].
pub trait Typed: Sized + Send + 'static {
    /// The kind of this type.
    fn kind() -> Kind;
    /// Wraps the value.
    fn into_object(self) -> Object;
    /// Unwraps the value, or `None` for another kind.
    fn from_object(object: Object) -> Option<Self>;
}

macro_rules! typed {
    ($($t:ident),* $(,)?) => {$(
        impl Typed for $t {
            fn kind() -> Kind {
                Kind::$t
            }
            fn into_object(self) -> Object {
                Object::$t(self)
            }
            fn from_object(object: Object) -> Option<Self> {
                match object {
                    Object::$t(o) => Some(o),
                    _ => None,
                }
            }
        }

        impl From<$t> for Object {
            fn from(value: $t) -> Self {
                Object::$t(value)
            }
        }
    )*};
}

typed!(
    Pod,
    Node,
    Namespace,
    Service,
    Event,
    ConfigMap,
    Secret,
    Deployment,
    StatefulSet,
    DaemonSet,
    ReplicaSet,
    Ingress,
    HorizontalPodAutoscaler,
    PodDisruptionBudget,
    Lease,
    EndpointSlice,
);
