//! Normalization of a replica proposal: stabilization windows, rate policies and min/max clamping, exactly as
//! the upstream HPA controller (`normalizeDesiredReplicas` and `normalizeDesiredReplicasWithBehaviors`).
//!
//! Pure: the caller passes `now` (nanoseconds since the Unix epoch) and owns the [`History`], which this
//! module updates as the controller's in-memory maps would be.

use serde::{Deserialize, Serialize};

use super::model::{
    LimitReason, NANOS_PER_SEC, PolicyType, ResolvedBehavior, ResolvedRules, SelectPolicy,
    StabilizationReason,
};

/// Scale-up cap factor of the legacy path (`scaleUpLimitFactor`).
const LEGACY_SCALE_UP_FACTOR: f64 = 2.0;
/// Scale-up cap floor of the legacy path (`scaleUpLimitMinimum`).
const LEGACY_SCALE_UP_MINIMUM: f64 = 4.0;

/// A stored recommendation: an unstabilized proposal and when it was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recommendation {
    /// The proposal.
    pub replicas: i32,
    /// When, in nanoseconds since the Unix epoch.
    pub timestamp: i64,
}

/// A stored scale event of one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScaleEvent {
    /// How many replicas were added (up) or removed (down); never negative.
    pub replica_change: i32,
    /// When, in nanoseconds since the Unix epoch.
    pub timestamp: i64,
    /// Older than the direction's longest policy period when last checked; the slot may be reused.
    pub outdated: bool,
}

/// The controller's in-memory state for one HPA.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    /// Unstabilized proposals.
    pub recommendations: Vec<Recommendation>,
    /// Scale-up events (behavior path only).
    pub scale_up_events: Vec<ScaleEvent>,
    /// Scale-down events (behavior path only).
    pub scale_down_events: Vec<ScaleEvent>,
}

/// The fixed parameters of one normalization.
#[derive(Debug, Clone, Copy)]
pub struct NormalizeArgs<'a> {
    /// Now, in nanoseconds since the Unix epoch.
    pub now: i64,
    /// `scale.spec.replicas`.
    pub current_replicas: i32,
    /// The proposal from the metrics.
    pub desired_replicas: i32,
    /// `spec.minReplicas` (defaulted).
    pub min_replicas: i32,
    /// `spec.maxReplicas`.
    pub max_replicas: i32,
    /// The resolved behavior; `None` selects the legacy path.
    pub behavior: Option<&'a ResolvedBehavior>,
    /// The downscale stabilization flag in seconds (legacy path).
    pub downscale_window_secs: i64,
}

/// What normalization decided, with its reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Normalized {
    /// The final replica count.
    pub desired_replicas: i32,
    /// The count after stabilization, before rate limits and clamping.
    pub stabilized_replicas: i32,
    /// The behavior path's stabilization reason (set whenever the behavior path ran); `None` on the legacy path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stabilization_reason: Option<StabilizationReason>,
    /// True when stabilization changed the proposal (`AbleToScale` then carries a stabilized reason; else
    /// `ReadyForNewScale`).
    pub stabilized: bool,
    /// The `ScalingLimited` reason.
    pub limit_reason: LimitReason,
}

impl Normalized {
    /// The `AbleToScale` condition reason upstream sets for this decision.
    pub fn able_to_scale_reason(&self) -> &'static str {
        match (self.stabilized, self.stabilization_reason) {
            (false, _) => "ReadyForNewScale",
            (true, Some(StabilizationReason::ScaleUpStabilized)) => "ScaleUpStabilized",
            (true, _) => "ScaleDownStabilized",
        }
    }

    /// `ScalingLimited` is True iff the final count differs from the stabilized one.
    pub fn is_limited(&self) -> bool {
        self.desired_replicas != self.stabilized_replicas
    }
}

/// Normalizes a proposal and updates `history` as the controller does: the proposal is stored, and on the
/// behavior path a scale event is stored when the result differs from the current count.
///
/// This is the normalization step only: none of the reconcile-level short cuts (current 0, outside [min, max])
/// and no seeding of an empty history.
pub fn normalize(history: &mut History, args: &NormalizeArgs<'_>) -> Normalized {
    match args.behavior {
        None => normalize_legacy(history, args),
        Some(behavior) => {
            let result = normalize_with_behavior(history, args, behavior);
            if result.desired_replicas != args.current_replicas {
                store_scale_event(
                    history,
                    behavior,
                    args.now,
                    args.current_replicas,
                    result.desired_replicas,
                );
            }
            result
        }
    }
}

fn secs_to_nanos(secs: i64) -> i64 {
    secs.saturating_mul(NANOS_PER_SEC)
}

/// The legacy path (`behavior` nil): one downscale window, then an absolute cap of max(2 × current, 4).
fn normalize_legacy(history: &mut History, args: &NormalizeArgs<'_>) -> Normalized {
    let cutoff = args
        .now
        .saturating_sub(secs_to_nanos(args.downscale_window_secs));
    let proposal = args.desired_replicas;
    let mut stabilized = proposal;
    let mut old_slot = None;
    for (i, rec) in history.recommendations.iter().enumerate() {
        if rec.timestamp < cutoff {
            old_slot = Some(i);
        } else if rec.replicas > stabilized {
            stabilized = rec.replicas;
        }
    }
    store_recommendation(history, old_slot, proposal, args.now);

    let scale_up_limit = saturate_f64_to_i32(
        (LEGACY_SCALE_UP_FACTOR * f64::from(args.current_replicas)).max(LEGACY_SCALE_UP_MINIMUM),
    );
    let (upper, upper_reason) = if args.max_replicas > scale_up_limit {
        (scale_up_limit, LimitReason::ScaleUpLimit)
    } else {
        (args.max_replicas, LimitReason::TooManyReplicas)
    };
    let (desired, limit_reason) = if stabilized < args.min_replicas {
        (args.min_replicas, LimitReason::TooFewReplicas)
    } else if stabilized > upper {
        (upper, upper_reason)
    } else {
        (stabilized, LimitReason::DesiredWithinRange)
    };
    Normalized {
        desired_replicas: desired,
        stabilized_replicas: stabilized,
        stabilization_reason: None,
        stabilized: stabilized != proposal,
        limit_reason,
    }
}

fn store_recommendation(history: &mut History, slot: Option<usize>, replicas: i32, now: i64) {
    let rec = Recommendation {
        replicas,
        timestamp: now,
    };
    match slot.and_then(|i| history.recommendations.get_mut(i)) {
        Some(old) => *old = rec,
        None => history.recommendations.push(rec),
    }
}

/// The behavior path: stabilize over both windows, then rate-limit and clamp in the direction of travel.
fn normalize_with_behavior(
    history: &mut History,
    args: &NormalizeArgs<'_>,
    behavior: &ResolvedBehavior,
) -> Normalized {
    let now = args.now;
    let proposal = args.desired_replicas;
    let current = args.current_replicas;
    let up_cutoff = now.saturating_sub(secs_to_nanos(behavior.scale_up.window_secs));
    let down_cutoff = now.saturating_sub(secs_to_nanos(behavior.scale_down.window_secs));
    let mut up_rec = proposal;
    let mut down_rec = proposal;
    let mut old_slot = None;
    for (i, rec) in history.recommendations.iter().enumerate() {
        if rec.timestamp > up_cutoff {
            up_rec = up_rec.min(rec.replicas);
        }
        if rec.timestamp > down_cutoff {
            down_rec = down_rec.max(rec.replicas);
        }
        if rec.timestamp < up_cutoff && rec.timestamp < down_cutoff {
            old_slot = Some(i);
        }
    }
    let mut stabilized = current;
    if stabilized < up_rec {
        stabilized = up_rec;
    }
    if stabilized > down_rec {
        stabilized = down_rec;
    }
    store_recommendation(history, old_slot, proposal, now);
    let reason = if proposal >= current {
        StabilizationReason::ScaleUpStabilized
    } else {
        StabilizationReason::ScaleDownStabilized
    };

    let (desired, limit_reason) = if stabilized > current {
        let limit = scale_up_limit(current, history, &behavior.scale_up, now).max(current);
        let (bound, bound_reason) = if args.max_replicas > limit {
            (limit, LimitReason::ScaleUpLimit)
        } else {
            (args.max_replicas, LimitReason::TooManyReplicas)
        };
        if stabilized > bound {
            (bound, bound_reason)
        } else {
            (stabilized, LimitReason::DesiredWithinRange)
        }
    } else if stabilized < current {
        let limit = scale_down_limit(current, history, &behavior.scale_down, now).min(current);
        let (bound, bound_reason) = if args.min_replicas < limit {
            (limit, LimitReason::ScaleDownLimit)
        } else {
            (args.min_replicas, LimitReason::TooFewReplicas)
        };
        if stabilized < bound {
            (bound, bound_reason)
        } else {
            (stabilized, LimitReason::DesiredWithinRange)
        }
    } else {
        (stabilized, LimitReason::DesiredWithinRange)
    };
    Normalized {
        desired_replicas: desired,
        stabilized_replicas: stabilized,
        stabilization_reason: Some(reason),
        stabilized: stabilized != proposal,
        limit_reason,
    }
}

/// Σ replicaChange of the events strictly inside the last `period_secs` (`getReplicasChangePerPeriod`).
pub fn change_in_period(events: &[ScaleEvent], period_secs: i32, now: i64) -> i64 {
    let cutoff = now.saturating_sub(secs_to_nanos(i64::from(period_secs)));
    events
        .iter()
        .filter(|e| e.timestamp > cutoff)
        .map(|e| i64::from(e.replica_change))
        .sum()
}

/// The replicas at the start of a policy's period: current minus what was added plus what was removed in it.
fn period_start(current: i32, history: &History, period_secs: i32, now: i64) -> i64 {
    i64::from(current) - change_in_period(&history.scale_up_events, period_secs, now)
        + change_in_period(&history.scale_down_events, period_secs, now)
}

/// The highest count the scale-up policies allow now (`calculateScaleUpLimitWithScalingRules`).
pub fn scale_up_limit(current: i32, history: &History, rules: &ResolvedRules, now: i64) -> i32 {
    let pick: fn(i64, i64) -> i64 = match rules.select_policy {
        SelectPolicy::Disabled => return current,
        SelectPolicy::Min => i64::min,
        SelectPolicy::Max => i64::max,
    };
    let mut result: Option<i64> = None;
    for policy in &rules.policies {
        let start = period_start(current, history, policy.period_seconds, now);
        let proposed = match policy.policy_type {
            PolicyType::Pods => start + i64::from(policy.value),
            PolicyType::Percent => {
                saturate_f64_to_i64((start as f64 * (1.0 + f64::from(policy.value) / 100.0)).ceil())
            }
        };
        result = Some(result.map_or(proposed, |r| pick(r, proposed)));
    }
    // With no policy upstream keeps its start value (MinInt32 for Max, MaxInt32 for Min).
    let fallback = match rules.select_policy {
        SelectPolicy::Min => i64::from(i32::MAX),
        _ => i64::from(i32::MIN),
    };
    saturate_i64_to_i32(result.unwrap_or(fallback))
}

/// The lowest count the scale-down policies allow now (`calculateScaleDownLimitWithBehaviors`).
pub fn scale_down_limit(current: i32, history: &History, rules: &ResolvedRules, now: i64) -> i32 {
    // Scaling down, the biggest change is the smallest count: Max picks the minimum.
    let pick: fn(i64, i64) -> i64 = match rules.select_policy {
        SelectPolicy::Disabled => return current,
        SelectPolicy::Min => i64::max,
        SelectPolicy::Max => i64::min,
    };
    let mut result: Option<i64> = None;
    for policy in &rules.policies {
        let start = period_start(current, history, policy.period_seconds, now);
        let proposed = match policy.policy_type {
            PolicyType::Pods => start - i64::from(policy.value),
            PolicyType::Percent => saturate_f64_to_i64(
                (start as f64 * (1.0 - f64::from(policy.value) / 100.0)).trunc(),
            ),
        };
        result = Some(result.map_or(proposed, |r| pick(r, proposed)));
    }
    let fallback = match rules.select_policy {
        SelectPolicy::Min => i64::from(i32::MIN),
        _ => i64::from(i32::MAX),
    };
    saturate_i64_to_i32(result.unwrap_or(fallback))
}

/// Stores a scale event after a rescale (`storeScaleEvent`): events older than the direction's longest policy
/// period are marked outdated (sticky) and the last outdated slot is reused.
pub fn store_scale_event(
    history: &mut History,
    behavior: &ResolvedBehavior,
    now: i64,
    prev_replicas: i32,
    new_replicas: i32,
) {
    let (events, rules, change) = if new_replicas > prev_replicas {
        (
            &mut history.scale_up_events,
            &behavior.scale_up,
            i64::from(new_replicas) - i64::from(prev_replicas),
        )
    } else {
        (
            &mut history.scale_down_events,
            &behavior.scale_down,
            i64::from(prev_replicas) - i64::from(new_replicas),
        )
    };
    mark_outdated(events, rules.longest_period_secs(), now);
    let event = ScaleEvent {
        replica_change: saturate_i64_to_i32(change),
        timestamp: now,
        outdated: false,
    };
    match events.iter_mut().rev().find(|e| e.outdated) {
        Some(slot) => *slot = event,
        None => events.push(event),
    }
}

/// Marks events older than `longest_period_secs` outdated (`markScaleEventsOutdated`); the mark is sticky.
pub fn mark_outdated(events: &mut [ScaleEvent], longest_period_secs: i64, now: i64) {
    let cutoff = now.saturating_sub(secs_to_nanos(longest_period_secs));
    for e in events.iter_mut() {
        if e.timestamp < cutoff {
            e.outdated = true;
        }
    }
}

/// `int32(x)` for a float, saturating instead of wrapping; NaN gives 0.
#[allow(
    clippy::cast_possible_truncation,
    reason = "the float-to-int `as` cast saturates and maps NaN to 0, which is the intent"
)]
pub(crate) fn saturate_f64_to_i32(x: f64) -> i32 {
    x as i32
}

/// `int64(x)` for a float, saturating instead of wrapping; NaN gives 0.
#[allow(
    clippy::cast_possible_truncation,
    reason = "the float-to-int `as` cast saturates and maps NaN to 0, which is the intent"
)]
pub(crate) fn saturate_f64_to_i64(x: f64) -> i64 {
    x as i64
}

/// An `i64` clamped into the `i32` range.
pub(crate) fn saturate_i64_to_i32(x: i64) -> i32 {
    i32::try_from(x).unwrap_or(if x < 0 { i32::MIN } else { i32::MAX })
}
