//! The VPA area's workload: container aggregates fed CPU and memory samples as the recommender loop does (every
//! container one sample of each per round), then recommended. Usage levels come from a fixed seed; each
//! sample varies around its container's level by a seeded table of factors, so histograms spread over realistic
//! ranges (a factor of about 3 between the smallest and the largest sample).

use ksx_scaling::vpa::aggregate::AggregateContainerState;
use ksx_scaling::vpa::config::RecommenderConfig;
use ksx_scaling::vpa::crd::RecommendedContainerResources;
use ksx_scaling::vpa::estimate;
use rand::{RngExt as _, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Nanoseconds per second.
const S: i64 = 1_000_000_000;
/// Engine time of the first round.
pub const VPA_START: i64 = super::START_UNIX_SECS * S;
/// Number of jitter factors.
const JITTER: usize = 64;

/// Containers with their usage levels and the aggregates being fed.
#[derive(Debug, Clone)]
pub struct VpaWorkload {
    /// Recommender settings (upstream defaults).
    pub config: RecommenderConfig,
    /// Usage level of each container: (millicores, bytes).
    pub levels: Vec<(i64, i64)>,
    /// Jitter factors in 1/1024, from 0.6 to 1.8.
    jitter: [i64; JITTER],
    /// One aggregate per container.
    pub states: Vec<AggregateContainerState>,
}

impl VpaWorkload {
    /// `n` containers from `seed`, with empty aggregates.
    pub fn new(n: usize, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let config = RecommenderConfig::default();
        let levels = (0..n)
            .map(|_| {
                (
                    rng.random_range(20..4_000i64),
                    rng.random_range(50i64..4_000) * 1_000_000,
                )
            })
            .collect();
        let mut jitter = [1024; JITTER];
        for j in &mut jitter {
            *j = rng.random_range(614..1_843);
        }
        let states = (0..n)
            .map(|_| AggregateContainerState::new(&config))
            .collect();
        Self {
            config,
            levels,
            jitter,
            states,
        }
    }

    /// Feeds round `round` (one CPU and one memory sample per container at `VPA_START + round × step_secs`)
    /// to the containers `range` of the states, given as the slice `states` that starts at `offset`. Returns
    /// the number of accepted samples.
    pub fn feed(
        config: &RecommenderConfig,
        levels: &[(i64, i64)],
        jitter: &[i64],
        states: &mut [AggregateContainerState],
        offset: usize,
        round: i64,
        step_secs: i64,
    ) -> u64 {
        let t = VPA_START + round * step_secs * S;
        let r = usize::try_from(round).unwrap_or(0);
        let mut accepted = 0;
        for (i, (state, &(cpu, mem))) in states
            .iter_mut()
            .zip(&levels[offset.min(levels.len())..])
            .enumerate()
        {
            let k = (offset + i).wrapping_mul(31).wrapping_add(r);
            let f1 = jitter[k % jitter.len()];
            let f2 = jitter[(k / 3 + 7) % jitter.len()];
            accepted += u64::from(state.add_cpu_sample(config, t, cpu * f1 / 1024));
            accepted += u64::from(state.add_memory_sample(config, t, mem * f2 / 1024));
        }
        accepted
    }

    /// Feeds rounds `first..first + rounds` to every container, split over `threads` scoped threads. Returns
    /// the number of accepted samples.
    pub fn feed_rounds(&mut self, first: i64, rounds: i64, step_secs: i64, threads: usize) -> u64 {
        let chunk = self.states.len().div_ceil(threads.max(1)).max(1);
        let config = &self.config;
        let levels = &self.levels;
        let jitter = &self.jitter[..];
        std::thread::scope(|s| {
            let handles: Vec<_> = self
                .states
                .chunks_mut(chunk)
                .enumerate()
                .map(|(c, part)| {
                    s.spawn(move || {
                        let mut n = 0;
                        for round in first..first + rounds {
                            n += Self::feed(
                                config,
                                levels,
                                jitter,
                                part,
                                c * chunk,
                                round,
                                step_secs,
                            );
                        }
                        n
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
        })
    }

    /// Mean bytes per aggregate ([`AggregateContainerState::state_bytes`]).
    pub fn mean_state_bytes(&self) -> f64 {
        let total: usize = self
            .states
            .iter()
            .map(AggregateContainerState::state_bytes)
            .sum();
        #[allow(clippy::cast_precision_loss, reason = "a mean for a report")]
        let mean = total as f64 / self.states.len().max(1) as f64;
        mean
    }

    /// Recommends for every container, each as the only container of its VPA, split over `threads` threads.
    /// Returns the number of recommendations and a checksum of the target CPU so the work cannot be skipped.
    pub fn recommend_all(&self, now: i64, threads: usize) -> (usize, i64) {
        let chunk = self.states.len().div_ceil(threads.max(1)).max(1);
        let config = &self.config;
        std::thread::scope(|s| {
            let handles: Vec<_> = self
                .states
                .chunks(chunk)
                .map(|part| {
                    s.spawn(move || {
                        let mut n = 0;
                        let mut sum = 0;
                        for state in part {
                            let recs = estimate::recommend(config, &[("app", state)], now);
                            n += recs.len();
                            sum += recs.first().map_or(0, target_cpu);
                        }
                        (n, sum)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or((0, 0)))
                .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
        })
    }
}

fn target_cpu(r: &RecommendedContainerResources) -> i64 {
    r.target
        .get("cpu")
        .map_or(0, ksx_core::quantity::Quantity::milli_value)
}
