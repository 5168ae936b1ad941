//! Boot and the main loop: the core's controller driven by real devices.
//!
//! Boot follows rule 4: the fence file is read and every relay's sense is
//! read *before* the controller starts; nothing is switched by starting.
//! Then the loop waits (poll(2)) on every link, the control socket and the
//! signals, until the controller's next timeout, the next sense poll, a
//! link's retry, or the next status table; and after every step it carries
//! out the controller's outputs strictly in order:
//!
//! * `Persist`: written to the fence file (fsync, rename, directory fsync)
//!   before the next output. If it cannot be written, the relay switch it
//!   guards is not carried out and an alarm line is printed.
//! * `Power`: handed to the relay thread ([`crate::relay_worker`]), after
//!   the fence record it follows is durable; the sense is read again at once
//!   to confirm. A switch the hardware refused is tried again at every sense
//!   poll until it is taken or superseded. The relays (switching, sense
//!   polling) never hold the loop: a relay module that answers slowly or
//!   not at all does not keep the links unread.
//! * `Send`: encoded once and written on every link to the node.
//! * `Alarm`: a console line, and the cluster's alert command run with the
//!   event in its environment.
//! * `FeedWatchdog`: the hardware watchdog is fed only if no link driver is
//!   stalled (see [`crate::links`] for what progress means).
//!
//! SIGTERM and SIGINT end the loop without touching any relay: a restarted
//! controller finds them as they were. The watchdog is not disarmed: a
//! controller that is not started again within its timeout resets the
//! board. SIGUSR1 prints the status table.

use std::io::Read as _;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::PathBuf;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use serde_json::json;
use warden_bsp::linux::log_lines::{self, Stream};
use warden_bsp::linux::{realtime, DevWatchdog, FenceFile, MonotonicClock};
use warden_bsp::{Channel, Clock, FenceStore, Watchdog};
use warden_cluster::hardware::ControllerConfig;
use warden_cluster::{frame_auth, ClusterFile};
use warden_core::controller::{Boot, Controller, Event, Output, Persisted};
use warden_core::wire::{encode, Auth, BoardCounters, Body, Op, Reply, MAX_FRAME};
use warden_core::{Duration, Instant, NodeId, MAX_NODES};

use crate::alert::{Alert, Alerts, QUEUE};
use crate::control::{self, ControlSocket, Request};
use crate::links::Links;
use crate::metrics::{Metrics, RelayOp};
use crate::operator::OperatorPort;
use crate::relay_worker::{Done, Job, RelayWorker};
use crate::relays::Relays;
use crate::report;

/// Longest wait in one poll(2), so a stuck clock source cannot park the loop.
const MAX_WAIT_MS: u64 = 1000;

/// Why the controller could not start (or had to stop).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The cluster key could not be read.
    #[error("cluster key: {0}")]
    Key(String),
    /// A flaw to plant is unknown (a `flaws` build only).
    #[cfg(feature = "flaws")]
    #[error("{0}")]
    Flaw(String),
    /// The fence file cannot be trusted or read: refusing to start rather
    /// than power a fenced node.
    #[error("fence store {}: {message}; refusing to start (a fenced node must stay off: repair or restore the file, and remove it only when every node's power is known)", path.display())]
    FenceStore {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A relay could not be opened.
    #[error(transparent)]
    Relays(#[from] crate::relays::RelayOpenError),
    /// A link or the watchdog could not be opened.
    #[error(transparent)]
    Open(#[from] warden_bsp::linux::OpenError),
    /// The watchdog refused its timeout.
    #[error("watchdog {}: {source}", path.display())]
    Watchdog {
        /// The device.
        path: PathBuf,
        /// Why.
        source: warden_bsp::WatchdogError,
    },
    /// The control socket could not be set up.
    #[error(transparent)]
    Control(#[from] control::ControlError),
    /// The operator endpoint could not be bound.
    #[error("operator endpoint udp {listen}: {source}")]
    Operator {
        /// The address of `[controller] operator`.
        listen: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The metrics endpoint could not be bound.
    #[error("metrics endpoint http {listen}: {source}")]
    Metrics {
        /// The address of `[controller] metrics`.
        listen: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The core refused the cluster configuration.
    #[error("cluster configuration: {0}")]
    Cluster(warden_core::controller::ConfigError),
    /// The OS refused something the loop needs (signals, poll, randomness).
    #[error("{what}: {source}")]
    Os {
        /// What was being done.
        what: &'static str,
        /// Why.
        source: std::io::Error,
    },
}

fn os(what: &'static str) -> impl FnOnce(nix::Error) -> RunError {
    move |e| RunError::Os { what, source: e.into() }
}

/// The running controller and its devices.
#[derive(Debug)]
pub struct Driver {
    controller: Controller,
    file: ClusterFile,
    hw: ControllerConfig,
    auth: Auth,
    clock: MonotonicClock,
    links: Links,
    relays: RelayWorker,
    store: FenceFile,
    watchdog: Option<DevWatchdog>,
    control: Option<ControlSocket>,
    /// The UDP operator endpoint, when configured.
    operator: Option<OperatorPort>,
    signals: SignalFd,
    /// Last sense reading per node, for the console's "changed" lines.
    sensed: [Option<bool>; MAX_NODES],
    /// Whether the last sense of a node failed (reported once per change).
    sense_failing: [bool; MAX_NODES],
    /// Relay switches the hardware refused, to try again.
    pending_power: [Option<bool>; MAX_NODES],
    /// What the drivers counted, for `Op::Counters`.
    board: BoardCounters,
    next_sense: Instant,
    next_status: Option<Instant>,
    /// The alert command's queue, when one is configured.
    alerts: Option<Alerts>,
    /// The metrics endpoint and what the loop keeps for it, when configured.
    metrics: Option<Metrics>,
    /// A step of the loop longer than this (the keepalive) is reported:
    /// meanwhile no link is read.
    slow_step: std::time::Duration,
}

/// A console line, through the log thread (never waits for the reader),
/// stamped with the wall clock (RFC 3339, UTC, ms) when it is written.
fn print_line(line: &str) {
    let at = humantime::format_rfc3339_millis(std::time::SystemTime::now());
    log_lines::write(Stream::Stdout, format!("[{at}] {line}\n"));
}

fn random_seed() -> Result<u64, RunError> {
    let mut bytes = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|source| RunError::Os { what: "reading /dev/urandom for the session seed", source })?;
    Ok(u64::from_le_bytes(bytes))
}

impl Driver {
    /// Boots: signals, fence file, relays and their sense, then the
    /// controller, links, control socket and watchdog. Nothing is switched
    /// unless the controller asks (a fenced node found powered).
    ///
    /// # Errors
    ///
    /// [`RunError`] naming what could not be had.
    pub fn boot(file: ClusterFile, hw: ControllerConfig) -> Result<Self, RunError> {
        // Signals first, before any child process exists, so none is lost.
        let mut mask = SigSet::empty();
        for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGUSR1] {
            mask.add(s);
        }
        mask.thread_block().map_err(os("blocking signals"))?;
        let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
            .map_err(os("creating the signal descriptor"))?;

        let clock = MonotonicClock::new();
        let auth = frame_auth(&file.cluster).map_err(|e| RunError::Key(e.to_string()))?;

        let mut store = FenceFile::new(&hw.fence_store);
        let fenced = store.load().map_err(|e| RunError::FenceStore {
            path: hw.fence_store.clone(),
            message: store.last_error().map_or_else(|| e.to_string(), |detail| format!("{e} ({detail})")),
        })?;
        let names = |pick: &dyn Fn(usize) -> bool| -> String {
            let v: Vec<&str> =
                file.nodes.iter().enumerate().filter(|(i, _)| pick(*i)).map(|(_, n)| n.name.as_str()).collect();
            if v.is_empty() {
                "none".to_owned()
            } else {
                v.join(", ")
            }
        };
        print_line(&format!(
            "fence store {}: {}; fenced: {}",
            hw.fence_store.display(),
            if store.existed() { "read" } else { "no file yet (first boot)" },
            names(&|i| fenced.get(i).copied().unwrap_or(false))
        ));

        let (relays, boot_sense) = Relays::open(&hw, &fenced)?;
        for (node, e) in &boot_sense.problems {
            print_line(&format!("node {node}: power unknown at boot: {e}"));
        }
        for n in &hw.nodes {
            let p = boot_sense.powered.get(n.id.index()).copied().flatten();
            let p = p.map_or("unknown", |on| if on { "on" } else { "off" });
            print_line(&format!("node {}: {} sensed {p}", n.name, Channel(n.channel)));
        }

        let now = clock.now();
        let boot = Boot { now, seed: random_seed()?, fenced, powered: boot_sense.powered };
        #[allow(unused_mut)] // planted into only with the `flaws` feature
        let mut controller = Controller::new(file.cluster_config(), boot).map_err(RunError::Cluster)?;
        #[cfg(feature = "flaws")]
        plant_flaws(&mut controller)?;
        // Threads that run commands start before the raise, and keep normal
        // scheduling; the relay thread starts after it, and inherits it.
        let alerts = match file.cluster.alert.clone() {
            Some(argv) => {
                let report = move |line: &str| print_line(line);
                let alerts = Alerts::spawn(argv, file.cluster.name.clone(), report);
                Some(alerts.map_err(|source| RunError::Os { what: "starting the alert thread", source })?)
            }
            None => None,
        };
        // The metrics endpoint's threads too: a scrape never competes with the loop.
        let metrics = match hw.metrics {
            None => None,
            Some(listen) => {
                Some(Metrics::start(listen, &file, &hw, clock).map_err(|source| RunError::Metrics { listen, source })?)
            }
        };
        hw.scheduling
            .apply(realtime::lock_memory, realtime::raise_thread, print_line)
            .map_err(|e| RunError::Os { what: "scheduling", source: std::io::Error::other(e) })?;
        let relays =
            RelayWorker::start(relays).map_err(|source| RunError::Os { what: "starting the relay thread", source })?;
        let links = Links::open(hw.nodes.iter().flat_map(|n| n.links.iter().map(move |l| (n.id, l))))?;
        let control = ControlSocket::bind(&hw.socket)?;
        let operator = match hw.operator {
            None => None,
            Some(listen) => Some(
                OperatorPort::bind(listen, random_seed()?).map_err(|source| RunError::Operator { listen, source })?,
            ),
        };
        let watchdog = match &hw.watchdog {
            None => {
                print_line("no hardware watchdog configured: a hung controller will not reset the board");
                None
            }
            Some(w) => {
                let mut dog = DevWatchdog::open(&w.device)?;
                let ms = u64::try_from(w.timeout.as_millis()).unwrap_or(u64::MAX);
                let applied = dog
                    .start(Duration::from_millis(ms))
                    .map_err(|source| RunError::Watchdog { path: w.device.clone(), source })?;
                print_line(&format!("watchdog {} armed, timeout {applied}", w.device.display()));
                Some(dog)
            }
        };
        let next_status = hw.status_interval.map(|_| now);
        let slow_step = std::time::Duration::from_millis(file.timing.keepalive.as_millis());
        let mut driver = Self {
            controller,
            file,
            auth,
            clock,
            links,
            relays,
            store,
            watchdog,
            control: Some(control),
            operator,
            signals,
            sensed: boot_sense.powered,
            sense_failing: [false; MAX_NODES],
            pending_power: [None; MAX_NODES],
            board: BoardCounters::default(),
            next_sense: now.saturating_add(std_ms(hw.sense_interval)),
            next_status,
            alerts,
            metrics,
            slow_step,
            hw,
        };
        print_line(&format!(
            "controller of cluster {} started: {} nodes, {} groups, control socket {}",
            driver.file.cluster.name,
            driver.file.nodes.len(),
            driver.file.groups.len(),
            driver.hw.socket.display()
        ));
        if let Some(op) = &driver.operator {
            print_line(&format!("operator endpoint on udp {}", op.listen()));
        }
        if let Some(m) = &driver.metrics {
            print_line(&format!("metrics on http://{}/metrics", m.listen()));
        }
        driver.drain(now);
        Ok(driver)
    }

    /// Runs until SIGTERM or SIGINT.
    ///
    /// # Errors
    ///
    /// [`RunError::Os`] when waiting itself fails.
    pub fn run(mut self) -> Result<(), RunError> {
        loop {
            let now = self.clock.now();
            self.links.reopen_due(now, |l| print_line(&format!("link {} open again", l.name())));
            for (link, progress) in self.links.progress_news() {
                self.controller.handle_link(now, link, progress);
            }
            for change in self.links.silence_news(now, self.file.timing.deadtime) {
                let node = report::node_name(&self.file, change.node);
                if change.up {
                    print_line(&format!("node {node}: link {} up again", change.name));
                } else {
                    print_line(&format!(
                        "node {node}: link {} down: nothing heard for deadtime, still heard on {}",
                        change.name,
                        change.heard_on.join(", ")
                    ));
                }
            }
            if self.controller.poll_timeout().is_some_and(|t| t <= now) {
                self.controller.handle_timeout(now);
                self.drain(now);
            }
            if now >= self.next_sense && self.sense_all() {
                self.next_sense = now.saturating_add(std_ms(self.hw.sense_interval));
            }
            if let (Some(at), Some(every)) = (self.next_status, self.hw.status_interval) {
                if now >= at {
                    self.print_status(now);
                    self.next_status = Some(now.saturating_add(std_ms(every)));
                }
            }

            if let Some(m) = self.metrics.as_mut() {
                m.publish_if_due(now, &self.controller, &self.links, &self.sense_failing);
            }

            let deadline = [
                self.controller.poll_timeout(),
                // While a round is under way, its answers wake the loop.
                (!self.relays.sensing()).then_some(self.next_sense),
                self.next_status,
                self.links.next_retry(),
                self.metrics.as_ref().map(Metrics::next),
            ]
            .into_iter()
            .flatten()
            .min();
            let now = self.clock.now();
            let wait = deadline.map_or(MAX_WAIT_MS, |d| d.saturating_since(now).as_millis().min(MAX_WAIT_MS));
            let asked = std::time::Instant::now();
            let (signal, readable_links, control_ready, operator_ready) = self.wait(wait)?;
            let now = self.clock.now();
            for done in self.relays.take_done() {
                self.relay_done(now, done);
            }
            let overslept = asked.elapsed().saturating_sub(std::time::Duration::from_millis(wait));
            if overslept > self.slow_step {
                print_line(&format!("main loop woke {} ms late: the process was not running", overslept.as_millis()));
            }
            match signal {
                Some(Signal::SIGUSR1) => {
                    self.print_status(now);
                }
                Some(s) => {
                    print_line(&format!("{s}: stopping; relays left as they are"));
                    return Ok(());
                }
                None => {}
            }
            for index in readable_links {
                let mut messages = Vec::new();
                self.links.read(index, now, &self.auth, |node, m| messages.push((node, m)));
                self.note_board();
                for (node, message) in messages {
                    self.controller.handle_message(now, node, message);
                    self.drain(now);
                }
            }
            if control_ready {
                let started = std::time::Instant::now();
                self.serve_control(now);
                self.note_slow("serving the control socket", started);
            }
            if operator_ready {
                let started = std::time::Instant::now();
                self.serve_operator(now);
                self.note_slow("serving the operator endpoint", started);
            }
        }
    }

    /// The status table on the console.
    fn print_status(&self, now: Instant) {
        log_lines::write(Stream::Stdout, report::status_table(&self.controller, &self.file, &self.links, now));
    }

    /// Reports a step that kept the loop from its links for longer than a
    /// keepalive: the reason a node may look late that is the controller's.
    fn note_slow(&self, what: &str, started: std::time::Instant) {
        let took = started.elapsed();
        if took > self.slow_step {
            print_line(&format!("main loop held {} ms by {what}", took.as_millis()));
        }
    }

    /// Waits up to `wait_ms`; returns a signal received, the links that
    /// are readable, and whether the control socket and the operator
    /// endpoint need service.
    fn wait(&mut self, wait_ms: u64) -> Result<(Option<Signal>, Vec<usize>, bool, bool), RunError> {
        let link_fds = self.links.poll_fds();
        let control_fds: Vec<BorrowedFd<'_>> = self.control.as_ref().map(ControlSocket::poll_fds).unwrap_or_default();
        let mut fds: Vec<PollFd<'_>> = Vec::with_capacity(1 + link_fds.len() + control_fds.len());
        fds.push(PollFd::new(self.signals.as_fd(), PollFlags::POLLIN));
        fds.push(PollFd::new(self.relays.poll_fd(), PollFlags::POLLIN));
        fds.extend(link_fds.iter().map(|(_, fd)| PollFd::new(*fd, PollFlags::POLLIN)));
        fds.extend(control_fds.iter().map(|fd| PollFd::new(*fd, PollFlags::POLLIN)));
        if let Some(op) = &self.operator {
            fds.push(PollFd::new(op.poll_fd(), PollFlags::POLLIN));
        }
        let timeout = PollTimeout::try_from(wait_ms).unwrap_or(PollTimeout::MAX);
        match poll(&mut fds, timeout) {
            Ok(_) | Err(nix::Error::EINTR) => {}
            Err(e) => return Err(os("waiting on links (poll)")(e)),
        }
        let ready = |fd: &PollFd<'_>| fd.revents().is_some_and(|r| !r.is_empty());
        let signal_ready = fds.first().is_some_and(ready);
        let readable: Vec<usize> =
            link_fds.iter().zip(fds.iter().skip(2)).filter(|(_, fd)| ready(fd)).map(|((i, _), _)| *i).collect();
        let control_ready = fds.iter().skip(2 + link_fds.len()).take(control_fds.len()).any(ready);
        let operator_ready = self.operator.is_some() && fds.last().is_some_and(ready);
        drop(fds);
        drop(control_fds);
        drop(link_fds);
        let signal = if signal_ready {
            self.signals
                .read_signal()
                .ok()
                .flatten()
                .and_then(|info| Signal::try_from(i32::try_from(info.ssi_signo).unwrap_or(0)).ok())
        } else {
            None
        };
        Ok((signal, readable, control_ready, operator_ready))
    }

    /// Asks the relay thread for every relay's sense, after retrying the
    /// switches the hardware refused. A round still under way (a module that
    /// does not answer) is not asked again on top of itself: false then,
    /// and the round is asked for as soon as the last one is answered.
    fn sense_all(&mut self) -> bool {
        if self.relays.sensing() {
            return false;
        }
        for node in &self.hw.nodes {
            if let Some(on) = self.pending_power.get(node.id.index()).copied().flatten() {
                self.relays.submit(Job::Set { node: node.id, channel: Channel(node.channel), on });
            }
            self.relays.submit(Job::Sense { node: node.id, channel: Channel(node.channel) });
        }
        true
    }

    /// What the relay thread did: a switch taken or refused, a sense
    /// reading for the controller.
    fn relay_done(&mut self, now: Instant, done: Done) {
        match done {
            Done::Set { node, on, result } => {
                let name = report::node_name(&self.file, node);
                // Still pending with this state: the switch was a retry of
                // one the hardware refused (a new command clears it).
                let retry = self.pending_power.get(node.index()).copied().flatten() == Some(on);
                match (result, retry) {
                    (Ok(()), true) => {
                        self.set_pending(node, None);
                        print_line(&format!("node {name}: relay commanded {} (retry)", on_off(on)));
                    }
                    (Ok(()), false) => print_line(&format!("node {name}: relay commanded {}", on_off(on))),
                    (Err(e), true) => {
                        self.relay_error(node, RelayOp::Switch);
                        print_line(&format!("node {name}: relay still refuses: {e}"));
                    }
                    (Err(e), false) => {
                        self.relay_error(node, RelayOp::Switch);
                        self.set_pending(node, Some(on));
                        print_line(&format!("ALARM node {name}: relay refused {}: {e} (will retry)", on_off(on)));
                    }
                }
            }
            Done::Sense { node, result } => {
                let name = report::node_name(&self.file, node);
                let failing = result.is_err();
                if failing {
                    self.relay_error(node, RelayOp::Sense);
                }
                if let Some(slot) = self.sense_failing.get_mut(node.index()) {
                    if *slot != failing {
                        *slot = failing;
                        match &result {
                            Err(e) => print_line(&format!("node {name}: cannot read power: {e}")),
                            Ok(_) => print_line(&format!("node {name}: power readable again")),
                        }
                    }
                }
                if let Ok(Some(powered)) = result {
                    self.sensed(now, node, powered);
                }
            }
            Done::Changed { channel, powered } => {
                if let Some(node) = self.hw.nodes.iter().find(|n| Channel(n.channel) == channel).map(|n| n.id) {
                    self.sensed(now, node, powered);
                }
            }
        }
    }

    /// A sense reading, asked for or reported by the relay module at a change.
    fn sensed(&mut self, now: Instant, node: NodeId, powered: bool) {
        if let Some(slot) = self.sensed.get_mut(node.index()) {
            if *slot != Some(powered) {
                let name = report::node_name(&self.file, node);
                print_line(&format!("node {name}: power sensed {}", on_off(powered)));
                *slot = Some(powered);
                if let Some(m) = self.metrics.as_mut() {
                    m.dirty = true;
                }
            }
        }
        self.controller.handle_sense(now, node, powered);
        self.drain(now);
    }

    /// Counts a relay switch or sense reading that failed, for the metrics.
    /// Hands what the drivers counted to the controller, for an agent or an
    /// operator client that asks (`Op::Counters`).
    fn note_board(&mut self) {
        self.board.frames_refused =
            self.links.iter().fold(0u32, |sum, l| sum.saturating_add(l.decode_stats().rejected()));
        self.controller.note_board(self.board);
    }

    fn relay_error(&mut self, node: NodeId, op: RelayOp) {
        match op {
            RelayOp::Switch => self.board.relay_errors = self.board.relay_errors.saturating_add(1),
            RelayOp::Sense => self.board.sense_errors = self.board.sense_errors.saturating_add(1),
        }
        self.note_board();
        if let Some(m) = self.metrics.as_mut() {
            m.counts.relay_error(node, op);
            m.dirty = true;
        }
    }

    fn set_pending(&mut self, node: NodeId, value: Option<bool>) {
        if let Some(slot) = self.pending_power.get_mut(node.index()) {
            *slot = value;
        }
    }

    /// Carries out the controller's outputs, in order.
    fn drain(&mut self, now: Instant) {
        while let Some(output) = self.controller.poll_output() {
            match output {
                Output::Persist(record) => {
                    let name = report::node_name(&self.file, record.node);
                    let answer = match self.store.store(record) {
                        Ok(()) => {
                            let written = if record.fenced { "fenced" } else { "not fenced" };
                            print_line(&format!("node {name}: fence record written ({written})"));
                            Persisted::Durable
                        }
                        Err(e) => {
                            let detail = self.store.last_error().unwrap_or_default().to_owned();
                            print_line(&format!("node {name}: fence record NOT written ({e}; {detail})"));
                            Persisted::Failed
                        }
                    };
                    // The relay move the record guards comes only after this.
                    self.controller.handle_persisted(now, record, answer);
                }
                Output::Power { node, on } => {
                    let Some(channel) = self.hw.nodes.get(node.index()).map(|n| Channel(n.channel)) else { continue };
                    // A newer command supersedes a refused one waiting for its retry.
                    self.set_pending(node, None);
                    self.relays.submit(Job::Set { node, channel, on });
                    // Confirm through the sense without waiting for the next poll.
                    self.next_sense = now;
                }
                Output::Send { node, message } => {
                    let mut frame = [0u8; MAX_FRAME];
                    match encode(&message, &self.auth, &mut frame) {
                        Ok(len) => self.links.send(node, frame.get(..len).unwrap_or_default(), now),
                        Err(e) => {
                            print_line(&format!("frame to {} not encoded: {e}", report::node_name(&self.file, node)))
                        }
                    }
                }
                Output::Alarm(event) => {
                    let line = report::Named::new(&self.file, &self.links).line(&event);
                    print_line(&line);
                    if let Some(m) = self.metrics.as_mut() {
                        m.counts.note(now, &event, &self.controller);
                        m.dirty = true;
                    }
                    self.alert(&event, &line);
                }
                Output::FeedWatchdog => {
                    // The core asks only while the loop and every link make progress.
                    if let Some(Err(e)) = self.watchdog.as_mut().map(DevWatchdog::feed) {
                        print_line(&format!("ALARM watchdog feed failed: {e}"));
                    }
                }
            }
        }
    }

    /// Queues the alert command for `event` (it runs on its own thread).
    fn alert(&mut self, event: &Event, line: &str) {
        let Some(alerts) = self.alerts.as_mut() else { return };
        let alert = Alert {
            event: event.kind(),
            node: event.node().map(|n| report::node_name(&self.file, n)).unwrap_or_default(),
            group: event.group().map(|g| report::group_name(&self.file, g)).unwrap_or_default(),
            message: line.to_owned(),
        };
        if !alerts.raise(alert) {
            print_line(&format!("alert for `{}` dropped: {} alerts waiting already", event.kind(), QUEUE));
        }
    }

    fn serve_control(&mut self, now: Instant) {
        let Some(mut control) = self.control.take() else { return };
        control.serve(|line| match control::parse(line, &self.file) {
            Err(error) => json!({"ok": false, "error": error}),
            Ok(Request::Status) => {
                let mut status = report::status_json(&self.controller, &self.file, &self.links, now);
                status["operator"] = self.operator.as_ref().map_or(serde_json::Value::Null, OperatorPort::status_json);
                status["history"] = report::history_json(&self.controller, &self.file);
                json!({"ok": true, "status": status})
            }
            Ok(Request::History) => json!({"ok": true, "history": report::history_json(&self.controller, &self.file)}),
            Ok(Request::Table) => {
                json!({"ok": true, "table": report::status_table(&self.controller, &self.file, &self.links, now)})
            }
            Ok(Request::Op(op)) => {
                let outcome = self.controller.handle_request(now, op);
                print_line(&format!(
                    "operator: {line}: {}",
                    outcome.map_or_else(|r| format!("refused: {r}"), |()| "accepted".to_owned())
                ));
                self.drain(now);
                match outcome {
                    Ok(()) => json!({"ok": true}),
                    Err(refusal) => json!({"ok": false, "error": refusal.to_string()}),
                }
            }
        });
        self.control = Some(control);
    }
}

impl Driver {
    /// Answers the operator endpoint's requests: the same commands as the
    /// control socket's, by id; `Describe` with the summary.
    fn serve_operator(&mut self, now: Instant) {
        let Some(mut port) = self.operator.take() else { return };
        let before = port.stats;
        let auth = self.auth.clone();
        port.serve(&auth, |id, op| {
            match op {
                Op::Describe => return Body::Summary(self.controller.summary(id)),
                Op::History { back } => return Body::History(self.controller.history_answer(id, back)),
                Op::Counters => return Body::Counters(self.controller.counters(id)),
                _ => {}
            }
            let outcome = self.controller.handle_request(now, op);
            let verb = op.verb();
            let subject = op_subject(&self.file, op);
            print_line(&format!(
                "operator (udp): {verb}{subject}: {}",
                outcome.map_or_else(|r| format!("refused: {r}"), |()| "accepted".to_owned())
            ));
            self.drain(now);
            Body::Reply(Reply { id, outcome })
        });
        let refused = port.stats.refused_auth.saturating_sub(before.refused_auth);
        if refused > 0 {
            print_line(&format!("operator (udp): {refused} request(s) refused: authentication failed (wrong key?)"));
        }
        self.operator = Some(port);
    }
}

/// " NODE" or " GROUP NODE" of an operator command, by name.
fn op_subject(file: &ClusterFile, op: Op) -> String {
    match op {
        Op::Migrate { group, node } => {
            format!(" {} {}", report::group_name(file, group), report::node_name(file, node))
        }
        Op::Standby { node } | Op::Online { node } | Op::Fence { node } | Op::Unfence { node } => {
            format!(" {}", report::node_name(file, node))
        }
        Op::Describe | Op::History { .. } | Op::Counters => String::new(),
    }
}

const fn on_off(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}

fn std_ms(d: std::time::Duration) -> Duration {
    Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Plants the deliberate bugs named in `WARDEN_PLANT_FLAWS` (comma
/// separated), for the rig's proof that its checks catch them. Only a build
/// with the `flaws` feature has this; the packaged controller does not.
#[cfg(feature = "flaws")]
fn plant_flaws(controller: &mut Controller) -> Result<(), RunError> {
    use warden_core::controller::Flaw;
    let Ok(names) = std::env::var("WARDEN_PLANT_FLAWS") else { return Ok(()) };
    for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let flaw = match name {
            "skip-fence-confirm" => Flaw::SkipFenceConfirm,
            "ignore-release-report" => Flaw::IgnoreReleaseReport,
            "power-before-persist" => Flaw::PowerBeforePersist,
            "forget-fences-on-boot" => Flaw::ForgetFencesOnBoot,
            "no-damping" => Flaw::NoDamping,
            "acquire-before-fence" => Flaw::AcquireBeforeFence,
            "feed-while-stalled" => Flaw::FeedWhileStalled,
            other => {
                return Err(RunError::Flaw(format!(
                    "WARDEN_PLANT_FLAWS: unknown flaw `{other}` (known: skip-fence-confirm, ignore-release-report, \
                     power-before-persist, forget-fences-on-boot, no-damping, acquire-before-fence, feed-while-stalled)"
                )))
            }
        };
        controller.plant(flaw);
        print_line(&format!("PLANTED FLAW {name}: a deliberate bug, for proving the rig's checks"));
    }
    Ok(())
}
