//! Network resources: the floating address, its announcement (gratuitous
//! ARP, unsolicited neighbour advertisement), MAC impersonation, and the
//! switch-notify broadcast.
//!
//! Everything talks to the kernel directly: route netlink for links,
//! addresses and route lookups, an AF_PACKET socket for frames. No `ip`,
//! `arping` or `ifconfig` is run. Every step works in the network namespace
//! of the calling thread, and opens its sockets afresh, so a resource value
//! carries only its parameters and can be probed by an agent that has just
//! restarted.
//!
//! * [`Address`]: add/remove an IPv4 or IPv6 address, interface and prefix
//!   found as heartbeat's `IPaddr` finds them, announced after adding.
//! * [`garp_refresh`]: one more announcement, for periodic refresh.
//! * [`MacAddress`]: move a locally administered MAC onto an interface and
//!   put the original back ([`lisa_mac`] derives one from an IPv4 address).
//! * [`SwitchNotify`]: a broadcast so learning switches move the MAC.
//! * [`frame`]: the frames themselves, built and parsed without I/O.
//! * [`LinkSocket`]: the raw socket, also usable for capture.

mod address;
mod arp;
pub mod frame;
mod mac;
mod netlink;
mod notify;
mod packet;

use std::io;

pub use address::Address;
pub use arp::{garp_refresh, Announce};
pub use mac::{format_mac, lisa_mac, parse_mac, MacAddress};
pub use notify::SwitchNotify;
pub use packet::LinkSocket;

use crate::resource::{ErrorKind, ResourceError};

/// The failure kind an errno means for a network step.
fn kind_of(err: &io::Error) -> ErrorKind {
    match err.raw_os_error() {
        Some(libc::EPERM | libc::EACCES) => ErrorKind::Permission,
        Some(libc::ENODEV | libc::EINVAL | libc::EADDRNOTAVAIL) => ErrorKind::Config,
        Some(libc::EBUSY) => ErrorKind::Busy,
        Some(libc::EAGAIN | libc::ETIMEDOUT) => ErrorKind::Timeout,
        _ if err.kind() == io::ErrorKind::TimedOut => ErrorKind::Timeout,
        _ => ErrorKind::Failed,
    }
}

/// A resource error for a failed system call, prefixed with what it was
/// about (e.g. `address 10.9.0.5/24 on eth0: adding it`).
fn os_error(what: &str, doing: &str, err: &io::Error) -> ResourceError {
    ResourceError::new(kind_of(err), format!("{what}: {doing}: {err}"))
}

fn is_errno(err: &io::Error, errno: i32) -> bool {
    err.raw_os_error() == Some(errno)
}

/// Checks an interface name the way the kernel would (1 to 15 bytes, no
/// `/`, `:` or whitespace), so a bad name is a configuration error rather
/// than a confusing errno.
fn check_interface(what: &str, name: &str) -> Result<(), ResourceError> {
    let bad = name.is_empty()
        || name.len() > 15
        || name == "."
        || name == ".."
        || name.chars().any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control());
    if bad {
        Err(ResourceError::new(
            ErrorKind::Config,
            format!("{what}: {name:?} is not a valid interface name (1 to 15 bytes, no '/', ':' or spaces)"),
        ))
    } else {
        Ok(())
    }
}

/// The error for an interface that does not exist.
fn no_interface(what: &str, name: &str) -> ResourceError {
    ResourceError::new(ErrorKind::Config, format!("{what}: interface {name} not found"))
}
