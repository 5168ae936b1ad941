//! The net score (ipfail's role): how many of the node's ping nodes and
//! ping groups are reachable, by ICMP echo over raw sockets, as heartbeat
//! pinged them. A ping node counts when it answered within the dead time
//! (heartbeat treated ping nodes as cluster nodes with the same timing); a
//! ping group counts once when any of its hosts did. A thread pings every
//! keepalive and posts the score whenever it changes.
//!
//! Packets are built and parsed by pure functions ([`echo_request`],
//! [`parse_reply`]); only [`Pinger`] does I/O.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::thread;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{self, AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType, SockaddrStorage};

use super::journal;
use super::mailbox::Post;
use warden_cluster::NodeConfig;

const ECHO_REQUEST_V4: u8 = 8;
const ECHO_REPLY_V4: u8 = 0;
const ECHO_REQUEST_V6: u8 = 128;
const ECHO_REPLY_V6: u8 = 129;

/// The reachability score changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NetScore {
    /// Reachable ping nodes plus reachable ping groups.
    pub(crate) score: u16,
    /// Which hosts answered, for the log (`192.168.85.254 up, gw2 down`).
    pub(crate) detail: String,
}

/// The RFC 1071 Internet checksum.
fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|c| match c {
            [hi, lo] => u32::from(u16::from_be_bytes([*hi, *lo])),
            [hi] => u32::from(u16::from_be_bytes([*hi, 0])),
            _ => 0,
        })
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !u16::try_from(sum).unwrap_or(u16::MAX)
}

/// An ICMP (or ICMPv6) echo request. The kernel fills in the ICMPv6
/// checksum itself; the ICMP one is computed here.
pub(crate) fn echo_request(v6: bool, id: u16, seq: u16) -> Vec<u8> {
    let kind = if v6 { ECHO_REQUEST_V6 } else { ECHO_REQUEST_V4 };
    let mut packet = vec![kind, 0, 0, 0];
    packet.extend_from_slice(&id.to_be_bytes());
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend_from_slice(b"warden\0\0");
    if !v6 {
        let sum = checksum(&packet).to_be_bytes();
        packet.splice(2..4, sum);
    }
    packet
}

/// The identifier of an echo reply, or `None` for anything else. An IPv4
/// raw socket hands over the IP header too; an IPv6 one does not.
pub(crate) fn parse_reply(v6: bool, packet: &[u8]) -> Option<u16> {
    let icmp = if v6 {
        packet
    } else {
        let header = usize::from(packet.first()? & 0x0f) * 4;
        packet.get(header..)?
    };
    let want = if v6 { ECHO_REPLY_V6 } else { ECHO_REPLY_V4 };
    match icmp {
        [kind, 0, _, _, id0, id1, ..] if *kind == want => Some(u16::from_be_bytes([*id0, *id1])),
        _ => None,
    }
}

/// The score: ping nodes heard from, plus ping groups any of whose hosts
/// were heard from.
pub(crate) fn score(nodes: &[bool], groups: &[Vec<bool>]) -> u16 {
    let n = nodes.iter().filter(|up| **up).count() + groups.iter().filter(|g| g.iter().any(|up| *up)).count();
    u16::try_from(n).unwrap_or(u16::MAX)
}

/// Raw ICMP sockets, opened as needed (root only).
#[derive(Debug)]
struct Pinger {
    v4: Option<OwnedFd>,
    v6: Option<OwnedFd>,
    id: u16,
    seq: u16,
    /// A socket that could not be opened has been reported (once).
    warned: [bool; 2],
}

impl Pinger {
    fn socket(v6: bool) -> nix::Result<OwnedFd> {
        let (family, protocol) =
            if v6 { (AddressFamily::Inet6, SockProtocol::IcmpV6) } else { (AddressFamily::Inet, SockProtocol::Icmp) };
        socket::socket(family, SockType::Raw, SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK, protocol)
    }

    fn fd(&mut self, v6: bool) -> Option<&OwnedFd> {
        let (slot, warned) = if v6 { (&mut self.v6, &mut self.warned[1]) } else { (&mut self.v4, &mut self.warned[0]) };
        if slot.is_none() {
            match Self::socket(v6) {
                Ok(fd) => *slot = Some(fd),
                Err(e) if !*warned => {
                    *warned = true;
                    journal::warning(&format!(
                        "ping: cannot open a raw ICMP{} socket: {e} (the agent must run as root); those hosts count as unreachable",
                        if v6 { "v6" } else { "" }
                    ));
                }
                Err(_) => {}
            }
        }
        slot.as_ref()
    }

    /// Sends one echo to each address, then collects replies until
    /// `deadline`; returns the addresses that answered.
    fn round(&mut self, targets: &[IpAddr], deadline: Instant) -> Vec<IpAddr> {
        self.seq = self.seq.wrapping_add(1);
        let (id, seq) = (self.id, self.seq);
        for ip in targets {
            let v6 = ip.is_ipv6();
            let Some(fd) = self.fd(v6) else { continue };
            let to = SockaddrStorage::from(SocketAddr::new(*ip, 0));
            // Unreachable (no route, no neighbour): no answer, nothing to do.
            let _ = socket::sendto(fd.as_raw_fd(), &echo_request(v6, id, seq), &to, MsgFlags::empty());
        }
        let mut answered = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return answered;
            }
            let open: Vec<(bool, &OwnedFd)> = [(false, self.v4.as_ref()), (true, self.v6.as_ref())]
                .into_iter()
                .filter_map(|(v6, fd)| fd.map(|fd| (v6, fd)))
                .collect();
            if open.is_empty() {
                // No socket to listen on: the round simply lasts its time.
                thread::sleep(left);
                return answered;
            }
            let mut polled: Vec<PollFd<'_>> =
                open.iter().map(|(_, fd)| PollFd::new(fd.as_fd(), PollFlags::POLLIN)).collect();
            let ms = u16::try_from(left.as_millis().max(1)).unwrap_or(u16::MAX);
            if poll(&mut polled, PollTimeout::from(ms)).is_err() {
                continue;
            }
            let ready: Vec<(bool, &OwnedFd)> = open
                .iter()
                .zip(&polled)
                .filter(|(_, p)| p.revents().is_some_and(|r| r.contains(PollFlags::POLLIN)))
                .map(|(o, _)| *o)
                .collect();
            drop(polled);
            for (v6, fd) in ready {
                let mut buf = [0u8; 1500];
                while let Ok((n, Some(from))) = socket::recvfrom::<SockaddrStorage>(fd.as_raw_fd(), &mut buf) {
                    let from = from
                        .as_sockaddr_in()
                        .map(|a| IpAddr::V4(a.ip()))
                        .or_else(|| from.as_sockaddr_in6().map(|a| IpAddr::V6(a.ip())));
                    if let (Some(from), Some(got)) = (from, buf.get(..n).and_then(|p| parse_reply(v6, p))) {
                        if got == id && targets.contains(&from) && !answered.contains(&from) {
                            answered.push(from);
                        }
                    }
                }
            }
        }
    }
}

/// A host's address: an IP as written, or a name resolved now (names that
/// do not resolve count as unreachable).
fn resolve(host: &str) -> Option<IpAddr> {
    if let Ok(ip) = host.parse() {
        return Some(ip);
    }
    (host, 0).to_socket_addrs().ok()?.next().map(|a| a.ip())
}

/// Starts the ping thread for `node` when it has ping nodes or groups.
/// Rounds run every `every`; a host counts as reachable while it answered
/// within `dead_after`.
pub(crate) fn spawn<T: From<NetScore> + Send + 'static>(
    node: &NodeConfig,
    every: Duration,
    dead_after: Duration,
    post: Post<T>,
) -> std::io::Result<bool> {
    if node.ping.is_empty() && node.ping_groups.is_empty() {
        return Ok(false);
    }
    let nodes = node.ping.clone();
    let groups: Vec<Vec<String>> = node.ping_groups.iter().map(|g| g.hosts.clone()).collect();
    let id = u16::try_from(std::process::id() & 0xffff).unwrap_or(0x5744);
    thread::Builder::new().name("ping".into()).spawn(move || {
        let mut pinger = Pinger { v4: None, v6: None, id, seq: 0, warned: [false; 2] };
        let mut heard: HashMap<String, Instant> = HashMap::new();
        let mut last: Option<u16> = None;
        loop {
            let started = Instant::now();
            let hosts: Vec<&String> = nodes.iter().chain(groups.iter().flatten()).collect();
            let resolved: Vec<(&String, Option<IpAddr>)> = hosts.iter().map(|h| (*h, resolve(h))).collect();
            let targets: Vec<IpAddr> = resolved.iter().filter_map(|(_, ip)| *ip).collect();
            let answered = pinger.round(&targets, started + every);
            let now = Instant::now();
            for (host, ip) in &resolved {
                if ip.is_some_and(|ip| answered.contains(&ip)) {
                    heard.insert((*host).clone(), now);
                }
            }
            let up = |h: &String| heard.get(h).is_some_and(|t| now.saturating_duration_since(*t) < dead_after);
            let node_up: Vec<bool> = nodes.iter().map(up).collect();
            let group_up: Vec<Vec<bool>> = groups.iter().map(|g| g.iter().map(up).collect()).collect();
            let value = score(&node_up, &group_up);
            if last != Some(value) {
                last = Some(value);
                let detail = hosts
                    .iter()
                    .map(|h| format!("{h} {}", if up(h) { "up" } else { "down" }))
                    .collect::<Vec<_>>()
                    .join(", ");
                if !post.send(T::from(NetScore { score: value, detail })) {
                    return;
                }
            }
        }
    })?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_request_has_a_valid_checksum() {
        let p = echo_request(false, 0x1234, 7);
        assert_eq!(&p[..2], &[8, 0]);
        assert_eq!(&p[4..8], &[0x12, 0x34, 0, 7]);
        assert_eq!(checksum(&p), 0, "a packet with its checksum sums to zero");
        // RFC 1071's example: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2, so ~ is 220d.
        assert_eq!(checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]), 0x220d);
        let p6 = echo_request(true, 1, 2);
        assert_eq!(&p6[..4], &[128, 0, 0, 0]);
    }

    #[test]
    fn replies_are_recognised_and_everything_else_refused() {
        let mut v4 = vec![0x45u8; 20];
        v4.extend_from_slice(&[0, 0, 0, 0, 0xab, 0xcd, 0, 1]);
        assert_eq!(parse_reply(false, &v4), Some(0xabcd));
        let mut request = v4.clone();
        request[20] = 8;
        assert_eq!(parse_reply(false, &request), None, "our own request on loopback");
        assert_eq!(parse_reply(false, &v4[..22]), None, "truncated");
        assert_eq!(parse_reply(false, &[]), None);
        assert_eq!(parse_reply(false, &[0x4f]), None, "header longer than the packet");
        assert_eq!(parse_reply(true, &[129, 0, 0, 0, 0, 9, 0, 1]), Some(9));
        assert_eq!(parse_reply(true, &[1, 0, 0, 0, 0, 9, 0, 1]), None, "destination unreachable");
    }

    #[test]
    fn score_counts_nodes_and_groups_once() {
        assert_eq!(score(&[true, false, true], &[vec![false, true, true], vec![false]]), 3);
        assert_eq!(score(&[], &[]), 0);
    }
}
