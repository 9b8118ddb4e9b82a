//! `hpa-controller`: reconciles every autoscaling/v2 HorizontalPodAutoscaler once per sync period through the
//! cluster and metrics seams, writes the scale and the status (replicas, current metrics, last scale time,
//! conditions with upstream reasons) back, and prints each decision. In memory by default: a built-in scenario
//! (two Deployments, two HPAs, a load profile) runs on simulated time for `--duration`. With `--kube` (feature
//! `kube`) and `--prometheus URL` (feature `prometheus`) it drives a real cluster; with the `runtime` feature it
//! also serves `/healthz`, `/readyz`, `/metrics` and reconciles only while it holds a Lease.
//!
//! Decisions come from `ksx_scaling::hpa::reconcile::reconcile` (the engine); this binary only reads the
//! inputs through the seams, hands them over and writes the results. HPAs are spread over a keyed worker pool
//! (`--workers`): one key always goes to the same worker within a sync, each HPA's history is taken out of a map
//! that is locked only to take and return it, and the decisions are printed in key order, so the output never
//! depends on the number of workers.

#[path = "../../bin_support.rs"]
mod support;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::controller::DecisionLine;

/// The `-o` flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OutputFormat {
    /// One row per decision, for people.
    Table,
    /// One JSON object per line and decision, for machines.
    Json,
}

/// Reconciles autoscaling/v2 HPAs: the built-in in-memory scenario by default, or a real cluster.
#[derive(Debug, Parser)]
#[command(name = "hpa-controller", version, max_term_width = 110)]
struct Args {
    /// Time between reconciles of each HPA (`15s`, `1m`, `500ms`, or plain seconds).
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    sync_period: Duration,
    /// How long the in-memory scenario runs, in simulated time.
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    duration: Duration,
    /// Workers of the keyed pool; one HPA is never reconciled by two workers at once.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..=256))]
    workers: u16,
    /// `--horizontal-pod-autoscaler-downscale-stabilization`.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    downscale_stabilization: Duration,
    /// `--horizontal-pod-autoscaler-tolerance`.
    #[arg(long, default_value_t = 0.1)]
    tolerance: f64,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Table)]
    output: OutputFormat,
    /// Seed of the in-memory cluster (uids, pod names).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Reconcile the cluster of the current kubeconfig (`KUBECONFIG`, or in-cluster) instead of the scenario.
    #[cfg(feature = "kube")]
    #[arg(long)]
    kube: bool,
    /// Reconcile the cluster of this kubeconfig file (implies `--kube`).
    #[cfg(feature = "kube")]
    #[arg(long, value_name = "PATH")]
    kubeconfig: Option<std::path::PathBuf>,
    /// Prometheus base URL the metrics are read from (with `--kube`).
    #[cfg(feature = "prometheus")]
    #[arg(long, value_name = "URL")]
    prometheus: Option<String>,
    /// Address of `/healthz`, `/readyz` and `/metrics` (with `--kube`).
    #[cfg(feature = "runtime")]
    #[arg(long, default_value = "0.0.0.0:8080")]
    health_addr: std::net::SocketAddr,
    /// Namespace of the leader-election Lease (with `--kube`); empty turns leader election off.
    #[cfg(feature = "runtime")]
    #[arg(long, default_value = "kube-system")]
    lease_namespace: String,
}

/// Parses a duration flag (`15s`, `2m`, `1h`, `500ms`, plain seconds).
fn parse_duration(text: &str) -> Result<Duration, String> {
    support::parse_duration(text, Duration::from_nanos(1))
}

fn main() -> ExitCode {
    let args = Args::parse();
    support::run_main(run(args), |_| 2)
}

async fn run(args: Args) -> anyhow::Result<()> {
    if !(args.tolerance.is_finite() && args.tolerance >= 0.0) {
        anyhow::bail!("--tolerance must be a number greater than or equal to 0");
    }
    #[cfg(feature = "kube")]
    if args.kube || args.kubeconfig.is_some() {
        return kube_mode::run(&args).await;
    }
    scenario::run(&args).await
}

/// The controller's fixed settings.
#[derive(Debug, Clone, Copy)]
struct Settings {
    downscale_window_secs: i64,
    tolerance: f64,
}

impl Settings {
    fn from_args(args: &Args) -> Self {
        Self {
            downscale_window_secs: i64::try_from(args.downscale_stabilization.as_secs())
                .unwrap_or(i64::MAX),
            tolerance: args.tolerance,
        }
    }
}

/// Prints decisions as JSON lines or table rows.
struct Printer {
    format: OutputFormat,
    header: bool,
}

impl Printer {
    fn print(&mut self, lines: &[DecisionLine]) -> anyhow::Result<()> {
        let mut text = String::new();
        match self.format {
            OutputFormat::Json => {
                for l in lines {
                    text.push_str(&serde_json::to_string(l)?);
                    text.push('\n');
                }
            }
            OutputFormat::Table => {
                if !self.header {
                    self.header = true;
                    text.push_str(&format!(
                        "{:>6}  {:<24} {:>7} {:>7}  {:<28} {:<22} {:<18} {}\n",
                        "TIME", "HPA", "CURRENT", "DESIRED", "METRICS", "ABLE", "ACTIVE", "LIMITED"
                    ));
                }
                for l in lines {
                    let reason = |t: &str| {
                        l.conditions
                            .iter()
                            .find(|c| c.condition_type == t)
                            .map_or_else(|| "-".to_owned(), |c| c.reason.clone())
                    };
                    let metrics: Vec<String> = l.current_metrics.iter().map(short_metric).collect();
                    text.push_str(&format!(
                        "{:>5}s  {:<24} {:>7} {:>7}  {:<28} {:<22} {:<18} {}\n",
                        l.elapsed_seconds,
                        format!("{}/{}", l.namespace, l.name),
                        l.current_replicas,
                        l.desired_replicas,
                        if metrics.is_empty() {
                            "-".to_owned()
                        } else {
                            metrics.join(",")
                        },
                        reason("AbleToScale"),
                        reason("ScalingActive"),
                        reason("ScalingLimited"),
                    ));
                }
            }
        }
        support::emit(&text);
        Ok(())
    }
}

/// `cpu 45%` or `http_requests 120` for the table.
fn short_metric(m: &serde_json::Value) -> String {
    let source = [
        "resource",
        "containerResource",
        "pods",
        "object",
        "external",
    ]
    .iter()
    .find_map(|k| m.get(*k));
    let Some(s) = source else {
        return "?".to_owned();
    };
    let name = s
        .get("name")
        .or_else(|| s.get("metric").and_then(|x| x.get("name")))
        .and_then(serde_json::Value::as_str)
        .unwrap_or("?");
    let current = s.get("current");
    let util = current
        .and_then(|c| c.get("averageUtilization"))
        .and_then(serde_json::Value::as_i64);
    let value = current
        .and_then(|c| c.get("averageValue").or_else(|| c.get("value")))
        .and_then(serde_json::Value::as_str)
        .unwrap_or("?");
    util.map_or_else(|| format!("{name} {value}"), |u| format!("{name} {u}%"))
}

/// The built-in in-memory scenario.
mod controller;
#[cfg(feature = "kube")]
mod kube_mode;
mod scenario;
mod spec;
#[cfg(test)]
mod tests;
