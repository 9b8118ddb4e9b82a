//! ScaledJob (§5.5, KEDA `scaledjob/metrics.go`, `executor/scale_jobs.go`): how many Jobs one poll cycle
//! creates.
//!
//! 1. Per polled trigger (cpu/memory triggers and failed polls are skipped, as upstream skips them):
//!    `queue` = the value, `maxValue = min(queue / target, maxReplicaCount)` (0 when the target is 0).
//! 2. The active triggers combine by `multipleScalersCalculation`: `max` (default) keeps the largest queue, and
//!    only a queue > 0 makes the job active; `min` keeps the smallest, but a kept 0 is overwritten by the next
//!    active trigger (upstream tests `queue == 0 ||` first); `avg` and `sum` over the active triggers.
//!    `minReplicaCount > 0` forces active. `scaleTo = ceil(queue)`, `maxScale = ceil(min(maxValue, max))`.
//! 3. Running jobs below `minReplicaCount`: create `min − running`. Else, with `r = running − min`:
//!
//! | strategy | effectiveMaxScale | scaleTo |
//! |---|---|---|
//! | default | `maxScale − r` | `scaleTo` |
//! | custom | `min(maxScale − deduction − trunc(r × percentage), max)` | `scaleTo` |
//! | accurate | `maxScale + r − pending > max ? max − r : maxScale − pending` | `scaleTo` |
//! | eager | `min(max − r − pending, maxScale)` | `max` |
//!
//!    `custom` needs `customScalingRunningJobPercentage` to parse as a number (unset or "" → `default`, as Go's
//!    empty string fails `ParseFloat`); an unset deduction is 0. An unknown strategy is `default`. A negative
//!    effectiveMaxScale is 0; when active, `min(scaleTo, effectiveMaxScale)` jobs are created.
//!
//! Pending jobs: an unfinished job whose pod is neither running nor completed, or, with `pendingPodConditions`,
//! whose pod does not yet meet all of them ([`count_pending`]). Upstream reports 0 pending without
//! `pendingPodConditions` in some versions (keda#6157); ksx counts by the rule above.

use serde::{Deserialize, Serialize};

use super::executor::TriggerPoll;
use super::model::ScaledJob;

/// One trigger's contribution.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScalerMetrics {
    /// The queue length (the metric value).
    pub queue_length: f64,
    /// `min(queue / target, maxReplicaCount)`.
    pub max_value: f64,
    /// Whether the trigger is active.
    pub is_active: bool,
}

/// How the triggers combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Calculation {
    /// Largest queue (default).
    #[default]
    Max,
    /// Smallest queue, with upstream's zero quirk.
    Min,
    /// Mean over active triggers.
    Avg,
    /// Sum over active triggers.
    Sum,
}

impl Calculation {
    /// Reads `multipleScalersCalculation`; anything unknown is `max`, as upstream's `default:` branch.
    pub fn from_spec(s: Option<&str>) -> Self {
        match s {
            Some("min") => Self::Min,
            Some("avg") => Self::Avg,
            Some("sum") => Self::Sum,
            _ => Self::Max,
        }
    }
}

/// The scaling strategy with its parameters resolved.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "strategy")]
pub enum Strategy {
    /// `maxScale − running`.
    Default,
    /// `min(maxScale − deduction − trunc(running × percentage), max)`.
    Custom {
        /// `customScalingQueueLengthDeduction`.
        deduction: i64,
        /// `customScalingRunningJobPercentage`.
        percentage: f64,
    },
    /// Accounts for pending jobs.
    Accurate,
    /// Fills up to max at once.
    Eager,
}

impl Strategy {
    /// Resolves `scalingStrategy` as upstream's `NewScalingStrategy`.
    pub fn from_job(sj: &ScaledJob) -> Self {
        let Some(s) = &sj.spec.scaling_strategy else {
            return Self::Default;
        };
        match s.strategy.as_deref() {
            Some("custom") => {
                let pct = s
                    .custom_scaling_running_job_percentage
                    .as_deref()
                    .and_then(|p| p.parse::<f64>().ok());
                match pct {
                    Some(percentage) => Self::Custom {
                        deduction: i64::from(s.custom_scaling_queue_length_deduction.unwrap_or(0)),
                        percentage,
                    },
                    None => Self::Default,
                }
            }
            Some("accurate") => Self::Accurate,
            Some("eager") => Self::Eager,
            _ => Self::Default,
        }
    }

    /// `GetEffectiveMaxScale`: (effectiveMaxScale, scaleTo) before clamping at 0.
    pub fn effective_max_scale(
        self,
        max_scale: i64,
        running: i64,
        pending: i64,
        max_replicas: i64,
        scale_to: i64,
    ) -> (i64, i64) {
        match self {
            Self::Default => (max_scale.saturating_sub(running), scale_to),
            Self::Custom {
                deduction,
                percentage,
            } => {
                #[allow(
                    clippy::cast_possible_truncation,
                    clippy::cast_precision_loss,
                    reason = "Go's int64(float64(r) * pct): truncation toward zero, saturating"
                )]
                let share = (running as f64 * percentage) as i64;
                (
                    max_scale
                        .saturating_sub(deduction)
                        .saturating_sub(share)
                        .min(max_replicas),
                    scale_to,
                )
            }
            Self::Accurate => {
                if max_scale.saturating_add(running).saturating_sub(pending) > max_replicas {
                    (max_replicas.saturating_sub(running), scale_to)
                } else {
                    (max_scale.saturating_sub(pending), scale_to)
                }
            }
            Self::Eager => (
                max_replicas
                    .saturating_sub(running)
                    .saturating_sub(pending)
                    .min(max_scale),
                max_replicas,
            ),
        }
    }
}

/// One job's state, for [`count_pending`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobView {
    /// The job has a `Complete` or `Failed` condition.
    pub finished: bool,
    /// One of its pods is Running or Succeeded.
    pub pod_running_or_completed: bool,
    /// Pod condition types that are True on its pod.
    #[serde(default)]
    pub pod_conditions: Vec<String>,
}

/// Pending jobs: unfinished, and (without `conditions`) no pod running or completed, or (with them) not all of
/// them True on the pod.
pub fn count_pending(jobs: &[JobView], conditions: &[String]) -> i64 {
    let n = jobs
        .iter()
        .filter(|j| !j.finished)
        .filter(|j| {
            if conditions.is_empty() {
                !j.pod_running_or_completed
            } else {
                !conditions.iter().all(|c| j.pod_conditions.contains(c))
            }
        })
        .count();
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// One cycle's decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobDecision {
    /// Per polled trigger (skipped ones left out).
    pub scalers: Vec<ScalerMetrics>,
    /// Whether the ScaledJob is active.
    pub active: bool,
    /// The combined queue length.
    pub queue_length: f64,
    /// `ceil(queue)`.
    pub scale_to: i64,
    /// `ceil(min(maxValue, max))`.
    pub max_scale: i64,
    /// After the strategy, clamped at 0.
    pub effective_max_scale: i64,
    /// The strategy used.
    pub strategy: Strategy,
    /// Jobs to create now.
    pub create: i64,
}

/// Per-trigger metrics (`getScaledJobMetrics`): failed polls and cpu/memory triggers are skipped.
pub fn scaler_metrics(sj: &ScaledJob, polls: &[TriggerPoll]) -> Vec<ScalerMetrics> {
    let max = f64::from(sj.max_replica_count());
    sj.spec
        .triggers
        .iter()
        .zip(polls)
        .filter(|(t, _)| !t.is_resource())
        .filter_map(|(_, p)| {
            let r = p.result.as_ref().ok()?;
            let target = p.metric.target;
            let max_value = if target == 0.0 {
                0.0
            } else {
                (r.value / target).min(max)
            };
            Some(ScalerMetrics {
                queue_length: r.value,
                max_value,
                is_active: r.active,
            })
        })
        .collect()
}

/// Combines the triggers (`IsScaledJobActive`): (active, ceil(queue), ceil(maxValue), queue).
pub fn combine(
    metrics: &[ScalerMetrics],
    calc: Calculation,
    min_replicas: i32,
    max_replicas: i32,
) -> (bool, i64, i64, f64) {
    if metrics.is_empty() {
        return (false, 0, 0, 0.0);
    }
    let (mut queue, mut max_value, mut active) = (0.0f64, 0.0f64, false);
    match calc {
        Calculation::Min => {
            for m in metrics {
                if (queue == 0.0 || m.queue_length < queue) && m.is_active {
                    queue = m.queue_length;
                    max_value = m.max_value;
                    active = m.is_active;
                }
            }
        }
        Calculation::Avg | Calculation::Sum => {
            let mut n = 0u32;
            for m in metrics.iter().filter(|m| m.is_active) {
                queue += m.queue_length;
                max_value += m.max_value;
                active = true;
                n += 1;
            }
            if calc == Calculation::Avg && n > 0 {
                queue /= f64::from(n);
                max_value /= f64::from(n);
            }
        }
        Calculation::Max => {
            for m in metrics {
                if m.queue_length > queue && m.is_active {
                    queue = m.queue_length;
                    max_value = m.max_value;
                    active = m.is_active;
                }
            }
        }
    }
    if min_replicas > 0 {
        active = true;
    }
    let max_value = max_value.min(f64::from(max_replicas));
    (active, ceil_i64(queue), ceil_i64(max_value), queue)
}

#[allow(
    clippy::cast_possible_truncation,
    reason = "float to int `as` saturates, NaN becomes 0"
)]
fn ceil_i64(v: f64) -> i64 {
    v.ceil() as i64
}

/// One ScaledJob cycle: how many jobs to create. `polls` has one entry per trigger, in order; `running` counts
/// unfinished jobs, `pending` those of [`count_pending`].
pub fn decide_jobs(
    sj: &ScaledJob,
    polls: &[TriggerPoll],
    running: i64,
    pending: i64,
) -> JobDecision {
    let scalers = scaler_metrics(sj, polls);
    let calc = Calculation::from_spec(
        sj.spec
            .scaling_strategy
            .as_ref()
            .and_then(|s| s.multiple_scalers_calculation.as_deref()),
    );
    let (min, max) = (sj.min_replica_count(), sj.max_replica_count());
    let (active, scale_to, max_scale, queue) = combine(&scalers, calc, min, max);
    let strategy = Strategy::from_job(sj);
    let min = i64::from(min);
    if running < min {
        let create = min - running;
        return JobDecision {
            scalers,
            active,
            queue_length: queue,
            scale_to,
            max_scale,
            effective_max_scale: create,
            strategy,
            create,
        };
    }
    let (effective, scale_to) =
        strategy.effective_max_scale(max_scale, running - min, pending, i64::from(max), scale_to);
    let effective = effective.max(0);
    let create = if active && effective > 0 {
        scale_to.min(effective).max(0)
    } else {
        0
    };
    JobDecision {
        scalers,
        active,
        queue_length: queue,
        scale_to,
        max_scale,
        effective_max_scale: effective,
        strategy,
        create,
    }
}
