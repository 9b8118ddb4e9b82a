//! `ksx hpa` exit codes and error paths: bad input exits 2 naming the JSON path at fault, and a decision's
//! output fed back as the next input replays a controller timeline.

use std::path::Path;
use std::process::{Command, Output};

fn ksx_hpa(command: &str, input: &serde_json::Value, dir: &Path) -> Output {
    let path = dir.join("input.json");
    std::fs::write(&path, input.to_string()).expect("write the request");
    Command::new(env!("CARGO_BIN_EXE_ksx"))
        .args(["hpa", command, "--input"])
        .arg(&path)
        .env_remove("KSX_LOG")
        .output()
        .expect("run ksx")
}

fn decide_input() -> serde_json::Value {
    serde_json::json!({
        "now": 1_700_000_000, "currentReplicas": 7, "desiredReplicas": 30,
        "minReplicas": 1, "maxReplicas": 100, "behavior": {}
    })
}

fn replicas_input() -> serde_json::Value {
    serde_json::json!({
        "now": 1_700_000_000, "currentReplicas": 1,
        "metric": {"type": "Resource", "resource": {"name": "cpu",
                   "target": {"type": "Utilization", "averageUtilization": 50}}}
    })
}

/// Applies `edit` to a request and expects exit 2 with `path` on standard error.
fn expect_bad(
    command: &str,
    mut input: serde_json::Value,
    edit: &str,
    value: serde_json::Value,
    path: &str,
) {
    let dir = tempfile::tempdir().expect("temporary directory");
    *input
        .pointer_mut(edit)
        .unwrap_or_else(|| panic!("no {edit}")) = value;
    let out = ksx_hpa(command, &input, dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{edit}: stderr {stderr}");
    assert!(stderr.contains(path), "{edit}: expected {path} in {stderr}");
}

#[test]
fn bad_decide_input_exits_2_with_the_path() {
    let policy = |period: i64| serde_json::json!({"scaleUp": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": period}]}});
    expect_bad(
        "decide",
        decide_input(),
        "/behavior",
        policy(0),
        "behavior.scaleUp.policies[0].periodSeconds",
    );
    expect_bad(
        "decide",
        decide_input(),
        "/behavior",
        policy(1801),
        "behavior.scaleUp.policies[0].periodSeconds",
    );
    expect_bad(
        "decide",
        decide_input(),
        "/behavior",
        serde_json::json!({"scaleDown": {"stabilizationWindowSeconds": -1}}),
        "behavior.scaleDown.stabilizationWindowSeconds",
    );
    expect_bad(
        "decide",
        decide_input(),
        "/behavior",
        serde_json::json!({"scaleDown": {"selectPolicy": "Sometimes"}}),
        "behavior.scaleDown.selectPolicy",
    );
    expect_bad(
        "decide",
        decide_input(),
        "/behavior",
        serde_json::json!({"scaleUp": {"policies": []}}),
        "behavior.scaleUp.policies",
    );
    expect_bad(
        "decide",
        decide_input(),
        "/behavior",
        serde_json::json!({"scaleUp": {"policy": []}}),
        "behavior.scaleUp",
    );
    expect_bad(
        "decide",
        decide_input(),
        "/maxReplicas",
        serde_json::json!(0),
        "maxReplicas",
    );
    expect_bad(
        "decide",
        decide_input(),
        "/minReplicas",
        serde_json::json!(500),
        "minReplicas",
    );
    let mut unknown = decide_input();
    unknown["surprise"] = serde_json::json!(1);
    expect_bad("decide", unknown, "/now", serde_json::json!(1), "surprise");
}

#[test]
fn bad_replicas_input_exits_2_with_the_path() {
    expect_bad(
        "replicas",
        replicas_input(),
        "/metric/resource",
        serde_json::json!({"name": "cpu"}),
        "metric.resource",
    );
    expect_bad(
        "replicas",
        replicas_input(),
        "/metric/type",
        serde_json::json!("Magic"),
        "metric.type",
    );
    expect_bad(
        "replicas",
        replicas_input(),
        "/metric/resource/target",
        serde_json::json!({"type": "Utilization", "averageUtilization": 0}),
        "metric.resource.target.averageUtilization",
    );
    expect_bad(
        "replicas",
        replicas_input(),
        "/metric/resource/target",
        serde_json::json!({"type": "Value", "value": "1"}),
        "metric.resource.target.type",
    );
    expect_bad(
        "replicas",
        replicas_input(),
        "/metric",
        serde_json::json!({"type": "Pods", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 5}}}),
        "metric.pods",
    );
    expect_bad(
        "replicas",
        replicas_input(),
        "/currentReplicas",
        serde_json::json!(-1),
        "currentReplicas",
    );
}

#[test]
fn unavailable_metrics_exit_1_with_a_json_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = ksx_hpa("replicas", &replicas_input(), dir.path());
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["error"].as_str().unwrap().contains("no metrics returned"));
}

#[test]
fn feeding_the_output_back_replays_a_timeline() {
    let dir = tempfile::tempdir().unwrap();
    let mut input = decide_input();
    let mut replicas = Vec::new();
    for step in 0..4 {
        let out = ksx_hpa("decide", &input, dir.path());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        replicas.push(v["desiredReplicas"].as_i64().unwrap());
        input["currentReplicas"] = v["desiredReplicas"].clone();
        input["now"] = serde_json::json!(1_700_000_000 + 15 * (step + 1));
        for key in ["recommendations", "scaleUpEvents", "scaleDownEvents"] {
            input[key] = v[key].clone();
        }
    }
    // Default behavior: max(c + 4, 2c) per 15 s: 7 → 14 → 28 → 30.
    assert_eq!(replicas, vec![14, 28, 30, 30]);
}

const V1: &str = r#"
apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata:
  name: web
  namespace: shop
  annotations:
    autoscaling.alpha.kubernetes.io/metrics: '[{"type":"Pods","pods":{"metricName":"qps","targetAverageValue":"10"}}]'
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 10
  targetCPUUtilizationPercentage: 70
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
"#;

#[test]
fn convert_prints_appliable_v2_yaml_and_the_changes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("v1.yaml");
    std::fs::write(&file, V1).unwrap();
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_ksx"))
            .args(["hpa", "convert", "-f"])
            .arg(&file)
            .args(extra)
            .env_remove("KSX_LOG")
            .output()
            .expect("run ksx")
    };
    let out = run(&[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("# apiVersion autoscaling/v1 → autoscaling/v2\n"),
        "{text}"
    );
    assert!(text.contains("# spec.behavior stays unset: the legacy rules still hold"));
    let v2: serde_json::Value = serde_yaml::from_str(&text).unwrap();
    assert_eq!(v2["apiVersion"], "autoscaling/v2");
    assert_eq!(v2["spec"]["metrics"][0]["pods"]["metric"]["name"], "qps");
    assert_eq!(
        v2["spec"]["metrics"][1]["resource"]["target"]["averageUtilization"],
        70
    );
    assert!(v2["metadata"].get("annotations").is_none());

    let out = run(&["-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["converted"].as_array().map(Vec::len), Some(1));

    std::fs::write(&file, V1.replace("maxReplicas: 10", "")).unwrap();
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("spec.maxReplicas"));
}

#[test]
fn simulate_draws_a_sparkline_and_an_svg() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("sim.yaml");
    std::fs::write(
        &input,
        "initialReplicas: 2\nminReplicas: 2\nmaxReplicas: 50\ntargetPerPod: 100\nbehavior: {}\n\
         timeline:\n  - {t: 0, load: 200}\n  - {t: 60, load: 3000}\n  - {t: 300, load: 200}\n  - {t: 900, load: 200}\n",
    )
    .unwrap();
    let svg = dir.path().join("sim.svg");
    let out = Command::new(env!("CARGO_BIN_EXE_ksx"))
        .args(["hpa", "simulate", "--input"])
        .arg(&input)
        .arg("--svg")
        .arg(&svg)
        .env_remove("KSX_LOG")
        .output()
        .expect("run ksx");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "replicas  ▁▁▁▁▂▃▆████████████████████████████████▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁\n\
         syncs 61, start 2, peak 30, end 3, limited at 3 syncs (behavior)\n"
    );
    assert!(std::fs::read_to_string(svg).unwrap().starts_with("<svg"));
}
