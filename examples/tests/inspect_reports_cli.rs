//! `ksx inspect --format junit|html` and `ksx inspect checks` through the real binary (spec `inspect.md` §6.4,
//! §6.6, §7): the JUnit parses as XML with the counts of the JSON report of the same input, `--fail-on` moves
//! findings between failures and passes, the HTML page is written to `-o` self-contained, and the catalogue lists
//! the spec's checks with their category, severity and default state.

use std::path::Path;
use std::process::{Command, Output};

use quick_xml::events::Event;

fn ksx(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ksx"))
        .arg("inspect")
        .args(args)
        .current_dir(dir)
        .env_remove("KSX_LOG")
        .output()
        .expect("run ksx")
}

fn golden() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/inspect/findings")
}

/// Start or empty elements of a document, with their attributes, after checking it is well-formed.
fn elements(xml: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut reader = quick_xml::Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut out = Vec::new();
    let mut depth = 0usize;
    loop {
        let event = reader.read_event().expect("well-formed XML");
        let start = match &event {
            Event::Start(e) | Event::Empty(e) => Some(e.clone()),
            Event::Eof => break,
            _ => None,
        };
        if let Some(e) = start {
            let name = String::from_utf8(e.name().as_ref().to_vec()).expect("name");
            let attrs = e
                .attributes()
                .map(|a| {
                    let a = a.expect("attribute");
                    (
                        String::from_utf8(a.key.as_ref().to_vec()).expect("key"),
                        a.normalized_value(quick_xml::XmlVersion::Explicit1_0)
                            .expect("value")
                            .into_owned(),
                    )
                })
                .collect();
            out.push((name, attrs));
        }
        match event {
            Event::Start(_) => depth += 1,
            Event::End(_) => depth -= 1,
            _ => {}
        }
    }
    assert_eq!(depth, 0, "unclosed elements");
    out
}

fn attr<'a>(element: &'a (String, Vec<(String, String)>), key: &str) -> &'a str {
    element.1.iter().find(|(k, _)| k == key).map_or_else(
        || panic!("<{}> lacks {key}", element.0),
        |(_, v)| v.as_str(),
    )
}

fn count(elements: &[(String, Vec<(String, String)>)], name: &str) -> usize {
    elements.iter().filter(|e| e.0 == name).count()
}

#[test]
fn junit_matches_the_json_report_of_the_same_input() {
    let dir = golden();
    let json = ksx(&dir, &["-f", "bundle", "--format", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json report");
    let junit = ksx(&dir, &["-f", "bundle", "--format", "junit"]);
    // Same exit code as any other format: danger findings at the default --fail-on danger.
    assert_eq!(junit.status.code(), Some(3));
    let xml = String::from_utf8(junit.stdout).expect("utf-8");
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"));
    let elements = elements(&xml);
    let root = &elements[0];
    assert_eq!(root.0, "testsuites");
    assert_eq!(attr(root, "name"), "ksx-inspect");
    let total = report["summary"]["tests"]["total"].as_u64().expect("total");
    assert_eq!(attr(root, "tests"), total.to_string());
    assert_eq!(count(&elements, "testcase") as u64, total);
    assert_eq!(
        attr(root, "skipped"),
        report["summary"]["tests"]["exempted"].to_string()
    );
    assert_eq!(
        attr(root, "failures"),
        count(&elements, "failure").to_string()
    );
    // One suite per resource that had a test: the five objects of the bundle.
    assert_eq!(
        count(&elements, "testsuite") as u64,
        report["summary"]["objects"].as_u64().expect("objects")
    );
}

const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: a}\nspec:\n  containers:\n    - name: c\n      image: c:1\n";

#[test]
fn fail_on_moves_findings_between_failures_and_passes() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("p.yaml"), POD).expect("write");
    // sec-readonly-root-fs is a warning check; the pod sets no readOnlyRootFilesystem.
    let args = [
        "-f",
        "p.yaml",
        "--checks",
        "sec-readonly-root-fs",
        "--format",
        "junit",
    ];
    let pass = ksx(dir.path(), &args);
    assert_eq!(pass.status.code(), Some(0));
    let pass = elements(&String::from_utf8(pass.stdout).expect("utf-8"));
    assert_eq!(attr(&pass[0], "tests"), "1");
    assert_eq!(attr(&pass[0], "failures"), "0");
    assert_eq!(count(&pass, "system-out"), 1);
    let mut warning = args.to_vec();
    warning.extend(["--fail-on", "warning"]);
    let fail = ksx(dir.path(), &warning);
    assert_eq!(fail.status.code(), Some(3));
    let fail = elements(&String::from_utf8(fail.stdout).expect("utf-8"));
    assert_eq!(attr(&fail[0], "failures"), "1");
    let failure = fail.iter().find(|e| e.0 == "failure").expect("failure");
    assert_eq!(attr(failure, "type"), "warning");
    let case = fail.iter().find(|e| e.0 == "testcase").expect("testcase");
    assert_eq!(attr(case, "classname"), "a.Pod.p");
    assert_eq!(attr(case, "name"), "sec-readonly-root-fs");
    assert_eq!(attr(case, "file"), "p.yaml");
    assert_eq!(attr(case, "line"), "1");
}

#[test]
fn html_goes_to_the_output_file_self_contained() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("p.yaml"),
        POD.replace("name: p,", "name: \"p<script>x</script>\","),
    )
    .expect("write");
    let out = ksx(
        dir.path(),
        &["-f", "p.yaml", "--format", "html", "-o", "report.html"],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "the report goes to -o only");
    let html = std::fs::read_to_string(dir.path().join("report.html")).expect("report");
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.trim_end().ends_with("</html>"));
    assert_eq!(html.matches("<script").count(), 2);
    assert!(!html.contains("x</script>\""));
    for banned in [" src=", "<link", "@import"] {
        assert!(!html.contains(banned), "{banned}");
    }
    assert!(html.contains("p\\u003cscript\\u003ex\\u003c/script\\u003e"));
}

#[test]
fn checks_json_lists_the_catalogue() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = ksx(dir.path(), &["checks", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let checks: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("json array");
    let ids: Vec<&str> = checks
        .iter()
        .map(|c| c["id"].as_str().expect("id"))
        .collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted, "sorted by id");
    let get = |id: &str| {
        checks
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("{id} missing"))
    };
    // From the catalogue tables of spec §4: sev d/w, category by prefix, every check on by default.
    for (id, category, severity) in [
        ("sec-privileged", "security", "danger"),
        ("rel-image-tag", "reliability", "danger"),
        ("rel-liveness-probe", "reliability", "warning"),
        ("eff-cpu-limits", "efficiency", "warning"),
        ("eff-cpu-requests", "efficiency", "warning"),
    ] {
        let c = get(id);
        assert_eq!(c["category"], category, "{id}");
        assert_eq!(c["severity"], severity, "{id}");
        assert_eq!(c["enabled"], true, "{id}");
        assert_eq!(c["scope"], "static", "{id}");
        assert_eq!(c["source"], "builtin", "{id}");
    }
    assert!(
        checks
            .iter()
            .all(|c| c["title"].as_str().is_some_and(|t| !t.is_empty()))
    );
}

#[test]
fn checks_table_has_a_row_per_check() {
    let dir = tempfile::tempdir().expect("tempdir");
    let table = ksx(dir.path(), &["checks"]);
    assert_eq!(table.status.code(), Some(0));
    let text = String::from_utf8(table.stdout).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        ["ID", "CATEGORY", "SEVERITY", "DEFAULT", "SCOPE", "TITLE"]
    );
    let json = ksx(dir.path(), &["checks", "--format", "json"]);
    let checks: Vec<serde_json::Value> = serde_json::from_slice(&json.stdout).expect("json");
    assert_eq!(lines.len(), checks.len() + 1);
    let row: Vec<&str> = lines
        .iter()
        .find(|l| l.starts_with("sec-privileged "))
        .expect("sec-privileged row")
        .split_whitespace()
        .collect();
    assert_eq!(
        &row[..5],
        ["sec-privileged", "security", "danger", "on", "static"]
    );
    // Columns line up: every row's category starts where the header's does.
    let column = lines[0].find("CATEGORY").expect("column");
    for l in &lines[1..] {
        assert_ne!(l.as_bytes()[column], b' ', "{l}");
        assert_eq!(l.as_bytes()[column - 1], b' ', "{l}");
    }
}
