//! `kafka`: the scaler end to end against an in-process Kafka *protocol fixture* — a tokio TCP responder that
//! answers ApiVersions, Metadata, FindCoordinator, ListOffsets and OffsetFetch with hand-built bytes. It is not a
//! Kafka server (no broker runs on these machines); it checks framing, correlation ids, routing to leaders and
//! coordinator, connection reuse, timeouts, error codes and the lag arithmetic. The opt-in live test runs only
//! when `KSX_KAFKA_BROKERS` is set (with `KSX_KAFKA_GROUP`, optionally `KSX_KAFKA_TOPIC`) and creates nothing.
#![cfg(feature = "kafka")]

mod scalers_support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ksx_scaling::event::scalers::kafka::{KafkaScaler, OffsetResetPolicy};
use ksx_scaling::event::scalers::kafka_wire::{KafkaClient, KafkaError};
use ksx_scaling::event::scalers::{Meta, ScalerContext};
use scalers_support::{build_error, dead_address, poll, read, read_err, scaler, trigger};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// Builds response bodies field by field, following the schemas in `kafka_wire`'s docs.
#[derive(Default)]
struct Bytes(Vec<u8>);

impl Bytes {
    fn i8(mut self, v: i8) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn i16(mut self, v: i16) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn i32(mut self, v: i32) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn i64(mut self, v: i64) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn len(self, n: usize) -> Self {
        self.i32(i32::try_from(n).expect("small"))
    }
    fn str(self, s: &str) -> Self {
        let mut b = self.i16(i16::try_from(s.len()).expect("short"));
        b.0.extend_from_slice(s.as_bytes());
        b
    }
    fn null_str(self) -> Self {
        self.i16(-1)
    }
}

/// Reads request fields (the fixture's side of the protocol).
struct Req<'a>(&'a [u8]);

impl Req<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let (head, rest) = self.0.split_at(N);
        self.0 = rest;
        head.try_into().expect("N bytes")
    }
    fn i8(&mut self) -> i8 {
        i8::from_be_bytes(self.take())
    }
    fn i16(&mut self) -> i16 {
        i16::from_be_bytes(self.take())
    }
    fn i32(&mut self) -> i32 {
        i32::from_be_bytes(self.take())
    }
    fn i64(&mut self) -> i64 {
        i64::from_be_bytes(self.take())
    }
    fn nstr(&mut self) -> Option<String> {
        let n = self.i16();
        if n < 0 {
            return None;
        }
        let (s, rest) = self.0.split_at(usize::try_from(n).expect("len"));
        self.0 = rest;
        Some(String::from_utf8(s.to_vec()).expect("utf-8"))
    }
    fn str(&mut self) -> String {
        self.nstr().expect("non-null string")
    }
}

#[derive(Clone, Copy)]
struct Part {
    id: i32,
    leader: i32,
    latest: i64,
}

/// One request as the fixture saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    node: i32,
    api_key: i16,
    api_version: i16,
    correlation_id: i32,
    client_id: Option<String>,
}

#[derive(Default)]
struct Faults {
    coordinator_error: i16,
    offset_fetch_error: i16,
    list_offsets_error: Option<(String, i32, i16)>,
    old_metadata: bool,
    correlation_skew: i32,
    silent: bool,
}

/// The state the fixture answers from: brokers on 127.0.0.1, topics, one group's committed offsets.
struct Cluster {
    brokers: Vec<(i32, u16)>,
    coordinator: i32,
    topics: BTreeMap<String, Vec<Part>>,
    group: String,
    committed: BTreeMap<(String, i32), i64>,
    faults: Faults,
    seen: Vec<Seen>,
    accepted: BTreeMap<i32, usize>,
    list_offsets_args: Vec<(i32, i8, i64)>,
}

type Shared = Arc<Mutex<Cluster>>;

impl Cluster {
    fn port(&self, node: i32) -> u16 {
        self.brokers
            .iter()
            .find(|(n, _)| *n == node)
            .map(|(_, p)| *p)
            .expect("known node")
    }

    fn answer(&mut self, node: i32, api_key: i16, r: &mut Req<'_>) -> Vec<u8> {
        match api_key {
            18 => {
                let metadata_max = if self.faults.old_metadata { 3 } else { 12 };
                Bytes::default()
                    .i16(0)
                    .len(5)
                    .i16(18)
                    .i16(0)
                    .i16(3)
                    .i16(3)
                    .i16(0)
                    .i16(metadata_max)
                    .i16(10)
                    .i16(0)
                    .i16(4)
                    .i16(2)
                    .i16(0)
                    .i16(8)
                    .i16(9)
                    .i16(0)
                    .i16(8)
                    .0
            }
            3 => {
                let n = r.i32();
                let names: Vec<String> = (0..n).map(|_| r.str()).collect();
                assert_eq!(r.i8(), 0, "allow_auto_topic_creation must be false");
                let mut b = Bytes::default().i32(0).len(self.brokers.len());
                for (id, port) in &self.brokers {
                    b = b.i32(*id).str("127.0.0.1").i32(i32::from(*port)).null_str();
                }
                b = b.null_str().i32(1).len(names.len());
                for name in names {
                    match self.topics.get(&name) {
                        None => b = b.i16(3).str(&name).i8(0).len(0),
                        Some(parts) => {
                            b = b.i16(0).str(&name).i8(0).len(parts.len());
                            for p in parts {
                                b = b
                                    .i16(0)
                                    .i32(p.id)
                                    .i32(p.leader)
                                    .len(1)
                                    .i32(p.leader)
                                    .len(1)
                                    .i32(p.leader);
                            }
                        }
                    }
                }
                b.0
            }
            10 => {
                let group = r.str();
                assert_eq!(r.i8(), 0, "key_type group");
                assert!(!group.is_empty(), "group id");
                if self.faults.coordinator_error != 0 {
                    return Bytes::default()
                        .i32(0)
                        .i16(self.faults.coordinator_error)
                        .str("offsets topic not ready")
                        .i32(-1)
                        .str("")
                        .i32(-1)
                        .0;
                }
                let port = self.port(self.coordinator);
                Bytes::default()
                    .i32(0)
                    .i16(0)
                    .null_str()
                    .i32(self.coordinator)
                    .str("127.0.0.1")
                    .i32(i32::from(port))
                    .0
            }
            9 => {
                assert_eq!(
                    node, self.coordinator,
                    "OffsetFetch goes to the coordinator"
                );
                let group = r.str();
                let n = r.i32();
                let asked: Vec<(String, Vec<i32>)> = if n < 0 {
                    let mut all: BTreeMap<String, Vec<i32>> = BTreeMap::new();
                    if group == self.group {
                        for (t, p) in self.committed.keys() {
                            all.entry(t.clone()).or_default().push(*p);
                        }
                    }
                    all.into_iter().collect()
                } else {
                    (0..n)
                        .map(|_| {
                            let t = r.str();
                            let k = r.i32();
                            (t, (0..k).map(|_| r.i32()).collect())
                        })
                        .collect()
                };
                let mut b = Bytes::default().i32(0).len(asked.len());
                for (t, parts) in asked {
                    b = b.str(&t).len(parts.len());
                    for p in parts {
                        match self.committed.get(&(t.clone(), p)) {
                            Some(o) if group == self.group => b = b.i32(p).i64(*o).str("").i16(0),
                            _ => b = b.i32(p).i64(-1).null_str().i16(0),
                        }
                    }
                }
                b.i16(self.faults.offset_fetch_error).0
            }
            2 => {
                let replica = r.i32();
                let isolation = r.i8();
                let n = r.i32();
                let mut b = Bytes::default()
                    .i32(0)
                    .len(usize::try_from(n).expect("count"));
                for _ in 0..n {
                    let t = r.str();
                    let k = r.i32();
                    b = b.str(&t).len(usize::try_from(k).expect("count"));
                    for _ in 0..k {
                        let p = r.i32();
                        let ts = r.i64();
                        self.list_offsets_args.push((replica, isolation, ts));
                        let part = self
                            .topics
                            .get(&t)
                            .and_then(|ps| ps.iter().find(|x| x.id == p).copied());
                        let fault = self
                            .faults
                            .list_offsets_error
                            .as_ref()
                            .filter(|(ft, fp, _)| *ft == t && *fp == p)
                            .map(|(_, _, c)| *c);
                        let (code, offset) = match (fault, part) {
                            (Some(c), _) => (c, -1),
                            (None, None) => (3, -1),
                            // Answered by a broker that does not lead the partition: the client routed badly.
                            (None, Some(x)) if x.leader != node => (6, -1),
                            (None, Some(x)) => (0, x.latest),
                        };
                        b = b.i32(p).i16(code).i64(-1).i64(offset);
                    }
                }
                b.0
            }
            other => panic!("the fixture does not speak api key {other}"),
        }
    }
}

async fn serve(mut s: TcpStream, node: i32, cluster: Shared) {
    loop {
        let mut size = [0u8; 4];
        if s.read_exact(&mut size).await.is_err() {
            return;
        }
        let mut frame = vec![0u8; usize::try_from(i32::from_be_bytes(size)).expect("size")];
        if s.read_exact(&mut frame).await.is_err() {
            return;
        }
        let mut r = Req(&frame);
        let api_key = r.i16();
        let api_version = r.i16();
        let correlation_id = r.i32();
        let client_id = r.nstr();
        let (body, silent, skew) = {
            let mut c = cluster.lock().expect("fixture lock");
            c.seen.push(Seen {
                node,
                api_key,
                api_version,
                correlation_id,
                client_id,
            });
            let body = c.answer(node, api_key, &mut r);
            assert!(r.0.is_empty(), "request api {api_key} has trailing bytes");
            (body, c.faults.silent, c.faults.correlation_skew)
        };
        if silent {
            std::future::pending::<()>().await;
        }
        let mut out = Vec::new();
        out.extend_from_slice(&(i32::try_from(body.len()).expect("small") + 4).to_be_bytes());
        out.extend_from_slice(&(correlation_id + skew).to_be_bytes());
        out.extend_from_slice(&body);
        if s.write_all(&out).await.is_err() {
            return;
        }
    }
}

/// Two fixture brokers (nodes 1 and 2, node 2 the coordinator) and topic `orders`:
/// p0 on node 1 (latest 100, committed 90), p1 on node 2 (latest 50, committed 20), p2 on node 2 (latest 7, no
/// committed offset).
async fn fixture() -> (Shared, Vec<String>) {
    let l1 = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let l2 = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let p1 = l1.local_addr().expect("addr").port();
    let p2 = l2.local_addr().expect("addr").port();
    let cluster = Arc::new(Mutex::new(Cluster {
        brokers: vec![(1, p1), (2, p2)],
        coordinator: 2,
        topics: BTreeMap::from([(
            "orders".to_owned(),
            vec![
                Part {
                    id: 0,
                    leader: 1,
                    latest: 100,
                },
                Part {
                    id: 1,
                    leader: 2,
                    latest: 50,
                },
                Part {
                    id: 2,
                    leader: 2,
                    latest: 7,
                },
            ],
        )]),
        group: "workers".to_owned(),
        committed: BTreeMap::from([
            (("orders".to_owned(), 0), 90),
            (("orders".to_owned(), 1), 20),
        ]),
        faults: Faults::default(),
        seen: Vec::new(),
        accepted: BTreeMap::new(),
        list_offsets_args: Vec::new(),
    }));
    for (node, listener) in [(1, l1), (2, l2)] {
        let c = Arc::clone(&cluster);
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                *c.lock()
                    .expect("fixture lock")
                    .accepted
                    .entry(node)
                    .or_default() += 1;
                tokio::spawn(serve(s, node, Arc::clone(&c)));
            }
        });
    }
    (
        cluster,
        vec![format!("127.0.0.1:{p1}"), format!("127.0.0.1:{p2}")],
    )
}

fn with<R>(c: &Shared, f: impl FnOnce(&mut Cluster) -> R) -> R {
    f(&mut c.lock().expect("fixture lock"))
}

#[tokio::test]
async fn kafka_fixture_lag_across_two_brokers_end_to_end() {
    let (cluster, addrs) = fixture().await;
    let s = scaler(
        "kafka",
        &[
            ("bootstrapServers", addrs[0].as_str()),
            ("consumerGroup", "workers"),
            ("topic", "orders"),
            ("lagThreshold", "20"),
        ],
    );
    let spec = s.metric_spec();
    assert_eq!(spec.metric_name, "s0-kafka-orders");
    assert!((spec.target - 20.0).abs() < f64::EPSILON);
    // Lags: p0 100 − 90 = 10, p1 50 − 20 = 30, p2 no commit with offsetResetPolicy latest = 1 → 41.
    // Cap: 41 / 20 = 2 is not above 3 partitions, so no cap.
    let r = read(s.as_ref()).await;
    assert!((r.value - 41.0).abs() < f64::EPSILON, "{r:?}");
    assert!(r.active);

    let (seen, accepted, args) = with(&cluster, |c| {
        (
            c.seen.clone(),
            c.accepted.clone(),
            c.list_offsets_args.clone(),
        )
    });
    // One connection per broker for the whole poll.
    assert_eq!(accepted, BTreeMap::from([(1, 1), (2, 1)]));
    let calls: Vec<(i32, i16, i16, i32)> = seen
        .iter()
        .map(|s| (s.node, s.api_key, s.api_version, s.correlation_id))
        .collect();
    assert_eq!(
        calls.get(..4),
        Some(
            &[
                (1, 18, 0, 1), // ApiVersions v0 at the bootstrap broker
                (1, 10, 1, 2), // FindCoordinator v1
                (1, 3, 4, 3),  // Metadata v4
                (2, 9, 3, 1), // OffsetFetch v3 at the coordinator (node 2), first call on that connection
            ][..]
        )
    );
    // Then one ListOffsets v2 per leader (in address order): p0 at node 1, p1 and p2 at node 2.
    let mut rest = calls.get(4..).expect("list offsets").to_vec();
    rest.sort_unstable();
    assert_eq!(rest, vec![(1, 2, 2, 4), (2, 2, 2, 2)]);
    assert!(seen.iter().all(|s| s.client_id.as_deref() == Some("ksx")));
    // Client replica id −1, read-uncommitted, timestamp −1 (latest) for each of the 3 partitions.
    assert_eq!(args, vec![(-1, 0, -1); 3]);

    // earliest: p2's lag is its latest offset, 7 → 10 + 30 + 7 = 47.
    let s = scaler(
        "kafka",
        &[
            ("bootstrapServers", addrs[1].as_str()),
            ("consumerGroup", "workers"),
            ("topic", "orders"),
            ("lagThreshold", "20"),
            ("offsetResetPolicy", "earliest"),
        ],
    );
    assert!((read(s.as_ref()).await.value - 47.0).abs() < f64::EPSILON);
}

#[tokio::test]
async fn kafka_fixture_cap_persistent_lag_and_partition_limitation() {
    let (cluster, addrs) = fixture().await;
    let servers = addrs.join(",");
    // Default threshold 10: lag 41 / 10 = 4 > 3 partitions → capped at 30.
    let s = scaler(
        "kafka",
        &[
            ("bootstrapServers", servers.as_str()),
            ("consumerGroup", "workers"),
            ("topic", "orders"),
        ],
    );
    assert!((read(s.as_ref()).await.value - 30.0).abs() < f64::EPSILON);

    // Only partitions 0 and 2: 10 + 1 = 11, below the cap of 2 × 10.
    let s = scaler(
        "kafka",
        &[
            ("bootstrapServers", servers.as_str()),
            ("consumerGroup", "workers"),
            ("topic", "orders"),
            ("partitionLimitation", "0,2-2"),
        ],
    );
    assert!((read(s.as_ref()).await.value - 11.0).abs() < f64::EPSILON);

    // excludePersistentLag, allowIdleConsumers: first poll 41; unchanged commits → 0 for scaling, still active
    // (activation lag 41 > 0); p1 moves to 45 → only p1 (50 − 45 = 5) counts.
    let s = scaler(
        "kafka",
        &[
            ("bootstrapServers", servers.as_str()),
            ("consumerGroup", "workers"),
            ("topic", "orders"),
            ("excludePersistentLag", "true"),
            ("allowIdleConsumers", "true"),
        ],
    );
    assert!((read(s.as_ref()).await.value - 41.0).abs() < f64::EPSILON);
    // p2 has no committed offset: it is not "persistent", it keeps its lag of 1.
    let r = read(s.as_ref()).await;
    assert!((r.value - 1.0).abs() < f64::EPSILON, "{r:?}");
    assert!(r.active);
    with(&cluster, |c| {
        c.committed.insert(("orders".to_owned(), 1), 45);
    });
    assert!((read(s.as_ref()).await.value - 6.0).abs() < f64::EPSILON);

    let s = scaler(
        "kafka",
        &[
            ("bootstrapServers", servers.as_str()),
            ("consumerGroup", "workers"),
            ("topic", "orders"),
            ("allowIdleConsumers", "true"),
            ("activationLagThreshold", "36"),
        ],
    );
    // Now 10 + 5 + 1 = 16, not above 36.
    let r = read(s.as_ref()).await;
    assert!((r.value - 16.0).abs() < f64::EPSILON && !r.active, "{r:?}");
}

#[tokio::test]
async fn kafka_fixture_without_topic_reads_every_committed_topic() {
    let (cluster, addrs) = fixture().await;
    with(&cluster, |c| {
        c.topics.insert(
            "audit".to_owned(),
            vec![Part {
                id: 0,
                leader: 1,
                latest: 12,
            }],
        );
        c.committed.insert(("audit".to_owned(), 0), 4);
    });
    let s = scaler(
        "kafka",
        &[
            ("bootstrapServers", addrs[0].as_str()),
            ("consumerGroup", "workers"),
            ("allowIdleConsumers", "true"),
        ],
    );
    assert_eq!(s.metric_spec().metric_name, "s0-kafka-workers-topics");
    // The group committed on audit p0 (12 − 4 = 8) and orders p0, p1 (10 + 30); orders p2 has no commit but is
    // a partition of a committed topic: lag 1. Total 49.
    assert!((read(s.as_ref()).await.value - 49.0).abs() < f64::EPSILON);
    let seen = with(&cluster, |c| c.seen.clone());
    // OffsetFetch (null topics) comes before Metadata: the topics come from the group.
    let order: Vec<i16> = seen.iter().map(|s| s.api_key).collect();
    assert_eq!(order.get(..4), Some(&[18, 10, 9, 3][..]));

    // A group with no commits has no lag and is not active.
    let s = scaler(
        "kafka",
        &[
            ("bootstrapServers", addrs[0].as_str()),
            ("consumerGroup", "workers"),
        ],
    );
    with(&cluster, |c| c.committed.clear());
    let r = read(s.as_ref()).await;
    assert!(r.value.abs() < f64::EPSILON && !r.active, "{r:?}");
}

#[tokio::test]
async fn kafka_fixture_bootstrap_servers_tried_in_order() {
    let (cluster, addrs) = fixture().await;
    let dead = dead_address();
    let servers = format!("{dead},{}", addrs[1]);
    let s = scaler(
        "kafka",
        &[
            ("bootstrapServers", servers.as_str()),
            ("consumerGroup", "workers"),
            ("topic", "orders"),
            ("lagThreshold", "20"),
        ],
    );
    assert!((read(s.as_ref()).await.value - 41.0).abs() < f64::EPSILON);
    // Node 2 was the bootstrap broker: it got ApiVersions first.
    let first = with(&cluster, |c| c.seen.first().cloned()).expect("a request");
    assert_eq!((first.node, first.api_key), (2, 18));

    let dead2 = dead_address();
    let servers = format!("{dead},{dead2}");
    let s = scaler(
        "kafka",
        &[
            ("bootstrapServers", servers.as_str()),
            ("consumerGroup", "workers"),
            ("topic", "orders"),
        ],
    );
    let e = read_err(s.as_ref()).await;
    assert!(e.contains("no bootstrap server answered"), "{e}");
    let (a, b) = (
        e.find(&format!("broker {dead}: cannot connect")),
        e.find(&format!("broker {dead2}: cannot connect")),
    );
    assert!(a.is_some() && b.is_some() && a < b, "{e}");
}

async fn error_of(
    cluster: &Shared,
    addr: &str,
    topic: &str,
    fault: impl FnOnce(&mut Faults),
) -> String {
    with(cluster, |c| fault(&mut c.faults));
    let s = scaler(
        "kafka",
        &[
            ("bootstrapServers", addr),
            ("consumerGroup", "workers"),
            ("topic", topic),
        ],
    );
    let e = read_err(s.as_ref()).await;
    with(cluster, |c| c.faults = Faults::default());
    e
}

#[tokio::test]
async fn kafka_fixture_error_codes_name_the_place() {
    let (cluster, addrs) = fixture().await;
    let a = addrs[0].as_str();
    let e = error_of(&cluster, a, "nope", |_| {}).await;
    assert!(
        e.ends_with("Metadata: topic \"nope\": UNKNOWN_TOPIC_OR_PARTITION (error 3)"),
        "{e}"
    );
    assert!(
        e.starts_with("kafka group \"workers\" topic \"nope\" at "),
        "{e}"
    );
    let e = error_of(&cluster, a, "orders", |f| {
        f.list_offsets_error = Some(("orders".to_owned(), 1, 6));
    })
    .await;
    assert!(
        e.ends_with("ListOffsets: topic \"orders\" partition 1: NOT_LEADER_OR_FOLLOWER (error 6)"),
        "{e}"
    );
    let e = error_of(&cluster, a, "orders", |f| f.coordinator_error = 15).await;
    assert!(
        e.ends_with(
            "FindCoordinator: group \"workers\" (offsets topic not ready): COORDINATOR_NOT_AVAILABLE (error 15)"
        ),
        "{e}"
    );
    let e = error_of(&cluster, a, "orders", |f| f.offset_fetch_error = 30).await;
    assert!(
        e.ends_with("OffsetFetch: group \"workers\": GROUP_AUTHORIZATION_FAILED (error 30)"),
        "{e}"
    );
    let e = error_of(&cluster, a, "orders", |f| f.old_metadata = true).await;
    assert!(
        e.contains("does not support Metadata v4 (it speaks v0..=v3)"),
        "{e}"
    );
}

#[tokio::test]
async fn kafka_fixture_framing_correlation_and_timeout() {
    let (cluster, addrs) = fixture().await;
    let a = addrs[0].as_str();
    // An answer carrying another correlation id is refused (the first request on a connection has id 1).
    let e = error_of(&cluster, a, "orders", |f| f.correlation_skew = 1000).await;
    assert!(
        e.contains(
            "malformed ApiVersions response: correlation id 1001 does not match the request's 1"
        ),
        "{e}"
    );
    // A broker that never answers: the poll ends with a timeout naming the broker and request.
    with(&cluster, |c| c.faults.silent = true);
    let s = scaler(
        "kafka",
        &[
            ("bootstrapServers", a),
            ("consumerGroup", "workers"),
            ("topic", "orders"),
        ],
    );
    let e = s
        .poll(0, Duration::from_millis(300))
        .await
        .expect_err("silent broker");
    assert!(
        e.to_string()
            .contains(&format!("broker {a}: ApiVersions timed out after 300ms")),
        "{e}"
    );
    with(&cluster, |c| c.faults = Faults::default());
    // The same client after the fault: a fresh poll works again.
    assert!(poll(s.as_ref()).await.is_ok());
}

#[tokio::test]
async fn kafka_fixture_client_api_reuses_connections() {
    let (cluster, addrs) = fixture().await;
    let mut client = KafkaClient::new(vec![addrs[1].clone()], Duration::from_secs(5));
    let only = BTreeSet::from([1]);
    let offsets = client
        .group_offsets("workers", Some("orders"), Some(&only))
        .await
        .expect("offsets");
    let p = &offsets["orders"];
    assert_eq!(p.len(), 1);
    assert_eq!(
        (p[0].partition, p[0].latest, p[0].committed),
        (1, 50, Some(20))
    );
    // Bootstrap, coordinator and the leader of p1 are all node 2: one connection.
    assert_eq!(client.open_connections(), vec![addrs[1].clone()]);
    assert_eq!(
        with(&cluster, |c| c.accepted.clone()),
        BTreeMap::from([(2, 1)])
    );
    // A second call on the same client reuses it too.
    client
        .group_offsets("workers", Some("orders"), Some(&only))
        .await
        .expect("offsets");
    assert_eq!(
        with(&cluster, |c| c.accepted.clone()),
        BTreeMap::from([(2, 1)])
    );
    // A group with no commits (OffsetFetch answers −1): every partition's committed offset is None.
    let offsets = client
        .group_offsets("idle-group", Some("orders"), None)
        .await
        .expect("offsets");
    let committed: Vec<Option<i64>> = offsets["orders"].iter().map(|p| p.committed).collect();
    assert_eq!(committed, vec![None, None, None]);
    let e = KafkaClient::new(Vec::new(), Duration::from_secs(1))
        .bootstrap()
        .await
        .expect_err("no servers");
    assert!(matches!(e, KafkaError::Bootstrap(_)), "{e}");
}

#[test]
fn kafka_build_errors_name_the_field() {
    let base = [
        ("bootstrapServers", "127.0.0.1:9092"),
        ("consumerGroup", "g"),
        ("topic", "t"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut m: Vec<(&str, &str)> = base.to_vec();
        for (k, v) in extra {
            m.retain(|(key, _)| key != k);
            m.push((k, v));
        }
        build_error("kafka", &m)
    };
    let p = "triggers[0] (kafka): ";
    assert_eq!(
        build_error("kafka", &[("bootstrapServers", "a:1")]),
        format!("{p}metadata.consumerGroup is required")
    );
    assert_eq!(
        with(&[("lagThreshold", "x")]),
        format!("{p}metadata.lagThreshold: \"x\" is not an integer")
    );
    assert_eq!(
        with(&[("lagThreshold", "0")]),
        format!("{p}metadata.lagThreshold must be positive")
    );
    assert_eq!(
        with(&[("offsetResetPolicy", "middle")]),
        format!("{p}metadata.offsetResetPolicy: \"middle\" is not latest or earliest")
    );
    assert!(with(&[("sasl", "plaintext")]).starts_with(&format!(
        "{p}metadata.sasl: \"plaintext\": SASL is not supported"
    )));
    assert!(
        with(&[("tls", "enable")]).starts_with(&format!("{p}metadata.tls: TLS is not supported"))
    );
    assert!(with(&[("bootstrapServers", "kafka")]).contains("\"kafka\" has no port"));
    assert!(with(&[("bootstrapServers", "SASL_SSL://k:9093")]).contains("has a scheme"));
    assert!(
        with(&[("partitionLimitation", "1,x")]).contains("metadata.partitionLimitation: \"x\"")
    );
    assert!(
        with(&[("topic", "a b")])
            .contains("metadata.topic: \"a b\" is not a valid Kafka topic name")
    );
    assert!(
        with(&[
            ("allowIdleConsumers", "true"),
            ("limitToPartitionsWithLag", "true")
        ])
        .contains("cannot both be set")
    );
    let no_topic = [("bootstrapServers", "a:1"), ("consumerGroup", "g")];
    let mut m = no_topic.to_vec();
    m.push(("limitToPartitionsWithLag", "true"));
    assert_eq!(
        build_error("kafka", &m),
        format!("{p}metadata.limitToPartitionsWithLag needs metadata.topic")
    );
    let mut m = no_topic.to_vec();
    m.push(("partitionLimitation", "1"));
    assert_eq!(
        build_error("kafka", &m),
        format!("{p}metadata.partitionLimitation needs metadata.topic")
    );
    // Defaults (upstream's: lagThreshold 10, activationLagThreshold 0, latest) and a partition list with a range.
    let t = trigger(
        "kafka",
        &[
            ("bootstrapServers", " a:1 , b:2 "),
            ("consumerGroup", "g"),
            ("topic", "t"),
            ("partitionLimitation", "1, 2,10-12"),
        ],
    );
    let ctx = ScalerContext::default();
    let k = KafkaScaler::from_meta(&Meta::new(0, &t, &ctx)).expect("builds");
    let settings = k.settings();
    assert_eq!(settings.bootstrap_servers, vec!["a:1", "b:2"]);
    assert_eq!(
        settings.partition_limitation,
        Some(BTreeSet::from([1, 2, 10, 11, 12]))
    );
    assert_eq!(
        (
            settings.lag.lag_threshold,
            settings.lag.activation_lag_threshold,
            settings.lag.offset_reset_policy
        ),
        (10, 0, OffsetResetPolicy::Latest)
    );
    // sasl none and tls disable are the PLAINTEXT defaults and build.
    let mut m = base.to_vec();
    m.extend([("sasl", "none"), ("tls", "disable")]);
    assert_eq!(scaler("kafka", &m).metric_spec().metric_name, "s0-kafka-t");
}

/// Opt-in: reads the lag of a real group when `KSX_KAFKA_BROKERS` is set. Creates nothing.
#[tokio::test]
async fn kafka_live_lag_when_brokers_given() {
    let Ok(brokers) = std::env::var("KSX_KAFKA_BROKERS") else {
        eprintln!(
            "skipped: set KSX_KAFKA_BROKERS (and KSX_KAFKA_GROUP, optionally KSX_KAFKA_TOPIC) to run"
        );
        return;
    };
    let group = std::env::var("KSX_KAFKA_GROUP")
        .expect("KSX_KAFKA_GROUP must be set with KSX_KAFKA_BROKERS");
    let topic = std::env::var("KSX_KAFKA_TOPIC")
        .ok()
        .filter(|t| !t.is_empty());
    let mut meta = vec![
        ("bootstrapServers", brokers.as_str()),
        ("consumerGroup", group.as_str()),
        ("allowIdleConsumers", "true"),
    ];
    if let Some(t) = &topic {
        meta.push(("topic", t.as_str()));
    }
    let s = scaler("kafka", &meta);
    let r = read(s.as_ref()).await;
    let servers: Vec<String> = brokers.split(',').map(|s| s.trim().to_owned()).collect();
    let offsets = KafkaClient::new(servers, Duration::from_secs(10))
        .group_offsets(&group, topic.as_deref(), None)
        .await
        .expect("offsets");
    if let Some(t) = &topic {
        assert!(
            offsets.contains_key(t),
            "topic {t} missing from {offsets:?}"
        );
    }
    for (t, parts) in &offsets {
        for p in parts {
            assert!(p.latest >= 0, "{t}/{}: latest {}", p.partition, p.latest);
            if let Some(c) = p.committed {
                assert!(c >= 0, "{t}/{}: committed {c}", p.partition);
            }
        }
    }
    assert!(r.value >= 0.0, "{r:?}");
    eprintln!(
        "live kafka lag of group {group}: {r:?} over {} topics",
        offsets.len()
    );
}
