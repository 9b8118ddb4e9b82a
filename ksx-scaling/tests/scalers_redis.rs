//! `redis`, `redis-streams` and `RedisBatchPoller` against the real Redis on 127.0.0.1:6379.
#![cfg(feature = "scalers")]

mod scalers_support;

use ksx_scaling::event::scalers::redis::{KeyLength, RedisAddress, RedisBatchPoller};
use scalers_support::{TIMEOUT, build_error, dead_address, read, read_err, scaler, unique};

const ADDR: &str = "127.0.0.1:6379";

async fn conn() -> redis::aio::MultiplexedConnection {
    redis::Client::open(format!("redis://{ADDR}/0"))
        .expect("client")
        .get_multiplexed_async_connection()
        .await
        .expect("connect to Redis at 127.0.0.1:6379")
}

async fn cmd(c: &mut redis::aio::MultiplexedConnection, args: &[&str]) -> redis::Value {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    tokio::time::timeout(TIMEOUT, cmd.query_async(c))
        .await
        .expect("redis command timed out")
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// Deletes the keys when dropped, even after a failed assertion.
struct Cleanup(Vec<String>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let keys = std::mem::take(&mut self.0);
        if keys.is_empty() {
            return;
        }
        if let Ok(client) = redis::Client::open(format!("redis://{ADDR}/0"))
            && let Ok(mut c) = client.get_connection()
        {
            let _: redis::RedisResult<i64> = redis::cmd("DEL").arg(&keys).query(&mut c);
        }
    }
}

#[tokio::test]
async fn list_length_and_activation_on_both_sides() {
    let key = unique("list");
    let _cleanup = Cleanup(vec![key.clone()]);
    let mut c = conn().await;
    cmd(&mut c, &["RPUSH", &key, "a", "b", "c"]).await;
    let s = scaler(
        "redis",
        &[
            ("address", ADDR),
            ("listName", &key),
            ("listLength", "5"),
            ("activationListLength", "2"),
        ],
    );
    assert_eq!(s.metric_spec().metric_name, format!("s0-redis-{key}"));
    assert!((s.metric_spec().target - 5.0).abs() < f64::EPSILON);
    let r = read(s.as_ref()).await;
    assert!((r.value - 3.0).abs() < f64::EPSILON && r.active, "{r:?}");
    cmd(&mut c, &["LPOP", &key]).await;
    let r = read(s.as_ref()).await;
    // 2 is not strictly above the activation threshold 2.
    assert!((r.value - 2.0).abs() < f64::EPSILON && !r.active, "{r:?}");
}

#[tokio::test]
async fn length_by_key_type_and_missing_key() {
    let (zset, set, hash, missing, string) = (
        unique("zset"),
        unique("set"),
        unique("hash"),
        unique("missing"),
        unique("string"),
    );
    let _cleanup = Cleanup(vec![
        zset.clone(),
        set.clone(),
        hash.clone(),
        string.clone(),
    ]);
    let mut c = conn().await;
    cmd(&mut c, &["ZADD", &zset, "1", "a", "2", "b"]).await;
    cmd(&mut c, &["SADD", &set, "a", "b", "c", "d"]).await;
    cmd(&mut c, &["HSET", &hash, "f", "1"]).await;
    cmd(&mut c, &["SET", &string, "x"]).await;
    for (key, expected) in [(&zset, 2.0), (&set, 4.0), (&hash, 1.0), (&missing, 0.0)] {
        let s = scaler(
            "redis",
            &[("host", "127.0.0.1"), ("port", "6379"), ("listName", key)],
        );
        let r = read(s.as_ref()).await;
        assert!((r.value - expected).abs() < f64::EPSILON, "{key}: {r:?}");
        assert_eq!(r.active, expected > 0.0, "{key}: {r:?}");
    }
    let s = scaler("redis", &[("address", ADDR), ("listName", &string)]);
    let e = read_err(s.as_ref()).await;
    assert!(
        e.contains(&format!("redis list \"{string}\" at {ADDR}")) && e.contains("holds a string"),
        "{e}"
    );
}

#[tokio::test]
async fn wrong_address_and_bad_metadata_name_the_source() {
    let dead = dead_address();
    let s = scaler("redis", &[("address", &dead), ("listName", "jobs")]);
    let e = read_err(s.as_ref()).await;
    assert!(
        e.starts_with(&format!("redis list \"jobs\" at {dead}: ")),
        "{e}"
    );
    assert_eq!(
        build_error("redis", &[("address", ADDR)]),
        "triggers[0] (redis): metadata.listName is required"
    );
    assert!(
        build_error("redis", &[("listName", "a")])
            .contains("metadata.address (or host) is required")
    );
    assert!(
        build_error(
            "redis",
            &[("address", ADDR), ("listName", "a"), ("enableTLS", "true")]
        )
        .contains("TLS")
    );
}

#[tokio::test]
async fn batch_poller_one_round_trip_per_call() {
    let keys: Vec<String> = (0..50).map(|_| unique("batch")).collect();
    let _cleanup = Cleanup(keys.clone());
    let mut c = conn().await;
    let mut pipe = redis::pipe();
    for (i, k) in keys.iter().enumerate() {
        // Key i holds i elements (key 0 stays missing: length 0).
        for j in 0..i {
            pipe.cmd("RPUSH").arg(k).arg(j).ignore();
        }
    }
    let _: () = pipe.query_async(&mut c).await.expect("fill lists");
    // 7 keys per script call: 8 calls, still one round trip.
    let poller = RedisBatchPoller::new(RedisAddress::new(ADDR)).with_keys_per_call(7);
    assert_eq!(poller.round_trips(), 0);
    let lens = poller.lengths(&keys, TIMEOUT).await.expect("lengths");
    let expected: Vec<KeyLength> = (0..50).map(KeyLength::Length).collect();
    assert_eq!(lens, expected);
    assert_eq!(poller.round_trips(), 1);
    let _ = poller.lengths(&keys, TIMEOUT).await.expect("lengths");
    assert_eq!(poller.round_trips(), 2);
    // An empty batch costs nothing.
    assert_eq!(poller.lengths(&[], TIMEOUT).await.expect("empty"), vec![]);
    assert_eq!(poller.round_trips(), 2);
}

#[tokio::test]
async fn streams_pending_lag_and_length() {
    let stream = unique("stream");
    let _cleanup = Cleanup(vec![stream.clone()]);
    let mut c = conn().await;
    for i in 0..3 {
        cmd(&mut c, &["XADD", &stream, "*", "n", &i.to_string()]).await;
    }
    cmd(&mut c, &["XGROUP", "CREATE", &stream, "workers", "0"]).await;
    // Two entries delivered, not acknowledged: 2 pending, 1 not yet delivered.
    let read_reply = cmd(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "workers",
            "w1",
            "COUNT",
            "2",
            "STREAMS",
            &stream,
            ">",
        ],
    )
    .await;
    let pending = scaler(
        "redis-streams",
        &[
            ("address", ADDR),
            ("stream", &stream),
            ("consumerGroup", "workers"),
            ("activationPendingEntriesCount", "1"),
        ],
    );
    assert_eq!(
        pending.metric_spec().metric_name,
        format!("s0-redis-streams-{stream}")
    );
    assert!((pending.metric_spec().target - 5.0).abs() < f64::EPSILON);
    let r = read(pending.as_ref()).await;
    assert!((r.value - 2.0).abs() < f64::EPSILON && r.active, "{r:?}");

    let lag = scaler(
        "redis-streams",
        &[
            ("address", ADDR),
            ("stream", &stream),
            ("consumerGroup", "workers"),
            ("lagCount", "10"),
            ("activationLagCount", "1"),
        ],
    );
    let r = read(lag.as_ref()).await;
    // Lag 1 is not above activationLagCount 1.
    assert!((r.value - 1.0).abs() < f64::EPSILON && !r.active, "{r:?}");

    let length = scaler("redis-streams", &[("address", ADDR), ("stream", &stream)]);
    let r = read(length.as_ref()).await;
    assert!((r.value - 3.0).abs() < f64::EPSILON && r.active, "{r:?}");

    // Acknowledge both: nothing pending, inactive.
    let ids = entry_ids(&read_reply);
    assert_eq!(ids.len(), 2, "{read_reply:?}");
    cmd(&mut c, &["XACK", &stream, "workers", &ids[0], &ids[1]]).await;
    let r = read(pending.as_ref()).await;
    assert!(r.value.abs() < f64::EPSILON && !r.active, "{r:?}");

    let missing = scaler(
        "redis-streams",
        &[
            ("address", ADDR),
            ("stream", &stream),
            ("consumerGroup", "nobody"),
        ],
    );
    let e = read_err(missing.as_ref()).await;
    assert!(
        e.contains("group \"nobody\"") && e.contains("NOGROUP"),
        "{e}"
    );
    let e = read_err(
        scaler(
            "redis-streams",
            &[
                ("address", ADDR),
                ("stream", &stream),
                ("consumerGroup", "nobody"),
                ("lagCount", "3"),
            ],
        )
        .as_ref(),
    )
    .await;
    assert!(
        e.contains("consumer group \"nobody\" does not exist"),
        "{e}"
    );
}

/// Entry ids of an XREADGROUP reply (RESP2 arrays or a RESP3 map).
fn entry_ids(v: &redis::Value) -> Vec<String> {
    fn walk(v: &redis::Value, out: &mut Vec<String>) {
        match v {
            redis::Value::Array(items) => {
                // An entry is [id, [field, value…]].
                if let [redis::Value::BulkString(id), redis::Value::Array(_)] = items.as_slice()
                    && id.contains(&b'-')
                {
                    out.push(String::from_utf8_lossy(id).into_owned());
                    return;
                }
                for i in items {
                    walk(i, out);
                }
            }
            redis::Value::Map(pairs) => {
                for (_, v) in pairs {
                    walk(v, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, &mut out);
    out
}

#[tokio::test]
async fn built_scalers_share_a_poller_and_coalesce_concurrent_polls() {
    use std::sync::Arc;

    use ksx_scaling::event::scaler::Scaler;
    use ksx_scaling::event::scalers::redis::RedisPollers;
    use ksx_scaling::event::scalers::{ScalerContext, build};

    let keys: Vec<String> = (0..20).map(|_| unique("coalesce")).collect();
    let _cleanup = Cleanup(keys.clone());
    let mut c = conn().await;
    for (i, k) in keys.iter().enumerate() {
        for _ in 0..i {
            cmd(&mut c, &["RPUSH", k, "x"]).await;
        }
    }
    let pollers = Arc::new(RedisPollers::new());
    let ctx = ScalerContext {
        redis: Some(Arc::clone(&pollers)),
        ..ScalerContext::default()
    };
    let scalers: Vec<Arc<dyn Scaler>> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let t = scalers_support::trigger("redis", &[("address", ADDR), ("listName", k)]);
            Arc::from(build(i, &t, &ctx).expect("redis trigger"))
        })
        .collect();
    let mut set = tokio::task::JoinSet::new();
    for (i, s) in scalers.iter().enumerate() {
        let s = Arc::clone(s);
        set.spawn(async move { (i, s.poll(0, TIMEOUT).await) });
    }
    let mut seen = 0;
    while let Some(joined) = set.join_next().await {
        let (i, r) = joined.expect("task");
        let r = r.expect("poll");
        assert!(
            (r.value - i as f64).abs() < f64::EPSILON,
            "trigger {i}: {r:?}"
        );
        // listLength default 5, activation 0.
        assert_eq!(r.active, i > 0);
        seen += 1;
    }
    assert_eq!(seen, 20);
    // The twenty concurrent polls on one server went out together.
    assert_eq!(pollers.get(&RedisAddress::new(ADDR)).round_trips(), 1);
}
