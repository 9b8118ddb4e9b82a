//! Runs `ksx sched`: bad input exits 2 with a message naming the place, `schema` prints JSON Schemas, YAML input
//! and standard input work.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

fn ksx_with_input(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ksx"))
        .args(args)
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

fn score(input: &serde_json::Value) -> Output {
    ksx_with_input(
        &["sched", "score", "-o", "json", "--input", "-"],
        &input.to_string(),
    )
}

#[allow(clippy::needless_pass_by_value, reason = "tests pass literals")]
fn request(plugins: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "pod": {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "1"}}}]}},
        "nodes": [{"metadata": {"name": "n1"}, "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}}}],
        "plugins": plugins
    })
}

fn assert_bad_input(out: &Output, needle: &str) {
    assert_eq!(
        out.status.code(),
        Some(2),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(needle), "{needle:?} not in {stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn invalid_plugin_args_exit_2() {
    let out = score(&request(
        serde_json::json!([{"name": "NodeResourcesFit", "args": {"scoringStrategy":
        {"type": "MostAllocated", "resources": [{"name": "cpu", "weight": 101}]}}}]),
    ));
    assert_bad_input(
        &out,
        "scoringStrategy.resources[0].weight: 101 is not in the range 1–100",
    );
    let out = score(&request(
        serde_json::json!([{"name": "NodeResourcesFit", "args": {"scoringStrategy":
        {"type": "RequestedToCapacityRatio", "requestedToCapacityRatio": {"shape": [
            {"utilization": 60, "score": 1}, {"utilization": 10, "score": 2}]}}}}]),
    ));
    assert_bad_input(&out, "must be sorted in increasing order");
    let out = score(&request(serde_json::json!([{"name": "GpuTurbo"}])));
    assert_bad_input(&out, "plugin \"GpuTurbo\" is not supported");
}

#[test]
fn malformed_objects_and_unknown_fields_exit_2() {
    let mut r = request(serde_json::json!([]));
    r["nodes"][0]["status"]["allocatable"]["cpu"] = "four".into();
    assert_bad_input(
        &score(&r),
        "node n1: field status.allocatable.cpu: invalid quantity \"four\"",
    );
    let mut r = request(serde_json::json!([]));
    r["extra"] = 1.into();
    assert_bad_input(&score(&r), "unknown field `extra`");
    let mut r = request(serde_json::json!([]));
    r["pod"]["spec"]["containers"][0]["resources"]["requests"]["memory"] = "1GB".into();
    assert_bad_input(
        &score(&r),
        "pod p: field spec.containers[0].resources.requests.memory",
    );
}

#[test]
fn a_node_in_two_node_groups_exits_2_naming_both() {
    let mut r = request(
        serde_json::json!([{"name": "NodeGroupAffinity", "args": {"nodeGroups": [
            {"name": "a", "exclusive": true, "members": {"nodes": ["n1"]}},
            {"name": "b", "exclusive": true, "members": {"nodeSelector": {"matchLabels": {"pool": "gpu"}}}}
        ]}}]),
    );
    r["nodes"][0]["metadata"]["labels"] = serde_json::json!({"pool": "gpu"});
    assert_bad_input(
        &score(&r),
        "node group a: node n1 is also a member of node group b",
    );
}

#[test]
fn yaml_input_and_a_pod_bigger_than_every_node() {
    let yaml = "pod:\n  metadata: {name: big}\n  spec:\n    containers:\n    - name: c\n      resources: {requests: {cpu: '64'}}\n\
                nodes:\n- metadata: {name: n1}\n  status: {allocatable: {cpu: '4', pods: '10'}}\n";
    let out = ksx_with_input(&["sched", "score", "--input", "-"], yaml);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"filter": [{"node": "n1", "feasible": false, "reasons": ["Insufficient cpu"]}], "scores": {}})
    );
}

#[test]
fn schema_prints_json_schemas() {
    let out = ksx_with_input(&["sched", "schema", "-o", "json"], "");
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "scoreRequest",
        "scoreResponse",
        "nodeGroup",
        "nodeResourcesFitArgs",
        "nodeResourcesBalancedAllocationArgs",
    ] {
        assert!(v[key].is_object(), "{key}");
    }
}
