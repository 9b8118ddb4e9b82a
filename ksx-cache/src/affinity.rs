//! Cache-affinity scheduling (spec §3): [`mutate_pod`] adds node-affinity terms that steer a pod towards the
//! nodes caching the datasets it uses (Fluid's `NodeAffinityWithCache` plugin) or, for a pod that uses none,
//! away from cache nodes (`PreferNodesWithoutCache`). Pure and idempotent: a pod already carrying a dataset's
//! term is left as it is.
//!
//! A pod uses dataset `D` when it mounts the PVC named `D` (Fluid's convention: the PVC of a dataset has its
//! name and namespace) or lists `D` (`name` or `namespace/name`) in the annotation [`DATASETS_ANNOTATION`].

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{
    Affinity, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod,
    PreferredSchedulingTerm,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The pod annotation listing datasets a pod uses (comma-separated, `name` or `namespace/name`).
pub const DATASETS_ANNOTATION: &str = "cache.ksx.io/datasets";
/// The node label counting datasets cached on a node.
pub const DATASET_NUM_LABEL: &str = "cache.ksx.io/dataset-num";
/// The zone label.
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
/// The region label.
pub const REGION_LABEL: &str = "topology.kubernetes.io/region";

/// Shortens a label name part over 63 characters to its first 54, `-` and 8 hex digits of its SHA-256.
#[must_use]
pub fn shorten_name_part(part: &str) -> String {
    if part.len() <= 63 {
        return part.to_owned();
    }
    let digest = Sha256::digest(part.as_bytes());
    let hex: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    let head: String = part.chars().take(54).collect();
    format!("{head}-{hex}")
}

/// The node label marking a dataset's cache nodes: `cache.ksx.io/s-{namespace}-{name}` (name part shortened
/// past 63 characters).
#[must_use]
pub fn cache_node_label(namespace: &str, name: &str) -> String {
    format!(
        "cache.ksx.io/{}",
        shorten_name_part(&format!("s-{namespace}-{name}"))
    )
}

/// The pod label asking for required cache affinity to a dataset: `cache.ksx.io/dataset.{name}.sched`
/// (value `required`; `preferred` or absent keeps the default).
#[must_use]
pub fn sched_label(dataset: &str) -> String {
    format!(
        "cache.ksx.io/{}",
        shorten_name_part(&format!("dataset.{dataset}.sched"))
    )
}

/// What the mutator knows about one dataset: where its cache is.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DatasetView {
    /// The dataset's namespace.
    pub namespace: String,
    /// The dataset's name.
    pub name: String,
    /// Nodes running its cache workers (from the placement or the workers' pods).
    #[serde(default)]
    pub cache_nodes: Vec<String>,
    /// Zones of those nodes.
    #[serde(default)]
    pub zones: Vec<String>,
    /// Regions of those nodes.
    #[serde(default)]
    pub regions: Vec<String>,
}

/// The mutator's configuration (Fluid plugin defaults; the webhook reloads it live).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct MutateConfig {
    /// Pods that use no dataset prefer nodes without cache (default true).
    pub prefer_nodes_without_cache: bool,
    /// Weight of the no-cache preference (100).
    pub no_cache_weight: i32,
    /// Weight of the cache-node preference (100).
    pub cache_node_weight: i32,
    /// Weight of the zone preference (50).
    pub zone_weight: i32,
    /// Weight of the region preference (10).
    pub region_weight: i32,
}

impl Default for MutateConfig {
    fn default() -> Self {
        Self {
            prefer_nodes_without_cache: true,
            no_cache_weight: 100,
            cache_node_weight: 100,
            zone_weight: 50,
            region_weight: 10,
        }
    }
}

/// The result of [`mutate_pod`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Mutation {
    /// The pod's new `spec.affinity` when it changed (a webhook patches `/spec/affinity` with it), `None` when
    /// the pod stays as it is.
    pub affinity: Option<Affinity>,
    /// What was decided, one line per dataset.
    pub reasons: Vec<String>,
}

fn pod_name(pod: &Pod) -> String {
    format!(
        "pod \"{}/{}\"",
        pod.metadata.namespace.as_deref().unwrap_or("default"),
        pod.metadata
            .name
            .as_deref()
            .or(pod.metadata.generate_name.as_deref())
            .unwrap_or_default()
    )
}

fn expr(key: &str, operator: &str, values: Option<Vec<String>>) -> NodeSelectorRequirement {
    NodeSelectorRequirement {
        key: key.to_owned(),
        operator: operator.to_owned(),
        values,
    }
}

fn preferred(weight: i32, requirement: NodeSelectorRequirement) -> PreferredSchedulingTerm {
    PreferredSchedulingTerm {
        weight,
        preference: NodeSelectorTerm {
            match_expressions: Some(vec![requirement]),
            match_fields: None,
        },
    }
}

fn has_key(node: &NodeAffinity, key: &str) -> bool {
    let in_term = |t: &NodeSelectorTerm| {
        t.match_expressions
            .as_deref()
            .unwrap_or_default()
            .iter()
            .any(|e| e.key == key)
    };
    node.preferred_during_scheduling_ignored_during_execution
        .as_deref()
        .unwrap_or_default()
        .iter()
        .any(|p| in_term(&p.preference))
        || node
            .required_during_scheduling_ignored_during_execution
            .as_ref()
            .is_some_and(|r| r.node_selector_terms.iter().any(in_term))
}

/// The datasets `pod` uses, as `(namespace, name)`, sorted, with the unknown annotation entries.
fn used_datasets<'a>(
    pod: &Pod,
    datasets: &'a [DatasetView],
) -> (Vec<&'a DatasetView>, Vec<String>) {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let mut wanted: BTreeSet<(String, String)> = BTreeSet::new();
    let mut annotated: BTreeSet<(String, String)> = BTreeSet::new();
    for volume in pod
        .spec
        .as_ref()
        .and_then(|s| s.volumes.as_deref())
        .unwrap_or_default()
    {
        if let Some(pvc) = &volume.persistent_volume_claim {
            wanted.insert((ns.to_owned(), pvc.claim_name.clone()));
        }
    }
    if let Some(list) = pod
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(DATASETS_ANNOTATION))
    {
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let key = match entry.split_once('/') {
                Some((n, d)) => (n.to_owned(), d.to_owned()),
                None => (ns.to_owned(), entry.to_owned()),
            };
            wanted.insert(key.clone());
            annotated.insert(key);
        }
    }
    let mut used = Vec::new();
    let mut unknown = Vec::new();
    for (n, d) in &wanted {
        match datasets.iter().find(|v| &v.namespace == n && &v.name == d) {
            Some(v) => used.push(v),
            // A PVC that is no dataset is an ordinary claim; only annotation entries are worth a word.
            None if annotated.contains(&(n.clone(), d.clone())) => unknown.push(format!(
                "annotation {DATASETS_ANNOTATION} names {n}/{d}, which is no known dataset; skipped"
            )),
            None => {}
        }
    }
    (used, unknown)
}

/// Adds cache-affinity terms to `pod` (spec §3): for each dataset it uses, preferred `s-{ns}-{dataset}` In
/// `["true"]` (weight 100, or required with the pod label [`sched_label`] `= required`, appended to every
/// required term), zone In the dataset's zones (50) and region In its regions (10); for a pod using none,
/// preferred [`DATASET_NUM_LABEL`] DoesNotExist (100) when configured. A dataset whose term the pod carries
/// already is skipped, so mutating twice equals mutating once.
///
/// # Errors
/// [`Error::Invalid`] naming the pod and the label: a [`sched_label`] value other than `required` /
/// `preferred`, or `required` for a dataset with no cache nodes (the pod could never schedule).
pub fn mutate_pod(pod: &Pod, datasets: &[DatasetView], config: &MutateConfig) -> Result<Mutation> {
    let (used, mut reasons) = used_datasets(pod, datasets);
    let mut affinity = pod
        .spec
        .as_ref()
        .and_then(|s| s.affinity.clone())
        .unwrap_or_default();
    let mut node = affinity.node_affinity.clone().unwrap_or_default();
    let mut changed = false;
    let add_preferred = |node: &mut NodeAffinity, term: PreferredSchedulingTerm| {
        node.preferred_during_scheduling_ignored_during_execution
            .get_or_insert_with(Vec::new)
            .push(term);
    };
    if used.is_empty() {
        if !config.prefer_nodes_without_cache {
            reasons.push("uses no dataset: left as it is".to_owned());
        } else if has_key(&node, DATASET_NUM_LABEL) {
            reasons.push("uses no dataset: already prefers nodes without cache".to_owned());
        } else {
            add_preferred(
                &mut node,
                preferred(
                    config.no_cache_weight,
                    expr(DATASET_NUM_LABEL, "DoesNotExist", None),
                ),
            );
            changed = true;
            reasons.push(format!(
                "uses no dataset: prefer nodes without cache ({})",
                config.no_cache_weight
            ));
        }
    }
    let labels = pod.metadata.labels.clone().unwrap_or_default();
    for d in used {
        let who = format!("{}/{}", d.namespace, d.name);
        let key = cache_node_label(&d.namespace, &d.name);
        if has_key(&node, &key) {
            reasons.push(format!(
                "uses dataset {who}: already has its cache-node term; skipped"
            ));
            continue;
        }
        let label = sched_label(&d.name);
        let required = match labels.get(&label).map(String::as_str) {
            Some("required") => true,
            None | Some("preferred" | "") => false,
            Some(other) => {
                return Err(Error::Invalid {
                    object: pod_name(pod),
                    field: format!("metadata.labels[{label:?}]"),
                    message: format!("{other:?} is neither \"required\" nor \"preferred\""),
                });
            }
        };
        let cache_expr = expr(&key, "In", Some(vec!["true".to_owned()]));
        let mut parts = Vec::new();
        if required {
            if d.cache_nodes.is_empty() {
                return Err(Error::Invalid {
                    object: pod_name(pod),
                    field: format!("metadata.labels[{label:?}]"),
                    message: format!(
                        "requires the cache nodes of dataset {who}, which has none: the pod could not be scheduled"
                    ),
                });
            }
            let req = node
                .required_during_scheduling_ignored_during_execution
                .get_or_insert_with(NodeSelector::default);
            if req.node_selector_terms.is_empty() {
                req.node_selector_terms.push(NodeSelectorTerm::default());
            }
            for term in &mut req.node_selector_terms {
                term.match_expressions
                    .get_or_insert_with(Vec::new)
                    .push(cache_expr.clone());
            }
            parts.push("require cache nodes".to_owned());
        } else {
            add_preferred(&mut node, preferred(config.cache_node_weight, cache_expr));
            parts.push(format!("prefer cache nodes ({})", config.cache_node_weight));
        }
        if !d.zones.is_empty() {
            add_preferred(
                &mut node,
                preferred(
                    config.zone_weight,
                    expr(ZONE_LABEL, "In", Some(d.zones.clone())),
                ),
            );
            parts.push(format!("zone ({})", config.zone_weight));
        }
        if !d.regions.is_empty() {
            add_preferred(
                &mut node,
                preferred(
                    config.region_weight,
                    expr(REGION_LABEL, "In", Some(d.regions.clone())),
                ),
            );
            parts.push(format!("region ({})", config.region_weight));
        }
        changed = true;
        reasons.push(format!("uses dataset {who}: {}", parts.join(", ")));
    }
    if !changed {
        return Ok(Mutation {
            affinity: None,
            reasons,
        });
    }
    affinity.node_affinity = Some(node);
    Ok(Mutation {
        affinity: Some(affinity),
        reasons,
    })
}

/// `pod` with a [`Mutation`] applied (the pod itself when nothing changed).
#[must_use]
pub fn apply(pod: &Pod, mutation: &Mutation) -> Pod {
    let mut out = pod.clone();
    if let Some(affinity) = &mutation.affinity {
        out.spec.get_or_insert_with(Default::default).affinity = Some(affinity.clone());
    }
    out
}
