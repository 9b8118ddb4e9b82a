//! Text to quantity: the scanner and the exact conversion to nano units.
//!
//! The scanner walks the bytes once, without a regular expression and without allocating; only a refusal builds
//! a `String` (its reason). The number is never held as a float: its digits are multiplied out into a `u128`
//! count of nano units (10^-9), which holds every value up to the limit with room to spare.

use super::{Format, MAX_NANOS};

/// What every refusal ends with, so a message read alone shows what is accepted.
const EXAMPLES: &str = "examples: 4Gi, 4G, 500m, 1.5, 1e3";

/// The suffixes Kubernetes knows, for the "did you mean" hints.
const KNOWN_SUFFIXES: [&str; 15] = [
    "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u", "m", "k", "M", "G", "T", "P", "E",
];

/// A nano count of 10^28 or more is past the limit (2^63 units is about 9.2 × 10^27 nano units), so a value
/// with more integer digits than this at nano scale is refused before any arithmetic.
const MAX_NANO_DIGITS: i64 = 28;

/// The reason given for anything beyond [`MAX_NANOS`].
pub(super) const TOO_LARGE: &str = "out of range: the magnitude may be at most 2^63 (9223372036854775808, \
                                    about 9.2E or 8Ei), the largest value Kubernetes keeps";

/// The suffix after the number, with what it multiplies by.
#[derive(Debug, Clone, Copy)]
enum Suffix {
    /// `n u m "" k M G T P E`: a power of ten (the exponent).
    Decimal(i64),
    /// `Ki Mi Gi Ti Pi Ei`: a power of two (the exponent, a multiple of ten).
    Binary(u32),
    /// `e<n>` or `E<n>`: a power of ten written out.
    Exponent(i64),
}

/// Parses `s` into a count of nano units and the format it was written in; `Err` holds the reason.
pub(super) fn parse(s: &str) -> Result<(i128, Format), String> {
    let bytes = s.as_bytes();
    if bytes.is_empty() {
        return Err(format!(
            "empty string; expected a number with an optional suffix ({EXAMPLES})"
        ));
    }

    // An optional sign comes first; Kubernetes accepts "+" as well as "-".
    let (negative, rest) = match bytes {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, bytes),
    };
    let (int, rest) = split_digits(rest);
    // A decimal point may have digits on either side or only one ("1." and ".5" are both valid Kubernetes).
    let (frac, rest) = match rest {
        [b'.', after @ ..] => split_digits(after),
        _ => (&[][..], rest),
    };
    let suffix_at = bytes.len() - rest.len();
    let suffix_text = s.get(suffix_at..).unwrap_or("");
    if int.is_empty() && frac.is_empty() {
        // Kubernetes' scanner reads "Mi", "+" or "." as zero; a quantity without a digit is almost always a
        // mistake in a manifest, so ksx refuses it.
        return Err(no_digits(suffix_text, suffix_at));
    }

    let suffix = parse_suffix(suffix_text)?;
    let digits = Digits { int, frac };
    let magnitude = match suffix {
        Suffix::Decimal(exp) | Suffix::Exponent(exp) => digits.decimal_nanos(exp),
        Suffix::Binary(power) => digits.binary_nanos(power),
    }
    .filter(|n| *n <= MAX_NANOS)
    .ok_or_else(|| TOO_LARGE.to_owned())?;

    let format = match suffix {
        // Kubernetes stores a binary value strictly between -1 and 1 as DecimalSI: no binary suffix can print it.
        Suffix::Binary(_) if magnitude != 0 && magnitude < super::NANOS_PER_UNIT => {
            Format::DecimalSi
        }
        Suffix::Binary(_) => Format::BinarySi,
        Suffix::Decimal(_) => Format::DecimalSi,
        Suffix::Exponent(_) => Format::DecimalExponent,
    };
    let magnitude = i128::try_from(magnitude).map_err(|_| TOO_LARGE.to_owned())?;
    Ok((if negative { -magnitude } else { magnitude }, format))
}

/// Splits off the leading ASCII digits.
fn split_digits(bytes: &[u8]) -> (&[u8], &[u8]) {
    let n = bytes
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(bytes.len());
    bytes.split_at_checked(n).unwrap_or((bytes, &[]))
}

/// The reason for a text that has no digit where the number should be.
fn no_digits(rest: &str, at: usize) -> String {
    match rest.chars().next() {
        None => format!("no digits ({EXAMPLES})"),
        Some(c) if c.is_ascii_alphabetic() => {
            format!("no digits before the suffix {rest:?}; write the number first ({EXAMPLES})")
        }
        Some(c) => format!(
            "unexpected {c:?} at byte {at}; a quantity is an optional sign, digits with an optional decimal \
             point, then an optional suffix, with no spaces ({EXAMPLES})"
        ),
    }
}

/// Reads the suffix: one of the SI tables, or an exponent `e<n>`/`E<n>` (a lone `E` is exa, not an exponent).
fn parse_suffix(text: &str) -> Result<Suffix, String> {
    let suffix = match text.as_bytes() {
        b"" => Suffix::Decimal(0),
        b"n" => Suffix::Decimal(-9),
        b"u" => Suffix::Decimal(-6),
        b"m" => Suffix::Decimal(-3),
        b"k" => Suffix::Decimal(3),
        b"M" => Suffix::Decimal(6),
        b"G" => Suffix::Decimal(9),
        b"T" => Suffix::Decimal(12),
        b"P" => Suffix::Decimal(15),
        b"E" => Suffix::Decimal(18),
        b"Ki" => Suffix::Binary(10),
        b"Mi" => Suffix::Binary(20),
        b"Gi" => Suffix::Binary(30),
        b"Ti" => Suffix::Binary(40),
        b"Pi" => Suffix::Binary(50),
        b"Ei" => Suffix::Binary(60),
        [b'e' | b'E', exponent @ ..] => Suffix::Exponent(parse_exponent(exponent)?),
        _ => return Err(unknown_suffix(text)),
    };
    Ok(suffix)
}

/// Reads the signed integer of an exponent suffix. Kubernetes reads it as a 64-bit integer and then keeps only
/// the low 32 bits, which silently changes huge exponents; ksx refuses any exponent outside the 32-bit range.
fn parse_exponent(bytes: &[u8]) -> Result<i64, String> {
    let (negative, digits) = match bytes {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, bytes),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(format!(
            "the exponent after 'e' must be an integer such as e3 or e-6 ({EXAMPLES})"
        ));
    }
    let mut value: i64 = 0;
    for d in digits {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(i64::from(d - b'0')))
            .filter(|v| *v <= i64::from(i32::MAX))
            .ok_or_else(|| {
                "the exponent is out of range (at most 2147483647 either way)".to_owned()
            })?;
    }
    Ok(if negative { -value } else { value })
}

/// The reason for a suffix that is not in the grammar, with a hint for the usual slips.
fn unknown_suffix(text: &str) -> String {
    const VALID: &str = "valid suffixes: Ki Mi Gi Ti Pi Ei (powers of 1024), n u m k M G T P E (powers of 1000), \
                         or an exponent such as e3";
    if text.starts_with('.') {
        return format!("more than one decimal point ({EXAMPLES})");
    }
    if text.chars().any(char::is_whitespace) {
        return format!(
            "spaces are not allowed, neither around the number nor before the suffix ({EXAMPLES})"
        );
    }
    if let Some(known) = KNOWN_SUFFIXES.iter().find(|k| k.eq_ignore_ascii_case(text)) {
        return format!(
            "unknown suffix {text:?}: suffixes are case-sensitive, did you mean {known:?}? ({VALID})"
        );
    }
    // "4GB", "512MiB": Kubernetes units carry no byte letter.
    let without_b = text.strip_suffix(['B', 'b']).unwrap_or("");
    let known_unit = KNOWN_SUFFIXES
        .iter()
        .any(|k| k.eq_ignore_ascii_case(without_b));
    if let Some(letter) = without_b.chars().next().filter(|_| known_unit) {
        let upper = letter.to_ascii_uppercase();
        let decimal = if upper == 'K' { 'k' } else { upper };
        return format!(
            "unknown suffix {text:?}: quantities take no byte letter B; write {decimal:?} for powers of 1000 or \
             \"{upper}i\" for powers of 1024 ({EXAMPLES})"
        );
    }
    format!("unknown suffix {text:?} ({VALID}; {EXAMPLES})")
}

/// The digits of the number, split at the decimal point.
struct Digits<'a> {
    int: &'a [u8],
    frac: &'a [u8],
}

impl Digits<'_> {
    /// The significant digits (leading zeros dropped) as values 0–9, and how many there are.
    fn significant(&self) -> (impl Iterator<Item = u8> + '_, i64) {
        let all = self
            .int
            .iter()
            .chain(self.frac)
            .map(|d| d.wrapping_sub(b'0'));
        let leading = all.clone().take_while(|d| *d == 0).count();
        let total = self.int.len() + self.frac.len();
        let count = i64::try_from(total - leading).unwrap_or(i64::MAX);
        (all.skip(leading), count)
    }

    /// How many places the digit string must move left to count nano units: the suffix exponent, less the
    /// fraction digits, plus nine.
    fn nano_shift(&self, exponent: i64) -> i64 {
        let frac_len = i64::try_from(self.frac.len()).unwrap_or(i64::MAX);
        exponent.saturating_sub(frac_len).saturating_add(9)
    }

    /// The magnitude in nano units for a power-of-ten suffix, or `None` when it is far too large.
    fn decimal_nanos(&self, exponent: i64) -> Option<u128> {
        let (digits, count) = self.significant();
        scale_digits(digits, count, self.nano_shift(exponent))
    }

    /// The magnitude in nano units for a binary suffix `2^power`, or `None` when it is far too large.
    fn binary_nanos(&self, power: u32) -> Option<u128> {
        let (digits, count) = self.significant();
        let shift = self.nano_shift(0);
        if shift >= 0 {
            // At most nine fraction digits: digits × 10^shift is an exact integer, and so is its product with
            // the power of two. This covers everything people write ("1Gi", "0.5Mi", "1.25Gi").
            scale_digits(digits, count, shift)?.checked_mul(1u128 << power)
        } else {
            divide_by_five_powers(digits, count, shift, power)
        }
    }
}

/// Computes `digits × 10^shift` as an integer, rounding the magnitude up when non-zero digits fall below the
/// unit. Kubernetes rounds up rather than to nearest "so that if you want some resources, you get some":
/// 0.1n becomes 1n, never 0. `None` means at least 10^28, past the limit.
fn scale_digits(digits: impl Iterator<Item = u8>, count: i64, shift: i64) -> Option<u128> {
    if count == 0 {
        return Some(0);
    }
    let int_digits = count.saturating_add(shift);
    if int_digits > MAX_NANO_DIGITS {
        return None;
    }
    if int_digits <= 0 {
        // Every significant digit is below one nano unit and at least one is non-zero.
        return Some(1);
    }
    let mut acc: u128 = 0;
    let mut keep = int_digits;
    let mut below = false;
    for d in digits {
        if keep > 0 {
            // At most 28 digits are kept, so this stays below 10^28.
            acc = acc * 10 + u128::from(d);
            keep -= 1;
        } else if d != 0 {
            below = true;
            break;
        }
    }
    if shift > 0 {
        acc = acc.checked_mul(10u128.checked_pow(u32::try_from(shift).ok()?)?)?;
    }
    Some(acc + u128::from(below))
}

/// The rare case of a binary suffix with more than nine fraction digits ("0.000000000001Ki"): the product with
/// 2^power must be rounded up only after multiplying, so the exact value is needed. Since
/// `2^p = 10^p / 5^p`, the value is `digits × 10^(shift + p) / 5^p`, computed as a long division that streams
/// the digits through one or two divisors (5^p can exceed a `u128` when p is 60) and never allocates.
fn divide_by_five_powers(
    mut digits: impl Iterator<Item = u8>,
    count: i64,
    shift: i64,
    power: u32,
) -> Option<u128> {
    if count == 0 {
        return Some(0);
    }
    let int_digits = count.saturating_add(shift).saturating_add(i64::from(power));
    // 5^60 < 10^42, so a dividend with 71 or more integer digits gives a quotient of at least 10^28.
    if int_digits > MAX_NANO_DIGITS + 42 {
        return None;
    }
    if int_digits <= 0 {
        return Some(1);
    }
    let first = power.min(30);
    let (d1, d2) = (5u128.pow(first), 5u128.pow(power - first));
    let (mut r1, mut r2, mut acc) = (0u128, 0u128, 0u128);
    for _ in 0..int_digits {
        // Past the written digits the dividend continues with zeros (a positive shift).
        let d = digits.next().unwrap_or(0);
        let c1 = r1 * 10 + u128::from(d);
        r1 = c1 % d1;
        let c2 = r2 * 10 + c1 / d1;
        r2 = c2 % d2;
        acc = acc.checked_mul(10)?.checked_add(c2 / d2)?;
    }
    let below = r1 != 0 || r2 != 0 || digits.any(|d| d != 0);
    acc.checked_add(u128::from(below))
}
