//! Result stores (spec §3): the shared check (`plan::store::conformance`) on the file store and, with feature
//! `postgres`, on the real PostgreSQL at 127.0.0.1:5432 (`KSX_POSTGRES` overrides the connection string), in a
//! table of its own that is dropped afterwards. Also: corrupt files are named, the index is rebuilt when missing.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions: a failed unwrap is a failed test"
)]

use ksx_inspect::plan::store::conformance::{check_result_store, sample_result};
use ksx_inspect::plan::store::{FileResultStore, INDEX_FILE, ResultStore};
use ksx_inspect::plan::{PlanError, ResultStatus};

#[tokio::test]
async fn file_store_passes_the_conformance_check() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileResultStore::create(dir.path().join("results")).unwrap();
    check_result_store(&store, "conf-a").await.unwrap();
    // A second plan in the same store is independent.
    check_result_store(&store, "conf-b").await.unwrap();
}

#[tokio::test]
async fn file_layout_is_plan_dir_id_json_plus_index() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileResultStore::create(dir.path()).unwrap();
    let r = sample_result("nightly", 1_767_225_600, ResultStatus::Succeeded, 90);
    store.put(&r).await.unwrap();
    let file = dir
        .path()
        .join("nightly")
        .join("nightly-20260101T000000Z.json");
    assert!(file.is_file(), "{}", file.display());
    assert!(dir.path().join("nightly").join(INDEX_FILE).is_file());
    // No temporary file is left behind.
    let names: Vec<String> = std::fs::read_dir(dir.path().join("nightly"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    // A lost index is rebuilt from the result files.
    std::fs::remove_file(dir.path().join("nightly").join(INDEX_FILE)).unwrap();
    let listed = store.list("nightly").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, "nightly-20260101T000000Z");
    assert_eq!(listed[0].score, 90);
    assert_eq!(store.plans().await.unwrap(), ["nightly"]);
}

#[tokio::test]
async fn corrupt_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileResultStore::create(dir.path()).unwrap();
    let r = sample_result("nightly", 1_767_225_600, ResultStatus::Succeeded, 90);
    store.put(&r).await.unwrap();
    let file = dir
        .path()
        .join("nightly")
        .join("nightly-20260101T000000Z.json");
    std::fs::write(&file, "{\"apiVersion\": tru").unwrap();
    match store.get(&r.id).await {
        Err(e @ PlanError::Corrupt { .. }) => {
            let text = e.to_string();
            assert!(text.contains("nightly-20260101T000000Z.json"), "{text}");
            assert!(text.contains("corrupt result"), "{text}");
        }
        other => panic!("expected a corrupt-file error, got {other:?}"),
    }
    // A file holding another id than its name says.
    let other = sample_result("nightly", 1_767_229_200, ResultStatus::Succeeded, 80);
    std::fs::write(&file, serde_json::to_string(&other).unwrap()).unwrap();
    let err = store.get(&r.id).await.unwrap_err();
    assert!(
        err.to_string().contains("not the one its name says"),
        "{err}"
    );
    // A corrupt index is named too.
    let index = dir.path().join("nightly").join(INDEX_FILE);
    std::fs::write(&index, "[").unwrap();
    let err = store.list("nightly").await.unwrap_err();
    assert!(
        err.to_string().contains(&index.display().to_string()),
        "{err}"
    );
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_store_passes_the_conformance_check() {
    use ksx_inspect::plan::store::PostgresResultStore;
    let conn = std::env::var("KSX_POSTGRES")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres dbname=test".to_owned());
    let nanos = ksx_core::Clock::now(&ksx_core::SystemClock).as_nanosecond();
    let table = format!("ksx_results_{}_{nanos}", std::process::id());
    let store = PostgresResultStore::connect(&conn, &table).await.unwrap();
    let outcome = check_result_store(&store, "conf-pg").await;
    // A corrupt row is named.
    let r = sample_result("corrupt", 1_767_225_600, ResultStatus::Succeeded, 1);
    store.put(&r).await.unwrap();
    let (client, connection) = tokio_postgres::connect(&conn, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .execute(
            &format!("UPDATE \"{table}\" SET result = 'nope' WHERE id = $1"),
            &[&r.id],
        )
        .await
        .unwrap();
    let err = store.get(&r.id).await.unwrap_err();
    store.drop_table().await.unwrap();
    outcome.unwrap();
    let text = err.to_string();
    assert!(
        text.contains(&format!("table {table} row corrupt-20260101T000000Z")),
        "{text}"
    );
    assert!(text.contains("corrupt result"), "{text}");
}
