//! `ksx-node-inspect` on temporary files and this machine's `/proc/sys`, its JSON merged by
//! `ksx inspect --node-results`, `ksx inspect baseline reset`, `ksx inspect rules validate` and `--cluster`
//! without a cluster (spec `inspect.md` §2.7, §7).
#![allow(
    clippy::unwrap_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use std::path::Path;
use std::process::{Command, Output};

fn ksx(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ksx"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn collector(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ksx-node-inspect"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

const RULES: &str = r"apiVersion: inspect.ksx.io/v1
kind: InspectRule
metadata: {name: node-baseline}
spec:
  id: org-node-baseline
  type: node
  category: node
  severity: danger
  nodeSelector: {kubernetes.io/os: linux}
  node:
    sysctl:
      - {key: kernel.ostype, equals: Linux}
    fileHash:
      - {path: /etc/kubernetes/kubelet.conf, baseline: first-run}
  message: '{{ node }}: {{ item }} is {{ value }}'
";

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("rules")).unwrap();
    std::fs::write(dir.path().join("rules/node.yaml"), RULES).unwrap();
    // The collector's root: sysctl comes from a copied /proc/sys/kernel/ostype, the file under test from here.
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("proc/sys/kernel")).unwrap();
    std::fs::create_dir_all(root.join("etc/kubernetes")).unwrap();
    std::fs::copy(
        "/proc/sys/kernel/ostype",
        root.join("proc/sys/kernel/ostype"),
    )
    .unwrap();
    std::fs::write(root.join("etc/kubernetes/kubelet.conf"), "server: a\n").unwrap();
    dir
}

fn collect(dir: &Path, out: &str) -> serde_json::Value {
    let o = collector(
        &[
            "--rules",
            "rules",
            "--node",
            "n1",
            "--root",
            "root",
            "--baseline",
            "base.json",
            "-o",
            out,
        ],
        dir,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_str(&std::fs::read_to_string(dir.join(out)).unwrap()).unwrap()
}

#[test]
fn inspect_node_collector_detects_drift_and_baseline_reset_rerecords() {
    let tmp = setup();
    let dir = tmp.path();
    let first = collect(dir, "r1.json");
    assert_eq!(first["node"], "n1");
    assert_eq!(first["rules"][0]["rule"], "org-node-baseline");
    assert_eq!(first["rules"][0]["findings"], serde_json::json!([]));
    std::fs::write(dir.join("root/etc/kubernetes/kubelet.conf"), "server: b\n").unwrap();
    let drift = collect(dir, "r2.json");
    let f = &drift["rules"][0]["findings"][0];
    assert_eq!(f["item"], "/etc/kubernetes/kubelet.conf");
    assert_eq!(
        f["changedLines"],
        serde_json::json!(["1: -server: a", "1: +server: b"])
    );

    // The engine merges the collector's JSON as a finding on Node/n1 (danger: exit 3).
    std::fs::write(
        dir.join("pod.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n",
    )
    .unwrap();
    let o = ksx(
        &[
            "inspect",
            "-f",
            "pod.yaml",
            "--rules",
            "rules",
            "--node-results",
            "r2.json",
            "--checks",
            "org-*",
            "--format",
            "json",
        ],
        dir,
    );
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let finding = &report["findings"][0];
    assert_eq!(finding["resource"]["kind"], "Node");
    assert_eq!(finding["resource"]["name"], "n1");
    assert!(
        finding["message"]
            .as_str()
            .unwrap()
            .starts_with("n1: /etc/kubernetes/kubelet.conf is "),
        "{finding}"
    );

    // Reset: the next collector run records the new content instead of reporting it.
    let o = ksx(
        &[
            "inspect",
            "baseline",
            "reset",
            "--node",
            "n1",
            "--baseline",
            "base.json",
        ],
        dir,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        String::from_utf8_lossy(&o.stdout).starts_with("node n1: 1 baseline hash(es) forgotten")
    );
    let after = collect(dir, "r3.json");
    assert_eq!(after["rules"][0]["findings"], serde_json::json!([]));
    assert!(
        after["notes"][0]
            .as_str()
            .unwrap()
            .starts_with("baseline recorded for /etc/kubernetes/kubelet.conf")
    );
}

#[test]
fn inspect_rules_validate_lists_every_problem() {
    let tmp = setup();
    let dir = tmp.path();
    let o = ksx(&["inspect", "rules", "validate", "rules"], dir);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "1 rule(s) valid: 0 object, 0 prometheus, 1 node\n"
    );
    std::fs::write(
        dir.join("rules/bad.yaml"),
        "apiVersion: inspect.ksx.io/v1\nkind: InspectRule\nmetadata: {name: x}\nspec:\n  id: org-bad\n  type: prometheus\n  category: node\n  severity: high\n  prometheus: {}\n",
    )
    .unwrap();
    let o = ksx(&["inspect", "rules", "validate", "rules"], dir);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines,
        [
            "rules/bad.yaml:8:3: rule \"org-bad\": field \"spec.severity\" must be one of danger, warning, info; got \"high\"",
            "rules/bad.yaml:9:3: rule \"org-bad\": missing required field \"spec.prometheus.query\"",
            "2 rule error(s); no inspection was run",
        ]
    );
}

#[test]
fn inspect_cluster_without_a_reachable_cluster_is_a_runtime_failure() {
    let tmp = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_ksx"))
        .args(["inspect", "--cluster", "--namespaces", "shop"])
        .current_dir(tmp.path())
        .env("KUBECONFIG", tmp.path().join("missing-kubeconfig"))
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).starts_with("error: "));
}

#[test]
fn inspect_merges_the_built_in_collector_checks_onto_their_node() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let certs = dir.join("pki");
    std::fs::create_dir_all(&certs).unwrap();
    // notAfter 2036-11-26: about 3,650 days away, inside a 4,000-day warning window and outside a 7-day danger one.
    let pem =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../ksx-inspect/tests/data/node-certs/real.pem");
    std::fs::copy(&pem, certs.join("apiserver.crt")).unwrap();
    let o = collector(
        &[
            "--node",
            "cp-1",
            "--cert-dir",
            certs.to_str().unwrap(),
            "--cert-warning-days",
            "4000",
            "--baseline",
            "base.json",
            "-o",
            "results.json",
        ],
        dir,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::write(
        dir.join("cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n",
    )
    .unwrap();
    let o = ksx(
        &[
            "inspect",
            "-f",
            "cm.yaml",
            "--node-results",
            "results.json",
            "--checks",
            "node-cert-expiry",
            "--fail-on",
            "warning",
            "--format",
            "json",
        ],
        dir,
    );
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{report}");
    let f = &findings[0];
    assert_eq!(f["checkId"], "node-cert-expiry");
    assert_eq!(f["severity"], "warning");
    assert_eq!(f["resource"]["kind"], "Node");
    assert_eq!(f["resource"]["name"], "cp-1");
}
