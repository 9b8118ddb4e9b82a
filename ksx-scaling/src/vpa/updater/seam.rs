//! The updater over the cluster seams: [`gather`] reads a plan's inputs, [`apply`] writes its patches.

use ksx_core::cluster::selector::LabelSelector;
use ksx_core::cluster::{ClusterReader, ClusterWriter, Kind, ListOptions, Object, Patch};
use serde::Serialize;

use super::{PlanInput, Target, UpdatePlan, vpa_kind};
use crate::error::{Error, Result};
use crate::vpa::crd::{API_VERSION, KIND, VerticalPodAutoscaler};

/// Applies every `Update` of `plan` through the seam, one merge patch per workload. A failing workload does not
/// stop the others: the returned list holds one entry per update with its outcome.
pub async fn apply<W: ClusterWriter + ?Sized>(plan: &UpdatePlan, cluster: &W) -> Vec<Applied> {
    let mut out = Vec::new();
    for w in plan.updates() {
        let Some(patch) = &w.patch else { continue };
        let kind = match w.kind.as_str() {
            "Deployment" => Kind::Deployment,
            "StatefulSet" => Kind::StatefulSet,
            _ => continue,
        };
        let result = cluster
            .patch(
                &kind,
                Some(&w.namespace),
                &w.name,
                &Patch::Merge(patch.clone()),
            )
            .await
            .map(|_| ())
            .map_err(|e| e.to_string());
        out.push(Applied {
            namespace: w.namespace.clone(),
            kind: w.kind.clone(),
            name: w.name.clone(),
            error: result.err(),
        });
    }
    out
}

/// The outcome of one patch of [`apply`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Applied {
    /// Namespace.
    pub namespace: String,
    /// `Deployment` or `StatefulSet`.
    pub kind: String,
    /// Name.
    pub name: String,
    /// Why the patch failed, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Reads the plan's inputs through the seam: every VPA (in `namespace`, or all), its workload and the
/// workload's pods, and every HPA and PodDisruptionBudget. A VPA that does not parse becomes a diagnostic.
///
/// # Errors
/// A failing backend, or a workload selector that does not parse.
pub async fn gather<R: ClusterReader + ?Sized>(
    cluster: &R,
    namespace: Option<&str>,
) -> Result<PlanInput> {
    let mut input = PlanInput::default();
    let vpas = cluster
        .list(
            &Kind::Custom(vpa_kind()),
            namespace,
            &ListOptions::default(),
        )
        .await?;
    for object in vpas {
        let key = object.key();
        let Object::Custom(custom) = object else {
            continue;
        };
        let json = serde_json::json!({
            "apiVersion": API_VERSION, "kind": KIND,
            "metadata": custom.metadata, "spec": custom.spec, "status": custom.status,
        });
        let vpa: VerticalPodAutoscaler = match serde_json::from_value(json) {
            Ok(v) => v,
            Err(e) => {
                input
                    .diagnostics
                    .push(format!("VerticalPodAutoscaler {key}: {e}"));
                continue;
            }
        };
        let ns = vpa.metadata.namespace.clone().unwrap_or_default();
        let r = &vpa.spec.target_ref;
        let kind = match r.kind.as_str() {
            "Deployment" => Some(Kind::Deployment),
            "StatefulSet" => Some(Kind::StatefulSet),
            _ => None,
        };
        let workload = match &kind {
            Some(kind) => cluster.get(kind, Some(&ns), &r.name).await?,
            None => None,
        };
        let selector = match &workload {
            Some(Object::Deployment(d)) => d.spec.as_ref().map(|s| &s.selector),
            Some(Object::StatefulSet(s)) => s.spec.as_ref().map(|s| &s.selector),
            _ => None,
        };
        let mut pods = Vec::new();
        if let Some(selector) = selector {
            let selector = LabelSelector::from_k8s(selector).map_err(Error::from)?;
            if !selector.is_empty() {
                pods = cluster
                    .list(
                        &Kind::Pod,
                        Some(&ns),
                        &ListOptions::labels(selector.to_string()),
                    )
                    .await?
                    .into_iter()
                    .filter_map(|o| match o {
                        Object::Pod(p) => Some(p),
                        _ => None,
                    })
                    .collect();
            }
        }
        input.targets.push(Target {
            vpa,
            workload,
            pods,
        });
    }
    input.hpas = cluster
        .list(
            &Kind::HorizontalPodAutoscaler,
            namespace,
            &ListOptions::default(),
        )
        .await?
        .into_iter()
        .filter_map(|o| match o {
            Object::HorizontalPodAutoscaler(h) => Some(h),
            _ => None,
        })
        .collect();
    input.pdbs = cluster
        .list(
            &Kind::PodDisruptionBudget,
            namespace,
            &ListOptions::default(),
        )
        .await?
        .into_iter()
        .filter_map(|o| match o {
            Object::PodDisruptionBudget(p) => Some(p),
            _ => None,
        })
        .collect();
    Ok(input)
}
