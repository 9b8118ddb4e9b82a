//! VPA checkpoint stores: the shared store check (`vpa::store::conformance`) and the restart check (restore + recommend = recommend) on the
//! file store and on the real PostgreSQL at 127.0.0.1:5432 (`KSX_POSTGRES` overrides the connection string).
#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions: a failed unwrap is a failed test"
)]

use std::collections::BTreeSet;

use ksx_scaling::vpa::aggregate::AggregateContainerState;
use ksx_scaling::vpa::checkpoint::{CheckpointKey, ContainerCheckpoint};
use ksx_scaling::vpa::config::RecommenderConfig;
use ksx_scaling::vpa::crd::RecommendedContainerResources;
use ksx_scaling::vpa::estimate::recommend;
use ksx_scaling::vpa::store::conformance::{check_checkpoint_store, sample_checkpoint};
use ksx_scaling::vpa::store::{CheckpointStore, FileCheckpointStore};

const SEC: i64 = 1_000_000_000;
const MIN: i64 = 60 * SEC;
const DAY: i64 = 24 * 60 * MIN;
/// 2025-01-01T00:00:00Z in engine nanoseconds.
const T0: i64 = 1_735_689_600 * SEC;

fn key(ns: &str, vpa: &str, container: &str) -> CheckpointKey {
    CheckpointKey {
        namespace: ns.into(),
        vpa_name: vpa.into(),
        container_name: container.into(),
    }
}

fn checkpoint(samples: u64) -> ContainerCheckpoint {
    sample_checkpoint(samples)
}

/// A deterministic pseudo-random stream (SplitMix64), so the samples are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[lo, hi)`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo).cast_unsigned()).cast_signed()
    }
}

/// Three containers of one VPA with three days of per-minute samples spread over many buckets, and one OOM.
fn aggregates(cfg: &RecommenderConfig) -> Vec<(String, AggregateContainerState)> {
    let mut rng = Rng(7);
    let mut out = Vec::new();
    for (name, cpu, mem) in [
        ("app", (100, 900), (300 << 20, 700 << 20)),
        ("proxy", (5, 60), (40 << 20, 90 << 20)),
        ("worker", (800, 3_000), (1 << 30, 3 << 30)),
    ] {
        let mut state = AggregateContainerState::new(cfg);
        let mut t = T0;
        while t < T0 + 3 * DAY {
            assert!(state.add_cpu_sample(cfg, t, rng.range(cpu.0, cpu.1)));
            assert!(state.add_memory_sample(cfg, t, rng.range(mem.0, mem.1)));
            t += MIN;
        }
        if name == "app" {
            assert!(state.record_oom(cfg, T0 + 2 * DAY + 30 * MIN, 512 << 20));
        }
        out.push((name.to_owned(), state));
    }
    out
}

fn recommend_all(
    cfg: &RecommenderConfig,
    states: &[(String, AggregateContainerState)],
    now: i64,
) -> Vec<RecommendedContainerResources> {
    let refs: Vec<(&str, &AggregateContainerState)> =
        states.iter().map(|(n, s)| (n.as_str(), s)).collect();
    recommend(cfg, &refs, now)
}

/// The time of the restart check. Checkpoints subtract the open memory window's peak (upstream does, so that the
/// samples read again after a restart do not count twice); `NOW` is therefore after the last window has closed
/// (the samples span three whole 24 h windows from `T0`), where nothing is left out and the restored state must
/// recommend exactly the same.
const NOW: i64 = T0 + 3 * DAY + 5 * MIN;

/// Before the restart: feeds samples, recommends, checkpoints into `store`; returns the recommendation.
async fn save_before_restart(
    store: &dyn CheckpointStore,
    ns: &str,
) -> Vec<RecommendedContainerResources> {
    let cfg = RecommenderConfig::default();
    let states = aggregates(&cfg);
    let before = recommend_all(&cfg, &states, NOW);
    assert_eq!(before.len(), 3);
    // Not a degenerate recommendation: the containers differ.
    assert_ne!(before[0].target, before[1].target);
    assert_ne!(before[1].target, before[2].target);
    for (name, state) in &states {
        store
            .save(&key(ns, "shop", name), &state.to_checkpoint(&cfg, NOW))
            .await
            .unwrap();
    }
    before
}

/// After the restart: `store` is a new handle; aggregates are rebuilt from the checkpoints alone, without
/// replaying a sample, and must recommend what the old ones did.
async fn check_after_restart(
    store: &dyn CheckpointStore,
    ns: &str,
    before: &[RecommendedContainerResources],
) {
    let cfg = RecommenderConfig::default();
    let loaded = store.load_all().await.unwrap();
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let restored: Vec<(String, AggregateContainerState)> = loaded
        .checkpoints
        .iter()
        .filter(|(k, _)| k.namespace == ns && k.vpa_name == "shop")
        .map(|(k, cp)| {
            (
                k.container_name.clone(),
                AggregateContainerState::from_checkpoint(&cfg, cp).unwrap(),
            )
        })
        .collect();
    assert_eq!(restored.len(), 3);
    assert_eq!(recommend_all(&cfg, &restored, NOW), before);
}

#[tokio::test]
async fn file_store_passes_the_store_check() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileCheckpointStore::create(dir.path().join("checkpoints")).unwrap();
    check_checkpoint_store(&store, "ns-file").await.unwrap();
    // Atomic writes leave no temporary files behind.
    store
        .save(&key("ns", "web", "app"), &checkpoint(1))
        .await
        .unwrap();
    let names: Vec<String> = std::fs::read_dir(store.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["ns_web_app.json".to_owned()]);
    let text = std::fs::read_to_string(store.dir().join("ns_web_app.json")).unwrap();
    let object: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(object["kind"], "VerticalPodAutoscalerCheckpoint");
    assert_eq!(object["metadata"]["name"], "web-app");
    assert_eq!(object["spec"]["vpaObjectName"], "web");
    assert_eq!(object["status"]["version"], "v3");
}

#[tokio::test]
async fn file_store_reports_corrupt_and_foreign_files_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileCheckpointStore::create(dir.path()).unwrap();
    let good = key("ns", "web", "app");
    store.save(&good, &checkpoint(3)).await.unwrap();
    let corrupt = dir.path().join("ns_web_broken.json");
    std::fs::write(&corrupt, "{\"kind\": \"VerticalPodAutoscalerCheckpoint\", ").unwrap();
    let old = dir.path().join("ns_web_old.json");
    std::fs::write(
        &old,
        r#"{"apiVersion":"autoscaling.k8s.io/v1","kind":"VerticalPodAutoscalerCheckpoint",
            "metadata":{"name":"web-old","namespace":"ns"},"spec":{"vpaObjectName":"web","containerName":"old"},
            "status":{"version":"v2","cpuHistogram":{"bucketWeights":{"1":10000}}}}"#,
    )
    .unwrap();
    // A file whose content names another key than its file name.
    let text = std::fs::read_to_string(store.path_of(&good).unwrap()).unwrap();
    let moved = dir.path().join("ns_web_moved.json");
    std::fs::write(&moved, text).unwrap();
    // Not checkpoint names: ignored.
    std::fs::write(dir.path().join("README.txt"), "hello").unwrap();
    std::fs::write(dir.path().join(".ns_web_app.json.tmp-1-1"), "partial").unwrap();

    let e = store
        .load(&key("ns", "web", "broken"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&corrupt.display().to_string()) && e.contains("VerticalPodAutoscalerCheckpoint"),
        "{e}"
    );
    let e = store
        .load(&key("ns", "web", "old"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&old.display().to_string())
            && e.contains("\"v2\"")
            && e.contains("status.version"),
        "{e}"
    );

    let all = store.load_all().await.unwrap();
    assert_eq!(all.checkpoints, vec![(good.clone(), checkpoint(3))]);
    let mut errors: Vec<String> = all.errors.iter().map(ToString::to_string).collect();
    errors.sort();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(errors[0].contains("ns_web_broken.json"), "{errors:?}");
    assert!(errors[1].contains("ns_web_moved.json") && errors[1].contains("container app"));
    assert!(errors[2].contains("ns_web_old.json"));
    assert_eq!(store.list().await.unwrap().len(), 4);
    // Garbage collection removes corrupt orphans too, and leaves foreign files alone.
    let live: BTreeSet<_> = [good.clone()].into_iter().collect();
    assert_eq!(store.collect_orphans(&live).await.unwrap().len(), 3);
    assert!(dir.path().join("README.txt").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_file_writers_never_tear_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let k = key("ns", "web", "app");
    let mut tasks = Vec::new();
    for writer in 0..4_u64 {
        let path = dir.path().to_owned();
        let k = k.clone();
        tasks.push(tokio::spawn(async move {
            // Each writer has its own handle, as separate processes would.
            let store = FileCheckpointStore::create(&path).unwrap();
            for i in 0..50 {
                store
                    .save(&k, &checkpoint(writer * 1000 + i))
                    .await
                    .unwrap();
                // Every read sees one whole checkpoint of some writer.
                let seen = store.load(&k).await.unwrap().unwrap();
                assert!(seen.total_samples_count % 1000 < 50, "{seen:?}");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let store = FileCheckpointStore::open(dir.path()).unwrap();
    let last = store.load(&k).await.unwrap().unwrap();
    assert_eq!(last.total_samples_count % 1000, 49);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[tokio::test]
async fn file_store_needs_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain");
    std::fs::write(&file, "x").unwrap();
    let e = FileCheckpointStore::open(&file).unwrap_err().to_string();
    assert!(e.contains(&file.display().to_string()), "{e}");
    let missing = dir.path().join("missing");
    let e = FileCheckpointStore::open(&missing).unwrap_err().to_string();
    assert!(e.contains(&missing.display().to_string()), "{e}");
    assert!(FileCheckpointStore::create(&missing).is_ok());
}

#[tokio::test]
async fn file_store_restart_recommends_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    let store = FileCheckpointStore::create(&path).unwrap();
    let before = save_before_restart(&store, "ns").await;
    drop(store);
    let reopened = FileCheckpointStore::open(&path).unwrap();
    check_after_restart(&reopened, "ns", &before).await;
}

#[cfg(feature = "postgres")]
mod postgres {
    use std::sync::atomic::{AtomicU32, Ordering};

    use ksx_scaling::vpa::store::PostgresCheckpointStore;

    use super::*;

    static COUNTER: AtomicU32 = AtomicU32::new(0);

    fn connection() -> String {
        std::env::var("KSX_POSTGRES")
            .unwrap_or_else(|_| "host=127.0.0.1 user=postgres dbname=test".to_owned())
    }

    fn unique_table() -> String {
        format!(
            "ksx_test_vpa_ckpt_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        )
    }

    async fn connect(table: &str) -> PostgresCheckpointStore {
        PostgresCheckpointStore::connect(&connection(), table)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {} is required: {e}", connection()))
    }

    #[tokio::test]
    async fn postgres_store_passes_the_store_check() {
        let table = unique_table();
        let store = connect(&table).await;
        check_checkpoint_store(&store, "ns-pg").await.unwrap();
        // Connecting again finds the existing table and its rows.
        store
            .save(&key("ns", "web", "app"), &checkpoint(9))
            .await
            .unwrap();
        let again = connect(&table).await;
        assert_eq!(
            again.load(&key("ns", "web", "app")).await.unwrap(),
            Some(checkpoint(9))
        );
        store.drop_table().await.unwrap();
    }

    #[tokio::test]
    async fn postgres_store_reports_corrupt_rows() {
        let table = unique_table();
        let store = connect(&table).await;
        store
            .save(&key("ns", "web", "app"), &checkpoint(1))
            .await
            .unwrap();
        let (client, conn) = tokio_postgres::connect(&connection(), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        client
            .execute(
                &format!(
                    "INSERT INTO \"{table}\" VALUES ('ns', 'web', 'bad', 'v3', 0, '{{not json'), \
                     ('ns', 'web', 'old', 'v2', 0, '{{\"version\": \"v2\"}}')"
                ),
                &[],
            )
            .await
            .unwrap();
        let e = store
            .load(&key("ns", "web", "bad"))
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains(&table) && e.contains("(ns, web, bad)"), "{e}");
        let e = store
            .load(&key("ns", "web", "old"))
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("(ns, web, old)") && e.contains("\"v2\""), "{e}");
        let all = store.load_all().await.unwrap();
        assert_eq!(all.checkpoints.len(), 1);
        assert_eq!(all.errors.len(), 2);
        store.drop_table().await.unwrap();
    }

    #[tokio::test]
    async fn postgres_store_refuses_bad_tables_and_names_the_server() {
        let e = PostgresCheckpointStore::connect(&connection(), "bad-name")
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("bad-name"), "{e}");
        // Nothing listens on port 1.
        let e = PostgresCheckpointStore::connect(
            "host=127.0.0.1 port=1 user=postgres dbname=test",
            "t",
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("127.0.0.1:1/test") && e.contains("connect"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn postgres_store_restart_recommends_the_same() {
        let table = unique_table();
        let store = connect(&table).await;
        let before = save_before_restart(&store, "ns").await;
        let reopened = connect(&table).await;
        check_after_restart(&reopened, "ns", &before).await;
        store.drop_table().await.unwrap();
    }
}
