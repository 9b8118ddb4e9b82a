//! Kafka consumer-group lag, upstream's arithmetic, with no broker client: ksx builds no Kafka client (no
//! broker is available to test one here, and the pure-Rust clients are heavy to compile), so a `kafka` trigger
//! is a configuration error in [`super::build`]. A driver with its own client feeds the offsets here.
//!
//! Per partition: lag = latest − committed. With no committed offset: `offsetResetPolicy` latest → 1, earliest
//! → the latest offset, and 0 for both with `scaleToZeroOnInvalidOffset`. With `excludePersistentLag`, a
//! partition whose committed offset has not moved since the previous poll counts 0 for scaling (still counted
//! for activation). Unless `allowIdleConsumers`, the total is capped at `partitions × lagThreshold`
//! (`limitToPartitionsWithLag`: partitions with lag). `ensureEvenDistributionOfPartitions` rounds the total up
//! to `f × lagThreshold`, `f` the smallest divisor of the partition count with `f × lagThreshold ≥ total`.

use std::collections::BTreeMap;

/// Where a consumer group without a committed offset starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OffsetResetPolicy {
    /// Only new messages (default): lag 1.
    #[default]
    Latest,
    /// From the beginning: lag is the latest offset.
    Earliest,
}

/// The scaling settings of a Kafka trigger.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KafkaLagConfig {
    /// `lagThreshold` (10): target lag per replica.
    pub lag_threshold: i64,
    /// `activationLagThreshold` (0).
    pub activation_lag_threshold: i64,
    /// `offsetResetPolicy`.
    pub offset_reset_policy: OffsetResetPolicy,
    /// `allowIdleConsumers`: no cap at the partition count.
    pub allow_idle_consumers: bool,
    /// `excludePersistentLag`.
    pub exclude_persistent_lag: bool,
    /// `scaleToZeroOnInvalidOffset`.
    pub scale_to_zero_on_invalid_offset: bool,
    /// `limitToPartitionsWithLag`: cap at the partitions that have lag.
    pub limit_to_partitions_with_lag: bool,
    /// `ensureEvenDistributionOfPartitions`.
    pub ensure_even_distribution_of_partitions: bool,
}

impl Default for KafkaLagConfig {
    fn default() -> Self {
        Self {
            lag_threshold: 10,
            activation_lag_threshold: 0,
            offset_reset_policy: OffsetResetPolicy::Latest,
            allow_idle_consumers: false,
            exclude_persistent_lag: false,
            scale_to_zero_on_invalid_offset: false,
            limit_to_partitions_with_lag: false,
            ensure_even_distribution_of_partitions: false,
        }
    }
}

impl KafkaLagConfig {
    /// Checks the combinations upstream rejects.
    ///
    /// # Errors
    /// A non-positive threshold, a negative activation threshold, `allowIdleConsumers` with
    /// `limitToPartitionsWithLag`, or `limitToPartitionsWithLag` with even distribution.
    pub fn validate(&self) -> Result<(), String> {
        if self.lag_threshold <= 0 {
            return Err("lagThreshold must be positive".to_owned());
        }
        if self.activation_lag_threshold < 0 {
            return Err("activationLagThreshold must not be negative".to_owned());
        }
        if self.allow_idle_consumers && self.limit_to_partitions_with_lag {
            return Err(
                "allowIdleConsumers and limitToPartitionsWithLag cannot both be set".to_owned(),
            );
        }
        if self.limit_to_partitions_with_lag && self.ensure_even_distribution_of_partitions {
            return Err(
                "limitToPartitionsWithLag and ensureEvenDistributionOfPartitions cannot both be set"
                    .to_owned(),
            );
        }
        Ok(())
    }
}

/// Offsets of one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionOffsets {
    /// Partition id.
    pub partition: i32,
    /// The newest offset (high watermark).
    pub latest: i64,
    /// The group's committed offset; `None` when it has none.
    pub committed: Option<i64>,
}

/// The result of one poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KafkaLag {
    /// Lag fed to the HPA (persistent lag excluded, capped, evenly distributed).
    pub scaling: i64,
    /// Lag for activation (persistent lag included, uncapped).
    pub activation: i64,
    /// `activation > activationLagThreshold`.
    pub active: bool,
}

/// Lag state across polls: the committed offsets seen last time, for `excludePersistentLag`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KafkaLagTracker {
    previous: BTreeMap<i32, i64>,
}

impl KafkaLagTracker {
    /// A tracker with no history.
    pub fn new() -> Self {
        Self::default()
    }

    /// Lag of one partition: (for scaling, for activation).
    pub fn partition_lag(&mut self, cfg: &KafkaLagConfig, p: &PartitionOffsets) -> (i64, i64) {
        let Some(committed) = p.committed else {
            let lag = match (cfg.scale_to_zero_on_invalid_offset, cfg.offset_reset_policy) {
                (true, _) => 0,
                (false, OffsetResetPolicy::Latest) => 1,
                (false, OffsetResetPolicy::Earliest) => p.latest.max(0),
            };
            return (lag, lag);
        };
        let lag = p.latest.saturating_sub(committed).max(0);
        if cfg.exclude_persistent_lag {
            let previous = self.previous.insert(p.partition, committed);
            if previous == Some(committed) {
                return (0, lag);
            }
        }
        (lag, lag)
    }

    /// The lag of a topic's partitions, capped and distributed as configured.
    pub fn total_lag(&mut self, cfg: &KafkaLagConfig, partitions: &[PartitionOffsets]) -> KafkaLag {
        let mut scaling = 0i64;
        let mut activation = 0i64;
        let mut with_lag = 0i64;
        for p in partitions {
            let (s, a) = self.partition_lag(cfg, p);
            scaling = scaling.saturating_add(s);
            activation = activation.saturating_add(a);
            if s > 0 {
                with_lag += 1;
            }
        }
        let threshold = cfg.lag_threshold.max(1);
        let count = i64::try_from(partitions.len()).unwrap_or(i64::MAX);
        if !cfg.allow_idle_consumers || cfg.limit_to_partitions_with_lag {
            let upper = if cfg.limit_to_partitions_with_lag {
                with_lag
            } else {
                count
            };
            if scaling / threshold > upper {
                scaling = upper.saturating_mul(threshold);
            }
        }
        if cfg.ensure_even_distribution_of_partitions {
            scaling = even_distribution(scaling, count, threshold);
        }
        KafkaLag {
            scaling,
            activation,
            active: activation > cfg.activation_lag_threshold,
        }
    }
}

/// Rounds `total` up to `f × threshold`, `f` the smallest divisor of `partitions` with `f × threshold ≥ total`
/// (all partitions when none is).
pub fn even_distribution(total: i64, partitions: i64, threshold: i64) -> i64 {
    if partitions <= 0 || total <= 0 {
        return total.max(0);
    }
    (1..=partitions)
        .filter(|f| partitions % f == 0)
        .map(|f| f.saturating_mul(threshold))
        .find(|v| *v >= total)
        .unwrap_or_else(|| partitions.saturating_mul(threshold))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parts(lags: &[i64]) -> Vec<PartitionOffsets> {
        lags.iter()
            .zip(0..)
            .map(|(l, i)| PartitionOffsets {
                partition: i,
                latest: 1000 + l,
                committed: Some(1000),
            })
            .collect()
    }

    #[test]
    fn even_distribution_example() {
        // 12 partitions, threshold 5, lag 23: divisors 1 2 3 4 6 12 → 4×5 = 20 < 23, 6×5 = 30.
        assert_eq!(even_distribution(23, 12, 5), 30);
        let cfg = KafkaLagConfig {
            lag_threshold: 5,
            ensure_even_distribution_of_partitions: true,
            ..KafkaLagConfig::default()
        };
        let mut lags = vec![0; 12];
        lags[0] = 20;
        lags[5] = 3;
        let lag = KafkaLagTracker::new().total_lag(&cfg, &parts(&lags));
        assert_eq!((lag.scaling, lag.activation, lag.active), (30, 23, true));
    }

    #[test]
    fn cap_at_partitions_unless_idle_consumers_allowed() {
        // 3 partitions, threshold 10, lag 100: capped at 30.
        let cfg = KafkaLagConfig::default();
        let p = parts(&[50, 50, 0]);
        assert_eq!(KafkaLagTracker::new().total_lag(&cfg, &p).scaling, 30);
        let idle = KafkaLagConfig {
            allow_idle_consumers: true,
            ..cfg
        };
        assert_eq!(KafkaLagTracker::new().total_lag(&idle, &p).scaling, 100);
        let with_lag = KafkaLagConfig {
            limit_to_partitions_with_lag: true,
            ..cfg
        };
        // Two partitions have lag: capped at 20.
        assert_eq!(KafkaLagTracker::new().total_lag(&with_lag, &p).scaling, 20);
        // Integer division as upstream: 39 / 10 = 3 is not above 3 partitions, no cap.
        assert_eq!(
            KafkaLagTracker::new()
                .total_lag(&cfg, &parts(&[13, 13, 13]))
                .scaling,
            39
        );
    }

    #[test]
    fn invalid_offsets() {
        let p = [PartitionOffsets {
            partition: 0,
            latest: 42,
            committed: None,
        }];
        let mut cfg = KafkaLagConfig::default();
        assert_eq!(KafkaLagTracker::new().total_lag(&cfg, &p).scaling, 1);
        cfg.offset_reset_policy = OffsetResetPolicy::Earliest;
        // 42 / 10 = 4 > 1 partition: capped at 1 × 10, unless idle consumers are allowed.
        assert_eq!(KafkaLagTracker::new().total_lag(&cfg, &p).scaling, 10);
        cfg.allow_idle_consumers = true;
        assert_eq!(KafkaLagTracker::new().total_lag(&cfg, &p).scaling, 42);
        cfg.scale_to_zero_on_invalid_offset = true;
        let lag = KafkaLagTracker::new().total_lag(&cfg, &p);
        assert_eq!((lag.scaling, lag.active), (0, false));
    }

    #[test]
    fn persistent_lag_counts_for_activation_only() {
        let cfg = KafkaLagConfig {
            exclude_persistent_lag: true,
            ..KafkaLagConfig::default()
        };
        let mut t = KafkaLagTracker::new();
        let p = parts(&[7]);
        // First sight: counted.
        assert_eq!(t.total_lag(&cfg, &p).scaling, 7);
        // Unmoved: 0 for scaling, still active.
        let lag = t.total_lag(&cfg, &p);
        assert_eq!((lag.scaling, lag.activation, lag.active), (0, 7, true));
        // Moved: counted again.
        let moved = [PartitionOffsets {
            committed: Some(1003),
            ..p[0]
        }];
        assert_eq!(t.total_lag(&cfg, &moved).scaling, 4);
    }

    #[test]
    fn validation() {
        let bad = KafkaLagConfig {
            allow_idle_consumers: true,
            limit_to_partitions_with_lag: true,
            ..KafkaLagConfig::default()
        };
        assert!(bad.validate().is_err());
        assert!(KafkaLagConfig::default().validate().is_ok());
    }

    proptest! {
        #[test]
        fn even_distribution_bounds(total in 0i64..10_000, partitions in 1i64..64, threshold in 1i64..100) {
            let v = even_distribution(total, partitions, threshold);
            prop_assert!(v >= total.min(partitions * threshold));
            prop_assert_eq!(v % threshold, 0);
            prop_assert_eq!(partitions % (v / threshold).max(1), 0);
        }
    }
}
