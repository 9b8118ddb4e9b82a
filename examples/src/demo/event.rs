//! The demo's event-driven scaling section: an order queue fills and drains while a KEDA ScaledObject scales its
//! worker Deployment on the demo's in-memory cluster 0 → 1 → N → 0, on simulated time.
//!
//! The queue is a **real Redis list** (a key unique to this process, deleted at the end) read by the real
//! `redis` scaler when the `scalers` feature is built and Redis answers on 127.0.0.1:6379 within 200 ms; otherwise
//! an in-memory queue holds the same items. Either way the items follow a script drawn from the seed, the workers
//! take a fixed number of items per ready pod and poll, and only values that are the same on both backends are
//! recorded (never the key), so the same seed gives the same summary and report on a machine with or without
//! Redis, except for the line that names the backend.
//!
//! Every poll cycle goes through the same code as the `event-scaler` binary (`cycle.rs`, included from there):
//! KEDA's executor for 0↔1, cooldown and pause, then the generated HPA for 1↔N.

#[path = "../bin/event-scaler/cycle.rs"]
mod cycle;

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use ksx_core::cluster::{ClusterWriter as _, Kind, TypedExt as _};
use ksx_core::{Clock as _, InMemoryCluster};
use ksx_scaling::event::executor::TriggerPoll;
use ksx_scaling::event::hpa_bridge::generate_hpa;
use ksx_scaling::event::model::ScaledObject;
use ksx_scaling::event::scaler::{MetricSpec, MetricType, Reading, ScalerError};
use rand::{RngExt as _, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::generate;
use super::report::{lines, table};
use cycle::{ObjectState, Observed, action_reason, hpa_reason, step};

/// Namespace and name of the worker Deployment and its ScaledObject.
const NAMESPACE: &str = "storefront";
/// See [`NAMESPACE`].
const NAME: &str = "order-worker";
/// `pollingInterval`, seconds: one cycle of the loop.
const POLLING_SECS: i32 = 15;
/// `cooldownPeriod`, seconds.
const COOLDOWN_SECS: i32 = 120;
/// `listLength`: items per pod the HPA aims at.
const LIST_LENGTH: f64 = 10.0;
/// `activationListLength`: the list must hold strictly more to wake the workers from zero.
const ACTIVATION: f64 = 2.0;
/// `maxReplicaCount`.
const MAX_REPLICAS: i32 = 12;
/// Items one ready pod takes off the queue per poll cycle.
const ITEMS_PER_POD: i64 = 8;
/// Cycles simulated: 30 minutes.
const CYCLES: usize = 120;
/// The Redis server tried for the real list.
#[cfg(feature = "scalers")]
const REDIS_ADDR: &str = "127.0.0.1:6379";

/// Items arriving before each cycle: quiet, two orders (not above the activation threshold), a burst of about
/// 50 per cycle from minute 3 to minute 12 drawn from the seed, quiet, a small second burst at minute 23.
fn arrivals(seed: u64) -> Vec<i64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6b65_6461);
    (0..CYCLES)
        .map(|k| {
            let t = k as i64 * i64::from(POLLING_SECS);
            match t {
                120 => 2,
                180..720 => rng.random_range(38..=62),
                1380 => 9 + rng.random_range(0..=6),
                1395 => 6,
                _ => 0,
            }
        })
        .collect()
}

/// The ScaledObject: a Redis list trigger (the address and key only matter on the Redis backend).
fn scaled_object(list: &str) -> anyhow::Result<ScaledObject> {
    let json = serde_json::json!({
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": NAME, "namespace": NAMESPACE},
        "spec": {
            "scaleTargetRef": {"name": NAME},
            "pollingInterval": POLLING_SECS,
            "cooldownPeriod": COOLDOWN_SECS,
            "minReplicaCount": 0,
            "maxReplicaCount": MAX_REPLICAS,
            "triggers": [{"type": "redis", "metadata": {
                "address": "127.0.0.1:6379",
                "listName": list,
                "listLength": LIST_LENGTH.to_string(),
                "activationListLength": ACTIVATION.to_string()
            }}]
        }
    });
    let so: ScaledObject = serde_json::from_value(json)?;
    if let Some(e) = so.validate().into_iter().next() {
        anyhow::bail!("the demo ScaledObject is invalid: {e}");
    }
    Ok(so)
}

/// The worker Deployment: no replicas until KEDA wakes it; pods take 10 s to start.
fn deployment() -> anyhow::Result<Deployment> {
    let json = serde_json::json!({
        "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": {"app": NAME}},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": NAME}},
            "template": {
                "metadata": {"labels": {"app": NAME}, "annotations": {generate::STARTUP_ANNOTATION: "10"}},
                "spec": {"containers": [{
                    "name": "worker",
                    "image": "registry.example.com/retail/order-worker:1.2.0",
                    "resources": {"requests": {"cpu": "200m", "memory": "256Mi"}}
                }]}
            }
        }
    });
    Ok(serde_json::from_value(json)?)
}

/// Where the queue lives.
enum Queue {
    /// A counter in this process.
    Memory { len: i64 },
    /// A real Redis list read by the real scaler.
    #[cfg(feature = "scalers")]
    Redis(redis_queue::RedisQueue),
}

impl Queue {
    fn backend(&self) -> &'static str {
        match self {
            Self::Memory { .. } => "memory",
            #[cfg(feature = "scalers")]
            Self::Redis(_) => "redis",
        }
    }

    async fn push(&mut self, cycle: usize, n: i64) -> anyhow::Result<()> {
        match self {
            Self::Memory { len } => *len += n,
            #[cfg(feature = "scalers")]
            Self::Redis(q) => q.push(cycle, n).await?,
        }
        let _ = cycle;
        Ok(())
    }

    /// Polls the trigger: the list length and `length > activation`.
    async fn poll(&self, now: i64, metric: &MetricSpec) -> Result<Reading, ScalerError> {
        // Only the Redis scaler reads the time (it ignores it too, but the seam passes it).
        let _ = now;
        match self {
            Self::Memory { len } => {
                let value = *len as f64;
                Ok(Reading {
                    value,
                    active: value > metric.activation,
                })
            }
            #[cfg(feature = "scalers")]
            Self::Redis(q) => q.poll(now).await,
        }
    }

    /// Takes up to `n` items off the head of the queue; returns how many it took.
    async fn take(&mut self, n: i64) -> anyhow::Result<i64> {
        match self {
            Self::Memory { len } => {
                let taken = n.min(*len).max(0);
                *len -= taken;
                Ok(taken)
            }
            #[cfg(feature = "scalers")]
            Self::Redis(q) => q.take(n).await,
        }
    }

    async fn cleanup(self) {
        #[cfg(feature = "scalers")]
        if let Self::Redis(q) = self {
            q.cleanup().await;
        }
    }
}

/// The Redis backend (feature `scalers`).
#[cfg(feature = "scalers")]
mod redis_queue {
    use std::time::Duration;

    use ksx_scaling::event::model::ScaleTrigger;
    use ksx_scaling::event::scaler::{Reading, Scaler, ScalerError};
    use ksx_scaling::event::scalers::{ScalerContext, build};

    /// How long the probe waits for Redis to answer, and how long each later command may take.
    const PROBE: Duration = Duration::from_millis(200);
    const COMMAND: Duration = Duration::from_secs(2);

    pub(super) struct RedisQueue {
        connection: redis::aio::MultiplexedConnection,
        key: String,
        /// The list's length as this process left it, so the workers take a known number of items.
        len: i64,
        scaler: Box<dyn Scaler>,
    }

    impl RedisQueue {
        /// Connects and pings within [`PROBE`]; `None` when Redis does not answer in time.
        pub(super) async fn connect(trigger: &ScaleTrigger, key: String) -> Option<Self> {
            let client = redis::Client::open(format!("redis://{}/0", super::REDIS_ADDR)).ok()?;
            let probe = async {
                let mut connection = client.get_multiplexed_async_connection().await.ok()?;
                let pong: String = redis::cmd("PING").query_async(&mut connection).await.ok()?;
                (pong == "PONG").then_some(connection)
            };
            let connection = tokio::time::timeout(PROBE, probe).await.ok()??;
            let scaler = build(0, trigger, &ScalerContext::default()).ok()?;
            let mut queue = Self {
                connection,
                key,
                len: 0,
                scaler,
            };
            // Start from an empty list even if a crashed run left this key behind.
            queue
                .command(redis::cmd("DEL").arg(&queue.key))
                .await
                .ok()?;
            Some(queue)
        }

        async fn command(&mut self, cmd: &mut redis::Cmd) -> anyhow::Result<redis::Value> {
            let v = tokio::time::timeout(COMMAND, cmd.query_async(&mut self.connection))
                .await
                .map_err(|_| anyhow::anyhow!("Redis at {} did not answer", super::REDIS_ADDR))??;
            Ok(v)
        }

        pub(super) async fn push(&mut self, cycle: usize, n: i64) -> anyhow::Result<()> {
            if n <= 0 {
                return Ok(());
            }
            let items: Vec<String> = (0..n).map(|i| format!("order-{cycle}-{i}")).collect();
            let mut cmd = redis::cmd("RPUSH");
            cmd.arg(&self.key).arg(&items);
            self.command(&mut cmd).await?;
            self.len += n;
            Ok(())
        }

        pub(super) async fn poll(&self, now: i64) -> Result<Reading, ScalerError> {
            self.scaler.poll(now, COMMAND).await
        }

        pub(super) async fn take(&mut self, n: i64) -> anyhow::Result<i64> {
            let taken = n.min(self.len).max(0);
            if taken > 0 {
                let mut cmd = redis::cmd("LTRIM");
                cmd.arg(&self.key).arg(taken).arg(-1);
                self.command(&mut cmd).await?;
                self.len -= taken;
            }
            Ok(taken)
        }

        pub(super) async fn cleanup(mut self) {
            let mut cmd = redis::cmd("DEL");
            cmd.arg(&self.key);
            if let Err(e) = self.command(&mut cmd).await {
                tracing::warn!(key = %self.key, error = %e, "cannot delete the demo's Redis list");
            }
        }
    }
}

/// A key no other process uses at the same time.
fn unique_key() -> String {
    format!("ksx-demo-orders-{}", std::process::id())
}

/// The queue: Redis when built and answering, else memory.
async fn open_queue(so: &ScaledObject) -> Queue {
    #[cfg(feature = "scalers")]
    if let Some(trigger) = so.spec.triggers.first()
        && let Some(key) = trigger.metadata.get("listName")
        && let Some(q) = redis_queue::RedisQueue::connect(trigger, key.clone()).await
    {
        return Queue::Redis(q);
    }
    let _ = so;
    Queue::Memory { len: 0 }
}

/// One cycle as charted and tabled.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EventStep {
    /// Seconds since the section started.
    pub(crate) t: i64,
    /// Items that arrived just before the poll.
    pub(crate) arrived: i64,
    /// The list length the scaler read.
    pub(crate) queue: i64,
    /// Whether the trigger was active.
    pub(crate) active: bool,
    /// The executor's action.
    pub(crate) action: String,
    /// Replicas before the cycle.
    pub(crate) current: i32,
    /// After KEDA's own step.
    pub(crate) after_activation: i32,
    /// Written to the Deployment.
    pub(crate) desired: i32,
    /// Ready pods at the end of the cycle.
    pub(crate) ready: i32,
    /// Items the workers took during the cycle.
    pub(crate) processed: i64,
    /// What the generated HPA did (`scaled`, `scalingDisabled`…).
    pub(crate) hpa: &'static str,
    /// Why.
    pub(crate) reason: String,
}

/// One jump straight to zero at the end of a cooldown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CooldownJump {
    /// Seconds since the section started.
    pub(crate) at_seconds: i64,
    /// The replica count it jumped from.
    pub(crate) from_replicas: i32,
}

/// What the section did, as figures for the summary; the steps ride along for the report only.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EventTrace {
    /// `redis` (a real list on 127.0.0.1:6379) or `memory`.
    pub(crate) backend: String,
    pub(crate) polling_interval_seconds: i32,
    pub(crate) cooldown_period_seconds: i32,
    /// `listLength`: the target per pod.
    pub(crate) list_length: f64,
    /// `activationListLength`.
    pub(crate) activation_list_length: f64,
    pub(crate) max_replicas: i32,
    pub(crate) items_enqueued: i64,
    pub(crate) items_processed: i64,
    pub(crate) peak_queue: i64,
    pub(crate) peak_replicas: i32,
    /// Scales from zero (0 → 1 by KEDA).
    pub(crate) activations: usize,
    /// Cooldown jumps to zero.
    pub(crate) cooldown_jumps: Vec<CooldownJump>,
    /// Seconds of the first scale from zero.
    pub(crate) first_activation_seconds: Option<i64>,
    /// Cycles per executor action.
    pub(crate) actions: BTreeMap<String, usize>,
    #[serde(skip)]
    pub(crate) steps: Vec<EventStep>,
}

/// Runs the section on `cluster`, advancing its clock by 30 simulated minutes.
///
/// # Errors
/// The cluster failing to create, scale or read the Deployment, the engine refusing a cycle, or Redis failing
/// after it answered the probe.
pub(crate) async fn run(cluster: &InMemoryCluster, seed: u64) -> anyhow::Result<EventTrace> {
    let so = scaled_object(&unique_key())?;
    let mut queue = open_queue(&so).await;
    let result = simulate(cluster, seed, &so, &mut queue).await;
    let backend = queue.backend();
    queue.cleanup().await;
    let mut trace = result?;
    trace.backend = backend.to_owned();
    Ok(trace)
}

async fn simulate(
    cluster: &InMemoryCluster,
    seed: u64,
    so: &ScaledObject,
    queue: &mut Queue,
) -> anyhow::Result<EventTrace> {
    // The metric as the redis scaler names it, but with a fixed list name so nothing recorded depends on the key.
    let metric = MetricSpec {
        metric_name: "s0-redis-orders".to_owned(),
        metric_type: MetricType::AverageValue,
        target: LIST_LENGTH,
        activation: ACTIVATION,
    };
    let hpa = generate_hpa(so, std::slice::from_ref(&metric))?;
    cluster
        .create(ksx_core::Object::Deployment(deployment()?))
        .await?;
    let tick = cluster.tick();
    cluster.set_tick(Duration::from_secs(5));
    let start = cluster.clock().now().as_second();
    let mut state = ObjectState::default();
    let mut steps = Vec::with_capacity(CYCLES);
    let script = arrivals(seed);
    let period = Duration::from_secs(u64::try_from(POLLING_SECS).unwrap_or(15));
    for (k, arrived) in script.iter().copied().enumerate() {
        queue.push(k, arrived).await?;
        let now_ts = cluster.clock().now();
        let now = i64::try_from(now_ts.as_nanosecond()).unwrap_or(i64::MAX);
        let result = queue.poll(now, &metric).await;
        // The list length is an integer count; the scaler reports it as a float.
        #[allow(
            clippy::cast_possible_truncation,
            reason = "a list length read back as f64"
        )]
        let length = result.as_ref().map_or(-1, |r| r.value as i64);
        let active = result.as_ref().is_ok_and(|r| r.active);
        let (spec_replicas, status_replicas) = replicas(cluster).await?;
        let polls = [TriggerPoll {
            metric: metric.clone(),
            result,
        }];
        let seen = Observed {
            now,
            current_replicas: spec_replicas,
            status_replicas,
            pods: &[],
        };
        let outcome = step(so, &hpa, &mut state, &polls, &seen)?;
        if outcome.desired_replicas != spec_replicas {
            cluster
                .scale(&Kind::Deployment, NAMESPACE, NAME, outcome.desired_replicas)
                .await?;
        }
        cluster.advance(period);
        let ready = ready_replicas(cluster).await?;
        let processed = queue.take(i64::from(ready) * ITEMS_PER_POD).await?;
        steps.push(EventStep {
            t: now_ts.as_second() - start,
            arrived,
            queue: length,
            active,
            action: format!("{:?}", outcome.decision.action),
            current: spec_replicas,
            after_activation: outcome.after_activation,
            desired: outcome.desired_replicas,
            ready,
            processed,
            hpa: outcome.hpa.label(),
            reason: format!(
                "{}; {}",
                action_reason(so, &outcome, spec_replicas),
                hpa_reason(&outcome)
            ),
        });
    }
    cluster.set_tick(tick);
    Ok(trace_of(steps))
}

fn trace_of(steps: Vec<EventStep>) -> EventTrace {
    let mut actions = BTreeMap::new();
    for s in &steps {
        *actions.entry(s.action.clone()).or_insert(0) += 1;
    }
    let from_zero = |s: &&EventStep| s.action == "ScaleFromZero";
    EventTrace {
        backend: String::new(),
        polling_interval_seconds: POLLING_SECS,
        cooldown_period_seconds: COOLDOWN_SECS,
        list_length: LIST_LENGTH,
        activation_list_length: ACTIVATION,
        max_replicas: MAX_REPLICAS,
        items_enqueued: steps.iter().map(|s| s.arrived).sum(),
        items_processed: steps.iter().map(|s| s.processed).sum(),
        peak_queue: steps.iter().map(|s| s.queue).max().unwrap_or(0),
        peak_replicas: steps.iter().map(|s| s.desired).max().unwrap_or(0),
        activations: steps.iter().filter(from_zero).count(),
        cooldown_jumps: steps
            .iter()
            .filter(|s| s.action == "ScaleToIdle")
            .map(|s| CooldownJump {
                at_seconds: s.t,
                from_replicas: s.current,
            })
            .collect(),
        first_activation_seconds: steps.iter().find(from_zero).map(|s| s.t),
        actions,
        steps,
    }
}

async fn deployment_now(cluster: &InMemoryCluster) -> anyhow::Result<Deployment> {
    cluster
        .get_typed::<Deployment>(Some(NAMESPACE), NAME)
        .await?
        .ok_or_else(|| {
            anyhow::anyhow!("deployment {NAMESPACE}/{NAME} disappeared during the demo event run")
        })
}

/// `spec.replicas` and `status.replicas`.
async fn replicas(cluster: &InMemoryCluster) -> anyhow::Result<(i32, i32)> {
    let d = deployment_now(cluster).await?;
    Ok((
        d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
        d.status.as_ref().and_then(|s| s.replicas).unwrap_or(0),
    ))
}

async fn ready_replicas(cluster: &InMemoryCluster) -> anyhow::Result<i32> {
    let d = deployment_now(cluster).await?;
    Ok(d.status.and_then(|s| s.ready_replicas).unwrap_or(0))
}

fn backend_words(backend: &str) -> &'static str {
    if backend == "redis" {
        "a real Redis list on 127.0.0.1:6379 read by the redis scaler"
    } else {
        "an in-memory queue (Redis not built in or not answering)"
    }
}

fn jumps(e: &EventTrace) -> String {
    if e.cooldown_jumps.is_empty() {
        return "none".to_owned();
    }
    e.cooldown_jumps
        .iter()
        .map(|j| format!("{} → 0 at {}s", j.from_replicas, j.at_seconds))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The summary lines for the terminal.
pub(crate) fn print_summary(e: &EventTrace) {
    outln!(
        "event scaling ({}): {} orders in, {} processed, queue peaks at {}, replicas peak at {} (max {}); {} scale(s) from zero, first at {}",
        backend_words(&e.backend),
        e.items_enqueued,
        e.items_processed,
        e.peak_queue,
        e.peak_replicas,
        e.max_replicas,
        e.activations,
        e.first_activation_seconds
            .map_or_else(|| "never".to_owned(), |t| format!("{t}s")),
    );
    outln!(
        "event scaling: pollingInterval {}s, active when the list holds more than {} items, {} items per pod for the HPA, cooldown {}s then a jump straight to zero: {}",
        e.polling_interval_seconds,
        e.activation_list_length,
        e.list_length,
        e.cooldown_period_seconds,
        jumps(e)
    );
}

/// The HTML body of the report's event section.
pub(crate) fn section(e: &EventTrace) -> String {
    let mut body = format!(
        "<p>An order queue held in {backend}. Orders arrive on a script drawn from the seed: two at 120 s (not more \
         than the activation threshold, so nothing wakes), a burst of about 50 per poll from 180 s to 720 s, quiet, \
         and a small second burst at 1380 s. Each ready worker pod takes {per_pod} orders per poll. A KEDA \
         ScaledObject polls the list every {poll} s (<code>pollingInterval</code>) with <code>listLength</code> \
         {target} and <code>activationListLength</code> {activation}, <code>minReplicaCount</code> 0, \
         <code>maxReplicaCount</code> {max}, <code>cooldownPeriod</code> {cooldown} s. Each poll runs KEDA's \
         executor (0 ↔ 1, cooldown) and then the generated HPA (1 ↔ N; without a behavior, the legacy \
         normalization: up to max(2 × current, 4) per sync, a 300 s downscale window) from the ksx engines, \
         and writes the count to the worker Deployment on the in-memory cluster, whose pods take 10 s to start.</p>",
        backend = backend_words(&e.backend),
        per_pod = ITEMS_PER_POD,
        poll = e.polling_interval_seconds,
        target = e.list_length,
        activation = e.activation_list_length,
        max = e.max_replicas,
        cooldown = e.cooldown_period_seconds,
    );
    body.push_str(&format!(
        "<p>Activation is strict: the trigger is active only while the list holds <b>more than</b> {} items; \
         KEDA then scales 0 → 1 and the HPA takes over from 1 to ceil(length ÷ {}). When the queue is empty the \
         object turns inactive and, {} s after the last active poll, KEDA jumps the Deployment <b>straight to \
         0</b>: the HPA's 300 s scale-down window never gets to shed pods gradually (keda#6844, #7770). Cooldown \
         jumps: {}.</p>",
        e.activation_list_length,
        e.list_length,
        e.cooldown_period_seconds,
        jumps(e)
    ));
    let figures = vec![vec![
        e.items_enqueued.to_string(),
        e.items_processed.to_string(),
        e.peak_queue.to_string(),
        e.peak_replicas.to_string(),
        e.activations.to_string(),
        e.first_activation_seconds
            .map_or_else(|| "never".to_owned(), |t| format!("{t} s")),
    ]];
    body.push_str(&table(
        &[
            "orders in",
            "orders processed",
            "peak queue",
            "peak replicas",
            "scales from zero",
            "first activation",
        ],
        &figures,
    ));
    let queue: Vec<f64> = e.steps.iter().map(|s| s.queue.max(0) as f64).collect();
    body.push_str("<h3>Queue length</h3>");
    body.push_str(&lines(
        &format!("polls ({} s each)", e.polling_interval_seconds),
        &[("items in the list", "#9fb3c8", queue)],
    ));
    body.push_str("<h3>Replicas</h3>");
    body.push_str(&lines(
        &format!("polls ({} s each)", e.polling_interval_seconds),
        &[
            (
                "queue ÷ listLength",
                "#bcccdc",
                e.steps
                    .iter()
                    .map(|s| s.queue.max(0) as f64 / e.list_length)
                    .collect(),
            ),
            (
                "replicas written",
                "#d9822b",
                e.steps.iter().map(|s| f64::from(s.desired)).collect(),
            ),
            (
                "ready pods",
                "#2f9e44",
                e.steps.iter().map(|s| f64::from(s.ready)).collect(),
            ),
        ],
    ));
    // Only the polls where something changed: the table stays short and every transition shows.
    let mut rows = Vec::new();
    let mut last_action = String::new();
    for s in &e.steps {
        // A queue held at zero by the strict activation threshold is a transition worth a row as well.
        let held_at_zero = s.queue > 0 && !s.active && s.current == 0;
        if s.action != last_action || s.desired != s.current || held_at_zero {
            let replicas = if s.after_activation != s.current && s.after_activation != s.desired {
                format!("{} → {} → {}", s.current, s.after_activation, s.desired)
            } else {
                format!("{} → {}", s.current, s.desired)
            };
            rows.push(vec![
                format!("{} s", s.t),
                s.queue.to_string(),
                if s.active { "yes" } else { "no" }.to_owned(),
                s.action.clone(),
                s.hpa.to_owned(),
                replicas,
                s.reason.clone(),
            ]);
        }
        last_action.clone_from(&s.action);
    }
    body.push_str("<h3>Decisions that changed something</h3>");
    body.push_str(&table(
        &[
            "time", "queue", "active", "executor", "hpa", "replicas", "why",
        ],
        &rows,
    ));
    let counts: Vec<Vec<String>> = e
        .actions
        .iter()
        .map(|(k, v)| vec![k.clone(), v.to_string()])
        .collect();
    body.push_str(&table(&["executor action", "polls"], &counts));
    body
}
