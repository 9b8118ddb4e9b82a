//! Criterion benches of ksx-core: quantity parsing and printing, in-memory cluster lists and rolling updates.
#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented public function"
)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ksx_benches::{
    cluster_with_deployment, cluster_with_pods, list_all_pods, quantity_inputs, rolling_update,
};
use ksx_core::quantity::Quantity;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn quantity(c: &mut Criterion) {
    let inputs = quantity_inputs(10_000, 7);
    let parsed: Vec<Quantity> = inputs
        .iter()
        .map(|s| s.parse().expect("valid input"))
        .collect();
    let mut g = c.benchmark_group("quantity");
    g.throughput(Throughput::Elements(inputs.len() as u64));
    g.bench_function("parse_10k", |b| {
        b.iter(|| {
            inputs
                .iter()
                .filter(|s| s.parse::<Quantity>().is_ok())
                .count()
        });
    });
    g.bench_function("format_10k", |b| {
        b.iter(|| parsed.iter().map(|q| q.to_string().len()).sum::<usize>());
    });
    g.bench_function("milli_value_10k", |b| {
        b.iter(|| parsed.iter().map(Quantity::milli_value).sum::<i64>());
    });
    g.finish();
}

fn cluster(c: &mut Criterion) {
    let rt = runtime();
    let pods = rt.block_on(cluster_with_pods(10_000)).expect("cluster");
    let mut g = c.benchmark_group("in_memory_cluster");
    g.sample_size(20);
    g.bench_function("list_10k_pods", |b| {
        b.iter(|| rt.block_on(list_all_pods(&pods)).expect("list"));
    });
    let deployment = rt
        .block_on(cluster_with_deployment(1000))
        .expect("deployment");
    let mut version = 0_u64;
    g.sample_size(10);
    g.bench_function("rolling_update_1k_replicas", |b| {
        b.iter(|| {
            version += 1;
            rt.block_on(rolling_update(&deployment, 1000, &format!("web:{version}")))
                .expect("rollout")
        });
    });
    g.finish();
}

criterion_group!(benches, quantity, cluster);
criterion_main!(benches);
