//! Announcing an address after takeover: gratuitous ARP in request and
//! reply form for IPv4, an unsolicited neighbour advertisement for IPv6,
//! repeated `count` times `interval` apart, the first at once.
//!
//! A client that already has a cache entry for the address replaces the
//! link-layer address at once on either form; without an announcement it
//! keeps sending to the old MAC until the entry expires.

use std::io;
use std::net::IpAddr;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::frame::{ArpFrame, ArpOp, NeighbourAdvert};
use super::packet::LinkSocket;
use super::{check_interface, is_errno, no_interface, os_error};
use crate::resource::{ErrorKind, ResourceError};

/// How an address is announced after it is added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Announce {
    /// How many bursts (for IPv4 each burst is one request and one reply);
    /// 0 sends none.
    pub count: u32,
    /// Time between bursts. The first burst goes out at once, before
    /// `start` returns; the rest from a background thread.
    pub interval: Duration,
}

impl Default for Announce {
    /// 5 bursts 200 ms apart.
    fn default() -> Self {
        Self { count: 5, interval: Duration::from_millis(200) }
    }
}

impl Announce {
    /// No announcement at all.
    pub const NONE: Self = Self { count: 0, interval: Duration::ZERO };

    /// Largest count accepted: more would only flood the segment.
    pub const MAX_COUNT: u32 = 100;

    /// Largest interval accepted.
    pub const MAX_INTERVAL: Duration = Duration::from_secs(60);

    /// Checks the values (`what` names the resource in the error).
    pub(crate) fn check(&self, what: &str) -> Result<(), ResourceError> {
        if self.count > Self::MAX_COUNT {
            return Err(ResourceError::new(
                ErrorKind::Config,
                format!("{what}: announce count {} is above {}", self.count, Self::MAX_COUNT),
            ));
        }
        if self.count > 1 && (self.interval.is_zero() || self.interval > Self::MAX_INTERVAL) {
            return Err(ResourceError::new(
                ErrorKind::Config,
                format!(
                    "{what}: announce interval {:?} must be above 0 and at most {:?}",
                    self.interval,
                    Self::MAX_INTERVAL
                ),
            ));
        }
        Ok(())
    }
}

/// The frames of one burst announcing `ip` at `mac`.
pub(crate) fn burst_frames(mac: [u8; 6], ip: IpAddr) -> Vec<Vec<u8>> {
    match ip {
        IpAddr::V4(v4) => vec![
            ArpFrame::gratuitous(ArpOp::Request, mac, v4).emit(),
            ArpFrame::gratuitous(ArpOp::Reply, mac, v4).emit(),
        ],
        IpAddr::V6(v6) => vec![NeighbourAdvert::unsolicited(mac, v6).emit()],
    }
}

/// Sends one burst on an open socket, announcing `ip` at `mac`.
pub(crate) fn send_burst(socket: &LinkSocket, mac: [u8; 6], ip: IpAddr) -> io::Result<()> {
    for frame in burst_frames(mac, ip) {
        socket.send(&frame)?;
    }
    Ok(())
}

/// Announces `address` once (one burst) from `interface`, now: for a
/// periodic refresh where switches or hosts may have dropped the first
/// announcements. Does not check that the address is on the interface.
pub fn garp_refresh(interface: &str, address: IpAddr) -> Result<(), ResourceError> {
    let what = format!("announce {address} on {interface}");
    check_interface(&what, interface)?;
    let socket = LinkSocket::sender(interface).map_err(|e| {
        if is_errno(&e, libc::ENODEV) {
            no_interface(&what, interface)
        } else {
            os_error(&what, "opening a packet socket", &e)
        }
    })?;
    send_burst(&socket, socket.mac(), address).map_err(|e| os_error(&what, "sending", &e))
}

/// The bursts after the first, sent from a thread that owns the socket
/// (already bound, so the thread's namespace does not matter).
#[derive(Debug)]
pub(crate) struct Announcer {
    cancel: Sender<()>,
    thread: JoinHandle<io::Result<()>>,
}

impl Announcer {
    /// Sends `remaining` more bursts, `interval` apart, the first of them
    /// `interval` from now.
    pub(crate) fn spawn(
        socket: Arc<LinkSocket>,
        mac: [u8; 6],
        ip: IpAddr,
        remaining: u32,
        interval: Duration,
    ) -> io::Result<Self> {
        let (cancel, cancelled) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new().name("warden-announce".into()).spawn(move || {
            for _ in 0..remaining {
                match cancelled.recv_timeout(interval) {
                    Err(RecvTimeoutError::Timeout) => send_burst(&socket, mac, ip)?,
                    // Cancelled, or the resource was dropped.
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => return Ok(()),
                }
            }
            Ok(())
        })?;
        Ok(Self { cancel, thread })
    }

    /// Stops sending (an address about to be released must not be
    /// announced any more) and waits for the thread.
    pub(crate) fn cancel(self) -> io::Result<()> {
        // The thread may have finished already; then there is nobody to tell.
        let _ = self.cancel.send(());
        self.join()
    }

    /// Waits until every burst has been sent.
    pub(crate) fn join(self) -> io::Result<()> {
        self.thread.join().unwrap_or_else(|_| Err(io::Error::other("announce thread panicked")))
    }
}
