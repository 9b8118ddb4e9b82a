//! Golden cases of the KEDA-style event core (`ksx_scaling::event`): activation, fallback, scalingModifiers and
//! ScaledJob. Each file under `tests/golden/event/` holds `{"cases": [{name, why, input, expected}]}`, the
//! `why` being the hand computation from `shared/spec/scaling.md` §5; the engine's summary is compared as parsed
//! JSON. `KSX_UPDATE_GOLDEN=1` rewrites `expected` instead (review the diff like code).
//!
//! ScaledObject input: `scaledObject`, `currentReplicas`, `now` (RFC 3339), `status`, `polls` (one per trigger:
//! `{metric, target, value, active}` or `{metric, target, error}`; `active` defaults to `value > 0`),
//! optional `readyPods` (default `currentReplicas`) and `hpa: true` to run the served values through the
//! generated HPA with a fresh history. ScaledJob input: `scaledJob`, `polls`, `running`, `pending`.

use std::collections::BTreeMap;
use std::path::Path;

use ksx_scaling::event::executor::{TriggerPoll, execute, parse_time};
use ksx_scaling::event::fallback::serve;
use ksx_scaling::event::hpa_bridge::{ScaleInput, generate_hpa, scale};
use ksx_scaling::event::job::decide_jobs;
use ksx_scaling::event::model::{ScaledJob, ScaledObject, ScaledObjectStatus};
use ksx_scaling::event::scaler::{MetricSpec, MetricType, Reading, ScalerError};
use ksx_scaling::hpa::History;
use ksx_scaling::hpa::pod::{ConditionStatus, PodInfo, PodPhase, ReadyCondition};
use serde_json::{Value, json};

fn polls(v: &Value) -> Vec<TriggerPoll> {
    v.as_array()
        .expect("polls is an array")
        .iter()
        .map(|p| {
            let metric = MetricSpec {
                metric_name: p["metric"].as_str().unwrap_or("").to_owned(),
                metric_type: MetricType::AverageValue,
                target: p["target"].as_f64().unwrap_or(0.0),
                activation: 0.0,
            };
            let result = match p.get("error").and_then(Value::as_str) {
                Some(e) => Err(ScalerError::new(
                    format!("trigger {}", metric.metric_name),
                    e,
                )),
                None => {
                    let value = p["value"].as_f64().expect("value or error");
                    let active = p
                        .get("active")
                        .and_then(Value::as_bool)
                        .unwrap_or(value > 0.0);
                    Ok(Reading { value, active })
                }
            };
            TriggerPoll { metric, result }
        })
        .collect()
}

fn ready_pods(n: i64) -> Vec<PodInfo> {
    (0..n)
        .map(|i| PodInfo {
            name: format!("pod-{i:03}"),
            phase: PodPhase::Running,
            start_time: Some(0),
            ready: Some(ReadyCondition {
                status: ConditionStatus::True,
                last_transition: 0,
            }),
            ..PodInfo::default()
        })
        .collect()
}

fn scaled_object_case(input: &Value) -> Value {
    let so: ScaledObject =
        serde_json::from_value(input["scaledObject"].clone()).expect("scaledObject");
    let status: ScaledObjectStatus =
        serde_json::from_value(input.get("status").cloned().unwrap_or(json!({}))).expect("status");
    let current =
        i32::try_from(input["currentReplicas"].as_i64().expect("currentReplicas")).expect("i32");
    let now = parse_time(input["now"].as_str().expect("now"), "now").expect("now");
    let polls = polls(&input["polls"]);
    let d = match execute(&so, current, &polls, now, &status) {
        Ok(d) => d,
        Err(e) => return json!({"error": e.to_string()}),
    };
    let conditions: BTreeMap<&str, String> = d
        .status
        .conditions
        .iter()
        .map(|c| {
            (
                c.type_.as_str(),
                format!("{} {}", c.status, c.reason.as_deref().unwrap_or("")),
            )
        })
        .collect();
    let health: BTreeMap<&str, String> = d
        .status
        .health
        .iter()
        .map(|(k, h)| (k.as_str(), format!("{} {}", h.number_of_failures, h.status)))
        .collect();
    let mut out = json!({
        "action": d.action,
        "targetReplicas": d.target_replicas,
        "active": d.active,
        "error": d.error,
        "lastActiveTime": d.status.last_active_time,
        "pausedReplicaCount": d.status.paused_replica_count,
        "deleteHpa": d.delete_hpa,
        "conditions": conditions,
        "health": health,
    });
    if let Some(c) = d.composite {
        out["composite"] = json!(c);
    }
    if input.get("hpa").and_then(Value::as_bool) == Some(true) {
        let ready = input
            .get("readyPods")
            .and_then(Value::as_i64)
            .unwrap_or(i64::from(current));
        let pods = ready_pods(ready);
        let ready = i32::try_from(ready).expect("i32");
        let served = serve(&so, &polls, &d.status, current, ready);
        out["served"] = served
            .iter()
            .map(|s| match &s.value {
                Ok(v) => json!({"name": s.name, "value": v, "fallback": s.fallback}),
                Err(e) => json!({"name": s.name, "error": e}),
            })
            .collect();
        let specs: Vec<MetricSpec> = polls.iter().map(|p| p.metric.clone()).collect();
        let hpa = generate_hpa(&so, &specs).expect("generate the HPA");
        let result = scale(
            &hpa,
            &mut History::default(),
            &ScaleInput {
                now,
                current_replicas: current,
                status_replicas: current,
                pods: &pods,
                pod_samples: &[],
                served: &served,
            },
        );
        out["hpaReplicas"] = match result {
            Ok(r) => json!(r.desired_replicas),
            Err(e) => json!(format!("error: {e}")),
        };
    }
    out
}

fn scaled_job_case(input: &Value) -> Value {
    let sj: ScaledJob = serde_json::from_value(input["scaledJob"].clone()).expect("scaledJob");
    let polls = polls(&input["polls"]);
    let running = input["running"].as_i64().unwrap_or(0);
    let pending = input["pending"].as_i64().unwrap_or(0);
    let d = decide_jobs(&sj, &polls, running, pending);
    json!({
        "active": d.active,
        "queueLength": d.queue_length,
        "scaleTo": d.scale_to,
        "maxScale": d.max_scale,
        "effectiveMaxScale": d.effective_max_scale,
        "strategy": d.strategy,
        "create": d.create,
    })
}

#[test]
fn event_golden_cases() {
    let update = std::env::var("KSX_UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/event");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("golden directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 4,
        "golden files missing in {}",
        dir.display()
    );
    let mut failures = Vec::new();
    let mut count = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read");
        let mut doc: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not JSON: {e}", file.display()));
        let cases = doc["cases"].as_array_mut().expect("cases");
        for case in cases.iter_mut() {
            count += 1;
            let name = case["name"].as_str().unwrap_or("?").to_owned();
            assert!(
                case["why"].as_str().is_some_and(|w| !w.is_empty()),
                "{name}: every case explains its expectation in \"why\""
            );
            let input = &case["input"];
            let got = if input.get("scaledJob").is_some() {
                scaled_job_case(input)
            } else {
                scaled_object_case(input)
            };
            if update {
                case["expected"] = got;
            } else if case["expected"] != got {
                failures.push(format!(
                    "{}: {name}:\n  expected {}\n  got      {}",
                    file.display(),
                    case["expected"],
                    got
                ));
            }
        }
        if update {
            let mut text = serde_json::to_string_pretty(&doc).expect("json");
            text.push('\n');
            std::fs::write(file, text).expect("write");
        }
    }
    assert!(count >= 25, "only {count} golden cases");
    assert!(
        failures.is_empty(),
        "{} golden case(s) differ (rerun with KSX_UPDATE_GOLDEN=1 and review the diff):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
