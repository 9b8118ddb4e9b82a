//! The `InspectPlan` document (spec §3): schedule, history limits, timeout, concurrency and what to inspect.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::cron::Schedule;
use super::error::PlanError;
use crate::model::Severity;

/// `apiVersion` of plans.
pub const PLAN_API_VERSION: &str = "inspect.ksx.io/v1";
/// `kind` of plans.
pub const PLAN_KIND: &str = "InspectPlan";

/// An inspection plan: what to inspect, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InspectPlan {
    /// Always [`PLAN_API_VERSION`].
    pub api_version: String,
    /// Always [`PLAN_KIND`].
    pub kind: String,
    /// The plan's name.
    pub metadata: PlanMetadata,
    /// The plan.
    pub spec: PlanSpec,
}

/// `metadata` of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanMetadata {
    /// The plan's name (a DNS-1123 label: lowercase letters, digits and `-`, at most 63 characters).
    pub name: String,
    /// Labels (ignored by the scheduler).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// Skip or replace a run while the previous one is still going.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConcurrencyPolicy {
    /// Skip the new run while one runs (default).
    #[default]
    Forbid,
    /// Cancel the running one and start the new one.
    Replace,
}

/// `spec` of a plan. Every field but `schedule` has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanSpec {
    /// 5-field cron (minute hour day-of-month month day-of-week), 6 with leading seconds, or `@daily`….
    pub schedule: String,
    /// IANA time zone of the schedule (default `UTC`).
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    /// Stops scheduling; `plan run` still works.
    #[serde(default)]
    pub suspend: bool,
    /// Succeeded and partial results kept (0 = unlimited; default 10).
    #[serde(default = "default_history_limit")]
    pub history_limit: u32,
    /// Failed and timed-out results kept (0 = unlimited; default 3).
    #[serde(default = "default_failed_history_limit")]
    pub failed_history_limit: u32,
    /// How long a run may take (`90s`, `10m`, `1h30m`; default `10m`); then it ends `timedOut`.
    #[serde(default = "default_timeout")]
    pub timeout: String,
    /// A run missed by more than this many seconds is skipped, not caught up (default: no deadline).
    #[serde(default)]
    pub starting_deadline_seconds: Option<u64>,
    /// What to do when a run is due while one is still going.
    #[serde(default)]
    pub concurrency_policy: ConcurrencyPolicy,
    /// Rule sets: `builtin:default`, `builtin:<preset>` or rule directories (default `[builtin:default]`).
    #[serde(default = "default_rule_sets")]
    pub rule_sets: Vec<String>,
    /// Check selection, as in the configuration file.
    #[serde(default)]
    pub checks: PlanChecks,
    /// Target Kubernetes version (`1.33`).
    #[serde(default)]
    pub kube_version: Option<String>,
    /// Findings at or above this severity make the run fail its gate (default `danger`).
    #[serde(default = "default_fail_on")]
    pub fail_on: Severity,
    /// What to inspect.
    #[serde(default)]
    pub targets: Targets,
}

/// `spec.checks`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanChecks {
    /// Globs of checks to run (default all enabled).
    #[serde(default)]
    pub include: Vec<String>,
    /// Globs of checks not to run.
    #[serde(default)]
    pub exclude: Vec<String>,
}

/// `spec.targets`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Targets {
    /// Manifest files and directories, relative to the plan file's directory.
    #[serde(default)]
    pub manifests: Vec<String>,
    /// Live cluster objects.
    #[serde(default)]
    pub cluster: Option<ClusterTarget>,
    /// Nodes for the node collector.
    #[serde(default)]
    pub nodes: Option<NodesTarget>,
    /// Prometheus for `type: prometheus` rules.
    #[serde(default)]
    pub prometheus: Option<PrometheusTarget>,
}

/// `targets.cluster`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterTarget {
    /// Namespace globs.
    #[serde(default)]
    pub namespaces: NamespaceSelection,
}

/// Namespace globs to include and exclude.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NamespaceSelection {
    /// Globs (default `['*']`).
    #[serde(default = "all_namespaces")]
    pub include: Vec<String>,
    /// Globs.
    #[serde(default)]
    pub exclude: Vec<String>,
}

impl Default for NamespaceSelection {
    fn default() -> Self {
        Self {
            include: all_namespaces(),
            exclude: Vec::new(),
        }
    }
}

/// `targets.nodes`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodesTarget {
    /// Label selector of the nodes (empty = all).
    #[serde(default)]
    pub node_selector: BTreeMap<String, String>,
}

/// `targets.prometheus`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PrometheusTarget {
    /// Base URL of the Prometheus HTTP API.
    pub endpoint: String,
}

fn default_time_zone() -> String {
    "UTC".to_owned()
}
fn default_history_limit() -> u32 {
    10
}
fn default_failed_history_limit() -> u32 {
    3
}
fn default_timeout() -> String {
    "10m".to_owned()
}
fn default_rule_sets() -> Vec<String> {
    vec!["builtin:default".to_owned()]
}
fn default_fail_on() -> Severity {
    Severity::Danger
}
fn all_namespaces() -> Vec<String> {
    vec!["*".to_owned()]
}

fn invalid(field: &str, reason: impl Into<String>) -> PlanError {
    PlanError::InvalidField {
        field: field.to_owned(),
        reason: reason.into(),
    }
}

/// Parses a duration of the plan's `timeout`: one or more `<number><unit>` with units `ms`, `s`, `m`, `h`
/// (`90s`, `10m`, `1h30m`).
///
/// # Errors
/// [`PlanError::InvalidField`] naming `field`.
pub fn parse_duration(field: &str, text: &str) -> Result<Duration, PlanError> {
    let bad = || {
        invalid(
            field,
            format!("{text:?} is not a duration (expected e.g. 90s, 10m, 1h30m)"),
        )
    };
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let (number, tail) = rest.split_at(digits);
        let n: u64 = number.parse().map_err(|_| bad())?;
        let unit_len = tail.bytes().take_while(u8::is_ascii_alphabetic).count();
        let (unit, tail) = tail.split_at(unit_len);
        let part = match unit {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.checked_mul(60).ok_or_else(bad)?),
            "h" => Duration::from_secs(n.checked_mul(3600).ok_or_else(bad)?),
            _ => return Err(bad()),
        };
        total = total.checked_add(part).ok_or_else(bad)?;
        rest = tail;
    }
    if total.is_zero() {
        return Err(invalid(field, format!("{text:?} must be longer than zero")));
    }
    Ok(total)
}

/// Whether `name` is a DNS-1123 label.
pub fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

impl InspectPlan {
    /// Parses and validates one plan document.
    ///
    /// # Errors
    /// [`PlanError::Parse`] naming `file:line:column` and the field for YAML or shape errors, or
    /// [`PlanError::InPlan`] wrapping the [`PlanError::InvalidField`] of [`InspectPlan::validate`].
    pub fn from_yaml(file: &str, text: &str) -> Result<Self, PlanError> {
        let plan: Self =
            ksx_core::manifest::from_yaml_str(file, text).map_err(|e| PlanError::Parse {
                place: file.to_owned(),
                reason: e.to_string(),
            })?;
        plan.validate().map_err(|e| e.in_plan(file))?;
        Ok(plan)
    }

    /// The plan's name.
    pub fn name(&self) -> &str {
        &self.metadata.name
    }

    /// Checks every field and compiles the schedule.
    ///
    /// # Errors
    /// [`PlanError::InvalidField`] naming the first bad field (`apiVersion`, `kind`, `metadata.name`,
    /// `spec.schedule`, `spec.timeZone`, `spec.timeout`, `spec.startingDeadlineSeconds`, `spec.kubeVersion`,
    /// `spec.ruleSets[i]`, `spec.targets.manifests[i]`).
    pub fn validate(&self) -> Result<Schedule, PlanError> {
        if self.api_version != PLAN_API_VERSION {
            return Err(invalid(
                "apiVersion",
                format!("{:?} is not {PLAN_API_VERSION}", self.api_version),
            ));
        }
        if self.kind != PLAN_KIND {
            return Err(invalid(
                "kind",
                format!("{:?} is not {PLAN_KIND}", self.kind),
            ));
        }
        if !is_dns_label(&self.metadata.name) {
            return Err(invalid(
                "metadata.name",
                format!(
                    "{:?} is not a DNS-1123 label (lowercase letters, digits and '-', at most 63 characters)",
                    self.metadata.name
                ),
            ));
        }
        let schedule = self.schedule()?;
        parse_duration("spec.timeout", &self.spec.timeout)?;
        if self.spec.starting_deadline_seconds == Some(0) {
            return Err(invalid(
                "spec.startingDeadlineSeconds",
                "must be at least 1 (leave it out for no deadline)",
            ));
        }
        if let Some(v) = &self.spec.kube_version {
            crate::engine::Engine::new(
                &crate::Config::default(),
                &crate::RunOptions {
                    kube_version: Some(v.clone()),
                    checks: Some(Vec::new()),
                    ..crate::RunOptions::default()
                },
            )
            .map_err(|e| invalid("spec.kubeVersion", e.to_string()))?;
        }
        for (i, r) in self.spec.rule_sets.iter().enumerate() {
            if r.trim().is_empty() {
                return Err(invalid(&format!("spec.ruleSets[{i}]"), "is empty"));
            }
        }
        for (i, m) in self.spec.targets.manifests.iter().enumerate() {
            if m.trim().is_empty() {
                return Err(invalid(&format!("spec.targets.manifests[{i}]"), "is empty"));
            }
        }
        Ok(schedule)
    }

    /// The compiled schedule in the plan's time zone.
    ///
    /// # Errors
    /// [`PlanError::InvalidField`] naming `spec.schedule` or `spec.timeZone`.
    pub fn schedule(&self) -> Result<Schedule, PlanError> {
        Schedule::new(&self.spec.schedule, Some(&self.spec.time_zone))
    }

    /// The run timeout.
    ///
    /// # Errors
    /// [`PlanError::InvalidField`] naming `spec.timeout`.
    pub fn timeout(&self) -> Result<Duration, PlanError> {
        parse_duration("spec.timeout", &self.spec.timeout)
    }
}
