//! Criterion benches of ksx-cache: requests per second of each eviction policy replaying a seeded Zipf trace.
#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented public function"
)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ksx_benches::{CACHE_CAPACITY, cache_trace};
use ksx_cache::PolicyKind;
use ksx_cache::sim::{policy_for, replay};
use ksx_cache::trace::TraceKind;

fn policies(c: &mut Criterion) {
    let trace = cache_trace(TraceKind::Zipf).expect("fixed trace");
    let mut g = c.benchmark_group("cache_policy_zipf_100k");
    g.throughput(Throughput::Elements(trace.len() as u64));
    g.sample_size(10);
    for kind in PolicyKind::ALL {
        g.bench_function(kind.name(), |b| {
            b.iter(|| {
                let mut policy = policy_for(kind, &trace, CACHE_CAPACITY);
                replay(policy.as_mut(), &trace)
            });
        });
    }
    g.finish();
}

criterion_group!(benches, policies);
criterion_main!(benches);
