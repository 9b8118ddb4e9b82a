//! The in-memory cluster. (Being written.)

/// A deterministic simulated cluster.
#[derive(Debug, Default)]
pub struct InMemoryCluster;
