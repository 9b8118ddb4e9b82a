//! `rabbitmq` over AMQP 0-9-1, and the small AMQP client it needs.
//!
//! The scaler reads a queue's ready messages with a passive `queue.declare` (QueueLength mode; over AMQP ready
//! only, as upstream). The other modes (MessageRate, DeliverGetRate, …), `useRegex` and `protocol: http` need the
//! RabbitMQ management API, which ksx does not speak yet: they are configuration errors saying so.
//!
//! [`AmqpConnection`] implements just what the scaler and its tests use: the handshake with PLAIN login, one
//! channel, `queue.declare` (passive or not), `queue.delete` and `basic.publish`. No TLS (`amqps`).

use std::fmt;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _, BufStream};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

use super::{Meta, bounded, reading};
use crate::event::scaler::{MetricSpec, Reading, Scaler, ScalerError};

const FRAME_METHOD: u8 = 1;
const FRAME_HEADER: u8 = 2;
const FRAME_BODY: u8 = 3;
const FRAME_HEARTBEAT: u8 = 8;
const FRAME_END: u8 = 0xCE;
/// The channel the client uses.
const CHANNEL: u16 = 1;
/// Frame size the client proposes (and the most it accepts).
const MAX_FRAME: u32 = 131_072;

/// An AMQP failure: a refusal from the server (`code` set, e.g. 404 for a missing queue, 403 for bad
/// credentials) or a transport or protocol problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmqpError {
    /// The AMQP reply code, when the server closed the channel or connection.
    pub code: Option<u16>,
    /// What went wrong.
    pub message: String,
    /// Whether the connection is still usable (only the channel was closed).
    pub channel_only: bool,
}

impl AmqpError {
    fn io(e: &std::io::Error) -> Self {
        Self {
            code: None,
            message: e.to_string(),
            channel_only: false,
        }
    }

    fn protocol(message: impl Into<String>) -> Self {
        Self {
            code: None,
            message: message.into(),
            channel_only: false,
        }
    }
}

impl fmt::Display for AmqpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.code {
            Some(c) => write!(f, "{} ({c})", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for AmqpError {}

/// A parsed `amqp://user:password@host:port/vhost` URL (defaults guest/guest, port 5672, vhost `/`).
#[derive(Clone, PartialEq, Eq)]
pub struct AmqpUrl {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// User name.
    pub user: String,
    /// Password.
    pub password: String,
    /// Virtual host.
    pub vhost: String,
}

impl fmt::Debug for AmqpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AmqpUrl")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("vhost", &self.vhost)
            .finish_non_exhaustive()
    }
}

fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad percent escape in {s:?}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("{s:?} is not UTF-8 once decoded"))
}

impl AmqpUrl {
    /// Parses an `amqp://` URL.
    ///
    /// # Errors
    /// Another scheme (`amqps` included: no TLS yet), a bad port or escape.
    pub fn parse(url: &str) -> Result<Self, String> {
        let rest = url
            .strip_prefix("amqp://")
            .ok_or_else(|| "expected an amqp://user:password@host:port/vhost URL".to_owned())?;
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (creds, hostport) = match authority.rsplit_once('@') {
            Some((c, h)) => (Some(c), h),
            None => (None, authority),
        };
        let (user, password) = match creds {
            Some(c) => match c.split_once(':') {
                Some((u, p)) => (percent_decode(u)?, percent_decode(p)?),
                None => (percent_decode(c)?, String::new()),
            },
            None => ("guest".to_owned(), "guest".to_owned()),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (
                h.to_owned(),
                p.parse::<u16>()
                    .map_err(|_| format!("invalid port {p:?}"))?,
            ),
            None => (hostport.to_owned(), 5672),
        };
        if host.is_empty() {
            return Err("the URL has no host".to_owned());
        }
        let path = path.split('?').next().unwrap_or_default();
        let vhost = if path.is_empty() {
            "/".to_owned()
        } else {
            percent_decode(path)?
        };
        Ok(Self {
            host,
            port,
            user,
            password,
            vhost,
        })
    }
}

/// What `queue.declare-ok` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueInfo {
    /// Messages ready for delivery.
    pub messages: u32,
    /// Consumers.
    pub consumers: u32,
}

fn put_short_str(buf: &mut Vec<u8>, s: &str) -> Result<(), AmqpError> {
    let len = u8::try_from(s.len())
        .map_err(|_| AmqpError::protocol(format!("{s:?} is longer than 255 bytes")))?;
    buf.push(len);
    buf.extend_from_slice(s.as_bytes());
    Ok(())
}

fn put_long_str(buf: &mut Vec<u8>, s: &[u8]) -> Result<(), AmqpError> {
    let len = u32::try_from(s.len()).map_err(|_| AmqpError::protocol("string too long"))?;
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(s);
    Ok(())
}

/// `client-properties`: the product name, and the capability that makes a server report a failed login as
/// `connection.close` 403 instead of dropping the socket.
fn client_properties() -> Result<Vec<u8>, AmqpError> {
    let mut caps = Vec::new();
    put_short_str(&mut caps, "authentication_failure_close")?;
    caps.extend_from_slice(b"t\x01");
    let mut table = Vec::new();
    put_short_str(&mut table, "product")?;
    table.push(b'S');
    put_long_str(&mut table, b"ksx")?;
    put_short_str(&mut table, "capabilities")?;
    table.push(b'F');
    put_long_str(&mut table, &caps)?;
    let mut out = Vec::new();
    put_long_str(&mut out, &table)?;
    Ok(out)
}

/// A cursor over method arguments.
struct Args<'a>(&'a [u8]);

impl Args<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], AmqpError> {
        if self.0.len() < n {
            return Err(AmqpError::protocol("truncated method frame"));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn u16(&mut self) -> Result<u16, AmqpError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, AmqpError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn short_str(&mut self) -> Result<String, AmqpError> {
        let n = usize::from(*self.take(1)?.first().unwrap_or(&0));
        Ok(String::from_utf8_lossy(self.take(n)?).into_owned())
    }
}

/// One AMQP 0-9-1 connection with one channel.
pub struct AmqpConnection {
    io: BufStream<TcpStream>,
    frame_max: u32,
    channel_open: bool,
}

impl fmt::Debug for AmqpConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AmqpConnection")
            .field("frame_max", &self.frame_max)
            .field("channel_open", &self.channel_open)
            .finish_non_exhaustive()
    }
}

impl AmqpConnection {
    /// Connects, logs in with PLAIN, opens the virtual host and channel 1.
    ///
    /// # Errors
    /// The server cannot be reached, refuses the login (403) or the virtual host, or speaks something else.
    pub async fn connect(url: &AmqpUrl) -> Result<Self, AmqpError> {
        let stream = TcpStream::connect((url.host.as_str(), url.port))
            .await
            .map_err(|e| AmqpError::io(&e))?;
        let _ = stream.set_nodelay(true);
        let mut c = Self {
            io: BufStream::new(stream),
            frame_max: MAX_FRAME,
            channel_open: false,
        };
        c.io.write_all(b"AMQP\x00\x00\x09\x01")
            .await
            .map_err(|e| AmqpError::io(&e))?;
        c.io.flush().await.map_err(|e| AmqpError::io(&e))?;
        c.expect(0, 10, 10, "connection.start").await?;
        let mut args = client_properties()?;
        put_short_str(&mut args, "PLAIN")?;
        let mut response = Vec::new();
        response.push(0);
        response.extend_from_slice(url.user.as_bytes());
        response.push(0);
        response.extend_from_slice(url.password.as_bytes());
        put_long_str(&mut args, &response)?;
        put_short_str(&mut args, "en_US")?;
        c.send_method(0, 10, 11, &args).await?;
        let tune = c.expect(0, 10, 30, "connection.tune").await?;
        let mut t = Args(&tune);
        let channel_max = t.u16()?;
        let frame_max = t.u32()?;
        c.frame_max = if frame_max == 0 {
            MAX_FRAME
        } else {
            frame_max.min(MAX_FRAME)
        };
        let mut args = Vec::new();
        args.extend_from_slice(&channel_max.to_be_bytes());
        args.extend_from_slice(&c.frame_max.to_be_bytes());
        args.extend_from_slice(&0u16.to_be_bytes()); // no heartbeats: polls are short-lived
        c.send_method(0, 10, 31, &args).await?;
        let mut args = Vec::new();
        put_short_str(&mut args, &url.vhost)?;
        put_short_str(&mut args, "")?;
        args.push(0);
        c.send_method(0, 10, 40, &args).await?;
        c.expect(0, 10, 41, "connection.open-ok").await?;
        c.open_channel().await?;
        Ok(c)
    }

    async fn open_channel(&mut self) -> Result<(), AmqpError> {
        let mut args = Vec::new();
        put_short_str(&mut args, "")?;
        self.send_method(CHANNEL, 20, 10, &args).await?;
        self.expect(CHANNEL, 20, 11, "channel.open-ok").await?;
        self.channel_open = true;
        Ok(())
    }

    async fn ensure_channel(&mut self) -> Result<(), AmqpError> {
        if !self.channel_open {
            self.open_channel().await?;
        }
        Ok(())
    }

    async fn write_frame(
        &mut self,
        kind: u8,
        channel: u16,
        payload: &[u8],
    ) -> Result<(), AmqpError> {
        let size =
            u32::try_from(payload.len()).map_err(|_| AmqpError::protocol("frame too large"))?;
        let mut frame = Vec::with_capacity(payload.len() + 8);
        frame.push(kind);
        frame.extend_from_slice(&channel.to_be_bytes());
        frame.extend_from_slice(&size.to_be_bytes());
        frame.extend_from_slice(payload);
        frame.push(FRAME_END);
        self.io
            .write_all(&frame)
            .await
            .map_err(|e| AmqpError::io(&e))
    }

    async fn send_method(
        &mut self,
        channel: u16,
        class: u16,
        method: u16,
        args: &[u8],
    ) -> Result<(), AmqpError> {
        let mut payload = Vec::with_capacity(args.len() + 4);
        payload.extend_from_slice(&class.to_be_bytes());
        payload.extend_from_slice(&method.to_be_bytes());
        payload.extend_from_slice(args);
        self.write_frame(FRAME_METHOD, channel, &payload).await?;
        self.io.flush().await.map_err(|e| AmqpError::io(&e))
    }

    /// Reads frames until a method frame; handles close requests from the server.
    async fn read_method(&mut self) -> Result<(u16, u16, u16, Vec<u8>), AmqpError> {
        loop {
            let mut header = [0u8; 7];
            self.io
                .read_exact(&mut header)
                .await
                .map_err(|e| AmqpError::io(&e))?;
            let kind = header[0];
            let channel = u16::from_be_bytes([header[1], header[2]]);
            let size = u32::from_be_bytes([header[3], header[4], header[5], header[6]]);
            if size > self.frame_max.max(MAX_FRAME) {
                return Err(AmqpError::protocol(format!(
                    "frame of {size} bytes is too large"
                )));
            }
            let len = usize::try_from(size).map_err(|_| AmqpError::protocol("frame too large"))?;
            let mut payload = vec![0u8; len + 1];
            self.io
                .read_exact(&mut payload)
                .await
                .map_err(|e| AmqpError::io(&e))?;
            if payload.pop() != Some(FRAME_END) {
                return Err(AmqpError::protocol("frame end marker missing"));
            }
            match kind {
                FRAME_METHOD => {
                    let mut a = Args(&payload);
                    let class = a.u16()?;
                    let method = a.u16()?;
                    let rest = a.0.to_vec();
                    if (class, method) == (10, 50) {
                        let mut r = Args(&rest);
                        let code = r.u16()?;
                        let text = r.short_str()?;
                        let _ = self.send_method(0, 10, 51, &[]).await;
                        return Err(AmqpError {
                            code: Some(code),
                            message: text,
                            channel_only: false,
                        });
                    }
                    if (class, method) == (20, 40) {
                        let mut r = Args(&rest);
                        let code = r.u16()?;
                        let text = r.short_str()?;
                        self.channel_open = false;
                        self.send_method(channel, 20, 41, &[]).await?;
                        return Err(AmqpError {
                            code: Some(code),
                            message: text,
                            channel_only: true,
                        });
                    }
                    return Ok((channel, class, method, rest));
                }
                FRAME_HEARTBEAT | FRAME_HEADER | FRAME_BODY => {}
                other => return Err(AmqpError::protocol(format!("unknown frame type {other}"))),
            }
        }
    }

    async fn expect(
        &mut self,
        channel: u16,
        class: u16,
        method: u16,
        what: &str,
    ) -> Result<Vec<u8>, AmqpError> {
        let (ch, c, m, args) = self.read_method().await?;
        if (ch, c, m) != (channel, class, method) {
            return Err(AmqpError::protocol(format!(
                "expected {what}, got method {c}.{m} on channel {ch}"
            )));
        }
        Ok(args)
    }

    /// `queue.declare`: with `passive`, only checks that the queue exists (404 otherwise); else creates a
    /// non-durable queue when missing.
    ///
    /// # Errors
    /// A missing queue (passive, code 404), a refused declaration, or a transport problem.
    pub async fn queue_declare(
        &mut self,
        queue: &str,
        passive: bool,
    ) -> Result<QueueInfo, AmqpError> {
        self.ensure_channel().await?;
        let mut args = vec![0, 0];
        put_short_str(&mut args, queue)?;
        args.push(u8::from(passive));
        args.extend_from_slice(&[0, 0, 0, 0]);
        self.send_method(CHANNEL, 50, 10, &args).await?;
        let ok = self.expect(CHANNEL, 50, 11, "queue.declare-ok").await?;
        let mut a = Args(&ok);
        let _name = a.short_str()?;
        Ok(QueueInfo {
            messages: a.u32()?,
            consumers: a.u32()?,
        })
    }

    /// `queue.delete`; returns the messages deleted with it.
    ///
    /// # Errors
    /// A refused deletion or a transport problem.
    pub async fn queue_delete(&mut self, queue: &str) -> Result<u32, AmqpError> {
        self.ensure_channel().await?;
        let mut args = vec![0, 0];
        put_short_str(&mut args, queue)?;
        args.push(0);
        self.send_method(CHANNEL, 50, 40, &args).await?;
        let ok = self.expect(CHANNEL, 50, 41, "queue.delete-ok").await?;
        Args(&ok).u32()
    }

    /// `basic.publish` of `body` to the default exchange with routing key `queue` (no confirmation).
    ///
    /// # Errors
    /// A transport problem.
    pub async fn publish(&mut self, queue: &str, body: &[u8]) -> Result<(), AmqpError> {
        self.ensure_channel().await?;
        let mut args = vec![0, 0];
        put_short_str(&mut args, "")?;
        put_short_str(&mut args, queue)?;
        args.push(0);
        let mut payload = Vec::new();
        payload.extend_from_slice(&60u16.to_be_bytes());
        payload.extend_from_slice(&40u16.to_be_bytes());
        payload.extend_from_slice(&args);
        self.write_frame(FRAME_METHOD, CHANNEL, &payload).await?;
        let mut header = Vec::new();
        header.extend_from_slice(&60u16.to_be_bytes());
        header.extend_from_slice(&0u16.to_be_bytes());
        header.extend_from_slice(&(body.len() as u64).to_be_bytes());
        header.extend_from_slice(&0u16.to_be_bytes());
        self.write_frame(FRAME_HEADER, CHANNEL, &header).await?;
        let chunk = usize::try_from(self.frame_max.saturating_sub(8).max(1)).unwrap_or(4096);
        for part in body.chunks(chunk) {
            self.write_frame(FRAME_BODY, CHANNEL, part).await?;
        }
        self.io.flush().await.map_err(|e| AmqpError::io(&e))
    }

    /// Closes the connection politely.
    ///
    /// # Errors
    /// A transport problem.
    pub async fn close(mut self) -> Result<(), AmqpError> {
        let mut args = vec![0, 200];
        put_short_str(&mut args, "bye")?;
        args.extend_from_slice(&[0, 0, 0, 0]);
        self.send_method(0, 10, 50, &args).await?;
        // Wait for close-ok; anything else ends the connection all the same.
        let _ = self.read_method().await;
        Ok(())
    }
}

/// `rabbitmq`: QueueLength of `queueName` over AMQP; `value` (20), `activationValue` (0); `host` is the
/// `amqp://` URL (usually from `hostFromEnv` or authentication), `vhostName` overrides its virtual host.
/// Metric `rabbitmq-<queueName>`.
pub struct RabbitMqScaler {
    url: AmqpUrl,
    queue: String,
    conn: Mutex<Option<AmqpConnection>>,
    spec: MetricSpec,
    source: String,
}

impl fmt::Debug for RabbitMqScaler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RabbitMqScaler")
            .field("source", &self.source)
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

const NEEDS_HTTP: &str = "needs the RabbitMQ management API (HTTP), which ksx does not speak yet; \
                          use mode QueueLength with an amqp:// host";

impl RabbitMqScaler {
    /// Reads the keys documented on the type.
    ///
    /// # Errors
    /// A missing or invalid key, or a mode, protocol or option that needs the management API.
    pub fn from_meta(meta: &Meta<'_>) -> Result<Self, ScalerError> {
        meta.no_utilization()?;
        let queue = meta.required("queueName")?;
        let mode = meta.or("mode", "QueueLength")?;
        match mode.as_str() {
            "QueueLength" => {}
            "MessageRate"
            | "DeliverGetRate"
            | "PublishedToDeliveredRatio"
            | "ExpectedQueueConsumptionTime" => {
                return Err(meta.error(format!("metadata.mode {mode} {NEEDS_HTTP}")));
            }
            other => {
                return Err(meta.error(format!(
                    "metadata.mode: unknown mode {other:?} (QueueLength, MessageRate, DeliverGetRate, \
                     PublishedToDeliveredRatio, ExpectedQueueConsumptionTime)"
                )));
            }
        }
        let protocol = meta.or("protocol", "auto")?;
        let host = meta.required("host")?;
        match protocol.as_str() {
            "http" => return Err(meta.error(format!("metadata.protocol http {NEEDS_HTTP}"))),
            "auto" if host.starts_with("http://") || host.starts_with("https://") => {
                return Err(meta.error(format!("an http(s) host {NEEDS_HTTP}")));
            }
            "auto" | "amqp" => {}
            other => {
                return Err(meta.error(format!(
                    "metadata.protocol: {other:?} is not auto, amqp or http"
                )));
            }
        }
        if meta.bool_or("useRegex", false)? {
            return Err(meta.error(format!("metadata.useRegex {NEEDS_HTTP}")));
        }
        // Over AMQP only ready messages are visible, which is what excludeUnacknowledged asks for anyway.
        meta.bool_or("excludeUnacknowledged", false)?;
        let mut url =
            AmqpUrl::parse(&host).map_err(|e| meta.error(format!("metadata.host: {e}")))?;
        if let Some(v) = meta.get("vhostName")? {
            url.vhost = v;
        }
        let target = meta.f64_or("value", 20.0)?;
        let activation = meta.f64_or("activationValue", 0.0)?;
        let source = format!(
            "rabbitmq queue {queue:?} at {}:{} vhost {:?}",
            url.host, url.port, url.vhost
        );
        Ok(Self {
            spec: meta.spec(&format!("rabbitmq-{queue}"), target, activation),
            url,
            queue,
            conn: Mutex::new(None),
            source,
        })
    }

    async fn value(&self) -> Result<f64, ScalerError> {
        let mut guard = self.conn.lock().await;
        // Taken out while in use: a poll cancelled by its timeout drops a connection that may have frames in
        // flight, and the next poll starts clean.
        let mut conn = match guard.take() {
            Some(c) => c,
            None => AmqpConnection::connect(&self.url)
                .await
                .map_err(|e| ScalerError::new(&self.source, format!("cannot connect: {e}")))?,
        };
        match conn.queue_declare(&self.queue, true).await {
            Ok(info) => {
                *guard = Some(conn);
                Ok(f64::from(info.messages))
            }
            Err(e) => {
                if e.channel_only {
                    *guard = Some(conn);
                }
                let message = if e.code == Some(404) {
                    format!("queue does not exist: {e}")
                } else {
                    format!("queue.declare failed: {e}")
                };
                Err(ScalerError::new(&self.source, message))
            }
        }
    }
}

#[async_trait::async_trait]
impl Scaler for RabbitMqScaler {
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
    fn urls() {
        let u = AmqpUrl::parse("amqp://user:p%40ss@mq.local:5673/my%2Fvhost").unwrap();
        assert_eq!(
            (
                u.host.as_str(),
                u.port,
                u.user.as_str(),
                u.password.as_str(),
                u.vhost.as_str()
            ),
            ("mq.local", 5673, "user", "p@ss", "my/vhost")
        );
        let u = AmqpUrl::parse("amqp://127.0.0.1").unwrap();
        assert_eq!(
            (u.port, u.user.as_str(), u.vhost.as_str()),
            (5672, "guest", "/")
        );
        assert!(AmqpUrl::parse("amqps://h/").is_err());
        assert!(
            AmqpUrl::parse("amqp://h:x/")
                .unwrap_err()
                .contains("invalid port")
        );
        assert!(!format!("{u:?}").contains("guest\", password"));
    }

    proptest::proptest! {
        #[test]
        fn garbage_urls_never_panic(s in "(amqp://)?[ -~]{0,40}") {
            let _ = AmqpUrl::parse(&s);
        }

        #[test]
        fn method_args_reader_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..40)) {
            let mut a = Args(&bytes);
            let _ = a.short_str().and_then(|_| a.u32()).and_then(|_| a.u16());
        }
    }

    #[test]
    fn short_strings_are_bounded() {
        let mut b = Vec::new();
        assert!(put_short_str(&mut b, &"x".repeat(256)).is_err());
        put_short_str(&mut b, "ab").unwrap();
        assert_eq!(b, [2, b'a', b'b']);
    }
}
