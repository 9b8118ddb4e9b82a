//! The demo's HPA section: a traffic spike and fall replayed through the HPA engine twice, once with the
//! upstream default behavior and once with a tuned one, and each run's replica counts applied to its own
//! Deployment on the demo's in-memory cluster so the report shows pods actually ready as well.
//!
//! The decisions come from [`ksx_scaling::hpa::simulate::simulate`] (a Pods metric with an AverageValue target,
//! the real replica calculator and normalization); nothing here computes replicas itself.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use ksx_core::InMemoryCluster;
use ksx_core::cluster::{ClusterWriter as _, Kind, TypedExt as _};
use ksx_scaling::hpa::contract::UnixTime;
use ksx_scaling::hpa::simulate::{LoadPoint, SimulateRequest, SimulatedStep, simulate};
use ksx_scaling::hpa::{HpaBehavior, HpaScalingPolicy, HpaScalingRules, SelectPolicy};
use serde::Serialize;

use super::generate;
use super::report::{lines, table};

/// Namespace of the two Deployments the HPA section scales.
const NAMESPACE: &str = "storefront";
/// The Deployment driven by the default behavior.
const DEFAULT_NAME: &str = "checkout-hpa-default";
/// The Deployment driven by the tuned behavior.
const TUNED_NAME: &str = "checkout-hpa-tuned";

/// Seconds between HPA syncs (the upstream `--horizontal-pod-autoscaler-sync-period` default).
const SYNC_SECS: u64 = 15;
/// The load each pod should carry (the AverageValue target), in requests per second.
const TARGET_PER_POD: f64 = 100.0;
/// `spec.minReplicas` and `spec.maxReplicas` of both HPAs.
const MIN_REPLICAS: i32 = 2;
/// See [`MIN_REPLICAS`].
pub(crate) const MAX_REPLICAS: i32 = 30;
/// Requests per second outside the spike: three pods' worth.
const BASELINE: f64 = 300.0;
/// Requests per second during the spike: eight times the baseline.
const SPIKE: f64 = 2400.0;
/// When the spike starts and when the load falls back, in seconds since the start.
const SPIKE_AT: i64 = 300;
/// See [`SPIKE_AT`].
const FALL_AT: i64 = 900;

/// The traffic: baseline, a sharp spike to 8×, a ten-minute plateau, a fall back to baseline, a brief second
/// blip at 4× for one minute, and quiet until minute 40.
fn timeline() -> Vec<LoadPoint> {
    [
        (0, BASELINE),
        (SPIKE_AT, SPIKE),
        (FALL_AT, BASELINE),
        (1800, 4.0 * BASELINE),
        (1860, BASELINE),
        (2400, BASELINE),
    ]
    .into_iter()
    .map(|(secs, load)| LoadPoint {
        t: UnixTime::from_secs(secs),
        load,
    })
    .collect()
}

/// The tuned behavior: scale up at once by up to 10 pods or 100 % per 15 s (whichever is more), and scale down
/// after only a 60 s window, by at most 20 % per minute.
fn tuned_behavior() -> HpaBehavior {
    HpaBehavior {
        scale_up: Some(HpaScalingRules {
            stabilization_window_seconds: Some(0),
            select_policy: Some(SelectPolicy::Max),
            policies: Some(vec![
                HpaScalingPolicy::pods(10, 15),
                HpaScalingPolicy::percent(100, 15),
            ]),
            tolerance: None,
        }),
        scale_down: Some(HpaScalingRules {
            stabilization_window_seconds: Some(60),
            select_policy: Some(SelectPolicy::Max),
            policies: Some(vec![HpaScalingPolicy::percent(20, 60)]),
            tolerance: None,
        }),
    }
}

/// The `ksx hpa simulate` request both runs share; only the behavior differs.
fn request(behavior: HpaBehavior) -> SimulateRequest {
    SimulateRequest {
        initial_replicas: 3,
        min_replicas: MIN_REPLICAS,
        max_replicas: MAX_REPLICAS,
        target_per_pod: TARGET_PER_POD,
        behavior: Some(behavior),
        sync_period_seconds: i64::try_from(SYNC_SECS).unwrap_or(15),
        downscale_stabilization_window_seconds: 300,
        tolerance: 0.1,
        timeline: timeline(),
    }
}

/// The series the report charts, one value per sync.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct HpaSeries {
    /// Load divided by the per-pod target: the replicas the raw metric asks for before rounding and limits.
    pub(crate) load_in_pods: Vec<f64>,
    /// Replicas decided with the default behavior.
    pub(crate) replicas_default: Vec<i32>,
    /// Replicas decided with the tuned behavior.
    pub(crate) replicas_tuned: Vec<i32>,
    /// Ready pods of the Deployment scaled by the default behavior, read after each sync period.
    pub(crate) ready_default: Vec<i32>,
    /// Ready pods of the Deployment scaled by the tuned behavior.
    pub(crate) ready_tuned: Vec<i32>,
}

/// What the two HPA runs did, as figures for the summary; the series ride along for the report only.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HpaTrace {
    /// Seconds between syncs.
    pub(crate) sync_period_seconds: u64,
    /// `spec.maxReplicas` of both HPAs.
    pub(crate) max_replicas: i32,
    /// The most replicas the default behavior asked for.
    pub(crate) peak_replicas_default: i32,
    /// The most replicas the tuned behavior asked for.
    pub(crate) peak_replicas_tuned: i32,
    /// Replica-minutes spent over the whole timeline with the default behavior (what the pods cost).
    pub(crate) replica_minutes_default: f64,
    /// Replica-minutes spent with the tuned behavior.
    pub(crate) replica_minutes_tuned: f64,
    /// Seconds from the start of the spike until the default behavior first covered it (replicas ≥ load ÷
    /// target); `None` if it never did.
    pub(crate) seconds_to_cover_spike_default: Option<i64>,
    /// The same for the tuned behavior.
    pub(crate) seconds_to_cover_spike_tuned: Option<i64>,
    /// Seconds from the fall of the load until the default behavior first removed a replica.
    pub(crate) seconds_to_scale_down_default: Option<i64>,
    /// The same for the tuned behavior.
    pub(crate) seconds_to_scale_down_tuned: Option<i64>,
    /// The most pods ready at once on the cluster for the default behavior's Deployment.
    pub(crate) peak_ready_default: i32,
    /// The same for the tuned behavior's Deployment.
    pub(crate) peak_ready_tuned: i32,
    /// The per-sync series, for the report.
    #[serde(skip)]
    pub(crate) series: HpaSeries,
}

/// Runs both behaviors through the engine, applies each run's replicas to its Deployment on `cluster` sync by
/// sync, and collects the figures. Advances the cluster's clock by the length of the timeline.
///
/// # Errors
/// An engine rejecting the request, or the cluster failing to create, scale or read a Deployment.
pub(crate) async fn run(cluster: &InMemoryCluster) -> anyhow::Result<HpaTrace> {
    let default_steps = simulate(&request(HpaBehavior::default()))?;
    let tuned_steps = simulate(&request(tuned_behavior()))?;

    for name in [DEFAULT_NAME, TUNED_NAME] {
        cluster
            .create(ksx_core::Object::Deployment(deployment(name, 3)))
            .await?;
    }
    // A coarser simulator tick keeps 40 simulated minutes of the whole platform cheap; pods still start after
    // their 20 s delay (rounded up to the tick), and the tick is restored afterwards.
    let tick = cluster.tick();
    cluster.set_tick(Duration::from_secs(5));
    let mut ready_default = Vec::with_capacity(default_steps.len());
    let mut ready_tuned = Vec::with_capacity(tuned_steps.len());
    for (d, t) in default_steps.iter().zip(&tuned_steps) {
        cluster
            .scale(&Kind::Deployment, NAMESPACE, DEFAULT_NAME, d.replicas)
            .await?;
        cluster
            .scale(&Kind::Deployment, NAMESPACE, TUNED_NAME, t.replicas)
            .await?;
        cluster.advance(Duration::from_secs(SYNC_SECS));
        ready_default.push(ready_replicas(cluster, DEFAULT_NAME).await?);
        ready_tuned.push(ready_replicas(cluster, TUNED_NAME).await?);
    }
    cluster.set_tick(tick);

    let replicas = |steps: &[SimulatedStep]| steps.iter().map(|s| s.replicas).collect::<Vec<_>>();
    let series = HpaSeries {
        load_in_pods: default_steps
            .iter()
            .map(|s| s.load / TARGET_PER_POD)
            .collect(),
        replicas_default: replicas(&default_steps),
        replicas_tuned: replicas(&tuned_steps),
        ready_default,
        ready_tuned,
    };
    Ok(HpaTrace {
        sync_period_seconds: SYNC_SECS,
        max_replicas: MAX_REPLICAS,
        peak_replicas_default: peak(&series.replicas_default),
        peak_replicas_tuned: peak(&series.replicas_tuned),
        replica_minutes_default: replica_minutes(&series.replicas_default),
        replica_minutes_tuned: replica_minutes(&series.replicas_tuned),
        seconds_to_cover_spike_default: seconds_to_cover_spike(&default_steps),
        seconds_to_cover_spike_tuned: seconds_to_cover_spike(&tuned_steps),
        seconds_to_scale_down_default: seconds_to_scale_down(&default_steps),
        seconds_to_scale_down_tuned: seconds_to_scale_down(&tuned_steps),
        peak_ready_default: peak(&series.ready_default),
        peak_ready_tuned: peak(&series.ready_tuned),
        series,
    })
}

/// A small Deployment for one HPA run; pods take 20 s to start, longer than a sync period, so the ready pods
/// visibly trail the decisions on the way up.
fn deployment(name: &str, replicas: i32) -> Deployment {
    let json = serde_json::json!({
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}, "annotations": {generate::STARTUP_ANNOTATION: "20"}},
                "spec": {"containers": [{
                    "name": "main",
                    "image": "registry.example.com/retail/checkout:3.4.0",
                    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}
                }]}
            }
        }
    });
    serde_json::from_value(json).unwrap_or_default()
}

/// `status.readyReplicas` of one of the section's Deployments.
async fn ready_replicas(cluster: &InMemoryCluster, name: &str) -> anyhow::Result<i32> {
    let Some(d) = cluster
        .get_typed::<Deployment>(Some(NAMESPACE), name)
        .await?
    else {
        anyhow::bail!("deployment {NAMESPACE}/{name} disappeared during the demo HPA run");
    };
    Ok(d.status.and_then(|s| s.ready_replicas).unwrap_or(0))
}

fn peak(values: &[i32]) -> i32 {
    values.iter().copied().max().unwrap_or(0)
}

/// Each sync's count holds for one sync period.
fn replica_minutes(replicas: &[i32]) -> f64 {
    let secs: i64 = replicas.iter().map(|r| i64::from(*r)).sum::<i64>()
        * i64::try_from(SYNC_SECS).unwrap_or(15);
    secs as f64 / 60.0
}

/// Seconds from [`SPIKE_AT`] to the first sync whose replicas carry the spike at the target.
fn seconds_to_cover_spike(steps: &[SimulatedStep]) -> Option<i64> {
    let start = UnixTime::from_secs(SPIKE_AT).nanos();
    steps
        .iter()
        .filter(|s| s.t.nanos() >= start)
        .find(|s| f64::from(s.replicas) * TARGET_PER_POD >= s.load)
        .map(|s| (s.t.nanos() - start) / UnixTime::from_secs(1).nanos())
}

/// Seconds from [`FALL_AT`] to the first sync with fewer replicas than just before the fall.
fn seconds_to_scale_down(steps: &[SimulatedStep]) -> Option<i64> {
    let start = UnixTime::from_secs(FALL_AT).nanos();
    let before = steps.iter().rev().find(|s| s.t.nanos() < start)?.replicas;
    steps
        .iter()
        .filter(|s| s.t.nanos() >= start)
        .find(|s| s.replicas < before)
        .map(|s| (s.t.nanos() - start) / UnixTime::from_secs(1).nanos())
}

fn secs(v: Option<i64>) -> String {
    v.map_or_else(|| "never".to_owned(), |s| format!("{s}s"))
}

/// The summary lines for the terminal.
pub(crate) fn print_summary(h: &HpaTrace) {
    outln!(
        "hpa spike ×8 then fall (max {}): default behavior peaks at {} replicas, covers the spike in {}, scales down {} after the fall, {:.0} replica-minutes",
        h.max_replicas,
        h.peak_replicas_default,
        secs(h.seconds_to_cover_spike_default),
        secs(h.seconds_to_scale_down_default),
        h.replica_minutes_default
    );
    outln!(
        "hpa tuned behavior: peaks at {} replicas, covers the spike in {}, scales down {} after the fall, {:.0} replica-minutes",
        h.peak_replicas_tuned,
        secs(h.seconds_to_cover_spike_tuned),
        secs(h.seconds_to_scale_down_tuned),
        h.replica_minutes_tuned
    );
}

/// The HTML body of the report's "HPA: spike and fall" section.
pub(crate) fn section(h: &HpaTrace) -> String {
    let s = &h.series;
    let to_f = |v: &[i32]| v.iter().map(|x| f64::from(*x)).collect::<Vec<_>>();
    let mut body = format!(
        "<p>Traffic on a checkout service: {base:.0} requests/s, a spike to {spike:.0} requests/s at {spike_at} s, \
         a plateau, a fall back at {fall_at} s and a one-minute blip at 4× at 1800 s, over 40 minutes. Each pod \
         should carry {target:.0} requests/s (a Pods metric with an AverageValue target), between {min} and {max} \
         replicas, synced every {sync} s. The replica counts come from the ksx HPA engine (the replica calculator \
         and behavior normalization, simulated with pods taking effect at once); each run's counts are then applied \
         through the scale subresource to its own Deployment on the in-memory cluster, whose pods take 20 s to \
         start; the ready pods read after each sync are charted too.</p>",
        base = BASELINE,
        spike = SPIKE,
        spike_at = SPIKE_AT,
        fall_at = FALL_AT,
        target = TARGET_PER_POD,
        min = MIN_REPLICAS,
        max = h.max_replicas,
        sync = h.sync_period_seconds,
    );
    body.push_str(
        "<p><b>Default behavior</b> (upstream): scale up by max(4 pods, 100 %) per 15 s with no window; scale \
         down after a 300 s stabilization window, then by up to 100 % per 15 s. <b>Tuned</b>: scale up by \
         max(10 pods, 100 %) per 15 s; scale down after a 60 s window by at most 20 % per minute. The tuned HPA \
         covers the spike sooner, starts shedding pods four minutes earlier and steps down gradually instead of \
         dropping all at once, so it spends fewer replica-minutes. The default holds the peak through its whole \
         300 s window and then drops to the minimum the load needs in one step.</p>",
    );
    let rows = vec![
        vec![
            "default".to_owned(),
            h.peak_replicas_default.to_string(),
            secs(h.seconds_to_cover_spike_default),
            secs(h.seconds_to_scale_down_default),
            format!("{:.1}", h.replica_minutes_default),
            h.peak_ready_default.to_string(),
        ],
        vec![
            "tuned".to_owned(),
            h.peak_replicas_tuned.to_string(),
            secs(h.seconds_to_cover_spike_tuned),
            secs(h.seconds_to_scale_down_tuned),
            format!("{:.1}", h.replica_minutes_tuned),
            h.peak_ready_tuned.to_string(),
        ],
    ];
    body.push_str(&table(
        &[
            "behavior",
            "peak replicas",
            "spike covered after",
            "first scale-down after the fall",
            "replica-minutes",
            "peak ready pods",
        ],
        &rows,
    ));
    body.push_str(&lines(
        &format!("syncs ({} s each)", h.sync_period_seconds),
        &[
            ("load ÷ target per pod", "#9fb3c8", s.load_in_pods.clone()),
            ("replicas, default", "#d9822b", to_f(&s.replicas_default)),
            ("replicas, tuned", "#3b82c4", to_f(&s.replicas_tuned)),
            ("ready pods, default", "#f0b37e", to_f(&s.ready_default)),
            ("ready pods, tuned", "#2f9e44", to_f(&s.ready_tuned)),
        ],
    ));
    body.push_str(
        "<p>Replica-minutes: the sum over syncs of replicas × sync period, which is what the pods cost.</p>",
    );
    body
}
