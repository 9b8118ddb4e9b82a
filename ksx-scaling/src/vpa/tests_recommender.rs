//! Unit tests of the recommender rules with hand-computed numbers: bucket layout, percentiles, decay and its
//! reference shift, memory windows, OOM bump-ups, confidence multipliers, minimum share, margin, capping and
//! proportional limits.

#![allow(
    clippy::float_cmp,
    reason = "the recommender's math is exact: weights and bucket starts are compared bit for bit"
)]

use std::collections::BTreeMap;

use ksx_core::quantity::Quantity;

use super::aggregate::{AggregateContainerState, MAX_RESOURCE_AMOUNT, amount_from_float};
use super::checkpoint::HistogramCheckpoint;
use super::config::RecommenderConfig;
use super::crd::{
    ContainerResourcePolicy, ControlledValues, PodResourcePolicy, RecommendedContainerResources,
    ResourceList, VpaSpec,
};
use super::estimate::{
    Estimate, apply_policy, confidence, estimate_container, go_pow, limits_for, minimum_share,
    recommend, resource_list,
};
use super::histogram::{
    CPU_OPTIONS, DecayingHistogram, EPSILON, Histogram, HistogramOptions, MEMORY_OPTIONS,
};

const S: i64 = 1_000_000_000;
const H: i64 = 3_600 * S;
const DAY: i64 = 24 * H;
const MIB: i64 = 1024 * 1024;
/// An arbitrary engine time: 2023-11-14T22:13:20Z.
const T0: i64 = 1_700_000_000 * S;

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

fn q(s: &str) -> Quantity {
    Quantity::parse(s).unwrap()
}

fn list(pairs: &[(&str, &str)]) -> ResourceList {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), q(v))).collect()
}

#[test]
fn bucket_layout_matches_the_spec() {
    // numBuckets = ceil(log_1.05(1000 × 0.05/0.01 + 1)) + 1 = ceil(174.57) + 1 = 176; same for memory.
    let cpu = HistogramOptions::exponential(1000.0, 0.01, 1.05, EPSILON).unwrap();
    let mem = HistogramOptions::exponential(1e12, 1e7, 1.05, EPSILON).unwrap();
    assert_eq!(cpu.num_buckets, 176);
    assert_eq!(mem.num_buckets, 176);
    assert_eq!(cpu, CPU_OPTIONS);
    assert_eq!(CPU_OPTIONS.ln_ratio.to_bits(), 1.05f64.ln().to_bits());
    assert_eq!(mem, MEMORY_OPTIONS);
    // 0.1 core: log_1.05(0.1 × 5 + 1) = ln 1.5/ln 1.05 = 8.31 → bucket 8 = [0.0955, 0.1103).
    assert_eq!(CPU_OPTIONS.find_bucket(0.1), 8);
    assert!(close(
        CPU_OPTIONS.bucket_start(8),
        0.095_491_088_757_812_6,
        1e-15
    ));
    assert!(close(
        CPU_OPTIONS.bucket_start(9),
        0.110_265_643_195_703_24,
        1e-15
    ));
    // 250 MiB = 262144000 B: log_1.05(262144000/2e8 + 1) = 17.17 → bucket 17, which starts at 258403663.56.
    assert_eq!(MEMORY_OPTIONS.find_bucket(262_144_000.0), 17);
    assert!(close(
        MEMORY_OPTIONS.bucket_start(17),
        258_403_663.560_206_8,
        1e-6
    ));
    // Below the first bucket size: bucket 0; bucket 1 starts exactly at the first size.
    assert_eq!(CPU_OPTIONS.find_bucket(0.009), 0);
    assert_eq!(CPU_OPTIONS.find_bucket(0.01), 1);
    assert_eq!(CPU_OPTIONS.bucket_start(0), 0.0);
    // The last bucket starts at 0.2 × (1.05^175 − 1) ≈ 1021.11 cores; anything above lands there.
    assert!(close(
        CPU_OPTIONS.bucket_start(175),
        1_021.109_408_904_865_9,
        1e-9
    ));
    assert_eq!(CPU_OPTIONS.find_bucket(5000.0), 175);
    assert_eq!(CPU_OPTIONS.find_bucket(f64::NAN), 0);
}

#[test]
fn percentile_is_the_start_of_the_next_bucket() {
    let o = &CPU_OPTIONS;
    let mut h = Histogram::<16>::new(o);
    assert!(h.is_empty(o));
    assert_eq!(h.percentile(o, 0.5), 0.0);
    // 0.1 core → bucket 8, 0.5 core → bucket 25 (log_1.05 3.5 = 25.68), weight 1 each, total 2.
    h.add(o, 0.1, 1.0);
    h.add(o, 0.5, 1.0);
    assert_eq!(h.min_max_bucket(), (8, 25));
    // p = 0.5: threshold 1, reached at bucket 8 → start of bucket 9 = 0.110266.
    assert!(close(h.percentile(o, 0.5), 0.110_265_643_195_703_24, 1e-15));
    // p = 0.9: threshold 1.8, never reached before maxBucket → start of bucket 26 = 0.2 × (1.05^26 − 1).
    assert!(close(h.percentile(o, 0.9), 0.511_134_537_588_871_5, 1e-15));
    // The last bucket returns its own start.
    let mut top = Histogram::<16>::new(o);
    top.add(o, 5000.0, 1.0);
    assert!(close(top.percentile(o, 0.9), 1_021.109_408_904_865_9, 1e-9));
}

#[test]
fn epsilon_guards_min_and_max() {
    let o = &CPU_OPTIONS;
    let mut h = Histogram::<16>::new(o);
    // A weight below epsilon (1e-4) changes the total but neither minBucket nor maxBucket: still empty.
    h.add(o, 0.1, 0.5e-4);
    assert!(h.is_empty(o));
    assert_eq!(h.min_max_bucket(), (175, 0));
    // A second small weight brings bucket 8 to 1e-4 ≥ epsilon.
    h.add(o, 0.1, 0.5e-4);
    assert_eq!(h.min_max_bucket(), (8, 8));
    assert!(!h.is_empty(o));
}

#[test]
fn subtract_zeroes_below_epsilon_and_moves_min_max_inward() {
    let o = &CPU_OPTIONS;
    let mut h = Histogram::<16>::new(o);
    h.add(o, 0.1, 1.0); // bucket 8
    h.add(o, 0.5, 1.0); // bucket 25
    h.add(o, 1.0, 1.0); // bucket 37: log_1.05(6) = 36.72 → 36
    let b1 = o.find_bucket(1.0);
    assert_eq!(b1, 36);
    // 1 − 0.99995 = 5e-5 < epsilon → 0; the max moves from 36 down to 25.
    h.subtract(o, 1.0, 0.999_95);
    assert_eq!(h.bucket_weight(36), 0.0);
    assert_eq!(h.min_max_bucket(), (8, 25));
    assert!(close(h.total_weight(), 2.000_05, 1e-12));
    h.subtract(o, 0.1, 1.0);
    assert_eq!(h.min_max_bucket(), (25, 25));
}

#[test]
fn merge_adds_buckets_and_totals() {
    let o = &CPU_OPTIONS;
    let mut a = Histogram::<16>::new(o);
    a.add(o, 0.5, 1.0);
    let mut b = Histogram::<16>::new(o);
    b.add(o, 0.1, 2.0);
    b.add(o, 0.5, 1.0);
    a.merge(&b);
    assert_eq!(a.min_max_bucket(), (8, 25));
    assert_eq!(a.bucket_weight(25), 2.0);
    assert_eq!(a.bucket_weight(8), 2.0);
    assert_eq!(a.total_weight(), 4.0);
}

#[test]
fn checkpoint_scales_to_10000_and_loads_back() {
    let o = &CPU_OPTIONS;
    let mut h = Histogram::<16>::new(o);
    h.add(o, 0.1, 3.0);
    h.add(o, 0.5, 1.0);
    h.add(o, 0.5, 0.5);
    // Heaviest 3 → 10000; 1.5 → 5000; the total stays 4.5.
    let cp = h.to_checkpoint();
    assert_eq!(
        cp.bucket_weights,
        BTreeMap::from([(8, 10_000), (25, 5_000)])
    );
    assert_eq!(cp.total_weight, 4.5);
    // Loading scales by 4.5/15000: 10000 → 3, 5000 → 1.5.
    let mut back = Histogram::<16>::new(o);
    back.load_checkpoint(o, &cp, "cpuHistogram").unwrap();
    assert!(close(back.bucket_weight(8), 3.0, 1e-12));
    assert!(close(back.bucket_weight(25), 1.5, 1e-12));
    assert_eq!(back.min_max_bucket(), (8, 25));
    assert_eq!(back.to_checkpoint(), cp);
}

#[test]
fn checkpoint_loading_rejects_bad_data_naming_the_field() {
    let o = &MEMORY_OPTIONS;
    let bad_total = HistogramCheckpoint {
        total_weight: -1.0,
        bucket_weights: BTreeMap::from([(3, 10)]),
        ..HistogramCheckpoint::default()
    };
    let e = Histogram::<16>::new(o)
        .load_checkpoint(o, &bad_total, "memoryHistogram")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("memoryHistogram.totalWeight:"), "{e}");
    let bad_index = HistogramCheckpoint {
        total_weight: 1.0,
        bucket_weights: BTreeMap::from([(176, 10)]),
        ..HistogramCheckpoint::default()
    };
    let e = Histogram::<16>::new(o)
        .load_checkpoint(o, &bad_index, "memoryHistogram")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("memoryHistogram.bucketWeights[176]:"), "{e}");
    // Negative weights do not decode at all.
    let neg: Result<HistogramCheckpoint, _> =
        serde_json::from_str(r#"{"bucketWeights": {"3": -1}, "totalWeight": 1}"#);
    assert!(neg.is_err());
    // Zero weights: nothing is added, not even the total (upstream returns early).
    let zeros = HistogramCheckpoint {
        total_weight: 5.0,
        bucket_weights: BTreeMap::from([(3, 0)]),
        ..HistogramCheckpoint::default()
    };
    let mut h = Histogram::<16>::new(o);
    h.load_checkpoint(o, &zeros, "m").unwrap();
    assert_eq!(h.total_weight(), 0.0);
}

#[test]
fn decaying_reference_shift() {
    let o = &CPU_OPTIONS;
    let mut h = DecayingHistogram::<16>::new(o);
    // The first sample moves the reference from the zero time to t0 rounded to a day:
    // 1700000000 s = 19675 days + 80000 s, 80000 ≥ 43200 → rounds up to 19676 days = 1700006400 s.
    h.add(o, DAY, 0.1, 1.0, T0);
    assert_eq!(h.reference(), Some(1_700_006_400 * S));
    // Weight 2^((t0 − ref)/24h) = 2^(−6400/86400) = 0.9499516.
    assert!(close(
        h.histogram().total_weight(),
        0.949_951_607_083_598_9,
        1e-12
    ));
    // Within 100 half-lives: no shift, and a sample one half-life later weighs twice as much.
    h.add(o, DAY, 0.5, 1.0, T0 + DAY);
    assert_eq!(h.reference(), Some(1_700_006_400 * S));
    assert!(close(
        h.histogram().bucket_weight(25),
        2.0 * 0.949_951_607_083_598_9,
        1e-12
    ));
    // 101 days later: past ref + 100 days → new ref 1708732800 s (same rounding), weights × 2^−101, far below
    // epsilon: both old buckets leave [minBucket, maxBucket] but stay in the total.
    let t1 = T0 + 101 * DAY;
    h.add(o, DAY, 1.0, 1.0, t1);
    assert_eq!(h.reference(), Some(1_708_732_800 * S));
    let b = o.find_bucket(1.0);
    assert_eq!(h.histogram().min_max_bucket(), (b, b));
    assert!(close(
        h.histogram().bucket_weight(b),
        0.949_951_607_083_598_9,
        1e-12
    ));
    assert!(h.histogram().bucket_weight(8) < 1e-30 && h.histogram().bucket_weight(8) > 0.0);
    // The percentile only sees the new bucket.
    assert_eq!(h.percentile(o, 0.01), o.bucket_start(b + 1));
}

#[test]
fn decaying_shift_counts_from_year_one() {
    // A 7-hour half-life does not divide a day: multiples are counted from 0001-01-01, which is 719162 days
    // before the Unix epoch. 62135596800 s mod 25200 = 7200, so the multiples sit at Unix ≡ −7200 ≡ 18000
    // (mod 25200), not at multiples of 25200 from the epoch.
    let o = &CPU_OPTIONS;
    let hl = 7 * H;
    let mut h = DecayingHistogram::<16>::new(o);
    h.add(o, hl, 0.1, 1.0, 18_000 * S + 1000 * 25_200 * S);
    assert_eq!(h.reference(), Some(18_000 * S + 1000 * 25_200 * S));
    // 12600 s past a multiple is exactly half: ties round up.
    let mut h = DecayingHistogram::<16>::new(o);
    h.add(o, hl, 0.1, 1.0, (18_000 + 12_600) * S + 1000 * 25_200 * S);
    assert_eq!(h.reference(), Some(18_000 * S + 1001 * 25_200 * S));
}

#[test]
fn decaying_merge_moves_the_older_reference() {
    let o = &CPU_OPTIONS;
    let mut a = DecayingHistogram::<16>::new(o);
    a.add(o, DAY, 0.1, 1.0, T0);
    let mut b = DecayingHistogram::<16>::new(o);
    b.add(o, DAY, 0.5, 1.0, T0 + 150 * DAY);
    let ref_b = b.reference();
    a.merge(o, DAY, &b);
    assert_eq!(a.reference(), ref_b);
    // a's weight shrank by 2^−150: only b's bucket is left in range.
    assert_eq!(a.histogram().min_max_bucket(), (25, 25));
}

fn state() -> (RecommenderConfig, AggregateContainerState) {
    let cfg = RecommenderConfig::default();
    let s = AggregateContainerState::new(&cfg);
    (cfg, s)
}

#[test]
fn cpu_samples_must_be_strictly_after_the_previous_one() {
    let (cfg, mut s) = state();
    assert!(s.add_cpu_sample(&cfg, T0, 100));
    assert!(!s.add_cpu_sample(&cfg, T0, 200), "same time");
    assert!(!s.add_cpu_sample(&cfg, T0 - S, 200), "earlier");
    assert!(!s.add_cpu_sample(&cfg, T0 + S, -1), "negative");
    assert!(s.add_cpu_sample(&cfg, T0 + 60 * S, 300));
    assert_eq!(s.total_samples_count(), 2);
    assert_eq!(s.first_sample_start(), Some(T0));
    assert_eq!(s.last_sample_start(), Some(T0 + 60 * S));
    // Each sample weighs 0.1 (decayed): 0.1 × 2^(−6400/86400) for the first.
    let total = s.cpu_histogram().histogram().total_weight();
    let w0 = 0.1 * 0.949_951_607_083_598_9;
    assert!(close(total, w0 + w0 * (60.0f64 / 86_400.0).exp2(), 1e-12));
}

#[test]
fn memory_window_rules() {
    let (cfg, mut s) = state();
    let m = |mb: i64| mb * 1_000_000;
    let bucket = |v: i64| MEMORY_OPTIONS.find_bucket(v as f64);
    // Rule 3 on the first sample: windowEnd = t0 + 24 h, the peak goes there.
    assert!(s.add_memory_sample(&cfg, T0, m(100)));
    assert_eq!(s.window_end(), Some(T0 + DAY));
    let hist = |s: &AggregateContainerState| s.memory_histogram().histogram().clone();
    assert!(hist(&s).bucket_weight(bucket(m(100))) > 0.0);
    // Rule 2: a higher sample in the window replaces the peak (100 MB subtracted, 200 MB added at windowEnd).
    assert!(s.add_memory_sample(&cfg, T0 + H, m(200)));
    assert_eq!(hist(&s).bucket_weight(bucket(m(100))), 0.0);
    let w200 = hist(&s).bucket_weight(bucket(m(200)));
    assert!(w200 > 0.0);
    // A lower one changes nothing.
    assert!(s.add_memory_sample(&cfg, T0 + 2 * H, m(150)));
    assert_eq!(hist(&s).bucket_weight(bucket(m(150))), 0.0);
    // Rule 1: an earlier sample is dropped; the same time is accepted.
    assert!(!s.add_memory_sample(&cfg, T0 + H, m(900)));
    assert!(s.add_memory_sample(&cfg, T0 + 2 * H, m(150)));
    // Rule 3: 25 h → windowEnd += trunc(1 h / 24 h) × 24 h + 24 h = t0 + 48 h.
    assert!(s.add_memory_sample(&cfg, T0 + 25 * H, m(50)));
    assert_eq!(s.window_end(), Some(T0 + 48 * H));
    // 100 h: elapsed 52 h → trunc to 48 h, + 24 h → windowEnd = t0 + 120 h.
    assert!(s.add_memory_sample(&cfg, T0 + 100 * H, m(60)));
    assert_eq!(s.window_end(), Some(T0 + 120 * H));
    // Memory samples do not count as samples for confidence.
    assert_eq!(s.total_samples_count(), 0);
    assert_eq!(s.last_sample_start(), None);
}

#[test]
fn a_zero_peak_is_never_raised() {
    let (cfg, mut s) = state();
    assert!(s.add_memory_sample(&cfg, T0, 0));
    assert!(s.add_memory_sample(&cfg, T0 + H, 500 * MIB));
    let h = s.memory_histogram().histogram();
    assert!(h.bucket_weight(0) > 0.0);
    assert_eq!(
        h.bucket_weight(MEMORY_OPTIONS.find_bucket((500 * MIB) as f64)),
        0.0
    );
}

#[test]
fn oom_bump_up() {
    let (cfg, mut s) = state();
    // Request 256 MiB, no memory peak: max(268435456 + 104857600, trunc(268435456 × 1.2) = 322122547)
    // = 373293056 B = 356 MiB, which falls in bucket 21 (log_1.05(373293056/2e8 + 1) = 21.58).
    assert!(s.record_oom(&cfg, T0, 256 * MIB));
    let h = s.memory_histogram().histogram();
    assert_eq!(MEMORY_OPTIONS.find_bucket((356 * MIB) as f64), 21);
    assert_eq!(h.min_max_bucket(), (21, 21));
    // A second OOM with a peak of 1 GiB from a memory sample: used = 1 GiB, × 1.2 = 1288490188 wins over
    // 1 GiB + 100 MiB = 1178599424.
    let (cfg, mut s) = state();
    assert!(s.add_memory_sample(&cfg, T0, 1024 * MIB));
    assert!(s.record_oom(&cfg, T0 + H, 256 * MIB));
    let b = MEMORY_OPTIONS.find_bucket(1_288_490_188.0);
    let h = s.memory_histogram().histogram();
    assert_eq!(h.min_max_bucket(), (b, b));
    assert_eq!(
        h.bucket_weight(MEMORY_OPTIONS.find_bucket((1024 * MIB) as f64)),
        0.0
    );
}

#[test]
fn old_oom_events_are_dropped() {
    let (cfg, mut s) = state();
    assert!(s.add_memory_sample(&cfg, T0 + 48 * H, 100 * MIB));
    // Older than the last memory sample minus one interval (t0 + 24 h): dropped.
    assert!(!s.record_oom(&cfg, T0 + 23 * H, 256 * MIB));
    // Exactly at the limit: accepted even though earlier than the last memory sample.
    assert!(s.record_oom(&cfg, T0 + 24 * H, 256 * MIB));
}

#[test]
fn confidence_multiplier_table() {
    // Upper × (1 + 1/conf), lower × (1 + 0.001/conf)^−2, conf in days.
    let up = |conf: f64| go_pow(1.0 + 1.0 / conf, 1.0);
    let low = |conf: f64| go_pow(1.0 + 0.001 / conf, -2.0);
    let d = |minutes: f64| minutes / 1440.0;
    assert!(close(up(d(5.0)), 289.0, 1e-9));
    assert!(close(up(d(30.0)), 49.0, 1e-9));
    assert!(close(up(d(60.0)), 25.0, 1e-9));
    assert!(close(up(0.5), 3.0, 1e-12));
    assert!(close(up(1.0), 2.0, 1e-12));
    assert!(close(up(7.0), 1.142_857_142_857_142_8, 1e-12));
    // 1/1.288² = 0.60279, 1/1.048² = 0.91049, 1/1.024² = 0.95367, 1/1.001² = 0.998003.
    assert!(close(low(d(5.0)), 0.602_793_102_117_973_8, 1e-12));
    assert!(close(low(d(30.0)), 0.910_494_726_414_544_5, 1e-12));
    assert!(close(low(d(60.0)), 0.953_674_316_406_25, 1e-12));
    assert!(close(low(1.0), 0.998_002_996_004_994, 1e-12));
    // No history: upper ∞, lower 0.
    assert_eq!(up(0.0), f64::INFINITY);
    assert_eq!(low(0.0), 0.0);
    // Go's integer-power path agrees with powf within an ulp or two.
    for x in [1.5, 2.25, 1.001, 289.0] {
        assert!(close(
            go_pow(x, -2.0),
            x.powf(-2.0),
            1e-15 * x.powf(-2.0).max(1.0)
        ));
    }
}

#[test]
fn confidence_from_a_sample_a_minute() {
    let (cfg, mut s) = state();
    // 720 samples, one a minute for 12 h: min(719/1440, 720/1440) = 0.499306.
    for i in 0..720 {
        assert!(s.add_cpu_sample(&cfg, T0 + i * 60 * S, 100));
    }
    assert!(close(confidence(&cfg, &s), 719.0 / 1440.0, 1e-12));
    // Sparse samples: 3 over 7 days → limited by the count, 3/1440.
    let (cfg, mut s) = state();
    for i in 0..3 {
        assert!(s.add_cpu_sample(&cfg, T0 + i * 3 * DAY + i, 100));
    }
    assert!(close(confidence(&cfg, &s), 3.0 / 1440.0, 1e-12));
}

#[test]
fn minimum_share_splits_the_pod_minimum() {
    let cfg = RecommenderConfig::default();
    // trunc(25 × 1/3) = 8, trunc(262144000 × 1/3) = 87381333.
    assert_eq!(
        minimum_share(&cfg, 3),
        Estimate {
            cpu_millicores: 8,
            memory_bytes: 87_381_333
        }
    );
    assert_eq!(
        minimum_share(&cfg, 1),
        Estimate {
            cpu_millicores: 25,
            memory_bytes: 262_144_000
        }
    );
}

#[test]
fn amounts_truncate_clamp_and_cap() {
    assert_eq!(amount_from_float(1.9), 1);
    assert_eq!(amount_from_float(-5.0), 0);
    assert_eq!(amount_from_float(f64::NAN), 0);
    assert_eq!(amount_from_float(f64::INFINITY), MAX_RESOURCE_AMOUNT);
    assert_eq!(amount_from_float(2e14), 100_000_000_000_000);
}

#[test]
fn one_sample_estimate_by_hand() {
    let (cfg, mut s) = state();
    // 250m → bucket 16 (log_1.05 2.25 = 16.62); every percentile returns the start of bucket 17, 0.2584037
    // cores → 258m; margin 258 + trunc(38.7) = 296m.
    assert!(s.add_cpu_sample(&cfg, T0, 250));
    // 256 MiB → bucket 17; start of bucket 18 = 281323846.7 → 281323846; margin + 42198576 = 323522422.
    assert!(s.add_memory_sample(&cfg, T0, 256 * MIB));
    let min = minimum_share(&cfg, 1);
    let e = estimate_container(&cfg, &s, min);
    assert_eq!(
        e.target,
        Estimate {
            cpu_millicores: 296,
            memory_bytes: 323_522_422
        }
    );
    // One sample: conf = min(0, 1/1440) = 0 → lower × 0 → the minimum share; upper × ∞ → capped at 1e14.
    assert_eq!(e.lower_bound, min);
    assert_eq!(
        e.upper_bound,
        Estimate {
            cpu_millicores: MAX_RESOURCE_AMOUNT,
            memory_bytes: MAX_RESOURCE_AMOUNT
        }
    );
}

#[test]
fn margin_adds_the_truncated_fraction() {
    // Base 100 (one CPU sample whose percentile gives exactly 100m is hard to build; check the rule on the
    // formula): 100 + trunc(100 × 0.15 = 15.000000000000002) = 115, while trunc(100 × 1.15 = 114.99999999999999)
    // would give 114.
    let base: i64 = 100;
    let margin = base + super::aggregate::scale_resource(base, 0.15);
    assert_eq!(margin, 115);
    assert_eq!(amount_from_float(100.0 * 1.15), 114);
}

#[test]
fn empty_containers_get_the_minimum_and_nan_bounds_become_it() {
    let (cfg, s) = state();
    let recs = recommend(&cfg, &[("b", &s), ("a", &s), ("c", &s)], T0);
    let names: Vec<&str> = recs.iter().map(|r| r.container_name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);
    // 0 × ∞ = NaN for the upper bound, replaced by the minimum share like the others: 8m, 87381333.
    for r in &recs {
        for l in [
            &r.target,
            &r.lower_bound,
            &r.upper_bound,
            &r.uncapped_target,
        ] {
            assert_eq!(l["cpu"].to_string(), "8m");
            assert_eq!(l["memory"].to_string(), "87381333");
        }
    }
}

#[test]
fn canonical_quantities() {
    let l = resource_list(Estimate {
        cpu_millicores: 150,
        memory_bytes: 123_456_000,
    });
    assert_eq!(l["cpu"].to_string(), "150m");
    assert_eq!(l["memory"].to_string(), "123456k");
    let l = resource_list(Estimate {
        cpu_millicores: 2000,
        memory_bytes: 999_999_999,
    });
    assert_eq!(l["cpu"].to_string(), "2");
    assert_eq!(l["memory"].to_string(), "999999999");
    // 256 MiB prints in decimal, never as 256Mi.
    let l = resource_list(Estimate {
        cpu_millicores: 0,
        memory_bytes: 268_435_456,
    });
    assert_eq!(l["memory"].to_string(), "268435456");
}

fn rec(target: &[(&str, &str)]) -> RecommendedContainerResources {
    RecommendedContainerResources {
        container_name: "app".to_owned(),
        target: list(target),
        lower_bound: list(&[("cpu", "10m"), ("memory", "100M")]),
        upper_bound: list(&[("cpu", "5"), ("memory", "10G")]),
        uncapped_target: list(target),
    }
}

#[test]
fn policy_caps_and_keeps_the_uncapped_target() {
    let spec = VpaSpec {
        resource_policy: Some(PodResourcePolicy {
            container_policies: vec![ContainerResourcePolicy {
                container_name: "*".to_owned(),
                min_allowed: Some(list(&[("cpu", "100m")])),
                max_allowed: Some(list(&[("cpu", "1"), ("memory", "1Gi")])),
                ..ContainerResourcePolicy::default()
            }],
        }),
        ..VpaSpec::default()
    };
    let out = apply_policy(&rec(&[("cpu", "50m"), ("memory", "2G")]), &spec);
    assert_eq!(out.target, list(&[("cpu", "100m"), ("memory", "1Gi")]));
    assert_eq!(
        out.uncapped_target,
        list(&[("cpu", "50m"), ("memory", "2G")])
    );
    assert_eq!(
        out.lower_bound,
        list(&[("cpu", "100m"), ("memory", "100M")])
    );
    assert_eq!(out.upper_bound, list(&[("cpu", "1"), ("memory", "1Gi")]));
    // controlledResources [cpu]: memory leaves every list.
    let spec = VpaSpec {
        resource_policy: Some(PodResourcePolicy {
            container_policies: vec![ContainerResourcePolicy {
                container_name: "app".to_owned(),
                controlled_resources: Some(vec!["cpu".to_owned()]),
                ..ContainerResourcePolicy::default()
            }],
        }),
        ..VpaSpec::default()
    };
    let out = apply_policy(&rec(&[("cpu", "50m"), ("memory", "2G")]), &spec);
    assert_eq!(out.target, list(&[("cpu", "50m")]));
    assert_eq!(out.upper_bound, list(&[("cpu", "5")]));
    assert_eq!(out.uncapped_target, list(&[("cpu", "50m")]));
}

#[test]
fn limits_keep_their_ratio() {
    let requests = list(&[("cpu", "100m"), ("memory", "100Mi")]);
    let limits = list(&[
        ("cpu", "300m"),
        ("memory", "200Mi"),
        ("ephemeral-storage", "1Gi"),
    ]);
    let recommended = list(&[("cpu", "250m"), ("memory", "150Mi")]);
    let out = limits_for(
        &requests,
        &limits,
        &recommended,
        ControlledValues::RequestsAndLimits,
    );
    // CPU 300 × 250 / 100 = 750m; memory 209715200 × 157286400 / 104857600 = 314572800 = 300Mi.
    assert_eq!(out["cpu"], q("750m"));
    assert_eq!(out["memory"], q("300Mi"));
    assert_eq!(out["ephemeral-storage"], q("1Gi"));
    // RequestsOnly leaves limits alone.
    let out = limits_for(
        &requests,
        &limits,
        &recommended,
        ControlledValues::RequestsOnly,
    );
    assert_eq!(out, limits);
    // No limit: none; no request or request = limit: limit = recommendation; floors 1000 × 333 / 700.
    let out = limits_for(
        &list(&[("cpu", "700m"), ("memory", "1Gi")]),
        &list(&[("cpu", "1"), ("memory", "1Gi")]),
        &list(&[("cpu", "333m"), ("memory", "2Gi")]),
        ControlledValues::RequestsAndLimits,
    );
    assert_eq!(out["cpu"], q("475m"));
    assert_eq!(out["memory"], q("2Gi"));
    let out = limits_for(
        &ResourceList::new(),
        &list(&[("cpu", "1")]),
        &list(&[("cpu", "333m"), ("memory", "2Gi")]),
        ControlledValues::RequestsAndLimits,
    );
    assert_eq!(out, list(&[("cpu", "333m")]));
}

#[test]
fn state_stays_small() {
    let (cfg, mut s) = state();
    // A day of samples a minute around 200–400m and 300–600 MB.
    for i in 0..1440i64 {
        let t = T0 + i * 60 * S;
        s.add_cpu_sample(&cfg, t, 200 + (i * 37) % 200);
        s.add_memory_sample(&cfg, t, 300_000_000 + (i * 7919) % 300_000_000);
    }
    assert!(s.state_bytes() < 2048, "{} bytes", s.state_bytes());
}
