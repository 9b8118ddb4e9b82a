//! The golden-file loop shared by the JSON contract tests: every `*.input.json` in a directory runs through the
//! real `ksx` binary and its standard output, parsed as JSON, must equal the `*.output.json` next to it.
//! `KSX_UPDATE_GOLDEN=1` rewrites the outputs instead (review the diff).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `ksx <args…> --input FILE` for each input of `dir` (at least `min_cases` of them). `adjust` sees each
/// successful output before it is compared and may take out a field that varies between runs, returning a
/// failure message when that field is wrong. Panics with every failing case listed.
pub(crate) fn check_json_goldens(
    dir: &Path,
    args: &[&str],
    min_cases: usize,
    adjust: impl Fn(&mut serde_json::Value) -> Result<(), String>,
) {
    let update = std::env::var("KSX_UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("golden directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".input.json"))
        .collect();
    inputs.sort();
    assert!(
        inputs.len() >= min_cases,
        "golden inputs missing in {}",
        dir.display()
    );
    let mut failures = Vec::new();
    for input in &inputs {
        let expected_path = PathBuf::from(
            input
                .to_string_lossy()
                .replace(".input.json", ".output.json"),
        );
        let out = Command::new(env!("CARGO_BIN_EXE_ksx"))
            .args(args)
            .arg("--input")
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
        let mut got: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("stdout is JSON");
        if let Err(message) = adjust(&mut got) {
            failures.push(format!("{}: {message}", input.display()));
        }
        if update {
            let text = serde_json::to_string_pretty(&got).expect("serialize") + "\n";
            std::fs::write(&expected_path, text).expect("write golden output");
            continue;
        }
        let expected: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&expected_path).expect("golden output"))
                .expect("golden output is JSON");
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
