//! Exponential-bucket histograms as the VPA recommender keeps them (`util/histogram.go`,
//! `histogram_options.go`, `decaying_histogram.go`; spec §3.1), stored sparsely.
//!
//! Bucket 0 starts at 0, bucket `b ≥ 1` at `first × (ratio^b − 1)/(ratio − 1)`; the last bucket has no upper end.
//! A sample of weight `w` goes to [`HistogramOptions::find_bucket`]; a bucket counts for `minBucket`/`maxBucket`
//! only once its weight reaches `epsilon`. [`Histogram::percentile`] returns the **start of the next bucket**
//! (the last bucket's own start), so every answer is a bucket boundary.
//!
//! Storage: upstream keeps 176 `f64` per histogram (1.4 KiB). Here only the span of buckets that ever held a
//! weight is stored (`lo .. lo + len`, inline up to `N` buckets), every bucket outside it being exactly zero. The span is a
//! superset of `[minBucket, maxBucket]`: weights that fell below epsilon outside that range are kept, because
//! upstream keeps them too and a later sample adds to them.

use crate::error::{Error, Result};
use crate::vpa::checkpoint::{HistogramCheckpoint, MAX_CHECKPOINT_WEIGHT};

/// Weight of one CPU sample (`minSampleWeight`).
pub const MIN_SAMPLE_WEIGHT: f64 = 0.1;
/// Weights below this count as zero (`epsilon = 0.001 × minSampleWeight`).
pub const EPSILON: f64 = 0.001 * MIN_SAMPLE_WEIGHT;
/// A decaying histogram renormalizes once a sample is this many half-lives after its reference time.
const MAX_DECAY_EXPONENT: i64 = 100;
/// Nanoseconds from Go's zero time (0001-01-01T00:00:00Z) to the Unix epoch: 719,162 days.
const GO_ZERO_TO_UNIX_NANOS: i128 = 62_135_596_800 * 1_000_000_000;
/// Nanoseconds per hour, for Go's `Duration.Hours`.
const NANOS_PER_HOUR: i64 = 3_600 * 1_000_000_000;

/// The bucket layout of one histogram kind (`exponentialHistogramOptions`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HistogramOptions {
    /// Width of bucket 1 (its start); values below it go to bucket 0.
    pub first_bucket_size: f64,
    /// Growth ratio of bucket widths.
    pub ratio: f64,
    /// `ln(ratio)`, computed once (upstream computes the same value on every call).
    pub ln_ratio: f64,
    /// Number of buckets.
    pub num_buckets: usize,
    /// Weights below this count as zero.
    pub epsilon: f64,
}

/// `1.05f64.ln()`, bit for bit (checked by a test).
const LN_1_05: f64 = 0.048_790_164_169_432_05;

/// CPU usage in cores: first bucket 0.01, max 1000, ratio 1.05 → 176 buckets.
pub const CPU_OPTIONS: HistogramOptions = HistogramOptions {
    first_bucket_size: 0.01,
    ratio: 1.05,
    ln_ratio: LN_1_05,
    num_buckets: 176,
    epsilon: EPSILON,
};

/// Memory peaks in bytes: first bucket 1e7, max 1e12, ratio 1.05 → 176 buckets.
pub const MEMORY_OPTIONS: HistogramOptions = HistogramOptions {
    first_bucket_size: 1e7,
    ratio: 1.05,
    ln_ratio: LN_1_05,
    num_buckets: 176,
    epsilon: EPSILON,
};

impl HistogramOptions {
    /// `NewExponentialHistogramOptions`: `numBuckets = ceil(log_ratio(max × (ratio − 1)/first + 1)) + 1`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidField`] (`histogramOptions`) when `max` or `first` is not positive, `ratio ≤ 1`, or the
    /// layout would need more than 65,535 buckets.
    pub fn exponential(max: f64, first: f64, ratio: f64, epsilon: f64) -> Result<Self> {
        if !(max > 0.0 && first > 0.0 && ratio > 1.0 && epsilon.is_finite()) {
            return Err(Error::invalid(
                "histogramOptions",
                "max and first must be positive and the ratio above 1",
            ));
        }
        let n = log(ratio, max * (ratio - 1.0) / first + 1.0).ceil() + 1.0;
        if !(1.0..=65_535.0).contains(&n) {
            return Err(Error::invalid("histogramOptions", "too many buckets"));
        }
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "n is a whole number within [1, 65535], checked above"
        )]
        let num_buckets = n as usize;
        Ok(Self {
            first_bucket_size: first,
            ratio,
            ln_ratio: ratio.ln(),
            num_buckets,
            epsilon,
        })
    }

    /// The bucket of `value`: 0 below the first bucket size (and for NaN), else
    /// `floor(log_ratio(value × (ratio − 1)/first + 1))`, capped at the last bucket.
    pub fn find_bucket(&self, value: f64) -> usize {
        // NaN goes to bucket 0 too, where Go's conversion would be undefined.
        if value.is_nan() || value < self.first_bucket_size {
            return 0;
        }
        let b = (value * (self.ratio - 1.0) / self.first_bucket_size + 1.0).ln() / self.ln_ratio;
        let last = self.num_buckets - 1;
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss,
            reason = "b ≥ 1 here; the comparison with `last` bounds the conversion"
        )]
        if b >= last as f64 { last } else { b as usize }
    }

    /// Start of `bucket`: 0 for bucket 0, else `first × (ratio^bucket − 1)/(ratio − 1)`.
    pub fn bucket_start(&self, bucket: usize) -> f64 {
        if bucket == 0 {
            return 0.0;
        }
        let exp = f64::from(u32::try_from(bucket).unwrap_or(u32::MAX));
        self.first_bucket_size * (self.ratio.powf(exp) - 1.0) / (self.ratio - 1.0)
    }

    fn last(&self) -> usize {
        self.num_buckets - 1
    }
}

/// Go's `log(base, x)`: `ln x / ln base`.
fn log(base: f64, x: f64) -> f64 {
    x.ln() / base.ln()
}

/// `value − sub`, zeroed below epsilon (`safeSubtract`).
fn safe_subtract(value: f64, sub: f64, epsilon: f64) -> f64 {
    let v = value - sub;
    if v < epsilon { 0.0 } else { v }
}

/// `2^exp` exactly, as Go's `math.Ldexp(1, exp)` (0 below the smallest subnormal, +∞ above the largest float).
pub(crate) fn exp2_int(exp: i64) -> f64 {
    if exp > 1023 {
        f64::INFINITY
    } else if exp >= -1022 {
        // A normal power of two: biased exponent, empty mantissa.
        let biased = u64::try_from(exp + 1023).unwrap_or(0);
        f64::from_bits(biased << 52)
    } else if exp >= -1074 {
        // A subnormal power of two: one mantissa bit.
        let shift = u64::try_from(exp + 1074).unwrap_or(0);
        f64::from_bits(1u64 << shift)
    } else {
        0.0
    }
}

/// Buckets kept inline in a CPU histogram before the weights move to the heap.
pub const CPU_INLINE_BUCKETS: usize = 32;
/// Buckets kept inline in a memory histogram before the weights move to the heap.
pub const MEMORY_INLINE_BUCKETS: usize = 16;

/// A histogram of weighted samples (`histogram`), stored sparsely: the span of touched buckets lives inline
/// (up to `N` buckets, no allocation, next to the rest of the state so a pass over many aggregates streams
/// through memory) and moves to the heap when it grows wider. Every operation takes the [`HistogramOptions`] the
/// histogram was made with.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram<const N: usize> {
    /// Weights of the buckets `lo .. lo + len` while `len ≤ N`; zeros past `len`.
    inline: [f64; N],
    /// Weights of the buckets `lo .. lo + len` once `len > N` (empty before).
    spill: Vec<f64>,
    /// Total weight, which upstream tracks apart from the buckets.
    total: f64,
    /// First stored bucket.
    lo: u16,
    /// Number of stored buckets; every bucket outside `lo .. lo + len` weighs exactly zero.
    len: u16,
    /// `minBucket`: starts at the last bucket.
    min_bucket: u16,
    /// `maxBucket`: starts at 0.
    max_bucket: u16,
}

fn idx(b: usize) -> u16 {
    u16::try_from(b).unwrap_or(u16::MAX)
}

impl<const N: usize> Histogram<N> {
    /// An empty histogram for `opts`.
    pub fn new(opts: &HistogramOptions) -> Self {
        Self {
            inline: [0.0; N],
            spill: Vec::new(),
            total: 0.0,
            lo: 0,
            len: 0,
            min_bucket: idx(opts.last()),
            max_bucket: 0,
        }
    }

    fn weights(&self) -> &[f64] {
        let len = usize::from(self.len);
        if len <= N {
            &self.inline[..len]
        } else {
            &self.spill
        }
    }

    fn weights_mut(&mut self) -> &mut [f64] {
        let len = usize::from(self.len);
        if len <= N {
            &mut self.inline[..len]
        } else {
            &mut self.spill
        }
    }

    /// Weight of `bucket` (0 outside the stored span).
    pub fn bucket_weight(&self, bucket: usize) -> f64 {
        bucket
            .checked_sub(usize::from(self.lo))
            .and_then(|i| self.weights().get(i))
            .copied()
            .unwrap_or(0.0)
    }

    /// The stored slot of `bucket`, widening the span when needed.
    fn slot(&mut self, bucket: usize) -> &mut f64 {
        let lo = usize::from(self.lo);
        let len = usize::from(self.len);
        if len > 0 && bucket >= lo && bucket < lo + len {
            let i = bucket - lo;
            return &mut self.weights_mut()[i];
        }
        let (new_lo, new_len) = if len == 0 {
            (bucket, 1)
        } else {
            let new_lo = lo.min(bucket);
            (new_lo, (lo + len).max(bucket + 1) - new_lo)
        };
        let shift = lo.saturating_sub(new_lo).min(new_len);
        if new_len <= N {
            // Inline before and after: move the stored weights up by `shift`, zeros below them.
            if len > 0 && shift > 0 {
                self.inline.copy_within(0..len, shift);
                self.inline[..shift].fill(0.0);
            }
        } else if len <= N {
            // Moving to the heap.
            let mut spill = vec![0.0; new_len];
            if len > 0 {
                spill[shift..shift + len].copy_from_slice(&self.inline[..len]);
            }
            self.inline = [0.0; N];
            self.spill = spill;
        } else {
            if shift > 0 {
                self.spill.splice(0..0, std::iter::repeat_n(0.0, shift));
            }
            self.spill.resize(new_len, 0.0);
        }
        self.lo = idx(new_lo);
        self.len = idx(new_len);
        let i = bucket - new_lo;
        &mut self.weights_mut()[i]
    }

    /// Total weight.
    pub fn total_weight(&self) -> f64 {
        self.total
    }

    /// `minBucket` and `maxBucket`.
    pub fn min_max_bucket(&self) -> (usize, usize) {
        (usize::from(self.min_bucket), usize::from(self.max_bucket))
    }

    /// Heap bytes held by the bucket weights.
    pub fn heap_bytes(&self) -> usize {
        self.spill.capacity() * size_of::<f64>()
    }

    /// `AddSample`: the bucket and the total gain `weight` (negative weights are ignored: upstream panics on
    /// them, and no caller here passes one).
    pub fn add(&mut self, opts: &HistogramOptions, value: f64, weight: f64) {
        if weight.is_nan() || weight < 0.0 {
            return;
        }
        let b = opts.find_bucket(value);
        let slot = self.slot(b);
        *slot += weight;
        let w = *slot;
        self.total += weight;
        if b < usize::from(self.min_bucket) && w >= opts.epsilon {
            self.min_bucket = idx(b);
        }
        if b > usize::from(self.max_bucket) && w >= opts.epsilon {
            self.max_bucket = idx(b);
        }
    }

    /// `SubtractSample`: the bucket and the total lose `weight`, each zeroed below epsilon, then `minBucket` and
    /// `maxBucket` move inward past buckets below epsilon.
    pub fn subtract(&mut self, opts: &HistogramOptions, value: f64, weight: f64) {
        if weight.is_nan() || weight < 0.0 {
            return;
        }
        let b = opts.find_bucket(value);
        self.total = safe_subtract(self.total, weight, opts.epsilon);
        if self.bucket_weight(b) != 0.0 {
            let slot = self.slot(b);
            *slot = safe_subtract(*slot, weight, opts.epsilon);
        }
        self.update_min_max(opts);
    }

    /// `Merge`: adds `other`'s buckets within its `[minBucket, maxBucket]` and its total. Both must use the same
    /// options.
    pub fn merge(&mut self, other: &Self) {
        for b in usize::from(other.min_bucket)..=usize::from(other.max_bucket) {
            let w = other.bucket_weight(b);
            if w != 0.0 {
                *self.slot(b) += w;
            }
        }
        self.total += other.total;
        self.min_bucket = self.min_bucket.min(other.min_bucket);
        self.max_bucket = self.max_bucket.max(other.max_bucket);
    }

    /// `scale`: multiplies the buckets within `[minBucket, maxBucket]` and the total by `factor` (≥ 0), then moves
    /// `minBucket`/`maxBucket` inward past buckets below epsilon.
    pub fn scale(&mut self, opts: &HistogramOptions, factor: f64) {
        if factor.is_nan() || factor < 0.0 {
            return;
        }
        let (min, max) = self.min_max_bucket();
        let lo = usize::from(self.lo);
        let weights = self.weights_mut();
        for b in min.max(lo)..=max {
            match weights.get_mut(b - lo) {
                Some(w) => *w *= factor,
                None => break,
            }
        }
        self.total *= factor;
        self.update_min_max(opts);
    }

    fn update_min_max(&mut self, opts: &HistogramOptions) {
        let last = opts.last();
        let mut min = usize::from(self.min_bucket);
        while self.bucket_weight(min) < opts.epsilon && min < last {
            min += 1;
        }
        let mut max = usize::from(self.max_bucket);
        while self.bucket_weight(max) < opts.epsilon && max > 0 {
            max -= 1;
        }
        self.min_bucket = idx(min);
        self.max_bucket = idx(max);
    }

    /// True when the weight at `minBucket` is below epsilon.
    pub fn is_empty(&self, opts: &HistogramOptions) -> bool {
        self.bucket_weight(usize::from(self.min_bucket)) < opts.epsilon
    }

    /// `Percentile(p)`: 0 when empty; else weights are summed from `minBucket` up to the first bucket where the
    /// sum reaches `p × total` (never past `maxBucket`), and the start of the bucket after it is returned (the
    /// bucket's own start when it is the last).
    pub fn percentile(&self, opts: &HistogramOptions, p: f64) -> f64 {
        if self.is_empty(opts) {
            return 0.0;
        }
        let threshold = p * self.total;
        let mut partial = 0.0;
        let mut b = usize::from(self.min_bucket);
        let max = usize::from(self.max_bucket);
        while b < max {
            partial += self.bucket_weight(b);
            if partial >= threshold {
                break;
            }
            b += 1;
        }
        if b < opts.last() {
            opts.bucket_start(b + 1)
        } else {
            opts.bucket_start(b)
        }
    }

    /// `SaveToChekpoint`: weights within `[minBucket, maxBucket]` scaled so the heaviest is
    /// [`MAX_CHECKPOINT_WEIGHT`], rounded half up, zeros dropped; the true total kept.
    pub fn to_checkpoint(&self) -> HistogramCheckpoint {
        let mut cp = HistogramCheckpoint {
            total_weight: self.total,
            ..HistogramCheckpoint::default()
        };
        let (min, max) = self.min_max_bucket();
        let heaviest = (min..=max)
            .map(|b| self.bucket_weight(b))
            .fold(0.0, f64::max);
        if heaviest.is_nan() || heaviest <= 0.0 {
            return cp;
        }
        let ratio = f64::from(MAX_CHECKPOINT_WEIGHT) / heaviest;
        for b in min..=max {
            let scaled = (self.bucket_weight(b) * ratio + 0.5).floor();
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "scaled is within [0, 10000] by construction"
            )]
            let w = scaled.clamp(0.0, f64::from(MAX_CHECKPOINT_WEIGHT)) as u32;
            if w > 0
                && let Ok(key) = u32::try_from(b)
            {
                cp.bucket_weights.insert(key, w);
            }
        }
        cp
    }

    /// `LoadFromCheckpoint` into this histogram: every stored weight is scaled by `totalWeight / Σstored` and
    /// added, the total added, then `minBucket`/`maxBucket` recomputed from the loaded buckets
    /// (autoscaler#7726). A checkpoint whose weights sum to zero adds nothing, its total included, as upstream.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidField`] naming `<field>.totalWeight` when the total is negative or not finite (upstream
    /// only refuses a negative one; a NaN total would poison every later estimate), or
    /// `<field>.bucketWeights[i]` when a bucket index is not below the number of buckets. Negative weights
    /// cannot be represented in [`HistogramCheckpoint`] and are refused when it is decoded.
    pub fn load_checkpoint(
        &mut self,
        opts: &HistogramOptions,
        cp: &HistogramCheckpoint,
        field: &str,
    ) -> Result<()> {
        if !(cp.total_weight >= 0.0 && cp.total_weight.is_finite()) {
            return Err(Error::invalid(
                format!("{field}.totalWeight"),
                format!(
                    "must be a finite number, not negative, got {}",
                    cp.total_weight
                ),
            ));
        }
        let mut sum: u64 = 0;
        for (&bucket, &w) in &cp.bucket_weights {
            if usize::try_from(bucket).map_or(true, |b| b >= opts.num_buckets) {
                return Err(Error::invalid(
                    format!("{field}.bucketWeights[{bucket}]"),
                    format!(
                        "bucket index must be below {}, got {bucket}",
                        opts.num_buckets
                    ),
                ));
            }
            sum += u64::from(w);
        }
        if sum == 0 {
            return Ok(());
        }
        #[allow(
            clippy::cast_precision_loss,
            reason = "at most 176 × 10^4 (or 2^32) per bucket: exact in f64"
        )]
        let ratio = cp.total_weight / sum as f64;
        let mut min = usize::from(self.min_bucket);
        let mut max = usize::from(self.max_bucket);
        for (&bucket, &w) in &cp.bucket_weights {
            // The index was checked against num_buckets above.
            let b = usize::try_from(bucket).unwrap_or(0);
            min = min.min(b);
            max = max.max(b);
            *self.slot(b) += f64::from(w) * ratio;
        }
        self.total += cp.total_weight;
        self.min_bucket = idx(min);
        self.max_bucket = idx(max);
        self.update_min_max(opts);
        Ok(())
    }
}

/// The CPU usage histogram of an aggregate.
pub type CpuHistogram = DecayingHistogram<CPU_INLINE_BUCKETS>;
/// The memory peak histogram of an aggregate.
pub type MemoryHistogram = DecayingHistogram<MEMORY_INLINE_BUCKETS>;

/// A histogram whose sample weights grow exponentially with time (`decayingHistogram`): a weight `w` at `t`
/// enters as `w × 2^((t − ref)/halfLife)`, so older samples count exponentially less.
///
/// The reference time starts at Go's zero time (0001-01-01), so the first sample always moves it. A sample
/// more than 100 half-lives after the reference moves it to the sample's time rounded to a multiple of the
/// half-life (ties up, counted from 0001-01-01) and scales every weight by `2^k`,
/// `k = floor((old − new)/halfLife + 0.5)`.
#[derive(Debug, Clone, PartialEq)]
pub struct DecayingHistogram<const N: usize> {
    hist: Histogram<N>,
    /// Reference time, ns since the Unix epoch; `None` is Go's zero time.
    reference: Option<i64>,
}

/// Engine time to nanoseconds since Go's zero time.
fn go_time(t: i64) -> i128 {
    i128::from(t) + GO_ZERO_TO_UNIX_NANOS
}

/// A difference of Go times as a `time.Duration`: saturated to the `i64` range, as `Time.Sub` does.
fn go_sub(a: i128, b: i128) -> i64 {
    let d = a - b;
    i64::try_from(d).unwrap_or(if d < 0 { i64::MIN } else { i64::MAX })
}

/// Go's `Duration.Hours`.
#[allow(
    clippy::cast_precision_loss,
    reason = "the same float conversions as Go's Duration.Hours"
)]
fn hours(d: i64) -> f64 {
    let h = d / NANOS_PER_HOUR;
    let rest = d % NANOS_PER_HOUR;
    h as f64 + rest as f64 / (60.0 * 60.0 * 1e9)
}

impl<const N: usize> DecayingHistogram<N> {
    /// An empty decaying histogram for `opts`, reference at the zero time.
    pub fn new(opts: &HistogramOptions) -> Self {
        Self {
            hist: Histogram::new(opts),
            reference: None,
        }
    }

    /// The plain histogram (decayed weights).
    pub fn histogram(&self) -> &Histogram<N> {
        &self.hist
    }

    /// Reference time in ns since the Unix epoch, `None` for the zero time.
    pub fn reference(&self) -> Option<i64> {
        self.reference
    }

    fn reference_go(&self) -> i128 {
        self.reference.map_or(0, go_time)
    }

    /// Adds `weight` at time `t` (ns), decayed against the reference time, renormalizing first when `t` is more
    /// than 100 half-lives after it.
    pub fn add(
        &mut self,
        opts: &HistogramOptions,
        half_life: i64,
        value: f64,
        weight: f64,
        t: i64,
    ) {
        let factor = self.decay_factor(opts, half_life, t);
        self.hist.add(opts, value, weight * factor);
    }

    /// Subtracts `weight` at time `t` (ns), decayed as [`add`](Self::add).
    pub fn subtract(
        &mut self,
        opts: &HistogramOptions,
        half_life: i64,
        value: f64,
        weight: f64,
        t: i64,
    ) {
        let factor = self.decay_factor(opts, half_life, t);
        self.hist.subtract(opts, value, weight * factor);
    }

    /// Merges `other` after moving the older reference time to the newer one.
    pub fn merge(&mut self, opts: &HistogramOptions, half_life: i64, other: &Self) {
        let mine = self.reference_go();
        let theirs = other.reference_go();
        if mine < theirs {
            self.shift_reference(opts, half_life, theirs);
            self.hist.merge(&other.hist);
        } else if theirs < mine {
            let mut o = other.clone();
            o.shift_reference(opts, half_life, mine);
            self.hist.merge(&o.hist);
        } else {
            self.hist.merge(&other.hist);
        }
    }

    /// `Percentile(p)` of the decayed weights.
    pub fn percentile(&self, opts: &HistogramOptions, p: f64) -> f64 {
        self.hist.percentile(opts, p)
    }

    /// True when empty.
    pub fn is_empty(&self, opts: &HistogramOptions) -> bool {
        self.hist.is_empty(opts)
    }

    /// `decayFactor(t)`: `2^((t − ref)/halfLife)`, moving the reference first when `t > ref + 100 × halfLife`.
    fn decay_factor(&mut self, opts: &HistogramOptions, half_life: i64, t: i64) -> f64 {
        let hl = half_life.max(1);
        let max_allowed = self.reference_go() + i128::from(hl.saturating_mul(MAX_DECAY_EXPONENT));
        let t_go = go_time(t);
        if t_go > max_allowed {
            self.shift_reference(opts, hl, t_go);
        }
        #[allow(
            clippy::cast_precision_loss,
            reason = "the same float conversion as Go's float64(Duration)"
        )]
        let exponent = go_sub(t_go, self.reference_go()) as f64 / hl as f64;
        exponent.exp2()
    }

    /// `shiftReferenceTimestamp`: the new reference is `new_ref` (Go time) rounded to a multiple of the
    /// half-life, ties up; weights scale by `2^round((old − new)/halfLife)` in hours, as upstream computes it.
    fn shift_reference(&mut self, opts: &HistogramOptions, half_life: i64, new_ref: i128) {
        let hl = i128::from(half_life.max(1));
        let r = new_ref.rem_euclid(hl);
        let rounded = if r + r < hl {
            new_ref - r
        } else {
            new_ref + (hl - r)
        };
        let ratio = hours(go_sub(self.reference_go(), rounded)) / hours(half_life.max(1));
        let k = (ratio + 0.5).floor();
        #[allow(
            clippy::cast_possible_truncation,
            reason = "saturating float→int, as Go's int() of a float in range"
        )]
        let k = k as i64;
        self.hist.scale(opts, exp2_int(k));
        let unix = rounded - GO_ZERO_TO_UNIX_NANOS;
        self.reference =
            Some(i64::try_from(unix).unwrap_or(if unix < 0 { i64::MIN } else { i64::MAX }));
    }

    /// `SaveToChekpoint`, with the reference time in Unix seconds (0 for the zero time).
    pub fn to_checkpoint(&self) -> HistogramCheckpoint {
        let mut cp = self.hist.to_checkpoint();
        cp.reference_timestamp = self
            .reference
            .map_or(0, |r| r.div_euclid(crate::vpa::config::NANOS_PER_SEC));
        cp
    }

    /// `LoadFromCheckpoint` into a fresh histogram. A reference time of 0 on a checkpoint without weights is the
    /// zero time (what ksx writes for a fresh histogram); with weights it is the Unix epoch.
    ///
    /// # Errors
    ///
    /// As [`Histogram::load_checkpoint`], and `<field>.referenceTimestamp` out of the engine time range.
    pub fn from_checkpoint(
        opts: &HistogramOptions,
        cp: &HistogramCheckpoint,
        field: &str,
    ) -> Result<Self> {
        let mut hist = Histogram::new(opts);
        hist.load_checkpoint(opts, cp, field)?;
        let reference = if cp.reference_timestamp == 0 && cp.bucket_weights.is_empty() {
            None
        } else {
            Some(
                cp.reference_timestamp
                    .checked_mul(crate::vpa::config::NANOS_PER_SEC)
                    .ok_or_else(|| {
                        Error::invalid(
                            format!("{field}.referenceTimestamp"),
                            format!("{} seconds is out of range", cp.reference_timestamp),
                        )
                    })?,
            )
        };
        Ok(Self { hist, reference })
    }
}
