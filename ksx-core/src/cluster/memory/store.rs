//! The object store under the in-memory cluster: objects by kind, then `(namespace, name)`, in `BTreeMap`s so
//! every iteration is ordered; a resourceVersion counter; an owner index; and the watch broadcast.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use tokio::sync::broadcast;

use crate::cluster::{Kind, Object, WatchEvent};

/// `(namespace, name)`; the namespace is empty for cluster-scoped kinds.
pub(super) type Key = (String, String);

/// How many changes a watcher may fall behind before its stream ends (it then re-lists and watches again).
const WATCH_BUFFER: usize = 4096;

/// One change, as sent to watchers: the event and, for modifications, the object before it.
#[derive(Debug)]
pub(super) struct Change {
    /// The object before a modification (`None` for additions and deletions).
    pub(super) old: Option<Object>,
    /// What happened.
    pub(super) event: WatchEvent,
}

/// Objects, their versions and owners.
#[derive(Debug)]
pub(super) struct Store {
    objects: BTreeMap<Kind, BTreeMap<Key, Object>>,
    resource_version: u64,
    /// The resourceVersion of the last change (insert, update, removal) per kind, so a controller can tell that no
    /// object of a kind changed since it last looked.
    kind_versions: BTreeMap<Kind, u64>,
    /// Owner uid → the objects that name it in `ownerReferences`.
    owned: BTreeMap<String, BTreeSet<(Kind, Key)>>,
    tx: broadcast::Sender<Arc<Change>>,
}

impl Default for Store {
    fn default() -> Self {
        let (tx, _) = broadcast::channel(WATCH_BUFFER);
        Self {
            objects: BTreeMap::new(),
            resource_version: 0,
            kind_versions: BTreeMap::new(),
            owned: BTreeMap::new(),
            tx,
        }
    }
}

/// The namespace part of a key: empty for cluster-scoped kinds.
pub(super) fn namespace_key(kind: &Kind, namespace: Option<&str>) -> String {
    if kind.is_namespaced() {
        namespace.unwrap_or("").to_owned()
    } else {
        String::new()
    }
}

/// The key of an object.
pub(super) fn key_of(object: &Object) -> Key {
    (
        namespace_key(&object.kind(), object.namespace()),
        object.name().to_owned(),
    )
}

fn owner_uids(object: &Object) -> Vec<String> {
    object
        .metadata()
        .owner_references
        .iter()
        .flatten()
        .map(|r| r.uid.clone())
        .collect()
}

impl Store {
    /// One object.
    pub(super) fn get(&self, kind: &Kind, namespace: &str, name: &str) -> Option<&Object> {
        self.objects
            .get(kind)?
            .get(&(namespace.to_owned(), name.to_owned()))
    }

    /// Whether an object exists.
    pub(super) fn contains(&self, kind: &Kind, namespace: &str, name: &str) -> bool {
        self.get(kind, namespace, name).is_some()
    }

    /// Every object of a kind, ordered by namespace then name.
    pub(super) fn iter(&self, kind: &Kind) -> impl Iterator<Item = &Object> {
        self.objects
            .get(kind)
            .into_iter()
            .flat_map(BTreeMap::values)
    }

    /// Objects of a kind in one namespace (or all with `None`), ordered by namespace then name.
    pub(super) fn iter_in<'a>(
        &'a self,
        kind: &Kind,
        namespace: Option<&'a str>,
    ) -> Box<dyn Iterator<Item = &'a Object> + 'a> {
        let Some(map) = self.objects.get(kind) else {
            return Box::new(std::iter::empty());
        };
        match namespace {
            Some(ns) if kind.is_namespaced() => Box::new(
                map.range((ns.to_owned(), String::new())..)
                    .take_while(move |((n, _), _)| n == ns)
                    .map(|(_, o)| o),
            ),
            _ => Box::new(map.values()),
        }
    }

    /// The keys of every object of a kind, ordered.
    pub(super) fn keys(&self, kind: &Kind) -> Vec<Key> {
        self.objects
            .get(kind)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// How many objects of a kind exist.
    pub(super) fn count(&self, kind: &Kind) -> usize {
        self.objects.get(kind).map_or(0, BTreeMap::len)
    }

    /// The objects that name `owner_uid` among their owners, ordered by kind, namespace, name.
    pub(super) fn dependents(&self, owner_uid: &str) -> impl Iterator<Item = &(Kind, Key)> {
        self.owned.get(owner_uid).into_iter().flatten()
    }

    /// The dependents of `owner_uid` of one kind, as objects.
    pub(super) fn dependents_of_kind<'a>(
        &'a self,
        owner_uid: &str,
        kind: &'a Kind,
    ) -> impl Iterator<Item = &'a Object> {
        self.owned
            .get(owner_uid)
            .into_iter()
            .flatten()
            .filter(move |(k, _)| k == kind)
            .filter_map(move |(k, (ns, name))| self.get(k, ns, name))
    }

    /// The next resourceVersion, as text.
    pub(super) fn next_version(&mut self) -> String {
        self.resource_version += 1;
        self.resource_version.to_string()
    }

    /// The resourceVersion of the last change to an object of `kind` (0: none yet). It grows with every insert,
    /// update and removal of such an object.
    pub(super) fn kind_version(&self, kind: &Kind) -> u64 {
        self.kind_versions.get(kind).copied().unwrap_or(0)
    }

    /// Records that an object of `kind` changed at the current resourceVersion.
    fn touch(&mut self, kind: &Kind) {
        let version = self.resource_version;
        match self.kind_versions.get_mut(kind) {
            Some(v) => *v = version,
            None => {
                self.kind_versions.insert(kind.clone(), version);
            }
        }
    }

    /// A receiver of every future change.
    pub(super) fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
        self.tx.subscribe()
    }

    fn has_watchers(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    fn send(&self, change: Change) {
        // Nobody listening is not an error: watchers come and go.
        let _ = self.tx.send(Arc::new(change));
    }

    fn index(&mut self, kind: &Kind, key: &Key, uids: &[String]) {
        for uid in uids {
            self.owned
                .entry(uid.clone())
                .or_default()
                .insert((kind.clone(), key.clone()));
        }
    }

    fn unindex(&mut self, kind: &Kind, key: &Key, uids: &[String]) {
        for uid in uids {
            if let Some(set) = self.owned.get_mut(uid) {
                set.remove(&(kind.clone(), key.clone()));
                if set.is_empty() {
                    self.owned.remove(uid);
                }
            }
        }
    }

    /// Stores a new object (the caller checked it does not exist and set its metadata) with a fresh
    /// resourceVersion, and tells watchers.
    pub(super) fn insert(&mut self, mut object: Object) -> &Object {
        let kind = object.kind();
        let key = key_of(&object);
        object.metadata_mut().resource_version = Some(self.next_version());
        self.touch(&kind);
        self.index(&kind, &key, &owner_uids(&object));
        if self.has_watchers() {
            self.send(Change {
                old: None,
                event: WatchEvent::Added(object.clone()),
            });
        }
        match self.objects.entry(kind).or_default().entry(key) {
            Entry::Vacant(slot) => slot.insert(object),
            Entry::Occupied(mut slot) => {
                slot.insert(object);
                slot.into_mut()
            }
        }
    }

    /// Changes an object in place with `change`, gives it a fresh resourceVersion and tells watchers. Returns
    /// `false` when the object does not exist.
    pub(super) fn update(
        &mut self,
        kind: &Kind,
        namespace: &str,
        name: &str,
        change: impl FnOnce(&mut Object),
    ) -> bool {
        let key = (namespace.to_owned(), name.to_owned());
        let watching = self.has_watchers();
        let version = self.resource_version + 1;
        let Some(object) = self.objects.get_mut(kind).and_then(|m| m.get_mut(&key)) else {
            return false;
        };
        self.resource_version = version;
        let old = watching.then(|| object.clone());
        let owners_before = owner_uids(object);
        change(object);
        object.metadata_mut().resource_version = Some(version.to_string());
        let owners_after = owner_uids(object);
        let new = watching.then(|| object.clone());
        if owners_before != owners_after {
            self.unindex(kind, &key, &owners_before);
            self.index(kind, &key, &owners_after);
        }
        self.touch(kind);
        if let Some(new) = new {
            self.send(Change {
                old,
                event: WatchEvent::Modified(new),
            });
        }
        true
    }

    /// Removes an object and tells watchers.
    pub(super) fn remove(&mut self, kind: &Kind, namespace: &str, name: &str) -> Option<Object> {
        let key = (namespace.to_owned(), name.to_owned());
        let object = self.objects.get_mut(kind)?.remove(&key)?;
        self.resource_version += 1;
        self.touch(kind);
        self.unindex(kind, &key, &owner_uids(&object));
        if self.has_watchers() {
            self.send(Change {
                old: None,
                event: WatchEvent::Deleted(object.clone()),
            });
        }
        Some(object)
    }
}
