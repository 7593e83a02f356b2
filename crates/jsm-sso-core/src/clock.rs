//! The time seam: [`Clock`], [`SystemClock`] and the test clock [`FixedClock`].

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

/// The current wall-clock time.
///
/// Everything in the family that compares against "now" (assertion validity, token
/// expiry, store expiry, session age) reads it through this trait, so tests can move time.
/// Implementations must be cheap and must not block; `now` may go backwards if the
/// system clock does (callers allow for skew, they do not assume monotonicity).
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time.
    fn now(&self) -> SystemTime;
}

impl<C: Clock + ?Sized> Clock for std::sync::Arc<C> {
    fn now(&self) -> SystemTime {
        (**self).now()
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> SystemTime {
        (**self).now()
    }
}

/// The operating system's clock ([`SystemTime::now`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// **For tests**: a clock that stands still until told to move.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use jsm_sso_core::Clock;
/// use jsm_sso_core::clock::FixedClock;
///
/// let clock = FixedClock::new(SystemTime::UNIX_EPOCH);
/// clock.advance(Duration::from_secs(90));
/// assert_eq!(clock.now(), SystemTime::UNIX_EPOCH + Duration::from_secs(90));
/// ```
#[derive(Debug)]
pub struct FixedClock {
    now: Mutex<SystemTime>,
}

impl FixedClock {
    /// A clock showing `now`.
    #[must_use]
    pub fn new(now: SystemTime) -> Self {
        Self {
            now: Mutex::new(now),
        }
    }

    /// Sets the time (forwards or backwards).
    pub fn set(&self, now: SystemTime) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = now;
    }

    /// Moves the time forwards by `by`. If that would overflow `SystemTime`, the clock
    /// stays where it is.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(later) = now.checked_add(by) {
            *now = later;
        }
    }
}

impl Clock for FixedClock {
    fn now(&self) -> SystemTime {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn fixed_clock_set_and_advance() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let clock = FixedClock::new(t0);
        assert_eq!(clock.now(), t0);
        assert_eq!(clock.now(), t0, "a fixed clock does not move by itself");
        clock.advance(Duration::from_secs(5));
        assert_eq!(clock.now(), t0 + Duration::from_secs(5));
        clock.set(SystemTime::UNIX_EPOCH);
        assert_eq!(clock.now(), SystemTime::UNIX_EPOCH);
    }

    #[test]
    fn clocks_work_as_dyn() {
        let fixed = Arc::new(FixedClock::new(SystemTime::UNIX_EPOCH));
        let as_dyn: Arc<dyn Clock> = fixed.clone();
        fixed.advance(Duration::from_secs(1));
        assert_eq!(
            as_dyn.now(),
            SystemTime::UNIX_EPOCH + Duration::from_secs(1)
        );

        let system: Arc<dyn Clock> = Arc::new(SystemClock);
        let before = SystemTime::now();
        let now = system.now();
        assert!(now >= before);
    }
}
