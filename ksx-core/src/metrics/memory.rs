//! In-memory metrics: the embedded default, the demo engine and the test double.
//!
//! [`InMemoryMetrics`] holds three kinds of data, fed through synchronous setters that take `&self` so a simulation
//! can share one store with the engines reading it:
//! - pod labels ([`InMemoryMetrics::set_pod_labels`]), which label selectors are resolved against;
//! - resource usage samples per container ([`InMemoryMetrics::record_pod_usage`]), which answer
//!   [`MetricsSource::pod_usage`];
//! - raw time series, counters and gauges alike ([`InMemoryMetrics::push_sample`] and the helpers
//!   [`InMemoryMetrics::set_pods_metric`], [`InMemoryMetrics::set_object_metric`],
//!   [`InMemoryMetrics::set_external_metric`]), which answer the custom, object, external and range queries.
//!
//! # Evaluation semantics
//!
//! The store answers the way the Prometheus adapter (`prometheus::PrometheusMetrics`) answers over the same data,
//! so the two pass one conformance check ([`crate::metrics::conformance`]):
//! - "Now" is the time of the clock given to [`InMemoryMetrics::with_clock`]; without one it is the newest
//!   timestamp recorded anywhere in the store. Samples after "now" are invisible.
//! - The value of a series at an instant `t` is its latest sample in `(t - 5m, t]` ([`DEFAULT_LOOKBACK`]); a
//!   series with no sample in that interval is stale and has no value, as in Prometheus.
//! - Range windows are left-open and right-closed: `rate(x[w])` and `max_over_time(x[w])` at `t` look at the
//!   samples in `(t - w, t]`, as Prometheus 3 does (Prometheus 2 also included a sample exactly at `t - w`).
//! - `Rate` is PromQL's `rate`, extrapolation included: counter resets add the value before the reset, the
//!   increase is extrapolated to the window edges when the first or last sample lies within 1.1 average sample
//!   intervals of them (otherwise by half an interval), never back past the counter's zero point, and divided by
//!   the window. Fewer than two samples in the window give no value.
//! - `MaxOverTime` is the largest sample in the window (a NaN sample is replaced by any other value).
//! - Instant answers ([`MetricsSource::pods_metric`], [`MetricsSource::object_metric`],
//!   [`MetricsSource::external_metric`], [`MetricsSource::pod_usage`]) carry "now" as their timestamp, like a
//!   Prometheus instant query.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! use jiff::Timestamp;
//! use ksx_core::clock::ManualClock;
//! use ksx_core::metrics::memory::InMemoryMetrics;
//! use ksx_core::metrics::{ContainerUsage, MetricId, MetricsSource};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let t0 = Timestamp::from_second(1_700_000_000)?;
//! let clock = ManualClock::new(t0);
//! let metrics = InMemoryMetrics::default().with_clock(Arc::new(clock.clone()));
//! metrics.set_pod_labels("shop", "web-0", [("app", "web")]);
//! metrics.record_pod_usage("shop", "web-0", t0, &[ContainerUsage {
//!     name: "app".into(),
//!     cpu_cores: 0.25,
//!     memory_bytes: 128.0 * 1024.0 * 1024.0,
//! }]);
//! let usage = metrics.pod_usage("shop", "app=web").await?;
//! assert_eq!(usage[0].cpu_cores(), 0.25);
//!
//! let queue = MetricId::named("queue_depth").with_label("queue", "jobs");
//! metrics.set_external_metric("shop", &queue, t0, 12.0);
//! assert_eq!(metrics.external_metric("shop", &queue).await?[0].value, 12.0);
//!
//! // Ten minutes later the sample is stale.
//! clock.advance(Duration::from_secs(600));
//! assert!(metrics.external_metric("shop", &queue).await.is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;

use super::{
    ContainerUsage, DEFAULT_LOOKBACK, DEFAULT_USAGE_WINDOW, MetricId, MetricsSource, ObjectValue,
    PodUsage, RangeFunction, RangeQuery, Sample, Series, object_label,
};
use crate::clock::Clock;
use crate::cluster::selector::LabelSelector;
use crate::error::{Error, Result};

/// The label that holds a series' name, as in Prometheus.
const NAME_LABEL: &str = "__name__";

/// The most evaluation instants one range query may have (Prometheus' limit per series).
const MAX_RANGE_POINTS: u128 = 11_000;

/// Metrics held in memory; see the [module docs](self) for what it stores and how it answers.
///
/// Output is deterministic: pods, containers and series come out sorted.
pub struct InMemoryMetrics {
    clock: Option<Arc<dyn Clock>>,
    usage_window: Duration,
    state: Mutex<State>,
}

/// A pod's namespace and name.
type PodKey = (String, String);

/// A series' labels, `__name__` included.
type Labels = BTreeMap<String, String>;

#[derive(Default)]
struct State {
    pod_labels: BTreeMap<PodKey, Labels>,
    /// Usage samples per pod and container, oldest first.
    usage: BTreeMap<PodKey, BTreeMap<String, Vec<UsagePoint>>>,
    /// Raw series, samples oldest first.
    series: BTreeMap<Labels, Vec<Sample>>,
    /// The newest timestamp recorded anywhere: "now" when there is no clock.
    newest: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy)]
struct UsagePoint {
    timestamp: Timestamp,
    cpu_cores: f64,
    memory_bytes: f64,
}

impl Default for InMemoryMetrics {
    /// An empty store without a clock ("now" is the newest recorded timestamp) and the default usage window.
    fn default() -> Self {
        Self {
            clock: None,
            usage_window: DEFAULT_USAGE_WINDOW,
            state: Mutex::new(State::default()),
        }
    }
}

impl fmt::Debug for InMemoryMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("InMemoryMetrics")
            .field("has_clock", &self.clock.is_some())
            .field("usage_window", &self.usage_window)
            .field("pods", &state.pod_labels.len())
            .field("series", &state.series.len())
            .field("newest", &state.newest)
            .finish_non_exhaustive()
    }
}

impl InMemoryMetrics {
    /// Evaluates "now" with `clock` instead of the newest recorded timestamp.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Averages CPU usage over `window` instead of [`DEFAULT_USAGE_WINDOW`].
    #[must_use]
    pub fn with_usage_window(mut self, window: Duration) -> Self {
        self.usage_window = window;
        self
    }

    /// Sets the labels of a pod (replacing earlier ones); label selectors match against them.
    pub fn set_pod_labels<K, V>(
        &self,
        namespace: &str,
        pod: &str,
        labels: impl IntoIterator<Item = (K, V)>,
    ) where
        K: Into<String>,
        V: Into<String>,
    {
        let labels = labels
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        self.lock()
            .pod_labels
            .insert(pod_key(namespace, pod), labels);
    }

    /// Forgets a pod's labels and usage samples, as when the pod is deleted. Its raw series stay, as history does
    /// in Prometheus.
    pub fn remove_pod(&self, namespace: &str, pod: &str) {
        let key = pod_key(namespace, pod);
        let mut state = self.lock();
        state.pod_labels.remove(&key);
        state.usage.remove(&key);
    }

    /// Records the usage of a pod's containers at one instant (a metrics-server scrape): CPU in cores, memory
    /// working set in bytes. A sample at the same instant as an earlier one replaces it.
    ///
    /// [`MetricsSource::pod_usage`] reports, per container, the mean of the CPU samples in the usage window
    /// `(now - window, now]` and the latest memory sample in the lookback `(now - 5m, now]`; a container without
    /// a CPU sample in the window is left out, and so is a pod without containers.
    pub fn record_pod_usage(
        &self,
        namespace: &str,
        pod: &str,
        at: Timestamp,
        containers: &[ContainerUsage],
    ) {
        let mut state = self.lock();
        state.touch(at);
        let pod = state.usage.entry(pod_key(namespace, pod)).or_default();
        for container in containers {
            let points = pod.entry(container.name.clone()).or_default();
            let point = UsagePoint {
                timestamp: at,
                cpu_cores: container.cpu_cores,
                memory_bytes: container.memory_bytes,
            };
            match points.binary_search_by(|p| p.timestamp.cmp(&at)) {
                Ok(i) => {
                    if let Some(slot) = points.get_mut(i) {
                        *slot = point;
                    }
                }
                Err(i) => points.insert(i, point),
            }
        }
    }

    /// Appends one sample to the raw series named by `series` (its name and its complete label set). A sample
    /// at the same instant as an earlier one replaces it. Counters and gauges are stored alike; the query decides
    /// how to read them.
    pub fn push_sample(&self, series: &MetricId, at: Timestamp, value: f64) {
        let mut labels = series.labels.clone();
        labels.insert(NAME_LABEL.to_owned(), series.name.clone());
        let mut state = self.lock();
        state.touch(at);
        let samples = state.series.entry(labels).or_default();
        let sample = Sample {
            timestamp: at,
            value,
        };
        match samples.binary_search_by(|s| s.timestamp.cmp(&at)) {
            Ok(i) => {
                if let Some(slot) = samples.get_mut(i) {
                    *slot = sample;
                }
            }
            Err(i) => samples.insert(i, sample),
        }
    }

    /// Records a custom metric of one pod: a sample of the series `metric{namespace=…, pod=…}`, the
    /// prometheus-adapter convention [`MetricsSource::pods_metric`] reads.
    pub fn set_pods_metric(
        &self,
        namespace: &str,
        pod: &str,
        metric: &MetricId,
        at: Timestamp,
        value: f64,
    ) {
        let series = metric
            .clone()
            .with_label("namespace", namespace)
            .with_label("pod", pod);
        self.push_sample(&series, at, value);
    }

    /// Records a custom metric describing one object: a sample of the series
    /// `metric{namespace=…, <kind in lower case>=name}`, which [`MetricsSource::object_metric`] reads. An empty
    /// namespace (a cluster-scoped object) adds no `namespace` label.
    pub fn set_object_metric(
        &self,
        namespace: &str,
        kind: &str,
        name: &str,
        metric: &MetricId,
        at: Timestamp,
        value: f64,
    ) {
        let mut series = metric.clone().with_label(object_label(kind), name);
        if !namespace.is_empty() {
            series = series.with_label("namespace", namespace);
        }
        self.push_sample(&series, at, value);
    }

    /// Records an external metric: a sample of the series `metric{labels…, namespace=…}`; an empty namespace adds
    /// no `namespace` label (a cluster-wide series, read by asking with an empty namespace).
    pub fn set_external_metric(
        &self,
        namespace: &str,
        metric: &MetricId,
        at: Timestamp,
        value: f64,
    ) {
        let series = if namespace.is_empty() {
            metric.clone()
        } else {
            metric.clone().with_label("namespace", namespace)
        };
        self.push_sample(&series, at, value);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the maps half-updated in a way readers would trip on.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The instant queries are evaluated at, or `None` for an empty store without a clock.
    fn now(&self, state: &State) -> Option<Timestamp> {
        self.clock
            .as_deref()
            .map_or(state.newest, |clock| Some(clock.now()))
    }
}

impl State {
    fn touch(&mut self, at: Timestamp) {
        self.newest = Some(self.newest.map_or(at, |n| n.max(at)));
    }

    /// The raw series whose name is `metric.name` and whose labels include every constraint of `metric`.
    fn matching<'a>(
        &'a self,
        metric: &'a MetricId,
    ) -> impl Iterator<Item = (&'a Labels, &'a [Sample])> + 'a {
        self.series.iter().filter_map(move |(labels, samples)| {
            let name = labels.get(NAME_LABEL)?;
            metric
                .matches(name, labels)
                .then_some((labels, samples.as_slice()))
        })
    }
}

#[async_trait]
impl MetricsSource for InMemoryMetrics {
    async fn pod_usage(&self, namespace: &str, selector: &str) -> Result<Vec<PodUsage>> {
        let selector = LabelSelector::parse(selector)?;
        let state = self.lock();
        let Some(now) = self.now(&state) else {
            return Ok(Vec::new());
        };
        let no_labels = Labels::new();
        let mut out = Vec::new();
        for ((ns, pod), containers) in &state.usage {
            if ns != namespace {
                continue;
            }
            let labels = state
                .pod_labels
                .get(&(ns.clone(), pod.clone()))
                .unwrap_or(&no_labels);
            if !selector.matches(labels) {
                continue;
            }
            let mut usage = Vec::new();
            for (name, points) in containers {
                let window = window_slice(points, |p| p.timestamp, now, self.usage_window);
                if window.is_empty() {
                    continue;
                }
                let Some(latest) =
                    window_slice(points, |p| p.timestamp, now, DEFAULT_LOOKBACK).last()
                else {
                    continue;
                };
                let cpu: f64 = window.iter().map(|p| p.cpu_cores).sum();
                usage.push(ContainerUsage {
                    name: name.clone(),
                    cpu_cores: cpu / count_f64(window.len()),
                    memory_bytes: latest.memory_bytes,
                });
            }
            if !usage.is_empty() {
                out.push(PodUsage {
                    namespace: ns.clone(),
                    name: pod.clone(),
                    timestamp: now,
                    window: self.usage_window,
                    containers: usage,
                });
            }
        }
        Ok(out)
    }

    async fn pods_metric(
        &self,
        namespace: &str,
        selector: &str,
        metric: &MetricId,
    ) -> Result<Vec<ObjectValue>> {
        let selector = LabelSelector::parse(selector)?;
        let state = self.lock();
        let now = self.now(&state);
        // With an empty selector every pod with the series counts, as the Prometheus adapter skips the label join.
        let selected: Option<BTreeSet<&str>> = (!selector.is_empty()).then(|| {
            state
                .pod_labels
                .iter()
                .filter(|((ns, _), labels)| ns == namespace && selector.matches(labels))
                .map(|((_, pod), _)| pod.as_str())
                .collect()
        });
        let mut found = false;
        let mut sums: BTreeMap<&str, f64> = BTreeMap::new();
        for (labels, samples) in state.matching(metric) {
            if labels.get("namespace").map(String::as_str) != Some(namespace) {
                continue;
            }
            let Some(value) = now.and_then(|now| value_at(samples, now)) else {
                continue;
            };
            found = true;
            let Some(pod) = labels.get("pod") else {
                continue;
            };
            if selected.as_ref().is_some_and(|s| !s.contains(pod.as_str())) {
                continue;
            }
            *sums.entry(pod.as_str()).or_insert(0.0) += value;
        }
        match now {
            Some(now) if found => Ok(sums
                .into_iter()
                .map(|(pod, value)| ObjectValue {
                    name: pod.to_owned(),
                    sample: Sample {
                        timestamp: now,
                        value,
                    },
                })
                .collect()),
            _ => Err(Error::MetricUnavailable {
                metric: metric.name.clone(),
                object: format!("pods in namespace {namespace}"),
                reason: "no series with a recent sample".to_owned(),
            }),
        }
    }

    async fn object_metric(
        &self,
        namespace: &str,
        kind: &str,
        name: &str,
        metric: &MetricId,
    ) -> Result<Sample> {
        let state = self.lock();
        let label = object_label(kind);
        let mut total = None;
        if let Some(now) = self.now(&state) {
            for (labels, samples) in state.matching(metric) {
                let in_namespace = namespace.is_empty()
                    || labels.get("namespace").is_some_and(|ns| ns == namespace);
                if !in_namespace || labels.get(&label).is_none_or(|n| n != name) {
                    continue;
                }
                if let Some(value) = value_at(samples, now) {
                    total = Some(total.unwrap_or(0.0) + value);
                }
            }
            if let Some(value) = total {
                return Ok(Sample {
                    timestamp: now,
                    value,
                });
            }
        }
        Err(Error::MetricUnavailable {
            metric: metric.name.clone(),
            object: crate::error::object_key(Some(namespace), &format!("{kind}/{name}")),
            reason: "no series with a recent sample".to_owned(),
        })
    }

    async fn external_metric(&self, namespace: &str, metric: &MetricId) -> Result<Vec<Sample>> {
        let state = self.lock();
        let mut out = Vec::new();
        if let Some(now) = self.now(&state) {
            for (labels, samples) in state.matching(metric) {
                if !namespace.is_empty() && labels.get("namespace").is_none_or(|ns| ns != namespace)
                {
                    continue;
                }
                if let Some(value) = value_at(samples, now) {
                    out.push(Sample {
                        timestamp: now,
                        value,
                    });
                }
            }
        }
        if out.is_empty() {
            return Err(Error::MetricUnavailable {
                metric: metric.name.clone(),
                object: if namespace.is_empty() {
                    "the cluster".to_owned()
                } else {
                    format!("namespace {namespace}")
                },
                reason: "no series with a recent sample".to_owned(),
            });
        }
        Ok(out)
    }

    async fn range(&self, query: &RangeQuery) -> Result<Vec<Series>> {
        validate_range(query)?;
        let state = self.lock();
        let mut out = Vec::new();
        for (labels, samples) in state.matching(&query.metric) {
            let mut points = Vec::new();
            let mut t = query.start;
            while t <= query.end {
                if let Some(value) = evaluate(query.function, samples, t) {
                    points.push(Sample {
                        timestamp: t,
                        value,
                    });
                }
                match t.checked_add(query.step) {
                    Ok(next) => t = next,
                    Err(_) => break,
                }
            }
            if points.is_empty() {
                continue;
            }
            let mut labels = labels.clone();
            if !matches!(query.function, RangeFunction::Raw) {
                // Functions drop the metric name in PromQL.
                labels.remove(NAME_LABEL);
            }
            out.push(Series {
                labels,
                samples: points,
            });
        }
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(out)
    }
}

fn pod_key(namespace: &str, pod: &str) -> PodKey {
    (namespace.to_owned(), pod.to_owned())
}

/// Checks a range query the way Prometheus does before evaluating it.
pub(crate) fn validate_range(query: &RangeQuery) -> Result<()> {
    let invalid = |field: &str, reason: &str| Error::InvalidField {
        object: format!("range query for {}", query.metric.name),
        field: field.to_owned(),
        reason: reason.to_owned(),
    };
    if query.end < query.start {
        return Err(invalid("end", "end is before start"));
    }
    if query.step.is_zero() {
        return Err(invalid("step", "step must be positive"));
    }
    match query.function {
        RangeFunction::Raw => {}
        RangeFunction::Rate { window } | RangeFunction::MaxOverTime { window } => {
            if window < Duration::from_millis(1) {
                return Err(invalid("function.window", "window must be at least 1ms"));
            }
        }
    }
    let span = query
        .end
        .duration_since(query.start)
        .as_nanos()
        .unsigned_abs();
    if span / query.step.as_nanos() >= MAX_RANGE_POINTS {
        return Err(invalid(
            "step",
            "exceeded maximum resolution of 11,000 points per timeseries; increase the step",
        ));
    }
    Ok(())
}

/// One evaluation of a range function at `t`.
fn evaluate(function: RangeFunction, samples: &[Sample], t: Timestamp) -> Option<f64> {
    match function {
        RangeFunction::Raw => value_at(samples, t),
        RangeFunction::Rate { window } => {
            rate(window_slice(samples, |s| s.timestamp, t, window), t, window)
        }
        RangeFunction::MaxOverTime { window } => window_slice(samples, |s| s.timestamp, t, window)
            .iter()
            .map(|s| s.value)
            .reduce(|max, v| if v > max || max.is_nan() { v } else { max }),
    }
}

/// The latest sample in the lookback `(t - 5m, t]`.
fn value_at(samples: &[Sample], t: Timestamp) -> Option<f64> {
    window_slice(samples, |s| s.timestamp, t, DEFAULT_LOOKBACK)
        .last()
        .map(|s| s.value)
}

/// The items of a time-sorted slice that lie in `(t - window, t]`.
fn window_slice<T>(
    items: &[T],
    time: impl Fn(&T) -> Timestamp,
    t: Timestamp,
    window: Duration,
) -> &[T] {
    let from = t.checked_sub(window).unwrap_or(Timestamp::MIN);
    let lo = items.partition_point(|i| time(i) <= from);
    let hi = items.partition_point(|i| time(i) <= t);
    items.get(lo..hi).unwrap_or_default()
}

/// PromQL's `rate` over the samples of one window ending at `t` (see the module docs).
fn rate(samples: &[Sample], t: Timestamp, window: Duration) -> Option<f64> {
    let [first, .., last] = samples else {
        return None;
    };
    let mut increase = last.value - first.value;
    for pair in samples.windows(2) {
        if let [prev, cur] = pair
            && cur.value < prev.value
        {
            // A counter reset: the counter restarted from zero, so everything before it counts too.
            increase += prev.value;
        }
    }
    let range_start = t.checked_sub(window).unwrap_or(Timestamp::MIN);
    let sampled = last.timestamp.duration_since(first.timestamp).as_secs_f64();
    let average_gap = sampled / count_f64(samples.len() - 1);
    let threshold = average_gap * 1.1;
    let mut to_start = first.timestamp.duration_since(range_start).as_secs_f64();
    let mut to_end = t.duration_since(last.timestamp).as_secs_f64();
    // A sample gap larger than usual at an edge means the series starts or ends inside the window: extrapolate by
    // half a gap only.
    if to_start >= threshold {
        to_start = average_gap / 2.0;
    }
    if increase > 0.0 && first.value >= 0.0 {
        // Counters are never negative: do not extrapolate back past the point where this one would be zero.
        let to_zero = sampled * (first.value / increase);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    if to_end >= threshold {
        to_end = average_gap / 2.0;
    }
    let factor = (sampled + to_start + to_end) / sampled;
    Some(increase * factor / window.as_secs_f64())
}

/// A sample count as a float; counts here are far below 2^52, where the conversion is exact.
fn count_f64(n: usize) -> f64 {
    u32::try_from(n).map_or(f64::from(u32::MAX), f64::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::metrics::conformance;

    fn ts(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).unwrap()
    }

    fn at_clock(t: Timestamp) -> InMemoryMetrics {
        InMemoryMetrics::default().with_clock(Arc::new(ManualClock::new(t)))
    }

    #[tokio::test]
    async fn passes_the_conformance_check() {
        let fixture = conformance::fixture(ts(1_735_689_600));
        let metrics = at_clock(fixture.now);
        fixture.load_into(&metrics);
        if let Err(e) = conformance::check_metrics_source(&metrics, &fixture).await {
            panic!("{e}");
        }
    }

    #[tokio::test]
    async fn without_a_clock_now_is_the_newest_sample() {
        let metrics = InMemoryMetrics::default();
        let m = MetricId::named("g");
        assert!(metrics.external_metric("", &m).await.is_err());
        metrics.push_sample(&m, ts(100), 1.0);
        metrics.push_sample(&MetricId::named("other"), ts(1000), 5.0);
        // The newest sample anywhere is at 1000 s, so `g` (last seen at 100 s) is stale.
        assert!(metrics.external_metric("", &m).await.is_err());
        metrics.push_sample(&m, ts(900), 2.0);
        let got = metrics.external_metric("", &m).await.unwrap();
        assert_eq!(
            got,
            vec![Sample {
                timestamp: ts(1000),
                value: 2.0
            }]
        );
    }

    #[tokio::test]
    async fn later_sample_at_the_same_instant_replaces() {
        let metrics = at_clock(ts(10));
        let m = MetricId::named("g");
        metrics.push_sample(&m, ts(5), 1.0);
        metrics.push_sample(&m, ts(1), 7.0);
        metrics.push_sample(&m, ts(5), 3.0);
        let q = RangeQuery {
            metric: m.clone(),
            function: RangeFunction::Raw,
            start: ts(1),
            end: ts(5),
            step: Duration::from_secs(4),
        };
        let got = metrics.range(&q).await.unwrap();
        let values: Vec<f64> = got[0].samples.iter().map(|s| s.value).collect();
        assert_eq!(values, vec![7.0, 3.0]);
    }

    #[tokio::test]
    #[allow(clippy::float_cmp, reason = "sums of small integers are exact")]
    async fn external_metrics_honour_match_expressions() {
        use crate::metrics::{ExpressionOperator, LabelExpression};
        let metrics = at_clock(ts(10));
        let series = [
            ("a", Some("prod"), 1.0),
            ("b", Some("dev"), 2.0),
            ("c", None, 4.0),
        ];
        for (queue, env, value) in series {
            let mut id = MetricId::named("depth").with_label("queue", queue);
            if let Some(env) = env {
                id = id.with_label("env", env);
            }
            metrics.push_sample(&id, ts(5), value);
        }
        let sum = async |id: MetricId| -> f64 {
            metrics
                .external_metric("", &id)
                .await
                .map_or(-1.0, |v| v.iter().map(|s| s.value).sum::<f64>())
        };
        let with = |operator, values: &[&str]| {
            MetricId::named("depth").with_expression(LabelExpression {
                key: "env".to_owned(),
                operator,
                values: values.iter().map(|v| (*v).to_owned()).collect(),
            })
        };
        // In: only labelled series; NotIn: an absent label qualifies; Exists / DoesNotExist split the three.
        assert_eq!(
            sum(with(ExpressionOperator::In, &["prod", "qa"])).await,
            1.0
        );
        assert_eq!(sum(with(ExpressionOperator::NotIn, &["prod"])).await, 6.0);
        assert_eq!(sum(with(ExpressionOperator::Exists, &[])).await, 3.0);
        assert_eq!(sum(with(ExpressionOperator::DoesNotExist, &[])).await, 4.0);
        // Expressions and exact labels combine with AND; nothing left is an error, not zero.
        let none = with(ExpressionOperator::In, &["prod"]).with_label("queue", "b");
        assert_eq!(sum(none).await, -1.0);
    }

    #[test]
    fn rate_handles_resets_and_extrapolates() {
        let s = |secs, value| Sample {
            timestamp: ts(secs),
            value,
        };
        // Samples 10 s apart covering the whole 40 s window: no extrapolation beyond the edges.
        let samples = [s(10, 100.0), s(20, 110.0), s(30, 5.0), s(40, 15.0)];
        // Increase: 10, then a reset (110 counted), then 10: 15 - 100 + 110 = 25 over ... extrapolated to 40 s.
        let got = rate(&samples, ts(40), Duration::from_secs(40)).unwrap();
        // to_start = 10 s (< 11 s threshold), to_end = 0: factor 40/30.
        assert!((got - 25.0 * (40.0 / 30.0) / 40.0).abs() < 1e-12);
        assert_eq!(rate(&samples[..1], ts(40), Duration::from_secs(40)), None);
        // A counter starting at zero is not extrapolated before its start.
        let fresh = [s(35, 0.0), s(40, 5.0)];
        let got = rate(&fresh, ts(40), Duration::from_secs(60)).unwrap();
        assert!((got - 5.0 / 60.0).abs() < 1e-12);
    }

    #[test]
    fn range_validation() {
        let q = |start, end, step| RangeQuery {
            metric: MetricId::named("x"),
            function: RangeFunction::Raw,
            start: ts(start),
            end: ts(end),
            step: Duration::from_secs(step),
        };
        assert!(validate_range(&q(10, 10, 1)).is_ok());
        assert!(matches!(
            validate_range(&q(10, 9, 1)),
            Err(Error::InvalidField { .. })
        ));
        assert!(matches!(
            validate_range(&q(0, 10, 0)),
            Err(Error::InvalidField { .. })
        ));
        assert!(validate_range(&q(0, 10_999, 1)).is_ok());
        assert!(validate_range(&q(0, 11_000, 1)).is_err());
    }
}
