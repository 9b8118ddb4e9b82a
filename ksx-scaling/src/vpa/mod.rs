//! VPA: the recommender with upstream math (histograms, aggregation, estimation), checkpoints, history bootstrap,
//! the updater and the `ksx vpa` contract. See `../shared/spec/scaling.md` §3.
//!
//! - [`crd`]: the `autoscaling.k8s.io/v1` VerticalPodAutoscaler object shape.
//! - [`checkpoint`]: the v3 checkpoint shape (`VerticalPodAutoscalerCheckpoint`) shared by the recommender and
//!   the checkpoint stores.
//! - [`config`]: the recommender's tunables ([`config::RecommenderConfig`]), upstream defaults.
//! - [`histogram`]: sparse exponential-bucket histograms, plain and decaying (§3.1).
//! - [`aggregate`]: per-container aggregation of CPU samples, memory peaks and OOM kills
//!   ([`aggregate::AggregateContainerState`], §3.2–3.3).
//! - [`estimate`]: percentiles, margin, confidence, minimum share, capping and proportional limits (§3.4).
//! - [`contract`]: the `ksx vpa recommend` JSON contract.
//! - [`history`]: the start-up history read through `MetricsSource` (8 days, 1 h steps) into aggregates.
//! - [`report`]: the right-sizing report of `ksx vpa report` (VPA and KRR strategies, savings, risks, HTML).
//! - [`store`]: `CheckpointStore` and its file and PostgreSQL implementations (restore + recommend = recommend).
//! - [`updater`]: which workloads get their recommendation (§3.6) and ksx's apply path, a pod-template patch.

pub mod aggregate;
pub mod checkpoint;
pub mod config;
pub mod contract;
pub mod crd;
pub mod estimate;
pub mod histogram;
pub mod history;
pub mod report;
pub mod store;

#[cfg(test)]
mod tests_contract;
#[cfg(test)]
mod tests_recommender;
pub mod updater;

#[cfg(test)]
mod tests_updater;
