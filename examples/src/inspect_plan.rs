//! `ksx inspect plan run|list|history`: inspection plans and their stored results (spec `inspect.md` §3).
//!
//! Plans are `kind: InspectPlan` YAML files in `--plans DIR` (default `plans`); results go to a file store
//! (`--store DIR`, default `.ksx-inspect/results`) or PostgreSQL (`--postgres URL`, feature `postgres`).
//! `plan run` inspects the plan's targets now, through the code paths of `ksx inspect`: `manifests` (paths relative
//! to the plan file) as `-f`, `cluster` as `--cluster` (the kubeconfig's current context or `--context`, the plan's
//! namespace globs; feature `kube`), `prometheus` as `--prometheus` (the default server of the plan's
//! `type: prometheus` rules; feature `prometheus`). `nodes` cannot be inspected by a plan run: the plan cannot name
//! node results, so the target is recorded as an input error pointing at `ksx-node-inspect` and
//! `ksx inspect --node-results`. A target that fails (unreachable cluster or Prometheus, missing manifests) is
//! recorded in the result's errors and the run is `partial`; the other targets' findings are kept. The result is
//! stored, `historyLimit`/`failedHistoryLimit` applied and a summary printed with the next fire time. Exit codes:
//! 0, 3 when a finding is at or above the plan's `failOn`, 2 for bad input or a run that checked nothing (its
//! result is stored first), 1 for a store that fails.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use jiff::Timestamp;
use ksx_core::{Clock, ManualClock, SystemClock};
use ksx_inspect::Bundle;
use ksx_inspect::config::Config;
use ksx_inspect::engine::{Engine, RunOptions};
use ksx_inspect::live::NamespaceFilter;
use ksx_inspect::model::{ErrorKind, RunError};
use ksx_inspect::plan::{
    FileResultStore, InspectPlan, InspectResult, ResultStatus, ResultStore, load_plans,
    next_run_time,
};
use ksx_inspect::preset;
use ksx_inspect::rules::{Rule, RuleKind};

use crate::Outcome;
use crate::inspect::warn;

/// Where results are stored.
#[derive(Debug, Clone, Args)]
pub(crate) struct StoreArgs {
    /// Directory of the file result store (`<dir>/<plan>/<id>.json` plus an index).
    #[arg(long, default_value = ".ksx-inspect/results")]
    pub(crate) store: PathBuf,
    /// PostgreSQL connection string or URL instead of the file store (feature `postgres`).
    #[arg(long)]
    pub(crate) postgres: Option<String>,
}

/// Output of `plan history`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub(crate) enum HistoryFormat {
    /// One line per result.
    #[default]
    Table,
    /// The index entries as a JSON array.
    Json,
}

/// The subcommands of `ksx inspect plan`.
#[derive(Debug, Clone, Subcommand)]
pub(crate) enum PlanCommand {
    /// Run a plan now (also when suspended), store the result and apply the history limits.
    Run {
        /// The plan's name.
        name: String,
        /// Directory of plan files.
        #[arg(long, default_value = "plans")]
        plans: PathBuf,
        #[command(flatten)]
        store: StoreArgs,
        /// The kubeconfig context for the plan's `targets.cluster` (default: the current context).
        #[arg(long)]
        context: Option<String>,
        /// Run as if it were this instant (RFC 3339); for tests and replays.
        #[arg(long, hide = true)]
        now: Option<String>,
    },
    /// List the plans: name, schedule, next run, last status.
    List {
        /// Directory of plan files.
        #[arg(long, default_value = "plans")]
        plans: PathBuf,
        #[command(flatten)]
        store: StoreArgs,
        /// Compute next runs from this instant (RFC 3339) instead of now.
        #[arg(long, hide = true)]
        now: Option<String>,
    },
    /// The stored results of a plan, oldest first.
    History {
        /// The plan's name.
        name: String,
        #[command(flatten)]
        store: StoreArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = HistoryFormat::Table)]
        format: HistoryFormat,
    },
}

/// Runs `ksx inspect plan …`.
pub(crate) fn run(command: &PlanCommand) -> anyhow::Result<Outcome> {
    let handle = tokio::runtime::Handle::current();
    tokio::task::block_in_place(|| handle.block_on(run_async(command)))
}

async fn run_async(command: &PlanCommand) -> anyhow::Result<Outcome> {
    match command {
        PlanCommand::Run {
            name,
            plans,
            store,
            context,
            now,
        } => {
            let clock = clock(now.as_deref())?;
            run_plan(name, plans, store, context.as_deref(), clock.as_ref()).await
        }
        PlanCommand::List { plans, store, now } => {
            let clock = clock(now.as_deref())?;
            list(plans, store, clock.now()).await
        }
        PlanCommand::History {
            name,
            store,
            format,
        } => history(name, store, *format).await,
    }
}

fn clock(now: Option<&str>) -> anyhow::Result<Box<dyn Clock>> {
    Ok(match now {
        Some(text) => {
            let at: Timestamp = text
                .parse()
                .with_context(|| format!("--now {text:?} is not an RFC 3339 instant"))?;
            Box::new(ManualClock::new(at))
        }
        None => Box::new(SystemClock),
    })
}

/// Opens the store the flags name.
pub(crate) async fn open_store(args: &StoreArgs) -> anyhow::Result<Box<dyn ResultStore>> {
    if let Some(url) = &args.postgres {
        return open_postgres(url).await;
    }
    Ok(Box::new(FileResultStore::create(&args.store)?))
}

#[cfg(feature = "postgres")]
async fn open_postgres(url: &str) -> anyhow::Result<Box<dyn ResultStore>> {
    use ksx_inspect::plan::store::{DEFAULT_POSTGRES_TABLE, PostgresResultStore};
    Ok(Box::new(
        PostgresResultStore::connect(url, DEFAULT_POSTGRES_TABLE).await?,
    ))
}

#[cfg(not(feature = "postgres"))]
#[allow(clippy::unused_async, reason = "same signature as the postgres build")]
async fn open_postgres(_url: &str) -> anyhow::Result<Box<dyn ResultStore>> {
    anyhow::bail!("--postgres needs a ksx built with feature `postgres`")
}

fn store_name(args: &StoreArgs) -> String {
    if args.postgres.is_some() {
        "PostgreSQL".to_owned()
    } else {
        args.store.display().to_string()
    }
}

/// Loads the plans of `dir`, warning about bad files, and finds `name`.
fn find_plan(dir: &Path, name: &str) -> anyhow::Result<(PathBuf, InspectPlan)> {
    let loaded =
        load_plans(dir).with_context(|| format!("cannot read plans in {}", dir.display()))?;
    for e in &loaded.errors {
        warn(&format!("warning: {e}"));
    }
    match loaded.find(name) {
        Some((file, plan)) => Ok((file.clone(), plan.clone())),
        None => {
            let names: Vec<&str> = loaded.plans.iter().map(|(_, p)| p.name()).collect();
            anyhow::bail!(
                "no valid plan named {name:?} in {} (plans: {})",
                dir.display(),
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                }
            )
        }
    }
}

fn input_error(message: String, file: Option<String>) -> RunError {
    run_error(ErrorKind::Input, message, file)
}

fn run_error(kind: ErrorKind, message: String, file: Option<String>) -> RunError {
    RunError {
        kind,
        message,
        file,
        document: None,
        line: None,
        column: None,
    }
}

/// What the engine of a plan is built from: its presets and check selection, kube version, fail-on and the rules
/// of its rule directories (relative to `base`).
struct PlanRules {
    config: Config,
    options: RunOptions,
    rules: Vec<Rule>,
}

/// The configuration and rules of a plan's engine; `Err(outcome)` after naming every rule error.
fn plan_rules(plan: &InspectPlan, base: &Path) -> anyhow::Result<Result<PlanRules, Outcome>> {
    let mut config = Config::default();
    config.checks.include.clone_from(&plan.spec.checks.include);
    config.checks.exclude.clone_from(&plan.spec.checks.exclude);
    let options = RunOptions {
        kube_version: plan.spec.kube_version.clone(),
        fail_on: Some(plan.spec.fail_on),
        ..RunOptions::default()
    };
    // `builtin:` rule sets are presets (spec §4.9), combined as a union; the others are rule directories.
    let (presets, dirs): (Vec<&String>, Vec<&String>) = plan
        .spec
        .rule_sets
        .iter()
        .partition(|s| preset::is_preset(s));
    preset::apply_presets(&presets, &mut config)
        .with_context(|| format!("plan {}: spec.ruleSets", plan.name()))?;
    let rule_dirs: Vec<PathBuf> = dirs.into_iter().map(|d| base.join(d)).collect();
    let rules = match ksx_inspect::rules::read_rule_files(&rule_dirs)
        .and_then(|files| ksx_inspect::rules::load_rules(&files))
    {
        Ok(rules) => rules,
        Err(errors) => {
            for e in &errors {
                warn(&e.to_string());
            }
            warn(&format!(
                "{} rule error(s); the plan was not run",
                errors.len()
            ));
            return Ok(Err(Outcome::Failed(2)));
        }
    };
    Ok(Ok(PlanRules {
        config,
        options,
        rules,
    }))
}

/// Runs a blocking helper of `ksx inspect` (they drive their own futures) off the async task.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .context("an inspection task failed")
}

fn describe_next(plan: &InspectPlan, now: Timestamp) -> anyhow::Result<String> {
    let schedule = plan.schedule()?;
    if plan.spec.suspend {
        return Ok("suspended (no next run)".to_owned());
    }
    Ok(match next_run_time(&plan.spec, &schedule, now) {
        Some(next) => {
            let local = next.to_zoned(
                jiff::tz::TimeZone::get(schedule.time_zone()).unwrap_or(jiff::tz::TimeZone::UTC),
            );
            format!(
                "{next} ({} {})",
                local.strftime("%Y-%m-%dT%H:%M:%S%:z"),
                schedule.time_zone()
            )
        }
        None => "never".to_owned(),
    })
}

async fn run_plan(
    name: &str,
    plans_dir: &Path,
    store_args: &StoreArgs,
    context: Option<&str>,
    clock: &dyn Clock,
) -> anyhow::Result<Outcome> {
    let (file, plan) = find_plan(plans_dir, name)?;
    let base = file.parent().unwrap_or(Path::new(".")).to_path_buf();
    let plan_file = file.display().to_string();
    let PlanRules {
        config,
        options,
        rules,
    } = match plan_rules(&plan, &base)? {
        Ok(parts) => parts,
        Err(outcome) => return Ok(outcome),
    };
    let timeout = plan.timeout()?;
    let store = open_store(store_args).await?;
    let targets = &plan.spec.targets;

    let started = clock.now();
    let mut extra_errors = Vec::new();
    // targets.prometheus: the default server of the plan's `type: prometheus` rules, as `--prometheus` is.
    let prometheus_url = targets.prometheus.as_ref().map(|p| p.endpoint.clone());
    if prometheus_url.is_some()
        && !rules
            .iter()
            .any(|r| matches!(r.kind, RuleKind::Prometheus(_)))
    {
        warn(&format!(
            "warning: plan {name}: targets.prometheus is set but spec.ruleSets has no `type: prometheus` rule; nothing was queried"
        ));
    }
    let (rules, gathered) = blocking(move || {
        let mut rules = rules;
        let gathered = crate::inspect_rules::gather_from(
            prometheus_url.as_deref(),
            &[],
            &mut rules,
            started,
            &mut Vec::new(),
        );
        (rules, gathered)
    })
    .await?;
    extra_errors.extend(gathered?);
    let engine = Engine::with_rules(&config, &options, rules)?;

    // targets.manifests, as `-f`.
    let mut paths = Vec::new();
    for m in &targets.manifests {
        let path = base.join(m);
        if path.exists() {
            paths.push(path);
        } else {
            extra_errors.push(input_error(
                "no such file or directory".to_owned(),
                Some(path.display().to_string()),
            ));
        }
    }
    let loaded = ksx_core::manifest::load_paths(&paths);
    let mut bundle = Bundle::from_loaded(&loaded, engine.default_namespace());
    bundle.inputs.clone_from(&targets.manifests);
    // targets.cluster, as `--cluster`.
    if let Some(cluster) = &targets.cluster {
        let filter = NamespaceFilter {
            include: cluster.namespaces.include.clone(),
            exclude: cluster.namespaces.exclude.clone(),
        };
        let context = context.map(str::to_owned);
        match blocking(move || crate::inspect_rules::read_cluster(context.as_deref(), &filter))
            .await?
        {
            Ok(live) => {
                bundle.errors.extend(live.errors.iter().cloned());
                bundle.inputs.extend(live.inputs.iter().cloned());
                for o in live.objects() {
                    bundle.push(o.clone());
                }
            }
            Err(e) => extra_errors.push(run_error(
                ErrorKind::Runtime,
                format!("targets.cluster: {e:#}"),
                Some(plan_file.clone()),
            )),
        }
    }
    // targets.nodes: the node collector runs on the nodes; a plan cannot name its results.
    if targets.nodes.is_some() {
        extra_errors.push(input_error(
            "targets.nodes: not supported by `ksx inspect plan run` (a plan cannot name node results): run ksx-node-inspect on the nodes and pass its output to `ksx inspect --node-results FILE`".to_owned(),
            Some(plan_file.clone()),
        ));
    }
    let mut report = engine.inspect(&bundle, clock);
    let finished = clock.now();
    report.errors.extend(extra_errors);
    report.run.started_at = started.to_string();
    report.run.finished_at = finished.to_string();
    let elapsed = finished.duration_since(started);
    let elapsed = Duration::try_from(elapsed).unwrap_or_default();
    report.run.duration_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
    let timed_out = elapsed > timeout;
    // Checked: an object of a manifest or the cluster, or a test of a Prometheus rule.
    let checked = bundle
        .objects()
        .len()
        .saturating_add(usize::try_from(report.summary.tests.total).unwrap_or(usize::MAX));
    let status = ResultStatus::of_run(checked, report.errors.len(), timed_out);
    for e in &report.errors {
        warn(&e.to_string());
    }
    let result = InspectResult::new(name, started, status, report, &bundle);
    store
        .put(&result)
        .await
        .with_context(|| format!("cannot store result {}", result.id))?;
    let deleted = store
        .apply_retention(
            name,
            plan.spec.history_limit,
            plan.spec.failed_history_limit,
        )
        .await
        .context("cannot apply the history limits")?;

    let s = &result.report.summary;
    outln!("plan {name}: result {} {}", result.id, result.status);
    outln!(
        "score {} · {} danger · {} warning · {} info · {} exempted · {} objects",
        s.score,
        s.findings.danger,
        s.findings.warning,
        s.findings.info,
        s.exempted,
        s.objects
    );
    outln!("stored in {}", store_name(store_args));
    if !deleted.is_empty() {
        outln!(
            "history limits ({} kept, {} failed kept) deleted: {}",
            plan.spec.history_limit,
            plan.spec.failed_history_limit,
            deleted.join(", ")
        );
    }
    outln!("next run: {}", describe_next(&plan, clock.now())?);
    if status == ResultStatus::Failed {
        warn(
            "nothing could be checked: the plan's targets gave no object and no Prometheus result",
        );
        return Ok(Outcome::Failed(2));
    }
    if result.report.fails_at(plan.spec.fail_on) {
        Ok(Outcome::Failed(3))
    } else {
        Ok(Outcome::Success)
    }
}

async fn list(plans_dir: &Path, store_args: &StoreArgs, now: Timestamp) -> anyhow::Result<Outcome> {
    let loaded = load_plans(plans_dir)
        .with_context(|| format!("cannot read plans in {}", plans_dir.display()))?;
    for e in &loaded.errors {
        warn(&format!("warning: {e}"));
    }
    let store = open_store(store_args).await?;
    let mut rows = vec![[
        "NAME".to_owned(),
        "SCHEDULE".to_owned(),
        "TIMEZONE".to_owned(),
        "NEXT RUN".to_owned(),
        "LAST RESULT".to_owned(),
        "LAST STATUS".to_owned(),
    ]];
    for (_, plan) in &loaded.plans {
        let schedule = plan.schedule()?;
        let next = if plan.spec.suspend {
            "suspended".to_owned()
        } else {
            next_run_time(&plan.spec, &schedule, now)
                .map_or_else(|| "never".to_owned(), |t| t.to_string())
        };
        let history = store.list(plan.name()).await?;
        let (last_id, last_status) = history.last().map_or_else(
            || ("-".to_owned(), "-".to_owned()),
            |e| (e.id.clone(), e.status.to_string()),
        );
        rows.push([
            plan.name().to_owned(),
            plan.spec.schedule.clone(),
            plan.spec.time_zone.clone(),
            next,
            last_id,
            last_status,
        ]);
    }
    print_rows(&rows);
    if loaded.errors.is_empty() {
        Ok(Outcome::Success)
    } else {
        Ok(Outcome::Failed(2))
    }
}

async fn history(
    name: &str,
    store_args: &StoreArgs,
    format: HistoryFormat,
) -> anyhow::Result<Outcome> {
    let store = open_store(store_args).await?;
    let entries = store.list(name).await?;
    match format {
        HistoryFormat::Json => {
            outln!("{}", serde_json::to_string_pretty(&entries)?);
        }
        HistoryFormat::Table => {
            let mut rows = vec![[
                "ID".to_owned(),
                "STATUS".to_owned(),
                "STARTED".to_owned(),
                "SCORE".to_owned(),
                "DANGER".to_owned(),
                "WARNING".to_owned(),
                "INFO".to_owned(),
            ]];
            for e in &entries {
                rows.push([
                    e.id.clone(),
                    e.status.to_string(),
                    e.started_at.clone(),
                    e.score.to_string(),
                    e.danger.to_string(),
                    e.warning.to_string(),
                    e.info.to_string(),
                ]);
            }
            print_rows(&rows);
            outln!("{} result(s) of plan {name}", entries.len());
        }
    }
    Ok(Outcome::Success)
}

/// Prints left-aligned columns separated by two spaces.
fn print_rows<const N: usize>(rows: &[[String; N]]) {
    let mut widths = [0_usize; N];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in rows {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(widths.iter()).enumerate() {
            if i + 1 == N {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}  "));
            }
        }
        outln!("{}", line.trim_end());
    }
}
