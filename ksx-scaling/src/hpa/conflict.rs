//! The conflict rule `hpa-multiple`: two HorizontalPodAutoscalers of any autoscaling version (v1 and v2 named
//! so) that target one workload fight over its replica count; upstream marks them `AmbiguousSelector`.
//!
//! Pure: it reads manifests already loaded ([`ksx_core::manifest::Document`]) or [`HpaRef`]s built by the caller,
//! and returns conflicts sorted by workload. Inspection and the unified policy call it instead of re-implementing
//! it.

use std::collections::BTreeMap;

use ksx_core::manifest::Document;
use serde::{Deserialize, Serialize};

/// A workload as the conflict rules key it: namespace, API group without version, kind and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadRef {
    /// The namespace of the referencing object (`default` when unset).
    pub namespace: String,
    /// The API group (`apps`; empty for the core group).
    pub group: String,
    /// The kind.
    pub kind: String,
    /// The name.
    pub name: String,
}

impl std::fmt::Display for WorkloadRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.group.is_empty() {
            write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
        } else {
            write!(
                f,
                "{}.{} {}/{}",
                self.kind, self.group, self.namespace, self.name
            )
        }
    }
}

/// An HPA as the rule sees it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HpaRef {
    /// `autoscaling/v1`, `autoscaling/v2`…
    pub api_version: String,
    /// Its namespace (`default` when unset).
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// What it scales.
    pub target: WorkloadRef,
}

impl HpaRef {
    /// `autoscaling/v2` → `v2`.
    fn version(&self) -> &str {
        self.api_version
            .rsplit('/')
            .next()
            .unwrap_or(&self.api_version)
    }

    /// Reads an HPA of any autoscaling version from a manifest document; `None` for other kinds or an HPA
    /// without a complete `scaleTargetRef`.
    pub fn from_document(doc: &Document) -> Option<Self> {
        if doc.kind() != "HorizontalPodAutoscaler" || !doc.api_version().starts_with("autoscaling/")
        {
            return None;
        }
        let namespace = doc.namespace().unwrap_or("default").to_owned();
        let target = doc.value.pointer("/spec/scaleTargetRef")?;
        let field = |k: &str| target.get(k).and_then(|v| v.as_str()).unwrap_or("");
        let (kind, name) = (field("kind"), field("name"));
        if kind.is_empty() || name.is_empty() {
            return None;
        }
        Some(Self {
            api_version: doc.api_version().to_owned(),
            namespace: namespace.clone(),
            name: doc.name().to_owned(),
            target: WorkloadRef {
                namespace,
                group: api_group(field("apiVersion")).to_owned(),
                kind: kind.to_owned(),
                name: name.to_owned(),
            },
        })
    }
}

/// `apps/v1` → `apps`; `v1` (core) → empty.
pub fn api_group(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(group, _)| group)
}

/// How bad a conflict is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Severity {
    /// Allowed, but worth a look.
    Warn,
    /// Must not be applied.
    Deny,
}

/// One conflict: the rule, the objects involved, why, and what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Conflict {
    /// The rule name (`hpa-multiple`).
    pub rule: String,
    /// Its severity.
    pub severity: Severity,
    /// The workload concerned.
    pub workload: WorkloadRef,
    /// The objects involved, as `HorizontalPodAutoscaler autoscaling/v1 ns/name`, sorted.
    pub objects: Vec<String>,
    /// Why this is a conflict.
    pub reason: String,
    /// The allowed alternative.
    pub alternative: String,
}

/// Rule `hpa-multiple` over a set of HPAs: one conflict per workload targeted by two or more of them.
pub fn hpa_conflicts(hpas: &[HpaRef]) -> Vec<Conflict> {
    let mut by_target: BTreeMap<&WorkloadRef, Vec<&HpaRef>> = BTreeMap::new();
    for h in hpas {
        by_target.entry(&h.target).or_default().push(h);
    }
    let mut out = Vec::new();
    for (target, mut group) in by_target {
        if group.len() < 2 {
            continue;
        }
        group.sort();
        let versions: std::collections::BTreeSet<&str> =
            group.iter().map(|h| h.version()).collect();
        let names: Vec<String> = group
            .iter()
            .map(|h| format!("HPA {} {}/{}", h.version(), h.namespace, h.name))
            .collect();
        let mixed = versions.contains("v1") && versions.len() > 1;
        let reason = if mixed {
            format!(
                "{} target {target}: an autoscaling/v1 HPA and a newer HPA on one workload are two HPAs that \
                 fight over its replica count (upstream marks both AmbiguousSelector and stops scaling)",
                names.join(" and ")
            )
        } else {
            format!(
                "{} target {target}: several HPAs on one workload fight over its replica count (upstream marks \
                 them AmbiguousSelector and stops scaling)",
                names.join(" and ")
            )
        };
        let alternative = if mixed {
            "keep one HPA: convert the v1 HPA with `ksx hpa convert` and merge its metrics into the v2 one"
        } else {
            "keep one HPA per workload and list every metric in it (the largest proposal wins)"
        };
        out.push(Conflict {
            rule: "hpa-multiple".to_owned(),
            severity: Severity::Deny,
            workload: target.clone(),
            objects: group
                .iter()
                .map(|h| {
                    format!(
                        "HorizontalPodAutoscaler {} {}/{}",
                        h.api_version, h.namespace, h.name
                    )
                })
                .collect(),
            reason,
            alternative: alternative.to_owned(),
        });
    }
    out
}

/// Rule `hpa-multiple` over manifest documents: HPAs of every autoscaling version are read, other kinds
/// skipped.
pub fn hpa_conflicts_in(documents: &[Document]) -> Vec<Conflict> {
    let hpas: Vec<HpaRef> = documents.iter().filter_map(HpaRef::from_document).collect();
    hpa_conflicts(&hpas)
}

#[cfg(test)]
mod tests {
    use ksx_core::manifest::parse_str;

    use super::*;

    const BUNDLE: &str = "
apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata: {name: web-v1, namespace: shop}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 5
  targetCPUUtilizationPercentage: 70
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: shop}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 10
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: other}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 10
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: api-a}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: StatefulSet, name: api}
  maxReplicas: 10
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: api-b, namespace: default}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: StatefulSet, name: api}
  maxReplicas: 10
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
";

    #[test]
    fn v1_and_v2_on_one_workload_and_two_v2s() {
        let loaded = parse_str("bundle.yaml", BUNDLE);
        assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
        let conflicts = hpa_conflicts_in(&loaded.documents);
        assert_eq!(conflicts.len(), 2, "{conflicts:#?}");
        let api = &conflicts[0];
        assert_eq!(api.workload.to_string(), "StatefulSet.apps default/api");
        assert_eq!(api.objects.len(), 2);
        assert!(api.alternative.starts_with("keep one HPA per workload"));
        let web = &conflicts[1];
        assert_eq!(web.rule, "hpa-multiple");
        assert_eq!(web.severity, Severity::Deny);
        assert_eq!(
            web.objects,
            vec![
                "HorizontalPodAutoscaler autoscaling/v1 shop/web-v1",
                "HorizontalPodAutoscaler autoscaling/v2 shop/web"
            ]
        );
        assert!(
            web.reason.contains("autoscaling/v1 HPA and a newer HPA"),
            "{}",
            web.reason
        );
        assert!(web.alternative.contains("ksx hpa convert"));
    }

    #[test]
    fn one_hpa_per_workload_is_fine() {
        let loaded = parse_str("one.yaml", BUNDLE.split("---").nth(1).unwrap_or(""));
        assert!(hpa_conflicts_in(&loaded.documents).is_empty());
        assert_eq!(api_group("v1"), "");
        assert_eq!(api_group("apps/v1"), "apps");
    }
}
