//! [`InMemoryCheckpointStore`]: checkpoints in a map, for tests, simulations and the demo.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use super::{CheckpointStore, check_writable, validate_key};
use crate::error::Result;
use crate::vpa::checkpoint::{CheckpointKey, ContainerCheckpoint};

/// Checkpoints held in memory; nothing survives the process. Applies the same key and version rules as the
/// persistent stores, so code tested against it behaves alike on them.
#[derive(Debug, Default)]
pub struct InMemoryCheckpointStore {
    map: Mutex<BTreeMap<CheckpointKey, ContainerCheckpoint>>,
}

impl InMemoryCheckpointStore {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<CheckpointKey, ContainerCheckpoint>> {
        // Every update is a single map operation, so a panic elsewhere cannot leave it half-done.
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl CheckpointStore for InMemoryCheckpointStore {
    async fn save(&self, key: &CheckpointKey, checkpoint: &ContainerCheckpoint) -> Result<()> {
        check_writable(key, checkpoint)?;
        self.lock().insert(key.clone(), checkpoint.clone());
        Ok(())
    }

    async fn load(&self, key: &CheckpointKey) -> Result<Option<ContainerCheckpoint>> {
        validate_key(key)?;
        Ok(self.lock().get(key).cloned())
    }

    async fn list(&self) -> Result<Vec<CheckpointKey>> {
        Ok(self.lock().keys().cloned().collect())
    }

    async fn delete(&self, key: &CheckpointKey) -> Result<bool> {
        validate_key(key)?;
        Ok(self.lock().remove(key).is_some())
    }
}
