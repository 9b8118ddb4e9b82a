//! Runs the real `ksx cache plan` on a Dataset, its CacheRuntime and a node inventory: placements, exit codes
//! and errors that name file, document and field.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn ksx(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ksx"))
        .args(args)
        .current_dir(dir)
        .env_remove("KSX_LOG")
        .output()
        .expect("run ksx")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const SPECS: &str = "\
apiVersion: cache.ksx.io/v1alpha1
kind: Dataset
metadata: {name: imagenet, namespace: ml}
spec:
  mounts:
    - {mountPoint: \"s3://datasets/imagenet\", name: train}
  nodeAffinity:
    required:
      nodeSelectorTerms:
        - matchExpressions:
            - {key: zone, operator: In, values: [a, b]}
---
apiVersion: cache.ksx.io/v1alpha1
kind: CacheRuntime
metadata: {name: imagenet, namespace: ml}
spec:
  replicas: 3
  tieredstore:
    levels:
      - {mediumtype: SSD, path: \"/mnt/ssd1,/mnt/ssd2\", quota: 100Gi}
      - {mediumtype: MEM, path: /dev/shm, quota: 2Gi}
";

const NODES: &str = "\
nodes:
  - {name: node-1, labels: {zone: a}, memory: 64Gi, memoryRequested: 8Gi, disks: {SSD: 200Gi}}
  - {name: node-2, labels: {zone: a}, memory: 32Gi, disks: {SSD: 150Gi}, workers: [{dataset: ml-imagenet}]}
  - {name: node-3, labels: {zone: b}, memory: 64Gi, disks: {SSD: 300Gi}, workers: [{dataset: ml-coco}]}
  - {name: node-4, labels: {zone: c}, memory: 64Gi, disks: {SSD: 300Gi}}
  - {name: node-5, ready: false, labels: {zone: a}, memory: 64Gi, disks: {SSD: 300Gi}}
";

fn plan(dir: &Path, specs: &str, extra: &[&str]) -> Output {
    std::fs::write(dir.join("specs.yaml"), specs).expect("write specs");
    std::fs::write(dir.join("nodes.yaml"), NODES).expect("write nodes");
    let mut args = vec!["cache", "plan", "-f", "specs.yaml", "--nodes", "nodes.yaml"];
    args.extend(extra);
    ksx(&args, dir)
}

#[test]
fn places_workers_and_exits_1_when_some_are_unplaced() {
    let dir = tempfile::tempdir().unwrap();
    let out = plan(dir.path(), SPECS, &["-o", "json"]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let p = &v["plans"][0];
    assert_eq!(p["dataset"], "ml-imagenet");
    assert_eq!(p["unplaced"], 1);
    let nodes: Vec<(&str, i64)> = p["placements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| (w["node"].as_str().unwrap(), w["score"].as_i64().unwrap()))
        .collect();
    assert_eq!(nodes, [("node-2", 150), ("node-1", 50)]);
    assert_eq!(p["tiers"][0]["medium"], "MEM");
    assert_eq!(
        p["workerAffinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
            ["topologyKey"],
        "kubernetes.io/hostname"
    );
    assert_eq!(p["tiers"][1]["paths"][1]["quotaBytes"], 50_u64 << 30);
    let rejected: Vec<&str> = p["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(rejected, ["PlacementConflict", "NodeAffinity", "NotReady"]);

    let two = plan(
        dir.path(),
        &SPECS.replace("replicas: 3", "replicas: 2"),
        &[],
    );
    assert_eq!(two.status.code(), Some(0), "stderr: {}", stderr(&two));
    let table = String::from_utf8(two.stdout).unwrap();
    assert!(
        table.starts_with("dataset ml-imagenet: 2 workers, 2 placed, 0 unplaced\n"),
        "{table}"
    );
    assert!(
        table.contains("SSD   100Gi  /mnt/ssd1=50Gi,/mnt/ssd2=50Gi  0.95  0.7"),
        "{table}"
    );
    assert!(
        table.contains(
            "worker labels: cache.ksx.io/dataset=ml-imagenet, cache.ksx.io/dataset-placement=Exclusive"
        ),
        "{table}"
    );
}

#[test]
fn bad_input_exits_2_naming_the_place() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            SPECS.replace("quota: 100Gi", "quota: 500Gi"),
            "runtime \"imagenet\": spec.tieredstore: SSD quota 500Gi exceeds the largest node capacity 200Gi (node-1)",
        ),
        (
            SPECS.replace("s3://datasets/imagenet", "gs://datasets/imagenet"),
            "dataset \"imagenet\": spec.mounts[0].mountPoint: unknown mount scheme \"gs\"",
        ),
        (
            SPECS.replace("replicas: 3", "replicas: 3\n  replica: 1"),
            "specs.yaml: document 2: spec.replica: unknown field `replica`",
        ),
        (
            SPECS.replace("kind: CacheRuntime", "kind: AlluxioRuntime"),
            "specs.yaml: document 2: kind \"AlluxioRuntime\" is neither Dataset nor CacheRuntime",
        ),
        (
            SPECS.replace(
                "metadata: {name: imagenet, namespace: ml}\nspec:\n  replicas",
                "metadata: {name: coco, namespace: ml}\nspec:\n  replicas",
            ),
            "dataset \"imagenet\" has no CacheRuntime of the same name and namespace",
        ),
    ];
    for (specs, expected) in cases {
        let out = plan(dir.path(), &specs, &[]);
        assert_eq!(out.status.code(), Some(2), "{expected}");
        assert!(
            stderr(&out).contains(expected),
            "expected {expected:?} in {}",
            stderr(&out)
        );
        assert!(out.stdout.is_empty());
    }
    std::fs::write(
        dir.path().join("bad-nodes.yaml"),
        "nodes:\n  - {name: n, memroy: 1Gi}\n",
    )
    .unwrap();
    let out = ksx(
        &[
            "cache",
            "plan",
            "-f",
            "specs.yaml",
            "--nodes",
            "bad-nodes.yaml",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("bad-nodes.yaml:2:"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("unknown field `memroy`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn renders_engine_properties() {
    let dir = tempfile::tempdir().unwrap();
    let out = plan(dir.path(), SPECS, &["--engine", "alluxio", "-o", "json"]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let props = &v["plans"][0]["engineProperties"];
    assert_eq!(props["alluxio.worker.tieredstore.level0.alias"], "MEM");
    assert_eq!(
        props["alluxio.worker.tieredstore.level1.dirs.path"],
        "/mnt/ssd1,/mnt/ssd2"
    );
    assert_eq!(
        props["alluxio.worker.tieredstore.level1.watermark.high.ratio"],
        "0.95"
    );
    let ksx_default = plan(dir.path(), SPECS, &["-o", "json"]);
    let v: Value = serde_json::from_slice(&ksx_default.stdout).unwrap();
    assert!(v["plans"][0].get("engineProperties").is_none());
    let bad = plan(dir.path(), SPECS, &["--engine", "fluid"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("unknown engine \"fluid\""),
        "{}",
        stderr(&bad)
    );
}
