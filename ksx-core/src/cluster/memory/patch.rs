//! Patches and scaling: JSON merge patch (RFC 7386) applied to an object's JSON, with the rules the API server
//! keeps (name and namespace fixed, status only through the status subresource, generation bumped on spec changes).

use serde_json::Value;

use super::state::State;
use super::store::namespace_key;
use crate::cluster::{Kind, Object, Patch, unsupported};
use crate::error::{Error, Result, object_key};

/// Applies a JSON merge patch (RFC 7386) to `target`: objects merge key by key, `null` deletes a key, anything
/// else replaces.
pub(super) fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(entries) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    if let Value::Object(map) = target {
        for (key, value) in entries {
            if value.is_null() {
                map.remove(key);
            } else {
                merge_patch(map.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

/// Whether a kind has a status subresource.
fn has_status(kind: &Kind) -> bool {
    !matches!(
        kind,
        Kind::ConfigMap | Kind::Secret | Kind::Event | Kind::Lease | Kind::EndpointSlice
    )
}

/// Patches an object's spec and metadata (`status == false`) or only its status (`status == true`).
pub(super) fn patch(
    st: &mut State,
    kind: &Kind,
    namespace: Option<&str>,
    name: &str,
    patch: &Patch,
    status: bool,
) -> Result<Object> {
    let ns = namespace_key(kind, namespace);
    let key = object_key(Some(&ns), name);
    if status && !has_status(kind) {
        return Err(unsupported(kind, Some(&ns), name, "the status subresource"));
    }
    let Some(old) = st.store.get(kind, &ns, name) else {
        return Err(Error::not_found(kind.to_string(), namespace, name));
    };
    let Patch::Merge(value) = patch;
    let old_json = old.to_json()?;
    let mut patched = old_json.clone();
    merge_patch(&mut patched, value);
    let meta_text = |v: &Value, field: &str| {
        v.get("metadata")
            .and_then(|m| m.get(field))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    for field in ["name", "namespace"] {
        if meta_text(&patched, field) != meta_text(&old_json, field) {
            return Err(Error::Invalid {
                kind: kind.to_string(),
                object: key,
                reason: format!("metadata.{field} cannot be changed by a patch"),
            });
        }
    }
    let mut result = if status {
        let mut result = old_json.clone();
        if let Some(map) = result.as_object_mut() {
            match patched.get("status") {
                Some(s) => map.insert("status".to_owned(), s.clone()),
                None => map.remove("status"),
            };
        }
        result
    } else {
        if let Some(map) = patched.as_object_mut() {
            match old_json.get("status") {
                Some(s) => map.insert("status".to_owned(), s.clone()),
                None => map.remove("status"),
            };
        }
        patched
    };
    // Server-owned metadata stays as stored.
    for field in ["uid", "creationTimestamp", "generation", "resourceVersion"] {
        if let Some(meta) = result.get_mut("metadata").and_then(Value::as_object_mut) {
            match old_json.get("metadata").and_then(|m| m.get(field)) {
                Some(v) => meta.insert(field.to_owned(), v.clone()),
                None => meta.remove(field),
            };
        }
    }
    let spec_changed = result.get("spec") != old_json.get("spec");
    let mut object = Object::from_json(kind, result).map_err(|e| Error::Invalid {
        kind: kind.to_string(),
        object: key.clone(),
        reason: format!("the patched object is not valid: {e}"),
    })?;
    if spec_changed && let Some(g) = object.metadata().generation {
        object.metadata_mut().generation = Some(g + 1);
    }
    Ok(st.overwrite(object))
}

/// Sets `spec.replicas` of a Deployment, StatefulSet or ReplicaSet.
pub(super) fn scale(
    st: &mut State,
    kind: &Kind,
    namespace: &str,
    name: &str,
    replicas: i32,
) -> Result<()> {
    if !kind.has_scale() {
        return Err(unsupported(
            kind,
            Some(namespace),
            name,
            "the scale subresource",
        ));
    }
    if replicas < 0 {
        return Err(Error::InvalidField {
            object: object_key(Some(namespace), name),
            field: "spec.replicas".to_owned(),
            reason: format!("must not be negative, got {replicas}"),
        });
    }
    if !st.store.contains(kind, namespace, name) {
        return Err(Error::not_found(kind.to_string(), Some(namespace), name));
    }
    st.store.update(kind, namespace, name, |object| {
        let current = match object {
            Object::Deployment(d) => &mut d.spec.get_or_insert_default().replicas,
            Object::StatefulSet(s) => &mut s.spec.get_or_insert_default().replicas,
            Object::ReplicaSet(r) => &mut r.spec.get_or_insert_default().replicas,
            _ => return,
        };
        if *current != Some(replicas) {
            *current = Some(replicas);
            let meta = object.metadata_mut();
            meta.generation = Some(meta.generation.unwrap_or(1) + 1);
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The RFC 7386 appendix examples.
    #[test]
    fn merge_patch_follows_rfc_7386() {
        let cases = [
            (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
            (
                json!({"a": "b"}),
                json!({"b": "c"}),
                json!({"a": "b", "b": "c"}),
            ),
            (json!({"a": "b"}), json!({"a": null}), json!({})),
            (
                json!({"a": "b", "b": "c"}),
                json!({"a": null}),
                json!({"b": "c"}),
            ),
            (json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "c"}), json!({"a": ["b"]}), json!({"a": ["b"]})),
            (
                json!({"a": {"b": "c"}}),
                json!({"a": {"b": "d", "c": null}}),
                json!({"a": {"b": "d"}}),
            ),
            (
                json!({"a": [{"b": "c"}]}),
                json!({"a": [1]}),
                json!({"a": [1]}),
            ),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a": "b"}), json!(["c"]), json!(["c"])),
            (json!({"a": "foo"}), json!(null), json!(null)),
            (json!({"a": "foo"}), json!("bar"), json!("bar")),
            (
                json!({"e": null}),
                json!({"a": 1}),
                json!({"e": null, "a": 1}),
            ),
            (
                json!([1, 2]),
                json!({"a": "b", "c": null}),
                json!({"a": "b"}),
            ),
            (
                json!({}),
                json!({"a": {"bb": {"ccc": null}}}),
                json!({"a": {"bb": {}}}),
            ),
        ];
        for (mut target, patch, expected) in cases {
            merge_patch(&mut target, &patch);
            assert_eq!(target, expected, "patch {patch}");
        }
    }
}
