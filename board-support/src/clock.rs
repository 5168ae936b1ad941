//! The controller's sense of time.

use warden_core::Instant;

/// A monotonic clock in milliseconds since an arbitrary epoch (normally boot).
///
/// # Contract
///
/// * `now` never fails and never goes backwards: two successive calls return
///   instants `a <= b`, whatever happens to the wall clock (NTP steps, an RTC
///   being set). Implementations built on a counter that wraps must extend
///   it; a clock that cannot keep this promise is a bug, not an error.
/// * It keeps running while the controller waits (sleep, `poll(2)`), so
///   deadlines computed from it are met late rather than never.
/// * The resolution is at most one millisecond coarser than the timer it
///   reads; nothing in Warden needs better than a millisecond.
pub trait Clock {
    /// The current instant.
    fn now(&self) -> Instant;
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> Instant {
        (**self).now()
    }
}
