//! Prometheus rules (`type: prometheus`, spec §2.6): a PromQL query, an optional threshold and `for` window, and
//! the resource each breach is reported on.
//!
//! Evaluation is split like every ksx engine: [`evaluate_rules`] asks a [`PromQuery`] (the metrics seam; the
//! Prometheus HTTP API behind feature `prometheus`, [`StaticQueries`] in memory) for an instant query at the
//! run's time (with `for`: a range query over the window, step window/10), then [`observe`] turns the returned
//! series into [`Observation`]s on the rule, one test per series. Query errors and NaN samples come back as run
//! diagnostics (`kind: runtime`, so the run's status is `partial`), never silently dropped.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use jiff::Timestamp;
use ksx_core::metrics::Series;
use serde_json::{Map, Value};

use super::template::Template;
use super::{Observation, Rule, RuleKind};
use crate::checks::Hit;
use crate::model::{ErrorKind, Resource, RunError};

/// The query timeout when a rule sets none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A threshold comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `==`
    Eq,
    /// `!=`
    Ne,
}

impl CmpOp {
    const ALL: [(&'static str, Self); 6] = [
        (">", Self::Gt),
        (">=", Self::Ge),
        ("<", Self::Lt),
        ("<=", Self::Le),
        ("==", Self::Eq),
        ("!=", Self::Ne),
    ];

    /// Parses `> >= < <= == !=`.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(t, _)| *t == text)
            .map(|(_, op)| *op)
    }

    /// The operator's text.
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, op)| *op == self)
            .map_or("", |(t, _)| t)
    }

    /// Whether `actual <op> threshold` holds (NaN never breaches).
    pub fn holds(self, actual: f64, threshold: f64) -> bool {
        match self {
            Self::Gt => actual > threshold,
            Self::Ge => actual >= threshold,
            Self::Lt => actual < threshold,
            Self::Le => actual <= threshold,
            Self::Eq => actual.partial_cmp(&threshold) == Some(std::cmp::Ordering::Equal),
            Self::Ne => {
                !actual.is_nan()
                    && actual.partial_cmp(&threshold) != Some(std::cmp::Ordering::Equal)
            }
        }
    }
}

/// `prometheus.threshold`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold {
    /// The comparison.
    pub op: CmpOp,
    /// The value compared with.
    pub value: f64,
}

/// `prometheus.resource`: where breaches are reported.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceTemplate {
    /// The kind (`Node`, `Pod`, …).
    pub kind: String,
    /// The name, a template over `labels` and `value`.
    pub name: Template,
    /// The namespace, a template (default: the `namespace` label for namespaced kinds).
    pub namespace: Option<Template>,
}

/// The `prometheus` part of a rule.
#[derive(Debug, Clone, PartialEq)]
pub struct PromRule {
    /// The server; `None` = the run's default.
    pub endpoint: Option<String>,
    /// The PromQL query.
    pub query: String,
    /// Without a threshold every returned sample is a finding.
    pub threshold: Option<Threshold>,
    /// `for`: every point of the window must breach.
    pub for_window: Option<Duration>,
    /// Where findings go; `None` = Pod, else Node, else `Metric/<rule id>` from the labels.
    pub resource: Option<ResourceTemplate>,
    /// The query timeout.
    pub timeout: Duration,
}

/// Parses a Prometheus-style duration: `30s`, `10m`, `1h30m`, `500ms`, `2d`, `1w`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let mut total: u128 = 0;
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let n: u128 = rest.get(..digits)?.parse().ok()?;
        rest = rest.get(digits..)?;
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = rest.get(..unit_len)?;
        rest = rest.get(unit_len..)?;
        let ms: u128 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            "y" => 31_536_000_000,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(ms)?)?;
    }
    u64::try_from(total).ok().map(Duration::from_millis)
}

const PROM_KEYS: &[&str] = &[
    "endpoint",
    "query",
    "threshold",
    "for",
    "resource",
    "timeout",
];

/// The error sink of the loader: field keys (for the position), the value to point at, the problem.
pub(crate) type ErrSink<'a> = dyn FnMut(&[&str], Option<&str>, String) + 'a;

fn shown(v: &Value) -> String {
    crate::pod::scalar_string(v).unwrap_or_else(|| v.to_string())
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

fn template(err: &mut ErrSink<'_>, keys: &[&str], v: &Value, field: &str) -> Option<Template> {
    let Some(text) = v.as_str() else {
        err(keys, None, format!("field \"{field}\" must be a string"));
        return None;
    };
    match Template::parse(text, field) {
        Ok(t) => Some(t),
        Err(p) => {
            err(keys, None, p);
            None
        }
    }
}

fn duration_field(err: &mut ErrSink<'_>, spec: &Map<String, Value>, key: &str) -> Option<Duration> {
    let v = spec.get(key)?;
    let text = shown(v);
    match parse_duration(&text).filter(|d| !d.is_zero()) {
        Some(d) => Some(d),
        None => {
            err(
                &["spec", "prometheus", key],
                None,
                format!(
                    "invalid duration \"{text}\" for spec.prometheus.{key} (examples: 30s, 10m, 1h)"
                ),
            );
            None
        }
    }
}

/// Parses `spec.prometheus`; problems go to `err` in the loader's wording.
pub(crate) fn parse(spec: &Map<String, Value>, err: &mut ErrSink<'_>) -> Option<PromRule> {
    for key in ["match", "forEach", "when", "expect", "node", "nodeSelector"] {
        if spec.contains_key(key) {
            err(
                &["spec", key],
                None,
                format!("field \"spec.{key}\" is not allowed in a rule of type prometheus"),
            );
        }
    }
    let Some(p) = spec.get("prometheus") else {
        err(
            &["spec"],
            None,
            "missing required field \"spec.prometheus\"".to_owned(),
        );
        return None;
    };
    let Some(p) = p.as_object() else {
        err(
            &["spec", "prometheus"],
            None,
            "field \"spec.prometheus\" must be a mapping".to_owned(),
        );
        return None;
    };
    let mut ok = true;
    for key in p.keys() {
        if !PROM_KEYS.contains(&key.as_str()) {
            let problem =
                super::load::unknown_field(&format!("spec.prometheus.{key}"), key, PROM_KEYS);
            err(&["spec", "prometheus", key], None, problem);
            ok = false;
        }
    }
    let query = match p.get("query") {
        Some(Value::String(q)) if !q.trim().is_empty() => q.clone(),
        Some(Value::String(_)) | None => {
            err(
                &["spec", "prometheus"],
                None,
                "missing required field \"spec.prometheus.query\"".to_owned(),
            );
            ok = false;
            String::new()
        }
        Some(_) => {
            err(
                &["spec", "prometheus", "query"],
                None,
                "field \"spec.prometheus.query\" must be a string".to_owned(),
            );
            ok = false;
            String::new()
        }
    };
    let threshold = match p.get("threshold") {
        None => None,
        Some(Value::Object(t)) => {
            for key in t.keys() {
                if key != "op" && key != "value" {
                    let problem = super::load::unknown_field(
                        &format!("spec.prometheus.threshold.{key}"),
                        key,
                        &["op", "value"],
                    );
                    err(&["spec", "prometheus", "threshold", key], None, problem);
                    ok = false;
                }
            }
            let op = match t.get("op") {
                None => {
                    err(
                        &["spec", "prometheus", "threshold"],
                        None,
                        "missing required field \"spec.prometheus.threshold.op\"".to_owned(),
                    );
                    None
                }
                Some(v) => {
                    let op = v.as_str().and_then(CmpOp::parse);
                    if op.is_none() {
                        err(
                            &["spec", "prometheus", "threshold", "op"],
                            None,
                            format!(
                                "field \"spec.prometheus.threshold.op\" must be one of >, >=, <, <=, ==, !=; got \"{}\"",
                                shown(v)
                            ),
                        );
                    }
                    op
                }
            };
            let value = match t.get("value") {
                None => {
                    err(
                        &["spec", "prometheus", "threshold"],
                        None,
                        "missing required field \"spec.prometheus.threshold.value\"".to_owned(),
                    );
                    None
                }
                Some(v) => {
                    let n = number(v);
                    if n.is_none() {
                        err(
                            &["spec", "prometheus", "threshold", "value"],
                            None,
                            format!(
                                "field \"spec.prometheus.threshold.value\" must be a number; got \"{}\"",
                                shown(v)
                            ),
                        );
                    }
                    n
                }
            };
            match (op, value) {
                (Some(op), Some(value)) => Some(Threshold { op, value }),
                _ => {
                    ok = false;
                    None
                }
            }
        }
        Some(_) => {
            err(
                &["spec", "prometheus", "threshold"],
                None,
                "field \"spec.prometheus.threshold\" must be a mapping {op, value}".to_owned(),
            );
            ok = false;
            None
        }
    };
    let for_window = duration_field(err, p, "for");
    ok &= p.get("for").is_none() || for_window.is_some();
    let timeout = duration_field(err, p, "timeout");
    ok &= p.get("timeout").is_none() || timeout.is_some();
    let endpoint = match p.get("endpoint") {
        None => None,
        Some(Value::String(e)) if e.starts_with("http://") || e.starts_with("https://") => {
            Some(e.trim_end_matches('/').to_owned())
        }
        Some(v) => {
            err(
                &["spec", "prometheus", "endpoint"],
                None,
                format!(
                    "field \"spec.prometheus.endpoint\" must be an http or https URL; got \"{}\"",
                    shown(v)
                ),
            );
            ok = false;
            None
        }
    };
    let resource = match p.get("resource") {
        None => None,
        Some(Value::Object(r)) => {
            for key in r.keys() {
                if !["kind", "name", "namespace"].contains(&key.as_str()) {
                    let problem = super::load::unknown_field(
                        &format!("spec.prometheus.resource.{key}"),
                        key,
                        &["kind", "name", "namespace"],
                    );
                    err(&["spec", "prometheus", "resource", key], None, problem);
                    ok = false;
                }
            }
            let kind = r
                .get("kind")
                .and_then(Value::as_str)
                .filter(|k| !k.is_empty());
            if kind.is_none() {
                err(
                    &["spec", "prometheus", "resource"],
                    None,
                    "missing required field \"spec.prometheus.resource.kind\"".to_owned(),
                );
            }
            let name = match r.get("name") {
                None => {
                    err(
                        &["spec", "prometheus", "resource"],
                        None,
                        "missing required field \"spec.prometheus.resource.name\"".to_owned(),
                    );
                    None
                }
                Some(v) => template(
                    err,
                    &["spec", "prometheus", "resource", "name"],
                    v,
                    "spec.prometheus.resource.name",
                ),
            };
            let namespace = r.get("namespace").map(|v| {
                template(
                    err,
                    &["spec", "prometheus", "resource", "namespace"],
                    v,
                    "spec.prometheus.resource.namespace",
                )
            });
            match (kind, name, namespace) {
                (Some(kind), Some(name), None) => Some(ResourceTemplate {
                    kind: kind.to_owned(),
                    name,
                    namespace: None,
                }),
                (Some(kind), Some(name), Some(Some(ns))) => Some(ResourceTemplate {
                    kind: kind.to_owned(),
                    name,
                    namespace: Some(ns),
                }),
                _ => {
                    ok = false;
                    None
                }
            }
        }
        Some(_) => {
            err(
                &["spec", "prometheus", "resource"],
                None,
                "field \"spec.prometheus.resource\" must be a mapping {kind, name}".to_owned(),
            );
            ok = false;
            None
        }
    };
    ok.then(|| PromRule {
        endpoint,
        query,
        threshold,
        for_window,
        resource,
        timeout: timeout.unwrap_or(DEFAULT_TIMEOUT),
    })
}

/// The metrics seam as Prometheus rules need it: PromQL instant and range queries.
pub trait PromQuery: Sync {
    /// An instant query evaluated at `at`: one series per vector element (one sample each), a scalar as one
    /// series without labels. `endpoint` is the rule's own server, `None` for the default.
    ///
    /// # Errors
    /// The reason the query failed (transport, timeout, PromQL error, no server configured).
    fn instant(
        &self,
        endpoint: Option<&str>,
        query: &str,
        at: Timestamp,
        timeout: Duration,
    ) -> impl Future<Output = Result<Vec<Series>, String>> + Send;

    /// A range query from `start` to `end` (inclusive) every `step`.
    ///
    /// # Errors
    /// As [`PromQuery::instant`].
    fn range(
        &self,
        endpoint: Option<&str>,
        query: &str,
        start: Timestamp,
        end: Timestamp,
        step: Duration,
        timeout: Duration,
    ) -> impl Future<Output = Result<Vec<Series>, String>> + Send;
}

/// In-memory answers keyed by query text (the test double and the embedded default): the same series for
/// instant and range queries; an unknown query is an error naming it.
#[derive(Debug, Clone, Default)]
pub struct StaticQueries {
    /// Query text → answer.
    pub answers: BTreeMap<String, Vec<Series>>,
}

impl PromQuery for StaticQueries {
    async fn instant(
        &self,
        _endpoint: Option<&str>,
        query: &str,
        _at: Timestamp,
        _timeout: Duration,
    ) -> Result<Vec<Series>, String> {
        self.answers
            .get(query)
            .cloned()
            .ok_or_else(|| format!("no answer recorded for query {query:?}"))
    }

    async fn range(
        &self,
        endpoint: Option<&str>,
        query: &str,
        start: Timestamp,
        _end: Timestamp,
        _step: Duration,
        timeout: Duration,
    ) -> Result<Vec<Series>, String> {
        self.instant(endpoint, query, start, timeout).await
    }
}

/// Queries a Prometheus server (or one named by a rule's `endpoint`) over its HTTP API.
#[cfg(feature = "prometheus")]
#[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
#[derive(Debug, Clone, Default)]
pub struct PrometheusQueries {
    /// The default server, for rules without `endpoint`.
    pub default_url: Option<String>,
    /// A bearer token sent to every server.
    pub bearer_token: Option<String>,
}

#[cfg(feature = "prometheus")]
impl PrometheusQueries {
    /// Queries `url` by default.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            default_url: Some(url.into()),
            bearer_token: None,
        }
    }

    fn client(
        &self,
        endpoint: Option<&str>,
        timeout: Duration,
    ) -> Result<ksx_core::metrics::prometheus::PrometheusMetrics, String> {
        let url = endpoint.or(self.default_url.as_deref()).ok_or_else(|| {
            "no Prometheus endpoint: the rule sets none and no default was given".to_owned()
        })?;
        let mut client = ksx_core::metrics::prometheus::PrometheusMetrics::new(url)
            .map_err(|e| e.to_string())?
            .with_timeout(timeout);
        if let Some(t) = &self.bearer_token {
            client = client.with_bearer_token(t.clone());
        }
        Ok(client)
    }
}

#[cfg(feature = "prometheus")]
impl PromQuery for PrometheusQueries {
    async fn instant(
        &self,
        endpoint: Option<&str>,
        query: &str,
        at: Timestamp,
        timeout: Duration,
    ) -> Result<Vec<Series>, String> {
        let client = self.client(endpoint, timeout)?;
        client
            .instant_query_at(query, at)
            .await
            .map_err(|e| e.to_string())
    }

    async fn range(
        &self,
        endpoint: Option<&str>,
        query: &str,
        start: Timestamp,
        end: Timestamp,
        step: Duration,
        timeout: Duration,
    ) -> Result<Vec<Series>, String> {
        let client = self.client(endpoint, timeout)?;
        client
            .range_query(query, start, end, step)
            .await
            .map_err(|e| e.to_string())
    }
}

fn runtime_error(rule: &Rule, message: &str) -> RunError {
    RunError {
        kind: ErrorKind::Runtime,
        message: format!("rule \"{}\": {message}", rule.id),
        file: Some(rule.file.clone()),
        document: None,
        line: None,
        column: None,
    }
}

/// Runs the query of every Prometheus rule at `now` and attaches the results to the rules (replacing earlier
/// ones); returns the run diagnostics (failed queries, NaN values) to add to the bundle's errors.
pub async fn evaluate_rules<Q: PromQuery>(
    rules: &mut [Rule],
    source: &Q,
    now: Timestamp,
) -> Vec<RunError> {
    let mut errors = Vec::new();
    for rule in rules.iter_mut() {
        let RuleKind::Prometheus(p) = &rule.kind else {
            continue;
        };
        let p = p.as_ref().clone();
        let answer = match p.for_window {
            None => {
                source
                    .instant(p.endpoint.as_deref(), &p.query, now, p.timeout)
                    .await
            }
            Some(window) => {
                let start = jiff::SignedDuration::try_from(window)
                    .ok()
                    .and_then(|d| now.checked_sub(d).ok())
                    .unwrap_or(now);
                let step = (window / 10).max(Duration::from_secs(1));
                source
                    .range(p.endpoint.as_deref(), &p.query, start, now, step, p.timeout)
                    .await
            }
        };
        match answer {
            Ok(series) => {
                let (observations, problems) = observe(rule, &p, &series);
                rule.observations = observations;
                errors.extend(problems.iter().map(|m| runtime_error(rule, m)));
            }
            Err(e) => {
                rule.observations = Vec::new();
                errors.push(runtime_error(rule, &format!("query failed: {e}")));
            }
        }
    }
    errors
}

fn label_text(labels: &BTreeMap<String, String>) -> String {
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

/// A sample value for templates: integral values as integers (`3`, not `3.0`).
fn json_number(v: f64) -> Value {
    if v.is_finite()
        && v.fract() == 0.0
        && v.abs() < 9.0e15
        && let Ok(i) = format!("{v:.0}").parse::<i64>()
    {
        return Value::from(i);
    }
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

/// Where a series' finding goes: the rendered `resource`, else Pod from `namespace`/`pod`, else Node from
/// `node`/`instance` (a `:port` suffix of `instance` dropped), else `Metric/<rule id>`.
fn resource_of(
    rule: &Rule,
    p: &PromRule,
    labels: &BTreeMap<String, String>,
    value: f64,
) -> Resource {
    let metric = || Resource {
        api_version: "inspect.ksx.io/v1".to_owned(),
        kind: "Metric".to_owned(),
        namespace: None,
        name: rule.id.clone(),
    };
    if let Some(r) = &p.resource {
        let vars = BTreeMap::from([
            (
                "labels",
                serde_json::to_value(labels).unwrap_or(Value::Null),
            ),
            ("value", json_number(value)),
        ]);
        let name = r.name.render(&vars);
        if name.is_empty() {
            return metric();
        }
        let namespace = if crate::bundle::is_cluster_scoped(&r.kind) {
            None
        } else {
            match &r.namespace {
                Some(t) => Some(t.render(&vars)).filter(|n| !n.is_empty()),
                None => labels.get("namespace").cloned(),
            }
            .or_else(|| Some("default".to_owned()))
        };
        let api_version = match r.kind.as_str() {
            "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" => "apps/v1",
            "Job" | "CronJob" => "batch/v1",
            _ => "v1",
        };
        return Resource {
            api_version: api_version.to_owned(),
            kind: r.kind.clone(),
            namespace,
            name,
        };
    }
    if let (Some(ns), Some(pod)) = (labels.get("namespace"), labels.get("pod")) {
        return Resource {
            api_version: "v1".to_owned(),
            kind: "Pod".to_owned(),
            namespace: Some(ns.clone()),
            name: pod.clone(),
        };
    }
    let node = labels.get("node").cloned().or_else(|| {
        labels.get("instance").map(|i| match i.rsplit_once(':') {
            Some((host, port)) if !port.is_empty() && port.chars().all(|c| c.is_ascii_digit()) => {
                host.trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_owned()
            }
            _ => i.clone(),
        })
    });
    match node {
        Some(n) if !n.is_empty() => Resource {
            api_version: "v1".to_owned(),
            kind: "Node".to_owned(),
            namespace: None,
            name: n,
        },
        _ => metric(),
    }
}

/// Turns a query's answer into one observation per series (a test; a finding when it breaches) and the
/// problems to report (NaN values). Pure.
pub fn observe(rule: &Rule, p: &PromRule, series: &[Series]) -> (Vec<Observation>, Vec<String>) {
    let mut observations = Vec::new();
    let mut problems = Vec::new();
    for s in series {
        let values: Vec<f64> = s.samples.iter().map(|x| x.value).collect();
        let Some(&last) = values.last() else {
            continue;
        };
        if values.iter().any(|v| v.is_nan()) {
            problems.push(format!("query returned NaN for {}", label_text(&s.labels)));
            continue;
        }
        let breached = p
            .threshold
            .is_none_or(|t| values.iter().all(|&v| t.op.holds(v, t.value)));
        let resource = resource_of(rule, p, &s.labels, last);
        let mut hits = Vec::new();
        if breached {
            let mut vars = BTreeMap::from([
                (
                    "labels",
                    serde_json::to_value(&s.labels).unwrap_or(Value::Null),
                ),
                ("value", json_number(last)),
                ("kind", Value::String(resource.kind.clone())),
                ("name", Value::String(resource.name.clone())),
                (
                    "namespace",
                    Value::String(resource.namespace.clone().unwrap_or_default()),
                ),
            ]);
            if resource.kind == "Node" {
                vars.insert("node", Value::String(resource.name.clone()));
            }
            let message = match &rule.message {
                Some(t) => t.render(&vars),
                None => match p.threshold {
                    Some(t) => format!(
                        "{} {} is {last} ({} {})",
                        p.query,
                        label_text(&s.labels),
                        t.op.as_str(),
                        t.value
                    ),
                    None => format!("{} {} returned {last}", p.query, label_text(&s.labels)),
                },
            };
            // The series' labels tell several findings on one resource apart (one per mountpoint, …).
            hits.push(Hit {
                container: None,
                path: String::new(),
                fingerprint_path: label_text(&s.labels),
                message,
                severity: None,
            });
        }
        observations.push(Observation { resource, hits });
    }
    (observations, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_prometheus() {
        assert_eq!(parse_duration("10m"), Some(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5_400)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("10x"), None);
        assert_eq!(parse_duration(""), None);
    }

    #[test]
    fn operators_compare_and_nan_never_breaches() {
        assert!(CmpOp::Gt.holds(0.95, 0.9));
        assert!(!CmpOp::Gt.holds(0.9, 0.9));
        assert!(CmpOp::Ge.holds(0.9, 0.9));
        assert!(CmpOp::Ne.holds(1.0, 2.0));
        assert!(!CmpOp::Ne.holds(f64::NAN, 2.0));
        assert!(!CmpOp::Eq.holds(f64::NAN, f64::NAN));
        assert_eq!(CmpOp::parse("<="), Some(CmpOp::Le));
        assert_eq!(CmpOp::parse("=>"), None);
    }
}
