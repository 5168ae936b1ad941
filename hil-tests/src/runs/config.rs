//! The files a run hands to Warden: the cluster file every agent and the
//! controller read, the Linux controller's hardware file, and the key.
//!
//! The group is what a small production service would be: the shared
//! disk (checked if dirty, mounted), the service address on the servers'
//! NIC (announced by gratuitous ARP), and the service, a supervised
//! command (`warden-rig serve`), watched by a send/expect monitor.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::options::Options;
use crate::host::topology::{Plan, PREFIX_LEN, SERVICE_PORT};
use crate::RigError;

/// The group's name.
pub const GROUP: &str = "svc";
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
    /// The loop device.
    pub disk: PathBuf,
    /// Where servers mount it.
    pub mountpoint: PathBuf,
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
        "release_timeout = \"5s\"\nfence_timeout = \"2s\"\nfailback_delay = \"1m\"\nmove_window = {}\nmax_moves = {MAX_MOVES}",
        ms(MOVE_WINDOW)
    );
    // Written out whole: the rig asks for what it measures, and a system
    // that refuses stops the run rather than running it otherwise.
    let _ = writeln!(t, "\n[agent]\nprobe_interval = \"10s\"\nmlock = {}", options.agent_mlock);
    let _ = writeln!(t, "realtime_priority = {}", options.agent_realtime.unwrap_or(0));
    // Every address: a server's base address comes and goes with its power.
    let _ = writeln!(t, "metrics = \"0.0.0.0:{AGENT_METRICS_PORT}\"");
    for (i, node) in layout.nodes.iter().enumerate() {
        let _ = writeln!(t, "\n[[node]]\nname = {}\nrelay = {i}", toml_string(node));
        let _ = writeln!(t, "[node.serial]\ndevice = {}", quoted(&layout.agent_tty(node)));
        if options.udp() {
            let _ = writeln!(t, "[node.udp]\ncontroller = \"{}\"\nport = {UDP_PORT}", layout.plan.controller);
        }
    }
    let nodes: Vec<String> = layout.nodes.iter().map(|n| toml_string(n)).collect();
    let _ = writeln!(t, "\n[[group]]\nname = \"{GROUP}\"\nnodes = [{}]", nodes.join(", "));
    let _ = writeln!(
        t,
        "\n[[group.resource]]\nkind = \"disk\"\ndevice = {}\nmountpoint = {}\nfstype = \"ext4\"\nfsck = {}\nkill_grace = \"1s\"",
        quoted(&layout.disk),
        quoted(&layout.mountpoint),
        toml_string(&options.fsck)
    );
    let _ = writeln!(
        t,
        "\n[[group.resource]]\nkind = \"address\"\nip = \"{}/{PREFIX_LEN}\"\ninterface = {}\ngarp_count = 3\ngarp_interval = \"50ms\"",
        layout.plan.service,
        toml_string(&layout.nic)
    );
    let argv = [
        quoted(&layout.rig_exe),
        "\"serve\"".to_owned(),
        "\"--dir\"".to_owned(),
        quoted(&layout.mountpoint),
        "\"--listen\"".to_owned(),
        format!("\"0.0.0.0:{SERVICE_PORT}\""),
    ];
    let _ = writeln!(t, "\n[[group.resource]]\nkind = \"service\"\ncommand = [{}]\ntimeout = \"10s\"", argv.join(", "));
    let _ = writeln!(
        t,
        "\n[[group.monitor]]\nkind = \"tcp\"\naddress = \"127.0.0.1:{SERVICE_PORT}\"\nsend = 'ping\\n'\nexpect = 'pong'\ninterval = \"1s\"\ntimeout = \"500ms\"\nfailures = 3"
    );
    t
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
            let _ = writeln!(t, "udp = {{ listen = \"{listen}:{UDP_PORT}\", peer = \"{peer}:{UDP_PORT}\" }}");
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
