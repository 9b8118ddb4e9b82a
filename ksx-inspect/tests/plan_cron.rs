//! The cron adapter of plans (spec §3): translation to the `cron` crate's form, field errors, fire times in
//! UTC and across the 2026 DST changes of Europe/Berlin and America/New_York. Every expected value is derived by
//! hand from the calendar (2026-01-01 is a Thursday; Berlin jumps 02:00 CET → 03:00 CEST on 2026-03-29 = 01:00Z
//! and falls back 03:00 CEST → 02:00 CET on 2026-10-25 = 01:00Z; New York jumps 02:00 EST → 03:00 EDT on
//! 2026-03-08 = 07:00Z and falls back 02:00 EDT → 01:00 EST on 2026-11-01 = 06:00Z).
#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions: a failed unwrap is a failed test"
)]

use jiff::Timestamp;
use ksx_inspect::plan::{CronExpr, PlanError, Schedule};
use proptest::prelude::*;

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn sched(expr: &str, tz: &str) -> Schedule {
    Schedule::new(expr, Some(tz)).unwrap()
}

#[test]
fn translations_remap_days_and_prepend_seconds() {
    let cases: &[(&str, &[&str])] = &[
        ("30 2 * * 1-5", &["0 30 2 * * 2-6"]),
        ("0 0 * * 0", &["0 0 0 * * 1"]),
        ("0 0 * * 7", &["0 0 0 * * 1"]),
        // FRI-MON = 5,6,0,1 → 6,7,1,2.
        ("0 0 * * FRI-MON", &["0 0 0 * * 1-2,6-7"]),
        ("0 0 * * fri-mon", &["0 0 0 * * 1-2,6-7"]),
        // 5-7 = Fri, Sat, Sun(7) → 6, 7, 1.
        ("0 0 * * 5-7", &["0 0 0 * * 1,6-7"]),
        ("0 0 * * SAT,SUN", &["0 0 0 * * 1,7"]),
        ("0 0 * * 6-1", &["0 0 0 * * 1-2,7"]),
        // */2 over 0..7: 0, 2, 4, 6 → 1, 3, 5, 7.
        ("0 0 * * */2", &["0 0 0 * * 1,3,5,7"]),
        ("*/15 * * * *", &["0 0,15,30,45 * * * *"]),
        ("0 0 ? * MON", &["0 0 0 * * 2"]),
        ("0 12 1 JAN,jul *", &["0 0 12 1 1,7 *"]),
        ("10-20/5 8 * * *", &["0 10,15,20 8 * * *"]),
        ("@weekly", &["0 0 0 * * 1"]),
        ("@hourly", &["0 0 * * * *"]),
        ("@daily", &["0 0 0 * * *"]),
        ("@midnight", &["0 0 0 * * *"]),
        ("@monthly", &["0 0 0 1 * *"]),
        ("@yearly", &["0 0 0 1 1 *"]),
        ("@annually", &["0 0 0 1 1 *"]),
        // 6 fields: seconds first already.
        ("15 30 2 * * *", &["15 30 2 * * *"]),
        // Both day fields restricted: either matches, two schedules.
        ("5 4 1,15 * 1", &["0 5 4 1,15 * *", "0 5 4 * * 2"]),
    ];
    for (input, want) in cases {
        let expr = CronExpr::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(expr.translated(), *want, "{input:?}");
        assert_eq!(expr.source(), *input);
    }
}

#[test]
fn bad_schedules_name_the_field() {
    let cases: &[(&str, &str)] = &[
        ("* * * *", "has 4 fields"),
        ("", "has 0 fields"),
        ("0 0 0 * * * *", "has 7 fields"),
        ("60 * * * *", "minute field: value 60 is out of range 0-59"),
        ("0 24 * * *", "hour field: value 24 is out of range 0-23"),
        (
            "0 0 0 * *",
            "day-of-month field: value 0 is out of range 1-31",
        ),
        ("0 0 * 13 *", "month field: value 13 is out of range 1-12"),
        (
            "0 0 * * 8",
            "day-of-week field: value 8 is out of range 0-7",
        ),
        (
            "0 0 * * FOO",
            "day-of-week field: \"FOO\" is not a number or name",
        ),
        (
            "0 0 * JAN-MON *",
            "month field: \"MON\" is not a number or name",
        ),
        (
            "0 0 5-1 * *",
            "day-of-month field: range \"5-1\" runs backwards",
        ),
        ("*/0 * * * *", "minute field: step \"0\""),
        (
            "0 0 1,,2 * *",
            "day-of-month field: \"\" is not a number or name",
        ),
        ("@every 5m", "unknown macro"),
        (
            "60 0 0 * * *",
            "second field: value 60 is out of range 0-59",
        ),
    ];
    for (input, want) in cases {
        match CronExpr::parse(input) {
            Err(PlanError::InvalidField { field, reason }) => {
                assert_eq!(field, "spec.schedule", "{input:?}");
                assert!(
                    reason.contains(want),
                    "{input:?}: {reason:?} lacks {want:?}"
                );
            }
            other => panic!("{input:?}: expected a field error, got {other:?}"),
        }
    }
    match Schedule::new("0 0 * * *", Some("Mars/Olympus")) {
        Err(PlanError::InvalidField { field, reason }) => {
            assert_eq!(field, "spec.timeZone");
            assert!(reason.contains("Mars/Olympus"), "{reason}");
        }
        other => panic!("expected a time zone error, got {other:?}"),
    }
}

#[test]
fn next_fire_in_utc() {
    let cases: &[(&str, &str, &str)] = &[
        // Friday 03:00 → Monday 02:30.
        (
            "30 2 * * 1-5",
            "2026-01-02T03:00:00Z",
            "2026-01-05T02:30:00Z",
        ),
        // Friday 02:00 → the same day 02:30.
        (
            "30 2 * * 1-5",
            "2026-01-02T02:00:00Z",
            "2026-01-02T02:30:00Z",
        ),
        // Thursday → Sunday midnight.
        ("@weekly", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z"),
        ("0 0 * * 7", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z"),
        ("0 0 * * 0", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z"),
        // Tuesday → Friday; exactly at a fire time → the next one (Saturday).
        (
            "0 9 * * FRI-MON",
            "2026-01-06T00:00:00Z",
            "2026-01-09T09:00:00Z",
        ),
        (
            "0 9 * * FRI-MON",
            "2026-01-09T09:00:00Z",
            "2026-01-10T09:00:00Z",
        ),
        // Monday 09:00 → Friday (Tuesday to Thursday are outside FRI-MON).
        (
            "0 9 * * FRI-MON",
            "2026-01-12T09:00:00Z",
            "2026-01-16T09:00:00Z",
        ),
        // 13th or Monday: Tuesday 10 Feb → Friday 13th; then Monday 16th (AND would give 2026-04-13).
        ("0 0 13 * 1", "2026-02-10T00:00:00Z", "2026-02-13T00:00:00Z"),
        ("0 0 13 * 1", "2026-02-13T00:00:00Z", "2026-02-16T00:00:00Z"),
        ("@hourly", "2026-01-01T10:59:59Z", "2026-01-01T11:00:00Z"),
        ("@yearly", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
        (
            "15 30 2 * * *",
            "2026-01-01T02:30:00Z",
            "2026-01-01T02:30:15Z",
        ),
    ];
    for (expr, now, want) in cases {
        let got = sched(expr, "UTC").next_after(ts(now));
        assert_eq!(got, Some(ts(want)), "{expr:?} after {now}");
    }
}

#[test]
fn default_zone_is_utc_and_shanghai_shifts_by_eight_hours() {
    let utc = Schedule::new("30 2 * * *", None).unwrap();
    assert_eq!(utc.time_zone(), "UTC");
    let sh = sched("30 2 * * 1-5", "Asia/Shanghai");
    // Friday 00:00Z = 08:00 local; next Monday 02:30 local = Sunday 18:30Z.
    assert_eq!(
        sh.next_after(ts("2026-01-02T00:00:00Z")),
        Some(ts("2026-01-04T18:30:00Z"))
    );
}

#[test]
fn berlin_spring_gap_fires_at_the_jump() {
    // 02:30 does not exist on 2026-03-29: the run fires at 03:00 CEST = 01:00Z, then normally.
    let s = sched("30 2 * * *", "Europe/Berlin");
    assert_eq!(
        s.next_after(ts("2026-03-28T12:00:00Z")),
        Some(ts("2026-03-29T01:00:00Z"))
    );
    assert_eq!(
        s.next_after(ts("2026-03-29T01:00:00Z")),
        Some(ts("2026-03-30T00:30:00Z"))
    );
    // Every 15 minutes of the missing hour: one run at the jump, the next on the following night at 02:00 CEST.
    let q = sched("*/15 2 * * *", "Europe/Berlin");
    assert_eq!(
        q.next_after(ts("2026-03-29T00:50:00Z")),
        Some(ts("2026-03-29T01:00:00Z"))
    );
    assert_eq!(
        q.next_after(ts("2026-03-29T01:00:00Z")),
        Some(ts("2026-03-30T00:00:00Z"))
    );
}

#[test]
fn berlin_autumn_fold_fires_once() {
    // 02:30 happens twice on 2026-10-25: it fires at the first (CEST, 00:30Z), not at 01:30Z.
    let s = sched("30 2 * * *", "Europe/Berlin");
    assert_eq!(
        s.next_after(ts("2026-10-24T12:00:00Z")),
        Some(ts("2026-10-25T00:30:00Z"))
    );
    assert_eq!(
        s.next_after(ts("2026-10-25T00:30:00Z")),
        Some(ts("2026-10-26T01:30:00Z"))
    );
    // Hourly: 02:00 CEST (00:00Z) fires, the repeated 02:00 CET (01:00Z) does not, 03:00 CET (02:00Z) does.
    let h = sched("0 * * * *", "Europe/Berlin");
    assert_eq!(
        h.next_after(ts("2026-10-25T00:00:00Z")),
        Some(ts("2026-10-25T02:00:00Z"))
    );
    // The last fire at or before 01:45Z (02:45 CET, second pass) is the first 02:30 (00:30Z).
    assert_eq!(
        s.last_at_or_before(ts("2026-10-25T01:45:00Z")),
        Some(ts("2026-10-25T00:30:00Z"))
    );
}

#[test]
fn new_york_gap_and_fold() {
    let gap = sched("30 2 * * *", "America/New_York");
    // 02:30 does not exist on 2026-03-08: 03:00 EDT = 07:00Z.
    assert_eq!(
        gap.next_after(ts("2026-03-07T12:00:00Z")),
        Some(ts("2026-03-08T07:00:00Z"))
    );
    let fold = sched("30 1 * * *", "America/New_York");
    // 01:30 happens twice on 2026-11-01: the EDT one (05:30Z) only; the next is 01:30 EST on 2 Nov (06:30Z).
    assert_eq!(
        fold.next_after(ts("2026-10-31T12:00:00Z")),
        Some(ts("2026-11-01T05:30:00Z"))
    );
    assert_eq!(
        fold.next_after(ts("2026-11-01T05:30:00Z")),
        Some(ts("2026-11-02T06:30:00Z"))
    );
}

#[test]
fn last_fire_at_or_before() {
    let s = sched("30 2 * * 1-5", "UTC");
    assert_eq!(
        s.last_at_or_before(ts("2026-01-05T02:30:00Z")),
        Some(ts("2026-01-05T02:30:00Z"))
    );
    // Monday 02:29:59 → Friday 02:30.
    assert_eq!(
        s.last_at_or_before(ts("2026-01-05T02:29:59Z")),
        Some(ts("2026-01-02T02:30:00Z"))
    );
}

#[test]
fn impossible_dates_never_fire() {
    let s = sched("0 0 30 2 *", "UTC");
    assert_eq!(s.next_after(ts("2026-01-01T00:00:00Z")), None);
}

fn field(range: (u32, u32)) -> impl Strategy<Value = String> {
    let (lo, hi) = range;
    prop_oneof![
        Just("*".to_owned()),
        (lo..=hi).prop_map(|v| v.to_string()),
        (lo..=hi, lo..=hi).prop_map(|(a, b)| format!("{}-{}", a.min(b), a.max(b))),
        (1..=hi.max(1)).prop_map(|n| format!("*/{n}")),
        proptest::collection::vec(lo..=hi, 1..4).prop_map(|v| v
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",")),
    ]
}

fn valid_expr() -> impl Strategy<Value = String> {
    (
        field((0, 59)),
        field((0, 23)),
        prop_oneof![Just("*".to_owned()), field((1, 28))],
        field((1, 12)),
        field((0, 7)),
    )
        .prop_map(|(a, b, c, d, e)| format!("{a} {b} {c} {d} {e}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn parse_never_panics(text in "\\PC{0,40}") {
        let _ = CronExpr::parse(&text);
    }

    #[test]
    fn parse_never_panics_on_cron_like_text(text in "[0-9*/,?@A-Za-z -]{0,30}") {
        let _ = CronExpr::parse(&text);
    }

    #[test]
    fn next_fire_is_after_now_and_last_fire_not_after(
        expr in valid_expr(),
        tz in prop_oneof![Just("UTC"), Just("Europe/Berlin"), Just("America/New_York"), Just("Asia/Shanghai")],
        secs in 1_767_225_600_i64..1_798_761_600_i64,
    ) {
        let schedule = Schedule::new(&expr, Some(tz)).unwrap();
        let now = Timestamp::from_second(secs).unwrap();
        if let Some(next) = schedule.next_after(now) {
            prop_assert!(next > now, "{expr} in {tz}: {next} <= {now}");
            // Nothing fires strictly between now and next.
            if let Some(last) = schedule.last_at_or_before(next) {
                prop_assert_eq!(last, next);
            }
        }
        if let Some(last) = schedule.last_at_or_before(now) {
            prop_assert!(last <= now, "{expr} in {tz}: {last} > {now}");
            let again = schedule.next_after(last);
            prop_assert!(again.is_none_or(|a| a > last));
        }
    }
}
