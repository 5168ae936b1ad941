//! The agent's metrics (`[agent] metrics = "IP:PORT"`): Prometheus text at
//! `GET /metrics`, served by [`warden_metrics::Endpoint`] on threads of its
//! own, started before the main loop is raised to `SCHED_FIFO`.
//!
//! The main loop counts events by name and resource steps by action (their
//! results and how long they took); at most once per keepalive, and at once
//! after an event, it copies what the page shows into a [`Snapshot`] and
//! publishes it without waiting ([`warden_metrics::Latest`]). Ages are taken
//! from the clock at the scrape.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use warden_agent_proto::{Action, AgentEvent, AgentStats, AgentView, StepResult};
use warden_cluster::ClusterFile;
use warden_control::Counters;
use warden_core::controller::Timing;
use warden_core::wire::{CountersAnswer, DecodeStats, Role};
use warden_metrics::page::{Link, NO_LABELS, SECONDS};
use warden_metrics::{Buckets, Endpoint, Latest, Limits, Page, Tally, Unit};

use super::clock::Clock;
use super::workers::StepDone;

/// The program's name on the page.
const PROGRAM: &str = "warden-agent";

/// A role's name, as `status` and the page say it.
pub(crate) const fn role_name(role: Role) -> &'static str {
    match role {
        Role::Listening => "listening",
        Role::Member => "member",
        Role::Standby => "standby",
    }
}

/// Every role, for the state-set rows.
const ROLES: [Role; 3] = [Role::Listening, Role::Member, Role::Standby];

/// Every step action, in the order of [`action_index`].
const ACTIONS: [Action; 4] = [Action::Start, Action::Stop, Action::Probe, Action::Monitor];

/// An action's place in [`ACTIONS`] (a compile error for a new action).
const fn action_index(action: Action) -> usize {
    match action {
        Action::Start => 0,
        Action::Stop => 1,
        Action::Probe => 2,
        Action::Monitor => 3,
    }
}

/// One link's figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LinkRow {
    pub(crate) open: bool,
    pub(crate) sent: u64,
    pub(crate) send_errors: u64,
    pub(crate) decode: DecodeStats,
    pub(crate) last_frame: Option<Instant>,
}

/// What the main loop counted.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Counts {
    /// Events by name, in the order of [`AgentEvent::EVERY_KIND`].
    events: [u64; AgentEvent::EVERY_KIND.len()],
    /// Steps by action: that went well, that failed (or found a check unhealthy).
    steps: [[u64; 2]; ACTIONS.len()],
    /// How long steps took, by action.
    took: [Buckets; ACTIONS.len()],
}

impl Counts {
    fn new() -> Self {
        Self {
            events: [0; AgentEvent::EVERY_KIND.len()],
            steps: [[0; 2]; ACTIONS.len()],
            took: std::array::from_fn(|_| Buckets::new(SECONDS)),
        }
    }
}

/// Names made once.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Names {
    node: String,
    groups: Vec<String>,
    links: Vec<String>,
}

/// A group on this node: what the controller wants, what is held, how it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct GroupRow {
    eligible: bool,
    /// want, holds, busy, healthy, failing, stuck.
    conditions: [bool; 6],
}

/// The conditions of [`GroupRow`], as `status` names its lists.
const CONDITIONS: [&str; 6] = ["want", "holds", "busy", "healthy", "failing", "stuck"];

/// What a scrape shows, copied by the main loop.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Snapshot {
    names: Arc<Names>,
    timing: Timing,
    started: Instant,
    connected: bool,
    silent: bool,
    initialized: bool,
    role: Option<Role>,
    last_beat: Option<Instant>,
    net_score: u16,
    groups: Vec<GroupRow>,
    links: Vec<LinkRow>,
    stats: AgentStats,
    counters: Counters,
    counts: Counts,
    /// The controller's counters as it last told them, and when.
    controller: Option<(CountersAnswer, Instant)>,
}

/// What the main loop gives a snapshot.
pub(crate) struct Seen<'a> {
    pub(crate) view: &'a AgentView,
    pub(crate) stats: AgentStats,
    pub(crate) clock: &'a Clock,
    pub(crate) eligible: &'a [bool],
    pub(crate) links: Vec<LinkRow>,
    pub(crate) counters: Counters,
    /// The controller's counters as it last told them (`Op::Counters`), and when.
    pub(crate) controller: Option<(CountersAnswer, Instant)>,
}

impl Snapshot {
    fn empty(names: Arc<Names>, timing: Timing, started: Instant) -> Self {
        Self {
            names,
            timing,
            started,
            connected: false,
            silent: false,
            initialized: false,
            role: None,
            last_beat: None,
            net_score: 0,
            groups: Vec::new(),
            links: Vec::new(),
            stats: AgentStats::default(),
            counters: Counters::default(),
            counts: Counts::new(),
            controller: None,
        }
    }

    /// Writes the page as it stands at `now`.
    fn write(&self, page: &mut Page<'_>, now: Instant, endpoint: &Tally) -> fmt::Result {
        let names = &*self.names;
        let node = names.node.as_str();
        let age = |t: Instant| now.saturating_duration_since(t).as_secs_f64();
        let flag = |b: bool| i64::from(b);
        page.build_info(PROGRAM, env!("CARGO_PKG_VERSION"))?;
        page.gauge(
            "warden_uptime",
            "Time since the agent started.",
            Some(&Unit::Seconds),
            [(NO_LABELS, age(self.started))],
        )?;
        page.timing(&self.timing)?;
        let me = [("node", node)];
        page.gauge(
            "warden_agent_connected",
            "1 while a Beat answered the current handshake with the controller.",
            None,
            [(me, flag(self.connected))],
        )?;
        page.gauge(
            "warden_agent_controller_silent",
            "1 while no Beat came for the dead time: holding, acquiring nothing.",
            None,
            [(me, flag(self.silent))],
        )?;
        page.gauge(
            "warden_agent_initialized",
            "1 once every resource has been probed since the agent started.",
            None,
            [(me, flag(self.initialized))],
        )?;
        page.gauge(
            "warden_agent_last_beat_age",
            "Time since the last Beat accepted from the controller (no row: none yet).",
            Some(&Unit::Seconds),
            self.last_beat.map(|t| (me, age(t))),
        )?;
        page.gauge(
            "warden_agent_role",
            "1 for the role the latest Beat gave (listening, member, standby), 0 for the others.",
            None,
            ROLES.iter().map(|r| ([("node", node), ("role", role_name(*r))], flag(self.role == Some(*r)))),
        )?;
        page.gauge(
            "warden_agent_net_score",
            "Reachable ping nodes and ping groups.",
            None,
            [(me, i64::from(self.net_score))],
        )?;
        page.gauge(
            "warden_agent_group",
            "1 when the group is in the list `status` names (want, holds, busy, healthy, failing, stuck), 0 when not; \
             groups this node is eligible for.",
            None,
            names.groups.iter().zip(&self.groups).filter(|(_, g)| g.eligible).flat_map(|(group, g)| {
                CONDITIONS
                    .iter()
                    .zip(g.conditions)
                    .map(move |(c, on)| ([("node", node), ("group", group.as_str()), ("condition", *c)], flag(on)))
            }),
        )?;
        let c = &self.counts;
        page.counter(
            "warden_agent_steps",
            "Resource steps that ended, by action: ok, or failed (a failed start, stop or probe, an unhealthy check).",
            None,
            ACTIONS.iter().zip(&c.steps).flat_map(|(a, n)| {
                let action = action_word(*a);
                [
                    ([("node", node), ("action", action), ("result", "ok")], n[0]),
                    ([("node", node), ("action", action), ("result", "failed")], n[1]),
                ]
            }),
        )?;
        page.histogram(
            "warden_agent_step_duration",
            "How long resource steps took, by action.",
            Some(&Unit::Seconds),
            ACTIONS.iter().zip(&c.took).map(|(a, b)| ([("node", node), ("action", action_word(*a))], b)),
        )?;
        page.counter(
            "warden_agent_events",
            "Events the agent raised, by name (the alert command's WARDEN_EVENT).",
            None,
            AgentEvent::EVERY_KIND.iter().zip(&c.events).map(|(e, n)| ([("node", node), ("event", e.name())], *n)),
        )?;

        let unsent: Vec<[(&'static str, u64); 1]> = self.links.iter().map(|r| [("failed", r.send_errors)]).collect();
        let links: Vec<Link<'_>> = names
            .links
            .iter()
            .zip(&self.links)
            .zip(&unsent)
            .map(|((link, r), unsent)| Link {
                node,
                link: link.as_str(),
                up: r.open,
                sent: r.sent,
                decode: r.decode,
                unsent,
                last_heard_age: r.last_frame.map(age),
            })
            .collect();
        page.links("1 while the link is open.", &links)?;
        page.counter(
            "warden_messages_refused",
            "Authentic messages the agent refused: by the session rules, or of a kind an agent never takes.",
            None,
            [
                ([("node", node), ("reason", "session")], u64::from(self.stats.session_rejects)),
                ([("node", node), ("reason", "unexpected")], u64::from(self.stats.unexpected)),
            ],
        )?;
        page.counter(
            "warden_agent_stale_steps",
            "Step results that answered no outstanding step.",
            None,
            [(me, u64::from(self.stats.stale_steps))],
        )?;
        page.counter(
            "warden_agent_control_requests_refused",
            "Control socket requests refused as malformed.",
            None,
            [(me, self.counters.control_rejects)],
        )?;
        page.counter(
            "warden_alerts_dropped",
            "Alert commands not run because the alert queue was full.",
            None,
            [(me, self.counters.alerts_dropped)],
        )?;
        page.counter(
            "warden_alerts_failed",
            "Alert commands that failed or timed out.",
            None,
            [(me, self.counters.alerts_failed)],
        )?;
        if let Some((c, told)) = &self.controller {
            write_controller(page, node, c, age(*told))?;
        }
        page.endpoint(endpoint)
    }
}

/// The controller's counters as this agent was told them (`Op::Counters`):
/// a firmware controller serves no page of its own, so its agents publish
/// these for it (`node` is the reporting agent's).
fn write_controller(page: &mut Page<'_>, node: &str, c: &CountersAnswer, told_ago: f64) -> fmt::Result {
    let me = [("node", node)];
    let by = |key: &'static str, value: &'static str| [("node", node), (key, value)];
    page.gauge(
        "warden_controller_reported_age",
        "Time since the controller last told its counters to this agent.",
        Some(&Unit::Seconds),
        [(me, told_ago)],
    )?;
    page.gauge(
        "warden_controller_reported_uptime",
        "The controller's uptime, as it last told it.",
        Some(&Unit::Seconds),
        [(me, f64::from(c.uptime_s))],
    )?;
    page.counter(
        "warden_controller_reported_fence_operations",
        "Fences the controller confirmed, and fences not confirmed within fence_timeout.",
        None,
        [
            (by("result", "confirmed"), u64::from(c.fences_confirmed)),
            (by("result", "unconfirmed"), u64::from(c.fences_unconfirmed)),
        ],
    )?;
    page.counter(
        "warden_controller_reported_unfences",
        "Unfences the controller carried out.",
        None,
        [(me, u64::from(c.unfences))],
    )?;
    page.counter(
        "warden_controller_reported_messages_refused",
        "Authentic messages the controller refused: by the session rules, or naming another node than their link's.",
        None,
        [
            (by("reason", "session"), u64::from(c.session_rejects)),
            (by("reason", "wrong_node"), u64::from(c.wrong_node)),
        ],
    )?;
    page.counter(
        "warden_controller_reported_relay_errors",
        "Relay switches the hardware refused or did not answer, and sense readings that failed.",
        None,
        [(by("op", "switch"), u64::from(c.board.relay_errors)), (by("op", "sense"), u64::from(c.board.sense_errors))],
    )?;
    page.counter(
        "warden_controller_reported_frames_refused",
        "Frames the controller's links refused (corrupt, wrong key, too long).",
        None,
        [(me, u64::from(c.board.frames_refused))],
    )?;
    page.counter(
        "warden_controller_reported_fence_store_failures",
        "Fence records the controller could not make durable.",
        None,
        [(me, u64::from(c.persist_failures))],
    )?;
    page.counter(
        "warden_controller_reported_watchdog_feeds_withheld",
        "Hardware watchdog feeds the controller withheld because a link driver was stalled.",
        None,
        [(me, u64::from(c.feeds_withheld))],
    )?;
    page.counter(
        "warden_controller_reported_alarms_dropped",
        "Events the controller did not tell because its queue was full.",
        None,
        [(me, u64::from(c.alarms_dropped))],
    )
}

/// An action's word (`start`, `stop`, `probe`, `monitor`).
const fn action_word(action: Action) -> &'static str {
    match action {
        Action::Start => "start",
        Action::Stop => "stop",
        Action::Probe => "probe",
        Action::Monitor => "monitor",
    }
}

/// The endpoint and what the main loop keeps for it.
#[derive(Debug)]
pub(crate) struct Metrics {
    endpoint: Endpoint,
    latest: Latest<Snapshot>,
    names: Arc<Names>,
    timing: Timing,
    started: Instant,
    counts: Counts,
    /// Something changed since the last publication.
    dirty: bool,
    next: Instant,
    every: Duration,
}

impl Metrics {
    /// Binds `listen` and starts the endpoint's threads (before the main
    /// loop is raised: they keep normal scheduling).
    pub(crate) fn start(
        listen: SocketAddr,
        config: &ClusterFile,
        node: &str,
        links: Vec<String>,
    ) -> std::io::Result<Self> {
        let started = Instant::now();
        let names = Arc::new(Names {
            node: node.to_owned(),
            groups: config.groups.iter().map(|g| g.name.clone()).collect(),
            links,
        });
        let latest = Latest::new(Snapshot::empty(Arc::clone(&names), config.timing, started));
        let reader = latest.clone();
        let endpoint = Endpoint::start(listen, Limits::DEFAULT, move |tally| {
            let snapshot = reader.get();
            let tally = *tally;
            let now = Instant::now();
            warden_metrics::render(move |page| snapshot.write(page, now, &tally))
        })?;
        Ok(Self {
            endpoint,
            latest,
            names,
            timing: config.timing,
            started,
            counts: Counts::new(),
            dirty: true,
            next: started,
            every: Duration::from_millis(config.timing.keepalive.as_millis()),
        })
    }

    /// Where it listens.
    pub(crate) const fn listen(&self) -> SocketAddr {
        self.endpoint.listen()
    }

    /// When the next publication is due.
    pub(crate) const fn next(&self) -> Instant {
        self.next
    }

    /// Counts an event.
    pub(crate) fn event(&mut self, event: &AgentEvent) {
        if let Some(n) = AgentEvent::EVERY_KIND
            .iter()
            .position(|e| e.name() == event.name())
            .and_then(|i| self.counts.events.get_mut(i))
        {
            *n = n.saturating_add(1);
        }
        self.dirty = true;
    }

    /// Counts a step that ended.
    pub(crate) fn step(&mut self, done: &StepDone) {
        let i = action_index(done.step.action);
        let failed = matches!(done.performed.result, StepResult::Failed(_) | StepResult::Unhealthy);
        if let Some(n) = self.counts.steps.get_mut(i).and_then(|s| s.get_mut(usize::from(failed))) {
            *n = n.saturating_add(1);
        }
        if let Some(b) = self.counts.took.get_mut(i) {
            b.observe(done.performed.took.as_secs_f64());
        }
        self.dirty = true;
    }

    /// Whether a publication is due at `now`.
    pub(crate) fn due(&self, now: Instant) -> bool {
        self.dirty || now >= self.next
    }

    /// Publishes what the loop sees (never waits: when a scrape holds the
    /// slot, it is published later).
    pub(crate) fn publish(&mut self, now: Instant, seen: Seen<'_>) {
        let v = seen.view;
        let groups = (0..self.names.groups.len())
            .map(|i| {
                let id = warden_core::GroupId(u8::try_from(i).unwrap_or(u8::MAX));
                let s = &v.status;
                GroupRow {
                    eligible: seen.eligible.get(i).copied().unwrap_or(false),
                    conditions: [
                        v.want.contains(id),
                        s.holds.contains(id),
                        s.busy.contains(id),
                        s.healthy.contains(id),
                        s.failing.contains(id),
                        s.stuck.contains(id),
                    ],
                }
            })
            .collect();
        let snapshot = Snapshot {
            names: Arc::clone(&self.names),
            timing: self.timing,
            started: self.started,
            connected: v.connected,
            silent: v.silent,
            initialized: v.initialized,
            role: v.role,
            last_beat: v.last_beat.map(|t| seen.clock.at(t)),
            net_score: v.status.net_score,
            groups,
            links: seen.links,
            stats: seen.stats,
            counters: seen.counters,
            counts: self.counts.clone(),
            controller: seen.controller,
        };
        // A scrape holding the slot at this instant: still dirty, tried again
        // when the loop next wakes, never spun on.
        self.dirty = !self.latest.publish(snapshot);
        self.next = now + self.every;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_its_families_with_units_and_times_steps() {
        let names =
            Arc::new(Names { node: "n1".into(), groups: vec!["svc".into()], links: vec!["serial /dev/ttyS0".into()] });
        let t0 = Instant::now();
        let mut s = Snapshot::empty(names, Timing::DEFAULT, t0);
        s.connected = true;
        s.role = Some(Role::Member);
        s.last_beat = Some(t0);
        s.groups = vec![GroupRow { eligible: true, conditions: [true, true, false, true, false, false] }];
        s.links = vec![LinkRow {
            open: true,
            sent: 7,
            send_errors: 1,
            decode: DecodeStats { ok: 5, bad_tag: 2, ..DecodeStats::default() },
            last_frame: Some(t0),
        }];
        s.counts.steps[action_index(Action::Start)] = [1, 0];
        s.counts.took[action_index(Action::Start)].observe(0.02);
        s.counts.events[0] = 1;
        let now = t0 + Duration::from_millis(1500);
        let text = warden_metrics::render(move |page| s.write(page, now, &Tally::default()));
        for line in [
            "warden_build_info{program=\"warden-agent\",version=\"0.1.0\"} 1",
            "warden_uptime_seconds 1.5",
            "warden_agent_connected{node=\"n1\"} 1",
            "warden_agent_last_beat_age_seconds{node=\"n1\"} 1.5",
            "warden_agent_role{node=\"n1\",role=\"member\"} 1",
            "warden_agent_role{node=\"n1\",role=\"standby\"} 0",
            "warden_agent_group{node=\"n1\",group=\"svc\",condition=\"holds\"} 1",
            "warden_agent_group{node=\"n1\",group=\"svc\",condition=\"failing\"} 0",
            "warden_agent_steps_total{node=\"n1\",action=\"start\",result=\"ok\"} 1",
            "warden_agent_step_duration_seconds_bucket{node=\"n1\",action=\"start\",le=\"0.025\"} 1",
            "warden_agent_step_duration_seconds_count{node=\"n1\",action=\"stop\"} 0",
            "warden_link_up{node=\"n1\",link=\"serial /dev/ttyS0\"} 1",
            "warden_link_frames_sent_total{node=\"n1\",link=\"serial /dev/ttyS0\"} 7",
            "warden_link_frames_received_total{node=\"n1\",link=\"serial /dev/ttyS0\"} 5",
            "warden_link_frames_rejected_total{node=\"n1\",link=\"serial /dev/ttyS0\",reason=\"bad_tag\"} 2",
            "warden_link_last_heard_age_seconds{node=\"n1\",link=\"serial /dev/ttyS0\"} 1.5",
            "warden_agent_events_total{node=\"n1\",event=\"connected\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "no line `{line}` in:\n{text}");
        }
    }
}
