//! Event-driven scaling with KEDA semantics: the ScaledObject / ScaledJob model, the scaler seam and real
//! scalers, the executor (activation 0↔1, fallback, scalingModifiers, ScaledJob strategies). See
//! `../shared/spec/scaling.md` §5.
//!
//! - [`model`]: ScaledObject and ScaledJob in the `keda.sh/v1alpha1` CRD shape, defaults and validation.
//! - [`validate`]: ScaledObject / ScaledJob validation naming JSON paths (CRD rules and admission webhook).
//! - [`executor`]: one poll cycle's activation decision (0↔1, cooldown to idle/0, pause, conditions, health).
//! - [`fallback`]: health counting and the values served to the HPA while triggers fail.
//! - [`hpa_bridge`]: the autoscaling/v2 HPA KEDA generates, and the 1↔N phase through the HPA engine.
//! - [`job`]: ScaledJob: per-trigger queues, multipleScalersCalculation, strategies, jobs to create.
//! - [`formula`]: the scalingModifiers formula language (expr-lang subset): parser, type check, evaluator.
//! - [`scaler`]: the async [`scaler::Scaler`] trait every trigger source implements, and what a poll returns.
//! - `scalers` (feature `scalers`): the real scalers (Redis, PostgreSQL, MySQL, RabbitMQ, NATS JetStream, MQTT,
//!   Prometheus, metrics-api, cron, cpu/memory; Kafka consumer lag with feature `kafka`), `scalers::build` and the
//!   batched Redis poller.

pub mod executor;
pub mod fallback;
pub mod formula;
pub mod hpa_bridge;
pub mod job;
pub mod model;
pub mod scaler;
#[cfg(feature = "scalers")]
#[cfg_attr(docsrs, doc(cfg(feature = "scalers")))]
pub mod scalers;
pub mod validate;

#[cfg(test)]
mod tests_event;
#[cfg(test)]
mod tests_formula;
#[cfg(test)]
mod tests_props;
