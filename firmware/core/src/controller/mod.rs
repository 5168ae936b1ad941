//! The controller (DESIGN §3): a sans-IO state machine that decides which
//! node holds which group, and fences nodes that stop answering.
//!
//! Inputs: [`Controller::handle_message`] (a frame already decoded and
//! authenticated by [`crate::wire::Decoder`]), [`Controller::handle_sense`],
//! [`Controller::handle_request`], [`Controller::handle_timeout`]. Outputs come
//! from [`Controller::poll_output`] in the order they must be carried out;
//! [`Controller::poll_timeout`] says when to call `handle_timeout` next.
//!
//! Every `handle_*` call is one step: it applies the input, then runs the
//! timers, the fencing rules, placement, and sends the beats that are due.
//! The driver drains `poll_output` after every step; one step never yields
//! more effects (Send, Persist, Power, FeedWatchdog) than their queue holds.
//! Alarms have a queue of their own and come out after the step's effects;
//! alarms beyond its room are dropped and counted.

mod command;
mod config;
mod decide;
mod fence;
mod flaws;
mod group;
mod history;
mod io;
mod node;
#[cfg(test)]
mod tests;
mod text;

pub use command::{CommandError, Lookup, OPERATOR_COMMANDS};
pub use config::{ClusterConfig, ConfigError, GroupPlacement, Timing, TimingError, TimingProblem};
#[cfg(feature = "flaws")]
pub use flaws::Flaw;
pub use history::{FenceEntry, FenceHistory, HISTORY_LEN};
pub use io::{
    Boot, ControllerStats, Event, FenceRecord, GroupView, Life, LinkProgress, MoveReason, NodeView, Output, Persisted,
};
pub use text::{Ids, Names, Severity};

use heapless::Vec;

use self::flaws::Flaws;
use self::group::Group;
use self::node::Node;
use crate::ids::{GroupId, NodeId, MAX_GROUPS, MAX_LINKS, MAX_NODES};
use crate::time::Instant;
use crate::wire::session::Responder;
use crate::wire::{
    BoardCounters, Body, CountersAnswer, FenceReason, HistoryAnswer, Message, NodeSummary, Op, Refusal, Reply,
    Requester, Summary,
};

/// Most effects one step can produce: per node a Beat and a Persist+Power
/// pair, plus one Reply and one FeedWatchdog.
const EFFECTS_PER_STEP: usize = 3 * MAX_NODES + 2;
/// Alarms kept until the driver takes them: a whole cluster failing over
/// (every group released and placed, every node's life changing) fits.
/// Capacity of the output queue; alarms may use what one step's effects
/// cannot need.
const ALARM_CAPACITY: usize = 2 * MAX_GROUPS + 4 * MAX_NODES;

/// The controller's state machine. See the module documentation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Controller {
    config: ClusterConfig,
    /// When the controller booted.
    booted: Instant,
    /// The latest `now` seen (time never goes backwards inside).
    now: Instant,
    nodes: [Node; MAX_NODES],
    groups: [Group; MAX_GROUPS],
    effects: Vec<Output, EFFECTS_PER_STEP>,
    alarms: Vec<Event, ALARM_CAPACITY>,
    stats: ControllerStats,
    /// When the next FeedWatchdog is due.
    next_feed: Instant,
    /// Link drivers stalled now (bit `i` = link `i`).
    stalled_links: u16,
    /// The last feed that was due was withheld.
    feed_withheld: bool,
    /// What `poll_timeout` answers, worked out at the end of every step.
    deadline: Option<Instant>,
    /// Per group, the eligible nodes as a bitmask (bit `n` = node `n`).
    eligible: [u8; MAX_GROUPS],
    /// The last fences and unfences, for operators.
    history: FenceHistory,
    /// What the board's drivers counted, as its driver last said.
    board: BoardCounters,
    flaws: Flaws,
}

/// A session nonce per node, spread from the boot seed (splitmix64) so two
/// links never share one and none is the "unknown" value 0.
fn node_nonce(seed: u64, node: usize) -> u64 {
    let mut z = seed.wrapping_add((node as u64).wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) | 1
}

impl Controller {
    /// A controller that runs nothing yet (no nodes, no groups): a value a
    /// board can keep in a `static` and [`reboot`](Self::reboot) in place,
    /// so that a whole controller never passes through its stack.
    #[must_use]
    pub const fn idle() -> Self {
        const NODE: Node = Node::new(Instant::ZERO, Responder::new(1), None);
        const GROUP: Group = Group::IDLE;
        Self {
            config: ClusterConfig::EMPTY,
            booted: Instant::ZERO,
            now: Instant::ZERO,
            nodes: [NODE; MAX_NODES],
            groups: [GROUP; MAX_GROUPS],
            effects: Vec::new(),
            alarms: Vec::new(),
            stats: ControllerStats::ZERO,
            next_feed: Instant::ZERO,
            stalled_links: 0,
            feed_withheld: false,
            deadline: None,
            eligible: [0; MAX_GROUPS],
            history: FenceHistory::EMPTY,
            board: BoardCounters { relay_errors: 0, sense_errors: 0, frames_refused: 0 },
            flaws: Flaws::NONE,
        }
    }

    /// Starts the controller (rule 4): nodes with a fence record stay off
    /// (commanded off at boot whatever their sense says); every other node
    /// is Booting (or Dead if sensed off) and nothing is placed until the
    /// nodes report or are proven clear. Refuses an invalid configuration.
    pub fn new(config: ClusterConfig, boot: Boot) -> Result<Self, ConfigError> {
        let mut controller = Self::idle();
        controller.reboot(config, boot)?;
        Ok(controller)
    }

    /// [`new`](Self::new) in place: everything this controller knew is
    /// forgotten, as after a reset. An invalid configuration is refused and
    /// changes nothing.
    pub fn reboot(&mut self, config: ClusterConfig, boot: Boot) -> Result<(), ConfigError> {
        config.validate()?;
        let now = boot.now;
        for (i, n) in self.nodes.iter_mut().enumerate() {
            *n = Node::new(now, Responder::new(node_nonce(boot.seed, i)), boot.powered.get(i).copied().flatten());
        }
        // Node ids are below MAX_NODES = 8 (validated), so they fit a u8 mask.
        for (g, mask) in self.eligible.iter_mut().enumerate() {
            *mask = config
                .groups
                .get(g)
                .map_or(0, |c| c.eligible.iter().fold(0u8, |mask, n| mask | 1u8.wrapping_shl(n.0.into())));
        }
        self.groups.iter_mut().for_each(|g| *g = Group::IDLE);
        self.config = config;
        self.booted = now;
        self.now = now;
        self.effects.clear();
        self.alarms.clear();
        self.stats = ControllerStats::ZERO;
        self.next_feed = now;
        self.stalled_links = 0;
        self.feed_withheld = false;
        self.history = FenceHistory::EMPTY;
        self.board = BoardCounters { relay_errors: 0, sense_errors: 0, frames_refused: 0 };
        self.flaws = Flaws::NONE;
        self.boot(&boot);
        self.deadline = self.next_deadline();
        Ok(())
    }

    /// A frame from `link`, already decoded and authenticated. The session
    /// rules are applied here; rejected messages are counted and ignored.
    pub fn handle_message(&mut self, now: Instant, link: NodeId, message: Message) {
        let now = self.advance(now);
        self.receive(now, link, message);
        self.settle(now);
    }

    /// A relay sense reading for `node` (on change and periodically).
    pub fn handle_sense(&mut self, now: Instant, node: NodeId, powered: bool) {
        let now = self.advance(now);
        self.sense(now, node, powered);
        self.settle(now);
    }

    /// An operator command given on the controller's own console, control
    /// socket or operator endpoint.
    pub fn handle_request(&mut self, now: Instant, op: Op) -> Result<(), Refusal> {
        let now = self.advance(now);
        let outcome = self.apply_op(now, op, Requester::Operator);
        self.settle(now);
        outcome
    }

    /// The driver's answer to `Output::Persist(record)`. Only a durable
    /// answer to the record awaited lets the relay move it guards go out
    /// (rule 3); a failure raises [`Event::PersistFailed`] and moves
    /// nothing. An answer nobody awaits is counted and ignored.
    pub fn handle_persisted(&mut self, now: Instant, record: FenceRecord, result: Persisted) {
        let now = self.advance(now);
        self.persisted(now, record, result);
        self.settle(now);
    }

    /// What a link driver's last call came to. `link` numbers the board's
    /// link drivers from 0 (below [`MAX_LINKS`]; others are ignored). The
    /// watchdog is fed only while none is stalled.
    pub fn handle_link(&mut self, now: Instant, link: usize, progress: LinkProgress) {
        self.advance(now);
        let Some(bit) = (link < MAX_LINKS).then(|| 1u16.wrapping_shl(link as u32)) else { return };
        match progress {
            LinkProgress::Moved => self.stalled_links &= !bit,
            LinkProgress::Stalled => self.stalled_links |= bit,
            LinkProgress::PeerTrouble => {}
        }
    }

    /// Time passed: run the timers. Once per keepalive the main loop has
    /// shown it makes progress (it got here): the watchdog is fed then,
    /// unless a link driver is stalled.
    pub fn handle_timeout(&mut self, now: Instant) {
        let now = self.advance(now);
        if now >= self.next_feed {
            self.feed_or_withhold();
            self.next_feed = now.saturating_add(self.config.timing.keepalive);
        }
        self.settle(now);
    }

    /// Link drivers stalled now (bit `i` = link `i`).
    #[must_use]
    pub fn stalled_links(&self) -> u16 {
        self.stalled_links
    }

    /// The next effect or alarm to carry out, in order.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        if self.effects.is_empty() {
            (!self.alarms.is_empty()).then(|| Output::Alarm(self.alarms.remove(0)))
        } else {
            Some(self.effects.remove(0))
        }
    }

    /// When `handle_timeout` must be called next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// A node at a glance (`None` for a node not in the cluster).
    pub fn node(&self, node: NodeId) -> Option<NodeView> {
        let n = self.live_node(node)?;
        Some(NodeView {
            node,
            life: n.life,
            standby: n.standby,
            powered: n.powered,
            last_heard: n.last_heard,
            want: n.want,
            holds: n.holds(),
            net_score: n.net_score(),
        })
    }

    /// A group at a glance (`None` for a group not in the cluster).
    pub fn group(&self, group: GroupId) -> Option<GroupView> {
        let state = self.groups.get(group.index()).filter(|_| group.index() < self.config.groups.len())?;
        let mut held_by = 0u8;
        for (i, n) in self.cluster_nodes() {
            if n.holds().contains(group) {
                held_by |= 1 << i;
            }
        }
        Some(GroupView { group, placed_on: self.holder_of(group), held_by, moving: state.moving.is_some() })
    }

    /// The cluster at a glance, packed as the wire carries it (`id` is the
    /// request it answers; 0 on the console).
    #[must_use]
    pub fn summary(&self, id: u32) -> Summary {
        let uptime = u32::try_from(self.now.saturating_since(self.booted).0 / 1000).unwrap_or(u32::MAX);
        let groups = u8::try_from(self.config.groups.len()).unwrap_or(u8::MAX);
        let mut s = Summary::new(id, uptime, self.config.nodes, groups);
        for (i, n) in self.cluster_nodes() {
            s.set_node(
                NodeId(i),
                NodeSummary {
                    life: n.life,
                    standby: n.standby,
                    powered: n.powered,
                    fence_record: n.fence_record,
                    heard_ago: n.last_heard.map(|t| self.now.saturating_since(t)),
                },
            );
        }
        for g in (0..groups).map(GroupId) {
            s.set_placed(g, self.holder_of(g));
            if self.groups.get(g.index()).is_some_and(|state| state.moving.is_some()) {
                s.moving.insert(g);
            }
        }
        s
    }

    /// The last fences and unfences.
    #[must_use]
    pub const fn history(&self) -> &FenceHistory {
        &self.history
    }

    /// The answer to `Op::History { back }` (request `id`), as of the last
    /// input.
    #[must_use]
    pub fn history_answer(&self, id: u32, back: u8) -> HistoryAnswer {
        self.history.answer(id, back, self.now)
    }

    /// What the board's drivers counted, for `Op::Counters` (the driver
    /// hands them over whenever it likes; the latest is told).
    pub fn note_board(&mut self, board: BoardCounters) {
        self.board = board;
    }

    /// The answer to `Op::Counters` (request `id`).
    #[must_use]
    pub fn counters(&self, id: u32) -> CountersAnswer {
        let s = self.stats;
        CountersAnswer {
            id,
            uptime_s: u32::try_from(self.now.saturating_since(self.booted).0 / 1000).unwrap_or(u32::MAX),
            session_rejects: s.session_rejects,
            wrong_node: s.wrong_node,
            alarms_dropped: s.alarms_dropped,
            persist_failures: s.persist_failures,
            feeds_withheld: s.feeds_withheld,
            fences_confirmed: s.fences_confirmed,
            fences_unconfirmed: s.fences_unconfirmed,
            unfences: s.unfences,
            board: self.board,
        }
    }

    /// The time of the last input.
    #[must_use]
    pub const fn now(&self) -> Instant {
        self.now
    }

    /// Counters of rejected input and dropped output.
    pub fn stats(&self) -> ControllerStats {
        self.stats
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }

    /// Plants a deliberate bug (simulator self-tests only).
    #[cfg(feature = "flaws")]
    pub fn plant(&mut self, flaw: Flaw) {
        self.flaws.plant(flaw);
        if flaw == Flaw::ForgetFencesOnBoot {
            self.forget_boot_fences();
            self.deadline = self.next_deadline();
        }
    }

    fn advance(&mut self, now: Instant) -> Instant {
        self.now = self.now.max(now);
        self.now
    }

    fn receive(&mut self, now: Instant, link: NodeId, message: Message) {
        let header = message.header;
        if header.node != link || usize::from(link.0) >= usize::from(self.config.nodes) {
            self.stats.wrong_node = self.stats.wrong_node.saturating_add(1);
            return;
        }
        let Some(node) = self.nodes.get_mut(link.index()) else {
            self.stats.wrong_node = self.stats.wrong_node.saturating_add(1);
            return;
        };
        match message.body {
            Body::Hello => {
                // A Hello is authenticated but not fresh (it carries no
                // controller nonce), so it starts a session and nothing
                // else: it does not count as a sign of life, or a replayed
                // one could keep a dead node from being fenced.
                node.session.accept_hello(&header);
                // Answer at once so the agent learns this boot's nonce.
                node.beat_due = true;
            }
            Body::Probing => {
                if node.session.accept(&header).is_err() {
                    self.stats.session_rejects = self.stats.session_rejects.saturating_add(1);
                    return;
                }
                self.heard(now, link);
            }
            Body::Status(status) => {
                if node.session.accept(&header).is_err() {
                    self.stats.session_rejects = self.stats.session_rejects.saturating_add(1);
                    return;
                }
                self.heard(now, link);
                self.apply_status(now, link, status);
            }
            Body::Request(request) => {
                if node.session.accept(&header).is_err() {
                    self.stats.session_rejects = self.stats.session_rejects.saturating_add(1);
                    return;
                }
                self.heard(now, link);
                let body = match request.op {
                    Op::Describe => Body::Summary(self.summary(request.id)),
                    Op::History { back } => Body::History(self.history.answer(request.id, back, now)),
                    Op::Counters => Body::Counters(self.counters(request.id)),
                    op => {
                        Body::Reply(Reply { id: request.id, outcome: self.apply_op(now, op, Requester::Agent(link)) })
                    }
                };
                if let Some(node) = self.nodes.get_mut(link.index()) {
                    let header = node.session.header(link);
                    self.push_effect(Output::Send { node: link, message: Message { header, body } });
                }
            }
            Body::Beat(_) | Body::Reply(_) | Body::Summary(_) | Body::History(_) | Body::Counters(_) => {
                self.stats.unexpected = self.stats.unexpected.saturating_add(1);
            }
        }
    }

    fn apply_op(&mut self, now: Instant, op: Op, by: Requester) -> Result<(), Refusal> {
        match op {
            Op::Migrate { group, node } => {
                let config = self.config.groups.get(group.index()).ok_or(Refusal::UnknownGroup)?;
                let n = self.live_node(node).ok_or(Refusal::UnknownNode)?;
                if !config.eligible.contains(&node) {
                    return Err(Refusal::NotEligible);
                }
                if !n.is_available() || n.is_failing(group, now) {
                    return Err(Refusal::NodeUnavailable);
                }
                if let Some(state) = self.groups.get_mut(group.index()) {
                    state.pin = Some(node);
                }
                Ok(())
            }
            Op::Standby { node } | Op::Online { node } => {
                let n = self.live_node_mut(node).ok_or(Refusal::UnknownNode)?;
                let standby = matches!(op, Op::Standby { .. });
                if n.standby != standby {
                    n.standby = standby;
                    n.beat_due = true;
                }
                Ok(())
            }
            Op::Fence { node } => {
                let n = self.live_node(node).ok_or(Refusal::UnknownNode)?;
                if n.in_fence() {
                    return Err(Refusal::AlreadyFenced);
                }
                self.start_fence(now, node, FenceReason::Operator, by);
                Ok(())
            }
            Op::Describe | Op::History { .. } | Op::Counters => Ok(()),
            Op::Unfence { node } => {
                let n = self.live_node(node).ok_or(Refusal::UnknownNode)?;
                // Fenced, or dead with its power sensed off (an earlier
                // unfence the power switch ignored, a supply that failed):
                // either way an operator admits it back by powering it on.
                if !(n.life == Life::Fenced || (n.life == Life::Dead && n.is_off())) {
                    return Err(Refusal::NotFenced);
                }
                self.unfence(now, node, FenceReason::Operator, by);
                Ok(())
            }
        }
    }

    /// The node if it is in the cluster.
    fn live_node(&self, node: NodeId) -> Option<&Node> {
        self.nodes.get(node.index()).filter(|_| node.0 < self.config.nodes)
    }

    fn live_node_mut(&mut self, node: NodeId) -> Option<&mut Node> {
        let count = self.config.nodes;
        self.nodes.get_mut(node.index()).filter(|_| node.0 < count)
    }

    /// The nodes of the cluster with their index.
    fn cluster_nodes(&self) -> impl Iterator<Item = (u8, &Node)> {
        (0u8..).zip(self.nodes.iter()).take(usize::from(self.config.nodes))
    }

    /// The node whose want contains `g`.
    fn holder_of(&self, g: GroupId) -> Option<NodeId> {
        self.cluster_nodes().find(|(_, n)| n.want.contains(g)).map(|(i, _)| NodeId(i))
    }

    /// Queues an effect. The capacity covers a whole step of effects after a
    /// drained queue; should a driver not drain, room is made by dropping
    /// the oldest Beat (beats repeat every keepalive).
    fn push_effect(&mut self, output: Output) {
        if self.effects.is_full() {
            let beat = self
                .effects
                .iter()
                .position(|o| matches!(o, Output::Send { message: Message { body: Body::Beat(_), .. }, .. }));
            if let Some(victim) = beat {
                self.effects.remove(victim);
            }
        }
        // Only fails if the queue holds nothing but undrained Persist/Power
        // outputs from earlier steps, which a draining driver never leaves.
        let _ = self.effects.push(output);
    }

    /// Feeds the watchdog when no link driver is stalled; raises the change
    /// once each way.
    fn feed_or_withhold(&mut self) {
        if self.stalled_links == 0 || self.flaws.has(flaws::Flaw::FeedWhileStalled) {
            self.push_effect(Output::FeedWatchdog);
            if self.feed_withheld {
                self.feed_withheld = false;
                self.alarm(Event::WatchdogResumed);
            }
        } else {
            self.stats.feeds_withheld = self.stats.feeds_withheld.saturating_add(1);
            if !self.feed_withheld {
                self.feed_withheld = true;
                self.alarm(Event::WatchdogWithheld { links: self.stalled_links });
            }
        }
    }

    /// Queues an alarm, or counts it dropped when the alarm queue is full.
    fn alarm(&mut self, event: Event) {
        if self.alarms.push(event).is_err() {
            self.stats.alarms_dropped = self.stats.alarms_dropped.saturating_add(1);
        }
    }
}
