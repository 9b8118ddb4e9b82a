//! `rabbitmq` (AMQP, 127.0.0.1:5672 guest/guest), `nats-jetstream` (127.0.0.1:4222, and `/jsz` served by an
//! in-process fake) and `mqtt` (Mosquitto, 127.0.0.1:1883) against the real brokers.
#![cfg(feature = "scalers")]

mod scalers_support;

use std::time::Duration;

use ksx_scaling::event::scalers::amqp::{AmqpConnection, AmqpUrl};
use ksx_scaling::event::scalers::mqtt::MqttConnection;
use ksx_scaling::event::scalers::nats::{NatsAuth, NatsConnection};
use scalers_support::{
    TIMEOUT, build_error, dead_address, read, read_err, scaler, unique, with_cleanup,
};
use serde_json::json;

const AMQP: &str = "amqp://guest:guest@127.0.0.1:5672/";
const NATS: &str = "127.0.0.1:4222";
const MQTT: &str = "127.0.0.1:1883";

async fn amqp() -> AmqpConnection {
    let url = AmqpUrl::parse(AMQP).expect("url");
    tokio::time::timeout(TIMEOUT, AmqpConnection::connect(&url))
        .await
        .expect("AMQP connect timed out")
        .expect("connect to RabbitMQ at 127.0.0.1:5672 as guest")
}

/// Polls until the reading's value is `want` (publishes are asynchronous), at most 5 s.
async fn read_until(
    s: &dyn ksx_scaling::event::scaler::Scaler,
    want: f64,
) -> ksx_scaling::event::scaler::Reading {
    let mut last = None;
    for _ in 0..50 {
        let r = read(s).await;
        if (r.value - want).abs() < f64::EPSILON {
            return r;
        }
        last = Some(r);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("value never reached {want}: last {last:?}");
}

#[tokio::test]
async fn rabbitmq_queue_length_activation_and_errors() {
    let queue = unique("queue");
    let mut c = amqp().await;
    c.queue_declare(&queue, false).await.expect("declare");
    let q = queue.clone();
    let body = async move {
        let queue = q;
        for i in 0..3 {
            c.publish(&queue, format!("m{i}").as_bytes())
                .await
                .expect("publish");
        }
        let s = scaler(
            "rabbitmq",
            &[
                ("host", AMQP),
                ("queueName", &queue),
                ("activationValue", "3"),
            ],
        );
        assert_eq!(s.metric_spec().metric_name, format!("s0-rabbitmq-{queue}"));
        assert!(
            (s.metric_spec().target - 20.0).abs() < f64::EPSILON,
            "default value 20"
        );
        let r = read_until(s.as_ref(), 3.0).await;
        // 3 ready messages are not above activationValue 3.
        assert!(!r.active, "{r:?}");
        c.publish(&queue, b"m3").await.expect("publish");
        let r = read_until(s.as_ref(), 4.0).await;
        assert!(r.active, "{r:?}");

        // A missing queue closes only the channel: the same scaler keeps working afterwards.
        let missing = unique("missing");
        let m = scaler("rabbitmq", &[("host", AMQP), ("queueName", &missing)]);
        let e = read_err(m.as_ref()).await;
        assert!(
            e.starts_with(&format!(
                "rabbitmq queue \"{missing}\" at 127.0.0.1:5672 vhost \"/\": queue does not exist"
            )) && e.contains("404"),
            "{e}"
        );
        assert!(read_err(m.as_ref()).await.contains("404"));
        let r = read(s.as_ref()).await;
        assert!((r.value - 4.0).abs() < f64::EPSILON, "{r:?}");
        let deleted = c.queue_delete(&queue).await.expect("delete queue");
        assert_eq!(deleted, 4);
        c.close().await.expect("close");
    };
    with_cleanup(body, async {
        let mut c = amqp().await;
        c.queue_delete(&queue).await.expect("delete queue");
        c.close().await.expect("close");
    })
    .await;
}

#[tokio::test]
async fn rabbitmq_wrong_address_credentials_and_http_modes() {
    let dead = dead_address();
    let s = scaler(
        "rabbitmq",
        &[
            ("host", &format!("amqp://guest:guest@{dead}/")),
            ("queueName", "q"),
        ],
    );
    let e = read_err(s.as_ref()).await;
    assert!(
        e.starts_with(&format!(
            "rabbitmq queue \"q\" at {dead} vhost \"/\": cannot connect"
        )),
        "{e}"
    );
    let s = scaler(
        "rabbitmq",
        &[
            ("host", "amqp://guest:wrong@127.0.0.1:5672/"),
            ("queueName", "q"),
        ],
    );
    let e = read_err(s.as_ref()).await;
    assert!(e.contains("cannot connect") && e.contains("403"), "{e}");
    let e = build_error(
        "rabbitmq",
        &[("host", AMQP), ("queueName", "q"), ("mode", "MessageRate")],
    );
    assert!(
        e.starts_with(
            "triggers[0] (rabbitmq): metadata.mode MessageRate needs the RabbitMQ management API"
        ),
        "{e}"
    );
    assert!(
        build_error(
            "rabbitmq",
            &[
                ("host", "http://guest:guest@127.0.0.1:15672/"),
                ("queueName", "q")
            ]
        )
        .contains("management API")
    );
    assert!(
        build_error(
            "rabbitmq",
            &[("host", AMQP), ("queueName", "q"), ("protocol", "http")]
        )
        .contains("management API")
    );
    assert_eq!(
        build_error("rabbitmq", &[("host", AMQP)]),
        "triggers[0] (rabbitmq): metadata.queueName is required"
    );
}

async fn nats() -> NatsConnection {
    tokio::time::timeout(TIMEOUT, NatsConnection::connect(NATS, &NatsAuth::default()))
        .await
        .expect("NATS connect timed out")
        .expect("connect to NATS at 127.0.0.1:4222")
}

async fn js(c: &mut NatsConnection, subject: &str, body: &serde_json::Value) -> serde_json::Value {
    tokio::time::timeout(TIMEOUT, c.jetstream(subject, body))
        .await
        .expect("JetStream request timed out")
        .unwrap_or_else(|e| panic!("{subject}: {e}"))
}

#[tokio::test]
async fn nats_jetstream_lag_over_the_protocol() {
    let stream = unique("stream");
    let mut c = nats().await;
    js(
        &mut c,
        &format!("$JS.API.STREAM.CREATE.{stream}"),
        &json!({"name": stream, "subjects": [format!("{stream}.>")], "storage": "memory"}),
    )
    .await;
    let st = stream.clone();
    let body = async move {
        let stream = st;
        js(
            &mut c,
            &format!("$JS.API.CONSUMER.CREATE.{stream}.workers"),
            &json!({"stream_name": stream, "config": {"durable_name": "workers", "name": "workers", "ack_policy": "explicit", "deliver_policy": "all"}}),
        )
        .await;
        for i in 0..2 {
            // A request to a stream subject returns the publish acknowledgement once stored.
            let ack = c
                .request(&format!("{stream}.jobs"), format!("job {i}").as_bytes())
                .await
                .expect("publish");
            assert!(String::from_utf8_lossy(&ack.payload).contains("\"seq\""));
        }
        let s = scaler(
            "nats-jetstream",
            &[
                ("natsServerAddress", &format!("nats://{NATS}")),
                ("stream", &stream),
                ("consumer", "workers"),
                ("activationLagThreshold", "2"),
            ],
        );
        assert_eq!(
            s.metric_spec().metric_name,
            format!("s0-nats-jetstream-{stream}")
        );
        assert!((s.metric_spec().target - 10.0).abs() < f64::EPSILON);
        let r = read(s.as_ref()).await;
        assert!((r.value - 2.0).abs() < f64::EPSILON && !r.active, "{r:?}");
        c.request(&format!("{stream}.jobs"), b"job 2")
            .await
            .expect("publish");
        let r = read(s.as_ref()).await;
        assert!((r.value - 3.0).abs() < f64::EPSILON && r.active, "{r:?}");
        // Fetch one without acknowledging: pending 2 + ack pending 1 = still 3.
        let msg = c
            .request(
                &format!("$JS.API.CONSUMER.MSG.NEXT.{stream}.workers"),
                br#"{"batch":1}"#,
            )
            .await
            .expect("fetch");
        assert_eq!(msg.payload, b"job 0");
        let r = read(s.as_ref()).await;
        assert!((r.value - 3.0).abs() < f64::EPSILON && r.active, "{r:?}");

        let missing = scaler(
            "nats-jetstream",
            &[
                ("natsServerAddress", NATS),
                ("stream", &stream),
                ("consumer", "nobody"),
            ],
        );
        let e = read_err(missing.as_ref()).await;
        assert!(
            e.starts_with(&format!("nats-jetstream consumer \"nobody\" of stream \"{stream}\" at nats://{NATS}: consumer info: consumer not found")),
            "{e}"
        );
    };
    with_cleanup(body, async {
        js(
            &mut nats().await,
            &format!("$JS.API.STREAM.DELETE.{stream}"),
            &serde_json::Value::Null,
        )
        .await;
    })
    .await;
}

#[tokio::test]
async fn nats_jetstream_monitoring_endpoint_and_errors() {
    // The local server has no monitoring port; an in-process /jsz stands in for it.
    let app = axum::Router::new().route(
        "/jsz",
        axum::routing::get(|q: axum::extract::Query<std::collections::BTreeMap<String, String>>| async move {
            assert_eq!(q.get("acc").map(String::as_str), Some("$G"));
            assert_eq!(q.get("consumers").map(String::as_str), Some("true"));
            axum::Json(json!({"account_details": [{"name": "$G", "stream_detail": [{"name": "orders",
                "consumer_detail": [{"name": "workers", "num_pending": 8, "num_ack_pending": 4}]}]}]}))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let s = scaler(
        "nats-jetstream",
        &[
            ("natsServerMonitoringEndpoint", &addr),
            ("account", "$G"),
            ("stream", "orders"),
            ("consumer", "workers"),
            ("activationLagThreshold", "12"),
        ],
    );
    let r = read(s.as_ref()).await;
    assert!((r.value - 12.0).abs() < f64::EPSILON && !r.active, "{r:?}");
    let s = scaler(
        "nats-jetstream",
        &[
            ("natsServerMonitoringEndpoint", &addr),
            ("account", "$G"),
            ("stream", "orders"),
            ("consumer", "gone"),
        ],
    );
    assert!(
        read_err(s.as_ref())
            .await
            .contains("consumer \"gone\" not found in stream \"orders\"")
    );
    server.abort();

    let dead = dead_address();
    let s = scaler(
        "nats-jetstream",
        &[
            ("natsServerAddress", &dead),
            ("stream", "s"),
            ("consumer", "c"),
        ],
    );
    let e = read_err(s.as_ref()).await;
    assert!(
        e.starts_with(&format!(
            "nats-jetstream consumer \"c\" of stream \"s\" at nats://{dead}: cannot connect"
        )),
        "{e}"
    );
    assert!(
        build_error("nats-jetstream", &[("stream", "s"), ("consumer", "c")])
            .contains("natsServerMonitoringEndpoint")
    );
    assert!(
        build_error(
            "nats-jetstream",
            &[
                ("natsServerAddress", NATS),
                ("stream", "a.b"),
                ("consumer", "c")
            ]
        )
        .contains("metadata.stream")
    );
}

async fn mqtt() -> MqttConnection {
    tokio::time::timeout(TIMEOUT, MqttConnection::connect(MQTT, None, None))
        .await
        .expect("MQTT connect timed out")
        .expect("connect to Mosquitto at 127.0.0.1:1883")
}

#[tokio::test]
async fn mqtt_retained_value_activation_and_errors() {
    let topic = format!("ksx/test/{}", unique("depth"));
    let mut c = mqtt().await;
    c.publish_retained(&topic, b"7").await.expect("publish");
    let tp = topic.clone();
    let body = async move {
        let topic = tp;
        let s = scaler(
            "mqtt",
            &[
                ("brokerAddress", MQTT),
                ("topic", &topic),
                ("value", "5"),
                ("activationValue", "7"),
            ],
        );
        assert_eq!(
            s.metric_spec().metric_name,
            format!("s0-mqtt-{}", topic.replace('/', "-"))
        );
        let r = read(s.as_ref()).await;
        assert!((r.value - 7.0).abs() < f64::EPSILON && !r.active, "{r:?}");
        c.publish_retained(&topic, b" 8.5 ").await.expect("publish");
        let r = read(s.as_ref()).await;
        assert!((r.value - 8.5).abs() < f64::EPSILON && r.active, "{r:?}");
        c.publish_retained(&topic, b"lots").await.expect("publish");
        let e = read_err(s.as_ref()).await;
        assert!(
            e.starts_with(&format!(
                "mqtt topic \"{topic}\" at {MQTT}: retained value \"lots\" is not a number"
            )),
            "{e}"
        );
        // An empty retained message clears it; then the topic has no value.
        c.publish_retained(&topic, b"").await.expect("clear");
        let s = scaler(
            "mqtt",
            &[("brokerAddress", MQTT), ("topic", &topic), ("value", "5")],
        );
        assert!(read_err(s.as_ref()).await.contains("no retained value"));
        c.disconnect().await;
    };
    with_cleanup(body, async {
        let mut c = mqtt().await;
        c.publish_retained(&topic, b"").await.expect("clear");
        c.disconnect().await;
    })
    .await;

    let dead = dead_address();
    let s = scaler(
        "mqtt",
        &[("brokerAddress", &dead), ("topic", "a"), ("value", "1")],
    );
    assert!(
        read_err(s.as_ref())
            .await
            .starts_with(&format!("mqtt topic \"a\" at {dead}: cannot connect"))
    );
    assert!(
        build_error(
            "mqtt",
            &[("brokerAddress", MQTT), ("topic", "a/#"), ("value", "1")]
        )
        .contains("wildcards")
    );
    assert_eq!(
        build_error("mqtt", &[("brokerAddress", MQTT), ("topic", "a")]),
        "triggers[0] (mqtt): metadata.value is required"
    );
}
