//! Exit codes and diagnostics of `ksx inspect` (spec §7): usage errors, nothing to check, unwritable output,
//! `--fail-on`, the table and Markdown formats and loader diagnostics with their file and line.

use std::path::Path;
use std::process::{Command, Output};

fn ksx(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ksx"))
        .arg("inspect")
        .args(args)
        .current_dir(dir)
        .env_remove("KSX_LOG")
        .output()
        .expect("run ksx")
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write");
}

const PRIVILEGED: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: a}\nspec:\n  containers:\n    - name: c\n      image: c:1\n      securityContext: {privileged: true}\n";

#[test]
fn unknown_check_is_a_usage_error_with_a_suggestion() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "p.yaml", PRIVILEGED);
    let out = ksx(dir.path(), &["-f", "p.yaml", "--checks", "sec-privilegd"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("did you mean \"sec-privileged\""),
        "{stderr}"
    );
}

#[test]
fn missing_path_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = ksx(dir.path(), &["-f", "nope.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.yaml"));
}

#[test]
fn nothing_checked_exits_2_and_names_the_parse_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "bad.yaml", "apiVersion: v1\nkind: [oops\n");
    let out = ksx(dir.path(), &["-f", "bad.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.yaml: document 1: line "), "{stderr}");
    assert!(stderr.contains("nothing could be checked"), "{stderr}");
}

#[test]
fn a_broken_document_does_not_hide_the_others() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "mixed.yaml",
        &format!("kind: [oops\n---\n{PRIVILEGED}"),
    );
    let out = ksx(
        dir.path(),
        &["-f", "mixed.yaml", "--checks", "sec-privileged"],
    );
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("mixed.yaml: document 1: line"), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("sec-privileged"), "{stdout}");
}

#[test]
fn fail_on_sets_the_exit_code() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "p.yaml", PRIVILEGED);
    // rel-priority-class is info, sec-readonly-root-fs warning.
    let info = ksx(
        dir.path(),
        &["-f", "p.yaml", "--checks", "rel-priority-class"],
    );
    assert_eq!(info.status.code(), Some(0));
    let warn = ksx(
        dir.path(),
        &[
            "-f",
            "p.yaml",
            "--checks",
            "sec-readonly-root-fs",
            "--fail-on",
            "warning",
        ],
    );
    assert_eq!(warn.status.code(), Some(3));
    let danger = ksx(
        dir.path(),
        &["-f", "p.yaml", "--checks", "sec-readonly-root-fs"],
    );
    assert_eq!(danger.status.code(), Some(0));
}

#[test]
fn unwritable_output_is_a_runtime_failure() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "p.yaml", PRIVILEGED);
    let out = ksx(
        dir.path(),
        &[
            "-f",
            "p.yaml",
            "-o",
            "no/such/dir/report.json",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn output_file_and_markdown() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "p.yaml", PRIVILEGED);
    let out = ksx(
        dir.path(),
        &[
            "-f", "p.yaml", "--format", "markdown", "-o", "r.md", "--checks", "sec-*",
        ],
    );
    assert_eq!(out.status.code(), Some(3));
    let md = std::fs::read_to_string(dir.path().join("r.md")).expect("report");
    assert!(md.starts_with("## ksx inspect: score "), "{md}");
    assert!(md.contains("| a/Pod/p | `sec-privileged` | c |"), "{md}");
}

#[test]
fn table_ends_with_the_summary_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "p.yaml", PRIVILEGED);
    let out = ksx(dir.path(), &["-f", "p.yaml", "--checks", "sec-privileged"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or("");
    assert!(
        last.starts_with("score 0 · 1 danger · 0 warning · 0 info · 0 exempted · 1 objects · "),
        "{stdout}"
    );
    assert!(stdout.contains("a/Pod/p"), "{stdout}");
}

#[test]
fn stdin_is_read_with_dash() {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_ksx"))
        .args([
            "inspect",
            "-f",
            "-",
            "--format",
            "json",
            "--checks",
            "sec-privileged",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(PRIVILEGED.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(3));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["findings"][0]["location"]["file"], "-");
}

const RULE: &str = "apiVersion: inspect.ksx.io/v1\nkind: InspectRule\nmetadata: {name: r}\nspec:\n  id: org-approved-registry\n  category: security\n  severity: danger\n  match: {kinds: [workloads]}\n  forEach: allContainers\n  expect: {path: '@.image', regex: '^registry\\.example\\.com/'}\n  message: 'container {{ container.name }} pulls {{ value }}'\n";

#[test]
fn custom_rules_run_next_to_builtins() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "p.yaml", PRIVILEGED);
    std::fs::create_dir(dir.path().join("rules")).expect("mkdir");
    write(dir.path(), "rules/org.yaml", RULE);
    let out = ksx(
        dir.path(),
        &[
            "-f", "p.yaml", "--rules", "rules", "--format", "json", "--checks", "org-*",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["findings"][0]["checkId"], "org-approved-registry");
    assert_eq!(report["findings"][0]["message"], "container c pulls c:1");
}

#[test]
fn broken_rules_stop_the_run_with_every_problem() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "p.yaml", PRIVILEGED);
    std::fs::create_dir(dir.path().join("rules")).expect("mkdir");
    write(
        dir.path(),
        "rules/a.yaml",
        &RULE.replace("severity: danger", "severity: high"),
    );
    write(
        dir.path(),
        "rules/b.yaml",
        &RULE.replace("org-approved-registry", "sec-privileged"),
    );
    let out = ksx(dir.path(), &["-f", "p.yaml", "--rules", "rules"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines,
        vec![
            "rules/a.yaml:7:3: rule \"org-approved-registry\": field \"spec.severity\" must be one of danger, warning, info; got \"high\"",
            "rules/b.yaml:5:7: rule \"sec-privileged\": rule id \"sec-privileged\" is reserved by a built-in check",
            "2 rule error(s); no inspection was run",
        ]
    );
}

#[test]
fn sarif_has_the_required_shape() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/inspect/findings");
    let out = ksx(&dir, &["-f", "bundle", "--format", "sarif"]);
    assert_eq!(out.status.code(), Some(3));
    let log: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(log["version"], "2.1.0");
    assert!(
        log["$schema"]
            .as_str()
            .is_some_and(|s| s.contains("sarif-schema-2.1.0"))
    );
    let run = &log["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "ksx-inspect");
    let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
    let results = run["results"].as_array().expect("results");
    assert!(!results.is_empty());
    for r in results {
        let index = usize::try_from(r["ruleIndex"].as_u64().expect("index")).expect("usize");
        assert_eq!(rules[index]["id"], r["ruleId"]);
        assert!(["error", "warning", "note"].contains(&r["level"].as_str().expect("level")));
        assert!(
            r["partialFingerprints"]["ksx/v1"]
                .as_str()
                .expect("fp")
                .starts_with("sha256:")
        );
        assert_eq!(r["locations"][0]["logicalLocations"][0]["kind"], "resource");
        let loc = &r["locations"][0]["physicalLocation"];
        assert_eq!(loc["artifactLocation"]["uriBaseId"], "SRCROOT");
        assert!(loc["region"]["startLine"].as_u64().is_some_and(|l| l >= 1));
    }
    let privileged = rules
        .iter()
        .find(|r| r["id"] == "sec-privileged")
        .expect("rule");
    assert_eq!(privileged["name"], "ContainerIsNotPrivileged");
    assert_eq!(privileged["properties"]["security-severity"], "8.0");
    assert_eq!(privileged["defaultConfiguration"]["level"], "error");
    let suppressed: Vec<_> = results
        .iter()
        .filter(|r| r.get("suppressions").is_some())
        .collect();
    assert_eq!(suppressed.len(), 1);
    assert_eq!(suppressed[0]["suppressions"][0]["kind"], "inSource");
    let notes = run["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .expect("notifications");
    assert!(notes.iter().any(|n| n["level"] == "error"
        && n["locations"][0]["physicalLocation"]["region"]["startLine"] == 33));
    assert_eq!(run["invocations"][0]["executionSuccessful"], true);
    assert_eq!(run["artifacts"].as_array().map(Vec::len), Some(2));
}
