//! `vpa-controller`: the VPA recommender and updater loops over the cluster and metrics seams.
//!
//! Every `--recommender-interval` the recommender gathers every VerticalPodAutoscaler, feeds the usage of the pods
//! its `targetRef` selects into per-container aggregates, recommends with `ksx_scaling::vpa::estimate` (policy
//! applied), writes `status.recommendation` and the `RecommendationProvided` / `LowConfidence` conditions, and
//! saves a checkpoint per (VPA, container) to a `CheckpointStore` (files in `--checkpoint-dir`, or PostgreSQL
//! with `--postgres` and the `postgres` feature). At start it restores every checkpoint, so a restart continues
//! where it stopped. Every `--updater-interval` the updater plans with `ksx_scaling::vpa::updater::plan` and
//! patches the pod template of the workloads to update, whose rollout then replaces the pods.
//!
//! In memory by default: a built-in scenario (a Deployment whose two containers are badly requested, its VPA in
//! `Recreate` mode, a usage profile) runs on simulated time for `--duration`. With `--kube` (feature `kube`) and
//! `--prometheus URL` (feature `prometheus`) it drives a real cluster.

#[path = "../../bin_support.rs"]
mod support;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use ksx_scaling::vpa::store::CheckpointStore;

use crate::recommender::RecommendationLine;
use crate::updates::UpdateLine;

/// The `-o` flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OutputFormat {
    /// One row per decision, for people.
    Table,
    /// One JSON object per line and decision, for machines.
    Json,
}

/// Recommends requests for VerticalPodAutoscalers and applies them: the built-in in-memory scenario by default.
#[derive(Debug, Parser)]
#[command(name = "vpa-controller", version, max_term_width = 110)]
struct Args {
    /// Time between recommender loops (`1m`, `30s`, or plain seconds).
    #[arg(long, default_value = "1m", value_parser = parse_duration)]
    recommender_interval: Duration,
    /// Time between updater loops.
    #[arg(long, default_value = "1m", value_parser = parse_duration)]
    updater_interval: Duration,
    /// How long the in-memory scenario runs, in simulated time.
    #[arg(long, default_value = "3h", value_parser = parse_duration)]
    duration: Duration,
    /// Directory of the file checkpoint store (created when missing); a directory under the system temporary
    /// directory when not given.
    #[arg(long, value_name = "DIR")]
    checkpoint_dir: Option<PathBuf>,
    /// PostgreSQL connection string of the checkpoint store (instead of `--checkpoint-dir`).
    #[cfg(feature = "postgres")]
    #[arg(long, value_name = "URL", conflicts_with = "checkpoint_dir")]
    postgres: Option<String>,
    /// Table of the PostgreSQL checkpoint store.
    #[cfg(feature = "postgres")]
    #[arg(long, default_value = ksx_scaling::vpa::store::DEFAULT_POSTGRES_TABLE, requires = "postgres")]
    postgres_table: String,
    /// `--min-replicas`: fewest live pods a workload needs before the updater touches it.
    #[arg(long, default_value_t = ksx_scaling::vpa::updater::DEFAULT_MIN_REPLICAS,
          value_parser = clap::value_parser!(i32).range(1..))]
    min_replicas: i32,
    /// `--eviction-tolerance`: the fraction of replicas that may be disrupted at once (0 to 1).
    #[arg(long, default_value_t = ksx_scaling::vpa::updater::DEFAULT_EVICTION_TOLERANCE)]
    eviction_tolerance: f64,
    /// `--eviction-rate-limit`: workload updates per second; 0 or below is unlimited.
    #[arg(long, default_value_t = -1.0, allow_negative_numbers = true)]
    eviction_rate_limit: f64,
    /// `--eviction-rate-burst`.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    eviction_rate_burst: u32,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Table)]
    output: OutputFormat,
    /// Seed of the in-memory cluster and of the usage noise.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Drive the cluster of the current kubeconfig (`KUBECONFIG`, or in-cluster) instead of the scenario.
    #[cfg(feature = "kube")]
    #[arg(long)]
    kube: bool,
    /// Drive the cluster of this kubeconfig file (implies `--kube`).
    #[cfg(feature = "kube")]
    #[arg(long, value_name = "PATH")]
    kubeconfig: Option<PathBuf>,
    /// Prometheus base URL the usage (and the history with `--history-days`) is read from (with `--kube`).
    #[cfg(feature = "prometheus")]
    #[arg(long, value_name = "URL")]
    prometheus: Option<String>,
    /// Days of Prometheus history the aggregates start from (with `--kube --prometheus`); 0 reads none.
    #[cfg(feature = "prometheus")]
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=8), requires = "prometheus")]
    history_days: u32,
}

/// Parses a duration flag (`15s`, `2m`, `1h`, `500ms`, plain seconds).
fn parse_duration(text: &str) -> Result<Duration, String> {
    support::parse_duration(text, Duration::from_secs(1))
}

fn main() -> ExitCode {
    let args = Args::parse();
    support::run_main(run(args), |_| 2)
}

async fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.eviction_tolerance.is_finite() && (0.0..=1.0).contains(&args.eviction_tolerance),
        "--eviction-tolerance must be a number from 0 to 1, got {}",
        args.eviction_tolerance
    );
    anyhow::ensure!(
        !args.eviction_rate_limit.is_nan(),
        "--eviction-rate-limit must be a number"
    );
    let (store, place) = open_store(&args).await?;
    let start = serde_json::json!({
        "kind": "start",
        "message": format!("checkpoints in {place}"),
        "checkpoints": place,
    });
    let mut printer = Printer {
        format: args.output,
        header: false,
    };
    printer.print(&[Line::Other(&start)])?;
    #[cfg(feature = "kube")]
    if args.kube || args.kubeconfig.is_some() {
        return kube_mode::run(&args, store.as_ref(), &mut printer).await;
    }
    #[cfg(feature = "prometheus")]
    anyhow::ensure!(
        args.prometheus.is_none(),
        "--prometheus needs --kube: the in-memory scenario has its own metrics"
    );
    scenario::run(&args, store.as_ref(), &mut printer).await
}

/// The checkpoint store the flags name, and where it keeps its checkpoints (for the start line).
async fn open_store(args: &Args) -> anyhow::Result<(Box<dyn CheckpointStore>, String)> {
    #[cfg(feature = "postgres")]
    if let Some(url) = &args.postgres {
        let store =
            ksx_scaling::vpa::store::PostgresCheckpointStore::connect(url, &args.postgres_table)
                .await?;
        return Ok((
            Box::new(store),
            format!("PostgreSQL table {}", args.postgres_table),
        ));
    }
    // Async to match the PostgreSQL branch.
    std::future::ready(()).await;
    let dir = args.checkpoint_dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("ksx-vpa-controller-{}", std::process::id()))
    });
    let place = dir.display().to_string();
    Ok((
        Box::new(ksx_scaling::vpa::store::FileCheckpointStore::create(dir)?),
        place,
    ))
}

/// The updater's settings from the flags.
fn updater_config(args: &Args) -> ksx_scaling::vpa::updater::UpdaterConfig {
    ksx_scaling::vpa::updater::UpdaterConfig {
        min_replicas: args.min_replicas,
        eviction_tolerance: args.eviction_tolerance,
        ..Default::default()
    }
}

/// One printed event.
enum Line<'a> {
    Recommendation(&'a RecommendationLine),
    Update(&'a UpdateLine),
    /// Any other JSON object (start-up, final state); tables print its `message`.
    Other(&'a serde_json::Value),
}

/// Prints decisions as JSON lines or table rows.
struct Printer {
    format: OutputFormat,
    header: bool,
}

impl Printer {
    fn print(&mut self, lines: &[Line<'_>]) -> anyhow::Result<()> {
        let mut text = String::new();
        for line in lines {
            match self.format {
                OutputFormat::Json => {
                    match line {
                        Line::Recommendation(l) => text.push_str(&serde_json::to_string(l)?),
                        Line::Update(l) => text.push_str(&serde_json::to_string(l)?),
                        Line::Other(v) => text.push_str(&serde_json::to_string(v)?),
                    }
                    text.push('\n');
                }
                OutputFormat::Table => {
                    if !self.header {
                        self.header = true;
                        text.push_str(&format!(
                            "{:>7}  {:<7} {:<22} {:<10} {}\n",
                            "TIME", "LOOP", "VPA", "CONTAINER", "DETAILS"
                        ));
                    }
                    text.push_str(&table_row(line));
                }
            }
        }
        support::emit(&text);
        Ok(())
    }
}

fn table_row(line: &Line<'_>) -> String {
    let list = |l: &ksx_scaling::vpa::crd::ResourceList| {
        l.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    match line {
        Line::Recommendation(l) => {
            let details = match &l.error {
                Some(e) if l.container.is_empty() => format!("error: {e}"),
                _ => format!(
                    "target {} lower {} upper {} conf {:.3}{}",
                    list(&l.target),
                    list(&l.lower_bound),
                    list(&l.upper_bound),
                    l.confidence,
                    l.error
                        .as_ref()
                        .map_or_else(String::new, |e| format!(" error: {e}"))
                ),
            };
            format!(
                "{:>6}s  {:<7} {:<22} {:<10} {}\n",
                l.elapsed_seconds,
                "rec",
                format!("{}/{}", l.namespace, l.vpa),
                if l.container.is_empty() {
                    "-"
                } else {
                    &l.container
                },
                details
            )
        }
        Line::Update(l) => {
            let changes: Vec<String> = l
                .changes
                .iter()
                .map(|c| {
                    format!(
                        "{}.{}.{} {}→{}",
                        c.container,
                        c.field,
                        c.resource,
                        c.from.as_deref().unwrap_or("unset"),
                        c.to
                    )
                })
                .collect();
            format!(
                "{:>6}s  {:<7} {:<22} {:<10} {} {}: {}{}\n",
                l.elapsed_seconds,
                "update",
                l.vpa,
                "-",
                l.action,
                l.workload,
                l.reason,
                if changes.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", changes.join(", "))
                }
            )
        }
        Line::Other(v) => format!(
            "{:>7}  {:<7} {}\n",
            "",
            v.get("kind")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("-"),
            v.get("message")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("")
        ),
    }
}

#[cfg(feature = "kube")]
mod kube_mode;
mod recommender;
mod scenario;
mod updates;
