//! Time as a seam.
//!
//! Engines never read the wall clock: they receive `now` as a value. The loops that drive them own a [`Clock`]:
//! [`SystemClock`] in production, [`ManualClock`] in tests, simulations and the demo, so a run is reproducible
//! and a test can jump hours ahead without sleeping.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use jiff::Timestamp;

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The wall clock of the machine.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(
        clippy::disallowed_methods,
        reason = "SystemClock is the one place that reads the wall clock"
    )]
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that only moves when told to. Clones share the same time.
///
/// ```
/// use std::time::Duration;
/// use ksx_core::clock::{Clock, ManualClock};
///
/// let clock = ManualClock::at_unix_secs(1_700_000_000);
/// let other = clock.clone();
/// clock.advance(Duration::from_secs(90));
/// assert_eq!(other.now().as_second(), 1_700_000_090);
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<Timestamp>>,
}

impl Default for ManualClock {
    /// Starts at the Unix epoch.
    fn default() -> Self {
        Self::new(Timestamp::UNIX_EPOCH)
    }
}

impl ManualClock {
    /// A clock frozen at `start`.
    pub fn new(start: Timestamp) -> Self {
        Self {
            now: Arc::new(Mutex::new(start)),
        }
    }

    /// A clock frozen at `secs` seconds after the Unix epoch (clamped to the range `jiff` supports).
    pub fn at_unix_secs(secs: i64) -> Self {
        let start = Timestamp::from_second(secs).unwrap_or(if secs < 0 {
            Timestamp::MIN
        } else {
            Timestamp::MAX
        });
        Self::new(start)
    }

    /// Moves the clock forward by `by` (saturating at the largest instant `jiff` supports).
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        let span = jiff::SignedDuration::try_from(by).unwrap_or(jiff::SignedDuration::MAX);
        *now = now.checked_add(span).unwrap_or(Timestamp::MAX);
    }

    /// Sets the clock to `to`, forwards or backwards.
    pub fn set(&self, to: Timestamp) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> Timestamp {
        (**self).now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::at_unix_secs(100);
        assert_eq!(clock.now().as_second(), 100);
        clock.advance(Duration::from_millis(1500));
        assert_eq!(clock.now().as_millisecond(), 101_500);
        clock.set(Timestamp::from_second(5).unwrap());
        assert_eq!(clock.now().as_second(), 5);
    }

    #[test]
    fn manual_clock_saturates() {
        let clock = ManualClock::new(Timestamp::MAX);
        clock.advance(Duration::from_secs(10));
        assert_eq!(clock.now(), Timestamp::MAX);
    }

    #[test]
    fn system_clock_is_after_2020() {
        assert!(SystemClock.now().as_second() > 1_577_836_800);
    }
}
