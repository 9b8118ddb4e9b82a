//! The contract entry points never panic: arbitrary text gives a parse error, arbitrary numbers a validation
//! error or a decision.

use proptest::prelude::*;

use super::contract::{DecideRequest, ReplicasRequest, decide, replicas};

fn parse<T: serde::de::DeserializeOwned>(text: &str) -> Option<T> {
    ksx_core::manifest::from_yaml_str::<T>("input.json", text).ok()
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        if let Some(req) = parse::<DecideRequest>(&text) {
            let _ = decide(&req);
        }
        if let Some(req) = parse::<ReplicasRequest>(&text) {
            let _ = replicas(&req);
        }
    }

    #[test]
    fn arbitrary_numbers_never_panic(
        now in prop_oneof![Just(i64::MIN / 1_000_000_000), any::<i32>().prop_map(i64::from), Just(1_700_000_000i64)],
        current in any::<i32>(), desired in any::<i32>(), min in any::<i32>(), max in any::<i32>(),
        window in any::<i32>(), period in any::<i32>(), value in any::<i32>(),
        rec in any::<i32>(), change in any::<i32>(), ago in any::<i32>(),
        select in prop_oneof![Just("Max"), Just("Min"), Just("Disabled")],
        kind in prop_oneof![Just("Pods"), Just("Percent")],
        legacy in any::<bool>(),
    ) {
        let behavior = if legacy {
            serde_json::Value::Null
        } else {
            serde_json::json!({
                "scaleUp": {"stabilizationWindowSeconds": window, "selectPolicy": select,
                            "policies": [{"type": kind, "value": value, "periodSeconds": period}]},
                "scaleDown": {"policies": [{"type": kind, "value": value, "periodSeconds": period}]}
            })
        };
        let t = now.saturating_sub(i64::from(ago));
        let text = serde_json::json!({
            "now": now, "currentReplicas": current, "desiredReplicas": desired,
            "minReplicas": min, "maxReplicas": max, "behavior": behavior,
            "downscaleStabilizationWindowSeconds": window,
            "recommendations": [{"replicas": rec, "timestamp": t}],
            "scaleUpEvents": [{"replicaChange": change, "timestamp": t}],
            "scaleDownEvents": [{"replicaChange": change, "timestamp": t, "outdated": true}]
        })
        .to_string();
        if let Some(req) = parse::<DecideRequest>(&text) {
            let _ = decide(&req);
        }
    }

    #[test]
    fn arbitrary_samples_never_panic(
        values in prop::collection::vec(any::<i64>(), 0..6),
        requests in prop::collection::vec(any::<i64>(), 0..6),
        target in 1..500i32, current in any::<i32>(),
        kind in 0..5usize,
    ) {
        let metric = match kind {
            0 => serde_json::json!({"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": target}}}),
            1 => serde_json::json!({"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": target}}}),
            2 => serde_json::json!({"type": "Pods", "pods": {"metric": {"name": "q"}, "target": {"type": "AverageValue", "averageValue": target}}}),
            3 => serde_json::json!({"type": "Object", "object": {"describedObject": {"kind": "K", "name": "n"}, "metric": {"name": "q"}, "target": {"type": "AverageValue", "averageValue": target}}}),
            _ => serde_json::json!({"type": "External", "external": {"metric": {"name": "q"}, "target": {"type": "Value", "value": target}}}),
        };
        let pods: Vec<serde_json::Value> = requests.iter().enumerate().map(|(i, r)| serde_json::json!({
            "metadata": {"name": format!("p{i}")},
            "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": format!("{r}m"), "memory": format!("{r}m")}}}]},
            "status": {"phase": "Running", "startTime": "2023-11-14T20:00:00Z",
                       "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2023-11-14T20:00:10Z"}]}
        })).collect();
        let samples: Vec<serde_json::Value> = values.iter().enumerate().map(|(i, v)| serde_json::json!({
            "pod": format!("p{i}"), "timestamp": 1_699_999_990, "window": 30, "value": format!("{v}m")
        })).collect();
        let text = serde_json::json!({
            "now": 1_700_000_000, "currentReplicas": current, "metric": metric, "pods": pods,
            "podMetrics": samples, "objectValue": values.first().map(|v| format!("{v}m")),
            "externalValues": values.iter().map(|v| format!("{v}m")).collect::<Vec<_>>(),
        })
        .to_string();
        if let Some(req) = parse::<ReplicasRequest>(&text) {
            let _ = replicas(&req);
        }
    }
}
