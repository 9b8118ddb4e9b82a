//! `hpa-controller` on its built-in in-memory scenario: replicas rise under load and fall after it with the
//! upstream condition reasons, the output does not depend on the worker count, and bad flags exit 2.

use std::process::{Command, Output};

use serde_json::Value;

fn controller(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hpa-controller"))
        .args(args)
        .env_remove("KSX_LOG")
        .output()
        .expect("run hpa-controller")
}

/// Runs the scenario with JSON output and parses every line.
fn decisions(args: &[&str]) -> (String, Vec<Value>) {
    let out = controller(args);
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let lines = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    (text, lines)
}

fn of<'a>(lines: &'a [Value], name: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["name"] == name).collect()
}

fn at(lines: &[&Value], secs: i64) -> Value {
    (*lines
        .iter()
        .find(|l| l["elapsedSeconds"] == secs)
        .expect("a decision at that time"))
    .clone()
}

/// `(status, reason)` of a condition type in one decision.
fn condition(line: &Value, condition_type: &str) -> (String, String) {
    let c = line["conditions"]
        .as_array()
        .expect("conditions")
        .iter()
        .find(|c| c["type"] == condition_type)
        .unwrap_or_else(|| panic!("no {condition_type} in {line}"));
    (
        c["status"].as_str().expect("status").to_owned(),
        c["reason"].as_str().expect("reason").to_owned(),
    )
}

fn pair(status: &str, reason: &str) -> (String, String) {
    (status.to_owned(), reason.to_owned())
}

#[test]
fn replicas_follow_the_load_with_upstream_reasons() {
    let (_, lines) = decisions(&["--duration", "8m", "-o", "json"]);
    let web = of(&lines, "web");
    let api = of(&lines, "api");
    assert_eq!(
        web.len(),
        33,
        "one decision per 15 s sync over 8 minutes, ends included"
    );

    // Before the spike: 2 pods at 0.085 cores of a 200m request = 42 %, within tolerance of the 50 % target.
    let first = at(&web, 0);
    assert_eq!(first["desiredReplicas"], 2);
    assert_eq!(
        condition(&first, "AbleToScale"),
        pair("True", "ReadyForNewScale")
    );
    assert_eq!(
        condition(&first, "ScalingActive"),
        pair("True", "ValidMetricFound")
    );
    assert_eq!(
        condition(&first, "ScalingLimited"),
        pair("False", "DesiredWithinRange")
    );
    assert_eq!(
        first["currentMetrics"][0]["resource"]["current"]["averageUtilization"],
        42
    );

    // The spike starts at 60 s. The 30 s usage window holds the samples at 45 s (0.085 cores) and 60 s
    // (0.41 cores): mean 0.2475 cores = 124 % of 200m; ratio 124/50 = 2.475 (the engine's exact ratio is
    // 2.475), ceil(2.475 × 2) = 5, inside the behavior's max(2 + 4, 2 × 2) = 6 limit.
    let spike = at(&web, 60);
    assert_eq!(spike["desiredReplicas"], 5);
    assert_eq!(spike["rescaled"], true);
    assert_eq!(
        condition(&spike, "AbleToScale"),
        pair("True", "SucceededRescale")
    );
    let able = spike["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "AbleToScale")
        .unwrap();
    assert_eq!(
        able["message"],
        "the HPA controller was able to update the target scale to 5"
    );
    let peak = web
        .iter()
        .map(|l| l["desiredReplicas"].as_i64().unwrap())
        .max()
        .unwrap();
    assert!(peak >= 6, "replicas rise under load, peak {peak}");
    assert!(
        web.iter()
            .all(|l| (2..=10).contains(&l["desiredReplicas"].as_i64().unwrap()))
    );

    // After the spike (300 s) the 60 s scale-down window holds the count first, then it falls to the minimum.
    let held = at(&web, 315);
    assert_eq!(held["desiredReplicas"], peak);
    assert_eq!(
        condition(&held, "AbleToScale"),
        pair("True", "ScaleDownStabilized")
    );
    assert_eq!(web.last().unwrap()["desiredReplicas"], 2);

    // `api` has no behavior: the legacy cap max(2 × 3, 4) = 6 stops its jump at 120 s (load 700 over 3 pods
    // averages 233.334 per pod against 100: ceil(2.33334 × 3) = 8 > 6).
    let jump = at(&api, 120);
    assert_eq!(jump["desiredReplicas"], 6);
    assert_eq!(
        condition(&jump, "ScalingLimited"),
        pair("True", "ScaleUpLimit")
    );
    assert_eq!(
        jump["currentMetrics"][0]["pods"]["current"]["averageValue"],
        "233334m"
    );
    // Every decision read its metric.
    assert!(
        lines
            .iter()
            .all(|l| condition(l, "ScalingActive") == pair("True", "ValidMetricFound"))
    );
}

#[test]
fn output_does_not_depend_on_the_worker_count() {
    let (one, _) = decisions(&["--duration", "4m", "-o", "json", "--workers", "1"]);
    let (many, _) = decisions(&["--duration", "4m", "-o", "json", "--workers", "16"]);
    assert_eq!(one, many);
}

#[test]
fn table_output_has_a_header_and_a_row_per_decision() {
    let out = controller(&["--duration", "30s", "--sync-period", "15s"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<&str> = text.lines().collect();
    assert!(rows[0].starts_with("  TIME  HPA"), "{text}");
    assert_eq!(rows.len(), 1 + 3 * 2, "{text}");
    assert!(rows[1].contains("shop/api"), "{text}");
}

#[test]
fn bad_flags_exit_2() {
    for args in [
        &["--no-such-flag"][..],
        &["--sync-period", "soon"],
        &["--sync-period", "0s"],
        &["--workers", "0"],
        &["-o", "xml"],
        &["--tolerance", "-1"],
    ] {
        let out = controller(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?} explains itself");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}
