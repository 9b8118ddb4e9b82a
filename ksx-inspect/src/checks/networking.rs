//! Networking checks (spec §4.4).

use crate::pod::FastPointer as _;
use std::collections::BTreeMap;

use serde_json::Value;

use super::{Ctx, Hit};
use crate::bundle::InspectObject;
use crate::pod::{self, as_bool, as_i64, label_selector_matches, pod_labels, string_map};

/// A service backend of an Ingress: (pointer, service name, port as number or name).
fn ingress_backends(obj: &InspectObject) -> Vec<(String, String, Option<Value>)> {
    let mut out = Vec::new();
    let mut push = |ptr: String, b: &Value| {
        if let Some(svc) = b.get("service") {
            let name = svc
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let port = svc
                .get("port")
                .and_then(|p| p.get("number").or_else(|| p.get("name")))
                .cloned();
            out.push((format!("{ptr}/service"), name, port));
        } else if let Some(name) = b.get("serviceName").and_then(Value::as_str) {
            out.push((
                format!("{ptr}/serviceName"),
                name.to_owned(),
                b.get("servicePort").cloned(),
            ));
        }
    };
    for key in ["defaultBackend", "backend"] {
        if let Some(b) = obj.value.ptr(&format!("/spec/{key}")) {
            push(format!("/spec/{key}"), b);
        }
    }
    let rules = obj.value.ptr("/spec/rules").and_then(Value::as_array);
    for (i, r) in rules.into_iter().flatten().enumerate() {
        let paths = r.ptr("/http/paths").and_then(Value::as_array);
        for (j, p) in paths.into_iter().flatten().enumerate() {
            if let Some(b) = p.get("backend") {
                push(format!("/spec/rules/{i}/http/paths/{j}/backend"), b);
            }
        }
    }
    out
}

pub(super) fn ingress_backend_exists(ctx: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    if obj.kind() != "Ingress" || !ctx.checks_refs_to("Service") {
        return None;
    }
    let mut hits = Vec::new();
    for (ptr, name, port) in ingress_backends(obj) {
        let Some(svc) = ctx.bundle.find(obj.namespace(), "Service", &name) else {
            hits.push(Hit::at(
                ptr,
                format!(
                    "backend Service {name} is not in namespace {}",
                    obj.namespace()
                ),
            ));
            continue;
        };
        let ports: Vec<&Value> = svc
            .value
            .ptr("/spec/ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .collect();
        let matches = match &port {
            None => true,
            Some(p) => match as_i64(Some(p)) {
                Some(n) => ports.iter().any(|sp| as_i64(sp.get("port")) == Some(n)),
                None => {
                    let pname = p.as_str().unwrap_or("");
                    ports
                        .iter()
                        .any(|sp| sp.get("name").and_then(Value::as_str) == Some(pname))
                }
            },
        };
        if !matches {
            let shown = port
                .as_ref()
                .and_then(pod::scalar_string)
                .unwrap_or_default();
            hits.push(Hit::at(ptr, format!("Service {name} has no port {shown}")));
        }
    }
    Some(hits)
}

fn host_covered(host: &str, tls_hosts: &[String]) -> bool {
    tls_hosts.iter().any(|t| {
        t == host
            || t.strip_prefix("*.").is_some_and(|suffix| {
                host.split_once('.')
                    .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix)
            })
    })
}

pub(super) fn ingress_tls(ctx: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    if obj.kind() != "Ingress" {
        return None;
    }
    let tls = obj.value.ptr("/spec/tls").and_then(Value::as_array);
    let mut hits = Vec::new();
    let Some(tls) = tls.filter(|t| !t.is_empty()) else {
        hits.push(Hit::at(
            "/spec/tls",
            format!("Ingress {} serves no TLS", obj.name()),
        ));
        return Some(hits);
    };
    if ctx.opt_bool("requireHostCoverage", false) {
        let tls_hosts: Vec<String> = tls
            .iter()
            .filter_map(|t| t.get("hosts").and_then(Value::as_array))
            .flatten()
            .filter_map(|h| h.as_str().map(str::to_owned))
            .collect();
        let rules = obj.value.ptr("/spec/rules").and_then(Value::as_array);
        for (i, r) in rules.into_iter().flatten().enumerate() {
            if let Some(host) = r.get("host").and_then(Value::as_str)
                && !host_covered(host, &tls_hosts)
            {
                hits.push(Hit::at(
                    format!("/spec/rules/{i}/host"),
                    format!("host {host} is not covered by spec.tls"),
                ));
            }
        }
    }
    Some(hits)
}

fn selects_any_pod(
    ctx: &Ctx<'_>,
    ns: &str,
    first: Option<(&str, &str)>,
    matches: impl Fn(&BTreeMap<String, String>) -> bool,
) -> bool {
    ctx.bundle
        .workload_candidates(ns, first)
        .into_iter()
        .any(|w| matches(pod_labels(w)))
}

/// The first `matchLabels` pair of a label selector, to look candidates up in the label index.
fn first_match_label(selector: &Value) -> Option<(String, String)> {
    selector
        .get("matchLabels")
        .map(string_map)
        .and_then(|m| m.into_iter().next())
}

pub(super) fn netpol_selects_pods(ctx: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    if obj.kind() != "NetworkPolicy" {
        return None;
    }
    let sel = obj.value.ptr("/spec/podSelector");
    let empty = sel.is_none_or(|s| {
        s.as_object().is_none_or(|m| {
            m.values().all(|v| {
                v.as_object().is_some_and(serde_json::Map::is_empty)
                    || v.as_array().is_some_and(Vec::is_empty)
                    || v.is_null()
            })
        })
    });
    let mut hits = Vec::new();
    if !empty
        && let Some(sel) = sel
        && !selects_any_pod(
            ctx,
            obj.namespace(),
            first_match_label(sel)
                .as_ref()
                .map(|(k, v)| (k.as_str(), v.as_str())),
            |l| label_selector_matches(sel, l),
        )
    {
        hits.push(Hit::at(
            "/spec/podSelector",
            format!(
                "podSelector of NetworkPolicy {} selects no pod in namespace {}",
                obj.name(),
                obj.namespace()
            ),
        ));
    }
    Some(hits)
}

pub(super) fn network_policy_coverage(ctx: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    let (spec, _) = pod::pod_spec(obj)?;
    if as_bool(spec.get("hostNetwork")) == Some(true) {
        return None;
    }
    let labels = pod_labels(obj);
    let (mut ingress, mut egress) = (false, false);
    for np in ctx
        .bundle
        .selector_candidates(obj.namespace(), "NetworkPolicy", labels)
    {
        let sel = np
            .value
            .ptr("/spec/podSelector")
            .cloned()
            .unwrap_or_else(|| Value::Object(serde_json::Map::new()));
        if !label_selector_matches(&sel, labels) {
            continue;
        }
        match np.value.ptr("/spec/policyTypes").and_then(Value::as_array) {
            Some(types) => {
                for t in types {
                    match t.as_str() {
                        Some("Ingress") => ingress = true,
                        Some("Egress") => egress = true,
                        _ => {}
                    }
                }
            }
            None => {
                ingress = true;
                if np.value.ptr("/spec/egress").is_some() {
                    egress = true;
                }
            }
        }
    }
    let missing: Vec<&str> = [("Ingress", ingress), ("Egress", egress)]
        .iter()
        .filter(|(_, ok)| !ok)
        .map(|(n, _)| *n)
        .collect();
    let mut hits = Vec::new();
    if !missing.is_empty() {
        let meta = pod::pod_meta_pointer(obj.kind()).unwrap_or("/metadata");
        hits.push(Hit::at(
            format!("{meta}/labels"),
            format!(
                "no NetworkPolicy covers {} of {} {}",
                missing.join(" and "),
                obj.kind(),
                obj.name()
            ),
        ));
    }
    Some(hits)
}

pub(super) fn service_nodeport(_: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    if obj.kind() != "Service" {
        return None;
    }
    let mut hits = Vec::new();
    if obj.value.ptr("/spec/type").and_then(Value::as_str) == Some("NodePort") {
        hits.push(Hit::at(
            "/spec/type",
            format!("Service {} is of type NodePort", obj.name()),
        ));
    }
    Some(hits)
}

fn service_selector(obj: &InspectObject) -> Option<BTreeMap<String, String>> {
    if obj.kind() != "Service"
        || obj.value.ptr("/spec/type").and_then(Value::as_str) == Some("ExternalName")
    {
        return None;
    }
    let sel = string_map(obj.value.ptr("/spec/selector").unwrap_or(&Value::Null));
    (!sel.is_empty()).then_some(sel)
}

pub(super) fn service_selects_pods(ctx: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    let sel = service_selector(obj)?;
    let mut hits = Vec::new();
    let first = sel.iter().next().map(|(k, v)| (k.as_str(), v.as_str()));
    if !selects_any_pod(ctx, obj.namespace(), first, |l| {
        pod::map_selector_matches(&sel, l)
    }) {
        let shown: Vec<String> = sel.iter().map(|(k, v)| format!("{k}={v}")).collect();
        hits.push(Hit::at(
            "/spec/selector",
            format!(
                "selector {} of Service {} selects no pod in namespace {}",
                shown.join(","),
                obj.name(),
                obj.namespace()
            ),
        ));
    }
    Some(hits)
}

pub(super) fn service_target_port(ctx: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    let sel = service_selector(obj)?;
    let mut names: Vec<String> = Vec::new();
    let mut any = false;
    let first = sel.iter().next().map(|(k, v)| (k.as_str(), v.as_str()));
    for w in ctx.bundle.workload_candidates(obj.namespace(), first) {
        if !pod::map_selector_matches(&sel, pod_labels(w)) {
            continue;
        }
        any = true;
        if let Some((spec, ptr)) = pod::pod_spec(w) {
            for c in pod::containers(spec, ptr, pod::ContainerSet::Run) {
                let ports = c.get("/ports").and_then(Value::as_array);
                names.extend(
                    ports
                        .into_iter()
                        .flatten()
                        .filter_map(|p| p.get("name").and_then(Value::as_str).map(str::to_owned)),
                );
            }
        }
    }
    let mut hits = Vec::new();
    if !any {
        return Some(hits);
    }
    let ports = obj.value.ptr("/spec/ports").and_then(Value::as_array);
    for (i, p) in ports.into_iter().flatten().enumerate() {
        if let Some(tp) = p.get("targetPort").and_then(Value::as_str)
            && tp.parse::<u16>().is_err()
            && !names.iter().any(|n| n == tp)
        {
            hits.push(Hit::at(
                format!("/spec/ports/{i}/targetPort"),
                format!("targetPort {tp} is no container port name of the selected pods"),
            ));
        }
    }
    Some(hits)
}
