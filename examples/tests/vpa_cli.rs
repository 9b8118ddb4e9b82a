//! `ksx vpa recommend` exit codes and error paths: bad input exits 2 naming the file and the place (field,
//! container, sample index); `-` reads standard input; `-o yaml` prints the same answer as YAML.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn ksx_vpa(input: &str, dir: &Path, extra: &[&str]) -> Output {
    let path = dir.join("input.json");
    std::fs::write(&path, input).expect("write the request");
    Command::new(env!("CARGO_BIN_EXE_ksx"))
        .args(["vpa", "recommend", "--input"])
        .arg(&path)
        .args(extra)
        .env_remove("KSX_LOG")
        .output()
        .expect("run ksx")
}

fn expect_bad(input: &str, needles: &[&str]) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let out = ksx_vpa(input, dir.path(), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{input}: stderr {stderr}");
    assert!(out.stdout.is_empty(), "nothing on stdout for bad input");
    for n in needles {
        assert!(stderr.contains(n), "expected {n:?} in {stderr}");
    }
}

#[test]
fn bad_input_exits_2_naming_the_place() {
    expect_bad(
        r#"{"now": 1, "containers": [], "extra": 1}"#,
        &["input.json", "unknown field `extra`"],
    );
    expect_bad(
        r#"{"now": 1, "containers": [], "config": {"halfLife": 1}}"#,
        &["input.json", "halfLife"],
    );
    expect_bad(
        r#"{"now": 1, "containers": [{"name": "web", "cpuSamples": [{"t": 1, "cores": 1}, {"t": 2, "cores": -1}]}]}"#,
        &["input.json", "containers[0].cpuSamples[1].cores", "\"web\""],
    );
    expect_bad(
        r#"{"now": 1, "containers": [{"name": "db", "memorySamples": [{"t": 1, "bytes": -5}]}]}"#,
        &["containers[0].memorySamples[0].bytes", "\"db\""],
    );
    expect_bad(
        r#"{"now": 1, "containers": [{"name": "a", "oomEvents": [{"t": 1, "requestBytes": -5}]}]}"#,
        &["containers[0].oomEvents[0].requestBytes"],
    );
    expect_bad(
        r#"{"now": 1, "containers": [{"name": "a"}, {"name": "a"}]}"#,
        &["containers[1].name"],
    );
    expect_bad(
        r#"{"now": 1, "containers": [], "config": {"targetCpuPercentile": 2}}"#,
        &["config.targetCpuPercentile"],
    );
    expect_bad(
        r#"{"now": "soon", "containers": []}"#,
        &["input.json", "now"],
    );
    expect_bad(
        r#"{"now": 1, "containers": [{"name": "a", "cpuSamples": [{"t": 1}]}]}"#,
        &["input.json", "cores"],
    );
    expect_bad("{not json", &["input.json"]);
}

#[test]
fn missing_file_exits_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_ksx"))
        .args(["vpa", "recommend", "--input", "/nonexistent/vpa.json"])
        .output()
        .expect("run ksx");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/vpa.json"));
}

const REQUEST: &str = r#"{"now": 1700000000, "containers": [{"name": "app",
    "cpuSamples": [{"t": 1699999400, "cores": 0.15}], "memorySamples": [{"t": 1699999400, "bytes": 123456000}]}]}"#;

#[test]
fn stdin_and_yaml_output() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ksx"))
        .args(["vpa", "recommend", "--input", "-", "-o", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run ksx");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(REQUEST.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let dir = tempfile::tempdir().expect("temporary directory");
    let yaml_out = ksx_vpa(REQUEST, dir.path(), &["-o", "yaml"]);
    assert_eq!(yaml_out.status.code(), Some(0));
    let yaml: serde_json::Value = serde_yaml::from_slice(&yaml_out.stdout).expect("yaml");
    assert_eq!(json, yaml);
    // The default format is the contract's JSON.
    let default_out = ksx_vpa(REQUEST, dir.path(), &[]);
    let default: serde_json::Value = serde_json::from_slice(&default_out.stdout).expect("json");
    assert_eq!(json, default);
    // Canonical quantities: 150m → bucket 12 → … never a binary suffix.
    let target = &json["containerRecommendations"][0]["target"];
    assert!(target["cpu"].as_str().expect("cpu").ends_with('m'));
    assert!(!target["memory"].as_str().expect("memory").contains('i'));
}
