//! The demo's inspection section: the built-in catalogue of [`ksx_inspect`] runs over every object of the embedded
//! cluster at the end of the demo (workloads, pods, services, autoscalers, nodes, events…), read through the cluster
//! seam as one live bundle so cross-object and live-health checks see each other, and the report shows the score, findings per severity and category, the checks that fire
//! most, the namespaces with the most danger findings, and a few findings with their remediation.
//!
//! Every finding comes from the engine; this module only lists the cluster and summarises the report.

use std::collections::BTreeMap;

use ksx_core::{InMemoryCluster, ManualClock};
use ksx_inspect::live::{NamespaceFilter, bundle_from_cluster, default_kinds};
use ksx_inspect::{Config, Engine, RunOptions, Severity};
use serde::Serialize;

use super::report::{bars, esc, table};

/// How many checks, namespaces and sample findings the section lists.
const TOP: usize = 8;

/// Findings of one check across the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CheckCount {
    check_id: String,
    severity: Severity,
    findings: u64,
}

/// One namespace's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct NamespaceScore {
    namespace: String,
    score: u64,
    danger: u64,
    warning: u64,
}

/// One finding shown in full.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SampleFinding {
    check_id: String,
    severity: Severity,
    resource: String,
    message: String,
    remediation: String,
}

/// What the inspection of the embedded cluster found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct InspectTrace {
    objects: u64,
    checks: u64,
    score: u64,
    danger: u64,
    warning: u64,
    info: u64,
    exempted: u64,
    /// Unsuppressed findings per category, all six categories.
    by_category: BTreeMap<String, u64>,
    top_checks: Vec<CheckCount>,
    worst_namespaces: Vec<NamespaceScore>,
    samples: Vec<SampleFinding>,
}

/// Lists every built-in kind of the cluster into one bundle and runs the default catalogue over it.
pub(super) async fn run(
    cluster: &InMemoryCluster,
    clock: &ManualClock,
) -> anyhow::Result<InspectTrace> {
    let engine = Engine::new(&Config::default(), &RunOptions::default())?;
    let bundle =
        bundle_from_cluster(cluster, &NamespaceFilter::default(), &default_kinds()).await?;
    let report = engine.inspect(&bundle, clock);
    let s = &report.summary;

    let mut by_check: BTreeMap<&str, (Severity, u64)> = BTreeMap::new();
    let mut by_category: BTreeMap<String, u64> =
        s.by_category.keys().map(|k| (k.clone(), 0)).collect();
    for f in report.findings.iter().filter(|f| f.suppressed.is_none()) {
        let entry = by_check.entry(&f.check_id).or_insert((f.severity, 0));
        entry.1 += 1;
        *by_category.entry(f.category.to_string()).or_default() += 1;
    }
    let mut top_checks: Vec<CheckCount> = by_check
        .into_iter()
        .map(|(id, (severity, findings))| CheckCount {
            check_id: id.to_owned(),
            severity,
            findings,
        })
        .collect();
    top_checks.sort_by(|a, b| {
        b.findings
            .cmp(&a.findings)
            .then(b.severity.cmp(&a.severity))
            .then(a.check_id.cmp(&b.check_id))
    });
    top_checks.truncate(TOP);

    let mut worst_namespaces: Vec<NamespaceScore> = s
        .by_namespace
        .iter()
        .filter(|(ns, _)| !ns.is_empty())
        .map(|(ns, b)| NamespaceScore {
            namespace: ns.clone(),
            score: b.score,
            danger: b.danger,
            warning: b.warning,
        })
        .collect();
    worst_namespaces.sort_by(|a, b| {
        b.danger
            .cmp(&a.danger)
            .then(a.score.cmp(&b.score))
            .then(a.namespace.cmp(&b.namespace))
    });
    worst_namespaces.truncate(TOP);

    // One sample per check, most severe first, so the section shows variety rather than one check many times.
    let mut seen = std::collections::BTreeSet::new();
    let mut ordered: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.suppressed.is_none())
        .collect();
    ordered.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let samples = ordered
        .into_iter()
        .filter(|f| seen.insert(f.check_id.clone()))
        .take(TOP)
        .map(|f| SampleFinding {
            check_id: f.check_id.clone(),
            severity: f.severity,
            resource: format!(
                "{}/{}{}",
                f.resource.kind,
                f.resource
                    .namespace
                    .as_ref()
                    .map_or_else(String::new, |ns| format!("{ns}/")),
                f.resource.name
            ),
            message: f.message.clone(),
            remediation: f.remediation.clone(),
        })
        .collect();

    Ok(InspectTrace {
        objects: s.objects,
        checks: s.checks,
        score: s.score,
        danger: s.findings.danger,
        warning: s.findings.warning,
        info: s.findings.info,
        exempted: s.exempted,
        by_category,
        top_checks,
        worst_namespaces,
        samples,
    })
}

/// The section's lines of the terminal summary.
pub(super) fn print_summary(t: &InspectTrace) {
    outln!(
        "inspection: {} objects, {} checks, score {}/100: {} danger, {} warning, {} info ({} exempted)",
        t.objects,
        t.checks,
        t.score,
        t.danger,
        t.warning,
        t.info,
        t.exempted
    );
    if let Some(top) = t.top_checks.first() {
        outln!(
            "  most frequent: {} ({}, {} findings)",
            top.check_id,
            top.severity,
            top.findings
        );
    }
}

/// The section of the HTML report.
pub(super) fn section(t: &InspectTrace) -> String {
    let mut body = format!(
        "<p>The built-in catalogue over all {} objects of the embedded cluster, as one bundle: score <b>{}/100</b>, \
         {} danger, {} warning and {} info findings ({} exempted by annotation). Run it yourself on manifests with \
         <code>ksx inspect -f DIR --format html -o report.html</code>.</p>",
        t.objects, t.score, t.danger, t.warning, t.info, t.exempted
    );
    let total: u64 = t.by_category.values().sum();
    body.push_str("<h3>Findings per category</h3>");
    body.push_str(&bars(
        &t.by_category
            .iter()
            .map(|(c, n)| {
                let share = if total == 0 {
                    0.0
                } else {
                    *n as f64 / total as f64
                };
                (c.clone(), share, n.to_string())
            })
            .collect::<Vec<_>>(),
    ));
    body.push_str("<h3>Checks that fire most</h3>");
    let rows: Vec<Vec<String>> = t
        .top_checks
        .iter()
        .map(|c| {
            vec![
                c.check_id.clone(),
                c.severity.to_string(),
                c.findings.to_string(),
            ]
        })
        .collect();
    body.push_str(&table(&["check", "severity", "findings"], &rows));
    body.push_str("<h3>Namespaces with the most danger findings</h3>");
    let rows: Vec<Vec<String>> = t
        .worst_namespaces
        .iter()
        .map(|n| {
            vec![
                n.namespace.clone(),
                n.score.to_string(),
                n.danger.to_string(),
                n.warning.to_string(),
            ]
        })
        .collect();
    body.push_str(&table(&["namespace", "score", "danger", "warning"], &rows));
    body.push_str("<h3>Sample findings</h3><ul>");
    for f in &t.samples {
        body.push_str(&format!(
            "<li><b>{}</b> ({}) on <code>{}</code>: {}<br><i>{}</i></li>",
            esc(&f.check_id),
            f.severity,
            esc(&f.resource),
            esc(&f.message),
            esc(&f.remediation)
        ));
    }
    body.push_str("</ul>");
    body
}
