//! Per-container aggregation of usage samples (`model/aggregate_container_state.go`, `model/container.go`;
//! spec §3.2–3.3): a decaying CPU usage histogram, a decaying histogram of memory peaks (one per aggregation
//! interval), OOM bump-ups and the counters behind confidence.
//!
//! Upstream splits this between a per-pod `ContainerState` (acceptance rules, the open memory window) and the
//! `AggregateContainerState` it feeds; ksx keeps both in [`AggregateContainerState`], which is what a VPA
//! recommends from when each container name is fed by one stream of samples (the `ksx vpa recommend`
//! contract). [`AggregateContainerState::merge`] combines the histograms and counters only, as upstream's
//! `MergeContainerState` does.
//!
//! Times are engine time (ns since the Unix epoch); amounts are millicores and bytes.
//!
//! # Out-of-order samples
//!
//! Upstream accepts or drops late samples by these rules, reproduced here:
//! - a CPU sample whose start is not strictly after the container's previous **accepted** CPU sample is
//!   dropped (it counts neither in the histogram nor toward confidence);
//! - a memory sample earlier than the previous memory sample (OOM samples included) is dropped; one at the
//!   same time is accepted;
//! - an OOM event is dropped when it is older than the last memory sample minus one aggregation interval;
//!   otherwise it is recorded even if earlier than the last memory sample, and folds into the open window when
//!   earlier than its end.

use crate::error::{Error, Result};
use crate::vpa::checkpoint::{CHECKPOINT_VERSION, ContainerCheckpoint};
use crate::vpa::config::{NANOS_PER_SEC, RecommenderConfig};
use crate::vpa::histogram::{
    CPU_OPTIONS, CpuHistogram, MEMORY_OPTIONS, MIN_SAMPLE_WEIGHT, MemoryHistogram,
};

/// The largest resource amount (`MaxResourceAmount = 1e14`).
pub const MAX_RESOURCE_AMOUNT: i64 = 100_000_000_000_000;

/// `resourceAmountFromFloat`: truncates toward zero, 0 for negatives, capped at [`MAX_RESOURCE_AMOUNT`]. NaN
/// gives 0 (Go's conversion is undefined there; on amd64 it gives the minimum `int64`, which the minimum share
/// then replaces — ksx reaches the same result through 0).
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_precision_loss,
    reason = "the value is within [0, 1e14] before the conversion, which truncates as Go's int64() does"
)]
pub fn amount_from_float(v: f64) -> i64 {
    if v < 0.0 || v.is_nan() {
        0
    } else if v > MAX_RESOURCE_AMOUNT as f64 {
        MAX_RESOURCE_AMOUNT
    } else {
        v as i64
    }
}

/// `ScaleResource(amount, factor)`: `amount_from_float(amount × factor)`.
#[allow(
    clippy::cast_precision_loss,
    reason = "float64(amount) as upstream; amounts are at most 1e14 in practice"
)]
pub fn scale_resource(amount: i64, factor: f64) -> i64 {
    amount_from_float(amount as f64 * factor)
}

/// Aggregated usage of one container (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateContainerState {
    cpu: CpuHistogram,
    memory: MemoryHistogram,
    /// Start of the first CPU sample; `None` is Go's zero time.
    first_sample_start: Option<i64>,
    /// Start of the last CPU sample.
    last_sample_start: Option<i64>,
    /// Number of CPU samples.
    total_samples_count: u64,
    /// Start of the last accepted CPU sample (`LastCPUSampleStart`).
    last_cpu_sample_start: Option<i64>,
    /// Start of the last accepted memory sample (`lastMemorySampleStart`).
    last_memory_sample_start: Option<i64>,
    /// End of the open memory window (`WindowEnd`).
    window_end: Option<i64>,
    /// Peak of plain memory samples in the open window (bytes).
    memory_peak: i64,
    /// Peak of OOM samples in the open window (bytes).
    oom_peak: i64,
    /// CPU half-life (ns) of the configuration the aggregate was made with, for merges.
    cpu_half_life: i64,
    /// Memory half-life (ns), likewise.
    memory_half_life: i64,
}

impl AggregateContainerState {
    /// An empty aggregate.
    pub fn new(cfg: &RecommenderConfig) -> Self {
        Self {
            cpu: CpuHistogram::new(&CPU_OPTIONS),
            memory: MemoryHistogram::new(&MEMORY_OPTIONS),
            first_sample_start: None,
            last_sample_start: None,
            total_samples_count: 0,
            last_cpu_sample_start: None,
            last_memory_sample_start: None,
            window_end: None,
            memory_peak: 0,
            oom_peak: 0,
            cpu_half_life: cfg.cpu_half_life_nanos(),
            memory_half_life: cfg.memory_half_life_nanos(),
        }
    }

    /// Adds a CPU usage sample of `millicores` starting at `t`. Dropped (false) when negative or not strictly
    /// after the previous accepted CPU sample. An accepted sample enters the CPU histogram as `millicores/1000`
    /// cores with the constant weight 0.1 and advances the sample count and first/last sample start.
    pub fn add_cpu_sample(&mut self, cfg: &RecommenderConfig, t: i64, millicores: i64) -> bool {
        if millicores < 0 || self.last_cpu_sample_start.is_some_and(|last| t <= last) {
            return false;
        }
        #[allow(
            clippy::cast_precision_loss,
            reason = "CoresFromCPUAmount: float64(millicores) / 1000"
        )]
        let cores = millicores as f64 / 1000.0;
        self.cpu.add(
            &CPU_OPTIONS,
            cfg.cpu_half_life_nanos(),
            cores,
            MIN_SAMPLE_WEIGHT,
            t,
        );
        if self.last_sample_start.is_none_or(|last| t > last) {
            self.last_sample_start = Some(t);
        }
        if self.first_sample_start.is_none_or(|first| t < first) {
            self.first_sample_start = Some(t);
        }
        self.total_samples_count += 1;
        self.last_cpu_sample_start = Some(t);
        true
    }

    /// Adds a working-set memory sample of `bytes` at `t` to the peak of its aggregation window (rules 1–3 of
    /// spec §3.2). False when dropped: negative, or earlier than the previous memory sample.
    pub fn add_memory_sample(&mut self, cfg: &RecommenderConfig, t: i64, bytes: i64) -> bool {
        self.add_memory(cfg, t, bytes, false)
    }

    /// Records an OOM kill at `t` of a container whose memory request was `request_bytes`: the memory needed is
    /// `max(used + oomMinBumpUpBytes, trunc(used × oomBumpUpRatio))` with `used = max(request, memory peak of
    /// the open window)` (the OOM peak left out), fed as an OOM memory sample. False when dropped: older than the
    /// last memory sample minus one aggregation interval, or a negative amount.
    pub fn record_oom(&mut self, cfg: &RecommenderConfig, t: i64, request_bytes: i64) -> bool {
        if self
            .last_memory_sample_start
            .is_some_and(|last| t < last.saturating_sub(cfg.memory_aggregation_interval_nanos()))
        {
            return false;
        }
        let used = request_bytes.max(self.memory_peak);
        let needed = used
            .saturating_add(amount_from_float(cfg.oom_min_bump_up_bytes))
            .max(scale_resource(used, cfg.oom_bump_up_ratio));
        self.add_memory(cfg, t, needed, true)
    }

    fn add_memory(&mut self, cfg: &RecommenderConfig, t: i64, bytes: i64, is_oom: bool) -> bool {
        if bytes < 0 || (!is_oom && self.last_memory_sample_start.is_some_and(|last| t < last)) {
            return false;
        }
        self.last_memory_sample_start = Some(t);
        let window_end = *self.window_end.get_or_insert(t);
        let half_life = cfg.memory_half_life_nanos();
        let add_new_peak = if t < window_end {
            let old = self.memory_peak.max(self.oom_peak);
            if old != 0 && bytes > old {
                #[allow(
                    clippy::cast_precision_loss,
                    reason = "BytesFromMemoryAmount: float64(bytes)"
                )]
                self.memory
                    .subtract(&MEMORY_OPTIONS, half_life, old as f64, 1.0, window_end);
                true
            } else {
                false
            }
        } else {
            let interval = cfg.memory_aggregation_interval_nanos();
            let elapsed = t.saturating_sub(window_end);
            let shift = (elapsed - elapsed % interval).saturating_add(interval);
            self.window_end = Some(window_end.saturating_add(shift));
            self.memory_peak = 0;
            self.oom_peak = 0;
            true
        };
        if add_new_peak {
            let end = self.window_end.unwrap_or(t);
            #[allow(
                clippy::cast_precision_loss,
                reason = "BytesFromMemoryAmount: float64(bytes)"
            )]
            self.memory
                .add(&MEMORY_OPTIONS, half_life, bytes as f64, 1.0, end);
            if is_oom {
                self.oom_peak = bytes;
            } else {
                self.memory_peak = bytes;
            }
        }
        true
    }

    /// `MergeContainerState`: merges both histograms (the older reference time moved to the newer), keeps the
    /// earliest first and the latest last sample start, and adds the sample counts. The open-window state of
    /// `self` is kept as it is; the half-lives are those `self` was made with.
    pub fn merge(&mut self, other: &Self) {
        self.cpu.merge(&CPU_OPTIONS, self.cpu_half_life, &other.cpu);
        self.memory
            .merge(&MEMORY_OPTIONS, self.memory_half_life, &other.memory);
        if self.first_sample_start.is_none()
            || other
                .first_sample_start
                .is_some_and(|o| self.first_sample_start.is_some_and(|s| o < s))
        {
            self.first_sample_start = other.first_sample_start;
        }
        if other
            .last_sample_start
            .is_some_and(|o| self.last_sample_start.is_none_or(|s| o > s))
        {
            self.last_sample_start = other.last_sample_start;
        }
        self.total_samples_count += other.total_samples_count;
    }

    /// Number of accepted CPU samples.
    pub fn total_samples_count(&self) -> u64 {
        self.total_samples_count
    }

    /// Start of the first accepted CPU sample.
    pub fn first_sample_start(&self) -> Option<i64> {
        self.first_sample_start
    }

    /// Start of the last accepted CPU sample.
    pub fn last_sample_start(&self) -> Option<i64> {
        self.last_sample_start
    }

    /// End of the open memory window, if any memory sample was seen.
    pub fn window_end(&self) -> Option<i64> {
        self.window_end
    }

    /// The CPU usage histogram (cores).
    pub fn cpu_histogram(&self) -> &CpuHistogram {
        &self.cpu
    }

    /// The memory peak histogram (bytes).
    pub fn memory_histogram(&self) -> &MemoryHistogram {
        &self.memory
    }

    /// The v3 checkpoint at `now`: both histograms in checkpoint form, with the open window's peak subtracted
    /// from the memory histogram when `now` is before the window's end (so a restart does not count it twice),
    /// and sample starts in whole Unix seconds (0 for none), as upstream's checkpoint writer does.
    pub fn to_checkpoint(&self, cfg: &RecommenderConfig, now: i64) -> ContainerCheckpoint {
        let memory = match self.window_end {
            Some(end) if now < end => {
                let mut m = self.memory.clone();
                #[allow(
                    clippy::cast_precision_loss,
                    reason = "BytesFromMemoryAmount: float64(bytes)"
                )]
                let peak = self.memory_peak.max(self.oom_peak) as f64;
                m.subtract(
                    &MEMORY_OPTIONS,
                    cfg.memory_half_life_nanos(),
                    peak,
                    1.0,
                    end,
                );
                m.to_checkpoint()
            }
            _ => self.memory.to_checkpoint(),
        };
        let secs = |t: Option<i64>| t.map_or(0, |t| t.div_euclid(NANOS_PER_SEC));
        ContainerCheckpoint {
            version: CHECKPOINT_VERSION.to_owned(),
            last_update_time: now.div_euclid(NANOS_PER_SEC),
            cpu_histogram: self.cpu.to_checkpoint(),
            memory_histogram: memory,
            first_sample_start: secs(self.first_sample_start),
            last_sample_start: secs(self.last_sample_start),
            total_samples_count: self.total_samples_count,
        }
    }

    /// Restores an aggregate from a v3 checkpoint (`LoadFromCheckpoint`). The open-window and acceptance state is
    /// not part of a checkpoint: the restored aggregate accepts the next sample of any time. Sample starts of 0
    /// mean none.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidField`] naming `version` for any version but v3, `cpuHistogram.…` or
    /// `memoryHistogram.…` for a histogram that does not load (see
    /// [`Histogram::load_checkpoint`](crate::vpa::histogram::Histogram::load_checkpoint)), or a sample start out
    /// of range.
    pub fn from_checkpoint(cfg: &RecommenderConfig, cp: &ContainerCheckpoint) -> Result<Self> {
        if cp.version != CHECKPOINT_VERSION {
            return Err(Error::invalid(
                "version",
                format!(
                    "unsupported checkpoint version {:?}, expected {CHECKPOINT_VERSION:?}",
                    cp.version
                ),
            ));
        }
        let time = |secs: i64, field: &str| -> Result<Option<i64>> {
            if secs == 0 {
                return Ok(None);
            }
            secs.checked_mul(NANOS_PER_SEC)
                .map(Some)
                .ok_or_else(|| Error::invalid(field, format!("{secs} seconds is out of range")))
        };
        let mut state = Self::new(cfg);
        state.cpu = CpuHistogram::from_checkpoint(&CPU_OPTIONS, &cp.cpu_histogram, "cpuHistogram")?;
        state.memory = MemoryHistogram::from_checkpoint(
            &MEMORY_OPTIONS,
            &cp.memory_histogram,
            "memoryHistogram",
        )?;
        state.first_sample_start = time(cp.first_sample_start, "firstSampleStart")?;
        state.last_sample_start = time(cp.last_sample_start, "lastSampleStart")?;
        state.total_samples_count = cp.total_samples_count;
        Ok(state)
    }

    /// Bytes this aggregate takes: the struct itself (with the inline bucket weights) plus any heap weights of
    /// histograms wider than their inline capacity.
    pub fn state_bytes(&self) -> usize {
        size_of::<Self>() + self.cpu.histogram().heap_bytes() + self.memory.histogram().heap_bytes()
    }
}
