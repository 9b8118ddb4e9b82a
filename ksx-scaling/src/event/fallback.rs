//! Fallback (§5.3, KEDA `pkg/fallback`): per-metric health counting and the values served to the HPA in place of
//! a failing trigger's metric, so that the HPA lands on the fallback replica count.
//!
//! - Health (only with a valid fallback, as upstream): every non-cpu/memory trigger's metric has
//!   `status.health[metricName] = {numberOfFailures, Happy|Failing}`; a successful poll resets it to 0 / Happy,
//!   an error adds one / Failing.
//! - A fallback is **valid** when configured with `failureThreshold ≥ 0`, `replicas ≥ 0` and, with
//!   scalingModifiers, a composite target > 0. It **serves** a metric while `failures > failureThreshold`:
//!   R = `replicas` (static), the current count (currentReplicas), `max(current, replicas)` (IfHigher) or
//!   `min(current, replicas)` (IfLower); the served value (milli-units, as the metrics API serves them) is
//!   `int64(target × 1000) × R` for AverageValue (the HPA computes `ceil(value / target) = R` exactly), that
//!   ÷ readyPods for Value (0 ready pods: the fallback fails and the
//!   error reaches the HPA). Below the threshold the error reaches the HPA, which holds.
//! - With scalingModifiers the one composite metric is served: an active fallback skips the formula and serves
//!   R × the composite target, except with behavior `scalingModifiers`, where each trigger past the threshold
//!   enters the formula as nil (upstream passes a −1 placeholder and nil to `??`) and a nil result becomes
//!   `fallback.replicas × target`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::executor::TriggerPoll;
use super::formula::Formula;
use super::model::{
    COMPOSITE_METRIC_NAME, FallbackBehavior, HealthStatus, MetricTypeName, ScaledObject,
    ScaledObjectStatus,
};

/// `status.health[].status` of a metric whose last poll succeeded.
pub const HEALTH_HAPPY: &str = "Happy";
/// `status.health[].status` of a metric whose last poll failed.
pub const HEALTH_FAILING: &str = "Failing";

/// Updates `status.health` from this cycle's polls when the object has a valid fallback (upstream skips the
/// health update otherwise); cpu/memory triggers are not polled and have no entry.
pub fn update_health(so: &ScaledObject, polls: &[TriggerPoll], status: &mut ScaledObjectStatus) {
    if !has_valid_fallback(so) {
        return;
    }
    // Entries of metrics the object no longer serves are dropped, as upstream does when it rebuilds the HPA.
    let current: Vec<&str> = so
        .spec
        .triggers
        .iter()
        .zip(polls)
        .filter(|(t, _)| !t.is_resource())
        .map(|(_, p)| p.metric.metric_name.as_str())
        .collect();
    status
        .health
        .retain(|name, _| current.contains(&name.as_str()));
    for (trigger, poll) in so.spec.triggers.iter().zip(polls) {
        if trigger.is_resource() {
            continue;
        }
        let entry = status
            .health
            .entry(poll.metric.metric_name.clone())
            .or_default();
        if poll.result.is_ok() {
            *entry = HealthStatus {
                number_of_failures: 0,
                status: HEALTH_HAPPY.to_owned(),
            };
        } else {
            entry.number_of_failures = entry.number_of_failures.saturating_add(1);
            entry.status = HEALTH_FAILING.to_owned();
        }
    }
}

/// Whether the object has a fallback that may serve (`HasValidFallback`): configured, threshold and replicas
/// ≥ 0, and with scalingModifiers a composite target > 0.
pub fn has_valid_fallback(so: &ScaledObject) -> bool {
    let Some(fb) = &so.spec.fallback else {
        return false;
    };
    let modifiers_ok = so
        .scaling_modifiers()
        .is_none_or(|m| m.target_value().is_ok_and(|t| t > 0.0));
    fb.failure_threshold >= 0 && fb.replicas >= 0 && modifiers_ok
}

/// Whether the metric with this health is past the threshold of a valid fallback.
pub fn is_serving(so: &ScaledObject, health: Option<&HealthStatus>) -> bool {
    let Some(fb) = so.spec.fallback.as_ref().filter(|_| has_valid_fallback(so)) else {
        return false;
    };
    health
        .is_some_and(|h| h.status == HEALTH_FAILING && h.number_of_failures > fb.failure_threshold)
}

/// Whether any metric of `status.health` is past the threshold (`Fallback=True`, `FallbackExists`).
pub fn any_serving(so: &ScaledObject, status: &ScaledObjectStatus) -> bool {
    status.health.values().any(|h| is_serving(so, Some(h)))
}

/// The replica count the fallback aims at for this behavior: R of §5.3.
pub fn fallback_replicas(so: &ScaledObject, current_replicas: i32) -> Option<i32> {
    let fb = so.spec.fallback.as_ref()?;
    Some(match fb.behavior.unwrap_or_default() {
        FallbackBehavior::Static | FallbackBehavior::ScalingModifiers => fb.replicas,
        FallbackBehavior::CurrentReplicas => current_replicas,
        FallbackBehavior::CurrentReplicasIfHigher => current_replicas.max(fb.replicas),
        FallbackBehavior::CurrentReplicasIfLower => current_replicas.min(fb.replicas),
    })
}

/// A float in milli-units as the metrics API serves it: `int64(v × 1000)`, truncated toward zero, saturating.
pub fn to_milli(v: f64) -> i64 {
    // `as` saturates for floats (NaN → 0): the intended conversion.
    #[allow(
        clippy::cast_possible_truncation,
        reason = "float to int `as` saturates"
    )]
    let milli = (v * 1000.0).trunc() as i64;
    milli
}

/// The metric value, in milli-units, that makes the HPA land on `replicas`: `int64(target × 1000) × R` for
/// AverageValue (an exact multiple of the HPA's own milli target, so `ceil(value / target) = R` exactly), the
/// same divided by the ready pods for Value (truncated).
///
/// # Errors
/// A message when the metric is Value and no pod is ready (upstream's fallback then fails too).
pub fn value_for_replicas(
    metric_type: MetricTypeName,
    target: f64,
    replicas: i32,
    ready_pods: i32,
) -> Result<i64, String> {
    let total = to_milli(target).saturating_mul(i64::from(replicas));
    match metric_type {
        MetricTypeName::Value if ready_pods <= 0 => Err(format!(
            "fallback for a Value metric needs ready pods to divide {replicas} replicas by, found none"
        )),
        MetricTypeName::Value => Ok(total / i64::from(ready_pods)),
        _ => Ok(total),
    }
}

/// One External metric as served to the HPA this cycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServedMetric {
    /// The External metric name (`s0-redis-jobs`, `composite-metric`).
    pub name: String,
    /// AverageValue or Value.
    pub metric_type: MetricTypeName,
    /// The target (per pod for AverageValue).
    pub target: f64,
    /// The value the HPA reads in milli-units (`int64(v × 1000)`), or why there is none (the HPA then holds).
    pub value: Result<i64, String>,
    /// True when the value comes from the fallback.
    pub fallback: bool,
}

/// What the HPA reads this cycle, one entry per External metric of the generated HPA, in trigger order (or the
/// one composite metric). `status` must already hold this cycle's health ([`update_health`]); `ready_pods`
/// counts the target's Running and Ready pods (for Value fallbacks).
pub fn serve(
    so: &ScaledObject,
    polls: &[TriggerPoll],
    status: &ScaledObjectStatus,
    current_replicas: i32,
    ready_pods: i32,
) -> Vec<ServedMetric> {
    let serving = |name: &str| is_serving(so, status.health.get(name));
    if let Some(m) = so.scaling_modifiers() {
        let metric_type = m.metric_type();
        let target = m.target_value().unwrap_or(0.0);
        return vec![ServedMetric {
            name: COMPOSITE_METRIC_NAME.to_owned(),
            metric_type,
            target,
            value: composite_value(so, polls, &serving, current_replicas, ready_pods),
            fallback: polls.iter().any(|p| serving(&p.metric.metric_name)),
        }];
    }
    let mut out = Vec::new();
    for (trigger, poll) in so.spec.triggers.iter().zip(polls) {
        if trigger.is_resource() {
            continue;
        }
        let name = poll.metric.metric_name.clone();
        let metric_type = trigger.metric_type();
        let target = poll.metric.target;
        let (value, fallback) = match &poll.result {
            Ok(r) => (Ok(to_milli(r.value)), false),
            Err(e) if serving(&name) => {
                let r = fallback_replicas(so, current_replicas).unwrap_or(0);
                match value_for_replicas(metric_type, target, r, ready_pods) {
                    Ok(v) => (Ok(v), true),
                    Err(why) => (Err(format!("{e}; {why}")), false),
                }
            }
            Err(e) => (Err(e.to_string()), false),
        };
        out.push(ServedMetric {
            name,
            metric_type,
            target,
            value,
            fallback,
        });
    }
    out
}

/// The composite metric's value: the formula over trigger values, with §5.3's fallback rules.
fn composite_value(
    so: &ScaledObject,
    polls: &[TriggerPoll],
    serving: &dyn Fn(&str) -> bool,
    current_replicas: i32,
    ready_pods: i32,
) -> Result<i64, String> {
    let Some(m) = so.scaling_modifiers() else {
        return Err("no scalingModifiers".to_owned());
    };
    let target = m.target_value().map_err(|e| e.to_string())?;
    let metric_type = m.metric_type();
    let fb_static = so.spec.fallback.as_ref().map(|f| f.replicas);
    let by_behavior = so.fallback_behavior() == Some(FallbackBehavior::ScalingModifiers);
    let external = || {
        so.spec
            .triggers
            .iter()
            .zip(polls)
            .filter(|(t, _)| !t.is_resource())
    };
    let any_serving = external().any(|(_, p)| serving(&p.metric.metric_name));
    if any_serving && !by_behavior {
        let r = fallback_replicas(so, current_replicas).unwrap_or(0);
        return value_for_replicas(metric_type, target, r, ready_pods);
    }
    let mut values: BTreeMap<String, Option<f64>> = BTreeMap::new();
    for (t, p) in external() {
        let value = match &p.result {
            Ok(r) => Some(r.value),
            Err(_) if serving(&p.metric.metric_name) => None,
            Err(e) => return Err(e.to_string()),
        };
        if let Some(name) = &t.name {
            values.insert(name.clone(), value);
        }
    }
    let formula = Formula::parse(&m.formula)
        .map_err(|e| format!("spec.advanced.scalingModifiers.formula: {e}"))?;
    match formula.evaluate(&values) {
        Ok(Some(v)) => Ok(to_milli(v)),
        Ok(None) => match fb_static.filter(|_| has_valid_fallback(so)) {
            Some(r) => value_for_replicas(metric_type, target, r, ready_pods),
            None => Err("the formula yields nil and there is no fallback".to_owned()),
        },
        Err(e) => Err(format!("evaluating the formula: {e}")),
    }
}
