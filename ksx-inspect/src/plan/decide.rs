//! The scheduler's decisions as pure functions: given the plan, its last scheduled time, the run in progress
//! and `now`, run now, skip, or wait (spec §3: `suspend`, `startingDeadlineSeconds`, `concurrencyPolicy`).
//!
//! Only the most recent due fire time counts: older missed ones are skipped, never caught up one by one.

use std::fmt;

use jiff::Timestamp;

use super::cron::Schedule;
use super::model::{ConcurrencyPolicy, PlanSpec};

/// Why a due run is not started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// The due time is more than `startingDeadlineSeconds` ago.
    MissedDeadline {
        /// Seconds between the due time and now.
        late_by_seconds: i64,
        /// `startingDeadlineSeconds`.
        deadline_seconds: u64,
    },
    /// `concurrencyPolicy: Forbid` and a run is still going.
    ConcurrencyForbid {
        /// The id of the running result.
        running: String,
    },
}

/// What the scheduler does now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// `suspend: true`: nothing is scheduled (`nextRunTime: null`).
    Suspended,
    /// Nothing is due; the next fire time, if the schedule fires again.
    Wait {
        /// The next fire time after now.
        next: Option<Timestamp>,
    },
    /// Start a run for the due time `scheduled`.
    Run {
        /// The fire time this run stands for.
        scheduled: Timestamp,
        /// `concurrencyPolicy: Replace`: the running result to cancel first.
        replace: Option<String>,
    },
    /// The run due at `scheduled` is skipped; record `scheduled` as handled.
    Skip {
        /// The fire time that is skipped.
        scheduled: Timestamp,
        /// Why.
        reason: SkipReason,
        /// The next fire time after now.
        next: Option<Timestamp>,
    },
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let next = |n: &Option<Timestamp>| n.map_or_else(|| "never".to_owned(), |t| t.to_string());
        match self {
            Self::Suspended => f.write_str("suspended: nothing is scheduled"),
            Self::Wait { next: n } => write!(f, "nothing due; next run at {}", next(n)),
            Self::Run {
                scheduled,
                replace: None,
            } => write!(f, "run due at {scheduled}"),
            Self::Run {
                scheduled,
                replace: Some(id),
            } => write!(f, "run due at {scheduled}, replacing running {id}"),
            Self::Skip {
                scheduled,
                reason:
                    SkipReason::MissedDeadline {
                        late_by_seconds,
                        deadline_seconds,
                    },
                next: n,
            } => write!(
                f,
                "skipped run due at {scheduled}: {late_by_seconds} s late, past startingDeadlineSeconds {deadline_seconds}; next run at {}",
                next(n)
            ),
            Self::Skip {
                scheduled,
                reason: SkipReason::ConcurrencyForbid { running },
                next: n,
            } => write!(
                f,
                "skipped run due at {scheduled}: {running} is still running (concurrencyPolicy Forbid); next run at {}",
                next(n)
            ),
        }
    }
}

/// The next fire time after `now`, or `None` when the plan is suspended or never fires again.
pub fn next_run_time(spec: &PlanSpec, schedule: &Schedule, now: Timestamp) -> Option<Timestamp> {
    if spec.suspend {
        None
    } else {
        schedule.next_after(now)
    }
}

/// Decides what to do at `now`.
///
/// `last_scheduled` is the fire time of the last run started or skipped (the plan's creation time before the
/// first one): fire times at or before it are handled. `running` is the id of a run still in progress.
pub fn decide(
    spec: &PlanSpec,
    schedule: &Schedule,
    last_scheduled: Timestamp,
    running: Option<&str>,
    now: Timestamp,
) -> Decision {
    if spec.suspend {
        return Decision::Suspended;
    }
    let next = schedule.next_after(now);
    let Some(due) = schedule.last_at_or_before(now) else {
        return Decision::Wait { next };
    };
    if due <= last_scheduled {
        return Decision::Wait { next };
    }
    if let Some(deadline) = spec.starting_deadline_seconds {
        let late = now.as_second().saturating_sub(due.as_second());
        if u64::try_from(late).is_ok_and(|l| l > deadline) {
            return Decision::Skip {
                scheduled: due,
                reason: SkipReason::MissedDeadline {
                    late_by_seconds: late,
                    deadline_seconds: deadline,
                },
                next,
            };
        }
    }
    match (running, spec.concurrency_policy) {
        (Some(id), ConcurrencyPolicy::Forbid) => Decision::Skip {
            scheduled: due,
            reason: SkipReason::ConcurrencyForbid {
                running: id.to_owned(),
            },
            next,
        },
        (Some(id), ConcurrencyPolicy::Replace) => Decision::Run {
            scheduled: due,
            replace: Some(id.to_owned()),
        },
        (None, _) => Decision::Run {
            scheduled: due,
            replace: None,
        },
    }
}
