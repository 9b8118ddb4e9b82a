//! The updater loop: reads the VPAs, their workloads and pods, HPAs and PDBs through the cluster seam, asks
//! `ksx_scaling::vpa::updater::plan` which workloads get their recommendation, and applies the plan's pod-template
//! patches (the workload's own rollout then replaces the pods).
//!
//! Shared by the `vpa-controller` binary and the `ksx demo` VPA section (`#[path]`).

use ksx_core::cluster::{ClusterReader, ClusterWriter};
use ksx_scaling::vpa::updater::{Action, RateLimiter, UpdaterConfig, apply, gather, plan};
use serde::Serialize;

use super::recommender::rfc3339;

/// One changed value, as printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ChangeLine {
    pub(crate) container: String,
    /// `cpu` or `memory`.
    pub(crate) resource: String,
    /// `requests` or `limits`.
    pub(crate) field: String,
    /// The value now, `None` when unset.
    pub(crate) from: Option<String>,
    pub(crate) to: String,
}

/// One update decision, as printed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateLine {
    /// Always `update`.
    pub(crate) kind: &'static str,
    pub(crate) time: String,
    pub(crate) elapsed_seconds: i64,
    /// `namespace/name` of the VPA.
    pub(crate) vpa: String,
    /// `Deployment/web`.
    pub(crate) workload: String,
    /// `Update` or `Skip`.
    pub(crate) action: String,
    pub(crate) reason: String,
    pub(crate) pods_to_update: usize,
    pub(crate) changes: Vec<ChangeLine>,
    /// True when the patch was written.
    pub(crate) applied: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
}

/// One updater loop at `now`; one line per VPA, in VPA order, then one per input that could not be used.
pub(crate) async fn step<C>(
    cluster: &C,
    config: &UpdaterConfig,
    limiter: &mut RateLimiter,
    now: i64,
    start: i64,
) -> anyhow::Result<Vec<UpdateLine>>
where
    C: ClusterReader + ClusterWriter + ?Sized,
{
    let input = gather(cluster, None).await?;
    let decided = plan(&input, config, limiter, now);
    let applied = apply(&decided, cluster).await;
    let mut lines = Vec::with_capacity(decided.workloads.len());
    for w in &decided.workloads {
        let outcome = applied
            .iter()
            .find(|a| a.namespace == w.namespace && a.kind == w.kind && a.name == w.name);
        let changes = w
            .containers
            .iter()
            .flat_map(|c| {
                c.changes.iter().map(|ch| ChangeLine {
                    container: c.name.clone(),
                    resource: ch.resource.clone(),
                    field: ch.field.clone(),
                    from: ch.from.as_ref().map(ToString::to_string),
                    to: ch.to.to_string(),
                })
            })
            .collect();
        lines.push(UpdateLine {
            kind: "update",
            time: rfc3339(now),
            elapsed_seconds: (now - start) / 1_000_000_000,
            vpa: w.vpa.clone(),
            workload: format!("{}/{}", w.kind, w.name),
            action: match w.action {
                Action::Update => "Update",
                Action::Skip => "Skip",
            }
            .to_owned(),
            reason: w.reason.clone(),
            pods_to_update: w.pods_to_update,
            changes,
            applied: outcome.is_some_and(|a| a.error.is_none()),
            error: outcome.and_then(|a| a.error.clone()),
        });
    }
    for d in &decided.diagnostics {
        lines.push(UpdateLine {
            kind: "update",
            time: rfc3339(now),
            elapsed_seconds: (now - start) / 1_000_000_000,
            vpa: String::new(),
            workload: String::new(),
            action: "Skip".to_owned(),
            reason: d.clone(),
            pods_to_update: 0,
            changes: Vec::new(),
            applied: false,
            error: Some(d.clone()),
        });
    }
    Ok(lines)
}
