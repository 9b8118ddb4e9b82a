//! Live workload health (spec §4.6) and the live-service check `net-service-endpoints-empty` (§4.4): checks
//! over the `status` of live objects, with time from the run's clock (`Ctx::now`) and thresholds from the
//! check's options. The engine runs them only on live objects (no source file).
//!
//! Options (per check, in `checks.overrides.<id>`): `pod-crashloop` `restarts` (5) and `windowMinutes` (60);
//! `pod-oomkilled` `windowHours` (24); `pod-pending-long` `minutes` (15); `deployment-unavailable` and
//! `workload-unavailable` `minutes` (10); `job-failed` `windowHours` (24); `pvc-pending` `minutes` (5);
//! `event-warnings` `windowMinutes` (60); `net-service-endpoints-empty` `minutes` (5).

use jiff::Timestamp;
use serde_json::Value;

use super::{Ctx, Hit};
use crate::bundle::InspectObject;
use crate::model::Severity;
use crate::pod;

/// Parses an RFC 3339 time field.
pub(crate) fn time_at(obj: &Value, pointer: &str) -> Option<Timestamp> {
    obj.pointer(pointer)
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<Timestamp>().ok())
}

/// Whole seconds from `then` to `now` (negative when `then` is in the future).
pub(crate) fn age_secs(now: Timestamp, then: Timestamp) -> i64 {
    now.as_second().saturating_sub(then.as_second())
}

fn array<'a>(v: &'a Value, pointer: &str) -> &'a [Value] {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// Container statuses of a Pod with their pointer: init, regular and ephemeral.
fn statuses(obj: &InspectObject) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    for list in [
        "initContainerStatuses",
        "containerStatuses",
        "ephemeralContainerStatuses",
    ] {
        for (i, s) in array(&obj.value, &format!("/status/{list}"))
            .iter()
            .enumerate()
        {
            out.push((format!("/status/{list}/{i}"), s));
        }
    }
    out
}

fn status_hit(ptr: &str, s: &Value, suffix: &str, message: String) -> Hit {
    let name = s.get("name").and_then(Value::as_str).map(str::to_owned);
    let path = format!("{ptr}{suffix}");
    // Fingerprints key on the container's name, not its index.
    let fingerprint_path = match &name {
        Some(n) => {
            let list = ptr.rsplit_once('/').map_or(ptr, |(l, _)| l);
            format!("{list}/{n}{suffix}")
        }
        None => path.clone(),
    };
    Hit {
        container: name,
        path,
        fingerprint_path,
        message,
        severity: None,
    }
}

/// `pod-crashloop`.
pub(crate) fn pod_crashloop(ctx: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    if obj.kind() != "Pod" || obj.value.get("status").is_none() {
        return None;
    }
    let restarts = ctx.opt_i64("restarts", 5);
    let window = ctx.opt_i64("windowMinutes", 60).saturating_mul(60);
    let mut hits = Vec::new();
    for (ptr, s) in statuses(obj) {
        let name = text(s, "/name");
        if text(s, "/state/waiting/reason") == "CrashLoopBackOff" {
            hits.push(status_hit(
                &ptr,
                s,
                "/state/waiting/reason",
                format!(
                    "container {name} is in CrashLoopBackOff ({} restarts)",
                    pod::as_i64(s.get("restartCount")).unwrap_or(0)
                ),
            ));
            continue;
        }
        let count = pod::as_i64(s.get("restartCount")).unwrap_or(0);
        let recent = time_at(s, "/lastState/terminated/finishedAt")
            .is_some_and(|t| age_secs(ctx.now, t) <= window);
        if count >= restarts && recent {
            hits.push(status_hit(
                &ptr,
                s,
                "/restartCount",
                format!(
                    "container {name} restarted {count} times, last termination {} ago",
                    human(age_secs(
                        ctx.now,
                        time_at(s, "/lastState/terminated/finishedAt").unwrap_or(ctx.now)
                    ))
                ),
            ));
        }
    }
    Some(hits)
}

const PULL_ERRORS: &[&str] = &[
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
];

/// `pod-image-pull-error`.
pub(crate) fn pod_image_pull_error(_ctx: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    if obj.kind() != "Pod" || obj.value.get("status").is_none() {
        return None;
    }
    let hits = statuses(obj)
        .into_iter()
        .filter(|(_, s)| PULL_ERRORS.contains(&text(s, "/state/waiting/reason")))
        .map(|(ptr, s)| {
            let reason = text(s, "/state/waiting/reason");
            let detail = text(s, "/state/waiting/message");
            let image = text(s, "/image");
            let message = if detail.is_empty() {
                format!(
                    "container {} cannot pull {image}: {reason}",
                    text(s, "/name")
                )
            } else {
                format!(
                    "container {} cannot pull {image}: {reason}: {detail}",
                    text(s, "/name")
                )
            };
            status_hit(&ptr, s, "/state/waiting/reason", message)
        })
        .collect();
    Some(hits)
}

/// `pod-oomkilled`.
pub(crate) fn pod_oomkilled(ctx: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    if obj.kind() != "Pod" || obj.value.get("status").is_none() {
        return None;
    }
    let window = ctx.opt_i64("windowHours", 24).saturating_mul(3_600);
    let mut hits = Vec::new();
    for (ptr, s) in statuses(obj) {
        for state in ["/lastState/terminated", "/state/terminated"] {
            if text(s, &format!("{state}/reason")) != "OOMKilled" {
                continue;
            }
            let Some(at) = time_at(s, &format!("{state}/finishedAt")) else {
                continue;
            };
            if age_secs(ctx.now, at) <= window {
                hits.push(status_hit(
                    &ptr,
                    s,
                    &format!("{state}/reason"),
                    format!(
                        "container {} was OOMKilled {} ago",
                        text(s, "/name"),
                        human(age_secs(ctx.now, at))
                    ),
                ));
                break;
            }
        }
    }
    Some(hits)
}

fn condition<'a>(obj: &'a Value, ty: &str) -> Option<&'a Value> {
    array(obj, "/status/conditions")
        .iter()
        .find(|c| text(c, "/type") == ty)
}

fn condition_index(obj: &Value, ty: &str) -> Option<usize> {
    array(obj, "/status/conditions")
        .iter()
        .position(|c| text(c, "/type") == ty)
}

/// `5m`, `2h`, `3d`.
fn human(secs: i64) -> String {
    let secs = secs.max(0);
    if secs < 120 {
        format!("{secs}s")
    } else if secs < 7_200 {
        format!("{}m", secs / 60)
    } else if secs < 172_800 {
        format!("{}h", secs / 3_600)
    } else {
        format!("{}d", secs / 86_400)
    }
}

/// `pod-pending-long`.
pub(crate) fn pod_pending_long(ctx: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    if obj.kind() != "Pod" || obj.value.get("status").is_none() {
        return None;
    }
    let limit = ctx.opt_i64("minutes", 15).saturating_mul(60);
    let mut hits = Vec::new();
    if text(&obj.value, "/status/phase") == "Pending"
        && let Some(created) = time_at(&obj.value, "/metadata/creationTimestamp")
        && age_secs(ctx.now, created) > limit
    {
        let scheduled = condition(&obj.value, "PodScheduled");
        let reason = scheduled
            .filter(|c| text(c, "/status") != "True")
            .map(|c| {
                let r = text(c, "/reason");
                let m = text(c, "/message");
                if m.is_empty() {
                    r.to_owned()
                } else {
                    format!("{r}: {m}")
                }
            })
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| "scheduled, containers not started".to_owned());
        hits.push(Hit::at(
            "/status/phase",
            format!(
                "pod has been Pending for {} ({reason})",
                human(age_secs(ctx.now, created))
            ),
        ));
    }
    Some(hits)
}

/// When the object's state last changed: the latest condition transition or update, else its creation.
fn since(obj: &Value) -> Option<Timestamp> {
    array(obj, "/status/conditions")
        .iter()
        .flat_map(|c| {
            [
                time_at(c, "/lastTransitionTime"),
                time_at(c, "/lastUpdateTime"),
            ]
        })
        .flatten()
        .max()
        .or_else(|| time_at(obj, "/metadata/creationTimestamp"))
}

fn replicas(obj: &Value, pointer: &str) -> i64 {
    pod::as_i64(obj.pointer(pointer)).unwrap_or(0)
}

/// `deployment-unavailable`.
pub(crate) fn deployment_unavailable(ctx: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    if obj.kind() != "Deployment" || obj.value.get("status").is_none() {
        return None;
    }
    let v = &obj.value;
    let mut hits = Vec::new();
    if let (Some(c), Some(i)) = (condition(v, "Available"), condition_index(v, "Available"))
        && text(c, "/status") == "False"
    {
        hits.push(Hit::at(
            format!("/status/conditions/{i}/status"),
            format!(
                "Available=False ({}): {}",
                text(c, "/reason"),
                text(c, "/message")
            ),
        ));
    }
    if let (Some(c), Some(i)) = (
        condition(v, "Progressing"),
        condition_index(v, "Progressing"),
    ) && text(c, "/status") == "False"
    {
        hits.push(Hit::at(
            format!("/status/conditions/{i}/status"),
            format!(
                "Progressing=False ({}): {}",
                text(c, "/reason"),
                text(c, "/message")
            ),
        ));
    }
    let want = pod::as_i64(v.pointer("/spec/replicas")).unwrap_or(1);
    let available = replicas(v, "/status/availableReplicas");
    let limit = ctx.opt_i64("minutes", 10).saturating_mul(60);
    if hits.is_empty() && available < want && since(v).is_some_and(|t| age_secs(ctx.now, t) > limit)
    {
        hits.push(Hit::at(
            "/status/availableReplicas",
            format!(
                "{available} of {want} replicas available for more than {}",
                human(limit)
            ),
        ));
    }
    Some(hits)
}

/// `workload-unavailable`.
pub(crate) fn workload_unavailable(ctx: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    let v = &obj.value;
    if !matches!(obj.kind(), "StatefulSet" | "DaemonSet") || v.get("status").is_none() {
        return None;
    }
    let limit = ctx.opt_i64("minutes", 10).saturating_mul(60);
    if since(v).is_none_or(|t| age_secs(ctx.now, t) <= limit) {
        return Some(Vec::new());
    }
    let mut hits = Vec::new();
    if obj.kind() == "StatefulSet" {
        let want = pod::as_i64(v.pointer("/spec/replicas")).unwrap_or(1);
        let ready = replicas(v, "/status/readyReplicas");
        if ready < want {
            hits.push(Hit::at(
                "/status/readyReplicas",
                format!(
                    "{ready} of {want} replicas ready for more than {}",
                    human(limit)
                ),
            ));
        }
    } else {
        for field in ["numberUnavailable", "numberMisscheduled"] {
            let n = replicas(v, &format!("/status/{field}"));
            if n > 0 {
                hits.push(Hit::at(
                    format!("/status/{field}"),
                    format!("{field} is {n} for more than {}", human(limit)),
                ));
            }
        }
    }
    Some(hits)
}

/// `job-failed`.
pub(crate) fn job_failed(ctx: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    let v = &obj.value;
    if obj.kind() != "Job" || v.get("status").is_none() {
        return None;
    }
    let window = ctx.opt_i64("windowHours", 24).saturating_mul(3_600);
    let mut hits = Vec::new();
    if let (Some(c), Some(i)) = (condition(v, "Failed"), condition_index(v, "Failed"))
        && text(c, "/status") == "True"
        && time_at(c, "/lastTransitionTime").is_none_or(|t| age_secs(ctx.now, t) <= window)
    {
        hits.push(Hit::at(
            format!("/status/conditions/{i}/status"),
            format!(
                "job failed ({}): {}",
                text(c, "/reason"),
                text(c, "/message")
            ),
        ));
    }
    Some(hits)
}

/// `pvc-pending`.
pub(crate) fn pvc_pending(ctx: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    let v = &obj.value;
    if obj.kind() != "PersistentVolumeClaim" || v.get("status").is_none() {
        return None;
    }
    let limit = ctx.opt_i64("minutes", 5).saturating_mul(60);
    let mut hits = Vec::new();
    match text(v, "/status/phase") {
        "Lost" => hits.push(
            Hit::at("/status/phase", "claim is Lost: its volume is gone")
                .with_severity(Severity::Danger),
        ),
        "Pending" => {
            if let Some(created) = time_at(v, "/metadata/creationTimestamp")
                && age_secs(ctx.now, created) > limit
            {
                hits.push(Hit::at(
                    "/status/phase",
                    format!(
                        "claim has been Pending for {}",
                        human(age_secs(ctx.now, created))
                    ),
                ));
            }
        }
        _ => {}
    }
    Some(hits)
}

/// (involved object, reason, type, last seen, count) of a core/v1 or events.k8s.io/v1 Event.
fn event_facts(v: &Value) -> (String, String, String, Option<Timestamp>, i64) {
    let regarding = if v.get("regarding").is_some() {
        "/regarding"
    } else {
        "/involvedObject"
    };
    let target = format!(
        "{} {}/{}",
        text(v, &format!("{regarding}/kind")),
        text(v, &format!("{regarding}/namespace")),
        text(v, &format!("{regarding}/name"))
    );
    let last = [
        "/series/lastObservedTime",
        "/lastTimestamp",
        "/deprecatedLastTimestamp",
        "/eventTime",
        "/firstTimestamp",
        "/metadata/creationTimestamp",
    ]
    .iter()
    .find_map(|p| time_at(v, p));
    let count = ["/series/count", "/count", "/deprecatedCount"]
        .iter()
        .find_map(|p| pod::as_i64(v.pointer(p)))
        .unwrap_or(1)
        .max(1);
    (
        target,
        text(v, "/reason").to_owned(),
        text(v, "/type").to_owned(),
        last,
        count,
    )
}

/// `event-warnings`: one finding per (involved object, reason), on the first such Event by name; the others
/// of the group create no test.
pub(crate) fn event_warnings(ctx: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    if obj.kind() != "Event" {
        return None;
    }
    let window = ctx.opt_i64("windowMinutes", 60).saturating_mul(60);
    let recent = |v: &Value| {
        let (target, reason, ty, last, count) = event_facts(v);
        (ty == "Warning" && last.is_some_and(|t| age_secs(ctx.now, t) <= window))
            .then_some((target, reason, count))
    };
    let Some((target, reason, _)) = recent(&obj.value) else {
        return Some(Vec::new());
    };
    let mut total = 0;
    let mut first = obj.name();
    for other in ctx.bundle.of_kind(obj.namespace(), "Event") {
        if other.source.is_some() {
            continue;
        }
        if let Some((t, r, c)) = recent(&other.value)
            && t == target
            && r == reason
        {
            total += c;
            if (other.namespace(), other.name()) < (obj.namespace(), first) {
                first = other.name();
            }
        }
    }
    if first != obj.name() {
        return None;
    }
    let note = text(&obj.value, "/message");
    let note = if note.is_empty() {
        text(&obj.value, "/note")
    } else {
        note
    };
    Some(vec![Hit::at(
        "/reason",
        format!(
            "{target}: {reason} ×{total} in the last {}: {note}",
            human(window)
        ),
    )])
}

/// Whether an EndpointSlice endpoint counts as ready (`conditions.ready` unset means ready).
fn endpoint_ready(e: &Value) -> bool {
    pod::as_bool(e.pointer("/conditions/ready")).unwrap_or(true)
}

/// `net-service-endpoints-empty` (spec §4.4): the ready endpoints of the EndpointSlices labelled
/// `kubernetes.io/service-name` with the Service's name (an endpoint whose `conditions.ready` is not `false`).
/// A cluster that serves EndpointSlices at all (the bundle holds at least one) gives every selector Service a slice,
/// so a Service without one has no endpoint. Only when the bundle has no EndpointSlice (a cluster, or a seam, that
/// offers none) does the check fall back to the Service's Endpoints object, else to the ready live Pods its
/// selector matches.
pub(crate) fn service_endpoints_empty(ctx: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    let v = &obj.value;
    if obj.kind() != "Service" || text(v, "/spec/type") == "ExternalName" {
        return None;
    }
    let selector = pod::string_map(v.pointer("/spec/selector").unwrap_or(&Value::Null));
    if selector.is_empty() {
        return None;
    }
    let limit = ctx.opt_i64("minutes", 5).saturating_mul(60);
    if time_at(v, "/metadata/creationTimestamp").is_none_or(|t| age_secs(ctx.now, t) <= limit) {
        return Some(Vec::new());
    }
    let ns = obj.namespace();
    let slices: Vec<&InspectObject> = ctx
        .bundle
        .of_kind(ns, "EndpointSlice")
        .filter(|s| {
            s.value
                .pointer("/metadata/labels/kubernetes.io~1service-name")
                .and_then(Value::as_str)
                == Some(obj.name())
        })
        .collect();
    let (ready, source) = if !slices.is_empty() || ctx.bundle.has_kind("EndpointSlice") {
        let n = slices
            .iter()
            .flat_map(|s| array(&s.value, "/endpoints"))
            .filter(|e| endpoint_ready(e))
            .count();
        (n, "EndpointSlices")
    } else if let Some(ep) = ctx.bundle.find(ns, "Endpoints", obj.name()) {
        let n = array(&ep.value, "/subsets")
            .iter()
            .map(|s| array(s, "/addresses").len())
            .sum();
        (n, "Endpoints")
    } else {
        let n = ctx
            .bundle
            .of_kind(ns, "Pod")
            .filter(|p| p.source.is_none())
            .filter(|p| pod::map_selector_matches(&selector, &p.pod_labels))
            .filter(|p| condition(&p.value, "Ready").is_some_and(|c| text(c, "/status") == "True"))
            .count();
        (n, "ready Pods")
    };
    let mut hits = Vec::new();
    if ready == 0 {
        hits.push(Hit::at(
            "/spec/selector",
            format!(
                "service {} has no ready endpoint ({source} checked) for more than {}",
                obj.name(),
                human(limit)
            ),
        ));
    }
    Some(hits)
}
