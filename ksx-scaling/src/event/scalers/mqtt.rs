//! `mqtt` (ksx extension, no upstream KEDA scaler): the retained numeric value of one topic.
//!
//! A publisher keeps the current backlog (or any gauge) as a retained message; each poll connects with a clean
//! session, subscribes to the topic and sends a ping. Brokers answer a connection's packets in order, so the
//! retained message, if any, arrives before the ping response: no response means no retained value, an error,
//! without waiting for a timeout. MQTT 3.1.1, QoS 0, no TLS.
//!
//! Metadata: `brokerAddress` (`host:port`, port 1883 by default), `topic` (no wildcards), `value` (required),
//! `activationValue` (0), `username`/`password` (usually from authentication). Metric `mqtt-<topic>`.

use std::fmt;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _, BufStream};
use tokio::net::TcpStream;

use super::{Meta, bounded, reading};
use crate::event::scaler::{MetricSpec, Reading, Scaler, ScalerError};

/// Largest packet the client accepts.
const MAX_PACKET: usize = 1024 * 1024;

/// A short-lived MQTT 3.1.1 client connection.
pub struct MqttConnection {
    io: BufStream<TcpStream>,
}

impl fmt::Debug for MqttConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MqttConnection").finish_non_exhaustive()
    }
}

fn put_str(buf: &mut Vec<u8>, s: &[u8]) -> Result<(), String> {
    let len = u16::try_from(s.len()).map_err(|_| "string longer than 65535 bytes".to_owned())?;
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(s);
    Ok(())
}

fn packet(first: u8, body: &[u8]) -> Result<Vec<u8>, String> {
    let mut len = body.len();
    if len > 268_435_455 {
        return Err("packet too large".to_owned());
    }
    let mut out = vec![first];
    loop {
        let mut byte = u8::try_from(len % 128).unwrap_or(0);
        len /= 128;
        if len > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if len == 0 {
            break;
        }
    }
    out.extend_from_slice(body);
    Ok(out)
}

fn connack_reason(code: u8) -> &'static str {
    match code {
        1 => "unacceptable protocol version",
        2 => "client identifier rejected",
        3 => "server unavailable",
        4 => "bad user name or password",
        5 => "not authorized",
        _ => "refused",
    }
}

impl MqttConnection {
    /// Connects with a clean session and a unique client id.
    ///
    /// # Errors
    /// The broker cannot be reached or refuses the connection (CONNACK code).
    pub async fn connect(
        address: &str,
        username: Option<&str>,
        password: Option<&str>,
    ) -> Result<Self, String> {
        let stream = TcpStream::connect(address)
            .await
            .map_err(|e| format!("cannot connect: {e}"))?;
        let _ = stream.set_nodelay(true);
        let mut c = Self {
            io: BufStream::new(stream),
        };
        let mut flags = 0x02u8; // clean session
        if username.is_some() {
            flags |= 0x80;
        }
        if password.is_some() {
            flags |= 0x40;
        }
        let mut body = Vec::new();
        put_str(&mut body, b"MQTT")?;
        body.push(4);
        body.push(flags);
        body.extend_from_slice(&30u16.to_be_bytes());
        put_str(
            &mut body,
            format!("ksx-{}", super::client_suffix()).as_bytes(),
        )?;
        if let Some(u) = username {
            put_str(&mut body, u.as_bytes())?;
        }
        if let Some(p) = password {
            put_str(&mut body, p.as_bytes())?;
        }
        c.send(&packet(0x10, &body)?).await?;
        let (kind, body) = c.read_packet().await?;
        if kind >> 4 != 2 {
            return Err(format!("expected CONNACK, got packet type {}", kind >> 4));
        }
        match body.get(1) {
            Some(0) => Ok(c),
            Some(code) => Err(format!(
                "broker refused the connection: {} ({code})",
                connack_reason(*code)
            )),
            None => Err("short CONNACK".to_owned()),
        }
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.io
            .write_all(bytes)
            .await
            .map_err(|e| format!("write failed: {e}"))?;
        self.io
            .flush()
            .await
            .map_err(|e| format!("write failed: {e}"))
    }

    async fn read_packet(&mut self) -> Result<(u8, Vec<u8>), String> {
        let read_err = |e: std::io::Error| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                "connection closed by the broker".to_owned()
            } else {
                format!("read failed: {e}")
            }
        };
        let first = self.io.read_u8().await.map_err(read_err)?;
        let mut len = 0usize;
        let mut shift = 0;
        loop {
            let b = self.io.read_u8().await.map_err(read_err)?;
            len |= usize::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift > 21 {
                return Err("malformed remaining length".to_owned());
            }
        }
        if len > MAX_PACKET {
            return Err(format!("packet of {len} bytes is too large"));
        }
        let mut body = vec![0u8; len];
        self.io.read_exact(&mut body).await.map_err(read_err)?;
        Ok((first, body))
    }

    /// Publishes a retained message at QoS 0 and waits until the broker has handled it (a ping round trip).
    /// An empty payload clears the retained message.
    ///
    /// # Errors
    /// A transport problem or a topic with wildcards.
    pub async fn publish_retained(&mut self, topic: &str, payload: &[u8]) -> Result<(), String> {
        check_topic(topic)?;
        let mut body = Vec::new();
        put_str(&mut body, topic.as_bytes())?;
        body.extend_from_slice(payload);
        let mut out = packet(0x31, &body)?;
        out.extend_from_slice(&[0xC0, 0x00]);
        self.send(&out).await?;
        loop {
            let (kind, _) = self.read_packet().await?;
            if kind >> 4 == 13 {
                return Ok(());
            }
        }
    }

    /// The retained message of `topic`, if the broker holds one.
    ///
    /// # Errors
    /// A refused subscription, a transport problem or a topic with wildcards.
    pub async fn retained(&mut self, topic: &str) -> Result<Option<Vec<u8>>, String> {
        check_topic(topic)?;
        let mut body = Vec::new();
        body.extend_from_slice(&1u16.to_be_bytes());
        put_str(&mut body, topic.as_bytes())?;
        body.push(0);
        let mut out = packet(0x82, &body)?;
        out.extend_from_slice(&[0xC0, 0x00]);
        self.send(&out).await?;
        let mut value = None;
        loop {
            let (kind, body) = self.read_packet().await?;
            match kind >> 4 {
                // SUBACK with the failure code.
                9 if body.get(2) == Some(&0x80) => {
                    return Err(format!("broker refused the subscription to {topic:?}"));
                }
                // PUBLISH: only the retained one counts (a live publish racing us is not "the" value).
                3 => {
                    let qos = (kind >> 1) & 0x03;
                    let retained = kind & 0x01 == 1;
                    let topic_len = body
                        .get(0..2)
                        .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
                        .ok_or_else(|| "short PUBLISH".to_owned())?;
                    let start = 2 + topic_len + if qos > 0 { 2 } else { 0 };
                    let payload = body
                        .get(start..)
                        .ok_or_else(|| "short PUBLISH".to_owned())?;
                    if retained {
                        value = Some(payload.to_vec());
                    }
                }
                // PINGRESP: everything queued before it has arrived.
                13 => return Ok(value),
                _ => {}
            }
        }
    }

    /// Sends DISCONNECT.
    pub async fn disconnect(mut self) {
        let _ = self.send(&[0xE0, 0x00]).await;
    }
}

fn check_topic(topic: &str) -> Result<(), String> {
    if topic.is_empty() || topic.contains(['+', '#']) {
        return Err(format!(
            "topic {topic:?} must be one topic without wildcards"
        ));
    }
    Ok(())
}

/// `mqtt`: see the module docs.
pub struct MqttScaler {
    address: String,
    topic: String,
    username: Option<String>,
    password: Option<String>,
    spec: MetricSpec,
    source: String,
}

impl fmt::Debug for MqttScaler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MqttScaler")
            .field("source", &self.source)
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

impl MqttScaler {
    /// Reads the keys of the module docs.
    ///
    /// # Errors
    /// A missing or invalid key.
    pub fn from_meta(meta: &Meta<'_>) -> Result<Self, ScalerError> {
        meta.no_utilization()?;
        let raw = meta.required("brokerAddress")?;
        let host = raw
            .strip_prefix("mqtt://")
            .or_else(|| raw.strip_prefix("tcp://"))
            .unwrap_or(&raw);
        if raw.starts_with("mqtts://") || raw.starts_with("ssl://") {
            return Err(meta.error("metadata.brokerAddress: TLS is not supported by ksx yet"));
        }
        let address = if host
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            host.to_owned()
        } else {
            format!("{host}:1883")
        };
        let topic = meta.required("topic")?;
        check_topic(&topic).map_err(|e| meta.error(format!("metadata.topic: {e}")))?;
        let target = meta.f64_required("value")?;
        let activation = meta.f64_or("activationValue", 0.0)?;
        let source = format!("mqtt topic {topic:?} at {address}");
        Ok(Self {
            spec: meta.spec(&format!("mqtt-{topic}"), target, activation),
            address,
            topic,
            username: meta.get("username")?,
            password: meta.get("password")?,
            source,
        })
    }

    async fn value(&self) -> Result<f64, ScalerError> {
        let err = |m: String| ScalerError::new(&self.source, m);
        let mut c = MqttConnection::connect(
            &self.address,
            self.username.as_deref(),
            self.password.as_deref(),
        )
        .await
        .map_err(err)?;
        let retained = c.retained(&self.topic).await.map_err(err)?;
        c.disconnect().await;
        let payload = retained.ok_or_else(|| err("no retained value on the topic".to_owned()))?;
        let text = String::from_utf8_lossy(&payload);
        match text.trim().parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(err(format!("retained value {text:?} is not a number"))),
        }
    }
}

#[async_trait::async_trait]
impl Scaler for MqttScaler {
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
    fn remaining_length_encoding() {
        assert_eq!(packet(0xC0, &[]).unwrap(), [0xC0, 0x00]);
        let p = packet(0x30, &[0u8; 321]).unwrap();
        // 321 = 0b10_1000001 → 0xC1 0x02
        assert_eq!(&p[..3], &[0x30, 0xC1, 0x02]);
        assert_eq!(p.len(), 3 + 321);
    }

    #[test]
    fn topics_without_wildcards() {
        assert!(check_topic("a/+/b").is_err());
        assert!(check_topic("a/#").is_err());
        assert!(check_topic("queue/depth").is_ok());
    }
}
