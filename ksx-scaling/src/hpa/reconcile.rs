//! One reconcile decision of an HPA (upstream `reconcileAutoscaler`, §1.8): the reconcile-level short cuts,
//! seeding of the history, several metrics, normalization, and the status conditions with upstream reasons.
//!
//! Pure: metrics arrive through a closure that is only called when upstream would read them; writing the scale
//! and the status (and the `SucceededRescale` / `FailedUpdateScale` condition) is the driver's job.

use serde::{Deserialize, Serialize};

use super::combine::combine;
use super::model::{MetricSpec, ResolvedBehavior};
use super::normalize::{History, NormalizeArgs, Normalized, Recommendation, normalize};
use super::replicas::Proposal;
use crate::error::{Error, Result};

/// A status condition as upstream writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// `AbleToScale`, `ScalingActive` or `ScalingLimited`.
    #[serde(rename = "type")]
    pub condition_type: String,
    /// True or False.
    pub status: bool,
    /// The upstream reason.
    pub reason: String,
    /// The upstream message.
    pub message: String,
}

impl Condition {
    fn new(condition_type: &str, status: bool, reason: &str, message: impl Into<String>) -> Self {
        Self {
            condition_type: condition_type.to_owned(),
            status,
            reason: reason.to_owned(),
            message: message.into(),
        }
    }
}

/// The fixed inputs of one reconcile.
#[derive(Debug, Clone, Copy)]
pub struct ReconcileArgs<'a> {
    /// Now, nanoseconds since the Unix epoch.
    pub now: i64,
    /// `scale.spec.replicas`.
    pub spec_replicas: i32,
    /// `spec.minReplicas` (defaulted).
    pub min_replicas: i32,
    /// `spec.maxReplicas`.
    pub max_replicas: i32,
    /// The metrics, in spec order (for names in messages).
    pub metrics: &'a [MetricSpec],
    /// The resolved behavior; `None` selects the legacy path.
    pub behavior: Option<&'a ResolvedBehavior>,
    /// The downscale stabilization flag in seconds.
    pub downscale_window_secs: i64,
}

/// What one reconcile decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconcileDecision {
    /// The replica count to set (the current one when not rescaling).
    pub desired_replicas: i32,
    /// True when the scale must be written.
    pub rescale: bool,
    /// Why, when a short cut decided (`Current number of replicas above Spec.MaxReplicas`…).
    pub rescale_reason: Option<String>,
    /// The normalization, when it ran.
    pub normalized: Option<Normalized>,
    /// The conditions to set, in the order upstream sets them.
    pub conditions: Vec<Condition>,
}

/// Runs one reconcile. `proposals` computes every metric's proposal (in spec order) and is called only when
/// no short cut applies.
///
/// # Errors
/// [`Error::Metric`] when the metrics give no usable proposal (all invalid, or some invalid and the rest below
/// the current count); the decision is then "no change" and the returned error carries the `ScalingActive`
/// reason upstream sets.
pub fn reconcile(
    history: &mut History,
    args: &ReconcileArgs<'_>,
    proposals: impl FnOnce() -> Vec<Result<Proposal>>,
) -> Result<ReconcileDecision> {
    let current = args.spec_replicas;
    if history.recommendations.is_empty() {
        history.recommendations.push(Recommendation {
            replicas: current,
            timestamp: args.now,
        });
    }
    let mut conditions = vec![Condition::new(
        "AbleToScale",
        true,
        "SucceededGetScale",
        "the HPA controller was able to get the target's current scale",
    )];
    let short_cut =
        |desired: i32, reason: Option<&str>, conditions: Vec<Condition>| ReconcileDecision {
            desired_replicas: desired,
            rescale: desired != current,
            rescale_reason: reason.map(str::to_owned),
            normalized: None,
            conditions,
        };
    if current == 0 && args.min_replicas != 0 {
        conditions.push(Condition::new(
            "ScalingActive",
            false,
            "ScalingDisabled",
            "scaling is disabled since the replica count of the target is zero",
        ));
        return Ok(ReconcileDecision {
            rescale: false,
            ..short_cut(0, None, conditions)
        });
    }
    if current > args.max_replicas {
        return Ok(short_cut(
            args.max_replicas,
            Some("Current number of replicas above Spec.MaxReplicas"),
            conditions,
        ));
    }
    if current < args.min_replicas {
        return Ok(short_cut(
            args.min_replicas,
            Some("Current number of replicas below Spec.MinReplicas"),
            conditions,
        ));
    }
    let results = proposals();
    let best = combine(&results, current)?;
    let metric_name = args
        .metrics
        .get(best.metric)
        .map_or_else(|| "the metrics".to_owned(), MetricSpec::display_name);
    conditions.push(Condition::new(
        "ScalingActive",
        true,
        "ValidMetricFound",
        format!("the HPA was able to successfully calculate a replica count from {metric_name}"),
    ));
    let normalized = normalize(
        history,
        &NormalizeArgs {
            now: args.now,
            current_replicas: current,
            desired_replicas: best.replicas,
            min_replicas: args.min_replicas,
            max_replicas: args.max_replicas,
            behavior: args.behavior,
            downscale_window_secs: args.downscale_window_secs,
        },
    );
    let able = normalized.able_to_scale_reason();
    let able_message = match (able, normalized.stabilization_reason) {
        ("ReadyForNewScale", _) => "recommended size matches current size",
        (_, Some(r)) => r.message(),
        (_, None) => super::model::StabilizationReason::ScaleDownStabilized.message(),
    };
    conditions.push(Condition::new("AbleToScale", true, able, able_message));
    conditions.push(Condition::new(
        "ScalingLimited",
        normalized.is_limited(),
        &format!("{:?}", normalized.limit_reason),
        normalized.limit_reason.message(),
    ));
    Ok(ReconcileDecision {
        desired_replicas: normalized.desired_replicas,
        rescale: normalized.desired_replicas != current,
        rescale_reason: None,
        normalized: Some(normalized),
        conditions,
    })
}

/// The `ScalingActive=False` condition for a reconcile that failed on its metrics.
pub fn failed_metrics_condition(error: &Error) -> Condition {
    match error {
        Error::Metric { condition, message } => {
            Condition::new("ScalingActive", false, condition, message.clone())
        }
        other => Condition::new(
            "ScalingActive",
            false,
            "FailedGetResourceMetric",
            other.to_string(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hpa::model::{HpaBehavior, MetricTarget};
    use crate::hpa::replicas::ProposalReason;

    const NOW: i64 = 1_700_000_000_000_000_000;

    fn ok(replicas: i32) -> Result<Proposal> {
        Ok(Proposal {
            replicas,
            utilization: None,
            raw_value: 0,
            reason: ProposalReason::Scaled,
        })
    }

    fn args<'a>(
        current: i32,
        metrics: &'a [MetricSpec],
        behavior: Option<&'a ResolvedBehavior>,
    ) -> ReconcileArgs<'a> {
        ReconcileArgs {
            now: NOW,
            spec_replicas: current,
            min_replicas: 2,
            max_replicas: 10,
            metrics,
            behavior,
            downscale_window_secs: 300,
        }
    }

    fn reasons(d: &ReconcileDecision) -> Vec<(String, bool, String)> {
        d.conditions
            .iter()
            .map(|c| (c.condition_type.clone(), c.status, c.reason.clone()))
            .collect()
    }

    #[test]
    fn short_cuts_read_no_metric() {
        let metrics = [MetricSpec::resource("cpu", MetricTarget::utilization(50))];
        let never = || -> Vec<Result<Proposal>> { panic!("metrics must not be read") };
        let mut h = History::default();
        let d = reconcile(&mut h, &args(0, &metrics, None), never).unwrap();
        assert_eq!((d.desired_replicas, d.rescale), (0, false));
        assert_eq!(
            reasons(&d)[1],
            ("ScalingActive".into(), false, "ScalingDisabled".into())
        );
        let d = reconcile(&mut h, &args(12, &metrics, None), never).unwrap();
        assert_eq!((d.desired_replicas, d.rescale), (10, true));
        let d = reconcile(&mut h, &args(1, &metrics, None), never).unwrap();
        assert_eq!((d.desired_replicas, d.rescale), (2, true));
        assert_eq!(
            h.recommendations.len(),
            1,
            "seeded once with the current count"
        );
    }

    #[test]
    fn normal_path_sets_every_condition() {
        let metrics = [
            MetricSpec::resource("cpu", MetricTarget::utilization(50)),
            MetricSpec::resource("memory", MetricTarget::utilization(50)),
        ];
        let behavior = HpaBehavior::default().resolve(300);
        let mut h = History::default();
        let d = reconcile(&mut h, &args(4, &metrics, Some(&behavior)), || {
            vec![ok(5), ok(30)]
        })
        .unwrap();
        assert_eq!((d.desired_replicas, d.rescale), (8, true));
        assert_eq!(
            reasons(&d),
            vec![
                ("AbleToScale".into(), true, "SucceededGetScale".into()),
                ("ScalingActive".into(), true, "ValidMetricFound".into()),
                ("AbleToScale".into(), true, "ReadyForNewScale".into()),
                ("ScalingLimited".into(), true, "ScaleUpLimit".into()),
            ]
        );
        assert_eq!(
            d.conditions[1].message,
            "the HPA was able to successfully calculate a replica count from memory resource utilization (percentage of request)"
        );
        // The seed (4, now) is inside the scale-down window of the next reconcile.
        let d = reconcile(&mut h, &args(8, &metrics, Some(&behavior)), || vec![ok(3)]).unwrap();
        assert_eq!(d.desired_replicas, 8);
        assert_eq!(
            reasons(&d)[2],
            ("AbleToScale".into(), true, "ScaleDownStabilized".into())
        );
    }

    #[test]
    fn invalid_metrics_stop_scaling() {
        let metrics = [MetricSpec::resource("cpu", MetricTarget::utilization(50))];
        let bad = || {
            Err(Error::Metric {
                condition: "FailedGetResourceMetric".into(),
                message: "no metrics".into(),
            })
        };
        let mut h = History::default();
        let err = reconcile(&mut h, &args(4, &metrics, None), || vec![bad(), ok(3)]).unwrap_err();
        let c = failed_metrics_condition(&err);
        assert_eq!(
            (c.status, c.reason.as_str()),
            (false, "FailedGetResourceMetric")
        );
        assert_eq!(
            c.message,
            "invalid metrics (1 invalid out of 2), first error is: no metrics"
        );
    }
}
