//! `cron`: a time window between two 5-field cron expressions, in an IANA time zone. Pure: no I/O, time comes
//! from the poll's `now`.
//!
//! Metadata: `start`, `end` (5-field cron or `@hourly`, `@daily`/`@midnight`, `@weekly`, `@monthly`,
//! `@yearly`/`@annually`; different from each other), `timezone` (IANA, required), `desiredReplicas` (> 0). The
//! trigger is active iff the next end comes before the next start (we are inside the window); the metric is
//! `desiredReplicas` inside and 0 outside, against a target of 1. Name `cron-<tz>-<start>-<end>` with spaces
//! dropped and `*` written `x`.
//!
//! Expressions follow the standard cron rules (as upstream's parser): `*`, `?` (day fields), lists `a,b`,
//! ranges `a-b`, steps `*/n`, `a-b/n`, `a/n`, month and weekday names (`JAN`, `MON`), weekday 0 or 7 for Sunday.
//! When both day-of-month and day-of-week are restricted a day matching either runs; when one is `*` or `?` both
//! must match. Times that a DST change skips run at the first instant after the gap; times it repeats run once.

use std::fmt;
use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use super::{Meta, normalize_metric_name};
use crate::event::scaler::{MetricSpec, Reading, Scaler, ScalerError};

/// How far ahead [`CronExpr::next_after`] looks before giving up, in years.
const SEARCH_YEARS: i16 = 5;

/// A parsed 5-field cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronExpr {
    minutes: u64,
    hours: u32,
    days: u32,
    months: u16,
    weekdays: u8,
    day_star: bool,
    weekday_star: bool,
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

fn value(s: &str, names: &[&str], offset: u32) -> Option<u32> {
    if let Ok(v) = s.parse::<u32>() {
        return Some(v);
    }
    names
        .iter()
        .position(|n| n.eq_ignore_ascii_case(s))
        .and_then(|i| u32::try_from(i).ok())
        .map(|i| i + offset)
}

/// Parses one field into a bit set over `min..=max`; returns (bits, whether it was `*`/`?`).
fn field(
    text: &str,
    name: &str,
    min: u32,
    max: u32,
    names: &[&str],
    offset: u32,
) -> Result<(u64, bool), String> {
    let mut bits = 0u64;
    let mut star = false;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => {
                let step = s
                    .parse::<u32>()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("{name}: invalid step {s:?}"))?;
                (r, Some(step))
            }
            None => (part, None),
        };
        let (lo, hi) = if range == "*" || range == "?" {
            if step.is_none() {
                star = true;
            }
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            let a =
                value(a, names, offset).ok_or_else(|| format!("{name}: invalid value {a:?}"))?;
            let b =
                value(b, names, offset).ok_or_else(|| format!("{name}: invalid value {b:?}"))?;
            (a, b)
        } else {
            let a = value(range, names, offset)
                .ok_or_else(|| format!("{name}: invalid value {range:?}"))?;
            // `a/n` runs from a to the end of the range.
            (a, if step.is_some() { max } else { a })
        };
        if lo < min || hi > max || lo > hi {
            return Err(format!(
                "{name}: {part:?} is outside {min}-{max} or an empty range"
            ));
        }
        let step = step.unwrap_or(1);
        let mut v = lo;
        while v <= hi {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok((bits, star))
}

impl CronExpr {
    /// Parses a 5-field expression or a descriptor.
    ///
    /// # Errors
    /// A wrong field count, a value out of range, an unknown name or descriptor, or an expression that can
    /// never fire (`0 0 30 2 *`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let expanded = match text {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            t if t.starts_with('@') => return Err(format!("unsupported descriptor {t:?}")),
            t => t,
        };
        let fields: Vec<&str> = expanded.split_ascii_whitespace().collect();
        let [m, h, dom, mon, dow] = fields.as_slice() else {
            return Err(format!(
                "expected 5 fields (minute hour day-of-month month day-of-week), got {}",
                fields.len()
            ));
        };
        let (minutes, _) = field(m, "minute", 0, 59, &[], 0)?;
        let (hours, _) = field(h, "hour", 0, 23, &[], 0)?;
        let (days, day_star) = field(dom, "day of month", 1, 31, &[], 0)?;
        let (months, _) = field(mon, "month", 1, 12, &MONTHS, 1)?;
        let (mut weekdays, weekday_star) = field(dow, "day of week", 0, 7, &WEEKDAYS, 0)?;
        if weekdays & (1 << 7) != 0 {
            weekdays = (weekdays | 1) & 0x7f;
        }
        let e = Self {
            minutes,
            hours: u32::try_from(hours).unwrap_or(0),
            days: u32::try_from(days).unwrap_or(0),
            months: u16::try_from(months).unwrap_or(0),
            weekdays: u8::try_from(weekdays).unwrap_or(0),
            day_star,
            weekday_star,
        };
        if !e.can_fire() {
            return Err("the expression can never fire".to_owned());
        }
        Ok(e)
    }

    /// Whether some day of some month matches (a day-of-week restriction always finds a day).
    fn can_fire(&self) -> bool {
        if !self.day_star && !self.weekday_star {
            return true;
        }
        if self.day_star {
            return true;
        }
        // Only day-of-month restricts when day-of-week is `*`.
        (1..=12u8).any(|m| {
            let max = match m {
                2 => 29,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            self.months & (1 << m) != 0 && (1..=max).any(|d| self.days & (1 << d) != 0)
        })
    }

    fn day_matches(&self, date: Date) -> bool {
        let dom = self.days & (1 << date.day()) != 0;
        let dow = self.weekdays & (1 << date.weekday().to_sunday_zero_offset()) != 0;
        if self.day_star || self.weekday_star {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// The first instant strictly after `after` at which the expression fires in `tz`; `None` when there is
    /// none within five years.
    pub fn next_after(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let start = after.to_zoned(tz.clone()).datetime();
        let limit = start.year().saturating_add(SEARCH_YEARS);
        let mut date = start.date();
        // The first candidate minute: the minute after `after`, truncated.
        let mut from_minute = Some((start.hour(), start.minute()));
        while date.year() <= limit {
            let month_ok = self.months & (1 << date.month()) != 0;
            if month_ok && self.day_matches(date) {
                for h in 0..24i8 {
                    if self.hours & (1 << h) == 0 {
                        continue;
                    }
                    for mi in 0..60i8 {
                        if self.minutes & (1 << mi) == 0 {
                            continue;
                        }
                        if let Some((fh, fm)) = from_minute
                            && (h, mi) <= (fh, fm)
                        {
                            continue;
                        }
                        let dt = date.at(h, mi, 0, 0);
                        // Gaps resolve to the instant after, folds to the first occurrence.
                        if let Ok(z) = tz.to_ambiguous_zoned(dt).compatible() {
                            let ts = z.timestamp();
                            if ts > after {
                                return Some(ts);
                            }
                        }
                    }
                }
            }
            from_minute = None;
            date = if month_ok {
                date.tomorrow().ok()?
            } else {
                // Skip to the first day of the next month.
                date.last_of_month().tomorrow().ok()?
            };
        }
        None
    }
}

/// Whether the window `[start, end)` is open at `now`: the next end comes before the next start.
pub fn window_open(start: &CronExpr, end: &CronExpr, now: Timestamp, tz: &TimeZone) -> bool {
    match (start.next_after(now, tz), end.next_after(now, tz)) {
        (Some(s), Some(e)) => e < s,
        (None, Some(_)) => true,
        _ => false,
    }
}

/// `cron`: see the module docs.
pub struct CronScaler {
    start: CronExpr,
    end: CronExpr,
    tz: TimeZone,
    desired: f64,
    spec: MetricSpec,
}

impl fmt::Debug for CronScaler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CronScaler")
            .field("tz", &self.tz.iana_name())
            .field("desired", &self.desired)
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

impl CronScaler {
    /// Reads the keys of the module docs.
    ///
    /// # Errors
    /// A missing or invalid key, an unknown time zone, start equal to end, or desiredReplicas ≤ 0.
    pub fn from_meta(meta: &Meta<'_>) -> Result<Self, ScalerError> {
        meta.no_utilization()?;
        let tz_name = meta.required("timezone")?;
        let tz = TimeZone::get(&tz_name).map_err(|e| {
            meta.error(format!(
                "metadata.timezone: {tz_name:?} is not a known IANA time zone ({e})"
            ))
        })?;
        let start_text = meta.required("start")?;
        let end_text = meta.required("end")?;
        if start_text.trim() == end_text.trim() {
            return Err(meta.error("metadata.start and metadata.end must differ"));
        }
        let start = CronExpr::parse(&start_text)
            .map_err(|e| meta.error(format!("metadata.start {start_text:?}: {e}")))?;
        let end = CronExpr::parse(&end_text)
            .map_err(|e| meta.error(format!("metadata.end {end_text:?}: {e}")))?;
        let raw = meta.required("desiredReplicas")?;
        let desired = raw
            .trim()
            .parse::<i32>()
            .ok()
            .filter(|d| *d > 0)
            .ok_or_else(|| {
                meta.error(format!(
                    "metadata.desiredReplicas: {raw:?} is not a positive integer"
                ))
            })?;
        let compact = |s: &str| s.replace(' ', "").replace('*', "x");
        let name = format!(
            "cron-{tz_name}-{}-{}",
            compact(&start_text),
            compact(&end_text)
        );
        Ok(Self {
            start,
            end,
            tz,
            desired: f64::from(desired),
            // No activation threshold: activity is the window itself.
            spec: meta.spec(&normalize_metric_name(&name), 1.0, 0.0),
        })
    }

    /// The reading at engine time `now_nanos`.
    pub fn reading_at(&self, now_nanos: i64) -> Reading {
        let now =
            Timestamp::from_nanosecond(i128::from(now_nanos)).unwrap_or(Timestamp::UNIX_EPOCH);
        let active = window_open(&self.start, &self.end, now, &self.tz);
        Reading {
            value: if active { self.desired } else { 0.0 },
            active,
        }
    }
}

#[async_trait::async_trait]
impl Scaler for CronScaler {
    fn metric_spec(&self) -> &MetricSpec {
        &self.spec
    }

    async fn poll(&self, now_nanos: i64, _timeout: Duration) -> Result<Reading, ScalerError> {
        Ok(self.reading_at(now_nanos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn berlin() -> TimeZone {
        TimeZone::get("Europe/Berlin").unwrap()
    }

    #[test]
    fn next_times() {
        let e = CronExpr::parse("30 8 * * MON-FRI").unwrap();
        // 2026-11-27 is a Friday; 09:00 Berlin (UTC+1) = 08:00Z, past 08:30 local.
        let next = e.next_after(ts("2026-11-27T08:00:00Z"), &berlin()).unwrap();
        // Next run: Monday 2026-11-30 08:30 local = 07:30Z.
        assert_eq!(next, ts("2026-11-30T07:30:00Z"));
        // Strictly after: at exactly 08:30 local, the next is the following day.
        let e = CronExpr::parse("30 8 * * *").unwrap();
        assert_eq!(
            e.next_after(ts("2026-11-30T07:30:00Z"), &berlin()).unwrap(),
            ts("2026-12-01T07:30:00Z")
        );
        // Steps and lists.
        let e = CronExpr::parse("*/20 1,3 * * *").unwrap();
        assert_eq!(
            e.next_after(ts("2026-06-01T01:45:00Z"), &TimeZone::UTC)
                .unwrap(),
            ts("2026-06-01T03:00:00Z")
        );
    }

    #[test]
    fn day_fields_or_when_both_restricted() {
        // The 1st of the month or any Monday.
        let e = CronExpr::parse("0 0 1 * MON").unwrap();
        // 2026-11-29 is a Sunday; the next is Monday the 30th.
        assert_eq!(
            e.next_after(ts("2026-11-29T12:00:00Z"), &TimeZone::UTC)
                .unwrap(),
            ts("2026-11-30T00:00:00Z")
        );
        // With `*` in day-of-week only the 1st counts.
        let e = CronExpr::parse("0 0 1 * *").unwrap();
        assert_eq!(
            e.next_after(ts("2026-11-29T12:00:00Z"), &TimeZone::UTC)
                .unwrap(),
            ts("2026-12-01T00:00:00Z")
        );
    }

    #[test]
    fn dst_gap_and_fold() {
        // 2026-03-29 02:30 does not exist in Berlin: it runs at 03:30 CEST = 01:30Z.
        let e = CronExpr::parse("30 2 * * *").unwrap();
        assert_eq!(
            e.next_after(ts("2026-03-28T23:00:00Z"), &berlin()).unwrap(),
            ts("2026-03-29T01:30:00Z")
        );
        // 2026-10-25 02:30 happens twice: it runs once, at the first (CEST, 00:30Z).
        assert_eq!(
            e.next_after(ts("2026-10-24T23:00:00Z"), &berlin()).unwrap(),
            ts("2026-10-25T00:30:00Z")
        );
        assert_eq!(
            e.next_after(ts("2026-10-25T00:30:00Z"), &berlin()).unwrap(),
            ts("2026-10-26T01:30:00Z")
        );
    }

    #[test]
    fn parse_errors() {
        assert!(CronExpr::parse("* * * *").unwrap_err().contains("5 fields"));
        assert!(
            CronExpr::parse("60 * * * *")
                .unwrap_err()
                .contains("minute")
        );
        assert!(CronExpr::parse("0 0 30 2 *").unwrap_err().contains("never"));
        assert!(CronExpr::parse("0 0 * * FOO").is_err());
        assert!(CronExpr::parse("*/0 * * * *").is_err());
        assert!(CronExpr::parse("@every 5m").is_err());
        assert_eq!(CronExpr::parse("@daily"), CronExpr::parse("0 0 * * *"));
        assert_eq!(CronExpr::parse("0 0 * * 7"), CronExpr::parse("0 0 * * 0"));
    }

    #[test]
    fn window() {
        let start = CronExpr::parse("0 8 * * *").unwrap();
        let end = CronExpr::parse("0 18 * * *").unwrap();
        let tz = berlin();
        // 12:00 local (11:00Z): inside; 20:00 local: outside; 08:00 exactly: inside (start passed).
        assert!(window_open(&start, &end, ts("2026-11-30T11:00:00Z"), &tz));
        assert!(!window_open(&start, &end, ts("2026-11-30T19:00:00Z"), &tz));
        assert!(window_open(&start, &end, ts("2026-11-30T07:00:00Z"), &tz));
        assert!(!window_open(&start, &end, ts("2026-11-30T17:00:00Z"), &tz));
    }

    proptest! {
        #[test]
        fn garbage_never_panics(s in "[0-9*/,?A-Za-z@ -]{0,30}") {
            if let Ok(e) = CronExpr::parse(&s) {
                let now = ts("2026-01-01T00:00:00Z");
                if let Some(n) = e.next_after(now, &TimeZone::UTC) {
                    prop_assert!(n > now);
                }
            }
        }

        #[test]
        fn next_is_a_match_and_minimal(m in 0u8..60, h in 0u8..24, offset in 0i64..(366 * 86_400)) {
            let e = CronExpr::parse(&format!("{m} {h} * * *")).unwrap();
            let now = Timestamp::from_second(1_767_225_600 + offset).unwrap();
            let n = e.next_after(now, &TimeZone::UTC).unwrap();
            let dt = n.to_zoned(TimeZone::UTC).datetime();
            prop_assert_eq!((dt.minute(), dt.hour()), (i8::try_from(m).unwrap(), i8::try_from(h).unwrap()));
            prop_assert!(n > now && n.as_second() - now.as_second() <= 86_400);
        }
    }
}
