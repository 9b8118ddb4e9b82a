//! The scale area: many ScaledObjects with one Redis list trigger each, polled in cycles against a real Redis
//! (127.0.0.1:6379 unless `KSX_BENCH_REDIS` names another `host:port`).
//!
//! Setup creates one list per object with a seeded length of 0–40 in one pipelined round trip per 1,000 lists,
//! and builds each trigger from its metadata as `scalers::build` would. A cycle polls every trigger through
//! [`RedisBatchPoller`] (one pipelined round trip for all of them) and then computes, per object, the activation
//! (`length > activationListLength`) and the replica proposal an AverageValue HPA would make
//! (`ceil(length / listLength)`, clamped to 1..=maxReplicaCount while active, 0 when inactive). The lists are
//! deleted afterwards, also when a cycle fails.

use std::time::{Duration, Instant};

use ksx_scaling::event::model::ScaleTrigger;
use ksx_scaling::event::scaler::Scaler as _;
use ksx_scaling::event::scalers::redis::{
    KeyLength, RedisAddress, RedisBatchPoller, RedisListScaler,
};
use ksx_scaling::event::scalers::{Meta, ScalerContext};
use rand::{RngExt as _, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `maxReplicaCount` of every object.
pub const MAX_REPLICAS: f64 = 100.0;

/// What to run.
#[derive(Debug, Clone)]
pub struct ScaleConfig {
    /// ScaledObjects (one trigger and one list each).
    pub objects: usize,
    /// Polling cycles measured.
    pub cycles: usize,
    /// Redis `host:port`.
    pub address: String,
    /// Keys per server-side script call inside a batch.
    pub keys_per_call: usize,
    /// Bound on one cycle's Redis call.
    pub timeout: Duration,
}

impl Default for ScaleConfig {
    fn default() -> Self {
        Self {
            objects: 10_000,
            cycles: 30,
            address: std::env::var("KSX_BENCH_REDIS")
                .unwrap_or_else(|_| "127.0.0.1:6379".to_owned()),
            keys_per_call: ksx_scaling::event::scalers::redis::DEFAULT_KEYS_PER_CALL,
            timeout: Duration::from_secs(10),
        }
    }
}

/// The figures of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct ScaleFigures {
    /// Objects polled per cycle.
    pub scaled_objects: usize,
    /// Cycles measured.
    pub cycles: usize,
    /// Cycle latency percentiles (nearest rank), milliseconds.
    pub loop_p50_ms: f64,
    /// 99th percentile.
    pub loop_p99_ms: f64,
    /// Slowest cycle.
    pub loop_max_ms: f64,
    /// Redis round trips per cycle.
    pub redis_round_trips_per_cycle: f64,
    /// Objects active in the last cycle.
    pub active_objects: usize,
    /// Sum of the replica proposals of the last cycle.
    pub proposed_replicas: f64,
    /// Time to create the lists, milliseconds.
    pub setup_ms: f64,
    /// One cycle with a round trip per trigger instead of one batch, milliseconds.
    pub unbatched_cycle_ms: f64,
}

/// One object's trigger after parsing: its key, target and activation.
struct Object {
    key: String,
    target: f64,
    activation: f64,
}

/// The value at rank ⌈p × n⌉ of sorted samples.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "a rank within a small sample count"
    )]
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted
        .get(rank.clamp(1, sorted.len()) - 1)
        .copied()
        .unwrap_or(0.0)
}

async fn redis_conn(address: &str) -> anyhow::Result<redis::aio::MultiplexedConnection> {
    Ok(redis::Client::open(format!("redis://{address}/0"))?
        .get_multiplexed_async_connection()
        .await?)
}

/// Runs the area once.
///
/// # Errors
/// Redis unreachable, a trigger that does not parse (a bug), or a failed cycle.
#[allow(
    clippy::disallowed_methods,
    reason = "a benchmark measures wall time on purpose; engines never do"
)]
pub async fn run(cfg: &ScaleConfig) -> anyhow::Result<ScaleFigures> {
    let prefix = format!("ksx_bench_scale_{}", std::process::id());
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let ctx = ScalerContext::default();
    let mut objects = Vec::with_capacity(cfg.objects);
    let mut lengths = Vec::with_capacity(cfg.objects);
    for i in 0..cfg.objects {
        let key = format!("{prefix}_{i:05}");
        let target = [5, 10, 20][rng.random_range(0..3usize)].to_string();
        let activation = if i % 4 == 0 { "2" } else { "0" };
        let trigger = ScaleTrigger {
            type_: "redis".to_owned(),
            metadata: [
                ("address", cfg.address.as_str()),
                ("listName", key.as_str()),
                ("listLength", target.as_str()),
                ("activationListLength", activation),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
            ..ScaleTrigger::default()
        };
        let scaler = RedisListScaler::from_meta(&Meta::new(0, &trigger, &ctx))?;
        anyhow::ensure!(
            scaler.address().address == cfg.address,
            "trigger {i} points elsewhere"
        );
        objects.push(Object {
            key,
            target: scaler.metric_spec().target,
            activation: scaler.metric_spec().activation,
        });
        lengths.push(rng.random_range(0..=40usize));
    }

    let mut conn = redis_conn(&cfg.address).await?;
    let setup = Instant::now();
    let fill = async {
        for chunk in objects
            .iter()
            .zip(&lengths)
            .collect::<Vec<_>>()
            .chunks(1_000)
        {
            let mut pipe = redis::pipe();
            pipe.cmd("UNLINK")
                .arg(
                    chunk
                        .iter()
                        .map(|(o, _)| o.key.as_str())
                        .collect::<Vec<_>>(),
                )
                .ignore();
            for (o, len) in chunk {
                if **len > 0 {
                    pipe.cmd("RPUSH")
                        .arg(&o.key)
                        .arg(vec!["job"; **len])
                        .ignore();
                }
            }
            let () = pipe.query_async(&mut conn).await?;
        }
        anyhow::Ok(())
    };
    let filled = fill.await;
    let setup_ms = setup.elapsed().as_secs_f64() * 1e3;
    let result = match filled {
        Ok(()) => cycles(cfg, &objects, &lengths).await,
        Err(e) => Err(e),
    };
    // Clean up whatever happened above.
    for chunk in objects.chunks(1_000) {
        let keys: Vec<&str> = chunk.iter().map(|o| o.key.as_str()).collect();
        let _: redis::RedisResult<i64> =
            redis::cmd("UNLINK").arg(keys).query_async(&mut conn).await;
    }
    let mut figures = result?;
    figures.setup_ms = setup_ms;
    Ok(figures)
}

#[allow(
    clippy::disallowed_methods,
    reason = "a benchmark measures wall time on purpose; engines never do"
)]
async fn cycles(
    cfg: &ScaleConfig,
    objects: &[Object],
    expected: &[usize],
) -> anyhow::Result<ScaleFigures> {
    let poller = RedisBatchPoller::new(RedisAddress::new(cfg.address.clone()))
        .with_keys_per_call(cfg.keys_per_call);
    let keys: Vec<String> = objects.iter().map(|o| o.key.clone()).collect();
    // One warm-up cycle opens the connection and checks the values.
    let warm = poller.lengths(&keys, cfg.timeout).await?;
    for ((len, want), o) in warm.iter().zip(expected).zip(objects) {
        anyhow::ensure!(
            *len == KeyLength::Length(i64::try_from(*want)?),
            "{}: got {len:?}, want {want}",
            o.key
        );
    }
    let before = poller.round_trips();
    let mut samples = Vec::with_capacity(cfg.cycles);
    let (mut active, mut replicas) = (0, 0.0);
    for _ in 0..cfg.cycles {
        let start = Instant::now();
        let lens = poller.lengths(&keys, cfg.timeout).await?;
        active = 0;
        replicas = 0.0;
        for (o, len) in objects.iter().zip(&lens) {
            let KeyLength::Length(n) = len else {
                anyhow::bail!("{}: {len:?}", o.key);
            };
            #[allow(clippy::cast_precision_loss, reason = "list lengths are small")]
            let value = *n as f64;
            if value > o.activation {
                active += 1;
                replicas += (value / o.target).ceil().clamp(1.0, MAX_REPLICAS);
            }
        }
        samples.push(start.elapsed().as_secs_f64() * 1e3);
    }
    let trips = poller.round_trips() - before;
    // For comparison, one cycle the way a scaler per trigger polls: a round trip per trigger (same connection,
    // one at a time).
    let start = Instant::now();
    for k in &keys {
        poller.lengths(std::slice::from_ref(k), cfg.timeout).await?;
    }
    let unbatched_cycle_ms = start.elapsed().as_secs_f64() * 1e3;
    samples.sort_by(f64::total_cmp);
    #[allow(clippy::cast_precision_loss, reason = "small counts")]
    let per_cycle = trips as f64 / cfg.cycles.max(1) as f64;
    Ok(ScaleFigures {
        scaled_objects: objects.len(),
        cycles: cfg.cycles,
        loop_p50_ms: percentile(&samples, 0.50),
        loop_p99_ms: percentile(&samples, 0.99),
        loop_max_ms: samples.last().copied().unwrap_or(0.0),
        redis_round_trips_per_cycle: per_cycle,
        active_objects: active,
        proposed_replicas: replicas,
        setup_ms: 0.0,
        unbatched_cycle_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let s: Vec<f64> = (1..=100).map(f64::from).collect();
        assert!((percentile(&s, 0.99) - 99.0).abs() < f64::EPSILON);
        assert!((percentile(&s, 0.5) - 50.0).abs() < f64::EPSILON);
        assert!((percentile(&s[..10], 0.99) - 10.0).abs() < f64::EPSILON);
        assert!(percentile(&[], 0.99).abs() < f64::EPSILON);
    }
}
