//! The error type of `ksx-core`.
//!
//! Every variant names the place at fault (object, file, field, query) so that a message read on its own, after a
//! location prefix, tells the user what to fix.

use std::path::PathBuf;

/// Result with [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong in `ksx-core`: input that does not parse, objects that are missing or refused, adapters that
/// failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A Kubernetes quantity string that does not parse or does not fit.
    #[error("invalid quantity {value:?}: {reason}")]
    InvalidQuantity {
        /// The text as given.
        value: String,
        /// Why it was refused.
        reason: String,
    },

    /// A label or field selector that does not parse.
    #[error("invalid selector {selector:?}: {reason}")]
    InvalidSelector {
        /// The selector as given.
        selector: String,
        /// Why it was refused.
        reason: String,
    },

    /// A field of an object or spec holds a value that is not allowed.
    #[error("{object}: field {field}: {reason}")]
    InvalidField {
        /// The object, document or file the field belongs to.
        object: String,
        /// The field path, dotted (`spec.strategy.rollingUpdate.maxSurge`).
        field: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A document that does not deserialize into the expected shape (unknown field, wrong type, bad YAML).
    #[error("{location}: {reason}")]
    Parse {
        /// Where: `file:line:column`, `file: document 2`, or an object reference.
        location: String,
        /// What is wrong, naming the field where known.
        reason: String,
    },

    /// A file or directory that could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path at fault.
        path: PathBuf,
        /// The operating-system error.
        #[source]
        source: std::io::Error,
    },

    /// The object does not exist.
    #[error("{kind} {object} not found")]
    NotFound {
        /// The object's kind.
        kind: String,
        /// `namespace/name` or `name`.
        object: String,
    },

    /// An object of that kind and name already exists.
    #[error("{kind} {object} already exists")]
    AlreadyExists {
        /// The object's kind.
        kind: String,
        /// `namespace/name` or `name`.
        object: String,
    },

    /// The request is not valid for the object (wrong kind for the verb, patch that does not apply…).
    #[error("{kind} {object}: {reason}")]
    Invalid {
        /// The object's kind.
        kind: String,
        /// `namespace/name` or `name`.
        object: String,
        /// Why the request was refused.
        reason: String,
    },

    /// The request conflicts with the object's current state (a pod already bound to a node, a uid precondition
    /// that does not hold); the API server answers such requests with 409 Conflict.
    #[error("{kind} {object}: conflict: {reason}")]
    Conflict {
        /// The object's kind.
        kind: String,
        /// `namespace/name` or `name`.
        object: String,
        /// What the request conflicts with.
        reason: String,
    },

    /// An eviction refused because it would break a PodDisruptionBudget.
    #[error("cannot evict pod {pod}: it would violate PodDisruptionBudget {budget}: {reason}")]
    DisruptionBudget {
        /// `namespace/name` of the pod.
        pod: String,
        /// `namespace/name` of the budget.
        budget: String,
        /// The budget's arithmetic, for example `needs 3 healthy pods, has 3`.
        reason: String,
    },

    /// The caller's role does not allow the action in that scope.
    #[error("{subject} may not {verb} in {scope}")]
    Forbidden {
        /// The user or service account.
        subject: String,
        /// What was attempted.
        verb: String,
        /// The platform, workspace or project.
        scope: String,
    },

    /// A metric that is not available for the object asked about.
    #[error("metric {metric} is not available for {object}: {reason}")]
    MetricUnavailable {
        /// The metric name or query.
        metric: String,
        /// The object, selector or series.
        object: String,
        /// Why there is no value.
        reason: String,
    },

    /// The Prometheus HTTP API failed or answered with an error.
    #[error("prometheus at {url}: query {query:?}: {reason}")]
    Prometheus {
        /// The server's base URL.
        url: String,
        /// The PromQL query sent.
        query: String,
        /// The transport error or the API's `errorType: error`.
        reason: String,
    },

    /// The Kubernetes API failed.
    #[cfg(feature = "kube")]
    #[cfg_attr(docsrs, doc(cfg(feature = "kube")))]
    #[error("kubernetes API: {action} {kind} {object}: {source}")]
    Kube {
        /// What was attempted (`list`, `get`, `patch`…).
        action: &'static str,
        /// The object's kind.
        kind: String,
        /// `namespace/name`, `name`, or `*` for lists.
        object: String,
        /// The kube-rs error.
        #[source]
        source: Box<kube::Error>,
    },
}

impl Error {
    /// Builds an [`Error::NotFound`] for an object reference.
    pub fn not_found(kind: impl Into<String>, namespace: Option<&str>, name: &str) -> Self {
        Self::NotFound {
            kind: kind.into(),
            object: object_key(namespace, name),
        }
    }

    /// True when the error says the object does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }

    /// True when the error says the request conflicts with the object's current state ([`Error::Conflict`]).
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Conflict { .. })
    }
}

/// Formats an object reference as Kubernetes tools do: `namespace/name`, or `name` when cluster-scoped.
pub fn object_key(namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) if !ns.is_empty() => format!("{ns}/{name}"),
        _ => name.to_owned(),
    }
}
