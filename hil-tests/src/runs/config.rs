//! The files a run hands to Warden: the cluster file every agent and the
//! controller read, the Linux controller's hardware file, and the key.
//!
//! Each group is what a small production service would be: its shared
//! disk (checked if dirty, mounted), its service address on the servers'
//! NIC (announced by gratuitous ARP, or unsolicited neighbour
//! advertisements for IPv6; with a MAC moved first for a MAC-takeover
//! group), and the service, a supervised command (`warden-rig serve`) on a
//! port of the group's own, watched by a send/expect monitor with one
//! local restart.
//!
//! The rig's faults on the servers' side are files in the run directory's
//! `faults/` that the group's programs look at, named for the server
//! ([`Layout::fault_flag`]): `SERVER.sick` makes the service answer its
//! monitor wrongly, `SERVER.stuck` makes the disk's `deactivate` fail (a
//! release that cannot finish).

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::options::{Family, GroupSpec, Options};
use crate::host::topology::{Plan, PREFIX_LEN, PREFIX_LEN_V6};
use crate::RigError;

/// The first group's name.
pub const GROUP: &str = "svc";

/// A server-side fault the group's programs look for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultFlag {
    /// The service answers its monitor wrongly.
    Sick,
    /// The disk's `deactivate` fails.
    Stuck,
}

impl FaultFlag {
    /// Its file's extension.
    #[must_use]
    pub const fn extension(self) -> &'static str {
        match self {
            Self::Sick => "sick",
            Self::Stuck => "stuck",
        }
    }
}

/// One group, placed on the rig.
#[derive(Debug, Clone)]
pub struct GroupLayout {
    /// What it is.
    pub spec: GroupSpec,
    /// Its loop device.
    pub disk: PathBuf,
    /// Where servers mount it.
    pub mountpoint: PathBuf,
    /// Its service address.
    pub address: IpAddr,
    /// The servers' NIC its address (and MAC) goes on.
    pub nic: String,
    /// Its service's port.
    pub port: u16,
}

impl GroupLayout {
    /// Where the client reaches its service.
    #[must_use]
    pub fn target(&self) -> SocketAddr {
        SocketAddr::new(self.address, self.port)
    }
}
/// The file the service appends records to, at the top of the disk.
pub const RECORDS: &str = "records.log";

/// Everything the files name.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The cluster's name.
    pub cluster: String,
    /// The run directory.
    pub run_dir: PathBuf,
    /// Node names, in order (node `i` is on relay channel `i`).
    pub nodes: Vec<String>,
    /// The groups, in order.
    pub groups: Vec<GroupLayout>,
    /// The servers' NIC.
    pub nic: String,
    /// The addresses.
    pub plan: Plan,
    /// This program (it serves the service).
    pub rig_exe: PathBuf,
}

impl Layout {
    /// The agent's end of `node`'s serial line (a link to a pty slave).
    #[must_use]
    pub fn agent_tty(&self, node: &str) -> PathBuf {
        self.run_dir.join(format!("{node}-agent.tty"))
    }

    /// The controller's end of `node`'s serial line.
    #[must_use]
    pub fn controller_tty(&self, node: &str) -> PathBuf {
        self.run_dir.join(format!("{node}-controller.tty"))
    }

    /// The controller's relay module port.
    #[must_use]
    pub fn relay_tty(&self) -> PathBuf {
        self.run_dir.join("relay.tty")
    }

    /// The cluster file.
    #[must_use]
    pub fn cluster_file(&self) -> PathBuf {
        self.run_dir.join("cluster.toml")
    }

    /// The Linux controller's file.
    #[must_use]
    pub fn controller_file(&self) -> PathBuf {
        self.run_dir.join("controller.toml")
    }

    /// The controller's control socket.
    #[must_use]
    pub fn control_socket(&self) -> PathBuf {
        self.run_dir.join("controller.sock")
    }

    /// A node's own directory (agent socket, state, log).
    #[must_use]
    pub fn node_dir(&self, node: &str) -> PathBuf {
        self.run_dir.join(node)
    }

    /// The directory of the fault flags.
    #[must_use]
    pub fn faults_dir(&self) -> PathBuf {
        self.run_dir.join("faults")
    }

    /// The file that raises `flag` on `node`.
    #[must_use]
    pub fn fault_flag(&self, node: &str, flag: FaultFlag) -> PathBuf {
        self.faults_dir().join(format!("{node}.{}", flag.extension()))
    }

    /// The group named `name`.
    #[must_use]
    pub fn group(&self, name: &str) -> Option<&GroupLayout> {
        self.groups.iter().find(|g| g.spec.name == name)
    }
}

fn ms(d: Duration) -> String {
    format!("\"{}ms\"", d.as_millis())
}

fn quoted(p: &Path) -> String {
    toml_string(&p.display().to_string())
}

fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The damping window of the rig's cluster.
pub const MOVE_WINDOW: Duration = Duration::from_secs(4);
/// Most moves of the group within [`MOVE_WINDOW`].
pub const MAX_MOVES: u32 = 8;

/// The UDP port of the links, on both sides (heartbeat's).
pub const UDP_PORT: u16 = 694;
/// The Linux controller's operator endpoint's port, on its network port.
pub const OPERATOR_PORT: u16 = 7694;
/// The Linux controller's metrics endpoint's port, on its network port.
pub const CONTROLLER_METRICS_PORT: u16 = 9664;
/// The agents' metrics endpoints' port, on every address of each server.
pub const AGENT_METRICS_PORT: u16 = 9665;

/// The cluster file.
#[must_use]
pub fn cluster_toml(layout: &Layout, options: &Options) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "# Written by warden-rig for one run.\n\n[cluster]\nname = {}", toml_string(&layout.cluster));
    let _ = writeln!(t, "key_file = \"cluster.key\"\n\n[timing]");
    let _ = writeln!(t, "keepalive = {}", ms(options.keepalive));
    let _ = writeln!(t, "warntime = {}", ms(options.warntime()));
    let _ = writeln!(t, "deadtime = {}", ms(options.deadtime));
    let _ = writeln!(t, "initdead = {}", ms(options.initdead()));
    // Failovers are what the rig is for: damping must not hold them back. The
    // controller remembers 8 moves per group (a larger max_moves is enforced
    // as 8); the bench paces its runs by MOVE_WINDOW / MAX_MOVES.
    let _ = writeln!(
        t,
        "release_timeout = \"5s\"\nfence_timeout = \"2s\"\nfailback_delay = {}\nmove_window = {}\nmax_moves = {}",
        ms(options.failback_delay),
        ms(options.move_window),
        options.max_moves
    );
    let _ = writeln!(t, "failure_timeout = {}", ms(options.failure_timeout));
    // Written out whole: the rig asks for what it measures, and a system
    // that refuses stops the run rather than running it otherwise.
    let _ = writeln!(t, "\n[agent]\nprobe_interval = \"10s\"\nmlock = {}", options.agent_mlock);
    let _ = writeln!(t, "realtime_priority = {}", options.agent_realtime.unwrap_or(0));
    // Every address: a server's base address comes and goes with its power.
    let _ = writeln!(t, "metrics = \"0.0.0.0:{AGENT_METRICS_PORT}\"");
    for (i, node) in layout.nodes.iter().enumerate() {
        let _ = writeln!(t, "\n[[node]]\nname = {}\nrelay = {i}", toml_string(node));
        if options.uplink {
            let _ = writeln!(t, "ping = [\"{}\"]", layout.plan.ping_node());
        }
        let _ = writeln!(t, "[node.serial]\ndevice = {}", quoted(&layout.agent_tty(node)));
        if options.udp() {
            let _ = writeln!(t, "[node.udp]\ncontroller = \"{}\"\nport = {UDP_PORT}", layout.plan.controller);
        }
    }
    for group in &layout.groups {
        group_toml(&mut t, layout, group, options);
    }
    t
}

/// Group `group`'s part of the cluster file.
fn group_toml(t: &mut String, layout: &Layout, group: &GroupLayout, options: &Options) {
    let nodes: Vec<String> =
        group.spec.nodes.iter().filter_map(|i| layout.nodes.get(*i)).map(|n| toml_string(n)).collect();
    let _ = writeln!(
        t,
        "\n[[group]]\nname = {}\nnodes = [{}]\nauto_failback = {}",
        toml_string(&group.spec.name),
        nodes.join(", "),
        group.spec.auto_failback
    );
    // `deactivate` fails while the holder's `stuck` flag is up, after a
    // second: a release that cannot finish, as a slow stop script that
    // fails.
    let stuck =
        format!("if [ -e \"{}/$WARDEN_RIG_SERVER.stuck\" ]; then sleep 1; exit 1; fi", layout.faults_dir().display());
    let _ = writeln!(
        t,
        "\n[[group.resource]]\nkind = \"disk\"\ndevice = {}\nmountpoint = {}\nfstype = \"ext4\"\nfsck = {}\nkill_grace = \"1s\"\ndeactivate = [\"/bin/sh\", \"-c\", {}]\ntimeout = \"5s\"",
        quoted(&group.disk),
        quoted(&group.mountpoint),
        toml_string(&options.fsck),
        toml_string(&stuck)
    );
    if group.spec.mac {
        let _ =
            writeln!(t, "\n[[group.resource]]\nkind = \"mac\"\nderive = true\ninterface = {}", toml_string(&group.nic));
    }
    let prefix = if group.address.is_ipv6() { PREFIX_LEN_V6 } else { PREFIX_LEN };
    let _ = writeln!(
        t,
        "\n[[group.resource]]\nkind = \"address\"\nip = \"{}/{prefix}\"\ninterface = {}\ngarp_count = {}\ngarp_interval = \"50ms\"",
        group.address,
        toml_string(&group.nic),
        if options.plants("no-announce") { 0 } else { 3 }
    );
    let listen = match group.spec.family {
        Family::V4 => format!("\"0.0.0.0:{}\"", group.port),
        Family::V6 => format!("\"[::]:{}\"", group.port),
    };
    let argv = [
        quoted(&layout.rig_exe),
        "\"serve\"".to_owned(),
        "\"--dir\"".to_owned(),
        quoted(&group.mountpoint),
        "\"--listen\"".to_owned(),
        listen,
        "\"--faults\"".to_owned(),
        quoted(&layout.faults_dir()),
    ];
    let _ = writeln!(t, "\n[[group.resource]]\nkind = \"service\"\ncommand = [{}]\ntimeout = \"10s\"", argv.join(", "));
    let _ = writeln!(
        t,
        "\n[[group.monitor]]\nkind = \"tcp\"\naddress = \"127.0.0.1:{}\"\nsend = 'ping\\n'\nexpect = 'pong'\ninterval = \"500ms\"\ntimeout = \"400ms\"\nfailures = 2\nrestarts = 1",
        group.port
    );
}

/// The Linux controller's hardware file.
#[must_use]
pub fn controller_toml(layout: &Layout, options: &Options) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "# Written by warden-rig for one run.\n\n[controller]");
    let _ = writeln!(t, "socket = {}", quoted(&layout.control_socket()));
    let _ = writeln!(t, "fence_store = {}", quoted(&layout.run_dir.join("fences")));
    let _ = writeln!(t, "sense_interval = {}", ms(options.sense_interval));
    let _ = writeln!(t, "mlock = true\nrealtime_priority = {}", options.controller_realtime.unwrap_or(0));
    let _ = writeln!(t, "operator = \"{}:{OPERATOR_PORT}\"", layout.plan.controller);
    let _ = writeln!(t, "metrics = \"{}:{CONTROLLER_METRICS_PORT}\"", layout.plan.controller);
    let _ = writeln!(
        t,
        "\n[relay_module]\ndevice = {}\nchannels = {}\nanswer_timeout = \"1s\"",
        quoted(&layout.relay_tty()),
        layout.nodes.len()
    );
    for (i, node) in layout.nodes.iter().enumerate() {
        let _ = writeln!(
            t,
            "\n[[node]]\nname = {}\nserial = {{ device = {} }}\nrelay = {{ kind = \"module\" }}",
            toml_string(node),
            quoted(&layout.controller_tty(node))
        );
        if options.udp() {
            let (listen, peer) = (layout.plan.controller, layout.plan.server(i));
            let peer_port = if options.plants("udp-misrouted") { UDP_PORT + 1 } else { UDP_PORT };
            let _ = writeln!(t, "udp = {{ listen = \"{listen}:{UDP_PORT}\", peer = \"{peer}:{peer_port}\" }}");
        }
    }
    t
}

/// Writes the cluster file, the controller file and a fresh random key
/// (mode 0600), and checks the cluster file as every agent will.
///
/// # Errors
///
/// [`RigError`] naming the file, or the cluster file's own error.
pub fn write(layout: &Layout, options: &Options) -> Result<(), RigError> {
    use std::io::Read as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let key_path = layout.run_dir.join("cluster.key");
    let mut key = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut key))
        .map_err(RigError::io("reading /dev/urandom for the cluster key"))?;
    {
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&key_path)
            .map_err(RigError::io(format!("creating {}", key_path.display())))?;
        f.write_all(&key).map_err(RigError::io(format!("writing {}", key_path.display())))?;
    }
    let cluster = layout.cluster_file();
    std::fs::write(&cluster, cluster_toml(layout, options))
        .map_err(RigError::io(format!("writing {}", cluster.display())))?;
    let controller = layout.controller_file();
    std::fs::write(&controller, controller_toml(layout, options))
        .map_err(RigError::io(format!("writing {}", controller.display())))?;
    warden_cluster::load(&cluster).map_err(|e| RigError::Broken(format!("the rig's cluster file: {e}")))?;
    Ok(())
}
