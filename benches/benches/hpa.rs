//! Criterion benches of the HPA engine: one metric's replica calculation over 50 pods, one normalization with
//! the default behavior, and a full decision (three metrics, the maximum, normalization).
#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented public function"
)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ksx_benches::hpa::{HPA_START, decide, hpa_workload, normalize_one, replica_calc};
use ksx_scaling::hpa::History;

const HPAS: usize = 1_000;

fn hpa(c: &mut Criterion) {
    let w = hpa_workload(HPAS, 50, 7);
    let mut g = c.benchmark_group("hpa");
    g.throughput(Throughput::Elements(HPAS as u64));
    g.bench_function("replica_calc_cpu_1k_hpas_50_pods", |b| {
        b.iter(|| {
            w.hpas
                .iter()
                .map(|h| i64::from(replica_calc(&w, h, 0, HPA_START, 10)))
                .sum::<i64>()
        });
    });
    let mut histories = vec![History::default(); HPAS];
    let mut now = HPA_START;
    g.bench_function("normalize_1k_hpas", |b| {
        b.iter(|| {
            now += 15_000_000_000;
            w.hpas
                .iter()
                .zip(histories.iter_mut())
                .enumerate()
                .map(|(i, (h, hist))| {
                    let desired = i32::try_from(i % 40).unwrap_or(0) + 1;
                    i64::from(normalize_one(h, hist, now, 10, desired))
                })
                .sum::<i64>()
        });
    });
    let mut histories = vec![History::default(); HPAS];
    let mut now = HPA_START;
    g.bench_function("decide_1k_hpas_3_metrics_50_pods", |b| {
        b.iter(|| {
            now += 15_000_000_000;
            w.hpas
                .iter()
                .zip(histories.iter_mut())
                .map(|(h, hist)| i64::from(decide(&w, h, hist, now, 10)))
                .sum::<i64>()
        });
    });
    g.finish();
}

criterion_group!(benches, hpa);
criterion_main!(benches);
