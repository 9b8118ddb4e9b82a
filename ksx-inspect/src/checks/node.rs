//! Node checks on live Node objects (spec §4.7): readiness, pressure and problem conditions, kubelet version
//! skew. Time comes from the run's clock; the collector-based node checks live in [`crate::rules::node`].

use crate::pod::FastPointer as _;
use serde_json::Value;

use super::live::{age_secs, time_at};
use super::{Ctx, Hit};
use crate::bundle::InspectObject;
use crate::model::Severity;

/// node-problem-detector's default problem condition types.
pub(crate) const DEFAULT_PROBLEM_CONDITIONS: &[&str] = &[
    "KernelDeadlock",
    "ReadonlyFilesystem",
    "FrequentKubeletRestart",
    "FrequentContainerdRestart",
    "CorruptDockerOverlay2",
];

const PRESSURE: &[&str] = &[
    "MemoryPressure",
    "DiskPressure",
    "PIDPressure",
    "NetworkUnavailable",
];

fn conditions(obj: &InspectObject) -> Option<&Vec<Value>> {
    if obj.kind() != "Node" {
        return None;
    }
    obj.value
        .ptr("/status/conditions")
        .and_then(Value::as_array)
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// `node-not-ready`.
pub(crate) fn node_not_ready(ctx: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    let list = conditions(obj)?;
    let (i, ready) = list
        .iter()
        .enumerate()
        .find(|(_, c)| text(c, "type") == "Ready")?;
    let status = text(ready, "status");
    if status == "True" {
        return Some(Vec::new());
    }
    let since = time_at(ready, "/lastTransitionTime").map_or_else(
        || "unknown time".to_owned(),
        |t| format!("{t} ({}s ago)", age_secs(ctx.now, t)),
    );
    Some(vec![Hit::at(
        format!("/status/conditions/{i}/status"),
        format!(
            "node is not ready: Ready={status} ({}) since {since}",
            text(ready, "reason")
        ),
    )])
}

fn true_conditions(obj: &InspectObject, types: &[String], what: &str) -> Option<Vec<Hit>> {
    let list = conditions(obj)?;
    Some(
        list.iter()
            .enumerate()
            .filter(|(_, c)| {
                types.iter().any(|t| t == text(c, "type")) && text(c, "status") == "True"
            })
            .map(|(i, c)| {
                Hit::at(
                    format!("/status/conditions/{i}/status"),
                    format!(
                        "{what} {}=True ({}): {}",
                        text(c, "type"),
                        text(c, "reason"),
                        text(c, "message")
                    ),
                )
            })
            .collect(),
    )
}

/// `node-pressure`.
pub(crate) fn node_pressure(_ctx: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    let types: Vec<String> = PRESSURE.iter().map(|s| (*s).to_owned()).collect();
    true_conditions(obj, &types, "node condition")
}

/// `node-problem-condition` (option `conditions`: the problem types, default node-problem-detector's).
pub(crate) fn node_problem_condition(ctx: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    let types = ctx.opt_strings("conditions").unwrap_or_else(|| {
        DEFAULT_PROBLEM_CONDITIONS
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    });
    true_conditions(obj, &types, "node problem")
}

/// `(major, minor)` of `v1.33.4`, `1.33`, `v1.29.3-eks-abc`.
fn minor_version(text: &str) -> Option<(u64, u64)> {
    let t = text.trim().trim_start_matches('v');
    let mut parts = t.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor: String = parts
        .next()?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    Some((major, minor.parse().ok()?))
}

/// `node-kubelet-version-skew`: against the API server version (option `apiServerVersion`, from discovery,
/// else `--kube-version`).
pub(crate) fn kubelet_version_skew(ctx: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    if obj.kind() != "Node" {
        return None;
    }
    let kubelet_text = obj
        .value
        .ptr("/status/nodeInfo/kubeletVersion")
        .and_then(Value::as_str)?;
    let kubelet = minor_version(kubelet_text)?;
    let server = ctx
        .options
        .get("apiServerVersion")
        .and_then(crate::pod::scalar_string)
        .and_then(|s| minor_version(&s))
        .unwrap_or(ctx.kube_version);
    let path = "/status/nodeInfo/kubeletVersion";
    let server_text = format!("{}.{}", server.0, server.1);
    if kubelet == server {
        return Some(Vec::new());
    }
    let supported = if server >= (1, 28) { 3 } else { 2 };
    let hit = if kubelet > server {
        Hit::at(
            path,
            format!("kubelet {kubelet_text} is newer than the API server {server_text}"),
        )
        .with_severity(Severity::Danger)
    } else if kubelet.0 != server.0 || server.1 - kubelet.1 > supported {
        Hit::at(
            path,
            format!(
                "kubelet {kubelet_text} is more than {supported} minor versions older than the API server {server_text}"
            ),
        )
        .with_severity(Severity::Danger)
    } else {
        Hit::at(
            path,
            format!(
                "kubelet {kubelet_text} differs from the API server {server_text} by {} minor version(s)",
                server.1 - kubelet.1
            ),
        )
    };
    Some(vec![hit])
}

#[cfg(test)]
mod tests {
    use super::minor_version;

    #[test]
    fn versions_parse_with_prefixes_and_suffixes() {
        assert_eq!(minor_version("v1.29.3-eks-abc"), Some((1, 29)));
        assert_eq!(minor_version("1.33"), Some((1, 33)));
        assert_eq!(minor_version("x"), None);
    }
}
