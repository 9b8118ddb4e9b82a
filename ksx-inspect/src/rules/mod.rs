//! Custom rules in YAML (spec §2.1–§2.5, §2.9): `kind: InspectRule` documents with a match, an optional
//! `forEach`, `when`/`expect` conditions over a JSONPath subset, exact quantity comparisons and message
//! templates. Rules are compiled once by [`load_rules`] (which reports every problem with file, line and column)
//! and evaluated by the engine next to the built-in checks.

pub mod cond;
pub mod load;
pub mod node;
pub mod node_builtin;
pub mod path;
pub mod prometheus;
pub mod template;

use std::collections::BTreeMap;

use serde_json::Value;

pub use load::{RuleError, load_rules};

use crate::bundle::InspectObject;
use crate::checks::Hit;
use crate::engine::glob_matches;
use crate::model::{Category, Severity};
use crate::pod::{self, ContainerSet};
use cond::{Cond, Scope};
use path::Path;
use template::Template;

/// Include/exclude globs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameFilter {
    /// Globs that must match one (empty = all).
    pub include: Vec<String>,
    /// Globs that must match none.
    pub exclude: Vec<String>,
}

impl NameFilter {
    fn allows(&self, name: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|g| glob_matches(g, name)))
            && !self.exclude.iter().any(|g| glob_matches(g, name))
    }
}

/// `spec.match`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Match {
    /// Exact `group/version`s.
    pub api_versions: Vec<String>,
    /// Kinds; `workloads` = the eight workload kinds.
    pub kinds: Vec<String>,
    /// Namespace globs.
    pub namespaces: NameFilter,
    /// Name globs.
    pub names: NameFilter,
    /// A Kubernetes label selector over the object's labels.
    pub label_selector: Option<Value>,
    /// Exact annotations.
    pub annotations: BTreeMap<String, String>,
}

impl Match {
    fn matches(&self, obj: &InspectObject) -> bool {
        let kind_ok = self.kinds.is_empty()
            || self
                .kinds
                .iter()
                .any(|k| k == obj.kind() || (k == "workloads" && pod::is_workload(obj.kind())));
        let labels = pod::string_map(
            obj.value
                .pointer("/metadata/labels")
                .unwrap_or(&Value::Null),
        );
        let annotations = pod::string_map(
            obj.value
                .pointer("/metadata/annotations")
                .unwrap_or(&Value::Null),
        );
        kind_ok
            && (self.api_versions.is_empty()
                || self.api_versions.contains(&obj.resource.api_version))
            && self.namespaces.allows(obj.namespace())
            && self.names.allows(obj.name())
            && self
                .label_selector
                .as_ref()
                .is_none_or(|s| pod::label_selector_matches(s, &labels))
            && self
                .annotations
                .iter()
                .all(|(k, v)| annotations.get(k) == Some(v))
    }
}

/// `spec.forEach`.
#[derive(Debug, Clone, PartialEq)]
pub enum ForEach {
    /// `containers`, `initContainers`, `ephemeralContainers` or `allContainers`.
    Containers(String),
    /// `{path: ...}`.
    Path(Path),
}

/// What a rule inspects (`spec.type`).
#[derive(Debug, Clone)]
pub enum RuleKind {
    /// `object` (default): conditions over Kubernetes objects.
    Object,
    /// `prometheus`: a PromQL query and threshold (spec §2.6).
    Prometheus(Box<prometheus::PromRule>),
    /// `node`: checks run on nodes by `ksx-node-inspect` (spec §2.7).
    Node(Box<node::NodeRule>),
}

/// One test of a Prometheus or node rule, evaluated outside the engine: the resource and its findings (none =
/// passed). Attached to the rule before the engine runs; see [`Rule::observations`].
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// The resource the findings are on (`Node/<name>`, a Pod, `Metric/<rule id>`).
    pub resource: crate::model::Resource,
    /// The findings; empty when the test passed.
    pub hits: Vec<Hit>,
}

/// A compiled custom rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The rule's check ID.
    pub id: String,
    /// Category.
    pub category: Category,
    /// Severity.
    pub severity: Severity,
    /// Enabled by default.
    pub enabled: bool,
    /// Title.
    pub title: String,
    /// Which objects.
    pub matcher: Match,
    /// Optional iteration.
    pub for_each: Option<ForEach>,
    /// Precondition.
    pub when: Option<Cond>,
    /// Desired state.
    pub expect: Cond,
    /// Message template.
    pub message: Option<Template>,
    /// Remediation text.
    pub remediation: String,
    /// Links.
    pub references: Vec<String>,
    /// The rule file.
    pub file: String,
    /// The rule's type and its type-specific part.
    pub kind: RuleKind,
    /// Results of a Prometheus or node rule gathered before the run (unused by object rules).
    pub observations: Vec<Observation>,
}

fn set_of(name: &str) -> (ContainerSet, Option<&'static str>) {
    match name {
        "containers" => (ContainerSet::Run, Some("containers")),
        "initContainers" => (ContainerSet::Run, Some("initContainers")),
        "ephemeralContainers" => (ContainerSet::All, Some("ephemeralContainers")),
        _ => (ContainerSet::All, None),
    }
}

impl Rule {
    /// Evaluates the rule on one object: `None` when it does not apply (no test), else its findings.
    pub fn evaluate(&self, obj: &InspectObject) -> Option<Vec<Hit>> {
        if !matches!(self.kind, RuleKind::Object) {
            return self.observed(obj);
        }
        if !self.matcher.matches(obj) {
            return None;
        }
        let null = Value::Null;
        let (pod_spec, pod_ptr) = pod::pod_spec(obj).unwrap_or((&null, ""));
        let meta_ptr = pod::pod_meta_pointer(obj.kind()).unwrap_or("/metadata");
        let pod_meta = obj.value.pointer(meta_ptr).unwrap_or(&null);
        let base = Scope {
            object: &obj.value,
            current: (&obj.value, ""),
            pod: (pod_spec, pod_ptr),
            pod_meta: (pod_meta, meta_ptr),
        };
        let mut hits = Vec::new();
        let mut applied = false;
        match &self.for_each {
            None => {
                if self.when.as_ref().is_some_and(|w| w.check(&base).is_err()) {
                    return None;
                }
                applied = true;
                if let Err(f) = self.expect.check(&base) {
                    hits.push(Hit::at(f.path.clone(), self.render(obj, None, None, &f)));
                }
            }
            Some(ForEach::Containers(set)) => {
                let (s, only) = set_of(set);
                for c in pod::containers(pod_spec, pod_ptr, s) {
                    if only.is_some_and(|l| !c.path.starts_with(&format!("{pod_ptr}/{l}/"))) {
                        continue;
                    }
                    let scope = Scope {
                        current: (c.value, c.path.as_str()),
                        ..base
                    };
                    if self.when.as_ref().is_some_and(|w| w.check(&scope).is_err()) {
                        continue;
                    }
                    applied = true;
                    if let Err(f) = self.expect.check(&scope) {
                        let message = self.render(obj, Some(c.value), Some(c.value), &f);
                        hits.push(Hit::container_abs(&c, f.path.clone(), message));
                    }
                }
            }
            Some(ForEach::Path(p)) => {
                for (ptr, item) in p.eval(&obj.value, "") {
                    let scope = Scope {
                        current: (item, ptr.as_str()),
                        ..base
                    };
                    if self.when.as_ref().is_some_and(|w| w.check(&scope).is_err()) {
                        continue;
                    }
                    applied = true;
                    if let Err(f) = self.expect.check(&scope) {
                        hits.push(Hit::at(
                            f.path.clone(),
                            self.render(obj, None, Some(item), &f),
                        ));
                    }
                }
            }
        }
        applied.then_some(hits)
    }

    /// The attached observations on `obj`: `None` when there is none (no test).
    fn observed(&self, obj: &InspectObject) -> Option<Vec<Hit>> {
        let mut found = false;
        let mut hits = Vec::new();
        for o in &self.observations {
            if o.resource.kind == obj.resource.kind
                && o.resource.name == obj.resource.name
                && o.resource.namespace == obj.resource.namespace
            {
                found = true;
                hits.extend(o.hits.iter().cloned());
            }
        }
        found.then_some(hits)
    }

    /// Objects for the observed resources that `bundle` lacks (a Node or Pod that was not inspected,
    /// `Metric/<rule id>`), so that their tests still count; the engine evaluates them like bundle objects.
    pub fn detached_objects(&self, bundle: &crate::bundle::Bundle) -> Vec<InspectObject> {
        let mut out: Vec<InspectObject> = Vec::new();
        for o in &self.observations {
            let r = &o.resource;
            let ns = r.namespace.as_deref().unwrap_or("");
            // Live scope: a manifest object of the same name does not stand in for the live resource.
            if bundle
                .find(ns, &r.kind, &r.name)
                .is_some_and(|o| o.source.is_none())
                || out.iter().any(|d| d.resource == *r)
            {
                continue;
            }
            let mut meta = serde_json::Map::new();
            meta.insert("name".to_owned(), Value::String(r.name.clone()));
            if let Some(ns) = &r.namespace {
                meta.insert("namespace".to_owned(), Value::String(ns.clone()));
            }
            let value = serde_json::json!({
                "apiVersion": r.api_version,
                "kind": r.kind,
                "metadata": meta,
            });
            let mut obj = InspectObject::new(value, None, ns);
            obj.resource = r.clone();
            out.push(obj);
        }
        out
    }

    fn render(
        &self,
        obj: &InspectObject,
        container: Option<&Value>,
        item: Option<&Value>,
        f: &cond::Failure,
    ) -> String {
        let mut text = match &self.message {
            Some(t) => {
                let vars = BTreeMap::from([
                    ("object", obj.value.clone()),
                    ("kind", Value::String(obj.kind().to_owned())),
                    ("namespace", Value::String(obj.namespace().to_owned())),
                    ("name", Value::String(obj.name().to_owned())),
                    ("container", container.cloned().unwrap_or(Value::Null)),
                    (
                        "item",
                        f.item
                            .clone()
                            .or_else(|| item.cloned())
                            .unwrap_or(Value::Null),
                    ),
                    ("value", f.value.clone().unwrap_or(Value::Null)),
                    ("path", Value::String(f.path.clone())),
                ]);
                t.render(&vars)
            }
            None => format!(
                "{} {} fails rule {} at {}",
                obj.kind(),
                obj.name(),
                self.id,
                f.path
            ),
        };
        // A non-numeric value under a quantity comparison is named so the finding says why it failed.
        if let Some(v) = &f.value
            && cond::quantity(v).is_none()
            && self.message.is_none()
        {
            text.push_str(&format!(" (value {v})"));
        }
        text
    }
}

/// Reads the rule files under `dirs` (recursive, `*.yaml`/`*.yml`, sorted, hidden entries skipped) as
/// `(path, text)` pairs for [`load_rules`]; a file may also be named directly. This is the only I/O of rules.
///
/// # Errors
/// One [`RuleError`] per unreadable path.
pub fn read_rule_files<P: AsRef<std::path::Path>>(
    dirs: &[P],
) -> Result<Vec<(String, String)>, Vec<RuleError>> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for dir in dirs {
        collect(dir.as_ref(), &mut files, &mut errors);
    }
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let name = f.display().to_string();
        match std::fs::read_to_string(&f) {
            Ok(text) => out.push((name, text)),
            Err(e) => errors.push(io_error(&name, &e)),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn io_error(file: &str, e: &std::io::Error) -> RuleError {
    RuleError {
        file: file.to_owned(),
        line: 1,
        column: 1,
        subject: "document 1".to_owned(),
        problem: format!("cannot read: {e}"),
    }
}

fn collect(
    path: &std::path::Path,
    files: &mut Vec<std::path::PathBuf>,
    errors: &mut Vec<RuleError>,
) {
    let name = path.display().to_string();
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => return errors.push(io_error(&name, &e)),
    };
    if meta.is_file() {
        files.push(path.to_path_buf());
        return;
    }
    let entries = match std::fs::read_dir(path) {
        Ok(e) => e,
        Err(e) => return errors.push(io_error(&name, &e)),
    };
    for entry in entries.flatten() {
        let p = entry.path();
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if file_name.starts_with('.') {
            continue;
        }
        let is_symlink = entry.file_type().is_ok_and(|t| t.is_symlink());
        if p.is_dir() {
            if !is_symlink {
                collect(&p, files, errors);
            }
        } else {
            let lower = file_name.to_ascii_lowercase();
            if lower.ends_with(".yaml") || lower.ends_with(".yml") {
                files.push(p);
            }
        }
    }
}
