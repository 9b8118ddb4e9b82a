//! The built-in in-memory scenario: a Deployment `shop/checkout` with two containers that are badly requested
//! (`app` asks for a whole core and 64Mi but uses about 0.2 core and 200Mi; `sidecar` asks for 10m and 512Mi
//! but uses about 30m and 24Mi), its VPA in `Recreate` mode, and a usage profile fed to the metrics store on
//! simulated time. A restart with the same checkpoints resumes the simulated clock at the newest checkpoint, so
//! the run continues where it stopped.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use ksx_core::cluster::{CustomObject, Kind, ListOptions, Object};
use ksx_core::metrics::ContainerUsage;
use ksx_core::{Clock, InMemoryCluster, InMemoryMetrics, ManualClock};
use ksx_scaling::vpa::config::RecommenderConfig;
use ksx_scaling::vpa::store::CheckpointStore;
use ksx_scaling::vpa::updater::{RateLimiter, vpa_kind};

use crate::recommender::{Recommender, nanos};
use crate::{Args, Line, Printer, updater_config, updates};

/// The namespace everything lives in.
pub(crate) const NAMESPACE: &str = "shop";
/// The Deployment and its VPA.
pub(crate) const NAME: &str = "checkout";
/// Start of simulated time on a fresh run (2026-01-01T00:00:00Z).
const START_SECS: i64 = 1_767_225_600;
/// Simulated seconds before the first loop: the pods start and report.
const WARMUP_SECS: i64 = 60;
/// Seconds pods take to become Ready.
const STARTUP_SECS: u32 = 10;
/// Replicas of the Deployment.
const REPLICAS: i32 = 3;
/// Working set of `app` and `sidecar`, bytes (flat: a JVM-like heap and a proxy).
const APP_MEMORY: f64 = 200.0 * 1024.0 * 1024.0;
/// See [`APP_MEMORY`].
const SIDECAR_MEMORY: f64 = 24.0 * 1024.0 * 1024.0;
/// Loops between orphan-checkpoint collections (10 minutes at the default interval).
const ORPHAN_EVERY: u64 = 10;

/// SplitMix64: a deterministic noise source from the seed and the minute, the same in every run and restart.
fn noise(seed: u64, minute: i64, stream: u64) -> f64 {
    let mut z = seed
        .wrapping_add(minute.cast_unsigned().wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(stream.wrapping_mul(0xBF58_476D_1CE4_E5B9));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    #[allow(
        clippy::cast_precision_loss,
        reason = "53 high bits into a fraction in [0, 1)"
    )]
    let fraction = (z >> 11) as f64 / (1_u64 << 53) as f64;
    fraction
}

/// CPU cores of one pod's containers at Unix second `t`: `app` swings ±0.06 around 0.18 core over two hours
/// plus up to 0.02 of noise, `sidecar` 0.02 plus up to 0.015. Every pod of the Deployment uses the same.
pub(crate) fn usage(seed: u64, t: i64) -> [ContainerUsage; 2] {
    let minute = t.div_euclid(60);
    #[allow(
        clippy::cast_precision_loss,
        reason = "seconds of a simulated run, far below 2^52"
    )]
    let phase = (t.rem_euclid(7200) as f64 / 7200.0) * std::f64::consts::TAU;
    [
        ContainerUsage {
            name: "app".to_owned(),
            cpu_cores: 0.06f64.mul_add(phase.sin(), 0.18) + 0.02 * noise(seed, minute, 1),
            memory_bytes: APP_MEMORY,
        },
        ContainerUsage {
            name: "sidecar".to_owned(),
            cpu_cores: 0.015f64.mul_add(noise(seed, minute, 2), 0.02),
            memory_bytes: SIDECAR_MEMORY,
        },
    ]
}

/// The scenario's objects: the namespace, the Deployment and its VPA.
pub(crate) fn objects() -> anyhow::Result<Vec<Object>> {
    let deployment = serde_json::json!({
        "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": {"app": NAME}},
        "spec": {
            "replicas": REPLICAS,
            "selector": {"matchLabels": {"app": NAME}},
            "template": {
                "metadata": {"labels": {"app": NAME},
                    "annotations": {ksx_core::cluster::memory::STARTUP_DELAY_ANNOTATION: STARTUP_SECS.to_string()}},
                "spec": {"containers": [
                    {"name": "app", "image": "registry.example.com/shop/checkout:2.3",
                     "resources": {"requests": {"cpu": "1", "memory": "64Mi"},
                                   "limits": {"cpu": "2", "memory": "128Mi"}}},
                    {"name": "sidecar", "image": "registry.example.com/mesh/proxy:1.9",
                     "resources": {"requests": {"cpu": "10m", "memory": "512Mi"}}}
                ]}
            }
        }
    });
    let mut vpa: CustomObject = serde_json::from_value(serde_json::json!({
        "metadata": {"name": NAME, "namespace": NAMESPACE},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": NAME},
            "updatePolicy": {"updateMode": "Recreate"}
        }
    }))?;
    vpa.kind = vpa_kind();
    Ok(vec![
        Object::from_json(
            &Kind::Namespace,
            serde_json::json!({"metadata": {"name": NAMESPACE}}),
        )?,
        Object::from_json(&Kind::Deployment, deployment)?,
        Object::Custom(vpa),
    ])
}

/// The cluster, the metrics store and their clock.
pub(crate) struct World {
    pub(crate) clock: ManualClock,
    pub(crate) cluster: Arc<InMemoryCluster>,
    pub(crate) metrics: Arc<InMemoryMetrics>,
    seed: u64,
}

impl World {
    /// The scenario at Unix second `start_secs`, warmed up for [`WARMUP_SECS`].
    pub(crate) fn build(seed: u64, start_secs: i64) -> anyhow::Result<Self> {
        let clock = ManualClock::at_unix_secs(start_secs - WARMUP_SECS);
        let cluster = Arc::new(InMemoryCluster::new(clock.clone(), seed));
        // Five-second controller steps: pods start in 10 s, and hours of simulated time stay cheap.
        cluster.set_tick(Duration::from_secs(5));
        cluster.add_node("node-a", "8", "32Gi")?;
        cluster.add_node("node-b", "8", "32Gi")?;
        for object in objects()? {
            cluster.apply(object)?;
        }
        let metrics = Arc::new(
            InMemoryMetrics::default()
                .with_clock(Arc::new(clock.clone()))
                .with_usage_window(Duration::from_secs(30)),
        );
        let world = Self {
            clock,
            cluster,
            metrics,
            seed,
        };
        world
            .cluster
            .advance(Duration::from_secs(WARMUP_SECS.unsigned_abs()));
        Ok(world)
    }

    /// Records every running pod's usage at the cluster's "now".
    pub(crate) fn feed(&self) -> anyhow::Result<()> {
        let now = Clock::now(self.cluster.clock());
        let mut live = Vec::new();
        for pod in pods(&self.cluster)? {
            let Some(name) = pod.metadata.name.clone() else {
                continue;
            };
            let running = pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
            if pod.metadata.deletion_timestamp.is_some() || !running {
                continue;
            }
            if let Some(labels) = &pod.metadata.labels {
                self.metrics
                    .set_pod_labels(NAMESPACE, &name, labels.clone());
            }
            self.metrics.record_pod_usage(
                NAMESPACE,
                &name,
                now,
                &usage(self.seed, now.as_second()),
            );
            live.push(name);
        }
        Ok(())
    }

    /// The Deployment's template requests and every pod's, as the final state line reports them.
    pub(crate) fn state(&self) -> anyhow::Result<serde_json::Value> {
        let deployment = self
            .cluster
            .get_sync(&Kind::Deployment, Some(NAMESPACE), NAME);
        let template = match &deployment {
            Some(Object::Deployment(Deployment {
                spec: Some(spec), ..
            })) => spec
                .template
                .spec
                .as_ref()
                .map(|s| requests_of(&s.containers))
                .unwrap_or_default(),
            _ => BTreeMap::new(),
        };
        let pods: Vec<serde_json::Value> = pods(&self.cluster)?
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .map(|p| {
                serde_json::json!({
                    "name": p.metadata.name,
                    "ready": is_ready(p),
                    "requests": p.spec.as_ref().map(|s| requests_of(&s.containers)).unwrap_or_default(),
                })
            })
            .collect();
        Ok(serde_json::json!({
            "kind": "state",
            "message": format!("{NAMESPACE}/{NAME}: template {} ; {} pods", serde_json::to_string(&template)?, pods.len()),
            "namespace": NAMESPACE,
            "deployment": NAME,
            "templateRequests": template,
            "pods": pods,
        }))
    }
}

/// Requests per container name: `{"app": {"cpu": "250m", …}}`.
pub(crate) fn requests_of(
    containers: &[k8s_openapi::api::core::v1::Container],
) -> BTreeMap<String, BTreeMap<String, String>> {
    containers
        .iter()
        .map(|c| {
            let requests = c
                .resources
                .as_ref()
                .and_then(|r| r.requests.as_ref())
                .map(|r| r.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect())
                .unwrap_or_default();
            (c.name.clone(), requests)
        })
        .collect()
}

fn pods(cluster: &InMemoryCluster) -> anyhow::Result<Vec<Pod>> {
    Ok(cluster
        .list_sync(&Kind::Pod, Some(NAMESPACE), &ListOptions::default())?
        .into_iter()
        .filter_map(|o| match o {
            Object::Pod(p) => Some(p),
            _ => None,
        })
        .collect())
}

pub(crate) fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

pub(super) async fn run(
    args: &Args,
    store: &dyn CheckpointStore,
    printer: &mut Printer,
) -> anyhow::Result<()> {
    let mut recommender = Recommender::new(RecommenderConfig::default());
    let restored = recommender.restore(store).await?;
    let start_secs = restored.newest_secs.unwrap_or(START_SECS);
    if restored.loaded > 0 || !restored.errors.is_empty() {
        let line = serde_json::json!({
            "kind": "restore",
            "message": format!("restored {} checkpoints, resuming at Unix second {start_secs}", restored.loaded),
            "loaded": restored.loaded,
            "resumeAt": crate::recommender::rfc3339(start_secs.saturating_mul(1_000_000_000)),
            "errors": restored.errors,
        });
        printer.print(&[Line::Other(&line)])?;
    }
    let world = World::build(args.seed, start_secs)?;
    let config = updater_config(args);
    let mut limiter = RateLimiter::new(args.eviction_rate_limit, args.eviction_rate_burst);
    let start = nanos(world.clock.now());
    let end = start_secs.saturating_add(secs(args.duration));
    let (rec_every, upd_every) = (secs(args.recommender_interval), secs(args.updater_interval));
    let (mut next_rec, mut next_upd) = (start_secs, start_secs);
    let mut loops = 0_u64;
    loop {
        let now_secs = world.clock.now().as_second();
        let now = nanos(world.clock.now());
        if now_secs >= next_rec {
            world.feed()?;
            let lines = recommender
                .step(world.cluster.as_ref(), world.metrics.as_ref(), now, start)
                .await?;
            printer.print(&lines.iter().map(Line::Recommendation).collect::<Vec<_>>())?;
            recommender.checkpoint(store, now).await?;
            loops += 1;
            if loops.is_multiple_of(ORPHAN_EVERY) {
                recommender.collect_orphans(store).await?;
            }
            next_rec += rec_every;
        }
        if now_secs >= next_upd {
            let lines =
                updates::step(world.cluster.as_ref(), &config, &mut limiter, now, start).await?;
            printer.print(&lines.iter().map(Line::Update).collect::<Vec<_>>())?;
            next_upd += upd_every;
        }
        let next = next_rec.min(next_upd);
        if next > end {
            break;
        }
        world
            .cluster
            .advance(Duration::from_secs((next - now_secs).unsigned_abs()));
    }
    let state = world.state()?;
    printer.print(&[Line::Other(&state)])?;
    Ok(())
}
