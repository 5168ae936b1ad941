//! A bounded model of a two-node cluster for `stateright`: the real
//! controller and the real agents' protocol halves, wired through lossy
//! in-flight message multisets, power relays with sense inputs, a fence
//! store, and a world that records which groups are really active where.
//!
//! Everything nondeterministic is an explicit [`Transition`]: which message
//! arrives (or is lost), when time moves, how a resource step ends, when the
//! relay sense catches up, when the fence store answers a write (durable,
//! or failed), and the faults (agent crash, server power loss, controller
//! reset, a relay that ignores an "off" command, a store that fails a
//! write, a link driver that stalls). The checker then
//! explores every interleaving up to the bounds in [`Bounds`].
//!
//! Shortcuts that keep the space small, and why they are sound for the
//! safety properties checked here:
//! * Links keep order and may lose any message (only the oldest message in
//!   flight is delivered or lost next; losing a later one is the same as
//!   losing it when it becomes the oldest). A serial line does not reorder;
//!   on a link that does, the receiver's sequence check refuses the older
//!   of two swapped messages, which is a loss. The simulator adds reordering
//!   and duplication on top.
//! * Timers fire on time: the clock only moves to the earliest deadline once
//!   every due timer has run. Safety never rests on a timer being prompt,
//!   and message delay (a message may sit in flight any number of steps)
//!   already covers slow links.
//! * Controller effects are carried out in order, with a state boundary
//!   before every `Persist` and every `Power`, so a controller reset can cut
//!   a step between the fence record and the relay, which is the only cut
//!   that matters to rule 3. Sends and alarms between boundaries go together.
//! * While the controller has effects left to carry out, nothing else
//!   happens except carrying them out or a controller reset: the real driver
//!   drains `poll_output` before its next `handle_*` call.

use std::collections::VecDeque;
use std::fmt;

use stateright::{Model, Property};
use warden_agent_proto::{Action, Agent, AgentConfig, AgentOutput, GroupShape, Step, StepResult};
use warden_agent_proto::{ErrorKind, Presence};
use warden_core::controller::{
    Boot, ClusterConfig, Controller, FenceRecord, Flaw, GroupPlacement, LinkProgress, Output, Persisted, Timing,
};
use warden_core::wire::{Message, Op};
use warden_core::{Duration, GroupId, GroupSet, Instant, NodeId, MAX_NODES};

/// Number of servers in the model.
pub(crate) const NODES: usize = 2;

/// One tick of model time, in milliseconds. Every timing value is a small
/// number of ticks so the clock bound stays small.
pub(crate) const TICK: u64 = 1;

/// How far the model explores.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    /// Number of groups (each with one resource, eligible on node 0 then 1).
    pub(crate) groups: u8,
    /// The clock never passes this many ticks.
    pub(crate) ticks: u64,
    /// Messages in flight per link and direction; a send into a full link
    /// is lost.
    pub(crate) capacity: usize,
    /// Messages lost, in total (besides those a full link drops).
    pub(crate) losses: u8,
    /// Times the clock moves on while messages are in flight, in total
    /// (otherwise a message arrives, or is lost, within the tick it was sent).
    pub(crate) delays: u8,
    /// Operator `migrate` requests, in total.
    pub(crate) migrations: u8,
    /// Links cut for good (both ways), in total.
    pub(crate) cuts: u8,
    /// Agent crashes (and restarts), in total.
    pub(crate) crashes: u8,
    /// Server power losses, in total.
    pub(crate) power_losses: u8,
    /// Controller resets, in total.
    pub(crate) resets: u8,
    /// Resource start/stop steps that fail, in total.
    pub(crate) step_failures: u8,
    /// Relay "off" commands that do nothing, in total.
    pub(crate) relay_faults: u8,
    /// Fence-store writes that fail, in total.
    pub(crate) store_failures: u8,
    /// Link drivers of the controller that stall for good, in total.
    pub(crate) stalls: u8,
    /// Where exploration starts.
    pub(crate) start: Start,
}

/// Where exploration starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    /// Everything just powered on: controller booting, agents probing.
    Cold,
    /// A running cluster: both sessions up, every group held by node 0,
    /// nothing in flight (reached from `Cold` by a fault-free schedule).
    Steady,
}

impl fmt::Display for Bounds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "start={:?} nodes={NODES} groups={} ticks<={} capacity={} losses<={} delays<={} migrations<={} cuts<={} crashes<={} power_losses<={} resets<={} \
             step_failures<={} relay_faults<={} store_failures<={} stalls<={}",
            self.start,
            self.groups,
            self.ticks,
            self.capacity,
            self.losses,
            self.delays,
            self.migrations,
            self.cuts,
            self.crashes,
            self.power_losses,
            self.resets,
            self.step_failures,
            self.relay_faults,
            self.store_failures,
            self.stalls
        )
    }
}

/// The cluster model: configuration and bounds. The state is [`Cluster`].
pub(crate) struct ClusterModel {
    bounds: Bounds,
    config: ClusterConfig,
    agent: AgentConfig,
    /// A deliberate bug planted in every controller the model boots.
    flaw: Option<Flaw>,
}

/// Timing of the model, in ticks: keepalive 1, warn 2, dead 3.
fn timing() -> Timing {
    Timing {
        keepalive: Duration(TICK),
        warntime: Duration(2 * TICK),
        deadtime: Duration(3 * TICK),
        initdead: Duration(3 * TICK),
        release_timeout: Duration(3 * TICK),
        fence_timeout: Duration(2 * TICK),
        // Beyond every bound: no failback, no damping expiry, no failure
        // expiry inside the explored space.
        failback_delay: Duration(1000 * TICK),
        move_window: Duration(1000 * TICK),
        max_moves: 3,
        failure_timeout: Duration(1000 * TICK),
        auto_unfence_after: None,
    }
}

impl ClusterModel {
    /// A model with these bounds and a sound controller.
    pub(crate) fn new(bounds: Bounds) -> Self {
        let mut groups = heapless::Vec::new();
        for _ in 0..bounds.groups {
            let mut eligible = heapless::Vec::new();
            for n in 0..NODES as u8 {
                // Cannot fail: NODES <= MAX_NODES.
                let _ = eligible.push(NodeId(n));
            }
            let _ = groups.push(GroupPlacement { eligible, auto_failback: false });
        }
        let config = ClusterConfig { nodes: NODES as u8, groups, timing: timing(), fence_idle_dead: false };
        let agent = AgentConfig {
            node: NodeId(0),
            groups: (0..bounds.groups).map(|_| GroupShape { resources: 1, monitors: 0, max_restarts: 1 }).collect(),
            keepalive: Duration(TICK),
            controller_silence: Duration(3 * TICK),
            // Beyond every bound: monitors and re-probes would only add
            // interleavings that decide nothing here.
            monitor_interval: Duration(1000 * TICK),
            probe_interval: Duration(1000 * TICK),
            restart_window: Duration(1000 * TICK),
            step_timeout: Duration(1000 * TICK),
            pinging: false,
        };
        Self { bounds, config, agent, flaw: None }
    }

    /// The same model with `flaw` planted in every controller it boots.
    pub(crate) fn with_flaw(mut self, flaw: Flaw) -> Self {
        self.flaw = Some(flaw);
        self
    }

    fn boot_controller(&self, now: Instant, seed: u64, fenced: [bool; NODES], sense: [bool; NODES]) -> Controller {
        let mut boot = Boot { now, seed, fenced: [false; MAX_NODES], powered: [None; MAX_NODES] };
        for n in 0..NODES {
            boot.fenced[n] = fenced[n];
            boot.powered[n] = Some(sense[n]);
        }
        let mut controller = Controller::new(self.config.clone(), boot).expect("the model's configuration is valid");
        if let Some(flaw) = self.flaw {
            controller.plant(flaw);
        }
        controller
    }

    /// Everything just powered on.
    fn cold(&self) -> Cluster {
        let now = Instant::ZERO;
        let server = |n: usize| Server {
            relay: true,
            supply: true,
            sense: true,
            active: GroupSet::EMPTY,
            agent: Some(self.boot_agent(n, 0, now)),
            steps: Vec::new(),
            boots: 0,
            cut: false,
            stalled: false,
        };
        let mut state = Cluster {
            now,
            start: now,
            controller: self.boot_controller(now, 1, [false; NODES], [true; NODES]),
            effects: VecDeque::new(),
            servers: [server(0), server(1)],
            fence_store: [false; NODES],
            writes: [None; NODES],
            to_agent: Default::default(),
            to_controller: Default::default(),
            spent: Spent::default(),
            history: History::default(),
        };
        for n in 0..NODES {
            state.drain_agent(n, self.bounds.capacity);
        }
        state.drain_controller(self);
        state
    }

    /// Runs `state` on a fault-free schedule (effects, then deliveries,
    /// then step results, then sense, then timers, then time) until every
    /// group is held by node 0 and nothing is in flight.
    fn steady(&self, mut state: Cluster) -> Cluster {
        let all: GroupSet = (0..self.bounds.groups).map(GroupId).collect();
        for _ in 0..100_000 {
            let settled = state.effects.is_empty()
                && state.to_agent.iter().chain(&state.to_controller).all(Vec::is_empty)
                && state.servers.iter().all(|s| s.steps.is_empty())
                && state.servers[0].active == all
                && (0..NODES).all(|n| {
                    state.servers[n].agent.as_ref().is_some_and(|a| {
                        let v = a.view();
                        v.connected && v.status.applied > 0 && v.status.healthy == state.servers[n].active
                    })
                });
            if settled {
                state.start = state.now;
                return state;
            }
            let next = self.fault_free_next(&state);
            state = self.next_state(&state, next).expect("a fault-free transition applies");
        }
        panic!("the model cluster did not reach a steady state");
    }

    /// The first fault-free transition in schedule order.
    fn fault_free_next(&self, state: &Cluster) -> Transition {
        if !state.effects.is_empty() {
            return Transition::Carry { ignored: false };
        }
        for n in 0..NODES {
            if !state.to_controller[n].is_empty() {
                return Transition::Deliver { node: n as u8, way: Way::Up };
            }
            if !state.to_agent[n].is_empty() {
                return Transition::Deliver { node: n as u8, way: Way::Down };
            }
        }
        for n in 0..NODES {
            if !state.servers[n].steps.is_empty() {
                return Transition::Finish { node: n as u8, index: 0, ok: true };
            }
            if state.servers[n].sense != state.servers[n].powered() {
                return Transition::Sense(n as u8);
            }
            if state.writes[n].is_some() {
                return Transition::Written { node: n as u8, durable: true };
            }
        }
        let parties = [Party::Controller, Party::Agent(0), Party::Agent(1)];
        if let Some(p) = parties.into_iter().find(|p| state.deadline(*p).is_some_and(|t| t <= state.now)) {
            return Transition::Timeout(p);
        }
        let next = parties.iter().filter_map(|p| state.deadline(*p)).min().unwrap_or(state.now + Duration(TICK));
        Transition::Advance(next)
    }

    fn boot_agent(&self, node: usize, incarnation: u8, now: Instant) -> Agent {
        let config = AgentConfig { node: NodeId(node as u8), ..self.agent.clone() };
        // Distinct per node and per boot, and far apart: each handshake
        // moves the nonce on by one.
        let nonce = ((node as u64 + 1) << 40) | (u64::from(incarnation) << 20);
        Agent::new(config, now, nonce).expect("the model's agent configuration is valid")
    }
}

/// One server: its relay, its supply, what the sense input reads, what is
/// really active on it, and its agent while it has power.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Server {
    /// Relay contact closed (latching: survives controller resets).
    pub(crate) relay: bool,
    /// The server's own supply works (a power loss breaks it for good).
    pub(crate) supply: bool,
    /// What the relay's sense input reads; it catches up with `powered()`
    /// one transition later.
    pub(crate) sense: bool,
    /// Groups whose (single) resource is really active here.
    pub(crate) active: GroupSet,
    /// The agent, while the server has power.
    pub(crate) agent: Option<Agent>,
    /// Steps the agent asked for that the world has not finished.
    pub(crate) steps: Vec<Step>,
    /// How many times an agent was started here (for fresh nonces).
    pub(crate) boots: u8,
    /// Its link to the controller is cut: everything sent either way is lost.
    pub(crate) cut: bool,
    /// The controller's driver of its link is stalled: what the controller
    /// writes to it is lost.
    pub(crate) stalled: bool,
}

impl Server {
    /// Whether the server has power.
    pub(crate) fn powered(&self) -> bool {
        self.relay && self.supply
    }
}

/// What happened so far that the properties look back on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub(crate) struct History {
    /// The node lost power at some point (fenced, or its supply failed).
    pub(crate) lost_power: [bool; NODES],
    /// The node was seen unpowered while its fence record was persisted.
    pub(crate) fenced_off: [bool; NODES],
    /// Rule 3 broken: a fenced-off node had power again, or its relay was
    /// switched on while the fence record said fenced.
    pub(crate) stay_down_broken: bool,
    /// Rule 3 broken: a relay was switched off before the node's fence
    /// record was durable.
    pub(crate) power_before_persist: bool,
    /// The watchdog was fed while a link driver was stalled.
    pub(crate) fed_while_stalled: bool,
}

/// Faults spent so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub(crate) struct Spent {
    losses: u8,
    delays: u8,
    migrations: u8,
    cuts: u8,
    crashes: u8,
    power_losses: u8,
    resets: u8,
    step_failures: u8,
    relay_faults: u8,
    store_failures: u8,
    stalls: u8,
}

/// The whole cluster at one point of one run.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Cluster {
    /// Model time.
    pub(crate) now: Instant,
    /// When exploration started: the tick bound counts from here.
    pub(crate) start: Instant,
    /// The controller.
    pub(crate) controller: Controller,
    /// Controller effects not carried out yet, in order.
    pub(crate) effects: VecDeque<Output>,
    /// The servers, by node index.
    pub(crate) servers: [Server; NODES],
    /// Durable fence records, by node index.
    pub(crate) fence_store: [bool; NODES],
    /// Fence-store writes under way (the record's value), by node index.
    pub(crate) writes: [Option<bool>; NODES],
    /// Messages in flight from the controller to each node, oldest first.
    pub(crate) to_agent: [Vec<Message>; NODES],
    /// Messages in flight from each node to the controller.
    pub(crate) to_controller: [Vec<Message>; NODES],
    /// Faults spent.
    pub(crate) spent: Spent,
    /// What the properties look back on.
    pub(crate) history: History,
}

/// Which way a message goes on node `node`'s link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Way {
    /// Controller to agent.
    Down,
    /// Agent to controller.
    Up,
}

/// Who runs a timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Party {
    /// The controller.
    Controller,
    /// The agent of this node.
    Agent(u8),
}

/// One thing that can happen next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Transition {
    /// The oldest in-flight message of the link arrives.
    Deliver { node: u8, way: Way },
    /// The oldest in-flight message of the link is lost.
    Lose { node: u8, way: Way },
    /// A due timer runs.
    Timeout(Party),
    /// The clock moves to the earliest deadline.
    Advance(Instant),
    /// The world finishes the agent's `index`th outstanding step.
    Finish { node: u8, index: usize, ok: bool },
    /// The relay sense input reads the server's real power.
    Sense(u8),
    /// The fence store finishes the write under way for the node:
    /// durable, or failed.
    Written { node: u8, durable: bool },
    /// The controller's driver of the node's link stalls for good.
    Stall(u8),
    /// The controller's next effects are carried out, up to the next
    /// `Persist` or `Power`. `ignored`: the relay does not act on this
    /// "off" command.
    Carry { ignored: bool },
    /// The agent crashes and its restart comes up at once (the world stays).
    Crash(u8),
    /// The server's supply fails for good.
    PowerLoss(u8),
    /// The node's link is cut for good, both ways (messages in flight lost).
    Cut(u8),
    /// An operator asks the controller to move a group to a node.
    Migrate { group: u8, node: u8 },
    /// The controller resets: it boots again from the fence store and the
    /// sense inputs; effects not carried out yet are lost.
    Reset,
}

/// Puts `message` on a link, or loses it when the link is full.
fn send(link: &mut Vec<Message>, capacity: usize, message: Message) {
    if link.len() < capacity {
        link.push(message);
    }
}

impl Cluster {
    fn agent_deadline(&self, node: usize) -> Option<Instant> {
        self.servers[node].agent.as_ref().and_then(Agent::poll_timeout)
    }

    fn deadline(&self, party: Party) -> Option<Instant> {
        match party {
            Party::Controller => self.controller.poll_timeout(),
            Party::Agent(n) => self.agent_deadline(usize::from(n)),
        }
    }

    /// Exclusivity: no group is active on two powered servers.
    pub(crate) fn exclusive(&self) -> bool {
        let mut seen = GroupSet::EMPTY;
        for s in self.servers.iter().filter(|s| s.powered()) {
            if !seen.intersection(s.active).is_empty() {
                return false;
            }
            seen = seen.union(s.active);
        }
        true
    }

    /// Rule 3 as seen from the relays.
    pub(crate) fn stays_down(&self) -> bool {
        !self.history.stay_down_broken
    }

    /// Rule 3 as seen from the order of effects.
    pub(crate) fn persists_before_power(&self) -> bool {
        !self.history.power_before_persist
    }

    /// The watchdog rule: fed only while every link driver makes progress.
    pub(crate) fn feeds_only_on_progress(&self) -> bool {
        !self.history.fed_while_stalled
    }

    /// Tells the controller of every stalled link driver (at boot the board
    /// knows its own).
    fn tell_stalls(&mut self) {
        let now = self.now;
        for n in 0..NODES {
            if self.servers[n].stalled {
                self.controller.handle_link(now, n, LinkProgress::Stalled);
            }
        }
    }

    /// A failover happened: node 0 lost power and group 0 is active on node 1.
    pub(crate) fn failed_over(&self) -> bool {
        self.history.lost_power[0] && self.servers[1].powered() && self.servers[1].active.contains(GroupId(0))
    }

    /// Takes everything an agent wants done out of it.
    fn drain_agent(&mut self, node: usize, capacity: usize) {
        let Some(agent) = self.servers[node].agent.as_mut() else { return };
        while let Some(out) = agent.poll_output() {
            match out {
                AgentOutput::Send(m) if !self.servers[node].cut => send(&mut self.to_controller[node], capacity, m),
                AgentOutput::Send(_) => {}
                AgentOutput::Step(step) => self.servers[node].steps.push(step),
                AgentOutput::Event(_)
                | AgentOutput::Reply { .. }
                | AgentOutput::Summary(_)
                | AgentOutput::History(_)
                | AgentOutput::Counters(_) => {}
            }
        }
    }

    /// Takes the controller's effects out of it, then carries out those
    /// before the first fence-store or relay effect.
    fn drain_controller(&mut self, model: &ClusterModel) {
        while let Some(out) = self.controller.poll_output() {
            self.effects.push_back(out);
        }
        self.carry(model, false, false);
    }

    /// Carries out effects in order. With `through_first`, the first one is
    /// carried whatever it is; then it stops before the next `Persist` or
    /// `Power`.
    fn carry(&mut self, model: &ClusterModel, mut through_first: bool, ignored: bool) {
        let mut ignore_next_off = ignored;
        while let Some(&out) = self.effects.front() {
            let boundary = matches!(out, Output::Persist(_) | Output::Power { .. });
            if boundary && !through_first {
                return;
            }
            through_first = false;
            self.effects.pop_front();
            match out {
                Output::Send { node, message } => {
                    let cut = self.servers.get(node.index()).is_none_or(|s| s.cut || s.stalled);
                    if let (false, Some(link)) = (cut, self.to_agent.get_mut(node.index())) {
                        send(link, model.bounds.capacity, message);
                    }
                }
                Output::Persist(record) => {
                    if let Some(slot) = self.writes.get_mut(record.node.index()) {
                        *slot = Some(record.fenced);
                    }
                }
                Output::Power { node, on } => {
                    let n = node.index();
                    if n >= NODES {
                        continue;
                    }
                    if !on && !self.fence_store[n] {
                        self.history.power_before_persist = true;
                    }
                    if on && self.fence_store[n] {
                        self.history.stay_down_broken = true;
                    }
                    if !on && std::mem::take(&mut ignore_next_off) {
                        self.spent.relay_faults += 1;
                        continue;
                    }
                    self.set_relay(model, n, on);
                }
                Output::FeedWatchdog => {
                    if self.servers.iter().any(|s| s.stalled) {
                        self.history.fed_while_stalled = true;
                    }
                }
                Output::Alarm(_) => {}
            }
        }
    }

    fn set_relay(&mut self, model: &ClusterModel, n: usize, on: bool) {
        self.servers[n].relay = on;
        self.power_changed(model, n);
    }

    /// The server's power may have changed: off kills everything on it,
    /// on boots a fresh agent over an empty world.
    fn power_changed(&mut self, model: &ClusterModel, n: usize) {
        let now = self.now;
        let s = &mut self.servers[n];
        if !s.powered() {
            s.active = GroupSet::EMPTY;
            s.agent = None;
            s.steps.clear();
            self.history.lost_power[n] = true;
        } else if s.agent.is_none() {
            s.boots += 1;
            s.agent = Some(model.boot_agent(n, s.boots, now));
            self.drain_agent(n, model.bounds.capacity);
        }
    }

    /// Updates what the properties look back on after a transition.
    fn observe(&mut self) {
        for n in 0..NODES {
            let powered = self.servers[n].powered();
            if self.history.fenced_off[n] && powered {
                self.history.stay_down_broken = true;
            }
            if self.fence_store[n] && !powered {
                self.history.fenced_off[n] = true;
            }
        }
    }

    /// What the world answers to `step` on node `n`.
    fn execute(&mut self, n: usize, step: Step, ok: bool) -> StepResult {
        let s = &mut self.servers[n];
        let active = s.active.contains(step.group);
        match step.action {
            Action::Probe => StepResult::Present(if active { Presence::Active } else { Presence::Inactive }),
            Action::Monitor => {
                if active {
                    StepResult::Healthy
                } else {
                    StepResult::Unhealthy
                }
            }
            Action::Start if ok => {
                s.active.insert(step.group);
                StepResult::Done
            }
            Action::Stop if ok => {
                s.active.remove(step.group);
                StepResult::Done
            }
            Action::Start | Action::Stop => StepResult::Failed(ErrorKind::Failed),
        }
    }
}

impl Model for ClusterModel {
    type State = Cluster;
    type Action = Transition;

    fn init_states(&self) -> Vec<Cluster> {
        let cold = self.cold();
        match self.bounds.start {
            Start::Cold => vec![cold],
            Start::Steady => vec![self.steady(cold)],
        }
    }

    fn actions(&self, state: &Cluster, actions: &mut Vec<Transition>) {
        let b = &self.bounds;
        if let Some(next) = state.effects.front() {
            actions.push(Transition::Carry { ignored: false });
            if matches!(next, Output::Power { on: false, .. }) && state.spent.relay_faults < b.relay_faults {
                actions.push(Transition::Carry { ignored: true });
            }
            if state.spent.resets < b.resets {
                actions.push(Transition::Reset);
            }
            return;
        }
        for n in 0..NODES {
            for (way, link) in [(Way::Down, &state.to_agent[n]), (Way::Up, &state.to_controller[n])] {
                if !link.is_empty() {
                    actions.push(Transition::Deliver { node: n as u8, way });
                    if state.spent.losses < b.losses {
                        actions.push(Transition::Lose { node: n as u8, way });
                    }
                }
            }
        }
        let parties = [Party::Controller, Party::Agent(0), Party::Agent(1)];
        let mut any_due = false;
        for party in parties {
            if state.deadline(party).is_some_and(|t| t <= state.now) {
                any_due = true;
                actions.push(Transition::Timeout(party));
            }
        }
        if !any_due {
            let next = parties
                .iter()
                .filter_map(|p| state.deadline(*p))
                .min()
                .unwrap_or(state.now.saturating_add(Duration(TICK)));
            let in_flight = state.to_agent.iter().chain(&state.to_controller).any(|l| !l.is_empty());
            let delay_left = !in_flight || state.spent.delays < b.delays;
            if next <= state.start.saturating_add(Duration(b.ticks * TICK)) && delay_left {
                actions.push(Transition::Advance(next));
            }
        }
        for (n, s) in state.servers.iter().enumerate() {
            for (index, step) in s.steps.iter().enumerate() {
                actions.push(Transition::Finish { node: n as u8, index, ok: true });
                let can_fail = matches!(step.action, Action::Start | Action::Stop);
                if can_fail && state.spent.step_failures < b.step_failures {
                    actions.push(Transition::Finish { node: n as u8, index, ok: false });
                }
            }
            if s.sense != s.powered() {
                actions.push(Transition::Sense(n as u8));
            }
            if state.writes[n].is_some() {
                actions.push(Transition::Written { node: n as u8, durable: true });
                if state.spent.store_failures < b.store_failures {
                    actions.push(Transition::Written { node: n as u8, durable: false });
                }
            }
            if !s.stalled && state.spent.stalls < b.stalls {
                actions.push(Transition::Stall(n as u8));
            }
            if s.agent.is_some() && state.spent.crashes < b.crashes {
                actions.push(Transition::Crash(n as u8));
            }
            if s.supply && state.spent.power_losses < b.power_losses {
                actions.push(Transition::PowerLoss(n as u8));
            }
            if !s.cut && state.spent.cuts < b.cuts {
                actions.push(Transition::Cut(n as u8));
            }
        }
        if state.spent.resets < b.resets {
            actions.push(Transition::Reset);
        }
        if state.spent.migrations < b.migrations {
            for g in 0..b.groups {
                let placed = state.controller.group(GroupId(g)).and_then(|v| v.placed_on);
                for n in 0..NODES as u8 {
                    if placed.is_some_and(|p| p != NodeId(n)) {
                        actions.push(Transition::Migrate { group: g, node: n });
                    }
                }
            }
        }
    }

    fn next_state(&self, last: &Cluster, action: Transition) -> Option<Cluster> {
        let mut s = last.clone();
        let cap = self.bounds.capacity;
        let now = s.now;
        match action {
            Transition::Deliver { node, way } => {
                let n = usize::from(node);
                match way {
                    Way::Down => {
                        let m = s.to_agent[n].remove(0);
                        if let Some(agent) = s.servers[n].agent.as_mut() {
                            agent.handle_message(now, m);
                            s.drain_agent(n, cap);
                        }
                    }
                    Way::Up => {
                        let m = s.to_controller[n].remove(0);
                        s.controller.handle_message(now, NodeId(node), m);
                        s.drain_controller(self);
                    }
                }
            }
            Transition::Lose { node, way } => {
                let n = usize::from(node);
                s.spent.losses += 1;
                match way {
                    Way::Down => s.to_agent[n].remove(0),
                    Way::Up => s.to_controller[n].remove(0),
                };
            }
            Transition::Timeout(Party::Controller) => {
                s.controller.handle_timeout(now);
                s.drain_controller(self);
            }
            Transition::Timeout(Party::Agent(node)) => {
                let n = usize::from(node);
                s.servers[n].agent.as_mut()?.handle_timeout(now);
                s.drain_agent(n, cap);
            }
            Transition::Advance(at) => {
                if s.to_agent.iter().chain(&s.to_controller).any(|l| !l.is_empty()) {
                    s.spent.delays += 1;
                }
                s.now = at;
            }
            Transition::Finish { node, index, ok } => {
                let n = usize::from(node);
                let step = s.servers[n].steps.remove(index);
                if !ok {
                    s.spent.step_failures += 1;
                }
                let result = s.execute(n, step, ok);
                s.servers[n].agent.as_mut()?.handle_step(now, step, result);
                s.drain_agent(n, cap);
            }
            Transition::Sense(node) => {
                let n = usize::from(node);
                let powered = s.servers[n].powered();
                s.servers[n].sense = powered;
                s.controller.handle_sense(now, NodeId(node), powered);
                s.drain_controller(self);
            }
            Transition::Written { node, durable } => {
                let n = usize::from(node);
                let fenced = s.writes[n].take()?;
                let answer = if durable {
                    s.fence_store[n] = fenced;
                    Persisted::Durable
                } else {
                    s.spent.store_failures += 1;
                    Persisted::Failed
                };
                s.controller.handle_persisted(now, FenceRecord { node: NodeId(node), fenced }, answer);
                s.drain_controller(self);
            }
            Transition::Stall(node) => {
                let n = usize::from(node);
                s.spent.stalls += 1;
                s.servers[n].stalled = true;
                s.controller.handle_link(now, n, LinkProgress::Stalled);
            }
            Transition::Carry { ignored } => s.carry(self, true, ignored),
            Transition::Crash(node) => {
                let n = usize::from(node);
                s.spent.crashes += 1;
                let server = &mut s.servers[n];
                server.steps.clear();
                server.boots += 1;
                server.agent = Some(self.boot_agent(n, server.boots, now));
                s.drain_agent(n, cap);
            }
            Transition::Migrate { group, node } => {
                s.spent.migrations += 1;
                // A refusal (node not available) changes nothing.
                let _ = s.controller.handle_request(now, Op::Migrate { group: GroupId(group), node: NodeId(node) });
                s.drain_controller(self);
            }
            Transition::Cut(node) => {
                let n = usize::from(node);
                s.spent.cuts += 1;
                s.servers[n].cut = true;
                s.to_agent[n].clear();
                s.to_controller[n].clear();
            }
            Transition::PowerLoss(node) => {
                let n = usize::from(node);
                s.spent.power_losses += 1;
                s.servers[n].supply = false;
                s.power_changed(self, n);
            }
            Transition::Reset => {
                s.spent.resets += 1;
                s.effects.clear();
                // A write the reset interrupted never happened.
                s.writes = [None; NODES];
                let sense = [s.servers[0].sense, s.servers[1].sense];
                let seed = 1 + u64::from(s.spent.resets);
                s.controller = self.boot_controller(now, seed, s.fence_store, sense);
                s.tell_stalls();
                s.drain_controller(self);
            }
        }
        s.observe();
        Some(s)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        vec![
            Property::always("exclusivity", |_, s: &Cluster| s.exclusive()),
            Property::always("stay down", |_, s: &Cluster| s.stays_down()),
            Property::always("persist before power", |_, s: &Cluster| s.persists_before_power()),
            Property::always("feed only on progress", |_, s: &Cluster| s.feeds_only_on_progress()),
            Property::sometimes("failover", |_, s: &Cluster| s.failed_over()),
        ]
    }
}
