//! Metrics seams.
//!
//! [`MetricsSource`] is what the autoscalers, the recommender and inspection read: resource usage of pods and
//! containers now, custom metrics of pods and objects, external metrics, and history over a time range. It has an
//! in-memory implementation ([`memory::InMemoryMetrics`], the embedded default and test double) and a Prometheus
//! implementation over the HTTP API (`prometheus::PrometheusMetrics`, feature `prometheus`).
//!
//! Both pass the shared check in [`conformance`], which also holds the fixture history they are checked against.
//! They answer alike: instant values use Prometheus' 5-minute lookback ([`DEFAULT_LOOKBACK`]), CPU usage is a rate
//! over [`DEFAULT_USAGE_WINDOW`], range functions follow PromQL (`rate` with its extrapolation), and pod
//! selectors are Kubernetes label selectors ([`crate::cluster::selector::LabelSelector`]).
//!
//! Values are `f64` in base units (cores for CPU, bytes for memory, the metric's own unit otherwise); callers that
//! need Kubernetes milli-quantities convert with [`crate::quantity`]. Time stamps are [`jiff::Timestamp`].

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::Result;

pub mod conformance;
pub mod memory;
#[cfg(feature = "prometheus")]
#[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
pub mod prometheus;

/// How far back an instant evaluation looks for the latest sample of a series (Prometheus' default
/// `--query.lookback-delta`): a series whose newest sample is older than this is stale and has no value.
pub const DEFAULT_LOOKBACK: Duration = Duration::from_secs(5 * 60);

/// The window CPU usage is averaged over by default (`rate(container_cpu_usage_seconds_total[2m])`).
pub const DEFAULT_USAGE_WINDOW: Duration = Duration::from_secs(2 * 60);

/// Resource usage of one container at one instant (a metrics-server style sample).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerUsage {
    /// Container name.
    pub name: String,
    /// CPU in cores (averaged over `window`).
    pub cpu_cores: f64,
    /// Memory working set in bytes.
    pub memory_bytes: f64,
}

/// Resource usage of one pod at one instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodUsage {
    /// Pod namespace.
    pub namespace: String,
    /// Pod name.
    pub name: String,
    /// When the sample was taken (end of the window).
    pub timestamp: Timestamp,
    /// The window the CPU rate was averaged over.
    #[serde(with = "secs")]
    pub window: Duration,
    /// Usage per container, sorted by name.
    pub containers: Vec<ContainerUsage>,
}

impl PodUsage {
    /// Sum of CPU cores over containers.
    pub fn cpu_cores(&self) -> f64 {
        self.containers.iter().map(|c| c.cpu_cores).sum()
    }

    /// Sum of memory bytes over containers.
    pub fn memory_bytes(&self) -> f64 {
        self.containers.iter().map(|c| c.memory_bytes).sum()
    }
}

/// A named metric with an optional label selector (`metric.name` and `metric.selector` of an HPA metric).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricId {
    /// The series name, for example `http_requests_per_second`.
    pub name: String,
    /// Exact label matches; empty selects every series of that name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Set-based requirements (`matchExpressions` of the metric's selector), all of which must hold as well.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expressions: Vec<LabelExpression>,
}

/// The operator of a [`LabelExpression`], as Kubernetes spells it in `matchExpressions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ExpressionOperator {
    /// The label is present and one of the values.
    In,
    /// The label is absent or none of the values.
    NotIn,
    /// The label is present.
    Exists,
    /// The label is absent.
    DoesNotExist,
}

impl std::str::FromStr for ExpressionOperator {
    type Err = crate::error::Error;

    fn from_str(text: &str) -> Result<Self> {
        match text {
            "In" => Ok(Self::In),
            "NotIn" => Ok(Self::NotIn),
            "Exists" => Ok(Self::Exists),
            "DoesNotExist" => Ok(Self::DoesNotExist),
            other => Err(crate::error::Error::InvalidSelector {
                selector: other.to_owned(),
                reason: "a matchExpressions operator must be In, NotIn, Exists or DoesNotExist"
                    .to_owned(),
            }),
        }
    }
}

/// One set-based requirement on a metric's labels (an entry of `matchExpressions`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LabelExpression {
    /// The label key.
    pub key: String,
    /// How the label is compared with `values`.
    pub operator: ExpressionOperator,
    /// The values of `In` and `NotIn`; empty for `Exists` and `DoesNotExist`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

impl LabelExpression {
    /// True when `labels` satisfy this requirement; Kubernetes' rules, where an absent label satisfies `NotIn`.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.key);
        match self.operator {
            ExpressionOperator::In => value.is_some_and(|v| self.values.contains(v)),
            ExpressionOperator::NotIn => value.is_none_or(|v| !self.values.contains(v)),
            ExpressionOperator::Exists => value.is_some(),
            ExpressionOperator::DoesNotExist => value.is_none(),
        }
    }
}

impl MetricId {
    /// A metric with no label constraints.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            labels: BTreeMap::new(),
            expressions: Vec::new(),
        }
    }

    /// Adds one exact label match.
    #[must_use]
    pub fn with_label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Adds one set-based requirement (an entry of `matchExpressions`).
    #[must_use]
    pub fn with_expression(mut self, expression: LabelExpression) -> Self {
        self.expressions.push(expression);
        self
    }

    /// True when `labels` satisfy every constraint of this id: the exact matches and the expressions.
    pub fn matches(&self, name: &str, labels: &BTreeMap<String, String>) -> bool {
        self.name == name
            && self.labels.iter().all(|(k, v)| labels.get(k) == Some(v))
            && self.expressions.iter().all(|e| e.matches(labels))
    }
}

/// One value at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// When.
    pub timestamp: Timestamp,
    /// The value.
    pub value: f64,
}

/// A value of one object (a pod, or the object an `Object` metric describes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectValue {
    /// The object's name.
    pub name: String,
    /// The sample.
    pub sample: Sample,
}

/// A time series: labels and samples in time order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Series {
    /// All labels of the series, `__name__` included where the backend gives it.
    pub labels: BTreeMap<String, String>,
    /// Samples, oldest first.
    pub samples: Vec<Sample>,
}

/// How a range query treats the raw samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum RangeFunction {
    /// The raw gauge value at each step (last sample at or before it, within the lookback window).
    Raw,
    /// Per-second rate of a counter over a trailing window (`rate(x[window])`).
    Rate {
        /// The trailing window.
        #[serde(with = "secs")]
        window: Duration,
    },
    /// Maximum over a trailing window (`max_over_time(x[window])`).
    MaxOverTime {
        /// The trailing window.
        #[serde(with = "secs")]
        window: Duration,
    },
}

/// A query over history: one metric, a time range, a resolution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RangeQuery {
    /// The metric and its label constraints.
    pub metric: MetricId,
    /// How raw samples become values.
    pub function: RangeFunction,
    /// First evaluation instant.
    pub start: Timestamp,
    /// Last evaluation instant (inclusive).
    pub end: Timestamp,
    /// Distance between evaluation instants.
    #[serde(with = "secs")]
    pub step: Duration,
}

/// Reads metrics: usage now, custom and external metrics, and history.
///
/// Pod selection is by namespace and a label selector in the Kubernetes string form (`app=web`), the same form
/// as [`crate::cluster::ListOptions::label_selector`].
#[async_trait]
pub trait MetricsSource: Send + Sync {
    /// CPU and memory usage of the pods a selector matches, sorted by pod name (`resource` metrics).
    ///
    /// # Errors
    /// A selector that does not parse, or a failing backend.
    async fn pod_usage(&self, namespace: &str, selector: &str) -> Result<Vec<PodUsage>>;

    /// A custom metric for each pod the selector matches (`Pods` metrics), sorted by pod name.
    ///
    /// # Errors
    /// A failing backend; a metric with no series at all is [`crate::Error::MetricUnavailable`].
    async fn pods_metric(
        &self,
        namespace: &str,
        selector: &str,
        metric: &MetricId,
    ) -> Result<Vec<ObjectValue>>;

    /// A custom metric describing one object (`Object` metrics), for example an Ingress's request rate.
    ///
    /// # Errors
    /// [`crate::Error::MetricUnavailable`] when there is no value, or a failing backend.
    async fn object_metric(
        &self,
        namespace: &str,
        kind: &str,
        name: &str,
        metric: &MetricId,
    ) -> Result<Sample>;

    /// An external metric: every series matching the id, as values (`External` metrics sum them).
    ///
    /// # Errors
    /// [`crate::Error::MetricUnavailable`] when no series matches, or a failing backend.
    async fn external_metric(&self, namespace: &str, metric: &MetricId) -> Result<Vec<Sample>>;

    /// History of a metric over a range, one series per label set, sorted by labels.
    ///
    /// # Errors
    /// An empty or inverted range, a zero step, or a failing backend.
    async fn range(&self, query: &RangeQuery) -> Result<Vec<Series>>;
}

/// The label that names the described object of an `Object` metric: the kind in lower case with every character
/// outside `[a-z0-9_]` replaced by `_` (`Ingress` → `ingress`), the prometheus-adapter convention.
pub(crate) fn object_label(kind: &str) -> String {
    kind.chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The `kube_pod_labels` label kube-state-metrics writes for a Kubernetes label key: `label_` and the key with
/// every character outside `[a-zA-Z0-9_]` replaced by `_` (`app.kubernetes.io/name` →
/// `label_app_kubernetes_io_name`).
pub(crate) fn kube_state_metrics_label(key: &str) -> String {
    let sanitized: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("label_{sanitized}")
}

/// Serde helper: a `Duration` as whole seconds (fractions kept as a float when present).
pub(crate) mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        if d.subsec_nanos() == 0 {
            s.serialize_u64(d.as_secs())
        } else {
            s.serialize_f64(d.as_secs_f64())
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
    }
}
