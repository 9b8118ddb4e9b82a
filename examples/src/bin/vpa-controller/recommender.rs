//! The recommender loop of one process: per VPA and container, the usage samples of the pods the VPA's
//! `targetRef` selects are fed into one aggregate per pod container; each loop merges them (with the state restored
//! from checkpoints) per container name, asks `ksx_scaling::vpa::estimate` for the recommendation, applies the
//! VPA's policy, writes `status.recommendation` and the conditions back, and saves one checkpoint per
//! (VPA, container) to a `CheckpointStore`.
//!
//! This file is shared by the `vpa-controller` binary and the `ksx demo` VPA section (`#[path]`), so it refers to
//! nothing of either crate root.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::Pod;
use ksx_core::cluster::selector::LabelSelector;
use ksx_core::cluster::{ClusterReader, ClusterWriter, Kind, Object, Patch};
use ksx_core::metrics::MetricsSource;
use ksx_core::quantity::Quantity;
use ksx_scaling::vpa::aggregate::{AggregateContainerState, amount_from_float};
use ksx_scaling::vpa::checkpoint::CheckpointKey;
use ksx_scaling::vpa::config::RecommenderConfig;
use ksx_scaling::vpa::crd::{
    ContainerScalingMode, RecommendedContainerResources, ResourceList, VerticalPodAutoscaler,
    VpaCondition,
};
use ksx_scaling::vpa::estimate::{apply_policy, confidence, recommend};
use ksx_scaling::vpa::store::CheckpointStore;
use ksx_scaling::vpa::updater::{PlanInput, Target, gather, vpa_kind};
use serde::Serialize;

/// Nanoseconds per second.
const NANOS: i64 = 1_000_000_000;

/// Below this confidence (one confidence interval of history, a day by default) `LowConfidence` is `True`.
const LOW_CONFIDENCE_BELOW: f64 = 1.0;

/// A VPA's namespace and name.
type VpaKey = (String, String);

/// The aggregates of one container name of one VPA.
#[derive(Debug, Default)]
struct ContainerAggregates {
    /// What the checkpoint (or the history bootstrap) brought at start-up.
    base: Option<AggregateContainerState>,
    /// One aggregate per pod (by pod name): the acceptance rules (strictly later CPU samples, memory windows)
    /// hold per pod container, as upstream's `ContainerState`.
    pods: BTreeMap<String, AggregateContainerState>,
    /// OOM kills already recorded: (pod, container finish time).
    ooms: BTreeSet<(String, String)>,
}

/// One recommendation, as printed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RecommendationLine {
    /// Always `recommendation`.
    pub(crate) kind: &'static str,
    /// RFC 3339.
    pub(crate) time: String,
    /// Seconds since the start of this process's run.
    pub(crate) elapsed_seconds: i64,
    pub(crate) namespace: String,
    pub(crate) vpa: String,
    /// `Deployment/web`.
    pub(crate) target_ref: String,
    pub(crate) container: String,
    pub(crate) target: ResourceList,
    pub(crate) lower_bound: ResourceList,
    pub(crate) upper_bound: ResourceList,
    pub(crate) uncapped_target: ResourceList,
    /// Upstream's confidence (days of history, or CPU samples per day-of-minutes, the smaller).
    pub(crate) confidence: f64,
    /// CPU samples in the aggregate (restored ones included).
    pub(crate) samples: u64,
    /// `RecommendationProvided` / `LowConfidence` with their status, `True` or `False`.
    pub(crate) conditions: BTreeMap<String, String>,
    /// Why this VPA got no recommendation, or its status could not be written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
}

/// What [`Recommender::restore`] found.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Restored {
    /// Checkpoints loaded.
    pub(crate) loaded: usize,
    /// Checkpoints that did not load, one message each (they are skipped, never fatal).
    pub(crate) errors: Vec<String>,
    /// The newest `lastUpdateTime` among them, Unix seconds.
    pub(crate) newest_secs: Option<i64>,
}

/// The recommender's state: aggregates per VPA and container name.
#[derive(Debug)]
pub(crate) struct Recommender {
    cfg: RecommenderConfig,
    vpas: BTreeMap<VpaKey, BTreeMap<String, ContainerAggregates>>,
    /// Status conditions as last written, to keep `lastTransitionTime` when the status does not flip.
    since: BTreeMap<(VpaKey, String), (String, String)>,
    /// When expired aggregates were last collected (at most hourly, as upstream), Unix nanoseconds.
    last_collection: Option<i64>,
}

/// How often expired aggregates are collected (upstream's `AggregateContainerStateGCInterval`).
const COLLECTION_INTERVAL_NANOS: i64 = 3600 * NANOS;

impl Recommender {
    pub(crate) fn new(cfg: RecommenderConfig) -> Self {
        Self {
            cfg,
            vpas: BTreeMap::new(),
            since: BTreeMap::new(),
            last_collection: None,
        }
    }

    /// Loads every checkpoint of `store` as the starting state of its (VPA, container); a checkpoint that does
    /// not load is reported and skipped.
    pub(crate) async fn restore<S: CheckpointStore + ?Sized>(
        &mut self,
        store: &S,
    ) -> anyhow::Result<Restored> {
        let loaded = store.load_all().await?;
        let mut out = Restored {
            errors: loaded.errors.iter().map(ToString::to_string).collect(),
            ..Restored::default()
        };
        for (key, cp) in loaded.checkpoints {
            match AggregateContainerState::from_checkpoint(&self.cfg, &cp) {
                Ok(state) => {
                    out.loaded += 1;
                    out.newest_secs = out.newest_secs.max(Some(cp.last_update_time));
                    self.vpas
                        .entry((key.namespace.clone(), key.vpa_name.clone()))
                        .or_default()
                        .entry(key.container_name.clone())
                        .or_default()
                        .base = Some(state);
                }
                Err(e) => out
                    .errors
                    .push(format!("checkpoint {}: {e}", key.object_name())),
            }
        }
        Ok(out)
    }

    /// Adds a bootstrap aggregate (from the Prometheus history) under a VPA's container, merged into whatever
    /// a checkpoint brought.
    #[cfg_attr(
        not(all(feature = "kube", feature = "prometheus")),
        allow(dead_code, reason = "used by the Prometheus history bootstrap only")
    )]
    pub(crate) fn seed(
        &mut self,
        namespace: &str,
        vpa: &str,
        container: &str,
        state: &AggregateContainerState,
    ) {
        let slot = self
            .vpas
            .entry((namespace.to_owned(), vpa.to_owned()))
            .or_default()
            .entry(container.to_owned())
            .or_default();
        match &mut slot.base {
            Some(base) => base.merge(state),
            None => slot.base = Some(state.clone()),
        }
    }

    /// One recommender loop at `now`: gathers the VPAs and their pods, feeds the pods' usage, recommends and
    /// writes each VPA's status. Returns the gathered inputs (for the updater) and one line per container
    /// recommendation (or one error line per VPA without one), in VPA then container order.
    pub(crate) async fn step<C, M>(
        &mut self,
        cluster: &C,
        metrics: &M,
        now: i64,
        start: i64,
    ) -> anyhow::Result<Vec<RecommendationLine>>
    where
        C: ClusterReader + ClusterWriter + ?Sized,
        M: MetricsSource + ?Sized,
    {
        if self
            .last_collection
            .is_none_or(|t| now - t >= COLLECTION_INTERVAL_NANOS)
        {
            self.collect_expired(now);
            self.last_collection = Some(now);
        }
        let input: PlanInput = gather(cluster, None).await?;
        let mut lines = Vec::new();
        let mut live = BTreeSet::new();
        for target in &input.targets {
            let key = vpa_key(&target.vpa);
            live.insert(key.clone());
            let base_line = RecommendationLine {
                kind: "recommendation",
                time: rfc3339(now),
                elapsed_seconds: (now - start) / NANOS,
                namespace: key.0.clone(),
                vpa: key.1.clone(),
                target_ref: format!(
                    "{}/{}",
                    target.vpa.spec.target_ref.kind, target.vpa.spec.target_ref.name
                ),
                container: String::new(),
                target: ResourceList::new(),
                lower_bound: ResourceList::new(),
                upper_bound: ResourceList::new(),
                uncapped_target: ResourceList::new(),
                confidence: 0.0,
                samples: 0,
                conditions: BTreeMap::new(),
                error: None,
            };
            if let Err(e) = self.feed(target, metrics).await {
                lines.push(RecommendationLine {
                    error: Some(e.to_string()),
                    ..base_line
                });
                continue;
            }
            let mut mine = self.recommend_one(target, now, &base_line);
            let status_error = self
                .write_status(cluster, target, &mut mine, now)
                .await
                .err();
            if mine.is_empty() {
                lines.push(RecommendationLine {
                    error: Some(status_error.map_or_else(
                        || "no samples yet for the pods of the target".to_owned(),
                        |e| e.to_string(),
                    )),
                    ..base_line
                });
                continue;
            }
            if let Some(e) = status_error {
                for l in &mut mine {
                    l.error = Some(format!("cannot write the status: {e}"));
                }
            }
            lines.extend(mine);
        }
        // VPAs that are gone take their aggregates with them (their checkpoints go with the orphan collection).
        self.vpas
            .retain(|k, v| live.contains(k) || v.values().any(|c| c.base.is_some()));
        Ok(lines)
    }

    /// Reads the usage of the target's pods and feeds it, with any OOM kill the pods report.
    async fn feed<M: MetricsSource + ?Sized>(
        &mut self,
        target: &Target,
        metrics: &M,
    ) -> anyhow::Result<()> {
        let key = vpa_key(&target.vpa);
        let selector = match &target.workload {
            Some(Object::Deployment(d)) => d.spec.as_ref().map(|s| &s.selector),
            Some(Object::StatefulSet(s)) => s.spec.as_ref().map(|s| &s.selector),
            _ => None,
        };
        let Some(selector) = selector else {
            let r = &target.vpa.spec.target_ref;
            anyhow::bail!(
                "targetRef {}/{} does not exist in namespace {} (only Deployments and StatefulSets are read)",
                r.kind,
                r.name,
                key.0
            );
        };
        let selector = LabelSelector::from_k8s(selector)?;
        anyhow::ensure!(
            !selector.is_empty(),
            "the target's selector is empty: it would select every pod"
        );
        let live: BTreeSet<&str> = target
            .pods
            .iter()
            .filter_map(|p| p.metadata.name.as_deref())
            .collect();
        let usage = metrics.pod_usage(&key.0, &selector.to_string()).await?;
        let cfg = self.cfg.clone();
        let containers = self.vpas.entry(key).or_default();
        for pod in usage.iter().filter(|u| live.contains(u.name.as_str())) {
            let t = nanos(pod.timestamp);
            for c in &pod.containers {
                let state = containers
                    .entry(c.name.clone())
                    .or_default()
                    .pods
                    .entry(pod.name.clone())
                    .or_insert_with(|| AggregateContainerState::new(&cfg));
                state.add_cpu_sample(&cfg, t, amount_from_float(c.cpu_cores * 1000.0));
                state.add_memory_sample(&cfg, t, amount_from_float(c.memory_bytes));
            }
        }
        for pod in &target.pods {
            for (container, finished, request) in oom_kills(pod) {
                let pod_name = pod.metadata.name.clone().unwrap_or_default();
                let slot = containers.entry(container).or_default();
                if !slot.ooms.insert((pod_name.clone(), finished.to_string())) {
                    continue;
                }
                slot.pods
                    .entry(pod_name)
                    .or_insert_with(|| AggregateContainerState::new(&cfg))
                    .record_oom(&cfg, nanos(finished), request);
            }
        }
        fold_gone_pods(containers, &live);
        Ok(())
    }

    /// Drops what upstream's hourly collection drops: a container whose newest sample is older than the memory
    /// aggregation window (interval × count, 8 days by default) and that no live pod feeds any more, and empty
    /// ones no pod feeds. Their checkpoints then go with the orphan collection.
    fn collect_expired(&mut self, now: i64) {
        let window = self
            .cfg
            .memory_aggregation_interval_seconds
            .saturating_mul(self.cfg.memory_aggregation_interval_count)
            .saturating_mul(NANOS);
        for containers in self.vpas.values_mut() {
            containers.retain(|_, c| {
                !c.pods.is_empty()
                    || c.base
                        .as_ref()
                        .and_then(AggregateContainerState::last_sample_start)
                        .is_some_and(|last| now.saturating_sub(last) < window)
            });
        }
        self.vpas.retain(|_, containers| !containers.is_empty());
    }

    /// The merged aggregate of one container: the restored base plus every pod's aggregate.
    fn merged(&self, c: &ContainerAggregates) -> AggregateContainerState {
        let mut merged = c
            .base
            .clone()
            .unwrap_or_else(|| AggregateContainerState::new(&self.cfg));
        for pod in c.pods.values() {
            merged.merge(pod);
        }
        merged
    }

    /// Recommendations of one VPA's containers with samples, policy applied (containers whose policy is `Off`
    /// get none).
    fn recommend_one(
        &self,
        target: &Target,
        now: i64,
        base_line: &RecommendationLine,
    ) -> Vec<RecommendationLine> {
        let key = vpa_key(&target.vpa);
        let Some(containers) = self.vpas.get(&key) else {
            return Vec::new();
        };
        let merged: Vec<(String, AggregateContainerState)> = containers
            .iter()
            .map(|(name, c)| (name.clone(), self.merged(c)))
            .filter(|(_, s)| s.total_samples_count() > 0)
            .collect();
        let refs: Vec<(&str, &AggregateContainerState)> =
            merged.iter().map(|(n, s)| (n.as_str(), s)).collect();
        let spec = &target.vpa.spec;
        recommend(&self.cfg, &refs, now)
            .iter()
            .filter(|r| {
                spec.container_policy(&r.container_name)
                    .is_none_or(|p| p.mode != Some(ContainerScalingMode::Off))
            })
            .map(|r| {
                let r = apply_policy(r, spec);
                let state = merged
                    .iter()
                    .find(|(n, _)| *n == r.container_name)
                    .map(|(_, s)| s);
                RecommendationLine {
                    container: r.container_name.clone(),
                    target: r.target,
                    lower_bound: r.lower_bound,
                    upper_bound: r.upper_bound,
                    uncapped_target: r.uncapped_target,
                    confidence: state.map_or(0.0, |s| confidence(&self.cfg, s)),
                    samples: state.map_or(0, AggregateContainerState::total_samples_count),
                    ..base_line.clone()
                }
            })
            .collect()
    }

    /// Writes `status.recommendation` and the `RecommendationProvided` / `LowConfidence` conditions, filling
    /// the lines' `conditions`.
    async fn write_status<C: ClusterWriter + ?Sized>(
        &mut self,
        cluster: &C,
        target: &Target,
        lines: &mut [RecommendationLine],
        now: i64,
    ) -> anyhow::Result<()> {
        let key = vpa_key(&target.vpa);
        let provided = !lines.is_empty();
        let low = lines
            .iter()
            .map(|l| l.confidence)
            .fold(f64::INFINITY, f64::min);
        let low_confidence = provided && low < LOW_CONFIDENCE_BELOW;
        let wanted = [
            (
                "RecommendationProvided",
                provided,
                if provided {
                    (
                        "RecommendationProvided",
                        "the recommendation is up to date".to_owned(),
                    )
                } else {
                    (
                        "NoSamples",
                        "no usage samples of the target's pods yet".to_owned(),
                    )
                },
            ),
            (
                "LowConfidence",
                low_confidence,
                if low_confidence {
                    (
                        "ShortHistory",
                        format!(
                            "the shortest history covers {low:.3} of a confidence interval (below 1)"
                        ),
                    )
                } else {
                    (
                        "EnoughHistory",
                        "the history covers at least one confidence interval".to_owned(),
                    )
                },
            ),
        ];
        let mut conditions = Vec::new();
        for (type_, status, (reason, message)) in wanted {
            let status = if status { "True" } else { "False" };
            let slot = (key.clone(), type_.to_owned());
            let since = match self.since.get(&slot) {
                Some((s, t)) if s == status => t.clone(),
                _ => {
                    // A condition already on the object with the same status keeps its time (restart).
                    let existing = target
                        .vpa
                        .status
                        .as_ref()
                        .and_then(|st| st.conditions.iter().find(|c| c.type_ == type_))
                        .filter(|c| c.status == status)
                        .and_then(|c| c.last_transition_time.clone());
                    existing.unwrap_or_else(|| rfc3339(now))
                }
            };
            self.since.insert(slot, (status.to_owned(), since.clone()));
            conditions.push(VpaCondition {
                type_: type_.to_owned(),
                status: status.to_owned(),
                last_transition_time: Some(since),
                reason: Some(reason.to_owned()),
                message: Some(message),
            });
        }
        let printed: BTreeMap<String, String> = conditions
            .iter()
            .map(|c| (c.type_.clone(), c.status.clone()))
            .collect();
        for l in lines.iter_mut() {
            l.conditions.clone_from(&printed);
        }
        let recommendations: Vec<RecommendedContainerResources> = lines
            .iter()
            .map(|l| RecommendedContainerResources {
                container_name: l.container.clone(),
                target: l.target.clone(),
                lower_bound: l.lower_bound.clone(),
                upper_bound: l.upper_bound.clone(),
                uncapped_target: l.uncapped_target.clone(),
            })
            .collect();
        let mut status = serde_json::json!({ "conditions": conditions });
        if provided && let Some(map) = status.as_object_mut() {
            map.insert(
                "recommendation".to_owned(),
                serde_json::json!({ "containerRecommendations": recommendations }),
            );
        }
        cluster
            .patch_status(
                &Kind::Custom(vpa_kind()),
                Some(&key.0),
                &key.1,
                &Patch::Merge(serde_json::json!({ "status": status })),
            )
            .await?;
        Ok(())
    }

    /// Saves one checkpoint per (VPA, container) at `now`. Each pod aggregate goes through its own checkpoint
    /// form first, so the peak of its open memory window is left out as upstream's writer does: a restart does
    /// not count it twice. Returns the number saved.
    pub(crate) async fn checkpoint<S: CheckpointStore + ?Sized>(
        &self,
        store: &S,
        now: i64,
    ) -> anyhow::Result<usize> {
        let mut saved = 0;
        for ((namespace, vpa), containers) in &self.vpas {
            for (container, c) in containers {
                let mut state = c
                    .base
                    .clone()
                    .unwrap_or_else(|| AggregateContainerState::new(&self.cfg));
                for pod in c.pods.values() {
                    let closed = AggregateContainerState::from_checkpoint(
                        &self.cfg,
                        &pod.to_checkpoint(&self.cfg, now),
                    )?;
                    state.merge(&closed);
                }
                if state.total_samples_count() == 0 {
                    continue;
                }
                let key = CheckpointKey {
                    namespace: namespace.clone(),
                    vpa_name: vpa.clone(),
                    container_name: container.clone(),
                };
                store
                    .save(&key, &state.to_checkpoint(&self.cfg, now))
                    .await?;
                saved += 1;
            }
        }
        Ok(saved)
    }

    /// Deletes the checkpoints of VPAs and containers this recommender no longer knows; returns how many.
    pub(crate) async fn collect_orphans<S: CheckpointStore + ?Sized>(
        &self,
        store: &S,
    ) -> anyhow::Result<usize> {
        let live: BTreeSet<CheckpointKey> = self
            .vpas
            .iter()
            .flat_map(|((ns, vpa), cs)| {
                cs.keys().map(|c| CheckpointKey {
                    namespace: ns.clone(),
                    vpa_name: vpa.clone(),
                    container_name: c.clone(),
                })
            })
            .collect();
        Ok(store.collect_orphans(&live).await?.len())
    }
}

/// `(container, finishedAt, memory request bytes)` of each container whose last termination was an OOM kill.
fn oom_kills(pod: &Pod) -> Vec<(String, jiff::Timestamp, i64)> {
    let requests: BTreeMap<&str, i64> = pod
        .spec
        .iter()
        .flat_map(|s| &s.containers)
        .map(|c| {
            let memory = c
                .resources
                .as_ref()
                .and_then(|r| r.requests.as_ref())
                .and_then(|r| r.get("memory"))
                .and_then(|q| Quantity::parse(&q.0).ok())
                .map_or(0, |q| q.value());
            (c.name.as_str(), memory)
        })
        .collect();
    pod.status
        .iter()
        .flat_map(|s| s.container_statuses.iter().flatten())
        .filter_map(|cs| {
            let t = cs.last_state.as_ref()?.terminated.as_ref()?;
            if t.reason.as_deref() != Some("OOMKilled") {
                return None;
            }
            let finished = t.finished_at.as_ref()?.0;
            let request = requests.get(cs.name.as_str()).copied().unwrap_or(0);
            Some((cs.name.clone(), finished, request))
        })
        .collect()
}

fn vpa_key(vpa: &VerticalPodAutoscaler) -> VpaKey {
    (
        vpa.metadata.namespace.clone().unwrap_or_default(),
        vpa.metadata.name.clone().unwrap_or_default(),
    )
}

/// Engine time of a timestamp.
pub(crate) fn nanos(t: jiff::Timestamp) -> i64 {
    i64::try_from(t.as_nanosecond()).unwrap_or(i64::MAX)
}

/// RFC 3339, whole seconds.
pub(crate) fn rfc3339(nanos: i64) -> String {
    jiff::Timestamp::from_nanosecond(i128::from(nanos))
        .map(|t| t.round(jiff::Unit::Second).unwrap_or(t).to_string())
        .unwrap_or_default()
}

/// Folds the aggregates of pods that are gone into their container's base, so their samples stay in the
/// history while the per-pod state (and its OOM records) goes: memory stays bounded by the live pods.
fn fold_gone_pods(containers: &mut BTreeMap<String, ContainerAggregates>, live: &BTreeSet<&str>) {
    for slot in containers.values_mut() {
        let gone: Vec<String> = slot
            .pods
            .keys()
            .filter(|p| !live.contains(p.as_str()))
            .cloned()
            .collect();
        for pod in gone {
            if let Some(state) = slot.pods.remove(&pod) {
                match &mut slot.base {
                    Some(base) => base.merge(&state),
                    None => slot.base = Some(state),
                }
            }
            slot.ooms.retain(|(p, _)| *p != pod);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400 * NANOS;

    fn sampled(cfg: &RecommenderConfig, t: i64) -> AggregateContainerState {
        let mut s = AggregateContainerState::new(cfg);
        assert!(s.add_cpu_sample(cfg, t, 250));
        s
    }

    #[test]
    fn gone_pods_fold_into_the_base_and_keep_their_samples() {
        let cfg = RecommenderConfig::default();
        let mut containers = BTreeMap::new();
        let slot: &mut ContainerAggregates = containers.entry("app".to_owned()).or_default();
        slot.pods.insert("web-1".to_owned(), sampled(&cfg, DAY));
        slot.pods.insert("web-2".to_owned(), sampled(&cfg, 2 * DAY));
        slot.ooms.insert(("web-1".to_owned(), "t".to_owned()));
        fold_gone_pods(&mut containers, &BTreeSet::from(["web-2"]));
        let slot = &containers["app"];
        assert_eq!(slot.pods.keys().collect::<Vec<_>>(), ["web-2"]);
        assert!(
            slot.ooms.is_empty(),
            "the gone pod's OOM records go with it"
        );
        let base = slot.base.as_ref().expect("web-1 folded into the base");
        assert_eq!(base.total_samples_count(), 1);
        assert_eq!(base.last_sample_start(), Some(DAY));
    }

    #[test]
    fn expired_aggregates_are_collected_hourly() {
        let cfg = RecommenderConfig::default();
        let mut r = Recommender::new(cfg.clone());
        let key = |vpa: &str| ("shop".to_owned(), vpa.to_owned());
        // `old`: last sample at day 1, no pods; `fresh`: day 5, no pods; `fed`: day 1 but a pod still feeds it.
        for (vpa, last, with_pod) in [
            ("old", DAY, false),
            ("fresh", 5 * DAY, false),
            ("fed", DAY, true),
        ] {
            let slot = r
                .vpas
                .entry(key(vpa))
                .or_default()
                .entry("app".to_owned())
                .or_default();
            if with_pod {
                slot.pods.insert("p".to_owned(), sampled(&cfg, last));
            } else {
                slot.base = Some(sampled(&cfg, last));
            }
        }
        // The window is 8 × 24 h: at day 9 exactly, `old` (8 days) has expired and `fresh` (4 days) has not.
        r.collect_expired(9 * DAY);
        let left: Vec<&str> = r.vpas.keys().map(|(_, v)| v.as_str()).collect();
        assert_eq!(left, ["fed", "fresh"]);
        r.collect_expired(9 * DAY - 1 + 4 * DAY);
        let left: Vec<&str> = r.vpas.keys().map(|(_, v)| v.as_str()).collect();
        assert_eq!(left, ["fed", "fresh"], "one nanosecond short of the window");
        r.collect_expired(13 * DAY);
        let left: Vec<&str> = r.vpas.keys().map(|(_, v)| v.as_str()).collect();
        assert_eq!(left, ["fed"]);
    }
}
