//! The error type of this crate.

/// Result with [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong in this crate. Every variant names the place at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error from the shared core (cluster, metrics, quantities, manifests).
    #[error(transparent)]
    Core(#[from] ksx_core::Error),

    /// A quantity in an object that does not parse.
    #[error("{object}: field {field}: invalid quantity {value:?}: {reason}")]
    InvalidQuantity {
        /// The object (`node n1`, `pod ns/p`).
        object: String,
        /// The field path (`status.allocatable.cpu`).
        field: String,
        /// The text as given.
        value: String,
        /// Why it was refused.
        reason: String,
    },

    /// An object that cannot be scheduled with: no name, a duplicate name.
    #[error("{object}: {reason}")]
    InvalidObject {
        /// The object (`nodes[3]`, `node n1`).
        object: String,
        /// What is wrong with it.
        reason: String,
    },

    /// Plugin arguments that are not valid (`kubescheduler.config.k8s.io/v1` validation).
    #[error("plugin {plugin}: args: {field}: {reason}")]
    InvalidArgs {
        /// The plugin name.
        plugin: String,
        /// The field path inside the args (`scoringStrategy.resources[0].weight`).
        field: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A plugin name that this scheduler does not know or does not support in this context.
    #[error("plugin {name:?} is not supported: {reason}")]
    UnknownPlugin {
        /// The name as given.
        name: String,
        /// Which names are supported.
        reason: String,
    },

    /// Device discovery failed: the NVML library is missing, the driver is not loaded, or a device query failed.
    #[error("device discovery ({source_name}): {reason}")]
    Discovery {
        /// The discovery back-end and the device at fault (`NVML`, `NVML device 3`).
        source_name: String,
        /// What went wrong, with what to check.
        reason: String,
    },

    /// A node-group spec that is not valid: bad field, duplicate name, a node claimed by two groups.
    #[error("node group {group}: {reason}")]
    InvalidNodeGroup {
        /// The group at fault.
        group: String,
        /// What is wrong, naming the other group where two collide.
        reason: String,
    },
}
