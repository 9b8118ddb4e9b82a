//! VPA history bootstrap: the synthetic three-day history of `support/vpa_prometheus.rs` read through
//! `MetricsSource` (in memory, and from a real Prometheus backfilled by promtool with feature `prometheus`),
//! aggregated per workload and recommended; the answers are computed by hand below.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions: a failed unwrap is a failed test"
)]

#[path = "support/vpa_prometheus.rs"]
mod support;

use std::collections::BTreeMap;

use ksx_core::cluster::selector::LabelSelector;
use ksx_core::metrics::MetricsSource;
use ksx_core::metrics::memory::InMemoryMetrics;
use ksx_scaling::vpa::aggregate::AggregateContainerState;
use ksx_scaling::vpa::config::RecommenderConfig;
use ksx_scaling::vpa::estimate::recommend;
use ksx_scaling::vpa::history::{
    ContainerId, HistoryConfig, WorkloadContainer, load_history, load_pod_labels,
};
use serde_json::json;

use self::support::{NOW, WEB_PODS};

fn workload(ns: &str, w: &str, c: &str) -> WorkloadContainer {
    WorkloadContainer {
        namespace: ns.into(),
        workload: w.into(),
        container: c.into(),
    }
}

fn recommend_one(state: &AggregateContainerState, name: &str) -> serde_json::Value {
    let cfg = RecommenderConfig::default();
    let rec = recommend(&cfg, &[(name, state)], NOW);
    assert_eq!(rec.len(), 1);
    serde_json::to_value(&rec[0]).unwrap()
}

/// The hand-computed recommendations of the fixture, with the default recommender configuration.
///
/// CPU: every rate sample is 0.25 cores (a counter growing 0.25/s, `rate(…[1h])`), i.e. 249 or 250 millicores
/// after truncation. Either lies in bucket 16 = floor(log_1.05(0.25 × 0.05/0.01 + 1)) = floor(16.62), so every
/// percentile is the start of bucket 17: 0.01 × (1.05^17 − 1)/0.05 = 0.25840 cores → 258m; plus the 15 % margin
/// trunc(258 × 0.15) = 38 → target 296m.
/// Memory: 500 MB is in bucket 25 = floor(log_1.05(500e6 × 0.05/1e7 + 1)) = floor(25.68); bucket 26 starts at
/// 1e7 × (1.05^26 − 1)/0.05 = 511134537.6 → 511134537 + trunc(× 0.15) 76670180 = 587804717 bytes.
/// Confidence: each pod has 72 CPU samples (the 1 h rate exists from T0 + 1 h to T0 + 72 h; at T0 the window holds
/// one scrape) and the two pods merge: min((72 h − 1 h)/24 h, 144/1440) = 0.1. Lower bound × (1 + 0.001/0.1)^−2 =
/// 0.98030: 296 → 290m, 587804717 → 576222641. Upper bound × (1 + 1/0.1) = 11: 3256m, 6465851887.
/// One container per workload: the minimum share (25m, 250 MiB = 262144000) does not bind.
fn expected_web() -> serde_json::Value {
    json!({
        "containerName": "app",
        "target": {"cpu": "296m", "memory": "587804717"},
        "lowerBound": {"cpu": "290m", "memory": "576222641"},
        "upperBound": {"cpu": "3256m", "memory": "6465851887"},
        "uncappedTarget": {"cpu": "296m", "memory": "587804717"},
    })
}

/// db-0/postgres: 0.5 cores is in bucket 25 (floor(log_1.05(3.5)) = 25), bucket 26 starts at 0.51113 → 511m +
/// 76 = 587m. 2 GB is in bucket 49 (floor(log_1.05(11)) = 49), bucket 50 starts at 2093479957.2 → 2093479957 +
/// 314021993 = 2407501950. One pod: confidence min(71/24, 72/1440) = 0.05; lower × 1.02^−2 = 0.96117 → 564m,
/// 2314015715; upper × 21 → 12327m, 50557540950.
fn expected_db() -> serde_json::Value {
    json!({
        "containerName": "postgres",
        "target": {"cpu": "587m", "memory": "2407501950"},
        "lowerBound": {"cpu": "564m", "memory": "2314015715"},
        "upperBound": {"cpu": "12327m", "memory": "50557540950"},
        "uncappedTarget": {"cpu": "587m", "memory": "2407501950"},
    })
}

/// The same checks on any source holding the fixture.
async fn check_history(source: &dyn MetricsSource) {
    let cfg = HistoryConfig::default();
    let history = load_history(source, &cfg, NOW).await.unwrap();
    let ids: Vec<String> = history
        .containers
        .keys()
        .map(|id| format!("{}/{}/{}", id.namespace, id.pod, id.container))
        .collect();
    // The sandbox (`POD`) and pod-level (`""`) series of db-0 are skipped.
    assert_eq!(
        ids,
        vec![
            "other/lonely/c".to_owned(),
            "shop/db-0/postgres".to_owned(),
            format!("shop/{}/app", WEB_PODS[1]),
            format!("shop/{}/app", WEB_PODS[0]),
        ]
    );
    let web0 = &history.containers[&ContainerId {
        namespace: "shop".into(),
        pod: WEB_PODS[0].into(),
        container: "app".into(),
    }];
    assert_eq!(web0.cpu.len(), 72);
    assert_eq!(web0.memory.len(), 73);
    assert!(
        web0.cpu.iter().all(|&(_, m)| m == 249 || m == 250),
        "{:?}",
        web0.cpu
    );
    assert!(web0.memory.iter().all(|&(_, b)| b == 500_000_000));
    assert!(web0.cpu.windows(2).all(|w| w[0].0 < w[1].0));

    let rcfg = RecommenderConfig::default();
    let aggregates = history.aggregate_by_workload(&rcfg);
    let keys: Vec<_> = aggregates.keys().cloned().collect();
    assert_eq!(
        keys,
        vec![
            workload("other", "lonely", "c"),
            workload("shop", "db", "postgres"),
            workload("shop", "web", "app"),
        ]
    );
    let web = &aggregates[&workload("shop", "web", "app")];
    assert_eq!(web.total_samples_count(), 144);
    assert_eq!(recommend_one(web, "app"), expected_web());
    assert_eq!(
        recommend_one(&aggregates[&workload("shop", "db", "postgres")], "postgres"),
        expected_db()
    );

    // A namespace and a job narrow the read.
    let only_other = HistoryConfig {
        namespace: Some("other".into()),
        ..HistoryConfig::default()
    };
    let h = load_history(source, &only_other, NOW).await.unwrap();
    assert_eq!(h.containers.len(), 1);
    let no_job = HistoryConfig {
        cadvisor_job: Some("another-job".into()),
        ..HistoryConfig::default()
    };
    assert!(
        load_history(source, &no_job, NOW)
            .await
            .unwrap()
            .containers
            .is_empty()
    );

    // Merging per VPA through a label selector over kube-state-metrics' pod labels: both web pods, as the
    // workload grouping did, so the same recommendation.
    let pod_labels = load_pod_labels(source, &cfg, NOW).await.unwrap();
    let app = |v: &str| -> BTreeMap<String, String> {
        [("app".to_owned(), v.to_owned())].into_iter().collect()
    };
    assert_eq!(
        pod_labels,
        [
            (("shop".to_owned(), "db-0".to_owned()), app("db")),
            (("shop".to_owned(), WEB_PODS[1].to_owned()), app("web")),
            (("shop".to_owned(), WEB_PODS[0].to_owned()), app("web")),
        ]
        .into_iter()
        .collect()
    );
    let selector = LabelSelector::parse("app=web").unwrap();
    let per_vpa = history.aggregate_by_selector(&rcfg, "shop", &selector, &pod_labels);
    assert_eq!(per_vpa.keys().collect::<Vec<_>>(), vec!["app"]);
    assert_eq!(recommend_one(&per_vpa["app"], "app"), expected_web());
    // Only the pods whose labels are known and match count: one pod of the two has half the samples.
    let mut one_pod = pod_labels.clone();
    one_pod.remove(&("shop".to_owned(), WEB_PODS[1].to_owned()));
    let per_vpa = history.aggregate_by_selector(&rcfg, "shop", &selector, &one_pod);
    assert_eq!(per_vpa["app"].total_samples_count(), 72);
    let none = history.aggregate_by_selector(&rcfg, "other", &selector, &pod_labels);
    assert!(none.is_empty());
}

#[tokio::test]
async fn in_memory_history_recommends_the_hand_values() {
    let metrics = InMemoryMetrics::default();
    support::fixture().load_into(&metrics);
    check_history(&metrics).await;
}

/// The report's inputs and decisions on the in-memory source (the `ksx vpa report` end-to-end test checks the same
/// figures through the binary and a real Prometheus).
#[tokio::test]
async fn in_memory_report_has_the_hand_values() {
    use ksx_scaling::vpa::report::{self, ReportConfig, Strategy};

    let metrics = InMemoryMetrics::default();
    support::fixture().load_into(&metrics);
    let cfg = ReportConfig::default();
    let inputs = report::gather(&metrics, &cfg, NOW).await.unwrap();
    assert_eq!(inputs.live.len(), 3);
    assert_eq!(inputs.oom_killed.len(), 1);
    let r = report::compute(
        &inputs,
        Strategy::Vpa,
        &RecommenderConfig::default(),
        &cfg.history,
        NOW,
    )
    .unwrap();
    assert_eq!(r.generated_at, "2025-01-04T00:00:00Z");
    let rows: Vec<_> = r
        .containers
        .iter()
        .map(|c| {
            let t = c.recommendation.as_ref().unwrap().target;
            (
                c.workload.as_str(),
                c.pods,
                t.cpu_millicores,
                t.memory_bytes,
                c.savings.memory_bytes,
                c.oom_risk,
                c.throttling_risk,
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("lonely", 0, Some(126), Some(262_144_000), 0, false, false),
            (
                "db",
                1,
                Some(587),
                Some(2_407_501_950),
                -1_407_501_950,
                true,
                true
            ),
            (
                "web",
                2,
                Some(296),
                Some(587_804_717),
                971_874_214,
                false,
                false
            ),
        ]
    );
    assert!(
        (r.totals.savings.cpu_cores - 1.071).abs() < 1e-9,
        "{:?}",
        r.totals
    );
    let table = report::table_rows(&r);
    assert_eq!(table[2][5], "296m");
    assert_eq!(table[1][10], "OOMKilled, throttled 50%");
}

#[tokio::test]
async fn zero_steps_are_refused() {
    let metrics = InMemoryMetrics::default();
    let cfg = HistoryConfig {
        step: std::time::Duration::ZERO,
        ..HistoryConfig::default()
    };
    let e = load_history(&metrics, &cfg, NOW)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("history.step"), "{e}");
}

#[cfg(feature = "prometheus")]
mod prometheus {
    use ksx_core::metrics::prometheus::PrometheusMetrics;

    use super::*;

    #[tokio::test]
    async fn prometheus_history_recommends_the_hand_values() {
        let server = support::serve(&support::fixture());
        let prom = PrometheusMetrics::new(&server.url).unwrap();
        check_history(&prom).await;
        drop(server);
    }

    #[tokio::test]
    async fn an_unreachable_prometheus_is_named() {
        let url = support::dead_url();
        let prom = PrometheusMetrics::new(&url).unwrap();
        let e = load_history(&prom, &HistoryConfig::default(), NOW)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains(&url), "{e}");
    }
}
