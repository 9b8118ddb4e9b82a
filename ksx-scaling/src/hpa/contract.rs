//! The JSON contract of `ksx hpa decide` and `ksx hpa replicas` (`shared/contracts/scaling-cli.md`): request
//! and response types and the two evaluations, so the CLI stays a thin shell and tests can call them directly.
//!
//! Contract-level times are Unix seconds (integer or float), held as [`UnixTime`] nanoseconds. Unknown
//! contract-level fields are refused; unknown fields inside the Pod objects are ignored.

use std::collections::BTreeMap;
use std::fmt;

use ksx_core::quantity::{Format, Quantity};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::model::{
    DEFAULT_CPU_INITIALIZATION_PERIOD_SECS, DEFAULT_DOWNSCALE_STABILIZATION_SECS,
    DEFAULT_INITIAL_READINESS_DELAY_SECS, DEFAULT_TOLERANCE, HpaBehavior, LimitReason, MetricSpec,
    NANOS_PER_SEC, StabilizationReason,
};
use super::normalize::{
    History, NormalizeArgs, Recommendation, ScaleEvent, mark_outdated, normalize,
};
use super::pod::{Pod, PodInfo, PodSample};
use super::replicas::{CalculatorConfig, MetricData, Tolerances, compute_replicas};
use crate::error::{Error, Result};

/// A time or duration given in seconds (integer or float), held as nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct UnixTime(pub i64);

impl UnixTime {
    /// Whole seconds.
    pub fn from_secs(secs: i64) -> Self {
        Self(secs.saturating_mul(NANOS_PER_SEC))
    }

    /// The nanoseconds.
    pub fn nanos(self) -> i64 {
        self.0
    }
}

impl Serialize for UnixTime {
    /// Whole seconds as an integer, anything finer as a float.
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        if self.0 % NANOS_PER_SEC == 0 {
            s.serialize_i64(self.0 / NANOS_PER_SEC)
        } else {
            // Whole seconds and the fraction apart, so the float is the nearest to the decimal value.
            let whole = self.0.div_euclid(NANOS_PER_SEC) as f64;
            let frac = self.0.rem_euclid(NANOS_PER_SEC) as f64 / NANOS_PER_SEC as f64;
            s.serialize_f64(whole + frac)
        }
    }
}

impl<'de> Deserialize<'de> for UnixTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(SecondsVisitor)
    }
}

struct SecondsVisitor;

impl Visitor<'_> for SecondsVisitor {
    type Value = UnixTime;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("seconds as an integer or a float")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<UnixTime, E> {
        v.checked_mul(NANOS_PER_SEC)
            .map(UnixTime)
            .ok_or_else(|| E::custom(format!("{v} seconds is out of range")))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<UnixTime, E> {
        i64::try_from(v)
            .ok()
            .and_then(|v| v.checked_mul(NANOS_PER_SEC))
            .map(UnixTime)
            .ok_or_else(|| E::custom(format!("{v} seconds is out of range")))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<UnixTime, E> {
        // Whole seconds and the fraction apart: the product of a large float by 10^9 loses the fraction.
        let whole = v.floor();
        let frac = ((v - whole) * NANOS_PER_SEC as f64).round();
        if !(whole.is_finite() && whole.abs() < 9.2e9) {
            return Err(E::custom(format!("{v} seconds is out of range")));
        }
        let secs = super::normalize::saturate_f64_to_i64(whole);
        let nanos = super::normalize::saturate_f64_to_i64(frac);
        Ok(UnixTime(secs * NANOS_PER_SEC + nanos))
    }
}

fn default_min_replicas() -> i32 {
    1
}

fn default_downscale_window() -> i64 {
    DEFAULT_DOWNSCALE_STABILIZATION_SECS
}

/// A stored recommendation as the contract writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecommendationRecord {
    /// The proposal.
    pub replicas: i32,
    /// When, Unix seconds.
    pub timestamp: UnixTime,
}

/// A stored scale event as the contract writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScaleEventRecord {
    /// Replicas added or removed (≥ 0).
    pub replica_change: i32,
    /// When, Unix seconds.
    pub timestamp: UnixTime,
    /// Optional on input (recomputed); always written on output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outdated: Option<bool>,
}

/// The input of `ksx hpa decide`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DecideRequest {
    /// Now, Unix seconds.
    pub now: UnixTime,
    /// `scale.spec.replicas`.
    pub current_replicas: i32,
    /// The proposal from the metrics, before normalization.
    pub desired_replicas: i32,
    /// `spec.minReplicas` (default 1).
    #[serde(default = "default_min_replicas")]
    pub min_replicas: i32,
    /// `spec.maxReplicas`.
    pub max_replicas: i32,
    /// `spec.behavior`; `None` selects the legacy path.
    #[serde(default)]
    pub behavior: Option<HpaBehavior>,
    /// The controller's downscale stabilization flag, seconds (default 300).
    #[serde(default = "default_downscale_window")]
    pub downscale_stabilization_window_seconds: i64,
    /// The stored recommendations.
    #[serde(default)]
    pub recommendations: Vec<RecommendationRecord>,
    /// The stored scale-up events.
    #[serde(default)]
    pub scale_up_events: Vec<ScaleEventRecord>,
    /// The stored scale-down events.
    #[serde(default)]
    pub scale_down_events: Vec<ScaleEventRecord>,
}

/// The output of `ksx hpa decide`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DecideResponse {
    /// The final count.
    pub desired_replicas: i32,
    /// After stabilization, before rate limits and clamping.
    pub stabilized_replicas: i32,
    /// Behavior path only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stabilization_reason: Option<StabilizationReason>,
    /// The `ScalingLimited` reason.
    pub limit_reason: LimitReason,
    /// The recommendations after this decision.
    pub recommendations: Vec<RecommendationRecord>,
    /// The scale-up events after this decision.
    pub scale_up_events: Vec<ScaleEventRecord>,
    /// The scale-down events after this decision.
    pub scale_down_events: Vec<ScaleEventRecord>,
}

fn non_negative(value: i64, field: &str) -> Result<()> {
    if value < 0 {
        return Err(Error::invalid(
            field,
            format!("must be greater than or equal to 0, got {value}"),
        ));
    }
    Ok(())
}

impl DecideRequest {
    /// Checks the request as the API server would check the HPA it comes from.
    ///
    /// # Errors
    /// [`Error::InvalidField`] naming the JSON path of the first fault.
    pub fn validate(&self) -> Result<()> {
        non_negative(self.current_replicas.into(), "currentReplicas")?;
        non_negative(self.desired_replicas.into(), "desiredReplicas")?;
        if self.max_replicas < 1 {
            return Err(Error::invalid(
                "maxReplicas",
                format!(
                    "must be greater than or equal to 1, got {}",
                    self.max_replicas
                ),
            ));
        }
        non_negative(self.min_replicas.into(), "minReplicas")?;
        if self.min_replicas > self.max_replicas {
            return Err(Error::invalid(
                "minReplicas",
                format!(
                    "must be less than or equal to maxReplicas ({}), got {}",
                    self.max_replicas, self.min_replicas
                ),
            ));
        }
        non_negative(
            self.downscale_stabilization_window_seconds,
            "downscaleStabilizationWindowSeconds",
        )?;
        if let Some(b) = &self.behavior {
            b.validate("behavior")?;
        }
        for (name, events) in [
            ("scaleUpEvents", &self.scale_up_events),
            ("scaleDownEvents", &self.scale_down_events),
        ] {
            for (i, e) in events.iter().enumerate() {
                non_negative(
                    e.replica_change.into(),
                    &format!("{name}[{i}].replicaChange"),
                )?;
            }
        }
        Ok(())
    }
}

fn events_in(records: &[ScaleEventRecord]) -> Vec<ScaleEvent> {
    records
        .iter()
        .map(|e| ScaleEvent {
            replica_change: e.replica_change,
            timestamp: e.timestamp.0,
            outdated: e.outdated.unwrap_or(false),
        })
        .collect()
}

fn events_out(events: &[ScaleEvent]) -> Vec<ScaleEventRecord> {
    events
        .iter()
        .map(|e| ScaleEventRecord {
            replica_change: e.replica_change,
            timestamp: UnixTime(e.timestamp),
            outdated: Some(e.outdated),
        })
        .collect()
}

/// Evaluates `ksx hpa decide`: the normalization step on the given history.
///
/// # Errors
/// [`Error::InvalidField`] for a request [`DecideRequest::validate`] refuses.
pub fn decide(req: &DecideRequest) -> Result<DecideResponse> {
    req.validate()?;
    let now = req.now.0;
    let behavior = req
        .behavior
        .as_ref()
        .map(|b| b.resolve(req.downscale_stabilization_window_seconds));
    let mut history = History {
        recommendations: req
            .recommendations
            .iter()
            .map(|r| Recommendation {
                replicas: r.replicas,
                timestamp: r.timestamp.0,
            })
            .collect(),
        scale_up_events: events_in(&req.scale_up_events),
        scale_down_events: events_in(&req.scale_down_events),
    };
    if let Some(b) = &behavior {
        // Marking here rather than only when an event is stored gives the same slots (the mark is sticky and
        // uses the same cutoff) and lets the output show the recomputed flags.
        mark_outdated(
            &mut history.scale_up_events,
            b.scale_up.longest_period_secs(),
            now,
        );
        mark_outdated(
            &mut history.scale_down_events,
            b.scale_down.longest_period_secs(),
            now,
        );
    }
    let result = normalize(
        &mut history,
        &NormalizeArgs {
            now,
            current_replicas: req.current_replicas,
            desired_replicas: req.desired_replicas,
            min_replicas: req.min_replicas,
            max_replicas: req.max_replicas,
            behavior: behavior.as_ref(),
            downscale_window_secs: req.downscale_stabilization_window_seconds,
        },
    );
    Ok(DecideResponse {
        desired_replicas: result.desired_replicas,
        stabilized_replicas: result.stabilized_replicas,
        stabilization_reason: result.stabilization_reason,
        limit_reason: result.limit_reason,
        recommendations: history
            .recommendations
            .iter()
            .map(|r| RecommendationRecord {
                replicas: r.replicas,
                timestamp: UnixTime(r.timestamp),
            })
            .collect(),
        scale_up_events: events_out(&history.scale_up_events),
        scale_down_events: events_out(&history.scale_down_events),
    })
}

/// A pod's sample as the contract writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PodMetricRecord {
    /// The pod's name.
    pub pod: String,
    /// When, Unix seconds.
    pub timestamp: UnixTime,
    /// The sample window, seconds.
    pub window: UnixTime,
    /// The pod's total (Resource) or the metric's value (Pods).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Quantity>,
    /// Per-container values (ContainerResource).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub containers: BTreeMap<String, Quantity>,
}

/// The input of `ksx hpa replicas`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReplicasRequest {
    /// Now, Unix seconds.
    pub now: UnixTime,
    /// `scale.spec.replicas`.
    pub current_replicas: i32,
    /// `scale.status.replicas` (default: `currentReplicas`).
    #[serde(default)]
    pub status_replicas: Option<i32>,
    /// The metric.
    pub metric: MetricSpec,
    /// The pods the selector matches.
    #[serde(default)]
    pub pods: Vec<Pod>,
    /// Pod samples.
    #[serde(default)]
    pub pod_metrics: Vec<PodMetricRecord>,
    /// The Object metric's value.
    #[serde(default)]
    pub object_value: Option<Quantity>,
    /// The External metric's series.
    #[serde(default)]
    pub external_values: Vec<Quantity>,
    /// The tolerance flag (default 0.1).
    #[serde(default)]
    pub tolerance: Option<f64>,
    /// Scale-up tolerance, overriding `tolerance`.
    #[serde(default)]
    pub scale_up_tolerance: Option<f64>,
    /// Scale-down tolerance, overriding `tolerance`.
    #[serde(default)]
    pub scale_down_tolerance: Option<f64>,
    /// CPU initialization period, seconds (default 300).
    #[serde(default)]
    pub cpu_initialization_period_seconds: Option<UnixTime>,
    /// Initial readiness delay, seconds (default 30).
    #[serde(default)]
    pub delay_of_initial_readiness_status_seconds: Option<UnixTime>,
}

/// The output of `ksx hpa replicas`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicasResponse {
    /// The proposal.
    pub replicas: i32,
    /// Utilization targets only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utilization: Option<i32>,
    /// The quantity written to `status.currentMetrics[].current`.
    pub raw_value: String,
}

/// The engine's inputs, converted from a [`ReplicasRequest`].
#[derive(Debug, Clone)]
pub struct ReplicasInputs {
    /// The pods.
    pub pods: Vec<PodInfo>,
    /// The samples.
    pub samples: Vec<PodSample>,
    /// The external series, milli-units.
    pub external: Vec<i64>,
    /// The calculator flags.
    pub config: CalculatorConfig,
}

impl ReplicasRequest {
    /// Checks the request and converts it to the engine's inputs.
    ///
    /// # Errors
    /// [`Error::InvalidField`] naming the JSON path of the first fault.
    pub fn to_inputs(&self) -> Result<ReplicasInputs> {
        non_negative(self.current_replicas.into(), "currentReplicas")?;
        if let Some(s) = self.status_replicas {
            non_negative(s.into(), "statusReplicas")?;
        }
        self.metric.validate("metric")?;
        let tolerance = |v: Option<f64>, field: &str, default: f64| -> Result<f64> {
            match v {
                Some(t) if !(t >= 0.0 && t.is_finite()) => Err(Error::invalid(
                    field,
                    format!("must be greater than or equal to 0, got {t}"),
                )),
                Some(t) => Ok(t),
                None => Ok(default),
            }
        };
        let base = tolerance(self.tolerance, "tolerance", DEFAULT_TOLERANCE)?;
        let tolerances = Tolerances {
            scale_up: tolerance(self.scale_up_tolerance, "scaleUpTolerance", base)?,
            scale_down: tolerance(self.scale_down_tolerance, "scaleDownTolerance", base)?,
        };
        let period = |v: Option<UnixTime>, field: &str, default: i64| -> Result<i64> {
            let nanos = v.map_or(default * NANOS_PER_SEC, UnixTime::nanos);
            non_negative(nanos, field)?;
            Ok(nanos)
        };
        let config = CalculatorConfig {
            tolerances,
            cpu_initialization_period: period(
                self.cpu_initialization_period_seconds,
                "cpuInitializationPeriodSeconds",
                DEFAULT_CPU_INITIALIZATION_PERIOD_SECS,
            )?,
            delay_of_initial_readiness_status: period(
                self.delay_of_initial_readiness_status_seconds,
                "delayOfInitialReadinessStatusSeconds",
                DEFAULT_INITIAL_READINESS_DELAY_SECS,
            )?,
        };
        let pods = self
            .pods
            .iter()
            .enumerate()
            .map(|(i, p)| p.to_info(&format!("pods[{i}]")))
            .collect::<Result<Vec<_>>>()?;
        let samples = self
            .pod_metrics
            .iter()
            .map(|m| PodSample {
                pod: m.pod.clone(),
                timestamp: m.timestamp.0,
                window: m.window.0,
                value: m.value.map_or(0, |q| q.milli_value()),
                containers: m
                    .containers
                    .iter()
                    .map(|(k, v)| (k.clone(), v.milli_value()))
                    .collect(),
            })
            .collect();
        Ok(ReplicasInputs {
            pods,
            samples,
            external: self
                .external_values
                .iter()
                .map(Quantity::milli_value)
                .collect(),
            config,
        })
    }
}

/// Evaluates `ksx hpa replicas`: one metric's proposal.
///
/// # Errors
/// [`Error::InvalidField`] for bad input (exit 2); [`Error::Metric`] for an evaluation error (exit 1).
pub fn replicas(req: &ReplicasRequest) -> Result<ReplicasResponse> {
    let inputs = req.to_inputs()?;
    let data = MetricData {
        now: req.now.0,
        current_replicas: req.current_replicas,
        status_replicas: req.status_replicas.unwrap_or(req.current_replicas),
        pods: &inputs.pods,
        pod_samples: &inputs.samples,
        object_value: req.object_value.map(|q| q.milli_value()),
        external_values: &inputs.external,
    };
    let p = compute_replicas(&req.metric, &data, &inputs.config)?;
    Ok(ReplicasResponse {
        replicas: p.replicas,
        utilization: p.utilization,
        raw_value: Quantity::from_milli(p.raw_value, Format::DecimalSi).to_string(),
    })
}
