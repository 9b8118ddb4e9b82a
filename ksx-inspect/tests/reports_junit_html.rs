//! JUnit XML and HTML renderings (spec §6.4, §6.6): `insta` snapshots on the golden findings bundle of the CLI, the
//! JUnit parsed back as XML with every count derived by hand, and both formats fed hostile names (`<script>`,
//! quotes, ampersands) that must come out escaped.

use std::collections::BTreeMap;

use ksx_core::ManualClock;
use ksx_core::manifest::{load_paths, parse_str};
use ksx_inspect::report::{Format, TableOptions, render, to_html, to_junit};
use ksx_inspect::{Bundle, Config, Engine, Report, RunOptions, Severity};
use quick_xml::events::Event;

fn golden_report() -> Report {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/tests/golden/inspect/findings"
    );
    let mut loaded = load_paths(&[format!("{dir}/bundle")]);
    for d in &mut loaded.documents {
        d.source.file = d.source.file.replace(dir, ".");
    }
    for d in &mut loaded.diagnostics {
        d.file = d.file.replace(dir, ".");
    }
    let bundle = Bundle::from_loaded(&loaded, "default");
    let engine = Engine::new(&Config::default(), &RunOptions::default()).expect("engine");
    let mut report = engine.inspect(&bundle, &ManualClock::at_unix_secs(1_767_225_600));
    report.run.duration_ms = 80;
    report
}

/// Two pods: `web…` (hostile name and namespace) privileged with a read-only root; `agent` privileged but exempted
/// by annotation, without a read-only root.
const PODS: &str = r#"apiVersion: v1
kind: Pod
metadata: {name: "web<script>alert(1)</script>", namespace: "shop&<b>"}
spec:
  containers:
    - name: app
      image: registry.example.com/app:1.0
      securityContext: {privileged: true, readOnlyRootFilesystem: true}
---
apiVersion: v1
kind: Pod
metadata:
  name: agent
  namespace: ops
  annotations: {ksx.io/exempt: "sec-privileged", ksx.io/exempt-reason: 'needs "host" <access>'}
spec:
  containers:
    - name: agent
      image: registry.example.com/agent:2.0
      securityContext: {privileged: true}
"#;

const WEB: &str = "web<script>alert(1)</script>";
const SHOP: &str = "shop&<b>";

fn pods_report(fail_on: Severity) -> Report {
    let bundle = Bundle::from_loaded(&parse_str("pods.yaml", PODS), "default");
    let options = RunOptions {
        checks: Some(vec![
            "sec-privileged".into(),
            "sec-readonly-root-fs".into(),
            "rel-image-tag".into(),
        ]),
        fail_on: Some(fail_on),
        ..RunOptions::default()
    };
    let engine = Engine::new(&Config::default(), &options).expect("engine");
    engine.inspect(&bundle, &ManualClock::at_unix_secs(1_767_225_600))
}

/// An element of the parsed XML: name, attributes, text and children.
#[derive(Debug, Default)]
struct Node {
    name: String,
    attrs: BTreeMap<String, String>,
    text: String,
    children: Vec<Node>,
}

impl Node {
    fn attr(&self, key: &str) -> &str {
        self.attrs
            .get(key)
            .map_or_else(|| panic!("<{}> has no {key}", self.name), String::as_str)
    }

    fn all<'a>(&'a self, name: &str, out: &mut Vec<&'a Node>) {
        for c in &self.children {
            if c.name == name {
                out.push(c);
            }
            c.all(name, out);
        }
    }

    fn find_all(&self, name: &str) -> Vec<&Node> {
        let mut out = Vec::new();
        self.all(name, &mut out);
        out
    }
}

fn element(e: &quick_xml::events::BytesStart<'_>) -> Node {
    let mut node = Node {
        name: String::from_utf8(e.name().as_ref().to_vec()).expect("utf-8 name"),
        ..Node::default()
    };
    for a in e.attributes() {
        let a = a.expect("well-formed attribute");
        let key = String::from_utf8(a.key.as_ref().to_vec()).expect("utf-8 key");
        let value = a
            .normalized_value(quick_xml::XmlVersion::Explicit1_0)
            .expect("valid escapes")
            .into_owned();
        assert!(
            node.attrs.insert(key.clone(), value).is_none(),
            "duplicate attribute {key}"
        );
    }
    node
}

/// Parses a whole document strictly (matching end tags, one root) into a tree.
fn parse_xml(xml: &str) -> Node {
    let mut reader = quick_xml::Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut stack = vec![Node::default()];
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) => stack.push(element(&e)),
            Event::Empty(e) => {
                let node = element(&e);
                stack.last_mut().expect("parent").children.push(node);
            }
            Event::End(_) => {
                let node = stack.pop().expect("open element");
                stack.last_mut().expect("parent").children.push(node);
            }
            Event::Text(t) => {
                let text = t.decode().expect("utf-8 text");
                stack.last_mut().expect("node").text.push_str(&text);
            }
            Event::GeneralRef(r) => {
                let ch = match r.resolve_char_ref().expect("char ref") {
                    Some(c) => c,
                    None => match r.decode().expect("utf-8").as_ref() {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "quot" => '"',
                        "apos" => '\'',
                        other => panic!("unknown entity {other}"),
                    },
                };
                stack.last_mut().expect("node").text.push(ch);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(stack.len(), 1, "unclosed elements");
    let mut root = stack.pop().expect("document");
    assert_eq!(root.children.len(), 1, "one root element");
    root.children.pop().expect("root")
}

#[test]
fn junit_golden_snapshot() {
    insta::assert_snapshot!(to_junit(&golden_report()));
}

#[test]
fn junit_counts_match_the_report_and_the_document() {
    let report = golden_report();
    let root = parse_xml(&to_junit(&report));
    assert_eq!(root.name, "testsuites");
    assert_eq!(root.attr("name"), "ksx-inspect");
    assert_eq!(root.attr("time"), "0.080");
    let cases = root.find_all("testcase");
    let failures = root.find_all("failure");
    let skipped = root.find_all("skipped");
    // Every test of the run is a testcase, passing ones included.
    assert_eq!(cases.len() as u64, report.summary.tests.total);
    assert_eq!(root.attr("tests"), cases.len().to_string());
    assert_eq!(root.attr("failures"), failures.len().to_string());
    assert_eq!(root.attr("skipped"), skipped.len().to_string());
    assert_eq!(skipped.len() as u64, report.summary.tests.exempted);
    // fail-on danger: failed tests with a danger finding are failures, the others pass with system-out.
    let danger_tests: std::collections::BTreeSet<_> = report
        .findings
        .iter()
        .filter(|f| f.suppressed.is_none() && f.severity == Severity::Danger)
        .map(|f| (f.resource.clone(), f.check_id.clone()))
        .collect();
    assert_eq!(failures.len(), danger_tests.len());
    for s in root.find_all("testsuite") {
        let tests = s.find_all("testcase").len();
        assert!(tests > 0, "empty suite {}", s.attr("name"));
        assert_eq!(s.attr("tests"), tests.to_string());
        // Suites are named namespace/Kind/name, testcases namespace.Kind.name.
        let class = s.attr("name").replace('/', ".");
        for c in s.find_all("testcase") {
            assert_eq!(c.attr("classname"), class);
        }
    }
}

#[test]
fn junit_outcomes_and_escaping() {
    let report = pods_report(Severity::Danger);
    let xml = to_junit(&report);
    assert!(!xml.contains("<script>"), "{xml}");
    let root = parse_xml(&xml);
    // Two pods × three checks: one failure (web, sec-privileged), one exempted (agent, sec-privileged).
    assert_eq!(root.attr("tests"), "6");
    assert_eq!(root.attr("failures"), "1");
    assert_eq!(root.attr("skipped"), "1");
    let suites = root.find_all("testsuite");
    let names: Vec<&str> = suites.iter().map(|s| s.attr("name")).collect();
    assert_eq!(
        names,
        vec!["ops/Pod/agent".to_owned(), format!("{SHOP}/Pod/{WEB}")]
    );
    let case = |suite: usize, check: &str| -> &Node {
        suites[suite]
            .find_all("testcase")
            .into_iter()
            .find(|c| c.attr("name") == check)
            .unwrap_or_else(|| panic!("no testcase {check}"))
    };
    // Testcases sort by check id and carry the object's file and line.
    let ids: Vec<&str> = suites[1]
        .find_all("testcase")
        .iter()
        .map(|c| c.attr("name"))
        .collect();
    assert_eq!(
        ids,
        ["rel-image-tag", "sec-privileged", "sec-readonly-root-fs"]
    );
    let web = case(1, "sec-privileged");
    assert_eq!(web.attr("classname"), format!("{SHOP}.Pod.{WEB}"));
    assert_eq!(web.attr("file"), "pods.yaml");
    assert_eq!(web.attr("line"), "1");
    let failure = &web.children[0];
    assert_eq!(failure.name, "failure");
    assert_eq!(failure.attr("type"), "danger");
    assert!(failure.text.contains("container: app"), "{}", failure.text);
    assert!(
        failure
            .text
            .contains("path: /spec/containers/0/securityContext/privileged"),
        "{}",
        failure.text
    );
    assert!(failure.text.contains("remediation: "), "{}", failure.text);
    let first = &report
        .findings
        .iter()
        .find(|f| f.resource.name == WEB && f.check_id == "sec-privileged")
        .expect("web finding")
        .message;
    assert_eq!(failure.attr("message"), first);
    // Passing tests are empty testcases.
    assert!(case(1, "rel-image-tag").children.is_empty());
    assert!(case(1, "sec-readonly-root-fs").children.is_empty());
    // The exempted test is skipped with its reason, quotes and angle brackets round-tripped.
    let skipped = &case(0, "sec-privileged").children[0];
    assert_eq!(skipped.name, "skipped");
    assert_eq!(skipped.attr("message"), "exempted: needs \"host\" <access>");
    // A warning finding below --fail-on danger passes, with the finding in system-out.
    let out = &case(0, "sec-readonly-root-fs").children[0];
    assert_eq!(out.name, "system-out");
    assert!(out.text.contains("severity: warning"), "{}", out.text);
    assert!(out.text.contains("container: agent"), "{}", out.text);
    assert_eq!(case(0, "sec-readonly-root-fs").attr("line"), "10");

    // With --fail-on warning the same finding is a failure of type warning.
    let root = parse_xml(&to_junit(&pods_report(Severity::Warning)));
    assert_eq!(root.attr("failures"), "2");
    let agent = root
        .find_all("testsuite")
        .into_iter()
        .find(|s| s.attr("name") == "ops/Pod/agent")
        .expect("agent suite")
        .find_all("failure");
    assert_eq!(agent.len(), 1);
    assert_eq!(agent[0].attr("type"), "warning");
}

#[test]
fn junit_of_a_report_read_back_from_json_lists_the_tests_with_findings() {
    // The passed tests are not part of the JSON: a stored report renders its failed and exempted tests only.
    let report = pods_report(Severity::Danger);
    let json = serde_json::to_string(&report).expect("json");
    let back: Report = serde_json::from_str(&json).expect("report");
    let root = parse_xml(&to_junit(&back));
    // web sec-privileged (failure), agent sec-privileged (skipped), agent sec-readonly-root-fs (system-out).
    assert_eq!(root.attr("tests"), "3");
    assert_eq!(root.attr("failures"), "1");
    assert_eq!(root.attr("skipped"), "1");
}

/// The page with its style sheet and code left out: the snapshot is about content.
fn without_assets(html: &str) -> String {
    let mut out = html.to_owned();
    for (open, close) in [("<style>", "</style>"), ("<script>", "</script>")] {
        let (before, rest) = out.rsplit_once(open).expect("asset");
        let (_, after) = rest.split_once(close).expect("asset end");
        out = format!("{before}{open}…{close}{after}");
    }
    out
}

#[test]
fn html_golden_snapshot() {
    insta::assert_snapshot!(without_assets(&to_html(&golden_report())));
}

/// The JSON embedded in the data script of an HTML report.
fn embedded_data(html: &str) -> serde_json::Value {
    let open = "<script type=\"application/json\" id=\"ksx-data\">";
    let (_, rest) = html.split_once(open).expect("data script");
    let (json, _) = rest.split_once("</script>").expect("end of data");
    serde_json::from_str(json).expect("embedded JSON")
}

#[test]
fn html_is_self_contained_and_escaped() {
    let report = pods_report(Severity::Danger);
    let html = to_html(&report);
    // Exactly our two script elements (data and code); the hostile name never appears raw.
    assert_eq!(html.matches("<script").count(), 2, "{html}");
    assert!(!html.contains("alert(1)</script>"));
    assert!(!html.contains(SHOP));
    // The namespace table escapes the namespace.
    assert!(html.contains("<td data-v=\"shop&amp;&lt;b&gt;\">shop&amp;&lt;b&gt;</td>"));
    // No external assets: no src, no stylesheet link, no fetch.
    for banned in [
        " src=",
        "<link",
        "@import",
        "fetch(",
        "XMLHttpRequest",
        "innerHTML",
    ] {
        assert!(!html.contains(banned), "{banned} in the page");
    }
    // The findings are embedded once, intact, hostile name included.
    let data = embedded_data(&html);
    assert_eq!(
        data["findings"],
        serde_json::to_value(&report.findings).expect("json")
    );
    assert_eq!(data["findings"][2]["resource"]["name"], WEB);
    // Tests: web passes rel-image-tag (3) and sec-readonly-root-fs (2), fails sec-privileged (3); agent passes
    // rel-image-tag (3), fails sec-readonly-root-fs (2), sec-privileged exempted: 8 / 13 → 61.
    assert_eq!(report.summary.score, 61);
    assert!(html.contains("aria-label=\"score 61\""));
    assert!(html.contains("stroke=\"#c62828\""));
    assert!(html.contains("<dt>tests</dt><dd>6 (3 passed, 2 failed, 1 exempted)</dd>"));
    assert!(html.contains("Exempted findings (<span id=\"exempted-count\">1</span>)"));
    assert!(html.contains("Findings (<span id=\"findings-count\">2</span>)"));
}

#[test]
fn html_script_is_valid_javascript() {
    // `node --check` where Node is installed; the page must not fail on a syntax error in any browser.
    let Ok(out) = std::process::Command::new("node").arg("--version").output() else {
        return;
    };
    if !out.status.success() {
        return;
    }
    let html = to_html(&pods_report(Severity::Danger));
    let (_, rest) = html.rsplit_once("<script>").expect("code script");
    let (code, _) = rest.split_once("</script>").expect("end of code");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("report.js");
    std::fs::write(&file, code).expect("write");
    let check = std::process::Command::new("node")
        .arg("--check")
        .arg(&file)
        .output()
        .expect("node");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn html_script_runs_and_renders_rows() {
    // Under Node with a minimal DOM (tests/data/html-dom-shim.js), where Node is installed: the script runs
    // without throwing, lists the unsuppressed findings, opens a detail row and filters by severity.
    if !std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return;
    }
    let html = to_html(&pods_report(Severity::Danger));
    let (_, rest) = html.split_once("id=\"ksx-data\">").expect("data script");
    let (json, _) = rest.split_once("</script>").expect("end of data");
    let (_, rest) = html.rsplit_once("<script>").expect("code script");
    let (code, _) = rest.split_once("</script>").expect("end of code");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("data.json"), json).expect("write");
    std::fs::write(dir.path().join("code.js"), code).expect("write");
    let shim = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/html-dom-shim.js");
    let out = std::process::Command::new("node")
        .arg(shim)
        .arg(dir.path().join("data.json"))
        .arg(dir.path().join("code.js"))
        .output()
        .expect("node");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).expect("shim output");
    // Unsuppressed: agent sec-readonly-root-fs (warning), web sec-privileged (danger); exempted: agent privileged.
    assert_eq!(
        got["rows"], 3,
        "two findings and the opened detail row: {got}"
    );
    assert_eq!(got["exempted"], 1);
    assert_eq!(got["count"], "2");
    assert_eq!(got["detail"], "detail");
    assert!(
        got["detailText"]
            .as_str()
            .is_some_and(|t| t.contains("remediation") && t.contains("readOnlyRootFilesystem")),
        "{got}"
    );
    assert_eq!(got["dangerRows"], 1);
    assert_eq!(got["dangerCount"], "1 of 2");
}

#[test]
fn render_writes_junit_and_html() {
    let report = pods_report(Severity::Danger);
    let mut junit = Vec::new();
    render(Format::Junit, &report, TableOptions::default(), &mut junit).expect("junit");
    assert_eq!(String::from_utf8(junit).expect("utf-8"), to_junit(&report));
    let mut html = Vec::new();
    render(Format::Html, &report, TableOptions::default(), &mut html).expect("html");
    assert!(
        String::from_utf8(html)
            .expect("utf-8")
            .starts_with("<!DOCTYPE html>")
    );
}
