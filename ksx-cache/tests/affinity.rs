//! Cache-affinity pod mutation (spec §3): terms, weights, required opt-in, idempotence, errors.
#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::needless_pass_by_value,
    clippy::string_slice,
    missing_docs
)]

use k8s_openapi::api::core::v1::{NodeSelectorRequirement, Pod};
use ksx_cache::affinity::{
    DatasetView, MutateConfig, Mutation, apply, cache_node_label, mutate_pod, shorten_name_part,
};
use serde_json::json;

fn pod(value: serde_json::Value) -> Pod {
    serde_json::from_value(value).expect("pod")
}

fn pod_with_claims(
    claims: &[&str],
    labels: serde_json::Value,
    annotations: serde_json::Value,
) -> Pod {
    let volumes: Vec<_> = claims
        .iter()
        .map(|c| json!({"name": c, "persistentVolumeClaim": {"claimName": c}}))
        .collect();
    pod(json!({
        "metadata": {"name": "train-0", "namespace": "ml", "labels": labels, "annotations": annotations},
        "spec": {"containers": [{"name": "c"}], "volumes": volumes}
    }))
}

fn imagenet() -> DatasetView {
    DatasetView {
        namespace: "ml".into(),
        name: "imagenet".into(),
        cache_nodes: vec!["n1".into(), "n2".into()],
        zones: vec!["z1".into()],
        regions: vec!["r1".into()],
    }
}

fn coco() -> DatasetView {
    DatasetView {
        namespace: "other".into(),
        name: "coco".into(),
        cache_nodes: vec!["n3".into()],
        zones: vec![],
        regions: vec![],
    }
}

fn req(key: &str, op: &str, values: Option<&[&str]>) -> NodeSelectorRequirement {
    NodeSelectorRequirement {
        key: key.into(),
        operator: op.into(),
        values: values.map(|v| v.iter().map(|s| (*s).to_owned()).collect()),
    }
}

/// `(weight, key, operator, values)` of the preferred terms.
fn preferred(m: &Mutation) -> Vec<(i32, String, String, Vec<String>)> {
    let node = m
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .expect("node affinity");
    node.preferred_during_scheduling_ignored_during_execution
        .as_deref()
        .unwrap_or_default()
        .iter()
        .flat_map(|p| {
            p.preference
                .match_expressions
                .as_deref()
                .unwrap_or_default()
                .iter()
                .map(move |e| {
                    (
                        p.weight,
                        e.key.clone(),
                        e.operator.clone(),
                        e.values.clone().unwrap_or_default(),
                    )
                })
        })
        .collect()
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| (*x).to_owned()).collect()
}

#[test]
fn a_dataset_pvc_gets_preferred_cache_zone_and_region_terms() {
    let p = pod_with_claims(&["imagenet"], json!({}), json!({}));
    let m = mutate_pod(&p, &[imagenet(), coco()], &MutateConfig::default()).expect("mutate");
    assert_eq!(
        preferred(&m),
        [
            (
                100,
                "cache.ksx.io/s-ml-imagenet".into(),
                "In".into(),
                s(&["true"])
            ),
            (
                50,
                "topology.kubernetes.io/zone".into(),
                "In".into(),
                s(&["z1"])
            ),
            (
                10,
                "topology.kubernetes.io/region".into(),
                "In".into(),
                s(&["r1"])
            ),
        ]
    );
    assert_eq!(
        m.reasons,
        ["uses dataset ml/imagenet: prefer cache nodes (100), zone (50), region (10)"]
    );
    let node = m
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .expect("node");
    assert!(
        node.required_during_scheduling_ignored_during_execution
            .is_none()
    );
}

#[test]
fn mutating_twice_is_mutating_once() {
    let p = pod_with_claims(&["imagenet"], json!({}), json!({}));
    let config = MutateConfig::default();
    let first = mutate_pod(&p, &[imagenet()], &config).expect("first");
    let once = apply(&p, &first);
    let second = mutate_pod(&once, &[imagenet()], &config).expect("second");
    assert_eq!(second.affinity, None, "nothing to add");
    assert_eq!(
        second.reasons,
        ["uses dataset ml/imagenet: already has its cache-node term; skipped"]
    );
    assert_eq!(apply(&once, &second), once);

    let plain = pod_with_claims(&[], json!({}), json!({}));
    let first = mutate_pod(&plain, &[imagenet()], &config).expect("first");
    let once = apply(&plain, &first);
    assert_eq!(
        mutate_pod(&once, &[imagenet()], &config)
            .expect("second")
            .affinity,
        None
    );
}

#[test]
fn a_pod_without_datasets_prefers_nodes_without_cache_or_is_left_alone() {
    // `scratch` is an ordinary claim, not a dataset.
    let p = pod_with_claims(&["scratch"], json!({}), json!({}));
    let m = mutate_pod(&p, &[imagenet()], &MutateConfig::default()).expect("mutate");
    assert_eq!(
        preferred(&m),
        [(
            100,
            "cache.ksx.io/dataset-num".into(),
            "DoesNotExist".into(),
            vec![]
        )]
    );
    assert_eq!(
        m.reasons,
        ["uses no dataset: prefer nodes without cache (100)"]
    );
    let off = MutateConfig {
        prefer_nodes_without_cache: false,
        ..MutateConfig::default()
    };
    let m = mutate_pod(&p, &[imagenet()], &off).expect("mutate");
    assert_eq!(m.affinity, None);
    assert_eq!(apply(&p, &m), p, "unchanged");
}

#[test]
fn the_required_label_appends_the_cache_expression_to_every_term() {
    let mut p = pod_with_claims(
        &["imagenet"],
        json!({"cache.ksx.io/dataset.imagenet.sched": "required"}),
        json!({}),
    );
    p.spec.as_mut().expect("spec").affinity = Some(
        serde_json::from_value(json!({"nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]},
                {"matchExpressions": [{"key": "gpu", "operator": "Exists"}]}
            ]},
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 7, "preference": {"matchExpressions": [{"key": "fast", "operator": "Exists"}]}}
            ]
        }}))
        .expect("affinity"),
    );
    let m = mutate_pod(&p, &[imagenet()], &MutateConfig::default()).expect("mutate");
    let node = m
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .expect("node");
    let terms = &node
        .required_during_scheduling_ignored_during_execution
        .as_ref()
        .expect("required")
        .node_selector_terms;
    let cache = req("cache.ksx.io/s-ml-imagenet", "In", Some(&["true"]));
    assert_eq!(terms.len(), 2, "terms stay ORed");
    assert_eq!(
        terms[0].match_expressions.as_deref().expect("t0"),
        [req("disk", "In", Some(&["ssd"])), cache.clone()]
    );
    assert_eq!(
        terms[1].match_expressions.as_deref().expect("t1"),
        [req("gpu", "Exists", None), cache]
    );
    assert_eq!(
        preferred(&m),
        [
            (7, "fast".into(), "Exists".into(), vec![]),
            (
                50,
                "topology.kubernetes.io/zone".into(),
                "In".into(),
                s(&["z1"])
            ),
            (
                10,
                "topology.kubernetes.io/region".into(),
                "In".into(),
                s(&["r1"])
            ),
        ],
        "existing preferences kept, zone and region stay preferred"
    );
    assert_eq!(
        m.reasons,
        ["uses dataset ml/imagenet: require cache nodes, zone (50), region (10)"]
    );
    let again = mutate_pod(&apply(&p, &m), &[imagenet()], &MutateConfig::default()).expect("again");
    assert_eq!(again.affinity, None);
}

#[test]
fn the_required_label_without_required_terms_adds_one() {
    let p = pod_with_claims(
        &["imagenet"],
        json!({"cache.ksx.io/dataset.imagenet.sched": "required"}),
        json!({}),
    );
    let view = DatasetView {
        zones: vec![],
        regions: vec![],
        ..imagenet()
    };
    let m = mutate_pod(&p, &[view], &MutateConfig::default()).expect("mutate");
    let node = m
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .expect("node");
    let terms = &node
        .required_during_scheduling_ignored_during_execution
        .as_ref()
        .expect("required")
        .node_selector_terms;
    assert_eq!(terms.len(), 1);
    assert_eq!(
        terms[0].match_expressions.as_deref().expect("t0"),
        [req("cache.ksx.io/s-ml-imagenet", "In", Some(&["true"]))]
    );
    assert_eq!(m.reasons, ["uses dataset ml/imagenet: require cache nodes"]);
}

#[test]
fn required_affinity_to_a_dataset_without_cache_nodes_is_an_error() {
    let p = pod_with_claims(
        &["imagenet"],
        json!({"cache.ksx.io/dataset.imagenet.sched": "required"}),
        json!({}),
    );
    let empty = DatasetView {
        cache_nodes: vec![],
        ..imagenet()
    };
    let e = mutate_pod(&p, std::slice::from_ref(&empty), &MutateConfig::default())
        .expect_err("no cache nodes")
        .to_string();
    assert!(
        e.starts_with(
            "pod \"ml/train-0\": metadata.labels[\"cache.ksx.io/dataset.imagenet.sched\"]:"
        ),
        "{e}"
    );
    assert!(e.contains("ml/imagenet") && e.contains("has none"), "{e}");
    // Preferred affinity to the same dataset is fine: it only weighs nodes.
    let plain = pod_with_claims(&["imagenet"], json!({}), json!({}));
    assert!(
        mutate_pod(&plain, &[empty], &MutateConfig::default())
            .expect("preferred")
            .affinity
            .is_some()
    );
    let bad = pod_with_claims(
        &["imagenet"],
        json!({"cache.ksx.io/dataset.imagenet.sched": "always"}),
        json!({}),
    );
    let e = mutate_pod(&bad, &[imagenet()], &MutateConfig::default())
        .expect_err("bad value")
        .to_string();
    assert!(e.contains("\"always\" is neither"), "{e}");
}

#[test]
fn the_annotation_names_datasets_in_other_namespaces() {
    let p = pod_with_claims(
        &[],
        json!({}),
        json!({"cache.ksx.io/datasets": "other/coco, imagenet, ghost"}),
    );
    let m = mutate_pod(&p, &[imagenet(), coco()], &MutateConfig::default()).expect("mutate");
    let keys: Vec<(i32, String)> = preferred(&m)
        .into_iter()
        .map(|(w, k, _, _)| (w, k))
        .collect();
    assert_eq!(
        keys,
        [
            (100, "cache.ksx.io/s-ml-imagenet".into()),
            (50, "topology.kubernetes.io/zone".into()),
            (10, "topology.kubernetes.io/region".into()),
            (100, "cache.ksx.io/s-other-coco".into()),
        ]
    );
    assert_eq!(
        m.reasons,
        [
            "annotation cache.ksx.io/datasets names ml/ghost, which is no known dataset; skipped",
            "uses dataset ml/imagenet: prefer cache nodes (100), zone (50), region (10)",
            "uses dataset other/coco: prefer cache nodes (100)",
        ]
    );
}

#[test]
fn long_label_name_parts_are_shortened() {
    assert_eq!(
        cache_node_label("ml", "imagenet"),
        "cache.ksx.io/s-ml-imagenet"
    );
    let short = "a".repeat(63);
    assert_eq!(shorten_name_part(&short), short);
    let long = format!("s-ml-{}", "x".repeat(60));
    let out = shorten_name_part(&long);
    assert_eq!(out.len(), 63, "54 + 1 + 8");
    assert_eq!(&out[..54], &long[..54]);
    assert_eq!(&out[54..55], "-");
    use sha2::Digest;
    let digest = sha2::Sha256::digest(long.as_bytes());
    let hex = format!(
        "{:02x}{:02x}{:02x}{:02x}",
        digest[0], digest[1], digest[2], digest[3]
    );
    assert_eq!(&out[55..], hex);
    assert_ne!(shorten_name_part(&format!("{long}y")), out);
}
