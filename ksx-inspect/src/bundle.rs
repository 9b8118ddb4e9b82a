//! The set of objects inspected together, and the per-namespace index that cross-object checks use.
//!
//! Objects are generic JSON trees (spec intro): one odd field never hides a whole object. The index groups
//! objects by (effective namespace, kind) so reference checks look at the few candidates of one namespace
//! instead of scanning the whole bundle.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use ksx_core::manifest::{Loaded, Source};
use serde_json::Value;

use crate::model::{ErrorKind, Resource, RunError};

/// Kinds that are not namespaced (the common ones; anything else counts as namespaced).
const CLUSTER_SCOPED: &[&str] = &[
    "Namespace",
    "Node",
    "PersistentVolume",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "StorageClass",
    "PriorityClass",
    "IngressClass",
    "RuntimeClass",
    "CSIDriver",
    "CSINode",
    "VolumeAttachment",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "APIService",
    "CertificateSigningRequest",
    "PodSecurityPolicy",
    "TokenReview",
    "SelfSubjectAccessReview",
    "SelfSubjectRulesReview",
    "SubjectAccessReview",
    "FlowSchema",
    "PriorityLevelConfiguration",
];

/// Whether objects of `kind` live outside namespaces.
pub fn is_cluster_scoped(kind: &str) -> bool {
    CLUSTER_SCOPED.contains(&kind)
}

/// One object to inspect.
#[derive(Debug, Clone, PartialEq)]
pub struct InspectObject {
    /// The object as JSON.
    pub value: Value,
    /// Its identity, with the effective namespace.
    pub resource: Resource,
    /// Where it came from; `None` for live objects.
    pub source: Option<Source>,
    /// The Helm `# Source:` comment of its document, when known.
    pub template_source: Option<String>,
    /// The labels of its pods (template labels of a workload, a Pod's own labels; empty for other kinds),
    /// computed once because selector checks read them many times.
    pub pod_labels: BTreeMap<String, String>,
}

impl InspectObject {
    /// Wraps a JSON object; the namespace defaults to `default_namespace` for namespaced kinds.
    pub fn new(value: Value, source: Option<Source>, default_namespace: &str) -> Self {
        let text = |p: &str| {
            value
                .pointer(p)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let kind = text("/kind");
        let namespace = if is_cluster_scoped(&kind) {
            None
        } else {
            Some(
                value
                    .pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .unwrap_or(default_namespace)
                    .to_owned(),
            )
        };
        let resource = Resource {
            api_version: text("/apiVersion"),
            kind,
            namespace,
            name: text("/metadata/name"),
        };
        let pod_labels = crate::pod::pod_meta_pointer(&resource.kind)
            .and_then(|p| value.pointer(&format!("{p}/labels")))
            .map(crate::pod::string_map)
            .unwrap_or_default();
        Self {
            value,
            resource,
            source,
            template_source: None,
            pod_labels,
        }
    }

    /// The `kind`.
    pub fn kind(&self) -> &str {
        &self.resource.kind
    }

    /// The effective namespace, `""` when cluster-scoped.
    pub fn namespace(&self) -> &str {
        self.resource.namespace.as_deref().unwrap_or("")
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.resource.name
    }

    /// The API group (`""` for the core group).
    pub fn group(&self) -> &str {
        api_group(&self.resource.api_version)
    }
}

/// The group of an `apiVersion` (`apps/v1` → `apps`, `v1` → ``).
pub fn api_group(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

/// The loader's message without the `document N: ` and `invalid YAML: ` prefixes, which the report carries as
/// fields and prints in the spec's `file: document N: line L, column C: message` form.
fn strip_prefixes(message: &str, document: Option<usize>) -> String {
    let mut m = message;
    if let Some(n) = document {
        m = m.strip_prefix(&format!("document {n}: ")).unwrap_or(m);
    }
    m = m.strip_prefix("invalid YAML: ").unwrap_or(m);
    m.to_owned()
}

/// The objects of one inspection, indexed by namespace and kind.
#[derive(Debug, Clone, Default)]
pub struct Bundle {
    objects: Vec<InspectObject>,
    by_ns_kind: HashMap<(String, String), Vec<usize>>,
    by_name: HashMap<(String, String, String), Vec<usize>>,
    workloads_by_label: HashMap<(String, String, String), Vec<usize>>,
    workloads_by_ns: HashMap<String, Vec<usize>>,
    hpa_targets: HashMap<(String, String, String), Vec<usize>>,
    selectors_by_label: HashMap<(String, String, String, String), Vec<usize>>,
    selectors_any: HashMap<(String, String), Vec<usize>>,
    kinds: BTreeSet<String>,
    /// Diagnostics gathered while building the bundle (skipped documents, parse errors).
    pub errors: Vec<RunError>,
    /// Input paths, for the report.
    pub inputs: Vec<String>,
}

impl Bundle {
    /// Builds a bundle from objects (live or already loaded).
    pub fn from_objects(objects: Vec<InspectObject>) -> Self {
        let mut bundle = Self::default();
        for o in objects {
            bundle.push(o);
        }
        bundle
    }

    /// Builds a bundle from what [`ksx_core::manifest`] loaded: every document with `apiVersion` and `kind`
    /// becomes an object; loader diagnostics become `parse`/`input` errors with their file and line, and
    /// documents without `apiVersion`/`kind` are skipped with an `input` error.
    pub fn from_loaded(loaded: &Loaded, default_namespace: &str) -> Self {
        let mut bundle = Self::default();
        for d in &loaded.diagnostics {
            let kind = if d.message.contains("invalid YAML") || d.message.contains("invalid JSON") {
                ErrorKind::Parse
            } else {
                ErrorKind::Input
            };
            bundle.errors.push(RunError {
                kind,
                message: strip_prefixes(&d.message, d.document),
                file: Some(d.file.clone()),
                document: d.document,
                line: d.line,
                column: d.column,
            });
        }
        for doc in &loaded.documents {
            if !doc.value.is_object() || doc.api_version().is_empty() || doc.kind().is_empty() {
                bundle.errors.push(RunError {
                    kind: ErrorKind::Input,
                    message: "document without apiVersion or kind skipped".to_owned(),
                    file: Some(doc.source.file.clone()),
                    document: Some(doc.source.document),
                    line: Some(doc.source.line),
                    column: None,
                });
                continue;
            }
            bundle.push(InspectObject::new(
                doc.value.clone(),
                Some(doc.source.clone()),
                default_namespace,
            ));
        }
        bundle
    }

    /// Adds one object.
    pub fn push(&mut self, object: InspectObject) {
        let i = self.objects.len();
        let ns = object.namespace().to_owned();
        let kind = object.kind().to_owned();
        self.kinds.insert(kind.clone());
        self.by_ns_kind
            .entry((ns.clone(), kind.clone()))
            .or_default()
            .push(i);
        self.by_name
            .entry((ns.clone(), kind.clone(), object.name().to_owned()))
            .or_default()
            .push(i);
        if crate::pod::is_workload(&kind) {
            self.workloads_by_ns.entry(ns.clone()).or_default().push(i);
            for (k, v) in &object.pod_labels {
                self.workloads_by_label
                    .entry((ns.clone(), k.clone(), v.clone()))
                    .or_default()
                    .push(i);
            }
        }
        if kind == "HorizontalPodAutoscaler" {
            let r = object.value.pointer("/spec/scaleTargetRef");
            let s = |k: &str| {
                r.and_then(|r| r.get(k))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned()
            };
            self.hpa_targets
                .entry((ns.clone(), s("kind"), s("name")))
                .or_default()
                .push(i);
        }
        if kind == "PodDisruptionBudget" || kind == "NetworkPolicy" {
            let ptr = if kind == "NetworkPolicy" {
                "/spec/podSelector"
            } else {
                "/spec/selector"
            };
            // Indexed by the first matchLabels pair; selectors without one are checked against every workload.
            let first = object
                .value
                .pointer(&format!("{ptr}/matchLabels"))
                .map(crate::pod::string_map)
                .and_then(|m| m.into_iter().next());
            match first {
                Some((k, v)) => self
                    .selectors_by_label
                    .entry((ns, kind, k, v))
                    .or_default()
                    .push(i),
                None => self.selectors_any.entry((ns, kind)).or_default().push(i),
            }
        }
        self.objects.push(object);
    }

    fn pick(&self, ids: Option<&Vec<usize>>) -> Vec<&InspectObject> {
        ids.into_iter()
            .flatten()
            .filter_map(|&i| self.objects.get(i))
            .collect()
    }

    /// The first object (in input order) of `kind` named `name` in namespace `ns`.
    pub fn find(&self, ns: &str, kind: &str, name: &str) -> Option<&InspectObject> {
        self.by_name
            .get(&(ns.to_owned(), kind.to_owned(), name.to_owned()))
            .and_then(|ids| ids.first())
            .and_then(|&i| self.objects.get(i))
    }

    /// Workloads of `ns` that may carry label `first` (all workloads of `ns` when `None`); callers still check
    /// their full selector.
    pub fn workload_candidates(
        &self,
        ns: &str,
        first: Option<(&str, &str)>,
    ) -> Vec<&InspectObject> {
        match first {
            Some((k, v)) => self.pick(self.workloads_by_label.get(&(
                ns.to_owned(),
                k.to_owned(),
                v.to_owned(),
            ))),
            None => self.pick(self.workloads_by_ns.get(ns)),
        }
    }

    /// HPAs of `ns` whose `scaleTargetRef` names `kind`/`name`.
    pub fn hpas_for(&self, ns: &str, kind: &str, name: &str) -> Vec<&InspectObject> {
        self.pick(
            self.hpa_targets
                .get(&(ns.to_owned(), kind.to_owned(), name.to_owned())),
        )
    }

    /// PodDisruptionBudgets or NetworkPolicies (`kind`) of `ns` that may select pods with `labels`, in input
    /// order; callers still check the full selector.
    pub fn selector_candidates(
        &self,
        ns: &str,
        kind: &str,
        labels: &BTreeMap<String, String>,
    ) -> Vec<&InspectObject> {
        let mut ids: Vec<usize> = self
            .selectors_any
            .get(&(ns.to_owned(), kind.to_owned()))
            .cloned()
            .unwrap_or_default();
        for (k, v) in labels {
            if let Some(more) =
                self.selectors_by_label
                    .get(&(ns.to_owned(), kind.to_owned(), k.clone(), v.clone()))
            {
                ids.extend(more);
            }
        }
        ids.sort_unstable();
        ids.dedup();
        ids.into_iter()
            .filter_map(|i| self.objects.get(i))
            .collect()
    }

    /// All objects, in input order.
    pub fn objects(&self) -> &[InspectObject] {
        &self.objects
    }

    /// Objects of `kind` in namespace `ns` (`""` for cluster-scoped kinds).
    pub fn of_kind<'a>(
        &'a self,
        ns: &str,
        kind: &str,
    ) -> impl Iterator<Item = &'a InspectObject> + 'a {
        self.by_ns_kind
            .get(&(ns.to_owned(), kind.to_owned()))
            .into_iter()
            .flatten()
            .filter_map(|&i| self.objects.get(i))
    }

    /// Objects of `kind` in every namespace.
    pub fn of_kind_anywhere<'a>(
        &'a self,
        kind: &'a str,
    ) -> impl Iterator<Item = &'a InspectObject> + 'a {
        self.objects.iter().filter(move |o| o.kind() == kind)
    }

    /// Whether the bundle holds any object of `kind`.
    pub fn has_kind(&self, kind: &str) -> bool {
        self.kinds.contains(kind)
    }
}
