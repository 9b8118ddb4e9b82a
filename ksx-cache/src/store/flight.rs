//! Single-flight: concurrent misses on one block share one store read, which runs as its own task so a dropped
//! caller cancels nobody. The outcome (bytes or error) reaches every waiter; errors are not remembered.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use futures::future::{BoxFuture, FutureExt, Shared};
use object_store::Error;

use super::key::BlockKey;

/// The outcome of one store read, shareable between waiters.
pub(crate) type FlightResult = Result<Bytes, Arc<Error>>;
type Flight = Shared<BoxFuture<'static, FlightResult>>;

/// The store reads in flight, by block.
#[derive(Default)]
pub(crate) struct Flights {
    map: Mutex<HashMap<BlockKey, (u64, Flight)>>,
    next_id: Mutex<u64>,
}

impl std::fmt::Debug for Flights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self
            .map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        f.debug_struct("Flights").field("in_flight", &n).finish()
    }
}

/// What [`Flights::join_or_start`] found.
pub(crate) enum Joined {
    /// The block turned up in a tier meanwhile.
    Cached(Bytes),
    /// A flight to await; `true` when it was already running (a join).
    Flight(BoxFuture<'static, FlightResult>, bool),
}

impl Flights {
    /// Joins the flight for `key`, or (after `recheck` finds nothing cached) starts one with `start`, spawned
    /// on the current tokio runtime. `start` gets a `done` callback to run when its result is in the tiers; it
    /// removes the flight from the map.
    pub(crate) fn join_or_start(
        self: &Arc<Self>,
        key: &BlockKey,
        recheck: impl FnOnce() -> Option<Bytes>,
        start: impl FnOnce(Box<dyn FnOnce() + Send>) -> BoxFuture<'static, FlightResult>,
    ) -> Joined {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, flight)) = map.get(key) {
            return Joined::Flight(flight.clone().boxed(), true);
        }
        // Checked under the map's lock: a flight inserts its block before it leaves the map, so a block is
        // either still in flight here or already cached.
        if let Some(b) = recheck() {
            return Joined::Cached(b);
        }
        let id = {
            let mut n = self.next_id.lock().unwrap_or_else(PoisonError::into_inner);
            *n += 1;
            *n
        };
        let me = Arc::clone(self);
        let k = key.clone();
        let done: Box<dyn FnOnce() + Send> = Box::new(move || me.finish(&k, id));
        let task = tokio::spawn(start(done));
        let flight: Flight = async move {
            match task.await {
                Ok(r) => r,
                Err(e) => Err(Arc::new(Error::Generic {
                    store: "CachedStore",
                    source: Box::new(e),
                })),
            }
        }
        .boxed()
        .shared();
        map.insert(key.clone(), (id, flight.clone()));
        Joined::Flight(flight.boxed(), false)
    }

    fn finish(&self, key: &BlockKey, id: u64) {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if map.get(key).is_some_and(|(i, _)| *i == id) {
            map.remove(key);
        }
    }

    /// Whether a read of `key` is in flight.
    pub(crate) fn contains(&self, key: &BlockKey) -> bool {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(key)
    }
}

/// A copy of a shared error for one waiter: the same variant and path, the cause as text.
pub(crate) fn clone_error(e: &Error) -> Error {
    let src =
        |s: &(dyn std::error::Error + Send + Sync)| -> Box<dyn std::error::Error + Send + Sync> {
            s.to_string().into()
        };
    match e {
        Error::NotFound { path, source } => Error::NotFound {
            path: path.clone(),
            source: src(source.as_ref()),
        },
        Error::Precondition { path, source } => Error::Precondition {
            path: path.clone(),
            source: src(source.as_ref()),
        },
        Error::NotModified { path, source } => Error::NotModified {
            path: path.clone(),
            source: src(source.as_ref()),
        },
        Error::AlreadyExists { path, source } => Error::AlreadyExists {
            path: path.clone(),
            source: src(source.as_ref()),
        },
        Error::PermissionDenied { path, source } => Error::PermissionDenied {
            path: path.clone(),
            source: src(source.as_ref()),
        },
        Error::Unauthenticated { path, source } => Error::Unauthenticated {
            path: path.clone(),
            source: src(source.as_ref()),
        },
        Error::NotSupported { source } => Error::NotSupported {
            source: src(source.as_ref()),
        },
        Error::Generic { store, source } => Error::Generic {
            store,
            source: src(source.as_ref()),
        },
        other => Error::Generic {
            store: "CachedStore",
            source: other.to_string().into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloned_errors_keep_variant_and_path() {
        let e = Error::Precondition {
            path: "a/b".into(),
            source: "changed".into(),
        };
        let c = clone_error(&e);
        assert!(
            matches!(&c, Error::Precondition { path, .. } if path == "a/b"),
            "{c}"
        );
        assert_eq!(c.to_string(), e.to_string());
        let n = clone_error(&Error::NotFound {
            path: "x".into(),
            source: "gone".into(),
        });
        assert!(matches!(n, Error::NotFound { .. }));
    }
}
