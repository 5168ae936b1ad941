//! The node's links to the controller: its serial line and its UDP socket,
//! from the configuration. They carry one session: every message goes out
//! on every open link, and what comes in on any of them goes through that
//! link's own [`Decoder`] (a frame never spans two links) to the same agent.
//! The session rules drop the second copy of a message.
//!
//! A link that cannot be opened, or that hangs up (a USB serial adapter
//! unplugged), is retried every [`REOPEN_EVERY`]; the others carry on.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use warden_bsp::linux::{SerialPort, UdpLink};
use warden_bsp::{Link, LinkError};
use warden_core::wire::{encode, Auth, DecodeStats, Decoder, FrameError, Message, MAX_FRAME};

use super::journal;
use warden_cluster::NodeConfig;
use warden_control::LinkStatus;

/// How often a link that is down is tried again.
pub(crate) const REOPEN_EVERY: Duration = Duration::from_secs(2);

/// Most reads of one link per wake-up, so a flooding peer cannot starve
/// the rest of the loop.
const READS_PER_WAKE: usize = 64;

/// What a link is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Spec {
    Serial { device: PathBuf, baud: u32 },
    Udp { controller: SocketAddr },
}

#[derive(Debug)]
enum Open {
    Serial(SerialPort),
    Udp(UdpLink),
}

impl Open {
    fn link(&mut self) -> &mut dyn Link {
        match self {
            Self::Serial(s) => s,
            Self::Udp(u) => u,
        }
    }

    fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Self::Serial(s) => s.as_fd(),
            Self::Udp(u) => u.as_fd(),
        }
    }
}

#[derive(Debug)]
struct Slot {
    name: String,
    spec: Spec,
    open: Option<Open>,
    decoder: Decoder,
    sent: u64,
    send_errors: u64,
    error: Option<String>,
    reopen_at: Option<Instant>,
    last_frame: Option<Instant>,
}

/// The node's links. See the module documentation.
#[derive(Debug)]
pub(crate) struct Links {
    slots: Vec<Slot>,
    auth: Auth,
}

/// A message received, or a frame refused (counted by its decoder).
#[derive(Debug)]
pub(crate) enum Received {
    Message(Message),
    Refused { link: String, error: FrameError },
}

impl Links {
    /// The node's links, opened (those that cannot be opened now are
    /// retried later; each failure is logged).
    pub(crate) fn open(node: &NodeConfig, auth: Auth) -> Self {
        let mut slots = Vec::new();
        if let Some(s) = &node.serial {
            slots.push(Spec::Serial { device: s.device.clone(), baud: s.baud });
        }
        if let Some(u) = &node.udp {
            slots.push(Spec::Udp { controller: u.controller });
        }
        let slots = slots
            .into_iter()
            .map(|spec| Slot {
                name: match &spec {
                    Spec::Serial { device, .. } => format!("serial {}", device.display()),
                    Spec::Udp { controller } => format!("udp {controller}"),
                },
                spec,
                open: None,
                decoder: Decoder::new(),
                sent: 0,
                send_errors: 0,
                error: None,
                reopen_at: None,
                last_frame: None,
            })
            .collect();
        let mut links = Self { slots, auth };
        let now = Instant::now();
        for i in 0..links.slots.len() {
            links.try_open(i, now);
        }
        links
    }

    fn try_open(&mut self, i: usize, now: Instant) {
        let Some(slot) = self.slots.get_mut(i) else { return };
        let opened = match &slot.spec {
            Spec::Serial { device, baud } => SerialPort::open(device, *baud).map(Open::Serial),
            Spec::Udp { controller } => {
                let any = if controller.is_ipv4() {
                    IpAddr::V4(Ipv4Addr::UNSPECIFIED)
                } else {
                    IpAddr::V6(Ipv6Addr::UNSPECIFIED)
                };
                // From the port the controller sends to and expects
                // datagrams from (its `peer`), as heartbeat used 694 both ways.
                UdpLink::open(SocketAddr::new(any, controller.port()), *controller).map(Open::Udp)
            }
        };
        match opened {
            Ok(open) => {
                if slot.error.is_some() || slot.reopen_at.is_some() {
                    journal::notice(&format!("link {} open again", slot.name));
                } else {
                    journal::info(&format!("link {} open", slot.name));
                }
                slot.open = Some(open);
                slot.error = None;
                slot.reopen_at = None;
                // Bytes of a frame cut by the outage are junk now.
                slot.decoder = Decoder::new();
            }
            Err(e) => {
                let text = e.to_string();
                if slot.error.as_deref() != Some(text.as_str()) {
                    journal::warning(&format!(
                        "link {}: {text}; retrying every {}s",
                        slot.name,
                        REOPEN_EVERY.as_secs()
                    ));
                }
                slot.error = Some(text);
                slot.reopen_at = Some(now + REOPEN_EVERY);
            }
        }
    }

    fn close(slot: &mut Slot, why: String, now: Instant) {
        journal::warning(&format!("link {}: {why}; closed, retrying every {}s", slot.name, REOPEN_EVERY.as_secs()));
        slot.open = None;
        slot.error = Some(why);
        slot.reopen_at = Some(now + REOPEN_EVERY);
    }

    /// Sends `message` on every open link. A message that cannot be
    /// encoded is a bug of the protocol half: logged, not sent.
    pub(crate) fn send(&mut self, message: &Message) {
        let mut frame = [0u8; MAX_FRAME];
        let len = match encode(message, &self.auth, &mut frame) {
            Ok(len) => len,
            Err(e) => {
                journal::error(&format!("cannot encode {message:?}: {e}"));
                return;
            }
        };
        let Some(frame) = frame.get(..len) else { return };
        let now = Instant::now();
        for slot in &mut self.slots {
            let Some(open) = slot.open.as_mut() else { continue };
            match open.link().write_frame(frame) {
                Ok(()) => slot.sent = slot.sent.saturating_add(1),
                // The controller's UDP port refused (it is not up yet): the
                // socket is fine, the next keepalive tries again.
                Err(LinkError::Disconnected) if matches!(slot.spec, Spec::Udp { .. }) => {
                    slot.send_errors = slot.send_errors.saturating_add(1);
                }
                Err(LinkError::Disconnected) => {
                    slot.send_errors = slot.send_errors.saturating_add(1);
                    Self::close(slot, "hung up".to_owned(), now);
                }
                Err(e) => {
                    slot.send_errors = slot.send_errors.saturating_add(1);
                    slot.error = Some(e.to_string());
                }
            }
        }
    }

    /// The descriptors of the open links, by link index.
    pub(crate) fn fds(&self) -> Vec<(usize, BorrowedFd<'_>)> {
        self.slots.iter().enumerate().filter_map(|(i, s)| s.open.as_ref().map(|o| (i, o.fd()))).collect()
    }

    /// Reads what link `i` has, decodes it, and hands each message (or
    /// refused frame) to `on`. `hangup` says poll saw the peer gone.
    pub(crate) fn read(&mut self, i: usize, hangup: bool, mut on: impl FnMut(Received)) {
        let auth = &self.auth;
        let Some(slot) = self.slots.get_mut(i) else { return };
        let now = Instant::now();
        let mut buf = [0u8; 512];
        for _ in 0..READS_PER_WAKE {
            let Some(open) = slot.open.as_mut() else { return };
            let n = match open.link().read_available(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(LinkError::Disconnected) if matches!(slot.spec, Spec::Udp { .. }) => continue,
                Err(e) => {
                    Self::close(slot, e.to_string(), now);
                    return;
                }
            };
            let name = &slot.name;
            let mut decoded = false;
            slot.decoder.feed(buf.get(..n).unwrap_or_default(), auth, |r| match r {
                Ok(m) => {
                    decoded = true;
                    on(Received::Message(m));
                }
                Err(error) => on(Received::Refused { link: name.clone(), error }),
            });
            if decoded {
                slot.last_frame = Some(now);
            }
        }
        if hangup && matches!(slot.spec, Spec::Serial { .. }) && slot.open.is_some() {
            Self::close(slot, "hung up".to_owned(), now);
        }
    }

    /// When the next closed link is due to be tried again.
    pub(crate) fn next_reopen(&self) -> Option<Instant> {
        self.slots.iter().filter(|s| s.open.is_none()).filter_map(|s| s.reopen_at).min()
    }

    /// Tries again every closed link whose time has come.
    pub(crate) fn reopen_due(&mut self, now: Instant) {
        for i in 0..self.slots.len() {
            let due = self.slots.get(i).is_some_and(|s| s.open.is_none() && s.reopen_at.is_some_and(|t| t <= now));
            if due {
                self.try_open(i, now);
            }
        }
    }

    /// Each link's figures for the metrics.
    pub(crate) fn metrics_rows(&self) -> Vec<super::metrics::LinkRow> {
        self.slots
            .iter()
            .map(|s| super::metrics::LinkRow {
                open: s.open.is_some(),
                sent: s.sent,
                send_errors: s.send_errors,
                decode: s.decoder.stats(),
                last_frame: s.last_frame,
            })
            .collect()
    }

    /// Each link's name, in order.
    pub(crate) fn names(&self) -> Vec<String> {
        self.slots.iter().map(|s| s.name.clone()).collect()
    }

    /// Each link at a glance.
    pub(crate) fn status(&self, now: Instant) -> Vec<LinkStatus> {
        self.slots
            .iter()
            .map(|s| {
                let stats: DecodeStats = s.decoder.stats();
                LinkStatus {
                    name: s.name.clone(),
                    open: s.open.is_some(),
                    error: s.error.clone(),
                    sent: s.sent,
                    send_errors: s.send_errors,
                    received: stats.ok,
                    rejected: stats.rejected(),
                    bad_tag: stats.bad_tag,
                    too_long: stats.too_long,
                    last_frame_age_ms: s
                        .last_frame
                        .map(|t| u64::try_from(now.saturating_duration_since(t).as_millis()).unwrap_or(u64::MAX)),
                }
            })
            .collect()
    }
}
