//! Runs the real `ksx` binary: version, the demo's determinism and report, exit codes of commands not yet landed.

use std::path::Path;
use std::process::{Command, Output};

fn ksx(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ksx"))
        .args(args)
        .current_dir(dir)
        .env_remove("KSX_LOG")
        .output()
        .expect("run ksx")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("utf-8 stdout")
}

#[test]
fn version_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = ksx(&["version", "-o", "json"], dir.path());
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["ksx"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["kubernetesApi"], "1.33");
}

/// A small demo keeps the test quick; the full-size demo runs the same code.
const SMALL: [&str; 7] = [
    "--nodes",
    "12",
    "--workloads",
    "30",
    "--minutes",
    "2",
    "--no-progress",
];

#[test]
fn demo_is_reproducible_and_writes_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let run = |report: &str| {
        let mut args = vec!["demo", "--seed", "1", "--report", report, "-o", "json"];
        args.extend(SMALL);
        let out = ksx(&args, dir.path());
        assert!(
            out.status.success(),
            "stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout(&out)
    };
    let a = run("a.html");
    let b = run("a.html");
    assert_eq!(a, b, "same seed, same summary");
    let html_a = std::fs::read_to_string(dir.path().join("a.html")).unwrap();
    let c = run("c.html");
    let html_c = std::fs::read_to_string(dir.path().join("c.html")).unwrap();
    assert_eq!(html_a, html_c, "same seed, same report");
    assert_ne!(a, c, "the summary names the report path");

    let summary: serde_json::Value = serde_json::from_str(&a).unwrap();
    assert_eq!(summary["seed"], 1);
    assert_eq!(summary["inventory"]["nodes"], 12);
    // 30 generated workloads plus the traced rollout Deployment.
    assert_eq!(summary["inventory"]["workloads"], 31);
    assert!(summary["inventory"]["pods"].as_u64().unwrap() >= 31);
    let rollout = &summary["rollout"];
    assert_eq!(rollout["replicas"], 20);
    // maxSurge 25% of 20 rounds up to 5, maxUnavailable 10% rounds down to 2.
    assert!(rollout["peakPods"].as_i64().unwrap() <= 25, "{rollout}");
    assert!(
        rollout["lowestAvailable"].as_i64().unwrap() >= 18,
        "{rollout}"
    );
    assert!(
        rollout["completedAfterSeconds"].as_u64().is_some(),
        "{rollout}"
    );

    let hpa = &summary["hpa"];
    let max = hpa["maxReplicas"].as_i64().unwrap();
    for key in ["peakReplicasDefault", "peakReplicasTuned"] {
        let peak = hpa[key].as_i64().unwrap();
        assert!(peak > 3 && peak <= max, "{key}: {hpa}");
    }
    // The tuned behavior's 60 s window lets it shed pods sooner than the default 300 s window, and it
    // spends fewer replica-minutes over the same traffic.
    let down = |key: &str| hpa[key].as_i64().unwrap();
    assert!(
        down("secondsToScaleDownTuned") < down("secondsToScaleDownDefault"),
        "{hpa}"
    );
    assert!(down("secondsToScaleDownDefault") >= 240, "{hpa}");
    assert!(
        hpa["replicaMinutesTuned"].as_f64().unwrap()
            < hpa["replicaMinutesDefault"].as_f64().unwrap(),
        "{hpa}"
    );
    assert!(hpa["peakReadyTuned"].as_i64().unwrap() <= max, "{hpa}");

    let event = &summary["event"];
    // This test runs with every feature and Redis answers on this machine, so the queue is a real Redis list.
    #[cfg(feature = "scalers")]
    assert_eq!(event["backend"], "redis", "{event}");
    #[cfg(not(feature = "scalers"))]
    assert_eq!(event["backend"], "memory", "{event}");
    // Two orders at 120 s are not more than activationListLength 2 (strict): nothing wakes until the burst at
    // 180 s, when KEDA scales 0 → 1 and the HPA takes over.
    assert_eq!(event["firstActivationSeconds"], 180, "{event}");
    assert_eq!(event["activations"], 2, "{event}");
    let peak = event["peakReplicas"].as_i64().unwrap();
    assert!(
        peak > 1 && peak <= event["maxReplicas"].as_i64().unwrap(),
        "{event}"
    );
    // The last burst poll is at 705 s; 120 s of cooldown later the next poll (840 s at the earliest) jumps the
    // workers straight to zero from N > 1, not step by step.
    let jumps = event["cooldownJumps"].as_array().unwrap();
    assert_eq!(jumps.len(), 2, "{event}");
    assert!(jumps[0]["atSeconds"].as_i64().unwrap() >= 840, "{event}");
    assert!(jumps[0]["fromReplicas"].as_i64().unwrap() > 1, "{event}");
    assert_eq!(event["itemsProcessed"], event["itemsEnqueued"], "{event}");

    // 12 nodes give a gpu pool of two (15 % rounded up): one node per group, 8 A100 80 GB each over 2 NUMA nodes.
    let sched = &summary["sched"];
    assert_eq!(sched["gpuNodes"], 2, "{sched}");
    let placements = sched["placements"].as_array().unwrap();
    // Two training workers of 4 whole GPUs with numa-bind: one NUMA node each, 8 GPUs of one node in all.
    let workers: Vec<_> = placements
        .iter()
        .filter(|p| p["pod"].as_str().unwrap().starts_with("ml-training/"))
        .collect();
    assert_eq!(workers.len(), 2, "{sched}");
    for w in &workers {
        assert_eq!(w["gpus"].as_array().unwrap().len(), 4, "{w}");
        assert_eq!(w["numa"].as_array().unwrap().len(), 1, "{w}");
    }
    assert_ne!(workers[0]["numa"], workers[1]["numa"], "{sched}");
    // All 20 inference pods fit the shared group's node: 30 % cores each allow 3 per card, 7 cards of 8.
    assert_eq!(placements.len(), 22, "{sched}");
    let refusals = sched["refusals"].as_array().unwrap();
    assert_eq!(refusals.len(), 1, "{sched}");
    assert_eq!(refusals[0]["pod"], "payments/fraud-model-train");
    assert!(
        refusals[0]["reason"]
            .as_str()
            .unwrap()
            .contains("exclusive node group gpu-training not bound to workspace finance"),
        "{sched}"
    );
    let groups = sched["groups"].as_array().unwrap();
    let training = groups
        .iter()
        .find(|g| g["group"] == "gpu-training")
        .unwrap();
    assert_eq!(training["wholeGpusUsed"], 8, "{training}");
    let inference = groups.iter().find(|g| g["group"] == "inference").unwrap();
    // 20 × 10240 MiB of 8 × 81920 MiB; 20 × 30 % of 8 × 100 %.
    assert_eq!(inference["memoryUsedMiB"], 204_800, "{inference}");
    assert_eq!(inference["memoryMiB"], 655_360, "{inference}");
    assert_eq!(inference["coresUsed"], 600, "{inference}");
    assert_eq!(inference["vgpuShares"], 20, "{inference}");

    let inspect = &summary["inspect"];
    let objects = inspect["objects"].as_u64().unwrap();
    let nodes_and_pods = summary["inventory"]["nodes"].as_u64().unwrap()
        + summary["inventory"]["pods"].as_u64().unwrap();
    assert!(
        objects > nodes_and_pods,
        "every object is inspected: {inspect}"
    );
    assert!(inspect["score"].as_u64().unwrap() <= 100, "{inspect}");
    let by_category = inspect["byCategory"].as_object().unwrap();
    assert_eq!(by_category.len(), 6, "all six categories: {inspect}");
    let per_category: u64 = by_category.values().map(|v| v.as_u64().unwrap()).sum();
    let per_severity: u64 = ["danger", "warning", "info"]
        .iter()
        .map(|k| inspect[k].as_u64().unwrap())
        .sum();
    assert_eq!(per_category, per_severity, "{inspect}");
    // The generated workloads set no securityContext, so the security checks fire.
    assert!(by_category["security"].as_u64().unwrap() > 0, "{inspect}");
    let top: Vec<u64> = inspect["topChecks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["findings"].as_u64().unwrap())
        .collect();
    assert!(
        !top.is_empty() && top.windows(2).all(|w| w[0] >= w[1]),
        "{inspect}"
    );

    let cache = &summary["cache"];
    let dataset = cache["datasetBytes"].as_u64().unwrap();
    assert_eq!(dataset, 48 * (2 << 20), "{cache}");
    // The prefetch reads every byte once; the epochs after it read nothing from the store.
    assert_eq!(cache["prefetchStoreBytes"], dataset, "{cache}");
    assert_eq!(cache["dataLoadPhase"], "Complete", "{cache}");
    // One simulated second per 1 MiB block: 96 blocks.
    assert_eq!(cache["dataLoadDuration"], "1m36s", "{cache}");
    assert_eq!(cache["cachedPercentage"], "100.0%", "{cache}");
    for epoch in cache["epochs"].as_array().unwrap() {
        assert_eq!(epoch["storeBytes"], 0, "{epoch}");
        assert_eq!(epoch["cacheBytes"], dataset, "{epoch}");
    }
    // On half the dataset without prefetch, the first epoch misses everything and no policy keeps it all.
    for p in cache["policies"].as_array().unwrap() {
        let ratio = p["hitRatio"].as_f64().unwrap();
        assert!((0.0..0.67).contains(&ratio), "{p}");
        assert!(p["storeBytes"].as_u64().unwrap() >= dataset, "{p}");
    }

    assert!(html_a.starts_with("<!DOCTYPE html>"));
    for section in [
        "id=\"cache\"",
        "id=\"inspect\"",
        "id=\"nodes\"",
        "id=\"workspaces\"",
        "id=\"pods\"",
        "id=\"rollout\"",
        "id=\"hpa\"",
        "id=\"event\"",
        "id=\"sched\"",
        "<polyline",
    ] {
        assert!(html_a.contains(section), "report lacks {section}");
    }
}

#[test]
fn different_seeds_differ() {
    let dir = tempfile::tempdir().unwrap();
    let run = |seed: &str| {
        let mut args = vec!["demo", "--seed", seed, "--report", "r.html", "-o", "json"];
        args.extend(SMALL);
        stdout(&ksx(&args, dir.path()))
    };
    assert_ne!(run("1"), run("2"));
}

#[test]
fn table_summary_names_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["demo", "--seed", "3", "--report", "t.html"];
    args.extend(SMALL);
    let out = ksx(&args, dir.path());
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(
        text.starts_with("ksx demo (seed 3): 12 nodes, 4 workspaces, 13 projects"),
        "{text}"
    );
    assert!(
        text.contains("POOL") && text.contains("WORKSPACE"),
        "{text}"
    );
    assert!(
        text.contains("sched: refused payments/fraud-model-train (workspace finance)")
            && text.contains("sched: group inference: 0/8 whole GPUs, 20 vGPU shares"),
        "{text}"
    );
    assert!(text.trim_end().ends_with("report: t.html"), "{text}");
    // No progress bar without a terminal: nothing but logs may reach stderr, and there are none by default.
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bad_flags_exit_2_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let out = ksx(&["demo", "--nodes", "2"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--nodes must be at least 4"));

    let out = ksx(
        &[
            "demo",
            "--report",
            "/nonexistent-dir/x.html",
            "--nodes",
            "4",
            "--workloads",
            "1",
            "--minutes",
            "0",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent-dir/x.html"));
}

#[test]
fn commands_not_landed_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let out = ksx(&["gateway"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`ksx gateway` is not available in this build yet"),
        "{err}"
    );
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["demo", "--seed", "1", "--report", "p.html", "-o", "json"];
    args.extend(SMALL);
    let mut child = Command::new(env!("CARGO_BIN_EXE_ksx"))
        .args(&args)
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Close the reading end before the summary is written, as `ksx demo -o json | head -c0` would.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {err}", out.status.code());
    assert!(!err.contains("panicked"), "{err}");
}
