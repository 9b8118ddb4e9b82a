//! The mutable state behind the in-memory cluster's lock: the store plus everything the simulation keeps beside
//! it (seeded RNG, pod simulation, logs, profiles, event aggregation), and the write paths every verb shares.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::pods::after;
use super::sim::{ContainerLog, PodProfile, PodSim, ProfileRule};
use super::store::{Key, Store, key_of, namespace_key};
use crate::clock::{Clock, ManualClock};
use crate::cluster::{Kind, Object};
use crate::error::{Error, Result, object_key};

/// The characters of generated name suffixes (Kubernetes' alphabet: no vowels, no confusable digits).
const SUFFIX_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// How long an event lives after it was last seen (the API server's default `--event-ttl`).
const EVENT_TTL: Duration = Duration::from_secs(3600);
/// The most events kept; the oldest go first beyond it.
const MAX_EVENTS: usize = 50_000;

/// Whether objects of a kind carry `metadata.generation` (bumped when the spec changes).
pub(super) fn has_generation(kind: &Kind) -> bool {
    matches!(
        kind,
        Kind::Deployment
            | Kind::StatefulSet
            | Kind::DaemonSet
            | Kind::ReplicaSet
            | Kind::PodDisruptionBudget
            | Kind::HorizontalPodAutoscaler
            | Kind::Ingress
            | Kind::Service
            | Kind::Custom(_)
    )
}

/// `Normal` or `Warning`, the two Kubernetes event types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EventType {
    Normal,
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "Normal",
            Self::Warning => "Warning",
        }
    }
}

/// The object an event is about.
#[derive(Debug, Clone)]
pub(super) struct Involved {
    kind: Kind,
    namespace: String,
    name: String,
    uid: String,
}

impl Involved {
    /// The object described by `kind` and its metadata.
    pub(super) fn new(kind: Kind, meta: &ObjectMeta) -> Self {
        Self {
            kind,
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
            uid: meta.uid.clone().unwrap_or_default(),
        }
    }
}

/// What aggregates repeated events into one with a count: namespace, kind, name, type, reason, message.
type EventKey = (String, String, String, &'static str, String, String);

/// The in-memory cluster's state.
#[derive(Debug)]
pub(super) struct State {
    pub(super) store: Store,
    pub(super) rng: ChaCha8Rng,
    pub(super) clock: ManualClock,
    pub(super) tick: Duration,
    /// Simulation state per pod.
    pub(super) pods: BTreeMap<Key, PodSim>,
    /// Log lines per pod, then container.
    pub(super) logs: BTreeMap<Key, BTreeMap<String, ContainerLog>>,
    pub(super) profiles: Vec<ProfileRule>,
    pub(super) default_profile: PodProfile,
    event_index: HashMap<EventKey, Key>,
    event_seq: u64,
    /// Recorded events, oldest first, for expiry.
    event_queue: VecDeque<(Timestamp, EventKey, Key)>,
    /// Pod templates of StatefulSet revisions, by StatefulSet, then revision name.
    pub(super) sts_revisions: BTreeMap<Key, BTreeMap<String, PodTemplateSpec>>,
    /// What the EndpointSlice controller last saw: the change versions of Pods, Services, EndpointSlices and Nodes
    /// after its last pass (it skips a pass when none moved).
    pub(super) endpointslices_seen: Option<[u64; 4]>,
}

impl State {
    pub(super) fn new(clock: ManualClock, seed: u64) -> Self {
        Self {
            store: Store::default(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            clock,
            tick: Duration::from_secs(1),
            pods: BTreeMap::new(),
            logs: BTreeMap::new(),
            profiles: Vec::new(),
            default_profile: PodProfile::default(),
            event_index: HashMap::new(),
            event_seq: 0,
            event_queue: VecDeque::new(),
            sts_revisions: BTreeMap::new(),
            endpointslices_seen: None,
        }
    }

    /// The current simulated time.
    pub(super) fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// A random uid in the UUID text form.
    pub(super) fn uid(&mut self) -> String {
        let a: u64 = self.rng.random();
        let b: u64 = self.rng.random();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0x0fff,
            ((b >> 48) & 0x3fff) | 0x8000,
            b & 0xffff_ffff_ffff
        )
    }

    /// `len` random characters of the Kubernetes name-suffix alphabet.
    pub(super) fn suffix(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| {
                let i = self.rng.random_range(0..SUFFIX_ALPHABET.len());
                char::from(SUFFIX_ALPHABET.get(i).copied().unwrap_or(b'x'))
            })
            .collect()
    }

    /// `<prefix><5 random characters>`, not yet used by an object of `kind` in `namespace`.
    pub(super) fn unique_name(&mut self, kind: &Kind, namespace: &str, prefix: &str) -> String {
        loop {
            let name = format!("{prefix}{}", self.suffix(5));
            if !self.store.contains(kind, namespace, &name) {
                return name;
            }
        }
    }

    /// Creates an object from a user: fills the namespace (`default` for namespaced kinds), the name from
    /// `generateName`, uid, resourceVersion, creationTimestamp and generation.
    pub(super) fn create(&mut self, mut object: Object) -> Result<Object> {
        let kind = object.kind();
        let meta = object.metadata_mut();
        if kind.is_namespaced() {
            if meta.namespace.as_deref().is_none_or(str::is_empty) {
                meta.namespace = Some("default".to_owned());
            }
        } else {
            meta.namespace = None;
        }
        let namespace = meta.namespace.clone().unwrap_or_default();
        if meta.name.as_deref().is_none_or(str::is_empty) {
            match meta.generate_name.clone().filter(|g| !g.is_empty()) {
                Some(prefix) => {
                    let name = self.unique_name(&kind, &namespace, &prefix);
                    object.metadata_mut().name = Some(name);
                }
                None => {
                    return Err(Error::Invalid {
                        kind: kind.to_string(),
                        object: object_key(Some(&namespace), ""),
                        reason: "metadata.name or metadata.generateName is required".to_owned(),
                    });
                }
            }
        }
        if self.store.contains(&kind, &namespace, object.name()) {
            return Err(Error::AlreadyExists {
                kind: kind.to_string(),
                object: object.key(),
            });
        }
        Ok(self.insert_new(object).clone())
    }

    /// Stores a new object whose name is free, setting uid, creationTimestamp and generation.
    pub(super) fn insert_new(&mut self, mut object: Object) -> &Object {
        let kind = object.kind();
        let uid = self.uid();
        let now = self.now();
        let meta = object.metadata_mut();
        meta.uid = Some(uid);
        meta.creation_timestamp = Some(Time(now));
        meta.deletion_timestamp = None;
        meta.generation = has_generation(&kind).then_some(1);
        if let Object::Pod(pod) = &object {
            self.track_pod(pod);
        }
        self.store.insert(object)
    }

    /// Replaces an existing object (the `apply` path): uid and creationTimestamp stay, the generation goes up
    /// when the spec changed, and an object given without status keeps the stored status.
    pub(super) fn replace(&mut self, object: &Object) -> Result<Object> {
        let kind = object.kind();
        let (namespace, name) = key_of(object);
        let Some(old) = self.store.get(&kind, &namespace, &name) else {
            return Err(Error::not_found(kind.to_string(), Some(&namespace), &name));
        };
        let old_json = old.to_json()?;
        let mut new_json = object.to_json()?;
        if let (Some(new_map), Some(old_map)) = (new_json.as_object_mut(), old_json.as_object())
            && new_map.get("status").is_none_or(serde_json::Value::is_null)
            && let Some(status) = old_map.get("status")
        {
            new_map.insert("status".to_owned(), status.clone());
        }
        let spec_changed = old_json.get("spec") != new_json.get("spec");
        let mut replacement = Object::from_json(&kind, new_json)?;
        let old_meta = old.metadata().clone();
        let meta = replacement.metadata_mut();
        meta.namespace = old_meta.namespace;
        meta.uid = old_meta.uid;
        meta.creation_timestamp = old_meta.creation_timestamp;
        meta.generation = old_meta
            .generation
            .map(|g| if spec_changed { g + 1 } else { g });
        Ok(self.overwrite(replacement))
    }

    /// Stores `object` over the existing one with the same key and returns the stored copy.
    pub(super) fn overwrite(&mut self, object: Object) -> Object {
        let kind = object.kind();
        let (namespace, name) = key_of(&object);
        self.store
            .update(&kind, &namespace, &name, |slot| *slot = object);
        let stored = self.store.get(&kind, &namespace, &name).cloned();
        if let Some(Object::Pod(pod)) = &stored {
            self.retrack_pod(pod);
        }
        stored.unwrap_or_else(|| Object::ConfigMap(Default::default()))
    }

    /// Deletes an object and, as the garbage collector does, everything it owns.
    pub(super) fn delete(
        &mut self,
        kind: &Kind,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<()> {
        let ns = namespace_key(kind, namespace);
        if self.remove(kind, &ns, name).is_none() {
            return Err(Error::not_found(kind.to_string(), namespace, name));
        }
        Ok(())
    }

    /// Removes an object, its simulation state and its dependents (recursively). Returns the removed object.
    pub(super) fn remove(&mut self, kind: &Kind, namespace: &str, name: &str) -> Option<Object> {
        let object = self.store.remove(kind, namespace, name)?;
        if *kind == Kind::Pod {
            let key = (namespace.to_owned(), name.to_owned());
            self.pods.remove(&key);
            self.logs.remove(&key);
        }
        if *kind == Kind::StatefulSet {
            self.sts_revisions
                .remove(&(namespace.to_owned(), name.to_owned()));
        }
        if let Some(uid) = object.metadata().uid.clone() {
            let dependents: Vec<(Kind, Key)> = self.store.dependents(&uid).cloned().collect();
            for (dep_kind, (dep_ns, dep_name)) in dependents {
                self.remove(&dep_kind, &dep_ns, &dep_name);
            }
        }
        Some(object)
    }

    /// Records an event about `involved`, or bumps the count of the same event seen before.
    pub(super) fn record_event(
        &mut self,
        involved: &Involved,
        event_type: EventType,
        reason: &str,
        message: String,
        component: &str,
    ) {
        let namespace = if involved.namespace.is_empty() {
            "default".to_owned()
        } else {
            involved.namespace.clone()
        };
        let now = Time(self.now());
        let key: EventKey = (
            namespace.clone(),
            involved.kind.name().to_owned(),
            involved.name.clone(),
            event_type.as_str(),
            reason.to_owned(),
            message.clone(),
        );
        if let Some((ns, name)) = self.event_index.get(&key) {
            let updated = self.store.update(&Kind::Event, ns, name, |object| {
                if let Object::Event(event) = object {
                    event.count = Some(event.count.unwrap_or(1) + 1);
                    event.last_timestamp = Some(now.clone());
                }
            });
            if updated {
                return;
            }
        }
        self.event_seq += 1;
        let name = format!("{}.{:016x}", involved.name, self.event_seq);
        let event = Event {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(namespace.clone()),
                ..ObjectMeta::default()
            },
            involved_object: ObjectReference {
                api_version: Some(involved.kind.api_version()),
                kind: Some(involved.kind.name().to_owned()),
                name: Some(involved.name.clone()),
                namespace: (!involved.namespace.is_empty()).then(|| involved.namespace.clone()),
                uid: (!involved.uid.is_empty()).then(|| involved.uid.clone()),
                ..ObjectReference::default()
            },
            reason: Some(reason.to_owned()),
            message: Some(message),
            type_: Some(event_type.as_str().to_owned()),
            count: Some(1),
            first_timestamp: Some(now.clone()),
            last_timestamp: Some(now),
            source: Some(EventSource {
                component: Some(component.to_owned()),
                host: None,
            }),
            reporting_component: Some(component.to_owned()),
            ..Event::default()
        };
        self.insert_new(Object::Event(event));
        self.event_index
            .insert(key.clone(), (namespace.clone(), name.clone()));
        let recorded = self.now();
        self.event_queue
            .push_back((recorded, key, (namespace, name)));
        self.expire_events();
    }

    /// Drops events last seen more than [`EVENT_TTL`] ago (the API server's default event TTL), and the oldest
    /// events beyond [`MAX_EVENTS`], so long simulations keep a bounded store.
    fn expire_events(&mut self) {
        let now = self.now();
        while let Some((recorded, key, (ns, name))) = self.event_queue.front().cloned() {
            let over_limit = self.event_queue.len() > MAX_EVENTS;
            if !over_limit && after(recorded, EVENT_TTL) > now {
                break;
            }
            self.event_queue.pop_front();
            let last_seen = match self.store.get(&Kind::Event, &ns, &name) {
                Some(Object::Event(e)) => e.last_timestamp.as_ref().map_or(recorded, |t| t.0),
                _ => continue,
            };
            if !over_limit && after(last_seen, EVENT_TTL) > now {
                // Seen again since it was recorded: it lives on, queued by its last sighting.
                self.event_queue.push_back((last_seen, key, (ns, name)));
                continue;
            }
            self.store.remove(&Kind::Event, &ns, &name);
            if self.event_index.get(&key) == Some(&(ns.clone(), name.clone())) {
                self.event_index.remove(&key);
            }
        }
    }

    /// Events in one namespace (or all), in the order they were first recorded.
    pub(super) fn events(&self, namespace: Option<&str>) -> Vec<Event> {
        let mut events: Vec<Event> = self
            .store
            .iter_in(&Kind::Event, namespace)
            .filter_map(|o| match o {
                Object::Event(e) => Some(e.clone()),
                _ => None,
            })
            .collect();
        // Names end in a zero-padded sequence number, so the suffix orders events by creation.
        events.sort_by(|a, b| {
            let seq = |e: &Event| {
                e.metadata
                    .name
                    .as_deref()
                    .and_then(|n| n.rsplit_once('.'))
                    .map(|(_, s)| s.to_owned())
            };
            seq(a).cmp(&seq(b))
        });
        events
    }
}
