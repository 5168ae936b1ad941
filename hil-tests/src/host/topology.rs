//! The rig's network: a switch namespace with a bridge, one namespace per
//! server with its NIC on the bridge, one namespace for the client; with
//! `uplink`, a second bridge each server reaches by a second NIC, with a
//! ping node on it (ipfail's), whose switch ports the rig can cut.
//!
//! ```text
//!  <p>-alpha [<p>n 192.168.85.1  fd00:85::1] ──<p>s0─┐
//!  <p>-beta  [<p>n 192.168.85.11 fd00:85::b] ──<p>s1─┤ <p>br (namespace <p>-sw)
//!  ... up to four servers, 10 apart                  │
//!  <p>-client [<p>n 192.168.85.100 fd00:85::64] ─<p>c─┤
//!  <p>-ctl [<p>n 192.168.85.250] ──<p>k──────────────┘   the Linux controller's network port
//!  service addresses 192.168.85.3, .4, ... (fd00:85::3, ::4, ... for an
//!  IPv6 group: the IPv4 address's last number, as a hex group), one per
//!  group, moved with it; a MAC-takeover group's address
//!  is on 192.168.86.0/24 (the client is .100 there too), on a second NIC
//!  <p>m each server has for it on the same bridge (port <p>mN)
//!
//!  uplink: <p>-alpha [<p>u 10.85.0.1] ──<p>u0─┐
//!          <p>-beta  [<p>u 10.85.0.2] ──<p>u1─┤ <p>up (namespace <p>-sw)
//!          <p>-ping  [<p>u 10.85.0.254] ─<p>p─┘ the ping node
//! ```
//!
//! A server's NICs are down while the server has no power (the switch
//! ports have no carrier) and get their factory MAC and base addresses at
//! every boot. The client keeps its neighbour entries a minute without
//! probing: it follows a moved address only by the new holder's
//! announcement. Duplicate address detection is off in every namespace: the
//! rig's addresses are planned, and DAD would hold each new one back a
//! second.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::netns::Netns;
use super::prefix::Prefix;
use super::tools::{self, ip};
use crate::RigError;

/// The subnet's prefix length.
pub const PREFIX_LEN: u8 = 24;
/// The service's TCP port.
pub const SERVICE_PORT: u16 = 7000;

/// The IPv6 prefix length.
pub const PREFIX_LEN_V6: u8 = 64;
/// The uplink's prefix length.
pub const UPLINK_PREFIX_LEN: u8 = 24;

/// The addresses of the rig's network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// The first server's base address; the others follow.
    pub first_server: Ipv4Addr,
    /// The first group's service (floating) address; the others follow.
    pub service: Ipv4Addr,
    /// The client's address.
    pub client: Ipv4Addr,
    /// The Linux controller's network port (its UDP links).
    pub controller: Ipv4Addr,
}

impl Default for Plan {
    fn default() -> Self {
        Self {
            first_server: Ipv4Addr::new(192, 168, 85, 1),
            service: Ipv4Addr::new(192, 168, 85, 3),
            client: Ipv4Addr::new(192, 168, 85, 100),
            controller: Ipv4Addr::new(192, 168, 85, 250),
        }
    }
}

/// The IPv6 address with the last 16 bits `low` in the rig's subnet.
fn v6(low: u16) -> Ipv6Addr {
    Ipv6Addr::new(0xfd00, 0x85, 0, 0, 0, 0, 0, low)
}

/// `index` as a small number (the rig has at most a handful of anything).
fn small(index: usize) -> u8 {
    u8::try_from(index).unwrap_or(u8::MAX)
}

impl Plan {
    /// Base address of server `index`.
    #[must_use]
    pub fn server(&self, index: usize) -> Ipv4Addr {
        let base = u32::from(self.first_server);
        Ipv4Addr::from(base + u32::try_from(index).unwrap_or(0) * 10)
    }

    /// Base IPv6 address of server `index` (the same last number).
    #[must_use]
    pub fn server_v6(&self, index: usize) -> Ipv6Addr {
        v6(u16::from(self.server(index).octets()[3]))
    }

    /// The service address of group `index`, IPv4 or IPv6.
    #[must_use]
    pub fn service(&self, index: usize, ipv6: bool) -> IpAddr {
        let v4 = Ipv4Addr::from(u32::from(self.service) + u32::from(small(index)));
        if ipv6 {
            IpAddr::V6(v6(u16::from(v4.octets()[3])))
        } else {
            IpAddr::V4(v4)
        }
    }

    /// The service address of a MAC-takeover group `index`, on the
    /// subnet of the servers' second NICs.
    #[must_use]
    pub fn mac_service(&self, index: usize) -> IpAddr {
        let o = self.service.octets();
        IpAddr::V4(Ipv4Addr::new(o[0], o[1], o[2].wrapping_add(1), o[3].wrapping_add(small(index))))
    }

    /// The client's address on the subnet of the MAC-takeover group.
    #[must_use]
    pub fn client_mac_subnet(&self) -> Ipv4Addr {
        let o = self.client.octets();
        Ipv4Addr::new(o[0], o[1], o[2].wrapping_add(1), o[3])
    }

    /// The client's IPv6 address.
    #[must_use]
    pub fn client_v6(&self) -> Ipv6Addr {
        v6(u16::from(self.client.octets()[3]))
    }

    /// Server `index`'s address on the uplink.
    #[must_use]
    pub fn uplink(&self, index: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 85, 0, small(index).saturating_add(1))
    }

    /// The ping node's address on the uplink.
    #[must_use]
    pub fn ping_node(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 85, 0, 254)
    }
}

/// One server's side of the network.
#[derive(Debug)]
pub struct ServerNet {
    /// Its namespace.
    pub netns: Netns,
    /// Its NIC's name (the same in every server's namespace).
    pub nic: String,
    /// Its base address.
    pub address: Ipv4Addr,
    /// Its base IPv6 address.
    pub address_v6: Ipv6Addr,
    /// Its NIC's factory MAC.
    pub mac: String,
    /// Its uplink NIC and address there, with an uplink.
    pub uplink: Option<(String, Ipv4Addr)>,
    /// Its second NIC on the rig's network and that NIC's factory MAC, for
    /// a MAC-takeover group: a MAC moved with a group is the whole
    /// interface's, so that group has one to itself (as LISA '97's
    /// services had), on a subnet of its own.
    pub mac_nic: Option<(String, String)>,
}

impl ServerNet {
    /// The `ip -batch` lines of a boot: factory MAC, base address, link up.
    #[must_use]
    pub fn boot_lines(&self) -> Vec<String> {
        let mut lines = vec![
            format!("link set dev {} address {}", self.nic, self.mac),
            format!("address add {}/{PREFIX_LEN} dev {}", self.address, self.nic),
            format!("address add {}/{PREFIX_LEN_V6} dev {} nodad", self.address_v6, self.nic),
            format!("link set dev {} up", self.nic),
        ];
        if let Some((nic, address)) = &self.uplink {
            lines.push(format!("address add {address}/{UPLINK_PREFIX_LEN} dev {nic}"));
            lines.push(format!("link set dev {nic} up"));
        }
        if let Some((nic, mac)) = &self.mac_nic {
            lines.push(format!("link set dev {nic} address {mac}"));
            lines.push(format!("link set dev {nic} up"));
        }
        lines
    }

    /// The `ip -batch` lines of a power loss: the NIC goes down (the switch
    /// port loses carrier) and forgets its addresses, neighbours and MAC.
    #[must_use]
    pub fn power_off_lines(&self) -> Vec<String> {
        let mut lines = vec![
            format!("link set dev {} down", self.nic),
            format!("address flush dev {}", self.nic),
            format!("neighbour flush dev {}", self.nic),
            format!("link set dev {} address {}", self.nic, self.mac),
        ];
        if let Some((nic, _)) = &self.uplink {
            lines.push(format!("link set dev {nic} down"));
            lines.push(format!("address flush dev {nic}"));
        }
        if let Some((nic, mac)) = &self.mac_nic {
            lines.push(format!("link set dev {nic} down"));
            lines.push(format!("address flush dev {nic}"));
            lines.push(format!("neighbour flush dev {nic}"));
            lines.push(format!("link set dev {nic} address {mac}"));
        }
        lines
    }
}

/// The switch and the client. Dropping it deletes their namespaces (the
/// servers' go with their [`ServerNet`]s).
#[derive(Debug)]
pub struct Topology {
    /// The client's namespace.
    pub client: Netns,
    /// The switch's namespace.
    pub switch: Netns,
    /// The Linux controller's namespace.
    pub controller: Netns,
    /// The ping node's namespace, with an uplink.
    pub ping: Option<Netns>,
    /// The addresses.
    pub plan: Plan,
}

/// The switch-side name of server `index`'s uplink port.
///
/// # Errors
///
/// [`RigError::Broken`] when the name is too long for an interface.
pub fn uplink_port(prefix: &Prefix, index: usize) -> Result<String, RigError> {
    prefix.interface(&format!("u{index}"))
}

/// A bridge named `name` in the switch's namespace, up.
fn add_bridge(switch: &Netns, name: &str) -> Result<(), RigError> {
    tools::ip_batch(
        Some(switch.name()),
        &[format!("link add name {name} type bridge forward_delay 0"), format!("link set dev {name} up")],
    )
}

/// A cable: a veth pair from switch port `port` on `bridge` to the NIC
/// `nic` in namespace `netns`.
fn plug(switch: &Netns, (port, bridge): (&str, &str), (nic, netns): (&str, &Netns)) -> Result<(), RigError> {
    tools::ip_batch(
        Some(switch.name()),
        &[
            format!("link add name {port} type veth peer name {nic} netns {}", netns.name()),
            format!("link set dev {port} master {bridge} up"),
        ],
    )
}

/// Sets `key=value` pairs with `sysctl` in namespace `netns`.
fn sysctl(netns: &str, settings: &[(&str, &str)]) -> Result<(), RigError> {
    let mut command = tools::command("ip");
    command.args(["netns", "exec", netns, "sysctl", "-q", "-w"]);
    command.args(settings.iter().map(|(k, v)| format!("{k}={v}")));
    tools::run(&mut command).map(drop)
}

/// No duplicate address detection in a namespace (the rig's addresses
/// are planned).
const NO_DAD: [(&str, &str); 2] = [("net.ipv6.conf.all.accept_dad", "0"), ("net.ipv6.conf.default.accept_dad", "0")];

/// The client keeps a neighbour entry on its NIC `nic` a minute without
/// probing it again: a failover it sees within the run is one the new
/// holder announced (gratuitous ARP, unsolicited neighbour advertisement),
/// never one the client found out by itself.
fn client_trusts_its_cache(nic: &str) -> Vec<(String, &'static str)> {
    ["ipv4", "ipv6"]
        .into_iter()
        .flat_map(|v| {
            [
                (format!("net.{v}.neigh.{nic}.base_reachable_time_ms"), "60000"),
                (format!("net.{v}.neigh.{nic}.delay_first_probe_time"), "60"),
            ]
        })
        .collect()
}

/// A server with two NICs on one network answers ARP only on the NIC that
/// has the address asked for, and asks from that NIC's own address: else
/// either NIC answers for the other's addresses ("ARP flux"), and a
/// client's neighbour entry for a moved MAC's address could be taken over
/// by the other NIC's MAC.
const ONE_NIC_PER_ADDRESS: [(&str, &str); 4] = [
    ("net.ipv4.conf.all.arp_ignore", "1"),
    ("net.ipv4.conf.default.arp_ignore", "1"),
    ("net.ipv4.conf.all.arp_announce", "2"),
    ("net.ipv4.conf.default.arp_announce", "2"),
];

impl Topology {
    /// Builds the network for servers named `names`; returns it and the
    /// servers' sides, in order. Server NICs are left down.
    ///
    /// # Errors
    ///
    /// [`RigError::Command`] naming the `ip` command that failed.
    pub fn build(
        prefix: &Prefix,
        names: &[String],
        plan: Plan,
        (uplink, mac_nic): (bool, bool),
    ) -> Result<(Self, Vec<ServerNet>), RigError> {
        let switch = Netns::create(&prefix.netns("sw"))?;
        // Built in this order so that, on failure, what exists is dropped (deleted) again.
        let bridge = prefix.interface("br")?;
        add_bridge(&switch, &bridge)?;
        let nic = prefix.interface("n")?;
        let up_bridge = prefix.interface("up")?;
        let up_nic = prefix.interface("u")?;
        if uplink {
            add_bridge(&switch, &up_bridge)?;
        }
        let mut servers = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let netns = Netns::create(&prefix.netns(name))?;
            sysctl(netns.name(), &[&NO_DAD[..], &ONE_NIC_PER_ADDRESS[..]].concat())?;
            plug(&switch, (&prefix.interface(&format!("s{i}"))?, &bridge), (&nic, &netns))?;
            let mac = format!("02:77:00:00:00:{:02x}", i + 1);
            tools::run(ip(Some(netns.name())).args(["link", "set", "dev", &nic, "address", &mac]))?;
            let uplink = if uplink {
                plug(&switch, (&uplink_port(prefix, i)?, &up_bridge), (&up_nic, &netns))?;
                Some((up_nic.clone(), plan.uplink(i)))
            } else {
                None
            };
            let mac_nic = if mac_nic {
                let inner = prefix.interface("m")?;
                plug(&switch, (&prefix.interface(&format!("m{i}"))?, &bridge), (&inner, &netns))?;
                Some((inner, format!("02:77:00:00:01:{:02x}", i + 1)))
            } else {
                None
            };
            servers.push(ServerNet {
                netns,
                nic: nic.clone(),
                address: plan.server(i),
                address_v6: plan.server_v6(i),
                mac,
                uplink,
                mac_nic,
            });
        }
        let on_switch = |role: &str, port: &str, bridge: &str, addresses: &[String]| -> Result<Netns, RigError> {
            let netns = Netns::create(&prefix.netns(role))?;
            sysctl(netns.name(), &NO_DAD)?;
            plug(&switch, (&prefix.interface(port)?, bridge), (&nic, &netns))?;
            let mut lines: Vec<String> = addresses
                .iter()
                .map(|a| {
                    if a.contains(':') {
                        format!("address add {a} dev {nic} nodad")
                    } else {
                        format!("address add {a} dev {nic}")
                    }
                })
                .collect();
            lines.push(format!("link set dev {nic} up"));
            tools::ip_batch(Some(netns.name()), &lines)?;
            if role == "client" {
                let settings = client_trusts_its_cache(&nic);
                let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (k.as_str(), *v)).collect();
                sysctl(netns.name(), &settings)?;
            }
            Ok(netns)
        };
        let client = on_switch(
            "client",
            "c",
            &bridge,
            &[
                format!("{}/{PREFIX_LEN}", plan.client),
                format!("{}/{PREFIX_LEN}", plan.client_mac_subnet()),
                format!("{}/{PREFIX_LEN_V6}", plan.client_v6()),
            ],
        )?;
        let controller = on_switch("ctl", "k", &bridge, &[format!("{}/{PREFIX_LEN}", plan.controller)])?;
        let ping = if uplink {
            Some(on_switch("ping", "p", &up_bridge, &[format!("{}/{UPLINK_PREFIX_LEN}", plan.ping_node())])?)
        } else {
            None
        };
        Ok((Self { client, switch, controller, ping, plan }, servers))
    }
}
