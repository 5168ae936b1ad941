//! The host agent daemon (`warden-agent run`): the protocol half
//! ([`warden_agent_proto::Agent`]) wired to the real world.
//!
//! * [`links`]: the node's serial line and UDP socket to the controller,
//!   one session over all of them.
//! * [`workers`]: a thread per group owning its resources
//!   ([`crate::assemble`]) and running the steps asked for.
//! * [`ping`]: the net score, by ICMP echo to the ping nodes.
//! * [`control_server`]: the control socket ([`crate::control`]).
//! * [`alert`]: the alert command, run on every event.
//! * [`notify`]: systemd's `Type=notify` and watchdog; the host's own
//!   watchdog device is fed from the main loop.
//! * [`journal`]: log lines for journald or a terminal.
//! * [`metrics`]: Prometheus metrics over HTTP (`[agent] metrics`), from
//!   snapshots the main loop publishes, served by threads of their own.
//! * [`main_loop`]: one thread that waits in `poll(2)` on the links, the
//!   workers' and other threads' [`mailbox`], the control socket and the
//!   signal handlers' self-pipes, with the protocol half's `poll_timeout`
//!   as its timeout.
//!
//! Stopping (`SIGTERM`, `SIGINT`) releases nothing: what the node holds
//! stays held and the controller decides (fail-static). Steps under way are
//! let end (bounded), so nothing is left half done; links are closed and the
//! control socket is removed.

mod alert;
mod book;
mod clock;
mod control_server;
pub(crate) mod journal;
mod links;
mod mailbox;
mod main_loop;
mod metrics;
mod notify;
mod ping;
mod workers;

use std::path::{Path, PathBuf};
use std::time::Duration;

use warden_bsp::linux::DevWatchdog;
use warden_bsp::Watchdog;
use warden_core::wire::Auth;
use warden_core::NodeId;

use crate::assemble::{self, Purpose};
use crate::lock::{AgentLock, LockError};
use warden_agent_proto::{Agent, AgentConfig, GroupShape};
use warden_cluster::{self as config, ClusterFile, NodeConfig};

pub use main_loop::Stopped;

/// What `warden-agent run` was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The cluster configuration file.
    pub config: PathBuf,
    /// This node's name; `None`: the host name (`uname -n`).
    pub node: Option<String>,
    /// Overrides `agent.socket`.
    pub socket: Option<PathBuf>,
    /// Overrides `agent.state_dir`.
    pub state_dir: Option<PathBuf>,
}

/// Why the daemon could not start (or had to stop). Each names the thing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DaemonError {
    /// The configuration is refused.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// This host is not a node of the configuration.
    #[error("{0}")]
    Node(String),
    /// Another agent (or a debug command) holds the lock.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// The key file cannot serve as a frame key.
    #[error("key file {}: {message}", path.display())]
    Key {
        /// The key file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A group's resources could not be built.
    #[error(transparent)]
    Assemble(#[from] assemble::AssembleError),
    /// The protocol half refuses the timing.
    #[error("agent configuration: {0}")]
    Agent(#[from] warden_agent_proto::AgentConfigError),
    /// A system resource the daemon needs (a thread, a socket, a device).
    #[error("{what}: {source}")]
    Io {
        /// What it was.
        what: String,
        /// Why.
        source: std::io::Error,
    },
}

fn io_error(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> DaemonError {
    let what = what.into();
    move |source| DaemonError::Io { what, source }
}

/// This host's node: the one named `--node`, else the one whose name is
/// the host name.
pub fn choose_node<'c>(config: &'c ClusterFile, origin: &Path, asked: Option<&str>) -> Result<&'c NodeConfig, String> {
    let names = config.nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>().join(", ");
    match asked {
        Some(name) => config
            .nodes
            .iter()
            .find(|n| n.name == name)
            .ok_or_else(|| format!("--node {name}: no such node in {} (nodes: {names})", origin.display())),
        None => {
            let host = nix::unistd::gethostname()
                .map_err(|e| format!("cannot read the host name: {e}; pass --node NAME"))?
                .to_string_lossy()
                .into_owned();
            config.nodes.iter().find(|n| n.name == host).ok_or_else(|| {
                format!(
                    "this host is `{host}` (uname -n), which is not a node of {} (nodes: {names}); pass --node NAME",
                    origin.display()
                )
            })
        }
    }
}

/// The cluster key as the wire needs it.
fn auth(config: &ClusterFile) -> Result<Auth, DaemonError> {
    config::frame_auth(&config.cluster).map_err(|e| DaemonError::Key {
        path: config.cluster.key_file.clone().unwrap_or_default(),
        message: e.to_string(),
    })
}

/// The protocol half's configuration for `node`. Steps may take as long as
/// the longest deadline a driver enforces (an fsck, a stop with its grace
/// and kill wait) before the protocol half calls them overdue.
///
/// A group this node is not eligible for has no resources here: the
/// controller never gives it to this node, and its scripts or devices need
/// not exist on this node (a probe that cannot run would count as held
/// and keep the group off every other node).
pub fn agent_config(config: &ClusterFile, node: NodeId) -> AgentConfig {
    AgentConfig {
        node,
        groups: config
            .groups
            .iter()
            .map(|g| {
                if g.nodes.contains(&node) {
                    assemble::shape(g)
                } else {
                    GroupShape { resources: 0, monitors: 0, max_restarts: 0 }
                }
            })
            .collect(),
        keepalive: config.timing.keepalive,
        controller_silence: config.timing.deadtime,
        monitor_interval: core_duration(assemble::monitor_interval(config)),
        probe_interval: core_duration(config.agent.probe_interval),
        restart_window: core_duration(config.agent.restart_window),
        step_timeout: core_duration(assemble::longest_step(config)),
        pinging: config.nodes.get(usize::from(node.0)).is_some_and(|n| !n.ping.is_empty() || !n.ping_groups.is_empty()),
    }
}

fn core_duration(d: Duration) -> warden_core::Duration {
    warden_core::Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A fresh session nonce from the OS random source (getrandom(2)).
fn boot_nonce() -> Result<u64, DaemonError> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| DaemonError::Io {
        what: "reading the OS random source for the session nonce".into(),
        source: std::io::Error::other(e.to_string()),
    })?;
    Ok(u64::from_le_bytes(bytes))
}

/// Runs the daemon until `SIGTERM` or `SIGINT`.
pub fn run(options: &Options) -> Result<Stopped, DaemonError> {
    let mut config = config::load(&options.config)?;
    if let Some(socket) = &options.socket {
        config.agent.socket.clone_from(socket);
    }
    if let Some(dir) = &options.state_dir {
        config.agent.state_dir.clone_from(dir);
    }
    let node = choose_node(&config, &options.config, options.node.as_deref()).map_err(DaemonError::Node)?.clone();
    let lock = AgentLock::acquire(&config.agent.lock_file(), "run")?;
    let auth = auth(&config)?;
    std::fs::create_dir_all(&config.agent.state_dir)
        .map_err(io_error(format!("state directory {}", config.agent.state_dir.display())))?;

    let mut groups = Vec::with_capacity(config.groups.len());
    for group in &config.groups {
        groups.push((group.id, assemble::group_resources(group, &config.agent.state_dir, Purpose::Daemon)?));
    }
    let agent = Agent::new(agent_config(&config, node.id), warden_core::Instant::ZERO, boot_nonce()?)?;

    let watchdog = match &node.watchdog {
        None => None,
        Some(path) => {
            let mut device = DevWatchdog::open(path)
                .map_err(|e| DaemonError::Io { what: format!("host watchdog {}", path.display()), source: e.source })?;
            let applied = device.start(core_duration(node.watchdog_timeout)).map_err(|e| DaemonError::Io {
                what: format!("host watchdog {}: setting its timeout", path.display()),
                source: std::io::Error::other(e.to_string()),
            })?;
            journal::notice(&format!(
                "host watchdog {} armed with a {} s timeout; fed three times per timeout, never disarmed",
                path.display(),
                applied.as_millis() / 1000
            ));
            Some((device, Duration::from_millis(applied.as_millis().max(1000)) / 3))
        }
    };

    let parts = main_loop::Parts { config, node, lock, auth, agent, groups, watchdog };
    main_loop::run(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_a_node_is_not_eligible_for_have_no_resources_there() {
        let toml = r#"
[cluster]
name = "t"
auth = "crc"

[[node]]
name = "a"
serial = { device = "/dev/ttyS1" }

[[node]]
name = "b"
serial = { device = "/dev/ttyS1" }

[[group]]
name = "both"
nodes = ["a", "b"]
[[group.resource]]
kind = "service"
command = ["true"]

[[group]]
name = "only-a"
nodes = ["a"]
[[group.resource]]
kind = "service"
command = ["true"]
"#;
        let config = config::parse(toml, "t.toml").unwrap_or_else(|e| panic!("{e}"));
        let on_a = agent_config(&config, NodeId(0));
        let on_b = agent_config(&config, NodeId(1));
        assert_eq!(on_a.groups.iter().map(|g| g.resources).collect::<Vec<_>>(), vec![1, 1]);
        assert_eq!(on_b.groups.iter().map(|g| g.resources).collect::<Vec<_>>(), vec![1, 0]);
    }
}
