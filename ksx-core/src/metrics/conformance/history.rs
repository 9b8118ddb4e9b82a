//! The fixture's history: what it holds, how an in-memory store is fed with it and how it is rendered as
//! OpenMetrics text. The table in the [parent module](super) describes the series.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use jiff::Timestamp;

use crate::metrics::memory::InMemoryMetrics;
use crate::metrics::{ContainerUsage, MetricId, Sample, Series, kube_state_metrics_label};

/// One mebibyte.
pub(super) const MI: f64 = 1_048_576.0;

/// The seconds between two samples of the fixture.
const SCRAPE_SECS: i64 = 15;

/// The last sample index: samples are `k = 0..=LAST_K`.
const LAST_K: u32 = 120;

/// A `queue` label value that needs escaping everywhere: quotes, a backslash, a newline and non-ASCII text.
pub const ODD_QUEUE: &str = "odd \"quoted\" \\ queue\nnamed é";

/// A synthetic metrics history, known exactly.
#[derive(Debug, Clone, PartialEq)]
pub struct Fixture {
    /// The first sample.
    pub start: Timestamp,
    /// The last sample (`start + 30m`).
    pub end: Timestamp,
    /// The instant instant-queries are checked at (`start + 29m52s`).
    pub now: Timestamp,
    /// The namespace of the pods under test.
    pub namespace: String,
    /// A second namespace whose series must never leak into answers about [`Fixture::namespace`].
    pub other_namespace: String,
    /// Pods, their labels and the usage samples an in-memory store records.
    pub pods: Vec<FixturePod>,
    /// Raw series grouped into metric families, as Prometheus stores them.
    pub families: Vec<Family>,
}

/// A pod of the fixture.
#[derive(Debug, Clone, PartialEq)]
pub struct FixturePod {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Kubernetes labels.
    pub labels: BTreeMap<String, String>,
    /// Usage per scrape, as metrics-server would report it (CPU as the rate over the preceding interval).
    pub usage: Vec<(Timestamp, Vec<ContainerUsage>)>,
}

/// A metric family: series of one name and type.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// The series name (counters end in `_total`).
    pub name: String,
    /// Counter or gauge.
    pub kind: FamilyKind,
    /// The series; each one's labels include `__name__`.
    pub series: Vec<Series>,
}

/// The type of a [`Family`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FamilyKind {
    /// A monotonic counter (resets allowed).
    Counter,
    /// A gauge.
    Gauge,
}

/// One container's behaviour in the fixture.
struct ContainerSpec {
    name: &'static str,
    /// Counter value at `k = 0`.
    cpu_initial: f64,
    /// Cores used during the interval ending at sample `k`.
    cpu: fn(u32) -> f64,
    /// Working set at sample `k`.
    memory: fn(u32) -> f64,
}

struct PodSpec {
    other_namespace: bool,
    name: &'static str,
    labels: &'static [(&'static str, &'static str)],
    containers: Vec<ContainerSpec>,
}

/// Builds the fixture's history starting at `start` (use a whole second).
pub fn fixture(start: Timestamp) -> Fixture {
    let namespace = format!("ksx-test-{}", start.as_second());
    let other_namespace = format!("{namespace}-other");
    let at = |k: u32| at_secs(start, i64::from(k) * SCRAPE_SECS);
    let web_labels: &[(&str, &str)] = &[
        ("app", "web"),
        ("tier", "front"),
        ("app.kubernetes.io/part-of", "shop"),
    ];
    let pause = || ContainerSpec {
        name: "POD",
        cpu_initial: 1.0,
        cpu: |_| 1.0 / 128.0,
        memory: |_| MI,
    };
    let sidecar = || ContainerSpec {
        name: "sidecar",
        cpu_initial: 10.0,
        cpu: |_| 0.125,
        memory: |_| 50.0 * MI,
    };
    let specs = vec![
        PodSpec {
            other_namespace: false,
            name: "web-0",
            labels: web_labels,
            containers: vec![
                ContainerSpec {
                    name: "app",
                    cpu_initial: 100.0,
                    cpu: |_| 0.25,
                    memory: |k| if k == 40 { 300.0 * MI } else { 200.0 * MI },
                },
                sidecar(),
                pause(),
            ],
        },
        PodSpec {
            other_namespace: false,
            name: "web-1",
            labels: web_labels,
            containers: vec![
                ContainerSpec {
                    name: "app",
                    cpu_initial: 200.0,
                    cpu: |k| if k <= 60 { 0.5 } else { 0.75 },
                    memory: |k| if k == 100 { 400.0 * MI } else { 256.0 * MI },
                },
                sidecar(),
                pause(),
            ],
        },
        PodSpec {
            other_namespace: false,
            name: "db-0",
            labels: &[("app", "db"), ("tier", "back")],
            containers: vec![
                ContainerSpec {
                    name: "postgres",
                    cpu_initial: 5000.0,
                    cpu: |_| 1.0,
                    memory: |_| 1024.0 * MI,
                },
                pause(),
            ],
        },
        PodSpec {
            other_namespace: true,
            name: "web-0",
            labels: &[("app", "web"), ("tier", "front")],
            containers: vec![ContainerSpec {
                name: "app",
                cpu_initial: 0.0,
                cpu: |_| 2.0,
                memory: |_| 1024.0 * MI,
            }],
        },
    ];

    let mut pods = Vec::new();
    let mut cpu_family = Vec::new();
    let mut memory_family = Vec::new();
    let mut pod_labels_family = Vec::new();
    for spec in &specs {
        let ns = if spec.other_namespace {
            &other_namespace
        } else {
            &namespace
        };
        let cadvisor = |container: Option<&str>, name: &str| {
            let mut labels = labels(&[
                ("__name__", name),
                ("namespace", ns),
                ("pod", spec.name),
                ("instance", "node-1"),
                ("job", "kubelet"),
                ("metrics_path", "/metrics/cadvisor"),
            ]);
            if let Some(c) = container {
                labels.insert("container".to_owned(), c.to_owned());
            }
            labels
        };
        let mut pod_cpu = vec![0.0; sample_count()];
        let mut pod_memory = vec![0.0; sample_count()];
        let mut usage: Vec<(Timestamp, Vec<ContainerUsage>)> =
            (0..=LAST_K).map(|k| (at(k), Vec::new())).collect();
        for c in &spec.containers {
            let mut cpu = Vec::new();
            let mut memory = Vec::new();
            let mut counter = c.cpu_initial;
            for k in 0..=LAST_K {
                if k > 0 {
                    counter += (c.cpu)(k) * 15.0;
                }
                cpu.push(Sample {
                    timestamp: at(k),
                    value: counter,
                });
                memory.push(Sample {
                    timestamp: at(k),
                    value: (c.memory)(k),
                });
                if c.name != "POD"
                    && let Some((_, containers)) = usage.get_mut(k as usize)
                {
                    containers.push(ContainerUsage {
                        name: c.name.to_owned(),
                        cpu_cores: (c.cpu)(k),
                        memory_bytes: (c.memory)(k),
                    });
                }
            }
            for (total, s) in pod_cpu.iter_mut().zip(&cpu) {
                *total += s.value;
            }
            for (total, s) in pod_memory.iter_mut().zip(&memory) {
                *total += s.value;
            }
            cpu_family.push(Series {
                labels: cadvisor(Some(c.name), "container_cpu_usage_seconds_total"),
                samples: cpu,
            });
            memory_family.push(Series {
                labels: cadvisor(Some(c.name), "container_memory_working_set_bytes"),
                samples: memory,
            });
        }
        // cAdvisor's pod-level cgroup: an empty `container` label, which Prometheus stores as no label at all.
        cpu_family.push(Series {
            labels: cadvisor(None, "container_cpu_usage_seconds_total"),
            samples: series_of(start, |k| {
                pod_cpu.get(k as usize).copied().unwrap_or_default()
            }),
        });
        memory_family.push(Series {
            labels: cadvisor(None, "container_memory_working_set_bytes"),
            samples: series_of(start, |k| {
                pod_memory.get(k as usize).copied().unwrap_or_default()
            }),
        });
        let mut ksm = labels(&[
            ("__name__", "kube_pod_labels"),
            ("namespace", ns),
            ("pod", spec.name),
            ("job", "kube-state-metrics"),
        ]);
        for (k, v) in spec.labels {
            ksm.insert(kube_state_metrics_label(k), (*v).to_owned());
        }
        pod_labels_family.push(Series {
            labels: ksm,
            samples: series_of(start, |_| 1.0),
        });
        pods.push(FixturePod {
            namespace: ns.clone(),
            name: spec.name.to_owned(),
            labels: labels(spec.labels),
            usage,
        });
    }

    let ns = namespace.as_str();
    let other = other_namespace.as_str();
    let requests = |pod: &str, f: fn(u32) -> f64| Series {
        labels: labels(&[
            ("__name__", "http_requests_total"),
            ("namespace", ns),
            ("pod", pod),
            ("code", "200"),
            ("job", "web"),
        ]),
        samples: series_of(start, f),
    };
    let in_flight = |namespace: &str, pod: &str, handler: &str, value: f64| Series {
        labels: labels(&[
            ("__name__", "http_requests_in_flight"),
            ("namespace", namespace),
            ("pod", pod),
            ("handler", handler),
        ]),
        samples: series_of(start, |_| value),
    };
    let ingress = |name: &str, value: f64| Series {
        labels: labels(&[
            ("__name__", "requests_per_second"),
            ("namespace", ns),
            ("ingress", name),
        ]),
        samples: series_of(start, |_| value),
    };
    let queue = |namespace: &str, queue: &str, samples: Vec<Sample>| Series {
        labels: labels(&[
            ("__name__", "queue_depth"),
            ("namespace", namespace),
            ("queue", queue),
        ]),
        samples,
    };
    let families = vec![
        Family {
            name: "container_cpu_usage_seconds_total".to_owned(),
            kind: FamilyKind::Counter,
            series: cpu_family,
        },
        Family {
            name: "container_memory_working_set_bytes".to_owned(),
            kind: FamilyKind::Gauge,
            series: memory_family,
        },
        Family {
            name: "kube_pod_labels".to_owned(),
            kind: FamilyKind::Gauge,
            series: pod_labels_family,
        },
        Family {
            name: "http_requests_total".to_owned(),
            kind: FamilyKind::Counter,
            series: vec![
                requests("web-0", |k| 5000.0 + 150.0 * f64::from(k)),
                requests("web-1", |k| {
                    if k < 80 {
                        300.0 * f64::from(k)
                    } else {
                        300.0 * f64::from(k - 79)
                    }
                }),
            ],
        },
        Family {
            name: "http_requests_in_flight".to_owned(),
            kind: FamilyKind::Gauge,
            series: vec![
                in_flight(ns, "web-0", "api", 2.0),
                in_flight(ns, "web-0", "static", 1.0),
                in_flight(ns, "web-1", "api", 5.0),
                in_flight(ns, "db-0", "api", 7.0),
                in_flight(other, "web-0", "api", 100.0),
            ],
        },
        Family {
            name: "requests_per_second".to_owned(),
            kind: FamilyKind::Gauge,
            series: vec![ingress("shop", 42.5), ingress("admin", 1.5)],
        },
        Family {
            name: "queue_depth".to_owned(),
            kind: FamilyKind::Gauge,
            series: vec![
                queue(ns, "jobs", series_of(start, |k| 10.0 + f64::from(k))),
                queue(ns, ODD_QUEUE, series_of(start, |_| 3.0)),
                queue(
                    ns,
                    "legacy",
                    series_of(start, |_| 7.0).into_iter().take(61).collect(),
                ),
                queue(other, "jobs", series_of(start, |_| 999.0)),
            ],
        },
    ];
    Fixture {
        start,
        end: at(LAST_K),
        now: at_secs(start, 29 * 60 + 52),
        namespace,
        other_namespace,
        pods,
        families,
    }
}

impl Fixture {
    /// Feeds the whole history to an in-memory store: pod labels, usage samples and every raw series.
    pub fn load_into(&self, metrics: &InMemoryMetrics) {
        for pod in &self.pods {
            metrics.set_pod_labels(&pod.namespace, &pod.name, pod.labels.clone());
            for (at, containers) in &pod.usage {
                metrics.record_pod_usage(&pod.namespace, &pod.name, *at, containers);
            }
        }
        for family in &self.families {
            for series in &family.series {
                let mut id = MetricId::named(&family.name);
                id.labels = series.labels.clone();
                id.labels.remove("__name__");
                for s in &series.samples {
                    metrics.push_sample(&id, s.timestamp, s.value);
                }
            }
        }
    }

    /// The history as OpenMetrics text, as `promtool tsdb create-blocks-from openmetrics` reads it: one `# TYPE`
    /// line per family (counters declared without their `_total` suffix), each series' samples in time order with
    /// timestamps in seconds, and a final `# EOF`.
    pub fn to_openmetrics(&self) -> String {
        let mut out = String::new();
        for family in &self.families {
            let (declared, kind) = match family.kind {
                FamilyKind::Counter => (
                    family.name.strip_suffix("_total").unwrap_or(&family.name),
                    "counter",
                ),
                FamilyKind::Gauge => (family.name.as_str(), "gauge"),
            };
            let _ = writeln!(out, "# TYPE {declared} {kind}");
            for series in &family.series {
                let mut head = family.name.clone();
                let labels: Vec<String> = series
                    .labels
                    .iter()
                    .filter(|(k, _)| *k != "__name__")
                    .map(|(k, v)| format!("{k}=\"{}\"", escape_openmetrics(v)))
                    .collect();
                if !labels.is_empty() {
                    let _ = write!(head, "{{{}}}", labels.join(","));
                }
                for s in &series.samples {
                    let _ = writeln!(
                        out,
                        "{head} {} {}",
                        openmetrics_number(s.value),
                        openmetrics_seconds(s.timestamp)
                    );
                }
            }
        }
        out.push_str("# EOF\n");
        out
    }
}

pub(super) fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn sample_count() -> usize {
    LAST_K as usize + 1
}

fn series_of(start: Timestamp, value: impl Fn(u32) -> f64) -> Vec<Sample> {
    (0..=LAST_K)
        .map(|k| Sample {
            timestamp: at_secs(start, i64::from(k) * SCRAPE_SECS),
            value: value(k),
        })
        .collect()
}

pub(super) fn at_secs(start: Timestamp, secs: i64) -> Timestamp {
    start
        .checked_add(jiff::SignedDuration::from_secs(secs))
        .unwrap_or(Timestamp::MAX)
}

/// Escapes a label value for the OpenMetrics text format: backslash, double quote and line feed.
fn escape_openmetrics(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn openmetrics_number(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        v.to_string()
    }
}

/// A timestamp in seconds with millisecond precision, as OpenMetrics expects.
fn openmetrics_seconds(t: Timestamp) -> String {
    let ms = t.as_millisecond();
    let sign = if ms < 0 { "-" } else { "" };
    let abs = ms.unsigned_abs();
    if abs.is_multiple_of(1000) {
        format!("{sign}{}", abs / 1000)
    } else {
        format!("{sign}{}.{:03}", abs / 1000, abs % 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openmetrics_rendering() {
        let f = fixture(Timestamp::from_second(1_735_689_600).unwrap());
        let text = f.to_openmetrics();
        assert!(text.ends_with("# EOF\n"));
        assert!(text.contains("# TYPE http_requests counter\n"));
        assert!(text.contains(
            "http_requests_total{code=\"200\",job=\"web\",namespace=\"ksx-test-1735689600\",pod=\"web-1\"} 300 1735690800\n"
        ));
        assert!(text.contains("queue=\"odd \\\"quoted\\\" \\\\ queue\\nnamed é\"} 3 1735689600\n"));
        assert_eq!(text.matches("# TYPE").count(), f.families.len());
        assert_eq!(
            openmetrics_seconds(Timestamp::from_millisecond(-1500).unwrap()),
            "-1.500"
        );
        assert_eq!(openmetrics_number(f64::INFINITY), "+Inf");
        assert_eq!(openmetrics_number(0.125), "0.125");
    }
}
