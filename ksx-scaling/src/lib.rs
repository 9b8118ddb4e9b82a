//! `ksx-scaling`: Elasticity engines of ksx: HPA v2, VPA, KEDA-style event scaling and their conflict rules.
//!
//! - [`hpa`]: HPA v2 with exact upstream semantics: the replica calculator for every metric type
//!   ([`hpa::compute_replicas`], [`hpa::combine()`]), behavior normalization (stabilization windows, Pods/Percent
//!   policies, selectPolicy) and the legacy path ([`hpa::normalize()`]), one reconcile with its status conditions
//!   ([`hpa::reconcile::reconcile`]), the `ksx hpa` JSON contract ([`hpa::contract`]), autoscaling/v1 → v2
//!   conversion ([`hpa::convert`]) and the conflict rule for several HPAs on one workload
//!   ([`hpa::conflict`]).
//! - [`vpa`]: the VPA recommender, checkpoints, history bootstrap and updater.
//! - [`event`]: KEDA-style event scaling: ScaledObject/ScaledJob, scalers and the executor.
//! - [`policy`]: one workload, several autoscalers: the unified view of who owns replicas and requests, and
//!   the conflict rules between HPAs, VPAs and ScaledObjects ([`policy::check_all`], [`policy::validate`]).
//! - [`error`]: the crate's error type.
//!
//! Engines are pure: inputs and `now` in (engine time is `i64` nanoseconds since the Unix epoch), a decision
//! with its reasons out. I/O sits at the edges, behind features: `scalers` (the real KEDA-style scalers over
//! Redis, PostgreSQL, MySQL/MariaDB, RabbitMQ, NATS JetStream, MQTT, Prometheus, HTTP), `postgres` (the
//! PostgreSQL checkpoint store) and `prometheus` (Prometheus-backed tests of the VPA history bootstrap).
//!
//! ```
//! use ksx_scaling::hpa::{History, HpaBehavior, LimitReason, NormalizeArgs, normalize};
//!
//! // Current 7, proposal 30, default behavior, no history: limited to max(7 + 4, 2 × 7) = 14.
//! let behavior = HpaBehavior::default().resolve(300);
//! let mut history = History::default();
//! let now = 1_700_000_000 * 1_000_000_000;
//! let args = NormalizeArgs {
//!     now,
//!     current_replicas: 7,
//!     desired_replicas: 30,
//!     min_replicas: 1,
//!     max_replicas: 100,
//!     behavior: Some(&behavior),
//!     downscale_window_secs: 300,
//! };
//! let decision = normalize(&mut history, &args);
//! assert_eq!(decision.desired_replicas, 14);
//! assert_eq!(decision.limit_reason, LimitReason::ScaleUpLimit);
//! assert_eq!(history.scale_up_events[0].replica_change, 7);
//! ```

pub mod error;
pub mod event;
pub mod hpa;
pub mod policy;
pub mod vpa;

pub use error::{Error, Result};
