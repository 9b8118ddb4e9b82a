//! The scheduling cycle: filter, score, normalize, weigh, pick, bind (scheduling.md §1.1–§1.3, §1.8, §8 D2).
//!
//! [`Scheduler`] owns a [`Snapshot`] and a [`Profile`]. For each pod it prepares the plugins once, walks the nodes
//! from a rotating start index in name order, stops after `percentageOfNodesToScore` feasible nodes, scores them,
//! normalizes each plugin's scores, weighs and sums them, and binds the pod to the best node (ties go to the
//! smallest node name). The per-node loop allocates nothing; reasons are only built when a pod fits nowhere.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;

use crate::device::{self, GpuRequest, GpuTable, Policy};
use crate::error::Result;
use crate::nodegroup::{self, GroupContext, GroupPolicy, Membership, NodeGroups};
use crate::plugins::balanced::BalancedScorer;
use crate::plugins::fit::{self, FitChecks, FitConfig, FitScorer};
use crate::plugins::taints::{self, UNSCHEDULABLE_REASON};
use crate::plugins::{self, affinity, default_normalize};
use crate::snapshot::{NodeId, NodeInfo, PodInfo, Snapshot};

mod fast;
use fast::{ClassCache, FastRow};

/// Fewer nodes than this are always all searched (`minFeasibleNodesToFind`).
pub const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// The adaptive percentage never goes below this (`minFeasibleNodesPercentageToFind`).
pub const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND: usize = 5;

/// How many feasible nodes to find among `all` (upstream `numFeasibleNodesToFind`): all below 100 nodes; else
/// `all × pct / 100` with `pct` configured or, when 0, `max(5, 50 − all/125)`; never fewer than 100.
pub fn num_feasible_nodes_to_find(all: usize, percentage: u8) -> usize {
    if all < MIN_FEASIBLE_NODES_TO_FIND {
        return all;
    }
    let mut pct = usize::from(percentage.min(100));
    if pct == 0 {
        pct = 50usize
            .saturating_sub(all / 125)
            .max(MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND);
    }
    (all * pct / 100).max(MIN_FEASIBLE_NODES_TO_FIND)
}

/// Which filters run besides NodeResourcesFit (which always runs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filters {
    /// NodeUnschedulable.
    pub node_unschedulable: bool,
    /// TaintToleration.
    pub taint_toleration: bool,
    /// NodeAffinity (with `nodeSelector`).
    pub node_affinity: bool,
    /// NodeGroupAffinity (only with node groups configured).
    pub node_group_affinity: bool,
    /// GpuFit (only with GPU devices configured; skips pods that request no device).
    pub gpu_fit: bool,
}

impl Default for Filters {
    fn default() -> Self {
        Self {
            node_unschedulable: true,
            taint_toleration: true,
            node_affinity: true,
            node_group_affinity: true,
            gpu_fit: true,
        }
    }
}

/// Score plugin weights; 0 turns a score plugin off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Weights {
    /// NodeResourcesFit (upstream default 1).
    pub node_resources_fit: i64,
    /// NodeResourcesBalancedAllocation (1).
    pub balanced_allocation: i64,
    /// TaintToleration (3).
    pub taint_toleration: i64,
    /// NodeAffinity (2).
    pub node_affinity: i64,
    /// NodeGroupAffinity (ksx; 2, as NodeAffinity).
    pub node_group_affinity: i64,
    /// GpuBinpack or GpuSpread, by [`Profile::gpu_policy`] (ksx; 1; only with GPU devices configured).
    pub gpu: i64,
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            node_resources_fit: 1,
            balanced_allocation: 1,
            taint_toleration: 3,
            node_affinity: 2,
            node_group_affinity: 2,
            gpu: 1,
        }
    }
}

/// A scheduling profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// NodeResourcesFit args (filter and score).
    pub fit: FitConfig,
    /// NodeResourcesBalancedAllocation resources.
    pub balanced: Vec<String>,
    /// Filters.
    pub filters: Filters,
    /// Score weights.
    pub weights: Weights,
    /// 0–100; 0 is adaptive.
    pub percentage_of_nodes_to_score: u8,
    /// Threads that filter and score one pod when every node is searched (upstream's default parallelism is 16;
    /// ksx defaults to 1 and lets the driver choose): [`Scheduler::schedule_all`] then runs the batch in a rayon
    /// pool of that many threads, which split each pod's candidates. Results do not depend on it.
    pub parallelism: usize,
    /// The GPU policy: device order in GpuFit and the GPU score plugin (`GpuBinpack` or `GpuSpread`); a pod's
    /// `gpu.ksx.io/policy` annotation overrides it for device order.
    pub gpu_policy: Policy,
}

impl Default for Profile {
    fn default() -> Self {
        Self {
            fit: FitConfig::default(),
            balanced: vec!["cpu".to_owned(), "memory".to_owned()],
            filters: Filters::default(),
            weights: Weights::default(),
            percentage_of_nodes_to_score: 0,
            parallelism: 1,
            gpu_policy: Policy::Binpack,
        }
    }
}

/// How bad a filter failure is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Code {
    /// Preemption might help.
    Unschedulable,
    /// Preemption cannot help.
    UnschedulableAndUnresolvable,
}

/// Why a node was filtered out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The plugin that rejected it (the first failing one, as upstream stops there).
    pub plugin: &'static str,
    /// The status code.
    pub code: Code,
    /// The reasons, in upstream wording.
    pub reasons: Vec<String>,
}

/// The raw (pre-normalization) scores of one feasible node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RawScores {
    /// NodeResourcesFit, 0–100.
    pub node_resources_fit: i64,
    /// NodeResourcesBalancedAllocation, 0–100 (`None` when the plugin skips the pod).
    pub balanced_allocation: Option<i64>,
    /// TaintToleration: untolerated `PreferNoSchedule` taints.
    pub taint_toleration: i64,
    /// NodeAffinity: the sum of matching preferred weights.
    pub node_affinity: i64,
    /// NodeGroupAffinity: 100 or 0.
    pub node_group_affinity: i64,
    /// GpuBinpack / GpuSpread, 0–100 (`None` when the pod requests no device or no devices are configured).
    pub gpu: Option<i64>,
}

/// One node's filter result and raw scores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeEvaluation {
    /// The node.
    pub node: String,
    /// Why it was filtered out (`None` when feasible).
    pub rejection: Option<Rejection>,
    /// The raw scores (feasible nodes only).
    pub scores: Option<RawScores>,
}

/// The outcome of scheduling one pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Bound to a node.
    Scheduled {
        /// The node's name.
        node: String,
        /// Its id in the snapshot.
        node_id: NodeId,
        /// The weighted total (0 when a single feasible node skipped scoring).
        score: i64,
        /// Filter evaluations made (nodes checked).
        evaluated: usize,
    },
    /// No node fits.
    Unschedulable {
        /// `reason → number of nodes`, as upstream's `0/N nodes are available: …` message counts them.
        reasons: BTreeMap<String, usize>,
        /// Filter evaluations made.
        evaluated: usize,
    },
}

impl Decision {
    /// Upstream's message for an unschedulable pod: `0/N nodes are available: 3 Insufficient cpu, ….`
    pub fn message(&self, nodes: usize) -> String {
        match self {
            Self::Scheduled { node, .. } => format!("scheduled on {node}"),
            Self::Unschedulable { reasons, .. } => {
                let mut parts: Vec<String> =
                    reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
                parts.sort();
                format!("0/{nodes} nodes are available: {}.", parts.join(", "))
            }
        }
    }
}

/// The per-pod state of every plugin.
pub(crate) struct Prepared<'a> {
    pod: &'a PodInfo,
    fit: FitChecks,
    fit_scorer: FitScorer,
    balanced: BalancedScorer,
    group: Option<GroupPolicy>,
    gpu: Option<GpuRequest>,
}

/// The scheduler: a snapshot, a profile, optional node groups, and the rotating start index.
#[derive(Debug, Clone)]
pub struct Scheduler {
    snapshot: Snapshot,
    profile: Profile,
    groups: Option<(NodeGroups, Membership, GroupContext)>,
    gpus: Option<GpuTable>,
    gpu_requests: std::collections::HashMap<String, GpuRequest>,
    next_start: usize,
    rows: Vec<Row>,
    column: Vec<i64>,
    classes: ClassCache,
    fast_rows: Vec<FastRow>,
    found: Vec<(usize, Option<i64>)>,
}

/// A feasible node and its raw (then normalized) scores.
#[derive(Debug, Clone, Copy, Default)]
struct Row {
    id: u32,
    raw: [i64; 6],
}

/// Below this many nodes a pod is never split across threads (the spawn costs more than it saves).
pub const PARALLEL_MIN_NODES: usize = 1_000;

impl Scheduler {
    /// A scheduler over a snapshot.
    pub fn new(snapshot: Snapshot, profile: Profile) -> Self {
        Self {
            snapshot,
            profile,
            groups: None,
            gpus: None,
            gpu_requests: std::collections::HashMap::new(),
            next_start: 0,
            rows: Vec::new(),
            column: Vec::new(),
            classes: ClassCache::default(),
            fast_rows: Vec::new(),
            found: Vec::new(),
        }
    }

    /// Adds node groups: assigns every node and enables the NodeGroupAffinity filter and score.
    ///
    /// # Errors
    /// [`crate::Error::InvalidNodeGroup`] when two groups claim one node.
    pub fn with_node_groups(mut self, groups: NodeGroups, context: GroupContext) -> Result<Self> {
        let membership = groups.assign(&self.snapshot)?;
        self.groups = Some((groups, membership, context));
        self.classes.clear();
        Ok(self)
    }

    /// Adds GPU devices: enables GpuFit and the GPU score plugin, and makes NodeResourcesFit leave the device
    /// resources (`nvidia.com/gpu`, `nvidia.com/mig-*`, `ksx.io/vgpu*`) to GpuFit, as HAMi's
    /// `ignoredByScheduler` does.
    pub fn with_gpus(mut self, table: GpuTable) -> Self {
        let names: Vec<String> = (0..self.snapshot.resources().len())
            .filter_map(|i| u16::try_from(i).ok())
            .map(|i| {
                self.snapshot
                    .resources()
                    .name(crate::resources::ResourceId(i))
                    .to_owned()
            })
            .filter(|n| device::is_device_resource(n))
            .chain([device::RESOURCE_GPU.to_owned()])
            .collect();
        self.profile.fit.ignored_resources.extend(names);
        self.profile.fit.ignored_groups.insert("ksx.io".to_owned());
        self.gpus = Some(table);
        self.classes.clear();
        self
    }

    /// The GPU device state, when configured.
    pub fn gpus(&self) -> Option<&GpuTable> {
        self.gpus.as_ref()
    }

    /// Removes a bound pod: gives back its requests and its devices; returns the node it was on.
    pub fn unbind(&mut self, pod_key: &str) -> Option<NodeId> {
        if let Some(g) = &mut self.gpus {
            g.release(pod_key);
        }
        self.snapshot.unbind(pod_key)
    }

    /// The snapshot, with every binding made so far.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// The profile.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The node groups, their membership and context, when configured.
    pub fn node_groups(&self) -> Option<(&NodeGroups, &Membership, &GroupContext)> {
        self.groups.as_ref().map(|(g, m, c)| (g, m, c))
    }

    /// Prepares a pod (requests, tolerations, affinity).
    ///
    /// # Errors
    /// [`crate::Error::InvalidQuantity`] for a request that does not parse.
    pub fn prepare(&mut self, pod: &Pod) -> Result<PodInfo> {
        let info = self.snapshot.pod_info(pod)?;
        if self.gpus.is_some() {
            let request = GpuRequest::from_pod(pod)?;
            // Device resources are GpuFit's, including MIG names no node lists in its allocatable.
            let names: Vec<String> = info
                .requests
                .iter()
                .map(|(id, _)| self.snapshot.resources().name(*id))
                .filter(|n| device::is_device_resource(n))
                .map(str::to_owned)
                .collect();
            self.profile.fit.ignored_resources.extend(names);
            if request.is_empty() {
                self.gpu_requests.remove(&info.key);
            } else {
                self.gpu_requests.insert(info.key.clone(), request);
            }
        }
        Ok(info)
    }

    fn prepared<'a>(&self, pod: &'a PodInfo) -> Prepared<'a> {
        Prepared {
            pod,
            fit: FitChecks::new(pod, &self.snapshot, &self.profile.fit),
            fit_scorer: FitScorer::new(pod, &self.snapshot, &self.profile.fit),
            balanced: BalancedScorer::new(pod, &self.snapshot, &self.profile.balanced),
            group: self
                .groups
                .as_ref()
                .filter(|_| {
                    self.profile.filters.node_group_affinity
                        || self.profile.weights.node_group_affinity > 0
                })
                .map(|(g, _, c)| g.policy(c, &pod.namespace)),
            gpu: self
                .gpus
                .as_ref()
                .and_then(|_| self.gpu_requests.get(&pod.key).cloned()),
        }
    }

    fn gpu_fit(
        &self,
        p: &Prepared<'_>,
        id: usize,
        node: &NodeInfo,
    ) -> Option<std::result::Result<device::Allocation, device::Unfit>> {
        let (Some(table), Some(request)) = (&self.gpus, &p.gpu) else {
            return None;
        };
        Some(table.fit(id, &node.name, request, self.profile.gpu_policy))
    }

    fn group_of(&self, id: usize) -> Option<usize> {
        self.groups
            .as_ref()
            .and_then(|(_, m, _)| m.of_node.get(id).copied().flatten())
    }

    /// The filter chain for one node (hot path). The cheap integer checks run first; the order only matters for
    /// reasons, which [`Self::rejection`] builds in upstream order.
    fn passes(&self, p: &Prepared<'_>, id: usize, node: &NodeInfo) -> bool {
        let f = &self.profile.filters;
        p.fit.fits(node)
            && (!f.node_group_affinity
                || p.group.as_ref().is_none_or(|g| g.allows(self.group_of(id))))
            && (!f.node_unschedulable
                || taints::passes_unschedulable(node.unschedulable, &p.pod.tolerations))
            && (!f.taint_toleration
                || !node.has_hard_taints
                || taints::untolerated(&node.taints, &p.pod.tolerations).is_none())
            && (!f.node_affinity
                || p.pod.affinity.is_unconstrained()
                || p.pod.resolved_affinity.matches(
                    &node.label_symbols,
                    &node.name,
                    self.snapshot.symbols(),
                ))
            && (!f.gpu_fit || self.gpu_fit(p, id, node).is_none_or(|r| r.is_ok()))
    }

    /// The first failing filter and its reasons, in upstream filter order.
    fn rejection(&self, p: &Prepared<'_>, id: usize, node: &NodeInfo) -> Option<Rejection> {
        let f = &self.profile.filters;
        let unresolvable = |plugin, reason: String| Rejection {
            plugin,
            code: Code::UnschedulableAndUnresolvable,
            reasons: vec![reason],
        };
        if f.node_unschedulable
            && !taints::passes_unschedulable(node.unschedulable, &p.pod.tolerations)
        {
            return Some(unresolvable(
                plugins::NODE_UNSCHEDULABLE,
                UNSCHEDULABLE_REASON.to_owned(),
            ));
        }
        if f.taint_toleration
            && let Some(t) = taints::untolerated(&node.taints, &p.pod.tolerations)
        {
            return Some(unresolvable(
                plugins::TAINT_TOLERATION,
                taints::untolerated_reason(t),
            ));
        }
        if f.node_affinity && !p.pod.affinity.matches(&node.labels, &node.name) {
            return Some(unresolvable(
                plugins::NODE_AFFINITY,
                affinity::AFFINITY_REASON.to_owned(),
            ));
        }
        if f.node_group_affinity
            && let (Some(policy), Some((groups, _, _))) = (&p.group, &self.groups)
        {
            let group = self.group_of(id);
            if !policy.allows(group) {
                return Some(unresolvable(nodegroup::NAME, policy.reason(groups, group)));
            }
        }
        let (reasons, unresolvable) = p.fit.reasons(node, &self.snapshot);
        if reasons.is_empty()
            && f.gpu_fit
            && let Some(Err(unfit)) = self.gpu_fit(p, id, node)
        {
            return Some(Rejection {
                plugin: device::GPU_FIT,
                code: if unfit.unresolvable {
                    Code::UnschedulableAndUnresolvable
                } else {
                    Code::Unschedulable
                },
                reasons: vec![unfit.reason],
            });
        }
        (!reasons.is_empty()).then_some(Rejection {
            plugin: fit::NAME,
            code: if unresolvable {
                Code::UnschedulableAndUnresolvable
            } else {
                Code::Unschedulable
            },
            reasons,
        })
    }

    fn raw_scores(&self, p: &Prepared<'_>, id: usize, node: &NodeInfo) -> RawScores {
        RawScores {
            node_resources_fit: p.fit_scorer.score(node),
            balanced_allocation: (!p.balanced.skips()).then(|| p.balanced.score(node)),
            taint_toleration: if node.taints.is_empty() {
                0
            } else {
                taints::count_intolerable_prefer_no_schedule(&node.taints, &p.pod.tolerations)
            },
            node_affinity: p.pod.affinity.preferred_score(&node.labels, &node.name),
            node_group_affinity: p.group.as_ref().map_or(0, |g| g.score(self.group_of(id))),
            gpu: self.gpu_score(p, id, node),
        }
    }

    fn gpu_score(&self, p: &Prepared<'_>, id: usize, node: &NodeInfo) -> Option<i64> {
        let table = self.gpus.as_ref()?;
        let allocation = self.gpu_fit(p, id, node)?.ok()?;
        Some(device::policy_score(
            table.binpack_score(id, &allocation),
            self.profile.gpu_policy,
        ))
    }

    /// Filters every node and gives the raw scores of the feasible ones, without binding: the diagnostic view
    /// behind `ksx sched score`. Nodes come in name order.
    pub fn evaluate(&self, pod: &PodInfo) -> Vec<NodeEvaluation> {
        let p = self.prepared(pod);
        self.snapshot
            .nodes()
            .iter()
            .enumerate()
            .map(|(id, node)| {
                let rejection = self.rejection(&p, id, node);
                let scores = rejection.is_none().then(|| self.raw_scores(&p, id, node));
                NodeEvaluation {
                    node: node.name.clone(),
                    rejection,
                    scores,
                }
            })
            .collect()
    }

    /// Schedules one pod and, when a node fits, binds it there in the snapshot.
    pub fn schedule(&mut self, pod: &PodInfo) -> Decision {
        let decision = self.decide(pod);
        if let Decision::Scheduled { node_id, .. } = &decision {
            self.snapshot.bind(*node_id, pod);
            self.commit_devices(pod, *node_id);
        }
        decision
    }

    /// [`Self::schedule`] through [`Self::decide_reference`]: the reference the fast path is tested against.
    pub fn schedule_reference(&mut self, pod: &PodInfo) -> Decision {
        let decision = self.decide_reference(pod);
        if let Decision::Scheduled { node_id, .. } = &decision {
            self.snapshot.bind(*node_id, pod);
            self.commit_devices(pod, *node_id);
        }
        decision
    }

    /// Binds a pod to a chosen node (an extender's bind, or a replayed decision): its requests and, with GPU
    /// devices configured, the devices GpuFit chooses there. Checks nothing: call [`Self::evaluate`] first.
    pub fn bind(&mut self, pod: &PodInfo, node: NodeId) {
        self.snapshot.bind(node, pod);
        self.commit_devices(pod, node);
    }

    /// Allocates and records the devices of a pod just bound to a node (nothing without GPU devices or requests).
    fn commit_devices(&mut self, pod: &PodInfo, id: NodeId) {
        let Some(node) = self.snapshot.node(id) else {
            return;
        };
        let p = self.prepared(pod);
        let allocation = self
            .gpu_fit(&p, id.index(), node)
            .and_then(std::result::Result::ok);
        let key = pod.key.clone();
        if let (Some(table), Some(allocation)) = (&mut self.gpus, allocation) {
            // The allocation was just computed from this table: committing it cannot fail.
            let _ = table.commit(id.index(), &key, allocation);
        } else if let Some(table) = &mut self.gpus {
            table.release(&key);
        }
    }

    /// The devices allocated to a bound pod (by key), when GPU devices are configured.
    pub fn allocation(&self, pod_key: &str) -> Option<&device::Allocation> {
        let table = self.gpus.as_ref()?;
        let id = self.snapshot.bound_node(pod_key)?;
        table.node(id.index())?.pods.get(pod_key)
    }

    /// Decides where a pod goes without binding it (the rotating index still advances): the fast path (module
    /// docs of `framework::fast`), which gives the same decision as [`Self::decide_reference`].
    pub fn decide(&mut self, pod: &PodInfo) -> Decision {
        let p = self.prepared(pod);
        let class = self.static_class(&p);
        let kernel = self.kernel(&p);
        let n = self.snapshot.len();
        let want = num_feasible_nodes_to_find(n, self.profile.percentage_of_nodes_to_score);
        let mut rows = std::mem::take(&mut self.fast_rows);
        rows.clear();
        let mut evaluated = 0;
        let mut fused = None;
        if n > 0 && want >= n {
            fused = self.scan(&p, &kernel, &class, &class.candidates, &mut rows);
            evaluated = n;
        } else if n > 0 {
            let start = self.next_start % n;
            let columns = self.snapshot.columns();
            let mut found = std::mem::take(&mut self.found);
            found.clear();
            for id in (start..n).chain(0..start) {
                if found.len() >= want {
                    break;
                }
                evaluated += 1;
                if class.ok.get(id).copied().unwrap_or(false)
                    && kernel.fits(columns, id)
                    && let Some(score) = self.gpu_filter(&p, id)
                {
                    found.push((id, score));
                }
            }
            self.next_start = (start + evaluated) % n;
            if found.len() > 1 {
                found.sort_unstable_by_key(|(id, _)| *id);
            }
            rows.extend(
                found
                    .iter()
                    .map(|&(id, score)| kernel.row(&class, columns, id, score)),
            );
            self.found = found;
        }
        let decision = match fused {
            Some(f) => self.pick_fused(&p, &kernel, &class, f, evaluated, &mut rows),
            None => self.pick(&p, &rows, evaluated),
        };
        self.fast_rows = rows;
        decision
    }

    /// The decision from the fused loop's findings over every candidate; when its normalization prediction
    /// missed, the rows are made (into `rows`) and reduced instead.
    fn pick_fused(
        &self,
        p: &Prepared<'_>,
        kernel: &fast::Kernel,
        class: &fast::StaticClass,
        fused: fast::Fused,
        evaluated: usize,
        rows: &mut Vec<FastRow>,
    ) -> Decision {
        match (fused.count(), fused.decide(), fused.best_id()) {
            (0, _, _) => self.unschedulable(p, evaluated),
            (1, _, Some(id)) => self.scheduled(id, 0, evaluated),
            (_, Some((id, total)), _) => self.scheduled(id, total, evaluated),
            _ => {
                rows.clear();
                self.scan_rows(p, kernel, class, &class.candidates, rows);
                self.pick(p, rows, evaluated)
            }
        }
    }

    /// The decision from the feasible rows of the fast path (in node order).
    fn pick(&self, p: &Prepared<'_>, rows: &[FastRow], evaluated: usize) -> Decision {
        match rows.len() {
            0 => self.unschedulable(p, evaluated),
            1 => self.scheduled(rows.first().map_or(0, |r| r.id), 0, evaluated),
            _ => match fast::best_row(rows, self.weight_array(), fast::maxima(rows)) {
                Some((k, total)) => {
                    self.scheduled(rows.get(k).map_or(0, |r| r.id), total, evaluated)
                }
                None => self.unschedulable(p, evaluated),
            },
        }
    }

    /// [`Self::decide`] with every node searched and the fused loop split over the current rayon pool
    /// ([`fast::fused_par`]); a pod that asks for GPU devices, or a configuration without the fused loop, runs
    /// on the calling thread alone.
    fn decide_parallel(&mut self, pod: &PodInfo) -> Decision {
        let p = self.prepared(pod);
        if self.gpus.is_some() && p.gpu.is_some() {
            return self.decide(pod);
        }
        let class = self.static_class(&p);
        let kernel = self.kernel(&p);
        let evaluated = self.snapshot.len();
        let mut rows = std::mem::take(&mut self.fast_rows);
        rows.clear();
        let decision =
            match fast::fused_par(&kernel, &class, self.snapshot.columns(), &class.candidates) {
                Some(f) => self.pick_fused(&p, &kernel, &class, f, evaluated, &mut rows),
                None => {
                    self.scan_rows(&p, &kernel, &class, &class.candidates, &mut rows);
                    self.pick(&p, &rows, evaluated)
                }
            };
        self.fast_rows = rows;
        decision
    }

    /// The feasible nodes of a pod and their weighted, normalized totals, in node order, searching every node,
    /// without binding: the fast path's view (`reference: false`) or the straightforward one's (`true`). The two
    /// agree; the property tests check it.
    pub fn feasible_totals(&mut self, pod: &PodInfo, reference: bool) -> Vec<(NodeId, i64)> {
        let p = self.prepared(pod);
        let n = self.snapshot.len();
        if reference {
            let mut rows = Vec::new();
            self.filter_and_score(&p, 0..n, &mut rows);
            let mut column = Vec::new();
            let mut slots = rows.clone();
            for (slot, reverse) in [(2, true), (3, false)] {
                column.clear();
                column.extend(slots.iter().map(|r| r.raw[slot]));
                default_normalize(&mut column, reverse);
                for (r, v) in slots.iter_mut().zip(&column) {
                    r.raw[slot] = *v;
                }
            }
            let weights = self.weight_array();
            return slots
                .iter()
                .map(|r| {
                    let total: i64 = r.raw.iter().zip(weights).map(|(s, w)| s * w).sum();
                    (NodeId(r.id), total)
                })
                .collect();
        }
        let class = self.static_class(&p);
        let kernel = self.kernel(&p);
        let mut rows = Vec::new();
        self.scan_rows(&p, &kernel, &class, &class.candidates, &mut rows);
        self.fast_totals(&rows)
            .into_iter()
            .map(|(id, t)| (NodeId(id), t))
            .collect()
    }

    /// The unschedulable decision: every node's first failing filter, counted by reason.
    fn unschedulable(&self, p: &Prepared<'_>, evaluated: usize) -> Decision {
        let mut reasons = BTreeMap::new();
        for (id, node) in self.snapshot.nodes().iter().enumerate() {
            for r in self
                .rejection(p, id, node)
                .into_iter()
                .flat_map(|r| r.reasons)
            {
                *reasons.entry(r).or_insert(0) += 1;
            }
        }
        Decision::Unschedulable { reasons, evaluated }
    }

    /// [`Self::decide`] the straightforward way: every filter and score evaluated on every node record, as the
    /// plugins define them. Kept as the reference implementation the fast path is tested against (and as the
    /// `before` of the benchmarks); same decisions, same rotating index.
    pub fn decide_reference(&mut self, pod: &PodInfo) -> Decision {
        let n = self.snapshot.len();
        let mut rows = std::mem::take(&mut self.rows);
        rows.clear();
        let p = self.prepared(pod);
        let want = num_feasible_nodes_to_find(n, self.profile.percentage_of_nodes_to_score);
        let threads = self.profile.parallelism.clamp(1, 64);
        let mut evaluated = 0;
        if n > 0 && want >= n && threads > 1 && n >= PARALLEL_MIN_NODES {
            // Every node is searched: filter and score in parallel chunks, merged in node order.
            let chunk = n.div_ceil(threads);
            let this = &*self;
            let bounds = |t: usize| (t * chunk).min(n)..((t + 1) * chunk).min(n);
            let parts: Vec<Vec<Row>> = std::thread::scope(|scope| {
                // The calling thread takes the first chunk; only the others are spawned.
                let handles: Vec<_> = (1..threads)
                    .map(|t| {
                        let p = &p;
                        scope.spawn(move || {
                            let mut out = Vec::new();
                            this.filter_and_score(p, bounds(t), &mut out);
                            out
                        })
                    })
                    .collect();
                let mut first = Vec::new();
                this.filter_and_score(&p, bounds(0), &mut first);
                std::iter::once(first)
                    .chain(handles.into_iter().map(|h| h.join().unwrap_or_default()))
                    .collect()
            });
            rows.extend(parts.into_iter().flatten());
            evaluated = n;
        } else if n > 0 && want >= n {
            // Every node is searched: one pass that filters and scores, in node order.
            self.filter_and_score(&p, 0..n, &mut rows);
            evaluated = n;
        } else if n > 0 {
            let start = self.next_start % n;
            let nodes = self.snapshot.nodes();
            let order = (start..n).chain(0..start);
            for id in order {
                if rows.len() >= want {
                    break;
                }
                evaluated += 1;
                if let Some(node) = nodes.get(id)
                    && self.passes(&p, id, node)
                {
                    rows.push(Row {
                        id: u32::try_from(id).unwrap_or(u32::MAX),
                        raw: [0; 6],
                    });
                }
            }
            self.next_start = (start + evaluated) % n;
            if rows.len() > 1 {
                rows.sort_unstable_by_key(|r| r.id);
                for row in &mut rows {
                    if let Some(node) = nodes.get(row.id as usize) {
                        row.raw = self.score_row(&p, row.id as usize, node);
                    }
                }
            }
        }
        let decision = match rows.len() {
            0 => self.unschedulable(&p, evaluated),
            1 => self.scheduled(rows.first().map_or(0, |r| r.id), 0, evaluated),
            _ => {
                let (best, score) = self.best(&mut rows);
                self.scheduled(best, score, evaluated)
            }
        };
        self.rows = rows;
        decision
    }

    fn filter_and_score(
        &self,
        p: &Prepared<'_>,
        range: std::ops::Range<usize>,
        out: &mut Vec<Row>,
    ) {
        let nodes = self.snapshot.nodes();
        for id in range {
            if let Some(node) = nodes.get(id)
                && self.passes(p, id, node)
            {
                out.push(Row {
                    id: u32::try_from(id).unwrap_or(u32::MAX),
                    raw: self.score_row(p, id, node),
                });
            }
        }
    }

    fn scheduled(&self, id: u32, score: i64, evaluated: usize) -> Decision {
        let node = self
            .snapshot
            .node(NodeId(id))
            .map(|n| n.name.clone())
            .unwrap_or_default();
        Decision::Scheduled {
            node,
            node_id: NodeId(id),
            score,
            evaluated,
        }
    }

    /// The raw scores of the enabled score plugins for one feasible node: fit, balanced, taint, affinity, group.
    fn score_row(&self, p: &Prepared<'_>, id: usize, node: &NodeInfo) -> [i64; 6] {
        let w = &self.profile.weights;
        [
            if w.node_resources_fit > 0 {
                p.fit_scorer.score(node)
            } else {
                0
            },
            if w.balanced_allocation > 0 && !p.balanced.skips() {
                p.balanced.score(node)
            } else {
                0
            },
            if w.taint_toleration > 0 && !node.taints.is_empty() {
                taints::count_intolerable_prefer_no_schedule(&node.taints, &p.pod.tolerations)
            } else {
                0
            },
            if w.node_affinity > 0 && p.pod.affinity.has_preferences() {
                p.pod.resolved_affinity.preferred_score(
                    &node.label_symbols,
                    &node.name,
                    self.snapshot.symbols(),
                )
            } else {
                0
            },
            match &p.group {
                Some(g) if w.node_group_affinity > 0 => g.score(self.group_of(id)),
                _ => 0,
            },
            if w.gpu > 0 {
                self.gpu_score(p, id, node).unwrap_or(0)
            } else {
                0
            },
        ]
    }

    /// Normalizes the raw rows (sorted by node id), weighs and sums them; the highest total wins, ties to the
    /// smallest node name.
    fn best(&mut self, rows: &mut [Row]) -> (u32, i64) {
        let mut column = std::mem::take(&mut self.column);
        for (slot, reverse) in [(2, true), (3, false)] {
            column.clear();
            column.extend(rows.iter().map(|r| r.raw[slot]));
            default_normalize(&mut column, reverse);
            for (r, v) in rows.iter_mut().zip(&column) {
                r.raw[slot] = *v;
            }
        }
        self.column = column;
        let weights = self.weight_array();
        let mut best = (rows.first().map_or(0, |r| r.id), i64::MIN);
        for r in rows.iter() {
            let total: i64 = r.raw.iter().zip(weights).map(|(s, w)| s * w).sum();
            if total > best.1 {
                best = (r.id, total);
            }
        }
        best
    }

    /// Schedules pods in QueueSort order (higher `spec.priority` first, then earlier `creationTimestamp`, then
    /// input position), binding each before the next. Returns the decisions in that order, with pod keys.
    ///
    /// # Errors
    /// [`crate::Error::InvalidQuantity`] for a pod whose requests do not parse (nothing is scheduled then).
    pub fn schedule_all(&mut self, pods: &[Pod]) -> Result<Vec<(String, Decision)>> {
        let mut prepared = pods
            .iter()
            .enumerate()
            .map(|(i, pod)| {
                let created = pod.metadata.creation_timestamp.as_ref().map(|t| t.0);
                self.prepare(pod).map(|info| (info, created, i))
            })
            .collect::<Result<Vec<_>>>()?;
        prepared.sort_by(|a, b| {
            b.0.priority
                .cmp(&a.0.priority)
                .then_with(|| match (a.1, b.1) {
                    (Some(x), Some(y)) => x.cmp(&y),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => std::cmp::Ordering::Equal,
                })
                .then_with(|| a.2.cmp(&b.2))
        });
        let n = self.snapshot.len();
        let threads = self.profile.parallelism.clamp(1, 64);
        let want = num_feasible_nodes_to_find(n, self.profile.percentage_of_nodes_to_score);
        if threads == 1 || n < PARALLEL_MIN_NODES || want < n {
            return Ok(prepared
                .into_iter()
                .map(|(info, _, _)| {
                    let d = self.schedule(&info);
                    (info.key, d)
                })
                .collect());
        }
        // Every node is searched with several threads: a rayon pool kept for the whole batch. The calling
        // thread of the loop below is one of its threads; the others steal halves of each pod's candidates
        // (`fast::fused_par`), and when they are busy elsewhere the loop simply does the work itself.
        let Ok(pool) = rayon::ThreadPoolBuilder::new().num_threads(threads).build() else {
            // No threads to be had: one thread does it all, with the same results.
            return Ok(prepared
                .into_iter()
                .map(|(info, _, _)| {
                    let d = self.schedule(&info);
                    (info.key, d)
                })
                .collect());
        };
        Ok(pool.install(|| {
            let mut out = Vec::with_capacity(prepared.len());
            for (info, _, _) in prepared {
                let decision = self.decide_parallel(&info);
                if let Decision::Scheduled { node_id, .. } = &decision {
                    self.snapshot.bind(*node_id, &info);
                    self.commit_devices(&info, *node_id);
                }
                out.push((info.key, decision));
            }
            out
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feasible_nodes_to_find_follows_upstream() {
        assert_eq!(num_feasible_nodes_to_find(50, 0), 50);
        assert_eq!(num_feasible_nodes_to_find(99, 10), 99);
        assert_eq!(num_feasible_nodes_to_find(2_500, 0), 750);
        assert_eq!(num_feasible_nodes_to_find(5_000, 0), 500);
        assert_eq!(
            num_feasible_nodes_to_find(6_000, 0),
            300,
            "50 − 48 = 2 → 5 %"
        );
        assert_eq!(
            num_feasible_nodes_to_find(500, 10),
            100,
            "never fewer than 100"
        );
        assert_eq!(num_feasible_nodes_to_find(5_000, 100), 5_000);
        assert_eq!(
            num_feasible_nodes_to_find(150, 0),
            100,
            "150 × 49 % = 73 → 100"
        );
    }

    fn node(name: &str, cpu: &str) -> k8s_openapi::api::core::v1::Node {
        serde_json::from_value(serde_json::json!({"metadata": {"name": name},
            "status": {"allocatable": {"cpu": cpu, "memory": "8Gi", "pods": "10"}}}))
        .unwrap()
    }

    fn pod(name: &str, cpu: &str) -> Pod {
        serde_json::from_value(serde_json::json!({"metadata": {"name": name, "namespace": "ns"},
            "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu, "memory": "1Gi"}}}]}}))
        .unwrap()
    }

    #[test]
    fn picks_the_best_node_and_breaks_ties_by_name() {
        let snapshot =
            Snapshot::new(&[node("b", "4"), node("a", "4"), node("c", "8")], &[]).unwrap();
        let mut s = Scheduler::new(snapshot, Profile::default());
        let p = s.prepare(&pod("p1", "2")).unwrap();
        // c is least allocated.
        assert!(matches!(s.schedule(&p), Decision::Scheduled { ref node, .. } if node == "c"));
        let p = s.prepare(&pod("p2", "1")).unwrap();
        // c: cpu 3000/8000 used -> 62, mem 2Gi/8Gi -> 75 => 68; a and b: 75, 87 => 81; tie a/b goes to a.
        assert!(matches!(s.schedule(&p), Decision::Scheduled { ref node, .. } if node == "a"));
    }

    fn tainted(name: &str, cpu: &str, soft_taints: usize) -> k8s_openapi::api::core::v1::Node {
        let taints: Vec<_> = (0..soft_taints)
            .map(|k| serde_json::json!({"key": format!("soft{k}"), "effect": "PreferNoSchedule"}))
            .collect();
        serde_json::from_value(serde_json::json!({"metadata": {"name": name},
            "spec": {"taints": taints},
            "status": {"allocatable": {"cpu": cpu, "memory": "8Gi", "pods": "10"}}}))
        .unwrap()
    }

    #[test]
    fn fused_loop_falls_back_when_the_normalization_prediction_misses() {
        // The class's candidates reach 3 untolerated PreferNoSchedule taints (node "full"), but the pod does not
        // fit there, so TaintToleration normalizes over a maximum of 2 among the feasible nodes: the fused loop's
        // prediction (3) misses and the rows must be reduced. By hand, default weights (fit 1, balanced 1,
        // taint 3): cpu 2 of 4 and memory 1Gi of 8Gi on x and y alike: LeastAllocated (50 + 87) / 2 = 68;
        // balanced: fractions 0.5 and 0.125, std 0.1875 → 81; taint reversed over max 2: x (1 taint) 50, y (2) 0.
        // x: 68 + 81 + 3 × 50 = 299 (with the wrong maximum 3 it would be 68 + 81 + 3 × 67 = 350).
        let nodes = [
            tainted("full", "1", 3),
            tainted("x", "4", 1),
            tainted("y", "4", 2),
        ];
        for reference in [false, true] {
            let snapshot = Snapshot::new(&nodes, &[]).unwrap();
            let mut s = Scheduler::new(snapshot, Profile::default());
            let p = s.prepare(&pod("p", "2")).unwrap();
            let d = if reference {
                s.decide_reference(&p)
            } else {
                s.decide(&p)
            };
            match d {
                Decision::Scheduled { node, score, .. } => {
                    assert_eq!((node.as_str(), score), ("x", 299), "reference {reference}");
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn unschedulable_pods_carry_counted_reasons() {
        let snapshot = Snapshot::new(&[node("a", "1"), node("b", "2")], &[]).unwrap();
        let mut s = Scheduler::new(snapshot, Profile::default());
        let p = s.prepare(&pod("big", "3")).unwrap();
        let d = s.schedule(&p);
        assert_eq!(d.message(2), "0/2 nodes are available: 2 Insufficient cpu.");
        let ev = s.evaluate(&p);
        let r = ev[0].rejection.as_ref().unwrap();
        assert_eq!(
            r.code,
            Code::UnschedulableAndUnresolvable,
            "above total allocatable"
        );
        assert_eq!(r.plugin, "NodeResourcesFit");
    }
}
