//! autoscaling/v1 → autoscaling/v2 conversion of a HorizontalPodAutoscaler, as the API server converts it
//! (`pkg/apis/autoscaling/v1/conversion.go`), listing what changed.
//!
//! v1 carries `targetCPUUtilizationPercentage`; everything else rides in `autoscaling.alpha.kubernetes.io/*`
//! annotations, which are folded into fields and dropped. Works on JSON values so unknown metadata survives.

use serde_json::{Map, Value, json};

use super::model::{HpaBehavior, MetricSpec};
use crate::error::{Error, Result};

/// The annotation holding the non-CPU metrics of a v1 HPA.
pub const METRICS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/metrics";
/// The annotation holding the v2 status metrics of a v1 HPA.
pub const CURRENT_METRICS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/current-metrics";
/// The annotation holding the v2 conditions of a v1 HPA.
pub const CONDITIONS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/conditions";
/// The annotation holding the behavior of a v1 HPA.
pub const BEHAVIOR_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/behavior";
/// The annotation holding the scale-up tolerance of a v1 HPA.
pub const SCALE_UP_TOLERANCE_ANNOTATION: &str =
    "autoscaling.alpha.kubernetes.io/scale-up-tolerance";
/// The annotation holding the scale-down tolerance of a v1 HPA.
pub const SCALE_DOWN_TOLERANCE_ANNOTATION: &str =
    "autoscaling.alpha.kubernetes.io/scale-down-tolerance";

/// A converted HPA and the list of changes, in the order they were made.
#[derive(Debug, Clone, PartialEq)]
pub struct Converted {
    /// The autoscaling/v2 object.
    pub hpa: Value,
    /// What changed, one sentence each.
    pub changes: Vec<String>,
}

fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// Converts an autoscaling/v1 HorizontalPodAutoscaler to autoscaling/v2.
///
/// # Errors
/// [`Error::InvalidField`] naming the path at fault: not an autoscaling/v1 HPA, a missing `scaleTargetRef` or
/// `maxReplicas`, an annotation that is not valid JSON or does not convert into a valid v2 field.
pub fn v1_to_v2(hpa: &Value) -> Result<Converted> {
    if str_at(hpa, "apiVersion") != Some("autoscaling/v1")
        || str_at(hpa, "kind") != Some("HorizontalPodAutoscaler")
    {
        return Err(Error::invalid(
            "apiVersion",
            "expected an autoscaling/v1 HorizontalPodAutoscaler",
        ));
    }
    let empty = Map::new();
    let spec = hpa.get("spec").and_then(Value::as_object).unwrap_or(&empty);
    let target = spec
        .get("scaleTargetRef")
        .filter(|t| t.is_object())
        .ok_or_else(|| Error::invalid("spec.scaleTargetRef", "must be set"))?;
    let max = spec
        .get("maxReplicas")
        .and_then(Value::as_i64)
        .ok_or_else(|| Error::invalid("spec.maxReplicas", "must be set"))?;
    let mut changes = vec!["apiVersion autoscaling/v1 → autoscaling/v2".to_owned()];

    let mut metadata = hpa.get("metadata").cloned().unwrap_or_else(|| json!({}));
    let mut annotations = metadata
        .get("annotations")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();

    let mut metrics = Vec::new();
    if let Some(text) = annotations.remove(METRICS_ANNOTATION) {
        let path = format!("metadata.annotations[{METRICS_ANNOTATION}]");
        let list: Vec<Value> = annotation_json(&text, &path)?;
        for (i, m) in list.iter().enumerate() {
            let converted = convert_metric(m, &format!("{path}[{i}]"))?;
            changes.push(format!(
                "metric {} from the {METRICS_ANNOTATION} annotation moved to spec.metrics[{i}]",
                describe(&converted)
            ));
            metrics.push(converted);
        }
    }
    match spec
        .get("targetCPUUtilizationPercentage")
        .and_then(Value::as_i64)
    {
        Some(pct) => {
            changes.push(format!(
                "targetCPUUtilizationPercentage {pct} became spec.metrics[{}]: Resource cpu Utilization {pct}",
                metrics.len()
            ));
            metrics.push(cpu_utilization(pct));
        }
        None if metrics.is_empty() => {
            changes.push(
                "no metric given: spec.metrics is the API default, Resource cpu Utilization 80"
                    .to_owned(),
            );
            metrics.push(cpu_utilization(80));
        }
        None => {}
    }
    for (i, m) in metrics.iter().enumerate() {
        let path = format!("spec.metrics[{i}]");
        let spec: MetricSpec = serde_json::from_value(m.clone())
            .map_err(|e| Error::invalid(path.clone(), format!("does not convert: {e}")))?;
        spec.validate(&path)?;
    }

    let mut behavior: Option<Value> = None;
    if let Some(text) = annotations.remove(BEHAVIOR_ANNOTATION) {
        let path = format!("metadata.annotations[{BEHAVIOR_ANNOTATION}]");
        let b: Value = annotation_json(&text, &path)?;
        changes.push(format!(
            "behavior from the {BEHAVIOR_ANNOTATION} annotation moved to spec.behavior"
        ));
        behavior = Some(b);
    }
    for (annotation, direction) in [
        (SCALE_UP_TOLERANCE_ANNOTATION, "scaleUp"),
        (SCALE_DOWN_TOLERANCE_ANNOTATION, "scaleDown"),
    ] {
        if let Some(text) = annotations.remove(annotation) {
            let q = text.as_str().unwrap_or_default().to_owned();
            let b = behavior.get_or_insert_with(|| json!({}));
            if let Some(obj) = b.as_object_mut() {
                let rules = obj.entry(direction).or_insert_with(|| json!({}));
                if let Some(r) = rules.as_object_mut() {
                    r.insert("tolerance".to_owned(), Value::String(q.clone()));
                }
            }
            changes.push(format!(
                "tolerance {q} from the {annotation} annotation moved to spec.behavior.{direction}.tolerance"
            ));
        }
    }
    if let Some(b) = &behavior {
        let parsed: HpaBehavior = serde_json::from_value(b.clone())
            .map_err(|e| Error::invalid("spec.behavior", format!("does not convert: {e}")))?;
        parsed.validate("spec.behavior")?;
        changes.push(
            "spec.behavior is set: scaling now follows the behavior rules (default scale-up max(2c, c + 4) per \
             15 s, stabilization windows), not the v1 legacy cap max(2c, 4) per sync"
                .to_owned(),
        );
    } else {
        changes.push(
            "spec.behavior stays unset: the legacy rules still hold (scale-up cap max(2c, 4) per sync, 5 min \
             downscale window); any behavior would switch to the v2 defaults (max(2c, c + 4) per 15 s)"
                .to_owned(),
        );
    }
    for a in [CURRENT_METRICS_ANNOTATION, CONDITIONS_ANNOTATION] {
        if annotations.remove(a).is_some() {
            changes.push(format!(
                "annotation {a} dropped: it is status, which the controller rewrites"
            ));
        }
    }
    if let Some(m) = metadata.as_object_mut() {
        if annotations.is_empty() {
            m.remove("annotations");
        } else {
            m.insert("annotations".to_owned(), Value::Object(annotations));
        }
        for volatile in [
            "resourceVersion",
            "uid",
            "creationTimestamp",
            "generation",
            "managedFields",
        ] {
            m.remove(volatile);
        }
    }
    if hpa.get("status").is_some() {
        changes.push("status dropped: the controller writes the v2 status".to_owned());
    }

    let mut out_spec = Map::new();
    out_spec.insert("scaleTargetRef".to_owned(), target.clone());
    if let Some(min) = spec.get("minReplicas") {
        out_spec.insert("minReplicas".to_owned(), min.clone());
    }
    out_spec.insert("maxReplicas".to_owned(), json!(max));
    out_spec.insert("metrics".to_owned(), Value::Array(metrics));
    if let Some(b) = behavior {
        out_spec.insert("behavior".to_owned(), b);
    }
    Ok(Converted {
        hpa: json!({
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": metadata,
            "spec": Value::Object(out_spec),
        }),
        changes,
    })
}

fn annotation_json<T: serde::de::DeserializeOwned>(text: &Value, path: &str) -> Result<T> {
    let s = text
        .as_str()
        .ok_or_else(|| Error::invalid(path, "must be a string"))?;
    serde_json::from_str(s).map_err(|e| Error::invalid(path, format!("invalid JSON: {e}")))
}

fn cpu_utilization(pct: i64) -> Value {
    json!({"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": pct}}})
}

fn describe(metric: &Value) -> String {
    serde_json::from_value::<MetricSpec>(metric.clone())
        .map_or_else(|_| "?".to_owned(), |m| m.display_name())
}

/// A target from v1 fields: the first present of `(field, type, v2 field)`.
fn target_of(src: &Value, options: &[(&str, &str, &str)], path: &str) -> Result<Value> {
    for (field, kind, v2) in options {
        if let Some(v) = src.get(*field).filter(|v| !v.is_null()) {
            return Ok(json!({"type": kind, *v2: v}));
        }
    }
    let names: Vec<&str> = options.iter().map(|o| o.0).collect();
    Err(Error::invalid(
        path,
        format!("must set one of {}", names.join(", ")),
    ))
}

fn metric_id(name: Option<&Value>, selector: Option<&Value>) -> Value {
    let mut id = Map::new();
    id.insert("name".to_owned(), name.cloned().unwrap_or(Value::Null));
    if let Some(s) = selector.filter(|s| !s.is_null()) {
        id.insert("selector".to_owned(), s.clone());
    }
    Value::Object(id)
}

/// One v1 (v2beta1-shaped) `MetricSpec` from the metrics annotation to its v2 form.
fn convert_metric(m: &Value, path: &str) -> Result<Value> {
    let kind =
        str_at(m, "type").ok_or_else(|| Error::invalid(format!("{path}.type"), "must be set"))?;
    let source = |key: &str| {
        m.get(key).ok_or_else(|| {
            Error::invalid(
                format!("{path}.{key}"),
                format!("must be set for type {kind}"),
            )
        })
    };
    Ok(match kind {
        "Resource" | "ContainerResource" => {
            let key = if kind == "Resource" {
                "resource"
            } else {
                "containerResource"
            };
            let s = source(key)?;
            let target = target_of(
                s,
                &[
                    (
                        "targetAverageUtilization",
                        "Utilization",
                        "averageUtilization",
                    ),
                    ("targetAverageValue", "AverageValue", "averageValue"),
                ],
                &format!("{path}.{key}"),
            )?;
            let mut out =
                json!({"name": s.get("name").cloned().unwrap_or(Value::Null), "target": target});
            if let (Some(c), Some(o)) = (s.get("container"), out.as_object_mut()) {
                o.insert("container".to_owned(), c.clone());
            }
            json!({"type": kind, key: out})
        }
        "Pods" => {
            let s = source("pods")?;
            let target = target_of(
                s,
                &[("targetAverageValue", "AverageValue", "averageValue")],
                &format!("{path}.pods"),
            )?;
            json!({"type": "Pods", "pods": {"metric": metric_id(s.get("metricName"), s.get("selector")), "target": target}})
        }
        "Object" => {
            let s = source("object")?;
            // An averageValue makes it an AverageValue target, else the targetValue is a Value target.
            let target = target_of(
                s,
                &[
                    ("averageValue", "AverageValue", "averageValue"),
                    ("targetValue", "Value", "value"),
                ],
                &format!("{path}.object"),
            )?;
            json!({"type": "Object", "object": {
                "describedObject": s.get("target").cloned().unwrap_or(Value::Null),
                "metric": metric_id(s.get("metricName"), s.get("selector")),
                "target": target}})
        }
        "External" => {
            let s = source("external")?;
            let target = target_of(
                s,
                &[
                    ("targetValue", "Value", "value"),
                    ("targetAverageValue", "AverageValue", "averageValue"),
                ],
                &format!("{path}.external"),
            )?;
            json!({"type": "External", "external": {
                "metric": metric_id(s.get("metricName"), s.get("metricSelector")),
                "target": target}})
        }
        other => {
            return Err(Error::invalid(
                format!("{path}.type"),
                format!("unknown metric type {other:?}"),
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v1(annotations: &Value, cpu: Option<i64>) -> Value {
        let mut spec = json!({"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                              "minReplicas": 2, "maxReplicas": 10});
        if let Some(c) = cpu {
            spec["targetCPUUtilizationPercentage"] = json!(c);
        }
        json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
               "metadata": {"name": "web", "namespace": "shop", "annotations": annotations},
               "spec": spec, "status": {"currentReplicas": 2, "desiredReplicas": 2}})
    }

    #[test]
    fn cpu_only() {
        let c = v1_to_v2(&v1(&json!({}), Some(70))).unwrap();
        assert_eq!(
            c.hpa["spec"]["metrics"],
            json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}])
        );
        assert_eq!(c.hpa["apiVersion"], "autoscaling/v2");
        assert!(c.hpa["metadata"].get("annotations").is_none());
        assert!(c.hpa.get("status").is_none());
        assert!(
            c.changes
                .iter()
                .any(|x| x.contains("legacy rules still hold"))
        );
    }

    #[test]
    fn no_metric_defaults_to_cpu_80() {
        let c = v1_to_v2(&v1(&json!({}), None)).unwrap();
        assert_eq!(
            c.hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
            80
        );
    }

    #[test]
    fn annotations_fold_into_fields() {
        let metrics = json!([
            {"type": "Pods", "pods": {"metricName": "qps", "targetAverageValue": "10"}},
            {"type": "Object", "object": {"target": {"kind": "Ingress", "name": "web"}, "metricName": "rps",
                                          "targetValue": "100", "averageValue": "20"}},
            {"type": "External", "external": {"metricName": "queue", "metricSelector": {"matchLabels": {"q": "a"}},
                                              "targetAverageValue": "30"}},
            {"type": "Resource", "resource": {"name": "memory", "targetAverageValue": "1Gi"}}
        ]);
        let annotations = json!({
            METRICS_ANNOTATION: metrics.to_string(),
            BEHAVIOR_ANNOTATION: json!({"scaleDown": {"stabilizationWindowSeconds": 60}}).to_string(),
            SCALE_UP_TOLERANCE_ANNOTATION: "50m",
            CONDITIONS_ANNOTATION: "[]",
            "team": "shop"
        });
        let c = v1_to_v2(&v1(&annotations, Some(60))).unwrap();
        let m = &c.hpa["spec"]["metrics"];
        assert_eq!(m.as_array().map(Vec::len), Some(5));
        assert_eq!(
            m[0]["pods"]["target"],
            json!({"type": "AverageValue", "averageValue": "10"})
        );
        assert_eq!(
            m[1]["object"]["target"],
            json!({"type": "AverageValue", "averageValue": "20"})
        );
        assert_eq!(
            m[2]["external"]["metric"]["selector"],
            json!({"matchLabels": {"q": "a"}})
        );
        assert_eq!(
            m[3]["resource"]["target"],
            json!({"type": "AverageValue", "averageValue": "1Gi"})
        );
        assert_eq!(m[4]["resource"]["name"], "cpu");
        assert_eq!(
            c.hpa["spec"]["behavior"],
            json!({"scaleDown": {"stabilizationWindowSeconds": 60}, "scaleUp": {"tolerance": "50m"}})
        );
        assert_eq!(c.hpa["metadata"]["annotations"], json!({"team": "shop"}));
        assert!(c.changes.iter().any(|x| x.contains("behavior rules")));
    }

    #[test]
    fn bad_annotations_name_their_path() {
        let err = v1_to_v2(&v1(
            &json!({METRICS_ANNOTATION: "[{\"type\": \"Magic\"}]"}),
            None,
        ))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "metadata.annotations[{METRICS_ANNOTATION}][0].type: unknown metric type \"Magic\""
            )
        );
        let err = v1_to_v2(&v1(&json!({METRICS_ANNOTATION: "not json"}), None)).unwrap_err();
        assert!(err.to_string().contains("invalid JSON"));
        let mut no_max = v1(&json!({}), None);
        no_max["spec"]
            .as_object_mut()
            .unwrap()
            .remove("maxReplicas");
        assert_eq!(
            v1_to_v2(&no_max).unwrap_err().to_string(),
            "spec.maxReplicas: must be set"
        );
    }
}
