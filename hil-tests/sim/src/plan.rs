//! What one seed simulates: a random cluster, its timing, and the faults
//! switched on for it, all drawn from the seed.

use std::fmt;

use warden_agent_proto::{AgentConfig, GroupShape};
use warden_core::controller::{ClusterConfig, GroupPlacement, Timing};
use warden_core::{Duration, NodeId};

use super::rng::Rng;

/// A kind of fault the simulator can inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// Frames lost on a link.
    Loss,
    /// Frames held back (latency spikes; reordering on links that allow it).
    Delay,
    /// Frames delivered twice.
    Duplicate,
    /// Bytes of a frame flipped on the wire.
    Corrupt,
    /// A link cut, later healed.
    Cut,
    /// A server's supply fails, later restored.
    PowerLoss,
    /// A server stops (no messages, no timers) but keeps its resources.
    Hang,
    /// The agent process crashes and is restarted.
    Crash,
    /// Resource starts and stops fail.
    StepFailure,
    /// A release (stop) that never finishes.
    StuckRelease,
    /// A service dies by itself (its monitor then fails).
    ServiceDeath,
    /// The power switch ignores a command.
    RelayIgnore,
    /// The power switch's sense input stops following the relay for a while.
    SenseStuck,
    /// The controller resets: state lost except the fence records.
    ControllerReset,
    /// A node's ping nodes become unreachable (ipfail's case).
    PingLoss,
    /// Operator requests (migrate, standby, online, fence, unfence) at random times.
    Operator,
    /// The fence store fails every write for a while.
    StoreFailure,
    /// The fence store takes its time: writes become durable late.
    SlowStore,
    /// A link driver of the controller stalls (its writes go nowhere).
    LinkStall,
}

impl Fault {
    /// Every fault kind.
    pub const ALL: [Self; 19] = [
        Self::Loss,
        Self::Delay,
        Self::Duplicate,
        Self::Corrupt,
        Self::Cut,
        Self::PowerLoss,
        Self::Hang,
        Self::Crash,
        Self::StepFailure,
        Self::StuckRelease,
        Self::ServiceDeath,
        Self::RelayIgnore,
        Self::SenseStuck,
        Self::ControllerReset,
        Self::PingLoss,
        Self::Operator,
        Self::StoreFailure,
        Self::SlowStore,
        Self::LinkStall,
    ];

    /// Its name on the command line.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Loss => "loss",
            Self::Delay => "delay",
            Self::Duplicate => "duplicate",
            Self::Corrupt => "corrupt",
            Self::Cut => "cut",
            Self::PowerLoss => "power-loss",
            Self::Hang => "hang",
            Self::Crash => "crash",
            Self::StepFailure => "step-failure",
            Self::StuckRelease => "stuck-release",
            Self::ServiceDeath => "service-death",
            Self::RelayIgnore => "relay-ignore",
            Self::SenseStuck => "sense-stuck",
            Self::ControllerReset => "controller-reset",
            Self::PingLoss => "ping-loss",
            Self::Operator => "operator",
            Self::StoreFailure => "store-failure",
            Self::SlowStore => "slow-store",
            Self::LinkStall => "link-stall",
        }
    }

    const fn bit(self) -> u32 {
        1 << self as u32
    }
}

/// A set of fault kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Faults(u32);

impl Faults {
    /// No faults.
    pub const NONE: Self = Self(0);

    /// Every fault kind.
    #[must_use]
    pub fn all() -> Self {
        Fault::ALL.iter().copied().collect()
    }

    /// Whether `f` is in the set.
    #[must_use]
    pub const fn has(self, f: Fault) -> bool {
        self.0 & f.bit() != 0
    }

    /// The set with `f` added.
    #[must_use]
    pub const fn with(self, f: Fault) -> Self {
        Self(self.0 | f.bit())
    }

    /// Parses `all`, `none` or a comma-separated list of fault names.
    ///
    /// # Errors
    ///
    /// Names the unknown fault and lists the known ones.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim() {
            "all" => return Ok(Self::all()),
            "none" | "" => return Ok(Self::NONE),
            _ => {}
        }
        let mut set = Self::NONE;
        for name in text.split(',').map(str::trim) {
            let fault = Fault::ALL.iter().find(|f| f.name() == name).ok_or_else(|| {
                let known: Vec<&str> = Fault::ALL.iter().map(|f| f.name()).collect();
                format!("unknown fault `{name}`; known faults: {}, or `all`/`none`", known.join(", "))
            })?;
            set = set.with(*fault);
        }
        Ok(set)
    }

    /// The fault kinds in the set.
    pub fn iter(self) -> impl Iterator<Item = Fault> {
        Fault::ALL.into_iter().filter(move |f| self.has(*f))
    }
}

impl FromIterator<Fault> for Faults {
    fn from_iter<I: IntoIterator<Item = Fault>>(iter: I) -> Self {
        iter.into_iter().fold(Self::NONE, Self::with)
    }
}

impl fmt::Display for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(Fault::name).collect();
        if names.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&names.join(","))
        }
    }
}

/// One group of the simulated cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSpec {
    /// Eligible nodes, home first.
    pub eligible: Vec<NodeId>,
    /// Move back home when home is stably up.
    pub auto_failback: bool,
    /// Number of resources (address, disk, service...).
    pub resources: u8,
}

/// Everything one seed simulates.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The seed everything below was drawn from.
    pub seed: u64,
    /// Number of servers.
    pub nodes: u8,
    /// Links per server (1, or 2 redundant ones carrying the same session).
    pub links: u8,
    /// Whether links may reorder frames (a UDP link) or keep order (serial).
    pub reorder: bool,
    /// Frames go over the wire as bytes (real encoding, corruption, the
    /// streaming decoder) rather than as decoded messages.
    pub bytes: bool,
    /// HMAC (true) or CRC (false) on byte-level links.
    pub hmac: bool,
    /// The groups.
    pub groups: Vec<GroupSpec>,
    /// Cluster timing.
    pub timing: Timing,
    /// Fence a dead node even when it provably held nothing.
    pub fence_idle_dead: bool,
    /// Faults switched on for this seed.
    pub faults: Faults,
    /// Faults are injected until this time (ms), then everything is repaired.
    pub fault_until: u64,
    /// Mean time between injected faults (ms).
    pub fault_gap: u64,
    /// Probability of losing a frame (with `Loss`).
    pub loss: f64,
    /// Probability of a frame being duplicated (with `Duplicate`).
    pub duplicate: f64,
    /// Probability of a frame having a byte flipped (with `Corrupt`).
    pub corrupt: f64,
    /// Probability that a start or stop fails (with `StepFailure`).
    pub step_failure: f64,
    /// Probability that the power switch ignores a command (with `RelayIgnore`).
    pub relay_ignore: f64,
    /// Link latency range (ms).
    pub latency: (u64, u64),
    /// How long a step takes (ms).
    pub step_time: (u64, u64),
    /// Time from power-on to the agent running (ms).
    pub boot_delay: u64,
    /// Time from a relay change to the sense input showing it (ms).
    pub sense_latency: u64,
    /// Relays fall closed (power on) while the controller is resetting, as a
    /// non-latching relay board would: the controller must switch fenced
    /// nodes off again at boot.
    pub relays_close_on_reset: bool,
    /// Ping nodes each server watches.
    pub ping_nodes: u16,
    /// Agent timing: silence before fail-static (ms).
    pub controller_silence: u64,
    /// Agent timing: monitor interval (ms).
    pub monitor_interval: u64,
    /// Agent timing: probe interval (ms).
    pub probe_interval: u64,
}

impl Plan {
    /// A plan drawn from `seed`, with faults from `allowed` (each seed
    /// switches on a random part of them).
    #[must_use]
    pub fn from_seed(seed: u64, allowed: Faults) -> Self {
        let mut rng = Rng::new(seed);
        let nodes = if rng.chance(0.6) { 2 } else { rng.range(3, 4) as u8 };
        let keepalive = rng.range(100, 1000);
        let deadtime = keepalive * rng.range(3, 8);
        let warntime = keepalive + (deadtime - keepalive) / 2;
        let boot_delay = rng.range(500, 5_000);
        let timing = Timing {
            keepalive: Duration(keepalive),
            warntime: Duration(warntime),
            deadtime: Duration(deadtime),
            // Long enough for a server to boot and its agent to report.
            initdead: Duration((deadtime * rng.range(1, 3)).max(boot_delay + 2_000 + 2 * keepalive)),
            release_timeout: Duration(rng.range(2_000, 10_000)),
            fence_timeout: Duration(rng.range(500, 3_000)),
            failback_delay: Duration(rng.range(2_000, 20_000)),
            move_window: Duration(rng.range(20_000, 90_000)),
            max_moves: rng.range(2, 6) as u8,
            failure_timeout: Duration(rng.range(5_000, 30_000)),
            auto_unfence_after: None,
        };
        let group_count = rng.range(1, 4) as usize;
        let groups = (0..group_count)
            .map(|_| {
                let mut all: Vec<NodeId> = (0..nodes).map(NodeId).collect();
                // A random order, then a random non-empty prefix (mostly all).
                for i in (1..all.len()).rev() {
                    all.swap(i, rng.index(i + 1));
                }
                let keep = if rng.chance(0.7) { all.len() } else { rng.range(1, all.len() as u64) as usize };
                all.truncate(keep);
                GroupSpec { eligible: all, auto_failback: rng.chance(0.5), resources: rng.range(1, 3) as u8 }
            })
            .collect();
        let mut faults = Faults::NONE;
        for f in allowed.iter() {
            if rng.chance(0.5) {
                faults = faults.with(f);
            }
        }
        Self {
            seed,
            nodes,
            links: if rng.chance(0.3) { 2 } else { 1 },
            reorder: rng.chance(0.3),
            bytes: rng.chance(0.15),
            hmac: rng.chance(0.5),
            groups,
            timing,
            fence_idle_dead: rng.chance(0.3),
            faults,
            fault_until: rng.range(20_000, 90_000),
            fault_gap: rng.range(2_000, 10_000),
            loss: rng.range(1, 20) as f64 / 100.0,
            duplicate: rng.range(1, 10) as f64 / 100.0,
            corrupt: rng.range(1, 10) as f64 / 100.0,
            step_failure: rng.range(1, 15) as f64 / 100.0,
            relay_ignore: rng.range(5, 40) as f64 / 100.0,
            latency: (1, rng.range(2, 20)),
            step_time: (1, rng.range(5, 300)),
            boot_delay,
            sense_latency: rng.range(1, 50),
            relays_close_on_reset: rng.chance(0.2),
            ping_nodes: rng.range(0, 3) as u16,
            controller_silence: deadtime,
            monitor_interval: rng.range(1_000, 5_000),
            probe_interval: rng.range(10_000, 60_000),
        }
    }

    /// A quiet cluster of `nodes` servers and `groups` groups of two
    /// resources, default timing and no faults. Homes take turns, so every
    /// server holds some groups; groups go back home. This is the steady
    /// state the benchmarks record (see [`Recording`](crate::Recording)).
    #[must_use]
    pub fn steady(nodes: u8, groups: u8) -> Self {
        let groups = (0..groups)
            .map(|g| GroupSpec {
                eligible: (0..nodes).map(|k| NodeId((g + k) % nodes)).collect(),
                auto_failback: true,
                resources: 2,
            })
            .collect();
        Self {
            nodes,
            links: 1,
            bytes: false,
            groups,
            timing: Timing::DEFAULT,
            fence_idle_dead: false,
            controller_silence: Timing::DEFAULT.deadtime.as_millis(),
            monitor_interval: 2_000,
            probe_interval: 30_000,
            // Steps are carried out at once.
            step_time: (0, 0),
            // The rest (latency, fault rates) matters only to the simulator,
            // and no fault is switched on.
            ..Self::from_seed(0, Faults::NONE)
        }
    }

    /// The controller's view of the cluster.
    #[must_use]
    pub fn cluster_config(&self) -> ClusterConfig {
        let mut groups = heapless::Vec::new();
        for g in &self.groups {
            let mut eligible = heapless::Vec::new();
            for n in &g.eligible {
                let _ = eligible.push(*n);
            }
            let _ = groups.push(GroupPlacement { eligible, auto_failback: g.auto_failback });
        }
        ClusterConfig { nodes: self.nodes, groups, timing: self.timing, fence_idle_dead: self.fence_idle_dead }
    }

    /// The agent's view of the cluster, on `node`.
    #[must_use]
    pub fn agent_config(&self, node: NodeId) -> AgentConfig {
        let t = &self.timing;
        AgentConfig {
            node,
            groups: self
                .groups
                .iter()
                .map(|g| GroupShape { resources: g.resources, monitors: 0, max_restarts: 2 })
                .collect(),
            keepalive: t.keepalive,
            controller_silence: Duration(self.controller_silence),
            monitor_interval: Duration(self.monitor_interval),
            probe_interval: Duration(self.probe_interval),
            restart_window: Duration(60_000),
            step_timeout: Duration(self.step_time.1 * 20 + 1_000),
            pinging: self.ping_nodes > 0,
        }
    }

    /// The liveness bound: after the faults stop and everything is
    /// repaired, every group must be held within this long (ms).
    #[must_use]
    pub fn liveness_bound(&self) -> u64 {
        let t = &self.timing;
        t.initdead.0
            + self.boot_delay
            + t.deadtime.0
            + 2 * t.fence_timeout.0
            + t.release_timeout.0
            + t.move_window.0
            + t.failure_timeout.0
            + t.failback_delay.0
            + 20 * t.keepalive.0
            + 2 * self.step_time.1 * 8
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.timing;
        writeln!(
            f,
            "seed {}: {} nodes, {} link(s) each{}{}, {} group(s)",
            self.seed,
            self.nodes,
            self.links,
            if self.reorder { ", reordering" } else { "" },
            if self.bytes {
                if self.hmac {
                    ", bytes+HMAC"
                } else {
                    ", bytes+CRC"
                }
            } else {
                ""
            },
            self.groups.len()
        )?;
        for (i, g) in self.groups.iter().enumerate() {
            let eligible: Vec<String> = g.eligible.iter().map(ToString::to_string).collect();
            writeln!(
                f,
                "  group{i}: {} resource(s), eligible {}{}",
                g.resources,
                eligible.join(" "),
                if g.auto_failback { ", auto_failback" } else { "" }
            )?;
        }
        writeln!(
            f,
            "  timing: keepalive {} warntime {} deadtime {} initdead {} release {} fence {} window {}x{}",
            t.keepalive,
            t.warntime,
            t.deadtime,
            t.initdead,
            t.release_timeout,
            t.fence_timeout,
            t.max_moves,
            t.move_window
        )?;
        write!(
            f,
            "  faults until {}.{:03}s: {}{}",
            self.fault_until / 1000,
            self.fault_until % 1000,
            self.faults,
            if self.relays_close_on_reset { " (relays close on controller reset)" } else { "" }
        )
    }
}
