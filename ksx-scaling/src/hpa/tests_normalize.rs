//! Data-driven cases and property tests of [`super::normalize`].

use proptest::prelude::*;

use super::model::StabilizationReason::{ScaleDownStabilized, ScaleUpStabilized};
use super::model::{HpaBehavior, HpaScalingPolicy, HpaScalingRules, LimitReason, SelectPolicy};
use super::normalize::{
    History, NormalizeArgs, Recommendation, ScaleEvent, normalize, saturate_f64_to_i64,
};

const NOW: i64 = 1_700_000_000 * 1_000_000_000;

fn secs_ago(s: i64) -> i64 {
    NOW - s * 1_000_000_000
}

fn rec(replicas: i32, ago: i64) -> Recommendation {
    Recommendation {
        replicas,
        timestamp: secs_ago(ago),
    }
}

fn ev(change: i32, ago: i64) -> ScaleEvent {
    ScaleEvent {
        replica_change: change,
        timestamp: secs_ago(ago),
        outdated: false,
    }
}

struct Case {
    name: &'static str,
    current: i32,
    desired: i32,
    min: i32,
    max: i32,
    behavior: Option<HpaBehavior>,
    history: History,
    want: (i32, i32, LimitReason),
    want_stabilization: Option<super::model::StabilizationReason>,
}

fn case(name: &'static str, current: i32, desired: i32, min: i32, max: i32) -> Case {
    Case {
        name,
        current,
        desired,
        min,
        max,
        behavior: None,
        history: History::default(),
        want: (0, 0, LimitReason::DesiredWithinRange),
        want_stabilization: None,
    }
}

fn rules(
    window: Option<i32>,
    select: Option<SelectPolicy>,
    policies: Option<Vec<HpaScalingPolicy>>,
) -> HpaScalingRules {
    HpaScalingRules {
        stabilization_window_seconds: window,
        select_policy: select,
        policies,
        tolerance: None,
    }
}

fn check(mut c: Case) -> History {
    let resolved = c.behavior.as_ref().map(|b| b.resolve(300));
    let got = normalize(
        &mut c.history,
        &NormalizeArgs {
            now: NOW,
            current_replicas: c.current,
            desired_replicas: c.desired,
            min_replicas: c.min,
            max_replicas: c.max,
            behavior: resolved.as_ref(),
            downscale_window_secs: 300,
        },
    );
    assert_eq!(
        (
            got.desired_replicas,
            got.stabilized_replicas,
            got.limit_reason
        ),
        c.want,
        "{}",
        c.name
    );
    assert_eq!(got.stabilization_reason, c.want_stabilization, "{}", c.name);
    c.history
}

#[test]
fn legacy_cases() {
    let mut c = case("contract example", 100, 500, 1, 1000);
    c.history.recommendations = vec![rec(4, 120)];
    c.want = (200, 500, LimitReason::ScaleUpLimit);
    let h = check(c);
    assert_eq!(h.recommendations, vec![rec(4, 120), rec(500, 0)]);

    let mut c = case("too many", 5, 30, 1, 8);
    c.want = (8, 30, LimitReason::TooManyReplicas);
    check(c);

    let mut c = case("tie with the cap is TooManyReplicas", 5, 30, 1, 10);
    c.want = (10, 30, LimitReason::TooManyReplicas);
    check(c);

    let mut c = case("too few", 5, 1, 2, 10);
    c.want = (2, 1, LimitReason::TooFewReplicas);
    check(c);

    let mut c = case(
        "downscale window keeps the highest; old slot reused",
        10,
        3,
        1,
        20,
    );
    c.history.recommendations = vec![rec(8, 100), rec(6, 400)];
    c.want = (8, 8, LimitReason::DesiredWithinRange);
    let h = check(c);
    assert_eq!(h.recommendations, vec![rec(8, 100), rec(3, 0)]);

    let mut c = case("from zero the floor is 4", 0, 2, 0, 10);
    c.want = (2, 2, LimitReason::DesiredWithinRange);
    check(c);

    let mut c = case("no events are stored", 4, 6, 1, 10);
    c.want = (6, 6, LimitReason::DesiredWithinRange);
    let h = check(c);
    assert!(h.scale_up_events.is_empty());
}

#[test]
fn behavior_cases() {
    let defaults = Some(HpaBehavior::default());

    let mut c = case("spec example: max(7 + 4, 14)", 7, 30, 1, 100);
    c.behavior = defaults.clone();
    c.want = (14, 30, LimitReason::ScaleUpLimit);
    c.want_stabilization = Some(ScaleUpStabilized);
    let h = check(c);
    assert_eq!(h.scale_up_events, vec![ev(7, 0)]);

    let mut c = case("15 s later the event is outside the period", 14, 30, 1, 100);
    c.behavior = defaults.clone();
    c.history.scale_up_events = vec![ev(7, 15)];
    c.want = (28, 30, LimitReason::ScaleUpLimit);
    c.want_stabilization = Some(ScaleUpStabilized);
    check(c);

    let mut c = case("14 s later it still counts", 14, 30, 1, 100);
    c.behavior = defaults.clone();
    c.history.scale_up_events = vec![ev(7, 14)];
    c.want = (14, 30, LimitReason::ScaleUpLimit);
    c.want_stabilization = Some(ScaleUpStabilized);
    check(c);

    let mut c = case("percent down truncates", 10, 1, 1, 100);
    c.behavior = Some(HpaBehavior {
        scale_up: None,
        scale_down: Some(rules(
            Some(0),
            None,
            Some(vec![HpaScalingPolicy::percent(50, 60)]),
        )),
    });
    c.want = (5, 1, LimitReason::ScaleDownLimit);
    c.want_stabilization = Some(ScaleDownStabilized);
    let h = check(c);
    assert_eq!(h.scale_down_events, vec![ev(5, 0)]);

    let mut c = case("earlier scale-down in the period counts", 5, 1, 1, 100);
    c.behavior = Some(HpaBehavior {
        scale_up: None,
        scale_down: Some(rules(
            Some(0),
            None,
            Some(vec![HpaScalingPolicy::percent(50, 60)]),
        )),
    });
    c.history.scale_down_events = vec![ev(5, 30)];
    c.want = (5, 1, LimitReason::ScaleDownLimit);
    c.want_stabilization = Some(ScaleDownStabilized);
    let h = check(c);
    assert_eq!(h.scale_down_events.len(), 1, "no rescale, no event");

    let mut c = case("too few on the behavior path", 10, 1, 4, 100);
    c.behavior = Some(HpaBehavior {
        scale_up: None,
        scale_down: Some(rules(Some(0), None, None)),
    });
    c.want = (4, 1, LimitReason::TooFewReplicas);
    c.want_stabilization = Some(ScaleDownStabilized);
    check(c);

    let mut c = case("too many on the behavior path", 10, 50, 1, 15);
    c.behavior = defaults.clone();
    c.want = (15, 50, LimitReason::TooManyReplicas);
    c.want_stabilization = Some(ScaleUpStabilized);
    check(c);

    let mut c = case("scale-up disabled", 5, 10, 1, 100);
    c.behavior = Some(HpaBehavior {
        scale_up: Some(rules(None, Some(SelectPolicy::Disabled), None)),
        scale_down: None,
    });
    c.want = (5, 10, LimitReason::ScaleUpLimit);
    c.want_stabilization = Some(ScaleUpStabilized);
    let h = check(c);
    assert!(h.scale_up_events.is_empty());

    let mut c = case("select Min scaling up", 10, 100, 1, 1000);
    c.behavior = Some(HpaBehavior {
        scale_up: Some(rules(None, Some(SelectPolicy::Min), None)),
        scale_down: None,
    });
    c.want = (14, 100, LimitReason::ScaleUpLimit);
    c.want_stabilization = Some(ScaleUpStabilized);
    check(c);

    let mut c = case("select Min scaling down", 10, 1, 1, 100);
    c.behavior = Some(HpaBehavior {
        scale_up: None,
        scale_down: Some(rules(
            Some(0),
            Some(SelectPolicy::Min),
            Some(vec![
                HpaScalingPolicy::pods(1, 60),
                HpaScalingPolicy::percent(50, 60),
            ]),
        )),
    });
    c.want = (9, 1, LimitReason::ScaleDownLimit);
    c.want_stabilization = Some(ScaleDownStabilized);
    check(c);

    let mut c = case("scale-up window holds the lowest recent", 4, 10, 1, 100);
    c.behavior = Some(HpaBehavior {
        scale_up: Some(rules(Some(60), None, None)),
        scale_down: None,
    });
    c.history.recommendations = vec![rec(4, 30)];
    c.want = (4, 4, LimitReason::DesiredWithinRange);
    c.want_stabilization = Some(ScaleUpStabilized);
    check(c);

    let mut c = case("scale-down window holds the highest recent", 10, 2, 1, 100);
    c.behavior = defaults.clone();
    c.history.recommendations = vec![rec(9, 100)];
    c.want = (9, 9, LimitReason::DesiredWithinRange);
    c.want_stabilization = Some(ScaleDownStabilized);
    let h = check(c);
    assert_eq!(h.scale_down_events, vec![ev(1, 0)]);
    assert_eq!(h.recommendations, vec![rec(9, 100), rec(2, 0)]);

    let mut c = case("an outdated event slot is reused", 10, 20, 1, 100);
    c.behavior = defaults.clone();
    c.history.scale_up_events = vec![ev(2, 100), ev(1, 5)];
    // The event 5 s ago is inside the period: start 9, limit max(9 + 4, 18) = 18.
    c.want = (18, 20, LimitReason::ScaleUpLimit);
    c.want_stabilization = Some(ScaleUpStabilized);
    let h = check(c);
    assert_eq!(h.scale_up_events, vec![ev(8, 0), ev(1, 5)]);

    let mut c = case(
        "old recommendation slot reused only when outside both windows",
        5,
        5,
        1,
        100,
    );
    c.behavior = defaults;
    c.history.recommendations = vec![rec(3, 400), rec(7, 200)];
    c.want = (5, 5, LimitReason::DesiredWithinRange);
    c.want_stabilization = Some(ScaleUpStabilized);
    let h = check(c);
    assert_eq!(h.recommendations, vec![rec(5, 0), rec(7, 200)]);
}

fn arb_policy() -> impl Strategy<Value = HpaScalingPolicy> {
    (prop::bool::ANY, 1..200i32, 1..120i32).prop_map(|(pods, value, period)| {
        if pods {
            HpaScalingPolicy::pods(value, period)
        } else {
            HpaScalingPolicy::percent(value, period)
        }
    })
}

fn arb_rules() -> impl Strategy<Value = Option<HpaScalingRules>> {
    prop::option::of((
        prop::option::of(0..600i32),
        prop::option::of(prop_oneof![
            Just(SelectPolicy::Max),
            Just(SelectPolicy::Min),
            Just(SelectPolicy::Disabled)
        ]),
        prop::option::of(prop::collection::vec(arb_policy(), 1..4)),
    ))
    .prop_map(|r| r.map(|(w, s, p)| rules(w, s, p)))
}

/// One step of a replayed controller timeline.
fn step(
    history: &mut History,
    behavior: Option<&super::model::ResolvedBehavior>,
    now: i64,
    current: i32,
    desired: i32,
    min: i32,
    max: i32,
) -> i32 {
    normalize(
        history,
        &NormalizeArgs {
            now,
            current_replicas: current,
            desired_replicas: desired,
            min_replicas: min,
            max_replicas: max,
            behavior,
            downscale_window_secs: 300,
        },
    )
    .desired_replicas
}

proptest! {
    #[test]
    fn result_within_min_and_max(
        behavior in prop::option::of((arb_rules(), arb_rules())),
        min in 0..50i32, span in 0..200i32,
        proposals in prop::collection::vec((0..400i32, 1..60i64), 1..40),
    ) {
        let behavior = behavior.map(|(up, down)| HpaBehavior { scale_up: up, scale_down: down }.resolve(300));
        let max = (min + span).max(1);
        let mut history = History::default();
        let mut current = min.max(1).min(max);
        let mut now = NOW;
        for (desired, gap) in proposals {
            now += gap * 1_000_000_000;
            current = step(&mut history, behavior.as_ref(), now, current, desired, min, max);
            prop_assert!(current >= min && current <= max, "{current} not in [{min}, {max}]");
        }
    }

    #[test]
    fn change_within_a_period_never_exceeds_the_policy(
        up in arb_policy(), down in arb_policy(),
        proposals in prop::collection::vec((0..400i32, 1..40i64), 1..60),
    ) {
        let behavior = HpaBehavior {
            scale_up: Some(rules(Some(0), None, Some(vec![up]))),
            scale_down: Some(rules(Some(0), None, Some(vec![down]))),
        }
        .resolve(300);
        let mut history = History::default();
        let mut timeline: Vec<(i64, i32)> = vec![(0, 10)];
        let mut current = 10;
        let mut now = NOW;
        for (desired, gap) in proposals {
            now += gap * 1_000_000_000;
            let new = step(&mut history, Some(&behavior), now, current, desired, 0, 100_000);
            for (policy, rising) in [(up, true), (down, false)] {
                // Replicas at the start of the period: after the last change at or before now − period.
                let cutoff = now - i64::from(policy.period_seconds) * 1_000_000_000;
                let start = timeline.iter().rev().find(|(t, _)| *t <= cutoff).map_or(10, |(_, r)| *r);
                let start = i64::from(start);
                let v = i64::from(policy.value);
                if rising && new > current {
                    let cap = match policy.policy_type {
                        super::model::PolicyType::Pods => start + v,
                        super::model::PolicyType::Percent => saturate_f64_to_i64((start as f64 * (1.0 + v as f64 / 100.0)).ceil()),
                    };
                    prop_assert!(i64::from(new) <= cap.max(i64::from(current)), "up to {new} from start {start} beyond {cap}");
                }
                if !rising && new < current {
                    let floor = match policy.policy_type {
                        super::model::PolicyType::Pods => start - v,
                        super::model::PolicyType::Percent => saturate_f64_to_i64((start as f64 * (1.0 - v as f64 / 100.0)).trunc()),
                    };
                    prop_assert!(i64::from(new) >= floor.min(i64::from(current)), "down to {new} from start {start} beyond {floor}");
                }
            }
            if new != current {
                timeline.push((now, new));
            }
            current = new;
        }
    }

    #[test]
    fn never_below_the_highest_recommendation_in_the_scale_down_window(
        window in 0..600i32,
        recs in prop::collection::vec((0..300i32, 0..900i64), 0..20),
        current in 1..300i32, desired in 0..300i32,
    ) {
        let behavior = HpaBehavior {
            scale_up: None,
            scale_down: Some(rules(Some(window), None, None)),
        }
        .resolve(300);
        let mut history = History {
            recommendations: recs.iter().map(|(r, ago)| rec(*r, *ago)).collect(),
            ..History::default()
        };
        let in_window = recs
            .iter()
            .filter(|(_, ago)| *ago < i64::from(window))
            .map(|(r, _)| *r)
            .fold(desired, i32::max);
        let got = step(&mut history, Some(&behavior), NOW, current, desired, 0, 1000);
        prop_assert!(got >= in_window.min(current), "{got} below {in_window} (current {current})");
    }
}
