//! The event loop of one simulated run: the real controller and the real
//! agents, simulated links, relays with sense inputs and a world of
//! resources, on virtual time that jumps to the next event or timer.
//!
//! This module holds the run's state, its clock and the dispatch of each
//! event. What an event does lives with the part of the cluster it
//! concerns, each adding to [`Sim`]: the controller's board (`controller`),
//! the agents (`agents`), the links (`delivery`), relays and sense inputs
//! (`power`), the world carrying out steps (`steps`), faults and their
//! repair (`faults`), the operator (`operator`), and the checks after every
//! event (`safety`, `liveness`).

mod agents;
mod controller;
mod delivery;
mod faults;
mod liveness;
mod operator;
mod power;
mod safety;
mod steps;

use std::collections::{HashMap, VecDeque};

use warden_agent_proto::{Agent, Step};
use warden_core::controller::{Controller, FenceRecord};
use warden_core::wire::{Auth, Key, Op};
use warden_core::{Instant, NodeId};

use self::delivery::Payload;
use super::agenda::Agenda;
use super::plan::{Fault, Plan};
use super::rng::Rng;
use super::trace::{Entry, Trace};
use super::world::Server;

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
    /// The plan that ran.
    pub plan: Plan,
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
    sc: Plan,
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
    /// A run of `sc`, with faults as the plan switches them on.
    #[must_use]
    pub fn new(sc: Plan, options: RunOptions) -> Self {
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
            plan: self.sc,
        }
    }

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
                self.trace.push(self.now, Entry::Fault(format!("the driver of link {link} of node{node} moves again")));
                self.unstall(usize::from(node), usize::from(link));
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
}
