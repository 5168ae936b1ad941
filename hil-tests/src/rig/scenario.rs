//! The fault scenarios, each run on a fresh rig to a [`Verdict`]:
//!
//! | scenario | fault on the server holding the group | expected |
//! |---|---|---|
//! | `power-loss` | its own supply cut | fenced, group on the other server, stays off until unfenced |
//! | `agent-kill` | its agent killed (`SIGKILL`) | the same |
//! | `host-hang` | every process stopped (`SIGSTOP`) | the same |
//! | `serial-cut` | its serial line cut both ways | the same |
//! | `controller-restart` | the controller killed and started again | nothing moves, no relay toggles |
//!
//! Every verdict also has the common checks (one address holder, one
//! mount, no acknowledged record lost, the rig's power changes all carried
//! out, no controller alarm).

use std::time::Duration;

use super::cluster::Rig;
use super::config::GROUP;
use super::console::ConsoleKind;
use super::options::Options;
use super::serial::LineFault;
use super::timeline::{Entry, Happening};
use super::verdict::Verdict;
use super::RigError;

/// A scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// The holder's own supply is cut.
    PowerLoss,
    /// The holder's agent is killed.
    AgentKill,
    /// Every process of the holder is stopped.
    HostHang,
    /// The holder's serial line is cut.
    SerialCut,
    /// The controller is killed and started again.
    ControllerRestart,
}

impl Scenario {
    /// Every scenario.
    pub const ALL: [Self; 5] =
        [Self::PowerLoss, Self::AgentKill, Self::HostHang, Self::SerialCut, Self::ControllerRestart];

    /// Its name on the command line.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::PowerLoss => "power-loss",
            Self::AgentKill => "agent-kill",
            Self::HostHang => "host-hang",
            Self::SerialCut => "serial-cut",
            Self::ControllerRestart => "controller-restart",
        }
    }
}

impl std::str::FromStr for Scenario {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| {
            let known: Vec<&str> = Self::ALL.iter().map(|k| k.name()).collect();
            format!("unknown scenario `{s}` (known: {}; firmware-watchdog needs --controller qemu)", known.join(", "))
        })
    }
}

/// Records acknowledged by the writer that make an observation window:
/// "for this many more fsync'd writes, nothing else happened".
const WINDOW_RECORDS: usize = 40;

/// Runs `scenario` on a fresh rig.
///
/// # Errors
///
/// [`RigError`] when the rig cannot be set up or an awaited event never
/// comes (then the error carries the logs); a scenario that runs to its end
/// returns its verdict, passed or not.
pub fn run(scenario: Scenario, options: Options) -> Result<Verdict, RigError> {
    let mut rig = Rig::up(options)?;
    let mut verdict = Verdict::new(scenario.name());
    match scenario {
        Scenario::ControllerRestart => controller_restart(&mut rig, &mut verdict)?,
        _ => failover(&mut rig, scenario, &mut verdict)?,
    }
    let record = rig.finish();
    verdict.common_checks(&record);
    Ok(verdict)
}

fn is_console(h: &Happening, f: impl Fn(&ConsoleKind) -> bool) -> bool {
    matches!(h, Happening::Controller(e) if f(&e.kind))
}

/// Waits until the writer has `n` more acknowledged records than now: a
/// window of real work measured in events, not in time.
///
/// # Errors
///
/// [`RigError::NeverSaw`] when the writer stalls.
pub fn window(rig: &mut Rig, n: usize) -> Result<(), RigError> {
    rig.wait_records(n)
}

/// The milestones of one failover from a fault at `t0` on `victim`, and
/// the client's outage.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Failover {
    /// The controller declared the victim dead (or started fencing it).
    pub detected: Option<Duration>,
    /// The controller confirmed the victim powered off.
    pub fenced: Option<Duration>,
    /// The controller gave the group to the other server.
    pub placed: Option<Duration>,
    /// The service address appeared on the other server.
    pub address_up: Option<Duration>,
    /// The client got its first answer from the other server.
    pub answered: Option<Duration>,
    /// The client-visible outage (last answer before the fault to first after).
    pub outage: Option<Duration>,
}

impl Failover {
    /// The milestones as named timings.
    #[must_use]
    pub fn timings(&self) -> Vec<(&'static str, Option<Duration>)> {
        vec![
            ("detection", self.detected),
            ("fence_confirmed", self.fenced),
            ("group_placed", self.placed),
            ("address_on_new_holder", self.address_up),
            ("first_answer_from_new_holder", self.answered),
            ("client_visible_outage", self.outage),
        ]
    }
}

/// Waits for the failover of `victim` to `other` after a fault at `t0`
/// and measures it.
///
/// # Errors
///
/// [`RigError::NeverSaw`] when a milestone never comes.
pub fn follow_failover(rig: &mut Rig, victim: &str, other: &str, t0: Duration) -> Result<Failover, RigError> {
    let since = |e: &Entry| Some(e.at.saturating_sub(t0));
    let detected = rig.wait(&format!("{victim} declared dead"), t0, |h| {
        is_console(h, |k| matches!(k, ConsoleKind::NodeDead(n) | ConsoleKind::Fencing(n) if n == victim))
    })?;
    let fenced = rig.wait(&format!("{victim} fenced"), t0, |h| {
        is_console(h, |k| matches!(k, ConsoleKind::Fenced(n) if n == victim))
    })?;
    let placed = rig.wait(&format!("the group placed on {other}"), t0, |h| {
        is_console(h, |k| matches!(k, ConsoleKind::Placed { group, node, .. } if group == GROUP && node == other))
    })?;
    let address = rig.wait(
        &format!("the service address on {other}"),
        t0,
        |h| matches!(h, Happening::Address { node, present: true } if node == other),
    )?;
    let answered = rig.wait(
        &format!("the client answered by {other}"),
        t0,
        |h| matches!(h, Happening::Answering { node } if node == other),
    )?;
    let outage = rig.probe_log().handover(t0, other).map(super::probe::Gap::length);
    Ok(Failover {
        detected: since(&detected),
        fenced: since(&fenced),
        placed: since(&placed),
        address_up: since(&address),
        answered: since(&answered),
        outage,
    })
}

/// Unfences `victim` as `wardenctl unfence` would, and waits until it is
/// up again.
///
/// # Errors
///
/// [`RigError`] when the controller refuses or the node never comes back.
pub fn unfence(rig: &mut Rig, victim: &str) -> Result<Duration, RigError> {
    let at = rig.timeline().now();
    let answer = rig.ask(&format!("unfence {victim}"))?;
    if answer["ok"] != true {
        return Err(RigError::Broken(format!("the controller refused `unfence {victim}`: {answer}")));
    }
    rig.wait(&format!("{victim} booted again"), at, |h| matches!(h, Happening::Booted { node } if node == victim))?;
    rig.wait(&format!("{victim} up again"), at, |h| {
        is_console(h, |k| matches!(k, ConsoleKind::NodeUp(n) if n == victim))
    })?;
    Ok(at)
}

fn inject(rig: &mut Rig, scenario: Scenario, victim: usize) {
    match scenario {
        Scenario::PowerLoss => rig.set_supply(victim, false),
        Scenario::AgentKill => rig.kill_agent(victim),
        Scenario::HostHang => rig.hang(victim, true),
        Scenario::SerialCut => rig.set_line_fault(victim, LineFault::Cut),
        Scenario::ControllerRestart => {}
    }
}

fn repair(rig: &mut Rig, scenario: Scenario, victim: usize) {
    match scenario {
        Scenario::PowerLoss => rig.set_supply(victim, true),
        Scenario::SerialCut => rig.set_line_fault(victim, LineFault::Clear),
        // A killed agent or a hung host is gone with the power: nothing to repair.
        _ => {}
    }
}

/// Checks that nothing failed over between the first placement and `t0`
/// (a node declared dead, a fence, a move, a relay switched).
fn steady_until(rig: &Rig, t0: Duration, verdict: &mut Verdict) {
    let mut placed = false;
    let mut unsteady = Vec::new();
    for e in rig.timeline().entries().iter().filter(|e| e.at < t0) {
        match &e.what {
            Happening::Controller(c) => match &c.kind {
                ConsoleKind::Placed { .. } if !placed => placed = true,
                ConsoleKind::Placed { .. }
                | ConsoleKind::NodeDead(_)
                | ConsoleKind::Fencing(_)
                | ConsoleKind::Releasing { .. } => unsteady.push(format!("{:.3} s {}", e.at.as_secs_f64(), c.text)),
                _ => {}
            },
            Happening::Relay { .. } | Happening::PowerLost { .. } => {
                unsteady.push(format!("{:.3} s {}", e.at.as_secs_f64(), super::timeline::describe(&e.what)));
            }
            _ => {}
        }
    }
    verdict.check(
        "the cluster was steady before the fault",
        unsteady.is_empty(),
        if unsteady.is_empty() { "no death, fence or move before the fault".to_owned() } else { unsteady.join("; ") },
    );
}

fn failover(rig: &mut Rig, scenario: Scenario, verdict: &mut Verdict) -> Result<(), RigError> {
    let holder = rig.holder().ok_or_else(|| RigError::Broken("no single server holds the service address".into()))?;
    let victim = rig.name(holder).to_owned();
    let other_index = 1 - holder;
    let other = rig.name(other_index).to_owned();
    window(rig, WINDOW_RECORDS)?;

    let t0 = rig.timeline().now();
    steady_until(rig, t0, verdict);
    inject(rig, scenario, holder);
    let f = follow_failover(rig, &victim, &other, t0)?;
    verdict.timings = f.timings();
    let entries = rig.timeline().since(t0);
    let off_at =
        entries.iter().find(|e| matches!(&e.what, Happening::PowerLost { node } if *node == victim)).map(|e| e.at);
    let fenced_at = f.fenced.map(|d| t0 + d);
    verdict.check(
        &format!("{victim} powered off before {other} took the group"),
        matches!((off_at, f.placed), (Some(off), Some(placed)) if off <= t0 + placed),
        format!(
            "power lost at {}, group placed on {other} at {}",
            off_at.map_or("never".into(), |t| format!("{:.3} s", t.as_secs_f64())),
            f.placed.map_or("never".into(), |d| format!("{:.3} s", (t0 + d).as_secs_f64()))
        ),
    );
    verdict.check(
        &format!("the client is answered by {other}"),
        f.answered.is_some(),
        format!(
            "client-visible outage {}",
            f.outage.map_or("not seen (no gap)".into(), |d| format!("{} ms", super::stats::ms(d)))
        ),
    );

    // Stays off: a window of work on the new holder, the relay off all along.
    window(rig, WINDOW_RECORDS)?;
    repair(rig, scenario, holder);
    window(rig, WINDOW_RECORDS / 2)?;
    let relay_on = rig
        .timeline()
        .since(t0)
        .iter()
        .any(|e| matches!(&e.what, Happening::Relay { node, on: true } if *node == victim));
    let powered = rig.powered(holder);
    verdict.check(
        &format!("fenced {victim} stays off until unfenced"),
        !relay_on && !powered && !rig.relay(holder),
        format!(
            "fenced at {}; relay {}, power {} before the unfence",
            fenced_at.map_or("never".into(), |t| format!("{:.3} s", t.as_secs_f64())),
            if rig.relay(holder) { "on" } else { "off" },
            if powered { "on" } else { "off" }
        ),
    );

    let at = unfence(rig, &victim)?;
    window(rig, WINDOW_RECORDS)?;
    let status = rig.ask("status")?;
    let node =
        status["status"]["nodes"].as_array().and_then(|n| n.iter().find(|n| n["name"] == victim.as_str())).cloned();
    let holds = node.as_ref().map(|n| n["holds"].clone()).unwrap_or_default();
    let group = status["status"]["groups"].as_array().and_then(|g| g.first()).cloned().unwrap_or_default();
    let back_empty = holds.as_array().is_some_and(Vec::is_empty) && rig.holder() == Some(other_index);
    verdict.check(
        &format!("{victim} comes back as a standby holding nothing"),
        back_empty && group["placed_on"] == other.as_str(),
        format!(
            "unfenced at {:.3} s; {victim} holds {holds}, group placed on {}, address on {}",
            at.as_secs_f64(),
            group["placed_on"],
            rig.holder().map_or("no single server", |i| rig.name(i))
        ),
    );
    Ok(())
}

fn controller_restart(rig: &mut Rig, verdict: &mut Verdict) -> Result<(), RigError> {
    let holder = rig.holder().ok_or_else(|| RigError::Broken("no single server holds the service address".into()))?;
    let name = rig.name(holder).to_owned();
    window(rig, WINDOW_RECORDS)?;
    let t0 = rig.timeline().now();
    steady_until(rig, t0, verdict);
    rig.kill_controller()?;
    // Agents keep what they hold while the controller is silent (fail-static).
    window(rig, WINDOW_RECORDS / 2)?;
    let restarted = rig.timeline().now();
    rig.start_controller()?;
    for node in rig.nodes().to_vec() {
        rig.wait(&format!("{node} up under the new controller"), restarted, |h| {
            is_console(h, |k| matches!(k, ConsoleKind::NodeUp(n) if *n == node))
        })?;
    }
    window(rig, WINDOW_RECORDS * 2)?;
    let after = rig.timeline().since(t0);
    let relays: Vec<String> = after
        .iter()
        .filter_map(|e| match &e.what {
            Happening::Relay { node, on } => Some(format!("{node} {}", if *on { "on" } else { "off" })),
            Happening::PowerLost { node } => Some(format!("{node} lost power")),
            _ => None,
        })
        .collect();
    verdict.check(
        "no relay toggled",
        relays.is_empty(),
        if relays.is_empty() { "none".into() } else { relays.join("; ") },
    );
    let moves: Vec<String> = after
        .iter()
        .filter_map(|e| match &e.what {
            Happening::Controller(c) => match &c.kind {
                ConsoleKind::Placed { node, .. } if *node != name => Some(c.text.clone()),
                ConsoleKind::Releasing { .. } | ConsoleKind::Fencing(_) | ConsoleKind::NodeDead(_) => {
                    Some(c.text.clone())
                }
                _ => None,
            },
            Happening::Address { node, present: false } if *node == name => Some(format!("address left {name}")),
            _ => None,
        })
        .collect();
    verdict.check(
        "nothing moved",
        moves.is_empty() && rig.holder() == Some(holder),
        if moves.is_empty() { format!("the group stayed on {name}") } else { moves.join("; ") },
    );
    let status = rig.ask("status")?;
    let group = status["status"]["groups"].as_array().and_then(|g| g.first()).cloned().unwrap_or_default();
    verdict.check(
        "the new controller adopted the group where it was",
        group["placed_on"] == name.as_str() && group["held_by"] == serde_json::json!([name]),
        format!("placed on {}, held by {}", group["placed_on"], group["held_by"]),
    );
    let gaps = rig.probe_log().gaps.iter().filter(|g| g.to >= t0).count();
    verdict.counts.push(("client_gaps_after_restart", gaps as u64));
    verdict.timings = vec![("controller_down", Some(restarted.saturating_sub(t0)))];
    Ok(())
}
