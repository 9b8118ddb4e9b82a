//! The EndpointSlice controller of the in-memory cluster: it keeps the `discovery.k8s.io/v1` EndpointSlices of
//! every Service with a selector, as the Kubernetes EndpointSlice controller does.
//!
//! - A Service with a non-empty `spec.selector` (and not `type: ExternalName`) gets one slice per
//!   [`MAX_ENDPOINTS`] selected pods, and one empty slice when it selects none. Slices carry the Service's labels
//!   plus [`SERVICE_NAME_LABEL`] (the Service's name) and [`MANAGED_BY_LABEL`] = [`MANAGED_BY`], and a controller
//!   owner reference to the Service, so deleting the Service deletes them.
//! - A pod is an endpoint when it is in the Service's namespace, its labels carry every selector pair, it has not
//!   finished (`Succeeded`/`Failed`), and it is bound to a node or has a `status.podIP`. Conditions: `ready` when
//!   the pod is Ready and not terminating, `serving` when it is Ready, `terminating` when it is being deleted;
//!   `spec.publishNotReadyAddresses` makes every endpoint ready and serving.
//! - The simulator assigns no pod IPs: an endpoint's address is the pod's `status.podIP` when set, else a stable
//!   `10.x.y.z` address derived from the pod's namespace and name.
//! - Ports: each Service port with its name (`""` when unnamed), protocol (`TCP` by default) and target port; a
//!   named target port resolves against the container ports of the first endpoint pod and is left out when it
//!   does not resolve. A slice without endpoints has no ports, as the API server's placeholder slice.
//! - Slice names are `<service>-<hash>` with a hash of the Service's uid and the slice's index, and uids are
//!   derived from the same data, so the controller never draws from the cluster's seeded RNG and adding it does
//!   not change the names of pods created later. A slice is written only when its content changes.
//! - Only slices labelled as managed by this controller and controlled by the Service are touched: slices a user
//!   creates (for selector-less Services, say) are stored and listed like any other object.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::{ObjectReference, Pod, Service, ServicePort};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::controllers::{controller_ref, is_controlled_by, template_hash};
use super::pods::{is_ready, node_name, phase};
use super::state::State;
use super::store::Key;
use crate::cluster::{Kind, Object};

/// The label that names a slice's Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// The label that names the controller managing a slice.
pub const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
/// The value of [`MANAGED_BY_LABEL`] on the slices this controller manages (the Kubernetes controller's own).
pub const MANAGED_BY: &str = "endpointslice-controller.k8s.io";
/// The most endpoints one slice holds (the Kubernetes controller's default `--max-endpoints-per-slice`).
pub const MAX_ENDPOINTS: usize = 100;

/// The node label giving a node's zone.
const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
/// The longest object name.
const MAX_NAME: usize = 63;

/// The kinds whose changes can change a slice: Pods, Services, EndpointSlices (a managed slice edited by hand is
/// put back) and Nodes (zones).
const WATCHED: [Kind; 4] = [Kind::Pod, Kind::Service, Kind::EndpointSlice, Kind::Node];

/// Runs the controller over every Service; a pass in which no Pod, Service, EndpointSlice or Node changed since
/// the last one does nothing.
pub(super) fn sync_all(st: &mut State) {
    let versions = || WATCHED.each_ref().map(|k| st.store.kind_version(k));
    if st.endpointslices_seen == Some(versions()) {
        return;
    }
    let plans: Vec<(Key, String, Vec<EndpointSlice>)> = {
        let index = PodIndex::new(st);
        st.store
            .iter(&Kind::Service)
            .filter_map(|o| match o {
                Object::Service(svc) => {
                    let uid = svc.metadata.uid.clone().filter(|u| !u.is_empty())?;
                    let namespace = svc.metadata.namespace.clone().unwrap_or_default();
                    let desired = desired_slices(&index, svc, &namespace, &uid);
                    let name = svc.metadata.name.clone().unwrap_or_default();
                    Some(((namespace, name), uid, desired))
                }
                _ => None,
            })
            .collect()
    };
    for (key, uid, desired) in plans {
        sync(st, &key, &uid, &desired);
    }
    st.endpointslices_seen = Some(WATCHED.each_ref().map(|k| st.store.kind_version(k)));
}

/// Brings the managed slices of one Service (namespace and name `key`, uid `uid`) in line with `desired`.
fn sync(st: &mut State, key: &Key, uid: &str, desired: &[EndpointSlice]) {
    let existing: Vec<String> = st
        .store
        .dependents_of_kind(uid, &Kind::EndpointSlice)
        .filter(|o| is_managed(o.metadata(), uid))
        .map(|o| o.name().to_owned())
        .collect();
    for slice in desired {
        let name = slice.metadata.name.clone().unwrap_or_default();
        match st.store.get(&Kind::EndpointSlice, &key.0, &name) {
            Some(Object::EndpointSlice(old)) => {
                if !same_content(old, slice) {
                    let new = slice.clone();
                    st.store
                        .update(&Kind::EndpointSlice, &key.0, &name, |object| {
                            if let Object::EndpointSlice(old) = object {
                                old.metadata.labels = new.metadata.labels;
                                old.metadata.owner_references = new.metadata.owner_references;
                                old.address_type = new.address_type;
                                old.endpoints = new.endpoints;
                                old.ports = new.ports;
                            }
                        });
                }
            }
            // A user's object of the same name: left alone (the hash makes this all but impossible).
            Some(_) => {}
            None => {
                let mut slice = slice.clone();
                slice.metadata.uid = Some(derived_uid(uid, &name));
                slice.metadata.creation_timestamp = Some(Time(st.now()));
                st.store.insert(Object::EndpointSlice(slice));
            }
        }
    }
    for name in existing {
        if !desired
            .iter()
            .any(|s| s.metadata.name.as_deref() == Some(name.as_str()))
        {
            st.remove(&Kind::EndpointSlice, &key.0, &name);
        }
    }
}

/// The pods that can be endpoints (not finished; bound to a node or with a pod IP), by namespace and label pair,
/// and the zone of every node, built once per pass so each Service looks only at the pods carrying its first
/// selector pair.
struct PodIndex<'a> {
    by_label: HashMap<(&'a str, &'a str, &'a str), Vec<&'a Pod>>,
    zones: HashMap<&'a str, &'a str>,
}

impl<'a> PodIndex<'a> {
    fn new(st: &'a State) -> Self {
        let mut by_label: HashMap<(&str, &str, &str), Vec<&Pod>> = HashMap::new();
        let pods = st.store.iter(&Kind::Pod).filter_map(|o| match o {
            Object::Pod(p) => Some(p),
            _ => None,
        });
        for pod in pods {
            if matches!(phase(pod), "Succeeded" | "Failed")
                || node_name(pod).is_none() && pod_ip(pod).is_none()
            {
                continue;
            }
            let namespace = pod.metadata.namespace.as_deref().unwrap_or("");
            for (k, v) in pod.metadata.labels.iter().flatten() {
                by_label
                    .entry((namespace, k.as_str(), v.as_str()))
                    .or_default()
                    .push(pod);
            }
        }
        let zones = st
            .store
            .iter(&Kind::Node)
            .filter_map(|o| {
                let zone = o.metadata().labels.as_ref()?.get(ZONE_LABEL)?;
                Some((o.name(), zone.as_str()))
            })
            .collect();
        Self { by_label, zones }
    }

    /// The candidate pods of `namespace` whose labels carry every pair of `selector` (non-empty), in store order
    /// (by name).
    fn select(&self, namespace: &str, selector: &BTreeMap<String, String>) -> Vec<&'a Pod> {
        let Some((k, v)) = selector.iter().next() else {
            return Vec::new();
        };
        self.by_label
            .get(&(namespace, k.as_str(), v.as_str()))
            .into_iter()
            .flatten()
            .copied()
            .filter(|p| selects(selector, p))
            .collect()
    }
}

/// Whether a slice is one this controller manages for the Service with `uid`.
fn is_managed(meta: &ObjectMeta, uid: &str) -> bool {
    is_controlled_by(meta, uid)
        && meta
            .labels
            .as_ref()
            .and_then(|l| l.get(MANAGED_BY_LABEL))
            .is_some_and(|v| v == MANAGED_BY)
}

/// Whether two slices agree on everything the controller sets.
fn same_content(a: &EndpointSlice, b: &EndpointSlice) -> bool {
    a.metadata.labels == b.metadata.labels
        && a.metadata.owner_references == b.metadata.owner_references
        && a.address_type == b.address_type
        && a.endpoints == b.endpoints
        && a.ports == b.ports
}

/// The slices a Service should have: none without a selector (or for `ExternalName`), else at least one.
fn desired_slices(
    index: &PodIndex<'_>,
    svc: &Service,
    namespace: &str,
    uid: &str,
) -> Vec<EndpointSlice> {
    let Some(spec) = &svc.spec else {
        return Vec::new();
    };
    let selector = spec.selector.clone().unwrap_or_default();
    if selector.is_empty() || spec.type_.as_deref() == Some("ExternalName") {
        return Vec::new();
    }
    let publish = spec.publish_not_ready_addresses == Some(true);
    let pods = index.select(namespace, &selector);
    let endpoints: Vec<Endpoint> = pods.iter().map(|p| endpoint(index, p, publish)).collect();
    let ports = pods.first().map(|first| {
        spec.ports
            .iter()
            .flatten()
            .filter_map(|port| endpoint_port(port, first))
            .collect::<Vec<_>>()
    });
    let mut labels = svc.metadata.labels.clone().unwrap_or_default();
    labels.insert(
        SERVICE_NAME_LABEL.to_owned(),
        svc.metadata.name.clone().unwrap_or_default(),
    );
    labels.insert(MANAGED_BY_LABEL.to_owned(), MANAGED_BY.to_owned());
    let owner = controller_ref(&Kind::Service, &svc.metadata);
    let service_name = svc.metadata.name.as_deref().unwrap_or("");
    let chunks: Vec<Vec<Endpoint>> = if endpoints.is_empty() {
        vec![Vec::new()]
    } else {
        endpoints.chunks(MAX_ENDPOINTS).map(<[_]>::to_vec).collect()
    };
    chunks
        .into_iter()
        .enumerate()
        .map(|(index, endpoints)| EndpointSlice {
            metadata: ObjectMeta {
                name: Some(slice_name(service_name, uid, index)),
                namespace: Some(namespace.to_owned()),
                labels: Some(labels.clone()),
                owner_references: Some(vec![owner.clone()]),
                ..ObjectMeta::default()
            },
            address_type: "IPv4".to_owned(),
            ports: if endpoints.is_empty() {
                None
            } else {
                ports.clone()
            },
            endpoints,
        })
        .collect()
}

/// Whether the pod's labels carry every pair of an equality selector.
fn selects(selector: &BTreeMap<String, String>, pod: &Pod) -> bool {
    let labels = pod.metadata.labels.as_ref();
    selector
        .iter()
        .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}

/// `status.podIP`, when set.
fn pod_ip(pod: &Pod) -> Option<&str> {
    pod.status
        .as_ref()?
        .pod_ip
        .as_deref()
        .filter(|ip| !ip.is_empty())
}

/// One pod as an endpoint.
fn endpoint(index: &PodIndex<'_>, pod: &Pod, publish: bool) -> Endpoint {
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let address = pod_ip(pod).map_or_else(|| derived_ip(&namespace, &name), str::to_owned);
    let terminating = pod.metadata.deletion_timestamp.is_some();
    let ready = is_ready(pod);
    let node = node_name(pod);
    let zone = node
        .and_then(|n| index.zones.get(n))
        .map(|z| (*z).to_owned());
    Endpoint {
        addresses: vec![address],
        conditions: Some(EndpointConditions {
            ready: Some(publish || ready && !terminating),
            serving: Some(publish || ready),
            terminating: Some(terminating),
        }),
        node_name: node.map(str::to_owned),
        target_ref: Some(ObjectReference {
            kind: Some("Pod".to_owned()),
            name: Some(name),
            namespace: Some(namespace),
            uid: pod.metadata.uid.clone(),
            ..ObjectReference::default()
        }),
        zone,
        ..Endpoint::default()
    }
}

/// A Service port as a slice port, its target resolved against `pod`; `None` for a named target port the pod
/// does not declare.
fn endpoint_port(port: &ServicePort, pod: &Pod) -> Option<EndpointPort> {
    let number = match &port.target_port {
        None => port.port,
        Some(IntOrString::Int(n)) => *n,
        Some(IntOrString::String(name)) => name.parse::<i32>().ok().or_else(|| {
            pod.spec
                .iter()
                .flat_map(|s| &s.containers)
                .flat_map(|c| c.ports.iter().flatten())
                .find(|p| p.name.as_deref() == Some(name.as_str()))
                .map(|p| p.container_port)
        })?,
    };
    Some(EndpointPort {
        name: Some(port.name.clone().unwrap_or_default()),
        port: Some(number),
        protocol: Some(port.protocol.clone().unwrap_or_else(|| "TCP".to_owned())),
        app_protocol: port.app_protocol.clone(),
    })
}

/// `<service>-<hash>`, the service name cut so the whole stays within 63 characters.
fn slice_name(service: &str, uid: &str, index: usize) -> String {
    let hash = template_hash(&(uid, index), 0);
    let room = MAX_NAME.saturating_sub(hash.len() + 1);
    let prefix: String = service.chars().take(room).collect();
    format!("{prefix}-{hash}")
}

/// FNV-1a over some bytes.
fn fnv64(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain(std::iter::once(0)) {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

/// A stable uid, in the UUID text form, for the slice `name` of the Service with `uid`.
fn derived_uid(uid: &str, name: &str) -> String {
    let a = fnv64(&["endpointslice", uid, name]);
    let b = fnv64(&[name, uid, "endpointslice"]);
    format!(
        "{:08x}-{:04x}-5{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        ((b >> 48) & 0x3fff) | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

/// A stable `10.x.y.z` address for a pod without `status.podIP` (`z` in 1–254).
fn derived_ip(namespace: &str, name: &str) -> String {
    let h = fnv64(&[namespace, name]);
    format!(
        "10.{}.{}.{}",
        (h >> 24) & 0xff,
        (h >> 16) & 0xff,
        1 + (h & 0xffff) % 254
    )
}
