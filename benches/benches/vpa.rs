//! Criterion benches of the VPA recommender: one round of CPU and memory samples into 10,000 warm container
//! aggregates, and recommendations for the same 10,000 containers.
#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented public function"
)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ksx_benches::vpa::{VPA_START, VpaWorkload};

const CONTAINERS: usize = 10_000;

fn vpa(c: &mut Criterion) {
    let mut w = VpaWorkload::new(CONTAINERS, 7);
    // A day of samples every 10 minutes, so the histograms have their usual spread.
    w.feed_rounds(0, 144, 600, 1);
    let mut g = c.benchmark_group("vpa");
    g.throughput(Throughput::Elements(2 * CONTAINERS as u64));
    // Round numbers in minutes after the warm-up day.
    let mut round = 144 * 10;
    g.bench_function("ingest_round_10k_containers", |b| {
        b.iter(|| {
            round += 1;
            w.feed_rounds(round, 1, 60, 1)
        });
    });
    g.throughput(Throughput::Elements(CONTAINERS as u64));
    let now = VPA_START + (round + 1) * 60_000_000_000;
    g.bench_function("recommend_10k_containers", |b| {
        b.iter(|| w.recommend_all(now, 1));
    });
    g.finish();
}

criterion_group!(benches, vpa);
criterion_main!(benches);
