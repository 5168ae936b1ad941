//! Linux implementations: thin newtypes over OS handles, in the manner of
//! linux-embedded-hal. Opening names the device in its error
//! ([`OpenError`]); calls after that return the trait's error enums with
//! the OS error number.
//!
//! * [`MonotonicClock`] (`CLOCK_MONOTONIC`) and [`Sleep`] (`DelayNs`).
//! * [`SerialPort`]: a serial line (or a pseudo-terminal) as a [`Link`] and
//!   as an embedded-io stream, for links and for the relay module.
//! * [`UdpLink`]: one node's datagrams on a controller's network port.
//! * [`GpioOutput`], [`GpioInput`]: gpio-cdev lines as embedded-hal pins,
//!   for a [`PinBank`](crate::PinBank) of relays with sense lines.
//! * [`DevWatchdog`]: `/dev/watchdog`, never disarmed.
//! * [`FenceFile`]: the fence image as a file, replaced atomically.
//! * [`SerialRelayModule`]: the relay module driver on a serial port, and
//!   [`relay_board::serve`], the board emulator on a descriptor.
//! * [`Pty`]: pseudo-terminal pairs, the rig's serial lines.
//! * [`log_lines`]: log lines through a bounded queue to a thread of
//!   their own, so that a slow log reader never holds a heartbeat loop.
//! * [`realtime`]: locked memory and `SCHED_FIFO` for the daemons'
//!   heartbeat threads.
//!
//! [`Link`]: crate::Link

mod clock;
mod fence_file;
mod gpio;
pub mod log_lines;
mod pty;
pub mod realtime;
pub mod relay_board;
mod serial;
mod udp;
mod watchdog;

pub use clock::{MonotonicClock, Sleep};
pub use fence_file::FenceFile;
pub use gpio::{GpioError, GpioInput, GpioOutput};
pub use pty::Pty;
pub use serial::SerialPort;
pub use udp::UdpLink;
pub use watchdog::DevWatchdog;

use std::path::{Path, PathBuf};

use warden_core::Duration;

/// The relay module driver on a Linux serial port.
pub type SerialRelayModule = crate::relay::RelayModule<SerialPort, MonotonicClock, Sleep>;

/// Opens the serial relay module at `path` with `channels` channels.
///
/// # Errors
///
/// [`OpenError`] naming the device.
pub fn open_relay_module(
    path: &Path,
    baud: u32,
    channels: u8,
    answer_timeout: Duration,
) -> Result<SerialRelayModule, OpenError> {
    let port = SerialPort::open(path, baud)?;
    Ok(crate::relay::RelayModule::new(port, MonotonicClock::new(), Sleep, channels, answer_timeout))
}

/// A device or file that could not be opened or set up.
#[derive(Debug, thiserror::Error)]
#[error("{what} {}: {source}", path.display())]
pub struct OpenError {
    /// What it was meant to be ("serial port", "watchdog", ...).
    pub what: &'static str,
    /// The device or file.
    pub path: PathBuf,
    /// Why it failed.
    #[source]
    pub source: std::io::Error,
}

impl OpenError {
    pub(crate) fn new(what: &'static str, path: &Path, source: impl Into<std::io::Error>) -> Self {
        Self { what, path: path.to_owned(), source: source.into() }
    }
}

/// The OS error number of an I/O error (0 when it has none).
pub(crate) fn errno(e: &std::io::Error) -> i32 {
    e.raw_os_error().unwrap_or(0)
}
