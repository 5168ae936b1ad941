//! From a group's checked configuration to its resources on this host, in
//! the order the protocol half counts them: the resources in start order,
//! then the monitors ([`GroupMonitor`]s). The daemon and the debug commands
//! build groups the same way, so what `debug-start` runs is what the daemon
//! would run.

use std::path::Path;
use std::time::Duration;

use crate::drivers::disk::{Disk, DiskParams, FsckPolicy};
use crate::drivers::monitor::{escape, GroupMonitor, Monitor};
use crate::drivers::net::{Address, Announce, MacAddress, SwitchNotify};
use crate::drivers::service::{LsbScript, OcfAgent, Respawn, SupervisedCommand, SystemdUnit};
use crate::resource::{Resource, ResourceError};
use warden_agent_proto::GroupShape;
use warden_cluster::{CheckConfig, ClusterFile, DiskConfig, Fsck, GroupConfig, MonitorConfig, ResourceConfig, Service};

/// Switch-notify frames sent back to back, for switches that drop the odd one.
const NOTIFY_FRAMES: u32 = 3;

/// How long holders of a disk get after `SIGKILL` before the release is
/// reported failed.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// Rounds of ending holders a disk release tries (the disk driver's bound).
const RELEASE_ROUNDS: u32 = 3;

/// Monitor interval when no group has a monitor: the pace at which the
/// protocol half asks every held resource whether it still works.
pub const DEFAULT_MONITOR_INTERVAL: Duration = Duration::from_secs(10);

/// Who the resources are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// The daemon: monitors check at their own interval and turn unhealthy
    /// after their failure threshold.
    Daemon,
    /// A one-shot debug command: every monitor call checks, and one failure
    /// is a failure; supervised commands write their output to a log file
    /// in the state directory (`command-GROUP-N.log`), since they outlive
    /// the command that started them.
    OneShot,
}

/// A resource of a group that could not be built (a parameter the driver
/// refuses). Names the group, the resource's position and what it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("group `{group}`, {what} #{number}: {source}")]
pub struct AssembleError {
    /// The group.
    pub group: String,
    /// `resource` or `monitor`.
    pub what: &'static str,
    /// 1-based position among the group's resources (or monitors).
    pub number: usize,
    /// What the driver said.
    pub source: ResourceError,
}

/// The group's resources then its monitors, ready to run. `state_dir` holds
/// what resources keep across restarts (original MACs, markers, pid files).
pub fn group_resources(
    group: &GroupConfig,
    state_dir: &Path,
    purpose: Purpose,
) -> Result<Vec<Box<dyn Resource>>, AssembleError> {
    let mut out: Vec<Box<dyn Resource>> = Vec::with_capacity(group.resources.len() + group.monitors.len());
    for (i, config) in group.resources.iter().enumerate() {
        let built = resource(group, i, config, state_dir, purpose).map_err(|source| AssembleError {
            group: group.name.clone(),
            what: "resource",
            number: i + 1,
            source,
        })?;
        out.push(built);
    }
    for (i, config) in group.monitors.iter().enumerate() {
        let built = monitor(config, purpose).map_err(|source| AssembleError {
            group: group.name.clone(),
            what: "monitor",
            number: i + 1,
            source,
        })?;
        out.push(Box::new(built));
    }
    Ok(out)
}

/// The group as the protocol half sees it: resources and monitors counted
/// together; local restarts allowed: the most any of its monitors allows.
#[must_use]
pub fn shape(group: &GroupConfig) -> GroupShape {
    let count = group.resources.len() + group.monitors.len();
    GroupShape {
        resources: u8::try_from(count).unwrap_or(u8::MAX),
        monitors: u8::try_from(group.monitors.len()).unwrap_or(u8::MAX),
        max_restarts: group.monitors.iter().map(|m| m.restarts).max().unwrap_or(0),
    }
}

/// How often the protocol half runs monitor sweeps: as often as the most
/// frequent monitor of the cluster wants (each monitor still checks at its
/// own interval), or [`DEFAULT_MONITOR_INTERVAL`] without monitors.
#[must_use]
pub fn monitor_interval(config: &ClusterFile) -> Duration {
    config.groups.iter().flat_map(|g| &g.monitors).map(|m| m.interval).min().unwrap_or(DEFAULT_MONITOR_INTERVAL)
}

/// The longest a single step of any group may take within the deadlines
/// the drivers enforce themselves (a filesystem check, a release's rounds
/// of `SIGTERM`, grace and `SIGKILL`, a script's timeout), plus a margin:
/// a step past it has broken its driver's contract.
#[must_use]
pub fn longest_step(config: &ClusterFile) -> Duration {
    const MARGIN: Duration = Duration::from_secs(30);
    const QUICK: Duration = Duration::from_secs(10);
    let resources = config.groups.iter().flat_map(|g| &g.resources).map(|r| match r {
        ResourceConfig::Address(_) | ResourceConfig::Mac(_) | ResourceConfig::NotifySwitch(_) => QUICK,
        ResourceConfig::Disk(d) => {
            let release = (d.kill_grace + KILL_WAIT) * RELEASE_ROUNDS + d.timeout;
            d.fsck_timeout.max(d.timeout * 2).max(release)
        }
        ResourceConfig::Service(s) => s.timeout + KILL_WAIT,
    });
    let monitors = config.groups.iter().flat_map(|g| &g.monitors).map(|m| m.timeout);
    resources.chain(monitors).max().unwrap_or(QUICK) + MARGIN
}

fn resource(
    group: &GroupConfig,
    index: usize,
    config: &ResourceConfig,
    state_dir: &Path,
    purpose: Purpose,
) -> Result<Box<dyn Resource>, ResourceError> {
    Ok(match config {
        ResourceConfig::Address(a) => {
            let mut address = Address::new(a.ip, a.prefix, a.interface.as_deref())?
                .with_announce(Announce { count: a.garp_count, interval: a.garp_interval })?;
            if let Some(b) = a.broadcast {
                address = address.with_broadcast(b)?;
            }
            if let Some(every) = a.garp_refresh {
                address = address.with_refresh(every)?;
            }
            Box::new(address)
        }
        ResourceConfig::Mac(m) => Box::new(MacAddress::new(&m.interface, m.address, state_dir)?),
        ResourceConfig::NotifySwitch(n) => Box::new(SwitchNotify::new(&n.interface, NOTIFY_FRAMES, state_dir)?),
        ResourceConfig::Disk(d) => Box::new(Disk::new(disk_params(d))?),
        ResourceConfig::Service(s) => match &s.service {
            Service::Script { name, args, search } => {
                let spec = std::iter::once(name.as_str()).chain(args.iter().map(String::as_str)).collect::<Vec<_>>();
                Box::new(LsbScript::new(&spec.join("::"), search.clone(), s.timeout)?)
            }
            Service::Systemd { unit } => Box::new(SystemdUnit::new(unit, s.timeout)?),
            Service::Ocf { provider, agent, params } => {
                let instance = format!("{}-{}", group.name, index + 1);
                let params = params.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                Box::new(OcfAgent::new(None, provider, agent, &instance, params, s.timeout)?)
            }
            Service::Command { argv, respawn } => {
                let base = format!("command-{}-{}", group.name, index + 1);
                let mut command = SupervisedCommand::new(argv.clone(), Respawn::default(), s.timeout)?
                    .with_pid_file(state_dir.join(format!("{base}.pid")));
                if purpose == Purpose::OneShot {
                    // It outlives the command that starts it: keep its
                    // output off that command's stdout.
                    command = command.with_log_file(state_dir.join(format!("{base}.log")));
                }
                Box::new(if *respawn { command } else { command.without_respawn() })
            }
        },
    })
}

fn disk_params(d: &DiskConfig) -> DiskParams {
    let mut params = DiskParams::new(d.device.clone(), d.mountpoint.clone(), d.fstype.clone());
    params.options.clone_from(&d.options);
    params.fsck = match d.fsck {
        Fsck::Never => FsckPolicy::Never,
        Fsck::IfDirty => FsckPolicy::IfDirty,
        Fsck::Always => FsckPolicy::Always,
    };
    params.activate.clone_from(&d.activate);
    params.deactivate.clone_from(&d.deactivate);
    params.command_timeout = d.timeout;
    params.fsck_timeout = d.fsck_timeout;
    params.kill_grace = d.kill_grace;
    params.kill_wait = KILL_WAIT;
    params
}

fn monitor(config: &MonitorConfig, purpose: Purpose) -> Result<GroupMonitor, ResourceError> {
    let timeout = config.timeout;
    let monitor = match &config.check {
        CheckConfig::Tcp { address } => Monitor::tcp(*address, timeout)?,
        CheckConfig::SendExpect { address, send, expect } => {
            Monitor::send_expect(*address, &escape(send), &escape(expect), timeout)?
        }
        CheckConfig::Http { address, host, path, status } => {
            Monitor::http(*address, Some(host), path, *status, timeout)?
        }
        CheckConfig::Command { argv } => Monitor::command(argv.clone(), timeout)?,
    };
    let monitor = match purpose {
        Purpose::Daemon => monitor.with_schedule(config.interval, config.failures),
        Purpose::OneShot => monitor.with_schedule(Duration::ZERO, 1),
    };
    Ok(GroupMonitor::new(monitor))
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_cluster as config;

    const TEXT: &str = r#"
[cluster]
name = "c"
auth = "crc"
[[node]]
name = "a"
serial = { device = "/dev/ttyS0" }
[[group]]
name = "web"
nodes = ["a"]
[[group.resource]]
kind = "address"
ip = "10.9.0.5/24"
interface = "eth0"
garp_refresh = "30s"
[[group.resource]]
kind = "mac"
derive = true
interface = "eth0"
[[group.resource]]
kind = "notify_switch"
interface = "eth0"
[[group.resource]]
kind = "disk"
device = "/dev/loop7"
mountpoint = "/srv/web"
fstype = "ext4"
[[group.resource]]
kind = "service"
command = ["python3", "-m", "http.server"]
respawn = false
[[group.resource]]
kind = "service"
ocf = "heartbeat:Dummy"
[[group.monitor]]
kind = "tcp"
address = "127.0.0.1:8000"
interval = "3s"
restarts = 2
[[group.monitor]]
kind = "command"
command = ["true"]
interval = "7s"
restarts = 1
"#;

    #[test]
    fn resources_then_monitors_in_order() {
        let c = config::parse(TEXT, "t.toml").unwrap();
        let g = &c.groups[0];
        let dir = tempfile::tempdir().unwrap();
        let built = group_resources(g, dir.path(), Purpose::Daemon).unwrap();
        let names: Vec<String> = built.iter().map(|r| r.describe()).collect();
        assert_eq!(
            names,
            [
                "address 10.9.0.5/24 on eth0",
                "mac 02:00:0a:09:00:05 on eth0",
                "switch notify on eth0",
                "disk /dev/loop7 on /srv/web",
                "supervised command python3 -m http.server",
                "OCF resource web-6 (heartbeat:Dummy)",
                "TCP monitor of 127.0.0.1:8000",
                "command monitor `true`",
            ]
        );
        assert_eq!(shape(g), GroupShape { resources: 8, monitors: 2, max_restarts: 2 });
        assert_eq!(monitor_interval(&c), Duration::from_secs(3));
        // The disk's default fsck deadline (1 h) is the longest, plus the margin.
        assert_eq!(longest_step(&c), Duration::from_secs(3600 + 30));
    }

    #[test]
    fn a_group_without_monitors_allows_no_restart() {
        let text = TEXT.split("[[group.monitor]]").next().unwrap();
        let c = config::parse(text, "t.toml").unwrap();
        assert_eq!(shape(&c.groups[0]), GroupShape { resources: 6, monitors: 0, max_restarts: 0 });
        assert_eq!(monitor_interval(&c), DEFAULT_MONITOR_INTERVAL);
    }
}
