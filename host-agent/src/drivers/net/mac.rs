//! MAC impersonation (the LISA '97 scheme): the service's own locally
//! administered MAC moves with it, so every client's ARP cache stays right
//! without a single ARP.
//!
//! The interface's original MAC is written to a state file under the run
//! directory before it is changed, so an agent that restarted while holding
//! the MAC can still put the original back.
//!
//! Most drivers (veth, bridge, dummy, and NICs that set
//! `IFF_LIVE_ADDR_CHANGE`) take a new MAC while up. A driver that refuses
//! with `EBUSY` gets it the way `ifconfig` needs it: the link is taken
//! down, the MAC set, and the link brought up again. That costs its IPv6
//! addresses (unless `keep_addr_on_down` is set) and its carrier for a
//! moment, so it is only done when the live change was refused.

use std::fs;
use std::io::{self, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use super::netlink::{Link, Rtnl};
use super::{check_interface, is_errno, no_interface, os_error};
use crate::resource::{ErrorKind, Presence, Resource, ResourceError};

/// The LISA '97 locally administered MAC for an IPv4 address:
/// `02:00:w:x:y:z` for `w.x.y.z`, unique as long as the addresses are.
#[must_use]
pub fn lisa_mac(v4: Ipv4Addr) -> [u8; 6] {
    let [w, x, y, z] = v4.octets();
    [0x02, 0x00, w, x, y, z]
}

/// `02:00:0a:09:00:05`.
#[must_use]
pub fn format_mac(mac: [u8; 6]) -> String {
    let [a, b, c, d, e, f] = mac;
    format!("{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{f:02x}")
}

/// Parses six colon-separated hexadecimal octets (`2:0:a:9:0:5` and
/// `02:00:0A:09:00:05` alike); `None` for anything else.
#[must_use]
pub fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.trim().split(':');
    for byte in &mut mac {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 2 {
            return None;
        }
        *byte = u8::from_str_radix(part, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

/// A locally administered MAC moved onto an interface while the group is
/// held, the original restored on release.
#[derive(Debug, Clone)]
pub struct MacAddress {
    interface: String,
    mac: [u8; 6],
    state_file: PathBuf,
}

impl MacAddress {
    /// A MAC resource from plain parameters.
    ///
    /// * `interface`: the interface whose MAC changes.
    /// * `mac`: the MAC to move there; must be unicast and locally
    ///   administered (first octet `x2`, `x6`, `xA` or `xE`), as
    ///   [`lisa_mac`] gives.
    /// * `run_dir`: a directory (e.g. `/run/warden`) for the state file
    ///   `mac-<interface>.orig` that remembers the original MAC; created
    ///   on start if missing.
    pub fn new(interface: &str, mac: [u8; 6], run_dir: impl Into<PathBuf>) -> Result<Self, ResourceError> {
        let what = format!("mac {}", format_mac(mac));
        check_interface(&what, interface)?;
        if mac[0] & 0x01 != 0 {
            return Err(ResourceError::new(
                ErrorKind::Config,
                format!("{what}: is a multicast address, not a unicast one"),
            ));
        }
        if mac[0] & 0x02 == 0 {
            return Err(ResourceError::new(
                ErrorKind::Config,
                format!(
                    "{what}: is not locally administered (set bit 1 of the first octet, e.g. {})",
                    format_mac(lisa_example(mac))
                ),
            ));
        }
        let state_file = run_dir.into().join(format!("mac-{interface}.orig"));
        Ok(Self { interface: interface.to_owned(), mac, state_file })
    }

    /// The MAC it moves.
    #[must_use]
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    /// Where the original MAC is remembered.
    #[must_use]
    pub fn state_file(&self) -> &Path {
        &self.state_file
    }

    fn label(&self) -> String {
        format!("mac {} on {}", format_mac(self.mac), self.interface)
    }

    fn link(&self, rtnl: &mut Rtnl) -> Result<Option<Link>, ResourceError> {
        match rtnl.link_by_name(&self.interface) {
            Ok(l) => Ok(Some(l)),
            Err(e) if is_errno(&e, libc::ENODEV) => Ok(None),
            Err(e) => Err(os_error(&self.label(), "looking up the interface", &e)),
        }
    }

    fn remembered(&self) -> Result<Option<[u8; 6]>, ResourceError> {
        match fs::read_to_string(&self.state_file) {
            Ok(text) => parse_mac(&text).map(Some).ok_or_else(|| {
                ResourceError::new(
                    ErrorKind::Failed,
                    format!("{}: state file {} does not hold a MAC", self.label(), self.state_file.display()),
                )
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(os_error(&self.label(), &format!("reading {}", self.state_file.display()), &e)),
        }
    }

    /// Writes the original MAC durably before anything changes.
    fn remember(&self, original: [u8; 6]) -> Result<(), ResourceError> {
        let doing = format!("writing {}", self.state_file.display());
        let fail = |e: io::Error| os_error(&self.label(), &doing, &e);
        if let Some(dir) = self.state_file.parent() {
            fs::create_dir_all(dir).map_err(fail)?;
        }
        let tmp = self.state_file.with_extension("orig.tmp");
        let mut f = fs::File::create(&tmp).map_err(fail)?;
        writeln!(f, "{}", format_mac(original)).map_err(fail)?;
        f.sync_all().map_err(fail)?;
        fs::rename(&tmp, &self.state_file).map_err(fail)
    }

    fn forget(&self) -> Result<(), ResourceError> {
        match fs::remove_file(&self.state_file) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(os_error(&self.label(), &format!("removing {}", self.state_file.display()), &e)),
        }
    }

    /// Sets `mac` on the link, live if the driver allows, else around a
    /// down/up.
    fn set(&self, rtnl: &mut Rtnl, link: &Link, mac: [u8; 6]) -> Result<(), ResourceError> {
        let label = self.label();
        let doing = format!("setting {}", format_mac(mac));
        match rtnl.set_mac(link.index, mac) {
            Ok(()) => return Ok(()),
            Err(e) if is_errno(&e, libc::EBUSY) && link.up => {}
            Err(e) => return Err(os_error(&label, &doing, &e)),
        }
        rtnl.set_up(link.index, false).map_err(|e| os_error(&label, "taking the link down to change its MAC", &e))?;
        let set = rtnl.set_mac(link.index, mac);
        // Up again whatever happened: a link left down is worse than a
        // MAC left unchanged.
        let up = rtnl.set_up(link.index, true);
        set.map_err(|e| os_error(&label, &doing, &e))?;
        up.map_err(|e| os_error(&label, "bringing the link up again", &e))
    }
}

/// The locally administered form of a global MAC, for the error message.
fn lisa_example(mac: [u8; 6]) -> [u8; 6] {
    let [a, rest @ ..] = mac;
    let [b, c, d, e, f] = rest;
    [a | 0x02, b, c, d, e, f]
}

impl Resource for MacAddress {
    fn describe(&self) -> String {
        self.label()
    }

    fn start(&mut self) -> Result<(), ResourceError> {
        let label = self.label();
        let mut rtnl = Rtnl::open().map_err(|e| os_error(&label, "opening route netlink", &e))?;
        let link = self.link(&mut rtnl)?.ok_or_else(|| no_interface(&label, &self.interface))?;
        let current = link.mac.ok_or_else(|| {
            ResourceError::new(ErrorKind::Config, format!("{label}: the interface has no Ethernet address"))
        })?;
        if current == self.mac {
            return Ok(());
        }
        // A state file left by an earlier start that did not finish already
        // holds the real original; the current MAC may be anything since.
        if self.remembered()?.is_none() {
            self.remember(current)?;
        }
        self.set(&mut rtnl, &link, self.mac)?;
        let now = self.link(&mut rtnl)?.and_then(|l| l.mac);
        if now == Some(self.mac) {
            Ok(())
        } else {
            Err(ResourceError::new(
                ErrorKind::Failed,
                format!(
                    "{label}: the kernel accepted the MAC but the interface shows {}",
                    now.map_or("none".into(), format_mac)
                ),
            ))
        }
    }

    fn stop(&mut self) -> Result<(), ResourceError> {
        let label = self.label();
        let mut rtnl = Rtnl::open().map_err(|e| os_error(&label, "opening route netlink", &e))?;
        let Some(link) = self.link(&mut rtnl)? else {
            // No interface, so our MAC is not on it.
            return Ok(());
        };
        if link.mac != Some(self.mac) {
            return self.forget();
        }
        let original = match (self.remembered()?, link.perm_mac) {
            (Some(m), _) => m,
            (None, Some(perm)) if perm != self.mac => perm,
            _ => {
                return Err(ResourceError::new(
                    ErrorKind::Failed,
                    format!(
                        "{label}: original MAC unknown (no state file {}, no permanent address); cannot restore it",
                        self.state_file.display()
                    ),
                ))
            }
        };
        self.set(&mut rtnl, &link, original)?;
        self.forget()
    }

    fn probe(&mut self) -> Result<Presence, ResourceError> {
        let label = self.label();
        let mut rtnl = Rtnl::open().map_err(|e| os_error(&label, "opening route netlink", &e))?;
        Ok(match self.link(&mut rtnl)? {
            Some(link) if link.mac == Some(self.mac) => Presence::Active,
            _ => Presence::Inactive,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lisa_scheme() {
        assert_eq!(lisa_mac(Ipv4Addr::new(10, 9, 0, 5)), [0x02, 0x00, 0x0a, 0x09, 0x00, 0x05]);
        assert_eq!(format_mac(lisa_mac(Ipv4Addr::new(192, 168, 85, 3))), "02:00:c0:a8:55:03");
    }

    #[test]
    fn parse_and_format() {
        assert_eq!(parse_mac("2:0:8d:db:46:1"), Some([2, 0, 0x8d, 0xdb, 0x46, 1]));
        assert_eq!(parse_mac("02:00:0A:09:00:05\n"), Some([2, 0, 0x0a, 9, 0, 5]));
        for bad in
            ["", "02:00:0a:09:00", "02:00:0a:09:00:05:06", "02::0a:09:00:05", "002:00:0a:09:00:05", "zz:00:0a:09:00:05"]
        {
            assert_eq!(parse_mac(bad), None, "{bad:?}");
        }
        let mac = [0x02, 0xab, 0, 1, 0xfe, 0xff];
        assert_eq!(parse_mac(&format_mac(mac)), Some(mac));
    }

    #[test]
    fn refuses_global_and_multicast() {
        let e = MacAddress::new("eth0", [0x08, 0, 0x20, 0x81, 0xdf, 0xf4], "/run/warden").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Config);
        assert!(e.message.contains("08:00:20:81:df:f4") && e.message.contains("locally administered"), "{e}");
        let e = MacAddress::new("eth0", [0x03, 0, 0, 0, 0, 1], "/run/warden").unwrap_err();
        assert!(e.message.contains("multicast"), "{e}");
        assert!(MacAddress::new("eth0", lisa_mac(Ipv4Addr::new(10, 0, 0, 1)), "/run/warden").is_ok());
        assert!(MacAddress::new("", lisa_mac(Ipv4Addr::new(10, 0, 0, 1)), "/run/warden").is_err());
    }
}
