//! The check every [`CheckpointStore`] passes: run on the in-memory and file stores in unit tests and on
//! PostgreSQL in `tests/vpa_store.rs`.

use std::collections::BTreeSet;

use super::CheckpointStore;
use crate::vpa::checkpoint::{
    CHECKPOINT_VERSION, CheckpointKey, ContainerCheckpoint, HistogramCheckpoint,
};

/// A valid v3 checkpoint told apart by its sample count.
pub fn sample_checkpoint(samples: u64) -> ContainerCheckpoint {
    ContainerCheckpoint {
        version: CHECKPOINT_VERSION.to_owned(),
        last_update_time: 1_735_689_600,
        cpu_histogram: HistogramCheckpoint {
            reference_timestamp: 1_735_689_600,
            bucket_weights: [(3, 10_000), (7, 2_500)].into_iter().collect(),
            total_weight: 4.2,
        },
        memory_histogram: HistogramCheckpoint::default(),
        first_sample_start: 1_735_689_000,
        last_sample_start: 1_735_689_540,
        total_samples_count: samples,
    }
}

fn key(ns: &str, vpa: &str, container: &str) -> CheckpointKey {
    CheckpointKey {
        namespace: ns.to_owned(),
        vpa_name: vpa.to_owned(),
        container_name: container.to_owned(),
    }
}

/// Checks save, load, replace, list, load_all, delete, the version and key rules and garbage collection on
/// `store`, using only keys of namespace `ns` (pick one no other user of the store has). Checkpoints of other
/// namespaces are never touched. Leaves no checkpoint of `ns` behind when it passes.
///
/// # Errors
/// Every expectation that failed, one per line.
pub async fn check_checkpoint_store(store: &dyn CheckpointStore, ns: &str) -> Result<(), String> {
    let mut failures = Vec::new();
    let mut expect = |ok: bool, what: String| {
        if !ok {
            failures.push(what);
        }
    };
    let a = key(ns, "web", "app");
    let b = key(ns, "web", "sidecar");
    let c = key(ns, "web.v2", "app");
    let mine = |keys: Vec<CheckpointKey>| -> Vec<CheckpointKey> {
        keys.into_iter().filter(|k| k.namespace == ns).collect()
    };
    let r = store.load(&a).await;
    expect(
        matches!(r, Ok(None)),
        format!("load of a missing key: {r:?}, expected Ok(None)"),
    );
    let r = store.delete(&a).await;
    expect(
        matches!(r, Ok(false)),
        format!("delete of a missing key: {r:?}, expected Ok(false)"),
    );

    for (i, k) in [&b, &a, &c].into_iter().enumerate() {
        let r = store.save(k, &sample_checkpoint(i as u64)).await;
        expect(r.is_ok(), format!("save {k:?}: {r:?}"));
    }
    let r = store.load(&a).await;
    expect(
        matches!(&r, Ok(Some(cp)) if *cp == sample_checkpoint(1)),
        format!("load after save: {r:?}"),
    );
    let r = store.save(&a, &sample_checkpoint(42)).await;
    expect(r.is_ok(), format!("replace: {r:?}"));
    let r = store.load(&a).await;
    expect(
        matches!(&r, Ok(Some(cp)) if *cp == sample_checkpoint(42)),
        format!("load after replace: {r:?}"),
    );
    match store.list().await {
        Ok(keys) => {
            let keys = mine(keys);
            expect(
                keys == vec![a.clone(), b.clone(), c.clone()],
                format!("list: {keys:?}, expected the three keys sorted"),
            );
        }
        Err(e) => expect(false, format!("list: {e}")),
    }
    match store.load_all().await {
        Ok(all) => {
            expect(
                all.errors.is_empty(),
                format!("load_all errors: {:?}", all.errors),
            );
            let got: Vec<(CheckpointKey, u64)> = all
                .checkpoints
                .iter()
                .filter(|(k, _)| k.namespace == ns)
                .map(|(k, cp)| (k.clone(), cp.total_samples_count))
                .collect();
            expect(
                got == vec![(a.clone(), 42), (b.clone(), 0), (c.clone(), 2)],
                format!("load_all: {got:?}"),
            );
        }
        Err(e) => expect(false, format!("load_all: {e}")),
    }

    let mut old = sample_checkpoint(7);
    old.version = "v2".to_owned();
    match store.save(&b, &old).await {
        Ok(()) => expect(false, "a v2 checkpoint was saved".to_owned()),
        Err(e) => {
            let text = e.to_string();
            expect(
                text.contains("\"v2\"") && text.contains(CHECKPOINT_VERSION),
                format!("v2 refusal does not name both versions: {text}"),
            );
        }
    }
    let r = store.load(&b).await;
    expect(
        matches!(&r, Ok(Some(cp)) if *cp == sample_checkpoint(0)),
        format!("a refused save changed the stored checkpoint: {r:?}"),
    );
    match store
        .save(&key(ns, "a_b", "app"), &sample_checkpoint(1))
        .await
    {
        Ok(()) => expect(false, "a key with '_' was saved".to_owned()),
        Err(e) => expect(
            e.to_string().contains("vpaName"),
            format!("bad key refusal does not name the part: {e}"),
        ),
    }

    // Garbage collection keeps the live keys and every other namespace's checkpoints.
    let mut live: BTreeSet<CheckpointKey> = match store.list().await {
        Ok(keys) => keys.into_iter().filter(|k| k.namespace != ns).collect(),
        Err(e) => {
            expect(false, format!("list: {e}"));
            BTreeSet::new()
        }
    };
    live.insert(b.clone());
    let r = store.collect_orphans(&live).await;
    expect(
        matches!(&r, Ok(deleted) if *deleted == vec![a.clone(), c.clone()]),
        format!("collect_orphans: {r:?}, expected {a:?} and {c:?}"),
    );
    let r = store.load(&a).await;
    expect(
        matches!(r, Ok(None)),
        format!("an orphan is still there: {r:?}"),
    );
    let r = store.delete(&b).await;
    expect(
        matches!(r, Ok(true)),
        format!("delete of a stored key: {r:?}"),
    );
    match store.list().await {
        Ok(keys) => expect(
            mine(keys.clone()).is_empty(),
            format!("left behind: {keys:?}"),
        ),
        Err(e) => expect(false, format!("list: {e}")),
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vpa::store::{FileCheckpointStore, InMemoryCheckpointStore};

    fn block_on<F: Future>(f: F) -> F::Output {
        // Neither store suspends, so one poll finishes every future.
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let mut f = std::pin::pin!(f);
        loop {
            if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    #[test]
    fn in_memory_store_passes() {
        let store = InMemoryCheckpointStore::default();
        block_on(check_checkpoint_store(&store, "ns")).unwrap();
    }

    #[test]
    fn file_store_passes() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileCheckpointStore::create(dir.path()).unwrap();
        block_on(check_checkpoint_store(&store, "ns")).unwrap();
    }

    #[test]
    fn the_check_catches_a_store_that_forgets() {
        /// Accepts everything and remembers nothing.
        struct Forgetful;
        #[async_trait::async_trait]
        impl CheckpointStore for Forgetful {
            async fn save(&self, _: &CheckpointKey, _: &ContainerCheckpoint) -> crate::Result<()> {
                Ok(())
            }
            async fn load(&self, _: &CheckpointKey) -> crate::Result<Option<ContainerCheckpoint>> {
                Ok(None)
            }
            async fn list(&self) -> crate::Result<Vec<CheckpointKey>> {
                Ok(Vec::new())
            }
            async fn delete(&self, _: &CheckpointKey) -> crate::Result<bool> {
                Ok(false)
            }
        }
        let failures = block_on(check_checkpoint_store(&Forgetful, "ns")).unwrap_err();
        assert!(
            failures.contains("load after save") && failures.contains("v2 checkpoint was saved")
        );
    }
}
