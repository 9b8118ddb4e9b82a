//! `ksx-gpu`: Node groups, GPU/vGPU devices and the ksx scheduler.
//!
//! The engines of this crate arrive with their issues; today it holds the error type shared by them.

pub mod error;

pub use error::{Error, Result};
