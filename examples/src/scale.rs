//! `ksx scale`: event-driven scaling and the autoscaling conflict check. `ksx scale check` runs the unified
//! policy of `ksx_scaling::policy` (spec `scaling.md` §6) over manifests. Exit codes, as `ksx inspect`: 0
//! without a deny (warnings printed), 3 with one, 2 on bad input (a malformed HPA, VPA or ScaledObject, an
//! unreadable or invalid document; the report of the good part is still printed).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use ksx_scaling::policy::{
    Conflict, InputError, Severity, WorkloadRef, WorkloadView, check_all, load_documents,
    workload_views,
};
use serde::Serialize;

use crate::Outcome;
use crate::cli::{OutputArgs, OutputFormat};
use crate::output::print_structured;

/// Flags of `ksx scale`.
#[derive(Debug, Clone, Args)]
pub(crate) struct ScaleArgs {
    #[command(subcommand)]
    pub(crate) command: ScaleCommand,
}

/// Subcommands of `ksx scale`.
#[derive(Debug, Clone, Subcommand)]
pub(crate) enum ScaleCommand {
    /// Check HPAs, VPAs and ScaledObjects of manifests for conflicts on one workload and show who owns replicas
    /// and requests. Exit 0 without a deny, 3 with one, 2 on bad input.
    Check(ScaleCheckArgs),
}

/// Flags of `ksx scale check`.
#[derive(Debug, Clone, Args)]
pub(crate) struct ScaleCheckArgs {
    /// Manifests: files, directories (recursive) or `-` for standard input.
    #[arg(short = 'f', long = "filename", required = true)]
    pub(crate) files: Vec<PathBuf>,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
}

/// Runs one `ksx scale` subcommand.
pub(crate) fn run(args: &ScaleArgs) -> anyhow::Result<Outcome> {
    match &args.command {
        ScaleCommand::Check(a) => check(a),
    }
}

/// Counts of conflicts per severity.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct Summary {
    deny: usize,
    warn: usize,
}

/// The JSON/YAML report of `ksx scale check`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    workloads: Vec<WorkloadView>,
    conflicts: Vec<Conflict>,
    summary: Summary,
}

#[allow(
    clippy::print_stderr,
    reason = "input errors go to standard error, the report to standard output"
)]
fn warn(line: &str) {
    eprintln!("{line}");
}

fn check(args: &ScaleCheckArgs) -> anyhow::Result<Outcome> {
    for p in &args.files {
        if p != Path::new("-") && !p.exists() {
            anyhow::bail!("{}: no such file or directory", p.display());
        }
    }
    let loaded = ksx_core::manifest::load_paths(&args.files);
    let (objects, errors) = load_documents(&loaded.documents);
    let mut problems: Vec<String> = loaded.diagnostics.iter().map(ToString::to_string).collect();
    problems.extend(errors.iter().map(InputError::to_string));

    let conflicts = check_all(&objects);
    let workloads = workload_views(&objects);
    let summary = Summary {
        deny: conflicts
            .iter()
            .filter(|c| c.severity == Severity::Deny)
            .count(),
        warn: conflicts
            .iter()
            .filter(|c| c.severity == Severity::Warn)
            .count(),
    };
    let report = Report {
        workloads,
        conflicts,
        summary,
    };
    match args.output.output {
        OutputFormat::Table => out!("{}", render_table(&report)),
        format => print_structured(format, &report)?,
    }
    for p in &problems {
        warn(&format!("error: {p}"));
    }
    if !problems.is_empty() {
        warn(&format!(
            "{} input error(s): fix them and run the check again",
            problems.len()
        ));
        return Ok(Outcome::Failed(2));
    }
    if report.summary.deny > 0 {
        Ok(Outcome::Failed(3))
    } else {
        Ok(Outcome::Success)
    }
}

fn severity_label(s: Severity) -> &'static str {
    match s {
        Severity::Deny => "DENY",
        Severity::Warn => "WARN",
    }
}

/// The table: one block per workload with the unified view and its conflicts, then a summary line.
fn render_table(report: &Report) -> String {
    let mut out = String::new();
    let conflicts_of = |w: &WorkloadRef| -> Vec<&Conflict> {
        report
            .conflicts
            .iter()
            .filter(|c| &c.workload == w)
            .collect()
    };
    for view in &report.workloads {
        let _ = writeln!(out, "{}", view.workload);
        let template = if view.pod_template_known {
            ""
        } else {
            " (pod template not among the inputs)"
        };
        let _ = writeln!(out, "  replicas: {}{template}", view.replicas_owner);
        for c in &view.containers {
            let name = if c.name == "*" {
                "every container"
            } else {
                c.name.as_str()
            };
            let parts: Vec<String> = c
                .requests_owner
                .iter()
                .map(|(resource, owner)| {
                    // Values exist only when the pod template is among the inputs.
                    match (view.pod_template_known, c.requests.get(resource)) {
                        (true, Some(value)) => format!("{resource} {value} ({owner})"),
                        (true, None) => format!("{resource} unset ({owner})"),
                        (false, _) => format!("{resource} ({owner})"),
                    }
                })
                .collect();
            let _ = writeln!(out, "  requests of {name}: {}", parts.join(", "));
        }
        for a in &view.autoscalers {
            let _ = writeln!(out, "  {}: {}", a.object, a.summary);
        }
        for c in conflicts_of(&view.workload) {
            write_conflict(&mut out, c);
        }
        out.push('\n');
    }
    // A conflict keyed to a workload without a view (cannot happen today) is still shown.
    for c in &report.conflicts {
        if !report.workloads.iter().any(|w| w.workload == c.workload) {
            write_conflict(&mut out, c);
        }
    }
    let _ = writeln!(
        out,
        "{} workload(s), {} deny, {} warn",
        report.workloads.len(),
        report.summary.deny,
        report.summary.warn
    );
    out
}

fn write_conflict(out: &mut String, c: &Conflict) {
    let _ = writeln!(
        out,
        "  {} {}: {}",
        severity_label(c.severity),
        c.rule,
        c.reason
    );
    let _ = writeln!(out, "       instead: {}", c.alternative);
}
