//! Per-trigger poll counters and latency. With the `runtime` feature they are Prometheus metrics served on
//! `--metrics-addr` (with `/healthz` and `/readyz`, through `ksx_core::runtime::serve`):
//! `ksx_event_scaler_polls_total{namespace, scaled_object, metric, result}` and
//! `ksx_event_scaler_poll_duration_seconds{namespace, scaled_object, metric}`. Without it the same figures are
//! only in the decision lines (`latencyMs`, `errors`).

use std::time::Duration;

#[cfg(feature = "runtime")]
mod imp {
    use std::time::Duration;

    use prometheus_client::encoding::EncodeLabelSet;
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::family::Family;
    use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
    use prometheus_client::registry::{Registry, Unit};

    #[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
    pub(super) struct PollLabels {
        pub(super) namespace: String,
        pub(super) scaled_object: String,
        pub(super) metric: String,
        /// `success` or `error`.
        pub(super) result: &'static str,
    }

    #[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
    pub(super) struct TriggerLabels {
        pub(super) namespace: String,
        pub(super) scaled_object: String,
        pub(super) metric: String,
    }

    /// Buckets from 1 ms to about 4 s: a Redis round trip up to a poll at its timeout.
    fn buckets() -> Histogram {
        Histogram::new(exponential_buckets(0.001, 2.0, 13))
    }

    /// The registered metric families.
    #[derive(Debug, Clone)]
    pub(crate) struct Families {
        pub(super) polls: Family<PollLabels, Counter>,
        pub(super) duration: Family<TriggerLabels, Histogram, fn() -> Histogram>,
    }

    impl Families {
        pub(crate) fn register(registry: &mut Registry) -> Self {
            let f = Self {
                polls: Family::default(),
                duration: Family::new_with_constructor(buckets as fn() -> Histogram),
            };
            registry.register(
                "ksx_event_scaler_polls",
                "Trigger polls by ScaledObject, metric and result",
                f.polls.clone(),
            );
            registry.register_with_unit(
                "ksx_event_scaler_poll_duration",
                "Time one trigger poll took",
                Unit::Seconds,
                f.duration.clone(),
            );
            f
        }

        pub(super) fn record(
            &self,
            namespace: &str,
            name: &str,
            metric: &str,
            ok: bool,
            latency: Duration,
        ) {
            self.polls
                .get_or_create(&PollLabels {
                    namespace: namespace.to_owned(),
                    scaled_object: name.to_owned(),
                    metric: metric.to_owned(),
                    result: if ok { "success" } else { "error" },
                })
                .inc();
            self.duration
                .get_or_create(&TriggerLabels {
                    namespace: namespace.to_owned(),
                    scaled_object: name.to_owned(),
                    metric: metric.to_owned(),
                })
                .observe(latency.as_secs_f64());
        }
    }
}

#[cfg(feature = "runtime")]
pub(crate) use imp::Families;

/// Where poll outcomes go: Prometheus families when served, else nowhere.
#[derive(Debug, Clone, Default)]
pub(crate) struct PollMetrics {
    #[cfg(feature = "runtime")]
    pub(crate) families: Option<Families>,
}

impl PollMetrics {
    /// Records one poll.
    #[cfg_attr(
        not(feature = "runtime"),
        allow(
            clippy::unused_self,
            reason = "without the runtime feature there is nowhere to record"
        )
    )]
    pub(crate) fn record(
        &self,
        namespace: &str,
        name: &str,
        metric: &str,
        ok: bool,
        latency: Duration,
    ) {
        #[cfg(feature = "runtime")]
        if let Some(f) = &self.families {
            f.record(namespace, name, metric, ok, latency);
        }
        let _ = (namespace, name, metric, ok, latency);
    }
}
