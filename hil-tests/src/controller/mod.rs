//! The controller under test, behind one trait so the rig runs the same
//! scenarios against the Linux controller (a process, here) and the
//! firmware under QEMU ([`qemu`], its defmt log put in the Linux
//! controller's words by [`firmware_log`]); [`console`] parses the lines of
//! both. A controller is started, killed (a crash: no chance to clean up),
//! started again, and asked for its status and operator commands as
//! `wardenctl` asks (one request line, one JSON answer). Its console lines
//! go to the run's timeline as they come.

pub mod console;
pub mod firmware_log;
pub mod qemu;

use std::ffi::OsString;
use std::io::{BufRead as _, BufReader, Read, Write as _};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::Value;

use self::console::{ConsoleEvent, ConsoleKind};
use crate::watch::timeline::{Happening, Timeline, BOUND};
use crate::RigError;

/// How long an answer on the control socket may take.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// A controller the rig runs.
pub trait ControllerUnderTest: Send + std::fmt::Debug {
    /// `linux` or `qemu`.
    fn kind(&self) -> &'static str;

    /// Starts it and waits until it runs.
    ///
    /// # Errors
    ///
    /// [`RigError`] when it cannot start or exits.
    fn start(&mut self) -> Result<(), RigError>;

    /// Kills it at once (`SIGKILL`, or QEMU's quit), as a crash or a reset.
    ///
    /// # Errors
    ///
    /// [`RigError`] when it was not running.
    fn kill(&mut self) -> Result<(), RigError>;

    /// Stops it cleanly, if it runs.
    fn stop(&mut self);

    /// Sends one request (`status`, `unfence NODE`, ...) and returns the
    /// answer, as the Linux controller's control socket gives it.
    ///
    /// # Errors
    ///
    /// [`RigError`] when it cannot be asked or answers with something else than JSON.
    fn ask(&mut self, request: &str) -> Result<Value, RigError>;

    /// Disables the transmitter of `node`'s link (the firmware's `wedge`
    /// fault injection), so that link driver stalls.
    ///
    /// # Errors
    ///
    /// [`RigError::Options`] for a controller that cannot.
    fn wedge_link(&mut self, node: &str) -> Result<(), RigError> {
        Err(RigError::Options(format!("the {} controller cannot wedge {node}'s link", self.kind())))
    }

    /// How it ended, if it ended without being asked to.
    fn exited(&mut self) -> Option<String>;

    /// The end of its console.
    fn log_tail(&self, lines: usize) -> String;
}

/// `warden-controller` as a process.
#[derive(Debug)]
pub struct LinuxController {
    program: PathBuf,
    cluster: PathBuf,
    hardware: PathBuf,
    socket: PathBuf,
    netns: String,
    timeline: Timeline,
    child: Option<Child>,
    starts: u32,
    log: Arc<Mutex<Vec<String>>>,
    log_file: PathBuf,
    flaws: Vec<String>,
}

impl LinuxController {
    /// Plants `flaws` (deliberate bugs) in it at every start: only a
    /// `warden-controller` built with its `flaws` feature can.
    #[must_use]
    pub fn with_flaws(mut self, flaws: Vec<String>) -> Self {
        self.flaws = flaws;
        self
    }

    /// A controller to run `program` on these files, its console kept in
    /// `log_file` (its scheduling is in its hardware file), in the network
    /// namespace `netns` (its UDP links' port).
    #[must_use]
    pub fn new(
        program: &Path,
        files: (&Path, &Path),
        socket: &Path,
        log_file: &Path,
        netns: &str,
        timeline: Timeline,
    ) -> Self {
        let (cluster, hardware) = files;
        Self {
            program: program.to_owned(),
            cluster: cluster.to_owned(),
            hardware: hardware.to_owned(),
            socket: socket.to_owned(),
            netns: netns.to_owned(),
            timeline,
            child: None,
            starts: 0,
            log: Arc::new(Mutex::new(Vec::new())),
            log_file: log_file.to_owned(),
            flaws: Vec::new(),
        }
    }

    fn command(&self) -> Command {
        let args: Vec<OsString> =
            vec!["--cluster".into(), self.cluster.clone().into(), "--controller".into(), self.hardware.clone().into()];
        // `ip netns exec` enters the namespace and executes the program in
        // its own process: the process id is the controller's.
        let mut c = crate::host::tools::ip(None);
        c.args(["netns", "exec", &self.netns]).arg(&self.program);
        c.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        if !self.flaws.is_empty() {
            c.env("WARDEN_PLANT_FLAWS", self.flaws.join(","));
        }
        c
    }

    /// Its process id, while it runs.
    #[must_use]
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

impl ControllerUnderTest for LinuxController {
    fn kind(&self) -> &'static str {
        "linux"
    }

    fn start(&mut self) -> Result<(), RigError> {
        let mut child = self.command().spawn().map_err(RigError::io(format!("starting {}", self.program.display())))?;
        let since = self.timeline.now();
        let restart = self.starts > 0;
        self.starts += 1;
        for stream in [
            child.stdout.take().map(|s| Box::new(s) as Box<dyn Read + Send>),
            child.stderr.take().map(|s| Box::new(s) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let (timeline, log) = (self.timeline.clone(), Arc::clone(&self.log));
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.log_file)
                .map_err(RigError::io(format!("opening {}", self.log_file.display())))?;
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    let at = timeline.now();
                    let _ = writeln!(file, "{line}");
                    log.lock().unwrap_or_else(PoisonError::into_inner).push(line.clone());
                    timeline.push_at(at, Happening::Controller(ConsoleEvent::parse(&line)));
                }
            });
        }
        self.child = Some(child);
        self.timeline.push(Happening::ControllerStarted { restart });
        let (timeline, log) = (self.timeline.clone(), Arc::clone(&self.log));
        let child = &mut self.child;
        let started = timeline.wait_for(
            "the controller's start line",
            since,
            BOUND,
            |h| matches!(h, Happening::Controller(e) if e.kind == ConsoleKind::Started),
            || match child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                Some(status) => Err(RigError::Broken(format!(
                    "warden-controller exited ({status}) while starting:\n{}",
                    tail(&log, 20)
                ))),
                None => Ok(()),
            },
        );
        started?;
        let log = tail(&self.log, usize::MAX);
        if let Some(flaw) = self.flaws.iter().find(|f| !log.contains(&format!("PLANTED FLAW {f}:"))) {
            return Err(RigError::Options(format!(
                "{} did not plant the flaw `{flaw}`: build the programs with it in a directory of their own \
                 (`cargo build --release -p warden-controller-linux -p warden-agent -p warden-tools -p warden-rig \
                 --features warden-controller-linux/flaws --target-dir target/flaws`) and run that \
                 target/flaws/release/warden-rig",
                self.program.display()
            )));
        }
        Ok(())
    }

    fn kill(&mut self) -> Result<(), RigError> {
        let Some(mut child) = self.child.take() else {
            return Err(RigError::Broken("the controller is not running".into()));
        };
        child.kill().map_err(RigError::io("killing the controller"))?;
        let _ = child.wait();
        self.timeline.push(Happening::ControllerKilled);
        Ok(())
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Ok(pid) = i32::try_from(child.id()) {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM);
            }
            let _ = child.wait();
        }
    }

    fn ask(&mut self, request: &str) -> Result<Value, RigError> {
        let what = || format!("asking the controller `{request}` on {}", self.socket.display());
        let mut stream = UnixStream::connect(&self.socket).map_err(RigError::io(what()))?;
        stream.set_read_timeout(Some(ANSWER_TIMEOUT)).map_err(RigError::io(what()))?;
        writeln!(stream, "{request}").map_err(RigError::io(what()))?;
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).map_err(RigError::io(what()))?;
        serde_json::from_str(&line)
            .map_err(|e| RigError::Broken(format!("{}: the answer is not JSON ({e}): {line:?}", what())))
    }

    fn exited(&mut self) -> Option<String> {
        let status = self.child.as_mut()?.try_wait().ok().flatten()?;
        self.child = None;
        Some(status.to_string())
    }

    fn log_tail(&self, lines: usize) -> String {
        tail(&self.log, lines)
    }
}

/// The last `lines` lines of a console log.
fn tail(log: &Mutex<Vec<String>>, lines: usize) -> String {
    let log = log.lock().unwrap_or_else(PoisonError::into_inner);
    log.iter().skip(log.len().saturating_sub(lines)).cloned().collect::<Vec<_>>().join("\n")
}

impl Drop for LinuxController {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
