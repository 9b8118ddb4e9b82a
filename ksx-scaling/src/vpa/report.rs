//! The right-sizing report behind `ksx vpa report` (spec `scaling.md` §4): per workload container, the current
//! requests and limits, a recommendation, the savings and two risks.
//!
//! Three steps keep the decision pure:
//!
//! 1. [`gather`] reads everything through the [`MetricsSource`] seam: the usage history ([`load_history`]), the
//!    requests and limits kube-state-metrics exports (`kube_pod_container_resource_requests` / `…_limits`),
//!    OOM kills (`kube_pod_container_status_last_terminated_reason{reason="OOMKilled"}`) and CFS throttling
//!    (`container_cpu_cfs_throttled_periods_total / container_cpu_cfs_periods_total` over the window).
//! 2. [`compute`] turns those [`ReportInputs`] into a [`RightSizingReport`]: no I/O, no clock.
//! 3. The CLI renders the report as a table ([`table_rows`]), JSON/YAML (serde) or a self-contained HTML page
//!    ([`render_html`]: inline CSS, no scripts, no external assets).
//!
//! **Grouping.** Rows are workload containers: (namespace, workload, container), the workload derived from the
//! pod name ([`workload_of_pod`]) because cAdvisor and kube-state-metrics series carry no owner. Each row's
//! aggregate merges every pod of the workload, as a VPA on that workload would.
//!
//! **Strategies.** [`Strategy::Vpa`] (default) is the VPA recommender with upstream defaults over the history
//! (8 days at 1 h by default): target, lower and upper bound, the minimum share divided among the workload's
//! containers. [`Strategy::Simple`] and [`Strategy::SimpleLimit`] are KRR's: CPU request = max over pods of the
//! p95 (`simple`) or p66 (`simple-limit`, with a p96 limit) of the CPU rate, memory request = limit = max working
//! set × 1.15, rounded up to 1m / 1 MiB with minimums of 10m / 100 MiB; fewer than 100 points or under 3 h of
//! history give no recommendation ("Not enough data"). KRR reads 336 h at 1.25 min; ksx reads the requested
//! history at 1.25 min, or at the finest step that stays within Prometheus' 11,000 points per series.
//!
//! **Savings** are per row `(request − recommended target) × live pods` (negative when under-provisioned),
//! counted only where both are known, and summed in [`Totals`]. A pod is live when its request series has a
//! sample at the last evaluation step. **OOM risk**: the memory request is below the recommended target, or a
//! container of the workload was OOMKilled in the window. **Throttling risk**: at least
//! [`THROTTLING_RISK_RATIO`] of the CFS periods were throttled over the window.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use ksx_core::metrics::{MetricId, MetricsSource, RangeFunction, RangeQuery, Series};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::vpa::config::RecommenderConfig;
use crate::vpa::estimate::{estimate_container, minimum_share};
use crate::vpa::history::{
    ContainerId, History, HistoryConfig, WorkloadContainer, load_history, workload_of_pod,
};

mod krr;
mod render;

pub use krr::krr_step;
pub use render::{TABLE_HEADER, format_cpu, format_memory, render_html, risk_text, table_rows};

/// The throttled share of CFS periods from which a row is flagged.
pub const THROTTLING_RISK_RATIO: f64 = 0.25;
/// kube-state-metrics' requests series.
pub const REQUESTS_METRIC: &str = "kube_pod_container_resource_requests";
/// kube-state-metrics' limits series.
pub const LIMITS_METRIC: &str = "kube_pod_container_resource_limits";
/// kube-state-metrics' last termination reason series.
pub const LAST_TERMINATED_METRIC: &str = "kube_pod_container_status_last_terminated_reason";
/// cAdvisor's throttled CFS periods counter.
pub const THROTTLED_PERIODS_METRIC: &str = "container_cpu_cfs_throttled_periods_total";
/// cAdvisor's CFS periods counter.
pub const PERIODS_METRIC: &str = "container_cpu_cfs_periods_total";

pub(super) const MIB: i64 = 1_048_576;

/// How recommendations are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// The VPA recommender (spec §3) over the history.
    #[default]
    Vpa,
    /// KRR `simple`: CPU p95 request, no CPU limit, memory max × 1.15.
    Simple,
    /// KRR `simple_limit`: CPU p66 request and p96 limit, memory max × 1.15.
    SimpleLimit,
}

impl Strategy {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Vpa => "vpa",
            Self::Simple => "simple",
            Self::SimpleLimit => "simple-limit",
        }
    }
}

/// CPU and memory amounts; `None` where unknown or unset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resources {
    /// Millicores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_millicores: Option<i64>,
    /// Bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<i64>,
}

/// A recommendation for one workload container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recommendation {
    /// Recommended requests.
    pub target: Resources,
    /// Lowest requests still fine (VPA strategy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lower_bound: Option<Resources>,
    /// Highest requests still fine (VPA strategy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upper_bound: Option<Resources>,
    /// Recommended limits (KRR strategies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Resources>,
}

/// Savings: requests minus recommendation, times the live pods.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Savings {
    /// CPU cores.
    pub cpu_cores: f64,
    /// Memory bytes.
    pub memory_bytes: i64,
}

/// One row of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerReport {
    /// Namespace.
    pub namespace: String,
    /// Workload (from pod names).
    pub workload: String,
    /// Container name.
    pub container: String,
    /// Live pods at the end of the window.
    pub pods: u32,
    /// Current requests per pod.
    pub requests: Resources,
    /// Current limits per pod.
    pub limits: Resources,
    /// The recommendation, when there is enough data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recommendation: Option<Recommendation>,
    /// Why there is no recommendation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Savings of this row.
    pub savings: Savings,
    /// The memory request is below the recommended target, or a container was OOMKilled in the window.
    pub oom_risk: bool,
    /// An OOMKilled termination was seen in the window.
    pub oom_killed: bool,
    /// Throttled share of CFS periods over the window, when the counters exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttled_ratio: Option<f64>,
    /// `throttledRatio ≥ THROTTLING_RISK_RATIO`.
    pub throttling_risk: bool,
}

/// Sums over the rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    /// Rows.
    pub containers: u32,
    /// Rows with a recommendation.
    pub recommended: u32,
    /// Summed savings.
    pub savings: Savings,
    /// Rows at OOM risk.
    pub oom_risk: u32,
    /// Rows at throttling risk.
    pub throttling_risk: u32,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RightSizingReport {
    /// When the report was computed (RFC 3339).
    pub generated_at: String,
    /// The strategy used.
    pub strategy: Strategy,
    /// The history read, in seconds.
    pub history_seconds: u64,
    /// The resolution of the usage history, in seconds.
    pub step_seconds: f64,
    /// Rows sorted by namespace, workload, container.
    pub containers: Vec<ContainerReport>,
    /// Sums.
    pub totals: Totals,
}

/// What [`gather`] reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportConfig {
    /// The strategy.
    pub strategy: Strategy,
    /// The usage history (length, cAdvisor job, namespace). Its step is used by the VPA strategy; the KRR
    /// strategies use 1.25 minutes (see the [module docs](self)).
    pub history: HistoryConfig,
}

impl Default for ReportConfig {
    fn default() -> Self {
        Self {
            strategy: Strategy::Vpa,
            history: HistoryConfig::default(),
        }
    }
}

/// Everything [`compute`] needs, per pod container.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportInputs {
    /// Usage history.
    pub history: History,
    /// Newest requests per pod container.
    pub requests: BTreeMap<ContainerId, Resources>,
    /// Newest limits per pod container.
    pub limits: BTreeMap<ContainerId, Resources>,
    /// Pod containers with a request sample at the last evaluation step (in `(now − step, now]`).
    pub live: BTreeSet<ContainerId>,
    /// Pod containers OOMKilled in the window.
    pub oom_killed: BTreeSet<ContainerId>,
    /// Throttled and total CFS period rates per pod container over the window.
    pub throttling: BTreeMap<ContainerId, (f64, f64)>,
}

/// Reads the report's inputs through `source` for the window ending at `now`.
///
/// # Errors
/// A bad window, or a failing source (an unreachable Prometheus names its URL).
pub async fn gather(
    source: &dyn MetricsSource,
    cfg: &ReportConfig,
    now: i64,
) -> Result<ReportInputs> {
    let mut history_cfg = cfg.history.clone();
    if cfg.strategy != Strategy::Vpa {
        history_cfg.step = krr_step(history_cfg.length);
        history_cfg.memory_max_over_step = true;
    }
    let history = load_history(source, &history_cfg, now).await?;
    let end = timestamp(now)?;
    let length = jiff::SignedDuration::try_from(cfg.history.length)
        .map_err(|e| Error::invalid("history.length", e.to_string()))?;
    let start = end
        .checked_sub(length)
        .map_err(|e| Error::invalid("history.length", e.to_string()))?;
    let step = cfg.history.step;
    // Evaluation instants are `start + k × step`; the last one lies in (end − step, end].
    let last_step = end
        .checked_sub(
            jiff::SignedDuration::try_from(step)
                .map_err(|e| Error::invalid("history.step", e.to_string()))?,
        )
        .map_err(|e| Error::invalid("history.step", e.to_string()))?;
    let ns = cfg.history.namespace.as_deref();
    let range = |name: &str, labels: &[(&str, &str)], function: RangeFunction, start: Timestamp| {
        let mut metric = MetricId::named(name);
        for (k, v) in labels {
            metric = metric.with_label(*k, *v);
        }
        if let Some(ns) = ns {
            metric = metric.with_label("namespace", ns);
        }
        RangeQuery {
            metric,
            function,
            start,
            end,
            step,
        }
    };
    let mut inputs = ReportInputs {
        history,
        ..ReportInputs::default()
    };
    for (metric, is_request) in [(REQUESTS_METRIC, true), (LIMITS_METRIC, false)] {
        for (resource, is_cpu) in [("cpu", true), ("memory", false)] {
            let series = source
                .range(&range(
                    metric,
                    &[("resource", resource)],
                    RangeFunction::Raw,
                    start,
                ))
                .await?;
            for s in &series {
                let (Some(id), Some(last)) = (container_of(s), s.samples.last()) else {
                    continue;
                };
                if !last.value.is_finite() || last.value < 0.0 {
                    continue;
                }
                if is_request && last.timestamp > last_step {
                    inputs.live.insert(id.clone());
                }
                let map = if is_request {
                    &mut inputs.requests
                } else {
                    &mut inputs.limits
                };
                let slot = map.entry(id).or_default();
                if is_cpu {
                    // kube-state-metrics exports cores; requests are milli-quantities rounded up.
                    slot.cpu_millicores = Some(ceil_amount(last.value * 1000.0));
                } else {
                    slot.memory_bytes = Some(ceil_amount(last.value));
                }
            }
        }
    }
    let oom = source
        .range(&range(
            LAST_TERMINATED_METRIC,
            &[("reason", "OOMKilled")],
            RangeFunction::MaxOverTime { window: step },
            start,
        ))
        .await?;
    for s in &oom {
        if let Some(id) = container_of(s)
            && s.samples.iter().any(|p| p.value >= 1.0)
        {
            inputs.oom_killed.insert(id);
        }
    }
    let mut job_labels: Vec<(&str, &str)> = Vec::new();
    if let Some(job) = &cfg.history.cadvisor_job {
        job_labels.push(("job", job));
    }
    let window = RangeFunction::Rate {
        window: cfg.history.length,
    };
    for (metric, is_throttled) in [(THROTTLED_PERIODS_METRIC, true), (PERIODS_METRIC, false)] {
        // One evaluation at `now` over the whole window.
        let series = source
            .range(&range(metric, &job_labels, window, end))
            .await?;
        for s in &series {
            let (Some(id), Some(last)) = (container_of(s), s.samples.last()) else {
                continue;
            };
            if !last.value.is_finite() {
                continue;
            }
            let slot = inputs.throttling.entry(id).or_default();
            if is_throttled {
                slot.0 += last.value;
            } else {
                slot.1 += last.value;
            }
        }
    }
    Ok(inputs)
}

/// Computes the report from its inputs; `now` only stamps it.
///
/// # Errors
/// A `now` out of the timestamp range.
pub fn compute(
    inputs: &ReportInputs,
    strategy: Strategy,
    recommender: &RecommenderConfig,
    history: &HistoryConfig,
    now: i64,
) -> Result<RightSizingReport> {
    let group = |id: &ContainerId| WorkloadContainer {
        namespace: id.namespace.clone(),
        workload: workload_of_pod(&id.pod).to_owned(),
        container: id.container.clone(),
    };
    // Every workload container any input mentions gets a row.
    let mut rows: BTreeMap<WorkloadContainer, Row> = BTreeMap::new();
    for id in inputs
        .history
        .containers
        .keys()
        .chain(inputs.requests.keys())
        .chain(inputs.limits.keys())
    {
        rows.entry(group(id)).or_default();
    }
    for (id, r) in &inputs.requests {
        let row = rows.entry(group(id)).or_default();
        let live = inputs.live.contains(id);
        if live {
            row.pods += 1;
        }
        row.requests.merge_newest(r, live);
    }
    for (id, l) in &inputs.limits {
        let row = rows.entry(group(id)).or_default();
        row.limits.merge_newest(l, inputs.live.contains(id));
    }
    for id in &inputs.oom_killed {
        rows.entry(group(id)).or_default().oom_killed = true;
    }
    for (id, (throttled, periods)) in &inputs.throttling {
        let row = rows.entry(group(id)).or_default();
        row.throttled += throttled;
        row.periods += periods;
    }
    let recommendations = match strategy {
        Strategy::Vpa => vpa_recommendations(inputs, recommender),
        Strategy::Simple | Strategy::SimpleLimit => krr::krr_recommendations(inputs, strategy),
    };

    let mut totals = Totals::default();
    let mut containers = Vec::with_capacity(rows.len());
    for (key, row) in rows {
        let (recommendation, note) = match recommendations.get(&key) {
            Some(Ok(r)) => (Some(r.clone()), None),
            Some(Err(note)) => (None, Some(note.clone())),
            None => (None, Some("no usage history".to_owned())),
        };
        let requests = row.requests.resources;
        let limits = row.limits.resources;
        let mut savings = Savings::default();
        let mut oom_risk = row.oom_killed;
        if let Some(rec) = &recommendation {
            let pods = i64::from(row.pods);
            if let (Some(req), Some(target)) = (requests.cpu_millicores, rec.target.cpu_millicores)
            {
                savings.cpu_cores = cores(req.saturating_sub(target).saturating_mul(pods));
            }
            if let (Some(req), Some(target)) = (requests.memory_bytes, rec.target.memory_bytes) {
                savings.memory_bytes = req.saturating_sub(target).saturating_mul(pods);
                oom_risk |= req < target;
            }
        }
        let throttled_ratio = (row.periods > 0.0).then(|| row.throttled / row.periods);
        let throttling_risk = throttled_ratio.is_some_and(|r| r >= THROTTLING_RISK_RATIO);
        totals.containers += 1;
        totals.recommended += u32::from(recommendation.is_some());
        totals.savings.cpu_cores += savings.cpu_cores;
        totals.savings.memory_bytes = totals
            .savings
            .memory_bytes
            .saturating_add(savings.memory_bytes);
        totals.oom_risk += u32::from(oom_risk);
        totals.throttling_risk += u32::from(throttling_risk);
        containers.push(ContainerReport {
            namespace: key.namespace,
            workload: key.workload,
            container: key.container,
            pods: row.pods,
            requests,
            limits,
            recommendation,
            note,
            savings,
            oom_risk,
            oom_killed: row.oom_killed,
            throttled_ratio,
            throttling_risk,
        });
    }
    let step = if strategy == Strategy::Vpa {
        history.step
    } else {
        krr_step(history.length)
    };
    Ok(RightSizingReport {
        generated_at: timestamp(now)?.to_string(),
        strategy,
        history_seconds: history.length.as_secs(),
        step_seconds: step.as_secs_f64(),
        containers,
        totals,
    })
}

/// Per-row accumulation.
#[derive(Debug, Default)]
struct Row {
    pods: u32,
    requests: Newest,
    limits: Newest,
    oom_killed: bool,
    throttled: f64,
    periods: f64,
}

/// Resources of a workload container: the largest among live pods, else the largest seen.
#[derive(Debug, Default)]
struct Newest {
    resources: Resources,
    from_live: bool,
}

impl Newest {
    fn merge_newest(&mut self, r: &Resources, live: bool) {
        if live && !self.from_live {
            // Live pods describe the workload now; forget what dead pods had.
            self.resources = Resources::default();
            self.from_live = true;
        } else if !live && self.from_live {
            return;
        }
        self.resources.cpu_millicores = max_opt(self.resources.cpu_millicores, r.cpu_millicores);
        self.resources.memory_bytes = max_opt(self.resources.memory_bytes, r.memory_bytes);
    }
}

pub(super) fn max_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

pub(super) type Recommendations =
    BTreeMap<WorkloadContainer, std::result::Result<Recommendation, String>>;

/// The VPA recommender per workload container; the minimum share is divided among the workload's containers.
fn vpa_recommendations(inputs: &ReportInputs, cfg: &RecommenderConfig) -> Recommendations {
    let aggregates = inputs.history.aggregate_by_workload(cfg);
    let mut per_workload: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for key in aggregates.keys() {
        *per_workload
            .entry((key.namespace.as_str(), key.workload.as_str()))
            .or_default() += 1;
    }
    aggregates
        .iter()
        .map(|(key, state)| {
            let n = per_workload
                .get(&(key.namespace.as_str(), key.workload.as_str()))
                .copied()
                .unwrap_or(1);
            let e = estimate_container(cfg, state, minimum_share(cfg, n));
            let res = |e: crate::vpa::estimate::Estimate| Resources {
                cpu_millicores: Some(e.cpu_millicores),
                memory_bytes: Some(e.memory_bytes),
            };
            let rec = if state.total_samples_count() == 0 {
                Err("no CPU samples in the history".to_owned())
            } else {
                Ok(Recommendation {
                    target: res(e.target),
                    lower_bound: Some(res(e.lower_bound)),
                    upper_bound: Some(res(e.upper_bound)),
                    limits: None,
                })
            };
            (key.clone(), rec)
        })
        .collect()
}
fn container_of(series: &Series) -> Option<ContainerId> {
    let namespace = series.labels.get("namespace")?;
    let pod = series.labels.get("pod")?;
    let container = series.labels.get("container")?;
    if pod.is_empty() || container.is_empty() || container == "POD" {
        return None;
    }
    Some(ContainerId {
        namespace: namespace.clone(),
        pod: pod.clone(),
        container: container.clone(),
    })
}

fn timestamp(now: i64) -> Result<Timestamp> {
    Timestamp::from_nanosecond(i128::from(now))
        .map_err(|e| Error::invalid("now", format!("{now} ns is out of range: {e}")))
}

/// Rounds a finite non-negative amount up to an integer, saturating.
#[allow(
    clippy::cast_possible_truncation,
    reason = "`as` saturates; amounts are far inside i64"
)]
pub(super) fn ceil_amount(v: f64) -> i64 {
    // Strip float noise such as 250.00000000000003 before rounding up.
    let rounded = (v * 1e6).round() / 1e6;
    rounded.ceil() as i64
}

#[allow(clippy::cast_precision_loss, reason = "millicores far below 2^52")]
pub(super) fn cores(millicores: i64) -> f64 {
    millicores as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(pod: &str, container: &str) -> ContainerId {
        ContainerId {
            namespace: "ns".into(),
            pod: pod.into(),
            container: container.into(),
        }
    }

    proptest::proptest! {
        /// Whatever the inputs, every row is reported once, the totals are the rows' sums and nothing panics.
        #[test]
        fn totals_are_the_sums_of_the_rows(
            pods in proptest::collection::vec(
                (
                    "[a-c]{1,2}(-[0-9])?",
                    "[xy]",
                    proptest::collection::vec((0_i64..500, 0_i64..5_000), 0..30),
                    proptest::option::of((0_i64..5_000, 0_i64..(1 << 34))),
                    proptest::bool::ANY,
                    proptest::bool::ANY,
                    proptest::option::of((0.0_f64..100.0, 0.0_f64..100.0)),
                ),
                0..8,
            ),
            strategy in proptest::sample::select(vec![Strategy::Vpa, Strategy::Simple, Strategy::SimpleLimit]),
        ) {
            let mut inputs = ReportInputs::default();
            for (pod, container, samples, request, live, oom, cfs) in &pods {
                let id = id(pod, container);
                let h = inputs.history.containers.entry(id.clone()).or_default();
                h.cpu = samples.iter().enumerate().map(|(i, &(_, c))| (i64::try_from(i).unwrap() * 3_600_000_000_000, c)).collect();
                h.memory = samples.iter().enumerate().map(|(i, &(m, _))| (i64::try_from(i).unwrap() * 3_600_000_000_000, m << 20)).collect();
                if let Some((cpu, mem)) = request {
                    inputs.requests.insert(id.clone(), Resources { cpu_millicores: Some(*cpu), memory_bytes: Some(*mem) });
                    if *live {
                        inputs.live.insert(id.clone());
                    }
                }
                if *oom {
                    inputs.oom_killed.insert(id.clone());
                }
                if let Some(c) = cfs {
                    inputs.throttling.insert(id, *c);
                }
            }
            let report = compute(&inputs, strategy, &RecommenderConfig::default(), &HistoryConfig::default(), 0).unwrap();
            let rows = &report.containers;
            proptest::prop_assert_eq!(report.totals.containers as usize, rows.len());
            let mut keys: Vec<_> = rows.iter().map(|c| (&c.namespace, &c.workload, &c.container)).collect();
            let n = keys.len();
            keys.dedup();
            proptest::prop_assert_eq!(keys.len(), n);
            let memory: i64 = rows.iter().map(|c| c.savings.memory_bytes).sum();
            proptest::prop_assert_eq!(report.totals.savings.memory_bytes, memory);
            let cpu: f64 = rows.iter().map(|c| c.savings.cpu_cores).sum();
            proptest::prop_assert!((report.totals.savings.cpu_cores - cpu).abs() < 1e-6);
            proptest::prop_assert_eq!(report.totals.oom_risk as usize, rows.iter().filter(|c| c.oom_risk).count());
            for c in rows {
                // Savings only count live pods with a recommendation.
                if c.pods == 0 || c.recommendation.is_none() {
                    proptest::prop_assert_eq!(c.savings.memory_bytes, 0);
                }
                proptest::prop_assert!(c.oom_risk || !c.oom_killed);
                proptest::prop_assert_eq!(c.recommendation.is_none(), c.note.is_some());
            }
            let _ = render_html(&report);
        }
    }
}
