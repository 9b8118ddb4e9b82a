//! RBAC checks (spec §4.5).

use crate::pod::FastPointer as _;
use serde_json::Value;

use super::{Ctx, Hit};
use crate::bundle::InspectObject;

const ALL_VERBS: &[&str] = &[
    "get", "list", "watch", "create", "update", "patch", "delete",
];

fn is_default_name(ctx: &Ctx<'_>, name: &str) -> bool {
    !ctx.opt_bool("includeDefaultRoles", false)
        && (matches!(
            name,
            "cluster-admin" | "admin" | "edit" | "view" | "gce:podsecuritypolicy:calico-sa"
        ) || name.starts_with("system:"))
}

fn strings<'a>(rule: &'a Value, key: &str) -> Vec<&'a str> {
    rule.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

/// Whether a policy rule grants `verb` on `group`/`resource` (`*` matches anything, `pods/*` subresources).
fn grants(rule: &Value, group: &str, resource: &str, verb: &str) -> bool {
    let groups = strings(rule, "apiGroups");
    let resources = strings(rule, "resources");
    let verbs = strings(rule, "verbs");
    let base = resource.split('/').next().unwrap_or(resource);
    groups.iter().any(|g| *g == "*" || *g == group)
        && verbs.iter().any(|v| *v == "*" || *v == verb)
        && resources.iter().any(|r| {
            *r == "*" || *r == resource || (resource.contains('/') && *r == format!("{base}/*"))
        })
}

fn rules(obj: &InspectObject) -> impl Iterator<Item = (usize, &Value)> {
    obj.value
        .get("rules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
}

fn is_role(obj: &InspectObject) -> bool {
    matches!(obj.kind(), "Role" | "ClusterRole")
}

fn is_binding(obj: &InspectObject) -> bool {
    matches!(obj.kind(), "RoleBinding" | "ClusterRoleBinding")
}

/// The role a binding references, if in the bundle: `Some(Some(role))` found, `Some(None)` absent.
fn bound_role<'a>(
    ctx: &Ctx<'a>,
    binding: &InspectObject,
) -> (String, String, Option<&'a InspectObject>) {
    let kind = binding
        .value
        .ptr("/roleRef/kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let name = binding
        .value
        .ptr("/roleRef/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let ns = if kind == "Role" {
        binding.namespace()
    } else {
        ""
    };
    let role = ctx.bundle.find(ns, &kind, &name);
    (kind, name, role)
}

fn is_admin_rule(rule: &Value) -> bool {
    let verbs = strings(rule, "verbs");
    strings(rule, "apiGroups").contains(&"*")
        && strings(rule, "resources").contains(&"*")
        && (verbs.contains(&"*") || ALL_VERBS.iter().all(|v| verbs.contains(v)))
}

pub(super) fn cluster_admin_binding(ctx: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    if !is_binding(obj) || is_default_name(ctx, obj.name()) {
        return None;
    }
    let (kind, name, role) = bound_role(ctx, obj);
    let mut hits = Vec::new();
    if kind == "ClusterRole" && name == "cluster-admin" {
        hits.push(Hit::at(
            "/roleRef/name",
            format!("{} {} grants cluster-admin", obj.kind(), obj.name()),
        ));
    } else if role.is_some_and(|r| rules(r).any(|(_, rule)| is_admin_rule(rule))) {
        hits.push(Hit::at(
            "/roleRef/name",
            format!(
                "{} {} binds {kind} {name}, which grants every verb on every resource",
                obj.kind(),
                obj.name()
            ),
        ));
    }
    Some(hits)
}

pub(super) fn escalation_verbs(ctx: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    if !is_role(obj) || is_default_name(ctx, obj.name()) {
        return None;
    }
    let mut hits = Vec::new();
    for (i, rule) in rules(obj) {
        let mut found = Vec::new();
        for verb in ["escalate", "bind"] {
            if ["roles", "clusterroles"]
                .iter()
                .any(|r| grants(rule, "rbac.authorization.k8s.io", r, verb))
            {
                found.push(verb);
            }
        }
        let imp = ["users", "groups", "serviceaccounts"]
            .iter()
            .any(|r| grants(rule, "", r, "impersonate"))
            || grants(rule, "authentication.k8s.io", "userextras", "impersonate");
        if imp {
            found.push("impersonate");
        }
        if !found.is_empty() {
            hits.push(Hit::at(
                format!("/rules/{i}"),
                format!("rule {i} grants {}", found.join(", ")),
            ));
        }
    }
    Some(hits)
}

fn grants_exec(role: &InspectObject) -> bool {
    rules(role).any(|(_, rule)| {
        ["pods/exec", "pods/attach"]
            .iter()
            .any(|r| grants(rule, "", r, "create") || grants(rule, "", r, "get"))
    })
}

pub(super) fn pod_exec_attach(ctx: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    let mut hits = Vec::new();
    if is_role(obj) {
        if is_default_name(ctx, obj.name()) {
            return None;
        }
        for (i, rule) in rules(obj) {
            if ["pods/exec", "pods/attach"]
                .iter()
                .any(|r| grants(rule, "", r, "create") || grants(rule, "", r, "get"))
            {
                hits.push(Hit::at(
                    format!("/rules/{i}"),
                    format!("rule {i} grants exec or attach into pods"),
                ));
            }
        }
        return Some(hits);
    }
    if !is_binding(obj) || is_default_name(ctx, obj.name()) {
        return None;
    }
    let (kind, name, role) = bound_role(ctx, obj);
    let builtin =
        kind == "ClusterRole" && matches!(name.as_str(), "admin" | "edit" | "cluster-admin");
    let bad = match role {
        Some(r) => grants_exec(r),
        None if builtin => true,
        None => {
            if !ctx.checks_refs_to(&kind) {
                return None;
            }
            true
        }
    };
    if bad {
        let why = if role.is_none() && !builtin {
            " (not in the bundle, so it may)"
        } else {
            ""
        };
        hits.push(Hit::at(
            "/roleRef/name",
            format!(
                "{} {} binds {kind} {name}, which grants exec or attach into pods{why}",
                obj.kind(),
                obj.name()
            ),
        ));
    }
    Some(hits)
}

pub(super) fn wildcard_rules(ctx: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    if !is_role(obj) || is_default_name(ctx, obj.name()) {
        return None;
    }
    let mut hits = Vec::new();
    for (i, rule) in rules(obj) {
        let fields: Vec<&str> = ["apiGroups", "resources", "verbs", "nonResourceURLs"]
            .into_iter()
            .filter(|f| strings(rule, f).contains(&"*"))
            .collect();
        if !fields.is_empty() {
            hits.push(Hit::at(
                format!("/rules/{i}"),
                format!("rule {i} uses * in {}", fields.join(", ")),
            ));
        }
    }
    Some(hits)
}

pub(super) fn secrets_read(ctx: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    if !is_role(obj) || is_default_name(ctx, obj.name()) {
        return None;
    }
    let mut hits = Vec::new();
    for (i, rule) in rules(obj) {
        let verbs: Vec<&str> = ["get", "list", "watch"]
            .into_iter()
            .filter(|v| grants(rule, "", "secrets", v))
            .collect();
        if !verbs.is_empty() {
            hits.push(Hit::at(
                format!("/rules/{i}"),
                format!("rule {i} grants {} on secrets", verbs.join(", ")),
            ));
        }
    }
    Some(hits)
}

pub(super) fn default_sa_bound(ctx: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    if !is_binding(obj) || is_default_name(ctx, obj.name()) {
        return None;
    }
    let mut hits = Vec::new();
    let subjects = obj.value.get("subjects").and_then(Value::as_array);
    for (i, s) in subjects.into_iter().flatten().enumerate() {
        if s.get("kind").and_then(Value::as_str) == Some("ServiceAccount")
            && s.get("name").and_then(Value::as_str) == Some("default")
        {
            let ns = s
                .get("namespace")
                .and_then(Value::as_str)
                .unwrap_or(obj.namespace());
            hits.push(Hit::at(
                format!("/subjects/{i}"),
                format!("binds ServiceAccount {ns}/default"),
            ));
        }
    }
    Some(hits)
}
