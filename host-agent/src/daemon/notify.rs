//! systemd's notification protocol (`Type=notify`, `WatchdogSec=`),
//! spoken directly: datagrams of `KEY=VALUE` lines to `$NOTIFY_SOCKET`, a
//! path or, when it starts with `@`, an abstract socket name.
//!
//! * `READY=1` once the agent knows what it holds (the first probe sweep).
//! * `STATUS=...` whenever the one-line summary changes.
//! * `WATCHDOG=1` at half `$WATCHDOG_USEC`, from the main loop itself, so
//!   systemd restarts an agent whose loop has stopped making progress.
//! * `STOPPING=1` on the way out.

use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::{Duration, Instant};

/// The service manager's socket, if the agent runs under one.
#[derive(Debug)]
pub(crate) struct Notifier {
    target: Option<(UnixDatagram, SocketAddr)>,
    watchdog: Option<Duration>,
    next_ping: Option<Instant>,
    status: String,
}

impl Notifier {
    /// From the environment (`NOTIFY_SOCKET`, `WATCHDOG_USEC`,
    /// `WATCHDOG_PID`). Without `NOTIFY_SOCKET` every call does nothing.
    pub(crate) fn from_env() -> io::Result<Self> {
        let target = match std::env::var_os("NOTIFY_SOCKET") {
            None => None,
            Some(name) => {
                let name = name.to_string_lossy().into_owned();
                let addr = match name.strip_prefix('@') {
                    Some(abstract_name) => SocketAddr::from_abstract_name(abstract_name.as_bytes())?,
                    None => SocketAddr::from_pathname(&name)?,
                };
                let socket = UnixDatagram::unbound()?;
                // A service manager that does not read must never stall
                // the main loop: a notification that does not fit is dropped.
                socket.set_nonblocking(true)?;
                Some((socket, addr))
            }
        };
        let for_us = std::env::var("WATCHDOG_PID").map_or(true, |pid| pid.trim() == std::process::id().to_string());
        let watchdog = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|usec| *usec > 0 && for_us && target.is_some())
            .map(Duration::from_micros);
        Ok(Self { target, watchdog, next_ping: None, status: String::new() })
    }

    fn send(&self, text: &str) {
        if let Some((socket, addr)) = &self.target {
            // The service manager going away is not the agent's problem.
            let _ = socket.send_to_addr(text.as_bytes(), addr);
        }
    }

    /// Tells systemd the agent is ready.
    pub(crate) fn ready(&mut self, status: &str) {
        self.status = status.to_owned();
        self.send(&format!("READY=1\nSTATUS={status}\n"));
    }

    /// Updates the status line when it changed.
    pub(crate) fn status(&mut self, status: &str) {
        if self.status != status {
            self.status = status.to_owned();
            self.send(&format!("STATUS={status}\n"));
        }
    }

    /// Tells systemd the agent is stopping.
    pub(crate) fn stopping(&mut self) {
        self.send("STOPPING=1\nSTATUS=stopping; holding everything as it is\n");
    }

    /// When the next `WATCHDOG=1` is due.
    pub(crate) fn next_ping(&self) -> Option<Instant> {
        self.watchdog.map(|_| self.next_ping.unwrap_or_else(Instant::now))
    }

    /// Sends `WATCHDOG=1` if it is due; called from the main loop only.
    pub(crate) fn ping_if_due(&mut self, now: Instant) {
        let Some(every) = self.watchdog else { return };
        if self.next_ping.is_none_or(|t| t <= now) {
            self.send("WATCHDOG=1\n");
            self.next_ping = Some(now + every / 2);
        }
    }
}
