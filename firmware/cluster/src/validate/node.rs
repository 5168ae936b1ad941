//! `[[node]]`: each server, its link to the controller, its relay channel,
//! what it pings and its watchdog.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use warden_core::{NodeId, MAX_NODES};

use super::value::{absolute, host, int_in, name};
use super::Checked;
use crate::duration::format_millis;
use crate::error::Problem;
use crate::model::{NodeConfig, PingGroup, SerialLink, UdpLink};
use crate::raw::{RawNode, S};

/// heartbeat's registered port, kept for UDP links to the controller.
pub const DEFAULT_UDP_PORT: u16 = 694;
/// Serial speed when `baud` is not given.
pub const DEFAULT_BAUD: u32 = 115_200;
/// Line speeds a serial link accepts.
pub const BAUDS: [u32; 12] =
    [1200, 2400, 4800, 9600, 19_200, 38_400, 57_600, 115_200, 230_400, 460_800, 921_600, 1_000_000];

/// Every node, in file order; names and relay channels are unique.
pub(super) fn check_all(raw: &[S<RawNode>]) -> Checked<Vec<NodeConfig>> {
    if raw.is_empty() {
        return Err(Problem::below(0..0, "node", "no node is defined: give at least one [[node]]"));
    }
    if let Some(extra) = raw.get(MAX_NODES) {
        return Err(Problem::at(extra.span(), format!("too many nodes: at most {MAX_NODES}")));
    }
    let mut nodes: Vec<NodeConfig> = Vec::with_capacity(raw.len());
    for (i, n) in raw.iter().enumerate() {
        let node = check(i, n)?;
        if let Some(j) = nodes.iter().position(|o| o.name == node.name) {
            return Err(Problem::at(
                n.get_ref().name.span(),
                format!("node name `{}` is already used by node[{j}]", node.name),
            ));
        }
        if let Some(o) = nodes.iter().find(|o| o.relay == node.relay) {
            let span = n.get_ref().relay.as_ref().map_or_else(|| n.span(), S::span);
            return Err(Problem::at(
                span,
                format!("relay channel {} is already used by node `{}`", node.relay, o.name),
            ));
        }
        nodes.push(node);
    }
    Ok(nodes)
}

fn check(index: usize, raw: &S<RawNode>) -> Checked<NodeConfig> {
    let n = raw.get_ref();
    let name = name(&n.name, "node")?;
    let relay = match &n.relay {
        Some(r) => u8::try_from(int_in(r, 0, 255)?).unwrap_or(u8::MAX),
        None => u8::try_from(index).unwrap_or(u8::MAX),
    };
    let serial = match &n.serial {
        None => None,
        Some(s) => {
            let s = s.get_ref();
            let device = absolute(&s.device)?;
            let baud = match &s.baud {
                None => DEFAULT_BAUD,
                Some(b) => {
                    let v = *b.get_ref();
                    match u32::try_from(v).ok().filter(|v| BAUDS.contains(v)) {
                        Some(v) => v,
                        None => {
                            let known: Vec<String> = BAUDS.iter().map(u32::to_string).collect();
                            return Err(Problem::at(
                                b.span(),
                                format!("{v} is not a serial speed (known: {})", known.join(", ")),
                            ));
                        }
                    }
                }
            };
            Some(SerialLink { device, baud })
        }
    };
    let udp = match &n.udp {
        None => None,
        Some(u) => {
            let u = u.get_ref();
            let ip: IpAddr = u.controller.get_ref().parse().map_err(|_| {
                Problem::at(u.controller.span(), format!("`{}` is not an IP address", u.controller.get_ref()))
            })?;
            let port = match &u.port {
                None => DEFAULT_UDP_PORT,
                Some(p) => u16::try_from(int_in(p, 1, 65_535)?).unwrap_or(DEFAULT_UDP_PORT),
            };
            Some(UdpLink { controller: SocketAddr::new(ip, port) })
        }
    };
    if serial.is_none() && udp.is_none() {
        return Err(Problem::at(
            raw.span(),
            format!("node `{name}` has no link to the controller: give [node.serial] or [node.udp]"),
        ));
    }
    let ping = match &n.ping {
        None => Vec::new(),
        Some(p) => p.get_ref().iter().map(host).collect::<Checked<_>>()?,
    };
    let mut ping_groups: Vec<PingGroup> = Vec::new();
    for pg in &n.ping_group {
        let g = pg.get_ref();
        let gname = self::name(&g.name, "ping group")?;
        if ping_groups.iter().any(|o| o.name == gname) {
            return Err(Problem::at(g.name.span(), format!("ping group `{gname}` is defined twice")));
        }
        if g.hosts.get_ref().is_empty() {
            return Err(Problem::at(g.hosts.span(), "is empty: a ping group needs at least one host"));
        }
        let hosts = g.hosts.get_ref().iter().map(host).collect::<Checked<_>>()?;
        ping_groups.push(PingGroup { name: gname, hosts });
    }
    let watchdog = n.watchdog.as_ref().map(watchdog_device).transpose()?;
    let watchdog_timeout = match (&n.watchdog_timeout, &watchdog) {
        (None, _) => Duration::from_secs(60),
        (Some(t), None) => {
            return Err(Problem::at(t.span(), "`watchdog_timeout` needs `watchdog`, the device it applies to"));
        }
        (Some(t), Some(_)) => {
            let ms = t.get_ref().0;
            if ms % 1000 != 0 || !(1000..=3_600_000).contains(&ms) {
                return Err(Problem::at(
                    t.span(),
                    format!("{} must be a whole number of seconds from 1s to 1h", format_millis(ms)),
                ));
            }
            t.get_ref().std()
        }
    };
    Ok(NodeConfig {
        name,
        id: NodeId(u8::try_from(index).unwrap_or(u8::MAX)),
        relay,
        serial,
        udp,
        ping,
        ping_groups,
        watchdog,
        watchdog_timeout,
    })
}

/// `/dev/watchdog` or `/dev/watchdogN`: the only names the kernel gives
/// watchdog devices.
fn watchdog_device(v: &S<String>) -> Checked<PathBuf> {
    let s = v.get_ref();
    let ok = s
        .strip_prefix("/dev/watchdog")
        .is_some_and(|n| n.is_empty() || n.parse::<u8>().is_ok_and(|id| id.to_string() == n));
    if ok {
        Ok(PathBuf::from(s))
    } else {
        Err(Problem::at(v.span(), format!("`{s}` is not a watchdog device (/dev/watchdog or /dev/watchdogN)")))
    }
}
