//! Golden JSON tests of the `ksx vpa recommend` contract: every `*.input.json` under
//! `tests/golden/vpa/recommend/` runs through the real binary and its standard output must equal the
//! `*.output.json` next to it, compared as parsed JSON, with exit code 0. `KSX_UPDATE_GOLDEN=1` rewrites the
//! outputs instead (review the diff like code). A few outputs are also checked against numbers computed by
//! hand from the spec's rules, so a regenerated golden set cannot silently drift.

use std::path::{Path, PathBuf};
use std::process::Command;

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/vpa/recommend")
}

fn inputs() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(golden_dir())
        .expect("golden directory")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".input.json"))
        .collect();
    files.sort();
    files
}

fn run(input: &Path) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ksx"))
        .args(["vpa", "recommend", "--input"])
        .arg(input)
        .env_remove("KSX_LOG")
        .output()
        .expect("run ksx");
    (
        out.status.code(),
        String::from_utf8(out.stdout).expect("utf-8 stdout"),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn recommend_golden_files() {
    let update = std::env::var("KSX_UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    let mut failures = Vec::new();
    let files = inputs();
    assert!(files.len() >= 8, "only {} golden inputs", files.len());
    for input in &files {
        let expected_path = PathBuf::from(
            input
                .to_string_lossy()
                .replace(".input.json", ".output.json"),
        );
        let (code, stdout, stderr) = run(input);
        let got: serde_json::Value = match serde_json::from_str(&stdout) {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!(
                    "{}: stdout is not JSON ({e}); stderr: {stderr}",
                    input.display()
                ));
                continue;
            }
        };
        if code != Some(0) {
            failures.push(format!("{}: exit code {code:?}", input.display()));
        }
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
        if got != expected {
            failures.push(format!(
                "{}:\n  expected {expected}\n  got      {got}",
                input.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The recommendation of container `name` in a golden case, fresh from the binary.
fn recommendation(case: &str, name: &str) -> serde_json::Value {
    let (code, stdout, stderr) = run(&golden_dir().join(format!("{case}.input.json")));
    assert_eq!(code, Some(0), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    v["containerRecommendations"]
        .as_array()
        .expect("list")
        .iter()
        .find(|r| r["containerName"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no {name} in {case}"))
}

fn pair(v: &serde_json::Value, list: &str) -> (String, String) {
    (
        v[list]["cpu"].as_str().expect("cpu").to_owned(),
        v[list]["memory"].as_str().expect("memory").to_owned(),
    )
}

fn s(a: &str, b: &str) -> (String, String) {
    (a.to_owned(), b.to_owned())
}

#[test]
fn hand_computed_cases() {
    // One sample of 250m: bucket 16, percentile = start of bucket 17 = 0.2 × (1.05^17 − 1) = 0.2584 cores →
    // 258m, + trunc(258 × 0.15) = 296m. 256 MiB: bucket 17, start of 18 = 281323846, + 42198576 = 323522422.
    // Confidence 0: lower = the minimum share (25m, 250 MiB = 262144000 = 262144k), upper = 1e14 (100G cores in
    // millicores → "100G", bytes → "100T").
    let r = recommendation("01-one-sample", "app");
    assert_eq!(pair(&r, "target"), s("296m", "323522422"));
    assert_eq!(pair(&r, "uncappedTarget"), s("296m", "323522422"));
    assert_eq!(pair(&r, "lowerBound"), s("25m", "262144k"));
    assert_eq!(pair(&r, "upperBound"), s("100G", "100T"));

    // No samples: every value is the minimum share of one container; the upper bound 0 × ∞ = NaN too.
    let r = recommendation("07-no-samples", "app");
    for list in ["target", "lowerBound", "upperBound", "uncappedTarget"] {
        assert_eq!(pair(&r, list), s("25m", "262144k"), "{list}");
    }

    // Three containers: the share is trunc(25/3) = 8m and trunc(262144000/3) = 87381333.
    let idle = recommendation("05-several-containers", "idle");
    assert_eq!(pair(&idle, "target"), s("8m", "87381333"));
    // The sidecar's 2m is below 0.01 core: bucket 0, percentile = start of bucket 1 = 10m, + 1 = 11m. Its 20 MB
    // peaks sit in bucket 1 (log_1.05 1.1 = 1.95): start of bucket 2 = 20500000, + 3075000 = 23575000, below the
    // share, so the share wins.
    let sidecar = recommendation("05-several-containers", "sidecar");
    assert_eq!(pair(&sidecar, "target"), s("11m", "87381333"));

    // An OOM with request 256 MiB and no memory sample: 356 MiB = 373293056 in bucket 21, percentile = start of
    // bucket 22 = 385052143, + 57757821 = 442809964. No CPU sample: CPU is the share.
    let r = recommendation("10-oom-only", "app");
    assert_eq!(pair(&r, "target"), s("25m", "442809964"));

    // Fractional times: samples 0.5 s and 0.25 s apart all count. 1.5 cores (bucket 43) twice and 1m (bucket
    // 0) once: p90 and p50 both end in bucket 43 → start of bucket 44 = 1.5114 cores → 1511m + 226 = 1737m.
    let r = recommendation("09-float-times", "app");
    assert_eq!(r["target"]["cpu"], "1737m");
}

#[test]
fn out_of_order_input_equals_sorted_input() {
    // The out-of-order case, sorted by time, recommends the same: order in the file does not matter.
    let text =
        std::fs::read_to_string(golden_dir().join("06-out-of-order.input.json")).expect("input");
    let mut v: serde_json::Value = serde_json::from_str(&text).expect("json");
    for list in ["cpuSamples", "memorySamples"] {
        let samples = v["containers"][0][list].as_array_mut().expect("samples");
        samples.sort_by_key(|s| s["t"].as_i64().expect("t"));
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let sorted = dir.path().join("sorted.json");
    std::fs::write(&sorted, v.to_string()).expect("write");
    let (code, stdout, stderr) = run(&sorted);
    assert_eq!(code, Some(0), "{stderr}");
    let (_, original, _) = run(&golden_dir().join("06-out-of-order.input.json"));
    let a: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    let b: serde_json::Value = serde_json::from_str(&original).expect("json");
    assert_eq!(a, b);
}
