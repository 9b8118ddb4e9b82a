//! The set of objects inspected together, and the per-namespace index that cross-object checks use.
//!
//! Objects are generic JSON trees (spec intro): one odd field never hides a whole object. The index groups
//! objects by (effective namespace, kind) so reference checks look at the few candidates of one namespace
//! instead of scanning the whole bundle.

use crate::pod::FastPointer as _;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use ksx_core::manifest::{Document, Loaded, Source};
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
                .ptr(p)
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
                    .ptr("/metadata/namespace")
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
            .and_then(|p| value.ptr(&format!("{p}/labels")))
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

/// What one load turns into: loader diagnostics, skipped documents and objects, each in input order.
struct Converted {
    diagnostics: Vec<RunError>,
    skipped: Vec<RunError>,
    objects: Vec<InspectObject>,
}

impl Converted {
    fn diagnostics(loaded: &Loaded) -> Vec<RunError> {
        loaded
            .diagnostics
            .iter()
            .map(|d| RunError {
                kind: if d.message.contains("invalid YAML") || d.message.contains("invalid JSON") {
                    ErrorKind::Parse
                } else {
                    ErrorKind::Input
                },
                message: strip_prefixes(&d.message, d.document),
                file: Some(d.file.clone()),
                document: d.document,
                line: d.line,
                column: d.column,
            })
            .collect()
    }

    /// The error of a document without `apiVersion` or `kind`, `None` for one that becomes an object.
    fn skip(doc: &Document) -> Option<RunError> {
        (!doc.value.is_object() || doc.api_version().is_empty() || doc.kind().is_empty()).then(
            || RunError {
                kind: ErrorKind::Input,
                message: "document without apiVersion or kind skipped".to_owned(),
                file: Some(doc.source.file.clone()),
                document: Some(doc.source.document),
                line: Some(doc.source.line),
                column: None,
            },
        )
    }

    fn from_loaded(loaded: &Loaded, default_namespace: &str) -> Self {
        let mut out = Self {
            diagnostics: Self::diagnostics(loaded),
            skipped: Vec::new(),
            objects: Vec::new(),
        };
        for doc in &loaded.documents {
            match Self::skip(doc) {
                Some(e) => out.skipped.push(e),
                None => out.objects.push(InspectObject::new(
                    doc.value.clone(),
                    Some(doc.source.clone()),
                    default_namespace,
                )),
            }
        }
        out
    }

    fn from_owned(loaded: Loaded, default_namespace: &str) -> Self {
        let mut out = Self {
            diagnostics: Self::diagnostics(&loaded),
            skipped: Vec::new(),
            objects: Vec::with_capacity(loaded.documents.len()),
        };
        for doc in loaded.documents {
            match Self::skip(&doc) {
                Some(e) => out.skipped.push(e),
                None => out.objects.push(InspectObject::new(
                    doc.value,
                    Some(doc.source),
                    default_namespace,
                )),
            }
        }
        out
    }
}

/// The files under `path` as [`ksx_core::manifest::load_paths`] walks them: `path` itself when it is not a
/// directory, else `*.yaml`, `*.yml` and `*.json` below it, recursively, in sorted order.
fn collect_files(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if !std::fs::metadata(path)?.is_dir() {
        out.push(path.to_owned());
        return Ok(());
    }
    // With the entry's type from the directory listing: `Path::is_dir` (which follows links) only for links.
    let mut entries: Vec<(PathBuf, Option<std::fs::FileType>)> = std::fs::read_dir(path)?
        .filter_map(|e| e.ok().map(|e| (e.path(), e.file_type().ok())))
        .collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (entry, file_type) in entries {
        let is_dir = match file_type {
            Some(t) if !t.is_symlink() => t.is_dir(),
            _ => entry.is_dir(),
        };
        if is_dir {
            collect_files(&entry, out)?;
        } else if matches!(
            entry.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml" | "json")
        ) {
            out.push(entry);
        }
    }
    Ok(())
}

/// `f` over `items` on every core, results in input order. Workers take small batches from a shared counter,
/// so one slow item (a huge file) or one busy core does not hold the others back.
pub(crate) fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    const BATCH: usize = 8;
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(items.len().div_ceil(BATCH));
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let mut done: Vec<(usize, Vec<R>)> = Vec::new();
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let start = next.fetch_add(BATCH, Ordering::Relaxed);
                        let Some(batch) = items.get(start..(start + BATCH).min(items.len())) else {
                            break;
                        };
                        if batch.is_empty() {
                            break;
                        }
                        mine.push((start, batch.iter().map(&f).collect::<Vec<R>>()));
                    }
                    mine
                })
            })
            .collect();
        for w in workers {
            match w.join() {
                Ok(mine) => done.extend(mine),
                // A panic in `f` is a bug; it reaches the caller as it would without threads.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    });
    done.sort_unstable_by_key(|(start, _)| *start);
    done.into_iter().flat_map(|(_, r)| r).collect()
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
    by_kind: HashMap<String, Vec<usize>>,
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
        bundle.add_loaded(Converted::from_loaded(loaded, default_namespace));
        bundle
    }

    /// Loads files and directories like [`ksx_core::manifest::load_paths`] and builds the bundle as
    /// [`Bundle::from_loaded`] would, with the same objects and errors in the same order, but reads, parses and
    /// converts the files in parallel (spec §8) and moves each document into its object instead of copying it.
    pub fn load_paths<P: AsRef<Path>>(paths: &[P], default_namespace: &str) -> Self {
        let mut parts: Vec<Converted> = Vec::new();
        for path in paths {
            let path = path.as_ref();
            let files = if path == Path::new("-") {
                None
            } else {
                let mut files = Vec::new();
                collect_files(path, &mut files).ok().map(|()| files)
            };
            match files {
                Some(files) => parts.extend(parallel_map(&files, |file| {
                    let loaded = match std::fs::read_to_string(file) {
                        Ok(text) => {
                            ksx_core::manifest::parse_str(&file.display().to_string(), &text)
                        }
                        // The loader reads it again and words the diagnostic its own way.
                        Err(_) => ksx_core::manifest::load_paths(std::slice::from_ref(file)),
                    };
                    Converted::from_owned(loaded, default_namespace)
                })),
                // Standard input, and paths the walk stumbles on: the loader itself reads them, so its
                // diagnostics stay exactly its own.
                None => parts.push(Converted::from_owned(
                    ksx_core::manifest::load_paths(&[path]),
                    default_namespace,
                )),
            }
        }
        let mut bundle = Self::default();
        let mut skipped = Vec::new();
        for part in parts {
            bundle.errors.extend(part.diagnostics);
            skipped.extend(part.skipped);
            for o in part.objects {
                bundle.push(o);
            }
        }
        bundle.errors.extend(skipped);
        bundle
    }

    fn add_loaded(&mut self, part: Converted) {
        self.errors.extend(part.diagnostics);
        self.errors.extend(part.skipped);
        for o in part.objects {
            self.push(o);
        }
    }

    /// Adds one object.
    pub fn push(&mut self, object: InspectObject) {
        let i = self.objects.len();
        let ns = object.namespace().to_owned();
        let kind = object.kind().to_owned();
        self.by_kind.entry(kind.clone()).or_default().push(i);
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
            let r = object.value.ptr("/spec/scaleTargetRef");
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
                .ptr(&format!("{ptr}/matchLabels"))
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
        self.by_kind
            .get(kind)
            .into_iter()
            .flatten()
            .filter_map(|&i| self.objects.get(i))
    }

    /// Whether the bundle holds any object of `kind`.
    pub fn has_kind(&self, kind: &str) -> bool {
        self.by_kind.contains_key(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
        std::fs::write(path, text).expect("write");
    }

    #[test]
    fn parallel_load_matches_the_loader() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        // Enough files for several worker batches, nested, with a bad document, a skipped one, a List and a
        // file the walk must ignore.
        for i in 0..40 {
            write(
                &root.join(format!("ns-{}/app-{i:02}.yaml", i % 3)),
                &format!(
                    "apiVersion: v1\nkind: Service\nmetadata: {{name: s{i}}}\n---\n\
                     apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: d{i}, namespace: x}}\n"
                ),
            );
        }
        write(
            &root.join("ns-1/broken.yml"),
            "kind: [oops\n---\nfoo: bar\n",
        );
        write(
            &root.join("list.json"),
            r#"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}]}"#,
        );
        write(&root.join("notes.txt"), "apiVersion: v1\nkind: Secret\n");
        let single = root.join("ns-0/app-00.yaml");
        let paths = [root.to_path_buf(), single.clone()];

        let expected = Bundle::from_loaded(&ksx_core::manifest::load_paths(&paths), "team");
        let got = Bundle::load_paths(&paths, "team");
        assert_eq!(got.objects(), expected.objects());
        assert_eq!(got.errors, expected.errors);
        // 40 files × 2 objects, the List's item, and the single file's two objects again.
        assert_eq!(got.objects().len(), 83);
        assert!(got.errors.iter().any(|e| e.kind == ErrorKind::Parse));
        assert!(
            got.errors
                .iter()
                .any(|e| e.message == "document without apiVersion or kind skipped")
        );
        assert_eq!(
            got.find("team", "Service", "s7").map(InspectObject::name),
            Some("s7")
        );

        let missing = [root.join("nope")];
        let expected = Bundle::from_loaded(&ksx_core::manifest::load_paths(&missing), "team");
        assert_eq!(Bundle::load_paths(&missing, "team").errors, expected.errors);
        assert_eq!(expected.errors.len(), 1);
    }

    #[test]
    fn parallel_map_keeps_input_order() {
        let items: Vec<u64> = (0..1000).collect();
        let out = parallel_map(&items, |&i| {
            // Uneven work, so batches finish out of order.
            std::hint::black_box((0..(i % 7) * 1000).sum::<u64>());
            i * 2
        });
        let doubled: Vec<u64> = items.iter().map(|i| i * 2).collect();
        assert_eq!(out, doubled);
        assert!(parallel_map(&[] as &[u64], |&i| i).is_empty());
    }
}
