//! `ksx-inspect`: KubeEye-style inspection engine of ksx.
//!
//! The engines of this crate arrive with their issues; today it holds the error type shared by them.

pub mod error;

pub use error::{Error, Result};
