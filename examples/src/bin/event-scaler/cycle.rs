//! One poll cycle of one ScaledObject, after its triggers were polled: KEDA's executor decides 0↔1, cooldown
//! and pause (`ksx_scaling::event::executor::execute`), then the generated HPA decides 1↔N from the values
//! served this cycle (`fallback::serve`, `hpa_bridge::scale`). No I/O and no clock here: the `event-scaler`
//! binary and the `ksx demo` event section (which includes this file with `#[path]`) both read the cluster and
//! poll the scalers themselves, call [`step`], and write the replica count it returns.
//!
//! Upstream the HPA syncs on its own 15 s period; here it runs right after the executor in every cycle, so a
//! scale from zero and the HPA's first step show in one decision. At 0 replicas the HPA sits in
//! `ScalingDisabled` and is not asked; while paused it is deleted, which drops its history.

use ksx_scaling::event::executor::{Action, Decision, TriggerPoll, execute};
use ksx_scaling::event::fallback::{ServedMetric, serve};
use ksx_scaling::event::hpa_bridge::{GeneratedHpa, ScaleInput, ready_pods, scale};
use ksx_scaling::event::model::{ScaledObject, ScaledObjectStatus};
use ksx_scaling::hpa::History;
use ksx_scaling::hpa::pod::PodInfo;
use ksx_scaling::hpa::reconcile::Condition;

/// What a driver keeps per ScaledObject between cycles: the status KEDA would write and the HPA's history.
#[derive(Debug, Clone, Default)]
pub(crate) struct ObjectState {
    /// `status` of the ScaledObject: lastActiveTime, health, conditions.
    pub(crate) status: ScaledObjectStatus,
    /// The generated HPA's recommendations and scale events.
    pub(crate) history: History,
}

/// What the driver observed of the target this cycle.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Observed<'a> {
    /// Now, nanoseconds since the Unix epoch.
    pub(crate) now: i64,
    /// `scale.spec.replicas`.
    pub(crate) current_replicas: i32,
    /// `scale.status.replicas`.
    pub(crate) status_replicas: i32,
    /// The target's pods.
    pub(crate) pods: &'a [PodInfo],
}

/// What the generated HPA did this cycle.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum HpaPhase {
    /// Paused: the HPA is deleted.
    Deleted,
    /// At 0 replicas: `ScalingDisabled`, the HPA is not asked.
    Disabled,
    /// The HPA reconciled.
    Scaled {
        /// Its conditions (AbleToScale, ScalingActive, ScalingLimited).
        conditions: Vec<Condition>,
    },
    /// No usable metric: the HPA holds the count.
    Held {
        /// Why.
        error: String,
    },
}

impl HpaPhase {
    /// `deleted`, `scalingDisabled`, `scaled` or `held`, as printed.
    pub(crate) fn label(&self) -> &'static str {
        match self {
            Self::Deleted => "deleted",
            Self::Disabled => "scalingDisabled",
            Self::Scaled { .. } => "scaled",
            Self::Held { .. } => "held",
        }
    }
}

/// The cycle's result.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    /// The executor's decision (its status is already stored in the [`ObjectState`]).
    pub(crate) decision: Decision,
    /// The count after KEDA's own step (0↔1, cooldown, pause).
    pub(crate) after_activation: i32,
    /// The count to write: the HPA's decision, or `after_activation` when the HPA was not asked or held.
    pub(crate) desired_replicas: i32,
    /// What the HPA did.
    pub(crate) hpa: HpaPhase,
    /// The External values the HPA read (empty when it was not asked).
    #[allow(
        dead_code,
        reason = "printed by the event-scaler binary; `ksx demo` includes this file and does not read it"
    )]
    pub(crate) served: Vec<ServedMetric>,
}

/// Runs one cycle. `polls` has one entry per trigger, in trigger order; `hpa` is the HPA generated for `so`.
///
/// # Errors
/// The executor's: `polls` not matching the triggers, or a stored `lastActiveTime` that does not parse.
pub(crate) fn step(
    so: &ScaledObject,
    hpa: &GeneratedHpa,
    state: &mut ObjectState,
    polls: &[TriggerPoll],
    seen: &Observed<'_>,
) -> ksx_scaling::Result<Outcome> {
    let decision = execute(so, seen.current_replicas, polls, seen.now, &state.status)?;
    state.status = decision.status.clone();
    let after = decision.target_replicas.unwrap_or(seen.current_replicas);
    let done =
        |hpa: HpaPhase, desired: i32, served: Vec<ServedMetric>, decision: Decision| Outcome {
            decision,
            after_activation: after,
            desired_replicas: desired,
            hpa,
            served,
        };
    if decision.delete_hpa || decision.action == Action::InvalidPause {
        state.history = History::default();
        return Ok(done(HpaPhase::Deleted, after, Vec::new(), decision));
    }
    if after == 0 {
        return Ok(done(HpaPhase::Disabled, 0, Vec::new(), decision));
    }
    let served = serve(so, polls, &state.status, after, ready_pods(seen.pods));
    let input = ScaleInput {
        now: seen.now,
        current_replicas: after,
        status_replicas: seen.status_replicas,
        pods: seen.pods,
        pod_samples: &[],
        served: &served,
    };
    Ok(match scale(hpa, &mut state.history, &input) {
        Ok(r) => done(
            HpaPhase::Scaled {
                conditions: r.conditions,
            },
            r.desired_replicas,
            served,
            decision,
        ),
        Err(e) => done(
            HpaPhase::Held {
                error: e.to_string(),
            },
            after,
            served,
            decision,
        ),
    })
}

/// A one-line reason for the executor's action, naming the numbers it used.
pub(crate) fn action_reason(so: &ScaledObject, outcome: &Outcome, current: i32) -> String {
    let d = &outcome.decision;
    let min = so.min_replica_count();
    match d.action {
        Action::Paused => "paused by annotation: the HPA is deleted, nothing is polled".to_owned(),
        Action::InvalidPause => "the paused-replicas annotation is not a replica count".to_owned(),
        Action::ScaleFromZero => format!(
            "active at {current} replicas: KEDA scales to max(minReplicaCount, 1) = {}",
            min.max(1)
        ),
        Action::ScaleOutPaused => "active at 0 replicas but scale-out is paused".to_owned(),
        Action::PartialTriggerError => {
            "active, but a trigger failed: lastActiveTime not refreshed".to_owned()
        }
        Action::KeepActive => "active: lastActiveTime refreshed, the HPA scales 1↔N".to_owned(),
        Action::AwaitFallback => {
            "inactive with a failing trigger: the HPA's fallback serves".to_owned()
        }
        Action::TriggerError => "inactive and a trigger failed (no fallback): no change".to_owned(),
        Action::ScaleToIdle => format!(
            "inactive for longer than cooldownPeriod ({} s): jump {current} → {}",
            so.cooldown_period_secs(),
            outcome.after_activation
        ),
        Action::ScaleInPaused => "inactive, but scale-in is paused".to_owned(),
        Action::Cooldown => format!(
            "inactive, cooling down (cooldownPeriod {} s from lastActiveTime {})",
            so.cooldown_period_secs(),
            d.status.last_active_time.as_deref().unwrap_or("never")
        ),
        Action::ScaleToMin => format!("inactive below minReplicaCount: scale to {min}"),
        Action::NoChange => "inactive at the floor: no change".to_owned(),
    }
}

/// A one-line reason for the HPA's part.
pub(crate) fn hpa_reason(outcome: &Outcome) -> String {
    match &outcome.hpa {
        HpaPhase::Deleted => "HPA deleted while paused".to_owned(),
        HpaPhase::Disabled => "HPA ScalingDisabled at 0 replicas".to_owned(),
        HpaPhase::Held { error } => format!("HPA holds at {}: {error}", outcome.after_activation),
        HpaPhase::Scaled { conditions } => {
            let reason = conditions
                .iter()
                .rev()
                .find(|c| c.condition_type == "ScalingLimited" && c.status)
                .or_else(|| {
                    conditions
                        .iter()
                        .find(|c| c.condition_type == "ScalingActive")
                })
                .map_or("", |c| c.reason.as_str());
            format!(
                "HPA {} → {} ({reason})",
                outcome.after_activation, outcome.desired_replicas
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use ksx_scaling::event::executor::TriggerPoll;
    use ksx_scaling::event::hpa_bridge::generate_hpa;
    use ksx_scaling::event::scaler::{MetricSpec, MetricType, Reading};

    use super::*;

    const SEC: i64 = 1_000_000_000;
    const T0: i64 = 1_800_000_000 * SEC;

    fn object(annotations: &str) -> ScaledObject {
        serde_json::from_str(&format!(
            r#"{{"metadata": {{"name": "worker"{annotations}}},
                "spec": {{"scaleTargetRef": {{"name": "worker"}}, "cooldownPeriod": 60, "maxReplicaCount": 10,
                         "triggers": [{{"type": "redis", "metadata": {{"listName": "jobs"}}}}]}}}}"#
        ))
        .expect("a ScaledObject")
    }

    fn metric() -> MetricSpec {
        MetricSpec {
            metric_name: "s0-redis-jobs".into(),
            metric_type: MetricType::AverageValue,
            target: 5.0,
            activation: 0.0,
        }
    }

    fn poll(value: f64) -> [TriggerPoll; 1] {
        [TriggerPoll {
            metric: metric(),
            result: Ok(Reading {
                value,
                active: value > 0.0,
            }),
        }]
    }

    fn run(
        so: &ScaledObject,
        state: &mut ObjectState,
        value: f64,
        current: i32,
        t: i64,
    ) -> Outcome {
        let hpa = generate_hpa(so, &[metric()]).expect("an HPA");
        let seen = Observed {
            now: T0 + t * SEC,
            current_replicas: current,
            status_replicas: current,
            pods: &[],
        };
        step(so, &hpa, state, &poll(value), &seen).expect("a cycle")
    }

    #[test]
    fn zero_to_one_to_n_then_cooldown_jumps_to_zero() {
        let so = object("");
        let mut state = ObjectState::default();
        // 17 items at 5 per pod: KEDA 0 → 1, the HPA 1 → min(ceil(17 / 5), legacy limit max(2, 4)) = 4.
        let o = run(&so, &mut state, 17.0, 0, 0);
        assert_eq!((o.after_activation, o.desired_replicas), (1, 4));
        assert_eq!(o.hpa.label(), "scaled");
        assert_eq!(o.served.first().map(|s| s.value.clone()), Some(Ok(17_000)));
        // Empty 30 s later: inactive, still within the 60 s cooldown; the HPA's 300 s window keeps 4.
        let o = run(&so, &mut state, 0.0, 4, 30);
        assert_eq!(o.decision.action, Action::Cooldown);
        assert_eq!(o.desired_replicas, 4);
        assert!(
            hpa_reason(&o).starts_with("HPA 4 → 4"),
            "{}",
            hpa_reason(&o)
        );
        // 61 s after the last activity: straight to 0, the HPA is not asked.
        let o = run(&so, &mut state, 0.0, 4, 61);
        assert_eq!(o.decision.action, Action::ScaleToIdle);
        assert_eq!((o.after_activation, o.desired_replicas), (0, 0));
        assert_eq!(o.hpa, HpaPhase::Disabled);
        assert!(action_reason(&so, &o, 4).contains("jump 4 → 0"));
    }

    #[test]
    fn paused_deletes_the_hpa_and_its_history() {
        let so = object(r#", "annotations": {"autoscaling.keda.sh/paused-replicas": "2"}"#);
        let mut state = ObjectState::default();
        // An unpaused cycle first leaves the HPA a recommendation.
        run(&object(""), &mut state, 50.0, 5, 0);
        assert!(!state.history.recommendations.is_empty());
        let o = run(&so, &mut state, 50.0, 5, 15);
        assert_eq!(o.hpa, HpaPhase::Deleted);
        assert_eq!(o.desired_replicas, 2);
        assert!(state.history.recommendations.is_empty());
    }
}
