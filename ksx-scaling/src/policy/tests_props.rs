//! Properties of the policy: `check_all` never panics on arbitrary small object sets, its answer does not
//! depend on the input order, and `validate` only reports conflicts of the new object.

use ksx_core::manifest::parse_str;
use proptest::prelude::*;

use super::*;

/// One generated document: its kind, the workload it names and a few knobs.
fn document(kind: u8, workload: u8, name: u8, knob: u8, knob2: u8) -> String {
    let w = ["web", "api"][usize::from(workload % 2)];
    let n = ["x", "y", "z"][usize::from(name % 3)];
    let target = format!("{{apiVersion: apps/v1, kind: Deployment, name: {w}}}");
    let metric = match knob % 6 {
        0 => "",
        1 => {
            "  metrics:\n  - type: Resource\n    resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}\n"
        }
        2 => {
            "  metrics:\n  - type: Resource\n    resource: {name: memory, target: {type: AverageValue, averageValue: 1Gi}}\n"
        }
        3 => {
            "  metrics:\n  - type: ContainerResource\n    containerResource: {name: cpu, container: app, target: {type: Utilization, averageUtilization: 50}}\n"
        }
        4 => {
            "  metrics:\n  - type: Pods\n    pods: {metric: {name: qps}, target: {type: AverageValue, averageValue: '10'}}\n"
        }
        _ => {
            "  metrics:\n  - type: Resource\n    resource: {name: memory, target: {type: Utilization, averageUtilization: 80}}\n"
        }
    };
    let mode = ["Off", "Initial", "Recreate", "InPlaceOrRecreate"][usize::from(knob2 % 4)];
    let resources = ["[cpu]", "[memory]", "[cpu, memory]"][usize::from(knob % 3)];
    let trigger = match knob % 4 {
        0 => "  - type: cpu\n    metricType: Utilization\n    metadata: {value: '60'}\n",
        1 => {
            "  - type: memory\n    metricType: AverageValue\n    metadata: {value: 512Mi, containerName: app}\n"
        }
        2 => "  - type: redis\n    metadata: {listName: q, listLength: '5'}\n",
        _ => {
            "  - type: redis\n    metadata: {listName: q, listLength: '5'}\n  - type: cpu\n    metricType: Utilization\n    metadata: {value: '60'}\n"
        }
    };
    match kind % 6 {
        0 => format!(
            "apiVersion: autoscaling/v1\nkind: HorizontalPodAutoscaler\nmetadata: {{name: {n}}}\nspec:\n  \
             scaleTargetRef: {target}\n  minReplicas: 1\n  maxReplicas: 5\n  targetCPUUtilizationPercentage: {}\n",
            50 + u32::from(knob % 50)
        ),
        1 => format!(
            "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {{name: {n}}}\nspec:\n  \
             scaleTargetRef: {target}\n  minReplicas: {}\n  maxReplicas: 5\n{metric}",
            1 + knob2 % 2
        ),
        2 => format!(
            "apiVersion: autoscaling.k8s.io/v1\nkind: VerticalPodAutoscaler\nmetadata: {{name: {n}}}\nspec:\n  \
             targetRef: {target}\n  updatePolicy: {{updateMode: {mode}}}\n  resourcePolicy:\n    \
             containerPolicies:\n    - {{containerName: '*', controlledResources: {resources}}}\n"
        ),
        3 => format!(
            "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {{name: {n}}}\nspec:\n  \
             scaleTargetRef: {{name: {w}}}\n  minReplicaCount: {}\n  triggers:\n{trigger}",
            knob2 % 2
        ),
        4 => {
            let owner = if knob2.is_multiple_of(2) {
                format!(
                    "\n  ownerReferences:\n  - {{apiVersion: keda.sh/v1alpha1, kind: ScaledObject, name: {n}}}"
                )
            } else {
                String::new()
            };
            format!(
                "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: keda-hpa-{n}{owner}\n\
                 spec:\n  scaleTargetRef: {target}\n  maxReplicas: 5\n{metric}"
            )
        }
        _ => {
            let cpu = if knob2.is_multiple_of(2) {
                "cpu: 100m, "
            } else {
                ""
            };
            format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {w}}}\nspec:\n  template:\n    spec:\n      \
                 containers:\n      - name: app\n        resources: {{requests: {{{cpu}memory: 1Gi}}}}\n      - name: \
                 side\n        resources: {{requests: {{memory: 64Mi}}}}\n"
            )
        }
    }
}

fn objects_of(docs: &[String]) -> Vec<AutoscalerObject> {
    let loaded = parse_str("gen.yaml", &docs.join("\n---\n"));
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    let (objects, errors) = load_documents(&loaded.documents);
    // The generator only writes valid objects: every document is read.
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(objects.len(), docs.len());
    objects
}

fn arb_docs() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(
        (
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
        )
            .prop_map(|(k, w, n, a, b)| document(k, w, n, a, b)),
        0..8,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn check_all_is_order_independent(docs in arb_docs(), seed in any::<u64>()) {
        let objects = objects_of(&docs);
        let mut shuffled = objects.clone();
        // A deterministic permutation from the seed (Fisher–Yates with SplitMix64).
        let mut state = seed;
        for i in (1..shuffled.len()).rev() {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            let j = usize::try_from(z % (i as u64 + 1)).unwrap_or(0);
            shuffled.swap(i, j);
        }
        let a = check_all(&objects);
        let b = check_all(&shuffled);
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(workload_views(&objects), workload_views(&shuffled));
        for c in &a {
            prop_assert!(rule::ALL.contains(&c.rule.as_str()));
            prop_assert!(!c.objects.is_empty());
            prop_assert!(!c.reason.is_empty() && !c.alternative.is_empty());
        }
        // validate only reports conflicts that involve the new object, and each of them is in check_all.
        if let Some((new, rest)) = objects.split_last() {
            for c in validate(new, rest) {
                if !matches!(new, AutoscalerObject::Workload(_)) {
                    prop_assert!(c.objects.contains(new.object()));
                }
            }
        }
    }

    #[test]
    fn garbage_documents_never_panic(text in "[a-zA-Z:{}\\[\\], \\n'-]{0,200}") {
        for (api, kind) in [
            ("autoscaling/v2", "HorizontalPodAutoscaler"),
            ("autoscaling/v1", "HorizontalPodAutoscaler"),
            ("autoscaling.k8s.io/v1", "VerticalPodAutoscaler"),
            ("keda.sh/v1alpha1", "ScaledObject"),
            ("apps/v1", "Deployment"),
        ] {
            let doc = format!("apiVersion: {api}\nkind: {kind}\nmetadata: {{name: g}}\nspec:\n  {text}\n");
            let loaded = parse_str("garbage.yaml", &doc);
            let (objects, _errors) = load_documents(&loaded.documents);
            let _ = check_all(&objects);
            let _ = workload_views(&objects);
        }
    }
}
