//! The conformance check every [`MetricsSource`] passes.
//!
//! [`fixture`] builds a deterministic 30-minute history; [`Fixture::load_into`] feeds it to an
//! [`InMemoryMetrics`](super::memory::InMemoryMetrics), [`Fixture::to_openmetrics`] renders the same history as
//! OpenMetrics text for `promtool tsdb create-blocks-from openmetrics`, and [`check_metrics_source`] asserts exact
//! values computed by hand from the fixture. The in-memory store runs it in its unit tests, the Prometheus adapter in
//! `ksx-core/tests/prometheus.rs` against a real server holding the backfilled history.
//!
//! The history, sampled every 15 s from `start` to `start + 30m` (samples `k = 0..=120`), in namespace
//! `ksx-test-<start seconds>` unless noted:
//!
//! | series | value |
//! |---|---|
//! | `container_cpu_usage_seconds_total` of `web-0`: `app` / `sidecar` / `POD` | counters growing 0.25 / 0.125 / 1/128 cores |
//! | the same of `web-1` | `app` 0.5 cores until `start + 15m`, 0.75 after; `sidecar` 0.125; `POD` 1/128 |
//! | the same of `db-0`: `postgres` | 1 core |
//! | `container_memory_working_set_bytes` of `web-0` / `web-1` `app` | 200Mi with a 300Mi peak at `k = 40` / 256Mi with a 400Mi peak at `k = 100` |
//! | the same of the sidecars, `POD`, `postgres` | 50Mi, 1Mi, 1Gi |
//! | cAdvisor pod-level series (no `container` label) | the sums over the pod's containers |
//! | `web-0` in the second namespace `…-other`, labelled like the web pods | 2 cores, 1Gi: must never show up |
//! | `kube_pod_labels` | one per pod, `label_<sanitized key>` as kube-state-metrics writes them |
//! | `http_requests_total{code="200"}` of `web-0` / `web-1` | 5000 + 150·k (10/s) / 300·k, reset at `k = 80` to 300·(k − 79) (20/s) |
//! | `http_requests_in_flight{handler}` | `web-0` api 2, static 1; `web-1` api 5; `db-0` api 7; other namespace 100 |
//! | `requests_per_second{ingress}` | `shop` 42.5, `admin` 1.5 |
//! | `queue_depth{queue}` | `jobs` 10 + k; [`ODD_QUEUE`] 3; `legacy` 7 until `k = 60` only; `jobs` in the other namespace 999 |
//!
//! Pods `web-0` and `web-1` carry `app=web, tier=front, app.kubernetes.io/part-of=shop`; `db-0` carries
//! `app=db, tier=back`.
//!
//! Instant answers are checked at [`Fixture::now`] (`start + 29m52s`, between two samples): a source under test
//! must evaluate "now" at that instant (a [`crate::clock::ManualClock`] given to the source).

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;

pub use self::history::{Family, FamilyKind, Fixture, FixturePod, ODD_QUEUE, fixture};
use self::history::{MI, at_secs, labels};
use super::{
    ContainerUsage, DEFAULT_USAGE_WINDOW, MetricId, MetricsSource, ObjectValue, PodUsage,
    RangeFunction, RangeQuery, Sample, Series,
};
use crate::error::Error;

mod history;

/// Runs every check against `src`, which must hold `fixture`'s history and evaluate "now" at
/// [`Fixture::now`]. Returns every mismatch found, one per line.
///
/// Values are compared with a relative tolerance of 1e-9 (float rounding only); labels, names, timestamps and
/// ordering exactly.
///
/// # Errors
/// A description of each answer that differs from the expected one.
pub async fn check_metrics_source(
    src: &dyn MetricsSource,
    fixture: &Fixture,
) -> Result<(), String> {
    let mut c = Checker {
        failures: Vec::new(),
        fixture,
    };
    c.pod_usage(src).await;
    c.pods_metric(src).await;
    c.object_metric(src).await;
    c.external_metric(src).await;
    c.range(src).await;
    if c.failures.is_empty() {
        Ok(())
    } else {
        Err(c.failures.join("\n"))
    }
}

struct Checker<'a> {
    failures: Vec<String>,
    fixture: &'a Fixture,
}

impl Checker<'_> {
    fn fail(&mut self, what: &str, detail: &str) {
        self.failures.push(format!("{what}: {detail}"));
    }

    fn at(&self, secs: i64) -> Timestamp {
        at_secs(self.fixture.start, secs)
    }

    async fn pod_usage(&mut self, src: &dyn MetricsSource) {
        let ns = self.fixture.namespace.clone();
        let container = |name: &str, cpu_cores: f64, memory_mi: f64| ContainerUsage {
            name: name.to_owned(),
            cpu_cores,
            memory_bytes: memory_mi * MI,
        };
        let pod = |name: &str, containers: Vec<ContainerUsage>| PodUsage {
            namespace: ns.clone(),
            name: name.to_owned(),
            timestamp: self.fixture.now,
            window: DEFAULT_USAGE_WINDOW,
            containers,
        };
        let web0 = pod(
            "web-0",
            vec![
                container("app", 0.25, 200.0),
                container("sidecar", 0.125, 50.0),
            ],
        );
        let web1 = pod(
            "web-1",
            vec![
                container("app", 0.75, 256.0),
                container("sidecar", 0.125, 50.0),
            ],
        );
        let db0 = pod("db-0", vec![container("postgres", 1.0, 1024.0)]);
        let cases = [
            ("app=web", vec![web0.clone(), web1.clone()]),
            (
                "app in (web),tier notin (back), app.kubernetes.io/part-of=shop,!canary",
                vec![web0.clone(), web1.clone()],
            ),
            ("", vec![db0.clone(), web0.clone(), web1.clone()]),
            ("tier", vec![db0.clone(), web0, web1]),
            ("tier!=front", vec![db0]),
            ("app=nothing", Vec::new()),
        ];
        for (selector, expected) in cases {
            let what = format!("pod_usage({ns:?}, {selector:?})");
            match src.pod_usage(&ns, selector).await {
                Ok(got) => {
                    if !same_pod_usage(&got, &expected) {
                        self.fail(&what, &format!("got {got:?}, expected {expected:?}"));
                    }
                }
                Err(e) => self.fail(&what, &format!("error {e}")),
            }
        }
        match src.pod_usage(&ns, "app in web").await {
            Err(Error::InvalidSelector { .. }) => {}
            other => self.fail(
                "pod_usage with selector \"app in web\"",
                &format!("expected InvalidSelector, got {other:?}"),
            ),
        }
    }

    async fn pods_metric(&mut self, src: &dyn MetricsSource) {
        let ns = self.fixture.namespace.clone();
        let in_flight = MetricId::named("http_requests_in_flight");
        let now = self.fixture.now;
        let value = |name: &str, value: f64| ObjectValue {
            name: name.to_owned(),
            sample: Sample {
                timestamp: now,
                value,
            },
        };
        let cases = [
            (
                "app=web",
                in_flight.clone(),
                vec![value("web-0", 3.0), value("web-1", 5.0)],
            ),
            (
                "app=web",
                in_flight.clone().with_label("handler", "api"),
                vec![value("web-0", 2.0), value("web-1", 5.0)],
            ),
            (
                "",
                in_flight.clone(),
                vec![value("db-0", 7.0), value("web-0", 3.0), value("web-1", 5.0)],
            ),
            ("app=nothing", in_flight, Vec::new()),
        ];
        for (selector, metric, expected) in cases {
            let what = format!("pods_metric({ns:?}, {selector:?}, {metric:?})");
            match src.pods_metric(&ns, selector, &metric).await {
                Ok(got) => {
                    let same = got.len() == expected.len()
                        && got
                            .iter()
                            .zip(&expected)
                            .all(|(g, e)| g.name == e.name && same_sample(&g.sample, &e.sample));
                    if !same {
                        self.fail(&what, &format!("got {got:?}, expected {expected:?}"));
                    }
                }
                Err(e) => self.fail(&what, &format!("error {e}")),
            }
        }
        match src
            .pods_metric(&ns, "app=web", &MetricId::named("no_such_metric"))
            .await
        {
            Err(Error::MetricUnavailable { .. }) => {}
            other => self.fail(
                "pods_metric of a missing metric",
                &format!("expected MetricUnavailable, got {other:?}"),
            ),
        }
    }

    async fn object_metric(&mut self, src: &dyn MetricsSource) {
        let ns = self.fixture.namespace.clone();
        let rps = MetricId::named("requests_per_second");
        let expected = Sample {
            timestamp: self.fixture.now,
            value: 42.5,
        };
        match src.object_metric(&ns, "Ingress", "shop", &rps).await {
            Ok(got) if same_sample(&got, &expected) => {}
            other => self.fail(
                "object_metric(Ingress shop)",
                &format!("got {other:?}, expected {expected:?}"),
            ),
        }
        match src.object_metric(&ns, "Ingress", "missing", &rps).await {
            Err(Error::MetricUnavailable { .. }) => {}
            other => self.fail(
                "object_metric of a missing object",
                &format!("expected MetricUnavailable, got {other:?}"),
            ),
        }
    }

    async fn external_metric(&mut self, src: &dyn MetricsSource) {
        let ns = self.fixture.namespace.clone();
        let now = self.fixture.now;
        let queue = MetricId::named("queue_depth");
        let sample = |value: f64| Sample {
            timestamp: now,
            value,
        };
        let cases = [
            (
                ns.as_str(),
                queue.clone().with_label("queue", "jobs"),
                vec![sample(129.0)],
            ),
            (
                ns.as_str(),
                queue.clone().with_label("queue", ODD_QUEUE),
                vec![sample(3.0)],
            ),
            // `legacy` stopped at `start + 15m` and is stale now; sorted by labels, `jobs` comes first.
            (ns.as_str(), queue.clone(), vec![sample(129.0), sample(3.0)]),
            // An empty namespace matches every namespace; sorted by labels, `ksx-test-…` before `…-other`.
            (
                "",
                queue.clone().with_label("queue", "jobs"),
                vec![sample(129.0), sample(999.0)],
            ),
        ];
        for (namespace, metric, expected) in cases {
            let what = format!("external_metric({namespace:?}, {metric:?})");
            match src.external_metric(namespace, &metric).await {
                Ok(got) => {
                    let same = got.len() == expected.len()
                        && got.iter().zip(&expected).all(|(g, e)| same_sample(g, e));
                    if !same {
                        self.fail(&what, &format!("got {got:?}, expected {expected:?}"));
                    }
                }
                Err(e) => self.fail(&what, &format!("error {e}")),
            }
        }
        match src
            .external_metric(&ns, &queue.with_label("queue", "legacy"))
            .await
        {
            Err(Error::MetricUnavailable { .. }) => {}
            other => self.fail(
                "external_metric of a stale series",
                &format!("expected MetricUnavailable, got {other:?}"),
            ),
        }
    }

    async fn range(&mut self, src: &dyn MetricsSource) {
        let ns = self.fixture.namespace.clone();
        let cadvisor = |pod: &str, container: &str, name: Option<&str>| {
            let mut l = labels(&[
                ("namespace", &ns),
                ("pod", pod),
                ("container", container),
                ("instance", "node-1"),
                ("job", "kubelet"),
                ("metrics_path", "/metrics/cadvisor"),
            ]);
            if let Some(name) = name {
                l.insert("__name__".to_owned(), name.to_owned());
            }
            l
        };
        let series = |labels: BTreeMap<String, String>, points: &[(i64, f64)]| Series {
            labels,
            samples: points
                .iter()
                .map(|&(secs, value)| Sample {
                    timestamp: self.at(secs),
                    value,
                })
                .collect(),
        };
        let requests = |pod: &str| {
            labels(&[
                ("namespace", &ns),
                ("pod", pod),
                ("code", "200"),
                ("job", "web"),
            ])
        };
        let memory =
            MetricId::named("container_memory_working_set_bytes").with_label("namespace", &ns);
        let cases = vec![
            (
                "raw gauge with the 5m lookback",
                MetricId::named("queue_depth")
                    .with_label("namespace", &ns)
                    .with_label("queue", "legacy"),
                RangeFunction::Raw,
                (1005, 1405, 100),
                vec![series(
                    labels(&[
                        ("__name__", "queue_depth"),
                        ("namespace", &ns),
                        ("queue", "legacy"),
                    ]),
                    &[(1005, 7.0), (1105, 7.0)],
                )],
            ),
            (
                "raw gauge around a peak",
                memory
                    .clone()
                    .with_label("pod", "web-0")
                    .with_label("container", "app"),
                RangeFunction::Raw,
                (592, 612, 10),
                vec![series(
                    cadvisor("web-0", "app", Some("container_memory_working_set_bytes")),
                    &[(592, 200.0 * MI), (602, 300.0 * MI), (612, 300.0 * MI)],
                )],
            ),
            (
                "rate with extrapolation and a counter reset",
                MetricId::named("http_requests_total").with_label("namespace", &ns),
                RangeFunction::Rate {
                    window: Duration::from_secs(60),
                },
                (37, 1237, 300),
                vec![
                    // At 37 s the window starts before the history: web-0 (5000 at k = 0, far from its zero point)
                    // is extrapolated by half a sample interval, 300 · (30 + 7.5 + 7) / 30 / 60; web-1 starts at
                    // zero and is extrapolated back to its zero point only, 600 · (30 + 0 + 7) / 30 / 60.
                    series(
                        requests("web-0"),
                        &[
                            (37, 445.0 / 60.0),
                            (337, 10.0),
                            (637, 10.0),
                            (937, 10.0),
                            (1237, 10.0),
                        ],
                    ),
                    series(
                        requests("web-1"),
                        &[
                            (37, 37.0 / 3.0),
                            (337, 20.0),
                            (637, 20.0),
                            (937, 20.0),
                            (1237, 20.0),
                        ],
                    ),
                ],
            ),
            (
                "rate of a CPU counter changing pace",
                MetricId::named("container_cpu_usage_seconds_total")
                    .with_label("namespace", &ns)
                    .with_label("pod", "web-1")
                    .with_label("container", "app"),
                RangeFunction::Rate {
                    window: Duration::from_secs(120),
                },
                (842, 1022, 180),
                vec![series(
                    cadvisor("web-1", "app", None),
                    &[(842, 0.5), (1022, 0.75)],
                )],
            ),
            (
                "max_over_time of memory",
                memory.with_label("container", "app"),
                RangeFunction::MaxOverTime {
                    window: Duration::from_secs(600),
                },
                (905, 1805, 300),
                vec![
                    series(
                        cadvisor("web-0", "app", None),
                        &[
                            (905, 300.0 * MI),
                            (1205, 200.0 * MI),
                            (1505, 200.0 * MI),
                            (1805, 200.0 * MI),
                        ],
                    ),
                    series(
                        cadvisor("web-1", "app", None),
                        &[
                            (905, 256.0 * MI),
                            (1205, 256.0 * MI),
                            (1505, 400.0 * MI),
                            (1805, 400.0 * MI),
                        ],
                    ),
                ],
            ),
        ];
        for (what, metric, function, (start, end, step), mut expected) in cases {
            let query = RangeQuery {
                metric,
                function,
                start: self.at(start),
                end: self.at(end),
                step: Duration::from_secs(step),
            };
            expected.sort_by(|a, b| a.labels.cmp(&b.labels));
            match src.range(&query).await {
                Ok(got) => {
                    if !same_series(&got, &expected) {
                        self.fail(what, &format!("got {got:?}, expected {expected:?}"));
                    }
                }
                Err(e) => self.fail(what, &format!("error {e}")),
            }
        }
        let inverted = RangeQuery {
            metric: MetricId::named("queue_depth"),
            function: RangeFunction::Raw,
            start: self.at(100),
            end: self.at(50),
            step: Duration::from_secs(10),
        };
        match src.range(&inverted).await {
            Err(Error::InvalidField { .. }) => {}
            other => self.fail(
                "range with end before start",
                &format!("expected InvalidField, got {other:?}"),
            ),
        }
    }
}

/// Equal up to float rounding: a relative difference of at most 1e-9.
pub fn approx_eq(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a.is_infinite() || b.is_infinite() {
        return a.total_cmp(&b).is_eq();
    }
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

fn same_sample(a: &Sample, b: &Sample) -> bool {
    a.timestamp == b.timestamp && approx_eq(a.value, b.value)
}

fn same_series(a: &[Series], b: &[Series]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.labels == y.labels
                && x.samples.len() == y.samples.len()
                && x.samples
                    .iter()
                    .zip(&y.samples)
                    .all(|(s, t)| same_sample(s, t))
        })
}

fn same_pod_usage(a: &[PodUsage], b: &[PodUsage]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.namespace == y.namespace
                && x.name == y.name
                && x.timestamp == y.timestamp
                && x.window == y.window
                && x.containers.len() == y.containers.len()
                && x.containers.iter().zip(&y.containers).all(|(c, d)| {
                    c.name == d.name
                        && approx_eq(c.cpu_cores, d.cpu_cores)
                        && approx_eq(c.memory_bytes, d.memory_bytes)
                })
        })
}
