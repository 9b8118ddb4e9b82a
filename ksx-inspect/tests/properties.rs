//! Properties of the engine: it never panics on arbitrary objects, and results do not depend on document order.

use ksx_core::ManualClock;
use ksx_core::manifest::parse_str;
use ksx_inspect::{Bundle, Config, Engine, InspectObject, RunOptions};
use proptest::prelude::*;
use serde_json::{Value, json};

const KINDS: &[&str] = &[
    "Pod",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
    "Service",
    "Ingress",
    "NetworkPolicy",
    "PodDisruptionBudget",
    "HorizontalPodAutoscaler",
    "Role",
    "ClusterRoleBinding",
    "RoleBinding",
    "ConfigMap",
    "ServiceAccount",
];

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[a-zA-Z0-9*/:._-]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("spec".to_owned()),
                    Just("template".to_owned()),
                    Just("containers".to_owned()),
                    Just("securityContext".to_owned()),
                    Just("selector".to_owned()),
                    Just("rules".to_owned()),
                    Just("ports".to_owned()),
                    Just("resources".to_owned()),
                    Just("metadata".to_owned()),
                    Just("labels".to_owned()),
                    Just("name".to_owned()),
                    Just("image".to_owned()),
                    "[a-zA-Z]{1,8}",
                ],
                inner,
                0..5,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn engine() -> Engine {
    Engine::new(&Config::default(), &RunOptions::default()).expect("engine")
}

proptest! {
    #[test]
    fn arbitrary_objects_never_panic(kind in prop::sample::select(KINDS), spec in arb_json(), extra in arb_json()) {
        let value = json!({
            "apiVersion": "apps/v1", "kind": kind,
            "metadata": {"name": "x", "namespace": "ns"},
            "spec": spec,
            "rules": extra.clone(),
            "data": extra,
        });
        let bundle = Bundle::from_objects(vec![InspectObject::new(value, None, "default")]);
        let report = engine().inspect(&bundle, &ManualClock::at_unix_secs(0));
        prop_assert!(report.summary.score <= 100);
    }

    #[test]
    fn arbitrary_yaml_text_never_panics(text in "[ -~\n]{0,200}") {
        let bundle = Bundle::from_loaded(&parse_str("x.yaml", &text), "default");
        let _ = engine().inspect(&bundle, &ManualClock::at_unix_secs(0));
    }

}

proptest! {
    // Each case parses and inspects the whole bundle twice, so fewer cases keep the debug run short.
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn document_order_does_not_matter(seed in any::<u64>()) {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/mixed.yaml")).expect("data");
        let docs: Vec<&str> = text.split("\n---\n").collect();
        let mut shuffled = docs.clone();
        // A seeded Fisher–Yates shuffle keeps the case reproducible.
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            let j = usize::try_from(state % (i as u64 + 1)).expect("index");
            shuffled.swap(i, j);
        }
        let run = |t: String| {
            let r = engine().inspect(&Bundle::from_loaded(&parse_str("m.yaml", &t), "default"), &ManualClock::at_unix_secs(0));
            let mut f: Vec<_> = r.findings.into_iter().map(|mut f| { f.location = None; f }).collect();
            f.sort_by(|a, b| (&a.fingerprint, &a.message).cmp(&(&b.fingerprint, &b.message)));
            (f, r.summary)
        };
        prop_assert_eq!(run(docs.join("\n---\n")), run(shuffled.join("\n---\n")));
    }
}
