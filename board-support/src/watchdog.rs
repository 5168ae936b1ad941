//! The controller's own hardware watchdog.

use core::fmt;

use warden_core::Duration;

/// A hardware watchdog that resets the controller when it is not fed.
///
/// # Contract
///
/// * [`start`](Self::start) arms it with a timeout (the hardware may round
///   it; the timeout it really applies is returned). Starting an armed
///   watchdog again changes its timeout and counts as a feed.
/// * [`feed`](Self::feed) restarts the countdown. If no feed arrives within
///   the timeout, the board resets: that is the point, and it must also hold
///   when the process or firmware that armed it crashes.
/// * There is no way to stop it. (On Linux, the "magic close" that disarms
///   `/dev/watchdog` is never written.)
/// * An error means the hardware did not take the request: the caller must
///   assume the countdown goes on and that the board may reset.
pub trait Watchdog {
    /// Arms the watchdog with `timeout`; returns the timeout really applied.
    ///
    /// # Errors
    ///
    /// [`WatchdogError::UnsupportedTimeout`] when the hardware cannot do
    /// anything close to `timeout` (nothing changed), [`WatchdogError::Device`]
    /// when the hardware refused.
    fn start(&mut self, timeout: Duration) -> Result<Duration, WatchdogError>;

    /// Restarts the countdown.
    ///
    /// # Errors
    ///
    /// [`WatchdogError::NotStarted`] before [`start`](Self::start),
    /// [`WatchdogError::Device`] when the hardware refused (the countdown
    /// goes on).
    fn feed(&mut self) -> Result<(), WatchdogError>;
}

/// Why the watchdog did not do what was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WatchdogError {
    /// The hardware cannot apply this timeout (too short or too long).
    UnsupportedTimeout {
        /// The timeout asked for.
        requested: Duration,
    },
    /// Fed before it was started.
    NotStarted,
    /// The device refused the request; `code` is the OS error number (0 on
    /// bare metal).
    Device {
        /// OS error number, or 0.
        code: i32,
    },
}

impl fmt::Display for WatchdogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnsupportedTimeout { requested } => {
                write!(f, "watchdog cannot apply a timeout of {requested}")
            }
            Self::NotStarted => f.write_str("watchdog fed before it was started"),
            Self::Device { code } => write!(f, "watchdog device refused the request (os error {code})"),
        }
    }
}

impl core::error::Error for WatchdogError {}

impl<W: Watchdog + ?Sized> Watchdog for &mut W {
    fn start(&mut self, timeout: Duration) -> Result<Duration, WatchdogError> {
        (**self).start(timeout)
    }
    fn feed(&mut self) -> Result<(), WatchdogError> {
        (**self).feed()
    }
}
