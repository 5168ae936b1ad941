//! The daemon's main loop: one thread, waiting in `poll(2)` on everything
//! that can happen (a frame on a link, a step result or net score in the
//! mailbox, a control-socket client, a signal) with the earliest timer as
//! its timeout. Nothing here sleeps or spins; everything that can block
//! (resource steps, pings, alert commands) runs on other threads.

use std::collections::VecDeque;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use std::io::Read;
use std::os::unix::net::UnixStream;

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use warden_bsp::linux::DevWatchdog;
use warden_bsp::Watchdog;
use warden_core::controller::CommandError;
use warden_core::wire::{Auth, Op, Summary};
use warden_core::{GroupId, GroupSet};

use super::alert::{Alert, AlertFailed, Alerts};
use super::book::Book;
use super::clock::{utc_now, Clock};
use super::control_server::{Asked, ControlServer};
use super::journal;
use super::links::{Links, Received};
use super::mailbox::{Mailbox, Post};
use super::metrics::{self, Metrics, Seen};
use super::notify::Notifier;
use super::ping::{self, NetScore};
use super::workers::{StepDone, Worker};
use super::{io_error, DaemonError};
use crate::lock::AgentLock;
use crate::resource::Resource;
use warden_agent_proto::{Action, Agent, AgentEvent, AgentOutput, RequestError, StepResult};
use warden_bsp::linux::realtime;
use warden_cluster::{ClusterFile, NodeConfig};
use warden_control::{
    AgentStatus, ClusterStatus, ControlReply, ControlRequest, Counters, ErrorKind, EventRecord, FenceEntry,
    FenceHistory, OperatorOp, REQUEST_TIMEOUT,
};

/// Events kept for `status`.
const EVENTS_KEPT: usize = 64;

/// How long a stopping agent waits for the steps under way to end.
const FINISH_STEPS: Duration = Duration::from_secs(20);

/// Longest single wait, so a clock oddity can never park the loop for long.
const MAX_WAIT: Duration = Duration::from_secs(60);

/// How the daemon ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// By `SIGTERM` or `SIGINT`.
    Signal(i32),
}

/// What the other threads tell the main loop.
#[derive(Debug)]
pub(crate) enum Inbox {
    Step(StepDone),
    NetScore(NetScore),
    AlertFailed(AlertFailed),
}

impl From<StepDone> for Inbox {
    fn from(d: StepDone) -> Self {
        Self::Step(d)
    }
}

impl From<NetScore> for Inbox {
    fn from(n: NetScore) -> Self {
        Self::NetScore(n)
    }
}

impl From<AlertFailed> for Inbox {
    fn from(a: AlertFailed) -> Self {
        Self::AlertFailed(a)
    }
}

/// What `run` builds before the loop starts.
pub(crate) struct Parts {
    pub(crate) config: ClusterFile,
    pub(crate) node: NodeConfig,
    pub(crate) lock: AgentLock,
    pub(crate) auth: Auth,
    pub(crate) agent: Agent,
    pub(crate) groups: Vec<(GroupId, Vec<Box<dyn Resource>>)>,
    pub(crate) watchdog: Option<(DevWatchdog, Duration)>,
}

/// How often the agent asks the controller for its counters, with metrics on.
const COUNTERS_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// A relayed request waiting for the controller's Reply.
#[derive(Debug)]
struct Pending {
    connection: u64,
    id: u32,
    deadline: Instant,
    /// For a history: the entries gathered so far (one a request).
    history: Option<Vec<FenceEntry>>,
}

/// Where a ready descriptor came from.
#[derive(Debug, Clone, Copy)]
enum Source {
    Signal(usize),
    Mailbox,
    Listener,
    Connection(u64),
    Link(usize),
}

struct Daemon {
    config: ClusterFile,
    node: NodeConfig,
    clock: Clock,
    agent: Agent,
    links: Links,
    workers: Vec<Worker>,
    mailbox: Mailbox<Inbox>,
    /// Per signal, the read end its handler writes a byte to.
    signals: Vec<(Signal, UnixStream)>,
    /// Steps handed to workers and not yet answered.
    in_flight: usize,
    control: ControlServer,
    notifier: Notifier,
    alerts: Option<Alerts>,
    alerts_failed: u64,
    watchdog: Option<(DevWatchdog, Duration, Instant)>,
    watchdog_error: Option<String>,
    /// The metrics endpoint and what the loop keeps for it, when configured.
    metrics: Option<Metrics>,
    /// The controller's counters as it last told them (`Op::Counters`,
    /// asked for the metrics page).
    controller_counters: Option<(warden_core::wire::CountersAnswer, Instant)>,
    /// When to ask the controller for its counters next (with metrics only).
    next_counters: Instant,
    book: Book,
    events: VecDeque<EventRecord>,
    pending: Vec<Pending>,
    refused_frames: u64,
    ready: bool,
    stop: Option<Stopped>,
    _lock: AgentLock,
}

/// Starts the threads, then runs the loop until a signal stops it.
pub(crate) fn run(parts: Parts) -> Result<Stopped, DaemonError> {
    let Parts { config, node, lock, auth, agent, groups, watchdog } = parts;
    // Signals wake the loop through a self-pipe written by their handler.
    // (Not by blocking them for a signalfd: a blocked mask is inherited by
    // every thread and every command the agent runs, and a service started
    // with SIGTERM blocked could not be stopped.) For the same reason a
    // mask inherited from whatever started the agent is cleared first,
    // before any thread or command exists.
    let mut inherited = SigSet::empty();
    nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), Some(&mut inherited))
        .map_err(|e| DaemonError::Io { what: "clearing the inherited signal mask".into(), source: e.into() })?;
    let blocked: Vec<String> = inherited.iter().map(|s| s.to_string()).collect();
    if !blocked.is_empty() {
        journal::notice(&format!(
            "{} came blocked from whatever started the agent: unblocked, so that the agent and the services it starts can be stopped",
            blocked.join(", ")
        ));
    }
    let mut signals = Vec::new();
    for signal in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        let (read, write) = UnixStream::pair().map_err(io_error("creating a signal pipe"))?;
        read.set_nonblocking(true).map_err(io_error("creating a signal pipe"))?;
        signal_hook::low_level::pipe::register(signal as i32, write)
            .map_err(io_error(format!("installing the {signal} handler")))?;
        signals.push((signal, read));
    }
    let (mailbox, post) = Mailbox::<Inbox>::new().map_err(io_error("creating the main loop's mailbox"))?;

    let mut describes = Vec::new();
    let mut workers = Vec::new();
    for ((id, resources), group) in groups.into_iter().zip(&config.groups) {
        describes.push((
            group.name.clone(),
            group.nodes.contains(&node.id),
            resources.iter().map(|r| r.describe()).collect(),
        ));
        workers.push(
            Worker::spawn(id, &group.name, resources, post.clone())
                .map_err(io_error(format!("starting the worker of group `{}`", group.name)))?,
        );
    }
    let every = Duration::from_millis(config.timing.keepalive.as_millis());
    let dead_after = Duration::from_millis(config.timing.deadtime.as_millis());
    let pinging = ping::spawn(&node, every, dead_after, post.clone()).map_err(io_error("starting the ping thread"))?;
    let alerts = match &config.cluster.alert {
        Some(argv) => Some(
            Alerts::spawn(argv.clone(), node.name.clone(), config.cluster.name.clone(), post.clone())
                .map_err(io_error("starting the alert thread"))?,
        ),
        None => None,
    };
    drop::<Post<Inbox>>(post);

    let links = Links::open(&node, auth);
    let control = ControlServer::bind(&config.agent.socket).map_err(io_error("control socket"))?;
    let notifier = Notifier::from_env().map_err(io_error("NOTIFY_SOCKET"))?;
    let metrics = match config.agent.metrics {
        None => None,
        Some(listen) => Some(
            Metrics::start(listen, &config, &node.name, links.names())
                .map_err(io_error(format!("metrics endpoint http {listen}")))?,
        ),
    };

    // Every thread is started: the main loop alone may now be raised.
    config
        .agent
        .scheduling
        .apply(realtime::lock_memory, realtime::raise_thread, |line| match line.strip_prefix("warning: ") {
            Some(warning) => journal::warning(warning),
            None => journal::info(line),
        })
        .map_err(|e| io_error("scheduling")(std::io::Error::other(e)))?;

    let clock = Clock::new();
    let now = Instant::now();
    let mut daemon = Daemon {
        watchdog: watchdog.map(|(device, every)| (device, every, now + every)),
        book: Book::new(describes),
        config,
        node,
        clock,
        agent,
        links,
        workers,
        mailbox,
        signals,
        in_flight: 0,
        control,
        notifier,
        alerts,
        alerts_failed: 0,
        watchdog_error: None,
        metrics,
        controller_counters: None,
        next_counters: Instant::now(),
        events: VecDeque::new(),
        pending: Vec::new(),
        refused_frames: 0,
        ready: false,
        stop: None,
        _lock: lock,
    };
    journal::notice(&format!(
        "warden-agent {} starting as node `{}` of cluster `{}`: {} groups, {} links, control socket {}{}",
        env!("CARGO_PKG_VERSION"),
        daemon.node.name,
        daemon.config.cluster.name,
        daemon.config.groups.len(),
        daemon.links.status(now).len(),
        daemon.config.agent.socket.display(),
        if pinging { ", pinging" } else { "" }
    ));
    if let Some(m) = &daemon.metrics {
        journal::notice(&format!("metrics on http://{}/metrics", m.listen()));
    }
    daemon.notifier.status("starting: probing every resource");
    Ok(daemon.run())
}

impl Daemon {
    fn run(&mut self) -> Stopped {
        loop {
            self.drain_outputs();
            self.serve_lines();
            if let Some(stopped) = self.stop {
                self.shut_down();
                return stopped;
            }
            self.wait_and_handle();
            let now = Instant::now();
            if self.clock.at(self.agent.poll_timeout().unwrap_or(warden_core::Instant(u64::MAX))) <= now {
                self.agent.handle_timeout(self.clock.now());
            }
            self.links.reopen_due(now);
            self.expire_requests(now);
            self.feed_watchdogs(now);
            self.publish_metrics(now);
        }
    }

    /// Waits for the next thing to happen and handles it.
    fn wait_and_handle(&mut self) {
        let now = Instant::now();
        let mut wake = now + MAX_WAIT;
        if let Some(t) = self.agent.poll_timeout() {
            wake = wake.min(self.clock.at(t));
        }
        for t in [
            self.links.next_reopen(),
            self.pending.iter().map(|p| p.deadline).min(),
            self.notifier.next_ping(),
            self.watchdog.as_ref().map(|w| w.2),
            self.metrics.as_ref().map(Metrics::next),
        ]
        .into_iter()
        .flatten()
        {
            wake = wake.min(t);
        }
        let wait = wake.saturating_duration_since(now);
        // Round up, so the loop never wakes a hair early and spins.
        let ms = u16::try_from(wait.as_micros().div_ceil(1000)).unwrap_or(u16::MAX);

        let mut sources: Vec<(Source, BorrowedFd<'_>, PollFlags)> = vec![
            (Source::Mailbox, self.mailbox.fd(), PollFlags::POLLIN),
            (Source::Listener, self.control.listener_fd(), PollFlags::POLLIN),
        ];
        for (i, (_, read)) in self.signals.iter().enumerate() {
            sources.push((Source::Signal(i), read.as_fd(), PollFlags::POLLIN));
        }
        for (id, fd, writing) in self.control.connection_fds() {
            let flags = if writing { PollFlags::POLLIN | PollFlags::POLLOUT } else { PollFlags::POLLIN };
            sources.push((Source::Connection(id), fd, flags));
        }
        for (i, fd) in self.links.fds() {
            sources.push((Source::Link(i), fd, PollFlags::POLLIN));
        }
        let mut fds: Vec<PollFd<'_>> = sources.iter().map(|(_, fd, flags)| PollFd::new(*fd, *flags)).collect();
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => journal::error(&format!("poll failed: {e}")),
        }
        let ready: Vec<(Source, PollFlags)> = sources
            .iter()
            .zip(&fds)
            .filter_map(|((source, _, _), fd)| fd.revents().filter(|r| !r.is_empty()).map(|r| (*source, r)))
            .collect();
        drop(fds);
        drop(sources);
        for (source, revents) in ready {
            self.handle(source, revents);
        }
    }

    fn handle(&mut self, source: Source, revents: PollFlags) {
        let hangup = revents.intersects(PollFlags::POLLHUP | PollFlags::POLLERR);
        match source {
            Source::Signal(i) => self.take_signal(i),
            Source::Mailbox => {
                for message in self.mailbox.take() {
                    self.take_mail(message);
                }
            }
            Source::Listener => self.control.accept(),
            Source::Connection(id) => {
                if revents.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
                    self.control.read(id);
                }
                if revents.contains(PollFlags::POLLOUT) {
                    self.control.flush(id);
                }
                for gone in self.control.reap() {
                    self.pending.retain(|p| p.connection != gone);
                }
            }
            Source::Link(i) => {
                let mut received = Vec::new();
                self.links.read(i, hangup, |r| received.push(r));
                for r in received {
                    match r {
                        Received::Message(m) => self.agent.handle_message(self.clock.now(), m),
                        Received::Refused { link, error } => {
                            self.refused_frames += 1;
                            // The 1st, 2nd, 4th, 8th...: the link's counters
                            // in `status` tell the rest.
                            let n = self.refused_frames;
                            if n.is_power_of_two() {
                                journal::warning(&format!("link {link}: frame refused: {error} ({n} refused so far)"));
                            }
                        }
                    }
                }
            }
        }
    }

    fn take_signal(&mut self, i: usize) {
        let Some((signal, read)) = self.signals.get(i) else { return };
        let mut sink = [0u8; 16];
        let mut got = false;
        while matches!((&*read).read(&mut sink), Ok(n) if n > 0) {
            got = true;
        }
        if !got {
            return;
        }
        match signal {
            Signal::SIGHUP => journal::notice(
                "SIGHUP: the configuration is not reloaded while running; restart the agent to apply a new one",
            ),
            s => {
                journal::notice(&format!("{s}: stopping; every group stays as it is (the controller decides)"));
                self.stop = Some(Stopped::Signal(*s as i32));
            }
        }
    }

    fn take_mail(&mut self, message: Inbox) {
        let now = self.clock.now();
        match message {
            Inbox::Step(done) => {
                self.note_step(&done);
                self.agent.handle_step(now, done.step, done.performed.result);
            }
            Inbox::NetScore(score) => {
                journal::notice(&format!("net score {} ({})", score.score, score.detail));
                self.agent.handle_net_score(now, score.score);
            }
            Inbox::AlertFailed(AlertFailed(why)) => {
                self.alerts_failed += 1;
                journal::warning(&why);
            }
        }
    }

    /// Records and logs a step that ended.
    fn note_step(&mut self, done: &StepDone) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if let Some(m) = self.metrics.as_mut() {
            m.step(done);
        }
        let step = done.step;
        self.book.record(step, &done.performed);
        let what = format!(
            "group `{}`: {} {}",
            self.book.group_name(step.group),
            step.action,
            self.book.describe(step.group, step.resource)
        );
        let took = done.performed.took.as_millis();
        let detail = done.performed.detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default();
        match (step.action, done.performed.result) {
            (Action::Start | Action::Stop, StepResult::Done) => journal::info(&format!("{what}: done in {took} ms")),
            (_, StepResult::Failed(_) | StepResult::Unhealthy) => {
                journal::warning(&format!("{what}: {} after {took} ms{detail}", done.performed.word()));
            }
            _ => {}
        }
    }

    /// Lets the steps under way end (each is bounded by its driver), so the
    /// agent never leaves a resource half started or half stopped, nor a
    /// started service without its pid file. Starts nothing new. A second
    /// signal, or [`FINISH_STEPS`], ends the wait.
    fn finish_steps(&mut self) {
        if self.in_flight == 0 {
            return;
        }
        journal::notice(&format!(
            "waiting at most {} s for {} step(s) under way to end",
            FINISH_STEPS.as_secs(),
            self.in_flight
        ));
        let deadline = Instant::now() + FINISH_STEPS;
        while self.in_flight > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                journal::warning(&format!("{} step(s) still under way; stopping without them", self.in_flight));
                return;
            }
            let ms = u16::try_from(left.as_millis().max(1)).unwrap_or(u16::MAX);
            let mut fds = vec![PollFd::new(self.mailbox.fd(), PollFlags::POLLIN)];
            fds.extend(self.signals.iter().map(|(_, r)| PollFd::new(r.as_fd(), PollFlags::POLLIN)));
            let _ = poll(&mut fds, PollTimeout::from(ms));
            let signalled = fds.iter().skip(1).any(|f| f.revents().is_some_and(|r| !r.is_empty()));
            drop(fds);
            for message in self.mailbox.take() {
                if let Inbox::Step(done) = message {
                    self.note_step(&done);
                }
            }
            if signalled {
                journal::warning("signalled again: stopping without waiting for the steps under way");
                return;
            }
        }
    }

    /// Carries out everything the protocol half asked for, in order.
    fn drain_outputs(&mut self) {
        while let Some(output) = self.agent.poll_output() {
            match output {
                AgentOutput::Send(message) => self.links.send(&message),
                AgentOutput::Step(step) => {
                    if matches!(step.action, Action::Start | Action::Stop) {
                        journal::info(&format!(
                            "group `{}`: {} {}",
                            self.book.group_name(step.group),
                            step.action,
                            self.book.describe(step.group, step.resource)
                        ));
                    }
                    let handed = self.workers.get(step.group.index()).is_some_and(|w| w.run(step));
                    if handed {
                        self.in_flight += 1;
                    } else {
                        journal::error(&format!("no worker for {step}"));
                        let failed = StepResult::Failed(crate::resource::ErrorKind::Failed);
                        self.agent.handle_step(self.clock.now(), step, failed);
                    }
                }
                AgentOutput::Event(event) => self.event(&event),
                AgentOutput::Reply { id, outcome } => {
                    let Some(at) = self.pending.iter().position(|p| p.id == id) else { continue };
                    let pending = self.pending.swap_remove(at);
                    let reply = match outcome {
                        Ok(()) => ControlReply::Accepted { id },
                        Err(refusal) => ControlReply::Refused {
                            id,
                            reason: refusal.name().to_owned(),
                            message: refusal.to_string(),
                        },
                    };
                    self.control.set_waiting(pending.connection, false);
                    self.control.reply(pending.connection, &reply);
                }
                AgentOutput::Summary(summary) => {
                    let Some(at) = self.pending.iter().position(|p| p.id == summary.id) else { continue };
                    let pending = self.pending.swap_remove(at);
                    let cluster = self.cluster(&summary);
                    self.control.set_waiting(pending.connection, false);
                    self.control.reply(pending.connection, &ControlReply::Cluster { cluster });
                }
                AgentOutput::Counters(counters) => self.controller_counters = Some((counters, Instant::now())),
                AgentOutput::History(answer) => {
                    let Some(at) = self.pending.iter().position(|p| p.id == answer.id) else { continue };
                    let pending = self.pending.swap_remove(at);
                    let mut entries = pending.history.unwrap_or_default();
                    if let Some(op) = &answer.entry {
                        entries.push(FenceEntry::from_wire(op, &self.config, std::time::SystemTime::now()));
                    }
                    let next = answer.back.saturating_add(1);
                    if answer.entry.is_some() && next < answer.held {
                        // The next entry, on the same connection.
                        self.send_request_gathering(pending.connection, Op::History { back: next }, Some(entries));
                    } else {
                        let history = FenceHistory { total: answer.total, entries };
                        self.control.set_waiting(pending.connection, false);
                        self.control.reply(pending.connection, &ControlReply::History { history });
                    }
                }
            }
        }
        let view = self.agent.view();
        if view.initialized && !self.ready {
            self.ready = true;
            journal::notice("every resource probed: ready");
            let line = self.status_line();
            self.notifier.ready(&line);
        } else if self.ready {
            let line = self.status_line();
            self.notifier.status(&line);
        }
    }

    fn event(&mut self, event: &AgentEvent) {
        let message = self.book.event_message(event);
        let group = event.group().map(|g| self.book.group_name(g));
        if let Some(m) = self.metrics.as_mut() {
            m.event(event);
        }
        let failure = matches!(
            event,
            AgentEvent::StartFailed { .. }
                | AgentEvent::StopFailed { .. }
                | AgentEvent::MonitorFailed { .. }
                | AgentEvent::Failing { .. }
                | AgentEvent::ControllerSilent
        );
        if failure {
            journal::warning(&message);
        } else {
            journal::notice(&message);
        }
        if self.events.len() >= EVENTS_KEPT {
            self.events.pop_front();
        }
        self.events.push_back(EventRecord {
            time: utc_now(),
            at_ms: self.clock.now().as_millis(),
            event: event.name().to_owned(),
            group: group.clone(),
            message: message.clone(),
        });
        if let Some(alerts) = self.alerts.as_mut() {
            let alert = Alert { event: event.name().to_owned(), group: group.unwrap_or_default(), message };
            if !alerts.raise(alert) {
                journal::warning(&format!("alert for `{}` dropped: the alert queue is full", event.name()));
            }
        }
    }

    /// Answers the control requests that can be answered now.
    fn serve_lines(&mut self) {
        // Each pass takes at most one line per connection; lines queued
        // behind an answered request are taken by the next pass.
        for _ in 0..64 {
            let asked = self.control.take_requests();
            if asked.is_empty() {
                break;
            }
            for (connection, asked) in asked {
                match asked {
                    Asked::Invalid(why) => {
                        journal::warning(&format!("control socket: request refused: {why}"));
                        self.control
                            .reply(connection, &ControlReply::Error { kind: ErrorKind::BadRequest, message: why });
                    }
                    Asked::Request(ControlRequest::Status {}) => {
                        let reply = ControlReply::Status { status: Box::new(self.status()) };
                        self.control.reply(connection, &reply);
                    }
                    Asked::Request(ControlRequest::Request { op }) => self.relay(connection, &op),
                    Asked::Request(ControlRequest::Cluster {}) => self.send_request(connection, Op::Describe),
                    Asked::Request(ControlRequest::History {}) => {
                        self.send_request_gathering(connection, Op::History { back: 0 }, Some(Vec::new()));
                    }
                }
            }
            self.drain_outputs();
            if !self.control.has_lines() {
                break;
            }
        }
        for gone in self.control.reap() {
            self.pending.retain(|p| p.connection != gone);
        }
    }

    /// Maps an operator command's names to ids, in the controller's
    /// grammar of operator commands, and relays it.
    fn relay(&mut self, connection: u64, op: &OperatorOp) {
        let (verb, words) = op.words();
        let wire = match Op::parse(verb, words.into_iter(), &self.config) {
            Ok(Some(op)) => Ok(op),
            Ok(None) => Err(format!("`{verb}` is not an operator command")),
            Err(CommandError::UnknownNode(name)) => {
                let known = self.config.nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>().join(", ");
                Err(format!("no node `{name}` in the configuration (nodes: {known})"))
            }
            Err(CommandError::UnknownGroup(name)) => {
                let known = self.config.groups.iter().map(|g| g.name.as_str()).collect::<Vec<_>>().join(", ");
                Err(format!("no group `{name}` in the configuration (groups: {known})"))
            }
            Err(e) => Err(e.to_string()),
        };
        match wire {
            Ok(op) => self.send_request(connection, op),
            Err(message) => {
                journal::warning(&format!("control socket: request refused: {message}"));
                self.control.reply(connection, &ControlReply::Error { kind: ErrorKind::UnknownName, message });
            }
        }
    }

    /// Sends `op` to the controller; the connection waits for the answer.
    fn send_request(&mut self, connection: u64, op: Op) {
        self.send_request_gathering(connection, op, None);
    }

    /// [`Self::send_request`], carrying the history entries gathered so far.
    fn send_request_gathering(&mut self, connection: u64, op: Op, history: Option<Vec<FenceEntry>>) {
        match self.agent.request(self.clock.now(), op) {
            Ok(id) => {
                journal::notice(&format!("relaying operator request {id} to the controller: {op:?}"));
                self.pending.push(Pending { connection, id, deadline: Instant::now() + REQUEST_TIMEOUT, history });
                self.control.set_waiting(connection, true);
            }
            Err(RequestError::NotConnected) => {
                let message = format!("not connected: {}", RequestError::NotConnected);
                self.control.reply(connection, &ControlReply::Error { kind: ErrorKind::NotConnected, message });
            }
        }
    }

    fn expire_requests(&mut self, now: Instant) {
        let (expired, kept): (Vec<Pending>, Vec<Pending>) = self.pending.drain(..).partition(|p| p.deadline <= now);
        self.pending = kept;
        for p in expired {
            let message = format!(
                "the controller did not answer request {} within {} s (a frame may have been lost; check the status)",
                p.id,
                REQUEST_TIMEOUT.as_secs()
            );
            journal::warning(&message);
            self.control.set_waiting(p.connection, false);
            self.control.reply(p.connection, &ControlReply::Error { kind: ErrorKind::Timeout, message });
        }
    }

    /// systemd's watchdog and the host's, fed only from here: if this loop
    /// stops, both stop being fed.
    fn feed_watchdogs(&mut self, now: Instant) {
        self.notifier.ping_if_due(now);
        if let Some((device, every, next)) = self.watchdog.as_mut() {
            if *next <= now {
                *next = now + *every;
                match device.feed() {
                    Ok(()) => self.watchdog_error = None,
                    Err(e) => {
                        let text = e.to_string();
                        if self.watchdog_error.as_deref() != Some(text.as_str()) {
                            journal::error(&format!("host watchdog: {text}"));
                        }
                        self.watchdog_error = Some(text);
                    }
                }
            }
        }
    }

    /// Publishes the metrics' snapshot when due (never waits for a scrape),
    /// and asks the controller for its counters once a second, for the page
    /// (a firmware controller serves none of its own).
    fn publish_metrics(&mut self, now: Instant) {
        if self.metrics.is_none() {
            return;
        }
        if now >= self.next_counters {
            // Not connected: nothing to ask; the page keeps the last answer.
            let _ = self.agent.request(self.clock.now(), Op::Counters);
            self.next_counters = now + COUNTERS_EVERY;
        }
        let Some(m) = self.metrics.as_mut() else { return };
        if !m.due(now) {
            return;
        }
        let eligible: Vec<bool> = self.config.groups.iter().map(|g| g.nodes.contains(&self.node.id)).collect();
        let counters = Counters {
            control_rejects: self.control.rejects(),
            alerts_dropped: self.alerts.as_ref().map_or(0, Alerts::dropped),
            alerts_failed: self.alerts_failed,
            ..Counters::default()
        };
        let view = self.agent.view();
        let seen = Seen {
            view: &view,
            stats: self.agent.stats(),
            clock: &self.clock,
            eligible: &eligible,
            links: self.links.metrics_rows(),
            counters,
            controller: self.controller_counters,
        };
        m.publish(now, seen);
    }

    /// The controller's summary with names.
    fn cluster(&self, summary: &Summary) -> ClusterStatus {
        ClusterStatus::from_summary(summary, &self.config)
    }

    fn names(&self, set: GroupSet) -> Vec<String> {
        set.iter().map(|g| self.book.group_name(g)).collect()
    }

    /// One line for systemd's status.
    fn status_line(&self) -> String {
        let view = self.agent.view();
        let link = if !view.connected {
            "not connected".to_owned()
        } else if view.silent {
            "controller silent".to_owned()
        } else {
            "connected".to_owned()
        };
        let holds = self.names(view.status.holds);
        let holds = if holds.is_empty() { "nothing".to_owned() } else { holds.join(", ") };
        format!("{link}; holds {holds}; net score {}", view.status.net_score)
    }

    fn status(&self) -> AgentStatus {
        let view = self.agent.view();
        let stats = self.agent.stats();
        let now = self.clock.now();
        AgentStatus {
            cluster: self.config.cluster.name.clone(),
            node: self.node.name.clone(),
            pid: std::process::id(),
            uptime_ms: now.as_millis(),
            connected: view.connected,
            silent: view.silent,
            last_beat_age_ms: view.last_beat.map(|t| now.saturating_since(t).as_millis()),
            role: view.role.map(|r| metrics::role_name(r).to_owned()),
            initialized: view.initialized,
            want: self.names(view.want),
            holds: self.names(view.status.holds),
            busy: self.names(view.status.busy),
            healthy: self.names(view.status.healthy),
            failing: self.names(view.status.failing),
            stuck: self.names(view.status.stuck),
            applied: view.status.applied,
            net_score: view.status.net_score,
            groups: self.book.status(),
            links: self.links.status(Instant::now()),
            counters: Counters {
                session_rejects: stats.session_rejects,
                unexpected: stats.unexpected,
                stale_steps: stats.stale_steps,
                control_rejects: self.control.rejects(),
                alerts_dropped: self.alerts.as_ref().map_or(0, Alerts::dropped),
                alerts_failed: self.alerts_failed,
            },
            events: self.events.iter().cloned().collect(),
        }
    }

    /// Leaves everything held as it is; answers waiting clients; the
    /// control socket file goes with the server, the links with their
    /// sockets, the workers let go of their resources without stopping them.
    fn shut_down(&mut self) {
        self.notifier.stopping();
        self.finish_steps();
        self.control.close_all(&ControlReply::Error {
            kind: ErrorKind::ShuttingDown,
            message: "the agent is stopping".to_owned(),
        });
        let holds = self.names(self.agent.view().status.holds);
        journal::notice(&format!(
            "stopped; left as they are: {}",
            if holds.is_empty() { "nothing held".to_owned() } else { holds.join(", ") }
        ));
    }
}
