//! Errors of plans and result stores.

use std::path::PathBuf;

/// What is wrong with a plan, a result or a result store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// A field of a plan is invalid; `field` is its path, e.g. `spec.schedule`.
    #[error("field {field}: {reason}")]
    InvalidField {
        /// The field, e.g. `spec.historyLimit`.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// A plan document does not parse; `place` names the file (and line when known).
    #[error("{place}: {reason}")]
    Parse {
        /// The file, document and line.
        place: String,
        /// The parser's message.
        reason: String,
    },
    /// A plan file is invalid: `source` says which field.
    #[error("{place}: {source}")]
    InPlan {
        /// The file holding the plan.
        place: String,
        /// The field error.
        #[source]
        source: Box<PlanError>,
    },
    /// A file or directory of a store could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A stored result (file or row) does not parse.
    #[error("{place}: corrupt result: {reason}")]
    Corrupt {
        /// The file or row.
        place: String,
        /// What is wrong.
        reason: String,
    },
    /// No stored result has this id (or the plan has too few results).
    #[error("no result {id:?} in {store}")]
    NotFound {
        /// The id or plan asked for.
        id: String,
        /// The store.
        store: String,
    },
    /// A database call failed; `place` names server, database and table, never the password.
    #[error("{place}: {action}: {message}")]
    Database {
        /// Server, database and table.
        place: String,
        /// What was being done.
        action: String,
        /// The driver's message.
        message: String,
    },
}

impl PlanError {
    /// Wraps a field error with the file (and document) it came from.
    pub fn in_plan(self, place: impl Into<String>) -> Self {
        Self::InPlan {
            place: place.into(),
            source: Box::new(self),
        }
    }
}
