//! A whole rig run: the network, the groups' shared disks, the servers and
//! their serial lines and power, the controller, the detectors, and for
//! every group a client probe and a writer, built in that order and taken
//! down in the reverse (also on failure and on SIGINT/SIGTERM: [`Rig`] is
//! the guard).

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use warden_bsp::linux::Pty;

use super::config::{self, FaultFlag, GroupLayout, Layout, RECORDS};
use super::options::{ControllerKind, Options, SERVER_NAMES};
use crate::controller::console::ConsoleKind;
use crate::controller::qemu::{Firmware, QemuController};
use crate::controller::{ControllerUnderTest, LinuxController};
use crate::hardware::board::RelayBoard;
use crate::hardware::disk::Disk;
use crate::hardware::rack::{BootThread, Rack};
use crate::hardware::serial::{ControllerEnd, LineFault, SerialLine};
use crate::hardware::server::{AgentCommand, Install, Server};
use crate::host::prefix::{Prefix, RunDir};
use crate::host::topology::{Plan, Topology, SERVICE_PORT};
use crate::host::{leftovers, signals, tools};
use crate::watch::detect::{Detectors, Findings, Watched, WatchedGroup};
use crate::watch::probe::{Probe, ProbeLog};
use crate::watch::timeline::{Entry, Happening, Timeline, BOUND};
use crate::watch::writer::{self, RecordCheck, Writer, WriterLog};
use crate::RigError;

/// What a finished run leaves to judge of one group.
#[derive(Debug, Clone)]
pub struct GroupRecord {
    /// The group.
    pub name: String,
    /// The client's view.
    pub probe: ProbeLog,
    /// The writer's records.
    pub writes: WriterLog,
    /// The records checked against the disk.
    pub records: Result<RecordCheck, String>,
}

/// What a finished run leaves to judge.
#[derive(Debug, Clone)]
pub struct RunRecord {
    /// Everything that happened.
    pub entries: Vec<Entry>,
    /// The detectors' findings.
    pub findings: Findings,
    /// Every group's, in order.
    pub groups: Vec<GroupRecord>,
}

/// The client's probe and writer of one group.
#[derive(Debug)]
struct GroupClient {
    probe: Option<Probe>,
    writer: Option<Writer>,
}

/// A running rig.
#[derive(Debug)]
pub struct Rig {
    options: Options,
    timeline: Timeline,
    layout: Layout,
    wardenctl: PathBuf,
    nodes: Vec<String>,
    clients: Vec<GroupClient>,
    detectors: Detectors,
    controller: Box<dyn ControllerUnderTest>,
    board: RelayBoard,
    _boots: BootThread,
    rack: Arc<Rack>,
    lines: Vec<Arc<SerialLine>>,
    disks: Vec<Arc<Disk>>,
    topology: Topology,
    run_dir: RunDir,
    prefix: Prefix,
}

/// The controller a run starts.
#[derive(Debug)]
enum ControllerProgram {
    /// `warden-controller`.
    Linux(PathBuf),
    /// The firmware under QEMU.
    Qemu(Firmware),
}

/// The programs a run starts.
#[derive(Debug)]
struct Programs {
    /// This program (keeper and service).
    rig: PathBuf,
    agent: PathBuf,
    /// The operator's tool, run against a server's agent.
    wardenctl: PathBuf,
    controller: ControllerProgram,
}

impl Programs {
    /// Finds them: this program, and the agent and the controller in
    /// `--bin-dir` or next to it (the firmware where `cargo fw` puts it).
    fn find(options: &Options) -> Result<Self, RigError> {
        let rig = std::env::current_exe().map_err(RigError::io("finding this program"))?;
        let dir = match &options.bin_dir {
            Some(d) => d.clone(),
            None => rig.parent().map(Path::to_owned).unwrap_or_default(),
        };
        let binary = |path: PathBuf, build: &'static str| {
            if path.is_file() {
                Ok(path)
            } else {
                Err(RigError::MissingBinary { path, build })
            }
        };
        const WORKSPACE: &str = "cargo build --release --workspace, or point --bin-dir at the directory that has it";
        if options.controller_realtime.is_some() && options.controller == ControllerKind::Qemu {
            return Err(RigError::Options(
                "--controller-realtime applies to the Linux controller, not to QEMU's firmware".into(),
            ));
        }
        if let Some(priority) = options.agent_realtime.max(options.controller_realtime) {
            crate::host::realtime::can_run_realtime(priority).map_err(|e| {
                RigError::Options(format!(
                    "the system refuses SCHED_FIFO priority {priority} ({e}), which the agents and the controller \
                     run at by default: run as root where real-time scheduling is allowed, or pass \
                     --agent-realtime 0 --controller-realtime 0"
                ))
            })?;
        }
        let controller = match options.controller {
            ControllerKind::Linux => ControllerProgram::Linux(binary(dir.join("warden-controller"), WORKSPACE)?),
            ControllerKind::Qemu => {
                let elf = options
                    .firmware
                    .clone()
                    .unwrap_or_else(|| dir.join("../thumbv7em-none-eabihf/firmware/warden-controller-mcu"));
                ControllerProgram::Qemu(Firmware {
                    elf: binary(elf, "cargo fw, or point --firmware at the ELF")?,
                    config_tool: binary(dir.join("warden-mcu-config"), WORKSPACE)?,
                })
            }
        };
        Ok(Self {
            agent: binary(dir.join("warden-agent"), WORKSPACE)?,
            wardenctl: binary(dir.join("wardenctl"), WORKSPACE)?,
            controller,
            rig,
        })
    }

    /// The rig's wires must never wait for a page: its memory is locked,
    /// and the programs it starts are read once, so that their first start
    /// does not wait for the build machine's disk.
    fn keep_resident(&self) {
        use nix::sys::mman::{mlockall, MlockAllFlags};
        if let Err(e) = mlockall(MlockAllFlags::MCL_CURRENT | MlockAllFlags::MCL_FUTURE) {
            eprintln!("warden-rig: note: the rig's memory is not locked ({e})");
        }
        let controller = match &self.controller {
            ControllerProgram::Linux(p) => p,
            ControllerProgram::Qemu(f) => &f.elf,
        };
        for program in [&self.rig, &self.agent, controller] {
            if let Ok(mut file) = std::fs::File::open(program) {
                let _ = std::io::copy(&mut file, &mut std::io::sink());
            }
        }
    }

    /// What server `node` runs, and where it keeps its things.
    fn install(&self, layout: &Layout, node: &str) -> Result<Install, RigError> {
        let dir = layout.node_dir(node);
        std::fs::create_dir_all(&dir).map_err(RigError::io(format!("creating {}", dir.display())))?;
        let agent = AgentCommand {
            program: self.agent.clone(),
            args: vec![
                "run".into(),
                "--config".into(),
                layout.cluster_file().into(),
                "--node".into(),
                node.into(),
                "--socket".into(),
                dir.join("agent.sock").into(),
                "--state-dir".into(),
                dir.join("state").into(),
            ],
        };
        Ok(Install { rig_exe: self.rig.clone(), agent, state_dir: dir.join("state"), log: dir.join("log") })
    }
}

/// A controller, the ends of its node links and the end of its relay board.
type Wired = (Box<dyn ControllerUnderTest>, Vec<ControllerEnd>, ControllerEnd);

/// The controller of `programs`, not yet started, and the ends the rig's
/// lines and relay board are played on: pseudo-terminals for the Linux
/// controller, QEMU's UART sockets for the firmware.
fn start_controller(
    programs: &Programs,
    layout: &Layout,
    (controller_netns, flaws): (&str, Vec<String>),
    timeline: &Timeline,
) -> Result<Wired, RigError> {
    match &programs.controller {
        ControllerProgram::Linux(program) => {
            let pty = |what: &str| Pty::open().map_err(RigError::io(format!("opening the pty of {what}")));
            let ends = layout.nodes.iter().map(|n| pty(n).map(ControllerEnd::Pty)).collect::<Result<Vec<_>, _>>()?;
            let controller = LinuxController::new(
                program,
                (&layout.cluster_file(), &layout.controller_file()),
                &layout.control_socket(),
                &layout.run_dir.join("controller.log"),
                controller_netns,
                timeline.clone(),
            )
            .with_flaws(flaws);
            Ok((Box::new(controller), ends, ControllerEnd::Pty(pty("the relay board")?)))
        }
        ControllerProgram::Qemu(firmware) => {
            let groups = layout.groups.iter().map(|g| g.spec.name.clone()).collect();
            let (controller, ends) = QemuController::launch(firmware, layout, groups, timeline.clone())?;
            let links = ends.links.into_iter().map(ControllerEnd::Socket).collect();
            Ok((Box::new(controller), links, ControllerEnd::Socket(ends.board)))
        }
    }
}

/// Every server's serial line on its controller end, with links to its
/// ends in the run directory.
fn serial_lines(layout: &Layout, ends: Vec<ControllerEnd>, seed: u64) -> Result<Vec<Arc<SerialLine>>, RigError> {
    let mut lines = Vec::new();
    for ((i, node), end) in layout.nodes.iter().enumerate().zip(ends) {
        let line = SerialLine::open(node, end, seed.wrapping_add(i as u64))?;
        link(line.agent_device(), &layout.agent_tty(node))?;
        if let Some(dev) = line.controller_device() {
            link(dev, &layout.controller_tty(node))?;
        }
        lines.push(Arc::new(line));
    }
    Ok(lines)
}

fn link(target: &Path, at: &Path) -> Result<(), RigError> {
    symlink(target, at).map_err(RigError::io(format!("linking {} to {}", at.display(), target.display())))
}

impl Rig {
    /// Builds everything, boots the servers, starts the controller and
    /// waits until the group runs and the client gets answers.
    ///
    /// # Errors
    ///
    /// [`RigError`] naming what could not be set up; whatever was built is
    /// taken down again.
    pub fn up(options: Options) -> Result<Self, RigError> {
        options.check()?;
        tools::preflight()?;
        leftovers::refuse_if_any()?;
        let programs = Programs::find(&options)?;
        programs.keep_resident();
        let wardenctl = programs.wardenctl.clone();

        let prefix = Prefix::fresh();
        let run_dir = RunDir::create(&prefix)?;
        let timeline = Timeline::new(options.narration);
        let nodes: Vec<String> = SERVER_NAMES.iter().take(options.servers).map(|n| (*n).to_owned()).collect();
        let plan = Plan::default();
        let mac_nic = options.groups.iter().any(|g| g.mac);
        let (topology, nets) = Topology::build(&prefix, &nodes, plan, (options.uplink, mac_nic))?;
        let mut disks = Vec::new();
        let mut groups = Vec::new();
        for (k, spec) in options.groups.iter().enumerate() {
            let image = crate::hardware::disk::image_path(&prefix, run_dir.path(), k, &spec.name);
            let mountpoint =
                run_dir.join(if k == 0 { "srv".to_owned() } else { format!("srv-{}", spec.name) }.as_str());
            let disk = Arc::new(Disk::create(&image, prefix.as_str(), &mountpoint)?);
            groups.push(GroupLayout {
                spec: spec.clone(),
                disk: disk.device().to_owned(),
                mountpoint,
                address: if spec.mac {
                    plan.mac_service(k)
                } else {
                    plan.service(k, spec.family == super::options::Family::V6)
                },
                nic: prefix.interface(if spec.mac { "m" } else { "n" })?,
                port: SERVICE_PORT + u16::try_from(k).unwrap_or(0),
            });
            disks.push(disk);
        }
        let layout = Layout {
            cluster: prefix.as_str().to_owned(),
            run_dir: run_dir.path().to_owned(),
            nodes: nodes.clone(),
            groups,
            nic: prefix.interface("n")?,
            plan,
            rig_exe: programs.rig.clone(),
        };
        std::fs::create_dir_all(layout.faults_dir())
            .map_err(RigError::io(format!("creating {}", layout.faults_dir().display())))?;
        config::write(&layout, &options)?;
        let (controller, ends, board_end) =
            start_controller(&programs, &layout, (topology.controller.name(), options.controller_flaws()), &timeline)?;
        let lines = serial_lines(&layout, ends, options.seed)?;

        let mut servers = Vec::new();
        for ((node, net), line) in nodes.iter().zip(nets).zip(&lines) {
            servers.push(Server::new(node, net, Arc::clone(line), disks.clone(), programs.install(&layout, node)?));
        }
        let watched: Vec<Watched> = servers
            .iter()
            .map(|s| Watched { node: s.name.clone(), netns: s.net.netns.path(), anchor: s.anchor() })
            .collect();
        let rack = Arc::new(Rack::new(servers, timeline.clone(), options.boot_delay));
        let board = RelayBoard::start(board_end, Arc::clone(&rack))?;
        let boots = rack.start_boots()?;
        if let Some(dev) = board.device() {
            link(dev, &layout.relay_tty())?;
        }
        let watched_groups = layout
            .groups
            .iter()
            .zip(&disks)
            .map(|(g, d)| WatchedGroup { name: g.spec.name.clone(), address: g.address, disk: Arc::clone(d) })
            .collect();
        let detectors = Detectors::start(watched, watched_groups, options.detector_interval, timeline.clone())?;
        let mut rig = Self {
            options,
            timeline,
            layout,
            wardenctl,
            nodes,
            clients: Vec::new(),
            detectors,
            controller,
            board,
            _boots: boots,
            rack,
            lines,
            disks,
            topology,
            run_dir,
            prefix,
        };
        let groups: Vec<String> = rig
            .layout
            .groups
            .iter()
            .map(|g| {
                let nodes: Vec<&str> = g.spec.nodes.iter().map(|i| rig.name(*i)).collect();
                format!("{} on {} at {} (disk {})", g.spec.name, nodes.join(","), g.target(), g.disk.display())
            })
            .collect();
        rig.timeline.push(Happening::Note(format!(
            "rig {}: servers {}; groups {}; run directory {}",
            rig.prefix,
            rig.nodes.join(", "),
            groups.join("; "),
            rig.run_dir.path().display()
        )));
        rig.rack.power_up();
        rig.controller.start()?;
        rig.serve_until_answered()?;
        Ok(rig)
    }

    /// Waits for every group's first placement and address, then starts
    /// the group's client probe and writer once its service answers.
    fn serve_until_answered(&mut self) -> Result<(), RigError> {
        for k in 0..self.layout.groups.len() {
            let group = self.layout.groups[k].clone();
            let name = group.spec.name.clone();
            let placed = self.wait(&format!("{name} placed"), Duration::ZERO, |h| {
                matches!(h, Happening::Controller(e) if matches!(&e.kind, ConsoleKind::Placed { group, .. } if *group == name))
            })?;
            let Happening::Controller(e) = &placed.what else { unreachable!("matched above") };
            let ConsoleKind::Placed { node, .. } = &e.kind else { unreachable!("matched above") };
            let node = node.clone();
            // From the start, not from the placement: the firmware's log line
            // reaches the timeline through defmt-print, and can come after the
            // agent has already configured the address.
            self.wait(
                &format!("{name}'s service address on {node}"),
                Duration::ZERO,
                |h| matches!(h, Happening::Address { group, node: n, present: true } if *n == node && *group == name),
            )?;
            let client = self.topology.client.path();
            let interval = self.options.probe_interval;
            let probe = Probe::start(client.clone(), name.clone(), group.target(), interval, self.timeline.clone())?;
            self.clients.push(GroupClient { probe: Some(probe), writer: None });
            self.wait(
                &format!("the client answered for {name} by {node}"),
                Duration::ZERO,
                |h| matches!(h, Happening::Answering { group, .. } if *group == name),
            )?;
            let writer = Writer::start(
                client,
                name.clone(),
                group.target(),
                self.options.write_interval,
                self.timeline.clone(),
            )?;
            if let Some(c) = self.clients.last_mut() {
                c.writer = Some(writer);
            }
        }
        Ok(())
    }

    /// The run's timeline.
    #[must_use]
    pub fn timeline(&self) -> &Timeline {
        &self.timeline
    }

    /// The options it runs with.
    #[must_use]
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The servers' names.
    #[must_use]
    pub fn nodes(&self) -> &[String] {
        &self.nodes
    }

    /// The index of server `name`.
    #[must_use]
    pub fn index(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n == name)
    }

    /// The name of server `index`.
    #[must_use]
    pub fn name(&self, index: usize) -> &str {
        self.nodes.get(index).map_or("?", String::as_str)
    }

    /// The run directory.
    #[must_use]
    pub fn run_dir(&self) -> &Path {
        self.run_dir.path()
    }

    /// The server that holds the first group's service address now (the
    /// detectors' view).
    #[must_use]
    pub fn holder(&self) -> Option<usize> {
        self.holder_of(0)
    }

    /// The server that holds group `group`'s service address now.
    #[must_use]
    pub fn holder_of(&self, group: usize) -> Option<usize> {
        self.detectors.findings().holder(group)
    }

    /// The index of group `name`.
    #[must_use]
    pub fn group_index(&self, name: &str) -> Option<usize> {
        self.layout.groups.iter().position(|g| g.spec.name == name)
    }

    /// The groups' names, in order.
    #[must_use]
    pub fn group_names(&self) -> Vec<String> {
        self.layout.groups.iter().map(|g| g.spec.name.clone()).collect()
    }

    /// Raises or lowers a server-side fault flag on server `index`.
    ///
    /// # Errors
    ///
    /// [`RigError::Io`] when the flag's file cannot be written or removed.
    pub fn set_flag(&self, index: usize, flag: FaultFlag, up: bool) -> Result<(), RigError> {
        let path = self.layout.fault_flag(self.name(index), flag);
        let what = match (flag, up) {
            (FaultFlag::Sick, true) => "service made sick (its monitor fails)",
            (FaultFlag::Sick, false) => "service healed",
            (FaultFlag::Stuck, true) => "disk release made to fail (deactivate exits 1)",
            (FaultFlag::Stuck, false) => "disk release mended",
        };
        if up {
            std::fs::write(&path, b"").map_err(RigError::io(format!("writing {}", path.display())))?;
        } else if let Err(e) = std::fs::remove_file(&path) {
            if e.kind() != std::io::ErrorKind::NotFound {
                return Err(RigError::Io { what: format!("removing {}", path.display()), source: e });
            }
        }
        self.timeline.push(Happening::Fault { node: self.name(index).to_owned(), what: what.to_owned() });
        Ok(())
    }

    /// Cuts or restores server `index`'s uplink (its switch port there).
    ///
    /// # Errors
    ///
    /// [`RigError`] when the rig has no uplink or `ip` fails.
    pub fn set_uplink(&self, index: usize, up: bool) -> Result<(), RigError> {
        if !self.options.uplink {
            return Err(RigError::Options("this rig has no uplink (--uplink)".into()));
        }
        let port = crate::host::topology::uplink_port(&self.prefix, index)?;
        let state = if up { "up" } else { "down" };
        tools::ip_batch(Some(self.topology.switch.name()), &[format!("link set dev {port} {state}")])?;
        let what = if up { "uplink restored" } else { "uplink cut (its ping node unreachable)" };
        self.timeline.push(Happening::Fault { node: self.name(index).to_owned(), what: what.to_owned() });
        Ok(())
    }

    /// Cuts or restores server `index`'s UDP link to the controller (a
    /// blackhole route to the controller's port in the server's namespace:
    /// the server still serves clients).
    ///
    /// # Errors
    ///
    /// [`RigError`] when the rig has no UDP links or `ip` fails.
    pub fn set_udp_link(&self, index: usize, up: bool) -> Result<(), RigError> {
        if !self.options.udp() {
            return Err(RigError::Options("this rig has no UDP links (the Linux controller, --media both)".into()));
        }
        let netns = self.rack.with_server(index, |s| s.net.netns.name().to_owned()).unwrap_or_default();
        let verb = if up { "del" } else { "replace" };
        tools::ip_batch(Some(&netns), &[format!("route {verb} blackhole {}/32", self.layout.plan.controller)])?;
        let what = if up { "UDP link restored" } else { "UDP link cut (no route to the controller)" };
        self.timeline.push(Happening::Fault { node: self.name(index).to_owned(), what: what.to_owned() });
        Ok(())
    }

    /// Waits for the first entry at or after `since` that `matches`; fails
    /// on SIGINT/SIGTERM, if the controller exits, or after [`BOUND`], with
    /// the ends of the logs.
    ///
    /// # Errors
    ///
    /// [`RigError::NeverSaw`], [`RigError::Interrupted`], [`RigError::Broken`].
    pub fn wait(
        &mut self,
        what: &str,
        since: Duration,
        matches: impl FnMut(&Happening) -> bool,
    ) -> Result<Entry, RigError> {
        let controller = &mut self.controller;
        let result = self.timeline.wait_for(what, since, BOUND, matches, || {
            signals::check()?;
            match controller.exited() {
                Some(status) => Err(RigError::Broken(format!("the controller exited ({status})"))),
                None => Ok(()),
            }
        });
        result.map_err(|e| match e {
            RigError::NeverSaw { what, waited, .. } => RigError::NeverSaw { what, waited, context: self.context() },
            RigError::Broken(m) => RigError::Broken(format!("{m} while waiting for {what}\n{}", self.context())),
            other => other,
        })
    }

    /// What the detectors found so far, the ends of the controller's and
    /// the servers' logs.
    #[must_use]
    pub fn context(&self) -> String {
        let mut out = String::new();
        for e in self.timeline.entries() {
            if let Happening::Violation(v) = &e.what {
                out.push_str(&format!("VIOLATION at {:.3} s: {v}\n", e.at.as_secs_f64()));
            }
        }
        out.push_str(&format!("--- controller ({}) ---\n{}\n", self.controller.kind(), self.controller.log_tail(25)));
        for node in &self.nodes {
            let text = self.node_log(node);
            let tail: Vec<&str> = text.lines().rev().take(15).collect();
            out.push_str(&format!("--- {node} ({}) ---\n", self.node_log_path(node).display()));
            for l in tail.into_iter().rev() {
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    }

    /// Where server `node`'s keeper and agent write, every boot.
    #[must_use]
    pub fn node_log_path(&self, node: &str) -> PathBuf {
        self.layout.node_dir(node).join("log")
    }

    /// What server `node`'s keeper and agent wrote so far (empty when
    /// nothing yet).
    #[must_use]
    pub fn node_log(&self, node: &str) -> String {
        std::fs::read_to_string(self.node_log_path(node)).unwrap_or_default()
    }

    /// Cuts or restores server `index`'s own supply.
    pub fn set_supply(&self, index: usize, on: bool) {
        self.rack.set_supply(index, on);
    }

    /// Welds server `index`'s relay contacts shut, or mends them.
    pub fn weld_relay(&self, index: usize, welded: bool) {
        self.rack.set_welded(index, welded);
        let what = if welded { "relay contacts welded shut" } else { "relay contacts mended" };
        self.timeline.push(Happening::Fault { node: self.name(index).to_owned(), what: what.to_owned() });
    }

    /// Kills server `index`'s agent.
    pub fn kill_agent(&self, index: usize) {
        let killed = self.rack.with_server(index, |s| s.kill_agent()).unwrap_or(0);
        self.timeline.push(Happening::Fault {
            node: self.name(index).to_owned(),
            what: format!("agent killed (SIGKILL, {killed} process)"),
        });
    }

    /// Stops (`hang`) or resumes every process of server `index`.
    pub fn hang(&self, index: usize, hung: bool) {
        self.rack.with_server(index, |s| if hung { s.hang() } else { s.resume() });
        let what = if hung { "host hung (SIGSTOP of every process)" } else { "host resumed (SIGCONT)" };
        self.timeline.push(Happening::Fault { node: self.name(index).to_owned(), what: what.to_owned() });
    }

    /// Sets what server `index`'s serial line does to its bytes.
    pub fn set_line_fault(&self, index: usize, fault: LineFault) {
        if let Some(line) = self.lines.get(index) {
            line.set_fault(fault);
            self.timeline
                .push(Happening::Fault { node: self.name(index).to_owned(), what: format!("serial line: {fault:?}") });
        }
    }

    /// What server `index`'s serial line carried: (up to the controller,
    /// down to the server).
    #[must_use]
    pub fn line_carried(
        &self,
        index: usize,
    ) -> Option<(crate::hardware::serial::Carried, crate::hardware::serial::Carried)> {
        self.lines.get(index).map(|l| l.carried())
    }

    /// Wedges `node`'s link on the controller (the firmware's fault injection).
    ///
    /// # Errors
    ///
    /// [`RigError`] when the controller cannot.
    pub fn wedge_link(&mut self, node: &str) -> Result<(), RigError> {
        self.controller.wedge_link(node)?;
        self.timeline.push(Happening::Fault { node: node.to_owned(), what: "controller's link wedged".into() });
        Ok(())
    }

    /// Which controller runs.
    #[must_use]
    pub fn controller_kind(&self) -> &'static str {
        self.controller.kind()
    }

    /// Kills the controller (a crash).
    ///
    /// # Errors
    ///
    /// [`RigError`] when it was not running.
    pub fn kill_controller(&mut self) -> Result<(), RigError> {
        self.controller.kill()
    }

    /// Starts the controller again, on lines cleared of what the dead one
    /// left unread.
    ///
    /// # Errors
    ///
    /// [`RigError`] when it cannot start.
    pub fn start_controller(&mut self) -> Result<(), RigError> {
        for line in &self.lines {
            line.flush_controller_end();
        }
        self.board.flush_controller_end();
        self.controller.start()
    }

    /// Asks the controller, as `wardenctl` does.
    ///
    /// # Errors
    ///
    /// [`RigError`] when it cannot be asked.
    pub fn ask(&mut self, request: &str) -> Result<Value, RigError> {
        self.controller.ask(request)
    }

    /// Runs `wardenctl ARGS` against server `via`'s agent, as an operator
    /// on that server would, and returns its exit status and output.
    ///
    /// # Errors
    ///
    /// [`RigError::Io`] when it cannot be run.
    pub fn wardenctl(&self, via: usize, args: &[&str]) -> Result<(i32, String), RigError> {
        let socket = self.layout.node_dir(self.name(via)).join("agent.sock");
        let out = Command::new(&self.wardenctl)
            .args(args)
            .arg("--socket")
            .arg(&socket)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(RigError::io(format!("running {}", self.wardenctl.display())))?;
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        Ok((out.status.code().unwrap_or(-1), text))
    }

    /// Runs `wardenctl ARGS --controller ...` on the client, a host with no
    /// agent, against the controller's operator endpoint; its exit status
    /// and output.
    ///
    /// # Errors
    ///
    /// [`RigError::Io`] when it cannot be run.
    pub fn wardenctl_direct(&self, args: &[&str]) -> Result<(i32, String), RigError> {
        let endpoint = format!("{}:{}", self.layout.plan.controller, super::config::OPERATOR_PORT);
        let out = crate::host::tools::command("ip")
            .args(["netns", "exec", self.topology.client.name()])
            .arg(&self.wardenctl)
            .args(args)
            .args(["--controller", &endpoint, "--config"])
            .arg(self.layout.run_dir.join("cluster.toml"))
            .output()
            .map_err(RigError::io(format!("running {}", self.wardenctl.display())))?;
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        Ok((out.status.code().unwrap_or(-1), text))
    }

    /// A Warden program beside `wardenctl` (`fence_warden`).
    ///
    /// # Errors
    ///
    /// [`RigError::MissingBinary`] when it is not built.
    pub fn program(&self, name: &str) -> Result<PathBuf, RigError> {
        let path = self.wardenctl.with_file_name(name);
        if path.is_file() {
            Ok(path)
        } else {
            Err(RigError::MissingBinary { path, build: "cargo build --workspace, or point --bin-dir at it" })
        }
    }

    /// The files, names and addresses of the run.
    #[must_use]
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The client's network namespace (a host on the rig's network).
    #[must_use]
    pub fn client_netns(&self) -> &str {
        self.topology.client.name()
    }

    /// The client's network namespace file (for threads that enter it).
    #[must_use]
    pub fn client_netns_path(&self) -> PathBuf {
        self.topology.client.path()
    }

    /// Where the Linux controller serves its metrics (`None`: the firmware
    /// under QEMU has none).
    #[must_use]
    pub fn controller_metrics(&self) -> Option<std::net::SocketAddr> {
        (self.options.controller == ControllerKind::Linux)
            .then(|| (self.layout.plan.controller, config::CONTROLLER_METRICS_PORT).into())
    }

    /// Where server `index`'s agent serves its metrics, on its base address.
    #[must_use]
    pub fn agent_metrics(&self, index: usize) -> std::net::SocketAddr {
        (self.layout.plan.server(index), config::AGENT_METRICS_PORT).into()
    }

    /// Whether server `index`'s relay is on.
    #[must_use]
    pub fn relay(&self, index: usize) -> bool {
        self.rack.relay(index)
    }

    /// Whether server `index` has power.
    #[must_use]
    pub fn powered(&self, index: usize) -> bool {
        self.rack.powered(index)
    }

    /// The client's view of the first group so far.
    #[must_use]
    pub fn probe_log(&self) -> ProbeLog {
        self.probe_log_of(0)
    }

    /// The client's view of group `group` so far.
    #[must_use]
    pub fn probe_log_of(&self, group: usize) -> ProbeLog {
        self.clients.get(group).and_then(|c| c.probe.as_ref()).map(Probe::log).unwrap_or_default()
    }

    /// The first group's writer's records so far.
    #[must_use]
    pub fn writer_log(&self) -> WriterLog {
        self.clients.first().and_then(|c| c.writer.as_ref()).map(Writer::log).unwrap_or_default()
    }

    /// Waits until the first group's writer has `n` more acknowledged
    /// records than now.
    ///
    /// # Errors
    ///
    /// [`RigError::NeverSaw`] when the writer stalls, with the logs;
    /// [`RigError::Interrupted`].
    pub fn wait_records(&mut self, n: usize) -> Result<(), RigError> {
        self.wait_records_of(0, n)
    }

    /// Waits until group `group`'s writer has `n` more acknowledged records
    /// than now.
    ///
    /// # Errors
    ///
    /// As [`Rig::wait_records`].
    pub fn wait_records_of(&mut self, group: usize, n: usize) -> Result<(), RigError> {
        let Some(writer) = self.clients.get(group).and_then(|c| c.writer.as_ref()) else {
            return Err(RigError::Broken(format!("group {group}'s writer is not running")));
        };
        let target = writer.log().acked.len() + n;
        let controller = &mut self.controller;
        let reached = writer.wait_acked(target, BOUND, || {
            signals::check()?;
            match controller.exited() {
                Some(status) => Err(RigError::Broken(format!("the controller exited ({status})"))),
                None => Ok(()),
            }
        })?;
        if reached {
            Ok(())
        } else {
            Err(RigError::NeverSaw {
                what: format!("{n} more acknowledged records of {}", self.layout.groups[group].spec.name),
                waited: BOUND,
                context: self.context(),
            })
        }
    }

    /// The detectors' findings so far.
    #[must_use]
    pub fn findings(&self) -> Findings {
        self.detectors.findings()
    }

    /// Ends the run: the clients and the writers stop, the controller
    /// stops, every server loses power, and each writer's acknowledged
    /// records are looked for on its group's disk as the next holder would
    /// find it.
    #[must_use]
    pub fn finish(mut self) -> RunRecord {
        let logs: Vec<(ProbeLog, WriterLog)> = std::mem::take(&mut self.clients)
            .into_iter()
            .map(|mut c| {
                (
                    c.probe.take().map(|p| p.log()).unwrap_or_default(),
                    c.writer.take().map(Writer::finish).unwrap_or_default(),
                )
            })
            .collect();
        self.controller.stop();
        self.rack.power_down();
        let groups = self
            .layout
            .groups
            .iter()
            .zip(&self.disks)
            .zip(logs.into_iter().chain(std::iter::repeat_with(Default::default)))
            .map(|((g, disk), (probe, writes))| {
                let records =
                    disk.read_file(RECORDS).map(|c| writer::check(&writes, c.as_deref())).map_err(|e| e.to_string());
                GroupRecord { name: g.spec.name.clone(), probe, writes, records }
            })
            .collect();
        RunRecord { entries: self.timeline.entries(), findings: self.detectors.findings(), groups }
    }
}

impl Rig {
    /// Copies the run's logs, files and timeline to `dir`.
    fn keep_logs(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        for name in ["controller.log", "cluster.toml", "controller.toml"] {
            let _ = std::fs::copy(self.run_dir.join(name), dir.join(name));
        }
        for node in &self.nodes {
            let _ = std::fs::copy(self.node_log_path(node), dir.join(format!("{node}.log")));
        }
        let text: String = self.timeline.entries().iter().map(|e| e.line() + "\n").collect();
        std::fs::write(dir.join("timeline.txt"), text)
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.clients.clear();
        self.controller.stop();
        self.rack.power_down();
        if let Some(dir) = self.options.keep_logs.clone() {
            if let Err(e) = self.keep_logs(&dir) {
                eprintln!("warden-rig: keeping the logs in {}: {e}", dir.display());
            }
        }
    }
}
