//! `ksx inspect checks [--format table|json]`: the built-in catalogue (spec `inspect.md` §4, §7): ID, category,
//! severity, whether it runs by default, scope and title, sorted by ID. JSON is an array of the report's check
//! entries (§6.2 `checks[]`), so scripts read one shape in both places.

use clap::{Args, ValueEnum};
use ksx_inspect::checks::CATALOGUE;
use ksx_inspect::config::Config;
use ksx_inspect::engine::{Engine, RunOptions};
use ksx_inspect::model::{CheckInfo, Scope};

use crate::Outcome;

/// Output formats of `ksx inspect checks`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub(crate) enum ChecksFormat {
    /// Aligned columns for people.
    #[default]
    Table,
    /// A JSON array of check entries.
    Json,
}

/// Flags of `ksx inspect checks`.
#[derive(Debug, Clone, Args)]
pub(crate) struct ChecksArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = ChecksFormat::Table)]
    pub(crate) format: ChecksFormat,
}

/// The built-in checks with their default state (the engine's, under the default configuration).
fn catalogue() -> anyhow::Result<Vec<CheckInfo>> {
    let engine = Engine::new(&Config::default(), &RunOptions::default())?;
    let enabled: std::collections::BTreeSet<&str> = engine.enabled_checks().collect();
    let mut checks: Vec<CheckInfo> = CATALOGUE
        .iter()
        .map(|c| CheckInfo {
            id: c.id.to_owned(),
            title: c.title.to_owned(),
            category: c.category,
            severity: c.severity,
            enabled: enabled.contains(c.id),
            scope: c.scope,
            source: "builtin".to_owned(),
            file: None,
        })
        .collect();
    checks.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(checks)
}

/// The table rendering: a header and one row per check, columns padded to their widest cell.
fn table(checks: &[CheckInfo]) -> String {
    let rows: Vec<[String; 6]> = checks
        .iter()
        .map(|c| {
            [
                c.id.clone(),
                c.category.to_string(),
                c.severity.to_string(),
                if c.enabled { "on" } else { "off" }.to_owned(),
                match c.scope {
                    Scope::Static => "static",
                    Scope::Live => "live",
                }
                .to_owned(),
                c.title.clone(),
            ]
        })
        .collect();
    let header = ["ID", "CATEGORY", "SEVERITY", "DEFAULT", "SCOPE", "TITLE"].map(str::to_owned);
    let mut widths = header.clone().map(|h| h.chars().count());
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for r in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, (cell, w)) in r.iter().zip(widths).enumerate() {
            if i + 1 == r.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}  "));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Runs `ksx inspect checks`.
pub(crate) fn run(args: &ChecksArgs) -> anyhow::Result<Outcome> {
    let checks = catalogue()?;
    match args.format {
        ChecksFormat::Table => out!("{}", table(&checks)),
        ChecksFormat::Json => outln!("{}", serde_json::to_string_pretty(&checks)?),
    }
    Ok(Outcome::Success)
}
