//! The controller's own hardware: a small TOML file of its own, read next
//! to the cluster configuration (which gives the nodes, groups, timing and
//! key). It says, per node, which device carries the node's link and which
//! relay powers it; and where the watchdog, the fence file and the control
//! socket are.
//!
//! ```toml
//! [controller]
//! socket = "/run/warden/controller.sock"   # status and operator commands (mode 0600)
//! fence_store = "/var/lib/warden/fences"   # relative paths: from this file's directory
//! sense_interval = "500ms"                 # relay sense polling (default 500ms)
//! status_interval = "1m"                   # status table on the console (default: never)
//! mlock = true                             # lock the controller's memory (default: true)
//! realtime_priority = 50                   # SCHED_FIFO of the main loop and relay thread (default 50, 0: none)
//! operator = "10.0.0.254:7694"             # UDP operator endpoint for fence_warden and `wardenctl --controller` (default: none)
//! metrics = "127.0.0.1:9664"               # Prometheus metrics over HTTP at /metrics (default: none)
//!
//! [watchdog]                               # optional: without it nothing is fed
//! device = "/dev/watchdog"
//! timeout = "10s"                          # more than twice the cluster's keepalive
//!
//! [relay_module]                           # needed when a node's relay is on the module
//! device = "/dev/ttyUSB0"
//! baud = 9600                              # default 9600
//! channels = 8                             # 1..=255
//! answer_timeout = "200ms"                 # default 200ms
//!
//! [[node]]
//! name = "linuxha1"                        # a node of the cluster file; every node once
//! serial = { device = "/dev/ttyS1", baud = 115200 }
//! udp = { listen = "10.0.0.254:694", peer = "10.0.0.1:694" }
//! relay = { kind = "module" }              # channel: the cluster file's `relay`
//!
//! [[node]]
//! name = "linuxha2"
//! serial = { device = "/dev/ttyS2" }
//! relay = { kind = "gpio", chip = "/dev/gpiochip0", line = 17, sense_line = 18, active_low = false, sense_active_low = false }
//! ```
//!
//! A configuration is checked whole and refused whole; the first problem is
//! reported as `FILE:LINE: key `path`: what is wrong`, as for the cluster
//! file, and durations take the cluster file's grammar.

mod read;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use warden_core::NodeId;

use crate::load::{beside, read_file};
use crate::{AuthKind, ClusterFile, ConfigError};
use read::Doc;

/// Sense polling when the file does not say.
const DEFAULT_SENSE_INTERVAL: Duration = Duration::from_millis(500);
/// The relay module's line speed when the file does not say.
const DEFAULT_MODULE_BAUD: u32 = 9600;
/// How long the relay module may take to answer, when the file does not say.
const DEFAULT_ANSWER_TIMEOUT: Duration = Duration::from_millis(200);
/// A node link's line speed when the file does not say.
const DEFAULT_LINK_BAUD: u32 = 115_200;

const TOP: &[&str] = &["controller", "watchdog", "relay_module", "node"];
const CONTROLLER: &[&str] = &[
    "socket",
    "fence_store",
    "sense_interval",
    "status_interval",
    "mlock",
    "realtime_priority",
    "operator",
    "metrics",
];
const WATCHDOG: &[&str] = &["device", "timeout"];
const RELAY_MODULE: &[&str] = &["device", "baud", "channels", "answer_timeout"];
const NODE: &[&str] = &["name", "serial", "udp", "relay"];
const SERIAL: &[&str] = &["device", "baud"];
const UDP: &[&str] = &["listen", "peer"];
const RELAY_ON_MODULE: &[&str] = &["kind"];
const RELAY_ON_GPIO: &[&str] = &["kind", "chip", "line", "active_low", "sense_line", "sense_active_low"];

/// Every table of the file with the keys it takes, as the parser accepts
/// them (`docs/controller.md` must name each).
pub const TABLES: &[(&str, &[&str])] = &[
    ("(top level)", TOP),
    ("controller", CONTROLLER),
    ("watchdog", WATCHDOG),
    ("relay_module", RELAY_MODULE),
    ("node", NODE),
    ("node.serial", SERIAL),
    ("node.udp", UDP),
    ("node.relay (kind = \"module\")", RELAY_ON_MODULE),
    ("node.relay (kind = \"gpio\")", RELAY_ON_GPIO),
];

/// The controller's hardware, checked against the cluster configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControllerConfig {
    /// The control socket.
    pub socket: PathBuf,
    /// The fence file.
    pub fence_store: PathBuf,
    /// How often relay sense inputs are read.
    pub sense_interval: Duration,
    /// How often the status table is printed (`None`: on request only).
    pub status_interval: Option<Duration>,
    /// Memory locking and the real-time priority of the main loop and the
    /// relay thread (see [`crate::scheduling`]).
    pub scheduling: crate::scheduling::Scheduling,
    /// Where operator requests are taken over UDP (fence agents,
    /// `wardenctl --controller`), under the cluster key; `None`: nowhere.
    pub operator: Option<SocketAddr>,
    /// Where the metrics are served over HTTP (`GET /metrics`, Prometheus
    /// text); `None`: nowhere, and no thread for them.
    pub metrics: Option<SocketAddr>,
    /// The hardware watchdog, if any.
    pub watchdog: Option<WatchdogConfig>,
    /// The serial relay module, if any node uses it.
    pub relay_module: Option<RelayModuleConfig>,
    /// Every node of the cluster, by node id.
    pub nodes: Vec<NodeHardware>,
}

/// `[watchdog]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchdogConfig {
    /// The device.
    pub device: PathBuf,
    /// Reset after this long without a feed.
    pub timeout: Duration,
}

/// `[relay_module]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayModuleConfig {
    /// Its serial port.
    pub device: PathBuf,
    /// Line speed.
    pub baud: u32,
    /// Channels on the board.
    pub channels: u8,
    /// How long a sense query may take.
    pub answer_timeout: Duration,
}

/// One node's link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkConfig {
    /// A serial line.
    Serial {
        /// The controller's port for this node.
        device: PathBuf,
        /// Line speed.
        baud: u32,
    },
    /// Datagrams on the controller's network port.
    Udp {
        /// Where the controller listens.
        listen: SocketAddr,
        /// The node's address (only its datagrams are taken).
        peer: SocketAddr,
    },
}

/// Where one node's relay is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayConfig {
    /// On the serial relay module.
    Module,
    /// On GPIO lines.
    Gpio {
        /// The GPIO chip.
        chip: PathBuf,
        /// The relay's output line.
        line: u32,
        /// Whether "on" drives the line low.
        active_low: bool,
        /// The sense input line, if any.
        sense_line: Option<u32>,
        /// Whether "powered" reads low.
        sense_active_low: bool,
    },
}

/// One node's hardware.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeHardware {
    /// Its name in the cluster file.
    pub name: String,
    /// Its id.
    pub id: NodeId,
    /// Its relay channel (the cluster file's `relay`).
    pub channel: u8,
    /// Its links, at least one.
    pub links: Vec<LinkConfig>,
    /// Its relay.
    pub relay: RelayConfig,
}

/// Reads and checks the controller file at `path` against `cluster`.
/// Relative paths in it are taken from its directory.
///
/// # Errors
///
/// [`ConfigError`] naming the file, line and key.
pub fn load(path: &Path, cluster: &ClusterFile) -> Result<ControllerConfig, ConfigError> {
    let (origin, text) = read_file(path)?;
    let mut config = parse(&text, &origin, cluster)?;
    for p in [&mut config.socket, &mut config.fence_store] {
        beside(path, p);
    }
    Ok(config)
}

/// Parses and checks controller configuration text; `origin` names it in
/// errors. Paths are kept as written.
///
/// # Errors
///
/// [`ConfigError`] naming the origin, line and key.
pub fn parse(text: &str, origin: &str, cluster: &ClusterFile) -> Result<ControllerConfig, ConfigError> {
    let doc = Doc::parse(text, origin)?;
    let top = doc.top(TOP)?;

    let controller = top.table("controller")?.ok_or_else(|| top.missing("controller"))?;
    controller.only(CONTROLLER)?;
    let socket = controller.path("socket")?.ok_or_else(|| controller.missing("socket"))?;
    let fence_store = controller.path("fence_store")?.ok_or_else(|| controller.missing("fence_store"))?;
    let sense_interval = controller.duration("sense_interval")?.unwrap_or(DEFAULT_SENSE_INTERVAL);
    if sense_interval.is_zero() {
        return Err(controller.invalid("sense_interval", "must be greater than zero"));
    }
    let priority = controller.integer("realtime_priority", 0, 99)?.map(|p| u8::try_from(p).unwrap_or(0));
    let scheduling = crate::scheduling::Scheduling::from_keys(controller.boolean("mlock")?, priority);
    let status_interval = controller.duration("status_interval")?;
    if status_interval.is_some_and(|d| d.is_zero()) {
        return Err(controller.invalid("status_interval", "must be greater than zero (leave it out for never)"));
    }
    let operator = controller.socket_addr("operator")?;
    if operator.is_some() && cluster.cluster.auth == AuthKind::Crc {
        return Err(controller.invalid(
            "operator",
            "needs the cluster file's `auth = \"hmac\"`: requests that fence must be authenticated",
        ));
    }
    let metrics = controller.socket_addr("metrics")?;

    let watchdog = match top.table("watchdog")? {
        None => None,
        Some(t) => {
            t.only(WATCHDOG)?;
            let device = t.absolute_path("device")?.ok_or_else(|| t.missing("device"))?;
            let timeout = t.duration("timeout")?.ok_or_else(|| t.missing("timeout"))?;
            let keepalive = cluster.timing.keepalive.as_millis();
            if u128::from(keepalive) * 2 >= timeout.as_millis() {
                return Err(
                    t.invalid("timeout", &format!("must be more than twice the cluster's keepalive ({keepalive}ms)"))
                );
            }
            Some(WatchdogConfig { device, timeout })
        }
    };

    let relay_module = match top.table("relay_module")? {
        None => None,
        Some(t) => {
            t.only(RELAY_MODULE)?;
            let device = t.absolute_path("device")?.ok_or_else(|| t.missing("device"))?;
            let baud = t.baud("baud")?.unwrap_or(DEFAULT_MODULE_BAUD);
            let channels = t.integer("channels", 1, 255)?.ok_or_else(|| t.missing("channels"))?;
            let answer_timeout = t.duration("answer_timeout")?.unwrap_or(DEFAULT_ANSWER_TIMEOUT);
            if answer_timeout.is_zero() {
                return Err(t.invalid("answer_timeout", "must be greater than zero"));
            }
            Some(RelayModuleConfig { device, baud, channels: channels as u8, answer_timeout })
        }
    };

    let entries = top.array_of_tables("node")?;
    let mut nodes: Vec<Option<NodeHardware>> = vec![None; cluster.nodes.len()];
    let mut serial_devices: Vec<(PathBuf, String)> = Vec::new();
    let mut gpio_lines: Vec<((PathBuf, u32), String)> = Vec::new();
    if let Some(d) = &relay_module {
        serial_devices.push((d.device.clone(), "relay_module.device".to_owned()));
    }
    for t in &entries {
        t.only(NODE)?;
        let name = t.string("name")?.ok_or_else(|| t.missing("name"))?;
        let Some(id) = cluster.node_id(&name) else {
            let known: Vec<&str> = cluster.nodes.iter().map(|n| n.name.as_str()).collect();
            return Err(
                t.invalid("name", &format!("node `{name}` is not in the cluster file (nodes: {})", known.join(", ")))
            );
        };
        let Some(slot) = nodes.get_mut(id.index()) else {
            return Err(t.invalid("name", &format!("node `{name}` is not in the cluster file")));
        };
        if slot.is_some() {
            return Err(t.invalid("name", &format!("node `{name}` is described twice")));
        }
        let channel = cluster.node(id).map_or(0, |n| n.relay);

        let mut links = Vec::new();
        if let Some(s) = t.table("serial")? {
            s.only(SERIAL)?;
            let device = s.absolute_path("device")?.ok_or_else(|| s.missing("device"))?;
            let baud = s.baud("baud")?.unwrap_or(DEFAULT_LINK_BAUD);
            if let Some((_, other)) = serial_devices.iter().find(|(d, _)| *d == device) {
                return Err(s.invalid("device", &format!("{} is already used by `{other}`", device.display())));
            }
            serial_devices.push((device.clone(), s.key_path("device")));
            links.push(LinkConfig::Serial { device, baud });
        }
        if let Some(u) = t.table("udp")? {
            u.only(UDP)?;
            if cluster.cluster.auth == AuthKind::Crc {
                return Err(t.invalid("udp", "a UDP link needs `auth = \"hmac\"` in the cluster file (it has crc)"));
            }
            let listen = u.socket_addr("listen")?.ok_or_else(|| u.missing("listen"))?;
            let peer = u.socket_addr("peer")?.ok_or_else(|| u.missing("peer"))?;
            links.push(LinkConfig::Udp { listen, peer });
        }
        if links.is_empty() {
            return Err(t.missing_one_of(&["serial", "udp"]));
        }

        let r = t.table("relay")?.ok_or_else(|| t.missing("relay"))?;
        let kind = r.string("kind")?.ok_or_else(|| r.missing("kind"))?;
        let relay = match kind.as_str() {
            "module" => {
                r.only(RELAY_ON_MODULE)?;
                let Some(module) = &relay_module else {
                    return Err(r.invalid("kind", "the relay module is used but there is no [relay_module] table"));
                };
                if channel >= module.channels {
                    return Err(r.invalid(
                        "kind",
                        &format!(
                            "node `{name}` has relay {} in the cluster file, but the relay module has channels 0 to {}",
                            channel,
                            module.channels - 1
                        ),
                    ));
                }
                RelayConfig::Module
            }
            "gpio" => {
                r.only(RELAY_ON_GPIO)?;
                let chip = r.absolute_path("chip")?.ok_or_else(|| r.missing("chip"))?;
                let line = r.integer("line", 0, u32::MAX.into())?.ok_or_else(|| r.missing("line"))? as u32;
                let sense_line = r.integer("sense_line", 0, u32::MAX.into())?.map(|l| l as u32);
                for (l, key) in std::iter::once((line, "line")).chain(sense_line.map(|l| (l, "sense_line"))) {
                    if let Some((_, other)) = gpio_lines.iter().find(|(k, _)| *k == (chip.clone(), l)) {
                        return Err(
                            r.invalid(key, &format!("line {l} of {} is already used by `{other}`", chip.display()))
                        );
                    }
                    gpio_lines.push(((chip.clone(), l), r.key_path(key)));
                }
                RelayConfig::Gpio {
                    chip,
                    line,
                    active_low: r.boolean("active_low")?.unwrap_or(false),
                    sense_line,
                    sense_active_low: r.boolean("sense_active_low")?.unwrap_or(false),
                }
            }
            other => return Err(r.invalid("kind", &format!("unknown relay kind `{other}` (known: module, gpio)"))),
        };
        *slot = Some(NodeHardware { name, id, channel, links, relay });
    }
    let mut out = Vec::with_capacity(nodes.len());
    for (node, hw) in cluster.nodes.iter().zip(nodes) {
        out.push(hw.ok_or_else(|| {
            top.invalid("node", &format!("node `{}` of the cluster file has no [[node]] entry here", node.name))
        })?);
    }
    Ok(ControllerConfig {
        socket,
        fence_store,
        sense_interval,
        status_interval,
        scheduling,
        operator,
        metrics,
        watchdog,
        relay_module,
        nodes: out,
    })
}

#[cfg(test)]
mod tests;

/// A small cluster file the unit tests share.
#[cfg(test)]
mod fixture;
