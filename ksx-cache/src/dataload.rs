//! DataLoad (spec §2): the `cache.ksx.io/v1alpha1` `DataLoad` spec with Fluid's field names, its checks, the
//! phase machine of its status (`"" → Pending → Executing → Complete | Failed`), the planner that turns the
//! targets and the dataset's object listing into the blocks to prefetch, the next run of a `Cron` load, and
//! (feature `store`) [`run_dataload`], which warms a [`crate::store::CachedStore`] with a plan.
//!
//! Everything but [`run_dataload`] is pure: listings, cached blocks and `now` are passed in.
//!
//! Paths: a target path and a listed object's path are in the dataset's namespace as the cached store sees it
//! (`train/a.jpg`; a leading `/` is optional). Target `/` is every object; `/train` is `train` itself and every
//! object under `train/` (whole path components, so not `training/x`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Affinity, NodeAffinity, ResourceRequirements, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{API_VERSION, Dataset};

/// The kind of the spec.
pub const KIND: &str = "DataLoad";

/// Attempts per object before the loader records it as failed (spec §2).
pub const ATTEMPTS_PER_OBJECT: u32 = 3;

fn is_false(b: &bool) -> bool {
    !*b
}

fn one() -> i32 {
    1
}

/// A DataLoad: prefetch (warm up) paths of a dataset into its cache.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DataLoad {
    /// `cache.ksx.io/v1alpha1`.
    pub api_version: String,
    /// `DataLoad`.
    pub kind: String,
    /// Name and namespace.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// What to load, when.
    pub spec: DataLoadSpec,
    /// What the controller observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<DataLoadStatus>,
}

/// The spec of a [`DataLoad`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DataLoadSpec {
    /// The dataset to warm.
    pub dataset: TargetDataset,
    /// Whether to sync the dataset's metadata (list the mounts) before loading (default false).
    #[serde(default, skip_serializing_if = "is_false")]
    pub load_metadata: bool,
    /// The paths to load; empty means `/` (everything).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target: Vec<TargetPath>,
    /// Loader options.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
    /// `Once` (default), `Cron` or `OnEvent`.
    #[serde(default)]
    pub policy: Policy,
    /// The 5-field cron schedule; `Cron` only (required there).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub schedule: String,
    /// The operation this load runs after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_after: Option<OperationRef>,
    /// Seconds a finished `Once` load is kept (TTL cleanup is for `Once` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds_after_finished: Option<i32>,
    /// The loader pod's affinity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    /// The loader pod's node selector.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    /// The loader pod's tolerations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
    /// The loader pod's scheduler.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scheduler_name: String,
    /// The loader pod's resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Labels and annotations of the loader pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_metadata: Option<PodMetadata>,
}

/// The dataset a [`DataLoad`] warms.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TargetDataset {
    /// The dataset's name.
    pub name: String,
    /// Its namespace; default the DataLoad's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// One path to load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TargetPath {
    /// `/` = everything; otherwise the path and everything under it.
    pub path: String,
    /// Cached copies to load (default 1, at least 1).
    #[serde(default = "one")]
    pub replicas: i32,
}

/// When a [`DataLoad`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Policy {
    /// One Job (default; also the meaning of `""`).
    #[default]
    #[serde(alias = "")]
    Once,
    /// A CronJob on `spec.schedule`.
    Cron,
    /// A Job per event; status as `Once`.
    OnEvent,
}

/// An operation another one runs after (`runAfter`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OperationRef {
    /// The operation's API version (optional).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    /// `DataLoad`, `DataBackup`, `DataMigrate` or `DataProcess`.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// Its namespace; default this load's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// How the next Job is pinned to the previous one's nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity_strategy: Option<AffinityStrategy>,
}

/// `runAfter.affinityStrategy`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AffinityStrategy {
    /// `""`, `Require` or `Prefer`.
    #[serde(default)]
    pub policy: AffinityPolicy,
    /// Label keys required to match the previous Job's nodes (`Require`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<NamedKey>,
    /// Label keys preferred, with weights (`Prefer`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prefers: Vec<WeightedKey>,
}

/// `runAfter.affinityStrategy.policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum AffinityPolicy {
    /// No pinning.
    #[default]
    #[serde(rename = "")]
    None,
    /// Required node affinity to the previous Job's nodes.
    Require,
    /// Preferred node affinity to the previous Job's nodes.
    Prefer,
}

/// A label key.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NamedKey {
    /// The label key.
    pub name: String,
}

/// A label key with a weight.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WeightedKey {
    /// The label key.
    pub name: String,
    /// 1 to 100.
    pub weight: i32,
}

/// Labels and annotations of the loader pod.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PodMetadata {
    /// Labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// The phase of a data operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Phase {
    /// Not seen yet (`""`).
    #[default]
    #[serde(rename = "")]
    None,
    /// Admitted, waiting for the lock or its Job.
    Pending,
    /// Loading.
    Executing,
    /// Done (possibly with condition `PartiallyCached`).
    Complete,
    /// Failed.
    Failed,
}

/// A condition of a [`DataLoadStatus`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Condition {
    /// `Complete`, `Failed` or `PartiallyCached`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True` or `False`.
    pub status: String,
    /// A CamelCase reason.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// A sentence.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub last_probe_time: String,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub last_transition_time: String,
}

/// What a load waits for.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WaitingFor {
    /// The operation holding the dataset's `operationRef` lock, `DataLoad/{name}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
}

/// An object the loader gave up on.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FailedObject {
    /// Its path.
    pub path: String,
    /// The last error.
    pub message: String,
}

/// The status of a [`DataLoad`] (Fluid's `OperationStatus`, plus the loader's failed objects and start time).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DataLoadStatus {
    /// The phase.
    #[serde(default)]
    pub phase: Phase,
    /// Elapsed time of the finished run (`1m30s`), `-` while not finished.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub duration: String,
    /// `Complete`, `Failed`, `PartiallyCached`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// `loadedBytes`, `skippedBytes`, `failedObjects`, `cachedPercentage` as strings.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub infos: BTreeMap<String, String>,
    /// When the current run started (RFC 3339).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub start_time: String,
    /// `Cron`: when the newest Job was scheduled (RFC 3339).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub last_schedule_time: String,
    /// When a run last completed (RFC 3339).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub last_successful_time: String,
    /// What a `Pending` load waits for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_for: Option<WaitingFor>,
    /// Nodes the load ran on, for `runAfter.affinityStrategy` of the next operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_affinity: Option<NodeAffinity>,
    /// Objects the loader gave up on, with the last error.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_objects: Vec<FailedObject>,
}

fn invalid(load: &DataLoad, field: impl Into<String>, message: impl Into<String>) -> Error {
    Error::Invalid {
        object: format!(
            "dataload {:?}",
            load.metadata.name.as_deref().unwrap_or_default()
        ),
        field: field.into(),
        message: message.into(),
    }
}

fn normalize(path: &str) -> String {
    path.trim_matches('/').to_owned()
}

impl DataLoad {
    /// The namespace of the dataset loaded (the load's own, then `default`).
    #[must_use]
    pub fn dataset_namespace(&self) -> &str {
        self.spec
            .dataset
            .namespace
            .as_deref()
            .or(self.metadata.namespace.as_deref())
            .unwrap_or("default")
    }

    /// The targets, `/` when none is given.
    #[must_use]
    pub fn targets(&self) -> Vec<TargetPath> {
        if self.spec.target.is_empty() {
            vec![TargetPath {
                path: "/".to_owned(),
                replicas: 1,
            }]
        } else {
            self.spec.target.clone()
        }
    }

    /// Checks the spec (spec §2).
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the field: `apiVersion`, `kind`, `spec.dataset.name`, `spec.target[i].path`
    /// (empty, `..` components), `spec.target[i].replicas` (< 1), `spec.schedule` (missing for `Cron`, given
    /// for another policy, or not a 5-field cron), `spec.ttlSecondsAfterFinished` (negative),
    /// `spec.runAfter.kind` / `.name` (empty), `spec.runAfter.affinityStrategy.prefers[i].weight` (not 1–100).
    pub fn validate(&self) -> Result<()> {
        if self.api_version != API_VERSION {
            return Err(invalid(
                self,
                "apiVersion",
                format!("{:?} is not {API_VERSION}", self.api_version),
            ));
        }
        if self.kind != KIND {
            return Err(invalid(
                self,
                "kind",
                format!("{:?} is not {KIND}", self.kind),
            ));
        }
        if self.spec.dataset.name.is_empty() {
            return Err(invalid(self, "spec.dataset.name", "is required"));
        }
        for (i, t) in self.spec.target.iter().enumerate() {
            if t.path.is_empty() {
                return Err(invalid(
                    self,
                    format!("spec.target[{i}].path"),
                    "is empty (use \"/\" for everything)",
                ));
            }
            if t.path.split('/').any(|c| c == ".." || c == ".") {
                return Err(invalid(
                    self,
                    format!("spec.target[{i}].path"),
                    format!("{:?} has a \".\" or \"..\" component", t.path),
                ));
            }
            if t.replicas < 1 {
                return Err(invalid(
                    self,
                    format!("spec.target[{i}].replicas"),
                    format!("{} is below 1", t.replicas),
                ));
            }
        }
        match (self.spec.policy, self.spec.schedule.is_empty()) {
            (Policy::Cron, true) => {
                return Err(invalid(self, "spec.schedule", "is required by policy Cron"));
            }
            (Policy::Cron, false) => {
                CronSchedule::parse(&self.spec.schedule)
                    .map_err(|m| invalid(self, "spec.schedule", m))?;
            }
            (p, false) => {
                return Err(invalid(
                    self,
                    "spec.schedule",
                    format!("is only for policy Cron, not {p:?}"),
                ));
            }
            (_, true) => {}
        }
        if let Some(ttl) = self.spec.ttl_seconds_after_finished
            && ttl < 0
        {
            return Err(invalid(
                self,
                "spec.ttlSecondsAfterFinished",
                format!("{ttl} is negative"),
            ));
        }
        if let Some(after) = &self.spec.run_after {
            if after.kind.is_empty() {
                return Err(invalid(self, "spec.runAfter.kind", "is required"));
            }
            if after.name.is_empty() {
                return Err(invalid(self, "spec.runAfter.name", "is required"));
            }
            if let Some(s) = &after.affinity_strategy {
                for (i, p) in s.prefers.iter().enumerate() {
                    if !(1..=100).contains(&p.weight) {
                        return Err(invalid(
                            self,
                            format!("spec.runAfter.affinityStrategy.prefers[{i}].weight"),
                            format!("{} is not in 1..=100", p.weight),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// The next run of a `Cron` load strictly after `now`; `None` for other policies or when the schedule
    /// never fires again.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `spec.schedule` for a schedule that is not a 5-field cron.
    pub fn next_run(&self, now: Timestamp) -> Result<Option<Timestamp>> {
        if self.spec.policy != Policy::Cron {
            return Ok(None);
        }
        let schedule = CronSchedule::parse(&self.spec.schedule)
            .map_err(|m| invalid(self, "spec.schedule", m))?;
        Ok(schedule.next_after(now))
    }
}

/// A 5-field cron expression (minute hour day-of-month month day-of-week, Sunday = 0 or 7, names allowed), or
/// `@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`, translated to the `cron` crate (seconds first,
/// Sunday = 1). When day-of-month and day-of-week are both restricted, either matching fires (as in cron).
#[derive(Debug, Clone)]
pub struct CronSchedule {
    schedules: Vec<cron::Schedule>,
}

fn translate_dow(field: &str) -> std::result::Result<String, String> {
    let day = |t: &str| -> std::result::Result<String, String> {
        if t.chars().all(|c| c.is_ascii_alphabetic()) {
            return Ok(t.to_ascii_uppercase());
        }
        match t.parse::<u8>() {
            Ok(n @ 0..=6) => Ok((n + 1).to_string()),
            Ok(7) => Ok("1".to_owned()),
            _ => Err(format!("day of week {t:?} is not 0-7 or a name")),
        }
    };
    let mut items = Vec::new();
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (item, None),
        };
        let step_text = step.map(|s| format!("/{s}")).unwrap_or_default();
        if range == "*" || range == "?" {
            items.push(format!("*{step_text}"));
        } else if let Some((a, b)) = range.split_once('-') {
            if b == "7" && a != "7" {
                if step.is_some() {
                    return Err(format!(
                        "day-of-week range {range:?} with a step: use 0-6 for Sunday to Saturday"
                    ));
                }
                // `a-7` is `a..Saturday` plus Sunday.
                items.push(format!("{}-7", day(a)?));
                items.push("1".to_owned());
            } else {
                items.push(format!("{}-{}{step_text}", day(a)?, day(b)?));
            }
        } else {
            items.push(format!("{}{step_text}", day(range)?));
        }
    }
    Ok(items.join(","))
}

impl CronSchedule {
    /// Parses and translates an expression.
    ///
    /// # Errors
    /// A message saying what is wrong (the caller names the field).
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let text = text.trim();
        let translated: Vec<String> = if let Some(macro_) = text.strip_prefix('@') {
            let fields = match macro_ {
                "hourly" => "0 * * * *",
                "daily" | "midnight" => "0 0 * * *",
                "weekly" => "0 0 * * 0",
                "monthly" => "0 0 1 * *",
                "yearly" | "annually" => "0 0 1 1 *",
                _ => return Err(format!("{text:?} is not a known @ macro")),
            };
            return Self::parse(fields);
        } else {
            let fields: Vec<&str> = text.split_whitespace().collect();
            let [minute, hour, dom, month, dow] = fields.as_slice() else {
                return Err(format!(
                    "{text:?} has {} fields, not 5 (minute hour day-of-month month day-of-week)",
                    fields.len()
                ));
            };
            let dow_crate = translate_dow(dow)?;
            let restricted = |f: &str| f != "*" && f != "?";
            if restricted(dom) && restricted(dow) {
                vec![
                    format!("0 {minute} {hour} {dom} {month} *"),
                    format!("0 {minute} {hour} * {month} {dow_crate}"),
                ]
            } else {
                vec![format!("0 {minute} {hour} {dom} {month} {dow_crate}")]
            }
        };
        let mut schedules = Vec::with_capacity(translated.len());
        for t in &translated {
            schedules.push(
                cron::Schedule::from_str(t)
                    .map_err(|e| format!("{text:?} (as {t:?}) is not accepted: {e}"))?,
            );
        }
        Ok(Self { schedules })
    }

    /// The first fire time strictly after `now` (UTC), or `None`.
    #[must_use]
    pub fn next_after(&self, now: Timestamp) -> Option<Timestamp> {
        let start = DateTime::<Utc>::from_timestamp(now.as_second(), 0)?;
        self.schedules
            .iter()
            .filter_map(|s| s.after(&start).next())
            .min()
            .and_then(|d| Timestamp::from_second(d.timestamp()).ok())
    }
}

/// An object of the dataset's listing.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListedObject {
    /// Its path in the dataset (`train/a.jpg`).
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
}

/// One block to prefetch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedBlock {
    /// The object's path.
    pub path: String,
    /// The block index in the object (`offset / blockSize`).
    pub index: u64,
    /// The first byte.
    pub offset: u64,
    /// Its length (the last block of an object may be short).
    pub len: u64,
}

/// What [`plan`] decided: blocks in path, then offset order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DataLoadPlan {
    /// `{namespace}/{name}` of the dataset.
    pub dataset: String,
    /// The block size used.
    pub block_size: u64,
    /// Objects matched by the targets.
    pub objects: u64,
    /// Their bytes.
    pub requested_bytes: u64,
    /// Bytes to load (sum of [`Self::blocks`]).
    pub load_bytes: u64,
    /// Bytes skipped as already cached.
    pub skipped_bytes: u64,
    /// Blocks skipped as already cached.
    pub skipped_blocks: u64,
    /// Copies to load per object path (the largest `replicas` of the targets matching it).
    pub replicas: BTreeMap<String, u32>,
    /// The blocks to read.
    pub blocks: Vec<PlannedBlock>,
    /// Targets that matched nothing, duplicate listing entries.
    pub diagnostics: Vec<String>,
}

fn target_matches(target: &str, path: &str) -> bool {
    target.is_empty()
        || path == target
        || (path.len() > target.len()
            && path.starts_with(target)
            && path.as_bytes().get(target.len()) == Some(&b'/'))
}

/// Plans a load: the objects of `listing` under the targets (deduplicated, sorted by path), cut into
/// `block_size` blocks, less the `(path, block index)` pairs in `cached`.
///
/// # Errors
/// [`Error::InvalidParameter`] for `block_size` 0; [`Error::Invalid`] when `load` does not validate or names
/// another dataset than `dataset` (`spec.dataset.name` / `spec.dataset.namespace`).
pub fn plan(
    load: &DataLoad,
    dataset: &Dataset,
    listing: &[ListedObject],
    block_size: u64,
    cached: &BTreeSet<(String, u64)>,
) -> Result<DataLoadPlan> {
    if block_size == 0 {
        return Err(Error::InvalidParameter {
            field: "block-size",
            message: "must be above 0".to_owned(),
        });
    }
    load.validate()?;
    let ds_name = dataset.metadata.name.as_deref().unwrap_or_default();
    let ds_ns = dataset.metadata.namespace.as_deref().unwrap_or("default");
    if load.spec.dataset.name != ds_name {
        return Err(invalid(
            load,
            "spec.dataset.name",
            format!(
                "{:?} is not the dataset given ({ds_name:?})",
                load.spec.dataset.name
            ),
        ));
    }
    if load.dataset_namespace() != ds_ns {
        return Err(invalid(
            load,
            "spec.dataset.namespace",
            format!(
                "{:?} is not the dataset's namespace ({ds_ns:?})",
                load.dataset_namespace()
            ),
        ));
    }
    let targets: Vec<(String, u32)> = load
        .targets()
        .iter()
        .map(|t| (normalize(&t.path), u32::try_from(t.replicas).unwrap_or(1)))
        .collect();
    let mut diagnostics = Vec::new();
    let mut objects: BTreeMap<String, u64> = BTreeMap::new();
    let mut replicas: BTreeMap<String, u32> = BTreeMap::new();
    let mut hits = vec![0_u64; targets.len()];
    for o in listing {
        let path = normalize(&o.path);
        let mut want = 0;
        for (i, (t, r)) in targets.iter().enumerate() {
            if target_matches(t, &path) {
                want = want.max(*r);
                if let Some(h) = hits.get_mut(i) {
                    *h += 1;
                }
            }
        }
        if want == 0 {
            continue;
        }
        if let Some(prev) = objects.insert(path.clone(), o.size)
            && prev != o.size
        {
            diagnostics.push(format!(
                "{path:?} is listed twice ({prev} and {} bytes); the last size is used",
                o.size
            ));
        }
        replicas.insert(path, want);
    }
    for ((t, _), h) in targets.iter().zip(&hits) {
        if *h == 0 {
            diagnostics.push(format!("target \"/{t}\" matches no object of the listing"));
        }
    }
    let mut blocks = Vec::new();
    let (mut requested, mut load_bytes, mut skipped, mut skipped_blocks) = (0_u64, 0_u64, 0, 0);
    for (path, size) in &objects {
        requested = requested.saturating_add(*size);
        let mut offset = 0_u64;
        let mut index = 0_u64;
        while offset < *size {
            let len = block_size.min(size - offset);
            if cached.contains(&(path.clone(), index)) {
                skipped += len;
                skipped_blocks += 1;
            } else {
                load_bytes += len;
                blocks.push(PlannedBlock {
                    path: path.clone(),
                    index,
                    offset,
                    len,
                });
            }
            offset += len;
            index += 1;
        }
    }
    Ok(DataLoadPlan {
        dataset: format!("{ds_ns}/{ds_name}"),
        block_size,
        objects: u64::try_from(objects.len()).unwrap_or(u64::MAX),
        requested_bytes: requested,
        load_bytes,
        skipped_bytes: skipped,
        skipped_blocks,
        replicas,
        blocks,
        diagnostics,
    })
}

/// An event of the phase machine.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The controller saw the load (`""` → `Pending`).
    Admitted,
    /// Another operation holds the dataset's lock (stays `Pending`, sets `waitingFor`).
    Waiting {
        /// `DataLoad/{name}` of the holder.
        operation: String,
    },
    /// The Job started (`Pending` → `Executing`).
    Started,
    /// The Job ended; `cached_percent` below 100 adds condition `PartiallyCached`.
    Finished {
        /// Bytes loaded.
        loaded_bytes: u64,
        /// Bytes already cached.
        skipped_bytes: u64,
        /// Objects given up on.
        failed_objects: Vec<FailedObject>,
        /// The post-load check, 0–100.
        cached_percent: f64,
    },
    /// The Job failed (`Executing` or `Pending` → `Failed`).
    Failed {
        /// Why.
        message: String,
    },
    /// A `Cron` load runs again (`Complete`/`Failed` → `Pending`, duration `-`).
    Rescheduled,
}

/// Formats a duration in Go's style, seconds precision: `0s`, `45s`, `1m30s`, `2h0m5s`.
#[must_use]
pub fn format_duration(seconds: i64) -> String {
    let s = seconds.max(0);
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    let mut out = String::new();
    if h > 0 {
        let _ = write!(out, "{h}h{m}m");
    } else if m > 0 {
        let _ = write!(out, "{m}m");
    }
    let _ = write!(out, "{sec}s");
    out
}

fn condition(type_: &str, reason: &str, message: String, now: &str) -> Condition {
    Condition {
        type_: type_.to_owned(),
        status: "True".to_owned(),
        reason: reason.to_owned(),
        message,
        last_probe_time: now.to_owned(),
        last_transition_time: now.to_owned(),
    }
}

/// Applies `event` at `now` to a status (spec §1.1, §2).
///
/// # Errors
/// [`Error::Invalid`] naming `status.phase` for an event the phase does not accept (for example `Started` on a
/// `Complete` load, or `Rescheduled` for a policy other than `Cron`).
pub fn transition(
    load: &DataLoad,
    status: &DataLoadStatus,
    event: Event,
    now: Timestamp,
) -> Result<DataLoadStatus> {
    let now_text = now.to_string();
    let mut next = status.clone();
    let bad = |what: &str| {
        invalid(
            load,
            "status.phase",
            format!("{what} is not accepted in phase {:?}", status.phase),
        )
    };
    let elapsed = || {
        status.start_time.parse::<Timestamp>().map_or_else(
            |_| "-".to_owned(),
            |s| format_duration(now.as_second() - s.as_second()),
        )
    };
    match (status.phase, event) {
        (Phase::None, Event::Admitted) => {
            next.phase = Phase::Pending;
            next.duration = "-".to_owned();
        }
        (Phase::None | Phase::Pending, Event::Waiting { operation }) => {
            next.phase = Phase::Pending;
            next.duration = "-".to_owned();
            next.waiting_for = Some(WaitingFor {
                operation: Some(operation),
            });
        }
        (Phase::Pending, Event::Started) => {
            next.phase = Phase::Executing;
            next.waiting_for = None;
            next.start_time = now_text;
            next.duration = "-".to_owned();
            if load.spec.policy == Policy::Cron {
                next.last_schedule_time = next.start_time.clone();
            }
        }
        (
            Phase::Executing,
            Event::Finished {
                loaded_bytes,
                skipped_bytes,
                failed_objects,
                cached_percent,
            },
        ) => {
            next.phase = Phase::Complete;
            next.duration = elapsed();
            next.infos
                .insert("loadedBytes".to_owned(), loaded_bytes.to_string());
            next.infos
                .insert("skippedBytes".to_owned(), skipped_bytes.to_string());
            next.infos
                .insert("failedObjects".to_owned(), failed_objects.len().to_string());
            let pct = cached_percent.clamp(0.0, 100.0);
            next.infos
                .insert("cachedPercentage".to_owned(), format!("{pct:.1}%"));
            next.conditions = vec![condition(
                "Complete",
                "DataLoadJobComplete",
                format!("loaded {loaded_bytes} bytes, skipped {skipped_bytes} cached bytes"),
                &now_text,
            )];
            if pct < 100.0 {
                next.conditions.push(condition(
                    "PartiallyCached",
                    "CachedBelowTarget",
                    format!("{pct:.1}% of the targets is cached after the load"),
                    &now_text,
                ));
            }
            next.failed_objects = failed_objects;
            next.last_successful_time = now_text;
        }
        (Phase::Pending | Phase::Executing, Event::Failed { message }) => {
            next.phase = Phase::Failed;
            next.duration = elapsed();
            next.conditions = vec![condition("Failed", "DataLoadJobFailed", message, &now_text)];
        }
        (Phase::Complete | Phase::Failed, Event::Rescheduled)
            if load.spec.policy == Policy::Cron =>
        {
            next.phase = Phase::Pending;
            next.duration = "-".to_owned();
            next.conditions.clear();
            next.failed_objects.clear();
            next.start_time.clear();
        }
        (_, e) => {
            let name = match e {
                Event::Admitted => "Admitted",
                Event::Waiting { .. } => "Waiting",
                Event::Started => "Started",
                Event::Finished { .. } => "Finished",
                Event::Failed { .. } => "Failed",
                Event::Rescheduled => "Rescheduled",
            };
            return Err(bad(name));
        }
    }
    Ok(next)
}

/// The loader's counters after [`run_dataload`].
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadReport {
    /// Bytes read through the cache.
    pub loaded_bytes: u64,
    /// Bytes the plan skipped as cached.
    pub skipped_bytes: u64,
    /// Objects given up on after [`ATTEMPTS_PER_OBJECT`] attempts.
    pub failed_objects: Vec<FailedObject>,
    /// Post-load check (0–100): the largest tier's held bytes over the bytes the plan covers, clamped; a lower
    /// bound of what the load left cached when the cache holds nothing else.
    pub cached_percent: f64,
}

/// Runs `plan` through `store`: reads every planned block once (read-through fills the cache), up to
/// [`ATTEMPTS_PER_OBJECT`] attempts per object, then checks what is cached. Never panics; errors are per object
/// in the returned status. `status` must be `Executing` (see [`transition`]); `clock` stamps the end.
#[cfg(feature = "store")]
#[cfg_attr(docsrs, doc(cfg(feature = "store")))]
pub async fn run_dataload<S: object_store::ObjectStore>(
    store: &crate::store::CachedStore<S>,
    load: &DataLoad,
    plan: &DataLoadPlan,
    status: &DataLoadStatus,
    clock: &dyn ksx_core::clock::Clock,
) -> (DataLoadStatus, LoadReport) {
    use object_store::{GetOptions, GetRange, ObjectStore as _};
    let mut report = LoadReport {
        skipped_bytes: plan.skipped_bytes,
        ..LoadReport::default()
    };
    let mut failed: BTreeMap<String, (u32, String)> = BTreeMap::new();
    for block in &plan.blocks {
        if failed
            .get(&block.path)
            .is_some_and(|(n, _)| *n >= ATTEMPTS_PER_OBJECT)
        {
            continue;
        }
        let path = object_store::path::Path::from(block.path.as_str());
        loop {
            let options = GetOptions {
                range: Some(GetRange::Bounded(block.offset..block.offset + block.len)),
                ..GetOptions::default()
            };
            let result = match store.get_opts(&path, options).await {
                Ok(r) => r.bytes().await,
                Err(e) => Err(e),
            };
            match result {
                Ok(bytes) => {
                    report.loaded_bytes += u64::try_from(bytes.len()).unwrap_or(u64::MAX);
                    break;
                }
                Err(e) => {
                    let entry = failed
                        .entry(block.path.clone())
                        .or_insert((0, String::new()));
                    entry.0 += 1;
                    entry.1 = e.to_string();
                    if entry.0 >= ATTEMPTS_PER_OBJECT {
                        break;
                    }
                }
            }
        }
    }
    store.flush().await;
    report.failed_objects = failed
        .into_iter()
        .filter(|(_, (n, _))| *n >= ATTEMPTS_PER_OBJECT)
        .map(|(path, (_, message))| FailedObject { path, message })
        .collect();
    let held = store
        .stats()
        .tiers
        .iter()
        .map(|t| t.used_bytes)
        .max()
        .unwrap_or(0);
    report.cached_percent = if plan.requested_bytes == 0 {
        100.0
    } else {
        #[allow(clippy::cast_precision_loss, reason = "a percentage")]
        let pct = held.min(plan.requested_bytes) as f64 * 100.0 / plan.requested_bytes as f64;
        pct
    };
    let event = Event::Finished {
        loaded_bytes: report.loaded_bytes,
        skipped_bytes: report.skipped_bytes,
        failed_objects: report.failed_objects.clone(),
        cached_percent: report.cached_percent,
    };
    let next = transition(load, status, event, clock.now()).unwrap_or_else(|e| {
        let mut s = status.clone();
        s.phase = Phase::Failed;
        s.conditions = vec![condition(
            "Failed",
            "InvalidStatus",
            e.to_string(),
            &clock.now().to_string(),
        )];
        s
    });
    (next, report)
}
