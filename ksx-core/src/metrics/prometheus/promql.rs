//! PromQL text for the Prometheus adapter: series selectors with escaped values, label-selector joins and the
//! queries behind each [`MetricsSource`](crate::metrics::MetricsSource) method.

use std::time::Duration;

use crate::cluster::selector::{LabelSelector, Operator, Requirement};
use crate::error::{Error, Result};
use crate::metrics::{
    ExpressionOperator, MetricId, RangeFunction, RangeQuery, kube_state_metrics_label, object_label,
};

/// The `and on (pod) kube_pod_labels{…}` suffix that applies a pod selector, or nothing for an empty one.
fn pod_join(namespace: &str, selector: &str) -> Result<String> {
    let selector = LabelSelector::parse(selector)?;
    if selector.is_empty() {
        return Ok(String::new());
    }
    let mut matchers = vec![Matcher::eq("namespace", namespace)];
    for r in selector.requirements() {
        matchers.push(requirement_matcher(r));
    }
    Ok(format!(
        " and on (pod) {}",
        selector_expr("kube_pod_labels", &matchers)?
    ))
}

/// A label matcher of a series selector.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Matcher {
    name: String,
    op: &'static str,
    value: String,
}

impl Matcher {
    fn eq(name: &str, value: &str) -> Self {
        Self {
            name: name.to_owned(),
            op: "=",
            value: value.to_owned(),
        }
    }

    fn new(name: &str, op: &'static str, value: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            op,
            value: value.into(),
        }
    }
}

fn requirement_matcher(r: &Requirement) -> Matcher {
    let label = kube_state_metrics_label(r.key());
    let alternatives = || {
        r.values()
            .iter()
            .map(|v| regex_quote(v))
            .collect::<Vec<_>>()
            .join("|")
    };
    let first = || r.values().first().cloned().unwrap_or_default();
    match r.operator() {
        Operator::Equals => Matcher::new(&label, "=", first()),
        Operator::NotEquals => Matcher::new(&label, "!=", first()),
        Operator::In => Matcher::new(&label, "=~", alternatives()),
        Operator::NotIn => Matcher::new(&label, "!~", alternatives()),
        Operator::Exists => Matcher::new(&label, "!=", ""),
        Operator::DoesNotExist => Matcher::new(&label, "=", ""),
    }
}

/// `{__name__="name",a="b",…}` with every value escaped.
///
/// # Errors
/// [`Error::InvalidSelector`] for a label name Prometheus does not accept.
fn selector_expr(name: &str, matchers: &[Matcher]) -> Result<String> {
    let mut parts = vec![format!("__name__={}", quote(name))];
    for m in matchers {
        if !is_label_name(&m.name) {
            return Err(Error::InvalidSelector {
                selector: format!("{name}{{{}}}", m.name),
                reason: format!("{:?} is not a valid Prometheus label name", m.name),
            });
        }
        parts.push(format!("{}{}{}", m.name, m.op, quote(&m.value)));
    }
    Ok(format!("{{{}}}", parts.join(",")))
}

/// The metric's own selector as matchers: exact labels, then each expression on the raw label name (metric
/// labels are the series' own, unlike pod labels, which go through kube-state-metrics' sanitized names).
fn metric_matchers(metric: &MetricId) -> Vec<Matcher> {
    let exact = metric.labels.iter().map(|(k, v)| Matcher::eq(k, v));
    let expressions = metric.expressions.iter().map(|e| {
        let alternatives = || {
            e.values
                .iter()
                .map(|v| regex_quote(v))
                .collect::<Vec<_>>()
                .join("|")
        };
        match e.operator {
            // An empty alternation would match the empty value, that is an absent label: `In ()` matches nothing.
            ExpressionOperator::In if e.values.is_empty() => Matcher::new(&e.key, "=~", ".+^"),
            ExpressionOperator::In => Matcher::new(&e.key, "=~", alternatives()),
            ExpressionOperator::NotIn if e.values.is_empty() => Matcher::new(&e.key, "=~", ".*"),
            ExpressionOperator::NotIn => Matcher::new(&e.key, "!~", alternatives()),
            ExpressionOperator::Exists => Matcher::new(&e.key, "!=", ""),
            ExpressionOperator::DoesNotExist => Matcher::new(&e.key, "=", ""),
        }
    });
    exact.chain(expressions).collect()
}

/// The CPU and memory queries of `pod_usage`.
pub(super) fn pod_usage_queries(
    namespace: &str,
    selector: &str,
    window: Duration,
) -> Result<(String, String)> {
    let join = pod_join(namespace, selector)?;
    let matchers = [
        Matcher::eq("namespace", namespace),
        Matcher::new("container", "!=", ""),
        Matcher::new("container", "!=", "POD"),
    ];
    let cpu = format!(
        "sum by (pod, container) (rate({}[{}])){join}",
        selector_expr("container_cpu_usage_seconds_total", &matchers)?,
        promql_duration(window)?,
    );
    let memory = format!(
        "sum by (pod, container) ({}){join}",
        selector_expr("container_memory_working_set_bytes", &matchers)?,
    );
    Ok((cpu, memory))
}

/// The query of `pods_metric` and the one that tells "no pod selected" from "no such metric".
pub(super) fn pods_metric_queries(
    namespace: &str,
    selector: &str,
    metric: &MetricId,
) -> Result<(String, String)> {
    let join = pod_join(namespace, selector)?;
    let mut matchers = vec![Matcher::eq("namespace", namespace)];
    matchers.extend(metric_matchers(metric));
    let series = selector_expr(&metric.name, &matchers)?;
    Ok((
        format!("sum by (pod) ({series}){join}"),
        format!("count({series})"),
    ))
}

/// The query of `object_metric`: the sum over the series describing the object.
pub(super) fn object_metric_query(
    namespace: &str,
    kind: &str,
    name: &str,
    metric: &MetricId,
) -> Result<String> {
    let mut matchers = Vec::new();
    if !namespace.is_empty() {
        matchers.push(Matcher::eq("namespace", namespace));
    }
    matchers.push(Matcher::eq(&object_label(kind), name));
    matchers.extend(metric_matchers(metric));
    Ok(format!("sum({})", selector_expr(&metric.name, &matchers)?))
}

/// The query of `external_metric`: every matching series.
pub(super) fn external_metric_query(namespace: &str, metric: &MetricId) -> Result<String> {
    let mut matchers = metric_matchers(metric);
    if !namespace.is_empty() {
        matchers.push(Matcher::eq("namespace", namespace));
    }
    selector_expr(&metric.name, &matchers)
}

/// The expression a `range` query evaluates at each step.
pub(super) fn range_expr(query: &RangeQuery) -> Result<String> {
    let series = selector_expr(&query.metric.name, &metric_matchers(&query.metric))?;
    Ok(match query.function {
        RangeFunction::Raw => series,
        RangeFunction::Rate { window } => format!("rate({series}[{}])", promql_duration(window)?),
        RangeFunction::MaxOverTime { window } => {
            format!("max_over_time({series}[{}])", promql_duration(window)?)
        }
    })
}

/// A PromQL duration literal in whole seconds or milliseconds.
fn promql_duration(d: Duration) -> Result<String> {
    let ms = d.as_millis();
    if ms == 0 {
        return Err(Error::InvalidField {
            object: "PromQL range".to_owned(),
            field: "window".to_owned(),
            reason: "window must be at least 1ms".to_owned(),
        });
    }
    Ok(if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    })
}

/// True for `[a-zA-Z_][a-zA-Z0-9_]*`.
fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A PromQL double-quoted string literal holding exactly `value`.
///
/// PromQL's lexer rejects a raw line feed and the replacement character U+FFFD inside a string, and accepts
/// Go's escapes; control characters and U+FFFD are therefore written as `\uXXXX`.
fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || c == char::REPLACEMENT_CHARACTER => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// RE2's metacharacters.
const META: &str = "\\.+*?()|[]{}^$";

/// Escapes the RE2 metacharacters of `value` so that it matches literally (Go's `regexp.QuoteMeta`).
fn regex_quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if META.contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;
    use proptest::prelude::*;

    use super::*;

    fn ts_ms(ms: i64) -> Timestamp {
        Timestamp::from_millisecond(ms).unwrap()
    }

    #[test]
    fn builds_queries() {
        let (cpu, memory) = pod_usage_queries(
            "shop",
            "app in (web,a.b),tier!=back,!canary,app.kubernetes.io/name",
            Duration::from_secs(120),
        )
        .unwrap();
        let join = concat!(
            r#" and on (pod) {__name__="kube_pod_labels",namespace="shop",label_app=~"a\\.b|web","#,
            r#"label_app_kubernetes_io_name!="",label_canary="",label_tier!="back"}"#
        );
        assert_eq!(
            cpu,
            format!(
                r#"sum by (pod, container) (rate({{__name__="container_cpu_usage_seconds_total",namespace="shop",container!="",container!="POD"}}[120s])){join}"#
            )
        );
        assert_eq!(
            memory,
            format!(
                r#"sum by (pod, container) ({{__name__="container_memory_working_set_bytes",namespace="shop",container!="",container!="POD"}}){join}"#
            )
        );
        let (cpu, _) = pod_usage_queries("shop", "", Duration::from_millis(1500)).unwrap();
        assert!(cpu.ends_with("[1500ms]))"), "{cpu}");
        assert!(matches!(
            pod_usage_queries("shop", "app in web", Duration::from_secs(60)),
            Err(Error::InvalidSelector { .. })
        ));

        let metric = MetricId::named("rps").with_label("verb", "GET");
        assert_eq!(
            object_metric_query("shop", "Ingress", "main", &metric).unwrap(),
            r#"sum({__name__="rps",namespace="shop",ingress="main",verb="GET"})"#
        );
        assert_eq!(
            external_metric_query("", &metric).unwrap(),
            r#"{__name__="rps",verb="GET"}"#
        );
        assert_eq!(
            pods_metric_queries("shop", "", &metric).unwrap(),
            (
                r#"sum by (pod) ({__name__="rps",namespace="shop",verb="GET"})"#.to_owned(),
                r#"count({__name__="rps",namespace="shop",verb="GET"})"#.to_owned()
            )
        );
        // matchExpressions act on the series' own label names, values regex-quoted.
        let expr = |key: &str, operator, values: &[&str]| crate::metrics::LabelExpression {
            key: key.to_owned(),
            operator,
            values: values.iter().map(|v| (*v).to_owned()).collect(),
        };
        let selected = MetricId::named("queue_depth")
            .with_label("env", "prod")
            .with_expression(expr("queue", ExpressionOperator::In, &["a.b", "c"]))
            .with_expression(expr("tier", ExpressionOperator::NotIn, &["dev"]))
            .with_expression(expr("shard", ExpressionOperator::Exists, &[]))
            .with_expression(expr("canary", ExpressionOperator::DoesNotExist, &[]));
        assert_eq!(
            external_metric_query("jobs", &selected).unwrap(),
            concat!(
                r#"{__name__="queue_depth",env="prod",queue=~"a\\.b|c",tier!~"dev",shard!="",canary="","#,
                r#"namespace="jobs"}"#
            )
        );
        let bad = MetricId::named("rps").with_label("bad-name", "x");
        assert!(matches!(
            external_metric_query("", &bad),
            Err(Error::InvalidSelector { .. })
        ));
        let range = |function| RangeQuery {
            metric: MetricId::named("up or vector(1)"),
            function,
            start: ts_ms(0),
            end: ts_ms(0),
            step: Duration::from_secs(1),
        };
        assert_eq!(
            range_expr(&range(RangeFunction::Raw)).unwrap(),
            r#"{__name__="up or vector(1)"}"#
        );
        assert_eq!(
            range_expr(&range(RangeFunction::MaxOverTime {
                window: Duration::from_secs(300)
            }))
            .unwrap(),
            r#"max_over_time({__name__="up or vector(1)"}[300s])"#
        );
    }

    /// PromQL's lexer and unquoting, modelled from the Prometheus grammar: reads a double-quoted string at the
    /// start of `text` and returns its value and the rest, or `None` where Prometheus reports a lexer error.
    fn lex_string(text: &str) -> Option<(String, &str)> {
        let mut chars = text.strip_prefix('"')?.char_indices();
        let body_start = 1;
        let mut out = String::new();
        let hex = |chars: &mut std::str::CharIndices<'_>, n: usize| -> Option<u32> {
            let digits: String = chars.by_ref().take(n).map(|(_, c)| c).collect();
            (digits.len() == n)
                .then(|| u32::from_str_radix(&digits, 16).ok())
                .flatten()
        };
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => return Some((out, text.get(body_start + i + 1..)?)),
                '\n' | char::REPLACEMENT_CHARACTER => return None,
                '\\' => {
                    let (_, e) = chars.next()?;
                    match e {
                        'a' => out.push('\u{7}'),
                        'b' => out.push('\u{8}'),
                        'f' => out.push('\u{c}'),
                        'n' => out.push('\n'),
                        'r' => out.push('\r'),
                        't' => out.push('\t'),
                        'v' => out.push('\u{b}'),
                        '\\' | '"' => out.push(e),
                        'u' => out.push(char::from_u32(hex(&mut chars, 4)?)?),
                        'U' => out.push(char::from_u32(hex(&mut chars, 8)?)?),
                        // `\x` and octal escapes produce bytes; `quote` never writes them.
                        _ => return None,
                    }
                }
                c => out.push(c),
            }
        }
        None
    }

    #[test]
    fn quotes_awkward_values() {
        for value in [
            "",
            "plain",
            "a\"b",
            "back\\slash",
            "line\nfeed",
            "\u{0}\u{1f}\u{7f}\u{85}",
            "\u{fffd}",
            "é ünï 中",
        ] {
            let quoted = quote(value);
            assert_eq!(
                lex_string(&quoted),
                Some((value.to_owned(), "")),
                "{quoted}"
            );
        }
        assert_eq!(regex_quote("a.b|c(d)*"), r"a\.b\|c\(d\)\*");
    }

    proptest! {
        #[test]
        fn quoting_round_trips_inside_a_selector(value in any::<String>()) {
            let selector = format!("{{a={},b=\"x\"}}", quote(&value));
            let rest = selector.strip_prefix("{a=").unwrap();
            let (got, rest) = lex_string(rest).expect("lexes");
            prop_assert_eq!(got, value);
            prop_assert_eq!(rest, ",b=\"x\"}");
        }

        #[test]
        fn regex_quoting_leaves_no_bare_metacharacter(value in any::<String>()) {
            let quoted = regex_quote(&value);
            let mut chars = quoted.chars();
            let mut unescaped = String::new();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    let next = chars.next().expect("escape is followed by a character");
                    prop_assert!(META.contains(next), "escaped {:?}", next);
                    unescaped.push(next);
                } else {
                    prop_assert!(!META.contains(c), "bare {:?}", c);
                    unescaped.push(c);
                }
            }
            prop_assert_eq!(unescaped, value);
        }
    }
}
