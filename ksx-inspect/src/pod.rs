//! Reading pod specs out of workloads: the pod spec and template metadata of every workload kind, container
//! sets, effective security context, images and label selectors (spec §4.0).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::bundle::InspectObject;

/// [`Value::pointer`] without its allocations: the same RFC 6901 lookup (`""` is the value itself, `~1` and `~0`
/// unescaped, array indexes without sign or leading zero), but tokens without `~` are not copied. Checks read
/// hundreds of thousands of pointers per run, and `Value::pointer` copies every token twice.
pub trait FastPointer {
    /// The value at `pointer`, as [`Value::pointer`] finds it.
    fn ptr(&self, pointer: &str) -> Option<&Value>;
}

impl FastPointer for Value {
    fn ptr(&self, pointer: &str) -> Option<&Value> {
        if pointer.is_empty() {
            return Some(self);
        }
        let rest = pointer.strip_prefix('/')?;
        let mut target = self;
        for token in rest.split('/') {
            let unescaped;
            let token = if token.contains('~') {
                unescaped = token.replace("~1", "/").replace("~0", "~");
                unescaped.as_str()
            } else {
                token
            };
            target = match target {
                Value::Object(map) => map.get(token)?,
                Value::Array(list) => {
                    if token.starts_with('+') || (token.starts_with('0') && token.len() != 1) {
                        return None;
                    }
                    list.get(token.parse::<usize>().ok()?)?
                }
                _ => return None,
            };
        }
        Some(target)
    }
}

/// The eight workload kinds (W).
pub const WORKLOADS: &[&str] = &[
    "Pod",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "ReplicationController",
    "Job",
    "CronJob",
];

/// Whether `kind` is a workload kind.
pub fn is_workload(kind: &str) -> bool {
    WORKLOADS.contains(&kind)
}

/// Whether `kind` is long-running (W without Job and CronJob).
pub fn is_long_running(kind: &str) -> bool {
    is_workload(kind) && kind != "Job" && kind != "CronJob"
}

/// JSON pointer of the pod spec of a workload kind.
pub fn pod_spec_pointer(kind: &str) -> Option<&'static str> {
    match kind {
        "Pod" => Some("/spec"),
        "CronJob" => Some("/spec/jobTemplate/spec/template/spec"),
        k if is_workload(k) => Some("/spec/template/spec"),
        _ => None,
    }
}

/// JSON pointer of the pod metadata of a workload kind.
pub fn pod_meta_pointer(kind: &str) -> Option<&'static str> {
    match kind {
        "Pod" => Some("/metadata"),
        "CronJob" => Some("/spec/jobTemplate/spec/template/metadata"),
        k if is_workload(k) => Some("/spec/template/metadata"),
        _ => None,
    }
}

/// The pod spec of a workload and its pointer; `Null` when absent.
pub fn pod_spec(obj: &InspectObject) -> Option<(&Value, &'static str)> {
    let ptr = pod_spec_pointer(obj.kind())?;
    Some((obj.value.ptr(ptr).unwrap_or(&Value::Null), ptr))
}

/// The labels of a workload's pods (template labels; a Pod's own labels).
pub fn pod_labels(obj: &InspectObject) -> &BTreeMap<String, String> {
    &obj.pod_labels
}

/// The annotations of a workload's pods.
pub fn pod_annotations(obj: &InspectObject) -> BTreeMap<String, String> {
    pod_meta_pointer(obj.kind())
        .and_then(|p| obj.value.ptr(&format!("{p}/annotations")))
        .map(string_map)
        .unwrap_or_default()
}

/// A JSON object of strings as a map; non-string values are read like `kubectl` would coerce scalars.
pub fn string_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| scalar_string(v).map(|s| (k.clone(), s)))
                .collect()
        })
        .unwrap_or_default()
}

/// A scalar as text (quoted numbers and booleans coerce both ways).
pub fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A boolean, accepting `"true"`/`"false"` strings.
pub fn as_bool(v: Option<&Value>) -> Option<bool> {
    match v? {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s == "true" => Some(true),
        Value::String(s) if s == "false" => Some(false),
        _ => None,
    }
}

/// An integer, accepting quoted integers.
pub fn as_i64(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Which containers a check looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerSet {
    /// initContainers + containers + ephemeralContainers.
    All,
    /// initContainers + containers.
    Run,
    /// containers + init containers with `restartPolicy: Always` (sidecars).
    App,
}

/// One container of a pod spec.
#[derive(Debug, Clone)]
pub struct Container<'a> {
    /// The container object.
    pub value: &'a Value,
    /// Its name, if set.
    pub name: Option<String>,
    /// Pointer from the object root with the container index.
    pub path: String,
    /// The same pointer with the container name in place of the index (for fingerprints).
    pub name_path: String,
}

impl Container<'_> {
    /// A field of the container.
    pub fn get(&self, pointer: &str) -> Option<&Value> {
        self.value.ptr(pointer)
    }

    /// The name, or `#<index path>` for messages.
    pub fn label(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("at {}", self.path))
    }
}

/// The containers of `set` in the pod spec at `spec_ptr`.
pub fn containers<'a>(spec: &'a Value, spec_ptr: &str, set: ContainerSet) -> Vec<Container<'a>> {
    let mut out = Vec::new();
    let lists: &[&str] = match set {
        ContainerSet::All => &["initContainers", "containers", "ephemeralContainers"],
        ContainerSet::Run | ContainerSet::App => &["initContainers", "containers"],
    };
    for list in lists {
        let Some(items) = spec.get(*list).and_then(Value::as_array) else {
            continue;
        };
        for (i, c) in items.iter().enumerate() {
            if !c.is_object() {
                continue;
            }
            if set == ContainerSet::App
                && *list == "initContainers"
                && c.get("restartPolicy").and_then(Value::as_str) != Some("Always")
            {
                continue;
            }
            let name = c.get("name").and_then(Value::as_str).map(str::to_owned);
            let path = format!("{spec_ptr}/{list}/{i}");
            let name_path = match &name {
                Some(n) => format!("{spec_ptr}/{list}/{}", escape_pointer(n)),
                None => path.clone(),
            };
            out.push(Container {
                value: c,
                name,
                path,
                name_path,
            });
        }
    }
    out
}

/// Escapes one JSON-pointer token (RFC 6901).
pub fn escape_pointer(token: &str) -> String {
    if !token.contains(['~', '/']) {
        return token.to_owned();
    }
    token.replace('~', "~0").replace('/', "~1")
}

/// The effective value of a security-context field: the container's when set, else the pod's.
/// Returns the value and its pointer (the container's pointer when neither is set).
pub fn effective_sc<'a>(
    spec: &'a Value,
    spec_ptr: &str,
    c: &Container<'a>,
    field: &str,
) -> (Option<&'a Value>, String) {
    let cptr = format!("/securityContext/{field}");
    if let Some(v) = c.value.ptr(&cptr).filter(|v| !v.is_null()) {
        return (Some(v), format!("{}{cptr}", c.path));
    }
    if let Some(v) = spec.ptr(&cptr).filter(|v| !v.is_null()) {
        return (Some(v), format!("{spec_ptr}{cptr}"));
    }
    (None, format!("{}{cptr}", c.path))
}

/// Whether the pod runs Windows (Linux-only checks skip it).
pub fn is_windows(spec: &Value) -> bool {
    spec.ptr("/os/name").and_then(Value::as_str) == Some("windows")
}

/// An image reference split per the OCI grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// The tag, if any.
    pub tag: Option<String>,
    /// The digest, if any.
    pub digest: Option<String>,
}

impl ImageRef {
    /// Parses `registry:5000/app:tag@sha256:…`.
    pub fn parse(image: &str) -> Self {
        let (rest, digest) = match image.split_once('@') {
            Some((r, d)) => (r, Some(d.to_owned())),
            None => (image, None),
        };
        let last = rest.rsplit('/').next().unwrap_or(rest);
        let tag = last.rsplit_once(':').map(|(_, t)| t.to_owned());
        Self { tag, digest }
    }

    /// Neither tag nor digest, or tag `latest`.
    pub fn is_latest(&self) -> bool {
        match (&self.tag, &self.digest) {
            (None, None) => true,
            (Some(t), _) => t == "latest",
            (None, Some(_)) => false,
        }
    }
}

/// Whether a Kubernetes `LabelSelector` (JSON) selects `labels`. `{}` selects everything; an absent selector
/// nothing.
pub fn label_selector_matches(selector: &Value, labels: &BTreeMap<String, String>) -> bool {
    let Some(sel) = selector.as_object() else {
        return false;
    };
    if let Some(ml) = sel.get("matchLabels") {
        for (k, v) in string_map(ml) {
            if labels.get(&k) != Some(&v) {
                return false;
            }
        }
    }
    if let Some(exprs) = sel.get("matchExpressions").and_then(Value::as_array) {
        for e in exprs {
            let key = e.get("key").and_then(Value::as_str).unwrap_or("");
            let values: Vec<String> = e
                .get("values")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(scalar_string).collect())
                .unwrap_or_default();
            let actual = labels.get(key);
            let ok = match e.get("operator").and_then(Value::as_str).unwrap_or("") {
                "In" => actual.is_some_and(|a| values.contains(a)),
                "NotIn" => actual.is_none_or(|a| !values.contains(a)),
                "Exists" => actual.is_some(),
                "DoesNotExist" => actual.is_none(),
                _ => false,
            };
            if !ok {
                return false;
            }
        }
    }
    true
}

/// Whether an equality-only selector map (Service `spec.selector`) selects `labels`; empty selects nothing.
pub fn map_selector_matches(
    selector: &BTreeMap<String, String>,
    labels: &BTreeMap<String, String>,
) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// A capability name normalised: upper case, `CAP_` prefix stripped.
pub fn normalize_cap(name: &str) -> String {
    let up = name.trim().to_ascii_uppercase();
    up.strip_prefix("CAP_").map(str::to_owned).unwrap_or(up)
}

/// The normalised capabilities of `securityContext.capabilities.<list>` (`add` or `drop`).
pub fn caps(c: &Container<'_>, list: &str) -> Vec<String> {
    c.get(&format!("/securityContext/capabilities/{list}"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(normalize_cap)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images() {
        assert!(ImageRef::parse("nginx").is_latest());
        assert!(ImageRef::parse("registry:5000/app").is_latest());
        assert!(!ImageRef::parse("registry:5000/app:1.2").is_latest());
        assert!(ImageRef::parse("app:latest").is_latest());
        let d = ImageRef::parse("app@sha256:abc");
        assert!(!d.is_latest());
        assert_eq!(d.digest.as_deref(), Some("sha256:abc"));
    }

    #[test]
    fn fast_pointer_agrees_with_value_pointer() {
        let v: Value = serde_json::json!({
            "a": {"b/c": [10, {"d~e": true}], "": 1, "x": [1, 2]},
            "k": null
        });
        for p in [
            "",
            "/",
            "/a",
            "/a/b~1c",
            "/a/b~1c/0",
            "/a/b~1c/1/d~0e",
            "/a/b~1c/01",
            "/a/b~1c/+1",
            "/a/b~1c/2",
            "/a/x/1",
            "/a/x/-1",
            "/k",
            "/k/z",
            "a",
            "/a/",
            "/a/b~c",
            "/missing/x",
        ] {
            assert_eq!(v.ptr(p), v.pointer(p), "pointer {p:?}");
        }
        assert_eq!(v.ptr("/a/b~1c/1/d~0e"), Some(&Value::Bool(true)));
        assert_eq!(v.ptr("/a/"), Some(&serde_json::json!(1)));
    }

    #[test]
    fn escaping_tokens() {
        assert_eq!(escape_pointer("app"), "app");
        assert_eq!(escape_pointer("a/b~c"), "a~1b~0c");
    }

    #[test]
    fn caps_normalise() {
        assert_eq!(normalize_cap("cap_sys_admin"), "SYS_ADMIN");
    }
}
