//! `warden-rig campaign`: random faults on fresh clusters. Each run draws,
//! from its own seed, a cluster (two or three servers, as many groups,
//! each homed on its own server, an uplink with a ping node) and one or two
//! overlapping faults of random kind, server, time and length, from every
//! fault the rig can make. The cluster settles; the faults come and are
//! healed (a fenced server is unfenced, as an operator would); then every
//! group must be served again. Safety is watched all along by the
//! detectors (one address holder, one mount, per group) and the writers
//! (no acknowledged record lost).
//!
//! Run `i` of `--seed S` has seed `S + i`: `--runs 1 --seed S+i` with the
//! same controller replays it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use warden_sim::Rng;

use super::cluster::{Rig, RunRecord};
use super::config::FaultFlag;
use super::options::{ControllerKind, GroupSpec, Media, Options};
use crate::controller::console::ConsoleKind;
use crate::hardware::serial::LineFault;
use crate::watch::stats::{ms, Summary};
use crate::watch::timeline::{Happening, BOUND};
use crate::RigError;

/// A fault the campaign can inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// The server's own supply is cut (restored at the heal).
    PowerLoss,
    /// Its agent is killed.
    AgentKill,
    /// Every process of it stops (resumed at the heal, if still powered).
    HostHang,
    /// Its serial line is cut.
    SerialCut,
    /// Its serial line corrupts 2 % of the bytes.
    NoisyLine,
    /// Its serial line delays every byte by 30 ms.
    SlowLine,
    /// Its UDP link is cut (the Linux controller).
    UdpCut,
    /// Its serial line and UDP link are cut: partitioned from the
    /// controller, still serving (the Linux controller).
    Partition,
    /// Its uplink is cut (its ping node unreachable).
    UplinkCut,
    /// Its services answer their monitors wrongly.
    SickService,
    /// Its disk releases fail, and a group it holds is migrated away.
    StuckRelease,
    /// The controller is killed (started again at the heal).
    ControllerRestart,
    /// `wardenctl migrate` of a group it holds to another server.
    Migrate,
    /// `wardenctl standby` of it (`online` at the heal).
    Standby,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Self; 14] = [
        Self::PowerLoss,
        Self::AgentKill,
        Self::HostHang,
        Self::SerialCut,
        Self::NoisyLine,
        Self::SlowLine,
        Self::UdpCut,
        Self::Partition,
        Self::UplinkCut,
        Self::SickService,
        Self::StuckRelease,
        Self::ControllerRestart,
        Self::Migrate,
        Self::Standby,
    ];

    /// Its name in the table.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::PowerLoss => "power-loss",
            Self::AgentKill => "agent-kill",
            Self::HostHang => "host-hang",
            Self::SerialCut => "serial-cut",
            Self::NoisyLine => "noisy-line",
            Self::SlowLine => "slow-line",
            Self::UdpCut => "udp-cut",
            Self::Partition => "partition",
            Self::UplinkCut => "uplink-cut",
            Self::SickService => "sick-service",
            Self::StuckRelease => "stuck-release",
            Self::ControllerRestart => "controller-restart",
            Self::Migrate => "migrate",
            Self::Standby => "standby",
        }
    }

    const fn needs_udp(self) -> bool {
        matches!(self, Self::UdpCut | Self::Partition)
    }
}

/// One fault of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// What.
    pub kind: Kind,
    /// On which server (by index).
    pub node: usize,
    /// After the first fault's start.
    pub at: Duration,
    /// How long it lasts before the heal.
    pub hold: Duration,
}

/// What one run is: drawn from its seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunPlan {
    /// Its seed.
    pub seed: u64,
    /// Which controller.
    pub controller: ControllerKind,
    /// How many servers (as many groups).
    pub servers: usize,
    /// One or two faults, in order of start.
    pub faults: Vec<Fault>,
}

impl RunPlan {
    /// Draws the run of `seed` against `controller`, with `deadtime`.
    #[must_use]
    pub fn draw(seed: u64, controller: ControllerKind, deadtime: Duration) -> Self {
        let mut rng = Rng::new(seed);
        let servers = 2 + rng.index(2);
        let udp = controller == ControllerKind::Linux;
        let kinds: Vec<Kind> = Kind::ALL.into_iter().filter(|k| udp || !k.needs_udp()).collect();
        let count = 1 + usize::from(rng.chance(0.4));
        let dt = u64::try_from(deadtime.as_millis()).unwrap_or(1000).max(1);
        let mut faults = Vec::new();
        for i in 0..count {
            let kind = kinds[rng.index(kinds.len())];
            let at = if i == 0 { Duration::ZERO } else { Duration::from_millis(rng.range(0, 2 * dt)) };
            let hold = Duration::from_millis(rng.range(dt / 2, 3 * dt));
            faults.push(Fault { kind, node: rng.index(servers), at, hold });
        }
        Self { seed, controller, servers, faults }
    }

    /// The faults in words.
    #[must_use]
    pub fn describe(&self) -> String {
        self.faults
            .iter()
            .map(|f| {
                format!(
                    "{} on {} at +{} ms for {} ms",
                    f.kind.name(),
                    super::options::SERVER_NAMES.get(f.node).unwrap_or(&"?"),
                    f.at.as_millis(),
                    f.hold.as_millis()
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// How one run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutcome {
    /// What was run.
    pub plan: RunPlan,
    /// Two holders of an address or a mount, by group, as the detectors saw them.
    pub violations: Vec<String>,
    /// Acknowledged records missing from a disk.
    pub lost_writes: u64,
    /// Why the cluster did not serve every group again after the heal.
    pub liveness: Option<String>,
    /// The rig could not carry out what it had to (a power change).
    pub rig_errors: Vec<String>,
    /// The longest client-visible outage of any group from the fault on
    /// (`None`: the client saw no gap).
    pub outage: Option<Duration>,
    /// Controller alarms (reported, not failed: some faults call for one).
    pub alarms: u64,
}

impl RunOutcome {
    /// Whether nothing went wrong.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.violations.is_empty() && self.lost_writes == 0 && self.liveness.is_none() && self.rig_errors.is_empty()
    }

    /// As JSON.
    #[must_use]
    pub fn to_json(&self) -> Value {
        json!({
            "seed": self.plan.seed,
            "controller": self.plan.controller.name(),
            "servers": self.plan.servers,
            "faults": self.plan.faults.iter().map(|f| json!({
                "kind": f.kind.name(),
                "node": super::options::SERVER_NAMES.get(f.node),
                "at_ms": f.at.as_millis() as u64,
                "hold_ms": f.hold.as_millis() as u64,
            })).collect::<Vec<_>>(),
            "passed": self.passed(),
            "violations": self.violations,
            "lost_writes": self.lost_writes,
            "liveness_failure": self.liveness,
            "rig_errors": self.rig_errors,
            "outage_ms": self.outage.map(ms),
            "alarms": self.alarms,
        })
    }
}

/// The options of run `plan`, from the campaign's.
fn options_for(plan: &RunPlan, base: &Options) -> Options {
    let mut options = base.clone();
    options.controller = plan.controller;
    options.media = Media::default_for(plan.controller);
    options.servers = plan.servers;
    options.groups = GroupSpec::layout(plan.servers, plan.servers);
    options.uplink = true;
    options.seed = plan.seed;
    if plan.controller == ControllerKind::Qemu {
        options.controller_realtime = None;
    }
    if let Some(dir) = &base.keep_logs {
        options.keep_logs = Some(dir.join(format!("run-{}-{}", plan.seed, plan.controller.name())));
    }
    options
}

/// Runs `plan`. `Err` only when the rig cannot run at all (options, a
/// missing program or tool, an interruption).
///
/// # Errors
///
/// [`RigError`] that no other run could get past either.
pub fn run_one(plan: &RunPlan, base: &Options) -> Result<RunOutcome, RigError> {
    let options = options_for(plan, base);
    let mut outcome = RunOutcome {
        plan: plan.clone(),
        violations: Vec::new(),
        lost_writes: 0,
        liveness: None,
        rig_errors: Vec::new(),
        outage: None,
        alarms: 0,
    };
    let mut rig = match Rig::up(options) {
        Ok(rig) => rig,
        Err(e @ (RigError::NeverSaw { .. } | RigError::Broken(_))) => {
            outcome.liveness = Some(format!("the cluster never served every group: {}", first_line(&e.to_string())));
            return Ok(outcome);
        }
        Err(e) => return Err(e),
    };
    let t0 = match settle(&mut rig) {
        Ok(t0) => t0,
        Err(e) => {
            outcome.liveness = Some(format!("the cluster never settled: {}", first_line(&e.to_string())));
            judge(&mut outcome, rig.finish(), Duration::ZERO);
            return Ok(outcome);
        }
    };
    match inject_and_heal(&mut rig, plan, t0) {
        Ok(()) => {}
        Err(RigError::Interrupted) => return Err(RigError::Interrupted),
        // Warden did not bring every group back: a liveness failure.
        Err(e @ RigError::NeverSaw { .. }) => outcome.liveness = Some(first_line(&e.to_string())),
        // The rig could not do its part (a command, a file): its error.
        Err(e) => outcome.rig_errors.push(first_line(&e.to_string())),
    }
    judge(&mut outcome, rig.finish(), t0);
    Ok(outcome)
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_owned()
}

/// A window of work on every group.
fn settle(rig: &mut Rig) -> Result<Duration, RigError> {
    for g in 0..rig.layout().groups.len() {
        rig.wait_records_of(g, 20)?;
    }
    Ok(rig.timeline().now())
}

/// Waits until `at` on the run's clock (the faults' own schedule).
fn pause_until(rig: &Rig, at: Duration) -> Result<(), RigError> {
    loop {
        crate::host::signals::check()?;
        let now = rig.timeline().now();
        if now >= at {
            return Ok(());
        }
        std::thread::sleep((at - now).min(Duration::from_millis(20)));
    }
}

/// A server other than `node` that is up, to run `wardenctl` on.
fn other_up(rig: &mut Rig, node: usize) -> Option<usize> {
    let status = rig.ask("status").ok()?;
    let nodes = status["status"]["nodes"].as_array().cloned().unwrap_or_default();
    (0..rig.nodes().len())
        .filter(|i| *i != node)
        .find(|i| nodes.iter().any(|n| n["name"] == rig.name(*i) && n["life"] == "up" && n["standby"] != true))
}

/// What a fault holds, counted per server: a thing two overlapping faults
/// hold is let go when the last of them heals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Held {
    Supply,
    Hang,
    Line,
    Udp,
    Uplink,
    Flag(u8),
    Standby,
}

/// What the faults under way hold.
#[derive(Debug, Default)]
struct Holds {
    counts: BTreeMap<(Held, usize), u32>,
    /// The controller is down (killed by a fault that has not healed).
    controller_down: bool,
}

impl Holds {
    /// Counts `what` on `node` held once more; whether it was free before.
    fn take(&mut self, what: Held, node: usize) -> bool {
        let n = self.counts.entry((what, node)).or_insert(0);
        *n += 1;
        *n == 1
    }

    /// Counts it held once less; whether it is free now.
    fn give(&mut self, what: Held, node: usize) -> bool {
        match self.counts.get_mut(&(what, node)) {
            Some(n) if *n > 1 => {
                *n -= 1;
                false
            }
            Some(_) => {
                self.counts.remove(&(what, node));
                true
            }
            None => false,
        }
    }
}

/// What a fault takes hold of, by kind.
fn held_by(kind: Kind) -> &'static [Held] {
    match kind {
        Kind::PowerLoss => &[Held::Supply],
        Kind::HostHang => &[Held::Hang],
        Kind::SerialCut | Kind::NoisyLine | Kind::SlowLine => &[Held::Line],
        Kind::UdpCut => &[Held::Udp],
        Kind::Partition => &[Held::Line, Held::Udp],
        Kind::UplinkCut => &[Held::Uplink],
        Kind::SickService => &[Held::Flag(0)],
        Kind::StuckRelease => &[Held::Flag(1)],
        Kind::Standby => &[Held::Standby],
        Kind::AgentKill | Kind::ControllerRestart | Kind::Migrate => &[],
    }
}

const fn flag(k: u8) -> FaultFlag {
    if k == 0 {
        FaultFlag::Sick
    } else {
        FaultFlag::Stuck
    }
}

/// Injects `fault`.
fn inject(rig: &mut Rig, fault: &Fault, holds: &mut Holds) -> Result<(), RigError> {
    let n = fault.node;
    match fault.kind {
        Kind::AgentKill => rig.kill_agent(n),
        Kind::ControllerRestart if !holds.controller_down => {
            rig.kill_controller()?;
            holds.controller_down = true;
        }
        Kind::Migrate => operator_migrate(rig, n),
        _ => {}
    }
    for what in held_by(fault.kind) {
        if !holds.take(*what, n) && !matches!(what, Held::Line) {
            continue;
        }
        match what {
            Held::Supply => rig.set_supply(n, false),
            Held::Hang => rig.hang(n, true),
            Held::Line => rig.set_line_fault(
                n,
                match fault.kind {
                    Kind::NoisyLine => LineFault::Corrupt(0.02),
                    Kind::SlowLine => LineFault::Delay(Duration::from_millis(30)),
                    _ => LineFault::Cut,
                },
            ),
            Held::Udp => rig.set_udp_link(n, false)?,
            Held::Uplink => rig.set_uplink(n, false)?,
            Held::Flag(k) => rig.set_flag(n, flag(*k), true)?,
            Held::Standby => {
                let name = rig.name(n).to_owned();
                match other_up(rig, n) {
                    Some(via) => {
                        let said = rig.wardenctl(via, &["standby", &name])?;
                        note(rig, &format!("wardenctl standby {name}"), &said);
                    }
                    None => {
                        rig.timeline().push(Happening::Note(format!(
                            "campaign: no other server up to run wardenctl standby {name} on: not asked"
                        )));
                    }
                }
            }
        }
    }
    if fault.kind == Kind::StuckRelease {
        operator_migrate(rig, n);
    }
    Ok(())
}

/// Heals `fault`: what it alone still holds is let go.
fn heal(rig: &mut Rig, fault: &Fault, holds: &mut Holds) -> Result<(), RigError> {
    let n = fault.node;
    if fault.kind == Kind::ControllerRestart && holds.controller_down {
        rig.start_controller()?;
        holds.controller_down = false;
    }
    for what in held_by(fault.kind) {
        if !holds.give(*what, n) {
            continue;
        }
        match what {
            Held::Supply => rig.set_supply(n, true),
            Held::Hang => {
                if rig.powered(n) {
                    rig.hang(n, false);
                }
            }
            Held::Line => rig.set_line_fault(n, LineFault::Clear),
            Held::Udp => rig.set_udp_link(n, true)?,
            Held::Uplink => rig.set_uplink(n, true)?,
            Held::Flag(k) => rig.set_flag(n, flag(*k), false)?,
            Held::Standby => {
                let name = rig.name(n).to_owned();
                if let Some(via) = other_up(rig, n).or(Some(n)) {
                    let said = rig.wardenctl(via, &["online", &name])?;
                    note(rig, &format!("wardenctl online {name}"), &said);
                }
            }
        }
    }
    Ok(())
}

/// `wardenctl migrate` of a group server `n` holds to the next server in
/// its eligible list (refusals are noted, not failed: an operator may ask
/// at a bad moment).
fn operator_migrate(rig: &mut Rig, n: usize) {
    let Some(g) = (0..rig.layout().groups.len()).find(|g| rig.holder_of(*g) == Some(n)) else {
        rig.timeline().push(Happening::Note(format!("campaign: {} holds no group to migrate", rig.name(n))));
        return;
    };
    let spec = rig.layout().groups[g].spec.clone();
    let Some(to) = spec.nodes.iter().copied().find(|i| *i != n) else { return };
    let Some(via) = other_up(rig, n).or(Some(to)) else { return };
    let (group, target) = (spec.name.clone(), rig.name(to).to_owned());
    match rig.wardenctl(via, &["migrate", &group, &target]) {
        Ok(said) => note(rig, &format!("wardenctl migrate {group} {target}"), &said),
        Err(e) => {
            rig.timeline().push(Happening::Note(format!("campaign: wardenctl migrate could not run: {e}")));
        }
    }
}

fn note(rig: &Rig, what: &str, said: &(i32, String)) {
    rig.timeline().push(Happening::Note(format!("campaign: {what}: exit {}: {}", said.0, said.1.trim())));
}

/// Injects the plan's faults from `t0`, heals each at its end, gives the
/// controller a deadtime and more to see what the faults left, unfences
/// what was fenced (power-cycles a server left dead), and waits until
/// every group is served again.
fn inject_and_heal(rig: &mut Rig, plan: &RunPlan, t0: Duration) -> Result<(), RigError> {
    let mut holds = Holds::default();
    let mut events: Vec<(Duration, bool, usize)> = Vec::new();
    for (i, f) in plan.faults.iter().enumerate() {
        events.push((f.at, true, i));
        events.push((f.at + f.hold, false, i));
    }
    events.sort_by_key(|(at, inject, i)| (*at, !*inject, *i));
    for (at, is_inject, i) in events {
        pause_until(rig, t0 + at)?;
        let fault = &plan.faults[i];
        if is_inject {
            inject(rig, fault, &mut holds)?;
        } else {
            heal(rig, fault, &mut holds)?;
        }
    }
    let healed = rig.timeline().now();
    rig.timeline().push(Happening::Note("campaign: every fault healed".into()));
    // What a fault left (a dead agent, a server hung a moment ago) shows
    // only after deadtime.
    let settle = rig.options().deadtime + 3 * rig.options().keepalive;
    pause_until(rig, healed + settle)?;
    let (seen_at, decided) = wait_decided(rig)?;
    // A dead server that held nothing is left as it is (`fence_idle_dead`
    // is off): the operator power-cycles it, as for a fenced one.
    for (name, life) in &decided {
        if life == "dead" {
            let answer = rig.ask(&format!("fence {name}"))?;
            rig.timeline().push(Happening::Note(format!("campaign: fence {name} (dead, held nothing): {answer}")));
            rig.wait(
                &format!("{name} fenced"),
                seen_at,
                |h| matches!(h, Happening::Controller(c) if matches!(&c.kind, ConsoleKind::Fenced(n) if n == name)),
            )?;
        }
    }
    for (name, _) in &decided {
        let at = rig.timeline().now();
        let answer = rig.ask(&format!("unfence {name}"))?;
        rig.timeline().push(Happening::Note(format!("campaign: unfence {name}: {answer}")));
        rig.wait(
            &format!("{name} up again"),
            at,
            |h| matches!(h, Happening::Controller(c) if matches!(&c.kind, ConsoleKind::NodeUp(n) if n == name)),
        )?;
    }
    served_again(rig, healed)
}

/// Waits until the controller has decided about every server: each up,
/// fenced, or dead and left so (it held nothing), none late or being
/// fenced. Returns when it saw that, and the servers not up with their
/// life.
fn wait_decided(rig: &mut Rig) -> Result<(Duration, Vec<(String, String)>), RigError> {
    let deadline = Instant::now() + BOUND;
    loop {
        crate::host::signals::check()?;
        let at = rig.timeline().now();
        let status = rig.ask("status")?;
        let nodes = status["status"]["nodes"].as_array().cloned().unwrap_or_default();
        let lives: Vec<(String, String)> = nodes
            .iter()
            .map(|n| (n["name"].as_str().unwrap_or("?").to_owned(), n["life"].as_str().unwrap_or("?").to_owned()))
            .collect();
        if !lives.is_empty() && lives.iter().all(|(_, l)| matches!(l.as_str(), "up" | "fenced" | "dead")) {
            return Ok((at, lives.into_iter().filter(|(_, l)| l != "up").collect()));
        }
        if Instant::now() > deadline {
            return Err(RigError::NeverSaw {
                what: format!("every server up, fenced or dead after the heal ({lives:?})"),
                waited: BOUND,
                context: rig.context(),
            });
        }
        // The controller's state, asked again: it changes by the keepalive.
        std::thread::sleep(rig.options().keepalive);
    }
}

/// Every group placed, its address on one server, its client answered and
/// its writer acknowledged after `since`.
fn served_again(rig: &mut Rig, since: Duration) -> Result<(), RigError> {
    for g in 0..rig.layout().groups.len() {
        let name = rig.layout().groups[g].spec.name.clone();
        let from = rig.timeline().now();
        rig.wait_records_of(g, 10)?;
        let log = rig.probe_log_of(g);
        if log.last.as_ref().is_none_or(|(at, _)| *at < from.max(since)) {
            return Err(RigError::NeverSaw {
                what: format!("an answer for {name} after the heal"),
                waited: BOUND,
                context: rig.context(),
            });
        }
    }
    Ok(())
}

/// Reads what the run recorded into its outcome.
fn judge(outcome: &mut RunOutcome, record: RunRecord, t0: Duration) {
    outcome.violations = record
        .findings
        .overlaps
        .iter()
        .map(|o| format!("{}'s {} held by {} at {:.3} s", o.group, o.what, o.nodes.join("+"), o.at.as_secs_f64()))
        .collect();
    for g in &record.groups {
        match &g.records {
            Ok(r) => outcome.lost_writes += r.lost.len() as u64,
            Err(e) => outcome.rig_errors.push(format!("{}'s disk could not be read: {e}", g.name)),
        }
    }
    outcome.rig_errors.extend(record.entries.iter().filter_map(|e| match &e.what {
        Happening::Violation(v) if v.starts_with("rig:") => Some(v.clone()),
        _ => None,
    }));
    outcome.alarms = record
        .entries
        .iter()
        .filter(|e| matches!(&e.what, Happening::Controller(c) if c.kind == ConsoleKind::Alarm))
        .count() as u64;
    outcome.outage = record
        .groups
        .iter()
        .flat_map(|g| g.probe.gaps.iter().filter(|gap| gap.to >= t0).map(crate::watch::probe::Gap::length))
        .max();
}

/// The campaign's results so far.
#[derive(Debug, Default)]
pub struct Tally {
    /// Every run's outcome, in order.
    pub outcomes: Vec<RunOutcome>,
}

impl Tally {
    /// Runs, violations, lost writes, liveness failures, rig errors.
    #[must_use]
    pub fn totals(&self) -> (usize, usize, u64, usize, usize) {
        (
            self.outcomes.len(),
            self.outcomes.iter().map(|o| o.violations.len()).sum(),
            self.outcomes.iter().map(|o| o.lost_writes).sum(),
            self.outcomes.iter().filter(|o| o.liveness.is_some()).count(),
            self.outcomes.iter().filter(|o| !o.rig_errors.is_empty()).count(),
        )
    }

    /// The table per fault kind (a run with two faults counts for both).
    #[must_use]
    pub fn table(&self) -> String {
        let mut rows: BTreeMap<(Kind, &'static str), Vec<&RunOutcome>> = BTreeMap::new();
        for o in &self.outcomes {
            let mut kinds: Vec<Kind> = o.plan.faults.iter().map(|f| f.kind).collect();
            kinds.dedup();
            for k in kinds {
                rows.entry((k, o.plan.controller.name())).or_default().push(o);
            }
        }
        let mut out = format!(
            "{:<20} {:<6} {:>5} {:>6} {:>10} {:>10} {:>10} {:>10} {:>9}\n",
            "fault", "ctrl", "runs", "passed", "outage p50", "outage p99", "violations", "lost writes", "liveness"
        );
        for ((kind, controller), runs) in &rows {
            // A run the client saw no gap in had no outage.
            let outages: Vec<Duration> = runs.iter().map(|o| o.outage.unwrap_or_default()).collect();
            let s = Summary::of(&outages);
            let fmt = |d: Option<Duration>| d.map_or("-".to_owned(), |d| format!("{:.1} ms", ms(d)));
            out.push_str(&format!(
                "{:<20} {:<6} {:>5} {:>6} {:>10} {:>10} {:>10} {:>10} {:>9}\n",
                kind.name(),
                controller,
                runs.len(),
                runs.iter().filter(|o| o.passed()).count(),
                fmt(s.as_ref().map(|s| s.p50)),
                fmt(s.as_ref().map(|s| s.p99)),
                runs.iter().map(|o| o.violations.len()).sum::<usize>(),
                runs.iter().map(|o| o.lost_writes).sum::<u64>(),
                runs.iter().filter(|o| o.liveness.is_some()).count(),
            ));
        }
        out
    }

    /// The last line: `runs=N violations=V lost_writes=W liveness_failures=L`.
    #[must_use]
    pub fn last_line(&self) -> String {
        let (runs, violations, lost, liveness, _) = self.totals();
        format!("runs={runs} violations={violations} lost_writes={lost} liveness_failures={liveness}")
    }

    /// Whether the campaign passed.
    #[must_use]
    pub fn passed(&self) -> bool {
        let (_, violations, lost, liveness, rig) = self.totals();
        violations == 0 && lost == 0 && liveness == 0 && rig == 0
    }
}

/// Which controllers a campaign runs against, in turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Controllers {
    /// One.
    One(ControllerKind),
    /// Both, run `i` on the Linux controller when `i` is even.
    Both,
}

impl std::str::FromStr for Controllers {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "both" => Ok(Self::Both),
            other => other
                .parse()
                .map(Self::One)
                .map_err(|_| format!("unknown controller `{other}` (known: linux, qemu, both)")),
        }
    }
}

impl Controllers {
    /// The controller of run `i`.
    #[must_use]
    pub fn of(self, i: u64) -> ControllerKind {
        match self {
            Self::One(k) => k,
            Self::Both if i.is_multiple_of(2) => ControllerKind::Linux,
            Self::Both => ControllerKind::Qemu,
        }
    }
}

/// Runs `runs` runs from `seed` and reports each as it ends.
///
/// # Errors
///
/// [`RigError`] when the rig cannot run at all.
pub fn run(
    runs: u64,
    seed: u64,
    controllers: Controllers,
    base: &Options,
    mut each: impl FnMut(u64, &RunOutcome),
) -> Result<Tally, RigError> {
    let mut tally = Tally::default();
    for i in 0..runs {
        let run_seed = seed.wrapping_add(i);
        let plan = RunPlan::draw(run_seed, controllers.of(i), base.deadtime);
        let outcome = run_one(&plan, base)?;
        each(i, &outcome);
        tally.outcomes.push(outcome);
    }
    Ok(tally)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_draws_the_same_run_and_the_firmware_gets_no_udp_fault() {
        let d = Duration::from_secs(1);
        assert_eq!(RunPlan::draw(7, ControllerKind::Linux, d), RunPlan::draw(7, ControllerKind::Linux, d));
        for seed in 0..500 {
            let p = RunPlan::draw(seed, ControllerKind::Qemu, d);
            assert!(p.faults.iter().all(|f| !f.kind.needs_udp() && f.node < p.servers), "{p:?}");
            assert!((2..=3).contains(&p.servers) && (1..=2).contains(&p.faults.len()));
        }
        let kinds: std::collections::BTreeSet<Kind> =
            (0..500).flat_map(|s| RunPlan::draw(s, ControllerKind::Linux, d).faults).map(|f| f.kind).collect();
        assert_eq!(kinds.len(), Kind::ALL.len(), "every kind is drawn");
        assert_eq!(Controllers::Both.of(0), ControllerKind::Linux);
        assert_eq!(Controllers::Both.of(1), ControllerKind::Qemu);
    }
}
