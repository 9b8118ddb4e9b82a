//! The `ksx vpa recommend` contract: input rules (sorting, ties, errors naming the place) and the recommender's
//! invariants as properties (monotone in the percentile, bounds ordered, minimum share, decay invariance under
//! a time shift, checkpoint round trip, garbage-proof loaders and parsers).

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::aggregate::AggregateContainerState;
use super::checkpoint::{ContainerCheckpoint, HistogramCheckpoint};
use super::config::RecommenderConfig;
use super::contract::{
    ContainerInput, CpuSample, MemorySample, OomEvent, RecommendRequest, RecommendResponse,
    aggregate_container, recommend,
};
use super::estimate::{self, estimate_container, minimum_share};
use super::histogram::{CPU_OPTIONS, DecayingHistogram, Histogram, MEMORY_OPTIONS};
use crate::hpa::contract::UnixTime;

const NOW: i64 = 1_700_000_000;

fn parse(text: &str) -> crate::Result<RecommendRequest> {
    ksx_core::manifest::from_yaml_str::<RecommendRequest>("in.json", text).map_err(Into::into)
}

fn run(text: &str) -> crate::Result<RecommendResponse> {
    recommend(&parse(text)?)
}

#[test]
fn the_contract_example_runs() {
    let out = run(r#"{
      "now": 1700000000,
      "containers": [
        {"name": "app",
         "cpuSamples": [{"t": 1699990000, "cores": 0.25}],
         "memorySamples": [{"t": 1699990000, "bytes": 268435456}],
         "oomEvents": [{"t": 1699995000, "requestBytes": 536870912}]}
      ],
      "config": {}
    }"#)
    .unwrap();
    let r = &out.container_recommendations[0];
    assert_eq!(r.container_name, "app");
    // CPU as in the hand-computed single sample: 296m. Memory: the OOM (request 512 MiB, peak 256 MiB) needs
    // max(536870912 + 104857600, trunc(536870912 × 1.2) = 644245094) = 644245094, above the 256 MiB peak in
    // the same window, so it replaces it: bucket 29 (log_1.05(644245094/2e8 + 1) = 29.52), percentile = start of
    // bucket 30 = 2e8 × (1.05^30 − 1) = 664388475, + trunc(664388475 × 0.15) = 99658271 → 764046746.
    assert_eq!(r.target["cpu"].to_string(), "296m");
    assert_eq!(r.target["memory"].value(), 764_046_746);
    assert_eq!(r.uncapped_target, r.target);
}

#[test]
fn unknown_fields_are_refused_by_name() {
    let e = parse(r#"{"now": 1, "containers": [], "confg": {}}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("confg"), "{e}");
    let e = parse(r#"{"now": 1, "containers": [], "config": {"targetCpuPercentil": 0.5}}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("targetCpuPercentil"), "{e}");
    let e =
        parse(r#"{"now": 1, "containers": [{"name": "a", "cpuSamples": [{"t": 1, "core": 1}]}]}"#)
            .unwrap_err()
            .to_string();
    assert!(e.contains("core"), "{e}");
}

#[test]
fn bad_values_name_the_container_and_the_sample() {
    let e = run(r#"{"now": 1, "containers": [{"name": "a"}, {"name": "web",
        "cpuSamples": [{"t": 1, "cores": 1}, {"t": 2, "cores": -0.5}]}]}"#)
    .unwrap_err()
    .to_string();
    assert!(e.starts_with("containers[1].cpuSamples[1].cores:"), "{e}");
    assert!(e.contains("\"web\""), "{e}");
    let e = run(
        r#"{"now": 1, "containers": [{"name": "a", "memorySamples": [{"t": 1, "bytes": .nan}]}]}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("containers[0].memorySamples[0].bytes:"),
        "{e}"
    );
    let e = run(
        r#"{"now": 1, "containers": [{"name": "a", "oomEvents": [{"t": 1, "requestBytes": -1}]}]}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("containers[0].oomEvents[0].requestBytes:"),
        "{e}"
    );
    let e = run(r#"{"now": 1, "containers": [{"name": "a"}, {"name": "a"}]}"#)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("containers[1].name:"), "{e}");
    let e = run(r#"{"now": 1, "containers": [], "config": {"cpuHalfLifeSeconds": 0}}"#)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("config.cpuHalfLifeSeconds:"), "{e}");
    let e = run(r#"{"now": 1, "containers": [], "config": {"upperBoundCpuPercentile": 1.5}}"#)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("config.upperBoundCpuPercentile:"), "{e}");
}

fn container(cpu: &[(f64, f64)], mem: &[(f64, f64)], oom: &[(f64, f64)]) -> ContainerInput {
    let t = |s: f64| {
        let nanos = (s * 1e9).round();
        #[allow(clippy::cast_possible_truncation, reason = "test times are small")]
        UnixTime(nanos as i64)
    };
    ContainerInput {
        name: "app".to_owned(),
        cpu_samples: cpu
            .iter()
            .map(|&(s, c)| CpuSample { t: t(s), cores: c })
            .collect(),
        memory_samples: mem
            .iter()
            .map(|&(s, b)| MemorySample { t: t(s), bytes: b })
            .collect(),
        oom_events: oom
            .iter()
            .map(|&(s, r)| OomEvent {
                t: t(s),
                request_bytes: r,
            })
            .collect(),
    }
}

#[test]
fn inputs_are_sorted_by_time_before_feeding() {
    let cfg = RecommenderConfig::default();
    let n = NOW as f64;
    // Out of order in the file, in order once sorted: all three CPU samples count.
    let c = container(&[(n + 120.0, 0.3), (n, 0.1), (n + 60.0, 0.2)], &[], &[]);
    let s = aggregate_container(&cfg, 0, &c).unwrap();
    assert_eq!(s.total_samples_count(), 3);
    // Two CPU samples at the same time: the second is dropped (not strictly after).
    let c = container(&[(n, 0.1), (n, 0.2)], &[], &[]);
    assert_eq!(
        aggregate_container(&cfg, 0, &c)
            .unwrap()
            .total_samples_count(),
        1
    );
    // Fractional seconds are kept: 0.5 s apart is strictly after.
    let c = container(&[(n, 0.1), (n + 0.5, 0.2)], &[], &[]);
    assert_eq!(
        aggregate_container(&cfg, 0, &c)
            .unwrap()
            .total_samples_count(),
        2
    );
}

#[test]
fn oom_is_fed_after_memory_samples_of_the_same_time() {
    let cfg = RecommenderConfig::default();
    let n = NOW as f64;
    // OOM listed first but fed after the memory sample at the same time: the 1 GiB peak is known, so the OOM
    // needs trunc(1 GiB × 1.2) = 1288490188 and replaces the peak. Fed before, it would have used the request
    // only (256 MiB → 356 MiB) and the memory sample would then have raised the peak to 1 GiB instead.
    let c = container(&[], &[(n, 1_073_741_824.0)], &[(n, 268_435_456.0)]);
    let s = aggregate_container(&cfg, 0, &c).unwrap();
    let h = s.memory_histogram().histogram();
    let b = MEMORY_OPTIONS.find_bucket(1_288_490_188.0);
    assert_eq!(h.min_max_bucket(), (b, b));
}

#[test]
fn every_container_gets_one_entry() {
    let out = run(r#"{"now": 1700000000, "containers": [{"name": "z"}, {"name": "b",
        "cpuSamples": [{"t": 1, "cores": 1}]}, {"name": "m", "memorySamples": [{"t": 1699999999, "bytes": 1e9}]}]}"#)
    .unwrap();
    let names: Vec<&str> = out
        .container_recommendations
        .iter()
        .map(|r| r.container_name.as_str())
        .collect();
    assert_eq!(names, ["b", "m", "z"]);
    // z has no samples: the minimum share of three containers everywhere.
    let z = &out.container_recommendations[2];
    assert_eq!(z.target["cpu"].to_string(), "8m");
    assert_eq!(z.upper_bound["memory"].to_string(), "87381333");
}

#[test]
fn checkpoint_restore_then_recommend_matches_on_a_day_of_samples() {
    let cfg = RecommenderConfig::default();
    let mut s = AggregateContainerState::new(&cfg);
    let t0 = NOW * 1_000_000_000;
    for i in 0..1440i64 {
        let t = t0 + i * 60_000_000_000;
        s.add_cpu_sample(&cfg, t, 100 + (i % 10) * 10);
        s.add_memory_sample(&cfg, t, 200_000_000 + (i % 7) * 10_000_000);
    }
    // At the window's end the open peak is no longer open: nothing is subtracted.
    let now = s.window_end().unwrap();
    let cp = s.to_checkpoint(&cfg, now);
    let back = AggregateContainerState::from_checkpoint(&cfg, &cp).unwrap();
    assert_eq!(back.to_checkpoint(&cfg, now), cp);
    let a = estimate::recommend(&cfg, &[("app", &s)], now);
    let b = estimate::recommend(&cfg, &[("app", &back)], now);
    assert_eq!(a, b);
    // Before the window's end the open peak is left out of the checkpoint.
    let open = s.to_checkpoint(&cfg, now - 1);
    assert!(open.memory_histogram.total_weight < cp.memory_histogram.total_weight);
    // A wrong version is refused by name.
    let mut bad = cp.clone();
    bad.version = "v2".to_owned();
    let e = AggregateContainerState::from_checkpoint(&cfg, &bad)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("version:"), "{e}");
}

/// Samples: (seconds since the previous sample, millicores, bytes).
fn samples() -> impl Strategy<Value = Vec<(i64, i64, i64)>> {
    prop::collection::vec((1i64..7_200, 0i64..8_000, 0i64..8_000_000_000), 0..60)
}

fn request_from(
    samples: &[(i64, i64, i64)],
    ooms: &[(i64, i64)],
    config: RecommenderConfig,
) -> RecommendRequest {
    let mut t = NOW;
    let mut cpu = Vec::new();
    let mut mem = Vec::new();
    for &(dt, m, b) in samples {
        t += dt;
        #[allow(clippy::cast_precision_loss, reason = "small test values")]
        {
            cpu.push(CpuSample {
                t: UnixTime::from_secs(t),
                cores: m as f64 / 1000.0,
            });
            mem.push(MemorySample {
                t: UnixTime::from_secs(t),
                bytes: b as f64,
            });
        }
    }
    #[allow(clippy::cast_precision_loss, reason = "small test values")]
    let oom_events = ooms
        .iter()
        .map(|&(dt, r)| OomEvent {
            t: UnixTime::from_secs(NOW + dt),
            request_bytes: r as f64,
        })
        .collect();
    RecommendRequest {
        now: UnixTime::from_secs(t + 60),
        containers: vec![ContainerInput {
            name: "app".to_owned(),
            cpu_samples: cpu,
            memory_samples: mem,
            oom_events,
        }],
        config,
    }
}

fn amounts(
    r: &RecommendResponse,
    list: fn(&super::crd::RecommendedContainerResources) -> &super::crd::ResourceList,
) -> (i64, i64) {
    let rec = &r.container_recommendations[0];
    let l = list(rec);
    (l["cpu"].milli_value(), l["memory"].value())
}

proptest! {
    #[test]
    fn monotone_in_the_target_percentile(
        s in samples(),
        ooms in prop::collection::vec((0i64..100_000, 0i64..2_000_000_000), 0..3),
        p1 in 0.0f64..=1.0, p2 in 0.0f64..=1.0,
    ) {
        let (lo, hi) = if p1 <= p2 { (p1, p2) } else { (p2, p1) };
        let cfg = |p: f64| RecommenderConfig { target_cpu_percentile: p, target_memory_percentile: p, ..RecommenderConfig::default() };
        let a = recommend(&request_from(&s, &ooms, cfg(lo))).unwrap();
        let b = recommend(&request_from(&s, &ooms, cfg(hi))).unwrap();
        let (ac, am) = amounts(&a, |r| &r.target);
        let (bc, bm) = amounts(&b, |r| &r.target);
        prop_assert!(ac <= bc && am <= bm, "{ac} {am} vs {bc} {bm}");
    }

    #[test]
    fn bounds_are_ordered_and_above_the_minimum(
        s in samples(),
        ooms in prop::collection::vec((0i64..100_000, 0i64..2_000_000_000), 0..3),
    ) {
        let cfg = RecommenderConfig::default();
        let r = recommend(&request_from(&s, &ooms, cfg.clone())).unwrap();
        let (lc, lm) = amounts(&r, |r| &r.lower_bound);
        let (tc, tm) = amounts(&r, |r| &r.target);
        let (uc, um) = amounts(&r, |r| &r.upper_bound);
        prop_assert!(lc <= tc && tc <= uc, "cpu {lc} {tc} {uc}");
        prop_assert!(lm <= tm && tm <= um, "memory {lm} {tm} {um}");
        let min = minimum_share(&cfg, 1);
        prop_assert!(lc >= min.cpu_millicores && lm >= min.memory_bytes);
    }

    #[test]
    fn never_below_the_minimum_share(
        s in samples(),
        n in 1usize..6,
        pod_cpu in 0.0f64..1000.0, pod_mem in 0.0f64..4096.0,
    ) {
        let cfg = RecommenderConfig { pod_min_cpu_millicores: pod_cpu, pod_min_memory_mb: pod_mem, ..RecommenderConfig::default() };
        let mut req = request_from(&s, &[], cfg.clone());
        for i in 1..n {
            let mut c = req.containers[0].clone();
            c.name = format!("c{i}");
            req.containers.push(c);
        }
        let r = recommend(&req).unwrap();
        prop_assert_eq!(r.container_recommendations.len(), n);
        let min = minimum_share(&cfg, n);
        for rec in &r.container_recommendations {
            for l in [&rec.lower_bound, &rec.target, &rec.upper_bound] {
                prop_assert!(l["cpu"].milli_value() >= min.cpu_millicores);
                prop_assert!(l["memory"].value() >= min.memory_bytes);
            }
        }
    }

    #[test]
    fn decay_is_invariant_under_a_half_life_shift(
        s in samples(),
        ooms in prop::collection::vec((0i64..100_000, 0i64..2_000_000_000), 0..3),
        k in -400i64..400,
    ) {
        let cfg = RecommenderConfig::default();
        let base = request_from(&s, &ooms, cfg.clone());
        let shift = k * cfg.cpu_half_life_seconds * 1_000_000_000;
        let mut moved = base.clone();
        moved.now = UnixTime(moved.now.0 + shift);
        for c in &mut moved.containers {
            for x in &mut c.cpu_samples { x.t = UnixTime(x.t.0 + shift); }
            for x in &mut c.memory_samples { x.t = UnixTime(x.t.0 + shift); }
            for x in &mut c.oom_events { x.t = UnixTime(x.t.0 + shift); }
        }
        prop_assert_eq!(recommend(&base).unwrap(), recommend(&moved).unwrap());
    }

    #[test]
    fn checkpoint_round_trip(
        s in samples(),
        ooms in prop::collection::vec((0i64..100_000, 0i64..2_000_000_000), 0..3),
    ) {
        let cfg = RecommenderConfig::default();
        let req = request_from(&s, &ooms, cfg.clone());
        let state = aggregate_container(&cfg, 0, &req.containers[0]).unwrap();
        // Checkpoint once the open window has closed, so nothing is subtracted.
        let now = state.window_end().unwrap_or(req.now.0).max(req.now.0);
        let cp = state.to_checkpoint(&cfg, now);
        let back = AggregateContainerState::from_checkpoint(&cfg, &cp).unwrap();
        // Saving the restored state gives the same checkpoint: restarts do not drift.
        prop_assert_eq!(&back.to_checkpoint(&cfg, now), &cp);
        let again = AggregateContainerState::from_checkpoint(&cfg, &back.to_checkpoint(&cfg, now)).unwrap();
        let min = minimum_share(&cfg, 1);
        prop_assert_eq!(estimate_container(&cfg, &back, min), estimate_container(&cfg, &again, min));
        // Against the live state: bucket weights were rounded to 1/10000 of the heaviest, so each cumulative
        // fraction moved by at most 176 × 0.5/10000 < 0.01. The restored answer lies between the live answers
        // at every percentile shifted down and up by 0.01 (equal in all but near-tie cases).
        let shifted = |d: f64| {
            let p = |x: f64| (x + d).clamp(0.0, 1.0);
            RecommenderConfig {
                target_cpu_percentile: p(cfg.target_cpu_percentile),
                target_memory_percentile: p(cfg.target_memory_percentile),
                lower_bound_cpu_percentile: p(cfg.lower_bound_cpu_percentile),
                lower_bound_memory_percentile: p(cfg.lower_bound_memory_percentile),
                upper_bound_cpu_percentile: p(cfg.upper_bound_cpu_percentile),
                upper_bound_memory_percentile: p(cfg.upper_bound_memory_percentile),
                ..cfg.clone()
            }
        };
        let low = estimate_container(&shifted(-0.01), &state, min);
        let high = estimate_container(&shifted(0.01), &state, min);
        let restored = estimate_container(&cfg, &back, min);
        for (l, r, h) in [
            (low.target, restored.target, high.target),
            (low.lower_bound, restored.lower_bound, high.lower_bound),
            (low.upper_bound, restored.upper_bound, high.upper_bound),
        ] {
            prop_assert!(l.cpu_millicores <= r.cpu_millicores && r.cpu_millicores <= h.cpu_millicores, "{l:?} {r:?} {h:?}");
            prop_assert!(l.memory_bytes <= r.memory_bytes && r.memory_bytes <= h.memory_bytes, "{l:?} {r:?} {h:?}");
        }
        prop_assert_eq!(state.total_samples_count(), back.total_samples_count());
    }

    #[test]
    fn histogram_loader_never_panics(
        weights in prop::collection::btree_map(any::<u32>(), any::<u32>(), 0..8),
        small in prop::collection::btree_map(0u32..200, any::<u32>(), 0..8),
        total in prop_oneof![any::<f64>(), Just(f64::NAN), Just(f64::INFINITY), Just(-1.0), 0.0f64..1e6],
        reference in any::<i64>(),
        first in any::<i64>(), last in any::<i64>(), count in any::<u64>(),
        version in prop_oneof![Just("v3".to_owned()), "\\PC{0,4}"],
    ) {
        let cfg = RecommenderConfig::default();
        for bucket_weights in [weights, small] {
            let h = HistogramCheckpoint { reference_timestamp: reference, bucket_weights, total_weight: total };
            let mut plain = Histogram::<16>::new(&CPU_OPTIONS);
            if plain.load_checkpoint(&CPU_OPTIONS, &h, "h").is_ok() {
                let _ = plain.percentile(&CPU_OPTIONS, 0.9);
            }
            if let Ok(mut d) = DecayingHistogram::<4>::from_checkpoint(&MEMORY_OPTIONS, &h, "h") {
                d.add(&MEMORY_OPTIONS, cfg.memory_half_life_nanos(), 1e9, 1.0, NOW * 1_000_000_000);
                let _ = d.percentile(&MEMORY_OPTIONS, 0.5);
            }
            let cp = ContainerCheckpoint {
                version: version.clone(),
                last_update_time: 0,
                cpu_histogram: h.clone(),
                memory_histogram: h,
                first_sample_start: first,
                last_sample_start: last,
                total_samples_count: count,
            };
            if let Ok(mut s) = AggregateContainerState::from_checkpoint(&cfg, &cp) {
                s.add_cpu_sample(&cfg, NOW * 1_000_000_000, 100);
                s.add_memory_sample(&cfg, NOW * 1_000_000_000, 1_000_000);
                let _ = estimate::recommend(&cfg, &[("a", &s)], 0);
            }
        }
    }

    #[test]
    fn sparse_storage_matches_dense(
        ops in prop::collection::vec((0u8..4, 0.0f64..2_000.0, 0.0f64..3.0), 0..80),
    ) {
        // The same operations on a histogram with 4 inline buckets (moves to the heap) and one with 176 (always
        // inline, i.e. dense) give the same buckets, totals, min/max and percentiles.
        let o = &CPU_OPTIONS;
        let mut sparse = Histogram::<4>::new(o);
        let mut dense = Histogram::<176>::new(o);
        for (op, value, weight) in ops {
            match op {
                0 | 1 => { sparse.add(o, value, weight); dense.add(o, value, weight); }
                2 => { sparse.subtract(o, value, weight); dense.subtract(o, value, weight); }
                _ => { sparse.scale(o, weight / 2.0); dense.scale(o, weight / 2.0); }
            }
            prop_assert_eq!(sparse.min_max_bucket(), dense.min_max_bucket());
            prop_assert_eq!(sparse.total_weight().to_bits(), dense.total_weight().to_bits());
        }
        for b in 0..o.num_buckets {
            prop_assert_eq!(sparse.bucket_weight(b).to_bits(), dense.bucket_weight(b).to_bits(), "bucket {}", b);
        }
        for p in [0.0, 0.1, 0.5, 0.9, 0.95, 1.0] {
            prop_assert_eq!(sparse.percentile(o, p).to_bits(), dense.percentile(o, p).to_bits());
        }
        prop_assert_eq!(sparse.to_checkpoint(), dense.to_checkpoint());
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        if let Ok(req) = parse(&text) {
            let _ = recommend(&req);
        }
    }

    #[test]
    fn arbitrary_numbers_never_panic(
        ts in prop::collection::vec(any::<i64>(), 1..6),
        values in prop::collection::vec(any::<f64>(), 1..6),
        half_life in any::<i64>(), interval in any::<i64>(), pct in any::<f64>(),
    ) {
        let mut cpu = BTreeMap::new();
        for (i, t) in ts.iter().enumerate() {
            cpu.insert(i, (*t / 1_000_000_000, values[i % values.len()]));
        }
        let cfg = RecommenderConfig {
            cpu_half_life_seconds: half_life, memory_aggregation_interval_seconds: interval,
            target_cpu_percentile: pct, ..RecommenderConfig::default()
        };
        let c = ContainerInput {
            name: "a".to_owned(),
            cpu_samples: cpu.values().map(|&(t, v)| CpuSample { t: UnixTime::from_secs(t), cores: v }).collect(),
            memory_samples: cpu.values().map(|&(t, v)| MemorySample { t: UnixTime::from_secs(t), bytes: v }).collect(),
            oom_events: cpu.values().map(|&(t, v)| OomEvent { t: UnixTime::from_secs(t), request_bytes: v }).collect(),
        };
        let req = RecommendRequest { now: UnixTime::from_secs(ts[0] / 1_000_000_000), containers: vec![c], config: cfg };
        let _ = recommend(&req);
    }
}
