//! The simulated kubelet: how pods start, become Ready, never become Ready or crash-loop, and the log lines and
//! events they leave behind. Behaviour comes from [`PodProfile`]s set per workload, overridden by annotations on
//! the pod (template).

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting,
    ContainerStatus, Pod,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use rand::RngExt;

use super::pods::{after, container_names, node_name, set_condition};
use super::state::{EventType, Involved, State};
use super::store::Key;
use crate::cluster::selector::LabelSelector;
use crate::cluster::{Kind, Object};

/// Pod annotation: seconds from container start to Ready (`"5"`, `"2.5"`).
pub const STARTUP_DELAY_ANNOTATION: &str = "sim.ksx.io/startup-delay-seconds";
/// Pod annotation: up to this many extra seconds of random start-up delay, drawn from the seeded RNG.
pub const JITTER_ANNOTATION: &str = "sim.ksx.io/jitter-seconds";
/// Pod annotation: `"true"` or `"crash-loop"` (the container exits with code 1 after its start-up delay, again and
/// again), `"never-ready"` (runs but fails its readiness probe), `"false"` (healthy).
pub const FAIL_ANNOTATION: &str = "sim.ksx.io/fail";

/// The longest crash-loop back-off, as the kubelet caps it.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// The first crash-loop back-off.
const FIRST_BACKOFF: Duration = Duration::from_secs(10);

/// How a simulated pod fails, if it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum PodFailure {
    /// Starts and becomes Ready after its start-up delay.
    #[default]
    Healthy,
    /// Runs but never passes its readiness probe.
    NeverReady,
    /// Exits with code 1 after its start-up delay and is restarted with exponential back-off (`CrashLoopBackOff`).
    CrashLoop,
}

/// How simulated pods behave: start-up delay, random jitter and failure mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodProfile {
    /// Time from container start to Ready (or to the crash, for [`PodFailure::CrashLoop`]).
    pub startup_delay: Duration,
    /// Up to this much extra delay, drawn per pod from the cluster's seeded RNG.
    pub jitter: Duration,
    /// Whether and how the pod fails.
    pub failure: PodFailure,
}

impl Default for PodProfile {
    /// Healthy, Ready 2 s after start, no jitter.
    fn default() -> Self {
        Self {
            startup_delay: Duration::from_secs(2),
            jitter: Duration::ZERO,
            failure: PodFailure::Healthy,
        }
    }
}

impl PodProfile {
    /// A healthy pod Ready `startup_delay` after start.
    pub fn healthy(startup_delay: Duration) -> Self {
        Self {
            startup_delay,
            ..Self::default()
        }
    }

    /// A pod that crashes `startup_delay` after each start.
    pub fn crash_loop(startup_delay: Duration) -> Self {
        Self {
            startup_delay,
            jitter: Duration::ZERO,
            failure: PodFailure::CrashLoop,
        }
    }

    /// A pod that runs but is never Ready.
    pub fn never_ready() -> Self {
        Self {
            failure: PodFailure::NeverReady,
            ..Self::default()
        }
    }

    /// The same profile with up to `jitter` of random extra delay.
    #[must_use]
    pub fn with_jitter(mut self, jitter: Duration) -> Self {
        self.jitter = jitter;
        self
    }

    /// The profile with the `sim.ksx.io/*` annotations of a pod applied; values that do not parse are ignored
    /// (with a warning in the log).
    fn with_annotations(mut self, annotations: Option<&BTreeMap<String, String>>) -> Self {
        let Some(annotations) = annotations else {
            return self;
        };
        let seconds = |name: &str| {
            let text = annotations.get(name)?;
            let parsed = text
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(|s| Duration::try_from_secs_f64(s).ok());
            if parsed.is_none() {
                tracing::warn!(annotation = name, value = %text, "ignoring a simulation annotation that is not seconds");
            }
            parsed
        };
        if let Some(delay) = seconds(STARTUP_DELAY_ANNOTATION) {
            self.startup_delay = delay;
        }
        if let Some(jitter) = seconds(JITTER_ANNOTATION) {
            self.jitter = jitter;
        }
        if let Some(fail) = annotations.get(FAIL_ANNOTATION) {
            match fail.trim() {
                "true" | "crash-loop" | "crash" => self.failure = PodFailure::CrashLoop,
                "never-ready" => self.failure = PodFailure::NeverReady,
                "false" | "" => self.failure = PodFailure::Healthy,
                other => {
                    tracing::warn!(annotation = FAIL_ANNOTATION, value = %other, "ignoring an unknown failure mode");
                }
            }
        }
        self
    }
}

/// A profile for the pods of one namespace that match a selector.
#[derive(Debug, Clone)]
pub(super) struct ProfileRule {
    pub(super) namespace: String,
    pub(super) selector: LabelSelector,
    pub(super) profile: PodProfile,
}

/// Where a simulated pod is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    /// Waiting for the scheduler.
    Unscheduled,
    /// Bound to a node; containers start at the next kubelet pass.
    Starting,
    /// Containers running since `since`, not Ready yet.
    Running { since: Timestamp },
    /// Running and Ready.
    Ready,
    /// Crashed; restarts at `until`.
    BackOff { until: Timestamp },
    /// Running, never Ready.
    NotReady,
    /// Created with a status of its own (not `Pending`): left alone by the simulation.
    External,
}

/// The simulation state of one pod.
#[derive(Debug, Clone)]
pub(super) struct PodSim {
    pub(super) stage: Stage,
    ready_delay: Duration,
    failure: PodFailure,
    restarts: i32,
}

impl PodSim {
    fn is_due(&self, now: Timestamp) -> bool {
        match self.stage {
            Stage::Starting => true,
            Stage::Running { since } => after(since, self.ready_delay) <= now,
            Stage::BackOff { until } => until <= now,
            _ => false,
        }
    }
}

/// The log lines of one container: the running instance and the one before it.
#[derive(Debug, Clone, Default)]
pub(super) struct ContainerLog {
    pub(super) current: Vec<String>,
    pub(super) previous: Option<Vec<String>>,
}

impl State {
    /// The profile of a pod: the last matching rule (or the default), then its annotations.
    fn profile_for(&self, pod: &Pod) -> PodProfile {
        let namespace = pod.metadata.namespace.as_deref().unwrap_or("");
        let labels = pod.metadata.labels.as_ref();
        self.profiles
            .iter()
            .rev()
            .find(|r| r.namespace == namespace && r.selector.matches_opt(labels))
            .map_or_else(|| self.default_profile.clone(), |r| r.profile.clone())
            .with_annotations(pod.metadata.annotations.as_ref())
    }

    /// Starts simulating a new pod. Pods created with a phase other than `Pending` are left alone.
    pub(super) fn track_pod(&mut self, pod: &Pod) {
        let key = (
            pod.metadata.namespace.clone().unwrap_or_default(),
            pod.metadata.name.clone().unwrap_or_default(),
        );
        let profile = self.profile_for(pod);
        let jitter_ms = u64::try_from(profile.jitter.as_millis()).unwrap_or(u64::MAX);
        let jitter = if jitter_ms == 0 {
            Duration::ZERO
        } else {
            Duration::from_millis(self.rng.random_range(0..=jitter_ms))
        };
        let pending = pod
            .status
            .as_ref()
            .and_then(|s| s.phase.as_deref())
            .is_none_or(|p| p == "Pending");
        let stage = match (pending, node_name(pod)) {
            (false, _) => Stage::External,
            (true, Some(_)) => Stage::Starting,
            (true, None) => Stage::Unscheduled,
        };
        let sim = PodSim {
            stage,
            ready_delay: profile.startup_delay.saturating_add(jitter),
            failure: profile.failure,
            restarts: 0,
        };
        self.pods.insert(key, sim);
    }

    /// Follows a pod replaced by a user: a pod bound to a node by hand starts.
    pub(super) fn retrack_pod(&mut self, pod: &Pod) {
        let key = (
            pod.metadata.namespace.clone().unwrap_or_default(),
            pod.metadata.name.clone().unwrap_or_default(),
        );
        match self.pods.get_mut(&key) {
            Some(sim) if sim.stage == Stage::Unscheduled && node_name(pod).is_some() => {
                sim.stage = Stage::Starting;
            }
            Some(_) => {}
            None => self.track_pod(pod),
        }
    }

    /// Marks a pod bound by the scheduler.
    pub(super) fn pod_bound(&mut self, key: &Key) {
        if let Some(sim) = self.pods.get_mut(key)
            && sim.stage == Stage::Unscheduled
        {
            sim.stage = Stage::Starting;
        }
    }

    /// The pods waiting for the scheduler, ordered by namespace then name.
    pub(super) fn unscheduled_pods(&self) -> Vec<Key> {
        self.pods
            .iter()
            .filter(|(_, s)| s.stage == Stage::Unscheduled)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Appends a line (prefixed with the simulated time) to a container's log.
    pub(super) fn log(&mut self, key: &Key, container: &str, message: &str) {
        let line = format!("{} {message}", self.now());
        self.logs
            .entry(key.clone())
            .or_default()
            .entry(container.to_owned())
            .or_default()
            .current
            .push(line);
    }

    fn log_all(&mut self, key: &Key, containers: &[String], message: impl Fn(&str) -> String) {
        for c in containers {
            self.log(key, c, &message(c));
        }
    }
}

/// Runs the kubelet over every pod whose state is due to change at `now`.
pub(super) fn run_kubelet(st: &mut State, now: Timestamp) {
    let due: Vec<Key> = st
        .pods
        .iter()
        .filter(|(_, s)| s.is_due(now))
        .map(|(k, _)| k.clone())
        .collect();
    for key in due {
        // A zero delay lets a pod start and become Ready in the same pass.
        for _ in 0..3 {
            if !step(st, &key, now) {
                break;
            }
        }
    }
}

/// Moves one pod one step; `false` when nothing was due.
fn step(st: &mut State, key: &Key, now: Timestamp) -> bool {
    let Some(sim) = st.pods.get(key).cloned() else {
        return false;
    };
    if !sim.is_due(now) {
        return false;
    }
    let Some(Object::Pod(pod)) = st.store.get(&Kind::Pod, &key.0, &key.1) else {
        st.pods.remove(key);
        return false;
    };
    let containers = container_names(pod);
    let involved = Involved::new(Kind::Pod, &pod.metadata);
    let pod_name = key.1.clone();
    let next = match sim.stage {
        Stage::Starting => {
            start(st, key, &containers, &involved, now, false);
            Stage::Running { since: now }
        }
        Stage::BackOff { .. } => {
            start(st, key, &containers, &involved, now, true);
            Stage::Running { since: now }
        }
        Stage::Running { .. } => match sim.failure {
            PodFailure::Healthy => {
                update_pod(st, key, |pod| {
                    let status = pod.status.get_or_insert_default();
                    for c in status.container_statuses.iter_mut().flatten() {
                        c.ready = true;
                    }
                    set_condition(status, "ContainersReady", true, None, None, now);
                    set_condition(status, "Ready", true, None, None, now);
                });
                st.log_all(key, &containers, |_| {
                    "readiness probe succeeded, serving".to_owned()
                });
                Stage::Ready
            }
            PodFailure::NeverReady => {
                let message = "Readiness probe failed: HTTP probe failed with statuscode: 503";
                st.log_all(key, &containers, |_| {
                    "health check failed: dependency unavailable".to_owned()
                });
                st.record_event(
                    &involved,
                    EventType::Warning,
                    "Unhealthy",
                    message.to_owned(),
                    "kubelet",
                );
                Stage::NotReady
            }
            PodFailure::CrashLoop => {
                let restarts = sim.restarts + 1;
                if let Some(s) = st.pods.get_mut(key) {
                    s.restarts = restarts;
                }
                let exponent = u32::try_from(restarts - 1).unwrap_or(u32::MAX).min(10);
                let backoff = FIRST_BACKOFF.saturating_mul(1 << exponent).min(MAX_BACKOFF);
                let secs = backoff.as_secs();
                update_pod(st, key, |pod| {
                    let status = pod.status.get_or_insert_default();
                    for c in status.container_statuses.iter_mut().flatten() {
                        let started_at = c
                            .state
                            .as_ref()
                            .and_then(|s| s.running.as_ref())
                            .and_then(|r| r.started_at.clone());
                        c.last_state = Some(ContainerState {
                            terminated: Some(ContainerStateTerminated {
                                exit_code: 1,
                                reason: Some("Error".to_owned()),
                                started_at,
                                finished_at: Some(Time(now)),
                                ..ContainerStateTerminated::default()
                            }),
                            ..ContainerState::default()
                        });
                        c.state = Some(ContainerState {
                            waiting: Some(ContainerStateWaiting {
                                reason: Some("CrashLoopBackOff".to_owned()),
                                message: Some(format!(
                                    "back-off {secs}s restarting failed container={} pod={pod_name}",
                                    c.name
                                )),
                            }),
                            ..ContainerState::default()
                        });
                        c.ready = false;
                        c.started = Some(false);
                        c.restart_count = restarts;
                    }
                    set_condition(
                        status,
                        "ContainersReady",
                        false,
                        Some("ContainersNotReady"),
                        None,
                        now,
                    );
                    set_condition(
                        status,
                        "Ready",
                        false,
                        Some("ContainersNotReady"),
                        None,
                        now,
                    );
                });
                st.log_all(key, &containers, |_| {
                    "fatal: cannot load configuration, exiting with code 1".to_owned()
                });
                for c in &containers {
                    let message =
                        format!("Back-off restarting failed container {c} in pod {}", key.1);
                    st.record_event(&involved, EventType::Warning, "BackOff", message, "kubelet");
                }
                Stage::BackOff {
                    until: after(now, backoff),
                }
            }
        },
        _ => return false,
    };
    if let Some(s) = st.pods.get_mut(key) {
        s.stage = next;
    }
    true
}

/// Starts (or restarts) the containers of a pod.
fn start(
    st: &mut State,
    key: &Key,
    containers: &[String],
    involved: &Involved,
    now: Timestamp,
    restart: bool,
) {
    update_pod(st, key, |pod| {
        let images: BTreeMap<String, String> = pod
            .spec
            .iter()
            .flat_map(|s| &s.containers)
            .map(|c| (c.name.clone(), c.image.clone().unwrap_or_default()))
            .collect();
        let status = pod.status.get_or_insert_default();
        status.phase = Some("Running".to_owned());
        status.start_time.get_or_insert(Time(now));
        let old: Vec<ContainerStatus> = status.container_statuses.take().unwrap_or_default();
        let statuses = images
            .iter()
            .map(|(name, image)| {
                let previous = old.iter().find(|c| &c.name == name);
                ContainerStatus {
                    name: name.clone(),
                    image: image.clone(),
                    image_id: String::new(),
                    ready: false,
                    started: Some(true),
                    restart_count: previous.map_or(0, |c| c.restart_count),
                    last_state: previous.and_then(|c| c.last_state.clone()),
                    state: Some(ContainerState {
                        running: Some(ContainerStateRunning {
                            started_at: Some(Time(now)),
                        }),
                        ..ContainerState::default()
                    }),
                    ..ContainerStatus::default()
                }
            })
            .collect();
        status.container_statuses = Some(statuses);
        set_condition(status, "PodScheduled", true, None, None, now);
        set_condition(status, "Initialized", true, None, None, now);
        set_condition(
            status,
            "ContainersReady",
            false,
            Some("ContainersNotReady"),
            None,
            now,
        );
        set_condition(
            status,
            "Ready",
            false,
            Some("ContainersNotReady"),
            None,
            now,
        );
    });
    for c in containers {
        if restart {
            let logs = st
                .logs
                .entry(key.clone())
                .or_default()
                .entry(c.clone())
                .or_default();
            logs.previous = Some(std::mem::take(&mut logs.current));
        }
        st.log(key, c, &format!("container {c} started"));
        st.record_event(
            involved,
            EventType::Normal,
            "Started",
            format!("Started container {c}"),
            "kubelet",
        );
    }
}

/// Changes a stored pod in place.
fn update_pod(st: &mut State, key: &Key, change: impl FnOnce(&mut Pod)) {
    st.store.update(&Kind::Pod, &key.0, &key.1, |object| {
        if let Object::Pod(pod) = object {
            change(pod);
        }
    });
}
