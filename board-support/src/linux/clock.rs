//! `CLOCK_MONOTONIC` as a [`Clock`], and sleeping as `DelayNs`.

use embedded_hal::delay::DelayNs;
use warden_core::Instant;

use crate::clock::Clock;

/// Milliseconds since this clock was made, from the OS monotonic clock
/// (never stepped by NTP or by setting the date).
#[derive(Debug, Clone, Copy)]
pub struct MonotonicClock {
    epoch: std::time::Instant,
}

impl MonotonicClock {
    /// A clock whose epoch is now.
    #[must_use]
    pub fn new() -> Self {
        Self { epoch: std::time::Instant::now() }
    }

    /// The OS instant of `at`.
    #[must_use]
    pub fn to_std(&self, at: Instant) -> std::time::Instant {
        self.epoch + std::time::Duration::from_millis(at.0)
    }
}

impl Default for MonotonicClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for MonotonicClock {
    fn now(&self) -> Instant {
        Instant(u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX))
    }
}

/// Delays by sleeping the thread.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sleep;

impl DelayNs for Sleep {
    fn delay_ns(&mut self, ns: u32) {
        std::thread::sleep(std::time::Duration::from_nanos(u64::from(ns)));
    }
}
