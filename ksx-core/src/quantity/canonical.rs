//! Quantity to text: Kubernetes' canonical form (`Quantity.String()` / `CanonicalizeBytes`).
//!
//! The rules, each as Kubernetes applies them:
//! - Zero prints as `0` whatever the format.
//! - BinarySI prints with the largest power of 1024 that divides the value exactly, but only for an integer of
//!   magnitude 1024 or more: a smaller magnitude would need a fraction of `Ki`, and a fraction would be lost,
//!   so both fall back to DecimalSI ("1.5Ki" prints as "1536", "0.5Ki" as "512").
//! - DecimalSI and DecimalExponent move every trailing zero of the mantissa into the exponent, then lower the
//!   exponent to a multiple of three (multiplying the mantissa back by 10 or 100) so that it has an SI suffix:
//!   the mantissa is the smallest integer that keeps the value exact ("1500m", "1M", "12e6", "100e-3").
//! - DecimalSI names the exponent with `n u m "" k M G T P E`; DecimalExponent writes `e<n>`, or nothing for 0.
//!
//! Printing never allocates: the text is assembled in a fixed buffer on the stack.

use super::{Format, NANOS_PER_UNIT};

/// The text of one canonical quantity: at most a sign, 28 mantissa digits and a three-byte suffix.
pub(super) struct Buf {
    bytes: [u8; 40],
    len: usize,
}

impl Buf {
    /// Formats a quantity given as nano units and format.
    pub(super) fn canonical(nanos: i128, format: Format) -> Self {
        let mut buf = Self {
            bytes: [0; 40],
            len: 0,
        };
        if nanos < 0 {
            buf.push(b'-');
        }
        let (mantissa, suffix) = canonical_parts(nanos.unsigned_abs(), format);
        buf.push_u128(mantissa);
        match suffix {
            Suffix::Unit(unit) => unit.bytes().for_each(|b| buf.push(b)),
            Suffix::Exponent(exp) => {
                buf.push(b'e');
                if exp < 0 {
                    buf.push(b'-');
                }
                buf.push_u128(u128::from(exp.unsigned_abs()));
            }
        }
        buf
    }

    /// The text written so far.
    pub(super) fn as_str(&self) -> &str {
        // Only ASCII is ever pushed, so the conversion cannot fail.
        let bytes = self.bytes.get(..self.len).unwrap_or_default();
        std::str::from_utf8(bytes).unwrap_or_default()
    }

    fn push(&mut self, b: u8) {
        if let Some(slot) = self.bytes.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }

    fn push_u128(&mut self, value: u128) {
        match u64::try_from(value) {
            Ok(small) => self.push_u64(small, 1),
            Err(_) => {
                // Values past u64 (more than 19 digits) are rare: split once so the digit loop stays in u64.
                const TEN_POW_19: u128 = 10_000_000_000_000_000_000;
                let high = u64::try_from(value / TEN_POW_19).unwrap_or(u64::MAX);
                let low = u64::try_from(value % TEN_POW_19).unwrap_or(0);
                self.push_u64(high, 1);
                self.push_u64(low, 19);
            }
        }
    }

    /// Writes `value` in decimal with at least `width` digits (zero-padded).
    fn push_u64(&mut self, mut value: u64, width: usize) {
        let mut digits = [0u8; 20];
        let mut n = 0;
        while (value > 0 || n < width) && n < digits.len() {
            if let Some(slot) = digits.get_mut(n) {
                // The remainder is below 10, so the narrowing is exact.
                *slot = b'0' + u8::try_from(value % 10).unwrap_or(0);
            }
            value /= 10;
            n += 1;
        }
        for d in digits.iter().take(n).rev() {
            self.push(*d);
        }
    }
}

/// How the exponent is written after the mantissa.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Suffix {
    /// An SI suffix, binary or decimal, possibly empty.
    Unit(&'static str),
    /// `e<n>`.
    Exponent(i32),
}

/// The canonical mantissa and suffix of a magnitude given in nano units.
pub(super) fn canonical_parts(magnitude: u128, format: Format) -> (u128, Suffix) {
    if magnitude == 0 {
        return (0, Suffix::Unit(""));
    }
    // The limit (2^63 units) keeps the whole part within a u64; the remainder is below 10^9.
    let (whole, frac) = split_units(magnitude);
    let format = match format {
        Format::BinarySi if frac == 0 && whole >= 1024 => return binary_parts(whole),
        // Below 1024 in magnitude, or not an integer: Kubernetes prints it as DecimalSI so nothing is lost.
        Format::BinarySi => Format::DecimalSi,
        other => other,
    };
    let (mantissa, exponent) = decimal_parts(whole, frac);
    let suffix = match format {
        Format::DecimalExponent if exponent == 0 => Suffix::Unit(""),
        Format::DecimalExponent => Suffix::Exponent(exponent),
        _ => match si_unit(exponent) {
            Some(unit) => Suffix::Unit(unit),
            // Unreachable within the limit (exponents run from -9 to 18); an exponent stays exact regardless.
            None => Suffix::Exponent(exponent),
        },
    };
    (mantissa, suffix)
}

/// Splits nano units into whole units and the nano remainder, without a 128-bit division when it fits 64 bits.
pub(super) fn split_units(magnitude: u128) -> (u64, u32) {
    const NANOS: u64 = 1_000_000_000;
    let (whole, frac) = match u64::try_from(magnitude) {
        Ok(small) => (u128::from(small / NANOS), u128::from(small % NANOS)),
        Err(_) => (magnitude / NANOS_PER_UNIT, magnitude % NANOS_PER_UNIT),
    };
    (
        u64::try_from(whole).unwrap_or(u64::MAX),
        u32::try_from(frac).unwrap_or(0),
    )
}

/// BinarySI: remove whole factors of 1024 (at most six, since the value is at most 2^63).
fn binary_parts(whole: u64) -> (u128, Suffix) {
    let steps = (whole.trailing_zeros() / 10).min(6);
    let unit = match steps {
        0 => "",
        1 => "Ki",
        2 => "Mi",
        3 => "Gi",
        4 => "Ti",
        5 => "Pi",
        _ => "Ei",
    };
    (u128::from(whole >> (10 * steps)), Suffix::Unit(unit))
}

/// The smallest mantissa whose exponent is a multiple of three, for a non-zero value `whole + frac × 10^-9`.
fn decimal_parts(whole: u64, frac: u32) -> (u128, i32) {
    let (mut mantissa, mut exponent) = if frac == 0 {
        let (mut m, mut e) = (whole, 0i32);
        while m % 10 == 0 {
            m /= 10;
            e += 1;
        }
        (u128::from(m), e)
    } else {
        // Only the fraction can end in zeros; the whole part sits in front of all nine fraction digits.
        let (mut f, mut zeros) = (frac, 0u32);
        while f % 10 == 0 {
            f /= 10;
            zeros += 1;
        }
        let m = u128::from(whole) * 10u128.pow(9 - zeros) + u128::from(f);
        (m, i32::try_from(zeros).unwrap_or(0) - 9)
    };
    // Lower the exponent to the multiple of three below it (Rust's % keeps the sign, as Go's does).
    while exponent % 3 != 0 {
        mantissa *= 10;
        exponent -= 1;
    }
    (mantissa, exponent)
}

/// The DecimalSI suffix for a power of ten that is a multiple of three.
fn si_unit(exponent: i32) -> Option<&'static str> {
    Some(match exponent {
        -9 => "n",
        -6 => "u",
        -3 => "m",
        0 => "",
        3 => "k",
        6 => "M",
        9 => "G",
        12 => "T",
        15 => "P",
        18 => "E",
        _ => return None,
    })
}
