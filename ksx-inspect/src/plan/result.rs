//! `InspectResult`: one stored run of a plan (spec §3): its id, status, the §6.2 report and the inventory of
//! inspected objects (which lets a diff tell a fixed finding from a resource that went away).

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::error::PlanError;
use super::model::is_dns_label;
use crate::bundle::Bundle;
use crate::model::{Report, Resource};

/// `apiVersion` of results.
pub const RESULT_API_VERSION: &str = "inspect.ksx.io/v1";
/// `kind` of results.
pub const RESULT_KIND: &str = "InspectResult";

/// Length of the `-yyyymmddThhmmssZ` suffix of a result id.
const ID_SUFFIX_LEN: usize = 17;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ResultStatus {
    /// Everything was inspected without error.
    Succeeded,
    /// Something was inspected, with errors (unparsable documents, unreachable targets).
    Partial,
    /// Nothing could be inspected.
    Failed,
    /// The run passed `spec.timeout`; findings so far are kept.
    TimedOut,
}

impl ResultStatus {
    /// The JSON name: `succeeded`, `partial`, `failed`, `timedOut`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Partial => "partial",
            Self::Failed => "failed",
            Self::TimedOut => "timedOut",
        }
    }

    /// Parses the JSON name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "succeeded" => Some(Self::Succeeded),
            "partial" => Some(Self::Partial),
            "failed" => Some(Self::Failed),
            "timedOut" => Some(Self::TimedOut),
            _ => None,
        }
    }

    /// Whether `failedHistoryLimit` (rather than `historyLimit`) governs results of this status.
    pub fn is_failure(self) -> bool {
        matches!(self, Self::Failed | Self::TimedOut)
    }

    /// The status of a run that inspected `objects` objects with `errors` diagnostics.
    pub fn of_run(objects: usize, errors: usize, timed_out: bool) -> Self {
        if timed_out {
            Self::TimedOut
        } else if objects == 0 {
            Self::Failed
        } else if errors > 0 {
            Self::Partial
        } else {
            Self::Succeeded
        }
    }
}

impl fmt::Display for ResultStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One stored run of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InspectResult {
    /// Always [`RESULT_API_VERSION`].
    pub api_version: String,
    /// Always [`RESULT_KIND`].
    pub kind: String,
    /// `<plan>-<UTC start yyyymmddThhmmssZ>`.
    pub id: String,
    /// The plan's name.
    pub plan: String,
    /// How the run ended (also in `report.run.status`).
    pub status: ResultStatus,
    /// RFC 3339 start time (UTC).
    pub started_at: String,
    /// The §6.2 report.
    pub report: Report,
    /// Every inspected object, sorted.
    pub inventory: Vec<Resource>,
}

/// The id of the run of `plan` started at `started`: `<plan>-yyyymmddThhmmssZ` in UTC.
pub fn result_id(plan: &str, started: Timestamp) -> String {
    format!("{plan}-{}", started.strftime("%Y%m%dT%H%M%SZ"))
}

/// The plan of a result id, and whether the id has the `<plan>-yyyymmddThhmmssZ` form.
pub fn plan_of_id(id: &str) -> Option<&str> {
    let split = id.len().checked_sub(ID_SUFFIX_LEN)?;
    let plan = id.get(..split)?;
    let suffix = id.get(split..)?.as_bytes();
    let shape_ok = suffix.len() == ID_SUFFIX_LEN
        && suffix.first() == Some(&b'-')
        && suffix.get(9) == Some(&b'T')
        && suffix.last() == Some(&b'Z')
        && suffix
            .iter()
            .enumerate()
            .all(|(i, b)| matches!(i, 0 | 9 | 16) || b.is_ascii_digit());
    (shape_ok && is_dns_label(plan)).then_some(plan)
}

/// Checks that `id` is a result id (so it can name a file or row safely).
///
/// # Errors
/// [`PlanError::InvalidField`] naming `id`.
pub fn validate_id(id: &str) -> Result<&str, PlanError> {
    plan_of_id(id).ok_or_else(|| PlanError::InvalidField {
        field: "id".to_owned(),
        reason: format!("{id:?} is not a result id <plan>-<yyyymmddThhmmssZ>"),
    })
}

impl InspectResult {
    /// A result of `plan` started at `started`, with the report's `run.id`, `run.plan` and `run.status` set.
    pub fn new(
        plan: &str,
        started: Timestamp,
        status: ResultStatus,
        mut report: Report,
        bundle: &Bundle,
    ) -> Self {
        let id = result_id(plan, started);
        report.run.id.clone_from(&id);
        report.run.plan = Some(plan.to_owned());
        report.run.status = status.as_str().to_owned();
        let mut inventory: Vec<Resource> = bundle
            .objects()
            .iter()
            .map(|o| o.resource.clone())
            .collect();
        inventory.sort();
        inventory.dedup();
        Self {
            api_version: RESULT_API_VERSION.to_owned(),
            kind: RESULT_KIND.to_owned(),
            id,
            plan: plan.to_owned(),
            status,
            started_at: started.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            report,
            inventory,
        }
    }

    /// The index entry of this result.
    pub fn entry(&self) -> ResultEntry {
        let f = &self.report.summary.findings;
        ResultEntry {
            id: self.id.clone(),
            plan: self.plan.clone(),
            status: self.status,
            started_at: self.started_at.clone(),
            score: self.report.summary.score,
            danger: f.danger,
            warning: f.warning,
            info: f.info,
        }
    }

    /// Checks the fields a store relies on: the kind, the id's form and that it belongs to `plan`.
    ///
    /// # Errors
    /// [`PlanError::InvalidField`] naming the field.
    pub fn validate(&self) -> Result<(), PlanError> {
        if self.api_version != RESULT_API_VERSION || self.kind != RESULT_KIND {
            return Err(PlanError::InvalidField {
                field: "kind".to_owned(),
                reason: format!(
                    "{}/{} is not {RESULT_API_VERSION}/{RESULT_KIND}",
                    self.api_version, self.kind
                ),
            });
        }
        let plan = validate_id(&self.id)?;
        if plan != self.plan {
            return Err(PlanError::InvalidField {
                field: "plan".to_owned(),
                reason: format!("{:?} does not match id {:?}", self.plan, self.id),
            });
        }
        Ok(())
    }
}

/// What a store's index keeps of a result: enough to list a plan's history without reading every report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResultEntry {
    /// The result id.
    pub id: String,
    /// The plan.
    pub plan: String,
    /// How the run ended.
    pub status: ResultStatus,
    /// RFC 3339 start time (UTC).
    pub started_at: String,
    /// The report's score.
    pub score: u64,
    /// Unsuppressed danger findings.
    pub danger: u64,
    /// Unsuppressed warning findings.
    pub warning: u64,
    /// Unsuppressed info findings.
    pub info: u64,
}

/// The ids to delete so that at most `history_limit` succeeded/partial and `failed_history_limit`
/// failed/timed-out results remain, oldest first (0 = unlimited). `entries` may come in any order; ids sort
/// by start time within a plan.
pub fn retention(
    entries: &[ResultEntry],
    history_limit: u32,
    failed_history_limit: u32,
) -> Vec<String> {
    let mut sorted: Vec<&ResultEntry> = entries.iter().collect();
    sorted.sort_by(|a, b| (&a.started_at, &a.id).cmp(&(&b.started_at, &b.id)));
    let mut doomed = Vec::new();
    for (failures, limit) in [(false, history_limit), (true, failed_history_limit)] {
        if limit == 0 {
            continue;
        }
        let class: Vec<&&ResultEntry> = sorted
            .iter()
            .filter(|e| e.status.is_failure() == failures)
            .collect();
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let excess = class.len().saturating_sub(limit);
        doomed.extend(class.iter().take(excess).map(|e| e.id.clone()));
    }
    doomed.sort();
    doomed
}
