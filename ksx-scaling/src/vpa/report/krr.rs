//! KRR's `simple` and `simple_limit` strategies (robusta-dev/krr `strategies/simple.py`, spec `scaling.md` §4) over
//! the report's history.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{
    MIB, Recommendation, Recommendations, ReportInputs, Resources, Strategy, ceil_amount, max_opt,
};
use crate::vpa::history::{WorkloadContainer, workload_of_pod};

/// KRR's resolution (1.25 minutes).
const KRR_STEP: Duration = Duration::from_millis(75_000);
/// Prometheus' limit of points per series in a range query.
const MAX_POINTS: u128 = 11_000;

/// The step KRR's strategies read at for a history of `length`: 1.25 min, or coarser so that a series stays
/// within Prometheus' 11,000 points.
pub fn krr_step(length: Duration) -> Duration {
    let min_nanos = length.as_nanos() / (MAX_POINTS - 1) + 1;
    let min = Duration::from_nanos(u64::try_from(min_nanos).unwrap_or(u64::MAX));
    // Whole seconds keep PromQL durations simple.
    let min = Duration::from_secs(min.as_secs() + u64::from(min.subsec_nanos() > 0));
    KRR_STEP.max(min)
}

/// KRR's `simple` / `simple_limit` per workload container (see the [report docs](super)).
pub(super) fn krr_recommendations(inputs: &ReportInputs, strategy: Strategy) -> Recommendations {
    // Per workload container: per pod, the CPU samples and the memory maximum.
    #[derive(Default)]
    struct Acc {
        cpu_per_pod: Vec<Vec<f64>>,
        memory_max: Option<i64>,
        points: usize,
        first: Option<i64>,
        last: Option<i64>,
    }
    let mut acc: BTreeMap<WorkloadContainer, Acc> = BTreeMap::new();
    for (id, h) in &inputs.history.containers {
        let a = acc
            .entry(WorkloadContainer {
                namespace: id.namespace.clone(),
                workload: workload_of_pod(&id.pod).to_owned(),
                container: id.container.clone(),
            })
            .or_default();
        #[allow(clippy::cast_precision_loss, reason = "millicores far below 2^52")]
        let cpu: Vec<f64> = h.cpu.iter().map(|&(_, m)| m as f64 / 1000.0).collect();
        a.points += cpu.len();
        for &(t, _) in h.cpu.iter().chain(&h.memory) {
            a.first = Some(a.first.map_or(t, |f| f.min(t)));
            a.last = Some(a.last.map_or(t, |l| l.max(t)));
        }
        a.cpu_per_pod.push(cpu);
        a.memory_max = max_opt(a.memory_max, h.memory.iter().map(|&(_, b)| b).max());
    }
    let (request_p, limit_p) = match strategy {
        Strategy::SimpleLimit => (66.0, Some(96.0)),
        _ => (95.0, None),
    };
    acc.into_iter()
        .map(|(key, a)| {
            let span = a.last.unwrap_or(0).saturating_sub(a.first.unwrap_or(0));
            let rec = if a.points < 100 {
                Err(format!("Not enough data: {} points, 100 needed", a.points))
            } else if span < 3 * 3600 * 1_000_000_000 {
                Err("Not enough data: under 3 h of history".to_owned())
            } else {
                let cpu_at = |p: f64| {
                    a.cpu_per_pod
                        .iter()
                        .filter_map(|v| percentile(v, p))
                        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))))
                };
                let cpu_request = cpu_at(request_p).map(|c| ceil_amount(c * 1000.0).max(10));
                let cpu_limit =
                    limit_p.and_then(|p| cpu_at(p).map(|c| ceil_amount(c * 1000.0).max(10)));
                #[allow(
                    clippy::cast_precision_loss,
                    reason = "bytes far below 2^52 in practice; KRR computes in floats too"
                )]
                let memory = a.memory_max.map(|m| {
                    let buffered = ceil_amount(m as f64 * 1.15);
                    // Round up to a whole MiB, at least 100 MiB.
                    let mib = buffered.saturating_add(MIB - 1) / MIB;
                    mib.max(100).saturating_mul(MIB)
                });
                Ok(Recommendation {
                    target: Resources {
                        cpu_millicores: cpu_request,
                        memory_bytes: memory,
                    },
                    lower_bound: None,
                    upper_bound: None,
                    limits: Some(Resources {
                        cpu_millicores: cpu_limit,
                        memory_bytes: memory,
                    }),
                })
            };
            (key, rec)
        })
        .collect()
}
/// numpy's default (linear) percentile, as KRR uses; `None` for no data.
fn percentile(values: &[f64], p: f64) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "an index within the slice: 0 ≤ rank ≤ len − 1"
    )]
    let (lo, frac) = {
        let rank = p / 100.0 * (v.len() - 1) as f64;
        (rank.floor() as usize, rank - rank.floor())
    };
    let a = *v.get(lo)?;
    let b = v.get(lo + 1).copied().unwrap_or(a);
    Some(a + (b - a) * frac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_like_numpy() {
        let v: Vec<f64> = (1..=5).map(f64::from).collect();
        // numpy.percentile([1,2,3,4,5], 95) = 4.8, 66 → 3.64.
        assert!((percentile(&v, 95.0).unwrap() - 4.8).abs() < 1e-12);
        assert!((percentile(&v, 66.0).unwrap() - 3.64).abs() < 1e-12);
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn krr_step_stays_within_the_point_limit() {
        assert_eq!(krr_step(Duration::from_secs(8 * 86_400)), KRR_STEP);
        let long = Duration::from_secs(14 * 86_400);
        let step = krr_step(long);
        assert!(
            step > KRR_STEP && long.as_nanos() / step.as_nanos() < MAX_POINTS,
            "{step:?}"
        );
    }
}
