//! Hand-checked sequences for every policy and the shared invariants as property tests.

use std::collections::HashMap;

use proptest::prelude::*;

use super::*;

fn online(kind: PolicyKind, capacity: u64) -> Box<dyn EvictionPolicy<u32> + Send> {
    kind.build(capacity, 64).expect("online policy")
}

fn build(kind: PolicyKind, capacity: u64, keys: &[u32]) -> Box<dyn EvictionPolicy<u32> + Send> {
    if kind == PolicyKind::Belady {
        Box::new(Belady::new(capacity, keys))
    } else {
        online(kind, capacity)
    }
}

/// Replays unit-size keys (one letter per request) and returns the hit/miss pattern (`H`/`m`).
fn pattern(kind: PolicyKind, capacity: u64, trace: &str) -> String {
    let keys: Vec<u32> = trace.bytes().map(u32::from).collect();
    let mut policy = build(kind, capacity, &keys);
    keys.iter()
        .map(|k| if policy.access(k, 1).hit { 'H' } else { 'm' })
        .collect()
}

#[test]
fn parse_list_keeps_order_and_expands_all() {
    assert_eq!(
        PolicyKind::parse_list("belady,lru").unwrap(),
        [PolicyKind::Belady, PolicyKind::Lru]
    );
    assert_eq!(PolicyKind::parse_list("all").unwrap(), PolicyKind::ALL);
    assert_eq!(
        PolicyKind::parse_list("lru,all").unwrap().len(),
        PolicyKind::ALL.len()
    );
    let err = PolicyKind::parse_list("lru,mru").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("unknown eviction policy \"mru\"")
    );
    assert!(PolicyKind::parse_list("").is_err());
    for kind in PolicyKind::ALL {
        assert_eq!(kind.name().parse::<PolicyKind>().unwrap(), kind);
        assert_eq!(build(kind, 4, &[]).name(), kind.name());
    }
}

#[test]
fn lru_fifo_clock_by_hand() {
    // LRU keeps the recently used `a`; FIFO evicts it because it came first.
    assert_eq!(pattern(PolicyKind::Lru, 2, "abacb"), "mmHmm");
    assert_eq!(pattern(PolicyKind::Fifo, 2, "abacb"), "mmHmH");
    // CLOCK: `a`'s bit buys it a second chance, `b` is evicted for `c`.
    assert_eq!(pattern(PolicyKind::Clock, 2, "abaca"), "mmHmH");
    assert_eq!(pattern(PolicyKind::Clock, 2, "abacb"), "mmHmm");
}

#[test]
fn sieve_hand_stays_where_it_stopped() {
    let mut sieve = Sieve::new(3);
    for k in ["a", "b", "c", "a"] {
        sieve.access(&k, 1);
    }
    // The hand starts at the tail `a` (visited: cleared), moves to `b` and evicts it.
    assert_eq!(sieve.access(&"d", 1).evicted, ["b"]);
    // It rests on `c` and evicts it next, although `a` is older.
    assert_eq!(sieve.access(&"e", 1).evicted, ["c"]);
    assert!(sieve.contains(&"a"));
    // Now from `d` (the newer neighbour of `c`): unvisited.
    assert_eq!(sieve.access(&"f", 1).evicted, ["d"]);
}

#[test]
fn s3fifo_ghost_hits_go_to_main() {
    // Capacity 2: the small queue's share rounds down to 0, the ghost holds 1.
    let mut s3 = S3Fifo::new(2);
    assert!(!s3.access(&"a", 1).hit);
    assert!(!s3.access(&"b", 1).hit);
    assert!(s3.access(&"a", 1).hit);
    // One hit is below the threshold 2: `a` leaves S for the ghost.
    assert_eq!(s3.access(&"c", 1).evicted, ["a"]);
    // `a` is a ghost hit: a miss that enters M, pushing `b` to the ghost.
    let again = s3.access(&"a", 1);
    assert!(!again.hit);
    assert_eq!(again.evicted, ["b"]);
    // `b` returns from the ghost into M too; `c` leaves S.
    assert_eq!(s3.access(&"b", 1).evicted, ["c"]);
    assert!(s3.access(&"a", 1).hit && s3.access(&"b", 1).hit);
    assert_eq!((s3.len(), s3.used()), (2, 2));
}

#[test]
fn s3fifo_threshold_one_promotes_after_one_hit() {
    let config = S3FifoConfig {
        small_to_main_threshold: 1,
        ..S3FifoConfig::default()
    };
    let mut s3 = S3Fifo::with_config(2, config);
    s3.access(&"a", 1);
    s3.access(&"b", 1);
    s3.access(&"a", 1);
    // `a` moves to M; `b` is evicted instead.
    assert_eq!(s3.access(&"c", 1).evicted, ["b"]);
    assert!(s3.contains(&"a"));
}

#[test]
fn arc_by_hand() {
    // Frequency: `a` and `b` are in T2 after their hits; a scan of one-timers only cycles T1.
    assert_eq!(pattern(PolicyKind::Arc, 3, "ababcdefab"), "mmHHmmmmHH");
}

#[test]
fn wtinylfu_resists_a_scan() {
    let mut w = WTinyLfu::new(10);
    let mut lru = Lru::new(10);
    for _ in 0..20 {
        for k in 0..5_u32 {
            w.access(&k, 1);
            lru.access(&k, 1);
        }
    }
    for k in 100..300_u32 {
        w.access(&k, 1);
        lru.access(&k, 1);
    }
    assert!((0..5).all(|k| w.contains(&k)), "hot keys survive the scan");
    assert!((0..5).all(|k| !lru.contains(&k)), "LRU is flushed");
}

#[test]
fn belady_by_hand() {
    // a b c: evict `b` (next use 4) rather than `a` (3); then `c` (never again), then `b` (never again).
    assert_eq!(pattern(PolicyKind::Belady, 2, "abcabda"), "mmmHmmH");
    assert_eq!(pattern(PolicyKind::Lru, 2, "abcabda"), "mmmmmmm");
    // Loop of 4 keys in 3 slots: LRU and FIFO never hit.
    assert_eq!(pattern(PolicyKind::Lru, 3, "abcdabcdabcd"), "mmmmmmmmmmmm");
    assert_eq!(pattern(PolicyKind::Fifo, 3, "abcdabcdabcd"), "mmmmmmmmmmmm");
}

#[test]
fn belady_ties_among_never_again_go_to_the_largest_then_smallest_key() {
    let trace = ["b", "a", "c", "z"];
    let mut opt = Belady::new(3, &trace);
    opt.access(&"b", 1);
    opt.access(&"a", 1);
    opt.access(&"c", 1);
    assert_eq!(opt.access(&"z", 1).evicted, ["a"]);
    let trace = ["a", "b", "c"];
    let mut opt = Belady::new(4, &trace);
    opt.access(&"a", 1);
    opt.access(&"b", 2);
    assert_eq!(opt.access(&"c", 2).evicted, ["b"]);
}

#[test]
fn belady_off_script_requests_do_not_panic() {
    let mut opt = Belady::new(1, &["a"]);
    assert!(!opt.access(&"x", 1).hit);
    assert!(!opt.access(&"y", 1).hit);
    assert!(opt.access(&"y", 1).hit);
}

#[test]
fn oversized_objects_change_nothing_and_size_changes_replace() {
    for kind in PolicyKind::ALL {
        let keys = [1, 2, 2, 1, 1];
        let mut policy = build(kind, 10, &keys);
        policy.access(&1, 4);
        let big = policy.access(&2, 11);
        assert!(!big.hit && big.evicted.is_empty(), "{kind}");
        assert!(!policy.contains(&2) && policy.used() == 4, "{kind}");
        policy.access(&2, 3);
        let resized = policy.access(&1, 5);
        assert!(!resized.hit, "{kind}: a size change is a miss");
        assert!(policy.contains(&1), "{kind}");
        assert_eq!(policy.used(), 8, "{kind}");
        assert!(policy.access(&1, 5).hit, "{kind}");
        assert_eq!(policy.remove(&1), Some(5), "{kind}");
        assert_eq!(policy.remove(&1), None, "{kind}");
        assert_eq!((policy.used(), policy.len()), (3, 1), "{kind}");
    }
}

/// Replays a trace, checking after every request that the policy agrees with a shadow model of what it says
/// it holds; returns the hit count and every access, for determinism checks.
fn checked_run(
    kind: PolicyKind,
    capacity: u64,
    trace: &[(u32, u64)],
) -> Result<(u64, Vec<Access<u32>>), TestCaseError> {
    let keys: Vec<u32> = trace.iter().map(|&(k, _)| k).collect();
    let mut policy = build(kind, capacity, &keys);
    let mut shadow: HashMap<u32, u64> = HashMap::new();
    let mut hits = 0;
    let mut log = Vec::new();
    for &(key, size) in trace {
        let before = shadow.get(&key).copied();
        let access = policy.access(&key, size);
        prop_assert_eq!(access.hit, before == Some(size), "{} hit flag", kind);
        if access.hit {
            hits += 1;
            prop_assert!(access.evicted.is_empty());
        }
        prop_assert!(
            !access.evicted.contains(&key),
            "{} evicted the requested key",
            kind
        );
        for victim in &access.evicted {
            prop_assert!(
                shadow.remove(victim).is_some(),
                "{} evicted an uncached key",
                kind
            );
        }
        if size <= capacity {
            shadow.insert(key, size);
        }
        prop_assert!(policy.used() <= policy.capacity(), "{} over capacity", kind);
        prop_assert_eq!(policy.used(), shadow.values().sum::<u64>(), "{} used", kind);
        prop_assert_eq!(policy.len(), shadow.len(), "{} len", kind);
        for k in 0..16 {
            prop_assert_eq!(
                policy.contains(&k),
                shadow.contains_key(&k),
                "{} contains",
                kind
            );
        }
        log.push(access);
    }
    Ok((hits, log))
}

fn unit_trace() -> impl Strategy<Value = Vec<(u32, u64)>> {
    prop::collection::vec((0_u32..12).prop_map(|k| (k, 1)), 0..200)
}

fn sized_trace() -> impl Strategy<Value = Vec<(u32, u64)>> {
    // Few sizes per key, so size changes happen but hits too.
    prop::collection::vec(
        (0_u32..12, 0_u64..3).prop_map(|(k, s)| (k, 1 + s * 3 + u64::from(k % 3))),
        0..200,
    )
}

proptest! {
    #[test]
    fn every_policy_keeps_its_invariants_unit(trace in unit_trace(), capacity in 1_u64..10) {
        for kind in PolicyKind::ALL {
            checked_run(kind, capacity, &trace)?;
        }
    }

    #[test]
    fn every_policy_keeps_its_invariants_sized(trace in sized_trace(), capacity in 1_u64..30) {
        for kind in PolicyKind::ALL {
            checked_run(kind, capacity, &trace)?;
        }
    }

    #[test]
    fn belady_is_a_bound_for_unit_sizes(trace in unit_trace(), capacity in 1_u64..10) {
        let (best, _) = checked_run(PolicyKind::Belady, capacity, &trace)?;
        for kind in PolicyKind::ALL.into_iter().filter(|k| k.is_online()) {
            let (hits, _) = checked_run(kind, capacity, &trace)?;
            prop_assert!(hits <= best, "{} {} > belady {}", kind, hits, best);
        }
    }

    #[test]
    fn replays_are_deterministic(trace in sized_trace(), capacity in 1_u64..30) {
        for kind in PolicyKind::ALL {
            let a = checked_run(kind, capacity, &trace)?;
            let b = checked_run(kind, capacity, &trace)?;
            prop_assert_eq!(a, b);
        }
    }
}
