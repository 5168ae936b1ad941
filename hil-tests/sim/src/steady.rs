//! Steady-state traffic, recorded from the cluster of a [`Plan`] run in
//! one process: the real controller and real agents over links that lose
//! nothing and take no time, on a world that carries out every step at
//! once. The benchmarks replay what it records into copies of the recorded
//! starting state.

use std::collections::{BTreeSet, VecDeque};

use warden_agent_proto::{Action, Agent, AgentOutput, Presence, Step, StepResult};
use warden_core::controller::{Boot, Controller, Output};
use warden_core::wire::Message;
use warden_core::{Duration, GroupId, Instant, NodeId, MAX_NODES};

use super::plan::Plan;

/// An input to the controller.
#[derive(Debug, Clone, Copy)]
pub enum ControllerInput {
    /// A message from a node.
    Message(NodeId, Message),
    /// Its timer ran out.
    Timeout,
}

impl ControllerInput {
    /// Hands the input to `controller` at `now`.
    pub fn apply(self, controller: &mut Controller, now: Instant) {
        match self {
            Self::Message(node, m) => controller.handle_message(now, node, m),
            Self::Timeout => controller.handle_timeout(now),
        }
    }
}

/// An input to an agent.
#[derive(Debug, Clone, Copy)]
pub enum AgentInput {
    /// A message from the controller.
    Message(Message),
    /// Its timer ran out.
    Timeout,
    /// A step ended; the resource is now present or not.
    Step(Step, Presence),
}

impl AgentInput {
    /// Hands the input to `agent` at `now`.
    pub fn apply(self, agent: &mut Agent, now: Instant) {
        match self {
            Self::Message(m) => agent.handle_message(now, m),
            Self::Timeout => agent.handle_timeout(now),
            Self::Step(step, present) => {
                let result = match step.action {
                    Action::Start | Action::Stop => StepResult::Done,
                    Action::Probe => StepResult::Present(present),
                    Action::Monitor if present == Presence::Active => StepResult::Healthy,
                    Action::Monitor => StepResult::Unhealthy,
                };
                agent.handle_step(now, step, result);
            }
        }
    }
}

/// A recorded stretch of steady state: the starting states and every input
/// the controller and the agent of node 0 received, with its time.
#[derive(Debug, Clone)]
pub struct Recording {
    /// The controller when the recording began.
    pub controller: Controller,
    /// What the controller received, in order.
    pub controller_inputs: Vec<(Instant, ControllerInput)>,
    /// The agent of node 0 when the recording began.
    pub agent: Agent,
    /// What that agent received, in order.
    pub agent_inputs: Vec<(Instant, AgentInput)>,
}

impl Recording {
    /// Runs the cluster of `sc` past initdead and placement, checks that
    /// every group is placed on its home and active there, then records
    /// `secs` of steady state.
    ///
    /// # Errors
    ///
    /// The configuration was refused, or the cluster did not settle with
    /// every group at home.
    pub fn record(sc: &Plan, secs: u64) -> Result<Self, String> {
        let mut cluster = Cluster::new(sc)?;
        let warm = sc.timing.initdead.as_millis() * 2;
        cluster.run_until(Instant(warm));
        for (g, spec) in sc.groups.iter().enumerate() {
            let group = GroupId(g as u8);
            let placed = cluster.controller.group(group).and_then(|v| v.placed_on);
            let Some(home) = spec.eligible.first().copied() else {
                return Err(format!("{group} has no eligible node, so no home"));
            };
            if placed != Some(home) || !cluster.active[home.index()].contains(&(group.0, 0)) {
                return Err(format!(
                    "{}-node cluster did not reach steady state: {group} placed on {placed:?}, expected {home}",
                    sc.nodes
                ));
            }
        }
        let controller = cluster.controller.clone();
        let agent = cluster.agents[0].clone();
        cluster.recording = true;
        cluster.run_until(Instant(warm + secs * 1000));
        Ok(Self { controller, controller_inputs: cluster.controller_inputs, agent, agent_inputs: cluster.agent_inputs })
    }
}

/// The cluster in one process, and what it recorded so far.
struct Cluster {
    now: Instant,
    controller: Controller,
    agents: Vec<Agent>,
    /// Active (group, resource) pairs per node.
    active: Vec<BTreeSet<(u8, u8)>>,
    to_agent: VecDeque<(usize, Message)>,
    to_controller: VecDeque<(usize, Message)>,
    steps: VecDeque<(usize, Step)>,
    recording: bool,
    controller_inputs: Vec<(Instant, ControllerInput)>,
    agent_inputs: Vec<(Instant, AgentInput)>,
}

impl Cluster {
    fn new(sc: &Plan) -> Result<Self, String> {
        let now = Instant::ZERO;
        let boot = Boot { now, seed: 7, fenced: [false; MAX_NODES], powered: [Some(true); MAX_NODES] };
        let controller = Controller::new(sc.cluster_config(), boot)
            .map_err(|e| format!("the benchmark cluster's configuration was refused: {e}"))?;
        let mut cluster = Self {
            now,
            controller,
            agents: (0..sc.nodes)
                .map(|n| Agent::new(sc.agent_config(NodeId(n)), now, 1000 * (u64::from(n) + 1)))
                .collect::<Result<_, _>>()
                .map_err(|e| format!("the benchmark agent's configuration was refused: {e}"))?,
            active: vec![BTreeSet::new(); usize::from(sc.nodes)],
            to_agent: VecDeque::new(),
            to_controller: VecDeque::new(),
            steps: VecDeque::new(),
            recording: false,
            controller_inputs: Vec::new(),
            agent_inputs: Vec::new(),
        };
        cluster.drain_controller();
        for n in 0..cluster.agents.len() {
            cluster.drain_agent(n);
        }
        Ok(cluster)
    }

    fn drain_controller(&mut self) {
        while let Some(out) = self.controller.poll_output() {
            if let Output::Send { node, message } = out {
                self.to_agent.push_back((node.index(), message));
            }
        }
    }

    fn drain_agent(&mut self, n: usize) {
        while let Some(out) = self.agents[n].poll_output() {
            match out {
                AgentOutput::Send(m) => self.to_controller.push_back((n, m)),
                AgentOutput::Step(step) => self.steps.push_back((n, step)),
                AgentOutput::Event(_)
                | AgentOutput::Reply { .. }
                | AgentOutput::Summary(_)
                | AgentOutput::History(_)
                | AgentOutput::Counters(_) => {}
            }
        }
    }

    fn controller_input(&mut self, input: ControllerInput) {
        if self.recording {
            self.controller_inputs.push((self.now, input));
        }
        input.apply(&mut self.controller, self.now);
        self.drain_controller();
    }

    fn agent_input(&mut self, n: usize, input: AgentInput) {
        if self.recording && n == 0 {
            self.agent_inputs.push((self.now, input));
        }
        input.apply(&mut self.agents[n], self.now);
        self.drain_agent(n);
    }

    /// Delivers everything in flight until the cluster is quiet at `now`.
    fn settle(&mut self) {
        loop {
            if let Some((n, m)) = self.to_controller.pop_front() {
                self.controller_input(ControllerInput::Message(NodeId(n as u8), m));
            } else if let Some((n, m)) = self.to_agent.pop_front() {
                self.agent_input(n, AgentInput::Message(m));
            } else if let Some((n, step)) = self.steps.pop_front() {
                let present = self.world_step(n, step);
                self.agent_input(n, AgentInput::Step(step, present));
            } else {
                return;
            }
        }
    }

    /// The world does `step` on node `n`; returns what a probe would see.
    fn world_step(&mut self, n: usize, step: Step) -> Presence {
        let active = &mut self.active[n];
        let key = (step.group.0, step.resource);
        match step.action {
            Action::Start => {
                active.insert(key);
            }
            Action::Stop => {
                active.remove(&key);
            }
            Action::Probe | Action::Monitor => {}
        }
        if active.contains(&key) {
            Presence::Active
        } else {
            Presence::Inactive
        }
    }

    /// Runs every timer due at the next deadline, then settles.
    fn tick(&mut self) {
        let next = std::iter::once(self.controller.poll_timeout())
            .chain(self.agents.iter().map(Agent::poll_timeout))
            .flatten()
            .min()
            .unwrap_or(self.now.saturating_add(Duration::from_secs(1)));
        self.now = self.now.max(next);
        if self.controller.poll_timeout().is_some_and(|t| t <= self.now) {
            self.controller_input(ControllerInput::Timeout);
        }
        for n in 0..self.agents.len() {
            if self.agents[n].poll_timeout().is_some_and(|t| t <= self.now) {
                self.agent_input(n, AgentInput::Timeout);
            }
        }
        self.settle();
    }

    fn run_until(&mut self, until: Instant) {
        self.settle();
        while self.now < until {
            self.tick();
        }
    }
}
