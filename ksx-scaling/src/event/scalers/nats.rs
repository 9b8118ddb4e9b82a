//! `nats-jetstream`: consumer lag, `num_pending + num_ack_pending`, as upstream.
//!
//! Two sources:
//! - `natsServerMonitoringEndpoint` (upstream): the HTTP monitoring endpoint's `/jsz?acc=<account>&consumers=true`
//!   (`useHttps` for https).
//! - `natsServerAddress` (ksx extension, for servers without the monitoring port): the consumer-info request of
//!   the JetStream API, `$JS.API.CONSUMER.INFO.<stream>.<consumer>`, over the NATS client protocol; the account is
//!   the one the credentials (`username`/`password` or `token`, from authentication) log into.
//!
//! [`NatsConnection`] is the small NATS client the second source and the tests use: CONNECT, PUB, SUB and
//! request/reply with no-responders detection. No TLS.

use std::fmt;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufStream};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

use super::{Meta, bounded, reading};
use crate::event::scaler::{MetricSpec, Reading, Scaler, ScalerError};

/// Largest message the client accepts.
const MAX_PAYLOAD: usize = 8 * 1024 * 1024;

/// Credentials for CONNECT.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct NatsAuth {
    /// User name.
    pub user: Option<String>,
    /// Password.
    pub password: Option<String>,
    /// Token.
    pub token: Option<String>,
}

impl fmt::Debug for NatsAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NatsAuth")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// One NATS client connection.
pub struct NatsConnection {
    io: BufStream<TcpStream>,
    next_sid: u64,
    inbox_prefix: String,
}

impl fmt::Debug for NatsConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NatsConnection")
            .field("inbox_prefix", &self.inbox_prefix)
            .finish_non_exhaustive()
    }
}

/// A message received by [`NatsConnection::request`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsMessage {
    /// Status from the header block (`503` for no responders), when headers came.
    pub status: Option<u16>,
    /// The payload.
    pub payload: Vec<u8>,
}

fn json_str(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

impl NatsConnection {
    /// Connects to `host:port` and logs in.
    ///
    /// # Errors
    /// The server cannot be reached or refuses the login (`-ERR`).
    pub async fn connect(address: &str, auth: &NatsAuth) -> Result<Self, String> {
        let stream = TcpStream::connect(address)
            .await
            .map_err(|e| format!("cannot connect: {e}"))?;
        let _ = stream.set_nodelay(true);
        let mut c = Self {
            io: BufStream::new(stream),
            next_sid: 1,
            inbox_prefix: format!("_INBOX.ksx.{}", super::client_suffix().replace('-', "_")),
        };
        let info = c.read_line().await?;
        if !info.starts_with("INFO ") {
            return Err(format!("expected INFO from a NATS server, got {info:?}"));
        }
        let mut connect = String::from(
            r#"{"verbose":false,"pedantic":false,"lang":"rust","name":"ksx","protocol":1,"headers":true,"no_responders":true"#,
        );
        if let Some(u) = &auth.user {
            connect.push_str(&format!(",\"user\":{}", json_str(u)));
        }
        if let Some(p) = &auth.password {
            connect.push_str(&format!(",\"pass\":{}", json_str(p)));
        }
        if let Some(t) = &auth.token {
            connect.push_str(&format!(",\"auth_token\":{}", json_str(t)));
        }
        connect.push('}');
        c.write(format!("CONNECT {connect}\r\nPING\r\n").as_bytes())
            .await?;
        loop {
            let line = c.read_line().await?;
            if line == "PONG" {
                return Ok(c);
            }
            if let Some(err) = line.strip_prefix("-ERR") {
                return Err(format!("server refused the connection:{err}"));
            }
        }
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.io
            .write_all(bytes)
            .await
            .map_err(|e| format!("write failed: {e}"))?;
        self.io
            .flush()
            .await
            .map_err(|e| format!("write failed: {e}"))
    }

    async fn read_line(&mut self) -> Result<String, String> {
        let mut line = String::new();
        let n = (&mut self.io)
            .take(64 * 1024)
            .read_line(&mut line)
            .await
            .map_err(|e| format!("read failed: {e}"))?;
        if n == 0 {
            return Err("connection closed by the server".to_owned());
        }
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }

    /// Publishes without waiting for anything.
    ///
    /// # Errors
    /// A transport problem or a subject with spaces.
    pub async fn publish(&mut self, subject: &str, payload: &[u8]) -> Result<(), String> {
        check_subject(subject)?;
        let mut buf = format!("PUB {subject} {}\r\n", payload.len()).into_bytes();
        buf.extend_from_slice(payload);
        buf.extend_from_slice(b"\r\n");
        self.write(&buf).await
    }

    /// Sends `payload` to `subject` and returns the first reply. No responders is an error.
    ///
    /// # Errors
    /// No responders, `-ERR`, a transport problem; the caller bounds the wait.
    pub async fn request(&mut self, subject: &str, payload: &[u8]) -> Result<NatsMessage, String> {
        check_subject(subject)?;
        let sid = self.next_sid;
        self.next_sid += 1;
        let inbox = format!("{}.{sid}", self.inbox_prefix);
        let mut buf = format!(
            "SUB {inbox} {sid}\r\nUNSUB {sid} 1\r\nPUB {subject} {inbox} {}\r\n",
            payload.len()
        )
        .into_bytes();
        buf.extend_from_slice(payload);
        buf.extend_from_slice(b"\r\n");
        self.write(&buf).await?;
        loop {
            let line = self.read_line().await?;
            let mut parts = line.split_ascii_whitespace();
            match parts.next() {
                Some("PING") => self.write(b"PONG\r\n").await?,
                Some("MSG") => {
                    let fields: Vec<&str> = parts.collect();
                    let (msg_sid, total) = match fields.as_slice() {
                        [_, s, n] | [_, s, _, n] => (*s, *n),
                        _ => return Err(format!("bad MSG line {line:?}")),
                    };
                    let payload = self.read_payload(total).await?;
                    if msg_sid == sid.to_string() {
                        return Ok(NatsMessage {
                            status: None,
                            payload,
                        });
                    }
                }
                Some("HMSG") => {
                    let fields: Vec<&str> = parts.collect();
                    let (msg_sid, hdr, total) = match fields.as_slice() {
                        [_, s, h, n] | [_, s, _, h, n] => (*s, *h, *n),
                        _ => return Err(format!("bad HMSG line {line:?}")),
                    };
                    let all = self.read_payload(total).await?;
                    let hdr_len: usize =
                        hdr.parse().map_err(|_| format!("bad HMSG line {line:?}"))?;
                    let (headers, body) = all
                        .split_at_checked(hdr_len)
                        .ok_or_else(|| format!("bad HMSG sizes {line:?}"))?;
                    if msg_sid == sid.to_string() {
                        let status = String::from_utf8_lossy(headers)
                            .lines()
                            .next()
                            .and_then(|l| l.split_ascii_whitespace().nth(1))
                            .and_then(|s| s.parse::<u16>().ok());
                        if status == Some(503) {
                            return Err(format!("no responders for {subject}"));
                        }
                        return Ok(NatsMessage {
                            status,
                            payload: body.to_vec(),
                        });
                    }
                }
                Some("-ERR") => {
                    return Err(format!("server error:{}", line.trim_start_matches("-ERR")));
                }
                _ => {}
            }
        }
    }

    async fn read_payload(&mut self, size: &str) -> Result<Vec<u8>, String> {
        let n: usize = size.parse().map_err(|_| format!("bad size {size:?}"))?;
        if n > MAX_PAYLOAD {
            return Err(format!("message of {n} bytes is too large"));
        }
        let mut buf = vec![0u8; n + 2];
        self.io
            .read_exact(&mut buf)
            .await
            .map_err(|e| format!("read failed: {e}"))?;
        buf.truncate(n);
        Ok(buf)
    }

    /// A JetStream API request: JSON in, JSON out, an `error` object turned into an error.
    ///
    /// # Errors
    /// As [`NatsConnection::request`], an answer that is not JSON, or the API's error (`consumer not found (404)`).
    pub async fn jetstream(
        &mut self,
        subject: &str,
        body: &Value,
    ) -> Result<Value, JetStreamError> {
        let payload = if body.is_null() {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        };
        let reply = self.request(subject, &payload).await.map_err(|e| {
            if e.starts_with("no responders") {
                JetStreamError {
                    message: format!("{e} (is JetStream enabled?)"),
                    answered: true,
                }
            } else {
                JetStreamError {
                    message: e,
                    answered: false,
                }
            }
        })?;
        let v: Value = serde_json::from_slice(&reply.payload).map_err(|e| JetStreamError {
            message: format!("answer to {subject} is not JSON: {e}"),
            answered: true,
        })?;
        if let Some(err) = v.get("error") {
            let description = err
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or("unknown error");
            let code = err.get("code").and_then(Value::as_i64).unwrap_or(0);
            return Err(JetStreamError {
                message: format!("{description} ({code})"),
                answered: true,
            });
        }
        Ok(v)
    }
}

/// A failed JetStream request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JetStreamError {
    /// What went wrong.
    pub message: String,
    /// Whether the server answered (an API error, no responders): the connection is still usable.
    pub answered: bool,
}

impl fmt::Display for JetStreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for JetStreamError {}

fn check_subject(subject: &str) -> Result<(), String> {
    if subject.is_empty() || subject.contains(|c: char| c.is_ascii_whitespace()) {
        return Err(format!("invalid subject {subject:?}"));
    }
    Ok(())
}

/// A name that must not contain `.`, `*`, `>` or whitespace (stream and consumer names).
fn check_name(meta: &Meta<'_>, key: &str, v: &str) -> Result<(), ScalerError> {
    if v.contains(['.', '*', '>']) || v.contains(|c: char| c.is_ascii_whitespace()) {
        return Err(meta.error(format!(
            "metadata.{key}: {v:?} is not a valid JetStream name"
        )));
    }
    Ok(())
}

/// Lag of a consumer-info object.
fn lag_of(info: &Value) -> Result<f64, String> {
    let field = |k: &str| {
        info.get(k)
            .and_then(Value::as_f64)
            .ok_or_else(|| format!("consumer info has no {k}"))
    };
    Ok(field("num_pending")? + field("num_ack_pending")?)
}

/// Finds the consumer in a `/jsz` answer.
fn lag_from_jsz(jsz: &Value, account: &str, stream: &str, consumer: &str) -> Result<f64, String> {
    let by_name = |arr: Option<&Value>, name: &str| -> Option<Value> {
        arr.and_then(Value::as_array)?
            .iter()
            .find(|x| x.get("name").and_then(Value::as_str) == Some(name))
            .cloned()
    };
    let acc = by_name(jsz.get("account_details"), account)
        .ok_or_else(|| format!("account {account:?} not found in /jsz"))?;
    let st = by_name(acc.get("stream_detail"), stream)
        .ok_or_else(|| format!("stream {stream:?} not found in account {account:?}"))?;
    let co = by_name(st.get("consumer_detail"), consumer)
        .ok_or_else(|| format!("consumer {consumer:?} not found in stream {stream:?}"))?;
    lag_of(&co)
}

enum Source {
    Monitoring {
        http: reqwest::Client,
        url: String,
        account: String,
    },
    Protocol {
        address: String,
        auth: NatsAuth,
        conn: Mutex<Option<Box<NatsConnection>>>,
    },
}

/// `nats-jetstream`: `stream`, `consumer` (required), `lagThreshold` (10), `activationLagThreshold` (0), and
/// either `natsServerMonitoringEndpoint` (+ `account`, `useHttps`) or the ksx extension `natsServerAddress`.
/// Metric `nats-jetstream-<stream>`.
pub struct NatsJetStreamScaler {
    source_kind: Source,
    stream: String,
    consumer: String,
    spec: MetricSpec,
    source: String,
}

impl fmt::Debug for NatsJetStreamScaler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NatsJetStreamScaler")
            .field("source", &self.source)
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

impl NatsJetStreamScaler {
    /// Reads the keys documented on the type.
    ///
    /// # Errors
    /// A missing or invalid key; neither or both sources given.
    pub fn from_meta(meta: &Meta<'_>) -> Result<Self, ScalerError> {
        meta.no_utilization()?;
        let stream = meta.required("stream")?;
        let consumer = meta.required("consumer")?;
        check_name(meta, "stream", &stream)?;
        check_name(meta, "consumer", &consumer)?;
        let target = meta.f64_or("lagThreshold", 10.0)?;
        let activation = meta.f64_or("activationLagThreshold", 0.0)?;
        let monitoring = meta.get("natsServerMonitoringEndpoint")?;
        let address = meta.get("natsServerAddress")?;
        let (source_kind, source) = match (monitoring, address) {
            (Some(_), Some(_)) => {
                return Err(meta.error(
                    "give metadata.natsServerMonitoringEndpoint or metadata.natsServerAddress, not both",
                ));
            }
            (None, None) => {
                return Err(meta.error(
                    "metadata.natsServerMonitoringEndpoint (or the ksx extension natsServerAddress) is required",
                ));
            }
            (Some(endpoint), None) => {
                let account = meta.required("account")?;
                let scheme = if meta.bool_or("useHttps", false)? {
                    "https"
                } else {
                    "http"
                };
                let mut url =
                    reqwest::Url::parse(&format!("{scheme}://{endpoint}/jsz")).map_err(|e| {
                        meta.error(format!("metadata.natsServerMonitoringEndpoint: {e}"))
                    })?;
                url.query_pairs_mut()
                    .append_pair("acc", &account)
                    .append_pair("consumers", "true")
                    .append_pair("config", "true");
                let source = format!(
                    "nats-jetstream consumer {consumer:?} of stream {stream:?} at {scheme}://{endpoint}"
                );
                (
                    Source::Monitoring {
                        http: reqwest::Client::new(),
                        url: url.to_string(),
                        account,
                    },
                    source,
                )
            }
            (None, Some(addr)) => {
                let address = addr.strip_prefix("nats://").unwrap_or(&addr).to_owned();
                if address.starts_with("tls://") {
                    return Err(
                        meta.error("metadata.natsServerAddress: TLS is not supported by ksx yet")
                    );
                }
                let source = format!(
                    "nats-jetstream consumer {consumer:?} of stream {stream:?} at nats://{address}"
                );
                (
                    Source::Protocol {
                        address,
                        auth: NatsAuth {
                            user: meta.get("username")?,
                            password: meta.get("password")?,
                            token: meta.get("token")?,
                        },
                        conn: Mutex::new(None),
                    },
                    source,
                )
            }
        };
        Ok(Self {
            source_kind,
            spec: meta.spec(&format!("nats-jetstream-{stream}"), target, activation),
            stream,
            consumer,
            source,
        })
    }

    async fn value(&self) -> Result<f64, ScalerError> {
        let err = |m: String| ScalerError::new(&self.source, m);
        match &self.source_kind {
            Source::Monitoring { http, url, account } => {
                let resp = http
                    .get(url)
                    .send()
                    .await
                    .map_err(|e| err(format!("GET /jsz failed: {e}")))?;
                let status = resp.status();
                if !status.is_success() {
                    return Err(err(format!("GET /jsz answered {status}")));
                }
                let jsz: Value = resp
                    .json()
                    .await
                    .map_err(|e| err(format!("/jsz is not JSON: {e}")))?;
                lag_from_jsz(&jsz, account, &self.stream, &self.consumer).map_err(err)
            }
            Source::Protocol {
                address,
                auth,
                conn,
            } => {
                let mut guard = conn.lock().await;
                // Taken out while in use: a cancelled poll drops it rather than leave a reply in flight.
                let mut c = match guard.take() {
                    Some(c) => c,
                    None => Box::new(NatsConnection::connect(address, auth).await.map_err(err)?),
                };
                let subject = format!("$JS.API.CONSUMER.INFO.{}.{}", self.stream, self.consumer);
                match c.jetstream(&subject, &Value::Null).await {
                    Ok(info) => {
                        *guard = Some(c);
                        lag_of(&info).map_err(err)
                    }
                    Err(e) => {
                        if e.answered {
                            *guard = Some(c);
                        }
                        Err(err(format!("consumer info: {e}")))
                    }
                }
            }
        }
    }
}

#[async_trait::async_trait]
impl Scaler for NatsJetStreamScaler {
    fn metric_spec(&self) -> &MetricSpec {
        &self.spec
    }

    async fn poll(&self, _now_nanos: i64, timeout: Duration) -> Result<Reading, ScalerError> {
        let value = bounded(&self.source, timeout, self.value()).await?;
        Ok(reading(value, self.spec.activation))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsz_lookup() {
        let jsz = serde_json::json!({"account_details": [{"name": "$G", "stream_detail": [
            {"name": "orders", "consumer_detail": [
                {"name": "worker", "num_pending": 7, "num_ack_pending": 2},
                {"name": "other", "num_pending": 100, "num_ack_pending": 0}
            ]}
        ]}]});
        assert_eq!(lag_from_jsz(&jsz, "$G", "orders", "worker"), Ok(9.0));
        assert!(
            lag_from_jsz(&jsz, "$G", "orders", "nope")
                .unwrap_err()
                .contains("consumer \"nope\"")
        );
        assert!(
            lag_from_jsz(&jsz, "A", "orders", "worker")
                .unwrap_err()
                .contains("account")
        );
        assert!(
            lag_from_jsz(&jsz, "$G", "x", "worker")
                .unwrap_err()
                .contains("stream \"x\"")
        );
    }

    #[test]
    fn subjects() {
        assert!(check_subject("a b").is_err());
        assert!(check_subject("").is_err());
        assert!(check_subject("$JS.API.INFO").is_ok());
    }
}
