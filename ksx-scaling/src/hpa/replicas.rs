//! The replica calculator: one metric's proposal from pods, samples and values, exactly as upstream's
//! `ReplicaCalculator` (pod grouping, missing and unready pods, tolerance), and several metrics combined.
//!
//! Pure: `now` and every input are values. Quantities are milli-units (`MilliValue`, rounded up).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::model::{
    DEFAULT_CPU_INITIALIZATION_PERIOD_SECS, DEFAULT_INITIAL_READINESS_DELAY_SECS,
    DEFAULT_TOLERANCE, MetricSourceType, MetricSpec, MetricTarget, MetricTargetType, NANOS_PER_SEC,
};
use super::normalize::{saturate_f64_to_i32, saturate_f64_to_i64, saturate_i64_to_i32};
use super::pod::{ConditionStatus, PodInfo, PodPhase, PodSample};
use crate::error::{Error, Result};

/// The no-change band around a usage ratio of 1, per direction (`Tolerances.isWithin`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerances {
    /// How far below 1 the ratio may fall without a scale-down.
    pub scale_down: f64,
    /// How far above 1 the ratio may rise without a scale-up.
    pub scale_up: f64,
}

impl Default for Tolerances {
    fn default() -> Self {
        Self {
            scale_down: DEFAULT_TOLERANCE,
            scale_up: DEFAULT_TOLERANCE,
        }
    }
}

impl Tolerances {
    /// The same tolerance both ways.
    pub fn both(tolerance: f64) -> Self {
        Self {
            scale_down: tolerance,
            scale_up: tolerance,
        }
    }

    /// True while `(1 − down) ≤ ratio ≤ (1 + up)`, both ends inclusive (NaN is never within).
    pub fn is_within(&self, ratio: f64) -> bool {
        (1.0 - self.scale_down) <= ratio && ratio <= (1.0 + self.scale_up)
    }
}

/// The calculator's flags.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CalculatorConfig {
    /// The tolerances.
    pub tolerances: Tolerances,
    /// `--horizontal-pod-autoscaler-cpu-initialization-period`, nanoseconds.
    pub cpu_initialization_period: i64,
    /// `--horizontal-pod-autoscaler-initial-readiness-delay`, nanoseconds.
    pub delay_of_initial_readiness_status: i64,
}

impl Default for CalculatorConfig {
    fn default() -> Self {
        Self {
            tolerances: Tolerances::default(),
            cpu_initialization_period: DEFAULT_CPU_INITIALIZATION_PERIOD_SECS * NANOS_PER_SEC,
            delay_of_initial_readiness_status: DEFAULT_INITIAL_READINESS_DELAY_SECS * NANOS_PER_SEC,
        }
    }
}

/// What one metric is computed from.
#[derive(Debug, Clone, Copy)]
pub struct MetricData<'a> {
    /// Now, nanoseconds since the Unix epoch.
    pub now: i64,
    /// `scale.spec.replicas`.
    pub current_replicas: i32,
    /// `scale.status.replicas` (Object and External AverageValue targets).
    pub status_replicas: i32,
    /// The pods the selector matches.
    pub pods: &'a [PodInfo],
    /// Pod samples (Resource, ContainerResource, Pods metrics); may include pods the selector does not match.
    pub pod_samples: &'a [PodSample],
    /// The Object metric's value in milli-units; `None` when the metric is unavailable.
    pub object_value: Option<i64>,
    /// The External metric's series in milli-units, summed.
    pub external_values: &'a [i64],
}

/// How the calculator reached its count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ProposalReason {
    /// The ratio lay within tolerance: the count stays.
    WithinTolerance,
    /// `ceil(ratio × pods)` with every pod accounted for.
    Scaled,
    /// Missing or unready pods were filled in conservatively and the count follows the new ratio.
    ScaledWithFill,
    /// Filling in missing or unready pods would reverse the direction or land within tolerance: the count stays.
    HeldByFill,
    /// Object or External metric with zero current replicas: `ceil(ratio)`.
    ScaleFromZero,
}

/// One metric's proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proposal {
    /// The proposed replica count.
    pub replicas: i32,
    /// The current utilization in percent, for Utilization targets.
    pub utilization: Option<i32>,
    /// What the controller writes to `status.currentMetrics[].current`, milli-units: the average per pod for
    /// pod-based metrics and AverageValue targets, the total for Value targets.
    pub raw_value: i64,
    /// How the count was reached.
    pub reason: ProposalReason,
}

fn metric_error(condition: &str, message: impl Into<String>) -> Error {
    Error::Metric {
        condition: condition.to_owned(),
        message: message.into(),
    }
}

const NO_PODS: &str = "no pods returned by selector while calculating replica count";
const NO_SAMPLES_LEFT: &str = "did not receive metrics for targeted pods (pods might be unready)";

/// Computes one metric's proposal (`computeReplicasForMetric`).
///
/// # Errors
/// [`Error::Metric`] (an evaluation error) for no metrics, no pods, no sample left after grouping, a missing
/// request, or samples only for unknown pods; [`Error::InvalidField`] for a spec that [`MetricSpec::validate`]
/// would refuse.
pub fn compute_replicas(
    metric: &MetricSpec,
    data: &MetricData<'_>,
    config: &CalculatorConfig,
) -> Result<Proposal> {
    let missing_source = || Error::invalid("metric", "the source for the metric type is missing");
    match metric.source_type {
        MetricSourceType::Resource => {
            let r = metric.resource.as_ref().ok_or_else(missing_source)?;
            resource_replicas(&r.name, None, &r.target, data, config)
        }
        MetricSourceType::ContainerResource => {
            let r = metric
                .container_resource
                .as_ref()
                .ok_or_else(missing_source)?;
            resource_replicas(&r.name, Some(&r.container), &r.target, data, config)
        }
        MetricSourceType::Pods => {
            let p = metric.pods.as_ref().ok_or_else(missing_source)?;
            let cond = "FailedGetPodsMetric";
            if data.pod_samples.is_empty() {
                return Err(metric_error(
                    cond,
                    format!(
                        "unable to get metric {}: no metrics returned from custom metrics API",
                        p.metric.name
                    ),
                ));
            }
            let target = target_milli(&p.target.average_value, "metric.pods.target.averageValue")?;
            let samples = select_samples(data.pod_samples, None);
            plain_replicas(&samples, target, false, data, config).map_err(|m| metric_error(cond, m))
        }
        MetricSourceType::Object => {
            let o = metric.object.as_ref().ok_or_else(missing_source)?;
            let cond = "FailedGetObjectMetric";
            let value = data.object_value.ok_or_else(|| {
                metric_error(
                    cond,
                    format!(
                        "unable to get metric {}: {} {}: no value returned for the object metric",
                        o.metric.name, o.described_object.kind, o.described_object.name
                    ),
                )
            })?;
            value_replicas(value, &o.target, "metric.object.target", data, config, cond)
        }
        MetricSourceType::External => {
            let e = metric.external.as_ref().ok_or_else(missing_source)?;
            let cond = "FailedGetExternalMetric";
            if data.external_values.is_empty() {
                return Err(metric_error(
                    cond,
                    format!(
                        "unable to get external metric {}: no metrics returned from external metrics API",
                        e.metric.name
                    ),
                ));
            }
            let total = data
                .external_values
                .iter()
                .fold(0i64, |acc, v| acc.saturating_add(*v));
            value_replicas(
                total,
                &e.target,
                "metric.external.target",
                data,
                config,
                cond,
            )
        }
    }
}

fn target_milli(q: &Option<ksx_core::quantity::Quantity>, path: &str) -> Result<i64> {
    match q {
        Some(q) if q.milli_value() > 0 => Ok(q.milli_value()),
        _ => Err(Error::invalid(path, "must be set and positive")),
    }
}

/// A sample reduced to what grouping and sums read.
#[derive(Debug, Clone, Copy)]
struct Sample<'a> {
    pod: &'a str,
    timestamp: i64,
    window: i64,
    value: i64,
}

/// The samples that count: for a container metric, that container's value (entries without it are no
/// sample); duplicates of one pod keep the last, as a map would.
fn select_samples<'a>(samples: &'a [PodSample], container: Option<&str>) -> Vec<Sample<'a>> {
    let mut out: Vec<Sample<'a>> = Vec::with_capacity(samples.len());
    for s in samples {
        let value = match container {
            None => s.value,
            Some(c) => match s.containers.get(c) {
                Some(v) => *v,
                None => continue,
            },
        };
        out.push(Sample {
            pod: &s.pod,
            timestamp: s.timestamp,
            window: s.window,
            value,
        });
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Group {
    Ready,
    Unready,
    Missing,
    Ignored,
}

/// The pods split into groups (`groupPods`), with each pod's sample index.
struct Grouping {
    ready_count: usize,
    unready_count: usize,
    missing_count: usize,
    /// Per pod: its group and its sample (index into the samples).
    pods: Vec<(Group, Option<usize>)>,
    /// Per sample: true when a pod of the list owns it (otherwise it is extraneous and stays in the set).
    claimed: Vec<bool>,
    /// Per sample: true when it is the live entry of its pod name (a later duplicate replaces it).
    live: Vec<bool>,
}

fn group_pods(
    pods: &[PodInfo],
    samples: &[Sample<'_>],
    cpu: bool,
    now: i64,
    config: &CalculatorConfig,
) -> Grouping {
    // Pods and samples usually both come sorted by name: then one merge pairs them (strict order also rules
    // out duplicate names). Otherwise a map does, where a later sample of a pod replaces an earlier one.
    let live = vec![true; samples.len()];
    let sorted = pods.windows(2).all(|w| w[0].name < w[1].name)
        && samples.windows(2).all(|w| w[0].pod < w[1].pod);
    let sample_of: Vec<Option<usize>> = if sorted {
        let mut out = Vec::with_capacity(pods.len());
        let mut j = 0usize;
        for pod in pods {
            while samples.get(j).is_some_and(|s| s.pod < pod.name.as_str()) {
                j += 1;
            }
            out.push(samples.get(j).filter(|s| s.pod == pod.name).map(|_| j));
        }
        out
    } else {
        let mut live = live.clone();
        let mut m: HashMap<&str, usize> = HashMap::with_capacity(samples.len());
        for (i, s) in samples.iter().enumerate() {
            if let Some(prev) = m.insert(s.pod, i)
                && let Some(l) = live.get_mut(prev)
            {
                *l = false;
            }
        }
        let found = pods
            .iter()
            .map(|p| m.get(p.name.as_str()).copied())
            .collect();
        return finish_grouping(pods, samples, found, live, cpu, now, config);
    };
    finish_grouping(pods, samples, sample_of, live, cpu, now, config)
}

/// Groups the pods once each pod's sample (if any) is known.
fn finish_grouping(
    pods: &[PodInfo],
    samples: &[Sample<'_>],
    sample_of: Vec<Option<usize>>,
    live: Vec<bool>,
    cpu: bool,
    now: i64,
    config: &CalculatorConfig,
) -> Grouping {
    let mut g = Grouping {
        ready_count: 0,
        unready_count: 0,
        missing_count: 0,
        pods: Vec::with_capacity(pods.len()),
        claimed: vec![false; samples.len()],
        live,
    };
    for (pod, idx) in pods.iter().zip(sample_of) {
        if let Some(j) = idx
            && let Some(c) = g.claimed.get_mut(j)
        {
            *c = true;
        }
        let group = if pod.deleted || pod.phase == PodPhase::Failed {
            Group::Ignored
        } else if pod.phase == PodPhase::Pending {
            Group::Unready
        } else {
            match idx.and_then(|j| samples.get(j)) {
                None => Group::Missing,
                Some(sample) => {
                    if cpu && is_cpu_unready(pod, sample, now, config) {
                        Group::Unready
                    } else {
                        Group::Ready
                    }
                }
            }
        };
        match group {
            Group::Ready => g.ready_count += 1,
            Group::Unready => g.unready_count += 1,
            Group::Missing => g.missing_count += 1,
            Group::Ignored => {}
        }
        g.pods.push((group, idx));
    }
    g
}

/// The CPU readiness rule of `groupPods`.
fn is_cpu_unready(pod: &PodInfo, sample: &Sample<'_>, now: i64, config: &CalculatorConfig) -> bool {
    let (Some(ready), Some(start)) = (pod.ready, pod.start_time) else {
        return true;
    };
    if start.saturating_add(config.cpu_initialization_period) > now {
        ready.status == ConditionStatus::False
            || sample.timestamp < ready.last_transition.saturating_add(sample.window)
    } else {
        ready.status == ConditionStatus::False
            && start.saturating_add(config.delay_of_initial_readiness_status)
                > ready.last_transition
    }
}

/// The request of each pod (`calculatePodRequests`), milli-units: the named container, or all containers plus
/// sidecar init containers.
fn pod_requests(
    pods: &[PodInfo],
    container: Option<&str>,
    resource: &str,
) -> Result<Vec<i64>, String> {
    let mut out = Vec::with_capacity(pods.len());
    for pod in pods {
        let mut sum = 0i64;
        let mut found = false;
        for c in &pod.containers {
            if container.is_none_or(|name| name == c.name) {
                found = true;
                match c.requests.get(resource) {
                    Some(r) => sum = sum.saturating_add(*r),
                    None => {
                        return Err(format!(
                            "missing request for {resource} in container {} of Pod {}",
                            c.name, pod.name
                        ));
                    }
                }
            }
        }
        if let (Some(name), false) = (container, found) {
            return Err(format!("container {name} not found in Pod {}", pod.name));
        }
        out.push(sum);
    }
    Ok(out)
}

fn resource_replicas(
    resource: &str,
    container: Option<&str>,
    target: &MetricTarget,
    data: &MetricData<'_>,
    config: &CalculatorConfig,
) -> Result<Proposal> {
    let cond = if container.is_some() {
        "FailedGetContainerResourceMetric"
    } else {
        "FailedGetResourceMetric"
    };
    if data.pod_samples.is_empty() {
        return Err(metric_error(
            cond,
            format!(
                "unable to get metrics for resource {resource}: no metrics returned from resource metrics API"
            ),
        ));
    }
    let samples = select_samples(data.pod_samples, container);
    let cpu = resource == "cpu";
    match target.target_type {
        MetricTargetType::Utilization => {
            let target_pct = target
                .average_utilization
                .filter(|u| *u >= 1)
                .ok_or_else(|| {
                    Error::invalid("metric.target.averageUtilization", "must be at least 1")
                })?;
            utilization_replicas(&samples, resource, container, target_pct, cpu, data, config)
                .map_err(|m| metric_error(cond, m))
        }
        MetricTargetType::AverageValue => {
            let t = target_milli(&target.average_value, "metric.target.averageValue")?;
            plain_replicas(&samples, t, cpu, data, config).map_err(|m| metric_error(cond, m))
        }
        MetricTargetType::Value => Err(Error::invalid(
            "metric.target.type",
            "Value is not supported for resource metrics",
        )),
    }
}

/// Resource and ContainerResource with a Utilization target (`GetResourceReplicas`).
fn utilization_replicas(
    samples: &[Sample<'_>],
    resource: &str,
    container: Option<&str>,
    target_pct: i32,
    cpu: bool,
    data: &MetricData<'_>,
    config: &CalculatorConfig,
) -> Result<Proposal, String> {
    if data.pods.is_empty() {
        return Err(NO_PODS.to_owned());
    }
    let g = group_pods(data.pods, samples, cpu, data.now, config);
    let extra = extraneous(samples, &g);
    if g.ready_count + extra.count == 0 {
        return Err(NO_SAMPLES_LEFT.to_owned());
    }
    let requests = pod_requests(data.pods, container, resource)?;

    // Over the samples left that belong to known pods (extraneous samples have no request).
    let (mut usage, mut request) = (0i64, 0i64);
    for ((group, idx), req) in g.pods.iter().zip(&requests) {
        if *group == Group::Ready
            && let Some(s) = idx.and_then(|j| samples.get(j))
        {
            usage = usage.saturating_add(s.value);
            request = request.saturating_add(*req);
        }
    }
    let (utilization, raw_average, ratio) =
        utilization_ratio(usage, request, g.ready_count, target_pct)?;
    let current = data.current_replicas;
    let tol = config.tolerances;
    let scale_up_with_unready = g.unready_count > 0 && ratio > 1.0;
    if !scale_up_with_unready && g.missing_count == 0 {
        return Ok(if tol.is_within(ratio) {
            Proposal {
                replicas: current,
                utilization: Some(utilization),
                raw_value: raw_average,
                reason: ProposalReason::WithinTolerance,
            }
        } else {
            Proposal {
                replicas: ceil_i32(ratio * g.ready_count as f64),
                utilization: Some(utilization),
                raw_value: raw_average,
                reason: ProposalReason::Scaled,
            }
        });
    }
    let mut entries = g.ready_count + extra.count;
    let fallback = i64::from(target_pct.max(100));
    for ((group, _), req) in g.pods.iter().zip(&requests) {
        match group {
            Group::Missing if ratio < 1.0 => {
                usage = usage.saturating_add(req.saturating_mul(fallback) / 100);
                request = request.saturating_add(*req);
                entries += 1;
            }
            Group::Missing if ratio > 1.0 => {
                request = request.saturating_add(*req);
                entries += 1;
            }
            Group::Unready if scale_up_with_unready => {
                request = request.saturating_add(*req);
                entries += 1;
            }
            _ => {}
        }
    }
    let (_, _, new_ratio) = utilization_ratio(usage, request, 1, target_pct)?;
    held_or_scaled(
        ratio,
        new_ratio,
        entries,
        current,
        tol,
        Some(utilization),
        raw_average,
    )
}

/// `GetResourceUtilizationRatio`: (utilization %, raw average, ratio).
fn utilization_ratio(
    usage: i64,
    request: i64,
    entries: usize,
    target_pct: i32,
) -> Result<(i32, i64, f64), String> {
    if request == 0 {
        return Err("no metrics returned matched known pods".to_owned());
    }
    // checked_div: i64::MIN / -1 overflows; only negative requests, which the API refuses, get there.
    let utilization = saturate_i64_to_i32(
        usage
            .saturating_mul(100)
            .checked_div(request)
            .unwrap_or(i64::MAX),
    );
    let entries = i64::try_from(entries.max(1)).unwrap_or(i64::MAX);
    Ok((
        utilization,
        usage / entries,
        f64::from(utilization) / f64::from(target_pct),
    ))
}

/// The common tail of both pod-based calculations once missing and unready pods are filled in.
fn held_or_scaled(
    ratio: f64,
    new_ratio: f64,
    entries: usize,
    current: i32,
    tol: Tolerances,
    utilization: Option<i32>,
    raw_value: i64,
) -> Result<Proposal, String> {
    let held = Proposal {
        replicas: current,
        utilization,
        raw_value,
        reason: ProposalReason::HeldByFill,
    };
    if tol.is_within(new_ratio)
        || (ratio < 1.0 && new_ratio > 1.0)
        || (ratio > 1.0 && new_ratio < 1.0)
    {
        return Ok(held);
    }
    let replicas = ceil_i32(new_ratio * entries as f64);
    if (new_ratio < 1.0 && replicas > current) || (new_ratio > 1.0 && replicas < current) {
        return Ok(held);
    }
    Ok(Proposal {
        replicas,
        utilization,
        raw_value,
        reason: ProposalReason::ScaledWithFill,
    })
}

/// Samples of pods outside the list: they stay in the set.
struct Extraneous {
    count: usize,
    sum: i64,
}

fn extraneous(samples: &[Sample<'_>], g: &Grouping) -> Extraneous {
    let mut e = Extraneous { count: 0, sum: 0 };
    for ((s, claimed), live) in samples.iter().zip(&g.claimed).zip(&g.live) {
        if *live && !*claimed {
            e.count += 1;
            e.sum = e.sum.saturating_add(s.value);
        }
    }
    e
}

/// Resource AverageValue and Pods metrics (`calcPlainMetricReplicas`).
fn plain_replicas(
    samples: &[Sample<'_>],
    target: i64,
    cpu: bool,
    data: &MetricData<'_>,
    config: &CalculatorConfig,
) -> Result<Proposal, String> {
    if data.pods.is_empty() {
        return Err(NO_PODS.to_owned());
    }
    let g = group_pods(data.pods, samples, cpu, data.now, config);
    let extra = extraneous(samples, &g);
    let mut entries = g.ready_count + extra.count;
    if entries == 0 {
        return Err(NO_SAMPLES_LEFT.to_owned());
    }
    let mut total = extra.sum;
    for (group, idx) in &g.pods {
        if *group == Group::Ready
            && let Some(s) = idx.and_then(|j| samples.get(j))
        {
            total = total.saturating_add(s.value);
        }
    }
    let average =
        |total: i64, entries: usize| total / i64::try_from(entries.max(1)).unwrap_or(i64::MAX);
    let usage = average(total, entries);
    let ratio = usage as f64 / target as f64;
    let current = data.current_replicas;
    let tol = config.tolerances;
    let scale_up_with_unready = g.unready_count > 0 && ratio > 1.0;
    if !scale_up_with_unready && g.missing_count == 0 {
        return Ok(if tol.is_within(ratio) {
            Proposal {
                replicas: current,
                utilization: None,
                raw_value: usage,
                reason: ProposalReason::WithinTolerance,
            }
        } else {
            Proposal {
                replicas: ceil_i32(ratio * g.ready_count as f64),
                utilization: None,
                raw_value: usage,
                reason: ProposalReason::Scaled,
            }
        });
    }
    if g.missing_count > 0 && ratio < 1.0 {
        total = total.saturating_add(
            target.saturating_mul(i64::try_from(g.missing_count).unwrap_or(i64::MAX)),
        );
        entries += g.missing_count;
    } else if g.missing_count > 0 && ratio > 1.0 {
        entries += g.missing_count;
    }
    if scale_up_with_unready {
        entries += g.unready_count;
    }
    let new_ratio = average(total, entries) as f64 / target as f64;
    held_or_scaled(ratio, new_ratio, entries, current, tol, None, usage)
}

/// Object and External metrics: Value or AverageValue targets.
fn value_replicas(
    usage: i64,
    target: &MetricTarget,
    path: &str,
    data: &MetricData<'_>,
    config: &CalculatorConfig,
    cond: &str,
) -> Result<Proposal> {
    let tol = config.tolerances;
    match target.target_type {
        MetricTargetType::Value => {
            let t = target_milli(&target.value, &format!("{path}.value"))?;
            let ratio = usage as f64 / t as f64;
            let current = data.current_replicas;
            if current == 0 {
                return Ok(Proposal {
                    replicas: ceil_i32(ratio),
                    utilization: None,
                    raw_value: usage,
                    reason: ProposalReason::ScaleFromZero,
                });
            }
            if tol.is_within(ratio) {
                return Ok(Proposal {
                    replicas: current,
                    utilization: None,
                    raw_value: usage,
                    reason: ProposalReason::WithinTolerance,
                });
            }
            if data.pods.is_empty() {
                return Err(metric_error(
                    cond,
                    format!("unable to calculate ready pods: {NO_PODS}"),
                ));
            }
            let ready = data
                .pods
                .iter()
                .filter(|p| {
                    p.phase == PodPhase::Running
                        && p.ready.is_some_and(|r| r.status == ConditionStatus::True)
                })
                .count();
            Ok(Proposal {
                replicas: ceil_i32(ratio * ready as f64),
                utilization: None,
                raw_value: usage,
                reason: ProposalReason::Scaled,
            })
        }
        MetricTargetType::AverageValue => {
            let t = target_milli(&target.average_value, &format!("{path}.averageValue"))?;
            let s = data.status_replicas;
            let ratio = usage as f64 / (t as f64 * f64::from(s));
            let (replicas, reason) = if tol.is_within(ratio) {
                (s, ProposalReason::WithinTolerance)
            } else {
                (ceil_i32(usage as f64 / t as f64), ProposalReason::Scaled)
            };
            // Upstream divides by status.replicas in floats; a total at 2^63 or more (and S = 0) is reported as
            // it is rather than wrapped.
            let raw_value = if s == 0 || usage as f64 >= 9_223_372_036_854_775_808.0 {
                usage
            } else {
                saturate_f64_to_i64((usage as f64 / f64::from(s)).ceil())
            };
            Ok(Proposal {
                replicas,
                utilization: None,
                raw_value,
                reason,
            })
        }
        MetricTargetType::Utilization => Err(Error::invalid(
            format!("{path}.type"),
            "Utilization is not supported for object or external metrics",
        )),
    }
}

fn ceil_i32(x: f64) -> i32 {
    saturate_f64_to_i32(x.ceil())
}
