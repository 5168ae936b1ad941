//! One node's datagrams on the controller's network port.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;

use nix::sys::socket::{self, sockopt, AddressFamily, SockFlag, SockType, SockaddrStorage};

use super::{errno, OpenError};
use crate::link::{Link, LinkError};

/// Largest datagram taken as a frame; longer ones are dropped and counted.
const MAX_DATAGRAM: usize = 512;

/// A UDP socket bound to the controller's `listen` address and connected
/// to the node's `peer` address: the kernel delivers only the peer's
/// datagrams to it, and frames go only to the peer. Several nodes may share
/// one listen address (`SO_REUSEPORT`; each socket is connected to its own
/// peer, so each node's datagrams reach its own link).
///
/// One datagram carries one or more whole frames; `read_available` returns
/// one datagram per call and drops a datagram that does not fit the buffer.
#[derive(Debug)]
pub struct UdpLink {
    socket: UdpSocket,
    peer: SocketAddr,
    dropped: u32,
}

impl UdpLink {
    /// Binds `listen` and connects to `peer`.
    ///
    /// # Errors
    ///
    /// [`OpenError`] naming the addresses.
    pub fn open(listen: SocketAddr, peer: SocketAddr) -> Result<Self, OpenError> {
        let name = format!("{listen} (peer {peer})");
        let fail = |e: nix::Error| OpenError::new("UDP link", Path::new(&name), io::Error::from(e));
        let family = if listen.is_ipv4() { AddressFamily::Inet } else { AddressFamily::Inet6 };
        let fd: OwnedFd =
            socket::socket(family, SockType::Datagram, SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK, None)
                .map_err(fail)?;
        socket::setsockopt(&fd, sockopt::ReuseAddr, &true).map_err(fail)?;
        socket::setsockopt(&fd, sockopt::ReusePort, &true).map_err(fail)?;
        socket::bind(fd.as_raw_fd(), &SockaddrStorage::from(listen)).map_err(fail)?;
        socket::connect(fd.as_raw_fd(), &SockaddrStorage::from(peer)).map_err(fail)?;
        Ok(Self { socket: UdpSocket::from(fd), peer, dropped: 0 })
    }

    /// The node's address.
    #[must_use]
    pub const fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The address it is bound to.
    ///
    /// # Errors
    ///
    /// The OS error, should the socket have none.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Datagrams dropped for being longer than the caller's buffer.
    #[must_use]
    pub const fn dropped(&self) -> u32 {
        self.dropped
    }
}

impl AsRawFd for UdpLink {
    fn as_raw_fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }
}

impl AsFd for UdpLink {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

fn link_error(e: &io::Error) -> LinkError {
    match e.kind() {
        // An ICMP "port unreachable" from the peer surfaces on the next call.
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset => LinkError::Disconnected,
        io::ErrorKind::WouldBlock => LinkError::Full,
        _ => LinkError::Device { code: errno(e) },
    }
}

impl Link for UdpLink {
    fn read_available(&mut self, buf: &mut [u8]) -> Result<usize, LinkError> {
        let mut datagram = [0u8; MAX_DATAGRAM];
        loop {
            match self.socket.recv(&mut datagram) {
                Ok(n) => match (buf.get_mut(..n), datagram.get(..n)) {
                    (Some(out), Some(got)) if n < MAX_DATAGRAM => {
                        out.copy_from_slice(got);
                        return Ok(n);
                    }
                    _ => self.dropped = self.dropped.saturating_add(1),
                },
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(0),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(link_error(&e)),
            }
        }
    }

    fn write_frame(&mut self, frame: &[u8]) -> Result<(), LinkError> {
        if frame.len() >= MAX_DATAGRAM {
            return Err(LinkError::TooLong);
        }
        match self.socket.send(frame) {
            Ok(n) if n == frame.len() => Ok(()),
            Ok(_) => Err(LinkError::Device { code: 0 }),
            Err(e) => Err(link_error(&e)),
        }
    }
}
