//! Kubernetes resource quantities. (Being written.)

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// A Kubernetes resource quantity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quantity {
    milli: i64,
}

impl Quantity {
    /// The value in thousandths, rounded up.
    pub fn milli_value(&self) -> i64 {
        self.milli
    }
}

impl FromStr for Quantity {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let milli = s.strip_suffix('m').unwrap_or(s).parse().map_err(|_| Error::InvalidQuantity {
            value: s.into(),
            reason: "placeholder".into(),
        })?;
        Ok(Self { milli })
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}m", self.milli)
    }
}
