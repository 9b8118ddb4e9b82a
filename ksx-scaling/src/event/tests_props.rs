//! Property tests of the event core: the executor only ever writes the counts §5.2 allows, ScaledJob never creates
//! more than max (or the min top-up), fallback values are exact multiples, and the HPA phase stays within
//! [minReplicas, maxReplicas].

use proptest::prelude::*;
use serde_json::json;

use super::executor::{Action, TriggerPoll, execute, format_time};
use super::fallback::{ServedMetric, to_milli, value_for_replicas};
use super::hpa_bridge::{ScaleInput, generate_hpa, scale};
use super::job::decide_jobs;
use super::model::{MetricTypeName, ScaledJob, ScaledObject, ScaledObjectStatus};
use super::scaler::{MetricSpec, MetricType, Reading, ScalerError};
use crate::hpa::History;
use crate::hpa::pod::{ConditionStatus, PodInfo, PodPhase, ReadyCondition};

const NOW: i64 = 1_800_000_000 * 1_000_000_000;

fn poll(i: usize, r: Option<(f64, bool)>, target: f64) -> TriggerPoll {
    TriggerPoll {
        metric: MetricSpec {
            metric_name: format!("s{i}-redis-q"),
            metric_type: MetricType::AverageValue,
            target,
            activation: 0.0,
        },
        result: match r {
            Some((value, active)) => Ok(Reading { value, active }),
            None => Err(ScalerError::new("redis", "down")),
        },
    }
}

fn annotation() -> impl Strategy<Value = Option<(&'static str, String)>> {
    prop_oneof![
        4 => Just(None),
        1 => Just(Some(("autoscaling.keda.sh/paused", "true".to_owned()))),
        1 => (0i32..6).prop_map(|n| Some(("autoscaling.keda.sh/paused-replicas", n.to_string()))),
        1 => Just(Some(("autoscaling.keda.sh/paused-scale-in", "true".to_owned()))),
        1 => Just(Some(("autoscaling.keda.sh/paused-scale-out", "true".to_owned()))),
        1 => Just(Some(("autoscaling.keda.sh/force-activation", "true".to_owned()))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn executor_writes_only_allowed_counts(
        min in 0i32..5,
        idle_below in proptest::option::of(0i32..5),
        extra_max in 0i32..10,
        current in 0i32..20,
        cooldown in 0i32..600,
        last_active_ago in proptest::option::of(0i64..1200),
        results in prop::collection::vec(proptest::option::of((0.0f64..20.0, any::<bool>())), 1..4),
        fallback in proptest::option::of((0i32..3, 0i32..4)),
        ann in annotation(),
    ) {
        let idle = idle_below.filter(|i| *i < min);
        let triggers: Vec<_> = (0..results.len()).map(|_| json!({"type": "redis", "metadata": {}})).collect();
        let mut spec = json!({"scaleTargetRef": {"name": "w"}, "minReplicaCount": min,
            "maxReplicaCount": min.max(1) + extra_max, "cooldownPeriod": cooldown, "triggers": triggers});
        if let Some(i) = idle { spec["idleReplicaCount"] = json!(i); }
        if let Some((t, r)) = fallback { spec["fallback"] = json!({"failureThreshold": t, "replicas": r}); }
        let mut meta = json!({"name": "w", "creationTimestamp": "2027-01-15T07:00:00Z"});
        if let Some((k, v)) = &ann { meta["annotations"] = json!({*k: v}); }
        let so: ScaledObject = serde_json::from_value(json!({"metadata": meta, "spec": spec})).unwrap();
        prop_assert!(so.validate().is_empty(), "{:?}", so.validate());
        let polls: Vec<_> = results.iter().enumerate().map(|(i, r)| poll(i, *r, 5.0)).collect();
        let status = ScaledObjectStatus {
            last_active_time: last_active_ago.map(|s| format_time(NOW - s * 1_000_000_000)),
            ..Default::default()
        };
        let d = execute(&so, current, &polls, NOW, &status).unwrap();
        prop_assert_ne!(d.target_replicas, Some(current), "a no-op is reported as None");
        let paused_n = so.paused_replicas().unwrap();
        if let Some(t) = d.target_replicas {
            let allowed = [Some(min.max(1)), Some(idle.unwrap_or(min)), Some(min), paused_n];
            prop_assert!(allowed.contains(&Some(t)), "{t} from {:?}", d.action);
        }
        let now_text = format_time(NOW);
        prop_assert!(d.status.last_active_time == status.last_active_time
            || d.status.last_active_time.as_deref() == Some(now_text.as_str()));
        match d.action {
            Action::Paused => {
                prop_assert!(d.delete_hpa && d.status.health.is_empty());
            }
            Action::ScaleToIdle | Action::Cooldown | Action::ScaleToMin | Action::TriggerError
            | Action::AwaitFallback | Action::ScaleInPaused => prop_assert!(!d.active),
            Action::ScaleFromZero | Action::KeepActive | Action::PartialTriggerError
            | Action::ScaleOutPaused => prop_assert!(d.active),
            Action::NoChange | Action::InvalidPause => {}
        }
        if d.action != Action::Paused {
            let ready = d.status.conditions.iter().find(|c| c.type_ == "Ready").map(|c| c.status.as_str());
            let want = match d.action {
                Action::PartialTriggerError => "Unknown",
                Action::TriggerError => "False",
                _ => "True",
            };
            prop_assert_eq!(ready, Some(want));
            prop_assert!(!matches!(d.action, Action::PartialTriggerError | Action::TriggerError) || d.error);
            let failing = d.status.health.values().filter(|h| h.status == "Failing").count();
            let want = if fallback.is_some() { results.iter().filter(|r| r.is_none()).count() } else { 0 };
            prop_assert_eq!(failing, want, "health is tracked only with a fallback");
        }
    }

    #[test]
    fn scaled_job_never_creates_more_than_allowed(
        min in 0i32..5,
        extra_max in 0i32..20,
        values in prop::collection::vec((0.0f64..100.0, 0.0f64..10.0, any::<bool>()), 1..4),
        running in 0i64..30,
        pending in 0i64..10,
        strategy in prop_oneof![Just("default"), Just("custom"), Just("accurate"), Just("eager"), Just("bogus")],
        calc in prop_oneof![Just("max"), Just("min"), Just("avg"), Just("sum")],
        pct in prop_oneof![Just(""), Just("0.5"), Just("1"), Just("x")],
        deduction in 0i32..5,
    ) {
        let max = min + extra_max;
        let triggers: Vec<_> = values.iter().map(|_| json!({"type": "redis", "metadata": {}})).collect();
        let sj: ScaledJob = serde_json::from_value(json!({"spec": {"jobTargetRef": {}, "minReplicaCount": min,
            "maxReplicaCount": max, "triggers": triggers, "scalingStrategy": {"strategy": strategy,
            "multipleScalersCalculation": calc, "customScalingRunningJobPercentage": pct,
            "customScalingQueueLengthDeduction": deduction}}})).unwrap();
        let polls: Vec<_> = values.iter().enumerate().map(|(i, (v, t, a))| poll(i, Some((*v, *a)), *t)).collect();
        let d = decide_jobs(&sj, &polls, running, pending);
        prop_assert!(d.create >= 0);
        let bound = i64::from(max).max(i64::from(min) - running);
        prop_assert!(d.create <= bound, "{} > {bound}: {d:?}", d.create);
        if running < i64::from(min) {
            prop_assert_eq!(d.create, i64::from(min) - running);
        } else if !d.active {
            prop_assert_eq!(d.create, 0);
        }
    }

    #[test]
    fn average_value_fallback_is_an_exact_multiple(target in 0.001f64..100_000.0, r in 0i32..1000) {
        let v = value_for_replicas(MetricTypeName::AverageValue, target, r, 0).unwrap();
        let t = to_milli(target);
        prop_assume!(t > 0);
        prop_assert_eq!(v % t, 0);
        prop_assert_eq!(v / t, i64::from(r));
    }

    #[test]
    fn hpa_phase_stays_within_bounds(
        min in 1i32..5,
        extra_max in 0i32..30,
        current_off in 0i32..40,
        value in 0.0f64..10_000.0,
        target in 0.5f64..100.0,
        value_type in any::<bool>(),
    ) {
        let max = min + extra_max;
        let current = min + current_off % (extra_max + 1);
        let metric_type = if value_type { "Value" } else { "AverageValue" };
        let so: ScaledObject = serde_json::from_value(json!({"metadata": {"name": "w"}, "spec": {
            "scaleTargetRef": {"name": "w"}, "minReplicaCount": min, "maxReplicaCount": max,
            "triggers": [{"type": "redis", "metricType": metric_type, "metadata": {}}]}})).unwrap();
        let spec = poll(0, Some((value, true)), target).metric;
        let hpa = generate_hpa(&so, std::slice::from_ref(&spec)).unwrap();
        let pods: Vec<PodInfo> = (0..current).map(|i| PodInfo {
            name: format!("p{i:03}"),
            phase: PodPhase::Running,
            ready: Some(ReadyCondition { status: ConditionStatus::True, last_transition: 0 }),
            ..PodInfo::default()
        }).collect();
        let served = [ServedMetric {
            name: spec.metric_name.clone(),
            metric_type: if value_type { MetricTypeName::Value } else { MetricTypeName::AverageValue },
            target,
            value: Ok(to_milli(value)),
            fallback: false,
        }];
        let d = scale(&hpa, &mut History::default(), &ScaleInput {
            now: NOW, current_replicas: current, status_replicas: current, pods: &pods,
            pod_samples: &[], served: &served,
        }).unwrap();
        prop_assert!((min..=max).contains(&d.desired_replicas), "{} not in [{min}, {max}]", d.desired_replicas);
    }
}
