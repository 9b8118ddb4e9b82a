//! A minimal Kafka wire-protocol client: what the `kafka` lag scaler needs and nothing more (feature `kafka`).
//!
//! Five requests, each at one fixed, pre-"flexible" version that every broker from Kafka 0.11 (and so every
//! Kafka ≥ 1.0) through Kafka 4.x accepts. Kafka 4.0 dropped the oldest versions (KIP-896: Metadata v0–v3,
//! ListOffsets v0–v1, OffsetFetch v0–v2 and FindCoordinator v0 in its most cautious reading), so the versions
//! below are the lowest ones both ends of that range share:
//!
//! | request | key | version | why this version |
//! |---|---|---|---|
//! | ApiVersions | 18 | 0 | every broker answers v0; checks the others are supported |
//! | Metadata | 3 | 4 | `allow_auto_topic_creation = false`: reading lag creates no topic |
//! | FindCoordinator | 10 | 1 | `key_type` 0 (group) |
//! | ListOffsets | 2 | 2 | `isolation_level` 0: the high watermark, as upstream reads it |
//! | OffsetFetch | 9 | 3 | a null topic array means "every topic the group committed" (v2+) |
//!
//! Framing: every request is `int32 size` + request header v1 (`api_key int16`, `api_version int16`,
//! `correlation_id int32`, `client_id` as a nullable string, here `ksx`) + body; every answer is `int32 size` +
//! response header v0 (`correlation_id int32`) + body. Strings are `int16 length` + UTF-8, nullable strings use
//! length −1 for null, arrays are `int32 count` + elements (−1 for a null array), all integers big-endian.
//!
//! [`KafkaClient`] lives for one poll: it tries the bootstrap servers in order, keeps one connection per broker
//! address for the rest of the poll (the bootstrap broker is often also the coordinator and a leader), sends
//! ListOffsets to each partition's leader and OffsetFetch to the group coordinator, and bounds everything by one
//! deadline. Broker error codes become [`KafkaError::Broker`] naming the request, the group, topic and
//! partition, and the Kafka error name (`UNKNOWN_TOPIC_OR_PARTITION (error 3)`).
//!
//! Not supported: SASL and TLS (PLAINTEXT listeners only; the scaler refuses `sasl`/`tls` metadata), retries
//! inside a poll (the next poll starts afresh), and compression or record batches (no Produce or Fetch).

use std::collections::BTreeMap;
use std::fmt;

/// One request type at the version ksx speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Api {
    /// `api_key`.
    pub key: i16,
    /// `api_version`.
    pub version: i16,
    /// The name Kafka's docs use.
    pub name: &'static str,
}

/// ListOffsets v2.
pub const LIST_OFFSETS: Api = Api {
    key: 2,
    version: 2,
    name: "ListOffsets",
};
/// Metadata v4.
pub const METADATA: Api = Api {
    key: 3,
    version: 4,
    name: "Metadata",
};
/// OffsetFetch v3.
pub const OFFSET_FETCH: Api = Api {
    key: 9,
    version: 3,
    name: "OffsetFetch",
};
/// FindCoordinator v1.
pub const FIND_COORDINATOR: Api = Api {
    key: 10,
    version: 1,
    name: "FindCoordinator",
};
/// ApiVersions v0.
pub const API_VERSIONS: Api = Api {
    key: 18,
    version: 0,
    name: "ApiVersions",
};

/// The `client_id` of every request.
pub const CLIENT_ID: &str = "ksx";
/// Largest answer accepted (a Metadata answer of a large cluster is a few MiB).
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;
/// ListOffsets timestamp meaning "the latest offset" (the high watermark).
pub const LATEST_TIMESTAMP: i64 = -1;
/// Replica id of a client (not a follower broker) in ListOffsets.
const CLIENT_REPLICA_ID: i32 = -1;

/// The Kafka name of an error code, when ksx knows it.
pub fn error_name(code: i16) -> Option<&'static str> {
    Some(match code {
        -1 => "UNKNOWN_SERVER_ERROR",
        0 => "NONE",
        1 => "OFFSET_OUT_OF_RANGE",
        2 => "CORRUPT_MESSAGE",
        3 => "UNKNOWN_TOPIC_OR_PARTITION",
        4 => "INVALID_FETCH_SIZE",
        5 => "LEADER_NOT_AVAILABLE",
        6 => "NOT_LEADER_OR_FOLLOWER",
        7 => "REQUEST_TIMED_OUT",
        8 => "BROKER_NOT_AVAILABLE",
        9 => "REPLICA_NOT_AVAILABLE",
        10 => "MESSAGE_TOO_LARGE",
        11 => "STALE_CONTROLLER_EPOCH",
        12 => "OFFSET_METADATA_TOO_LARGE",
        13 => "NETWORK_EXCEPTION",
        14 => "COORDINATOR_LOAD_IN_PROGRESS",
        15 => "COORDINATOR_NOT_AVAILABLE",
        16 => "NOT_COORDINATOR",
        17 => "INVALID_TOPIC_EXCEPTION",
        18 => "RECORD_LIST_TOO_LARGE",
        19 => "NOT_ENOUGH_REPLICAS",
        20 => "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
        21 => "INVALID_REQUIRED_ACKS",
        22 => "ILLEGAL_GENERATION",
        23 => "INCONSISTENT_GROUP_PROTOCOL",
        24 => "INVALID_GROUP_ID",
        25 => "UNKNOWN_MEMBER_ID",
        26 => "INVALID_SESSION_TIMEOUT",
        27 => "REBALANCE_IN_PROGRESS",
        28 => "INVALID_COMMIT_OFFSET_SIZE",
        29 => "TOPIC_AUTHORIZATION_FAILED",
        30 => "GROUP_AUTHORIZATION_FAILED",
        31 => "CLUSTER_AUTHORIZATION_FAILED",
        32 => "INVALID_TIMESTAMP",
        33 => "UNSUPPORTED_SASL_MECHANISM",
        34 => "ILLEGAL_SASL_STATE",
        35 => "UNSUPPORTED_VERSION",
        41 => "NOT_CONTROLLER",
        42 => "INVALID_REQUEST",
        56 => "KAFKA_STORAGE_ERROR",
        58 => "SASL_AUTHENTICATION_FAILED",
        69 => "GROUP_ID_NOT_FOUND",
        74 => "FENCED_LEADER_EPOCH",
        75 => "UNKNOWN_LEADER_EPOCH",
        _ => return None,
    })
}

/// A Kafka error code, shown as `NAME (error N)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KafkaCode(pub i16);

impl fmt::Display for KafkaCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match error_name(self.0) {
            Some(name) => write!(f, "{name} (error {})", self.0),
            None => write!(f, "error code {}", self.0),
        }
    }
}

/// An answer that does not follow the schema of its request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed {api} response: {reason}")]
pub struct DecodeError {
    /// The request answered.
    pub api: &'static str,
    /// What is wrong, with the byte offset where it applies.
    pub reason: String,
}

/// Why a Kafka call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KafkaError {
    /// The broker could not be reached, closed the connection, or a read or write failed.
    #[error("broker {broker}: {message}")]
    Transport {
        /// `host:port`.
        broker: String,
        /// What failed.
        message: String,
    },
    /// No complete answer came before the poll's deadline.
    #[error("broker {broker}: {api} timed out after {after}")]
    Timeout {
        /// `host:port`.
        broker: String,
        /// The request.
        api: &'static str,
        /// The poll's whole budget (`5s`).
        after: String,
    },
    /// An answer that does not parse, answers another request, or contradicts itself.
    #[error("broker {broker}: {source}")]
    Malformed {
        /// `host:port`.
        broker: String,
        /// What is wrong.
        source: DecodeError,
    },
    /// The broker answered with an error code.
    #[error("{api}: {place}: {code}")]
    Broker {
        /// The request.
        api: &'static str,
        /// What the code is about: `group "g"`, `topic "t" partition 3`.
        place: String,
        /// The code.
        code: KafkaCode,
    },
    /// Something ksx's client cannot do: a broker older than Kafka 0.11, a name too long to encode.
    #[error("{0}")]
    Unsupported(String),
    /// No bootstrap server answered; one `server: why` per server, in the order tried.
    #[error("no bootstrap server answered: {0}")]
    Bootstrap(String),
}

fn malformed(broker: &str, api: Api, reason: impl Into<String>) -> KafkaError {
    KafkaError::Malformed {
        broker: broker.to_owned(),
        source: DecodeError {
            api: api.name,
            reason: reason.into(),
        },
    }
}

// ---------------------------------------------------------------------------------------------------------
// Encoding.

/// Appends primitives; remembers the first value that does not fit its length prefix.
#[derive(Default)]
struct Writer {
    buf: Vec<u8>,
    error: Option<String>,
}

impl Writer {
    fn i8(&mut self, v: i8) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    fn i16(&mut self, v: i16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    fn i32(&mut self, v: i32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    fn bool(&mut self, v: bool) {
        self.buf.push(u8::from(v));
    }

    fn string(&mut self, s: &str) {
        match i16::try_from(s.len()) {
            Ok(n) => {
                self.i16(n);
                self.buf.extend_from_slice(s.as_bytes());
            }
            Err(_) => {
                self.error.get_or_insert_with(|| {
                    format!(
                        "a string of {} bytes does not fit Kafka's int16 length",
                        s.len()
                    )
                });
            }
        }
    }

    fn array_len(&mut self, n: usize) {
        match i32::try_from(n) {
            Ok(n) => self.i32(n),
            Err(_) => {
                self.error
                    .get_or_insert_with(|| format!("an array of {n} elements is too long"));
            }
        }
    }

    fn finish(self) -> Result<Vec<u8>, KafkaError> {
        match self.error {
            None => Ok(self.buf),
            Some(e) => Err(KafkaError::Unsupported(e)),
        }
    }
}

/// A whole request frame: `int32 size`, request header v1 (`api_key`, `api_version`, `correlation_id`,
/// `client_id`), then `body`.
///
/// # Errors
/// A client id or body too long for its length prefix.
pub fn encode_request(
    api: Api,
    correlation_id: i32,
    client_id: &str,
    body: &[u8],
) -> Result<Vec<u8>, KafkaError> {
    let mut w = Writer::default();
    w.i32(0); // size, patched below
    w.i16(api.key);
    w.i16(api.version);
    w.i32(correlation_id);
    w.string(client_id);
    w.buf.extend_from_slice(body);
    let mut frame = w.finish()?;
    let size = i32::try_from(frame.len() - 4)
        .map_err(|_| KafkaError::Unsupported(format!("a {} request is too large", api.name)))?;
    if let Some(prefix) = frame.get_mut(..4) {
        prefix.copy_from_slice(&size.to_be_bytes());
    }
    Ok(frame)
}

/// ApiVersions v0: an empty body.
pub fn api_versions_request() -> Vec<u8> {
    Vec::new()
}

/// Metadata v4: `topics` (never null here: ksx always names its topics), `allow_auto_topic_creation` false.
///
/// # Errors
/// A topic name too long to encode.
pub fn metadata_request(topics: &[String]) -> Result<Vec<u8>, KafkaError> {
    let mut w = Writer::default();
    w.array_len(topics.len());
    for t in topics {
        w.string(t);
    }
    w.bool(false);
    w.finish()
}

/// FindCoordinator v1: `key` = the group, `key_type` 0 (group).
///
/// # Errors
/// A group id too long to encode.
pub fn find_coordinator_request(group: &str) -> Result<Vec<u8>, KafkaError> {
    let mut w = Writer::default();
    w.string(group);
    w.i8(0);
    w.finish()
}

/// ListOffsets v2 for the latest offset of each partition: `replica_id` −1, `isolation_level` 0
/// (read uncommitted), then per topic its partitions with timestamp −1.
///
/// # Errors
/// A topic name too long to encode.
pub fn list_offsets_request(topics: &BTreeMap<String, Vec<i32>>) -> Result<Vec<u8>, KafkaError> {
    let mut w = Writer::default();
    w.i32(CLIENT_REPLICA_ID);
    w.i8(0);
    w.array_len(topics.len());
    for (topic, partitions) in topics {
        w.string(topic);
        w.array_len(partitions.len());
        for p in partitions {
            w.i32(*p);
            w.i64(LATEST_TIMESTAMP);
        }
    }
    w.finish()
}

/// OffsetFetch v3: the group, then its topics and partitions, or a null array (−1) for every topic the group
/// has committed offsets for.
///
/// # Errors
/// A group or topic name too long to encode.
pub fn offset_fetch_request(
    group: &str,
    topics: Option<&BTreeMap<String, Vec<i32>>>,
) -> Result<Vec<u8>, KafkaError> {
    let mut w = Writer::default();
    w.string(group);
    match topics {
        None => w.i32(-1),
        Some(topics) => {
            w.array_len(topics.len());
            for (topic, partitions) in topics {
                w.string(topic);
                w.array_len(partitions.len());
                for p in partitions {
                    w.i32(*p);
                }
            }
        }
    }
    w.finish()
}

// ---------------------------------------------------------------------------------------------------------
// Decoding.

/// Reads primitives from an answer body; every read is bounds-checked.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    api: &'static str,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], api: Api) -> Self {
        Self {
            buf,
            pos: 0,
            api: api.name,
        }
    }

    fn err(&self, reason: String) -> DecodeError {
        DecodeError {
            api: self.api,
            reason,
        }
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], DecodeError> {
        let bytes = self
            .pos
            .checked_add(n)
            .and_then(|end| self.buf.get(self.pos..end));
        match bytes {
            Some(b) => {
                self.pos += n;
                Ok(b)
            }
            None => Err(self.err(format!(
                "truncated at byte {} reading {what} ({n} bytes wanted, {} left)",
                self.pos,
                self.buf.len().saturating_sub(self.pos)
            ))),
        }
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], DecodeError> {
        let b = self.take(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    fn i8(&mut self, what: &str) -> Result<i8, DecodeError> {
        Ok(i8::from_be_bytes(self.array(what)?))
    }

    fn i16(&mut self, what: &str) -> Result<i16, DecodeError> {
        Ok(i16::from_be_bytes(self.array(what)?))
    }

    fn i32(&mut self, what: &str) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.array(what)?))
    }

    fn i64(&mut self, what: &str) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.array(what)?))
    }

    fn bool(&mut self, what: &str) -> Result<bool, DecodeError> {
        Ok(self.i8(what)? != 0)
    }

    fn nullable_string(&mut self, what: &str) -> Result<Option<String>, DecodeError> {
        let at = self.pos;
        let len = self.i16(what)?;
        if len == -1 {
            return Ok(None);
        }
        let n = usize::try_from(len)
            .map_err(|_| self.err(format!("negative length {len} of {what} at byte {at}")))?;
        let bytes = self.take(n, what)?;
        String::from_utf8(bytes.to_vec())
            .map(Some)
            .map_err(|_| self.err(format!("{what} at byte {at} is not UTF-8")))
    }

    fn string(&mut self, what: &str) -> Result<String, DecodeError> {
        let at = self.pos;
        self.nullable_string(what)?
            .ok_or_else(|| self.err(format!("{what} at byte {at} is null")))
    }

    /// An array: a null one (−1) reads as empty. The count is checked against the bytes left (every element
    /// takes at least `min_size` bytes) before anything is allocated.
    fn list<T>(
        &mut self,
        what: &str,
        min_size: usize,
        mut item: impl FnMut(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<Vec<T>, DecodeError> {
        let at = self.pos;
        let count = self.i32(what)?;
        if count == -1 {
            return Ok(Vec::new());
        }
        let n = usize::try_from(count)
            .map_err(|_| self.err(format!("negative count {count} of {what} at byte {at}")))?;
        let left = self.buf.len().saturating_sub(self.pos);
        if n.saturating_mul(min_size.max(1)) > left {
            return Err(self.err(format!(
                "{what} at byte {at} claims {n} elements but only {left} bytes are left"
            )));
        }
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(item(self)?);
        }
        Ok(out)
    }

    fn end(&self) -> Result<(), DecodeError> {
        let left = self.buf.len().saturating_sub(self.pos);
        if left == 0 {
            Ok(())
        } else {
            Err(self.err(format!("{left} unexpected bytes after byte {}", self.pos)))
        }
    }
}

/// One API's supported version range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiVersionRange {
    /// `api_key`.
    pub api_key: i16,
    /// Oldest version.
    pub min_version: i16,
    /// Newest version.
    pub max_version: i16,
}

/// ApiVersions v0 answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiVersionsResponse {
    /// Top-level error code.
    pub error_code: i16,
    /// The supported ranges.
    pub api_keys: Vec<ApiVersionRange>,
}

impl ApiVersionsResponse {
    /// Whether `api` at its version is in the broker's range.
    pub fn supports(&self, api: Api) -> bool {
        self.api_keys
            .iter()
            .any(|r| r.api_key == api.key && (r.min_version..=r.max_version).contains(&api.version))
    }
}

/// Decodes an ApiVersions v0 body: `error_code int16`, `[api_key int16, min_version int16, max_version int16]`.
///
/// # Errors
/// Bytes that do not follow the schema.
pub fn decode_api_versions(body: &[u8]) -> Result<ApiVersionsResponse, DecodeError> {
    let mut r = Reader::new(body, API_VERSIONS);
    let error_code = r.i16("error_code")?;
    let api_keys = r.list("api_keys", 6, |r| {
        Ok(ApiVersionRange {
            api_key: r.i16("api_key")?,
            min_version: r.i16("min_version")?,
            max_version: r.i16("max_version")?,
        })
    })?;
    r.end()?;
    Ok(ApiVersionsResponse {
        error_code,
        api_keys,
    })
}

/// A broker of a Metadata answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataBroker {
    /// `node_id`.
    pub node_id: i32,
    /// Host name.
    pub host: String,
    /// Port.
    pub port: i32,
    /// Rack, when set.
    pub rack: Option<String>,
}

impl MetadataBroker {
    /// `host:port` (`[v6]:port` for an IPv6 literal).
    pub fn address(&self) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// A partition of a Metadata answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataPartition {
    /// Error code.
    pub error_code: i16,
    /// Partition id.
    pub partition: i32,
    /// The leader's node id (−1 when none).
    pub leader: i32,
    /// Replica node ids.
    pub replicas: Vec<i32>,
    /// In-sync replica node ids.
    pub isr: Vec<i32>,
}

/// A topic of a Metadata answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataTopic {
    /// Error code (`UNKNOWN_TOPIC_OR_PARTITION` for a missing topic).
    pub error_code: i16,
    /// Name.
    pub name: String,
    /// Whether Kafka uses it internally (`__consumer_offsets`).
    pub is_internal: bool,
    /// Its partitions.
    pub partitions: Vec<MetadataPartition>,
}

/// Metadata v4 answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataResponse {
    /// Throttle time.
    pub throttle_time_ms: i32,
    /// The brokers.
    pub brokers: Vec<MetadataBroker>,
    /// Cluster id.
    pub cluster_id: Option<String>,
    /// Controller node id.
    pub controller_id: i32,
    /// The topics asked for.
    pub topics: Vec<MetadataTopic>,
}

/// Decodes a Metadata v4 body: `throttle_time_ms int32`, `brokers [node_id int32, host string, port int32,
/// rack nullable_string]`, `cluster_id nullable_string`, `controller_id int32`, `topics [error_code int16,
/// name string, is_internal bool, partitions [error_code int16, partition_index int32, leader_id int32,
/// replica_nodes [int32], isr_nodes [int32]]]`.
///
/// # Errors
/// Bytes that do not follow the schema.
pub fn decode_metadata(body: &[u8]) -> Result<MetadataResponse, DecodeError> {
    let mut r = Reader::new(body, METADATA);
    let throttle_time_ms = r.i32("throttle_time_ms")?;
    let brokers = r.list("brokers", 12, |r| {
        Ok(MetadataBroker {
            node_id: r.i32("node_id")?,
            host: r.string("host")?,
            port: r.i32("port")?,
            rack: r.nullable_string("rack")?,
        })
    })?;
    let cluster_id = r.nullable_string("cluster_id")?;
    let controller_id = r.i32("controller_id")?;
    let topics = r.list("topics", 9, |r| {
        Ok(MetadataTopic {
            error_code: r.i16("topic error_code")?,
            name: r.string("topic name")?,
            is_internal: r.bool("is_internal")?,
            partitions: r.list("partitions", 18, |r| {
                Ok(MetadataPartition {
                    error_code: r.i16("partition error_code")?,
                    partition: r.i32("partition_index")?,
                    leader: r.i32("leader_id")?,
                    replicas: r.list("replica_nodes", 4, |r| r.i32("replica node"))?,
                    isr: r.list("isr_nodes", 4, |r| r.i32("isr node"))?,
                })
            })?,
        })
    })?;
    r.end()?;
    Ok(MetadataResponse {
        throttle_time_ms,
        brokers,
        cluster_id,
        controller_id,
        topics,
    })
}

/// FindCoordinator v1 answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindCoordinatorResponse {
    /// Throttle time.
    pub throttle_time_ms: i32,
    /// Error code.
    pub error_code: i16,
    /// Error message, when the broker gives one.
    pub error_message: Option<String>,
    /// The coordinator's node id.
    pub node_id: i32,
    /// Its host.
    pub host: String,
    /// Its port.
    pub port: i32,
}

/// Decodes a FindCoordinator v1 body: `throttle_time_ms int32`, `error_code int16`, `error_message
/// nullable_string`, `node_id int32`, `host string`, `port int32`.
///
/// # Errors
/// Bytes that do not follow the schema.
pub fn decode_find_coordinator(body: &[u8]) -> Result<FindCoordinatorResponse, DecodeError> {
    let mut r = Reader::new(body, FIND_COORDINATOR);
    let out = FindCoordinatorResponse {
        throttle_time_ms: r.i32("throttle_time_ms")?,
        error_code: r.i16("error_code")?,
        error_message: r.nullable_string("error_message")?,
        node_id: r.i32("node_id")?,
        host: r.string("host")?,
        port: r.i32("port")?,
    };
    r.end()?;
    Ok(out)
}

/// A partition of a ListOffsets answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListOffsetsPartition {
    /// Partition id.
    pub partition: i32,
    /// Error code.
    pub error_code: i16,
    /// Timestamp of the offset (−1 for "latest").
    pub timestamp: i64,
    /// The offset.
    pub offset: i64,
}

/// ListOffsets v2 answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListOffsetsResponse {
    /// Throttle time.
    pub throttle_time_ms: i32,
    /// Per topic, its partitions.
    pub topics: Vec<(String, Vec<ListOffsetsPartition>)>,
}

/// Decodes a ListOffsets v2 body: `throttle_time_ms int32`, `topics [name string, partitions
/// [partition_index int32, error_code int16, timestamp int64, offset int64]]`.
///
/// # Errors
/// Bytes that do not follow the schema.
pub fn decode_list_offsets(body: &[u8]) -> Result<ListOffsetsResponse, DecodeError> {
    let mut r = Reader::new(body, LIST_OFFSETS);
    let throttle_time_ms = r.i32("throttle_time_ms")?;
    let topics = r.list("topics", 6, |r| {
        let name = r.string("topic name")?;
        let partitions = r.list("partitions", 22, |r| {
            Ok(ListOffsetsPartition {
                partition: r.i32("partition_index")?,
                error_code: r.i16("error_code")?,
                timestamp: r.i64("timestamp")?,
                offset: r.i64("offset")?,
            })
        })?;
        Ok((name, partitions))
    })?;
    r.end()?;
    Ok(ListOffsetsResponse {
        throttle_time_ms,
        topics,
    })
}

/// A partition of an OffsetFetch answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetFetchPartition {
    /// Partition id.
    pub partition: i32,
    /// The committed offset, −1 when the group has none.
    pub committed_offset: i64,
    /// The commit's metadata string.
    pub metadata: Option<String>,
    /// Error code.
    pub error_code: i16,
}

/// OffsetFetch v3 answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetFetchResponse {
    /// Throttle time.
    pub throttle_time_ms: i32,
    /// Per topic, its partitions.
    pub topics: Vec<(String, Vec<OffsetFetchPartition>)>,
    /// Top-level error code (group-wide problems: `GROUP_AUTHORIZATION_FAILED`, `NOT_COORDINATOR`…).
    pub error_code: i16,
}

/// Decodes an OffsetFetch v3 body: `throttle_time_ms int32`, `topics [name string, partitions
/// [partition_index int32, committed_offset int64, metadata nullable_string, error_code int16]]`,
/// `error_code int16`.
///
/// # Errors
/// Bytes that do not follow the schema.
pub fn decode_offset_fetch(body: &[u8]) -> Result<OffsetFetchResponse, DecodeError> {
    let mut r = Reader::new(body, OFFSET_FETCH);
    let throttle_time_ms = r.i32("throttle_time_ms")?;
    let topics = r.list("topics", 6, |r| {
        let name = r.string("topic name")?;
        let partitions = r.list("partitions", 16, |r| {
            Ok(OffsetFetchPartition {
                partition: r.i32("partition_index")?,
                committed_offset: r.i64("committed_offset")?,
                metadata: r.nullable_string("metadata")?,
                error_code: r.i16("error_code")?,
            })
        })?;
        Ok((name, partitions))
    })?;
    let error_code = r.i16("error_code")?;
    r.end()?;
    Ok(OffsetFetchResponse {
        throttle_time_ms,
        topics,
        error_code,
    })
}

/// Splits an answer frame (without its size prefix) into the response header v0's correlation id and the body.
///
/// # Errors
/// A frame shorter than the header.
pub fn split_response_header(frame: &[u8], api: Api) -> Result<(i32, &[u8]), DecodeError> {
    let mut r = Reader::new(frame, api);
    let correlation_id = r.i32("correlation_id")?;
    Ok((correlation_id, frame.get(4..).unwrap_or_default()))
}

mod client;
pub use client::{BrokerConnection, Deadline, KafkaClient, TopicPartitions};

#[cfg(test)]
mod tests;
