//! The v3 checkpoint of one (VPA, container) aggregate, as upstream's `VerticalPodAutoscalerCheckpoint` status:
//! both histograms in checkpoint form, first/last sample start and the sample count. The recommender converts
//! its state to and from this shape; [`CheckpointKey`] names where a store keeps it.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Checkpoint format version written and accepted.
pub const CHECKPOINT_VERSION: &str = "v3";
/// Largest bucket weight stored in a histogram checkpoint (`MaxCheckpointWeight`).
pub const MAX_CHECKPOINT_WEIGHT: u32 = 10_000;

/// Which aggregate a checkpoint belongs to: `<vpaName>-<containerName>` in the VPA's namespace.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct CheckpointKey {
    /// Namespace of the VPA.
    pub namespace: String,
    /// Name of the VPA.
    pub vpa_name: String,
    /// Container name.
    pub container_name: String,
}

impl CheckpointKey {
    /// The upstream object name, `<vpaName>-<containerName>`.
    pub fn object_name(&self) -> String {
        format!("{}-{}", self.vpa_name, self.container_name)
    }
}

/// A histogram in checkpoint form: bucket weights scaled so the heaviest is [`MAX_CHECKPOINT_WEIGHT`], zeros
/// dropped, plus the true total weight and (for decaying histograms) the reference time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistogramCheckpoint {
    /// Reference time of the decaying histogram, Unix seconds (0 for a fresh one).
    #[serde(default)]
    pub reference_timestamp: i64,
    /// Bucket index → scaled weight.
    #[serde(default)]
    pub bucket_weights: BTreeMap<u32, u32>,
    /// Total weight of the histogram.
    #[serde(default)]
    pub total_weight: f64,
}

/// `VerticalPodAutoscalerCheckpointStatus`, version v3.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContainerCheckpoint {
    /// Always [`CHECKPOINT_VERSION`] when written by ksx.
    pub version: String,
    /// When the checkpoint was taken, Unix seconds.
    pub last_update_time: i64,
    /// CPU usage histogram (cores).
    pub cpu_histogram: HistogramCheckpoint,
    /// Memory peak histogram (bytes), with the open window's peak subtracted.
    pub memory_histogram: HistogramCheckpoint,
    /// Start of the first CPU sample, Unix seconds.
    pub first_sample_start: i64,
    /// Start of the last CPU sample, Unix seconds.
    pub last_sample_start: i64,
    /// Number of CPU samples.
    pub total_samples_count: u64,
}
