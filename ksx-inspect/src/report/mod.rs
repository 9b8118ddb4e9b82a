//! Renderings of a [`Report`]: JSON (the stable contract of spec §6.2), a table for people, Markdown for
//! pull-request comments, SARIF 2.1.0 for code-scanning tools, JUnit XML for CI test views and a standalone
//! HTML page. Renderers only format; they never re-evaluate or reorder beyond the report's order.

mod html;
mod junit;
mod sarif;

use std::fmt::Write as _;
use std::io;

pub use html::{diff_to_html, html_escape, to_html};
pub use junit::{to_junit, xml_escape};
pub use sarif::{SARIF_SCHEMA, to_sarif};

use crate::model::{Report, Severity};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Grouped table (default).
    Table,
    /// The §6.2 JSON document.
    Json,
    /// GitHub-flavoured Markdown.
    Markdown,
    /// SARIF 2.1.0.
    Sarif,
    /// JUnit XML: a testsuite per resource, a testcase per test.
    Junit,
    /// One self-contained HTML page.
    Html,
}

/// Options of the table renderer.
#[derive(Debug, Clone, Copy, Default)]
pub struct TableOptions {
    /// Show suppressed findings too.
    pub show_exempted: bool,
    /// Wall time to print in the last line, in milliseconds.
    pub duration_ms: u64,
}

/// Writes `report` in `format`.
///
/// # Errors
/// The writer's I/O error.
pub fn render(
    format: Format,
    report: &Report,
    table: TableOptions,
    out: &mut dyn io::Write,
) -> io::Result<()> {
    let text = match format {
        Format::Json => {
            // Streamed: the report of 10,000 objects is tens of megabytes, which need not sit in memory twice.
            let mut w = io::BufWriter::with_capacity(1 << 16, out);
            serde_json::to_writer_pretty(&mut w, report).map_err(io::Error::from)?;
            io::Write::write_all(&mut w, b"\n")?;
            return io::Write::flush(&mut w);
        }
        Format::Table => to_table(report, table),
        Format::Markdown => to_markdown(report),
        Format::Sarif => {
            serde_json::to_string_pretty(&to_sarif(report)).map_err(io::Error::other)? + "\n"
        }
        Format::Junit => to_junit(report),
        Format::Html => to_html(report),
    };
    out.write_all(text.as_bytes())
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// The table rendering (spec §6.1), without colour.
pub fn to_table(report: &Report, options: TableOptions) -> String {
    let mut out = String::new();
    let mut current = None;
    for f in &report.findings {
        if f.suppressed.is_some() && !options.show_exempted {
            continue;
        }
        let r = &f.resource;
        let key = (r.namespace.clone(), r.kind.clone(), r.name.clone());
        if current.as_ref() != Some(&key) {
            let ns = r
                .namespace
                .as_deref()
                .map(|n| format!("{n}/"))
                .unwrap_or_default();
            let _ = writeln!(out, "\n{}{}/{}", ns, r.kind, r.name);
            let _ = writeln!(
                out,
                "  {:<8} {:<28} {:<16} {:<30} MESSAGE",
                "SEVERITY", "CHECK", "CONTAINER", "PATH/LINE"
            );
            current = Some(key);
        }
        let place = match &f.location {
            Some(l) => format!("{}:{}", l.file, l.line),
            None => f.path.clone(),
        };
        let sev = if f.suppressed.is_some() {
            "exempt".to_owned()
        } else {
            f.severity.to_string()
        };
        let _ = writeln!(
            out,
            "  {:<8} {:<28} {:<16} {:<30} {}",
            sev,
            f.check_id,
            f.container.as_deref().unwrap_or("-"),
            place,
            f.message
        );
    }
    for e in &report.errors {
        let _ = writeln!(out, "error: {e}");
    }
    let s = &report.summary;
    let secs = options.duration_ms / 1000;
    let centis = (options.duration_ms % 1000) / 10;
    let _ = writeln!(
        out,
        "\nscore {} · {} danger · {} warning · {} info · {} exempted · {} objects · {secs}.{centis:02} s",
        s.score,
        thousands(s.findings.danger),
        thousands(s.findings.warning),
        thousands(s.findings.info),
        thousands(s.exempted),
        thousands(s.objects),
    );
    out
}

const MARKDOWN_LIMIT: usize = 60_000;

fn md_escape(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// The Markdown rendering (spec §6.5).
pub fn to_markdown(report: &Report) -> String {
    let s = &report.summary;
    let mut out = String::new();
    let _ = writeln!(out, "## ksx inspect: score {}\n", s.score);
    let _ = writeln!(
        out,
        "**{}** danger · **{}** warning · **{}** info · {} exempted · {} objects · {} tests ({} passed, {} failed)\n",
        s.findings.danger,
        s.findings.warning,
        s.findings.info,
        s.exempted,
        s.objects,
        s.tests.total,
        s.tests.passed,
        s.tests.failed
    );
    for (title, map) in [("Category", &s.by_category), ("Namespace", &s.by_namespace)] {
        let _ = writeln!(
            out,
            "| {title} | Score | Danger | Warning | Info | Tests |\n|---|---:|---:|---:|---:|---:|"
        );
        for (k, b) in map {
            let name = if k.is_empty() {
                "(cluster)"
            } else {
                k.as_str()
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                md_escape(name),
                b.score,
                b.danger,
                b.warning,
                b.info,
                b.tests
            );
        }
        out.push('\n');
    }
    for sev in [Severity::Danger, Severity::Warning, Severity::Info] {
        let group: Vec<_> = report
            .findings
            .iter()
            .filter(|f| f.suppressed.is_none() && f.severity == sev)
            .collect();
        if group.is_empty() {
            continue;
        }
        let _ = writeln!(out, "### {} ({})\n", sev, group.len());
        let details = group.len() > 50;
        if details {
            let _ = writeln!(
                out,
                "<details><summary>{} findings</summary>\n",
                group.len()
            );
        }
        let _ = writeln!(
            out,
            "| Resource | Check | Container | Path | Location | Message | Remediation |\n|---|---|---|---|---|---|---|"
        );
        for f in group {
            let r = &f.resource;
            let res = match &r.namespace {
                Some(ns) => format!("{ns}/{}/{}", r.kind, r.name),
                None => format!("{}/{}", r.kind, r.name),
            };
            let loc = f
                .location
                .as_ref()
                .map(|l| format!("{}:{}", l.file, l.line))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "| {} | `{}` | {} | `{}` | {} | {} | {} |",
                md_escape(&res),
                f.check_id,
                md_escape(f.container.as_deref().unwrap_or("")),
                md_escape(&f.path),
                md_escape(&loc),
                md_escape(&f.message),
                md_escape(&f.remediation)
            );
        }
        if details {
            out.push_str("\n</details>\n");
        }
        out.push('\n');
    }
    if !report.errors.is_empty() {
        out.push_str("### Errors\n\n");
        for e in &report.errors {
            let _ = writeln!(out, "- {}", md_escape(&e.to_string()));
        }
    }
    if out.len() > MARKDOWN_LIMIT {
        let mut cut = MARKDOWN_LIMIT;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push_str("\n\n_Truncated: the report is longer than 60,000 characters; use --format json for all findings._\n");
    }
    out
}
