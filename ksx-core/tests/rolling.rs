//! Rolling-update, determinism and eviction invariants of the in-memory cluster, checked with proptest.
#![allow(
    clippy::unwrap_used,
    reason = "helpers of tests: a failed unwrap is a failed test"
)]

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use ksx_core::cluster::memory::{PodFailure, PodProfile};
use ksx_core::cluster::{Kind, ListOptions, Object};
use ksx_core::{InMemoryCluster, ManualClock, rolling};
use proptest::prelude::*;
use serde_json::json;

const NS: &str = "shop";

fn cluster(seed: u64) -> InMemoryCluster {
    let cluster = InMemoryCluster::new(ManualClock::at_unix_secs(1_700_000_000), seed);
    for i in 0..4 {
        cluster
            .add_node(&format!("node-{i}"), "64", "256Gi")
            .unwrap();
    }
    cluster
}

fn fencepost_json(value: &IntOrString) -> serde_json::Value {
    match value {
        IntOrString::Int(n) => json!(n),
        IntOrString::String(s) => json!(s),
    }
}

fn deployment(
    replicas: i32,
    image: &str,
    surge: &IntOrString,
    unavailable: &IntOrString,
) -> Object {
    let value = json!({
        "metadata": {"name": "web", "namespace": NS},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {
                "maxSurge": fencepost_json(surge), "maxUnavailable": fencepost_json(unavailable)}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "main", "image": image,
                    "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}
            }
        }
    });
    Object::from_json(&Kind::Deployment, value).unwrap()
}

/// `(total pods, updated, available)` as the Deployment's status reports them, and the pod count in the store.
fn observe(cluster: &InMemoryCluster) -> (usize, i32, i32, i32) {
    let Some(Object::Deployment(Deployment {
        status: Some(s), ..
    })) = cluster.get_sync(&Kind::Deployment, Some(NS), "web")
    else {
        return (cluster.count(&Kind::Pod), 0, 0, 0);
    };
    (
        cluster.count(&Kind::Pod),
        s.replicas.unwrap_or(0),
        s.updated_replicas.unwrap_or(0),
        s.available_replicas.unwrap_or(0),
    )
}

fn fencepost() -> impl Strategy<Value = IntOrString> {
    prop_oneof![
        (0..6_i32).prop_map(IntOrString::Int),
        (0..=60_u32).prop_map(|p| IntOrString::String(format!("{p}%"))),
    ]
}

fn failure() -> impl Strategy<Value = PodFailure> {
    prop_oneof![Just(PodFailure::CrashLoop), Just(PodFailure::NeverReady)]
}

#[derive(Debug, Clone)]
struct Case {
    desired: i32,
    surge: IntOrString,
    unavailable: IntOrString,
    delay_secs: u64,
    jitter_secs: u64,
    /// How many of the old pods crash-loop (taken modulo `desired + 1`).
    failing_old: i32,
    /// The new version fails this way, if at all.
    new_failure: Option<PodFailure>,
    seed: u64,
}

fn case() -> impl Strategy<Value = Case> {
    (
        0..200_i32,
        fencepost(),
        fencepost(),
        0..8_u64,
        0..5_u64,
        prop_oneof![3 => Just(0_i32), 1 => 0..20_i32],
        prop_oneof![3 => Just(None), 1 => failure().prop_map(Some)],
        any::<u64>(),
    )
        .prop_map(
            |(
                desired,
                surge,
                unavailable,
                delay_secs,
                jitter_secs,
                failing_old,
                new_failure,
                seed,
            )| Case {
                desired,
                surge,
                unavailable,
                delay_secs,
                jitter_secs,
                failing_old: failing_old % (desired + 1),
                new_failure,
                seed,
            },
        )
}

fn run_rollout(case: &Case) -> Result<(), TestCaseError> {
    let cluster = cluster(case.seed);
    let fence = rolling::resolve_fenceposts(
        "shop/web",
        Some(&case.surge),
        Some(&case.unavailable),
        case.desired,
    )
    .unwrap();
    let max_unavailable = rolling::max_unavailable(case.desired, fence);
    let max_total = usize::try_from(case.desired + fence.surge).unwrap();
    let min_available = case.desired - max_unavailable;

    // Version 1: the first `failing_old` pods crash-loop, the rest are healthy.
    let profile = |delay: u64| {
        PodProfile::healthy(Duration::from_secs(delay))
            .with_jitter(Duration::from_secs(case.jitter_secs))
    };
    if case.failing_old > 0 {
        cluster
            .set_pod_profile(
                NS,
                "app=web",
                PodProfile::crash_loop(Duration::from_secs(1)),
            )
            .unwrap();
        cluster
            .apply(deployment(
                case.failing_old,
                "web:1",
                &case.surge,
                &case.unavailable,
            ))
            .unwrap();
        cluster.reconcile();
    }
    cluster
        .set_pod_profile(NS, "app=web", profile(case.delay_secs))
        .unwrap();
    cluster
        .apply(deployment(
            case.desired,
            "web:1",
            &case.surge,
            &case.unavailable,
        ))
        .unwrap();
    let healthy_old = case.desired - case.failing_old;
    for _ in 0..120 {
        cluster.advance(Duration::from_secs(1));
        if observe(&cluster).3 >= healthy_old {
            break;
        }
    }
    let (_, _, _, start_available) = observe(&cluster);
    prop_assert_eq!(start_available, healthy_old, "version 1 did not settle");

    // Version 2, healthy or failing.
    let new_profile = match case.new_failure {
        None => profile(case.delay_secs),
        Some(failure) => PodProfile {
            failure,
            ..profile(case.delay_secs)
        },
    };
    cluster.set_pod_profile(NS, "app=web", new_profile).unwrap();
    cluster
        .apply(deployment(
            case.desired,
            "web:2",
            &case.surge,
            &case.unavailable,
        ))
        .unwrap();
    let floor = start_available.min(min_available);
    let mut completed = false;
    for tick in 0..5_000 {
        cluster.advance(Duration::from_secs(1));
        let (pods, _, updated, available) = observe(&cluster);
        prop_assert!(
            pods <= max_total,
            "tick {}: {} pods > desired + surge = {}",
            tick,
            pods,
            max_total
        );
        prop_assert!(
            available >= floor,
            "tick {}: {} available < {}",
            tick,
            available,
            floor
        );
        if updated == case.desired
            && available == case.desired
            && pods == usize::try_from(case.desired).unwrap()
        {
            completed = true;
            break;
        }
    }
    if case.new_failure.is_none() {
        prop_assert!(completed, "a rollout with healthy pods did not complete");
    } else if case.desired > 0 {
        prop_assert!(!completed, "a rollout of failing pods completed");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn rollouts_keep_their_bounds(case in case()) {
        run_rollout(&case)?;
    }
}

#[test]
fn the_spec_examples_roll_out() {
    for (desired, surge, unavailable) in [
        (
            10,
            IntOrString::String("25%".into()),
            IntOrString::String("25%".into()),
        ),
        (10, IntOrString::Int(1), IntOrString::Int(0)),
        (10, IntOrString::Int(0), IntOrString::Int(1)),
        (1, IntOrString::Int(0), IntOrString::Int(0)),
        (
            0,
            IntOrString::String("0%".into()),
            IntOrString::String("0%".into()),
        ),
    ] {
        let case = Case {
            desired,
            surge,
            unavailable,
            delay_secs: 3,
            jitter_secs: 2,
            failing_old: 0,
            new_failure: None,
            seed: 9,
        };
        run_rollout(&case).unwrap();
    }
}

fn listing(seed: u64) -> Vec<Object> {
    let cluster = cluster(seed);
    cluster
        .set_pod_profile(
            NS,
            "app=web",
            PodProfile::healthy(Duration::from_secs(2)).with_jitter(Duration::from_secs(6)),
        )
        .unwrap();
    let fence = IntOrString::String("25%".into());
    cluster
        .apply(deployment(12, "web:1", &fence, &fence))
        .unwrap();
    cluster.advance(Duration::from_secs(15));
    cluster
        .apply(deployment(12, "web:2", &fence, &fence))
        .unwrap();
    cluster.advance(Duration::from_secs(17));
    let mut all = Vec::new();
    for kind in [Kind::Pod, Kind::ReplicaSet, Kind::Deployment, Kind::Event] {
        all.extend(
            cluster
                .list_sync(&kind, None, &ListOptions::default())
                .unwrap(),
        );
    }
    all
}

#[test]
fn same_seed_and_calls_list_the_same() {
    let first = listing(11);
    assert!(!first.is_empty());
    assert_eq!(first, listing(11));
}

fn pdb(spec: &serde_json::Value) -> Object {
    let mut value = json!({"metadata": {"name": "web", "namespace": NS}, "spec": {"selector": {"matchLabels": {"app": "web"}}}});
    if let (Some(target), Some(extra)) = (value["spec"].as_object_mut(), spec.as_object()) {
        target.extend(extra.clone());
    }
    Object::from_json(&Kind::PodDisruptionBudget, value).unwrap()
}

/// The healthy pods a budget keeps, computed independently of the cluster.
fn desired_healthy(replicas: i32, budget: &(bool, IntOrString)) -> i32 {
    let scaled = |v: &IntOrString| match v {
        IntOrString::Int(n) => *n,
        IntOrString::String(s) => {
            let p: i32 = s.trim_end_matches('%').parse().unwrap();
            (p * replicas + 99) / 100
        }
    };
    match budget {
        (true, v) => scaled(v),
        (false, v) => replicas - scaled(v),
    }
    .max(0)
}

fn ready_pods(cluster: &InMemoryCluster) -> Vec<String> {
    cluster
        .list_sync(&Kind::Pod, Some(NS), &ListOptions::labels("app=web"))
        .unwrap()
        .into_iter()
        .filter_map(|o| match o {
            Object::Pod(p) => Some(p),
            _ => None,
        })
        .filter(|p| {
            p.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        })
        .filter_map(|p| p.metadata.name)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn evictions_never_exceed_the_budget(
        replicas in 1..25_i32,
        min_available in any::<bool>(),
        value in prop_oneof![(0..30_i32).prop_map(IntOrString::Int), (0..=100_u32).prop_map(|p| IntOrString::String(format!("{p}%")))],
        steps in proptest::collection::vec((any::<prop::sample::Index>(), 0..4_u64), 1..60),
        seed in any::<u64>(),
    ) {
        let cluster = cluster(seed);
        let fence = IntOrString::Int(1);
        cluster.apply(deployment(replicas, "web:1", &fence, &fence)).unwrap();
        let spec = if min_available {
            json!({"minAvailable": fencepost_json(&value)})
        } else {
            json!({"maxUnavailable": fencepost_json(&value)})
        };
        cluster.apply(pdb(&spec)).unwrap();
        cluster.advance(Duration::from_secs(10));
        let budget = (min_available, value);
        let keep = desired_healthy(replicas, &budget);
        let start = i32::try_from(ready_pods(&cluster).len()).unwrap();
        prop_assert_eq!(start, replicas);

        // Without time passing, exactly the allowed number of healthy pods can go.
        let allowed = (start - keep).max(0);
        let mut evicted = 0;
        for name in ready_pods(&cluster) {
            if cluster.evict_sync(NS, &name).is_ok() {
                evicted += 1;
            }
        }
        prop_assert_eq!(evicted, allowed);

        // With time passing and replacements starting, healthy pods never drop below the budget through evictions.
        for (index, wait) in steps {
            let ready = ready_pods(&cluster);
            let before = i32::try_from(ready.len()).unwrap();
            if !ready.is_empty() {
                let name = &ready[index.index(ready.len())];
                let result = cluster.evict_sync(NS, name);
                if result.is_ok() {
                    prop_assert!(before > keep, "evicted with {} healthy, budget keeps {}", before, keep);
                }
            }
            cluster.advance(Duration::from_secs(wait));
        }
    }
}
