//! Presets on the command line and in plans (spec §4.9, §3 `ruleSets`): `ksx inspect --preset`, `--checks`
//! winning over it, an unknown preset as a usage error, and a plan whose `ruleSets` name presets.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn ksx(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ksx"))
        .arg("inspect")
        .args(args)
        .current_dir(dir)
        .env_remove("KSX_LOG")
        .output()
        .expect("run ksx")
}

fn write(dir: &Path, name: &str, text: &str) {
    if let Some(parent) = dir.join(name).parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(dir.join(name), text).expect("write");
}

/// §4.9 `builtin:pss-baseline`, spelled out.
const BASELINE: &[&str] = &[
    "sec-host-network",
    "sec-host-pid",
    "sec-host-ipc",
    "sec-privileged",
    "sec-added-capabilities",
    "sec-dangerous-capabilities",
    "sec-host-path",
    "sec-host-port",
    "sec-apparmor-unconfined",
    "sec-selinux-options",
    "sec-proc-mount",
    "sec-unsafe-sysctls",
    "sec-windows-host-process",
    "sec-seccomp-profile",
];

/// A pod without a seccomp profile, with `latest` and no resources: outside the baseline it fails
/// rel-image-tag and the eff-* checks; inside it passes everything (missing seccomp passes `unconfinedOnly`).
const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop}\nspec:\n  containers:\n    - {name: app, image: 'app:latest'}\n";

fn ran(report: &Value) -> BTreeSet<String> {
    report["checks"]
        .as_array()
        .expect("checks array")
        .iter()
        .filter(|c| c["enabled"] == Value::Bool(true))
        .map(|c| c["id"].as_str().expect("id").to_owned())
        .collect()
}

fn finding_ids(report: &Value) -> BTreeSet<String> {
    report["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .map(|f| f["checkId"].as_str().expect("checkId").to_owned())
        .collect()
}

#[test]
fn preset_flag_runs_exactly_the_baseline() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "pod.yaml", POD);
    let out = ksx(
        dir.path(),
        &[
            "-f",
            "pod.yaml",
            "--preset",
            "builtin:pss-baseline",
            "--format",
            "json",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let want: BTreeSet<String> = BASELINE.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(ran(&report), want);
    assert!(
        finding_ids(&report).is_empty(),
        "{:?}",
        finding_ids(&report)
    );
    assert_eq!(report["summary"]["checks"], 14);

    // Two presets: the union.
    let out = ksx(
        dir.path(),
        &[
            "-f",
            "pod.yaml",
            "--preset",
            "builtin:pss-baseline",
            "--preset",
            "builtin:pss-restricted",
            "--format",
            "json",
        ],
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let got = ran(&report);
    assert_eq!(got.len(), 17);
    for extra in [
        "sec-privilege-escalation",
        "sec-run-as-non-root",
        "sec-drop-capabilities",
    ] {
        assert!(got.contains(extra), "{extra}");
    }
    // restricted runs the full seccomp check: a missing profile fails.
    assert!(finding_ids(&report).contains("sec-seccomp-profile"));
}

#[test]
fn checks_flag_wins_over_preset() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "pod.yaml", POD);
    let out = ksx(
        dir.path(),
        &[
            "-f",
            "pod.yaml",
            "--preset",
            "builtin:pss-baseline",
            "--checks",
            "rel-image-tag",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "rel-image-tag is danger");
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(ran(&report), BTreeSet::from(["rel-image-tag".to_owned()]));
}

#[test]
fn unknown_preset_is_a_usage_error_listing_the_known_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "pod.yaml", POD);
    let out = ksx(
        dir.path(),
        &["-f", "pod.yaml", "--preset", "builtin:pss-strict"],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("\"builtin:pss-strict\""), "{stderr}");
    assert!(stderr.contains("builtin:pss-restricted"), "{stderr}");
    assert!(out.stdout.is_empty());
}

const PLAN: &str = "apiVersion: inspect.ksx.io/v1\nkind: InspectPlan\nmetadata: {name: pss}\nspec:\n  schedule: '@daily'\n  ruleSets: [builtin:pss-baseline]\n  checks: {exclude: [sec-host-path]}\n  targets:\n    manifests: [../manifests/]\n";

#[test]
fn plan_rule_sets_apply_presets() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "manifests/pod.yaml", POD);
    write(dir.path(), "plans/pss.yaml", PLAN);
    let out = ksx(
        dir.path(),
        &[
            "plan",
            "run",
            "pss",
            "--plans",
            "plans",
            "--store",
            "results",
            "--now",
            "2026-01-05T08:00:00Z",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("not available"), "{stderr}");
    let stored = dir.path().join("results/pss/pss-20260105T080000Z.json");
    let result: Value =
        serde_json::from_str(&std::fs::read_to_string(&stored).expect("result file"))
            .expect("result JSON");
    // The baseline less the plan's exclude.
    let want: BTreeSet<String> = BASELINE
        .iter()
        .filter(|id| **id != "sec-host-path")
        .map(|s| (*s).to_owned())
        .collect();
    assert_eq!(ran(&result["report"]), want);

    // An unknown preset in ruleSets: exit 2 naming the plan and the field.
    write(
        dir.path(),
        "plans/pss.yaml",
        &PLAN.replace("builtin:pss-baseline", "builtin:nope"),
    );
    let out = ksx(
        dir.path(),
        &[
            "plan", "run", "pss", "--plans", "plans", "--store", "results",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("plan pss: spec.ruleSets") && stderr.contains("\"builtin:nope\""),
        "{stderr}"
    );
}
