//! `ksx vpa report`: the right-sizing report of every container, read from Prometheus (cAdvisor and
//! kube-state-metrics series); the model and the decisions are `ksx_scaling::vpa::report`'s.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use ksx_scaling::vpa::history::{DEFAULT_CADVISOR_JOB, DEFAULT_HISTORY_STEP, HistoryConfig};
use ksx_scaling::vpa::report::{self, RightSizingReport, Strategy};

use crate::Outcome;
use crate::cli::{OutputArgs, OutputFormat};
use crate::output::{Table, print_structured};

/// How long one Prometheus query may take (upstream's `--history-timeout` analogue, 5 minutes).
#[cfg(feature = "prometheus")]
const HISTORY_TIMEOUT: Duration = Duration::from_secs(300);

/// The `--strategy` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub(crate) enum StrategyArg {
    /// The VPA recommender over the history (target, lower and upper bound).
    #[default]
    Vpa,
    /// KRR `simple`: CPU p95 request, memory max × 1.15.
    Simple,
    /// KRR `simple_limit`: CPU p66 request and p96 limit, memory max × 1.15.
    SimpleLimit,
}

impl From<StrategyArg> for Strategy {
    fn from(s: StrategyArg) -> Self {
        match s {
            StrategyArg::Vpa => Self::Vpa,
            StrategyArg::Simple => Self::Simple,
            StrategyArg::SimpleLimit => Self::SimpleLimit,
        }
    }
}

/// Flags of `ksx vpa report`.
#[derive(Debug, Clone, Args)]
pub(crate) struct ReportArgs {
    /// Base URL of the Prometheus HTTP API (or Thanos, Mimir, VictoriaMetrics).
    #[arg(long, env = "KSX_PROMETHEUS_URL")]
    pub(crate) prometheus: String,
    /// Bearer token sent to Prometheus (for Thanos, OpenShift monitoring and other authenticating proxies).
    #[arg(long, env = "KSX_PROMETHEUS_TOKEN", hide_env_values = true)]
    pub(crate) prometheus_token: Option<String>,
    /// Only this namespace (default: all).
    #[arg(short = 'n', long)]
    pub(crate) namespace: Option<String>,
    /// Days of history to read.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=365))]
    pub(crate) days: u32,
    /// How recommendations are made.
    #[arg(long, value_enum, default_value_t = StrategyArg::Vpa)]
    pub(crate) strategy: StrategyArg,
    /// Also write a self-contained HTML report (inline CSS, no external assets) to this file.
    #[arg(long)]
    pub(crate) html: Option<PathBuf>,
    /// The `job` label of the cAdvisor series (empty: any job).
    #[arg(long, default_value = DEFAULT_CADVISOR_JOB)]
    pub(crate) cadvisor_job: String,
    /// Evaluate as of this Unix time in seconds instead of now (reproducible reports over stored history).
    #[arg(long)]
    pub(crate) now: Option<i64>,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
}

/// Runs `ksx vpa report`.
///
/// `ksx vpa`'s dispatcher is synchronous while the report reads Prometheus; `block_in_place` runs the read on the
/// CLI's multi-threaded runtime from here without a second runtime.
pub(crate) fn run(args: &ReportArgs) -> anyhow::Result<Outcome> {
    let handle = tokio::runtime::Handle::try_current()
        .context("`ksx vpa report` needs the CLI's async runtime")?;
    let report = tokio::task::block_in_place(|| handle.block_on(build(args)))?;
    if let Some(path) = &args.html {
        std::fs::write(path, report::render_html(&report))
            .with_context(|| format!("cannot write the HTML report to {}", path.display()))?;
    }
    match args.output.output {
        OutputFormat::Table => outln!("{}", render_table(&report)),
        format => print_structured(format, &report)?,
    }
    Ok(Outcome::Success)
}

/// The history settings the flags give.
fn history_config(args: &ReportArgs) -> HistoryConfig {
    HistoryConfig {
        length: Duration::from_secs(u64::from(args.days) * 86_400),
        step: DEFAULT_HISTORY_STEP,
        cadvisor_job: (!args.cadvisor_job.is_empty()).then(|| args.cadvisor_job.clone()),
        namespace: args.namespace.clone(),
        memory_max_over_step: false,
    }
}

#[cfg(feature = "prometheus")]
async fn build(args: &ReportArgs) -> anyhow::Result<RightSizingReport> {
    use ksx_core::metrics::prometheus::PrometheusMetrics;
    use ksx_core::{Clock, SystemClock};
    use ksx_scaling::vpa::config::RecommenderConfig;

    let now = match args.now {
        Some(secs) => secs
            .checked_mul(1_000_000_000)
            .with_context(|| format!("--now {secs} is out of range"))?,
        None => {
            // Whole seconds: Prometheus evaluates at millisecond precision, and steps line up with `now`.
            let secs = SystemClock.now().as_second();
            secs.saturating_mul(1_000_000_000)
        }
    };
    // Upstream's history provider gives its range queries 5 minutes; long histories of big clusters need it.
    let mut source = PrometheusMetrics::new(&args.prometheus)?.with_timeout(HISTORY_TIMEOUT);
    if let Some(token) = &args.prometheus_token {
        source = source.with_bearer_token(token.clone());
    }
    let cfg = report::ReportConfig {
        strategy: args.strategy.into(),
        history: history_config(args),
    };
    let inputs = report::gather(&source, &cfg, now).await?;
    Ok(report::compute(
        &inputs,
        cfg.strategy,
        &RecommenderConfig::default(),
        &cfg.history,
        now,
    )?)
}

#[cfg(not(feature = "prometheus"))]
async fn build(args: &ReportArgs) -> anyhow::Result<RightSizingReport> {
    let _ = history_config(args);
    anyhow::bail!(
        "`ksx vpa report` reads Prometheus at {}, but this ksx was built without the `prometheus` feature",
        args.prometheus
    )
}

/// The table for people: one row per container, then the totals.
fn render_table(report: &RightSizingReport) -> String {
    let mut table = Table::new(report::TABLE_HEADER);
    for row in report::table_rows(report) {
        table.row(row);
    }
    let t = &report.totals;
    format!(
        "{}\n{} containers, {} recommended ({} strategy); savings {:.3} cores, {}; {} at OOM risk, {} throttled",
        table.render().trim_end(),
        t.containers,
        t.recommended,
        report.strategy.name(),
        t.savings.cpu_cores,
        report::format_memory(Some(t.savings.memory_bytes)),
        t.oom_risk,
        t.throttling_risk
    )
}
