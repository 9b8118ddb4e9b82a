//! `metrics-api`: a number in a JSON document fetched with HTTP GET.
//!
//! Metadata: `url`, `valueLocation` (required), `targetValue` (required), `activationTargetValue` (0), `format`
//! (`json`, the only one ksx reads yet). `valueLocation` is a GJSON-style path: dot-separated keys, a number
//! indexes an array (`items.0.value`), `#` is an array's length, `\.` escapes a dot inside a key. The value is a
//! JSON number or a string holding a number or a Kubernetes quantity (`"1500m"` is 1.5). Metric
//! `metric-api-<valueLocation>`.

use std::fmt;
use std::time::Duration;

use ksx_core::quantity::Quantity;
use serde_json::Value;

use super::{Meta, bounded, reading};
use crate::event::scaler::{MetricSpec, Reading, Scaler, ScalerError};

/// Splits a path at unescaped dots.
fn segments(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = path.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            '.' => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// The value at `path` in `doc`, as a number.
///
/// # Errors
/// A path that leads nowhere (naming the first missing segment) or a value that is not a number or quantity.
pub fn value_at(doc: &Value, path: &str) -> Result<f64, String> {
    let mut cur = doc;
    let mut len_holder;
    let mut walked = Vec::new();
    for seg in segments(path) {
        let next = match cur {
            Value::Object(m) => m.get(&seg),
            Value::Array(a) if seg == "#" => {
                len_holder = Value::from(a.len());
                Some(&len_holder)
            }
            Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        };
        walked.push(seg);
        cur = next
            .ok_or_else(|| format!("valueLocation {path:?}: nothing at {:?}", walked.join(".")))?;
    }
    match cur {
        Value::Number(n) => n
            .as_f64()
            .ok_or_else(|| format!("valueLocation {path:?}: {n} is out of range")),
        Value::String(s) => {
            if let Ok(v) = s.trim().parse::<f64>()
                && v.is_finite()
            {
                return Ok(v);
            }
            Quantity::parse(s.trim())
                .map(|q| q.as_f64())
                .map_err(|_| format!("valueLocation {path:?}: {s:?} is not a number or quantity"))
        }
        other => Err(format!(
            "valueLocation {path:?}: {other} is not a number or quantity"
        )),
    }
}

/// `metrics-api`: see the module docs.
pub struct MetricsApiScaler {
    http: reqwest::Client,
    url: String,
    value_location: String,
    spec: MetricSpec,
    source: String,
}

impl fmt::Debug for MetricsApiScaler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsApiScaler")
            .field("source", &self.source)
            .field("value_location", &self.value_location)
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

impl MetricsApiScaler {
    /// Reads the keys of the module docs.
    ///
    /// # Errors
    /// A missing or invalid key, or a format other than json.
    pub fn from_meta(meta: &Meta<'_>) -> Result<Self, ScalerError> {
        meta.no_utilization()?;
        let url = meta.required("url")?;
        let parsed =
            reqwest::Url::parse(&url).map_err(|e| meta.error(format!("metadata.url: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(meta.error("metadata.url: expected an http(s) URL"));
        }
        let value_location = meta.required("valueLocation")?;
        let format = meta.or("format", "json")?;
        if format != "json" {
            return Err(meta.error(format!(
                "metadata.format {format:?} is not supported by ksx yet (json only)"
            )));
        }
        if meta.bool_or("aggregateFromKubeServiceEndpoints", false)? {
            return Err(meta
                .error("metadata.aggregateFromKubeServiceEndpoints is not supported by ksx yet"));
        }
        let target = meta.f64_required("targetValue")?;
        let activation = meta.f64_or("activationTargetValue", 0.0)?;
        let source = format!("metrics-api {url}");
        Ok(Self {
            http: reqwest::Client::new(),
            spec: meta.spec(&format!("metric-api-{value_location}"), target, activation),
            url,
            value_location,
            source,
        })
    }

    async fn value(&self) -> Result<f64, ScalerError> {
        let err = |m: String| ScalerError::new(&self.source, m);
        let resp = self
            .http
            .get(&self.url)
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| err(format!("GET failed: {e}")))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(err(format!("GET answered {status}")));
        }
        let doc: Value = resp
            .json()
            .await
            .map_err(|e| err(format!("answer is not JSON: {e}")))?;
        value_at(&doc, &self.value_location).map_err(err)
    }
}

#[async_trait::async_trait]
impl Scaler for MetricsApiScaler {
    fn metric_spec(&self) -> &MetricSpec {
        &self.spec
    }

    async fn poll(&self, _now_nanos: i64, timeout: Duration) -> Result<Reading, ScalerError> {
        let value = bounded(&self.source, timeout, self.value()).await?;
        Ok(reading(value, self.spec.activation))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn paths() {
        let doc = json!({"data": {"queue": {"length": 12}}, "items": [{"value": "1500m"}, {"value": 3}],
                         "a.b": {"c": "2Ki"}, "bad": true});
        assert_eq!(value_at(&doc, "data.queue.length"), Ok(12.0));
        assert_eq!(value_at(&doc, "items.0.value"), Ok(1.5));
        assert_eq!(value_at(&doc, "items.1.value"), Ok(3.0));
        assert_eq!(value_at(&doc, "items.#"), Ok(2.0));
        assert_eq!(value_at(&doc, "a\\.b.c"), Ok(2048.0));
        assert!(
            value_at(&doc, "data.queue.size")
                .unwrap_err()
                .contains("\"data.queue.size\"")
        );
        assert!(value_at(&doc, "items.5").is_err());
        assert!(value_at(&doc, "bad").unwrap_err().contains("not a number"));
    }

    proptest! {
        #[test]
        fn garbage_paths_never_panic(path in ".{0,40}", s in ".{0,20}") {
            let doc = json!({"a": [1, {"b": s}], "c": {"d": null}});
            let _ = value_at(&doc, &path);
        }
    }
}
