//! Rolling-update arithmetic of Deployments and StatefulSets, exactly as the Kubernetes controllers do it.
//!
//! This module is pure: numbers in, numbers (and the reasons for them) out. No I/O, no clock. The in-memory
//! cluster's Deployment and StatefulSet controllers drive it; the gateway rollout engine reuses the fenceposts.
//!
//! **Deployment** (`RollingUpdate` strategy):
//! - [`resolve_fenceposts`] turns `maxSurge`/`maxUnavailable` (integer or percent) into counts: surge rounds
//!   **up**, unavailable rounds **down**, and if both come out 0 unavailable becomes 1.
//! - [`new_replica_set_replicas`] is how far the new ReplicaSet may scale up: `maxTotal = desired + surge`.
//! - [`scale_down_old_replica_sets`] is how far the old ReplicaSets may scale down: first their unhealthy
//!   replicas, then healthy ones, oldest ReplicaSet first, never taking availability under
//!   `minAvailable = desired − maxUnavailable`.
//!
//! **StatefulSet** (`RollingUpdate` strategy): [`statefulset_max_unavailable`] (default 1, rounds up, at least 1)
//! and [`statefulset_pods_to_update`] (highest ordinal first, only ordinals `>= partition`).
//!
//! ```
//! use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
//! use ksx_core::rolling::{resolve_fenceposts, Fenceposts};
//!
//! let pct = |s: &str| IntOrString::String(s.to_owned());
//! let f = resolve_fenceposts("default/web", Some(&pct("39%")), Some(&pct("39%")), 10)?;
//! assert_eq!(f, Fenceposts { surge: 4, unavailable: 3 });
//! # Ok::<(), ksx_core::Error>(())
//! ```

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::error::{Error, Result};

/// The field path of a Deployment's `maxSurge`, used in error messages.
pub const MAX_SURGE_FIELD: &str = "spec.strategy.rollingUpdate.maxSurge";
/// The field path of a Deployment's `maxUnavailable`, used in error messages.
pub const MAX_UNAVAILABLE_FIELD: &str = "spec.strategy.rollingUpdate.maxUnavailable";
/// The field path of a StatefulSet's `maxUnavailable`, used in error messages.
pub const STATEFULSET_MAX_UNAVAILABLE_FIELD: &str =
    "spec.updateStrategy.rollingUpdate.maxUnavailable";

/// The API-server default of a Deployment's `maxSurge` and `maxUnavailable`: 25 %.
pub fn default_deployment_fencepost() -> IntOrString {
    IntOrString::String("25%".to_owned())
}

/// Resolved surge and unavailability of a rolling update, as pod counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Fenceposts {
    /// How many pods above `desired` may exist during the update.
    pub surge: i32,
    /// How many pods below `desired` may be unavailable during the update (before clamping to `desired`).
    pub unavailable: i32,
}

/// Resolves an integer or a percentage of `total`: integers as they are, percentages rounded up or down.
///
/// # Errors
/// [`Error::InvalidField`] naming `object` and `field` for a string that is not `<integer>%` or a negative value.
pub fn scaled_value(
    object: &str,
    field: &str,
    value: &IntOrString,
    total: i32,
    round_up: bool,
) -> Result<i32> {
    let invalid = |reason: String| Error::InvalidField {
        object: object.to_owned(),
        field: field.to_owned(),
        reason,
    };
    match value {
        IntOrString::Int(n) if *n < 0 => Err(invalid(format!("must not be negative, got {n}"))),
        IntOrString::Int(n) => Ok(*n),
        IntOrString::String(text) => {
            let percent: i64 = text
                .strip_suffix('%')
                .and_then(|digits| digits.parse().ok())
                .ok_or_else(|| {
                    invalid(format!(
                        "invalid value {text:?}: must be an integer or a percentage like \"25%\""
                    ))
                })?;
            if percent < 0 {
                return Err(invalid(format!("must not be negative, got {text:?}")));
            }
            let product = percent.saturating_mul(i64::from(total.max(0)));
            let scaled = if round_up {
                product.saturating_add(99) / 100
            } else {
                product / 100
            };
            Ok(i32::try_from(scaled).unwrap_or(i32::MAX))
        }
    }
}

/// Resolves `maxSurge` (rounded up) and `maxUnavailable` (rounded down) against `desired`. An absent value counts
/// as 0 (the API server defaults both to 25 % before a controller sees them: see
/// [`default_deployment_fencepost`]). If both resolve to 0, unavailable becomes 1, so an update can always make
/// progress.
///
/// # Errors
/// [`Error::InvalidField`] naming `object` and the field for a malformed or negative value, or a percentage of
/// `maxUnavailable` above 100 %.
pub fn resolve_fenceposts(
    object: &str,
    max_surge: Option<&IntOrString>,
    max_unavailable: Option<&IntOrString>,
    desired: i32,
) -> Result<Fenceposts> {
    let zero = IntOrString::Int(0);
    let surge = scaled_value(
        object,
        MAX_SURGE_FIELD,
        max_surge.unwrap_or(&zero),
        desired,
        true,
    )?;
    let unavailable_value = max_unavailable.unwrap_or(&zero);
    if let IntOrString::String(text) = unavailable_value
        && text
            .strip_suffix('%')
            .and_then(|d| d.parse::<i64>().ok())
            .is_some_and(|p| p > 100)
    {
        return Err(Error::InvalidField {
            object: object.to_owned(),
            field: MAX_UNAVAILABLE_FIELD.to_owned(),
            reason: format!("must not be more than 100%, got {text:?}"),
        });
    }
    let unavailable = scaled_value(
        object,
        MAX_UNAVAILABLE_FIELD,
        unavailable_value,
        desired,
        false,
    )?;
    if surge == 0 && unavailable == 0 {
        return Ok(Fenceposts {
            surge: 0,
            unavailable: 1,
        });
    }
    Ok(Fenceposts { surge, unavailable })
}

/// The number of pods that may be unavailable during a rolling update of `desired` pods: the resolved value,
/// clamped to `desired` (and 0 when `desired` is 0), as the Deployment controller's `MaxUnavailable` does.
pub fn max_unavailable(desired: i32, fenceposts: Fenceposts) -> i32 {
    if desired <= 0 {
        return 0;
    }
    fenceposts.unavailable.clamp(0, desired)
}

/// `desired − maxUnavailable`: the availability a rolling update never goes below.
pub fn min_available(desired: i32, fenceposts: Fenceposts) -> i32 {
    desired.max(0) - max_unavailable(desired, fenceposts)
}

/// The `spec.replicas` the new ReplicaSet scales up to: with `maxTotal = desired + surge`, nothing changes when
/// `all_replicas ≥ maxTotal`; otherwise `new + min(maxTotal − all_replicas, desired − new)`.
///
/// `all_replicas` is the sum of `spec.replicas` over every ReplicaSet of the Deployment, the new one included.
/// A new ReplicaSet above `desired` is scaled straight down to `desired`.
pub fn new_replica_set_replicas(
    desired: i32,
    surge: i32,
    all_replicas: i32,
    new_replicas: i32,
) -> i32 {
    if new_replicas >= desired {
        return desired.max(0);
    }
    let max_total = desired.saturating_add(surge);
    if all_replicas >= max_total {
        return new_replicas;
    }
    let scale_up = (max_total - all_replicas).min(desired - new_replicas);
    new_replicas + scale_up
}

/// `allPods − minAvailable − newUnavailable`: how many old pods may go at most in this step (nothing when ≤ 0).
/// Worked example from the spec: 13 pods, minAvailable 8, 1 new pod unavailable → 4.
pub fn max_scaled_down(all_replicas: i32, min_available: i32, new_unavailable: i32) -> i32 {
    all_replicas - min_available - new_unavailable
}

/// The counts of one ReplicaSet the scale-down needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReplicaSetCounts {
    /// `spec.replicas`.
    pub replicas: i32,
    /// `status.availableReplicas`: pods Ready for at least `minReadySeconds`.
    pub available: i32,
}

/// What [`scale_down_old_replica_sets`] decided, with its reasons.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScaleDown {
    /// `allPods − minAvailable − newUnavailable` (nothing happens when ≤ 0).
    pub max_scaled_down: i32,
    /// Unhealthy old replicas removed first.
    pub cleaned_up: i32,
    /// Healthy old replicas removed afterwards.
    pub scaled_down: i32,
    /// The new `spec.replicas` of each old ReplicaSet, in the order given (oldest first).
    pub replicas: Vec<i32>,
    /// Why, in order, for logs and reports.
    pub reasons: Vec<String>,
}

impl ScaleDown {
    /// Total old replicas removed in this step.
    pub fn total(&self) -> i32 {
        self.cleaned_up + self.scaled_down
    }
}

/// Plans the old ReplicaSets' scale-down of one rolling-update step, as the Deployment controller's
/// `reconcileOldReplicaSets` does:
/// 1. `minAvailable = desired − maxUnavailable`, `newUnavailable = new.replicas − new.available`,
///    `maxScaledDown = allPods − minAvailable − newUnavailable`; stop when ≤ 0.
/// 2. Remove unhealthy old replicas (`replicas − available` of each), oldest ReplicaSet first, up to
///    `maxScaledDown`, so crash-looping old pods never block progress.
/// 3. Scale old ReplicaSets down, oldest first, by at most `available(all) − minAvailable` in total.
///
/// `old` must be sorted oldest first; `max_unavailable` is the clamped value from [`max_unavailable`].
pub fn scale_down_old_replica_sets(
    desired: i32,
    max_unavailable: i32,
    new: ReplicaSetCounts,
    old: &[ReplicaSetCounts],
) -> ScaleDown {
    let mut replicas: Vec<i32> = old.iter().map(|rs| rs.replicas).collect();
    let mut plan = ScaleDown {
        replicas: replicas.clone(),
        ..ScaleDown::default()
    };
    let old_replicas: i32 = old.iter().map(|rs| rs.replicas).sum();
    if old_replicas == 0 {
        plan.reasons.push("no old replicas left".to_owned());
        return plan;
    }
    let all_replicas = old_replicas + new.replicas;
    let min_available = desired - max_unavailable;
    let new_unavailable = new.replicas - new.available;
    plan.max_scaled_down = max_scaled_down(all_replicas, min_available, new_unavailable);
    if plan.max_scaled_down <= 0 {
        plan.reasons.push(format!(
            "cannot scale down: {all_replicas} pods − minAvailable {min_available} − {new_unavailable} new \
             unavailable = {}",
            plan.max_scaled_down
        ));
        return plan;
    }

    for (target, rs) in replicas.iter_mut().zip(old) {
        if plan.cleaned_up >= plan.max_scaled_down {
            break;
        }
        let unhealthy = (rs.replicas - rs.available).max(0);
        if rs.replicas == 0 || unhealthy == 0 {
            continue;
        }
        let count = unhealthy.min(plan.max_scaled_down - plan.cleaned_up);
        *target -= count;
        plan.cleaned_up += count;
    }
    if plan.cleaned_up > 0 {
        plan.reasons.push(format!(
            "removed {} unhealthy old replicas (budget {})",
            plan.cleaned_up, plan.max_scaled_down
        ));
    }

    let available: i32 = new.available + old.iter().map(|rs| rs.available).sum::<i32>();
    if available <= min_available {
        plan.reasons.push(format!(
            "availability {available} is at or below minAvailable {min_available}: no healthy old replica may go"
        ));
    } else {
        let budget = available - min_available;
        for target in &mut replicas {
            if plan.scaled_down >= budget {
                break;
            }
            if *target == 0 {
                continue;
            }
            let count = (*target).min(budget - plan.scaled_down);
            *target -= count;
            plan.scaled_down += count;
        }
        plan.reasons.push(format!(
            "scaled down {} old replicas keeping availability ≥ {min_available} (available {available})",
            plan.scaled_down
        ));
    }
    plan.replicas = replicas;
    plan
}

/// The `maxUnavailable` of a StatefulSet rolling update: default 1, percentages of `replicas` rounded **up**, and
/// never less than 1.
///
/// # Errors
/// [`Error::InvalidField`] naming `object` and the field for a malformed or negative value.
pub fn statefulset_max_unavailable(
    object: &str,
    value: Option<&IntOrString>,
    replicas: i32,
) -> Result<i32> {
    let one = IntOrString::Int(1);
    let resolved = scaled_value(
        object,
        STATEFULSET_MAX_UNAVAILABLE_FIELD,
        value.unwrap_or(&one),
        replicas,
        true,
    )?;
    Ok(resolved.max(1))
}

/// The state of the pod at one StatefulSet ordinal, as the rolling update sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OrdinalState {
    /// The pod runs the update revision.
    pub updated: bool,
    /// The pod is Running and Ready.
    pub healthy: bool,
}

/// The ordinals whose pods a StatefulSet rolling update deletes now (to be recreated at the update revision),
/// highest first. `pods` is indexed by ordinal. Pods below `partition` are never updated; every unhealthy pod
/// uses up one unit of `max_unavailable`, so with the default of 1 the update waits for each replaced pod to be
/// Running and Ready before touching the next.
pub fn statefulset_pods_to_update(
    pods: &[OrdinalState],
    partition: i32,
    max_unavailable: i32,
) -> Vec<usize> {
    let unavailable = pods.iter().filter(|p| !p.healthy).count();
    let budget = usize::try_from(max_unavailable.max(1))
        .unwrap_or(1)
        .saturating_sub(unavailable);
    let first = usize::try_from(partition.max(0)).unwrap_or(0);
    pods.iter()
        .enumerate()
        .rev()
        .filter(|(ordinal, pod)| *ordinal >= first && !pod.updated)
        .map(|(ordinal, _)| ordinal)
        .take(budget)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(n: i32) -> IntOrString {
        IntOrString::Int(n)
    }

    fn pct(s: &str) -> IntOrString {
        IntOrString::String(s.to_owned())
    }

    /// One row of the spec's fencepost table.
    fn check(
        desired: i32,
        surge: Option<&IntOrString>,
        unavailable: Option<&IntOrString>,
        expected: (i32, i32),
    ) {
        let got = resolve_fenceposts("default/web", surge, unavailable, desired).unwrap();
        assert_eq!(
            (got.surge, got.unavailable),
            expected,
            "desired {desired}, {surge:?}, {unavailable:?}"
        );
    }

    #[test]
    fn fencepost_rows_from_the_spec() {
        check(0, Some(&pct("0%")), Some(&pct("0%")), (0, 1));
        check(10, Some(&pct("39%")), Some(&pct("39%")), (4, 3));
        check(8, Some(&pct("25%")), Some(&pct("25%")), (2, 2));
        check(2, Some(&int(1)), Some(&int(1)), (1, 1));
        check(10, None, None, (0, 1));
        check(
            10,
            Some(&default_deployment_fencepost()),
            Some(&default_deployment_fencepost()),
            (3, 2),
        );
        check(1, Some(&pct("25%")), Some(&pct("25%")), (1, 0));
    }

    #[test]
    fn malformed_fenceposts_name_the_field() {
        let err = resolve_fenceposts("default/web", Some(&pct("oops")), Some(&pct("urg")), 10)
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("default/web") && text.contains(MAX_SURGE_FIELD) && text.contains("oops"),
            "{text}"
        );
        let err =
            resolve_fenceposts("default/web", Some(&int(1)), Some(&pct("urg")), 10).unwrap_err();
        assert!(err.to_string().contains(MAX_UNAVAILABLE_FIELD), "{err}");
        assert!(resolve_fenceposts("w", Some(&int(-1)), None, 10).is_err());
        assert!(resolve_fenceposts("w", None, Some(&pct("101%")), 10).is_err());
        assert!(resolve_fenceposts("w", None, Some(&pct("25")), 10).is_err());
    }

    #[test]
    fn max_unavailable_is_clamped() {
        let f = Fenceposts {
            surge: 0,
            unavailable: 5,
        };
        assert_eq!(max_unavailable(3, f), 3);
        assert_eq!(max_unavailable(0, f), 0);
        assert_eq!(
            min_available(
                10,
                Fenceposts {
                    surge: 0,
                    unavailable: 2
                }
            ),
            8
        );
    }

    #[test]
    fn new_replica_set_scale_up() {
        // desired 10, surge 3: 10 old + 0 new → the new one may take 3.
        assert_eq!(new_replica_set_replicas(10, 3, 10, 0), 3);
        // Already at maxTotal: nothing.
        assert_eq!(new_replica_set_replicas(10, 3, 13, 3), 3);
        // Capped by desired − new.
        assert_eq!(new_replica_set_replicas(10, 3, 9, 9), 10);
        // Fresh Deployment: straight to desired.
        assert_eq!(new_replica_set_replicas(4, 1, 0, 0), 4);
        // Above desired: down to desired.
        assert_eq!(new_replica_set_replicas(4, 1, 6, 6), 4);
        // Surge 0: no scale-up until an old pod is gone.
        assert_eq!(new_replica_set_replicas(5, 0, 5, 0), 0);
        assert_eq!(new_replica_set_replicas(5, 0, 4, 0), 1);
    }

    #[test]
    fn worked_example_scales_down_four() {
        assert_eq!(max_scaled_down(13, 8, 1), 4);
        let plan = scale_down_old_replica_sets(
            10,
            2,
            ReplicaSetCounts {
                replicas: 3,
                available: 2,
            },
            &[ReplicaSetCounts {
                replicas: 10,
                available: 10,
            }],
        );
        assert_eq!(plan.max_scaled_down, 4);
        assert_eq!(plan.cleaned_up, 0);
        assert_eq!(plan.scaled_down, 4);
        assert_eq!(plan.replicas, vec![6]);
    }

    #[test]
    fn unhealthy_old_pods_go_first_and_oldest_first() {
        // desired 4, maxUnavailable 1; old RSs: oldest has 2 crash-looping pods.
        let plan = scale_down_old_replica_sets(
            4,
            1,
            ReplicaSetCounts {
                replicas: 1,
                available: 0,
            },
            &[
                ReplicaSetCounts {
                    replicas: 2,
                    available: 0,
                },
                ReplicaSetCounts {
                    replicas: 3,
                    available: 3,
                },
            ],
        );
        // all 6, minAvailable 3, new unavailable 1 → 2; both unhealthy go; available 3 = minAvailable → stop.
        assert_eq!(plan.max_scaled_down, 2);
        assert_eq!(plan.cleaned_up, 2);
        assert_eq!(plan.scaled_down, 0);
        assert_eq!(plan.replicas, vec![0, 3]);

        let plan = scale_down_old_replica_sets(
            4,
            2,
            ReplicaSetCounts {
                replicas: 2,
                available: 2,
            },
            &[
                ReplicaSetCounts {
                    replicas: 1,
                    available: 1,
                },
                ReplicaSetCounts {
                    replicas: 3,
                    available: 3,
                },
            ],
        );
        // available 6, minAvailable 2 → up to 4 healthy, oldest first: 1 from the first, 3 from the second.
        assert_eq!(plan.replicas, vec![0, 0]);
        assert_eq!(plan.total(), 4);
    }

    #[test]
    fn nothing_to_do_without_budget() {
        let plan = scale_down_old_replica_sets(
            3,
            0,
            ReplicaSetCounts {
                replicas: 1,
                available: 0,
            },
            &[ReplicaSetCounts {
                replicas: 3,
                available: 3,
            }],
        );
        // all 4 − minAvailable 3 − 1 new unavailable = 0.
        assert_eq!(plan.max_scaled_down, 0);
        assert_eq!(plan.replicas, vec![3]);
        assert!(!plan.reasons.is_empty());
        let plan = scale_down_old_replica_sets(3, 1, ReplicaSetCounts::default(), &[]);
        assert_eq!(plan.total(), 0);
    }

    #[test]
    fn statefulset_fenceposts() {
        assert_eq!(statefulset_max_unavailable("s", None, 5).unwrap(), 1);
        assert_eq!(
            statefulset_max_unavailable("s", Some(&pct("30%")), 5).unwrap(),
            2
        );
        assert_eq!(
            statefulset_max_unavailable("s", Some(&pct("0%")), 5).unwrap(),
            1
        );
        assert_eq!(
            statefulset_max_unavailable("s", Some(&int(3)), 5).unwrap(),
            3
        );
        assert!(
            statefulset_max_unavailable("s", Some(&pct("x")), 5)
                .unwrap_err()
                .to_string()
                .contains(STATEFULSET_MAX_UNAVAILABLE_FIELD)
        );
    }

    #[test]
    fn statefulset_updates_highest_ordinal_first_above_partition() {
        let healthy_old = OrdinalState {
            updated: false,
            healthy: true,
        };
        let pods = [healthy_old; 5];
        assert_eq!(statefulset_pods_to_update(&pods, 0, 1), vec![4]);
        assert_eq!(statefulset_pods_to_update(&pods, 0, 2), vec![4, 3]);
        assert_eq!(statefulset_pods_to_update(&pods, 3, 5), vec![4, 3]);
        let mut waiting = pods;
        waiting[4] = OrdinalState {
            updated: true,
            healthy: false,
        };
        assert!(statefulset_pods_to_update(&waiting, 0, 1).is_empty());
        waiting[4].healthy = true;
        assert_eq!(statefulset_pods_to_update(&waiting, 0, 1), vec![3]);
        assert!(statefulset_pods_to_update(&waiting, 4, 1).is_empty());
    }
}
