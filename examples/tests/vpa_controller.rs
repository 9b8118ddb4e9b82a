//! `vpa-controller` on its built-in in-memory scenario: recommendations keep lower ≤ target ≤ upper, the
//! updater patches the Deployment's template to the target and the rollout gives every pod the new requests, a
//! restart on the same checkpoint directory continues where the first run stopped, and bad flags exit 2.

use std::path::Path;
use std::process::{Command, Output};

use ksx_core::quantity::Quantity;
use serde_json::Value;

fn controller(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vpa-controller"))
        .args(args)
        .env_remove("KSX_LOG")
        .output()
        .expect("run vpa-controller")
}

/// Runs the scenario with JSON output on `dir` and parses every line.
fn run(dir: &Path, duration: &str) -> Vec<Value> {
    let out = controller(&[
        "-o",
        "json",
        "--duration",
        duration,
        "--checkpoint-dir",
        dir.to_str().expect("utf-8 path"),
    ]);
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

fn kind<'a>(lines: &'a [Value], k: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["kind"] == k).collect()
}

fn q(v: &Value) -> Quantity {
    Quantity::parse(v.as_str().expect("a quantity string")).expect("a valid quantity")
}

#[test]
fn recommendations_are_bounded_and_the_rollout_applies_the_target() {
    let dir = tempfile::tempdir().expect("temp dir");
    let lines = run(dir.path(), "3h");
    let recs = kind(&lines, "recommendation");
    // One loop a minute for 3 h, both ends included, two containers.
    assert_eq!(recs.len(), 181 * 2);
    for r in &recs {
        assert!(r.get("error").is_none(), "{r}");
        for res in ["cpu", "memory"] {
            let (lo, t, up) = (
                q(&r["lowerBound"][res]),
                q(&r["target"][res]),
                q(&r["upperBound"][res]),
            );
            assert!(
                lo.milli_value() <= t.milli_value() && t.milli_value() <= up.milli_value(),
                "{res}: {r}"
            );
        }
        assert_eq!(r["conditions"]["RecommendationProvided"], "True");
        // Three hours are far below one day of history.
        assert_eq!(r["conditions"]["LowConfidence"], "True");
    }
    let last = |c: &str| {
        *recs
            .iter()
            .rev()
            .find(|r| r["container"] == c)
            .expect("a recommendation")
    };
    // `app` works on a flat 200Mi: bucket 14 of the memory histogram, whose next start is
    // 1e7 × (1.05^15 − 1) / 0.05 = 215785635 bytes; + trunc(15 %) = 248153480.
    assert_eq!(last("app")["target"]["memory"], "248153480");
    // `sidecar` uses 24Mi, below the minimum share of 250 MiB over two containers = 131072000 bytes.
    assert_eq!(last("sidecar")["target"]["memory"], "131072k");
    // `app` CPU swings between 0.12 and 0.26 core: p90 near the top, plus 15 %, is well below the 1-core request.
    let app_cpu = q(&last("app")["target"]["cpu"]).milli_value();
    assert!((250..=320).contains(&app_cpu), "{app_cpu}");

    let updates = kind(&lines, "update");
    let applied: Vec<&&Value> = updates.iter().filter(|u| u["applied"] == true).collect();
    assert!(
        !applied.is_empty(),
        "the badly requested Deployment is updated"
    );
    // The first update comes from the first loop: 64Mi is below the minimum share, a lower bound at confidence 0.
    assert_eq!(applied[0]["elapsedSeconds"], 0);
    // Every applied change of a request equals the target recommended in the same loop.
    for u in &applied {
        for ch in u["changes"].as_array().expect("changes") {
            if ch["field"] != "requests" {
                continue;
            }
            let rec = recs
                .iter()
                .find(|r| {
                    r["elapsedSeconds"] == u["elapsedSeconds"] && r["container"] == ch["container"]
                })
                .expect("a recommendation in the same loop");
            assert_eq!(
                ch["to"],
                rec["target"][ch["resource"].as_str().expect("resource")]
            );
        }
    }
    let state = kind(&lines, "state");
    let state = state.first().expect("the final state line");
    let template = &state["templateRequests"];
    // The template carries what the last applied update wrote for every request it changed.
    for u in &applied {
        for ch in u["changes"].as_array().expect("changes") {
            if ch["field"] == "requests" {
                let c = ch["container"].as_str().expect("container");
                let r = ch["resource"].as_str().expect("resource");
                let later = applied
                    .iter()
                    .filter(|v| v["elapsedSeconds"].as_i64() > u["elapsedSeconds"].as_i64())
                    .flat_map(|v| v["changes"].as_array().expect("changes"))
                    .any(|x| x["field"] == "requests" && x["container"] == c && x["resource"] == r);
                if !later {
                    assert_eq!(template[c][r], ch["to"], "{c} {r}");
                }
            }
        }
    }
    // The template's requests are no longer the original ones, and lie within the last recommended range.
    assert_ne!(template["app"]["cpu"], "1");
    assert_ne!(template["sidecar"]["memory"], "512Mi");
    for c in ["app", "sidecar"] {
        for res in ["cpu", "memory"] {
            let v = q(&template[c][res]).milli_value();
            assert!(
                q(&last(c)["lowerBound"][res]).milli_value() <= v,
                "{c} {res}"
            );
            assert!(
                v <= q(&last(c)["upperBound"][res]).milli_value(),
                "{c} {res}"
            );
        }
    }
    // After the rolling update every pod runs, Ready, with the template's requests.
    let pods = state["pods"].as_array().expect("pods");
    assert_eq!(pods.len(), 3);
    for p in pods {
        assert_eq!(p["ready"], true, "{p}");
        assert_eq!(&p["requests"], template, "{p}");
    }
    // One checkpoint per (VPA, container).
    let mut files: Vec<String> = std::fs::read_dir(dir.path())
        .expect("checkpoint dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
}

#[test]
fn a_restart_continues_from_the_checkpoints() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = run(dir.path(), "2h");
    let second = run(dir.path(), "10m");
    let restore = kind(&second, "restore");
    assert_eq!(restore.len(), 1);
    assert_eq!(restore[0]["loaded"], 2);
    let before = kind(&first, "recommendation");
    let after = kind(&second, "recommendation");
    for c in ["app", "sidecar"] {
        let last = before
            .iter()
            .rev()
            .find(|r| r["container"] == c)
            .expect("last before");
        let next = after
            .iter()
            .find(|r| r["container"] == c)
            .expect("first after");
        // The restart resumes the simulated clock at the newest checkpoint.
        assert_eq!(next["time"], last["time"]);
        // No replay: the history is there (a fresh start has confidence 0 and an unbounded upper bound).
        for field in ["target", "lowerBound", "upperBound"] {
            assert_eq!(next[field], last[field], "{c} {field}");
        }
        assert_eq!(next["confidence"], last["confidence"], "{c}");
        // The restored samples plus the first loop's three pods.
        assert_eq!(
            next["samples"].as_u64().expect("samples"),
            last["samples"].as_u64().expect("samples") + 3
        );
    }
}

#[test]
fn the_table_lists_recommendations_and_updates() {
    let out = controller(&[
        "--duration",
        "5m",
        "--checkpoint-dir",
        tempfile::tempdir()
            .expect("temp dir")
            .path()
            .to_str()
            .expect("utf-8"),
    ]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(text.starts_with("   TIME  LOOP"), "{text}");
    assert!(
        text.contains("rec     shop/checkout          app"),
        "{text}"
    );
    assert!(text.contains("update  shop/checkout"), "{text}");
    assert!(text.contains("app.requests.cpu 1→"), "{text}");
}

#[test]
fn bad_flags_exit_2() {
    for args in [
        &["--bogus"][..],
        &["--recommender-interval", "0s"],
        &["--updater-interval", "1x"],
        &["-o", "xml"],
        &["--eviction-tolerance", "1.5"],
        &["--min-replicas", "0"],
    ] {
        let out = controller(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
}

#[test]
fn an_unusable_checkpoint_dir_exits_2_naming_it() {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    let path = file.path().to_str().expect("utf-8");
    let out = controller(&["--duration", "1m", "--checkpoint-dir", path]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(path), "{err}");
}

/// The same restart on the PostgreSQL checkpoint store (the real server on 127.0.0.1:5432, a table of its own).
#[cfg(feature = "postgres")]
#[test]
fn a_restart_continues_from_postgres_checkpoints() {
    let connection = std::env::var("KSX_POSTGRES")
        .unwrap_or_else(|_| "host=127.0.0.1 user=postgres dbname=test".to_owned());
    let table = format!("ksx_test_vpa_controller_{}", std::process::id());
    let run_pg = |duration: &str| {
        let out = controller(&[
            "-o",
            "json",
            "--duration",
            duration,
            "--postgres",
            &connection,
            "--postgres-table",
            &table,
        ]);
        assert!(
            out.status.success(),
            "stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .expect("utf-8")
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
            .collect::<Vec<Value>>()
    };
    let first = run_pg("30m");
    let second = run_pg("2m");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        ksx_scaling::vpa::store::PostgresCheckpointStore::connect(&connection, &table)
            .await
            .expect("connect")
            .drop_table()
            .await
            .expect("drop the test table");
    });
    assert_eq!(kind(&second, "restore")[0]["loaded"], 2);
    let last = kind(&first, "recommendation")
        .into_iter()
        .rev()
        .find(|r| r["container"] == "app")
        .expect("last before");
    let next = kind(&second, "recommendation")
        .into_iter()
        .find(|r| r["container"] == "app")
        .expect("first after");
    assert_eq!(next["time"], last["time"]);
    assert_eq!(next["target"], last["target"]);
    assert_eq!(next["upperBound"], last["upperBound"]);
}
