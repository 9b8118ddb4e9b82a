//! The transport of [`super`]: a deadline per poll, one connection per broker, and [`KafkaClient`], which
//! routes each request to the broker that must answer it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::{
    API_VERSIONS, Api, CLIENT_ID, FIND_COORDINATOR, KafkaCode, KafkaError, LIST_OFFSETS,
    MAX_RESPONSE_BYTES, METADATA, MetadataBroker, MetadataPartition, MetadataResponse,
    OFFSET_FETCH, api_versions_request, decode_api_versions, decode_find_coordinator,
    decode_list_offsets, decode_metadata, decode_offset_fetch, encode_request,
    find_coordinator_request, list_offsets_request, malformed, metadata_request,
    offset_fetch_request, split_response_header,
};
use crate::event::scalers::fmt_duration;
use crate::event::scalers::kafka::PartitionOffsets;

/// The end of a poll: every connect, write and read must finish before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    at: Instant,
    budget: Duration,
}

impl Deadline {
    /// `budget` from now.
    pub fn after(budget: Duration) -> Self {
        let now = Instant::now();
        // A budget too large to add means "no deadline" in practice: a year.
        let at = now
            .checked_add(budget)
            .or_else(|| now.checked_add(Duration::from_secs(365 * 86_400)))
            .unwrap_or(now);
        Self { at, budget }
    }

    fn timeout(&self, broker: &str, api: &'static str) -> KafkaError {
        KafkaError::Timeout {
            broker: broker.to_owned(),
            api,
            after: fmt_duration(self.budget),
        }
    }
}

/// One connection to one broker.
#[derive(Debug)]
pub struct BrokerConnection {
    stream: TcpStream,
    address: String,
    next_correlation_id: i32,
}

impl BrokerConnection {
    /// Connects to `address` (`host:port`).
    ///
    /// # Errors
    /// The broker cannot be reached before the deadline.
    pub async fn connect(address: &str, deadline: &Deadline) -> Result<Self, KafkaError> {
        let stream = tokio::time::timeout_at(deadline.at, TcpStream::connect(address))
            .await
            .map_err(|_| deadline.timeout(address, "connect"))?
            .map_err(|e| KafkaError::Transport {
                broker: address.to_owned(),
                message: format!("cannot connect: {e}"),
            })?;
        let _ = stream.set_nodelay(true);
        Ok(Self {
            stream,
            address: address.to_owned(),
            next_correlation_id: 1,
        })
    }

    /// The broker's address.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Sends one request and returns its answer's body (after the correlation id, which must match).
    ///
    /// # Errors
    /// A transport failure, the deadline, an oversized or negative frame size, or an answer to another request.
    /// After an error the connection is in an unknown state: drop it.
    pub async fn call(
        &mut self,
        api: Api,
        body: &[u8],
        deadline: &Deadline,
    ) -> Result<Vec<u8>, KafkaError> {
        let correlation_id = self.next_correlation_id;
        self.next_correlation_id = self.next_correlation_id.wrapping_add(1);
        let frame = encode_request(api, correlation_id, CLIENT_ID, body)?;
        let answer = tokio::time::timeout_at(deadline.at, self.exchange(api, &frame))
            .await
            .map_err(|_| deadline.timeout(&self.address, api.name))??;
        let (got, body) =
            split_response_header(&answer, api).map_err(|source| KafkaError::Malformed {
                broker: self.address.clone(),
                source,
            })?;
        if got != correlation_id {
            return Err(malformed(
                &self.address,
                api,
                format!("correlation id {got} does not match the request's {correlation_id}"),
            ));
        }
        Ok(body.to_vec())
    }

    async fn exchange(&mut self, api: Api, frame: &[u8]) -> Result<Vec<u8>, KafkaError> {
        let io = |e: std::io::Error, what: &str| KafkaError::Transport {
            broker: self.address.clone(),
            message: if e.kind() == std::io::ErrorKind::UnexpectedEof {
                format!("connection closed by the broker while {what} {}", api.name)
            } else {
                format!("{what} {} failed: {e}", api.name)
            },
        };
        self.stream
            .write_all(frame)
            .await
            .map_err(|e| io(e, "sending"))?;
        let mut size = [0u8; 4];
        self.stream
            .read_exact(&mut size)
            .await
            .map_err(|e| io(e, "reading the answer to"))?;
        let size = i32::from_be_bytes(size);
        let n = usize::try_from(size)
            .ok()
            .filter(|n| (4..=MAX_RESPONSE_BYTES).contains(n))
            .ok_or_else(|| {
                malformed(
                    &self.address,
                    api,
                    format!(
                        "frame size {size} is outside 4..={MAX_RESPONSE_BYTES} (is this a Kafka PLAINTEXT listener?)"
                    ),
                )
            })?;
        let mut answer = vec![0u8; n];
        self.stream
            .read_exact(&mut answer)
            .await
            .map_err(|e| io(e, "reading the answer to"))?;
        Ok(answer)
    }
}

/// Kafka calls of one poll: bootstrap servers tried in order, one connection per broker address.
#[derive(Debug)]
pub struct KafkaClient {
    bootstrap: Vec<String>,
    deadline: Deadline,
    conns: BTreeMap<String, BrokerConnection>,
    brokers: BTreeMap<i32, String>,
    bootstrap_address: Option<String>,
}

/// Partitions grouped by topic.
pub type TopicPartitions = BTreeMap<String, Vec<i32>>;

impl KafkaClient {
    /// A client for one poll of at most `budget`.
    pub fn new(bootstrap: Vec<String>, budget: Duration) -> Self {
        Self {
            bootstrap,
            deadline: Deadline::after(budget),
            conns: BTreeMap::new(),
            brokers: BTreeMap::new(),
            bootstrap_address: None,
        }
    }

    /// Addresses of the connections open now (sorted).
    pub fn open_connections(&self) -> Vec<String> {
        self.conns.keys().cloned().collect()
    }

    async fn request(
        &mut self,
        address: &str,
        api: Api,
        body: &[u8],
    ) -> Result<Vec<u8>, KafkaError> {
        if !self.conns.contains_key(address) {
            let c = BrokerConnection::connect(address, &self.deadline).await?;
            self.conns.insert(address.to_owned(), c);
        }
        let Some(conn) = self.conns.get_mut(address) else {
            return Err(KafkaError::Transport {
                broker: address.to_owned(),
                message: "connection lost".to_owned(),
            });
        };
        let result = conn.call(api, body, &self.deadline).await;
        if result.is_err() {
            self.conns.remove(address);
        }
        result
    }

    /// The first bootstrap server, in the order given, that connects and answers ApiVersions; checks it
    /// supports every request ksx sends.
    ///
    /// # Errors
    /// No server answered ([`KafkaError::Bootstrap`], each server's failure in order), the deadline passed, or
    /// the broker is too old ([`KafkaError::Unsupported`]).
    pub async fn bootstrap(&mut self) -> Result<String, KafkaError> {
        if let Some(a) = &self.bootstrap_address {
            return Ok(a.clone());
        }
        let mut failures = Vec::new();
        for server in self.bootstrap.clone() {
            let answer = self
                .request(&server, API_VERSIONS, &api_versions_request())
                .await
                .and_then(|body| {
                    decode_api_versions(&body).map_err(|source| KafkaError::Malformed {
                        broker: server.clone(),
                        source,
                    })
                });
            match answer {
                Ok(v) if v.error_code != 0 => failures.push(format!(
                    "{server}: ApiVersions: {}",
                    KafkaCode(v.error_code)
                )),
                Ok(v) => {
                    for api in [METADATA, FIND_COORDINATOR, LIST_OFFSETS, OFFSET_FETCH] {
                        if !v.supports(api) {
                            let range = v
                                .api_keys
                                .iter()
                                .find(|r| r.api_key == api.key)
                                .map_or_else(
                                    || "not at all".to_owned(),
                                    |r| format!("v{}..=v{}", r.min_version, r.max_version),
                                );
                            return Err(KafkaError::Unsupported(format!(
                                "broker {server} does not support {} v{} (it speaks {range}); ksx's Kafka \
                                 client needs Kafka 0.11 or later",
                                api.name, api.version
                            )));
                        }
                    }
                    self.bootstrap_address = Some(server.clone());
                    return Ok(server);
                }
                // The deadline is the poll's: the next server would time out at once.
                Err(e @ KafkaError::Timeout { .. }) => return Err(e),
                Err(e) => failures.push(e.to_string()),
            }
        }
        if failures.is_empty() {
            failures.push("bootstrapServers is empty".to_owned());
        }
        Err(KafkaError::Bootstrap(failures.join("; ")))
    }

    /// Metadata of `topics`, from the bootstrap broker; remembers the brokers for later requests.
    ///
    /// # Errors
    /// As [`KafkaClient::bootstrap`]; a transport failure or a malformed answer. Error codes inside the answer
    /// are left to the caller.
    pub async fn metadata(&mut self, topics: &[String]) -> Result<MetadataResponse, KafkaError> {
        let address = self.bootstrap().await?;
        let body = self
            .request(&address, METADATA, &metadata_request(topics)?)
            .await?;
        let m = decode_metadata(&body).map_err(|source| KafkaError::Malformed {
            broker: address.clone(),
            source,
        })?;
        for b in &m.brokers {
            if !(1..=65_535).contains(&b.port) {
                return Err(malformed(
                    &address,
                    METADATA,
                    format!("broker {} has port {}", b.node_id, b.port),
                ));
            }
            self.brokers.insert(b.node_id, b.address());
        }
        Ok(m)
    }

    /// The address of `group`'s coordinator.
    ///
    /// # Errors
    /// As [`KafkaClient::bootstrap`]; the broker's error code (`COORDINATOR_NOT_AVAILABLE`…).
    pub async fn coordinator(&mut self, group: &str) -> Result<String, KafkaError> {
        let address = self.bootstrap().await?;
        let body = self
            .request(
                &address,
                FIND_COORDINATOR,
                &find_coordinator_request(group)?,
            )
            .await?;
        let c = decode_find_coordinator(&body).map_err(|source| KafkaError::Malformed {
            broker: address.clone(),
            source,
        })?;
        if c.error_code != 0 {
            let place = match c.error_message {
                Some(m) if !m.is_empty() => format!("group {group:?} ({m})"),
                _ => format!("group {group:?}"),
            };
            return Err(KafkaError::Broker {
                api: FIND_COORDINATOR.name,
                place,
                code: KafkaCode(c.error_code),
            });
        }
        if !(1..=65_535).contains(&c.port) {
            return Err(malformed(
                &address,
                FIND_COORDINATOR,
                format!("coordinator port {}", c.port),
            ));
        }
        Ok(MetadataBroker {
            node_id: c.node_id,
            host: c.host,
            port: c.port,
            rack: None,
        }
        .address())
    }

    /// The committed offsets of `group` from its coordinator: for `topics`, or every topic the group committed
    /// when `None`. A partition without a committed offset (−1) maps to `None`.
    ///
    /// # Errors
    /// Transport, a malformed answer, a group-wide or per-partition error code.
    pub async fn committed_offsets(
        &mut self,
        coordinator: &str,
        group: &str,
        topics: Option<&TopicPartitions>,
    ) -> Result<BTreeMap<String, BTreeMap<i32, Option<i64>>>, KafkaError> {
        let body = self
            .request(
                coordinator,
                OFFSET_FETCH,
                &offset_fetch_request(group, topics)?,
            )
            .await?;
        let answer = decode_offset_fetch(&body).map_err(|source| KafkaError::Malformed {
            broker: coordinator.to_owned(),
            source,
        })?;
        if answer.error_code != 0 {
            return Err(KafkaError::Broker {
                api: OFFSET_FETCH.name,
                place: format!("group {group:?}"),
                code: KafkaCode(answer.error_code),
            });
        }
        let mut out: BTreeMap<String, BTreeMap<i32, Option<i64>>> = BTreeMap::new();
        for (topic, partitions) in answer.topics {
            for p in partitions {
                if p.error_code != 0 {
                    return Err(KafkaError::Broker {
                        api: OFFSET_FETCH.name,
                        place: format!("group {group:?} topic {topic:?} partition {}", p.partition),
                        code: KafkaCode(p.error_code),
                    });
                }
                let committed = (p.committed_offset >= 0).then_some(p.committed_offset);
                out.entry(topic.clone())
                    .or_default()
                    .insert(p.partition, committed);
            }
        }
        Ok(out)
    }

    /// The latest offset of each partition, one ListOffsets request per leader (`leaders`: address → topics).
    ///
    /// # Errors
    /// Transport, a malformed answer, a per-partition error code, or a partition the answer leaves out.
    pub async fn latest_offsets(
        &mut self,
        leaders: &BTreeMap<String, TopicPartitions>,
    ) -> Result<BTreeMap<(String, i32), i64>, KafkaError> {
        let mut out = BTreeMap::new();
        for (leader, topics) in leaders {
            let body = self
                .request(leader, LIST_OFFSETS, &list_offsets_request(topics)?)
                .await?;
            let answer = decode_list_offsets(&body).map_err(|source| KafkaError::Malformed {
                broker: leader.clone(),
                source,
            })?;
            for (topic, partitions) in answer.topics {
                for p in partitions {
                    if p.error_code != 0 {
                        return Err(KafkaError::Broker {
                            api: LIST_OFFSETS.name,
                            place: format!("topic {topic:?} partition {}", p.partition),
                            code: KafkaCode(p.error_code),
                        });
                    }
                    out.insert((topic.clone(), p.partition), p.offset);
                }
            }
            for (topic, partitions) in topics {
                for p in partitions {
                    if !out.contains_key(&(topic.clone(), *p)) {
                        return Err(malformed(
                            leader,
                            LIST_OFFSETS,
                            format!("no offset for topic {topic:?} partition {p}"),
                        ));
                    }
                }
            }
        }
        Ok(out)
    }

    /// Latest and committed offsets of `group` per topic: of `topic` when given, else of every topic the group
    /// has committed offsets for; only the partitions in `only` when given.
    ///
    /// Order: ApiVersions and FindCoordinator at the bootstrap broker, OffsetFetch at the coordinator (first,
    /// when the topics come from the group), Metadata at the bootstrap broker, ListOffsets at each leader.
    ///
    /// # Errors
    /// Any step's error, a topic or partition error code in the Metadata answer (naming the topic and
    /// partition), or a leader missing from the answer's brokers.
    pub async fn group_offsets(
        &mut self,
        group: &str,
        topic: Option<&str>,
        only: Option<&BTreeSet<i32>>,
    ) -> Result<BTreeMap<String, Vec<PartitionOffsets>>, KafkaError> {
        let coordinator = self.coordinator(group).await?;
        let (topics, all_committed) = match topic {
            Some(t) => (vec![t.to_owned()], None),
            None => {
                let committed = self.committed_offsets(&coordinator, group, None).await?;
                (committed.keys().cloned().collect(), Some(committed))
            }
        };
        if topics.is_empty() {
            return Ok(BTreeMap::new());
        }
        let meta = self.metadata(&topics).await?;
        let bootstrap = self.bootstrap().await?;
        let mut wanted = TopicPartitions::new();
        let mut leaders: BTreeMap<String, TopicPartitions> = BTreeMap::new();
        for name in &topics {
            let t = meta
                .topics
                .iter()
                .find(|t| &t.name == name)
                .ok_or_else(|| {
                    malformed(
                        &bootstrap,
                        METADATA,
                        format!("topic {name:?} is missing from the answer"),
                    )
                })?;
            if t.error_code != 0 {
                return Err(KafkaError::Broker {
                    api: METADATA.name,
                    place: format!("topic {name:?}"),
                    code: KafkaCode(t.error_code),
                });
            }
            let mut partitions: Vec<&MetadataPartition> = t
                .partitions
                .iter()
                .filter(|p| only.is_none_or(|o| o.contains(&p.partition)))
                .collect();
            partitions.sort_by_key(|p| p.partition);
            for p in partitions {
                // REPLICA_NOT_AVAILABLE with a leader only says a follower is down: the leader answers.
                let benign = p.error_code == 9 && p.leader >= 0;
                if p.error_code != 0 && !benign {
                    return Err(KafkaError::Broker {
                        api: METADATA.name,
                        place: format!("topic {name:?} partition {}", p.partition),
                        code: KafkaCode(p.error_code),
                    });
                }
                let leader = self.brokers.get(&p.leader).ok_or_else(|| {
                    malformed(
                        &bootstrap,
                        METADATA,
                        format!(
                            "leader {} of topic {name:?} partition {} is not among the brokers",
                            p.leader, p.partition
                        ),
                    )
                })?;
                wanted.entry(name.clone()).or_default().push(p.partition);
                leaders
                    .entry(leader.clone())
                    .or_default()
                    .entry(name.clone())
                    .or_default()
                    .push(p.partition);
            }
        }
        let committed = match all_committed {
            Some(c) => c,
            None if wanted.is_empty() => BTreeMap::new(),
            None => {
                self.committed_offsets(&coordinator, group, Some(&wanted))
                    .await?
            }
        };
        let latest = self.latest_offsets(&leaders).await?;
        let mut out = BTreeMap::new();
        for (name, partitions) in wanted {
            let offsets = partitions
                .iter()
                .map(|p| PartitionOffsets {
                    partition: *p,
                    latest: latest.get(&(name.clone(), *p)).copied().unwrap_or(0),
                    committed: committed
                        .get(&name)
                        .and_then(|c| c.get(p))
                        .copied()
                        .flatten(),
                })
                .collect();
            out.insert(name, offsets);
        }
        Ok(out)
    }
}
