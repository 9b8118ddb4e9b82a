//! `cpu` and `memory`: plain HPA Resource (or ContainerResource) metrics read through the
//! [`MetricsSource`] seam. Always active, so objects with only these triggers
//! never scale to zero.
//!
//! Metadata: `value` (required: a percentage for `metricType: Utilization`, a quantity such as `500m` or `256Mi`
//! for AverageValue, the default), `containerName` (→ ContainerResource). `metadata.type` was removed upstream in
//! 2.18 and is rejected with a pointer to `metricType`; `metricType: Value` is not allowed. The polled value is
//! the average over the target's pods of their (or the named container's) usage, as a percentage of
//! [`ResourceRequests`] for Utilization.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use ksx_core::metrics::MetricsSource;
use ksx_core::quantity::Quantity;
use serde::{Deserialize, Serialize};

use super::{Meta, ScalerContext, bounded};
use crate::event::scaler::{MetricSpec, MetricType, Reading, Scaler, ScalerError};

/// Requests of one pod (or of the named container), the base of Utilization.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRequests {
    /// CPU request in cores.
    pub cpu_cores: Option<f64>,
    /// Memory request in bytes.
    pub memory_bytes: Option<f64>,
}

/// Which resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// CPU, in cores.
    Cpu,
    /// Memory working set, in bytes.
    Memory,
}

/// `cpu` / `memory`: see the module docs.
pub struct ResourceScaler {
    resource: Resource,
    container: Option<String>,
    metrics: Arc<dyn MetricsSource>,
    namespace: String,
    selector: String,
    request: Option<f64>,
    spec: MetricSpec,
    source: String,
}

impl fmt::Debug for ResourceScaler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceScaler")
            .field("source", &self.source)
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

impl ResourceScaler {
    /// Reads the keys of the module docs; the metrics source, namespace, selector and requests come from `ctx`.
    ///
    /// # Errors
    /// A missing or invalid key, `metadata.type`, `metricType: Value`, no metrics source, or Utilization
    /// without the matching request.
    pub fn from_meta(meta: &Meta<'_>, ctx: &ScalerContext) -> Result<Self, ScalerError> {
        let resource = if meta.trigger_type() == "cpu" {
            Resource::Cpu
        } else {
            Resource::Memory
        };
        if meta.get("type")?.is_some() {
            return Err(meta.error(
                "metadata.type was removed in KEDA 2.18; set the trigger's metricType instead",
            ));
        }
        let metric_type = meta.metric_type();
        if metric_type == MetricType::Value {
            return Err(
                meta.error("metricType Value is not allowed; use Utilization or AverageValue")
            );
        }
        let raw = meta.required("value")?;
        let target = if metric_type == MetricType::Utilization {
            raw.trim()
                .parse::<u32>()
                .ok()
                .filter(|v| *v > 0)
                .map(f64::from)
                .ok_or_else(|| {
                    meta.error(format!(
                        "metadata.value: {raw:?} is not a positive whole percentage"
                    ))
                })?
        } else {
            let q = Quantity::parse(raw.trim())
                .map_err(|_| meta.error(format!("metadata.value: {raw:?} is not a quantity")))?;
            q.as_f64()
        };
        let metrics = ctx
            .metrics
            .clone()
            .ok_or_else(|| meta.error("no metrics source is configured for cpu/memory triggers"))?;
        let request = if metric_type == MetricType::Utilization {
            let r = ctx.pod_requests.and_then(|r| match resource {
                Resource::Cpu => r.cpu_cores,
                Resource::Memory => r.memory_bytes,
            });
            Some(r.filter(|r| *r > 0.0).ok_or_else(|| {
                meta.error(format!(
                    "Utilization needs the pods' {} requests",
                    meta.trigger_type()
                ))
            })?)
        } else {
            None
        };
        let container = meta.get("containerName")?;
        let what = match &container {
            Some(c) => format!("{} of container {c:?}", meta.trigger_type()),
            None => meta.trigger_type().to_owned(),
        };
        let source = format!(
            "{what} of pods {:?} in namespace {:?}",
            ctx.pod_selector, ctx.namespace
        );
        Ok(Self {
            resource,
            container,
            metrics,
            namespace: ctx.namespace.clone(),
            selector: ctx.pod_selector.clone(),
            request,
            spec: MetricSpec {
                metric_name: meta.trigger_type().to_owned(),
                metric_type,
                target,
                activation: 0.0,
            },
            source,
        })
    }

    async fn value(&self) -> Result<f64, ScalerError> {
        let pods = self
            .metrics
            .pod_usage(&self.namespace, &self.selector)
            .await
            .map_err(|e| ScalerError::new(&self.source, e.to_string()))?;
        let mut total = 0.0;
        let mut count = 0u32;
        for p in &pods {
            let usage = match &self.container {
                Some(name) => match p.containers.iter().find(|c| &c.name == name) {
                    Some(c) => match self.resource {
                        Resource::Cpu => c.cpu_cores,
                        Resource::Memory => c.memory_bytes,
                    },
                    None => continue,
                },
                None => match self.resource {
                    Resource::Cpu => p.cpu_cores(),
                    Resource::Memory => p.memory_bytes(),
                },
            };
            total += usage;
            count += 1;
        }
        if count == 0 {
            return Err(ScalerError::new(&self.source, "no usage for any pod"));
        }
        let average = total / f64::from(count);
        Ok(match self.request {
            Some(r) => 100.0 * average / r,
            None => average,
        })
    }
}

#[async_trait::async_trait]
impl Scaler for ResourceScaler {
    fn metric_spec(&self) -> &MetricSpec {
        &self.spec
    }

    async fn poll(&self, _now_nanos: i64, timeout: Duration) -> Result<Reading, ScalerError> {
        let value = bounded(&self.source, timeout, self.value()).await?;
        Ok(Reading {
            value,
            active: true,
        })
    }
}
