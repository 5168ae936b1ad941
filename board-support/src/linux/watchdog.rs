//! `/dev/watchdog`.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::Path;

use warden_core::Duration;

use super::OpenError;
use crate::watchdog::{Watchdog, WatchdogError};

nix::ioctl_read!(wdioc_keepalive, b'W', 5, libc::c_int);
nix::ioctl_readwrite!(wdioc_settimeout, b'W', 6, libc::c_int);

/// The Linux watchdog device. Opening it arms it (the kernel's rule);
/// [`Watchdog::start`] sets the timeout with `WDIOC_SETTIMEOUT`,
/// [`Watchdog::feed`] sends `WDIOC_KEEPALIVE`. The magic close character
/// `V` is never written, so closing the device, or the process dying, leaves
/// it counting and the board resets unless a new controller feeds it.
#[derive(Debug)]
pub struct DevWatchdog {
    file: File,
    started: bool,
}

impl DevWatchdog {
    /// Opens (and so arms) the watchdog device at `path`.
    ///
    /// # Errors
    ///
    /// [`OpenError`] naming the device (missing, or held by another process).
    pub fn open(path: &Path) -> Result<Self, OpenError> {
        let file = OpenOptions::new().write(true).open(path).map_err(|e| OpenError::new("watchdog", path, e))?;
        Ok(Self { file, started: false })
    }
}

impl Watchdog for DevWatchdog {
    fn start(&mut self, timeout: Duration) -> Result<Duration, WatchdogError> {
        // The device counts whole seconds: round up, never down.
        let secs = timeout.as_millis().div_ceil(1000).max(1);
        let mut value =
            libc::c_int::try_from(secs).map_err(|_| WatchdogError::UnsupportedTimeout { requested: timeout })?;
        // SAFETY: the descriptor is open for the lifetime of `self.file`, and
        // WDIOC_SETTIMEOUT reads and writes exactly one c_int at the pointer,
        // which points to a live local.
        match unsafe { wdioc_settimeout(self.file.as_raw_fd(), &mut value) } {
            Ok(_) => {}
            Err(nix::Error::EINVAL) => return Err(WatchdogError::UnsupportedTimeout { requested: timeout }),
            Err(e) => return Err(WatchdogError::Device { code: e as i32 }),
        }
        self.started = true;
        self.feed()?;
        Ok(Duration::from_secs(u64::try_from(value).unwrap_or(0)))
    }

    fn feed(&mut self) -> Result<(), WatchdogError> {
        if !self.started {
            return Err(WatchdogError::NotStarted);
        }
        let mut dummy: libc::c_int = 0;
        // SAFETY: as above; WDIOC_KEEPALIVE writes at most one c_int.
        unsafe { wdioc_keepalive(self.file.as_raw_fd(), &mut dummy) }
            .map(|_| ())
            .map_err(|e| WatchdogError::Device { code: e as i32 })
    }
}
