//! Prometheus rules (`type: prometheus`, spec §2.6) against a real Prometheus backfilled with a one-hour history
//! (install it with `scripts/prometheus.sh`); metric names are unique per run.
#![cfg(feature = "prometheus")]
#![allow(
    clippy::unwrap_used,
    reason = "tests: a failed unwrap is a failed test"
)]

#[path = "../../ksx-scaling/tests/support/vpa_prometheus.rs"]
mod support;

use std::collections::BTreeMap;

use jiff::Timestamp;
use ksx_core::ManualClock;
use ksx_core::metrics::conformance::{Family, FamilyKind, Fixture};
use ksx_core::metrics::{Sample, Series};
use ksx_inspect::model::ErrorKind;
use ksx_inspect::rules::load_rules;
use ksx_inspect::rules::prometheus::{PrometheusQueries, evaluate_rules};
use ksx_inspect::{Bundle, Config, Engine, InspectObject, Report, RunOptions};

const T0: i64 = 1_735_689_600;
/// One hour of scrapes every 60 s; "now" is the last one.
const NOW: i64 = T0 + 3_600;

fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(secs).unwrap()
}

fn series(name: &str, pairs: &[(&str, &str)], value: impl Fn(i64) -> f64) -> Series {
    let mut labels: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    labels.insert("__name__".to_owned(), name.to_owned());
    Series {
        labels,
        samples: (0..=60)
            .map(|k| Sample {
                timestamp: at(T0 + k * 60),
                value: value(k * 60),
            })
            .collect(),
    }
}

struct Names {
    fs: String,
    restarts: String,
}

/// `fs`: node-a `/` 0.95 throughout; node-a `/var` 0.5 for the first 30 minutes, then 0.97; node-b `/` 0.5.
/// `restarts`: shop/web-1 3, shop/web-2 0.
fn fixture() -> (Fixture, Names) {
    let unique = format!(
        "{}_{}",
        std::process::id(),
        ksx_core::Clock::now(&ksx_core::SystemClock).as_nanosecond() % 1_000_000_000
    );
    let names = Names {
        fs: format!("ksx_inspect_fs_used_ratio_{unique}"),
        restarts: format!("ksx_inspect_restarts_{unique}"),
    };
    let fs = vec![
        series(
            &names.fs,
            &[("instance", "node-a:9100"), ("mountpoint", "/")],
            |_| 0.95,
        ),
        series(
            &names.fs,
            &[("instance", "node-a:9100"), ("mountpoint", "/var")],
            |s| if s < 1_800 { 0.5 } else { 0.97 },
        ),
        series(
            &names.fs,
            &[("instance", "node-b:9100"), ("mountpoint", "/")],
            |_| 0.5,
        ),
    ];
    let restarts = vec![
        series(
            &names.restarts,
            &[("namespace", "shop"), ("pod", "web-1")],
            |_| 3.0,
        ),
        series(
            &names.restarts,
            &[("namespace", "shop"), ("pod", "web-2")],
            |_| 0.0,
        ),
    ];
    let fixture = Fixture {
        start: at(T0),
        end: at(NOW),
        now: at(NOW),
        namespace: "shop".to_owned(),
        other_namespace: "other".to_owned(),
        pods: Vec::new(),
        families: vec![
            Family {
                name: names.fs.clone(),
                kind: FamilyKind::Gauge,
                series: fs,
            },
            Family {
                name: names.restarts.clone(),
                kind: FamilyKind::Gauge,
                series: restarts,
            },
        ],
    };
    (fixture, names)
}

fn rules_yaml(n: &Names) -> String {
    format!(
        r#"
apiVersion: inspect.ksx.io/v1
kind: InspectRule
metadata: {{name: fs-full}}
spec:
  id: org-fs-full
  type: prometheus
  category: node
  severity: warning
  prometheus:
    query: '{fs}'
    threshold: {{op: '>', value: 0.9}}
    resource: {{kind: Node, name: '{{{{ labels.instance }}}}'}}
  message: '{{{{ labels.mountpoint }}}} on {{{{ labels.instance }}}} is {{{{ value | round(2) }}}} full'
---
apiVersion: inspect.ksx.io/v1
kind: InspectRule
metadata: {{name: fs-full-50m}}
spec:
  id: org-fs-full-50m
  type: prometheus
  category: node
  severity: danger
  prometheus:
    query: '{fs}'
    threshold: {{op: '>', value: 0.9}}
    for: 50m
---
apiVersion: inspect.ksx.io/v1
kind: InspectRule
metadata: {{name: fs-full-20m}}
spec:
  id: org-fs-full-20m
  type: prometheus
  category: node
  severity: danger
  prometheus:
    query: '{fs}'
    threshold: {{op: '>', value: 0.9}}
    for: 20m
---
apiVersion: inspect.ksx.io/v1
kind: InspectRule
metadata: {{name: restarts}}
spec:
  id: org-restarts
  type: prometheus
  category: reliability
  severity: warning
  prometheus:
    query: '{restarts}'
    threshold: {{op: '>=', value: 3}}
  message: '{{{{ labels.pod }}}} restarted {{{{ value }}}} times'
---
apiVersion: inspect.ksx.io/v1
kind: InspectRule
metadata: {{name: low}}
spec:
  id: org-fs-low
  type: prometheus
  category: node
  severity: info
  prometheus:
    query: '{fs} < 0.6'
---
apiVersion: inspect.ksx.io/v1
kind: InspectRule
metadata: {{name: count}}
spec:
  id: org-fs-count
  type: prometheus
  category: node
  severity: info
  prometheus:
    query: 'scalar(count({fs}))'
    threshold: {{op: '==', value: 3}}
---
apiVersion: inspect.ksx.io/v1
kind: InspectRule
metadata: {{name: broken}}
spec:
  id: org-broken-query
  type: prometheus
  category: node
  severity: info
  prometheus:
    query: 'sum({fs}'
---
apiVersion: inspect.ksx.io/v1
kind: InspectRule
metadata: {{name: nan}}
spec:
  id: org-nan
  type: prometheus
  category: node
  severity: info
  prometheus:
    query: '({restarts} - {restarts}) / 0'
    threshold: {{op: '>', value: 0}}
"#,
        fs = n.fs,
        restarts = n.restarts
    )
}

fn run(url: &str, names: &Names) -> (Report, Vec<ksx_inspect::model::RunError>) {
    let mut rules =
        load_rules(&[("rules/prom.yaml".to_owned(), rules_yaml(names))]).expect("rules load");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let errors = rt.block_on(evaluate_rules(
        &mut rules,
        &PrometheusQueries::new(url),
        at(NOW),
    ));
    // One live object so the run is a cluster run (a diagnostic then makes it `partial`, not `failed`).
    let node =
        serde_json::json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-a"}});
    let mut bundle = Bundle::from_objects(vec![InspectObject::new(node, None, "default")]);
    bundle.errors.extend(errors.clone());
    let options = RunOptions {
        checks: Some(vec!["org-*".into()]),
        ..RunOptions::default()
    };
    let engine = Engine::with_rules(&Config::default(), &options, rules).expect("engine");
    (
        engine.inspect(&bundle, &ManualClock::at_unix_secs(NOW)),
        errors,
    )
}

fn findings_of<'a>(r: &'a Report, id: &str) -> Vec<(String, &'a str)> {
    r.findings
        .iter()
        .filter(|f| f.check_id == id)
        .map(|f| {
            let ns = f.resource.namespace.as_deref().unwrap_or("-");
            (
                format!("{}/{ns}/{}", f.resource.kind, f.resource.name),
                f.message.as_str(),
            )
        })
        .collect()
}

#[test]
fn prometheus_rules_find_breaches_per_series() {
    let (fixture, names) = fixture();
    let server = support::serve(&fixture);
    let (r, errors) = run(&server.url, &names);

    // Instant query at NOW: node-a / (0.95) and /var (0.97) breach > 0.9; node-b (0.5) passes.
    let mut full = findings_of(&r, "org-fs-full");
    full.sort();
    assert_eq!(
        full,
        [
            (
                "Node/-/node-a:9100".to_owned(),
                "/ on node-a:9100 is 0.95 full"
            ),
            (
                "Node/-/node-a:9100".to_owned(),
                "/var on node-a:9100 is 0.97 full"
            ),
        ],
        "{}",
        server.log_tail()
    );
    // for: 50m (points every 5 m from T0+10m): /var was 0.5 until T0+30m, so only / breaches throughout. The
    // default resource is the Node from `instance`, port dropped.
    let f50 = findings_of(&r, "org-fs-full-50m");
    assert_eq!(f50.len(), 1);
    assert_eq!(f50[0].0, "Node/-/node-a");
    assert!(f50[0].1.contains("mountpoint=\"/\""), "{}", f50[0].1);
    // for: 20m: both node-a mounts breach at every point from T0+40m.
    assert_eq!(findings_of(&r, "org-fs-full-20m").len(), 2);
    // Pods from namespace/pod labels.
    assert_eq!(
        findings_of(&r, "org-restarts"),
        [("Pod/shop/web-1".to_owned(), "web-1 restarted 3 times")]
    );
    // No threshold: every returned sample is a finding; PromQL's filter leaves node-b / (0.5) only.
    let low = findings_of(&r, "org-fs-low");
    assert_eq!(low.len(), 1);
    assert_eq!(low[0].0, "Node/-/node-b");
    // A scalar goes to Metric/<rule id>.
    assert_eq!(
        findings_of(&r, "org-fs-count")[0].0,
        "Metric/-/org-fs-count"
    );

    // Tests: org-fs-full on node-a (failed) and node-b (passed); org-restarts web-1 failed, web-2 passed.
    let checks = |id: &str| r.findings.iter().filter(|f| f.check_id == id).count();
    assert_eq!(checks("org-broken-query"), 0);
    assert_eq!(checks("org-nan"), 0);
    // The broken query and both NaN series are diagnostics, and the run is partial.
    let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("rule \"org-broken-query\": query failed:")),
        "{messages:?}"
    );
    assert_eq!(
        messages
            .iter()
            .filter(|m| m.starts_with("rule \"org-nan\": query returned NaN"))
            .count(),
        2,
        "{messages:?}"
    );
    assert!(errors.iter().all(|e| e.kind == ErrorKind::Runtime));
    assert_eq!(r.run.status, "partial");
    // Passed tests count: node-b for org-fs-full, web-2 for org-restarts, node-b for the for-rules.
    assert_eq!(r.summary.tests.passed, 4, "{:?}", r.summary.tests);
    assert_eq!(
        r.summary.tests.failed, 6,
        "fs-full, fs-full-50m, fs-full-20m, restarts, fs-low, fs-count"
    );
}

#[test]
fn an_unreachable_prometheus_is_a_diagnostic_not_silence() {
    let (_, names) = fixture();
    let (r, errors) = run(&support::dead_url(), &names);
    assert!(r.findings.is_empty());
    assert_eq!(errors.len(), 8, "one per rule: {errors:?}");
    assert!(
        errors
            .iter()
            .all(|e| e.message.contains("query failed") && e.kind == ErrorKind::Runtime)
    );
    assert_eq!(r.run.status, "partial");
}
