//! `ksx-cache`: Fluid-style dataset cache planner and read-through block cache of ksx.

pub mod error;
pub mod policy;

pub use error::{Error, Result};
pub use policy::{Access, EvictionPolicy, PolicyKind};
