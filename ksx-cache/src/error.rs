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

    /// A name that is not an eviction policy.
    #[error(
        "unknown eviction policy {name:?} (known: lru, fifo, clock, sieve, s3fifo, arc, wtinylfu, belady, all)"
    )]
    UnknownPolicy {
        /// The name as given.
        name: String,
    },

    /// A line of a trace file that cannot be read.
    #[error("{file}:{line}: {message}")]
    TraceLine {
        /// The file as the user named it.
        file: String,
        /// The 1-based line number.
        line: usize,
        /// What is wrong with the line.
        message: String,
    },

    /// A parameter of the simulator or of a trace generator out of its range.
    #[error("invalid {field}: {message}")]
    InvalidParameter {
        /// The parameter, as the command line spells it (`capacity`, `zipf`, …).
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },

    /// A spec that is well-formed but not valid.
    #[error("{object}: {field}: {message}")]
    Invalid {
        /// The object, `runtime "imagenet"` or `dataset "imagenet"`.
        object: String,
        /// The field path, `spec.tieredstore.levels[1].quotaList`.
        field: String,
        /// What is wrong.
        message: String,
    },
}
