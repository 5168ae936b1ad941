//! `warden-bench`: how much a controller step, an agent step and a frame
//! cost, and how fast the simulator runs. Prints a table (or JSON).
//!
//! ```text
//! warden-bench [--quick] [--json]
//! ```
//!
//! Method: steady-state traffic is recorded once from a small in-process
//! cluster (real controller, real agents, resource steps answered at once);
//! then the recorded inputs are replayed into clones of the recorded
//! starting state. A batch replays the whole trace under one timer; the
//! figure is the median of the batch means. A separate pass times every
//! event alone for the p99 (that pass includes the timer's own cost, tens of
//! nanoseconds). Nothing here asserts on timing.

use std::collections::{BTreeSet, VecDeque};
use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant as WallClock;

use warden_agent_proto::Presence;
use warden_agent_proto::{Action, Agent, AgentConfig, AgentOutput, GroupShape, Step, StepResult};
use warden_core::controller::{Boot, ClusterConfig, Controller, GroupConfig, Output, Timing};
use warden_core::wire::{encode, Auth, Body, Decoder, Header, Key, Message, Status, MAX_FRAME};
use warden_core::{Duration, GroupId, GroupSet, Instant, NodeId, MAX_NODES};
use warden_sim::{Faults, GroupSpec, RunOptions, Scenario, Scripted, Sim};

/// How long each measurement runs.
#[derive(Debug, Clone, Copy)]
struct Effort {
    /// Timed batches per measurement (the median is taken over them).
    batches: usize,
    /// Passes that time each event alone (for the p99).
    single_passes: usize,
    /// Simulated seconds of steady state recorded for replay.
    record_secs: u64,
    /// Frames per batch.
    frames_per_batch: usize,
    /// Simulator seeds run.
    sim_seeds: u64,
}

impl Effort {
    const FULL: Self = Self { batches: 41, single_passes: 5, record_secs: 600, frames_per_batch: 2000, sim_seeds: 20 };
    const QUICK: Self = Self { batches: 9, single_passes: 1, record_secs: 60, frames_per_batch: 300, sim_seeds: 3 };
}

/// One line of the table.
struct Row {
    name: String,
    unit: &'static str,
    median: f64,
    p99: Option<f64>,
    samples: usize,
}

fn main() -> ExitCode {
    let mut quick = false;
    let mut json = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--quick" => quick = true,
            "--json" => json = true,
            "-h" | "--help" => {
                println!("usage: warden-bench [--quick] [--json]");
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("warden-bench: unknown argument `{other}` (expected --quick or --json)");
                return ExitCode::from(2);
            }
        }
    }
    let effort = if quick { Effort::QUICK } else { Effort::FULL };
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);

    let mut rows = Vec::new();
    for (nodes, groups) in [(2u8, 1u8), (8, 32)] {
        let trace = match Trace::record(nodes, groups, effort.record_secs) {
            Ok(trace) => trace,
            Err(e) => {
                eprintln!("warden-bench: {e}");
                return ExitCode::FAILURE;
            }
        };
        rows.push(trace.controller_row(effort));
        rows.push(trace.agent_row(effort));
    }
    for (name, auth) in [("HMAC-SHA256/16", hmac_auth()), ("CRC-32C", Auth::Crc)] {
        match frame_row(name, &auth, effort) {
            Ok(row) => rows.push(row),
            Err(e) => {
                eprintln!("warden-bench: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    rows.push(sim_row(effort));

    if json {
        print_json(cores, quick, &rows);
    } else {
        print_table(cores, quick, &rows);
    }
    ExitCode::SUCCESS
}

fn hmac_auth() -> Auth {
    // A 32-byte key is always within 1..=64 bytes.
    Auth::Hmac(Key::new(&[0x5a; 32]).unwrap_or_else(|e| panic!("a 32-byte key is valid: {e:?}")))
}

// ---------------------------------------------------------------------------
// Recording steady-state traffic from a small in-process cluster.

/// An input to the controller.
#[derive(Clone, Copy)]
enum ControllerInput {
    Message(NodeId, Message),
    Timeout,
}

/// An input to an agent.
#[derive(Clone, Copy)]
enum AgentInput {
    Message(Message),
    Timeout,
    Step(Step, Presence),
}

/// A recorded stretch of steady state: the starting states and every input
/// the controller and agent 0 received, with its time.
struct Trace {
    nodes: u8,
    groups: u8,
    controller: Controller,
    controller_inputs: Vec<(Instant, ControllerInput)>,
    agent: Agent,
    agent_inputs: Vec<(Instant, AgentInput)>,
}

/// A cluster in one process: links without loss, a world that does every
/// step at once.
struct Rig {
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

fn cluster_config(nodes: u8, groups: u8) -> ClusterConfig {
    let mut config =
        ClusterConfig { nodes, groups: heapless::Vec::new(), timing: Timing::DEFAULT, fence_idle_dead: false };
    for g in 0..groups {
        let mut eligible = heapless::Vec::new();
        // Home rotates so every node holds some groups.
        for k in 0..nodes {
            let _ = eligible.push(NodeId((g + k) % nodes));
        }
        let _ = config.groups.push(GroupConfig { eligible, auto_failback: true });
    }
    config
}

fn agent_config(node: u8, groups: u8) -> AgentConfig {
    AgentConfig {
        node: NodeId(node),
        groups: (0..groups).map(|_| GroupShape { resources: 2, max_restarts: 3 }).collect(),
        keepalive: Duration::from_secs(1),
        controller_silence: Duration::from_secs(10),
        monitor_interval: Duration::from_secs(2),
        probe_interval: Duration::from_secs(30),
        restart_window: Duration::from_secs(300),
        step_timeout: Duration::from_secs(120),
    }
}

impl Rig {
    fn new(nodes: u8, groups: u8) -> Result<Self, String> {
        let now = Instant::ZERO;
        let boot = Boot { now, seed: 7, fenced: [false; MAX_NODES], powered: [Some(true); MAX_NODES] };
        let controller = Controller::new(cluster_config(nodes, groups), boot)
            .map_err(|e| format!("the benchmark cluster's configuration was refused: {e}"))?;
        let mut rig = Self {
            now,
            controller,
            agents: (0..nodes)
                .map(|n| Agent::new(agent_config(n, groups), now, 1000 * (u64::from(n) + 1)))
                .collect::<Result<_, _>>()
                .map_err(|e| format!("the benchmark agent's configuration was refused: {e}"))?,
            active: vec![BTreeSet::new(); usize::from(nodes)],
            to_agent: VecDeque::new(),
            to_controller: VecDeque::new(),
            steps: VecDeque::new(),
            recording: false,
            controller_inputs: Vec::new(),
            agent_inputs: Vec::new(),
        };
        rig.drain_controller();
        for n in 0..rig.agents.len() {
            rig.drain_agent(n);
        }
        Ok(rig)
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
                AgentOutput::Event(_) | AgentOutput::Reply { .. } | AgentOutput::Summary(_) => {}
            }
        }
    }

    fn controller_input(&mut self, input: ControllerInput) {
        if self.recording {
            self.controller_inputs.push((self.now, input));
        }
        match input {
            ControllerInput::Message(link, m) => self.controller.handle_message(self.now, link, m),
            ControllerInput::Timeout => self.controller.handle_timeout(self.now),
        }
        self.drain_controller();
    }

    fn agent_input(&mut self, n: usize, input: AgentInput) {
        if self.recording && n == 0 {
            self.agent_inputs.push((self.now, input));
        }
        apply_agent(&mut self.agents[n], self.now, input);
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

fn apply_agent(agent: &mut Agent, now: Instant, input: AgentInput) {
    match input {
        AgentInput::Message(m) => agent.handle_message(now, m),
        AgentInput::Timeout => agent.handle_timeout(now),
        AgentInput::Step(step, present) => {
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

impl Trace {
    /// Runs a cluster past initdead and placement, checks every group is
    /// placed and held by its home, then records `secs` of steady state.
    fn record(nodes: u8, groups: u8, secs: u64) -> Result<Self, String> {
        let mut rig = Rig::new(nodes, groups)?;
        let warm = Timing::DEFAULT.initdead.as_millis() * 2;
        rig.run_until(Instant(warm));
        for g in (0..groups).map(GroupId) {
            let placed = rig.controller.group(g).and_then(|v| v.placed_on);
            let home = NodeId(g.0 % nodes);
            if placed != Some(home) || !rig.active[home.index()].contains(&(g.0, 0)) {
                return Err(format!(
                    "{nodes}-node cluster did not reach steady state: {g} placed on {placed:?}, expected {home}"
                ));
            }
        }
        let controller = rig.controller.clone();
        let agent = rig.agents[0].clone();
        rig.recording = true;
        rig.run_until(Instant(warm + secs * 1000));
        Ok(Self {
            nodes,
            groups,
            controller,
            controller_inputs: rig.controller_inputs,
            agent,
            agent_inputs: rig.agent_inputs,
        })
    }

    fn replay_controller(&self, controller: &mut Controller, input: &(Instant, ControllerInput)) {
        let (now, input) = *input;
        match input {
            ControllerInput::Message(link, m) => controller.handle_message(now, link, m),
            ControllerInput::Timeout => controller.handle_timeout(now),
        }
        while let Some(out) = controller.poll_output() {
            black_box(out);
        }
    }

    fn controller_row(&self, effort: Effort) -> Row {
        let inputs = &self.controller_inputs;
        let stats = measure(
            effort,
            inputs.len(),
            || self.controller.clone(),
            |c, i| {
                self.replay_controller(c, &inputs[i]);
            },
        );
        Row {
            name: format!("controller step, {} nodes / {} groups", self.nodes, self.groups),
            unit: "ns/event",
            median: stats.0,
            p99: Some(stats.1),
            samples: inputs.len(),
        }
    }

    fn agent_row(&self, effort: Effort) -> Row {
        let inputs = &self.agent_inputs;
        let stats = measure(
            effort,
            inputs.len(),
            || self.agent.clone(),
            |a, i| {
                let (now, input) = inputs[i];
                apply_agent(a, now, input);
                while let Some(out) = a.poll_output() {
                    black_box(out);
                }
            },
        );
        Row {
            name: format!("agent step, {} groups", self.groups),
            unit: "ns/event",
            median: stats.0,
            p99: Some(stats.1),
            samples: inputs.len(),
        }
    }
}

/// Replays `events` inputs into fresh copies of a starting state: returns
/// (median of batch means, p99 of single events), in nanoseconds.
fn measure<S>(effort: Effort, events: usize, start: impl Fn() -> S, mut step: impl FnMut(&mut S, usize)) -> (f64, f64) {
    if events == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mut means = Vec::with_capacity(effort.batches);
    for _ in 0..effort.batches {
        let mut state = start();
        let t = WallClock::now();
        for i in 0..events {
            step(&mut state, i);
        }
        means.push(t.elapsed().as_nanos() as f64 / events as f64);
        black_box(&state);
    }
    let mut singles = Vec::with_capacity(events * effort.single_passes);
    for _ in 0..effort.single_passes {
        let mut state = start();
        for i in 0..events {
            let t = WallClock::now();
            step(&mut state, i);
            singles.push(t.elapsed().as_nanos() as f64);
        }
        black_box(&state);
    }
    (percentile(&mut means, 50.0), percentile(&mut singles, 99.0))
}

fn percentile(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * (values.len() - 1) as f64).round() as usize;
    values[rank.min(values.len() - 1)]
}

// ---------------------------------------------------------------------------
// Frames.

fn status_message() -> Message {
    let holds: GroupSet = [GroupId(0), GroupId(3), GroupId(17)].into_iter().collect();
    Message {
        header: Header { node: NodeId(3), nonce: 0x1234_5678_9abc_def1, echo: 0x0fed_cba9_8765_4321, seq: 123_456 },
        body: Body::Status(Status {
            applied: 123_400,
            holds,
            busy: GroupSet::EMPTY,
            healthy: holds,
            failing: GroupSet::EMPTY,
            stuck: GroupSet::EMPTY,
            net_score: 3,
        }),
    }
}

/// Encode, decode and verify one Status frame, per frame.
fn frame_row(name: &str, auth: &Auth, effort: Effort) -> Result<Row, String> {
    let message = status_message();
    let mut buf = [0u8; MAX_FRAME];
    let mut decoder = Decoder::new();
    // One round trip first: the benchmark must measure a frame that decodes.
    let len = encode(&message, auth, &mut buf).map_err(|e| format!("encoding a Status with {name} failed: {e:?}"))?;
    let mut back = None;
    decoder.feed(&buf[..len], auth, |r| back = Some(r));
    match back {
        Some(Ok(m)) if m == message => {}
        other => return Err(format!("a Status frame with {name} did not decode to itself: {other:?}")),
    }
    let round_trip = |decoder: &mut Decoder, buf: &mut [u8; MAX_FRAME]| {
        let len = encode(black_box(&message), auth, buf).unwrap_or(0);
        let mut good = false;
        decoder.feed(&buf[..len], auth, |r| good = r.is_ok());
        black_box(good);
    };
    let n = effort.frames_per_batch;
    let mut means = Vec::with_capacity(effort.batches);
    for _ in 0..effort.batches {
        let t = WallClock::now();
        for _ in 0..n {
            round_trip(&mut decoder, &mut buf);
        }
        means.push(t.elapsed().as_nanos() as f64 / n as f64);
    }
    let mut singles = Vec::with_capacity(n * effort.single_passes);
    for _ in 0..effort.single_passes {
        for _ in 0..n {
            let t = WallClock::now();
            round_trip(&mut decoder, &mut buf);
            singles.push(t.elapsed().as_nanos() as f64);
        }
    }
    Ok(Row {
        name: format!("Status frame encode+decode+verify, {name} ({len} B)"),
        unit: "ns/frame",
        median: percentile(&mut means, 50.0),
        p99: Some(percentile(&mut singles, 99.0)),
        samples: n * effort.batches,
    })
}

// ---------------------------------------------------------------------------
// Simulator speed.

fn sim_row(effort: Effort) -> Row {
    // A quiet two-node cluster (keepalive 1 s, one group of two resources,
    // monitors every 10 s) for an hour of virtual time per run.
    let hour = 3_600_000;
    let mut rates = Vec::new();
    let mut steps = 0;
    for seed in 0..effort.sim_seeds {
        let mut sc = Scenario::from_seed(seed, Faults::NONE);
        sc.nodes = 2;
        sc.links = 1;
        sc.bytes = false;
        sc.groups = vec![GroupSpec { eligible: vec![NodeId(0), NodeId(1)], auto_failback: false, resources: 2 }];
        sc.timing = Timing::DEFAULT;
        sc.timing.initdead = Duration::from_secs(10);
        sc.fault_until = hour + 1;
        sc.controller_silence = Timing::DEFAULT.deadtime.as_millis();
        sc.monitor_interval = 10_000;
        sc.probe_interval = 60_000;
        let mut sim = Sim::new(sc, RunOptions { keep: 1, ..RunOptions::default() });
        sim.script(&[(hour, Scripted::End)]);
        let t = WallClock::now();
        let outcome = sim.run();
        let wall = t.elapsed().as_secs_f64();
        steps += outcome.steps as usize;
        if outcome.violation.is_some() || outcome.sim_ms < hour {
            eprintln!("warden-bench: the quiet simulated cluster did not run an hour cleanly: {:?}", outcome.violation);
            return Row {
                name: "simulator, 2 nodes".into(),
                unit: "sim-s/wall-s",
                median: f64::NAN,
                p99: None,
                samples: 0,
            };
        }
        rates.push(outcome.sim_ms as f64 / 1000.0 / wall);
    }
    Row {
        name: "simulator, 2 nodes / 1 group, quiet, one thread".into(),
        unit: "sim-s/wall-s",
        median: percentile(&mut rates, 50.0),
        p99: None,
        samples: steps,
    }
}

// ---------------------------------------------------------------------------
// Output.

fn fmt_value(v: f64) -> String {
    if v.is_nan() {
        "-".into()
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn print_table(cores: usize, quick: bool, rows: &[Row]) {
    println!("warden-bench: cores={cores} mode={}", if quick { "quick" } else { "full" });
    let header = ["measurement", "unit", "median", "p99", "samples"];
    let cells: Vec<[String; 5]> = rows
        .iter()
        .map(|r| {
            [
                r.name.clone(),
                r.unit.into(),
                fmt_value(r.median),
                r.p99.map_or("-".into(), fmt_value),
                r.samples.to_string(),
            ]
        })
        .collect();
    let mut width = header.map(str::len);
    for row in &cells {
        for (w, c) in width.iter_mut().zip(row) {
            *w = (*w).max(c.len());
        }
    }
    let line = |cols: [&str; 5]| {
        let mut s = String::from("|");
        for (i, (c, w)) in cols.iter().zip(width).enumerate() {
            // Names and units left, numbers right.
            if i < 2 {
                s.push_str(&format!(" {c:<w$} |"));
            } else {
                s.push_str(&format!(" {c:>w$} |"));
            }
        }
        s
    };
    println!("{}", line(header));
    let rule: Vec<String> = width.iter().map(|w| "-".repeat(*w)).collect();
    println!("{}", line([&rule[0], &rule[1], &rule[2], &rule[3], &rule[4]]));
    for row in &cells {
        println!("{}", line([&row[0], &row[1], &row[2], &row[3], &row[4]]));
    }
}

fn json_number(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.1}")
    } else {
        "null".into()
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn print_json(cores: usize, quick: bool, rows: &[Row]) {
    let rows: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{{\"name\":{},\"unit\":{},\"median\":{},\"p99\":{},\"samples\":{}}}",
                json_string(&r.name),
                json_string(r.unit),
                json_number(r.median),
                r.p99.map_or("null".into(), json_number),
                r.samples
            )
        })
        .collect();
    println!("{{\"cores\":{cores},\"quick\":{quick},\"rows\":[{}]}}", rows.join(","));
}
