//! The cron adapter of plans (spec §3): the Kubernetes CronJob 5-field form (or 6 fields with leading seconds)
//! translated to the `cron` crate's seconds-first, Sunday = 1 form, and fire times computed in an IANA time zone
//! with the DST rules of the spec.
//!
//! **Translation.** Every field is parsed here first (numbers, `JAN`–`DEC`, `SUN`–`SAT`, `*`, `?` = `*`, `a-b`,
//! `*/n`, `a-b/n`, `a/n`, lists) and validated against its range, so an error names the field and value. The
//! resulting set of values is written back in the crate's form: a field given as a bare `*` or `?` stays `*`,
//! anything else becomes sorted runs (`0,15,30,45`, `2-6`). Days of the week are remapped n → n + 1 with 0 and 7
//! both Sunday (→ 1), so a range across the wrap such as `FRI-MON` (5–1) splits into `1-2,6-7`. When both
//! day-of-month and day-of-week are restricted (neither starts with `*` or `?`), a day matches when *either*
//! matches, as in Kubernetes; the adapter then keeps two crate schedules and takes the earlier fire time.
//!
//! **Time zones and DST.** The crate computes on civil (wall-clock) times of `timeZone`; each civil fire time is
//! resolved to an instant with jiff: a civil time skipped by a DST jump fires at the first instant after the jump
//! (the transition itself), a civil time that occurs twice fires once, at its first occurrence. Resolution is
//! monotonic, so the next fire after an instant is the first resolved civil time later than it.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr as _;

use chrono::{DateTime, Datelike as _, NaiveDate, NaiveDateTime, Timelike as _, Utc};
use jiff::Timestamp;
use jiff::civil;
use jiff::tz::{AmbiguousOffset, TimeZone};

use super::error::PlanError;

/// How many civil fire times [`Schedule::next_after`] looks at before giving up (a fold of repeated civil times
/// is at most a few hours of every-second fires).
const MAX_STEPS: usize = 100_000;

/// The fields of a cron expression, in the documented (minute-first) order, with their ranges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Second,
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Self::Second => "second",
            Self::Minute => "minute",
            Self::Hour => "hour",
            Self::DayOfMonth => "day-of-month",
            Self::Month => "month",
            Self::DayOfWeek => "day-of-week",
        }
    }

    fn range(self) -> (u32, u32) {
        match self {
            Self::Second | Self::Minute => (0, 59),
            Self::Hour => (0, 23),
            Self::DayOfMonth => (1, 31),
            Self::Month => (1, 12),
            Self::DayOfWeek => (0, 7),
        }
    }

    fn named(self, text: &str) -> Option<u32> {
        const MONTHS: [&str; 12] = [
            "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
        ];
        const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
        let upper = text.to_ascii_uppercase();
        let table: &[&str] = match self {
            Self::Month => &MONTHS,
            Self::DayOfWeek => &DAYS,
            _ => return None,
        };
        let index = table.iter().position(|n| *n == upper)?;
        let index = u32::try_from(index).ok()?;
        Some(if self == Self::Month {
            index + 1
        } else {
            index
        })
    }
}

/// One parsed field: its values and whether it was written as a bare or stepped wildcard (`*`, `?`, `*/n`).
#[derive(Debug, Clone)]
struct ParsedField {
    values: BTreeSet<u32>,
    /// Written as `*` or `?` alone: unrestricted.
    all: bool,
    /// Starts with `*` or `?` (Kubernetes' rule for combining day-of-month and day-of-week).
    star: bool,
}

/// A validated cron expression of a plan, translated to the `cron` crate.
#[derive(Clone)]
pub struct CronExpr {
    source: String,
    translated: Vec<String>,
    schedules: Vec<cron::Schedule>,
}

impl fmt::Debug for CronExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CronExpr")
            .field("source", &self.source)
            .field("translated", &self.translated)
            .finish()
    }
}

fn invalid(field: &str, reason: String) -> PlanError {
    PlanError::InvalidField {
        field: field.to_owned(),
        reason,
    }
}

fn parse_value(field: Field, text: &str, where_: &str) -> Result<u32, PlanError> {
    let value = if text.bytes().all(|b| b.is_ascii_digit()) && !text.is_empty() {
        text.parse::<u32>().map_err(|_| {
            invalid(
                where_,
                format!("{} value {text:?} is too large", field.name()),
            )
        })?
    } else if let Some(v) = field.named(text) {
        v
    } else {
        return Err(invalid(
            where_,
            format!("{} field: {text:?} is not a number or name", field.name()),
        ));
    };
    let (lo, hi) = field.range();
    if value < lo || value > hi {
        return Err(invalid(
            where_,
            format!(
                "{} field: value {value} is out of range {lo}-{hi}",
                field.name()
            ),
        ));
    }
    Ok(value)
}

fn parse_field(field: Field, text: &str, where_: &str) -> Result<ParsedField, PlanError> {
    let (lo, hi) = field.range();
    let mut values = BTreeSet::new();
    let star = text.starts_with('*') || text.starts_with('?');
    let all = text == "*" || text == "?";
    if text.is_empty() {
        return Err(invalid(where_, format!("{} field is empty", field.name())));
    }
    for item in text.split(',') {
        let (base, step) = match item.split_once('/') {
            Some((base, step)) => {
                let n = step
                    .parse::<u32>()
                    .ok()
                    .filter(|n| *n >= 1 && *n <= hi.max(1))
                    .ok_or_else(|| {
                        invalid(
                            where_,
                            format!(
                                "{} field: step {step:?} in {item:?} is not a number from 1 to {}",
                                field.name(),
                                hi.max(1)
                            ),
                        )
                    })?;
                (base, Some(n))
            }
            None => (item, None),
        };
        let (start, end) = if base == "*" || base == "?" {
            (lo, hi)
        } else if let Some((a, b)) = base.split_once('-') {
            (
                parse_value(field, a, where_)?,
                parse_value(field, b, where_)?,
            )
        } else {
            let v = parse_value(field, base, where_)?;
            // `a/n` means from a to the end of the range, as in Vixie cron.
            (v, if step.is_some() { hi } else { v })
        };
        let step = step.unwrap_or(1);
        if start <= end {
            let mut v = start;
            while v <= end {
                values.insert(v);
                v += step;
            }
        } else if field == Field::DayOfWeek {
            // A range across the wrap (FRI-MON): on to Saturday, then from Sunday.
            let mut v = start;
            let mut count = 0;
            while v != end + 1 || count == 0 {
                if count % step == 0 {
                    values.insert(v);
                }
                count += 1;
                v = if v >= 6 { 0 } else { v + 1 };
                if count > 8 {
                    break;
                }
            }
        } else {
            return Err(invalid(
                where_,
                format!(
                    "{} field: range {base:?} runs backwards (from {start} to {end})",
                    field.name()
                ),
            ));
        }
    }
    Ok(ParsedField { values, all, star })
}

/// Writes a set of values as sorted runs: `0,15,30`, `2-6`, `1-2,6-7`.
fn runs(values: &BTreeSet<u32>) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut iter = values.iter().copied().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while iter.peek() == Some(&(end + 1)) {
            end += 1;
            iter.next();
        }
        out.push(if end == start {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
    }
    out.join(",")
}

fn crate_field(field: &ParsedField) -> String {
    if field.all {
        "*".to_owned()
    } else {
        runs(&field.values)
    }
}

/// The day-of-week field in the crate's numbering: 0 and 7 → 1 (Sunday), n → n + 1.
fn crate_days(field: &ParsedField) -> String {
    if field.all {
        return "*".to_owned();
    }
    let days: BTreeSet<u32> = field
        .values
        .iter()
        .map(|d| if *d == 0 || *d == 7 { 1 } else { d + 1 })
        .collect();
    runs(&days)
}

impl CronExpr {
    /// Parses a schedule as written in a plan: 5 fields (minute hour day-of-month month day-of-week), 6 with
    /// leading seconds, or `@hourly`, `@daily` (`@midnight`), `@weekly`, `@monthly`, `@yearly` (`@annually`).
    ///
    /// # Errors
    /// [`PlanError::InvalidField`] naming `spec.schedule` and the cron field at fault.
    pub fn parse(text: &str) -> Result<Self, PlanError> {
        const WHERE: &str = "spec.schedule";
        let trimmed = text.trim();
        let expanded = match trimmed.to_ascii_lowercase().as_str() {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            other if other.starts_with('@') => {
                return Err(invalid(
                    WHERE,
                    format!(
                        "unknown macro {trimmed:?} (expected @hourly, @daily, @midnight, @weekly, @monthly, @yearly or @annually)"
                    ),
                ));
            }
            _ => trimmed,
        };
        let parts: Vec<&str> = expanded.split_whitespace().collect();
        let fields: Vec<(Field, &str)> = match parts.as_slice() {
            [mi, h, dom, mo, dow] => vec![
                (Field::Second, "0"),
                (Field::Minute, mi),
                (Field::Hour, h),
                (Field::DayOfMonth, dom),
                (Field::Month, mo),
                (Field::DayOfWeek, dow),
            ],
            [s, mi, h, dom, mo, dow] => vec![
                (Field::Second, s),
                (Field::Minute, mi),
                (Field::Hour, h),
                (Field::DayOfMonth, dom),
                (Field::Month, mo),
                (Field::DayOfWeek, dow),
            ],
            other => {
                return Err(invalid(
                    WHERE,
                    format!(
                        "{text:?} has {} fields; expected 5 (minute hour day-of-month month day-of-week) or 6 with leading seconds",
                        other.len()
                    ),
                ));
            }
        };
        let mut parsed = Vec::with_capacity(6);
        for (field, part) in fields {
            parsed.push(parse_field(field, part, WHERE)?);
        }
        let [sec, min, hour, dom, month, dow] = parsed.as_slice() else {
            return Err(invalid(WHERE, "internal: wrong field count".to_owned()));
        };
        let head = format!(
            "{} {} {}",
            crate_field(sec),
            crate_field(min),
            crate_field(hour)
        );
        let month_text = crate_field(month);
        let translated = if !dom.star && !dow.star {
            // Kubernetes: either day field may match.
            vec![
                format!("{head} {} {month_text} *", crate_field(dom)),
                format!("{head} * {month_text} {}", crate_days(dow)),
            ]
        } else {
            vec![format!(
                "{head} {} {month_text} {}",
                crate_field(dom),
                crate_days(dow)
            )]
        };
        let mut schedules = Vec::with_capacity(translated.len());
        for t in &translated {
            let schedule = cron::Schedule::from_str(t)
                .map_err(|e| invalid(WHERE, format!("{text:?} (as {t:?}) is not accepted: {e}")))?;
            schedules.push(schedule);
        }
        Ok(Self {
            source: text.to_owned(),
            translated,
            schedules,
        })
    }

    /// The schedule as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The `cron` crate expressions (seconds first, Sunday = 1): one, or two when day-of-month and day-of-week
    /// are both restricted.
    pub fn translated(&self) -> &[String] {
        &self.translated
    }

    /// The first civil fire time strictly after `after`, or `None` when there is none (before 2101).
    fn next_civil(&self, after: NaiveDateTime) -> Option<NaiveDateTime> {
        let start: DateTime<Utc> = after.and_utc();
        self.schedules
            .iter()
            .filter_map(|s| s.after(&start).next())
            .map(|d| d.naive_utc())
            .min()
    }

    /// The last civil fire time strictly before `before`.
    fn previous_civil(&self, before: NaiveDateTime) -> Option<NaiveDateTime> {
        let start: DateTime<Utc> = before.and_utc();
        self.schedules
            .iter()
            .filter_map(|s| s.after(&start).next_back())
            .map(|d| d.naive_utc())
            .max()
    }
}

/// A plan's schedule: a [`CronExpr`] in a time zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    expr: CronExpr,
    tz: TimeZone,
    tz_name: String,
}

fn to_naive(dt: civil::DateTime) -> Option<NaiveDateTime> {
    let date = NaiveDate::from_ymd_opt(
        i32::from(dt.year()),
        u32::try_from(dt.month()).ok()?,
        u32::try_from(dt.day()).ok()?,
    )?;
    date.and_hms_nano_opt(
        u32::try_from(dt.hour()).ok()?,
        u32::try_from(dt.minute()).ok()?,
        u32::try_from(dt.second()).ok()?,
        u32::try_from(dt.subsec_nanosecond()).ok()?,
    )
}

fn from_naive(dt: NaiveDateTime) -> Option<civil::DateTime> {
    civil::DateTime::new(
        i16::try_from(dt.year()).ok()?,
        i8::try_from(dt.month()).ok()?,
        i8::try_from(dt.day()).ok()?,
        i8::try_from(dt.hour()).ok()?,
        i8::try_from(dt.minute()).ok()?,
        i8::try_from(dt.second()).ok()?,
        0,
    )
    .ok()
}

impl Schedule {
    /// Parses `schedule` ([`CronExpr::parse`]) and looks up `time_zone` (an IANA name; `None` = UTC).
    ///
    /// # Errors
    /// [`PlanError::InvalidField`] naming `spec.schedule` or `spec.timeZone`.
    pub fn new(schedule: &str, time_zone: Option<&str>) -> Result<Self, PlanError> {
        let expr = CronExpr::parse(schedule)?;
        let name = time_zone.unwrap_or("UTC");
        let tz = TimeZone::get(name).map_err(|e| {
            invalid(
                "spec.timeZone",
                format!("{name:?} is not a known IANA time zone: {e}"),
            )
        })?;
        Ok(Self {
            expr,
            tz,
            tz_name: name.to_owned(),
        })
    }

    /// The cron expression.
    pub fn expr(&self) -> &CronExpr {
        &self.expr
    }

    /// The time zone's name.
    pub fn time_zone(&self) -> &str {
        &self.tz_name
    }

    /// The instant a civil fire time stands for: itself when unambiguous, the DST transition when it falls in a
    /// gap, its first occurrence when it falls in a fold.
    fn resolve(&self, civil: civil::DateTime) -> Option<Timestamp> {
        let ambiguous = self.tz.to_ambiguous_timestamp(civil);
        match ambiguous.offset() {
            AmbiguousOffset::Unambiguous { offset }
            | AmbiguousOffset::Fold { before: offset, .. } => offset.to_timestamp(civil).ok(),
            AmbiguousOffset::Gap { after, .. } => {
                // The gap's civil times lie between the transition plus the old offset and the transition plus
                // the new one, so the transition is the first one after `civil - after`.
                let earliest = after.to_timestamp(civil).ok()?;
                self.tz.following(earliest).next().map(|t| t.timestamp())
            }
        }
    }

    fn civil_of(&self, at: Timestamp) -> Option<NaiveDateTime> {
        to_naive(self.tz.to_datetime(at))
    }

    /// The first fire time strictly after `now`; `None` when the schedule never fires again (before 2101).
    pub fn next_after(&self, now: Timestamp) -> Option<Timestamp> {
        let mut civil = self.civil_of(now)?;
        for _ in 0..MAX_STEPS {
            civil = self.expr.next_civil(civil)?;
            let at = self.resolve(from_naive(civil)?)?;
            if at > now {
                return Some(at);
            }
        }
        None
    }

    /// The last fire time at or before `now`; `None` when there is none (after 1970).
    pub fn last_at_or_before(&self, now: Timestamp) -> Option<Timestamp> {
        // Civil times up to three hours after now's civil time may still resolve to or before now (in a fold).
        let start = self.civil_of(now)? + chrono::Duration::hours(3) + chrono::Duration::seconds(1);
        let mut civil = start;
        for _ in 0..MAX_STEPS {
            civil = self.expr.previous_civil(civil)?;
            let at = self.resolve(from_naive(civil)?)?;
            if at <= now {
                return Some(at);
            }
        }
        None
    }
}
