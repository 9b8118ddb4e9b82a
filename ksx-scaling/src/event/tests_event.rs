//! Unit tests of the event core: model accessors and annotations, validation paths, the JSON Schema, the
//! executor, fallback (the spec's example), the HPA bridge and ScaledJob.

use serde_json::{Value, json};

use super::executor::{Action, TriggerPoll, execute, format_time, parse_time};
use super::fallback::{serve, update_health};
use super::hpa_bridge::{GeneratedHpa, ScaleInput, generate_hpa, scale};
use super::job::{Calculation, Strategy, combine, decide_jobs};
use super::model::{
    ScaledJob, ScaledObject, ScaledObjectStatus, scaled_job_schema, scaled_object_schema,
};
use super::scaler::{MetricSpec, MetricType, Reading, ScalerError};
use super::validate::{validate_scaled_job, validate_scaled_object};
use crate::hpa::History;
use crate::hpa::model::MetricSourceType;

const NOW: i64 = 1_800_000_000 * 1_000_000_000;
const SEC: i64 = 1_000_000_000;

fn so(v: Value) -> ScaledObject {
    serde_json::from_value(v).expect("ScaledObject")
}

fn base(extra: Value) -> ScaledObject {
    let mut v = json!({
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "worker", "namespace": "jobs", "creationTimestamp": "2027-01-15T08:00:00Z"},
        "spec": {
            "scaleTargetRef": {"name": "worker"},
            "triggers": [{"type": "redis", "name": "q", "metadata": {"listName": "jobs", "listLength": "5"}}]
        }
    });
    merge(&mut v, extra);
    so(v)
}

fn merge(a: &mut Value, b: Value) {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(Value::Null), v);
            }
        }
        (a, b) => *a = b,
    }
}

fn metric(name: &str, target: f64) -> MetricSpec {
    MetricSpec {
        metric_name: name.to_owned(),
        metric_type: MetricType::AverageValue,
        target,
        activation: 0.0,
    }
}

fn ok(name: &str, target: f64, value: f64) -> TriggerPoll {
    TriggerPoll {
        metric: metric(name, target),
        result: Ok(Reading {
            value,
            active: value > 0.0,
        }),
    }
}

fn fail(name: &str, target: f64) -> TriggerPoll {
    TriggerPoll {
        metric: metric(name, target),
        result: Err(ScalerError::new(
            "redis list \"jobs\"",
            "connection refused",
        )),
    }
}

fn cond<'a>(st: &'a ScaledObjectStatus, t: &str) -> (&'a str, &'a str) {
    let c = st
        .conditions
        .iter()
        .find(|c| c.type_ == t)
        .unwrap_or_else(|| panic!("no {t} condition"));
    (c.status.as_str(), c.reason.as_deref().unwrap_or(""))
}

#[test]
fn accessors_apply_upstream_defaults() {
    let o = base(json!({}));
    assert_eq!(o.polling_interval_secs(), 30);
    assert_eq!(o.cooldown_period_secs(), 300);
    assert_eq!(o.initial_cooldown_period_secs(), 0);
    assert_eq!((o.min_replica_count(), o.max_replica_count()), (0, 100));
    assert_eq!(o.hpa_min_replicas(), 1);
    assert_eq!(o.hpa_name(), "keda-hpa-worker");
    let o = base(json!({"spec": {"minReplicaCount": 3,
        "advanced": {"horizontalPodAutoscalerConfig": {"name": "mine"}}}}));
    assert_eq!((o.hpa_min_replicas(), o.hpa_name().as_str()), (3, "mine"));
}

#[test]
fn bool_annotations_treat_unparsable_as_true() {
    let with = |k: &str, v: &str| base(json!({"metadata": {"annotations": {k: v}}}));
    assert!(with("autoscaling.keda.sh/paused", "true").is_paused());
    assert!(!with("autoscaling.keda.sh/paused", "false").is_paused());
    assert!(!with("autoscaling.keda.sh/paused", "0").is_paused());
    assert!(with("autoscaling.keda.sh/paused", "yes please").is_paused());
    assert!(with("autoscaling.keda.sh/paused-scale-in", "T").is_scale_in_paused());
    assert!(with("autoscaling.keda.sh/force-activation", "").is_force_activated());
    let p = with("autoscaling.keda.sh/paused-replicas", "4");
    assert!(p.is_paused(), "paused-replicas implies paused");
    assert_eq!(p.paused_replicas().unwrap(), Some(4));
    let bad = with("autoscaling.keda.sh/paused-replicas", "four");
    assert!(
        bad.paused_replicas()
            .unwrap_err()
            .to_string()
            .contains("paused-replicas")
    );
}

fn fields(o: &ScaledObject) -> Vec<String> {
    validate_scaled_object(o)
        .into_iter()
        .map(|e| e.field)
        .collect()
}

#[test]
fn validation_names_the_json_path() {
    assert!(
        fields(&base(json!({}))).is_empty(),
        "{:?}",
        validate_scaled_object(&base(json!({})))
    );
    let o =
        base(json!({"spec": {"minReplicaCount": 5, "maxReplicaCount": 2, "idleReplicaCount": 5}}));
    assert_eq!(
        fields(&o),
        ["spec.minReplicaCount", "spec.idleReplicaCount"]
    );
    let o = base(json!({"spec": {"triggers": [
        {"type": "redis", "name": "q", "metadata": {}},
        {"type": "redis", "name": "q", "metricType": "Utilization", "metadata": {}},
        {"type": "cpu", "metricType": "Value", "metadata": {"value": "50"}},
        {"type": "memory", "metadata": {"type": "Utilization", "value": "-1"}}
    ]}}));
    assert_eq!(
        fields(&o),
        [
            "spec.triggers[1].name",
            "spec.triggers[1].metricType",
            "spec.triggers[2].metricType",
            "spec.triggers[3].metadata.type",
            "spec.triggers[3].metadata.value",
        ]
    );
    let o = base(json!({"spec": {"triggers": []}}));
    assert_eq!(fields(&o), ["spec.triggers"]);
    let o = base(
        json!({"spec": {"triggers": [{"type": "cpu", "metricType": "Utilization", "metadata": {"value": "60"}}]}}),
    );
    assert_eq!(fields(&o), ["spec.minReplicaCount"], "cpu-only with min 0");
    let long = "x".repeat(64);
    let o = base(json!({"metadata": {"name": long}}));
    assert_eq!(fields(&o), ["metadata.name"]);
}

#[test]
fn validation_of_modifiers_and_fallback() {
    let o = base(json!({"spec": {
        "triggers": [
            {"type": "redis", "name": "a", "metadata": {}},
            {"type": "redis", "metadata": {}},
            {"type": "cpu", "name": "c", "metricType": "Utilization", "metadata": {"value": "50"}}
        ],
        "advanced": {"scalingModifiers": {"formula": "a + c +", "target": "0", "metricType": "Utilization"}},
        "fallback": {"failureThreshold": -1, "replicas": -2}
    }}));
    let errs = validate_scaled_object(&o);
    let got: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        got,
        [
            "spec.advanced.scalingModifiers.formula",
            "spec.advanced.scalingModifiers.target",
            "spec.advanced.scalingModifiers.metricType",
            "spec.triggers[1].name",
            "spec.fallback.failureThreshold",
            "spec.fallback.replicas",
        ]
    );
    assert!(errs[0].reason.contains("at byte 7"), "{}", errs[0].reason);
    let o = base(json!({"spec": {"triggers": [
            {"type": "redis", "name": "a", "metadata": {}},
            {"type": "cpu", "name": "c", "metricType": "Utilization", "metadata": {"value": "50"}}],
        "advanced": {"scalingModifiers": {"formula": "a + c", "target": "5"}}}}));
    let errs = validate_scaled_object(&o);
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].reason.contains("unknown name \"c\""),
        "{}",
        errs[0].reason
    );
    // `queue-a` parses as `queue - a`: both names are unknown, and the message says why.
    let o = base(
        json!({"spec": {"triggers": [{"type": "redis", "name": "queue-a", "metadata": {}}],
        "advanced": {"scalingModifiers": {"formula": "queue-a", "target": "5"}}}}),
    );
    let errs = validate_scaled_object(&o);
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(
        errs[0].reason.contains("unknown name \"a\""),
        "{}",
        errs[0].reason
    );
    assert!(
        errs[1].reason.contains("reads '-' as minus"),
        "{}",
        errs[1].reason
    );
}

#[test]
fn scaled_job_validation() {
    let sj: ScaledJob = serde_json::from_value(json!({
        "metadata": {"name": "batch"},
        "spec": {"jobTargetRef": {"template": {}}, "minReplicaCount": 3, "maxReplicaCount": 1,
                 "triggers": [{"type": "redis", "metadata": {}}]}
    }))
    .unwrap();
    let got: Vec<String> = validate_scaled_job(&sj)
        .into_iter()
        .map(|e| e.field)
        .collect();
    assert_eq!(got, ["spec.minReplicaCount"]);
}

// ---- JSON Schema, checked by a small validator for the keywords schemars emits ----

fn resolve<'a>(root: &'a Value, s: &'a Value) -> &'a Value {
    match s.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let ptr = r.trim_start_matches('#');
            resolve(
                root,
                root.pointer(ptr).unwrap_or_else(|| panic!("dangling {r}")),
            )
        }
        None => s,
    }
}

fn type_ok(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        other => panic!("unknown type {other}"),
    }
}

fn check(root: &Value, schema: &Value, v: &Value, path: &str) -> Result<(), String> {
    let s = resolve(root, schema);
    if s == &Value::Bool(true) || s.as_object().is_some_and(serde_json::Map::is_empty) {
        return Ok(());
    }
    if let Some(alts) = s
        .get("anyOf")
        .or_else(|| s.get("oneOf"))
        .and_then(Value::as_array)
        && !alts.iter().any(|a| check(root, a, v, path).is_ok())
    {
        return Err(format!("{path}: no alternative matches {v}"));
    }
    if let Some(t) = s.get("type") {
        let ok = match t {
            Value::String(t) => type_ok(t, v),
            Value::Array(ts) => ts.iter().any(|t| type_ok(t.as_str().unwrap_or(""), v)),
            _ => true,
        };
        if !ok {
            return Err(format!("{path}: {v} is not of type {t}"));
        }
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array)
        && !e.contains(v)
    {
        return Err(format!("{path}: {v} not in {e:?}"));
    }
    if let Some(c) = s.get("const")
        && c != v
    {
        return Err(format!("{path}: {v} is not {c}"));
    }
    if let (Some(obj), Some(o)) = (v.as_object(), s.as_object()) {
        for r in o
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let r = r.as_str().unwrap_or("");
            if !obj.contains_key(r) {
                return Err(format!("{path}: missing required {r}"));
            }
        }
        let props = o.get("properties").and_then(Value::as_object);
        for (k, val) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(ps) => check(root, ps, val, &format!("{path}.{k}"))?,
                None => {
                    if let Some(ap) = o.get("additionalProperties") {
                        if ap == &Value::Bool(false) {
                            return Err(format!("{path}: unknown field {k}"));
                        }
                        check(root, ap, val, &format!("{path}.{k}"))?;
                    }
                }
            }
        }
    }
    if let (Some(items), Some(arr)) = (s.get("items"), v.as_array()) {
        for (i, x) in arr.iter().enumerate() {
            check(root, items, x, &format!("{path}[{i}]"))?;
        }
    }
    Ok(())
}

fn sample() -> Value {
    json!({
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "worker", "annotations": {"autoscaling.keda.sh/paused": "false"}},
        "spec": {
            "scaleTargetRef": {"name": "worker", "kind": "StatefulSet", "apiVersion": "apps/v1"},
            "pollingInterval": 15, "cooldownPeriod": 120, "initialCooldownPeriod": 60,
            "idleReplicaCount": 0, "minReplicaCount": 1, "maxReplicaCount": 20,
            "advanced": {
                "restoreToOriginalReplicaCount": true,
                "horizontalPodAutoscalerConfig": {"name": "h", "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}},
                "scalingModifiers": {"formula": "a + b", "target": "10", "activationTarget": "1", "metricType": "AverageValue"}
            },
            "triggers": [
                {"type": "redis", "name": "a", "metadata": {"listName": "x"}, "authenticationRef": {"name": "auth"}, "useCachedMetrics": true},
                {"type": "postgresql", "name": "b", "metricType": "Value", "metadata": {"query": "select 1"}}
            ],
            "fallback": {"failureThreshold": 3, "replicas": 6, "behavior": "currentReplicasIfHigher"}
        },
        "status": {"lastActiveTime": "2027-01-15T08:00:00Z", "health": {"s0-redis-x": {"numberOfFailures": 1, "status": "Failing"}}}
    })
}

#[test]
fn schema_accepts_a_sample_and_lists_the_fields() {
    let schema = scaled_object_schema();
    let v = sample();
    check(&schema, &schema, &v, "$").unwrap();
    let _: ScaledObject = serde_json::from_value(v.clone()).expect("the sample is a ScaledObject");
    let spec = resolve(&schema, &schema["properties"]["spec"]);
    let mut props: Vec<&str> = spec["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    props.sort_unstable();
    assert_eq!(
        props,
        [
            "advanced",
            "cooldownPeriod",
            "fallback",
            "idleReplicaCount",
            "initialCooldownPeriod",
            "maxReplicaCount",
            "minReplicaCount",
            "pollingInterval",
            "scaleTargetRef",
            "triggers"
        ]
    );
    assert_eq!(spec["required"], json!(["scaleTargetRef"]));
    // The validator does refuse: a wrong type and a bad enum value.
    let mut bad = sample();
    bad["spec"]["minReplicaCount"] = json!("one");
    assert!(
        check(&schema, &schema, &bad, "$")
            .unwrap_err()
            .contains("minReplicaCount")
    );
    let mut bad = sample();
    bad["spec"]["fallback"]["behavior"] = json!("sometimes");
    assert!(check(&schema, &schema, &bad, "$").is_err());
    let job = scaled_job_schema();
    let sj = json!({"spec": {"jobTargetRef": {"template": {}}, "triggers": [{"type": "redis", "metadata": {}}],
        "scalingStrategy": {"strategy": "accurate", "pendingPodConditions": ["Ready"]}}});
    check(&job, &job, &sj, "$").unwrap();
}

// ---- executor ----

#[test]
fn time_round_trips_at_second_precision() {
    let t = format_time(NOW + 999_999_999);
    assert_eq!(t, "2027-01-15T08:00:00Z");
    assert_eq!(parse_time(&t, "x").unwrap(), NOW);
    assert!(
        parse_time("yesterday", "status.lastActiveTime")
            .unwrap_err()
            .to_string()
            .starts_with("status.lastActiveTime")
    );
}

#[test]
fn activation_from_zero_and_cooldown_jump() {
    let o = base(json!({"spec": {"cooldownPeriod": 60}}));
    let d = execute(
        &o,
        0,
        &[ok("s0-redis-jobs", 5.0, 12.0)],
        NOW,
        &ScaledObjectStatus::default(),
    )
    .unwrap();
    assert_eq!(
        (d.action, d.target_replicas),
        (Action::ScaleFromZero, Some(1))
    );
    assert_eq!(
        d.status.last_active_time.as_deref(),
        Some("2027-01-15T08:00:00Z")
    );
    assert_eq!(cond(&d.status, "Active"), ("True", "ScalerActive"));
    assert_eq!(cond(&d.status, "Ready"), ("True", "ScaledObjectReady"));
    // Inactive 60 s later: not strictly after the cooldown yet.
    let st = d.status;
    let d = execute(&o, 7, &[ok("s0-redis-jobs", 5.0, 0.0)], NOW + 60 * SEC, &st).unwrap();
    assert_eq!((d.action, d.target_replicas), (Action::Cooldown, None));
    assert_eq!(cond(&d.status, "Active"), ("False", "ScalerCooldown"));
    // One nanosecond later: 7 → 0 in one step.
    let d = execute(
        &o,
        7,
        &[ok("s0-redis-jobs", 5.0, 0.0)],
        NOW + 60 * SEC + 1,
        &st,
    )
    .unwrap();
    assert_eq!(
        (d.action, d.target_replicas),
        (Action::ScaleToIdle, Some(0))
    );
}

#[test]
fn partial_error_keeps_last_active_time() {
    let o = base(
        json!({"spec": {"fallback": {"failureThreshold": 3, "replicas": 2}, "triggers": [
        {"type": "redis", "metadata": {}}, {"type": "redis", "metadata": {}}]}}),
    );
    let st = ScaledObjectStatus {
        last_active_time: Some("2027-01-15T07:00:00Z".into()),
        ..Default::default()
    };
    let d = execute(&o, 3, &[ok("s0-a", 5.0, 9.0), fail("s1-b", 5.0)], NOW, &st).unwrap();
    assert_eq!(d.action, Action::PartialTriggerError);
    assert_eq!(d.status.last_active_time, st.last_active_time);
    assert_eq!(cond(&d.status, "Ready"), ("Unknown", "PartialTriggerError"));
    assert_eq!(d.status.health["s1-b"].number_of_failures, 1);
    assert_eq!(d.status.health["s0-a"].status, "Happy");
    // Without a fallback no health is tracked (upstream skips the update); stale entries are dropped with one.
    let plain = base(json!({}));
    let d = execute(&plain, 3, &[fail("s0-redis-jobs", 5.0)], NOW, &st).unwrap();
    assert!(d.status.health.is_empty());
    assert!(d.status.conditions.iter().all(|c| c.type_ != "Fallback"));
    let mut stale = st.clone();
    stale.health.insert(
        "s9-gone".into(),
        super::model::HealthStatus {
            number_of_failures: 7,
            status: "Failing".into(),
        },
    );
    let d = execute(
        &o,
        3,
        &[ok("s0-a", 5.0, 9.0), ok("s1-b", 5.0, 1.0)],
        NOW,
        &stale,
    )
    .unwrap();
    assert_eq!(d.status.health.keys().collect::<Vec<_>>(), ["s0-a", "s1-b"]);
    assert_eq!(cond(&d.status, "Fallback"), ("False", "NoFallbackFound"));
}

#[test]
fn polls_must_match_triggers() {
    let o = base(json!({}));
    let e = execute(&o, 1, &[], NOW, &ScaledObjectStatus::default()).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("spec.triggers: 0 poll results for 1 triggers")
    );
}

// ---- fallback ----

#[test]
fn spec_example_third_failure_serves_300() {
    // Threshold 2, replicas 6, target 50: failures 1 and 2 reach the HPA as errors; the third serves 50 × 6.
    let o = base(json!({"spec": {"fallback": {"failureThreshold": 2, "replicas": 6}}}));
    let mut st = ScaledObjectStatus::default();
    let polls = [fail("s0-redis-jobs", 50.0)];
    let mut served = Vec::new();
    for _ in 0..3 {
        update_health(&o, &polls, &mut st);
        served.push(serve(&o, &polls, &st, 3, 3).remove(0));
    }
    assert!(served[0].value.is_err() && served[1].value.is_err());
    assert_eq!(served[2].value, Ok(300_000), "milli-units");
    assert!(served[2].fallback);
    // The HPA lands on 6: ceil(300 / 50) (from 3 the legacy cap max(2 × 3, 4) = 6 does not bind).
    let hpa = generate_hpa(&o, &[metric("s0-redis-jobs", 50.0)]).unwrap();
    let d = scale(
        &hpa,
        &mut History::default(),
        &ScaleInput {
            now: NOW,
            current_replicas: 3,
            status_replicas: 3,
            pods: &[],
            pod_samples: &[],
            served: &served[2..],
        },
    )
    .unwrap();
    assert_eq!(d.desired_replicas, 6);
}

// ---- HPA bridge ----

#[test]
fn generated_hpa_sorts_metrics_and_uses_the_composite() {
    let o = base(json!({"spec": {"minReplicaCount": 0, "maxReplicaCount": 30,
        "triggers": [
            {"type": "redis", "name": "a", "metadata": {}},
            {"type": "memory", "metricType": "AverageValue", "metadata": {"value": "512Mi", "containerName": "app"}},
            {"type": "cpu", "metricType": "Utilization", "metadata": {"value": "60"}},
            {"type": "redis", "name": "b", "metadata": {}}
        ],
        "advanced": {"scalingModifiers": {"formula": "a + b", "target": "2.5", "metricType": "Value"}}}}));
    let m = [
        metric("s0-redis-a", 5.0),
        metric("", 0.0),
        metric("", 0.0),
        metric("s3-redis-b", 5.0),
    ];
    let hpa: GeneratedHpa = generate_hpa(&o, &m).unwrap();
    assert_eq!((hpa.min_replicas, hpa.max_replicas), (1, 30));
    // Upstream keeps only Resource specs beside the composite (the ContainerResource one is dropped) and
    // appends the composite last.
    let types: Vec<MetricSourceType> = hpa.metrics.iter().map(|m| m.source_type).collect();
    assert_eq!(
        types,
        [MetricSourceType::Resource, MetricSourceType::External]
    );
    let v = serde_json::to_value(&hpa.metrics[1]).unwrap();
    assert_eq!(
        v,
        json!({"type": "External", "external": {
            "metric": {"name": "composite-metric", "selector": {"matchLabels": {"scaledobject.keda.sh/name": "worker"}}},
            "target": {"type": "Value", "value": "2500m"}}})
    );
}

#[test]
fn generated_hpa_without_modifiers_sorts_by_type_and_refuses_duplicates() {
    let o = base(json!({"spec": {"minReplicaCount": 2, "triggers": [
        {"type": "redis", "metadata": {}},
        {"type": "memory", "metricType": "AverageValue", "metadata": {"value": "512Mi", "containerName": "app"}},
        {"type": "cpu", "metricType": "Utilization", "metadata": {"value": "60"}},
        {"type": "redis", "metricType": "Value", "metadata": {}}
    ]}}));
    let m = [
        metric("s0-redis-a", 5.0),
        metric("", 0.0),
        metric("", 0.0),
        metric("s3-redis-b", 0.25),
    ];
    let hpa = generate_hpa(&o, &m).unwrap();
    assert_eq!(
        (hpa.name.as_str(), hpa.min_replicas, hpa.max_replicas),
        ("keda-hpa-worker", 2, 100)
    );
    let v = serde_json::to_value(&hpa.metrics).unwrap();
    assert_eq!(v[0]["type"], "ContainerResource");
    assert_eq!(
        v[0]["containerResource"],
        json!({"name": "memory", "container": "app",
        "target": {"type": "AverageValue", "averageValue": "512Mi"}})
    );
    assert_eq!(v[1]["external"]["metric"]["name"], "s0-redis-a");
    assert_eq!(
        v[1]["external"]["target"],
        json!({"type": "AverageValue", "averageValue": "5"})
    );
    assert_eq!(
        v[2]["external"]["target"],
        json!({"type": "Value", "value": "250m"})
    );
    assert_eq!(
        v[3]["resource"],
        json!({"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}})
    );
    let dup = [
        metric("s0-redis-a", 5.0),
        metric("", 0.0),
        metric("", 0.0),
        metric("s0-redis-a", 1.0),
    ];
    let e = generate_hpa(&o, &dup).unwrap_err().to_string();
    assert_eq!(
        e,
        "spec.triggers[3]: metricName s0-redis-a defined multiple times in ScaledObject worker"
    );
}

#[test]
fn scale_takes_the_largest_proposal_over_resource_and_external_metrics() {
    use crate::hpa::pod::{
        ConditionStatus, ContainerRequests, PodInfo, PodPhase, PodSample, ReadyCondition,
    };
    use std::collections::BTreeMap;
    // cpu: 2 pods requesting 1000m each use 900m each → utilization 90 % against 60 % → ratio 1.5 →
    // ceil(1.5 × 2) = 3. redis: 4 against AverageValue 5 → ceil(4 / 5) = 1. The largest, 3, wins; the legacy
    // cap max(2 × 2, 4) = 4 does not bind.
    let o = base(json!({"spec": {"minReplicaCount": 1, "triggers": [
        {"type": "cpu", "metricType": "Utilization", "metadata": {"value": "60"}},
        {"type": "redis", "metadata": {}}]}}));
    let specs = [metric("", 0.0), metric("s1-redis-jobs", 5.0)];
    let hpa = generate_hpa(&o, &specs).unwrap();
    let start = NOW - 3600 * SEC;
    let pods: Vec<PodInfo> = (0..2)
        .map(|i| PodInfo {
            name: format!("w-{i}"),
            phase: PodPhase::Running,
            start_time: Some(start),
            ready: Some(ReadyCondition {
                status: ConditionStatus::True,
                last_transition: start + 10 * SEC,
            }),
            containers: vec![ContainerRequests {
                name: "app".into(),
                requests: BTreeMap::from([("cpu".to_owned(), 1000)]),
            }],
            ..PodInfo::default()
        })
        .collect();
    let samples: Vec<PodSample> = (0..2)
        .map(|i| PodSample {
            pod: format!("w-{i}"),
            timestamp: NOW - 30 * SEC,
            window: 30 * SEC,
            value: 900,
            containers: BTreeMap::new(),
        })
        .collect();
    let polls = [
        TriggerPoll {
            metric: metric("", 0.0),
            result: Ok(Reading {
                value: 0.0,
                active: true,
            }),
        },
        ok("s1-redis-jobs", 5.0, 4.0),
    ];
    let served = serve(&o, &polls, &ScaledObjectStatus::default(), 2, 2);
    assert_eq!(served.len(), 1, "cpu is not an External metric");
    let d = scale(
        &hpa,
        &mut History::default(),
        &ScaleInput {
            now: NOW,
            current_replicas: 2,
            status_replicas: 2,
            pods: &pods,
            pod_samples: &samples,
            served: &served,
        },
    )
    .unwrap();
    assert_eq!(d.desired_replicas, 3);
    assert!(
        d.conditions[1]
            .message
            .ends_with("cpu resource utilization (percentage of request)")
    );
}

#[test]
fn paused_scale_in_disables_scale_down() {
    let o =
        base(json!({"metadata": {"annotations": {"autoscaling.keda.sh/paused-scale-in": "true"}}}));
    let hpa = generate_hpa(&o, &[metric("s0-redis-jobs", 5.0)]).unwrap();
    let b = serde_json::to_value(hpa.behavior).unwrap();
    assert_eq!(b, json!({"scaleDown": {"selectPolicy": "Disabled"}}));
}

// ---- ScaledJob ----

#[test]
fn job_min_quirk_and_strategies() {
    let m = |q: f64, active: bool| super::job::ScalerMetrics {
        queue_length: q,
        max_value: q,
        is_active: active,
    };
    // min: the active 0 is overwritten by the next active queue, 7.
    let (active, scale_to, _, _) = combine(
        &[m(0.0, true), m(7.0, true), m(9.0, true)],
        Calculation::Min,
        0,
        100,
    );
    assert_eq!((active, scale_to), (true, 7));
    // max: an active trigger with queue 0 does not activate.
    assert!(!combine(&[m(0.0, true)], Calculation::Max, 0, 100).0);
    assert_eq!(Strategy::Eager.effective_max_scale(3, 2, 1, 10, 3), (3, 10));
    assert_eq!(
        Strategy::Accurate.effective_max_scale(8, 4, 1, 10, 8),
        (6, 8)
    );
    let sj: ScaledJob = serde_json::from_value(json!({"spec": {"maxReplicaCount": 10,
        "triggers": [{"type": "redis", "metadata": {}}]}}))
    .unwrap();
    // queue 12, target 2: maxValue min(6, 10) = 6; 2 running → default creates min(12, 6 − 2) = 4.
    let d = decide_jobs(&sj, &[ok("s0-redis-jobs", 2.0, 12.0)], 2, 0);
    assert_eq!(
        (d.scale_to, d.max_scale, d.effective_max_scale, d.create),
        (12, 6, 4, 4)
    );
}
