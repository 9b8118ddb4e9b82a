//! The built-in in-memory scenario: two Deployments with an HPA each, a load profile fed to the metrics
//! store, simulated time.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use ksx_core::cluster::{Kind, ListOptions, Object};
use ksx_core::metrics::{ContainerUsage, MetricId};
use ksx_core::{Clock, InMemoryCluster, InMemoryMetrics, ManualClock};

use crate::controller::{Controller, now_nanos};
use crate::{Args, Printer, Settings};

/// The namespace everything lives in.
pub(crate) const NAMESPACE: &str = "shop";
/// Start of simulated time (2023-11-14T22:13:20Z).
const START_SECS: i64 = 1_700_000_000;
/// Seconds pods take to become Ready.
const STARTUP_SECS: u32 = 10;
/// `web`: CPU cores the whole service burns at baseline, during the spike, after it.
const WEB_BASELINE: f64 = 0.15;
/// See [`WEB_BASELINE`].
const WEB_SPIKE: f64 = 0.8;
/// `api`: requests per second at baseline and during its peak.
const API_BASELINE: f64 = 250.0;
/// See [`API_BASELINE`].
const API_PEAK: f64 = 700.0;

/// The load profile: `web` spikes from 1 min to 5 min, `api` peaks from 2 min to 6 min (seconds since
/// the start of the run, after the warm-up).
fn web_load(t: i64) -> f64 {
    if (60..300).contains(&t) {
        WEB_SPIKE
    } else {
        WEB_BASELINE
    }
}

fn api_load(t: i64) -> f64 {
    if (120..360).contains(&t) {
        API_PEAK
    } else {
        API_BASELINE
    }
}

fn objects() -> Vec<(Kind, serde_json::Value)> {
    let deployment = |name: &str, replicas: i32, cpu: &str| {
        serde_json::json!({
            "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app": name}},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name},
                        "annotations": {ksx_core::cluster::memory::STARTUP_DELAY_ANNOTATION: STARTUP_SECS.to_string()}},
                    "spec": {"containers": [{"name": name, "image": format!("registry.example.com/shop/{name}:1.0"),
                        "resources": {"requests": {"cpu": cpu, "memory": "128Mi"}}}]}
                }
            }
        })
    };
    vec![
        (
            Kind::Namespace,
            serde_json::json!({"metadata": {"name": NAMESPACE}}),
        ),
        (Kind::Deployment, deployment("web", 2, "200m")),
        (Kind::Deployment, deployment("api", 2, "100m")),
        // CPU Utilization with a 60 s scale-down window (the default behavior otherwise).
        (
            Kind::HorizontalPodAutoscaler,
            serde_json::json!({
                "metadata": {"name": "web", "namespace": NAMESPACE},
                "spec": {
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                    "minReplicas": 2, "maxReplicas": 10,
                    "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 50}}}],
                    "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}
                }
            }),
        ),
        // A Pods metric with an AverageValue target and no behavior (the legacy path).
        (
            Kind::HorizontalPodAutoscaler,
            serde_json::json!({
                "metadata": {"name": "api", "namespace": NAMESPACE},
                "spec": {
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"},
                    "minReplicas": 1, "maxReplicas": 12,
                    "metrics": [{"type": "Pods", "pods": {"metric": {"name": "http_requests_per_second"},
                        "target": {"type": "AverageValue", "averageValue": "100"}}}]
                }
            }),
        ),
    ]
}

/// The scenario's cluster, metrics store and their shared clock, warmed up: the first pods started and
/// reported before the controller's first sync.
pub(crate) struct World {
    pub(crate) clock: ManualClock,
    pub(crate) cluster: Arc<InMemoryCluster>,
    pub(crate) metrics: Arc<InMemoryMetrics>,
    known: BTreeSet<String>,
}

impl World {
    /// Builds the scenario's objects plus `extra` on a cluster seeded with `seed`.
    pub(crate) fn build(seed: u64, extra: &[(Kind, serde_json::Value)]) -> anyhow::Result<Self> {
        let clock = ManualClock::at_unix_secs(START_SECS);
        let cluster = Arc::new(InMemoryCluster::new(clock.clone(), seed));
        cluster.add_node("node-a", "8", "32Gi")?;
        cluster.add_node("node-b", "8", "32Gi")?;
        for (kind, json) in objects().iter().chain(extra) {
            cluster.apply(Object::from_json(kind, json.clone())?)?;
        }
        // A metrics-server-like window: CPU is averaged over the last 30 s of samples.
        let metrics = Arc::new(
            InMemoryMetrics::default()
                .with_clock(Arc::new(clock.clone()))
                .with_usage_window(Duration::from_secs(30)),
        );
        let mut world = Self {
            clock,
            cluster,
            metrics,
            known: BTreeSet::new(),
        };
        for _ in 0..4 {
            world.cluster.advance(Duration::from_secs(15));
            world.feed(0)?;
        }
        Ok(world)
    }

    /// Records the load at `t` seconds into the run (see [`feed`]).
    fn feed(&mut self, t: i64) -> anyhow::Result<()> {
        feed(&self.cluster, &self.metrics, &mut self.known, t)
    }
}

pub(super) async fn run(args: &Args) -> anyhow::Result<()> {
    let mut world = World::build(args.seed, &[])?;
    let controller = Arc::new(Controller::new(
        Arc::clone(&world.cluster),
        world.metrics.clone(),
        Settings::from_args(args),
    ));
    let start = now_nanos(&world.clock);
    let mut printer = Printer {
        format: args.output,
        header: false,
    };
    let end = args.duration;
    let mut elapsed = Duration::ZERO;
    loop {
        let t = i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX);
        world.feed(t)?;
        let lines = controller
            .sync(now_nanos(&world.clock), start, args.workers)
            .await?;
        printer.print(&lines)?;
        if elapsed + args.sync_period > end {
            break;
        }
        world.cluster.advance(args.sync_period);
        elapsed += args.sync_period;
    }
    Ok(())
}

/// Records each running pod's share of the load at the cluster's "now": Ready pods split the service's load
/// evenly (a Service balances over Ready endpoints), pods still starting burn a little CPU.
fn feed(
    cluster: &InMemoryCluster,
    metrics: &InMemoryMetrics,
    known: &mut BTreeSet<String>,
    t: i64,
) -> anyhow::Result<()> {
    let now = Clock::now(cluster.clock());
    let pods: Vec<Pod> = cluster
        .list_sync(&Kind::Pod, Some(NAMESPACE), &ListOptions::default())?
        .into_iter()
        .filter_map(|o| match o {
            Object::Pod(p) => Some(p),
            _ => None,
        })
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    let seen: BTreeSet<String> = pods
        .iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    for gone in known.difference(&seen) {
        metrics.remove_pod(NAMESPACE, gone);
    }
    *known = seen;
    for app in ["web", "api"] {
        let mine: Vec<&Pod> = pods
            .iter()
            .filter(|p| {
                p.metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get("app"))
                    .map(String::as_str)
                    == Some(app)
            })
            .collect();
        let ready = mine.iter().filter(|p| is_ready(p)).count().max(1) as f64;
        for pod in mine {
            let Some(name) = pod.metadata.name.as_deref() else {
                continue;
            };
            let running = pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
            if !running {
                continue;
            }
            if let Some(labels) = &pod.metadata.labels {
                metrics.set_pod_labels(NAMESPACE, name, labels.clone());
            }
            let share = if is_ready(pod) { 1.0 / ready } else { 0.0 };
            let (cpu, rps) = match app {
                "web" => (0.01 + web_load(t) * share, 0.0),
                _ => (0.01 + 0.0002 * api_load(t) * share, api_load(t) * share),
            };
            metrics.record_pod_usage(
                NAMESPACE,
                name,
                now,
                &[ContainerUsage {
                    name: app.to_owned(),
                    cpu_cores: cpu,
                    memory_bytes: 96.0 * 1024.0 * 1024.0,
                }],
            );
            if app == "api" {
                metrics.set_pods_metric(
                    NAMESPACE,
                    name,
                    &MetricId::named("http_requests_per_second"),
                    now,
                    rps,
                );
            }
        }
    }
    Ok(())
}

fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}
