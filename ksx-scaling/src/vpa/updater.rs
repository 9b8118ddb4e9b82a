//! The VPA updater (spec §3.6): which workloads get their recommendations applied, and ksx's way of applying
//! them.
//!
//! [`plan`] is pure. It takes every VPA with its workload and live pods, the HPAs and PodDisruptionBudgets of
//! the cluster, a [`RateLimiter`] and `now`, and returns an [`UpdatePlan`] with a decision and its reasons per
//! workload and per container resource. The selection follows upstream's updater:
//! - update modes: `Off` only recommends; `Initial` only applies at pod creation; `InPlace` never evicts (and
//!   ksx applies through the pod template only, so it is skipped); `Recreate`, `Auto` (its deprecated alias) and
//!   `InPlaceOrRecreate` (in-place resize is not available through the seam, so it takes its fallback) update;
//! - per pod, upstream's update priority: `resourceDiff` (CPU and memory added), outside the recommended range
//!   (a request below `lowerBound`, above `upperBound`, or absent); a pod qualifies when outside the range, or
//!   when it is at least 12 h old with `resourceDiff ≥ 0.1`, or when a managed container was OOMKilled less than
//!   `evictAfterOOMSeconds` (default 10 min) after it started and `resourceDiff ≠ 0`; scale-ups come first, then
//!   larger diffs;
//! - the budget: controllers with fewer than `minReplicas` (per VPA, else 2) live pods are skipped; with
//!   `tolerance = trunc(configured × 0.5)` an update starts only while `running > configured − tolerance`, or
//!   tolerance 0 with every pod running;
//! - the rate limit (`--eviction-rate-limit`, −1 or 0 off, burst 1): one token per workload update, taken in
//!   priority order.
//!
//! ksx (KubeSphere) then applies differently from upstream: instead of evicting pods it patches the pod
//! template of the Deployment or StatefulSet, so the workload's own rolling update replaces the pods.
//! Requests become the target; limits keep their ratio to the requests under `RequestsAndLimits` and stay as
//! they are under `RequestsOnly`; containers with policy mode `Off` and resources outside `controlledResources`
//! are left alone; a resource an HPA on the same workload scales on with a `Utilization` metric covering the
//! container is never changed (§6: the two would fight), and the plan says so. Because a rollout is not an
//! eviction, PodDisruptionBudgets would not stop it, so the plan does: a rollout starts only when its
//! `maxUnavailable` (Deployment `RollingUpdate`, resolved as the Deployment controller does; `Recreate` is every
//! pod; StatefulSet `RollingUpdate`) keeps at least each matching budget's `minAvailable` pods available and
//! stays within its `maxUnavailable`, takes no more pods down at once than the eviction tolerance would evict,
//! and no rollout is already in progress.
//!
//! [`apply`] writes the planned patches through the [`ClusterWriter`](ksx_core::cluster::ClusterWriter) seam;
//! [`gather`] reads the plan's inputs through [`ClusterReader`](ksx_core::cluster::ClusterReader).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use ksx_core::cluster::{CustomKind, Object};
use ksx_core::quantity::Quantity;
use ksx_core::rolling;
use serde::Serialize;

use crate::vpa::crd::{KIND, RecommendedContainerResources, UpdateMode, VerticalPodAutoscaler};

mod rules;
mod seam;

pub use seam::{Applied, apply, gather};

use rules::{
    hpa_blocked, is_live, pdb_blocks, phase, plan_container, pod_update_priority, template_patch,
    truncate, vpa_key,
};

/// The annotation the patched pod template carries: the VPA (`namespace/name`) whose recommendation it holds.
pub const UPDATED_BY_ANNOTATION: &str = "vpa.ksx.io/updated-by";

/// `--min-replicas`: fewest live pods a controller needs before the updater touches it.
pub const DEFAULT_MIN_REPLICAS: i32 = 2;
/// `--eviction-tolerance`: the fraction of a controller's replicas that may be disrupted at once.
pub const DEFAULT_EVICTION_TOLERANCE: f64 = 0.5;
/// `MinChangePriority`: the smallest `resourceDiff` that justifies updating a pod inside the recommended range.
pub const MIN_CHANGE_PRIORITY: f64 = 0.1;
/// `PodLifetimeUpdateThreshold`: pods younger than this are updated only when outside the range or quick-OOMed.
pub const POD_LIFETIME_UPDATE_THRESHOLD_SECS: i64 = 12 * 3600;
/// `EvictAfterOOMThreshold`: an OOM kill this soon after the container started makes the pod eligible.
pub const EVICT_AFTER_OOM_THRESHOLD_SECS: i64 = 10 * 60;

const NANOS_PER_SEC: i64 = 1_000_000_000;

/// The custom kind of `autoscaling.k8s.io/v1` VerticalPodAutoscaler objects on the cluster seam.
pub fn vpa_kind() -> CustomKind {
    CustomKind {
        group: "autoscaling.k8s.io".to_owned(),
        version: "v1".to_owned(),
        kind: KIND.to_owned(),
        plural: "verticalpodautoscalers".to_owned(),
        namespaced: true,
    }
}

/// The updater's flags, with upstream defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UpdaterConfig {
    /// `--min-replicas` (a VPA's `updatePolicy.minReplicas` overrides it).
    pub min_replicas: i32,
    /// `--eviction-tolerance`.
    pub eviction_tolerance: f64,
    /// `MinChangePriority`.
    pub min_change_priority: f64,
    /// `PodLifetimeUpdateThreshold`, seconds.
    pub pod_lifetime_update_threshold_secs: i64,
    /// `EvictAfterOOMThreshold`, seconds (a VPA's `updatePolicy.evictAfterOOMSeconds` overrides it).
    pub evict_after_oom_threshold_secs: i64,
}

impl Default for UpdaterConfig {
    fn default() -> Self {
        Self {
            min_replicas: DEFAULT_MIN_REPLICAS,
            eviction_tolerance: DEFAULT_EVICTION_TOLERANCE,
            min_change_priority: MIN_CHANGE_PRIORITY,
            pod_lifetime_update_threshold_secs: POD_LIFETIME_UPDATE_THRESHOLD_SECS,
            evict_after_oom_threshold_secs: EVICT_AFTER_OOM_THRESHOLD_SECS,
        }
    }
}

/// A token bucket for `--eviction-rate-limit` (updates per second) and `--eviction-rate-burst`, driven by the
/// `now` it is given. It starts full; a rate of 0 or below (upstream's −1 default) turns it off.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimiter {
    rate_per_sec: f64,
    burst: f64,
    tokens: f64,
    last: Option<i64>,
}

impl Default for RateLimiter {
    /// Upstream's default: off.
    fn default() -> Self {
        Self::new(-1.0, 1)
    }
}

impl RateLimiter {
    /// `rate_per_sec` tokens per second up to `burst` (at least 1); a rate of 0 or below, or NaN, is unlimited.
    pub fn new(rate_per_sec: f64, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            rate_per_sec,
            burst,
            tokens: burst,
            last: None,
        }
    }

    /// True when the limiter is off.
    pub fn is_unlimited(&self) -> bool {
        self.rate_per_sec.is_nan() || self.rate_per_sec <= 0.0
    }

    /// Takes one token at `now` (nanoseconds since the Unix epoch) if one is there. Time never runs backwards
    /// for the bucket: an earlier `now` adds nothing.
    pub fn allow(&mut self, now: i64) -> bool {
        if self.is_unlimited() {
            return true;
        }
        if let Some(last) = self.last {
            if now > last {
                let elapsed = (now - last) as f64 / NANOS_PER_SEC as f64;
                self.tokens = (self.tokens + elapsed * self.rate_per_sec).min(self.burst);
                self.last = Some(now);
            }
        } else {
            self.last = Some(now);
        }
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// One VPA with what it targets.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The VPA.
    pub vpa: VerticalPodAutoscaler,
    /// The Deployment or StatefulSet `spec.targetRef` names, `None` when it does not exist.
    pub workload: Option<Object>,
    /// The workload's pods (terminated and terminating ones are ignored).
    pub pods: Vec<Pod>,
}

/// Everything [`plan`] reads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlanInput {
    /// The VPAs.
    pub targets: Vec<Target>,
    /// Every autoscaling/v2 HPA (those on other workloads are ignored).
    pub hpas: Vec<HorizontalPodAutoscaler>,
    /// Every PodDisruptionBudget (those matching no template are ignored).
    pub pdbs: Vec<PodDisruptionBudget>,
    /// Objects that could not be read (a VPA whose spec does not parse…), carried into the plan.
    pub diagnostics: Vec<String>,
}

/// Upstream's `PodPriority` of one pod.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdatePriority {
    /// A request lies outside `[lowerBound, upperBound]` or is absent.
    pub outside_recommended_range: bool,
    /// Some recommended request is above the current one (or absent).
    pub scale_up: bool,
    /// Σ over resources of |Σ request − Σ recommended| / max(Σ request, 1), milli-units.
    pub resource_diff: f64,
}

impl UpdatePriority {
    /// Upstream's order: scale-ups first, then the larger `resourceDiff`.
    pub fn cmp_urgency(&self, other: &Self) -> std::cmp::Ordering {
        other
            .scale_up
            .cmp(&self.scale_up)
            .then_with(|| other.resource_diff.total_cmp(&self.resource_diff))
    }
}

/// What the plan does with a workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Action {
    /// Patch the pod template.
    Update,
    /// Leave it; `reason` says why.
    Skip,
}

/// One changed value of a container.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceChange {
    /// `cpu` or `memory`.
    pub resource: String,
    /// `requests` or `limits`.
    pub field: String,
    /// The value now (`None`: unset).
    pub from: Option<Quantity>,
    /// The value after the update.
    pub to: Quantity,
}

/// A recommended resource the plan leaves alone, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SkippedResource {
    /// `cpu`, `memory`, or `*` for the whole container.
    pub resource: String,
    /// Why.
    pub reason: String,
}

/// The plan for one container of the pod template.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPlan {
    /// The container name.
    pub name: String,
    /// What changes.
    pub changes: Vec<ResourceChange>,
    /// What is left alone.
    pub skipped: Vec<SkippedResource>,
}

/// The plan for one VPA's workload.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadPlan {
    /// `namespace/name` of the VPA.
    pub vpa: String,
    /// Namespace.
    pub namespace: String,
    /// `Deployment` or `StatefulSet` (the `targetRef` kind).
    pub kind: String,
    /// The workload name.
    pub name: String,
    /// Update or skip.
    pub action: Action,
    /// Why, in a sentence.
    pub reason: String,
    /// The most urgent qualifying pod's priority, when any pod qualifies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<UpdatePriority>,
    /// Live pods that qualify for an update.
    pub pods_to_update: usize,
    /// Per container of the template.
    pub containers: Vec<ContainerPlan>,
    /// The merge patch of the workload, for `Update`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch: Option<serde_json::Value>,
}

/// What [`plan`] decided, workloads sorted by VPA namespace and name.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdatePlan {
    /// One entry per VPA.
    pub workloads: Vec<WorkloadPlan>,
    /// Inputs that could not be used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<String>,
}

impl UpdatePlan {
    /// The workloads the plan updates.
    pub fn updates(&self) -> impl Iterator<Item = &WorkloadPlan> {
        self.workloads.iter().filter(|w| w.action == Action::Update)
    }
}

/// A workload that passed every check but the rate limit, waiting for its token.
struct Candidate {
    index: usize,
    priority: UpdatePriority,
}

/// Plans the updates of every VPA in `input` at `now` (nanoseconds since the Unix epoch). Tokens of `limiter`
/// are taken in priority order, one per updated workload.
pub fn plan(
    input: &PlanInput,
    config: &UpdaterConfig,
    limiter: &mut RateLimiter,
    now: i64,
) -> UpdatePlan {
    let mut targets: Vec<&Target> = input.targets.iter().collect();
    targets.sort_by_key(|t| vpa_key(&t.vpa));
    let mut workloads = Vec::with_capacity(targets.len());
    let mut candidates = Vec::new();
    for target in targets {
        let (entry, priority) = plan_one(target, input, config, now);
        if let Some(priority) = priority {
            candidates.push(Candidate {
                index: workloads.len(),
                priority,
            });
        }
        workloads.push(entry);
    }
    candidates.sort_by(|a, b| {
        a.priority
            .cmp_urgency(&b.priority)
            .then(a.index.cmp(&b.index))
    });
    for c in candidates {
        let Some(w) = workloads.get_mut(c.index) else {
            continue;
        };
        if !limiter.allow(now) {
            w.action = Action::Skip;
            w.patch = None;
            w.reason =
                "rate limited: --eviction-rate-limit has no token left for this update".to_owned();
        }
    }
    UpdatePlan {
        workloads,
        diagnostics: input.diagnostics.clone(),
    }
}

/// The template and rollout facts of a workload.
struct WorkloadView<'a> {
    kind: &'static str,
    template: &'a PodTemplateSpec,
    replicas: i32,
    /// Pods the rollout may take down at once.
    max_unavailable: Result<i32, String>,
    rolling_out: bool,
    on_delete: bool,
}

fn view(object: &Object) -> Option<WorkloadView<'_>> {
    let key = object.key();
    match object {
        Object::Deployment(Deployment {
            spec: Some(spec),
            status,
            metadata,
        }) => {
            let replicas = spec.replicas.unwrap_or(1);
            let recreate =
                spec.strategy.as_ref().and_then(|s| s.type_.as_deref()) == Some("Recreate");
            let max_unavailable = if recreate {
                Ok(replicas)
            } else {
                let rolling_update = spec
                    .strategy
                    .as_ref()
                    .and_then(|s| s.rolling_update.as_ref());
                let default = rolling::default_deployment_fencepost();
                rolling::resolve_fenceposts(
                    &key,
                    Some(
                        rolling_update
                            .and_then(|r| r.max_surge.as_ref())
                            .unwrap_or(&default),
                    ),
                    Some(
                        rolling_update
                            .and_then(|r| r.max_unavailable.as_ref())
                            .unwrap_or(&default),
                    ),
                    replicas,
                )
                .map(|f| rolling::max_unavailable(replicas, f))
                .map_err(|e| e.to_string())
            };
            let status = status.clone().unwrap_or_default();
            let rolling_out = status.observed_generation.unwrap_or(0)
                < metadata.generation.unwrap_or(0)
                || status.updated_replicas.unwrap_or(0) != replicas
                || status.replicas.unwrap_or(0) != replicas;
            Some(WorkloadView {
                kind: "Deployment",
                template: &spec.template,
                replicas,
                max_unavailable,
                rolling_out,
                on_delete: false,
            })
        }
        Object::StatefulSet(StatefulSet {
            spec: Some(spec),
            status,
            ..
        }) => {
            let replicas = spec.replicas.unwrap_or(1);
            let strategy = spec.update_strategy.as_ref();
            let on_delete = strategy.and_then(|s| s.type_.as_deref()) == Some("OnDelete");
            let max_unavailable = rolling::statefulset_max_unavailable(
                &key,
                strategy
                    .and_then(|s| s.rolling_update.as_ref())
                    .and_then(|r| r.max_unavailable.as_ref()),
                replicas,
            )
            .map_err(|e| e.to_string());
            let status = status.clone().unwrap_or_default();
            let rolling_out = status.update_revision.is_some()
                && status.current_revision != status.update_revision;
            Some(WorkloadView {
                kind: "StatefulSet",
                template: &spec.template,
                replicas,
                max_unavailable,
                rolling_out,
                on_delete,
            })
        }
        _ => None,
    }
}

fn plan_one(
    target: &Target,
    input: &PlanInput,
    config: &UpdaterConfig,
    now: i64,
) -> (WorkloadPlan, Option<UpdatePriority>) {
    let vpa = &target.vpa;
    let namespace = vpa.metadata.namespace.clone().unwrap_or_default();
    let target_ref = &vpa.spec.target_ref;
    let mut entry = WorkloadPlan {
        vpa: vpa_key(vpa),
        namespace: namespace.clone(),
        kind: target_ref.kind.clone(),
        name: target_ref.name.clone(),
        action: Action::Skip,
        reason: String::new(),
        priority: None,
        pods_to_update: 0,
        containers: Vec::new(),
        patch: None,
    };
    let skip = |mut entry: WorkloadPlan, reason: String| {
        entry.action = Action::Skip;
        entry.reason = reason;
        (entry, None)
    };
    let mode = vpa.spec.update_mode();
    match mode {
        UpdateMode::Off => {
            return skip(entry, "updateMode Off: the VPA only recommends".to_owned());
        }
        UpdateMode::Initial => {
            return skip(
                entry,
                "updateMode Initial: requests are set at pod creation only".to_owned(),
            );
        }
        UpdateMode::InPlace => {
            return skip(
                entry,
                "updateMode InPlace: pods are never evicted, and ksx applies updates through the pod template only"
                    .to_owned(),
            );
        }
        UpdateMode::Recreate | UpdateMode::Auto | UpdateMode::InPlaceOrRecreate => {}
    }
    let Some(object) = &target.workload else {
        return skip(
            entry,
            format!(
                "targetRef {} {namespace}/{} not found",
                target_ref.kind, target_ref.name
            ),
        );
    };
    let Some(workload) = view(object) else {
        if matches!(object, Object::Deployment(_) | Object::StatefulSet(_)) {
            return skip(entry, format!("{object} has no spec"));
        }
        return skip(
            entry,
            format!(
                "targetRef kind {} is not supported: ksx patches the pod template of a Deployment or StatefulSet",
                object.kind()
            ),
        );
    };
    entry.kind = workload.kind.to_owned();
    let recommendations = vpa
        .status
        .as_ref()
        .and_then(|s| s.recommendation.as_ref())
        .map(|r| r.container_recommendations.as_slice())
        .unwrap_or_default();
    if recommendations.is_empty() {
        return skip(entry, "no recommendation yet".to_owned());
    }
    if workload.on_delete {
        return skip(
            entry,
            "updateStrategy OnDelete: a template patch would not roll out".to_owned(),
        );
    }
    let live: Vec<&Pod> = target.pods.iter().filter(|p| is_live(p)).collect();
    let min_replicas = vpa
        .spec
        .update_policy
        .as_ref()
        .and_then(|p| p.min_replicas)
        .unwrap_or(config.min_replicas);
    let live_count = i32::try_from(live.len()).unwrap_or(i32::MAX);
    if live_count < min_replicas {
        return skip(
            entry,
            format!("too few replicas: {live_count} live pods, minReplicas {min_replicas}"),
        );
    }

    // Which (container, resource) pairs may change, and to what.
    let blocked = hpa_blocked(&namespace, workload.kind, &target_ref.name, &input.hpas);
    let containers = workload
        .template
        .spec
        .as_ref()
        .map(|s| s.containers.as_slice())
        .unwrap_or_default();
    let mut applicable: BTreeMap<String, RecommendedContainerResources> = BTreeMap::new();
    let mut new_containers = Vec::with_capacity(containers.len());
    for container in containers {
        let (plan, rec, updated) = plan_container(vpa, container, recommendations, &blocked);
        if let Some(rec) = rec {
            applicable.insert(container.name.clone(), rec);
        }
        new_containers.push(updated);
        entry.containers.push(plan);
    }
    if entry.containers.iter().all(|c| c.changes.is_empty()) {
        let reason = if applicable.values().all(|r| r.target.is_empty()) {
            "nothing to apply: every recommended resource is left alone (see containers)"
        } else {
            "the pod template already carries the recommended requests"
        };
        return skip(entry, reason.to_owned());
    }

    // Upstream's per-pod rules decide whether the workload needs an update at all.
    let oom_secs = vpa
        .spec
        .update_policy
        .as_ref()
        .and_then(|p| p.evict_after_oom_seconds)
        .unwrap_or(config.evict_after_oom_threshold_secs);
    let mut best: Option<UpdatePriority> = None;
    for pod in &live {
        if let Some(p) = pod_update_priority(pod, &applicable, config, oom_secs, now) {
            entry.pods_to_update += 1;
            if best.is_none_or(|b| p.cmp_urgency(&b).is_lt()) {
                best = Some(p);
            }
        }
    }
    entry.priority = best;
    let Some(priority) = best else {
        return skip(
            entry,
            format!(
                "no pod needs an update: requests are within the recommended range, and none is both {}h old with a change of at least {} or quickly OOMKilled",
                config.pod_lifetime_update_threshold_secs / 3600,
                config.min_change_priority
            ),
        );
    };

    // The budget, the rollout and the PodDisruptionBudgets.
    if workload.rolling_out {
        return skip(entry, "a rollout is already in progress".to_owned());
    }
    let configured = workload.replicas;
    let running =
        i32::try_from(live.iter().filter(|p| phase(p) == "Running").count()).unwrap_or(i32::MAX);
    let tolerance = truncate(f64::from(configured) * config.eviction_tolerance);
    if !(running > configured - tolerance || (tolerance == 0 && running == configured)) {
        return skip(
            entry,
            format!(
                "eviction tolerance: {running} of {configured} pods running, at most {tolerance} may be disrupted"
            ),
        );
    }
    let max_unavailable = match workload.max_unavailable {
        Ok(n) => n,
        Err(e) => return skip(entry, e),
    };
    if max_unavailable > tolerance.max(1) {
        return skip(
            entry,
            format!(
                "the rollout may take {max_unavailable} pods down at once, more than the eviction tolerance of {}",
                tolerance.max(1)
            ),
        );
    }
    if let Some(reason) = pdb_blocks(
        &namespace,
        workload.template,
        configured,
        max_unavailable,
        &input.pdbs,
    ) {
        return skip(entry, reason);
    }

    entry.patch = Some(template_patch(&entry.vpa, &new_containers));
    entry.action = Action::Update;
    entry.reason = format!(
        "{} of {} live pods need an update ({}); the pod template is patched and rolled out {}",
        entry.pods_to_update,
        live.len(),
        if priority.outside_recommended_range {
            "requests outside the recommended range"
        } else {
            "resource diff above the minimum change"
        },
        if max_unavailable == 0 {
            "by surge, never taking a ready pod down (maxUnavailable 0)".to_owned()
        } else {
            format!("with at most {max_unavailable} pod(s) unavailable at a time")
        }
    );
    (entry, Some(priority))
}
