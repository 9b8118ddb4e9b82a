//! Mount points, tiers, quotas and watermarks from YAML, with errors naming object and field.

use ksx_core::manifest::from_yaml_str;

use super::*;
use crate::model::{CacheRuntime, Dataset};

const DATASET: &str = "\
apiVersion: cache.ksx.io/v1alpha1
kind: Dataset
metadata:
  name: imagenet
  namespace: ml
spec:
  sharedOptions:
    aws_region: us-east-1
  mounts:
    - mountPoint: s3://datasets/imagenet/train/
      name: train
      options:
        aws_endpoint: http://127.0.0.1:8014
        aws_region: eu-west-1
      encryptOptions:
        - name: aws_access_key_id
          valueFrom:
            secretKeyRef: {name: s3-creds, key: id}
    - mountPoint: local:///mnt/nfs/labels
      name: labels
      path: /meta/labels
    - mountPoint: https://example.invalid/extra
      name: extra
  placement: \"\"
";

const RUNTIME: &str = "\
apiVersion: cache.ksx.io/v1alpha1
kind: CacheRuntime
metadata:
  name: imagenet
  namespace: ml
spec:
  replicas: 2
  tieredstore:
    levels:
      - mediumtype: SSD
        path: /mnt/ssd1,/mnt/ssd2,/mnt/ssd3
        quota: 100
        high: \"0.9\"
        low: \"0.6\"
      - mediumtype: MEM
        path: /dev/shm
        quota: 2Gi
      - mediumtype: SSD
        path: /mnt/other
        quota: 1Gi
      - mediumtype: HDD
        path: /mnt/hdd1, /mnt/hdd2
        quotaList: 100Gi,50Gi
";

fn dataset(text: &str) -> Dataset {
    from_yaml_str("dataset.yaml", text).unwrap()
}

fn runtime(text: &str) -> CacheRuntime {
    from_yaml_str("runtime.yaml", text).unwrap()
}

#[test]
fn mounts_resolve_with_defaults_and_merged_options() {
    let d = dataset(DATASET);
    assert!(is_exclusive(&d), "an empty placement means Exclusive");
    let mounts = resolve_mounts(&d).unwrap();
    assert_eq!(
        mounts[0].source,
        MountSource::S3 {
            bucket: "datasets".into(),
            prefix: "imagenet/train".into()
        }
    );
    assert_eq!(mounts[0].path, "/train");
    assert_eq!(
        mounts[0].options["aws_region"], "eu-west-1",
        "the mount's own option wins"
    );
    assert_eq!(mounts[0].options["aws_endpoint"], "http://127.0.0.1:8014");
    assert_eq!(
        mounts[0].encrypt_options[0].value_from.secret_key_ref.key,
        "id"
    );
    assert_eq!(
        mounts[1].source,
        MountSource::Local {
            path: "/mnt/nfs/labels".into()
        }
    );
    assert_eq!(mounts[1].path, "/meta/labels");
    assert_eq!(mounts[1].options["aws_region"], "us-east-1");
    assert!(mounts[2].read_only, "http(s) mounts are read-only");
}

#[test]
fn mount_points_by_scheme() {
    let ok = |p: &str| parse_mount_point(p).unwrap();
    assert_eq!(
        ok("pvc://claim/sub/dir"),
        MountSource::Pvc {
            claim: "claim".into(),
            subpath: "sub/dir".into()
        }
    );
    assert_eq!(
        ok("s3://bucket"),
        MountSource::S3 {
            bucket: "bucket".into(),
            prefix: String::new()
        }
    );
    assert_eq!(
        ok("memory://demo"),
        MountSource::Memory {
            name: "demo".into()
        }
    );
    assert_eq!(
        ok("HTTP://host/x"),
        MountSource::Http {
            url: "HTTP://host/x".into()
        }
    );
    let err = |p: &str| parse_mount_point(p).unwrap_err();
    assert_eq!(err("s3:/"), "\"s3:/\" is shorter than 5 characters");
    assert!(err("ftp://host/x").starts_with("unknown mount scheme \"ftp\""));
    assert!(err("/mnt/data").contains("has no scheme"));
    assert!(err("local://relative").contains("needs an absolute path"));
    assert!(err("s3:///prefix").contains("names no bucket"));
    assert!(err("pvc:///x").contains("names no claim"));
}

#[test]
fn mount_errors_name_dataset_and_field() {
    let bad = DATASET.replace("local:///mnt/nfs/labels", "hdfs://nn/labels");
    let e = resolve_mounts(&dataset(&bad)).unwrap_err().to_string();
    assert!(
        e.starts_with(
            "dataset \"imagenet\": spec.mounts[1].mountPoint: unknown mount scheme \"hdfs\""
        ),
        "{e}"
    );
    let dup = DATASET.replace("name: extra", "name: train");
    let e = resolve_mounts(&dataset(&dup)).unwrap_err().to_string();
    assert_eq!(
        e,
        "dataset \"imagenet\": spec.mounts[2].name: duplicate mount name \"train\""
    );
    let none = "apiVersion: cache.ksx.io/v1alpha1\nkind: Dataset\nmetadata: {name: x}\nspec: {}\n";
    let e = resolve_mounts(&dataset(none)).unwrap_err().to_string();
    assert_eq!(
        e,
        "dataset \"x\": spec.mounts: at least one mount is required"
    );
}

#[test]
fn unknown_fields_are_rejected_with_file_line_and_path() {
    let typo = DATASET.replace("      path: /meta/labels", "      pth: /meta/labels");
    let e = from_yaml_str::<Dataset>("dataset.yaml", &typo)
        .unwrap_err()
        .to_string();
    assert!(e.contains("dataset.yaml:"), "{e}");
    assert!(e.contains("spec.mounts[1]"), "{e}");
    assert!(e.contains("unknown field `pth`"), "{e}");
    let medium = RUNTIME.replace("mediumtype: HDD", "mediumtype: NVME");
    let e = from_yaml_str::<CacheRuntime>("runtime.yaml", &medium)
        .unwrap_err()
        .to_string();
    assert!(e.contains("spec.tieredstore.levels[3].mediumtype"), "{e}");
}

#[test]
fn tiers_sorted_split_and_deduplicated() {
    let r = runtime(RUNTIME);
    assert_eq!(r.spec.data.replicas, 1);
    assert_eq!(
        r.spec.management.clean_cache_policy.grace_period_seconds,
        60
    );
    assert!(r.spec.management.metadata_sync_policy.auto_sync);
    let resolved = resolve_tiers(&r).unwrap();
    let media: Vec<Medium> = resolved.tiers.iter().map(|t| t.medium).collect();
    assert_eq!(media, [Medium::Mem, Medium::Ssd, Medium::Hdd]);
    assert_eq!(
        resolved.diagnostics,
        ["spec.tieredstore.levels[2]: duplicate medium SSD dropped (levels[0] kept)"]
    );
    let mem = &resolved.tiers[0];
    assert_eq!(
        (
            mem.quota_bytes,
            mem.high_text.as_str(),
            mem.low_text.as_str()
        ),
        (2 << 30, "0.95", "0.7")
    );
    // 100 bytes over 3 paths: 34, 33, 33 (the remainder goes to the first).
    let ssd = &resolved.tiers[1];
    let quotas: Vec<u64> = ssd.paths.iter().map(|p| p.quota_bytes).collect();
    assert_eq!(quotas, [34, 33, 33]);
    assert_eq!((ssd.high, ssd.low), (0.9, 0.6));
    let hdd = &resolved.tiers[2];
    assert_eq!(
        hdd.paths[1],
        TierPath {
            path: "/mnt/hdd2".into(),
            quota_bytes: 50 << 30
        }
    );
    assert_eq!(hdd.quota_bytes, 150 << 30);
}

#[test]
fn tier_errors_name_runtime_and_field() {
    let check = |from: &str, to: &str, expected: &str| {
        let text = RUNTIME.replace(from, to);
        let e = resolve_tiers(&runtime(&text)).unwrap_err().to_string();
        assert_eq!(e, expected, "{from} -> {to}");
    };
    check(
        "quotaList: 100Gi,50Gi",
        "quotaList: 100Gi,50Gi,1Gi",
        "runtime \"imagenet\": spec.tieredstore.levels[3].quotaList: 3 quotas for 2 paths",
    );
    check(
        "quotaList: 100Gi,50Gi",
        "quotaList: 100Gi,lots",
        "runtime \"imagenet\": spec.tieredstore.levels[3].quotaList: \"lots\" is not a positive quantity",
    );
    check(
        "        quota: 2Gi\n",
        "        quota: 2Gi\n        quotaList: 1Gi\n",
        "runtime \"imagenet\": spec.tieredstore.levels[1].quotaList: quota and quotaList are exclusive",
    );
    check(
        "        quota: 2Gi\n",
        "",
        "runtime \"imagenet\": spec.tieredstore.levels[1].quota: quota or quotaList is required",
    );
    check(
        "quota: 2Gi",
        "quota: \"0\"",
        "runtime \"imagenet\": spec.tieredstore.levels[1].quota: 0 must be positive",
    );
    check(
        "low: \"0.6\"",
        "low: \"0.95\"",
        "runtime \"imagenet\": spec.tieredstore.levels[0].low: low 0.95 must be below high 0.9",
    );
    check(
        "high: \"0.9\"",
        "high: \"1.5\"",
        "runtime \"imagenet\": spec.tieredstore.levels[0].high: \"1.5\" is not a ratio in (0, 1]",
    );
    check(
        "path: /dev/shm",
        "path: dev/shm",
        "runtime \"imagenet\": spec.tieredstore.levels[1].path: \"dev/shm\": every comma-separated path must be \
         absolute and non-empty",
    );
    check(
        "replicas: 2",
        "replicas: 2\n  data: {replicas: 0}",
        "runtime \"imagenet\": spec.data.replicas: 0 must be at least 1",
    );
}

#[test]
fn runtime_binds_to_the_dataset_of_the_same_name() {
    let d = dataset(DATASET);
    let r = runtime(RUNTIME);
    check_binding(&d, &r).unwrap();
    let other = runtime(&RUNTIME.replace("namespace: ml", "namespace: prod"));
    assert_eq!(
        check_binding(&d, &other).unwrap_err().to_string(),
        "runtime \"imagenet\": metadata: serves dataset prod/imagenet, not ml/imagenet"
    );
}

#[test]
fn specs_round_trip_through_json() {
    for text in [DATASET, RUNTIME] {
        let value: serde_json::Value = from_yaml_str("x.yaml", text).unwrap();
        if value["kind"] == "Dataset" {
            let d: Dataset = serde_json::from_value(value).unwrap();
            let again: Dataset = serde_json::from_value(serde_json::to_value(&d).unwrap()).unwrap();
            assert_eq!(again, d);
        } else {
            let r: CacheRuntime = serde_json::from_value(value).unwrap();
            let again: CacheRuntime =
                serde_json::from_value(serde_json::to_value(&r).unwrap()).unwrap();
            assert_eq!(again, r);
        }
    }
}

mod props {
    use proptest::prelude::*;

    use super::*;
    use crate::placement::Inventory;

    proptest! {
        #[test]
        fn mount_points_never_panic(point in "\\PC{0,40}") {
            let _ = parse_mount_point(&point);
        }

        #[test]
        fn mount_points_with_a_scheme_never_panic(
            scheme in "(s3|local|pvc|http|https|memory|ftp|S3)",
            rest in "[/a-z0-9._-]{0,20}",
        ) {
            let _ = parse_mount_point(&format!("{scheme}://{rest}"));
        }

        #[test]
        fn yaml_specs_never_panic(text in "\\PC{0,300}") {
            if let Ok(d) = from_yaml_str::<Dataset>("x.yaml", &text) {
                let _ = resolve_mounts(&d);
            }
            if let Ok(r) = from_yaml_str::<CacheRuntime>("x.yaml", &text) {
                let _ = resolve_tiers(&r);
            }
            let _ = from_yaml_str::<Inventory>("x.yaml", &text);
        }

        #[test]
        fn tiers_from_arbitrary_levels_never_panic(
            path in "[/a-z, ]{0,20}",
            quota in "[0-9a-zA-Z.,-]{0,12}",
            list in any::<bool>(),
            high in "[0-9.e-]{0,5}",
            low in "[0-9.e-]{0,5}",
        ) {
            let field = if list { "quotaList" } else { "quota" };
            let text = format!(
                "apiVersion: v\nkind: CacheRuntime\nspec:\n  tieredstore:\n    levels:\n      - {{mediumtype: SSD, path: '{path}', {field}: '{quota}', high: '{high}', low: '{low}'}}\n"
            );
            if let Ok(r) = from_yaml_str::<CacheRuntime>("x.yaml", &text)
                && let Ok(t) = resolve_tiers(&r)
            {
                for tier in &t.tiers {
                    prop_assert!(tier.low < tier.high && tier.high <= 1.0);
                    prop_assert_eq!(tier.paths.iter().map(|p| p.quota_bytes).fold(0, u64::saturating_add), tier.quota_bytes);
                }
            }
        }
    }
}
