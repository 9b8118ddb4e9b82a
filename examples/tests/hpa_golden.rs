//! Golden JSON tests of the `ksx hpa decide` and `ksx hpa replicas` contract: every `*.input.json` under
//! `tests/golden/hpa/<command>/` runs through the real binary and its standard output must equal the
//! `*.output.json` next to it, compared as parsed JSON. An output holding `error` expects exit code 1, any other
//! exit code 0. `KSX_UPDATE_GOLDEN=1` rewrites the outputs instead (review the diff like code).

use std::path::{Path, PathBuf};
use std::process::Command;

fn golden_dir(command: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/hpa")
        .join(command)
}

fn inputs(command: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(golden_dir(command))
        .expect("golden directory")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".input.json"))
        .collect();
    files.sort();
    files
}

fn run_golden(command: &str) -> usize {
    let update = std::env::var("KSX_UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    let mut failures = Vec::new();
    let files = inputs(command);
    assert!(!files.is_empty(), "no golden inputs for {command}");
    for input in &files {
        let expected_path = PathBuf::from(
            input
                .to_string_lossy()
                .replace(".input.json", ".output.json"),
        );
        let out = Command::new(env!("CARGO_BIN_EXE_ksx"))
            .args(["hpa", command, "--input"])
            .arg(input)
            .env_remove("KSX_LOG")
            .output()
            .expect("run ksx");
        let stdout = String::from_utf8(out.stdout).expect("utf-8 stdout");
        let got: serde_json::Value = match serde_json::from_str(&stdout) {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!(
                    "{}: stdout is not JSON ({e}); stderr: {}",
                    input.display(),
                    String::from_utf8_lossy(&out.stderr)
                ));
                continue;
            }
        };
        if update {
            let text = serde_json::to_string_pretty(&got).expect("serialize") + "\n";
            std::fs::write(&expected_path, text).expect("write golden output");
            continue;
        }
        let expected: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(&expected_path)
                .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display())),
        )
        .expect("golden output is JSON");
        let want_code = if expected.get("error").is_some() {
            1
        } else {
            0
        };
        if got != expected {
            failures.push(format!(
                "{}:\n  expected {expected}\n  got      {got}",
                input.display()
            ));
        }
        if out.status.code() != Some(want_code) {
            failures.push(format!(
                "{}: exit code {:?}, expected {want_code}",
                input.display(),
                out.status.code()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    files.len()
}

#[test]
fn decide_golden_files() {
    assert!(run_golden("decide") >= 15);
}

#[test]
fn replicas_golden_files() {
    assert!(run_golden("replicas") >= 20);
}

/// The golden set names every reason of the contract at least once.
#[test]
fn golden_outputs_cover_every_reason() {
    if std::env::var("KSX_UPDATE_GOLDEN").is_ok_and(|v| v == "1") {
        // The outputs are being rewritten by the other tests right now.
        return;
    }
    let mut seen = std::collections::BTreeSet::new();
    for input in inputs("decide") {
        let output = input
            .to_string_lossy()
            .replace(".input.json", ".output.json");
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(output).expect("output")).expect("json");
        for key in ["limitReason", "stabilizationReason"] {
            if let Some(reason) = v.get(key).and_then(|r| r.as_str()) {
                seen.insert(reason.to_owned());
            }
        }
    }
    for reason in [
        "DesiredWithinRange",
        "ScaleUpLimit",
        "ScaleDownLimit",
        "TooManyReplicas",
        "TooFewReplicas",
        "ScaleUpStabilized",
        "ScaleDownStabilized",
    ] {
        assert!(seen.contains(reason), "no golden case gives {reason}");
    }
}
