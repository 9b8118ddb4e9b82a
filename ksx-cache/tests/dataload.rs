//! DataLoad (spec §2): spec checks naming the field, block planning, the phase machine, the next `Cron` run,
//! and the executor warming a `CachedStore` over `InMemory`.
#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::needless_pass_by_value,
    missing_docs
)]

use std::collections::BTreeSet;

use jiff::Timestamp;
use ksx_cache::dataload::{
    DataLoad, DataLoadStatus, Event, FailedObject, ListedObject, Phase, Policy, format_duration,
    plan, transition,
};
use ksx_cache::model::Dataset;
use proptest::prelude::*;
use serde_json::json;

fn dataset() -> Dataset {
    serde_json::from_value(json!({
        "apiVersion": "cache.ksx.io/v1alpha1",
        "kind": "Dataset",
        "metadata": {"name": "imagenet", "namespace": "ml"},
        "spec": {"mounts": [{"mountPoint": "s3://bucket/imagenet", "name": "imagenet"}]}
    }))
    .expect("dataset")
}

fn load_json(spec: serde_json::Value) -> serde_json::Value {
    json!({
        "apiVersion": "cache.ksx.io/v1alpha1",
        "kind": "DataLoad",
        "metadata": {"name": "warm", "namespace": "ml"},
        "spec": spec
    })
}

fn load(spec: serde_json::Value) -> DataLoad {
    serde_json::from_value(load_json(spec)).expect("dataload")
}

fn err_of(spec: serde_json::Value) -> String {
    load(spec).validate().expect_err("invalid").to_string()
}

fn listing() -> Vec<ListedObject> {
    [
        ("train/a", 10),
        ("train/b", 25),
        ("training/c", 7),
        ("val/d", 0),
        ("val/e", 16),
    ]
    .into_iter()
    .map(|(p, s)| ListedObject {
        path: p.into(),
        size: s,
    })
    .collect()
}

fn ts(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

#[test]
fn fluid_field_names_parse_with_defaults() {
    let l = load(json!({
        "dataset": {"name": "imagenet"},
        "loadMetadata": true,
        "target": [{"path": "/train", "replicas": 2}, {"path": "/val"}],
        "policy": "Cron",
        "schedule": "0 2 * * *",
        "runAfter": {"kind": "DataLoad", "name": "first",
                     "affinityStrategy": {"policy": "Prefer", "prefers": [{"name": "kubernetes.io/hostname", "weight": 30}]}},
        "ttlSecondsAfterFinished": 60,
        "nodeSelector": {"disk": "ssd"},
        "schedulerName": "volcano",
        "podMetadata": {"labels": {"team": "ml"}}
    }));
    l.validate().expect("valid");
    assert!(l.spec.load_metadata);
    assert_eq!(l.spec.policy, Policy::Cron);
    assert_eq!(l.spec.target[1].replicas, 1, "replicas default to 1");
    assert_eq!(
        l.dataset_namespace(),
        "ml",
        "the dataset namespace defaults to the load's"
    );
    let once = load(json!({"dataset": {"name": "imagenet"}}));
    assert_eq!(once.spec.policy, Policy::Once);
    assert_eq!(once.targets()[0].path, "/", "no target means everything");
}

#[test]
fn unknown_fields_are_rejected_by_name() {
    let e = serde_json::from_value::<DataLoad>(load_json(
        json!({"dataset": {"name": "x"}, "targets": []}),
    ))
    .expect_err("unknown field");
    assert!(e.to_string().contains("targets"), "{e}");
    let e = serde_json::from_value::<DataLoad>(load_json(
        json!({"dataset": {"name": "x"}, "policy": "Hourly"}),
    ))
    .expect_err("unknown policy");
    assert!(e.to_string().contains("Hourly"), "{e}");
}

#[test]
fn validation_errors_name_the_field() {
    let e = err_of(json!({"dataset": {"name": ""}}));
    assert_eq!(e, "dataload \"warm\": spec.dataset.name: is required");
    let e = err_of(
        json!({"dataset": {"name": "d"}, "target": [{"path": "/a"}, {"path": "/b", "replicas": 0}]}),
    );
    assert_eq!(
        e,
        "dataload \"warm\": spec.target[1].replicas: 0 is below 1"
    );
    let e = err_of(json!({"dataset": {"name": "d"}, "target": [{"path": "/a/../b"}]}));
    assert!(
        e.starts_with("dataload \"warm\": spec.target[0].path:"),
        "{e}"
    );
    let e = err_of(json!({"dataset": {"name": "d"}, "policy": "Cron"}));
    assert_eq!(
        e,
        "dataload \"warm\": spec.schedule: is required by policy Cron"
    );
    let e = err_of(json!({"dataset": {"name": "d"}, "schedule": "0 2 * * *"}));
    assert_eq!(
        e,
        "dataload \"warm\": spec.schedule: is only for policy Cron, not Once"
    );
    let e = err_of(json!({"dataset": {"name": "d"}, "policy": "Cron", "schedule": "0 2 * *"}));
    assert!(
        e.starts_with("dataload \"warm\": spec.schedule:") && e.contains("4 fields"),
        "{e}"
    );
    let e = err_of(json!({"dataset": {"name": "d"}, "policy": "Cron", "schedule": "0 2 * * 9"}));
    assert!(e.starts_with("dataload \"warm\": spec.schedule:"), "{e}");
    let e = err_of(json!({"dataset": {"name": "d"}, "ttlSecondsAfterFinished": -1}));
    assert_eq!(
        e,
        "dataload \"warm\": spec.ttlSecondsAfterFinished: -1 is negative"
    );
    let e = err_of(json!({"dataset": {"name": "d"},
        "runAfter": {"kind": "DataLoad", "name": "a", "affinityStrategy": {"policy": "Prefer", "prefers": [{"name": "k", "weight": 0}]}}}));
    assert_eq!(
        e,
        "dataload \"warm\": spec.runAfter.affinityStrategy.prefers[0].weight: 0 is not in 1..=100"
    );
    let mut l = load(json!({"dataset": {"name": "d"}}));
    l.kind = "DataBackup".into();
    assert!(
        l.validate()
            .expect_err("kind")
            .to_string()
            .contains(": kind:")
    );
}

#[test]
fn plan_cuts_requested_paths_into_blocks_and_skips_cached_ones() {
    let l = load(
        json!({"dataset": {"name": "imagenet"}, "target": [{"path": "/train", "replicas": 2}]}),
    );
    let cached: BTreeSet<(String, u64)> = [("train/b".to_owned(), 1)].into();
    let p = plan(&l, &dataset(), &listing(), 8, &cached).expect("plan");
    // train/a: 10 bytes = [0,8) [8,10); train/b: 25 bytes = 8+8+8+1, block 1 cached; training/c is not under /train.
    assert_eq!(p.dataset, "ml/imagenet");
    assert_eq!(p.objects, 2);
    assert_eq!(p.requested_bytes, 35);
    assert_eq!((p.skipped_bytes, p.skipped_blocks), (8, 1));
    assert_eq!(p.load_bytes, 27);
    let blocks: Vec<(&str, u64, u64, u64)> = p
        .blocks
        .iter()
        .map(|b| (b.path.as_str(), b.index, b.offset, b.len))
        .collect();
    assert_eq!(
        blocks,
        [
            ("train/a", 0, 0, 8),
            ("train/a", 1, 8, 2),
            ("train/b", 0, 0, 8),
            ("train/b", 2, 16, 8),
            ("train/b", 3, 24, 1)
        ]
    );
    assert_eq!(p.replicas.get("train/a"), Some(&2));
    assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
}

#[test]
fn plan_of_everything_overlaps_and_misses() {
    let l = load(json!({"dataset": {"name": "imagenet"},
        "target": [{"path": "/"}, {"path": "/val/", "replicas": 3}, {"path": "/nope"}]}));
    let p = plan(&l, &dataset(), &listing(), 16, &BTreeSet::new()).expect("plan");
    // 10 + 25 + 7 + 0 + 16 = 58 bytes in 5 objects; blocks of 16: 1 + 2 + 1 + 0 + 1 = 5.
    assert_eq!((p.objects, p.requested_bytes, p.load_bytes), (5, 58, 58));
    assert_eq!(p.blocks.len(), 5);
    assert_eq!(
        p.replicas.get("val/e"),
        Some(&3),
        "the largest replicas of the matching targets"
    );
    assert_eq!(p.replicas.get("train/a"), Some(&1));
    assert_eq!(
        p.diagnostics,
        ["target \"/nope\" matches no object of the listing"]
    );
}

#[test]
fn plan_rejects_zero_blocks_and_another_dataset() {
    let l = load(json!({"dataset": {"name": "imagenet"}}));
    let e = plan(&l, &dataset(), &listing(), 0, &BTreeSet::new()).expect_err("block size");
    assert!(e.to_string().contains("block-size"), "{e}");
    let other = load(json!({"dataset": {"name": "coco"}}));
    let e = plan(&other, &dataset(), &listing(), 8, &BTreeSet::new()).expect_err("dataset");
    assert!(e.to_string().contains("spec.dataset.name"), "{e}");
    let other_ns = load(json!({"dataset": {"name": "imagenet", "namespace": "prod"}}));
    let e = plan(&other_ns, &dataset(), &listing(), 8, &BTreeSet::new()).expect_err("namespace");
    assert!(e.to_string().contains("spec.dataset.namespace"), "{e}");
}

#[test]
fn next_run_of_cron_loads() {
    // 2026-11-29 is a Sunday.
    let now = ts("2026-11-29T17:00:00Z");
    let next = |schedule: &str| {
        load(json!({"dataset": {"name": "d"}, "policy": "Cron", "schedule": schedule}))
            .next_run(now)
            .expect("schedule")
            .expect("a next run")
    };
    assert_eq!(next("30 2 * * *"), ts("2026-11-30T02:30:00Z"));
    assert_eq!(next("0 9 * * 1"), ts("2026-11-30T09:00:00Z"), "1 = Monday");
    assert_eq!(next("0 9 * * 0"), ts("2026-12-06T09:00:00Z"), "0 = Sunday");
    assert_eq!(next("0 9 * * 7"), ts("2026-12-06T09:00:00Z"), "7 = Sunday");
    assert_eq!(
        next("0 9 * * 5-7"),
        ts("2026-12-04T09:00:00Z"),
        "Friday to Sunday"
    );
    assert_eq!(
        next("0 0 1 * 0"),
        ts("2026-12-01T00:00:00Z"),
        "day of month OR day of week"
    );
    assert_eq!(next("@daily"), ts("2026-11-30T00:00:00Z"));
    assert_eq!(
        next("*/15 * * * *"),
        ts("2026-11-29T17:15:00Z"),
        "strictly after now"
    );
    let once = load(json!({"dataset": {"name": "d"}}));
    assert_eq!(once.next_run(now).expect("once"), None);
}

#[test]
fn phases_move_as_the_spec_says() {
    let l = load(json!({"dataset": {"name": "d"}}));
    let t0 = ts("2026-11-29T10:00:00Z");
    let s = transition(&l, &DataLoadStatus::default(), Event::Admitted, t0).expect("admit");
    assert_eq!((s.phase, s.duration.as_str()), (Phase::Pending, "-"));
    let s = transition(
        &l,
        &s,
        Event::Waiting {
            operation: "DataLoad/first".into(),
        },
        t0,
    )
    .expect("wait");
    assert_eq!(s.phase, Phase::Pending);
    assert_eq!(
        s.waiting_for.as_ref().and_then(|w| w.operation.as_deref()),
        Some("DataLoad/first")
    );
    let s = transition(&l, &s, Event::Started, t0).expect("start");
    assert_eq!(s.phase, Phase::Executing);
    assert_eq!(s.waiting_for, None);
    let done = transition(
        &l,
        &s,
        Event::Finished {
            loaded_bytes: 100,
            skipped_bytes: 20,
            failed_objects: vec![FailedObject {
                path: "x".into(),
                message: "gone".into(),
            }],
            cached_percent: 57.3,
        },
        ts("2026-11-29T10:01:30Z"),
    )
    .expect("finish");
    assert_eq!(
        done.phase,
        Phase::Complete,
        "a partial load still completes"
    );
    assert_eq!(done.duration, "1m30s");
    let types: Vec<&str> = done.conditions.iter().map(|c| c.type_.as_str()).collect();
    assert_eq!(types, ["Complete", "PartiallyCached"]);
    assert_eq!(
        done.infos.get("cachedPercentage").map(String::as_str),
        Some("57.3%")
    );
    assert_eq!(
        done.infos.get("loadedBytes").map(String::as_str),
        Some("100")
    );
    assert_eq!(
        done.infos.get("failedObjects").map(String::as_str),
        Some("1")
    );
    let e = transition(&l, &done, Event::Started, t0).expect_err("started twice");
    assert!(e.to_string().contains("status.phase"), "{e}");
    let e = transition(&l, &done, Event::Rescheduled, t0).expect_err("once does not rerun");
    assert!(e.to_string().contains("Rescheduled"), "{e}");

    let failed = transition(
        &l,
        &s,
        Event::Failed {
            message: "oom".into(),
        },
        ts("2026-11-29T11:02:05Z"),
    )
    .expect("fail");
    assert_eq!(
        (failed.phase, failed.duration.as_str()),
        (Phase::Failed, "1h2m5s")
    );
    assert_eq!(failed.conditions[0].type_, "Failed");

    let cron = load(json!({"dataset": {"name": "d"}, "policy": "Cron", "schedule": "0 2 * * *"}));
    let again = transition(&cron, &done, Event::Rescheduled, t0).expect("cron reruns");
    assert_eq!(
        (again.phase, again.duration.as_str()),
        (Phase::Pending, "-")
    );
    assert!(again.conditions.is_empty());
    let s = transition(&cron, &again, Event::Started, t0).expect("start");
    assert_eq!(s.last_schedule_time, t0.to_string());
}

#[test]
fn durations_in_go_style() {
    assert_eq!(format_duration(0), "0s");
    assert_eq!(format_duration(45), "45s");
    assert_eq!(format_duration(3600), "1h0m0s");
    assert_eq!(format_duration(-5), "0s");
}

fn arb_listing() -> impl Strategy<Value = Vec<ListedObject>> {
    let paths = prop::sample::select(vec!["a", "a/b", "a/c", "ab", "b/x", "b/y/z", "c"]);
    prop::collection::vec((paths, 0_u64..1_000), 0..12).prop_map(|v| {
        v.into_iter()
            .map(|(p, s)| ListedObject {
                path: p.to_owned(),
                size: s,
            })
            .collect()
    })
}

proptest! {
    #[test]
    fn planning_covers_exactly_the_requested_bytes(
        listing in arb_listing(),
        targets in prop::collection::vec(prop::sample::select(vec!["/", "/a", "/b", "/b/y", "/ab", "/zz"]), 0..4),
        block in 1_u64..300,
        cached in prop::collection::btree_set((prop::sample::select(vec!["a", "a/b", "ab", "b/x", "c"]), 0_u64..5), 0..6),
    ) {
        let target: Vec<_> = targets.iter().map(|t| json!({"path": t})).collect();
        let l = load(json!({"dataset": {"name": "imagenet"}, "target": target}));
        let cached: BTreeSet<(String, u64)> = cached.into_iter().map(|(p, i)| (p.to_owned(), i)).collect();
        let p = plan(&l, &dataset(), &listing, block, &cached).expect("plan");
        // Hand model: an object is requested when a target is "/", the path itself or a component prefix.
        let wanted = |path: &str| {
            let ts: Vec<&str> = if targets.is_empty() { vec!["/"] } else { targets.clone() };
            ts.iter().any(|t| {
                let t = t.trim_matches('/');
                t.is_empty() || path == t || path.starts_with(&format!("{t}/"))
            })
        };
        let mut sizes = std::collections::BTreeMap::new();
        for o in &listing {
            if wanted(&o.path) {
                sizes.insert(o.path.clone(), o.size);
            }
        }
        let requested: u64 = sizes.values().sum();
        prop_assert_eq!(p.requested_bytes, requested);
        prop_assert_eq!(p.load_bytes + p.skipped_bytes, requested);
        prop_assert_eq!(p.blocks.iter().map(|b| b.len).sum::<u64>(), p.load_bytes);
        for w in p.blocks.windows(2) {
            prop_assert!((&w[0].path, w[0].offset) < (&w[1].path, w[1].offset));
        }
        for b in &p.blocks {
            prop_assert!(b.len > 0 && b.len <= block);
            prop_assert_eq!(b.offset, b.index * block);
            prop_assert!(!cached.contains(&(b.path.clone(), b.index)));
        }
    }
}

#[cfg(feature = "store")]
mod executor {
    use super::*;
    use bytes::Bytes;
    use ksx_cache::dataload::run_dataload;
    use ksx_cache::store::{CacheConfig, CachedStore};
    use ksx_core::clock::ManualClock;
    use object_store::memory::InMemory;
    use object_store::path::Path;
    use object_store::{ObjectStoreExt, PutPayload};

    const BS: u64 = 64 * 1024;

    async fn store_with(objects: &[(&str, usize)]) -> CachedStore<InMemory> {
        let inner = InMemory::new();
        for (path, len) in objects {
            let bytes: Bytes = (0..*len)
                .map(|i| (i % 251) as u8)
                .collect::<Vec<u8>>()
                .into();
            inner
                .put(&Path::from(*path), PutPayload::from_bytes(bytes))
                .await
                .expect("put");
        }
        let config = CacheConfig {
            block_size: BS,
            memory_bytes: 64 * BS,
            max_readahead: 0,
            ..CacheConfig::default()
        };
        CachedStore::new(inner, config).expect("store")
    }

    fn executing(l: &DataLoad) -> DataLoadStatus {
        let t0 = ts("2026-11-29T10:00:00Z");
        let s = transition(l, &DataLoadStatus::default(), Event::Admitted, t0).expect("admit");
        transition(l, &s, Event::Started, t0).expect("start")
    }

    #[tokio::test]
    async fn a_load_warms_the_cache_and_a_second_read_stays_local() {
        let store = store_with(&[("train/a", 100_000), ("train/b", 70_000), ("val/c", 5)]).await;
        let l = load(json!({"dataset": {"name": "imagenet"}, "target": [{"path": "/train"}]}));
        let listing = vec![
            ListedObject {
                path: "train/a".into(),
                size: 100_000,
            },
            ListedObject {
                path: "train/b".into(),
                size: 70_000,
            },
            ListedObject {
                path: "val/c".into(),
                size: 5,
            },
        ];
        let p = plan(&l, &dataset(), &listing, BS, &BTreeSet::new()).expect("plan");
        // 100 000 = 65 536 + 34 464; 70 000 = 65 536 + 4 464.
        assert_eq!((p.blocks.len(), p.load_bytes), (4, 170_000));
        let clock = ManualClock::new(ts("2026-11-29T10:00:42Z"));
        let (status, report) = run_dataload(&store, &l, &p, &executing(&l), &clock).await;
        assert_eq!(report.loaded_bytes, 170_000);
        assert!(report.failed_objects.is_empty());
        assert_eq!(status.phase, Phase::Complete);
        assert_eq!(status.duration, "42s");
        assert_eq!(
            status.infos.get("cachedPercentage").map(String::as_str),
            Some("100.0%")
        );
        assert!(
            status
                .conditions
                .iter()
                .all(|c| c.type_ != "PartiallyCached"),
            "{:?}",
            status.conditions
        );
        let before = store.stats();
        assert_eq!(
            before.bytes.store, 170_000,
            "each planned block came from the store once"
        );
        let again = store
            .get(&Path::from("train/a"))
            .await
            .expect("get")
            .bytes()
            .await
            .expect("bytes");
        assert_eq!(again.len(), 100_000);
        let after = store.stats();
        assert_eq!(
            after.bytes.store, before.bytes.store,
            "the second read is served from the cache"
        );
        assert_eq!(after.bytes.memory, before.bytes.memory + 100_000);
    }

    #[tokio::test]
    async fn a_missing_object_is_recorded_and_the_load_is_partial() {
        let store = store_with(&[("train/a", 1_000)]).await;
        let l = load(json!({"dataset": {"name": "imagenet"}}));
        let listing = vec![
            ListedObject {
                path: "train/a".into(),
                size: 1_000,
            },
            ListedObject {
                path: "train/gone".into(),
                size: 3_000,
            },
        ];
        let p = plan(&l, &dataset(), &listing, BS, &BTreeSet::new()).expect("plan");
        let clock = ManualClock::new(ts("2026-11-29T10:00:01Z"));
        let (status, report) = run_dataload(&store, &l, &p, &executing(&l), &clock).await;
        assert_eq!(report.loaded_bytes, 1_000);
        assert_eq!(status.failed_objects.len(), 1);
        assert_eq!(status.failed_objects[0].path, "train/gone");
        assert_eq!(status.phase, Phase::Complete);
        // 1 000 of 4 000 bytes cached.
        assert_eq!(
            status.infos.get("cachedPercentage").map(String::as_str),
            Some("25.0%")
        );
        assert!(
            status
                .conditions
                .iter()
                .any(|c| c.type_ == "PartiallyCached")
        );
        assert_eq!(
            status.infos.get("failedObjects").map(String::as_str),
            Some("1")
        );
    }
}
