//! Golden JSON tests of `ksx sched score`: every `*.input.json` under `tests/golden/sched/score/` runs through the
//! real binary and its standard output must equal the `*.output.json` next to it, compared as parsed JSON (exit
//! code 0). The expectations were computed by hand from scheduling.md §1 (the same cases, with their arithmetic,
//! live in `ksx-gpu/tests/data/score/`). `KSX_UPDATE_GOLDEN=1` rewrites the outputs instead (review the diff).

use std::path::{Path, PathBuf};
use std::process::Command;

#[test]
fn score_golden() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/sched/score");
    let update = std::env::var("KSX_UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("golden directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".input.json"))
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 10, "golden inputs missing");
    let mut failures = Vec::new();
    for input in &inputs {
        let expected_path = PathBuf::from(
            input
                .to_string_lossy()
                .replace(".input.json", ".output.json"),
        );
        let out = Command::new(env!("CARGO_BIN_EXE_ksx"))
            .args(["sched", "score", "-o", "json", "--input"])
            .arg(input)
            .env_remove("KSX_LOG")
            .output()
            .expect("run ksx");
        if !out.status.success() {
            failures.push(format!(
                "{}: exit {:?}: {}",
                input.display(),
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            ));
            continue;
        }
        let got: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
        if update {
            std::fs::write(
                &expected_path,
                serde_json::to_string_pretty(&got).unwrap() + "\n",
            )
            .unwrap();
            continue;
        }
        let expected: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&expected_path).expect("golden output"))
                .unwrap();
        if got != expected {
            failures.push(format!(
                "{}:\nexpected {}\n     got {}",
                input.display(),
                expected,
                got
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
