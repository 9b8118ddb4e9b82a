//! The KEDA loop over the seams: each object is due every `pollingInterval`; the triggers of all due objects
//! are polled at once (one task each, every poll bounded by the timeout, so a failing or slow scaler never holds
//! up the others); each ScaledObject's cycle ([`crate::cycle::step`]) decides, the replica count goes to the
//! target through the cluster seam, and one line per decision is printed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ksx_core::cluster::{ClusterReader, ClusterWriter, Kind, ListOptions, Object};
use ksx_core::{Clock, InMemoryCluster};
use ksx_scaling::event::executor::{TriggerPoll, format_time};
use ksx_scaling::event::hpa_bridge::{GeneratedHpa, generate_hpa};
use ksx_scaling::event::job::decide_jobs;
use ksx_scaling::event::model::{ScaleTrigger, ScaledJob, ScaledObject};
use ksx_scaling::event::scaler::{MetricSpec, Reading, Scaler, ScalerError};
use ksx_scaling::event::scalers::redis::RedisPollers;
use ksx_scaling::event::scalers::{ScalerContext, build};
use ksx_scaling::hpa::pod::PodInfo;
use serde::Serialize;

use crate::cycle::{HpaPhase, ObjectState, Observed, action_reason, hpa_reason, step};
use crate::load::{InputError, Loaded, Manifests, target_kind};
use crate::metrics::PollMetrics;

const NANOS_PER_SEC: i64 = 1_000_000_000;

/// One trigger as printed.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TriggerLine {
    pub(crate) index: usize,
    #[serde(rename = "type")]
    pub(crate) trigger_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    /// External metric name (`s0-redis-jobs`), or the resource for cpu/memory.
    pub(crate) metric: String,
    /// Target per pod (AverageValue) or in total (Value).
    pub(crate) target: f64,
    /// Active when the value is strictly above this.
    pub(crate) activation: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) value: Option<f64>,
    pub(crate) active: bool,
    /// How long the poll took, in milliseconds.
    pub(crate) latency_ms: f64,
    /// Failed polls of this trigger since the start.
    pub(crate) errors: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
}

/// A condition as printed.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ConditionLine {
    #[serde(rename = "type")]
    pub(crate) condition_type: String,
    pub(crate) status: String,
    pub(crate) reason: String,
}

/// One External metric the HPA read.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ServedLine {
    pub(crate) metric: String,
    /// The value (`None` when the HPA got an error instead).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) value: Option<f64>,
    /// True when the value comes from the fallback.
    pub(crate) fallback: bool,
}

/// One decision, as printed.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DecisionLine {
    /// RFC 3339.
    pub(crate) time: String,
    pub(crate) elapsed_seconds: i64,
    /// `ScaledObject` or `ScaledJob`.
    pub(crate) kind: &'static str,
    pub(crate) namespace: String,
    pub(crate) name: String,
    /// `Deployment/worker`, or `Job` for ScaledJobs.
    pub(crate) target: String,
    pub(crate) polling_interval_seconds: i32,
    pub(crate) triggers: Vec<TriggerLine>,
    pub(crate) active: bool,
    /// The executor's action (`ScaleFromZero`, `Cooldown`…), or `CreateJobs` / `NoJobs`.
    pub(crate) action: String,
    /// Replicas (or running jobs) before the cycle.
    pub(crate) current_replicas: i32,
    /// After KEDA's own 0↔1 / cooldown step (ScaledObjects).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) activation_replicas: Option<i32>,
    /// Written to the target (ScaledObjects), or running jobs after the creations (ScaledJobs).
    pub(crate) desired_replicas: i32,
    /// `scaled`, `held`, `scalingDisabled` or `deleted` (ScaledObjects).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) hpa: Option<&'static str>,
    /// Jobs created this cycle (ScaledJobs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) jobs_created: Option<i64>,
    pub(crate) reason: String,
    /// The ScaledObject's conditions (Ready, Active, Fallback, Paused).
    pub(crate) conditions: Vec<ConditionLine>,
    /// The generated HPA's conditions.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) hpa_conditions: Vec<ConditionLine>,
    /// The External values the generated HPA read this cycle (after the fallback).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) served: Vec<ServedLine>,
    /// The first trigger error, or why the target could not be read or written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
}

/// A trigger's poller: a real scaler, or nothing for cpu/memory (always active, never polled by KEDA).
#[derive(Clone)]
struct TriggerSlot {
    scaler: Option<Arc<dyn Scaler>>,
    spec: MetricSpec,
    errors: u64,
}

/// A ScaledObject's fixed parts and its state between cycles.
struct ObjectWork {
    object: ScaledObject,
    kind: Kind,
    hpa: GeneratedHpa,
    state: ObjectState,
}

enum Work {
    Object(Box<ObjectWork>),
    Job {
        object: Box<ScaledJob>,
        running: i64,
    },
}

struct Entry {
    namespace: String,
    name: String,
    polling_secs: i32,
    triggers: Vec<ScaleTrigger>,
    slots: Vec<TriggerSlot>,
    next_due: i64,
    work: Work,
}

/// A finished poll.
struct Polled {
    entry: usize,
    trigger: usize,
    result: Result<Reading, ScalerError>,
    latency: Duration,
}

/// The loop's settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LoopSettings {
    pub(crate) once: bool,
    /// `None`: until interrupted.
    pub(crate) duration: Option<Duration>,
    pub(crate) poll_timeout: Duration,
}

/// The loop over any cluster. `memory` is the in-memory cluster when it is the one used: its simulated time is
/// moved along with the wall clock, so its pods start and stop.
pub(crate) struct Driver<C> {
    cluster: Arc<C>,
    memory: Option<Arc<InMemoryCluster>>,
    clock: Arc<dyn Clock>,
    entries: Vec<Entry>,
    metrics: PollMetrics,
}

fn nanos(t: jiff::Timestamp) -> i64 {
    i64::try_from(t.as_nanosecond()).unwrap_or(i64::MAX)
}

fn secs_to_nanos(s: i32) -> i64 {
    i64::from(s.max(1)).saturating_mul(NANOS_PER_SEC)
}

/// Builds the scalers of one object's triggers.
fn slots(
    place: &str,
    what: &str,
    triggers: &[ScaleTrigger],
    ctx: &ScalerContext,
    errors: &mut Vec<String>,
) -> Vec<TriggerSlot> {
    let mut out = Vec::with_capacity(triggers.len());
    for (i, t) in triggers.iter().enumerate() {
        if t.is_resource() {
            out.push(TriggerSlot {
                scaler: None,
                spec: MetricSpec {
                    metric_name: t.type_.clone(),
                    metric_type: t.metric_type().into(),
                    target: 0.0,
                    activation: 0.0,
                },
                errors: 0,
            });
            continue;
        }
        match build(i, t, ctx) {
            Ok(s) => {
                let scaler: Arc<dyn Scaler> = Arc::from(s);
                out.push(TriggerSlot {
                    spec: scaler.metric_spec().clone(),
                    scaler: Some(scaler),
                    errors: 0,
                });
            }
            Err(e) => errors.push(format!("{place}: {what}: spec.{e}")),
        }
    }
    out
}

impl<C: ClusterReader + ClusterWriter + Send + Sync + 'static> Driver<C> {
    /// Builds every scaler and HPA.
    ///
    /// # Errors
    /// [`InputError`] naming the object and trigger whose scaler or HPA cannot be built.
    pub(crate) fn new(
        cluster: Arc<C>,
        memory: Option<Arc<InMemoryCluster>>,
        clock: Arc<dyn Clock>,
        manifests: &Manifests,
        metrics: PollMetrics,
    ) -> Result<Self, InputError> {
        let redis = Arc::new(RedisPollers::new());
        let now = nanos(clock.now());
        let mut errors = Vec::new();
        let mut entries = Vec::new();
        for Loaded {
            place,
            namespace,
            object,
        } in &manifests.scaled_objects
        {
            let what = format!("ScaledObject {}", object.name());
            let ctx = ScalerContext {
                namespace: namespace.clone(),
                redis: Some(Arc::clone(&redis)),
                ..ScalerContext::default()
            };
            let slots = slots(place, &what, &object.spec.triggers, &ctx, &mut errors);
            if slots.len() != object.spec.triggers.len() {
                continue;
            }
            let specs: Vec<MetricSpec> = slots.iter().map(|s| s.spec.clone()).collect();
            let hpa = match generate_hpa(object, &specs) {
                Ok(h) => h,
                Err(e) => {
                    errors.push(format!("{place}: {what}: {e}"));
                    continue;
                }
            };
            let target = &object.spec.scale_target_ref;
            let kind = match target_kind(target.api_version(), target.kind()) {
                Ok(k) => k,
                Err(why) => {
                    errors.push(format!("{place}: {what}: spec.scaleTargetRef.kind: {why}"));
                    continue;
                }
            };
            entries.push(Entry {
                namespace: namespace.clone(),
                name: object.name().to_owned(),
                polling_secs: object.polling_interval_secs(),
                triggers: object.spec.triggers.clone(),
                slots,
                next_due: now,
                work: Work::Object(Box::new(ObjectWork {
                    object: object.clone(),
                    kind,
                    hpa,
                    state: ObjectState::default(),
                })),
            });
        }
        for Loaded {
            place,
            namespace,
            object,
        } in &manifests.scaled_jobs
        {
            let what = format!("ScaledJob {}", object.name());
            let ctx = ScalerContext {
                namespace: namespace.clone(),
                redis: Some(Arc::clone(&redis)),
                ..ScalerContext::default()
            };
            let slots = slots(place, &what, &object.spec.triggers, &ctx, &mut errors);
            if slots.len() != object.spec.triggers.len() {
                continue;
            }
            entries.push(Entry {
                namespace: namespace.clone(),
                name: object.name().to_owned(),
                polling_secs: object.polling_interval_secs(),
                triggers: object.spec.triggers.clone(),
                slots,
                next_due: now,
                work: Work::Job {
                    object: Box::new(object.clone()),
                    running: 0,
                },
            });
        }
        let mut seen = BTreeMap::new();
        for e in &entries {
            let kind = match e.work {
                Work::Object(_) => "ScaledObject",
                Work::Job { .. } => "ScaledJob",
            };
            if seen
                .insert((kind, e.namespace.clone(), e.name.clone()), ())
                .is_some()
            {
                errors.push(format!(
                    "{kind} {}/{} is defined more than once",
                    e.namespace, e.name
                ));
            }
        }
        if !errors.is_empty() {
            return Err(InputError(errors));
        }
        entries.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        Ok(Self {
            cluster,
            memory,
            clock,
            entries,
            metrics,
        })
    }

    /// Runs until `--once` is done or `--duration` is over, handing each cycle's lines to `print`.
    ///
    /// # Errors
    /// Only what `print` returns; cluster and scaler failures are reported in the lines.
    pub(crate) async fn run(
        &mut self,
        settings: LoopSettings,
        mut print: impl FnMut(&[DecisionLine]) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let start = nanos(self.clock.now());
        let end = settings.duration.map_or(i64::MAX, |d| {
            start.saturating_add(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        });
        loop {
            let now = nanos(self.clock.now());
            self.catch_up_memory(now);
            let due: Vec<usize> = (0..self.entries.len())
                .filter(|i| self.entries.get(*i).is_some_and(|e| e.next_due <= now))
                .collect();
            let lines = self.cycle(&due, now, start, settings.poll_timeout).await;
            print(&lines)?;
            if settings.once {
                return Ok(());
            }
            let Some(next) = self.entries.iter().map(|e| e.next_due).min() else {
                return Ok(());
            };
            if next > end {
                return Ok(());
            }
            let wait = u64::try_from(next.saturating_sub(nanos(self.clock.now()))).unwrap_or(0);
            tokio::time::sleep(Duration::from_nanos(wait)).await;
        }
    }

    /// Moves the in-memory cluster's simulated time up to the wall clock.
    fn catch_up_memory(&self, now: i64) {
        if let Some(m) = &self.memory {
            let behind = now.saturating_sub(nanos(m.clock().now()));
            if behind > 0 {
                m.advance(Duration::from_nanos(u64::try_from(behind).unwrap_or(0)));
            }
        }
    }

    /// Polls every trigger of the due entries at once and decides each entry.
    async fn cycle(
        &mut self,
        due: &[usize],
        now: i64,
        start: i64,
        timeout: Duration,
    ) -> Vec<DecisionLine> {
        let mut tasks = tokio::task::JoinSet::new();
        for &i in due {
            let Some(entry) = self.entries.get(i) else {
                continue;
            };
            for (t, slot) in entry.slots.iter().enumerate() {
                let Some(scaler) = slot.scaler.clone() else {
                    continue;
                };
                let place = format!(
                    "triggers[{t}] ({})",
                    entry.triggers.get(t).map_or("", |x| x.type_.as_str())
                );
                tasks.spawn(async move {
                    let began = tokio::time::Instant::now();
                    // The scalers bound themselves; this outer bound keeps a misbehaving one from stalling the
                    // cycle all the same.
                    let result =
                        match tokio::time::timeout(timeout, scaler.poll(now, timeout)).await {
                            Ok(r) => r,
                            Err(_) => Err(ScalerError::new(
                                place,
                                format!("timed out after {} ms", timeout.as_millis()),
                            )),
                        };
                    Polled {
                        entry: i,
                        trigger: t,
                        result,
                        latency: began.elapsed(),
                    }
                });
            }
        }
        let mut results: BTreeMap<(usize, usize), (Result<Reading, ScalerError>, Duration)> =
            BTreeMap::new();
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok(p) => {
                    results.insert((p.entry, p.trigger), (p.result, p.latency));
                }
                Err(e) => tracing::warn!(error = %e, "a poll task failed"),
            }
        }
        let mut lines = Vec::with_capacity(due.len());
        for &i in due {
            let Some(entry) = self.entries.get_mut(i) else {
                continue;
            };
            let mut polls = Vec::with_capacity(entry.slots.len());
            let mut triggers = Vec::with_capacity(entry.slots.len());
            for (t, slot) in entry.slots.iter_mut().enumerate() {
                let trigger = entry.triggers.get(t);
                let (result, latency) = match (&slot.scaler, results.remove(&(i, t))) {
                    (None, _) => (
                        Ok(Reading {
                            value: 0.0,
                            active: true,
                        }),
                        Duration::ZERO,
                    ),
                    (Some(_), Some(r)) => r,
                    (Some(_), None) => (
                        Err(ScalerError::new(
                            format!("triggers[{t}]"),
                            "the poll task did not finish",
                        )),
                        Duration::ZERO,
                    ),
                };
                if slot.scaler.is_some() {
                    if result.is_err() {
                        slot.errors += 1;
                    }
                    self.metrics.record(
                        &entry.namespace,
                        &entry.name,
                        &slot.spec.metric_name,
                        result.is_ok(),
                        latency,
                    );
                }
                triggers.push(TriggerLine {
                    index: t,
                    trigger_type: trigger.map(|x| x.type_.clone()).unwrap_or_default(),
                    name: trigger.and_then(|x| x.name.clone()),
                    metric: slot.spec.metric_name.clone(),
                    target: slot.spec.target,
                    activation: slot.spec.activation,
                    value: result
                        .as_ref()
                        .ok()
                        .filter(|_| slot.scaler.is_some())
                        .map(|r| r.value),
                    active: result.as_ref().is_ok_and(|r| r.active),
                    latency_ms: latency.as_secs_f64() * 1000.0,
                    errors: slot.errors,
                    error: result.as_ref().err().map(ToString::to_string),
                });
                polls.push(TriggerPoll {
                    metric: slot.spec.clone(),
                    result,
                });
            }
            entry.next_due = now.saturating_add(secs_to_nanos(entry.polling_secs));
            let mut line = DecisionLine {
                time: format_time(now),
                elapsed_seconds: (now - start) / NANOS_PER_SEC,
                kind: "ScaledObject",
                namespace: entry.namespace.clone(),
                name: entry.name.clone(),
                target: String::new(),
                polling_interval_seconds: entry.polling_secs,
                error: triggers.iter().find_map(|t| t.error.clone()),
                triggers,
                active: false,
                action: String::new(),
                current_replicas: 0,
                activation_replicas: None,
                desired_replicas: 0,
                hpa: None,
                jobs_created: None,
                reason: String::new(),
                conditions: Vec::new(),
                hpa_conditions: Vec::new(),
                served: Vec::new(),
            };
            match &mut entry.work {
                Work::Object(work) => {
                    decide_object(
                        self.cluster.as_ref(),
                        &entry.namespace,
                        work,
                        &polls,
                        now,
                        &mut line,
                    )
                    .await;
                }
                Work::Job { object, running } => {
                    let d = decide_jobs(object, &polls, *running, 0);
                    line.kind = "ScaledJob";
                    line.target = "Job".to_owned();
                    line.active = d.active;
                    line.current_replicas = i32::try_from(*running).unwrap_or(i32::MAX);
                    *running = running.saturating_add(d.create);
                    line.desired_replicas = i32::try_from(*running).unwrap_or(i32::MAX);
                    line.jobs_created = Some(d.create);
                    line.action = if d.create > 0 { "CreateJobs" } else { "NoJobs" }.to_owned();
                    line.reason = format!(
                        "queue {} (scaleTo {}, maxScale {}, effectiveMaxScale {}): create {} job(s); jobs are counted, \
                         not run, by event-scaler",
                        d.queue_length, d.scale_to, d.max_scale, d.effective_max_scale, d.create
                    );
                }
            }
            lines.push(line);
        }
        lines
    }
}

/// What the scale subresource of a target says.
struct Scale {
    spec_replicas: i32,
    status_replicas: i32,
    selector: String,
}

async fn decide_object<C: ClusterReader + ClusterWriter>(
    cluster: &C,
    namespace: &str,
    work: &mut ObjectWork,
    polls: &[TriggerPoll],
    now: i64,
    line: &mut DecisionLine,
) {
    let ObjectWork {
        object: so,
        kind,
        hpa,
        state,
    } = work;
    let so = &*so;
    let target = &so.spec.scale_target_ref;
    line.target = format!("{}/{}", target.kind(), target.name);
    let scale = match read_scale(cluster, namespace, kind, &target.name).await {
        Ok(s) => s,
        Err(e) => {
            line.action = "TargetUnavailable".to_owned();
            line.reason = "the target's scale cannot be read: nothing is decided".to_owned();
            line.error = Some(e.to_string());
            return;
        }
    };
    let pods = match read_pods(cluster, namespace, &scale.selector).await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(namespace, name = so.name(), error = %e, "cannot list the target's pods");
            Vec::new()
        }
    };
    let seen = Observed {
        now,
        current_replicas: scale.spec_replicas,
        status_replicas: scale.status_replicas,
        pods: &pods,
    };
    line.current_replicas = scale.spec_replicas;
    let outcome = match step(so, hpa, state, polls, &seen) {
        Ok(o) => o,
        Err(e) => {
            line.action = "Error".to_owned();
            line.reason = "the executor refused the cycle".to_owned();
            line.error = Some(e.to_string());
            return;
        }
    };
    line.active = outcome.decision.active;
    line.action = format!("{:?}", outcome.decision.action);
    line.activation_replicas = Some(outcome.after_activation);
    line.desired_replicas = outcome.desired_replicas;
    line.hpa = Some(outcome.hpa.label());
    line.reason = format!(
        "{}; {}",
        action_reason(so, &outcome, scale.spec_replicas),
        hpa_reason(&outcome)
    );
    line.conditions = outcome
        .decision
        .status
        .conditions
        .iter()
        .map(|c| ConditionLine {
            condition_type: c.type_.clone(),
            status: c.status.clone(),
            reason: c.reason.clone().unwrap_or_default(),
        })
        .collect();
    if let HpaPhase::Scaled { conditions } = &outcome.hpa {
        // Upstream sets some conditions twice in one reconcile (AbleToScale); the status keeps the last one.
        for c in conditions {
            let printed = ConditionLine {
                condition_type: c.condition_type.clone(),
                status: if c.status { "True" } else { "False" }.to_owned(),
                reason: c.reason.clone(),
            };
            match line
                .hpa_conditions
                .iter_mut()
                .find(|x| x.condition_type == c.condition_type)
            {
                Some(x) => *x = printed,
                None => line.hpa_conditions.push(printed),
            }
        }
    }
    line.served = outcome
        .served
        .iter()
        .map(|m| ServedLine {
            metric: m.name.clone(),
            #[allow(clippy::cast_precision_loss, reason = "milli-units far below 2^53")]
            value: m.value.as_ref().ok().map(|v| *v as f64 / 1000.0),
            fallback: m.fallback,
        })
        .collect();
    if line.error.is_none()
        && let HpaPhase::Held { error } = &outcome.hpa
    {
        line.error = Some(error.clone());
    }
    if outcome.desired_replicas != scale.spec_replicas
        && let Err(e) = cluster
            .scale(kind, namespace, &target.name, outcome.desired_replicas)
            .await
    {
        line.error = Some(format!("cannot write the scale: {e}"));
    }
}

async fn read_scale<C: ClusterReader>(
    cluster: &C,
    namespace: &str,
    kind: &Kind,
    name: &str,
) -> anyhow::Result<Scale> {
    let object = cluster
        .get(kind, Some(namespace), name)
        .await?
        .ok_or_else(|| anyhow::anyhow!("{kind} {namespace}/{name} not found"))?;
    let view = object
        .scale_view()?
        .ok_or_else(|| anyhow::anyhow!("{} has no scale subresource", object.kind()))?;
    Ok(Scale {
        spec_replicas: view.spec_replicas,
        status_replicas: view.status_replicas,
        selector: view.selector,
    })
}

/// The target's pods in the HPA engine's view; none when the selector is empty.
async fn read_pods<C: ClusterReader>(
    cluster: &C,
    namespace: &str,
    selector: &str,
) -> anyhow::Result<Vec<PodInfo>> {
    if selector.is_empty() {
        return Ok(Vec::new());
    }
    let objects = cluster
        .list(&Kind::Pod, Some(namespace), &ListOptions::labels(selector))
        .await?;
    let mut pods = Vec::with_capacity(objects.len());
    for object in objects {
        let path = format!("Pod {}", object.key());
        let Object::Pod(pod) = object else { continue };
        let view: ksx_scaling::hpa::pod::Pod = serde_json::from_value(serde_json::to_value(&pod)?)?;
        pods.push(view.to_info(&path)?);
    }
    Ok(pods)
}

/// A Deployment for a target the manifests do not define: 0 replicas, one small container, pods ready after
/// 5 s on the in-memory cluster.
pub(crate) fn builtin_deployment(namespace: &str, name: &str) -> serde_json::Value {
    serde_json::json!({
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name},
                    "annotations": {ksx_core::cluster::memory::STARTUP_DELAY_ANNOTATION: "5"}},
                "spec": {"containers": [{"name": "worker", "image": "registry.example.com/event-scaler/worker:1.0",
                    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]}
            }
        }
    })
}
