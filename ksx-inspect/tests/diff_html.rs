//! The HTML page of `diff` (spec §3, §6.6): one self-contained file with New / Fixed / Unchanged tabs (counts in
//! the labels), fixed rows flagged `resourceGone`, unchanged rows `severityChanged`, suppressed findings apart,
//! the diff embedded once as JSON that no finding can break out of. The page is checked as text (like the report
//! page in `reports_junit_html.rs`), and its script is run under Node with a minimal DOM
//! (`tests/data/diff-dom-shim.js`) where Node is installed.
//!
//! The fixture, by hand (namespace `shop`, Deployments; OLD inventory api, db, legacy, web; NEW api, db, web):
//!
//! | fingerprint | check | resource | OLD | NEW | category |
//! |---|---|---|---|---|---|
//! | a | sec-privileged | api | danger | danger | unchanged |
//! | b | rel-probes | web | warning | danger | unchanged, severity warning → danger |
//! | c | sec-privileged | legacy | danger | – | fixed, resource gone (legacy left NEW) |
//! | d | rel-image-tag | web | danger | – | fixed (web still there) |
//! | e | sec-host-network | db | – | danger, hostile message | new |
//! | f | rel-limits | api | – | warning | new |
//! | g | sec-run-as-root | db | – | suppressed by config | suppressed, new |
//!
//! Lists are in report order (namespace, kind, name, check): new [f (api), e (db)], fixed [c (legacy), d (web)],
//! unchanged [a (api), b (web)].
#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions: a failed unwrap is a failed test"
)]

use std::collections::BTreeSet;

use ksx_inspect::diff::{Diff, DiffFormat, Snapshot, diff, render};
use ksx_inspect::model::{Resource, Suppressed, SuppressedBy};
use ksx_inspect::plan::ResultStatus;
use ksx_inspect::plan::store::conformance::sample_result;
use ksx_inspect::{Category, Finding, Severity};

const HOSTILE: &str = "</script><script>alert(1)</script><!-- & \"x\" 'y'";

fn res(name: &str) -> Resource {
    Resource {
        api_version: "apps/v1".to_owned(),
        kind: "Deployment".to_owned(),
        namespace: Some("shop".to_owned()),
        name: name.to_owned(),
    }
}

fn finding(fp: &str, check: &str, name: &str, severity: Severity) -> Finding {
    Finding {
        check_id: check.to_owned(),
        severity,
        category: Category::Security,
        resource: res(name),
        container: Some("app".to_owned()),
        path: "/spec/template/spec/containers/0".to_owned(),
        message: format!("{check} on {name}"),
        remediation: "fix it".to_owned(),
        references: Vec::new(),
        location: None,
        fingerprint: format!("sha256:{fp}"),
        suppressed: None,
    }
}

fn snapshot(label: &str, findings: Vec<Finding>, inventory: &[&str]) -> Snapshot {
    let mut r = sample_result("p", 1_767_225_600, ResultStatus::Succeeded, 50);
    r.report.findings = findings;
    Snapshot {
        label: label.to_owned(),
        report: r.report,
        inventory: Some(inventory.iter().map(|n| res(n)).collect::<BTreeSet<_>>()),
    }
}

fn fixture() -> Diff {
    use Severity::{Danger, Warning};
    let old = snapshot(
        "old-run",
        vec![
            finding("a", "sec-privileged", "api", Danger),
            finding("b", "rel-probes", "web", Warning),
            finding("c", "sec-privileged", "legacy", Danger),
            finding("d", "rel-image-tag", "web", Danger),
        ],
        &["api", "db", "legacy", "web"],
    );
    let mut hostile = finding("e", "sec-host-network", "db", Danger);
    hostile.message = HOSTILE.to_owned();
    let mut suppressed = finding("g", "sec-run-as-root", "db", Danger);
    suppressed.suppressed = Some(Suppressed {
        by: SuppressedBy::Config,
        reason: Some("accepted".to_owned()),
        rule: Some("config[0]".to_owned()),
    });
    let new = snapshot(
        "new-run",
        vec![
            finding("a", "sec-privileged", "api", Danger),
            finding("b", "rel-probes", "web", Danger),
            hostile,
            finding("f", "rel-limits", "api", Warning),
            suppressed,
        ],
        &["api", "db", "web"],
    );
    diff(&old, &new)
}

/// The text of an element that starts at `marker` (an attribute inside its start tag), tags removed.
fn element_text(html: &str, marker: &str, end: &str) -> String {
    let (_, rest) = html.split_once(marker).unwrap();
    let (_, rest) = rest.split_once('>').unwrap();
    let (inner, _) = rest.split_once(end).unwrap();
    let mut text = String::new();
    let mut in_tag = false;
    for c in inner.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text
}

/// The JSON of the data script, and the code of the other script.
fn scripts(html: &str) -> (serde_json::Value, String) {
    let open = "<script type=\"application/json\" id=\"ksx-data\">";
    let (_, rest) = html.split_once(open).unwrap();
    let (json, rest) = rest.split_once("</script>").unwrap();
    let (_, rest) = rest.split_once("<script>").unwrap();
    let (code, _) = rest.split_once("</script>").unwrap();
    (serde_json::from_str(json).unwrap(), code.to_owned())
}

#[test]
fn the_categories_of_the_fixture_are_as_derived_by_hand() {
    let d = fixture();
    let fps = |list: &[ksx_inspect::diff::DiffFinding]| -> Vec<String> {
        list.iter()
            .map(|x| {
                x.finding
                    .fingerprint
                    .trim_start_matches("sha256:")
                    .to_owned()
            })
            .collect()
    };
    assert_eq!(fps(&d.new), ["f", "e"]);
    assert_eq!(fps(&d.fixed), ["c", "d"]);
    assert_eq!(fps(&d.unchanged), ["a", "b"]);
    assert_eq!(fps(&d.suppressed), ["g"]);
}

#[test]
fn tabs_carry_their_counts_and_only_the_first_panel_shows() {
    let html = render(&fixture(), DiffFormat::Html);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(
        element_text(&html, "id=\"tab-new\"", "</button>"),
        "New (2)"
    );
    assert_eq!(
        element_text(&html, "id=\"tab-fixed\"", "</button>"),
        "Fixed (2)"
    );
    assert_eq!(
        element_text(&html, "id=\"tab-unchanged\"", "</button>"),
        "Unchanged (2)"
    );
    // Suppressed findings are not a tab but a collapsed section of their own.
    assert!(!html.contains("id=\"tab-suppressed\""));
    assert_eq!(
        element_text(&html, "<details", "</summary>"),
        "Suppressed findings of NEW (1)"
    );
    assert!(html.contains("id=\"tab-new\" aria-controls=\"panel-new\" aria-selected=\"true\""));
    assert!(
        html.contains("id=\"tab-fixed\" aria-controls=\"panel-fixed\" aria-selected=\"false\"")
    );
    assert!(html.contains("id=\"panel-new\" aria-labelledby=\"tab-new\"><table>"));
    assert!(html.contains("id=\"panel-fixed\" aria-labelledby=\"tab-fixed\" hidden>"));
    assert!(html.contains("id=\"panel-unchanged\" aria-labelledby=\"tab-unchanged\" hidden>"));
    assert_eq!(
        element_text(&html, "id=\"counts\"", "</dl>"),
        "new2 (1 danger, 1 warning, 0 info)fixed2 (1 resource gone)unchanged2 (1 severity changed)suppressed1"
    );
    // Both runs with their labels and scores (sample results score 50: red).
    assert!(html.contains("<code>old-run</code>"));
    assert!(html.contains("<code>new-run</code>"));
    assert!(html.contains("score <strong style=\"color:#c62828\">50</strong>"));
}

#[test]
fn the_page_is_self_contained_and_a_hostile_message_cannot_break_out() {
    let d = fixture();
    let html = render(&d, DiffFormat::Html);
    // Exactly the data and the code script; the message is never raw in the page.
    assert_eq!(html.matches("<script").count(), 2, "{html}");
    assert_eq!(html.matches("</script>").count(), 2);
    assert!(!html.contains("alert(1)</script>"));
    assert!(!html.contains("<!--"));
    for banned in [
        " src=",
        "<link",
        "@import",
        "fetch(",
        "XMLHttpRequest",
        "innerHTML",
        "http://",
        "https://",
    ] {
        assert!(!html.contains(banned), "{banned} in the page");
    }
    // The same style sheet as the report page, and the report's content security policy.
    assert!(html.contains(".sev-danger{background:var(--danger)}"));
    assert!(html.contains("content=\"default-src 'none';"));
    // The diff is embedded once, intact, the hostile message included.
    let (data, _) = scripts(&html);
    assert_eq!(data, serde_json::to_value(&d).unwrap());
    assert_eq!(data["new"][1]["message"], HOSTILE);
    assert_eq!(data["fixed"][0]["resourceGone"], true);
    assert_eq!(data["fixed"][1]["resourceGone"], false);
    assert_eq!(data["unchanged"][1]["severityChanged"], true);
    assert_eq!(data["unchanged"][1]["previousSeverity"], "warning");
    assert_eq!(data["suppressed"][0]["change"], "new");
    assert_eq!(
        html.matches("\"fingerprint\":\"sha256:e\"").count(),
        1,
        "data embedded once"
    );
}

#[test]
fn an_empty_category_keeps_its_tab() {
    let same = snapshot(
        "r",
        vec![finding("a", "sec-privileged", "api", Severity::Danger)],
        &["api"],
    );
    let html = render(&diff(&same, &same), DiffFormat::Html);
    assert_eq!(
        element_text(&html, "id=\"tab-new\"", "</button>"),
        "New (0)"
    );
    assert_eq!(
        element_text(&html, "id=\"tab-fixed\"", "</button>"),
        "Fixed (0)"
    );
    assert_eq!(
        element_text(&html, "id=\"tab-unchanged\"", "</button>"),
        "Unchanged (1)"
    );
}

fn node() -> bool {
    std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn the_script_is_valid_javascript() {
    if !node() {
        return;
    }
    let (_, code) = scripts(&render(&fixture(), DiffFormat::Html));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("diff.js");
    std::fs::write(&file, code).unwrap();
    let check = std::process::Command::new("node")
        .arg("--check")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn the_script_fills_the_tabs_and_switches_them() {
    if !node() {
        return;
    }
    let html = render(&fixture(), DiffFormat::Html);
    let (data, code) = scripts(&html);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data.json"), data.to_string()).unwrap();
    std::fs::write(dir.path().join("code.js"), code).unwrap();
    let shim = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/diff-dom-shim.js");
    let out = std::process::Command::new("node")
        .arg(shim)
        .arg(dir.path().join("data.json"))
        .arg(dir.path().join("code.js"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = |key: &str| -> Vec<Vec<String>> {
        got["rows"][key]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                assert_eq!(r["className"], "finding", "{got}");
                r["cells"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c.as_str().unwrap().to_owned())
                    .collect()
            })
            .collect()
    };
    // Cells: severity, resource, check, container, location (the path without a file), message, notes.
    let path = "/spec/template/spec/containers/0";
    let row = |sev: &str, name: &str, check: &str, message: &str, notes: &str| -> Vec<String> {
        [
            sev,
            &format!("shop/Deployment/{name}"),
            check,
            "app",
            path,
            message,
            notes,
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
    };
    assert_eq!(
        rows("new"),
        [
            row("warning", "api", "rel-limits", "rel-limits on api", ""),
            // The hostile message is text in a cell, exactly as written.
            row("danger", "db", "sec-host-network", HOSTILE, ""),
        ]
    );
    assert_eq!(
        rows("fixed"),
        [
            row(
                "danger",
                "legacy",
                "sec-privileged",
                "sec-privileged on legacy",
                "resource gone"
            ),
            row("danger", "web", "rel-image-tag", "rel-image-tag on web", ""),
        ]
    );
    assert_eq!(
        rows("unchanged"),
        [
            row(
                "danger",
                "api",
                "sec-privileged",
                "sec-privileged on api",
                ""
            ),
            row(
                "danger",
                "web",
                "rel-probes",
                "rel-probes on web",
                "severity warning → danger"
            ),
        ]
    );
    // Suppressed: the reason instead of the message, and whether it is new against OLD.
    assert_eq!(
        rows("suppressed"),
        [row("danger", "db", "sec-run-as-root", "accepted", "new")]
    );
    for (key, n) in [
        ("new", "2"),
        ("fixed", "2"),
        ("unchanged", "2"),
        ("suppressed", "1"),
    ] {
        assert_eq!(got["counts"][key], n, "{key}");
    }
    // New shows first; a click on Fixed shows only Fixed.
    let shown = |state: &serde_json::Value| -> Vec<(bool, String)> {
        ["new", "fixed", "unchanged"]
            .iter()
            .map(|k| {
                (
                    !state[k]["hidden"].as_bool().unwrap(),
                    state[k]["selected"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let t = |on: bool| (on, on.to_string());
    assert_eq!(shown(&got["initial"]), [t(true), t(false), t(false)]);
    assert_eq!(shown(&got["afterFixed"]), [t(false), t(true), t(false)]);
    // The first fixed row opens into its detail, with the flag explained.
    assert_eq!(got["detail"]["className"], "detail");
    let detail = got["detail"]["text"].as_str().unwrap();
    assert!(
        detail.contains("resource gonethe resource is not in NEW's inventory"),
        "{detail}"
    );
    assert!(detail.contains("remediationfix it"), "{detail}");
}
