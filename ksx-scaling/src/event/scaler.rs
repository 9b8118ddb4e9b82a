//! The scaler seam: a trigger source polled for its metric value and activity.
//!
//! A scaler is built from one trigger (`type`, `metadata`, resolved authentication) and polled once per
//! `pollingInterval`. It returns the value and whether the trigger is active (`value > activationThreshold`,
//! strict, upstream's rule), or an error that names the source. Scalers never panic on bad input or an
//! unreachable source; the executor keeps polling the others.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How the HPA reads a trigger's metric.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MetricType {
    /// Value divided by the ready pods (default).
    #[default]
    AverageValue,
    /// Value compared as a whole.
    Value,
    /// Only for cpu/memory triggers.
    Utilization,
}

/// The metric a scaler exposes to the HPA engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricSpec {
    /// External metric name, `s<triggerIndex>-<scaler name>` as KEDA names it.
    pub metric_name: String,
    /// AverageValue or Value.
    pub metric_type: MetricType,
    /// Target value (per pod for AverageValue).
    pub target: f64,
    /// Activation threshold: the trigger is active when the value is strictly above it.
    pub activation: f64,
}

/// One successful poll.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reading {
    /// The metric value.
    pub value: f64,
    /// Whether the trigger is active.
    pub active: bool,
}

/// Why a poll failed. `trigger` names the trigger (type and where it points); `message` says what went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{trigger}: {message}")]
pub struct ScalerError {
    /// The trigger: `redis list "jobs" at 127.0.0.1:6379`, `triggers[2] (postgresql)`…
    pub trigger: String,
    /// What went wrong.
    pub message: String,
}

impl ScalerError {
    /// A new error.
    pub fn new(trigger: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            trigger: trigger.into(),
            message: message.into(),
        }
    }
}

/// A trigger source.
#[async_trait::async_trait]
pub trait Scaler: Send + Sync {
    /// The metric this scaler feeds to the HPA engine.
    fn metric_spec(&self) -> &MetricSpec;

    /// Polls the source once. `now_nanos` is engine time (nanoseconds since the Unix epoch); scalers that read a
    /// live source ignore it except for time-based ones (cron). `timeout` bounds the call.
    async fn poll(&self, now_nanos: i64, timeout: Duration) -> Result<Reading, ScalerError>;
}
