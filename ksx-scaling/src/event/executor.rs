//! The ScaledObject executor (§5.2, KEDA `scale_scaledobjects.go`): one poll cycle's activation decision, 0↔1
//! and N→idle/0, as a pure function of the object, the current replica count, the triggers' poll results, the
//! time and the status.
//!
//! The HPA owns 1↔N ([`super::hpa_bridge`]); this module decides only what KEDA itself writes to the scale:
//! - Paused (`paused: "true"` or `paused-replicas: N`): nothing is polled or scaled, except the move to N; the HPA
//!   is deleted.
//! - Active (any trigger active, a cpu/memory trigger present, `force-activation`, or with scalingModifiers
//!   `composite > activationTarget` when no trigger failed): from 0 (or, with `idleReplicaCount`, from below
//!   `minReplicaCount`) to `max(min, 1)`, refreshing `lastActiveTime` (scale-out paused: neither); else a failing
//!   trigger makes Ready `Unknown`/`PartialTriggerError` and `lastActiveTime` is **not** refreshed; else
//!   `lastActiveTime = now`.
//! - Inactive: a failing trigger with `fallback.replicas ≠ 0` waits for the HPA's fallback; a failing trigger
//!   without fallback is Ready `False`/`TriggerError`; above idle (or above 0 with min 0) the object goes to
//!   idle (else min) once `lastActiveTime + cooldownPeriod < now` (never active: `creationTimestamp +
//!   initialCooldownPeriod < now`), unless scale-in is paused; meanwhile Active is `False`/`ScalerCooldown`.
//!   Without idle, below min → min.
//!
//! The cooldown jumps **N → 0 (or idle) in one step**: the HPA's scale-down behavior plays no part (keda#6844,
//! #7770); users who want a gradual scale-in keep `minReplicaCount ≥ 1` and let the HPA's behavior work.
//! `lastActiveTime` is stored at second precision (RFC 3339, as `metav1.Time`), so the cooldown is measured
//! from the second of the last activity; a scale to idle or zero leaves it as it was. Ready is `True` every
//! cycle unless a trigger error makes it `Unknown` (`PartialTriggerError`) or `False` (`TriggerError`), as
//! upstream sets it first and overrides it.
//!
//! ```
//! use ksx_scaling::event::executor::{Action, TriggerPoll, execute};
//! use ksx_scaling::event::model::{ScaledObject, ScaledObjectStatus};
//! use ksx_scaling::event::scaler::{MetricSpec, MetricType, Reading};
//!
//! let so: ScaledObject = serde_json::from_str(
//!     r#"{"metadata": {"name": "worker"},
//!         "spec": {"scaleTargetRef": {"name": "worker"},
//!                  "triggers": [{"type": "redis", "metadata": {"listName": "jobs"}}]}}"#,
//! )
//! .expect("a ScaledObject");
//! let poll = TriggerPoll {
//!     metric: MetricSpec {
//!         metric_name: "s0-redis-jobs".into(),
//!         metric_type: MetricType::AverageValue,
//!         target: 5.0,
//!         activation: 0.0,
//!     },
//!     result: Ok(Reading { value: 12.0, active: true }),
//! };
//! let now = 1_800_000_000 * 1_000_000_000;
//! // At 0 replicas an active trigger scales to max(minReplicaCount, 1) = 1.
//! let d = execute(&so, 0, &[poll], now, &ScaledObjectStatus::default()).expect("one poll per trigger");
//! assert_eq!((d.action, d.target_replicas), (Action::ScaleFromZero, Some(1)));
//! assert_eq!(d.status.last_active_time.as_deref(), Some("2027-01-15T08:00:00Z"));
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::fallback;
use super::formula::Formula;
use super::model::{ScaledObject, ScaledObjectStatus};
use super::scaler::{MetricSpec, Reading, ScalerError};
use crate::error::{Error, Result};
use crate::hpa::model::NANOS_PER_SEC;
use crate::vpa::crd::VpaCondition;

/// One trigger's poll this cycle, with the metric its scaler serves.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerPoll {
    /// The scaler's metric (name keys `status.health`; target and type feed the HPA).
    pub metric: MetricSpec,
    /// The poll's result. For cpu/memory triggers it is ignored: they are always active and not polled.
    pub result: std::result::Result<Reading, ScalerError>,
}

/// What the executor did this cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// Paused: at most the move to the paused replica count.
    Paused,
    /// The paused-replicas annotation does not parse: nothing happens.
    InvalidPause,
    /// Active at 0 (or below min with idle set): scale to `max(min, 1)`.
    ScaleFromZero,
    /// Active at 0 but scale-out is paused: stay.
    ScaleOutPaused,
    /// Active, some trigger failed: no change, Ready Unknown.
    PartialTriggerError,
    /// Active: `lastActiveTime` refreshed, the HPA scales.
    KeepActive,
    /// Inactive with a failing trigger and `fallback.replicas ≠ 0`: the HPA's fallback acts.
    AwaitFallback,
    /// Inactive with a failing trigger and no fallback: no change, Ready False.
    TriggerError,
    /// Inactive and cooled down: scale to idle (or min).
    ScaleToIdle,
    /// Inactive, would scale in, but scale-in is paused.
    ScaleInPaused,
    /// Inactive, cooling down.
    Cooldown,
    /// Inactive, no idle, below min: scale to min.
    ScaleToMin,
    /// Nothing to do.
    NoChange,
}

/// One cycle's decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    /// The replica count KEDA writes to the scale, when it differs from the current one.
    pub target_replicas: Option<i32>,
    /// What happened.
    pub action: Action,
    /// Whether the object counts as active (forced activation included).
    pub active: bool,
    /// Whether any polled trigger failed.
    pub error: bool,
    /// The composite value with scalingModifiers, when it could be computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub composite: Option<f64>,
    /// True while paused: the generated HPA must be deleted.
    pub delete_hpa: bool,
    /// The updated status: `lastActiveTime`, `health`, `pausedReplicaCount`, and the Ready, Active, Fallback and
    /// Paused conditions.
    pub status: ScaledObjectStatus,
}

/// Formats engine time as `metav1.Time` does: RFC 3339, whole seconds, UTC.
pub fn format_time(nanos: i64) -> String {
    let secs = nanos.div_euclid(NANOS_PER_SEC);
    jiff::Timestamp::from_second(secs).map_or_else(|_| String::new(), |t| t.to_string())
}

/// Parses an RFC 3339 time into engine time.
///
/// # Errors
/// [`Error::InvalidField`] at `field` when the text is not an RFC 3339 time.
pub fn parse_time(text: &str, field: &str) -> Result<i64> {
    let t: jiff::Timestamp = text.parse().map_err(|e| Error::InvalidField {
        field: field.to_owned(),
        reason: format!("not an RFC 3339 time ({e}): {text:?}"),
    })?;
    i64::try_from(t.as_nanosecond()).map_err(|_| Error::InvalidField {
        field: field.to_owned(),
        reason: format!("time out of range: {text:?}"),
    })
}

/// Sets a condition, moving `lastTransitionTime` only when the status changes.
pub fn set_condition(
    conditions: &mut Vec<VpaCondition>,
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: i64,
) {
    let fresh = VpaCondition {
        type_: type_.to_owned(),
        status: status.to_owned(),
        last_transition_time: Some(format_time(now)),
        reason: Some(reason.to_owned()),
        message: Some(message.to_owned()),
    };
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(c) => {
            if c.status == status {
                c.reason = fresh.reason;
                c.message = fresh.message;
            } else {
                *c = fresh;
            }
        }
        None => conditions.push(fresh),
    }
}

/// The condition of this type, when set.
pub fn condition<'a>(status: &'a ScaledObjectStatus, type_: &str) -> Option<&'a VpaCondition> {
    status.conditions.iter().find(|c| c.type_ == type_)
}

/// Whether the triggers make the object active, whether any failed, and the composite value (scalingModifiers).
fn activity(so: &ScaledObject, polls: &[TriggerPoll]) -> (bool, bool, Option<f64>, Option<String>) {
    let mut active = false;
    let mut error = false;
    let mut first_error = None;
    let mut has_resource = false;
    let mut values: BTreeMap<String, Option<f64>> = BTreeMap::new();
    for (t, p) in so.spec.triggers.iter().zip(polls) {
        if t.is_resource() {
            has_resource = true;
            continue;
        }
        match &p.result {
            Ok(r) => {
                active |= r.active;
                if let Some(n) = &t.name {
                    values.insert(n.clone(), Some(r.value));
                }
            }
            Err(e) => {
                error = true;
                first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
    let mut composite = None;
    if let Some(m) = so.scaling_modifiers() {
        // With a formula, activity is the composite against activationTarget, and any error makes it inactive.
        active = false;
        if !error {
            let evaluated = Formula::parse(&m.formula)
                .map_err(|e| format!("spec.advanced.scalingModifiers.formula: {e}"))
                .and_then(|f| f.evaluate(&values).map_err(|e| e.to_string()))
                .and_then(|v| v.ok_or_else(|| "the formula yields nil".to_owned()));
            match (evaluated, m.activation_target_value()) {
                (Ok(v), Ok(activation)) => {
                    composite = Some(v);
                    active = v > activation;
                }
                (Err(e), _) => {
                    error = true;
                    first_error = Some(e);
                }
                (_, Err(e)) => {
                    error = true;
                    first_error = Some(e.to_string());
                }
            }
        }
    }
    (active || has_resource, error, composite, first_error)
}

/// Runs one executor cycle (§5.2). `polls` has one entry per trigger, in trigger order; `status` is the
/// object's current status (the object's own `status` field is not read).
///
/// # Errors
/// [`Error::InvalidField`] when `polls` does not match the triggers or `status.lastActiveTime` is not an
/// RFC 3339 time.
pub fn execute(
    so: &ScaledObject,
    current_replicas: i32,
    polls: &[TriggerPoll],
    now: i64,
    status: &ScaledObjectStatus,
) -> Result<Decision> {
    if polls.len() != so.spec.triggers.len() {
        return Err(Error::InvalidField {
            field: "spec.triggers".to_owned(),
            reason: format!(
                "{} poll results for {} triggers: one per trigger, in order",
                polls.len(),
                so.spec.triggers.len()
            ),
        });
    }
    let mut st = status.clone();
    let mut decision = Decision {
        target_replicas: None,
        action: Action::NoChange,
        active: false,
        error: false,
        composite: None,
        delete_hpa: false,
        status: ScaledObjectStatus::default(),
    };
    let change = |to: i32| (to != current_replicas).then_some(to);

    // Pause first: nothing else runs while paused.
    let paused_replicas = match so.paused_replicas() {
        Ok(p) => p,
        Err(e) => {
            set_condition(
                &mut st.conditions,
                "Ready",
                "False",
                "ScaledObjectCheckFailed",
                &e.to_string(),
                now,
            );
            decision.action = Action::InvalidPause;
            decision.status = st;
            return Ok(decision);
        }
    };
    if so.is_paused() {
        set_condition(
            &mut st.conditions,
            "Paused",
            "True",
            "ScaledObjectPaused",
            "ScaledObject is paused",
            now,
        );
        if let Some(n) = paused_replicas {
            st.paused_replica_count = Some(n);
            decision.target_replicas = change(n);
        }
        decision.action = Action::Paused;
        decision.delete_hpa = true;
        decision.status = st;
        return Ok(decision);
    }
    if condition(&st, "Paused").is_some_and(|c| c.status == "True") {
        set_condition(
            &mut st.conditions,
            "Paused",
            "False",
            "ScaledObjectUnpaused",
            "pause annotation removed for ScaledObject",
            now,
        );
    }
    st.paused_replica_count = None;

    fallback::update_health(so, polls, &mut st);
    let (triggers_active, error, composite, first_error) = activity(so, polls);
    let active = triggers_active || so.is_force_activated();
    decision.active = active;
    decision.error = error;
    decision.composite = composite;
    // Ready is True each cycle unless a trigger error below says otherwise (upstream sets it first, then
    // overrides it).
    set_condition(
        &mut st.conditions,
        "Ready",
        "True",
        "ScaledObjectReady",
        "ScaledObject is defined correctly and is ready for scaling",
        now,
    );

    let min = so.min_replica_count();
    let idle = so.spec.idle_replica_count;
    let now_text = format_time(now);
    let mut cooling = false;
    if active {
        if (idle.is_some() && current_replicas < min) || current_replicas == 0 {
            if so.is_scale_out_paused() {
                // Upstream returns before scaling and before recording the activity.
                decision.action = Action::ScaleOutPaused;
            } else {
                decision.action = Action::ScaleFromZero;
                decision.target_replicas = change(min.max(1));
                st.last_active_time = Some(now_text);
            }
        } else if error {
            decision.action = Action::PartialTriggerError;
            let msg = first_error.as_deref().unwrap_or("a trigger failed");
            set_condition(
                &mut st.conditions,
                "Ready",
                "Unknown",
                "PartialTriggerError",
                &format!("Some triggers defined in ScaledObject are not working correctly: {msg}"),
                now,
            );
        } else {
            decision.action = Action::KeepActive;
            st.last_active_time = Some(now_text);
        }
    } else {
        let fallback_replicas = so.spec.fallback.as_ref().map(|f| f.replicas);
        if error && fallback_replicas.is_some_and(|r| r != 0) {
            decision.action = Action::AwaitFallback;
        } else if error && fallback_replicas.is_none() {
            decision.action = Action::TriggerError;
            let msg = first_error.as_deref().unwrap_or("a trigger failed");
            set_condition(
                &mut st.conditions,
                "Ready",
                "False",
                "TriggerError",
                &format!("Triggers defined in ScaledObject are not working correctly: {msg}"),
                now,
            );
        } else if idle.is_some_and(|i| current_replicas > i) || (current_replicas > 0 && min == 0) {
            if so.is_scale_in_paused() {
                decision.action = Action::ScaleInPaused;
            } else if cooled_down(so, &st, now)? {
                decision.action = Action::ScaleToIdle;
                decision.target_replicas = change(idle.unwrap_or(min));
            } else {
                decision.action = Action::Cooldown;
                cooling = true;
            }
        } else if idle.is_none() && current_replicas < min {
            decision.action = Action::ScaleToMin;
            decision.target_replicas = change(min);
        }
    }

    let (status_text, reason, message) = if active {
        (
            "True",
            "ScalerActive",
            if so.is_force_activated() {
                "Scaling is performed because activation is being forced by annotation"
            } else {
                "Scaling is performed because triggers are active"
            },
        )
    } else if cooling {
        (
            "False",
            "ScalerCooldown",
            "Scaler cooling down because triggers are not active",
        )
    } else {
        (
            "False",
            "ScalerNotActive",
            "Scaling is not performed because triggers are not active",
        )
    };
    set_condition(
        &mut st.conditions,
        "Active",
        status_text,
        reason,
        message,
        now,
    );
    // Like health, the Fallback condition is only kept for objects with a valid fallback.
    if fallback::has_valid_fallback(so) {
        let (status_text, reason, message) = if fallback::any_serving(so, &st) {
            (
                "True",
                "FallbackExists",
                "At least one trigger is falling back on this scaled object",
            )
        } else {
            (
                "False",
                "NoFallbackFound",
                "No fallbacks are active on this scaled object",
            )
        };
        set_condition(
            &mut st.conditions,
            "Fallback",
            status_text,
            reason,
            message,
            now,
        );
    }
    decision.status = st;
    Ok(decision)
}

/// `lastActiveTime + cooldownPeriod < now`, or, never active, `creationTimestamp + initialCooldownPeriod < now`
/// (an unset creation time is Go's zero time: long past).
fn cooled_down(so: &ScaledObject, st: &ScaledObjectStatus, now: i64) -> Result<bool> {
    let secs = |s: i32| i64::from(s).saturating_mul(NANOS_PER_SEC);
    match &st.last_active_time {
        Some(text) => {
            let last = parse_time(text, "status.lastActiveTime")?;
            Ok(last.saturating_add(secs(so.cooldown_period_secs())) < now)
        }
        None => Ok(so.creation_nanos().is_none_or(|created| {
            created.saturating_add(secs(so.initial_cooldown_period_secs())) < now
        })),
    }
}
