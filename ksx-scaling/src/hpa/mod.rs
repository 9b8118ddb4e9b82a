//! HPA v2 with upstream Kubernetes semantics: the replica calculator ([`replicas`]), normalization with
//! stabilization windows, rate policies and limits ([`mod@normalize`]), the serde model with upstream defaults and
//! validation ([`model`]), the pod view the calculator reads ([`pod`]), one reconcile decision with its status
//! conditions ([`reconcile`]), the CLI JSON contract ([`contract`]), autoscaling/v1 → v2 conversion
//! ([`convert`]) and the conflict rule for several HPAs on one workload ([`conflict`]).
//!
//! Everything here is pure: time is `i64` nanoseconds since the Unix epoch passed in as `now`, and the
//! controller's in-memory history is a [`normalize::History`] value the caller owns.

pub mod combine;
pub mod conflict;
pub mod contract;
pub mod convert;
pub mod model;
pub mod normalize;
pub mod pod;
pub mod reconcile;
pub mod replicas;
pub mod simulate;

pub use combine::{Combined, combine};
pub use model::{
    HpaBehavior, HpaScalingPolicy, HpaScalingRules, LimitReason, MetricSpec, MetricTarget,
    PolicyType, ResolvedBehavior, SelectPolicy, StabilizationReason,
};
pub use normalize::{History, NormalizeArgs, Normalized, normalize};
pub use replicas::{CalculatorConfig, MetricData, Proposal, Tolerances, compute_replicas};

#[cfg(test)]
mod tests_contract;
#[cfg(test)]
mod tests_normalize;
#[cfg(test)]
mod tests_replicas;
