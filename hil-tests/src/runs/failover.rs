//! One failover, followed and timed: from a fault on the server holding
//! the group to the controller's detection, the fence confirmed by the
//! power sense, the placement on the other server, the service address
//! there, and the client's first answer from it; and the unfence that
//! brings the fenced server back as a standby. Used by the scenarios, the
//! bench and the demo.

use std::time::Duration;

use super::cluster::Rig;
use super::config::GROUP;
use crate::controller::console::ConsoleKind;
use crate::watch::timeline::{Entry, Happening};
use crate::RigError;

/// Whether `h` is a controller console line of a kind `f` accepts.
pub fn is_console(h: &Happening, f: impl Fn(&ConsoleKind) -> bool) -> bool {
    matches!(h, Happening::Controller(e) if f(&e.kind))
}

/// The milestones of one failover from a fault at `t0` on `victim`, and
/// the client's outage.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Failover {
    /// The victim's power was gone: the rig had stopped, cut off and
    /// killed everything of it (a power loss: the rig's own share of the
    /// time; a hang: when its relay cut it).
    pub power_gone: Option<Duration>,
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
            ("power_gone", self.power_gone),
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
    follow_group(rig, GROUP, victim, other, t0)
}

/// Waits for the failover of group `name` from `victim` to `other` after a
/// fault at `t0` and measures it.
///
/// # Errors
///
/// [`RigError::NeverSaw`] when a milestone never comes.
pub fn follow_group(rig: &mut Rig, name: &str, victim: &str, other: &str, t0: Duration) -> Result<Failover, RigError> {
    let since = |e: &Entry| Some(e.at.saturating_sub(t0));
    let detected = rig.wait(&format!("{victim} declared dead"), t0, |h| {
        is_console(h, |k| matches!(k, ConsoleKind::NodeDead(n) | ConsoleKind::Fencing(n) if n == victim))
    })?;
    let fenced = rig.wait(&format!("{victim} fenced"), t0, |h| {
        is_console(h, |k| matches!(k, ConsoleKind::Fenced(n) if n == victim))
    })?;
    let [placed, address, answered] = arrival(rig, name, other, t0)?;
    let index = rig.group_index(name).unwrap_or(0);
    let outage = rig.probe_log_of(index).handover(t0, other).map(crate::watch::probe::Gap::length);
    let power_gone = rig
        .timeline()
        .since(t0)
        .iter()
        .find(|e| matches!(&e.what, Happening::PowerLost { node } if node == victim))
        .and_then(since);
    Ok(Failover {
        power_gone,
        detected: since(&detected),
        fenced: since(&fenced),
        placed: since(&placed),
        address_up: since(&address),
        answered: since(&answered),
        outage,
    })
}

/// Waits, from `since`, for group `name` to arrive on `to`: placed there
/// by the controller, its service address there, and the client answered
/// by it.
///
/// # Errors
///
/// [`RigError::NeverSaw`] when one never comes.
fn arrival(rig: &mut Rig, name: &str, to: &str, since: Duration) -> Result<[Entry; 3], RigError> {
    let placed = rig.wait(&format!("{name} placed on {to}"), since, |h| {
        is_console(h, |k| matches!(k, ConsoleKind::Placed { group, node, .. } if group == name && node == to))
    })?;
    let address = rig.wait(
        &format!("{name}'s service address on {to}"),
        since,
        |h| matches!(h, Happening::Address { group, node, present: true } if node == to && group == name),
    )?;
    let answered = rig.wait(
        &format!("the client answered for {name} by {to}"),
        since,
        |h| matches!(h, Happening::Answering { group, node } if node == to && group == name),
    )?;
    Ok([placed, address, answered])
}

/// The entries that `keep` picks, a line each: when, and what (a
/// controller line as the controller wrote it).
#[must_use]
pub fn lines_of(entries: &[Entry], mut keep: impl FnMut(&Happening) -> bool) -> Vec<String> {
    entries
        .iter()
        .filter(|e| keep(&e.what))
        .map(|e| {
            let what = match &e.what {
                Happening::Controller(c) => c.text.clone(),
                other => crate::watch::timeline::describe(other),
            };
            format!("{:.3} s {what}", e.at.as_secs_f64())
        })
        .collect()
}

/// Unfences `victim` with `wardenctl unfence` on another server (through
/// its agent, to the controller), and waits until it is up again.
///
/// # Errors
///
/// [`RigError`] when `wardenctl` fails, the controller refuses, or the node
/// never comes back.
pub fn unfence(rig: &mut Rig, victim: &str) -> Result<Duration, RigError> {
    let via = (0..rig.nodes().len())
        .find(|i| rig.name(*i) != victim)
        .ok_or_else(|| RigError::Broken(format!("no server but {victim} to run wardenctl on")))?;
    let at = rig.timeline().now();
    let (code, text) = rig.wardenctl(via, &["unfence", victim])?;
    let said = format!("{}: wardenctl unfence {victim}: {}", rig.name(via), text.trim());
    if code != 0 {
        return Err(RigError::Broken(format!("{said} (exit status {code})")));
    }
    rig.timeline().push(Happening::Note(said));
    rig.wait(&format!("{victim} booted again"), at, |h| matches!(h, Happening::Booted { node } if node == victim))?;
    rig.wait(&format!("{victim} up again"), at, |h| {
        is_console(h, |k| matches!(k, ConsoleKind::NodeUp(n) if n == victim))
    })?;
    Ok(at)
}

/// The milestones of one graceful move of a group (release, then acquire)
/// asked for at `t0`, and the client's outage.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Move {
    /// The controller asked the holder to release it.
    pub release_asked: Option<Duration>,
    /// The controller placed it on the new holder.
    pub placed: Option<Duration>,
    /// The service address appeared on the new holder.
    pub address_up: Option<Duration>,
    /// The client got its first answer from the new holder.
    pub answered: Option<Duration>,
    /// The client-visible outage.
    pub outage: Option<Duration>,
}

impl Move {
    /// The milestones as named timings.
    #[must_use]
    pub fn timings(&self) -> Vec<(&'static str, Option<Duration>)> {
        vec![
            ("release_asked", self.release_asked),
            ("group_placed", self.placed),
            ("address_on_new_holder", self.address_up),
            ("first_answer_from_new_holder", self.answered),
            ("client_visible_outage", self.outage),
        ]
    }
}

/// Waits for the graceful move of group `name` from `from` to `to` after
/// `t0` and measures it.
///
/// # Errors
///
/// [`RigError::NeverSaw`] when a milestone never comes.
pub fn follow_move(rig: &mut Rig, name: &str, from: &str, to: &str, t0: Duration) -> Result<Move, RigError> {
    let since = |e: &Entry| Some(e.at.saturating_sub(t0));
    let asked = rig.wait(&format!("{from} asked to release {name}"), t0, |h| {
        is_console(h, |k| matches!(k, ConsoleKind::Releasing { group, node } if group == name && node == from))
    })?;
    let [placed, address, answered] = arrival(rig, name, to, asked.at)?;
    // Pushed after the address in the same detector round: waited for, so
    // that the handover's checks see it.
    rig.wait(
        &format!("{name}'s disk mounted on {to}"),
        asked.at,
        |h| matches!(h, Happening::Mount { group, node, present: true } if node == to && group == name),
    )?;
    let index = rig.group_index(name).unwrap_or(0);
    let outage = rig.probe_log_of(index).handover(t0, to).map(crate::watch::probe::Gap::length);
    Ok(Move {
        release_asked: since(&asked),
        placed: since(&placed),
        address_up: since(&address),
        answered: since(&answered),
        outage,
    })
}

/// When group `name`'s address or mount (`mount`) first left `from`, and
/// first came to `to`, after `t0`.
fn handover_times(
    entries: &[Entry],
    name: &str,
    from: &str,
    to: &str,
    mount: bool,
) -> (Option<Duration>, Option<Duration>) {
    let find = |node: &str, present: bool| {
        entries
            .iter()
            .find(|e| match &e.what {
                Happening::Address { group, node: n, present: p } if !mount => {
                    group == name && n == node && *p == present
                }
                Happening::Mount { group, node: n, present: p } if mount => group == name && n == node && *p == present,
                _ => false,
            })
            .map(|e| e.at)
    };
    (find(from, false), find(to, true))
}

/// The checks of a graceful move after `t0`: `from` let the group's
/// address and disk go before `to` took them, and nothing was fenced,
/// declared dead or powered off on the way.
pub fn graceful_checks(
    rig: &Rig,
    verdict: &mut crate::watch::verdict::Verdict,
    name: &str,
    (from, to): (&str, &str),
    t0: Duration,
) {
    let entries = rig.timeline().since(t0);
    let at = |t: Option<Duration>| t.map_or("never".to_owned(), |t| format!("{:.3} s", t.as_secs_f64()));
    let (address_off, address_on) = handover_times(&entries, name, from, to, false);
    let (mount_off, mount_on) = handover_times(&entries, name, from, to, true);
    let before = |off: Option<Duration>, on: Option<Duration>| matches!((off, on), (Some(off), Some(on)) if off <= on);
    verdict.check(
        &format!("{from} released {name} before {to} acquired it"),
        before(address_off, address_on) && before(mount_off, mount_on),
        format!(
            "address left {from} at {}, came to {to} at {}; disk unmounted on {from} at {}, mounted on {to} at {}",
            at(address_off),
            at(address_on),
            at(mount_off),
            at(mount_on)
        ),
    );
    let hard = lines_of(&entries, |h| {
        is_console(h, |k| matches!(k, ConsoleKind::NodeDead(_) | ConsoleKind::Fencing(_) | ConsoleKind::Fenced(_)))
            || matches!(h, Happening::Relay { .. } | Happening::PowerLost { .. })
    });
    verdict.check(
        &format!("the move of {name} fenced nothing"),
        hard.is_empty(),
        if hard.is_empty() { "no death, fence or relay switched".to_owned() } else { hard.join("; ") },
    );
}

/// Group `name`'s releases and placements after `t0`, as the controller
/// logged them.
#[must_use]
pub fn moves_since(rig: &Rig, name: &str, t0: Duration) -> Vec<String> {
    lines_of(&rig.timeline().since(t0), |h| {
        is_console(
            h,
            |k| matches!(k, ConsoleKind::Releasing { group, .. } | ConsoleKind::Placed { group, .. } if group == name),
        )
    })
}
