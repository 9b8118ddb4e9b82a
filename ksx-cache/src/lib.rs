//! `ksx-cache`: Fluid-style dataset cache planner and read-through block cache of ksx.
//!
//! The engines of this crate arrive with their issues; today it holds the error type shared by them.

pub mod error;

pub use error::{Error, Result};
