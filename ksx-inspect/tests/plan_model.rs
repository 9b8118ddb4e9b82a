//! Plans (spec §3): the document with its defaults, validation naming the field, the scheduling decisions
//! (`suspend`, `startingDeadlineSeconds`, `concurrencyPolicy`), result ids and retention.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions: a failed unwrap is a failed test"
)]

use std::time::Duration;

use jiff::Timestamp;
use ksx_inspect::Severity;
use ksx_inspect::plan::model::parse_duration;
use ksx_inspect::plan::result::{ResultEntry, plan_of_id};
use ksx_inspect::plan::{
    ConcurrencyPolicy, Decision, InspectPlan, PlanError, ResultStatus, SkipReason, decide,
    next_run_time, result_id, retention,
};

const FULL: &str = r"
apiVersion: inspect.ksx.io/v1
kind: InspectPlan
metadata: {name: nightly-prod}
spec:
  schedule: '30 2 * * 1-5'
  timeZone: Asia/Shanghai
  suspend: false
  historyLimit: 10
  failedHistoryLimit: 3
  timeout: 10m
  startingDeadlineSeconds: 300
  concurrencyPolicy: Forbid
  ruleSets: [builtin:default, builtin:pss-restricted, rules/org/]
  checks: {exclude: [rel-priority-class]}
  kubeVersion: '1.33'
  failOn: danger
  targets:
    manifests: [deploy/, charts/rendered.yaml]
    cluster: {namespaces: {include: ['*'], exclude: [kube-system]}}
    nodes: {nodeSelector: {}}
    prometheus: {endpoint: http://prometheus.monitoring:9090}
";

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn minimal(spec_extra: &str) -> String {
    format!(
        "apiVersion: inspect.ksx.io/v1\nkind: InspectPlan\nmetadata: {{name: p}}\nspec:\n  schedule: '0 * * * *'\n{spec_extra}"
    )
}

#[test]
fn the_spec_example_parses() {
    let plan = InspectPlan::from_yaml("nightly.yaml", FULL).unwrap();
    assert_eq!(plan.name(), "nightly-prod");
    assert_eq!(plan.spec.time_zone, "Asia/Shanghai");
    assert_eq!(plan.spec.starting_deadline_seconds, Some(300));
    assert_eq!(plan.spec.concurrency_policy, ConcurrencyPolicy::Forbid);
    assert_eq!(plan.spec.rule_sets.len(), 3);
    assert_eq!(plan.spec.checks.exclude, ["rel-priority-class"]);
    assert_eq!(
        plan.spec.targets.manifests,
        ["deploy/", "charts/rendered.yaml"]
    );
    let cluster = plan.spec.targets.cluster.as_ref().unwrap();
    assert_eq!(cluster.namespaces.exclude, ["kube-system"]);
    assert_eq!(
        plan.spec.targets.prometheus.as_ref().unwrap().endpoint,
        "http://prometheus.monitoring:9090"
    );
    assert_eq!(plan.timeout().unwrap(), Duration::from_secs(600));
}

#[test]
fn defaults_fill_every_optional_field() {
    let plan = InspectPlan::from_yaml("p.yaml", &minimal("")).unwrap();
    let s = &plan.spec;
    assert_eq!(s.time_zone, "UTC");
    assert!(!s.suspend);
    assert_eq!(s.history_limit, 10);
    assert_eq!(s.failed_history_limit, 3);
    assert_eq!(s.timeout, "10m");
    assert_eq!(s.starting_deadline_seconds, None);
    assert_eq!(s.concurrency_policy, ConcurrencyPolicy::Forbid);
    assert_eq!(s.rule_sets, ["builtin:default"]);
    assert_eq!(s.fail_on, Severity::Danger);
    assert!(s.targets.manifests.is_empty());
    assert!(s.targets.cluster.is_none());
}

#[test]
fn validation_names_the_field() {
    let cases: &[(String, &str)] = &[
        (
            minimal("").replace("'0 * * * *'", "'0 0 * * 9'"),
            "spec.schedule",
        ),
        (minimal("  timeZone: Nowhere/City\n"), "spec.timeZone"),
        (minimal("  timeout: 10 minutes\n"), "spec.timeout"),
        (
            minimal("  startingDeadlineSeconds: 0\n"),
            "spec.startingDeadlineSeconds",
        ),
        (minimal("  kubeVersion: banana\n"), "spec.kubeVersion"),
        (
            minimal("  targets: {manifests: ['']}\n"),
            "spec.targets.manifests[0]",
        ),
        (
            minimal("").replace("name: p", "name: Bad_Name"),
            "metadata.name",
        ),
        (
            minimal("").replace("inspect.ksx.io/v1", "inspect.ksx.io/v2"),
            "apiVersion",
        ),
        (
            minimal("").replace("kind: InspectPlan", "kind: Plan"),
            "kind",
        ),
    ];
    for (text, field) in cases {
        match InspectPlan::from_yaml("plans/p.yaml", text) {
            Err(PlanError::InPlan { place, source }) => {
                assert_eq!(place, "plans/p.yaml");
                match *source {
                    PlanError::InvalidField { field: f, .. } => assert_eq!(f, *field, "{text}"),
                    other => panic!("{text}: {other:?}"),
                }
            }
            other => panic!("{text}: expected a field error for {field}, got {other:?}"),
        }
    }
    // Unknown keys and wrong types are parse errors naming file, line and key.
    let err = InspectPlan::from_yaml("plans/p.yaml", &minimal("  sechdule: x\n")).unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("plans/p.yaml"), "{text}");
    assert!(text.contains("sechdule"), "{text}");
    let err = InspectPlan::from_yaml("plans/p.yaml", &minimal("  historyLimit: -1\n")).unwrap_err();
    assert!(err.to_string().contains("historyLimit"), "{err}");
    let err = InspectPlan::from_yaml("plans/p.yaml", &minimal("  concurrencyPolicy: Allow\n"))
        .unwrap_err();
    assert!(err.to_string().contains("concurrencyPolicy"), "{err}");
}

#[test]
fn durations() {
    assert_eq!(parse_duration("t", "90s").unwrap(), Duration::from_secs(90));
    assert_eq!(
        parse_duration("t", "1h30m").unwrap(),
        Duration::from_secs(5400)
    );
    assert_eq!(
        parse_duration("t", "250ms").unwrap(),
        Duration::from_millis(250)
    );
    for bad in ["", "10", "m", "0s", "5d", "1h 30m", "-5s"] {
        assert!(parse_duration("t", bad).is_err(), "{bad:?}");
    }
}

fn plan_with(extra: &str, schedule: &str) -> InspectPlan {
    InspectPlan::from_yaml(
        "p.yaml",
        &minimal(extra).replace("'0 * * * *'", &format!("'{schedule}'")),
    )
    .unwrap()
}

#[test]
fn decisions_run_when_due() {
    let plan = plan_with("", "0 * * * *");
    let s = plan.schedule().unwrap();
    // Last handled 10:00, now 11:00:05: the 11:00 run is due.
    let d = decide(
        &plan.spec,
        &s,
        ts("2026-01-01T10:00:00Z"),
        None,
        ts("2026-01-01T11:00:05Z"),
    );
    assert_eq!(
        d,
        Decision::Run {
            scheduled: ts("2026-01-01T11:00:00Z"),
            replace: None
        }
    );
    // Already handled: wait for 12:00.
    let d = decide(
        &plan.spec,
        &s,
        ts("2026-01-01T11:00:00Z"),
        None,
        ts("2026-01-01T11:30:00Z"),
    );
    assert_eq!(
        d,
        Decision::Wait {
            next: Some(ts("2026-01-01T12:00:00Z"))
        }
    );
    // Several runs missed (10:00 handled, now 14:10): only the latest (14:00) runs, no catching up.
    let d = decide(
        &plan.spec,
        &s,
        ts("2026-01-01T10:00:00Z"),
        None,
        ts("2026-01-01T14:10:00Z"),
    );
    assert_eq!(
        d,
        Decision::Run {
            scheduled: ts("2026-01-01T14:00:00Z"),
            replace: None
        }
    );
    assert_eq!(
        next_run_time(&plan.spec, &s, ts("2026-01-01T14:10:00Z")),
        Some(ts("2026-01-01T15:00:00Z"))
    );
}

#[test]
fn decisions_honour_the_starting_deadline() {
    let plan = plan_with("  startingDeadlineSeconds: 300\n", "0 * * * *");
    let s = plan.schedule().unwrap();
    // 11:05:00 is exactly 300 s late: still runs.
    let d = decide(
        &plan.spec,
        &s,
        ts("2026-01-01T10:00:00Z"),
        None,
        ts("2026-01-01T11:05:00Z"),
    );
    assert!(matches!(d, Decision::Run { .. }), "{d:?}");
    // 11:05:01 is 301 s late: skipped, next at 12:00.
    let d = decide(
        &plan.spec,
        &s,
        ts("2026-01-01T10:00:00Z"),
        None,
        ts("2026-01-01T11:05:01Z"),
    );
    assert_eq!(
        d,
        Decision::Skip {
            scheduled: ts("2026-01-01T11:00:00Z"),
            reason: SkipReason::MissedDeadline {
                late_by_seconds: 301,
                deadline_seconds: 300
            },
            next: Some(ts("2026-01-01T12:00:00Z")),
        }
    );
}

#[test]
fn decisions_follow_the_concurrency_policy() {
    let forbid = plan_with("", "0 * * * *");
    let s = forbid.schedule().unwrap();
    let running = Some("p-20260101T100000Z");
    let d = decide(
        &forbid.spec,
        &s,
        ts("2026-01-01T10:00:00Z"),
        running,
        ts("2026-01-01T11:00:00Z"),
    );
    assert_eq!(
        d,
        Decision::Skip {
            scheduled: ts("2026-01-01T11:00:00Z"),
            reason: SkipReason::ConcurrencyForbid {
                running: "p-20260101T100000Z".to_owned()
            },
            next: Some(ts("2026-01-01T12:00:00Z")),
        }
    );
    assert!(d.to_string().contains("still running"), "{d}");
    let replace = plan_with("  concurrencyPolicy: Replace\n", "0 * * * *");
    let d = decide(
        &replace.spec,
        &s,
        ts("2026-01-01T10:00:00Z"),
        running,
        ts("2026-01-01T11:00:00Z"),
    );
    assert_eq!(
        d,
        Decision::Run {
            scheduled: ts("2026-01-01T11:00:00Z"),
            replace: Some("p-20260101T100000Z".to_owned())
        }
    );
}

#[test]
fn suspended_plans_never_schedule() {
    let plan = plan_with("  suspend: true\n", "0 * * * *");
    let s = plan.schedule().unwrap();
    let d = decide(
        &plan.spec,
        &s,
        ts("2026-01-01T10:00:00Z"),
        None,
        ts("2026-01-01T11:00:00Z"),
    );
    assert_eq!(d, Decision::Suspended);
    assert_eq!(
        next_run_time(&plan.spec, &s, ts("2026-01-01T11:00:00Z")),
        None
    );
}

#[test]
fn result_ids() {
    let id = result_id("nightly-prod", ts("2026-03-29T01:02:03.9Z"));
    assert_eq!(id, "nightly-prod-20260329T010203Z");
    assert_eq!(plan_of_id(&id), Some("nightly-prod"));
    for bad in [
        "nightly",
        "-20260329T010203Z",
        "x-20260329X010203Z",
        "x-2026032T0102030Z",
        "X-20260329T010203Z",
        "../a-20260329T010203Z",
    ] {
        assert_eq!(plan_of_id(bad), None, "{bad}");
    }
    assert_eq!(ResultStatus::of_run(3, 0, false), ResultStatus::Succeeded);
    assert_eq!(ResultStatus::of_run(3, 1, false), ResultStatus::Partial);
    assert_eq!(ResultStatus::of_run(0, 1, false), ResultStatus::Failed);
    assert_eq!(ResultStatus::of_run(3, 0, true), ResultStatus::TimedOut);
    assert_eq!(
        serde_json::to_string(&ResultStatus::TimedOut).unwrap(),
        "\"timedOut\""
    );
}

fn entry(hour: u32, status: ResultStatus) -> ResultEntry {
    ResultEntry {
        id: format!("p-20260101T{hour:02}0000Z"),
        plan: "p".to_owned(),
        status,
        started_at: format!("2026-01-01T{hour:02}:00:00Z"),
        score: 100,
        danger: 0,
        warning: 0,
        info: 0,
    }
}

#[test]
fn retention_deletes_the_oldest_beyond_each_limit() {
    use ResultStatus::{Failed, Partial, Succeeded, TimedOut};
    // Given out of order on purpose.
    let entries = vec![
        entry(5, Succeeded),
        entry(1, Failed),
        entry(3, Partial),
        entry(0, Succeeded),
        entry(4, TimedOut),
        entry(2, Succeeded),
        entry(6, Failed),
    ];
    // Successes 0, 2, 3, 5 keep 2 → delete 0, 2. Failures 1, 4, 6 keep 1 → delete 1, 4.
    assert_eq!(
        retention(&entries, 2, 1),
        [
            "p-20260101T000000Z",
            "p-20260101T010000Z",
            "p-20260101T020000Z",
            "p-20260101T040000Z"
        ]
    );
    // 0 = unlimited for that class only.
    assert_eq!(retention(&entries, 0, 2), ["p-20260101T010000Z"]);
    assert!(retention(&entries, 0, 0).is_empty());
    assert!(retention(&entries, 4, 3).is_empty());
}
