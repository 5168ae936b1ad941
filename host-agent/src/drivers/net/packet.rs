//! A raw link-layer (AF_PACKET) socket bound to one interface: whole
//! Ethernet frames out, and, for capture, whole frames in.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::ifaddrs::getifaddrs;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{bind, recv, send, socket, AddressFamily, LinkAddr, MsgFlags, SockFlag, SockProtocol, SockType};

/// A raw packet socket bound to one interface, in the network namespace of
/// the thread that opened it.
#[derive(Debug)]
pub struct LinkSocket {
    fd: OwnedFd,
    interface: String,
    mac: [u8; 6],
}

impl LinkSocket {
    /// Opens a socket that only sends (it receives nothing, so it never
    /// queues traffic nobody reads).
    pub fn sender(interface: &str) -> io::Result<Self> {
        Self::open(interface, None)
    }

    /// Opens a socket that also receives every frame seen on the interface,
    /// in both directions.
    pub fn capture(interface: &str) -> io::Result<Self> {
        Self::open(interface, Some(SockProtocol::EthAll))
    }

    fn open(interface: &str, protocol: Option<SockProtocol>) -> io::Result<Self> {
        let link = link_addr(interface)?;
        let mac = link.addr().unwrap_or_default();
        let fd = socket(AddressFamily::Packet, SockType::Raw, SockFlag::SOCK_CLOEXEC, protocol)?;
        // The address from getifaddrs carries the interface index and a
        // zero protocol, which leaves the socket's own protocol in force.
        bind(std::os::fd::AsRawFd::as_raw_fd(&fd), &link)?;
        Ok(Self { fd, interface: interface.to_owned(), mac })
    }

    /// The interface it is bound to.
    #[must_use]
    pub fn interface(&self) -> &str {
        &self.interface
    }

    /// The interface's MAC when the socket was opened.
    #[must_use]
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    /// Sends one whole Ethernet frame.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        let sent = send(std::os::fd::AsRawFd::as_raw_fd(&self.fd), frame, MsgFlags::empty())?;
        if sent == frame.len() {
            Ok(())
        } else {
            Err(io::Error::new(io::ErrorKind::WriteZero, format!("sent {sent} of {} bytes", frame.len())))
        }
    }

    /// Receives one frame, waiting until `deadline`; `Ok(None)` when the
    /// deadline passes first.
    pub fn recv_until(&self, deadline: Instant) -> io::Result<Option<Vec<u8>>> {
        let mut buf = vec![0u8; 65536];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            let ms = u16::try_from(left.as_millis().max(1)).unwrap_or(u16::MAX);
            let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::from(ms)) {
                Ok(0) | Err(Errno::EINTR) => continue,
                Ok(_) => {}
                Err(e) => return Err(e.into()),
            }
            match recv(std::os::fd::AsRawFd::as_raw_fd(&self.fd), &mut buf, MsgFlags::MSG_DONTWAIT) {
                Ok(n) => {
                    buf.truncate(n);
                    return Ok(Some(buf));
                }
                Err(Errno::EAGAIN | Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Receives one frame, waiting at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> io::Result<Option<Vec<u8>>> {
        self.recv_until(Instant::now() + timeout)
    }
}

/// The link-layer address of `interface` as the kernel lists it; `ENODEV`
/// when there is no such interface.
fn link_addr(interface: &str) -> io::Result<LinkAddr> {
    getifaddrs()?
        .filter(|a| a.interface_name == interface)
        .find_map(|a| a.address.and_then(|s| s.as_link_addr().copied()))
        .ok_or_else(|| io::Error::from_raw_os_error(libc::ENODEV))
}
