//! `event-scaler`: KEDA's loop for the ScaledObjects and ScaledJobs of manifests. Every object is polled once
//! per `pollingInterval`, its triggers in parallel and each bounded by `--poll-timeout`; KEDA's executor
//! (`ksx_scaling::event::executor`) decides 0↔1, cooldown and pause, the generated HPA
//! (`ksx_scaling::event::hpa_bridge`) decides 1↔N, and the count is written through the `ksx-core` cluster seam:
//! the in-memory cluster by default (the manifests' Deployments, StatefulSets and ReplicaSets, and a built-in
//! 0-replica Deployment for any target they lack), a real cluster with `--kube` (feature `kube`). One JSON line
//! (`-o json`) or table row per decision shows the trigger values, activity, reason and conditions.
//!
//! Exit codes: 0 when the run ends (`--once`, `--duration`), 2 for bad flags or manifests (every fault named by
//! file, line, document and field), 1 when the run fails.
//!
//! ```text
//! event-scaler -f worker.yaml --once -o json
//! event-scaler -f manifests/ --duration 10m
//! ```

mod cycle;
mod driver;
#[cfg(feature = "kube")]
mod kube_mode;
mod load;
mod metrics;

#[path = "../../bin_support.rs"]
mod support;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use ksx_core::cluster::{Kind, Object};
use ksx_core::{Clock, InMemoryCluster, ManualClock, SystemClock};

use crate::driver::{DecisionLine, Driver, LoopSettings, builtin_deployment};
use crate::load::{InputError, Manifests, target_kind};
use crate::metrics::PollMetrics;

/// The `-o` flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    /// One row per decision, for people.
    Table,
    /// One JSON object per line and decision, for machines.
    Json,
}

/// Runs KEDA's loop over the ScaledObjects and ScaledJobs of manifests.
#[derive(Debug, Parser)]
#[command(name = "event-scaler", version, max_term_width = 110)]
pub(crate) struct Args {
    /// Manifests with ScaledObjects, ScaledJobs and their targets: files, directories (recursive) or `-`.
    #[arg(short = 'f', long = "filename", required = true)]
    files: Vec<PathBuf>,
    /// Run one cycle (every object polled once) and exit.
    #[arg(long)]
    once: bool,
    /// Stop after this long (`30s`, `10m`, `1h`, `500ms`, or plain seconds); without it the loop runs until
    /// interrupted.
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Bound of one trigger poll; a slower or failing scaler becomes that trigger's error.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    poll_timeout: Duration,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Table)]
    output: OutputFormat,
    /// Seed of the in-memory cluster (uids, pod names).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Scale the cluster of the current kubeconfig (`KUBECONFIG`, or in-cluster) instead of the in-memory one.
    #[cfg(feature = "kube")]
    #[arg(long)]
    kube: bool,
    /// Serve `/metrics` (per-trigger poll counts and latency), `/healthz` and `/readyz` on this address.
    #[cfg(feature = "runtime")]
    #[arg(long, value_name = "ADDR")]
    metrics_addr: Option<std::net::SocketAddr>,
}

/// Parses a duration flag (`15s`, `2m`, `1h`, `500ms`, plain seconds).
fn parse_duration(text: &str) -> Result<Duration, String> {
    support::parse_duration(text, Duration::from_nanos(1))
}

fn main() -> ExitCode {
    let args = Args::parse();
    support::run_main(run(args), |e| {
        if e.downcast_ref::<InputError>().is_some() {
            2
        } else {
            1
        }
    })
}

async fn run(args: Args) -> anyhow::Result<()> {
    let manifests = load::load(&args.files)?;
    let settings = LoopSettings {
        once: args.once,
        duration: args.duration,
        poll_timeout: args.poll_timeout,
    };
    let (metrics, _server) = start_metrics(&args).await?;
    let mut printer = Printer {
        format: args.output,
        header: false,
    };
    #[cfg(feature = "kube")]
    if args.kube {
        return kube_mode::run(&manifests, settings, metrics, &mut printer).await;
    }
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let memory = Arc::new(memory_cluster(&manifests, clock.now(), args.seed)?);
    let mut driver = Driver::new(
        Arc::clone(&memory),
        Some(Arc::clone(&memory)),
        clock,
        &manifests,
        metrics,
    )?;
    driver.run(settings, |lines| printer.print(lines)).await
}

/// Serves the metrics when asked to; the server stops with the process.
#[cfg(feature = "runtime")]
async fn start_metrics(
    args: &Args,
) -> anyhow::Result<(
    PollMetrics,
    Option<tokio::task::JoinHandle<ksx_core::Result<()>>>,
)> {
    let Some(addr) = args.metrics_addr else {
        return Ok((PollMetrics::default(), None));
    };
    let mut registry = prometheus_client::registry::Registry::default();
    let families = metrics::Families::register(&mut registry);
    let health = ksx_core::runtime::Health::default();
    health.set_ready(true);
    // Bind before the first poll so a bad address is reported at once.
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| InputError(vec![format!("--metrics-addr {addr}: {e}")]))?;
    let bound = listener.local_addr().unwrap_or(addr);
    #[allow(
        clippy::print_stderr,
        reason = "the bound address (port 0 picks one) is for the operator, not part of the decision stream"
    )]
    {
        eprintln!("event-scaler: serving /metrics, /healthz and /readyz on http://{bound}");
    }
    let server = tokio::spawn(ksx_core::runtime::serve_on(
        listener,
        health,
        Arc::new(registry),
        ksx_core::runtime::shutdown_signal(),
    ));
    Ok((
        PollMetrics {
            families: Some(families),
        },
        Some(server),
    ))
}

#[cfg(not(feature = "runtime"))]
#[allow(
    clippy::unused_async,
    reason = "same signature as the runtime build, which binds a socket"
)]
async fn start_metrics(_args: &Args) -> anyhow::Result<(PollMetrics, Option<()>)> {
    Ok((PollMetrics::default(), None))
}

/// The in-memory cluster: two nodes, the manifests' namespaces and workloads, and a built-in Deployment for
/// every ScaledObject target they lack.
fn memory_cluster(
    manifests: &Manifests,
    now: jiff::Timestamp,
    seed: u64,
) -> anyhow::Result<InMemoryCluster> {
    let cluster = InMemoryCluster::new(ManualClock::new(now), seed);
    cluster.add_node("node-a", "16", "64Gi")?;
    cluster.add_node("node-b", "16", "64Gi")?;
    let mut namespaces: Vec<String> = manifests
        .scaled_objects
        .iter()
        .map(|l| l.namespace.clone())
        .chain(manifests.scaled_jobs.iter().map(|l| l.namespace.clone()))
        .chain(
            manifests
                .workloads
                .iter()
                .filter_map(|o| o.namespace().map(str::to_owned)),
        )
        .collect();
    namespaces.sort();
    namespaces.dedup();
    for ns in &namespaces {
        if cluster.get_sync(&Kind::Namespace, None, ns).is_none() {
            cluster.apply(Object::from_json(
                &Kind::Namespace,
                serde_json::json!({"metadata": {"name": ns}}),
            )?)?;
        }
    }
    for object in &manifests.workloads {
        cluster.apply(object.clone())?;
    }
    for l in &manifests.scaled_objects {
        let target = &l.object.spec.scale_target_ref;
        let kind = target_kind(target.api_version(), target.kind()).map_err(anyhow::Error::msg)?;
        if cluster
            .get_sync(&kind, Some(&l.namespace), &target.name)
            .is_none()
        {
            if kind != Kind::Deployment {
                return Err(InputError(vec![format!(
                    "{}: ScaledObject {}: spec.scaleTargetRef: {} {}/{} is not in the manifests (only a missing \
                     Deployment is created on the in-memory cluster)",
                    l.place,
                    l.object.name(),
                    target.kind(),
                    l.namespace,
                    target.name
                )])
                .into());
            }
            cluster.apply(Object::from_json(
                &Kind::Deployment,
                builtin_deployment(&l.namespace, &target.name),
            )?)?;
        }
    }
    cluster.reconcile();
    Ok(cluster)
}

/// Prints decisions as JSON lines or table rows.
pub(crate) struct Printer {
    format: OutputFormat,
    header: bool,
}

impl Printer {
    pub(crate) fn print(&mut self, lines: &[DecisionLine]) -> anyhow::Result<()> {
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
                        "{:>6}  {:<30} {:<24} {:<7} {:<20} {:<11} {}\n",
                        "TIME", "OBJECT", "TRIGGERS", "ACTIVE", "ACTION", "REPLICAS", "REASON"
                    ));
                }
                for l in lines {
                    let triggers: Vec<String> = l
                        .triggers
                        .iter()
                        .map(|t| match (&t.value, &t.error) {
                            (_, Some(_)) => format!("{} error", t.metric),
                            (Some(v), None) => format!("{} {v}/{}", t.metric, t.target),
                            (None, None) => t.metric.clone(),
                        })
                        .collect();
                    let replicas = match l.activation_replicas {
                        Some(a) if a != l.current_replicas && a != l.desired_replicas => {
                            format!("{}→{a}→{}", l.current_replicas, l.desired_replicas)
                        }
                        _ => format!("{}→{}", l.current_replicas, l.desired_replicas),
                    };
                    let mut reason = l.reason.clone();
                    if let Some(e) = &l.error {
                        reason.push_str(&format!(" [error: {e}]"));
                    }
                    text.push_str(&format!(
                        "{:>5}s  {:<30} {:<24} {:<7} {:<20} {:<11} {}\n",
                        l.elapsed_seconds,
                        format!("{}/{}", l.namespace, l.name),
                        triggers.join(","),
                        l.active,
                        l.action,
                        replicas,
                        reason
                    ));
                }
            }
        }
        support::emit(&text);
        Ok(())
    }
}
