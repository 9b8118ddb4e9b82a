//! Data-driven cases of [`super::replicas`]: pod grouping, missing and unready pods both ways, every metric
//! type, and the several-metrics rule.

use std::collections::BTreeMap;

use ksx_core::quantity::Quantity;

use super::combine::combine;
use super::model::{
    ContainerResourceMetricSource, CrossVersionObjectReference, ExternalMetricSource,
    MetricIdentifier, MetricSourceType, MetricSpec, MetricTarget, ObjectMetricSource,
    PodsMetricSource,
};
use super::pod::{
    ConditionStatus, ContainerRequests, PodInfo, PodPhase, PodSample, ReadyCondition,
};
use super::replicas::{CalculatorConfig, MetricData, Proposal, ProposalReason, compute_replicas};
use crate::Error;

const S: i64 = 1_000_000_000;
const NOW: i64 = 1_700_000_000 * S;

fn q(s: &str) -> Quantity {
    s.parse().unwrap()
}

/// A Running pod, ready for an hour, requesting `cpu` and `memory` milli-units in container `c`.
fn pod(name: &str, request: i64) -> PodInfo {
    PodInfo {
        name: name.to_owned(),
        phase: PodPhase::Running,
        deleted: false,
        start_time: Some(NOW - 3600 * S),
        ready: Some(ReadyCondition {
            status: ConditionStatus::True,
            last_transition: NOW - 3500 * S,
        }),
        containers: vec![ContainerRequests {
            name: "c".to_owned(),
            requests: BTreeMap::from([("cpu".to_owned(), request), ("memory".to_owned(), request)]),
        }],
    }
}

fn sample(pod: &str, value: i64) -> PodSample {
    PodSample {
        pod: pod.to_owned(),
        timestamp: NOW - 10 * S,
        window: 30 * S,
        value,
        containers: BTreeMap::from([("c".to_owned(), value)]),
    }
}

fn cpu(pct: i32) -> MetricSpec {
    MetricSpec::resource("cpu", MetricTarget::utilization(pct))
}

fn named(name: &str) -> MetricIdentifier {
    MetricIdentifier {
        name: name.to_owned(),
        selector: None,
    }
}

fn spec(source_type: MetricSourceType) -> MetricSpec {
    MetricSpec {
        source_type,
        resource: None,
        container_resource: None,
        pods: None,
        object: None,
        external: None,
    }
}

struct Case {
    name: &'static str,
    metric: MetricSpec,
    current: i32,
    status: i32,
    pods: Vec<PodInfo>,
    samples: Vec<PodSample>,
    object: Option<i64>,
    external: Vec<i64>,
}

fn base(name: &'static str, metric: MetricSpec) -> Case {
    Case {
        name,
        metric,
        current: 3,
        status: 3,
        pods: vec![pod("p0", 1000), pod("p1", 1000), pod("p2", 1000)],
        samples: Vec::new(),
        object: None,
        external: Vec::new(),
    }
}

fn run(c: &Case) -> crate::Result<Proposal> {
    compute_replicas(
        &c.metric,
        &MetricData {
            now: NOW,
            current_replicas: c.current,
            status_replicas: c.status,
            pods: &c.pods,
            pod_samples: &c.samples,
            object_value: c.object,
            external_values: &c.external,
        },
        &CalculatorConfig::default(),
    )
}

/// Expects (replicas, utilization, raw milli-value, reason).
fn check(c: &Case, want: (i32, Option<i32>, i64, ProposalReason)) {
    let got = run(c).unwrap_or_else(|e| panic!("{}: {e}", c.name));
    assert_eq!(
        (got.replicas, got.utilization, got.raw_value, got.reason),
        want,
        "{}",
        c.name
    );
}

fn check_err(c: &Case, want: &str) {
    match run(c) {
        Err(Error::Metric { message, .. }) => assert_eq!(message, want, "{}", c.name),
        other => panic!("{}: expected an evaluation error, got {other:?}", c.name),
    }
}

fn samples(values: &[(&str, i64)]) -> Vec<PodSample> {
    values.iter().map(|(p, v)| sample(p, *v)).collect()
}

#[test]
fn resource_utilization() {
    use ProposalReason::*;
    let mut c = base("on target", cpu(30));
    c.samples = samples(&[("p0", 300), ("p1", 300), ("p2", 300)]);
    check(&c, (3, Some(30), 300, WithinTolerance));

    c.name = "double";
    c.samples = samples(&[("p0", 600), ("p1", 600), ("p2", 600)]);
    check(&c, (6, Some(60), 600, Scaled));

    let mut c = base(
        "missing pod on scale-down counts as its full request",
        cpu(50),
    );
    c.samples = samples(&[("p0", 0), ("p1", 0)]);
    check(&c, (2, Some(0), 0, ScaledWithFill));

    let mut c = base("missing pod on scale-up counts as 0", cpu(50));
    c.samples = samples(&[("p0", 900), ("p1", 900)]);
    check(&c, (4, Some(90), 900, ScaledWithFill));

    let mut c = base("pending pod on scale-up counts as 0", cpu(50));
    c.pods[2].phase = PodPhase::Pending;
    c.samples = samples(&[("p0", 900), ("p1", 900)]);
    check(&c, (4, Some(90), 900, ScaledWithFill));

    let mut c = base("pending pod on scale-down is left out", cpu(50));
    c.pods[2].phase = PodPhase::Pending;
    c.samples = samples(&[("p0", 100), ("p1", 100)]);
    check(&c, (1, Some(10), 100, Scaled));

    let mut c = base("fill that reverses the direction holds", cpu(50));
    c.samples = samples(&[("p0", 600), ("p1", 600)]);
    // Ratio 1.2; with the missing pod at 0: 1200 / 3000 = 40 % → ratio 0.8: direction reversed.
    check(&c, (3, Some(60), 600, HeldByFill));

    let mut c = base("deleted and failed pods are ignored", cpu(50));
    c.pods[2].deleted = true;
    c.pods.push(PodInfo {
        phase: PodPhase::Failed,
        ..pod("p3", 1000)
    });
    c.samples = samples(&[("p0", 900), ("p1", 900), ("p2", 0), ("p3", 0)]);
    check(&c, (4, Some(90), 900, Scaled));

    let mut c = base(
        "target above 100 % fills missing pods at the target",
        cpu(200),
    );
    c.samples = samples(&[("p0", 100), ("p1", 100)]);
    // ratio 10/200 → fill 2000: (200 + 2000) × 100 / 3000 = 73 → 0.365 → ceil(1.095) = 2.
    check(&c, (2, Some(10), 100, ScaledWithFill));

    let mut c = base(
        "sample of an unknown pod is skipped in sums but counted",
        cpu(50),
    );
    c.samples = samples(&[("p0", 900), ("p1", 900), ("p2", 900), ("zz", 100)]);
    check(&c, (6, Some(90), 900, Scaled));
}

#[test]
fn cpu_readiness() {
    use ProposalReason::*;
    let mut c = base(
        "sample taken before one window after readiness: unready",
        cpu(50),
    );
    c.pods[2].start_time = Some(NOW - 60 * S);
    c.pods[2].ready = Some(ReadyCondition {
        status: ConditionStatus::True,
        last_transition: NOW - 20 * S,
    });
    c.samples = samples(&[("p0", 900), ("p1", 900), ("p2", 900)]);
    check(&c, (4, Some(90), 900, ScaledWithFill));

    c.name = "memory ignores readiness";
    c.metric = MetricSpec::resource("memory", MetricTarget::utilization(50));
    check(&c, (6, Some(90), 900, Scaled));

    let mut c = base(
        "never ready after the initialization period: unready",
        cpu(50),
    );
    c.pods[2].ready = Some(ReadyCondition {
        status: ConditionStatus::False,
        last_transition: NOW - 3590 * S,
    });
    c.samples = samples(&[("p0", 900), ("p1", 900), ("p2", 900)]);
    check(&c, (4, Some(90), 900, ScaledWithFill));

    c.name = "ready once, now not ready, counts as ready";
    c.pods[2].ready = Some(ReadyCondition {
        status: ConditionStatus::False,
        last_transition: NOW - 100 * S,
    });
    check(&c, (6, Some(90), 900, Scaled));

    c.name = "no Ready condition: unready";
    c.pods[2].ready = None;
    check(&c, (4, Some(90), 900, ScaledWithFill));
}

#[test]
fn evaluation_errors() {
    let mut c = base("no metrics", cpu(50));
    check_err(
        &c,
        "unable to get metrics for resource cpu: no metrics returned from resource metrics API",
    );

    c.samples = samples(&[("p0", 1)]);
    c.pods.clear();
    c.name = "no pods";
    check_err(
        &c,
        "no pods returned by selector while calculating replica count",
    );

    let mut c = base("all unready", cpu(50));
    for p in &mut c.pods {
        p.phase = PodPhase::Pending;
    }
    c.samples = samples(&[("p0", 1)]);
    check_err(
        &c,
        "did not receive metrics for targeted pods (pods might be unready)",
    );

    let mut c = base("missing request", cpu(50));
    c.pods[1].containers[0].requests.clear();
    c.samples = samples(&[("p0", 1), ("p1", 1), ("p2", 1)]);
    check_err(&c, "missing request for cpu in container c of Pod p1");

    let mut c = base("metrics only for unknown pods", cpu(50));
    c.samples = samples(&[("x0", 1)]);
    check_err(&c, "no metrics returned matched known pods");

    let mut c = base(
        "container not in the pod",
        spec(MetricSourceType::ContainerResource),
    );
    c.metric.container_resource = Some(ContainerResourceMetricSource {
        name: "cpu".into(),
        container: "nope".into(),
        target: MetricTarget::utilization(50),
    });
    c.samples = vec![PodSample {
        containers: BTreeMap::from([("nope".to_owned(), 5)]),
        ..sample("p0", 5)
    }];
    check_err(&c, "container nope not found in Pod p0");
}

#[test]
fn other_metric_types() {
    use ProposalReason::*;
    let mut c = base(
        "container resource with a sidecar",
        spec(MetricSourceType::ContainerResource),
    );
    c.metric.container_resource = Some(ContainerResourceMetricSource {
        name: "cpu".into(),
        container: "c".into(),
        target: MetricTarget::utilization(50),
    });
    for p in &mut c.pods {
        p.containers[0].requests.insert("cpu".into(), 500);
        p.containers.push(ContainerRequests {
            name: "s".into(),
            requests: BTreeMap::from([("cpu".to_owned(), 500)]),
        });
    }
    c.samples = samples(&[("p0", 400), ("p1", 400), ("p2", 400)]);
    check(&c, (5, Some(80), 400, Scaled));

    let mut c = base(
        "resource average value",
        MetricSpec::resource("memory", MetricTarget::average_value(q("100Mi"))),
    );
    let mi = 1024 * 1024 * 1000;
    c.samples = samples(&[("p0", 200 * mi), ("p1", 200 * mi), ("p2", 200 * mi)]);
    check(&c, (6, None, 200 * mi, Scaled));

    let mut c = base(
        "pods metric, missing pod on scale-down takes the target",
        spec(MetricSourceType::Pods),
    );
    c.metric.pods = Some(PodsMetricSource {
        metric: named("qps"),
        target: MetricTarget::average_value(q("10")),
    });
    c.samples = samples(&[("p0", 2000), ("p1", 2000)]);
    // usage 2 → ratio 0.2; fill the target: (4000 + 10000) / 3 = 4666 → 0.4666 → ceil(1.4) = 2.
    check(&c, (2, None, 2000, ScaledWithFill));

    let mut c = base("object value", spec(MetricSourceType::Object));
    c.metric.object = Some(ObjectMetricSource {
        described_object: CrossVersionObjectReference {
            kind: "Ingress".into(),
            name: "web".into(),
            api_version: None,
        },
        metric: named("rps"),
        target: MetricTarget::value(q("100")),
    });
    c.current = 2;
    c.object = Some(300_000);
    check(&c, (9, None, 300_000, Scaled));
    c.name = "object value from zero needs no pods";
    c.current = 0;
    c.pods.clear();
    check(&c, (3, None, 300_000, ScaleFromZero));

    c.name = "object average value";
    c.current = 3;
    c.status = 3;
    c.metric.object.as_mut().unwrap().target = MetricTarget::average_value(q("50"));
    check(&c, (6, None, 100_000, Scaled));

    let mut c = base(
        "external value sums the series",
        spec(MetricSourceType::External),
    );
    c.metric.external = Some(ExternalMetricSource {
        metric: named("queue"),
        target: MetricTarget::value(q("100")),
    });
    c.external = vec![100_000, 200_000];
    check(&c, (9, None, 300_000, Scaled));
    c.name = "external average value";
    c.status = 4;
    c.metric.external.as_mut().unwrap().target = MetricTarget::average_value(q("50"));
    check(&c, (6, None, 75_000, Scaled));
    c.name = "external average value with status 0 reports the total";
    c.status = 0;
    check(&c, (6, None, 300_000, Scaled));
    c.name = "external without series";
    c.external.clear();
    check_err(
        &c,
        "unable to get external metric queue: no metrics returned from external metrics API",
    );
}

#[test]
fn several_metrics_take_the_largest() {
    let ok = |r| {
        Ok(Proposal {
            replicas: r,
            utilization: None,
            raw_value: 0,
            reason: ProposalReason::Scaled,
        })
    };
    let bad = || {
        Err(Error::Metric {
            condition: "FailedGetPodsMetric".into(),
            message: "boom".into(),
        })
    };
    let got = combine(&[ok(3), ok(7), ok(5)], 4).unwrap();
    assert_eq!((got.replicas, got.metric, got.invalid), (7, 1, 0));
    let got = combine(&[bad(), ok(7)], 4).unwrap();
    assert_eq!(
        (got.replicas, got.invalid),
        (7, 1),
        "some failing while scaling up: scale"
    );
    let err = combine(&[bad(), ok(3)], 4).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid metrics (1 invalid out of 2), first error is: boom"
    );
    let err = combine(&[bad(), bad()], 4).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid metrics (2 invalid out of 2), first error is: boom"
    );
}

#[test]
fn sample_order_does_not_matter_and_a_later_duplicate_wins() {
    use ProposalReason::*;
    // p2 is missing and zz unknown: 1.8 → fill p2 with 0 → 60 % → ceil(1.2 × 4 entries) = 5, as zz counts.
    let mut c = base("reversed samples take the map path", cpu(50));
    c.samples = samples(&[("zz", 100), ("p1", 900), ("p0", 900)]);
    check(&c, (5, Some(90), 900, ScaledWithFill));
    c.name = "sorted samples take the merge path";
    c.samples = samples(&[("p0", 900), ("p1", 900), ("zz", 100)]);
    check(&c, (5, Some(90), 900, ScaledWithFill));
    c.name = "a later duplicate replaces the earlier sample";
    c.samples = samples(&[("p0", 100), ("p1", 900), ("p2", 900), ("p0", 900)]);
    check(&c, (6, Some(90), 900, Scaled));
}

proptest::proptest! {
    /// With every pod ready and sampled and current = pods, more usage never proposes fewer replicas.
    #[test]
    fn more_usage_never_proposes_fewer_replicas(
        usages in proptest::collection::vec(0..5_000i64, 1..30),
        extra in 0..2_000i64,
        target in 1..200i32,
    ) {
        let names: Vec<String> = (0..usages.len()).map(|i| format!("p{i:02}")).collect();
        let mut c = base("monotonic", cpu(target));
        c.pods = names.iter().map(|n| pod(n, 1000)).collect();
        c.current = i32::try_from(usages.len()).unwrap();
        c.samples = names.iter().zip(&usages).map(|(n, u)| sample(n, *u)).collect();
        let low = run(&c).unwrap().replicas;
        c.samples = names.iter().zip(&usages).map(|(n, u)| sample(n, u + extra)).collect();
        let high = run(&c).unwrap().replicas;
        proptest::prop_assert!(high >= low, "{low} → {high}");
    }
}
