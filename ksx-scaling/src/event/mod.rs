//! Event-driven scaling with KEDA semantics: the ScaledObject / ScaledJob model, the scaler seam and real
//! scalers, the executor (activation 0↔1, fallback, scalingModifiers, ScaledJob strategies). See
//! `../shared/spec/scaling.md` §5.
//!
//! - [`model`]: ScaledObject and ScaledJob in the `keda.sh/v1alpha1` CRD shape, defaults and validation.
//! - [`scaler`]: the async [`scaler::Scaler`] trait every trigger source implements, and what a poll returns.

pub mod model;
pub mod scaler;
