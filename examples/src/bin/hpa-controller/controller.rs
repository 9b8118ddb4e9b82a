//! The reconcile loop: lists the HPAs, spreads them over the keyed worker pool, reads each target's scale,
//! pods and metrics through the seams, asks the engine, and writes the scale and the status back.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use ksx_core::Clock;
use ksx_core::cluster::selector::LabelSelector;
use ksx_core::cluster::{ClusterReader, ClusterWriter, Kind, ListOptions, Object, Patch};
use ksx_core::metrics::MetricsSource;
use ksx_scaling::hpa::model::{MetricSourceType, NANOS_PER_SEC};
use ksx_scaling::hpa::normalize::Recommendation;
use ksx_scaling::hpa::pod::{PodInfo, PodSample};
use ksx_scaling::hpa::reconcile::{
    Condition, ReconcileArgs, ReconcileDecision, failed_metrics_condition, reconcile,
};
use ksx_scaling::hpa::{History, MetricData, MetricSpec, Proposal, compute_replicas};
use serde::Serialize;

use crate::Settings;
use crate::spec::{ParsedSpec, metric_error, metric_id, metric_status, parse_spec};

/// An HPA's namespace and name.
pub(crate) type Key = (String, String);

/// Every HPA's target selector in one sync.
type Selectors = Vec<(Key, LabelSelector)>;

/// The reconcile loop over the seams. `C` is the cluster (in memory or kube), metrics come from any source.
pub(crate) struct Controller<C> {
    cluster: Arc<C>,
    metrics: Arc<dyn MetricsSource>,
    settings: Settings,
    /// Each HPA's normalization history; a worker takes an entry out for the length of one reconcile.
    histories: Mutex<HashMap<Key, History>>,
}

/// A status condition as printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ConditionLine {
    #[serde(rename = "type")]
    pub(crate) condition_type: String,
    pub(crate) status: &'static str,
    pub(crate) reason: String,
    pub(crate) message: String,
}

/// One reconcile, as printed.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DecisionLine {
    /// RFC 3339.
    pub(crate) time: String,
    /// Seconds since the controller started.
    pub(crate) elapsed_seconds: i64,
    pub(crate) namespace: String,
    pub(crate) name: String,
    /// `Deployment/web`.
    pub(crate) target: String,
    pub(crate) current_replicas: i32,
    pub(crate) desired_replicas: i32,
    pub(crate) rescaled: bool,
    /// `status.currentMetrics` as written.
    pub(crate) current_metrics: Vec<serde_json::Value>,
    /// `status.conditions` as written.
    pub(crate) conditions: Vec<ConditionLine>,
    /// Why the reconcile failed, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
    /// Wall time the reconcile took (for `ksx_reconcile_duration_seconds`; not printed, so output stays
    /// reproducible).
    #[serde(skip)]
    pub(crate) took: std::time::Duration,
}

/// What the scale subresource of a target says.
struct Scale {
    kind: Kind,
    spec_replicas: i32,
    status_replicas: i32,
    selector: String,
}

impl<C: ClusterReader + ClusterWriter + 'static> Controller<C> {
    pub(crate) fn new(
        cluster: Arc<C>,
        metrics: Arc<dyn MetricsSource>,
        settings: Settings,
    ) -> Self {
        Self {
            cluster,
            metrics,
            settings,
            histories: Mutex::new(HashMap::new()),
        }
    }

    /// Lists every HPA and reconciles each once on the keyed worker pool; returns the decisions in key order.
    pub(crate) async fn sync(
        self: &Arc<Self>,
        now: i64,
        start: i64,
        workers: u16,
    ) -> anyhow::Result<Vec<DecisionLine>> {
        let hpas: Vec<HorizontalPodAutoscaler> = self
            .cluster
            .list(
                &Kind::HorizontalPodAutoscaler,
                None,
                &ListOptions::default(),
            )
            .await?
            .into_iter()
            .filter_map(|o| match o {
                Object::HorizontalPodAutoscaler(h) => Some(h),
                _ => None,
            })
            .collect();
        let keys: Vec<Key> = hpas.iter().map(key_of).collect();
        let selectors = Arc::new(self.selectors(&hpas).await);
        // Histories of deleted HPAs go with them, as upstream's in-memory maps.
        self.histories
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|k, _| keys.contains(k));
        let workers = usize::from(workers.max(1));
        let mut queues: Vec<Vec<HorizontalPodAutoscaler>> = vec![Vec::new(); workers];
        for hpa in hpas {
            let slot = worker_of(&key_of(&hpa), workers);
            if let Some(q) = queues.get_mut(slot) {
                q.push(hpa);
            }
        }
        let mut tasks = tokio::task::JoinSet::new();
        for queue in queues.into_iter().filter(|q| !q.is_empty()) {
            let this = Arc::clone(self);
            let selectors = Arc::clone(&selectors);
            tasks.spawn(async move {
                let mut out = Vec::with_capacity(queue.len());
                for hpa in queue {
                    out.push(this.reconcile_one(&hpa, &selectors, now, start).await);
                }
                out
            });
        }
        let mut lines = Vec::new();
        while let Some(done) = tasks.join_next().await {
            lines.extend(done?);
        }
        lines.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        Ok(lines)
    }

    /// The pod selector of every HPA's target, for the `AmbiguousSelector` check (upstream's `hpaSelectors`).
    /// HPAs whose target cannot be read are left out.
    async fn selectors(&self, hpas: &[HorizontalPodAutoscaler]) -> Selectors {
        let mut out = Vec::with_capacity(hpas.len());
        for hpa in hpas {
            let Ok(parsed) = parse_spec(hpa, self.settings.downscale_window_secs) else {
                continue;
            };
            let (namespace, _) = key_of(hpa);
            let name = hpa
                .spec
                .as_ref()
                .map(|s| s.scale_target_ref.name.clone())
                .unwrap_or_default();
            if let Ok(scale) = self
                .read_scale(&namespace, &parsed.target_kind, &name)
                .await
                && let Ok(selector) = LabelSelector::parse(&scale.selector)
                && !selector.is_empty()
            {
                out.push((key_of(hpa), selector));
            }
        }
        out
    }

    /// One reconcile of one HPA: read, decide, write the scale and the status.
    async fn reconcile_one(
        &self,
        hpa: &HorizontalPodAutoscaler,
        selectors: &Selectors,
        now: i64,
        start: i64,
    ) -> DecisionLine {
        let key = key_of(hpa);
        let mut history = self
            .histories
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&key)
            .unwrap_or_default();
        // Wall time, even over a simulated cluster: the figure feeds `ksx_reconcile_duration_seconds` only.
        let wall = ksx_core::SystemClock;
        let started = wall.now();
        let mut line = self
            .decide_and_write(hpa, &mut history, selectors, now, start)
            .await;
        line.took = wall.now().duration_since(started).unsigned_abs();
        self.histories
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, history);
        line
    }

    async fn decide_and_write(
        &self,
        hpa: &HorizontalPodAutoscaler,
        history: &mut History,
        selectors: &Selectors,
        now: i64,
        start: i64,
    ) -> DecisionLine {
        let (namespace, name) = key_of(hpa);
        let spec = hpa.spec.clone().unwrap_or_default();
        let target_ref = &spec.scale_target_ref;
        let mut line = DecisionLine {
            time: rfc3339(now),
            elapsed_seconds: (now - start) / NANOS_PER_SEC,
            namespace: namespace.clone(),
            name: name.clone(),
            target: format!("{}/{}", target_ref.kind, target_ref.name),
            current_replicas: hpa
                .status
                .as_ref()
                .and_then(|s| s.current_replicas)
                .unwrap_or(0),
            desired_replicas: hpa.status.as_ref().map_or(0, |s| s.desired_replicas),
            rescaled: false,
            current_metrics: Vec::new(),
            conditions: Vec::new(),
            error: None,
            took: std::time::Duration::ZERO,
        };
        let parsed = match parse_spec(hpa, self.settings.downscale_window_secs) {
            Ok(p) => p.with_tolerance(self.settings.tolerance),
            Err(e) => {
                // The API server refuses such objects; one that slipped through is reported, never written.
                line.error = Some(format!("HorizontalPodAutoscaler {namespace}/{name}: {e}"));
                return line;
            }
        };
        let mut conditions = Vec::new();
        let scale = match self
            .read_scale(&namespace, &parsed.target_kind, &target_ref.name)
            .await
        {
            Ok(s) => s,
            Err(e) => {
                conditions.push(condition(
                    "AbleToScale",
                    false,
                    "FailedGetScale",
                    format!("the HPA controller was unable to get the target's current scale: {e}"),
                ));
                line.error = Some(e.to_string());
                self.write_status(hpa, &mut line, conditions, None, now)
                    .await;
                return line;
            }
        };
        // Upstream reports `scale.spec.replicas` as `status.currentReplicas`.
        line.current_replicas = scale.spec_replicas;
        let current = scale.spec_replicas;
        let previous_desired = line.desired_replicas;
        // The engine reads metrics only where upstream would; the short cuts are mirrored here so the seam is
        // not asked for metrics it would not use.
        let reads_metrics = !(current == 0 && parsed.min_replicas != 0)
            && current <= spec.max_replicas
            && current >= parsed.min_replicas;
        let selector_failure = if reads_metrics {
            self.check_selector(
                &(namespace.clone(), name.clone()),
                &scale.selector,
                selectors,
            )
            .await
        } else {
            None
        };
        if let Some(failed) = selector_failure {
            // As upstream: the recommendation is seeded, nothing scales, `desiredReplicas` keeps its value.
            if history.recommendations.is_empty() {
                history.recommendations.push(Recommendation {
                    replicas: current,
                    timestamp: now,
                });
            }
            conditions.push(condition(
                "AbleToScale",
                true,
                "SucceededGetScale",
                "the HPA controller was able to get the target's current scale",
            ));
            line.error = Some(failed.message.clone());
            conditions.push(failed);
            line.desired_replicas = previous_desired;
            self.write_status(
                hpa,
                &mut line,
                conditions,
                Some((Vec::new(), previous_desired, false)),
                now,
            )
            .await;
            return line;
        }
        let proposals = if reads_metrics {
            Some(self.proposals(&namespace, &parsed, &scale, now).await)
        } else {
            None
        };
        let statuses: Vec<serde_json::Value> = proposals
            .as_ref()
            .map(|ps| {
                ps.iter()
                    .zip(&parsed.metrics)
                    // Upstream sizes `currentMetrics` to the spec and leaves a failing metric's slot empty.
                    .map(|(p, m)| {
                        p.as_ref().map_or_else(
                            |_| serde_json::json!({"type": ""}),
                            |p| metric_status(m, p),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let args = ReconcileArgs {
            now,
            spec_replicas: current,
            min_replicas: parsed.min_replicas,
            max_replicas: spec.max_replicas,
            metrics: &parsed.metrics,
            behavior: parsed.behavior.as_ref(),
            downscale_window_secs: self.settings.downscale_window_secs,
        };
        let decision = reconcile(history, &args, || proposals.unwrap_or_default());
        line.current_metrics = statuses.clone();
        let decision = match decision {
            Ok(d) => d,
            Err(e) => {
                conditions.push(condition(
                    "AbleToScale",
                    true,
                    "SucceededGetScale",
                    "the HPA controller was able to get the target's current scale",
                ));
                let failed = failed_metrics_condition(&e);
                line.error = Some(failed.message.clone());
                conditions.push(failed);
                // Upstream's `setCurrentReplicasAndMetricsInStatus` keeps the previous `desiredReplicas`.
                line.desired_replicas = previous_desired;
                self.write_status(
                    hpa,
                    &mut line,
                    conditions,
                    Some((statuses, previous_desired, false)),
                    now,
                )
                .await;
                return line;
            }
        };
        let ReconcileDecision {
            desired_replicas,
            rescale,
            conditions: decided,
            ..
        } = decision;
        conditions.extend(decided);
        let mut rescaled = false;
        if rescale {
            match self
                .cluster
                .scale(&scale.kind, &namespace, &target_ref.name, desired_replicas)
                .await
            {
                Ok(()) => {
                    rescaled = true;
                    conditions.push(condition(
                        "AbleToScale",
                        true,
                        "SucceededRescale",
                        format!("the HPA controller was able to update the target scale to {desired_replicas}"),
                    ));
                }
                Err(e) => {
                    line.error = Some(e.to_string());
                    conditions.push(condition(
                        "AbleToScale",
                        false,
                        "FailedUpdateScale",
                        format!("the HPA controller was unable to update the target scale: {e}"),
                    ));
                }
            }
        }
        line.desired_replicas = if rescaled { desired_replicas } else { current };
        line.rescaled = rescaled;
        let desired = line.desired_replicas;
        self.write_status(
            hpa,
            &mut line,
            conditions,
            Some((statuses, desired, rescaled)),
            now,
        )
        .await;
        line
    }

    /// Upstream's `validateAndParseSelector`: the target's selector must be set, and the pods it selects may be
    /// selected by this HPA's target only. Returns the `ScalingActive=False` condition when not.
    async fn check_selector(
        &self,
        key: &Key,
        selector: &str,
        selectors: &Selectors,
    ) -> Option<Condition> {
        if selector.is_empty() {
            return Some(condition(
                "ScalingActive",
                false,
                "InvalidSelector",
                "the HPA target's scale is missing a selector",
            ));
        }
        let pods = match self
            .cluster
            .list(&Kind::Pod, Some(&key.0), &ListOptions::labels(selector))
            .await
        {
            Ok(p) => p,
            Err(e) => {
                return Some(condition(
                    "ScalingActive",
                    false,
                    "InvalidSelector",
                    format!(
                        "couldn't convert selector into a corresponding internal selector object: {e}"
                    ),
                ));
            }
        };
        let mut selecting: Vec<&Key> = selectors
            .iter()
            .filter(|(k, s)| {
                k.0 == key.0
                    && pods
                        .iter()
                        .any(|p| s.matches_opt(p.metadata().labels.as_ref()))
            })
            .map(|(k, _)| k)
            .collect();
        selecting.sort();
        selecting.dedup();
        if selecting.len() > 1 {
            let names: Vec<String> = selecting
                .iter()
                .map(|k| format!("{}/{}", k.0, k.1))
                .collect();
            return Some(condition(
                "ScalingActive",
                false,
                "AmbiguousSelector",
                format!(
                    "pods by selector {selector} are controlled by multiple HPAs: [{}]",
                    names.join(" ")
                ),
            ));
        }
        None
    }

    /// Reads `spec.replicas`, `status.replicas` and the selector of a scale target.
    async fn read_scale(&self, namespace: &str, kind: &Kind, name: &str) -> anyhow::Result<Scale> {
        let object = self
            .cluster
            .get(kind, Some(namespace), name)
            .await?
            .ok_or_else(|| anyhow::anyhow!("{kind} {namespace}/{name} not found"))?;
        let view = object
            .scale_view()?
            .ok_or_else(|| anyhow::anyhow!("{} has no scale subresource", object.kind()))?;
        Ok(Scale {
            kind: kind.clone(),
            spec_replicas: view.spec_replicas,
            status_replicas: view.status_replicas,
            selector: view.selector,
        })
    }

    /// Every metric's proposal, in spec order, with the pods and samples read through the seams.
    async fn proposals(
        &self,
        namespace: &str,
        parsed: &ParsedSpec,
        scale: &Scale,
        now: i64,
    ) -> Vec<ksx_scaling::Result<Proposal>> {
        let pods = match self.pods(namespace, &scale.selector).await {
            Ok(p) => p,
            Err(e) => {
                return parsed
                    .metrics
                    .iter()
                    .map(|m| Err(metric_error(m, &e.to_string())))
                    .collect();
            }
        };
        let mut out = Vec::with_capacity(parsed.metrics.len());
        for metric in &parsed.metrics {
            let inputs = self.metric_inputs(namespace, &scale.selector, metric).await;
            let result = inputs.and_then(|(samples, object_value, external_values)| {
                let data = MetricData {
                    now,
                    current_replicas: scale.spec_replicas,
                    status_replicas: scale.status_replicas,
                    pods: &pods,
                    pod_samples: &samples,
                    object_value,
                    external_values: &external_values,
                };
                compute_replicas(metric, &data, &parsed.calculator)
            });
            out.push(result);
        }
        out
    }

    /// The pods of the target, in the calculator's view.
    async fn pods(&self, namespace: &str, selector: &str) -> anyhow::Result<Vec<PodInfo>> {
        let objects = self
            .cluster
            .list(&Kind::Pod, Some(namespace), &ListOptions::labels(selector))
            .await?;
        let mut pods = Vec::with_capacity(objects.len());
        for object in objects {
            let path = format!("Pod {}", object.key());
            let Object::Pod(pod) = object else { continue };
            let view: ksx_scaling::hpa::pod::Pod =
                serde_json::from_value(serde_json::to_value(&pod)?)?;
            pods.push(view.to_info(&path)?);
        }
        Ok(pods)
    }

    /// Pod samples, the Object value and the External values one metric needs.
    async fn metric_inputs(
        &self,
        namespace: &str,
        selector: &str,
        metric: &MetricSpec,
    ) -> ksx_scaling::Result<(Vec<PodSample>, Option<i64>, Vec<i64>)> {
        let fail = |e: ksx_core::Error| metric_error(metric, &e.to_string());
        match metric.source_type {
            MetricSourceType::Resource | MetricSourceType::ContainerResource => {
                let resource = metric
                    .resource
                    .as_ref()
                    .map(|r| r.name.as_str())
                    .or_else(|| metric.container_resource.as_ref().map(|r| r.name.as_str()))
                    .unwrap_or("cpu");
                let usage = self
                    .metrics
                    .pod_usage(namespace, selector)
                    .await
                    .map_err(fail)?;
                let samples = usage
                    .iter()
                    .map(|u| {
                        let value_of = |c: &ksx_core::metrics::ContainerUsage| {
                            milli(if resource == "memory" {
                                c.memory_bytes
                            } else {
                                c.cpu_cores
                            })
                        };
                        PodSample {
                            pod: u.name.clone(),
                            timestamp: nanos(u.timestamp),
                            window: i64::try_from(u.window.as_nanos()).unwrap_or(i64::MAX),
                            value: u.containers.iter().map(value_of).sum(),
                            containers: u
                                .containers
                                .iter()
                                .map(|c| (c.name.clone(), value_of(c)))
                                .collect(),
                        }
                    })
                    .collect();
                Ok((samples, None, Vec::new()))
            }
            MetricSourceType::Pods => {
                let id = metric
                    .pods
                    .as_ref()
                    .map(|p| metric_id(&p.metric))
                    .transpose()
                    .map_err(fail)?
                    .unwrap_or_default();
                let values = self
                    .metrics
                    .pods_metric(namespace, selector, &id)
                    .await
                    .map_err(fail)?;
                let samples = values
                    .iter()
                    .map(|v| PodSample {
                        pod: v.name.clone(),
                        timestamp: nanos(v.sample.timestamp),
                        window: 60 * NANOS_PER_SEC,
                        value: milli(v.sample.value),
                        containers: BTreeMap::new(),
                    })
                    .collect();
                Ok((samples, None, Vec::new()))
            }
            MetricSourceType::Object => {
                let Some(o) = metric.object.as_ref() else {
                    return Ok((Vec::new(), None, Vec::new()));
                };
                let sample = self
                    .metrics
                    .object_metric(
                        namespace,
                        &o.described_object.kind,
                        &o.described_object.name,
                        &metric_id(&o.metric).map_err(fail)?,
                    )
                    .await
                    .map_err(fail)?;
                Ok((Vec::new(), Some(milli(sample.value)), Vec::new()))
            }
            MetricSourceType::External => {
                let id = metric
                    .external
                    .as_ref()
                    .map(|e| metric_id(&e.metric))
                    .transpose()
                    .map_err(fail)?
                    .unwrap_or_default();
                let samples = self
                    .metrics
                    .external_metric(namespace, &id)
                    .await
                    .map_err(fail)?;
                Ok((
                    Vec::new(),
                    None,
                    samples.iter().map(|s| milli(s.value)).collect(),
                ))
            }
        }
    }

    /// Merges the conditions by type as upstream's `setCondition` does (first position kept, last value wins,
    /// `lastTransitionTime` moved only when the status flips), then writes the status if it changed.
    async fn write_status(
        &self,
        hpa: &HorizontalPodAutoscaler,
        line: &mut DecisionLine,
        set: Vec<Condition>,
        replicas: Option<(Vec<serde_json::Value>, i32, bool)>,
        now: i64,
    ) {
        let old = hpa.status.clone().unwrap_or_default();
        let mut merged: Vec<Condition> = Vec::new();
        for c in set {
            match merged
                .iter_mut()
                .find(|m| m.condition_type == c.condition_type)
            {
                Some(slot) => *slot = c,
                None => merged.push(c),
            }
        }
        let old_conditions = old.conditions.clone().unwrap_or_default();
        let conditions: Vec<serde_json::Value> = merged
            .iter()
            .map(|c| {
                let status = if c.status { "True" } else { "False" };
                let since = old_conditions
                    .iter()
                    .find(|o| o.type_ == c.condition_type && o.status == status)
                    .and_then(|o| o.last_transition_time.as_ref())
                    .map_or_else(|| rfc3339(now), |t| t.0.to_string());
                serde_json::json!({
                    "type": c.condition_type, "status": status, "reason": c.reason,
                    "message": c.message, "lastTransitionTime": since,
                })
            })
            .collect();
        line.conditions = merged
            .iter()
            .map(|c| ConditionLine {
                condition_type: c.condition_type.clone(),
                status: if c.status { "True" } else { "False" },
                reason: c.reason.clone(),
                message: c.message.clone(),
            })
            .collect();
        let mut status = serde_json::json!({ "conditions": conditions });
        if let (Some((metrics, desired, rescaled)), Some(map)) = (replicas, status.as_object_mut())
        {
            map.insert("currentReplicas".into(), line.current_replicas.into());
            map.insert("desiredReplicas".into(), desired.into());
            map.insert("currentMetrics".into(), metrics.into());
            let last = if rescaled {
                Some(rfc3339(now))
            } else {
                old.last_scale_time.as_ref().map(|t| t.0.to_string())
            };
            if let Some(t) = last {
                map.insert("lastScaleTime".into(), t.into());
            }
            if let Some(g) = hpa.metadata.generation {
                map.insert("observedGeneration".into(), g.into());
            }
        }
        let old_json = serde_json::to_value(&old).unwrap_or_default();
        let mut merged_json = old_json.clone();
        merge(&mut merged_json, &status);
        if merged_json == old_json {
            return;
        }
        let patch = Patch::Merge(serde_json::json!({ "status": status }));
        if let Err(e) = self
            .cluster
            .patch_status(
                &Kind::HorizontalPodAutoscaler,
                Some(&line.namespace),
                &line.name,
                &patch,
            )
            .await
        {
            tracing::warn!(namespace = %line.namespace, name = %line.name, error = %e, "cannot write the HPA status");
            line.error
                .get_or_insert_with(|| format!("cannot write the status: {e}"));
        }
    }
}

/// RFC 7386 merge, to tell whether a status patch changes anything.
fn merge(target: &mut serde_json::Value, patch: &serde_json::Value) {
    match (target.as_object_mut(), patch.as_object()) {
        (Some(t), Some(p)) => {
            for (k, v) in p {
                merge(t.entry(k.clone()).or_insert(serde_json::Value::Null), v);
            }
        }
        _ => *target = patch.clone(),
    }
}

fn condition(
    condition_type: &str,
    status: bool,
    reason: &str,
    message: impl Into<String>,
) -> Condition {
    Condition {
        condition_type: condition_type.to_owned(),
        status,
        reason: reason.to_owned(),
        message: message.into(),
    }
}

fn key_of(hpa: &HorizontalPodAutoscaler) -> Key {
    (
        hpa.metadata.namespace.clone().unwrap_or_default(),
        hpa.metadata.name.clone().unwrap_or_default(),
    )
}

/// The worker a key goes to: FNV-1a of `namespace/name`, stable across runs and platforms.
fn worker_of(key: &Key, workers: usize) -> usize {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key
        .0
        .bytes()
        .chain(std::iter::once(b'/'))
        .chain(key.1.bytes())
    {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    usize::try_from(hash % u64::try_from(workers.max(1)).unwrap_or(1)).unwrap_or(0)
}

/// Milli-units of a base-unit value, rounded up as `Quantity.MilliValue`; saturates.
#[allow(
    clippy::cast_possible_truncation,
    reason = "the float-to-int `as` cast saturates, which is the intent for absurd values"
)]
fn milli(value: f64) -> i64 {
    (value * 1000.0).ceil() as i64
}

fn nanos(t: jiff::Timestamp) -> i64 {
    i64::try_from(t.as_nanosecond()).unwrap_or(i64::MAX)
}

pub(crate) fn now_nanos(clock: &dyn Clock) -> i64 {
    nanos(clock.now())
}

fn rfc3339(nanos: i64) -> String {
    jiff::Timestamp::from_nanosecond(i128::from(nanos))
        .map(|t| t.round(jiff::Unit::Second).unwrap_or(t).to_string())
        .unwrap_or_default()
}
