//! The rig's network: a switch namespace with a bridge, one namespace per
//! server with its NIC on the bridge, one namespace for the client.
//!
//! ```text
//!  <p>-alpha [<p>n 192.168.85.1] ──<p>s0─┐
//!  <p>-beta  [<p>n 192.168.85.2] ──<p>s1─┤ <p>br (namespace <p>-sw)
//!  <p>-client [<p>n 192.168.85.100] ─<p>c─┤
//!  <p>-ctl [<p>n 192.168.85.250] ──<p>k─┘   the Linux controller's network port
//!  service address 192.168.85.3, moved with the group
//! ```
//!
//! A server's NIC is down while the server has no power (the switch port
//! has no carrier) and gets its factory MAC and base address at every boot.

use std::net::Ipv4Addr;

use super::netns::Netns;
use super::prefix::Prefix;
use super::tools::{self, ip};
use crate::RigError;

/// The subnet's prefix length.
pub const PREFIX_LEN: u8 = 24;
/// The service's TCP port.
pub const SERVICE_PORT: u16 = 7000;

/// The addresses of the rig's network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// The first server's base address; the others follow.
    pub first_server: Ipv4Addr,
    /// The service (floating) address.
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

impl Plan {
    /// Base address of server `index`.
    #[must_use]
    pub fn server(&self, index: usize) -> Ipv4Addr {
        let base = u32::from(self.first_server);
        Ipv4Addr::from(base + u32::try_from(index).unwrap_or(0) * 10)
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
    /// Its NIC's factory MAC.
    pub mac: String,
}

impl ServerNet {
    /// The `ip -batch` lines of a boot: factory MAC, base address, link up.
    #[must_use]
    pub fn boot_lines(&self) -> Vec<String> {
        vec![
            format!("link set dev {} address {}", self.nic, self.mac),
            format!("address add {}/{PREFIX_LEN} dev {}", self.address, self.nic),
            format!("link set dev {} up", self.nic),
        ]
    }

    /// The `ip -batch` lines of a power loss: the NIC goes down (the switch
    /// port loses carrier) and forgets its addresses, neighbours and MAC.
    #[must_use]
    pub fn power_off_lines(&self) -> Vec<String> {
        vec![
            format!("link set dev {} down", self.nic),
            format!("address flush dev {}", self.nic),
            format!("neighbour flush dev {}", self.nic),
            format!("link set dev {} address {}", self.nic, self.mac),
        ]
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
    /// The addresses.
    pub plan: Plan,
}

impl Topology {
    /// Builds the network for servers named `names`; returns it and the
    /// servers' sides, in order. Server NICs are left down.
    ///
    /// # Errors
    ///
    /// [`RigError::Command`] naming the `ip` command that failed.
    pub fn build(prefix: &Prefix, names: &[String], plan: Plan) -> Result<(Self, Vec<ServerNet>), RigError> {
        let switch = Netns::create(&prefix.netns("sw"))?;
        // Built in this order so that, on failure, what exists is dropped (deleted) again.
        let bridge = prefix.interface("br")?;
        tools::ip_batch(
            Some(switch.name()),
            &[format!("link add name {bridge} type bridge forward_delay 0"), format!("link set dev {bridge} up")],
        )?;
        let nic = prefix.interface("n")?;
        let mut servers = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let netns = Netns::create(&prefix.netns(name))?;
            let port = prefix.interface(&format!("s{i}"))?;
            tools::ip_batch(
                Some(switch.name()),
                &[
                    format!("link add name {port} type veth peer name {nic} netns {}", netns.name()),
                    format!("link set dev {port} master {bridge} up"),
                ],
            )?;
            let mac = format!("02:77:00:00:00:{:02x}", i + 1);
            tools::run(ip(Some(netns.name())).args(["link", "set", "dev", &nic, "address", &mac]))?;
            servers.push(ServerNet { netns, nic: nic.clone(), address: plan.server(i), mac });
        }
        let on_switch = |role: &str, port: &str, address: Ipv4Addr| -> Result<Netns, RigError> {
            let netns = Netns::create(&prefix.netns(role))?;
            let port = prefix.interface(port)?;
            tools::ip_batch(
                Some(switch.name()),
                &[
                    format!("link add name {port} type veth peer name {nic} netns {}", netns.name()),
                    format!("link set dev {port} master {bridge} up"),
                ],
            )?;
            tools::ip_batch(
                Some(netns.name()),
                &[format!("address add {address}/{PREFIX_LEN} dev {nic}"), format!("link set dev {nic} up")],
            )?;
            Ok(netns)
        };
        let client = on_switch("client", "c", plan.client)?;
        let controller = on_switch("ctl", "k", plan.controller)?;
        Ok((Self { client, switch, controller, plan }, servers))
    }
}
