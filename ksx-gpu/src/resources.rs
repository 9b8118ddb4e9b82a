//! Resource names and pod requests with kube-scheduler semantics (scheduling.md §1.4).
//!
//! Requests are summed as exact [`Quantity`] values and converted once per pod, as upstream does: CPU in
//! millicores (`MilliValue`), every other resource in whole units (`Value`, rounded up). The scheduler keeps them
//! as dense `i64` vectors indexed by [`ResourceId`]; the first three slots are fixed (`cpu`, `memory`,
//! `ephemeral-storage`) and scalar resources are interned after them by a [`ResourceTable`].

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::{Container, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;
use ksx_core::quantity::Quantity;

use crate::error::{Error, Result};

/// `cpu`, in millicores.
pub const CPU: &str = "cpu";
/// `memory`, in bytes.
pub const MEMORY: &str = "memory";
/// `ephemeral-storage`, in bytes.
pub const EPHEMERAL_STORAGE: &str = "ephemeral-storage";
/// `pods`: the pod count a node allows (never summed from container requests).
pub const PODS: &str = "pods";

/// The CPU a container without a `cpu` request counts for in NodeResourcesFit scoring (100m).
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// The memory a container without a `memory` request counts for in NodeResourcesFit scoring (200Mi).
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// The index of a resource in the dense vectors of a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceId(pub u16);

impl ResourceId {
    /// `cpu`.
    pub const CPU: Self = Self(0);
    /// `memory`.
    pub const MEMORY: Self = Self(1);
    /// `ephemeral-storage`.
    pub const EPHEMERAL_STORAGE: Self = Self(2);

    /// The slot in a dense vector.
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

/// True for resource names that upstream treats as scalar resources: extended (`example.com/foo`, outside
/// `kubernetes.io/`), `hugepages-<size>`, `kubernetes.io/`-prefixed native names and `attachable-volumes-*`.
pub fn is_scalar_resource(name: &str) -> bool {
    is_extended_resource(name)
        || name.starts_with("hugepages-")
        || name.contains("kubernetes.io/")
        || name.starts_with("attachable-volumes-")
}

/// True for extended resources: a domain-prefixed name outside `kubernetes.io/` (and not a quota `requests.` name).
pub fn is_extended_resource(name: &str) -> bool {
    name.contains('/') && !name.contains("kubernetes.io/") && !name.starts_with("requests.")
}

/// True for the resources the scheduler accounts: `cpu`, `memory`, `ephemeral-storage` and scalar resources.
/// Other unprefixed names (and `pods`) are ignored in container requests.
pub fn is_schedulable_resource(name: &str) -> bool {
    matches!(name, CPU | MEMORY | EPHEMERAL_STORAGE) || is_scalar_resource(name)
}

/// Interns resource names: the three fixed resources first, then scalar resources in order of first sight.
#[derive(Debug, Clone)]
pub struct ResourceTable {
    names: Vec<String>,
    ids: HashMap<String, ResourceId>,
}

impl Default for ResourceTable {
    fn default() -> Self {
        let mut table = Self {
            names: Vec::new(),
            ids: HashMap::new(),
        };
        for name in [CPU, MEMORY, EPHEMERAL_STORAGE] {
            table.intern(name);
        }
        table
    }
}

impl ResourceTable {
    /// The id of a name, adding it when new. Past 65,535 names the last id is reused (no real cluster comes close).
    pub fn intern(&mut self, name: &str) -> ResourceId {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = ResourceId(u16::try_from(self.names.len()).unwrap_or(u16::MAX));
        self.names.push(name.to_owned());
        self.ids.insert(name.to_owned(), id);
        id
    }

    /// The id of a known name.
    pub fn get(&self, name: &str) -> Option<ResourceId> {
        self.ids.get(name).copied()
    }

    /// The name of an id (`"?"` for an id this table never gave out).
    pub fn name(&self, id: ResourceId) -> &str {
        self.names.get(id.index()).map_or("?", String::as_str)
    }

    /// How many names are interned.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Never true: the fixed resources are always there.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// Converts a summed quantity to the scheduler's integer unit for that resource.
pub fn to_units(name: &str, q: &Quantity) -> i64 {
    if name == CPU {
        q.milli_value()
    } else {
        q.value()
    }
}

/// Parses a k8s quantity, naming the object and field on failure.
///
/// # Errors
/// [`Error::InvalidQuantity`] when the text does not parse.
pub fn parse_quantity(q: &K8sQuantity, object: &str, field: &str) -> Result<Quantity> {
    Quantity::parse(&q.0).map_err(|e| Error::InvalidQuantity {
        object: object.to_owned(),
        field: field.to_owned(),
        value: q.0.clone(),
        reason: match e {
            ksx_core::Error::InvalidQuantity { reason, .. } => reason,
            other => other.to_string(),
        },
    })
}

/// Options of [`pod_requests`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestOptions {
    /// Give every container without a `cpu` key 100m and without a `memory` key 200Mi (NodeResourcesFit scoring).
    pub non_missing_defaults: bool,
}

type QuantityMap = BTreeMap<String, Quantity>;

fn add_into(into: &mut QuantityMap, name: &str, q: &Quantity) {
    let entry = into.entry(name.to_owned()).or_insert(Quantity::ZERO);
    *entry = entry.checked_add(q).unwrap_or(*entry);
}

fn max_into(into: &mut QuantityMap, from: &QuantityMap) {
    for (name, q) in from {
        let entry = into.entry(name.clone()).or_insert(*q);
        if q > entry {
            *entry = *q;
        }
    }
}

fn container_requests(
    c: &Container,
    object: &str,
    field: &str,
    opts: RequestOptions,
) -> Result<QuantityMap> {
    let mut out = QuantityMap::new();
    let requests = c.resources.as_ref().and_then(|r| r.requests.as_ref());
    if let Some(requests) = requests {
        for (name, q) in requests {
            if !is_schedulable_resource(name) {
                continue;
            }
            let q = parse_quantity(q, object, &format!("{field}.resources.requests.{name}"))?;
            out.insert(name.clone(), q);
        }
    }
    if opts.non_missing_defaults {
        let has = |key: &str| requests.is_some_and(|r| r.contains_key(key));
        if !has(CPU) {
            out.insert(
                CPU.to_owned(),
                Quantity::from_milli(DEFAULT_MILLI_CPU_REQUEST, Default::default()),
            );
        }
        if !has(MEMORY) {
            out.insert(
                MEMORY.to_owned(),
                Quantity::from_int(DEFAULT_MEMORY_REQUEST, Default::default()),
            );
        }
    }
    Ok(out)
}

/// The requests of a pod per resource name, in scheduler units (scheduling.md §1.4): max(app containers summed,
/// init-container peaks with sidecars), then pod-level `cpu`/`memory`/`hugepages-*` requests replace those values,
/// then `spec.overhead` is added. Zero entries are kept (a present `"cpu": "0"` stays visible as 0).
///
/// # Errors
/// [`Error::InvalidQuantity`] naming the pod and field of a quantity that does not parse.
pub fn pod_requests(
    pod: &Pod,
    object: &str,
    opts: RequestOptions,
) -> Result<BTreeMap<String, i64>> {
    let Some(spec) = pod.spec.as_ref() else {
        return Ok(BTreeMap::new());
    };
    let mut reqs = QuantityMap::new();
    for (i, c) in spec.containers.iter().enumerate() {
        let field = format!("spec.containers[{i}]");
        for (name, q) in &container_requests(c, object, &field, opts)? {
            add_into(&mut reqs, name, q);
        }
    }
    let mut sidecars = QuantityMap::new();
    let mut init_peak = QuantityMap::new();
    for (i, c) in spec.init_containers.iter().flatten().enumerate() {
        let field = format!("spec.initContainers[{i}]");
        let own = container_requests(c, object, &field, opts)?;
        let effective = if c.restart_policy.as_deref() == Some("Always") {
            for (name, q) in &own {
                add_into(&mut reqs, name, q);
                add_into(&mut sidecars, name, q);
            }
            sidecars.clone()
        } else {
            let mut with_sidecars = own;
            for (name, q) in &sidecars {
                add_into(&mut with_sidecars, name, q);
            }
            with_sidecars
        };
        max_into(&mut init_peak, &effective);
    }
    max_into(&mut reqs, &init_peak);

    if let Some(pod_level) = spec.resources.as_ref().and_then(|r| r.requests.as_ref()) {
        for (name, q) in pod_level {
            if name == CPU || name == MEMORY || name.starts_with("hugepages-") {
                let q = parse_quantity(q, object, &format!("spec.resources.requests.{name}"))?;
                reqs.insert(name.clone(), q);
            }
        }
    }
    for (name, q) in spec.overhead.iter().flatten() {
        let q = parse_quantity(q, object, &format!("spec.overhead.{name}"))?;
        add_into(&mut reqs, name, &q);
    }
    Ok(reqs
        .iter()
        .map(|(name, q)| (name.clone(), to_units(name, q)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_value(v).unwrap()
    }

    fn reqs(p: &Pod, defaults: bool) -> BTreeMap<String, i64> {
        pod_requests(
            p,
            "pod p",
            RequestOptions {
                non_missing_defaults: defaults,
            },
        )
        .unwrap()
    }

    #[test]
    fn classifies_names_as_upstream() {
        assert!(is_scalar_resource("example.com/foo"));
        assert!(is_scalar_resource("nvidia.com/gpu"));
        assert!(is_scalar_resource("hugepages-2Mi"));
        assert!(is_scalar_resource("kubernetes.io/foo"));
        assert!(is_scalar_resource("sub.kubernetes.io/foo"));
        assert!(is_scalar_resource("attachable-volumes-aws-ebs"));
        assert!(!is_scalar_resource("cpu"));
        assert!(!is_scalar_resource("foo"));
        assert!(!is_extended_resource("kubernetes.io/foo"));
        assert!(!is_schedulable_resource("pods"));
    }

    #[test]
    fn init_containers_and_sidecars_follow_upstream() {
        // App: 1 cpu. Sidecar 500m adds to the app sum (1.5) and to later init containers' base.
        // Regular init 2 cpu after the sidecar peaks at 2.5, which beats 1.5.
        let p = pod(serde_json::json!({"spec": {
            "initContainers": [
                {"name": "side", "restartPolicy": "Always", "resources": {"requests": {"cpu": "500m"}}},
                {"name": "init", "resources": {"requests": {"cpu": "2", "memory": "1Gi"}}}
            ],
            "containers": [{"name": "c", "resources": {"requests": {"cpu": "1", "memory": "2Gi"}}}]
        }}));
        let r = reqs(&p, false);
        assert_eq!(r["cpu"], 2500);
        assert_eq!(r["memory"], 2 * 1024 * 1024 * 1024);
    }

    #[test]
    fn pod_level_requests_replace_and_overhead_adds() {
        let p = pod(serde_json::json!({"spec": {
            "resources": {"requests": {"cpu": "3", "example.com/foo": "9"}},
            "overhead": {"cpu": "250m", "memory": "10Mi"},
            "containers": [{"name": "c", "resources": {"requests": {"cpu": "1", "memory": "1Mi", "example.com/foo": "2"}}}]
        }}));
        let r = reqs(&p, false);
        assert_eq!(r["cpu"], 3250);
        assert_eq!(r["memory"], 11 * 1024 * 1024);
        assert_eq!(
            r["example.com/foo"], 2,
            "pod-level extended names are ignored"
        );
    }

    #[test]
    fn non_missing_defaults_apply_per_container_only_to_missing_keys() {
        let p = pod(serde_json::json!({"spec": {
            "initContainers": [{"name": "i"}],
            "containers": [
                {"name": "a", "resources": {"requests": {"cpu": "0"}}},
                {"name": "b"}
            ]
        }}));
        let r = reqs(&p, true);
        assert_eq!(
            r["cpu"], 100,
            "a: explicit 0; b: 100m; init 100m peaks at 100m"
        );
        assert_eq!(r["memory"], 2 * DEFAULT_MEMORY_REQUEST);
        assert!(!reqs(&p, false).contains_key("memory"));
        let empty = pod(serde_json::json!({"spec": {"containers": []}}));
        assert!(reqs(&empty, true).is_empty());
    }

    #[test]
    fn sums_exactly_before_rounding() {
        let p = pod(serde_json::json!({"spec": {"containers": [
            {"name": "a", "resources": {"requests": {"cpu": "0.1m", "pods": "3", "foo": "1"}}},
            {"name": "b", "resources": {"requests": {"cpu": "0.1m"}}}
        ]}}));
        let r = reqs(&p, false);
        assert_eq!(r["cpu"], 1);
        assert_eq!(r.len(), 1, "pods and unprefixed names are ignored");
    }

    #[test]
    fn bad_quantity_names_the_field() {
        let p = pod(serde_json::json!({"spec": {"containers": [
            {"name": "a", "resources": {"requests": {"cpu": "lots"}}}
        ]}}));
        let e = pod_requests(&p, "pod p", RequestOptions::default()).unwrap_err();
        assert!(
            e.to_string().starts_with(
                "pod p: field spec.containers[0].resources.requests.cpu: invalid quantity \"lots\""
            ),
            "{e}"
        );
    }
}
