//! `diff` (spec §3): findings matched by fingerprint into new, fixed (with `resourceGone`) and unchanged (with
//! `severityChanged`), suppressed apart; `--fail-on` on new findings only; the renderings escape what they show.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions: a failed unwrap is a failed test"
)]

use std::collections::BTreeSet;

use ksx_inspect::diff::{DiffFormat, Snapshot, diff, render};
use ksx_inspect::model::{Resource, Suppressed, SuppressedBy};
use ksx_inspect::plan::ResultStatus;
use ksx_inspect::plan::store::conformance::sample_result;
use ksx_inspect::{Category, Finding, Severity};

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
        path: "/spec/template/spec/containers/0/securityContext".to_owned(),
        message: format!("{check} on {name}"),
        remediation: "fix it".to_owned(),
        references: Vec::new(),
        location: None,
        fingerprint: format!("sha256:{fp}"),
        suppressed: None,
    }
}

fn suppressed(mut f: Finding) -> Finding {
    f.suppressed = Some(Suppressed {
        by: SuppressedBy::Config,
        reason: Some("accepted".to_owned()),
        rule: Some("config[0]".to_owned()),
    });
    f
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

fn ids(list: &[ksx_inspect::diff::DiffFinding]) -> Vec<&str> {
    list.iter()
        .map(|d| d.finding.fingerprint.as_str())
        .collect()
}

#[test]
fn categories_by_fingerprint() {
    let old = snapshot(
        "old",
        vec![
            finding("a", "sec-privileged", "api", Severity::Danger), // stays, same severity
            finding("b", "rel-probes", "api", Severity::Warning),    // stays, severity raised
            finding("c", "sec-run-as-root", "api", Severity::Warning), // fixed, api still there
            finding("d", "sec-privileged", "legacy", Severity::Danger), // fixed, legacy removed
            suppressed(finding("e", "eff-limits", "api", Severity::Info)), // suppressed before, unsuppressed now
            finding("f", "sec-host-path", "api", Severity::Danger),        // suppressed now
        ],
        &["api", "legacy"],
    );
    let new = snapshot(
        "new",
        vec![
            finding("a", "sec-privileged", "api", Severity::Danger),
            finding("b", "rel-probes", "api", Severity::Danger),
            finding("e", "eff-limits", "api", Severity::Info),
            suppressed(finding("f", "sec-host-path", "api", Severity::Danger)),
            finding("g", "rel-image-tag", "web", Severity::Warning),
            suppressed(finding("h", "sec-caps", "web", Severity::Warning)),
        ],
        &["api", "web"],
    );
    let d = diff(&old, &new);
    // New: e (its exemption went away) and g; ordered by resource name (api < web).
    assert_eq!(ids(&d.new), ["sha256:e", "sha256:g"]);
    assert_eq!(ids(&d.fixed), ["sha256:c", "sha256:d"]);
    assert!(!d.fixed[0].resource_gone, "api is still inventoried");
    assert!(d.fixed[1].resource_gone, "legacy left NEW's inventory");
    // Unchanged ordered by check id: rel-probes < sec-privileged.
    assert_eq!(ids(&d.unchanged), ["sha256:b", "sha256:a"]);
    assert!(d.unchanged[0].severity_changed);
    assert_eq!(d.unchanged[0].previous_severity, Some(Severity::Warning));
    assert_eq!(d.unchanged[0].finding.severity, Severity::Danger);
    assert!(!d.unchanged[1].severity_changed);
    assert_eq!(ids(&d.suppressed), ["sha256:f", "sha256:h"]);
    assert_eq!(d.suppressed[0].change.as_deref(), Some("unchanged"));
    assert_eq!(d.suppressed[1].change.as_deref(), Some("new"));
    let s = &d.summary;
    assert_eq!(
        (
            s.new,
            s.fixed,
            s.resource_gone,
            s.unchanged,
            s.severity_changed,
            s.suppressed
        ),
        (2, 2, 1, 2, 1, 2)
    );
    assert_eq!(
        (
            s.new_by_severity.danger,
            s.new_by_severity.warning,
            s.new_by_severity.info
        ),
        (0, 1, 1)
    );
    // Exit 3 only for new findings at or above the threshold: the new ones are warning and info.
    assert!(!d.fails_at(Severity::Danger));
    assert!(d.fails_at(Severity::Warning));
    assert!(d.fails_at(Severity::Info));
}

#[test]
fn without_an_inventory_nothing_is_resource_gone() {
    let old = snapshot(
        "old",
        vec![finding("d", "sec-privileged", "legacy", Severity::Danger)],
        &[],
    );
    let mut new = snapshot("new", vec![], &[]);
    new.inventory = None;
    let d = diff(&old, &new);
    assert_eq!(ids(&d.fixed), ["sha256:d"]);
    assert!(!d.fixed[0].resource_gone);
}

#[test]
fn identical_runs_have_only_unchanged_findings() {
    let f = vec![finding("a", "sec-privileged", "api", Severity::Danger)];
    let d = diff(
        &snapshot("o", f.clone(), &["api"]),
        &snapshot("n", f, &["api"]),
    );
    assert!(d.new.is_empty() && d.fixed.is_empty());
    assert_eq!(d.unchanged.len(), 1);
    assert!(!d.fails_at(Severity::Info));
}

#[test]
fn renderings_escape_and_show_every_category() {
    let mut evil = finding("x", "sec-privileged", "api", Severity::Danger);
    evil.message = "<script>alert('x')</script> | pipe & \"quote\"".to_owned();
    let old = snapshot(
        "old",
        vec![finding("d", "rel-probes", "legacy", Severity::Warning)],
        &["legacy"],
    );
    let new = snapshot("new", vec![evil], &["api"]);
    let d = diff(&old, &new);

    let html = render(&d, DiffFormat::Html);
    assert!(html.starts_with("<!DOCTYPE html>"));
    // Only the page's data and code scripts: the hostile message stays inside the escaped JSON data.
    assert_eq!(
        html.matches("<script").count(),
        2,
        "unescaped script in HTML"
    );
    assert!(!html.contains("alert('x')</script>"));
    assert!(html.contains(
        "\\u003cscript\\u003ealert('x')\\u003c/script\\u003e | pipe \\u0026 \\\"quote\\\""
    ));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no network references"
    );
    for tab in [
        "New (<span id=\"new-count\">1</span>)",
        "Fixed (<span id=\"fixed-count\">1</span>)",
        "Unchanged (<span id=\"unchanged-count\">0</span>)",
        "Suppressed findings of NEW (<span id=\"suppressed-count\">0</span>)",
    ] {
        assert!(html.contains(tab), "{tab}");
    }
    assert!(html.contains("<dt>fixed</dt><dd>1 (1 resource gone)</dd>"));

    let md = render(&d, DiffFormat::Markdown);
    assert!(md.contains("### new (1)"));
    assert!(md.contains("\\| pipe"), "pipes escaped in table cells");
    assert!(md.contains("&lt;script&gt;"));
    assert!(md.contains("| 1 | 1 | 0 | 0 |"));

    let json: serde_json::Value = serde_json::from_str(&render(&d, DiffFormat::Json)).unwrap();
    assert_eq!(json["kind"], "InspectDiff");
    assert_eq!(json["new"][0]["checkId"], "sec-privileged");
    assert_eq!(json["new"][0]["resourceGone"], false);
    assert_eq!(json["fixed"][0]["resourceGone"], true);
    assert_eq!(json["summary"]["newBySeverity"]["danger"], 1);
    assert_eq!(json["oldRun"]["label"], "old");

    let table = render(&d, DiffFormat::Table);
    assert!(table.contains("NEW (1)"));
    assert!(table.contains("FIXED (1)"));
    assert!(table.trim_end().ends_with(
        "new 1 (1 danger · 0 warning · 0 info) · fixed 1 (1 resource gone) · unchanged 0 (0 severity changed) · suppressed 0"
    ));
}

#[test]
fn snapshots_read_results_and_reports() {
    let r = sample_result("p", 1_767_225_600, ResultStatus::Succeeded, 50);
    let s = Snapshot::from_json("r.json", &serde_json::to_string(&r).unwrap()).unwrap();
    assert_eq!(s.label, "p-20260101T000000Z");
    assert!(s.inventory.is_some());
    let s = Snapshot::from_json("report.json", &serde_json::to_string(&r.report).unwrap()).unwrap();
    assert_eq!(s.label, "report.json");
    assert!(s.inventory.is_none());
    let err = Snapshot::from_json("x.json", "{\"kind\": \"Pod\"}").unwrap_err();
    assert!(err.to_string().starts_with("x.json: "), "{err}");
    let err = Snapshot::from_json("y.json", "nope").unwrap_err();
    assert!(err.to_string().starts_with("y.json: "), "{err}");
}
