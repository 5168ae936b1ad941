//! The scenarios in which groups move without a dead server: a lost
//! uplink (ipfail), a failing service, a release that cannot finish, the
//! operator's moves, auto-failback and damping; and the ones that need more
//! than one group: address families and three servers.

use std::time::Duration;

use super::cluster::Rig;
use super::config::{FaultFlag, GROUP};
use super::failover::{follow_group, follow_move, graceful_checks, is_console, lines_of, moves_since, unfence};
use super::options::{Family, GroupSpec, Options};
use super::scenario::{kept_off, steady_until, WINDOW_RECORDS};
use crate::controller::console::ConsoleKind;
use crate::watch::stats::ms;
use crate::watch::timeline::Happening;
use crate::watch::verdict::Verdict;
use crate::RigError;

/// Lets the cluster work a window with every group placed, checks it was
/// steady, and returns the time of the fault to come.
fn settle(rig: &mut Rig, verdict: &mut Verdict) -> Result<Duration, RigError> {
    for g in 0..rig.layout().groups.len() {
        rig.wait_records_of(g, WINDOW_RECORDS)?;
    }
    let t0 = rig.timeline().now();
    steady_until(rig, t0, verdict);
    Ok(t0)
}

/// The server that holds group `g` now, by index and name.
fn holder_of(rig: &Rig, g: usize) -> Result<(usize, String), RigError> {
    let name = rig.layout().groups.get(g).map_or("?", |l| l.spec.name.as_str()).to_owned();
    let i = rig.holder_of(g).ok_or_else(|| RigError::Broken(format!("no single server holds {name}'s address")))?;
    Ok((i, rig.name(i).to_owned()))
}

/// The next server after `index` in the first group's eligible list (the
/// other server, on two).
fn other_of(rig: &Rig, index: usize) -> (usize, String) {
    let nodes = &rig.layout().groups[0].spec.nodes;
    let at = nodes.iter().position(|n| *n == index).unwrap_or(0);
    let other = nodes.get((at + 1) % nodes.len().max(1)).copied().unwrap_or(usize::from(index == 0));
    (other, rig.name(other).to_owned())
}

/// Checks that group `g` is on server `expected` now, and that it has not
/// moved since `t0`.
fn stayed(rig: &Rig, verdict: &mut Verdict, g: usize, expected: usize, t0: Duration, why: &str) {
    let name = rig.layout().groups[g].spec.name.clone();
    let moved = moves_since(rig, &name, t0);
    let on = rig.holder_of(g);
    verdict.check(
        &format!("{name} stays on {} {why}", rig.name(expected)),
        moved.is_empty() && on == Some(expected),
        if moved.is_empty() {
            format!(
                "no release or placement of {name} from {:.3} s to {:.3} s; the address is on {}",
                t0.as_secs_f64(),
                rig.timeline().now().as_secs_f64(),
                on.map_or("no single server", |i| rig.name(i))
            )
        } else {
            moved.join("; ")
        },
    );
}

/// Relays switched and power lost since `t0`.
fn power_changes_since(rig: &Rig, t0: Duration) -> Vec<String> {
    lines_of(&rig.timeline().since(t0), |h| matches!(h, Happening::Relay { .. } | Happening::PowerLost { .. }))
}

/// `wardenctl ARGS` through server `via`'s agent; fails the run unless it
/// exits 0.
fn wardenctl(rig: &Rig, via: usize, args: &[&str]) -> Result<(), RigError> {
    let (code, text) = rig.wardenctl(via, args)?;
    let said = format!("{}: wardenctl {}: {}", rig.name(via), args.join(" "), text.trim());
    if code != 0 {
        return Err(RigError::Broken(format!("{said} (exit status {code})")));
    }
    rig.timeline().push(Happening::Note(said));
    Ok(())
}

/// Sets up the options `uplink-loss` and `damping` need.
pub(super) fn with_uplink(options: &mut Options) {
    options.uplink = true;
}

/// The holder's uplink is cut: its ping node stops answering, its net
/// score drops below the standby's, and the controller moves the group
/// gracefully (release, then acquire) with no fence. The uplink comes back
/// and nothing moves again (the scores are equal: no ping-pong).
pub(super) fn uplink_loss(rig: &mut Rig, verdict: &mut Verdict) -> Result<(), RigError> {
    let t0 = settle(rig, verdict)?;
    let (holder, victim) = holder_of(rig, 0)?;
    let (other_index, other) = other_of(rig, holder);
    rig.set_uplink(holder, false)?;
    let m = follow_move(rig, GROUP, &victim, &other, t0)?;
    verdict.timings = m.timings();
    let reason = moves_since(rig, GROUP, t0);
    verdict.check(
        &format!("the controller moved {GROUP} for {other}'s better connection"),
        reason.first().is_some_and(|r| r.contains("better connected")),
        reason.join("; "),
    );
    graceful_checks(rig, verdict, GROUP, (&victim, &other), t0);
    rig.wait_records(WINDOW_RECORDS)?;
    let t1 = rig.timeline().now();
    rig.set_uplink(holder, true)?;
    rig.wait_records(3 * WINDOW_RECORDS)?;
    stayed(rig, verdict, 0, other_index, t1, "once the uplink is back (equal scores: no move back)");
    Ok(())
}

/// How many local restarts server `node`'s agent logged for `group` since
/// its log was `from` bytes long.
fn restarts_logged(rig: &Rig, node: &str, group: &str, from: usize) -> usize {
    rig.node_log(node)
        .get(from..)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(&format!("`{group}` restarting from")))
        .count()
}

/// The length of server `node`'s log now.
fn log_len(rig: &Rig, node: &str) -> usize {
    std::fs::metadata(rig.node_log_path(node)).map_or(0, |m| m.len() as usize)
}

/// The holder's service fails its monitor: the agent restarts it locally
/// (one restart), it fails again, and the group moves to the standby with
/// no fence. Then the new holder's service fails too while the first is
/// healed: the first is kept off the group for `failure_timeout`, and only
/// then takes it back.
pub(super) fn failing_service(rig: &mut Rig, verdict: &mut Verdict) -> Result<(), RigError> {
    let t0 = settle(rig, verdict)?;
    let (holder, victim) = holder_of(rig, 0)?;
    let (other_index, other) = other_of(rig, holder);
    let log_from = log_len(rig, &victim);
    rig.set_flag(holder, FaultFlag::Sick, true)?;
    let m = follow_move(rig, GROUP, &victim, &other, t0)?;
    verdict.timings = m.timings();
    let restarts = restarts_logged(rig, &victim, GROUP, log_from);
    let reason = moves_since(rig, GROUP, t0);
    verdict.check(
        &format!("{victim} restarted the service locally, then gave {GROUP} up as failing"),
        restarts >= 1 && reason.first().is_some_and(|r| r.contains("failing on its holder")),
        format!("{restarts} local restart(s) logged on {victim}; {}", reason.join("; ")),
    );
    graceful_checks(rig, verdict, GROUP, (&victim, &other), t0);
    let failed_at = rig
        .timeline()
        .since(t0)
        .iter()
        .find(|e| is_console(&e.what, |k| matches!(k, ConsoleKind::Releasing { group, .. } if group == GROUP)))
        .map_or(t0, |e| e.at);

    // The new holder fails too, the first healed: it is still kept off.
    rig.wait_records(WINDOW_RECORDS / 2)?;
    rig.set_flag(holder, FaultFlag::Sick, false)?;
    let t1 = rig.timeline().now();
    rig.set_flag(other_index, FaultFlag::Sick, true)?;
    let back = rig.wait(&format!("{GROUP} placed on {victim} again"), t1, |h| {
        is_console(h, |k| matches!(k, ConsoleKind::Placed { group, node, .. } if group == GROUP && *node == victim))
    })?;
    let timeout = rig.options().failure_timeout;
    // The console lines are stamped as the rig reads them: a little slack.
    let slack = Duration::from_millis(100);
    let kept = back.at.saturating_sub(failed_at);
    verdict.check(
        &format!("{victim} was kept off {GROUP} for failure_timeout ({} s)", timeout.as_secs_f64()),
        kept + slack >= timeout,
        format!(
            "{victim} failed it at {:.3} s, was given it again at {:.3} s ({:.1} s later)",
            failed_at.as_secs_f64(),
            back.at.as_secs_f64(),
            kept.as_secs_f64()
        ),
    );
    rig.wait(
        &format!("the client answered for {GROUP} by {victim}"),
        back.at,
        |h| matches!(h, Happening::Answering { group, node } if group == GROUP && *node == victim),
    )?;
    rig.set_flag(other_index, FaultFlag::Sick, false)?;
    let fences = power_changes_since(rig, t0);
    verdict.check(
        "a failing service fenced no one",
        fences.is_empty(),
        if fences.is_empty() { "no relay switched, no power lost".to_owned() } else { fences.join("; ") },
    );
    rig.wait_records(WINDOW_RECORDS)?;
    Ok(())
}

/// The holder's disk release fails (its `deactivate` exits 1, as a stop
/// script that fails) when the operator migrates the group: the agent
/// reports the group stuck, and the controller fences the holder before
/// the standby takes the group. With `restart`, the controller is killed
/// as soon as it has asked for the release, and started again: the new one
/// must fence all the same.
pub(super) fn stuck_release(rig: &mut Rig, verdict: &mut Verdict, restart: bool) -> Result<(), RigError> {
    let t0 = settle(rig, verdict)?;
    let (holder, victim) = holder_of(rig, 0)?;
    let (other_index, other) = other_of(rig, holder);
    rig.set_flag(holder, FaultFlag::Stuck, true)?;
    wardenctl(rig, other_index, &["migrate", GROUP, &other])?;
    let asked = rig.wait(&format!("{victim} asked to release {GROUP}"), t0, |h| {
        is_console(h, |k| matches!(k, ConsoleKind::Releasing { group, node } if group == GROUP && *node == victim))
    })?;
    if restart {
        // Killed with the release under way; started again once the holder
        // has let the disk go (its deactivate, the step that fails, next).
        rig.kill_controller()?;
        rig.wait(
            &format!("{GROUP}'s disk unmounted on {victim}"),
            asked.at,
            |h| matches!(h, Happening::Mount { group, node, present: false } if group == GROUP && *node == victim),
        )?;
        rig.start_controller()?;
    }
    let fencing = rig.wait(&format!("{victim} fenced"), asked.at, |h| {
        is_console(h, |k| matches!(k, ConsoleKind::Fenced(n) if *n == victim))
    })?;
    let placed = rig.wait(&format!("{GROUP} placed on {other}"), asked.at, |h| {
        is_console(h, |k| matches!(k, ConsoleKind::Placed { group, node, .. } if group == GROUP && *node == other))
    })?;
    rig.wait(
        &format!("the client answered for {GROUP} by {other}"),
        asked.at,
        |h| matches!(h, Happening::Answering { group, node } if group == GROUP && *node == other),
    )?;
    let entries = rig.timeline().since(t0);
    let off_at =
        entries.iter().find(|e| matches!(&e.what, Happening::PowerLost { node } if *node == victim)).map(|e| e.at);
    let stuck_said = rig.node_log(&victim).lines().any(|l| l.contains(GROUP) && l.contains("failed to stop"));
    let during = if restart { " across a controller restart" } else { "" };
    // With a restart, the new controller did the fencing.
    let restarted =
        entries.iter().find(|e| matches!(e.what, Happening::ControllerStarted { restart: true })).map(|e| e.at);
    let by_new = !restart || restarted.is_some_and(|r| r < fencing.at);
    verdict.check(
        &format!("{victim}'s failed release got it fenced{during}, its power off before {other} took {GROUP}"),
        stuck_said && by_new && matches!(off_at, Some(off) if off <= placed.at),
        format!(
            "{victim} logged the failed stop: {}; release asked at {:.3} s,{} fenced at {:.3} s, power lost at {}, placed on {other} at {:.3} s",
            if stuck_said { "yes" } else { "no" },
            asked.at.as_secs_f64(),
            restarted.map_or(String::new(), |r| format!(" controller started again at {:.3} s,", r.as_secs_f64())),
            fencing.at.as_secs_f64(),
            off_at.map_or("never".into(), |t| format!("{:.3} s", t.as_secs_f64())),
            placed.at.as_secs_f64()
        ),
    );
    verdict.timings = vec![
        ("release_asked_to_fence_confirmed", Some(fencing.at.saturating_sub(asked.at))),
        ("release_asked_to_placed", Some(placed.at.saturating_sub(asked.at))),
    ];
    rig.set_flag(holder, FaultFlag::Stuck, false)?;
    rig.wait_records(WINDOW_RECORDS)?;
    let (off, seen) = kept_off(rig, holder, fencing.at);
    verdict.check(&format!("fenced {victim} stays off until unfenced"), off, seen);
    unfence(rig, &victim)?;
    rig.wait_records(WINDOW_RECORDS)?;
    Ok(())
}

/// The operator's moves: `migrate` (release, then acquire; the planned
/// outage measured), `standby` of the new holder (the group drains back),
/// and `online` (nothing moves: no failback without `auto_failback`).
pub(super) fn operator_moves(rig: &mut Rig, verdict: &mut Verdict) -> Result<(), RigError> {
    let t0 = settle(rig, verdict)?;
    let (holder, first) = holder_of(rig, 0)?;
    let (other_index, other) = other_of(rig, holder);
    wardenctl(rig, holder, &["migrate", GROUP, &other])?;
    let m = follow_move(rig, GROUP, &first, &other, t0)?;
    graceful_checks(rig, verdict, GROUP, (&first, &other), t0);
    verdict.check(
        &format!("wardenctl migrate moved {GROUP} to {other}"),
        m.answered.is_some(),
        format!("planned-move outage {}", m.outage.map_or("not seen (no gap)".into(), |d| format!("{} ms", ms(d)))),
    );
    rig.wait_records(WINDOW_RECORDS)?;
    let t1 = rig.timeline().now();
    wardenctl(rig, holder, &["standby", &other])?;
    let s = follow_move(rig, GROUP, &other, &first, t1)?;
    graceful_checks(rig, verdict, GROUP, (&other, &first), t1);
    verdict.check(
        &format!("wardenctl standby {other} drained {GROUP} back to {first}"),
        s.answered.is_some(),
        format!("outage {}", s.outage.map_or("not seen (no gap)".into(), |d| format!("{} ms", ms(d)))),
    );
    rig.wait_records(WINDOW_RECORDS / 2)?;
    let t2 = rig.timeline().now();
    wardenctl(rig, holder, &["online", &other])?;
    rig.wait_records(2 * WINDOW_RECORDS)?;
    stayed(rig, verdict, 0, holder, t2, &format!("after wardenctl online {other} (no auto_failback)"));
    verdict.timings = vec![
        ("migrate_outage", m.outage),
        ("migrate_first_answer", m.answered),
        ("standby_outage", s.outage),
        ("standby_first_answer", s.answered),
    ];
    let _ = other_index;
    Ok(())
}

/// Sets up the options of `auto-failback`: two groups homed on alpha, `svc`
/// with `auto_failback` and `db` without, and a short `failback_delay`.
pub(super) fn failback_options(options: &mut Options) {
    let mut svc = GroupSpec::rotated(0, options.servers);
    svc.auto_failback = true;
    let mut db = GroupSpec::rotated(0, options.servers);
    db.name = "db".to_owned();
    options.groups = vec![svc, db];
    options.failback_delay = Duration::from_secs(3);
}

/// The home server of two groups loses power; both move. It is unfenced:
/// once it has been up for `failback_delay`, the group with
/// `auto_failback` goes home gracefully, the other stays.
pub(super) fn auto_failback(rig: &mut Rig, verdict: &mut Verdict) -> Result<(), RigError> {
    let t0 = settle(rig, verdict)?;
    let (home, victim) = holder_of(rig, 0)?;
    let (other_index, other) = other_of(rig, home);
    rig.set_supply(home, false);
    for name in ["svc", "db"] {
        follow_group(rig, name, &victim, &other, t0)?;
    }
    rig.wait_records(WINDOW_RECORDS)?;
    rig.set_supply(home, true);
    let at = unfence(rig, &victim)?;
    let up = rig
        .timeline()
        .since(at)
        .iter()
        .find(|e| is_console(&e.what, |k| matches!(k, ConsoleKind::NodeUp(n) if *n == victim)))
        .map_or(at, |e| e.at);
    let m = follow_move(rig, "svc", &other, &victim, up)?;
    let delay = rig.options().failback_delay;
    let asked = m.release_asked.map(|d| up + d);
    verdict.check(
        &format!(
            "svc (auto_failback) went home to {victim} once it was up for failback_delay ({} s)",
            delay.as_secs_f64()
        ),
        asked.is_some_and(|a| a + Duration::from_millis(100) >= up + delay)
            && moves_since(rig, "svc", up).iter().any(|l| l.contains("failback home")),
        format!(
            "{victim} up at {:.3} s, svc released by {other} at {}; {}",
            up.as_secs_f64(),
            asked.map_or("never".into(), |t| format!("{:.3} s", t.as_secs_f64())),
            moves_since(rig, "svc", up).join("; ")
        ),
    );
    graceful_checks(rig, verdict, "svc", (&other, &victim), up);
    rig.wait_records_of(1, 2 * WINDOW_RECORDS)?;
    stayed(rig, verdict, 1, other_index, up, "(no auto_failback)");
    verdict.timings = vec![("failback_outage", m.outage), ("up_to_failback_asked", m.release_asked)];
    Ok(())
}

/// Sets up the options of `damping`: two moves at most per minute, and an
/// uplink to make the moves with.
pub(super) fn damping_options(options: &mut Options) {
    options.uplink = true;
    options.max_moves = 2;
    options.move_window = Duration::from_secs(60);
}

/// The servers' uplinks fail in turn, each failure a reason to move the
/// group to the better-connected other: two moves are made, the third is
/// held back by damping (`max_moves` 2 in the window), and the group stays
/// where it is (no ping-pong) with nothing fenced.
pub(super) fn damping(rig: &mut Rig, verdict: &mut Verdict) -> Result<(), RigError> {
    let t0 = settle(rig, verdict)?;
    let (a, first) = holder_of(rig, 0)?;
    let (b, second) = other_of(rig, a);
    rig.set_uplink(a, false)?;
    follow_move(rig, GROUP, &first, &second, t0)?;
    rig.wait_records(WINDOW_RECORDS / 2)?;
    let t1 = rig.timeline().now();
    rig.set_uplink(a, true)?;
    rig.set_uplink(b, false)?;
    follow_move(rig, GROUP, &second, &first, t1)?;
    rig.wait_records(WINDOW_RECORDS / 2)?;
    let t2 = rig.timeline().now();
    rig.set_uplink(b, true)?;
    rig.set_uplink(a, false)?;
    // Three times deadtime and more: long past when the ping loss counts.
    rig.wait_records(4 * WINDOW_RECORDS)?;
    stayed(rig, verdict, 0, a, t2, &format!("after a third uplink loss (max_moves {})", rig.options().max_moves));
    rig.set_uplink(a, true)?;
    let hard = power_changes_since(rig, t0);
    verdict.check(
        "two moves made, the third damped, nothing fenced",
        hard.is_empty(),
        format!(
            "{} moves of {GROUP} logged; {}",
            moves_since(rig, GROUP, t0).len() / 2,
            if hard.is_empty() { "no relay switched".to_owned() } else { hard.join("; ") }
        ),
    );
    rig.wait_records(WINDOW_RECORDS)?;
    Ok(())
}

/// Sets up the options of `address-families`: `svc` (IPv4), `db` (IPv6)
/// and `web` (IPv4 with its MAC moved), all homed on alpha.
pub(super) fn families_options(options: &mut Options) {
    let nodes: Vec<usize> = (0..options.servers).collect();
    let spec = |name: &str, family, mac| GroupSpec {
        name: name.to_owned(),
        nodes: nodes.clone(),
        family,
        mac,
        auto_failback: false,
    };
    options.groups = vec![spec("svc", Family::V4, false), spec("db", Family::V6, false), spec("web", Family::V4, true)];
}

/// The client's neighbour entry for `address`: its link-layer address.
fn neighbour(rig: &Rig, address: std::net::IpAddr) -> Result<Option<String>, RigError> {
    let out = crate::host::tools::run(crate::host::tools::command("ip").args([
        "-netns",
        rig.client_netns(),
        "neighbour",
        "show",
        &address.to_string(),
    ]))?;
    let words: Vec<&str> = out.split_whitespace().collect();
    Ok(words.iter().position(|w| *w == "lladdr").and_then(|i| words.get(i + 1)).map(|s| (*s).to_owned()))
}

/// The home of an IPv4, an IPv6 and a MAC-takeover group loses power: all
/// three move. The client's neighbour entry for the IPv6 address follows
/// the new holder's unsolicited neighbour advertisement; the one for the
/// MAC-takeover address never changes (the MAC moved with it).
pub(super) fn address_families(rig: &mut Rig, verdict: &mut Verdict) -> Result<(), RigError> {
    let t0 = settle(rig, verdict)?;
    let (home, victim) = holder_of(rig, 0)?;
    let (other_index, other) = other_of(rig, home);
    let (v6, mac) = (rig.layout().groups[1].address, rig.layout().groups[2].address);
    let v6_before = neighbour(rig, v6)?;
    let mac_before = neighbour(rig, mac)?;
    rig.set_supply(home, false);
    let mut outages = Vec::new();
    for name in ["svc", "db", "web"] {
        let f = follow_group(rig, name, &victim, &other, t0)?;
        outages.push(f.outage);
    }
    let v6_after = neighbour(rig, v6)?;
    let mac_after = neighbour(rig, mac)?;
    let factory = |i: usize| format!("02:77:00:00:00:{:02x}", i + 1);
    verdict.check(
        &format!("the client's neighbour entry for db's IPv6 address follows {other}'s advertisement"),
        v6_before.as_deref() == Some(factory(home).as_str())
            && v6_after.as_deref() == Some(factory(other_index).as_str()),
        format!("{v6}: {v6_before:?} before the fault, {v6_after:?} once {other} answered"),
    );
    let derived = match mac {
        std::net::IpAddr::V4(a) => {
            let o = a.octets();
            format!("02:00:{:02x}:{:02x}:{:02x}:{:02x}", o[0], o[1], o[2], o[3])
        }
        std::net::IpAddr::V6(_) => String::new(),
    };
    verdict.check(
        "the client's neighbour entry for web's address never changed (its MAC moved with it)",
        mac_before.as_deref() == Some(derived.as_str()) && mac_after == mac_before,
        format!("{mac}: {mac_before:?} before the fault, {mac_after:?} once {other} answered"),
    );
    verdict.timings = vec![("svc_outage", outages[0]), ("db_ipv6_outage", outages[1]), ("web_mac_outage", outages[2])];
    rig.wait_records(WINDOW_RECORDS)?;
    Ok(())
}

/// Sets up the options of `three-servers`: alpha is home of `svc` (then
/// beta) and of `db` (then gamma); gamma is home of `web`.
pub(super) fn three_options(options: &mut Options) {
    options.servers = 3;
    let spec = |name: &str, nodes: &[usize]| GroupSpec {
        name: name.to_owned(),
        nodes: nodes.to_vec(),
        family: Family::V4,
        mac: false,
        auto_failback: false,
    };
    options.groups = vec![spec("svc", &[0, 1, 2]), spec("db", &[0, 2, 1]), spec("web", &[2, 0, 1])];
}

/// Alpha, holding `svc` and `db`, loses power while gamma holds `web`:
/// `svc` goes to beta and `db` to gamma, each its next eligible server,
/// both only after alpha is off; `web` never moves.
pub(super) fn three_servers(rig: &mut Rig, verdict: &mut Verdict) -> Result<(), RigError> {
    let t0 = settle(rig, verdict)?;
    let names: Vec<String> = rig.nodes().to_vec();
    let (alpha, beta, gamma) = (&names[0], &names[1], &names[2]);
    let holders: Vec<Option<usize>> = (0..3).map(|g| rig.holder_of(g)).collect();
    verdict.check(
        "each group on its home before the fault",
        holders == [Some(0), Some(0), Some(2)],
        format!("svc on {:?}, db on {:?}, web on {:?}", holders[0], holders[1], holders[2]),
    );
    rig.set_supply(0, false);
    let svc = follow_group(rig, "svc", alpha, beta, t0)?;
    let db = follow_group(rig, "db", alpha, gamma, t0)?;
    let off = rig
        .timeline()
        .since(t0)
        .iter()
        .find(|e| matches!(&e.what, Happening::PowerLost { node } if node == alpha))
        .map(|e| e.at);
    let placed = [svc.placed, db.placed].map(|p| p.map(|d| t0 + d));
    verdict.check(
        &format!("{alpha} powered off before svc went to {beta} and db to {gamma}"),
        placed.iter().all(|p| matches!((off, p), (Some(o), Some(p)) if o <= *p)),
        format!(
            "power lost at {}, svc placed at {}, db placed at {}",
            off.map_or("never".into(), |t| format!("{:.3} s", t.as_secs_f64())),
            placed[0].map_or("never".into(), |t| format!("{:.3} s", t.as_secs_f64())),
            placed[1].map_or("never".into(), |t| format!("{:.3} s", t.as_secs_f64()))
        ),
    );
    rig.wait_records_of(2, WINDOW_RECORDS)?;
    stayed(rig, verdict, 2, 2, t0, "(only the lost groups move)");
    let web_address: Vec<String> = rig
        .timeline()
        .since(t0)
        .iter()
        .filter(
            |e| matches!(&e.what, Happening::Address { group, .. } | Happening::Mount { group, .. } if group == "web"),
        )
        .map(|e| crate::watch::timeline::describe(&e.what))
        .collect();
    verdict.check(
        "web's address and disk never left gamma",
        web_address.is_empty(),
        if web_address.is_empty() { "no change".to_owned() } else { web_address.join("; ") },
    );
    verdict.timings = vec![("svc_outage", svc.outage), ("db_outage", db.outage)];
    rig.set_supply(0, true);
    rig.wait_records(WINDOW_RECORDS / 2)?;
    let (off, seen) = kept_off(rig, 0, t0);
    verdict.check(&format!("fenced {alpha} stays off until unfenced"), off, seen);
    unfence(rig, alpha)?;
    rig.wait_records(WINDOW_RECORDS)?;
    Ok(())
}
