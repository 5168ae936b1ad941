//! The agent's state machine: the session with the controller, the latest
//! Beat, every group's reconciliation, and the Status reports.

use std::collections::VecDeque;

use warden_core::wire::{
    Beat, Body, CountersAnswer, HistoryAnswer, Initiator, Message, Op, Role, SessionError, Status, Summary,
};
use warden_core::{Duration, GroupId, GroupSet, Instant, NodeId, MAX_GROUPS};

use super::event::{AgentEvent, RequestOutcome};
use super::group::{GroupState, Target};
use super::step::{Step, StepResult};

/// The shape of one group as the protocol half sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GroupShape {
    /// Number of resources (monitors count as resources at the end).
    pub resources: u8,
    /// How many of them, at the end, are the group's monitors. A monitor
    /// checks the group's service, so its failure restarts the group's last
    /// resource (and the monitors after it), not only the monitor.
    pub monitors: u8,
    /// Local restarts allowed within `restart_window` before the group is
    /// reported failing.
    pub max_restarts: u32,
}

/// What the protocol half needs to know.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AgentConfig {
    /// This node.
    pub node: NodeId,
    /// Every group of the cluster, by id (groups this node is not eligible
    /// for are never in its `want`, but are still probed and released).
    pub groups: Vec<GroupShape>,
    /// How often a Status (or, before the handshake, a Hello) is sent.
    pub keepalive: Duration,
    /// Silence after which the controller is taken as gone: acquire nothing.
    pub controller_silence: Duration,
    /// Time between monitor sweeps of a held group.
    pub monitor_interval: Duration,
    /// Time between probe sweeps of every group (the real system is the truth).
    pub probe_interval: Duration,
    /// Window in which local restarts are counted.
    pub restart_window: Duration,
    /// A step not ended after this long is overdue: its group is reported
    /// stuck or failing (see the module documentation). Set it above the
    /// longest timeout a driver enforces itself.
    pub step_timeout: Duration,
    /// Whether the node has ping nodes (ipfail's): then it reports nothing
    /// until its first net score is known, so that the controller never
    /// places a group by a score of 0 that only means "not measured yet"
    /// and moves it again a round later.
    pub pinging: bool,
}

/// A configuration the protocol half refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum AgentConfigError {
    /// More groups than the protocol carries.
    #[error("{0} groups configured, at most {MAX_GROUPS} allowed")]
    TooManyGroups(usize),
    /// A timing value is zero.
    #[error("agent timing `{0}` must be greater than zero")]
    ZeroTiming(&'static str),
}

/// Something the driver must carry out, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AgentOutput {
    /// Encode and send on every link to the controller.
    Send(Message),
    /// Run this step on the resource, then call [`Agent::handle_step`].
    Step(Step),
    /// Log it; run the alert command.
    Event(AgentEvent),
    /// The controller answered the request with this id.
    Reply {
        /// The id [`Agent::request`] returned.
        id: u32,
        /// Accepted, or why not.
        outcome: RequestOutcome,
    },
    /// The controller described the cluster, answering the `Op::Describe`
    /// request whose id the summary carries.
    Summary(Summary),
    /// One entry of the controller's fence history, answering the
    /// `Op::History` request whose id it carries.
    History(HistoryAnswer),
    /// The controller's counters, answering the `Op::Counters` request
    /// whose id they carry.
    Counters(CountersAnswer),
}

/// Why an operator request could not be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum RequestError {
    /// No session with the controller.
    #[error("no session with the controller (it has not answered this agent's Hello)")]
    NotConnected,
}

/// Counters of refused input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct AgentStats {
    /// Messages refused by the session rules.
    pub session_rejects: u32,
    /// Messages for another node, or of a kind an agent never receives.
    pub unexpected: u32,
    /// Step results that answered no outstanding step.
    pub stale_steps: u32,
}

/// The agent at a glance (for `wardenctl status` and logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AgentView {
    /// A Beat answered the current handshake.
    pub connected: bool,
    /// No Beat for `controller_silence`.
    pub silent: bool,
    /// When the last Beat was accepted.
    pub last_beat: Option<Instant>,
    /// The latest Beat's role.
    pub role: Option<Role>,
    /// The latest Beat's want.
    pub want: GroupSet,
    /// What the next Status says.
    pub status: Status,
    /// Every group has been probed once.
    pub initialized: bool,
}

/// The agent's protocol half. See the module documentation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Agent {
    config: AgentConfig,
    session: Initiator,
    groups: Vec<GroupState>,
    /// The latest accepted Beat of this session and its seq.
    beat: Option<(u64, Beat)>,
    last_beat_at: Option<Instant>,
    silent: bool,
    /// Seq of the last Beat whose want is reconciled (this session only).
    applied: u64,
    net_score: u16,
    /// Whether a net score was given (or none is to come).
    net_known: bool,
    /// When the next Hello or Status is due.
    next_send: Instant,
    /// When the last Hello went out (new handshakes are at most one per keepalive).
    last_hello: Option<Instant>,
    /// When the next probe sweep is due.
    next_probe: Instant,
    /// What `poll_timeout` answers, worked out at the end of every step.
    deadline: Instant,
    last_sent: Option<Status>,
    next_request: u32,
    now: Instant,
    outputs: VecDeque<AgentOutput>,
    stats: AgentStats,
}

impl Agent {
    /// A freshly booted agent: it knows nothing of the system yet, so it
    /// probes every resource, says Hello, and reports only once every
    /// resource has been probed.
    ///
    /// # Errors
    ///
    /// [`AgentConfigError`] when the configuration cannot work.
    pub fn new(config: AgentConfig, now: Instant, boot_nonce: u64) -> Result<Self, AgentConfigError> {
        if config.groups.len() > MAX_GROUPS {
            return Err(AgentConfigError::TooManyGroups(config.groups.len()));
        }
        for (key, value) in [
            ("keepalive", config.keepalive),
            ("controller_silence", config.controller_silence),
            ("monitor_interval", config.monitor_interval),
            ("probe_interval", config.probe_interval),
            ("step_timeout", config.step_timeout),
        ] {
            if value == Duration::ZERO {
                return Err(AgentConfigError::ZeroTiming(key));
            }
        }
        let groups = (0u8..).zip(&config.groups).map(|(g, shape)| GroupState::new(GroupId(g), shape, now)).collect();
        let next_probe = now.saturating_add(config.probe_interval);
        let net_known = !config.pinging;
        let mut agent = Self {
            config,
            session: Initiator::new(boot_nonce),
            groups,
            beat: None,
            last_beat_at: None,
            silent: false,
            applied: 0,
            net_score: 0,
            net_known,
            next_send: now,
            last_hello: None,
            next_probe,
            deadline: now,
            last_sent: None,
            next_request: 0,
            now,
            outputs: VecDeque::new(),
            stats: AgentStats::default(),
        };
        agent.settle(now);
        Ok(agent)
    }

    /// A frame from the controller, already decoded and authenticated.
    pub fn handle_message(&mut self, now: Instant, message: Message) {
        let now = self.advance(now);
        if message.header.node != self.config.node {
            self.stats.unexpected = self.stats.unexpected.saturating_add(1);
            return;
        }
        match message.body {
            Body::Beat(beat) => self.receive_beat(now, &message, beat),
            Body::Reply(_) | Body::Summary(_) | Body::History(_) | Body::Counters(_) => {
                if self.session.accept(&message.header).is_err() {
                    self.stats.session_rejects = self.stats.session_rejects.saturating_add(1);
                } else if let Body::Reply(reply) = message.body {
                    self.outputs.push_back(AgentOutput::Reply { id: reply.id, outcome: reply.outcome });
                } else if let Body::Summary(summary) = message.body {
                    self.outputs.push_back(AgentOutput::Summary(summary));
                } else if let Body::History(answer) = message.body {
                    self.outputs.push_back(AgentOutput::History(answer));
                } else if let Body::Counters(counters) = message.body {
                    self.outputs.push_back(AgentOutput::Counters(counters));
                }
            }
            Body::Hello | Body::Status(_) | Body::Request(_) | Body::Probing => {
                self.stats.unexpected = self.stats.unexpected.saturating_add(1);
            }
        }
        self.settle(now);
    }

    /// A step the driver ran has ended.
    pub fn handle_step(&mut self, now: Instant, step: Step, result: StepResult) {
        let now = self.advance(now);
        let (interval, window) = (self.config.monitor_interval, self.config.restart_window);
        let mut events = Vec::new();
        let known = self
            .groups
            .get_mut(step.group.index())
            .is_some_and(|g| g.finish(step, result, now, interval, window, &mut events));
        if !known {
            self.stats.stale_steps = self.stats.stale_steps.saturating_add(1);
        }
        self.outputs.extend(events.into_iter().map(AgentOutput::Event));
        self.settle(now);
    }

    /// The ping nodes' reachability changed (ipfail's role): higher is better.
    pub fn handle_net_score(&mut self, now: Instant, score: u16) {
        let now = self.advance(now);
        self.net_score = score;
        self.net_known = true;
        self.settle(now);
    }

    /// Time passed: run the timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        let now = self.advance(now);
        self.settle(now);
    }

    /// Relays an operator command to the controller. The answer comes back
    /// as [`AgentOutput::Reply`] with the returned id (or never, if a frame
    /// is lost: the caller times out and the operator looks at the status).
    ///
    /// # Errors
    ///
    /// [`RequestError::NotConnected`] when there is no session.
    pub fn request(&mut self, now: Instant, op: Op) -> Result<u32, RequestError> {
        self.advance(now);
        if !self.session.is_established() {
            return Err(RequestError::NotConnected);
        }
        self.next_request = self.next_request.wrapping_add(1);
        let id = self.next_request;
        let header = self.session.header(self.config.node);
        let body = Body::Request(warden_core::wire::Request { id, op });
        self.outputs.push_back(AgentOutput::Send(Message { header, body }));
        Ok(id)
    }

    /// The next thing to carry out, in order.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<AgentOutput> {
        self.outputs.pop_front()
    }

    /// When `handle_timeout` must be called next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        Some(self.deadline)
    }

    /// The earliest timer, as of the end of the last step.
    fn next_deadline(&self) -> Instant {
        let mut next = self.next_send.min(self.next_probe);
        if !self.silent {
            if let Some(at) = self.last_beat_at {
                next = next.min(at.saturating_add(self.config.controller_silence));
            }
        }
        for (g, state) in self.groups.iter().enumerate() {
            if let Some(at) = state.monitor_deadline(self.target(g)) {
                next = next.min(at);
            }
            if let Some(at) = state.step_deadline(self.config.step_timeout) {
                next = next.min(at);
            }
        }
        next.max(self.now)
    }

    /// The agent at a glance.
    #[must_use]
    pub fn view(&self) -> AgentView {
        AgentView {
            connected: self.session.is_established(),
            silent: self.silent,
            last_beat: self.last_beat_at,
            role: self.beat.map(|(_, b)| b.role),
            want: self.beat.map_or(GroupSet::EMPTY, |(_, b)| b.want),
            status: self.status(),
            initialized: self.initialized(),
        }
    }

    /// Counters of refused input.
    #[must_use]
    pub fn stats(&self) -> AgentStats {
        self.stats
    }

    /// The configuration it runs with.
    #[must_use]
    pub fn config(&self) -> &AgentConfig {
        &self.config
    }

    fn advance(&mut self, now: Instant) -> Instant {
        self.now = self.now.max(now);
        self.now
    }

    fn receive_beat(&mut self, now: Instant, message: &Message, beat: Beat) {
        let was_connected = self.session.is_established();
        match self.session.accept(&message.header) {
            Ok(()) => {
                if !was_connected {
                    self.outputs.push_back(AgentOutput::Event(AgentEvent::Connected));
                }
                if self.silent {
                    self.silent = false;
                    self.outputs.push_back(AgentOutput::Event(AgentEvent::ControllerBack));
                }
                self.last_beat_at = Some(now);
                if beat.role != Role::Listening {
                    for (g, state) in (0u8..).zip(self.groups.iter_mut()) {
                        if !beat.want.contains(GroupId(g)) {
                            state.released_by_controller();
                        }
                    }
                }
                self.beat = Some((message.header.seq, beat));
            }
            Err(SessionError::Replay { .. }) => {
                // The same Beat over a second link, or a late copy.
                self.stats.session_rejects = self.stats.session_rejects.saturating_add(1);
            }
            Err(_) => {
                // Not of this session: the controller restarted, or its
                // session moved on. Start over, at most once per keepalive.
                self.stats.session_rejects = self.stats.session_rejects.saturating_add(1);
                let recent = self.last_hello.is_some_and(|t| now < t.saturating_add(self.config.keepalive));
                if !recent {
                    self.session.start_handshake();
                    // Only Beats of the new session count from here on.
                    self.beat = None;
                    self.applied = 0;
                    self.outputs.push_back(AgentOutput::Event(AgentEvent::Rehandshake));
                    self.next_send = now;
                }
            }
        }
    }

    /// What the agent wants of group `g` now.
    fn target(&self, g: usize) -> Target {
        let Some((_, beat)) = self.beat else { return Target::Hold };
        let Some(state) = self.groups.get(g) else { return Target::Hold };
        if beat.role == Role::Listening {
            return Target::Hold;
        }
        let wanted = u8::try_from(g).is_ok_and(|g| beat.want.contains(GroupId(g)));
        if !wanted || state.failing {
            Target::Down
        } else if self.silent && !state.held() && !state.restarting {
            // Fail-static: acquire nothing while the controller is silent.
            Target::Hold
        } else {
            Target::Up
        }
    }

    fn initialized(&self) -> bool {
        self.net_known && self.groups.iter().all(|g| g.initialized)
    }

    /// The Status as of now.
    fn status(&self) -> Status {
        let mut s = Status {
            applied: self.applied,
            holds: GroupSet::EMPTY,
            busy: GroupSet::EMPTY,
            healthy: GroupSet::EMPTY,
            failing: GroupSet::EMPTY,
            stuck: GroupSet::EMPTY,
            net_score: self.net_score,
        };
        for (g, state) in (0u8..).zip(&self.groups) {
            let id = GroupId(g);
            if state.held() {
                s.holds.insert(id);
            }
            if state.changing() || !state.settled(self.target(usize::from(g))) {
                s.busy.insert(id);
            }
            if state.healthy() {
                s.healthy.insert(id);
            }
            if state.failing {
                s.failing.insert(id);
            }
            if state.stuck {
                s.stuck.insert(id);
            }
        }
        s
    }

    /// Everything that follows from the inputs so far.
    fn settle(&mut self, now: Instant) {
        if !self.silent && self.last_beat_at.is_some_and(|t| now >= t.saturating_add(self.config.controller_silence)) {
            self.silent = true;
            self.outputs.push_back(AgentOutput::Event(AgentEvent::ControllerSilent));
        }
        if now >= self.next_probe {
            self.next_probe = now.saturating_add(self.config.probe_interval);
            self.groups.iter_mut().for_each(GroupState::sweep);
        }
        let mut events = Vec::new();
        for state in &mut self.groups {
            state.check_overdue(now, self.config.step_timeout, &mut events);
        }
        self.outputs.extend(events.into_iter().map(AgentOutput::Event));
        for g in 0..self.groups.len() {
            let target = self.target(g);
            if let Some(step) = self.groups.get_mut(g).and_then(|s| s.next_step(target, now)) {
                self.outputs.push_back(AgentOutput::Step(step));
            }
        }
        if let Some((seq, _)) = self.beat {
            if (0..self.groups.len()).all(|g| self.groups.get(g).is_some_and(|s| s.settled(self.target(g)))) {
                self.applied = seq;
            }
        }
        self.report(now);
        self.deadline = self.next_deadline();
    }

    /// Hello before the handshake; Status after it, every keepalive and at
    /// once when it changes.
    fn report(&mut self, now: Instant) {
        let node = self.config.node;
        if !self.session.is_established() {
            if now >= self.next_send {
                let hello = self.session.hello(node);
                self.outputs.push_back(AgentOutput::Send(hello));
                self.last_hello = Some(now);
                self.next_send = now.saturating_add(self.config.keepalive);
            }
            return;
        }
        if !self.initialized() {
            // Alive, but nothing to report yet: a Status would be adopted.
            if now >= self.next_send {
                let header = self.session.header(node);
                self.outputs.push_back(AgentOutput::Send(Message { header, body: Body::Probing }));
                self.next_send = now.saturating_add(self.config.keepalive);
            }
            return;
        }
        let status = self.status();
        if now >= self.next_send || self.last_sent != Some(status) {
            let header = self.session.header(node);
            self.outputs.push_back(AgentOutput::Send(Message { header, body: Body::Status(status) }));
            self.last_sent = Some(status);
            self.next_send = now.saturating_add(self.config.keepalive);
        }
    }
}
