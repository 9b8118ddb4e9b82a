//! `kafka`: consumer-group lag, upstream's arithmetic, and (feature `kafka`) the scaler that reads the offsets
//! from the brokers through the small client in `kafka_wire`. Without the feature a `kafka` trigger is a
//! configuration error in [`super::build`] and a driver with its own client can still feed offsets here.
//!
//! Per partition: lag = latest − committed. With no committed offset: `offsetResetPolicy` latest → 1, earliest
//! → the latest offset, and 0 for both with `scaleToZeroOnInvalidOffset`. With `excludePersistentLag`, a
//! partition whose committed offset has not moved since the previous poll counts 0 for scaling (still counted
//! for activation). Unless `allowIdleConsumers`, the total is capped at `partitions × lagThreshold`
//! (`limitToPartitionsWithLag`: partitions with lag), partitions of every topic counted together.
//! `ensureEvenDistributionOfPartitions` rounds the total up to `f × lagThreshold`, `f` the smallest divisor of
//! the partition count with `f × lagThreshold ≥ total`.
//!
//! `KafkaScaler` (feature `kafka`) reads upstream's metadata: `bootstrapServers` (comma-separated
//! `host:port`, tried in order), `consumerGroup`, `topic` (optional: every topic the group has committed offsets
//! for), `lagThreshold` (10), `activationLagThreshold` (0), `offsetResetPolicy` (latest|earliest),
//! `allowIdleConsumers`, `excludePersistentLag`, `scaleToZeroOnInvalidOffset`, `limitToPartitionsWithLag`,
//! `ensureEvenDistributionOfPartitions` and `partitionLimitation` (`1,2,10-12`, needs `topic`). Metric
//! `kafka-<topic>`, or `kafka-<consumerGroup>-topics` without a topic. SASL and TLS are not supported: `sasl`
//! other than `none` and `tls: enable` are configuration errors (PLAINTEXT listeners only).

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

/// Lag state across polls: the committed offsets seen last time per topic and partition, for
/// `excludePersistentLag`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KafkaLagTracker {
    previous: BTreeMap<(String, i32), i64>,
}

impl KafkaLagTracker {
    /// A tracker with no history.
    pub fn new() -> Self {
        Self::default()
    }

    /// Lag of one partition of a single-topic trigger: (for scaling, for activation).
    pub fn partition_lag(&mut self, cfg: &KafkaLagConfig, p: &PartitionOffsets) -> (i64, i64) {
        self.topic_partition_lag(cfg, "", p)
    }

    /// Lag of one partition of `topic`: (for scaling, for activation).
    pub fn topic_partition_lag(
        &mut self,
        cfg: &KafkaLagConfig,
        topic: &str,
        p: &PartitionOffsets,
    ) -> (i64, i64) {
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
            let previous = self
                .previous
                .insert((topic.to_owned(), p.partition), committed);
            if previous == Some(committed) {
                return (0, lag);
            }
        }
        (lag, lag)
    }

    /// The lag of a topic's partitions, capped and distributed as configured.
    pub fn total_lag(&mut self, cfg: &KafkaLagConfig, partitions: &[PartitionOffsets]) -> KafkaLag {
        self.total(cfg, partitions.iter().map(|p| ("", p)))
    }

    /// The lag of several topics' partitions, capped and distributed as configured over all of them together
    /// (upstream counts the partitions of every topic in one total).
    pub fn total_lag_of_topics(
        &mut self,
        cfg: &KafkaLagConfig,
        topics: &BTreeMap<String, Vec<PartitionOffsets>>,
    ) -> KafkaLag {
        self.total(
            cfg,
            topics
                .iter()
                .flat_map(|(t, ps)| ps.iter().map(move |p| (t.as_str(), p))),
        )
    }

    fn total<'a>(
        &mut self,
        cfg: &KafkaLagConfig,
        partitions: impl Iterator<Item = (&'a str, &'a PartitionOffsets)>,
    ) -> KafkaLag {
        let mut scaling = 0i64;
        let mut activation = 0i64;
        let mut with_lag = 0i64;
        let mut count = 0i64;
        for (topic, p) in partitions {
            let (s, a) = self.topic_partition_lag(cfg, topic, p);
            scaling = scaling.saturating_add(s);
            activation = activation.saturating_add(a);
            count = count.saturating_add(1);
            if s > 0 {
                with_lag += 1;
            }
        }
        let threshold = cfg.lag_threshold.max(1);
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

#[cfg(feature = "kafka")]
#[cfg_attr(docsrs, doc(cfg(feature = "kafka")))]
pub use scaler::{KafkaScaler, KafkaSettings};

#[cfg(feature = "kafka")]
mod scaler {
    use std::collections::{BTreeMap, BTreeSet};
    use std::fmt;
    use std::sync::{Mutex, PoisonError};
    use std::time::Duration;

    use super::{KafkaLagConfig, KafkaLagTracker, OffsetResetPolicy, PartitionOffsets};
    use crate::event::scaler::{MetricSpec, Reading, Scaler, ScalerError};
    use crate::event::scalers::kafka_wire::{KafkaClient, KafkaError};
    use crate::event::scalers::{Meta, bounded};

    /// A `kafka` trigger's settings, read from its metadata.
    #[derive(Debug, Clone, PartialEq)]
    pub struct KafkaSettings {
        /// `bootstrapServers`: `host:port`, tried in order.
        pub bootstrap_servers: Vec<String>,
        /// `consumerGroup`.
        pub consumer_group: String,
        /// `topic`; `None`: every topic the group has committed offsets for.
        pub topic: Option<String>,
        /// `partitionLimitation`: only these partitions of `topic`.
        pub partition_limitation: Option<BTreeSet<i32>>,
        /// The lag arithmetic's settings.
        pub lag: KafkaLagConfig,
    }

    fn integer(meta: &Meta<'_>, key: &str, default: i64) -> Result<i64, ScalerError> {
        match meta.get(key)? {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse::<i64>()
                .map_err(|_| meta.error(format!("metadata.{key}: {v:?} is not an integer"))),
        }
    }

    fn server(meta: &Meta<'_>, s: &str) -> Result<String, ScalerError> {
        let bad = |why: &str| {
            meta.error(format!(
                "metadata.bootstrapServers: {s:?} {why}; expected host:port[,host:port…]"
            ))
        };
        if s.contains("://") {
            return Err(bad("has a scheme"));
        }
        let (host, port) = s.rsplit_once(':').ok_or_else(|| bad("has no port"))?;
        if host.is_empty() || host.contains(|c: char| c.is_ascii_whitespace()) {
            return Err(bad("has no host"));
        }
        match port.parse::<u16>() {
            Ok(p) if p > 0 => Ok(s.to_owned()),
            _ => Err(bad("has no valid port")),
        }
    }

    /// `1,2,10-12` → {1, 2, 10, 11, 12}.
    fn partition_list(meta: &Meta<'_>, v: &str) -> Result<BTreeSet<i32>, ScalerError> {
        let bad = |item: &str| {
            meta.error(format!(
                "metadata.partitionLimitation: {item:?} is not a partition id or a range like 10-12"
            ))
        };
        let id = |s: &str| s.trim().parse::<i32>().ok().filter(|p| *p >= 0);
        let mut out = BTreeSet::new();
        for item in v.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            if let Some((a, b)) = item.split_once('-') {
                match (id(a), id(b)) {
                    // A range wider than a topic can have partitions is a typo, not a limitation.
                    (Some(a), Some(b)) if a <= b && b - a < 100_000 => out.extend(a..=b),
                    _ => return Err(bad(item)),
                }
            } else {
                out.insert(id(item).ok_or_else(|| bad(item))?);
            }
        }
        if out.is_empty() {
            return Err(bad(v));
        }
        Ok(out)
    }

    impl KafkaSettings {
        /// Reads the keys documented in [the module](super).
        ///
        /// # Errors
        /// A missing or invalid key, naming it; combinations upstream refuses; SASL or TLS asked for.
        pub fn from_meta(meta: &Meta<'_>) -> Result<Self, ScalerError> {
            meta.no_utilization()?;
            if let Some(v) = meta.get("sasl")?
                && !v.eq_ignore_ascii_case("none")
            {
                return Err(meta.error(format!(
                    "metadata.sasl: {v:?}: SASL is not supported by ksx's Kafka client (PLAINTEXT listeners only)"
                )));
            }
            match meta.get("tls")?.as_deref() {
                None | Some("disable") => {}
                Some("enable") => {
                    return Err(meta.error(
                        "metadata.tls: TLS is not supported by ksx's Kafka client (PLAINTEXT listeners only)",
                    ));
                }
                Some(v) => {
                    return Err(meta.error(format!("metadata.tls: {v:?} is not enable or disable")));
                }
            }
            let servers = meta.required("bootstrapServers")?;
            let bootstrap_servers = servers
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| server(meta, s))
                .collect::<Result<Vec<_>, _>>()?;
            if bootstrap_servers.is_empty() {
                return Err(meta.error("metadata.bootstrapServers lists no server"));
            }
            let consumer_group = meta.required("consumerGroup")?;
            if consumer_group.len() > 32_767 {
                return Err(meta.error("metadata.consumerGroup is longer than Kafka allows"));
            }
            let topic = meta.get("topic")?;
            if let Some(t) = &topic
                && (t.len() > 249
                    || t == "."
                    || t == ".."
                    || !t
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
            {
                return Err(meta.error(format!(
                    "metadata.topic: {t:?} is not a valid Kafka topic name (at most 249 of [a-zA-Z0-9._-])"
                )));
            }
            let offset_reset_policy = match meta.or("offsetResetPolicy", "latest")?.as_str() {
                "latest" => OffsetResetPolicy::Latest,
                "earliest" => OffsetResetPolicy::Earliest,
                v => {
                    return Err(meta.error(format!(
                        "metadata.offsetResetPolicy: {v:?} is not latest or earliest"
                    )));
                }
            };
            let lag = KafkaLagConfig {
                lag_threshold: integer(meta, "lagThreshold", 10)?,
                activation_lag_threshold: integer(meta, "activationLagThreshold", 0)?,
                offset_reset_policy,
                allow_idle_consumers: meta.bool_or("allowIdleConsumers", false)?,
                exclude_persistent_lag: meta.bool_or("excludePersistentLag", false)?,
                scale_to_zero_on_invalid_offset: meta
                    .bool_or("scaleToZeroOnInvalidOffset", false)?,
                limit_to_partitions_with_lag: meta.bool_or("limitToPartitionsWithLag", false)?,
                ensure_even_distribution_of_partitions: meta
                    .bool_or("ensureEvenDistributionOfPartitions", false)?,
            };
            lag.validate()
                .map_err(|e| meta.error(format!("metadata.{e}")))?;
            if topic.is_none() {
                for (set, key) in [
                    (lag.limit_to_partitions_with_lag, "limitToPartitionsWithLag"),
                    (
                        lag.ensure_even_distribution_of_partitions,
                        "ensureEvenDistributionOfPartitions",
                    ),
                ] {
                    if set {
                        return Err(meta.error(format!("metadata.{key} needs metadata.topic")));
                    }
                }
            }
            let partition_limitation = match meta.get("partitionLimitation")? {
                None => None,
                Some(_) if topic.is_none() => {
                    return Err(meta.error("metadata.partitionLimitation needs metadata.topic"));
                }
                Some(v) => Some(partition_list(meta, &v)?),
            };
            Ok(Self {
                bootstrap_servers,
                consumer_group,
                topic,
                partition_limitation,
                lag,
            })
        }
    }

    /// `kafka`: the lag of a consumer group, read from the brokers each poll (see [the module](super)).
    pub struct KafkaScaler {
        settings: KafkaSettings,
        tracker: Mutex<KafkaLagTracker>,
        spec: MetricSpec,
        source: String,
    }

    impl fmt::Debug for KafkaScaler {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("KafkaScaler")
                .field("source", &self.source)
                .field("spec", &self.spec)
                .finish_non_exhaustive()
        }
    }

    impl KafkaScaler {
        /// Reads the trigger's metadata.
        ///
        /// # Errors
        /// As [`KafkaSettings::from_meta`].
        pub fn from_meta(meta: &Meta<'_>) -> Result<Self, ScalerError> {
            let settings = KafkaSettings::from_meta(meta)?;
            let name = match &settings.topic {
                Some(t) => format!("kafka-{t}"),
                None => format!("kafka-{}-topics", settings.consumer_group),
            };
            #[allow(
                clippy::cast_precision_loss,
                reason = "thresholds are small integers, exact in f64"
            )]
            let spec = meta.spec(
                &name,
                settings.lag.lag_threshold as f64,
                settings.lag.activation_lag_threshold as f64,
            );
            Ok(Self::new(settings, spec))
        }

        /// A scaler from settings already read, exposing `spec`.
        pub fn new(settings: KafkaSettings, spec: MetricSpec) -> Self {
            let what = match &settings.topic {
                Some(t) => format!("topic {t:?}"),
                None => "all its topics".to_owned(),
            };
            let source = format!(
                "kafka group {:?} {what} at {}",
                settings.consumer_group,
                settings.bootstrap_servers.join(",")
            );
            Self {
                settings,
                tracker: Mutex::new(KafkaLagTracker::new()),
                spec,
                source,
            }
        }

        /// The trigger's settings.
        pub fn settings(&self) -> &KafkaSettings {
            &self.settings
        }

        /// Reads the offsets of one poll with a fresh client whose deadline is `timeout` from now.
        ///
        /// # Errors
        /// As [`KafkaClient::group_offsets`].
        pub async fn offsets(
            &self,
            timeout: Duration,
        ) -> Result<BTreeMap<String, Vec<PartitionOffsets>>, KafkaError> {
            self.offsets_with(KafkaClient::new(
                self.settings.bootstrap_servers.clone(),
                timeout,
            ))
            .await
        }

        async fn offsets_with(
            &self,
            mut client: KafkaClient,
        ) -> Result<BTreeMap<String, Vec<PartitionOffsets>>, KafkaError> {
            client
                .group_offsets(
                    &self.settings.consumer_group,
                    self.settings.topic.as_deref(),
                    self.settings.partition_limitation.as_ref(),
                )
                .await
        }
    }

    #[async_trait::async_trait]
    impl Scaler for KafkaScaler {
        fn metric_spec(&self) -> &MetricSpec {
            &self.spec
        }

        async fn poll(&self, _now_nanos: i64, timeout: Duration) -> Result<Reading, ScalerError> {
            // The client's deadline starts before `bounded`'s, so a stuck request reports itself (broker and
            // request) rather than the generic timeout.
            let client = KafkaClient::new(self.settings.bootstrap_servers.clone(), timeout);
            let offsets = bounded(&self.source, timeout, async {
                self.offsets_with(client)
                    .await
                    .map_err(|e| ScalerError::new(&self.source, e.to_string()))
            })
            .await?;
            let lag = self
                .tracker
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .total_lag_of_topics(&self.settings.lag, &offsets);
            #[allow(
                clippy::cast_precision_loss,
                reason = "a lag above 2^53 messages is not a scaling input anyone has"
            )]
            let value = lag.scaling as f64;
            Ok(Reading {
                value,
                active: lag.active,
            })
        }
    }
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
    fn topics_are_capped_together_and_tracked_apart() {
        // Two topics, partition 0 each, same committed offset: persistent lag is tracked per topic.
        let cfg = KafkaLagConfig {
            exclude_persistent_lag: true,
            ..KafkaLagConfig::default()
        };
        let one = |latest, committed| PartitionOffsets {
            partition: 0,
            latest,
            committed: Some(committed),
        };
        let mut topics = BTreeMap::from([
            ("a".to_owned(), vec![one(105, 100)]),
            ("b".to_owned(), vec![one(103, 100)]),
        ]);
        let mut t = KafkaLagTracker::new();
        // First sight: 5 + 3.
        assert_eq!(t.total_lag_of_topics(&cfg, &topics).scaling, 8);
        // "b" moves to 101 (lag 2), "a" stays: only b counts for scaling, both for activation (5 + 2).
        topics.insert("b".to_owned(), vec![one(103, 101)]);
        let lag = t.total_lag_of_topics(&cfg, &topics);
        assert_eq!((lag.scaling, lag.activation), (2, 7));
        // Cap over both topics' partitions: 2 partitions × threshold 10 = 20 for a lag of 500.
        let big = BTreeMap::from([
            ("a".to_owned(), vec![one(400, 100)]),
            ("b".to_owned(), vec![one(300, 100)]),
        ]);
        let lag = KafkaLagTracker::new().total_lag_of_topics(&KafkaLagConfig::default(), &big);
        assert_eq!((lag.scaling, lag.activation), (20, 500));
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
