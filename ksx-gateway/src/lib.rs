//! `ksx-gateway`: Gateway hierarchy, smooth upgrades and fault diagnosis for ksx.
//!
//! The engines of this crate arrive with their issues; today it holds the error type shared by them.

pub mod error;

pub use error::{Error, Result};
