//! Inspection plans, their schedules and their stored results (spec §3).
//!
//! - [`model`]: the `InspectPlan` document (`inspect.ksx.io/v1`), defaults and validation naming the field.
//! - [`cron`]: the CronJob-style schedule translated to the `cron` crate, fire times in the plan's time zone.
//! - [`decide`]: pure scheduling decisions (`suspend`, `startingDeadlineSeconds`, `concurrencyPolicy`).
//! - [`result`]: `InspectResult` (id, status, report, inventory) and retention.
//! - [`store`]: the [`store::ResultStore`] seam: files, or PostgreSQL with feature `postgres`.
//!
//! ```
//! use jiff::Timestamp;
//! use ksx_inspect::plan::InspectPlan;
//!
//! let plan = InspectPlan::from_yaml("nightly.yaml", r#"
//! apiVersion: inspect.ksx.io/v1
//! kind: InspectPlan
//! metadata: {name: nightly-prod}
//! spec:
//!   schedule: '30 2 * * 1-5'
//!   timeZone: Asia/Shanghai
//! "#)?;
//! let schedule = plan.schedule()?;
//! assert_eq!(schedule.expr().translated(), ["0 30 2 * * 2-6"]);
//! // Friday 2026-01-02 00:00 UTC is 08:00 in Shanghai: the next run is Monday 02:30 local = Sunday 18:30 UTC.
//! let now: Timestamp = "2026-01-02T00:00:00Z".parse()?;
//! assert_eq!(schedule.next_after(now), Some("2026-01-04T18:30:00Z".parse()?));
//! assert_eq!(plan.spec.history_limit, 10);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod cron;
pub mod decide;
pub mod error;
pub mod model;
pub mod result;
pub mod store;

use std::path::{Path, PathBuf};

pub use cron::{CronExpr, Schedule};
pub use decide::{Decision, SkipReason, decide, next_run_time};
pub use error::PlanError;
pub use model::{ConcurrencyPolicy, InspectPlan, PlanSpec};
pub use result::{InspectResult, ResultEntry, ResultStatus, result_id, retention};
pub use store::{FileResultStore, ResultStore};

/// Plans read from a directory, and one error per file that is not a valid plan.
#[derive(Debug, Default)]
pub struct LoadedPlans {
    /// Valid plans with their files, sorted by name.
    pub plans: Vec<(PathBuf, InspectPlan)>,
    /// One error per bad file (naming it), or per duplicate name.
    pub errors: Vec<PlanError>,
}

impl LoadedPlans {
    /// The plan called `name`.
    pub fn find(&self, name: &str) -> Option<&(PathBuf, InspectPlan)> {
        self.plans.iter().find(|(_, p)| p.name() == name)
    }
}

/// Reads every `*.yaml`/`*.yml` file directly in `dir` (sorted; hidden files skipped) as one plan.
///
/// # Errors
/// [`PlanError::Io`] when `dir` cannot be listed; bad files go to [`LoadedPlans::errors`].
pub fn load_plans(dir: &Path) -> Result<LoadedPlans, PlanError> {
    let io = |source| PlanError::Io {
        path: dir.to_owned(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let lower = name.to_ascii_lowercase();
        if name.starts_with('.') || !(lower.ends_with(".yaml") || lower.ends_with(".yml")) {
            continue;
        }
        if entry.path().is_file() {
            files.push(entry.path());
        }
    }
    files.sort();
    let mut loaded = LoadedPlans::default();
    for file in files {
        let place = file.display().to_string();
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(source) => {
                loaded.errors.push(PlanError::Io { path: file, source });
                continue;
            }
        };
        match InspectPlan::from_yaml(&place, &text) {
            Ok(plan) => {
                if let Some((other, _)) = loaded.find(plan.name()) {
                    loaded.errors.push(
                        PlanError::InvalidField {
                            field: "metadata.name".to_owned(),
                            reason: format!(
                                "{:?} is also the name of {}",
                                plan.name(),
                                other.display()
                            ),
                        }
                        .in_plan(place),
                    );
                } else {
                    loaded.plans.push((file, plan));
                }
            }
            Err(e) => loaded.errors.push(e),
        }
    }
    loaded.plans.sort_by(|a, b| a.1.name().cmp(b.1.name()));
    Ok(loaded)
}
