//! The simulator: replays a [`Trace`] through each policy, all starting empty, every request counted.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::policy::{Belady, EvictionPolicy, PolicyKind};
use crate::trace::Trace;

/// The outcome of one policy on one trace.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyResult {
    /// The policy.
    pub policy: PolicyKind,
    /// Requests served from the cache.
    pub hits: u64,
    /// Requests that were not (the first request of every key included).
    pub misses: u64,
    /// `hits / (hits + misses)`, 0.0 for an empty trace.
    pub hit_ratio: f64,
}

impl PolicyResult {
    /// A result from its counts.
    #[must_use]
    pub fn new(policy: PolicyKind, hits: u64, misses: u64) -> Self {
        Self {
            policy,
            hits,
            misses,
            hit_ratio: ratio(hits, hits + misses),
        }
    }
}

/// `part / whole`, 0.0 when `whole` is 0.
#[must_use]
pub fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    #[allow(
        clippy::cast_precision_loss,
        reason = "request counts stay far below 2^53"
    )]
    let r = part as f64 / whole as f64;
    r
}

/// The simulator's report: `{"policies": [{"policy", "hits", "misses", "hitRatio"}, …]}`, in the requested order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimulationReport {
    /// One entry per policy.
    pub policies: Vec<PolicyResult>,
}

/// Replays the whole trace through one policy; returns (hits, misses).
pub fn replay(policy: &mut dyn EvictionPolicy<usize>, trace: &Trace) -> (u64, u64) {
    let mut hits = 0;
    for r in trace.requests() {
        if policy.access(&r.key, r.size).hit {
            hits += 1;
        }
    }
    (hits, trace.len() as u64 - hits)
}

/// Builds a policy for this trace: online ones from their defaults (W-TinyLFU's sketch sized for
/// `capacity / mean object size` keys), `belady` from the trace's future.
#[must_use]
pub fn policy_for(
    kind: PolicyKind,
    trace: &Trace,
    capacity: u64,
) -> Box<dyn EvictionPolicy<usize> + Send> {
    let expected = usize::try_from(capacity / trace.mean_object_size()).unwrap_or(usize::MAX);
    kind.build(capacity, expected)
        .unwrap_or_else(|| Box::new(Belady::new(capacity, &trace.key_ids())))
}

/// Runs every policy over the trace with `capacity` (objects for unit-size traces, bytes for sized ones).
///
/// # Errors
/// [`Error::InvalidParameter`] when `capacity` is 0.
pub fn simulate(trace: &Trace, capacity: u64, policies: &[PolicyKind]) -> Result<SimulationReport> {
    if capacity == 0 {
        return Err(Error::InvalidParameter {
            field: "capacity",
            message: "must be at least 1".into(),
        });
    }
    let policies = policies
        .iter()
        .map(|&kind| {
            let mut policy = policy_for(kind, trace, capacity);
            let (hits, misses) = replay(policy.as_mut(), trace);
            PolicyResult::new(kind, hits, misses)
        })
        .collect();
    Ok(SimulationReport { policies })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_checked_report() {
        // Capacity 2: LRU never hits on a b c a b c; Belady keeps `a` then `b`.
        let trace = Trace::from_unit_keys(&["a", "b", "c", "a", "b", "c"]);
        let report = simulate(&trace, 2, &[PolicyKind::Lru, PolicyKind::Belady]).unwrap();
        assert_eq!(
            report.policies,
            [
                PolicyResult::new(PolicyKind::Lru, 0, 6),
                PolicyResult::new(PolicyKind::Belady, 2, 4)
            ]
        );
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(
            json["policies"][1],
            serde_json::json!({"policy": "belady", "hits": 2, "misses": 4, "hitRatio": 2.0 / 6.0})
        );
    }

    #[test]
    fn empty_trace_and_zero_capacity() {
        let report = simulate(&Trace::default(), 3, &PolicyKind::ALL).unwrap();
        assert!(
            report
                .policies
                .iter()
                .all(|p| p.hits == 0 && p.misses == 0 && p.hit_ratio == 0.0)
        );
        let err = simulate(&Trace::default(), 0, &[PolicyKind::Lru]).unwrap_err();
        assert_eq!(err.to_string(), "invalid capacity: must be at least 1");
    }

    #[test]
    fn loop_oracle() {
        // Keys 1..L repeated with C < L: LRU and FIFO never hit; Belady tends to (C − 1)/(L − 1).
        let config = crate::trace::GeneratorConfig {
            keys: 100,
            requests: 100_000,
            ..Default::default()
        };
        let trace = crate::trace::generate(crate::trace::TraceKind::Loop, &config).unwrap();
        let report = simulate(
            &trace,
            20,
            &[PolicyKind::Lru, PolicyKind::Fifo, PolicyKind::Belady],
        )
        .unwrap();
        assert_eq!(report.policies[0].hits, 0);
        assert_eq!(report.policies[1].hits, 0);
        let expected = 19.0 / 99.0;
        assert!(
            (report.policies[2].hit_ratio - expected).abs() < 0.005,
            "{}",
            report.policies[2].hit_ratio
        );
    }
}
