//! The HPA object as the engine sees it (`spec` parsed and checked as the API server does), and the metric
//! plumbing between the seam and the engine: `status.currentMetrics`, upstream's failure reasons, metric ids.

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use ksx_core::cluster::Kind;
use ksx_core::metrics::{LabelExpression, MetricId};
use ksx_core::quantity::{Format, Quantity};
use ksx_scaling::hpa::model::{
    DEFAULT_CPU_INITIALIZATION_PERIOD_SECS, DEFAULT_INITIAL_READINESS_DELAY_SECS, MetricIdentifier,
    MetricSourceType, MetricTargetType, NANOS_PER_SEC,
};
use ksx_scaling::hpa::{
    CalculatorConfig, HpaBehavior, MetricSpec, MetricTarget, Proposal, Tolerances,
};

/// The parts of an HPA spec the engine takes, checked as the API server checks them.
pub(crate) struct ParsedSpec {
    pub(crate) target_kind: Kind,
    pub(crate) min_replicas: i32,
    pub(crate) metrics: Vec<MetricSpec>,
    pub(crate) behavior: Option<ksx_scaling::hpa::ResolvedBehavior>,
    pub(crate) calculator: CalculatorConfig,
}

/// Turns the k8s-openapi HPA into the engine's model: metrics default to CPU Utilization 80, `minReplicas`
/// to 1, and the behavior is resolved with the flags.
pub(crate) fn parse_spec(
    hpa: &HorizontalPodAutoscaler,
    downscale_window_secs: i64,
) -> anyhow::Result<ParsedSpec> {
    let spec = hpa.spec.clone().unwrap_or_default();
    let target = &spec.scale_target_ref;
    let api_version = target.api_version.as_deref().unwrap_or("apps/v1");
    let target_kind = Kind::from_type(api_version, &target.kind)
        .filter(Kind::has_scale)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "spec.scaleTargetRef: {api_version} {} has no scale subresource ksx can drive",
                target.kind
            )
        })?;
    let metrics: Vec<MetricSpec> = match &spec.metrics {
        Some(m) if !m.is_empty() => serde_json::from_value(serde_json::to_value(m)?)
            .map_err(|e| anyhow::anyhow!("spec.metrics: {e}"))?,
        _ => vec![MetricSpec::resource("cpu", MetricTarget::utilization(80))],
    };
    for (i, m) in metrics.iter().enumerate() {
        m.validate(&format!("spec.metrics[{i}]"))?;
    }
    let behavior: Option<HpaBehavior> = spec
        .behavior
        .as_ref()
        .map(|b| serde_json::to_value(b).and_then(serde_json::from_value))
        .transpose()
        .map_err(|e| anyhow::anyhow!("spec.behavior: {e}"))?;
    if let Some(b) = &behavior {
        b.validate("spec.behavior")?;
    }
    let min_replicas = spec.min_replicas.unwrap_or(1);
    if spec.max_replicas < 1 || min_replicas < 0 || min_replicas > spec.max_replicas {
        anyhow::bail!(
            "spec.minReplicas/maxReplicas: need 0 ≤ minReplicas ≤ maxReplicas and maxReplicas ≥ 1"
        );
    }
    let behavior = behavior.map(|b| b.resolve(downscale_window_secs));
    Ok(ParsedSpec {
        target_kind,
        min_replicas,
        metrics,
        behavior,
        calculator: CalculatorConfig::default(),
    })
}

impl ParsedSpec {
    /// Applies the tolerance flag, or the behavior's per-direction tolerance where set.
    pub(crate) fn with_tolerance(mut self, tolerance: f64) -> Self {
        let flag = Tolerances::both(tolerance);
        self.calculator = CalculatorConfig {
            tolerances: Tolerances {
                scale_up: self
                    .behavior
                    .as_ref()
                    .and_then(|b| b.scale_up.tolerance)
                    .unwrap_or(flag.scale_up),
                scale_down: self
                    .behavior
                    .as_ref()
                    .and_then(|b| b.scale_down.tolerance)
                    .unwrap_or(flag.scale_down),
            },
            cpu_initialization_period: DEFAULT_CPU_INITIALIZATION_PERIOD_SECS * NANOS_PER_SEC,
            delay_of_initial_readiness_status: DEFAULT_INITIAL_READINESS_DELAY_SECS * NANOS_PER_SEC,
        };
        self
    }
}

/// `status.currentMetrics[]` for one metric's proposal.
pub(crate) fn metric_status(metric: &MetricSpec, p: &Proposal) -> serde_json::Value {
    let q = Quantity::from_milli(p.raw_value, Format::DecimalSi).to_string();
    let average = |t: &MetricTarget| {
        let mut current = serde_json::json!({ "averageValue": q });
        if t.target_type == MetricTargetType::Utilization
            && let (Some(u), Some(map)) = (p.utilization, current.as_object_mut())
        {
            map.insert("averageUtilization".into(), u.into());
        }
        current
    };
    let value_or_average = |t: &MetricTarget| {
        if t.target_type == MetricTargetType::Value {
            serde_json::json!({ "value": q })
        } else {
            serde_json::json!({ "averageValue": q })
        }
    };
    match metric.source_type {
        MetricSourceType::Resource => metric.resource.as_ref().map_or_else(
            || serde_json::json!({"type": "Resource"}),
            |r| serde_json::json!({"type": "Resource", "resource": {"name": r.name, "current": average(&r.target)}}),
        ),
        MetricSourceType::ContainerResource => metric.container_resource.as_ref().map_or_else(
            || serde_json::json!({"type": "ContainerResource"}),
            |r| serde_json::json!({"type": "ContainerResource", "containerResource": {
                "name": r.name, "container": r.container, "current": average(&r.target)}}),
        ),
        MetricSourceType::Pods => metric.pods.as_ref().map_or_else(
            || serde_json::json!({"type": "Pods"}),
            |m| serde_json::json!({"type": "Pods", "pods": {"metric": {"name": m.metric.name}, "current": {"averageValue": q}}}),
        ),
        MetricSourceType::Object => metric.object.as_ref().map_or_else(
            || serde_json::json!({"type": "Object"}),
            |m| serde_json::json!({"type": "Object", "object": {"describedObject": m.described_object,
                "metric": {"name": m.metric.name}, "current": value_or_average(&m.target)}}),
        ),
        MetricSourceType::External => metric.external.as_ref().map_or_else(
            || serde_json::json!({"type": "External"}),
            |m| serde_json::json!({"type": "External", "external": {"metric": {"name": m.metric.name},
                "current": value_or_average(&m.target)}}),
        ),
    }
}

/// The `ScalingActive=False` error for a metric the seam could not read, with upstream's reason per type.
pub(crate) fn metric_error(metric: &MetricSpec, cause: &str) -> ksx_scaling::Error {
    let (condition, what) = match metric.source_type {
        MetricSourceType::Resource => ("FailedGetResourceMetric", metric.display_name()),
        MetricSourceType::ContainerResource => {
            ("FailedGetContainerResourceMetric", metric.display_name())
        }
        MetricSourceType::Pods => ("FailedGetPodsMetric", metric.display_name()),
        MetricSourceType::Object => ("FailedGetObjectMetric", metric.display_name()),
        MetricSourceType::External => ("FailedGetExternalMetric", metric.display_name()),
    };
    ksx_scaling::Error::Metric {
        condition: condition.to_owned(),
        message: format!("failed to get {what}: {cause}"),
    }
}

/// The seam's metric id for an HPA metric identifier: `matchLabels` as exact matches, `matchExpressions` as
/// set-based requirements, as upstream's metrics client turns the selector into a label selector.
///
/// # Errors
/// An operator other than `In`, `NotIn`, `Exists` or `DoesNotExist` (the metric then fails as upstream's
/// `FailedGet…Metric`).
pub(crate) fn metric_id(m: &MetricIdentifier) -> ksx_core::Result<MetricId> {
    let mut id = MetricId::named(&m.name);
    if let Some(s) = &m.selector {
        for (k, v) in &s.match_labels {
            id = id.with_label(k, v);
        }
        for e in &s.match_expressions {
            id = id.with_expression(LabelExpression {
                key: e.key.clone(),
                operator: e.operator.parse()?,
                values: e.values.clone(),
            });
        }
    }
    Ok(id)
}
