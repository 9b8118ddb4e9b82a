//! The filter and score plugins, with upstream semantics where upstream has them, and score normalization.
//!
//! Each plugin splits its work the way the hot loop needs it: a per-pod preparation (requests resolved, args
//! applied), a per-node check or score that allocates nothing, and reasons that are only computed when asked.

pub mod affinity;
pub mod balanced;
pub mod fit;
pub mod taints;

/// The highest score a plugin gives (`MaxNodeScore`).
pub const MAX_NODE_SCORE: i64 = 100;

/// The highest score an extender gives (`MaxExtenderPriority`).
pub const MAX_EXTENDER_PRIORITY: i64 = 10;

/// TaintToleration.
pub const TAINT_TOLERATION: &str = "TaintToleration";
/// NodeAffinity.
pub const NODE_AFFINITY: &str = "NodeAffinity";
/// NodeUnschedulable.
pub const NODE_UNSCHEDULABLE: &str = "NodeUnschedulable";

/// The GPU plugins (`GpuFit` filter, `GpuBinpack` / `GpuSpread` score), implemented in [`crate::device`].
pub use crate::device::{GPU_BINPACK, GPU_FIT, GPU_SPREAD};

/// Upstream's default normalizer (scheduling.md §1.8): `s × 100 / max`, then `100 − s` when `reverse`; when the
/// maximum is 0 every score becomes 100 if `reverse`, else stays.
pub fn default_normalize(scores: &mut [i64], reverse: bool) {
    let max = scores.iter().copied().max().unwrap_or(0);
    if max == 0 {
        if reverse {
            scores.iter_mut().for_each(|s| *s = MAX_NODE_SCORE);
        }
        return;
    }
    for s in scores.iter_mut() {
        let scaled = s.saturating_mul(MAX_NODE_SCORE) / max;
        *s = if reverse {
            MAX_NODE_SCORE - scaled
        } else {
            scaled
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_as_upstream() {
        let mut s = [0, 1, 3];
        default_normalize(&mut s, true);
        assert_eq!(s, [100, 67, 0]);
        let mut s = [10, 30, 0];
        default_normalize(&mut s, false);
        assert_eq!(s, [33, 100, 0]);
        let mut s = [0, 0];
        default_normalize(&mut s, true);
        assert_eq!(s, [100, 100]);
        let mut s = [0, 0];
        default_normalize(&mut s, false);
        assert_eq!(s, [0, 0]);
    }
}
