//! The checked configuration. Every value here has passed validation: an
//! address parses, a prefix fits, a node named by a group exists.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use warden_core::controller::{ClusterConfig, GroupPlacement, Timing};
use warden_core::{GroupId, NodeId};

/// The whole cluster: what every agent and the controller agree on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterFile {
    /// Cluster-wide settings.
    pub cluster: Cluster,
    /// Timing, in the controller's units.
    pub timing: Timing,
    /// How the agent runs on every node (`[agent]`).
    pub agent: AgentSettings,
    /// Nodes; a node's index is its [`NodeId`].
    pub nodes: Vec<NodeConfig>,
    /// Groups; a group's index is its [`GroupId`].
    pub groups: Vec<GroupConfig>,
}

/// How frames are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthKind {
    /// HMAC-SHA256 truncated to 16 bytes under the key in `key_file`.
    Hmac,
    /// CRC-32C only: for a trusted point-to-point serial cable; refused when
    /// any node has a UDP link.
    Crc,
}

/// The `[cluster]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    /// The cluster's name (for logs and alerts).
    pub name: String,
    /// Authentication of frames.
    pub auth: AuthKind,
    /// The file holding the key (authkeys' role); `None` only with
    /// [`AuthKind::Crc`]. [`super::load`] resolves a relative path against the
    /// configuration file's directory; [`super::parse`] keeps it as written.
    pub key_file: Option<PathBuf>,
    /// Fence a dead node even when its last report proves it held nothing.
    pub fence_idle_dead: bool,
    /// A command run on every transition, the event in its environment.
    pub alert: Option<Vec<String>>,
}

/// The `[agent]` table: how the host agent runs, the same on every node.
/// The command line may override the paths (`--socket`, `--state-dir`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentSettings {
    /// The local control socket (`wardenctl` talks to the agent there); the
    /// lock file that marks a running agent sits next to it.
    pub socket: PathBuf,
    /// Where resources keep what must survive an agent restart (original
    /// MACs, switch-notify markers, pid files of supervised commands).
    pub state_dir: PathBuf,
    /// Time between probe sweeps of every resource.
    pub probe_interval: Duration,
    /// Window in which a group's local restarts are counted.
    pub restart_window: Duration,
    /// Memory locking and the main loop's real-time priority (default:
    /// locked, `SCHED_FIFO` 50; see [`crate::scheduling`]).
    pub scheduling: crate::scheduling::Scheduling,
    /// Where the agent serves its metrics over HTTP (`GET /metrics`,
    /// Prometheus text); `None`: nowhere, and no thread for them.
    pub metrics: Option<std::net::SocketAddr>,
}

impl AgentSettings {
    /// Where the control socket is when `[agent]` does not say.
    pub const DEFAULT_SOCKET: &'static str = "/run/warden/agent.sock";
    /// Where resource state is kept when `[agent]` does not say.
    pub const DEFAULT_STATE_DIR: &'static str = "/run/warden";

    /// The lock file a running agent holds (`flock`), next to its socket:
    /// `agent.sock` → `agent.lock`.
    #[must_use]
    pub fn lock_file(&self) -> PathBuf {
        self.socket.with_extension("lock")
    }
}

impl Default for AgentSettings {
    /// The documented defaults.
    fn default() -> Self {
        Self {
            socket: PathBuf::from(Self::DEFAULT_SOCKET),
            state_dir: PathBuf::from(Self::DEFAULT_STATE_DIR),
            probe_interval: Duration::from_secs(60),
            restart_window: Duration::from_secs(600),
            scheduling: crate::scheduling::Scheduling::default(),
            metrics: None,
        }
    }
}

/// A serial link from a node to the controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerialLink {
    /// The node's device (`/dev/ttyS0`).
    pub device: PathBuf,
    /// Line speed in bits per second.
    pub baud: u32,
}

/// A UDP link from a node to the controller's network port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpLink {
    /// Where the controller listens.
    pub controller: SocketAddr,
}

/// Ping nodes that count as one: reachable when any of them answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PingGroup {
    /// The group's name.
    pub name: String,
    /// Its hosts (addresses or names).
    pub hosts: Vec<String>,
}

/// A server of the cluster (`[[node]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeConfig {
    /// Its name, as `uname -n` gives it.
    pub name: String,
    /// Its id (its index in the file).
    pub id: NodeId,
    /// The controller's relay channel powering it.
    pub relay: u8,
    /// Serial link to the controller, if any.
    pub serial: Option<SerialLink>,
    /// UDP link to the controller, if any.
    pub udp: Option<UdpLink>,
    /// Ping nodes (ipfail's role): each counts on its own.
    pub ping: Vec<String>,
    /// Ping groups: each counts once.
    pub ping_groups: Vec<PingGroup>,
    /// The host's watchdog device the agent feeds, if any (`/dev/watchdog`
    /// or `/dev/watchdogN`).
    pub watchdog: Option<PathBuf>,
    /// The timeout set on that watchdog (whole seconds); it is fed three
    /// times per timeout.
    pub watchdog_timeout: Duration,
}

/// A service group (`[[group]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupConfig {
    /// Its name.
    pub name: String,
    /// Its id (its index in the file).
    pub id: GroupId,
    /// Eligible nodes in order of preference; the first is home.
    pub nodes: Vec<NodeId>,
    /// Move back home once home is stably up.
    pub auto_failback: bool,
    /// Resources, in start order (stopped in reverse).
    pub resources: Vec<ResourceConfig>,
    /// Health checks of the group's services.
    pub monitors: Vec<MonitorConfig>,
}

/// One resource of a group (`[[group.resource]]`), by `kind`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceConfig {
    /// `kind = "address"`.
    Address(AddressConfig),
    /// `kind = "mac"`.
    Mac(MacConfig),
    /// `kind = "notify_switch"`.
    NotifySwitch(NotifySwitchConfig),
    /// `kind = "disk"`.
    Disk(DiskConfig),
    /// `kind = "service"`.
    Service(ServiceConfig),
}

/// A service address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressConfig {
    /// The address.
    pub ip: IpAddr,
    /// Prefix length; `None`: the prefix of the route to it.
    pub prefix: Option<u8>,
    /// Interface; `None`: the interface of the route to it.
    pub interface: Option<String>,
    /// IPv4 broadcast; `None`: the highest address of the subnet.
    pub broadcast: Option<Ipv4Addr>,
    /// Gratuitous ARPs (or unsolicited NAs) sent after adding it.
    pub garp_count: u32,
    /// Time between them.
    pub garp_interval: Duration,
    /// Re-announce this often while held; `None`: never.
    pub garp_refresh: Option<Duration>,
}

/// A locally administered MAC address moved with the group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacConfig {
    /// The address (derived ones are already filled in).
    pub address: [u8; 6],
    /// The interface that takes it.
    pub interface: String,
}

/// A frame that makes learning switches move the MAC to this port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifySwitchConfig {
    /// The interface it is sent from.
    pub interface: String,
}

/// When to check a filesystem before mounting it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fsck {
    /// Never.
    Never,
    /// When the filesystem says it was not cleanly unmounted.
    IfDirty,
    /// Every time.
    Always,
}

/// A filesystem on a shared disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskConfig {
    /// Block device path, or `UUID=...` / `LABEL=...`.
    pub device: String,
    /// Absolute mount point, not `/`.
    pub mountpoint: PathBuf,
    /// Filesystem type.
    pub fstype: String,
    /// Mount options, fstab style.
    pub options: String,
    /// Check policy.
    pub fsck: Fsck,
    /// Command run before anything else on start.
    pub activate: Option<Vec<String>>,
    /// Command run after unmounting.
    pub deactivate: Option<Vec<String>>,
    /// Time holders get between `SIGTERM` and `SIGKILL` on release.
    pub kill_grace: Duration,
    /// Deadline of the activation and deactivation commands.
    pub timeout: Duration,
    /// Deadline of the filesystem check.
    pub fsck_timeout: Duration,
}

/// A service, by the way it is run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Service {
    /// A heartbeat resource script or LSB init script: `name arg... start`.
    Script {
        /// Script name (or absolute path).
        name: String,
        /// Arguments from `name::arg1::arg2`, passed before the action.
        args: Vec<String>,
        /// Directories searched in order.
        search: Vec<PathBuf>,
    },
    /// A systemd unit.
    Systemd {
        /// The unit name.
        unit: String,
    },
    /// An OCF resource agent.
    Ocf {
        /// Provider (`heartbeat`).
        provider: String,
        /// Agent type (`IPaddr2`).
        agent: String,
        /// Parameters, given as `OCF_RESKEY_<name>`.
        params: BTreeMap<String, String>,
    },
    /// A command the agent runs and supervises.
    Command {
        /// The command line.
        argv: Vec<String>,
        /// Start it again when it exits while held.
        respawn: bool,
    },
}

impl Service {
    /// Heartbeat's spelling of a script: `name` or `name::arg1::arg2`.
    #[must_use]
    pub fn script_spec(&self) -> Option<String> {
        match self {
            Self::Script { name, args, .. } => Some(
                std::iter::once(name.as_str()).chain(args.iter().map(String::as_str)).collect::<Vec<_>>().join("::"),
            ),
            _ => None,
        }
    }
}

/// A service resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceConfig {
    /// How it is run.
    pub service: Service,
    /// Deadline of each start, stop or status call.
    pub timeout: Duration,
}

/// What a monitor checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckConfig {
    /// A TCP connection opens.
    Tcp {
        /// Where to connect.
        address: SocketAddr,
    },
    /// Connect, send, and find the expected bytes in the answer.
    SendExpect {
        /// Where to connect.
        address: SocketAddr,
        /// Bytes sent (escapes already decoded).
        send: Vec<u8>,
        /// Bytes looked for (escapes already decoded).
        expect: Vec<u8>,
    },
    /// An HTTP/1.0 `GET` answered with a given status.
    Http {
        /// Where to connect.
        address: SocketAddr,
        /// The `Host` header.
        host: String,
        /// The path, starting with `/`.
        path: String,
        /// The status that means healthy.
        status: u16,
    },
    /// A command that exits 0 when healthy.
    Command {
        /// The command line.
        argv: Vec<String>,
    },
}

/// A health check (`[[group.monitor]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorConfig {
    /// What it checks.
    pub check: CheckConfig,
    /// How often.
    pub interval: Duration,
    /// Deadline of one check.
    pub timeout: Duration,
    /// Failures in a row that make the group fail.
    pub failures: u32,
    /// Local restarts of the group's services tried before the group is
    /// reported failing.
    pub restarts: u32,
}

impl ClusterFile {
    /// What the controller needs: node count, groups' eligible nodes and
    /// failback, timing. Already valid (checked at load).
    #[must_use]
    pub fn cluster_config(&self) -> ClusterConfig {
        let mut groups = heapless::Vec::new();
        for g in &self.groups {
            let mut eligible = heapless::Vec::new();
            for n in &g.nodes {
                // Cannot overflow: load refuses more than MAX_NODES nodes.
                let _ = eligible.push(*n);
            }
            // Cannot overflow: load refuses more than MAX_GROUPS groups.
            let _ = groups.push(GroupPlacement { eligible, auto_failback: g.auto_failback });
        }
        ClusterConfig {
            nodes: u8::try_from(self.nodes.len()).unwrap_or(u8::MAX),
            groups,
            timing: self.timing,
            fence_idle_dead: self.cluster.fence_idle_dead,
        }
    }

    /// The id of the node called `name`.
    #[must_use]
    pub fn node_id(&self, name: &str) -> Option<NodeId> {
        self.nodes.iter().find(|n| n.name == name).map(|n| n.id)
    }

    /// The id of the group called `name`.
    #[must_use]
    pub fn group_id(&self, name: &str) -> Option<GroupId> {
        self.groups.iter().find(|g| g.name == name).map(|g| g.id)
    }

    /// The node with id `id`.
    #[must_use]
    pub fn node(&self, id: NodeId) -> Option<&NodeConfig> {
        self.nodes.get(id.index())
    }

    /// The group with id `id`.
    #[must_use]
    pub fn group(&self, id: GroupId) -> Option<&GroupConfig> {
        self.groups.get(id.index())
    }

    /// The groups `node` may hold, in file order.
    pub fn groups_of(&self, node: NodeId) -> impl Iterator<Item = &GroupConfig> {
        self.groups.iter().filter(move |g| g.nodes.contains(&node))
    }

    /// Resources across all groups.
    #[must_use]
    pub fn resource_count(&self) -> usize {
        self.groups.iter().map(|g| g.resources.len()).sum()
    }

    /// Monitors across all groups.
    #[must_use]
    pub fn monitor_count(&self) -> usize {
        self.groups.iter().map(|g| g.monitors.len()).sum()
    }
}

/// Formats a MAC address as `02:00:c0:a8:55:03`.
#[must_use]
pub fn format_mac(mac: [u8; 6]) -> String {
    mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// Operator commands name nodes and groups as the cluster file does.
impl warden_core::controller::Lookup for ClusterFile {
    fn node_named(&self, word: &str) -> Option<NodeId> {
        self.node_id(word)
    }

    fn group_named(&self, word: &str) -> Option<GroupId> {
        self.group_id(word)
    }
}
