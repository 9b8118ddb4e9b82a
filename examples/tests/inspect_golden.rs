//! Golden JSON tests of `ksx inspect`: each folder under `tests/golden/inspect/` holds `args` (one argument per
//! line), the manifests they name and `expected.json` (`{exitCode, report}`); the real binary runs inside the
//! folder and its JSON report is compared as parsed JSON, with run times, run id and tool version blanked.
//! `KSX_UPDATE_GOLDEN=1` rewrites the expectations instead (review the diff like code).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/inspect");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .expect("golden directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("args").is_file())
        .collect();
    dirs.sort();
    dirs
}

/// Blanks what changes from run to run.
fn normalise(report: &mut Value) {
    for key in ["id", "startedAt", "finishedAt", "durationMs"] {
        if let Some(v) = report.pointer_mut(&format!("/run/{key}")) {
            *v = Value::String("<volatile>".to_owned());
        }
    }
    if let Some(v) = report.pointer_mut("/tool/version") {
        *v = Value::String("<volatile>".to_owned());
    }
}

#[test]
fn inspect_golden_reports() {
    let update = std::env::var("KSX_UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    let dirs = cases();
    assert!(dirs.len() >= 4, "golden cases missing");
    let mut failures = Vec::new();
    for dir in &dirs {
        let args: Vec<String> = std::fs::read_to_string(dir.join("args"))
            .expect("args")
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        let out = Command::new(env!("CARGO_BIN_EXE_ksx"))
            .arg("inspect")
            .args(&args)
            .current_dir(dir)
            .env_remove("KSX_LOG")
            .output()
            .expect("run ksx");
        let stdout = String::from_utf8(out.stdout).expect("utf-8");
        let mut report: Value = match serde_json::from_str(&stdout) {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!(
                    "{}: stdout is not JSON ({e}); stderr: {}",
                    dir.display(),
                    String::from_utf8_lossy(&out.stderr)
                ));
                continue;
            }
        };
        normalise(&mut report);
        let got = json!({"exitCode": out.status.code(), "report": report});
        let expected_path = dir.join("expected.json");
        if update {
            let text = serde_json::to_string_pretty(&got).expect("serialize") + "\n";
            std::fs::write(&expected_path, text).expect("write golden");
            continue;
        }
        let expected: Value = serde_json::from_str(
            &std::fs::read_to_string(&expected_path)
                .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display())),
        )
        .expect("golden is JSON");
        if got != expected {
            failures.push(format!("{}: output differs from expected.json (rerun with KSX_UPDATE_GOLDEN=1 and review the diff)", dir.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
