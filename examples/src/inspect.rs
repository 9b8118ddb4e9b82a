//! `ksx inspect`: check manifests against the built-in catalogue of `ksx-inspect` and print a report (spec
//! `inspect.md` §7). Exit codes: 0 clean, 3 findings at or above `--fail-on`, 2 usage or input error, 1 runtime
//! failure (output not writable).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use ksx_core::{Clock, SystemClock};
use ksx_inspect::config::Config;
use ksx_inspect::engine::{Engine, RunOptions};
use ksx_inspect::report::{self, Format, TableOptions};
use ksx_inspect::{Bundle, Severity};

use crate::Outcome;

/// Report formats of `ksx inspect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub(crate) enum InspectFormat {
    /// Findings grouped by resource, with a summary line.
    #[default]
    Table,
    /// The stable JSON report (`inspect.ksx.io/v1` `InspectReport`).
    Json,
    /// GitHub-flavoured Markdown for pull-request comments.
    Markdown,
    /// SARIF 2.1.0 for code-scanning tools.
    Sarif,
    /// JUnit XML for CI test views: a testsuite per resource, a testcase per check.
    Junit,
    /// One self-contained HTML page.
    Html,
}

/// The `--fail-on` threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub(crate) enum FailOn {
    /// Fail on warning or danger findings.
    Warning,
    /// Fail on danger findings only.
    #[default]
    Danger,
}

/// Flags of `ksx inspect`; a subcommand (`diff`, `plan`, …) replaces them.
#[derive(Debug, Clone, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub(crate) struct InspectArgs {
    /// What to do instead of inspecting manifests.
    #[command(subcommand)]
    pub(crate) command: Option<InspectCommand>,
    /// Manifests: files, directories (recursive) or `-` for standard input.
    #[arg(short = 'f', long = "filename", required_unless_present = "cluster")]
    pub(crate) files: Vec<PathBuf>,
    /// Directories (or files) of custom YAML rules (`kind: InspectRule`).
    #[arg(long)]
    pub(crate) rules: Vec<PathBuf>,
    /// Report format.
    #[arg(long, value_enum, default_value_t = InspectFormat::Table)]
    pub(crate) format: InspectFormat,
    /// Exit 3 when an unsuppressed finding is at or above this severity.
    #[arg(long, value_enum, default_value_t = FailOn::Danger)]
    pub(crate) fail_on: FailOn,
    /// Target Kubernetes version (`1.33`, `v1.33`, `1.33.4`); default 1.33.
    #[arg(long)]
    pub(crate) kube_version: Option<String>,
    /// Run exactly these checks (IDs or globs such as `sec-*`), default-off ones included.
    #[arg(long, value_delimiter = ',')]
    pub(crate) checks: Option<Vec<String>>,
    /// Do not run these checks (IDs or globs).
    #[arg(long, value_delimiter = ',')]
    pub(crate) exclude_checks: Vec<String>,
    /// Preset to run (repeatable; several combine as a union): builtin:default, builtin:pss-baseline,
    /// builtin:pss-restricted, builtin:live-health, builtin:system-exemptions. `--checks` wins when both are given.
    #[arg(long = "preset", value_name = "NAME")]
    pub(crate) presets: Vec<String>,
    /// Write the report to this file instead of standard output.
    #[arg(short = 'o', long = "output")]
    pub(crate) output: Option<PathBuf>,
    /// Configuration file (default `.ksx-inspect.yaml` in the working directory when present).
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
    /// Namespace of objects that set none (default from the configuration, else `default`).
    #[arg(long)]
    pub(crate) namespace: Option<String>,
    /// Ignore `ksx.io/exempt` annotations; configured exemptions still apply.
    #[arg(long)]
    pub(crate) no_annotation_exemptions: bool,
    /// Show suppressed findings in the table.
    #[arg(long)]
    pub(crate) show_exempted: bool,
    /// Inspect a live cluster (kubeconfig; feature `kube`) through the cluster seam, with the live checks.
    #[arg(long)]
    pub(crate) cluster: bool,
    /// The kubeconfig context for `--cluster` (default: the current context).
    #[arg(long, requires = "cluster")]
    pub(crate) context: Option<String>,
    /// Namespaces to inspect with `--cluster` (comma list of names or globs; default all).
    #[arg(long, value_delimiter = ',', requires = "cluster")]
    pub(crate) namespaces: Vec<String>,
    /// Namespaces to skip with `--cluster` (comma list of names or globs).
    #[arg(long, value_delimiter = ',', requires = "cluster")]
    pub(crate) exclude_namespaces: Vec<String>,
    /// Default Prometheus server for `type: prometheus` rules without `endpoint` (feature `prometheus`).
    #[arg(long)]
    pub(crate) prometheus: Option<String>,
    /// JSON written by `ksx-node-inspect` (repeatable): merged as findings of the `type: node` rules.
    #[arg(long)]
    pub(crate) node_results: Vec<PathBuf>,
}

/// The subcommands of `ksx inspect` (spec `inspect.md` §7).
#[derive(Debug, Clone, Subcommand)]
pub(crate) enum InspectCommand {
    /// Compare two results: new, fixed and unchanged findings.
    Diff(crate::inspect_diff::DiffArgs),
    /// Inspection plans: run one now, list them, show a plan's history.
    #[command(subcommand)]
    Plan(crate::inspect_plan::PlanCommand),
    /// List the built-in checks.
    Checks(crate::inspect_checks::ChecksArgs),
    /// Custom rules: validate rule files without running them.
    #[command(subcommand)]
    Rules(crate::inspect_rules::RulesCommand),
    /// Node baselines of the node collector (file hashes).
    #[command(subcommand)]
    Baseline(crate::inspect_rules::BaselineCommand),
}

pub(crate) fn load_config(path: Option<&Path>) -> anyhow::Result<Config> {
    let default = Path::new(".ksx-inspect.yaml");
    let path = match path {
        Some(p) => p,
        None if default.is_file() => default,
        None => return Ok(Config::default()),
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config {}", path.display()))?;
    Ok(Config::from_yaml(&path.display().to_string(), &text)?)
}

#[allow(
    clippy::print_stderr,
    reason = "diagnostics of the run go to standard error"
)]
pub(crate) fn warn(line: &str) {
    eprintln!("{line}");
}

/// Runs `ksx inspect`.
pub(crate) fn run(args: &InspectArgs) -> anyhow::Result<Outcome> {
    match &args.command {
        Some(InspectCommand::Diff(a)) => return crate::inspect_diff::run(a),
        Some(InspectCommand::Plan(c)) => return crate::inspect_plan::run(c),
        Some(InspectCommand::Checks(a)) => return crate::inspect_checks::run(a),
        Some(InspectCommand::Rules(c)) => return crate::inspect_rules::run_rules(c),
        Some(InspectCommand::Baseline(c)) => return crate::inspect_rules::run_baseline(c),
        None => {}
    }
    for p in &args.files {
        if p != Path::new("-") && !p.exists() {
            anyhow::bail!("{}: no such file or directory", p.display());
        }
    }
    let mut config = load_config(args.config.as_deref())?;
    if let Some(ns) = &args.namespace {
        config.default_namespace = Some(ns.clone());
    }
    ksx_inspect::preset::apply_presets(&args.presets, &mut config).context("--preset")?;
    let fail_on = match args.fail_on {
        FailOn::Warning => Severity::Warning,
        FailOn::Danger => Severity::Danger,
    };
    let options = RunOptions {
        kube_version: args.kube_version.clone(),
        checks: args.checks.clone(),
        exclude_checks: args.exclude_checks.clone(),
        no_annotation_exemptions: args.no_annotation_exemptions,
        fail_on: Some(fail_on),
    };
    let mut rules = match ksx_inspect::rules::read_rule_files(&args.rules)
        .and_then(|files| ksx_inspect::rules::load_rules(&files))
    {
        Ok(rules) => rules,
        Err(errors) => {
            // Broken rules never give a partial run: every problem is listed, then exit 2.
            for e in &errors {
                warn(&e.to_string());
            }
            warn(&format!(
                "{} rule error(s); no inspection was run",
                errors.len()
            ));
            return Ok(Outcome::Failed(2));
        }
    };
    let clock = SystemClock;
    let started = clock.now();
    // Prometheus and node-collector results are gathered first and carried by their rules.
    let mut collector = Vec::new();
    let mut external = match crate::inspect_rules::gather(args, &mut rules, started, &mut collector)
    {
        Ok(errors) => errors,
        Err(e) => {
            warn(&format!("error: {e:#}"));
            return Ok(Outcome::Failed(
                e.downcast_ref::<crate::inspect_rules::InputError>()
                    .map_or(1, |_| 2),
            ));
        }
    };
    let engine = Engine::with_rules(&config, &options, rules)?;
    let mut bundle = Bundle::load_paths(&args.files, engine.default_namespace());
    bundle.inputs = args.files.iter().map(|p| p.display().to_string()).collect();
    if args.cluster {
        match crate::inspect_rules::cluster_bundle(args) {
            Ok(live) => {
                bundle.errors.extend(live.errors.iter().cloned());
                bundle.inputs.extend(live.inputs.iter().cloned());
                for o in live.objects() {
                    bundle.push(o.clone());
                }
            }
            Err(e) => {
                warn(&format!("error: {e:#}"));
                return Ok(Outcome::Failed(1));
            }
        }
    }
    bundle.errors.append(&mut external);
    let bundle = crate::inspect_rules::attach_collector(bundle, &collector);
    let mut report = engine.inspect(&bundle, &clock);
    let finished = clock.now();
    report.run.started_at = started.to_string();
    report.run.finished_at = finished.to_string();
    let elapsed = finished.duration_since(started).as_millis();
    report.run.duration_ms = u64::try_from(elapsed).unwrap_or(u64::MAX);
    for e in &report.errors {
        warn(&format!("{e}"));
    }
    if bundle.objects().is_empty() {
        anyhow::bail!(
            "nothing could be checked: no object in {} ({} error(s))",
            bundle.inputs.join(", "),
            report.errors.len()
        );
    }
    let format = match args.format {
        InspectFormat::Table => Format::Table,
        InspectFormat::Json => Format::Json,
        InspectFormat::Markdown => Format::Markdown,
        InspectFormat::Sarif => Format::Sarif,
        InspectFormat::Junit => Format::Junit,
        InspectFormat::Html => Format::Html,
    };
    let table = TableOptions {
        show_exempted: args.show_exempted,
        duration_ms: report.run.duration_ms,
    };
    let written = match &args.output {
        Some(path) => std::fs::File::create(path)
            .and_then(|mut f| report::render(format, &report, table, &mut f))
            .map_err(|e| format!("cannot write {}: {e}", path.display())),
        None => report::render(format, &report, table, &mut std::io::stdout().lock())
            .map_err(|e| format!("cannot write the report: {e}")),
    };
    if let Err(message) = written {
        warn(&format!("error: {message}"));
        return Ok(Outcome::Failed(1));
    }
    let outcome = if report.fails_at(fail_on) {
        Outcome::Failed(3)
    } else {
        Outcome::Success
    };
    // The process ends right after: freeing the bundle and the report one allocation at a time would cost more
    // than writing them out (a tenth of the run at 10,000 objects).
    std::mem::forget(report);
    std::mem::forget(bundle);
    Ok(outcome)
}
