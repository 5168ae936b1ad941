//! One simulated server: its network namespace and NIC, its serial line,
//! its processes. What power does to it:
//!
//! * **boot**: factory MAC, base address, NIC up; an empty state directory
//!   (`/run` is a tmpfs on a real server); the serial line alive; then the
//!   keeper ([`crate::host::keeper`]) makes the server's mount namespace and
//!   starts the agent.
//! * **power off**, in the order a power cut imposes: the serial line goes
//!   dead; every process stops at once (`SIGSTOP`, the CPU halts); the
//!   shared disk, if this server has it mounted, stops taking writes
//!   ([`Disk::cut_for`]); every process is killed, the keeper last (so it
//!   reaps the others); the NIC goes down (the switch port loses carrier)
//!   and forgets its addresses and MAC; the rig waits until the disk is
//!   free. Only then does the relay board report the power off.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::unistd::Pid;

use super::disk::Disk;
use super::serial::SerialLine;
use crate::host::procs;
use crate::host::tools;
use crate::host::topology::ServerNet;
use crate::RigError;

/// How long killed processes, and the disk they held, may take to be gone.
const GONE_BOUND: Duration = Duration::from_secs(10);

/// What the keeper runs: the agent's command line.
#[derive(Debug, Clone)]
pub struct AgentCommand {
    /// `warden-agent`.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<OsString>,
}

/// What is installed on a server: what it runs at boot, where it keeps
/// its state (wiped at every boot, as `/run` is) and its log.
#[derive(Debug, Clone)]
pub struct Install {
    /// `warden-rig`, which runs the keeper.
    pub rig_exe: PathBuf,
    /// The agent.
    pub agent: AgentCommand,
    /// The agent's state directory.
    pub state_dir: PathBuf,
    /// The log of every boot (keeper, agent, service).
    pub log: PathBuf,
}

/// One server.
#[derive(Debug)]
pub struct Server {
    /// Its node name.
    pub name: String,
    /// Its network.
    pub net: ServerNet,
    /// Its serial line to the controller.
    pub line: Arc<SerialLine>,
    disks: Vec<Arc<Disk>>,
    install: Install,
    keeper: Option<Child>,
    /// The keeper's pid while the server runs (0 when off): the detectors
    /// read the server's mounts through it.
    anchor: Arc<AtomicI32>,
    boots: u32,
}

/// What a power-off found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PowerOff {
    /// Processes killed (the keeper included).
    pub killed: usize,
    /// Whether a shared disk was mounted there.
    pub had_disk: bool,
}

impl Server {
    /// A server that is off.
    #[must_use]
    pub fn new(name: &str, net: ServerNet, line: Arc<SerialLine>, disks: Vec<Arc<Disk>>, install: Install) -> Self {
        Self {
            name: name.to_owned(),
            net,
            line,
            disks,
            install,
            keeper: None,
            anchor: Arc::new(AtomicI32::new(0)),
            boots: 0,
        }
    }

    /// The keeper's pid cell, for the detectors.
    #[must_use]
    pub fn anchor(&self) -> Arc<AtomicI32> {
        Arc::clone(&self.anchor)
    }

    /// Its log file (keeper and agent output, every boot).
    #[must_use]
    pub fn log(&self) -> &std::path::Path {
        &self.install.log
    }

    /// Whether it is running (booted and not powered off).
    #[must_use]
    pub fn is_running(&self) -> bool {
        self.keeper.is_some()
    }

    /// Boots it (see the module docs).
    ///
    /// # Errors
    ///
    /// [`RigError`] naming what could not be done.
    pub fn boot(&mut self) -> Result<(), RigError> {
        let Install { rig_exe, agent, state_dir, log } = &self.install;
        tools::ip_batch(Some(self.net.netns.name()), &self.net.boot_lines())?;
        let _ = std::fs::remove_dir_all(state_dir);
        std::fs::create_dir_all(state_dir).map_err(RigError::io(format!("creating {}", state_dir.display())))?;
        self.boots += 1;
        let log_path = log;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_path)
            .map_err(RigError::io(format!("opening {}", log_path.display())))?;
        {
            use std::io::Write as _;
            let _ = writeln!(&log, "--- {} boot {} ---", self.name, self.boots);
        }
        let err = log.try_clone().map_err(RigError::io(format!("opening {}", log_path.display())))?;
        self.line.set_powered(true);
        let keeper = Command::new(rig_exe)
            .arg("keeper")
            .arg("--netns")
            .arg(self.net.netns.path())
            .arg("--server")
            .arg(&self.name)
            .arg("--")
            .arg(&agent.program)
            .args(&agent.args)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(RigError::io(format!("starting {}'s keeper ({})", self.name, rig_exe.display())))?;
        self.anchor.store(i32::try_from(keeper.id()).unwrap_or(0), Ordering::SeqCst);
        self.keeper = Some(keeper);
        Ok(())
    }

    fn keeper_pid(&self) -> Option<Pid> {
        self.keeper.as_ref().and_then(|k| i32::try_from(k.id()).ok()).map(Pid::from_raw)
    }

    /// Every process of the server, the keeper included.
    #[must_use]
    pub fn processes(&self) -> Vec<Pid> {
        procs::in_netns(self.net.netns.inode())
    }

    /// Cuts its power (see the module docs).
    ///
    /// # Errors
    ///
    /// [`RigError::Broken`] when processes or the disk are not gone in time:
    /// the rig cannot honestly report the power off then.
    pub fn power_off(&mut self) -> Result<PowerOff, RigError> {
        self.line.set_powered(false);
        let keeper = self.keeper_pid();
        let pids = self.processes();
        procs::signal_all(&pids, keeper, Signal::SIGSTOP);
        let held: Vec<Arc<Disk>> =
            self.disks.iter().filter(|d| keeper.is_some_and(|k| d.mounted_for(k))).cloned().collect();
        let had_disk = !held.is_empty();
        let mut problems = Vec::new();
        if let Some(k) = keeper {
            for disk in &held {
                if let Err(e) = disk.cut_for(k) {
                    problems.push(format!("{} could not be cut: {e}", disk.device().display()));
                }
            }
        }
        // The NIC goes down while the processes are killed (an `ip` of the
        // rig's in the server's namespace, spared by the kill below).
        let nic = tools::IpBatch::start(Some(self.net.netns.name()), &self.net.power_off_lines());
        let ip_pid = nic.as_ref().ok().and_then(|b| i32::try_from(b.pid()).ok()).map(Pid::from_raw);
        let mut killed = std::collections::BTreeSet::new();
        let deadline = Instant::now() + GONE_BOUND;
        loop {
            let left: Vec<Pid> =
                self.processes().into_iter().filter(|p| Some(*p) != keeper && Some(*p) != ip_pid).collect();
            if left.is_empty() {
                break;
            }
            if Instant::now() > deadline {
                problems.push(format!("processes {left:?} still alive after SIGKILL"));
                break;
            }
            procs::signal_all(&left, None, Signal::SIGKILL);
            killed.extend(left);
            std::thread::sleep(Duration::from_micros(200));
        }
        if let Some(mut k) = self.keeper.take() {
            let _ = k.kill();
            let _ = k.wait();
            killed.insert(keeper.unwrap_or(Pid::from_raw(0)));
        }
        self.anchor.store(0, Ordering::SeqCst);
        if let Err(e) = nic.and_then(tools::IpBatch::finish) {
            problems.push(e.to_string());
        }
        let deadline = Instant::now() + GONE_BOUND;
        for disk in &held {
            while !disk.is_free() {
                if Instant::now() > deadline {
                    problems.push(format!("{} still in use after the power loss", disk.device().display()));
                    break;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        if problems.is_empty() {
            Ok(PowerOff { killed: killed.len(), had_disk })
        } else {
            Err(RigError::Broken(format!("powering {} off: {}", self.name, problems.join("; "))))
        }
    }

    /// Stops every process but the keeper (a hung host).
    pub fn hang(&self) {
        procs::signal_all(&self.processes(), self.keeper_pid(), Signal::SIGSTOP);
    }

    /// Lets stopped processes run again.
    pub fn resume(&self) {
        procs::signal_all(&self.processes(), None, Signal::SIGCONT);
    }

    /// Kills the agent (`SIGKILL`); returns how many were killed.
    #[must_use]
    pub fn kill_agent(&self) -> usize {
        let agents: Vec<Pid> =
            self.processes().into_iter().filter(|p| procs::comm(*p).as_deref() == Some("warden-agent")).collect();
        procs::signal_all(&agents, None, Signal::SIGKILL);
        agents.len()
    }
}
