//! A small blocking route-netlink client: just the requests the network
//! resources need (links, addresses, one route lookup), each a round trip
//! with a receive timeout so no call can hang the agent.
//!
//! A [`Rtnl`] belongs to the network namespace of the thread that opened it;
//! the resources open one per step instead of keeping one, so a resource
//! never talks to a namespace it was not asked about.

use std::io;
use std::net::IpAddr;
use std::os::fd::AsFd;

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressMessage};
use netlink_packet_route::link::{LinkAttribute, LinkExtentMask, LinkFlags, LinkMessage};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteFlags, RouteMessage, RouteType};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use nix::sys::socket::{setsockopt, sockopt::ReceiveTimeout};
use nix::sys::time::TimeVal;

/// How long one request may wait for the kernel's answer, in seconds.
const REPLY_TIMEOUT_SECS: i64 = 5;

/// One link as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Link {
    pub(crate) index: u32,
    pub(crate) name: String,
    pub(crate) mac: Option<[u8; 6]>,
    pub(crate) perm_mac: Option<[u8; 6]>,
    pub(crate) up: bool,
}

/// One address as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AddrEntry {
    pub(crate) index: u32,
    pub(crate) address: IpAddr,
    pub(crate) prefix: u8,
    pub(crate) flags: AddressFlags,
}

/// What a route lookup selected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RouteChoice {
    pub(crate) kind: RouteType,
    pub(crate) oif: Option<u32>,
    pub(crate) gateway: Option<IpAddr>,
    pub(crate) prefix: u8,
}

/// Parameters of an address to add.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NewAddr {
    pub(crate) index: u32,
    pub(crate) address: IpAddr,
    pub(crate) prefix: u8,
    pub(crate) broadcast: Option<std::net::Ipv4Addr>,
    pub(crate) nodad: bool,
}

/// A route-netlink socket in the calling thread's network namespace.
pub(crate) struct Rtnl {
    socket: Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl Rtnl {
    /// Opens and connects a socket to the kernel.
    pub(crate) fn open() -> io::Result<Self> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        setsockopt(&socket.as_fd(), ReceiveTimeout, &TimeVal::new(REPLY_TIMEOUT_SECS, 0)).map_err(io::Error::from)?;
        Ok(Self { socket, seq: 0, buf: vec![0; 64 * 1024] })
    }

    /// Sends one request and collects every inner message of the answer.
    /// An error reply becomes the `io::Error` of its errno.
    fn request(&mut self, msg: RouteNetlinkMessage, flags: u16) -> io::Result<Vec<RouteNetlinkMessage>> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let mut header = NetlinkHeader::default();
        header.flags = flags;
        header.sequence_number = seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(msg));
        packet.finalize();
        let mut out = vec![0; packet.buffer_len()];
        packet.serialize(&mut out);
        self.socket.send(&out, 0)?;

        let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        let wants_ack = flags & NLM_F_ACK != 0;
        let mut answer = Vec::new();
        loop {
            let n = nix::sys::socket::recv(
                std::os::fd::AsRawFd::as_raw_fd(&self.socket),
                &mut self.buf,
                nix::sys::socket::MsgFlags::MSG_TRUNC,
            )
            .map_err(|e| match e {
                nix::errno::Errno::EAGAIN => {
                    io::Error::new(io::ErrorKind::TimedOut, "no answer from the kernel (netlink)")
                }
                other => io::Error::from(other),
            })?;
            if n > self.buf.len() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "netlink answer larger than the receive buffer",
                ));
            }
            let mut offset = 0;
            while offset < n {
                let bytes = self.buf.get(offset..n).unwrap_or_default();
                let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(bytes).map_err(|e| {
                    io::Error::new(io::ErrorKind::InvalidData, format!("undecodable netlink answer: {e}"))
                })?;
                let len = reply.header.length as usize;
                if len == 0 {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, "netlink answer of length 0"));
                }
                offset += (len + 3) & !3;
                if reply.header.sequence_number != seq {
                    // A late answer to an earlier request that timed out.
                    continue;
                }
                match reply.payload {
                    NetlinkPayload::Done(_) => return Ok(answer),
                    NetlinkPayload::Error(err) => {
                        return match err.code {
                            None => Ok(answer),
                            Some(_) => Err(err.to_io()),
                        };
                    }
                    NetlinkPayload::InnerMessage(inner) => {
                        answer.push(inner);
                        if !dump && !wants_ack {
                            return Ok(answer);
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// The link called `name`; `ENODEV` when there is none.
    pub(crate) fn link_by_name(&mut self, name: &str) -> io::Result<Link> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_owned()));
        msg.attributes.push(LinkAttribute::ExtMask(vec![LinkExtentMask::SkipStats]));
        let answer = self.request(RouteNetlinkMessage::GetLink(msg), NLM_F_REQUEST)?;
        first_link(answer)
    }

    /// The link with index `index`; `ENODEV` when there is none.
    pub(crate) fn link_by_index(&mut self, index: u32) -> io::Result<Link> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.attributes.push(LinkAttribute::ExtMask(vec![LinkExtentMask::SkipStats]));
        let answer = self.request(RouteNetlinkMessage::GetLink(msg), NLM_F_REQUEST)?;
        first_link(answer)
    }

    /// Every address of one family on every interface.
    pub(crate) fn addresses(&mut self, v6: bool) -> io::Result<Vec<AddrEntry>> {
        let mut msg = AddressMessage::default();
        msg.header.family = if v6 { AddressFamily::Inet6 } else { AddressFamily::Inet };
        let answer = self.request(RouteNetlinkMessage::GetAddress(msg), NLM_F_REQUEST | NLM_F_DUMP)?;
        Ok(answer
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewAddress(a) => addr_entry(&a),
                _ => None,
            })
            .filter(|a| a.address.is_ipv6() == v6)
            .collect())
    }

    /// Asks the kernel which route it would use to reach `dst`. With
    /// `fib_match` the answer is the routing table entry itself (its prefix
    /// length), without it the resolved next hop (its output interface).
    pub(crate) fn route_get(&mut self, dst: IpAddr, fib_match: bool) -> io::Result<RouteChoice> {
        let mut msg = RouteMessage::default();
        msg.header.address_family = if dst.is_ipv6() { AddressFamily::Inet6 } else { AddressFamily::Inet };
        msg.header.destination_prefix_length = if dst.is_ipv6() { 128 } else { 32 };
        if fib_match {
            msg.header.flags = RouteFlags::FibMatch;
        }
        msg.attributes.push(RouteAttribute::Destination(RouteAddress::from(dst)));
        let answer = self.request(RouteNetlinkMessage::GetRoute(msg), NLM_F_REQUEST)?;
        let route = answer
            .into_iter()
            .find_map(|m| match m {
                RouteNetlinkMessage::NewRoute(r) => Some(r),
                _ => None,
            })
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "route lookup answered without a route"))?;
        let mut choice = RouteChoice {
            kind: route.header.kind,
            oif: None,
            gateway: None,
            prefix: route.header.destination_prefix_length,
        };
        for attr in &route.attributes {
            match attr {
                RouteAttribute::Oif(i) => choice.oif = Some(*i),
                RouteAttribute::Gateway(RouteAddress::Inet(a)) => choice.gateway = Some(IpAddr::V4(*a)),
                RouteAttribute::Gateway(RouteAddress::Inet6(a)) => choice.gateway = Some(IpAddr::V6(*a)),
                _ => {}
            }
        }
        Ok(choice)
    }

    /// Adds an address (`EEXIST` when it is already there).
    pub(crate) fn add_address(&mut self, new: &NewAddr) -> io::Result<()> {
        let mut msg = AddressMessage::default();
        msg.header.family = if new.address.is_ipv6() { AddressFamily::Inet6 } else { AddressFamily::Inet };
        msg.header.prefix_len = new.prefix;
        msg.header.index = new.index;
        msg.attributes.push(AddressAttribute::Local(new.address));
        msg.attributes.push(AddressAttribute::Address(new.address));
        if let Some(b) = new.broadcast {
            msg.attributes.push(AddressAttribute::Broadcast(b));
        }
        if new.nodad {
            msg.attributes.push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
        self.request(RouteNetlinkMessage::NewAddress(msg), NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL)
            .map(drop)
    }

    /// Removes an address exactly as listed by [`Rtnl::addresses`]
    /// (`EADDRNOTAVAIL` when it is not there).
    pub(crate) fn del_address(&mut self, entry: &AddrEntry) -> io::Result<()> {
        let mut msg = AddressMessage::default();
        msg.header.family = if entry.address.is_ipv6() { AddressFamily::Inet6 } else { AddressFamily::Inet };
        msg.header.prefix_len = entry.prefix;
        msg.header.index = entry.index;
        msg.attributes.push(AddressAttribute::Local(entry.address));
        msg.attributes.push(AddressAttribute::Address(entry.address));
        self.request(RouteNetlinkMessage::DelAddress(msg), NLM_F_REQUEST | NLM_F_ACK).map(drop)
    }

    /// Sets the link-layer address of a link (`EBUSY` when the driver
    /// cannot change it while the link is up).
    pub(crate) fn set_mac(&mut self, index: u32, mac: [u8; 6]) -> io::Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.attributes.push(LinkAttribute::Address(mac.to_vec()));
        self.request(RouteNetlinkMessage::SetLink(msg), NLM_F_REQUEST | NLM_F_ACK).map(drop)
    }

    /// Brings a link administratively up or down.
    pub(crate) fn set_up(&mut self, index: u32, up: bool) -> io::Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.header.flags = if up { LinkFlags::Up } else { LinkFlags::empty() };
        msg.header.change_mask = LinkFlags::Up;
        self.request(RouteNetlinkMessage::SetLink(msg), NLM_F_REQUEST | NLM_F_ACK).map(drop)
    }
}

fn first_link(answer: Vec<RouteNetlinkMessage>) -> io::Result<Link> {
    answer
        .into_iter()
        .find_map(|m| match m {
            RouteNetlinkMessage::NewLink(l) => Some(link_from(&l)),
            _ => None,
        })
        .ok_or_else(|| io::Error::from_raw_os_error(libc::ENODEV))
}

fn mac_of(bytes: &[u8]) -> Option<[u8; 6]> {
    <[u8; 6]>::try_from(bytes).ok()
}

fn link_from(msg: &LinkMessage) -> Link {
    let mut link = Link {
        index: msg.header.index,
        name: String::new(),
        mac: None,
        perm_mac: None,
        up: msg.header.flags.contains(LinkFlags::Up),
    };
    for attr in &msg.attributes {
        match attr {
            LinkAttribute::IfName(n) => link.name.clone_from(n),
            LinkAttribute::Address(a) => link.mac = mac_of(a),
            LinkAttribute::PermAddress(a) => link.perm_mac = mac_of(a).filter(|m| *m != [0; 6]),
            _ => {}
        }
    }
    link
}

fn addr_entry(msg: &AddressMessage) -> Option<AddrEntry> {
    let mut local = None;
    let mut address = None;
    let mut flags = AddressFlags::from_bits_retain(u32::from(msg.header.flags.bits()));
    for attr in &msg.attributes {
        match attr {
            AddressAttribute::Local(a) => local = Some(*a),
            AddressAttribute::Address(a) => address = Some(*a),
            AddressAttribute::Flags(f) => flags = *f,
            _ => {}
        }
    }
    // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on
    // point-to-point links, and the only one IPv6 reports.
    Some(AddrEntry { index: msg.header.index, address: local.or(address)?, prefix: msg.header.prefix_len, flags })
}
