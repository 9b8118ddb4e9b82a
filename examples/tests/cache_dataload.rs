//! Runs the real `ksx cache dataload`: block plan, skipped cached blocks, next `Cron` run, and input errors.

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

const DATASET: &str = "\
apiVersion: cache.ksx.io/v1alpha1
kind: Dataset
metadata: {name: imagenet, namespace: ml}
spec:
  mounts:
    - {mountPoint: \"s3://datasets/imagenet\", name: imagenet}
";

const DATALOAD: &str = "\
apiVersion: cache.ksx.io/v1alpha1
kind: DataLoad
metadata: {name: warm, namespace: ml}
spec:
  dataset: {name: imagenet}
  target:
    - {path: /train, replicas: 2}
  policy: Cron
  schedule: \"30 2 * * *\"
";

// 10 Mi, 3 Mi and 1 Mi.
const LISTING: &str = "\
- {path: train/a, size: 10485760}
- {path: train/b, size: 3145728}
- {path: val/c, size: 1048576}
";

const CACHED: &str = "- {path: train/a, index: 1}\n";

fn setup(dir: &Path, dataload: &str) {
    std::fs::write(dir.join("dataset.yaml"), DATASET).expect("write");
    std::fs::write(dir.join("dataload.yaml"), dataload).expect("write");
    std::fs::write(dir.join("listing.yaml"), LISTING).expect("write");
    std::fs::write(dir.join("cached.yaml"), CACHED).expect("write");
}

const ARGS: [&str; 12] = [
    "cache",
    "dataload",
    "-f",
    "dataload.yaml",
    "--dataset",
    "dataset.yaml",
    "--listing",
    "listing.yaml",
    "--cached",
    "cached.yaml",
    "--now",
    "2026-11-29T17:00:00Z",
];

#[test]
fn plans_blocks_skips_cached_ones_and_tells_the_next_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    setup(dir.path(), DATALOAD);
    let mut args = ARGS.to_vec();
    args.extend(["-o", "json"]);
    let out = ksx(&args, dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    // train/a = 4 Mi + 4 Mi (cached) + 2 Mi, train/b = 3 Mi; val/c is not under /train.
    assert_eq!(v["nextRun"], "2026-11-30T02:30:00Z");
    assert_eq!(v["plan"]["objects"], 2);
    assert_eq!(v["plan"]["requestedBytes"], 13 * 1_048_576);
    assert_eq!(v["plan"]["skippedBytes"], 4 * 1_048_576);
    assert_eq!(v["plan"]["loadBytes"], 9 * 1_048_576);
    let blocks = v["plan"]["blocks"].as_array().expect("blocks");
    assert_eq!(blocks.len(), 3);
    assert_eq!(blocks[1]["path"], "train/a");
    assert_eq!(blocks[1]["index"], 2);
    assert_eq!(blocks[1]["offset"], 8 * 1_048_576);
    assert_eq!(blocks[1]["len"], 2 * 1_048_576);
    assert_eq!(v["plan"]["replicas"]["train/b"], 2);

    let out = ksx(&ARGS, dir.path());
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "dataload ml/warm of dataset ml/imagenet: policy Cron, next run 2026-11-30T02:30:00Z"
        ),
        "{text}"
    );
    assert!(
        text.contains("13631488") && text.contains("9437184") && text.contains("4Mi"),
        "{text}"
    );
}

#[test]
fn bad_input_names_the_file_and_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    setup(dir.path(), &DATALOAD.replace("replicas: 2", "replica: 2"));
    let out = ksx(&ARGS, dir.path());
    assert_eq!(out.status.code(), Some(2), "bad input exits 2");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("dataload.yaml") && err.contains("replica"),
        "{err}"
    );

    setup(dir.path(), &DATALOAD.replace("30 2 * * *", "30 2 * *"));
    let out = ksx(&ARGS, dir.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("spec.schedule"), "{err}");
}
