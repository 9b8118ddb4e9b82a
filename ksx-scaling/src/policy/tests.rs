//! Unit tests of the policy: each rule fires on its case and stays quiet on the allowed alternative.

use ksx_core::manifest::parse_str;

use super::*;

const DEPLOY: &str = "
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: app
        image: web:1
        resources: {requests: {cpu: 250m, memory: 256Mi}}
      - name: proxy
        image: envoy:1
        resources: {requests: {cpu: 50m, memory: 64Mi}}
";

fn hpa_v2(name: &str, metrics: &str) -> String {
    format!(
        "
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {{name: {name}, namespace: shop}}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: web}}
  minReplicas: 2
  maxReplicas: 10
{metrics}"
    )
}

fn vpa(name: &str, spec_extra: &str) -> String {
    format!(
        "
apiVersion: autoscaling.k8s.io/v1
kind: VerticalPodAutoscaler
metadata: {{name: {name}, namespace: shop}}
spec:
  targetRef: {{apiVersion: apps/v1, kind: Deployment, name: web}}
{spec_extra}"
    )
}

fn so(name: &str, extra: &str, triggers: &str) -> String {
    format!(
        "
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {{name: {name}, namespace: shop}}
spec:
  scaleTargetRef: {{name: web}}
{extra}
  triggers:
{triggers}"
    )
}

const CPU_UTIL: &str = "  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}
";
const CPU_AVG: &str = "  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: AverageValue, averageValue: 200m}}
";
const REDIS: &str = "  - type: redis
    metadata: {listName: jobs, listLength: '5'}
";
const CPU_TRIGGER: &str = "  - type: cpu
    metricType: Utilization
    metadata: {value: '60'}
";

fn load(docs: &[&str]) -> Vec<AutoscalerObject> {
    let text = docs.join("\n---\n");
    let loaded = parse_str("test.yaml", &text);
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    let (objects, errors) = load_documents(&loaded.documents);
    assert!(errors.is_empty(), "{errors:?}");
    objects
}

fn load_err(doc: &str) -> InputError {
    let loaded = parse_str("bad.yaml", doc);
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    let (_, errors) = load_documents(&loaded.documents);
    errors.into_iter().next().expect("an input error")
}

fn rules(docs: &[&str]) -> Vec<(String, Severity)> {
    check_all(&load(docs))
        .into_iter()
        .map(|c| (c.rule, c.severity))
        .collect()
}

fn fired(docs: &[&str], rule: &str) -> Vec<Conflict> {
    check_all(&load(docs))
        .into_iter()
        .filter(|c| c.rule == rule)
        .collect()
}

#[test]
fn v1_and_v2_hpa_on_one_workload_is_hpa_multiple() {
    let v1 = "
apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata: {name: web-old, namespace: shop}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 5
";
    let two = hpa_v2("web", "");
    let c = fired(&[DEPLOY, v1, &two], rule::HPA_MULTIPLE);
    assert_eq!(c.len(), 1, "{c:#?}");
    assert_eq!(c[0].severity, Severity::Deny);
    assert_eq!(c[0].objects.len(), 2);
    assert!(c[0].reason.contains("autoscaling/v1 HPA and a newer HPA"));
    assert!(c[0].alternative.contains("ksx hpa convert"));
    // One HPA alone is fine.
    assert!(fired(&[DEPLOY, v1], rule::HPA_MULTIPLE).is_empty());
}

#[test]
fn v1_hpa_defaults_to_cpu_80_and_keeps_annotated_metrics() {
    let v1 = r#"
apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata:
  name: web
  namespace: shop
  annotations:
    autoscaling.alpha.kubernetes.io/metrics: '[{"type":"Pods","pods":{"metricName":"qps","targetAverageValue":"10"}}]'
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 5
  targetCPUUtilizationPercentage: 65
"#;
    let objects = load(&[v1]);
    let AutoscalerObject::Hpa(h) = &objects[0] else {
        panic!("not an HPA: {objects:?}");
    };
    let d: Vec<&str> = h.metrics.iter().map(|m| m.description.as_str()).collect();
    assert_eq!(d, ["pods metric qps AverageValue 10", "cpu Utilization 65"]);
    let bare = "
apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: shop}
spec:
  scaleTargetRef: {kind: Deployment, name: web}
  maxReplicas: 5
";
    let objects = load(&[bare]);
    let AutoscalerObject::Hpa(h) = &objects[0] else {
        panic!("not an HPA");
    };
    assert_eq!(h.metrics[0].description, "cpu Utilization 80");
    assert_eq!(h.min_replicas, 1);
    // No apiVersion in the reference: still the apps group, so it meets VPAs that name apps/v1.
    assert_eq!(h.target.group, "apps");
}

#[test]
fn vpa_on_cpu_with_cpu_utilization_hpa_is_denied() {
    let h = hpa_v2("web", CPU_UTIL);
    let v = vpa("web", "");
    let c = fired(&[DEPLOY, &h, &v], rule::VPA_HPA_SAME_RESOURCE);
    assert_eq!(c.len(), 1, "{c:#?}");
    assert_eq!(c[0].severity, Severity::Deny);
    assert!(
        c[0].reason
            .contains("controls cpu in container app, container proxy"),
        "{}",
        c[0].reason
    );
    assert!(
        c[0].alternative
            .contains("VPA controlledResources: [memory]")
    );
    assert!(c[0].alternative.contains("HPA on AverageValue"));
    assert!(c[0].alternative.contains("VPA Off"));
    assert_eq!(c[0].workload.to_string(), "Deployment.apps shop/web");
}

#[test]
fn allowed_combinations_do_not_deny() {
    let cpu_hpa = hpa_v2("web", CPU_UTIL);
    // VPA on memory only + HPA on CPU.
    let memory_only = vpa(
        "web",
        "  resourcePolicy:\n    containerPolicies:\n    - {containerName: '*', controlledResources: [memory]}\n",
    );
    assert_eq!(rules(&[DEPLOY, &cpu_hpa, &memory_only]), vec![]);
    // VPA Off.
    let off = vpa("web", "  updatePolicy: {updateMode: 'Off'}\n");
    assert_eq!(rules(&[DEPLOY, &cpu_hpa, &off]), vec![]);
    // Container mode Off for every container the metric covers.
    let container_off = vpa(
        "web",
        "  resourcePolicy:\n    containerPolicies:\n    - {containerName: '*', mode: 'Off'}\n",
    );
    assert_eq!(rules(&[DEPLOY, &cpu_hpa, &container_off]), vec![]);
    // Pods, Object and External metrics.
    let custom = hpa_v2(
        "web",
        "  metrics:
  - type: Pods
    pods: {metric: {name: qps}, target: {type: AverageValue, averageValue: '10'}}
  - type: External
    external: {metric: {name: queue}, target: {type: Value, value: '100'}}
  - type: Object
    object:
      describedObject: {apiVersion: networking.k8s.io/v1, kind: Ingress, name: web}
      metric: {name: rps}
      target: {type: Value, value: '1k'}
",
    );
    let full = vpa("web", "");
    assert_eq!(rules(&[DEPLOY, &custom, &full]), vec![]);
    // AverageValue: a warning only.
    let avg = hpa_v2("web", CPU_AVG);
    assert_eq!(
        rules(&[DEPLOY, &avg, &full]),
        vec![(rule::VPA_HPA_AVERAGE_VALUE.to_owned(), Severity::Warn)]
    );
}

#[test]
fn container_resource_metric_covers_one_container() {
    let proxy_cpu = hpa_v2(
        "web",
        "  metrics:
  - type: ContainerResource
    containerResource: {name: cpu, container: app, target: {type: Utilization, averageUtilization: 60}}
",
    );
    // The VPA leaves app alone and controls proxy: no overlap.
    let v = vpa(
        "web",
        "  resourcePolicy:\n    containerPolicies:\n    - {containerName: app, mode: 'Off'}\n",
    );
    assert!(fired(&[DEPLOY, &proxy_cpu, &v], rule::VPA_HPA_SAME_RESOURCE).is_empty());
    // Without the container entry the VPA controls app's cpu: denied, naming only app.
    let v = vpa("web", "");
    let c = fired(&[DEPLOY, &proxy_cpu, &v], rule::VPA_HPA_SAME_RESOURCE);
    assert_eq!(c.len(), 1);
    assert!(
        c[0].reason.contains("controls cpu in container app and"),
        "{}",
        c[0].reason
    );
}

#[test]
fn initial_mode_still_controls() {
    let h = hpa_v2("web", CPU_UTIL);
    let v = vpa("web", "  updatePolicy: {updateMode: Initial}\n");
    assert_eq!(
        fired(&[DEPLOY, &h, &v], rule::VPA_HPA_SAME_RESOURCE).len(),
        1
    );
}

#[test]
fn vpa_hpa_rules_work_without_the_pod_template() {
    let h = hpa_v2("web", CPU_UTIL);
    let v = vpa("web", "");
    let c = fired(&[&h, &v], rule::VPA_HPA_SAME_RESOURCE);
    assert_eq!(c.len(), 1);
    assert!(c[0].reason.contains("every container"), "{}", c[0].reason);
    // And resource-metric-no-request needs the template: silent here.
    assert!(fired(&[&h, &v], rule::RESOURCE_METRIC_NO_REQUEST).is_empty());
}

#[test]
fn two_vpas_are_denied() {
    let a = vpa("a", "");
    let b = vpa("b", "  updatePolicy: {updateMode: 'Off'}\n");
    let c = fired(&[&a, &b], rule::VPA_MULTIPLE);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].objects.len(), 2);
    assert!(fired(&[&a], rule::VPA_MULTIPLE).is_empty());
}

#[test]
fn scaled_object_and_foreign_hpa() {
    let s = so("web", "", REDIS);
    let foreign = hpa_v2("web-hpa", CPU_AVG);
    let c = fired(&[&s, &foreign], rule::SO_FOREIGN_HPA);
    assert_eq!(c.len(), 1, "{c:#?}");
    assert!(c[0].alternative.contains("transfer-hpa-ownership"));
    // The HPA KEDA generated (owner reference) is the ScaledObject's own.
    let owned = "
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: keda-hpa-web
  namespace: shop
  ownerReferences:
  - {apiVersion: keda.sh/v1alpha1, kind: ScaledObject, name: web, uid: '1'}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 100
  metrics:
  - type: External
    external: {metric: {name: s0-redis}, target: {type: AverageValue, averageValue: '5'}}
";
    assert_eq!(rules(&[&s, owned]), vec![]);
    // Adopted through transfer-hpa-ownership and the configured name.
    let adopting = "
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: web
  namespace: shop
  annotations: {scaledobject.keda.sh/transfer-hpa-ownership: 'true'}
spec:
  scaleTargetRef: {name: web}
  advanced: {horizontalPodAutoscalerConfig: {name: web-hpa}}
  triggers:
  - type: redis
    metadata: {listName: jobs, listLength: '5'}
";
    assert_eq!(rules(&[adopting, &foreign]), vec![]);
    let views = workload_views(&load(&[adopting, &foreign]));
    assert_eq!(views.len(), 1);
    assert_eq!(
        views[0].replicas_owner,
        Owner::Autoscaler {
            object: ObjectRef::new("ScaledObject", "keda.sh/v1alpha1", "shop", "web")
        }
    );
}

#[test]
fn two_scaled_objects_share_a_target_or_an_hpa_name() {
    let a = so("a", "", REDIS);
    let b = so("b", "", REDIS);
    let c = fired(&[&a, &b], rule::SO_MULTIPLE);
    assert_eq!(c.len(), 1);
    let other = "
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: c, namespace: shop}
spec:
  scaleTargetRef: {name: api}
  advanced: {horizontalPodAutoscalerConfig: {name: keda-hpa-a}}
  triggers:
  - type: redis
    metadata: {listName: jobs, listLength: '5'}
";
    let c = fired(&[&a, other], rule::SO_MULTIPLE);
    assert_eq!(c.len(), 1, "{c:#?}");
    assert!(c[0].reason.contains("same HPA shop/keda-hpa-a"));
    assert!(fired(&[&a], rule::SO_MULTIPLE).is_empty());
}

#[test]
fn resource_only_scaled_object_at_zero() {
    let zero = so("web", "", CPU_TRIGGER);
    assert_eq!(
        fired(&[DEPLOY, &zero], rule::SO_RESOURCE_ONLY_ZERO).len(),
        1
    );
    let one = so("web", "  minReplicaCount: 1", CPU_TRIGGER);
    assert!(fired(&[DEPLOY, &one], rule::SO_RESOURCE_ONLY_ZERO).is_empty());
    let mixed = so("web", "", &format!("{CPU_TRIGGER}{REDIS}"));
    assert!(fired(&[DEPLOY, &mixed], rule::SO_RESOURCE_ONLY_ZERO).is_empty());
}

#[test]
fn scaled_object_cpu_trigger_meets_the_vpa() {
    let s = so("web", "  minReplicaCount: 1", CPU_TRIGGER);
    let v = vpa("web", "");
    let c = fired(&[DEPLOY, &s, &v], rule::VPA_HPA_SAME_RESOURCE);
    assert_eq!(c.len(), 1);
    assert!(
        c[0].alternative
            .contains("trigger metricType: AverageValue")
    );
}

#[test]
fn updating_vpa_on_a_workload_that_reaches_zero() {
    let s = so("web", "", REDIS);
    let v = vpa("web", "");
    let c = fired(&[&s, &v], rule::VPA_SCALE_TO_ZERO);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].severity, Severity::Warn);
    // Idle 0 also reaches zero.
    let idle = so("web", "  minReplicaCount: 2\n  idleReplicaCount: 0", REDIS);
    assert_eq!(fired(&[&idle, &v], rule::VPA_SCALE_TO_ZERO).len(), 1);
    // Min 2 never does; Initial and Off never update running pods.
    let two = so("web", "  minReplicaCount: 2", REDIS);
    assert!(fired(&[&two, &v], rule::VPA_SCALE_TO_ZERO).is_empty());
    let initial = vpa("web", "  updatePolicy: {updateMode: Initial}\n");
    assert!(fired(&[&s, &initial], rule::VPA_SCALE_TO_ZERO).is_empty());
}

#[test]
fn utilization_without_request() {
    // proxy has no cpu request: the HPA's Resource metric covers it.
    let no_cpu = DEPLOY.replace("{cpu: 50m, memory: 64Mi}", "{memory: 64Mi}");
    let h = hpa_v2("web", CPU_UTIL);
    assert!(fired(&[DEPLOY, &h], rule::RESOURCE_METRIC_NO_REQUEST).is_empty());
    let c = fired(&[&no_cpu, &h], rule::RESOURCE_METRIC_NO_REQUEST);
    assert_eq!(c.len(), 1, "{c:#?}");
    assert_eq!(c[0].severity, Severity::Warn);
    assert!(c[0].reason.contains("missing request for cpu"));
    assert!(c[0].reason.contains("container proxy"));
    assert!(!c[0].reason.contains("container app"));
    // Deny for a ScaledObject.
    let s = so("web", "  minReplicaCount: 1", CPU_TRIGGER);
    let c = fired(&[&no_cpu, &s], rule::RESOURCE_METRIC_NO_REQUEST);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].severity, Severity::Deny);
    // AverageValue needs no request; memory is requested by both containers.
    let avg = hpa_v2("web", CPU_AVG);
    assert!(fired(&[&no_cpu, &avg], rule::RESOURCE_METRIC_NO_REQUEST).is_empty());
    let memory = hpa_v2(
        "web",
        "  metrics:
  - type: Resource
    resource: {name: memory, target: {type: Utilization, averageUtilization: 70}}
",
    );
    assert!(fired(&[&no_cpu, &memory], rule::RESOURCE_METRIC_NO_REQUEST).is_empty());
}

#[test]
fn validate_only_reports_conflicts_of_the_new_object() {
    let existing = load(&[DEPLOY, &vpa("a", ""), &vpa("b", "")]);
    let new = load(&[&hpa_v2("web", CPU_AVG)]).remove(0);
    let c = validate(&new, &existing);
    // vpa-multiple among the existing ones is not the new HPA's business.
    assert!(c.iter().all(|c| c.objects.contains(new.object())), "{c:#?}");
    assert_eq!(c.len(), 2);
    assert!(c.iter().all(|c| c.rule == rule::VPA_HPA_AVERAGE_VALUE));
    // Updating an object replaces it: the VPA "a" turned Off no longer conflicts.
    let existing = load(&[DEPLOY, &vpa("a", ""), &hpa_v2("web", CPU_UTIL)]);
    let update = load(&[&vpa("a", "  updatePolicy: {updateMode: 'Off'}\n")]).remove(0);
    assert!(validate(&update, &existing).is_empty());
}

#[test]
fn view_shows_owners() {
    let h = hpa_v2("web", CPU_UTIL);
    let v = vpa(
        "web",
        "  resourcePolicy:\n    containerPolicies:\n    - {containerName: '*', controlledResources: [memory]}\n",
    );
    let views = workload_views(&load(&[DEPLOY, &h, &v]));
    assert_eq!(views.len(), 1);
    let w = &views[0];
    assert!(w.pod_template_known);
    assert_eq!(
        w.replicas_owner.to_string(),
        "HorizontalPodAutoscaler autoscaling/v2 shop/web"
    );
    let app = &w.containers[0];
    assert_eq!(app.name, "app");
    assert_eq!(app.requests_owner["cpu"], Owner::Manifest);
    assert_eq!(
        app.requests_owner["memory"].to_string(),
        "VerticalPodAutoscaler shop/web"
    );
    let json = serde_json::to_value(w).unwrap();
    assert_eq!(json["replicasOwner"]["by"], "autoscaler");
    assert_eq!(json["podTemplateKnown"], true);
    assert_eq!(
        json["containers"][0]["requestsOwner"]["cpu"]["by"],
        "manifest"
    );
}

#[test]
fn bad_input_names_document_and_field() {
    let e = load_err(&so(
        "web",
        "",
        "  - type: cpu\n    metricType: Value\n    metadata: {value: '50'}\n",
    ));
    assert_eq!(e.field, "spec.triggers[0].metricType");
    assert_eq!(e.document, 1);
    assert!(
        e.to_string().starts_with(
            "bad.yaml:1: document 1: ScaledObject shop/web: spec.triggers[0].metricType:"
        ),
        "{e}"
    );
    let e = load_err(&vpa("web", "  updatePolicy: {updateMode: Sometimes}\n"));
    assert_eq!(e.field, "spec.updatePolicy.updateMode", "{e}");
    let e = load_err(&hpa_v2(
        "web",
        "  metrics:\n  - type: Resource\n    resource: {name: cpu, target: {type: Utilization}}\n",
    ));
    assert_eq!(
        e.field, "spec.metrics[0].resource.target.averageUtilization",
        "{e}"
    );
    let e = load_err(
        "apiVersion: autoscaling.k8s.io/v1\nkind: VerticalPodAutoscaler\nmetadata: {name: x}\nspec: {}\n",
    );
    assert_eq!(e.field, "spec.targetRef");
    // Other kinds are never bad input.
    let loaded = parse_str(
        "svc.yaml",
        "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n",
    );
    let (objects, errors) = load_documents(&loaded.documents);
    assert!(objects.is_empty() && errors.is_empty());
}

#[test]
fn trigger_errors_name_the_trigger() {
    let cases = [
        (
            "  - type: redis\n    metricType: Utilization\n    metadata: {listName: q}\n",
            "spec.triggers[0].metricType",
            "only for cpu and memory",
        ),
        (
            "  - type: memory\n    metadata: {type: Utilization, value: '50'}\n",
            "spec.triggers[0].metadata.type",
            "removed in KEDA 2.18",
        ),
        (
            "  - type: cpu\n    metricType: Utilization\n    metadata: {value: 50%}\n",
            "spec.triggers[0].metadata.value",
            "whole percentage",
        ),
        (
            "  - type: cpu\n    metricType: AverageValue\n    metadata: {}\n",
            "spec.triggers[0].metadata.value",
            "must be set",
        ),
    ];
    for (trigger, field, message) in cases {
        let e = load_err(&so("web", "", trigger));
        assert_eq!(e.field, field, "{e}");
        assert!(e.message.contains(message), "{e}");
    }
    let e = load_err(&so(
        "web",
        "  minReplicaCount: 0\n  idleReplicaCount: 0",
        REDIS,
    ));
    assert_eq!(e.field, "spec.idleReplicaCount", "{e}");
    let e = load_err(&so("web", "", "    []\n"));
    assert_eq!(e.field, "spec.triggers", "{e}");
}

#[test]
fn validate_a_workload_reports_its_conflicts() {
    let no_cpu = DEPLOY.replace("{cpu: 50m, memory: 64Mi}", "{memory: 64Mi}");
    let existing = load(&[&hpa_v2("web", CPU_UTIL)]);
    let new = load(&[&no_cpu]).remove(0);
    let c = validate(&new, &existing);
    assert_eq!(c.len(), 1, "{c:#?}");
    assert_eq!(c[0].rule, rule::RESOURCE_METRIC_NO_REQUEST);
    // The same workload with the request is clean.
    let fixed = load(&[DEPLOY]).remove(0);
    assert!(validate(&fixed, &existing).is_empty());
}

#[test]
fn conflicts_serialize_in_camel_case_with_lowercase_severity() {
    let c = check_all(&load(&[&hpa_v2("web", CPU_UTIL), &vpa("web", "")]));
    let json = serde_json::to_value(&c[0]).unwrap();
    assert_eq!(json["severity"], "deny");
    assert_eq!(json["objects"][0]["apiVersion"], "autoscaling/v2");
    assert_eq!(json["workload"]["group"], "apps");
}

#[test]
fn resource_trigger_without_metric_type_is_average_value() {
    let objects = load(&[&so(
        "web",
        "  minReplicaCount: 1",
        "  - type: memory\n    metadata: {value: 512Mi, containerName: app}\n",
    )]);
    let AutoscalerObject::ScaledObject(s) = &objects[0] else {
        panic!("not a ScaledObject");
    };
    assert_eq!(s.metrics[0].target_type, MetricTargetType::AverageValue);
    assert_eq!(s.metrics[0].source, MetricSourceType::ContainerResource);
    assert_eq!(s.metrics[0].container.as_deref(), Some("app"));
}
