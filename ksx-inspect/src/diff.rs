//! Comparing two runs (spec §3 `diff`): findings matched by `fingerprint` into **new** (only in NEW),
//! **fixed** (only in OLD; `resourceGone` when the resource is not in NEW's inventory) and **unchanged** (in both;
//! `severityChanged` when the severity moved). Suppressed findings are listed apart.
//!
//! The categories count *unsuppressed* findings: a finding suppressed in OLD and unsuppressed in NEW is new (its
//! exemption went away); one unsuppressed in OLD and suppressed in NEW is not fixed but listed with the
//! suppressed findings of NEW, each marked new or unchanged against OLD. Renderings: table, JSON, Markdown and a
//! self-contained HTML page with New / Fixed / Unchanged tabs and the suppressed findings apart.
//!
//! ```
//! use ksx_core::ManualClock;
//! use ksx_core::manifest::parse_str;
//! use ksx_inspect::diff::{Snapshot, diff};
//! use ksx_inspect::{Bundle, Config, Engine, RunOptions, Severity};
//!
//! let engine = Engine::new(&Config::default(), &RunOptions {
//!     checks: Some(vec!["sec-privileged".into(), "rel-image-tag".into()]),
//!     ..RunOptions::default()
//! })?;
//! let run = |yaml: &str| {
//!     let bundle = Bundle::from_loaded(&parse_str("pod.yaml", yaml), "default");
//!     Snapshot::from_bundle("run", engine.inspect(&bundle, &ManualClock::at_unix_secs(0)), &bundle)
//! };
//! let old = run("apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n    - {name: web, image: 'nginx:1.27'}\n");
//! let new = run("apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n    - {name: web, image: 'nginx:1.27', securityContext: {privileged: true}}\n");
//! let d = diff(&old, &new);
//! assert_eq!(d.new.len(), 1);
//! assert_eq!(d.new[0].finding.check_id, "sec-privileged");
//! assert!(d.fails_at(Severity::Danger));
//! # Ok::<(), ksx_inspect::Error>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::bundle::Bundle;
use crate::model::{Finding, Report, Resource, Severity, SeverityCounts};
use crate::plan::error::PlanError;
use crate::plan::result::InspectResult;

/// One side of a diff: a report, with the inventory of inspected objects when it came from a stored result.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// How the side is named in output: a result id or a file.
    pub label: String,
    /// The report.
    pub report: Report,
    /// The inspected objects; `None` for a bare report (then no finding is marked `resourceGone`).
    pub inventory: Option<BTreeSet<Resource>>,
}

impl Snapshot {
    /// A side from a stored result.
    pub fn from_result(result: InspectResult) -> Self {
        Self {
            label: result.id,
            inventory: Some(result.inventory.into_iter().collect()),
            report: result.report,
        }
    }

    /// A side from a report and the bundle it inspected.
    pub fn from_bundle(label: &str, report: Report, bundle: &Bundle) -> Self {
        Self {
            label: label.to_owned(),
            report,
            inventory: Some(
                bundle
                    .objects()
                    .iter()
                    .map(|o| o.resource.clone())
                    .collect(),
            ),
        }
    }

    /// A side from a JSON file holding an `InspectResult` or an `InspectReport`.
    ///
    /// # Errors
    /// [`PlanError::Corrupt`] naming `place` when the text is neither.
    pub fn from_json(place: &str, text: &str) -> Result<Self, PlanError> {
        let corrupt = |reason: String| PlanError::Corrupt {
            place: place.to_owned(),
            reason,
        };
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| corrupt(format!("not JSON: {e}")))?;
        match value.get("kind").and_then(serde_json::Value::as_str) {
            Some("InspectResult") => {
                let result: InspectResult = serde_json::from_value(value)
                    .map_err(|e| corrupt(format!("not an InspectResult: {e}")))?;
                Ok(Self::from_result(result))
            }
            Some("InspectReport") => {
                let report: Report = serde_json::from_value(value)
                    .map_err(|e| corrupt(format!("not an InspectReport: {e}")))?;
                Ok(Self {
                    label: place.to_owned(),
                    report,
                    inventory: None,
                })
            }
            other => Err(corrupt(format!(
                "kind {other:?} is neither InspectResult nor InspectReport"
            ))),
        }
    }
}

/// A finding of a diff with its flags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiffFinding {
    /// NEW's finding (OLD's for fixed ones).
    #[serde(flatten)]
    pub finding: Finding,
    /// Fixed only: the resource is not in NEW's inventory.
    pub resource_gone: bool,
    /// Unchanged only: the severity differs between OLD and NEW.
    pub severity_changed: bool,
    /// OLD's severity when it changed.
    pub previous_severity: Option<Severity>,
    /// Suppressed only: `new` or `unchanged` against OLD (null elsewhere).
    pub change: Option<String>,
}

/// Who is compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiffSide {
    /// Result id or file.
    pub label: String,
    /// `run.startedAt`.
    pub started_at: String,
    /// The report's score.
    pub score: u64,
    /// Unsuppressed findings per severity.
    pub findings: SeverityCounts,
}

/// Counts of a diff.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiffCounts {
    /// New findings.
    pub new: u64,
    /// Fixed findings.
    pub fixed: u64,
    /// Of the fixed: resource gone.
    pub resource_gone: u64,
    /// Unchanged findings.
    pub unchanged: u64,
    /// Of the unchanged: severity changed.
    pub severity_changed: u64,
    /// Suppressed findings of NEW.
    pub suppressed: u64,
    /// New findings per severity.
    pub new_by_severity: SeverityCounts,
}

/// The comparison of two runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Diff {
    /// `inspect.ksx.io/v1`.
    pub api_version: String,
    /// `InspectDiff`.
    pub kind: String,
    /// The older run.
    pub old_run: DiffSide,
    /// The newer run.
    pub new_run: DiffSide,
    /// Counts.
    pub summary: DiffCounts,
    /// Only in NEW (unsuppressed there, and absent or suppressed in OLD).
    pub new: Vec<DiffFinding>,
    /// Only in OLD.
    pub fixed: Vec<DiffFinding>,
    /// In both.
    pub unchanged: Vec<DiffFinding>,
    /// Suppressed in NEW.
    pub suppressed: Vec<DiffFinding>,
}

fn order_key(f: &Finding) -> (String, &str, &str, &str, &str, &str) {
    (
        f.resource.namespace.clone().unwrap_or_default(),
        f.resource.kind.as_str(),
        f.resource.name.as_str(),
        f.check_id.as_str(),
        f.container.as_deref().unwrap_or(""),
        f.path.as_str(),
    )
}

fn side(s: &Snapshot) -> DiffSide {
    DiffSide {
        label: s.label.clone(),
        started_at: s.report.run.started_at.clone(),
        score: s.report.summary.score,
        findings: s.report.summary.findings.clone(),
    }
}

fn plain(finding: &Finding) -> DiffFinding {
    DiffFinding {
        finding: finding.clone(),
        resource_gone: false,
        severity_changed: false,
        previous_severity: None,
        change: None,
    }
}

fn count<'a>(items: impl Iterator<Item = &'a DiffFinding>) -> u64 {
    u64::try_from(items.count()).unwrap_or(u64::MAX)
}

/// Compares OLD and NEW. Pure; every list is in report order (namespace, kind, name, check, container, path).
pub fn diff(old: &Snapshot, new: &Snapshot) -> Diff {
    let index = |r: &Report| -> BTreeMap<String, Finding> {
        let mut m = BTreeMap::new();
        for f in &r.findings {
            m.entry(f.fingerprint.clone()).or_insert_with(|| f.clone());
        }
        m
    };
    let old_all = index(&old.report);
    let new_all = index(&new.report);
    let mut out = Diff {
        api_version: "inspect.ksx.io/v1".to_owned(),
        kind: "InspectDiff".to_owned(),
        old_run: side(old),
        new_run: side(new),
        summary: DiffCounts::default(),
        new: Vec::new(),
        fixed: Vec::new(),
        unchanged: Vec::new(),
        suppressed: Vec::new(),
    };
    for (fp, f) in &new_all {
        let before = old_all.get(fp);
        if f.suppressed.is_some() {
            let mut d = plain(f);
            d.change = Some(if before.is_some() { "unchanged" } else { "new" }.to_owned());
            out.suppressed.push(d);
            continue;
        }
        match before {
            Some(o) if o.suppressed.is_none() => {
                let mut d = plain(f);
                if o.severity != f.severity {
                    d.severity_changed = true;
                    d.previous_severity = Some(o.severity);
                }
                out.unchanged.push(d);
            }
            _ => out.new.push(plain(f)),
        }
    }
    for (fp, f) in &old_all {
        if f.suppressed.is_some() || new_all.contains_key(fp) {
            continue;
        }
        let mut d = plain(f);
        d.resource_gone = new
            .inventory
            .as_ref()
            .is_some_and(|inv| !inv.contains(&f.resource));
        out.fixed.push(d);
    }
    for list in [
        &mut out.new,
        &mut out.fixed,
        &mut out.unchanged,
        &mut out.suppressed,
    ] {
        list.sort_by(|a, b| order_key(&a.finding).cmp(&order_key(&b.finding)));
    }
    let n = |v: &[DiffFinding]| count(v.iter());
    let mut by = SeverityCounts::default();
    for d in &out.new {
        match d.finding.severity {
            Severity::Danger => by.danger += 1,
            Severity::Warning => by.warning += 1,
            Severity::Info => by.info += 1,
        }
    }
    out.summary = DiffCounts {
        new: n(&out.new),
        fixed: n(&out.fixed),
        resource_gone: count(out.fixed.iter().filter(|d| d.resource_gone)),
        unchanged: n(&out.unchanged),
        severity_changed: count(out.unchanged.iter().filter(|d| d.severity_changed)),
        suppressed: n(&out.suppressed),
        new_by_severity: by,
    };
    out
}

impl Diff {
    /// Whether a new finding is at or above `fail_on` (exit code 3 of `ksx inspect diff`).
    pub fn fails_at(&self, fail_on: Severity) -> bool {
        self.new.iter().any(|d| d.finding.severity >= fail_on)
    }
}

/// Output formats of a diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffFormat {
    /// Plain-text sections.
    Table,
    /// The [`Diff`] as JSON.
    Json,
    /// GitHub-flavoured Markdown.
    Markdown,
    /// One self-contained HTML page.
    Html,
}

/// Renders `diff` in `format`.
pub fn render(diff: &Diff, format: DiffFormat) -> String {
    match format {
        DiffFormat::Table => to_table(diff),
        DiffFormat::Json => {
            serde_json::to_string_pretty(diff).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
                + "\n"
        }
        DiffFormat::Markdown => to_markdown(diff),
        DiffFormat::Html => to_html(diff),
    }
}

fn resource_name(f: &Finding) -> String {
    match &f.resource.namespace {
        Some(ns) => format!("{ns}/{}/{}", f.resource.kind, f.resource.name),
        None => format!("{}/{}", f.resource.kind, f.resource.name),
    }
}

fn flags(d: &DiffFinding) -> String {
    let mut out = Vec::new();
    if d.resource_gone {
        out.push("resource gone".to_owned());
    }
    if let (true, Some(prev)) = (d.severity_changed, d.previous_severity) {
        out.push(format!("severity {prev} → {}", d.finding.severity));
    }
    if let Some(c) = &d.change {
        out.push(c.clone());
    }
    out.join(", ")
}

fn summary_line(d: &Diff) -> String {
    let s = &d.summary;
    format!(
        "new {} ({} danger · {} warning · {} info) · fixed {} ({} resource gone) · unchanged {} ({} severity changed) · suppressed {}",
        s.new,
        s.new_by_severity.danger,
        s.new_by_severity.warning,
        s.new_by_severity.info,
        s.fixed,
        s.resource_gone,
        s.unchanged,
        s.severity_changed,
        s.suppressed
    )
}

fn sections(d: &Diff) -> [(&'static str, &[DiffFinding]); 4] {
    [
        ("NEW", &d.new),
        ("FIXED", &d.fixed),
        ("UNCHANGED", &d.unchanged),
        ("SUPPRESSED", &d.suppressed),
    ]
}

/// The plain-text rendering: a header, one section per category (SEVERITY, CHECK, RESOURCE, CONTAINER, PATH,
/// MESSAGE, flags), then the counts.
pub fn to_table(d: &Diff) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "OLD {} (score {}) → NEW {} (score {})",
        d.old_run.label, d.old_run.score, d.new_run.label, d.new_run.score
    );
    for (title, list) in sections(d) {
        let _ = writeln!(out, "\n{title} ({})", list.len());
        if list.is_empty() {
            continue;
        }
        let rows: Vec<[String; 7]> = list
            .iter()
            .map(|x| {
                let f = &x.finding;
                [
                    f.severity.to_string(),
                    f.check_id.clone(),
                    resource_name(f),
                    f.container.clone().unwrap_or_else(|| "-".to_owned()),
                    f.path.clone(),
                    f.message.clone(),
                    flags(x),
                ]
            })
            .collect();
        let header = [
            "SEVERITY",
            "CHECK",
            "RESOURCE",
            "CONTAINER",
            "PATH",
            "MESSAGE",
            "",
        ];
        let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
        for r in &rows {
            for (w, c) in widths.iter_mut().zip(r.iter()) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cells: Vec<&str>| -> String {
            let mut s = String::from("  ");
            let last = cells.len().saturating_sub(1);
            for (i, (c, w)) in cells.iter().zip(widths.iter()).enumerate() {
                if i == last {
                    s.push_str(c);
                } else {
                    let _ = write!(s, "{c:<w$}  ");
                }
            }
            s.trim_end().to_owned() + "\n"
        };
        out.push_str(&line(header.to_vec()));
        for r in &rows {
            out.push_str(&line(r.iter().map(String::as_str).collect()));
        }
    }
    let _ = writeln!(out, "\n{}", summary_line(d));
    out
}

fn md_cell(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('\n', " ")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The Markdown rendering (GitHub-flavoured, for PR comments).
pub fn to_markdown(d: &Diff) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## Inspection diff\n");
    let _ = writeln!(
        out,
        "`{}` (score {}) → `{}` (score {})\n",
        md_cell(&d.old_run.label),
        d.old_run.score,
        md_cell(&d.new_run.label),
        d.new_run.score
    );
    let s = &d.summary;
    let _ = writeln!(out, "| new | fixed | unchanged | suppressed |");
    let _ = writeln!(out, "|---:|---:|---:|---:|");
    let _ = writeln!(
        out,
        "| {} | {} | {} | {} |",
        s.new, s.fixed, s.unchanged, s.suppressed
    );
    for (title, list) in sections(d) {
        let _ = writeln!(
            out,
            "\n### {} ({})\n",
            title.to_ascii_lowercase(),
            list.len()
        );
        if list.is_empty() {
            let _ = writeln!(out, "None.");
            continue;
        }
        let _ = writeln!(
            out,
            "| severity | check | resource | container | path | message | notes |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|");
        for x in list {
            let f = &x.finding;
            let _ = writeln!(
                out,
                "| {} | `{}` | {} | {} | `{}` | {} | {} |",
                f.severity,
                md_cell(&f.check_id),
                md_cell(&resource_name(f)),
                md_cell(f.container.as_deref().unwrap_or("")),
                md_cell(&f.path),
                md_cell(&f.message),
                md_cell(&flags(x))
            );
        }
    }
    out
}

/// The HTML rendering: [`crate::report::diff_to_html`], the report page's style and escaping with New / Fixed /
/// Unchanged tabs and the suppressed findings apart.
pub fn to_html(d: &Diff) -> String {
    crate::report::diff_to_html(d)
}
