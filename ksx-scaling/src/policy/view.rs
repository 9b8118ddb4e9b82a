//! The unified view of one workload: its autoscalers, who owns the replica count, and who owns each
//! container's requests.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use super::rules::{Group, Scaler, group};
use super::{AutoscalerObject, ObjectRef, ScalingMetric, WorkloadRef};

/// Who sets a value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "camelCase")]
pub enum Owner {
    /// The workload's own manifest (`spec.replicas`, `resources.requests`): no autoscaler changes it.
    Manifest,
    /// Exactly one autoscaler.
    Autoscaler {
        /// The autoscaler.
        object: ObjectRef,
    },
    /// Several autoscalers fight over it.
    Contested {
        /// The autoscalers, sorted.
        objects: Vec<ObjectRef>,
    },
}

impl Owner {
    fn of(mut objects: Vec<ObjectRef>) -> Self {
        objects.sort();
        objects.dedup();
        match objects.len() {
            0 => Self::Manifest,
            1 => objects
                .pop()
                .map_or(Self::Manifest, |object| Self::Autoscaler { object }),
            _ => Self::Contested { objects },
        }
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Manifest => f.write_str("manifest"),
            Self::Autoscaler { object } => write!(f, "{object}"),
            Self::Contested { objects } => {
                let names: Vec<String> = objects.iter().map(ToString::to_string).collect();
                write!(f, "contested: {}", names.join(", "))
            }
        }
    }
}

/// One autoscaler of a workload, as the view shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AutoscalerView {
    /// Its identity.
    pub object: ObjectRef,
    /// The ScaledObject that owns this HPA (it then acts through that ScaledObject).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owned_by: Option<ObjectRef>,
    /// A one-line summary (`min 2, max 10`, `updateMode Recreate`).
    pub summary: String,
    /// The metrics it scales on (HPAs and ScaledObjects), after defaulting and conversion.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<ScalingMetric>,
}

/// One container and who owns its requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerView {
    /// The container name; `*` stands for every container when the pod template is not among the inputs.
    pub name: String,
    /// Requests as written in the pod template.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub requests: BTreeMap<String, String>,
    /// Per resource (`cpu`, `memory` and any other requested one): who owns the request.
    pub requests_owner: BTreeMap<String, Owner>,
}

/// The unified view of one workload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadView {
    /// The workload.
    pub workload: WorkloadRef,
    /// Whether the workload object itself (its pod template) is among the inputs.
    pub pod_template_known: bool,
    /// Who owns the replica count: a ScaledObject (through its HPA), an HPA, several (contested), or the
    /// manifest.
    pub replicas_owner: Owner,
    /// Per container, who owns its requests.
    pub containers: Vec<ContainerView>,
    /// Every autoscaler of the workload: ScaledObjects, HPAs, VPAs.
    pub autoscalers: Vec<AutoscalerView>,
}

/// The unified view of every workload the objects name (autoscaled or read for its pod template), sorted by
/// workload.
pub fn workload_views(objects: &[AutoscalerObject]) -> Vec<WorkloadView> {
    group(objects)
        .into_iter()
        .map(|(workload, g)| view_of(workload, &g))
        .collect()
}

fn metrics_summary(metrics: &[ScalingMetric]) -> String {
    let parts: Vec<&str> = metrics.iter().map(|m| m.description.as_str()).collect();
    parts.join("; ")
}

fn view_of(workload: WorkloadRef, g: &Group<'_>) -> WorkloadView {
    let replicas_owner = Owner::of(
        g.scalers()
            .into_iter()
            .map(|s| s.object().clone())
            .collect(),
    );
    let mut autoscalers = Vec::new();
    for s in g.scalers() {
        match s {
            Scaler::ScaledObject(so) => {
                let idle = so
                    .idle_replica_count
                    .map(|i| format!(", idle {i}"))
                    .unwrap_or_default();
                autoscalers.push(AutoscalerView {
                    object: so.object.clone(),
                    owned_by: None,
                    summary: format!(
                        "min {}{idle}, max {}, HPA {}: {}",
                        so.min_replica_count,
                        so.max_replica_count,
                        so.hpa_name,
                        metrics_summary(&so.metrics)
                    ),
                    metrics: so.metrics.clone(),
                });
            }
            Scaler::Hpa(h) => autoscalers.push(AutoscalerView {
                object: h.object.clone(),
                owned_by: None,
                summary: format!(
                    "min {}, max {}: {}",
                    h.min_replicas,
                    h.max_replicas,
                    metrics_summary(&h.metrics)
                ),
                metrics: h.metrics.clone(),
            }),
        }
    }
    for (h, owner) in &g.owned {
        autoscalers.push(AutoscalerView {
            object: h.object.clone(),
            owned_by: Some(owner.object.clone()),
            summary: format!("generated and owned by {}", owner.object),
            metrics: Vec::new(),
        });
    }
    for v in &g.vpas {
        let mode = v.spec.update_mode();
        let policies: Vec<String> = v
            .spec
            .resource_policy
            .iter()
            .flat_map(|p| &p.container_policies)
            .map(|p| {
                let mode = p.mode.map(|m| format!(" {m:?}")).unwrap_or_default();
                format!(
                    "{}{mode} [{}]",
                    p.container_name,
                    p.controlled_resources().join(", ")
                )
            })
            .collect();
        let summary = if policies.is_empty() {
            format!("updateMode {mode:?}")
        } else {
            format!("updateMode {mode:?}; containers {}", policies.join("; "))
        };
        autoscalers.push(AutoscalerView {
            object: v.object.clone(),
            owned_by: None,
            summary,
            metrics: Vec::new(),
        });
    }
    autoscalers.sort_by(|a, b| a.object.cmp(&b.object));

    let containers: Vec<(String, BTreeMap<String, String>)> = match g.template {
        Some(t) => t
            .containers
            .iter()
            .map(|c| (c.name.clone(), c.requests.clone()))
            .collect(),
        None if !g.vpas.is_empty() => {
            let mut names: BTreeSet<String> = g
                .vpas
                .iter()
                .flat_map(|v| v.spec.resource_policy.iter())
                .flat_map(|p| &p.container_policies)
                .map(|p| p.container_name.clone())
                .collect();
            names.insert("*".to_owned());
            names.into_iter().map(|n| (n, BTreeMap::new())).collect()
        }
        None => Vec::new(),
    };
    let containers = containers
        .into_iter()
        .map(|(name, requests)| {
            let mut resources: BTreeSet<String> = ["cpu".to_owned(), "memory".to_owned()]
                .into_iter()
                .collect();
            resources.extend(requests.keys().cloned());
            let lookup = if name == "*" {
                "\u{0}any"
            } else {
                name.as_str()
            };
            let requests_owner = resources
                .into_iter()
                .map(|r| {
                    let owners = g
                        .vpas
                        .iter()
                        .filter(|v| v.spec.controls(lookup, &r))
                        .map(|v| v.object.clone())
                        .collect();
                    (r, Owner::of(owners))
                })
                .collect();
            ContainerView {
                name,
                requests,
                requests_owner,
            }
        })
        .collect();
    WorkloadView {
        workload,
        pod_template_known: g.template.is_some(),
        replicas_owner,
        containers,
        autoscalers,
    }
}
