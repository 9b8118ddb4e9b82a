//! The autoscaling/v2 HPA KEDA generates for a ScaledObject (§5.3, `controllers/keda/hpa.go`), in the
//! [`crate::hpa`] model, and the scaling phase 1↔N computed by ksx's HPA engine from this cycle's served values.
//!
//! Generation: `minReplicas = max(minReplicaCount, 1)`, `maxReplicas = maxReplicaCount`; one External metric per
//! non-cpu/memory trigger named `s<i>-<scaler name>` (the scaler's metric name) with selector
//! `scaledobject.keda.sh/name=<so>`, target AverageValue unless `metricType: Value`, in milli-quantities
//! (`int64(target × 1000)`, truncated as Go converts); with scalingModifiers those External metrics become one
//! `composite-metric`; cpu/memory triggers become Resource metrics (ContainerResource with
//! `metadata.containerName`), Utilization from `metadata.value` as a percentage, AverageValue as a quantity.
//! Metrics are sorted by type name (`ContainerResource` < `External` < `Resource`), stably, as KEDA sorts them to
//! avoid spurious HPA updates (keda#1531); an External metric name used twice is an error. With scalingModifiers
//! KEDA keeps only the Resource metrics, in that order, and appends `composite-metric`: ContainerResource metrics
//! (cpu/memory triggers with `containerName`) are dropped, an upstream quirk reproduced here. The behavior is copied; `paused-scale-in` / `paused-scale-out` set the
//! scale-down / scale-up `selectPolicy: Disabled`.

use std::collections::BTreeMap;

use ksx_core::quantity::{Format, Quantity};
use serde::{Deserialize, Serialize};

use super::fallback::{ServedMetric, to_milli};
use super::model::{
    COMPOSITE_METRIC_NAME, MetricTypeName, SCALED_OBJECT_NAME_LABEL, ScaleTrigger, ScaledObject,
};
use super::scaler::MetricSpec as ScalerMetric;
use crate::error::{Error, Result};
use crate::hpa::model::{
    ContainerResourceMetricSource, CrossVersionObjectReference,
    DEFAULT_DOWNSCALE_STABILIZATION_SECS, ExternalMetricSource, LabelSelectorSpec,
    MetricIdentifier, MetricSourceType, MetricSpec, MetricTarget,
};
use crate::hpa::pod::{ConditionStatus, PodInfo, PodPhase, PodSample};
use crate::hpa::reconcile::{ReconcileArgs, ReconcileDecision, reconcile};
use crate::hpa::replicas::{CalculatorConfig, MetricData, compute_replicas};
use crate::hpa::{History, HpaBehavior, HpaScalingRules, SelectPolicy};

/// The HPA KEDA would generate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GeneratedHpa {
    /// `keda-hpa-<so>` or `advanced.horizontalPodAutoscalerConfig.name`.
    pub name: String,
    /// The scaled workload.
    pub scale_target_ref: CrossVersionObjectReference,
    /// `max(minReplicaCount, 1)`.
    pub min_replicas: i32,
    /// `maxReplicaCount`.
    pub max_replicas: i32,
    /// The metrics, sorted by type.
    pub metrics: Vec<MetricSpec>,
    /// The copied behavior (with paused directions disabled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub behavior: Option<HpaBehavior>,
}

/// A target in milli-units from a float, truncated toward zero and saturating as Go's `int64(v * 1000)`.
fn milli_quantity(v: f64) -> Quantity {
    Quantity::from_milli(to_milli(v), Format::DecimalSi)
}

fn target_for(metric_type: MetricTypeName, v: f64) -> MetricTarget {
    match metric_type {
        MetricTypeName::Value => MetricTarget::value(milli_quantity(v)),
        _ => MetricTarget::average_value(milli_quantity(v)),
    }
}

fn external(name: &str, so_name: &str, target: MetricTarget) -> MetricSpec {
    MetricSpec {
        source_type: MetricSourceType::External,
        resource: None,
        container_resource: None,
        pods: None,
        object: None,
        external: Some(ExternalMetricSource {
            metric: MetricIdentifier {
                name: name.to_owned(),
                selector: Some(LabelSelectorSpec {
                    match_labels: BTreeMap::from([(
                        SCALED_OBJECT_NAME_LABEL.to_owned(),
                        so_name.to_owned(),
                    )]),
                    match_expressions: Vec::new(),
                }),
            },
            target,
        }),
    }
}

fn resource_metric(t: &ScaleTrigger, i: usize) -> Result<MetricSpec> {
    let at = |f: &str| format!("spec.triggers[{i}].{f}");
    let value = t.metadata.get("value").ok_or_else(|| Error::InvalidField {
        field: at("metadata.value"),
        reason: "must be set".to_owned(),
    })?;
    let target = match t.metric_type() {
        MetricTypeName::Utilization => {
            let pct = value.parse::<i32>().map_err(|_| Error::InvalidField {
                field: at("metadata.value"),
                reason: format!("must be a whole percentage, got {value:?}"),
            })?;
            MetricTarget::utilization(pct)
        }
        MetricTypeName::AverageValue => MetricTarget::average_value(Quantity::parse(value)?),
        MetricTypeName::Value => {
            return Err(Error::InvalidField {
                field: at("metricType"),
                reason: "cpu and memory triggers support Utilization or AverageValue".to_owned(),
            });
        }
    };
    Ok(match t.metadata.get("containerName") {
        Some(container) if !container.is_empty() => MetricSpec {
            source_type: MetricSourceType::ContainerResource,
            resource: None,
            container_resource: Some(ContainerResourceMetricSource {
                name: t.type_.clone(),
                container: container.clone(),
                target,
            }),
            pods: None,
            object: None,
            external: None,
        },
        _ => MetricSpec::resource(&t.type_, target),
    })
}

/// Generates the HPA. `scaler_metrics` has one entry per trigger, in order (from `Scaler::metric_spec`); the
/// entries of cpu/memory triggers are not read.
///
/// # Errors
/// [`Error::InvalidField`] when `scaler_metrics` does not match the triggers, a cpu/memory trigger's value does
/// not parse, or the scalingModifiers target is not a number.
pub fn generate_hpa(so: &ScaledObject, scaler_metrics: &[ScalerMetric]) -> Result<GeneratedHpa> {
    let triggers = &so.spec.triggers;
    if scaler_metrics.len() != triggers.len() {
        return Err(Error::InvalidField {
            field: "spec.triggers".to_owned(),
            reason: format!(
                "{} scaler metrics for {} triggers: one per trigger, in order",
                scaler_metrics.len(),
                triggers.len()
            ),
        });
    }
    let mut metrics = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    for (i, (t, m)) in triggers.iter().zip(scaler_metrics).enumerate() {
        if t.is_resource() {
            metrics.push(resource_metric(t, i)?);
            continue;
        }
        if names.contains(&m.metric_name.as_str()) {
            return Err(Error::InvalidField {
                field: format!("spec.triggers[{i}]"),
                reason: format!(
                    "metricName {} defined multiple times in ScaledObject {}",
                    m.metric_name,
                    so.name()
                ),
            });
        }
        names.push(&m.metric_name);
        metrics.push(external(
            &m.metric_name,
            so.name(),
            target_for(t.metric_type(), m.target),
        ));
    }
    metrics.sort_by_key(|m| format!("{:?}", m.source_type));
    if let Some(m) = so.scaling_modifiers() {
        let target = m.target_value()?;
        if target <= 0.0 {
            return Err(Error::InvalidField {
                field: "spec.advanced.scalingModifiers.target".to_owned(),
                reason: format!("must be greater than 0, got {target}"),
            });
        }
        // Upstream keeps only the specs with a `resource` source (ContainerResource ones are dropped too) and
        // appends the composite metric after them, unsorted.
        metrics.retain(|spec| spec.resource.is_some());
        metrics.push(external(
            COMPOSITE_METRIC_NAME,
            so.name(),
            target_for(m.metric_type(), target),
        ));
    }
    let mut behavior = so.hpa_behavior().cloned();
    let mut disable = |pick: fn(&mut HpaBehavior) -> &mut Option<HpaScalingRules>| {
        let b = behavior.get_or_insert_with(HpaBehavior::default);
        pick(b)
            .get_or_insert_with(HpaScalingRules::default)
            .select_policy = Some(SelectPolicy::Disabled);
    };
    if so.is_scale_in_paused() {
        disable(|b| &mut b.scale_down);
    }
    if so.is_scale_out_paused() {
        disable(|b| &mut b.scale_up);
    }
    Ok(GeneratedHpa {
        name: so.hpa_name(),
        scale_target_ref: CrossVersionObjectReference {
            kind: so.spec.scale_target_ref.kind().to_owned(),
            name: so.spec.scale_target_ref.name.clone(),
            api_version: Some(so.spec.scale_target_ref.api_version().to_owned()),
        },
        min_replicas: so.hpa_min_replicas(),
        max_replicas: so.max_replica_count(),
        metrics,
        behavior,
    })
}

/// Pods that are Running with `Ready=True`: what the HPA divides a Value metric by.
pub fn ready_pods(pods: &[PodInfo]) -> i32 {
    let n = pods
        .iter()
        .filter(|p| {
            p.phase == PodPhase::Running
                && p.ready.is_some_and(|r| r.status == ConditionStatus::True)
        })
        .count();
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// What the scaling phase reads.
#[derive(Debug, Clone, Copy)]
pub struct ScaleInput<'a> {
    /// Now, nanoseconds since the Unix epoch.
    pub now: i64,
    /// `scale.spec.replicas`.
    pub current_replicas: i32,
    /// `scale.status.replicas`.
    pub status_replicas: i32,
    /// The target's pods.
    pub pods: &'a [PodInfo],
    /// Pod samples for cpu/memory metrics.
    pub pod_samples: &'a [PodSample],
    /// This cycle's External values ([`super::fallback::serve`]), matched to the HPA's metrics by name.
    pub served: &'a [ServedMetric],
}

/// One HPA reconcile over the generated HPA (§1.8 with §1.6 for External metrics): each metric's proposal from
/// the served value (a missing or failed value is a `FailedGetExternalMetric` error), the largest wins, then the
/// behavior's normalization (legacy path without a behavior, as the HPA controller). `history` is the HPA's
/// in-memory state, owned by the caller.
///
/// # Errors
/// [`Error::Metric`] when no usable proposal exists (the HPA holds); [`Error::InvalidField`] for a bad HPA.
pub fn scale(
    hpa: &GeneratedHpa,
    history: &mut History,
    input: &ScaleInput<'_>,
) -> Result<ReconcileDecision> {
    let resolved = hpa
        .behavior
        .as_ref()
        .map(|b| b.resolve(DEFAULT_DOWNSCALE_STABILIZATION_SECS));
    let args = ReconcileArgs {
        now: input.now,
        spec_replicas: input.current_replicas,
        min_replicas: hpa.min_replicas,
        max_replicas: hpa.max_replicas,
        metrics: &hpa.metrics,
        behavior: resolved.as_ref(),
        downscale_window_secs: DEFAULT_DOWNSCALE_STABILIZATION_SECS,
    };
    let config = CalculatorConfig::default();
    reconcile(history, &args, || {
        hpa.metrics
            .iter()
            .map(|m| proposal(m, input, &config))
            .collect()
    })
}

fn proposal(
    m: &MetricSpec,
    input: &ScaleInput<'_>,
    config: &CalculatorConfig,
) -> Result<crate::hpa::Proposal> {
    let mut values = Vec::new();
    if let Some(e) = &m.external {
        let name = &e.metric.name;
        let served = input.served.iter().find(|s| &s.name == name);
        match served.map(|s| &s.value) {
            Some(Ok(v)) => values.push(*v),
            Some(Err(why)) => {
                return Err(Error::Metric {
                    condition: "FailedGetExternalMetric".to_owned(),
                    message: format!("unable to get external metric {name}: {why}"),
                });
            }
            None => {
                return Err(Error::Metric {
                    condition: "FailedGetExternalMetric".to_owned(),
                    message: format!(
                        "unable to get external metric {name}: no metrics returned from external metrics API"
                    ),
                });
            }
        }
    }
    let data = MetricData {
        now: input.now,
        current_replicas: input.current_replicas,
        status_replicas: input.status_replicas,
        pods: input.pods,
        pod_samples: input.pod_samples,
        object_value: None,
        external_values: &values,
    };
    compute_replicas(m, &data, config)
}
