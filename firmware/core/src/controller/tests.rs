//! Unit tests: the controller driven on a virtual clock against a small
//! world of obedient (or deliberately misbehaving) agents and power relays.

extern crate std;

use std::vec;
use std::vec::Vec;

use super::*;
use crate::ids::GroupSet;
use crate::time::Duration;
use crate::wire::{Beat, Header, Request, Role, Status};

const KEEPALIVE: u64 = 1000;
const DEADTIME: u64 = 5000;
const INITDEAD: u64 = 10_000;
const RELEASE_TIMEOUT: u64 = 4000;
const FENCE_TIMEOUT: u64 = 2000;
const FAILBACK_DELAY: u64 = 8000;
const MOVE_WINDOW: u64 = 60_000;
/// How long a relay takes to switch and its sense to follow.
const RELAY_DELAY: u64 = 100;

fn timing() -> Timing {
    Timing {
        keepalive: Duration(KEEPALIVE),
        warntime: Duration(3000),
        deadtime: Duration(DEADTIME),
        initdead: Duration(INITDEAD),
        release_timeout: Duration(RELEASE_TIMEOUT),
        fence_timeout: Duration(FENCE_TIMEOUT),
        failback_delay: Duration(FAILBACK_DELAY),
        move_window: Duration(MOVE_WINDOW),
        max_moves: 2,
        failure_timeout: Duration(30_000),
        auto_unfence_after: None,
    }
}

/// A cluster of `nodes` nodes; each group lists its eligible nodes.
fn cluster(nodes: u8, groups: &[&[u8]], auto_failback: bool) -> ClusterConfig {
    let groups = groups
        .iter()
        .map(|eligible| GroupPlacement { eligible: eligible.iter().map(|&n| NodeId(n)).collect(), auto_failback })
        .collect();
    ClusterConfig { nodes, groups, timing: timing(), fence_idle_dead: false }
}

fn g(i: u8) -> GroupId {
    GroupId(i)
}

fn n(i: u8) -> NodeId {
    NodeId(i)
}

fn set(groups: &[u8]) -> GroupSet {
    groups.iter().map(|&i| GroupId(i)).collect()
}

/// A host agent as the tests need it: speaks the session rules by hand and
/// reconciles at once.
#[derive(Debug, Clone)]
struct Agent {
    node: NodeId,
    nonce: u64,
    seq: u64,
    controller_nonce: u64,
    /// Answers beats at all (false: hung or cut off, but still powered).
    alive: bool,
    /// Releases groups that leave its want (false: a release that hangs).
    releases: bool,
    holds: GroupSet,
    applied: u64,
    failing: GroupSet,
    stuck: GroupSet,
    net_score: u16,
}

impl Agent {
    fn new(node: NodeId, nonce: u64) -> Self {
        Self {
            node,
            nonce,
            seq: 0,
            controller_nonce: 0,
            alive: true,
            releases: true,
            holds: GroupSet::EMPTY,
            applied: 0,
            failing: GroupSet::EMPTY,
            stuck: GroupSet::EMPTY,
            net_score: 0,
        }
    }

    fn header(&mut self, echo: u64) -> Header {
        self.seq += 1;
        Header { node: self.node, nonce: self.nonce, echo, seq: self.seq }
    }

    fn hello(&mut self) -> Message {
        self.controller_nonce = 0;
        Message { header: self.header(0), body: Body::Hello }
    }

    fn status(&mut self) -> Message {
        let status = Status {
            applied: self.applied,
            holds: self.holds,
            busy: GroupSet::EMPTY,
            healthy: self.holds,
            failing: self.failing,
            stuck: self.stuck,
            net_score: self.net_score,
        };
        Message { header: self.header(self.controller_nonce), body: Body::Status(status) }
    }

    /// The agent's answer to a beat.
    fn on_beat(&mut self, header: Header, beat: Beat) -> Option<Message> {
        if !self.alive {
            return None;
        }
        if header.echo != self.nonce {
            // The controller does not know this session (it rebooted, or
            // our Hello is not through yet): start a new one.
            self.nonce += 1;
            return Some(self.hello());
        }
        self.controller_nonce = header.nonce;
        if beat.role != Role::Listening {
            let want = beat.want.difference(self.failing);
            self.holds = if self.releases { want } else { self.holds.union(want) };
            self.holds = self.holds.union(self.stuck);
            self.applied = header.seq;
        }
        Some(self.status())
    }
}

/// Something the world does at a given time.
#[derive(Debug, Clone, Copy)]
enum Happening {
    Sense(NodeId, bool),
    Hello(NodeId),
}

/// The controller and its world on a virtual clock.
struct World {
    c: Controller,
    now: Instant,
    log: Vec<(Instant, Output)>,
    agents: Vec<Agent>,
    /// The real relay state.
    power: Vec<bool>,
    /// The relay obeys commands.
    relay_ok: Vec<bool>,
    pending: Vec<(Instant, Happening)>,
    /// Check that no two powered agents hold one group.
    check_world: bool,
    /// The fence store makes records durable (or fails every write).
    store_ok: bool,
    /// The durable fence record of each node.
    stored: Vec<bool>,
}

impl World {
    fn new(config: ClusterConfig) -> Self {
        let nodes = config.nodes;
        let boot = Boot { now: Instant(0), seed: 7, fenced: [false; MAX_NODES], powered: [Some(true); MAX_NODES] };
        let c = Controller::new(config, boot).unwrap();
        let mut w = Self {
            c,
            now: Instant(0),
            log: Vec::new(),
            agents: (0..nodes).map(|i| Agent::new(n(i), 1000 * (u64::from(i) + 1))).collect(),
            power: (0..nodes).map(|_| true).collect(),
            relay_ok: (0..nodes).map(|_| true).collect(),
            pending: Vec::new(),
            check_world: true,
            store_ok: true,
            stored: (0..nodes).map(|_| false).collect(),
        };
        w.drain();
        w
    }

    /// Runs every timer and happening up to `until`.
    fn run_until(&mut self, until: u64) {
        let until = Instant(until);
        loop {
            let happening = self.pending.iter().map(|(t, _)| *t).min();
            let timer = self.c.poll_timeout();
            let next = match (happening, timer) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => a.or(b).unwrap(),
            };
            if next > until {
                break;
            }
            self.now = self.now.max(next);
            if happening == Some(next) {
                let i = self.pending.iter().position(|(t, _)| *t == next).unwrap();
                let (_, h) = self.pending.remove(i);
                match h {
                    Happening::Sense(node, on) => self.c.handle_sense(self.now, node, on),
                    Happening::Hello(node) => {
                        let hello = self.agents[node.index()].hello();
                        self.c.handle_message(self.now, node, hello);
                    }
                }
            } else {
                self.c.handle_timeout(self.now);
            }
            self.drain();
        }
        self.now = self.now.max(until);
    }

    fn run_for(&mut self, ms: u64) {
        self.run_until(self.now.0 + ms);
    }

    fn request(&mut self, op: Op) -> Result<(), Refusal> {
        let r = self.c.handle_request(self.now, op);
        self.drain();
        r
    }

    fn message(&mut self, link: NodeId, message: Message) {
        self.c.handle_message(self.now, link, message);
        self.drain();
    }

    /// Carries out the controller's outputs, delivering messages at once.
    fn drain(&mut self) {
        loop {
            let mut replies = Vec::new();
            let mut persists = Vec::new();
            while let Some(out) = self.c.poll_output() {
                self.log.push((self.now, out));
                match out {
                    Output::Persist(record) => persists.push(record),
                    Output::Send { node, message: Message { header, body: Body::Beat(beat) } }
                        if self.power[node.index()] =>
                    {
                        if let Some(reply) = self.agents[node.index()].on_beat(header, beat) {
                            replies.push((node, reply));
                        }
                    }
                    Output::Power { node, on } => {
                        // Rule 3: a relay moves only with its record durable.
                        if self.check_world {
                            assert_eq!(
                                self.stored[node.index()],
                                !on,
                                "{node}'s relay moved before its record was durable"
                            );
                        }
                        if self.relay_ok[node.index()] {
                            self.switch(node, on);
                        }
                    }
                    _ => {}
                }
            }
            self.check();
            if replies.is_empty() && persists.is_empty() {
                break;
            }
            for (node, reply) in replies {
                self.c.handle_message(self.now, node, reply);
            }
            for record in persists {
                let answer = if self.store_ok {
                    self.stored[record.node.index()] = record.fenced;
                    Persisted::Durable
                } else {
                    Persisted::Failed
                };
                self.c.handle_persisted(self.now, record, answer);
            }
        }
    }

    /// The relay switches; the sense follows after RELAY_DELAY.
    fn switch(&mut self, node: NodeId, on: bool) {
        let at = Instant(self.now.0 + RELAY_DELAY);
        if self.power[node.index()] != on {
            self.power[node.index()] = on;
            let agent = &mut self.agents[node.index()];
            if on {
                // A fresh boot: new session, holding nothing.
                agent.nonce += 1000;
                agent.seq = 0;
                agent.applied = 0;
                agent.controller_nonce = 0;
                agent.alive = true;
                self.pending.push((Instant(at.0 + 500), Happening::Hello(node)));
            }
            agent.holds = GroupSet::EMPTY;
            agent.stuck = GroupSet::EMPTY;
        }
        self.pending.push((at, Happening::Sense(node, on)));
    }

    fn check(&self) {
        let nodes = self.agents.len();
        for a in 0..nodes {
            for b in a + 1..nodes {
                let wa = self.c.node(n(a as u8)).unwrap().want;
                let wb = self.c.node(n(b as u8)).unwrap().want;
                assert!(wa.intersection(wb).is_empty(), "wants of {a} and {b} intersect at {}", self.now);
                if self.check_world && self.power[a] && self.power[b] {
                    let both = self.agents[a].holds.intersection(self.agents[b].holds);
                    assert!(both.is_empty(), "nodes {a} and {b} both hold {both:?} at {}", self.now);
                }
            }
        }
    }

    fn want(&self, node: u8) -> GroupSet {
        self.c.node(n(node)).unwrap().want
    }

    fn life(&self, node: u8) -> Life {
        self.c.node(n(node)).unwrap().life
    }

    fn events(&self) -> Vec<(Instant, Event)> {
        self.log
            .iter()
            .filter_map(|(t, o)| match o {
                Output::Alarm(e) => Some((*t, *e)),
                _ => None,
            })
            .collect()
    }

    /// Index in the log of the first output matching `f`.
    fn position(&self, f: impl Fn(&Output) -> bool) -> Option<usize> {
        self.log.iter().position(|(_, o)| f(o))
    }

    fn when(&self, f: impl Fn(&Output) -> bool) -> Option<Instant> {
        self.log.iter().find(|(_, o)| f(o)).map(|(t, _)| *t)
    }

    fn power_outputs(&self) -> usize {
        self.log.iter().filter(|(_, o)| matches!(o, Output::Power { .. })).count()
    }

    fn placed(&self, group: u8) -> Vec<(NodeId, MoveReason)> {
        self.events()
            .iter()
            .filter_map(|(_, e)| match *e {
                Event::Placed { group: gg, to, reason } if gg == g(group) => Some((to, reason)),
                _ => None,
            })
            .collect()
    }
}

fn is_alarm(e: Event) -> impl Fn(&Output) -> bool {
    move |o| *o == Output::Alarm(e)
}

/// Two nodes; group 0 lives at home on node 0, group 1 on node 1.
fn two_nodes(auto_failback: bool) -> World {
    let mut w = World::new(cluster(2, &[&[0, 1], &[1, 0]], auto_failback));
    w.run_until(3000);
    w
}

#[test]
fn first_placement_goes_home_once_every_node_reported() {
    let w = two_nodes(false);
    assert_eq!(w.want(0), set(&[0]));
    assert_eq!(w.want(1), set(&[1]));
    assert_eq!(w.agents[0].holds, set(&[0]));
    assert_eq!(w.agents[1].holds, set(&[1]));
    assert_eq!(w.placed(0), [(n(0), MoveReason::Placement)]);
    assert_eq!(w.life(0), Life::Up);
    assert_eq!(w.power_outputs(), 0);
    assert!(w.log.iter().any(|(_, o)| *o == Output::FeedWatchdog));
    assert_eq!(w.c.stats(), ControllerStats::default());
    let view = w.c.group(g(0)).unwrap();
    assert_eq!(view.placed_on, Some(n(0)));
    assert_eq!(view.held_by, 0b01);
    assert!(!view.moving);
}

#[test]
fn placement_waits_for_a_booting_node_then_fences_it_after_initdead() {
    let mut w = World::new(cluster(2, &[&[0, 1]], false));
    w.agents[1].alive = false;
    w.run_until(INITDEAD - 1);
    // Node 1 never reported: it might hold group 0, so nothing is placed.
    assert_eq!(w.want(0), GroupSet::EMPTY);
    assert_eq!(w.life(1), Life::Booting);
    w.run_until(INITDEAD + 1000);
    assert_eq!(w.life(1), Life::Fenced);
    assert_eq!(w.want(0), set(&[0]));
    let fenced = w.when(is_alarm(Event::FenceConfirmed { node: n(1) })).unwrap();
    let placed = w.when(is_alarm(Event::Placed { group: g(0), to: n(0), reason: MoveReason::Placement })).unwrap();
    assert!(placed >= fenced);
}

#[test]
fn failover_on_silence_persists_then_powers_off_then_places_after_sense() {
    let mut w = two_nodes(false);
    w.agents[0].alive = false;
    w.run_for(DEADTIME + 2000);
    let events = w.events();
    assert!(events.iter().any(|(_, e)| *e == Event::NodeLate { node: n(0) }));
    let persist = w.position(|o| *o == Output::Persist(FenceRecord { node: n(0), fenced: true })).unwrap();
    let power = w.position(|o| *o == Output::Power { node: n(0), on: false }).unwrap();
    assert!(persist < power, "the fence record must be persisted before the relay switches");
    let off_at = w.log[power].0;
    let placed_at = w.when(is_alarm(Event::Placed { group: g(0), to: n(1), reason: MoveReason::HolderLost })).unwrap();
    assert!(placed_at.0 >= off_at.0 + RELAY_DELAY, "placed before the sense confirmed off");
    assert_eq!(w.life(0), Life::Fenced);
    assert_eq!(w.want(1), set(&[0, 1]));
    assert_eq!(w.agents[1].holds, set(&[0, 1]));
}

#[test]
fn nothing_moves_while_the_switch_does_not_confirm() {
    let mut w = two_nodes(false);
    w.agents[0].alive = false;
    w.relay_ok[0] = false;
    w.run_for(DEADTIME + 5 * FENCE_TIMEOUT);
    assert_eq!(w.life(0), Life::Fencing);
    assert!(w.events().iter().any(|(_, e)| *e == Event::FenceUnconfirmed { node: n(0) }));
    let unconfirmed = w.events().iter().filter(|(_, e)| *e == Event::FenceUnconfirmed { node: n(0) }).count();
    assert_eq!(unconfirmed, 1, "raised once per fencing");
    let offs = w.log.iter().filter(|(_, o)| *o == Output::Power { node: n(0), on: false }).count();
    assert!(offs >= 4, "off is commanded again every fence_timeout ({offs})");
    assert!(!w.want(1).contains(g(0)));
    assert!(w.c.group(g(0)).unwrap().moving);
    // The relay works again: the next command takes, the sense confirms.
    w.relay_ok[0] = true;
    w.run_for(FENCE_TIMEOUT + 500);
    assert_eq!(w.life(0), Life::Fenced);
    assert_eq!(w.want(1), set(&[0, 1]));
}

#[test]
fn graceful_migrate_releases_then_acquires_without_power() {
    let mut w = two_nodes(false);
    assert_eq!(w.request(Op::Migrate { group: g(0), node: n(1) }), Ok(()));
    w.run_for(2000);
    assert_eq!(w.want(0), GroupSet::EMPTY);
    assert_eq!(w.want(1), set(&[0, 1]));
    let released =
        w.position(is_alarm(Event::Releasing { group: g(0), from: n(0), reason: MoveReason::Operator })).unwrap();
    let placed = w.position(is_alarm(Event::Placed { group: g(0), to: n(1), reason: MoveReason::Operator })).unwrap();
    assert!(released < placed);
    assert_eq!(w.power_outputs(), 0);
    // The pin holds the group on node 1 even though node 0 is home.
    w.run_for(20_000);
    assert_eq!(w.want(1), set(&[0, 1]));
}

#[test]
fn migrate_refusals_name_the_problem() {
    let mut w = World::new(cluster(3, &[&[0, 1]], false));
    w.run_until(3000);
    assert_eq!(w.request(Op::Migrate { group: g(5), node: n(1) }), Err(Refusal::UnknownGroup));
    assert_eq!(w.request(Op::Migrate { group: g(0), node: n(7) }), Err(Refusal::UnknownNode));
    assert_eq!(w.request(Op::Migrate { group: g(0), node: n(2) }), Err(Refusal::NotEligible));
    assert_eq!(w.request(Op::Standby { node: n(1) }), Ok(()));
    assert_eq!(w.request(Op::Migrate { group: g(0), node: n(1) }), Err(Refusal::NodeUnavailable));
    assert_eq!(w.request(Op::Unfence { node: n(1) }), Err(Refusal::NotFenced));
    assert_eq!(w.request(Op::Standby { node: n(9) }), Err(Refusal::UnknownNode));
}

#[test]
fn release_timeout_fences_the_holder() {
    let mut w = two_nodes(false);
    w.agents[0].releases = false;
    w.check_world = false;
    assert_eq!(w.request(Op::Migrate { group: g(0), node: n(1) }), Ok(()));
    w.run_for(RELEASE_TIMEOUT - 500);
    assert!(w.in_fence_free(0));
    assert!(!w.want(1).contains(g(0)), "placed while node 0 still holds it");
    w.run_for(1000);
    let started = w.when(is_alarm(Event::FenceStarted { node: n(0) })).unwrap();
    assert!(started.0 >= 3000 + RELEASE_TIMEOUT - 1000);
    w.run_for(1000);
    assert_eq!(w.life(0), Life::Fenced);
    assert_eq!(w.want(1), set(&[0, 1]));
}

impl World {
    fn in_fence_free(&self, node: u8) -> bool {
        !matches!(self.life(node), Life::Fencing | Life::Fenced)
    }
}

#[test]
fn standby_drains_and_online_takes_groups_again() {
    let mut w = World::new(cluster(2, &[&[0, 1], &[0, 1]], false));
    w.run_until(3000);
    assert_eq!(w.want(0), set(&[0, 1]));
    assert_eq!(w.request(Op::Standby { node: n(0) }), Ok(()));
    w.run_for(2000);
    assert_eq!(w.want(0), GroupSet::EMPTY);
    assert_eq!(w.agents[0].holds, GroupSet::EMPTY);
    assert_eq!(w.want(1), set(&[0, 1]));
    assert!(w.c.node(n(0)).unwrap().standby);
    let standby_beat = w.log.iter().rev().find_map(|(_, o)| match o {
        Output::Send { node, message: Message { body: Body::Beat(b), .. } } if *node == n(0) => Some(*b),
        _ => None,
    });
    assert_eq!(standby_beat.unwrap().role, Role::Standby);
    assert_eq!(w.power_outputs(), 0);
    assert_eq!(w.request(Op::Online { node: n(0) }), Ok(()));
    w.run_for(2000);
    // No failback configured and equal scores: the groups stay.
    assert_eq!(w.want(1), set(&[0, 1]));
}

#[test]
fn fence_and_unfence_persist_before_switching() {
    let mut w = two_nodes(false);
    assert_eq!(w.request(Op::Fence { node: n(1) }), Ok(()));
    assert_eq!(w.request(Op::Fence { node: n(1) }), Err(Refusal::AlreadyFenced));
    w.run_for(1000);
    assert_eq!(w.life(1), Life::Fenced);
    assert_eq!(w.want(0), set(&[0, 1]));
    // Stays down: no timer powers it on.
    w.run_for(100_000);
    assert!(!w.power[1]);
    assert_eq!(w.life(1), Life::Fenced);
    let before = w.log.len();
    assert_eq!(w.request(Op::Unfence { node: n(1) }), Ok(()));
    let outs: Vec<Output> = w.log[before..].iter().map(|(_, o)| *o).collect();
    let persist = outs.iter().position(|o| *o == Output::Persist(FenceRecord { node: n(1), fenced: false }));
    let power = outs.iter().position(|o| *o == Output::Power { node: n(1), on: true });
    assert!(persist.unwrap() < power.unwrap());
    assert_eq!(w.life(1), Life::Booting);
    w.run_for(3000);
    assert_eq!(w.life(1), Life::Up);
    // Back holding nothing; group 1 stays where it is (no failback).
    assert_eq!(w.want(1), GroupSet::EMPTY);
    assert_eq!(w.want(0), set(&[0, 1]));
}

#[test]
fn auto_unfence_powers_on_after_the_configured_delay() {
    let mut config = cluster(2, &[&[0, 1]], false);
    config.timing.auto_unfence_after = Some(Duration(20_000));
    let mut w = World::new(config);
    w.run_until(3000);
    assert_eq!(w.request(Op::Fence { node: n(1) }), Ok(()));
    w.run_for(19_000);
    assert!(!w.power[1]);
    w.run_for(5000);
    assert!(w.power[1]);
    assert!(w.events().iter().any(|(_, e)| *e == Event::Unfenced { node: n(1) }));
    assert_eq!(w.life(1), Life::Up);
}

/// Reboots the controller of `w` at the current time with the given fence
/// records and the real relay state.
fn reboot(w: &mut World, fenced: [bool; MAX_NODES]) {
    let mut powered = [None; MAX_NODES];
    for (i, p) in w.power.iter().enumerate() {
        powered[i] = Some(*p);
    }
    let boot = Boot { now: w.now, seed: 99, fenced, powered };
    for (stored, fenced) in w.stored.iter_mut().zip(fenced) {
        *stored = fenced;
    }
    w.c = Controller::new(w.c.config().clone(), boot).unwrap();
    w.log.clear();
    w.drain();
}

#[test]
fn controller_reboot_moves_nothing_and_toggles_no_relay() {
    let mut w = World::new(cluster(3, &[&[0, 1], &[1, 2], &[2, 0], &[0, 2]], false));
    w.run_until(3000);
    let before: Vec<GroupSet> = (0..3).map(|i| w.want(i)).collect();
    let holds: Vec<GroupSet> = w.agents.iter().map(|a| a.holds).collect();
    reboot(&mut w, [false; MAX_NODES]);
    // Before the agents report, beats say Listening and want nothing.
    w.run_for(50);
    let listening = w.log.iter().all(|(_, o)| match o {
        Output::Send { message: Message { body: Body::Beat(b), .. }, .. } => {
            b.role == Role::Listening || b.want == holds[0] || b.want == holds[1] || b.want == holds[2]
        }
        _ => true,
    });
    assert!(listening);
    w.run_for(INITDEAD * 2);
    let after: Vec<GroupSet> = (0..3).map(|i| w.want(i)).collect();
    assert_eq!(before, after);
    assert_eq!(holds, w.agents.iter().map(|a| a.holds).collect::<Vec<_>>());
    assert_eq!(w.power_outputs(), 0);
    assert!(!w.events().iter().any(|(_, e)| matches!(e, Event::Releasing { .. } | Event::Placed { .. })));
}

#[test]
fn controller_reboot_keeps_a_fenced_node_off() {
    let mut w = two_nodes(false);
    assert_eq!(w.request(Op::Fence { node: n(1) }), Ok(()));
    w.run_for(1000);
    let mut fenced = [false; MAX_NODES];
    fenced[1] = true;
    reboot(&mut w, fenced);
    assert_eq!(
        w.log.iter().map(|(_, o)| *o).filter(|o| matches!(o, Output::Power { .. })).collect::<Vec<_>>(),
        vec![Output::Power { node: n(1), on: false }],
        "a fenced node is commanded off at boot, even sensed off (the sense may lie): off stays off"
    );
    assert_eq!(w.life(1), Life::Fenced);
    w.run_for(3000);
    assert_eq!(w.want(0), set(&[0, 1]));
    // Someone switched it on by hand and the relay no longer obeys; after a
    // reboot the controller commands it off again and keeps trying.
    w.relay_ok[1] = false;
    w.switch(n(1), true);
    w.run_for(RELAY_DELAY);
    reboot(&mut w, fenced);
    assert_eq!(w.log[0].1, Output::Power { node: n(1), on: false });
    assert!(w.events().iter().any(|(_, e)| *e == Event::FencedNodePowered { node: n(1) }));
    assert_eq!(w.life(1), Life::Fencing);
    w.relay_ok[1] = true;
    w.run_for(FENCE_TIMEOUT + 500);
    assert_eq!(w.life(1), Life::Fenced);
    assert!(!w.power[1]);
    assert!(w.log.iter().all(|(_, o)| !matches!(o, Output::Power { on: true, .. })));
    // The restart's fence is in the (new) history, confirmed once off.
    let e = *w.c.history().get(0).unwrap();
    assert_eq!(
        (e.node, e.reason, e.result),
        (n(1), crate::wire::FenceReason::FencedAtStart, crate::wire::FenceResult::Confirmed)
    );
}

#[test]
fn fenced_node_switched_on_is_switched_off_again() {
    let mut w = two_nodes(false);
    assert_eq!(w.request(Op::Fence { node: n(1) }), Ok(()));
    w.run_for(1000);
    w.switch(n(1), true);
    w.run_for(1000);
    assert!(w.events().iter().any(|(_, e)| *e == Event::FencedNodePowered { node: n(1) }));
    assert!(!w.power[1]);
    assert_eq!(w.life(1), Life::Fenced);
    let e = *w.c.history().get(0).unwrap();
    assert_eq!(
        (e.node, e.reason, e.result),
        (n(1), crate::wire::FenceReason::PoweredWhileFenced, crate::wire::FenceResult::Confirmed)
    );
    assert_eq!(w.c.history().total(), 2, "the operator's fence, then the switched-on one");
}

#[test]
fn adoption_conflict_keeps_the_first_report() {
    let mut w = two_nodes(false);
    // Both report group 0 after the reboot (a split brain from before);
    // node 0 reports first and keeps it.
    w.check_world = false;
    w.agents[1].holds = set(&[0, 1]);
    reboot(&mut w, [false; MAX_NODES]);
    w.run_for(3000);
    assert!(w.events().iter().any(|(_, e)| *e == Event::Conflict { group: g(0), nodes: 0b11 }));
    assert_eq!(w.want(0), set(&[0]));
    assert_eq!(w.want(1), set(&[1]));
    // Node 1 released it as asked: no fence.
    assert_eq!(w.agents[1].holds, set(&[1]));
    assert_eq!(w.power_outputs(), 0);
}

#[test]
fn adoption_conflict_fences_a_node_that_does_not_release() {
    let mut w = two_nodes(false);
    w.check_world = false;
    w.agents[1].holds = set(&[0, 1]);
    w.agents[1].releases = false;
    reboot(&mut w, [false; MAX_NODES]);
    w.run_for(RELEASE_TIMEOUT + 2000);
    assert!(w.events().iter().any(|(_, e)| *e == Event::FenceStarted { node: n(1) }));
    assert_eq!(w.life(1), Life::Fenced);
    assert_eq!(w.want(0), set(&[0, 1]));
}

#[test]
fn net_score_moves_gracefully_to_the_better_connected_node() {
    let mut w = two_nodes(false);
    w.agents[1].net_score = 5;
    w.run_for(3000);
    assert_eq!(w.want(1), set(&[0, 1]));
    assert_eq!(w.placed(0).last(), Some(&(n(1), MoveReason::NetScore)));
    assert_eq!(w.power_outputs(), 0);
}

#[test]
fn damping_limits_voluntary_moves_per_window() {
    let mut w = two_nodes(false);
    // The scores flap every 3 s: without damping the group would follow.
    for round in 0..10u16 {
        w.agents[0].net_score = if round % 2 == 0 { 0 } else { 9 };
        w.agents[1].net_score = if round % 2 == 0 { 9 } else { 0 };
        w.run_for(3000);
    }
    let moves = w.placed(0).iter().filter(|(_, r)| *r == MoveReason::NetScore).count();
    assert_eq!(moves, 2, "max_moves is 2 per window");
    // After the window the next move is allowed again.
    let holder = w.c.group(g(0)).unwrap().placed_on.unwrap();
    let other = if holder == n(0) { 1 } else { 0 };
    w.agents[usize::from(other)].net_score = 20;
    w.run_for(MOVE_WINDOW);
    assert_eq!(w.c.group(g(0)).unwrap().placed_on, Some(n(other)));
}

#[test]
fn damping_holds_a_lost_group_until_the_window_allows() {
    let mut w = World::new(cluster(3, &[&[0, 1, 2]], false));
    w.run_until(3000);
    // Two automatic moves: 0 -> 1 (net score), 1 -> 2 (failing).
    w.agents[1].net_score = 5;
    w.agents[2].net_score = 3;
    w.run_for(3000);
    assert_eq!(w.c.group(g(0)).unwrap().placed_on, Some(n(1)));
    w.agents[1].failing = set(&[0]);
    w.run_for(3000);
    assert_eq!(w.c.group(g(0)).unwrap().placed_on, Some(n(2)));
    assert_eq!(w.placed(0).last(), Some(&(n(2), MoveReason::Failing)));
    // Now the holder dies: it is fenced, but the group waits for the window.
    w.agents[2].alive = false;
    w.run_for(DEADTIME + 2000);
    assert_eq!(w.life(2), Life::Fenced);
    assert_eq!(w.c.group(g(0)).unwrap().placed_on, None);
    assert!(w.events().iter().any(|(_, e)| *e == Event::Unplaced { group: g(0) }));
    let first_move = w.when(is_alarm(Event::Placed { group: g(0), to: n(1), reason: MoveReason::NetScore })).unwrap();
    w.run_until(first_move.0 + MOVE_WINDOW - 1);
    assert_eq!(w.c.group(g(0)).unwrap().placed_on, None);
    w.run_until(first_move.0 + MOVE_WINDOW + 1000);
    assert_eq!(w.c.group(g(0)).unwrap().placed_on, Some(n(0)));
    assert_eq!(w.placed(0).last(), Some(&(n(0), MoveReason::HolderLost)));
}

#[test]
fn failing_group_moves_away_and_stays_away() {
    let mut w = two_nodes(false);
    w.agents[0].failing = set(&[0]);
    w.run_for(2000);
    assert_eq!(w.want(1), set(&[0, 1]));
    assert_eq!(w.placed(0).last(), Some(&(n(1), MoveReason::Failing)));
    // The agent forgets, but failure_timeout keeps node 0 off the group.
    w.agents[0].failing = GroupSet::EMPTY;
    assert_eq!(w.request(Op::Migrate { group: g(0), node: n(0) }), Err(Refusal::NodeUnavailable));
}

#[test]
fn failback_waits_for_home_to_be_stably_up() {
    let mut w = two_nodes(true);
    assert_eq!(w.request(Op::Fence { node: n(0) }), Ok(()));
    w.run_for(1000);
    assert_eq!(w.want(1), set(&[0, 1]));
    assert_eq!(w.request(Op::Unfence { node: n(0) }), Ok(()));
    w.run_for(2000);
    assert_eq!(w.life(0), Life::Up);
    let up = w.log.iter().rev().find(|(_, o)| is_alarm(Event::NodeUp { node: n(0) })(o)).unwrap().0;
    w.run_until(up.0 + FAILBACK_DELAY - 100);
    assert_eq!(w.want(1), set(&[0, 1]), "failback before failback_delay");
    w.run_until(up.0 + FAILBACK_DELAY + 2000);
    assert_eq!(w.want(0), set(&[0]));
    assert_eq!(w.want(1), set(&[1]));
    assert_eq!(w.placed(0).last(), Some(&(n(0), MoveReason::Failback)));
}

#[test]
fn idle_dead_node_is_not_fenced_unless_configured() {
    for fence_idle_dead in [false, true] {
        let mut config = cluster(2, &[&[0, 1]], false);
        config.fence_idle_dead = fence_idle_dead;
        let mut w = World::new(config);
        w.run_until(3000);
        assert_eq!(w.want(1), GroupSet::EMPTY);
        w.agents[1].alive = false;
        w.run_for(DEADTIME + 2000);
        let fenced = w.events().iter().any(|(_, e)| *e == Event::FenceStarted { node: n(1) });
        assert_eq!(fenced, fence_idle_dead);
        assert_eq!(w.life(1), if fence_idle_dead { Life::Fenced } else { Life::Dead });
        if !fence_idle_dead {
            // It talks again: Up, and it may be given groups again.
            w.agents[1].alive = true;
            w.run_for(2000);
            assert_eq!(w.life(1), Life::Up);
        }
    }
}

#[test]
fn stuck_group_gets_its_node_fenced() {
    let mut w = two_nodes(false);
    w.check_world = false;
    w.agents[0].stuck = set(&[0]);
    w.run_for(2000);
    assert!(w.events().iter().any(|(_, e)| *e == Event::FenceStarted { node: n(0) }));
    assert_eq!(w.want(1), set(&[0, 1]));
}

#[test]
fn a_holder_that_loses_power_is_fenced_and_stays_off() {
    let mut w = two_nodes(false);
    // Node 0's supply fails while it holds group 0: it died as a holder.
    w.switch(n(0), false);
    w.run_for(1000);
    assert_eq!(w.life(0), Life::Fenced, "the sense already confirms it is off");
    assert_eq!(w.want(1), set(&[0, 1]));
    let persist = w.position(|o| *o == Output::Persist(FenceRecord { node: n(0), fenced: true })).unwrap();
    let off = w.position(|o| *o == Output::Power { node: n(0), on: false }).unwrap();
    assert!(persist < off, "the fence record is persisted before the relay is switched");
    // Power comes back at the server: the controller switches it off again.
    w.switch(n(0), true);
    w.run_for(2000);
    assert_eq!(w.life(0), Life::Fenced);
    assert!(!w.power[0], "a fenced node stays off");
    assert!(w.events().iter().any(|(_, e)| *e == Event::FencedNodePowered { node: n(0) }));
}

#[test]
fn a_fenced_node_that_talks_is_switched_off_again() {
    let mut w = two_nodes(false);
    assert_eq!(w.request(Op::Fence { node: n(1) }), Ok(()));
    w.run_for(1000);
    assert_eq!(w.life(1), Life::Fenced);
    // The relay did not really open and the sense input lies: the node
    // still talks. Talking (in session) proves it has power.
    w.run_for(FENCE_TIMEOUT);
    let before = w.power_outputs();
    let status = w.agents[1].status();
    w.message(n(1), status);
    assert_eq!(w.power_outputs(), before + 1);
    assert_eq!(w.events().last().map(|(_, e)| *e), Some(Event::FencedNodePowered { node: n(1) }));
    assert!(w.log.iter().rev().take(4).any(|(_, o)| *o == Output::Power { node: n(1), on: false }));
    // At most once per fence_timeout, however much it talks.
    let status = w.agents[1].status();
    w.message(n(1), status);
    assert_eq!(w.power_outputs(), before + 1);
    assert_eq!(w.life(1), Life::Fenced);
}

#[test]
fn an_idle_node_that_loses_power_is_dead_not_fenced() {
    let mut w = World::new(cluster(2, &[&[0, 1]], false));
    w.run_until(3000);
    assert_eq!(w.want(1), GroupSet::EMPTY);
    // Node 1 holds nothing: its plug is pulled, no fence is needed.
    w.switch(n(1), false);
    w.run_for(1000);
    assert_eq!(w.life(1), Life::Dead);
    assert!(!w.events().iter().any(|(_, e)| matches!(e, Event::FenceStarted { .. })));
    // Plugged in again: it boots, reports, and is Up holding nothing.
    w.switch(n(1), true);
    w.run_for(2000);
    assert_eq!(w.life(1), Life::Up);
    assert_eq!(w.want(1), GroupSet::EMPTY);
}

#[test]
fn session_rules_and_bad_messages_are_counted() {
    let mut w = two_nodes(false);
    let agent = &mut w.agents[0];
    // Wrong echo (an older controller nonce).
    let mut stale = agent.status();
    stale.header.echo ^= 1;
    // A replay of an accepted status.
    let good = agent.status();
    w.message(n(0), good);
    w.message(n(0), good);
    w.message(n(0), stale);
    assert_eq!(w.c.stats().session_rejects, 2);
    // A message that names another node than its link.
    let mut other = w.agents[1].status();
    other.header.node = n(0);
    w.message(n(1), other);
    w.message(n(6), w.agents[0].clone().status());
    assert_eq!(w.c.stats().wrong_node, 2);
    // A beat from an agent.
    let mut beat = w.agents[0].status();
    beat.body = Body::Beat(Beat { epoch: 0, want: GroupSet::EMPTY, role: Role::Member });
    w.message(n(0), beat);
    assert_eq!(w.c.stats().unexpected, 1);
}

#[test]
fn relayed_request_is_answered_with_a_reply() {
    let mut w = two_nodes(false);
    let echo = w.agents[1].controller_nonce;
    let header = w.agents[1].header(echo);
    let request =
        Message { header, body: Body::Request(Request { id: 42, op: Op::Migrate { group: g(1), node: n(0) } }) };
    w.message(n(1), request);
    let reply = w.log.iter().find_map(|(_, o)| match o {
        Output::Send { node, message: Message { body: Body::Reply(r), .. } } if *node == n(1) => Some(*r),
        _ => None,
    });
    assert_eq!(reply, Some(Reply { id: 42, outcome: Ok(()) }));
    w.run_for(2000);
    assert_eq!(w.want(0), set(&[0, 1]));
    // A refused one.
    let echo = w.agents[1].controller_nonce;
    let header = w.agents[1].header(echo);
    let request = Message { header, body: Body::Request(Request { id: 43, op: Op::Unfence { node: n(0) } }) };
    w.message(n(1), request);
    let reply = w.log.iter().rev().find_map(|(_, o)| match o {
        Output::Send { message: Message { body: Body::Reply(r), .. }, .. } => Some(*r),
        _ => None,
    });
    assert_eq!(reply, Some(Reply { id: 43, outcome: Err(Refusal::NotFenced) }));
}

#[test]
fn poll_timeout_is_always_in_the_future_after_a_step() {
    let mut w = two_nodes(true);
    w.agents[0].alive = false;
    for _ in 0..200 {
        let next = w.c.poll_timeout().unwrap();
        assert!(next > w.now, "poll_timeout {next} not after {}", w.now);
        w.run_until(next.0);
    }
}

#[test]
fn many_groups_fail_over_without_losing_an_effect() {
    let all: Vec<u8> = (0..MAX_GROUPS as u8).collect();
    let eligible: Vec<&[u8]> = all.iter().map(|_| &[0u8, 1][..]).collect();
    let mut w = World::new(cluster(2, &eligible, false));
    w.run_until(3000);
    assert_eq!(w.want(0).len(), MAX_GROUPS as u32);
    w.agents[0].alive = false;
    w.run_for(DEADTIME + 2000);
    assert_eq!(w.want(1).len(), MAX_GROUPS as u32);
    assert_eq!(w.life(0), Life::Fenced);
    assert_eq!(w.c.stats().alarms_dropped, 0);
}

#[test]
fn invalid_config_is_refused() {
    let config = cluster(0, &[], false);
    let boot = Boot { now: Instant(0), seed: 1, fenced: [false; MAX_NODES], powered: [None; MAX_NODES] };
    assert_eq!(Controller::new(config, boot).unwrap_err(), ConfigError::NodeCount(0));
}

#[test]
fn size_of_controller() {
    std::println!("size_of::<Controller>() = {}", core::mem::size_of::<Controller>());
    assert!(core::mem::size_of::<Controller>() < 32 * 1024);
}

/// Each planted flaw visibly breaks its rule (and the simulator must see it).
#[cfg(feature = "flaws")]
mod flawed {
    use super::*;

    fn planted(flaw: Flaw) -> World {
        let mut w = two_nodes(false);
        w.c.plant(flaw);
        w.check_world = false;
        w
    }

    #[test]
    fn skip_fence_confirm_places_while_the_relay_is_stuck_on() {
        let mut w = planted(Flaw::SkipFenceConfirm);
        w.agents[0].alive = false;
        w.relay_ok[0] = false;
        w.run_for(DEADTIME + 1000);
        assert!(w.power[0] && w.agents[0].holds.contains(g(0)));
        assert!(w.want(1).contains(g(0)));
    }

    #[test]
    fn power_before_persist_switches_first() {
        let mut w = planted(Flaw::PowerBeforePersist);
        w.store_ok = false;
        assert_eq!(w.request(Op::Fence { node: n(1) }), Ok(()));
        let persist = w.position(|o| matches!(o, Output::Persist(_))).unwrap();
        let power = w.position(|o| matches!(o, Output::Power { .. })).unwrap();
        assert!(power < persist);
        assert!(!w.power[1] && !w.stored[1], "the relay moved although the record never became durable");
    }

    #[test]
    fn feed_while_stalled_feeds_with_a_link_stalled() {
        let mut w = planted(Flaw::FeedWhileStalled);
        w.c.handle_link(w.now, 1, LinkProgress::Stalled);
        let before = w.feeds();
        w.run_for(5 * KEEPALIVE);
        assert!(w.feeds() > before);
    }

    #[test]
    fn acquire_before_fence_gives_a_dead_holders_group_away() {
        let mut w = planted(Flaw::AcquireBeforeFence);
        w.agents[0].alive = false;
        w.run_for(DEADTIME + 1000);
        assert_eq!(w.power_outputs(), 0);
        assert!(w.want(1).contains(g(0)));
    }

    #[test]
    fn ignore_release_report_places_before_the_release() {
        let mut w = planted(Flaw::IgnoreReleaseReport);
        w.agents[0].releases = false;
        assert_eq!(w.request(Op::Migrate { group: g(0), node: n(1) }), Ok(()));
        assert!(w.want(1).contains(g(0)));
        assert!(w.agents[0].holds.contains(g(0)));
    }

    #[test]
    fn forget_fences_on_boot_leaves_a_fenced_node_running() {
        let config = cluster(2, &[&[0, 1]], false);
        let mut fenced = [false; MAX_NODES];
        fenced[1] = true;
        let boot = Boot { now: Instant(0), seed: 3, fenced, powered: [Some(true); MAX_NODES] };
        let mut c = Controller::new(config, boot).unwrap();
        c.plant(Flaw::ForgetFencesOnBoot);
        assert_eq!(c.node(n(1)).unwrap().life, Life::Booting);
        assert!(core::iter::from_fn(|| c.poll_output()).all(|o| !matches!(o, Output::Power { .. })));
    }

    #[test]
    fn no_damping_moves_without_limit() {
        let mut w = planted(Flaw::NoDamping);
        for round in 0..6u16 {
            w.agents[0].net_score = if round % 2 == 0 { 0 } else { 9 };
            w.agents[1].net_score = if round % 2 == 0 { 9 } else { 0 };
            w.run_for(3000);
        }
        let moves = w.placed(0).iter().filter(|(_, r)| *r == MoveReason::NetScore).count();
        assert!(moves > 2, "{moves}");
    }
}

#[test]
fn describe_answers_with_the_cluster_summary() {
    let mut w = two_nodes(false);
    assert_eq!(w.request(Op::Fence { node: n(1) }), Ok(()));
    w.run_for(1000);
    let agent = &mut w.agents[0];
    let header = agent.header(agent.controller_nonce);
    let before = w.log.len();
    w.message(n(0), Message { header, body: Body::Request(Request { id: 77, op: Op::Describe }) });
    let summary = w.log[before..]
        .iter()
        .find_map(|(_, o)| match o {
            Output::Send { node, message: Message { body: Body::Summary(s), .. } } if *node == n(0) => Some(*s),
            _ => None,
        })
        .expect("a Summary answers Describe");
    assert_eq!((summary.id, summary.nodes, summary.groups), (77, 2, 2));
    let n0 = summary.node(n(0)).unwrap();
    let n1 = summary.node(n(1)).unwrap();
    assert_eq!((n0.life, n0.powered, n0.fence_record), (Life::Up, Some(true), false));
    assert_eq!((n1.life, n1.powered, n1.fence_record), (Life::Fenced, Some(false), true));
    assert!(n0.heard_ago.is_some_and(|d| d.0 < 1000));
    assert_eq!(summary.placed_on(g(0)), Some(n(0)));
    assert_eq!(summary.placed_on(g(1)), Some(n(0)), "node1's group moved to node0");
    // Describing changes nothing: no Reply, no want change.
    assert!(!w.log[before..]
        .iter()
        .any(|(_, o)| matches!(o, Output::Send { message: Message { body: Body::Reply(_), .. }, .. })));
}

#[test]
fn reboot_in_place_is_new_and_a_bad_config_changes_nothing() {
    let mut w = two_nodes(false);
    let config = w.c.config().clone();
    let boot = Boot { now: Instant(9000), seed: 3, fenced: [false; MAX_NODES], powered: [Some(true); MAX_NODES] };
    let fresh = Controller::new(config.clone(), boot).unwrap();
    let before = w.c.clone();
    let mut bad = config.clone();
    bad.nodes = 0;
    assert_eq!(w.c.reboot(bad, boot), Err(ConfigError::NodeCount(0)));
    assert_eq!(w.c, before, "a refused configuration changes nothing");
    w.c.reboot(config, boot).unwrap();
    assert_eq!(w.c, fresh);
    assert_eq!(Controller::idle().poll_timeout(), None);
}

impl World {
    /// FeedWatchdog outputs so far.
    fn feeds(&self) -> usize {
        self.log.iter().filter(|(_, o)| *o == Output::FeedWatchdog).count()
    }
}

#[test]
fn a_fence_whose_record_fails_moves_no_relay_and_is_written_again() {
    let mut w = two_nodes(false);
    w.store_ok = false;
    w.agents[0].alive = false;
    w.run_for(DEADTIME + 1000);
    // Fencing started, but without a durable record the relay stays on and
    // nothing node 0 held moves.
    assert_eq!(w.life(0), Life::Fencing);
    assert!(w.power[0]);
    assert_eq!(w.power_outputs(), 0);
    assert!(!w.want(1).contains(g(0)));
    assert!(w.events().iter().any(|(_, e)| *e == Event::PersistFailed { node: n(0), fenced: true }));
    let failures = w.c.stats().persist_failures;
    assert!(failures >= 1);
    // Written again every fence_timeout, each failure counted.
    w.run_for(FENCE_TIMEOUT * 2 + 10);
    assert!(w.c.stats().persist_failures >= failures + 2);
    assert_eq!(w.power_outputs(), 0);
    // The store works again: the next write is durable, then the relay goes
    // off, the sense confirms, and the group moves.
    w.store_ok = true;
    w.run_for(FENCE_TIMEOUT + 1000);
    assert!(w.stored[0]);
    assert!(!w.power[0]);
    assert_eq!(w.life(0), Life::Fenced);
    assert!(w.want(1).contains(g(0)));
}

#[test]
fn a_failed_unfence_record_keeps_the_node_fenced_and_off() {
    let mut w = two_nodes(false);
    assert_eq!(w.request(Op::Fence { node: n(1) }), Ok(()));
    w.run_for(1000);
    assert_eq!(w.life(1), Life::Fenced);
    w.store_ok = false;
    assert_eq!(w.request(Op::Unfence { node: n(1) }), Ok(()));
    w.run_for(5000);
    assert!(!w.power[1]);
    assert_eq!(w.life(1), Life::Fenced);
    assert!(w.events().iter().any(|(_, e)| *e == Event::PersistFailed { node: n(1), fenced: false }));
    assert!(!w.events().iter().any(|(_, e)| *e == Event::Unfenced { node: n(1) }));
    // Asked again with a working store, it comes back.
    w.store_ok = true;
    assert_eq!(w.request(Op::Unfence { node: n(1) }), Ok(()));
    w.run_for(5000);
    assert!(w.power[1]);
    assert!(!w.stored[1]);
}

#[test]
fn a_power_loss_confirms_only_once_the_record_is_durable() {
    let mut w = two_nodes(false);
    w.store_ok = false;
    // The holder's supply fails: sensed off, it is dead at once, and fenced,
    // but not confirmed while its record cannot be written.
    w.power[0] = false;
    w.agents[0].alive = false;
    w.c.handle_sense(w.now, n(0), false);
    w.drain();
    assert_eq!(w.life(0), Life::Fencing);
    assert!(!w.events().iter().any(|(_, e)| *e == Event::FenceConfirmed { node: n(0) }));
    w.store_ok = true;
    w.run_for(FENCE_TIMEOUT + 10);
    assert_eq!(w.life(0), Life::Fenced);
}

#[test]
fn an_answer_nobody_awaits_is_counted_and_changes_nothing() {
    let mut w = two_nodes(false);
    let before = w.c.clone();
    w.c.handle_persisted(w.now, FenceRecord { node: n(0), fenced: true }, Persisted::Durable);
    w.c.handle_persisted(w.now, FenceRecord { node: n(7), fenced: false }, Persisted::Failed);
    assert_eq!(w.c.stats().persist_unexpected, 2);
    assert!(core::iter::from_fn(|| w.c.poll_output()).all(|o| !matches!(o, Output::Power { .. })));
    assert_eq!(w.c.node(n(0)), before.node(n(0)));
}

#[test]
fn the_watchdog_is_fed_only_while_no_link_driver_is_stalled() {
    let mut w = two_nodes(false);
    w.run_for(5 * KEEPALIVE);
    let fed = w.feeds();
    assert!(fed >= 4, "fed {fed} times in five keepalives");
    // A peer in trouble is the node's condition: feeding goes on.
    w.c.handle_link(w.now, 1, LinkProgress::PeerTrouble);
    w.run_for(3 * KEEPALIVE);
    assert!(w.feeds() > fed);
    // A stalled driver withholds every feed, told once.
    w.c.handle_link(w.now, 1, LinkProgress::Stalled);
    w.c.handle_link(w.now, 3, LinkProgress::Stalled);
    let fed = w.feeds();
    w.run_for(5 * KEEPALIVE);
    assert_eq!(w.feeds(), fed);
    let withheld: Vec<_> =
        w.events().into_iter().filter(|(_, e)| matches!(e, Event::WatchdogWithheld { .. })).collect();
    assert_eq!(withheld.len(), 1);
    assert_eq!(withheld[0].1, Event::WatchdogWithheld { links: 0b1010 });
    assert!(w.c.stats().feeds_withheld >= 4);
    // PeerTrouble does not unstall it; one link moving is not enough.
    w.c.handle_link(w.now, 1, LinkProgress::PeerTrouble);
    w.c.handle_link(w.now, 3, LinkProgress::Moved);
    w.run_for(3 * KEEPALIVE);
    assert_eq!(w.feeds(), fed);
    w.c.handle_link(w.now, 1, LinkProgress::Moved);
    w.run_for(3 * KEEPALIVE);
    assert!(w.feeds() > fed);
    assert_eq!(w.events().iter().filter(|(_, e)| *e == Event::WatchdogResumed).count(), 1);
    // Links beyond MAX_LINKS are ignored.
    w.c.handle_link(w.now, crate::ids::MAX_LINKS, LinkProgress::Stalled);
    assert_eq!(w.c.stalled_links(), 0);
}

#[test]
fn the_history_tells_each_fence_and_unfence_with_who_asked_and_how_it_ended() {
    use crate::wire::{FenceAction, FenceReason, FenceResult, Requester};
    let mut w = two_nodes(false);
    // The controller's own: node 0 goes silent; its relay first refuses.
    w.agents[0].alive = false;
    w.relay_ok[0] = false;
    w.run_for(DEADTIME + FENCE_TIMEOUT + 500);
    let e = *w.c.history().get(0).unwrap();
    assert_eq!(
        (e.node, e.action, e.reason, e.by),
        (n(0), FenceAction::Fence, FenceReason::Dead, Requester::Controller)
    );
    assert_eq!((e.result, e.done), (FenceResult::Unconfirmed, None), "not confirmed within fence_timeout");
    w.relay_ok[0] = true;
    w.run_for(FENCE_TIMEOUT + 500);
    let e = *w.c.history().get(0).unwrap();
    assert_eq!(e.result, FenceResult::Confirmed);
    let confirmed_at = w.when(is_alarm(Event::FenceConfirmed { node: n(0) })).unwrap();
    assert_eq!(e.done, Some(confirmed_at));
    assert!(e.done.unwrap().0 > e.started.0 + FENCE_TIMEOUT, "its time to confirm includes the refused switch");

    // An operator on the controller unfences it.
    assert_eq!(w.request(Op::Unfence { node: n(0) }), Ok(()));
    let e = *w.c.history().get(0).unwrap();
    assert_eq!(
        (e.action, e.reason, e.by, e.result),
        (FenceAction::Unfence, FenceReason::Operator, Requester::Operator, FenceResult::Confirmed)
    );
    w.run_for(3000);

    // An operator through node 1's agent fences node 0 again; the agent asks
    // for the history, one entry a request.
    w.agents[0].alive = true;
    let agent = &mut w.agents[1];
    let header = agent.header(agent.controller_nonce);
    w.message(n(1), Message { header, body: Body::Request(Request { id: 5, op: Op::Fence { node: n(0) } }) });
    w.run_for(1000);
    let e = *w.c.history().get(0).unwrap();
    assert_eq!((e.reason, e.by, e.result), (FenceReason::Operator, Requester::Agent(n(1)), FenceResult::Confirmed));
    assert_eq!((w.c.history().held(), w.c.history().total()), (3, 3));
    let agent = &mut w.agents[1];
    let header = agent.header(agent.controller_nonce);
    let before = w.log.len();
    w.message(n(1), Message { header, body: Body::Request(Request { id: 6, op: Op::History { back: 2 } }) });
    let answer = w.log[before..]
        .iter()
        .find_map(|(_, o)| match o {
            Output::Send { node, message: Message { body: Body::History(h), .. } } if *node == n(1) => Some(*h),
            _ => None,
        })
        .expect("a History answers the request");
    assert_eq!((answer.id, answer.back, answer.held, answer.total), (6, 2, 3, 3));
    let oldest = answer.entry.unwrap();
    assert_eq!((oldest.node, oldest.action, oldest.reason), (n(0), FenceAction::Fence, FenceReason::Dead));
    assert!(oldest.took_ms.is_some_and(|ms| u64::from(ms) > FENCE_TIMEOUT));
    assert!(u64::from(oldest.started_ago_ms) > 3000 + 1000);
}
