//! The JSON contract of `ksx vpa recommend` (`shared/contracts/scaling-cli.md`): request and response types
//! and the evaluation, so the CLI stays a thin shell and tests can call it directly.
//!
//! Each container's samples are stably sorted by time (ties: CPU, then memory, then OOM), so an OOM event is fed
//! after every memory sample of its container with the same or an earlier time, then fed through
//! [`AggregateContainerState`] with upstream's acceptance rules. Every input container gets exactly one entry,
//! sorted by name, and counts in N for the minimum share; no container is dropped for age.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::hpa::contract::UnixTime;
use crate::vpa::aggregate::{AggregateContainerState, amount_from_float};
use crate::vpa::config::RecommenderConfig;
use crate::vpa::crd::RecommendedContainerResources;
use crate::vpa::estimate;

/// The input of `ksx vpa recommend`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecommendRequest {
    /// The recommendation time, Unix seconds.
    pub now: UnixTime,
    /// The containers of one VPA.
    pub containers: Vec<ContainerInput>,
    /// Overrides of the recommender defaults.
    #[serde(default)]
    pub config: RecommenderConfig,
}

/// The samples of one container.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainerInput {
    /// Container name.
    pub name: String,
    /// CPU usage samples.
    #[serde(default)]
    pub cpu_samples: Vec<CpuSample>,
    /// Working-set memory samples.
    #[serde(default)]
    pub memory_samples: Vec<MemorySample>,
    /// OOM kills.
    #[serde(default)]
    pub oom_events: Vec<OomEvent>,
}

/// One CPU usage sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CpuSample {
    /// Start of the sample, Unix seconds.
    pub t: UnixTime,
    /// Usage in cores; truncated to millicores.
    pub cores: f64,
}

/// One memory sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MemorySample {
    /// Time of the sample, Unix seconds.
    pub t: UnixTime,
    /// Working set in bytes; a fraction is truncated.
    pub bytes: f64,
}

/// One OOM kill.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OomEvent {
    /// When the container was killed, Unix seconds.
    pub t: UnixTime,
    /// The container's memory request in bytes; a fraction is truncated.
    pub request_bytes: f64,
}

/// The output of `ksx vpa recommend`: the VPA status shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecommendResponse {
    /// One entry per input container, sorted by name.
    pub container_recommendations: Vec<RecommendedContainerResources>,
}

/// What to feed, in the order of the stable sort.
#[derive(Debug, Clone, Copy)]
enum Input {
    Cpu(i64),
    Memory(i64),
    Oom(i64),
}

impl Input {
    /// Tie order at equal times: CPU, memory, OOM.
    fn rank(self) -> u8 {
        match self {
            Self::Cpu(_) => 0,
            Self::Memory(_) => 1,
            Self::Oom(_) => 2,
        }
    }
}

/// Checks a sample value: finite and not negative.
fn check_value(value: f64, field: String, container: &str) -> Result<f64> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(Error::invalid(
            field,
            format!(
                "container {container:?}: value must be a finite number, not negative, got {value}"
            ),
        ))
    }
}

/// Feeds one container's inputs into a fresh aggregate.
///
/// # Errors
///
/// [`Error::InvalidField`] naming `containers[i].<list>[j].<field>` and the container for a negative or NaN
/// value.
pub fn aggregate_container(
    cfg: &RecommenderConfig,
    index: usize,
    c: &ContainerInput,
) -> Result<AggregateContainerState> {
    let mut inputs: Vec<(i64, Input)> =
        Vec::with_capacity(c.cpu_samples.len() + c.memory_samples.len() + c.oom_events.len());
    for (j, s) in c.cpu_samples.iter().enumerate() {
        let cores = check_value(
            s.cores,
            format!("containers[{index}].cpuSamples[{j}].cores"),
            &c.name,
        )?;
        inputs.push((s.t.nanos(), Input::Cpu(amount_from_float(cores * 1000.0))));
    }
    for (j, s) in c.memory_samples.iter().enumerate() {
        let bytes = check_value(
            s.bytes,
            format!("containers[{index}].memorySamples[{j}].bytes"),
            &c.name,
        )?;
        inputs.push((s.t.nanos(), Input::Memory(amount_from_float(bytes))));
    }
    for (j, s) in c.oom_events.iter().enumerate() {
        let bytes = check_value(
            s.request_bytes,
            format!("containers[{index}].oomEvents[{j}].requestBytes"),
            &c.name,
        )?;
        inputs.push((s.t.nanos(), Input::Oom(amount_from_float(bytes))));
    }
    inputs.sort_by_key(|(t, input)| (*t, input.rank()));
    let mut state = AggregateContainerState::new(cfg);
    for (t, input) in inputs {
        match input {
            Input::Cpu(m) => state.add_cpu_sample(cfg, t, m),
            Input::Memory(b) => state.add_memory_sample(cfg, t, b),
            Input::Oom(r) => state.record_oom(cfg, t, r),
        };
    }
    Ok(state)
}

/// Evaluates a `ksx vpa recommend` request.
///
/// # Errors
///
/// [`Error::InvalidField`] for a bad configuration value (`config.<key>`), an empty or repeated container name
/// (`containers[i].name`), or a negative or NaN sample value (`containers[i].cpuSamples[j].cores`…).
pub fn recommend(req: &RecommendRequest) -> Result<RecommendResponse> {
    req.config.validate("config")?;
    let mut states = Vec::with_capacity(req.containers.len());
    for (i, c) in req.containers.iter().enumerate() {
        if c.name.is_empty() {
            return Err(Error::invalid(
                format!("containers[{i}].name"),
                "must not be empty",
            ));
        }
        if let Some(first) = req.containers[..i].iter().position(|o| o.name == c.name) {
            return Err(Error::invalid(
                format!("containers[{i}].name"),
                format!(
                    "container {:?} is already listed at containers[{first}]",
                    c.name
                ),
            ));
        }
        states.push(aggregate_container(&req.config, i, c)?);
    }
    let pairs: Vec<(&str, &AggregateContainerState)> = req
        .containers
        .iter()
        .map(|c| c.name.as_str())
        .zip(states.iter())
        .collect();
    Ok(RecommendResponse {
        container_recommendations: estimate::recommend(&req.config, &pairs, req.now.nanos()),
    })
}
