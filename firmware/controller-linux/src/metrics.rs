//! The controller's metrics (`[controller] metrics = "IP:PORT"`): Prometheus
//! text at `GET /metrics`, served by [`warden_metrics::Endpoint`] on threads
//! of its own.
//!
//! The main loop keeps [`Counts`] from the core's event stream, with its
//! clock: events by kind, fence operations by result and their times
//! (`fence_started` to `fence_confirmed`), group moves by reason, and each
//! failover's phases (the node last heard to `node_dead`: detection;
//! `node_dead` to `fence_confirmed`: fence; `fence_confirmed`, or
//! `node_dead` when nothing was fenced, to the `placed` of each group the
//! node held: placement). Relay switches and sense readings that failed are
//! counted from the relay thread's answers.
//!
//! At most once per keepalive, and at once after an event, the loop copies
//! what the page shows into a [`Snapshot`] and publishes it
//! ([`warden_metrics::Latest`], never waiting). A scrape writes the page from
//! the latest snapshot; only ages (`last_heard`) and the uptime are taken
//! from the clock at the scrape.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use warden_bsp::linux::MonotonicClock;
use warden_bsp::Clock;
use warden_cluster::hardware::ControllerConfig;
use warden_cluster::ClusterFile;
use warden_core::controller::{Controller, ControllerStats, Event, Life, MoveReason, Timing};
use warden_core::wire::DecodeStats;
use warden_core::{GroupId, GroupSet, Instant, NodeId, MAX_NODES};
use warden_metrics::page::{seconds, Link, NO_LABELS, SECONDS};
use warden_metrics::{Buckets, Endpoint, Latest, Limits, Page, Tally, Unit};

use crate::links::{link_name, Links};
use crate::report;

/// The program's name on the page.
const PROGRAM: &str = "warden-controller";

/// Every life, in the order of [`life_index`].
pub const LIVES: [Life; 6] = [Life::Booting, Life::Up, Life::Late, Life::Dead, Life::Fencing, Life::Fenced];

/// A life's place in [`LIVES`]; a life added to the core is a compile
/// error here until it is listed.
#[must_use]
pub const fn life_index(life: Life) -> usize {
    match life {
        Life::Booting => 0,
        Life::Up => 1,
        Life::Late => 2,
        Life::Dead => 3,
        Life::Fencing => 4,
        Life::Fenced => 5,
    }
}

/// Every move reason, in the order of [`reason_index`].
pub const REASONS: [MoveReason; 6] = [
    MoveReason::HolderLost,
    MoveReason::Failing,
    MoveReason::NetScore,
    MoveReason::Failback,
    MoveReason::Operator,
    MoveReason::Placement,
];

/// A reason's place in [`REASONS`] (a compile error for a new reason).
#[must_use]
pub const fn reason_index(reason: MoveReason) -> usize {
    match reason {
        MoveReason::HolderLost => 0,
        MoveReason::Failing => 1,
        MoveReason::NetScore => 2,
        MoveReason::Failback => 3,
        MoveReason::Operator => 4,
        MoveReason::Placement => 5,
    }
}

/// How a group stands, as the page says it.
#[must_use]
pub const fn group_state(placed_on: Option<NodeId>, held_by: u8, moving: bool) -> &'static str {
    match placed_on {
        _ if moving => "moving",
        None => "unplaced",
        Some(n) if n.0 < 8 && held_by & (1 << n.0) != 0 => "held",
        Some(_) => "placing",
    }
}

/// Every group state the page shows, in order.
pub const GROUP_STATES: [&str; 4] = ["held", "placing", "moving", "unplaced"];

/// What failed on the relay thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayOp {
    /// A switch the hardware refused.
    Switch,
    /// A sense reading that could not be had.
    Sense,
}

/// A failover under way: a node declared dead, until each group it held
/// is placed elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Failover {
    dead_at: Instant,
    fenced_at: Option<Instant>,
    groups: GroupSet,
}

/// What the event stream and the relay thread showed, counted by the main
/// loop.
#[derive(Debug, Clone, PartialEq)]
pub struct Counts {
    /// Events by kind, in the order of [`Event::EVERY_KIND`].
    events: [u64; Event::EVERY_KIND.len()],
    fences_confirmed: u64,
    fences_unconfirmed: u64,
    fence_started: [Option<Instant>; MAX_NODES],
    fence_seconds: Buckets,
    failovers: [Option<Failover>; MAX_NODES],
    detection: Buckets,
    fence_phase: Buckets,
    placement: Buckets,
    /// Moves by group, by reason.
    moves: Vec<[u64; REASONS.len()]>,
    /// Relay errors by node: switch, sense.
    relay_errors: [[u64; 2]; MAX_NODES],
    /// Where each group was last seen placed: a node that loses its power
    /// has forgotten what it held by the time its death is told.
    placed: Vec<Option<NodeId>>,
}

impl Counts {
    /// Nothing counted, for `groups` groups.
    #[must_use]
    pub fn new(groups: usize) -> Self {
        Self {
            events: [0; Event::EVERY_KIND.len()],
            fences_confirmed: 0,
            fences_unconfirmed: 0,
            fence_started: [None; MAX_NODES],
            fence_seconds: Buckets::new(SECONDS),
            failovers: [None; MAX_NODES],
            detection: Buckets::new(SECONDS),
            fence_phase: Buckets::new(SECONDS),
            placement: Buckets::new(SECONDS),
            moves: vec![[0; REASONS.len()]; groups],
            relay_errors: [[0; 2]; MAX_NODES],
            placed: vec![None; groups],
        }
    }

    /// Notes where the groups are placed now (at each publication).
    pub fn follow(&mut self, controller: &Controller) {
        for (i, slot) in self.placed.iter_mut().enumerate() {
            let g = GroupId(u8::try_from(i).unwrap_or(u8::MAX));
            if let Some(node) = controller.group(g).and_then(|v| v.placed_on) {
                *slot = Some(node);
            }
        }
    }

    /// An event the core raised at `now`; `controller` is as it is after
    /// the step that raised it.
    pub fn note(&mut self, now: Instant, event: &Event, controller: &Controller) {
        if let Some(i) = Event::EVERY_KIND.iter().position(|e| e.kind() == event.kind()) {
            if let Some(n) = self.events.get_mut(i) {
                *n = n.saturating_add(1);
            }
        }
        let since = |t: Instant| seconds(now.saturating_since(t).as_millis());
        match *event {
            Event::NodeDead { node } => {
                let Some(view) = controller.node(node) else { return };
                if let Some(heard) = view.last_heard {
                    self.detection.observe(since(heard));
                }
                let mut groups = view.holds;
                for (i, placed) in self.placed.iter().enumerate() {
                    let g = GroupId(u8::try_from(i).unwrap_or(u8::MAX));
                    if *placed == Some(node) || controller.group(g).is_some_and(|v| v.placed_on == Some(node)) {
                        groups.insert(g);
                    }
                }
                if let Some(slot) = self.failovers.get_mut(node.index()) {
                    *slot = Some(Failover { dead_at: now, fenced_at: None, groups });
                }
            }
            Event::FenceStarted { node } => {
                if let Some(slot) = self.fence_started.get_mut(node.index()) {
                    *slot = Some(now);
                }
            }
            Event::FenceConfirmed { node } => {
                self.fences_confirmed = self.fences_confirmed.saturating_add(1);
                if let Some(started) = self.fence_started.get_mut(node.index()).and_then(Option::take) {
                    self.fence_seconds.observe(since(started));
                }
                if let Some(f) = self.failovers.get_mut(node.index()).and_then(Option::as_mut) {
                    if f.fenced_at.is_none() {
                        f.fenced_at = Some(now);
                        self.fence_phase.observe(since(f.dead_at));
                    }
                }
            }
            // The start is kept: a confirmation that comes late is timed whole.
            Event::FenceUnconfirmed { .. } => self.fences_unconfirmed = self.fences_unconfirmed.saturating_add(1),
            Event::Placed { group, to, reason } => {
                if let Some(m) = self.moves.get_mut(group.index()).and_then(|m| m.get_mut(reason_index(reason))) {
                    *m = m.saturating_add(1);
                }
                if let Some(slot) = self.placed.get_mut(group.index()) {
                    *slot = Some(to);
                }
                if reason != MoveReason::HolderLost {
                    return;
                }
                for (i, slot) in self.failovers.iter_mut().enumerate() {
                    let Some(f) = slot else { continue };
                    if i == to.index() || !f.groups.contains(group) {
                        continue;
                    }
                    self.placement.observe(since(f.fenced_at.unwrap_or(f.dead_at)));
                    f.groups.remove(group);
                    if f.groups.is_empty() {
                        *slot = None;
                    }
                }
            }
            // Back before its groups moved: that failover is over.
            Event::NodeUp { node } | Event::Unfenced { node } => {
                if let Some(slot) = self.failovers.get_mut(node.index()) {
                    *slot = None;
                }
            }
            _ => {}
        }
    }

    /// A relay switch or sense reading of `node` that failed.
    pub fn relay_error(&mut self, node: NodeId, op: RelayOp) {
        if let Some(n) = self.relay_errors.get_mut(node.index()).and_then(|e| e.get_mut(op as usize)) {
            *n = n.saturating_add(1);
        }
    }
}

/// Names of nodes, groups and links, made once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    nodes: Vec<String>,
    groups: Vec<String>,
    /// Each link's node (by index) and name, in the link numbering of
    /// [`Links`].
    links: Vec<(usize, String)>,
}

impl Names {
    /// From the cluster file and the controller's hardware file.
    #[must_use]
    pub fn new(file: &ClusterFile, hw: &ControllerConfig) -> Self {
        Self {
            nodes: file.nodes.iter().map(|n| n.name.clone()).collect(),
            groups: file.groups.iter().map(|g| g.name.clone()).collect(),
            links: hw.nodes.iter().flat_map(|n| n.links.iter().map(move |l| (n.id.index(), link_name(l)))).collect(),
        }
    }

    fn node(&self, i: usize) -> &str {
        self.nodes.get(i).map_or("?", String::as_str)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct NodeRow {
    life: Life,
    standby: bool,
    powered: Option<bool>,
    sense_ok: bool,
    fence_record: bool,
    last_heard: Option<Instant>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct GroupRow {
    placed_on: Option<NodeId>,
    held_by: u8,
    moving: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LinkRow {
    open: bool,
    stalled: bool,
    decode: DecodeStats,
    sent: u32,
    send_full: u32,
    send_failed: u32,
    last_heard: Option<Instant>,
}

/// What a scrape shows, copied by the main loop.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    names: Arc<Names>,
    timing: Timing,
    nodes: Vec<NodeRow>,
    groups: Vec<GroupRow>,
    links: Vec<LinkRow>,
    stats: ControllerStats,
    counts: Counts,
}

impl Snapshot {
    /// Nothing yet but the names and the timing (before the first publication).
    #[must_use]
    pub fn empty(names: Arc<Names>, timing: Timing) -> Self {
        let groups = names.groups.len();
        Self {
            names,
            timing,
            nodes: Vec::new(),
            groups: Vec::new(),
            links: Vec::new(),
            stats: ControllerStats::ZERO,
            counts: Counts::new(groups),
        }
    }

    /// The controller, its links and what was counted, now. `sense_failing`
    /// by node index.
    #[must_use]
    pub fn take(
        names: &Arc<Names>,
        controller: &Controller,
        links: &Links,
        sense_failing: &[bool],
        counts: &Counts,
    ) -> Self {
        let summary = controller.summary(0);
        let nodes = (0..names.nodes.len())
            .filter_map(|i| {
                let id = NodeId(u8::try_from(i).ok()?);
                let v = controller.node(id)?;
                Some(NodeRow {
                    life: v.life,
                    standby: v.standby,
                    powered: v.powered,
                    sense_ok: !sense_failing.get(i).copied().unwrap_or(false),
                    fence_record: summary.node(id).is_some_and(|s| s.fence_record),
                    last_heard: v.last_heard,
                })
            })
            .collect();
        let groups = (0..names.groups.len())
            .filter_map(|i| {
                let v = controller.group(GroupId(u8::try_from(i).ok()?))?;
                Some(GroupRow { placed_on: v.placed_on, held_by: v.held_by, moving: v.moving })
            })
            .collect();
        let links = links
            .iter()
            .map(|l| {
                let s = l.stats();
                LinkRow {
                    open: l.is_open(),
                    stalled: l.is_stalled(),
                    decode: l.decode_stats(),
                    sent: s.sent,
                    send_full: s.send_full,
                    send_failed: s.send_failed,
                    last_heard: l.last_heard(),
                }
            })
            .collect();
        Self {
            names: Arc::clone(names),
            timing: controller.config().timing,
            nodes,
            groups,
            links,
            stats: controller.stats(),
            counts: counts.clone(),
        }
    }

    /// Writes the page as it stands at `now`.
    ///
    /// # Errors
    ///
    /// Only the formatter's.
    pub fn write(&self, page: &mut Page<'_>, now: Instant, endpoint: &Tally) -> fmt::Result {
        let names = &*self.names;
        let age = |t: Instant| seconds(now.saturating_since(t).as_millis());
        let flag = |b: bool| i64::from(b);
        page.build_info(PROGRAM, env!("CARGO_PKG_VERSION"))?;
        page.gauge(
            "warden_uptime",
            "Time since the controller started.",
            Some(&Unit::Seconds),
            [(NO_LABELS, seconds(now.as_millis()))],
        )?;
        page.timing(&self.timing)?;

        let nodes: Vec<(&str, &NodeRow)> = self.nodes.iter().enumerate().map(|(i, n)| (names.node(i), n)).collect();
        page.gauge(
            "warden_node_life",
            "1 for the node's life as the controller sees it, 0 for the others.",
            None,
            nodes.iter().flat_map(|(node, n)| {
                LIVES.iter().map(move |l| ([("node", *node), ("life", l.name())], flag(*l == n.life)))
            }),
        )?;
        page.gauge(
            "warden_node_power",
            "1 for the node's sensed power (on, off, unknown), 0 for the others.",
            None,
            nodes.iter().flat_map(|(node, n)| {
                [Some(true), Some(false), None]
                    .into_iter()
                    .map(move |p| ([("node", *node), ("power", report::power(p))], flag(p == n.powered)))
            }),
        )?;
        page.gauge(
            "warden_node_sense_ok",
            "1 while the node's power sense is read, 0 while reading it fails.",
            None,
            nodes.iter().map(|(node, n)| ([("node", *node)], flag(n.sense_ok))),
        )?;
        page.gauge(
            "warden_node_fenced",
            "1 while the node's durable fence record says fenced (its relay stays off).",
            None,
            nodes.iter().map(|(node, n)| ([("node", *node)], flag(n.fence_record))),
        )?;
        page.gauge(
            "warden_node_standby",
            "1 while the node is in operator standby.",
            None,
            nodes.iter().map(|(node, n)| ([("node", *node)], flag(n.standby))),
        )?;
        page.gauge(
            "warden_node_last_heard_age",
            "Time since the node's last valid message (no row: never heard).",
            Some(&Unit::Seconds),
            nodes.iter().filter_map(|(node, n)| Some(([("node", *node)], age(n.last_heard?)))),
        )?;

        let groups: Vec<(&str, &GroupRow)> =
            self.groups.iter().enumerate().map(|(i, g)| (names.groups.get(i).map_or("?", String::as_str), g)).collect();
        page.gauge(
            "warden_group_placed",
            "1 on the node whose want holds the group (no row: placed nowhere).",
            None,
            groups
                .iter()
                .filter_map(|(group, g)| Some(([("group", *group), ("node", names.node(g.placed_on?.index()))], 1i64))),
        )?;
        page.gauge(
            "warden_group_holders",
            "How many nodes report holding the group (more than 1: alarm).",
            None,
            groups.iter().map(|(group, g)| ([("group", *group)], i64::from(g.held_by.count_ones()))),
        )?;
        page.gauge(
            "warden_group_state",
            "1 for the group's state (held, placing, moving, unplaced), 0 for the others.",
            None,
            groups.iter().flat_map(|(group, g)| {
                let now = group_state(g.placed_on, g.held_by, g.moving);
                GROUP_STATES.iter().map(move |s| ([("group", *group), ("state", *s)], flag(*s == now)))
            }),
        )?;
        page.counter(
            "warden_group_moves",
            "Placements of the group, by reason.",
            None,
            self.counts.moves.iter().enumerate().flat_map(|(i, by)| {
                let group = names.groups.get(i).map_or("?", String::as_str);
                REASONS.iter().zip(by).map(move |(r, n)| ([("group", group), ("reason", r.name())], *n))
            }),
        )?;

        let unsent: Vec<[(&'static str, u64); 2]> = self
            .links
            .iter()
            .map(|r| [("full", u64::from(r.send_full)), ("failed", u64::from(r.send_failed))])
            .collect();
        let links: Vec<Link<'_>> = names
            .links
            .iter()
            .zip(&self.links)
            .zip(&unsent)
            .map(|(((node, link), r), unsent)| Link {
                node: names.node(*node),
                link: link.as_str(),
                up: r.open && !r.stalled,
                sent: u64::from(r.sent),
                decode: r.decode,
                unsent,
                last_heard_age: r.last_heard.map(age),
            })
            .collect();
        page.links("1 while the link is open and its driver not stalled.", &links)?;

        let c = &self.counts;
        page.counter(
            "warden_fence_operations",
            "Fences that ended: confirmed by the power sense, or unconfirmed within fence_timeout.",
            None,
            [([("result", "confirmed")], c.fences_confirmed), ([("result", "unconfirmed")], c.fences_unconfirmed)],
        )?;
        page.histogram(
            "warden_fence_duration",
            "Time from a fence's start (its record being written) to the power sensed off.",
            Some(&Unit::Seconds),
            [(NO_LABELS, &c.fence_seconds)],
        )?;
        page.histogram(
            "warden_failover_phase",
            "Failover phases: detection (last heard to dead), fence (dead to fence confirmed), placement \
             (fence confirmed, or dead when nothing was fenced, to each group placed elsewhere).",
            Some(&Unit::Seconds),
            [
                ([("phase", "detection")], &c.detection),
                ([("phase", "fence")], &c.fence_phase),
                ([("phase", "placement")], &c.placement),
            ],
        )?;
        page.counter(
            "warden_relay_errors",
            "Relay switches the hardware refused (op=switch) and sense readings that failed (op=sense).",
            None,
            nodes.iter().enumerate().flat_map(|(i, (node, _))| {
                let e = c.relay_errors.get(i).copied().unwrap_or_default();
                [([("node", *node), ("op", "switch")], e[0]), ([("node", *node), ("op", "sense")], e[1])]
            }),
        )?;
        page.counter(
            "warden_watchdog_feeds_withheld",
            "Hardware watchdog feeds withheld because a link driver was stalled.",
            None,
            [(NO_LABELS, u64::from(self.stats.feeds_withheld))],
        )?;
        page.counter(
            "warden_fence_store_failures",
            "Fence records that could not be made durable.",
            None,
            [(NO_LABELS, u64::from(self.stats.persist_failures))],
        )?;
        page.counter(
            "warden_messages_refused",
            "Authentic messages the controller refused: by the session rules, naming another node, or of a kind it never takes.",
            None,
            [
                ([("reason", "session")], u64::from(self.stats.session_rejects)),
                ([("reason", "wrong_node")], u64::from(self.stats.wrong_node)),
                ([("reason", "unexpected")], u64::from(self.stats.unexpected)),
            ],
        )?;
        page.counter(
            "warden_alarms_dropped",
            "Events not told because the core's queue was full.",
            None,
            [(NO_LABELS, u64::from(self.stats.alarms_dropped))],
        )?;
        page.counter(
            "warden_events",
            "Events the controller raised, by kind (the alert command's WARDEN_EVENT).",
            None,
            Event::EVERY_KIND.iter().zip(&c.events).map(|(e, n)| ([("kind", e.kind())], *n)),
        )?;
        page.endpoint(endpoint)
    }
}

/// The endpoint and what the main loop keeps for it.
#[derive(Debug)]
pub struct Metrics {
    endpoint: Endpoint,
    latest: Latest<Snapshot>,
    names: Arc<Names>,
    /// What the event stream showed.
    pub counts: Counts,
    /// Something changed since the last publication.
    pub dirty: bool,
    next: Instant,
    every: warden_core::Duration,
}

impl Metrics {
    /// Binds `listen` and starts the endpoint's threads. Call it before the
    /// main loop is raised to `SCHED_FIFO`: the threads keep the scheduling
    /// they start with.
    ///
    /// # Errors
    ///
    /// The OS's error binding the address or starting a thread.
    pub fn start(
        listen: SocketAddr,
        file: &ClusterFile,
        hw: &ControllerConfig,
        clock: MonotonicClock,
    ) -> std::io::Result<Self> {
        let names = Arc::new(Names::new(file, hw));
        let latest = Latest::new(Snapshot::empty(Arc::clone(&names), file.timing));
        let reader = latest.clone();
        let endpoint = Endpoint::start(listen, Limits::DEFAULT, move |tally| {
            let snapshot = reader.get();
            let now = clock.now();
            let tally = *tally;
            warden_metrics::render(move |page| snapshot.write(page, now, &tally))
        })?;
        Ok(Self {
            endpoint,
            latest,
            names,
            counts: Counts::new(file.groups.len()),
            dirty: true,
            next: Instant::ZERO,
            every: file.timing.keepalive,
        })
    }

    /// Where it listens.
    #[must_use]
    pub const fn listen(&self) -> SocketAddr {
        self.endpoint.listen()
    }

    /// When the next publication is due.
    #[must_use]
    pub const fn next(&self) -> Instant {
        self.next
    }

    /// Publishes a snapshot if something changed or a keepalive has passed
    /// (never waits: when a scrape holds the slot, it is published later).
    pub fn publish_if_due(&mut self, now: Instant, controller: &Controller, links: &Links, sense_failing: &[bool]) {
        if !self.dirty && now < self.next {
            return;
        }
        self.counts.follow(controller);
        let snapshot = Snapshot::take(&self.names, controller, links, sense_failing, &self.counts);
        // A scrape holding the slot at this instant: still dirty, tried again
        // when the loop next wakes, never spun on (the loop outranks the
        // scrape, which would then wait for it).
        self.dirty = !self.latest.publish(snapshot);
        self.next = now.saturating_add(self.every);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_core::controller::Boot;

    #[test]
    fn the_page_names_every_family_with_its_unit_and_times_a_fence() {
        let file = crate::fixture::cluster();
        let boot = Boot { now: Instant(0), seed: 1, fenced: [false; MAX_NODES], powered: [Some(true); MAX_NODES] };
        let controller = Controller::new(file.cluster_config(), boot).unwrap();
        let names =
            Arc::new(Names { nodes: vec!["alpha".into(), "beta".into()], groups: vec!["web".into()], links: vec![] });
        let (alpha, beta) = (NodeId(0), NodeId(1));
        let mut counts = Counts::new(1);
        counts.note(
            Instant(500),
            &Event::Placed { group: GroupId(0), to: alpha, reason: MoveReason::Placement },
            &controller,
        );
        counts.note(Instant(1000), &Event::NodeDead { node: alpha }, &controller);
        counts.note(Instant(1000), &Event::FenceStarted { node: alpha }, &controller);
        counts.note(Instant(1250), &Event::FenceConfirmed { node: alpha }, &controller);
        counts.note(
            Instant(1300),
            &Event::Placed { group: GroupId(0), to: beta, reason: MoveReason::HolderLost },
            &controller,
        );
        counts.relay_error(alpha, RelayOp::Sense);
        let snapshot = Snapshot::take(&names, &controller, &Links::default(), &[false, true], &counts);
        let text = warden_metrics::render(move |page| snapshot.write(page, Instant(2000), &Tally::default()));
        for line in [
            "warden_build_info{program=\"warden-controller\",version=\"0.1.0\"} 1",
            "warden_uptime_seconds 2.0",
            "warden_timing_seconds{key=\"keepalive\"} 1.0",
            "warden_node_life{node=\"alpha\",life=\"booting\"} 1",
            "warden_node_life{node=\"alpha\",life=\"up\"} 0",
            "warden_node_power{node=\"beta\",power=\"on\"} 1",
            "warden_node_sense_ok{node=\"beta\"} 0",
            "warden_node_fenced{node=\"alpha\"} 0",
            "warden_node_standby{node=\"alpha\"} 0",
            "warden_group_holders{group=\"web\"} 0",
            "warden_group_state{group=\"web\",state=\"unplaced\"} 1",
            "warden_group_moves_total{group=\"web\",reason=\"holder_lost\"} 1",
            "warden_group_moves_total{group=\"web\",reason=\"placement\"} 1",
            "warden_failover_phase_seconds_count{phase=\"placement\"} 1",
            "warden_failover_phase_seconds_sum{phase=\"placement\"} 0.05",
            "warden_fence_operations_total{result=\"confirmed\"} 1",
            "warden_fence_operations_total{result=\"unconfirmed\"} 0",
            "warden_fence_duration_seconds_bucket{le=\"0.25\"} 1",
            "warden_fence_duration_seconds_bucket{le=\"0.1\"} 0",
            "warden_fence_duration_seconds_count 1",
            "warden_failover_phase_seconds_count{phase=\"fence\"} 1",
            "warden_failover_phase_seconds_sum{phase=\"fence\"} 0.25",
            "warden_relay_errors_total{node=\"alpha\",op=\"sense\"} 1",
            "warden_relay_errors_total{node=\"alpha\",op=\"switch\"} 0",
            "warden_watchdog_feeds_withheld_total 0",
            "warden_events_total{kind=\"fence_confirmed\"} 1",
            "warden_events_total{kind=\"watchdog_withheld\"} 0",
            "warden_metrics_requests_total{result=\"answered\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "no line `{line}` in:\n{text}");
        }
        assert!(text.contains("# TYPE warden_failover_phase_seconds histogram"), "{text}");
        assert!(!text.contains("warden_node_last_heard_age_seconds{"), "never heard, no row: {text}");
    }

    #[test]
    fn the_lists_follow_their_index_functions() {
        for (i, l) in LIVES.iter().enumerate() {
            assert_eq!(life_index(*l), i);
        }
        for (i, r) in REASONS.iter().enumerate() {
            assert_eq!(reason_index(*r), i);
        }
        assert_eq!(group_state(Some(NodeId(1)), 0b10, false), "held");
        assert_eq!(group_state(Some(NodeId(1)), 0b01, false), "placing");
        assert_eq!(group_state(None, 0, false), "unplaced");
        assert_eq!(group_state(Some(NodeId(1)), 0b10, true), "moving");
    }
}
