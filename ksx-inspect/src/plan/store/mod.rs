//! Where plan results live: the [`ResultStore`] seam and its implementations, [`FileResultStore`] (a directory,
//! the default) and `PostgresResultStore` (feature `postgres`). Both pass [`conformance::check_result_store`].
//!
//! The trait is an object-safe `async-trait`, like the VPA checkpoint stores: the PostgreSQL store is a network
//! client and the CLI picks the store by a flag. The file store does plain blocking `std::fs` calls inside its
//! `async fn`s (a result is written once per run).
//!
//! After every [`ResultStore::put`] the caller applies retention ([`ResultStore::apply_retention`]) with the
//! plan's `historyLimit` and `failedHistoryLimit`: the oldest results beyond them are deleted.

use async_trait::async_trait;

use super::error::PlanError;
use super::result::{InspectResult, ResultEntry, retention};

pub mod conformance;
mod file;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
mod postgres;

pub use file::{FileResultStore, INDEX_FILE};
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use postgres::{DEFAULT_TABLE as DEFAULT_POSTGRES_TABLE, PostgresResultStore};

/// Result of store calls.
pub type StoreResult<T> = Result<T, PlanError>;

/// Persists plan results. See the [module docs](self).
#[async_trait]
pub trait ResultStore: Send + Sync {
    /// Stores (creates or replaces) `result`. A reader sees the old or the new result, never a mix.
    ///
    /// # Errors
    /// A result whose id or plan is malformed ([`InspectResult::validate`]), or a failing backend.
    async fn put(&self, result: &InspectResult) -> StoreResult<()>;

    /// Reads the result with this id; `None` when there is none.
    ///
    /// # Errors
    /// A malformed id, a stored result that does not parse ([`PlanError::Corrupt`] naming the file or row), or a
    /// failing backend.
    async fn get(&self, id: &str) -> StoreResult<Option<InspectResult>>;

    /// The index entries of `plan`'s results, oldest first.
    ///
    /// # Errors
    /// A corrupt index (named), or a failing backend.
    async fn list(&self, plan: &str) -> StoreResult<Vec<ResultEntry>>;

    /// The plans with at least one stored result, sorted.
    ///
    /// # Errors
    /// A failing backend.
    async fn plans(&self) -> StoreResult<Vec<String>>;

    /// Deletes the result with this id; `true` when there was one.
    ///
    /// # Errors
    /// A malformed id, or a failing backend.
    async fn delete(&self, id: &str) -> StoreResult<bool>;

    /// Deletes `plan`'s results beyond the limits, oldest first (0 = unlimited; see [`retention`]), and returns
    /// the deleted ids, sorted.
    ///
    /// # Errors
    /// A failing backend; results deleted before the failure stay deleted.
    async fn apply_retention(
        &self,
        plan: &str,
        history_limit: u32,
        failed_history_limit: u32,
    ) -> StoreResult<Vec<String>> {
        let entries = self.list(plan).await?;
        let doomed = retention(&entries, history_limit, failed_history_limit);
        for id in &doomed {
            self.delete(id).await?;
        }
        Ok(doomed)
    }

    /// The latest two results of `plan` (older, newer), for `diff --plan`.
    ///
    /// # Errors
    /// [`PlanError::NotFound`] when the plan has fewer than two results; read errors as [`ResultStore::get`].
    async fn latest_two(&self, plan: &str) -> StoreResult<(InspectResult, InspectResult)> {
        let entries = self.list(plan).await?;
        let mut last = entries.iter().rev();
        let (Some(new), Some(old)) = (last.next(), last.next()) else {
            return Err(PlanError::NotFound {
                id: format!("two results of plan {plan:?}"),
                store: format!("the store ({} result(s))", entries.len()),
            });
        };
        let load = |id: String| async move {
            self.get(&id).await?.ok_or(PlanError::NotFound {
                id,
                store: "the store".to_owned(),
            })
        };
        let old = load(old.id.clone()).await?;
        let new = load(new.id.clone()).await?;
        Ok((old, new))
    }
}
