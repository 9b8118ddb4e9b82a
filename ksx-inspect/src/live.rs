//! Live cluster input (spec §4.0 "Bundle", §7 `--cluster`): a [`Bundle`] read through the `ksx-core` cluster
//! seam ([`ClusterReader`]: `InMemoryCluster`, or `KubeCluster` behind feature `kube`), limited to the inspected
//! namespaces plus cluster-scoped objects.
//!
//! Objects come back without a source file, so the engine runs the live checks (§4.6, §4.7,
//! `net-service-endpoints-empty`) on them next to the static ones. Live, controller-owned Pods are skipped by the
//! static checks and reported through their controller (§4.0, [`skipped_by_static_checks`]). Listing is the only
//! I/O; the engine stays pure.

use ksx_core::cluster::{ClusterReader, CustomKind, Kind, ListOptions};
use serde_json::Value;

use crate::bundle::{Bundle, InspectObject};
use crate::engine::glob_matches;
use crate::model::{ErrorKind, RunError};

/// Which namespaces a live run inspects: `include` globs (empty = all) minus `exclude` globs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NamespaceFilter {
    /// Globs of namespaces to inspect; empty = every namespace.
    pub include: Vec<String>,
    /// Globs of namespaces to skip.
    pub exclude: Vec<String>,
}

impl NamespaceFilter {
    /// A filter from `--namespaces a,b` (comma list; blanks ignored).
    pub fn from_list(list: &str) -> Self {
        Self {
            include: list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            exclude: Vec::new(),
        }
    }

    /// Whether namespace `ns` is inspected.
    pub fn allows(&self, ns: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|g| glob_matches(g, ns)))
            && !self.exclude.iter().any(|g| glob_matches(g, ns))
    }
}

/// Whether static checks skip `obj` (spec §4.0: "Live, controller-owned Pods are skipped by static checks (reported
/// via their controller)"): a live Pod (no source file) with an owner reference whose `controller` is `true`.
/// Live checks still see it, and cross-object checks still count it; Pods read from manifests are always checked,
/// owner references or not.
pub fn skipped_by_static_checks(obj: &InspectObject) -> bool {
    obj.source.is_none()
        && obj.kind() == "Pod"
        && obj
            .value
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .is_some_and(|refs| {
                refs.iter()
                    .any(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
            })
}

/// The kinds a live run reads by default: every built-in kind of the seam except Leases (EndpointSlices included,
/// for `net-service-endpoints-empty`).
pub fn default_kinds() -> Vec<Kind> {
    Kind::BUILT_IN
        .into_iter()
        .filter(|k| *k != Kind::Lease)
        .collect()
}

/// Custom kinds the live checks understand and a cluster may serve through the seam: batch/v1 Jobs and
/// PersistentVolumeClaims.
pub fn optional_kinds() -> Vec<Kind> {
    vec![
        Kind::Custom(CustomKind {
            group: "batch".to_owned(),
            version: "v1".to_owned(),
            kind: "Job".to_owned(),
            plural: "jobs".to_owned(),
            namespaced: true,
        }),
        Kind::Custom(CustomKind {
            group: String::new(),
            version: "v1".to_owned(),
            kind: "PersistentVolumeClaim".to_owned(),
            plural: "persistentvolumeclaims".to_owned(),
            namespaced: true,
        }),
    ]
}

/// Reads `kinds` from the cluster into a bundle: namespaced objects of allowed namespaces, every cluster-scoped
/// object (Namespaces only when allowed). One kind that fails to list is a diagnostic (`runtime`, so the run is
/// `partial`); the rest are still read. `inputs` of the bundle is `cluster` (with the namespace list when given).
///
/// # Errors
/// Never for one kind; a [`ksx_core::Error`] only when no kind at all could be listed (cluster unreachable).
pub async fn bundle_from_cluster(
    reader: &dyn ClusterReader,
    namespaces: &NamespaceFilter,
    kinds: &[Kind],
) -> ksx_core::Result<Bundle> {
    let mut bundle = Bundle::default();
    let mut first_error = None;
    let mut listed = 0usize;
    for kind in kinds {
        let objects = match reader.list(kind, None, &ListOptions::default()).await {
            Ok(o) => o,
            Err(e) => {
                bundle.errors.push(RunError {
                    kind: ErrorKind::Runtime,
                    message: format!("cannot list {kind}: {e}"),
                    file: None,
                    document: None,
                    line: None,
                    column: None,
                });
                first_error.get_or_insert(e);
                continue;
            }
        };
        listed += 1;
        for object in objects {
            let allowed = match object.namespace() {
                Some(ns) => namespaces.allows(ns),
                None if *kind == Kind::Namespace => namespaces.allows(object.name()),
                None => true,
            };
            if !allowed {
                continue;
            }
            match object.to_json() {
                Ok(value) => bundle.push(InspectObject::new(value, None, "default")),
                Err(e) => bundle.errors.push(RunError {
                    kind: ErrorKind::Input,
                    message: format!("{kind} {}: {e}", object.key()),
                    file: None,
                    document: None,
                    line: None,
                    column: None,
                }),
            }
        }
    }
    if listed == 0
        && let Some(e) = first_error
    {
        return Err(e);
    }
    bundle.inputs = vec![if namespaces.include.is_empty() {
        "cluster".to_owned()
    } else {
        format!("cluster (namespaces {})", namespaces.include.join(","))
    }];
    Ok(bundle)
}

/// Reads a bundle from the cluster of the default kubeconfig (or the in-cluster service account), with the
/// default and the optional kinds.
///
/// # Errors
/// No cluster is configured, or none of the kinds could be listed.
#[cfg(feature = "kube")]
#[cfg_attr(docsrs, doc(cfg(feature = "kube")))]
pub async fn bundle_from_kube(namespaces: &NamespaceFilter) -> ksx_core::Result<Bundle> {
    let cluster = ksx_core::cluster::kube::KubeCluster::try_default().await?;
    let mut kinds = default_kinds();
    kinds.extend(optional_kinds());
    bundle_from_cluster(&cluster, namespaces, &kinds).await
}
