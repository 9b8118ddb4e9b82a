//! Golden tests of `ksx scale check`: each folder under `tests/golden/scale/` holds `args` (one argument per
//! line), the manifests they name, `expected.json` (`{exitCode, report, stderr}`, the report read from `-o json`,
//! or from `-o yaml` when `args` asks for it) and, when `args` gives no `-o`, `table.txt` with the table output.
//! The real binary runs inside the folder. `KSX_UPDATE_GOLDEN=1` rewrites the expectations instead (review the
//! diff like code: each manifest opens with the conflicts derived by hand from spec `scaling.md` §6).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/scale");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .expect("golden directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("args").is_file())
        .collect();
    dirs.sort();
    dirs
}

fn ksx(dir: &Path, args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ksx"))
        .args(["scale", "check"])
        .args(args)
        .current_dir(dir)
        .env_remove("KSX_LOG")
        .output()
        .expect("run ksx")
}

fn compare_or_update(path: &Path, got: &str, update: bool, failures: &mut Vec<String>) {
    if update {
        std::fs::write(path, got).expect("write golden");
        return;
    }
    match std::fs::read_to_string(path) {
        Ok(expected) if expected == got => {}
        Ok(_) => failures.push(format!(
            "{}: output differs (rerun with KSX_UPDATE_GOLDEN=1 and review the diff)",
            path.display()
        )),
        Err(e) => failures.push(format!("{}: {e}", path.display())),
    }
}

#[test]
fn scale_check_golden() {
    let update = std::env::var("KSX_UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    let dirs = cases();
    assert!(dirs.len() >= 8, "golden cases missing: {}", dirs.len());
    let mut failures = Vec::new();
    for dir in &dirs {
        let args: Vec<String> = std::fs::read_to_string(dir.join("args"))
            .expect("args")
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        let format = args
            .iter()
            .position(|a| a == "-o")
            .and_then(|i| args.get(i + 1))
            .cloned();
        let mut structured_args = args.clone();
        if format.is_none() {
            structured_args.extend(["-o".to_owned(), "json".to_owned()]);
        }
        let out = ksx(dir, &structured_args);
        let stdout = String::from_utf8(out.stdout).expect("utf-8");
        let parsed: Result<Value, String> = if format.as_deref() == Some("yaml") {
            serde_yaml::from_str(&stdout).map_err(|e| e.to_string())
        } else {
            serde_json::from_str(&stdout).map_err(|e| e.to_string())
        };
        let report = match parsed {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!(
                    "{}: stdout is not a report ({e}); stderr: {}",
                    dir.display(),
                    String::from_utf8_lossy(&out.stderr)
                ));
                continue;
            }
        };
        let stderr: Vec<String> = String::from_utf8_lossy(&out.stderr)
            .lines()
            .map(str::to_owned)
            .collect();
        let got = json!({"exitCode": out.status.code(), "report": report, "stderr": stderr});
        let expected_path = dir.join("expected.json");
        if update {
            let text = serde_json::to_string_pretty(&got).expect("serialize") + "\n";
            std::fs::write(&expected_path, text).expect("write golden");
        } else {
            let expected: Value = serde_json::from_str(
                &std::fs::read_to_string(&expected_path)
                    .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display())),
            )
            .expect("golden is JSON");
            if got != expected {
                failures.push(format!(
                    "{}: output differs from expected.json (rerun with KSX_UPDATE_GOLDEN=1 and review the diff)",
                    dir.display()
                ));
            }
        }
        if format.is_none() {
            let table = ksx(dir, &args);
            assert_eq!(
                table.status.code(),
                out.status.code(),
                "{}: the table and JSON runs must exit alike",
                dir.display()
            );
            let text = String::from_utf8(table.stdout).expect("utf-8");
            compare_or_update(&dir.join("table.txt"), &text, update, &mut failures);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The exit codes and the place named on bad input, asserted apart from the golden files so a regenerated
/// golden cannot hide a change of contract.
#[test]
fn exit_codes_follow_the_contract() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/scale");
    let code = |case: &str| {
        let dir = root.join(case);
        let args: Vec<String> = std::fs::read_to_string(dir.join("args"))
            .expect("args")
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        ksx(&dir, &args)
    };
    assert_eq!(code("allowed").status.code(), Some(0));
    assert_eq!(code("average-value").status.code(), Some(0));
    assert_eq!(code("vpa-hpa-same-resource").status.code(), Some(3));
    assert_eq!(code("so-foreign-hpa").status.code(), Some(3));
    let bad = code("bad-input");
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains(
            "manifests/bad.yaml:11: document 2: ScaledObject queue/worker: spec.triggers[1].metricType:"
        ),
        "{stderr}"
    );
    assert!(
        stderr
            .contains("document 3: VerticalPodAutoscaler shop/web: spec.updatePolicy.updateMode:"),
        "{stderr}"
    );
    assert!(
        stderr.contains("spec.metrics[0].resource.target.averageUtilization"),
        "{stderr}"
    );
    let missing = Command::new(env!("CARGO_BIN_EXE_ksx"))
        .args(["scale", "check", "-f", "/nonexistent/ksx-scale"])
        .output()
        .expect("run ksx");
    assert_eq!(missing.status.code(), Some(2));
}
