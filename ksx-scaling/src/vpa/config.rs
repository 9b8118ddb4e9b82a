//! The recommender's tunables: one field per `config` key of `ksx vpa recommend`
//! (`shared/contracts/scaling-cli.md`), each defaulting to the upstream flag or constant it mirrors.
//!
//! Durations are whole seconds; the engine converts them to nanoseconds of engine time.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Nanoseconds in a second.
pub(crate) const NANOS_PER_SEC: i64 = 1_000_000_000;

/// Recommender settings. Every field is optional in JSON (missing keys take the upstream default) and unknown
/// keys are refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct RecommenderConfig {
    /// Half-life of the CPU usage histogram's decay (`--cpu-histogram-decay-half-life`, 24 h).
    pub cpu_half_life_seconds: i64,
    /// Half-life of the memory peak histogram's decay (`--memory-histogram-decay-half-life`, 24 h).
    pub memory_half_life_seconds: i64,
    /// Length of one memory peak window (`--memory-aggregation-interval`, 24 h).
    pub memory_aggregation_interval_seconds: i64,
    /// Number of windows kept before an aggregate expires (`--memory-aggregation-interval-count`, 8).
    pub memory_aggregation_interval_count: i64,
    /// CPU percentile of the target (`--target-cpu-percentile`, 0.9).
    pub target_cpu_percentile: f64,
    /// Memory percentile of the target (`--target-memory-percentile`, 0.9).
    pub target_memory_percentile: f64,
    /// CPU percentile of the lower bound (`--recommendation-lower-bound-cpu-percentile`, 0.5).
    pub lower_bound_cpu_percentile: f64,
    /// Memory percentile of the lower bound (`--recommendation-lower-bound-memory-percentile`, 0.5).
    pub lower_bound_memory_percentile: f64,
    /// CPU percentile of the upper bound (`--recommendation-upper-bound-cpu-percentile`, 0.95).
    pub upper_bound_cpu_percentile: f64,
    /// Memory percentile of the upper bound (`--recommendation-upper-bound-memory-percentile`, 0.95).
    pub upper_bound_memory_percentile: f64,
    /// Fraction added on top of every estimate (`--recommendation-margin-fraction`, 0.15).
    pub safety_margin_fraction: f64,
    /// Smallest CPU recommendation of a whole pod, in millicores, split over its containers
    /// (`--pod-recommendation-min-cpu-millicores`, 25).
    pub pod_min_cpu_millicores: f64,
    /// Smallest memory recommendation of a whole pod, in MiB, split over its containers
    /// (`--pod-recommendation-min-memory-mb`, 250).
    pub pod_min_memory_mb: f64,
    /// Factor applied to the memory in use at an OOM kill (`--oom-bump-up-ratio`, 1.2).
    pub oom_bump_up_ratio: f64,
    /// Bytes added at least to the memory in use at an OOM kill (`--oom-min-bump-up-bytes`, 100 MiB).
    pub oom_min_bump_up_bytes: f64,
    /// History length that counts as one unit of confidence, for CPU and memory (24 h).
    pub confidence_interval_seconds: i64,
}

impl Default for RecommenderConfig {
    fn default() -> Self {
        Self {
            cpu_half_life_seconds: 86_400,
            memory_half_life_seconds: 86_400,
            memory_aggregation_interval_seconds: 86_400,
            memory_aggregation_interval_count: 8,
            target_cpu_percentile: 0.9,
            target_memory_percentile: 0.9,
            lower_bound_cpu_percentile: 0.5,
            lower_bound_memory_percentile: 0.5,
            upper_bound_cpu_percentile: 0.95,
            upper_bound_memory_percentile: 0.95,
            safety_margin_fraction: 0.15,
            pod_min_cpu_millicores: 25.0,
            pod_min_memory_mb: 250.0,
            oom_bump_up_ratio: 1.2,
            oom_min_bump_up_bytes: 104_857_600.0,
            confidence_interval_seconds: 86_400,
        }
    }
}

impl RecommenderConfig {
    /// Checks every value; field names in errors are prefixed with `prefix` (`config`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidField`] naming the first bad key: durations and the interval count must be positive (and a
    /// duration at most ~292 years, the range of engine time), percentiles within [0, 1], the other numbers
    /// finite and not negative.
    pub fn validate(&self, prefix: &str) -> Result<()> {
        let durations = [
            ("cpuHalfLifeSeconds", self.cpu_half_life_seconds),
            ("memoryHalfLifeSeconds", self.memory_half_life_seconds),
            (
                "memoryAggregationIntervalSeconds",
                self.memory_aggregation_interval_seconds,
            ),
            (
                "memoryAggregationIntervalCount",
                self.memory_aggregation_interval_count,
            ),
            (
                "confidenceIntervalSeconds",
                self.confidence_interval_seconds,
            ),
        ];
        for (name, value) in durations {
            if value <= 0 || value > i64::MAX / NANOS_PER_SEC {
                return Err(Error::invalid(
                    format!("{prefix}.{name}"),
                    format!("must be a positive number of seconds, got {value}"),
                ));
            }
        }
        let percentiles = [
            ("targetCpuPercentile", self.target_cpu_percentile),
            ("targetMemoryPercentile", self.target_memory_percentile),
            ("lowerBoundCpuPercentile", self.lower_bound_cpu_percentile),
            (
                "lowerBoundMemoryPercentile",
                self.lower_bound_memory_percentile,
            ),
            ("upperBoundCpuPercentile", self.upper_bound_cpu_percentile),
            (
                "upperBoundMemoryPercentile",
                self.upper_bound_memory_percentile,
            ),
        ];
        for (name, value) in percentiles {
            if !(0.0..=1.0).contains(&value) {
                return Err(Error::invalid(
                    format!("{prefix}.{name}"),
                    format!("must be within [0, 1], got {value}"),
                ));
            }
        }
        let amounts = [
            ("safetyMarginFraction", self.safety_margin_fraction),
            ("podMinCpuMillicores", self.pod_min_cpu_millicores),
            ("podMinMemoryMb", self.pod_min_memory_mb),
            ("oomBumpUpRatio", self.oom_bump_up_ratio),
            ("oomMinBumpUpBytes", self.oom_min_bump_up_bytes),
        ];
        for (name, value) in amounts {
            if !value.is_finite() || value < 0.0 {
                return Err(Error::invalid(
                    format!("{prefix}.{name}"),
                    format!("must be a finite number, not negative, got {value}"),
                ));
            }
        }
        Ok(())
    }

    /// CPU half-life in nanoseconds (at least 1).
    pub fn cpu_half_life_nanos(&self) -> i64 {
        secs_to_nanos(self.cpu_half_life_seconds)
    }

    /// Memory half-life in nanoseconds (at least 1).
    pub fn memory_half_life_nanos(&self) -> i64 {
        secs_to_nanos(self.memory_half_life_seconds)
    }

    /// Memory aggregation interval in nanoseconds (at least 1).
    pub fn memory_aggregation_interval_nanos(&self) -> i64 {
        secs_to_nanos(self.memory_aggregation_interval_seconds)
    }

    /// Confidence interval in nanoseconds (at least 1).
    pub fn confidence_interval_nanos(&self) -> i64 {
        secs_to_nanos(self.confidence_interval_seconds)
    }
}

/// Seconds to nanoseconds, saturating, never below 1 ns so that no division by zero can happen even on a
/// configuration that skipped [`RecommenderConfig::validate`].
fn secs_to_nanos(secs: i64) -> i64 {
    secs.saturating_mul(NANOS_PER_SEC).max(1)
}
