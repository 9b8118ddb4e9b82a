//! `ksx-scaling`: Elasticity engines of ksx: HPA v2, VPA, KEDA-style event scaling and their conflict rules.
//!
//! The engines of this crate arrive with their issues; today it holds the error type shared by them.

pub mod error;

pub use error::{Error, Result};
