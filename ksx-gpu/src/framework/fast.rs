//! The fast filter-and-score path behind [`Scheduler::decide`].
//!
//! Two observations make it fast without changing a single result:
//!
//! - Most filters and scores read only what never changes in a snapshot: a node's labels, taints,
//!   `spec.unschedulable` and node group. Pods that share tolerations, node affinity and node-group policy (a
//!   *pod class*) get the same answers there, so those answers are computed once per class over every node and
//!   cached ([`StaticClass`]): the list of statically feasible nodes and their raw TaintToleration, NodeAffinity and
//!   NodeGroupAffinity scores. Classes are found by hashing the pod's compiled tolerations, affinity and group
//!   policy, and confirmed by equality.
//! - What changes with every binding (pod counts, requested amounts) is read from the snapshot's
//!   [`NodeColumns`](crate::snapshot::NodeColumns), contiguous slices indexed by node id, through the same plugin
//!   code that reads [`NodeInfo`](crate::snapshot::NodeInfo) records (`fits_with`, `score_with`), so the
//!   arithmetic cannot drift from the reference.
//!
//! In the default configuration (NodeResourcesFit LeastAllocated or MostAllocated and BalancedAllocation, both
//! over cpu and memory) the per-node loop is one fused pass ([`Kernel::fused`]): it checks NodeResourcesFit,
//! scores the survivors and totals them as it goes, keeping only the best (highest total, then the smallest node
//! id, i.e. name), without writing rows. Three devices keep it exact and cheap:
//!
//! - Quotients go through a per-node reciprocal ([`NodeColumns::inv_cpu`](crate::snapshot::NodeColumns)) and an
//!   exact integer correction, and BalancedAllocation's fractions through the reciprocals with a guard that falls
//!   back to upstream's divisions whenever the truncated score could differ: no division in the common case.
//! - TaintToleration and NodeAffinity are normalized over the *feasible* nodes, which the loop only knows at the
//!   end. Their raw scores are static per class, so the class predicts the normalization from its candidates'
//!   maxima and precomputes every node's static share of the total under it; the loop notes whether a feasible
//!   node reached each maximum. If both were reached the prediction held and the best found is the answer;
//!   otherwise (rare) the rows are made and reduced as the reference does.
//! - With `parallelism > 1` and every node searched, [`Scheduler::schedule_all`] runs the batch inside a rayon
//!   pool and splits each pod's candidates in halves with `rayon::join` ([`fused_par`]); partial results merge in
//!   any order to the same answer, so nothing depends on the thread count or on timing.
//!
//! Other configurations, pods that ask for GPU devices and the adaptive `percentageOfNodesToScore` walk make rows
//! and reduce them with the reference's normalization and tie-break.
//!
//! The straightforward path ([`Scheduler::decide_reference`]) is kept as the reference implementation: the
//! property tests in `ksx-gpu/tests/fast_path.rs` check that both give the same feasible nodes, scores and
//! decisions.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use super::{Prepared, Scheduler};
use crate::device;
use crate::nodegroup::GroupPolicy;
use crate::plugins::affinity::PodAffinity;
use crate::plugins::balanced::BalancedScorer;
use crate::plugins::fit::{self, FitChecks, FitScorer, Strategy};
use crate::plugins::taints::{self, PodToleration};
use crate::plugins::{MAX_NODE_SCORE, default_normalize};
use crate::resources::ResourceId;
use crate::snapshot::{HOT_SUM_LIMIT, NodeColumns};

/// At most this many pod classes are cached; past it the cache starts afresh (a workload of unique pods then
/// costs what the reference path costs).
const MAX_CLASSES: usize = 4_096;

/// What identifies a pod class: the inputs of every static filter and score.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ClassKey {
    tolerations: Vec<PodToleration>,
    affinity: PodAffinity,
    group: Option<GroupPolicy>,
}

/// The static filters and scores of one pod class over every node.
#[derive(Debug)]
pub(crate) struct StaticClass {
    key: ClassKey,
    /// Node ids passing NodeUnschedulable, TaintToleration, NodeAffinity and NodeGroupAffinity, ascending.
    pub(crate) candidates: Vec<u32>,
    /// Per node id: in `candidates`.
    pub(crate) ok: Vec<bool>,
    /// Per node id: the raw TaintToleration score (0 when its weight is 0 or the node has no taints).
    pub(crate) taint: Vec<i64>,
    /// Per node id: the raw NodeAffinity score (0 when its weight is 0 or the pod has no preferences).
    pub(crate) affinity: Vec<i64>,
    /// Per node id: the raw NodeGroupAffinity score (0 when its weight is 0 or no groups are configured).
    pub(crate) group: Vec<i64>,
    /// The normalization the reduction will most likely use, built from the candidates' extremes (see
    /// [`Fused`]).
    predicted: Predicted,
    /// Per node id: everything static in its total under the predicted normalization: weighted
    /// NodeGroupAffinity plus the normalized, weighted TaintToleration and NodeAffinity scores.
    static_total: Vec<i64>,
    /// Per node id: bit 0 when its raw TaintToleration score is the candidates' maximum, bit 1 when its raw
    /// NodeAffinity score is (a feasible node with both bits seen means the prediction held).
    reaches: Vec<u8>,
}

/// Candidate lists up to this long are scanned by one thread in [`fused_par`].
const PARALLEL_LEAF: usize = 768;

/// The fused loop over `ids`, split in halves with `rayon::join` down to [`PARALLEL_LEAF`] candidates, so that
/// idle threads of the current rayon pool take some halves and a busy pool leaves them all to the calling
/// thread. Chunks merge in any order to the same answer (highest total, ties to the smallest node id; extremes;
/// count), so nothing depends on the thread count or on timing. `None` when the fused loop does not apply.
pub(crate) fn fused_par(
    kernel: &Kernel,
    class: &StaticClass,
    columns: &NodeColumns,
    ids: &[u32],
) -> Option<Fused> {
    if ids.len() <= PARALLEL_LEAF {
        return kernel.fused(class, columns, ids);
    }
    let (a, b) = ids.split_at(ids.len() / 2);
    let (x, y) = rayon::join(
        || fused_par(kernel, class, columns, a),
        || fused_par(kernel, class, columns, b),
    );
    Some(x?.merge(y?))
}

/// The extremes of the raw taint and affinity scores over a class's candidates, and the normalizers they give.
/// The feasible nodes of a pod are a subset of the candidates; as long as one of them reaches each maximum (the
/// usual case), the reduction normalizes with exactly these numbers, so the per-node loop can total and compare
/// the rows as it scores them.
#[derive(Debug)]
struct Predicted {
    taint: Normalizer,
    affinity: Normalizer,
}

/// What a fused scan found besides its rows: the best row under the class's predicted normalization (highest
/// total, ties to the smallest node id) and the real extremes of the feasible rows. Chunks merge; the result is
/// the reduction's answer when the real maxima equal the predicted ones ([`Fused::decide`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fused {
    /// `(total, node id)` of the best row so far.
    best: Option<(i64, u32)>,
    /// The [`StaticClass::reaches`] bits of the feasible rows, or-ed.
    reached: u8,
    /// How many feasible rows there were.
    count: usize,
}

impl Fused {
    /// How many feasible rows there were.
    pub(crate) fn count(self) -> usize {
        self.count
    }

    /// The best row's node id (the only one when [`Self::count`] is 1).
    pub(crate) fn best_id(self) -> Option<u32> {
        self.best.map(|(_, id)| id)
    }

    /// Both chunks' findings together.
    pub(crate) fn merge(self, other: Self) -> Self {
        let best = match (self.best, other.best) {
            (Some(a), Some(b)) => Some(if b.0 > a.0 || (b.0 == a.0 && b.1 < a.1) {
                b
            } else {
                a
            }),
            (a, b) => a.or(b),
        };
        Self {
            best,
            reached: self.reached | other.reached,
            count: self.count + other.count,
        }
    }

    /// The reduction's `(node id, total)` when the prediction held, else `None` (reduce the rows instead).
    pub(crate) fn decide(self) -> Option<(u32, i64)> {
        // Both maxima are reached by a feasible row: they are the feasible rows' maxima too.
        if self.reached == 0b11 {
            self.best.map(|(total, id)| (id, total))
        } else {
            None
        }
    }
}

/// The cached pod classes, by hash.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClassCache {
    classes: HashMap<u64, Vec<Arc<StaticClass>>>,
    len: usize,
}

impl ClassCache {
    /// Forgets every class (the profile, groups or devices changed).
    pub(crate) fn clear(&mut self) {
        self.classes.clear();
        self.len = 0;
    }
}

fn class_hash(p: &Prepared<'_>) -> u64 {
    let mut h = DefaultHasher::new();
    p.pod.tolerations.hash(&mut h);
    p.pod.affinity.hash(&mut h);
    p.group.hash(&mut h);
    h.finish()
}

/// A feasible node in the fast path: the weighted scores that need no normalization, and the two raw scores
/// that do (normalized over the feasible set before they are weighed).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FastRow {
    pub(crate) id: u32,
    /// Σ weight × score of NodeResourcesFit, BalancedAllocation, NodeGroupAffinity and the GPU plugin.
    pub(crate) base: i64,
    /// Raw TaintToleration.
    pub(crate) taint: i64,
    /// Raw NodeAffinity.
    pub(crate) affinity: i64,
}

/// `a / b` (truncating) for `b > 0`, through an f64 division when both are non-negative and below 2^51 (exact,
/// as in [`percent_fast`]); the integer division otherwise.
#[inline]
fn quotient(a: i64, b: i64) -> i64 {
    const LIMIT: i64 = 1 << 51;
    if (0..LIMIT).contains(&a) && (1..LIMIT).contains(&b) {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_precision_loss,
            reason = "both operands are below 2^51, so exact, and the quotient is at most a"
        )]
        let q = (a as f64 / b as f64) as i64;
        q
    } else {
        a / b
    }
}

/// A column of exactly `n` entries, or `None`.
#[inline]
fn full<T>(c: &[T], n: usize) -> Option<&[T]> {
    c.get(..n).filter(|c| c.len() == n)
}

#[inline]
fn column_at(column: &[i64], i: usize) -> i64 {
    column.get(i).copied().unwrap_or(0)
}

/// `default_normalize` for one score given the maximum of its column.
#[inline]
fn normalize_one(s: i64, max: i64, reverse: bool) -> i64 {
    if max == 0 {
        return if reverse { MAX_NODE_SCORE } else { s };
    }
    let scaled = s.saturating_mul(MAX_NODE_SCORE) / max;
    if reverse {
        MAX_NODE_SCORE - scaled
    } else {
        scaled
    }
}

/// The best row: highest total, ties to the first (smallest id) — the reference's rule. Returns the index in
/// `rows` and the total, given the column maxima of the two normalized scores.
pub(crate) fn best_row(rows: &[FastRow], weights: [i64; 6], m: Maxima) -> Option<(usize, i64)> {
    let taint = Normalizer::new(m.taint, m.taint_min, true, weights[2]);
    let affinity = Normalizer::new(m.affinity, m.affinity_min, false, weights[3]);
    let mut best: Option<(usize, i64)> = None;
    for (k, r) in rows.iter().enumerate() {
        let total = r.base + taint.weighted(r.taint) + affinity.weighted(r.affinity);
        if best.is_none_or(|(_, b)| total > b) {
            best = Some((k, total));
        }
    }
    best
}

/// `normalize_one(s, max, reverse) × weight` for one column, from a table when the raw scores are small
/// non-negative integers (taint counts, sums of a few preference weights), so that the reduction divides once per
/// distinct value instead of once per node.
#[derive(Debug)]
struct Normalizer {
    max: i64,
    reverse: bool,
    weight: i64,
    table: Option<[i64; TABLE]>,
}

/// Raw scores 0..TABLE are tabulated.
const TABLE: usize = 128;

impl Normalizer {
    fn new(max: i64, min: i64, reverse: bool, weight: i64) -> Self {
        let table = (min >= 0 && usize::try_from(max).is_ok_and(|m| m < TABLE)).then(|| {
            let mut t = [0; TABLE];
            for (s, slot) in (0..).zip(t.iter_mut()) {
                *slot = normalize_one(s, max, reverse) * weight;
            }
            t
        });
        Self {
            max,
            reverse,
            weight,
            table,
        }
    }

    #[inline]
    fn weighted(&self, s: i64) -> i64 {
        match self
            .table
            .as_ref()
            .and_then(|t| usize::try_from(s).ok().and_then(|i| t.get(i)))
        {
            Some(v) => *v,
            None => normalize_one(s, self.max, self.reverse) * self.weight,
        }
    }
}

/// The column extremes of the raw taint and affinity scores (`default_normalize` divides by the maxima).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Maxima {
    taint: i64,
    taint_min: i64,
    affinity: i64,
    affinity_min: i64,
}

impl Maxima {
    /// The extremes of no row.
    const NONE: Self = Self {
        taint: i64::MIN,
        taint_min: i64::MAX,
        affinity: i64::MIN,
        affinity_min: i64::MAX,
    };

    /// The extremes with one more row.
    #[inline]
    fn add(&mut self, taint: i64, affinity: i64) {
        self.taint = self.taint.max(taint);
        self.taint_min = self.taint_min.min(taint);
        self.affinity = self.affinity.max(affinity);
        self.affinity_min = self.affinity_min.min(affinity);
    }
}

/// The extremes of the two normalized columns over the feasible rows.
pub(crate) fn maxima(rows: &[FastRow]) -> Maxima {
    rows.iter().fold(Maxima::NONE, |mut m, r| {
        m.add(r.taint, r.affinity);
        m
    })
}

/// The changing filters and scores of one pod (NodeResourcesFit filter and score, BalancedAllocation), with the
/// weights: everything the per-node loop needs besides the columns and the pod's class.
#[derive(Debug, Clone)]
pub(crate) struct Kernel {
    fit: FitChecks,
    /// `None` when the weight is 0.
    fit_scorer: Option<FitScorer>,
    /// `None` when the weight is 0 or PreScore skips.
    balanced: Option<BalancedScorer>,
    weights: [i64; 6],
    /// The same numbers flattened for the common configuration (below), when it applies.
    simple: Option<Simple>,
}

/// The common configuration, for a loop without closures or inner loops over resources: NodeResourcesFit
/// scoring `LeastAllocated` or `MostAllocated` over exactly cpu then memory, BalancedAllocation over exactly cpu
/// then memory (or either plugin off).
#[derive(Debug, Clone, Copy)]
struct Simple {
    /// `LeastAllocated` (else `MostAllocated`).
    least: bool,
    /// `(weight, pod's scoring request)` for cpu and memory; `None` when the plugin is off.
    fit: Option<[(i64, i64); 2]>,
    /// The pod's real cpu and memory requests; `None` when the plugin is off.
    balanced: Option<[i64; 2]>,
}

impl Simple {
    fn new(fit_scorer: Option<&FitScorer>, balanced: Option<&BalancedScorer>) -> Option<Self> {
        let (least, fit) = match fit_scorer {
            None => (true, None),
            Some(s) => {
                let least = match s.strategy() {
                    Strategy::LeastAllocated => true,
                    Strategy::MostAllocated => false,
                    Strategy::RequestedToCapacityRatio(_) => return None,
                };
                match s.resources() {
                    [c, m]
                        if c.id == ResourceId::CPU
                            && m.id == ResourceId::MEMORY
                            && !c.skip
                            && !m.skip =>
                    {
                        (
                            least,
                            Some([(c.weight, c.pod_request), (m.weight, m.pod_request)]),
                        )
                    }
                    _ => return None,
                }
            }
        };
        let balanced = match balanced.map(BalancedScorer::resources) {
            None => None,
            Some(&[(c, rc), (m, rm)]) if c == ResourceId::CPU && m == ResourceId::MEMORY => {
                Some([rc, rm])
            }
            Some(_) => return None,
        };
        Some(Self {
            least,
            fit,
            balanced,
        })
    }
}

/// `part × 100 / whole` for `0 ≤ part ≤ whole`, `whole > 0`, exactly as [`fit::percent`] computes it, through
/// an f64 division where that is exact: below 2^52 both operands are exact doubles, and when their sum stays
/// below 2^53 the correctly rounded quotient never reaches the next integer, so truncating it is the integer
/// quotient. Larger numbers take the integer path.
#[inline]
fn percent_fast(part: i64, whole: i64) -> i64 {
    const PART_LIMIT: i64 = (1 << 52) / 128;
    const WHOLE_LIMIT: i64 = 1 << 51;
    if (0..PART_LIMIT).contains(&part) && whole > 0 && whole < WHOLE_LIMIT {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_precision_loss,
            reason = "both operands are below 2^52, so exact; the quotient lies in 0–100 (part ≤ whole)"
        )]
        let q = ((part * MAX_NODE_SCORE) as f64 / whole as f64) as i64;
        q
    } else {
        fit::percent(part, whole)
    }
}

/// [`percent_fast`] given `inv ≈ 1 / whole` (from the columns): [`percent_hot`] (a multiplication and an exact
/// integer correction instead of a division) where its range holds, else [`percent_fast`].
#[inline(always)]
fn percent_recip(part: i64, whole: i64, inv: f64) -> i64 {
    const LIMIT: i64 = 1 << 45;
    if inv > 0.0 && whole > 0 && whole < LIMIT && (0..=whole).contains(&part) {
        percent_hot(part, whole, inv)
    } else {
        percent_fast(part, whole)
    }
}

/// `percent(part, whole)` for `0 ≤ part ≤ whole < 2^45` with `inv = 1 / whole` (a node the columns mark
/// `simple`): [`percent_recip`] without its range checks.
#[inline(always)]
fn percent_hot(part: i64, whole: i64, inv: f64) -> i64 {
    let x = part * MAX_NODE_SCORE;
    #[allow(
        clippy::cast_precision_loss,
        reason = "x < 2^52 is exact; the rounded product is corrected below"
    )]
    let q = round_small(x as f64 * inv);
    let r = x - q * whole;
    // Rounded up half the time: corrected without a branch (a branch would be mispredicted that often).
    q - i64::from(r < 0) + i64::from(r >= whole)
}

/// 2^52: adding it to a non-negative f64 below 2^51 rounds that value to the nearest integer, which the sum's
/// low mantissa bits then hold.
const ROUNDING: f64 = 4_503_599_627_370_496.0;

/// `v` rounded to the nearest integer (ties to even) for `0 ≤ v < 2^51`, through [`ROUNDING`]: an addition and
/// a bit move instead of the saturating float-to-int conversion.
#[inline(always)]
fn round_small(v: f64) -> i64 {
    #[allow(
        clippy::cast_possible_wrap,
        reason = "both bit patterns are those of doubles in [2^52, 2^53): their difference is below 2^51"
    )]
    let q = (v + ROUNDING).to_bits() as i64 - ROUNDING.to_bits() as i64;
    q
}

/// BalancedAllocation over cpu and memory as upstream computes it (fractions `requested / allocatable` in f64,
/// capped at 1; `std = |f_cpu − f_mem| / 2`; score `trunc((1 − std) × 100)`; a resource with no allocatable
/// amount is left out, and one resource alone scores 100).
///
/// With both amounts positive and their reciprocals set this is [`balanced_hot`] (reciprocals, with a guard that
/// falls back to upstream's divisions near integers); otherwise [`balanced_exact`].
#[inline(always)]
fn balanced_two(requested: [i64; 2], caps: [i64; 2], inv: [f64; 2]) -> i64 {
    if caps[0] > 0 && caps[1] > 0 && inv[0] > 0.0 && inv[1] > 0.0 {
        balanced_hot(requested, caps, inv)
    } else {
        balanced_exact(requested, caps)
    }
}

/// [`balanced_two`] for both allocatable amounts positive and their reciprocals set. The fractions go through the
/// reciprocals and `v = 100 − 50 × |f_cpu − f_mem|` is a few units in the last place from upstream's value (less
/// than 10^-12 apart); with `k` the integer nearest `v`, upstream's truncation is `k` or `k − 1` by the sign of
/// `v − k`, unless `v` lies within 10^-9 of `k` (equal fractions, say): then upstream's divisions decide.
#[inline(always)]
fn balanced_hot(requested: [i64; 2], caps: [i64; 2], inv: [f64; 2]) -> i64 {
    const GUARD: f64 = 1e-9;
    #[allow(clippy::cast_precision_loss, reason = "as in balanced_two")]
    let (f0, f1) = (
        (requested[0] as f64 * inv[0]).min(1.0),
        (requested[1] as f64 * inv[1]).min(1.0),
    );
    let v = 100.0 - 50.0 * (f0 - f1).abs();
    // v in 50–100: k is the nearest integer; upstream's truncation is k or k − 1 unless v lies within the guard.
    let k = round_small(v);
    #[allow(clippy::cast_precision_loss, reason = "k ≤ 100")]
    let d = v - k as f64;
    if d.abs() > GUARD {
        // Without a branch on the sign, which is a coin toss.
        k - i64::from(d < 0.0)
    } else {
        balanced_exact(requested, caps)
    }
}

/// NodeResourcesFit's checks of resources other than cpu and memory on node `i`.
#[inline]
fn fits_others(others: &[(&[i64], &[i64], i64)], i: usize) -> bool {
    others.iter().all(|(a, r, v)| {
        a.get(i)
            .zip(r.get(i))
            .is_some_and(|(a, r)| *v <= a.saturating_sub(*r))
    })
}

/// [`balanced_two`] with upstream's divisions.
#[cold]
#[inline(never)]
fn balanced_exact(requested: [i64; 2], caps: [i64; 2]) -> i64 {
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        reason = "upstream computes the fractions in f64 and truncates (1 − std) × 100, which lies in 0–100"
    )]
    {
        let mut fractions = [0f64; 2];
        let mut k = 0;
        for (cap, req) in caps.into_iter().zip(requested) {
            if cap == 0 {
                continue;
            }
            if let Some(slot) = fractions.get_mut(k) {
                *slot = (req as f64 / cap as f64).min(1.0);
            }
            k += 1;
        }
        let std = if k == 2 {
            ((fractions[0] - fractions[1]) / 2.0).abs()
        } else {
            0.0
        };
        ((1.0 - std) * 100.0) as i64
    }
}

impl Kernel {
    /// NodeResourcesFit on the columns.
    #[inline]
    pub(crate) fn fits(&self, columns: &NodeColumns, i: usize) -> bool {
        self.fit.fits_with(
            column_at(&columns.pod_count, i),
            column_at(&columns.allowed_pods, i),
            |id| {
                (
                    column_at(columns.allocatable(id), i),
                    column_at(columns.requested(id), i),
                )
            },
        )
    }

    /// The row of a feasible node.
    #[inline]
    pub(crate) fn row(
        &self,
        class: &StaticClass,
        columns: &NodeColumns,
        i: usize,
        gpu: Option<i64>,
    ) -> FastRow {
        let w = &self.weights;
        let fit = self.fit_scorer.as_ref().map_or(0, |s| {
            s.score_with(|id| {
                let on_node = match id {
                    ResourceId::CPU => column_at(&columns.non_zero_cpu, i),
                    ResourceId::MEMORY => column_at(&columns.non_zero_memory, i),
                    other => column_at(columns.requested(other), i),
                };
                (column_at(columns.allocatable(id), i), on_node)
            })
        });
        let balanced = self.balanced.as_ref().map_or(0, |b| {
            b.score_with(|id| {
                (
                    column_at(columns.allocatable(id), i),
                    column_at(columns.requested(id), i),
                )
            })
        });
        let gpu = if w[5] > 0 { gpu.unwrap_or(0) } else { 0 };
        FastRow {
            id: u32::try_from(i).unwrap_or(u32::MAX),
            base: fit * w[0] + balanced * w[1] + column_at(&class.group, i) * w[4] + gpu * w[5],
            taint: column_at(&class.taint, i),
            affinity: column_at(&class.affinity, i),
        }
    }

    /// Filters and scores the candidates in `ids` (ascending) of a pod that asks for no devices. In the default
    /// configuration the fused loop runs and its findings are returned, and no row is written; otherwise the
    /// feasible rows are appended to `out` in node order and `None` is returned.
    pub(crate) fn scan(
        &self,
        class: &StaticClass,
        columns: &NodeColumns,
        ids: &[u32],
        out: &mut Vec<FastRow>,
    ) -> Option<Fused> {
        let fused = self.fused(class, columns, ids);
        if fused.is_none() {
            self.rows(class, columns, ids, out);
        }
        fused
    }

    /// The fused loop over the candidates in `ids` (ascending) when the configuration allows it (see
    /// [`Self::scan_tight`]), else `None`.
    pub(crate) fn fused(
        &self,
        class: &StaticClass,
        columns: &NodeColumns,
        ids: &[u32],
    ) -> Option<Fused> {
        let simple = self.simple.as_ref()?;
        match (simple.fit, simple.balanced, simple.least) {
            (Some(fit), Some(balanced), true) => {
                self.scan_tight::<true>(fit, balanced, class, columns, ids)
            }
            (Some(fit), Some(balanced), false) => {
                self.scan_tight::<false>(fit, balanced, class, columns, ids)
            }
            _ => None,
        }
    }

    /// Filters and scores the candidates in `ids` (ascending) of a pod that asks for no devices, appending the
    /// feasible rows in node order.
    pub(crate) fn rows(
        &self,
        class: &StaticClass,
        columns: &NodeColumns,
        ids: &[u32],
        out: &mut Vec<FastRow>,
    ) {
        if let Some(simple) = &self.simple
            && self.scan_simple(simple, class, columns, ids, out)
        {
            return;
        }
        for &id in ids {
            let i = id as usize;
            if self.fits(columns, i) {
                out.push(self.row(class, columns, i, None));
            }
        }
    }
}

impl Kernel {
    /// [`Self::scan`] for the default configuration in one tight loop: NodeResourcesFit (`LEAST`:
    /// LeastAllocated, else MostAllocated) and BalancedAllocation both scoring cpu then memory, and a pod whose
    /// fit checks name at most cpu and memory. A node with no allocatable cpu or memory takes the general
    /// arithmetic ([`Self::row`]). Returns `None`, having done nothing, when the configuration or the columns do
    /// not allow it, so that [`Self::scan_simple`] runs instead.
    fn scan_tight<const LEAST: bool>(
        &self,
        fit: [(i64, i64); 2],
        balanced: [i64; 2],
        class: &StaticClass,
        columns: &NodeColumns,
        ids: &[u32],
    ) -> Option<Fused> {
        let n = columns.len();
        let hot = full(&columns.hot, n)?;
        let static_total = full(&class.static_total, n)?;
        let reaches = full(&class.reaches, n)?;
        // What the fit filter wants free of cpu and memory (`i64::MIN` when it does not check the resource),
        // and of up to two other resources (extended resources such as `nvidia.com/gpu`).
        let mut need = [i64::MIN; 2];
        let mut others: [(&[i64], &[i64], i64); 2] = [(&[], &[], 0); 2];
        let mut n_others = 0;
        if !self.fit.requests_nothing() {
            for &(id, v) in self.fit.checks() {
                match id {
                    ResourceId::CPU => need[0] = v,
                    ResourceId::MEMORY => need[1] = v,
                    _ => {
                        let slot = others.get_mut(n_others)?;
                        *slot = (
                            full(columns.allocatable(id), n)?,
                            full(columns.requested(id), n)?,
                            v,
                        );
                        n_others += 1;
                    }
                }
            }
        }
        let others = others.get(..n_others).unwrap_or_default();
        let [(w_cpu, pod_cpu), (w_mem, pod_mem)] = fit;
        // The pod's numbers are small enough for plain sums with a `simple` node's (below 2^51, no overflow).
        let small = |v: i64| (0..HOT_SUM_LIMIT).contains(&v);
        if ![pod_cpu, pod_mem, balanced[0], balanced[1]]
            .into_iter()
            .all(small)
            || !need.iter().all(|&v| v == i64::MIN || small(v))
            || !(0..=HOT_SUM_LIMIT).contains(&w_cpu)
            || !(0..=HOT_SUM_LIMIT).contains(&w_mem)
        {
            return None;
        }
        let weight_sum = w_cpu + w_mem;
        let w = self.weights;
        // The best `(total, id)` so far; `i64::MIN` until a node is feasible.
        let (mut best_total, mut best_id) = (i64::MIN, u32::MAX);
        let mut reached = 0u8;
        let mut count = 0;
        for &id in ids {
            let i = id as usize;
            let Some(h) = hot.get(i) else {
                continue;
            };
            let [ac, am] = h.allocatable;
            let [rc, rm] = h.requested;
            let total = if h.simple {
                // Plain arithmetic: every operand is below 2^50 (`HOT_SUM_LIMIT`).
                if h.pod_count + 1 > h.allowed_pods
                    || need[0] > ac - rc
                    || need[1] > am - rm
                    || (!others.is_empty() && !fits_others(others, i))
                {
                    continue;
                }
                let [ic, im] = h.inv;
                let qc = h.non_zero[0] + pod_cpu;
                let qm = h.non_zero[1] + pod_mem;
                let (sc, sm) = if LEAST {
                    (
                        if qc > ac {
                            0
                        } else {
                            percent_hot(ac - qc, ac, ic)
                        },
                        if qm > am {
                            0
                        } else {
                            percent_hot(am - qm, am, im)
                        },
                    )
                } else {
                    (
                        percent_hot(qc.min(ac), ac, ic),
                        percent_hot(qm.min(am), am, im),
                    )
                };
                let node_score = sc * w_cpu + sm * w_mem;
                let fit = match weight_sum {
                    0 => 0,
                    2 => (node_score / 2).min(MAX_NODE_SCORE),
                    _ => quotient(node_score, weight_sum).clamp(0, MAX_NODE_SCORE),
                };
                let balanced =
                    balanced_hot([rc + balanced[0], rm + balanced[1]], [ac, am], [ic, im]);
                fit * w[0] + balanced * w[1] + static_total.get(i).copied().unwrap_or(0)
            } else {
                if !self.fits(columns, i) {
                    continue;
                }
                let row = self.row(class, columns, i, None);
                row.base
                    + class.predicted.taint.weighted(row.taint)
                    + class.predicted.affinity.weighted(row.affinity)
            };
            // Ids ascend, so a tie keeps the earlier (smaller) one.
            if total > best_total {
                (best_total, best_id) = (total, id);
            }
            reached |= reaches.get(i).copied().unwrap_or(0);
            count += 1;
        }
        Some(Fused {
            best: (count > 0).then_some((best_total, best_id)),
            reached,
            count,
        })
    }

    /// [`Self::scan`] for the [`Simple`] configuration: every column sliced once, the plugin arithmetic written
    /// out for cpu and memory (the same operations, in the same order, as `FitScorer::score_with` and
    /// `BalancedScorer::score_with`). Returns false, having done nothing, when a column is missing (a resource
    /// first seen after the last binding), so that the general loop runs instead.
    fn scan_simple(
        &self,
        s: &Simple,
        class: &StaticClass,
        columns: &NodeColumns,
        ids: &[u32],
        out: &mut Vec<FastRow>,
    ) -> bool {
        let n = columns.len();
        let (
            Some(pod_count),
            Some(allowed),
            Some(nz_cpu),
            Some(nz_mem),
            Some(alloc_cpu),
            Some(alloc_mem),
            Some(req_cpu),
            Some(req_mem),
            Some(inv_cpu),
            Some(inv_mem),
            Some(group),
            Some(taint),
            Some(affinity),
        ) = (
            full(&columns.pod_count, n),
            full(&columns.allowed_pods, n),
            full(&columns.non_zero_cpu, n),
            full(&columns.non_zero_memory, n),
            full(columns.allocatable(ResourceId::CPU), n),
            full(columns.allocatable(ResourceId::MEMORY), n),
            full(columns.requested(ResourceId::CPU), n),
            full(columns.requested(ResourceId::MEMORY), n),
            full(&columns.inv_cpu, n),
            full(&columns.inv_memory, n),
            full(&class.group, n),
            full(&class.taint, n),
            full(&class.affinity, n),
        )
        else {
            return false;
        };
        let mut checks: [(&[i64], &[i64], i64); 4] = [(&[], &[], 0); 4];
        let wanted = self.fit.checks();
        if wanted.len() > checks.len() {
            return false;
        }
        for (slot, &(id, v)) in checks.iter_mut().zip(wanted) {
            match (
                full(columns.allocatable(id), n),
                full(columns.requested(id), n),
            ) {
                (Some(a), Some(r)) => *slot = (a, r, v),
                _ => return false,
            }
        }
        let checks = checks.get(..wanted.len()).unwrap_or_default();
        let requests_nothing = self.fit.requests_nothing();
        let w = self.weights;
        for &id in ids {
            let i = id as usize;
            if i >= n || pod_count[i].saturating_add(1) > allowed[i] {
                continue;
            }
            if !requests_nothing
                && !checks.iter().all(|(a, r, v)| {
                    a.get(i)
                        .zip(r.get(i))
                        .is_some_and(|(a, r)| *v <= a.saturating_sub(*r))
                })
            {
                continue;
            }
            let caps = [alloc_cpu[i], alloc_mem[i]];
            let inv = [inv_cpu[i], inv_mem[i]];
            let fit = s.fit.map_or(0, |f| {
                let mut node_score: i64 = 0;
                let mut weight_sum: i64 = 0;
                for ((cap, inv), (on_node, (weight, pod_request))) in caps
                    .into_iter()
                    .zip(inv)
                    .zip([(nz_cpu[i], f[0]), (nz_mem[i], f[1])])
                {
                    if cap <= 0 {
                        continue;
                    }
                    let req = on_node.saturating_add(pod_request).max(0);
                    let score = if s.least {
                        if req > cap {
                            0
                        } else {
                            percent_recip(cap - req, cap, inv)
                        }
                    } else {
                        percent_recip(req.min(cap), cap, inv)
                    };
                    node_score += score * weight;
                    weight_sum += weight;
                }
                match weight_sum {
                    0 => 0,
                    // The default weights (1 and 1): a shift, not a division.
                    2 if node_score >= 0 => (node_score / 2).clamp(0, MAX_NODE_SCORE),
                    _ => quotient(node_score, weight_sum).clamp(0, MAX_NODE_SCORE),
                }
            });
            let balanced = s.balanced.map_or(0, |b| {
                let requested = [
                    req_cpu[i].saturating_add(b[0]),
                    req_mem[i].saturating_add(b[1]),
                ];
                balanced_two(requested, caps, inv)
            });
            out.push(FastRow {
                id,
                base: fit * w[0] + balanced * w[1] + group[i] * w[4],
                taint: taint[i],
                affinity: affinity[i],
            });
        }
        true
    }
}

impl Scheduler {
    /// The static answers for the pod's class, computed on first use.
    pub(crate) fn static_class(&mut self, p: &Prepared<'_>) -> Arc<StaticClass> {
        let hash = class_hash(p);
        if let Some(found) = self.classes.classes.get(&hash).and_then(|v| {
            v.iter().find(|c| {
                c.key.tolerations == p.pod.tolerations
                    && c.key.affinity == p.pod.affinity
                    && c.key.group == p.group
            })
        }) {
            return Arc::clone(found);
        }
        let class = Arc::new(self.build_class(p));
        if self.classes.len >= MAX_CLASSES {
            self.classes.clear();
        }
        self.classes.len += 1;
        self.classes
            .classes
            .entry(hash)
            .or_default()
            .push(Arc::clone(&class));
        class
    }

    fn build_class(&self, p: &Prepared<'_>) -> StaticClass {
        let f = &self.profile.filters;
        let w = &self.profile.weights;
        let nodes = self.snapshot.nodes();
        let n = nodes.len();
        let mut class = StaticClass {
            key: ClassKey {
                tolerations: p.pod.tolerations.clone(),
                affinity: p.pod.affinity.clone(),
                group: p.group.clone(),
            },
            candidates: Vec::with_capacity(n),
            ok: Vec::with_capacity(n),
            taint: Vec::with_capacity(n),
            affinity: Vec::with_capacity(n),
            group: Vec::with_capacity(n),
            predicted: Predicted {
                taint: Normalizer::new(0, 0, true, 0),
                affinity: Normalizer::new(0, 0, false, 0),
            },
            static_total: Vec::new(),
            reaches: Vec::new(),
        };
        let symbols = self.snapshot.symbols();
        for (id, node) in nodes.iter().enumerate() {
            let group = self.group_of(id);
            let ok = (!f.node_group_affinity || p.group.as_ref().is_none_or(|g| g.allows(group)))
                && (!f.node_unschedulable
                    || taints::passes_unschedulable(node.unschedulable, &p.pod.tolerations))
                && (!f.taint_toleration
                    || !node.has_hard_taints
                    || taints::untolerated(&node.taints, &p.pod.tolerations).is_none())
                && (!f.node_affinity
                    || p.pod.affinity.is_unconstrained()
                    || p.pod
                        .resolved_affinity
                        .matches(&node.label_symbols, &node.name, symbols));
            if ok {
                class.candidates.push(u32::try_from(id).unwrap_or(u32::MAX));
            }
            class.ok.push(ok);
            class
                .taint
                .push(if w.taint_toleration > 0 && !node.taints.is_empty() {
                    taints::count_intolerable_prefer_no_schedule(&node.taints, &p.pod.tolerations)
                } else {
                    0
                });
            class
                .affinity
                .push(if w.node_affinity > 0 && p.pod.affinity.has_preferences() {
                    p.pod.resolved_affinity.preferred_score(
                        &node.label_symbols,
                        &node.name,
                        symbols,
                    )
                } else {
                    0
                });
            class.group.push(match &p.group {
                Some(g) if w.node_group_affinity > 0 => g.score(group),
                _ => 0,
            });
        }
        let mut m = Maxima::NONE;
        for &id in &class.candidates {
            let i = id as usize;
            m.add(column_at(&class.taint, i), column_at(&class.affinity, i));
        }
        let weights = self.weight_array();
        class.predicted = Predicted {
            taint: Normalizer::new(m.taint, m.taint_min, true, weights[2]),
            affinity: Normalizer::new(m.affinity, m.affinity_min, false, weights[3]),
        };
        let p = &class.predicted;
        class.static_total = (0..n)
            .map(|i| {
                column_at(&class.group, i) * weights[4]
                    + p.taint.weighted(column_at(&class.taint, i))
                    + p.affinity.weighted(column_at(&class.affinity, i))
            })
            .collect();
        class.reaches = (0..n)
            .map(|i| {
                u8::from(column_at(&class.taint, i) == m.taint)
                    | (u8::from(column_at(&class.affinity, i) == m.affinity) << 1)
            })
            .collect();
        class
    }

    /// The per-pod numbers of the changing filters and scores, detached from the scheduler so that pool workers
    /// can run them.
    pub(crate) fn kernel(&self, p: &Prepared<'_>) -> Kernel {
        let w = &self.profile.weights;
        let fit_scorer = (w.node_resources_fit > 0).then(|| p.fit_scorer.clone());
        let balanced =
            (w.balanced_allocation > 0 && !p.balanced.skips()).then(|| p.balanced.clone());
        Kernel {
            fit: p.fit.clone(),
            simple: Simple::new(fit_scorer.as_ref(), balanced.as_ref()),
            fit_scorer,
            balanced,
            weights: self.weight_array(),
        }
    }

    /// GpuFit and the GPU score for a node that passed every other filter, when the pod asks for devices:
    /// `None` rejects the node, `Some(score)` keeps it (`Some(None)`: no GPU score).
    #[inline]
    pub(crate) fn gpu_filter(&self, p: &Prepared<'_>, i: usize) -> Option<Option<i64>> {
        if self.gpus.is_none() || p.gpu.is_none() {
            return Some(None);
        }
        let node = self.snapshot.nodes().get(i)?;
        let gpu = self.gpu_fit(p, i, node);
        if self.profile.filters.gpu_fit && gpu.as_ref().is_some_and(Result::is_err) {
            return None;
        }
        let score = match (&self.gpus, gpu) {
            (Some(table), Some(Ok(allocation))) => Some(device::policy_score(
                table.binpack_score(i, &allocation),
                self.profile.gpu_policy,
            )),
            _ => None,
        };
        Some(score)
    }

    /// Filters and scores the candidates in `ids` (ascending), appending the feasible rows in node order.
    pub(crate) fn scan_rows(
        &self,
        p: &Prepared<'_>,
        kernel: &Kernel,
        class: &StaticClass,
        ids: &[u32],
        out: &mut Vec<FastRow>,
    ) {
        let columns = self.snapshot.columns();
        if self.gpus.is_none() || p.gpu.is_none() {
            kernel.rows(class, columns, ids, out);
            return;
        }
        for &id in ids {
            let i = id as usize;
            if kernel.fits(columns, i)
                && let Some(gpu) = self.gpu_filter(p, i)
            {
                out.push(kernel.row(class, columns, i, gpu));
            }
        }
    }

    /// Filters and scores the candidates in `ids` (ascending): the fused findings when the fused loop ran (no
    /// row written), else `None` with the feasible rows appended in node order.
    pub(crate) fn scan(
        &self,
        p: &Prepared<'_>,
        kernel: &Kernel,
        class: &StaticClass,
        ids: &[u32],
        out: &mut Vec<FastRow>,
    ) -> Option<Fused> {
        if self.gpus.is_none() || p.gpu.is_none() {
            return kernel.scan(class, self.snapshot.columns(), ids, out);
        }
        self.scan_rows(p, kernel, class, ids, out);
        None
    }

    /// The weights in row order: fit, balanced, taint, affinity, group, GPU.
    pub(crate) fn weight_array(&self) -> [i64; 6] {
        let w = self.profile.weights;
        [
            w.node_resources_fit,
            w.balanced_allocation,
            w.taint_toleration,
            w.node_affinity,
            w.node_group_affinity,
            w.gpu,
        ]
    }

    /// Normalized, weighted totals of feasible rows as the reference computes them (for diagnostics and tests).
    pub(crate) fn fast_totals(&self, rows: &[FastRow]) -> Vec<(u32, i64)> {
        let weights = self.weight_array();
        let mut taint: Vec<i64> = rows.iter().map(|r| r.taint).collect();
        let mut affinity: Vec<i64> = rows.iter().map(|r| r.affinity).collect();
        default_normalize(&mut taint, true);
        default_normalize(&mut affinity, false);
        rows.iter()
            .zip(taint.iter().zip(&affinity))
            .map(|(r, (t, a))| (r.id, r.base + t * weights[2] + a * weights[3]))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_one_agrees_with_default_normalize() {
        for column in [
            vec![0, 1, 3],
            vec![10, 30, 0],
            vec![0, 0],
            vec![-5, 0, 7],
            vec![2],
        ] {
            for reverse in [false, true] {
                let max = column.iter().copied().max().unwrap_or(0);
                let mut expected = column.clone();
                default_normalize(&mut expected, reverse);
                let got: Vec<i64> = column
                    .iter()
                    .map(|s| normalize_one(*s, max, reverse))
                    .collect();
                assert_eq!(got, expected, "{column:?} reverse={reverse}");
            }
        }
    }

    #[test]
    fn best_row_breaks_ties_to_the_first_row() {
        let rows = [
            FastRow {
                id: 3,
                base: 10,
                taint: 0,
                affinity: 0,
            },
            FastRow {
                id: 5,
                base: 10,
                taint: 0,
                affinity: 0,
            },
            FastRow {
                id: 1,
                base: 9,
                taint: 0,
                affinity: 0,
            },
        ];
        assert_eq!(best_row(&rows, [1; 6], maxima(&rows)), Some((0, 10 + 100)));
        assert_eq!(best_row(&[], [1; 6], maxima(&[])), None);
    }

    #[test]
    fn tabulated_normalization_agrees_with_the_formula() {
        for (max, min) in [(0, 0), (1, 0), (3, 0), (127, 0), (128, 0), (5, -2)] {
            for reverse in [false, true] {
                let n = Normalizer::new(max, min, reverse, 3);
                for s in min..=max {
                    assert_eq!(
                        n.weighted(s),
                        normalize_one(s, max, reverse) * 3,
                        "{s} of {max}"
                    );
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn percent_fast_is_the_integer_quotient(whole in 1i64..i64::MAX, f in 0.0f64..=1.0) {
            #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss, reason = "a test input")]
            let part = ((whole as f64) * f) as i64;
            let part = part.clamp(0, whole);
            proptest::prop_assert_eq!(percent_fast(part, whole), fit::percent(part, whole));
        }

        #[test]
        fn quotient_is_the_integer_quotient(a in 0i64..i64::MAX, b in 1i64..i64::MAX, small in 0i64..(1i64 << 20), d in 1i64..400) {
            proptest::prop_assert_eq!(quotient(a, b), a / b);
            proptest::prop_assert_eq!(quotient(small, d), small / d);
            proptest::prop_assert_eq!(quotient(a >> 13, b >> 13 | 1), (a >> 13) / (b >> 13 | 1));
        }

        #[test]
        fn round_small_rounds_to_nearest(v in 0.0f64..2_251_799_813_685_248.0) {
            #[allow(clippy::cast_possible_truncation, reason = "v < 2^51")]
            let (nearest, floor) = (v.round_ties_even() as i64, v.floor() as i64);
            proptest::prop_assert_eq!(round_small(v), nearest);
            #[allow(clippy::cast_precision_loss, reason = "floor < 2^51")]
            let whole = floor as f64;
            proptest::prop_assert_eq!(round_small(whole), floor);
        }

        #[test]
        fn percent_recip_is_the_integer_quotient(whole in 1i64..(1i64 << 46), f in 0.0f64..=1.0, small in 1i64..200_000) {
            for whole in [whole, small] {
                #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss, reason = "a test input")]
                let part = (((whole as f64) * f) as i64).clamp(0, whole);
                let inv = 1.0 / whole as f64;
                for part in [part, whole - part, 0, whole, whole / 2, whole / 3, whole / 100 * 37] {
                    proptest::prop_assert_eq!(percent_recip(part, whole, inv), fit::percent(part, whole), "{} of {}", part, whole);
                    if whole < 1 << 45 {
                        proptest::prop_assert_eq!(percent_hot(part, whole, inv), fit::percent(part, whole), "{} of {}", part, whole);
                    }
                }
            }
        }

        #[test]
        fn balanced_two_is_upstreams_formula(
            caps in (0i64..(1i64 << 42), 0i64..(1i64 << 42)),
            f in (0.0f64..1.3, 0.0f64..1.3),
            small in (1i64..4_000, 1i64..4_000, 0i64..4_000, 0i64..4_000),
        ) {
            #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss, reason = "a test input")]
            let cases = [
                ([(caps.0 as f64 * f.0) as i64, (caps.1 as f64 * f.1) as i64], [caps.0, caps.1]),
                // Equal fractions (score exactly 100) and other exact quarters.
                ([caps.0 / 4, caps.1 / 4], [caps.0 / 4 * 4, caps.1 / 4 * 4]),
                ([caps.0 / 4, caps.1 / 4 * 2], [caps.0 / 4 * 4, caps.1 / 4 * 4]),
                ([small.2, small.3], [small.0, small.1]),
                ([small.2 * 3, small.2 * 3], [small.0 * 3, small.0 * 3]),
            ];
            for (requested, caps) in cases {
                let inv = caps.map(|c| if c > 0 { 1.0 / c as f64 } else { 0.0 });
                let mut fractions = Vec::new();
                for (cap, req) in caps.into_iter().zip(requested) {
                    if cap != 0 {
                        fractions.push((req as f64 / cap as f64).min(1.0));
                    }
                }
                let std = if fractions.len() == 2 { ((fractions[0] - fractions[1]) / 2.0).abs() } else { 0.0 };
                #[allow(clippy::cast_possible_truncation, reason = "upstream's truncation")]
                let expected = ((1.0 - std) * 100.0) as i64;
                proptest::prop_assert_eq!(balanced_two(requested, caps, inv), expected, "{:?} of {:?}", requested, caps);
            }
        }

        #[test]
        fn percent_fast_is_exact_on_node_sized_numbers(whole in 1i64..(1i64 << 45), part in 0i64..(1i64 << 45)) {
            let part = part.min(whole);
            proptest::prop_assert_eq!(percent_fast(part, whole), fit::percent(part, whole));
        }
    }
}
