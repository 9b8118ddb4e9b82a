//! `ksx inspect plan run|list|history` and `ksx inspect diff` end to end (spec `inspect.md` §3, §7), on the
//! plans and manifests of `tests/golden/inspect-plan/` in a temporary directory, at fixed instants (`--now`).
//!
//! Expectations are derived by hand: the plan `nightly` runs `sec-privileged` and `rel-image-tag` (both danger)
//! on `manifests/`. v1 has Pod `shop/web` (nginx:latest, privileged) and Pod `shop/legacy` (legacy:1.0,
//! privileged): 3 danger findings, 4 tests of weight 3 of which 1 passes, score floor(100 × 3/12) = 25. v2 pins
//! web to nginx:1.27, drops legacy and adds a privileged Pod `shop/api`: 2 findings, score 50. The schedule
//! `30 2 * * 1-5` in Europe/Berlin (CET, +01:00 in January) fires at 01:30Z on weekdays.
//! `tests/golden/inspect-plan/expected-diff.md` is the Markdown diff of the two runs; `KSX_UPDATE_GOLDEN=1`
//! rewrites it (review the change like code).

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn golden() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/inspect-plan")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
    }
}

fn use_manifests(work: &Path, version: &str) {
    let dir = work.join("manifests");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).expect("clear manifests");
    }
    copy_dir(&golden().join(version), &dir);
}

fn ksx(work: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ksx"))
        .arg("inspect")
        .args(args)
        .current_dir(work)
        .env_remove("KSX_LOG")
        .output()
        .expect("run ksx")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("utf-8")
}

fn run_at(work: &Path, now: &str) -> Output {
    ksx(
        work,
        &[
            "plan", "run", "nightly", "--plans", "plans", "--store", "results", "--now", now,
        ],
    )
}

#[test]
fn inspect_plans_run_store_diff_and_list() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let work = tmp.path();
    copy_dir(&golden().join("plans"), &work.join("plans"));

    // Run 1, Monday 2026-01-05 08:00Z (09:00 in Berlin).
    use_manifests(work, "v1");
    let out = run_at(work, "2026-01-05T08:00:00Z");
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(3),
        "danger findings: {stdout}\n{}",
        text(&out.stderr)
    );
    assert_eq!(
        stdout,
        "plan nightly: result nightly-20260105T080000Z succeeded\n\
         score 25 · 3 danger · 0 warning · 0 info · 0 exempted · 2 objects\n\
         stored in results\n\
         next run: 2026-01-06T01:30:00Z (2026-01-06T02:30:00+01:00 Europe/Berlin)\n"
    );
    // The broken plan next to it is named on stderr, and does not stop this one.
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("broken.yaml") && stderr.contains("spec.schedule"),
        "{stderr}"
    );
    let stored = work.join("results/nightly/nightly-20260105T080000Z.json");
    let result: Value =
        serde_json::from_str(&std::fs::read_to_string(&stored).expect("result file"))
            .expect("result JSON");
    assert_eq!(result["kind"], "InspectResult");
    assert_eq!(result["status"], "succeeded");
    assert_eq!(result["report"]["run"]["id"], "nightly-20260105T080000Z");
    assert_eq!(result["report"]["run"]["plan"], "nightly");
    let inventory: Vec<&str> = result["inventory"]
        .as_array()
        .expect("inventory")
        .iter()
        .map(|r| r["name"].as_str().expect("name"))
        .collect();
    assert_eq!(inventory, ["legacy", "web"]);

    // Run 2, Tuesday.
    use_manifests(work, "v2");
    let out = run_at(work, "2026-01-06T08:00:00Z");
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stdout.contains("score 50 · 2 danger · 0 warning · 0 info · 0 exempted · 2 objects"),
        "{stdout}"
    );
    assert!(
        stdout.contains("next run: 2026-01-07T01:30:00Z (2026-01-07T02:30:00+01:00 Europe/Berlin)"),
        "{stdout}"
    );

    // diff --plan: the two latest results.
    let out = ksx(
        work,
        &[
            "diff", "--plan", "nightly", "--store", "results", "--format", "json",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "a new danger finding: {}",
        text(&out.stderr)
    );
    let d: Value = serde_json::from_str(&text(&out.stdout)).expect("diff JSON");
    let names = |key: &str| -> Vec<(String, String, bool)> {
        d[key]
            .as_array()
            .expect("list")
            .iter()
            .map(|f| {
                (
                    f["resource"]["name"].as_str().expect("name").to_owned(),
                    f["checkId"].as_str().expect("check").to_owned(),
                    f["resourceGone"].as_bool().expect("flag"),
                )
            })
            .collect()
    };
    let t = |n: &str, c: &str, g: bool| (n.to_owned(), c.to_owned(), g);
    assert_eq!(names("new"), [t("api", "sec-privileged", false)]);
    assert_eq!(
        names("fixed"),
        [
            t("legacy", "sec-privileged", true),
            t("web", "rel-image-tag", false)
        ]
    );
    assert_eq!(names("unchanged"), [t("web", "sec-privileged", false)]);
    assert_eq!(d["oldRun"]["label"], "nightly-20260105T080000Z");
    assert_eq!(d["newRun"]["label"], "nightly-20260106T080000Z");
    assert_eq!(d["oldRun"]["score"], 25);
    assert_eq!(d["newRun"]["score"], 50);

    // The same by ids, as Markdown: compared with the golden file.
    let out = ksx(
        work,
        &[
            "diff",
            "nightly-20260105T080000Z",
            "nightly-20260106T080000Z",
            "--store",
            "results",
            "--format",
            "markdown",
        ],
    );
    assert_eq!(out.status.code(), Some(3));
    let md = text(&out.stdout);
    let expected_path = golden().join("expected-diff.md");
    if std::env::var("KSX_UPDATE_GOLDEN").is_ok_and(|v| v == "1") {
        std::fs::write(&expected_path, &md).expect("write golden");
    } else {
        let expected = std::fs::read_to_string(&expected_path).expect("golden diff");
        assert_eq!(
            md,
            expected,
            "Markdown diff differs from {}",
            expected_path.display()
        );
    }
    assert!(
        md.contains(
            "| new | fixed | unchanged | suppressed |\n|---:|---:|---:|---:|\n| 1 | 2 | 1 | 0 |"
        ),
        "{md}"
    );

    // A result file works as well as an id.
    let out = ksx(
        work,
        &[
            "diff",
            "nightly-20260106T080000Z",
            stored.to_str().expect("path"),
            "--store",
            "results",
            "--format",
            "json",
        ],
    );
    let d: Value = serde_json::from_str(&text(&out.stdout)).expect("diff JSON");
    // OLD = v2, NEW = v1: legacy's finding and web's tag are new, api's finding is fixed and api is gone.
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(d["summary"]["new"], 2);
    assert_eq!(d["summary"]["fixed"], 1);
    assert_eq!(d["summary"]["resourceGone"], 1);

    // Run 3, Wednesday: historyLimit 2 deletes run 1.
    let out = run_at(work, "2026-01-07T08:00:00Z");
    let stdout = text(&out.stdout);
    assert!(
        stdout
            .contains("history limits (2 kept, 1 failed kept) deleted: nightly-20260105T080000Z\n"),
        "{stdout}"
    );
    assert!(!stored.exists(), "the oldest result is gone");

    let out = ksx(work, &["plan", "history", "nightly", "--store", "results"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout),
        "ID                        STATUS     STARTED               SCORE  DANGER  WARNING  INFO\n\
         nightly-20260106T080000Z  succeeded  2026-01-06T08:00:00Z  50     2       0        0\n\
         nightly-20260107T080000Z  succeeded  2026-01-07T08:00:00Z  50     2       0        0\n\
         2 result(s) of plan nightly\n"
    );

    // A suspended plan still runs on demand, and says it has no next run.
    let out = ksx(
        work,
        &[
            "plan",
            "run",
            "weekly",
            "--plans",
            "plans",
            "--store",
            "results",
            "--now",
            "2026-01-07T09:00:00Z",
        ],
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("plan weekly: result weekly-20260107T090000Z succeeded\n"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("next run: suspended (no next run)\n"),
        "{stdout}"
    );
    assert!(
        work.join("results/weekly/weekly-20260107T090000Z.json")
            .is_file()
    );

    // list: next runs from Wednesday 08:00Z; the suspended plan has none; the broken file makes it exit 2.
    let out = ksx(
        work,
        &[
            "plan",
            "list",
            "--plans",
            "plans",
            "--store",
            "results",
            "--now",
            "2026-01-07T08:00:00Z",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let stdout = text(&out.stdout);
    let lines: Vec<Vec<&str>> = stdout
        .lines()
        .map(|l| {
            l.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect()
        })
        .collect();
    assert_eq!(
        lines,
        [
            vec![
                "NAME",
                "SCHEDULE",
                "TIMEZONE",
                "NEXT RUN",
                "LAST RESULT",
                "LAST STATUS"
            ],
            vec![
                "nightly",
                "30 2 * * 1-5",
                "Europe/Berlin",
                "2026-01-08T01:30:00Z",
                "nightly-20260107T080000Z",
                "succeeded"
            ],
            vec![
                "weekly",
                "@weekly",
                "UTC",
                "suspended",
                "weekly-20260107T090000Z",
                "succeeded"
            ],
        ]
    );
}

#[test]
fn inspect_plan_and_diff_bad_requests_exit_2() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let work = tmp.path();
    copy_dir(&golden().join("plans"), &work.join("plans"));
    let out = ksx(
        work,
        &[
            "plan", "run", "nope", "--plans", "plans", "--store", "results",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no valid plan named \"nope\""),
        "{}",
        text(&out.stderr)
    );

    let out = ksx(work, &["diff", "--plan", "nightly", "--store", "results"]);
    assert_eq!(out.status.code(), Some(2), "no results yet");
    let out = ksx(
        work,
        &[
            "diff",
            "no-such-file.json",
            "nightly-20260105T080000Z",
            "--store",
            "results",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no-such-file.json"),
        "{}",
        text(&out.stderr)
    );
    let out = ksx(work, &["diff", "--store", "results"]);
    assert_eq!(out.status.code(), Some(2));
}
