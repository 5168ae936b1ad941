//! The floating address resource.

use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use netlink_packet_route::address::AddressFlags;
use netlink_packet_route::route::RouteType;

use super::arp::{send_burst, Announce, Announcer};
use super::netlink::{AddrEntry, Link, NewAddr, Rtnl};
use super::packet::LinkSocket;
use super::{check_interface, is_errno, no_interface, os_error};
use crate::resource::{ErrorKind, Health, Presence, Resource, ResourceError};

/// An IPv4 or IPv6 address that moves between nodes.
///
/// * Interface: the one given, or the one the kernel's route lookup for the
///   address selects.
/// * Prefix: the one given, or that of the interface's own address in the
///   same subnet, or that of the directly connected route that covers it.
/// * IPv4 broadcast: the one given, or the highest address of the prefix
///   (none for /31 and /32).
/// * IPv6 addresses are added without duplicate address detection: a
///   taken-over address must be usable at once, and exclusivity is the
///   controller's job (it fences the old holder first).
/// * After adding, the address is announced as [`Announce`] says; `stop`
///   cancels announcements still pending before it removes the address.
/// * With [`Address::with_refresh`], `monitor` announces it once more
///   whenever the refresh interval has passed since the last announcement
///   (`garp_refresh`, for switches and hosts that drop the first ones).
#[derive(Debug)]
pub struct Address {
    address: IpAddr,
    prefix: Option<u8>,
    broadcast: Option<Ipv4Addr>,
    interface: Option<String>,
    announce: Announce,
    announcer: Option<Announcer>,
    /// The packet socket of the last announcement, kept open: closing an
    /// AF_PACKET socket waits for an RCU grace period (milliseconds), which
    /// would otherwise sit on every takeover's critical path.
    sender: Option<(u32, Arc<LinkSocket>)>,
    /// Re-announce this often while held.
    refresh: Option<Duration>,
    /// When it was last announced (by `start` or a refresh).
    announced: Option<Instant>,
}

impl Address {
    /// An address resource from plain parameters.
    ///
    /// * `address`: the floating address.
    /// * `prefix`: its prefix length (0..=32 for IPv4, 0..=128 for IPv6), or
    ///   `None` to take it from the interface (see the type's doc).
    /// * `interface`: the interface name, or `None` for the one the route to
    ///   the address selects.
    ///
    /// Announcement defaults to [`Announce::default`] (5 bursts, 200 ms);
    /// change it with [`Address::with_announce`]. Fails with
    /// [`ErrorKind::Config`] for a prefix out of range, a bad interface name,
    /// or an address that cannot float (unspecified, loopback, multicast).
    pub fn new(address: IpAddr, prefix: Option<u8>, interface: Option<&str>) -> Result<Self, ResourceError> {
        let what = format!("address {address}");
        let max = if address.is_ipv6() { 128 } else { 32 };
        if let Some(p) = prefix {
            if p > max {
                return Err(ResourceError::new(ErrorKind::Config, format!("{what}/{p}: prefix is above {max}")));
            }
        }
        if address.is_unspecified() || address.is_loopback() || address.is_multicast() {
            return Err(ResourceError::new(ErrorKind::Config, format!("{what}: cannot be a floating address")));
        }
        if let IpAddr::V4(v4) = address {
            if v4.is_broadcast() {
                return Err(ResourceError::new(ErrorKind::Config, format!("{what}: cannot be a floating address")));
            }
        }
        if let Some(name) = interface {
            check_interface(&what, name)?;
        }
        Ok(Self {
            address,
            prefix,
            broadcast: None,
            interface: interface.map(str::to_owned),
            announce: Announce::default(),
            announcer: None,
            sender: None,
            refresh: None,
            announced: None,
        })
    }

    /// Sets the IPv4 broadcast address instead of the default (the highest
    /// address of the prefix). Refused for IPv6.
    pub fn with_broadcast(mut self, broadcast: Ipv4Addr) -> Result<Self, ResourceError> {
        if self.address.is_ipv6() {
            return Err(ResourceError::new(
                ErrorKind::Config,
                format!("{}: IPv6 has no broadcast address", self.label()),
            ));
        }
        self.broadcast = Some(broadcast);
        Ok(self)
    }

    /// Sets how the address is announced after it is added.
    pub fn with_announce(mut self, announce: Announce) -> Result<Self, ResourceError> {
        announce.check(&self.label())?;
        self.announce = announce;
        Ok(self)
    }

    /// Announces the address again every `interval` while it is held, from
    /// `monitor` (at least 1 s).
    pub fn with_refresh(mut self, interval: Duration) -> Result<Self, ResourceError> {
        if interval < Duration::from_secs(1) {
            return Err(ResourceError::new(
                ErrorKind::Config,
                format!("{}: refresh interval {interval:?} is below 1s", self.label()),
            ));
        }
        self.refresh = Some(interval);
        Ok(self)
    }

    /// The address.
    #[must_use]
    pub fn address(&self) -> IpAddr {
        self.address
    }

    /// Waits until the announcements of the last `start` have all been
    /// sent; an error says a later burst failed (the first one's failure
    /// fails `start` itself).
    pub fn wait_announced(&mut self) -> Result<(), ResourceError> {
        match self.announcer.take() {
            Some(a) => a.join().map_err(|e| os_error(&self.label(), "announcing", &e)),
            None => Ok(()),
        }
    }

    /// Announces the address once more from the interface that holds it
    /// (for a periodic refresh). Fails when no interface holds it.
    pub fn refresh(&mut self) -> Result<(), ResourceError> {
        let label = self.label();
        let mut rtnl = open(&label)?;
        let held = self.holders(&mut rtnl, &label)?;
        let Some(entry) = held.first() else {
            return Err(ResourceError::new(
                ErrorKind::Failed,
                format!("{label}: not on any interface, nothing to announce"),
            ));
        };
        let link = rtnl.link_by_index(entry.index).map_err(|e| os_error(&label, "looking up its interface", &e))?;
        self.announce_once(&link)
            .map(drop)
            .map_err(|e| os_error(&format!("{label} on {}", link.name), "announcing", &e))?;
        self.announced = Some(Instant::now());
        Ok(())
    }

    /// Sends one burst from `link`, through the kept socket when it is
    /// bound to that link, else through a new one (kept for next time).
    fn announce_once(&mut self, link: &Link) -> io::Result<Arc<LinkSocket>> {
        let kept = self.sender.take().filter(|(index, s)| *index == link.index && s.interface() == link.name);
        if let Some((_, socket)) = kept {
            let mac = link.mac.unwrap_or(socket.mac());
            if send_burst(&socket, mac, self.address).is_ok() {
                self.sender = Some((link.index, Arc::clone(&socket)));
                return Ok(socket);
            }
            // The link may have been replaced under the same name: retry
            // once on a fresh socket.
        }
        let socket = Arc::new(LinkSocket::sender(&link.name)?);
        send_burst(&socket, link.mac.unwrap_or(socket.mac()), self.address)?;
        self.sender = Some((link.index, Arc::clone(&socket)));
        Ok(socket)
    }

    /// `address 10.9.0.5/24` or `address 10.9.0.5`: how errors name it.
    fn label(&self) -> String {
        match self.prefix {
            Some(p) => format!("address {}/{p}", self.address),
            None => format!("address {}", self.address),
        }
    }

    /// The configured interface, `None` when it does not exist.
    fn configured_link(&self, rtnl: &mut Rtnl, label: &str) -> Result<Option<Link>, ResourceError> {
        let Some(name) = &self.interface else {
            return Ok(None);
        };
        match rtnl.link_by_name(name) {
            Ok(link) => Ok(Some(link)),
            Err(e) if is_errno(&e, libc::ENODEV) => Err(no_interface(label, name)),
            Err(e) => Err(os_error(label, &format!("looking up interface {name}"), &e)),
        }
    }

    /// Every entry of this address, on any interface.
    fn holders(&self, rtnl: &mut Rtnl, label: &str) -> Result<Vec<AddrEntry>, ResourceError> {
        let all = rtnl.addresses(self.address.is_ipv6()).map_err(|e| os_error(label, "listing addresses", &e))?;
        Ok(all.into_iter().filter(|a| a.address == self.address).collect())
    }

    /// The interface to add the address to: the configured one, or the
    /// route's.
    fn choose_link(&self, rtnl: &mut Rtnl, label: &str) -> Result<Link, ResourceError> {
        if let Some(link) = self.configured_link(rtnl, label)? {
            return Ok(link);
        }
        let no_route = || {
            ResourceError::new(
                ErrorKind::Config,
                format!("{label}: no route selects an interface for it; name the interface"),
            )
        };
        let route = match rtnl.route_get(self.address, false) {
            Ok(r) => r,
            Err(e) if is_errno(&e, libc::ENETUNREACH) || is_errno(&e, libc::EHOSTUNREACH) => return Err(no_route()),
            Err(e) => return Err(os_error(label, "looking up its route", &e)),
        };
        let Some(oif) = route.oif.filter(|_| route.kind == RouteType::Unicast) else {
            return Err(no_route());
        };
        rtnl.link_by_index(oif).map_err(|e| os_error(label, "looking up the route's interface", &e))
    }

    /// The prefix: configured, or the interface's own address in the same
    /// subnet, or the connected route on that interface that covers it.
    fn choose_prefix(&self, rtnl: &mut Rtnl, link: &Link, label: &str) -> Result<u8, ResourceError> {
        if let Some(p) = self.prefix {
            return Ok(p);
        }
        let own = rtnl.addresses(self.address.is_ipv6()).map_err(|e| os_error(label, "listing addresses", &e))?;
        if let Some(p) = own
            .iter()
            .filter(|a| a.index == link.index && a.prefix > 0 && same_subnet(a.address, self.address, a.prefix))
            .map(|a| a.prefix)
            .max()
        {
            return Ok(p);
        }
        match rtnl.route_get(self.address, true) {
            Ok(r)
                if r.oif == Some(link.index) && r.gateway.is_none() && r.prefix > 0 && r.kind == RouteType::Unicast =>
            {
                Ok(r.prefix)
            }
            Ok(_) | Err(_) => Err(ResourceError::new(
                ErrorKind::Config,
                format!(
                    "{label}: no prefix given and no address or connected route on {} covers it; give a prefix",
                    link.name
                ),
            )),
        }
    }
}

/// Do `a` and `b` share the first `prefix` bits?
fn same_subnet(a: IpAddr, b: IpAddr, prefix: u8) -> bool {
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix.min(32))).unwrap_or(0);
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix.min(128))).unwrap_or(0);
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

/// The highest address of `address/prefix`, heartbeat's default broadcast;
/// none for /31 and /32, which have no broadcast address.
fn default_broadcast(address: Ipv4Addr, prefix: u8) -> Option<Ipv4Addr> {
    (prefix < 31).then(|| Ipv4Addr::from(u32::from(address) | (u32::MAX >> prefix)))
}

fn open(label: &str) -> Result<Rtnl, ResourceError> {
    Rtnl::open().map_err(|e| os_error(label, "opening route netlink", &e))
}

impl Resource for Address {
    fn describe(&self) -> String {
        match &self.interface {
            Some(i) => format!("{} on {i}", self.label()),
            None => format!("{} (interface by route)", self.label()),
        }
    }

    fn start(&mut self) -> Result<(), ResourceError> {
        let label = self.label();
        let mut rtnl = open(&label)?;
        let held = self.holders(&mut rtnl, &label)?;
        let wanted = self.configured_link(&mut rtnl, &label)?;
        if let Some(entry) = held.first() {
            return match &wanted {
                Some(link) if !held.iter().any(|a| a.index == link.index) => {
                    let other = rtnl
                        .link_by_index(entry.index)
                        .map(|l| l.name)
                        .unwrap_or_else(|_| format!("index {}", entry.index));
                    Err(ResourceError::new(
                        ErrorKind::Failed,
                        format!("{label}: already on {other}, wanted on {}", link.name),
                    ))
                }
                _ => Ok(()),
            };
        }
        let link = match wanted {
            Some(l) => l,
            None => self.choose_link(&mut rtnl, &label)?,
        };
        let prefix = self.choose_prefix(&mut rtnl, &link, &label)?;
        let on = format!("address {}/{prefix} on {}", self.address, link.name);
        let broadcast = match self.address {
            IpAddr::V4(v4) => self.broadcast.or_else(|| default_broadcast(v4, prefix)),
            IpAddr::V6(_) => None,
        };
        let new =
            NewAddr { index: link.index, address: self.address, prefix, broadcast, nodad: self.address.is_ipv6() };
        match rtnl.add_address(&new) {
            Ok(()) => {}
            // Someone added it between our look and our add: it is there.
            Err(e) if is_errno(&e, libc::EEXIST) => return Ok(()),
            Err(e) if is_errno(&e, libc::ENODEV) => return Err(no_interface(&label, &link.name)),
            Err(e) => return Err(os_error(&on, "adding it", &e)),
        }
        if self.announce.count == 0 {
            self.announced = Some(Instant::now());
            return Ok(());
        }
        // The first burst goes out before start returns; if it cannot, the
        // address is taken off again so start leaves things as it found them.
        let socket = match self.announce_once(&link) {
            Ok(s) => s,
            Err(e) => {
                let entry =
                    AddrEntry { index: link.index, address: self.address, prefix, flags: AddressFlags::empty() };
                let _ = rtnl.del_address(&entry);
                return Err(os_error(&on, "announcing it (address removed again)", &e));
            }
        };
        self.announced = Some(Instant::now());
        if self.announce.count > 1 {
            if let Some(old) = self.announcer.take() {
                let _ = old.cancel();
            }
            let mac = link.mac.unwrap_or(socket.mac());
            let announcer =
                Announcer::spawn(socket, mac, self.address, self.announce.count - 1, self.announce.interval)
                    .map_err(|e| os_error(&on, "starting the announce thread", &e))?;
            self.announcer = Some(announcer);
        }
        Ok(())
    }

    fn stop(&mut self) -> Result<(), ResourceError> {
        let label = self.label();
        if let Some(a) = self.announcer.take() {
            // A send error of a late burst does not matter any more.
            let _ = a.cancel();
        }
        let mut rtnl = open(&label)?;
        let wanted = match self.configured_link(&mut rtnl, &label) {
            Ok(l) => l.map(|l| l.index),
            // No interface, so the address cannot be on it.
            Err(e) if e.kind == ErrorKind::Config => return Ok(()),
            Err(e) => return Err(e),
        };
        for entry in self.holders(&mut rtnl, &label)? {
            if wanted.is_some_and(|w| w != entry.index) {
                continue;
            }
            match rtnl.del_address(&entry) {
                Ok(()) => {}
                Err(e) if is_errno(&e, libc::EADDRNOTAVAIL) => {}
                Err(e) => {
                    return Err(os_error(&format!("address {}/{}", entry.address, entry.prefix), "removing it", &e))
                }
            }
        }
        Ok(())
    }

    fn probe(&mut self) -> Result<Presence, ResourceError> {
        let label = self.label();
        let mut rtnl = open(&label)?;
        let held = self.holders(&mut rtnl, &label)?;
        if held.is_empty() {
            return Ok(Presence::Inactive);
        }
        let wanted = match self.configured_link(&mut rtnl, &label) {
            Ok(l) => l.map(|l| l.index),
            Err(e) if e.kind == ErrorKind::Config => return Ok(Presence::Unknown),
            Err(e) => return Err(e),
        };
        let ours = held.iter().find(|a| wanted.is_none_or(|w| w == a.index));
        Ok(match ours {
            // On another interface than the configured one: held, but not as
            // configured.
            None => Presence::Unknown,
            Some(a) if a.flags.intersects(AddressFlags::Tentative | AddressFlags::Dadfailed) => Presence::Unknown,
            Some(_) => Presence::Active,
        })
    }

    /// Waits until every announcement of the last `start` is sent.
    fn settle(&mut self) -> Result<(), ResourceError> {
        self.wait_announced()
    }

    /// Active is healthy; a refresh that is due is sent, and one that
    /// cannot be sent makes it unhealthy (the interface is in trouble).
    fn monitor(&mut self) -> Result<Health, ResourceError> {
        match self.probe()? {
            Presence::Active => {}
            Presence::Inactive => return Ok(Health::Unhealthy(format!("{} is not on its interface", self.describe()))),
            Presence::Unknown => {
                return Ok(Health::Unhealthy(format!("{} is on another interface or tentative", self.describe())))
            }
        }
        let due = match (self.refresh, self.announced) {
            (Some(every), Some(last)) => last.elapsed() >= every,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if due {
            if let Err(e) = self.refresh() {
                return Ok(Health::Unhealthy(format!("re-announcing it failed: {e}")));
            }
        }
        Ok(Health::Healthy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_is_highest_address() {
        let a = Ipv4Addr::new(192, 168, 85, 3);
        assert_eq!(default_broadcast(a, 27), Some(Ipv4Addr::new(192, 168, 85, 31)));
        assert_eq!(default_broadcast(a, 24), Some(Ipv4Addr::new(192, 168, 85, 255)));
        assert_eq!(default_broadcast(a, 0), Some(Ipv4Addr::BROADCAST));
        assert_eq!(default_broadcast(a, 31), None);
        assert_eq!(default_broadcast(a, 32), None);
    }

    #[test]
    fn subnet_match() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(same_subnet(ip("10.9.0.1"), ip("10.9.0.5"), 24));
        assert!(!same_subnet(ip("10.9.1.1"), ip("10.9.0.5"), 24));
        assert!(same_subnet(ip("10.9.1.1"), ip("10.9.0.5"), 0));
        assert!(same_subnet(ip("fd00:9::1"), ip("fd00:9::5"), 64));
        assert!(!same_subnet(ip("fd00:8::1"), ip("fd00:9::5"), 64));
        assert!(!same_subnet(ip("10.9.0.1"), ip("fd00:9::5"), 0));
    }

    #[test]
    fn constructor_checks() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let e = Address::new(ip("10.9.0.5"), Some(33), None).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Config);
        assert!(e.message.contains("10.9.0.5/33"), "{e}");
        assert!(Address::new(ip("fd00::5"), Some(128), None).is_ok());
        assert!(Address::new(ip("127.0.0.1"), None, None).is_err());
        let e = Address::new(ip("10.9.0.5"), Some(24), Some("eth0/x")).unwrap_err();
        assert!(e.message.contains("10.9.0.5") && e.message.contains("eth0/x"), "{e}");
        let e = Address::new(ip("10.9.0.5"), Some(24), Some("a-very-long-interface-name")).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Config);
        let e = Address::new(ip("fd00::5"), None, None).unwrap().with_broadcast(Ipv4Addr::BROADCAST).unwrap_err();
        assert!(e.message.contains("fd00::5"), "{e}");
        let e = Address::new(ip("10.9.0.5"), None, None)
            .unwrap()
            .with_announce(Announce { count: 3, interval: std::time::Duration::ZERO })
            .unwrap_err();
        assert!(e.message.contains("interval"), "{e}");
    }
}
