//! Eviction policies behind one trait, [`EvictionPolicy`], driven directly by the simulator and (one per tier,
//! behind a mutex) by the data path, so both run the same code.
//!
//! Rules shared by every policy (spec §5):
//! - every policy **admits the requested object on a miss** and evicts until it fits (no bypass);
//! - an object larger than the capacity is a miss that changes nothing;
//! - a request for a cached key with a different size is a miss that replaces the entry;
//! - `used() <= capacity()` holds after every call;
//! - decisions are deterministic: they never depend on hash-map iteration order or on randomness.
//!
//! Online policies ([`Lru`], [`Fifo`], [`Clock`], [`Sieve`], [`S3Fifo`], [`Arc`], [`WTinyLfu`]) cost O(1) per
//! request (amortised for the CLOCK-style hands); [`Belady`] needs the whole future, is built from the trace and
//! costs O(log n).

mod arc;
mod belady;
pub(crate) mod list;
mod queue;
mod s3fifo;
mod sieve;
mod sketch;
mod wtinylfu;

use std::fmt;
use std::hash::Hash;
use std::str::FromStr;

pub use arc::Arc;
pub use belady::Belady;
pub use queue::{Clock, Fifo, Lru};
pub use s3fifo::{S3Fifo, S3FifoConfig};
pub use sieve::Sieve;
pub use sketch::CountMinSketch;
pub(crate) use sketch::mix64;
pub use wtinylfu::{WTinyLfu, WTinyLfuConfig};

use crate::error::{Error, Result};

/// What one request did to the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access<K> {
    /// The object was cached (with the same size) before the request.
    pub hit: bool,
    /// Keys evicted to make room, oldest decision first. The data path drops their bytes.
    pub evicted: Vec<K>,
}

impl<K> Access<K> {
    /// A hit that evicted nothing.
    #[must_use]
    pub fn hit() -> Self {
        Self {
            hit: true,
            evicted: Vec::new(),
        }
    }

    /// A miss that evicted nothing (yet).
    #[must_use]
    pub fn miss() -> Self {
        Self {
            hit: false,
            evicted: Vec::new(),
        }
    }
}

/// A cache eviction policy: which objects to keep within a capacity, request by request.
///
/// Sizes and the capacity share one unit: bytes, or 1 per object for unit-size caches. Implementations are pure,
/// deterministic state machines; the trait is object-safe so callers can hold a `Box<dyn EvictionPolicy<K>>`.
pub trait EvictionPolicy<K> {
    /// The policy's name as the simulator spells it (`lru`, `s3fifo`, …).
    fn name(&self) -> &'static str;

    /// Records a request for `key` of `size`: a hit, or a miss that admits the object and evicts until it fits.
    fn access(&mut self, key: &K, size: u64) -> Access<K>;

    /// Drops `key` (the object changed or was deleted); returns its size if it was cached.
    fn remove(&mut self, key: &K) -> Option<u64>;

    /// Whether `key` is cached.
    fn contains(&self, key: &K) -> bool;

    /// The total size of the cached objects.
    fn used(&self) -> u64;

    /// The capacity the policy keeps `used()` within.
    fn capacity(&self) -> u64;

    /// The number of cached objects.
    fn len(&self) -> usize;

    /// Whether nothing is cached.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The policies the simulator knows, in the order of `all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum PolicyKind {
    /// Least recently used.
    Lru,
    /// First in, first out.
    Fifo,
    /// CLOCK: FIFO with one reference bit.
    Clock,
    /// SIEVE (NSDI'24).
    Sieve,
    /// S3-FIFO (SOSP'23): small, main and ghost FIFO queues.
    S3Fifo,
    /// Adaptive replacement cache (FAST'03).
    Arc,
    /// Window TinyLFU: window LRU, segmented LRU main, Count-Min admission.
    WTinyLfu,
    /// Belady's optimal (MIN): simulator only, it needs the future.
    Belady,
}

impl PolicyKind {
    /// Every policy, in the order `all` expands to.
    pub const ALL: [Self; 8] = [
        Self::Lru,
        Self::Fifo,
        Self::Clock,
        Self::Sieve,
        Self::S3Fifo,
        Self::Arc,
        Self::WTinyLfu,
        Self::Belady,
    ];

    /// The name used on the command line and in JSON.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Lru => "lru",
            Self::Fifo => "fifo",
            Self::Clock => "clock",
            Self::Sieve => "sieve",
            Self::S3Fifo => "s3fifo",
            Self::Arc => "arc",
            Self::WTinyLfu => "wtinylfu",
            Self::Belady => "belady",
        }
    }

    /// Whether the policy works without knowing the future (every policy but `belady`).
    #[must_use]
    pub fn is_online(self) -> bool {
        self != Self::Belady
    }

    /// Parses a comma-separated list such as `lru,fifo,belady`, or `all`; the order is kept and duplicates are
    /// dropped.
    ///
    /// # Errors
    /// [`Error::UnknownPolicy`] for a name that is not a policy (an empty list names the empty string).
    pub fn parse_list(list: &str) -> Result<Vec<Self>> {
        let mut out: Vec<Self> = Vec::new();
        for part in list.split(',').map(str::trim) {
            let kinds: Vec<Self> = if part.eq_ignore_ascii_case("all") {
                Self::ALL.to_vec()
            } else {
                vec![part.parse()?]
            };
            for kind in kinds {
                if !out.contains(&kind) {
                    out.push(kind);
                }
            }
        }
        Ok(out)
    }

    /// Builds an online policy with its default settings; `None` for `belady`, which [`Belady::new`] builds
    /// from the trace. `expected_entries` sizes W-TinyLFU's frequency sketch (the capacity for unit sizes, the
    /// capacity over the mean object size otherwise).
    #[must_use]
    pub fn build<K>(
        self,
        capacity: u64,
        expected_entries: usize,
    ) -> Option<Box<dyn EvictionPolicy<K> + Send>>
    where
        K: Hash + Eq + Clone + Send + 'static,
    {
        Some(match self {
            Self::Lru => Box::new(Lru::new(capacity)),
            Self::Fifo => Box::new(Fifo::new(capacity)),
            Self::Clock => Box::new(Clock::new(capacity)),
            Self::Sieve => Box::new(Sieve::new(capacity)),
            Self::S3Fifo => Box::new(S3Fifo::new(capacity)),
            Self::Arc => Box::new(Arc::new(capacity)),
            Self::WTinyLfu => Box::new(WTinyLfu::with_config(
                capacity,
                WTinyLfuConfig {
                    expected_entries,
                    ..WTinyLfuConfig::default()
                },
            )),
            Self::Belady => return None,
        })
    }
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for PolicyKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let lower = s.trim().to_ascii_lowercase();
        let alias = match lower.as_str() {
            "s3-fifo" => "s3fifo",
            "w-tinylfu" | "tinylfu" => "wtinylfu",
            "opt" | "min" => "belady",
            other => other,
        };
        Self::ALL
            .into_iter()
            .find(|k| k.name() == alias)
            .ok_or_else(|| Error::UnknownPolicy { name: s.to_owned() })
    }
}

/// `ratio × capacity`, rounded down, with the ratio clamped to `0..=1` (NaN counts as 0).
pub(crate) fn fraction(capacity: u64, ratio: f64) -> u64 {
    let ratio = if ratio.is_nan() {
        0.0
    } else {
        ratio.clamp(0.0, 1.0)
    };
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "the product lies in 0..=capacity; precision loss only affects capacities above 2^53"
    )]
    let share = (capacity as f64 * ratio) as u64;
    share.min(capacity)
}

#[cfg(test)]
mod tests;
