//! The addresses (IPv4 and IPv6) configured in one network namespace, read from the
//! kernel with a route-netlink dump: what the address detector polls. The
//! socket belongs to the namespace of the thread that opened it and stays
//! there, so one thread can watch every server.

use std::io;
use std::net::IpAddr;

use netlink_packet_core::{NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_DUMP, NLM_F_REQUEST};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

/// A route-netlink socket for address dumps.
#[derive(Debug)]
pub struct AddressDump {
    socket: Socket,
    seq: u32,
}

impl AddressDump {
    /// Opens one in the calling thread's network namespace.
    ///
    /// # Errors
    ///
    /// The OS error.
    pub fn open() -> io::Result<Self> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        Ok(Self { socket, seq: 0 })
    }

    /// Every IPv4 and IPv6 address on every interface of the namespace.
    ///
    /// # Errors
    ///
    /// The OS error, or an answer that cannot be decoded.
    pub fn addresses(&mut self) -> io::Result<Vec<IpAddr>> {
        self.seq = self.seq.wrapping_add(1);
        let mut message = AddressMessage::default();
        message.header.family = AddressFamily::Unspec;
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_DUMP;
        header.sequence_number = self.seq;
        let mut packet =
            NetlinkMessage::new(header, NetlinkPayload::InnerMessage(RouteNetlinkMessage::GetAddress(message)));
        packet.finalize();
        let mut bytes = vec![0; packet.buffer_len()];
        packet.serialize(&mut bytes);
        self.socket.send(&bytes, 0)?;

        let mut found = Vec::new();
        loop {
            let (answer, _) = self.socket.recv_from_full()?;
            let mut rest = answer.as_slice();
            while !rest.is_empty() {
                let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(rest)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("netlink answer: {e}")))?;
                let len = (reply.header.length as usize + 3) & !3;
                rest = rest.get(len.max(1)..).unwrap_or_default();
                if reply.header.sequence_number != self.seq {
                    continue;
                }
                match reply.payload {
                    NetlinkPayload::Done(_) => return Ok(found),
                    NetlinkPayload::Error(e) => return Err(e.to_io()),
                    NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewAddress(a)) => {
                        // IPv4's own address is IFA_LOCAL (IFA_ADDRESS is the
                        // peer's on a point-to-point link); IPv6 has IFA_ADDRESS only.
                        found.extend(a.attributes.iter().find_map(|attr| match attr {
                            AddressAttribute::Local(ip @ IpAddr::V4(_))
                            | AddressAttribute::Address(ip @ IpAddr::V6(_)) => Some(*ip),
                            _ => None,
                        }));
                    }
                    _ => {}
                }
            }
        }
    }
}
