//! Criterion benches of the ksx scheduler: a 500-node, 1,000-pod slice of the `ksx-bench sched` workload,
//! filter and score on every node (fast path, and the straightforward reference path it is tested against), and
//! the same with the adaptive `percentageOfNodesToScore`.
#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented public function"
)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ksx_benches::{sched_run, sched_run_with, sched_workload};

fn sched(c: &mut Criterion) {
    let w = sched_workload(500, 1_000, 7).expect("workload");
    let mut g = c.benchmark_group("sched");
    g.sample_size(10);
    g.throughput(Throughput::Elements(w.pending.len() as u64));
    g.bench_function("500_nodes_1k_pods_all_nodes", |b| {
        b.iter(|| sched_run(&w, 100, 1).expect("run"));
    });
    g.bench_function("500_nodes_1k_pods_all_nodes_reference", |b| {
        b.iter(|| sched_run_with(&w, 100, 1, true).expect("run"));
    });
    g.bench_function("500_nodes_1k_pods_adaptive", |b| {
        b.iter(|| sched_run(&w, 0, 1).expect("run"));
    });
    g.finish();
}

criterion_group!(benches, sched);
criterion_main!(benches);
