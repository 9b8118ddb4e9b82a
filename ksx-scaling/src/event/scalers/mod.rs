//! Real scalers: one [`Scaler`] per KEDA trigger type, built from a [`ScaleTrigger`] by [`build`].
//!
//! Metadata keys, defaults and metric names follow upstream (`../shared/spec/scaling.md` §5.6); activation is
//! `value > activation…` (strict, default 0). Every poll is bounded by the `timeout` it is given, and every error
//! names the trigger and where it points (`redis list "jobs" at 127.0.0.1:6379: …`).
//!
//! | `type` | module | source |
//! |---|---|---|
//! | `redis` | [`redis`] | list length by key type (LLEN, ZCARD, SCARD, HLEN) |
//! | `redis-streams` | [`redis`] | XPENDING count, XINFO GROUPS lag or XLEN |
//! | `postgresql` | [`sql`] | a query returning one number |
//! | `mysql` | [`sql`] | a query returning one number (MySQL or MariaDB) |
//! | `rabbitmq` | [`amqp`] | QueueLength over AMQP 0-9-1 (passive `queue.declare`) |
//! | `nats-jetstream` | [`nats`] | consumer lag from `/jsz` or, ksx extension, over the NATS protocol |
//! | `mqtt` | [`mqtt`] | ksx extension: a retained numeric value on a topic |
//! | `prometheus` | [`prometheus`] | an instant query |
//! | `metrics-api` | [`metrics_api`] | a number in a JSON document fetched over HTTP |
//! | `cron` | [`cron`] | a time window (pure, engine time) |
//! | `cpu`, `memory` | [`resource`] | pod usage through [`MetricsSource`], always active |
//! | `kafka` | [`kafka`] | consumer-group lag over the Kafka protocol (`kafka_wire`, feature `kafka`; PLAINTEXT only) |
//!
//! Many Redis list triggers on one server are polled together by [`redis::RedisBatchPoller`], one pipelined
//! round trip per cycle. Scalers built with a shared [`redis::RedisPollers`] in [`ScalerContext::redis`] share one
//! connection per server, and their concurrent polls are coalesced into such a batch.
//!
//! RabbitMQ, NATS and MQTT are spoken by small clients in their modules ([`amqp::AmqpConnection`],
//! [`nats::NatsConnection`], [`mqtt::MqttConnection`]): each does only what the scaler and its tests need, which
//! costs far less to compile than a general client. None of them speaks TLS yet.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ksx_core::metrics::MetricsSource;

use crate::event::model::ScaleTrigger;
use crate::event::scaler::{MetricSpec, MetricType, Scaler, ScalerError};

pub mod amqp;
pub mod cron;
pub mod kafka;
#[cfg(feature = "kafka")]
#[cfg_attr(docsrs, doc(cfg(feature = "kafka")))]
pub mod kafka_wire;
pub mod metrics_api;
pub mod mqtt;
pub mod nats;
pub mod prometheus;
pub mod redis;
pub mod resource;
pub mod sql;

/// What scalers need from outside their trigger: resolved authentication, the target's environment, and the
/// metrics seam for cpu/memory triggers.
#[derive(Clone, Default)]
pub struct ScalerContext {
    /// Parameters resolved from the trigger's (Cluster)TriggerAuthentication (`password`, `host`, `connection`…).
    pub auth_params: BTreeMap<String, String>,
    /// Environment of the scale target's container, for `…FromEnv` metadata keys.
    pub env: BTreeMap<String, String>,
    /// Pod usage for cpu/memory triggers.
    pub metrics: Option<Arc<dyn MetricsSource>>,
    /// Namespace of the scale target.
    pub namespace: String,
    /// Label selector of the scale target's pods (`app=web`).
    pub pod_selector: String,
    /// Resource requests of one pod (or of the named container), for `Utilization` cpu/memory triggers.
    pub pod_requests: Option<resource::ResourceRequests>,
    /// Shared Redis pollers: `redis` triggers on one server then share a connection, and their concurrent polls
    /// travel in one round trip. Without it each trigger has its own.
    pub redis: Option<Arc<redis::RedisPollers>>,
}

impl fmt::Debug for ScalerContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Authentication values are secrets: print their names only.
        f.debug_struct("ScalerContext")
            .field("auth_params", &self.auth_params.keys().collect::<Vec<_>>())
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .field("metrics", &self.metrics.as_ref().map(|_| "MetricsSource"))
            .field("namespace", &self.namespace)
            .field("pod_selector", &self.pod_selector)
            .field("pod_requests", &self.pod_requests)
            .field("redis", &self.redis.is_some())
            .finish()
    }
}

/// Builds the scaler of trigger `index` of a ScaledObject or ScaledJob.
///
/// # Errors
/// An unknown trigger type, a missing or invalid metadata value (`triggers[1] (redis): metadata.listName is
/// required`), or a mode ksx does not support (RabbitMQ over HTTP, Kafka without feature `kafka`).
pub fn build(
    index: usize,
    trigger: &ScaleTrigger,
    ctx: &ScalerContext,
) -> Result<Box<dyn Scaler>, ScalerError> {
    let meta = Meta::new(index, trigger, ctx);
    match trigger.type_.as_str() {
        "redis" => Ok(Box::new(redis::RedisListScaler::from_meta_with(
            &meta,
            ctx.redis.as_deref(),
        )?)),
        "redis-streams" => Ok(Box::new(redis::RedisStreamsScaler::from_meta(&meta)?)),
        "postgresql" => Ok(Box::new(sql::PostgresScaler::from_meta(&meta)?)),
        "mysql" => Ok(Box::new(sql::MysqlScaler::from_meta(&meta)?)),
        "rabbitmq" => Ok(Box::new(amqp::RabbitMqScaler::from_meta(&meta)?)),
        "nats-jetstream" => Ok(Box::new(nats::NatsJetStreamScaler::from_meta(&meta)?)),
        "mqtt" => Ok(Box::new(mqtt::MqttScaler::from_meta(&meta)?)),
        "prometheus" => Ok(Box::new(prometheus::PrometheusScaler::from_meta(&meta)?)),
        "metrics-api" => Ok(Box::new(metrics_api::MetricsApiScaler::from_meta(&meta)?)),
        "cron" => Ok(Box::new(cron::CronScaler::from_meta(&meta)?)),
        "cpu" | "memory" => Ok(Box::new(resource::ResourceScaler::from_meta(&meta, ctx)?)),
        #[cfg(feature = "kafka")]
        "kafka" => Ok(Box::new(kafka::KafkaScaler::from_meta(&meta)?)),
        #[cfg(not(feature = "kafka"))]
        "kafka" => Err(meta.error(
            "this ksx has no Kafka client: build ksx-scaling with feature `kafka` \
             (without it only the lag math in event::scalers::kafka is here)",
        )),
        other => Err(meta.error(format!(
            "unknown trigger type {other:?}; known: redis, redis-streams, postgresql, mysql, rabbitmq, \
             nats-jetstream, mqtt, prometheus, metrics-api, cron, cpu, memory, kafka"
        ))),
    }
}

/// KEDA's `NormalizeString`: characters that may not appear in a metric name become `-`.
pub fn normalize_metric_name(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '/' | '.' | ':' | '%' | '(' | ')' | '"' | ' ' | '<' | '>' | '[' | ']' | '{' | '}'
            | '*' | '\\' | '\'' | '`' | ',' | '=' | '?' | '&' | '#' | '|' | '+' | '$' | '@'
            | '!' | ';' => '-',
            c => c,
        })
        .collect()
}

/// The external metric name of trigger `index`: `s<index>-<name>`, the name normalized.
pub fn metric_name(index: usize, name: &str) -> String {
    format!("s{index}-{}", normalize_metric_name(name))
}

/// Trigger metadata with its resolution rules and error wording.
///
/// A key `k` is read from `metadata.k`, else from the environment variable named by `metadata.kFromEnv`, else
/// from the resolved authentication parameter `k`. Empty strings count as unset.
#[derive(Debug)]
pub struct Meta<'a> {
    index: usize,
    trigger: &'a ScaleTrigger,
    ctx: &'a ScalerContext,
}

impl<'a> Meta<'a> {
    /// Metadata of trigger `index`.
    pub fn new(index: usize, trigger: &'a ScaleTrigger, ctx: &'a ScalerContext) -> Self {
        Self {
            index,
            trigger,
            ctx,
        }
    }

    /// The trigger's index.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The trigger's type.
    pub fn trigger_type(&self) -> &str {
        &self.trigger.type_
    }

    /// The trigger's `metricType`, AverageValue when unset.
    pub fn metric_type(&self) -> MetricType {
        self.trigger
            .metric_type
            .map(MetricType::from)
            .unwrap_or_default()
    }

    /// Whether `metricType` was set explicitly.
    pub fn metric_type_set(&self) -> bool {
        self.trigger.metric_type.is_some()
    }

    /// `triggers[i] (type)`, the prefix of configuration errors.
    pub fn place(&self) -> String {
        format!("triggers[{}] ({})", self.index, self.trigger.type_)
    }

    /// A configuration error of this trigger.
    pub fn error(&self, message: impl Into<String>) -> ScalerError {
        ScalerError::new(self.place(), message)
    }

    /// A value, resolved as the type documents; `None` when unset everywhere.
    ///
    /// # Errors
    /// `kFromEnv` naming a variable the environment lacks.
    pub fn get(&self, key: &str) -> Result<Option<String>, ScalerError> {
        if let Some(v) = self.trigger.metadata.get(key).filter(|v| !v.is_empty()) {
            return Ok(Some(v.clone()));
        }
        let from_env = format!("{key}FromEnv");
        if let Some(var) = self
            .trigger
            .metadata
            .get(&from_env)
            .filter(|v| !v.is_empty())
        {
            return match self.ctx.env.get(var).filter(|v| !v.is_empty()) {
                Some(v) => Ok(Some(v.clone())),
                None => Err(self.error(format!(
                    "metadata.{from_env}: environment variable {var:?} is not set"
                ))),
            };
        }
        Ok(self
            .ctx
            .auth_params
            .get(key)
            .filter(|v| !v.is_empty())
            .cloned())
    }

    /// A required value.
    ///
    /// # Errors
    /// `metadata.<key> is required` when unset.
    pub fn required(&self, key: &str) -> Result<String, ScalerError> {
        self.get(key)?
            .ok_or_else(|| self.error(format!("metadata.{key} is required")))
    }

    /// A value or a default.
    ///
    /// # Errors
    /// As [`Meta::get`].
    pub fn or(&self, key: &str, default: &str) -> Result<String, ScalerError> {
        Ok(self.get(key)?.unwrap_or_else(|| default.to_owned()))
    }

    /// A finite number or a default.
    ///
    /// # Errors
    /// A value that is not a finite number.
    pub fn f64_or(&self, key: &str, default: f64) -> Result<f64, ScalerError> {
        match self.get(key)? {
            None => Ok(default),
            Some(v) => self.parse_f64(key, &v),
        }
    }

    /// A required finite number.
    ///
    /// # Errors
    /// Unset, or not a finite number.
    pub fn f64_required(&self, key: &str) -> Result<f64, ScalerError> {
        let v = self.required(key)?;
        self.parse_f64(key, &v)
    }

    fn parse_f64(&self, key: &str, v: &str) -> Result<f64, ScalerError> {
        match v.trim().parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(x),
            _ => Err(self.error(format!("metadata.{key}: {v:?} is not a number"))),
        }
    }

    /// A boolean (`true`/`false`, any case) or a default.
    ///
    /// # Errors
    /// Any other value.
    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool, ScalerError> {
        match self.get(key)? {
            None => Ok(default),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(v) => Err(self.error(format!("metadata.{key}: {v:?} is not true or false"))),
        }
    }

    /// A port or a default.
    ///
    /// # Errors
    /// Not a number in 1..=65535.
    pub fn port_or(&self, key: &str, default: u16) -> Result<u16, ScalerError> {
        match self.get(key)? {
            None => Ok(default),
            Some(v) => match v.trim().parse::<u16>() {
                Ok(p) if p > 0 => Ok(p),
                _ => Err(self.error(format!("metadata.{key}: {v:?} is not a port"))),
            },
        }
    }

    /// The metric spec of this trigger: name `s<index>-<name>`, the trigger's metric type.
    pub fn spec(&self, name: &str, target: f64, activation: f64) -> MetricSpec {
        MetricSpec {
            metric_name: metric_name(self.index, name),
            metric_type: self.metric_type(),
            target,
            activation,
        }
    }

    /// Rejects `metricType: Utilization`, which only cpu/memory triggers take.
    ///
    /// # Errors
    /// Utilization on another trigger type.
    pub fn no_utilization(&self) -> Result<(), ScalerError> {
        if self.metric_type() == MetricType::Utilization {
            return Err(self.error("metricType Utilization is only for cpu and memory triggers"));
        }
        Ok(())
    }
}

/// Runs `fut` under `timeout`; a timeout becomes an error naming `trigger`.
pub(crate) async fn bounded<T, F>(
    trigger: &str,
    timeout: Duration,
    fut: F,
) -> Result<T, ScalerError>
where
    F: Future<Output = Result<T, ScalerError>>,
{
    match tokio::time::timeout(timeout, fut).await {
        Ok(r) => r,
        Err(_) => Err(ScalerError::new(
            trigger,
            format!("timed out after {}", fmt_duration(timeout)),
        )),
    }
}

/// `1.5s`, `250ms`.
pub(crate) fn fmt_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.3}s", d.as_secs_f64())
    }
}

/// A reading with the strict activation rule.
pub(crate) fn reading(value: f64, activation: f64) -> crate::event::scaler::Reading {
    crate::event::scaler::Reading {
        value,
        active: value > activation,
    }
}

/// The unique id suffix used by connections that need a client name (`<pid>-<n>`).
pub(crate) fn client_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trigger(t: &str, meta: &[(&str, &str)]) -> ScaleTrigger {
        ScaleTrigger {
            type_: t.to_owned(),
            metadata: meta
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ..ScaleTrigger::default()
        }
    }

    fn err(index: usize, t: &ScaleTrigger) -> String {
        match build(index, t, &ScalerContext::default()) {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn errors_name_the_trigger_and_key() {
        assert_eq!(
            err(1, &trigger("redis", &[])),
            "triggers[1] (redis): metadata.listName is required"
        );
        assert!(
            err(0, &trigger("nope", &[])).starts_with("triggers[0] (nope): unknown trigger type")
        );
        assert_eq!(
            err(
                2,
                &trigger("redis", &[("listName", "a"), ("listLength", "x")])
            ),
            "triggers[2] (redis): metadata.listLength: \"x\" is not a number"
        );
        #[cfg(not(feature = "kafka"))]
        assert!(err(0, &trigger("kafka", &[])).contains("build ksx-scaling with feature `kafka`"));
        #[cfg(feature = "kafka")]
        assert_eq!(
            err(0, &trigger("kafka", &[])),
            "triggers[0] (kafka): metadata.bootstrapServers is required"
        );
    }

    #[test]
    fn from_env_and_auth_resolution() {
        let t = trigger(
            "redis",
            &[("listName", "jobs"), ("addressFromEnv", "REDIS_ADDR")],
        );
        let mut ctx = ScalerContext::default();
        let meta = Meta::new(0, &t, &ctx);
        assert_eq!(
            meta.get("address").err().map(|e| e.to_string()).as_deref(),
            Some(
                "triggers[0] (redis): metadata.addressFromEnv: environment variable \"REDIS_ADDR\" is not set"
            )
        );
        ctx.env.insert("REDIS_ADDR".into(), "10.0.0.1:6380".into());
        ctx.auth_params.insert("password".into(), "secret".into());
        let meta = Meta::new(0, &t, &ctx);
        assert_eq!(
            meta.get("address").ok().flatten().as_deref(),
            Some("10.0.0.1:6380")
        );
        assert_eq!(
            meta.get("password").ok().flatten().as_deref(),
            Some("secret")
        );
        assert!(!format!("{ctx:?}").contains("secret"));
    }

    #[test]
    fn metric_names_are_normalized() {
        assert_eq!(metric_name(0, "redis-mylist"), "s0-redis-mylist");
        assert_eq!(metric_name(3, "rabbitmq-a.b/c"), "s3-rabbitmq-a-b-c");
    }
}
