//! The error type of this crate.

/// Result with [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error from the shared core (cluster, metrics, quantities, manifests).
    #[error(transparent)]
    Core(#[from] ksx_core::Error),
}
