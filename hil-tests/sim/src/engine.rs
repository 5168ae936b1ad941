//! The event loop of one simulated run: the real controller and the real
//! agents, simulated links, relays with sense inputs and a world of
//! resources, on virtual time that jumps to the next event or timer.

use std::collections::{HashMap, VecDeque};
use std::ops::ControlFlow;

use warden_agent_proto::{Action, Agent, AgentConfig, AgentOutput, GroupShape, Step, StepResult};
use warden_agent_proto::{ErrorKind, Presence};
use warden_core::controller::{
    Boot, Controller, Event, FenceRecord, Life, LinkProgress, MoveReason, Output, Persisted,
};
use warden_core::wire::{encode, Auth, Key, Message, Op, MAX_FRAME};
use warden_core::{Duration, GroupId, GroupSet, Instant, NodeId, MAX_NODES};

use super::agenda::Agenda;
use super::rng::Rng;
use super::scenario::{Fault, Scenario};
use super::trace::{Entry, Trace};
use super::world::{Pending, Server};

/// A hook run on every controller the simulation boots (tests plant
/// deliberate bugs with it).
pub type ControllerHook = fn(&mut Controller);

/// How to run a seed.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// Trace entries kept for the report of a failing seed.
    pub keep: usize,
    /// Print every trace entry as it happens.
    pub echo: bool,
    /// Trace every delivered message too.
    pub wire: bool,
    /// Applied to every controller booted.
    pub hook: Option<ControllerHook>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self { keep: 200, echo: false, wire: false, hook: None }
    }
}

/// A scripted happening (the narrated demo and targeted tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scripted {
    /// The server's supply fails.
    PowerLoss(NodeId),
    /// The server's supply comes back.
    PowerBack(NodeId),
    /// An operator command on the controller's console.
    Console(Op),
    /// Stop the run here.
    End,
}

/// What became of one run.
#[derive(Debug)]
pub struct Outcome {
    /// The scenario that ran.
    pub scenario: Scenario,
    /// Events and timers handled.
    pub steps: u64,
    /// Virtual time simulated (ms).
    pub sim_ms: u64,
    /// The first safety violation, if any: when, and what.
    pub violation: Option<(u64, String)>,
    /// Why liveness failed, if it did.
    pub liveness: Option<String>,
    /// When every group was held again after the faults stopped (ms after
    /// the repair), if it was.
    pub recovered_after: Option<u64>,
    /// The last entries of the run.
    pub trace: Trace,
}

impl Outcome {
    /// Neither a violation nor a liveness failure.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.violation.is_none() && self.liveness.is_none()
    }
}

#[derive(Debug, Clone)]
enum Payload {
    Message(Message),
    Bytes(Vec<u8>),
}

#[derive(Debug, Clone)]
enum Ev {
    ToController {
        node: u8,
        link: u8,
        payload: Payload,
    },
    ToAgent {
        node: u8,
        link: u8,
        payload: Payload,
    },
    StepDone {
        node: u8,
        power_epoch: u32,
        step: Step,
    },
    Sense {
        node: u8,
    },
    AgentStart {
        node: u8,
        power_epoch: u32,
    },
    ControllerBoot,
    Inject,
    HealCut {
        node: u8,
        link: u8,
    },
    HealSupply {
        node: u8,
    },
    HealHang {
        node: u8,
    },
    HealSense {
        node: u8,
    },
    HealPing {
        node: u8,
    },
    HealStall {
        node: u8,
        link: u8,
    },
    /// The fence store answers a write (of the controller of boot `boot`).
    Persisted {
        boot: u64,
        record: FenceRecord,
        durable: bool,
    },
    Repair,
    Sweep,
    Script(Scripted),
}

/// Most events handled at one instant before the run is declared stuck.
const SAME_INSTANT_LIMIT: u32 = 100_000;

/// One simulated run.
pub struct Sim {
    sc: Scenario,
    options: RunOptions,
    rng: Rng,
    now: u64,
    queue: Agenda<Ev>,
    controller: Option<Controller>,
    controller_boots: u64,
    /// The durable fence records.
    store: Vec<bool>,
    /// The store fails every write until this time (ms).
    store_fails_until: u64,
    /// The store is slow (writes durable late) until this time (ms).
    store_slow_until: u64,
    servers: Vec<Server>,
    auth: Auth,
    trace: Trace,
    steps: u64,
    violation: Option<(u64, String)>,
    // Stay down: since when a fenced node has had power while the
    // controller runs, and when its relay was last commanded off.
    fenced_powered_since: Vec<Option<u64>>,
    last_off_command: Vec<Option<u64>>,
    // Power on only answers an operator unfence.
    unfence_asked: Vec<bool>,
    requests: HashMap<(u8, u32), Op>,
    // Damping: release origin and times of counted moves per group.
    last_from: Vec<Option<NodeId>>,
    moves: Vec<VecDeque<u64>>,
    // Liveness.
    repaired: bool,
    live_since: Option<u64>,
    liveness: Option<String>,
    recovered_after: Option<u64>,
    done: bool,
    same_instant: u32,
    last_instant: u64,
}

impl Sim {
    /// A run of `sc`, with faults as the scenario switches them on.
    #[must_use]
    pub fn new(sc: Scenario, options: RunOptions) -> Self {
        let nodes = usize::from(sc.nodes);
        let shape: Vec<u8> = sc.groups.iter().map(|g| g.resources).collect();
        let links = sc.links;
        let auth =
            if sc.hmac { Key::new(b"warden simulated cluster key").map_or(Auth::Crc, Auth::Hmac) } else { Auth::Crc };
        let groups = sc.groups.len();
        let mut sim = Self {
            rng: Rng::new(sc.seed ^ 0x005E_ED0F_5111),
            options,
            now: 0,
            queue: Agenda::new(),
            controller: None,
            controller_boots: 0,
            store: vec![false; nodes],
            store_fails_until: 0,
            store_slow_until: 0,
            servers: (0..nodes).map(|_| Server::new(&shape, links)).collect(),
            auth,
            trace: Trace::new(options.keep, options.echo),
            steps: 0,
            violation: None,
            fenced_powered_since: vec![None; nodes],
            last_off_command: vec![None; nodes],
            unfence_asked: vec![false; nodes],
            requests: HashMap::new(),
            last_from: vec![None; groups],
            moves: vec![VecDeque::new(); groups],
            repaired: false,
            live_since: None,
            liveness: None,
            recovered_after: None,
            done: false,
            same_instant: 0,
            last_instant: 0,
            sc,
        };
        sim.boot_controller();
        for n in 0..nodes {
            sim.start_agent(n);
        }
        if !sim.sc.faults.iter().all(|f| matches!(f, Fault::Loss | Fault::Delay | Fault::Duplicate | Fault::Corrupt)) {
            let first = sim.fault_gap();
            sim.schedule(first, Ev::Inject);
        }
        let repair_at = sim.sc.fault_until;
        sim.schedule_at(repair_at, Ev::Repair);
        sim
    }

    /// Adds scripted happenings (times in ms from the start).
    pub fn script(&mut self, script: &[(u64, Scripted)]) {
        for (at, what) in script {
            self.schedule_at(*at, Ev::Script(*what));
        }
    }

    /// Runs to the end: a violation, liveness reached or failed, or a
    /// scripted end.
    #[must_use]
    pub fn run(mut self) -> Outcome {
        let end = self.sc.fault_until + self.sc.liveness_bound();
        while !self.done {
            let event_at = self.queue.next_at();
            let timer_at = self.next_timer();
            let at = match (event_at, timer_at) {
                (Some(e), Some(t)) => e.min(t),
                (e, t) => match e.or(t) {
                    Some(at) => at,
                    None => break,
                },
            };
            if at > end {
                self.now = end;
                if self.liveness.is_none() && self.violation.is_none() {
                    self.liveness = Some(self.unheld_groups());
                }
                break;
            }
            self.advance(at);
            if event_at == Some(at) {
                if let Some((_, ev)) = self.queue.pop() {
                    self.handle(ev);
                }
            } else {
                self.fire_timers();
            }
            self.steps += 1;
            self.check();
        }
        Outcome {
            steps: self.steps,
            sim_ms: self.now,
            violation: self.violation,
            liveness: self.liveness,
            recovered_after: self.recovered_after,
            trace: self.trace,
            scenario: self.sc,
        }
    }

    // -----------------------------------------------------------------
    // Time and scheduling.

    fn advance(&mut self, at: u64) {
        if at == self.last_instant {
            self.same_instant += 1;
            if self.same_instant > SAME_INSTANT_LIMIT {
                self.violate(format!("stuck: over {SAME_INSTANT_LIMIT} events at one instant (a timer never served)"));
            }
        } else {
            self.same_instant = 0;
            self.last_instant = at;
        }
        self.now = self.now.max(at);
    }

    fn schedule(&mut self, after: u64, ev: Ev) {
        self.schedule_at(self.now.saturating_add(after), ev);
    }

    fn schedule_at(&mut self, at: u64, ev: Ev) {
        self.queue.push(at, ev);
    }

    fn instant(&self) -> Instant {
        Instant(self.now)
    }

    fn in_fault_phase(&self) -> bool {
        self.now < self.sc.fault_until
    }

    fn fault_on(&self, f: Fault) -> bool {
        self.in_fault_phase() && self.sc.faults.has(f)
    }

    fn fault_gap(&mut self) -> u64 {
        let gap = self.sc.fault_gap;
        self.rng.range(gap / 2, gap + gap / 2)
    }

    fn next_timer(&self) -> Option<u64> {
        let controller = self.controller.as_ref().and_then(Controller::poll_timeout).map(|t| t.0);
        let agents = self
            .servers
            .iter()
            .filter(|s| !s.hung)
            .filter_map(|s| s.agent.as_ref().and_then(Agent::poll_timeout))
            .map(|t| t.0);
        controller.into_iter().chain(agents).min()
    }

    fn fire_timers(&mut self) {
        let now = self.instant();
        if self.controller.as_ref().and_then(Controller::poll_timeout).is_some_and(|t| t <= now) {
            if let Some(c) = self.controller.as_mut() {
                c.handle_timeout(now);
            }
            self.drain_controller();
        }
        for n in 0..self.servers.len() {
            let s = &mut self.servers[n];
            if s.hung {
                continue;
            }
            if let Some(agent) = s.agent.as_mut() {
                if agent.poll_timeout().is_some_and(|t| t <= now) {
                    agent.handle_timeout(now);
                    self.drain_agent(n);
                }
            }
        }
    }

    // -----------------------------------------------------------------
    // Boots.

    fn boot_controller(&mut self) {
        let mut boot = Boot {
            now: self.instant(),
            seed: self.rng.next_u64(),
            fenced: [false; MAX_NODES],
            powered: [None; MAX_NODES],
        };
        for (n, s) in self.servers.iter().enumerate() {
            boot.fenced[n] = self.store[n];
            boot.powered[n] = Some(s.sense);
        }
        for s in &mut self.servers {
            for link in &mut s.links {
                link.up = warden_core::wire::Decoder::new();
            }
        }
        match Controller::new(self.sc.cluster_config(), boot) {
            Ok(mut c) => {
                if let Some(hook) = self.options.hook {
                    hook(&mut c);
                }
                self.controller = Some(c);
                self.controller_boots += 1;
                self.moves.iter_mut().for_each(VecDeque::clear);
                self.last_from.iter_mut().for_each(|f| *f = None);
                self.trace.push(self.now, Entry::ControllerBoot);
                // The board knows its stalled link drivers from the start.
                for (i, stalled) in self.link_drivers().collect::<Vec<_>>() {
                    if stalled {
                        self.tell_link(i, LinkProgress::Stalled);
                    }
                }
                self.drain_controller();
            }
            Err(e) => self.violate(format!("the simulated cluster's configuration was refused: {e}")),
        }
    }

    fn agent_config(&self, n: usize) -> AgentConfig {
        let t = &self.sc.timing;
        AgentConfig {
            node: NodeId(n as u8),
            groups: self.sc.groups.iter().map(|g| GroupShape { resources: g.resources, max_restarts: 2 }).collect(),
            keepalive: t.keepalive,
            controller_silence: Duration(self.sc.controller_silence),
            monitor_interval: Duration(self.sc.monitor_interval),
            probe_interval: Duration(self.sc.probe_interval),
            restart_window: Duration(60_000),
            step_timeout: Duration(self.sc.step_time.1 * 20 + 1_000),
        }
    }

    fn start_agent(&mut self, n: usize) {
        let config = self.agent_config(n);
        let nonce = self.rng.next_u64();
        match Agent::new(config, self.instant(), nonce) {
            Ok(agent) => {
                let s = &mut self.servers[n];
                s.agent = Some(agent);
                s.agent_epoch = s.agent_epoch.wrapping_add(1);
                for link in &mut s.links {
                    link.down = warden_core::wire::Decoder::new();
                }
                self.trace.push(self.now, Entry::AgentBoot(NodeId(n as u8)));
                let score = self.net_score(n);
                if let Some(agent) = self.servers[n].agent.as_mut() {
                    agent.handle_net_score(Instant(self.now), score);
                }
                self.drain_agent(n);
            }
            Err(e) => self.violate(format!("the simulated agent's configuration was refused: {e}")),
        }
    }

    fn net_score(&self, n: usize) -> u16 {
        if self.now < self.servers[n].ping_lost_until {
            0
        } else {
            self.sc.ping_nodes
        }
    }

    // -----------------------------------------------------------------
    // Events.

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::ToController { node, link, payload } => self.deliver_up(usize::from(node), usize::from(link), payload),
            Ev::ToAgent { node, link, payload } => self.deliver_down(usize::from(node), usize::from(link), payload),
            Ev::StepDone { node, power_epoch, step } => self.finish_step(usize::from(node), power_epoch, step),
            Ev::Sense { node } => self.sense(usize::from(node)),
            Ev::AgentStart { node, power_epoch } => {
                let s = &self.servers[usize::from(node)];
                if s.power_epoch == power_epoch && s.powered() && s.agent.is_none() {
                    self.start_agent(usize::from(node));
                }
            }
            Ev::ControllerBoot => {
                if self.controller.is_none() {
                    self.boot_controller();
                }
            }
            Ev::Inject => {
                if self.in_fault_phase() {
                    self.inject();
                    let gap = self.fault_gap();
                    self.schedule(gap, Ev::Inject);
                }
            }
            Ev::HealCut { node, link } => {
                if let Some(l) = self.servers[usize::from(node)].links.get_mut(usize::from(link)) {
                    l.cut_until = 0;
                }
                self.trace.push(self.now, Entry::Fault(format!("link {link} of node{node} healed")));
            }
            Ev::HealSupply { node } => self.set_supply(usize::from(node), true),
            Ev::HealHang { node } => self.unhang(usize::from(node)),
            Ev::HealSense { node } => {
                self.servers[usize::from(node)].sense_stuck_until = 0;
                self.sense(usize::from(node));
            }
            Ev::HealPing { node } => {
                let n = usize::from(node);
                self.servers[n].ping_lost_until = 0;
                self.feed_net_score(n);
            }
            Ev::HealStall { node, link } => {
                let n = usize::from(node);
                if let Some(l) = self.servers[n].links.get_mut(usize::from(link)) {
                    l.stalled_until = 0;
                }
                self.trace.push(self.now, Entry::Fault(format!("the driver of link {link} of node{node} moves again")));
                self.tell_link(self.link_index(n, usize::from(link)), LinkProgress::Moved);
                self.drain_controller();
            }
            Ev::Persisted { boot, record, durable } => {
                self.store_answers(boot, record, durable);
                self.drain_controller();
            }
            Ev::Repair => self.repair(),
            Ev::Sweep => {
                self.sweep();
                if !self.done {
                    self.schedule(5_000, Ev::Sweep);
                }
            }
            Ev::Script(what) => self.scripted(what),
        }
    }

    fn scripted(&mut self, what: Scripted) {
        match what {
            Scripted::PowerLoss(n) => {
                self.trace.push(self.now, Entry::Fault(format!("{n}'s power supply fails")));
                self.set_supply(n.index(), false);
            }
            Scripted::PowerBack(n) => {
                self.trace.push(self.now, Entry::Fault(format!("{n}'s power supply is back")));
                self.set_supply(n.index(), true);
            }
            Scripted::Console(op) => self.console(op),
            Scripted::End => self.done = true,
        }
    }

    // -----------------------------------------------------------------
    // Links.

    fn transmit(&mut self, n: usize, up: bool, message: Message) {
        let links = self.servers[n].links.len();
        for l in 0..links {
            if !up && self.servers[n].links[l].is_stalled(self.now) {
                // The controller's driver of this link is stalled: the
                // write fails, and the driver says so again.
                self.tell_link(self.link_index(n, l), LinkProgress::Stalled);
                continue;
            }
            if !self.servers[n].links[l].is_up(self.now)
                || (self.fault_on(Fault::Loss) && self.rng.chance(self.sc.loss))
            {
                continue;
            }
            let mut at = self.now + self.rng.range(self.sc.latency.0, self.sc.latency.1);
            if self.fault_on(Fault::Delay) && self.rng.chance(0.05) {
                at += self.rng.range(0, 3 * self.sc.timing.keepalive.0);
            }
            let dir = usize::from(up);
            if !self.sc.reorder {
                let last = &mut self.servers[n].links[l].last_delivery[dir];
                at = at.max(*last);
                *last = at;
            }
            let payload = self.payload(message);
            let duplicate = self.fault_on(Fault::Duplicate) && self.rng.chance(self.sc.duplicate);
            let (node, link) = (n as u8, l as u8);
            let ev = if up { Ev::ToController { node, link, payload } } else { Ev::ToAgent { node, link, payload } };
            // The copy comes a millisecond later, scheduled after the original.
            let copy = duplicate.then(|| ev.clone());
            self.schedule_at(at, ev);
            if let Some(copy) = copy {
                self.schedule_at(at + 1, copy);
            }
        }
    }

    fn payload(&mut self, message: Message) -> Payload {
        if !self.sc.bytes {
            return Payload::Message(message);
        }
        let mut buf = [0u8; MAX_FRAME];
        let Ok(len) = encode(&message, &self.auth, &mut buf) else {
            self.violate(format!("a message could not be encoded: {message:?}"));
            return Payload::Bytes(Vec::new());
        };
        let mut bytes = buf[..len].to_vec();
        if self.fault_on(Fault::Corrupt) && self.rng.chance(self.sc.corrupt) {
            let i = self.rng.index(bytes.len());
            bytes[i] ^= 1 << self.rng.range(0, 7);
        }
        Payload::Bytes(bytes)
    }

    /// The frames the decoder at the receiving end of link `l` of node `n`
    /// finds once `bytes` reach it.
    fn decode(&mut self, n: usize, l: usize, up: bool, bytes: &[u8]) -> Vec<Message> {
        let mut out = Vec::new();
        if let Some(link) = self.servers[n].links.get_mut(l) {
            let decoder = if up { &mut link.up } else { &mut link.down };
            decoder.feed(bytes, &self.auth, |r| {
                if let Ok(m) = r {
                    out.push(m);
                }
            });
        }
        out
    }

    fn deliver_up(&mut self, n: usize, l: usize, payload: Payload) {
        if self.controller.is_none() || !self.servers[n].links[l].is_up(self.now) {
            return;
        }
        match payload {
            Payload::Message(m) => {
                let _ = self.controller_hears(n, m);
            }
            Payload::Bytes(bytes) => {
                for m in self.decode(n, l, true, &bytes) {
                    if self.controller_hears(n, m).is_break() {
                        return;
                    }
                }
            }
        }
    }

    /// The controller takes in a message from node `n`; breaks once that
    /// broke rule 3 (the rest of the payload is not delivered).
    fn controller_hears(&mut self, n: usize, m: Message) -> ControlFlow<()> {
        if self.options.wire {
            self.trace.push(self.now, Entry::Message(NodeId(n as u8), true, m.body));
        }
        let now = self.instant();
        if let Some(c) = self.controller.as_mut() {
            c.handle_message(now, NodeId(n as u8), m);
        }
        self.drain_controller();
        // Rule 3: a fenced node that talks (a message the session
        // accepted) has power; it must be, or recently have been,
        // commanded off.
        let window = self.sc.timing.fence_timeout.0 + 1;
        let exposed = self.store[n]
            && self.servers[n].powered()
            && self.last_off_command[n].is_none_or(|t| self.now > t + window);
        // Asked only then: the view is not free.
        let accepted = || {
            self.controller.as_ref().and_then(|c| c.node(NodeId(n as u8))).is_some_and(|v| v.last_heard == Some(now))
        };
        if exposed && accepted() {
            self.violate(format!("node{n} is fenced but talks, and its relay is not commanded off (rule 3)"));
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    }

    fn deliver_down(&mut self, n: usize, l: usize, payload: Payload) {
        let s = &self.servers[n];
        if !s.powered() || s.hung || s.agent.is_none() || !s.links[l].is_up(self.now) {
            return;
        }
        match payload {
            Payload::Message(m) => self.agent_hears(n, m),
            Payload::Bytes(bytes) => {
                for m in self.decode(n, l, false, &bytes) {
                    self.agent_hears(n, m);
                }
            }
        }
    }

    /// The agent of node `n` takes in a message.
    fn agent_hears(&mut self, n: usize, m: Message) {
        if self.options.wire {
            self.trace.push(self.now, Entry::Message(NodeId(n as u8), false, m.body));
        }
        let now = self.instant();
        if let Some(agent) = self.servers[n].agent.as_mut() {
            agent.handle_message(now, m);
        }
        self.drain_agent(n);
    }

    // -----------------------------------------------------------------
    // Controller and agent outputs.

    fn drain_controller(&mut self) {
        loop {
            let mut answers = Vec::new();
            while let Some(out) = self.controller.as_mut().and_then(Controller::poll_output) {
                match out {
                    Output::Send { node, message } => {
                        if node.index() < self.servers.len() {
                            self.transmit(node.index(), false, message);
                        }
                    }
                    Output::Persist(record) => {
                        self.trace.push(self.now, Entry::Persist(record));
                        let durable = self.now >= self.store_fails_until;
                        if self.now < self.store_slow_until {
                            let late = self.rng.range(1, 2 * self.sc.timing.keepalive.0 + 1);
                            let boot = self.controller_boots;
                            self.schedule(late, Ev::Persisted { boot, record, durable });
                        } else {
                            answers.push((record, durable));
                        }
                    }
                    Output::Power { node, on } => self.power_command(node.index(), on),
                    Output::Alarm(e) => {
                        self.trace.push(self.now, Entry::Alarm(e));
                        self.observe_alarm(e);
                    }
                    Output::FeedWatchdog => {
                        let stalled: Vec<usize> = self.link_drivers().filter(|(_, s)| *s).map(|(i, _)| i).collect();
                        if !stalled.is_empty() {
                            self.violate(format!(
                                "the watchdog was fed while link driver(s) {stalled:?} were stalled (the watchdog rule)"
                            ));
                        }
                    }
                }
            }
            if answers.is_empty() {
                return;
            }
            let boot = self.controller_boots;
            for (record, durable) in answers {
                self.store_answers(boot, record, durable);
            }
        }
    }

    /// The store finishes a write: the record is durable (or not), and the
    /// controller that asked, if it still runs, is told.
    fn store_answers(&mut self, boot: u64, record: FenceRecord, durable: bool) {
        if durable {
            if let Some(slot) = self.store.get_mut(record.node.index()) {
                *slot = record.fenced;
            }
        }
        self.trace.push(self.now, Entry::Persisted(record, durable));
        if boot != self.controller_boots {
            return;
        }
        let now = self.instant();
        if let Some(c) = self.controller.as_mut() {
            c.handle_persisted(now, record, if durable { Persisted::Durable } else { Persisted::Failed });
        }
    }

    /// The controller's link drivers by the number the core counts them
    /// in (node by node, link by link), and whether each is stalled.
    fn link_drivers(&self) -> impl Iterator<Item = (usize, bool)> + '_ {
        let now = self.now;
        self.servers.iter().flat_map(move |s| s.links.iter().map(move |l| l.is_stalled(now))).enumerate()
    }

    fn link_index(&self, n: usize, l: usize) -> usize {
        n * usize::from(self.sc.links) + l
    }

    fn tell_link(&mut self, link: usize, progress: LinkProgress) {
        let now = self.instant();
        if let Some(c) = self.controller.as_mut() {
            c.handle_link(now, link, progress);
        }
    }

    fn drain_agent(&mut self, n: usize) {
        while let Some(out) = self.servers[n].agent.as_mut().and_then(Agent::poll_output) {
            let node = NodeId(n as u8);
            match out {
                AgentOutput::Send(m) => self.transmit(n, true, m),
                AgentOutput::Step(step) => self.begin_step(n, step),
                AgentOutput::Event(e) => self.trace.push(self.now, Entry::Agent(node, e)),
                AgentOutput::Summary(summary) => {
                    self.requests.remove(&(n as u8, summary.id));
                }
                AgentOutput::Reply { id, outcome } => {
                    if let Some(op) = self.requests.remove(&(n as u8, id)) {
                        self.answered(op, outcome);
                    }
                }
            }
        }
    }

    fn power_command(&mut self, n: usize, on: bool) {
        if n >= self.servers.len() {
            self.violate(format!("relay command for node{n}, which is not in the cluster"));
            return;
        }
        let fenced = self.store[n];
        if on && fenced {
            self.violate(format!("relay of node{n} switched ON while its fence record says fenced (rule 3)"));
        }
        if on && !self.unfence_asked[n] {
            self.violate(format!("relay of node{n} switched ON without an operator unfence (rule 3/4)"));
        }
        if !on && !fenced {
            self.violate(format!("relay of node{n} switched OFF before its fence record was durable (rule 3)"));
        }
        if on {
            self.unfence_asked[n] = false;
        } else {
            self.last_off_command[n] = Some(self.now);
        }
        let ignored = self.fault_on(Fault::RelayIgnore) && self.rng.chance(self.sc.relay_ignore);
        self.trace.push(self.now, Entry::Power(NodeId(n as u8), on, ignored));
        if !ignored {
            self.set_relay(n, on);
        }
    }

    fn set_relay(&mut self, n: usize, on: bool) {
        let was = self.servers[n].powered();
        self.servers[n].relay = on;
        self.power_changed(n, was);
    }

    fn set_supply(&mut self, n: usize, on: bool) {
        let was = self.servers[n].powered();
        self.servers[n].supply = on;
        self.power_changed(n, was);
    }

    fn power_changed(&mut self, n: usize, was: bool) {
        let now_on = self.servers[n].powered();
        if was == now_on {
            return;
        }
        self.trace.push(self.now, Entry::Powered(NodeId(n as u8), now_on));
        if now_on {
            let epoch = self.servers[n].power_epoch;
            self.schedule(self.sc.boot_delay, Ev::AgentStart { node: n as u8, power_epoch: epoch });
        } else {
            self.servers[n].lose_power();
        }
        self.schedule(self.sc.sense_latency, Ev::Sense { node: n as u8 });
    }

    fn sense(&mut self, n: usize) {
        let s = &mut self.servers[n];
        if self.now < s.sense_stuck_until {
            return;
        }
        let powered = s.powered();
        if s.sense == powered {
            return;
        }
        s.sense = powered;
        self.trace.push(self.now, Entry::Sense(NodeId(n as u8), powered));
        let now = self.instant();
        if let Some(c) = self.controller.as_mut() {
            c.handle_sense(now, NodeId(n as u8), powered);
        }
        self.drain_controller();
    }

    // -----------------------------------------------------------------
    // The world carrying out steps.

    fn begin_step(&mut self, n: usize, step: Step) {
        let g = step.group.index();
        let stuck = step.action == Action::Stop && self.fault_on(Fault::StuckRelease) && self.rng.chance(0.05);
        let time = self.rng.range(self.sc.step_time.0, self.sc.step_time.1);
        let s = &mut self.servers[n];
        s.set_pending(g, Some(Pending { step, stuck }));
        let power_epoch = s.power_epoch;
        self.trace.push(self.now, Entry::StepBegin(NodeId(n as u8), step));
        if !stuck {
            self.schedule(time, Ev::StepDone { node: n as u8, power_epoch, step });
        }
    }

    fn finish_step(&mut self, n: usize, power_epoch: u32, step: Step) {
        let fail = matches!(step.action, Action::Start | Action::Stop)
            && self.fault_on(Fault::StepFailure)
            && self.rng.chance(self.sc.step_failure);
        let half_started = self.rng.chance(0.3);
        let s = &mut self.servers[n];
        if s.power_epoch != power_epoch {
            return;
        }
        let g = step.group.index();
        if s.pending(g).map(|p| p.step) != Some(step) {
            return;
        }
        s.set_pending(g, None);
        let r = usize::from(step.resource);
        let Some(active) = s.active(g, r) else { return };
        let (active, result) = match step.action {
            Action::Start if fail => (half_started, StepResult::Failed(ErrorKind::Failed)),
            Action::Start => (true, StepResult::Done),
            Action::Stop if fail => (active, StepResult::Failed(ErrorKind::Busy)),
            Action::Stop => (false, StepResult::Done),
            Action::Probe => (active, StepResult::Present(if active { Presence::Active } else { Presence::Inactive })),
            Action::Monitor if active => (active, StepResult::Healthy),
            Action::Monitor => (active, StepResult::Unhealthy),
        };
        s.set_active(g, r, active);
        self.trace.push(self.now, Entry::StepEnd(NodeId(n as u8), step, result));
        let now = self.instant();
        let s = &mut self.servers[n];
        if s.agent.is_none() {
            return;
        }
        if s.hung {
            s.deferred.push((step, result));
            return;
        }
        if let Some(agent) = s.agent.as_mut() {
            agent.handle_step(now, step, result);
        }
        self.drain_agent(n);
    }

    // -----------------------------------------------------------------
    // Faults.

    fn inject(&mut self) {
        let kinds: Vec<Fault> = self
            .sc
            .faults
            .iter()
            .filter(|f| !matches!(f, Fault::Loss | Fault::Delay | Fault::Duplicate | Fault::Corrupt))
            .collect();
        if kinds.is_empty() {
            return;
        }
        let kind = kinds[self.rng.index(kinds.len())];
        let n = self.rng.index(self.servers.len());
        let node = NodeId(n as u8);
        let deadtime = self.sc.timing.deadtime.0;
        match kind {
            Fault::Cut => {
                let l = self.rng.index(self.servers[n].links.len());
                let d = self.rng.range(500, 3 * deadtime);
                self.servers[n].links[l].cut_until = self.now + d;
                self.trace.push(self.now, Entry::Fault(format!("link {l} of {node} cut for {d}ms")));
                self.schedule(d, Ev::HealCut { node: n as u8, link: l as u8 });
            }
            Fault::PowerLoss => {
                if self.servers[n].supply {
                    let d = self.rng.range(1_000, 20_000);
                    self.trace.push(self.now, Entry::Fault(format!("{node}'s supply fails for {d}ms")));
                    self.set_supply(n, false);
                    self.schedule(d, Ev::HealSupply { node: n as u8 });
                }
            }
            Fault::Hang => {
                let s = &mut self.servers[n];
                if s.powered() && s.agent.is_some() && !s.hung {
                    s.hung = true;
                    let d = self.rng.range(deadtime / 2, 4 * deadtime);
                    self.trace.push(self.now, Entry::Fault(format!("{node} hangs for {d}ms (keeps its resources)")));
                    self.schedule(d, Ev::HealHang { node: n as u8 });
                }
            }
            Fault::Crash => {
                let s = &mut self.servers[n];
                if s.agent.is_some() && !s.hung {
                    s.agent = None;
                    s.deferred.clear();
                    let epoch = s.power_epoch;
                    let d = self.rng.range(200, 3_000);
                    self.trace.push(self.now, Entry::Fault(format!("{node}'s agent crashes; restarted in {d}ms")));
                    self.schedule(d, Ev::AgentStart { node: n as u8, power_epoch: epoch });
                }
            }
            Fault::ServiceDeath => {
                let s = &mut self.servers[n];
                let held: Vec<usize> = (0..s.groups()).filter(|g| s.holds_fully(GroupId(*g as u8))).collect();
                if !held.is_empty() {
                    let g = held[self.rng.index(held.len())];
                    let r = self.rng.index(s.resources(g));
                    s.set_active(g, r, false);
                    self.trace.push(self.now, Entry::Fault(format!("{node}: group{g} resource {r} dies")));
                }
            }
            Fault::SenseStuck => {
                let d = self.rng.range(1_000, 10_000);
                self.servers[n].sense_stuck_until = self.now + d;
                self.trace.push(self.now, Entry::Fault(format!("{node}'s sense input stuck for {d}ms")));
                self.schedule(d, Ev::HealSense { node: n as u8 });
            }
            Fault::ControllerReset => {
                if self.controller.take().is_some() {
                    let d = self.rng.range(100, 5_000);
                    self.trace.push(self.now, Entry::Fault(format!("controller resets; boots in {d}ms")));
                    if self.sc.relays_close_on_reset {
                        for m in 0..self.servers.len() {
                            self.set_relay(m, true);
                        }
                    }
                    self.schedule(d, Ev::ControllerBoot);
                }
            }
            Fault::PingLoss => {
                let d = self.rng.range(2_000, 30_000);
                self.servers[n].ping_lost_until = self.now + d;
                self.trace.push(self.now, Entry::Fault(format!("{node}'s ping nodes unreachable for {d}ms")));
                self.feed_net_score(n);
                self.schedule(d, Ev::HealPing { node: n as u8 });
            }
            Fault::Operator => self.random_request(),
            Fault::StoreFailure => {
                let d = self.rng.range(500, 3 * deadtime);
                self.store_fails_until = self.now + d;
                self.trace.push(self.now, Entry::Fault(format!("the fence store fails every write for {d}ms")));
            }
            Fault::SlowStore => {
                let d = self.rng.range(1_000, 10_000);
                self.store_slow_until = self.now + d;
                self.trace.push(self.now, Entry::Fault(format!("the fence store is slow for {d}ms")));
            }
            Fault::LinkStall => {
                let l = self.rng.index(self.servers[n].links.len());
                let d = self.rng.range(500, 3 * deadtime);
                self.servers[n].links[l].stalled_until = self.now + d;
                self.trace.push(self.now, Entry::Fault(format!("the driver of link {l} of {node} stalls for {d}ms")));
                self.tell_link(self.link_index(n, l), LinkProgress::Stalled);
                self.schedule(d, Ev::HealStall { node: n as u8, link: l as u8 });
            }
            Fault::Loss | Fault::Delay | Fault::Duplicate | Fault::Corrupt | Fault::StepFailure => {}
            Fault::StuckRelease | Fault::RelayIgnore => {}
        }
    }

    fn feed_net_score(&mut self, n: usize) {
        let score = self.net_score(n);
        let now = self.instant();
        let s = &mut self.servers[n];
        if s.hung {
            return;
        }
        if let Some(agent) = s.agent.as_mut() {
            agent.handle_net_score(now, score);
        }
        self.drain_agent(n);
    }

    fn unhang(&mut self, n: usize) {
        let s = &mut self.servers[n];
        if !s.hung {
            return;
        }
        s.hung = false;
        self.trace.push(self.now, Entry::Fault(format!("node{n} resumes")));
        let now = self.instant();
        let deferred = std::mem::take(&mut self.servers[n].deferred);
        if let Some(agent) = self.servers[n].agent.as_mut() {
            for (step, result) in deferred {
                agent.handle_step(now, step, result);
            }
            agent.handle_timeout(now);
        }
        self.drain_agent(n);
        self.feed_net_score(n);
    }

    fn random_request(&mut self) {
        let nodes = self.servers.len();
        let n = NodeId(self.rng.index(nodes) as u8);
        let op = match self.rng.range(0, 6) {
            6 => Op::Describe,
            0 | 1 => {
                let g = self.rng.index(self.sc.groups.len());
                let eligible = &self.sc.groups[g].eligible;
                let to = eligible[self.rng.index(eligible.len())];
                Op::Migrate { group: GroupId(g as u8), node: to }
            }
            2 => Op::Standby { node: n },
            3 => Op::Online { node: n },
            4 => Op::Fence { node: n },
            _ => Op::Unfence { node: n },
        };
        // Relayed by a connected agent when there is one, else on the console.
        let via = self.rng.index(nodes);
        let now = self.instant();
        let s = &mut self.servers[via];
        if !s.hung {
            if let Some(agent) = s.agent.as_mut() {
                if let Ok(id) = agent.request(now, op) {
                    self.trace.push(self.now, Entry::Operator(format!("{op:?} (relayed by node{via})")));
                    self.note_unfence(op);
                    self.requests.insert((via as u8, id), op);
                    self.drain_agent(via);
                    return;
                }
            }
        }
        self.console(op);
    }

    fn note_unfence(&mut self, op: Op) {
        if let Op::Unfence { node } = op {
            if let Some(asked) = self.unfence_asked.get_mut(node.index()) {
                *asked = true;
            }
        }
    }

    fn console(&mut self, op: Op) {
        self.trace.push(self.now, Entry::Operator(format!("{op:?} on the console")));
        self.note_unfence(op);
        let now = self.instant();
        let Some(c) = self.controller.as_mut() else {
            self.trace.push(self.now, Entry::Operator("no controller to ask".into()));
            return;
        };
        let outcome = c.handle_request(now, op);
        self.drain_controller();
        self.answered(op, outcome);
    }

    fn answered(&mut self, op: Op, outcome: Result<(), warden_core::wire::Refusal>) {
        if let (Op::Unfence { node }, Err(_)) = (op, outcome) {
            if let Some(asked) = self.unfence_asked.get_mut(node.index()) {
                *asked = false;
            }
        }
        self.trace.push(self.now, Entry::Answer(op, outcome));
    }

    /// The faults stop: links heal, supplies and sense inputs come back,
    /// hung servers resume, and the operator admits fenced nodes back.
    fn repair(&mut self) {
        self.repaired = true;
        self.trace.push(self.now, Entry::Fault("faults stop; everything is repaired".into()));
        self.store_fails_until = 0;
        self.store_slow_until = 0;
        for n in 0..self.servers.len() {
            for (l, link) in self.servers[n].links.iter_mut().enumerate() {
                link.cut_until = 0;
                if link.stalled_until != 0 {
                    link.stalled_until = 0;
                    let i = n * usize::from(self.sc.links) + l;
                    if let Some(c) = self.controller.as_mut() {
                        c.handle_link(Instant(self.now), i, LinkProgress::Moved);
                    }
                }
            }
            self.servers[n].ping_lost_until = 0;
            self.servers[n].sense_stuck_until = 0;
            self.unhang(n);
            self.set_supply(n, true);
            self.sense(n);
            self.feed_net_score(n);
        }
        self.sweep();
        self.schedule(5_000, Ev::Sweep);
    }

    /// An attentive operator: fenced nodes, and dead ones sensed off, are
    /// admitted back; standby ones are put online.
    fn sweep(&mut self) {
        let Some(c) = self.controller.as_ref() else { return };
        let mut ops = Vec::new();
        for n in 0..self.servers.len() {
            let node = NodeId(n as u8);
            if let Some(v) = c.node(node) {
                if v.life == Life::Fenced || (v.life == Life::Dead && v.powered == Some(false)) {
                    ops.push(Op::Unfence { node });
                }
                if v.standby {
                    ops.push(Op::Online { node });
                }
            }
        }
        for op in ops {
            self.console(op);
        }
    }

    // -----------------------------------------------------------------
    // Checks.

    fn violate(&mut self, what: String) {
        if self.violation.is_none() {
            self.trace.push(self.now, Entry::Violation(what.clone()));
            self.violation = Some((self.now, what));
        }
        self.done = true;
    }

    fn observe_alarm(&mut self, e: Event) {
        match e {
            Event::Releasing { group, from, .. } => {
                if let Some(f) = self.last_from.get_mut(group.index()) {
                    *f = Some(from);
                }
            }
            Event::Placed { group, to, reason } => {
                let g = group.index();
                let counted = !matches!(reason, MoveReason::Operator | MoveReason::Placement)
                    && self.last_from.get(g).copied().flatten() != Some(to);
                if let Some(f) = self.last_from.get_mut(g) {
                    *f = None;
                }
                if !counted {
                    return;
                }
                let window = self.sc.timing.move_window.0;
                let limit = usize::from(self.sc.timing.max_moves).min(8);
                let now = self.now;
                let Some(moves) = self.moves.get_mut(g) else { return };
                moves.push_back(now);
                while moves.front().is_some_and(|t| now >= t + window) {
                    moves.pop_front();
                }
                if moves.len() > limit {
                    let n = moves.len();
                    self.violate(format!(
                        "{group} moved {n} times within {window}ms, at most {limit} allowed (rule 6, no ping-pong)"
                    ));
                }
            }
            _ => {}
        }
    }

    fn check(&mut self) {
        // Rule 1: exclusivity, against what is really active.
        let mut seen = GroupSet::EMPTY;
        let mut twice = GroupSet::EMPTY;
        for s in &self.servers {
            let held = s.held();
            twice = twice.union(seen.intersection(held));
            seen = seen.union(held);
        }
        if !twice.is_empty() {
            // The lowest such group.
            let group = GroupId(twice.0.trailing_zeros() as u8);
            let names: Vec<String> =
                (0..self.servers.len()).filter(|n| self.servers[*n].holds(group)).map(|n| format!("node{n}")).collect();
            self.violate(format!("{group} is active on {} at once (rule 1, exclusivity)", names.join(" and ")));
            return;
        }
        // Rule 3: a fenced node with power is commanded off as soon as the
        // controller can know it: at once while its sense input follows the
        // relay (a stuck one hides it; then its messages give it away, see
        // `controller_hears`).
        for n in 0..self.servers.len() {
            let s = &self.servers[n];
            let exposed = self.store[n] && s.powered() && self.controller.is_some() && self.now >= s.sense_stuck_until;
            if !exposed {
                self.fenced_powered_since[n] = None;
                continue;
            }
            // The controller retries "off" every fence_timeout until the
            // sense confirms, so the last command may be that old.
            let since = *self.fenced_powered_since[n].get_or_insert(self.now);
            let reference = self.last_off_command[n].map_or(since, |t| t.max(since));
            let limit = self.sc.sense_latency + self.sc.timing.keepalive.0 + 1;
            if self.now > reference + self.sc.timing.fence_timeout.0 + limit {
                self.violate(format!(
                    "node{n} is fenced but has had power for {}ms, the last {}ms without a command to switch it off \
                     (rule 3, stay down)",
                    self.now - since,
                    self.now - reference
                ));
                return;
            }
        }
        if self.repaired && !self.done {
            self.check_liveness();
        }
    }

    fn check_liveness(&mut self) {
        if self.all_held() {
            let since = *self.live_since.get_or_insert(self.now);
            if self.now >= since + 3 * self.sc.timing.keepalive.0 {
                self.recovered_after = Some(since.saturating_sub(self.sc.fault_until));
                self.done = true;
            }
        } else {
            self.live_since = None;
        }
    }

    /// Every group fully active on exactly one powered server, the one the
    /// controller placed it on.
    fn all_held(&self) -> bool {
        let Some(c) = self.controller.as_ref() else { return false };
        (0..self.sc.groups.len()).all(|g| {
            let group = GroupId(g as u8);
            let placed = c.group(group).and_then(|v| v.placed_on);
            let mut holders = (0..self.servers.len()).filter(|n| self.servers[*n].holds(group));
            match (holders.next(), holders.next(), placed) {
                (Some(h), None, Some(p)) => h == p.index() && self.servers[h].holds_fully(group),
                _ => false,
            }
        })
    }

    fn unheld_groups(&self) -> String {
        let mut parts = Vec::new();
        for g in 0..self.sc.groups.len() {
            let group = GroupId(g as u8);
            let holders: Vec<String> = (0..self.servers.len())
                .filter(|n| self.servers[*n].holds(group))
                .map(|n| format!("node{n}{}", if self.servers[n].holds_fully(group) { "" } else { " (partly)" }))
                .collect();
            let placed = self.controller.as_ref().and_then(|c| c.group(group)).and_then(|v| v.placed_on);
            parts.push(format!(
                "{group}: placed on {}, held by [{}]",
                placed.map_or("nothing".to_string(), |p| p.to_string()),
                holders.join(", ")
            ));
        }
        let nodes: Vec<String> = (0..self.servers.len())
            .map(|n| {
                let life = self.controller.as_ref().and_then(|c| c.node(NodeId(n as u8))).map(|v| v.life);
                format!("node{n}: {life:?}, powered {}", self.servers[n].powered())
            })
            .collect();
        format!(
            "not every group held {}ms after the faults stopped: {}; {}",
            self.sc.liveness_bound(),
            parts.join("; "),
            nodes.join("; ")
        )
    }
}
