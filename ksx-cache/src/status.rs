//! Dataset status formulas (spec §1.4): cached percentage, hit and throughput ratios from cumulative byte
//! counters, and the autoscaling metric. Pure: time arrives as a value.

use serde::Serialize;

/// `part / total × 100` formatted as Fluid does (`"%.1f%%"`), `"0.0%"` when `total` is 0.
#[must_use]
pub fn percent(part: f64, total: f64) -> String {
    if total <= 0.0 || !total.is_finite() || !part.is_finite() {
        return "0.0%".into();
    }
    format!("{:.1}%", part / total * 100.0)
}

/// `cachedPercentage`: cached bytes (each block counted once across tiers and replicas) over the dataset's total,
/// clamped at 100; `None` while the total is unknown (`ufsTotal` empty or `"[Calculating]"`).
#[must_use]
pub fn cached_percentage(cached_bytes: u64, ufs_total_bytes: Option<u64>) -> Option<String> {
    let total = ufs_total_bytes?;
    #[allow(
        clippy::cast_precision_loss,
        reason = "a percentage needs no more than 53 bits"
    )]
    let (cached, total) = (cached_bytes.min(total) as f64, total as f64);
    Some(percent(cached, total))
}

/// The autoscaling metric `capacity_used_rate = ceil(used × 100 / total)`; `None` when `total` is 0.
#[must_use]
pub fn capacity_used_rate(used_bytes: u64, total_bytes: u64) -> Option<u64> {
    if total_bytes == 0 {
        return None;
    }
    let scaled = u128::from(used_bytes) * 100;
    let total = u128::from(total_bytes);
    u64::try_from(scaled.div_ceil(total)).ok()
}

/// Cumulative bytes read per source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ByteCounters {
    /// From this node's cache (memory and disk).
    pub local: u64,
    /// From a peer's cache (0 in ksx today).
    pub remote: u64,
    /// From the store (the under file system).
    pub ufs: u64,
}

/// Hit (or throughput) ratios as Fluid's status strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Ratios {
    /// `(local + remote) / total`.
    pub cache: String,
    /// `local / total`.
    pub local: String,
    /// `remote / total`.
    pub remote: String,
}

/// Ratios over three amounts (deltas of counters, or per-minute gauges); all `"0.0%"` when they sum to 0.
#[must_use]
pub fn ratios(local: f64, remote: f64, ufs: f64) -> Ratios {
    let total = local + remote + ufs;
    Ratios {
        cache: percent(local + remote, total),
        local: percent(local, total),
        remote: percent(remote, total),
    }
}

/// Hit ratios between two samples of cumulative counters; `None` when a counter went down (a restart), which
/// makes the current sample the new baseline.
#[must_use]
pub fn hit_ratios(previous: ByteCounters, current: ByteCounters) -> Option<Ratios> {
    let delta = |a: u64, b: u64| b.checked_sub(a);
    let local = delta(previous.local, current.local)?;
    let remote = delta(previous.remote, current.remote)?;
    let ufs = delta(previous.ufs, current.ufs)?;
    #[allow(
        clippy::cast_precision_loss,
        reason = "ratios need no more than 53 bits"
    )]
    Some(ratios(local as f64, remote as f64, ufs as f64))
}

/// The hit-ratio state of one dataset: no ratios from the first sample, at most one sample a minute, the last
/// ratios kept across errors and counter resets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HitRatioTracker {
    baseline: Option<(ByteCounters, i64)>,
    last: Option<Ratios>,
}

/// The shortest interval between two samples, in seconds.
pub const SAMPLE_INTERVAL_SECS: i64 = 60;

impl HitRatioTracker {
    /// Records a sample taken at `now_secs` (Unix seconds) and returns the ratios to publish, if any.
    pub fn observe(&mut self, now_secs: i64, counters: ByteCounters) -> Option<&Ratios> {
        match self.baseline {
            None => self.baseline = Some((counters, now_secs)),
            Some((_, at)) if now_secs - at < SAMPLE_INTERVAL_SECS => {}
            Some((previous, _)) => {
                if let Some(r) = hit_ratios(previous, counters) {
                    self.last = Some(r);
                }
                self.baseline = Some((counters, now_secs));
            }
        }
        self.last.as_ref()
    }

    /// The last published ratios (kept when a sample fails).
    #[must_use]
    pub fn last(&self) -> Option<&Ratios> {
        self.last.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fluid_test_vector() {
        let previous = ByteCounters {
            local: 10_000,
            remote: 0,
            ufs: 40_000,
        };
        let current = ByteCounters {
            local: 20_310_917,
            remote: 0,
            ufs: 32_243_712,
        };
        let r = hit_ratios(previous, current).unwrap();
        assert_eq!(
            (r.cache.as_str(), r.local.as_str(), r.remote.as_str()),
            ("38.7%", "38.7%", "0.0%")
        );
        let t = ratios(495.97, 0.0, 787.17);
        assert_eq!(
            (t.cache.as_str(), t.local.as_str(), t.remote.as_str()),
            ("38.7%", "38.7%", "0.0%")
        );
    }

    #[test]
    fn percentages_and_the_autoscaling_metric() {
        assert_eq!(cached_percentage(50, Some(200)).as_deref(), Some("25.0%"));
        assert_eq!(
            cached_percentage(300, Some(200)).as_deref(),
            Some("100.0%"),
            "clamped"
        );
        assert_eq!(
            cached_percentage(1, None),
            None,
            "ufsTotal still calculating"
        );
        assert_eq!(cached_percentage(0, Some(0)).as_deref(), Some("0.0%"));
        assert_eq!(
            ratios(0.0, 0.0, 0.0),
            Ratios {
                cache: "0.0%".into(),
                local: "0.0%".into(),
                remote: "0.0%".into()
            }
        );
        assert_eq!(capacity_used_rate(901, 1000), Some(91), "rounded up");
        assert_eq!(capacity_used_rate(900, 1000), Some(90));
        assert_eq!(capacity_used_rate(1, 0), None);
        assert_eq!(capacity_used_rate(u64::MAX, 1), None);
    }

    #[test]
    fn tracker_waits_a_minute_and_survives_restarts() {
        let c = |local, ufs| ByteCounters {
            local,
            remote: 0,
            ufs,
        };
        let mut t = HitRatioTracker::default();
        assert_eq!(
            t.observe(0, c(0, 0)),
            None,
            "no ratios from the first sample"
        );
        assert_eq!(
            t.observe(30, c(100, 100)),
            None,
            "at most one sample a minute"
        );
        assert_eq!(t.observe(60, c(300, 100)).unwrap().local, "75.0%");
        // A restart resets the counters: keep the last ratios, start a new baseline.
        assert_eq!(t.observe(120, c(10, 0)).unwrap().local, "75.0%");
        assert_eq!(t.observe(180, c(10, 10)).unwrap().local, "0.0%");
        assert_eq!(t.last().unwrap().cache, "0.0%");
    }
}
