//! Validation of ScaledObjects and ScaledJobs as KEDA's CRD rules and admission webhook apply them (§5.1, §5.3,
//! §5.4), each fault naming its JSON path (`spec.triggers[2].metadata.value`).
//!
//! All faults are collected, not only the first. Beyond upstream, ksx also refuses negative replica counts and
//! periods, `maxReplicaCount` 0 (the generated HPA needs `maxReplicas ≥ 1`) and `fallback.behavior:
//! scalingModifiers` without scalingModifiers. Checks that need other objects (a target owned by another HPA,
//! HPA names in use, containers without a request) are the conflict rules' job.

use std::collections::BTreeMap;

use ksx_core::quantity::Quantity;

use super::formula::Formula;
use super::model::{FallbackBehavior, MetricTypeName, ScaleTrigger, ScaledJob, ScaledObject};
use crate::error::Error;

/// Longest name KEDA accepts for the object and its triggers (a label value).
pub const MAX_NAME_LEN: usize = 63;

/// One fault: the JSON path and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FieldError {
    /// JSON path of the field at fault.
    pub field: String,
    /// What is wrong with it.
    pub reason: String,
}

impl FieldError {
    fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl From<FieldError> for Error {
    fn from(e: FieldError) -> Self {
        Self::InvalidField {
            field: e.field,
            reason: e.reason,
        }
    }
}

/// Checks a ScaledObject; an empty list means valid.
pub fn validate_scaled_object(so: &ScaledObject) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let spec = &so.spec;
    check_name(so.metadata.name.as_deref(), "metadata.name", &mut errs);
    if spec.scale_target_ref.name.is_empty() {
        errs.push(FieldError::new(
            "spec.scaleTargetRef.name",
            "must name the workload to scale",
        ));
    }
    if let Err(e) = so.paused_replicas() {
        errs.push(from_error(e));
    }
    check_min(spec.polling_interval, 1, "spec.pollingInterval", &mut errs);
    check_min(spec.cooldown_period, 0, "spec.cooldownPeriod", &mut errs);
    check_min(
        spec.initial_cooldown_period,
        0,
        "spec.initialCooldownPeriod",
        &mut errs,
    );
    check_min(spec.min_replica_count, 0, "spec.minReplicaCount", &mut errs);
    check_min(spec.max_replica_count, 1, "spec.maxReplicaCount", &mut errs);
    check_min(
        spec.idle_replica_count,
        0,
        "spec.idleReplicaCount",
        &mut errs,
    );
    let (min, max) = (so.min_replica_count(), so.max_replica_count());
    if min > max {
        errs.push(FieldError::new(
            "spec.minReplicaCount",
            format!("MinReplicaCount={min} must be less than MaxReplicaCount={max}"),
        ));
    }
    if let Some(idle) = spec.idle_replica_count
        && idle >= min
    {
        errs.push(FieldError::new(
            "spec.idleReplicaCount",
            format!("IdleReplicaCount={idle} must be less than MinReplicaCount={min}"),
        ));
    }
    check_triggers(&spec.triggers, &mut errs);
    if !spec.triggers.is_empty() && spec.triggers.iter().all(ScaleTrigger::is_resource) && min == 0
    {
        errs.push(FieldError::new(
            "spec.minReplicaCount",
            "there is no trigger other than cpu or memory, so minReplicaCount must be at least 1 \
             (cpu and memory triggers are always active and cannot scale to zero)",
        ));
    }
    if let Some(behavior) = so.hpa_behavior()
        && let Err(e) = behavior.validate("spec.advanced.horizontalPodAutoscalerConfig.behavior")
    {
        errs.push(from_error(e));
    }
    check_modifiers(so, &mut errs);
    if let Some(fb) = &spec.fallback {
        if fb.failure_threshold < 0 {
            errs.push(FieldError::new(
                "spec.fallback.failureThreshold",
                format!(
                    "must be greater than or equal to 0, got {}",
                    fb.failure_threshold
                ),
            ));
        }
        if fb.replicas < 0 {
            errs.push(FieldError::new(
                "spec.fallback.replicas",
                format!("must be greater than or equal to 0, got {}", fb.replicas),
            ));
        }
        if fb.behavior == Some(FallbackBehavior::ScalingModifiers)
            && so.scaling_modifiers().is_none()
        {
            errs.push(FieldError::new(
                "spec.fallback.behavior",
                "scalingModifiers needs spec.advanced.scalingModifiers",
            ));
        }
    }
    errs
}

/// Checks a ScaledObject and returns the first fault as an error.
///
/// # Errors
/// [`Error::InvalidField`] for the first fault [`validate_scaled_object`] finds.
pub fn check_scaled_object(so: &ScaledObject) -> crate::Result<()> {
    match validate_scaled_object(so).into_iter().next() {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

/// Checks a ScaledJob; an empty list means valid.
pub fn validate_scaled_job(sj: &ScaledJob) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let spec = &sj.spec;
    check_name(sj.metadata.name.as_deref(), "metadata.name", &mut errs);
    check_min(spec.polling_interval, 1, "spec.pollingInterval", &mut errs);
    check_min(spec.min_replica_count, 0, "spec.minReplicaCount", &mut errs);
    check_min(spec.max_replica_count, 0, "spec.maxReplicaCount", &mut errs);
    check_min(
        spec.successful_jobs_history_limit,
        0,
        "spec.successfulJobsHistoryLimit",
        &mut errs,
    );
    check_min(
        spec.failed_jobs_history_limit,
        0,
        "spec.failedJobsHistoryLimit",
        &mut errs,
    );
    let (min, max) = (sj.min_replica_count(), sj.max_replica_count());
    if min > max {
        errs.push(FieldError::new(
            "spec.minReplicaCount",
            format!("MinReplicaCount={min} must be less than MaxReplicaCount={max}"),
        ));
    }
    if !spec.job_target_ref.is_object() {
        errs.push(FieldError::new(
            "spec.jobTargetRef",
            "must be a batch/v1 JobSpec object",
        ));
    }
    check_triggers(&spec.triggers, &mut errs);
    errs
}

fn from_error(e: Error) -> FieldError {
    match e {
        Error::InvalidField { field, reason } => FieldError { field, reason },
        other => FieldError::new("", other.to_string()),
    }
}

fn check_name(name: Option<&str>, field: &str, errs: &mut Vec<FieldError>) {
    match name {
        None | Some("") => errs.push(FieldError::new(field, "must be set")),
        Some(n) if n.len() > MAX_NAME_LEN => errs.push(FieldError::new(
            field,
            format!(
                "must be no more than {MAX_NAME_LEN} characters, got {}",
                n.len()
            ),
        )),
        Some(_) => {}
    }
}

fn check_min(value: Option<i32>, min: i32, field: &str, errs: &mut Vec<FieldError>) {
    if let Some(v) = value
        && v < min
    {
        errs.push(FieldError::new(
            field,
            format!("must be greater than or equal to {min}, got {v}"),
        ));
    }
}

fn check_triggers(triggers: &[ScaleTrigger], errs: &mut Vec<FieldError>) {
    if triggers.is_empty() {
        errs.push(FieldError::new(
            "spec.triggers",
            "must have at least one trigger",
        ));
    }
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, t) in triggers.iter().enumerate() {
        let at = |f: &str| format!("spec.triggers[{i}].{f}");
        if t.type_.is_empty() {
            errs.push(FieldError::new(at("type"), "must be set"));
        }
        if let Some(name) = t.name.as_deref() {
            if name.len() > MAX_NAME_LEN {
                errs.push(FieldError::new(
                    at("name"),
                    format!(
                        "must be no more than {MAX_NAME_LEN} characters, got {}",
                        name.len()
                    ),
                ));
            }
            if let Some(first) = seen.insert(name, i) {
                errs.push(FieldError::new(
                    at("name"),
                    format!(
                        "trigger name {name:?} is already used by spec.triggers[{first}]; names must be unique"
                    ),
                ));
            }
        }
        let mt = t.metric_type();
        if t.is_resource() {
            check_resource_trigger(t, &at, errs);
        } else if mt == MetricTypeName::Utilization {
            errs.push(FieldError::new(
                at("metricType"),
                format!(
                    "Utilization is only supported for cpu and memory triggers, not {:?}",
                    t.type_
                ),
            ));
        }
    }
}

fn check_resource_trigger(
    t: &ScaleTrigger,
    at: &dyn Fn(&str) -> String,
    errs: &mut Vec<FieldError>,
) {
    if t.metadata.contains_key("type") {
        errs.push(FieldError::new(
            at("metadata.type"),
            "was removed in KEDA 2.18, set the trigger's metricType instead",
        ));
    }
    let mt = t.metric_type();
    if mt == MetricTypeName::Value {
        errs.push(FieldError::new(
            at("metricType"),
            format!(
                "{} triggers support Utilization or AverageValue, not Value",
                t.type_
            ),
        ));
    }
    match t.metadata.get("value") {
        None => errs.push(FieldError::new(at("metadata.value"), "must be set")),
        Some(v) if mt == MetricTypeName::Utilization => {
            if !v.parse::<i32>().is_ok_and(|u| u >= 1) {
                errs.push(FieldError::new(
                    at("metadata.value"),
                    format!("must be a whole percentage of at least 1, got {v:?}"),
                ));
            }
        }
        Some(v) => {
            if !Quantity::parse(v).is_ok_and(|q| q.milli_value() > 0) {
                errs.push(FieldError::new(
                    at("metadata.value"),
                    format!("must be a positive quantity, got {v:?}"),
                ));
            }
        }
    }
}

fn check_modifiers(so: &ScaledObject, errs: &mut Vec<FieldError>) {
    let Some(m) = so.scaling_modifiers() else {
        return;
    };
    const AT: &str = "spec.advanced.scalingModifiers";
    if m.formula.trim().is_empty() {
        errs.push(FieldError::new(format!("{AT}.formula"), "must be set"));
    } else {
        match Formula::parse(&m.formula) {
            Err(e) => errs.push(FieldError::new(
                format!("{AT}.formula"),
                format!("invalid formula: {e}"),
            )),
            Ok(f) => {
                for name in f.names() {
                    let known = so
                        .spec
                        .triggers
                        .iter()
                        .any(|t| !t.is_resource() && t.name.as_deref() == Some(name.as_str()));
                    if !known {
                        let hyphen = so
                            .spec
                            .triggers
                            .iter()
                            .any(|t| t.name.as_deref().is_some_and(|n| n.contains('-')));
                        let hint = if hyphen {
                            " (a trigger name with '-' cannot be referenced: the formula reads '-' as minus)"
                        } else {
                            ""
                        };
                        errs.push(FieldError::new(
                            format!("{AT}.formula"),
                            format!(
                                "unknown name {name:?}: the formula may only use the names of non-cpu/memory triggers{hint}"
                            ),
                        ));
                    }
                }
            }
        }
    }
    if m.target.is_empty() {
        errs.push(FieldError::new(
            format!("{AT}.target"),
            "must be set when scalingModifiers are used",
        ));
    } else {
        match m.target_value() {
            Ok(v) if v > 0.0 => {}
            Ok(v) => errs.push(FieldError::new(
                format!("{AT}.target"),
                format!("must be greater than 0, got {v}"),
            )),
            Err(e) => errs.push(from_error(e)),
        }
    }
    if let Err(e) = m.activation_target_value() {
        errs.push(from_error(e));
    }
    if m.metric_type() == MetricTypeName::Utilization {
        errs.push(FieldError::new(
            format!("{AT}.metricType"),
            "Utilization is not supported for the composite metric, use AverageValue or Value",
        ));
    }
    for (i, t) in so.spec.triggers.iter().enumerate() {
        if !t.is_resource() && t.name.as_deref().is_none_or(str::is_empty) {
            errs.push(FieldError::new(
                format!("spec.triggers[{i}].name"),
                "trigger name not given with compositeScaler: every trigger feeding scalingModifiers needs a name",
            ));
        }
    }
}
