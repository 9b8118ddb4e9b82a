//! `rel-hpa-vpa-conflict` (spec `inspect.md` §4.2): an HPA scales on a resource that a VPA of the same workload
//! controls. The decision is rule `vpa-hpa-same-resource` (danger) and `vpa-hpa-average-value` (warning) of
//! `ksx_scaling::policy`, called, not re-implemented: the HPA is judged after API defaulting and v1 → v2
//! conversion, and the workload's pod template, when in the bundle, names the containers a Resource metric
//! covers.

use crate::pod::FastPointer as _;
use ksx_core::manifest::{Document, Source};
use ksx_scaling::policy::{self, AutoscalerObject, rule};
use serde_json::Value;

use super::{Ctx, Hit};
use crate::bundle::InspectObject;
use crate::model::Severity;

/// The object as a manifest document, with its effective namespace written in, so `defaultNamespace` applies
/// to the policy as to every other check.
fn as_document(o: &InspectObject) -> Document {
    let mut value = o.value.clone();
    if let Some(meta) = value
        .as_object_mut()
        .map(|m| {
            m.entry("metadata")
                .or_insert_with(|| Value::Object(Default::default()))
        })
        .and_then(Value::as_object_mut)
    {
        meta.insert(
            "namespace".to_owned(),
            Value::String(o.namespace().to_owned()),
        );
    }
    Document {
        source: o.source.clone().unwrap_or_else(|| Source {
            file: String::new(),
            document: 0,
            line: 0,
            item: None,
        }),
        value,
        object: None,
    }
}

fn read(o: &InspectObject) -> Option<AutoscalerObject> {
    AutoscalerObject::from_document(&as_document(o))
        .ok()
        .flatten()
}

pub(super) fn hpa_vpa_conflict(ctx: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    if obj.kind() != "HorizontalPodAutoscaler" {
        return None;
    }
    let mut hits = Vec::new();
    // An HPA the policy cannot read (malformed metrics, no target) passes here; other checks and `ksx scale
    // check` report it.
    let Some(me @ AutoscalerObject::Hpa(_)) = read(obj) else {
        return Some(hits);
    };
    let target = me.workload().clone();
    let mut existing: Vec<AutoscalerObject> = ctx
        .bundle
        .of_kind(obj.namespace(), policy::VPA_KIND)
        .filter_map(read)
        .filter(|v| v.workload() == &target)
        .collect();
    if existing.is_empty() {
        return Some(hits);
    }
    if let Some(w) = ctx
        .bundle
        .find(obj.namespace(), &target.kind, &target.name)
        .and_then(read)
        .filter(|w| matches!(w, AutoscalerObject::Workload(_)) && w.workload() == &target)
    {
        existing.push(w);
    }
    let path = if obj.value.ptr("/spec/metrics").is_some() {
        "/spec/metrics"
    } else {
        "/spec"
    };
    for c in policy::validate(&me, &existing) {
        let severity = match c.rule.as_str() {
            rule::VPA_HPA_SAME_RESOURCE => Severity::Danger,
            rule::VPA_HPA_AVERAGE_VALUE => Severity::Warning,
            _ => continue,
        };
        let vpa = c
            .objects
            .iter()
            .find(|o| o.kind == policy::VPA_KIND)
            .map_or("", |o| o.name.as_str());
        hits.push(Hit {
            container: None,
            path: path.to_owned(),
            // One finding per VPA and rule: the fingerprint tells them apart without the message.
            fingerprint_path: format!("{path}/{}/{vpa}", c.rule),
            message: format!("{}; {}", c.reason, c.alternative),
            severity: (severity == Severity::Warning).then_some(severity),
        });
    }
    Some(hits)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use ksx_core::manifest::parse_str;

    use super::*;
    use crate::bundle::Bundle;

    const BUNDLE: &str = "
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      containers:
      - {name: app, image: web:1, resources: {requests: {cpu: 100m, memory: 128Mi}}}
---
apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 5
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web-avg}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 5
  metrics:
  - type: Resource
    resource: {name: memory, target: {type: AverageValue, averageValue: 1Gi}}
---
apiVersion: autoscaling.k8s.io/v1
kind: VerticalPodAutoscaler
metadata: {name: web}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: api}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: api}
  maxReplicas: 5
---
apiVersion: autoscaling.k8s.io/v1
kind: VerticalPodAutoscaler
metadata: {name: api}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: api}
  resourcePolicy:
    containerPolicies:
    - {containerName: '*', controlledResources: [memory]}
";

    fn hits_for(name: &str) -> Option<Vec<Hit>> {
        let loaded = parse_str("b.yaml", BUNDLE);
        assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
        let bundle = Bundle::from_loaded(&loaded, "shop");
        let options = BTreeMap::new();
        let ctx = Ctx {
            bundle: &bundle,
            options: &options,
            kube_version: (1, 33),
            lenient: false,
            now: jiff::Timestamp::UNIX_EPOCH,
        };
        let obj = bundle
            .objects()
            .iter()
            .find(|o| o.kind() == "HorizontalPodAutoscaler" && o.name() == name)
            .expect("object");
        hpa_vpa_conflict(&ctx, obj)
    }

    #[test]
    fn v1_hpa_on_cpu_beside_a_full_vpa_is_danger() {
        // The v1 HPA has no target percentage: CPU Utilization 80 after conversion.
        let hits = hits_for("web").expect("applies");
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(hits[0].severity, None, "the check's own severity, danger");
        assert_eq!(hits[0].path, "/spec");
        assert!(
            hits[0].message.contains("controls cpu in container app"),
            "{}",
            hits[0].message
        );
        assert!(
            hits[0]
                .message
                .contains("VPA controlledResources: [memory]")
        );
    }

    #[test]
    fn average_value_is_a_warning_and_memory_only_vpa_passes() {
        let hits = hits_for("web-avg").expect("applies");
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(hits[0].severity, Some(Severity::Warning));
        assert_eq!(hits[0].path, "/spec/metrics");
        // api: CPU HPA, VPA on memory only: the allowed combination.
        assert_eq!(hits_for("api"), Some(Vec::new()));
    }
}
