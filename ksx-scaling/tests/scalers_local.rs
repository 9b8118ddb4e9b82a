//! Scalers without a network source: `cpu`/`memory` through the in-memory `MetricsSource`, and `cron` built from
//! a trigger and polled at chosen engine times.
#![cfg(feature = "scalers")]

mod scalers_support;

use std::sync::Arc;

use jiff::Timestamp;
use ksx_core::InMemoryMetrics;
use ksx_core::metrics::ContainerUsage;
use ksx_scaling::event::model::MetricTypeName;
use ksx_scaling::event::scaler::MetricType;
use ksx_scaling::event::scalers::resource::ResourceRequests;
use ksx_scaling::event::scalers::{ScalerContext, build};
use scalers_support::{TIMEOUT, build_error, trigger};

fn nanos(s: &str) -> i64 {
    i64::try_from(s.parse::<Timestamp>().expect("timestamp").as_nanosecond()).expect("fits")
}

fn context() -> ScalerContext {
    let metrics = InMemoryMetrics::default();
    let at: Timestamp = "2026-11-29T12:00:00Z".parse().expect("timestamp");
    for (pod, cpu, mem) in [("web-0", 0.2, 100.0), ("web-1", 0.6, 300.0)] {
        metrics.set_pod_labels("shop", pod, [("app", "web")]);
        let containers = [
            ContainerUsage {
                name: "app".into(),
                cpu_cores: cpu,
                memory_bytes: mem * 1024.0 * 1024.0,
            },
            ContainerUsage {
                name: "sidecar".into(),
                cpu_cores: 0.1,
                memory_bytes: 20.0 * 1024.0 * 1024.0,
            },
        ];
        // Two scrapes so the CPU window has samples.
        metrics.record_pod_usage(
            "shop",
            pod,
            at - jiff::SignedDuration::from_secs(30),
            &containers,
        );
        metrics.record_pod_usage("shop", pod, at, &containers);
    }
    ScalerContext {
        metrics: Some(Arc::new(metrics)),
        namespace: "shop".into(),
        pod_selector: "app=web".into(),
        pod_requests: Some(ResourceRequests {
            cpu_cores: Some(0.5),
            memory_bytes: None,
        }),
        ..ScalerContext::default()
    }
}

#[tokio::test]
async fn cpu_and_memory_through_the_metrics_seam() {
    let ctx = context();
    let mut t = trigger("cpu", &[("value", "60")]);
    t.metric_type = Some(MetricTypeName::Utilization);
    let s = build(0, &t, &ctx).expect("cpu trigger");
    assert_eq!(s.metric_spec().metric_name, "cpu");
    assert_eq!(s.metric_spec().metric_type, MetricType::Utilization);
    let r = s.poll(0, TIMEOUT).await.expect("poll");
    // Pods use 0.3 and 0.7 cores (app + sidecar): average 0.5 of a 0.5 request = 100 %. Always active.
    assert!((r.value - 100.0).abs() < 1e-9 && r.active, "{r:?}");

    let t = trigger("memory", &[("value", "256Mi"), ("containerName", "app")]);
    let s = build(1, &t, &ctx).expect("memory trigger");
    assert_eq!(s.metric_spec().metric_type, MetricType::AverageValue);
    assert!((s.metric_spec().target - 256.0 * 1024.0 * 1024.0).abs() < 1.0);
    let r = s.poll(0, TIMEOUT).await.expect("poll");
    // The app containers: 100Mi and 300Mi, average 200Mi.
    assert!(
        (r.value - 200.0 * 1024.0 * 1024.0).abs() < 1.0 && r.active,
        "{r:?}"
    );

    // Utilization of memory needs a memory request, which the context lacks.
    let mut t = trigger("memory", &[("value", "80")]);
    t.metric_type = Some(MetricTypeName::Utilization);
    let e = build(2, &t, &ctx).err().expect("error").to_string();
    assert_eq!(
        e,
        "triggers[2] (memory): Utilization needs the pods' memory requests"
    );
    let e = build(
        0,
        &trigger("cpu", &[("type", "Utilization"), ("value", "50")]),
        &ctx,
    )
    .err()
    .expect("error")
    .to_string();
    assert!(e.contains("removed in KEDA 2.18"), "{e}");
    assert!(build_error("cpu", &[("value", "50")]).contains("no metrics source"));

    // No pod matches: an error naming the selector.
    let mut other = ctx.clone();
    other.pod_selector = "app=none".into();
    let s = build(0, &trigger("cpu", &[("value", "500m")]), &other).expect("cpu trigger");
    let e = s.poll(0, TIMEOUT).await.expect_err("error").to_string();
    assert_eq!(
        e,
        "cpu of pods \"app=none\" in namespace \"shop\": no usage for any pod"
    );
}

#[tokio::test]
async fn cron_window_from_a_trigger() {
    let t = trigger(
        "cron",
        &[
            ("timezone", "Europe/Berlin"),
            ("start", "0 8 * * 1-5"),
            ("end", "30 18 * * 1-5"),
            ("desiredReplicas", "4"),
        ],
    );
    let s = build(1, &t, &ScalerContext::default()).expect("cron trigger");
    assert_eq!(
        s.metric_spec().metric_name,
        "s1-cron-Europe-Berlin-08xx1-5-3018xx1-5"
    );
    assert!((s.metric_spec().target - 1.0).abs() < f64::EPSILON);
    // Monday 2026-11-30, 09:00 Berlin (08:00Z): inside, 4 replicas.
    let r = s
        .poll(nanos("2026-11-30T08:00:00Z"), TIMEOUT)
        .await
        .expect("poll");
    assert!((r.value - 4.0).abs() < f64::EPSILON && r.active, "{r:?}");
    // 19:00 Berlin: outside, 0.
    let r = s
        .poll(nanos("2026-11-30T18:00:00Z"), TIMEOUT)
        .await
        .expect("poll");
    assert!(r.value.abs() < f64::EPSILON && !r.active, "{r:?}");
    // Sunday 2026-11-29 noon: outside (weekdays only).
    let r = s
        .poll(nanos("2026-11-29T11:00:00Z"), TIMEOUT)
        .await
        .expect("poll");
    assert!(!r.active, "{r:?}");

    assert_eq!(
        build_error(
            "cron",
            &[
                ("start", "0 8 * * *"),
                ("end", "0 9 * * *"),
                ("desiredReplicas", "1")
            ]
        ),
        "triggers[0] (cron): metadata.timezone is required"
    );
    assert!(
        build_error(
            "cron",
            &[
                ("timezone", "Mars/Olympus"),
                ("start", "0 8 * * *"),
                ("end", "0 9 * * *"),
                ("desiredReplicas", "1")
            ]
        )
        .contains("not a known IANA time zone")
    );
    assert!(
        build_error(
            "cron",
            &[
                ("timezone", "UTC"),
                ("start", "0 8 * * *"),
                ("end", "0 8 * * *"),
                ("desiredReplicas", "1")
            ]
        )
        .contains("must differ")
    );
    assert!(
        build_error(
            "cron",
            &[
                ("timezone", "UTC"),
                ("start", "0 8 * *"),
                ("end", "0 9 * * *"),
                ("desiredReplicas", "1")
            ]
        )
        .starts_with("triggers[0] (cron): metadata.start \"0 8 * *\": expected 5 fields")
    );
    assert!(
        build_error(
            "cron",
            &[
                ("timezone", "UTC"),
                ("start", "0 8 * * *"),
                ("end", "0 9 * * *"),
                ("desiredReplicas", "0")
            ]
        )
        .contains("desiredReplicas")
    );
}
