//! The fault scenarios, each run on a fresh rig to a [`Verdict`]
//! (`docs/rig.md` has them all, with the controllers each runs against):
//!
//! | scenario | fault on the server holding the group | expected |
//! |---|---|---|
//! | `partition` | its serial line and UDP link cut, still serving (Linux controller) | fenced before takeover; the client never answered by two |
//! | `uplink-loss` | its ping node cut off | moved gracefully to the better-connected server, nothing fenced |
//! | `failing-service` | its service fails its monitor | restarted locally, then moved; kept off for `failure_timeout` |
//! | `stuck-release` | its release fails on `migrate` | fenced before the takeover |
//! | `stuck-release-restart` | the same across a controller restart | the new controller fences |
//! | `operator-moves` | `migrate`, `standby`, `online` | graceful moves; `online` moves nothing back |
//! | `auto-failback` | the home of two groups lost and back | the `auto_failback` group goes home after `failback_delay`, the other stays |
//! | `damping` | uplinks fail in turn | the third move is damped |
//! | `address-families` | home of an IPv4, an IPv6 and a MAC group lost | IPv6 entry follows the advertisement, the MAC group's never changes |
//! | `three-servers` | alpha, home of two of three groups, lost | each lost group to its next eligible server, the third untouched |
//! | `power-loss` | its own supply cut | fenced, group on the other server, stays off until unfenced |
//! | `agent-kill` | its agent killed (`SIGKILL`) | the same |
//! | `host-hang` | every process stopped (`SIGSTOP`) | the same |
//! | `serial-cut` | its serial line cut both ways (serial links only) | the same |
//! | `serial-cut-udp-up` | its serial line cut, its UDP link up (Linux controller) | nothing moves, no fence |
//! | `controller-restart` | the controller killed and started again | nothing moves, no relay toggles |
//! | `firmware-watchdog` | (`--controller qemu`) the standby's link wedged on the board | the watchdog resets the board; nothing moves, no relay toggles |
//! | `noisy-line` | its serial line corrupts 2 % of bytes, then delays each by 30 ms, its UDP link up (Linux controller) | frames refused and counted on both ends, nothing moves, no fence |
//! | `pacemaker-fence` | (Linux controller) Pacemaker's fencer fences it through `fence_warden` | fenced only with the power sensed off, group moved, unfenced as a standby; failure paths fence nothing |
//!
//! Every verdict also has the common checks (one address holder, one
//! mount, no acknowledged record lost, the rig's power changes all carried
//! out, no controller alarm).

use std::time::Duration;

use super::cluster::Rig;
use super::config::GROUP;
use super::failover::{follow_failover, is_console, lines_of, unfence};
use super::options::Options;
use crate::controller::console::ConsoleKind;
use crate::hardware::serial::LineFault;
use crate::watch::scrape::{self, sample};
use crate::watch::timeline::{Entry, Happening};
use crate::watch::verdict::Verdict;
use crate::RigError;

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
    /// The holder's serial line is cut while its UDP link stays up.
    SerialCutUdpUp,
    /// The controller is killed and started again.
    ControllerRestart,
    /// The firmware's link driver stalls; its watchdog resets the board.
    FirmwareWatchdog,
    /// Pacemaker's fencer fences the holder through `fence_warden`.
    PacemakerFence,
    /// The holder's serial line corrupts, then delays, while its UDP link
    /// stays up.
    NoisyLine,
    /// The holder's serial line and UDP link are both cut while it still
    /// serves the client: partitioned from the controller.
    Partition,
    /// The holder's uplink is cut (its ping node unreachable).
    UplinkLoss,
    /// The holder's service fails its monitor.
    FailingService,
    /// The holder's release fails when the group is migrated.
    StuckRelease,
    /// As `StuckRelease`, with a controller restart in the middle.
    StuckReleaseRestart,
    /// `wardenctl migrate`, `standby`, `online`.
    OperatorMoves,
    /// A home server lost and back: auto-failback on and off.
    AutoFailback,
    /// Faults in turn, until damping holds the group.
    Damping,
    /// An IPv4, an IPv6 and a MAC-takeover group move together.
    AddressFamilies,
    /// Three servers, three groups: the holder of two loses power.
    ThreeServers,
}

impl Scenario {
    /// Every scenario.
    pub const ALL: [Self; 19] = [
        Self::PowerLoss,
        Self::AgentKill,
        Self::HostHang,
        Self::SerialCut,
        Self::SerialCutUdpUp,
        Self::ControllerRestart,
        Self::FirmwareWatchdog,
        Self::PacemakerFence,
        Self::NoisyLine,
        Self::Partition,
        Self::UplinkLoss,
        Self::FailingService,
        Self::StuckRelease,
        Self::StuckReleaseRestart,
        Self::OperatorMoves,
        Self::AutoFailback,
        Self::Damping,
        Self::AddressFamilies,
        Self::ThreeServers,
    ];

    /// Its name on the command line.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::PowerLoss => "power-loss",
            Self::AgentKill => "agent-kill",
            Self::HostHang => "host-hang",
            Self::SerialCut => "serial-cut",
            Self::SerialCutUdpUp => "serial-cut-udp-up",
            Self::ControllerRestart => "controller-restart",
            Self::FirmwareWatchdog => "firmware-watchdog",
            Self::PacemakerFence => "pacemaker-fence",
            Self::NoisyLine => "noisy-line",
            Self::Partition => "partition",
            Self::UplinkLoss => "uplink-loss",
            Self::FailingService => "failing-service",
            Self::StuckRelease => "stuck-release",
            Self::StuckReleaseRestart => "stuck-release-restart",
            Self::OperatorMoves => "operator-moves",
            Self::AutoFailback => "auto-failback",
            Self::Damping => "damping",
            Self::AddressFamilies => "address-families",
            Self::ThreeServers => "three-servers",
        }
    }

    /// Whether it needs the Linux controller (its UDP links or operator
    /// endpoint); the others run against the firmware under QEMU too.
    #[must_use]
    pub const fn linux_only(self) -> bool {
        matches!(self, Self::SerialCutUdpUp | Self::NoisyLine | Self::PacemakerFence | Self::Partition)
    }

    /// Sets up what the scenario's rig needs beyond `options`: servers,
    /// groups, an uplink, damping, links.
    pub fn adjust(self, options: &mut Options) {
        match self {
            // The serial line is the holder's only link: cutting it is silence.
            // (With a UDP link beside it, a cut line moves nothing.)
            Self::SerialCut => options.media = super::options::Media::Serial,
            Self::UplinkLoss => super::moves::with_uplink(options),
            Self::AutoFailback => super::moves::failback_options(options),
            Self::Damping => super::moves::damping_options(options),
            Self::AddressFamilies => super::moves::families_options(options),
            Self::ThreeServers => super::moves::three_options(options),
            _ => {}
        }
    }
}

impl std::str::FromStr for Scenario {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| {
            let known: Vec<&str> = Self::ALL.iter().map(|k| k.name()).collect();
            format!("unknown scenario `{s}` (known: {})", known.join(", "))
        })
    }
}

/// Records acknowledged by the writer that make an observation window:
/// "for this many more fsync'd writes, nothing else happened".
pub const WINDOW_RECORDS: usize = 40;

/// Runs `scenario` on a fresh rig.
///
/// # Errors
///
/// [`RigError`] when the rig cannot be set up or an awaited event never
/// comes (then the error carries the logs); a scenario that runs to its end
/// returns its verdict, passed or not.
pub fn run(scenario: Scenario, mut options: Options) -> Result<Verdict, RigError> {
    scenario.adjust(&mut options);
    if scenario == Scenario::FirmwareWatchdog && options.controller != super::options::ControllerKind::Qemu {
        return Err(RigError::Options(
            "firmware-watchdog needs --controller qemu: the watchdog is the firmware board's".into(),
        ));
    }
    if matches!(scenario, Scenario::SerialCutUdpUp | Scenario::NoisyLine | Scenario::Partition) && !options.udp() {
        return Err(RigError::Options(format!(
            "{} needs UDP links beside the serial lines: the Linux controller with --media both",
            scenario.name()
        )));
    }
    if scenario == Scenario::PacemakerFence && options.controller != super::options::ControllerKind::Linux {
        return Err(RigError::Options(
            "pacemaker-fence needs the Linux controller: the firmware has no UDP operator endpoint".into(),
        ));
    }
    let mut rig = Rig::up(options)?;
    let mut verdict = Verdict::new(scenario.name());
    match scenario {
        Scenario::ControllerRestart => controller_restart(&mut rig, &mut verdict)?,
        Scenario::SerialCutUdpUp => one_medium_left(&mut rig, &mut verdict)?,
        Scenario::FirmwareWatchdog => firmware_watchdog(&mut rig, &mut verdict)?,
        Scenario::PacemakerFence => super::pacemaker::run(&mut rig, &mut verdict)?,
        Scenario::NoisyLine => noisy_line(&mut rig, &mut verdict)?,
        Scenario::UplinkLoss => super::moves::uplink_loss(&mut rig, &mut verdict)?,
        Scenario::FailingService => super::moves::failing_service(&mut rig, &mut verdict)?,
        Scenario::StuckRelease => super::moves::stuck_release(&mut rig, &mut verdict, false)?,
        Scenario::StuckReleaseRestart => super::moves::stuck_release(&mut rig, &mut verdict, true)?,
        Scenario::OperatorMoves => super::moves::operator_moves(&mut rig, &mut verdict)?,
        Scenario::AutoFailback => super::moves::auto_failback(&mut rig, &mut verdict)?,
        Scenario::Damping => super::moves::damping(&mut rig, &mut verdict)?,
        Scenario::AddressFamilies => super::moves::address_families(&mut rig, &mut verdict)?,
        Scenario::ThreeServers => super::moves::three_servers(&mut rig, &mut verdict)?,
        Scenario::PowerLoss | Scenario::AgentKill | Scenario::HostHang | Scenario::SerialCut | Scenario::Partition => {
            failover(&mut rig, scenario, &mut verdict)?;
        }
    }
    let record = rig.finish();
    verdict.common_checks(&record);
    Ok(verdict)
}

fn inject(rig: &mut Rig, scenario: Scenario, victim: usize) {
    match scenario {
        Scenario::PowerLoss => rig.set_supply(victim, false),
        Scenario::AgentKill => rig.kill_agent(victim),
        Scenario::HostHang => rig.hang(victim, true),
        Scenario::SerialCut | Scenario::SerialCutUdpUp => rig.set_line_fault(victim, LineFault::Cut),
        Scenario::Partition => {
            rig.set_line_fault(victim, LineFault::Cut);
            if let Err(e) = rig.set_udp_link(victim, false) {
                rig.timeline().push(Happening::Violation(format!("rig: the UDP link could not be cut: {e}")));
            }
        }
        _ => {}
    }
}

fn repair(rig: &mut Rig, scenario: Scenario, victim: usize) {
    match scenario {
        Scenario::PowerLoss => rig.set_supply(victim, true),
        Scenario::SerialCut | Scenario::SerialCutUdpUp => rig.set_line_fault(victim, LineFault::Clear),
        Scenario::Partition => {
            rig.set_line_fault(victim, LineFault::Clear);
            if let Err(e) = rig.set_udp_link(victim, true) {
                rig.timeline().push(Happening::Violation(format!("rig: the UDP link could not be restored: {e}")));
            }
        }
        // A killed agent or a hung host is gone with the power: nothing to repair.
        _ => {}
    }
}

/// Whether server `index` stayed off since `t0` (its relay never switched
/// on, and relay and power off now), and what was seen.
pub(super) fn kept_off(rig: &Rig, index: usize, t0: Duration) -> (bool, String) {
    let name = rig.name(index);
    let relay_on =
        rig.timeline().since(t0).iter().any(|e| matches!(&e.what, Happening::Relay { node, on: true } if node == name));
    let (relay, powered) = (rig.relay(index), rig.powered(index));
    let on_off = |b: bool| if b { "on" } else { "off" };
    (
        !relay_on && !relay && !powered,
        format!(
            "relay {}{}, power {}",
            on_off(relay),
            if relay_on { " (switched on meanwhile)" } else { "" },
            on_off(powered)
        ),
    )
}

/// Checks that nothing failed over between the first placement and `t0`
/// (a node declared dead, a fence, a move, a relay switched).
pub(super) fn steady_until(rig: &Rig, t0: Duration, verdict: &mut Verdict) {
    let mut placed: Vec<String> = Vec::new();
    let before: Vec<Entry> = rig.timeline().entries().into_iter().filter(|e| e.at < t0).collect();
    let unsteady = lines_of(&before, |h| match h {
        // A group's first placement is the start, not a move.
        Happening::Controller(c) => match &c.kind {
            ConsoleKind::Placed { group, .. } if !placed.contains(group) => {
                placed.push(group.clone());
                false
            }
            ConsoleKind::Placed { .. }
            | ConsoleKind::NodeDead(_)
            | ConsoleKind::Fencing(_)
            | ConsoleKind::Releasing { .. } => true,
            _ => false,
        },
        Happening::Relay { .. } | Happening::PowerLost { .. } => true,
        _ => false,
    });
    verdict.check(
        "the cluster was steady before the fault",
        unsteady.is_empty(),
        if unsteady.is_empty() { "no death, fence or move before the fault".to_owned() } else { unsteady.join("; ") },
    );
}

/// The cluster before a fault: who holds the group, who stands by, and
/// when the fault comes (after a window of work, the cluster steady).
struct Before {
    holder: usize,
    victim: String,
    other_index: usize,
    other: String,
    t0: Duration,
}

fn before_fault(rig: &mut Rig, verdict: &mut Verdict) -> Result<Before, RigError> {
    let holder = rig.holder().ok_or_else(|| RigError::Broken("no single server holds the service address".into()))?;
    let victim = rig.name(holder).to_owned();
    let other_index = 1 - holder;
    let other = rig.name(other_index).to_owned();
    rig.wait_records(WINDOW_RECORDS)?;
    let t0 = rig.timeline().now();
    steady_until(rig, t0, verdict);
    Ok(Before { holder, victim, other_index, other, t0 })
}

fn failover(rig: &mut Rig, scenario: Scenario, verdict: &mut Verdict) -> Result<(), RigError> {
    let Before { holder, victim, other_index, other, t0 } = before_fault(rig, verdict)?;
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
    if let Some(check) = how_found(&entries, scenario, &victim) {
        verdict.check(&check.0, check.1, check.2);
    }
    verdict.check(
        &format!("the client is answered by {other}"),
        f.answered.is_some(),
        format!(
            "client-visible outage {}",
            f.outage.map_or("not seen (no gap)".into(), |d| format!("{} ms", crate::watch::stats::ms(d)))
        ),
    );

    if scenario == Scenario::Partition {
        partitioned_served(rig, verdict, (&victim, &other), t0, off_at);
    }

    // Stays off: a window of work on the new holder, the relay off all along.
    rig.wait_records(WINDOW_RECORDS)?;
    repair(rig, scenario, holder);
    rig.wait_records(WINDOW_RECORDS / 2)?;
    let (off, seen) = kept_off(rig, holder, t0);
    verdict.check(
        &format!("fenced {victim} stays off until unfenced"),
        off,
        format!(
            "fenced at {}; {seen} before the unfence",
            fenced_at.map_or("never".into(), |t| format!("{:.3} s", t.as_secs_f64())),
        ),
    );

    let at = unfence(rig, &victim)?;
    rig.wait_records(WINDOW_RECORDS)?;
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
    if scenario == Scenario::PowerLoss {
        metrics_agree(rig, other_index, verdict)?;
    }
    Ok(())
}

/// A holder partitioned from the controller at `t0` kept serving the
/// client until it lost power at `off_at` (it cannot know it is cut off:
/// only the fence makes it safe), and the client never saw answers from it
/// again once the other server had answered.
fn partitioned_served(
    rig: &Rig,
    verdict: &mut Verdict,
    (victim, other): (&str, &str),
    t0: Duration,
    off_at: Option<Duration>,
) {
    let log = rig.probe_log();
    let handover = log.handover(t0, other).cloned();
    let served_after = handover.as_ref().is_some_and(|g| g.from > t0 && g.before == victim);
    let back = log.gaps.iter().filter(|g| g.to >= t0 && g.before == other && g.after == victim).count();
    verdict.check(
        &format!("partitioned {victim} served the client until fenced, then never again"),
        served_after && back == 0 && off_at.is_some(),
        format!(
            "cut at {:.3} s; last answer from {victim} at {}, power lost at {}, first from {other} at {}; {back} answers from {victim} after {other}'s",
            t0.as_secs_f64(),
            handover.as_ref().map_or("-".into(), |g| format!("{:.3} s", g.from.as_secs_f64())),
            off_at.map_or("never".into(), |t| format!("{:.3} s", t.as_secs_f64())),
            handover.as_ref().map_or("-".into(), |g| format!("{:.3} s", g.to.as_secs_f64())),
        ),
    );
}

/// The metrics pages of the controller (the Linux one) and of the new
/// holder's agent, scraped from the client: promtool has nothing to say of
/// them, and they tell what the controller's status does (each node's life
/// and power, where the group is placed and who holds it, the fence).
fn metrics_agree(rig: &mut Rig, holder: usize, verdict: &mut Verdict) -> Result<(), RigError> {
    let netns = rig.client_netns_path();
    let name = rig.name(holder).to_owned();
    let mut pages = vec![(format!("{name}'s agent"), scrape::scrape(&netns, rig.agent_metrics(holder))?)];
    let controller = match rig.controller_metrics() {
        Some(at) => Some(scrape::scrape(&netns, at)?),
        None => None,
    };
    if let Some(page) = &controller {
        pages.push(("the controller".to_owned(), page.clone()));
    }
    let mut wrong = Vec::new();
    for (whose, page) in &pages {
        if let Err(said) = scrape::promtool_check(page)? {
            wrong.push(format!("promtool on {whose}'s page: {said}"));
        }
    }
    let status = rig.ask("status")?;
    let group = status["status"]["groups"].as_array().and_then(|g| g.first()).cloned().unwrap_or_default();
    if group["held_by"] != serde_json::json!([name]) {
        wrong.push(format!("the status says {GROUP} is held by {}", group["held_by"]));
    }
    let mut want = |page: &str, series: String, value: f64| {
        let got = sample(page, &series);
        if got != Some(value) {
            wrong.push(format!("{series} is {got:?}, not {value}"));
        }
    };
    let agent = &pages[0].1;
    want(agent, format!("warden_agent_connected{{node=\"{name}\"}}"), 1.0);
    want(agent, format!("warden_agent_group{{node=\"{name}\",group=\"{GROUP}\",condition=\"holds\"}}"), 1.0);
    if let Some(page) = &controller {
        for node in status["status"]["nodes"].as_array().map(Vec::as_slice).unwrap_or_default() {
            let (n, life, power) = (node["name"].as_str(), node["life"].as_str(), node["power"].as_str());
            let (Some(n), Some(life), Some(power)) = (n, life, power) else { continue };
            want(page, format!("warden_node_life{{node=\"{n}\",life=\"{life}\"}}"), 1.0);
            want(page, format!("warden_node_power{{node=\"{n}\",power=\"{power}\"}}"), 1.0);
        }
        let placed = group["placed_on"].as_str().unwrap_or("nowhere");
        want(page, format!("warden_group_placed{{group=\"{GROUP}\",node=\"{placed}\"}}"), 1.0);
        want(page, "warden_fence_operations_total{result=\"confirmed\"}".to_owned(), 1.0);
        want(page, "warden_failover_phase_seconds_count{phase=\"placement\"}".to_owned(), 1.0);
    }
    let families = |page: &str| page.lines().filter(|l| l.starts_with("# TYPE ")).count();
    verdict.check(
        "the metrics pages pass promtool and agree with the status",
        wrong.is_empty(),
        if wrong.is_empty() {
            pages
                .iter()
                .map(|(whose, page)| format!("{whose}: {} families", families(page)))
                .collect::<Vec<_>>()
                .join(", ")
        } else {
            wrong.join("; ")
        },
    );
    Ok(())
}

/// How the controller found the fault: a power loss on the sense line
/// (the power sensed off, then dead), a hang by silence (dead, then the
/// power sensed off once its relay cut it). `None` for other scenarios.
fn how_found(entries: &[Entry], scenario: Scenario, victim: &str) -> Option<(String, bool, String)> {
    let first = |f: &dyn Fn(&ConsoleKind) -> bool| {
        entries.iter().find(|e| matches!(&e.what, Happening::Controller(c) if f(&c.kind))).map(|e| e.at)
    };
    let sensed_off = first(&|k| matches!(k, ConsoleKind::Sensed { node, on: false } if node == victim));
    let dead = first(&|k| matches!(k, ConsoleKind::NodeDead(n) if n == victim));
    let at = |t: Option<Duration>| t.map_or("never".to_owned(), |t| format!("{:.3} s", t.as_secs_f64()));
    let seen = format!("power sensed off at {}, declared dead at {}", at(sensed_off), at(dead));
    match scenario {
        Scenario::PowerLoss => Some((
            format!("the power loss of {victim} was seen on the sense line, not waited out"),
            matches!((sensed_off, dead), (Some(s), Some(d)) if s <= d),
            seen,
        )),
        Scenario::HostHang => Some((
            format!("the hang of {victim} was found by its silence, power still on"),
            matches!((sensed_off, dead), (Some(s), Some(d)) if d <= s),
            seen,
        )),
        _ => None,
    }
}

/// The holder's serial line is cut while its UDP link carries on: for
/// three observation windows nothing dies, nothing is fenced, nothing
/// moves, and the controller reports the serial link down (the node
/// still heard on UDP); then the line is mended and reported up again.
fn one_medium_left(rig: &mut Rig, verdict: &mut Verdict) -> Result<(), RigError> {
    let Before { holder, victim, t0, .. } = before_fault(rig, verdict)?;
    inject(rig, Scenario::SerialCutUdpUp, holder);
    let said = |e: &Entry| match &e.what {
        Happening::Controller(c) => c.text.clone(),
        _ => String::new(),
    };
    let serial = rig.layout().controller_tty(&victim).display().to_string();
    let says = format!("node {victim}: link {serial} down");
    let down = rig.wait(
        &format!("the controller reporting {victim}'s serial link down"),
        t0,
        |h| matches!(h, Happening::Controller(c) if c.text.contains(&says)),
    )?;
    rig.wait_records(3 * WINDOW_RECORDS)?;
    let t1 = rig.timeline().now();
    nothing_moved(rig, verdict, holder, &format!("{victim}'s cut serial line"), ("line cut", t0, t1));
    repair(rig, Scenario::SerialCutUdpUp, holder);
    let says = format!("node {victim}: link {serial} up again");
    let up = rig.wait(
        &format!("the controller reporting {victim}'s serial link up again"),
        t1,
        |h| matches!(h, Happening::Controller(c) if c.text.contains(&says)),
    )?;
    // Down only once the line was silent for deadtime (less what the rig's
    // stamping of console lines can add), and no link down before the cut:
    // not at the start, not when a node first comes up.
    let early: Vec<String> = rig
        .timeline()
        .entries()
        .iter()
        .filter(|e| e.at < t0)
        .map(said)
        .filter(|t| t.contains(": link ") && t.contains(" down"))
        .collect();
    let after = down.at.saturating_sub(t0);
    let deadtime = rig.options().deadtime;
    verdict.check(
        &format!("the controller reported {victim}'s serial link down, then up again"),
        after + Duration::from_millis(50) >= deadtime && early.is_empty(),
        format!(
            "{:.0} ms after the cut: {}; then, mended: {}{}",
            crate::watch::stats::ms(after),
            said(&down),
            said(&up),
            if early.is_empty() { String::new() } else { format!("; before the cut: {}", early.join("; ")) }
        ),
    );
    rig.wait_records(WINDOW_RECORDS)?;
    Ok(())
}

/// What went unsteady since `t0`: a node late or dead, a fence, a
/// placement or a release, a relay switched, a power loss.
pub(super) fn unsteady_since(rig: &Rig, t0: Duration) -> Vec<String> {
    lines_of(&rig.timeline().since(t0), |h| {
        is_console(h, |k| {
            matches!(
                k,
                ConsoleKind::NodeLate(_)
                    | ConsoleKind::NodeDead(_)
                    | ConsoleKind::Fencing(_)
                    | ConsoleKind::Placed { .. }
                    | ConsoleKind::Releasing { .. }
            )
        }) || matches!(h, Happening::Relay { .. } | Happening::PowerLost { .. })
    })
}

/// Checks that a fault on `holder`'s serial line (`line`, from `since.1`
/// to `since.2`) moved nothing while its UDP link was up, and that it
/// still holds the group.
fn nothing_moved(rig: &Rig, verdict: &mut Verdict, holder: usize, line: &str, since: (&str, Duration, Duration)) {
    let (what, t0, t1) = since;
    let moved = unsteady_since(rig, t0);
    verdict.check(
        &format!("{line} moved nothing while its UDP link was up"),
        moved.is_empty(),
        if moved.is_empty() {
            format!(
                "{what} at {:.3} s; no late node, death, fence or move until {:.3} s",
                t0.as_secs_f64(),
                t1.as_secs_f64()
            )
        } else {
            moved.join("; ")
        },
    );
    let victim = rig.name(holder);
    verdict.check(
        &format!("{victim} still holds the group"),
        rig.holder() == Some(holder),
        format!("the address is on {}", rig.holder().map_or("no single server", |i| rig.name(i))),
    );
}

/// Frames the controller refused on `victim`'s serial link, from its status.
fn serial_frames_refused(rig: &mut Rig, victim: &str) -> Result<u64, RigError> {
    let status = rig.ask("status")?;
    let node = status["status"]["nodes"].as_array().and_then(|n| n.iter().find(|n| n["name"] == victim)).cloned();
    Ok(node
        .and_then(|n| n["links"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter(|l| !l["link"].as_str().unwrap_or_default().starts_with("udp:"))
        .filter_map(|l| l["frames_rejected"].as_u64())
        .sum())
}

/// The holder's serial line corrupts 2 % of its bytes for two observation
/// windows, then delays each byte by 30 ms for two more, its UDP link up
/// all along: the corrupted frames are refused and counted at the
/// controller, nothing dies, nothing is fenced, nothing moves.
fn noisy_line(rig: &mut Rig, verdict: &mut Verdict) -> Result<(), RigError> {
    let Before { holder, victim, t0, .. } = before_fault(rig, verdict)?;
    let refused_before = serial_frames_refused(rig, &victim)?;
    let corrupted_before = rig.line_carried(holder).map_or(0, |(up, down)| up.corrupted + down.corrupted);
    rig.set_line_fault(holder, LineFault::Corrupt(0.02));
    rig.wait_records(2 * WINDOW_RECORDS)?;
    rig.set_line_fault(holder, LineFault::Delay(Duration::from_millis(30)));
    rig.wait_records(2 * WINDOW_RECORDS)?;
    rig.set_line_fault(holder, LineFault::Clear);
    rig.wait_records(WINDOW_RECORDS)?;
    let t1 = rig.timeline().now();
    let refused = serial_frames_refused(rig, &victim)?.saturating_sub(refused_before);
    let corrupted =
        rig.line_carried(holder).map_or(0, |(up, down)| up.corrupted + down.corrupted).saturating_sub(corrupted_before);
    verdict.check(
        &format!("{victim}'s corrupted frames were refused and counted by the controller"),
        refused > 0 && corrupted > 0,
        format!("{corrupted} bytes corrupted on the line; {refused} frames refused on {victim}'s serial link"),
    );
    nothing_moved(rig, verdict, holder, &format!("{victim}'s noisy serial line"), ("corrupted, then delayed", t0, t1));
    verdict.counts.push(("serial_frames_refused", refused));
    Ok(())
}

fn controller_restart(rig: &mut Rig, verdict: &mut Verdict) -> Result<(), RigError> {
    let Before { holder, t0, .. } = before_fault(rig, verdict)?;
    rig.kill_controller()?;
    // Agents keep what they hold while the controller is silent (fail-static).
    rig.wait_records(WINDOW_RECORDS / 2)?;
    let restarted = rig.timeline().now();
    rig.start_controller()?;
    let nodes = rig.nodes().to_vec();
    adopted_unchanged(rig, holder, &nodes, t0, restarted, verdict)?;
    verdict.timings = vec![("controller_down", Some(restarted.saturating_sub(t0)))];
    Ok(())
}

/// The firmware's watchdog, with a fenced server: the holder loses power
/// and the group moves (as `power-loss`), its own supply comes back so that
/// only its relay keeps it off; then the new holder's link is wedged on the
/// board, that link's driver stalls, the main loop stops feeding the
/// watchdog and the watchdog resets the board. The firmware boots again
/// with its fence record: nothing moves, no relay toggles, and the fenced
/// server stays off.
fn firmware_watchdog(rig: &mut Rig, verdict: &mut Verdict) -> Result<(), RigError> {
    let Before { holder, victim, other_index, other, t0 } = before_fault(rig, verdict)?;
    rig.set_supply(holder, false);
    let f = follow_failover(rig, &victim, &other, t0)?;
    verdict.check(
        &format!("{victim} fenced and the group on {other} before the reset"),
        f.fenced.is_some() && f.answered.is_some(),
        format!(
            "fenced {} ms and answered by {other} {} ms after the power loss",
            f.fenced.map_or("-".into(), |d| crate::watch::stats::ms(d).to_string()),
            f.answered.map_or("-".into(), |d| crate::watch::stats::ms(d).to_string())
        ),
    );
    rig.wait_records(WINDOW_RECORDS)?;
    rig.set_supply(holder, true);
    rig.wait_records(WINDOW_RECORDS / 2)?;

    let t1 = rig.timeline().now();
    verdict.expected_alarm = Some(WATCHDOG_ALARM);
    rig.wedge_link(&other)?;
    let dog = rig.wait("QMP's WATCHDOG event", t1, |h| matches!(h, Happening::Emulator(e) if e == "WATCHDOG"))?;
    let reset = rig.wait("QMP's RESET event", dog.at, |h| matches!(h, Happening::Emulator(e) if e == "RESET"))?;
    rig.wait("the firmware started again", reset.at, |h| is_console(h, |k| *k == ConsoleKind::Started))?;
    verdict.check(
        "the watchdog reset the board",
        true,
        format!(
            "link wedged at {:.3} s, WATCHDOG at {:.3} s, RESET at {:.3} s",
            t1.as_secs_f64(),
            dog.at.as_secs_f64(),
            reset.at.as_secs_f64()
        ),
    );
    adopted_unchanged(rig, other_index, &[other], t1, reset.at, verdict)?;
    let (off, seen) = kept_off(rig, holder, t0);
    let status = rig.ask("status")?;
    let life = status["status"]["nodes"]
        .as_array()
        .and_then(|n| n.iter().find(|n| n["name"] == victim.as_str()))
        .and_then(|n| n["life"].as_str())
        .unwrap_or("nothing about it")
        .to_owned();
    verdict.check(
        &format!("fenced {victim} still off after the reset"),
        off && life == "fenced",
        format!("{seen}, the rebooted firmware says {life}"),
    );
    verdict.timings = vec![("wedge_to_watchdog", Some(dog.at.saturating_sub(t1)))];
    Ok(())
}

/// The alarm the firmware raises while it lets its watchdog starve.
const WATCHDOG_ALARM: &str = "watchdog NOT fed";

/// After a controller restart at `restarted` (faults from `t0`): the
/// nodes `up` up under the new controller, a window of work, then no relay
/// toggled, nothing moved, and the group adopted where it was.
fn adopted_unchanged(
    rig: &mut Rig,
    holder: usize,
    up: &[String],
    t0: Duration,
    restarted: Duration,
    verdict: &mut Verdict,
) -> Result<(), RigError> {
    let name = rig.name(holder).to_owned();
    for node in up {
        rig.wait(&format!("{node} up under the new controller"), restarted, |h| {
            is_console(h, |k| matches!(k, ConsoleKind::NodeUp(n) if n == node))
        })?;
    }
    rig.wait_records(WINDOW_RECORDS * 2)?;
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
            Happening::Address { node, present: false, .. } if *node == name => Some(format!("address left {name}")),
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Scenario;

    #[test]
    fn every_scenario_has_its_row_in_the_docs() {
        let docs = include_str!("../../../docs/rig.md");
        for s in Scenario::ALL {
            assert!(docs.contains(&format!("| `{}` |", s.name())), "docs/rig.md has no row for {}", s.name());
            assert_eq!(s.name().parse::<Scenario>(), Ok(s));
        }
        let e = "nonesuch".parse::<Scenario>().unwrap_err();
        assert!(e.contains("unknown scenario `nonesuch`") && e.contains("three-servers"), "{e}");
    }
}
