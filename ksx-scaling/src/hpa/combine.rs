//! Several metrics combined as upstream's `computeReplicasForMetrics` does: the largest proposal wins, with
//! upstream's handling of invalid metrics.

use super::replicas::Proposal;
use crate::error::{Error, Result};

fn metric_error(condition: &str, message: String) -> Error {
    Error::Metric {
        condition: condition.to_owned(),
        message,
    }
}

/// Several metrics combined (`computeReplicasForMetrics`): the largest proposal wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Combined {
    /// The winning count.
    pub replicas: i32,
    /// The index of the winning metric.
    pub metric: usize,
    /// How many metrics failed; when some did, the first error is reported but scaling went ahead.
    pub invalid: usize,
    /// The first failure's message, when any failed.
    pub first_error: Option<String>,
}

/// Combines per-metric results as upstream does: the largest valid proposal wins. All failing, or some failing
/// while the best valid proposal is below `spec_replicas`, is an error (no scaling).
///
/// # Errors
/// [`Error::Metric`] with "invalid metrics (k invalid out of n), first error is: …" and the first failure's
/// condition reason.
pub fn combine(results: &[Result<Proposal>], spec_replicas: i32) -> Result<Combined> {
    let mut best: Option<(i32, usize)> = None;
    let mut invalid = 0usize;
    let mut first: Option<(String, String)> = None;
    for (i, r) in results.iter().enumerate() {
        match r {
            Ok(p) => {
                if best.is_none_or(|(b, _)| b == 0 || p.replicas > b) {
                    best = Some((p.replicas, i));
                }
            }
            Err(e) => {
                if first.is_none() {
                    let condition = match e {
                        Error::Metric { condition, .. } => condition.clone(),
                        _ => "FailedGetResourceMetric".to_owned(),
                    };
                    first = Some((condition, e.to_string()));
                }
                invalid += 1;
            }
        }
    }
    let replicas = best.map_or(0, |(r, _)| r);
    if invalid >= results.len() || (invalid > 0 && replicas < spec_replicas) {
        let (condition, message) = first.unwrap_or_default();
        return Err(metric_error(
            &condition,
            format!(
                "invalid metrics ({invalid} invalid out of {}), first error is: {message}",
                results.len()
            ),
        ));
    }
    Ok(Combined {
        replicas,
        metric: best.map_or(0, |(_, i)| i),
        invalid,
        first_error: first.map(|(_, m)| m),
    })
}
