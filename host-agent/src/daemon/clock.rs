//! Time in the daemon: the protocol's [`Instant`] (milliseconds since the
//! agent started, from the monotonic clock, so wall-clock steps never move
//! a timer) and UTC timestamps for people.

use std::time::{SystemTime, UNIX_EPOCH};

use warden_core::Instant;

/// The agent's monotonic clock.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    start: std::time::Instant,
}

impl Clock {
    /// A clock whose zero is now.
    pub(crate) fn new() -> Self {
        Self { start: std::time::Instant::now() }
    }

    /// Milliseconds since the clock started.
    pub(crate) fn now(&self) -> Instant {
        Instant(u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX))
    }

    /// The monotonic instant of a protocol time (for `poll` timeouts).
    pub(crate) fn at(&self, t: Instant) -> std::time::Instant {
        self.start + std::time::Duration::from_millis(t.as_millis())
    }
}

/// Now as UTC, `2026-11-30T06:22:03.120Z`.
pub(crate) fn utc_now() -> String {
    utc(SystemTime::now())
}

/// `t` as UTC with milliseconds; times before 1970 read as 1970.
pub(crate) fn utc(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rest = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        since.subsec_millis()
    )
}

/// Year, month, day of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, proleptic Gregorian).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, u32::try_from(month).unwrap_or(1), u32::try_from(day).unwrap_or(1))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn utc_formatting() {
        assert_eq!(utc(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        // 2000-02-29 (a leap day of a century leap year) 12:34:56.789.
        let t = UNIX_EPOCH + Duration::from_millis(951_827_696_789);
        assert_eq!(utc(t), "2000-02-29T12:34:56.789Z");
        let t = UNIX_EPOCH + Duration::from_secs(4_102_444_799);
        assert_eq!(utc(t), "2099-12-31T23:59:59.000Z");
    }

    #[test]
    fn protocol_time_starts_at_zero_and_moves_forward() {
        let clock = Clock::new();
        let a = clock.now();
        assert!(a.as_millis() < 1000);
        assert!(clock.now() >= a);
        assert!(clock.at(a) >= clock.start);
    }
}
