//! Kubernetes resource quantities, parsed and printed as `k8s.io/apimachinery/pkg/api/resource` does.
//!
//! A [`Quantity`] is an exact decimal number with the [`Format`] it was written in. No float is involved: the
//! value is held as a count of nano units (10^-9).
//!
//! Grammar: an optional sign (`+` or `-`); digits with an optional decimal point (`1.` and `.5` are valid);
//! then an optional suffix: binary SI `Ki Mi Gi Ti Pi Ei` (powers of 1024), decimal SI `n u m k M G T P E`
//! (powers of 1000), or a decimal exponent `e`/`E` with a signed integer (`1e3`, `1E-3`). Nothing else: no
//! spaces, no `B`, suffixes are case-sensitive.
//!
//! Rules, as Kubernetes applies them:
//! - The suffix sets the format: binary suffixes give BinarySI, decimal ones DecimalSI, exponents
//!   DecimalExponent. A binary value strictly between -1 and 1 becomes DecimalSI, since no binary suffix can
//!   print it.
//! - Precision finer than a nano unit is rounded up in magnitude (away from zero): `0.1n` is `1n`, `-0.1n` is
//!   `-1n`. Kubernetes would rather give a little more of a resource than none.
//! - [`Display`](fmt::Display) prints the canonical form (see the `canonical` submodule): `1000m` prints `1`,
//!   `0.5` prints `500m`, `1.5Gi` prints `1536Mi`, `1.5Ki` prints `1536`, `1e3` stays `1e3`.
//! - [`Quantity::value`] and [`Quantity::milli_value`] round up in magnitude too, and saturate at the `i64`
//!   bounds.
//! - Two quantities are equal when their values are: `1Ki == 1024`, whatever the formats.
//!
//! Where ksx deliberately differs from Kubernetes, it refuses instead of guessing:
//! - Magnitudes above 2^63 are an error. Kubernetes caps binary ones silently at 2^63-1 and keeps larger
//!   decimal ones (whose exponents past `E` then print without a suffix).
//! - A text without any digit (`Mi`, `+`, `.`) is an error; Kubernetes' scanner reads it as zero.
//! - An exponent outside the 32-bit range is an error; Kubernetes truncates it to 32 bits.
//! - Printing is always canonical. Kubernetes echoes some spellings it was given verbatim when they look
//!   canonical to its quick check (`+1`, `01`, `1.500`); ksx prints `1`, `1`, `1500m`.
//!
//! ```
//! use ksx_core::quantity::{Format, Quantity};
//!
//! let q: Quantity = "1.5Gi".parse()?;
//! assert_eq!(q.to_string(), "1536Mi");
//! assert_eq!(q.format(), Format::BinarySi);
//! assert_eq!("0.5".parse::<Quantity>()?.to_string(), "500m");
//! assert_eq!("1000m".parse::<Quantity>()?, "1".parse::<Quantity>()?);
//! assert_eq!("0.1m".parse::<Quantity>()?.milli_value(), 1);
//! assert!("4GB".parse::<Quantity>().is_err());
//! # Ok::<(), ksx_core::Error>(())
//! ```

mod canonical;
mod parse;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::{Serialize, Serializer};

use crate::error::{Error, Result};

/// Nano units in one unit.
const NANOS_PER_UNIT: u128 = 1_000_000_000;

/// The largest magnitude, in nano units: 2^63 units. It is the bound Kubernetes documents (no quantity greater
/// than 2^63-1), widened by one so that every `i64` converts exactly and negation never fails.
const MAX_NANOS: u128 = (1u128 << 63) * NANOS_PER_UNIT;

/// How a quantity prints: the three formats of Kubernetes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Format {
    /// Powers of 1024: `Ki Mi Gi Ti Pi Ei` (Kubernetes `BinarySI`), e.g. `12Mi`.
    BinarySi,
    /// Powers of 1000: `n u m k M G T P E` (Kubernetes `DecimalSI`), e.g. `12M`.
    #[default]
    DecimalSi,
    /// A power of ten written out (Kubernetes `DecimalExponent`), e.g. `12e6`.
    DecimalExponent,
}

impl fmt::Display for Format {
    /// The Kubernetes name: `BinarySI`, `DecimalSI` or `DecimalExponent`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::BinarySi => "BinarySI",
            Self::DecimalSi => "DecimalSI",
            Self::DecimalExponent => "DecimalExponent",
        })
    }
}

/// A Kubernetes resource quantity: an exact value of at most 2^63 in magnitude, with nano (10^-9) precision,
/// and the [`Format`] it prints in.
///
/// Equality, ordering and hashing look at the value only: `"1Ki"` equals `"1024"`.
#[derive(Clone, Copy, Default)]
pub struct Quantity {
    /// The value in nano units; always within `±MAX_NANOS`.
    nanos: i128,
    format: Format,
}

impl Quantity {
    /// Zero, in DecimalSI.
    pub const ZERO: Self = Self {
        nanos: 0,
        format: Format::DecimalSi,
    };

    /// Parses a quantity as Kubernetes does (see the [module docs](self) for the grammar and rules).
    ///
    /// ```
    /// use ksx_core::quantity::Quantity;
    ///
    /// assert_eq!(Quantity::parse("1024Mi")?.to_string(), "1Gi");
    /// assert_eq!(Quantity::parse("1.1e3")?.to_string(), "1100");
    /// # Ok::<(), ksx_core::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidQuantity`] when the text does not follow the grammar (its reason names what is wrong) or
    /// its magnitude exceeds 2^63.
    pub fn parse(s: &str) -> Result<Self> {
        parse::parse(s)
            .map(|(nanos, format)| Self { nanos, format })
            .map_err(|reason| Error::InvalidQuantity {
                value: s.to_owned(),
                reason,
            })
    }

    /// A whole number of units (Kubernetes `NewQuantity`).
    ///
    /// ```
    /// use ksx_core::quantity::{Format, Quantity};
    ///
    /// assert_eq!(Quantity::from_int(2048, Format::BinarySi).to_string(), "2Ki");
    /// assert_eq!(Quantity::from_int(2000, Format::DecimalSi).to_string(), "2k");
    /// ```
    pub fn from_int(value: i64, format: Format) -> Self {
        // |i64| ≤ 2^63, so the product is within the limit.
        Self {
            nanos: i128::from(value) * 1_000_000_000,
            format,
        }
    }

    /// A number of thousandths (Kubernetes `NewMilliQuantity`), the usual way to build CPU amounts.
    ///
    /// ```
    /// use ksx_core::quantity::{Format, Quantity};
    ///
    /// assert_eq!(Quantity::from_milli(250, Format::DecimalSi).to_string(), "250m");
    /// ```
    pub fn from_milli(value: i64, format: Format) -> Self {
        Self {
            nanos: i128::from(value) * 1_000_000,
            format,
        }
    }

    /// `value × 10^scale` in DecimalSI (Kubernetes `NewScaledQuantity`). A scale finer than nano rounds the
    /// magnitude up to a whole nano unit, as parsing does.
    ///
    /// ```
    /// use ksx_core::quantity::Quantity;
    ///
    /// assert_eq!(Quantity::new_scaled(5, 6)?.to_string(), "5M");
    /// assert_eq!(Quantity::new_scaled(15, -1)?.to_string(), "1500m");
    /// # Ok::<(), ksx_core::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidQuantity`] when the magnitude exceeds 2^63.
    pub fn new_scaled(value: i64, scale: i32) -> Result<Self> {
        let shift = i64::from(scale) + 9;
        let magnitude = u128::from(value.unsigned_abs());
        let scaled = if shift >= 0 {
            u32::try_from(shift)
                .ok()
                .and_then(|s| 10u128.checked_pow(s))
                .and_then(|p| magnitude.checked_mul(p))
        } else {
            let divisor = u32::try_from(-shift)
                .ok()
                .and_then(|s| 10u128.checked_pow(s));
            // A divisor past u128 leaves nothing above a nano unit; a non-zero value then rounds up to 1n.
            Some(divisor.map_or(u128::from(magnitude != 0), |d| magnitude.div_ceil(d)))
        };
        let nanos = scaled
            .filter(|n| *n <= MAX_NANOS)
            .and_then(|n| i128::try_from(n).ok())
            .ok_or_else(|| Error::InvalidQuantity {
                value: format!("{value}e{scale}"),
                reason: parse::TOO_LARGE.to_owned(),
            })?;
        Ok(Self {
            nanos: if value < 0 { -nanos } else { nanos },
            format: Format::DecimalSi,
        })
    }

    /// The format the quantity prints in.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The same value printed in another format (Kubernetes lets callers set `Format` at will).
    ///
    /// ```
    /// use ksx_core::quantity::{Format, Quantity};
    ///
    /// let q = Quantity::parse("1073741824")?.with_format(Format::BinarySi);
    /// assert_eq!(q.to_string(), "1Gi");
    /// # Ok::<(), ksx_core::Error>(())
    /// ```
    pub fn with_format(self, format: Format) -> Self {
        Self { format, ..self }
    }

    /// True when the value is zero.
    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    /// The value in whole units, rounded up in magnitude (away from zero) and saturated to the `i64` range
    /// (Kubernetes `Value`).
    ///
    /// ```
    /// use ksx_core::quantity::Quantity;
    ///
    /// assert_eq!(Quantity::parse("1.2")?.value(), 2);
    /// assert_eq!(Quantity::parse("-1.2")?.value(), -2);
    /// assert_eq!(Quantity::parse("1Ki")?.value(), 1024);
    /// # Ok::<(), ksx_core::Error>(())
    /// ```
    pub fn value(&self) -> i64 {
        saturate(self.rounded(1_000_000_000))
    }

    /// The value in thousandths, rounded up in magnitude (away from zero) and saturated to the `i64` range
    /// (Kubernetes `MilliValue`).
    ///
    /// ```
    /// use ksx_core::quantity::Quantity;
    ///
    /// assert_eq!(Quantity::parse("1.5")?.milli_value(), 1500);
    /// assert_eq!(Quantity::parse("0.1m")?.milli_value(), 1);
    /// # Ok::<(), ksx_core::Error>(())
    /// ```
    pub fn milli_value(&self) -> i64 {
        saturate(self.rounded(1_000_000))
    }

    /// The value as a float: exact for integers up to 2^53, the nearest float otherwise.
    pub fn as_f64(&self) -> f64 {
        let (whole, frac) = canonical::split_units(self.nanos.unsigned_abs());
        // The whole part is below 2^64; past 2^53 the nearest float is what a float can give.
        #[allow(
            clippy::cast_precision_loss,
            reason = "a float is an approximation by definition"
        )]
        let magnitude = whole as f64 + f64::from(frac) / 1e9;
        if self.nanos < 0 {
            -magnitude
        } else {
            magnitude
        }
    }

    /// The sum, or `None` past the limit of 2^63 in magnitude. The result keeps this quantity's format, or takes
    /// `other`'s when this one is zero (as Kubernetes `Add` does).
    ///
    /// ```
    /// use ksx_core::quantity::Quantity;
    ///
    /// let sum = Quantity::parse("500m")?.checked_add(&Quantity::parse("1.5")?);
    /// assert_eq!(sum.map(|q| q.to_string()).as_deref(), Some("2"));
    /// # Ok::<(), ksx_core::Error>(())
    /// ```
    pub fn checked_add(&self, other: &Self) -> Option<Self> {
        self.combine(other, self.nanos.checked_add(other.nanos)?)
    }

    /// The difference, or `None` past the limit of 2^63 in magnitude. The format follows the same rule as
    /// [`checked_add`](Self::checked_add).
    pub fn checked_sub(&self, other: &Self) -> Option<Self> {
        self.combine(other, self.nanos.checked_sub(other.nanos)?)
    }

    fn combine(&self, other: &Self, nanos: i128) -> Option<Self> {
        (nanos.unsigned_abs() <= MAX_NANOS).then_some(Self {
            nanos,
            format: if self.is_zero() {
                other.format
            } else {
                self.format
            },
        })
    }

    /// `ceil(|value| × 10^9 / per)` with the sign put back: the value in units of `per` nano units, rounded up
    /// in magnitude. Within the limit it is below 2^63 × 10^9, far inside `i128`.
    fn rounded(&self, per: u64) -> i128 {
        let magnitude = self.nanos.unsigned_abs();
        let rounded = match u64::try_from(magnitude) {
            Ok(small) => u128::from(small.div_ceil(per)),
            Err(_) => magnitude.div_ceil(u128::from(per)),
        };
        let signed = i128::try_from(rounded).unwrap_or(i128::MAX);
        if self.nanos < 0 { -signed } else { signed }
    }
}

/// Clamps to the `i64` range.
fn saturate(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.nanos == other.nanos
    }
}

impl Eq for Quantity {}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

impl Hash for Quantity {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.nanos.hash(state);
    }
}

impl std::ops::Neg for Quantity {
    type Output = Self;

    /// The opposite value, same format. It cannot overflow: the limit is symmetric.
    fn neg(self) -> Self {
        Self {
            nanos: -self.nanos,
            ..self
        }
    }
}

impl fmt::Debug for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Quantity")
            .field(&format_args!("{self}"))
            .field(&self.format)
            .finish()
    }
}

impl fmt::Display for Quantity {
    /// The canonical form, as Kubernetes `String()` prints it; honours width and alignment.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(canonical::Buf::canonical(self.nanos, self.format).as_str())
    }
}

impl FromStr for Quantity {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl Serialize for Quantity {
    /// As the canonical string, as Kubernetes writes quantities.
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    /// From a string or a number, as Kubernetes accepts both. A string is trimmed first, as Kubernetes'
    /// `UnmarshalJSON` does. A JSON number arrives as its value, not its text, so `1e3` written as a number
    /// reads as DecimalSI `1k` where Kubernetes would keep `1e3`; the value is the same.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_any(QuantityVisitor)
    }
}

/// Reads a quantity from a string or a number.
struct QuantityVisitor;

impl QuantityVisitor {
    fn from_units<E: de::Error>(value: i128) -> std::result::Result<Quantity, E> {
        value
            .checked_mul(1_000_000_000)
            .filter(|n| n.unsigned_abs() <= MAX_NANOS)
            .map(|nanos| Quantity {
                nanos,
                format: Format::DecimalSi,
            })
            .ok_or_else(|| {
                E::custom(Error::InvalidQuantity {
                    value: value.to_string(),
                    reason: parse::TOO_LARGE.to_owned(),
                })
            })
    }
}

impl Visitor<'_> for QuantityVisitor {
    type Value = Quantity;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Kubernetes quantity: a string such as \"500m\" or \"4Gi\", or a number")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Quantity, E> {
        Quantity::parse(v.trim()).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Quantity, E> {
        Ok(Quantity::from_int(v, Format::DecimalSi))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Quantity, E> {
        Self::from_units(i128::from(v))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> std::result::Result<Quantity, E> {
        Self::from_units(v)
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> std::result::Result<Quantity, E> {
        Self::from_units(i128::try_from(v).unwrap_or(i128::MAX))
    }

    /// `null` reads as zero, as in Kubernetes' `UnmarshalJSON` (an `Option<Quantity>` still reads it as `None`).
    fn visit_unit<E: de::Error>(self) -> std::result::Result<Quantity, E> {
        Ok(Quantity::ZERO)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<Quantity, E> {
        // Rust prints the shortest decimal that reads back as the same float, never in exponent form, so the
        // quantity gets the decimal value the float stands for ("0.1", not 0.1000000000000000055…).
        Quantity::parse(&v.to_string()).map_err(E::custom)
    }
}

/// The pattern of the quantity grammar, for schemas (the parser itself uses no regular expression).
pub const QUANTITY_PATTERN: &str =
    r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?$";

impl JsonSchema for Quantity {
    fn schema_name() -> Cow<'static, str> {
        "Quantity".into()
    }

    fn schema_id() -> Cow<'static, str> {
        "ksx_core::quantity::Quantity".into()
    }

    /// Inline, as Kubernetes CRD schemas spell quantities out where they are used.
    fn inline_schema() -> bool {
        true
    }

    /// A string or an integer (`x-kubernetes-int-or-string`), as CRDs declare Kubernetes quantities.
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A Kubernetes quantity such as 500m, 2, 1.5Gi or 1e3.",
            "anyOf": [{ "type": "integer" }, { "type": "string" }],
            "pattern": QUANTITY_PATTERN,
            "x-kubernetes-int-or-string": true
        })
    }
}

/// CPU in millicores (thousandths of a core), the unit schedulers count in.
///
/// ```
/// use ksx_core::quantity::{Millicores, Quantity};
///
/// let cpu: Millicores = "250m".parse()?;
/// assert_eq!(cpu, Millicores(250));
/// assert_eq!(Millicores(2000).to_string(), "2");
/// assert_eq!(Millicores::from(&Quantity::parse("0.1m")?), Millicores(1));
/// # Ok::<(), ksx_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Millicores(pub i64);

impl From<Millicores> for Quantity {
    fn from(m: Millicores) -> Self {
        Self::from_milli(m.0, Format::DecimalSi)
    }
}

impl From<&Quantity> for Millicores {
    /// Rounds up to whole millicores and saturates, like [`Quantity::milli_value`].
    fn from(q: &Quantity) -> Self {
        Self(q.milli_value())
    }
}

impl From<Quantity> for Millicores {
    /// Rounds up to whole millicores and saturates, like [`Quantity::milli_value`].
    fn from(q: Quantity) -> Self {
        Self(q.milli_value())
    }
}

impl fmt::Display for Millicores {
    /// As a canonical quantity: `250m`, `2`, `1500m`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&Quantity::from(*self), f)
    }
}

impl FromStr for Millicores {
    type Err = Error;

    /// Parses a quantity and rounds it up to whole millicores.
    fn from_str(s: &str) -> Result<Self> {
        let q = Quantity::parse(s)?;
        // Refuse rather than saturate: a CPU amount past i64 millicores is a typo, not a request.
        i64::try_from(q.rounded(1_000_000))
            .map(Self)
            .map_err(|_| Error::InvalidQuantity {
                value: s.to_owned(),
                reason: "out of range for millicores: at most 9223372036854775807m in magnitude"
                    .to_owned(),
            })
    }
}
