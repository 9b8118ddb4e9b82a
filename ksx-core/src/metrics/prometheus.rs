//! [`MetricsSource`] over the Prometheus HTTP API (`/api/v1/query`, `/api/v1/query_range`).
//!
//! This is the only module that talks to Prometheus. It maps the trait onto the conventions of cAdvisor,
//! kube-state-metrics and prometheus-adapter:
//!
//! | method | PromQL |
//! |---|---|
//! | `pod_usage` | `sum by (pod, container) (rate(container_cpu_usage_seconds_total{namespace, container!="", container!="POD"}[2m]))` and `sum by (pod, container) (container_memory_working_set_bytes{…})` |
//! | `pods_metric` | `sum by (pod) (metric{namespace, labels…})` |
//! | `object_metric` | `sum(metric{namespace, <kind in lower case>="name", labels…})` |
//! | `external_metric` | `metric{labels…, namespace}` (no `namespace` matcher when the namespace is empty) |
//! | `range` | `metric{labels…}`, `rate(metric{…}[w])` or `max_over_time(metric{…}[w])` over `query_range` |
//!
//! **Label selectors.** cAdvisor and custom-metric series carry no pod labels, so a pod selector is resolved by a
//! join with kube-state-metrics' `kube_pod_labels`, in the same query: `… and on (pod)
//! kube_pod_labels{namespace="ns", label_app="web"}`. Each requirement becomes a matcher on the sanitized label
//! (`label_` and the key with every character outside `[a-zA-Z0-9_]` replaced by `_`): `k=v` → `label_k="v"`,
//! `k!=v` → `label_k!="v"`, `k in (a,b)` → `label_k=~"a|b"`, `k notin (a,b)` → `label_k!~"a|b"`, `k` →
//! `label_k!=""`, `!k` → `label_k=""`. One query per answer keeps the selection and the values consistent at one
//! instant, where querying `kube_pod_labels` first would race with pods coming and going. kube-state-metrics
//! v2 only exports the labels allowed by `--metric-labels-allowlist` (for example `pods=[*]`); a pod whose
//! labels are not exported never matches a non-empty selector. Kubernetes' empty label value and a missing
//! label look the same in Prometheus. An empty selector skips the join.
//!
//! **Time.** Without a clock, instant queries are evaluated at the server's current time; with
//! [`PrometheusMetrics::with_clock`] they are evaluated at the clock's time (the `time` parameter), which is
//! how simulations and the conformance test read history as if it were now.
//!
//! **Quoting.** Metric names are always sent as `{__name__="…"}` matchers and every label value is escaped, so
//! no name or value can change the shape of a query. Label names must be valid Prometheus label names.
//!
//! ```no_run
//! use ksx_core::metrics::MetricsSource;
//! use ksx_core::metrics::prometheus::PrometheusMetrics;
//!
//! # async fn demo() -> ksx_core::Result<()> {
//! let prom = PrometheusMetrics::new("http://127.0.0.1:9090")?;
//! let usage = prom.pod_usage("shop", "app=web").await?;
//! let up = prom.instant_query("sum(up)").await?;
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;

use self::promql::{
    external_metric_query, object_metric_query, pod_usage_queries, pods_metric_queries, range_expr,
};
use super::memory::validate_range;
use super::{
    ContainerUsage, DEFAULT_USAGE_WINDOW, MetricId, MetricsSource, ObjectValue, PodUsage,
    RangeQuery, Sample, Series,
};
use crate::clock::Clock;
use crate::error::{Error, Result};

mod promql;

/// The request timeout unless [`PrometheusMetrics::with_timeout`] sets another.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A [`MetricsSource`] backed by a Prometheus server (or anything speaking its HTTP API: Thanos, Mimir,
/// VictoriaMetrics). See the [module docs](self) for the queries it sends.
#[derive(Clone)]
pub struct PrometheusMetrics {
    base: String,
    client: reqwest::Client,
    timeout: Duration,
    bearer_token: Option<String>,
    clock: Option<Arc<dyn Clock>>,
    usage_window: Duration,
}

impl fmt::Debug for PrometheusMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrometheusMetrics")
            .field("url", &self.base)
            .field("timeout", &self.timeout)
            .field(
                "bearer_token",
                &self.bearer_token.as_ref().map(|_| "<redacted>"),
            )
            .field("has_clock", &self.clock.is_some())
            .field("usage_window", &self.usage_window)
            .finish_non_exhaustive()
    }
}

impl PrometheusMetrics {
    /// A client for the server at `url` (for example `http://127.0.0.1:9090`, or a path prefix such as
    /// `https://example.org/prometheus`), with a [`DEFAULT_TIMEOUT`], no token, the server's clock and the
    /// [`DEFAULT_USAGE_WINDOW`].
    ///
    /// # Errors
    /// [`Error::Prometheus`] when `url` is not an absolute `http` or `https` URL, or the HTTP client cannot be
    /// built (no TLS roots).
    pub fn new(url: &str) -> Result<Self> {
        let fail = |reason: String| Error::Prometheus {
            url: url.to_owned(),
            query: String::new(),
            reason,
        };
        let parsed = reqwest::Url::parse(url).map_err(|e| fail(format!("invalid URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(fail(format!(
                "unsupported URL scheme {:?}",
                parsed.scheme()
            )));
        }
        let client = reqwest::Client::builder()
            .build()
            .map_err(|e| fail(error_chain(&e)))?;
        Ok(Self {
            base: url.trim_end_matches('/').to_owned(),
            client,
            timeout: DEFAULT_TIMEOUT,
            bearer_token: None,
            clock: None,
            usage_window: DEFAULT_USAGE_WINDOW,
        })
    }

    /// Gives up on a request after `timeout`.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sends `Authorization: Bearer <token>` with every request.
    #[must_use]
    pub fn with_bearer_token(mut self, token: impl Into<String>) -> Self {
        self.bearer_token = Some(token.into());
        self
    }

    /// Evaluates instant queries at `clock`'s time instead of the server's.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Averages CPU usage over `window` (`rate(…[window])`) instead of [`DEFAULT_USAGE_WINDOW`].
    #[must_use]
    pub fn with_usage_window(mut self, window: Duration) -> Self {
        self.usage_window = window;
        self
    }

    /// The clock's time, or `None` to let the server use its own.
    fn now(&self) -> Option<Timestamp> {
        self.clock.as_deref().map(Clock::now)
    }

    /// The server's base URL, without a trailing slash.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// Runs a PromQL instant query at the clock's time (the server's time without a clock).
    ///
    /// Every result type comes back as series: a vector as one series per element with one sample, a matrix
    /// (`x[5m]`) as is, a scalar as one series without labels. Series are sorted by labels. Native-histogram
    /// samples are skipped.
    ///
    /// # Errors
    /// [`Error::Prometheus`] naming the URL and query: a transport failure, an answer that is not the API's
    /// JSON, an API error (`errorType: error`), or a string result.
    pub async fn instant_query(&self, promql: &str) -> Result<Vec<Series>> {
        self.query(promql, self.now()).await
    }

    /// Runs a PromQL instant query evaluated at `at`; see [`PrometheusMetrics::instant_query`].
    ///
    /// # Errors
    /// As [`PrometheusMetrics::instant_query`].
    pub async fn instant_query_at(&self, promql: &str, at: Timestamp) -> Result<Vec<Series>> {
        self.query(promql, Some(at)).await
    }

    /// Runs a PromQL range query from `start` to `end` (inclusive) every `step`; one series per label set,
    /// sorted by labels, samples oldest first.
    ///
    /// # Errors
    /// As [`PrometheusMetrics::instant_query`]; the server also refuses an inverted range, a zero step and more
    /// than 11,000 points per series.
    pub async fn range_query(
        &self,
        promql: &str,
        start: Timestamp,
        end: Timestamp,
        step: Duration,
    ) -> Result<Vec<Series>> {
        let params = vec![
            ("query", promql.to_owned()),
            ("start", format_time(start)),
            ("end", format_time(end)),
            ("step", step.as_secs_f64().to_string()),
        ];
        self.send("query_range", promql, &params).await
    }

    async fn query(&self, promql: &str, at: Option<Timestamp>) -> Result<Vec<Series>> {
        let mut params = vec![("query", promql.to_owned())];
        if let Some(at) = at {
            params.push(("time", format_time(at)));
        }
        self.send("query", promql, &params).await
    }

    async fn send(
        &self,
        endpoint: &str,
        promql: &str,
        params: &[(&str, String)],
    ) -> Result<Vec<Series>> {
        let fail = |reason: String| Error::Prometheus {
            url: self.base.clone(),
            query: promql.to_owned(),
            reason,
        };
        // POST keeps long queries out of URL length limits; the API accepts both.
        let mut request = self
            .client
            .post(format!("{}/api/v1/{endpoint}", self.base))
            .timeout(self.timeout)
            .form(params);
        if let Some(token) = &self.bearer_token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|e| fail(error_chain(&e)))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| fail(error_chain(&e)))?;
        let decoded = decode(&body).map_err(|reason| {
            if status.is_success() {
                fail(reason)
            } else {
                // Not the API's JSON: a proxy, a wrong path. Show the status and the start of the body.
                let text: String = String::from_utf8_lossy(&body).chars().take(200).collect();
                fail(format!("HTTP {status}: {}", text.trim()))
            }
        })?;
        match decoded {
            Decoded::Series(series, warnings) => {
                for warning in warnings {
                    tracing::warn!(url = %self.base, query = promql, warning = %warning, "prometheus warning");
                }
                Ok(series)
            }
            Decoded::Error(reason) => Err(fail(reason)),
        }
    }
}

#[async_trait]
impl MetricsSource for PrometheusMetrics {
    async fn pod_usage(&self, namespace: &str, selector: &str) -> Result<Vec<PodUsage>> {
        let (cpu_query, memory_query) = pod_usage_queries(namespace, selector, self.usage_window)?;
        let at = self.now();
        let (cpu, memory) =
            futures::future::try_join(self.query(&cpu_query, at), self.query(&memory_query, at))
                .await?;
        let mut pods: BTreeMap<String, BTreeMap<String, (Option<f64>, Option<f64>)>> =
            BTreeMap::new();
        let mut timestamp = at;
        for (series, is_cpu) in cpu
            .iter()
            .map(|s| (s, true))
            .chain(memory.iter().map(|s| (s, false)))
        {
            let (Some(pod), Some(container), Some(sample)) = (
                series.labels.get("pod"),
                series.labels.get("container"),
                series.samples.last(),
            ) else {
                continue;
            };
            timestamp.get_or_insert(sample.timestamp);
            let entry = pods
                .entry(pod.clone())
                .or_default()
                .entry(container.clone())
                .or_default();
            if is_cpu {
                entry.0 = Some(sample.value);
            } else {
                entry.1 = Some(sample.value);
            }
        }
        let Some(timestamp) = timestamp else {
            return Ok(Vec::new());
        };
        Ok(pods
            .into_iter()
            .filter_map(|(name, containers)| {
                // Like metrics-server, a container is reported only when both figures are known.
                let containers: Vec<ContainerUsage> = containers
                    .into_iter()
                    .filter_map(|(name, values)| match values {
                        (Some(cpu_cores), Some(memory_bytes)) => Some(ContainerUsage {
                            name,
                            cpu_cores,
                            memory_bytes,
                        }),
                        _ => None,
                    })
                    .collect();
                (!containers.is_empty()).then(|| PodUsage {
                    namespace: namespace.to_owned(),
                    name,
                    timestamp,
                    window: self.usage_window,
                    containers,
                })
            })
            .collect())
    }

    async fn pods_metric(
        &self,
        namespace: &str,
        selector: &str,
        metric: &MetricId,
    ) -> Result<Vec<ObjectValue>> {
        let (query, exists_query) = pods_metric_queries(namespace, selector, metric)?;
        let at = self.now();
        let result = self.query(&query, at).await?;
        let mut out: Vec<ObjectValue> = result
            .into_iter()
            .filter_map(|s| {
                let pod = s.labels.get("pod")?.clone();
                let sample = *s.samples.last()?;
                Some(ObjectValue { name: pod, sample })
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        if out.is_empty() && self.query(&exists_query, at).await?.is_empty() {
            return Err(Error::MetricUnavailable {
                metric: metric.name.clone(),
                object: format!("pods in namespace {namespace}"),
                reason: format!("no series matches {exists_query}"),
            });
        }
        Ok(out)
    }

    async fn object_metric(
        &self,
        namespace: &str,
        kind: &str,
        name: &str,
        metric: &MetricId,
    ) -> Result<Sample> {
        let query = object_metric_query(namespace, kind, name, metric)?;
        let result = self.instant_query(&query).await?;
        result
            .first()
            .and_then(|s| s.samples.last().copied())
            .ok_or_else(|| Error::MetricUnavailable {
                metric: metric.name.clone(),
                object: crate::error::object_key(Some(namespace), &format!("{kind}/{name}")),
                reason: format!("no series matches {query}"),
            })
    }

    async fn external_metric(&self, namespace: &str, metric: &MetricId) -> Result<Vec<Sample>> {
        let query = external_metric_query(namespace, metric)?;
        let result = self.instant_query(&query).await?;
        let out: Vec<Sample> = result
            .iter()
            .filter_map(|s| s.samples.last().copied())
            .collect();
        if out.is_empty() {
            return Err(Error::MetricUnavailable {
                metric: metric.name.clone(),
                object: if namespace.is_empty() {
                    "the cluster".to_owned()
                } else {
                    format!("namespace {namespace}")
                },
                reason: format!("no series matches {query}"),
            });
        }
        Ok(out)
    }

    async fn range(&self, query: &RangeQuery) -> Result<Vec<Series>> {
        validate_range(query)?;
        let promql = range_expr(query)?;
        self.range_query(&promql, query.start, query.end, query.step)
            .await
    }
}

/// A timestamp as the API's decimal seconds with millisecond precision.
fn format_time(t: Timestamp) -> String {
    let ms = t.as_millisecond();
    let sign = if ms < 0 { "-" } else { "" };
    let abs = ms.unsigned_abs();
    format!("{sign}{}.{:03}", abs / 1000, abs % 1000)
}

/// An error and its sources, `: `-separated (reqwest's own message leaves out the cause).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// The API's answer.
#[derive(Debug, Deserialize)]
struct ApiResponse {
    status: String,
    #[serde(default)]
    data: Option<ApiData>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    warnings: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
enum ApiData {
    Vector(Vec<ApiVectorItem>),
    Matrix(Vec<ApiMatrixItem>),
    Scalar(ApiPoint),
    String(serde::de::IgnoredAny),
}

#[derive(Debug, Deserialize)]
struct ApiVectorItem {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    /// Absent for a native-histogram sample (`histogram` instead).
    #[serde(default)]
    value: Option<ApiPoint>,
}

#[derive(Debug, Deserialize)]
struct ApiMatrixItem {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<ApiPoint>,
}

/// `[<unix seconds>, "<value>"]`.
#[derive(Debug, Deserialize)]
struct ApiPoint(f64, String);

/// A decoded answer: series and warnings, or the API's error.
#[derive(Debug, PartialEq)]
enum Decoded {
    Series(Vec<Series>, Vec<String>),
    Error(String),
}

/// Decodes a response body of `/api/v1/query` or `/api/v1/query_range`.
fn decode(body: &[u8]) -> std::result::Result<Decoded, String> {
    let response: ApiResponse = serde_json::from_slice(body)
        .map_err(|e| format!("response is not Prometheus API JSON: {e}"))?;
    if response.status != "success" {
        return Ok(Decoded::Error(format!(
            "{}: {}",
            response.error_type.as_deref().unwrap_or("error"),
            response.error.as_deref().unwrap_or("no error message")
        )));
    }
    let data = response.data.ok_or("a successful response without data")?;
    let mut series = match data {
        ApiData::Vector(items) => items
            .into_iter()
            .filter_map(|item| {
                let point = item.value?;
                Some(point.to_sample().map(|sample| Series {
                    labels: item.metric,
                    samples: vec![sample],
                }))
            })
            .collect::<std::result::Result<Vec<_>, _>>()?,
        ApiData::Matrix(items) => items
            .into_iter()
            .filter(|item| !item.values.is_empty())
            .map(|item| {
                let samples = item
                    .values
                    .iter()
                    .map(ApiPoint::to_sample)
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                Ok(Series {
                    labels: item.metric,
                    samples,
                })
            })
            .collect::<std::result::Result<Vec<_>, String>>()?,
        ApiData::Scalar(point) => vec![Series {
            labels: BTreeMap::new(),
            samples: vec![point.to_sample()?],
        }],
        ApiData::String(_) => return Err("the query returns a string, not numbers".to_owned()),
    };
    series.sort_by(|a, b| a.labels.cmp(&b.labels));
    Ok(Decoded::Series(series, response.warnings))
}

impl ApiPoint {
    fn to_sample(&self) -> std::result::Result<Sample, String> {
        let ApiPoint(secs, value) = self;
        let timestamp = SignedDuration::try_from_secs_f64(*secs)
            .ok()
            .and_then(|d| Timestamp::UNIX_EPOCH.checked_add(d).ok())
            .and_then(|t| t.round(jiff::Unit::Millisecond).ok())
            .ok_or_else(|| format!("timestamp {secs} out of range"))?;
        // Rust parses Prometheus' `NaN`, `+Inf` and `-Inf` as well as ordinary numbers.
        let value = value
            .parse::<f64>()
            .map_err(|_| format!("sample value {value:?} is not a number"))?;
        Ok(Sample { timestamp, value })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn ts_ms(ms: i64) -> Timestamp {
        Timestamp::from_millisecond(ms).unwrap()
    }

    fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> Series {
        Series {
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            samples: samples
                .iter()
                .map(|&(ms, value)| Sample {
                    timestamp: ts_ms(ms),
                    value,
                })
                .collect(),
        }
    }

    fn check(body: &str, expected: std::result::Result<Decoded, &str>) {
        let got = decode(body.as_bytes());
        match (got, expected) {
            (Ok(got), Ok(expected)) => assert_eq!(got, expected, "{body}"),
            (Err(got), Err(expected)) => assert!(
                got.contains(expected),
                "{got:?} should contain {expected:?}"
            ),
            (got, expected) => panic!("{body}: got {got:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn decodes_vectors_sorted_by_labels() {
        check(
            r#"{"status":"success","data":{"resultType":"vector","result":[
                {"metric":{"pod":"b"},"value":[1735689620,"3"]},
                {"metric":{"__name__":"x","pod":"a"},"value":[1735689620.5,"16.25"]},
                {"metric":{"pod":"h"},"histogram":[1735689620,{"count":"1","sum":"1"}]}]}}"#,
            Ok(Decoded::Series(
                vec![
                    series(
                        &[("__name__", "x"), ("pod", "a")],
                        &[(1_735_689_620_500, 16.25)],
                    ),
                    series(&[("pod", "b")], &[(1_735_689_620_000, 3.0)]),
                ],
                Vec::new(),
            )),
        );
    }

    #[test]
    fn decodes_matrices_and_warnings() {
        check(
            r#"{"status":"success","warnings":["w1"],"data":{"resultType":"matrix","result":[
                {"metric":{"q":"a"},"values":[[1.001,"1"],[2.002,"2"]]},
                {"metric":{"q":"empty"},"values":[]}]}}"#,
            Ok(Decoded::Series(
                vec![series(&[("q", "a")], &[(1001, 1.0), (2002, 2.0)])],
                vec!["w1".to_owned()],
            )),
        );
    }

    #[test]
    fn decodes_scalars_and_special_values() {
        let body = |v: &str| {
            format!(
                r#"{{"status":"success","data":{{"resultType":"scalar","result":[12.5,"{v}"]}}}}"#
            )
        };
        for (text, check_value) in [
            (
                "+Inf",
                (|v: f64| v.is_infinite() && v > 0.0) as fn(f64) -> bool,
            ),
            ("-Inf", |v: f64| v.is_infinite() && v < 0.0),
            ("NaN", f64::is_nan),
            ("1e3", |v: f64| (v - 1000.0).abs() < 1e-9),
        ] {
            let Ok(Decoded::Series(s, _)) = decode(body(text).as_bytes()) else {
                panic!("{text}");
            };
            assert_eq!(s.len(), 1);
            assert!(s[0].labels.is_empty());
            assert_eq!(s[0].samples[0].timestamp, ts_ms(12_500));
            assert!(check_value(s[0].samples[0].value), "{text}");
        }
        check(&body("many"), Err("\"many\" is not a number"));
    }

    #[test]
    fn decodes_errors() {
        check(
            r#"{"status":"error","errorType":"bad_data","error":"1:5: parse error: unclosed left parenthesis"}"#,
            Ok(Decoded::Error(
                "bad_data: 1:5: parse error: unclosed left parenthesis".to_owned(),
            )),
        );
        check(
            r#"{"status":"success","data":{"resultType":"string","result":[1,"x"]}}"#,
            Err("string"),
        );
        check(
            "<html>502 Bad Gateway</html>",
            Err("not Prometheus API JSON"),
        );
        check(r#"{"status":"success"}"#, Err("without data"));
    }

    #[test]
    fn formats_times() {
        assert_eq!(format_time(ts_ms(-1500)), "-1.500");
        assert_eq!(format_time(ts_ms(1_735_689_620_005)), "1735689620.005");
    }

    #[test]
    fn rejects_bad_urls() {
        assert!(PrometheusMetrics::new("not a url").is_err());
        assert!(PrometheusMetrics::new("ftp://example.org").is_err());
        let p = PrometheusMetrics::new("http://127.0.0.1:9090/")
            .unwrap()
            .with_bearer_token("secret");
        assert_eq!(p.url(), "http://127.0.0.1:9090");
        assert!(!format!("{p:?}").contains("secret"));
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_bodies_never_panics(body in any::<Vec<u8>>()) {
            let _ = decode(&body);
        }

        #[test]
        fn decoding_arbitrary_points_never_panics(t in any::<f64>(), v in any::<String>()) {
            let body = serde_json::json!({"status": "success", "data": {"resultType": "scalar", "result": [t, v]}});
            let _ = decode(body.to_string().as_bytes());
        }
    }
}
