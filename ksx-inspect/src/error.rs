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
    /// The configuration file is invalid.
    #[error("{file}: {message}")]
    Config {
        /// The configuration file.
        file: String,
        /// What is wrong, with the line and key when known.
        message: String,
    },
    /// A check ID or glob names no known check.
    #[error("unknown check {id:?}{}", suggestion.as_ref().map(|s| format!(" (did you mean {s:?}?)")).unwrap_or_default())]
    UnknownCheck {
        /// The ID or glob as given.
        id: String,
        /// The closest known ID.
        suggestion: Option<String>,
    },
    /// `--kube-version` or `kubeVersion` is not `MAJOR.MINOR[.PATCH]`.
    #[error("invalid Kubernetes version {value:?} (expected 1.33, v1.33 or 1.33.4)")]
    InvalidKubeVersion {
        /// The value given.
        value: String,
    },
    /// A regular expression of the configuration does not compile.
    #[error("field {field:?}: invalid regex {pattern:?}")]
    InvalidRegex {
        /// The configuration field, e.g. `exemptions[2].nameRegex`.
        field: String,
        /// The pattern.
        pattern: String,
        /// The regex engine's message.
        #[source]
        source: regex::Error,
    },
}
