//! In-memory metrics. (Being written.)

/// Metrics held in memory.
#[derive(Debug, Default)]
pub struct InMemoryMetrics;
