//! NodeResourcesBalancedAllocation (scheduling.md §1.7): `(1 − std) × 100` over the requested fractions, with the
//! formula of Kubernetes 1.23–1.35 (not kubernetes#135573).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::plugins::fit::{ResourceSpecArgs, resolve_resources};
use crate::resources::ResourceId;
use crate::snapshot::{NodeInfo, PodInfo, Snapshot};

/// The plugin name.
pub const NAME: &str = "NodeResourcesBalancedAllocation";

/// `NodeResourcesBalancedAllocationArgs` (v1).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BalancedAllocationArgs {
    /// Accepted for symmetry with scheduler configuration files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Accepted for symmetry with scheduler configuration files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Resources; empty means cpu and memory. Every weight must be 1 and names unique.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ResourceSpecArgs>,
}

/// Validated resource names.
///
/// # Errors
/// [`Error::InvalidArgs`] for a weight other than 1 or a name given twice.
pub fn config_from_args(args: &BalancedAllocationArgs) -> Result<Vec<String>> {
    let resources = resolve_resources(&args.resources, "resources", NAME)?;
    let mut names: Vec<String> = Vec::with_capacity(resources.len());
    for (i, (name, weight)) in resources.into_iter().enumerate() {
        if weight != 1 {
            return Err(Error::InvalidArgs {
                plugin: NAME.into(),
                field: format!("resources[{i}].weight"),
                reason: format!("must be 1, got {weight}"),
            });
        }
        if names.contains(&name) {
            return Err(Error::InvalidArgs {
                plugin: NAME.into(),
                field: format!("resources[{i}].name"),
                reason: format!("duplicate resource {name:?}"),
            });
        }
        names.push(name);
    }
    Ok(names)
}

/// The BalancedAllocation scorer for one pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalancedScorer {
    /// (id, pod's real request); resources left out of the score are not listed.
    resources: Vec<(ResourceId, i64)>,
    skip: bool,
}

impl BalancedScorer {
    /// Prepares the scorer; [`skips`](Self::skips) when the pod requests none of the resources (PreScore Skip,
    /// kubernetes#129138).
    pub fn new(pod: &PodInfo, snapshot: &Snapshot, names: &[String]) -> Self {
        let mut skip = true;
        let mut resources = Vec::with_capacity(names.len());
        for name in names {
            let Some(id) = snapshot.resources().get(name) else {
                continue;
            };
            let request = pod.request(id);
            if request != 0 {
                skip = false;
            }
            if request == 0 && snapshot.is_scalar(id) {
                continue;
            }
            resources.push((id, request));
        }
        Self { resources, skip }
    }

    /// True when upstream's PreScore would return Skip.
    pub fn skips(&self) -> bool {
        self.skip
    }

    /// The scored `(resource, pod's real request)` pairs.
    pub(crate) fn resources(&self) -> &[(ResourceId, i64)] {
        &self.resources
    }

    /// The raw score, 0–100.
    pub fn score(&self, node: &NodeInfo) -> i64 {
        self.score_with(|id| (node.allocatable(id), node.requested(id)))
    }

    /// [`Self::score`] over numbers read through `amounts(resource) = (allocatable, requested)`: the one
    /// definition behind the record view and the column view of a node.
    #[inline]
    pub(crate) fn score_with(&self, amounts: impl Fn(ResourceId) -> (i64, i64)) -> i64 {
        let mut fractions = [0f64; 8];
        let mut extra = Vec::new();
        let mut n = 0usize;
        let mut total = 0.0;
        for &(id, request) in &self.resources {
            let (cap, on_node) = amounts(id);
            if cap == 0 {
                continue;
            }
            let req = on_node.saturating_add(request);
            #[allow(
                clippy::cast_precision_loss,
                reason = "upstream computes the fraction in f64"
            )]
            let f = (req as f64 / cap as f64).min(1.0);
            total += f;
            match fractions.get_mut(n) {
                Some(slot) => *slot = f,
                None => extra.push(f),
            }
            n += 1;
        }
        let all = fractions.iter().take(n).chain(extra.iter());
        let std = match n {
            0 | 1 => 0.0,
            2 => ((fractions[0] - fractions[1]) / 2.0).abs(),
            _ => {
                #[allow(clippy::cast_precision_loss, reason = "a handful of resources")]
                let len = n as f64;
                let mean = total / len;
                (all.map(|f| (f - mean) * (f - mean)).sum::<f64>() / len).sqrt()
            }
        };
        #[allow(
            clippy::cast_possible_truncation,
            reason = "upstream truncates (1 − std) × 100, which lies in 0–100"
        )]
        let score = ((1.0 - std) * 100.0) as i64;
        score
    }
}
