//! The rules of spec §6 over a set of [`AutoscalerObject`]s: [`check_all`] for a whole set, [`validate`] for
//! an admission of one object.
//!
//! Objects are grouped by workload. An HPA a ScaledObject owns (owner reference or adoption) is that
//! ScaledObject's: it never counts as a second HPA, a foreign HPA or a second metric source, since KEDA writes
//! its metrics from the triggers. Output is sorted; it does not depend on the input order.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{
    AutoscalerObject, HpaObject, ObjectRef, ScaledObjectInfo, ScalingMetric, Severity, VpaObject,
    WorkloadObject, WorkloadRef, rule,
};
use crate::hpa::conflict::{HpaRef, hpa_conflicts};
use crate::hpa::model::{MetricSourceType, MetricTargetType};

/// One conflict: the rule, its severity, the objects and workload concerned, why, and what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Conflict {
    /// The rule name (see [`super::rule`]).
    pub rule: String,
    /// Deny or warn.
    pub severity: Severity,
    /// The workload concerned.
    pub workload: WorkloadRef,
    /// The objects involved, sorted.
    pub objects: Vec<ObjectRef>,
    /// Why this is a conflict.
    pub reason: String,
    /// The allowed alternative.
    pub alternative: String,
}

impl Conflict {
    fn key(&self) -> (&WorkloadRef, &str, &[ObjectRef], Severity, &str, &str) {
        (
            &self.workload,
            &self.rule,
            &self.objects,
            self.severity,
            &self.reason,
            &self.alternative,
        )
    }
}

impl PartialOrd for Conflict {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Conflict {
    /// By workload, rule, objects, then the rest.
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

fn conflict(
    rule: &str,
    severity: Severity,
    workload: &WorkloadRef,
    mut objects: Vec<ObjectRef>,
    reason: String,
    alternative: String,
) -> Conflict {
    objects.sort();
    objects.dedup();
    Conflict {
        rule: rule.to_owned(),
        severity,
        workload: workload.clone(),
        objects,
        reason,
        alternative,
    }
}

/// Everything that concerns one workload, sorted so the input order never matters.
#[derive(Debug, Default)]
pub(crate) struct Group<'a> {
    /// HPAs not owned by a ScaledObject of the group.
    pub(crate) hpas: Vec<&'a HpaObject>,
    /// HPAs owned by a ScaledObject of the group, with their owner.
    pub(crate) owned: Vec<(&'a HpaObject, &'a ScaledObjectInfo)>,
    pub(crate) vpas: Vec<&'a VpaObject>,
    pub(crate) scaled_objects: Vec<&'a ScaledObjectInfo>,
    /// The workload object, when it is among the inputs (the first by identity and content if repeated).
    pub(crate) template: Option<&'a WorkloadObject>,
}

/// A scaler of the replica count: a (non-owned) HPA or a ScaledObject.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scaler<'a> {
    Hpa(&'a HpaObject),
    ScaledObject(&'a ScaledObjectInfo),
}

impl<'a> Scaler<'a> {
    pub(crate) fn object(self) -> &'a ObjectRef {
        match self {
            Self::Hpa(h) => &h.object,
            Self::ScaledObject(s) => &s.object,
        }
    }

    fn metrics(self) -> &'a [ScalingMetric] {
        match self {
            Self::Hpa(h) => &h.metrics,
            Self::ScaledObject(s) => &s.metrics,
        }
    }

    fn is_scaled_object(self) -> bool {
        matches!(self, Self::ScaledObject(_))
    }

    fn average_value_alternative(self) -> &'static str {
        if self.is_scaled_object() {
            "HPA on AverageValue (trigger metricType: AverageValue)"
        } else {
            "HPA on AverageValue"
        }
    }
}

impl Group<'_> {
    /// The scalers of the replica count: ScaledObjects, then HPAs no ScaledObject owns.
    pub(crate) fn scalers(&self) -> Vec<Scaler<'_>> {
        self.scaled_objects
            .iter()
            .map(|s| Scaler::ScaledObject(s))
            .chain(self.hpas.iter().map(|h| Scaler::Hpa(h)))
            .collect()
    }
}

fn vpa_key(v: &VpaObject) -> (&ObjectRef, String) {
    (
        &v.object,
        serde_json::to_string(&v.spec).unwrap_or_default(),
    )
}

/// Groups the objects by workload.
pub(crate) fn group(objects: &[AutoscalerObject]) -> BTreeMap<WorkloadRef, Group<'_>> {
    let mut groups: BTreeMap<WorkloadRef, Group<'_>> = BTreeMap::new();
    let mut all_hpas: BTreeMap<&WorkloadRef, Vec<&HpaObject>> = BTreeMap::new();
    let mut templates: BTreeMap<&WorkloadRef, Vec<&WorkloadObject>> = BTreeMap::new();
    for o in objects {
        let g = groups.entry(o.workload().clone()).or_default();
        match o {
            AutoscalerObject::Hpa(h) => all_hpas.entry(&h.target).or_default().push(h),
            AutoscalerObject::Vpa(v) => g.vpas.push(v),
            AutoscalerObject::ScaledObject(s) => g.scaled_objects.push(s),
            AutoscalerObject::Workload(w) => templates.entry(&w.workload).or_default().push(w),
        }
    }
    for (target, mut list) in templates {
        list.sort();
        if let Some(g) = groups.get_mut(target) {
            g.template = list.first().copied();
        }
    }
    for g in groups.values_mut() {
        g.vpas.sort_by(|a, b| vpa_key(a).cmp(&vpa_key(b)));
        g.scaled_objects.sort();
    }
    for (target, mut hpas) in all_hpas {
        hpas.sort();
        let Some(g) = groups.get_mut(target) else {
            continue;
        };
        for h in hpas {
            match g.scaled_objects.iter().find(|s| s.owns(h)) {
                Some(owner) => g.owned.push((h, owner)),
                None => g.hpas.push(h),
            }
        }
    }
    groups
}

/// Every conflict among `objects`, sorted by workload, rule and objects.
pub fn check_all(objects: &[AutoscalerObject]) -> Vec<Conflict> {
    let groups = group(objects);
    let mut out = Vec::new();
    for (workload, g) in &groups {
        hpa_multiple(workload, g, &mut out);
        so_foreign_hpa(workload, g, &mut out);
        so_multiple_target(workload, g, &mut out);
        so_resource_only_zero(workload, g, &mut out);
        vpa_multiple(workload, g, &mut out);
        vpa_hpa(workload, g, &mut out);
        vpa_scale_to_zero(workload, g, &mut out);
        resource_metric_no_request(workload, g, &mut out);
    }
    so_multiple_hpa_name(objects, &mut out);
    out.sort();
    out.dedup();
    out
}

/// Admission-style check of `new` against what already exists: the conflicts of the set (`existing` with
/// `new` in place of an object of the same kind, namespace and name) that involve `new`. A workload object
/// as `new` gets the conflicts of its workload.
pub fn validate(new: &AutoscalerObject, existing: &[AutoscalerObject]) -> Vec<Conflict> {
    let me = new.object();
    let same = |o: &ObjectRef| {
        o.kind == me.kind
            && o.namespace == me.namespace
            && o.name == me.name
            && super::reference_group(&o.api_version, &o.kind)
                == super::reference_group(&me.api_version, &me.kind)
    };
    let mut set: Vec<AutoscalerObject> = existing
        .iter()
        .filter(|o| !same(o.object()))
        .cloned()
        .collect();
    set.push(new.clone());
    let is_workload = matches!(new, AutoscalerObject::Workload(_));
    check_all(&set)
        .into_iter()
        .filter(|c| {
            if is_workload {
                &c.workload == new.workload()
            } else {
                c.objects.contains(me)
            }
        })
        .collect()
}

fn hpa_multiple(workload: &WorkloadRef, g: &Group<'_>, out: &mut Vec<Conflict>) {
    let refs: Vec<HpaRef> = g
        .hpas
        .iter()
        .map(|h| HpaRef {
            api_version: h.object.api_version.clone(),
            namespace: h.object.namespace.clone(),
            name: h.object.name.clone(),
            target: h.target.clone(),
        })
        .collect();
    for c in hpa_conflicts(&refs) {
        out.push(conflict(
            rule::HPA_MULTIPLE,
            Severity::Deny,
            workload,
            g.hpas.iter().map(|h| h.object.clone()).collect(),
            c.reason,
            c.alternative,
        ));
    }
}

fn so_foreign_hpa(workload: &WorkloadRef, g: &Group<'_>, out: &mut Vec<Conflict>) {
    for so in &g.scaled_objects {
        for h in &g.hpas {
            out.push(conflict(
                rule::SO_FOREIGN_HPA,
                Severity::Deny,
                workload,
                vec![so.object.clone(), h.object.clone()],
                format!(
                    "{} and {}, which it does not own, both scale {workload}: KEDA's webhook refuses a target \
                     another HPA manages, and the two HPAs would fight over the replica count",
                    so.object, h.object
                ),
                format!(
                    "let the ScaledObject adopt the HPA (annotation scaledobject.keda.sh/transfer-hpa-ownership: \
                     \"true\" and spec.advanced.horizontalPodAutoscalerConfig.name: {}), or delete the HPA and \
                     move its metrics into cpu/memory triggers",
                    h.object.name
                ),
            ));
        }
    }
}

fn so_multiple_target(workload: &WorkloadRef, g: &Group<'_>, out: &mut Vec<Conflict>) {
    if g.scaled_objects.len() < 2 {
        return;
    }
    let names: Vec<String> = g
        .scaled_objects
        .iter()
        .map(|s| s.object.to_string())
        .collect();
    out.push(conflict(
        rule::SO_MULTIPLE,
        Severity::Deny,
        workload,
        g.scaled_objects.iter().map(|s| s.object.clone()).collect(),
        format!(
            "{} all scale {workload}: each drives its own HPA, and KEDA's webhook refuses a target another \
             ScaledObject manages",
            names.join(", ")
        ),
        "keep one ScaledObject per workload and list every trigger in it (combine them with \
         advanced.scalingModifiers if needed)"
            .to_owned(),
    ));
}

fn so_multiple_hpa_name(objects: &[AutoscalerObject], out: &mut Vec<Conflict>) {
    let mut by_name: BTreeMap<(&str, &str), Vec<&ScaledObjectInfo>> = BTreeMap::new();
    for o in objects {
        if let AutoscalerObject::ScaledObject(s) = o {
            by_name
                .entry((&s.object.namespace, &s.hpa_name))
                .or_default()
                .push(s);
        }
    }
    for ((namespace, hpa), mut list) in by_name {
        let targets: BTreeSet<&WorkloadRef> = list.iter().map(|s| &s.target).collect();
        // Two ScaledObjects of one target are already reported once; an HPA name shared across targets is
        // its own conflict.
        if list.len() < 2 || targets.len() < 2 {
            continue;
        }
        list.sort();
        let Some(first) = targets.first() else {
            continue;
        };
        let names: Vec<String> = list.iter().map(|s| s.object.to_string()).collect();
        out.push(conflict(
            rule::SO_MULTIPLE,
            Severity::Deny,
            first,
            list.iter().map(|s| s.object.clone()).collect(),
            format!(
                "{} generate the same HPA {namespace}/{hpa}: each would overwrite the other's target and metrics, \
                 and KEDA's webhook refuses an HPA name another ScaledObject uses",
                names.join(", ")
            ),
            "give each ScaledObject its own spec.advanced.horizontalPodAutoscalerConfig.name (or leave it unset \
             for keda-hpa-<name>)"
                .to_owned(),
        ));
    }
}

fn so_resource_only_zero(workload: &WorkloadRef, g: &Group<'_>, out: &mut Vec<Conflict>) {
    for so in &g.scaled_objects {
        if so.only_resource_triggers() && so.min_replica_count == 0 {
            out.push(conflict(
                rule::SO_RESOURCE_ONLY_ZERO,
                Severity::Deny,
                workload,
                vec![so.object.clone()],
                format!(
                    "{} has only cpu/memory triggers and minReplicaCount 0: cpu/memory triggers are always active, \
                     so it can never scale to zero, and KEDA's webhook refuses it",
                    so.object
                ),
                "minReplicaCount: 1 (or more), or add an event trigger (queue, Prometheus, cron…) that can go \
                 inactive"
                    .to_owned(),
            ));
        }
    }
}

fn vpa_multiple(workload: &WorkloadRef, g: &Group<'_>, out: &mut Vec<Conflict>) {
    if g.vpas.len() < 2 {
        return;
    }
    let names: Vec<String> = g.vpas.iter().map(|v| v.object.to_string()).collect();
    out.push(conflict(
        rule::VPA_MULTIPLE,
        Severity::Deny,
        workload,
        g.vpas.iter().map(|v| v.object.clone()).collect(),
        format!(
            "{} all target {workload}: with several VPAs on one pod, which recommendation applies is undefined",
            names.join(", ")
        ),
        "keep one VerticalPodAutoscaler per workload; tune containers apart with \
         resourcePolicy.containerPolicies"
            .to_owned(),
    ));
}

/// A container name that matches no explicit container policy: it stands for "every other container" when
/// the pod template is unknown.
const ANY_CONTAINER: &str = "*";

/// The containers to judge: the template's, else the VPA's named ones plus "any other".
fn candidate_containers(g: &Group<'_>, v: &VpaObject) -> Vec<String> {
    if let Some(t) = g.template {
        return t.containers.iter().map(|c| c.name.clone()).collect();
    }
    let mut names: BTreeSet<String> = v
        .spec
        .resource_policy
        .iter()
        .flat_map(|p| &p.container_policies)
        .map(|p| p.container_name.clone())
        .filter(|n| n != ANY_CONTAINER)
        .collect();
    names.insert(ANY_CONTAINER.to_owned());
    names.into_iter().collect()
}

/// The VPA's answer for a container, where [`ANY_CONTAINER`] reads the `*` policy or the default.
fn vpa_controls(v: &VpaObject, container: &str, resource: &str) -> bool {
    if container == ANY_CONTAINER {
        // No explicit entry is named "*" by a real container; `container_policy` falls back to the `*` entry.
        return v.spec.controls("\u{0}any", resource);
    }
    v.spec.controls(container, resource)
}

pub(crate) fn describe_containers(names: &[String]) -> String {
    let shown: Vec<String> = names
        .iter()
        .map(|n| {
            if n == ANY_CONTAINER {
                "every container".to_owned()
            } else {
                format!("container {n}")
            }
        })
        .collect();
    shown.join(", ")
}

/// Containers a metric covers among the candidates (a ContainerResource metric on a container outside the
/// candidates still names that container).
fn covered(metric: &ScalingMetric, candidates: &[String]) -> Vec<String> {
    match &metric.container {
        Some(c) => vec![c.clone()],
        None => candidates.to_vec(),
    }
}

fn other_resources(resource: &str) -> String {
    let rest: Vec<&str> = ["cpu", "memory"]
        .into_iter()
        .filter(|r| *r != resource)
        .collect();
    rest.join(", ")
}

fn vpa_hpa(workload: &WorkloadRef, g: &Group<'_>, out: &mut Vec<Conflict>) {
    for v in &g.vpas {
        let candidates = candidate_containers(g, v);
        for s in g.scalers() {
            let resources: BTreeSet<&str> = s
                .metrics()
                .iter()
                .filter(|m| {
                    matches!(
                        m.source,
                        MetricSourceType::Resource | MetricSourceType::ContainerResource
                    )
                })
                .filter_map(|m| m.resource.as_deref())
                .collect();
            for resource in resources {
                let overlap = |target_type: MetricTargetType| -> (Vec<String>, Vec<String>) {
                    let mut containers = BTreeSet::new();
                    let mut metrics = BTreeSet::new();
                    for m in s
                        .metrics()
                        .iter()
                        .filter(|m| m.is_resource(resource, target_type))
                    {
                        for c in covered(m, &candidates) {
                            if vpa_controls(v, &c, resource) {
                                containers.insert(c);
                                metrics.insert(m.description.clone());
                            }
                        }
                    }
                    (
                        containers.into_iter().collect(),
                        metrics.into_iter().collect(),
                    )
                };
                let (util, util_metrics) = overlap(MetricTargetType::Utilization);
                let (avg, avg_metrics) = overlap(MetricTargetType::AverageValue);
                let objects = vec![v.object.clone(), s.object().clone()];
                if !util.is_empty() {
                    out.push(conflict(
                        rule::VPA_HPA_SAME_RESOURCE,
                        Severity::Deny,
                        workload,
                        objects,
                        format!(
                            "{} controls {resource} in {} and {} scales on {}: a Utilization target divides usage \
                             by the request, so each VPA change of the request moves the HPA, which moves the \
                             usage per pod and the next recommendation — a feedback loop",
                            v.object,
                            describe_containers(&util),
                            s.object(),
                            util_metrics.join(", "),
                        ),
                        format!(
                            "VPA controlledResources: [{}] (the autoscaler owns {resource}), or {}, or VPA Off \
                             (updateMode: \"Off\": recommendations only), or containerPolicies mode: Off for the \
                             scaled containers",
                            other_resources(resource),
                            s.average_value_alternative()
                        ),
                    ));
                } else if !avg.is_empty() {
                    out.push(conflict(
                        rule::VPA_HPA_AVERAGE_VALUE,
                        Severity::Warn,
                        workload,
                        objects,
                        format!(
                            "{} controls {resource} in {} and {} scales on {}: allowed, since AverageValue does \
                             not divide by the request, but both react to the same {resource} usage",
                            v.object,
                            describe_containers(&avg),
                            s.object(),
                            avg_metrics.join(", "),
                        ),
                        format!(
                            "fine as is; to separate them fully, VPA controlledResources: [{}]",
                            other_resources(resource)
                        ),
                    ));
                }
            }
        }
    }
}

/// A workload reaches zero through a ScaledObject with minReplicaCount or idleReplicaCount 0 and a trigger that
/// can go inactive, or through an HPA with minReplicas 0 (gate `HPAScaleToZero`). "Updating" VPAs are those that
/// change running pods (not `Off`, not `Initial`): the updater is what needs live pods.
fn vpa_scale_to_zero(workload: &WorkloadRef, g: &Group<'_>, out: &mut Vec<Conflict>) {
    let mut zero: Vec<&ObjectRef> = g
        .scaled_objects
        .iter()
        .filter(|s| s.can_reach_zero())
        .map(|s| &s.object)
        .collect();
    zero.extend(
        g.hpas
            .iter()
            .filter(|h| h.min_replicas == 0)
            .map(|h| &h.object),
    );
    if zero.is_empty() {
        return;
    }
    let names: Vec<String> = zero.iter().map(ToString::to_string).collect();
    for v in &g.vpas {
        let mode = v.spec.update_mode();
        if !mode.updates_running_pods() {
            continue;
        }
        let mut objects = vec![v.object.clone()];
        objects.extend(zero.iter().map(|o| (*o).clone()));
        out.push(conflict(
            rule::VPA_SCALE_TO_ZERO,
            Severity::Warn,
            workload,
            objects,
            format!(
                "{} (updateMode {mode:?}) sizes {workload}, which {} can take to zero replicas: the updater skips \
                 controllers with fewer than minReplicas (2) live pods, and the usage history expires after 8 \
                 days at zero",
                v.object,
                names.join(", ")
            ),
            "VPA updateMode: Initial (requests set at pod creation only) or Off, or keep at least 2 replicas \
             (minReplicaCount: 2)"
                .to_owned(),
        ));
    }
}

fn resource_metric_no_request(workload: &WorkloadRef, g: &Group<'_>, out: &mut Vec<Conflict>) {
    let Some(t) = g.template else {
        return;
    };
    let all: Vec<String> = t.containers.iter().map(|c| c.name.clone()).collect();
    for s in g.scalers() {
        let mut missing: BTreeMap<&str, (BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
        for m in s.metrics() {
            let Some(resource) = m.resource.as_deref() else {
                continue;
            };
            if m.target_type != MetricTargetType::Utilization {
                continue;
            }
            for c in covered(m, &all) {
                if !t.has_request(&c, resource) {
                    let e = missing.entry(resource).or_default();
                    e.0.insert(c);
                    e.1.insert(m.description.clone());
                }
            }
        }
        for (resource, (containers, metrics)) in missing {
            let containers: Vec<String> = containers.into_iter().collect();
            let metrics: Vec<String> = metrics.into_iter().collect();
            let absent: Vec<&String> = containers.iter().filter(|c| !all.contains(c)).collect();
            let mut reason = format!(
                "{} scales on {} but {} has no {resource} request (\"missing request for {resource}\" in {}): \
                 utilization cannot be computed",
                s.object(),
                metrics.join(", "),
                t.object,
                describe_containers(&containers),
            );
            if !absent.is_empty() {
                let list: Vec<&str> = absent.iter().map(|c| c.as_str()).collect();
                reason.push_str(&format!(
                    "; the pod template has no container {}",
                    list.join(", ")
                ));
            }
            if s.is_scaled_object() {
                reason.push_str("; KEDA's webhook refuses such a ScaledObject");
            }
            let severity = if s.is_scaled_object() {
                Severity::Deny
            } else {
                Severity::Warn
            };
            out.push(conflict(
                rule::RESOURCE_METRIC_NO_REQUEST,
                severity,
                workload,
                vec![s.object().clone(), t.object.clone()],
                reason,
                format!(
                    "set resources.requests.{resource} on {}, or {}",
                    describe_containers(&containers),
                    s.average_value_alternative()
                ),
            ));
        }
    }
}
