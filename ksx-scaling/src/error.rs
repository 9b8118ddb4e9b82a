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

    /// A field of a spec or request holds a value that is not allowed; `field` is its JSON path
    /// (`behavior.scaleUp.policies[0].periodSeconds`).
    #[error("{field}: {reason}")]
    InvalidField {
        /// The JSON path of the field at fault.
        field: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A metric could not be evaluated (no pods, no metrics, a missing request…): an evaluation error, not bad
    /// input. `condition` is the upstream `ScalingActive` reason (`FailedGetResourceMetric`…).
    #[error("{message}")]
    Metric {
        /// The upstream condition reason for this failure.
        condition: String,
        /// The upstream error message.
        message: String,
    },
}

impl Error {
    /// An [`Error::InvalidField`] for the JSON path `field`.
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidField {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// True for evaluation errors (metrics unavailable and the like), which the CLI maps to exit code 1.
    pub fn is_evaluation(&self) -> bool {
        matches!(self, Self::Metric { .. })
    }
}
