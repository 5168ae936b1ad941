//! Property tests of the controller's safety rules under random input.
//!
//! * `random_input_keeps_the_rules`: arbitrary statuses (random holds,
//!   busy, failing, stuck, scores and `applied`), hellos, sense readings,
//!   time jumps, operator and relayed requests and garbage messages never
//!   make two wants intersect, never power on a node whose fence record is
//!   outstanding unless an unfence was accepted, never switch a relay off
//!   before the fence record is persisted, and never panic.
//! * `obedient_world_never_has_two_holders`: agents that reconcile at once,
//!   with random silence, hangs, lost messages, relay failures and power
//!   cuts: no two powered agents ever hold the same group.

use proptest::prelude::*;
use warden_core::controller::{
    Boot, ClusterConfig, Controller, Event, FenceRecord, GroupPlacement, Life, LinkProgress, MoveReason, Output,
    Persisted, Timing,
};
use warden_core::wire::{Beat, Body, Header, Message, Op, Request, Role, Status};
use warden_core::{Duration, GroupId, GroupSet, Instant, NodeId, MAX_LINKS, MAX_NODES};

const NODES: u8 = 3;
const GROUPS: u8 = 4;

fn timing() -> Timing {
    Timing {
        keepalive: Duration(100),
        warntime: Duration(300),
        deadtime: Duration(500),
        initdead: Duration(1000),
        release_timeout: Duration(400),
        fence_timeout: Duration(200),
        failback_delay: Duration(800),
        move_window: Duration(5000),
        max_moves: 2,
        failure_timeout: Duration(3000),
        auto_unfence_after: None,
    }
}

fn config(auto_failback: bool, fence_idle_dead: bool) -> ClusterConfig {
    let eligible: [&[u8]; GROUPS as usize] = [&[0, 1, 2], &[1, 0], &[2, 1], &[0, 2]];
    ClusterConfig {
        nodes: NODES,
        groups: eligible
            .iter()
            .map(|e| GroupPlacement { eligible: e.iter().map(|&n| NodeId(n)).collect(), auto_failback })
            .collect(),
        timing: timing(),
        fence_idle_dead,
    }
}

/// The agent side of a session, kept by hand.
#[derive(Debug, Clone, Default)]
struct Session {
    nonce: u64,
    seq: u64,
    controller_nonce: u64,
    last_beat: u64,
    want: GroupSet,
    role: Option<Role>,
}

impl Session {
    fn header(&mut self, node: u8) -> Header {
        self.seq += 1;
        Header { node: NodeId(node), nonce: self.nonce, echo: self.controller_nonce, seq: self.seq }
    }

    fn hello(&mut self, node: u8) -> Message {
        self.nonce += 1;
        self.controller_nonce = 0;
        Message { header: self.header(node), body: Body::Hello }
    }

    /// Learns the controller's nonce from a beat that echoes ours.
    fn on_beat(&mut self, header: Header, beat: Beat) -> bool {
        if header.echo != self.nonce || header.seq <= self.last_beat && header.nonce == self.controller_nonce {
            return false;
        }
        self.controller_nonce = header.nonce;
        self.last_beat = header.seq;
        self.want = beat.want;
        self.role = Some(beat.role);
        true
    }
}

#[derive(Debug, Clone)]
enum Applied {
    LastBeat,
    Zero,
    Any(u64),
}

#[derive(Debug, Clone)]
enum Input {
    Status {
        node: u8,
        holds: u32,
        busy: u32,
        failing: u32,
        stuck: u32,
        score: u16,
        applied: Applied,
    },
    Hello {
        node: u8,
    },
    Sense {
        node: u8,
        on: bool,
    },
    Wait {
        ms: u64,
    },
    Request {
        op: Op,
    },
    Relayed {
        node: u8,
        id: u32,
        op: Op,
    },
    Garbage {
        link: u8,
        node: u8,
        nonce: u64,
        echo: u64,
        seq: u64,
        beat: bool,
    },
    /// The fence store fails every write from now on (or works again).
    Store {
        ok: bool,
    },
    /// A link driver stalls or moves again.
    Link {
        link: u8,
        progress: LinkProgress,
    },
}

fn mask() -> impl Strategy<Value = u32> {
    prop_oneof![3 => Just(0u32), 2 => 0u32..(1 << GROUPS), 1 => any::<u32>()]
}

fn op() -> impl Strategy<Value = Op> {
    let node = 0u8..NODES + 1;
    prop_oneof![
        (0u8..GROUPS + 1, node.clone()).prop_map(|(g, n)| Op::Migrate { group: GroupId(g), node: NodeId(n) }),
        node.clone().prop_map(|n| Op::Standby { node: NodeId(n) }),
        node.clone().prop_map(|n| Op::Online { node: NodeId(n) }),
        node.clone().prop_map(|n| Op::Fence { node: NodeId(n) }),
        node.prop_map(|n| Op::Unfence { node: NodeId(n) }),
    ]
}

fn input() -> impl Strategy<Value = Input> {
    let node = 0u8..NODES;
    let applied =
        prop_oneof![6 => Just(Applied::LastBeat), 1 => Just(Applied::Zero), 1 => any::<u64>().prop_map(Applied::Any)];
    prop_oneof![
        8 => (node.clone(), mask(), mask(), mask(), prop_oneof![8 => Just(0u32), 1 => mask()], 0u16..4, applied)
            .prop_map(|(node, holds, busy, failing, stuck, score, applied)| Input::Status {
                node, holds, busy, failing, stuck, score, applied
            }),
        2 => node.clone().prop_map(|node| Input::Hello { node }),
        2 => (node.clone(), any::<bool>()).prop_map(|(node, on)| Input::Sense { node, on }),
        4 => prop_oneof![0u64..150, 0u64..2000].prop_map(|ms| Input::Wait { ms }),
        1 => op().prop_map(|op| Input::Request { op }),
        1 => (node.clone(), any::<u32>(), op()).prop_map(|(node, id, op)| Input::Relayed { node, id, op }),
        1 => (0u8..MAX_NODES as u8 + 1, 0u8..10, any::<u64>(), any::<u64>(), any::<u64>(), any::<bool>())
            .prop_map(|(link, node, nonce, echo, seq, beat)| Input::Garbage { link, node, nonce, echo, seq, beat }),
        1 => any::<bool>().prop_map(|ok| Input::Store { ok }),
        1 => (0u8..MAX_LINKS as u8 + 1, link_progress()).prop_map(|(link, progress)| Input::Link { link, progress }),
    ]
}

fn link_progress() -> impl Strategy<Value = LinkProgress> {
    prop_oneof![Just(LinkProgress::Moved), Just(LinkProgress::Stalled), Just(LinkProgress::PeerTrouble)]
}

/// What the outputs so far imply, checked as they come.
struct Watch {
    /// The durable fence record of each node.
    record: [bool; MAX_NODES],
    /// The fence store makes writes durable (or fails them all).
    store_ok: bool,
    /// Persists asked for and not answered yet.
    unanswered: Vec<FenceRecord>,
    /// Link drivers stalled now, as the board would know (bit `i` = link `i`).
    stalled: u16,
    /// Unfences accepted and not yet followed by their power-on.
    unfences: [u32; MAX_NODES],
    /// The node each group was last released from.
    released_from: [Option<NodeId>; GROUPS as usize],
    /// Times of each group's automatic moves (rule 6).
    moves: [Vec<Instant>; GROUPS as usize],
}

impl Watch {
    fn new(record: [bool; MAX_NODES]) -> Self {
        Self {
            record,
            store_ok: true,
            unanswered: Vec::new(),
            stalled: 0,
            unfences: [0; MAX_NODES],
            released_from: [None; GROUPS as usize],
            moves: Default::default(),
        }
    }

    /// The store's answers to the persists asked for so far.
    fn answers(&mut self) -> Vec<(FenceRecord, Persisted)> {
        let ok = self.store_ok;
        let records = std::mem::take(&mut self.unanswered);
        records
            .into_iter()
            .map(|r| {
                if ok {
                    self.record[r.node.index()] = r.fenced;
                }
                (r, if ok { Persisted::Durable } else { Persisted::Failed })
            })
            .collect()
    }

    /// A link driver's progress, as the board tells the controller.
    fn link(&mut self, link: u8, progress: LinkProgress) {
        let bit = 1u16.checked_shl(u32::from(link)).filter(|_| usize::from(link) < MAX_LINKS).unwrap_or(0);
        match progress {
            LinkProgress::Moved => self.stalled &= !bit,
            LinkProgress::Stalled => self.stalled |= bit,
            LinkProgress::PeerTrouble => {}
        }
    }

    fn output(&mut self, out: &Output, config: &ClusterConfig, now: Instant) -> Result<(), TestCaseError> {
        match *out {
            Output::Alarm(Event::Releasing { group, from, .. }) => {
                self.released_from[group.index()] = Some(from);
            }
            Output::Alarm(Event::Placed { group, to, reason })
                if !matches!(reason, MoveReason::Operator | MoveReason::Placement)
                    && self.released_from[group.index()] != Some(to) =>
            {
                let t = config.timing;
                let moves = &mut self.moves[group.index()];
                moves.retain(|at| now < at.saturating_add(t.move_window));
                moves.push(now);
                prop_assert!(
                    moves.len() <= usize::from(t.max_moves),
                    "{group} moved {} times in a window",
                    moves.len()
                );
            }
            _ => {}
        }
        match *out {
            Output::Persist(record) => self.unanswered.push(record),
            Output::FeedWatchdog => {
                prop_assert_eq!(self.stalled, 0, "the watchdog was fed with link drivers stalled");
            }
            Output::Power { node, on: true } => {
                prop_assert!(!self.record[node.index()], "{node} powered on with its fence record outstanding");
                prop_assert!(self.unfences[node.index()] > 0, "{node} powered on without an unfence");
                self.unfences[node.index()] -= 1;
            }
            Output::Power { node, on: false } => {
                prop_assert!(self.record[node.index()], "{node} switched off before its fence record was durable");
            }
            Output::Alarm(Event::Placed { group, to, .. }) => {
                let eligible = &config.groups[group.index()].eligible;
                prop_assert!(eligible.contains(&to), "{group} placed on ineligible {to}");
            }
            _ => {}
        }
        Ok(())
    }
}

fn wants_are_disjoint(c: &Controller) -> Result<(), TestCaseError> {
    let mut seen = GroupSet::EMPTY;
    for n in 0..NODES {
        let want = c.node(NodeId(n)).unwrap().want;
        prop_assert!(seen.intersection(want).is_empty(), "want of node{n} {want:?} intersects {seen:?}");
        seen = seen.union(want);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_input_keeps_the_rules(
        fenced in prop::array::uniform3(any::<bool>()),
        powered in prop::array::uniform3(prop_oneof![Just(Some(true)), Just(Some(false)), Just(None)]),
        auto_failback in any::<bool>(),
        fence_idle_dead in any::<bool>(),
        seed in any::<u64>(),
        inputs in prop::collection::vec(input(), 1..80),
    ) {
        let mut boot = Boot { now: Instant(0), seed, fenced: [false; MAX_NODES], powered: [None; MAX_NODES] };
        boot.fenced[..3].copy_from_slice(&fenced);
        boot.powered[..3].copy_from_slice(&powered);
        let config = config(auto_failback, fence_idle_dead);
        let mut c = Controller::new(config.clone(), boot).unwrap();
        let mut watch = Watch::new(boot.fenced);
        let mut sessions: Vec<Session> = (0..NODES).map(|i| Session { nonce: 100 * u64::from(i), ..Session::default() }).collect();
        let mut now = Instant(0);
        let drain = |c: &mut Controller, sessions: &mut Vec<Session>, watch: &mut Watch, c_now: Instant| -> Result<(), TestCaseError> {
            loop {
                while let Some(out) = c.poll_output() {
                    watch.output(&out, &config, c_now)?;
                    if let Output::Send { node, message: Message { header, body: Body::Beat(beat) } } = out {
                        prop_assert_eq!(header.node, node);
                        sessions[node.index()].on_beat(header, beat);
                    }
                }
                wants_are_disjoint(c)?;
                let answers = watch.answers();
                if answers.is_empty() {
                    return Ok(());
                }
                for (record, answer) in answers {
                    c.handle_persisted(c_now, record, answer);
                }
            }
        };
        drain(&mut c, &mut sessions, &mut watch, now)?;
        for input in inputs {
            match input {
                Input::Status { node, holds, busy, failing, stuck, score, applied } => {
                    let s = &mut sessions[usize::from(node)];
                    let applied = match applied {
                        Applied::LastBeat => s.last_beat,
                        Applied::Zero => 0,
                        Applied::Any(a) => a,
                    };
                    let status = Status {
                        applied,
                        holds: GroupSet(holds),
                        busy: GroupSet(busy),
                        healthy: GroupSet(holds),
                        failing: GroupSet(failing),
                        stuck: GroupSet(stuck),
                        net_score: score,
                    };
                    let message = Message { header: s.header(node), body: Body::Status(status) };
                    c.handle_message(now, NodeId(node), message);
                }
                Input::Hello { node } => {
                    let hello = sessions[usize::from(node)].hello(node);
                    c.handle_message(now, NodeId(node), hello);
                }
                Input::Sense { node, on } => c.handle_sense(now, NodeId(node), on),
                Input::Wait { ms } => {
                    now = Instant(now.0 + ms);
                    c.handle_timeout(now);
                }
                Input::Request { op } => {
                    let outcome = c.handle_request(now, op);
                    if let (Op::Unfence { node }, Ok(())) = (op, outcome) {
                        watch.unfences[node.index()] += 1;
                    }
                }
                Input::Relayed { node, id, op } => {
                    let s = &mut sessions[usize::from(node)];
                    let message = Message { header: s.header(node), body: Body::Request(Request { id, op }) };
                    let admissible = |c: &Controller, n: NodeId| {
                        c.node(n).is_some_and(|v| {
                            v.life == Life::Fenced || (v.life == Life::Dead && v.powered == Some(false))
                        })
                    };
                    let target_was_fenced = matches!(op, Op::Unfence { node } if admissible(&c, node));
                    let rejects = c.stats().session_rejects;
                    c.handle_message(now, NodeId(node), message);
                    // An unfence the session let through is accepted exactly
                    // when its node was fenced (or dead with power sensed off).
                    if let Op::Unfence { node } = op {
                        if target_was_fenced && c.stats().session_rejects == rejects {
                            watch.unfences[node.index()] += 1;
                        }
                    }
                }
                Input::Garbage { link, node, nonce, echo, seq, beat } => {
                    let body = if beat {
                        Body::Beat(Beat { epoch: 0, want: GroupSet(u32::MAX), role: Role::Member })
                    } else {
                        Body::Status(Status {
                            applied: u64::MAX,
                            holds: GroupSet::EMPTY,
                            busy: GroupSet::EMPTY,
                            healthy: GroupSet::EMPTY,
                            failing: GroupSet::EMPTY,
                            stuck: GroupSet::EMPTY,
                            net_score: u16::MAX,
                        })
                    };
                    let message = Message { header: Header { node: NodeId(node), nonce, echo, seq }, body };
                    c.handle_message(now, NodeId(link), message);
                }
                Input::Store { ok } => watch.store_ok = ok,
                Input::Link { link, progress } => {
                    watch.link(link, progress);
                    c.handle_link(now, usize::from(link), progress);
                }
            }
            drain(&mut c, &mut sessions, &mut watch, now)?;
            prop_assert!(c.poll_timeout().is_some());
        }
    }
}

/// A fault or operator action in the obedient world.
#[derive(Debug, Clone)]
enum Fault {
    /// Time passes.
    Wait { ms: u64 },
    /// The agent stops (or starts again) answering, still powered.
    Silent { node: u8, silent: bool },
    /// The agent's releases hang (or work again).
    HangRelease { node: u8, hang: bool },
    /// The relay stops (or starts again) obeying commands.
    Relay { node: u8, ok: bool },
    /// Someone switches the node's power by hand.
    Switch { node: u8, on: bool },
    /// The next `count` beats to the node are lost.
    Drop { node: u8, count: u8 },
    /// The agent reports a group failing (or stops).
    Failing { node: u8, group: u8, failing: bool },
    /// The agent's ping score changes.
    Score { node: u8, score: u16 },
    /// An operator command.
    Request { op: Op },
    /// The controller resets and boots again from its fence records.
    Reboot { seed: u64 },
    /// The fence store fails every write from now on (or works again).
    Store { ok: bool },
}

fn fault() -> impl Strategy<Value = Fault> {
    let node = 0u8..NODES;
    prop_oneof![
        10 => prop_oneof![10u64..200, 200u64..1500].prop_map(|ms| Fault::Wait { ms }),
        2 => (node.clone(), any::<bool>()).prop_map(|(node, silent)| Fault::Silent { node, silent }),
        1 => (node.clone(), any::<bool>()).prop_map(|(node, hang)| Fault::HangRelease { node, hang }),
        1 => (node.clone(), any::<bool>()).prop_map(|(node, ok)| Fault::Relay { node, ok }),
        1 => (node.clone(), any::<bool>()).prop_map(|(node, on)| Fault::Switch { node, on }),
        2 => (node.clone(), 1u8..4).prop_map(|(node, count)| Fault::Drop { node, count }),
        1 => (node.clone(), 0..GROUPS, any::<bool>()).prop_map(|(node, group, failing)| Fault::Failing { node, group, failing }),
        1 => (node.clone(), 0u16..3).prop_map(|(node, score)| Fault::Score { node, score }),
        2 => op().prop_map(|op| Fault::Request { op }),
        1 => any::<u64>().prop_map(|seed| Fault::Reboot { seed }),
        1 => any::<bool>().prop_map(|ok| Fault::Store { ok }),
    ]
}

/// An agent that reconciles at once.
#[derive(Debug, Clone, Default)]
struct WorldAgent {
    session: Session,
    applied: u64,
    holds: GroupSet,
    failing: GroupSet,
    score: u16,
    silent: bool,
    hang: bool,
    drop: u8,
    /// Powered on but not running yet (the sense reading arrives first).
    booting: bool,
}

impl WorldAgent {
    fn status(&mut self, node: u8) -> Message {
        let status = Status {
            applied: self.applied,
            holds: self.holds,
            busy: GroupSet::EMPTY,
            healthy: self.holds,
            failing: self.failing,
            stuck: GroupSet::EMPTY,
            net_score: self.score,
        };
        Message { header: self.session.header(node), body: Body::Status(status) }
    }

    fn on_beat(&mut self, node: u8, header: Header, beat: Beat) -> Option<Message> {
        if self.silent || self.booting {
            return None;
        }
        if self.drop > 0 {
            self.drop -= 1;
            return None;
        }
        if header.echo != self.session.nonce {
            // Unknown to this controller: a new session, nothing applied in it.
            self.applied = 0;
            return Some(self.session.hello(node));
        }
        if !self.session.on_beat(header, beat) {
            return None;
        }
        if beat.role != Role::Listening {
            let want = beat.want.difference(self.failing);
            self.holds = if self.hang { self.holds.union(want) } else { want };
            self.applied = header.seq;
        }
        Some(self.status(node))
    }
}

struct World {
    c: Controller,
    now: Instant,
    agents: Vec<WorldAgent>,
    power: [bool; NODES as usize],
    relay_ok: [bool; NODES as usize],
    /// Sense readings and agent boots still to come.
    pending: Vec<(Instant, u8, Option<bool>)>,
    watch: Watch,
    config: ClusterConfig,
}

impl World {
    fn switch(&mut self, node: u8, on: bool) {
        let i = usize::from(node);
        if self.power[i] != on {
            self.power[i] = on;
            let agent = &mut self.agents[i];
            agent.holds = GroupSet::EMPTY;
            agent.applied = 0;
            agent.session.controller_nonce = 0;
            agent.silent = false;
            agent.hang = false;
            agent.failing = GroupSet::EMPTY;
            agent.booting = on;
            if on {
                self.pending.push((Instant(self.now.0 + 50), node, None));
            }
        }
        self.pending.push((Instant(self.now.0 + 20), node, Some(on)));
    }

    fn drain(&mut self) -> Result<(), TestCaseError> {
        loop {
            let mut replies = Vec::new();
            while let Some(out) = self.c.poll_output() {
                self.watch.output(&out, &self.config, self.now)?;
                match out {
                    Output::Send { node, message: Message { header, body: Body::Beat(beat) } }
                        if self.power[node.index()] =>
                    {
                        if let Some(m) = self.agents[node.index()].on_beat(node.0, header, beat) {
                            replies.push((node, m));
                        }
                    }
                    Output::Power { node, on } if self.relay_ok[node.index()] => self.switch(node.0, on),
                    _ => {}
                }
            }
            wants_are_disjoint(&self.c)?;
            for a in 0..usize::from(NODES) {
                for b in a + 1..usize::from(NODES) {
                    if self.power[a] && self.power[b] {
                        let both = self.agents[a].holds.intersection(self.agents[b].holds);
                        prop_assert!(both.is_empty(), "node{a} and node{b} both hold {both:?} at {}", self.now);
                    }
                }
            }
            let answers = self.watch.answers();
            if replies.is_empty() && answers.is_empty() {
                return Ok(());
            }
            for (node, m) in replies {
                self.c.handle_message(self.now, node, m);
            }
            for (record, answer) in answers {
                self.c.handle_persisted(self.now, record, answer);
            }
        }
    }

    /// Runs timers and pending happenings up to `until`.
    fn run_until(&mut self, until: Instant) -> Result<(), TestCaseError> {
        loop {
            let happening = self.pending.iter().map(|(t, _, _)| *t).min();
            let timer = self.c.poll_timeout();
            let next = [happening, timer].into_iter().flatten().min().unwrap();
            if next > until {
                break;
            }
            self.now = self.now.max(next);
            if happening == Some(next) {
                let i = self.pending.iter().position(|(t, _, _)| *t == next).unwrap();
                let (_, node, what) = self.pending.remove(i);
                match what {
                    Some(on) => self.c.handle_sense(self.now, NodeId(node), on),
                    None if self.power[usize::from(node)] && self.agents[usize::from(node)].booting => {
                        self.agents[usize::from(node)].booting = false;
                        let hello = self.agents[usize::from(node)].session.hello(node);
                        self.c.handle_message(self.now, NodeId(node), hello);
                    }
                    None => {}
                }
            } else {
                self.c.handle_timeout(self.now);
            }
            self.drain()?;
        }
        self.now = until;
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn obedient_world_never_has_two_holders(
        auto_failback in any::<bool>(),
        fence_idle_dead in any::<bool>(),
        faults in prop::collection::vec(fault(), 1..60),
    ) {
        let config = config(auto_failback, fence_idle_dead);
        let boot = Boot { now: Instant(0), seed: 1, fenced: [false; MAX_NODES], powered: [Some(true); MAX_NODES] };
        let mut w = World {
            c: Controller::new(config.clone(), boot).unwrap(),
            now: Instant(0),
            agents: (0..NODES).map(|i| WorldAgent {
                session: Session { nonce: 1000 * u64::from(i + 1), ..Session::default() },
                ..WorldAgent::default()
            }).collect(),
            power: [true; NODES as usize],
            relay_ok: [true; NODES as usize],
            pending: Vec::new(),
            watch: Watch::new([false; MAX_NODES]),
            config,
        };
        w.drain()?;
        for fault in faults {
            match fault {
                Fault::Wait { ms } => {
                    let until = Instant(w.now.0 + ms);
                    w.run_until(until)?;
                }
                Fault::Silent { node, silent } => w.agents[usize::from(node)].silent = silent,
                Fault::HangRelease { node, hang } => w.agents[usize::from(node)].hang = hang,
                Fault::Relay { node, ok } => w.relay_ok[usize::from(node)] = ok,
                Fault::Switch { node, on } => w.switch(node, on),
                Fault::Drop { node, count } => w.agents[usize::from(node)].drop = count,
                Fault::Failing { node, group, failing } => {
                    let f = &mut w.agents[usize::from(node)].failing;
                    if failing { f.insert(GroupId(group)); } else { f.remove(GroupId(group)); }
                }
                Fault::Score { node, score } => w.agents[usize::from(node)].score = score,
                Fault::Store { ok } => w.watch.store_ok = ok,
                Fault::Request { op } => {
                    let outcome = w.c.handle_request(w.now, op);
                    if let (Op::Unfence { node }, Ok(())) = (op, outcome) {
                        w.watch.unfences[node.index()] += 1;
                    }
                    w.drain()?;
                }
                Fault::Reboot { seed } => {
                    let mut powered = [None; MAX_NODES];
                    for (p, on) in powered.iter_mut().zip(w.power) {
                        *p = Some(on);
                    }
                    let boot = Boot { now: w.now, seed, fenced: w.watch.record, powered };
                    w.c = Controller::new(w.config.clone(), boot).unwrap();
                    // A write the reset interrupted never happened.
                    w.watch.unanswered.clear();
                    // Damping history is not persisted across a reset.
                    w.watch.moves = Default::default();
                    w.watch.released_from = [None; GROUPS as usize];
                    // Rule 4: the only relay output at boot is "off" for
                    // every fenced node (off stays off; nothing toggles).
                    let mut outputs = Vec::new();
                    while let Some(out) = w.c.poll_output() {
                        outputs.push(out);
                    }
                    for node in 0..NODES {
                        let i = usize::from(node);
                        let commanded = outputs.contains(&Output::Power { node: NodeId(node), on: false });
                        prop_assert_eq!(commanded, w.watch.record[i], "boot relay output for node{}", node);
                    }
                    for out in &outputs {
                        if let Output::Power { node, on } = *out {
                            prop_assert!(!on && w.watch.record[node.index()]);
                        }
                        w.watch.output(out, &w.config, w.now)?;
                        if let Output::Power { node, on } = *out {
                            if w.relay_ok[node.index()] {
                                w.switch(node.0, on);
                            }
                        }
                    }
                    w.drain()?;
                }
            }
        }
        // Let it settle: every fault stops, and the world must still be safe.
        let until = Instant(w.now.0 + 5000);
        w.run_until(until)?;
    }
}
