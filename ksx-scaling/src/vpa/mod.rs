//! VPA: the recommender with upstream math (histograms, aggregation, estimation), checkpoints, history bootstrap,
//! the updater and the `ksx vpa` contract. See `../shared/spec/scaling.md` §3.
//!
//! - [`crd`]: the `autoscaling.k8s.io/v1` VerticalPodAutoscaler object shape.
//! - [`checkpoint`]: the v3 checkpoint shape (`VerticalPodAutoscalerCheckpoint`) shared by the recommender and
//!   the checkpoint stores.

pub mod checkpoint;
pub mod crd;
