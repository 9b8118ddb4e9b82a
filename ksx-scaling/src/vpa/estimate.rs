//! Estimation (`logic/recommender.go`, `logic/estimator.go`, `utils/vpa/capping.go`, `limit_proportion.go`;
//! spec §3.4): percentiles of the aggregates, the safety margin, the confidence multipliers of the bounds, the
//! per-pod minimum shared by the containers, then the VPA's container policy and proportional limits.
//!
//! Amounts are `i64` millicores and bytes; every float → amount step truncates, clamps at 0 and caps at
//! `1e14` ([`amount_from_float`]). The float maths follows upstream's order of operations.
//!
//! | output | percentile | then |
//! |---|---|---|
//! | target | 0.9 | + margin, ≥ minimum share |
//! | lowerBound | 0.5 | + margin, × (1 + 0.001/conf)^−2, ≥ share |
//! | upperBound | 0.95 | + margin, × (1 + 1/conf)^+1, ≥ share |

use ksx_core::quantity::Quantity;

use crate::vpa::aggregate::{AggregateContainerState, amount_from_float, scale_resource};
use crate::vpa::config::RecommenderConfig;
use crate::vpa::crd::{
    ContainerResourcePolicy, ControlledValues, RecommendedContainerResources, ResourceList, VpaSpec,
};
use crate::vpa::histogram::{CPU_OPTIONS, MEMORY_OPTIONS};

/// Name of the CPU resource.
pub const CPU: &str = "cpu";
/// Name of the memory resource.
pub const MEMORY: &str = "memory";

/// One recommendation in engine units, before it becomes quantities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Estimate {
    /// Millicores.
    pub cpu_millicores: i64,
    /// Bytes.
    pub memory_bytes: i64,
}

/// Target, lower and upper bound of one container in engine units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ContainerEstimate {
    /// Recommended requests.
    pub target: Estimate,
    /// Lower bound.
    pub lower_bound: Estimate,
    /// Upper bound.
    pub upper_bound: Estimate,
}

/// `getConfidence`: `min((last − first)/interval, totalSamplesCount / minutes(interval))`, the history length
/// in confidence intervals (days by default), limited by one CPU sample a minute.
#[allow(
    clippy::cast_precision_loss,
    reason = "the float conversions of upstream's getConfidence"
)]
pub fn confidence(cfg: &RecommenderConfig, state: &AggregateContainerState) -> f64 {
    let interval = cfg.confidence_interval_nanos();
    // Zero times on both sides give a zero lifespan, as Go's `zero.Sub(zero)`.
    let lifespan = match (state.first_sample_start(), state.last_sample_start()) {
        (Some(first), Some(last)) => last.saturating_sub(first),
        _ => 0,
    };
    let lifespan = lifespan as f64 / interval as f64;
    // Go's Duration.Minutes: whole minutes plus the fraction.
    let minutes = (interval / 60_000_000_000) as f64 + (interval % 60_000_000_000) as f64 / 60e9;
    let samples = state.total_samples_count() as f64 / minutes;
    lifespan.min(samples)
}

/// Go's `math.Pow` for the integer exponents upstream uses (repeated squaring of the mantissa, then `Ldexp`),
/// so the multipliers match upstream bit for bit; other exponents use `powf`.
#[allow(
    clippy::float_cmp,
    reason = "Go's special cases compare exactly with 0, 1 and whole numbers"
)]
pub fn go_pow(x: f64, y: f64) -> f64 {
    if y == 0.0 || x == 1.0 {
        return 1.0;
    }
    if y == 1.0 {
        return x;
    }
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x.is_infinite() && x > 0.0 {
        return if y < 0.0 { 0.0 } else { f64::INFINITY };
    }
    let yi = y.abs().trunc();
    let integral = y.abs() - yi == 0.0;
    if !integral || !x.is_normal() || x < 0.0 || yi >= 1024.0 {
        return x.powf(y);
    }
    let (mut x1, mut xe) = frexp(x);
    let mut a1 = 1.0;
    let mut ae: i64 = 0;
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "yi is a whole number below 1024"
    )]
    let mut i = yi as u64;
    while i != 0 {
        if !(-(1 << 12)..=(1 << 12)).contains(&xe) {
            ae += xe;
            break;
        }
        if i & 1 == 1 {
            a1 *= x1;
            ae += xe;
        }
        x1 *= x1;
        xe <<= 1;
        if x1 < 0.5 {
            x1 += x1;
            xe -= 1;
        }
        i >>= 1;
    }
    if y < 0.0 {
        a1 = 1.0 / a1;
        ae = -ae;
    }
    ldexp(a1, ae)
}

/// Mantissa in [0.5, 1) and exponent of a normal positive float.
fn frexp(x: f64) -> (f64, i64) {
    let bits = x.to_bits();
    let exp = i64::try_from((bits >> 52) & 0x7ff).unwrap_or(0) - 1022;
    let mantissa = f64::from_bits((bits & !(0x7ff << 52)) | (1022 << 52));
    (mantissa, exp)
}

/// `frac × 2^exp` by steps of exact powers of two.
fn ldexp(frac: f64, exp: i64) -> f64 {
    let mut v = frac;
    let mut e = exp;
    while e > 1000 {
        v *= crate::vpa::histogram::exp2_int(1000);
        e -= 1000;
    }
    while e < -1000 {
        v *= crate::vpa::histogram::exp2_int(-1000);
        e += 1000;
    }
    v * crate::vpa::histogram::exp2_int(e)
}

/// The minimum share of one container: 25 millicores and 250 MiB per pod (configurable), times `1/N`, as
/// upstream computes it in `f64`: CPU `trunc(trunc(m × 0.001 × 1000) × (1/N))`, memory
/// `trunc(trunc(mb × 1024 × 1024) × (1/N))`. Three containers give 8m and 87381333 bytes.
#[allow(
    clippy::cast_precision_loss,
    reason = "float64(len(containers)) as upstream"
)]
pub fn minimum_share(cfg: &RecommenderConfig, containers: usize) -> Estimate {
    let fraction = 1.0 / containers.max(1) as f64;
    Estimate {
        cpu_millicores: scale_resource(
            amount_from_float(cfg.pod_min_cpu_millicores * 0.001 * 1000.0),
            fraction,
        ),
        memory_bytes: scale_resource(
            amount_from_float(cfg.pod_min_memory_mb * 1024.0 * 1024.0),
            fraction,
        ),
    }
}

/// Percentiles → margin → confidence multiplier → minimum, for one pair of percentiles.
fn estimate_one(
    cfg: &RecommenderConfig,
    state: &AggregateContainerState,
    percentiles: (f64, f64),
    multiplier: Option<(f64, f64)>,
    conf: f64,
    min: Estimate,
) -> Estimate {
    let cpu = amount_from_float(
        state
            .cpu_histogram()
            .percentile(&CPU_OPTIONS, percentiles.0)
            * 1000.0,
    );
    let memory = amount_from_float(
        state
            .memory_histogram()
            .percentile(&MEMORY_OPTIONS, percentiles.1),
    );
    let margin = |a: i64| a.saturating_add(scale_resource(a, cfg.safety_margin_fraction));
    let (mut cpu, mut memory) = (margin(cpu), margin(memory));
    if let Some((m, e)) = multiplier {
        let factor = go_pow(1.0 + m / conf, e);
        cpu = scale_resource(cpu, factor);
        memory = scale_resource(memory, factor);
    }
    Estimate {
        cpu_millicores: cpu.max(min.cpu_millicores),
        memory_bytes: memory.max(min.memory_bytes),
    }
}

/// Target and bounds of one aggregate in engine units, with `min` as the minimum share.
pub fn estimate_container(
    cfg: &RecommenderConfig,
    state: &AggregateContainerState,
    min: Estimate,
) -> ContainerEstimate {
    let conf = confidence(cfg, state);
    ContainerEstimate {
        target: estimate_one(
            cfg,
            state,
            (cfg.target_cpu_percentile, cfg.target_memory_percentile),
            None,
            conf,
            min,
        ),
        lower_bound: estimate_one(
            cfg,
            state,
            (
                cfg.lower_bound_cpu_percentile,
                cfg.lower_bound_memory_percentile,
            ),
            Some((0.001, -2.0)),
            conf,
            min,
        ),
        upper_bound: estimate_one(
            cfg,
            state,
            (
                cfg.upper_bound_cpu_percentile,
                cfg.upper_bound_memory_percentile,
            ),
            Some((1.0, 1.0)),
            conf,
            min,
        ),
    }
}

/// The resource list of an estimate: CPU as `NewScaledQuantity(millicores, -3)`, memory as
/// `NewScaledQuantity(bytes, 0)` (both DecimalSI: `150m`, `2`, `123456k`, never `Mi`).
pub fn resource_list(e: Estimate) -> ResourceList {
    let mut list = ResourceList::new();
    // Amounts are within [0, 1e14], far inside the quantity range, so these never fail.
    if let Ok(q) = Quantity::new_scaled(e.cpu_millicores, -3) {
        list.insert(CPU.to_owned(), q);
    }
    if let Ok(q) = Quantity::new_scaled(e.memory_bytes, 0) {
        list.insert(MEMORY.to_owned(), q);
    }
    list
}

/// Recommendations for the containers of one VPA, sorted by container name; `N = containers.len()` for the
/// minimum share. `uncappedTarget` equals `target` (no policy applied yet: see [`apply_policy`]).
///
/// `now` is accepted for symmetry with the recommender loop; upstream's estimators do not read the clock.
pub fn recommend(
    cfg: &RecommenderConfig,
    containers: &[(&str, &AggregateContainerState)],
    now: i64,
) -> Vec<RecommendedContainerResources> {
    let _ = now;
    let min = minimum_share(cfg, containers.len());
    let mut out: Vec<RecommendedContainerResources> = containers
        .iter()
        .map(|(name, state)| {
            let e = estimate_container(cfg, state, min);
            let target = resource_list(e.target);
            RecommendedContainerResources {
                container_name: (*name).to_owned(),
                uncapped_target: target.clone(),
                target,
                lower_bound: resource_list(e.lower_bound),
                upper_bound: resource_list(e.upper_bound),
            }
        })
        .collect();
    out.sort_by(|a, b| a.container_name.cmp(&b.container_name));
    out
}

/// Applies the VPA's container policy (its own entry or `*`) to one recommendation: only `controlledResources`
/// are kept; target, lower and upper bound are raised to `minAllowed` and lowered to `maxAllowed`
/// (`ApplyVPAPolicy`); `uncappedTarget` is the target before capping (restricted to the controlled resources).
/// Without a policy the recommendation is returned as it is, with `uncappedTarget` set.
/// Whether a container whose policy `mode` is `Off` gets an entry at all is the caller's decision
/// ([`VpaSpec::controls`]); this function only caps.
pub fn apply_policy(
    rec: &RecommendedContainerResources,
    spec: &VpaSpec,
) -> RecommendedContainerResources {
    let Some(policy) = spec.container_policy(&rec.container_name) else {
        let mut out = rec.clone();
        out.uncapped_target = rec.target.clone();
        return out;
    };
    let controlled = policy.controlled_resources();
    let filter = |list: &ResourceList| -> ResourceList {
        list.iter()
            .filter(|(k, _)| controlled.iter().any(|c| c == *k))
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    };
    let uncapped = filter(&rec.target);
    RecommendedContainerResources {
        container_name: rec.container_name.clone(),
        target: cap(&uncapped, policy),
        lower_bound: cap(&filter(&rec.lower_bound), policy),
        upper_bound: cap(&filter(&rec.upper_bound), policy),
        uncapped_target: uncapped,
    }
}

/// `maybeCapToPolicyMin` then `maybeCapToMax` on each resource.
fn cap(list: &ResourceList, policy: &ContainerResourcePolicy) -> ResourceList {
    list.iter()
        .map(|(name, q)| {
            let mut v = *q;
            if let Some(min) = policy.min_allowed.as_ref().and_then(|m| m.get(name))
                && v < *min
            {
                v = *min;
            }
            if let Some(max) = policy.max_allowed.as_ref().and_then(|m| m.get(name))
                && v > *max
            {
                v = *max;
            }
            (name.clone(), v)
        })
        .collect()
}

/// The limits a container gets with `recommended` requests (`GetProportionalLimit`, no LimitRange default).
/// `RequestsOnly` leaves `limits_now` as it is. `RequestsAndLimits` keeps each limit's ratio to its request:
/// no limit → none; a recommended request of 0 → the limit is kept; no request or a request equal to the
/// limit → limit = recommendation; else `limit × recommended / request` in exact integer arithmetic (milli-units
/// for CPU, units for memory, floored), saturating at the largest `i64`. Resources not recommended keep their
/// limit.
pub fn limits_for(
    requests_now: &ResourceList,
    limits_now: &ResourceList,
    recommended: &ResourceList,
    values: ControlledValues,
) -> ResourceList {
    let mut out = limits_now.clone();
    if values == ControlledValues::RequestsOnly {
        return out;
    }
    for (name, rec) in recommended {
        let Some(limit) = limits_now.get(name).filter(|l| l.value() != 0) else {
            continue;
        };
        if rec.value() == 0 {
            continue;
        }
        let request = requests_now.get(name).filter(|r| r.value() != 0);
        let Some(request) = request else {
            out.insert(name.clone(), *rec);
            continue;
        };
        if request.milli_value() == limit.milli_value() {
            out.insert(name.clone(), *rec);
            continue;
        }
        let format = limit.format();
        let scaled = if name == CPU {
            let v = proportion(
                limit.milli_value(),
                rec.milli_value(),
                request.milli_value(),
            );
            Quantity::from_milli(v, format)
        } else {
            let v = proportion(limit.value(), rec.value(), request.value());
            Quantity::from_int(v, format)
        };
        out.insert(name.clone(), scaled);
    }
    out
}

/// `a × b / c` floored (big.Int's Euclidean division), saturating at `i64::MAX` as upstream's overflow case.
fn proportion(a: i64, b: i64, c: i64) -> i64 {
    let product = i128::from(a) * i128::from(b);
    let q = product.div_euclid(i128::from(c));
    i64::try_from(q).unwrap_or(i64::MAX)
}
