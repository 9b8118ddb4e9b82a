//! Cache statistics: atomics updated on the data path, a serde snapshot, Prometheus text (`ksx_cache_*`) and the
//! Fluid-style worker summary.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use serde::Serialize;

use crate::status::{cached_percentage, percent};

/// Where a block's bytes came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    Memory = 0,
    Disk = 1,
    Store = 2,
}

impl Source {
    const ALL: [Self; 3] = [Self::Memory, Self::Disk, Self::Store];

    fn name(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Disk => "disk",
            Self::Store => "store",
        }
    }
}

/// Upper bounds of the latency buckets in microseconds, 0.1 ms … 10 s.
pub const LATENCY_BUCKETS_MICROS: [u64; 16] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000,
];

#[derive(Debug, Default)]
struct Histogram {
    /// One count per bucket plus the overflow bucket (`+Inf`).
    buckets: [AtomicU64; 17],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    fn observe(&self, micros: u64) {
        let i = LATENCY_BUCKETS_MICROS
            .iter()
            .position(|b| micros <= *b)
            .unwrap_or(LATENCY_BUCKETS_MICROS.len());
        if let Some(b) = self.buckets.get(i) {
            b.fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }
}

/// Counters of one tier.
#[derive(Debug)]
pub(crate) struct TierStats {
    pub(crate) name: String,
    pub(crate) hits: AtomicU64,
    pub(crate) misses: AtomicU64,
    pub(crate) evictions: AtomicU64,
    pub(crate) used: AtomicU64,
    pub(crate) capacity: AtomicU64,
    pub(crate) degraded: AtomicBool,
}

impl TierStats {
    pub(crate) fn new(name: &str, capacity: u64) -> Self {
        Self {
            name: name.to_owned(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
            used: AtomicU64::new(0),
            capacity: AtomicU64::new(capacity),
            degraded: AtomicBool::new(false),
        }
    }
}

/// The live counters of a [`super::CachedStore`].
#[derive(Debug)]
pub(crate) struct CacheStats {
    bytes: [AtomicU64; 3],
    requests: [AtomicU64; 3],
    latency: [Histogram; 3],
    pub(crate) tiers: Vec<TierStats>,
    pub(crate) single_flight_joins: AtomicU64,
    pub(crate) checksum_failures: AtomicU64,
    pub(crate) prefetch_issued: AtomicU64,
    pub(crate) prefetch_used: AtomicU64,
    pub(crate) prefetch_wasted: AtomicU64,
    pub(crate) store_errors: AtomicU64,
    pub(crate) precondition_retries: AtomicU64,
    pub(crate) invalidations: AtomicU64,
    pub(crate) disk_writes: AtomicU64,
    pub(crate) disk_writes_dropped: AtomicU64,
    pub(crate) metadata_hits: AtomicU64,
    pub(crate) metadata_misses: AtomicU64,
}

impl CacheStats {
    pub(crate) fn new(tiers: Vec<TierStats>) -> Self {
        Self {
            bytes: Default::default(),
            requests: Default::default(),
            latency: Default::default(),
            tiers,
            single_flight_joins: AtomicU64::new(0),
            checksum_failures: AtomicU64::new(0),
            prefetch_issued: AtomicU64::new(0),
            prefetch_used: AtomicU64::new(0),
            prefetch_wasted: AtomicU64::new(0),
            store_errors: AtomicU64::new(0),
            precondition_retries: AtomicU64::new(0),
            invalidations: AtomicU64::new(0),
            disk_writes: AtomicU64::new(0),
            disk_writes_dropped: AtomicU64::new(0),
            metadata_hits: AtomicU64::new(0),
            metadata_misses: AtomicU64::new(0),
        }
    }

    /// Counts one block served from `source`: its bytes and how long it took.
    pub(crate) fn served(&self, source: Source, bytes: u64, micros: u64) {
        let i = source as usize;
        if let (Some(b), Some(r), Some(h)) =
            (self.bytes.get(i), self.requests.get(i), self.latency.get(i))
        {
            b.fetch_add(bytes, Ordering::Relaxed);
            r.fetch_add(1, Ordering::Relaxed);
            h.observe(micros);
        }
    }

    pub(crate) fn tier(&self, i: usize) -> Option<&TierStats> {
        self.tiers.get(i)
    }

    pub(crate) fn snapshot(&self) -> CacheStatsSnapshot {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let by_source = |arr: &[AtomicU64; 3]| SourceCounts {
            memory: load(&arr[0]),
            disk: load(&arr[1]),
            store: load(&arr[2]),
        };
        CacheStatsSnapshot {
            bytes: by_source(&self.bytes),
            requests: by_source(&self.requests),
            tiers: self
                .tiers
                .iter()
                .map(|t| TierSnapshot {
                    tier: t.name.clone(),
                    hits: load(&t.hits),
                    misses: load(&t.misses),
                    evictions: load(&t.evictions),
                    used_bytes: load(&t.used),
                    capacity_bytes: load(&t.capacity),
                    degraded: t.degraded.load(Ordering::Relaxed),
                })
                .collect(),
            single_flight_joins: load(&self.single_flight_joins),
            checksum_failures: load(&self.checksum_failures),
            prefetch_issued: load(&self.prefetch_issued),
            prefetch_used: load(&self.prefetch_used),
            prefetch_wasted: load(&self.prefetch_wasted),
            store_errors: load(&self.store_errors),
            precondition_retries: load(&self.precondition_retries),
            invalidations: load(&self.invalidations),
            disk_writes: load(&self.disk_writes),
            disk_writes_dropped: load(&self.disk_writes_dropped),
            metadata_hits: load(&self.metadata_hits),
            metadata_misses: load(&self.metadata_misses),
            latency: Source::ALL
                .iter()
                .zip(&self.latency)
                .map(|(s, h)| LatencySnapshot {
                    source: s.name().to_owned(),
                    buckets: h.buckets.iter().map(load).collect(),
                    count: load(&h.count),
                    sum_micros: load(&h.sum_micros),
                })
                .collect(),
        }
    }
}

/// Counts by source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceCounts {
    /// Served from the memory tier.
    pub memory: u64,
    /// Served from a disk tier.
    pub disk: u64,
    /// Read from the inner store.
    pub store: u64,
}

/// One tier's counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TierSnapshot {
    /// `memory` or the disk tier's name.
    pub tier: String,
    /// Block lookups this tier answered.
    pub hits: u64,
    /// Block lookups it did not.
    pub misses: u64,
    /// Blocks its policy evicted.
    pub evictions: u64,
    /// Bytes held.
    pub used_bytes: u64,
    /// Its budget in bytes.
    pub capacity_bytes: u64,
    /// The tier is off (unwritable directory, I/O errors, lock held elsewhere); reads bypass it.
    pub degraded: bool,
}

/// A latency histogram of block reads from one source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LatencySnapshot {
    /// `memory`, `disk` or `store`.
    pub source: String,
    /// Counts per bucket of [`LATENCY_BUCKETS_MICROS`] (not cumulative), then the overflow bucket.
    pub buckets: Vec<u64>,
    /// Observations.
    pub count: u64,
    /// Their sum in microseconds.
    pub sum_micros: u64,
}

/// A point-in-time copy of the cache's statistics (serde, camelCase).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CacheStatsSnapshot {
    /// Bytes served by source.
    pub bytes: SourceCounts,
    /// Block requests served by source.
    pub requests: SourceCounts,
    /// Memory tier first, then the disk tiers in order.
    pub tiers: Vec<TierSnapshot>,
    /// Block misses that joined a store read already in flight.
    pub single_flight_joins: u64,
    /// Disk blocks whose CRC-32C (or footer) did not check out; each was deleted and re-read.
    pub checksum_failures: u64,
    /// Read-ahead block loads started.
    pub prefetch_issued: u64,
    /// Prefetched blocks a reader then asked for.
    pub prefetch_used: u64,
    /// Prefetched blocks evicted before anyone asked for them.
    pub prefetch_wasted: u64,
    /// Block reads from the store that failed.
    pub store_errors: u64,
    /// Reads retried after the object changed under them (`Precondition`).
    pub precondition_retries: u64,
    /// Paths invalidated by writes or detected changes.
    pub invalidations: u64,
    /// Blocks written to disk.
    pub disk_writes: u64,
    /// Blocks not written to disk because the write queue was full.
    pub disk_writes_dropped: u64,
    /// HEADs answered by the metadata cache.
    pub metadata_hits: u64,
    /// HEADs sent to the store.
    pub metadata_misses: u64,
    /// Read latency per source.
    pub latency: Vec<LatencySnapshot>,
}

/// Fluid's worker "ReportSummary": strings, memory and disk bytes as `local`, store bytes as `ufs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerSummary {
    /// Bytes cached across tiers (`"12.00MiB"`).
    pub cached: String,
    /// Cached bytes over the dataset's total (`"%.1f%%"`), empty while the total is unknown.
    pub cached_percentage: String,
    /// The summed capacity of the tiers that are not degraded.
    pub cache_capacity: String,
    /// Cumulative `local / (local + ufs)` bytes (`"%.1f%%"`).
    pub cache_hit_ratio: String,
}

impl CacheStatsSnapshot {
    /// Bytes held by every tier (a block in memory and on disk counts twice here).
    #[must_use]
    pub fn cached_bytes(&self) -> u64 {
        self.tiers.iter().map(|t| t.used_bytes).sum()
    }

    /// The worker summary; `ufs_total_bytes` is the dataset's size when known.
    #[must_use]
    pub fn worker_summary(&self, ufs_total_bytes: Option<u64>) -> WorkerSummary {
        let cached = self.cached_bytes();
        let capacity = self
            .tiers
            .iter()
            .filter(|t| !t.degraded)
            .map(|t| t.capacity_bytes)
            .sum();
        #[allow(
            clippy::cast_precision_loss,
            reason = "a ratio needs no more than 53 bits"
        )]
        let (local, ufs) = (
            (self.bytes.memory + self.bytes.disk) as f64,
            self.bytes.store as f64,
        );
        WorkerSummary {
            cached: format_bytes(cached),
            cached_percentage: cached_percentage(cached, ufs_total_bytes).unwrap_or_default(),
            cache_capacity: format_bytes(capacity),
            cache_hit_ratio: percent(local, local + ufs),
        }
    }

    /// The statistics as Prometheus text exposition, every metric named `ksx_cache_*`.
    #[must_use]
    pub fn to_prometheus(&self) -> String {
        let mut o = String::new();
        let sources = [
            ("memory", self.bytes.memory, self.requests.memory),
            ("disk", self.bytes.disk, self.requests.disk),
            ("store", self.bytes.store, self.requests.store),
        ];
        header(
            &mut o,
            "ksx_cache_bytes_total",
            "counter",
            "Bytes served by source.",
        );
        for (s, b, _) in sources {
            let _ = writeln!(o, "ksx_cache_bytes_total{{source=\"{s}\"}} {b}");
        }
        header(
            &mut o,
            "ksx_cache_requests_total",
            "counter",
            "Block reads served by source.",
        );
        for (s, _, r) in sources {
            let _ = writeln!(o, "ksx_cache_requests_total{{source=\"{s}\"}} {r}");
        }
        type TierField = fn(&TierSnapshot) -> u64;
        let tier_metrics: [(&str, &str, &str, TierField); 5] = [
            (
                "ksx_cache_hits_total",
                "counter",
                "Block lookups a tier answered.",
                |t| t.hits,
            ),
            (
                "ksx_cache_misses_total",
                "counter",
                "Block lookups a tier did not answer.",
                |t| t.misses,
            ),
            (
                "ksx_cache_evictions_total",
                "counter",
                "Blocks a tier's policy evicted.",
                |t| t.evictions,
            ),
            (
                "ksx_cache_usage_bytes",
                "gauge",
                "Bytes a tier holds.",
                |t| t.used_bytes,
            ),
            (
                "ksx_cache_capacity_bytes",
                "gauge",
                "A tier's budget in bytes.",
                |t| t.capacity_bytes,
            ),
        ];
        for (name, kind, help, field) in tier_metrics {
            header(&mut o, name, kind, help);
            for t in &self.tiers {
                let _ = writeln!(o, "{name}{{tier=\"{}\"}} {}", t.tier, field(t));
            }
        }
        header(
            &mut o,
            "ksx_cache_tier_degraded",
            "gauge",
            "1 when a tier is off and reads bypass it.",
        );
        for t in &self.tiers {
            let _ = writeln!(
                o,
                "ksx_cache_tier_degraded{{tier=\"{}\"}} {}",
                t.tier,
                u8::from(t.degraded)
            );
        }
        let counters = [
            (
                "ksx_cache_single_flight_joins_total",
                "Misses that joined a store read in flight.",
                self.single_flight_joins,
            ),
            (
                "ksx_cache_checksum_failures_total",
                "Disk blocks that failed their checksum.",
                self.checksum_failures,
            ),
            (
                "ksx_cache_prefetch_issued_total",
                "Read-ahead block loads started.",
                self.prefetch_issued,
            ),
            (
                "ksx_cache_prefetch_used_total",
                "Prefetched blocks that were read.",
                self.prefetch_used,
            ),
            (
                "ksx_cache_prefetch_wasted_total",
                "Prefetched blocks evicted unread.",
                self.prefetch_wasted,
            ),
            (
                "ksx_cache_store_errors_total",
                "Failed block reads from the store.",
                self.store_errors,
            ),
            (
                "ksx_cache_precondition_retries_total",
                "Reads retried after the object changed.",
                self.precondition_retries,
            ),
            (
                "ksx_cache_invalidations_total",
                "Paths invalidated.",
                self.invalidations,
            ),
            (
                "ksx_cache_disk_writes_total",
                "Blocks written to disk.",
                self.disk_writes,
            ),
            (
                "ksx_cache_disk_writes_dropped_total",
                "Disk writes dropped on a full queue.",
                self.disk_writes_dropped,
            ),
            (
                "ksx_cache_metadata_hits_total",
                "HEADs answered from the metadata cache.",
                self.metadata_hits,
            ),
            (
                "ksx_cache_metadata_misses_total",
                "HEADs sent to the store.",
                self.metadata_misses,
            ),
        ];
        for (name, help, v) in counters {
            header(&mut o, name, "counter", help);
            let _ = writeln!(o, "{name} {v}");
        }
        let name = "ksx_cache_read_latency_seconds";
        header(&mut o, name, "histogram", "Block read latency by source.");
        for l in &self.latency {
            let mut cumulative = 0;
            for (bound, c) in LATENCY_BUCKETS_MICROS.iter().zip(&l.buckets) {
                cumulative += c;
                let _ = writeln!(
                    o,
                    "{name}_bucket{{source=\"{}\",le=\"{}\"}} {cumulative}",
                    l.source,
                    micros_as_secs(*bound)
                );
            }
            let _ = writeln!(
                o,
                "{name}_bucket{{source=\"{}\",le=\"+Inf\"}} {}",
                l.source, l.count
            );
            let _ = writeln!(
                o,
                "{name}_sum{{source=\"{}\"}} {}",
                l.source,
                micros_as_secs(l.sum_micros)
            );
            let _ = writeln!(o, "{name}_count{{source=\"{}\"}} {}", l.source, l.count);
        }
        o
    }
}

fn header(o: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(o, "# HELP {name} {help}");
    let _ = writeln!(o, "# TYPE {name} {kind}");
}

/// Microseconds as decimal seconds without float rounding noise (`250` → `0.00025`).
fn micros_as_secs(micros: u64) -> String {
    let whole = micros / 1_000_000;
    let frac = micros % 1_000_000;
    if frac == 0 {
        return whole.to_string();
    }
    let digits = format!("{frac:06}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// Bytes with a binary suffix and two decimals (`4194304` → `"4.00MiB"`).
#[must_use]
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut unit = 0;
    let mut scaled = u128::from(bytes) * 100;
    while scaled >= 1024 * 100 && unit + 1 < UNITS.len() {
        scaled /= 1024;
        unit += 1;
    }
    let suffix = UNITS.get(unit).copied().unwrap_or("B");
    if unit == 0 {
        return format!("{bytes}B");
    }
    format!("{}.{:02}{suffix}", scaled / 100, scaled % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_format_with_binary_suffixes() {
        assert_eq!(format_bytes(0), "0B");
        assert_eq!(format_bytes(1023), "1023B");
        assert_eq!(format_bytes(1024), "1.00KiB");
        assert_eq!(format_bytes(4 << 20), "4.00MiB");
        assert_eq!(format_bytes(1536 << 20), "1.50GiB");
    }

    #[test]
    fn seconds_print_exactly() {
        assert_eq!(micros_as_secs(100), "0.0001");
        assert_eq!(micros_as_secs(2_500_000), "2.5");
        assert_eq!(micros_as_secs(10_000_000), "10");
    }

    #[test]
    fn histogram_buckets_by_upper_bound() {
        let s = CacheStats::new(vec![TierStats::new("memory", 10)]);
        s.served(Source::Store, 5, 100);
        s.served(Source::Store, 5, 101);
        s.served(Source::Store, 5, 20_000_000);
        let snap = s.snapshot();
        let store = &snap.latency[2];
        assert_eq!(
            (store.buckets[0], store.buckets[1], store.buckets[16]),
            (1, 1, 1)
        );
        assert_eq!(snap.bytes.store, 15);
        let text = snap.to_prometheus();
        assert!(
            text.contains(
                "ksx_cache_read_latency_seconds_bucket{source=\"store\",le=\"0.0001\"} 1\n"
            )
        );
        assert!(text.contains(
            "ksx_cache_read_latency_seconds_bucket{source=\"store\",le=\"0.00025\"} 2\n"
        ));
        assert!(text.contains("ksx_cache_read_latency_seconds_count{source=\"store\"} 3\n"));
    }

    #[test]
    fn summary_counts_memory_and_disk_as_local() {
        let s = CacheStats::new(vec![TierStats::new("memory", 4 << 20)]);
        s.served(Source::Memory, 30, 1);
        s.served(Source::Disk, 10, 1);
        s.served(Source::Store, 60, 1);
        s.tiers[0].used.store(1 << 20, Ordering::Relaxed);
        let w = s.snapshot().worker_summary(Some(4 << 20));
        // local = 40 of 100 bytes; 1 MiB of 4 MiB cached.
        assert_eq!(w.cache_hit_ratio, "40.0%");
        assert_eq!(w.cached_percentage, "25.0%");
        assert_eq!(w.cached, "1.00MiB");
        assert_eq!(w.cache_capacity, "4.00MiB");
    }
}
