//! How a rig run is set up: the cluster's timing, the rig's own delays and
//! sampling, which controller runs, and scheduling settings under test.

use std::path::PathBuf;
use std::time::Duration;

use crate::watch::timeline::Narration;
use crate::RigError;

/// Which controller the rig runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControllerKind {
    /// `warden-controller`, the Linux controller, as a process.
    Linux,
    /// The Cortex-M firmware under `qemu-system-arm -M mps2-an386`.
    Qemu,
}

impl ControllerKind {
    /// As on the command line.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Linux => "linux",
            Self::Qemu => "qemu",
        }
    }
}

impl std::str::FromStr for ControllerKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "linux" => Ok(Self::Linux),
            "qemu" => Ok(Self::Qemu),
            other => Err(format!("unknown controller `{other}` (known: linux, qemu)")),
        }
    }
}

/// The links between the servers and the controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Media {
    /// A serial line each, and a UDP link each on the rig's network (the
    /// Linux controller; QEMU's firmware has serial lines only).
    #[default]
    Both,
    /// A serial line each.
    Serial,
}

impl std::str::FromStr for Media {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "both" => Ok(Self::Both),
            "serial" => Ok(Self::Serial),
            other => Err(format!("unknown media `{other}` (known: both, serial)")),
        }
    }
}

/// The servers' names, in order: `--servers N` takes the first N.
pub const SERVER_NAMES: [&str; 4] = ["alpha", "beta", "gamma", "delta"];
/// Most servers a rig has.
pub const MAX_SERVERS: usize = SERVER_NAMES.len();
/// The groups' names, in order: `--groups N` takes the first N.
pub const GROUP_NAMES: [&str; 4] = ["svc", "db", "web", "mail"];

/// The address family of a group's service address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Family {
    /// IPv4, announced by gratuitous ARP.
    #[default]
    V4,
    /// IPv6, announced by unsolicited neighbour advertisements.
    V6,
}

/// One group of the rig's cluster: its own shared disk, service address
/// and service (a port of its own), and its eligible servers in order of
/// preference (the first is home).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSpec {
    /// Its name.
    pub name: String,
    /// Indexes of its eligible servers, home first.
    pub nodes: Vec<usize>,
    /// Its service address's family.
    pub family: Family,
    /// Whether a MAC moves with the address (derived from it, LISA '97's
    /// scheme), so clients need no new neighbour entry.
    pub mac: bool,
    /// `auto_failback`.
    pub auto_failback: bool,
}

impl GroupSpec {
    /// Group `index` of `count` on `servers` servers: named from
    /// [`GROUP_NAMES`], homed on server `index % servers`, every server
    /// eligible in turn after it.
    #[must_use]
    pub fn rotated(index: usize, servers: usize) -> Self {
        Self {
            name: GROUP_NAMES.get(index).map_or_else(|| format!("g{index}"), |n| (*n).to_owned()),
            nodes: (0..servers).map(|k| (index + k) % servers.max(1)).collect(),
            family: Family::V4,
            mac: false,
            auto_failback: false,
        }
    }

    /// `count` groups on `servers` servers, as [`GroupSpec::rotated`].
    #[must_use]
    pub fn layout(count: usize, servers: usize) -> Vec<Self> {
        (0..count).map(|i| Self::rotated(i, servers)).collect()
    }

    /// Parses `NAME=NODE,NODE[+ipv6][+mac][+failback]` against `servers`
    /// servers (nodes by name, home first).
    ///
    /// # Errors
    ///
    /// What is wrong, naming the part.
    pub fn parse(s: &str, servers: usize) -> Result<Self, String> {
        let (name, rest) = s
            .split_once('=')
            .ok_or_else(|| format!("`{s}`: a group is NAME=NODE,NODE[+ipv6][+mac][+failback] (svc=alpha,beta)"))?;
        let name = name.trim();
        if name.is_empty() || name.len() > 32 || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(format!("`{name}`: a group name is 1 to 32 letters, digits or `-`"));
        }
        let mut parts = rest.split('+');
        let mut nodes = Vec::new();
        for node in parts.next().unwrap_or_default().split(',') {
            let node = node.trim();
            let i = SERVER_NAMES[..servers.min(MAX_SERVERS)].iter().position(|n| *n == node).ok_or_else(|| {
                format!(
                    "group {name}: `{node}` is not a server (servers: {})",
                    SERVER_NAMES[..servers.min(MAX_SERVERS)].join(", ")
                )
            })?;
            if nodes.contains(&i) {
                return Err(format!("group {name}: `{node}` named twice"));
            }
            nodes.push(i);
        }
        let mut spec = Self { name: name.to_owned(), nodes, family: Family::V4, mac: false, auto_failback: false };
        for flag in parts {
            match flag.trim() {
                "ipv6" => spec.family = Family::V6,
                "mac" => spec.mac = true,
                "failback" => spec.auto_failback = true,
                other => return Err(format!("group {name}: unknown `+{other}` (known: +ipv6, +mac, +failback)")),
            }
        }
        Ok(spec)
    }
}

/// The options of a run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Beats and statuses this often.
    pub keepalive: Duration,
    /// Silence after which a node is dead.
    pub deadtime: Duration,
    /// Silence after which a node is late (default: 60 % of deadtime).
    pub warntime: Option<Duration>,
    /// Silence tolerated after a boot (default: deadtime, and at least a
    /// second more than the boot delay).
    pub initdead: Option<Duration>,
    /// Power on to agent start.
    pub boot_delay: Duration,
    /// How often the controller reads its relays' sense.
    pub sense_interval: Duration,
    /// The disk resource's fsck policy (`never`, `if-dirty`, `always`).
    pub fsck: String,
    /// The client sends a request this often.
    pub probe_interval: Duration,
    /// The detectors sample this often.
    pub detector_interval: Duration,
    /// The writer writes a record this often.
    pub write_interval: Duration,
    /// Where `warden-agent` and `warden-controller` are (default: next to
    /// this program).
    pub bin_dir: Option<PathBuf>,
    /// Which controller.
    pub controller: ControllerKind,
    /// The links (UDP beside serial only with the Linux controller).
    pub media: Media,
    /// `[agent] realtime_priority`.
    pub agent_realtime: Option<u8>,
    /// `[agent] mlock`.
    pub agent_mlock: bool,
    /// `[controller] realtime_priority` of the Linux controller (`None`: 0).
    pub controller_realtime: Option<u8>,
    /// What is printed as it happens.
    pub narration: Narration,
    /// Seeds the serial lines' corruption.
    pub seed: u64,
    /// Where to copy the run's logs, configuration and timeline at its end.
    pub keep_logs: Option<PathBuf>,
    /// The firmware ELF for `--controller qemu` (default: where `cargo fw`
    /// puts it in the target directory `--bin-dir` is in).
    pub firmware: Option<PathBuf>,
    /// How many servers (2 to [`MAX_SERVERS`]), named from [`SERVER_NAMES`].
    pub servers: usize,
    /// The groups.
    pub groups: Vec<GroupSpec>,
    /// Whether each server has a second NIC on an uplink bridge with a
    /// ping node (ipfail's), which the rig can cut per server.
    pub uplink: bool,
    /// `failback_delay`: how long home must be stably up before a group
    /// with `auto_failback` goes back.
    pub failback_delay: Duration,
    /// `failure_timeout`: how long a node whose group failed is kept off it.
    pub failure_timeout: Duration,
    /// `max_moves` of damping (default: so many that damping never holds a
    /// failover back; the `damping` scenario lowers it).
    pub max_moves: u32,
    /// `move_window` of damping.
    pub move_window: Duration,
    /// Deliberate bugs to plant, to show a scenario's checks catch them:
    /// the controller's (see [`CONTROLLER_FLAWS`]; the Linux controller
    /// built with its `flaws` feature) or the rig's own (see [`RIG_FLAWS`]).
    pub plant: Vec<String>,
}

/// Flaws the Linux controller can have planted (its `flaws` feature).
pub const CONTROLLER_FLAWS: [&str; 7] = [
    "skip-fence-confirm",
    "ignore-release-report",
    "power-before-persist",
    "forget-fences-on-boot",
    "no-damping",
    "acquire-before-fence",
    "feed-while-stalled",
];

/// Flaws the rig plants in the cluster it builds: `no-announce`, no
/// gratuitous ARP or unsolicited neighbour advertisement after an address
/// is added (`garp_count = 0`); `udp-misrouted`, the controller's UDP
/// links expecting each server on the wrong port, so that the second
/// medium carries nothing.
pub const RIG_FLAWS: [&str; 2] = ["no-announce", "udp-misrouted"];

impl Default for Options {
    /// keepalive 20 ms, deadtime 100 ms, boot delay 200 ms, the client and
    /// the detectors every 5 ms, a record every 10 ms, the Linux controller.
    fn default() -> Self {
        Self {
            keepalive: Duration::from_millis(20),
            deadtime: Duration::from_millis(100),
            warntime: None,
            initdead: None,
            boot_delay: Duration::from_millis(200),
            sense_interval: Duration::from_millis(500),
            fsck: "if-dirty".to_owned(),
            probe_interval: Duration::from_millis(5),
            detector_interval: Duration::from_millis(5),
            write_interval: Duration::from_millis(10),
            bin_dir: None,
            controller: ControllerKind::Linux,
            media: Media::Both,
            agent_realtime: None,
            agent_mlock: false,
            controller_realtime: None,
            narration: Narration::Quiet,
            seed: 1,
            keep_logs: None,
            firmware: None,
            servers: 2,
            groups: GroupSpec::layout(1, 2),
            uplink: false,
            failback_delay: Duration::from_secs(60),
            failure_timeout: Duration::from_secs(5),
            max_moves: super::config::MAX_MOVES,
            move_window: super::config::MOVE_WINDOW,
            plant: Vec::new(),
        }
    }
}

impl Options {
    /// The controller's flaws to plant.
    #[must_use]
    pub fn controller_flaws(&self) -> Vec<String> {
        self.plant.iter().filter(|f| CONTROLLER_FLAWS.contains(&f.as_str())).cloned().collect()
    }

    /// Whether the rig plants `flaw` in the cluster it builds.
    #[must_use]
    pub fn plants(&self, flaw: &str) -> bool {
        self.plant.iter().any(|f| f == flaw)
    }

    /// Whether the servers have UDP links beside their serial lines.
    #[must_use]
    pub fn udp(&self) -> bool {
        self.media == Media::Both && self.controller == ControllerKind::Linux
    }

    /// Warntime as configured or derived.
    #[must_use]
    pub fn warntime(&self) -> Duration {
        self.warntime.unwrap_or_else(|| (self.deadtime * 6 / 10).max(self.keepalive + Duration::from_millis(1)))
    }

    /// Initdead as configured or derived.
    #[must_use]
    pub fn initdead(&self) -> Duration {
        self.initdead.unwrap_or_else(|| self.deadtime.max(self.boot_delay + Duration::from_secs(1)))
    }

    /// Checks what the cluster file would refuse, and what the rig needs.
    ///
    /// # Errors
    ///
    /// [`RigError::Options`] naming the option.
    pub fn check(&self) -> Result<(), RigError> {
        let bad = |m: String| Err(RigError::Options(m));
        let whole_ms = Duration::from_millis(u64::try_from(self.keepalive.as_millis()).unwrap_or(u64::MAX));
        if self.keepalive.is_zero() || whole_ms != self.keepalive {
            return bad(format!("--keepalive {:?}: a whole number of milliseconds above zero", self.keepalive));
        }
        if self.deadtime <= self.keepalive * 2 {
            return bad(format!("--deadtime {:?} must be more than twice --keepalive", self.deadtime));
        }
        let warntime = self.warntime();
        if warntime <= self.keepalive || warntime >= self.deadtime {
            return bad(format!("--warntime {warntime:?} must lie strictly between keepalive and deadtime"));
        }
        if self.initdead() < self.deadtime {
            return bad(format!("--initdead {:?} must be at least deadtime", self.initdead()));
        }
        if self.initdead() <= self.boot_delay {
            return bad(format!("--initdead {:?} must exceed the boot delay {:?}", self.initdead(), self.boot_delay));
        }
        if !matches!(self.fsck.as_str(), "never" | "if-dirty" | "always") {
            return bad(format!("--fsck {}: one of never, if-dirty, always", self.fsck));
        }
        for (name, d) in [
            ("--probe-interval", self.probe_interval),
            ("--detector-interval", self.detector_interval),
            ("--sense-interval", self.sense_interval),
            ("--write-interval", self.write_interval),
        ] {
            if d.is_zero() {
                return bad(format!("{name} must be above zero"));
            }
        }
        if !(2..=MAX_SERVERS).contains(&self.servers) {
            return bad(format!("--servers {}: 2 to {MAX_SERVERS}", self.servers));
        }
        if self.groups.is_empty() || self.groups.len() > GROUP_NAMES.len() {
            return bad(format!("{} groups: 1 to {}", self.groups.len(), GROUP_NAMES.len()));
        }
        for (i, g) in self.groups.iter().enumerate() {
            if g.nodes.is_empty() || g.nodes.iter().any(|n| *n >= self.servers) {
                return bad(format!("group {}: its servers must be among the {} servers", g.name, self.servers));
            }
            if self.groups[..i].iter().any(|o| o.name == g.name) {
                return bad(format!("group {} named twice", g.name));
            }
        }
        if self.groups.iter().filter(|g| g.mac).count() > 1 {
            return bad("one group at most moves a MAC (the servers have one NIC for it)".to_owned());
        }
        for flaw in &self.plant {
            if RIG_FLAWS.contains(&flaw.as_str()) {
                continue;
            }
            if !CONTROLLER_FLAWS.contains(&flaw.as_str()) {
                return bad(format!(
                    "--plant {flaw}: unknown (known: {}, {})",
                    CONTROLLER_FLAWS.join(", "),
                    RIG_FLAWS.join(", ")
                ));
            }
            if self.controller != ControllerKind::Linux {
                return bad(format!("--plant {flaw}: the controller's flaws are planted in the Linux controller"));
            }
        }
        if self.media == Media::Both && self.controller == ControllerKind::Qemu {
            return bad("--media both: the firmware under QEMU has serial lines only (--media serial)".to_owned());
        }
        Ok(())
    }
}

impl Media {
    /// What a run with `controller` uses unless told: both with the Linux
    /// controller, serial with the firmware.
    #[must_use]
    pub const fn default_for(controller: ControllerKind) -> Self {
        match controller {
            ControllerKind::Linux => Self::Both,
            ControllerKind::Qemu => Self::Serial,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_beside_serial_is_refused_for_the_firmware_and_the_default_is_serial_there() {
        let qemu = Options { controller: ControllerKind::Qemu, media: Media::Both, ..Options::default() };
        let e = qemu.check().unwrap_err().to_string();
        assert!(e.contains("--media both: the firmware under QEMU has serial lines only"), "{e}");
        let qemu = Options { media: Media::default_for(ControllerKind::Qemu), ..qemu };
        assert!(qemu.check().is_ok() && !qemu.udp());
        assert!(Options::default().udp(), "the Linux controller gets both by default");
    }
}
