//! Request traces: the file format, seeded generators (Zipf, scan-mixed, loop, ML epochs) and the static
//! hindsight optimum.
//!
//! A trace file has one object key per line, optionally followed by whitespace and a size in bytes; either every
//! line has a size or none has. Blank lines are skipped. Keys compare as exact strings.

use std::collections::{BTreeMap, HashMap};
use std::fmt::{self, Write as _};
use std::str::FromStr;

use crate::error::{Error, Result};

/// The most requests or keys a generator produces, so a typo cannot exhaust memory.
pub const MAX_GENERATED: usize = 100_000_000;

/// One request: an interned key and its size (1 for unit-size traces).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// Index into [`Trace::keys`]; ids follow the sorted order of the key strings.
    pub key: usize,
    /// Size in bytes, or 1 for a unit-size trace.
    pub size: u64,
}

/// A sequence of requests with interned keys.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Trace {
    keys: Vec<String>,
    requests: Vec<Request>,
    sized: bool,
}

impl Trace {
    /// A unit-size trace of these keys, in order.
    #[must_use]
    pub fn from_unit_keys<S: AsRef<str>>(keys: &[S]) -> Self {
        Self::intern(keys.iter().map(|k| (k.as_ref(), 1)), false)
    }

    /// A sized trace of `(key, size in bytes)` requests, in order.
    #[must_use]
    pub fn from_sized_keys<S: AsRef<str>>(requests: &[(S, u64)]) -> Self {
        Self::intern(requests.iter().map(|(k, s)| (k.as_ref(), *s)), true)
    }

    fn intern<'a>(requests: impl Iterator<Item = (&'a str, u64)> + Clone, sized: bool) -> Self {
        let mut ids: BTreeMap<&str, usize> = requests.clone().map(|(k, _)| (k, 0)).collect();
        for (i, id) in ids.values_mut().enumerate() {
            *id = i;
        }
        let requests = requests
            .map(|(k, size)| Request {
                key: ids.get(k).copied().unwrap_or(0),
                size,
            })
            .collect();
        Self {
            keys: ids.into_keys().map(str::to_owned).collect(),
            requests,
            sized,
        }
    }

    /// Parses a trace file's bytes; `file` names the file in errors.
    ///
    /// # Errors
    /// [`Error::TraceLine`] at `file:line` for a line that is not UTF-8, has more than two fields, has a size that
    /// is not a positive integer, or has a size where earlier lines had none (or the reverse).
    pub fn parse(file: &str, bytes: &[u8]) -> Result<Self> {
        let err = |line: usize, message: String| Error::TraceLine {
            file: file.to_owned(),
            line,
            message,
        };
        let mut raw: Vec<(&str, u64)> = Vec::new();
        let mut sized: Option<(bool, usize)> = None;
        for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
            let number = i + 1;
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let line = std::str::from_utf8(line)
                .map_err(|e| err(number, format!("not valid UTF-8 ({e})")))?;
            let mut fields = line.split_ascii_whitespace();
            let Some(key) = fields.next() else { continue };
            let size = fields.next();
            if let Some(extra) = fields.next() {
                return Err(err(
                    number,
                    format!("expected a key and an optional size, found an extra field {extra:?}"),
                ));
            }
            let has_size = size.is_some();
            match sized {
                None => sized = Some((has_size, number)),
                Some((expected, first)) if expected != has_size => {
                    let (this, that) = if has_size {
                        ("has a size", "has none")
                    } else {
                        ("has no size", "has one")
                    };
                    return Err(err(
                        number,
                        format!(
                            "line {this} but line {first} {that}: mixed traces are not allowed"
                        ),
                    ));
                }
                Some(_) => {}
            }
            let size = match size {
                None => 1,
                Some(text) => match text.parse::<u64>() {
                    Ok(0) => return Err(err(number, "size 0: sizes are at least 1 byte".into())),
                    Ok(n) => n,
                    Err(_) => {
                        return Err(err(
                            number,
                            format!("invalid size {text:?}: expected a whole number of bytes"),
                        ));
                    }
                },
            };
            raw.push((key, size));
        }
        let sized = sized.is_some_and(|(s, _)| s);
        Ok(Self::intern(raw.into_iter(), sized))
    }

    /// The distinct keys, sorted; a [`Request::key`] indexes this slice.
    #[must_use]
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// The requests in order.
    #[must_use]
    pub fn requests(&self) -> &[Request] {
        &self.requests
    }

    /// The key ids of the requests in order (what [`crate::policy::Belady::new`] needs).
    #[must_use]
    pub fn key_ids(&self) -> Vec<usize> {
        self.requests.iter().map(|r| r.key).collect()
    }

    /// Whether the trace carries sizes in bytes (else every object has size 1 and capacities count objects).
    #[must_use]
    pub fn is_sized(&self) -> bool {
        self.sized
    }

    /// The number of requests.
    #[must_use]
    pub fn len(&self) -> usize {
        self.requests.len()
    }

    /// Whether the trace has no request.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }

    /// The mean size of the distinct objects (their last requested size), at least 1.
    #[must_use]
    pub fn mean_object_size(&self) -> u64 {
        if !self.sized || self.keys.is_empty() {
            return 1;
        }
        let mut last = vec![0_u64; self.keys.len()];
        for r in &self.requests {
            if let Some(slot) = last.get_mut(r.key) {
                *slot = r.size;
            }
        }
        let total: u128 = last.iter().map(|&s| u128::from(s)).sum();
        let mean = total / (self.keys.len() as u128);
        u64::try_from(mean).unwrap_or(u64::MAX).max(1)
    }

    /// The trace in the file format (sizes written only for sized traces).
    #[must_use]
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for r in &self.requests {
            let key = self.keys.get(r.key).map_or("", String::as_str);
            let _ = if self.sized {
                writeln!(out, "{key} {}", r.size)
            } else {
                writeln!(out, "{key}")
            };
        }
        out
    }
}

/// Hits of the static hindsight optimum with `slots` objects: the `slots` most requested keys kept all along from
/// their first request (a compulsory miss), `Σ (count − 1)` over them. Sizes are ignored (unit sizes).
#[must_use]
pub fn static_optimum_hits(trace: &Trace, slots: usize) -> u64 {
    let mut counts = vec![0_u64; trace.keys().len()];
    for r in trace.requests() {
        if let Some(c) = counts.get_mut(r.key) {
            *c += 1;
        }
    }
    counts.sort_unstable_by(|a, b| b.cmp(a));
    counts.iter().take(slots).map(|c| c.saturating_sub(1)).sum()
}

/// SplitMix64: a tiny generator whose output never changes between releases, so traces are byte-stable.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator from a seed.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        crate::policy::mix64(self.state)
    }

    /// A uniform float in `[0, 1)` with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        #[allow(
            clippy::cast_precision_loss,
            reason = "a 53-bit integer is exact in an f64"
        )]
        let bits = (self.next_u64() >> 11) as f64;
        bits / (1_u64 << 53) as f64
    }

    /// A uniform integer in `0..n` (0 when `n` is 0), by Lemire's multiply-shift.
    pub fn below(&mut self, n: usize) -> usize {
        let wide = u128::from(self.next_u64()) * (n as u128);
        usize::try_from(wide >> 64).unwrap_or(0)
    }
}

/// The kinds of generated traces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum TraceKind {
    /// Ranks 1..N with probability ∝ `k^(−s)`.
    Zipf,
    /// Zipf plus periodic scans of fresh one-hit keys.
    ScanMixed,
    /// Keys 1..N repeated in order.
    Loop,
    /// ML training: every epoch reads all N keys once, in a fresh seeded shuffle.
    Epochs,
}

impl TraceKind {
    /// The name on the command line.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Zipf => "zipf",
            Self::ScanMixed => "scan-mixed",
            Self::Loop => "loop",
            Self::Epochs => "epochs",
        }
    }
}

impl fmt::Display for TraceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for TraceKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        [Self::Zipf, Self::ScanMixed, Self::Loop, Self::Epochs]
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| Error::InvalidParameter {
                field: "kind",
                message: format!(
                    "unknown trace kind {s:?} (known: zipf, scan-mixed, loop, epochs)"
                ),
            })
    }
}

/// Settings of the trace generators (spec §6 defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeneratorConfig {
    /// Distinct keys (ranks for Zipf, the loop length, the dataset size for epochs); default 10,000.
    pub keys: usize,
    /// Requests (ignored by `epochs`, which makes `keys × epochs`); default 100,000.
    pub requests: usize,
    /// The seed; default 1.
    pub seed: u64,
    /// Zipf's exponent `s ≥ 0`; default 0.9.
    pub zipf_s: f64,
    /// Zipf requests between two scans; default 5,000.
    pub scan_every: usize,
    /// Fresh keys per scan; default 2,000.
    pub scan_length: usize,
    /// Epochs of the `epochs` trace; default 5.
    pub epochs: usize,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        Self {
            keys: 10_000,
            requests: 100_000,
            seed: 1,
            zipf_s: 0.9,
            scan_every: 5_000,
            scan_length: 2_000,
            epochs: 5,
        }
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> Error {
    Error::InvalidParameter {
        field,
        message: message.into(),
    }
}

/// Draws Zipf ranks (1-based) by inverse CDF over a table.
#[derive(Debug, Clone)]
pub struct ZipfSampler {
    cdf: Vec<f64>,
}

impl ZipfSampler {
    /// A sampler over ranks `1..=keys` with exponent `s`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when `keys` is 0 or above [`MAX_GENERATED`], or `s` is negative or not finite.
    pub fn new(keys: usize, s: f64) -> Result<Self> {
        if !(s.is_finite() && s >= 0.0) {
            return Err(invalid(
                "zipf",
                format!("exponent {s} must be a finite number ≥ 0"),
            ));
        }
        if keys == 0 || keys > MAX_GENERATED {
            return Err(invalid(
                "keys",
                format!("{keys} must be between 1 and {MAX_GENERATED}"),
            ));
        }
        let mut total = 0.0;
        let cdf = (1..=keys)
            .map(|k| {
                #[allow(clippy::cast_precision_loss, reason = "ranks stay far below 2^53")]
                let rank = k as f64;
                total += rank.powf(-s);
                total
            })
            .collect();
        Ok(Self { cdf })
    }

    /// The next rank, in `1..=keys`.
    pub fn sample(&self, rng: &mut SplitMix64) -> usize {
        let total = self.cdf.last().copied().unwrap_or(0.0);
        let u = rng.next_f64() * total;
        let idx = self.cdf.partition_point(|&c| c <= u);
        idx.min(self.cdf.len().saturating_sub(1)) + 1
    }
}

/// Generates a unit-size trace of this kind.
///
/// # Errors
/// [`Error::InvalidParameter`] for zero keys, a bad Zipf exponent, a zero `scan_every`, zero epochs, or a trace
/// above [`MAX_GENERATED`] requests.
pub fn generate(kind: TraceKind, config: &GeneratorConfig) -> Result<Trace> {
    let keys = config.keys;
    if keys == 0 || keys > MAX_GENERATED {
        return Err(invalid(
            "keys",
            format!("{keys} must be between 1 and {MAX_GENERATED}"),
        ));
    }
    if config.requests > MAX_GENERATED {
        return Err(invalid(
            "requests",
            format!("{} is above the limit {MAX_GENERATED}", config.requests),
        ));
    }
    let mut rng = SplitMix64::new(config.seed);
    let names: Vec<String> = match kind {
        TraceKind::Zipf => {
            let zipf = ZipfSampler::new(keys, config.zipf_s)?;
            (0..config.requests)
                .map(|_| zipf.sample(&mut rng).to_string())
                .collect()
        }
        TraceKind::ScanMixed => {
            if config.scan_every == 0 {
                return Err(invalid("scan-every", "must be at least 1"));
            }
            let zipf = ZipfSampler::new(keys, config.zipf_s)?;
            let mut out = Vec::with_capacity(config.requests);
            let (mut since_scan, mut fresh) = (0, 0_u64);
            while out.len() < config.requests {
                if since_scan == config.scan_every {
                    since_scan = 0;
                    for _ in 0..config.scan_length.min(config.requests - out.len()) {
                        fresh += 1;
                        out.push(format!("scan-{fresh}"));
                    }
                    continue;
                }
                since_scan += 1;
                out.push(zipf.sample(&mut rng).to_string());
            }
            out
        }
        TraceKind::Loop => (0..config.requests)
            .map(|i| (i % keys + 1).to_string())
            .collect(),
        TraceKind::Epochs => {
            if config.epochs == 0 {
                return Err(invalid("epochs", "must be at least 1"));
            }
            let total = keys
                .checked_mul(config.epochs)
                .filter(|&t| t <= MAX_GENERATED);
            let Some(total) = total else {
                return Err(invalid(
                    "epochs",
                    format!(
                        "{keys} keys × {} epochs is above the limit {MAX_GENERATED}",
                        config.epochs
                    ),
                ));
            };
            let mut order: Vec<usize> = (1..=keys).collect();
            let mut out = Vec::with_capacity(total);
            for _ in 0..config.epochs {
                // Fisher–Yates, seeded.
                for i in (1..order.len()).rev() {
                    let j = rng.below(i + 1);
                    order.swap(i, j);
                }
                out.extend(order.iter().map(ToString::to_string));
            }
            out
        }
    };
    Ok(Trace::from_unit_keys(&names))
}

/// Counts requests per key string, sorted by key (for summaries and tests).
#[must_use]
pub fn key_counts(trace: &Trace) -> BTreeMap<String, u64> {
    let mut counts: HashMap<usize, u64> = HashMap::new();
    for r in trace.requests() {
        *counts.entry(r.key).or_default() += 1;
    }
    counts
        .into_iter()
        .filter_map(|(id, c)| trace.keys().get(id).map(|k| (k.clone(), c)))
        .collect()
}

#[cfg(test)]
mod tests;
