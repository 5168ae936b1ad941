//! Every node's links: the open port (or when to try again), a frame
//! decoder and counters for each.
//!
//! ## Progress
//!
//! The core feeds the watchdog only while every link driver makes progress
//! (DESIGN §3); each link tells it what its calls came to
//! ([`Links::progress_news`]). A link driver is *stalled* when the last
//! call on its own handle failed with a device error (`LinkError::Device`:
//! the handle itself is broken, e.g. `EBADF`, a wedged USB-serial driver);
//! it makes progress again as soon as a read, a write or a reopen succeeds.
//! A peer that is silent, gone (`Disconnected`) or not reading (`Full`) is
//! the node's condition, not the driver's, and does not stall it: a dead
//! node must never reset the controller that is about to fence it.

use std::os::fd::{AsFd, BorrowedFd};

use warden_bsp::linux::{OpenError, SerialPort, UdpLink};
use warden_bsp::{Link, LinkError};
use warden_core::controller::LinkProgress;
use warden_core::wire::{Auth, DecodeStats, Decoder, Message};
use warden_core::{Duration, Instant, NodeId, MAX_NODES};

use warden_cluster::hardware::LinkConfig;

/// How long a link that failed waits before it is opened again.
pub const RETRY: Duration = Duration::from_millis(1000);
/// Reads per link per wake-up, so one chatty link cannot starve the others.
const READS_PER_WAKE: usize = 16;

/// An open port.
#[derive(Debug)]
enum Port {
    Serial(SerialPort),
    Udp(UdpLink),
}

impl Port {
    fn open(config: &LinkConfig) -> Result<Self, OpenError> {
        match config {
            LinkConfig::Serial { device, baud } => SerialPort::open(device, *baud).map(Self::Serial),
            LinkConfig::Udp { listen, peer } => UdpLink::open(*listen, *peer).map(Self::Udp),
        }
    }

    fn link(&mut self) -> &mut dyn Link {
        match self {
            Self::Serial(p) => p,
            Self::Udp(u) => u,
        }
    }

    fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Self::Serial(p) => p.as_fd(),
            Self::Udp(u) => u.as_fd(),
        }
    }
}

/// Counters of one link. They saturate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinkStats {
    /// Bytes received.
    pub bytes_in: u64,
    /// Frames sent whole.
    pub sent: u32,
    /// Frames not sent: the output was full.
    pub send_full: u32,
    /// Frames not sent: the port was closed or failed.
    pub send_failed: u32,
    /// Times the peer was found gone.
    pub disconnects: u32,
    /// Device errors on the handle.
    pub device_errors: u32,
    /// Failed attempts to open the port.
    pub open_failures: u32,
}

/// One link of one node.
#[derive(Debug)]
pub struct NodeLink {
    /// The node.
    pub node: NodeId,
    /// What it is.
    pub config: LinkConfig,
    port: Option<Port>,
    retry_at: Option<Instant>,
    /// What its calls came to lately (never `PeerTrouble`).
    progress: LinkProgress,
    /// The core has not been told `progress` yet.
    news: bool,
    decoder: Decoder,
    stats: LinkStats,
    last_error: Option<String>,
    /// When a frame was last decoded.
    last_heard: Option<Instant>,
    /// Reported down: silent while another link of its node was heard.
    down: bool,
    /// Since when its node has been heard without a break on any link
    /// (`None` while the node is silent on all of them): a link is judged
    /// silent only from then on, so that neither the controller's start
    /// nor a node's return reads as a link down.
    node_heard_since: Option<Instant>,
}

/// A link of a live node that went silent, or was heard again: one medium
/// lost while the node is still heard on another (heartbeat's "link dead").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkChange {
    /// The node.
    pub node: NodeId,
    /// The link's name.
    pub name: String,
    /// Heard again (`true`) or gone silent.
    pub up: bool,
    /// The links of the node still heard, by name (when it went down).
    pub heard_on: Vec<String>,
}

/// A link's short name: the device, or the UDP peer.
#[must_use]
pub fn link_name(config: &LinkConfig) -> String {
    match config {
        LinkConfig::Serial { device, .. } => device.display().to_string(),
        LinkConfig::Udp { peer, .. } => format!("udp:{peer}"),
    }
}

impl NodeLink {
    /// A short name: the device, or the UDP peer.
    #[must_use]
    pub fn name(&self) -> String {
        link_name(&self.config)
    }

    /// When a frame was last decoded on this link.
    #[must_use]
    pub const fn last_heard(&self) -> Option<Instant> {
        self.last_heard
    }

    /// Whether the port is open.
    #[must_use]
    pub fn is_open(&self) -> bool {
        self.port.is_some()
    }

    /// Whether the link driver is stalled (see the module docs).
    #[must_use]
    pub fn is_stalled(&self) -> bool {
        self.progress == LinkProgress::Stalled
    }

    /// Notes what a call came to; the core hears of a change.
    fn note(&mut self, progress: LinkProgress) {
        if progress != LinkProgress::PeerTrouble && progress != self.progress {
            self.progress = progress;
            self.news = true;
        }
    }

    /// The frame decoder's counters.
    #[must_use]
    pub fn decode_stats(&self) -> DecodeStats {
        self.decoder.stats()
    }

    /// The link's counters.
    #[must_use]
    pub fn stats(&self) -> LinkStats {
        self.stats
    }

    /// The last error seen, for the status.
    #[must_use]
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    fn fail(&mut self, now: Instant, error: LinkError) {
        match error {
            LinkError::Disconnected => self.stats.disconnects = self.stats.disconnects.saturating_add(1),
            LinkError::Device { .. } => self.stats.device_errors = self.stats.device_errors.saturating_add(1),
            _ => {}
        }
        self.note(error.progress());
        self.last_error = Some(error.to_string());
        // Close it: a hung-up terminal stays readable for ever, and a broken
        // handle is best replaced.
        // A frame torn by the failure is dropped at its next delimiter.
        self.port = None;
        self.retry_at = Some(now.saturating_add(RETRY));
    }
}

/// All links of all nodes.
#[derive(Debug, Default)]
pub struct Links {
    links: Vec<NodeLink>,
}

impl Links {
    /// Opens every link.
    ///
    /// # Errors
    ///
    /// The first [`OpenError`], naming the device: a link that cannot be
    /// opened at boot is a configuration to fix, not a condition to wait out.
    pub fn open<'a>(nodes: impl IntoIterator<Item = (NodeId, &'a LinkConfig)>) -> Result<Self, OpenError> {
        let mut links = Vec::new();
        for (node, config) in nodes {
            let port = Port::open(config)?;
            links.push(NodeLink {
                node,
                config: config.clone(),
                port: Some(port),
                retry_at: None,
                progress: LinkProgress::Moved,
                news: false,
                decoder: Decoder::new(),
                stats: LinkStats::default(),
                last_error: None,
                last_heard: None,
                down: false,
                node_heard_since: None,
            });
        }
        Ok(Self { links })
    }

    /// The links.
    pub fn iter(&self) -> impl Iterator<Item = &NodeLink> {
        self.links.iter()
    }

    /// The descriptors to wait on, with the index of their link.
    pub fn poll_fds(&self) -> Vec<(usize, BorrowedFd<'_>)> {
        self.links.iter().enumerate().filter_map(|(i, l)| l.port.as_ref().map(|p| (i, p.fd()))).collect()
    }

    /// The earliest reopen due.
    #[must_use]
    pub fn next_retry(&self) -> Option<Instant> {
        self.links.iter().filter_map(|l| l.retry_at).min()
    }

    /// Opens again the links whose retry is due.
    pub fn reopen_due(&mut self, now: Instant, mut on_reopen: impl FnMut(&NodeLink)) {
        for link in &mut self.links {
            if link.retry_at.is_none_or(|at| at > now) {
                continue;
            }
            match Port::open(&link.config) {
                Ok(port) => {
                    link.port = Some(port);
                    link.retry_at = None;
                    link.note(LinkProgress::Moved);
                    on_reopen(link);
                }
                Err(e) => {
                    link.stats.open_failures = link.stats.open_failures.saturating_add(1);
                    link.last_error = Some(e.to_string());
                    link.retry_at = Some(now.saturating_add(RETRY));
                }
            }
        }
    }

    /// Reads what link `index` has and passes each decoded message on;
    /// refused frames are counted by the link's decoder.
    pub fn read(&mut self, index: usize, now: Instant, auth: &Auth, mut on_message: impl FnMut(NodeId, Message)) {
        let Some(link) = self.links.get_mut(index) else { return };
        let node = link.node;
        for _ in 0..READS_PER_WAKE {
            let Some(port) = link.port.as_mut() else { return };
            let mut buf = [0u8; 512];
            match port.link().read_available(&mut buf) {
                Ok(0) => {
                    link.note(LinkProgress::Moved);
                    return;
                }
                Ok(n) => {
                    link.note(LinkProgress::Moved);
                    link.stats.bytes_in = link.stats.bytes_in.saturating_add(n as u64);
                    let mut heard = false;
                    link.decoder.feed(buf.get(..n).unwrap_or_default(), auth, |r| {
                        if let Ok(m) = r {
                            heard = true;
                            on_message(node, m);
                        }
                    });
                    if heard {
                        link.last_heard = Some(now);
                    }
                }
                Err(e) => {
                    link.fail(now, e);
                    return;
                }
            }
        }
    }

    /// Writes `frame` on every link of `node`.
    pub fn send(&mut self, node: NodeId, frame: &[u8], now: Instant) {
        for link in self.links.iter_mut().filter(|l| l.node == node) {
            let Some(port) = link.port.as_mut() else {
                link.stats.send_failed = link.stats.send_failed.saturating_add(1);
                continue;
            };
            match port.link().write_frame(frame) {
                Ok(()) => {
                    link.note(LinkProgress::Moved);
                    link.stats.sent = link.stats.sent.saturating_add(1);
                }
                Err(LinkError::Full) => link.stats.send_full = link.stats.send_full.saturating_add(1),
                Err(e) => {
                    link.stats.send_failed = link.stats.send_failed.saturating_add(1);
                    link.fail(now, e);
                }
            }
        }
    }

    /// The links whose progress changed since the core was last told, by
    /// index (the link number the core counts in).
    pub fn progress_news(&mut self) -> impl Iterator<Item = (usize, LinkProgress)> + '_ {
        self.links.iter_mut().enumerate().filter(|(_, l)| l.news).map(|(i, l)| {
            l.news = false;
            (i, l.progress)
        })
    }

    /// The links that went silent for `after` while another link of their
    /// node was heard within it, and the ones heard again since: each
    /// change once. A node silent on every link is the core's to declare
    /// late or dead; its links are not reported here.
    pub fn silence_news(&mut self, now: Instant, after: Duration) -> Vec<LinkChange> {
        let recent = |heard: Option<Instant>| heard.is_some_and(|t| now.saturating_since(t) < after);
        // Which nodes are heard on some link, once per pass.
        let mut alive = [false; MAX_NODES];
        for l in self.links.iter().filter(|l| recent(l.last_heard)) {
            if let Some(a) = alive.get_mut(l.node.index()) {
                *a = true;
            }
        }
        let mut changes = Vec::new();
        for i in 0..self.links.len() {
            let node = self.links[i].node;
            let link = &mut self.links[i];
            if !alive.get(node.index()).copied().unwrap_or(false) {
                // The node's silence is the core's news; its links start afresh.
                link.node_heard_since = None;
                link.down = false;
                continue;
            }
            let since = *link.node_heard_since.get_or_insert(now);
            let up = recent(link.last_heard);
            let silent_long = !up && now.saturating_since(link.last_heard.map_or(since, |t| t.max(since))) >= after;
            if !link.down && silent_long {
                link.down = true;
                let name = link.name();
                let heard_on =
                    self.links.iter().filter(|l| l.node == node && recent(l.last_heard)).map(NodeLink::name).collect();
                changes.push(LinkChange { node, name, up: false, heard_on });
            } else if link.down && up {
                link.down = false;
                changes.push(LinkChange { node, name: link.name(), up: true, heard_on: Vec::new() });
            }
        }
        changes
    }

    /// Link `index`, if there is one.
    #[must_use]
    pub fn get(&self, index: usize) -> Option<&NodeLink> {
        self.links.get(index)
    }
}
