//! The link-layer frames the network resources send, built and parsed here
//! without any I/O: gratuitous ARP in request and reply form, IPv6
//! unsolicited neighbour advertisements, and the switch-notify broadcast.
//!
//! Builders return complete Ethernet frames (without FCS). Parsers are
//! checked views: they return `None` for anything that is not exactly the
//! kind of frame asked for, never panic, so they can be pointed at whatever
//! a capture socket receives (the tests and the rig's detectors do).

use std::net::{Ipv4Addr, Ipv6Addr};

use etherparse::{EtherType, Ethernet2Header, Icmpv6Slice, Icmpv6Type, IpNumber, Ipv6Header, PacketBuilder};

/// The Ethernet broadcast address.
pub const BROADCAST: [u8; 6] = [0xff; 6];

/// Ethertype of the switch-notify frame: IEEE 802 "local experimental 1",
/// which no protocol stack consumes, so the frame only teaches switches.
pub const NOTIFY_ETHERTYPE: u16 = 0x88B5;

/// The text carried by a switch-notify frame, so a capture can tell it apart
/// from other local experimental traffic.
pub const NOTIFY_MAGIC: &[u8; 16] = b"warden-switch-nt";

/// Shortest Ethernet frame without FCS; shorter frames are padded.
const MIN_FRAME: usize = 60;

/// ICMPv6 type of a neighbour advertisement.
const ND_NEIGHBOR_ADVERT: u8 = 136;
/// NDP option: target link-layer address.
const ND_OPT_TARGET_LL_ADDR: u8 = 2;
/// Flag bits in the first byte after the ICMPv6 checksum.
const NA_ROUTER: u8 = 0x80;
const NA_SOLICITED: u8 = 0x40;
const NA_OVERRIDE: u8 = 0x20;

/// The two forms of gratuitous ARP. Some hosts and switches only act on
/// one of them, which is why both are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArpOp {
    /// An ARP request for our own address (RFC 5227 announcement).
    Request,
    /// An unsolicited ARP reply, broadcast.
    Reply,
}

impl ArpOp {
    fn code(self) -> u16 {
        match self {
            Self::Request => 1,
            Self::Reply => 2,
        }
    }
}

/// An Ethernet/IPv4 ARP packet together with its Ethernet addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpFrame {
    /// Ethernet source.
    pub eth_src: [u8; 6],
    /// Ethernet destination.
    pub eth_dst: [u8; 6],
    /// Request or reply.
    pub op: ArpOp,
    /// Sender hardware address.
    pub sender_mac: [u8; 6],
    /// Sender protocol address.
    pub sender_ip: Ipv4Addr,
    /// Target hardware address.
    pub target_mac: [u8; 6],
    /// Target protocol address.
    pub target_ip: Ipv4Addr,
}

impl ArpFrame {
    /// A gratuitous ARP announcing that `ip` is at `mac`, in the given form:
    /// sender and target protocol address are both `ip`, sent to broadcast.
    /// The request leaves the target hardware address zero (RFC 5227); the
    /// reply names `mac` there, as heartbeat's `send_arp` does.
    #[must_use]
    pub fn gratuitous(op: ArpOp, mac: [u8; 6], ip: Ipv4Addr) -> Self {
        Self {
            eth_src: mac,
            eth_dst: BROADCAST,
            op,
            sender_mac: mac,
            sender_ip: ip,
            target_mac: match op {
                ArpOp::Request => [0; 6],
                ArpOp::Reply => mac,
            },
            target_ip: ip,
        }
    }

    /// Is it gratuitous (sender and target protocol address equal)?
    #[must_use]
    pub fn is_gratuitous(&self) -> bool {
        self.sender_ip == self.target_ip
    }

    /// The frame's bytes, padded to the Ethernet minimum.
    #[must_use]
    pub fn emit(&self) -> Vec<u8> {
        let eth = Ethernet2Header { source: self.eth_src, destination: self.eth_dst, ether_type: EtherType::ARP };
        let mut out = Vec::with_capacity(MIN_FRAME);
        out.extend_from_slice(&eth.to_bytes());
        out.extend_from_slice(&1u16.to_be_bytes()); // hardware: Ethernet
        out.extend_from_slice(&EtherType::IPV4.0.to_be_bytes());
        out.push(6);
        out.push(4);
        out.extend_from_slice(&self.op.code().to_be_bytes());
        out.extend_from_slice(&self.sender_mac);
        out.extend_from_slice(&self.sender_ip.octets());
        out.extend_from_slice(&self.target_mac);
        out.extend_from_slice(&self.target_ip.octets());
        out.resize(MIN_FRAME, 0);
        out
    }

    /// Parses an Ethernet frame; `None` unless it is an Ethernet/IPv4 ARP
    /// request or reply.
    #[must_use]
    pub fn parse(frame: &[u8]) -> Option<Self> {
        let (eth, arp) = Ethernet2Header::from_slice(frame).ok()?;
        if eth.ether_type != EtherType::ARP {
            return None;
        }
        let fixed: &[u8; 28] = arp.get(..28)?.try_into().ok()?;
        let [h0, h1, p0, p1, hlen, plen, o0, o1, rest @ ..] = *fixed;
        if u16::from_be_bytes([h0, h1]) != 1
            || u16::from_be_bytes([p0, p1]) != EtherType::IPV4.0
            || hlen != 6
            || plen != 4
        {
            return None;
        }
        let op = match u16::from_be_bytes([o0, o1]) {
            1 => ArpOp::Request,
            2 => ArpOp::Reply,
            _ => return None,
        };
        let (sha, rest) = rest.split_at(6);
        let (spa, rest) = rest.split_at(4);
        let (tha, tpa) = rest.split_at(6);
        Some(Self {
            eth_src: eth.source,
            eth_dst: eth.destination,
            op,
            sender_mac: sha.try_into().ok()?,
            sender_ip: Ipv4Addr::from(<[u8; 4]>::try_from(spa).ok()?),
            target_mac: tha.try_into().ok()?,
            target_ip: Ipv4Addr::from(<[u8; 4]>::try_from(tpa).ok()?),
        })
    }
}

/// An IPv6 neighbour advertisement together with the headers around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeighbourAdvert {
    /// Ethernet source.
    pub eth_src: [u8; 6],
    /// Ethernet destination.
    pub eth_dst: [u8; 6],
    /// IPv6 source.
    pub ip_src: Ipv6Addr,
    /// IPv6 destination.
    pub ip_dst: Ipv6Addr,
    /// IPv6 hop limit (255 for any NDP message a host accepts).
    pub hop_limit: u8,
    /// Router flag.
    pub router: bool,
    /// Solicited flag.
    pub solicited: bool,
    /// Override flag: replace an existing cache entry's link-layer address.
    pub override_flag: bool,
    /// The address advertised.
    pub target: Ipv6Addr,
    /// The target link-layer address option, when present.
    pub target_mac: Option<[u8; 6]>,
}

impl NeighbourAdvert {
    /// The unsolicited advertisement a node sends after taking `ip` over
    /// (RFC 4861 7.2.6): to all nodes (ff02::1), from `ip` itself, override
    /// set, solicited clear, carrying `mac` as target link-layer address.
    #[must_use]
    pub fn unsolicited(mac: [u8; 6], ip: Ipv6Addr) -> Self {
        let all_nodes = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
        Self {
            eth_src: mac,
            eth_dst: multicast_mac(all_nodes),
            ip_src: ip,
            ip_dst: all_nodes,
            hop_limit: 255,
            router: false,
            solicited: false,
            override_flag: true,
            target: ip,
            target_mac: Some(mac),
        }
    }

    /// The frame's bytes, checksum computed.
    #[must_use]
    pub fn emit(&self) -> Vec<u8> {
        let mut flags = 0u8;
        if self.router {
            flags |= NA_ROUTER;
        }
        if self.solicited {
            flags |= NA_SOLICITED;
        }
        if self.override_flag {
            flags |= NA_OVERRIDE;
        }
        let mut payload = Vec::with_capacity(24);
        payload.extend_from_slice(&self.target.octets());
        if let Some(mac) = self.target_mac {
            payload.push(ND_OPT_TARGET_LL_ADDR);
            payload.push(1); // length in units of 8 bytes
            payload.extend_from_slice(&mac);
        }
        let builder = PacketBuilder::ethernet2(self.eth_src, self.eth_dst)
            .ipv6(self.ip_src.octets(), self.ip_dst.octets(), self.hop_limit)
            .icmpv6(Icmpv6Type::Unknown { type_u8: ND_NEIGHBOR_ADVERT, code_u8: 0, bytes5to8: [flags, 0, 0, 0] });
        let mut out = Vec::with_capacity(builder.size(payload.len()));
        // Writing into a Vec cannot fail and a 24-byte payload is never too
        // large, so an error here would be a bug in the builder.
        if builder.write(&mut out, &payload).is_err() {
            out.clear();
        }
        out
    }

    /// Parses an Ethernet frame; `None` unless it is an IPv6 neighbour
    /// advertisement with a valid checksum.
    #[must_use]
    pub fn parse(frame: &[u8]) -> Option<Self> {
        let (eth, rest) = Ethernet2Header::from_slice(frame).ok()?;
        if eth.ether_type != EtherType::IPV6 {
            return None;
        }
        let (ip, rest) = Ipv6Header::from_slice(rest).ok()?;
        if ip.next_header != IpNumber::IPV6_ICMP {
            return None;
        }
        let icmp_bytes = rest.get(..usize::from(ip.payload_length))?;
        let icmp = Icmpv6Slice::from_slice(icmp_bytes).ok()?;
        if icmp.type_u8() != ND_NEIGHBOR_ADVERT
            || icmp.code_u8() != 0
            || !icmp.is_checksum_valid(ip.source, ip.destination)
        {
            return None;
        }
        let [flags, ..] = icmp.bytes5to8();
        let body = icmp.payload();
        let target = Ipv6Addr::from(<[u8; 16]>::try_from(body.get(..16)?).ok()?);
        let mut target_mac = None;
        let mut options = body.get(16..)?;
        while let [kind, len, ..] = *options {
            let size = usize::from(len) * 8;
            if size == 0 {
                return None;
            }
            let option = options.get(..size)?;
            if kind == ND_OPT_TARGET_LL_ADDR {
                target_mac = option.get(2..8).and_then(|m| m.try_into().ok());
            }
            options = options.get(size..)?;
        }
        Some(Self {
            eth_src: eth.source,
            eth_dst: eth.destination,
            ip_src: Ipv6Addr::from(ip.source),
            ip_dst: Ipv6Addr::from(ip.destination),
            hop_limit: ip.hop_limit,
            router: flags & NA_ROUTER != 0,
            solicited: flags & NA_SOLICITED != 0,
            override_flag: flags & NA_OVERRIDE != 0,
            target,
            target_mac,
        })
    }
}

/// The Ethernet multicast address of an IPv6 multicast group (33:33 + the
/// low 32 bits).
#[must_use]
pub fn multicast_mac(group: Ipv6Addr) -> [u8; 6] {
    let [.., a, b, c, d] = group.octets();
    [0x33, 0x33, a, b, c, d]
}

/// The switch-notify broadcast from `mac`: any frame from the new port
/// makes a learning switch move the MAC; this one carries a marker and
/// nothing a host would act on.
#[must_use]
pub fn switch_notify(mac: [u8; 6]) -> Vec<u8> {
    let eth = Ethernet2Header { source: mac, destination: BROADCAST, ether_type: EtherType(NOTIFY_ETHERTYPE) };
    let mut out = Vec::with_capacity(MIN_FRAME);
    out.extend_from_slice(&eth.to_bytes());
    out.extend_from_slice(NOTIFY_MAGIC);
    out.resize(MIN_FRAME, 0);
    out
}

/// If `frame` is a switch-notify broadcast, the MAC it was sent from.
#[must_use]
pub fn parse_switch_notify(frame: &[u8]) -> Option<[u8; 6]> {
    let (eth, rest) = Ethernet2Header::from_slice(frame).ok()?;
    (eth.ether_type == EtherType(NOTIFY_ETHERTYPE) && eth.destination == BROADCAST && rest.starts_with(NOTIFY_MAGIC))
        .then_some(eth.source)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x02, 0x00, 0x0a, 0x09, 0x00, 0x05];

    #[test]
    fn garp_request_bytes() {
        let f = ArpFrame::gratuitous(ArpOp::Request, MAC, Ipv4Addr::new(10, 9, 0, 5)).emit();
        assert_eq!(f.len(), 60);
        assert_eq!(&f[..6], &BROADCAST);
        assert_eq!(&f[6..12], &MAC);
        assert_eq!(&f[12..14], &[0x08, 0x06]);
        assert_eq!(&f[14..22], &[0, 1, 0x08, 0, 6, 4, 0, 1]);
        assert_eq!(&f[22..28], &MAC);
        assert_eq!(&f[28..32], &[10, 9, 0, 5]);
        assert_eq!(&f[32..38], &[0; 6]);
        assert_eq!(&f[38..42], &[10, 9, 0, 5]);
    }

    #[test]
    fn garp_round_trip_both_forms() {
        for op in [ArpOp::Request, ArpOp::Reply] {
            let want = ArpFrame::gratuitous(op, MAC, Ipv4Addr::new(192, 168, 85, 3));
            let got = ArpFrame::parse(&want.emit()).unwrap();
            assert_eq!(got, want);
            assert!(got.is_gratuitous());
        }
    }

    #[test]
    fn arp_parse_rejects_garbage() {
        let good = ArpFrame::gratuitous(ArpOp::Reply, MAC, Ipv4Addr::new(1, 2, 3, 4)).emit();
        for cut in 0..42 {
            assert_eq!(ArpFrame::parse(&good[..cut]), None, "cut at {cut}");
        }
        let mut bad_op = good.clone();
        bad_op[21] = 9;
        assert_eq!(ArpFrame::parse(&bad_op), None);
        assert_eq!(ArpFrame::parse(&switch_notify(MAC)), None);
    }

    #[test]
    fn unsolicited_na_round_trip() {
        let ip: Ipv6Addr = "fd00:9::5".parse().unwrap();
        let na = NeighbourAdvert::unsolicited(MAC, ip);
        let bytes = na.emit();
        assert_eq!(bytes.len(), 14 + 40 + 8 + 16 + 8);
        assert_eq!(&bytes[..6], &[0x33, 0x33, 0, 0, 0, 1]);
        assert_eq!(bytes[14 + 40], 136);
        assert_eq!(bytes[14 + 40 + 4], 0x20);
        let got = NeighbourAdvert::parse(&bytes).unwrap();
        assert_eq!(got, na);
        // A flipped bit breaks the checksum.
        let mut corrupt = bytes.clone();
        corrupt[14 + 40 + 8 + 15] ^= 1;
        assert_eq!(NeighbourAdvert::parse(&corrupt), None);
        for cut in 0..bytes.len() - 8 {
            assert_eq!(NeighbourAdvert::parse(&bytes[..cut]), None, "cut at {cut}");
        }
    }

    #[test]
    fn switch_notify_round_trip() {
        let f = switch_notify(MAC);
        assert_eq!(f.len(), 60);
        assert_eq!(parse_switch_notify(&f), Some(MAC));
        let garp = ArpFrame::gratuitous(ArpOp::Request, MAC, Ipv4Addr::new(1, 2, 3, 4)).emit();
        assert_eq!(parse_switch_notify(&garp), None);
    }
}
