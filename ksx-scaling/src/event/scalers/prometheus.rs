//! `prometheus`: an instant query at engine time through the HTTP API (`/api/v1/query`).
//!
//! Metadata: `serverAddress`, `query`, `threshold` (required), `activationThreshold` (0), `ignoreNullValues`
//! (true), `customHeaders` (`name=value,name2=value2`). An empty result or a NaN/±Inf value is 0 with
//! `ignoreNullValues`, else an error; more than one series, a non-2xx answer or an API error is an error.
//! Metric `prometheus`.

use std::fmt;
use std::time::Duration;

use serde_json::Value;

use super::{Meta, bounded, reading};
use crate::event::scaler::{MetricSpec, Reading, Scaler, ScalerError};

/// `prometheus`: see the module docs.
pub struct PrometheusScaler {
    http: reqwest::Client,
    endpoint: String,
    query: String,
    headers: Vec<(String, String)>,
    ignore_null_values: bool,
    spec: MetricSpec,
    source: String,
}

impl fmt::Debug for PrometheusScaler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrometheusScaler")
            .field("source", &self.source)
            .field("query", &self.query)
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

/// Engine time as Prometheus' `time` parameter: seconds with millisecond precision.
fn time_param(now_nanos: i64) -> String {
    let millis = now_nanos.div_euclid(1_000_000);
    format!("{}.{:03}", millis.div_euclid(1000), millis.rem_euclid(1000))
}

/// The one value of an instant-query answer (`data` of a success).
///
/// # Errors
/// Several series, an unexpected shape, or a null value without `ignore_null_values`.
pub fn instant_value(data: &Value, ignore_null_values: bool) -> Result<f64, String> {
    let result_type = data.get("resultType").and_then(Value::as_str).unwrap_or("");
    let sample = match result_type {
        "vector" => {
            let series = data
                .get("result")
                .and_then(Value::as_array)
                .ok_or_else(|| "answer has no result array".to_owned())?;
            match series.as_slice() {
                [] => {
                    return if ignore_null_values {
                        Ok(0.0)
                    } else {
                        Err("query returned no series (ignoreNullValues is false)".to_owned())
                    };
                }
                [one] => one
                    .get("value")
                    .cloned()
                    .ok_or_else(|| "series has no value".to_owned())?,
                many => {
                    return Err(format!(
                        "query returned {} series; it must return at most one",
                        many.len()
                    ));
                }
            }
        }
        "scalar" => data
            .get("result")
            .cloned()
            .ok_or_else(|| "answer has no result".to_owned())?,
        other => {
            return Err(format!(
                "query returned a {other:?}; an instant vector or scalar is needed"
            ));
        }
    };
    let text = sample
        .get(1)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("unexpected sample {sample}"))?;
    // Prometheus prints NaN, +Inf and -Inf as such; Rust parses them the same way.
    let v: f64 = text
        .parse()
        .map_err(|_| format!("sample value {text:?} is not a number"))?;
    if v.is_finite() {
        Ok(v)
    } else if ignore_null_values {
        Ok(0.0)
    } else {
        Err(format!("query returned {text} (ignoreNullValues is false)"))
    }
}

impl PrometheusScaler {
    /// Reads the keys of the module docs.
    ///
    /// # Errors
    /// A missing or invalid key.
    pub fn from_meta(meta: &Meta<'_>) -> Result<Self, ScalerError> {
        meta.no_utilization()?;
        let server = meta.required("serverAddress")?;
        let base = reqwest::Url::parse(&server)
            .map_err(|e| meta.error(format!("metadata.serverAddress: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(meta.error("metadata.serverAddress: expected an http(s) URL"));
        }
        let endpoint = format!("{}/api/v1/query", server.trim_end_matches('/'));
        let query = meta.required("query")?;
        let target = meta.f64_required("threshold")?;
        let activation = meta.f64_or("activationThreshold", 0.0)?;
        let ignore_null_values = meta.bool_or("ignoreNullValues", true)?;
        let mut headers = Vec::new();
        if let Some(h) = meta.get("customHeaders")? {
            for pair in h.split(',').filter(|p| !p.trim().is_empty()) {
                let (k, v) = pair.split_once('=').ok_or_else(|| {
                    meta.error(format!(
                        "metadata.customHeaders: {pair:?} is not name=value"
                    ))
                })?;
                headers.push((k.trim().to_owned(), v.trim().to_owned()));
            }
        }
        let source = format!("prometheus at {server}");
        Ok(Self {
            http: reqwest::Client::new(),
            endpoint,
            query,
            headers,
            ignore_null_values,
            spec: meta.spec("prometheus", target, activation),
            source,
        })
    }

    async fn value(&self, now_nanos: i64) -> Result<f64, ScalerError> {
        let err = |m: String| ScalerError::new(&self.source, m);
        let mut req = self.http.get(&self.endpoint).query(&[
            ("query", self.query.as_str()),
            ("time", &time_param(now_nanos)),
        ]);
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| err(format!("query failed: {e}")))?;
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .map_err(|e| err(format!("reading the answer: {e}")))?;
        let json: Option<Value> = serde_json::from_slice(&body).ok();
        let api_error = json.as_ref().and_then(|j| {
            j.get("error").and_then(Value::as_str).map(|e| {
                match j.get("errorType").and_then(Value::as_str) {
                    Some(t) => format!("{t}: {e}"),
                    None => e.to_owned(),
                }
            })
        });
        if !status.is_success() {
            return Err(err(match api_error {
                Some(e) => format!("query answered {status}: {e}"),
                None => format!("query answered {status}"),
            }));
        }
        let json = json.ok_or_else(|| err("answer is not JSON".to_owned()))?;
        if json.get("status").and_then(Value::as_str) != Some("success") {
            return Err(err(
                api_error.unwrap_or_else(|| "query did not succeed".to_owned())
            ));
        }
        let data = json
            .get("data")
            .ok_or_else(|| err("answer has no data".to_owned()))?;
        instant_value(data, self.ignore_null_values).map_err(err)
    }
}

#[async_trait::async_trait]
impl Scaler for PrometheusScaler {
    fn metric_spec(&self) -> &MetricSpec {
        &self.spec
    }

    async fn poll(&self, now_nanos: i64, timeout: Duration) -> Result<Reading, ScalerError> {
        let value = bounded(&self.source, timeout, self.value(now_nanos)).await?;
        Ok(reading(value, self.spec.activation))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn time_has_millis() {
        assert_eq!(time_param(1_700_000_000_123_456_789), "1700000000.123");
        assert_eq!(time_param(0), "0.000");
    }

    #[test]
    fn values() {
        let vec = |vals: &[&str]| json!({"resultType": "vector", "result": vals.iter().map(|v| json!({"metric": {}, "value": [1, v]})).collect::<Vec<_>>()});
        assert_eq!(instant_value(&vec(&["4.5"]), true), Ok(4.5));
        assert_eq!(instant_value(&vec(&[]), true), Ok(0.0));
        assert!(instant_value(&vec(&[]), false).is_err());
        assert_eq!(instant_value(&vec(&["NaN"]), true), Ok(0.0));
        assert!(instant_value(&vec(&["+Inf"]), false).is_err());
        assert!(
            instant_value(&vec(&["1", "2"]), true)
                .unwrap_err()
                .contains("2 series")
        );
        assert_eq!(
            instant_value(&json!({"resultType": "scalar", "result": [1, "3"]}), true),
            Ok(3.0)
        );
        assert!(instant_value(&json!({"resultType": "matrix", "result": []}), true).is_err());
    }
}
