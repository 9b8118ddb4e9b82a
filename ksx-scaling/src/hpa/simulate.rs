//! Replays a load timeline through the HPA engine: at every sync the real replica calculator (a Pods metric
//! with an AverageValue target over ready pods) proposes, normalization decides, and the new count takes effect
//! at once. Pure; the CLI draws the result (sparkline, SVG).

use serde::{Deserialize, Serialize};

use super::contract::UnixTime;
use super::model::{
    DEFAULT_DOWNSCALE_STABILIZATION_SECS, DEFAULT_SYNC_PERIOD_SECS, DEFAULT_TOLERANCE, HpaBehavior,
    LimitReason, MetricIdentifier, MetricSourceType, MetricSpec, MetricTarget, NANOS_PER_SEC,
    PodsMetricSource,
};
use super::normalize::{History, NormalizeArgs, normalize};
use super::pod::{ConditionStatus, PodInfo, PodPhase, PodSample, ReadyCondition};
use super::replicas::{CalculatorConfig, MetricData, Tolerances, compute_replicas};
use crate::error::{Error, Result};

/// Most syncs one simulation may run, so a typo in a time cannot hang the CLI.
pub const MAX_STEPS: i64 = 100_000;

fn default_sync() -> i64 {
    DEFAULT_SYNC_PERIOD_SECS
}
fn default_min() -> i32 {
    1
}
fn default_window() -> i64 {
    DEFAULT_DOWNSCALE_STABILIZATION_SECS
}
fn default_tolerance() -> f64 {
    DEFAULT_TOLERANCE
}

/// One point of the load timeline: from `t` on, the workload receives `load` in total (requests per second,
/// cores…), spread evenly over its pods.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoadPoint {
    /// Seconds since the start.
    pub t: UnixTime,
    /// The total load from then on.
    pub load: f64,
}

/// The input of `ksx hpa simulate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SimulateRequest {
    /// Replicas at the start.
    pub initial_replicas: i32,
    /// `spec.minReplicas` (default 1).
    #[serde(default = "default_min")]
    pub min_replicas: i32,
    /// `spec.maxReplicas`.
    pub max_replicas: i32,
    /// The load each pod should carry (the AverageValue target).
    pub target_per_pod: f64,
    /// `spec.behavior`; `null` selects the legacy path.
    #[serde(default)]
    pub behavior: Option<HpaBehavior>,
    /// Seconds between syncs (default 15).
    #[serde(default = "default_sync")]
    pub sync_period_seconds: i64,
    /// The downscale stabilization flag (default 300).
    #[serde(default = "default_window")]
    pub downscale_stabilization_window_seconds: i64,
    /// The tolerance flag (default 0.1).
    #[serde(default = "default_tolerance")]
    pub tolerance: f64,
    /// The load over time, in time order; the simulation ends at the last point.
    pub timeline: Vec<LoadPoint>,
}

/// One sync of the simulation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimulatedStep {
    /// Seconds since the start.
    pub t: UnixTime,
    /// The load at that time.
    pub load: f64,
    /// The calculator's proposal.
    pub proposal: i32,
    /// The replicas after this sync.
    pub replicas: i32,
    /// Why the count was limited, if it was.
    pub limit_reason: LimitReason,
}

/// Milli-units per unit of load, so fractional loads survive the integer engine.
const MILLI: f64 = 1000.0;

/// Runs the simulation.
///
/// # Errors
/// [`Error::InvalidField`] naming the JSON path: bounds as the API checks them, a non-positive target or sync
/// period, a negative or non-finite load, a timeline out of order or longer than [`MAX_STEPS`] syncs.
pub fn simulate(req: &SimulateRequest) -> Result<Vec<SimulatedStep>> {
    validate(req)?;
    let behavior = req
        .behavior
        .as_ref()
        .map(|b| b.resolve(req.downscale_stabilization_window_seconds));
    let tolerances = Tolerances::both(req.tolerance);
    let config = CalculatorConfig {
        tolerances: Tolerances {
            scale_up: behavior
                .as_ref()
                .and_then(|b| b.scale_up.tolerance)
                .unwrap_or(tolerances.scale_up),
            scale_down: behavior
                .as_ref()
                .and_then(|b| b.scale_down.tolerance)
                .unwrap_or(tolerances.scale_down),
        },
        ..CalculatorConfig::default()
    };
    let target = saturate_milli(req.target_per_pod);
    let metric = MetricSpec {
        source_type: MetricSourceType::Pods,
        resource: None,
        container_resource: None,
        pods: Some(PodsMetricSource {
            metric: MetricIdentifier {
                name: "load".to_owned(),
                selector: None,
            },
            target: MetricTarget::average_value(ksx_core::quantity::Quantity::from_milli(
                target,
                ksx_core::quantity::Format::DecimalSi,
            )),
        }),
        object: None,
        external: None,
    };
    let end = req.timeline.last().map_or(0, |p| p.t.0);
    let sync = req.sync_period_seconds * NANOS_PER_SEC;
    let mut history = History::default();
    let mut replicas = req.initial_replicas;
    let mut steps = Vec::new();
    let mut next_point = 0usize;
    let mut load = 0.0;
    let mut t = 0i64;
    while t <= end {
        while let Some(p) = req.timeline.get(next_point).filter(|p| p.t.0 <= t) {
            load = p.load;
            next_point += 1;
        }
        let (pods, samples) = pods_with_load(replicas, load, t);
        let proposal = if replicas == 0 {
            replicas
        } else {
            let data = MetricData {
                now: t,
                current_replicas: replicas,
                status_replicas: replicas,
                pods: &pods,
                pod_samples: &samples,
                object_value: None,
                external_values: &[],
            };
            compute_replicas(&metric, &data, &config).map_or(replicas, |p| p.replicas)
        };
        if history.recommendations.is_empty() {
            history
                .recommendations
                .push(super::normalize::Recommendation {
                    replicas,
                    timestamp: t,
                });
        }
        let (new, limit_reason) = if replicas > req.max_replicas {
            (req.max_replicas, LimitReason::TooManyReplicas)
        } else if replicas < req.min_replicas {
            (req.min_replicas, LimitReason::TooFewReplicas)
        } else {
            let n = normalize(
                &mut history,
                &NormalizeArgs {
                    now: t,
                    current_replicas: replicas,
                    desired_replicas: proposal,
                    min_replicas: req.min_replicas,
                    max_replicas: req.max_replicas,
                    behavior: behavior.as_ref(),
                    downscale_window_secs: req.downscale_stabilization_window_seconds,
                },
            );
            (n.desired_replicas, n.limit_reason)
        };
        replicas = new;
        steps.push(SimulatedStep {
            t: UnixTime(t),
            load,
            proposal,
            replicas,
            limit_reason,
        });
        t += sync;
    }
    Ok(steps)
}

#[allow(
    clippy::cast_possible_truncation,
    reason = "the float-to-int `as` cast saturates, which is the intent for huge loads"
)]
fn saturate_milli(x: f64) -> i64 {
    (x * MILLI).round() as i64
}

/// `replicas` ready pods sharing `load` evenly.
fn pods_with_load(replicas: i32, load: f64, now: i64) -> (Vec<PodInfo>, Vec<PodSample>) {
    let n = usize::try_from(replicas).unwrap_or(0);
    let per_pod = if n == 0 {
        0
    } else {
        saturate_milli(load / n as f64)
    };
    let pods: Vec<PodInfo> = (0..n)
        .map(|i| PodInfo {
            name: format!("pod-{i:06}"),
            phase: PodPhase::Running,
            deleted: false,
            start_time: Some(now - 3600 * NANOS_PER_SEC),
            ready: Some(ReadyCondition {
                status: ConditionStatus::True,
                last_transition: now - 3600 * NANOS_PER_SEC,
            }),
            containers: Vec::new(),
        })
        .collect();
    let samples = pods
        .iter()
        .map(|p| PodSample {
            pod: p.name.clone(),
            timestamp: now,
            window: 30 * NANOS_PER_SEC,
            value: per_pod,
            containers: std::collections::BTreeMap::new(),
        })
        .collect();
    (pods, samples)
}

fn validate(req: &SimulateRequest) -> Result<()> {
    if req.max_replicas < 1 {
        return Err(Error::invalid("maxReplicas", "must be at least 1"));
    }
    if req.min_replicas < 0 || req.min_replicas > req.max_replicas {
        return Err(Error::invalid(
            "minReplicas",
            "must be between 0 and maxReplicas",
        ));
    }
    if req.initial_replicas < 0 || req.initial_replicas > 100_000 {
        return Err(Error::invalid(
            "initialReplicas",
            "must be between 0 and 100000",
        ));
    }
    if !(req.target_per_pod.is_finite() && req.target_per_pod >= 0.001) {
        return Err(Error::invalid("targetPerPod", "must be at least 0.001"));
    }
    if !(req.tolerance.is_finite() && req.tolerance >= 0.0) {
        return Err(Error::invalid(
            "tolerance",
            "must be greater than or equal to 0",
        ));
    }
    if req.sync_period_seconds < 1 {
        return Err(Error::invalid("syncPeriodSeconds", "must be at least 1"));
    }
    if req.downscale_stabilization_window_seconds < 0 {
        return Err(Error::invalid(
            "downscaleStabilizationWindowSeconds",
            "must be greater than or equal to 0",
        ));
    }
    if let Some(b) = &req.behavior {
        b.validate("behavior")?;
    }
    let mut last = 0i64;
    for (i, p) in req.timeline.iter().enumerate() {
        if p.t.0 < last {
            return Err(Error::invalid(
                format!("timeline[{i}].t"),
                "must not go back in time",
            ));
        }
        last = p.t.0;
        if !(p.load.is_finite() && p.load >= 0.0 && p.load < 1e12) {
            return Err(Error::invalid(
                format!("timeline[{i}].load"),
                "must be between 0 and 10^12",
            ));
        }
    }
    if last / (req.sync_period_seconds * NANOS_PER_SEC) > MAX_STEPS {
        return Err(Error::invalid(
            "timeline",
            format!("spans more than {MAX_STEPS} syncs"),
        ));
    }
    if req.timeline.is_empty() {
        return Err(Error::invalid("timeline", "must hold at least one point"));
    }
    Ok(())
}

/// A one-line sparkline of the replicas, scaled to the largest count.
pub fn sparkline(values: &[i32]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.iter().copied().max().unwrap_or(0).max(1);
    values
        .iter()
        .map(|v| {
            let idx = usize::try_from(i64::from((*v).max(0)) * 7 / i64::from(max)).unwrap_or(0);
            BARS.get(idx).copied().unwrap_or('█')
        })
        .collect()
}

/// A standalone SVG chart of the load (grey) and the replicas (blue) over time; no scripts.
pub fn to_svg(steps: &[SimulatedStep], target_per_pod: f64) -> String {
    use std::fmt::Write as _;
    let (w, h, pad) = (720.0_f64, 240.0_f64, 30.0_f64);
    let n = steps.len().max(2) as f64 - 1.0;
    let max_replicas = steps.iter().map(|s| s.replicas).max().unwrap_or(1).max(1);
    let max_load = steps
        .iter()
        .map(|s| s.load / target_per_pod)
        .fold(0.0_f64, f64::max)
        .max(f64::from(max_replicas));
    let x = |i: usize| pad + (w - 2.0 * pad) * i as f64 / n;
    let y = |v: f64| h - pad - (h - 2.0 * pad) * v / max_load;
    let mut load_path = String::new();
    let mut replica_path = String::new();
    for (i, s) in steps.iter().enumerate() {
        let _ = write!(load_path, "{:.1},{:.1} ", x(i), y(s.load / target_per_pod));
        let _ = write!(replica_path, "{:.1},{:.1} ", x(i), y(f64::from(s.replicas)));
    }
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <polyline fill=\"none\" stroke=\"#999\" stroke-width=\"1.5\" points=\"{}\"/>\n\
         <polyline fill=\"none\" stroke=\"#1f6feb\" stroke-width=\"2\" points=\"{}\"/>\n\
         <text x=\"{pad}\" y=\"18\" font-family=\"sans-serif\" font-size=\"12\">replicas (blue), load / target per pod (grey); peak {max_replicas} replicas</text>\n\
         </svg>\n",
        load_path.trim_end(),
        replica_path.trim_end()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(behavior: Option<HpaBehavior>) -> SimulateRequest {
        SimulateRequest {
            initial_replicas: 2,
            min_replicas: 2,
            max_replicas: 50,
            target_per_pod: 100.0,
            behavior,
            sync_period_seconds: 15,
            downscale_stabilization_window_seconds: 300,
            tolerance: 0.1,
            timeline: vec![
                LoadPoint {
                    t: UnixTime::from_secs(0),
                    load: 200.0,
                },
                LoadPoint {
                    t: UnixTime::from_secs(60),
                    load: 3000.0,
                },
                LoadPoint {
                    t: UnixTime::from_secs(300),
                    load: 200.0,
                },
                LoadPoint {
                    t: UnixTime::from_secs(900),
                    load: 200.0,
                },
            ],
        }
    }

    #[test]
    fn spike_and_fall_with_the_default_behavior() {
        let steps = simulate(&request(Some(HpaBehavior::default()))).unwrap();
        let replicas: Vec<i32> = steps.iter().map(|s| s.replicas).collect();
        // Up at max(c + 4, 2c) per 15 s: 2 → 6 → 12 → 24 → 30; down only after the 300 s window.
        assert_eq!(&replicas[4..9], &[6, 12, 24, 30, 30]);
        // The last high recommendation is at 285 s; the window keeps it until strictly after 585 s.
        let down = steps
            .iter()
            .position(|s| s.t.0 > 300 * NANOS_PER_SEC && s.replicas < 30)
            .unwrap();
        assert_eq!(steps[down].t, UnixTime::from_secs(585));
        // 200 over 30 pods is 6667m each: ceil(0.06667 × 30) = 3, then 66667m each holds 3 (upstream rounding).
        assert_eq!(replicas.last(), Some(&3));
        assert!(steps.iter().all(|s| (2..=50).contains(&s.replicas)));
    }

    #[test]
    fn legacy_path_caps_at_twice_per_sync() {
        let steps = simulate(&request(None)).unwrap();
        let replicas: Vec<i32> = steps.iter().map(|s| s.replicas).collect();
        assert_eq!(&replicas[4..8], &[4, 8, 16, 30]);
        assert_eq!(sparkline(&[0, 15, 30]), "▁▄█");
        assert!(to_svg(&steps, 100.0).starts_with("<svg"));
    }

    #[test]
    fn bad_requests_name_the_field() {
        let mut r = request(None);
        r.timeline[1].t = UnixTime::from_secs(-5);
        assert_eq!(
            simulate(&r).unwrap_err().to_string(),
            "timeline[1].t: must not go back in time"
        );
        let mut r = request(None);
        r.target_per_pod = 0.0;
        assert!(
            simulate(&r)
                .unwrap_err()
                .to_string()
                .starts_with("targetPerPod")
        );
    }
}
