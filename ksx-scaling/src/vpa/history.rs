//! History bootstrap: the recommender's start-up read of past usage (upstream `history_provider.go`, spec
//! `scaling.md` §3.5), through the [`MetricsSource`] seam.
//!
//! [`load_history`] runs two range queries over [`HistoryConfig::length`] (8 days) every
//! [`HistoryConfig::step`] (1 hour):
//!
//! - CPU: `rate(container_cpu_usage_seconds_total{job="kubernetes-cadvisor"}[1h])`, cores → millicores by
//!   truncation (upstream's `CPUAmountFromCores`);
//! - memory: `container_memory_working_set_bytes{job="kubernetes-cadvisor"}`, bytes truncated to integers.
//!
//! Series are grouped by their `namespace`, `pod` and `container` labels; series without a pod, with an empty
//! container or the `POD` sandbox container are skipped, as upstream's query does with `container!="POD"`.
//! Several series of one container (a restart gives a new cgroup id) are concatenated and sorted by time, as
//! upstream does. NaN, infinite and negative values are skipped. The label names are those of Kubernetes 1.16+
//! cAdvisor (`pod`, `container`); upstream's flags still default to the older `pod_name` / `name`.
//!
//! **Aggregation.** Each (namespace, pod, container) is fed into its own [`AggregateContainerState`], exactly as
//! a container's samples reach upstream's per-container state (which drops a CPU sample not strictly after the
//! container's previous one); the per-pod states are then merged ([`AggregateContainerState::merge`]) under a
//! caller-chosen key. Upstream merges per VPA through pod label selectors; cAdvisor series carry no pod labels,
//! so [`History::aggregate_by_selector`] needs the pod labels the caller knows (from kube-state-metrics'
//! `kube_pod_labels`, which [`load_pod_labels`] reads, or from the cluster), and [`History::aggregate_by_workload`]
//! keys by a workload name derived from the pod name when nothing else is known ([`workload_of_pod`]: `web-7d4b9c8f6d-x2x7q` → `web`,
//! `db-0` → `db`).

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use ksx_core::cluster::selector::LabelSelector;
use ksx_core::metrics::{MetricId, MetricsSource, RangeFunction, RangeQuery, Series};

use crate::error::{Error, Result};
use crate::vpa::aggregate::AggregateContainerState;
use crate::vpa::config::RecommenderConfig;

/// Upstream's default history length (`--history-length`, 8 days).
pub const DEFAULT_HISTORY_LENGTH: Duration = Duration::from_secs(8 * 24 * 3600);
/// Upstream's default resolution (`--history-resolution`, 1 hour).
pub const DEFAULT_HISTORY_STEP: Duration = Duration::from_secs(3600);
/// Upstream's cAdvisor job (`--prometheus-cadvisor-job-name`).
pub const DEFAULT_CADVISOR_JOB: &str = "kubernetes-cadvisor";
/// The CPU counter cAdvisor exports.
pub const CPU_USAGE_METRIC: &str = "container_cpu_usage_seconds_total";
/// The memory working-set gauge cAdvisor exports.
pub const MEMORY_WORKING_SET_METRIC: &str = "container_memory_working_set_bytes";
/// kube-state-metrics' pod label series.
pub const POD_LABELS_METRIC: &str = "kube_pod_labels";

/// What [`load_history`] reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryConfig {
    /// How far back from `now` (`--history-length`).
    pub length: Duration,
    /// Resolution of the range queries (`--history-resolution`), also the CPU rate window.
    pub step: Duration,
    /// The `job` label of cAdvisor series; `None` reads every job.
    pub cadvisor_job: Option<String>,
    /// Only this namespace; `None` reads all.
    pub namespace: Option<String>,
    /// Read memory as `max_over_time(…[step])` instead of the raw gauge at each step, so no peak between two
    /// steps is missed (KRR's memory strategy wants the true maximum; the VPA reads the raw gauge).
    pub memory_max_over_step: bool,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        Self {
            length: DEFAULT_HISTORY_LENGTH,
            step: DEFAULT_HISTORY_STEP,
            cadvisor_job: Some(DEFAULT_CADVISOR_JOB.to_owned()),
            namespace: None,
            memory_max_over_step: false,
        }
    }
}

/// One container of one pod.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ContainerId {
    /// Namespace.
    pub namespace: String,
    /// Pod name.
    pub pod: String,
    /// Container name.
    pub container: String,
}

/// The samples of one container, oldest first; times are engine nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerHistory {
    /// `(t, millicores)`.
    pub cpu: Vec<(i64, i64)>,
    /// `(t, working-set bytes)`.
    pub memory: Vec<(i64, i64)>,
}

/// Past usage per container, as [`load_history`] read it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    /// Per container, sorted.
    pub containers: BTreeMap<ContainerId, ContainerHistory>,
}

/// A workload container: what [`History::aggregate_by_workload`] keys by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WorkloadContainer {
    /// Namespace.
    pub namespace: String,
    /// Workload name derived from pod names ([`workload_of_pod`]).
    pub workload: String,
    /// Container name.
    pub container: String,
}

/// Reads the history of every container through `source`, from `now − length` to `now`.
///
/// # Errors
/// A zero step or length ([`Error::InvalidField`]), or a failing source: an unreachable Prometheus is an error
/// naming its URL.
pub async fn load_history(
    source: &dyn MetricsSource,
    cfg: &HistoryConfig,
    now: i64,
) -> Result<History> {
    let (start, end) = window(cfg, now)?;
    let mut metric_cpu = MetricId::named(CPU_USAGE_METRIC);
    let mut metric_memory = MetricId::named(MEMORY_WORKING_SET_METRIC);
    for m in [&mut metric_cpu, &mut metric_memory] {
        if let Some(job) = &cfg.cadvisor_job {
            m.labels.insert("job".to_owned(), job.clone());
        }
        if let Some(ns) = &cfg.namespace {
            m.labels.insert("namespace".to_owned(), ns.clone());
        }
    }
    let cpu = source
        .range(&RangeQuery {
            metric: metric_cpu,
            function: RangeFunction::Rate { window: cfg.step },
            start,
            end,
            step: cfg.step,
        })
        .await?;
    let memory = source
        .range(&RangeQuery {
            metric: metric_memory,
            function: if cfg.memory_max_over_step {
                RangeFunction::MaxOverTime { window: cfg.step }
            } else {
                RangeFunction::Raw
            },
            start,
            end,
            step: cfg.step,
        })
        .await?;
    let mut history = History::default();
    for (series, is_cpu) in cpu
        .iter()
        .map(|s| (s, true))
        .chain(memory.iter().map(|s| (s, false)))
    {
        let Some(id) = container_of(series) else {
            continue;
        };
        let entry = history.containers.entry(id).or_default();
        let target = if is_cpu {
            &mut entry.cpu
        } else {
            &mut entry.memory
        };
        for s in &series.samples {
            let scaled = if is_cpu { s.value * 1000.0 } else { s.value };
            if !scaled.is_finite() || scaled < 0.0 {
                continue;
            }
            target.push((nanos(s.timestamp), truncate(scaled)));
        }
    }
    for h in history.containers.values_mut() {
        // Stable: samples of one series keep their order; series of one container interleave by time.
        h.cpu.sort_by_key(|&(t, _)| t);
        h.memory.sort_by_key(|&(t, _)| t);
    }
    Ok(history)
}

/// Reads kube-state-metrics' `kube_pod_labels` over the history window: the newest label set seen per pod,
/// with the `label_` prefix removed. kube-state-metrics sanitizes label keys (`app.kubernetes.io/name` becomes
/// `label_app_kubernetes_io_name`), so selectors must use keys made of `[a-zA-Z0-9_]` to match.
///
/// # Errors
/// As [`load_history`].
pub async fn load_pod_labels(
    source: &dyn MetricsSource,
    cfg: &HistoryConfig,
    now: i64,
) -> Result<BTreeMap<(String, String), BTreeMap<String, String>>> {
    let (start, end) = window(cfg, now)?;
    let mut metric = MetricId::named(POD_LABELS_METRIC);
    if let Some(ns) = &cfg.namespace {
        metric.labels.insert("namespace".to_owned(), ns.clone());
    }
    let series = source
        .range(&RangeQuery {
            metric,
            function: RangeFunction::Raw,
            start,
            end,
            step: cfg.step,
        })
        .await?;
    let mut newest: BTreeMap<(String, String), (Timestamp, BTreeMap<String, String>)> =
        BTreeMap::new();
    for s in &series {
        let (Some(ns), Some(pod), Some(last)) = (
            s.labels.get("namespace"),
            s.labels.get("pod"),
            s.samples.last(),
        ) else {
            continue;
        };
        let labels: BTreeMap<String, String> = s
            .labels
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("label_")
                    .filter(|_| !v.is_empty())
                    .map(|k| (k.to_owned(), v.clone()))
            })
            .collect();
        let slot = newest.entry((ns.clone(), pod.clone()));
        match slot {
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert((last.timestamp, labels));
            }
            std::collections::btree_map::Entry::Occupied(mut o) => {
                if last.timestamp > o.get().0 {
                    o.insert((last.timestamp, labels));
                }
            }
        }
    }
    Ok(newest.into_iter().map(|(k, (_, l))| (k, l)).collect())
}

impl History {
    /// One aggregate per container of each pod, fed in time order (CPU then memory; the two never interact).
    pub fn per_container(
        &self,
        cfg: &RecommenderConfig,
    ) -> BTreeMap<&ContainerId, AggregateContainerState> {
        self.containers
            .iter()
            .map(|(id, h)| {
                let mut state = AggregateContainerState::new(cfg);
                for &(t, millicores) in &h.cpu {
                    state.add_cpu_sample(cfg, t, millicores);
                }
                for &(t, bytes) in &h.memory {
                    state.add_memory_sample(cfg, t, bytes);
                }
                (id, state)
            })
            .collect()
    }

    /// Per-container aggregates merged under `key`; containers for which `key` gives `None` are left out.
    pub fn aggregate<K: Ord>(
        &self,
        cfg: &RecommenderConfig,
        mut key: impl FnMut(&ContainerId) -> Option<K>,
    ) -> BTreeMap<K, AggregateContainerState> {
        let mut out: BTreeMap<K, AggregateContainerState> = BTreeMap::new();
        for (id, state) in self.per_container(cfg) {
            let Some(k) = key(id) else { continue };
            match out.entry(k) {
                std::collections::btree_map::Entry::Vacant(v) => {
                    v.insert(state);
                }
                std::collections::btree_map::Entry::Occupied(mut o) => o.get_mut().merge(&state),
            }
        }
        out
    }

    /// Aggregates keyed by (namespace, workload from the pod name, container); see [`workload_of_pod`].
    pub fn aggregate_by_workload(
        &self,
        cfg: &RecommenderConfig,
    ) -> BTreeMap<WorkloadContainer, AggregateContainerState> {
        self.aggregate(cfg, |id| {
            Some(WorkloadContainer {
                namespace: id.namespace.clone(),
                workload: workload_of_pod(&id.pod).to_owned(),
                container: id.container.clone(),
            })
        })
    }

    /// The aggregates of one VPA: per container name, every pod of `namespace` whose labels (`pod_labels`,
    /// keyed by namespace and pod) `selector` matches. Pods without known labels never match.
    pub fn aggregate_by_selector(
        &self,
        cfg: &RecommenderConfig,
        namespace: &str,
        selector: &LabelSelector,
        pod_labels: &BTreeMap<(String, String), BTreeMap<String, String>>,
    ) -> BTreeMap<String, AggregateContainerState> {
        self.aggregate(cfg, |id| {
            let labels = pod_labels.get(&(id.namespace.clone(), id.pod.clone()))?;
            (id.namespace == namespace && selector.matches(labels)).then(|| id.container.clone())
        })
    }
}

/// The workload a pod name most likely belongs to, when owner references are not at hand: a Deployment pod
/// `<name>-<pod-template-hash>-<5 chars>` gives `<name>`, a StatefulSet pod `<name>-<ordinal>` gives `<name>`,
/// a DaemonSet or Job pod `<name>-<5 chars>` gives `<name>`; anything else is its own workload. The hash and
/// suffix are recognised by their shape (Kubernetes' safe alphabet `bcdfghjklmnpqrstvwxz2456789`), so a name
/// like `api-server` stays whole.
pub fn workload_of_pod(pod: &str) -> &str {
    const SAFE: &str = "bcdfghjklmnpqrstvwxz2456789";
    let is_safe = |s: &str| !s.is_empty() && s.chars().all(|c| SAFE.contains(c));
    let Some((head, last)) = pod.rsplit_once('-') else {
        return pod;
    };
    if head.is_empty() {
        return pod;
    }
    if !last.is_empty() && last.chars().all(|c| c.is_ascii_digit()) {
        return head;
    }
    if last.len() == 5 && is_safe(last) {
        if let Some((name, hash)) = head.rsplit_once('-')
            && !name.is_empty()
            && (6..=10).contains(&hash.len())
            && is_safe(hash)
        {
            return name;
        }
        return head;
    }
    pod
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

/// The query window `[now − length, now]` as timestamps.
fn window(cfg: &HistoryConfig, now: i64) -> Result<(Timestamp, Timestamp)> {
    if cfg.step.is_zero() {
        return Err(Error::invalid("history.step", "must be positive"));
    }
    if cfg.length.is_zero() {
        return Err(Error::invalid("history.length", "must be positive"));
    }
    let end = Timestamp::from_nanosecond(i128::from(now))
        .map_err(|e| Error::invalid("now", format!("{now} ns is out of range: {e}")))?;
    let length = jiff::SignedDuration::try_from(cfg.length)
        .map_err(|e| Error::invalid("history.length", e.to_string()))?;
    let start = end
        .checked_sub(length)
        .map_err(|e| Error::invalid("history.length", e.to_string()))?;
    Ok((start, end))
}

/// Engine nanoseconds of a timestamp, saturating at the `i64` range.
fn nanos(t: Timestamp) -> i64 {
    i64::try_from(t.as_nanosecond()).unwrap_or(if t.as_nanosecond() < 0 {
        i64::MIN
    } else {
        i64::MAX
    })
}

/// Truncates a finite, non-negative value to an integer amount, saturating as the estimator does.
#[allow(
    clippy::cast_possible_truncation,
    reason = "truncation toward zero is upstream's float→amount conversion; `as` saturates"
)]
fn truncate(v: f64) -> i64 {
    v as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workloads_from_pod_names() {
        for (pod, workload) in [
            ("web-7d4b9c8f6d-x2x7q", "web"),
            ("my-api-5f6c7d8b9-kq4zt", "my-api"),
            ("db-0", "db"),
            ("db-12", "db"),
            ("node-exporter-x2x7q", "node-exporter"),
            ("api-server", "api-server"),
            ("standalone", "standalone"),
            ("-0", "-0"),
            ("web-ABCDE", "web-ABCDE"),
        ] {
            assert_eq!(workload_of_pod(pod), workload, "{pod}");
        }
    }

    proptest::proptest! {
        #[test]
        fn workload_is_a_prefix(pod in "[a-z0-9-]{0,30}") {
            let w = workload_of_pod(&pod);
            proptest::prop_assert!(pod.starts_with(w) && !w.is_empty() || pod.is_empty());
        }
    }
}
