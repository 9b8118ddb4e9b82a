//! Redis scalers: list length (`redis`), streams (`redis-streams`), and [`RedisBatchPoller`], which reads many
//! list lengths on one server in one pipelined round trip.
//!
//! The length of a `redis` trigger's key depends on its type, as upstream: sorted set ZCARD, set SCARD, hash
//! HLEN, list LLEN; a missing key is 0; any other type is an error. ksx asks the server for type and length in
//! one server-side script call per batch, so one key or ten thousand cost one round trip. The user therefore
//! needs `EVAL` (ACL category `@scripting`) besides the read commands. Redis Cluster is not supported yet.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Value};
use tokio::sync::{Mutex, oneshot};

use super::{Meta, bounded, reading};
use crate::event::scaler::{MetricSpec, Reading, Scaler, ScalerError};

/// Keys per script call inside a batch: bounds how long one call holds the (single-threaded) server.
pub const DEFAULT_KEYS_PER_CALL: usize = 1_000;

/// Type dispatch and length per key, server side. Returns an integer per key, or the type name when the key
/// holds something else.
const LENGTH_SCRIPT: &str = r"
local out = {}
for i, k in ipairs(KEYS) do
  local t = redis.call('TYPE', k)['ok']
  if t == 'list' or t == 'none' then out[i] = redis.call('LLEN', k)
  elseif t == 'zset' then out[i] = redis.call('ZCARD', k)
  elseif t == 'set' then out[i] = redis.call('SCARD', k)
  elseif t == 'hash' then out[i] = redis.call('HLEN', k)
  else out[i] = t end
end
return out
";

/// Where a Redis server is and how to log in.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RedisAddress {
    /// `host:port`.
    pub address: String,
    /// ACL user name.
    pub username: Option<String>,
    /// Password.
    pub password: Option<String>,
    /// Database index.
    pub database: i64,
}

impl std::fmt::Debug for RedisAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisAddress")
            .field("address", &self.address)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("database", &self.database)
            .finish()
    }
}

impl RedisAddress {
    /// A server without authentication, database 0.
    pub fn new(address: impl Into<String>) -> Self {
        Self {
            address: address.into(),
            username: None,
            password: None,
            database: 0,
        }
    }

    /// Reads `address` (or `host` and `port`, default 6379), `username`, `password`, `databaseIndex` and
    /// `enableTLS` (TLS is not supported yet).
    ///
    /// # Errors
    /// No address, a bad port or database index, or `enableTLS: true`.
    pub fn from_meta(meta: &Meta<'_>) -> Result<Self, ScalerError> {
        let address = match meta.get("address")? {
            Some(a) => a,
            None => {
                let host = meta
                    .get("host")?
                    .ok_or_else(|| meta.error("metadata.address (or host) is required"))?;
                let port = meta.port_or("port", 6379)?;
                format!("{host}:{port}")
            }
        };
        if meta.bool_or("enableTLS", false)? {
            return Err(meta.error("metadata.enableTLS: TLS to Redis is not supported by ksx yet"));
        }
        let database = match meta.get("databaseIndex")? {
            None => 0,
            Some(v) => v
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|d| *d >= 0)
                .ok_or_else(|| {
                    meta.error(format!(
                        "metadata.databaseIndex: {v:?} is not a database index"
                    ))
                })?,
        };
        Ok(Self {
            address,
            username: meta.get("username")?,
            password: meta.get("password")?,
            database,
        })
    }

    fn url(&self) -> String {
        let mut url = String::from("redis://");
        if self.username.is_some() || self.password.is_some() {
            url.push_str(&percent_encode(self.username.as_deref().unwrap_or("")));
            if let Some(p) = &self.password {
                url.push(':');
                url.push_str(&percent_encode(p));
            }
            url.push('@');
        }
        let _ = write!(url, "{}/{}", self.address, self.database);
        url
    }
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A lazily opened multiplexed connection, dropped on error so the next call reconnects.
struct Connection {
    address: RedisAddress,
    conn: Mutex<Option<MultiplexedConnection>>,
}

impl Connection {
    fn new(address: RedisAddress) -> Self {
        Self {
            address,
            conn: Mutex::new(None),
        }
    }

    async fn get(&self, source: &str) -> Result<MultiplexedConnection, ScalerError> {
        let mut guard = self.conn.lock().await;
        if let Some(c) = guard.as_ref() {
            return Ok(c.clone());
        }
        let client = redis::Client::open(self.address.url())
            .map_err(|e| ScalerError::new(source, format!("invalid address: {e}")))?;
        // The caller bounds every call with its own timeout.
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(None)
            .set_response_timeout(None);
        let c = client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|e| ScalerError::new(source, format!("cannot connect: {e}")))?;
        *guard = Some(c.clone());
        Ok(c)
    }

    async fn reset(&self) {
        *self.conn.lock().await = None;
    }

    async fn query<T: redis::FromRedisValue>(
        &self,
        source: &str,
        what: &str,
        cmd: &redis::Cmd,
    ) -> Result<T, ScalerError> {
        let mut c = self.get(source).await?;
        match cmd.query_async::<T>(&mut c).await {
            Ok(v) => Ok(v),
            Err(e) => {
                if e.is_io_error() || e.is_connection_dropped() {
                    self.reset().await;
                }
                Err(ScalerError::new(source, format!("{what}: {e}")))
            }
        }
    }
}

/// The length of one key, or why it has none.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyLength {
    /// LLEN / ZCARD / SCARD / HLEN (0 for a missing key).
    Length(i64),
    /// The key holds another type (`string`, `stream`…).
    WrongType(String),
}

/// Polls the lengths of many keys on one Redis server: one pipelined round trip per call of
/// [`RedisBatchPoller::lengths`], the keys split into script calls of at most `keys_per_call` keys.
///
/// [`RedisBatchPoller::length`] coalesces concurrent single-key polls (the scalers built by
/// [`super::build`] with a shared [`RedisPollers`]) into one such call.
pub struct RedisBatchPoller {
    conn: Connection,
    keys_per_call: usize,
    round_trips: AtomicU64,
    source: String,
    queue: std::sync::Mutex<Vec<Waiting>>,
}

/// A single-key poll waiting for the next batch.
type Waiting = (String, oneshot::Sender<Result<KeyLength, ScalerError>>);

impl std::fmt::Debug for RedisBatchPoller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBatchPoller")
            .field("address", &self.conn.address)
            .field("keys_per_call", &self.keys_per_call)
            .field("round_trips", &self.round_trips())
            .finish_non_exhaustive()
    }
}

impl RedisBatchPoller {
    /// A poller for one server; nothing is opened until the first call.
    pub fn new(address: RedisAddress) -> Self {
        let source = format!("redis at {}", address.address);
        Self {
            conn: Connection::new(address),
            keys_per_call: DEFAULT_KEYS_PER_CALL,
            round_trips: AtomicU64::new(0),
            source,
            queue: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Sets the keys per script call (at least 1).
    #[must_use]
    pub fn with_keys_per_call(mut self, n: usize) -> Self {
        self.keys_per_call = n.max(1);
        self
    }

    /// The server address.
    pub fn address(&self) -> &RedisAddress {
        &self.conn.address
    }

    /// Round trips made so far (one per call of [`RedisBatchPoller::lengths`] that reached the server).
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    /// The length of every key, in order, in one round trip.
    ///
    /// # Errors
    /// The server cannot be reached, answers with an error or an unexpected shape, or `timeout` passes.
    pub async fn lengths(
        &self,
        keys: &[String],
        timeout: Duration,
    ) -> Result<Vec<KeyLength>, ScalerError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        bounded(&self.source, timeout, self.lengths_inner(keys)).await
    }

    /// The length of one key, batched with the other single-key polls waiting on this poller: each caller
    /// queues its key and yields once; the first to run again sends everything queued in one round trip and
    /// hands each caller its answer.
    ///
    /// # Errors
    /// As [`RedisBatchPoller::lengths`]; also when the caller that took this key's batch was cancelled.
    pub async fn length(&self, key: &str, timeout: Duration) -> Result<KeyLength, ScalerError> {
        let (tx, rx) = oneshot::channel();
        self.lock_queue().push((key.to_owned(), tx));
        tokio::task::yield_now().await;
        let batch = std::mem::take(&mut *self.lock_queue());
        if !batch.is_empty() {
            let keys: Vec<String> = batch.iter().map(|(k, _)| k.clone()).collect();
            match self.lengths(&keys, timeout).await {
                Ok(lens) => {
                    for ((_, tx), len) in batch.into_iter().zip(lens) {
                        let _ = tx.send(Ok(len));
                    }
                }
                Err(e) => {
                    for (_, tx) in batch {
                        let _ = tx.send(Err(e.clone()));
                    }
                }
            }
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(ScalerError::new(
                &self.source,
                "the poll that carried this key's batch was cancelled",
            )),
            Err(_) => Err(ScalerError::new(
                &self.source,
                format!("timed out after {}", super::fmt_duration(timeout)),
            )),
        }
    }

    fn lock_queue(&self) -> std::sync::MutexGuard<'_, Vec<Waiting>> {
        // A panic elsewhere cannot leave the queue inconsistent: keep using it.
        self.queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn lengths_inner(&self, keys: &[String]) -> Result<Vec<KeyLength>, ScalerError> {
        let mut pipe = redis::pipe();
        for chunk in keys.chunks(self.keys_per_call) {
            pipe.cmd("EVAL")
                .arg(LENGTH_SCRIPT)
                .arg(chunk.len())
                .arg(chunk);
        }
        let mut c = self.conn.get(&self.source).await?;
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        let replies: Vec<Vec<Value>> = match pipe.query_async(&mut c).await {
            Ok(v) => v,
            Err(e) => {
                if e.is_io_error() || e.is_connection_dropped() {
                    self.conn.reset().await;
                }
                return Err(ScalerError::new(
                    &self.source,
                    format!("length script: {e}"),
                ));
            }
        };
        let mut out = Vec::with_capacity(keys.len());
        for v in replies.into_iter().flatten() {
            out.push(match v {
                Value::Int(n) => KeyLength::Length(n),
                Value::BulkString(b) => {
                    KeyLength::WrongType(String::from_utf8_lossy(&b).into_owned())
                }
                Value::SimpleString(s) => KeyLength::WrongType(s),
                other => {
                    return Err(ScalerError::new(
                        &self.source,
                        format!("unexpected script reply {other:?}"),
                    ));
                }
            });
        }
        if out.len() != keys.len() {
            return Err(ScalerError::new(
                &self.source,
                format!(
                    "script returned {} lengths for {} keys",
                    out.len(),
                    keys.len()
                ),
            ));
        }
        Ok(out)
    }
}

/// One shared [`RedisBatchPoller`] per Redis server (address and credentials), for the scalers of a
/// controller: give it to [`super::ScalerContext::redis`].
#[derive(Debug, Default)]
pub struct RedisPollers {
    pollers: std::sync::Mutex<HashMap<RedisAddress, Arc<RedisBatchPoller>>>,
}

impl RedisPollers {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The poller of `address`, created on first use.
    pub fn get(&self, address: &RedisAddress) -> Arc<RedisBatchPoller> {
        let mut map = self
            .pollers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(
            map.entry(address.clone())
                .or_insert_with(|| Arc::new(RedisBatchPoller::new(address.clone()))),
        )
    }
}

/// Turns a key length into a value, or the error naming the key.
pub fn length_value(source: &str, key: &str, len: &KeyLength) -> Result<f64, ScalerError> {
    match len {
        #[allow(clippy::cast_precision_loss, reason = "lengths far below 2^53")]
        KeyLength::Length(n) => Ok(*n as f64),
        KeyLength::WrongType(t) => Err(ScalerError::new(
            source,
            format!("key {key:?} holds a {t}, not a list, set, sorted set or hash"),
        )),
    }
}

/// `redis`: the length of `listName` (`listLength` 5, `activationListLength` 0).
pub struct RedisListScaler {
    poller: Arc<RedisBatchPoller>,
    list_name: String,
    spec: MetricSpec,
    source: String,
}

impl std::fmt::Debug for RedisListScaler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisListScaler")
            .field("source", &self.source)
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

impl RedisListScaler {
    /// Reads `listName` (required), `listLength` (5), `activationListLength` (0) and the address keys of
    /// [`RedisAddress::from_meta`].
    ///
    /// # Errors
    /// A missing or invalid key.
    pub fn from_meta(meta: &Meta<'_>) -> Result<Self, ScalerError> {
        Self::from_meta_with(meta, None)
    }

    /// As [`RedisListScaler::from_meta`], sharing the server's poller from `pollers` when given, so concurrent
    /// polls of triggers on one server travel in one round trip.
    ///
    /// # Errors
    /// A missing or invalid key.
    pub fn from_meta_with(
        meta: &Meta<'_>,
        pollers: Option<&RedisPollers>,
    ) -> Result<Self, ScalerError> {
        meta.no_utilization()?;
        let list_name = meta.required("listName")?;
        let target = meta.f64_or("listLength", 5.0)?;
        let activation = meta.f64_or("activationListLength", 0.0)?;
        let address = RedisAddress::from_meta(meta)?;
        let source = format!("redis list {list_name:?} at {}", address.address);
        Ok(Self {
            poller: match pollers {
                Some(p) => p.get(&address),
                None => Arc::new(RedisBatchPoller::new(address)),
            },
            spec: meta.spec(&format!("redis-{list_name}"), target, activation),
            list_name,
            source,
        })
    }

    /// The key it reads.
    pub fn list_name(&self) -> &str {
        &self.list_name
    }

    /// The server it reads, so a driver can group triggers into one [`RedisBatchPoller`].
    pub fn address(&self) -> &RedisAddress {
        self.poller.address()
    }
}

#[async_trait::async_trait]
impl Scaler for RedisListScaler {
    fn metric_spec(&self) -> &MetricSpec {
        &self.spec
    }

    async fn poll(&self, _now_nanos: i64, timeout: Duration) -> Result<Reading, ScalerError> {
        let len = self
            .poller
            .length(&self.list_name, timeout)
            .await
            .map_err(|e| ScalerError::new(&self.source, e.message))?;
        let value = length_value(&self.source, &self.list_name, &len)?;
        Ok(reading(value, self.spec.activation))
    }
}

/// What a `redis-streams` trigger measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamMode {
    /// Pending entries of the consumer group (XPENDING), target `pendingEntriesCount`.
    PendingEntries,
    /// Entries not yet delivered to the group (XINFO GROUPS `lag`, Redis 7), target `lagCount`.
    Lag,
    /// Entries in the stream (XLEN), target `streamLength`.
    StreamLength,
}

/// `redis-streams`: `stream` and `consumerGroup`; the mode follows upstream: `lagCount` set → lag, else a
/// consumer group → pending entries (`pendingEntriesCount` 5), else `streamLength` (5). Activation
/// `activationLagCount` / `activationPendingEntriesCount` / `activationStreamLength` (0).
pub struct RedisStreamsScaler {
    conn: Connection,
    stream: String,
    group: Option<String>,
    mode: StreamMode,
    spec: MetricSpec,
    source: String,
}

impl std::fmt::Debug for RedisStreamsScaler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStreamsScaler")
            .field("source", &self.source)
            .field("mode", &self.mode)
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

impl RedisStreamsScaler {
    /// Reads the keys documented on the type and the address keys of [`RedisAddress::from_meta`].
    ///
    /// # Errors
    /// A missing or invalid key; `lagCount` without `consumerGroup`.
    pub fn from_meta(meta: &Meta<'_>) -> Result<Self, ScalerError> {
        meta.no_utilization()?;
        let stream = meta.required("stream")?;
        let group = meta.get("consumerGroup")?;
        let (mode, target, activation) = if meta.get("lagCount")?.is_some() {
            if group.is_none() {
                return Err(meta.error("metadata.consumerGroup is required with lagCount"));
            }
            (
                StreamMode::Lag,
                meta.f64_required("lagCount")?,
                meta.f64_or("activationLagCount", 0.0)?,
            )
        } else if group.is_some() {
            (
                StreamMode::PendingEntries,
                meta.f64_or("pendingEntriesCount", 5.0)?,
                meta.f64_or("activationPendingEntriesCount", 0.0)?,
            )
        } else {
            (
                StreamMode::StreamLength,
                meta.f64_or("streamLength", 5.0)?,
                meta.f64_or("activationStreamLength", 0.0)?,
            )
        };
        let address = RedisAddress::from_meta(meta)?;
        let source = match &group {
            Some(g) => format!("redis stream {stream:?} group {g:?} at {}", address.address),
            None => format!("redis stream {stream:?} at {}", address.address),
        };
        Ok(Self {
            conn: Connection::new(address),
            spec: meta.spec(&format!("redis-streams-{stream}"), target, activation),
            stream,
            group,
            mode,
            source,
        })
    }

    /// The mode chosen from the metadata.
    pub fn mode(&self) -> StreamMode {
        self.mode
    }

    async fn value(&self) -> Result<f64, ScalerError> {
        let group = self.group.as_deref().unwrap_or_default();
        match self.mode {
            StreamMode::StreamLength => {
                let n: i64 = self
                    .conn
                    .query(&self.source, "XLEN", redis::cmd("XLEN").arg(&self.stream))
                    .await?;
                Ok(to_f64(n))
            }
            StreamMode::PendingEntries => {
                let v: Value = self
                    .conn
                    .query(
                        &self.source,
                        "XPENDING",
                        redis::cmd("XPENDING").arg(&self.stream).arg(group),
                    )
                    .await?;
                match v {
                    Value::Array(items) => match items.first() {
                        Some(Value::Int(n)) => Ok(to_f64(*n)),
                        other => Err(ScalerError::new(
                            &self.source,
                            format!("unexpected XPENDING reply {other:?}"),
                        )),
                    },
                    other => Err(ScalerError::new(
                        &self.source,
                        format!("unexpected XPENDING reply {other:?}"),
                    )),
                }
            }
            StreamMode::Lag => {
                let v: Value = self
                    .conn
                    .query(
                        &self.source,
                        "XINFO GROUPS",
                        redis::cmd("XINFO").arg("GROUPS").arg(&self.stream),
                    )
                    .await?;
                group_lag(&v, group).map_err(|m| ScalerError::new(&self.source, m))
            }
        }
    }
}

#[allow(clippy::cast_precision_loss, reason = "counts far below 2^53")]
fn to_f64(n: i64) -> f64 {
    n as f64
}

/// Pairs of a RESP2 flat array or a RESP3 map.
fn pairs(v: &Value) -> Vec<(String, &Value)> {
    let text = |k: &Value| match k {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        _ => String::new(),
    };
    match v {
        Value::Map(m) => m.iter().map(|(k, v)| (text(k), v)).collect(),
        Value::Array(a) => a
            .chunks(2)
            .filter_map(|c| match c {
                [k, v] => Some((text(k), v)),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The `lag` of `group` in an XINFO GROUPS reply.
fn group_lag(v: &Value, group: &str) -> Result<f64, String> {
    let Value::Array(groups) = v else {
        return Err(format!("unexpected XINFO GROUPS reply {v:?}"));
    };
    for g in groups {
        let fields = pairs(g);
        let name = fields.iter().find(|(k, _)| k == "name").map(|(_, v)| *v);
        let is_it = matches!(name, Some(Value::BulkString(b)) if b == group.as_bytes());
        if !is_it {
            continue;
        }
        return match fields.iter().find(|(k, _)| k == "lag").map(|(_, v)| *v) {
            Some(Value::Int(n)) => Ok(to_f64(*n)),
            Some(Value::Nil) => {
                Err("the group's lag is unknown to the server (entries deleted)".into())
            }
            _ => Err(
                "XINFO GROUPS has no lag field (Redis 7 or later is needed for lagCount)".into(),
            ),
        };
    }
    Err(format!("consumer group {group:?} does not exist"))
}

#[async_trait::async_trait]
impl Scaler for RedisStreamsScaler {
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
    fn urls_escape_credentials() {
        let mut a = RedisAddress::new("127.0.0.1:6379");
        assert_eq!(a.url(), "redis://127.0.0.1:6379/0");
        a.password = Some("p@ss/w:rd".into());
        a.database = 3;
        assert_eq!(a.url(), "redis://:p%40ss%2Fw%3Ard@127.0.0.1:6379/3");
        assert!(!format!("{a:?}").contains("p@ss"));
    }

    #[test]
    fn lag_from_resp2_and_resp3_replies() {
        let bulk = |s: &str| Value::BulkString(s.as_bytes().to_vec());
        let resp2 = Value::Array(vec![Value::Array(vec![
            bulk("name"),
            bulk("g1"),
            bulk("lag"),
            Value::Int(7),
        ])]);
        assert_eq!(group_lag(&resp2, "g1"), Ok(7.0));
        assert!(group_lag(&resp2, "g2").is_err_and(|e| e.contains("\"g2\" does not exist")));
        let resp3 = Value::Array(vec![Value::Map(vec![
            (bulk("name"), bulk("g1")),
            (bulk("lag"), Value::Nil),
        ])]);
        assert!(group_lag(&resp3, "g1").is_err_and(|e| e.contains("unknown")));
    }
}
