//! `ksx sched place`: golden cases and bad input.
//!
//! Every `*.input.json` under `tests/golden/sched/place/` runs through the real binary; its standard output must
//! equal the `*.output.json` next to it, compared as parsed JSON except `stats.podsPerSecond` (wall-clock
//! dependent: only checked to be > 0). `nodesEvaluated` is compared exactly. The expectations were derived by
//! hand from scheduling.md (§1, §2.4, §2.7, §3.3, §4.1); the arithmetic of each case is in the `README.md` of the
//! folder. `KSX_UPDATE_GOLDEN=1` rewrites the outputs instead (review the diff against the README).

mod support;

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn ksx_place(input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ksx"))
        .args(["sched", "place", "-o", "json", "--input", "-"])
        .env_remove("KSX_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ksx");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait for ksx")
}

#[test]
fn place_golden() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/sched/place");
    support::golden::check_json_goldens(&dir, &["sched", "place", "-o", "json"], 6, |got| {
        let pps = got["stats"]
            .as_object_mut()
            .and_then(|s| s.remove("podsPerSecond"))
            .and_then(|v| v.as_f64())
            .ok_or("stats.podsPerSecond is not a number")?;
        if pps > 0.0 {
            Ok(())
        } else {
            Err(format!("podsPerSecond {pps} is not > 0"))
        }
    });
}

fn assert_bad_input(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(stderr.contains(needle), "{needle:?} not in {stderr}");
    assert!(out.stdout.is_empty());
}

fn node(name: &str, cpu: &str) -> serde_json::Value {
    serde_json::json!({"metadata": {"name": name, "labels": {"pool": "x"}},
        "status": {"allocatable": {"cpu": cpu, "memory": "8Gi", "pods": "110"}}})
}

fn pending(cpu: &str) -> serde_json::Value {
    serde_json::json!([{"metadata": {"name": "p", "namespace": "ns"},
        "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}]}}])
}

#[test]
fn malformed_quantity_exits_2_naming_the_field() {
    let input = serde_json::json!({"nodes": [node("n1", "4")], "pending": pending("lots")});
    assert_bad_input(
        &ksx_place(&input.to_string()),
        "spec.containers[0].resources.requests.cpu",
    );
    let input = serde_json::json!({"nodes": [node("n1", "four")], "pending": pending("1")});
    assert_bad_input(&ksx_place(&input.to_string()), "node n1");
    let input = serde_json::json!({"nodes": [node("n1", "4")], "pending": pending("1"),
        "queues": [{"name": "q", "capability": {"cpu": "x1"}}]});
    assert_bad_input(&ksx_place(&input.to_string()), "queues[0] (q)");
}

#[test]
fn unknown_plugin_and_fields_exit_2() {
    let input = serde_json::json!({"nodes": [node("n1", "4")], "pending": pending("1"),
        "profile": {"plugins": [{"name": "ImageLocality"}]}});
    assert_bad_input(&ksx_place(&input.to_string()), "ImageLocality");
    let input = serde_json::json!({"nodes": [], "extra": 1});
    assert_bad_input(&ksx_place(&input.to_string()), "unknown field `extra`");
    let input = serde_json::json!({"nodes": [node("n1", "4")], "pending": pending("1"),
        "profile": {"plugins": [{"name": "GpuBinpack"}, {"name": "GpuSpread"}]}});
    assert_bad_input(&ksx_place(&input.to_string()), "exclude each other");
}

#[test]
fn a_node_in_two_groups_exits_2_naming_both() {
    let input = serde_json::json!({"nodes": [node("n1", "4")], "pending": pending("1"),
    "nodeGroups": [
        {"name": "g1", "exclusive": true, "members": {"nodes": ["n1"]}},
        {"name": "g2", "exclusive": true, "members": {"nodeSelector": {"matchLabels": {"pool": "x"}}}}
    ]});
    let out = ksx_place(&input.to_string());
    assert_bad_input(&out, "node n1 is also a member of node group g2");
    assert!(String::from_utf8_lossy(&out.stderr).contains("node group g1"));
}

#[test]
fn duplicate_pending_pods_exit_2() {
    let mut p = pending("1");
    let copy = p[0].clone();
    p.as_array_mut().unwrap().push(copy);
    let input = serde_json::json!({"nodes": [node("n1", "4")], "pending": p});
    assert_bad_input(&ksx_place(&input.to_string()), "pending[1] (ns/p)");
}

#[test]
fn yaml_input_works_and_schema_lists_place() {
    let out = ksx_place(
        "nodes:\n- metadata: {name: n1}\n  status: {allocatable: {cpu: '2', pods: '10'}}\npending:\n- metadata: {name: p, namespace: ns}\n  spec: {containers: [{name: c}]}\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["bindings"][0]["node"], "n1");
    assert_eq!(v["stats"]["nodesEvaluated"], 1);
    let out = Command::new(env!("CARGO_BIN_EXE_ksx"))
        .args(["sched", "schema", "-o", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["placeRequest"]["properties"]["queues"].is_object());
    assert!(v["queue"]["properties"]["capability"].is_object());
    assert!(v["scoreRequest"].is_object(), "score schemas kept");
}
